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
//! The node counts as gone when its last connection closes, or when it has not answered a
//! ping for [`LIVENESS_TIMEOUT`] (a WebRTC link to a vanished node can stay "open" long after
//! the node is gone). A message on the `retry_now` stream of [`Agent::run_with`] (a "Retry now"
//! button, the browser's `online` event) cuts a backoff wait short.
//!
//! An `Agent` is a cheap handle: clones share the replica, so the app can ask for a sync of
//! one feed ([`Agent::sync_feed`], after a follow) while [`Agent::run`] goes on.
//!
//! It needs a [`Store`], whose futures are not `Send`: run it on the page's event loop, or
//! natively inside a tokio `LocalSet`.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::stream::FusedStream;
use futures::{FutureExt, SinkExt, Stream, StreamExt};
use kith_core::{AuthorId, Backoff};
use kith_store::Store;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use crate::replica::Replica;
use crate::{Client, Event, platform};

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
        /// The address peers reach this node at, through the relay.
        relayed: Multiaddr,
    },
    /// The connection to kith-node is lost; retrying after `retry_in`.
    Offline {
        /// Why.
        reason: String,
        /// When the next attempt is.
        retry_in: Duration,
    },
    /// A followed feed was brought up to date from `peer`.
    Synced {
        /// The feed.
        author: AuthorId,
        /// Where from.
        peer: PeerId,
        /// Entries fetched.
        fetched: u64,
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
    /// A live entry arrived, verified (signature, payload, limits) but not yet checked against
    /// the stored feed nor stored: a UI may show it at once if it continues a feed it shows.
    /// [`AgentEvent::Stored`] follows when it is stored.
    Received {
        /// The entry.
        entry: Box<kith_core::VerifiedEntry>,
    },
    /// A live entry was stored.
    Stored {
        /// Its feed.
        author: AuthorId,
        /// Its seq.
        seq: u64,
        /// The entry, as stored (so a UI need not read it back).
        entry: Box<kith_core::VerifiedEntry>,
    },
}

/// How long kith-node may go without answering a ping before the connection is given up
/// (pings run every 5 s).
pub const LIVENESS_TIMEOUT: Duration = Duration::from_secs(12);
/// How many times in a row the agent reconnects because kith-node's gossip subscriptions did
/// not arrive, before it goes online without live delivery (sync still works).
const GOSSIP_RETRIES: u32 = 3;
/// How often, and how many times, the agent looks for them after connecting (3 s in all).
const GOSSIP_READY_POLL: Duration = Duration::from_millis(100);
const GOSSIP_READY_POLLS: u32 = 30;
/// The reason given when they did not arrive.
const NO_GOSSIP: &str = "kith-node's live-delivery channel did not open; reconnecting";

/// How long after connecting, and then between tries, a followed feed nobody answered for is
/// synced again, and how many times.
const RESYNC_AFTER: Duration = Duration::from_secs(4);
const RESYNC_TRIES: u32 = 5;

/// How long a sync candidate (the author or a holder) may take to answer a dial.
pub const CANDIDATE_DIAL_TIMEOUT: Duration = Duration::from_secs(8);
/// How often liveness is checked while online.
const LIVENESS_CHECK: Duration = Duration::from_secs(2);

/// A person's node at work. See the module docs.
pub struct Agent<S> {
    client: Client,
    replica: Rc<Replica<S>>,
    node: PeerId,
    node_addrs: Vec<Multiaddr>,
    fallback_addrs: Vec<Multiaddr>,
}

impl<S> Clone for Agent<S> {
    fn clone(&self) -> Self {
        Agent {
            client: self.client.clone(),
            replica: self.replica.clone(),
            node: self.node,
            node_addrs: self.node_addrs.clone(),
            fallback_addrs: self.fallback_addrs.clone(),
        }
    }
}

/// Waits `delay`, or less if `retry_now` yields first.
async fn pause(delay: Duration, retry_now: &mut (impl FusedStream<Item = ()> + Unpin)) {
    let mut sleep = Box::pin(platform::sleep(delay).fuse());
    futures::select! {
        () = sleep => {}
        _ = retry_now.next() => {}
    }
}

