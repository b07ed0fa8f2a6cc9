//! The browser's verify throughput for `cargo xtask bench` (feature `bench`, release build).
//! The figure is posted to the sink `cargo xtask bench` listens on (`KITH_BENCH_SINK` at build
//! time), because wasm-bindgen-test keeps a passing test's console output to itself.
#![cfg(all(target_arch = "wasm32", feature = "bench"))]

use kith_core::entry::sign_entry;
use kith_core::{Expect, Identity, Payload, validate};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_time::Instant;

wasm_bindgen_test_configure!(run_in_browser);

const NOW: u64 = 1_767_225_600_000;

#[wasm_bindgen_test]
async fn verify_throughput_in_the_browser() {
    let me = Identity::from_secret([7; 32]);
    let payload = Payload::post("A typical post: a sentence or two of text, about this long.");
    let n = 5_000u64;
    let mut entries = Vec::new();
    let mut prev = None;
    for seq in 1..=n {
        let raw = sign_entry(&me, seq, prev, NOW, &payload);
        prev = Some(raw.hash());
        entries.push(raw.encode());
    }
    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut expect = Expect {
            author: me.author(),
            prev: None,
        };
        for bytes in &entries {
            let e = validate(bytes, &expect, NOW).expect("valid");
            expect.prev = Some(e.as_prev());
        }
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let body = format!(
        "{{\"verify_wasm_per_s\": {}}}",
        rates[rates.len() / 2].round()
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
