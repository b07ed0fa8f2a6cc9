//! Starting the node and the task that owns its swarm.
//!
//! [`Node::start`] checks every input before anything runs (the app directory, the key and
//! certificate files, the HTTP and libp2p ports), so a mistake ends the process with one plain
//! error instead of a half-started node. Then one task owns the swarm and one serves HTTP;
//! [`NodeControl`] asks the swarm task for figures, and [`Node::shutdown`] stops both.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use kith_core::BootstrapDoc;
use kith_net::TransportKind;
use libp2p::core::transport::ListenerId;
use libp2p::metrics::{Metrics, Recorder, Registry};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identify, kad, noise, yamux};
use serde::Serialize;

use crate::behaviour::{Behaviour, BehaviourEvent};
use crate::config::Cli;
use crate::{http, keys};

/// How long the listeners get to come up before start-up fails.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Live figures about the node, served at `/status.json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    /// The node's peer id.
    pub peer_id: String,
    /// The software version.
    pub version: String,
    /// Peers with an open connection.
    pub connected_peers: Vec<String>,
    /// Peers in the Kademlia routing table (other kith-nodes).
    pub routing_table: Vec<String>,
    /// Verified records (name claims) this node holds in the DHT.
    pub dht_records: usize,
    /// Provider records (who holds which feed, who claims which handle) this node holds.
    pub dht_provider_records: usize,
}

enum Command {
    Status(oneshot::Sender<Status>),
}

/// A handle that asks the swarm task for live figures.
#[derive(Clone)]
pub struct NodeControl {
    commands: mpsc::Sender<Command>,
}

impl NodeControl {
    /// The node's current [`Status`].
    pub async fn status(&self) -> Result<Status> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .clone()
            .try_send(Command::Status(tx))
            .map_err(|_| anyhow!("the node is busy or stopped"))?;
        rx.await.map_err(|_| anyhow!("the node stopped"))
    }
}

/// A running node.
pub struct Node {
    /// The node's peer id.
    pub peer_id: PeerId,
    /// The HTTP address actually bound (useful with port 0).
    pub http_addr: SocketAddr,
    /// What `/bootstrap.json` serves.
    pub bootstrap: Arc<RwLock<BootstrapDoc>>,
    /// Asks the swarm task for figures.
    pub control: NodeControl,
    shutdown: Option<oneshot::Sender<()>>,
    swarm_task: tokio::task::JoinHandle<()>,
    http_task: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Checks the inputs, binds every port and starts the node.
    pub async fn start(cli: Cli) -> Result<Node> {
        let index = cli.dist.join("index.html");
        if !index.is_file() {
            bail!(
                "the app is not built: {} not found (run `cargo xtask run`, or point --dist at Trunk's output)",
                index.display()
            );
        }
        let key = keys::load_or_create_identity(&cli.key_file)?;
        let cert = keys::load_or_create_certificate(&cli.cert_file)?;
        let peer_id = key.public().to_peer_id();

        let http_listener = tokio::net::TcpListener::bind(cli.http)
            .await
            .map_err(|e| anyhow!("cannot serve HTTP on {}: {e} (is another kith-node running? choose another with --http)", cli.http))?;
        let http_addr = http_listener
            .local_addr()
            .context("HTTP listener has no address")?;

        let dht_file = crate::persist::path_for(&cli);
        if let Some(dir) = dht_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {} for the DHT file", dir.display()))?;
        }
        let saved = crate::persist::load(&dht_file)?;

