//! Validation: raw bytes plus what the feed expects in, a [`VerifiedEntry`] or one exact
//! [`EntryError`] out. Nothing else in Kith looks inside unverified bytes.

use serde::{Deserialize, Serialize};

use crate::entry::{
    FORMAT_VERSION, Header, MAX_AVATAR_BYTES, MAX_BIO_CHARS, MAX_ENTRY_BYTES, MAX_HEADER_BYTES,
    MAX_MENTIONS, MAX_NAME_CHARS, MAX_PAYLOAD_BYTES, MAX_POST_CHARS, MAX_REACTION_BYTES, Payload,
    PayloadKind, RawEntry,
};
use crate::hash::Hash;
use crate::identity::AuthorId;

/// How far ahead of the validator's clock a timestamp may be: 10 minutes.
pub const MAX_CLOCK_SKEW_MS: u64 = 10 * 60 * 1000;

/// What the previous entry of a feed contributes to validating the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prev {
    /// Its position.
    pub seq: u64,
    /// Its hash.
    pub hash: Hash,
    /// Its timestamp.
    pub timestamp_ms: u64,
}

/// What the validator expects of the next entry of a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The feed's author.
    pub author: AuthorId,
    /// The previous entry; `None` means the entry must be the first (seq 1).
    pub prev: Option<Prev>,
}

/// An entry whose signature, chain position, payload and limits were all checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    raw: RawEntry,
    header: Header,
    hash: Hash,
    payload: Option<Payload>,
}

impl VerifiedEntry {
    /// The signed header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The author.
    pub fn author(&self) -> AuthorId {
        self.header.author
    }
    /// The position in the feed.
    pub fn seq(&self) -> u64 {
        self.header.seq
    }
    /// The entry's hash.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    /// The payload, unless purged or never fetched.
    pub fn payload(&self) -> Option<&Payload> {
        self.payload.as_ref()
    }
    /// The exact bytes as they travel and are stored.
    pub fn raw(&self) -> &RawEntry {
        &self.raw
    }
    /// The storage and wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        self.raw.encode()
    }
    /// What the next entry is validated against.
    pub fn as_prev(&self) -> Prev {
        Prev {
            seq: self.header.seq,
            hash: self.hash,
            timestamp_ms: self.header.timestamp_ms,
        }
    }
    /// A reference to this entry.
    pub fn entry_ref(&self) -> crate::EntryRef {
        crate::EntryRef {
            author: self.header.author,
            seq: self.header.seq,
            hash: self.hash,
        }
    }
    /// Checks that this entry is the next of the feed `expect` describes: author, seq, the
    /// previous hash and time. [`validate`] is [`validate_detached`] plus this.
    pub fn check_chain(&self, expect: &Expect) -> Result<(), EntryError> {
        check_chain(&self.header, expect)
    }
    /// Drops the payload (after a delete); the header still verifies and chains.
    pub fn purge_payload(&mut self) {
        self.payload = None;
        self.raw.payload = None;
    }
}

