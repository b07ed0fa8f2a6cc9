//! A person's inbox on the wire: notifications (one signed entry, sent by its author's node to
//! a device of each person it concerns, [`kith_core::notify`]) and direct messages (one
//! sealed letter, [`kith_core::dm`]), over one request-response protocol.
//!
//! - A person's devices announce themselves in the DHT as providers of the person's
//!   [`inbox_key`]; a sender looks them up there (besides devices already connected), checks
//!   whose device each is, dials it (directly, or through a kith-node's relay, which carries
//!   the bytes end-to-end encrypted and keeps nothing), and sends the delivery.
//! - The request is a [`Delivery`]: an encoded entry and, when the sender has one, its latest
//!   profile entry (so someone not followed shows by name) ([`encode_note`]), or a sealed
//!   letter ([`encode_letter`]); at most [`MAX_NOTE_BYTES`]. The answer is one byte, an
//!   [`Answer`]. The receiver's event loop applies the [`Throttle`] before anything else, so a
//!   flood from one peer is answered [`Answer::Later`] without reaching the agent, and at most
//!   [`MAX_PENDING_NOTES`] wait for the agent at once.
//! - The agent verifies a notification, keeps it only if it concerns its person and its
//!   author is not blocked, and stores it in kith-store's inbox. It opens a letter with its
//!   person's key (only the addressee can) and keeps it in kith-store's `dms` unless its
//!   writer is blocked. Senders keep undelivered deliveries in their outboxes and try again,
//!   with backoff, while online.

use std::collections::{HashMap, VecDeque};

use kith_core::AuthorId;
use libp2p::{PeerId, StreamProtocol, kad};
use serde::{Deserialize, Serialize};

/// The protocol name (version 1 of `/kith/notify` carried notifications only).
pub const NOTIFY_PROTOCOL: StreamProtocol = StreamProtocol::new("/kith/inbox/1.0.0");
/// The largest request: an entry and a profile entry, with room for framing (a letter is
/// smaller).
pub const MAX_NOTE_BYTES: usize = 2 * kith_core::entry::MAX_ENTRY_BYTES + 64;

/// What one request delivers, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// A notification: an entry's bytes, and its author's profile entry's.
    Note {
        /// The entry.
        entry: Vec<u8>,
        /// The sender's latest profile entry.
        profile: Option<Vec<u8>>,
    },
    /// A sealed direct message or read receipt ([`kith_core::dm::seal`]).
    Letter(Vec<u8>),
}

/// The request's bytes: the entry, and the sender's profile entry if any.
pub fn encode_note(
    entry: &kith_core::VerifiedEntry,
    profile: Option<&kith_core::VerifiedEntry>,
) -> Vec<u8> {
    encode_note_bytes(
        entry.encode(),
        profile.map(kith_core::VerifiedEntry::encode),
    )
}

/// [`encode_note`] of bytes that may not be entries at all: what a broken or hostile peer can
/// send. For tests of the receivers' defences.
pub fn encode_note_bytes(entry: Vec<u8>, profile: Option<Vec<u8>>) -> Vec<u8> {
    // Byte vectors always encode.
    postcard::to_allocvec(&Delivery::Note { entry, profile }).unwrap_or_default()
}

/// The request's bytes for a sealed letter.
pub fn encode_letter(sealed: &[u8]) -> Vec<u8> {
    postcard::to_allocvec(&Delivery::Letter(sealed.to_vec())).unwrap_or_default()
}

/// What a request delivers, not yet verified.
pub fn decode_delivery(bytes: &[u8]) -> Result<Delivery, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("a delivery that does not decode: {e}"))
}
/// How many notifications may wait for the agent at once (all peers).
pub const MAX_PENDING_NOTES: usize = 16;
/// How many notifications one peer may send at once before it waits for a token.
pub const NOTE_BURST: u32 = 20;
/// How many notifications one peer may send per minute, past the burst.
pub const NOTES_PER_MINUTE: u32 = 30;
/// How many peers the throttle remembers (the oldest is forgotten first; a forgotten peer
/// starts again with a full burst, which bounds the memory, not the rate, of a peer that
/// churns identities: each new identity needs a new connection through kith-node's limits).
pub const MAX_THROTTLED_PEERS: usize = 4_096;

/// The DHT key under which a person's devices announce that they take the person's
/// notifications.
pub fn inbox_key(author: &AuthorId) -> kad::RecordKey {
    kad::RecordKey::new(&kith_core::Hash::of(&[b"kith-inbox", &author.0]).0)
}

/// What a receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Kept: a new notification.
    Kept,
    /// Already had it.
    Had,
    /// Not taken, and not to be sent again: it does not verify, does not concern this
    /// person, or its author is blocked here.
    Refused,
    /// Not taken now (too many from this peer, or the store failed): try later.
    Later,
}

