//! The in-memory backend: the same model as IndexedDB, in ordered maps.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use kith_core::{AuthorId, Cursor, VerifiedEntry};

use crate::plan::{check_held, image_slot, join, plan, proves_deleted, split, timeline_key};
use crate::{FeedMeta, MAX_READ, Store, StoreError, check_setting};

#[derive(Default)]
struct Data {
    identity: Option<Vec<u8>>,
    headers: BTreeMap<(AuthorId, u64), Vec<u8>>,
    payloads: BTreeMap<(AuthorId, u64), Vec<u8>>,
    timeline: BTreeSet<(u64, AuthorId, u64)>,
    /// Purged entry → the seq of the delete that purged it.
    purged_by: BTreeMap<(AuthorId, u64), u64>,
    feeds: BTreeMap<AuthorId, FeedMeta>,
    /// Images of held entries: (author, seq, index) → (hash, bytes).
    images: BTreeMap<(AuthorId, u64, u8), (kith_core::Hash, Vec<u8>)>,
    settings: BTreeMap<String, Vec<u8>>,
    /// Bytes (headers, payloads and images) this store may hold, like a browser's quota.
    quota: Option<u64>,
    used: u64,
}

impl Data {
    fn read(&self, author: AuthorId, seq: u64) -> Result<Option<VerifiedEntry>, StoreError> {
        let Some(h) = self.headers.get(&(author, seq)) else {
            return Ok(None);
        };
        join(h, self.payloads.get(&(author, seq)).cloned()).map(Some)
    }

    fn purge(
        &mut self,
        author: AuthorId,
        seq: u64,
        hash: Option<kith_core::Hash>,
    ) -> Result<bool, StoreError> {
        let Some(e) = self.read(author, seq)? else {
            return Ok(false);
        };
        if hash.is_some_and(|h| h != e.hash()) {
            return Ok(false);
        }
        if let Some(p) = self.payloads.remove(&(author, seq)) {
            self.used = self.used.saturating_sub(p.len() as u64);
            if let Some(m) = self.feeds.get_mut(&author) {
                m.bytes = m.bytes.saturating_sub(p.len() as u64);
            }
        }
        if let Some(k) = timeline_key(&e) {
            self.timeline.remove(&k);
        }
        self.drop_images(|(a, s, _)| *a == author && *s == seq);
        Ok(true)
    }

    fn drop_images(&mut self, which: impl Fn(&(AuthorId, u64, u8)) -> bool) {
        let mut freed: BTreeMap<AuthorId, u64> = BTreeMap::new();
        self.images.retain(|k, (_, b)| {
            let drop = which(k);
            if drop {
                *freed.entry(k.0).or_default() += b.len() as u64;
            }
            !drop
        });
        for (author, n) in freed {
            self.used = self.used.saturating_sub(n);
            if let Some(m) = self.feeds.get_mut(&author) {
                m.bytes = m.bytes.saturating_sub(n);
            }
        }
    }
}

/// A store that keeps everything in memory. Clones share the data, like two handles on one
/// database; [`MemoryStore::reopen`] models a page reload.
#[derive(Clone, Default)]
pub struct MemoryStore {
    data: Rc<RefCell<Data>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that holds at most `bytes` of entries (headers and payloads), as a
    /// browser's storage quota does: a write that would go over it is refused whole
    /// ([`StoreError::QuotaExceeded`]).
    pub fn with_quota(bytes: u64) -> Self {
        let store = Self::default();
        store.data.borrow_mut().quota = Some(bytes);
        store
    }

    /// A fresh handle on the same data, as after a reload.
    pub fn reopen(&self) -> Self {
        self.clone()
    }
}

