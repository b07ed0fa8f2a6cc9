//! The one-file backup: the encrypted identity plus every feed the person holds.
//!
//! Format, version 4 (postcard encoding of [`BackupFile`]; versions 1, 2 and 3, still read,
//! are the same without `people`, `dms` and `images`, without `dms` and `images`, and without
//! `images`):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `magic` | 8 bytes | `KITHBKUP` |
//! | `version` | u16 | 4 |
//! | `created_ms` | u64 | when it was written |
//! | `author` | 32 bytes | the person's author id |
//! | `identity` | bytes | `Identity::export` (Argon2id + ChaCha20-Poly1305 under the passphrase) |
//! | `feeds` | list | per feed: author, followed, and every entry as its signed bytes |
//! | `people` | list | whom the person muted or blocked: author and [`Stance`] ([`crate::people`]) |
//! | `dms` | bytes | the direct messages ([`crate::dms::Export`]), sealed to the person's own key ([`kith_core::dm::seal_for_self`]); empty if none |
//! | `images` | list | the pictures of the person's own posts and avatars held here: entry seq, index, bytes ([`BackupImage`]) |
//!
//! Import verifies everything before it writes anything: the passphrase opens the identity,
//! the identity is the file's author, every entry of every feed verifies against its author's
//! key and chains, and every picture is the one its entry names ([`kith_core::image::check`]).
//! Then all entries go into the store in one transaction, and the pictures after them. Entries already held
//! are skipped, so importing the same file twice is harmless. The direct messages open only
//! with the identity inside (so only with the passphrase) and are added to those here. The muted and blocked people are
//! added to those of this browser (a stance taken here stays). A backup of another person than
//! the one this browser already holds is refused.

use kith_core::{AuthorId, Feed, Identity, KdfParams, KeyExportError};
use serde::{Deserialize, Serialize};

use crate::dms;
use crate::people::{self, People, PeopleError, Stance};
use crate::{Store, StoreError};

/// The file's first bytes.
pub const MAGIC: [u8; 8] = *b"KITHBKUP";
/// The format version written.
pub const VERSION: u16 = 4;
/// The oldest format version read.
pub const OLDEST_VERSION: u16 = 1;
/// The largest backup read, in bytes.
pub const MAX_BACKUP_BYTES: usize = 512 * 1024 * 1024;

/// The file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: u16,
    /// When it was written (ms since the epoch).
    pub created_ms: u64,
    /// The person.
    pub author: AuthorId,
    /// The encrypted identity.
    pub identity: Vec<u8>,
    /// Every feed held.
    pub feeds: Vec<BackupFeed>,
    /// Whom the person muted or blocked (since version 2).
    pub people: Vec<(AuthorId, Stance)>,
    /// The direct messages, sealed to the person's own key (since version 3; empty if none).
    pub dms: Vec<u8>,
    /// The pictures of the person's own entries held here (since version 4).
    pub images: Vec<BackupImage>,
}

/// One picture of one of the person's own entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupImage {
    /// The entry's seq in the person's feed.
    pub seq: u64,
    /// Which of its images.
    pub index: u8,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Version 3: [`BackupFile`] without `images`.
#[derive(Deserialize)]
struct BackupFileV3 {
    magic: [u8; 8],
    version: u16,
    created_ms: u64,
    author: AuthorId,
    identity: Vec<u8>,
    feeds: Vec<BackupFeed>,
    people: Vec<(AuthorId, Stance)>,
    dms: Vec<u8>,
}

impl From<BackupFileV3> for BackupFile {
    fn from(v3: BackupFileV3) -> BackupFile {
        BackupFile {
            magic: v3.magic,
            version: v3.version,
            created_ms: v3.created_ms,
            author: v3.author,
            identity: v3.identity,
            feeds: v3.feeds,
            people: v3.people,
            dms: v3.dms,
            images: Vec::new(),
        }
    }
}

/// Version 2: [`BackupFile`] without `dms`.
#[derive(Deserialize)]
struct BackupFileV2 {
    magic: [u8; 8],
    version: u16,
    created_ms: u64,
    author: AuthorId,
    identity: Vec<u8>,
    feeds: Vec<BackupFeed>,
    people: Vec<(AuthorId, Stance)>,
}

impl From<BackupFileV2> for BackupFile {
    fn from(v2: BackupFileV2) -> BackupFile {
        BackupFile {
            magic: v2.magic,
            version: v2.version,
            created_ms: v2.created_ms,
            author: v2.author,
            identity: v2.identity,
            feeds: v2.feeds,
            people: v2.people,
            dms: Vec::new(),
            images: Vec::new(),
        }
    }
}

/// Version 1: [`BackupFile`] without `people`.
#[derive(Deserialize)]
struct BackupFileV1 {
    magic: [u8; 8],
    version: u16,
    created_ms: u64,
    author: AuthorId,
    identity: Vec<u8>,
    feeds: Vec<BackupFeed>,
}

