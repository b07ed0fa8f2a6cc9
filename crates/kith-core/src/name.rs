//! Handles: a person claims a name with a record signed by their key. Names are not unique:
//! anyone may claim any handle, so a lookup returns every claimant with their fingerprint,
//! never "the" owner.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::identity::{AuthorId, Identity};

/// The longest handle, in characters.
pub const MAX_HANDLE: usize = 32;
/// The largest encoded claim.
pub const MAX_CLAIM_BYTES: usize = 256;

/// A signed claim of a handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameClaim {
    /// The handle, normalised (see [`normalize_handle`]).
    pub handle: String,
    /// Who claims it.
    pub author: AuthorId,
    /// When (ms since the epoch); a later claim by the same author replaces an earlier one.
    pub timestamp_ms: u64,
    /// Ed25519 over the domain tag, handle, author and time.
    pub signature: Vec<u8>,
}

/// Why a handle or claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not 1 to 32 of a–z, 0–9 and `_`.
    #[error("a handle is 1 to {MAX_HANDLE} letters, digits or underscores")]
    BadHandle,
    /// The bytes are not a claim.
    #[error("not a name record")]
    Malformed,
    /// The signature does not verify under the claimant's key.
    #[error("the name record's signature does not verify")]
    BadSignature,
}

/// Lowercases and checks a handle (`@` in front is dropped).
pub fn normalize_handle(text: &str) -> Result<String, NameError> {
    let h = text.trim().trim_start_matches('@').to_lowercase();
    let ok = !h.is_empty()
        && h.chars().count() <= MAX_HANDLE
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok { Ok(h) } else { Err(NameError::BadHandle) }
}

fn signed_bytes(handle: &str, author: &AuthorId, ts: u64) -> Vec<u8> {
    let mut m = b"kith-name-v1\0".to_vec();
    m.extend(handle.as_bytes());
    m.push(0);
    m.extend(author.0);
    m.extend(ts.to_be_bytes());
    m
}

impl NameClaim {
    /// `identity` claims `handle` at `now_ms`.
    pub fn sign(identity: &Identity, handle: &str, now_ms: u64) -> Result<NameClaim, NameError> {
        let handle = normalize_handle(handle)?;
        let author = identity.author();
        let signature = identity
            .sign(&signed_bytes(&handle, &author, now_ms))
            .to_vec();
        Ok(NameClaim {
            handle,
            author,
            timestamp_ms: now_ms,
            signature,
        })
    }

    /// Checks the handle and the signature.
    pub fn verify(&self) -> Result<(), NameError> {
        if normalize_handle(&self.handle)? != self.handle {
            return Err(NameError::BadHandle);
        }
        let key = self.author.verifying_key().ok_or(NameError::BadSignature)?;
        let sig: [u8; 64] = self
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| NameError::BadSignature)?;
        key.verify_strict(
            &signed_bytes(&self.handle, &self.author, self.timestamp_ms),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| NameError::BadSignature)
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decodes and verifies a record.
    pub fn decode(bytes: &[u8]) -> Result<NameClaim, NameError> {
        if bytes.len() > MAX_CLAIM_BYTES {
            return Err(NameError::Malformed);
        }
        let claim: NameClaim =
            crate::codec::from_bytes_exact(bytes).map_err(|_| NameError::Malformed)?;
        claim.verify()?;
        Ok(claim)
    }

    /// The DHT key of this claimant's record for `handle`.
    pub fn record_key(handle: &str, author: &AuthorId) -> Hash {
        Hash::of(&[b"kith-name-record\0", handle.as_bytes(), b"\0", &author.0])
    }

    /// The DHT key under which every claimant of `handle` announces itself.
    pub fn handle_key(handle: &str) -> Hash {
        Hash::of(&[b"kith-name\0", handle.as_bytes()])
    }

    /// Whether `key` is the right DHT key for this claim.
    pub fn stored_under(&self, key: &[u8]) -> bool {
        NameClaim::record_key(&self.handle, &self.author).0 == key
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::testutil::{NOW, id};

    #[test]
    fn claims_sign_verify_and_refuse_forgeries() {
        let alice = id(1);
        let c = NameClaim::sign(&alice, "@Alice_1", NOW).expect("claim");
        assert_eq!(c.handle, "alice_1");
        assert_eq!(NameClaim::decode(&c.encode()), Ok(c.clone()));
        assert!(c.stored_under(&NameClaim::record_key("alice_1", &alice.author()).0));
        // Someone else's signature on Alice's claim.
        let mut forged = NameClaim::sign(&id(2), "alice_1", NOW).expect("claim");
        forged.author = alice.author();
        assert_eq!(
            NameClaim::decode(&forged.encode()),
            Err(NameError::BadSignature)
        );
        let mut renamed = c.clone();
        renamed.handle = "bob".into();
        assert_eq!(renamed.verify(), Err(NameError::BadSignature));
        assert_eq!(normalize_handle("no spaces"), Err(NameError::BadHandle));
        assert_eq!(normalize_handle(&"x".repeat(33)), Err(NameError::BadHandle));
        assert_eq!(NameClaim::decode(b"junk"), Err(NameError::Malformed));
    }
}