impl Store for MemoryStore {
    async fn identity(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.data.borrow().identity.clone())
    }

    async fn set_identity(&self, secret: &[u8]) -> Result<(), StoreError> {
        self.data.borrow_mut().identity = Some(secret.to_vec());
        Ok(())
    }

    async fn insert(&self, entries: &[VerifiedEntry]) -> Result<(), StoreError> {
        let mut d = self.data.borrow_mut();
        let plan = plan(|a| d.feeds.get(a).cloned(), entries)?;
        for r in &plan.held {
            check_held(r, d.read(r.author, r.seq)?.as_ref())?;
        }
        let adds: u64 = plan
            .writes
            .iter()
            .map(|e| {
                let (header, payload) = split(e);
                (header.len() + payload.map_or(0, |p| p.len())) as u64
            })
            .sum();
        if d.quota.is_some_and(|q| d.used.saturating_add(adds) > q) {
            return Err(StoreError::QuotaExceeded);
        }
        d.used = d.used.saturating_add(adds);
        for e in &plan.writes {
            let (header, payload) = split(e);
            let key = (e.author(), e.seq());
            d.headers.insert(key, header);
            if let Some(p) = payload {
                d.payloads.insert(key, p);
            }
            if let Some(k) = timeline_key(e) {
                d.timeline.insert(k);
            }
        }
        d.feeds.extend(plan.metas);
        for (t, by) in plan.purges {
            if d.purge(t.author, t.seq, Some(t.hash))? {
                d.purged_by.insert((t.author, t.seq), by);
            }
        }
        Ok(())
    }

    async fn range(
        &self,
        author: &AuthorId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        let d = self.data.borrow();
        let mut out = Vec::new();
        for seq in from.max(1)..from.max(1).saturating_add(limit.min(MAX_READ) as u64) {
            match d.read(*author, seq)? {
                Some(e) => out.push(e),
                None => break,
            }
        }
        Ok(out)
    }

    async fn frontier(&self) -> Result<Vec<(AuthorId, u64)>, StoreError> {
        let d = self.data.borrow();
        Ok(d.feeds
            .values()
            .filter(|m| m.head.is_some())
            .map(|m| (m.author, m.head_seq()))
            .collect())
    }

    async fn timeline(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        let d = self.data.borrow();
        let end = cursor.map(|c| (c.timestamp_ms, c.author, c.seq));
        let mut out = Vec::new();
        let keys = d
            .timeline
            .iter()
            .rev()
            .filter(|k| end.is_none_or(|e| **k < e));
        for &(_, author, seq) in keys {
            if out.len() >= limit.min(MAX_READ) {
                break;
            }
            if d.feeds.get(&author).is_some_and(|m| m.followed)
                && let Some(e) = d.read(author, seq)?
            {
                out.push(e);
            }
        }
        Ok(out)
    }

    async fn purge(&self, author: &AuthorId, seq: u64) -> Result<(), StoreError> {
        self.data.borrow_mut().purge(*author, seq, None).map(drop)
    }

    async fn deletes_of(
        &self,
        entries: &[VerifiedEntry],
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        let d = self.data.borrow();
        let mut out = Vec::new();
        for e in entries.iter().filter(|e| e.payload().is_none()) {
            if let Some(by) = d.purged_by.get(&(e.author(), e.seq()))
                && let Some(delete) = d.read(e.author(), *by)?
                && proves_deleted(&delete, e)
            {
                out.push(delete);
            }
        }
        Ok(out)
    }

    async fn forget(&self, author: &AuthorId) -> Result<(), StoreError> {
        let mut d = self.data.borrow_mut();
        let a = *author;
        let freed: usize = d
            .headers
            .iter()
            .chain(d.payloads.iter())
            .filter(|((x, _), _)| *x == a)
            .map(|(_, v)| v.len())
            .sum();
        d.used = d.used.saturating_sub(freed as u64);
        d.headers.retain(|(x, _), _| *x != a);
        d.payloads.retain(|(x, _), _| *x != a);
        d.timeline.retain(|(_, x, _)| *x != a);
        d.purged_by.retain(|(x, _), _| *x != a);
        d.drop_images(|(x, _, _)| *x == a);
        d.feeds.remove(author);
        Ok(())
    }

    async fn put_image(
        &self,
        author: &AuthorId,
        seq: u64,
        index: u8,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let mut d = self.data.borrow_mut();
        let image = image_slot(d.read(*author, seq)?.as_ref(), index, bytes)?;
        let key = (*author, seq, index);
        if d.images.contains_key(&key) {
            return Ok(());
        }
        let adds = bytes.len() as u64;
        if d.quota.is_some_and(|q| d.used.saturating_add(adds) > q) {
            return Err(StoreError::QuotaExceeded);
        }
        d.used = d.used.saturating_add(adds);
        if let Some(m) = d.feeds.get_mut(author) {
            m.bytes = m.bytes.saturating_add(adds);
        }
        d.images.insert(key, (image.hash, bytes.to_vec()));
        Ok(())
    }

    async fn image(&self, hash: &kith_core::Hash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .data
            .borrow()
            .images
            .values()
            .find(|(h, _)| h == hash)
            .map(|(_, b)| b.clone()))
    }

    async fn feed(&self, author: &AuthorId) -> Result<Option<FeedMeta>, StoreError> {
        Ok(self.data.borrow().feeds.get(author).cloned())
    }

    async fn feeds(&self) -> Result<Vec<FeedMeta>, StoreError> {
        Ok(self.data.borrow().feeds.values().cloned().collect())
    }

    async fn update_meta(
        &self,
        author: &AuthorId,
        f: &dyn Fn(&mut FeedMeta),
    ) -> Result<(), StoreError> {
        let mut d = self.data.borrow_mut();
        f(d.feeds
            .entry(*author)
            .or_insert_with(|| FeedMeta::new(*author)));
        Ok(())
    }

    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_setting(key, &[])?;
        Ok(self.data.borrow().settings.get(key).cloned())
    }

    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_setting(key, value)?;
        self.data
            .borrow_mut()
            .settings
            .insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    async fn delete_setting(&self, key: &str) -> Result<(), StoreError> {
        check_setting(key, &[])?;
        self.data.borrow_mut().settings.remove(key);
        Ok(())
    }
}
