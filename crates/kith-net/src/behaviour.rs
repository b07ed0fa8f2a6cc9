//! The client behaviour and the protocol settings shared with kith-node.
//!
//! Kith runs Kademlia on its own protocol name, so Kith's DHT never mixes with the public
//! IPFS DHT. Browsers keep Kademlia in client mode: they cannot accept connections, and a relay
//! reservation would otherwise confirm an external address and flip them to server mode.

use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, gossipsub, identify, identity, kad, ping, relay};

use crate::Config;

/// Kith's Kademlia protocol name.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/kith/kad/1.0.0");
/// The identify protocol version Kith announces.
pub const IDENTIFY_PROTOCOL_VERSION: &str = "/kith/1.0.0";

/// The Kademlia configuration every Kith peer uses.
pub fn kad_config() -> kad::Config {
    let mut cfg = kad::Config::new(KAD_PROTOCOL);
    cfg.set_query_timeout(std::time::Duration::from_secs(20));
    cfg
}

/// The identify configuration every Kith peer uses.
pub fn identify_config(key: &identity::PublicKey, agent_version: &str) -> identify::Config {
    identify::Config::new(IDENTIFY_PROTOCOL_VERSION.to_owned(), key.clone())
        .with_agent_version(agent_version.to_owned())
}

/// The DHT key under which the holders of `author`'s feed announce themselves (as providers).
pub fn feed_key(author: &kith_core::AuthorId) -> kad::RecordKey {
    kad::RecordKey::new(&kith_core::Hash::of(&[b"kith-feed", &author.0]).0)
}

/// The most keys (feeds held, handles claimed) one peer announces in the DHT, and the most
/// kith-node remembers for one peer by default (`--dht-max-keys-per-provider`).
pub const MAX_PROVIDED_KEYS: usize = 4_096;

/// How many of a peer's self-reported listen addresses are taken into the routing table.
pub const MAX_LISTEN_ADDRS: usize = 16;

/// The addresses to check for a peer that says, in identify, that it serves Kith's DHT (other
/// kith-nodes do; browsers run Kademlia in client mode and do not advertise it): at most
/// [`MAX_LISTEN_ADDRS`] of its listen addresses that [`admits_dht_peer`]. `None` if it makes
/// no such claim. A claim is not enough to enter a routing table: kith-node dials these
/// addresses, and Kademlia takes the peer in only over a connection the node dialed.
pub fn dht_server_addrs(info: &identify::Info) -> Option<Vec<libp2p::Multiaddr>> {
    if !info.protocols.contains(&KAD_PROTOCOL) {
        return None;
    }
    Some(
        info.listen_addrs
            .iter()
            .filter(|a| admits_dht_peer(a))
            .take(MAX_LISTEN_ADDRS)
            .cloned()
            .collect(),
    )
}

/// Whether a DHT server reached at `addr` may enter a routing table: only at a node's own
/// address (WebSocket, WebRTC-direct or TCP), never through a relay or over `/webrtc`, which
/// is how browsers are reached.
pub fn admits_dht_peer(addr: &libp2p::Multiaddr) -> bool {
    matches!(
        crate::TransportKind::of(addr),
        crate::TransportKind::WebSocket
            | crate::TransportKind::WebRtcDirect
            | crate::TransportKind::Tcp
    )
}

/// A client's DHT store, announcing up to [`MAX_PROVIDED_KEYS`] keys (rust-libp2p's default
/// of 1,024 would stop announcing past the 1,024th feed held).
fn provided_keys_store(peer_id: libp2p::PeerId) -> kad::store::MemoryStore {
    kad::store::MemoryStore::with_config(
        peer_id,
        kad::store::MemoryStoreConfig {
            max_provided_keys: MAX_PROVIDED_KEYS,
            ..kad::store::MemoryStoreConfig::default()
        },
    )
}

/// The ping configuration from the node's [`Config`].
pub fn ping_config(config: &Config) -> ping::Config {
    ping::Config::new()
        .with_interval(config.ping_interval)
        .with_timeout(config.ping_timeout)
}

pub use derived::{Behaviour, BehaviourEvent};

mod derived {
    // The derive macro generates `BehaviourEvent` without docs; its variants mirror the fields.
    #![allow(missing_docs)]
    use super::*;