/// Why an entry was refused. Each variant is one exact reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// More bytes than an entry may have.
    #[error("entry is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not an entry, or the header does not decode.
    #[error("entry is malformed: {0}")]
    Malformed(String),
    /// A header format this code does not read.
    #[error("entry format version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The signature does not verify under the author's key (or the key is not a key).
    #[error("signature does not verify")]
    BadSignature,
    /// Another author's entry where this feed's was expected.
    #[error("entry is by {found:?}, expected {expected:?}")]
    WrongAuthor {
        /// The feed's author.
        expected: AuthorId,
        /// The header's author.
        found: AuthorId,
    },
    /// Not the next position in the feed.
    #[error("entry has seq {found}, expected {expected}")]
    SeqNotNext {
        /// The next position.
        expected: u64,
        /// The header's seq.
        found: u64,
    },
    /// `prev` is absent on a later entry, or present on the first.
    #[error("entry {seq} {}", if *seq == 1 { "is first but names a previous entry" } else { "does not name its previous entry" })]
    PrevPresence {
        /// The header's seq.
        seq: u64,
    },
    /// `prev` names another entry than the feed's previous one: the chain is broken.
    #[error("entry does not chain to the previous entry's hash")]
    PrevMismatch,
    /// The payload's length differs from the header's.
    #[error("payload is {actual} bytes, header says {declared}")]
    PayloadLengthMismatch {
        /// From the header.
        declared: u32,
        /// Received.
        actual: usize,
    },
    /// The payload's hash differs from the header's.
    #[error("payload does not match the header's hash")]
    PayloadHashMismatch,
    /// The header declares a payload larger than allowed.
    #[error("payload is {len} bytes, more than the {MAX_PAYLOAD_BYTES} allowed")]
    PayloadTooLarge {
        /// The declared length.
        len: u32,
    },
    /// The payload bytes are not a payload.
    #[error("payload is malformed: {0}")]
    PayloadMalformed(String),
    /// A text field is not UTF-8.
    #[error("payload text is not valid UTF-8")]
    InvalidUtf8,
    /// The payload is another kind than the header declares.
    #[error("payload is a {actual:?}, header declares {declared:?}")]
    KindMismatch {
        /// From the header.
        declared: PayloadKind,
        /// The payload's.
        actual: PayloadKind,
    },
    /// A text field is longer than its limit.
    #[error("{field} is {len} long, more than the {max} allowed")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length (characters for text, count for lists, bytes otherwise).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A reaction with no emoji.
    #[error("reaction is empty")]
    EmptyReaction,
    /// An image reference out of bounds, or an avatar that is not one.
    #[error("image {index}: {error}")]
    BadImage {
        /// Its position among the entry's images (0 for an avatar).
        index: usize,
        /// What is wrong with it.
        error: crate::image::ImageError,
    },
    /// The timestamp is too far ahead of the validator's clock.
    #[error("timestamp {timestamp_ms} is more than 10 minutes after now ({now_ms})")]
    FutureTimestamp {
        /// The header's.
        timestamp_ms: u64,
        /// The validator's clock.
        now_ms: u64,
    },
    /// The timestamp is earlier than the previous entry's.
    #[error("timestamp {timestamp_ms} is before the previous entry's {prev_ms}")]
    TimestampBackwards {
        /// The header's.
        timestamp_ms: u64,
        /// The previous entry's.
        prev_ms: u64,
    },
    /// A delete that targets another author's entry.
    #[error("a delete may only target the author's own entries")]
    DeleteOfOthers,
    /// A delete that targets itself or a later entry.
    #[error("a delete must target an earlier entry, not seq {target}")]
    DeleteNotEarlier {
        /// The target's seq.
        target: u64,
    },
}

fn decode_header(raw: &RawEntry) -> Result<Header, EntryError> {
    if raw.header.len() + raw.signature.len() > MAX_HEADER_BYTES {
        return Err(EntryError::Malformed("header too long".into()));
    }
    let header: Header = crate::codec::from_bytes_exact(&raw.header)
        .map_err(|e| EntryError::Malformed(format!("header: {e}")))?;
    if header.version != FORMAT_VERSION {
        return Err(EntryError::UnsupportedVersion(header.version));
    }
    Ok(header)
}

fn check_signature(raw: &RawEntry, header: &Header) -> Result<(), EntryError> {
    let key = header
        .author
        .verifying_key()
        .ok_or(EntryError::BadSignature)?;
    let sig: [u8; 64] = raw
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| EntryError::BadSignature)?;
    key.verify_strict(&raw.header, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| EntryError::BadSignature)
}

fn too_long(field: &'static str, len: usize, max: usize) -> Result<(), EntryError> {
    if len > max {
        Err(EntryError::FieldTooLong { field, len, max })
    } else {
        Ok(())
    }
}

