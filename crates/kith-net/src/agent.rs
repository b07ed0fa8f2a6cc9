//! The agent: everything a person's node does on its own, on both platforms.
//!
//! [`Agent::run`] keeps the node connected to kith-node (reconnecting with backoff when it
//! goes away), and on every (re)connection reserves a relay slot so peers can reach it,
//! follows its followed feeds live, announces every feed it holds in the DHT, and re-syncs
//! each followed feed from whoever holds it (the author, or a follower found in the DHT).
//! Meanwhile it serves peers' sync requests from the store and stores live entries; a live
//! entry that leaves a gap triggers a sync of that feed. What it does is reported as
//! [`AgentEvent`]s.
//!
//! **One event path, never stalled.** The agent is the only reader of the node's events.
//! Its loop never waits on the network for long: connecting is a future polled beside the
//! events, every sync runs as a task of its own (at most [`MAX_SYNCS`] at once, one per feed,
//! a feed asked for again while it runs is synced once more after), and every sync request
//! is answered in a task of its own (at most
//! [`MAX_PENDING_RESPONSES`](crate::MAX_PENDING_RESPONSES), bounded by the event loop). The
//! event loop itself never waits for the agent (see `event_loop.rs`): live entries the agent
//! cannot take in time are dropped and counted there, and the gap they leave is filled by a
//! sync. A live entry is reported only once it is stored ([`AgentEvent::Stored`]).
//!
//! The node counts as gone when its last connection closes, or when it has not answered a
//! ping for [`LIVENESS_TIMEOUT`] (a WebRTC link to a vanished node can stay "open" long after
//! the node is gone). A message on the `retry_now` stream of [`Agent::run_with`] (a "Retry now"
//! button, the browser's `online` event) cuts a backoff wait short.
//!
//! An `Agent` is a cheap handle: clones share the replica, so the app can ask for a sync of
//! one feed ([`Agent::want_sync`], after a follow; it joins the same queue) or publish
//! ([`Agent::publish`]) while [`Agent::run`] goes on. [`AgentNetwork`](crate::AgentNetwork)
//! is the agent seen through kith-app's `Network` seam.
//!
//! It needs a [`Store`], whose futures are not `Send`: run it on the page's event loop, or
//! natively inside a tokio `LocalSet`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{Fuse, LocalBoxFuture};
use futures::{FutureExt, Stream, StreamExt};
use kith_core::{AuthorId, Backoff, VerifiedEntry};
use kith_store::Store;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use crate::direct::Expect;
use crate::nodes::NodeSet;
use crate::notify::Answer;
use crate::replica::{Live, Replica, ReplicaError};
use crate::search::{
    FORWARD_WAIT, Hits, MAX_FORWARD, MAX_HITS, MAX_QUERY_CHARS, MAX_TTL, Query, Searcher,
};
use crate::{Client, Event, NetError, PublishError, platform};
use kith_store::inbox::{OUTBOX_DAYS, Outbox, Received};

/// What the agent reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// Dialing kith-node (1 for the first attempt, counting up while it stays unreachable).
    Connecting {
        /// The attempt number.
        attempt: u32,
    },
    /// Connected to kith-node, relay slot reserved, feeds announced.
    Online {
        /// The kith-node it is online through (the primary, see [`crate::nodes`]).
        node: PeerId,
        /// The address peers reach this node at, through the relay.
        relayed: Multiaddr,
    },
    /// A second kith-node is connected with a relay reservation (`Some`), ready to take over
    /// if the primary goes, or there is none now (`None`).
    Standby {
        /// The standby node, with the address peers reach this node at through it.
        node: Option<(PeerId, Multiaddr)>,
    },
    /// The connection to kith-node is lost; retrying after `retry_in`.
    Offline {
        /// Why.
        reason: String,
        /// When the next attempt is.
        retry_in: Duration,
    },
    /// Connection news from the node, for a status view: [`Event::Connected`],
    /// [`Event::Disconnected`], [`Event::Identified`] and [`Event::Ping`], as the node
    /// reported them.
    Link(Event),
    /// A followed feed was brought up to date from `peer`.
    Synced {
        /// The feed.
        author: AuthorId,
        /// Where from.
        peer: PeerId,
        /// Whose node `peer` is, if it said so in identify ([`Client::persons_of`]).
        person: Option<AuthorId>,
        /// Entries fetched.
        fetched: u64,
        /// Whether it ran over a direct connection (browser to browser).
        direct: bool,
    },
    /// A sync of `author`'s feed is under way (for a progress bar).
    SyncProgress {
        /// The feed.
        author: AuthorId,
        /// Entries fetched so far.
        have: u64,
        /// Entries known to be missing.
        want: u64,
    },
    /// Nobody holding `author`'s feed answered (the author and every provider found).
    Unreachable {
        /// The feed.
        author: AuthorId,
    },
    /// A sync of `author`'s feed could not write to this store (a full disk, a broken
    /// database): not a matter of who holds the feed, so no other holder is tried.
    StoreFailed {
        /// The feed.
        author: AuthorId,
        /// The store's error.
        reason: String,
    },
    /// A feed reached its cap: entries past `held` are not kept here.
    Capped(crate::replica::Capped),
    /// A live entry was stored: it is now held, and a UI may show it.
    Stored {
        /// Its feed.
        author: AuthorId,
        /// Its seq.
        seq: u64,
        /// The entry, as stored (so a UI need not read it back).
        entry: Box<VerifiedEntry>,
    },
    /// A notification arrived, was verified and kept in the inbox.
    Notified {
        /// The notification.
        note: kith_store::Note,
        /// Its entry.
        entry: Box<VerifiedEntry>,
    },
    /// A direct message arrived, was opened and kept.
    Letter(kith_store::dms::Message),
    /// The person's messages to `peer` moved on: delivered, failed, or read (a read receipt
    /// moved their mark).
    LettersChanged {
        /// With whom.
        peer: AuthorId,
    },
    /// A live entry differs from the one held at its position: `author` signed two
    /// histories. The evidence is in the feed's metadata.
    Forked {
        /// The feed.
        author: AuthorId,
        /// The position.
        seq: u64,
    },
}

/// How long kith-node may go without answering a ping before the connection is given up:
/// longer than a ping's wait ([`PING_INTERVAL`](crate::PING_INTERVAL)) and its answer
/// ([`PING_TIMEOUT`](crate::PING_TIMEOUT)) together, so a slow answer that still comes in
/// time is not taken for silence (a ping that gets none closes the connection by itself).
/// It was 12 s, shorter than those 15 s: on a loaded network (1,000 people on one machine,
/// pings answered in 5 to 10 s) people kept failing over from nodes that did answer, and each
/// failover added to the load.
pub const LIVENESS_TIMEOUT: Duration =
    Duration::from_secs(crate::PING_INTERVAL.as_secs() + crate::PING_TIMEOUT.as_secs() + 1);
/// How many syncs run at once.
pub const MAX_SYNCS: usize = 3;
/// How many times in a row the agent reconnects because kith-node's gossip subscriptions did
/// not arrive, before it goes online without live delivery (sync still works).
const GOSSIP_RETRIES: u32 = 3;
/// How often, and how many times, the agent looks for them after connecting (3 s in all).
const GOSSIP_READY_POLL: Duration = Duration::from_millis(100);
const GOSSIP_READY_POLLS: u32 = 30;

/// How long after connecting, and then between tries, a followed feed nobody answered for is
/// synced again, and how many times.
const RESYNC_AFTER: Duration = Duration::from_secs(4);
const RESYNC_TRIES: u32 = 5;

/// How many times a new entry is offered to gossipsub while nobody listening is known yet
/// (right after a (re)connection), and the wait between tries; after that it is left to
/// followers' syncs.
pub const PUBLISH_TRIES: u32 = 10;
/// See [`PUBLISH_TRIES`].
pub const PUBLISH_RETRY: Duration = Duration::from_millis(700);

/// How long a sync candidate (the author or a holder) may take to answer a dial.
pub const CANDIDATE_DIAL_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a sync waits for a direct connection that is on its way before it goes over the
/// relayed circuit instead.
pub const DIRECT_WAIT: Duration = Duration::from_secs(2);
/// A connection attempt (dial, live delivery, reservation, announcements) that takes longer
/// is given up and retried: a step whose answer was lost must not hold the tab offline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the agent checks that kith-node still answers.
const LIVENESS_CHECK: Duration = Duration::from_secs(2);

/// Why going online failed.
enum OnlineError {
    /// kith-node's gossip subscriptions did not arrive: reconnect.
    NoGossip,
    /// Anything else, said for the person.
    Failed(String),
}

impl OnlineError {
    fn reason(&self) -> String {
        match self {
            OnlineError::NoGossip => {
                "kith-node's live-delivery channel did not open; reconnecting".to_owned()
            }
            OnlineError::Failed(r) => r.clone(),
        }
    }
}

impl From<NetError> for OnlineError {
    fn from(e: NetError) -> Self {
        OnlineError::Failed(e.to_string())
    }
}

/// Which feeds are being synced and which wait: at most `max` at once, one sync per feed, and
/// a feed asked for while its sync runs is synced once more after it (entries may have
/// arrived that the running session no longer asks for). Bounded by the feeds asked for,
/// which are the feeds held here.
#[derive(Debug)]
pub struct SyncQueue {
    max: usize,
    running: BTreeSet<AuthorId>,
    again: BTreeSet<AuthorId>,
    waiting: VecDeque<AuthorId>,
}

impl SyncQueue {
    /// An empty queue running at most `max` syncs at once.
    pub fn new(max: usize) -> Self {
        SyncQueue {
            max: max.max(1),
            running: BTreeSet::new(),
            again: BTreeSet::new(),
            waiting: VecDeque::new(),
        }
    }

    /// Asks for a sync of `author`; returns the feeds to start now.
    pub fn want(&mut self, author: AuthorId) -> Vec<AuthorId> {
        if self.running.contains(&author) {
            self.again.insert(author);
        } else if !self.waiting.contains(&author) {
            self.waiting.push_back(author);
        }
        self.start()
    }

    /// `author`'s sync ended; returns the feeds to start now.
    pub fn done(&mut self, author: AuthorId) -> Vec<AuthorId> {
        self.running.remove(&author);
        if self.again.remove(&author) && !self.waiting.contains(&author) {
            self.waiting.push_back(author);
        }
        self.start()
    }

    /// How many syncs are running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    fn start(&mut self) -> Vec<AuthorId> {
        let mut now = Vec::new();
        while self.running.len() < self.max {
            let Some(a) = self.waiting.pop_front() else {
                break;
            };
            self.running.insert(a);
            now.push(a);
        }
        now
    }
}

/// The most feeds [`HeadsSeen`] remembers a head for.
pub const MAX_HEADS_SEEN: usize = 4096;

/// The highest seq of each followed feed seen live (a gossip entry that left a gap, signed by
/// its author, so the feed has at least that many entries): how far a sync must get before it
/// stops asking holders. Bounded by [`MAX_HEADS_SEEN`]; when full, the feed noted longest ago
/// gives way. (A list, not a map: one map type less keeps the browser bundle small.)
#[derive(Debug, Default)]
pub struct HeadsSeen(VecDeque<(AuthorId, u64)>);

