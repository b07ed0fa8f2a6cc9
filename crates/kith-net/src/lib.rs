//! kith-net: Kith's libp2p node, the same code natively and in a browser tab.
//!
//! How the parts cooperate (the shape of rust-libp2p's file-sharing example):
//!
//! - [`new`] builds the [`Swarm`](libp2p::Swarm) through [`platform`] (the one module that knows
//!   which transports the target has) and returns three things: a cloneable [`Client`], a
//!   bounded stream of [`Event`]s, and the [`EventLoop`].
//! - The [`EventLoop`] is the only owner of the swarm. The caller spawns
//!   [`EventLoop::run`] (with [`platform::spawn`]) and it runs until every `Client` is gone.
//! - A [`Client`] method sends a command over a bounded channel, carrying a oneshot sender for
//!   the answer; the event loop executes it against the swarm and answers when the network
//!   has (for a dial: when the connection is up or has failed).
//! - Everything the UI needs to know without asking (connections, ping round trips, routing
//!   table changes) arrives as an [`Event`] on the stream.
//!
//! [`behaviour`] holds the protocol names and configurations that kith-node shares, so the
//! browser and the node always speak the same Kademlia protocol.
//!
//! On top of the swarm:
//! - [`gossip`]: live delivery, topics sharded by author, every message validated with
//!   kith-core before it is accepted or forwarded ([`Event::Entry`]).
//! - [`sync_protocol`]: kith-core's sync messages over request-response (bounded frames,
//!   bounded streams, bounded pending answers per peer).
//! - [`replica`]: a kith-store [`Store`](kith_store::Store) served to peers and filled from
//!   them through a kith-core sync session, every entry verified; feed providers in the DHT.
//! - [`notify`]: notifications, one signed entry sent to a device of each person it concerns,
//!   throttled per peer on arrival; the agent keeps them in kith-store's inbox and delivers
//!   its person's from an outbox.
//! - [`search`]: search across the network by query flooding (a TTL, ids seen once, bounded
//!   answers and rates), answered from the app's text index through the agent.
//! - [`images`]: images fetched by hash from the author or any holder of the feed, checked
//!   against the entry that names them before they are kept, served from the store.
//! - [`names`]: signed handle claims in the DHT, every claimant returned.
//! - [`agent`]: what a person's node does on its own: stay connected (backoff), reserve a
//!   relay slot, follow, announce, re-sync on every connection, serve, fill gaps.
//! - [`linger`]: which connections to kith-nodes beyond the primary and the standby the event
//!   loop closes (those the DHT alone opened, once it is quiet).
//! - [`identity`]: one key, two names (author id and peer id).
//! - [`AgentNetwork`]: the agent behind kith-app's `Network` seam, and [`news`], its reports
//!   in the app's terms.
//!
//! Browsers cannot accept connections: in the browser the node dials kith-node over
//! WebRTC-direct or WebSocket, keeps Kademlia in client mode, and is reached by other peers
//! through kith-node's circuit relay (end-to-end encrypted), then directly: [`direct`] says
//! when a relayed connection between two browsers is replaced by a `/webrtc` one
//! (kith-webrtc), and the event loop dials it and retires the circuit; a circuit that no
//! direct connection replaces closes once nothing has used it for 30 s. Natively the node
//! dials TCP or WebSocket.

pub mod agent;
pub mod behaviour;
mod client;
mod dial_plan;
pub mod direct;
mod event_loop;
pub mod gossip;
pub mod identity;
pub mod images;
pub mod linger;
pub mod names;
mod network;
pub mod nodes;
pub mod notify;
pub mod platform;
pub mod reach;
pub mod replica;
pub mod search;
pub mod sync_protocol;
mod transport_kind;

pub use behaviour::Behaviour;
pub use client::{Client, Connected};
pub use dial_plan::{NodePlan, dial_plan, node_plan};
pub use event_loop::EventLoop;
pub use libp2p::{Multiaddr, PeerId, identity::Keypair};
pub use network::{AgentNetwork, news};
pub use transport_kind::TransportKind;

use futures::channel::mpsc;
use std::time::Duration;

/// How many commands may wait for the event loop before callers wait in turn.
pub const COMMAND_QUEUE: usize = 64;
/// How many events may wait in the channel to the consumer. Past that the event loop does not
/// wait: live entries are dropped and counted ([`NetStats`]), other events wait in an overflow
/// of [`EVENT_OVERFLOW`].
pub const EVENT_QUEUE: usize = 256;
/// How many peers' persons the node remembers from identify (see [`Client::persons_of`]).
pub const MAX_PERSONS: usize = 4096;

