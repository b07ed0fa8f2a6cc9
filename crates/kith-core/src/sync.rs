//! Sync, sans I/O: two peers exchange frontiers, then fetch what each is missing in bounded
//! batches, verifying every entry against the author's key and the chain.
//!
//! A [`Session`] is one peer's side of one connection. It never touches a socket, a store or a
//! clock: the caller feeds it received messages with [`Session::handle`] and the current time,
//! calls [`Session::handle_timeout`] when [`Session::poll_timeout`] says, sends what
//! [`Session::poll_outbound`] yields, and acts on what [`Session::poll_event`] yields (store a
//! verified entry, answer a peer's request with [`Session::respond`], report a fork, show
//! progress). The same code runs in the browser, natively and in simulations.
//!
//! The exchange:
//! 1. Each side sends a [`Message::Frontier`]: for each feed it holds, the latest seq. A side
//!    answers a frontier that is not itself an answer, so a lost frontier is recovered by
//!    resending after a timeout.
//! 2. For each author the receiver wants (it follows them) and the peer holds further, it sends
//!    [`Message::Request`]s for at most `batch` entries each, at most `max_inflight` at once
//!    in the whole session, spread over the feeds. A feed's first request starts one entry
//!    early (at the feed's head) so that a peer holding a different history is caught as a
//!    fork, not silently merged; after it, consecutive ranges of the feed are requested at
//!    once (pipelined), and an answer that arrives before the ranges ahead of it waits,
//!    verified, until they are chained (at most `max_inflight` waiting answers).
//! 3. The peer answers with [`Message::Entries`]. Entries may arrive in any order within a
//!    batch; they are sorted, and each must chain to the previous one. A lost or unanswered
//!    request is sent again after `timeout_ms`, up to `max_retries` times.
//!
//! Garbage, invalid entries, unsolicited answers and request floods count as strikes; after
//! `max_strikes` the session fails and the caller should disconnect the peer.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::entry::{MAX_ENTRY_BYTES, Payload};
use crate::feed::ForkEvidence;
use crate::identity::AuthorId;
use crate::validate::{Expect, VerifiedEntry, validate_detached_all};

/// The largest sync message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// The most feeds one frontier may list.
pub const MAX_FRONTIER_AUTHORS: usize = 4096;
/// The most entries one request may ask for, and one answer may carry.
pub const MAX_BATCH: u32 = 64;
/// The most peer requests waiting for the caller to answer.
pub const MAX_PENDING_SERVES: usize = 16;
/// The most events waiting for the caller.
pub const MAX_EVENTS: usize = 4 * MAX_BATCH as usize + MAX_PENDING_SERVES + 16;

/// A sync message. Encode with [`encode`], decode with [`decode`] (which enforces the limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// The feeds the sender holds and their latest seq.
    Frontier {
        /// `(author, head seq)` pairs.
        heads: Vec<(AuthorId, u64)>,
        /// Whether this answers the peer's frontier (answers are not answered).
        reply: bool,
    },
    /// "Send me `author`'s entries from `from`, at most `limit`."
    Request {
        /// The feed.
        author: AuthorId,
        /// The first seq wanted.
        from: u64,
        /// How many.
        limit: u32,
    },
    /// The answer to a request: encoded entries (see `RawEntry::encode`).
    Entries {
        /// The feed.
        author: AuthorId,
        /// The `from` of the request answered.
        from: u64,
        /// The entries, in any order.
        entries: Vec<Vec<u8>>,
        /// For each entry of `entries` without its payload, the author's delete that removed
        /// it (encoded; later in the feed, so outside the range). A holder serves the payload
        /// of every entry that is not deleted: an entry without its payload and without this
        /// proof is a withheld payload, refused like a forged entry.
        deletes: Vec<Vec<u8>>,
    },
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("sync message is {0} bytes, more than the {MAX_MESSAGE_BYTES} allowed")]
    TooLarge(usize),
    /// Not a sync message.
    #[error("sync message is malformed: {0}")]
    Malformed(String),
    /// A list longer than the protocol allows.
    #[error("sync message exceeds a limit: {0}")]
    OverLimit(&'static str),
}

fn check_limits(m: &Message) -> Result<(), CodecError> {
    match m {
        Message::Frontier { heads, .. } if heads.len() > MAX_FRONTIER_AUTHORS => {
            Err(CodecError::OverLimit("frontier lists too many feeds"))
        }
        Message::Request { limit, from, .. } if *limit == 0 || *limit > MAX_BATCH || *from == 0 => {
            Err(CodecError::OverLimit("request range"))
        }
        Message::Entries {
            entries, deletes, ..
        } if entries.len() > MAX_BATCH as usize || deletes.len() > MAX_BATCH as usize => {
            Err(CodecError::OverLimit("too many entries"))
        }
        Message::Entries {
            entries, deletes, ..
        } if entries
            .iter()
            .chain(deletes)
            .any(|e| e.len() > MAX_ENTRY_BYTES) =>
        {
            Err(CodecError::OverLimit("entry too large"))
        }
        _ => Ok(()),
    }
}

/// Encodes a message, refusing one over the limits.
pub fn encode(m: &Message) -> Result<Vec<u8>, CodecError> {
    check_limits(m)?;
    let bytes = postcard::to_allocvec(m).map_err(|e| CodecError::Malformed(e.to_string()))?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Decodes a message, refusing one over the limits.
pub fn decode(bytes: &[u8]) -> Result<Message, CodecError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    let m: Message =
        crate::codec::from_bytes_exact(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
    check_limits(&m)?;
    Ok(m)
}

/// Tuning for a [`Session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Entries per request, 1 to [`MAX_BATCH`].
    pub batch: u32,
    /// Requests in flight at once.
    pub max_inflight: usize,
    /// How long to wait for an answer before asking again.
    pub timeout_ms: u64,
    /// How many times one request is sent again before the peer is given up on.
    pub max_retries: u32,
    /// How many protocol violations before the session fails.
    pub max_strikes: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            batch: MAX_BATCH,
            max_inflight: 6,
            timeout_ms: 10_000,
            max_retries: 3,
            max_strikes: 3,
        }
    }
}

/// How far the fetching has come, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Entries verified so far in this session.
    pub have: u64,
    /// Entries known to be missing when the peer's frontier arrived (grows if it grows).
    pub want: u64,
    /// Nothing more to fetch from this peer.
    pub done: bool,
}

/// How much of one feed a session may fetch, counted from the start of the feed: a cap set
/// by the caller (a person keeps at most so many entries and bytes of another's feed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The last seq that may be held.
    pub max_seq: u64,
    /// Encoded bytes that may still be added.
    pub bytes: u64,
}

/// Why a session gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncFailure {
    /// The peer stopped answering.
    #[error("the peer did not answer after {0} retries")]
    Unresponsive(u32),
    /// The peer broke the protocol too often.
    #[error("the peer sent invalid data too often (last: {0})")]
    Misbehaving(String),
}

