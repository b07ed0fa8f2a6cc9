//! The cloneable handle the rest of the app uses to drive the node.

use futures::SinkExt;
use futures::channel::{mpsc, oneshot};
use libp2p::kad::RecordKey;
use libp2p::{Multiaddr, PeerId};

use kith_core::sync::Message;
use kith_core::{AuthorId, DeviceClaim, VerifiedEntry};

use crate::{NetError, TransportKind};

/// A command for the event loop, with the channel its answer goes back on.
pub(crate) enum Command {
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        /// Whether an open connection made at the peer's own address does.
        reuse: bool,
        reply: oneshot::Sender<Result<Connected, NetError>>,
    },
    Bootstrap {
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    ConnectedPeers {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    DevicesOf {
        author: AuthorId,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    IsDirect {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    ExpectDirect {
        peer: PeerId,
        reply: oneshot::Sender<crate::direct::Expect>,
    },
    PreferDirect {
        peer: PeerId,
        reply: oneshot::Sender<()>,
    },
    RoutingTable {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Disconnect {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    Stats {
        reply: oneshot::Sender<crate::NetStats>,
    },
    PersonOf {
        peers: Vec<PeerId>,
        reply: oneshot::Sender<Vec<Option<AuthorId>>>,
    },
    GossipReady {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    Follow {
        author: AuthorId,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    Publish {
        author: AuthorId,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    Request {
        peer: PeerId,
        message: Message,
        reply: oneshot::Sender<Result<Message, NetError>>,
    },
    Respond {
        id: u64,
        message: Message,
    },
    /// Drops the inbound sync request `id` unanswered: the requester sees it fail.
    Refuse {
        id: u64,
    },
    /// Sends one notification to `peer`.
    Notify {
        peer: PeerId,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<crate::notify::Answer, NetError>>,
    },
    /// Answers the inbound notification `id`.
    AnswerNote {
        id: u64,
        answer: crate::notify::Answer,
    },
    /// Sends a search query to `peer`.
    Ask {
        peer: PeerId,
        query: crate::search::Query,
        reply: oneshot::Sender<Result<crate::search::Hits, NetError>>,
    },
    /// Answers the inbound query `id`.
    AnswerQuery {
        id: u64,
        hits: crate::search::Hits,
    },
    /// Asks `peer` for the image whose SHA-256 is `hash`.
    FetchImage {
        peer: PeerId,
        hash: kith_core::Hash,
        reply: oneshot::Sender<Result<crate::images::Answer, NetError>>,
    },
    /// Answers the inbound image request `id`.
    AnswerImage {
        id: u64,
        answer: crate::images::Answer,
    },
    ListenViaRelay {
        relay: Multiaddr,
        reply: oneshot::Sender<Result<Multiaddr, NetError>>,
    },
    Provide {
        key: RecordKey,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    FindProviders {
        key: RecordKey,
        reply: oneshot::Sender<Result<Vec<PeerId>, NetError>>,
    },
    PutRecord {
        key: RecordKey,
        value: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    GetRecord {
        key: RecordKey,
        reply: oneshot::Sender<Result<Option<Vec<u8>>, NetError>>,
    },
}

/// A successful dial: which address and transport won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The peer now connected.
    pub peer: PeerId,
    /// The address the connection was made to.
    pub address: Multiaddr,
    /// Its transport.
    pub transport: TransportKind,
}

/// A handle to the node. Cheap to clone; every clone talks to the same event loop.
#[derive(Clone)]
pub struct Client {
    local_peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    /// Whose device this node is, if it says so ([`Config::device`](crate::Config::device)).
    device: Option<DeviceClaim>,
    /// The node's key, to sign where it can be reached ([`crate::reach`]).
    key: libp2p::identity::Keypair,
}

impl Client {
    pub(crate) fn new(
        key: libp2p::identity::Keypair,
        commands: mpsc::Sender<Command>,
        device: Option<DeviceClaim>,
    ) -> Self {
        Client {
            local_peer_id: key.public().to_peer_id(),
            commands,
            device,
            key,
        }
    }

    /// Publishes, signed, the circuit addresses this node is reached at ([`crate::reach`]).
    pub async fn announce_reach(&self, addrs: &[Multiaddr]) -> Result<(), NetError> {
        let value = crate::reach::sign(&self.key, addrs).map_err(NetError::Dht)?;
        self.put_record(crate::reach::reach_key(&self.local_peer_id), value)
            .await
    }

    /// Where `peer` says it is reached (its signed record in the DHT, checked); empty when it
    /// published none.
    pub async fn reach_of(&self, peer: PeerId) -> Result<Vec<Multiaddr>, NetError> {
        let key = crate::reach::reach_key(&peer);
        match self.get_record(key.clone()).await {
            Ok(Some(value)) => Ok(crate::reach::open(key.as_ref(), &value)
                .filter(|r| r.peer == peer)
                .map(|r| r.addrs)
                .unwrap_or_default()),
            Ok(None) | Err(NetError::Dht(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Publishes this device's claim in the DHT under its own key, so that peers that never
    /// met it can tell whose device it is. Nothing to do for a node without a claim.
    pub async fn announce_device(&self) -> Result<(), NetError> {
        let Some(claim) = &self.device else {
            return Ok(());
        };
        let me = self.local_peer_id.to_bytes();
        let key = RecordKey::new(&DeviceClaim::record_key(&me).0);
        self.put_record(key, claim.encode_record(&me)).await
    }

    /// The person behind `peer`: what it said in identify when it was connected here, else its
    /// device record in the DHT, else (no record) the key its peer id embeds: a node running
    /// under its person's own key, as native clients do.
    pub async fn person_behind(&self, peer: PeerId) -> Result<Option<AuthorId>, NetError> {
        if let Some(Some(p)) = self.persons_of(vec![peer]).await?.pop() {
            return Ok(Some(p));
        }
        let bytes = peer.to_bytes();
        let key = RecordKey::new(&DeviceClaim::record_key(&bytes).0);
        match self.get_record(key).await {
            Ok(Some(record)) => Ok(match DeviceClaim::decode_record(&record) {
                Ok((device, author)) if device == bytes => Some(author),
                _ => None,
            }),
            Ok(None) | Err(NetError::Dht(_)) => Ok(crate::identity::author_of(&peer)),
            Err(e) => Err(e),
        }
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .clone()
            .send(make(reply))
            .await
            .map_err(|_| NetError::Stopped)?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Dials `peer` at every address in `addrs` at once; the first connection up wins.
    /// Resolves when the connection is established or every address has failed.
    pub async fn dial(&self, peer: PeerId, addrs: Vec<Multiaddr>) -> Result<Connected, NetError> {
        self.dial_with(peer, addrs, false).await
    }

    /// Like [`Client::dial`], but an open connection to `peer` made at its own address (not
    /// through a relay) is answered at once instead of a new one. A kith-node closes every
    /// connection of a peer that arrives with an older one still open (a reloaded tab's dead
    /// link), so a second connection to a node the DHT already reached cost both.
    pub async fn connect(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
    ) -> Result<Connected, NetError> {
        self.dial_with(peer, addrs, true).await
    }

    async fn dial_with(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reuse: bool,
    ) -> Result<Connected, NetError> {
        if addrs.is_empty() {
            return Err(NetError::NoAddress(peer));
        }
        self.ask(|reply| Command::Dial {
            peer,
            addrs,
            reuse,
            reply,
        })
        .await?
    }

    /// Runs a Kademlia bootstrap against the peers in the routing table and resolves when the
    /// query has finished.
    pub async fn bootstrap(&self) -> Result<(), NetError> {
        self.ask(|reply| Command::Bootstrap { reply }).await?
    }

    /// The peers with at least one open connection.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetError> {
        self.ask(|reply| Command::ConnectedPeers { reply }).await
    }

    /// The connected peers that said in identify they are devices of `author` (the device
    /// claim checked): the first to ask for `author`'s feed, with no DHT lookup.
    pub async fn connected_devices_of(&self, author: AuthorId) -> Result<Vec<PeerId>, NetError> {
        self.ask(|reply| Command::DevicesOf { author, reply }).await
    }

    /// Whether `peer` is connected directly (browser to browser over `/webrtc`).
    pub async fn is_direct(&self, peer: PeerId) -> Result<bool, NetError> {
        self.ask(|reply| Command::IsDirect { peer, reply }).await
    }

    /// Whether a direct connection to `peer` is there or on its way.
    pub async fn expect_direct(&self, peer: PeerId) -> Result<crate::direct::Expect, NetError> {
        self.ask(|reply| Command::ExpectDirect { peer, reply })
            .await
    }

    /// Closes the relayed connections to `peer` behind a direct one now, unless something is
    /// in flight on them, so that what follows takes the direct path.
    pub async fn prefer_direct(&self, peer: PeerId) -> Result<(), NetError> {
        self.ask(|reply| Command::PreferDirect { peer, reply })
            .await
    }

    /// The peers in the Kademlia routing table.
    pub async fn routing_table(&self) -> Result<Vec<PeerId>, NetError> {
        self.ask(|reply| Command::RoutingTable { reply }).await
    }

    /// The person behind each of `peers`, as far as this node knows: from what the peer said
    /// in identify when it was last connected ([`identity::person_of`](crate::identity::person_of);
    /// the last [`MAX_PERSONS`](crate::MAX_PERSONS) peers are remembered). `None` for a peer
    /// never identified here, or whose device claim did not hold.
    pub async fn persons_of(&self, peers: Vec<PeerId>) -> Result<Vec<Option<AuthorId>>, NetError> {
        self.ask(|reply| Command::PersonOf { peers, reply }).await
    }

    /// Whether gossipsub knows `peer`'s subscriptions (so publishing through it can work).
    /// A peer announces them as soon as a first connection is up; a peer whose announcement
    /// was lost (an inbound WebRTC stream that never opened) stays without topics.
    pub async fn gossip_ready(&self, peer: PeerId) -> Result<bool, NetError> {
        self.ask(|reply| Command::GossipReady { peer, reply }).await
    }

    /// Receives `author`'s new entries live (subscribes to their feed's shard).
    pub async fn follow_live(&self, author: AuthorId) -> Result<(), NetError> {
        self.ask(|reply| Command::Follow { author, reply }).await?
    }

    /// Publishes a verified entry to everyone following its author live.
    pub async fn publish(&self, entry: &VerifiedEntry) -> Result<(), NetError> {
        self.publish_bytes(entry.author(), entry.encode()).await
    }

    /// Publishes raw bytes on `author`'s topic without checking them: what a broken or hostile
    /// peer can do. For tests of the receivers' defences only.
    #[doc(hidden)]
    pub async fn publish_bytes(&self, author: AuthorId, bytes: Vec<u8>) -> Result<(), NetError> {
        self.ask(|reply| Command::Publish {
            author,
            bytes,
            reply,
        })
        .await?
    }

    /// Sends a sync message to `peer` and waits for its answer.
    pub async fn request(&self, peer: PeerId, message: Message) -> Result<Message, NetError> {
        self.ask(|reply| Command::Request {
            peer,
            message,
            reply,
        })
        .await?
    }

    /// Answers the inbound sync request `id` (from [`Event::SyncRequest`](crate::Event)).
    pub async fn respond(&self, id: u64, message: Message) -> Result<(), NetError> {
        self.commands
            .clone()
            .send(Command::Respond { id, message })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// Refuses the inbound sync request `id` without an answer (a blocked person's): the
    /// request fails on the requester's side as if this peer had gone.
    pub async fn refuse(&self, id: u64) -> Result<(), NetError> {
        self.commands
            .clone()
            .send(Command::Refuse { id })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// Sends `entry` (with its author's `profile` entry, if any) to `peer` as a notification
    /// ([`crate::notify`]) and waits for its answer.
    pub async fn notify(
        &self,
        peer: PeerId,
        entry: &VerifiedEntry,
        profile: Option<&VerifiedEntry>,
    ) -> Result<crate::notify::Answer, NetError> {
        self.notify_bytes(peer, crate::notify::encode_note(entry, profile))
            .await
    }

    /// Sends raw bytes to `peer` as a notification without checking them: what a broken or
    /// hostile peer can do. For tests of the receivers' defences only.
    #[doc(hidden)]
    pub async fn notify_bytes(
        &self,
        peer: PeerId,
        bytes: Vec<u8>,
    ) -> Result<crate::notify::Answer, NetError> {
        self.ask(|reply| Command::Notify { peer, bytes, reply })
            .await?
    }

    /// Answers the inbound notification `id` (from [`Event::Note`](crate::Event)).
    pub async fn answer_note(
        &self,
        id: u64,
        answer: crate::notify::Answer,
    ) -> Result<(), NetError> {
        self.commands
            .clone()
            .send(Command::AnswerNote { id, answer })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// Sends a search query to `peer` and waits for its answer (unverified entries).
    pub async fn query(
        &self,
        peer: PeerId,
        query: crate::search::Query,
    ) -> Result<crate::search::Hits, NetError> {
        self.ask(|reply| Command::Ask { peer, query, reply })
            .await?
    }

    /// Asks `peer` for the image whose SHA-256 is `hash` and waits for its answer (bytes not
    /// yet checked).
    pub async fn fetch_image(
        &self,
        peer: PeerId,
        hash: kith_core::Hash,
    ) -> Result<crate::images::Answer, NetError> {
        self.ask(|reply| Command::FetchImage { peer, hash, reply })
            .await?
    }

    /// Answers the inbound image request `id` (from [`Event::ImageRequest`](crate::Event)).
    pub async fn answer_image(
        &self,
        id: u64,
        answer: crate::images::Answer,
    ) -> Result<(), NetError> {
        self.commands
            .clone()
            .send(Command::AnswerImage { id, answer })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// Answers the inbound query `id` (from [`Event::Query`](crate::Event)).
    pub async fn answer_query(&self, id: u64, hits: crate::search::Hits) -> Result<(), NetError> {
        self.commands
            .clone()
            .send(Command::AnswerQuery { id, hits })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// The person this node works for: the one whose claim it carries, or (no claim) the one
    /// whose key it runs under.
    pub fn person(&self) -> Option<AuthorId> {
        match &self.device {
            Some(claim) => Some(claim.author),
            None => crate::identity::author_of(&self.local_peer_id),
        }
    }

    /// Announces in the DHT that this node takes its person's notifications.
    pub async fn provide_inbox(&self) -> Result<(), NetError> {
        let me = self
            .person()
            .ok_or_else(|| NetError::Dht("this node works for nobody".to_owned()))?;
        self.provide_key(crate::notify::inbox_key(&me)).await
    }

    /// Asks the DHT which nodes say they take `author`'s notifications (anyone can say so:
    /// check with [`Client::person_behind`] before sending).
    pub async fn find_inbox(&self, author: AuthorId) -> Result<Vec<PeerId>, NetError> {
        self.find_providers_of(crate::notify::inbox_key(&author))
            .await
    }

    /// Reserves a slot on the relay at `relay` (a kith-node address ending in `/p2p/<id>`)
    /// and listens there; returns the relayed address others can dial.
    pub async fn listen_via_relay(&self, relay: Multiaddr) -> Result<Multiaddr, NetError> {
        self.ask(|reply| Command::ListenViaRelay { relay, reply })
            .await?
    }

    /// Announces in the DHT that this node holds `author`'s feed.
    pub async fn provide(&self, author: AuthorId) -> Result<(), NetError> {
        self.provide_key(crate::behaviour::feed_key(&author)).await
    }

    /// Asks the DHT who holds `author`'s feed (other than this node, which Kademlia would report
    /// first for every feed it provides).
    pub async fn find_providers(&self, author: AuthorId) -> Result<Vec<PeerId>, NetError> {
        self.find_providers_of(crate::behaviour::feed_key(&author))
            .await
    }

    pub(crate) async fn provide_key(&self, key: RecordKey) -> Result<(), NetError> {
        self.ask(|reply| Command::Provide { key, reply }).await?
    }

    pub(crate) async fn find_providers_of(&self, key: RecordKey) -> Result<Vec<PeerId>, NetError> {
        self.ask(|reply| Command::FindProviders { key, reply })
            .await?
    }

    pub(crate) async fn put_record(&self, key: RecordKey, value: Vec<u8>) -> Result<(), NetError> {
        self.ask(|reply| Command::PutRecord { key, value, reply })
            .await?
    }

    pub(crate) async fn get_record(&self, key: RecordKey) -> Result<Option<Vec<u8>>, NetError> {
        self.ask(|reply| Command::GetRecord { key, reply }).await?
    }

    /// What the event loop has dropped so far because its consumer was slow.
    pub async fn stats(&self) -> Result<crate::NetStats, NetError> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// Closes every connection to `peer`; `false` if there was none.
    pub async fn disconnect(&self, peer: PeerId) -> Result<bool, NetError> {
        self.ask(|reply| Command::Disconnect { peer, reply }).await
    }
}
