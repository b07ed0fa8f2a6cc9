//! Network figures for `cargo xtask bench`: post-to-follower delivery through kith-node,
//! backfill throughput, provider lookup latency, a client's command round trip during a
//! gossip flood (the scenario of `tests/flood.rs`), kith-node's memory per connected
//! client, and a soak: [`SESSIONS`] sessions (`KITH_SOAK_SESSIONS` to change) of two people
//! posting 100 posts each, with the
//! node's memory growth per session and the copies of their text left in it afterwards.
//! Starts the kith-node binary named by `KITH_NODE_BIN` on 127.0.0.1 (ports 28080, 29090,
//! 29091) and native kith-net clients in this process. Prints one JSON object.

use std::rc::Rc;
use std::time::{Duration, Instant};

use kith_core::{BootstrapDoc, Feed, Identity, Payload};
use kith_net::identity::keypair_of;
use kith_net::replica::Replica;
use kith_net::{Event, Keypair, Multiaddr};
use kith_store::{MemoryStore, Store};

// The integration tests' helpers: clients, the flood scenario, the memory search.
#[path = "../tests/common/mod.rs"]
mod common;
use common::{flood, procmem};

const HTTP: &str = "127.0.0.1:28080";
const CLIENTS: usize = 200;
/// Soak sessions measured, by default.
const SESSIONS: usize = 50;
/// How long soak sessions warm the node up before the measured ones: past gossipsub's
/// duplicate cache (60 s), the longest time-bound cache the node keeps a message id in.
const SOAK_WARM_FOR: Duration = Duration::from_secs(65);
/// How long after the last soak session its text is searched for in the node's memory.
const SETTLE: Duration = Duration::from_secs(65);

