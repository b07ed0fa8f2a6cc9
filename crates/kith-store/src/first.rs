//! What the first screen reads: the newest posts of the feeds followed, from the time index,
//! and of each author on that page only the entries from their oldest post on it to their
//! head (a window), plus their first entry (where a profile usually is, for the name). Start-up
//! then costs the same whether the browser holds ten posts or ten thousand; the rest of every
//! feed is read behind the first screen.

use kith_core::{AuthorId, VerifiedEntry};

use crate::{Store, StoreError};

/// One author's window: the entries from `base`'s successor to the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The feed.
    pub author: AuthorId,
    /// The entry before the first of `entries` (`None`: `entries` start at seq 1).
    pub base: Option<VerifiedEntry>,
    /// The entries, in order, to the head as stored.
    pub entries: Vec<VerifiedEntry>,
    /// The feed's first entry, when `entries` do not hold it.
    pub first: Option<VerifiedEntry>,
}

/// Reads the windows of the authors of the newest `limit` posts of followed feeds
/// ([`Store::timeline`]), except `skip` (the person's own feed, read whole).
pub async fn first_page(
    store: &impl Store,
    limit: usize,
    skip: &AuthorId,
) -> Result<Vec<Window>, StoreError> {
    // Each author's oldest post on the page (a short list: at most `limit` authors).
    let mut oldest: Vec<(AuthorId, u64)> = Vec::new();
    for e in store.timeline(None, limit).await? {
        if e.author() == *skip {
            continue;
        }
        match oldest.iter_mut().find(|(a, _)| *a == e.author()) {
            Some((_, seq)) => *seq = (*seq).min(e.seq()),
            None => oldest.push((e.author(), e.seq())),
        }
    }
    // The windows are read at once (IndexedDB serves the read-only transactions side by side).
    let reads = oldest
        .into_iter()
        .map(|(author, from)| window(store, author, from));
    let mut windows = Vec::new();
    for w in futures::future::join_all(reads).await {
        windows.push(w?);
    }
    Ok(windows)
}

/// `author`'s window from the entry before `oldest` (their oldest post on the page).
async fn window(store: &impl Store, author: AuthorId, oldest: u64) -> Result<Window, StoreError> {
    // From the entry before the oldest post shown: the base the window chains onto.
    let from = oldest.saturating_sub(1).max(1);
    let first = async {
        if from > 1 {
            store.range(&author, 1, 1).await.map(|mut v| v.pop())
        } else {
            Ok(None)
        }
    };
    let rest = crate::range_to_head(store, &author, from);
    let (first, read) = futures::future::join(first, rest).await;
    let (first, mut read) = (first?, read?);
    // From seq 1 the window is the whole feed.
    let (base, entries) = if from > 1 && !read.is_empty() {
        let base = read.remove(0);
        (Some(base), read)
    } else {
        (None, read)
    };
    Ok(Window {
        author,
        base,
        entries,
        first,
    })
}