    /// What a Kith client (browser tab or native client) runs on every connection.
    #[derive(NetworkBehaviour)]
    pub struct Behaviour {
        /// Circuit relay v2 client: reach other browsers through kith-node.
        pub relay: relay::client::Behaviour,
        /// Tells peers who we are and learns their addresses and protocols.
        pub identify: identify::Behaviour,
        /// Liveness and round-trip time.
        pub ping: ping::Behaviour,
        /// Discovery, in client mode.
        pub kad: kad::Behaviour<kad::store::MemoryStore>,
        /// Live delivery of new entries.
        pub gossipsub: gossipsub::Behaviour,
        /// Feed sync and backfill.
        pub sync: libp2p::request_response::Behaviour<crate::sync_protocol::SyncCodec>,
        /// Notifications: one entry to a person it concerns ([`crate::notify`]).
        pub notify: libp2p::request_response::Behaviour<crate::notify::NotifyCodec>,
        /// Search across the network: a query flooded with a TTL ([`crate::search`]).
        pub search: libp2p::request_response::Behaviour<crate::search::SearchCodec>,
        /// Images by hash ([`crate::images`]).
        pub images: libp2p::request_response::Behaviour<crate::images::ImageCodec>,
        /// Streams for `/webrtc` signalling: the browser's `/webrtc` transport holds its
        /// control (natively it carries nothing: no transport signals through it).
        pub signalling: libp2p_stream::Behaviour,
    }
}

impl Behaviour {
    /// Builds the behaviour for `key`, with the relay client and the signalling behaviour
    /// whose halves the transports hold.
    pub fn new(
        key: &identity::Keypair,
        relay: relay::client::Behaviour,
        signalling: libp2p_stream::Behaviour,
        config: &Config,
    ) -> Self {
        let peer_id = key.public().to_peer_id();
        // The event loop decides who enters the routing table ([`admits_dht_peer`]): a
        // browser that says it serves the DHT over a direct connection does not.
        let mut kad_cfg = kad_config();
        kad_cfg.set_kbucket_inserts(kad::BucketInserts::Manual);
        let mut kad = kad::Behaviour::with_config(peer_id, provided_keys_store(peer_id), kad_cfg);
        kad.set_mode(Some(kad::Mode::Client));
        let gossipsub =
            crate::gossip::behaviour(crate::gossip::Role::Client, config.gossip_heartbeat);
        Behaviour {
            relay,
            identify: identify::Behaviour::new(identify_config(
                &key.public(),
                &config.agent_version,
            )),
            ping: ping::Behaviour::new(ping_config(config)),
            kad,
            gossipsub,
            sync: crate::sync_protocol::behaviour(),
            notify: crate::notify::behaviour(),
            search: crate::search::behaviour(),
            images: crate::images::behaviour(),
            signalling,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NODE: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

    fn info(protocols: Vec<StreamProtocol>, addrs: &[String]) -> identify::Info {
        identify::Info {
            public_key: identity::Keypair::generate_ed25519().public(),
            protocol_version: IDENTIFY_PROTOCOL_VERSION.to_owned(),
            agent_version: "test".to_owned(),
            listen_addrs: addrs.iter().map(|a| a.parse().expect("addr")).collect(),
            protocols,
            observed_addr: libp2p::Multiaddr::empty(),
            signed_peer_record: None,
        }
    }

    #[test]
    fn only_a_nodes_own_addresses_may_enter_a_routing_table() {
        let ws = "/ip4/127.0.0.1/tcp/9090/ws".to_owned();
        let direct = format!(
            "/ip4/127.0.0.1/udp/9091/webrtc-direct/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g/p2p/{NODE}"
        );
        let circuit = format!("/ip4/127.0.0.1/tcp/9090/ws/p2p/{NODE}/p2p-circuit");
        let browser = format!("{circuit}/webrtc");
        for (addr, admitted) in [
            (&ws, true),
            (&direct, true),
            (&circuit, false),
            (&browser, false),
        ] {
            assert_eq!(
                admits_dht_peer(&addr.parse().expect("addr")),
                admitted,
                "{addr}"
            );
        }
        // A claim names the addresses to check, never a relayed one, at most MAX_LISTEN_ADDRS.
        let mut many = vec![circuit.clone()];
        many.extend((0..40).map(|i| format!("/ip4/10.0.0.{i}/tcp/9090/ws")));
        let addrs = dht_server_addrs(&info(vec![KAD_PROTOCOL], &many)).expect("a claim");
        assert_eq!(addrs.len(), MAX_LISTEN_ADDRS);
        assert!(addrs.iter().all(admits_dht_peer));
        // A peer that does not claim the protocol is no DHT server at all.
        assert!(dht_server_addrs(&info(Vec::new(), &[ws])).is_none());
    }
}
