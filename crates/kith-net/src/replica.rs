//! The replica: a person's store, served to peers and filled from them.
//!
//! [`Replica`] joins a [`Client`] to a [`Store`]. It answers peers' sync requests from the
//! store ([`Replica::serve`]), fetches what the feeds followed here are missing from a peer
//! with kith-core's sync session ([`Replica::sync_with`]; every entry verified against its
//! author's key and chain before it is written), stores live entries of followed feeds
//! ([`Replica::take_live`]), and announces every feed it holds and follows in the DHT
//! ([`Replica::provide_all`]), so that when an author is offline, followers serve their posts.
//!
//! Store futures are not `Send` (IndexedDB), so a replica runs on the page's event loop, or
//! natively on a tokio `LocalSet`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::{Fuse, FusedFuture, LocalBoxFuture};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};

use kith_core::sync::{
    Budget, Config, Event as SyncEvent, MAX_FRONTIER_AUTHORS, Message, Progress, Session,
};
use kith_core::{AuthorId, ForkEvidence, VerifiedEntry};
use kith_store::{FeedLimits, Store, StoreError};
use libp2p::PeerId;

use crate::{Client, NetError, platform};

/// How many verified entries a sync collects before writing them in one transaction (fewer,
/// larger transactions: each IndexedDB transaction costs a round trip to the storage backend).
pub const WRITE_BATCH: usize = 512;

/// How long a sync request from a peer that has not said whose device it is waits for its
/// identify, while someone is blocked ([`Replica::is_blocked`]).
pub const IDENTIFY_WAIT: Duration = Duration::from_secs(2);

/// Where a sync's time goes, for the backfill benchmark (feature `bench`): milliseconds in
/// the session handling answers (decoding and verifying), and in store writes (from the
/// write's start to its end, overlapping the verification of later answers).
#[cfg(feature = "bench")]
pub mod timing {
    use std::cell::Cell;

    thread_local! {
        static HANDLE_MS: Cell<f64> = const { Cell::new(0.0) };
        static WRITE_MS: Cell<f64> = const { Cell::new(0.0) };
    }

    pub(crate) fn handled(ms: f64) {
        HANDLE_MS.with(|c| c.set(c.get() + ms));
    }

    pub(crate) fn wrote(ms: f64) {
        WRITE_MS.with(|c| c.set(c.get() + ms));
    }

    /// (handling answers, writing) in milliseconds since the thread started.
    pub fn totals() -> (f64, f64) {
        (HANDLE_MS.with(Cell::get), WRITE_MS.with(Cell::get))
    }
}

/// Why a sync did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    /// The network failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The peer broke the protocol or stopped answering.
    #[error("sync with {peer} gave up: {reason}")]
    Failed {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

/// What [`Replica::take_live`] did with a live entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// Stored: it was the next entry of a followed feed.
    Stored,
    /// Not stored: it leaves a gap after `have`; a sync of the feed fills it.
    Gap {
        /// The head held here.
        have: u64,
    },
    /// Already held.
    Held,
    /// A different entry is held at its position: the fork is recorded in the feed's metadata.
    Fork,
    /// Its feed is not followed here (it shares a topic with one that is).
    NotFollowed,
    /// Not stored: the feed is at its cap ([`FeedLimits`]).
    Capped {
        /// The head held here.
        have: u64,
    },
}

/// A feed that reached its cap ([`FeedLimits`]) in a sync or live: what is past `held` is not
/// kept here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capped {
    /// The feed.
    pub author: AuthorId,
    /// The last seq held.
    pub held: u64,
    /// How far the feed is known to go.
    pub available: u64,
    /// The caps applied.
    pub limits: FeedLimits,
}

/// What a feed holding `bytes` may still take under `limits`.
fn budget(limits: FeedLimits, bytes: u64) -> Budget {
    Budget {
        max_seq: limits.entries,
        bytes: limits.bytes.saturating_sub(bytes),
    }
}

/// A store served to peers and filled from them.
pub struct Replica<S> {
    client: Client,
    store: S,
    config: Config,
    /// The person's own feed, which has no cap.
    own: Cell<Option<AuthorId>>,
    /// The caps, as last read from the store's settings.
    limits: Cell<Option<FeedLimits>>,
    /// Feeds that reached their cap in a sync, until [`Replica::take_capped`] (at most
    /// [`MAX_FRONTIER_AUTHORS`]).
    capped: RefCell<Vec<Capped>>,
}