impl From<BackupFileV1> for BackupFile {
    fn from(v1: BackupFileV1) -> BackupFile {
        BackupFile {
            magic: v1.magic,
            version: v1.version,
            created_ms: v1.created_ms,
            author: v1.author,
            identity: v1.identity,
            feeds: v1.feeds,
            people: Vec::new(),
            dms: Vec::new(),
            images: Vec::new(),
        }
    }
}

/// Decodes a file of any version read, after its magic was checked.
fn decode(bytes: &[u8]) -> Result<BackupFile, BackupError> {
    let (_, version): ([u8; 8], u16) = postcard::take_from_bytes::<([u8; 8], u16)>(bytes)
        .map(|(head, _)| head)
        .map_err(|_| BackupError::NotABackup)?;
    match version {
        1 => postcard::from_bytes::<BackupFileV1>(bytes)
            .map(BackupFile::from)
            .map_err(|_| BackupError::NotABackup),
        2 => postcard::from_bytes::<BackupFileV2>(bytes)
            .map(BackupFile::from)
            .map_err(|_| BackupError::NotABackup),
        3 => postcard::from_bytes::<BackupFileV3>(bytes)
            .map(BackupFile::from)
            .map_err(|_| BackupError::NotABackup),
        VERSION => postcard::from_bytes(bytes).map_err(|_| BackupError::NotABackup),
        other => Err(BackupError::UnsupportedVersion(other)),
    }
}

/// One feed in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFeed {
    /// Its author.
    pub author: AuthorId,
    /// Whether the person follows it.
    pub followed: bool,
    /// Every entry, in order, as signed bytes.
    pub entries: Vec<Vec<u8>>,
}

/// What an import restored.
#[derive(Debug)]
pub struct Restored {
    /// The person's identity.
    pub identity: Identity,
    /// Feeds in the file.
    pub feeds: usize,
    /// Entries in the file.
    pub entries: usize,
}

