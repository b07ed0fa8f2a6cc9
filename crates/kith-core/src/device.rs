//! Devices: each browser a person uses runs its node under a network key of its own (so two
//! browsers of one person are two peers, and both can be online at once), and says whose
//! device it is with a [`DeviceClaim`]: the person's identity key signing the device's network
//! key. Peers check the claim before they take a device for its person (to name who served a
//! feed or who holds one); nothing else trusts it, since every entry carries the author's own
//! signature.
//!
//! The claim travels two ways: as text ([`DeviceClaim::to_text`]) in identify's agent version,
//! where any connected peer reads it, and as a DHT record under the device's own key
//! ([`DeviceClaim::record_key`], [`DeviceClaim::encode_record`]), where a peer that has never
//! met the device finds whose it is (a handle's claimants and a feed's holders are devices).

use serde::{Deserialize, Serialize};

use crate::hash::{Hash, hex, unhex};
use crate::identity::{AuthorId, Identity};

/// The longest device key a claim covers (a protobuf-encoded libp2p public key is 36 bytes
/// for Ed25519; RSA keys are far longer and are not Kith devices).
pub const MAX_DEVICE_KEY: usize = 64;

/// The largest encoded device record.
pub const MAX_RECORD_BYTES: usize = 192;

/// A device record: the device's key and its person's claim.
#[derive(Serialize, Deserialize)]
struct Record {
    device: Vec<u8>,
    author: AuthorId,
    signature: Vec<u8>,
}

/// What precedes a claim in identify's agent version.
pub const CLAIM_TAG: &str = "kith-device=";

/// A person's signature on one of their devices' network keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceClaim {
    /// Whose device it is.
    pub author: AuthorId,
    /// Ed25519 over the domain tag and the device key.
    pub signature: [u8; 64],
}

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The text is not a claim.
    #[error("not a device claim")]
    Malformed,
    /// The device key is empty or longer than [`MAX_DEVICE_KEY`].
    #[error("the device key is not one a Kith device uses")]
    BadDeviceKey,
    /// The signature does not verify under the person's key for this device key.
    #[error("the device claim's signature does not verify")]
    BadSignature,
}

fn signed_bytes(device_key: &[u8]) -> Vec<u8> {
    let mut m = b"kith-device-v1\0".to_vec();
    m.extend(device_key);
    m
}

impl DeviceClaim {
    /// `identity` claims the device whose network key encodes to `device_key`.
    pub fn sign(identity: &Identity, device_key: &[u8]) -> Result<DeviceClaim, DeviceError> {
        if device_key.is_empty() || device_key.len() > MAX_DEVICE_KEY {
            return Err(DeviceError::BadDeviceKey);
        }
        Ok(DeviceClaim {
            author: identity.author(),
            signature: identity.sign(&signed_bytes(device_key)),
        })
    }

    /// Checks that the claim's author signed `device_key`.
    pub fn verify(&self, device_key: &[u8]) -> Result<(), DeviceError> {
        if device_key.is_empty() || device_key.len() > MAX_DEVICE_KEY {
            return Err(DeviceError::BadDeviceKey);
        }
        let key = self
            .author
            .verifying_key()
            .ok_or(DeviceError::BadSignature)?;
        key.verify_strict(
            &signed_bytes(device_key),
            &ed25519_dalek::Signature::from_bytes(&self.signature),
        )
        .map_err(|_| DeviceError::BadSignature)
    }

    /// The DHT key of the record for the device whose key encodes to `device_key`.
    pub fn record_key(device_key: &[u8]) -> Hash {
        Hash::of(&[b"kith-device-record\0", device_key])
    }

    /// The DHT record of this claim for `device_key`.
    pub fn encode_record(&self, device_key: &[u8]) -> Vec<u8> {
        let record = Record {
            device: device_key.to_vec(),
            author: self.author,
            signature: self.signature.to_vec(),
        };
        postcard::to_allocvec(&record).unwrap_or_default()
    }

