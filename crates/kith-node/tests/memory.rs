//! kith-node keeps no post: once the people who posted are gone and gossip's cache window
//! has passed, no byte of their posts' text is left in the node's process memory (read from
//! `/proc/<pid>/mem` of the real binary).
#![cfg(target_os = "linux")]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kith_core::{BootstrapDoc, Identity};
use kith_net::Keypair;

/// The kith-node binary on free ports, and its bootstrap document once it serves.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn spawn(dir: &std::path::Path) -> (Spawned, std::net::SocketAddr, BootstrapDoc) {
    let http = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr");
    let http_flag = http.to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_kith-node"))
        .args(common::args(dir, &["--http", &http_flag]))
        .env("KITH_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start kith-node");
    let node = Spawned(child);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = tokio::net::TcpStream::connect(http).await {
            drop(s);
            let resp = common::get(http, "/bootstrap.json").await;
            if let Some(body) = resp.split("\r\n\r\n").nth(1)
                && let Ok(doc) = BootstrapDoc::parse(body.as_bytes())
            {
                return (node, http, doc);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kith-node did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_post_text_stays_in_the_node_after_the_people_leave() {
    let dir = common::workdir();
    let (node, http, doc) = spawn(dir.path()).await;
    let pid = node.0.id();
    let marker = format!("kith-memory-probe-{:016x}", rand_u64());
    let alice = Identity::from_secret([3; 32]);
    {
        let (a, _a_events) = common::client_to(&doc, Keypair::generate_ed25519()).await;
        let (b, mut b_events) = common::client_to(&doc, Keypair::generate_ed25519()).await;
        b.follow_live(alice.author()).await.expect("follow");
        let mut feed = common::post_until_delivered(&alice, &a, &mut b_events).await;
        common::deliver_each(
            &alice,
            &mut feed,
            &a,
            &mut b_events,
            (0..100).map(|i| format!("{marker} number {i}")),
            Duration::from_secs(5),
        )
        .await;
        assert!(
            common::procmem::occurrences(pid, marker.as_bytes()) > 0,
            "the probe cannot see what the node holds while it routes"
        );
    }
    // Both people are gone (their clients dropped); wait until the node has let them go,
    // then for gossip's cache window (5 heartbeats of 1 s) and a margin.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = common::get(http, "/status.json").await;
        if status.contains("\"connected_peers\":[]") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the clients never left: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Gone within a minute (what the issue asks), looked for every 2 s from 8 s on: on a
    // loaded machine (the whole suite runs in parallel on 2 cores) the node's heartbeats,
    // which let gossip's cache go, can run late.
    let left = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    loop {
        let copies = common::procmem::occurrences(pid, marker.as_bytes());
        if copies == 0 {
            eprintln!(
                "no post text in the node {:?} after the people left",
                left.elapsed()
            );
            break;
        }
        assert!(
            left.elapsed() < Duration::from_secs(60),
            "post text left in the node's memory a minute after the people left: {copies} copies"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// A random number, so each run's probe text is new to every process.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}
