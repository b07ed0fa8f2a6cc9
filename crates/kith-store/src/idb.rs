//! The browser backend: IndexedDB through the `idb` crate.
//!
//! Schema, version 4 (values are postcard bytes in `Uint8Array`s):
//!
//! | object store | key | value |
//! |---|---|---|
//! | `chunks` | `[author hex, chunk]` | `{ d, t, p }`: `d` up to [`CHUNK`] entries of one feed, `(seq, entry, post time)`; `t` the time keys `[timestamp, author hex, seq]` of its posts that have their payload; `p` (absent when empty) `(seq, delete seq)` for each of its entries a delete purged |
//! | `chunks`, index `time` (multiEntry on `t`) | a time key | the chunk's key |
//! | `feeds` | author hex | [`FeedMeta`] |
//! | `images` | `[author hex, seq, index]` | `{ h, b }`: `h` the image's SHA-256 in hex, `b` its bytes (image `index` of entry `seq`) |
//! | `images`, index `hash` (on `h`) | hash hex | the image's key |
//! | `settings` | name | bytes |
//! | `identity` | `"self"` | the identity secret, AES-GCM encrypted: 12-byte IV, then ciphertext |
//! | `identity` | `"wrap-key"` | the AES-GCM `CryptoKey`, created non-extractable |
//!
//! **Entries are packed**: entry `seq` of a feed lives in chunk `(seq - 1) / CHUNK`, as its
//! whole encoding (header, signature and payload, or no payload once purged). A sync's batch
//! of 512 entries is then about 9 chunk writes instead of 1,024 record writes, plus one
//! write of the time index: each chunk lists its posts' time keys, and the browser keeps the
//! `time` index over them (one index row per post, kept with the chunk's one write), so the
//! home timeline is still a key-range read in time order. A delete rewrites the target's chunk
//! without its payload and without its time key (real deletion: the bytes are gone from the
//! database, and the post from the index), and notes in `p` which delete did it, so a sync
//! answer finds the delete to send beside the entry (chunks written before `p` existed are
//! searched for it).
//!
//! The identity is wrapped with a WebCrypto key the browser creates as non-extractable and
//! stores by structured clone: script can ask the browser to use it, never to read it, so the
//! secret never sits in storage as plain bytes. This is best effort within the browser's model
//! (code running on this origin can still ask for decryption).
//!
//! **Images** are keyed by the entry that names them, so the transaction that purges an
//! entry's payload (a delete in a batch, [`Store::purge`]) or forgets a feed deletes its
//! images' key range with it; the `hash` index answers a fetch by hash. Version 4 only added
//! this store: nothing moves.
//!
//! Older schemas are moved into the chunks when the database is opened, each in one
//! read-write transaction (a reload mid-way leaves the old data intact and the move is
//! retried), and their stores stay, empty, until a later version drops them: version 1 kept
//! whole entries in `entries`; version 2 kept header records in `headers`, payloads in
//! `payloads` and one `timeline` row per post, one record each.
//!
//! Every write is one transaction: a failure (including the quota running out) aborts it and
//! leaves the database as it was.

use std::collections::BTreeMap;
use std::future::IntoFuture;

use idb::{Database, Factory, KeyRange, ObjectStore, Query, TransactionMode};
use js_sys::{Array, Uint8Array};
use kith_core::{AuthorId, Cursor, PayloadKind, VerifiedEntry};
use wasm_bindgen::{JsCast, JsValue};

use crate::plan::{check_held, image_slot, join, plan, proves_deleted, sizes, split};
use crate::{FeedMeta, MAX_READ, Store, StoreError, check_setting};

/// The schema version this code writes.
pub const DB_VERSION: u32 = 4;
/// Entries per chunk record.
pub const CHUNK: u64 = 64;

const CHUNKS: &str = "chunks";
const V2_HEADERS: &str = "headers";
const V2_PAYLOADS: &str = "payloads";
const V2_TIMELINE: &str = "timeline";
/// The time index over the chunks' `t` lists.
const TIME_INDEX: &str = "time";
const IMAGES: &str = "images";
const HASH_INDEX: &str = "hash";
const FEEDS: &str = "feeds";
const SETTINGS: &str = "settings";
const IDENTITY: &str = "identity";
const V1_ENTRIES: &str = "entries";
const SECRET_KEY: &str = "self";
const WRAP_KEY: &str = "wrap-key";

/// Commits `tx` and waits until it is done.
async fn commit(tx: idb::Transaction) -> Result<(), StoreError> {
    tx.commit()
        .map_err(backend)?
        .await
        .map(|_| ())
        .map_err(backend)
}

fn subtle() -> Result<web_sys::SubtleCrypto, StoreError> {
    let window = web_sys::window().ok_or_else(|| StoreError::Backend("no window".into()))?;
    Ok(window.crypto().map_err(backend)?.subtle())
}

async fn promise(p: Result<js_sys::Promise, JsValue>) -> Result<JsValue, StoreError> {
    wasm_bindgen_futures::JsFuture::from(p.map_err(backend)?)
        .await
        .map_err(backend)
}

fn gcm(iv: &[u8]) -> web_sys::AesGcmParams {
    web_sys::AesGcmParams::new("AES-GCM", &Uint8Array::from(iv))
}

/// How a browser error becomes a [`StoreError`]: the quota running out is its own case.
#[doc(hidden)]
pub fn map_error(e: impl std::fmt::Debug) -> StoreError {
    backend(e)
}