impl<S: Store + 'static> Agent<S> {
    /// An agent for `client` and `store`, using the kith-node `node` at `node_addrs` (each
    /// ending in `/p2p/<node>`; the first one also serves as the relay address).
    pub fn new(client: Client, store: S, node: PeerId, node_addrs: Vec<Multiaddr>) -> Self {
        Agent {
            replica: Rc::new(Replica::new(client.clone(), store)),
            client,
            node,
            node_addrs,
            fallback_addrs: Vec::new(),
        }
    }

    /// Addresses of kith-node to dial (all at once) when none of the main ones answers.
    pub fn with_fallback(mut self, addrs: Vec<Multiaddr>) -> Self {
        self.fallback_addrs = addrs;
        self
    }

    /// The replica (and through it, the store).
    pub fn replica(&self) -> Rc<Replica<S>> {
        self.replica.clone()
    }

    /// Runs until the node's event stream ends. Sync requests are served as they come, in a
    /// task of their own, so two agents syncing from each other never wait on each other.
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
        let mut retry_now = retry_now.fuse();
        let (mut to_agent, mut agent_events) = mpsc::channel::<Event>(crate::EVENT_QUEUE);
        let serving = self.replica.clone();
        platform::spawn_local(async move {
            while let Some(e) = events.next().await {
                match e {
                    Event::SyncRequest { id, message, .. } => {
                        let _ = serving.serve(id, message).await;
                    }
                    other => {
                        if to_agent.send(other).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut backoff = Backoff::APP_DEFAULT;
        let mut gossip_misses = 0;
        loop {
            report(AgentEvent::Connecting {
                attempt: backoff.attempt() + 1,
            });
            let insist_on_gossip = gossip_misses < GOSSIP_RETRIES;
            // Followed feeds nobody answered for at connect time (everyone reconnecting at
            // once after a node restart): tried again a few times while online.
            let mut unsynced = match self.go_online(&report, insist_on_gossip).await {
                Ok(unsynced) => {
                    backoff.reset();
                    gossip_misses = 0;
                    unsynced
                }
                Err(reason) => {
                    if reason == NO_GOSSIP {
                        gossip_misses += 1;
                    }
                    let retry_in = backoff.next_delay(jitter());
                    report(AgentEvent::Offline { reason, retry_in });
                    pause(retry_in, &mut retry_now).await;
                    continue;
                }
            };
            let mut resync_tries = 0;
            let mut next_resync = web_time::Instant::now() + RESYNC_AFTER;
            // Online: store live entries, sync feeds with gaps, until the node goes away.
            let mut last_heard = web_time::Instant::now();
            let mut check = Box::pin(platform::sleep(LIVENESS_CHECK).fuse());
            let reason = loop {
                let event = futures::select! {
                    event = agent_events.next() => event,
                    () = check => {
                        if last_heard.elapsed() > LIVENESS_TIMEOUT {
                            // Silent: close what is left of the connection and start over.
                            let _ = self.client.disconnect(self.node).await;
                            break "kith-node stopped answering".to_owned();
                        }
                        if !unsynced.is_empty()
                            && resync_tries < RESYNC_TRIES
                            && web_time::Instant::now() >= next_resync
                        {
                            resync_tries += 1;
                            let mut still = Vec::new();
                            for author in std::mem::take(&mut unsynced) {
                                if !self.try_sync(author, &report).await {
                                    still.push(author);
                                }
                            }
                            unsynced = still;
                            next_resync = web_time::Instant::now() + RESYNC_AFTER;
                        }
                        check = Box::pin(platform::sleep(LIVENESS_CHECK).fuse());
                        continue;
                    }
                };
                let Some(event) = event else {
                    return;
                };
                match event {
                    Event::Disconnected {
                        peer, remaining: 0, ..
                    } if peer == self.node => {
                        break "lost the connection to kith-node".to_owned();
                    }
                    Event::Ping { peer, .. } | Event::Connected { peer, .. }
                        if peer == self.node =>
                    {
                        last_heard = web_time::Instant::now();
                    }
                    Event::Entry { entry, .. } => {
                        let (author, seq) = (entry.author(), entry.seq());
                        report(AgentEvent::Received {
                            entry: entry.clone(),
                        });
                        match self.replica.take_live((*entry).clone()).await {
                            Ok(true) => report(AgentEvent::Stored { author, seq, entry }),
                            // Not stored: a gap in a followed feed is filled by a sync;
                            // feeds not followed here (sharing the topic) are ignored.
                            Ok(false) if self.is_followed(&author).await => {
                                self.sync_feed(author, &report).await;
                            }
                            Ok(false) => {}
                            Err(_) => {}
                        }
                    }
                    _ => {}
                }
            };
            let retry_in = backoff.next_delay(jitter());
            report(AgentEvent::Offline { reason, retry_in });
            pause(retry_in, &mut retry_now).await;
        }
    }

    async fn is_followed(&self, author: &AuthorId) -> bool {
        matches!(self.replica.store().feed(author).await, Ok(Some(m)) if m.followed)
    }

    async fn followed(&self) -> BTreeSet<AuthorId> {
        let feeds = self.replica.store().feeds().await.unwrap_or_default();
        feeds
            .into_iter()
            .filter(|m| m.followed)
            .map(|m| m.author)
            .collect()
    }

    /// Dial, check live delivery, reserve, follow, announce, re-sync.
    async fn go_online(
        &self,
        report: &impl Fn(AgentEvent),
        insist_on_gossip: bool,
    ) -> Result<Vec<AuthorId>, String> {
        let dialed = self.client.dial(self.node, self.node_addrs.clone()).await;
        let connected = match dialed {
            Err(_) if !self.fallback_addrs.is_empty() => self
                .client
                .dial(self.node, self.fallback_addrs.clone())
                .await
                .map_err(|e| e.to_string())?,
            other => other.map_err(|e| e.to_string())?,
        };
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
            if self.client.gossip_ready(self.node).await.unwrap_or(false) {
                gossip = true;
                break;
            }
            platform::sleep(GOSSIP_READY_POLL).await;
        }
        if !gossip && insist_on_gossip {
            let _ = self.client.disconnect(self.node).await;
            return Err(NO_GOSSIP.to_owned());
        }
        let relay = self.node_addrs.first().cloned().ok_or("no node address")?;
        let relayed = self
            .client
            .listen_via_relay(relay)
            .await
            .map_err(|e| e.to_string())?;
        let followed = self.followed().await;
        for author in &followed {
            let _ = self.client.follow_live(*author).await;
        }
        // Announcing needs the node in the routing table, which identify brings shortly.
        for _ in 0..20 {
            if self.replica.provide_all().await.is_ok() {
                break;
            }
            platform::sleep(Duration::from_millis(100)).await;
        }
        report(AgentEvent::Online { relayed });
        let mut unreachable = Vec::new();
        for author in followed {
            if !self.try_sync(author, report).await {
                unreachable.push(author);
            }
        }
        Ok(unreachable)
    }

    /// Brings `author`'s feed up to date from the author or any provider that answers, with
    /// every followed feed that peer holds. `author` need not be followed (a profile preview).
    /// Reports progress and the outcome.
    pub async fn sync_feed(&self, author: AuthorId, report: &impl Fn(AgentEvent)) {
        self.try_sync(author, report).await;
    }

    /// [`Agent::sync_feed`]; `false` when nobody holding the feed answered.
    async fn try_sync(&self, author: AuthorId, report: &impl Fn(AgentEvent)) -> bool {
        let me = self.client.local_peer_id();
        let mut candidates: Vec<PeerId> =
            crate::identity::peer_id_of(&author).into_iter().collect();
        for p in self.client.find_providers(author).await.unwrap_or_default() {
            if !candidates.contains(&p) {
                candidates.push(p);
            }
        }
        for peer in candidates
            .into_iter()
            .filter(|p| *p != me && *p != self.node)
        {
            let Some(relay) = self.node_addrs.first() else {
                return false;
            };
            let circuit = relay
                .clone()
                .with(Protocol::P2pCircuit)
                .with(Protocol::P2p(peer));
            // A holder that just went away can leave the relay waiting on a dead link: give
            // each candidate a bounded time and move on to the next.
            let mut dial = Box::pin(self.client.dial(peer, vec![circuit]).fuse());
            let mut give_up = Box::pin(platform::sleep(CANDIDATE_DIAL_TIMEOUT).fuse());
            let reached = futures::select! {
                r = dial => r.is_ok(),
                () = give_up => false,
            };
            if !reached {
                continue;
            }
            let progress = |p: kith_core::sync::Progress| {
                report(AgentEvent::SyncProgress {
                    author,
                    have: p.have,
                    want: p.want,
                });
            };
            if let Ok(p) = self
                .replica
                .sync_with_also(peer, Some(author), progress)
                .await
            {
                report(AgentEvent::Synced {
                    author,
                    peer,
                    fetched: p.have,
                });
                return true;
            }
        }
        report(AgentEvent::Unreachable { author });
        false
    }
}

/// A number in [0, 1) for backoff jitter, from the platform's clock (no RNG needed).
fn jitter() -> f64 {
    (crate::now_ms() % 1000) as f64 / 1000.0
}
