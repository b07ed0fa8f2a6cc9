//! Native figures for `cargo xtask bench`: sign and verify throughput on one core, and the
//! timeline merge of 100 authors × 1,000 posts (first page of 50). Prints one JSON object.
//!
//! Run: `cargo run --release -p kith-core --example bench`.

use std::collections::BTreeSet;
use std::time::Instant;

use kith_core::entry::sign_entry;
use kith_core::{Expect, Feed, Identity, Payload, Timeline, validate};

const NOW: u64 = 1_767_225_600_000;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[allow(clippy::print_stdout)] // the JSON line on stdout is this program's output
fn main() {
    let me = Identity::from_secret([7; 32]);
    let payload = Payload::post("A typical post: a sentence or two of text, about this long.");
    let n = 20_000u64;

    // Sign: build a chained feed of n entries (encode, hash, sign).
    let mut sign_rates = Vec::new();
    let mut entries = Vec::new();
    for _ in 0..5 {
        entries.clear();
        let start = Instant::now();
        let mut prev = None;
        for seq in 1..=n {
            let raw = sign_entry(&me, seq, prev, NOW, &payload);
            prev = Some(raw.hash());
            entries.push(raw.encode());
        }
        sign_rates.push(n as f64 / start.elapsed().as_secs_f64());
    }

    // Verify: full validation of every entry against its predecessor.
    let mut verify_rates = Vec::new();
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
        verify_rates.push(n as f64 / start.elapsed().as_secs_f64());
    }

    // Timeline: 100 authors × 1,000 posts with interleaved timestamps.
    let mut feeds = Vec::new();
    for a in 0..100u64 {
        let id = Identity::from_secret([a as u8 + 1; 32]);
        let mut f = Feed::new(id.author());
        for i in 0..1_000u64 {
            f.append(
                &id,
                &Payload::post(format!("post {i} by {a}")),
                NOW - 10_000_000 + i * 1_000 + a,
            )
            .expect("append");
        }
        feeds.push(f);
    }
    let following: BTreeSet<_> = feeds.iter().map(Feed::author).collect();
    let mut merge_ms = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let tl = Timeline::new(&feeds, &following);
        let page = tl.page(None, 50);
        assert_eq!(page.threads.len(), 50);
        merge_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let page_ms = {
        let tl = Timeline::new(&feeds, &following);
        let mut xs = Vec::new();
        for _ in 0..7 {
            let start = Instant::now();
            let page = tl.page(None, 50);
            assert_eq!(page.threads.len(), 50);
            xs.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        median(xs)
    };

    let out = serde_json::json!({
        "sign_native_per_s": median(sign_rates).round(),
        "verify_native_per_s": median(verify_rates).round(),
        "timeline_merge_ms": (median(merge_ms) * 100.0).round() / 100.0,
        "timeline_page_only_ms": (page_ms * 1000.0).round() / 1000.0,
    });
    println!("{out}");
}
