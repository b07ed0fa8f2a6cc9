//! Which connections to kith-nodes a person's node lets go.
//!
//! A person's node stays on two kith-nodes (the primary and the standby, each holding a relay
//! reservation; see [`crate::nodes`]). Kademlia also dials the other nodes: a provider
//! announcement goes to the closest nodes of its key, which with a handful of nodes is every
//! one. Left open, those connections made every browser a peer of every kith-node, so each
//! node carried everyone (pings, gossip subscriptions and mesh links, memory), not the share
//! the super-peer model gives it. [`NodeLinks`] says which to close: a connection to a peer in
//! the routing table (only kith-nodes are ever put there) that nobody asked for by name (the
//! agent dials its primary and its standby; Kademlia and the relay client open the others on
//! their own), once it is [`LINGER_MS`] old and the node has run no DHT query for
//! [`LINGER_MS`], unless a relay listener is on that node (a reservation held or asked for) or
//! a relayed connection goes through it. [`Client::connect`](crate::Client::connect) takes
//! such a connection over instead of opening a second one (a kith-node closes both when a
//! peer arrives twice). The event loop feeds it the swarm's events and asks it on every tick;
//! the rules live here, unit-tested.

use std::collections::{HashMap, HashSet};

use libp2p::core::ConnectedPoint;
use libp2p::core::transport::ListenerId;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};

use crate::reach::relay_of;

/// How long a connection to a kith-node that is neither the primary nor the standby stays
/// after the last DHT query, by default ([`Config::node_linger`](crate::Config)): long
/// enough for the next query of the same burst (a sync announces the feed it took right
/// after) to find it open.
pub const LINGER_MS: u64 = 30_000;

/// The connections to kith-nodes and what holds them (see the module docs).
#[derive(Debug)]
pub struct NodeLinks {
    /// How long a connection and the DHT's quiet must last before it goes (ms).
    linger_ms: u64,
    /// Connections dialed or accepted at a peer's own address: the peer, when, and the
    /// peer's address.
    plain: HashMap<ConnectionId, (PeerId, u64, Multiaddr)>,
    /// Connections asked for by name ([`Client::dial`](crate::Client::dial) or
    /// [`Client::connect`](crate::Client::connect)): whoever asked closes them.
    wanted: HashSet<ConnectionId>,
    /// Relayed connections: the relay each goes through.
    circuits: HashMap<ConnectionId, PeerId>,
    /// Relay listeners (a reservation asked for or held): the relay of each.
    listeners: HashMap<ListenerId, PeerId>,
    /// When a DHT query last ran here (ms).
    dht_last_busy: u64,
}

impl NodeLinks {
    /// Lets connections go after `linger_ms` (see the module docs).
    pub fn new(linger_ms: u64) -> Self {
        NodeLinks {
            linger_ms,
            plain: HashMap::new(),
            wanted: HashSet::new(),
            circuits: HashMap::new(),
            listeners: HashMap::new(),
            dht_last_busy: 0,
        }
    }

    /// A connection came up.
    pub fn established(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        endpoint: &ConnectedPoint,
        now_ms: u64,
    ) {
        let address = match endpoint {
            ConnectedPoint::Dialer { address, .. } => address,
            ConnectedPoint::Listener { local_addr, .. } => local_addr,
        };
        match relay_of(address) {
            Some(relay) => {
                self.circuits.insert(connection, relay);
            }
            None => {
                let remote = endpoint.get_remote_address().clone();
                self.plain.insert(connection, (peer, now_ms, remote));
            }
        }
    }

    /// The newest open connection to `peer` made at its own address, and that address.
    pub fn plain_connection(&self, peer: &PeerId) -> Option<(ConnectionId, Multiaddr)> {
        self.plain
            .iter()
            .filter(|(_, (p, _, _))| p == peer)
            .max_by_key(|(c, (_, since, _))| (*since, **c))
            .map(|(c, (_, _, a))| (*c, a.clone()))
    }