impl HeadsSeen {
    /// Notes that `author`'s feed reaches at least `seq`.
    pub fn saw(&mut self, author: AuthorId, seq: u64) {
        match self.0.iter_mut().find(|(a, _)| *a == author) {
            Some((_, known)) => *known = (*known).max(seq),
            None => {
                if self.0.len() >= MAX_HEADS_SEEN {
                    self.0.pop_front();
                }
                self.0.push_back((author, seq));
            }
        }
    }

    /// How far `author`'s feed is known to reach (0 when nothing was seen).
    pub fn expected(&self, author: &AuthorId) -> u64 {
        self.0
            .iter()
            .find(|(a, _)| a == author)
            .map_or(0, |(_, seq)| *seq)
    }

    /// `author`'s feed is held up to `have`: a head seen at or below it is forgotten.
    pub fn reached(&mut self, author: &AuthorId, have: u64) {
        self.0.retain(|(a, seq)| a != author || *seq > have);
    }

    /// How many feeds have a head remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no head is remembered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A person's node at work. See the module docs.
pub struct Agent<S> {
    client: Client,
    replica: Rc<Replica<S>>,
    /// The kith-nodes known, the primary and the standby.
    nodes: Rc<std::cell::RefCell<NodeSet>>,
    /// Syncs asked for by the app ([`Agent::want_sync`]), read by [`Agent::run_with`].
    wants: mpsc::Sender<AuthorId>,
    wants_rx: Rc<std::cell::RefCell<Option<mpsc::Receiver<AuthorId>>>>,
    /// Heads seen live, which a sync must reach before it stops asking holders.
    heads_seen: Rc<std::cell::RefCell<HeadsSeen>>,
    /// The outbox, read from the store at first use; every change is written through.
    outbox: Rc<std::cell::RefCell<Option<Outbox>>>,
    /// Whether a delivery round runs (one at a time).
    delivering: Rc<std::cell::Cell<bool>>,
    /// The person's latest profile entry (sent with notifications), once looked up.
    profile: Rc<std::cell::RefCell<Option<Option<VerifiedEntry>>>>,
    /// What answers search queries from the posts held here (the app's text index).
    searcher: Rc<std::cell::RefCell<Option<Searcher>>>,
    /// Held while a notification is written to the inbox: its index is read, changed and
    /// written back, so two arriving at once must not interleave (one would be lost).
    inbox_lock: Rc<futures::lock::Mutex<()>>,
    /// Counts the queries this node starts (part of their ids).
    queries: Rc<std::cell::Cell<u64>>,
    /// The person's key, which opens the letters sent to them ([`Agent::set_identity`]).
    identity: Rc<std::cell::RefCell<Option<Rc<kith_core::Identity>>>>,
    /// Where [`Agent::run_with`] reports, for work outside its loop (a letter delivered).
    reporter: Rc<std::cell::RefCell<Option<Report>>>,
    /// Images of followed feeds' posts still to fetch, so this device can serve them
    /// (at most [`MAX_IMAGE_WANTS`], the oldest given up first), and whether a task fetches.
    image_wants: Rc<std::cell::RefCell<VecDeque<(AuthorId, u64, u8)>>>,
    fetching_images: Rc<std::cell::Cell<bool>>,
}

impl<S> Clone for Agent<S> {
    fn clone(&self) -> Self {
        Agent {
            client: self.client.clone(),
            replica: self.replica.clone(),
            nodes: self.nodes.clone(),
            wants: self.wants.clone(),
            wants_rx: self.wants_rx.clone(),
            heads_seen: self.heads_seen.clone(),
            outbox: self.outbox.clone(),
            delivering: self.delivering.clone(),
            profile: self.profile.clone(),
            searcher: self.searcher.clone(),
            inbox_lock: self.inbox_lock.clone(),
            queries: self.queries.clone(),
            identity: self.identity.clone(),
            reporter: self.reporter.clone(),
            image_wants: self.image_wants.clone(),
            fetching_images: self.fetching_images.clone(),
        }
    }
}

/// How many syncs asked for by the app may wait for the agent's loop to take them (it takes
/// them at once; more are refused and logged, and the next ask repeats it).
pub const MAX_WANTED: usize = 64;

/// The standby node: a second connection and relay reservation (see [`crate::nodes`]).
enum Standby<'a> {
    /// None; the next candidate is tried from `next_try` while online.
    Idle { next_try: web_time::Instant },
    /// Connecting to `peer` and reserving there.
    Reserving(
        PeerId,
        Fuse<LocalBoxFuture<'a, Result<Multiaddr, OnlineError>>>,
    ),
    /// Up: connected and reserved, last heard from at `last_heard`.
    Up {
        peer: PeerId,
        relayed: Multiaddr,
        last_heard: web_time::Instant,
    },
}

/// How long after a standby failed or went the next candidate is tried.
pub const STANDBY_RETRY: Duration = Duration::from_secs(10);

