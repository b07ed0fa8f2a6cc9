//! Helpers shared by kith-core's unit tests (compiled only for tests).

use crate::entry::{FORMAT_VERSION, Header, Payload, PayloadKind, RawEntry};
use crate::hash::Hash;
use crate::identity::Identity;

/// A fixed clock for tests: 2026-01-01T00:00:00Z.
pub(crate) const NOW: u64 = 1_767_225_600_000;

/// A deterministic identity.
pub(crate) fn id(n: u8) -> Identity {
    Identity::from_secret([n; 32])
}

/// A header for `payload` at `seq` after `prev`, which tests then bend out of shape.
pub(crate) fn header(id: &Identity, seq: u64, prev: Option<Hash>, payload: &[u8]) -> Header {
    Header {
        version: FORMAT_VERSION,
        author: id.author(),
        seq,
        prev,
        timestamp_ms: NOW,
        kind: PayloadKind::Post,
        payload_hash: Hash::of(&[payload]),
        payload_len: payload.len() as u32,
    }
}

/// Signs `header` and packs it with `payload`.
pub(crate) fn craft(id: &Identity, header: &Header, payload: Option<Vec<u8>>) -> Vec<u8> {
    let header = postcard::to_allocvec(header).expect("encode header");
    let signature = id.sign(&header).to_vec();
    RawEntry {
        header,
        signature,
        payload,
    }
    .encode()
}

/// The encoding of a payload.
pub(crate) fn payload_bytes(p: &Payload) -> Vec<u8> {
    postcard::to_allocvec(p).expect("encode payload")
}