fn check_payload(header: &Header, bytes: &[u8]) -> Result<Payload, EntryError> {
    if bytes.len() != header.payload_len as usize {
        return Err(EntryError::PayloadLengthMismatch {
            declared: header.payload_len,
            actual: bytes.len(),
        });
    }
    if Hash::of(&[bytes]) != header.payload_hash {
        return Err(EntryError::PayloadHashMismatch);
    }
    let payload: Payload = crate::codec::from_bytes_exact(bytes).map_err(|e| match e {
        postcard::Error::DeserializeBadUtf8 => EntryError::InvalidUtf8,
        e => EntryError::PayloadMalformed(e.to_string()),
    })?;
    if payload.kind() != header.kind {
        return Err(EntryError::KindMismatch {
            declared: header.kind,
            actual: payload.kind(),
        });
    }
    match &payload {
        Payload::Post {
            text,
            mentions,
            images,
            ..
        } => {
            too_long("post text", text.chars().count(), MAX_POST_CHARS)?;
            too_long("mentions", mentions.len(), MAX_MENTIONS)?;
            too_long("images", images.len(), crate::image::MAX_IMAGES)?;
            for (index, image) in images.iter().enumerate() {
                image
                    .check_declared(crate::image::MAX_IMAGE_SIDE)
                    .map_err(|error| EntryError::BadImage { index, error })?;
            }
        }
        Payload::Profile { name, bio, avatar } => {
            too_long("display name", name.chars().count(), MAX_NAME_CHARS)?;
            too_long("bio", bio.chars().count(), MAX_BIO_CHARS)?;
            too_long(
                "avatar",
                avatar.as_ref().map_or(0, String::len),
                MAX_AVATAR_BYTES,
            )?;
            if let Some(avatar) = avatar {
                crate::image::ImageRef::from_avatar(avatar)
                    .map_err(|error| EntryError::BadImage { index: 0, error })?;
            }
        }
        Payload::Delete { target } => {
            if target.author != header.author {
                return Err(EntryError::DeleteOfOthers);
            }
            if target.seq >= header.seq {
                return Err(EntryError::DeleteNotEarlier { target: target.seq });
            }
        }
        Payload::Reaction { emoji, .. } => {
            if emoji.trim().is_empty() {
                return Err(EntryError::EmptyReaction);
            }
            too_long("reaction", emoji.len(), MAX_REACTION_BYTES)?;
        }
        Payload::Follow { .. } | Payload::Unfollow { .. } => {}
    }
    Ok(payload)
}

/// The author an encoded entry names, decoded but **not verified**: for deciding cheaply
/// whether an entry is of interest at all before its signature is checked (a live entry of a
/// feed nobody here follows is ignored unverified). Never a reason to trust the entry.
pub fn claimed_author(bytes: &[u8]) -> Result<AuthorId, EntryError> {
    decode_entry(bytes).map(|(_, header)| header.author)
}

/// Size limit, strict decoding of the entry and its header, and the format version.
fn decode_entry(bytes: &[u8]) -> Result<(RawEntry, Header), EntryError> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(EntryError::TooLarge {
            len: bytes.len(),
            max: MAX_ENTRY_BYTES,
        });
    }
    let raw: RawEntry =
        crate::codec::from_bytes_exact(bytes).map_err(|e| EntryError::Malformed(e.to_string()))?;
    let header = decode_header(&raw)?;
    Ok((raw, header))
}

fn check_common(bytes: &[u8], now_ms: u64) -> Result<(RawEntry, Header), EntryError> {
    let (raw, header) = decode_entry(bytes)?;
    check_signature(&raw, &header)?;
    check_fields(&header, now_ms)?;
    Ok((raw, header))
}

/// The header checks after the signature: position, payload size, clock.
fn check_fields(header: &Header, now_ms: u64) -> Result<(), EntryError> {
    if header.seq == 0 {
        return Err(EntryError::SeqNotNext {
            expected: 1,
            found: 0,
        });
    }
    if (header.seq == 1) != header.prev.is_none() {
        return Err(EntryError::PrevPresence { seq: header.seq });
    }
    if header.payload_len as usize > MAX_PAYLOAD_BYTES {
        return Err(EntryError::PayloadTooLarge {
            len: header.payload_len,
        });
    }
    if header.timestamp_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(EntryError::FutureTimestamp {
            timestamp_ms: header.timestamp_ms,
            now_ms,
        });
    }
    Ok(())
}

fn finish(raw: RawEntry, header: Header) -> Result<VerifiedEntry, EntryError> {
    let payload = match &raw.payload {
        Some(bytes) => Some(check_payload(&header, bytes)?),
        None => None,
    };
    Ok(VerifiedEntry {
        hash: raw.hash(),
        raw,
        header,
        payload,
    })
}

fn check_chain(header: &Header, expect: &Expect) -> Result<(), EntryError> {
    if header.author != expect.author {
        return Err(EntryError::WrongAuthor {
            expected: expect.author,
            found: header.author,
        });
    }
    let expected_seq = expect.prev.map_or(1, |p| p.seq + 1);
    if header.seq != expected_seq {
        return Err(EntryError::SeqNotNext {
            expected: expected_seq,
            found: header.seq,
        });
    }
    if let Some(prev) = expect.prev {
        if header.prev != Some(prev.hash) {
            return Err(EntryError::PrevMismatch);
        }
        if header.timestamp_ms < prev.timestamp_ms {
            return Err(EntryError::TimestampBackwards {
                timestamp_ms: header.timestamp_ms,
                prev_ms: prev.timestamp_ms,
            });
        }
    }
    Ok(())
}

