//! Direct browser-to-browser connections: when a browser dials `/webrtc`, and when the relayed
//! circuit it replaces can go. Rules only; the event loop does what they say.
//!
//! - **Which peers.** Two browsers connect through kith-node's relay only when one syncs
//!   from, follows or serves the other; so every relayed connection between two browsers is
//!   worth making direct, when the peer advertises a `…/p2p-circuit/webrtc` address.
//! - **Who dials.** The lower peer id, so two browsers never open two connections to each
//!   other. The higher one waits for the dial, unless it advertises no `/webrtc` address
//!   itself (it holds no reservation yet): then the lower one cannot dial it, so it dials.
//! - **How many.** At most [`Limits::max_direct`] direct connections at once (more, from
//!   peers that dial us, are closed), at most [`Limits::max_dials`] dials in a tab's life
//!   (Chrome allows about 500 `RTCPeerConnection`s), and a peer whose dial failed is not
//!   dialed again for [`Limits::retry_after_ms`]. The relayed connection stays the fallback.
//! - **The circuit goes.** Once a direct connection has been up for [`RETIRE_AFTER_MS`], the
//!   relayed ones to the same peer are closed when nothing is in flight on them (the event
//!   loop checks its pending requests), so sync, gossip and pings all take the direct path
//!   and kith-node relays no more than the signalling. The wait lets what was already sent
//!   over the circuit (a gossip subscription, a request the other side has not yet seen)
//!   arrive before it closes.
//! - **An idle circuit goes too.** A relayed connection between two people is made for a sync,
//!   a notification, a search or a picture. When no direct connection replaces it (natively,
//!   or when the `/webrtc` dial fails), it closes once nothing has been in flight on it for
//!   [`Limits::circuit_idle_ms`]: left open, it costs the relaying kith-node a circuit and
//!   carries both ends' pings and gossip for as long as they live, though live posts reach
//!   everyone through the nodes. A later request dials a new one.

use std::collections::HashMap;

use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};

use crate::TransportKind;

/// Whether a direct connection to a peer is there or coming, as a sync about to start asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Connected directly.
    Direct,
    /// A dial is under way, ours or (we being the higher id) the peer's.
    Coming,
    /// The peer has not been identified yet: it may advertise `/webrtc`.
    Unknown,
    /// No direct connection will be made now.
    No,
}

/// How long a direct connection must have been up before the circuits it replaces close.
pub const RETIRE_AFTER_MS: u64 = 3_000;

/// How long a relayed connection to a person stays with nothing in flight on it, by default
/// ([`Limits::circuit_idle_ms`]): long enough for the requests of one burst (a sync, then the
/// notification or picture that follows it).
pub const CIRCUIT_IDLE_MS: u64 = 30_000;

/// The bounds on direct connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Direct connections open at once.
    pub max_direct: usize,
    /// Direct dials over the tab's life.
    pub max_dials: usize,
    /// How long a peer whose dial failed waits before the next attempt.
    pub retry_after_ms: u64,
    /// How long relayed connections to a peer stay with nothing in flight on them (ms).
    pub circuit_idle_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_direct: 64,
            max_dials: 400,
            retry_after_ms: 60_000,
            circuit_idle_ms: CIRCUIT_IDLE_MS,
        }
    }
}

/// The most peers whose failed dial is remembered; the oldest is forgotten first.
const MAX_FAILED: usize = 1024;

/// What to do with a connection that just came up.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it.
    Keep,
    /// Close it: over [`Limits::max_direct`].
    Close,
}

/// Every connection of the node and the direct-connection bookkeeping; see the module docs.
#[derive(Debug)]
pub struct Links {
    local: PeerId,
    limits: Limits,
    /// The open connections to each peer, with their transport.
    conns: HashMap<PeerId, Vec<(ConnectionId, TransportKind)>>,
    /// `/webrtc` dials in flight.
    dialing: HashMap<PeerId, ConnectionId>,
    /// When each peer's last dial failed.
    failed: HashMap<PeerId, u64>,
    /// Since when each directly connected peer has been.
    direct_since: HashMap<PeerId, u64>,
    /// Whether each identified, connected peer advertised a `/webrtc` address.
    advertises: HashMap<PeerId, bool>,
    /// For each peer with a relayed connection: when something was last in flight with it
    /// (or the first relayed connection came up).
    relayed_used: HashMap<PeerId, u64>,
    dials_made: usize,
}