/// How many events other than live entries may wait beyond [`EVENT_QUEUE`] (connection news,
/// pings, sync requests, all bounded by the connection limits); past that they are dropped and
/// counted too.
pub const EVENT_OVERFLOW: usize = 1024;
/// How many inbound sync requests may wait for an answer at once (all peers).
pub const MAX_PENDING_RESPONSES: usize = 64;
/// How many inbound sync requests one peer may have waiting at once.
pub const MAX_PENDING_RESPONSES_PER_PEER: usize = 8;

/// Something the node observed that the application may want to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection to `peer` is up.
    Connected {
        /// The remote peer.
        peer: PeerId,
        /// The address of the connection.
        address: Multiaddr,
        /// The transport, derived from `address`.
        transport: TransportKind,
        /// How many connections to `peer` are now open.
        connections: u32,
    },
    /// A connection to `peer` closed.
    Disconnected {
        /// The remote peer.
        peer: PeerId,
        /// How many connections to `peer` remain.
        remaining: u32,
        /// Why, when libp2p says.
        cause: Option<String>,
        /// The best transport still open to `peer` (a direct connection over a relayed
        /// one), if any.
        left: Option<TransportKind>,
    },
    /// A ping round trip completed.
    Ping {
        /// The peer that answered.
        peer: PeerId,
        /// The round-trip time.
        rtt: Duration,
    },
    /// A ping failed; the connection it ran on is closed.
    PingFailed {
        /// The peer that did not answer.
        peer: PeerId,
        /// What went wrong.
        error: String,
    },
    /// A peer said in identify who it is: `person` is whose node it is, if its device claim
    /// holds (or, with no claim, the key its peer id embeds); see [`identity::person_of`].
    Identified {
        /// The peer.
        peer: PeerId,
        /// Its person.
        person: Option<kith_core::AuthorId>,
    },
    /// A Kademlia server peer entered the routing table.
    RoutingUpdated {
        /// The peer added or updated.
        peer: PeerId,
    },
    /// A new entry arrived live and verified (signature, payload, limits; not yet its place in
    /// the feed, which the store checks).
    Entry {
        /// The peer it came through.
        from: PeerId,
        /// The entry.
        entry: Box<kith_core::VerifiedEntry>,
    },
    /// A peer asks for sync data: answer with [`Client::respond`] (see `replica`).
    SyncRequest {
        /// Pass back to [`Client::respond`].
        id: u64,
        /// Who asks.
        peer: PeerId,
        /// What it asks.
        message: kith_core::sync::Message,
    },
    /// A peer sends a notification (an encoded entry, not yet verified): answer with
    /// [`Client::answer_note`]. Only what passed the per-peer [`notify::Throttle`] arrives.
    Note {
        /// Pass back to [`Client::answer_note`].
        id: u64,
        /// Who sent it.
        peer: PeerId,
        /// The entry's bytes.
        bytes: Vec<u8>,
    },
    /// A peer asks a search query: answer with [`Client::answer_query`]. Only a query within
    /// its sender's rate, with an id not seen before, arrives.
    Query {
        /// Pass back to [`Client::answer_query`].
        id: u64,
        /// Who asks.
        peer: PeerId,
        /// The query.
        query: search::Query,
    },
    /// A peer asks for an image by hash: answer with [`Client::answer_image`]. Only a request
    /// within its sender's rate arrives.
    ImageRequest {
        /// Pass back to [`Client::answer_image`].
        id: u64,
        /// Who asks.
        peer: PeerId,
        /// The image's SHA-256.
        hash: kith_core::Hash,
    },
    /// A peer forwarded an entry that does not verify; it was rejected (and the peer penalised).
    InvalidEntry {
        /// The peer it came through.
        from: PeerId,
        /// Why it was refused.
        reason: String,
    },
}

/// Milliseconds since the Unix epoch, by this device's clock (works in the browser too).
pub fn now_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Why a network operation failed. Each message says what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The event loop is gone (it was never spawned, or it stopped).
    #[error("the network task is not running")]
    Stopped,
    /// Building the transports failed.
    #[error("could not set up the network transports: {0}")]
    Setup(String),
    /// No address was given to dial.
    #[error("no address to dial for {0}")]
    NoAddress(PeerId),
    /// Every address failed.
    #[error("could not reach {peer}: {reason}")]
    Dial {
        /// The peer that was dialed.
        peer: PeerId,
        /// libp2p's account of the failure.
        reason: String,
    },
    /// The Kademlia bootstrap query failed.
    #[error("DHT bootstrap failed: {0}")]
    Bootstrap(String),
    /// A sync request failed (unreachable peer, timeout, garbage answer).
    #[error("sync with {peer} failed: {reason}")]
    Sync {
        /// The peer.
        peer: PeerId,
        /// What went wrong.
        reason: String,
    },
    /// A DHT operation failed.
    #[error("DHT: {0}")]
    Dht(String),
    /// Listening through a relay failed.
    #[error("could not listen through the relay: {0}")]
    Relay(String),
    /// An entry could not be published.
    #[error("could not publish: {0}")]
    Publish(PublishError),
    /// Following a feed live (subscribing to its topic) failed.
    #[error("could not follow live: {0}")]
    Subscribe(String),
}

