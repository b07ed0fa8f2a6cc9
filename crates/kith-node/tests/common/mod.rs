//! Helpers shared by the node's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

pub mod apps;
pub mod flood;
#[cfg(target_os = "linux")]
pub mod procmem;

use clap::Parser;
use kith_node::Cli;

/// A temporary directory with a minimal built app in `dist/`.
pub fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("dist")).expect("mkdir dist");
    std::fs::write(
        dir.path().join("dist/index.html"),
        "<!doctype html><title>kith</title>",
    )
    .expect("write index.html");
    dir
}

/// Flags for a node on free ports with its files in `dir`, except those `extra` gives, then
/// `extra`.
pub fn args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let d = |p: &str| dir.join(p).display().to_string();
    let defaults = [
        ("--http", "127.0.0.1:0".to_owned()),
        ("--ws-port", "0".to_owned()),
        ("--webrtc-port", "0".to_owned()),
        ("--key-file", d("identity.key")),
        ("--cert-file", d("cert.pem")),
        ("--dist", d("dist")),
    ];
    let mut args = Vec::new();
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag.to_owned(), value]);
        }
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The parsed flags of [`args`].
pub fn cli(dir: &Path, extra: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("kith-node".to_owned()).chain(args(dir, extra)))
        .expect("valid flags")
}

use std::time::Duration;

use kith_net::{Client, Config, Event, Keypair, TransportKind, dial_plan};
use kith_node::Node;
use tokio::sync::mpsc::UnboundedReceiver;

/// A node for `key` with a fast gossip heartbeat, its event loop running, and `node`'s
/// WebSocket dial plan: what an agent needs (it dials by itself).
pub fn node_for_agent(
    node: &Node,
    key: Keypair,
) -> (
    Client,
    futures::channel::mpsc::Receiver<Event>,
    PeerId,
    Vec<Multiaddr>,
) {
    node_for_agent_as(node, key, None)
}

/// [`node_for_agent`] for a device of a person, with their `claim` of it (as a browser's).
pub fn node_for_agent_as(
    node: &Node,
    key: Keypair,
    device: Option<kith_core::DeviceClaim>,
) -> (
    Client,
    futures::channel::mpsc::Receiver<Event>,
    PeerId,
    Vec<Multiaddr>,
) {
    let config = Config {
        gossip_heartbeat: Duration::from_millis(200),
        device,
        ..Config::default()
    };
    node_for_agent_with(node, key, config)
}

/// [`node_for_agent`] with a `config` of the caller's.
pub fn node_for_agent_with(
    node: &Node,
    key: Keypair,
    config: Config,
) -> (
    Client,
    futures::channel::mpsc::Receiver<Event>,
    PeerId,
    Vec<Multiaddr>,
) {
    let (client, events, event_loop) = kith_net::new(key, config).expect("client");
    tokio::spawn(event_loop.run());
    let doc = node.bootstrap.read().expect("doc").clone();
    let (peer, addrs) = dial_plan(&doc, Some(TransportKind::WebSocket)).expect("plan");
    (client, events, peer, addrs)
}

/// A client (with a fresh key) connected to `node` over WebSocket, events drained into a channel.
pub async fn client(node: &Node) -> (Client, UnboundedReceiver<Event>) {
    client_with(node, Keypair::generate_ed25519()).await
}

/// [`client`] with a given key.
pub async fn client_with(node: &Node, key: Keypair) -> (Client, UnboundedReceiver<Event>) {
    let doc = node.bootstrap.read().expect("doc").clone();
    client_to(&doc, key).await
}

/// A client (with `key`) connected over WebSocket to the node that serves `doc`.
pub async fn client_to(
    doc: &kith_core::BootstrapDoc,
    key: Keypair,
) -> (Client, UnboundedReceiver<Event>) {
    let config = Config {
        gossip_heartbeat: Duration::from_millis(200),
        ..Config::default()
    };
    client_to_with(doc, key, config).await
}

