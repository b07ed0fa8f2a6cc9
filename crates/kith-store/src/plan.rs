//! The one place that decides what a batch does to a store, so every backend agrees.

use std::collections::BTreeMap;

use kith_core::{AuthorId, EntryRef, Expect, Payload, VerifiedEntry};

use crate::{FeedMeta, StoreError};

/// What a batch writes, in order: new entries, then payload purges, then the metadata.
pub(crate) struct Plan {
    /// Entries to write (their feeds' next ones, in order).
    pub(crate) writes: Vec<VerifiedEntry>,
    /// Entries whose payload a delete in the batch removes (if the stored hash matches), each
    /// with the seq of that delete (kept beside the purged entry: a sync answer that serves
    /// the entry without its payload carries the delete as proof).
    pub(crate) purges: Vec<(EntryRef, u64)>,
    /// The metadata of every feed the batch touches, as it will be after it.
    pub(crate) metas: BTreeMap<AuthorId, FeedMeta>,
    /// Entries below the stored head that the batch repeats: the backend compares each with
    /// the stored one ([`check_held`]) before writing, so a different entry at a position
    /// already held (a fork, or a stale tab's post) is refused, never silently skipped.
    pub(crate) held: Vec<EntryRef>,
}

/// The error for a different entry at a position already held.
pub(crate) fn fork(author: AuthorId, seq: u64) -> StoreError {
    StoreError::Fork { author, seq }
}

/// Compares a repeated entry with the stored one at its position (`stored`: the entry read
/// back, `None` if the store has a gap there, which only a damaged store can have).
pub(crate) fn check_held(
    wanted: &EntryRef,
    stored: Option<&VerifiedEntry>,
) -> Result<(), StoreError> {
    match stored {
        Some(e) if e.hash() == wanted.hash => Ok(()),
        Some(_) => Err(fork(wanted.author, wanted.seq)),
        None => Err(StoreError::Corrupt(format!(
            "entry {} of {:?} is missing below the stored head",
            wanted.seq, wanted.author
        ))),
    }
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
    let mut held = Vec::new();
    for e in entries {
        let author = e.author();
        let meta = metas
            .entry(author)
            .or_insert_with(|| stored(&author).unwrap_or_else(|| FeedMeta::new(author)));
        let head = meta.head_seq();
        if e.seq() <= head {
            // Already held, if it is the same entry. The head's hash is in the metadata;
            // positions below it are compared by the backend (`held`).
            if e.seq() == head {
                if meta.head.map(|h| h.hash) != Some(e.hash()) {
                    return Err(fork(author, e.seq()));
                }
            } else {
                held.push(e.entry_ref());
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
            purges.push((*target, e.seq()));
        }
        writes.push(e.clone());
    }
    Ok(Plan {
        writes,
        purges,
        metas,
        held,
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

/// Whether `delete` is the author's delete of `target` (what proves a payload was removed, not
/// withheld).
pub(crate) fn proves_deleted(delete: &VerifiedEntry, target: &VerifiedEntry) -> bool {
    matches!(delete.payload(), Some(Payload::Delete { target: t }) if *t == target.entry_ref())
        && delete.author() == target.author()
}

/// The image `index` of `entry` (the stored entry at that position), if `bytes` are it: the
/// one rule both backends apply before keeping an image.
pub(crate) fn image_slot(
    entry: Option<&VerifiedEntry>,
    index: u8,
    bytes: &[u8],
) -> Result<kith_core::ImageRef, StoreError> {
    let refused = |why: String| StoreError::ImageRefused(why);
    let entry = entry.ok_or_else(|| refused("its entry is not held here".into()))?;
    let payload = entry
        .payload()
        .ok_or_else(|| refused("its entry was deleted".into()))?;
    let image = *payload
        .images()
        .get(usize::from(index))
        .ok_or_else(|| refused(format!("the entry names no image {index}")))?;
    kith_core::image::check(&image, bytes).map_err(|e| refused(e.to_string()))?;
    Ok(image)
}