    /// Decodes and verifies a device record: the device key it covers and its person.
    pub fn decode_record(bytes: &[u8]) -> Result<(Vec<u8>, AuthorId), DeviceError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(DeviceError::Malformed);
        }
        let record: Record =
            crate::codec::from_bytes_exact(bytes).map_err(|_| DeviceError::Malformed)?;
        let claim = DeviceClaim {
            author: record.author,
            signature: record
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| DeviceError::Malformed)?,
        };
        claim.verify(&record.device)?;
        Ok((record.device, record.author))
    }

    /// Whether `bytes` is a device record that verifies and is stored under `key`, its own.
    pub fn record_stored_under(bytes: &[u8], key: &[u8]) -> bool {
        DeviceClaim::decode_record(bytes)
            .is_ok_and(|(device, _)| DeviceClaim::record_key(&device).0 == key)
    }

    /// The claim as one word: [`CLAIM_TAG`], the author's hex, `.`, the signature's hex.
    pub fn to_text(&self) -> String {
        format!(
            "{CLAIM_TAG}{}.{}",
            self.author.to_hex(),
            hex(&self.signature)
        )
    }

    /// Finds a claim among the words of `text` (an agent version) and checks it against
    /// `device_key`. `Ok(None)` when the text carries no claim; a claim that is there and
    /// wrong is an error, never taken as no claim.
    pub fn find(text: &str, device_key: &[u8]) -> Result<Option<AuthorId>, DeviceError> {
        let Some(word) = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix(CLAIM_TAG))
        else {
            return Ok(None);
        };
        let (author, sig) = word.split_once('.').ok_or(DeviceError::Malformed)?;
        let claim = DeviceClaim {
            author: AuthorId(unhex::<32>(author).ok_or(DeviceError::Malformed)?),
            signature: unhex::<64>(sig).ok_or(DeviceError::Malformed)?,
        };
        claim.verify(device_key)?;
        Ok(Some(claim.author))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::testutil::id;

    #[test]
    fn a_claim_names_its_person_only_for_its_device() {
        let alice = id(1);
        let device = [7u8; 36];
        let claim = DeviceClaim::sign(&alice, &device).expect("claim");
        let agent = format!("kith/0.1.0 {}", claim.to_text());
        assert_eq!(DeviceClaim::find(&agent, &device), Ok(Some(alice.author())));
        // The same claim shown by another device.
        assert_eq!(
            DeviceClaim::find(&agent, &[8u8; 36]),
            Err(DeviceError::BadSignature)
        );
        // Someone else's signature with Alice's name on it.
        let mut forged = DeviceClaim::sign(&id(2), &device).expect("claim");
        forged.author = alice.author();
        assert_eq!(
            DeviceClaim::find(&forged.to_text(), &device),
            Err(DeviceError::BadSignature)
        );
        // No claim at all, and claims that are not claims.
        assert_eq!(DeviceClaim::find("kith/0.1.0", &device), Ok(None));
        for junk in [
            "kith-device=",
            "kith-device=abc.def",
            "kith-device=zz",
            &format!("{CLAIM_TAG}{}", alice.author().to_hex()),
        ] {
            assert_eq!(
                DeviceClaim::find(junk, &device),
                Err(DeviceError::Malformed),
                "{junk}"
            );
        }
        assert_eq!(
            DeviceClaim::sign(&alice, &[]),
            Err(DeviceError::BadDeviceKey)
        );
        assert_eq!(
            DeviceClaim::find(&agent, &[0u8; 65]),
            Err(DeviceError::BadDeviceKey)
        );
    }

    #[test]
    fn a_record_verifies_only_under_its_own_key() {
        let alice = id(1);
        let device = [7u8; 38];
        let claim = DeviceClaim::sign(&alice, &device).expect("claim");
        let bytes = claim.encode_record(&device);
        assert!(bytes.len() <= MAX_RECORD_BYTES);
        assert_eq!(
            DeviceClaim::decode_record(&bytes),
            Ok((device.to_vec(), alice.author()))
        );
        let key = DeviceClaim::record_key(&device);
        assert!(DeviceClaim::record_stored_under(&bytes, &key.0));
        // Under another device's key, or for another device, it does not hold.
        assert!(!DeviceClaim::record_stored_under(
            &bytes,
            &DeviceClaim::record_key(&[8u8; 38]).0
        ));
        let moved = claim.encode_record(&[8u8; 38]);
        assert_eq!(
            DeviceClaim::decode_record(&moved),
            Err(DeviceError::BadSignature)
        );
        assert_eq!(
            DeviceClaim::decode_record(b"junk"),
            Err(DeviceError::Malformed)
        );
        assert_eq!(
            DeviceClaim::decode_record(&[0u8; MAX_RECORD_BYTES + 1]),
            Err(DeviceError::Malformed)
        );
    }
}
