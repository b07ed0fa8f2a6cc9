//! How many `RTCPeerConnection`s the transport may create. Chrome allows about 500 over a
//! tab's life, and each offer a peer sends makes the answerer create one, so a peer that
//! offers again and again could use them all up: every handshake is counted here first.
//!
//! - at most [`Budget::max_total`] over the transport's life (dials and answers together);
//! - at most one handshake at a time with each peer;
//! - at most `max_per_peer` answers to one peer over the transport's life (the last
//!   `MAX_TRACKED` peers are remembered; one forgotten starts again at zero).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use libp2p::identity::PeerId;

/// Peers whose answers are counted; the oldest is forgotten first.
const MAX_TRACKED: usize = 1024;

/// Why a handshake may not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The transport made all the peer connections it may.
    Exhausted,
    /// A handshake with this peer is already under way.
    Busy,
    /// This peer has been answered as often as one peer may be.
    TooManyFromPeer,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exhausted => "no peer connections left for this tab",
            Self::Busy => "a handshake with this peer is already under way",
            Self::TooManyFromPeer => "this peer has offered too many connections",
        })
    }
}

/// The counts; see the module docs.
#[derive(Debug)]
pub struct Budget {
    /// Peer connections allowed over the transport's life.
    pub max_total: usize,
    max_per_peer: u32,
    total: usize,
    active: HashSet<PeerId>,
    answered: HashMap<PeerId, u32>,
    order: VecDeque<PeerId>,
}

impl Budget {
    /// A budget of `max_total` peer connections, `max_per_peer` answers per peer.
    pub fn new(max_total: usize, max_per_peer: u32) -> Self {
        Self {
            max_total,
            max_per_peer,
            total: 0,
            active: HashSet::new(),
            answered: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Counts a handshake with `peer` (an answer when `inbound`), or says why not.
    pub fn start(&mut self, peer: PeerId, inbound: bool) -> Result<(), Refused> {
        if self.total >= self.max_total {
            return Err(Refused::Exhausted);
        }
        if self.active.contains(&peer) {
            return Err(Refused::Busy);
        }
        if inbound {
            let n = self.answered.get(&peer).copied().unwrap_or(0);
            if n >= self.max_per_peer {
                return Err(Refused::TooManyFromPeer);
            }
            if self.answered.insert(peer, n + 1).is_none() {
                self.order.push_back(peer);
                while self.order.len() > MAX_TRACKED {
                    if let Some(old) = self.order.pop_front() {
                        self.answered.remove(&old);
                    }
                }
            }
        }
        self.total += 1;
        self.active.insert(peer);
        Ok(())
    }

    /// The handshake with `peer` ended, either way.
    pub fn finish(&mut self, peer: &PeerId) {
        self.active.remove(peer);
    }

    /// Peer connections created so far.
    pub fn used(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_handshake_per_peer_at_a_time_and_a_total_cap() {
        let mut b = Budget::new(3, 10);
        let (p, q) = (PeerId::random(), PeerId::random());
        b.start(p, false).expect("first");
        assert_eq!(b.start(p, true), Err(Refused::Busy));
        b.start(q, true).expect("another peer");
        b.finish(&p);
        b.start(p, true).expect("again, once the first ended");
        b.finish(&p);
        assert_eq!(b.start(p, false), Err(Refused::Exhausted));
        assert_eq!(b.used(), 3);
    }

    #[test]
    fn a_peer_that_keeps_offering_is_refused() {
        let mut b = Budget::new(100, 2);
        let p = PeerId::random();
        for _ in 0..2 {
            b.start(p, true).expect("within the per-peer cap");
            b.finish(&p);
        }
        assert_eq!(b.start(p, true), Err(Refused::TooManyFromPeer));
        // Our own dials to it still count only against the total.
        b.start(p, false).expect("a dial");
        b.finish(&p);
        assert_eq!(b.used(), 3);
    }

    #[test]
    fn the_per_peer_counts_stay_bounded() {
        let mut b = Budget::new(usize::MAX, 1);
        let first = PeerId::random();
        b.start(first, true).expect("first");
        b.finish(&first);
        for _ in 0..MAX_TRACKED {
            let p = PeerId::random();
            b.start(p, true).expect("new peer");
            b.finish(&p);
        }
        assert!(b.answered.len() <= MAX_TRACKED);
        // The first peer was forgotten, so it may be answered again.
        b.start(first, true).expect("forgotten, counted from zero");
    }
}
