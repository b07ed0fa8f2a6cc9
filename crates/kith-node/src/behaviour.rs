//! What the node runs on every connection: connection limits, identify, ping, Kademlia in
//! server mode (on Kith's protocol name, shared with kith-net) and the circuit relay v2 server.

use std::num::NonZeroU32;
use std::time::Duration;

use libp2p::metrics::Registry;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{connection_limits, gossipsub, identify, identity, kad, ping, relay};

use crate::config::Cli;

pub use derived::{Behaviour, BehaviourEvent};

mod derived {
    // The derive macro generates `BehaviourEvent` without docs; its variants mirror the fields.
    #![allow(missing_docs)]
    use super::*;

    /// The node's protocols.
    #[derive(NetworkBehaviour)]
    pub struct Behaviour {
        /// Bounds connections in total and per peer.
        pub limits: connection_limits::Behaviour,
        /// Circuit relay v2 server: browsers reach each other through it.
        pub relay: relay::Behaviour,
        /// Tells peers who we are and learns their listen addresses.
        pub identify: identify::Behaviour,
        /// Answers pings, so browsers can measure the round trip.
        pub ping: ping::Behaviour,
        /// The DHT, in server mode, over the node's store ([`crate::store`]).
        pub kad: kad::Behaviour<crate::store::NodeStore>,
        /// Routes new entries between the peers following their authors (keeps none).
        pub gossipsub: gossipsub::Behaviour,
    }
}

/// New relay reservations one peer may make per minute.
pub const RESERVATIONS_PER_PEER_PER_MINUTE: NonZeroU32 = NonZeroU32::new(30).expect("not zero");
/// New relayed circuits one peer may open per minute.
pub const CIRCUITS_PER_PEER_PER_MINUTE: NonZeroU32 = NonZeroU32::new(120).expect("not zero");

/// The relay server's limits, from the command line. The library's defaults (16 circuits of two
/// minutes and 128 KiB) are meant for a hole-punching helper, not for a social network's relay.
pub fn relay_config(cli: &Cli) -> relay::Config {
    let minute = Duration::from_secs(60);
    relay::Config {
        max_reservations: cli.max_reservations,
        max_reservations_per_peer: 4,
        reservation_duration: Duration::from_secs(3600),
        reservation_rate_limiters: Vec::new(),
        max_circuits: cli.max_circuits,
        max_circuits_per_peer: cli.max_circuits_per_peer,
        max_circuit_duration: Duration::from_secs(u64::from(cli.max_circuit_secs)),
        max_circuit_bytes: cli.max_circuit_bytes,
        circuit_src_rate_limiters: Vec::new(),
    }
    .reservation_rate_per_peer(RESERVATIONS_PER_PEER_PER_MINUTE, minute)
    .circuit_src_per_peer(CIRCUITS_PER_PEER_PER_MINUTE, minute)
}

impl Behaviour {
    /// Builds the node's behaviour for `key` with the limits in `cli`; gossipsub records its
    /// figures (messages and bytes per topic, mesh sizes) in `registry`.
    pub fn new(key: &identity::Keypair, cli: &Cli, registry: &mut Registry) -> Self {
        let peer_id = key.public().to_peer_id();
        // Every record and provider record is checked by the node before it is stored.
        let mut kad_config = kith_net::behaviour::kad_config();
        kad_config.set_record_filtering(kad::StoreInserts::FilterBoth);
        // The DHT's bounds are the operator's (`--dht-max-records`, `--dht-max-provider-keys`,
        // `--dht-max-providers-per-key`, `--dht-max-keys-per-provider`).
        let store = crate::store::NodeStore::new(
            peer_id,
            cli.dht_max_records,
            crate::store::ProviderLimits {
                max_keys: cli.dht_max_provider_keys,
                max_per_key: cli.dht_max_providers_per_key,
                max_per_peer: cli.dht_max_keys_per_provider,
                max_addrs: kith_net::behaviour::MAX_LISTEN_ADDRS,
            },
        );
        let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config);
        kad.set_mode(Some(kad::Mode::Server));
        let mut relay = relay::Behaviour::new(peer_id, relay_config(cli));
        relay.set_status(Some(relay::Status::Enable));
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(cli.max_connections))
            .with_max_established_per_peer(Some(cli.max_connections_per_peer))
            .with_max_pending_incoming(Some(cli.max_connections.min(1024)));
        let mut gossipsub =
            kith_net::gossip::behaviour(kith_net::gossip::Role::Hub, crate::node::HEARTBEAT)
                .with_metrics(
                    registry.sub_registry_with_prefix("gossipsub"),
                    gossipsub::MetricsConfig::default(),
                );
        for topic in kith_net::gossip::all_topics() {
            // Subscribing to a valid topic on a fresh behaviour cannot fail.
            let _ = gossipsub.subscribe(&topic);
        }
        Behaviour {
            limits: connection_limits::Behaviour::new(limits),
            relay,
            identify: identify::Behaviour::new(kith_net::behaviour::identify_config(
                &key.public(),
                &format!("kith-node/{}", env!("CARGO_PKG_VERSION")),
            )),
            ping: ping::Behaviour::default(),
            kad,
            gossipsub,
        }
    }
}