        let mut registry = Registry::default();
        let mut swarm = build_swarm(key, cert, &cli, &mut registry).await?;
        let mut rejoin = cli.bootstrap.clone();
        if let Some(saved) = &saved {
            let done = saved.restore(swarm.behaviour_mut().kad.store_mut());
            tracing::info!(
                path = %dht_file.display(),
                records = done.records,
                provider_records = done.providers,
                dropped = done.dropped,
                "DHT read back from disk"
            );
            rejoin.extend(
                saved
                    .node_addrs()
                    .into_iter()
                    .filter(|a| !cli.bootstrap.contains(a)),
            );
        }
        let saved_changes = swarm.behaviour_mut().kad.store_mut().changes();
        let metrics = Metrics::new(&mut registry);
        let listen_addrs = listen(&mut swarm, &cli).await?;
        for addr in &cli.announce {
            swarm.add_external_address(addr.clone());
        }
        for addr in &listen_addrs {
            swarm.add_external_address(addr.clone());
        }

        let bootstrap = Arc::new(RwLock::new(bootstrap_doc(
            peer_id,
            &cli.announce,
            &listen_addrs,
            Vec::new(),
        )));
        join_bootstrap_peers(&mut swarm, &rejoin);

        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let control = NodeControl { commands: cmd_tx };
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let swarm_loop = SwarmLoop {
            swarm,
            strikes: HashMap::new(),
            max_invalid_entries: cli.max_invalid_entries,
            commands: cmd_rx,
            bootstrap: bootstrap.clone(),
            announce: cli.announce.clone(),
            listen_addrs,
            inbound: HashMap::new(),
            metrics,
            kith_nodes: BTreeMap::new(),
            confirming: HashMap::new(),
            dht_file,
            saved_changes,
            saving: None,
            rejoin_at: if rejoin.is_empty() {
                Vec::new()
            } else {
                let now = Instant::now();
                REJOIN_AFTER.iter().rev().map(|d| now + *d).collect()
            },
        };
        let swarm_task = tokio::spawn(swarm_loop.run(shutdown_rx));

        let app = http::router(
            &cli.dist,
            http::HttpState {
                bootstrap: bootstrap.clone(),
                control: control.clone(),
                metrics: Arc::new(registry),
            },
        );
        let http_task = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(http_listener, app).await {
                tracing::error!("HTTP server stopped: {e}");
            }
        });

        Ok(Node {
            peer_id,
            http_addr,
            bootstrap,
            control,
            shutdown: Some(shutdown_tx),
            swarm_task,
            http_task,
        })
    }

    /// The dialable addresses, each ending in `/p2p/<peer id>`.
    pub fn addrs(&self) -> Vec<String> {
        self.bootstrap
            .read()
            .map(|d| d.addrs.clone())
            .unwrap_or_default()
    }

    /// Stops the swarm and the HTTP server.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.swarm_task).await;
        self.http_task.abort();
        let _ = (&mut self.http_task).await;
    }
}

async fn build_swarm(
    key: libp2p::identity::Keypair,
    cert: libp2p_webrtc::tokio::Certificate,
    cli: &Cli,
    registry: &mut Registry,
) -> Result<Swarm<Behaviour>> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| libp2p_webrtc::tokio::Transport::new(key.clone(), cert))
        .context("cannot set up WebRTC")?
        .with_dns()
        .context("cannot set up DNS")?
        .with_websocket(noise::Config::new, yamux::Config::default)
        .await
        .context("cannot set up WebSocket")?
        .with_bandwidth_metrics(registry)
        .with_behaviour(|key| Behaviour::new(key, cli, registry))
        .context("cannot set up the node's protocols")?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    Ok(swarm)
}

fn ip_proto(ip: IpAddr) -> Protocol<'static> {
    match ip {
        IpAddr::V4(v4) => Protocol::Ip4(v4),
        IpAddr::V6(v6) => Protocol::Ip6(v6),
    }
}

