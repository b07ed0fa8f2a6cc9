//! Scale figures for `cargo xtask bench`: many people on several kith-nodes, on loopback.
//!
//! Starts `KITH_SCALE_NODES` kith-node processes (the binary named by `KITH_NODE_BIN`; default
//! 8; ports from 28500 for HTTP and 29500 for libp2p), the second and later joined to the
//! first, and waits until each has every other in its routing table. Then `KITH_SCALE_CLIENTS`
//! people (default 1,000), each the agent a browser runs (kith-net's, natively, over a memory
//! store): online through node `i % nodes` with the others known (so a standby and a relay
//! reservation on a second node), following the next 10 people, gossip and the DHT in client
//! mode. Measured, once everyone is online:
//! - `lookup_ms_p50`/`_p99`: a provider lookup of a random person's feed by another random
//!   person (across nodes), until it names a holder, one starting every 50 ms however long
//!   the others take; a lookup that names none (within Kademlia's 20 s query timeout)
//!   counts in `lookup_failed`;
//! - `delivery_ms_p50`/`_p99`: 100 people each post once more, live, one every 20 ms, each
//!   on their own (a publish that waits for a gossip peer holds nobody else's back); from
//!   the author's publish to the post stored by each of the 10 followers (everyone posted
//!   once before the start, as onboarding does, so every feed is held and announced); a
//!   post counts as arrived when stored live, or by the sync a gap in the live stream
//!   starts, and only if the follower's store holds it in the end; `delivered_ratio` is the
//!   posts that arrived at every follower within 30 s over those expected, counting the lost;
//! - `follows_held_ratio`: of every person's 10 follows, the share whose first post the person
//!   holds 70 s after everyone is online (synced through the relays, or the holders' own nodes);
//! - `node_rss_kb_per_client`: the nodes' resident memory with everyone online, less the
//!   nodes' memory before anyone came, per person, 70 s after the last came (the circuits
//!   the syncs opened and the connections Kademlia alone opened gone: [`kith_net::direct`],
//!   [`kith_net::linger`]);
//! - `online_s`: how long it took everyone to come online; people arrive at a steady rate,
//!   one every 250 ms (`KITH_SCALE_ARRIVE_MS`, reported as `scale_arrive_ms`), whether or not
//!   those before them are online yet;
//! - `online_again`: how many times people came online again (through another node, or the
//!   same one after losing it) by the time the idle CPU is read: 0 in a network that holds;
//! - `idle_cpu_pct_people` / `idle_cpu_pct_nodes`: the CPU (percent of one core) that
//!   everyone's agents and swarms (this process), and the nodes together, use over 10 s when
//!   nothing is asked of them, 70 s after the last person came online.
//!
//! With `KITH_SCALE_ALSO` set (a smaller number of people, 100 in `cargo xtask bench`), the
//! same run first measures that many people on fresh nodes and reports those figures prefixed
//! `scale<N>_`, so growth is a ratio from one run. Prints one JSON object.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kith_core::{AuthorId, Feed, Identity, Payload, VerifiedEntry};
use kith_net::agent::{Agent, AgentEvent};
use kith_net::identity::keypair_of;
use kith_net::{Config, NodePlan, TransportKind};
use kith_store::{MemoryStore, Store};
use tracing::Instrument as _;

// The integration tests' helpers.
#[path = "../tests/common/mod.rs"]
mod common;
use common::{flood, procmem};