impl Answer {
    /// The byte on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            Answer::Kept => 0,
            Answer::Had => 1,
            Answer::Refused => 2,
            Answer::Later => 3,
        }
    }

    /// The answer a byte stands for.
    pub fn from_byte(b: u8) -> Option<Answer> {
        Some(match b {
            0 => Answer::Kept,
            1 => Answer::Had,
            2 => Answer::Refused,
            3 => Answer::Later,
            _ => return None,
        })
    }

    /// Whether the sender is done with this delivery.
    pub fn is_final(self) -> bool {
        !matches!(self, Answer::Later)
    }
}

/// A token bucket per peer: `burst` at once, refilled at `per_minute` (for notifications,
/// [`NOTE_BURST`] and [`NOTES_PER_MINUTE`]; the default).
#[derive(Debug)]
pub struct Throttle {
    /// Tokens (in thousandths) and when they were last counted, per peer.
    peers: HashMap<PeerId, (u64, u64)>,
    order: VecDeque<PeerId>,
    burst: u32,
    per_minute: u32,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(NOTE_BURST, NOTES_PER_MINUTE)
    }
}

impl Throttle {
    /// A throttle of `burst` at once and `per_minute` after that, per peer.
    pub fn new(burst: u32, per_minute: u32) -> Throttle {
        Throttle {
            peers: HashMap::new(),
            order: VecDeque::new(),
            burst,
            per_minute,
        }
    }

    /// Whether `peer` may send one more at `now_ms` (and takes a token if so).
    pub fn allow(&mut self, peer: PeerId, now_ms: u64) -> bool {
        const MILLI: u64 = 1_000;
        let full = u64::from(self.burst) * MILLI;
        let (tokens, last) = match self.peers.get(&peer) {
            Some(&t) => t,
            None => {
                self.order.push_back(peer);
                (full, now_ms)
            }
        };
        // per_minute tokens a minute: per ms, per_minute * MILLI / 60_000 milli.
        let refill = now_ms.saturating_sub(last) * u64::from(self.per_minute) * MILLI / 60_000;
        let tokens = tokens.saturating_add(refill).min(full);
        let allowed = tokens >= MILLI;
        let left = if allowed { tokens - MILLI } else { tokens };
        self.peers.insert(peer, (left, now_ms));
        while self.peers.len() > MAX_THROTTLED_PEERS {
            match self.order.pop_front() {
                Some(old) => {
                    self.peers.remove(&old);
                }
                None => break,
            }
        }
        allowed
    }
}

/// Requests of one entry (and a profile) and answers of one byte: the codec every Kith
/// request-response protocol shares, bounded for this one.
pub type NotifyCodec = crate::sync_protocol::Frames;

/// The request-response behaviour for notifications: 10 s per request, at most 4 streams at
/// once per connection.
pub fn behaviour() -> libp2p::request_response::Behaviour<NotifyCodec> {
    libp2p::request_response::Behaviour::with_codec(
        crate::sync_protocol::Frames,
        [(
            NOTIFY_PROTOCOL,
            libp2p::request_response::ProtocolSupport::Full,
        )],
        libp2p::request_response::Config::default()
            .with_request_timeout(std::time::Duration::from_secs(10))
            .with_max_concurrent_streams(4),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_peer_gets_its_burst_then_the_rate_and_others_are_unaffected() {
        let mut t = Throttle::default();
        let (flood, other) = (PeerId::random(), PeerId::random());
        let allowed = (0..10_000).filter(|_| t.allow(flood, 1_000)).count();
        assert_eq!(allowed, NOTE_BURST as usize);
        assert!(t.allow(other, 1_000));
        // Half a minute later, half a minute's worth more.
        let later = (0..10_000).filter(|_| t.allow(flood, 31_000)).count();
        assert_eq!(later, NOTES_PER_MINUTE as usize / 2);
        // Time going backwards adds nothing.
        assert!(!t.allow(flood, 0));
    }

    #[test]
    fn the_throttle_forgets_the_oldest_peers_past_its_bound() {
        let mut t = Throttle::default();
        for _ in 0..MAX_THROTTLED_PEERS + 10 {
            t.allow(PeerId::random(), 0);
        }
        assert_eq!(t.peers.len(), MAX_THROTTLED_PEERS);
    }

    #[test]
    fn answers_round_trip_and_unknown_bytes_are_refused() {
        for a in [Answer::Kept, Answer::Had, Answer::Refused, Answer::Later] {
            assert_eq!(Answer::from_byte(a.to_byte()), Some(a));
        }
        assert_eq!(Answer::from_byte(9), None);
        assert!(!Answer::Later.is_final() && Answer::Refused.is_final());
        assert!(decode_delivery(&[0xff, 0xff]).is_err());
        assert_eq!(
            decode_delivery(&encode_letter(b"sealed")),
            Ok(Delivery::Letter(b"sealed".to_vec()))
        );
        assert!(encode_letter(&[0; kith_core::dm::MAX_SEALED_BYTES]).len() <= MAX_NOTE_BYTES);
        assert_ne!(
            inbox_key(&AuthorId([1; 32])),
            crate::behaviour::feed_key(&AuthorId([1; 32]))
        );
    }
}
