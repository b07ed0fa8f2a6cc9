//! kith-core: the rules of Kith, with no I/O, no clock and no networking.
//!
//! Everything here is pure: bytes and the current time in, verified values or one exact error
//! out. The same code runs natively, in the browser and in simulations.
//!
//! How the parts cooperate:
//! - [`identity`]: a person is an Ed25519 key ([`Identity`]); its public half is the
//!   [`AuthorId`]. Keys export encrypted under a passphrase (Argon2id + ChaCha20-Poly1305);
//!   [`AuthorId::fingerprint`] is what people compare.
//! - [`device`]: each browser's node has a network key of its own, and the person's key signs
//!   it ([`DeviceClaim`]), so one person can be online on two devices at once.
//! - [`entry`]: an entry is a signed [`Header`] plus a separate [`Payload`], carried as the
//!   exact signed bytes ([`RawEntry`]). Limits are constants there.
//! - [`image`]: a post names up to four images, and a profile its avatar, by [`ImageRef`]
//!   (hash, length, type, size); the bytes travel apart and [`image::check`] says whether
//!   bytes are the image named (an allowed type of the declared size, without metadata).
//! - [`validate`]: bytes plus what the feed expects become a [`VerifiedEntry`] or one
//!   [`EntryError`]. Only verified entries are stored, shown or forwarded.
//! - [`feed`]: a [`Feed`] appends the author's entries and takes replicas' entries, detects
//!   forks ([`ForkEvidence`]), purges deleted payloads, and derives follow state.
//! - [`timeline`]: merges followed feeds newest first, in stable pages, replies under parents.
//! - [`sync`]: the sans-I/O sync state machine and its size-bounded message codec. It is fed
//!   messages and the time, and yields messages to send and events (verified entries, forks,
//!   progress); kith-net moves the bytes.
//! - [`social`]: follow links (and QR text) and friends-of-friends suggestions; [`name`]:
//!   signed handle claims (names are not unique: lookups show every claimant).
//! - [`dm`]: direct messages, sealed with HPKE to the addressee's key (derived from their
//!   identity key), authenticated as the writer's, dated and with a random id against
//!   replays.
//! - [`notify`]: which entries concern which people (replies, mentions, reactions, follows),
//!   the rule behind notifications on both ends.
//! - [`bootstrap`] and [`backoff`]: the node's bootstrap document and the reconnect schedule.

pub mod backoff;
pub mod bootstrap;
mod codec;
pub mod device;
pub mod dm;
pub mod entry;
pub mod feed;
pub mod hash;
pub mod identity;
pub mod image;
pub mod name;
pub mod notify;
pub mod social;
pub mod sync;
#[cfg(test)]
mod testutil;
pub mod timeline;
pub mod validate;

pub use backoff::Backoff;
pub use bootstrap::{BootstrapDoc, BootstrapError};
pub use device::{DeviceClaim, DeviceError};
pub use dm::{Body, DmError, Letter, LetterId};
pub use entry::{EntryRef, Header, Payload, PayloadKind, RawEntry};
pub use feed::{Feed, FeedError, ForkEvidence, Inserted, next_entry};
pub use hash::Hash;
pub use identity::{AuthorId, Identity, KdfParams, KeyExportError};
pub use image::{ImageError, ImageKind, ImageRef};
pub use name::{NameClaim, NameError};
pub use notify::NoteKind;
pub use social::{FollowLink, LinkError, friends_of_friends};
pub use timeline::{Cursor, Page, Thread, Timeline};
pub use validate::{
    EntryError, Expect, Prev, VERIFY_BATCH, VerifiedEntry, claimed_author, reload, validate,
    validate_detached, validate_detached_all,
};

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