/// What the caller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A verified entry, in feed order: store it.
    Verified(Box<VerifiedEntry>),
    /// The peer asks for entries: answer with [`Session::respond`] (an empty answer is fine).
    Serve {
        /// The feed.
        author: AuthorId,
        /// The first seq.
        from: u64,
        /// How many, at most.
        limit: u32,
    },
    /// The peer holds a different history of `author`: the author signed two entries at one
    /// seq. Syncing that author from this peer stops.
    Fork(Box<ForkEvidence>),
    /// The peer broke the protocol (a strike).
    Misbehaved(String),
    /// Progress changed.
    Progress(Progress),
    /// `author`'s feed reached its [`Budget`]: nothing past `held` is fetched from this peer,
    /// which has it up to `available`.
    Capped {
        /// The feed.
        author: AuthorId,
        /// The last seq taken.
        held: u64,
        /// The peer's head.
        available: u64,
    },
    /// The session gave up; disconnect or penalise the peer.
    Failed(SyncFailure),
}

#[derive(Clone, Copy)]
struct Inflight {
    from: u64,
    limit: u32,
    deadline: u64,
    retries: u32,
}

struct Want {
    /// The next seq to verify.
    next: u64,
    /// The last seq to fetch: the peer's head, or the feed's cap.
    target: u64,
    /// The peer's head.
    available: u64,
    /// The entry before `next` (our head as it grows), for validation and fork evidence.
    prev: Option<VerifiedEntry>,
    /// Whether the peer's copy of `prev` was compared with ours (the first request starts one
    /// entry early to do so; after that the chain links every entry to the last).
    checked: bool,
    /// Requests in flight, by their `from`: consecutive ranges after `next`, so that a long
    /// feed is fetched with several requests under way at once (pipelined).
    inflight: BTreeMap<u64, Inflight>,
    /// Answers to ranges after `next` that came first, signatures verified, waiting for the
    /// ranges before them to be chained (at most `max_inflight` of them).
    /// With each, the withheld payload that cut it short, if one did.
    ahead: BTreeMap<u64, (Inflight, Vec<VerifiedEntry>, Option<String>)>,
    /// The first seq not requested yet.
    asked_to: u64,
}

/// One side of a sync with one peer. See the module docs.
pub struct Session {
    config: Config,
    heads: BTreeMap<AuthorId, Option<VerifiedEntry>>,
    interest: BTreeSet<AuthorId>,
    wants: BTreeMap<AuthorId, Want>,
    /// Feeds fetched (or given up on) in this session: late answers for them are ignored.
    finished: BTreeSet<AuthorId>,
    /// Caps on feeds ([`Session::set_budget`]); a feed without one has none.
    /// Sorted by author (a sorted list, not a map: one map type less keeps the browser bundle
    /// small).
    budgets: Vec<(AuthorId, Budget)>,
    outbox: VecDeque<Message>,
    events: VecDeque<Event>,
    pending_serves: usize,
    strikes: u32,
    progress: Progress,
    /// The progress last reported with an event.
    reported: Progress,
    frontier_deadline: Option<(u64, u32)>,
    failed: bool,
}

impl Session {
    /// A session that holds `held` (the head entry of each feed held) and wants the feeds of
    /// `interest`. It queues its frontier at once.
    pub fn new(
        config: Config,
        held: impl IntoIterator<Item = VerifiedEntry>,
        interest: BTreeSet<AuthorId>,
        now_ms: u64,
    ) -> Session {
        let config = Config {
            batch: config.batch.clamp(1, MAX_BATCH),
            max_inflight: config.max_inflight.max(1),
            ..config
        };
        let mut heads: BTreeMap<AuthorId, Option<VerifiedEntry>> =
            held.into_iter().map(|e| (e.author(), Some(e))).collect();
        for a in &interest {
            heads.entry(*a).or_insert(None);
        }
        let mut s = Session {
            config,
            heads,
            interest,
            wants: BTreeMap::new(),
            finished: BTreeSet::new(),
            budgets: Vec::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            pending_serves: 0,
            strikes: 0,
            progress: Progress::default(),
            reported: Progress::default(),
            frontier_deadline: Some((now_ms + config.timeout_ms, 0)),
            failed: false,
        };
        s.send_frontier(false);
        s
    }

    fn send_frontier(&mut self, reply: bool) {
        let heads = self
            .heads
            .iter()
            .filter_map(|(a, e)| e.as_ref().map(|e| (*a, e.seq())))
            .take(MAX_FRONTIER_AUTHORS)
            .collect();
        self.outbox.push_back(Message::Frontier { heads, reply });
    }

    /// Caps what this session fetches of `author`'s feed (set before the peer's frontier
    /// arrives). Reaching the cap ends the feed's fetching with [`Event::Capped`]: the entries
    /// up to it are kept, nothing after it is asked for.
    pub fn set_budget(&mut self, author: AuthorId, budget: Budget) {
        match self.budgets.binary_search_by_key(&author, |(a, _)| *a) {
            Ok(i) => self.budgets[i].1 = budget,
            Err(i) => self.budgets.insert(i, (author, budget)),
        }
    }

    fn budget(&self, author: &AuthorId) -> Option<usize> {
        self.budgets.binary_search_by_key(author, |(a, _)| *a).ok()
    }

    fn cap(&mut self, author: AuthorId, held: u64, available: u64) {
        self.end_want(author);
        self.emit(Event::Capped {
            author,
            held,
            available,
        });
    }

    /// The next message to send.
    pub fn poll_outbound(&mut self) -> Option<Message> {
        self.outbox.pop_front()
    }

