//! Feed entries: a signed header and a separate payload.
//!
//! The header names the payload by hash and length, and the signature covers the exact header
//! bytes. Entries travel and are stored as the bytes that were signed, never re-encoded. The
//! entry's hash (what the next entry's `prev` names) covers the header and its signature but
//! not the payload, so a deleted post's payload can be dropped on every replica while the
//! chain still verifies.
//!
//! Encoding: postcard (serde), which is deterministic for these types.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::identity::{AuthorId, Identity};
use crate::image::ImageRef;

/// The header format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// The longest post, in characters (Unicode scalar values).
pub const MAX_POST_CHARS: usize = 2_000;
/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest bio, in characters.
pub const MAX_BIO_CHARS: usize = 500;
/// The longest avatar reference, in bytes.
pub const MAX_AVATAR_BYTES: usize = 256;
/// The most mentions in one post.
pub const MAX_MENTIONS: usize = 32;
/// The longest reaction, in bytes (one emoji, possibly with modifiers).
pub const MAX_REACTION_BYTES: usize = 32;
/// The largest payload, in bytes: a maximal post (4 bytes a character) plus mentions.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024;
/// The largest encoded entry (header, signature, payload): comfortably under the 16 KiB of
/// one DHT packet and one gossip message.
pub const MAX_ENTRY_BYTES: usize = 12 * 1024;
/// The largest encoded header with its signature.
pub const MAX_HEADER_BYTES: usize = 256;

/// A reference to one entry of one feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryRef {
    /// The feed.
    pub author: AuthorId,
    /// The entry's position, from 1.
    pub seq: u64,
    /// The entry's hash, so the reference cannot be satisfied by a forged entry.
    pub hash: Hash,
}

/// What kind of payload an entry carries. The header says it, so a replica that dropped a
/// payload still knows what was there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayloadKind {
    /// A post.
    Post,
    /// A profile update.
    Profile,
    /// Starts following an author.
    Follow,
    /// Stops following an author.
    Unfollow,
    /// Deletes one of the author's own entries.
    Delete,
    /// A reaction to an entry.
    Reaction,
}

/// The content of an entry.
///
/// On the wire a post with images is a variant of its own, appended after the others
/// ([`WirePayload`]), so a post without images keeps the bytes it always had and every entry
/// signed before images existed still decodes and hashes the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "WirePayload", try_from = "WirePayload")]
pub enum Payload {
    /// A post.
    Post {
        /// The text, shown as text (never HTML).
        text: String,
        /// The post this replies to.
        reply_to: Option<EntryRef>,
        /// Authors mentioned.
        mentions: Vec<AuthorId>,
        /// Its images, at most [`MAX_IMAGES`](crate::image::MAX_IMAGES), in order; the bytes
        /// travel apart ([`crate::image`]).
        images: Vec<ImageRef>,
    },
    /// A profile update; the latest one wins.
    Profile {
        /// Display name (not unique).
        name: String,
        /// A short bio.
        bio: String,
        /// The avatar image, as [`ImageRef::to_avatar`] writes it, if any.
        avatar: Option<String>,
    },
    /// Starts following `author`.
    Follow {
        /// Who.
        author: AuthorId,
    },
    /// Stops following `author`.
    Unfollow {
        /// Who.
        author: AuthorId,
    },
    /// Deletes the author's own entry at `seq`.
    Delete {
        /// The entry to delete; its feed must be this entry's author.
        target: EntryRef,
    },
    /// A reaction.
    Reaction {
        /// The entry reacted to.
        target: EntryRef,
        /// One emoji.
        emoji: String,
    },
}

/// [`Payload`] as postcard encodes it: the variants in the order they were added, each
/// keeping its index forever.
#[derive(Serialize, Deserialize)]
enum WirePayload {
    Post {
        text: String,
        reply_to: Option<EntryRef>,
        mentions: Vec<AuthorId>,
    },
    Profile {
        name: String,
        bio: String,
        avatar: Option<String>,
    },
    Follow {
        author: AuthorId,
    },
    Unfollow {
        author: AuthorId,
    },
    Delete {
        target: EntryRef,
    },
    Reaction {
        target: EntryRef,
        emoji: String,
    },
    PostWithImages {
        text: String,
        reply_to: Option<EntryRef>,
        mentions: Vec<AuthorId>,
        images: Vec<ImageRef>,
    },
}

impl From<Payload> for WirePayload {
    fn from(p: Payload) -> WirePayload {
        match p {
            Payload::Post {
                text,
                reply_to,
                mentions,
                images,
            } if images.is_empty() => WirePayload::Post {
                text,
                reply_to,
                mentions,
            },
            Payload::Post {
                text,
                reply_to,
                mentions,
                images,
            } => WirePayload::PostWithImages {
                text,
                reply_to,
                mentions,
                images,
            },
            Payload::Profile { name, bio, avatar } => WirePayload::Profile { name, bio, avatar },
            Payload::Follow { author } => WirePayload::Follow { author },
            Payload::Unfollow { author } => WirePayload::Unfollow { author },
            Payload::Delete { target } => WirePayload::Delete { target },
            Payload::Reaction { target, emoji } => WirePayload::Reaction { target, emoji },
        }
    }
}

