//! Search across the network, as in classic unstructured search (Gnutella's query flooding):
//! a query goes to the peers this node is connected to, each answers from the posts it holds
//! and forwards the query to its own peers with one hop less, and answers come back the way
//! the query came, merged at each hop.
//!
//! - The request is a [`Query`] (an id of 16 random-looking bytes, the words, a TTL of at most
//!   [`MAX_TTL`]); the answer is a [`Hits`] of at most [`MAX_HITS`] encoded post entries and
//!   the latest profile entry of each of their authors the answerer holds (so the asker can
//!   name them).
//! - The receiving event loop refuses, before anything else, a query over its sender's rate
//!   ([`QUERY_BURST`], [`QUERIES_PER_MINUTE`]) and one whose id it has seen
//!   ([`Seen`], the last [`MAX_SEEN`]), answering at once with nothing: a query going round a
//!   loop of peers is answered once by each. At most [`MAX_PENDING_QUERIES`] wait for the
//!   agent.
//! - The agent answers from the posts its app holds (the app's text index, through
//!   [`Searcher`]) and, with TTL left, forwards to at most [`MAX_FORWARD`] connected peers
//!   (people's devices, never the asker), waiting at most [`FORWARD_WAIT`] for them.
//! - The asker verifies every entry (signature, a post, holding every word asked) and drops
//!   duplicates; each hit says which peer it came through.

use std::collections::{HashSet, VecDeque};

use kith_core::VerifiedEntry;
use serde::{Deserialize, Serialize};

use libp2p::StreamProtocol;

/// The protocol name.
pub const SEARCH_PROTOCOL: StreamProtocol = StreamProtocol::new("/kith/search/1.0.0");
/// The most hops a query travels.
pub const MAX_TTL: u8 = 3;
/// The most hits in one answer.
pub const MAX_HITS: usize = 20;
/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// The largest answer: [`MAX_HITS`] posts and as many profiles, with room for framing.
pub const MAX_HITS_BYTES: usize = 2 * MAX_HITS * (kith_core::entry::MAX_ENTRY_BYTES + 16) + 64;
/// How many peers a query is forwarded to.
pub const MAX_FORWARD: usize = 8;
/// How long a peer waits for the peers it forwarded a query to, per hop still to go (with
/// two hops to go, twice this): each hop waits longer than the ones below it.
pub const FORWARD_WAIT: std::time::Duration = std::time::Duration::from_millis(2_500);
/// How long the asker waits for its peers (their forwards included: more than
/// [`FORWARD_WAIT`] times the hops below them).
pub const ASK_WAIT: std::time::Duration = std::time::Duration::from_secs(8);
/// How many queries one peer may send at once.
pub const QUERY_BURST: u32 = 10;
/// How many queries one peer may send per minute, past the burst.
pub const QUERIES_PER_MINUTE: u32 = 20;
/// How many query ids a node remembers.
pub const MAX_SEEN: usize = 1_024;
/// How many queries may wait for the agent at once.
pub const MAX_PENDING_QUERIES: usize = 16;

/// A query on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Names the query wherever it travels.
    pub id: [u8; 16],
    /// The words.
    pub text: String,
    /// Hops left, counting this one.
    pub ttl: u8,
}

impl Query {
    /// The query's bytes.
    pub fn encode(&self) -> Vec<u8> {
        // A struct of bytes, a string and a number always encodes.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// A query from bytes, refused when it breaks a bound.
    pub fn decode(bytes: &[u8]) -> Result<Query, String> {
        let q: Query = postcard::from_bytes(bytes)
            .map_err(|e| format!("a query that does not decode: {e}"))?;
        if q.ttl == 0 || q.ttl > MAX_TTL {
            return Err(format!("a query with TTL {} (1 to {MAX_TTL})", q.ttl));
        }
        if q.text.chars().count() > MAX_QUERY_CHARS || q.text.trim().is_empty() {
            return Err("a query that is empty or longer than allowed".to_owned());
        }
        Ok(q)
    }
}

/// An answer on the wire: encoded entries, not yet verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hits(pub Vec<Vec<u8>>);

impl Hits {
    /// The answer's bytes (at most twice [`MAX_HITS`] entries, posts and profiles, are sent).
    pub fn encode(&self) -> Vec<u8> {
        let capped = Hits(self.0.iter().take(2 * MAX_HITS).cloned().collect());
        postcard::to_allocvec(&capped).unwrap_or_default()
    }