    /// The next event to act on.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] should next be called, if at all.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.failed {
            return None;
        }
        let requests = self
            .wants
            .values()
            .flat_map(|w| w.inflight.values().map(|i| i.deadline));
        requests.chain(self.frontier_deadline.map(|(d, _)| d)).min()
    }

    /// Current progress.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Whether the session gave up.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    fn emit(&mut self, e: Event) {
        // Bounded: the caller drains events after every call. Verified entries are never
        // dropped because at most `max_inflight * batch` arrive per call.
        if self.events.len() < MAX_EVENTS || matches!(e, Event::Verified(_)) {
            self.events.push_back(e);
        }
    }

    fn strike(&mut self, reason: String) {
        self.strikes += 1;
        self.emit(Event::Misbehaved(reason.clone()));
        if self.strikes >= self.config.max_strikes {
            self.fail(SyncFailure::Misbehaving(reason));
        }
    }

    fn fail(&mut self, why: SyncFailure) {
        if !self.failed {
            self.failed = true;
            self.wants.clear();
            self.outbox.clear();
            self.emit(Event::Failed(why));
        }
    }

    fn update_progress(&mut self) {
        self.progress.done = self.frontier_deadline.is_none() && self.wants.is_empty();
        if self.progress != self.reported {
            self.reported = self.progress;
            self.emit(Event::Progress(self.progress));
        }
    }

    /// Feeds a received message (its bytes, as they came off the wire).
    pub fn handle_bytes(&mut self, bytes: &[u8], now_ms: u64) {
        match decode(bytes) {
            Ok(m) => self.handle(m, now_ms),
            Err(e) => {
                if !self.failed {
                    self.strike(e.to_string());
                }
            }
        }
    }

    /// Feeds a received message.
    pub fn handle(&mut self, message: Message, now_ms: u64) {
        if self.failed {
            return;
        }
        if let Err(e) = check_limits(&message) {
            self.strike(e.to_string());
            return;
        }
        match message {
            Message::Frontier { heads, reply } => self.on_frontier(heads, reply, now_ms),
            Message::Request {
                author,
                from,
                limit,
            } => {
                if self.pending_serves >= MAX_PENDING_SERVES {
                    self.strike("too many requests at once".into());
                } else {
                    self.pending_serves += 1;
                    self.emit(Event::Serve {
                        author,
                        from,
                        limit: limit.min(MAX_BATCH),
                    });
                }
            }
            Message::Entries {
                author,
                from,
                entries,
                deletes,
            } => self.on_entries(author, from, entries, deletes, now_ms),
        }
        self.update_progress();
    }

    /// Answers a [`Event::Serve`] with the encoded entries the caller holds (possibly none),
    /// and for each of them held without its payload the delete that removed it.
    pub fn respond(
        &mut self,
        author: AuthorId,
        from: u64,
        entries: Vec<Vec<u8>>,
        deletes: Vec<Vec<u8>>,
    ) {
        self.pending_serves = self.pending_serves.saturating_sub(1);
        if self.failed {
            return;
        }
        let entries = entries.into_iter().take(MAX_BATCH as usize).collect();
        let deletes = deletes.into_iter().take(MAX_BATCH as usize).collect();
        self.outbox.push_back(Message::Entries {
            author,
            from,
            entries,
            deletes,
        });
    }

    fn on_frontier(&mut self, heads: Vec<(AuthorId, u64)>, reply: bool, now_ms: u64) {
        self.frontier_deadline = None;
        if !reply {
            self.send_frontier(true);
        }
        for (author, peer_head) in heads {
            if !self.interest.contains(&author) {
                continue;
            }
            let ours = self
                .heads
                .get(&author)
                .and_then(|e| e.as_ref().map(VerifiedEntry::seq))
                .unwrap_or(0);
            if peer_head <= ours {
                continue;
            }
            if let Some((_, b)) = self.budget(&author).map(|i| self.budgets[i])
                && peer_head > b.max_seq
            {
                // Only up to the cap; past it, the feed ends here for this session.
                if ours >= b.max_seq {
                    if !self.finished.contains(&author) {
                        self.cap(author, ours, peer_head);
                    }
                    continue;
                }
            }
            match self.wants.get_mut(&author) {
                Some(w) => {
                    w.available = w.available.max(peer_head);
                    if peer_head > w.target {
                        // Peer input: a head near u64::MAX must not overflow the count.
                        self.progress.want =
                            self.progress.want.saturating_add(peer_head - w.target);
                        w.target = peer_head;
                    }
                }
                None => {
                    self.progress.want = self.progress.want.saturating_add(peer_head - ours);
                    let prev = self.heads.get(&author).cloned().flatten();
                    self.wants.insert(
                        author,
                        Want {
                            next: ours + 1,
                            target: peer_head,
                            available: peer_head,
                            checked: prev.is_none(),
                            prev,
                            inflight: BTreeMap::new(),
                            ahead: BTreeMap::new(),
                            asked_to: ours + 1,
                        },
                    );
                }
            }
        }
        // A capped feed is fetched only up to its cap.
        for (author, b) in &self.budgets {
            if let Some(w) = self.wants.get_mut(author)
                && w.target > b.max_seq
            {
                self.progress.want = self.progress.want.saturating_sub(w.target - b.max_seq);
                w.target = b.max_seq;
            }
        }
        self.pump(now_ms);
    }

    /// Sends requests, up to `max_inflight` in all: for each feed, its first request alone
    /// (it checks the overlap entry for forks), then consecutive ranges after it.
    fn pump(&mut self, now_ms: u64) {
        let mut inflight: usize = self.wants.values().map(|w| w.inflight.len()).sum();
        let authors: Vec<AuthorId> = self.wants.keys().copied().collect();
        // Round by round, one request per feed, so that one long feed does not take every slot.
        loop {
            let mut sent = false;
            for author in &authors {
                if inflight >= self.config.max_inflight {
                    return;
                }
                if self.request_more(*author, now_ms) {
                    inflight += 1;
                    sent = true;
                }
            }
            if !sent {
                return;
            }
        }
    }

    /// Sends `author`'s next range if it has one to send; `true` if it did.
    fn request_more(&mut self, author: AuthorId, now_ms: u64) -> bool {
        let batch = self.config.batch;
        let Some(w) = self.wants.get(&author) else {
            return false;
        };
        let busy = w.inflight.len() + w.ahead.len();
        if !w.checked {
            // The first request starts at our head (one early) so that a different history
            // shows up as a fork; it asks for at least two entries so that it also advances.
            if busy > 0 {
                return false;
            }
            let from = w.next - 1;
            let limit = (w.target - from + 1).min(u64::from(batch.max(2)));
            self.send_range(author, from, limit, 0, now_ms);
            return true;
        }
        if w.asked_to > w.target || busy >= self.config.max_inflight {
            return false;
        }
        let from = w.asked_to;
        let limit = (w.target - from + 1).min(u64::from(batch));
        self.send_range(author, from, limit, 0, now_ms);
        true
    }

    fn send_range(&mut self, author: AuthorId, from: u64, limit: u64, retries: u32, now_ms: u64) {
        let limit = u32::try_from(limit).unwrap_or(MAX_BATCH).max(1);
        let deadline = now_ms + self.config.timeout_ms;
        let Some(w) = self.wants.get_mut(&author) else {
            return;
        };
        w.asked_to = w.asked_to.max(from.saturating_add(u64::from(limit)));
        w.inflight.insert(
            from,
            Inflight {
                from,
                limit,
                deadline,
                retries,
            },
        );
        self.outbox.push_back(Message::Request {
            author,
            from,
            limit,
        });
    }

    fn on_entries(
        &mut self,
        author: AuthorId,
        from: u64,
        entries: Vec<Vec<u8>>,
        deletes: Vec<Vec<u8>>,
        now_ms: u64,
    ) {
        let Some(w) = self.wants.get_mut(&author) else {
            if !self.finished.contains(&author) {
                self.strike(format!("unsolicited entries of {author:?}"));
            }
            return;
        };
        let Some(inflight) = w.inflight.remove(&from) else {
            // A late duplicate answer to a request sent again: harmless, ignore it.
            return;
        };
        if entries.len() > inflight.limit as usize {
            let msg = format!(
                "{} entries for a request of {}",
                entries.len(),
                inflight.limit
            );
            return self.retry_range(author, inflight, Some(msg), now_ms);
        }
        let mut batch = Vec::with_capacity(entries.len());
        for verdict in validate_detached_all(&entries, now_ms) {
            match verdict {
                Ok(e) if e.author() == author => batch.push(e),
                Ok(e) => {
                    let msg = format!("entry of {:?} in a batch of {author:?}", e.author());
                    return self.retry_range(author, inflight, Some(msg), now_ms);
                }
                Err(e) => {
                    return self.retry_range(author, inflight, Some(e.to_string()), now_ms);
                }
            }
        }
        // The deletes that explain entries served without their payload.
        let mut deleted = Vec::new();
        for verdict in validate_detached_all(&deletes, now_ms) {
            let problem = match verdict {
                Ok(d) if d.author() != author => {
                    format!("a delete of {:?} in a batch of {author:?}", d.author())
                }
                Ok(d) => match d.payload() {
                    Some(Payload::Delete { target }) => {
                        deleted.push(*target);
                        continue;
                    }
                    _ => format!(
                        "entry {} of {author:?} sent as a delete is not one",
                        d.seq()
                    ),
                },
                Err(e) => e.to_string(),
            };
            return self.retry_range(author, inflight, Some(problem), now_ms);
        }
        batch.sort_by_key(VerifiedEntry::seq);
        let Some(w) = self.wants.get_mut(&author) else {
            return;
        };
        // A payload is withheld when an entry comes without it and without the delete that
        // removed it; the entries before it are taken, and the rest is asked for again (a
        // strike each time, as for a forged entry). The overlap entry is compared with the
        // one held here by hash, so it needs no payload.
        let overlap = (!w.checked).then(|| w.next.saturating_sub(1));
        let withheld = batch
            .iter()
            .position(|e| {
                e.payload().is_none()
                    && Some(e.seq()) != overlap
                    && !deleted.contains(&e.entry_ref())
            })
            .map(|i| {
                let seq = batch[i].seq();
                batch.truncate(i);
                format!(
                    "entry {seq} of {author:?} came without its payload and without the \
                     delete that removed it"
                )
            });
        if from > w.next {
            // Ahead of the chain: it waits for the ranges before it.
            w.ahead.insert(from, (inflight, batch, withheld));
            return self.pump(now_ms);
        }
        // Chain this range, then every waiting range it reaches.
        let mut range = Some((inflight, batch, withheld));
        while let Some((inflight, batch, withheld)) = range.take() {
            if !self.chain(author, inflight, batch, withheld, now_ms) {
                return;
            }
            let Some(w) = self.wants.get_mut(&author) else {
                return;
            };
            let next = w.next;
            if let Some(first) = w.ahead.keys().next().copied()
                && first <= next
            {
                range = w.ahead.remove(&first);
            }
        }
        self.finish_or_pump(author, now_ms);
    }

    /// Chains one answered range onto `author`'s feed; `false` when the want ended (a fork, or
    /// the session failed) and nothing more is to be done for it.
    fn chain(
        &mut self,
        author: AuthorId,
        inflight: Inflight,
        batch: Vec<VerifiedEntry>,
        withheld: Option<String>,
        now_ms: u64,
    ) -> bool {
        let mut advanced = false;
        let mut verified = Vec::new();
        let mut problem = None;
        let mut fork = None;
        let mut capped = false;
        let budget = self.budget(&author);
        for e in batch {
            let seq = e.seq();
            let Some(w) = self.wants.get_mut(&author) else {
                break;
            };
            if seq > w.target {
                break; // past the cap (or the peer's head)
            }
            // A peer may answer with any seq, u64::MAX included.
            if seq.checked_add(1) == Some(w.next) && !w.checked {
                // The overlap entry: it must be the one we hold.
                if let Some(held) = &w.prev
                    && e.hash() != held.hash()
                {
                    fork = Some(Box::new(ForkEvidence::pair(held, &e)));
                    break;
                }
                w.checked = true;
                advanced = true;
                continue;
            }
            if seq != w.next {
                continue; // a duplicate, or a gap: asked for again below
            }
            let expect = Expect {
                author,
                prev: w.prev.as_ref().map(VerifiedEntry::as_prev),
            };
            match e.check_chain(&expect) {
                Ok(()) => {
                    if let Some((_, b)) = budget.map(|i| &mut self.budgets[i]) {
                        let len = e.raw().byte_len();
                        if len > b.bytes {
                            capped = true;
                            break;
                        }
                        b.bytes -= len;
                    }
                    w.checked = true;
                    w.next += 1;
                    w.prev = Some(e.clone());
                    verified.push(e);
                    advanced = true;
                }
                Err(err) => {
                    problem = Some(err.to_string());
                    break;
                }
            }
        }
        for e in verified {
            self.progress.have += 1;
            self.heads.insert(author, Some(e.clone()));
            self.emit(Event::Verified(Box::new(e)));
        }
        if let Some(f) = fork {
            self.end_want(author);
            self.emit(Event::Fork(f));
            self.pump(now_ms);
            return false;
        }
        if capped {
            if let Some(w) = self.wants.get(&author) {
                let (held, available) = (w.next - 1, w.available);
                self.cap(author, held, available);
            }
            self.pump(now_ms);
            return false;
        }
        let problem = problem.or(withheld);
        if problem.is_some() || !advanced {
            self.retry_range(author, inflight, problem, now_ms);
            return self.wants.contains_key(&author) && !self.failed;
        }
        // A short answer leaves the rest of its range to ask for again.
        let Some(w) = self.wants.get(&author) else {
            return false;
        };
        let end = inflight.from.saturating_add(u64::from(inflight.limit));
        let next = w.next;
        if next < end && next <= w.target && !w.inflight.contains_key(&next) {
            self.send_range(author, next, end - next, 0, now_ms);
        }
        true
    }

    /// A range that brought nothing usable is asked for again, like a timeout, so a peer that
    /// advertised entries it does not serve is eventually given up on.
    fn retry_range(
        &mut self,
        author: AuthorId,
        inflight: Inflight,
        problem: Option<String>,
        now_ms: u64,
    ) {
        if let Some(p) = problem {
            self.strike(p);
            if self.failed {
                return;
            }
        }
        let Some(w) = self.wants.get(&author) else {
            return;
        };
        if w.next > w.target {
            return self.finish_or_pump(author, now_ms);
        }
        let retries = inflight.retries + 1;
        if retries <= self.config.max_retries {
            // Only the part not chained yet.
            let from = inflight
                .from
                .max(w.next.saturating_sub(u64::from(!w.checked)));
            let end = inflight.from.saturating_add(u64::from(inflight.limit));
            if from < end {
                self.send_range(author, from, end - from, retries, now_ms);
            }
            return self.pump(now_ms);
        }
        let next = w.next;
        self.end_want(author);
        self.strike(format!(
            "peer did not serve {author:?} past seq {}",
            next - 1
        ));
        if !self.failed {
            self.pump(now_ms);
        }
    }

    /// Ends `author`'s want once everything up to the peer's head is chained.
    fn finish_or_pump(&mut self, author: AuthorId, now_ms: u64) {
        if let Some(w) = self.wants.get(&author)
            && w.next > w.target
        {
            let (held, available) = (w.target, w.available);
            if available > held {
                // Stopped by the feed's cap, short of the peer's head.
                self.cap(author, held, available);
            } else {
                self.end_want(author);
            }
        }
        self.pump(now_ms);
    }

    fn end_want(&mut self, author: AuthorId) {
        self.wants.remove(&author);
        self.finished.insert(author);
    }

    /// Handles the passage of time: unanswered requests and frontiers are sent again, and a
    /// peer that stays silent is given up on.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.failed {
            return;
        }
        if let Some((deadline, retries)) = self.frontier_deadline
            && deadline <= now_ms
        {
            if retries >= self.config.max_retries {
                return self.fail(SyncFailure::Unresponsive(retries));
            }
            self.frontier_deadline = Some((now_ms + self.config.timeout_ms, retries + 1));
            self.send_frontier(false);
        }
        let expired: Vec<(AuthorId, Inflight)> = self
            .wants
            .iter()
            .flat_map(|(a, w)| {
                w.inflight
                    .values()
                    .filter(|i| i.deadline <= now_ms)
                    .map(|i| (*a, *i))
            })
            .collect();
        for (author, i) in expired {
            if i.retries >= self.config.max_retries {
                return self.fail(SyncFailure::Unresponsive(i.retries));
            }
            let limit = u64::from(i.limit);
            self.send_range(author, i.from, limit, i.retries + 1, now_ms);
        }
    }
}