impl Links {
    /// The bookkeeping of the node `local`.
    pub fn new(local: PeerId, limits: Limits) -> Self {
        Self {
            local,
            limits,
            conns: HashMap::new(),
            dialing: HashMap::new(),
            failed: HashMap::new(),
            direct_since: HashMap::new(),
            advertises: HashMap::new(),
            relayed_used: HashMap::new(),
            dials_made: 0,
        }
    }

    fn direct_count(&self) -> usize {
        self.conns
            .values()
            .flatten()
            .filter(|(_, k)| *k == TransportKind::WebRtc)
            .count()
    }

    fn has(&self, peer: &PeerId, kind: TransportKind) -> bool {
        self.conns
            .get(peer)
            .is_some_and(|c| c.iter().any(|(_, k)| *k == kind))
    }

    /// A connection came up.
    pub fn established(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        kind: TransportKind,
        now_ms: u64,
    ) -> Verdict {
        if kind == TransportKind::WebRtc {
            self.dialing.remove(&peer);
            self.failed.remove(&peer);
            if self.direct_count() >= self.limits.max_direct {
                return Verdict::Close;
            }
            self.direct_since.entry(peer).or_insert(now_ms);
        }
        if kind == TransportKind::Relayed {
            self.relayed_used.insert(peer, now_ms);
        }
        self.conns.entry(peer).or_default().push((id, kind));
        Verdict::Keep
    }

    /// A connection closed; returns the best transport still open to the peer.
    pub fn closed(&mut self, peer: &PeerId, id: ConnectionId) -> Option<TransportKind> {
        let conns = self.conns.get_mut(peer)?;
        conns.retain(|(c, _)| *c != id);
        if conns.is_empty() {
            self.conns.remove(peer);
            self.advertises.remove(peer);
        }
        if !self.is_direct(peer) {
            self.direct_since.remove(peer);
        }
        if !self.has(peer, TransportKind::Relayed) {
            self.relayed_used.remove(peer);
        }
        self.best(peer)
    }

    /// Something is in flight with `peer` at `now_ms` (a request or an answer, either way):
    /// its relayed connections are in use.
    pub fn used(&mut self, peer: &PeerId, now_ms: u64) {
        if let Some(at) = self.relayed_used.get_mut(peer) {
            *at = (*at).max(now_ms);
        }
    }

    /// The relayed connections that nothing has used for [`Limits::circuit_idle_ms`], of
    /// peers with no `/webrtc` dial in flight (whose signalling runs over the circuit).
    pub fn idle_relayed(&self, now_ms: u64) -> Vec<(PeerId, ConnectionId)> {
        let mut out: Vec<(PeerId, ConnectionId)> = self
            .relayed_used
            .iter()
            .filter(|(peer, at)| {
                now_ms.saturating_sub(**at) >= self.limits.circuit_idle_ms
                    && !self.dialing.contains_key(peer)
            })
            .flat_map(|(peer, _)| {
                self.conns
                    .get(peer)
                    .into_iter()
                    .flatten()
                    .filter(|(_, k)| *k == TransportKind::Relayed)
                    .map(|(c, _)| (*peer, *c))
            })
            .collect();
        out.sort_by_key(|(_, c)| *c);
        out
    }

    /// The best transport open to `peer`: a direct connection over any other.
    pub fn best(&self, peer: &PeerId) -> Option<TransportKind> {
        let conns = self.conns.get(peer)?;
        conns
            .iter()
            .map(|(_, k)| *k)
            .find(|k| *k == TransportKind::WebRtc)
            .or_else(|| conns.last().map(|(_, k)| *k))
    }

    /// Whether `peer` is connected directly.
    pub fn is_direct(&self, peer: &PeerId) -> bool {
        self.has(peer, TransportKind::WebRtc)
    }