impl TryFrom<WirePayload> for Payload {
    type Error = &'static str;

    fn try_from(w: WirePayload) -> Result<Payload, &'static str> {
        Ok(match w {
            WirePayload::Post {
                text,
                reply_to,
                mentions,
            } => Payload::Post {
                text,
                reply_to,
                mentions,
                images: Vec::new(),
            },
            // One encoding per value: a post without images has the older form only.
            WirePayload::PostWithImages { images, .. } if images.is_empty() => {
                return Err("a post with images that names none");
            }
            WirePayload::PostWithImages {
                text,
                reply_to,
                mentions,
                images,
            } => Payload::Post {
                text,
                reply_to,
                mentions,
                images,
            },
            WirePayload::Profile { name, bio, avatar } => Payload::Profile { name, bio, avatar },
            WirePayload::Follow { author } => Payload::Follow { author },
            WirePayload::Unfollow { author } => Payload::Unfollow { author },
            WirePayload::Delete { target } => Payload::Delete { target },
            WirePayload::Reaction { target, emoji } => Payload::Reaction { target, emoji },
        })
    }
}

impl Payload {
    /// The kind the header must declare.
    pub fn kind(&self) -> PayloadKind {
        match self {
            Payload::Post { .. } => PayloadKind::Post,
            Payload::Profile { .. } => PayloadKind::Profile,
            Payload::Follow { .. } => PayloadKind::Follow,
            Payload::Unfollow { .. } => PayloadKind::Unfollow,
            Payload::Delete { .. } => PayloadKind::Delete,
            Payload::Reaction { .. } => PayloadKind::Reaction,
        }
    }

    /// A post with just text.
    pub fn post(text: impl Into<String>) -> Payload {
        Payload::Post {
            text: text.into(),
            reply_to: None,
            mentions: Vec::new(),
            images: Vec::new(),
        }
    }

    /// The images this entry names: a post's, or a profile's avatar (one that does not parse
    /// names none; validation refuses it).
    pub fn images(&self) -> Vec<ImageRef> {
        match self {
            Payload::Post { images, .. } => images.clone(),
            Payload::Profile {
                avatar: Some(a), ..
            } => ImageRef::from_avatar(a).into_iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// The signed part of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT_VERSION`].
    pub version: u8,
    /// The feed's author; the signature must verify under this key.
    pub author: AuthorId,
    /// Position in the feed, from 1.
    pub seq: u64,
    /// The previous entry's hash; `None` exactly when `seq == 1`.
    pub prev: Option<Hash>,
    /// Milliseconds since the Unix epoch, by the author's clock.
    pub timestamp_ms: u64,
    /// What the payload is.
    pub kind: PayloadKind,
    /// SHA-256 of the payload bytes.
    pub payload_hash: Hash,
    /// Length of the payload bytes.
    pub payload_len: u32,
}

/// An entry as it travels and is stored: the exact signed header bytes, the signature, and
/// the payload bytes (absent once purged, or not yet fetched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEntry {
    /// The postcard encoding of a [`Header`], exactly as signed.
    pub header: Vec<u8>,
    /// Ed25519 signature over `header`.
    pub signature: Vec<u8>,
    /// The postcard encoding of a [`Payload`], if held.
    pub payload: Option<Vec<u8>>,
}

impl RawEntry {
    /// The wire and storage encoding.
    pub fn encode(&self) -> Vec<u8> {
        // Encoding plain byte vectors into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// The bytes it holds (header, signature and payload), as stores count a feed's size.
    pub fn byte_len(&self) -> u64 {
        let payload = self.payload.as_ref().map_or(0, Vec::len);
        (self.header.len() + self.signature.len() + payload) as u64
    }

    /// The entry's hash: over the header bytes and the signature, not the payload.
    pub fn hash(&self) -> Hash {
        Hash::of(&[&self.header, &self.signature])
    }
}

/// Signs a new entry. The caller (a [`Feed`](crate::Feed)) supplies the position, the
/// previous hash and the time; validation of the result is the caller's next step.
pub fn sign_entry(
    identity: &Identity,
    seq: u64,
    prev: Option<Hash>,
    timestamp_ms: u64,
    payload: &Payload,
) -> RawEntry {
    // Encoding these serde types into a Vec cannot fail.
    let payload_bytes = postcard::to_allocvec(payload).unwrap_or_default();
    let header = Header {
        version: FORMAT_VERSION,
        author: identity.author(),
        seq,
        prev,
        timestamp_ms,
        kind: payload.kind(),
        payload_hash: Hash::of(&[&payload_bytes]),
        payload_len: u32::try_from(payload_bytes.len()).unwrap_or(u32::MAX),
    };
    let header = postcard::to_allocvec(&header).unwrap_or_default();
    let signature = identity.sign(&header).to_vec();
    RawEntry {
        header,
        signature,
        payload: Some(payload_bytes),
    }
}
