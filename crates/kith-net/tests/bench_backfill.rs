//! The browser backfill figure for `cargo xtask bench` (feature `bench`, release build,
//! headless Chromium): a browser node syncs the feed the native echo peer holds with
//! `--hold 10000` (crates/kith-node/examples/echo_peer.rs) through kith-node's relay, every
//! entry verified and written to a fresh IndexedDB store, the path the app takes
//! (`Replica::sync_with` over `IdbStore`). Posted to the sink `cargo xtask bench` listens on.
#![cfg(all(target_arch = "wasm32", feature = "bench"))]

use kith_core::{BootstrapDoc, Identity};
use kith_net::replica::Replica;
use kith_net::{Config, Keypair, Multiaddr, TransportKind, dial_plan, platform};
use kith_store::Store;
use kith_store::idb::IdbStore;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_time::Instant;

wasm_bindgen_test_configure!(run_in_browser);

const NODE: &str = env!(
    "KITH_TEST_NODE",
    "build this benchmark through `cargo xtask bench`"
);
/// The echo peer's `HOLDER_SECRET`.
const HOLDER_SECRET: [u8; 32] = [0x44; 32];
/// Entries the holder serves (`--hold`).
const ENTRIES: u64 = 10_000;

#[wasm_bindgen_test]
async fn backfill_into_indexeddb() {
    let resp = gloo_net::http::Request::get(&format!("{NODE}/bootstrap.json"))
        .send()
        .await
        .expect("kith-node answers");
    let doc = BootstrapDoc::parse(&resp.binary().await.expect("body")).expect("bootstrap.json");
    let (node, addrs) = dial_plan(&doc, Some(TransportKind::WebSocket)).expect("ws");
    let (client, _events, event_loop) =
        kith_net::new(Keypair::generate_ed25519(), Config::default()).expect("node builds");
    platform::spawn(event_loop.run());
    client
        .dial(node, addrs.clone())
        .await
        .expect("dial kith-node");
    let holder = Identity::from_secret(HOLDER_SECRET);
    let holder_peer = kith_net::identity::peer_id_of(&holder.author()).expect("peer id");
    let circuit: Multiaddr = format!("{}/p2p-circuit/p2p/{holder_peer}", addrs[0])
        .parse()
        .expect("circuit address");
    client
        .dial(holder_peer, vec![circuit])
        .await
        .expect("reach the holder through the relay");

    let name = format!("bench-backfill-{}", kith_net::now_ms());
    let store = IdbStore::open(&name).await.expect("IndexedDB");
    store
        .update_meta(&holder.author(), &|m| m.followed = true)
        .await
        .expect("follow");
    let replica = Replica::new(client.clone(), store);
    let start = Instant::now();
    let done = replica
        .sync_with(holder_peer, |_| {})
        .await
        .expect("backfill");
    let secs = start.elapsed().as_secs_f64();
    // Counted from the store, not the session: what was really written.
    let held = replica
        .store()
        .feed(&holder.author())
        .await
        .expect("meta")
        .map_or(0, |m| m.head_seq());
    assert_eq!((done.have, held), (ENTRIES, ENTRIES), "entries lost");
    let (handle_ms, write_ms) = kith_net::replica::timing::totals();
    let body = format!(
        "{{\"backfill_browser_per_s\": {}, \"backfill_browser_entries\": {held}, \
         \"backfill_browser_ms\": {}, \"backfill_browser_handle_ms\": {}, \
         \"backfill_browser_write_ms\": {}}}",
        (held as f64 / secs).round(),
        (secs * 1000.0).round(),
        handle_ms.round(),
        write_ms.round()
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
