//! The gossip flood scenario, shared by the test (`tests/flood.rs`) and the network bench
//! (`examples/bench_net.rs`): a person's node keeps answering commands and finishes a sync
//! while a peer floods the shard it subscribes to.
//!
//! Alice holds her feed of [`HISTORY`] entries and serves it. Bob follows her: when his agent
//! comes online it syncs her feed. At the same moment Mallory publishes [`FLOOD`] valid
//! entries of her own feed, whose shard is Alice's, through kith-node (which verifies and
//! forwards every one), as fast as her gossipsub takes them. Meanwhile Bob's node is asked a
//! command every [`PROBE_EVERY`] (alternately `connected_peers` and `publish`), and each round
//! trip is timed. Then Alice posts once more, live, and Bob must store it.
#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kith_core::{BootstrapDoc, Feed, Identity, Payload, VerifiedEntry};
use kith_net::agent::{Agent, AgentEvent};
use kith_net::identity::keypair_of;
use kith_net::{Client, Config, NetStats, TransportKind, dial_plan};
use kith_store::{MemoryStore, Store};

/// Entries in Alice's feed that Bob syncs during the flood.
pub const HISTORY: u64 = 3_000;
/// Gossip messages Mallory publishes.
pub const FLOOD: u64 = 20_000;
/// How often Bob's node is asked a command during the flood.
pub const PROBE_EVERY: Duration = Duration::from_millis(20);
/// The longest any one step may take before the scenario fails (a frozen node never answers;
/// this is a liveness bound, not a timing expectation).
pub const STUCK: Duration = Duration::from_secs(60);

/// What the scenario saw.
#[derive(Debug)]
pub struct Flood {
    /// Round trips of Bob's commands during the flood, in ms.
    pub command_ms: Vec<f64>,
    /// Commands that failed (a publish nobody hears counts as answered, not failed).
    pub failed_commands: usize,
    /// Mallory's publishes that gossipsub took.
    pub published: u64,
    /// Bob's node's counters at the end.
    pub stats: NetStats,
    /// Alice's entries in Bob's store when the sync finished.
    pub synced: u64,
    /// From Bob online to the sync's end.
    pub sync_ms: f64,
    /// Whether Alice's post after the flood reached Bob's store live.
    pub live_after: bool,
}

type Log = Rc<RefCell<Vec<AgentEvent>>>;

pub fn config() -> Config {
    Config {
        gossip_heartbeat: Duration::from_millis(200),
        ..Config::default()
    }
}

fn agent(
    doc: &BootstrapDoc,
    id: &Identity,
    store: MemoryStore,
) -> (Client, Agent<MemoryStore>, Log) {
    let (client, events, event_loop) = kith_net::new(keypair_of(id), config()).expect("client");
    tokio::spawn(event_loop.run());
    let (peer, addrs) = dial_plan(doc, Some(TransportKind::WebSocket)).expect("plan");
    let agent = Agent::new(client.clone(), store, peer, addrs);
    let log: Log = Rc::default();
    let sink = log.clone();
    tokio::task::spawn_local(
        agent
            .clone()
            .run(events, move |e| sink.borrow_mut().push(e)),
    );
    (client, agent, log)
}

