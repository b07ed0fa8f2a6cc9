//! Direct messages: a [`Letter`] from one person to another, sealed so that only the addressee
//! can open it and know who wrote it.
//!
//! **The construction** is HPKE (RFC 9180) in its *auth* mode, with the suite DHKEM(X25519,
//! HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305, from the `hpke` crate (it passes the RFC's
//! test vectors; Cloudflare reviewed an earlier version; it has had no paid audit).
//! - **Keys.** Each person's X25519 key is their Ed25519 identity key carried to the
//!   Montgomery form (`ed25519-dalek`'s `to_scalar_bytes` / `to_montgomery`, as libsodium's
//!   `crypto_sign_ed25519_*_to_curve25519`). So anyone who knows an [`AuthorId`] can write to
//!   it, with no key to publish or fetch. Using one key for Ed25519 and an X25519 KEM is
//!   analysed in <https://eprint.iacr.org/2021/509>.
//! - **Sealing.** A fresh ephemeral key per letter (from a generator seeded by the caller,
//!   since kith-core has no randomness source) and the sender's static key are both combined
//!   with the addressee's key, so a letter opens only with the addressee's secret, and opening
//!   it proves the sender's key took part.
//!
//! **What it protects.**
//! - The text and the kind of a letter (message or read receipt). kith-node, a relay or anyone
//!   who gets the bytes sees only the sender's id, a 32-byte ephemeral key and the length.
//! - Sender authenticity. Only the holder of the sender's key (or, see below, the
//!   addressee's) can make a letter that opens as theirs. The authentication is deniable: it
//!   convinces the addressee, not a third party, since the addressee could have made it too.
//! - Integrity. Any change to any byte makes [`open`] fail.
//! - Replays. Each letter has a random id, which the receiver's store remembers (a repeat is
//!   "already had"), and a letter older than [`REPLAY_WINDOW_MS`] is refused, so a letter
//!   the store has forgotten cannot come back either.
//!
//! **What it does not protect.**
//! - No forward secrecy. Whoever steals a person's identity key later can open every letter
//!   sent to them that they recorded.
//! - Key-compromise impersonation, as in every HPKE auth mode: a thief of B's key can make
//!   letters that B's device opens as coming from anyone.
//! - Metadata. A browser's network id is its person's key, so relays and kith-node see who
//!   sends a letter to whom, when, and about how long it is.

use serde::{Deserialize, Serialize};

use hpke::{Deserializable, OpModeR, OpModeS, Serializable};

use crate::identity::{AuthorId, Identity};

type Kem = hpke::kem::X25519HkdfSha256;
type Aead = hpke::aead::ChaCha20Poly1305;
type Kdf = hpke::kdf::HkdfSha256;

/// The longest message text, in bytes of UTF-8.
pub const MAX_DM_TEXT: usize = 4_000;
/// The largest sealed letter on the wire.
pub const MAX_SEALED_BYTES: usize = MAX_DM_TEXT + 256;
/// How old a letter may be when it arrives: the sender's outbox tries for 7 days; one more
/// day for clocks and a slow last try.
pub const REPLAY_WINDOW_MS: u64 = 8 * 24 * 60 * 60 * 1000;
/// How far ahead of the receiver's clock a letter may be dated.
pub const MAX_DM_SKEW_MS: u64 = crate::validate::MAX_CLOCK_SKEW_MS;

/// The version byte of the sealed form.
const VERSION: u8 = 1;
/// HPKE's `info`: binds every key derived to Kith's letters of this version.
const INFO: &[u8] = b"kith-dm-v1";

/// A letter's id: 16 random bytes drawn by the sender.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LetterId(pub [u8; 16]);

impl LetterId {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        crate::hash::hex(&self.0)
    }

    /// Parses [`LetterId::to_hex`].
    pub fn from_hex(s: &str) -> Option<LetterId> {
        crate::hash::unhex::<16>(s).map(LetterId)
    }
}

impl std::fmt::Debug for LetterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LetterId({})", &self.to_hex()[..8])
    }
}

/// What a letter says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// A message.
    Text(String),
    /// The writer has read the addressee's messages to them sent up to this time (ms since
    /// the epoch, the messages' own `sent_ms`).
    Read {
        /// Up to when.
        up_to_ms: u64,
    },
}

/// One letter, opened (or about to be sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    /// Its id, random.
    pub id: LetterId,
    /// Who wrote it.
    pub from: AuthorId,
    /// To whom.
    pub to: AuthorId,
    /// When, by the writer's clock (ms since the epoch).
    pub sent_ms: u64,
    /// What it says.
    pub body: Body,
}

/// The sealed form on the wire.
#[derive(Serialize, Deserialize)]
struct Sealed {
    version: u8,
    from: AuthorId,
    enc: [u8; 32],
    ciphertext: Vec<u8>,
}