impl<S: Store> Replica<S> {
    /// A replica of `store` on the network through `client`.
    pub fn new(client: Client, store: S) -> Self {
        Replica {
            client,
            store,
            config: Config::default(),
            own: Cell::new(None),
            limits: Cell::new(None),
            capped: RefCell::new(Vec::new()),
        }
    }

    /// Exempts the person's own feed from the caps.
    pub fn set_own(&self, author: AuthorId) {
        self.own.set(Some(author));
    }

    /// Whether `author` is the person's own feed ([`Replica::set_own`]), which has no cap.
    pub fn is_own(&self, author: &AuthorId) -> bool {
        self.own.get() == Some(*author)
    }

    /// The caps on other people's feeds, read afresh from the store's settings.
    pub async fn read_limits(&self) -> Result<FeedLimits, StoreError> {
        let limits = FeedLimits::read(&self.store).await?;
        self.limits.set(Some(limits));
        Ok(limits)
    }

    async fn limits(&self) -> Result<FeedLimits, StoreError> {
        match self.limits.get() {
            Some(l) => Ok(l),
            None => self.read_limits().await,
        }
    }

    /// The feeds that reached their cap in the syncs since the last call.
    pub fn take_capped(&self) -> Vec<Capped> {
        std::mem::take(&mut *self.capped.borrow_mut())
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Answers `peer`'s inbound sync request `id` (an [`Event::SyncRequest`](crate::Event)):
    /// refused unanswered when the peer is a device of someone the person blocked
    /// ([`Replica::is_blocked`]), served from the store otherwise ([`Replica::serve`]).
    /// Returns whether it was refused.
    pub async fn answer(
        &self,
        id: u64,
        peer: PeerId,
        message: Message,
    ) -> Result<bool, ReplicaError> {
        if self.is_blocked(peer).await? {
            self.client.refuse(id).await?;
            return Ok(true);
        }
        self.serve(id, message).await?;
        Ok(false)
    }

    /// Whether `peer` is a device of someone the person blocked (kith-store's
    /// [`people`](kith_store::people) setting, read at each request, so a block in any tab
    /// applies at once). A peer's person is known from its device claim in identify, which
    /// may arrive just after its first request: while anyone is blocked, an unidentified peer
    /// is waited for up to [`IDENTIFY_WAIT`]. A peer that never names a person is served:
    /// block keeps a person's own devices away, not a stranger's key (the feed is public to
    /// every holder anyway).
    pub async fn is_blocked(&self, peer: PeerId) -> Result<bool, ReplicaError> {
        let people = kith_store::people::read(&self.store)
            .await
            .map_err(|e| ReplicaError::Store(StoreError::Backend(e.to_string())))?;
        if !people.iter().any(|(_, s)| s == kith_store::Stance::Blocked) {
            return Ok(false);
        }
        let waited = web_time::Instant::now();
        loop {
            if let Some(person) = self.client.person_behind(peer).await? {
                return Ok(people.is_blocked(&person));
            }
            if waited.elapsed() >= IDENTIFY_WAIT {
                return Ok(false);
            }
            platform::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Answers one inbound sync request (an [`Event::SyncRequest`](crate::Event)) from the store.
    pub async fn serve(&self, id: u64, message: Message) -> Result<(), ReplicaError> {
        let answer = match message {
            Message::Frontier { .. } => {
                let mut heads = self.store.frontier().await?;
                heads.truncate(MAX_FRONTIER_AUTHORS);
                Message::Frontier { heads, reply: true }
            }
            Message::Request {
                author,
                from,
                limit,
            } => {
                let entries = self.store.range(&author, from, limit as usize).await?;
                // An entry held without its payload travels with the delete that removed it.
                let deletes = self.store.deletes_of(&entries).await?;
                Message::Entries {
                    author,
                    from,
                    entries: entries.iter().map(VerifiedEntry::encode).collect(),
                    deletes: deletes.iter().map(VerifiedEntry::encode).collect(),
                }
            }
            // Not a request; an empty answer keeps the exchange well-formed.
            Message::Entries { author, from, .. } => Message::Entries {
                author,
                from,
                entries: Vec::new(),
                deletes: Vec::new(),
            },
        };
        Ok(self.client.respond(id, answer).await?)
    }

    /// The head entry of every feed held, the feeds followed, and what each feed held may
    /// still take under the caps.
    async fn followed(
        &self,
    ) -> Result<
        (
            Vec<VerifiedEntry>,
            BTreeSet<AuthorId>,
            Vec<(AuthorId, Budget)>,
        ),
        StoreError,
    > {
        let limits = self.read_limits().await?;
        let mut heads = Vec::new();
        let mut interest = BTreeSet::new();
        let mut budgets = Vec::new();
        for m in self.store.feeds().await? {
            if m.followed {
                interest.insert(m.author);
            }
            if Some(m.author) != self.own.get() {
                budgets.push((m.author, budget(limits, m.bytes)));
            }
            if m.head.is_some()
                && let Some(e) = self.store.range(&m.author, m.head_seq(), 1).await?.pop()
            {
                heads.push(e);
            }
        }
        Ok((heads, interest, budgets))
    }

    /// Fetches from `peer` everything it holds beyond this store of the feeds followed here.
    /// `progress` is called as it goes (for a progress bar).
    pub async fn sync_with(
        &self,
        peer: PeerId,
        progress: impl Fn(Progress),
    ) -> Result<Progress, ReplicaError> {
        self.sync_with_also(peer, None, progress).await
    }

    /// [`Replica::sync_with`], also fetching `also`'s feed when it is not followed here (to
    /// show a profile before following it; later live entries of that feed are not kept).
    pub async fn sync_with_also(
        &self,
        peer: PeerId,
        also: Option<AuthorId>,
        progress: impl Fn(Progress),
    ) -> Result<Progress, ReplicaError> {
        let (heads, mut interest, budgets) = self.followed().await?;
        interest.extend(also);
        let limits = self.limits().await?;
        let mut session = Session::new(self.config, heads, interest.clone(), crate::now_ms());
        // A feed not held at all yet (a preview, a new follow) starts with the whole budget;
        // a held one with what its bytes leave (set after, so it wins).
        for author in &interest {
            if Some(*author) != self.own.get() {
                session.set_budget(*author, budget(limits, 0));
            }
        }
        for (author, b) in budgets {
            session.set_budget(author, b);
        }
        // Requests under way, answered in any order (the session keeps at most
        // `max_inflight`); verified entries wait here and are written in large batches, one
        // write at a time (each must chain onto the last), while the next answers are verified.
        let mut answers = FuturesUnordered::new();
        let mut verified: Vec<VerifiedEntry> = Vec::new();
        let mut writing: Fuse<LocalBoxFuture<'_, Result<(), ReplicaError>>> = Fuse::terminated();
        let outcome = loop {
            let mut failed = None;
            while let Some(event) = session.poll_event() {
                match event {
                    SyncEvent::Verified(e) => verified.push(*e),
                    SyncEvent::Fork(evidence) => {
                        let evidence = *evidence;
                        let author = evidence.author;
                        self.store
                            .update_meta(&author, &|m| m.fork = Some(evidence.clone()))
                            .await?;
                    }
                    SyncEvent::Progress(p) => progress(p),
                    SyncEvent::Capped {
                        author,
                        held,
                        available,
                    } => {
                        // Bounded: drained by the agent after each sync; a caller that never
                        // drains it keeps at most a frontier's worth.
                        let mut capped = self.capped.borrow_mut();
                        if capped.len() < MAX_FRONTIER_AUTHORS {
                            capped.push(Capped {
                                author,
                                held,
                                available,
                                limits,
                            });
                        }
                    }
                    SyncEvent::Failed(why) => failed = Some(why.to_string()),
                    // In this request-response mapping the peer's requests arrive as
                    // `Event::SyncRequest`, never through the requester's session.
                    SyncEvent::Serve { .. } | SyncEvent::Misbehaved(_) => {}
                }
            }
            if failed.is_some() || session.is_failed() {
                // A peer that breaks the protocol or goes silent is cut off.
                let _ = self.client.disconnect(peer).await;
                let reason = failed.unwrap_or_else(|| "the peer broke the sync protocol".into());
                break Err(ReplicaError::Failed { peer, reason });
            }
            if writing.is_terminated() && verified.len() >= WRITE_BATCH {
                writing = self
                    .write(std::mem::take(&mut verified))
                    .boxed_local()
                    .fuse();
            }
            if session.progress().done {
                break Ok(session.progress());
            }
            while let Some(message) = session.poll_outbound() {
                // We asked first; our frontier travelled with the request.
                if !matches!(message, Message::Frontier { reply: true, .. }) {
                    answers.push(self.client.request(peer, message));
                }
            }
            if answers.is_empty() {
                // Nothing under way: whatever is verified goes in before waiting.
                if !writing.is_terminated() {
                    (&mut writing).await?;
                }
                self.write(std::mem::take(&mut verified)).await?;
                match session.poll_timeout() {
                    Some(at) => {
                        let wait = at.saturating_sub(crate::now_ms());
                        platform::sleep(Duration::from_millis(wait)).await;
                        session.handle_timeout(crate::now_ms());
                    }
                    None => {
                        let reason = "nothing to send and nothing to wait for".to_owned();
                        break Err(ReplicaError::Failed { peer, reason });
                    }
                }
                continue;
            }
            let wait = session
                .poll_timeout()
                .map_or(60_000, |at| at.saturating_sub(crate::now_ms()));
            let mut timeout = Box::pin(platform::sleep(Duration::from_millis(wait)).fuse());
            futures::select! {
                answer = answers.select_next_some() => match answer {
                    Ok(answer) => {
                        #[cfg(feature = "bench")]
                        let started = web_time::Instant::now();
                        session.handle(answer, crate::now_ms());
                        #[cfg(feature = "bench")]
                        timing::handled(started.elapsed().as_secs_f64() * 1000.0);
                    }
                    Err(e) => break Err(e.into()),
                },
                written = writing => written?,
                () = timeout => session.handle_timeout(crate::now_ms()),
            }
        };
        // What was verified is kept, whatever ended the session.
        if !writing.is_terminated() {
            writing.await?;
        }
        self.write(verified).await?;
        outcome
    }

    /// Writes verified entries in one transaction and marks their feeds as synced now.
    async fn write(&self, batch: Vec<VerifiedEntry>) -> Result<(), ReplicaError> {
        if batch.is_empty() {
            return Ok(());
        }
        #[cfg(feature = "bench")]
        let started = web_time::Instant::now();
        self.store.insert(&batch).await?;
        #[cfg(feature = "bench")]
        timing::wrote(started.elapsed().as_secs_f64() * 1000.0);
        let now = crate::now_ms();
        for author in batch
            .iter()
            .map(VerifiedEntry::author)
            .collect::<BTreeSet<_>>()
        {
            self.store
                .update_meta(&author, &|m| m.last_synced_ms = Some(now))
                .await?;
        }
        Ok(())
    }

    /// Takes a live entry: the one place that decides what a live entry does. It is stored
    /// when its feed is followed here and it is the feed's next entry; see [`Live`] for the
    /// rest. A different entry at a position already held is recorded as fork evidence.
    pub async fn take_live(&self, entry: VerifiedEntry) -> Result<Live, ReplicaError> {
        let author = entry.author();
        let Some(meta) = self.store.feed(&author).await? else {
            return Ok(Live::NotFollowed);
        };
        if !meta.followed {
            return Ok(Live::NotFollowed);
        }
        let (seq, head) = (entry.seq(), meta.head_seq());
        if seq > head + 1 {
            return Ok(Live::Gap { have: head });
        }
        if seq == head + 1
            && Some(author) != self.own.get()
            && !self
                .limits()
                .await?
                .admits(seq, meta.bytes.saturating_add(entry.raw().byte_len()))
        {
            return Ok(Live::Capped { have: head });
        }
        if seq <= head {
            let held = self.store.range(&author, seq, 1).await?.pop();
            return match held {
                Some(h) if h.hash() != entry.hash() => {
                    let evidence = ForkEvidence::pair(&h, &entry);
                    self.store
                        .update_meta(&author, &|m| {
                            m.fork.get_or_insert_with(|| evidence.clone());
                        })
                        .await?;
                    Ok(Live::Fork)
                }
                _ => Ok(Live::Held),
            };
        }
        match self.store.insert(std::slice::from_ref(&entry)).await {
            Ok(()) => Ok(Live::Stored),
            // Stored meanwhile by a sync running beside this (same position, other entry).
            Err(StoreError::Fork { .. }) => Ok(Live::Fork),
            Err(e) => Err(e.into()),
        }
    }

    /// Announces in the DHT every feed this store holds and follows (the person's own feed is
    /// followed). A feed held but not followed, a profile preview or a feed unfollowed, is
    /// not announced: nothing keeps it up to date here.
    pub async fn provide_all(&self) -> Result<usize, ReplicaError> {
        let feeds: Vec<AuthorId> = self
            .store
            .feeds()
            .await?
            .into_iter()
            .filter(|m| m.followed && m.head.is_some())
            .map(|m| m.author)
            .collect();
        for author in &feeds {
            self.client.provide(*author).await?;
        }
        Ok(feeds.len())
    }
}