/// [`client_to`] with a given configuration.
pub async fn client_to_with(
    doc: &kith_core::BootstrapDoc,
    key: Keypair,
    config: Config,
) -> (Client, UnboundedReceiver<Event>) {
    let (c, mut events, event_loop) = kith_net::new(key, config).expect("client builds");
    tokio::spawn(event_loop.run());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(e) = events.next().await {
            if tx.send(e).is_err() {
                break;
            }
        }
    });
    let (peer, addrs) = dial_plan(doc, Some(TransportKind::WebSocket)).expect("ws address");
    c.dial(peer, addrs).await.expect("dial the node");
    (c, rx)
}

/// `n` nodes in one DHT: the first on its own, the others joining it with `--bootstrap`;
/// returns once each has all the others in its routing table. Keep the directories.
pub async fn joined_nodes(n: usize) -> (Vec<tempfile::TempDir>, Vec<Node>) {
    let dirs: Vec<_> = (0..n).map(|_| workdir()).collect();
    let mut nodes = vec![Node::start(cli(dirs[0].path(), &[])).await.expect("node")];
    let first = node_ws(&nodes[0]);
    for d in &dirs[1..] {
        nodes.push(
            Node::start(cli(d.path(), &["--bootstrap", &first]))
                .await
                .expect("node"),
        );
    }
    for node in &nodes {
        wait_status(node, "the other nodes in the routing table", |s| {
            s.routing_table.len() == n - 1
        })
        .await;
    }
    (dirs, nodes)
}

/// `author`'s feed with `n` posts.
pub fn feed_of(author: &Identity, n: usize) -> Feed {
    let mut feed = Feed::new(author.author());
    for i in 0..n {
        feed.append(
            author,
            &Payload::post(format!("post {i}")),
            kith_net::now_ms(),
        )
        .expect("append");
    }
    feed
}

/// A store following each of `authors` (one's own feed counts as followed).
pub async fn store_following(authors: &[kith_core::AuthorId]) -> MemoryStore {
    use kith_store::Store;
    let store = MemoryStore::new();
    for a in authors {
        store
            .update_meta(a, &|m| m.followed = true)
            .await
            .expect("follow");
    }
    store
}