async fn until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + STUCK;
    while !ok().await {
        assert!(Instant::now() < deadline, "stuck waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn online(log: &Log) -> bool {
    log.borrow()
        .iter()
        .any(|e| matches!(e, AgentEvent::Online { .. }))
}

/// An identity whose feed shares `author`'s gossip shard.
pub fn same_shard(of: &Identity) -> Identity {
    let shard = kith_net::gossip::shard_of(&of.author());
    (0u32..)
        .map(|n| {
            let mut secret = [9u8; 32];
            secret[..4].copy_from_slice(&n.to_le_bytes());
            Identity::from_secret(secret)
        })
        .find(|id| id.author() != of.author() && kith_net::gossip::shard_of(&id.author()) == shard)
        .expect("some key lands on every shard")
}

pub fn feed(id: &Identity, n: u64, start_ms: u64) -> Vec<VerifiedEntry> {
    let mut f = Feed::new(id.author());
    for i in 0..n {
        f.append(id, &Payload::post(format!("entry {i}")), start_ms + i)
            .expect("append");
    }
    f.entries().to_vec()
}

/// Runs the scenario against the kith-node described by `doc`. Call inside a `LocalSet`.
pub async fn run(doc: &BootstrapDoc) -> Flood {
    let (alice, bob) = (
        Identity::from_secret([7; 32]),
        Identity::from_secret([8; 32]),
    );
    let mallory = same_shard(&alice);
    let past = kith_net::now_ms() - 200_000_000;
    let history = feed(&alice, HISTORY, past);
    let flood = feed(&mallory, FLOOD, past);

    let a_store = MemoryStore::new();
    a_store.insert(&history).await.expect("alice's feed");
    a_store
        .update_meta(&alice.author(), &|m| m.followed = true)
        .await
        .expect("own feed");
    let (_a, a_agent, a_log) = agent(doc, &alice, a_store.clone());
    until("alice online", async || online(&a_log)).await;

    // Mallory: a plain node, connected before Bob so the flood starts at once.
    let (m, m_events, m_loop) = kith_net::new(keypair_of(&mallory), config()).expect("client");
    tokio::spawn(m_loop.run());
    drop(m_events);
    let (node, addrs) = dial_plan(doc, Some(TransportKind::WebSocket)).expect("plan");
    m.dial(node, addrs).await.expect("mallory dials");

    let b_store = MemoryStore::new();
    b_store
        .update_meta(&alice.author(), &|m| m.followed = true)
        .await
        .expect("follow");
    let own = feed(&bob, 1_000, past);
    b_store.insert(&own[..1]).await.expect("bob's feed");
    let (b, _b_agent, b_log) = agent(doc, &bob, b_store.clone());
    until("bob online", async || online(&b_log)).await;
    let online_at = Instant::now();

    // The flood, in a task of its own.
    let flooding = tokio::task::spawn_local(async move {
        // As fast as gossipsub takes them: a full send queue is waited out, not skipped.
        let mut published = 0;
        for e in &flood {
            for _ in 0..1_000 {
                if m.publish(e).await.is_ok() {
                    published += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        published
    });

    // Probe Bob's node until the flood is over and the sync is done.
    let mut command_ms = Vec::new();
    let mut failed_commands = 0;
    let mut sync_ms = None;
    let mut probes = own[1..].iter().cycle();
    let deadline = Instant::now() + STUCK * 2;
    loop {
        assert!(
            Instant::now() < deadline,
            "the flood scenario did not finish"
        );
        let t = Instant::now();
        let answered = if command_ms.len() % 2 == 0 {
            tokio::time::timeout(STUCK, b.connected_peers())
                .await
                .map(|r| r.is_ok())
        } else {
            let e = probes.next().expect("cycle");
            // Nobody listening on Bob's shard is an answer too.
            tokio::time::timeout(STUCK, b.publish(e))
                .await
                .map(|r| !matches!(r, Err(kith_net::NetError::Stopped)))
        };
        let answered = answered.expect("bob's node stopped answering commands during the flood");
        if !answered {
            failed_commands += 1;
        }
        command_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let held = b_store
            .feed(&alice.author())
            .await
            .expect("meta")
            .map_or(0, |m| m.head_seq());
        if sync_ms.is_none() && held == HISTORY {
            sync_ms = Some(online_at.elapsed().as_secs_f64() * 1000.0);
        }
        if sync_ms.is_some() && flooding.is_finished() {
            break;
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
    let published = flooding.await.expect("flood task");
    let synced = b_store
        .feed(&alice.author())
        .await
        .expect("meta")
        .map_or(0, |m| m.head_seq());

    // After the flood: a live post from Alice reaches Bob's store.
    let post = {
        let mut f = Feed::new(alice.author());
        for e in &history {
            f.insert_verified(e.clone()).expect("copy");
        }
        f.append(
            &alice,
            &Payload::post("after the flood"),
            kith_net::now_ms(),
        )
        .expect("append")
        .clone()
    };
    a_store
        .insert(std::slice::from_ref(&post))
        .await
        .expect("store");
    let _ = a_agent.publish(&post).await;
    let mut live_after = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let head = b_store
            .feed(&alice.author())
            .await
            .expect("meta")
            .map_or(0, |m| m.head_seq());
        if head > HISTORY {
            live_after = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = b.stats().await.expect("stats");
    Flood {
        command_ms,
        failed_commands,
        published,
        stats,
        synced,
        sync_ms: sync_ms.unwrap_or(f64::NAN),
        live_after,
    }
}

/// The `p`-quantile (0..=1) of `xs`.
pub fn percentile(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        return f64::NAN;
    }
    let i = ((xs.len() - 1) as f64 * p).round() as usize;
    xs[i]
}
