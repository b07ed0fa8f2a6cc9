//! A native peer for the browser tests: it joins a kith-node, follows one test author live and
//! answers each of their posts with a post of its own ("echo: <text>") by a second test
//! author. `cargo xtask test wasm` runs it next to the test node (it lives in kith-node as a native-only example), so a browser test can check
//! delivery in both directions: browser → native and native → browser.
//!
//! Usage: `echo_peer <node http address> [--hold N]` (e.g. 127.0.0.1:18080). Prints `ready`
//! once connected and subscribed.
//!
//! With `--hold N` (the browser backfill bench) it is also the node of [`HOLDER_SECRET`]'s
//! author: it holds that author's feed of `N` posts, reserves a relay slot on kith-node and
//! serves sync requests, so a browser can backfill the feed from it through the relay.

use std::io::{Read, Write};
use std::time::Duration;

use futures::StreamExt;
use kith_core::{BootstrapDoc, Feed, Identity, Payload};
use kith_net::replica::Replica;
use kith_net::{Config, Event, Keypair, TransportKind, dial_plan};
use kith_store::{MemoryStore, Store};

/// The author the browser test posts as.
pub const ASKER_SECRET: [u8; 32] = [0x42; 32];
/// The author this peer answers as.
pub const ECHO_SECRET: [u8; 32] = [0x43; 32];
/// The author whose feed this peer holds and serves with `--hold`.
pub const HOLDER_SECRET: [u8; 32] = [0x44; 32];

fn bootstrap(http: &str) -> BootstrapDoc {
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(http) {
            let req = format!(
                "GET /bootstrap.json HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n"
            );
            let mut out = String::new();
            if s.write_all(req.as_bytes()).is_ok()
                && s.read_to_string(&mut out).is_ok()
                && let Some(body) = out.split("\r\n\r\n").nth(1)
                && let Ok(doc) = BootstrapDoc::parse(body.as_bytes())
            {
                return doc;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no kith-node at {http}");
}

#[allow(clippy::print_stdout)] // `ready` on stdout tells the test harness to go on
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let http = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".into());
    let hold: Option<u64> = std::env::args()
        .skip_while(|a| a != "--hold")
        .nth(1)
        .map(|n| n.parse().expect("--hold takes a number of entries"));
    let doc = bootstrap(&http);
    let asker = Identity::from_secret(ASKER_SECRET);
    let echo = Identity::from_secret(ECHO_SECRET);
    let config = Config {
        gossip_heartbeat: Duration::from_millis(200),
        ..Config::default()
    };
    let holder = Identity::from_secret(HOLDER_SECRET);
    let key = match hold {
        Some(_) => kith_net::identity::keypair_of(&holder),
        None => Keypair::generate_ed25519(),
    };
    let (client, mut events, event_loop) = kith_net::new(key, config).expect("client builds");
    tokio::spawn(event_loop.run());
    let (peer, addrs) = dial_plan(&doc, Some(TransportKind::WebSocket)).expect("ws address");
    client
        .dial(peer, addrs.clone())
        .await
        .expect("dial the node");
    client.follow_live(asker.author()).await.expect("follow");
    let store = MemoryStore::new();
    if let Some(n) = hold {
        let mut feed = Feed::new(holder.author());
        let start = kith_net::now_ms() - 100_000_000;
        for i in 0..n {
            feed.append(&holder, &Payload::post(format!("backfill {i}")), start + i)
                .expect("append");
        }
        store.insert(feed.entries()).await.expect("hold the feed");
        let relay = addrs.first().cloned().expect("a node address");
        client.listen_via_relay(relay).await.expect("relay slot");
    }
    let replica = Replica::new(client.clone(), store);
    println!("ready");
    let mut feed = Feed::new(echo.author());
    while let Some(event) = events.next().await {
        if let Event::SyncRequest { id, message, .. } = event {
            let _ = replica.serve(id, message).await;
            continue;
        }
        let Event::Entry { entry, .. } = event else {
            continue;
        };
        let Some(Payload::Post { text, .. }) = entry.payload() else {
            continue;
        };
        if entry.author() != asker.author() {
            continue;
        }
        let reply = Payload::post(format!("echo: {text}"));
        let answer = feed
            .append(&echo, &reply, kith_net::now_ms())
            .expect("append")
            .clone();
        // Publish a few times: the browser's subscription may still be joining the mesh.
        for _ in 0..10 {
            let _ = client.publish(&answer).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