    /// Peers connected directly.
    pub fn direct_peers(&self) -> Vec<PeerId> {
        self.conns
            .keys()
            .filter(|p| self.is_direct(p))
            .copied()
            .collect()
    }

    /// The `/webrtc` address to dial now for `peer`, given the addresses it advertised and
    /// whether we advertise one, if the rules say so; the dial then counts as in flight until [`Links::dial_started`]
    /// names its connection and it succeeds or fails.
    pub fn want_direct(
        &mut self,
        peer: PeerId,
        advertised: &[Multiaddr],
        we_advertise: bool,
        now_ms: u64,
    ) -> Option<Multiaddr> {
        let addr = advertised.iter().find_map(|a| {
            let full = match a.iter().last() {
                Some(Protocol::P2p(p)) if p == peer => a.clone(),
                Some(Protocol::P2p(_)) => return None,
                _ => a.clone().with(Protocol::P2p(peer)),
            };
            (kith_webrtc::addr::dial_target(&full) == Some(peer)).then_some(full)
        });
        if self.conns.contains_key(&peer) {
            self.advertises.insert(peer, addr.is_some());
        }
        if (self.local >= peer && we_advertise)
            || !self.has(&peer, TransportKind::Relayed)
            || self.is_direct(&peer)
            || self.dialing.contains_key(&peer)
            || !self.may_dial(&peer, now_ms)
        {
            return None;
        }
        let addr = addr?;
        self.dials_made += 1;
        Some(addr)
    }

    /// Whether the caps and the wait after a failure allow a direct connection to `peer`.
    fn may_dial(&self, peer: &PeerId, now_ms: u64) -> bool {
        self.direct_count() < self.limits.max_direct
            && self.dials_made < self.limits.max_dials
            && self
                .failed
                .get(peer)
                .is_none_or(|at| now_ms.saturating_sub(*at) >= self.limits.retry_after_ms)
    }

    /// Whether a direct connection to `peer` is there or coming (see [`Expect`]).
    pub fn expect(&self, peer: &PeerId, we_advertise: bool, now_ms: u64) -> Expect {
        if self.is_direct(peer) {
            return Expect::Direct;
        }
        if self.dialing.contains_key(peer) {
            return Expect::Coming;
        }
        match self.advertises.get(peer) {
            None if self.conns.contains_key(peer) => Expect::Unknown,
            // It dials us: we are the higher id and can be dialed.
            Some(true) if self.local >= *peer && we_advertise && self.may_dial(peer, now_ms) => {
                Expect::Coming
            }
            _ => Expect::No,
        }
    }

    /// The dial for `peer` runs as connection `id`.
    pub fn dial_started(&mut self, peer: PeerId, id: ConnectionId) {
        self.dialing.insert(peer, id);
    }

