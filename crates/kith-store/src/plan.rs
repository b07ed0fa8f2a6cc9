//! The one place that decides what a batch does to a store, so every backend agrees.

use std::collections::BTreeMap;

use kith_core::{AuthorId, EntryRef, Expect, Payload, VerifiedEntry};

use crate::{FeedMeta, StoreError};

/// What a batch writes, in order: new entries, then payload purges, then the metadata.
pub(crate) struct Plan {
    /// Entries to write (their feeds' next ones, in order).
    pub(crate) writes: Vec<VerifiedEntry>,
    /// Entries whose payload a delete in the batch removes (if the stored hash matches).
    pub(crate) purges: Vec<EntryRef>,
    /// The metadata of every feed the batch touches, as it will be after it.
    pub(crate) metas: BTreeMap<AuthorId, FeedMeta>,
}

/// The encoded size of an entry's header record and payload.
pub(crate) fn sizes(e: &VerifiedEntry) -> (u64, u64) {
    let raw = e.raw();
    let header = (raw.header.len() + raw.signature.len()) as u64;
    let payload = raw.payload.as_ref().map_or(0, |p| p.len() as u64);
    (header, payload)
}

/// Plans `entries` against the stored metadata `stored` returns.
pub(crate) fn plan(
    mut stored: impl FnMut(&AuthorId) -> Option<FeedMeta>,
    entries: &[VerifiedEntry],
) -> Result<Plan, StoreError> {
    let mut metas: BTreeMap<AuthorId, FeedMeta> = BTreeMap::new();
    let mut writes = Vec::new();
    let mut purges = Vec::new();
    for e in entries {
        let author = e.author();
        let meta = metas
            .entry(author)
            .or_insert_with(|| stored(&author).unwrap_or_else(|| FeedMeta::new(author)));
        let head = meta.head_seq();
        if e.seq() <= head {
            // Already held. Only the head's hash can be compared without a read; the sync
            // layer detects forks below the head before entries reach the store.
            if e.seq() == head && meta.head.map(|h| h.hash) != Some(e.hash()) {
                return Err(StoreError::DoesNotChain {
                    author,
                    seq: e.seq(),
                    reason: "a different entry is stored at this seq (fork)".into(),
                });
            }
            continue;
        }
        e.check_chain(&Expect {
            author,
            prev: meta.head,
        })
        .map_err(|err| StoreError::DoesNotChain {
            author,
            seq: e.seq(),
            reason: err.to_string(),
        })?;
        let (h, p) = sizes(e);
        meta.head = Some(e.as_prev());
        meta.entries += 1;
        meta.bytes += h + p;
        if let Some(Payload::Delete { target }) = e.payload() {
            purges.push(*target);
        }
        writes.push(e.clone());
    }
    Ok(Plan {
        writes,
        purges,
        metas,
    })
}

/// The stored form of an entry: the header record (header and signature) and the payload.
pub(crate) fn split(e: &VerifiedEntry) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut raw = e.raw().clone();
    let payload = raw.payload.take();
    (raw.encode(), payload)
}

/// An entry read back from its header record and payload.
pub(crate) fn join(header: &[u8], payload: Option<Vec<u8>>) -> Result<VerifiedEntry, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let mut raw: kith_core::RawEntry = postcard::from_bytes(header).map_err(|e| corrupt(&e))?;
    raw.payload = payload;
    kith_core::reload(&raw.encode()).map_err(|e| corrupt(&e))
}

/// The time-index key of an entry, if it is a post with its payload.
pub(crate) fn timeline_key(e: &VerifiedEntry) -> Option<(u64, AuthorId, u64)> {
    matches!(e.payload(), Some(Payload::Post { .. }))
        .then(|| (e.header().timestamp_ms, e.author(), e.seq()))
}