/// Where the agent is in its connection to kith-node.
enum Phase<'a> {
    /// Going online (dial, reserve, follow, announce).
    Connecting(Fuse<LocalBoxFuture<'a, Result<Multiaddr, OnlineError>>>),
    /// Online since the node was last heard from at `last_heard`.
    Online {
        last_heard: web_time::Instant,
        /// The circuit address through the primary.
        relayed: Multiaddr,
    },
    /// Offline, waiting to try again.
    Waiting(Fuse<LocalBoxFuture<'a, ()>>),
}

/// The shared report callback.
type Report = Rc<dyn Fn(AgentEvent)>;

impl<S: Store + 'static> Agent<S> {
    /// An agent for `client` and `store`, using the kith-node `node` at `node_addrs` (each
    /// ending in `/p2p/<node>`; the first one also serves as the relay address).
    pub fn new(client: Client, store: S, node: PeerId, node_addrs: Vec<Multiaddr>) -> Self {
        let (wants, wants_rx) = mpsc::channel(MAX_WANTED);
        let first = crate::NodePlan {
            peer: node,
            main: node_addrs,
            fallback: Vec::new(),
        };
        Agent {
            wants,
            wants_rx: Rc::new(std::cell::RefCell::new(Some(wants_rx))),
            replica: Rc::new(Replica::new(client.clone(), store)),
            client,
            nodes: Rc::new(std::cell::RefCell::new(NodeSet::new(first))),
            heads_seen: Rc::default(),
            outbox: Rc::default(),
            delivering: Rc::default(),
            profile: Rc::default(),
            searcher: Rc::default(),
            inbox_lock: Rc::default(),
            queries: Rc::default(),
            identity: Rc::default(),
            reporter: Rc::default(),
            image_wants: Rc::default(),
            fetching_images: Rc::default(),
        }
    }

    /// Opens the letters sent to the person with `identity` from now on (until then they are
    /// answered "later").
    pub fn set_identity(&self, identity: Rc<kith_core::Identity>) {
        *self.identity.borrow_mut() = Some(identity);
    }

    /// Delivers what waits in the outboxes now (the app just queued a letter).
    pub fn deliver_now(&self) {
        self.deliver_due();
    }

    /// Keeps the person's message `letter`, sealed as `sealed`, and delivers it (now, and from
    /// the outbox until one of the addressee's devices takes it). The only writer of the
    /// messages in the store is this agent, so a second tab cannot lose one.
    pub async fn send_letter(
        &self,
        letter: &kith_core::Letter,
        sealed: &[u8],
    ) -> Result<(), kith_store::InboxError> {
        {
            let _writing = self.inbox_lock.lock().await;
            kith_store::dms::send(self.replica.store(), letter, sealed, crate::now_ms()).await?;
        }
        self.deliver_due();
        Ok(())
    }

    /// The person read `peer`'s messages up to `up_to_ms`: the read mark moves, and if it
    /// moved, `receipt` (a sealed [`kith_core::Body::Read`] letter with id `id`) goes to them.
    pub async fn read_letters(
        &self,
        peer: AuthorId,
        up_to_ms: u64,
        id: kith_core::LetterId,
        receipt: &[u8],
    ) -> Result<(), kith_store::InboxError> {
        {
            let _writing = self.inbox_lock.lock().await;
            let store = self.replica.store();
            if !kith_store::dms::mark_read(store, &peer, up_to_ms).await? {
                return Ok(());
            }
            kith_store::dms::queue_receipt(store, id, peer, receipt, crate::now_ms()).await?;
        }
        self.deliver_due();
        Ok(())
    }

    /// Other kith-nodes to use: a standby while the first is up, and the next to go online
    /// through when it goes (see [`crate::nodes`]).
    pub fn with_other_nodes(self, plans: impl IntoIterator<Item = crate::NodePlan>) -> Self {
        {
            let mut nodes = self.nodes.borrow_mut();
            for plan in plans {
                nodes.add(plan);
            }
        }
        self
    }

    /// Notes that `author`'s feed reaches at least `seq` (a live entry of theirs, verified,
    /// arrived): a sync of it asks holders until it gets that far. The agent calls this for
    /// every live entry that leaves a gap.
    pub fn saw_head(&self, author: AuthorId, seq: u64) {
        self.heads_seen.borrow_mut().saw(author, seq);
    }

    /// Addresses of the first kith-node to dial (all at once) when none of the main ones
    /// answers.
    pub fn with_fallback(self, addrs: Vec<Multiaddr>) -> Self {
        self.nodes.borrow_mut().primary_mut().fallback = addrs;
        self
    }

    /// The replica (and through it, the store).
    pub fn replica(&self) -> Rc<Replica<S>> {
        self.replica.clone()
    }

    /// The node's handle.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The kith-node this agent is online through (or trying to be), the primary.
    pub fn node(&self) -> PeerId {
        self.nodes.borrow().primary().peer
    }

    /// The standby kith-node, when one is up.
    pub fn standby(&self) -> Option<PeerId> {
        self.nodes.borrow().standby().map(|p| p.peer)
    }

    /// Publishes a stored entry live. Right after a (re)connection gossipsub may not yet know
    /// who listens on the topic, so an entry nobody is known to hear is offered again for a
    /// while ([`PUBLISH_TRIES`]); with nobody listening in the end it stays in the store and
    /// followers fetch it at their next sync ([`PublishError::NoPeers`]).
    ///
    /// An entry that concerns other people (a reply, a mention, a reaction, a follow) also
    /// goes into the outbox, and from there to each of them ([`crate::notify`]).
    pub async fn publish(&self, entry: &VerifiedEntry) -> Result<(), NetError> {
        if matches!(entry.payload(), Some(kith_core::Payload::Profile { .. })) {
            *self.profile.borrow_mut() = Some(Some(entry.clone()));
        }
        // Every entry of the person's goes by the outbox's scan mark; one that concerns
        // others also leaves a delivery there.
        self.queue_notes(entry, !kith_core::notify::addressees(entry).is_empty())
            .await;
        let mut tries = 0;
        loop {
            tries += 1;
            match self.client.publish(entry).await {
                // An earlier try went out after all.
                Ok(()) | Err(NetError::Publish(PublishError::Duplicate)) => return Ok(()),
                Err(NetError::Publish(PublishError::NoPeers)) if tries < PUBLISH_TRIES => {
                    tracing::debug!(
                        "no gossip peer for entry {} yet; again in {PUBLISH_RETRY:?}",
                        entry.seq()
                    );
                    platform::sleep(PUBLISH_RETRY).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks for a sync of `author`'s feed (a follow, a profile preview). It runs through the
    /// same queue as the agent's own syncs (at most [`MAX_SYNCS`] at once, one per feed), and
    /// its progress and outcome are reported by [`Agent::run`].
    pub fn want_sync(&self, author: AuthorId) {
        if let Err(e) = self.wants.clone().try_send(author) {
            tracing::warn!("sync of {author} not queued: {e}");
        }
    }

    /// Runs until the node's event stream ends. See the module docs.
    pub async fn run(self, events: mpsc::Receiver<Event>, report: impl Fn(AgentEvent) + 'static) {
        self.run_with(events, futures::stream::pending(), report)
            .await;
    }

    /// [`Agent::run`], with a stream whose every item ends a reconnect wait early.
    pub async fn run_with(
        self,
        mut events: mpsc::Receiver<Event>,
        retry_now: impl Stream<Item = ()> + Unpin,
        report: impl Fn(AgentEvent) + 'static,
    ) {
        let report: Report = Rc::new(report);
        *self.reporter.borrow_mut() = Some(report.clone());
        let mut retry_now = retry_now.fuse();
        // Taken once: a second run of the same agent gets no app requests.
        let mut wants = match self.wants_rx.borrow_mut().take() {
            Some(rx) => rx.boxed_local(),
            None => futures::stream::pending().boxed_local(),
        }
        .fuse();
        // Each sync task sends one message when it ends; at most MAX_SYNCS run.
        let (done_tx, mut done_rx) = mpsc::channel::<(AuthorId, bool)>(MAX_SYNCS);
        let mut syncs = SyncQueue::new(MAX_SYNCS);
        let mut backoff = Backoff::APP_DEFAULT;
        let mut gossip_misses = 0;
        // Followed feeds nobody answered for while online (everyone reconnecting at once
        // after a node restart): tried again a few times.
        let mut unsynced: BTreeMap<AuthorId, u32> = BTreeMap::new();
        let mut next_resync = web_time::Instant::now();
        let mut tick = Box::pin(platform::sleep(LIVENESS_CHECK).fuse());
        report(AgentEvent::Connecting { attempt: 1 });
        let mut phase = Phase::Connecting(self.connect(gossip_misses < GOSSIP_RETRIES));
        let mut standby = Standby::Idle {
            next_try: web_time::Instant::now(),
        };
        loop {
            enum Step {
                Event(Option<Event>),
                Connected(Result<Multiaddr, OnlineError>),
                Retry,
                Standby(Result<Multiaddr, OnlineError>),
                SyncDone(AuthorId, bool),
                Want(AuthorId),
                Tick,
            }
            let waiting_now = matches!(phase, Phase::Waiting(_));
            let step = {
                let (mut no_connect, mut no_wait) = (Fuse::terminated(), Fuse::terminated());
                let mut no_standby = Fuse::terminated();
                let (mut connecting, mut waiting) = match &mut phase {
                    Phase::Connecting(f) => (f, &mut no_wait),
                    Phase::Waiting(f) => (&mut no_connect, f),
                    Phase::Online { .. } => (&mut no_connect, &mut no_wait),
                };
                let mut reserving = match &mut standby {
                    Standby::Reserving(_, f) => f,
                    _ => &mut no_standby,
                };
                futures::select! {
                    e = events.next() => Step::Event(e),
                    r = connecting => Step::Connected(r),
                    () = waiting => Step::Retry,
                    r = reserving => Step::Standby(r),
                    r = retry_now.next() => match r {
                        Some(()) if waiting_now => Step::Retry,
                        _ => Step::Tick,
                    },
                    d = done_rx.next() => match d {
                        Some((a, ok)) => Step::SyncDone(a, ok),
                        None => Step::Tick,
                    },
                    w = wants.next() => match w {
                        Some(a) => Step::Want(a),
                        None => Step::Tick,
                    },
                    () = tick => Step::Tick,
                }
            };
            // What the agent does on going online through a new connection (`came_online`)
            // or a promoted standby (`promoted`): it announces where it is reached, sends what
            // waited, and looks for a standby; after a new connection every followed feed is
            // synced again too. A promoted standby needs no such sync: it had been a gossip
            // peer all along (kith-node grafts every subscriber into its mesh) and carried
            // every live entry the silent or lost primary did, so nothing was missed. At
            // scale that sync was the bulk of a failover's cost: a node slow to answer
            // turned into ten syncs for each of its people at once, and more slow answers.
            let mut came_online = false;
            let mut promoted = false;
            match step {
                Step::Event(None) => return,
                Step::Event(Some(event)) => {
                    if let Some(reason) = self.standby_news(&event, &mut standby) {
                        tracing::info!("the standby kith-node went: {reason}");
                        report(AgentEvent::Standby { node: None });
                    }
                    let lost = self.on_event(event, &mut phase, &report, &mut syncs, &done_tx);
                    if let Some(reason) = lost.await {
                        promoted = self.primary_lost(
                            reason,
                            &mut phase,
                            &mut standby,
                            &mut backoff,
                            &report,
                        );
                    }
                }
                Step::Connected(Ok(relayed)) => {
                    backoff.reset();
                    gossip_misses = 0;
                    self.nodes.borrow_mut().online();
                    report(AgentEvent::Online {
                        node: self.node(),
                        relayed: relayed.clone(),
                    });
                    phase = Phase::Online {
                        last_heard: web_time::Instant::now(),
                        relayed,
                    };
                    came_online = true;
                }
                Step::Connected(Err(e)) => {
                    if matches!(e, OnlineError::NoGossip) {
                        gossip_misses += 1;
                    }
                    // The next node in turn is tried at once; once every one has failed in
                    // a row, the agent backs off.
                    let retry_in = self.next_node(&mut backoff, NodeSet::failed);
                    report(AgentEvent::Offline {
                        reason: e.reason(),
                        retry_in,
                    });
                    phase = Phase::Waiting(platform::sleep(retry_in).boxed_local().fuse());
                }
                Step::Retry => {
                    report(AgentEvent::Connecting {
                        attempt: backoff.attempt() + 1,
                    });
                    phase = Phase::Connecting(self.connect(gossip_misses < GOSSIP_RETRIES));
                }
                Step::Standby(r) => {
                    let Standby::Reserving(peer, _) = standby else {
                        continue;
                    };
                    let online = matches!(phase, Phase::Online { .. });
                    match r {
                        Ok(relayed) if online && peer != self.node() => {
                            tracing::info!("standby kith-node {peer} is up at {relayed}");
                            self.nodes.borrow_mut().standby_up(&peer);
                            report(AgentEvent::Standby {
                                node: Some((peer, relayed.clone())),
                            });
                            standby = Standby::Up {
                                peer,
                                relayed,
                                last_heard: web_time::Instant::now(),
                            };
                            self.announce_reach(&phase, &standby);
                        }
                        r => {
                            if let Err(e) = r {
                                tracing::info!("standby kith-node {peer}: {}", e.reason());
                            }
                            self.nodes.borrow_mut().standby_failed();
                            standby = Standby::Idle {
                                next_try: web_time::Instant::now() + STANDBY_RETRY,
                            };
                        }
                    }
                }
                Step::Want(author) => {
                    for a in syncs.want(author) {
                        self.spawn_sync(a, &report, &done_tx);
                    }
                }
                Step::SyncDone(author, ok) => {
                    if matches!(phase, Phase::Online { .. }) {
                        if ok {
                            unsynced.remove(&author);
                        } else {
                            *unsynced.entry(author).or_insert(0) += 1;
                        }
                    }
                    for a in syncs.done(author) {
                        self.spawn_sync(a, &report, &done_tx);
                    }
                }
                Step::Tick => {
                    tick = Box::pin(platform::sleep(LIVENESS_CHECK).fuse());
                    let Phase::Online { last_heard, .. } = phase else {
                        continue;
                    };
                    let silent = last_heard.elapsed();
                    if silent > LIVENESS_TIMEOUT {
                        // Silent: close what is left of the connection and go on without it.
                        let _ = self.client.disconnect(self.node()).await;
                        promoted = self.primary_lost(
                            format!(
                                "kith-node stopped answering ({:.1} s silent)",
                                silent.as_secs_f64()
                            ),
                            &mut phase,
                            &mut standby,
                            &mut backoff,
                            &report,
                        );
                    } else {
                        self.tend_standby(&mut standby, &report).await;
                        self.deliver_due();
                        if web_time::Instant::now() >= next_resync {
                            next_resync = web_time::Instant::now() + RESYNC_AFTER;
                            unsynced.retain(|_, tries| *tries <= RESYNC_TRIES);
                            for author in unsynced.keys().copied().collect::<Vec<_>>() {
                                for a in syncs.want(author) {
                                    self.spawn_sync(a, &report, &done_tx);
                                }
                            }
                        }
                    }
                }
            }
            if came_online || promoted {
                self.announce_reach(&phase, &standby);
                // What waited while offline goes now, with what was written meanwhile.
                self.catch_up_outbox().await;
                self.outbox_due_now().await;
                {
                    let _writing = self.inbox_lock.lock().await;
                    if let Err(e) =
                        kith_store::dms::due_now(self.replica.store(), crate::now_ms()).await
                    {
                        tracing::warn!("reading the letters to send: {e}");
                    }
                }
                self.deliver_due();
                // A standby whose gossip subscriptions never arrived here (a lost announcement)
                // may not have been a gossip peer either: then sync as after a new connection.
                let carried =
                    promoted && self.client.gossip_ready(self.node()).await.unwrap_or(false);
                if !carried {
                    unsynced.clear();
                    next_resync = web_time::Instant::now() + RESYNC_AFTER;
                    for author in self.followed().await {
                        for a in syncs.want(author) {
                            self.spawn_sync(a, &report, &done_tx);
                        }
                    }
                }
                if matches!(standby, Standby::Idle { .. }) {
                    standby = self.start_standby();
                }
            }
        }
    }

    /// The primary is gone (`reason`). A standby that is up takes its place at once (returns
    /// `true`: the agent is online through it); otherwise the next node is tried, at once
    /// unless every node has failed in a row.
    fn primary_lost<'a>(
        &'a self,
        reason: String,
        phase: &mut Phase<'a>,
        standby: &mut Standby<'a>,
        backoff: &mut Backoff,
        report: &Report,
    ) -> bool {
        let was = std::mem::replace(
            standby,
            Standby::Idle {
                next_try: web_time::Instant::now(),
            },
        );
        if let Standby::Up { peer, relayed, .. } = was {
            self.nodes.borrow_mut().promote();
            tracing::info!("{reason}: online through the standby kith-node {peer}");
            report(AgentEvent::Standby { node: None });
            report(AgentEvent::Online {
                node: peer,
                relayed: relayed.clone(),
            });
            *phase = Phase::Online {
                last_heard: web_time::Instant::now(),
                relayed,
            };
            return true;
        }
        let retry_in = self.next_node(backoff, NodeSet::lost);
        report(AgentEvent::Offline { reason, retry_in });
        *phase = Phase::Waiting(platform::sleep(retry_in).boxed_local().fuse());
        false
    }

    /// Moves the primary on (`step`: [`NodeSet::failed`] or [`NodeSet::lost`]) and says when
    /// to try the next node: at once, unless every node has failed in a row.
    fn next_node(&self, backoff: &mut Backoff, step: fn(&mut NodeSet)) -> Duration {
        let round_failed = {
            let mut nodes = self.nodes.borrow_mut();
            step(&mut nodes);
            nodes.round_failed()
        };
        if round_failed {
            backoff.next_delay(jitter())
        } else {
            Duration::ZERO
        }
    }

    /// Publishes, in a task of its own, the circuit addresses this node is reached at now
    /// (through the primary and the standby), so peers on other kith-nodes find it
    /// ([`crate::reach`]).
    fn announce_reach(&self, phase: &Phase<'_>, standby: &Standby<'_>) {
        let Phase::Online { relayed, .. } = phase else {
            return;
        };
        let mut addrs = vec![relayed.clone()];
        if let Standby::Up { relayed, .. } = standby {
            addrs.push(relayed.clone());
        }
        let client = self.client.clone();
        platform::spawn_local(async move {
            if let Err(e) = client.announce_reach(&addrs).await {
                tracing::info!("announcing where this node is reached: {e}");
            }
        });
    }

    /// Notes what `event` says about the standby; returns why it is gone, if it is.
    fn standby_news(&self, event: &Event, standby: &mut Standby<'_>) -> Option<String> {
        let Standby::Up {
            peer, last_heard, ..
        } = standby
        else {
            return None;
        };
        match event {
            Event::Connected { peer: p, .. } | Event::Ping { peer: p, .. } if p == peer => {
                *last_heard = web_time::Instant::now();
                None
            }
            Event::Disconnected {
                peer: p,
                remaining: 0,
                ..
            } if p == peer => {
                self.nodes.borrow_mut().standby_failed();
                *standby = Standby::Idle {
                    next_try: web_time::Instant::now() + STANDBY_RETRY,
                };
                Some("its connection closed".to_owned())
            }
            _ => None,
        }
    }

    /// While online: a standby that went silent is let go, and when there is none, the next
    /// candidate is tried once its time comes.
    async fn tend_standby<'a>(&'a self, standby: &mut Standby<'a>, report: &Report) {
        let now = web_time::Instant::now();
        match standby {
            Standby::Up {
                peer, last_heard, ..
            } if last_heard.elapsed() > LIVENESS_TIMEOUT => {
                let peer = *peer;
                let _ = self.client.disconnect(peer).await;
                self.nodes.borrow_mut().standby_failed();
                *standby = Standby::Idle {
                    next_try: now + STANDBY_RETRY,
                };
                tracing::info!("the standby kith-node {peer} stopped answering");
                report(AgentEvent::Standby { node: None });
            }
            Standby::Idle { next_try } if now >= *next_try => *standby = self.start_standby(),
            _ => {}
        }
    }

    /// Starts connecting to the next standby candidate, if another node is known.
    fn start_standby(&self) -> Standby<'_> {
        let candidate = self.nodes.borrow().standby_candidate();
        match candidate {
            Some(plan) => {
                let peer = plan.peer;
                let attempt = self.reserve_standby(plan).fuse();
                let limited = async move {
                    let mut attempt = std::pin::pin!(attempt);
                    let mut limit = std::pin::pin!(platform::sleep(CONNECT_TIMEOUT).fuse());
                    futures::select! {
                        r = attempt => r,
                        () = limit => Err(OnlineError::Failed("no answer in time".to_owned())),
                    }
                };
                Standby::Reserving(peer, limited.boxed_local().fuse())
            }
            None => Standby::Idle {
                next_try: web_time::Instant::now() + STANDBY_RETRY,
            },
        }
    }

    /// A fresh connection to `plan`'s node: its main addresses, then its fallback ones. A
    /// connection left from an earlier attempt can be dead without anyone knowing yet
    /// (WebRTC-direct notices late), and the relay client would send the reservation over it:
    /// each attempt starts from no connection to the node.
    async fn dial_node(&self, plan: &crate::NodePlan) -> Result<crate::Connected, NetError> {
        // An open connection (the DHT's) does: a second one would make the node close both.
        // A silent node's connection was closed before this is asked.
        let dialed = self.client.connect(plan.peer, plan.main.clone()).await;
        tracing::debug!(
            "dialed kith-node {}: {:?}",
            plan.peer,
            dialed.as_ref().map(|c| c.transport)
        );
        match dialed {
            Err(_) if !plan.fallback.is_empty() => {
                self.client.dial(plan.peer, plan.fallback.clone()).await
            }
            other => other,
        }
    }

    /// Connects to `plan`'s node and reserves a relay slot there.
    async fn reserve_standby(&self, plan: crate::NodePlan) -> Result<Multiaddr, OnlineError> {
        self.dial_node(&plan).await?;
        let relay = plan
            .main
            .first()
            .cloned()
            .ok_or_else(|| OnlineError::Failed("no node address".to_owned()))?;
        Ok(self.client.listen_via_relay(relay).await?)
    }

    /// Handles one node event; returns why the node is lost, if it is.
    async fn on_event(
        &self,
        event: Event,
        phase: &mut Phase<'_>,
        report: &Report,
        syncs: &mut SyncQueue,
        done: &mpsc::Sender<(AuthorId, bool)>,
    ) -> Option<String> {
        match event {
            Event::SyncRequest { id, peer, message } => {
                // Answered in a task of its own; the event loop bounds how many wait.
                let replica = self.replica.clone();
                platform::spawn_local(async move {
                    match replica.answer(id, peer, message).await {
                        Ok(true) => tracing::info!("refused a sync request of {peer}: blocked"),
                        Ok(false) => {}
                        Err(e) => tracing::debug!("serving a sync request: {e}"),
                    }
                });
                None
            }
            Event::Query { id, peer, query } => {
                let agent = self.clone();
                platform::spawn_local(async move {
                    let hits = agent.answer(peer, query).await;
                    let _ = agent.client.answer_query(id, hits).await;
                });
                None
            }
            Event::ImageRequest { id, peer, hash } => {
                let agent = self.clone();
                platform::spawn_local(async move {
                    let answer = agent.serve_image(peer, hash).await;
                    let _ = agent.client.answer_image(id, answer).await;
                });
                None
            }
            Event::Note { id, peer, bytes } => {
                // Checked and stored in a task of its own; the event loop bounds how many wait.
                let agent = self.clone();
                let report = report.clone();
                platform::spawn_local(async move {
                    let answer = agent.take_note(peer, &bytes, &*report).await;
                    let _ = agent.client.answer_note(id, answer).await;
                });
                None
            }
            Event::Entry { entry, .. } => {
                let (author, seq) = (entry.author(), entry.seq());
                match self.replica.take_live((*entry).clone()).await {
                    Ok(Live::Stored) => {
                        self.want_images(&entry);
                        report(AgentEvent::Stored { author, seq, entry });
                    }
                    Ok(Live::Gap { .. }) => {
                        self.saw_head(author, seq);
                        for a in syncs.want(author) {
                            self.spawn_sync(a, report, done);
                        }
                    }
                    Ok(Live::Fork) => report(AgentEvent::Forked { author, seq }),
                    Ok(Live::Capped { have }) => {
                        if let Ok(limits) = self.replica.read_limits().await {
                            report(AgentEvent::Capped(crate::replica::Capped {
                                author,
                                held: have,
                                available: seq,
                                limits,
                            }));
                        }
                    }
                    Ok(Live::Held | Live::NotFollowed) => {}
                    Err(e) => tracing::warn!("storing a live entry of {author}: {e}"),
                }
                None
            }
            Event::Disconnected {
                peer, remaining, ..
            } => {
                let lost = peer == self.node() && remaining == 0;
                report(AgentEvent::Link(event));
                (lost && matches!(phase, Phase::Online { .. }))
                    .then(|| "lost the connection to kith-node".to_owned())
            }
            Event::Identified { .. } => {
                report(AgentEvent::Link(event));
                None
            }
            Event::Connected {
                peer,
                transport: crate::TransportKind::WebRtc,
                ..
            } => {
                // A friend connected directly: catch up on their feed over it, which works
                // with kith-node gone and needs no DHT lookup.
                if let Ok(Some(author)) = self
                    .client
                    .persons_of(vec![peer])
                    .await
                    .map(|mut v| v.pop().flatten())
                    && self.followed().await.contains(&author)
                {
                    for a in syncs.want(author) {
                        self.spawn_sync(a, report, done);
                    }
                }
                report(AgentEvent::Link(event));
                None
            }
            Event::Connected { peer, .. } | Event::Ping { peer, .. } => {
                if let Phase::Online { last_heard, .. } = phase
                    && peer == self.node()
                {
                    *last_heard = web_time::Instant::now();
                }
                report(AgentEvent::Link(event));
                None
            }
            Event::PingFailed { .. }
            | Event::RoutingUpdated { .. }
            | Event::InvalidEntry { .. } => None,
        }
    }

    fn spawn_sync(&self, author: AuthorId, report: &Report, done: &mpsc::Sender<(AuthorId, bool)>) {
        let (agent, report, mut done) = (self.clone(), report.clone(), done.clone());
        platform::spawn_local(async move {
            let ok = agent.try_sync(author, &*report).await;
            // Never full: each of at most MAX_SYNCS tasks sends once.
            let _ = done.try_send((author, ok));
        });
    }

    async fn followed(&self) -> BTreeSet<AuthorId> {
        let feeds = self.replica.store().feeds().await.unwrap_or_default();
        feeds
            .into_iter()
            .filter(|m| m.followed)
            .map(|m| m.author)
            .collect()
    }

    fn connect(
        &self,
        insist_on_gossip: bool,
    ) -> Fuse<LocalBoxFuture<'_, Result<Multiaddr, OnlineError>>> {
        let plan = self.nodes.borrow().primary().clone();
        let attempt = self.go_online(plan.clone(), insist_on_gossip).fuse();
        async move {
            let mut attempt = std::pin::pin!(attempt);
            let mut limit = std::pin::pin!(platform::sleep(CONNECT_TIMEOUT).fuse());
            futures::select! {
                r = attempt => r,
                () = limit => {
                    tracing::info!("going online timed out");
                    // Whatever is left of the attempt goes; the next one starts clean.
                    let _ = self.client.disconnect(plan.peer).await;
                    Err(OnlineError::Failed(format!(
                        "going online took longer than {} s",
                        CONNECT_TIMEOUT.as_secs()
                    )))
                }
            }
        }
        .boxed_local()
        .fuse()
    }

    /// Dial, check live delivery, reserve, follow, announce.
    async fn go_online(
        &self,
        plan: crate::NodePlan,
        insist_on_gossip: bool,
    ) -> Result<Multiaddr, OnlineError> {
        let connected = self.dial_node(&plan).await?;
        // kith-node announces its gossip subscriptions once per connection; if that message
        // was lost, nothing published here would leave. Reconnect (a few times) instead.
        // Over WebRTC-direct the stream carrying them can take several negotiation timeouts
        // to open, and a browser's close of such a connection reaches the node late, so
        // reconnecting there does more harm than waiting: it is not insisted on.
        let insist_on_gossip =
            insist_on_gossip && connected.transport != crate::TransportKind::WebRtcDirect;
        let mut gossip = !insist_on_gossip;
        for _ in 0..GOSSIP_READY_POLLS {
            if gossip {
                break;
            }
            if self.client.gossip_ready(plan.peer).await.unwrap_or(false) {
                gossip = true;
                break;
            }
            platform::sleep(GOSSIP_READY_POLL).await;
        }
        if !gossip && insist_on_gossip {
            let _ = self.client.disconnect(plan.peer).await;
            return Err(OnlineError::NoGossip);
        }
        let relay = plan
            .main
            .first()
            .cloned()
            .ok_or_else(|| OnlineError::Failed("no node address".to_owned()))?;
        let relayed = self.client.listen_via_relay(relay).await;
        tracing::debug!("going online: reservation {relayed:?}");
        let relayed = relayed?;
        for author in &self.followed().await {
            let _ = self.client.follow_live(*author).await;
        }
        // Announcing the feeds held, in a task of its own: each announcement waits for its
        // DHT query, and a node that is gone but still in the closest set costs a dial
        // timeout (10 s), which must not hold going online back (it did, when the app started
        // through another node with the first one down). It needs the node in the routing
        // table, which identify brings shortly.
        let replica = self.replica.clone();
        platform::spawn_local(async move {
            for _ in 0..20 {
                if replica.provide_all().await.is_ok() {
                    break;
                }
                platform::sleep(Duration::from_millis(100)).await;
            }
        });
        // Whose device this is, for peers that find it as a holder or claimant: in a task of
        // its own too.
        let client = self.client.clone();
        platform::spawn_local(async move {
            if let Err(e) = client.announce_device().await {
                tracing::info!("announcing this device's claim: {e}");
            }
            // And that it takes its person's notifications.
            if let Err(e) = client.provide_inbox().await {
                tracing::info!("announcing this device's inbox: {e}");
            }
        });
        Ok(relayed)
    }

    /// Brings `author`'s feed up to date from the author or any provider that answers, with
    /// every followed feed that peer holds. `author` need not be followed (a profile preview).
    /// Reports progress and the outcome.
    pub async fn sync_feed(&self, author: AuthorId, report: &dyn Fn(AgentEvent)) {
        self.try_sync(author, report).await;
    }

    /// [`Agent::sync_feed`]; `false` when nobody holding the feed answered with it. A holder
    /// that answers with nothing of a feed held nowhere here does not end the search (a
    /// hostile or stale holder would otherwise hide an offline author from a new follower),
    /// nor does one that has less than was seen live ([`Agent::saw_head`]): the next holders
    /// are asked until the chain reaches it.
    /// Whether `peer` is connected directly, waiting up to [`DIRECT_WAIT`] while that is
    /// still undecided or a direct connection is on its way.
    async fn await_direct(&self, peer: PeerId) -> bool {
        let deadline = web_time::Instant::now() + DIRECT_WAIT;
        loop {
            match self.client.expect_direct(peer).await {
                Ok(Expect::Direct) => return true,
                Ok(Expect::Unknown | Expect::Coming) if web_time::Instant::now() < deadline => {
                    platform::sleep(Duration::from_millis(50)).await;
                }
                _ => return false,
            }
        }
    }

    /// Who may hold `author`'s feed, best first: the author's devices connected here (no
    /// lookup, and they work with kith-node gone); then a node running under the author's own
    /// key (native clients); then the devices and followers that announce the feed in the DHT.
    /// Neither this node nor a kith-node is listed.
    async fn holders_of(&self, author: AuthorId) -> Vec<PeerId> {
        let me = self.client.local_peer_id();
        let mut candidates: Vec<PeerId> = self
            .client
            .connected_devices_of(author)
            .await
            .unwrap_or_default();
        if let Some(p) = crate::identity::peer_id_of(&author)
            && !candidates.contains(&p)
        {
            candidates.push(p);
        }
        match self.client.find_providers(author).await {
            Ok(found) => {
                for p in found {
                    if !candidates.contains(&p) {
                        candidates.push(p);
                    }
                }
            }
            Err(e) => tracing::info!("looking up holders of {author}: {e}"),
        }
        let known_node = |p: &PeerId| self.nodes.borrow().contains(p);
        candidates.retain(|p| *p != me && !known_node(p));
        candidates
    }

    async fn try_sync(&self, author: AuthorId, report: &dyn Fn(AgentEvent)) -> bool {
        let candidates = self.holders_of(author).await;
        tracing::debug!("sync candidates for {author}: {candidates:?}");
        let mut fetched = 0;
        // The holder that brought the most recent entries, and whether it was direct.
        let mut best = None;
        for peer in candidates {
            // A peer connected directly is asked over that connection; any other is reached
            // through a kith-node's relay (the direct connection follows if it can be made).
            let was_direct = match self.reach(peer).await {
                Ok(direct) => direct,
                Err(e) => {
                    tracing::info!("sync of {author}: {peer} unreachable: {e}");
                    continue;
                }
            };
            // Identify over the circuit tells whether a direct connection follows; the sync
            // waits for it a moment, so the feed moves browser to browser rather than through
            // kith-node, and only the direct connection is left to carry it.
            let direct = self.await_direct(peer).await;
            // Only a circuit this sync opened is closed at once. One that was there before may
            // be carrying something else (a gossip subscription made a moment ago is lost with
            // a circuit closed under it: the person followed back and never got the replies);
            // it retires on its own once the direct connection has settled.
            if direct && !was_direct {
                let _ = self.client.prefer_direct(peer).await;
            }
            let progress = |p: kith_core::sync::Progress| {
                report(AgentEvent::SyncProgress {
                    author,
                    have: p.have,
                    want: p.want,
                });
            };
            let mut retried = false;
            let outcome = loop {
                let r = self
                    .replica
                    .sync_with_also(peer, Some(author), &progress)
                    .await;
                // A request sent over a circuit that was closing (a direct connection had
                // just replaced it) fails with it: asked once more, over the direct one.
                if matches!(r, Err(ReplicaError::Net(_)))
                    && !retried
                    && self.client.is_direct(peer).await.unwrap_or(false)
                {
                    retried = true;
                    continue;
                }
                break r;
            };
            let mut at_cap = false;
            for capped in self.replica.take_capped() {
                at_cap |= capped.author == author;
                report(AgentEvent::Capped(capped));
            }
            match outcome {
                Ok(p) if at_cap => {
                    // As much as this device keeps of the feed: no other holder can add to it.
                    fetched += p.have;
                    best = Some((peer, direct));
                    break;
                }
                Ok(p) => {
                    fetched += p.have;
                    // "I have nothing" from one holder must not hide a feed another holder
                    // has (every feed holds at least its profile): while nothing of it is held
                    // here, the next holder is asked.
                    let have = self.held(author).await;
                    if have == 0 {
                        tracing::info!("sync of {author}: {peer} had nothing of it");
                        continue;
                    }
                    if p.have > 0 || best.is_none() {
                        best = Some((peer, direct));
                    }
                    // Nor does a holder with less than the feed is known to have (a stale or
                    // hostile copy): the next holders are asked until the chain reaches what
                    // was seen live, so the longest valid chain wins.
                    let expected = self.heads_seen.borrow().expected(&author);
                    if have < expected {
                        tracing::info!(
                            "sync of {author}: {peer} had it up to {have}, and {expected} was seen live"
                        );
                        continue;
                    }
                    break;
                }
                Err(ReplicaError::Store(e)) if !e.is_peer_data() => {
                    tracing::warn!("sync of {author}: storing failed: {e}");
                    report(AgentEvent::StoreFailed {
                        author,
                        reason: e.to_string(),
                    });
                    return false;
                }
                Err(e) => tracing::info!("sync of {author} from {peer}: {e}"),
            }
        }
        let Some((peer, direct)) = best else {
            report(AgentEvent::Unreachable { author });
            return false;
        };
        let have = self.held(author).await;
        self.heads_seen.borrow_mut().reached(&author, have);
        let person = match self.client.persons_of(vec![peer]).await {
            Ok(mut v) => v.pop().flatten(),
            Err(_) => None,
        };
        report(AgentEvent::Synced {
            author,
            peer,
            person,
            fetched,
            direct,
        });
        // The images of the latest posts come too, so this device serves them with the feed.
        let from = have.saturating_sub(IMAGES_OF_LATEST as u64 - 1).max(1);
        if let Ok(latest) = self
            .replica
            .store()
            .range(&author, from, IMAGES_OF_LATEST)
            .await
        {
            for e in &latest {
                self.want_images(e);
            }
        }
        true
    }

    /// Queues the images `entry` names, if its feed is followed here (my own included; what
    /// is held already is not fetched again), and starts the one task that fetches them, one at a time. An image
    /// that cannot be had now is left to the screens that show it.
    fn want_images(&self, entry: &VerifiedEntry) {
        let images = entry
            .payload()
            .map(kith_core::Payload::images)
            .unwrap_or_default();
        // My own feed too: pictures posted on another device of mine come to this one.
        if images.is_empty() {
            return;
        }
        {
            let mut wants = self.image_wants.borrow_mut();
            for index in 0..images.len() as u8 {
                let want = (entry.author(), entry.seq(), index);
                if !wants.contains(&want) {
                    wants.push_back(want);
                }
            }
            while wants.len() > MAX_IMAGE_WANTS {
                wants.pop_front();
            }
        }
        if self.fetching_images.replace(true) {
            return;
        }
        let agent = self.clone();
        platform::spawn_local(async move {
            loop {
                let next = agent.image_wants.borrow_mut().pop_front();
                let Some((author, seq, index)) = next else {
                    break;
                };
                if !agent.fetch_ahead(author, seq, index).await {
                    continue;
                }
                if let Err(e) = agent.fetch_image(author, seq, index).await {
                    tracing::debug!("image {index} of {author}/{seq} not fetched now: {e}");
                }
            }
            agent.fetching_images.set(false);
        });
    }

    /// Checks and keeps a notification from `peer` (see [`crate::notify`]): it must verify,
    /// carry its payload, concern this node's person and come from someone not blocked here.
    async fn take_note(&self, peer: PeerId, bytes: &[u8], report: &dyn Fn(AgentEvent)) -> Answer {
        let store = self.replica.store();
        let (bytes, profile) = match crate::notify::decode_delivery(bytes) {
            Ok(crate::notify::Delivery::Note { entry, profile }) => (entry, profile),
            Ok(crate::notify::Delivery::Letter(sealed)) => {
                return self.take_letter(peer, &sealed, report).await;
            }
            Err(e) => {
                tracing::info!("{peer}: {e}");
                return Answer::Refused;
            }
        };
        let entry = match kith_core::validate_detached(&bytes, crate::now_ms()) {
            Ok(e) if e.payload().is_some() => e,
            Ok(e) => {
                tracing::info!(
                    "{peer} sent a notification without its payload ({})",
                    e.seq()
                );
                return Answer::Refused;
            }
            // A sender whose clock is ahead is told to try later (the entry may become valid
            // here), not refused for good.
            Err(e @ kith_core::EntryError::FutureTimestamp { .. }) => {
                tracing::info!("{peer} sent a notification from the future: {e}");
                return Answer::Later;
            }
            Err(e) => {
                tracing::info!("{peer} sent a notification that does not verify: {e}");
                return Answer::Refused;
            }
        };
        let Some(me) = self.client.person() else {
            return Answer::Refused;
        };
        let Some(kind) = kith_core::notify::concerns(&entry, &me) else {
            tracing::info!("{peer} sent a notification that does not concern this person");
            return Answer::Refused;
        };
        match kith_store::people::read(store).await {
            Ok(people) if people.is_blocked(&entry.author()) => {
                tracing::info!("dropped a notification of {}: blocked", entry.author());
                return Answer::Refused;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("reading whom this person blocked: {e}");
                return Answer::Later;
            }
        }
        // The sender's profile names them; one that does not verify, is someone else's or is
        // not a profile is left out (the notification stands without it).
        let profile =
            profile.and_then(
                |b| match kith_core::validate_detached(&b, crate::now_ms()) {
                    Ok(p)
                        if p.author() == entry.author()
                            && matches!(p.payload(), Some(kith_core::Payload::Profile { .. })) =>
                    {
                        Some(p)
                    }
                    _ => {
                        tracing::info!(
                            "{peer} sent a notification with a profile that does not hold"
                        );
                        None
                    }
                },
            );
        let _writing = self.inbox_lock.lock().await;
        match kith_store::inbox::receive(store, &entry, profile.as_ref(), kind, crate::now_ms())
            .await
        {
            Ok(Received::New(note)) => {
                report(AgentEvent::Notified {
                    note,
                    entry: Box::new(entry),
                });
                Answer::Kept
            }
            Ok(Received::Duplicate) => Answer::Had,
            Err(e) => {
                tracing::warn!("keeping a notification: {e}");
                Answer::Later
            }
        }
    }

    /// Opens and keeps a letter from `peer` ([`kith_core::dm`]): it must open with the person's
    /// key (so it is for them, unaltered and from the writer it names), be recent, and come
    /// from someone not blocked here. A repeat is "had".
    async fn take_letter(
        &self,
        peer: PeerId,
        sealed: &[u8],
        report: &dyn Fn(AgentEvent),
    ) -> Answer {
        let Some(identity) = self.identity.borrow().clone() else {
            return Answer::Later;
        };
        let letter = match kith_core::dm::open(&identity, sealed, crate::now_ms()) {
            Ok(l) => l,
            Err(e @ kith_core::DmError::FromTheFuture(_)) => {
                tracing::info!("{peer} sent a letter from the future: {e}");
                return Answer::Later;
            }
            Err(e) => {
                tracing::info!("{peer} sent a letter that is refused: {e}");
                return Answer::Refused;
            }
        };
        let store = self.replica.store();
        match kith_store::people::read(store).await {
            Ok(people) if people.is_blocked(&letter.from) => {
                tracing::info!("dropped a letter of {}: blocked", letter.from);
                return Answer::Refused;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("reading whom this person blocked: {e}");
                return Answer::Later;
            }
        }
        let _writing = self.inbox_lock.lock().await;
        match kith_store::dms::receive(store, &letter).await {
            Ok(kith_store::dms::Taken::Message(m)) => {
                report(AgentEvent::Letter(m));
                Answer::Kept
            }
            Ok(kith_store::dms::Taken::Read) => {
                report(AgentEvent::LettersChanged { peer: letter.from });
                Answer::Kept
            }
            Ok(kith_store::dms::Taken::Had) => Answer::Had,
            Err(e) => {
                tracing::warn!("keeping a letter: {e}");
                Answer::Later
            }
        }
    }

    /// Answers search queries from `searcher` (the app's text index) from now on.
    pub fn set_searcher(&self, searcher: Searcher) {
        *self.searcher.borrow_mut() = Some(searcher);
    }

    /// The posts held here that answer `words` (at most [`MAX_HITS`]).
    fn search_here(&self, words: &str) -> Vec<VerifiedEntry> {
        let searcher = self.searcher.borrow().clone();
        searcher.map_or_else(Vec::new, |s| s(words, MAX_HITS))
    }

    /// Sends `query` to the peers connected here (people's devices: never a kith-node, never
    /// `except`), at most [`MAX_FORWARD`], each answer within `wait`; the verified answers,
    /// each with the peer it came through, without duplicates.
    async fn flood(
        &self,
        query: &Query,
        except: Option<PeerId>,
        wait: Duration,
    ) -> (Vec<(VerifiedEntry, PeerId)>, Vec<VerifiedEntry>) {
        let known_node = |p: &PeerId| self.nodes.borrow().contains(p);
        let peers: Vec<PeerId> = self
            .client
            .connected_peers()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|p| Some(*p) != except && !known_node(p))
            .take(MAX_FORWARD)
            .collect();
        let asks = peers.into_iter().map(|peer| {
            let client = self.client.clone();
            let query = query.clone();
            async move {
                let mut ask = Box::pin(client.query(peer, query).fuse());
                let mut give_up = Box::pin(platform::sleep(wait).fuse());
                let r = futures::select! {
                    r = ask => r.map_err(|e| e.to_string()),
                    () = give_up => Err("no answer in time".to_owned()),
                };
                (peer, r)
            }
        });
        let now = crate::now_ms();
        let mut out: Vec<(VerifiedEntry, PeerId)> = Vec::new();
        let mut profiles: Vec<VerifiedEntry> = Vec::new();
        for (peer, answer) in futures::future::join_all(asks).await {
            let hits = match answer {
                Ok(h) => h,
                Err(e) => {
                    tracing::debug!("search at {peer}: {e}");
                    continue;
                }
            };
            let mut posts: Vec<VerifiedEntry> = Vec::new();
            let mut named: Vec<VerifiedEntry> = Vec::new();
            for bytes in hits.0 {
                match kith_core::validate_detached(&bytes, now) {
                    Ok(e) if crate::search::answers(&e, &query.text) => posts.push(e),
                    Ok(e) if matches!(e.payload(), Some(kith_core::Payload::Profile { .. })) => {
                        named.push(e);
                    }
                    Ok(_) => {
                        tracing::info!("{peer} answered a search with a post that does not match")
                    }
                    Err(err) => tracing::info!(
                        "{peer} answered a search with an entry that does not verify: {err}"
                    ),
                }
            }
            // A profile counts only for the author of a post in the same answer.
            for p in named {
                if crate::search::names(&p, &posts)
                    && !profiles.iter().any(|o| o.author() == p.author())
                {
                    profiles.push(p);
                }
            }
            for e in posts {
                if !out.iter().any(|(o, _)| o.hash() == e.hash()) {
                    out.push((e, peer));
                }
            }
        }
        (out, profiles)
    }

    /// Answers `query` from `peer`: the posts held here, and with hops left what the peers
    /// connected here answer (asked with one hop less), at most [`MAX_HITS`] posts in all,
    /// with the profiles that name their authors.
    async fn answer(&self, peer: PeerId, query: Query) -> Hits {
        let here = self.search_here(&query.text);
        let (mut posts, mut profiles): (Vec<VerifiedEntry>, Vec<VerifiedEntry>) = here
            .into_iter()
            .partition(|e| !matches!(e.payload(), Some(kith_core::Payload::Profile { .. })));
        if query.ttl > 1 {
            let next = Query {
                ttl: query.ttl - 1,
                ..query.clone()
            };
            // Each hop waits longer than the hops below it: a deeper answer is not dropped
            // by a parent that gave up first.
            let wait = FORWARD_WAIT * u32::from(next.ttl);
            let (found, named) = self.flood(&next, Some(peer), wait).await;
            for (e, _) in found {
                if !posts.iter().any(|h| h.hash() == e.hash()) {
                    posts.push(e);
                }
            }
            for p in named {
                if !profiles.iter().any(|o| o.author() == p.author()) {
                    profiles.push(p);
                }
            }
        }
        posts.truncate(MAX_HITS);
        profiles.retain(|p| crate::search::names(p, &posts));
        Hits(
            posts
                .iter()
                .chain(profiles.iter())
                .map(VerifiedEntry::encode)
                .collect(),
        )
    }

    /// Searches the network for posts holding every word of `words`: the peers connected here,
    /// and theirs up to `ttl` hops (at most [`MAX_TTL`]). Each hit is verified, once, with the
    /// person whose device it came through, when known; then the profile entries that came
    /// with them (one per author, with no device named), so the app can name the authors.
    pub async fn search(&self, words: &str, ttl: u8) -> Vec<(VerifiedEntry, Option<AuthorId>)> {
        let n = self.queries.get();
        self.queries.set(n + 1);
        let seed = kith_core::Hash::of(&[
            &self.client.local_peer_id().to_bytes(),
            &crate::now_ms().to_be_bytes(),
            &n.to_be_bytes(),
        ]);
        let mut id = [0u8; 16];
        id.copy_from_slice(&seed.0[..16]);
        let query = Query {
            id,
            text: words.chars().take(MAX_QUERY_CHARS).collect(),
            ttl: ttl.clamp(1, MAX_TTL),
        };
        let (found, profiles) = self.flood(&query, None, crate::search::ASK_WAIT).await;
        let peers: Vec<PeerId> = found.iter().map(|(_, p)| *p).collect();
        let persons = self.client.persons_of(peers).await.unwrap_or_default();
        found
            .into_iter()
            .zip(persons.into_iter().chain(std::iter::repeat(None)))
            .map(|((e, _), person)| (e, person))
            .chain(profiles.into_iter().map(|p| (p, None)))
            .collect()
    }

    /// The person's latest profile entry, read from their feed the first time.
    async fn own_profile(&self, me: &AuthorId) -> Option<VerifiedEntry> {
        if let Some(known) = self.profile.borrow().clone() {
            return known;
        }
        let mut latest = None;
        let mut next = 1;
        loop {
            match self
                .replica
                .store()
                .range(me, next, kith_store::MAX_READ)
                .await
            {
                Ok(batch) if !batch.is_empty() => {
                    next = batch.last().map_or(next, |e| e.seq()) + 1;
                    if let Some(p) = batch
                        .into_iter()
                        .rev()
                        .find(|e| matches!(e.payload(), Some(kith_core::Payload::Profile { .. })))
                    {
                        latest = Some(p);
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!("reading the person's profile: {e}");
                    return None;
                }
            }
        }
        self.profile.borrow_mut().get_or_insert(latest).clone()
    }

    /// The outbox, read from the store the first time.
    async fn load_outbox(&self) {
        if self.outbox.borrow().is_some() {
            return;
        }
        let read = match Outbox::read(self.replica.store()).await {
            Ok(o) => o,
            Err(e) => {
                // A damaged outbox is started afresh (its deliveries are lost, and said so).
                tracing::warn!("the outbox could not be read, starting an empty one: {e}");
                Outbox::default()
            }
        };
        let mut slot = self.outbox.borrow_mut();
        if slot.is_none() {
            *slot = Some(read);
        }
    }

    /// Changes the outbox and writes it through.
    async fn change_outbox(&self, change: impl FnOnce(&mut Outbox)) {
        self.load_outbox().await;
        let copy = {
            let mut slot = self.outbox.borrow_mut();
            let outbox = slot.get_or_insert_with(Outbox::default);
            change(outbox);
            outbox.clone()
        };
        if let Err(e) = copy.write(self.replica.store()).await {
            tracing::warn!("writing the outbox: {e}");
        }
    }

    /// Puts `entry`'s notifications in the outbox, due now.
    async fn queue_notes(&self, entry: &VerifiedEntry, deliver: bool) {
        let now = crate::now_ms();
        self.change_outbox(|o| {
            let dropped = o.add(entry, now);
            if dropped > 0 {
                tracing::warn!("the outbox is full: {dropped} older notifications given up");
            }
        })
        .await;
        if deliver {
            self.deliver_due();
        }
    }

    /// Puts in the outbox the notifications of the person's entries it has not seen (made
    /// offline, or in a tab without the node); the first time, starts from the feed's head.
    async fn catch_up_outbox(&self) {
        let Some(me) = self.client.person() else {
            return;
        };
        let head = match self.replica.store().feed(&me).await {
            Ok(m) => m.map_or(0, |m| m.head_seq()),
            Err(e) => {
                tracing::warn!("reading the person's feed for the outbox: {e}");
                return;
            }
        };
        self.load_outbox().await;
        let scanned = self.outbox.borrow().as_ref().and_then(|o| o.scanned);
        let mut missed = Vec::new();
        if let Some(from) = scanned {
            let mut next = from + 1;
            while next <= head {
                match self
                    .replica
                    .store()
                    .range(&me, next, kith_store::MAX_READ)
                    .await
                {
                    Ok(batch) if !batch.is_empty() => {
                        next = batch.last().map_or(head, |e| e.seq()) + 1;
                        missed.extend(
                            batch
                                .into_iter()
                                .filter(|e| !kith_core::notify::addressees(e).is_empty()),
                        );
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!("reading the person's feed for the outbox: {e}");
                        return;
                    }
                }
            }
        }
        if scanned == Some(head) {
            return;
        }
        let now = crate::now_ms();
        self.change_outbox(|o| {
            for e in &missed {
                o.add(e, now);
            }
            o.scanned = Some(head);
        })
        .await;
    }

    /// Makes every waiting delivery due now.
    async fn outbox_due_now(&self) {
        let now = crate::now_ms();
        self.change_outbox(|o| {
            for item in &mut o.items {
                item.next_ms = item.next_ms.min(now);
            }
        })
        .await;
    }

    /// Starts a delivery round if none runs.
    fn deliver_due(&self) {
        if self.delivering.replace(true) {
            return;
        }
        let agent = self.clone();
        platform::spawn_local(async move {
            agent.deliver_round().await;
            agent.delivering.set(false);
        });
    }

    /// Delivers what is due, a person at a time: notifications, then letters.
    async fn deliver_round(&self) {
        self.deliver_notes().await;
        self.deliver_letters().await;
    }

    /// Sends the letters due, a person at a time, each to one of their devices.
    async fn deliver_letters(&self) {
        use kith_store::dms;
        let store = self.replica.store();
        let now = crate::now_ms();
        {
            // The outbox and the lists are written by every step that holds this lock.
            let _writing = self.inbox_lock.lock().await;
            match dms::expire(store, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("{n} letters given up after a week undelivered"),
                Err(e) => tracing::warn!("reading the letters to send: {e}"),
            }
        }
        let due = match dms::outbox(store).await {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!("reading the letters to send: {e}");
                return;
            }
        };
        let mut people: Vec<AuthorId> = Vec::new();
        for p in due.iter().filter(|p| p.next_ms <= now) {
            if !people.contains(&p.to) {
                people.push(p.to);
            }
        }
        for to in people {
            let letters: Vec<&dms::Pending> = due
                .iter()
                .filter(|p| p.to == to && p.next_ms <= now)
                .collect();
            let mut answers: BTreeMap<kith_core::LetterId, Answer> = BTreeMap::new();
            'devices: for peer in self.devices_of_person(to).await {
                if let Err(e) = self.reach(peer).await {
                    tracing::info!("writing to {to}: {peer} unreachable: {e}");
                    continue;
                }
                for p in &letters {
                    let sealed = match dms::sealed(store, &p.id).await {
                        Ok(Some(b)) => b,
                        Ok(None) => {
                            answers.insert(p.id, Answer::Refused);
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!("reading a letter to send: {e}");
                            continue;
                        }
                    };
                    match self
                        .client
                        .notify_bytes(peer, crate::notify::encode_letter(&sealed))
                        .await
                    {
                        Ok(a) => {
                            answers.insert(p.id, a);
                        }
                        Err(e) => {
                            tracing::info!("writing to {to} at {peer}: {e}");
                            continue 'devices;
                        }
                    }
                }
                break;
            }
            let mut moved = false;
            {
                let _writing = self.inbox_lock.lock().await;
                for p in letters {
                    let outcome = match answers.get(&p.id) {
                        Some(Answer::Kept | Answer::Had) => Some(true),
                        Some(Answer::Refused) => Some(false),
                        Some(Answer::Later) | None => None,
                    };
                    moved |= outcome.is_some();
                    let retry = crate::now_ms() + note_retry(p.tries + 1).as_millis() as u64;
                    if let Err(e) = dms::attempted(store, &p.id, outcome, retry).await {
                        tracing::warn!("noting a letter's delivery: {e}");
                    }
                }
            }
            let report = self.reporter.borrow().clone();
            if let (true, Some(report)) = (moved, report) {
                report(AgentEvent::LettersChanged { peer: to });
            }
        }
    }

    /// Sends the notifications due, a person at a time.
    async fn deliver_notes(&self) {
        self.load_outbox().await;
        let now = crate::now_ms();
        let due = {
            let mut slot = self.outbox.borrow_mut();
            let Some(outbox) = slot.as_mut() else {
                return;
            };
            let expired = outbox.expire(now);
            if expired > 0 {
                tracing::info!("{expired} notifications given up after {OUTBOX_DAYS} days");
            }
            outbox.due(now)
        };
        for to in due {
            let outcome = self.deliver_to(to).await;
            let now = crate::now_ms();
            self.change_outbox(|o| {
                o.items.retain_mut(|item| {
                    if item.to != to || item.next_ms > now {
                        return true;
                    }
                    match outcome.get(&item.seq) {
                        Some(a) if a.is_final() => false,
                        _ => {
                            item.tries = item.tries.saturating_add(1);
                            item.next_ms = now + note_retry(item.tries).as_millis() as u64;
                            true
                        }
                    }
                })
            })
            .await;
        }
    }

    /// Sends every due notification for `to` to one of their devices; the answers by seq.
    async fn deliver_to(&self, to: AuthorId) -> BTreeMap<u64, Answer> {
        let mut answers = BTreeMap::new();
        let Some(me) = self.client.person() else {
            return answers;
        };
        let seqs: Vec<u64> = {
            let now = crate::now_ms();
            self.outbox
                .borrow()
                .iter()
                .flat_map(|o| o.items.iter())
                .filter(|i| i.to == to && i.next_ms <= now)
                .map(|i| i.seq)
                .collect()
        };
        let mut entries = Vec::new();
        for seq in seqs {
            match self.replica.store().range(&me, seq, 1).await {
                Ok(mut found)
                    if found
                        .first()
                        .is_some_and(|e| e.seq() == seq && e.payload().is_some()) =>
                {
                    entries.push(found.remove(0));
                }
                // Deleted (or purged) since: nothing to tell.
                Ok(_) => {
                    answers.insert(seq, Answer::Refused);
                }
                Err(e) => tracing::warn!("reading entry {seq} to notify {to}: {e}"),
            }
        }
        if entries.is_empty() {
            return answers;
        }
        let profile = self.own_profile(&me).await;
        let theirs = self.devices_of_person(to).await;
        tracing::debug!(
            "notifying {to}: {} entries, devices {theirs:?}",
            entries.len()
        );
        for peer in theirs {
            if let Err(e) = self.reach(peer).await {
                tracing::info!("notifying {to}: {peer} unreachable: {e}");
                continue;
            }
            let mut reached = false;
            for entry in &entries {
                match self.client.notify(peer, entry, profile.as_ref()).await {
                    Ok(a) => {
                        tracing::debug!("notified {to} of {} at {peer}: {a:?}", entry.seq());
                        reached = true;
                        answers.insert(entry.seq(), a);
                    }
                    Err(e) => tracing::info!("notifying {to} at {peer}: {e}"),
                }
            }
            if reached {
                break;
            }
        }
        answers
    }

    /// `to`'s devices that may take their notifications and letters, at most
    /// [`MAX_INBOX_PEERS`]. Anyone may announce anyone's inbox: only the person's own devices
    /// are kept (whose device each is comes from identify or its claim in the DHT, before any
    /// dial), so announcers that are not theirs cannot fill a round with dial timeouts.
    async fn devices_of_person(&self, to: AuthorId) -> Vec<PeerId> {
        let mut theirs = Vec::new();
        for peer in self.devices_of(to).await {
            if theirs.len() >= MAX_INBOX_PEERS {
                break;
            }
            if matches!(self.client.person_behind(peer).await, Ok(Some(p)) if p == to) {
                theirs.push(peer);
            } else {
                tracing::info!("{peer} announced {to}'s inbox and is not their device");
            }
        }
        theirs
    }

    /// The devices that may take `author`'s notifications: connected ones first, then those
    /// announced in the DHT (every agent announces its person's inbox, a native one under the
    /// person's own key too), at most [`MAX_INBOX_CANDIDATES`].
    async fn devices_of(&self, author: AuthorId) -> Vec<PeerId> {
        let me = self.client.local_peer_id();
        let mut found: Vec<PeerId> = self
            .client
            .connected_devices_of(author)
            .await
            .unwrap_or_default();
        match self.client.find_inbox(author).await {
            Ok(peers) => {
                for p in peers {
                    if !found.contains(&p) {
                        found.push(p);
                    }
                }
            }
            Err(e) => tracing::info!("looking up {author}'s inbox: {e}"),
        }
        let known_node = |p: &PeerId| self.nodes.borrow().contains(p);
        found.retain(|p| *p != me && !known_node(p));
        found.truncate(MAX_INBOX_CANDIDATES);
        found
    }

    /// Connects to `peer` unless it is connected: through the primary's and the standby's
    /// relays, then through the nodes it signed in the DHT. Returns whether it was direct.
    async fn reach(&self, peer: PeerId) -> Result<bool, String> {
        if self.client.is_direct(peer).await.unwrap_or(false) {
            return Ok(true);
        }
        if self
            .client
            .connected_peers()
            .await
            .unwrap_or_default()
            .contains(&peer)
        {
            return Ok(false);
        }
        let (relays, relay_peers): (Vec<Multiaddr>, Vec<PeerId>) = {
            let nodes = self.nodes.borrow();
            std::iter::once(nodes.primary())
                .chain(nodes.standby())
                .filter_map(|p| Some((p.main.first()?.clone(), p.peer)))
                .unzip()
        };
        let mut reached = Err("no relay to reach it through".to_owned());
        if !relays.is_empty() {
            let circuits = relays
                .iter()
                .map(|r| {
                    r.clone()
                        .with(Protocol::P2pCircuit)
                        .with(Protocol::P2p(peer))
                })
                .collect();
            reached = self.dial_within(peer, circuits).await;
        }
        if reached.is_err() {
            // Not reserved on this node's kith-nodes: through its own, as it signed them in
            // the DHT (circuits through the relays just tried are left out).
            let theirs: Vec<Multiaddr> = self
                .client
                .reach_of(peer)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|a| !crate::reach::relay_of(a).is_some_and(|r| relay_peers.contains(&r)))
                .collect();
            if !theirs.is_empty() {
                reached = self.dial_within(peer, theirs).await;
            }
        }
        reached.map(|()| false)
    }

    /// Dials `peer` at `addrs`, giving up after [`CANDIDATE_DIAL_TIMEOUT`]: a holder that just
    /// went away can leave a relay waiting on a dead link.
    async fn dial_within(&self, peer: PeerId, addrs: Vec<Multiaddr>) -> Result<(), String> {
        let mut dial = Box::pin(self.client.dial(peer, addrs).fuse());
        let mut give_up = Box::pin(platform::sleep(CANDIDATE_DIAL_TIMEOUT).fuse());
        futures::select! {
            r = dial => r.map(|_| ()).map_err(|e| e.to_string()),
            () = give_up => Err("no answer in time".to_owned()),
        }
    }

    /// Whether image `index` of `author`/`seq` is fetched ahead: its feed is followed here and
    /// the image fits in what this device keeps of it (kith-store's `FeedLimits`, whose bytes
    /// count the images), so a followed feed cannot fill the browser's storage through the
    /// background fetch. My own feed has no cap. One read of the feed's metadata answers both.
    async fn fetch_ahead(&self, author: AuthorId, seq: u64, index: u8) -> bool {
        let store = self.replica.store();
        let meta = match store.feed(&author).await {
            Ok(Some(meta)) if meta.followed => meta,
            _ => return false,
        };
        if self.replica.is_own(&author) {
            return true;
        }
        let len = match store.range(&author, seq, 1).await {
            Ok(v) => v
                .iter()
                .find(|e| e.seq() == seq)
                .and_then(VerifiedEntry::payload)
                .and_then(|p| p.images().get(usize::from(index)).map(|i| u64::from(i.len))),
            Err(_) => None,
        };
        let (Some(len), Ok(limits)) = (len, self.replica.read_limits().await) else {
            return false;
        };
        let fits = meta.bytes.saturating_add(len) <= limits.bytes;
        if !fits {
            tracing::info!("pictures of {author} are not fetched ahead: its feed is at the cap");
        }
        fits
    }

    /// The answer to `peer`'s request for the image `hash`: from the store (which keeps only
    /// the images of entries held and not deleted), nothing to someone blocked.
    async fn serve_image(&self, peer: PeerId, hash: kith_core::Hash) -> crate::images::Answer {
        use crate::images::Answer;
        match self.replica.is_blocked(peer).await {
            Ok(false) => {}
            Ok(true) => {
                tracing::info!("refused an image to {peer}: blocked");
                return Answer::NotHeld;
            }
            Err(_) => return Answer::Busy,
        }
        match self.replica.store().image(&hash).await {
            Ok(Some(bytes)) => Answer::Here(bytes),
            Ok(None) => Answer::NotHeld,
            Err(e) => {
                tracing::warn!("reading an image to serve: {e}");
                Answer::Busy
            }
        }
    }

    /// The bytes of image `index` of the entry `author`/`seq`, which must be held here: from
    /// the store, or else from the author or a holder of the feed (at most
    /// [`MAX_HOLDERS_ASKED`](crate::images::MAX_HOLDERS_ASKED)), kept once the store has
    /// checked that they are the image the entry names. A peer whose bytes are not is
    /// disconnected, and the next one asked.
    pub async fn fetch_image(
        &self,
        author: AuthorId,
        seq: u64,
        index: u8,
    ) -> Result<Vec<u8>, crate::images::FetchError> {
        use crate::images::{Answer, FetchError, MAX_HOLDERS_ASKED};
        let store = self.replica.store();
        let entry = store
            .range(&author, seq, 1)
            .await
            .map_err(FetchError::Store)?
            .into_iter()
            .find(|e| e.seq() == seq);
        let image = entry
            .as_ref()
            .and_then(VerifiedEntry::payload)
            .and_then(|p| p.images().get(usize::from(index)).copied())
            .ok_or(FetchError::NotNamed)?;
        if let Some(bytes) = store.image(&image.hash).await.map_err(FetchError::Store)? {
            // Held already (for this entry, or another naming the same picture). Not copied
            // to this entry: an entry naming someone else's picture must not keep it here past
            // its author's delete; once the other entry's copy goes, this one is fetched from
            // the holders of its own feed.
            return Ok(bytes);
        }
        let mut asked = 0;
        for peer in self.holders_of(author).await {
            if asked >= MAX_HOLDERS_ASKED {
                break;
            }
            if let Err(e) = self.reach(peer).await {
                tracing::info!("image of {author}/{seq}: {peer} unreachable: {e}");
                continue;
            }
            asked += 1;
            match self.client.fetch_image(peer, image.hash).await {
                Ok(Answer::Here(bytes)) => {
                    // Bytes that are not the picture are the peer's doing: it is dropped.
                    if let Err(e) = kith_core::image::check(&image, &bytes) {
                        tracing::warn!("image of {author}/{seq} from {peer} refused: {e}");
                        let _ = self.client.disconnect(peer).await;
                        continue;
                    }
                    // A refusal now is this store's news (the entry was deleted or forgotten
                    // meanwhile), not the peer's.
                    return match store.put_image(&author, seq, index, &bytes).await {
                        Ok(()) => Ok(bytes),
                        Err(kith_store::StoreError::ImageRefused(_)) => Err(FetchError::NotNamed),
                        Err(e) => Err(FetchError::Store(e)),
                    };
                }
                Ok(Answer::NotHeld | Answer::Busy) => {}
                Err(e) => tracing::info!("image of {author}/{seq} from {peer}: {e}"),
            }
        }
        Err(FetchError::Unavailable { asked })
    }

    /// The head seq of `author`'s feed here, 0 when nothing of it is held.
    async fn held(&self, author: AuthorId) -> u64 {
        match self.replica.store().feed(&author).await {
            Ok(Some(m)) => m.head_seq(),
            _ => 0,
        }
    }
}

