//! Identities: one Ed25519 key per person, its public half the author id.
//!
//! kith-core has no randomness source: a new identity is made from 32 secret bytes the caller
//! draws from the platform's CSPRNG, and an export takes its salt and nonce from the caller
//! too. The same public key is the person's libp2p identity; kith-net does that conversion.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::hash::{Hash, hex};

/// An author: the 32 bytes of an Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuthorId(pub [u8; 32]);

impl AuthorId {
    /// A short, human-checkable fingerprint: the first 10 bytes of SHA-256 of the key, in five
    /// groups of four hex digits (80 bits), e.g. `3fa2-91bc-07de-44a1-9c0e`. Two people compare
    /// it aloud or side by side to know they mean the same key.
    pub fn fingerprint(&self) -> String {
        let h = Hash::of(&[b"kith-fingerprint", &self.0]);
        hex(&h.0[..10])
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Lowercase hex of the key.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses [`AuthorId::to_hex`].
    pub fn from_hex(s: &str) -> Option<AuthorId> {
        crate::hash::unhex::<32>(s).map(AuthorId)
    }

    pub(crate) fn verifying_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }
}

impl std::fmt::Debug for AuthorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthorId({})", &self.to_hex()[..12])
    }
}

impl std::fmt::Display for AuthorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A person's signing key.
pub struct Identity {
    key: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({:?})", self.author())
    }
}

impl Identity {
    /// The identity for 32 secret bytes (drawn by the caller from a CSPRNG).
    pub fn from_secret(secret: [u8; 32]) -> Identity {
        Identity {
            key: SigningKey::from_bytes(&secret),
        }
    }

    /// The secret bytes. Handle with care: this is the person's whole identity.
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public half.
    pub fn author(&self) -> AuthorId {
        AuthorId(self.key.verifying_key().to_bytes())
    }

    /// The X25519 secret scalar of this key (the first half of SHA-512 of the secret,
    /// clamped), with which direct messages are sealed and opened ([`crate::dm`]).
    pub(crate) fn scalar_bytes(&self) -> [u8; 32] {
        self.key.to_scalar_bytes()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Encrypts the secret under `passphrase` (Argon2id, then ChaCha20-Poly1305), with a salt
    /// and nonce drawn by the caller. The result carries its own parameters and the public key.
    pub fn export(
        &self,
        passphrase: &str,
        kdf: KdfParams,
        salt: [u8; 16],
        nonce: [u8; 12],
    ) -> Result<Vec<u8>, KeyExportError> {
        let key = derive(passphrase, &kdf, &salt)?;
        let author = self.author();
        let ciphertext = ChaCha20Poly1305::new(&key)
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &self.secret(),
                    aad: &author.0,
                },
            )
            .map_err(|_| KeyExportError::Malformed)?;
        let export = KeyExport {
            version: KEY_EXPORT_VERSION,
            kdf,
            salt,
            nonce,
            author,
            ciphertext,
        };
        postcard::to_allocvec(&export).map_err(|_| KeyExportError::Malformed)
    }

    /// Decrypts an [`Identity::export`].
    pub fn import(bytes: &[u8], passphrase: &str) -> Result<Identity, KeyExportError> {
        if bytes.len() > 512 {
            return Err(KeyExportError::Malformed);
        }
        let export: KeyExport =
            crate::codec::from_bytes_exact(bytes).map_err(|_| KeyExportError::Malformed)?;
        if export.version != KEY_EXPORT_VERSION {
            return Err(KeyExportError::UnsupportedVersion(export.version));
        }
        let key = derive(passphrase, &export.kdf, &export.salt)?;
        let secret = ChaCha20Poly1305::new(&key)
            .decrypt(
                &Nonce::from(export.nonce),
                Payload {
                    msg: &export.ciphertext,
                    aad: &export.author.0,
                },
            )
            .map_err(|_| KeyExportError::WrongPassphrase)?;
        let secret: [u8; 32] = secret.try_into().map_err(|_| KeyExportError::Malformed)?;
        let identity = Identity::from_secret(secret);
        if identity.author() != export.author {
            return Err(KeyExportError::AuthorMismatch);
        }
        Ok(identity)
    }
}

const KEY_EXPORT_VERSION: u8 = 1;

/// Argon2id cost parameters, stored in the export so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

impl KdfParams {
    /// OWASP's recommendation for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const RECOMMENDED: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
    };
    /// The most an import will spend, so a hostile file cannot exhaust memory.
    pub const MAX_MEMORY_KIB: u32 = 256 * 1024;
}

#[derive(Serialize, Deserialize)]
struct KeyExport {
    version: u8,
    kdf: KdfParams,
    salt: [u8; 16],
    nonce: [u8; 12],
    author: AuthorId,
    ciphertext: Vec<u8>,
}