/// Starts both listeners and waits until each reports an address, or fails with the reason.
async fn listen(swarm: &mut Swarm<Behaviour>, cli: &Cli) -> Result<Vec<Multiaddr>> {
    let ws = Multiaddr::empty()
        .with(ip_proto(cli.listen_ip))
        .with(Protocol::Tcp(cli.ws_port))
        .with(Protocol::Ws("/".into()));
    let webrtc = Multiaddr::empty()
        .with(ip_proto(cli.listen_ip))
        .with(Protocol::Udp(cli.webrtc_port))
        .with(Protocol::WebRTCDirect);
    let mut waiting: Vec<(ListenerId, Multiaddr, &str)> = Vec::new();
    for (addr, flag) in [(ws, "--ws-port"), (webrtc, "--webrtc-port")] {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| anyhow!("cannot listen on {addr}: {e} (choose another with {flag})"))?;
        waiting.push((id, addr, flag));
    }
    let mut addrs = Vec::new();
    let deadline = tokio::time::sleep(LISTEN_TIMEOUT);
    tokio::pin!(deadline);
    while !waiting.is_empty() {
        let event = tokio::select! {
            e = swarm.select_next_some() => e,
            () = &mut deadline => bail!("listeners did not start within {LISTEN_TIMEOUT:?}"),
        };
        match event {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                waiting.retain(|(id, ..)| *id != listener_id);
                addrs.push(address);
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason: Err(e),
                ..
            }
            | SwarmEvent::ListenerError {
                listener_id,
                error: e,
            } => {
                if let Some((_, addr, flag)) = waiting.iter().find(|(id, ..)| *id == listener_id) {
                    bail!("cannot listen on {addr}: {e} (choose another with {flag})");
                }
            }
            _ => {}
        }
    }
    Ok(addrs)
}

/// The bootstrap document. Announced addresses come first and replace the listen addresses
/// of the same transport (a WebSocket behind a reverse proxy is reached at the proxy, not at
/// 127.0.0.1). An announced WebRTC-direct address without a certhash gets this node's, so an
/// operator only has to name the public IP and port.
fn bootstrap_doc(
    peer_id: PeerId,
    announce: &[Multiaddr],
    listen: &[Multiaddr],
    nodes: Vec<kith_core::bootstrap::NodeAddrs>,
) -> BootstrapDoc {
    let announced_kinds: HashSet<TransportKind> = announce.iter().map(TransportKind::of).collect();
    let certhash = listen
        .iter()
        .flat_map(|a| a.iter())
        .find(|p| matches!(p, Protocol::Certhash(_)))
        .map(|p| p.acquire());
    let announced = announce.iter().map(|a| {
        let lacks_hash = !a.iter().any(|p| matches!(p, Protocol::Certhash(_)));
        match &certhash {
            Some(hash) if TransportKind::of(a) == TransportKind::WebRtcDirect && lacks_hash => {
                a.clone().with(hash.clone())
            }
            _ => a.clone(),
        }
    });
    let kept = listen
        .iter()
        .filter(|a| !announced_kinds.contains(&TransportKind::of(a)))
        .cloned();
    let mut seen = HashSet::new();
    let addrs = announced
        .chain(kept)
        .map(|mut a| {
            if !matches!(a.iter().last(), Some(Protocol::P2p(_))) {
                a.push(Protocol::P2p(peer_id));
            }
            a.to_string()
        })
        .filter(|a| seen.insert(a.clone()))
        .take(kith_core::bootstrap::MAX_ADDRS)
        .collect();
    BootstrapDoc {
        peer_id: peer_id.to_string(),
        addrs,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        nodes,
    }
}

/// Dials the other nodes named with `--bootstrap` and starts a DHT bootstrap through them.
/// An unreachable peer is not fatal: Kademlia retries on its periodic bootstrap.
fn join_bootstrap_peers(swarm: &mut Swarm<Behaviour>, peers: &[Multiaddr]) {
    for addr in peers {
        let Some(Protocol::P2p(peer)) = addr.iter().last() else {
            continue;
        };
        let mut transport_addr = addr.clone();
        transport_addr.pop();
        swarm.behaviour_mut().kad.add_address(&peer, transport_addr);
        if let Err(e) = swarm.dial(addr.clone()) {
            tracing::warn!("cannot dial bootstrap peer {addr}: {e}");
        }
    }
    if !peers.is_empty()
        && let Err(e) = swarm.behaviour_mut().kad.bootstrap()
    {
        tracing::warn!("DHT bootstrap not started: {e}");
    }
}

