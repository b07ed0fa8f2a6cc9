//! The seam between the app and whatever carries its entries: [`Network`], in the app's own
//! terms, and the [`News`] that comes back.
//!
//! Three things implement it: kith-net's agent (the tab, or a native program, that runs the
//! libp2p node), kith-web's proxy in a browser tab that asks the tab running the node, and
//! the recording fake of this crate's tests. The app never waits on a call for its own work:
//! long calls run in tasks of their own (see [`App`](crate::App)), and the outcome of a sync
//! arrives later as [`News`].

use futures::future::LocalBoxFuture;
use kith_core::{AuthorId, Letter, LetterId, NameClaim, VerifiedEntry};

/// Why a network call did not do its work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetFailure {
    /// Not connected (yet): the call could not be tried.
    NotConnected,
    /// Tried, and failed; said for the person.
    Failed(String),
}

impl std::fmt::Display for NetFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetFailure::NotConnected => f.write_str("the node is not connected yet"),
            NetFailure::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for NetFailure {}

/// What a network call returns.
pub type NetResult<T> = LocalBoxFuture<'static, Result<T, NetFailure>>;

/// What the app asks of the network. Every future owns what it needs (`'static`), so the app
/// can run it in a task of its own.
pub trait Network {
    /// Sends my stored entry to whoever follows me live. With nobody listening it stays in
    /// the store, and followers fetch it when they next sync.
    fn publish(&self, entry: VerifiedEntry) -> NetResult<()>;
    /// Receives `author`'s new entries live from now on.
    fn follow_live(&self, author: AuthorId) -> NetResult<()>;
    /// Announces that this device holds `author`'s feed, so others can fetch it from here.
    fn provide(&self, author: AuthorId) -> NetResult<()>;
    /// Brings `author`'s feed up to date from whoever holds it, in the background; the
    /// outcome comes back as [`News::Synced`] or [`News::Unreachable`].
    fn sync(&self, author: AuthorId);
    /// The verified claimants of a (normalised) handle, as (author, handle) pairs.
    fn lookup_name(&self, handle: String) -> NetResult<Vec<(AuthorId, String)>>;
    /// Publishes my signed claim of a handle.
    fn claim_name(&self, claim: NameClaim) -> NetResult<()>;
    /// The people who announce `author`'s feed (never this device).
    fn find_holders(&self, author: AuthorId) -> NetResult<Vec<AuthorId>>;
    /// Stops waiting and reconnects now.
    fn retry_now(&self);
    /// Searches the posts that peers hold (the peers connected here and theirs, up to `ttl`
    /// hops): each verified post once, with the person whose device it came through, if known.
    fn search_posts(&self, words: String, ttl: u8) -> NetResult<PostHits>;
    /// Keeps my message `letter`, sealed as `sealed`, and delivers it to a device of its
    /// addressee: now, and from the outbox until one takes it ([`News::Letters`] when it
    /// moves on).
    fn send_letter(&self, letter: Letter, sealed: Vec<u8>) -> NetResult<()>;
    /// Fetches image `index` of the entry `author`/`seq` (held here) from the author or a
    /// holder of the feed; once it returns `Ok` the store has the image's checked bytes.
    fn fetch_image(&self, author: AuthorId, seq: u64, index: u8) -> NetResult<()>;
    /// I read `peer`'s messages sent up to `up_to_ms`: my read mark moves, and if it moved
    /// `receipt` (a sealed read receipt with id `id`) goes to them.
    fn read_letters(
        &self,
        peer: AuthorId,
        up_to_ms: u64,
        id: LetterId,
        receipt: Vec<u8>,
    ) -> NetResult<()>;
}

/// What a search of the network found: each post, and the person whose device passed it on
/// (when known); among them, the profile entries of their authors (with no device named),
/// which name people the app does not know.
pub type PostHits = Vec<(VerifiedEntry, Option<AuthorId>)>;

/// Where a sync fetched a feed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// From its author.
    Author,
    /// From another person's device (a follower holding a copy).
    Person(AuthorId),
    /// From a peer that is not a person's device (its network id).
    Peer(String),
}

/// What the network reports to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// The network is up: names can be claimed, lookups made.
    Online,
    /// A sync of `author`'s feed is under way.
    SyncProgress {
        /// The feed.
        author: AuthorId,
        /// Entries fetched so far.
        have: u64,
        /// Entries known to be missing.
        want: u64,
    },
    /// `author`'s feed was brought up to date (its new entries are in the store).
    Synced {
        /// The feed.
        author: AuthorId,
        /// Where from.
        from: Source,
        /// Entries fetched.
        fetched: u64,
        /// Over a direct connection (browser to browser).
        direct: bool,
    },
    /// Nobody holding `author`'s feed answered.
    Unreachable {
        /// The feed.
        author: AuthorId,
    },
    /// A sync of `author`'s feed fetched entries this device could not store (a full disk):
    /// what was stored before stays, and nothing is shown that is not stored.
    StoreFailed {
        /// The feed.
        author: AuthorId,
        /// The store's error, said for the person.
        reason: String,
    },
    /// `author`'s feed reached this device's cap on one feed (settings
    /// [`kith_store::limits`]): its entries up to `held` are kept, later ones are not.
    Capped {
        /// The feed.
        author: AuthorId,
        /// The last seq kept.
        held: u64,
        /// How far the feed is known to go.
        available: u64,
        /// The cap in entries.
        max_entries: u64,
        /// The cap in bytes.
        max_bytes: u64,
    },
    /// A live entry was stored.
    Stored {
        /// The entry, as stored.
        entry: Box<VerifiedEntry>,
    },
    /// A notification (someone's entry that concerns the person) arrived and is in the inbox.
    Notified {
        /// What the inbox keeps of it.
        note: kith_store::Note,
        /// The entry.
        entry: Box<VerifiedEntry>,
    },
    /// The direct messages with `peer` changed in the store: a message from them arrived,
    /// or they read mine.
    Letters {
        /// With whom.
        peer: AuthorId,
    },
    /// `author` signed two different entries at `seq`; the evidence is in the feed's
    /// metadata.
    Forked {
        /// The feed.
        author: AuthorId,
        /// The position.
        seq: u64,
    },
}
