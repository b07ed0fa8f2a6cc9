//! This tab's libp2p node: where kith-node is (its bootstrap document, fetched until it
//! answers), and the node and kith-net agent started over the app's store as the app's
//! network. The agent's reports come back on a bounded queue for the runtime to read.

use std::rc::Rc;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use kith_app::{App, Network};
use kith_core::Backoff;
use kith_core::bootstrap::{BootstrapDoc, KnownNodes};
use kith_net::agent::{Agent, AgentEvent};
use kith_net::{AgentNetwork, Config, NodePlan, TransportKind, platform};
use kith_store::Store;
use kith_store::idb::IdbStore;

use crate::browser;
use crate::tabs::TabStatus;

/// How many agent reports may wait for the runtime. A full queue drops a report; the next
/// one for the feed re-reads the store from the library's head, so nothing is lost for good.
pub const REPORT_QUEUE: usize = 1024;

/// The setting that holds the kith-nodes this browser has learned of ([`KnownNodes`]).
pub const KNOWN_NODES: &str = "kith-nodes";

/// Fetches `/bootstrap.json` until it names a node this tab can dial, saying how it goes; a
/// message on `retry` cuts a wait short. Every document read teaches the store the node and
/// the other kith-nodes it names ([`KNOWN_NODES`]). When the node that served the page does
/// not answer (the page itself came from the service worker), the other nodes remembered
/// are tried instead, one per attempt. Returns the plan for the node chosen and plans for the
/// other remembered nodes (the agent's standby and next candidates), from one read of them.
pub async fn bootstrap(
    store: &Rc<IdbStore>,
    retry: &mut mpsc::Receiver<()>,
    status: &dyn Fn(TabStatus),
) -> (NodePlan, Vec<NodePlan>) {
    let only = browser::transport_from_url();
    let mut backoff = Backoff::APP_DEFAULT;
    loop {
        let attempt = backoff.attempt();
        status(TabStatus::Connecting {
            attempt: attempt + 1,
        });
        let reason = match browser::fetch_bootstrap().await {
            Ok(doc) => {
                let nodes = learn(store, &doc).await;
                match kith_net::node_plan(&doc, only) {
                    Ok(plan) => {
                        let others = plans_besides(&nodes, &plan.peer.to_string(), only);
                        return (plan, others);
                    }
                    Err(e) => e.to_string(),
                }
            }
            Err(reason) => {
                if let Some((plan, others)) = remembered(store, attempt, only).await {
                    tracing::info!(
                        "the page's kith-node is away ({reason}); trying {}",
                        plan.peer
                    );
                    return (plan, others);
                }
                reason
            }
        };
        let delay = backoff.next_delay(browser::random_unit());
        status(TabStatus::Offline {
            reason,
            retry_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        });
        let mut sleep = Box::pin(platform::sleep(delay).fuse());
        futures::select! {
            () = sleep => {}
            _ = retry.next() => {}
        }
    }
}

async fn known(store: &Rc<IdbStore>) -> KnownNodes {
    match store.get_setting(KNOWN_NODES).await {
        Ok(Some(bytes)) => KnownNodes::decode(&bytes),
        _ => KnownNodes::default(),
    }
}

/// Keeps what `doc` says about kith-nodes; returns the nodes now known.
async fn learn(store: &Rc<IdbStore>, doc: &BootstrapDoc) -> KnownNodes {
    let mut nodes = known(store).await;
    if nodes.learn(doc)
        && let Err(e) = store.put_setting(KNOWN_NODES, &nodes.encode()).await
    {
        tracing::warn!("remembering kith-nodes: {e}");
    }
    nodes
}

/// Plans for the known nodes other than `peer`, in the order known, keeping those this tab
/// can dial.
fn plans_besides(nodes: &KnownNodes, peer: &str, only: Option<TransportKind>) -> Vec<NodePlan> {
    nodes
        .nodes()
        .iter()
        .filter(|n| n.peer_id != peer)
        .filter_map(|n| kith_net::node_plan(&BootstrapDoc::of(n), only).ok())
        .collect()
}

/// A plan for one of the remembered nodes other than the page's own (the first, the one that
/// served the last document read), taking them in turn by `attempt`, and plans for the others.
async fn remembered(
    store: &Rc<IdbStore>,
    attempt: u32,
    only: Option<TransportKind>,
) -> Option<(NodePlan, Vec<NodePlan>)> {
    let nodes = known(store).await;
    let first = nodes.nodes().first()?.peer_id.clone();
    let candidates = plans_besides(&nodes, &first, only);
    let pick = usize::try_from(attempt).unwrap_or(0) % candidates.len().max(1);
    let plan = candidates.into_iter().nth(pick)?;
    let others = plans_besides(&nodes, &plan.peer.to_string(), only);
    Some((plan, others))
}

/// This device's peer id, if its node has run before (the node lock's holder makes the key).
pub async fn stored_peer(store: &Rc<IdbStore>) -> Option<String> {
    let secret = kith_app::device_secret(store, None).await.ok()??;
    let peer = kith_net::identity::device_keypair(secret)
        .public()
        .to_peer_id();
    Some(peer.to_string())
}

/// Starts the node under this device's network key (made the first time), saying in identify
/// and the DHT that it is the person's device, and runs the agent over the app's store.
/// Returns the app's network, the agent's reports and this node's peer id; `retry` ends the
/// agent's reconnect waits early (`retry_tx` is its sending end, for "Retry now").
pub async fn start(
    app: &Rc<App<Rc<IdbStore>>>,
    plan: NodePlan,
    others: Vec<NodePlan>,
    retry_tx: mpsc::Sender<()>,
    retry: mpsc::Receiver<()>,
) -> Result<(Rc<dyn Network>, mpsc::Receiver<AgentEvent>, String), String> {
    let device = kith_net::identity::device_keypair(app.device_key().await?);
    let me = device.public().to_peer_id();
    let mut config = Config {
        device: kith_net::identity::device_claim(app.identity(), &me),
        ..Config::default()
    };
    if browser::direct_off_in_url() {
        // No direct connection is made or kept: everything goes through kith-node.
        config.direct.max_direct = 0;
    }
    let (client, events, event_loop) = kith_net::new(device, config)
        .map_err(|e| format!("The network could not start in this browser: {e}"))?;
    platform::spawn(event_loop.run());
    // The other kith-nodes remembered (`others`): a standby while this one is up, and the next
    // to go online through when it goes.
    let agent = Agent::new(client, app.store().clone(), plan.peer, plan.main)
        .with_fallback(plan.fallback)
        .with_other_nodes(others);
    // The person's own feed has no cap (the caps are on other people's feeds).
    agent.replica().set_own(app.me());
    // Letters to the person are opened with their key.
    agent.set_identity(app.shared_identity());
    // Search queries from the network are answered from the posts this browser holds.
    let weak = Rc::downgrade(app);
    agent.set_searcher(Rc::new(move |words: &str, limit: usize| {
        weak.upgrade()
            .map(|a| a.library().search_entries(words, limit))
            .unwrap_or_default()
    }));
    let net: Rc<dyn Network> = Rc::new(AgentNetwork::new(agent.clone(), retry_tx));
    let (reports, report_rx) = mpsc::channel::<AgentEvent>(REPORT_QUEUE);
    // One event path: the agent reads the node's events and reports connection news too.
    platform::spawn_local(agent.run_with(events, retry, move |e| {
        let _ = reports.clone().try_send(e);
    }));
    Ok((net, report_rx, me.to_string()))
}