struct SwarmLoop {
    swarm: Swarm<Behaviour>,
    /// Invalid entries forwarded per connected peer (entries leave with the peer).
    strikes: HashMap<PeerId, u32>,
    /// How many invalid entries a peer may forward before it is disconnected.
    max_invalid_entries: u32,
    commands: mpsc::Receiver<Command>,
    bootstrap: Arc<RwLock<BootstrapDoc>>,
    announce: Vec<Multiaddr>,
    listen_addrs: Vec<Multiaddr>,
    /// Inbound connections per peer, oldest first, with when each came up.
    inbound: HashMap<PeerId, Vec<(ConnectionId, Instant)>>,
    /// libp2p's figures (connections, relay, DHT, identify, ping), served at `/metrics`.
    metrics: Metrics,
    /// Peers that said they serve the DHT, and when the node dialed the addresses they gave
    /// to check (at most [`MAX_CONFIRMING`], each at most once per [`CONFIRM_AGAIN_AFTER`]).
    confirming: HashMap<PeerId, Instant>,
    /// Other kith-nodes (identify says `kith-node/`) and the addresses a browser can dial them
    /// at, at most [`MAX_KITH_NODES`]; `/bootstrap.json` names those in the routing table.
    kith_nodes: BTreeMap<PeerId, Vec<Multiaddr>>,
    /// Where the DHT is kept ([`crate::persist`]).
    dht_file: std::path::PathBuf,
    /// The store's change count at the last snapshot written.
    saved_changes: u64,
    /// The write in progress, if any.
    saving: Option<tokio::task::JoinHandle<()>>,
    /// When to walk the DHT again after joining, latest first ([`REJOIN_AFTER`]).
    rejoin_at: Vec<Instant>,
}

/// When a node that joined others walks the DHT again, after its start: nodes starting
/// together each learn of the others only from a node that already knew them, so the first
/// walk (at start) can miss those that joined a moment later. Kademlia's own periodic walk
/// follows every 5 minutes.
const REJOIN_AFTER: [Duration; 4] = [
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(60),
];

/// Other kith-nodes remembered at most (`/bootstrap.json` names at most
/// [`kith_core::bootstrap::MAX_NODES`] of them).
const MAX_KITH_NODES: usize = 64;

/// Peers checked at once before they may enter the routing table.
const MAX_CONFIRMING: usize = 64;
/// How long a peer that claimed to serve the DHT waits before it is checked again.
const CONFIRM_AGAIN_AFTER: Duration = Duration::from_secs(600);

/// gossipsub's heartbeat on the node.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// A peer's older inbound connection is taken for stale (a reloaded tab, a restarted client)
/// once a new one arrives and the old one is at least this old; a younger one is a dial race
/// the client settles itself.
const STALE_AFTER: Duration = Duration::from_secs(2);