#[cfg(test)]
pub(crate) mod sim {
    //! Two peers syncing over a lossy in-memory link, driven with simulated time.

    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::feed::Feed;

    /// One simulated peer: its feeds and its session with the other peer.
    pub(crate) struct Peer {
        pub(crate) feeds: BTreeMap<AuthorId, Feed>,
        pub(crate) session: Session,
        pub(crate) forks: Vec<ForkEvidence>,
        pub(crate) failed: Option<SyncFailure>,
        pub(crate) strikes: u32,
        pub(crate) progress_seen: Vec<Progress>,
        /// Answer requests with the batch reversed (entries out of order).
        pub(crate) reverse: bool,
        /// Answer requests without any payload and without the deletes (a hostile holder).
        pub(crate) withhold: bool,
        /// Feeds that reached their cap: (author, held, available).
        pub(crate) capped: Vec<(AuthorId, u64, u64)>,
    }

    impl Peer {
        pub(crate) fn new(
            feeds: Vec<Feed>,
            interest: BTreeSet<AuthorId>,
            config: Config,
            now: u64,
        ) -> Peer {
            let heads = feeds.iter().filter_map(|f| f.entries().last().cloned());
            let session = Session::new(config, heads, interest, now);
            Peer {
                feeds: feeds.into_iter().map(|f| (f.author(), f)).collect(),
                session,
                forks: Vec::new(),
                failed: None,
                strikes: 0,
                progress_seen: Vec::new(),
                reverse: false,
                withhold: false,
                capped: Vec::new(),
            }
        }

