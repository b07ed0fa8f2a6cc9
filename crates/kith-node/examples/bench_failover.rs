//! Failover figures for `cargo xtask bench`: how long a person's node is without a kith-node
//! when the one it is online through goes. Each round starts two kith-node processes (the
//! binary named by `KITH_NODE_BIN`, on 127.0.0.1 ports 28380-28381 and 29390-29393), node 2
//! joined to node 1, and the agent people run (kith-net's, over a memory store; the browser
//! runs the same code) online through node 1 with node 2 known, and waits until node 2 is its
//! standby. Then node 1 goes, two ways:
//! - `failover_ms`: node 1's process is killed (SIGKILL; the kernel closes its connections),
//!   as when a node crashes or is stopped;
//! - `failover_silent_ms`: node 1's process is frozen (SIGSTOP; its connections stay open and
//!   silent), as when its machine or network vanishes.
//!
//! Each figure is the time from that signal to the agent reporting it is online through
//! node 2; a round in which that never happens within 60 s counts as lost. Prints one JSON
//! object: the median and the worst of each, and the rounds lost.

use std::cell::RefCell;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kith_net::agent::{Agent, AgentEvent};
use kith_net::{Config, Keypair, TransportKind};
use kith_store::MemoryStore;

// The integration tests' helpers.
#[path = "../tests/common/mod.rs"]
mod common;

/// Rounds of each kind.
const ROUNDS: usize = 5;
/// How long a round may take before it counts as lost.
const GIVE_UP: Duration = Duration::from_secs(60);

type Log = Rc<RefCell<Vec<(Instant, AgentEvent)>>>;

async fn wait_for(
    log: &Log,
    within: Duration,
    ok: impl Fn(&AgentEvent) -> bool,
) -> Option<Instant> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Some((at, _)) = log.borrow().iter().find(|(_, e)| ok(e)) {
            return Some(*at);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// One round: the time from `signal` reaching node 1 to the agent online through node 2.
async fn round(bin: &str, signal: &str) -> Option<Duration> {
    let dir = tempfile::tempdir().expect("tempdir");
    let n1 = common::spawn_node(bin, &dir.path().join("node0"), 28380, 29390, None);
    let doc1 = common::fetch_doc("127.0.0.1:28380").await;
    let ws1 = doc1
        .addrs
        .iter()
        .find(|a| a.contains("/ws/"))
        .expect("ws")
        .clone();
    let _n2 = common::spawn_node(bin, &dir.path().join("node1"), 28381, 29392, Some(&ws1));
    let doc2 = common::fetch_doc("127.0.0.1:28381").await;
    let plan1 = kith_net::node_plan(&doc1, Some(TransportKind::WebSocket)).expect("plan");
    let plan2 = kith_net::node_plan(&doc2, Some(TransportKind::WebSocket)).expect("plan");
    let node2 = plan2.peer;

    let (client, events, event_loop) =
        kith_net::new(Keypair::generate_ed25519(), Config::default()).expect("client");
    tokio::spawn(event_loop.run());
    let agent =
        Agent::new(client, MemoryStore::new(), plan1.peer, plan1.main).with_other_nodes([plan2]);
    let log: Log = Rc::default();
    let sink = log.clone();
    let running = tokio::task::spawn_local(agent.run(events, move |e| {
        sink.borrow_mut().push((Instant::now(), e));
    }));
    let standby = wait_for(
        &log,
        GIVE_UP,
        |e| matches!(e, AgentEvent::Standby { node: Some((p, _)) } if *p == node2),
    )
    .await;
    let mut out = None;
    if standby.is_some() {
        let sent = Instant::now();
        let _ = Command::new("kill")
            .args([signal, &n1.0.id().to_string()])
            .status();
        out = wait_for(
            &log,
            GIVE_UP,
            |e| matches!(e, AgentEvent::Online { node, .. } if *node == node2),
        )
        .await
        .map(|at| at.saturating_duration_since(sent));
    }
    running.abort();
    drop(n1);
    out
}

fn figures(
    name: &str,
    rounds: &[Option<Duration>],
    out: &mut serde_json::Map<String, serde_json::Value>,
) {
    let mut ms: Vec<f64> = rounds
        .iter()
        .flatten()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let lost = rounds.len() - ms.len();
    let p50 = ms.get(ms.len() / 2).copied();
    let max = ms.last().copied();
    out.insert(
        format!("{name}_ms_p50"),
        p50.map_or(serde_json::Value::Null, |v| (v.round()).into()),
    );
    out.insert(
        format!("{name}_ms_max"),
        max.map_or(serde_json::Value::Null, |v| (v.round()).into()),
    );
    out.insert(format!("{name}_lost"), lost.into());
}

#[allow(clippy::print_stdout)] // the JSON line on stdout is this program's output
fn main() {
    let bin = std::env::var("KITH_NODE_BIN").expect("KITH_NODE_BIN: the kith-node binary");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let out = local.block_on(&rt, async {
        let mut killed = Vec::new();
        let mut frozen = Vec::new();
        for _ in 0..ROUNDS {
            killed.push(round(&bin, "-KILL").await);
            frozen.push(round(&bin, "-STOP").await);
        }
        let mut out = serde_json::Map::new();
        figures("failover", &killed, &mut out);
        figures("failover_silent", &frozen, &mut out);
        serde_json::Value::Object(out)
    });
    println!("{out}");
}