fn backend(e: impl std::fmt::Debug) -> StoreError {
    let text = format!("{e:?}");
    if text.contains("QuotaExceeded") {
        StoreError::QuotaExceeded
    } else {
        StoreError::Backend(text)
    }
}

fn hex(a: &AuthorId) -> JsValue {
    JsValue::from_str(&a.to_hex())
}

fn entry_key(a: &AuthorId, seq: u64) -> JsValue {
    Array::of2(&hex(a), &JsValue::from_f64(seq as f64)).into()
}

/// The time-index key: ascending key order is newest first, so one `getAllKeys` reads a page.
/// Timestamp and seq are negated; the author's hex digits are complemented (`0`↔`f`).
fn time_key(ts: u64, a: &AuthorId, seq: u64) -> JsValue {
    Array::of3(
        &JsValue::from_f64(-(ts as f64)),
        &JsValue::from_str(&complement_hex(&a.to_hex())),
        &JsValue::from_f64(-(seq as f64)),
    )
    .into()
}

fn complement_hex(h: &str) -> String {
    h.chars()
        .map(|c| {
            c.to_digit(16)
                .and_then(|d| char::from_digit(15 - d, 16))
                .unwrap_or(c)
        })
        .collect()
}

fn bytes(v: &[u8]) -> JsValue {
    Uint8Array::from(v).into()
}

fn to_bytes(v: JsValue) -> Result<Vec<u8>, StoreError> {
    v.dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| StoreError::Corrupt("a stored value is not bytes".into()))
}