        /// Acts on every event and returns the encoded messages to send.
        pub(crate) fn drain(&mut self, now: u64) -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            loop {
                while let Some(e) = self.session.poll_event() {
                    match e {
                        Event::Verified(v) => {
                            let feed = self
                                .feeds
                                .entry(v.author())
                                .or_insert_with(|| Feed::new(v.author()));
                            feed.insert(&v.encode(), now)
                                .expect("a verified entry joins its feed");
                        }
                        Event::Serve {
                            author,
                            from,
                            limit,
                        } => {
                            let (mut entries, deletes): (Vec<Vec<u8>>, Vec<Vec<u8>>) = self
                                .feeds
                                .get(&author)
                                .map(|f| {
                                    let range = f.range(from, limit as usize);
                                    let deletes = if self.withhold {
                                        Vec::new()
                                    } else {
                                        f.deletes_of(range)
                                    };
                                    let encode = |v: &[VerifiedEntry]| {
                                        v.iter().map(VerifiedEntry::encode).collect()
                                    };
                                    (encode(range), encode(&deletes))
                                })
                                .unwrap_or_default();
                            if self.withhold {
                                entries = entries
                                    .iter()
                                    .map(|b| {
                                        let mut e = crate::reload(b).expect("held");
                                        e.purge_payload();
                                        e.encode()
                                    })
                                    .collect();
                            }
                            if self.reverse {
                                entries.reverse();
                            }
                            self.session.respond(author, from, entries, deletes);
                        }
                        Event::Fork(f) => self.forks.push(*f),
                        Event::Failed(why) => self.failed = Some(why),
                        Event::Misbehaved(_) => self.strikes += 1,
                        Event::Progress(p) => self.progress_seen.push(p),
                        Event::Capped {
                            author,
                            held,
                            available,
                        } => self.capped.push((author, held, available)),
                    }
                }
                let Some(m) = self.session.poll_outbound() else {
                    break;
                };
                out.push(encode(&m).expect("encodable"));
            }
            out
        }
    }

    /// Runs `a` and `b` until both are done (or stuck), dropping each message when `lose()`
    /// says so. Returns the simulated time taken.
    pub(crate) fn run(
        a: &mut Peer,
        b: &mut Peer,
        mut lose: impl FnMut() -> bool,
        mut now: u64,
    ) -> u64 {
        let start = now;
        for _ in 0..100_000 {
            let to_b = a.drain(now);
            let to_a = b.drain(now);
            let idle = to_a.is_empty() && to_b.is_empty();
            for m in to_b {
                if !lose() {
                    b.session.handle_bytes(&m, now);
                }
            }
            for m in to_a {
                if !lose() {
                    a.session.handle_bytes(&m, now);
                }
            }
            if idle {
                let next = [a.session.poll_timeout(), b.session.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                match next {
                    Some(t) => {
                        now = now.max(t);
                        a.session.handle_timeout(now);
                        b.session.handle_timeout(now);
                    }
                    None => break,
                }
            }
            if a.session.progress().done && b.session.progress().done && idle {
                // Both fetched everything; keep serving until the links are quiet.
                let (x, y) = (a.drain(now), b.drain(now));
                if x.is_empty() && y.is_empty() {
                    break;
                }
                for m in x {
                    b.session.handle_bytes(&m, now);
                }
                for m in y {
                    a.session.handle_bytes(&m, now);
                }
            }
        }
        now - start
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use std::collections::BTreeSet;

    use super::sim::{Peer, run};
    use super::*;
    use crate::entry::Payload;
    use crate::feed::Feed;
    use crate::testutil::{NOW, id};

    fn feed(n: u8, len: u64) -> Feed {
        let me = id(n);
        let mut f = Feed::new(me.author());
        for i in 0..len {
            f.append(&me, &Payload::post(format!("{n}:{i}")), NOW + i)
                .expect("append");
        }
        f
    }

    fn prefix(f: &Feed, len: u64) -> Feed {
        let mut p = Feed::new(f.author());
        for e in f.range(1, len as usize) {
            p.insert(&e.encode(), NOW).expect("prefix");
        }
        p
    }

    fn small() -> Config {
        Config {
            batch: 4,
            ..Config::default()
        }
    }

    #[test]
    fn a_follower_catches_up_in_batches_with_progress() {
        let x = feed(1, 10);
        let interest = BTreeSet::from([x.author()]);
        let mut a = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        let mut b = Peer::new(vec![prefix(&x, 3)], interest, small(), NOW);
        run(&mut a, &mut b, || false, NOW);
        assert_eq!(b.feeds[&x.author()], x);
        assert_eq!(
            b.session.progress(),
            Progress {
                have: 7,
                want: 7,
                done: true
            }
        );
        assert!(a.failed.is_none() && b.failed.is_none());
    }

    #[test]
    fn entries_out_of_order_within_a_batch_are_accepted() {
        let x = feed(1, 9);
        let mut a = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        a.reverse = true;
        let mut b = Peer::new(vec![], BTreeSet::from([x.author()]), small(), NOW);
        run(&mut a, &mut b, || false, NOW);
        assert_eq!(b.feeds[&x.author()], x);
    }

    #[test]
    fn one_long_feed_is_fetched_with_several_requests_at_once_answered_in_any_order() {
        let x = feed(1, 40);
        let config = Config {
            batch: 4,
            max_inflight: 4,
            ..Config::default()
        };
        let mut a = Peer::new(vec![x.clone()], BTreeSet::new(), config, NOW);
        let mut b = Peer::new(
            vec![prefix(&x, 1)],
            BTreeSet::from([x.author()]),
            config,
            NOW,
        );
        let requests = |msgs: &[Vec<u8>]| {
            msgs.iter()
                .filter(|m| matches!(decode(m), Ok(Message::Request { .. })))
                .count()
        };
        // Frontiers, then the first request alone (it checks the overlap entry for forks).
        let mut to_a = b.drain(NOW);
        let mut first = Vec::new();
        for _ in 0..4 {
            for m in std::mem::take(&mut to_a) {
                a.session.handle_bytes(&m, NOW);
            }
            for m in a.drain(NOW) {
                b.session.handle_bytes(&m, NOW);
            }
            to_a = b.drain(NOW);
            if requests(&to_a) > 0 {
                first = to_a.clone();
                break;
            }
        }
        assert_eq!(requests(&first), 1, "the first request goes alone");
        for m in std::mem::take(&mut to_a) {
            a.session.handle_bytes(&m, NOW);
        }
        for m in a.drain(NOW) {
            b.session.handle_bytes(&m, NOW);
        }
        // Checked: now four ranges of the same feed are asked for at once.
        let pipelined = b.drain(NOW);
        assert_eq!(
            requests(&pipelined),
            4,
            "max_inflight requests for one feed"
        );
        for m in &pipelined {
            a.session.handle_bytes(m, NOW);
        }
        // Their answers arrive last first; they are held until the ranges before them chain.
        let mut answers = a.drain(NOW);
        answers.reverse();
        for m in answers {
            b.session.handle_bytes(&m, NOW);
        }
        run(&mut a, &mut b, || false, NOW);
        assert_eq!(b.feeds[&x.author()], x);
        assert_eq!(b.session.progress().have, 39);
        assert!(a.failed.is_none() && b.failed.is_none() && b.strikes == 0);
    }

    /// Feed 1 of 10 posts whose post 2 was deleted by entry 11 (outside the first ranges).
    fn feed_with_a_delete() -> Feed {
        let me = id(1);
        let mut f = feed(1, 10);
        let target = f.get(2).expect("post 2").entry_ref();
        f.append(&me, &Payload::Delete { target }, NOW + 10)
            .expect("delete");
        assert!(f.get(2).expect("post 2").payload().is_none());
        f
    }

    #[test]
    fn a_deleted_post_travels_without_its_payload_beside_its_delete() {
        let x = feed_with_a_delete();
        let mut a = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        let mut b = Peer::new(vec![], BTreeSet::from([x.author()]), small(), NOW);
        run(&mut a, &mut b, || false, NOW);
        assert_eq!(b.feeds[&x.author()], x);
        assert!(
            b.feeds[&x.author()]
                .get(2)
                .expect("held")
                .payload()
                .is_none()
        );
        assert_eq!(b.strikes, 0);
        assert!(b.failed.is_none());
    }

    #[test]
    fn a_withheld_payload_is_refused_and_then_fetched_from_an_honest_holder() {
        let x = feed_with_a_delete();
        let interest = BTreeSet::from([x.author()]);
        // The hostile holder serves headers only, and no deletes.
        let mut hostile = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        hostile.withhold = true;
        let mut b = Peer::new(vec![], interest.clone(), small(), NOW);
        run(&mut hostile, &mut b, || false, NOW);
        assert!(
            matches!(&b.failed, Some(SyncFailure::Misbehaving(why)) if why.contains("without its payload")),
            "{:?}",
            b.failed
        );
        assert!(
            b.feeds
                .get(&x.author())
                .is_none_or(|f| f.entries().is_empty()),
            "nothing of a withheld feed is kept"
        );
        // The next holder serves everything.
        let held: Vec<Feed> = b.feeds.values().cloned().collect();
        let mut honest = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        let mut b = Peer::new(held, interest, small(), NOW);
        run(&mut honest, &mut b, || false, NOW);
        assert_eq!(b.feeds[&x.author()], x);
        assert!(b.failed.is_none());
    }

    #[test]
    fn a_payload_withheld_mid_batch_keeps_the_entries_before_it() {
        let x = feed(1, 6);
        let mut b = Peer::new(vec![], BTreeSet::from([x.author()]), small(), NOW);
        b.session.handle(
            Message::Frontier {
                heads: vec![(x.author(), 6)],
                reply: true,
            },
            NOW,
        );
        b.drain(NOW);
        let mut entries: Vec<Vec<u8>> = x.range(1, 4).iter().map(VerifiedEntry::encode).collect();
        let mut blank = x.get(3).expect("entry 3").clone();
        blank.purge_payload();
        entries[2] = blank.encode();
        // A delete proof by someone else, or an entry that is not a delete, explains nothing.
        let other = feed(2, 1).get(1).expect("post").encode();
        b.session.handle(
            Message::Entries {
                author: x.author(),
                from: 1,
                entries: entries.clone(),
                deletes: vec![other],
            },
            NOW,
        );
        b.drain(NOW);
        assert_eq!(b.strikes, 1, "a foreign delete is a strike");
        b.session.handle(
            Message::Entries {
                author: x.author(),
                from: 1,
                entries,
                deletes: vec![],
            },
            NOW,
        );
        let again = b.drain(NOW);
        assert_eq!(b.strikes, 2, "a withheld payload is a strike");
        assert_eq!(
            b.feeds[&x.author()].entries().len(),
            2,
            "entries 1 and 2 are kept"
        );
        assert!(
            again
                .iter()
                .any(|m| matches!(decode(m), Ok(Message::Request { from: 3, .. }))),
            "the withheld entry is asked for again"
        );
    }

    #[test]
    fn a_feed_stops_at_its_entry_cap_and_says_so() {
        let x = feed(1, 40);
        let mut a = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        let mut b = Peer::new(
            vec![prefix(&x, 3)],
            BTreeSet::from([x.author()]),
            small(),
            NOW,
        );
        b.session.set_budget(
            x.author(),
            Budget {
                max_seq: 25,
                bytes: u64::MAX,
            },
        );
        run(&mut a, &mut b, || false, NOW);
        assert_eq!(b.feeds[&x.author()].entries(), &x.entries()[..25]);
        assert_eq!(b.capped, [(x.author(), 25, 40)]);
        assert!(b.failed.is_none() && b.session.progress().done);
        assert_eq!(
            b.session.progress().want,
            22,
            "only what the cap lets in is wanted"
        );
        // A feed already at its cap is not fetched at all, and says so again.
        let mut b2 = Peer::new(
            vec![b.feeds[&x.author()].clone()],
            BTreeSet::from([x.author()]),
            small(),
            NOW,
        );
        b2.session.set_budget(
            x.author(),
            Budget {
                max_seq: 25,
                bytes: u64::MAX,
            },
        );
        let mut a = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        run(&mut a, &mut b2, || false, NOW);
        assert_eq!(b2.capped, [(x.author(), 25, 40)]);
        assert_eq!(b2.session.progress().have, 0);
    }

    #[test]
    fn a_feed_stops_at_its_byte_cap_and_says_so() {
        let x = feed(1, 40);
        let per_entry = x.entries()[5].raw().byte_len();
        let mut a = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        let mut b = Peer::new(vec![], BTreeSet::from([x.author()]), small(), NOW);
        b.session.set_budget(
            x.author(),
            Budget {
                max_seq: u64::MAX,
                bytes: per_entry * 10 + per_entry / 2,
            },
        );
        run(&mut a, &mut b, || false, NOW);
        let held = b.feeds[&x.author()].entries().len() as u64;
        assert!(
            (9..=10).contains(&held),
            "{held} entries in 10.5 entries' bytes"
        );
        assert_eq!(b.capped, [(x.author(), held, 40)]);
        assert!(b.failed.is_none() && b.session.progress().done);
    }

    #[test]
    fn a_peer_holding_another_history_is_reported_as_a_fork() {
        let me = id(1);
        let honest = feed(1, 3);
        let mut evil = prefix(&honest, 2);
        evil.append(&me, &Payload::post("rewritten"), NOW + 50)
            .expect("fork");
        evil.append(&me, &Payload::post("more"), NOW + 60)
            .expect("more");
        let mut a = Peer::new(vec![evil], BTreeSet::new(), small(), NOW);
        let mut b = Peer::new(
            vec![honest.clone()],
            BTreeSet::from([me.author()]),
            small(),
            NOW,
        );
        run(&mut a, &mut b, || false, NOW);
        assert_eq!(b.forks.len(), 1);
        assert!(b.forks[0].verify(NOW));
        assert_eq!(
            b.feeds[&me.author()],
            honest,
            "nothing of the other history was taken"
        );
    }

    #[test]
    fn a_silent_peer_is_given_up_on() {
        let mut b = Peer::new(vec![], BTreeSet::from([id(1).author()]), small(), NOW);
        b.drain(NOW);
        let mut now;
        while let Some(t) = b.session.poll_timeout() {
            now = t;
            b.session.handle_timeout(now);
            b.drain(now);
        }
        assert_eq!(
            b.failed,
            Some(SyncFailure::Unresponsive(small().max_retries))
        );
        // And a request that is never answered, after the frontier came.
        let x = feed(1, 5);
        let mut b = Peer::new(vec![], BTreeSet::from([x.author()]), small(), NOW);
        assert!(matches!(
            b.session.poll_outbound(),
            Some(Message::Frontier { reply: false, .. })
        ));
        b.session.handle(
            Message::Frontier {
                heads: vec![(x.author(), 5)],
                reply: true,
            },
            NOW,
        );
        assert!(matches!(
            b.session.poll_outbound(),
            Some(Message::Request {
                from: 1,
                limit: 4,
                ..
            })
        ));
        let mut now;
        while let Some(t) = b.session.poll_timeout() {
            now = t;
            b.session.handle_timeout(now);
            b.drain(now);
        }
        assert_eq!(
            b.failed,
            Some(SyncFailure::Unresponsive(small().max_retries))
        );
    }

    /// Seqs and heads are peer input: the largest ones are answered like any wrong answer,
    /// never with an overflow (tests run with overflow checks on).
    #[test]
    fn the_largest_seqs_and_heads_from_a_peer_overflow_nothing() {
        let x = id(1);
        let others: Vec<AuthorId> = (2..6).map(|n| id(n).author()).collect();
        let mut interest = BTreeSet::from([x.author()]);
        interest.extend(others.iter().copied());
        let mut b = Peer::new(vec![], interest, small(), NOW);
        b.drain(NOW);
        let mut heads = vec![(x.author(), u64::MAX)];
        heads.extend(others.iter().map(|a| (*a, u64::MAX)));
        b.session
            .handle(Message::Frontier { heads, reply: true }, NOW);
        assert_eq!(b.session.progress().want, u64::MAX, "the count saturates");
        b.drain(NOW);
        // An answer with an entry at seq u64::MAX, signed by the author.
        let payload = crate::testutil::payload_bytes(&Payload::post("far"));
        let far = crate::testutil::craft(
            &x,
            &crate::testutil::header(&x, u64::MAX, Some(crate::Hash([7; 32])), &payload),
            Some(payload),
        );
        b.session.handle(
            Message::Entries {
                author: x.author(),
                from: 1,
                entries: vec![far],
                deletes: vec![],
            },
            NOW,
        );
        // Nothing is taken from it, and the range is asked for again.
        let again = b.drain(NOW);
        assert!(
            b.feeds
                .get(&x.author())
                .is_none_or(|f| f.entries().is_empty())
        );
        assert!(again.iter().any(|m| matches!(
            decode(m),
            Ok(Message::Request { author, from: 1, .. }) if author == x.author()
        )));
    }

    #[test]
    fn garbage_tampering_and_floods_are_strikes_then_failure() {
        let x = feed(1, 5);
        let mut b = Peer::new(vec![], BTreeSet::from([x.author()]), small(), NOW);
        b.session.handle_bytes(b"\x07garbage", NOW);
        b.drain(NOW);
        assert_eq!(b.strikes, 1);
        // Unsolicited entries.
        b.session.handle(
            Message::Entries {
                author: id(9).author(),
                from: 1,
                entries: vec![],
                deletes: vec![],
            },
            NOW,
        );
        b.drain(NOW);
        assert_eq!(b.strikes, 2);
        // A tampered entry in an answer.
        b.session.handle(
            Message::Frontier {
                heads: vec![(x.author(), 5)],
                reply: true,
            },
            NOW,
        );
        b.drain(NOW);
        let mut bytes = x.entries()[0].encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        b.session.handle(
            Message::Entries {
                author: x.author(),
                from: 1,
                entries: vec![bytes],
                deletes: vec![],
            },
            NOW,
        );
        b.drain(NOW);
        assert_eq!(b.strikes, 3);
        assert!(matches!(b.failed, Some(SyncFailure::Misbehaving(_))));
        assert!(b.feeds.is_empty(), "nothing was stored");
        // Further input is ignored once failed.
        b.session.handle(
            Message::Frontier {
                heads: vec![],
                reply: false,
            },
            NOW,
        );
        assert_eq!(b.session.poll_outbound(), None);

        let mut c = Peer::new(vec![x.clone()], BTreeSet::new(), small(), NOW);
        c.session.poll_outbound();
        for _ in 0..MAX_PENDING_SERVES + 1 {
            c.session.handle(
                Message::Request {
                    author: x.author(),
                    from: 1,
                    limit: 4,
                },
                NOW,
            );
        }
        let serves = std::iter::from_fn(|| c.session.poll_event())
            .filter(|e| matches!(e, Event::Serve { .. }))
            .count();
        assert_eq!(
            serves, MAX_PENDING_SERVES,
            "requests beyond the bound are refused"
        );
    }

    #[test]
    fn codec_enforces_limits() {
        let author = id(1).author();
        let ok = Message::Request {
            author,
            from: 1,
            limit: MAX_BATCH,
        };
        assert_eq!(decode(&encode(&ok).expect("encode")), Ok(ok));
        assert!(matches!(
            encode(&Message::Request {
                author,
                from: 1,
                limit: MAX_BATCH + 1
            }),
            Err(CodecError::OverLimit(_))
        ));
        assert!(matches!(
            encode(&Message::Request {
                author,
                from: 0,
                limit: 1
            }),
            Err(CodecError::OverLimit(_))
        ));
        let many = Message::Frontier {
            heads: vec![(author, 1); MAX_FRONTIER_AUTHORS + 1],
            reply: false,
        };
        assert!(matches!(encode(&many), Err(CodecError::OverLimit(_))));
        let big_entry = Message::Entries {
            author,
            from: 1,
            entries: vec![vec![0; MAX_ENTRY_BYTES + 1]],
            deletes: vec![],
        };
        assert!(matches!(encode(&big_entry), Err(CodecError::OverLimit(_))));
        let too_many = Message::Entries {
            author,
            from: 1,
            entries: vec![vec![]; MAX_BATCH as usize + 1],
            deletes: vec![],
        };
        assert!(matches!(encode(&too_many), Err(CodecError::OverLimit(_))));
        assert!(matches!(
            decode(&vec![0; MAX_MESSAGE_BYTES + 1]),
            Err(CodecError::TooLarge(_))
        ));
        assert!(matches!(decode(b"\xff\xff"), Err(CodecError::Malformed(_))));
        // The largest answer every list limit allows (a full batch of the largest entries)
        // still fits the byte limit, so an honest peer never builds one it cannot send.
        let heavy = Message::Entries {
            author,
            from: 1,
            entries: vec![vec![0; MAX_ENTRY_BYTES]; MAX_BATCH as usize],
            deletes: vec![],
        };
        let bytes = encode(&heavy).expect("the largest legal answer encodes");
        assert!(bytes.len() <= MAX_MESSAGE_BYTES);
        assert_eq!(decode(&bytes).expect("and decodes"), heavy);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::sim::{Peer, run};
    use super::*;
    use crate::entry::Payload;
    use crate::feed::Feed;
    use crate::testutil::{NOW, id};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Two peers holding arbitrary prefixes of the same feeds end with the longer prefix of
        /// every feed, identical, whatever the batch size and however many messages are lost.
        #[test]
        fn peers_converge_despite_loss(
            feeds in prop::collection::vec((1u64..24, 0u64..24, 0u64..24), 1..5),
            batch in 1u32..12,
            loss_percent in 0u32..50,
            seed in any::<u64>(),
        ) {
            let mut a_feeds = Vec::new();
            let mut b_feeds = Vec::new();
            let mut truth = Vec::new();
            for (i, (len, a_len, b_len)) in feeds.iter().enumerate() {
                let me = id(i as u8 + 1);
                let mut f = Feed::new(me.author());
                for s in 0..*len {
                    f.append(&me, &Payload::post(format!("{i}/{s}")), NOW + s).expect("append");
                }
                let cut = |n: u64| {
                    let mut p = Feed::new(f.author());
                    for e in f.range(1, n.min(*len) as usize) {
                        p.insert(&e.encode(), NOW).expect("prefix");
                    }
                    p
                };
                if *a_len > 0 { a_feeds.push(cut(*a_len)); }
                if *b_len > 0 { b_feeds.push(cut(*b_len)); }
                truth.push((f.clone(), (*a_len).max(*b_len).min(*len)));
            }
            let interest: BTreeSet<AuthorId> = truth.iter().map(|(f, _)| f.author()).collect();
            let config = Config { batch, max_retries: 60, timeout_ms: 1_000, ..Config::default() };
            let mut a = Peer::new(a_feeds, interest.clone(), config, NOW);
            let mut b = Peer::new(b_feeds, interest, config, NOW);
            let mut rng = seed | 1;
            let lose = move || {
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                (rng % 100) < u64::from(loss_percent)
            };
            run(&mut a, &mut b, lose, NOW);
            prop_assert!(a.failed.is_none() && b.failed.is_none(), "{:?} {:?}", a.failed, b.failed);
            for (f, want) in &truth {
                for p in [&a, &b] {
                    let held = p.feeds.get(&f.author()).map_or(0, Feed::head_seq);
                    prop_assert_eq!(held, *want);
                    if *want > 0 {
                        prop_assert_eq!(p.feeds[&f.author()].entries(), f.range(1, *want as usize));
                    }
                }
            }
        }
    }
}