/// Validates `bytes` as the next entry of the feed described by `expect`, at time `now_ms`.
pub fn validate(bytes: &[u8], expect: &Expect, now_ms: u64) -> Result<VerifiedEntry, EntryError> {
    let (raw, header) = check_common(bytes, now_ms)?;
    check_chain(&header, expect)?;
    finish(raw, header)
}

/// Reads back an entry this device's own store wrote after verifying it: everything is
/// checked again (decoding, limits, payload against header) except the signature, which is
/// the expensive part and was checked before the entry was first written. Never use this for
/// bytes from the network or from a file; use [`validate`] or [`validate_detached`].
pub fn reload(bytes: &[u8]) -> Result<VerifiedEntry, EntryError> {
    let (raw, header) = decode_entry(bytes)?;
    finish(raw, header)
}

/// Validates everything but the chain position: for an entry seen out of order (a gossip
/// message after a gap) or a batch checked once and chained after. Before it is stored, its
/// place must be checked with [`VerifiedEntry::check_chain`] (no second signature check).
pub fn validate_detached(bytes: &[u8], now_ms: u64) -> Result<VerifiedEntry, EntryError> {
    let (raw, header) = check_common(bytes, now_ms)?;
    finish(raw, header)
}

/// How many signatures [`validate_detached_all`] verifies together at most.
pub const VERIFY_BATCH: usize = 64;

/// [`validate_detached`] for each of `entries`, in order, with the same verdicts, and the
/// signatures of each run of [`VERIFY_BATCH`] verified together (ed25519 batch verification,
/// one multiscalar multiplication for the run; the sync path's backfill).
///
/// What `verify_strict` checks beyond the verification equation is checked first for every
/// entry: the author's key is not of small order, and the signature's `R` is a canonical
/// encoding of a point that is not of small order. A run in which any entry fails to decode,
/// fails those checks or fails the batch equation is verified again entry by entry, so every
/// verdict and every error is the one [`validate_detached`] gives. The one difference left is
/// the equation itself: a batch that holds an `R` with a torsion component (which only the
/// holder of the author's key can produce) may pass where single verification refuses it.
pub fn validate_detached_all(
    entries: &[Vec<u8>],
    now_ms: u64,
) -> Vec<Result<VerifiedEntry, EntryError>> {
    let mut out = Vec::with_capacity(entries.len());
    for run in entries.chunks(VERIFY_BATCH) {
        match verify_run(run, now_ms) {
            Some(verdicts) => out.extend(verdicts),
            None => out.extend(run.iter().map(|b| validate_detached(b, now_ms))),
        }
    }
    out
}

/// The fast path of [`validate_detached_all`] for one run; `None` to verify it one by one.
fn verify_run(run: &[Vec<u8>], now_ms: u64) -> Option<Vec<Result<VerifiedEntry, EntryError>>> {
    let mut decoded = Vec::with_capacity(run.len());
    let mut keys = Vec::with_capacity(run.len());
    let mut sigs = Vec::with_capacity(run.len());
    let mut last: Option<(AuthorId, ed25519_dalek::VerifyingKey)> = None;
    for bytes in run {
        let (raw, header) = decode_entry(bytes).ok()?;
        // A run is nearly always one feed: its key is decompressed once.
        let key = match last {
            Some((a, k)) if a == header.author => k,
            _ => {
                let k = header.author.verifying_key()?;
                if k.is_weak() {
                    return None;
                }
                last = Some((header.author, k));
                k
            }
        };
        let sig: [u8; 64] = raw.signature.as_slice().try_into().ok()?;
        if !strict_r(&sig) {
            return None;
        }
        keys.push(key);
        sigs.push(ed25519_dalek::Signature::from_bytes(&sig));
        decoded.push((raw, header));
    }
    {
        let messages: Vec<&[u8]> = decoded.iter().map(|(r, _)| r.header.as_slice()).collect();
        ed25519_dalek::verify_batch(&messages, &sigs, &keys).ok()?;
    }
    Some(
        decoded
            .into_iter()
            .map(|(raw, header)| check_fields(&header, now_ms).and_then(|()| finish(raw, header)))
            .collect(),
    )
}

