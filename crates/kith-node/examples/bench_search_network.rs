//! Search-across-the-network figures for `cargo xtask bench`: three people's apps (kith-app
//! over kith-net's agent, each on its own memory store; the browser runs the same code) on one
//! kith-node (in this process, on loopback), connected in a line B ↔ C ↔ D through the node's
//! relay. D holds a post with a word nobody else holds; B searches for it, as the Search
//! button does (TTL 3; the post is two hops away), [`SEARCHES`] times, one at a time: as
//! many as one peer may ask at once ([`QUERY_BURST`]); more within a minute would meet the
//! rate limit and come back empty (each peer takes 20 a minute past the burst).
//!
//! - `search_network_ms_p50` / `_p99`: from B's call to the verified hits in hand (each hop
//!   answers from its app's text index and waits for the peers it forwarded to);
//! - `search_network_lost`: searches that did not find the post (counted, not left out).
//!
//! Prints one JSON object.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::apps::line_of_three;
use kith_net::search::QUERY_BURST;
use kith_node::Node;

const SEARCHES: usize = QUERY_BURST as usize;

fn percentile(xs: &mut [f64], p: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * xs.len() as f64).ceil() as usize;
    Some(xs[i.clamp(1, xs.len()) - 1])
}

#[allow(clippy::print_stdout)] // the JSON line on stdout is this program's output
fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let out = local.block_on(&rt, async {
        let dir = common::workdir();
        let node = Node::start(common::cli(dir.path(), &[]))
            .await
            .expect("node");
        let (b, _c, d) = line_of_three(&node, 61).await;
        let agent = b.net.borrow().clone().expect("online");
        let mut ms = Vec::new();
        let mut lost = 0u64;
        for _ in 0..SEARCHES {
            let t = Instant::now();
            let hits = agent.search("zebra", kith_app::NET_SEARCH_TTL).await;
            if hits.iter().any(|(e, _)| {
                e.author() == d.app.me()
                    && matches!(e.payload(), Some(kith_core::Payload::Post { .. }))
            }) {
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            } else {
                lost += 1;
            }
        }
        eprintln!("search_network_ms: {ms:.1?} lost={lost}");
        let round = |v: Option<f64>| {
            v.map_or(serde_json::Value::Null, |v| {
                ((v * 10.0).round() / 10.0).into()
            })
        };
        let mut out = serde_json::Map::new();
        out.insert(
            "search_network_ms_p50".into(),
            round(percentile(&mut ms, 50.0)),
        );
        out.insert(
            "search_network_ms_p99".into(),
            round(percentile(&mut ms, 99.0)),
        );
        out.insert("search_network_searches".into(), (ms.len() as u64).into());
        out.insert("search_network_lost".into(), lost.into());
        node.shutdown().await;
        serde_json::Value::Object(out)
    });
    println!("{out}");
}