/// How many of a feed's latest entries a sync looks at for images to fetch.
pub const IMAGES_OF_LATEST: usize = 20;
/// The most images waiting to be fetched in the background.
pub const MAX_IMAGE_WANTS: usize = 256;

/// How many devices a notification is offered to, at most, per round (of at most
/// [`MAX_INBOX_CANDIDATES`] announcers checked).
pub const MAX_INBOX_PEERS: usize = 8;
/// How many announcers of a person's inbox are checked (whose device each is) per round.
pub const MAX_INBOX_CANDIDATES: usize = 32;

/// When a notification not yet delivered is tried again, after `tries` attempts: 2 s, 4 s,
/// 8 s, … up to 30 s (a person who comes back online gets it within half a minute).
pub fn note_retry(tries: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(tries.min(5)).min(30))
}

/// A number in [0, 1) for backoff jitter, from the platform's clock (no RNG needed).
fn jitter() -> f64 {
    (crate::now_ms() % 1000) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::{HeadsSeen, MAX_HEADS_SEEN, SyncQueue};
    use kith_core::{AuthorId, Identity};

    fn author(n: u8) -> AuthorId {
        Identity::from_secret([n; 32]).author()
    }

    #[test]
    fn at_most_max_run_and_waiting_feeds_start_in_order() {
        let mut q = SyncQueue::new(2);
        assert_eq!(q.want(author(1)), [author(1)]);
        assert_eq!(q.want(author(2)), [author(2)]);
        assert!(q.want(author(3)).is_empty());
        assert!(q.want(author(4)).is_empty());
        assert_eq!(q.running(), 2);
        assert_eq!(q.done(author(2)), [author(3)]);
        assert_eq!(q.done(author(1)), [author(4)]);
        assert!(q.done(author(3)).is_empty());
        assert!(q.done(author(4)).is_empty());
        assert_eq!(q.running(), 0);
    }

    #[test]
    fn a_feed_asked_for_while_it_syncs_is_synced_once_more_after() {
        let mut q = SyncQueue::new(2);
        assert_eq!(q.want(author(1)), [author(1)]);
        // Asked for three times while running: one more sync, not three, and not two at once.
        for _ in 0..3 {
            assert!(q.want(author(1)).is_empty());
        }
        assert_eq!(q.running(), 1);
        assert_eq!(q.done(author(1)), [author(1)]);
        assert!(q.done(author(1)).is_empty());
        assert_eq!(q.running(), 0);
    }

    #[test]
    fn heads_seen_keep_the_highest_are_bounded_and_go_once_reached() {
        let mut seen = HeadsSeen::default();
        seen.saw(author(1), 9);
        seen.saw(author(1), 4);
        assert_eq!(seen.expected(&author(1)), 9, "the highest seen wins");
        assert_eq!(seen.expected(&author(2)), 0);
        seen.reached(&author(1), 8);
        assert_eq!(seen.expected(&author(1)), 9, "not reached yet");
        seen.reached(&author(1), 9);
        assert!(seen.is_empty(), "forgotten once reached");
        for i in 0..MAX_HEADS_SEEN as u32 + 10 {
            let mut a = [0u8; 32];
            a[..4].copy_from_slice(&i.to_be_bytes());
            seen.saw(AuthorId(a), 1);
        }
        assert_eq!(seen.len(), MAX_HEADS_SEEN);
        seen.saw(AuthorId([0xff; 32]), 5);
        assert_eq!(seen.len(), MAX_HEADS_SEEN);
        assert_eq!(seen.expected(&AuthorId([0xff; 32])), 5, "the newest stays");
    }

    #[test]
    fn a_waiting_feed_is_queued_once() {
        let mut q = SyncQueue::new(1);
        assert_eq!(q.want(author(1)), [author(1)]);
        assert!(q.want(author(2)).is_empty());
        assert!(q.want(author(2)).is_empty());
        assert_eq!(q.done(author(1)), [author(2)]);
        assert!(q.done(author(2)).is_empty());
    }
}