    /// An answer from bytes; more than twice [`MAX_HITS`] entries is refused.
    pub fn decode(bytes: &[u8]) -> Result<Hits, String> {
        let h: Hits = postcard::from_bytes(bytes)
            .map_err(|e| format!("an answer that does not decode: {e}"))?;
        if h.0.len() > 2 * MAX_HITS {
            return Err(format!(
                "an answer of {} entries (at most {})",
                h.0.len(),
                2 * MAX_HITS
            ));
        }
        Ok(h)
    }
}

/// What answers a query from the posts held here: the words, and how many at most. The app
/// provides it (its text index); without one, a node answers with nothing and still forwards.
pub type Searcher = std::rc::Rc<dyn Fn(&str, usize) -> Vec<VerifiedEntry>>;

/// The query ids seen lately, the oldest forgotten first.
#[derive(Debug, Default)]
pub struct Seen {
    ids: HashSet<[u8; 16]>,
    order: VecDeque<[u8; 16]>,
}

impl Seen {
    /// Notes `id`; `false` if it was seen already.
    pub fn first_time(&mut self, id: [u8; 16]) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        while self.order.len() > MAX_SEEN {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        true
    }
}

/// Whether `entry` is an answer to `words`: a post whose text holds every word of the query.
pub fn answers(entry: &VerifiedEntry, words: &str) -> bool {
    let Some(kith_core::Payload::Post { text, .. }) = entry.payload() else {
        return false;
    };
    let have = kith_app::search::tokens(text);
    let want = kith_app::search::tokens(words);
    !want.is_empty() && want.iter().all(|w| have.contains(w))
}

/// Whether `entry` names the author of one of `posts`: their profile.
pub fn names(entry: &VerifiedEntry, posts: &[VerifiedEntry]) -> bool {
    matches!(entry.payload(), Some(kith_core::Payload::Profile { .. }))
        && posts.iter().any(|p| p.author() == entry.author())
}

/// Query and answer frames (the codec every Kith request-response protocol shares).
pub type SearchCodec = crate::sync_protocol::Frames;

/// The largest query on the wire.
pub const MAX_QUERY_BYTES: usize = 16 + 4 * MAX_QUERY_CHARS + 16;

/// The request-response behaviour for search: [`ASK_WAIT`] per request, 4 streams at once per
/// connection.
pub fn behaviour() -> libp2p::request_response::Behaviour<SearchCodec> {
    libp2p::request_response::Behaviour::with_codec(
        crate::sync_protocol::Frames,
        [(
            SEARCH_PROTOCOL,
            libp2p::request_response::ProtocolSupport::Full,
        )],
        libp2p::request_response::Config::default()
            .with_request_timeout(ASK_WAIT)
            .with_max_concurrent_streams(4),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_core::{Feed, Identity, Payload};

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn queries_and_answers_are_bounded() {
        let q = Query {
            id: [1; 16],
            text: "zebra crossing".into(),
            ttl: 2,
        };
        assert_eq!(Query::decode(&q.encode()), Ok(q.clone()));
        assert!(q.encode().len() <= MAX_QUERY_BYTES);
        for bad in [
            Query {
                ttl: 0,
                ..q.clone()
            },
            Query {
                ttl: MAX_TTL + 1,
                ..q.clone()
            },
            Query {
                text: "x".repeat(MAX_QUERY_CHARS + 1),
                ..q.clone()
            },
            Query {
                text: "  ".into(),
                ..q.clone()
            },
        ] {
            assert!(Query::decode(&bad.encode()).is_err(), "{bad:?}");
        }
        assert!(Query::decode(b"junk").is_err());
        let many = Hits(vec![vec![1u8; 10]; 2 * MAX_HITS + 5]);
        assert_eq!(
            Hits::decode(&many.encode()).expect("capped").0.len(),
            2 * MAX_HITS
        );
        let over = postcard::to_allocvec(&many).expect("encodes");
        assert!(Hits::decode(&over).is_err());
    }

    #[test]
    fn an_id_is_seen_once_and_the_memory_is_bounded() {
        let mut seen = Seen::default();
        assert!(seen.first_time([1; 16]));
        assert!(!seen.first_time([1; 16]));
        for i in 0..MAX_SEEN as u32 + 10 {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            id[15] = 9;
            seen.first_time(id);
        }
        assert_eq!(seen.ids.len(), MAX_SEEN);
        assert!(seen.first_time([1; 16]), "forgotten after MAX_SEEN others");
    }

    #[test]
    fn an_answer_is_a_post_holding_every_word() {
        let me = Identity::from_secret([4; 32]);
        let mut feed = Feed::new(me.author());
        let post = feed
            .append(&me, &Payload::post("A zebra crossing, #stripes"), 1)
            .expect("append")
            .clone();
        assert!(answers(&post, "zebra"));
        assert!(answers(&post, "ZEBRA #stripes"));
        assert!(!answers(&post, "zebra lion"));
        assert!(!answers(&post, "zeb"), "whole words only");
        let profile = feed
            .append(
                &me,
                &Payload::Profile {
                    name: "zebra".into(),
                    bio: String::new(),
                    avatar: None,
                },
                2,
            )
            .expect("append")
            .clone();
        assert!(!answers(&profile, "zebra"));
        assert!(names(&profile, std::slice::from_ref(&post)));
        assert!(!names(&post, std::slice::from_ref(&post)));
        let other = Identity::from_secret([5; 32]);
        let mut theirs = Feed::new(other.author());
        let their_post = theirs
            .append(&other, &Payload::post("zebra"), 1)
            .expect("append")
            .clone();
        assert!(
            !names(&profile, &[their_post]),
            "a profile names only its own author"
        );
    }
}