#[allow(clippy::print_stdout)] // the JSON line on stdout is this program's output
fn main() {
    let bin = std::env::var("KITH_NODE_BIN").expect("KITH_NODE_BIN: the kith-node binary");
    let dir = std::env::temp_dir().join(format!("kith-bench-net-{}", std::process::id()));
    let node = common::spawn_node(&bin, &dir, 28080, 29090, None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let out = local.block_on(&rt, run(node.0.id()));
    println!("{out}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn run(node_pid: u32) -> serde_json::Value {
    let doc = common::fetch_doc(HTTP).await;
    let ws: Multiaddr = doc
        .addrs
        .iter()
        .find(|a| a.contains("/ws/"))
        .expect("ws")
        .parse()
        .expect("addr");

    // Soak first, while nobody else is connected: what stays in the node is the sessions'.
    let soak = soak(&doc, node_pid).await;
    if std::env::var_os("KITH_SOAK_ONLY").is_some() {
        return soak_figures(&soak);
    }

    // Delivery: Alice posts, Bob (following her shard) receives through the node.
    let alice = Identity::from_secret([1; 32]);
    let (a, _a_events) = common::client_to(&doc, keypair_of(&alice)).await;
    let (b, mut b_events) = common::client_to(&doc, Keypair::generate_ed25519()).await;
    b.follow_live(alice.author()).await.expect("follow");
    let mut feed = Feed::new(alice.author());
    let mut lat = Vec::new();
    // Posts that never arrived (within 5 s) and publishes that failed, after the warm-up:
    // counted beside the latencies, never left out of the figures silently.
    let (mut lost, mut publish_failed) = (0u64, 0u64);
    let mut warm = true;
    let deadline = Instant::now() + Duration::from_secs(60);
    while lat.len() < 200 {
        assert!(Instant::now() < deadline, "delivery stalled");
        let e = feed
            .append(&alice, &Payload::post("bench"), kith_net::now_ms())
            .expect("append")
            .clone();
        let sent = Instant::now();
        if a.publish(&e).await.is_err() {
            if !warm {
                publish_failed += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let got = common::receive(
            &mut b_events,
            &e,
            Duration::from_millis(if warm { 500 } else { 5000 }),
        )
        .await;
        if got {
            if warm {
                warm = false; // the first delivery only proves the mesh is up
            } else {
                lat.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
        } else if !warm {
            lost += 1;
        }
    }
    let p50 = flood::percentile(&mut lat, 0.5);
    let p99 = flood::percentile(&mut lat, 0.99);

    // Backfill: Carol fetches 10,000 of Alice's entries from Alice over a relayed circuit.
    let big = {
        let id = Identity::from_secret([2; 32]);
        let mut f = Feed::new(id.author());
        let start = kith_net::now_ms() - 100_000_000;
        for i in 0..10_000u64 {
            f.append(&id, &Payload::post(format!("backfill {i}")), start + i)
                .expect("append");
        }
        (id, f)
    };
    let (author, big_feed) = big;
    let a_store = MemoryStore::new();
    a_store.insert(big_feed.entries()).await.expect("insert");
    // The author's own feed counts as followed (as the app keeps it): it is announced.
    a_store
        .update_meta(&author.author(), &|m| m.followed = true)
        .await
        .expect("own feed");
    let (src, mut src_events) = common::client_to(&doc, keypair_of(&author)).await;
    src.listen_via_relay(ws.clone()).await.expect("relay");
    let src_replica = Rc::new(Replica::new(src.clone(), a_store));
    let serving = src_replica.clone();
    tokio::task::spawn_local(async move {
        while let Some(e) = src_events.recv().await {
            if let Event::SyncRequest { id, message, .. } = e {
                let _ = serving.serve(id, message).await;
            }
        }
    });
    let c_store = MemoryStore::new();
    c_store
        .update_meta(&author.author(), &|m| m.followed = true)
        .await
        .expect("follow");
    let (c, _c_events) = common::client_to(&doc, Keypair::generate_ed25519()).await;
    let src_peer = keypair_of(&author).public().to_peer_id();
    let circuit: Multiaddr = format!("{ws}/p2p-circuit/p2p/{src_peer}")
        .parse()
        .expect("addr");
    c.dial(src_peer, vec![circuit]).await.expect("circuit");
    let c_replica = Replica::new(c.clone(), c_store);
    let t = Instant::now();
    let done = c_replica
        .sync_with(src_peer, |_| {})
        .await
        .expect("backfill");
    let backfill_per_s = done.have as f64 / t.elapsed().as_secs_f64();
    assert_eq!(done.have, 10_000);

    // Lookup: the source provides its feed; another client asks who holds it.
    for _ in 0..100 {
        if src_replica.provide_all().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (d, _d_events) = common::client_to(&doc, Keypair::generate_ed25519()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut lookups = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let found = d.find_providers(author.author()).await.unwrap_or_default();
        if found.contains(&src_peer) {
            lookups.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    assert!(!lookups.is_empty(), "the provider was never found");
    let lookup_p50 = flood::percentile(&mut lookups, 0.5);

    // Flood: Bob's commands while 20,000 gossip messages arrive on his shard and he syncs.
    let mut f = flood::run(&doc).await;
    assert_eq!(
        f.synced,
        flood::HISTORY,
        "the sync under the flood did not complete"
    );
    let flood_p50 = flood::percentile(&mut f.command_ms, 0.5);
    let flood_p99 = flood::percentile(&mut f.command_ms, 0.99);

    // Memory: the node's RSS before and after CLIENTS more clients connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = procmem::rss_kb(node_pid);
    let mut crowd = Vec::new();
    for _ in 0..CLIENTS {
        crowd.push(common::client_to(&doc, Keypair::generate_ed25519()).await);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = procmem::rss_kb(node_pid);
    let per_client = (after.saturating_sub(before)) as f64 / CLIENTS as f64;
    drop(crowd);

    let mut out = soak_figures(&soak);
    let rest = serde_json::json!({
        "delivery_ms_p50": (p50 * 100.0).round() / 100.0,
        "delivery_ms_p99": (p99 * 100.0).round() / 100.0,
        "delivery_lost": lost,
        "delivery_publish_failed": publish_failed,
        "backfill_per_s": backfill_per_s.round(),
        "lookup_ms_p50": (lookup_p50 * 100.0).round() / 100.0,
        "flood_command_ms_p50": (flood_p50 * 100.0).round() / 100.0,
        "flood_command_ms_p99": (flood_p99 * 100.0).round() / 100.0,
        "flood_commands": f.command_ms.len(),
        "flood_failed_commands": f.failed_commands,
        "flood_ignored_entries": f.stats.ignored_entries,
        "flood_live_entries": f.stats.live_entries,
        "flood_dropped_entries": f.stats.dropped_entries,
        "flood_sync_ms": f.sync_ms.round(),
        "node_rss_kb_per_client": per_client.round(),
        "node_rss_clients": CLIENTS,
        "node_rss_kb_idle": before,
    });
    if let (Some(out), serde_json::Value::Object(rest)) = (out.as_object_mut(), rest) {
        out.extend(rest);
    }
    out
}

/// The soak's figures (alone with `KITH_SOAK_ONLY`, to measure or profile the node's memory).
fn soak_figures(soak: &Soak) -> serde_json::Value {
    serde_json::json!({
        "node_rss_growth_kb_per_session": soak.growth_kb_per_session,
        "node_rss_kb_before_soak": soak.rss_warm_kb,
        "node_rss_kb_after_soak": soak.rss_after_kb,
        "soak_sessions": soak.sessions,
        "soak_warm_sessions": soak.warm_sessions,
        "soak_posts_lost": soak.lost,
        "soak_text_copies_left": soak.copies_left,
    })
}

struct Soak {
    /// Sessions measured, after the warm-up.
    sessions: usize,
    /// Sessions run first, until [`SOAK_WARM_FOR`] had passed, and not counted in the growth.
    warm_sessions: usize,
    growth_kb_per_session: f64,
    rss_warm_kb: u64,
    rss_after_kb: u64,
    lost: u64,
    copies_left: usize,
}

/// Sessions, one after another, of two people who follow each other and post 100 posts each
/// through the node, each post awaited by the other (5 s, else lost); then both leave. Nobody
/// else is connected.
///
/// The sessions of the first [`SOAK_WARM_FOR`] warm the node up: gossipsub keeps every message
/// id for 60 s (its duplicate cache, purged only as new ids arrive) and sizes its tables for
/// the busiest window, so before a minute has passed each session adds a minute's worth of ids
/// that a steady node would have let go. Then [`SESSIONS`] sessions (`KITH_SOAK_SESSIONS`) are
/// measured: the node's RSS before them and 8 s after the last gives the growth per session.
/// A minute after the last session the node's memory is searched for the sessions' text.
async fn soak(doc: &BootstrapDoc, node_pid: u32) -> Soak {
    let marker = format!("kith-soak-{}", std::process::id());
    let mut lost = 0u64;
    let sessions = std::env::var("KITH_SOAK_SESSIONS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(SESSIONS);
    let started = Instant::now();
    let mut warm: Option<(usize, u64)> = None;
    let mut session = 0;
    loop {
        if warm.is_none() && started.elapsed() >= SOAK_WARM_FOR {
            tokio::time::sleep(Duration::from_secs(2)).await;
            warm = Some((session, procmem::rss_kb(node_pid)));
        }
        if warm.is_some_and(|(w, _)| session - w == sessions) {
            break;
        }
        lost += soak_session(doc, &marker, session).await;
        session += 1;
    }
    let (warm_sessions, rss_warm_kb) = warm.unwrap_or_default();
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rss_after_kb = procmem::rss_kb(node_pid);
    tokio::time::sleep(SETTLE.saturating_sub(ended.elapsed())).await;
    // Last: reading the node's memory through /proc faults its pages in, which would show
    // in a later RSS reading.
    let copies_left = procmem::occurrences(node_pid, marker.as_bytes());
    let growth = (rss_after_kb as f64 - rss_warm_kb as f64) / sessions as f64;
    Soak {
        sessions,
        warm_sessions,
        growth_kb_per_session: (growth * 10.0).round() / 10.0,
        rss_warm_kb,
        rss_after_kb,
        lost,
        copies_left,
    }
}

/// One soak session; returns the posts lost.
async fn soak_session(doc: &BootstrapDoc, marker: &str, session: usize) -> u64 {
    let mut lost = 0;
    let alice = Identity::from_secret([10 + (session % 200) as u8; 32]);
    let bob = Identity::from_secret([220 + (session % 30) as u8; 32]);
    let (a, mut a_events) = common::client_to(doc, Keypair::generate_ed25519()).await;
    let (b, mut b_events) = common::client_to(doc, Keypair::generate_ed25519()).await;
    a.follow_live(bob.author()).await.expect("follow");
    b.follow_live(alice.author()).await.expect("follow");
    let (mut fa, mut fb) = (Feed::new(alice.author()), Feed::new(bob.author()));
    // The mesh forms within a few heartbeats: the first post of each may need repeating,
    // and is not counted.
    for i in 0..=100 {
        for (who, feed, from, to) in [
            (&alice, &mut fa, &a, &mut b_events),
            (&bob, &mut fb, &b, &mut a_events),
        ] {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let e = feed
                    .append(
                        who,
                        &Payload::post(format!("{marker} session {session} post {i}")),
                        kith_net::now_ms(),
                    )
                    .expect("append")
                    .clone();
                let wait = Duration::from_millis(if i == 0 { 400 } else { 5000 });
                let got = from.publish(&e).await.is_ok() && common::receive(to, &e, wait).await;
                if i > 0 {
                    lost += u64::from(!got);
                    break;
                }
                if got {
                    break;
                }
                assert!(Instant::now() < deadline, "no soak delivery within 20 s");
            }
        }
    }
    lost
}
