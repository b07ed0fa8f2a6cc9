//! The shared store suite against IndexedDB, in headless Chromium; plus what only IndexedDB
//! has: the schema migration and the persistence request.
#![cfg(target_arch = "wasm32")]

use kith_store::idb::IdbStore;
use kith_store::suite::{self, NOW, person, posts};
use kith_store::{Store, StoreError};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

macro_rules! suite {
    ($($name:ident),* $(,)?) => {$(
        #[wasm_bindgen_test]
        async fn $name() {
            suite::$name::<IdbStore>().await;
        }
    )*};
}

suite!(
    atomicity,
    below_head,
    paging,
    first_page,
    purge,
    frontier_and_forget,
    survives_reopen,
    settings,
    backup_round_trip,
    tampered_backup_refused,
    images,
    backup_keeps_own_pictures,
);

#[wasm_bindgen_test]
async fn a_version_1_database_opens_with_current_code() {
    let name = "kith-test-migration";
    IdbStore::delete(name).await.expect("clean");
    let a = person(1);
    let mut f = posts(&a, 5, NOW);
    let target = f.get(2).expect("2").entry_ref();
    f.append(&a, &kith_core::Payload::Delete { target }, NOW + 100)
        .expect("delete");
    // Version 1 kept whole entries, payload inline (the deleted post's is already gone).
    IdbStore::create_v1(name, f.entries())
        .await
        .expect("v1 database");
    let store = IdbStore::open(name).await.expect("open with current code");
    let held = store.range(&a.author(), 1, 10).await.expect("range");
    assert_eq!(held.len(), 6);
    assert_eq!(held[0], f.entries()[0]);
    assert_eq!(
        store.frontier().await.expect("frontier"),
        vec![(a.author(), 6)]
    );
    assert_eq!(held[1].payload(), None, "the deleted post stays purged");
    let page = store
        .timeline(None, 10)
        .await
        .expect("timeline from the migrated index");
    let seqs: Vec<u64> = page.iter().map(kith_core::VerifiedEntry::seq).collect();
    assert_eq!(seqs, [5, 4, 3, 1]);
    // New writes continue the migrated feed.
    f.append(&a, &kith_core::Payload::post("after migration"), NOW + 200)
        .expect("append");
    store.insert(&f.entries()[6..]).await.expect("insert");
    // And the migration does not run twice.
    let store = suite::Backend::reopen(store).await;
    assert_eq!(
        store.range(&a.author(), 1, 10).await.expect("range").len(),
        7
    );
}

#[wasm_bindgen_test]
async fn a_version_2_database_is_packed_into_chunks() {
    let name = "kith-test-migration-v2";
    IdbStore::delete(name).await.expect("clean");
    let (a, b) = (person(1), person(2));
    // More than one chunk of one feed, a purged post, and a second feed.
    let mut f = posts(&a, 150, NOW);
    let target = f.get(70).expect("70").entry_ref();
    f.append(&a, &kith_core::Payload::Delete { target }, NOW + 1_000)
        .expect("delete");
    let mut held = f.entries().to_vec();
    held[69].purge_payload();
    let g = posts(&b, 3, NOW + 5);
    held.extend(g.entries().iter().cloned());
    IdbStore::create_v2(name, &held).await.expect("v2 database");
    let store = IdbStore::open(name).await.expect("open with current code");
    let mut read = Vec::new();
    let mut from = 1;
    loop {
        let page = store.range(&a.author(), from, 64).await.expect("range");
        if page.is_empty() {
            break;
        }
        from = page.last().expect("last").seq() + 1;
        read.extend(page);
    }
    assert_eq!(read.len(), 151);
    assert_eq!(
        read,
        held[..151],
        "every entry, purged one included, as it was"
    );
    // Version 2 did not note which delete purged an entry: it is found by searching the feed.
    assert_eq!(
        store.deletes_of(&read[64..128]).await.expect("deletes"),
        [read[150].clone()]
    );
    assert_eq!(
        store.range(&b.author(), 1, 10).await.expect("range b"),
        g.entries()
    );
    let page = store.timeline(None, 3).await.expect("timeline");
    let seqs: Vec<(u64, u64)> = page
        .iter()
        .map(|e| (e.header().timestamp_ms, e.seq()))
        .collect();
    assert_eq!(
        seqs,
        [(NOW + 1_490, 150), (NOW + 1_480, 149), (NOW + 1_470, 148)],
        "the time index carried over"
    );
    // New writes continue it, and the move does not run twice.
    f.append(&a, &kith_core::Payload::post("after"), NOW + 2_000)
        .expect("append");
    store.insert(&f.entries()[151..]).await.expect("insert");
    let store = suite::Backend::reopen(store).await;
    let mut frontier = store.frontier().await.expect("frontier");
    frontier.sort();
    let mut want = vec![(a.author(), 152), (b.author(), 3)];
    want.sort();
    assert_eq!(frontier, want);
}

#[wasm_bindgen_test]
async fn persistence_request_answers() {
    // Headless Chromium decides by its own heuristics; what matters is a clear answer.
    let granted = kith_store::idb::request_persistence().await;
    assert!(granted.is_ok(), "{granted:?}");
}

#[wasm_bindgen_test]
async fn a_bad_batch_aborts_the_transaction() {
    let s = <IdbStore as suite::Backend>::fresh("abort").await;
    let a = person(1);
    let f = posts(&a, 3, NOW);
    s.insert(&f.entries()[..1]).await.expect("first");
    let err = s.insert(&f.entries()[2..]).await.expect_err("gap");
    assert!(matches!(err, StoreError::DoesNotChain { .. }));
    assert_eq!(s.frontier().await.expect("frontier"), vec![(a.author(), 1)]);
    // The database is still usable after the aborted transaction.
    s.insert(&f.entries()[1..]).await.expect("rest");
    assert_eq!(s.frontier().await.expect("frontier"), vec![(a.author(), 3)]);
}

#[wasm_bindgen_test]
async fn the_identity_is_never_stored_as_plain_bytes() {
    let s = <IdbStore as suite::Backend>::fresh("wrap").await;
    let secret = person(7).secret();
    s.set_identity(&secret).await.expect("store");
    let raw = s.raw_identity_record().await.expect("raw").expect("stored");
    assert!(
        !raw.windows(32).any(|w| w == secret),
        "the secret is visible in storage"
    );
    assert_eq!(s.identity().await.expect("unwrap"), Some(secret.to_vec()));
    let s = suite::Backend::reopen(s).await;
    assert_eq!(
        s.identity().await.expect("unwrap after reload"),
        Some(secret.to_vec())
    );
}

#[wasm_bindgen_test]
fn a_quota_error_is_reported_as_such() {
    let e = web_sys::DomException::new_with_message_and_name("full", "QuotaExceededError")
        .expect("exception");
    assert_eq!(kith_store::idb::map_error(e), StoreError::QuotaExceeded);
}
