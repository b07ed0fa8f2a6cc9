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

/// How many of a peer's self-reported listen addresses are taken into the routing table.
pub const MAX_LISTEN_ADDRS: usize = 16;

/// Adds a peer that identified itself to the routing table, if it serves Kith's DHT (other
/// kith-nodes do; browsers run Kademlia in client mode and do not advertise it). At most
/// [`MAX_LISTEN_ADDRS`] of its addresses are taken. Returns whether the peer was added.
pub fn learn_dht_peer(
    kad: &mut kad::Behaviour<kad::store::MemoryStore>,
    peer: &libp2p::PeerId,
    info: identify::Info,
) -> bool {
    if !info.protocols.contains(&KAD_PROTOCOL) {
        return false;
    }
    for addr in info.listen_addrs.into_iter().take(MAX_LISTEN_ADDRS) {
        kad.add_address(peer, addr);
    }
    true
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
        let mut kad = kad::Behaviour::with_config(
            peer_id,
            kad::store::MemoryStore::new(peer_id),
            kad_config(),
        );
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
            signalling,
        }
    }
}