/// Whether a signature's `R` is what `verify_strict` accepts: a canonical encoding of a point
/// that is not of small order.
fn strict_r(sig: &[u8; 64]) -> bool {
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    let compressed = curve25519_dalek::edwards::CompressedEdwardsY(r);
    compressed
        .decompress()
        .is_some_and(|p| !p.is_small_order() && p.compress() == compressed)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::entry::{EntryRef, sign_entry};
    use crate::testutil::{NOW, craft, header, id, payload_bytes};

    fn first(text: &str) -> (Vec<u8>, Expect) {
        let me = id(1);
        let raw = sign_entry(&me, 1, None, NOW, &Payload::post(text));
        (
            raw.encode(),
            Expect {
                author: me.author(),
                prev: None,
            },
        )
    }

    fn err(bytes: &[u8], expect: &Expect) -> EntryError {
        validate(bytes, expect, NOW).expect_err("must be refused")
    }

    #[test]
    fn a_valid_first_entry_verifies() {
        let (bytes, expect) = first("hello");
        let e = validate(&bytes, &expect, NOW).expect("valid");
        assert_eq!(e.seq(), 1);
        assert_eq!(e.payload(), Some(&Payload::post("hello")));
        assert_eq!(e.encode(), bytes);
    }

    #[test]
    fn the_claimed_author_is_read_without_the_signature() {
        let (bytes, expect) = first("hello");
        assert_eq!(claimed_author(&bytes), Ok(expect.author));
        // A forged signature still names its claimed author (the claim is all it is), and
        // validation refuses it.
        let mut forged: RawEntry = crate::codec::from_bytes_exact(&bytes).expect("decode");
        forged.signature = vec![0; forged.signature.len()];
        let forged = forged.encode();
        assert_eq!(claimed_author(&forged), Ok(expect.author));
        assert!(validate_detached(&forged, NOW).is_err());
        assert!(matches!(
            claimed_author(b"\xff\xff\xff"),
            Err(EntryError::Malformed(_))
        ));
    }

    #[test]
    fn too_large_and_malformed() {
        let (_, expect) = first("x");
        let big = vec![0u8; MAX_ENTRY_BYTES + 1];
        assert!(matches!(err(&big, &expect), EntryError::TooLarge { .. }));
        assert!(matches!(
            err(b"\xff\xff\xff", &expect),
            EntryError::Malformed(_)
        ));
        let me = id(1);
        let raw = RawEntry {
            header: vec![1, 2, 3],
            signature: me.sign(&[1, 2, 3]).to_vec(),
            payload: None,
        };
        assert!(matches!(
            err(&raw.encode(), &expect),
            EntryError::Malformed(_)
        ));
    }

    /// Detached entries of `me`'s feed, `n` of them (the chain is not checked here).
    fn feed_bytes(me: &crate::Identity, n: u64) -> Vec<Vec<u8>> {
        (1..=n)
            .map(|seq| {
                let p = payload_bytes(&Payload::post(format!("post {seq}")));
                let prev = (seq > 1).then_some(Hash([seq as u8; 32]));
                craft(me, &header(me, seq, prev, &p), Some(p))
            })
            .collect()
    }

    fn one_by_one(entries: &[Vec<u8>]) -> Vec<Result<VerifiedEntry, EntryError>> {
        entries.iter().map(|b| validate_detached(b, NOW)).collect()
    }

    #[test]
    fn batch_verification_gives_the_verdicts_of_single_verification() {
        let me = id(1);
        let good = feed_bytes(&me, 150);
        let all = validate_detached_all(&good, NOW);
        assert_eq!(all.len(), 150);
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(all, one_by_one(&good));

        // A bad signature in the second run, a future timestamp in the first, garbage in the
        // third: each refused as alone, everything else accepted.
        let mut mixed = good.clone();
        let p = payload_bytes(&Payload::post("forged"));
        mixed[70] = craft(
            &id(2),
            &header(&me, 71, Some(Hash([1; 32])), &p),
            Some(p.clone()),
        );
        let mut late = header(&me, 6, Some(Hash([6; 32])), &p);
        late.timestamp_ms = NOW + 10 * MAX_CLOCK_SKEW_MS;
        mixed[5] = craft(&me, &late, Some(p));
        mixed[140] = vec![1, 2, 3];
        let all = validate_detached_all(&mixed, NOW);
        assert_eq!(all, one_by_one(&mixed));
        assert_eq!(all[70], Err(EntryError::BadSignature));
        assert!(matches!(all[5], Err(EntryError::FutureTimestamp { .. })));
        assert!(matches!(all[140], Err(EntryError::Malformed(_))));
        assert_eq!(all.iter().filter(|r| r.is_ok()).count(), 147);
    }

    #[test]
    fn a_small_order_key_cannot_pass_the_batch() {
        use curve25519_dalek::{EdwardsPoint, Scalar};
        // The identity point as an author key: (R = sB, s) satisfies the verification equation
        // for every message, so without the key check a batch would take it.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        let author = AuthorId(weak);
        let p = payload_bytes(&Payload::post("anyone can sign this"));
        let me = id(1);
        let mut h = header(&me, 1, None, &p);
        h.author = author;
        let s = Scalar::from(5u64);
        let mut signature = EdwardsPoint::mul_base(&s).compress().to_bytes().to_vec();
        signature.extend_from_slice(&s.to_bytes());
        let forged = RawEntry {
            header: postcard::to_allocvec(&h).expect("encode"),
            signature,
            payload: Some(p),
        }
        .encode();
        let mut entries = feed_bytes(&me, 3);
        entries.push(forged);
        let all = validate_detached_all(&entries, NOW);
        assert_eq!(all[3], Err(EntryError::BadSignature));
        assert_eq!(all, one_by_one(&entries));
    }

    #[test]
    fn version_signature_and_author() {
        let me = id(1);
        let p = payload_bytes(&Payload::post("x"));
        let mut h = header(&me, 1, None, &p);
        h.version = 2;
        let expect = Expect {
            author: me.author(),
            prev: None,
        };
        assert_eq!(
            err(&craft(&me, &h, Some(p.clone())), &expect),
            EntryError::UnsupportedVersion(2)
        );
        // Signed by someone else than the header's author.
        let h = header(&me, 1, None, &p);
        assert_eq!(
            err(&craft(&id(2), &h, Some(p.clone())), &expect),
            EntryError::BadSignature
        );
        // Validly signed, but another feed's author.
        let other = id(3);
        let h = header(&other, 1, None, &p);
        assert!(matches!(
            err(&craft(&other, &h, Some(p)), &expect),
            EntryError::WrongAuthor { .. }
        ));
    }

    #[test]
    fn chain_rules() {
        let me = id(1);
        let expect0 = Expect {
            author: me.author(),
            prev: None,
        };
        let e1 = validate(
            &sign_entry(&me, 1, None, NOW, &Payload::post("a")).encode(),
            &expect0,
            NOW,
        )
        .expect("first");
        let expect1 = Expect {
            author: me.author(),
            prev: Some(e1.as_prev()),
        };
        // Skipping a seq.
        let skip = sign_entry(&me, 3, Some(e1.hash()), NOW, &Payload::post("c")).encode();
        assert_eq!(
            err(&skip, &expect1),
            EntryError::SeqNotNext {
                expected: 2,
                found: 3
            }
        );
        // seq 0.
        let p = payload_bytes(&Payload::post("z"));
        let h = header(&me, 0, None, &p);
        assert_eq!(
            err(&craft(&me, &h, Some(p.clone())), &expect0),
            EntryError::SeqNotNext {
                expected: 1,
                found: 0
            }
        );
        // A first entry naming a previous one, and a later one naming none.
        let h = header(&me, 1, Some(Hash([9; 32])), &p);
        assert_eq!(
            err(&craft(&me, &h, Some(p.clone())), &expect0),
            EntryError::PrevPresence { seq: 1 }
        );
        let h = header(&me, 2, None, &p);
        assert_eq!(
            err(&craft(&me, &h, Some(p.clone())), &expect1),
            EntryError::PrevPresence { seq: 2 }
        );
        // The wrong previous hash.
        let wrong = sign_entry(&me, 2, Some(Hash([9; 32])), NOW, &Payload::post("b")).encode();
        assert_eq!(err(&wrong, &expect1), EntryError::PrevMismatch);
        // Time going backwards, and too far ahead.
        let back = sign_entry(&me, 2, Some(e1.hash()), NOW - 1, &Payload::post("b")).encode();
        assert_eq!(
            err(&back, &expect1),
            EntryError::TimestampBackwards {
                timestamp_ms: NOW - 1,
                prev_ms: NOW
            }
        );
        let ahead = NOW + MAX_CLOCK_SKEW_MS + 1;
        let future = sign_entry(&me, 2, Some(e1.hash()), ahead, &Payload::post("b")).encode();
        assert_eq!(
            err(&future, &expect1),
            EntryError::FutureTimestamp {
                timestamp_ms: ahead,
                now_ms: NOW
            }
        );
        let ok = sign_entry(
            &me,
            2,
            Some(e1.hash()),
            NOW + MAX_CLOCK_SKEW_MS,
            &Payload::post("b"),
        );
        assert!(validate(&ok.encode(), &expect1, NOW).is_ok());
    }

    #[test]
    fn payload_rules() {
        let me = id(1);
        let expect = Expect {
            author: me.author(),
            prev: None,
        };
        let p = payload_bytes(&Payload::post("x"));
        let h = header(&me, 1, None, &p);
        let mut longer = p.clone();
        longer.push(0);
        assert_eq!(
            err(&craft(&me, &h, Some(longer)), &expect),
            EntryError::PayloadLengthMismatch {
                declared: p.len() as u32,
                actual: p.len() + 1
            }
        );
        let mut flipped = p.clone();
        *flipped.last_mut().expect("non-empty") ^= 1;
        assert_eq!(
            err(&craft(&me, &h, Some(flipped)), &expect),
            EntryError::PayloadHashMismatch
        );
        let mut h_big = h.clone();
        h_big.payload_len = MAX_PAYLOAD_BYTES as u32 + 1;
        assert_eq!(
            err(&craft(&me, &h_big, None), &expect),
            EntryError::PayloadTooLarge {
                len: MAX_PAYLOAD_BYTES as u32 + 1
            }
        );
        let junk = vec![0xff; 4];
        let hj = header(&me, 1, None, &junk);
        assert!(matches!(
            err(&craft(&me, &hj, Some(junk)), &expect),
            EntryError::PayloadMalformed(_)
        ));
        // Variant 0 (post), text of length 2 with bytes that are not UTF-8.
        let bad_utf8 = vec![0, 2, 0xc3, 0x28, 0, 0];
        let hu = header(&me, 1, None, &bad_utf8);
        assert_eq!(
            err(&craft(&me, &hu, Some(bad_utf8)), &expect),
            EntryError::InvalidUtf8
        );
        let mut hk = h.clone();
        hk.kind = PayloadKind::Profile;
        assert_eq!(
            err(&craft(&me, &hk, Some(p)), &expect),
            EntryError::KindMismatch {
                declared: PayloadKind::Profile,
                actual: PayloadKind::Post
            }
        );
    }

    #[test]
    fn posts_name_up_to_four_images_and_a_profile_one_avatar() {
        use crate::image::{ImageError, ImageRef, MAX_AVATAR_SIDE, MAX_IMAGE_SIDE, samples};
        let me = id(1);
        let expect = Expect {
            author: me.author(),
            prev: None,
        };
        let image =
            |seed| ImageRef::of(&samples::png(40, 30, seed, 0), MAX_IMAGE_SIDE).expect("image");
        let post = |images: Vec<ImageRef>| Payload::Post {
            text: "look".into(),
            reply_to: None,
            mentions: Vec::new(),
            images,
        };
        let check = |payload: &Payload| {
            let p = payload_bytes(payload);
            let mut h = header(&me, 1, None, &p);
            h.kind = payload.kind();
            validate(&craft(&me, &h, Some(p)), &expect, NOW)
        };
        // Four images pass and come back as they were signed.
        let four = post((0..4).map(image).collect());
        let v = check(&four).expect("four images");
        assert_eq!(v.payload(), Some(&four));
        assert_eq!(four.images().len(), 4);
        // A post without images keeps the encoding posts always had (variant 0), so entries
        // signed before images existed decode and hash as they did.
        assert_eq!(payload_bytes(&Payload::post("x")), vec![0, 1, b'x', 0, 0]);
        assert_eq!(payload_bytes(&four)[0], 6);
        // A fifth is refused, and so is a reference out of bounds.
        assert_eq!(
            check(&post((0..5).map(image).collect())),
            Err(EntryError::FieldTooLong {
                field: "images",
                len: 5,
                max: 4
            })
        );
        let wide = ImageRef {
            width: MAX_IMAGE_SIDE + 1,
            ..image(9)
        };
        assert!(matches!(
            check(&post(vec![image(1), wide])),
            Err(EntryError::BadImage {
                index: 1,
                error: ImageError::BadSize { .. }
            })
        ));
        // The image form with no image is not a second encoding of a plain post.
        let mut empty_images = payload_bytes(&four);
        empty_images.truncate(
            empty_images.len() - 4 * postcard::to_allocvec(&image(0)).expect("ref").len(),
        );
        *empty_images.last_mut().expect("count") = 0;
        let h = header(&me, 1, None, &empty_images);
        assert!(matches!(
            err(&craft(&me, &h, Some(empty_images)), &expect),
            EntryError::PayloadMalformed(_)
        ));
        // An avatar must be an image reference of an avatar's size.
        let profile = |avatar: Option<String>| Payload::Profile {
            name: "Ada".into(),
            bio: String::new(),
            avatar,
        };
        let avatar = ImageRef::of(&samples::png(256, 256, 1, 0), MAX_AVATAR_SIDE).expect("avatar");
        let v = check(&profile(Some(avatar.to_avatar()))).expect("an avatar");
        assert_eq!(v.payload().map(Payload::images), Some(vec![avatar]));
        assert!(matches!(
            check(&profile(Some("blob:1".into()))),
            Err(EntryError::BadImage {
                error: ImageError::BadAvatar,
                ..
            })
        ));
    }

    #[test]
    fn limits_on_fields() {
        let me = id(1);
        let expect = Expect {
            author: me.author(),
            prev: None,
        };
        let long = "é".repeat(MAX_POST_CHARS + 1);
        let raw = sign_entry(&me, 1, None, NOW, &Payload::post(long)).encode();
        assert!(matches!(
            err(&raw, &expect),
            EntryError::FieldTooLong { field: "post text", len, max: MAX_POST_CHARS } if len == MAX_POST_CHARS + 1
        ));
        // Exactly at the limit, in 2-byte characters, is fine and fits in an entry.
        let at_limit = sign_entry(
            &me,
            1,
            None,
            NOW,
            &Payload::post("é".repeat(MAX_POST_CHARS)),
        );
        assert!(validate(&at_limit.encode(), &expect, NOW).is_ok());
        let profile = Payload::Profile {
            name: "n".repeat(MAX_NAME_CHARS + 1),
            bio: String::new(),
            avatar: None,
        };
        let raw = sign_entry(&me, 1, None, NOW, &profile).encode();
        assert!(matches!(
            err(&raw, &expect),
            EntryError::FieldTooLong {
                field: "display name",
                ..
            }
        ));
        let target = EntryRef {
            author: me.author(),
            seq: 1,
            hash: Hash([0; 32]),
        };
        let empty = Payload::Reaction {
            target,
            emoji: " ".into(),
        };
        let raw = sign_entry(&me, 1, None, NOW, &empty).encode();
        assert_eq!(err(&raw, &expect), EntryError::EmptyReaction);
    }

    #[test]
    fn deletes_target_only_earlier_own_entries() {
        let me = id(1);
        let e1 = validate(
            &sign_entry(&me, 1, None, NOW, &Payload::post("a")).encode(),
            &Expect {
                author: me.author(),
                prev: None,
            },
            NOW,
        )
        .expect("first");
        let expect = Expect {
            author: me.author(),
            prev: Some(e1.as_prev()),
        };
        let others = Payload::Delete {
            target: EntryRef {
                author: id(2).author(),
                seq: 1,
                hash: e1.hash(),
            },
        };
        let raw = sign_entry(&me, 2, Some(e1.hash()), NOW, &others).encode();
        assert_eq!(err(&raw, &expect), EntryError::DeleteOfOthers);
        let itself = Payload::Delete {
            target: EntryRef {
                author: me.author(),
                seq: 2,
                hash: e1.hash(),
            },
        };
        let raw = sign_entry(&me, 2, Some(e1.hash()), NOW, &itself).encode();
        assert_eq!(
            err(&raw, &expect),
            EntryError::DeleteNotEarlier { target: 2 }
        );
        let fine = Payload::Delete {
            target: e1.entry_ref(),
        };
        assert!(
            validate(
                &sign_entry(&me, 2, Some(e1.hash()), NOW, &fine).encode(),
                &expect,
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn a_purged_entry_still_verifies_and_chains() {
        let (bytes, expect) = first("secret");
        let mut e = validate(&bytes, &expect, NOW).expect("valid");
        let hash = e.hash();
        e.purge_payload();
        let again = validate(&e.encode(), &expect, NOW).expect("header-only entry verifies");
        assert_eq!(again.hash(), hash);
        assert_eq!(again.payload(), None);
    }
}