fn decode_meta(v: JsValue) -> Result<FeedMeta, StoreError> {
    postcard::from_bytes(&to_bytes(v)?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode_meta(m: &FeedMeta) -> JsValue {
    bytes(&postcard::to_allocvec(m).unwrap_or_default())
}

/// The range of every key of `a` from `from` to `to` inclusive (entry keys in version 2,
/// chunk keys in version 3: both `[author hex, number]`).
fn feed_range(a: &AuthorId, from: u64, to: u64) -> Result<Query, StoreError> {
    KeyRange::bound(
        &entry_key(a, from),
        &entry_key(a, to),
        Some(false),
        Some(false),
    )
    .map(Query::KeyRange)
    .map_err(backend)
}

fn image_key(a: &AuthorId, seq: u64, index: u8) -> JsValue {
    Array::of3(
        &hex(a),
        &JsValue::from_f64(seq as f64),
        &JsValue::from_f64(f64::from(index)),
    )
    .into()
}

/// Every image key of entry `seq` of `a` (`seq` alone: every image of the feed).
fn images_range(a: &AuthorId, seq: Option<u64>) -> Result<Query, StoreError> {
    let (lower, upper): (JsValue, JsValue) = match seq {
        Some(seq) => (entry_key(a, seq), image_key(a, seq, u8::MAX)),
        // `[hex]` sorts before every `[hex, …]`, and `[hex, []]` after them (arrays sort
        // after numbers).
        None => (
            Array::of1(&hex(a)).into(),
            Array::of2(&hex(a), &Array::new()).into(),
        ),
    };
    KeyRange::bound(&lower, &upper, Some(false), Some(false))
        .map(Query::KeyRange)
        .map_err(backend)
}

/// Changes the size `FeedMeta::bytes` of `author`'s feed with `f`, inside the caller's
/// transaction (nothing when the feed has no metadata).
async fn resize(
    feeds: &ObjectStore,
    author: &AuthorId,
    f: impl FnOnce(u64) -> u64,
) -> Result<(), StoreError> {
    if let Some(v) = feeds
        .get(Query::Key(hex(author)))
        .map_err(backend)?
        .await
        .map_err(backend)?
    {
        let mut m = decode_meta(v)?;
        m.bytes = f(m.bytes);
        feeds
            .put(&encode_meta(&m), Some(&hex(author)))
            .map_err(backend)?;
    }
    Ok(())
}

/// The length of the bytes of an image record (`{ h, b }`), 0 if it has none.
fn image_len(record: &JsValue) -> u64 {
    js_sys::Reflect::get(record, &JsValue::from_str("b"))
        .ok()
        .and_then(|b| b.dyn_into::<Uint8Array>().ok())
        .map_or(0, |b| u64::from(b.length()))
}

/// The chunk that holds entry `seq`.
fn chunk_of(seq: u64) -> u64 {
    seq.saturating_sub(1) / CHUNK
}

/// The entries of one chunk: seq → the entry's encoding, and its timestamp when it is a post
/// that has its payload (what the time index lists).
type Slots = BTreeMap<u64, (Vec<u8>, Option<u64>)>;

fn decode_chunk(v: JsValue) -> Result<Slots, StoreError> {
    let data = js_sys::Reflect::get(&v, &JsValue::from_str("d"))
        .map_err(|_| StoreError::Corrupt("a chunk has no data".into()))?;
    let slots: Vec<(u64, Vec<u8>, Option<u64>)> =
        postcard::from_bytes(&to_bytes(data)?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(slots.into_iter().map(|(seq, b, t)| (seq, (b, t))).collect())
}

/// The entries of one chunk a delete purged: (seq, the delete's seq). A short list, not a map
/// (one map type less in the browser bundle).
type Purged = Vec<(u64, u64)>;

fn decode_purged(v: &JsValue) -> Result<Purged, StoreError> {
    let p = js_sys::Reflect::get(v, &JsValue::from_str("p")).unwrap_or(JsValue::UNDEFINED);
    if p.is_undefined() {
        return Ok(Purged::new());
    }
    postcard::from_bytes(&to_bytes(p)?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode_chunk(author: &AuthorId, slots: &Slots, purged: &Purged) -> Result<JsValue, StoreError> {
    let flat: Vec<(&u64, &Vec<u8>, &Option<u64>)> =
        slots.iter().map(|(seq, (b, t))| (seq, b, t)).collect();
    let times = Array::new();
    for (seq, (_, t)) in slots {
        if let Some(ts) = t {
            times.push(&time_key(*ts, author, *seq));
        }
    }
    let chunk = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&chunk, &JsValue::from_str(k), v);
    set(
        "d",
        &bytes(&postcard::to_allocvec(&flat).unwrap_or_default()),
    )
    .map_err(backend)?;
    set("t", &times).map_err(backend)?;
    if !purged.is_empty() {
        set(
            "p",
            &bytes(&postcard::to_allocvec(purged).unwrap_or_default()),
        )
        .map_err(backend)?;
    }
    Ok(chunk.into())
}

/// The timestamp the time index lists `e` under: posts that have their payload.
fn post_time(e: &VerifiedEntry) -> Option<u64> {
    (e.payload().is_some() && e.header().kind == PayloadKind::Post).then(|| e.header().timestamp_ms)
}

/// An entry this store wrote, read back (its signature was checked before it was written).
fn load(bytes: &[u8]) -> Result<VerifiedEntry, StoreError> {
    kith_core::reload(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The chunks a read-write transaction touches, each read once and written once at the end.
struct Chunks {
    store: ObjectStore,
    loaded: BTreeMap<(AuthorId, u64), (Slots, Purged)>,
    dirty: std::collections::BTreeSet<(AuthorId, u64)>,
}

impl Chunks {
    fn new(store: ObjectStore) -> Self {
        Chunks {
            store,
            loaded: BTreeMap::new(),
            dirty: std::collections::BTreeSet::new(),
        }
    }

    /// The chunk of `author` holding `seq`, read on first use.
    async fn chunk(
        &mut self,
        author: &AuthorId,
        seq: u64,
    ) -> Result<&mut (Slots, Purged), StoreError> {
        let key = (*author, chunk_of(seq));
        if !self.loaded.contains_key(&key) {
            let found = self
                .store
                .get(Query::Key(entry_key(author, key.1)))
                .map_err(backend)?
                .await
                .map_err(backend)?;
            let chunk = match found {
                Some(v) => (decode_purged(&v)?, decode_chunk(v)?),
                None => Default::default(),
            };
            self.loaded.insert(key, (chunk.1, chunk.0));
        }
        Ok(self.loaded.entry(key).or_default())
    }

    async fn slots(&mut self, author: &AuthorId, seq: u64) -> Result<&mut Slots, StoreError> {
        Ok(&mut self.chunk(author, seq).await?.0)
    }

    /// Notes that the delete at `by` purged `seq`.
    async fn mark_purged(
        &mut self,
        author: &AuthorId,
        seq: u64,
        by: u64,
    ) -> Result<(), StoreError> {
        let purged = &mut self.chunk(author, seq).await?.1;
        purged.retain(|(s, _)| *s != seq);
        purged.push((seq, by));
        self.dirty.insert((*author, chunk_of(seq)));
        Ok(())
    }

    /// The entry held at `seq`, if any.
    async fn get(
        &mut self,
        author: &AuthorId,
        seq: u64,
    ) -> Result<Option<VerifiedEntry>, StoreError> {
        self.slots(author, seq)
            .await?
            .get(&seq)
            .map(|(b, _)| load(b))
            .transpose()
    }

    /// Holds `e` (replacing what was at its seq).
    async fn put(&mut self, e: &VerifiedEntry) -> Result<(), StoreError> {
        let (author, seq) = (e.author(), e.seq());
        self.slots(&author, seq)
            .await?
            .insert(seq, (e.encode(), post_time(e)));
        self.dirty.insert((author, chunk_of(seq)));
        Ok(())
    }

    /// Queues the writes of every changed chunk (IndexedDB runs them in order; a failure
    /// aborts the transaction, which the commit reports).
    fn flush(&self) -> Result<(), StoreError> {
        for key in &self.dirty {
            let k = entry_key(&key.0, key.1);
            match self.loaded.get(key) {
                Some((slots, purged)) if !slots.is_empty() => {
                    self.store
                        .put(&encode_chunk(&key.0, slots, purged)?, Some(&k))
                        .map_err(backend)?;
                }
                _ => {
                    self.store.delete(Query::Key(k)).map_err(backend)?;
                }
            }
        }
        Ok(())
    }
}

fn parse_time_key(k: &JsValue) -> Option<(u64, AuthorId, u64)> {
    let a: &Array = k.dyn_ref()?;
    let ts = -a.get(0).as_f64()?;
    let author = AuthorId::from_hex(&complement_hex(&a.get(1).as_string()?))?;
    let seq = -a.get(2).as_f64()?;
    Some((ts as u64, author, seq as u64))
}

/// Asks the browser to keep this origin's storage under pressure (`navigator.storage.persist()`).
/// Returns whether it was granted.
pub async fn request_persistence() -> Result<bool, StoreError> {
    let storage = web_sys::window()
        .ok_or_else(|| StoreError::Backend("no window".into()))?
        .navigator()
        .storage();
    let promise = storage.persist().map_err(backend)?;
    let granted = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(backend)?;
    Ok(granted.as_bool().unwrap_or(false))
}

/// A store in one IndexedDB database.
pub struct IdbStore {
    db: Database,
    name: String,
}

async fn open_raw(
    name: &str,
    version: u32,
    upgrade: fn(&Database, u32),
) -> Result<Database, StoreError> {
    let factory = Factory::new()
        .map_err(|_| StoreError::Backend("IndexedDB is not available in this browser".into()))?;
    let mut req = factory.open(name, Some(version)).map_err(backend)?;
    req.on_upgrade_needed(move |event| {
        let old = event.old_version().unwrap_or(0);
        if let Ok(target) = idb::Event::target(&event)
            && let Ok(db) = target.database()
        {
            upgrade(&db, old);
        }
    });
    req.await.map_err(backend)
}

fn create(db: &Database, name: &str) {
    if !db.store_names().iter().any(|n| n == name) {
        let _ = db.create_object_store(name, idb::ObjectStoreParams::new());
    }
}

fn upgrade_to_current(db: &Database, old: u32) {
    if old < 1 {
        for s in [FEEDS, SETTINGS, IDENTITY] {
            create(db, s);
        }
    }
    if old < 2 {
        for s in [V2_HEADERS, V2_PAYLOADS, V2_TIMELINE] {
            create(db, s);
        }
    }
    if old < 3
        && let Ok(chunks) = db.create_object_store(CHUNKS, idb::ObjectStoreParams::new())
    {
        let mut params = idb::IndexParams::new();
        params.multi_entry(true);
        let _ = chunks.create_index(TIME_INDEX, idb::KeyPath::new_single("t"), Some(params));
    }
    if old < 4
        && let Ok(images) = db.create_object_store(IMAGES, idb::ObjectStoreParams::new())
    {
        let _ = images.create_index(HASH_INDEX, idb::KeyPath::new_single("h"), None);
    }
}

fn upgrade_to_v2(db: &Database, old: u32) {
    if old < 1 {
        for s in [FEEDS, SETTINGS, IDENTITY] {
            create(db, s);
        }
    }
    for s in [V2_HEADERS, V2_PAYLOADS, V2_TIMELINE] {
        create(db, s);
    }
}

/// Writes the metadata of followed feeds holding `entries` (each feed's entries in order);
/// for the databases the migration tests create in older schemas.
fn put_followed_metas(feeds: &ObjectStore, entries: &[VerifiedEntry]) -> Result<(), StoreError> {
    let mut metas: BTreeMap<AuthorId, FeedMeta> = BTreeMap::new();
    for e in entries {
        let m = metas
            .entry(e.author())
            .or_insert_with(|| FeedMeta::new(e.author()));
        let (h, p) = sizes(e);
        m.head = Some(e.as_prev());
        m.entries += 1;
        m.bytes += h + p;
        m.followed = true;
    }
    for m in metas.values() {
        feeds
            .put(&encode_meta(m), Some(&hex(&m.author)))
            .map_err(backend)?;
    }
    Ok(())
}

fn upgrade_to_v1(db: &Database, _old: u32) {
    for s in [V1_ENTRIES, FEEDS, SETTINGS, IDENTITY] {
        create(db, s);
    }
}

impl IdbStore {
    /// Opens (creating or upgrading) the database called `name`.
    pub async fn open(name: &str) -> Result<IdbStore, StoreError> {
        let db = open_raw(name, DB_VERSION, upgrade_to_current).await?;
        let store = IdbStore {
            db,
            name: name.to_owned(),
        };
        store.migrate_v1_entries().await?;
        store.migrate_v2_entries().await?;
        Ok(store)
    }

    /// Deletes the database called `name` (after closing every handle on it).
    pub async fn delete(name: &str) -> Result<(), StoreError> {
        let factory = Factory::new().map_err(backend)?;
        factory
            .delete(name)
            .map_err(backend)?
            .await
            .map_err(backend)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Closes the handle.
    pub fn close(self) {
        self.db.close();
    }

    /// Creates a version 1 database holding `entries` (each feed's entries in order), as the
    /// first release of the schema did; for the migration test.
    #[doc(hidden)]
    pub async fn create_v1(name: &str, entries: &[VerifiedEntry]) -> Result<(), StoreError> {
        let db = open_raw(name, 1, upgrade_to_v1).await?;
        let tx = db
            .transaction(&[V1_ENTRIES, FEEDS], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let store = tx.object_store(V1_ENTRIES).map_err(backend)?;
        let feeds = tx.object_store(FEEDS).map_err(backend)?;
        for e in entries {
            store
                .put(&bytes(&e.encode()), Some(&entry_key(&e.author(), e.seq())))
                .map_err(backend)?
                .await
                .map_err(backend)?;
        }
        put_followed_metas(&feeds, entries)?;
        commit(tx).await?;
        db.close();
        Ok(())
    }

    /// Creates a version 2 database holding `entries` (each feed's entries in order), as that
    /// schema kept them: a header record and a payload record per entry; for the migration
    /// test.
    #[doc(hidden)]
    pub async fn create_v2(name: &str, entries: &[VerifiedEntry]) -> Result<(), StoreError> {
        let db = open_raw(name, 2, upgrade_to_v2).await?;
        let tx = db
            .transaction(
                &[V2_HEADERS, V2_PAYLOADS, V2_TIMELINE, FEEDS],
                TransactionMode::ReadWrite,
            )
            .map_err(backend)?;
        let store = |n| tx.object_store(n).map_err(backend);
        let (headers, payloads, timeline, feeds) = (
            store(V2_HEADERS)?,
            store(V2_PAYLOADS)?,
            store(V2_TIMELINE)?,
            store(FEEDS)?,
        );
        for e in entries {
            let (header, payload) = split(e);
            let key = entry_key(&e.author(), e.seq());
            headers.put(&bytes(&header), Some(&key)).map_err(backend)?;
            if let Some(p) = payload {
                payloads.put(&bytes(&p), Some(&key)).map_err(backend)?;
                if e.header().kind == PayloadKind::Post {
                    let tk = time_key(e.header().timestamp_ms, &e.author(), e.seq());
                    timeline
                        .put(&JsValue::from_f64(0.0), Some(&tk))
                        .map_err(backend)?;
                }
            }
        }
        put_followed_metas(&feeds, entries)?;
        commit(tx).await?;
        db.close();
        Ok(())
    }

    /// Moves version 1 entries into the chunks, in one transaction.
    async fn migrate_v1_entries(&self) -> Result<(), StoreError> {
        if !self.db.store_names().iter().any(|n| n == V1_ENTRIES) {
            return Ok(());
        }
        let tx = self
            .db
            .transaction(&[V1_ENTRIES, CHUNKS], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let old = tx.object_store(V1_ENTRIES).map_err(backend)?;
        let values = old
            .get_all(None, None)
            .map_err(backend)?
            .await
            .map_err(backend)?;
        if !values.is_empty() {
            let mut chunks = Chunks::new(tx.object_store(CHUNKS).map_err(backend)?);
            for v in values {
                chunks.put(&load(&to_bytes(v)?)?).await?;
            }
            chunks.flush()?;
            old.clear().map_err(backend)?;
        }
        commit(tx).await
    }

    /// Packs version 2's header and payload records into the chunks (whose `time` index
    /// replaces its `timeline` rows), in one transaction.
    async fn migrate_v2_entries(&self) -> Result<(), StoreError> {
        if !self.db.store_names().iter().any(|n| n == V2_HEADERS) {
            return Ok(());
        }
        let tx = self
            .db
            .transaction(
                &[V2_HEADERS, V2_PAYLOADS, V2_TIMELINE, CHUNKS],
                TransactionMode::ReadWrite,
            )
            .map_err(backend)?;
        let headers = tx.object_store(V2_HEADERS).map_err(backend)?;
        let payloads = tx.object_store(V2_PAYLOADS).map_err(backend)?;
        let hkeys = headers
            .get_all_keys(None, None)
            .map_err(backend)?
            .await
            .map_err(backend)?;
        if !hkeys.is_empty() {
            let hvals = headers
                .get_all(None, None)
                .map_err(backend)?
                .await
                .map_err(backend)?;
            let pkeys = payloads
                .get_all_keys(None, None)
                .map_err(backend)?
                .await
                .map_err(backend)?;
            let pvals = payloads
                .get_all(None, None)
                .map_err(backend)?
                .await
                .map_err(backend)?;
            let key_of = |k: &JsValue| {
                let a: &Array = k.dyn_ref()?;
                Some((a.get(0).as_string()?, a.get(1).as_f64()? as u64))
            };
            let mut bodies: BTreeMap<(String, u64), Vec<u8>> = BTreeMap::new();
            for (k, v) in pkeys.iter().zip(pvals) {
                if let Some(key) = key_of(k) {
                    bodies.insert(key, to_bytes(v)?);
                }
            }
            let mut chunks = Chunks::new(tx.object_store(CHUNKS).map_err(backend)?);
            for (k, v) in hkeys.iter().zip(hvals) {
                let payload = key_of(k).and_then(|key| bodies.remove(&key));
                chunks.put(&join(&to_bytes(v)?, payload)?).await?;
            }
            chunks.flush()?;
            headers.clear().map_err(backend)?;
            payloads.clear().map_err(backend)?;
            tx.object_store(V2_TIMELINE)
                .map_err(backend)?
                .clear()
                .map_err(backend)?;
        }
        commit(tx).await
    }

    async fn read_range(
        chunks: &ObjectStore,
        author: &AuthorId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        // `from` and `limit` may come from a peer's request: any values, none overflowing.
        let Some(last) = (limit.min(MAX_READ) as u64).checked_sub(1) else {
            return Ok(Vec::new());
        };
        let from = from.max(1);
        let to = from.saturating_add(last);
        let found = chunks
            .get_all(
                Some(feed_range(author, chunk_of(from), chunk_of(to))?),
                None,
            )
            .map_err(backend)?
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity((to - from + 1).min(MAX_READ as u64) as usize);
        for v in found {
            for (_, (b, _)) in decode_chunk(v)?.range(from..=to) {
                out.push(load(b)?);
            }
        }
        Ok(out)
    }
}

/// Drops the payload of `author`/`seq` (if `hash` matches, when given) inside a transaction;
/// returns the bytes freed, `None` when no such entry is held.
async fn purge_in(
    chunks: &mut Chunks,
    images: &ObjectStore,
    author: &AuthorId,
    seq: u64,
    hash: Option<kith_core::Hash>,
) -> Result<Option<u64>, StoreError> {
    let Some(mut e) = chunks.get(author, seq).await? else {
        return Ok(None);
    };
    if hash.is_some_and(|h| h != e.hash()) {
        return Ok(None);
    }
    let mut freed = e.raw().payload.as_ref().map_or(0, |p| p.len() as u64);
    // Without its payload it leaves the time index too, and its images go.
    e.purge_payload();
    chunks.put(&e).await?;
    let range = images_range(author, Some(seq))?;
    for record in images
        .get_all(Some(range), None)
        .map_err(backend)?
        .await
        .map_err(backend)?
    {
        freed += image_len(&record);
    }
    images
        .delete(images_range(author, Some(seq))?)
        .map_err(backend)?;
    Ok(Some(freed))
}

impl IdbStore {
    /// A read-write transaction over the entry stores, and those stores: chunks, feeds and
    /// images.
    fn entry_tx(&self) -> Result<(idb::Transaction, Chunks, ObjectStore, ObjectStore), StoreError> {
        let names = [CHUNKS, FEEDS, IMAGES];
        let tx = self
            .db
            .transaction(&names, TransactionMode::ReadWrite)
            .map_err(backend)?;
        let store = |n| tx.object_store(n).map_err(backend);
        let chunks = Chunks::new(store(CHUNKS)?);
        let feeds = store(FEEDS)?;
        let images = store(IMAGES)?;
        Ok((tx, chunks, feeds, images))
    }

    async fn identity_record(&self, key: &str) -> Result<Option<JsValue>, StoreError> {
        self.read_one(IDENTITY, key.into()).await
    }

    /// Reads one value from `store`.
    async fn read_one(&self, store: &str, key: JsValue) -> Result<Option<JsValue>, StoreError> {
        let tx = self
            .db
            .transaction(&[store], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let store = tx.object_store(store).map_err(backend)?;
        store
            .get(Query::Key(key))
            .map_err(backend)?
            .await
            .map_err(backend)
    }

    /// Writes (or, with `None`, deletes) one value in `store`, in a committed transaction.
    async fn write_one(
        &self,
        store: &str,
        key: JsValue,
        value: Option<JsValue>,
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[store], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let s = tx.object_store(store).map_err(backend)?;
        match value {
            Some(v) => {
                s.put(&v, Some(&key))
                    .map_err(backend)?
                    .await
                    .map_err(backend)?;
            }
            None => s
                .delete(Query::Key(key))
                .map_err(backend)?
                .await
                .map_err(backend)?,
        }
        commit(tx).await
    }

    /// The stored (wrapped) identity record, as bytes; for tests.
    #[doc(hidden)]
    pub async fn raw_identity_record(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.identity_record(SECRET_KEY)
            .await?
            .map(to_bytes)
            .transpose()
    }

    /// The wrapping key, created (non-extractable) on first use. Created outside any
    /// transaction (WebCrypto promises would end it), then added only if no other tab added
    /// one first, and read back.
    async fn wrapping_key(&self) -> Result<web_sys::CryptoKey, StoreError> {
        let not_a_key = |_| StoreError::Corrupt("the wrapping key is not a key".into());
        if let Some(k) = self.identity_record(WRAP_KEY).await? {
            return k.dyn_into().map_err(not_a_key);
        }
        let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
        let params = web_sys::AesKeyGenParams::new("AES-GCM", 256);
        let key = promise(subtle()?.generate_key_with_object(&params, false, &usages)).await?;
        let tx = self
            .db
            .transaction(&[IDENTITY], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let store = tx.object_store(IDENTITY).map_err(backend)?;
        let existing = store
            .get(Query::Key(WRAP_KEY.into()))
            .map_err(backend)?
            .await
            .map_err(backend)?;
        if existing.is_none() {
            store
                .add(&key, Some(&WRAP_KEY.into()))
                .map_err(backend)?
                .await
                .map_err(backend)?;
        }
        tx.commit().map_err(backend)?.await.map_err(backend)?;
        self.identity_record(WRAP_KEY)
            .await?
            .ok_or_else(|| StoreError::Backend("the wrapping key was not kept".into()))?
            .dyn_into()
            .map_err(not_a_key)
    }
}

impl Store for IdbStore {
    async fn identity(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(record) = self.raw_identity_record().await? else {
            return Ok(None);
        };
        if record.len() < 12 {
            return Err(StoreError::Corrupt(
                "the stored identity is truncated".into(),
            ));
        }
        let key = self.wrapping_key().await?;
        let (iv, ciphertext) = record.split_at(12);
        let plain = promise(subtle()?.decrypt_with_object_and_u8_array(&gcm(iv), &key, ciphertext))
            .await
            .map_err(|_| StoreError::Corrupt("the stored identity cannot be unwrapped".into()))?;
        Ok(Some(Uint8Array::new(&plain).to_vec()))
    }

    async fn set_identity(&self, secret: &[u8]) -> Result<(), StoreError> {
        let key = self.wrapping_key().await?;
        let mut iv = [0u8; 12];
        web_sys::window()
            .ok_or_else(|| StoreError::Backend("no window".into()))?
            .crypto()
            .map_err(backend)?
            .get_random_values_with_u8_array(&mut iv)
            .map_err(backend)?;
        let ct =
            promise(subtle()?.encrypt_with_object_and_u8_array(&gcm(&iv), &key, secret)).await?;
        let mut record = iv.to_vec();
        record.extend(Uint8Array::new(&ct).to_vec());
        self.write_one(IDENTITY, SECRET_KEY.into(), Some(bytes(&record)))
            .await
    }

    async fn insert(&self, entries: &[VerifiedEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (tx, mut chunks, feeds, images) = self.entry_tx()?;
        // The stored metadata of every feed in the batch (read once per feed).
        let authors: std::collections::BTreeSet<AuthorId> =
            entries.iter().map(VerifiedEntry::author).collect();
        let mut stored: BTreeMap<AuthorId, FeedMeta> = BTreeMap::new();
        for a in authors {
            let found = feeds
                .get(Query::Key(hex(&a)))
                .map_err(backend)?
                .await
                .map_err(backend)?;
            if let Some(v) = found {
                stored.insert(a, decode_meta(v)?);
            }
        }
        let mut plan = match plan(|a| stored.get(a).cloned(), entries) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.abort();
                return Err(e);
            }
        };
        // Entries below a stored head are compared with what is held.
        for r in &plan.held {
            let held = chunks.get(&r.author, r.seq).await?;
            if let Err(e) = check_held(r, held.as_ref()) {
                let _ = tx.abort();
                return Err(e);
            }
        }
        for e in &plan.writes {
            chunks.put(e).await?;
        }
        for (t, by) in &plan.purges {
            if let Some(freed) =
                purge_in(&mut chunks, &images, &t.author, t.seq, Some(t.hash)).await?
            {
                chunks.mark_purged(&t.author, t.seq, *by).await?;
                if let Some(m) = plan.metas.get_mut(&t.author) {
                    m.bytes = m.bytes.saturating_sub(freed);
                }
            }
        }
        chunks.flush()?;
        for m in plan.metas.values() {
            feeds
                .put(&encode_meta(m), Some(&hex(&m.author)))
                .map_err(backend)?;
        }
        commit(tx).await
    }

    async fn range(
        &self,
        author: &AuthorId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        let tx = self
            .db
            .transaction(&[CHUNKS], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let chunks = tx.object_store(CHUNKS).map_err(backend)?;
        IdbStore::read_range(&chunks, author, from, limit).await
    }

    async fn frontier(&self) -> Result<Vec<(AuthorId, u64)>, StoreError> {
        Ok(self
            .feeds()
            .await?
            .into_iter()
            .filter(|m| m.head.is_some())
            .map(|m| (m.author, m.head_seq()))
            .collect())
    }

    async fn timeline(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        let limit = limit.min(MAX_READ);
        let tx = self
            .db
            .transaction(&[CHUNKS, FEEDS], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let metas = tx
            .object_store(FEEDS)
            .map_err(backend)?
            .get_all(None, None)
            .map_err(backend)?
            .await
            .map_err(backend)?;
        let mut followed = std::collections::BTreeSet::new();
        for v in metas {
            let m = decode_meta(v)?;
            if m.followed {
                followed.insert(m.author);
            }
        }
        let chunks = tx.object_store(CHUNKS).map_err(backend)?;
        let index = chunks.index(TIME_INDEX).map_err(backend)?;
        let query = match cursor {
            Some(c) => Some(Query::KeyRange(
                KeyRange::lower_bound(&time_key(c.timestamp_ms, &c.author, c.seq), Some(true))
                    .map_err(backend)?,
            )),
            None => None,
        };
        let mut picked = Vec::new();
        // Index keys come newest first; unfollowed feeds' posts are skipped.
        if let Some(found) = index
            .open_key_cursor(query, None)
            .map_err(backend)?
            .await
            .map_err(backend)?
        {
            let mut keys = found.into_managed();
            while picked.len() < limit {
                let Some(k) = keys.key().map_err(backend)? else {
                    break;
                };
                if let Some((_, author, seq)) = parse_time_key(&k)
                    && followed.contains(&author)
                {
                    picked.push((author, seq));
                }
                match keys.next(None).await {
                    Ok(()) => {}
                    Err(idb::Error::CursorFinished) => break,
                    Err(e) => return Err(backend(e)),
                }
            }
        }
        // Each chunk the page needs is read once; the requests run together.
        let wanted: std::collections::BTreeSet<(AuthorId, u64)> =
            picked.iter().map(|(a, seq)| (*a, chunk_of(*seq))).collect();
        let mut pending = Vec::with_capacity(wanted.len());
        for (author, c) in wanted {
            let read = chunks
                .get(Query::Key(entry_key(&author, c)))
                .map_err(backend)?
                .into_future();
            pending.push(((author, c), read));
        }
        let mut read: BTreeMap<(AuthorId, u64), Slots> = BTreeMap::new();
        for (key, r) in pending {
            if let Some(v) = r.await.map_err(backend)? {
                read.insert(key, decode_chunk(v)?);
            }
        }
        let mut out = Vec::with_capacity(picked.len());
        for (author, seq) in &picked {
            if let Some((b, _)) = read
                .get(&(*author, chunk_of(*seq)))
                .and_then(|slots| slots.get(seq))
            {
                out.push(load(b)?);
            }
        }
        Ok(out)
    }

    async fn purge(&self, author: &AuthorId, seq: u64) -> Result<(), StoreError> {
        let (tx, mut chunks, feeds, images) = self.entry_tx()?;
        let freed = purge_in(&mut chunks, &images, author, seq, None)
            .await?
            .unwrap_or(0);
        chunks.flush()?;
        resize(&feeds, author, |b| b.saturating_sub(freed)).await?;
        commit(tx).await
    }

    async fn deletes_of(
        &self,
        entries: &[VerifiedEntry],
    ) -> Result<Vec<VerifiedEntry>, StoreError> {
        let blank: Vec<&VerifiedEntry> = entries.iter().filter(|e| e.payload().is_none()).collect();
        if blank.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self
            .db
            .transaction(&[CHUNKS], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let mut chunks = Chunks::new(tx.object_store(CHUNKS).map_err(backend)?);
        let mut out = Vec::new();
        let mut unindexed = Vec::new();
        for e in blank {
            let by = chunks
                .chunk(&e.author(), e.seq())
                .await?
                .1
                .iter()
                .find(|(s, _)| *s == e.seq())
                .map(|(_, by)| *by);
            match by {
                Some(by) => {
                    if let Some(d) = chunks.get(&e.author(), by).await?
                        && proves_deleted(&d, e)
                    {
                        out.push(d);
                    }
                }
                None => unindexed.push(e),
            }
        }
        // Purged before chunks noted the delete: the feed after the entry is searched.
        if let Some(first) = unindexed.first() {
            let author = first.author();
            let mut from = first.seq().saturating_add(1);
            while !unindexed.is_empty() {
                let page = IdbStore::read_range(&chunks.store, &author, from, MAX_READ).await?;
                let Some(last) = page.last().map(VerifiedEntry::seq) else {
                    break;
                };
                for d in page {
                    if let Some(i) = unindexed.iter().position(|e| proves_deleted(&d, e)) {
                        unindexed.swap_remove(i);
                        out.push(d);
                    }
                }
                from = last.saturating_add(1);
            }
        }
        Ok(out)
    }

    async fn forget(&self, author: &AuthorId) -> Result<(), StoreError> {
        // Deleting the chunks drops their rows from the time index with them.
        let (tx, chunks, feeds, images) = self.entry_tx()?;
        let all = feed_range(author, 0, u64::from(u32::MAX))?;
        chunks.store.delete(all).map_err(backend)?;
        images
            .delete(images_range(author, None)?)
            .map_err(backend)?;
        feeds.delete(Query::Key(hex(author))).map_err(backend)?;
        commit(tx).await
    }

    async fn put_image(
        &self,
        author: &AuthorId,
        seq: u64,
        index: u8,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        // The entry is read in the transaction that writes the image: a delete cannot slip
        // in between.
        let (tx, mut chunks, feeds, images) = self.entry_tx()?;
        let entry = chunks.get(author, seq).await?;
        let image = match image_slot(entry.as_ref(), index, bytes) {
            Ok(image) => image,
            Err(e) => {
                let _ = tx.abort();
                return Err(e);
            }
        };
        let key = image_key(author, seq, index);
        let held = images
            .get(Query::Key(key.clone()))
            .map_err(backend)?
            .await
            .map_err(backend)?;
        if held.is_some() {
            return commit(tx).await;
        }
        let record = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&record, &JsValue::from_str(k), v);
        set("h", &JsValue::from_str(&image.hash.to_hex())).map_err(backend)?;
        set("b", &Uint8Array::from(bytes).into()).map_err(backend)?;
        images.put(&record.into(), Some(&key)).map_err(backend)?;
        // The feed's size counts its images (what the per-feed cap and Settings see).
        let added = bytes.len() as u64;
        resize(&feeds, author, |b| b.saturating_add(added)).await?;
        commit(tx).await
    }

    async fn image(&self, hash: &kith_core::Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self
            .db
            .transaction(&[IMAGES], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let found = tx
            .object_store(IMAGES)
            .map_err(backend)?
            .index(HASH_INDEX)
            .map_err(backend)?
            .get(Query::Key(JsValue::from_str(&hash.to_hex())))
            .map_err(backend)?
            .await
            .map_err(backend)?;
        let Some(record) = found else {
            return Ok(None);
        };
        let b = js_sys::Reflect::get(&record, &JsValue::from_str("b"))
            .map_err(|_| StoreError::Corrupt("an image record without bytes".into()))?;
        to_bytes(b).map(Some)
    }

    async fn feed(&self, author: &AuthorId) -> Result<Option<FeedMeta>, StoreError> {
        self.read_one(FEEDS, hex(author))
            .await?
            .map(decode_meta)
            .transpose()
    }

    async fn feeds(&self) -> Result<Vec<FeedMeta>, StoreError> {
        let tx = self
            .db
            .transaction(&[FEEDS], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let vs = tx
            .object_store(FEEDS)
            .map_err(backend)?
            .get_all(None, None)
            .map_err(backend)?
            .await
            .map_err(backend)?;
        vs.into_iter().map(decode_meta).collect()
    }

    async fn update_meta(
        &self,
        author: &AuthorId,
        f: &dyn Fn(&mut FeedMeta),
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[FEEDS], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let feeds = tx.object_store(FEEDS).map_err(backend)?;
        let mut m = match feeds
            .get(Query::Key(hex(author)))
            .map_err(backend)?
            .await
            .map_err(backend)?
        {
            Some(v) => decode_meta(v)?,
            None => FeedMeta::new(*author),
        };
        f(&mut m);
        feeds
            .put(&encode_meta(&m), Some(&hex(author)))
            .map_err(backend)?
            .await
            .map_err(backend)?;
        commit(tx).await
    }

    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_setting(key, &[])?;
        self.read_one(SETTINGS, key.into())
            .await?
            .map(to_bytes)
            .transpose()
    }

    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_setting(key, value)?;
        self.write_one(SETTINGS, key.into(), Some(bytes(value)))
            .await
    }

    async fn delete_setting(&self, key: &str) -> Result<(), StoreError> {
        check_setting(key, &[])?;
        self.write_one(SETTINGS, key.into(), None).await
    }
}

impl crate::suite::Backend for IdbStore {
    async fn fresh(name: &str) -> Self {
        let name = format!("kith-test-{name}");
        IdbStore::delete(&name)
            .await
            .expect("delete the old test database");
        IdbStore::open(&name).await.expect("open")
    }

    async fn reopen(self) -> Self {
        let name = self.name.clone();
        self.close();
        IdbStore::open(&name).await.expect("reopen")
    }
}