    /// `connection` was asked for by name (dialed, or an open one taken): it stays until
    /// whoever asked closes it.
    pub fn want(&mut self, connection: ConnectionId) {
        self.wanted.insert(connection);
    }

    /// A connection closed.
    pub fn closed(&mut self, connection: ConnectionId) {
        self.plain.remove(&connection);
        self.wanted.remove(&connection);
        self.circuits.remove(&connection);
    }

    /// A relay listener was asked for through `relay`.
    pub fn listening(&mut self, listener: ListenerId, relay: PeerId) {
        self.listeners.insert(listener, relay);
    }

    /// A listener closed (the relay client closes a relay listener when its connection goes).
    pub fn listener_closed(&mut self, listener: ListenerId) {
        self.listeners.remove(&listener);
    }

    /// A DHT query runs (or just ran) at `now_ms`.
    pub fn dht_busy(&mut self, now_ms: u64) {
        self.dht_last_busy = self.dht_last_busy.max(now_ms);
    }

    /// The connections to close now, of those to `nodes` (the routing table's peers).
    pub fn to_close(
        &self,
        nodes: &dyn Fn(&PeerId) -> bool,
        now_ms: u64,
    ) -> Vec<(PeerId, ConnectionId)> {
        if now_ms.saturating_sub(self.dht_last_busy) < self.linger_ms {
            return Vec::new();
        }
        let held = |peer: &PeerId| {
            self.listeners.values().any(|r| r == peer) || self.circuits.values().any(|r| r == peer)
        };
        let mut out: Vec<(PeerId, ConnectionId)> = self
            .plain
            .iter()
            .filter(|(c, (peer, since, _))| {
                now_ms.saturating_sub(*since) >= self.linger_ms
                    && nodes(peer)
                    && !held(peer)
                    && !self.wanted.contains(c)
            })
            .map(|(c, (peer, _, _))| (*peer, *c))
            .collect();
        out.sort_by_key(|(_, c)| *c);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialed(address: &str) -> ConnectedPoint {
        ConnectedPoint::Dialer {
            address: address.parse().expect("addr"),
            role_override: libp2p::core::Endpoint::Dialer,
            port_use: libp2p::core::transport::PortUse::New,
        }
    }

    struct Net {
        primary: PeerId,
        other: PeerId,
        browser: PeerId,
        links: NodeLinks,
    }

    /// A primary with its reservation, another node dialed by a DHT query at 0, a browser
    /// reached through the primary's relay.
    fn net() -> Net {
        let (primary, other, browser) = (PeerId::random(), PeerId::random(), PeerId::random());
        let mut links = NodeLinks::new(LINGER_MS);
        links.established(
            primary,
            ConnectionId::new_unchecked(1),
            &dialed("/ip4/127.0.0.1/tcp/1/ws"),
            0,
        );
        links.listening(ListenerId::next(), primary);
        links.established(
            other,
            ConnectionId::new_unchecked(2),
            &dialed("/ip4/127.0.0.1/tcp/2/ws"),
            0,
        );
        links.dht_busy(0);
        Net {
            primary,
            other,
            browser,
            links,
        }
    }

    #[test]
    fn a_node_used_for_the_dht_alone_goes_once_quiet_and_old() {
        let n = net();
        let nodes = |p: &PeerId| *p == n.primary || *p == n.other;
        assert!(n.links.to_close(&nodes, LINGER_MS - 1).is_empty());
        assert_eq!(
            n.links.to_close(&nodes, LINGER_MS),
            vec![(n.other, ConnectionId::new_unchecked(2))]
        );
    }

    #[test]
    fn a_query_running_keeps_every_node() {
        let mut n = net();
        n.links.dht_busy(50_000);
        let nodes = |p: &PeerId| *p == n.primary || *p == n.other;
        assert!(n.links.to_close(&nodes, 60_000).is_empty());
        assert_eq!(n.links.to_close(&nodes, 80_000).len(), 1);
    }

    #[test]
    fn a_young_connection_stays_whatever_the_dht_does() {
        let mut n = net();
        n.links.established(
            n.other,
            ConnectionId::new_unchecked(3),
            &dialed("/ip4/127.0.0.1/tcp/2/ws"),
            100_000,
        );
        let nodes = |p: &PeerId| *p == n.primary || *p == n.other;
        // The old connection goes, the new one (a standby being set up) stays.
        assert_eq!(
            n.links.to_close(&nodes, 110_000),
            vec![(n.other, ConnectionId::new_unchecked(2))]
        );
    }

    #[test]
    fn a_reservation_or_a_circuit_holds_its_node() {
        let mut n = net();
        let circuit = format!(
            "/ip4/127.0.0.1/tcp/2/ws/p2p/{}/p2p-circuit/p2p/{}",
            n.other, n.browser
        );
        n.links.established(
            n.browser,
            ConnectionId::new_unchecked(4),
            &dialed(&circuit),
            0,
        );
        let nodes = |p: &PeerId| *p == n.primary || *p == n.other;
        assert!(n.links.to_close(&nodes, 100_000).is_empty());
        // The circuit closes: the node is free to go.
        n.links.closed(ConnectionId::new_unchecked(4));
        assert_eq!(n.links.to_close(&nodes, 100_000).len(), 1);
        // A listener asked for through it holds it again; its close lets it go.
        let listener = ListenerId::next();
        n.links.listening(listener, n.other);
        assert!(n.links.to_close(&nodes, 100_000).is_empty());
        n.links.listener_closed(listener);
        assert_eq!(n.links.to_close(&nodes, 100_000).len(), 1);
    }

    #[test]
    fn an_open_connection_at_a_peers_own_address_is_found_and_a_circuit_is_not() {
        let mut n = net();
        assert_eq!(
            n.links.plain_connection(&n.other),
            Some((
                ConnectionId::new_unchecked(2),
                "/ip4/127.0.0.1/tcp/2/ws".parse().expect("addr")
            ))
        );
        let circuit = format!(
            "/ip4/127.0.0.1/tcp/2/ws/p2p/{}/p2p-circuit/p2p/{}",
            n.other, n.browser
        );
        n.links.established(
            n.browser,
            ConnectionId::new_unchecked(6),
            &dialed(&circuit),
            0,
        );
        assert_eq!(n.links.plain_connection(&n.browser), None);
        n.links.closed(ConnectionId::new_unchecked(2));
        assert_eq!(n.links.plain_connection(&n.other), None);
    }

    #[test]
    fn a_connection_asked_for_by_name_stays_until_closed_by_whoever_asked() {
        let mut n = net();
        n.links.want(ConnectionId::new_unchecked(2));
        let nodes = |p: &PeerId| *p == n.primary || *p == n.other;
        assert!(n.links.to_close(&nodes, 100_000).is_empty());
        // A new connection under the same id is not wanted by inheritance.
        n.links.closed(ConnectionId::new_unchecked(2));
        n.links.established(
            n.other,
            ConnectionId::new_unchecked(2),
            &dialed("/ip4/127.0.0.1/tcp/2/ws"),
            0,
        );
        assert_eq!(n.links.to_close(&nodes, 100_000).len(), 1);
    }

    #[test]
    fn peers_outside_the_routing_table_are_never_closed_here() {
        let mut n = net();
        n.links.established(
            n.browser,
            ConnectionId::new_unchecked(5),
            &dialed("/ip4/127.0.0.1/udp/9/webrtc-direct"),
            0,
        );
        let nodes = |p: &PeerId| *p == n.primary || *p == n.other;
        let closed = n.links.to_close(&nodes, 100_000);
        assert!(closed.iter().all(|(p, _)| *p == n.other));
    }
}
