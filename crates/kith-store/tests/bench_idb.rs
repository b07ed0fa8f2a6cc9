//! IndexedDB figures for `cargo xtask bench` (feature `bench`, release build, headless
//! Chromium), with 10,000 posts of 10 followed feeds stored: write throughput for them in
//! batches; `idb_page_ms`, the read the app's first screen does (`App::load`: the person's
//! own feed whole, 1,000 posts here, beside `first::first_page` of 30 posts); and a frontier
//! read. Posted to the sink `cargo xtask bench` listens on.
#![cfg(all(target_arch = "wasm32", feature = "bench"))]

use kith_core::VerifiedEntry;
use kith_store::first::first_page;
use kith_store::idb::IdbStore;
use kith_store::suite::{Backend, NOW, person, posts};
use kith_store::{Store, range_to_head};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_time::Instant;

wasm_bindgen_test_configure!(run_in_browser);

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[wasm_bindgen_test]
async fn indexeddb_figures() {
    let store = IdbStore::fresh("bench").await;
    let mut entries: Vec<VerifiedEntry> = Vec::new();
    for a in 0..10u8 {
        entries.extend(
            posts(&person(a + 1), 1_000, NOW - 5_000_000 + u64::from(a))
                .entries()
                .iter()
                .cloned(),
        );
    }
    assert_eq!(entries.len(), 10_000);
    let start = Instant::now();
    for batch in entries.chunks(500) {
        store.insert(batch).await.expect("insert");
    }
    let write_per_s = entries.len() as f64 / start.elapsed().as_secs_f64();
    for a in 0..10u8 {
        store
            .update_meta(&person(a + 1).author(), &|m| m.followed = true)
            .await
            .expect("follow");
    }
    let me = person(1).author();
    let own = || async { range_to_head(&store, &me, 1).await.expect("own feed") };
    let mut page = Vec::new();
    for _ in 0..11 {
        let start = Instant::now();
        let (own, windows) = futures::future::join(own(), first_page(&store, 30, &me)).await;
        page.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(own.len(), 1_000);
        let windows = windows.expect("first page");
        let shown: usize = windows.iter().map(|w| w.entries.len()).sum();
        assert!(
            (1..=30).contains(&shown) && windows.len() == 9,
            "{shown} in {}",
            windows.len()
        );
    }
    let mut frontier = Vec::new();
    for _ in 0..11 {
        let start = Instant::now();
        let f = store.frontier().await.expect("frontier");
        frontier.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(f.len(), 10);
    }
    let body = format!(
        "{{\"idb_write_per_s\": {}, \"idb_page_ms\": {:.2}, \"idb_frontier_ms\": {:.2}}}",
        write_per_s.round(),
        median(page),
        median(frontier)
    );
    let sink = env!(
        "KITH_BENCH_SINK",
        "build this benchmark through `cargo xtask bench`"
    );
    let resp = gloo_net::http::Request::post(sink)
        .header("content-type", "text/plain")
        .body(body)
        .expect("request")
        .send()
        .await
        .expect("the bench sink answers");
    assert!(resp.ok());
}
