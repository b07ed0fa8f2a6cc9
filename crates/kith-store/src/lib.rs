//! kith-store: where a person's Kith data lives, and how it survives.
//!
//! The [`Store`] trait is the one interface the rest of Kith uses to keep data. Its futures
//! do not need `Send`, so the browser backend, built on IndexedDB (whose handles are `!Send`),
//! fits the same trait as the native one. Backends:
//! - [`MemoryStore`]: in memory, for native code and tests;
//! - `IdbStore` (browser only, module `idb`): IndexedDB, versioned schema with migrations.
//!
//! What is kept, per the data model in kith-core:
//! - the identity secret (wrapped by the IndexedDB backend under a non-extractable key);
//! - every feed held (the person's own and the replicated feeds they follow), entry headers
//!   and payloads kept apart, so a delete purges the payload and the header chain stays;
//! - the images the entries held name ([`Store::put_image`]), each checked against its
//!   entry's reference, and dropped with the entry's payload;
//! - per-feed metadata ([`FeedMeta`]): head, followed, fork evidence, last synced, counts;
//! - a time index of posts, for timeline pages across followed feeds;
//! - settings, among them whom the person muted or blocked ([`people`]) and the notifications
//!   received and still to deliver ([`inbox`]), and direct messages ([`dms`]).
//!
//! Both backends apply a batch through the same [`plan`](plan::plan): the batch is checked
//! against the stored heads (every entry must chain; a delete purges its target), and then
//! written in one transaction, all or nothing. [`backup`] writes and reads the one-file backup.
//! [`suite`] is the test suite every backend runs.

pub mod backup;
pub mod dms;
pub mod first;
pub mod inbox;
pub mod limits;
mod memory;
pub mod people;
mod plan;
pub mod suite;

#[cfg(target_arch = "wasm32")]
pub mod idb;

use kith_core::{AuthorId, Cursor, ForkEvidence, Prev, VerifiedEntry};
use serde::{Deserialize, Serialize};

pub use inbox::{Inbox, InboxError, Kept, Note, Outbox, Outgoing, Received};
pub use limits::FeedLimits;
pub use memory::MemoryStore;
pub use people::{People, PeopleError, Stance};

/// The longest setting name accepted, in bytes.
pub const MAX_SETTING_KEY: usize = 128;
/// The largest setting value accepted, in bytes.
pub const MAX_SETTING_VALUE: usize = 64 * 1024;
/// The most entries one page or range read returns.
pub const MAX_READ: usize = 1_000;

/// Why a store operation failed. Every message says what happened; none leaves data half
/// written (each write is one transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The key is empty or longer than [`MAX_SETTING_KEY`].
    #[error("setting name must be 1 to {MAX_SETTING_KEY} bytes, got {0}")]
    BadKey(usize),
    /// The value is larger than [`MAX_SETTING_VALUE`].
    #[error("setting value is {0} bytes, more than the {MAX_SETTING_VALUE} allowed")]
    ValueTooLarge(usize),
    /// An entry of the batch does not continue its feed as stored; nothing was written.
    #[error("entry {seq} of {author:?} does not continue the stored feed: {reason}")]
    DoesNotChain {
        /// The feed.
        author: AuthorId,
        /// The entry's seq.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// A different entry is already stored at this position of the feed: the author signed
    /// two histories (or a stale copy of the person's own feed tried to post); nothing was
    /// written.
    #[error("a different entry is already stored at seq {seq} of {author:?}: the feed has forked")]
    Fork {
        /// The feed.
        author: AuthorId,
        /// The position.
        seq: u64,
    },
    /// The browser's storage quota is used up; nothing of the failed write was kept.
    #[error("storage is full: free space or forget a feed in Settings (nothing was lost)")]
    QuotaExceeded,
    /// Image bytes that are not the image a held entry names (or the entry is not held).
    #[error("image refused: {0}")]
    ImageRefused(String),
    /// Stored bytes could not be read back (the storage was altered from outside).
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The backend failed; the message says what it reported.
    #[error("storage failed: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether the error is about the entries written (they do not chain, or fork what is
    /// stored), as opposed to the store itself failing (full, unreadable, unavailable).
    pub fn is_peer_data(&self) -> bool {
        matches!(
            self,
            StoreError::DoesNotChain { .. } | StoreError::Fork { .. } | StoreError::ImageRefused(_)
        )
    }
}