    /// The dial for `peer` could not even start, or connection `id` failed to come up;
    /// returns whether it was a `/webrtc` dial.
    pub fn dial_failed(&mut self, peer: PeerId, id: Option<ConnectionId>, now_ms: u64) -> bool {
        if let Some(id) = id
            && self.dialing.get(&peer) != Some(&id)
        {
            return false;
        }
        self.dialing.remove(&peer);
        if self.failed.len() >= MAX_FAILED
            && let Some(oldest) = self
                .failed
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(p, _)| *p)
        {
            self.failed.remove(&oldest);
        }
        self.failed.insert(peer, now_ms);
        true
    }

    /// The peer a `/webrtc` dial in flight as connection `id` is for.
    pub fn dialing_peer(&self, id: ConnectionId) -> Option<PeerId> {
        self.dialing
            .iter()
            .find(|(_, c)| **c == id)
            .map(|(p, _)| *p)
    }

    /// The relayed connections to `peer` that a direct connection has replaced.
    /// Nothing while the direct connection is younger than [`RETIRE_AFTER_MS`].
    pub fn relayed_to_retire(&self, peer: &PeerId, now_ms: u64) -> Vec<ConnectionId> {
        let settled = self
            .direct_since
            .get(peer)
            .is_some_and(|since| now_ms.saturating_sub(*since) >= RETIRE_AFTER_MS);
        if !settled {
            return Vec::new();
        }
        self.relayed_behind_direct(peer)
    }

    /// The relayed connections to `peer` while a direct one is open, at once (before a sync
    /// of ours starts, so that it takes the direct path).
    pub fn relayed_behind_direct(&self, peer: &PeerId) -> Vec<ConnectionId> {
        if !self.is_direct(peer) {
            return Vec::new();
        }
        self.conns
            .get(peer)
            .into_iter()
            .flatten()
            .filter(|(_, k)| *k == TransportKind::Relayed)
            .map(|(c, _)| *c)
            .collect()
    }

    /// Peers with circuits that [`Links::relayed_to_retire`] would close now.
    pub fn retire_due(&self, now_ms: u64) -> Vec<PeerId> {
        self.direct_since
            .keys()
            .filter(|p| !self.relayed_to_retire(p, now_ms).is_empty())
            .copied()
            .collect()
    }

    /// Every peer with an open connection.
    pub fn connected(&self) -> impl Iterator<Item = &PeerId> {
        self.conns.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELAY: &str =
        "/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

    /// Two peers, the first lower than the second.
    fn ordered() -> (PeerId, PeerId) {
        let a = PeerId::random();
        let b = PeerId::random();
        if a < b { (a, b) } else { (b, a) }
    }

    fn webrtc_addr() -> Multiaddr {
        format!("{RELAY}/p2p-circuit/webrtc").parse().expect("addr")
    }

    fn relayed(links: &mut Links, peer: PeerId) -> ConnectionId {
        let id = ConnectionId::new_unchecked(links.conns.len() * 10 + 1);
        assert_eq!(
            links.established(peer, id, TransportKind::Relayed, 0),
            Verdict::Keep
        );
        id
    }

    #[test]
    fn the_lower_peer_id_dials_once_over_a_relayed_connection() {
        let (low, high) = ordered();
        let mut at_low = Links::new(low, Limits::default());
        let mut at_high = Links::new(high, Limits::default());
        let advertised = [webrtc_addr()];
        // Nothing without a relayed connection first.
        assert_eq!(at_low.want_direct(high, &advertised, true, 0), None);
        relayed(&mut at_low, high);
        relayed(&mut at_high, low);
        assert_eq!(
            at_high.want_direct(low, &advertised, true, 0),
            None,
            "the higher id waits"
        );
        // … unless it advertises nothing, so the lower one could not reach it.
        assert!(at_high.want_direct(low, &advertised, false, 0).is_some());
        let addr = at_low
            .want_direct(high, &advertised, true, 0)
            .expect("the lower id dials");
        assert_eq!(kith_webrtc::addr::dial_target(&addr), Some(high));
        let dial = ConnectionId::new_unchecked(99);
        at_low.dial_started(high, dial);
        assert_eq!(
            at_low.want_direct(high, &advertised, true, 0),
            None,
            "one dial at a time"
        );
        assert_eq!(at_low.dialing_peer(dial), Some(high));
        assert_eq!(
            at_low.established(high, dial, TransportKind::WebRtc, 0),
            Verdict::Keep
        );
        assert!(at_low.is_direct(&high));
        assert_eq!(
            at_low.want_direct(high, &advertised, true, 0),
            None,
            "already direct"
        );
        assert_eq!(at_low.best(&high), Some(TransportKind::WebRtc));
    }

    #[test]
    fn only_webrtc_addresses_of_that_peer_are_dialed() {
        let (low, high) = ordered();
        let mut links = Links::new(low, Limits::default());
        relayed(&mut links, high);
        let other = PeerId::random();
        let not_ours: Vec<Multiaddr> = vec![
            format!("{RELAY}/p2p-circuit").parse().expect("addr"),
            "/ip4/127.0.0.1/udp/1/webrtc-direct".parse().expect("addr"),
            format!("{RELAY}/p2p-circuit/webrtc/p2p/{other}")
                .parse()
                .expect("addr"),
        ];
        assert_eq!(links.want_direct(high, &not_ours, true, 0), None);
        let with_id: Multiaddr = format!("{RELAY}/p2p-circuit/webrtc/p2p/{high}")
            .parse()
            .expect("addr");
        assert_eq!(
            links.want_direct(high, std::slice::from_ref(&with_id), true, 0),
            Some(with_id)
        );
    }

    #[test]
    fn a_failed_dial_waits_before_the_next() {
        let (low, high) = ordered();
        let limits = Limits::default();
        let mut links = Links::new(low, limits);
        relayed(&mut links, high);
        let advertised = [webrtc_addr()];
        links
            .want_direct(high, &advertised, true, 1_000)
            .expect("dial");
        let dial = ConnectionId::new_unchecked(7);
        links.dial_started(high, dial);
        assert!(
            !links.dial_failed(high, Some(ConnectionId::new_unchecked(8)), 2_000),
            "another dial"
        );
        assert!(links.dial_failed(high, Some(dial), 2_000));
        assert_eq!(
            links.want_direct(high, &advertised, true, 2_000 + limits.retry_after_ms - 1),
            None
        );
        assert!(
            links
                .want_direct(high, &advertised, true, 2_000 + limits.retry_after_ms)
                .is_some()
        );
    }

    #[test]
    fn direct_connections_and_dials_are_capped() {
        let local = PeerId::random();
        let limits = Limits {
            max_direct: 2,
            max_dials: 3,
            retry_after_ms: 0,
            circuit_idle_ms: CIRCUIT_IDLE_MS,
        };
        let mut links = Links::new(local, limits);
        let mut peers: Vec<PeerId> = (0..6)
            .map(|_| PeerId::random())
            .filter(|p| *p > local)
            .collect();
        while peers.len() < 4 {
            let p = PeerId::random();
            if p > local {
                peers.push(p);
            }
        }
        let advertised = [webrtc_addr()];
        for (i, peer) in peers.iter().take(2).enumerate() {
            relayed(&mut links, *peer);
            links
                .want_direct(*peer, &advertised, true, 0)
                .expect("under the caps");
            let id = ConnectionId::new_unchecked(100 + i);
            assert_eq!(
                links.established(*peer, id, TransportKind::WebRtc, 0),
                Verdict::Keep
            );
        }
        relayed(&mut links, peers[2]);
        assert_eq!(
            links.want_direct(peers[2], &advertised, true, 0),
            None,
            "two direct already"
        );
        // A peer that dials us anyway is closed.
        assert_eq!(
            links.established(
                peers[3],
                ConnectionId::new_unchecked(200),
                TransportKind::WebRtc,
                0
            ),
            Verdict::Close
        );
        // One direct connection goes: a third dial is allowed, and it is the last one.
        assert_eq!(
            links.closed(&peers[0], ConnectionId::new_unchecked(100)),
            Some(TransportKind::Relayed)
        );
        links
            .want_direct(peers[2], &advertised, true, 0)
            .expect("room again");
        links.dial_failed(peers[2], None, 0);
        assert_eq!(
            links.want_direct(peers[2], &advertised, true, 0),
            None,
            "no dials left"
        );
    }

    #[test]
    fn relayed_connections_retire_only_behind_a_direct_one() {
        let (low, high) = ordered();
        let mut links = Links::new(low, Limits::default());
        let circuit = relayed(&mut links, high);
        assert!(links.relayed_to_retire(&high, 0).is_empty());
        let direct = ConnectionId::new_unchecked(55);
        links.established(high, direct, TransportKind::WebRtc, 1_000);
        // Not at once: what was sent over the circuit gets time to arrive.
        assert!(links.relayed_to_retire(&high, 1_000).is_empty());
        assert!(links.retire_due(1_000 + RETIRE_AFTER_MS - 1).is_empty());
        assert_eq!(links.retire_due(1_000 + RETIRE_AFTER_MS), vec![high]);
        assert_eq!(
            links.relayed_to_retire(&high, 1_000 + RETIRE_AFTER_MS),
            vec![circuit]
        );
        assert_eq!(links.direct_peers(), vec![high]);
        assert_eq!(links.closed(&high, circuit), Some(TransportKind::WebRtc));
        assert_eq!(links.closed(&high, direct), None);
        assert!(links.conns.is_empty());
    }

    #[test]
    fn a_sync_knows_whether_to_wait_for_a_direct_connection() {
        let (low, high) = ordered();
        let advertised = [webrtc_addr()];
        // At the higher id, advertising: the lower one will dial.
        let mut at_high = Links::new(high, Limits::default());
        assert_eq!(at_high.expect(&low, true, 0), Expect::No, "not connected");
        relayed(&mut at_high, low);
        assert_eq!(at_high.expect(&low, true, 0), Expect::Unknown);
        assert_eq!(at_high.want_direct(low, &advertised, true, 0), None);
        assert_eq!(at_high.expect(&low, true, 0), Expect::Coming);
        // A peer that advertises nothing is not waited for.
        let other = PeerId::random();
        relayed(&mut at_high, other);
        at_high.want_direct(other, &[], true, 0);
        assert_eq!(at_high.expect(&other, true, 0), Expect::No);
        // At the lower id: its own dial is what is coming, then the connection.
        let mut at_low = Links::new(low, Limits::default());
        relayed(&mut at_low, high);
        at_low
            .want_direct(high, &advertised, true, 0)
            .expect("the lower id dials");
        let dial = ConnectionId::new_unchecked(77);
        at_low.dial_started(high, dial);
        assert_eq!(at_low.expect(&high, true, 0), Expect::Coming);
        at_low.dial_failed(high, Some(dial), 5);
        assert_eq!(at_low.expect(&high, true, 10), Expect::No, "failed lately");
        at_low.established(
            high,
            ConnectionId::new_unchecked(78),
            TransportKind::WebRtc,
            20,
        );
        assert_eq!(at_low.expect(&high, true, 20), Expect::Direct);
        assert_eq!(at_low.relayed_behind_direct(&high).len(), 1);
        assert!(at_low.relayed_to_retire(&high, 20).is_empty());
    }

    #[test]
    fn a_circuit_nothing_uses_goes_after_the_idle_time() {
        let (low, high) = ordered();
        let mut links = Links::new(low, Limits::default());
        let first = relayed(&mut links, high);
        let second = relayed(&mut links, high);
        assert!(links.idle_relayed(CIRCUIT_IDLE_MS - 1).is_empty(), "young");
        // A request at 10 s: idle from then on.
        links.used(&high, 10_000);
        assert!(
            links.idle_relayed(CIRCUIT_IDLE_MS).is_empty(),
            "used lately"
        );
        assert_eq!(
            links.idle_relayed(10_000 + CIRCUIT_IDLE_MS),
            vec![(high, first), (high, second)]
        );
        // An earlier use reported late does not move the time back.
        links.used(&high, 5_000);
        assert!(links.idle_relayed(10_000 + CIRCUIT_IDLE_MS - 1).is_empty());
        // Gone with its connections: a use after that remembers nothing.
        links.closed(&high, first);
        links.closed(&high, second);
        links.used(&high, 50_000);
        assert!(links.relayed_used.is_empty());
        assert!(links.idle_relayed(u64::MAX).is_empty());
    }

    #[test]
    fn a_direct_connection_is_never_idle_closed_and_a_dial_in_flight_holds_its_circuit() {
        let (low, high) = ordered();
        let mut links = Links::new(low, Limits::default());
        links.established(
            high,
            ConnectionId::new_unchecked(5),
            TransportKind::WebRtc,
            0,
        );
        assert!(links.idle_relayed(u64::MAX).is_empty(), "direct stays");
        // A circuit with a `/webrtc` dial running over it: the signalling needs it.
        let other = PeerId::random();
        let circuit = relayed(&mut links, other);
        links.dial_started(other, ConnectionId::new_unchecked(99));
        assert!(links.idle_relayed(CIRCUIT_IDLE_MS).is_empty());
        links.dial_failed(other, Some(ConnectionId::new_unchecked(99)), 1);
        assert_eq!(links.idle_relayed(CIRCUIT_IDLE_MS), vec![(other, circuit)]);
        // Another idle time from the limits.
        let mut quick = Links::new(
            low,
            Limits {
                circuit_idle_ms: 100,
                ..Limits::default()
            },
        );
        let c = relayed(&mut quick, high);
        assert_eq!(quick.idle_relayed(100), vec![(high, c)]);
    }
}