/// Whom each person follows: the next this many.
const FOLLOWS: usize = 10;
/// People who post in the delivery measurement.
const POSTERS: usize = 100;
/// Lookups measured.
const LOOKUPS: usize = 100;
/// How often a lookup starts (20 a second across the network).
const LOOKUP_EVERY: Duration = Duration::from_millis(50);
/// How often someone posts in the delivery measurement (50 posts a second).
const POST_EVERY: Duration = Duration::from_millis(20);
/// How often a person arrives (4 a second), unless `KITH_SCALE_ARRIVE_MS` says otherwise: an
/// open-loop arrival rate, as people open their tabs whether or not the last one is online yet.
const ARRIVE_EVERY: Duration = Duration::from_millis(250);
/// A progress line after every this many arrivals.
const BATCH: usize = 25;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator for picking people (no RNG needed).
struct Pick(u64);
impl Pick {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn start_nodes(bin: &str, dir: &std::path::Path, n: usize) -> Vec<(common::NodeProc, String)> {
    let mut out: Vec<(common::NodeProc, String)> = Vec::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut first_ws: Option<String> = None;
    for i in 0..n {
        let http = format!("127.0.0.1:{}", 28500 + i);
        let ports = (28500 + i as u16, 29500 + 2 * i as u16);
        let d = dir.join(format!("node{i}"));
        let proc = common::spawn_node(bin, &d, ports.0, ports.1, first_ws.as_deref());
        let doc = rt.block_on(common::fetch_doc(&http));
        if first_ws.is_none() {
            first_ws = doc.addrs.iter().find(|a| a.contains("/ws/")).cloned();
        }
        out.push((proc, http));
    }
    // Every node knows every other.
    rt.block_on(async {
        for (_, http) in &out {
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let text = common::get(http.parse().expect("addr"), "/status.json").await;
                let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
                let table = serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["routing_table"].as_array().map(Vec::len))
                    .unwrap_or(0);
                if table + 1 >= n {
                    break;
                }
                assert!(Instant::now() < deadline, "{http}: the DHT did not form");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    out
}

type Log = Rc<RefCell<Vec<(Instant, AgentEvent)>>>;
thread_local! {
    /// The round trips of the pings every person's node made since the last progress line.
    static PING_RTTS: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

struct Person {
    agent: Agent<MemoryStore>,
    store: MemoryStore,
    log: Log,
}

impl Person {
    /// Whether this person has come online (at least once).
    fn online(&self) -> bool {
        self.log
            .borrow()
            .iter()
            .any(|(_, e)| matches!(e, AgentEvent::Online { .. }))
    }
}

/// One measurement with `clients` people on `nodes` nodes.
fn measure(
    bin: &str,
    nodes: usize,
    clients: usize,
    arrive_every: Duration,
) -> BTreeMap<String, serde_json::Value> {
    let dir = tempfile::tempdir().expect("tempdir");
    let procs = start_nodes(bin, dir.path(), nodes);
    let pids: Vec<u32> = procs.iter().map(|(p, _)| p.0.id()).collect();
    let rss = |pids: &[u32]| pids.iter().map(|p| procmem::rss_kb(*p)).sum::<u64>();
    let idle_kb = rss(&pids);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let figures = local.block_on(&rt, async {
        let mut plans = Vec::new();
        for (_, http) in &procs {
            let doc = common::fetch_doc(http).await;
            plans.push(kith_net::node_plan(&doc, Some(TransportKind::WebSocket)).expect("plan"));
        }
        let ids: Vec<Identity> = (0..clients)
            .map(|i| {
                let mut seed = [7u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
                Identity::from_secret(seed)
            })
            .collect();
        // Everyone has posted once before (as the app's onboarding writes a first entry), so
        // each feed is held and announced by its author and, once synced, its followers.
        let mut feeds: Vec<Feed> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let mut feed = Feed::new(id.author());
                feed.append(
                    id,
                    &Payload::post(format!("hello from {i}")),
                    kith_net::now_ms(),
                )
                .expect("append");
                feed
            })
            .collect();
        let started = Instant::now();
        let mut people: Vec<Person> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            tokio::time::sleep_until((started + arrive_every * i as u32).into()).await;
            let store = MemoryStore::new();
            store.insert(feeds[i].entries()).await.expect("own feed");
            let own = std::iter::once(id.author());
            let follows = (1..=FOLLOWS).map(|k| ids[(i + k) % clients].author());
            for a in own.chain(follows) {
                store
                    .update_meta(&a, &|m| m.followed = true)
                    .await
                    .expect("follow");
            }
            let (client, events, event_loop) =
                kith_net::new(keypair_of(id), Config::default()).expect("client");
            // Every log line of this person's swarm and agent names them.
            let span = tracing::info_span!("person", n = i);
            tokio::task::spawn(event_loop.run().instrument(span.clone()));
            let first = &plans[i % nodes];
            let others: Vec<NodePlan> =
                (1..nodes).map(|k| plans[(i + k) % nodes].clone()).collect();
            let agent = Agent::new(client, store.clone(), first.peer, first.main.clone())
                .with_other_nodes(others);
            let log: Log = Rc::default();
            let sink = log.clone();
            tokio::task::spawn_local(agent.clone().run(events, move |e| {
                if let AgentEvent::Link(kith_net::Event::Ping { rtt, .. }) = &e {
                    PING_RTTS.with(|r| r.borrow_mut().push(rtt.as_secs_f64() * 1000.0));
                }
                if matches!(
                    e,
                    AgentEvent::Online { .. }
                        | AgentEvent::Stored { .. }
                        | AgentEvent::Synced { .. }
                        | AgentEvent::Standby { .. }
                        | AgentEvent::Offline { .. }
                        | AgentEvent::Link(kith_net::Event::Disconnected { remaining: 0, .. })
                ) {
                    sink.borrow_mut().push((Instant::now(), e));
                }
            }).instrument(span));
            people.push(Person { agent, store, log });
            if people.len().is_multiple_of(BATCH) {
                // How loaded the network is: how many of those who came are online, and the
                // round trip of every ping since the last line (a ping over 10 s fails and
                // closes its connection).
                let online = people.iter().filter(|p| p.online()).count();
                let mut rtts = PING_RTTS.with(|r| std::mem::take(&mut *r.borrow_mut()));
                progress(&format!(
                    "{} of {clients} came, {online} online after {:.1} s; ping round trips p50 {:.0} ms, p99 {:.0} ms ({} pings)",
                    people.len(),
                    started.elapsed().as_secs_f64(),
                    flood::percentile(&mut rtts, 0.5),
                    flood::percentile(&mut rtts, 0.99),
                    rtts.len()
                ));
            }
        }
        wait_online(&people).await;
        let online_s = started.elapsed().as_secs_f64();
        // Let the announcements and the first syncs settle (the DHT is busy for up to half a
        // minute after the last person comes), then the circuits the syncs opened and the
        // connections the DHT alone opened go (kith_net::direct, kith_net::linger): what
        // follows measures the network as it stays.
        tokio::time::sleep(Duration::from_millis(
            2 * kith_net::linger::LINGER_MS + 10_000,
        ))
        .await;
        let online_kb = rss(&pids);
        // What everyone costs while nothing is asked of them: CPU over 10 s, here (every
        // person's agent and swarm) and in the nodes.
        let cpu = |pids: &[u32]| pids.iter().map(|p| procmem::cpu_ms(*p)).sum::<u64>();
        let me = std::process::id();
        let (here0, nodes0) = (procmem::cpu_ms(me), cpu(&pids));
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (here1, nodes1) = (procmem::cpu_ms(me), cpu(&pids));
        let idle_cpu_pct = |used: u64| used as f64 / 10_000.0 * 100.0;
        let clients_cpu = idle_cpu_pct(here1 - here0);
        let nodes_cpu = idle_cpu_pct(nodes1 - nodes0);
        progress(&format!(
            "idle CPU: people {clients_cpu:.1} %, nodes {nodes_cpu:.1} %"
        ));
        // How many follows hold the followed person's first post by now (the syncs at going
        // online, through the relays of three nodes at most).
        let mut held = 0usize;
        for (i, person) in people.iter().enumerate() {
            for k in 1..=FOLLOWS {
                let whose = ids[(i + k) % clients].author();
                if matches!(person.store.feed(&whose).await, Ok(Some(m)) if m.head_seq() >= 1) {
                    held += 1;
                }
            }
        }
        let follows_held = held as f64 / (clients * FOLLOWS) as f64;
        // Churn: each person should come online once and stay. Why node connections closed
        // (libp2p's cause), for whoever reads the run.
        let node_peers: Vec<_> = plans.iter().map(|p| p.peer).collect();
        let mut online_again = 0usize;
        let mut causes: BTreeMap<String, usize> = BTreeMap::new();
        for person in &people {
            let log = person.log.borrow();
            let onlines = log
                .iter()
                .filter(|(_, e)| matches!(e, AgentEvent::Online { .. }))
                .count();
            online_again += onlines.saturating_sub(1);
            for (_, e) in log.iter() {
                if let AgentEvent::Link(kith_net::Event::Disconnected { peer, cause, .. }) = e
                    && node_peers.contains(peer)
                {
                    *causes
                        .entry(cause.clone().unwrap_or_else(|| "closed here".to_owned()))
                        .or_default() += 1;
                }
            }
        }
        progress(&format!(
            "came online again {online_again} times; node connections closed: {causes:?}"
        ));

        progress("everyone online; lookups");
        // Lookups across nodes.
        let mut pick = Pick(clients as u64);
        let pairs: Vec<(usize, usize)> = (0..LOOKUPS)
            .map(|_| {
                let asker = pick.next(clients);
                // Someone else's feed: a person's own lookup would leave the person out.
                (asker, (asker + 1 + pick.next(clients - 1)) % clients)
            })
            .collect();
        // One lookup every LOOKUP_EVERY, each on its own, as people look each other up: a
        // slow one holds no other back (and is not left out of the figures); each names a
        // holder or none within Kademlia's query timeout (20 s).
        let mut tasks = Vec::new();
        for (asker, whose) in pairs {
            let client = people[asker].agent.client().clone();
            let author = ids[whose].author();
            tasks.push(tokio::task::spawn_local(async move {
                let t = Instant::now();
                let found = client.find_providers(author).await.unwrap_or_default();
                (!found.is_empty()).then(|| t.elapsed().as_secs_f64() * 1000.0)
            }));
            tokio::time::sleep(LOOKUP_EVERY).await;
        }
        let timed: Vec<Option<f64>> = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.expect("a lookup task"))
            .collect();
        let lookup_failed = timed.iter().filter(|t| t.is_none()).count();
        let mut lookup: Vec<f64> = timed.into_iter().flatten().collect();

        progress("live delivery");
        // Live delivery: POSTERS people post once; each of their followers must store it.
        let posters: Vec<usize> = (0..POSTERS.min(clients))
            .map(|k| k * clients / POSTERS.min(clients))
            .collect();
        let mut sent: Vec<(usize, VerifiedEntry, Instant)> = Vec::new();
        // How long each publish took (one that found no gossip peer tries again after
        // kith_net::agent::PUBLISH_RETRY), for the progress line.
        let publish_ms: Rc<RefCell<Vec<f64>>> = Rc::default();
        for &p in &posters {
            let person = &people[p];
            let entry = feeds[p]
                .append(
                    &ids[p],
                    &Payload::post(format!("scale post of {p}")),
                    kith_net::now_ms(),
                )
                .expect("append")
                .clone();
            person
                .store
                .insert(std::slice::from_ref(&entry))
                .await
                .expect("store");
            // Each publishes on their own, as people do: one who waits for a gossip peer
            // (up to 7 s after a reconnection) holds nobody else's post back.
            let t = Instant::now();
            let (agent, post, took) = (person.agent.clone(), entry.clone(), publish_ms.clone());
            tokio::task::spawn_local(async move {
                let _ = agent.publish(&post).await;
                took.borrow_mut().push(t.elapsed().as_secs_f64() * 1000.0);
            });
            sent.push((p, entry, t));
            tokio::time::sleep(POST_EVERY).await;
        }
        let followers_of = |p: usize| (1..=FOLLOWS).map(move |k| (p + clients - k) % clients);
        let deadline = Instant::now() + Duration::from_secs(30);
        // A post arrives live (stored as it came), or by a sync that a gap in the live
        // stream started (a follower that had not synced the feed yet): the first of the two.
        let arrived = |people: &[Person], author: AuthorId, follower: usize, after: Instant| {
            people[follower]
                .log
                .borrow()
                .iter()
                .find_map(|(at, e)| match e {
                    AgentEvent::Stored {
                        author: a, seq: 2, ..
                    } if *a == author => Some(*at),
                    AgentEvent::Synced { author: a, .. } if *a == author && *at >= after => {
                        Some(*at)
                    }
                    _ => None,
                })
        };
        loop {
            let all = sent.iter().all(|(p, e, t)| {
                followers_of(*p).all(|f| arrived(&people, e.author(), f, *t).is_some())
            });
            if all || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        {
            let mut took = publish_ms.borrow_mut();
            let again = took
                .iter()
                .filter(|ms| **ms >= kith_net::agent::PUBLISH_RETRY.as_secs_f64() * 1000.0)
                .count();
            progress(&format!(
                "publishes took p50 {:.0} ms, p99 {:.0} ms; {again} of {} found no gossip peer at first",
                flood::percentile(&mut took, 0.5),
                flood::percentile(&mut took, 0.99),
                took.len()
            ));
        }
        let mut delivery = Vec::new();
        let mut complete = 0usize;
        for (p, e, t) in &sent {
            let mut every = true;
            for f in followers_of(*p) {
                // Counted only if the follower's store holds it in the end.
                let stored = matches!(
                    people[f].store.feed(&e.author()).await,
                    Ok(Some(m)) if m.head_seq() >= 2
                );
                match arrived(&people, e.author(), f, *t) {
                    Some(at) if stored => {
                        delivery.push(at.saturating_duration_since(*t).as_secs_f64() * 1000.0)
                    }
                    _ => every = false,
                }
            }
            complete += usize::from(every);
        }
        let expected = sent.len() * FOLLOWS;
        let mut f = BTreeMap::new();
        let round = |v: f64| (v * 100.0).round() / 100.0;
        f.insert("online_s".into(), round(online_s).into());
        f.insert("online_again".into(), online_again.into());
        f.insert("idle_cpu_pct_people".into(), round(clients_cpu).into());
        f.insert("idle_cpu_pct_nodes".into(), round(nodes_cpu).into());
        f.insert(
            "lookup_ms_p50".into(),
            round(flood::percentile(&mut lookup, 0.5)).into(),
        );
        f.insert(
            "lookup_ms_p99".into(),
            round(flood::percentile(&mut lookup, 0.99)).into(),
        );
        f.insert("lookup_failed".into(), lookup_failed.into());
        f.insert(
            "delivery_ms_p50".into(),
            round(flood::percentile(&mut delivery, 0.5)).into(),
        );
        f.insert(
            "delivery_ms_p99".into(),
            round(flood::percentile(&mut delivery, 0.99)).into(),
        );
        f.insert(
            "delivered_ratio".into(),
            round(delivery.len() as f64 / expected as f64).into(),
        );
        f.insert("posts_complete".into(), complete.into());
        f.insert("follows_held_ratio".into(), round(follows_held).into());
        f.insert(
            "node_rss_kb_per_client".into(),
            round(online_kb.saturating_sub(idle_kb) as f64 / clients as f64).into(),
        );
        f
    });
    drop(procs);
    figures
}

/// A line on stderr about where the bench is (it runs for minutes).
fn progress(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "bench_scale: {what}");
}

async fn wait_online(people: &[Person]) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !people.iter().all(Person::online) {
        assert!(Instant::now() < deadline, "people did not come online");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[allow(clippy::print_stdout)] // the JSON line on stdout is this program's output
fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let bin = std::env::var("KITH_NODE_BIN").expect("KITH_NODE_BIN: the kith-node binary");
    let nodes = env_usize("KITH_SCALE_NODES", 8).max(2);
    let clients = env_usize("KITH_SCALE_CLIENTS", 1000).max(FOLLOWS + 1);
    let arrive_every = std::env::var("KITH_SCALE_ARRIVE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(ARRIVE_EVERY, Duration::from_millis);
    let mut out = serde_json::Map::new();
    out.insert("scale_nodes".into(), nodes.into());
    out.insert("scale_clients".into(), clients.into());
    out.insert(
        "scale_arrive_ms".into(),
        (arrive_every.as_millis() as u64).into(),
    );
    if let Some(small) = std::env::var("KITH_SCALE_ALSO")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        for (k, v) in measure(&bin, nodes, small.max(FOLLOWS + 1), arrive_every) {
            out.insert(format!("scale{small}_{k}"), v);
        }
    }
    for (k, v) in measure(&bin, nodes, clients, arrive_every) {
        out.insert(format!("scale_{k}"), v);
    }
    println!("{}", serde_json::Value::Object(out));
}