/// What the store knows about one feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedMeta {
    /// The feed's author.
    pub author: AuthorId,
    /// The latest entry held.
    pub head: Option<Prev>,
    /// Whether the person follows this feed (their own feed counts as followed).
    pub followed: bool,
    /// Proof that the author signed two histories, if seen.
    pub fork: Option<ForkEvidence>,
    /// When this feed was last synced from a peer (ms since the epoch).
    pub last_synced_ms: Option<u64>,
    /// Entries held.
    pub entries: u64,
    /// Bytes held (headers, payloads and the images of its entries).
    pub bytes: u64,
}

impl FeedMeta {
    /// An empty feed.
    pub fn new(author: AuthorId) -> FeedMeta {
        FeedMeta {
            author,
            head: None,
            followed: false,
            fork: None,
            last_synced_ms: None,
            entries: 0,
            bytes: 0,
        }
    }

    /// The head seq (0 when empty).
    pub fn head_seq(&self) -> u64 {
        self.head.map_or(0, |h| h.seq)
    }
}

/// The interface every backend implements. Futures are not `Send` (IndexedDB is not).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The person's identity secret, if one is stored.
    async fn identity(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores the identity secret, replacing any earlier one. Backends keep it wrapped where
    /// the platform allows (IndexedDB: under a non-extractable WebCrypto key).
    async fn set_identity(&self, secret: &[u8]) -> Result<(), StoreError>;

    /// Writes a batch of verified entries, of any feeds, in one transaction: all or nothing.
    /// Each must continue its feed; an entry already held is skipped, and a different entry
    /// at a position already held is refused ([`StoreError::Fork`]). A delete purges its
    /// target's payload in the same transaction.
    async fn insert(&self, entries: &[VerifiedEntry]) -> Result<(), StoreError>;
    /// Entries of `author` from `from`, at most `limit` (capped at [`MAX_READ`]).
    async fn range(
        &self,
        author: &AuthorId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError>;
    /// For every feed held, its head seq: what sync advertises.
    async fn frontier(&self) -> Result<Vec<(AuthorId, u64)>, StoreError>;
    /// Posts of followed feeds, newest first, after `cursor`, at most `limit` (capped at
    /// [`MAX_READ`]). Deleted posts are not included.
    async fn timeline(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError>;
    /// Drops the payload of one entry (the header stays).
    async fn purge(&self, author: &AuthorId, seq: u64) -> Result<(), StoreError>;
    /// For each of `entries` (read from this store) held without its payload, the delete
    /// that removed it, when held: what a sync answer carries beside such entries, so the
    /// receiver can tell a deleted post from a withheld one.
    async fn deletes_of(&self, entries: &[VerifiedEntry])
    -> Result<Vec<VerifiedEntry>, StoreError>;
    /// Drops a whole feed and its metadata, and the images of its entries.
    async fn forget(&self, author: &AuthorId) -> Result<(), StoreError>;

    /// Keeps the bytes of image `index` of the entry `author`/`seq`, which must be held with
    /// its payload and name that image; the bytes must be it ([`kith_core::image::check`]),
    /// else [`StoreError::ImageRefused`]. The image goes with the entry's payload: a delete,
    /// a purge or forgetting the feed drops it.
    async fn put_image(
        &self,
        author: &AuthorId,
        seq: u64,
        index: u8,
        bytes: &[u8],
    ) -> Result<(), StoreError>;
    /// The bytes of the image whose SHA-256 is `hash`, if an entry held here keeps it.
    async fn image(&self, hash: &kith_core::Hash) -> Result<Option<Vec<u8>>, StoreError>;

    /// One feed's metadata.
    async fn feed(&self, author: &AuthorId) -> Result<Option<FeedMeta>, StoreError>;
    /// Every feed's metadata (for the storage view).
    async fn feeds(&self) -> Result<Vec<FeedMeta>, StoreError>;
    /// Updates one feed's metadata with `f` (creating it empty if missing).
    async fn update_meta(
        &self,
        author: &AuthorId,
        f: &dyn Fn(&mut FeedMeta),
    ) -> Result<(), StoreError>;

    /// Reads a setting, `None` if it was never written.
    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a setting, replacing any earlier value.
    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes a setting; removing a missing one is not an error.
    async fn delete_setting(&self, key: &str) -> Result<(), StoreError>;
}

/// Every entry of `author` from `from` to the stored head, read [`MAX_READ`] at a time.
pub async fn range_to_head(
    store: &impl Store,
    author: &AuthorId,
    from: u64,
) -> Result<Vec<VerifiedEntry>, StoreError> {
    let mut read: Vec<VerifiedEntry> = Vec::new();
    loop {
        let next = read.last().map_or(from, |e| e.seq().saturating_add(1));
        let batch = store.range(author, next, MAX_READ).await?;
        let n = batch.len();
        read.extend(batch);
        if n < MAX_READ {
            return Ok(read);
        }
    }
}

/// Checks a setting's key and value against the limits every backend enforces.
pub fn check_setting(key: &str, value: &[u8]) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_SETTING_KEY {
        return Err(StoreError::BadKey(key.len()));
    }
    if value.len() > MAX_SETTING_VALUE {
        return Err(StoreError::ValueTooLarge(value.len()));
    }
    Ok(())
}

/// A shared store is a store: the app reads the same IndexedDB database the network agent
/// writes, on one event loop, without a second connection.
impl<S: Store> Store for std::rc::Rc<S> {
    async fn identity(&self) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).identity().await
    }
    async fn set_identity(&self, secret: &[u8]) -> Result<(), StoreError> {
        (**self).set_identity(secret).await
    }
    async fn insert(&self, entries: &[VerifiedEntry]) -> Result<(), StoreError> {
        (**self).insert(entries).await
    }
    async fn range(
        &self,
        author: &AuthorId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        (**self).range(author, from, limit).await
    }
    async fn frontier(&self) -> Result<Vec<(AuthorId, u64)>, StoreError> {
        (**self).frontier().await
    }
    async fn timeline(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        (**self).timeline(cursor, limit).await
    }
    async fn purge(&self, author: &AuthorId, seq: u64) -> Result<(), StoreError> {
        (**self).purge(author, seq).await
    }
    async fn deletes_of(
        &self,
        entries: &[VerifiedEntry],
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        (**self).deletes_of(entries).await
    }
    async fn forget(&self, author: &AuthorId) -> Result<(), StoreError> {
        (**self).forget(author).await
    }
    async fn put_image(
        &self,
        author: &AuthorId,
        seq: u64,
        index: u8,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        (**self).put_image(author, seq, index, bytes).await
    }
    async fn image(&self, hash: &kith_core::Hash) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).image(hash).await
    }
    async fn feed(&self, author: &AuthorId) -> Result<Option<FeedMeta>, StoreError> {
        (**self).feed(author).await
    }
    async fn feeds(&self) -> Result<Vec<FeedMeta>, StoreError> {
        (**self).feeds().await
    }
    async fn update_meta(
        &self,
        author: &AuthorId,
        f: &dyn Fn(&mut FeedMeta),
    ) -> Result<(), StoreError> {
        (**self).update_meta(author, f).await
    }
    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get_setting(key).await
    }
    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        (**self).put_setting(key, value).await
    }
    async fn delete_setting(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete_setting(key).await
    }
}