/// Why a letter could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DmError {
    /// The bytes are not a sealed letter.
    #[error("not a sealed letter: {0}")]
    Malformed(String),
    /// Larger than [`MAX_SEALED_BYTES`], or a text over [`MAX_DM_TEXT`].
    #[error("a letter of {0} bytes is over the limit")]
    TooLarge(usize),
    /// An empty message.
    #[error("a message needs some text")]
    Empty,
    /// The key named is not a valid identity key.
    #[error("{0:?} is not a key a letter can be sealed to or from")]
    BadKey(AuthorId),
    /// It does not open with this person's key: it was made for someone else, altered, or
    /// not made by the person it names.
    #[error("the letter does not open: sent to someone else, altered or forged")]
    DoesNotOpen,
    /// It opened, but what is inside contradicts the outside (a different writer or
    /// addressee).
    #[error("the letter's inside names another writer or addressee")]
    Mismatch,
    /// Older than [`REPLAY_WINDOW_MS`]: a replay, or delivered too late.
    #[error("a letter sent {0} ms ago is too old to take")]
    TooOld(u64),
    /// Dated more than [`MAX_DM_SKEW_MS`] ahead of this clock.
    #[error("a letter dated {0} ms ahead of this clock")]
    FromTheFuture(u64),
}

/// The X25519 secret of `identity`.
fn secret_of(identity: &Identity) -> Result<<Kem as hpke::Kem>::PrivateKey, DmError> {
    <Kem as hpke::Kem>::PrivateKey::from_bytes(&identity.scalar_bytes())
        .map_err(|_| DmError::BadKey(identity.author()))
}

/// The X25519 public key of `author`.
fn public_of(author: &AuthorId) -> Result<<Kem as hpke::Kem>::PublicKey, DmError> {
    let key = author.verifying_key().ok_or(DmError::BadKey(*author))?;
    <Kem as hpke::Kem>::PublicKey::from_bytes(&key.to_montgomery().to_bytes())
        .map_err(|_| DmError::BadKey(*author))
}

/// The authenticated header: the version and the writer, outside the ciphertext.
fn aad(from: &AuthorId) -> [u8; 33] {
    let mut a = [0u8; 33];
    a[0] = VERSION;
    a[1..].copy_from_slice(&from.0);
    a
}

/// Seals `letter`, which `identity` wrote, for its addressee. `seed` (32 bytes from a CSPRNG)
/// draws the ephemeral key; never use a seed twice.
pub fn seal(identity: &Identity, letter: &Letter, seed: [u8; 32]) -> Result<Vec<u8>, DmError> {
    if letter.from != identity.author() {
        return Err(DmError::Mismatch);
    }
    if let Body::Text(text) = &letter.body {
        if text.trim().is_empty() {
            return Err(DmError::Empty);
        }
        if text.len() > MAX_DM_TEXT {
            return Err(DmError::TooLarge(text.len()));
        }
    }
    let recipient = public_of(&letter.to)?;
    let sender = (secret_of(identity)?, public_of(&letter.from)?);
    let plaintext = postcard::to_allocvec(letter).map_err(|e| DmError::Malformed(e.to_string()))?;
    let mut rng = <chacha20::ChaCha20Rng as chacha20::rand_core::SeedableRng>::from_seed(seed);
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Auth(sender),
        &recipient,
        INFO,
        &plaintext,
        &aad(&letter.from),
        &mut rng,
    )
    .map_err(|_| DmError::BadKey(letter.to))?;
    let mut enc_bytes = [0u8; 32];
    enc_bytes.copy_from_slice(&enc.to_bytes());
    let sealed = postcard::to_allocvec(&Sealed {
        version: VERSION,
        from: letter.from,
        enc: enc_bytes,
        ciphertext,
    })
    .map_err(|e| DmError::Malformed(e.to_string()))?;
    if sealed.len() > MAX_SEALED_BYTES {
        return Err(DmError::TooLarge(sealed.len()));
    }
    Ok(sealed)
}

/// Who a sealed letter says wrote it, without opening it (what anyone carrying it can see).
pub fn writer_of(bytes: &[u8]) -> Result<AuthorId, DmError> {
    Ok(decode(bytes)?.from)
}

fn decode(bytes: &[u8]) -> Result<Sealed, DmError> {
    if bytes.len() > MAX_SEALED_BYTES {
        return Err(DmError::TooLarge(bytes.len()));
    }
    let sealed: Sealed =
        crate::codec::from_bytes_exact(bytes).map_err(|e| DmError::Malformed(e.to_string()))?;
    if sealed.version != VERSION {
        return Err(DmError::Malformed(format!("version {}", sealed.version)));
    }
    Ok(sealed)
}