/// Waits up to 30 s until `node`'s status satisfies `ok`, and returns it.
pub async fn wait_status(
    node: &Node,
    what: &str,
    ok: impl Fn(&kith_node::Status) -> bool,
) -> kith_node::Status {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = node.control.status().await.expect("status");
        if ok(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{}: timed out waiting for {what}: {status:?}",
            node.peer_id
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node's WebSocket address, ending in `/p2p/<node id>`.
pub fn node_ws(node: &Node) -> String {
    node.addrs()
        .into_iter()
        .find(|a| a.contains("/ws/"))
        .expect("a websocket address")
}

/// A kith-node child process, killed when dropped (resumed first, in case it was frozen).
pub struct NodeProc(pub std::process::Child);

impl Drop for NodeProc {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let kill = |signal: &str| {
            std::process::Command::new("kill")
                .args([signal, &pid])
                .status()
        };
        let _ = kill("-CONT");
        let _ = kill("-KILL");
        let _ = self.0.wait();
    }
}

/// Starts the kith-node binary `bin` serving a one-page app from `dir` (its key and
/// certificate there too): HTTP on 127.0.0.1:`http`, WebSocket on `ws` and WebRTC-direct on
/// `ws + 1`, joined to `bootstrap` if given. Logs errors only; its stdout is discarded.
pub fn spawn_node(bin: &str, dir: &Path, http: u16, ws: u16, bootstrap: Option<&str>) -> NodeProc {
    std::fs::create_dir_all(dir.join("dist")).expect("dir");
    std::fs::write(dir.join("dist/index.html"), "<!doctype html>").expect("index");
    let mut c = std::process::Command::new(bin);
    c.args(["--http", &format!("127.0.0.1:{http}")])
        .args(["--ws-port", &ws.to_string()])
        .args(["--webrtc-port", &(ws + 1).to_string()])
        .arg("--key-file")
        .arg(dir.join("key"))
        .arg("--cert-file")
        .arg(dir.join("cert.pem"))
        .arg("--dist")
        .arg(dir.join("dist"))
        .env("KITH_LOG", "error")
        .stdout(std::process::Stdio::null());
    if let Some(b) = bootstrap {
        c.args(["--bootstrap", b]);
    }
    NodeProc(c.spawn().expect("start kith-node"))
}

/// The `/bootstrap.json` of the node serving HTTP at `http` (a child process), polled until
/// it answers (10 s at most).
pub async fn fetch_doc(http: &str) -> kith_core::BootstrapDoc {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..100 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(http).await {
            let req = format!(
                "GET /bootstrap.json HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n"
            );
            let _ = s.write_all(req.as_bytes()).await;
            let mut out = String::new();
            let _ = s.read_to_string(&mut out).await;
            if let Some(body) = out.split("\r\n\r\n").nth(1)
                && let Ok(doc) = kith_core::BootstrapDoc::parse(body.as_bytes())
            {
                return doc;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kith-node did not come up at {http}");
}

/// A bare HTTP/1.1 GET; returns the status line, headers and body as one string.
pub async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    get_with(addr, path, "").await
}

/// [`get`] with `extra` header lines (each ending in `\r\n`).
pub async fn get_with(addr: std::net::SocketAddr, path: &str, extra: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

/// The value of the counter `name` (with its labels) in Prometheus' text format.
pub fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in {text}"))
}

use kith_core::{Feed, Identity, Payload, VerifiedEntry};
use tokio::time::{Instant, timeout};

/// Waits up to `d` for an entry with `hash` on `rx`.
pub async fn receive(rx: &mut UnboundedReceiver<Event>, want: &VerifiedEntry, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    while let Ok(Some(e)) = timeout(
        deadline.saturating_duration_since(Instant::now()),
        rx.recv(),
    )
    .await
    {
        if let Event::Entry { entry, .. } = e
            && entry.hash() == want.hash()
        {
            return true;
        }
    }
    false
}

/// Posts until one arrives at `rx` (the mesh forms within a few heartbeats); returns the feed.
pub async fn post_until_delivered(
    author: &Identity,
    a: &Client,
    rx: &mut UnboundedReceiver<Event>,
) -> Feed {
    let mut feed = Feed::new(author.author());
    let start = Instant::now();
    loop {
        let i = feed.head_seq();
        let e = feed
            .append(
                author,
                &Payload::post(format!("live {i}")),
                kith_net::now_ms(),
            )
            .expect("append")
            .clone();
        // Until the node's subscriptions are known, publishing has no peers: try again.
        let _ = a.publish(&e).await;
        if receive(rx, &e, Duration::from_millis(400)).await {
            return feed;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no entry delivered within 20 s"
        );
    }
}

/// Posts each of `texts` to `feed` from `a`, one at a time, each awaited at `rx` for up to
/// `wait` (the mesh must stand: see [`post_until_delivered`]).
pub async fn deliver_each(
    author: &Identity,
    feed: &mut Feed,
    a: &Client,
    rx: &mut UnboundedReceiver<Event>,
    texts: impl IntoIterator<Item = String>,
    wait: Duration,
) {
    for text in texts {
        let e = feed
            .append(author, &Payload::post(text.clone()), kith_net::now_ms())
            .expect("append")
            .clone();
        a.publish(&e).await.expect("publish");
        assert!(receive(rx, &e, wait).await, "{text:?} not delivered");
    }
}

use std::rc::Rc;

use kith_net::replica::Replica;
use kith_net::{Multiaddr, PeerId};
use kith_store::MemoryStore;

/// Serves sync requests from `replica` until the events end; other events are dropped.
pub fn serve(replica: Rc<Replica<MemoryStore>>, mut events: UnboundedReceiver<Event>) {
    tokio::task::spawn_local(async move {
        while let Some(e) = events.recv().await {
            if let Event::SyncRequest { id, peer, message } = e {
                // As the agent answers: a blocked person's request is refused.
                let _ = replica.answer(id, peer, message).await;
            }
        }
    });
}

/// A peer reachable through the node's relay: returns its client, replica and peer id.
pub async fn relayed_peer(
    node: &Node,
    key: Keypair,
    store: MemoryStore,
) -> (Client, Rc<Replica<MemoryStore>>, PeerId) {
    let peer = key.public().to_peer_id();
    let (client, events) = client_with(node, key).await;
    let relay: Multiaddr = node_ws(node).parse().expect("addr");
    client
        .listen_via_relay(relay)
        .await
        .expect("relay reservation");
    let replica = Rc::new(Replica::new(client.clone(), store));
    serve(replica.clone(), events);
    (client, replica, peer)
}