/// Why gossipsub did not take an entry to publish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The same entry was published before (an earlier try went out after all).
    #[error("this entry was already published")]
    Duplicate,
    /// Nobody listening on the entry's topic is known yet (right after a connection).
    #[error("nobody is listening yet")]
    NoPeers,
    /// The entry is larger than a gossip message may be.
    #[error("the entry is too large for live delivery")]
    TooLarge,
    /// Anything else gossipsub reported.
    #[error("{0}")]
    Other(String),
}

impl From<libp2p::gossipsub::PublishError> for PublishError {
    fn from(e: libp2p::gossipsub::PublishError) -> Self {
        use libp2p::gossipsub::PublishError as G;
        match e {
            G::Duplicate => PublishError::Duplicate,
            G::NoPeersSubscribedToTopic => PublishError::NoPeers,
            G::MessageTooLarge => PublishError::TooLarge,
            other => PublishError::Other(other.to_string()),
        }
    }
}

/// What the event loop had to leave out because its consumer was slow: the event loop never
/// waits for a consumer, so it counts instead (see [`Client::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Live entries that arrived and verified (taken or dropped).
    pub live_entries: u64,
    /// Live entries ignored unverified: their feed shares a followed feed's shard but is not
    /// followed here (see [`crate::gossip`]).
    pub ignored_entries: u64,
    /// Live entries dropped because the event queue was full (a sync fills the gap later).
    pub dropped_entries: u64,
    /// Other events dropped because the event queue and its overflow were full.
    pub dropped_events: u64,
    /// Inbound sync requests refused because the consumer was not taking them.
    pub dropped_requests: u64,
    /// Notifications answered "later" at once: over their sender's rate, or too many waiting.
    pub throttled_notes: u64,
    /// Queries answered with nothing at once: over their sender's rate, or too many waiting.
    pub throttled_queries: u64,
    /// Image requests answered "busy" at once: over their sender's rate, or too many waiting.
    pub throttled_images: u64,
    /// Queries answered with nothing at once because their id was seen before (a loop).
    pub repeated_queries: u64,
    /// Queries handed to the agent to answer.
    pub queries_taken: u64,
}

/// How often a node pings each connected peer, by default.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How long a ping may take, by default, before the connection is closed as dead.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// What a node needs to know when it is built.
#[derive(Debug, Clone)]
pub struct Config {
    /// Sent in identify so node operators can tell clients apart.
    pub agent_version: String,
    /// How often to ping each connected peer.
    pub ping_interval: Duration,
    /// How long a ping may take before the connection is considered dead and closed.
    pub ping_timeout: Duration,
    /// How long a connection with nothing to do stays open.
    pub idle_timeout: Duration,
    /// Gossipsub's heartbeat.
    pub gossip_heartbeat: Duration,
    /// How long a connection to a kith-node that holds no relay listener or circuit of this
    /// node stays open once the DHT is quiet ([`linger`]).
    pub node_linger: Duration,
    /// The person's claim of this node's key, when the node is one of their devices (a
    /// browser's): said in identify after the agent version, and published in the DHT
    /// ([`Client::announce_device`]).
    pub device: Option<kith_core::DeviceClaim>,
    /// Direct browser-to-browser connections (`/webrtc`): how many, and how often.
    pub direct: direct::Limits,
    /// The `/webrtc` transport's settings (ICE servers, timeouts, bounds).
    pub webrtc: kith_webrtc::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            agent_version: format!("kith/{}", env!("CARGO_PKG_VERSION")),
            ping_interval: PING_INTERVAL,
            ping_timeout: PING_TIMEOUT,
            idle_timeout: Duration::from_secs(3600),
            gossip_heartbeat: Duration::from_secs(1),
            node_linger: Duration::from_millis(linger::LINGER_MS),
            device: None,
            direct: direct::Limits::default(),
            webrtc: kith_webrtc::Config::default(),
        }
    }
}

/// Builds a node: the handle, the event stream, and the loop to spawn.
pub fn new(
    keypair: Keypair,
    config: Config,
) -> Result<(Client, mpsc::Receiver<Event>, EventLoop), NetError> {
    let mut config = config;
    if let Some(claim) = &config.device {
        config.agent_version = format!("{} {}", config.agent_version, claim.to_text());
    }
    let swarm = platform::build_swarm(keypair.clone(), &config)?;
    let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
    Ok((
        Client::new(keypair, command_tx, config.device.clone()),
        event_rx,
        EventLoop::new(
            swarm,
            command_rx,
            event_tx,
            config.direct,
            u64::try_from(config.node_linger.as_millis()).unwrap_or(u64::MAX),
        ),
    ))
}