/// Opens a sealed letter addressed to `identity`, at `now_ms` by this clock: the letter, or
/// exactly why not. A letter that opens was written by the holder of `from`'s key (or the
/// addressee's; see the module's notes) for this person, and not changed since.
pub fn open(identity: &Identity, bytes: &[u8], now_ms: u64) -> Result<Letter, DmError> {
    let sealed = decode(bytes)?;
    let sender = public_of(&sealed.from)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc)
        .map_err(|_| DmError::DoesNotOpen)?;
    let plaintext = hpke::single_shot_open::<Aead, Kdf, Kem>(
        &OpModeR::Auth(sender),
        &secret_of(identity)?,
        &enc,
        INFO,
        &sealed.ciphertext,
        &aad(&sealed.from),
    )
    .map_err(|_| DmError::DoesNotOpen)?;
    let letter: Letter = crate::codec::from_bytes_exact(&plaintext)
        .map_err(|e| DmError::Malformed(e.to_string()))?;
    if letter.from != sealed.from || letter.to != identity.author() {
        return Err(DmError::Mismatch);
    }
    if let Body::Text(text) = &letter.body {
        if text.len() > MAX_DM_TEXT {
            return Err(DmError::TooLarge(text.len()));
        }
        if text.trim().is_empty() {
            return Err(DmError::Empty);
        }
    }
    if letter.sent_ms > now_ms.saturating_add(MAX_DM_SKEW_MS) {
        return Err(DmError::FromTheFuture(letter.sent_ms - now_ms));
    }
    let age = now_ms.saturating_sub(letter.sent_ms);
    if age > REPLAY_WINDOW_MS {
        return Err(DmError::TooOld(age));
    }
    Ok(letter)
}

/// HPKE's `info` for what a person seals for themselves.
const SELF_INFO: &[u8] = b"kith-dm-self-v1";

/// Seals `bytes` so that only `identity` can open them again, and nobody else could have
/// made them (the messages in a backup, whose file is otherwise readable): HPKE's auth mode,
/// the same suite, from and to the person's own key. `seed` (32 bytes from a CSPRNG, never
/// derived from anything stored beside the result) draws the ephemeral key. The result is the
/// 32-byte ephemeral key, then the ciphertext.
pub fn seal_for_self(
    identity: &Identity,
    bytes: &[u8],
    seed: [u8; 32],
) -> Result<Vec<u8>, DmError> {
    let me = public_of(&identity.author())?;
    let sender = (secret_of(identity)?, me.clone());
    let mut rng = <chacha20::ChaCha20Rng as chacha20::rand_core::SeedableRng>::from_seed(seed);
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Auth(sender),
        &me,
        SELF_INFO,
        bytes,
        &aad(&identity.author()),
        &mut rng,
    )
    .map_err(|_| DmError::BadKey(identity.author()))?;
    let mut out = enc.to_bytes().to_vec();
    out.extend(ciphertext);
    Ok(out)
}

