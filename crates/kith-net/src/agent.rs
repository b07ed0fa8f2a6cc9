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
//! It needs a [`Store`], whose futures are not `Send`: run it on the page's event loop, or
//! natively inside a tokio `LocalSet`.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use kith_core::{AuthorId, Backoff};
use kith_store::Store;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use crate::replica::Replica;
use crate::{Client, Event, platform};

/// What the agent reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
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
    /// A live entry was stored.
    Stored {
        /// Its feed.
        author: AuthorId,
        /// Its seq.
        seq: u64,
    },
}

/// A person's node at work. See the module docs.
pub struct Agent<S> {
    client: Client,
    replica: Rc<Replica<S>>,
    node: PeerId,
    node_addrs: Vec<Multiaddr>,
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
        }
    }

    /// The replica (and through it, the store).
    pub fn replica(&self) -> Rc<Replica<S>> {
        self.replica.clone()
    }

    /// Runs until the node's event stream ends. Sync requests are served as they come, in a
    /// task of their own, so two agents syncing from each other never wait on each other.
    pub async fn run(
        self,
        mut events: mpsc::Receiver<Event>,
        report: impl Fn(AgentEvent) + 'static,
    ) {
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
        loop {
            match self.go_online(&report).await {
                Ok(()) => backoff.reset(),
                Err(reason) => {
                    let retry_in = backoff.next_delay(jitter());
                    report(AgentEvent::Offline { reason, retry_in });
                    platform::sleep(retry_in).await;
                    continue;
                }
            }
            // Online: store live entries, sync feeds with gaps, until the node goes away.
            loop {
                let Some(event) = agent_events.next().await else {
                    return;
                };
                match event {
                    Event::Disconnected {
                        peer, remaining: 0, ..
                    } if peer == self.node => {
                        let retry_in = backoff.next_delay(jitter());
                        let reason = "lost the connection to kith-node".to_owned();
                        report(AgentEvent::Offline { reason, retry_in });
                        platform::sleep(retry_in).await;
                        break;
                    }
                    Event::Entry { entry, .. } => {
                        let (author, seq) = (entry.author(), entry.seq());
                        match self.replica.take_live(*entry).await {
                            Ok(true) => report(AgentEvent::Stored { author, seq }),
                            Ok(false) => self.sync_feed(author, &report).await,
                            Err(_) => {}
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    async fn followed(&self) -> BTreeSet<AuthorId> {
        let feeds = self.replica.store().feeds().await.unwrap_or_default();
        feeds
            .into_iter()
            .filter(|m| m.followed)
            .map(|m| m.author)
            .collect()
    }

    /// Dial, reserve, follow, announce, re-sync.
    async fn go_online(&self, report: &impl Fn(AgentEvent)) -> Result<(), String> {
        self.client
            .dial(self.node, self.node_addrs.clone())
            .await
            .map_err(|e| e.to_string())?;
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
        for author in followed {
            self.sync_feed(author, report).await;
        }
        Ok(())
    }

    /// Brings `author`'s feed up to date from the author or any provider that answers.
    async fn sync_feed(&self, author: AuthorId, report: &impl Fn(AgentEvent)) {
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
                return;
            };
            let circuit = relay
                .clone()
                .with(Protocol::P2pCircuit)
                .with(Protocol::P2p(peer));
            if self.client.dial(peer, vec![circuit]).await.is_err() {
                continue;
            }
            let progress = |p: kith_core::sync::Progress| {
                report(AgentEvent::SyncProgress {
                    author,
                    have: p.have,
                    want: p.want,
                });
            };
            if let Ok(p) = self.replica.sync_with(peer, progress).await {
                report(AgentEvent::Synced {
                    author,
                    peer,
                    fetched: p.have,
                });
                return;
            }
        }
    }
}

/// A number in [0, 1) for backoff jitter, from the platform's clock (no RNG needed).
fn jitter() -> f64 {
    (crate::now_ms() % 1000) as f64 / 1000.0
}
