//! The agent seen through kith-app's [`Network`] seam: what the app asks becomes [`Agent`] and
//! [`Client`](crate::Client) calls, and what the agent reports becomes kith-app [`News`]
//! ([`news`]) or, for connection news, stays an [`AgentEvent`] for a status view.

use futures::FutureExt;
use futures::channel::mpsc;
use kith_app::{NetFailure, NetResult, Network, News, Source};
use kith_core::{AuthorId, NameClaim, VerifiedEntry};
use kith_store::Store;

use crate::NetError;
use crate::agent::{Agent, AgentEvent};

/// The most holders of a feed named on the Network screen (each may take a DHT lookup).
pub(crate) const MAX_HOLDERS: usize = 20;

/// An [`Agent`] as the app's network. Cheap to clone.
pub struct AgentNetwork<S> {
    agent: Agent<S>,
    retry: mpsc::Sender<()>,
}

impl<S> AgentNetwork<S> {
    /// The network of `agent`, whose [`Agent::run_with`] reads `retry`'s other end.
    pub fn new(agent: Agent<S>, retry: mpsc::Sender<()>) -> Self {
        AgentNetwork { agent, retry }
    }
}

fn failed(e: NetError) -> NetFailure {
    NetFailure::Failed(e.to_string())
}

impl<S: Store + 'static> Network for AgentNetwork<S> {
    fn publish(&self, entry: VerifiedEntry) -> NetResult<()> {
        let agent = self.agent.clone();
        async move { agent.publish(&entry).await.map_err(failed) }.boxed_local()
    }

    fn follow_live(&self, author: AuthorId) -> NetResult<()> {
        let client = self.agent.client().clone();
        async move { client.follow_live(author).await.map_err(failed) }.boxed_local()
    }

    fn provide(&self, author: AuthorId) -> NetResult<()> {
        let client = self.agent.client().clone();
        async move { client.provide(author).await.map_err(failed) }.boxed_local()
    }

    fn sync(&self, author: AuthorId) {
        self.agent.want_sync(author);
    }

    fn lookup_name(&self, handle: String) -> NetResult<Vec<(AuthorId, String)>> {
        let client = self.agent.client().clone();
        async move {
            let claims = client.lookup_name(&handle).await.map_err(failed)?;
            Ok(claims.into_iter().map(|c| (c.author, c.handle)).collect())
        }
        .boxed_local()
    }

    fn claim_name(&self, claim: NameClaim) -> NetResult<()> {
        let client = self.agent.client().clone();
        async move { client.claim_name(&claim).await.map_err(failed) }.boxed_local()
    }

    fn find_holders(&self, author: AuthorId) -> NetResult<Vec<AuthorId>> {
        let client = self.agent.client().clone();
        async move {
            let me = client.local_peer_id();
            let peers: Vec<_> = client
                .find_providers(author)
                .await
                .map_err(failed)?
                .into_iter()
                .filter(|p| *p != me)
                .collect();
            // Holders are devices: name each one's person (two devices of one person count once).
            let mut holders: Vec<AuthorId> = Vec::new();
            for peer in peers.into_iter().take(MAX_HOLDERS) {
                if let Ok(Some(p)) = client.person_behind(peer).await
                    && !holders.contains(&p)
                {
                    holders.push(p);
                }
            }
            Ok(holders)
        }
        .boxed_local()
    }

    fn search_posts(
        &self,
        words: String,
        ttl: u8,
    ) -> NetResult<Vec<(VerifiedEntry, Option<AuthorId>)>> {
        let agent = self.agent.clone();
        async move { Ok(agent.search(&words, ttl).await) }.boxed_local()
    }

    fn send_letter(&self, letter: kith_core::Letter, sealed: Vec<u8>) -> NetResult<()> {
        let agent = self.agent.clone();
        async move {
            agent
                .send_letter(&letter, &sealed)
                .await
                .map_err(|e| NetFailure::Failed(format!("keeping the message failed: {e}")))
        }
        .boxed_local()
    }

    fn fetch_image(&self, author: AuthorId, seq: u64, index: u8) -> NetResult<()> {
        let agent = self.agent.clone();
        async move {
            agent
                .fetch_image(author, seq, index)
                .await
                .map(drop)
                .map_err(|e| NetFailure::Failed(e.to_string()))
        }
        .boxed_local()
    }

    fn read_letters(
        &self,
        peer: AuthorId,
        up_to_ms: u64,
        id: kith_core::LetterId,
        receipt: Vec<u8>,
    ) -> NetResult<()> {
        let agent = self.agent.clone();
        async move {
            agent
                .read_letters(peer, up_to_ms, id, &receipt)
                .await
                .map_err(|e| NetFailure::Failed(format!("saving what you read failed: {e}")))
        }
        .boxed_local()
    }

    fn retry_now(&self) {
        // Full: a retry is already waiting to be taken.
        let _ = self.retry.clone().try_send(());
    }
}

/// What an agent's report means to the app; `None` for connection news (connecting, offline,
/// links), which only a status view shows.
pub fn news(event: AgentEvent) -> Option<News> {
    Some(match event {
        AgentEvent::Online { .. } => News::Online,
        AgentEvent::SyncProgress { author, have, want } => {
            News::SyncProgress { author, have, want }
        }
        AgentEvent::Synced {
            author,
            peer,
            person,
            fetched,
            direct,
        } => News::Synced {
            author,
            from: match person {
                Some(a) if a == author => Source::Author,
                Some(a) => Source::Person(a),
                None => Source::Peer(peer.to_string()),
            },
            fetched,
            direct,
        },
        AgentEvent::Unreachable { author } => News::Unreachable { author },
        AgentEvent::StoreFailed { author, reason } => News::StoreFailed { author, reason },
        AgentEvent::Capped(c) => News::Capped {
            author: c.author,
            held: c.held,
            available: c.available,
            max_entries: c.limits.entries,
            max_bytes: c.limits.bytes,
        },
        AgentEvent::Stored { entry, .. } => News::Stored { entry },
        AgentEvent::Notified { note, entry } => News::Notified { note, entry },
        AgentEvent::Forked { author, seq } => News::Forked { author, seq },
        AgentEvent::Letter(m) => News::Letters { peer: m.from },
        AgentEvent::LettersChanged { peer } => News::Letters { peer },
        AgentEvent::Connecting { .. }
        | AgentEvent::Offline { .. }
        | AgentEvent::Standby { .. }
        | AgentEvent::Link(_) => {
            return None;
        }
    })
}