/// Opens what [`seal_for_self`] sealed for `identity` (and only that: made with the same key).
pub fn open_for_self(identity: &Identity, sealed: &[u8]) -> Result<Vec<u8>, DmError> {
    let Some((enc, ciphertext)) = sealed.split_at_checked(32) else {
        return Err(DmError::Malformed(format!("{} bytes", sealed.len())));
    };
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| DmError::DoesNotOpen)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(
        &OpModeR::Auth(public_of(&identity.author())?),
        &secret_of(identity)?,
        &enc,
        SELF_INFO,
        ciphertext,
        &aad(&identity.author()),
    )
    .map_err(|_| DmError::DoesNotOpen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW: u64 = 1_700_000_000_000;

    fn people() -> (Identity, Identity, Identity) {
        (
            Identity::from_secret([1; 32]),
            Identity::from_secret([2; 32]),
            Identity::from_secret([3; 32]),
        )
    }

    fn letter(from: &Identity, to: &Identity, text: &str) -> Letter {
        Letter {
            id: LetterId([9; 16]),
            from: from.author(),
            to: to.author(),
            sent_ms: NOW,
            body: Body::Text(text.into()),
        }
    }

    #[test]
    fn the_addressee_opens_what_was_sealed_for_them_and_nobody_else_does() {
        let (a, b, c) = people();
        let l = letter(&a, &b, "meet at noon");
        let sealed = seal(&a, &l, [7; 32]).expect("seal");
        assert_eq!(open(&b, &sealed, NOW + 1), Ok(l.clone()));
        // Neither a third person nor the writer can open it.
        assert_eq!(open(&c, &sealed, NOW), Err(DmError::DoesNotOpen));
        assert_eq!(open(&a, &sealed, NOW), Err(DmError::DoesNotOpen));
        // The text is nowhere in the bytes, and the writer's id is.
        assert!(!sealed.windows(4).any(|w| w == b"noon"));
        assert_eq!(writer_of(&sealed), Ok(a.author()));
        // Two seals of one letter differ (a fresh ephemeral key each).
        assert_ne!(sealed, seal(&a, &l, [8; 32]).expect("seal"));
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let (a, b, _) = people();
        let sealed = seal(&a, &letter(&a, &b, "hello"), [7; 32]).expect("seal");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                open(&b, &bad, NOW).is_err(),
                "byte {i} altered and accepted"
            );
        }
        assert!(matches!(
            open(&b, &sealed[..10], NOW),
            Err(DmError::Malformed(_))
        ));
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(matches!(open(&b, &longer, NOW), Err(DmError::Malformed(_))));
    }

    #[test]
    fn a_letter_claiming_another_writer_does_not_open() {
        let (a, b, c) = people();
        // C seals a letter, then relabels the outside as A's: the auth mode binds A's key.
        let mut forged = letter(&c, &b, "I am A");
        let sealed = seal(&c, &forged, [7; 32]).expect("seal");
        let mut outside: Sealed = postcard::from_bytes(&sealed).expect("decode");
        outside.from = a.author();
        let relabelled = postcard::to_allocvec(&outside).expect("encode");
        assert_eq!(open(&b, &relabelled, NOW), Err(DmError::DoesNotOpen));
        // C cannot seal as A with its own key either.
        forged.from = a.author();
        assert_eq!(seal(&c, &forged, [7; 32]), Err(DmError::Mismatch));
    }

    #[test]
    fn old_future_empty_and_oversized_letters_are_refused() {
        let (a, b, _) = people();
        let sealed = seal(&a, &letter(&a, &b, "hi"), [7; 32]).expect("seal");
        assert_eq!(
            open(&b, &sealed, NOW + REPLAY_WINDOW_MS + 1),
            Err(DmError::TooOld(REPLAY_WINDOW_MS + 1))
        );
        assert!(open(&b, &sealed, NOW + REPLAY_WINDOW_MS).is_ok());
        assert_eq!(
            open(&b, &sealed, NOW - MAX_DM_SKEW_MS - 5),
            Err(DmError::FromTheFuture(MAX_DM_SKEW_MS + 5))
        );
        assert_eq!(
            seal(&a, &letter(&a, &b, "  "), [7; 32]),
            Err(DmError::Empty)
        );
        let long = "x".repeat(MAX_DM_TEXT + 1);
        assert_eq!(
            seal(&a, &letter(&a, &b, &long), [7; 32]),
            Err(DmError::TooLarge(MAX_DM_TEXT + 1))
        );
        let longest = "é".repeat(MAX_DM_TEXT / 2);
        let sealed = seal(&a, &letter(&a, &b, &longest), [7; 32]).expect("the longest text");
        assert!(sealed.len() <= MAX_SEALED_BYTES);
        assert!(matches!(
            open(&b, &vec![0; MAX_SEALED_BYTES + 1], NOW),
            Err(DmError::TooLarge(_))
        ));
    }

    #[test]
    fn what_a_person_seals_for_themselves_only_they_open() {
        let (a, b, _) = people();
        let sealed = seal_for_self(&a, b"my messages", [4; 32]).expect("seal");
        assert_eq!(
            open_for_self(&a, &sealed).as_deref(),
            Ok(&b"my messages"[..])
        );
        assert_eq!(open_for_self(&b, &sealed), Err(DmError::DoesNotOpen));
        let mut bad = sealed.clone();
        bad[40] ^= 1;
        assert_eq!(open_for_self(&a, &bad), Err(DmError::DoesNotOpen));
        assert!(matches!(
            open_for_self(&a, &sealed[..31]),
            Err(DmError::Malformed(_))
        ));
    }

    #[test]
    fn read_receipts_are_letters_too_and_bad_keys_are_named() {
        let (a, b, _) = people();
        let receipt = Letter {
            body: Body::Read { up_to_ms: NOW - 5 },
            ..letter(&b, &a, "")
        };
        let sealed = seal(&b, &receipt, [1; 32]).expect("seal");
        assert_eq!(open(&a, &sealed, NOW), Ok(receipt));
        // Not a point on the curve: no letter can be sealed to it.
        let nobody = (0..=255u8)
            .map(|i| AuthorId([i; 32]))
            .find(|k| k.verifying_key().is_none())
            .expect("some byte pattern is off the curve");
        let mut to_nobody = letter(&a, &b, "hi");
        to_nobody.to = nobody;
        assert_eq!(seal(&a, &to_nobody, [7; 32]), Err(DmError::BadKey(nobody)));
    }
}