/// Why a backup could not be written or read. Nothing is written when reading fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// Not a Kith backup.
    #[error("this is not a Kith backup file")]
    NotABackup,
    /// Written by a newer Kith.
    #[error(
        "this backup has format version {0}; this Kith reads versions {OLDEST_VERSION} to {VERSION}"
    )]
    UnsupportedVersion(u16),
    /// The identity could not be opened.
    #[error("the identity in this backup could not be opened: {0}")]
    Identity(#[from] KeyExportError),
    /// The file names another person than the identity inside, or than this browser's.
    #[error("this backup belongs to someone else; it cannot be restored as your own")]
    NotYours,
    /// An entry failed verification: the file was altered or damaged.
    #[error(
        "entry {seq} of feed {author:?} does not verify ({reason}); the file was altered or damaged, nothing was imported"
    )]
    Tampered {
        /// The feed.
        author: AuthorId,
        /// The entry's position in the file, from 1.
        seq: usize,
        /// Why.
        reason: String,
    },
    /// The list of muted and blocked people could not be read or kept.
    #[error(transparent)]
    People(#[from] PeopleError),
    /// The direct messages could not be read, opened or kept.
    #[error("the messages in this backup could not be restored: {0}")]
    Messages(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The random values one backup needs, drawn by the caller from a CSPRNG for each backup.
#[derive(Debug, Clone, Copy)]
pub struct Randomness {
    /// The passphrase's salt (stored in the file).
    pub salt: [u8; 16],
    /// The identity's nonce (stored in the file).
    pub nonce: [u8; 12],
    /// Seeds the ephemeral key that seals the direct messages; stored nowhere.
    pub dms_seed: [u8; 32],
}

/// Writes a backup of everything `store` holds, with `identity` encrypted under `passphrase`.
pub async fn export(
    store: &impl Store,
    identity: &Identity,
    passphrase: &str,
    kdf: KdfParams,
    random: Randomness,
    now_ms: u64,
) -> Result<Vec<u8>, BackupError> {
    let encrypted = identity.export(passphrase, kdf, random.salt, random.nonce)?;
    let mut feeds = Vec::new();
    let mut images = Vec::new();
    for meta in store.feeds().await? {
        let mut entries = Vec::new();
        let mut from = 1;
        loop {
            let batch = store.range(&meta.author, from, crate::MAX_READ).await?;
            if batch.is_empty() {
                break;
            }
            from += batch.len() as u64;
            entries.extend(batch.iter().map(|e| e.encode()));
            if meta.author != identity.author() {
                continue;
            }
            for e in &batch {
                let named = e
                    .payload()
                    .map(kith_core::Payload::images)
                    .unwrap_or_default();
                for (image, index) in named.iter().zip(0u8..) {
                    if let Some(bytes) = store.image(&image.hash).await? {
                        images.push(BackupImage {
                            seq: e.seq(),
                            index,
                            bytes,
                        });
                    }
                }
            }
        }
        feeds.push(BackupFeed {
            author: meta.author,
            followed: meta.followed,
            entries,
        });
    }
    let messages = dms::export(store)
        .await
        .map_err(|e| BackupError::Messages(e.to_string()))?;
    let dms = if messages.is_empty() {
        Vec::new()
    } else {
        kith_core::dm::seal_for_self(identity, &messages.encode(), random.dms_seed)
            .map_err(|e| BackupError::Messages(e.to_string()))?
    };
    let file = BackupFile {
        magic: MAGIC,
        version: VERSION,
        created_ms: now_ms,
        author: identity.author(),
        identity: encrypted,
        feeds,
        people: people::read(store).await?.iter().collect(),
        dms,
        images,
    };
    postcard::to_allocvec(&file).map_err(|e| BackupError::Store(StoreError::Backend(e.to_string())))
}

/// Reads a backup into `store`. `current` is the person this browser already holds, if any.
pub async fn import(
    store: &impl Store,
    bytes: &[u8],
    passphrase: &str,
    current: Option<AuthorId>,
    now_ms: u64,
) -> Result<Restored, BackupError> {
    if bytes.len() > MAX_BACKUP_BYTES || bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC
    {
        return Err(BackupError::NotABackup);
    }
    let file = decode(bytes)?;
    if file.people.len() > people::MAX_PEOPLE {
        return Err(BackupError::Tampered {
            author: file.author,
            seq: 0,
            reason: format!("{} muted or blocked people", file.people.len()),
        });
    }
    if current.is_some_and(|c| c != file.author) {
        return Err(BackupError::NotYours);
    }
    let identity = Identity::import(&file.identity, passphrase)?;
    if identity.author() != file.author {
        return Err(BackupError::NotYours);
    }
    // Verify everything before writing anything.
    let messages = if file.dms.is_empty() {
        None
    } else {
        let bytes = kith_core::dm::open_for_self(&identity, &file.dms)
            .map_err(|e| BackupError::Messages(e.to_string()))?;
        let export =
            dms::Export::decode(&bytes).map_err(|e| BackupError::Messages(e.to_string()))?;
        export
            .check_writers(&identity.author())
            .map_err(|e| BackupError::Messages(e.to_string()))?;
        Some(export)
    };
    let mut verified = Vec::new();
    let mut count = 0;
    for bf in &file.feeds {
        let mut feed = Feed::new(bf.author);
        for (i, e) in bf.entries.iter().enumerate() {
            feed.insert(e, now_ms)
                .map_err(|err| BackupError::Tampered {
                    author: bf.author,
                    seq: i + 1,
                    reason: err.to_string(),
                })?;
        }
        count += feed.entries().len();
        if bf.author == file.author {
            for image in &file.images {
                let named = feed
                    .get(image.seq)
                    .and_then(|e| e.payload())
                    .and_then(|p| p.images().get(usize::from(image.index)).copied());
                let fits = named.is_some_and(|r| kith_core::image::check(&r, &image.bytes).is_ok());
                if !fits {
                    return Err(BackupError::Tampered {
                        author: file.author,
                        seq: usize::try_from(image.seq).unwrap_or(usize::MAX),
                        reason: format!("picture {} is not the one the entry names", image.index),
                    });
                }
            }
        }
        verified.extend(feed.entries().iter().cloned());
    }
    if !file.images.is_empty() && !file.feeds.iter().any(|f| f.author == file.author) {
        return Err(BackupError::Tampered {
            author: file.author,
            seq: 0,
            reason: "pictures without the feed that names them".into(),
        });
    }
    store.insert(&verified).await?;
    for image in &file.images {
        match store
            .put_image(&file.author, image.seq, image.index, &image.bytes)
            .await
        {
            // Its entry is held here without its payload (deleted since the backup): the
            // picture goes with it, and the rest of the import goes on.
            Ok(()) | Err(StoreError::ImageRefused(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for bf in &file.feeds {
        let followed = bf.followed || bf.author == file.author;
        store
            .update_meta(&bf.author, &|m| m.followed |= followed)
            .await?;
    }
    if !file.people.is_empty() {
        let mut from_file = People::default();
        for (a, s) in &file.people {
            from_file.set(*a, Some(*s))?;
        }
        let mut here = people::read(store).await?;
        if here.merge(&from_file) > 0 {
            people::write(store, &here).await?;
        }
    }
    if let Some(m) = &messages {
        dms::import(store, m)
            .await
            .map_err(|e| BackupError::Messages(e.to_string()))?;
    }
    store.set_identity(&identity.secret()).await?;
    Ok(Restored {
        identity,
        feeds: file.feeds.len(),
        entries: count,
    })
}