fn derive(passphrase: &str, kdf: &KdfParams, salt: &[u8; 16]) -> Result<Key, KeyExportError> {
    if passphrase.is_empty() {
        return Err(KeyExportError::EmptyPassphrase);
    }
    if kdf.memory_kib > KdfParams::MAX_MEMORY_KIB || kdf.iterations > 16 {
        return Err(KeyExportError::KdfTooCostly);
    }
    let params = Params::new(kdf.memory_kib, kdf.iterations, 1, Some(32))
        .map_err(|_| KeyExportError::Malformed)?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|_| KeyExportError::Malformed)?;
    Ok(Key::from(out))
}

/// Why a key export could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyExportError {
    /// An empty passphrase protects nothing.
    #[error("choose a passphrase; an empty one protects nothing")]
    EmptyPassphrase,
    /// The passphrase does not open this export (or the file was altered).
    #[error("the passphrase is wrong, or the key file was altered")]
    WrongPassphrase,
    /// Not a Kith key export.
    #[error("this is not a Kith key export")]
    Malformed,
    /// Made by a newer Kith.
    #[error("this key export has version {0}, which this Kith does not read")]
    UnsupportedVersion(u8),
    /// The export asks for more work than an import will do.
    #[error("this key export asks for more memory or passes than Kith allows")]
    KdfTooCostly,
    /// The decrypted key is not the one the export names.
    #[error("the key inside does not match the author the export names")]
    AuthorMismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: the tests check the format, not the cost.
    pub(crate) const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn export_round_trips_and_refuses_bad_input() {
        let id = Identity::from_secret([7; 32]);
        let blob = id
            .export("correct horse", FAST, [1; 16], [2; 12])
            .expect("export");
        let back = Identity::import(&blob, "correct horse").expect("import");
        assert_eq!(back.author(), id.author());
        assert_eq!(
            Identity::import(&blob, "wrong").err(),
            Some(KeyExportError::WrongPassphrase)
        );
        assert_eq!(
            id.export("", FAST, [1; 16], [2; 12]).err(),
            Some(KeyExportError::EmptyPassphrase)
        );
        assert_eq!(
            Identity::import(b"junk", "x").err(),
            Some(KeyExportError::Malformed)
        );
        let mut newer = blob.clone();
        newer[0] = 9;
        assert_eq!(
            Identity::import(&newer, "correct horse").err(),
            Some(KeyExportError::UnsupportedVersion(9))
        );
        let costly = id
            .export(
                "p",
                KdfParams {
                    memory_kib: KdfParams::MAX_MEMORY_KIB + 1,
                    iterations: 1,
                },
                [1; 16],
                [2; 12],
            )
            .err();
        assert_eq!(costly, Some(KeyExportError::KdfTooCostly));
        // Swapping in another author's public key breaks the AEAD's associated data.
        let mut export: KeyExport = postcard::from_bytes(&blob).expect("decode");
        export.author = Identity::from_secret([8; 32]).author();
        let forged = postcard::to_allocvec(&export).expect("encode");
        assert_eq!(
            Identity::import(&forged, "correct horse").err(),
            Some(KeyExportError::WrongPassphrase)
        );
    }

    #[test]
    fn author_mismatch_is_detected() {
        // Encrypt someone else's secret while naming our author (an export made by a buggy or
        // hostile tool): decryption succeeds, the key check refuses it.
        let id = Identity::from_secret([7; 32]);
        let other = Identity::from_secret([8; 32]);
        let key = derive("p", &FAST, &[1; 16]).expect("derive");
        let ciphertext = ChaCha20Poly1305::new(&key)
            .encrypt(
                &Nonce::from([2; 12]),
                Payload {
                    msg: &other.secret(),
                    aad: &id.author().0,
                },
            )
            .expect("encrypt");
        let export = KeyExport {
            version: KEY_EXPORT_VERSION,
            kdf: FAST,
            salt: [1; 16],
            nonce: [2; 12],
            author: id.author(),
            ciphertext,
        };
        let blob = postcard::to_allocvec(&export).expect("encode");
        assert_eq!(
            Identity::import(&blob, "p").err(),
            Some(KeyExportError::AuthorMismatch)
        );
    }

    #[test]
    fn fingerprint_is_short_stable_and_distinct() {
        let a = Identity::from_secret([1; 32]).author();
        let b = Identity::from_secret([2; 32]).author();
        let fa = a.fingerprint();
        assert_eq!(fa.len(), 24);
        assert_eq!(fa.matches('-').count(), 4);
        assert_eq!(fa, a.fingerprint());
        assert_ne!(fa, b.fingerprint());
        assert_eq!(AuthorId::from_hex(&a.to_hex()), Some(a));
        assert_eq!(AuthorId::from_hex("zz"), None);
    }
}