impl SwarmLoop {
    async fn run(mut self, mut shutdown: oneshot::Receiver<()>) {
        // gossipsub's heartbeat is a futures-timer `Delay` that is reset after it fires, and a
        // reset timer fires without waking anyone (the waker was taken by the first firing and
        // is registered again only when the swarm is next polled). On an idle node the
        // heartbeat then never ran again: the message cache never let go of a routed post,
        // and the mesh was never maintained. Polling the swarm a few times a heartbeat keeps
        // it beating (`tests/memory.rs`).
        let mut beat = tokio::time::interval(HEARTBEAT / 4);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut save = tokio::time::interval(crate::persist::SAVE_EVERY);
        save.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                Some(command) = self.commands.next() => self.on_command(command),
                _ = beat.tick() => self.rejoin(),
                _ = save.tick() => self.save_dht(false),
                _ = &mut shutdown => break,
            }
        }
        // The last snapshot, after any write still running.
        if let Some(write) = self.saving.take() {
            let _ = write.await;
        }
        self.save_dht(true);
        if let Some(write) = self.saving.take() {
            let _ = write.await;
        }
    }

    /// Walks the DHT again when the next time in [`REJOIN_AFTER`] has come.
    fn rejoin(&mut self) {
        if self
            .rejoin_at
            .last()
            .is_some_and(|at| *at <= Instant::now())
        {
            self.rejoin_at.pop();
            if let Err(e) = self.swarm.behaviour_mut().kad.bootstrap() {
                tracing::debug!("DHT walk not started: {e}");
            }
        }
    }

    /// The peers of the DHT routing table, with their addresses.
    fn routing_table(&mut self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let mut out = Vec::new();
        for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
            for e in bucket.iter() {
                out.push((
                    *e.node.key.preimage(),
                    e.node.value.iter().cloned().collect(),
                ));
            }
        }
        out
    }

    /// Writes the DHT to disk if it changed since the last write (or `always`, at shutdown)
    /// and no write is running. The swarm task only copies; encoding and writing run on a
    /// blocking thread.
    fn save_dht(&mut self, always: bool) {
        let changes = self.swarm.behaviour_mut().kad.store_mut().changes();
        let running = self.saving.as_ref().is_some_and(|w| !w.is_finished());
        if running || (changes == self.saved_changes && !always) {
            return;
        }
        let nodes = self.routing_table();
        let snapshot =
            crate::persist::Snapshot::take(self.swarm.behaviour_mut().kad.store_mut(), &nodes);
        self.saved_changes = changes;
        let path = self.dht_file.clone();
        self.saving = Some(tokio::task::spawn_blocking(move || {
            let written = snapshot
                .encode()
                .and_then(|bytes| crate::persist::write_atomic(&path, &bytes));
            if let Err(e) = written {
                tracing::error!("the DHT was not saved: {e:#}");
            }
        }));
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Status(reply) => {
                let routing_table = self
                    .routing_table()
                    .into_iter()
                    .map(|(p, _)| p.to_string())
                    .collect();
                let store = self.swarm.behaviour_mut().kad.store_mut();
                let dht_records = {
                    use kad::store::RecordStore;
                    store.records().count()
                };
                let dht_provider_records = store.provider_records();
                let _ = reply.send(Status {
                    dht_records,
                    dht_provider_records,
                    peer_id: self.swarm.local_peer_id().to_string(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    connected_peers: self
                        .swarm
                        .connected_peers()
                        .map(|p| p.to_string())
                        .collect(),
                    routing_table,
                });
            }
        }
    }

    /// A client that comes back (a reloaded tab keeps its key) while its old connection is
    /// still open here would share gossipsub's per-peer queue with a dead link, and gossipsub
    /// announces its subscriptions and grafts its mesh only on a peer's first connection. So
    /// when a peer arrives with an older connection still open, every connection of that peer
    /// is closed: the client's agent reconnects at once and gets a clean first connection.
    fn on_inbound(&mut self, peer: PeerId, id: ConnectionId) {
        let now = Instant::now();
        let conns = self.inbound.entry(peer).or_default();
        let returning = conns
            .iter()
            .any(|(_, at)| now.duration_since(*at) >= STALE_AFTER);
        conns.push((id, now));
        if returning {
            tracing::info!(%peer, "a returning peer: closing its connections for a clean start");
            for (c, _) in std::mem::take(conns) {
                self.swarm.close_connection(c);
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.record(&event);
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!("listening on {address}");
                self.swarm.add_external_address(address.clone());
                self.listen_addrs.push(address);
                self.refresh_bootstrap_doc();
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.swarm.remove_external_address(&address);
                self.listen_addrs.retain(|a| *a != address);
                self.refresh_bootstrap_doc();
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                connection_id,
                ..
            } => {
                tracing::debug!(%peer_id, addr = %endpoint.get_remote_address(), "connection up");
                self.swarm
                    .behaviour_mut()
                    .kad
                    .store_mut()
                    .set_connected(peer_id, true);
                if endpoint.is_listener() {
                    self.on_inbound(peer_id, connection_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                cause,
                num_established,
                connection_id,
                ..
            } => {
                tracing::debug!(%peer_id, ?cause, "connection closed");
                if let Some(conns) = self.inbound.get_mut(&peer_id) {
                    conns.retain(|(c, _)| *c != connection_id);
                    if conns.is_empty() {
                        self.inbound.remove(&peer_id);
                    }
                }
                if num_established == 0 {
                    self.strikes.remove(&peer_id);
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .store_mut()
                        .set_connected(peer_id, false);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source: from,
                message_id,
                message,
            })) => self.route(from, &message_id, &message),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::warn!(?peer_id, "dial failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if let Some(addrs) = kith_net::behaviour::dht_server_addrs(&info) {
                    if info.agent_version.starts_with("kith-node/") {
                        self.note_kith_node(peer_id, &addrs);
                    }
                    self.confirm_dht_peer(peer_id, addrs);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::InboundRequest { request })) => {
                self.filter_inbound(request)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer, ..
            })) => {
                tracing::info!(%peer, "DHT peer joined the routing table");
                if self.kith_nodes.contains_key(&peer) {
                    self.refresh_bootstrap_doc();
                }
            }
            _ => {}
        }
    }

    /// Stores only what verifies: a record must be a signed name claim or device claim stored
    /// under its own key (anything else is dropped); a provider record goes through the
    /// store's policy ([`crate::store`]; Kademlia has already checked that it names the peer
    /// that sent it).
    fn filter_inbound(&mut self, request: kad::InboundRequest) {
        use kad::store::RecordStore;
        match request {
            kad::InboundRequest::PutRecord {
                source,
                record: Some(record),
                ..
            } => {
                let valid = crate::store::verified(&record);
                if !valid {
                    tracing::warn!(%source, "refused a DHT record that does not verify");
                    return;
                }
                if let Err(e) = self.swarm.behaviour_mut().kad.store_mut().put(record) {
                    tracing::warn!("DHT record not stored: {e}");
                }
            }
            kad::InboundRequest::AddProvider {
                record: Some(provider),
            } => {
                let from = provider.provider;
                if let Err(e) = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .store_mut()
                    .add_provider(provider)
                {
                    tracing::debug!(%from, "provider record not stored: {e}");
                }
            }
            _ => {}
        }
    }

    /// Forwards an entry only if it verifies and is on its author's topic; a peer that keeps
    /// sending invalid entries is disconnected. Nothing is stored.
    fn route(&mut self, from: PeerId, id: &gossipsub::MessageId, message: &gossipsub::Message) {
        let now = kith_net::now_ms();
        let valid = kith_net::gossip::accept_live(&message.data, &message.topic, now).is_ok();
        let acceptance = if valid {
            gossipsub::MessageAcceptance::Accept
        } else {
            gossipsub::MessageAcceptance::Reject
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, &from, acceptance);
        if !valid {
            let strikes = self.strikes.entry(from).or_default();
            *strikes += 1;
            tracing::warn!(%from, strikes = *strikes, "rejected an invalid entry");
            if *strikes >= self.max_invalid_entries {
                tracing::warn!(%from, "disconnecting a peer that keeps sending invalid entries");
                let _ = self.swarm.disconnect_peer_id(from);
            }
        }
    }

    /// A peer says it serves Kith's DHT at `addrs`. Saying so is not enough to enter the
    /// routing table (from where the node would hand its addresses to everyone and dial them):
    /// the node dials those addresses, and Kademlia takes the peer in only over that
    /// connection, once the peer there proves its id and speaks the protocol
    /// (`BucketInserts::OnConnected` inserts dialed addresses only). Bounded: at most
    /// [`MAX_CONFIRMING`] checks at once, each peer once per [`CONFIRM_AGAIN_AFTER`].
    fn confirm_dht_peer(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        let now = Instant::now();
        self.confirming
            .retain(|_, at| now.duration_since(*at) < CONFIRM_AGAIN_AFTER);
        let known = self.in_routing_table(peer);
        if known
            || addrs.is_empty()
            || self.confirming.contains_key(&peer)
            || self.confirming.len() >= MAX_CONFIRMING
        {
            return;
        }
        self.confirming.insert(peer, now);
        let dial = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(libp2p::swarm::dial_opts::PeerCondition::Always)
            .build();
        if let Err(e) = self.swarm.dial(dial) {
            tracing::debug!(%peer, "cannot check a DHT peer: {e}");
        }
    }

    /// Counts the event in the node's metrics.
    fn record(&self, event: &SwarmEvent<BehaviourEvent>) {
        self.metrics.record(event);
        if let SwarmEvent::Behaviour(e) = event {
            match e {
                BehaviourEvent::Relay(e) => self.metrics.record(e),
                BehaviourEvent::Identify(e) => self.metrics.record(e),
                BehaviourEvent::Ping(e) => self.metrics.record(e),
                BehaviourEvent::Kad(e) => self.metrics.record(e),
                BehaviourEvent::Gossipsub(e) => self.metrics.record(e),
                BehaviourEvent::Limits(_) => {}
            }
        }
    }

    /// Whether `peer` is in the DHT routing table.
    fn in_routing_table(&mut self, peer: PeerId) -> bool {
        self.swarm
            .behaviour_mut()
            .kad
            .kbucket(peer)
            .is_some_and(|b| b.iter().any(|e| *e.node.key.preimage() == peer))
    }

    /// Remembers another kith-node's browser-dialable addresses (WebSocket, WebRTC-direct),
    /// for `/bootstrap.json` once Kademlia has confirmed it.
    fn note_kith_node(&mut self, peer: PeerId, addrs: &[Multiaddr]) {
        let dialable: Vec<Multiaddr> = addrs
            .iter()
            .filter(|a| {
                matches!(
                    TransportKind::of(a),
                    TransportKind::WebSocket | TransportKind::WebRtcDirect
                )
            })
            .take(kith_core::bootstrap::MAX_NODE_ADDRS)
            .map(|a| {
                let mut a = a.clone();
                if !matches!(a.iter().last(), Some(Protocol::P2p(_))) {
                    a.push(Protocol::P2p(peer));
                }
                a
            })
            .collect();
        if dialable.is_empty()
            || (!self.kith_nodes.contains_key(&peer) && self.kith_nodes.len() >= MAX_KITH_NODES)
        {
            return;
        }
        self.kith_nodes.insert(peer, dialable);
        self.refresh_bootstrap_doc();
    }

    /// The other kith-nodes in the routing table, for `/bootstrap.json`.
    fn known_nodes(&mut self) -> Vec<kith_core::bootstrap::NodeAddrs> {
        let mut nodes = Vec::new();
        let candidates: Vec<(PeerId, Vec<Multiaddr>)> = self
            .kith_nodes
            .iter()
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        for (peer, addrs) in candidates {
            if nodes.len() >= kith_core::bootstrap::MAX_NODES {
                break;
            }
            if self.in_routing_table(peer) {
                nodes.push(kith_core::bootstrap::NodeAddrs {
                    peer_id: peer.to_string(),
                    addrs: addrs.iter().map(ToString::to_string).collect(),
                });
            }
        }
        nodes
    }

    fn refresh_bootstrap_doc(&mut self) {
        let nodes = self.known_nodes();
        let doc = bootstrap_doc(
            *self.swarm.local_peer_id(),
            &self.announce,
            &self.listen_addrs,
            nodes,
        );
        if let Ok(mut d) = self.bootstrap.write() {
            *d = doc;
        }
    }
}
