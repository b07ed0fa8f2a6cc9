//! The task that owns the swarm: it executes [`Client`](crate::Client) commands and turns
//! swarm events into [`Event`]s.
//!
//! It never waits for the consumer of its events: a slow consumer must not stall the swarm
//! (pings, the relay, sync answers, commands). Events go into a bounded channel
//! ([`EVENT_QUEUE`](crate::EVENT_QUEUE)). When it is full, a live entry is dropped and counted
//! (it reaches the store later through a sync, which a gap triggers), and any other event
//! waits in a bounded overflow ([`EVENT_OVERFLOW`](crate::EVENT_OVERFLOW)) that is flushed, in
//! order, as the consumer makes room; a sync request that cannot be queued is refused (the
//! requester sees it fail and tries another holder). Everything dropped is counted in
//! [`NetStats`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::task::Poll;

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use kith_core::AuthorId;
use kith_core::sync::Message;
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identify, kad, ping};

use crate::behaviour::BehaviourEvent;
use crate::client::{Command, Connected};
use crate::direct::{Links, Verdict};
use crate::{Behaviour, Event, NetError, NetStats, TransportKind};

/// How often the loop does its timed chores (closing circuits a direct connection replaced).
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Where the answer to a command goes.
type Reply<T> = oneshot::Sender<Result<T, NetError>>;

/// The node's event loop. Spawn [`EventLoop::run`]; it ends when every `Client` is dropped.
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    /// Events other than live entries that did not fit in `events`, oldest first.
    overflow: VecDeque<Event>,
    stats: NetStats,
    /// The feeds whose live entries are wanted here (`Client::follow_live`); the rest of a
    /// shard's entries are ignored unverified. Grows only by the app's own follows.
    followed: HashSet<AuthorId>,
    pending_dials: HashMap<ConnectionId, (PeerId, oneshot::Sender<Result<Connected, NetError>>)>,
    pending_bootstrap: HashMap<kad::QueryId, oneshot::Sender<Result<(), NetError>>>,
    pending_requests: HashMap<OutboundRequestId, (PeerId, Reply<Message>)>,
    pending_responses: HashMap<u64, (PeerId, ResponseChannel<Vec<u8>>)>,
    next_response_id: u64,
    /// Notifications sent and not yet answered.
    pending_notifies: HashMap<OutboundRequestId, Reply<crate::notify::Answer>>,
    /// Notifications received and waiting for the agent's answer (at most
    /// [`MAX_PENDING_NOTES`](crate::notify::MAX_PENDING_NOTES)).
    pending_notes: HashMap<u64, ResponseChannel<Vec<u8>>>,
    /// Each sender's rate of notifications.
    throttle: crate::notify::Throttle,
    /// Queries sent and not yet answered.
    pending_asks: HashMap<OutboundRequestId, Reply<crate::search::Hits>>,
    /// Queries received and waiting for the agent's answer.
    pending_queries: HashMap<u64, ResponseChannel<Vec<u8>>>,
    /// Each sender's rate of queries.
    query_throttle: crate::notify::Throttle,
    /// Query ids seen lately.
    seen_queries: crate::search::Seen,
    /// Image requests sent and not yet answered.
    pending_fetches: HashMap<OutboundRequestId, Reply<crate::images::Answer>>,
    /// Image requests received and waiting for the agent's answer (at most
    /// [`MAX_PENDING_IMAGE_ASKS`](crate::images::MAX_PENDING_IMAGE_ASKS)).
    pending_images: HashMap<u64, ResponseChannel<Vec<u8>>>,
    /// Each sender's rate of image requests.
    image_throttle: crate::notify::Throttle,
    /// Reservations asked for: answered by the listener's first address, or by its close
    /// (with any reason: a listener whose relay connection closed ends `Ok`). A relay
    /// listener is never removed from here: libp2p-relay 0.22's client panics ("Relay
    /// connection exist") when a reservation it already asked for is accepted after its
    /// listener was removed, so the relay client alone closes its listeners.
    pending_listens: HashMap<ListenerId, Reply<Multiaddr>>,
    pending_provides: HashMap<kad::QueryId, Reply<()>>,
    pending_puts: HashMap<kad::QueryId, Reply<()>>,
    pending_gets: HashMap<kad::QueryId, Reply<Option<Vec<u8>>>>,
    pending_lookups: HashMap<kad::QueryId, (Vec<PeerId>, Reply<Vec<PeerId>>)>,
    /// The person behind each peer identified lately (bounded; see [`Persons`]).
    persons: Persons,
    /// Every connection's transport, and the direct-connection rules ([`crate::direct`]).
    links: Links,
    /// Connections to kith-nodes and what holds them ([`crate::linger`]).
    node_links: crate::linger::NodeLinks,
    /// Answers handed to the sync protocol and not yet sent, per peer (bounded by the
    /// pending responses they came from).
    answering: HashMap<PeerId, u32>,
}

/// The person behind each of the last [`MAX_PERSONS`](crate::MAX_PERSONS) peers that
/// identified themselves: the oldest is forgotten first.
#[derive(Default)]
pub(crate) struct Persons {
    map: HashMap<PeerId, AuthorId>,
    order: VecDeque<PeerId>,
}

impl Persons {
    pub(crate) fn learn(&mut self, peer: PeerId, person: Option<AuthorId>) {
        let Some(person) = person else {
            // A claim that did not hold also undoes what an earlier one said.
            self.map.remove(&peer);
            return;
        };
        if self.map.insert(peer, person).is_none() {
            self.order.push_back(peer);
        }
        while self.map.len() > crate::MAX_PERSONS {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        // Peers forgotten by a failed claim leave stale order slots; keep them bounded too.
        if self.order.len() > 2 * crate::MAX_PERSONS {
            self.order.retain(|p| self.map.contains_key(p));
        }
    }

    pub(crate) fn of(&self, peer: &PeerId) -> Option<AuthorId> {
        self.map.get(peer).copied()
    }
}

impl EventLoop {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
        direct: crate::direct::Limits,
        node_linger_ms: u64,
    ) -> Self {
        let mut swarm = swarm;
        if crate::platform::LISTENS_WEBRTC
            && let Err(e) = swarm.listen_on(kith_webrtc::addr::listen_addr())
        {
            tracing::warn!("not listening for direct connections: {e}");
        }
        let links = Links::new(*swarm.local_peer_id(), direct);
        EventLoop {
            swarm,
            commands,
            events,
            overflow: VecDeque::new(),
            stats: NetStats::default(),
            followed: HashSet::new(),
            pending_dials: HashMap::new(),
            pending_bootstrap: HashMap::new(),
            pending_requests: HashMap::new(),
            pending_responses: HashMap::new(),
            next_response_id: 0,
            pending_notifies: HashMap::new(),
            pending_notes: HashMap::new(),
            throttle: crate::notify::Throttle::default(),
            pending_asks: HashMap::new(),
            pending_queries: HashMap::new(),
            query_throttle: crate::notify::Throttle::new(
                crate::search::QUERY_BURST,
                crate::search::QUERIES_PER_MINUTE,
            ),
            seen_queries: crate::search::Seen::default(),
            pending_fetches: HashMap::new(),
            pending_images: HashMap::new(),
            image_throttle: crate::notify::Throttle::new(
                crate::images::IMAGE_BURST,
                crate::images::IMAGES_PER_MINUTE,
            ),
            pending_listens: HashMap::new(),
            node_links: crate::linger::NodeLinks::new(node_linger_ms),
            pending_provides: HashMap::new(),
            pending_puts: HashMap::new(),
            pending_gets: HashMap::new(),
            pending_lookups: HashMap::new(),
            persons: Persons::default(),
            links,
            answering: HashMap::new(),
        }
    }

    /// Closes the relayed connections to `peer` that a direct one replaced, once no sync
    /// request or answer with `peer` is in flight (closing would fail it).
    /// `now` skips the wait of [`crate::direct::RETIRE_AFTER_MS`].
    fn retire_relayed(&mut self, peer: PeerId, now: bool) {
        if self.syncing_with(&peer) {
            return;
        }
        let retire = if now {
            self.links.relayed_behind_direct(&peer)
        } else {
            self.links.relayed_to_retire(&peer, crate::now_ms())
        };
        for id in retire {
            self.swarm.close_connection(id);
        }
    }

    /// Whether a sync request or answer with `peer` is in flight.
    fn syncing_with(&self, peer: &PeerId) -> bool {
        self.pending_requests.values().any(|(p, _)| p == peer)
            || self.pending_responses.values().any(|(p, _)| p == peer)
            || self.answering.contains_key(peer)
    }

    /// Closes the relayed connections nothing has used lately (see [`crate::direct`]): a
    /// sync in flight counts as use on every tick, whatever its length; other requests
    /// count when they are sent and when they end.
    fn close_idle_circuits(&mut self) {
        let now = crate::now_ms();
        let syncing: Vec<PeerId> = self
            .pending_requests
            .values()
            .map(|(p, _)| *p)
            .chain(self.pending_responses.values().map(|(p, _)| *p))
            .chain(self.answering.keys().copied())
            .collect();
        for peer in syncing {
            self.links.used(&peer, now);
        }
        for (peer, connection) in self.links.idle_relayed(now) {
            tracing::debug!(%peer, "closing a relayed connection nothing uses");
            self.swarm.close_connection(connection);
        }
    }

    /// Whether this node advertises a `/webrtc` address (it holds a reservation).
    fn advertises_webrtc(&self) -> bool {
        self.swarm
            .external_addresses()
            .any(|a| TransportKind::of(a) == TransportKind::WebRtc)
    }

    /// Dials `peer` directly if the rules of [`crate::direct`] say so.
    fn maybe_go_direct(&mut self, peer: PeerId, advertised: &[Multiaddr]) {
        if !crate::platform::can_dial(TransportKind::WebRtc) {
            return;
        }
        let now = crate::now_ms();
        let we_advertise = self.advertises_webrtc();
        let Some(addr) = self.links.want_direct(peer, advertised, we_advertise, now) else {
            return;
        };
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![addr])
            .condition(PeerCondition::Always)
            .build();
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => self.links.dial_started(peer, id),
            Err(e) => {
                tracing::debug!(%peer, "direct dial not started: {e}");
                self.links.dial_failed(peer, None, now);
            }
        }
    }

    /// Drives the node until every [`Client`](crate::Client) is dropped.
    pub async fn run(mut self) {
        enum Step {
            Swarm(Box<SwarmEvent<BehaviourEvent>>),
            Command(Option<Command>),
            Room,
            Tick,
        }
        let mut tick = Box::pin(crate::platform::sleep(TICK).fuse());
        loop {
            let step = {
                let (events, waiting) = (&mut self.events, !self.overflow.is_empty());
                // Ready when the consumer has made room for the overflow (never otherwise).
                let room = futures::future::poll_fn(|cx: &mut std::task::Context<'_>| {
                    if waiting && events.poll_ready(cx).is_ready() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                });
                futures::select! {
                    event = self.swarm.select_next_some() => Step::Swarm(Box::new(event)),
                    command = self.commands.next() => Step::Command(command),
                    () = room.fuse() => Step::Room,
                    () = tick => Step::Tick,
                }
            };
            match step {
                Step::Swarm(event) => self.on_swarm_event(*event),
                Step::Command(Some(c)) => self.on_command(c),
                Step::Command(None) => return,
                Step::Room => self.flush(),
                Step::Tick => {
                    tick = Box::pin(crate::platform::sleep(TICK).fuse());
                    for peer in self.links.retire_due(crate::now_ms()) {
                        self.retire_relayed(peer, false);
                    }
                    self.close_idle_circuits();
                    self.let_nodes_go();
                }
            }
        }
    }

    /// Closes the connections to kith-nodes that nothing holds any more: neither a relay
    /// listener nor a circuit goes through them, and the DHT has been quiet (see
    /// [`crate::linger`]).
    fn let_nodes_go(&mut self) {
        let now = crate::now_ms();
        let kad = &mut self.swarm.behaviour_mut().kad;
        let busy = !(self.pending_bootstrap.is_empty()
            && self.pending_provides.is_empty()
            && self.pending_puts.is_empty()
            && self.pending_gets.is_empty()
            && self.pending_lookups.is_empty());
        if busy {
            self.node_links.dht_busy(now);
            return;
        }
        let table: HashSet<PeerId> = kad
            .kbuckets()
            .flat_map(|b| b.iter().map(|e| *e.node.key.preimage()).collect::<Vec<_>>())
            .collect();
        for (peer, connection) in self.node_links.to_close(&|p| table.contains(p), now) {
            tracing::debug!(%peer, "closing a connection to a kith-node the DHT no longer uses");
            self.swarm.close_connection(connection);
        }
    }

    /// Hands an event to the consumer without waiting (see the module docs).
    fn emit(&mut self, event: Event) {
        if matches!(event, Event::Entry { .. }) {
            self.stats.live_entries += 1;
        }
        if !self.overflow.is_empty() {
            self.hold(event);
            return;
        }
        match self.events.try_send(event) {
            // Taken, or the consumer went away: nobody to tell, not an error for the node.
            Ok(()) => {}
            Err(e) if e.is_disconnected() => {}
            Err(e) => self.hold(e.into_inner()),
        }
    }

    /// Keeps an event that did not fit, or drops and counts it.
    fn hold(&mut self, event: Event) {
        match event {
            Event::Entry { .. } => self.stats.dropped_entries += 1,
            // A report about a peer's bad data: as cheap for a peer to cause as an entry.
            Event::InvalidEntry { .. } => self.stats.dropped_events += 1,
            Event::Query { id, .. } if self.overflow.len() >= crate::EVENT_OVERFLOW => {
                self.answer_query(id, &crate::search::Hits::default());
                self.stats.throttled_queries += 1;
            }
            Event::ImageRequest { id, .. } if self.overflow.len() >= crate::EVENT_OVERFLOW => {
                self.answer_image(id, &crate::images::Answer::Busy);
                self.stats.throttled_images += 1;
            }
            Event::Note { id, .. } if self.overflow.len() >= crate::EVENT_OVERFLOW => {
                self.answer_note(id, crate::notify::Answer::Later);
                self.stats.throttled_notes += 1;
            }
            Event::SyncRequest { id, .. } if self.overflow.len() >= crate::EVENT_OVERFLOW => {
                // Dropping the response channel fails the peer's request at once.
                self.pending_responses.remove(&id);
                self.stats.dropped_requests += 1;
            }
            _ if self.overflow.len() >= crate::EVENT_OVERFLOW => self.stats.dropped_events += 1,
            other => self.overflow.push_back(other),
        }
    }

    /// Moves waiting events into the channel while it has room.
    fn flush(&mut self) {
        while let Some(event) = self.overflow.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(e) if e.is_disconnected() => {
                    self.overflow.clear();
                    return;
                }
                Err(e) => {
                    self.overflow.push_front(e.into_inner());
                    return;
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial {
                peer,
                addrs,
                reuse,
                reply,
            } => {
                if reuse
                    && let Some((connection, address)) = self.node_links.plain_connection(&peer)
                {
                    self.node_links.want(connection);
                    let transport = TransportKind::of(&address);
                    let _ = reply.send(Ok(Connected {
                        peer,
                        address,
                        transport,
                    }));
                    return;
                }
                let opts = DialOpts::peer_id(peer)
                    .addresses(addrs)
                    .condition(PeerCondition::Always)
                    .build();
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.node_links.want(id);
                        self.pending_dials.insert(id, (peer, reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dial {
                            peer,
                            reason: e.to_string(),
                        }));
                    }
                }
            }
            Command::Bootstrap { reply } => match self.swarm.behaviour_mut().kad.bootstrap() {
                Ok(id) => {
                    self.node_links.dht_busy(crate::now_ms());
                    self.pending_bootstrap.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(NetError::Bootstrap(format!(
                        "{e}: no Kademlia server is known yet"
                    ))));
                }
            },
            Command::GossipReady { peer, reply } => {
                let ready = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .all_peers()
                    .any(|(p, topics)| *p == peer && !topics.is_empty());
                let _ = reply.send(ready);
            }
            Command::PersonOf { peers, reply } => {
                let _ = reply.send(peers.iter().map(|p| self.persons.of(p)).collect());
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::DevicesOf { author, reply } => {
                let devices = self
                    .links
                    .connected()
                    .filter(|p| self.persons.of(p) == Some(author))
                    .copied()
                    .collect();
                let _ = reply.send(devices);
            }
            Command::IsDirect { peer, reply } => {
                let _ = reply.send(self.links.is_direct(&peer));
            }
            Command::ExpectDirect { peer, reply } => {
                let expect = if crate::platform::can_dial(TransportKind::WebRtc) {
                    self.links
                        .expect(&peer, self.advertises_webrtc(), crate::now_ms())
                } else {
                    crate::direct::Expect::No
                };
                let _ = reply.send(expect);
            }
            Command::PreferDirect { peer, reply } => {
                self.retire_relayed(peer, true);
                let _ = reply.send(());
            }
            Command::RoutingTable { reply } => {
                let mut peers = Vec::new();
                for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
                    peers.extend(bucket.iter().map(|e| *e.node.key.preimage()));
                }
                let _ = reply.send(peers);
            }
            Command::Disconnect { peer, reply } => {
                let _ = reply.send(self.swarm.disconnect_peer_id(peer).is_ok());
            }
            Command::Follow { author, reply } => {
                self.followed.insert(author);
                let topic = crate::gossip::topic_for(&author);
                let r = self.swarm.behaviour_mut().gossipsub.subscribe(&topic);
                let _ = reply.send(
                    r.map(|_| ())
                        .map_err(|e| NetError::Subscribe(e.to_string())),
                );
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats);
            }
            Command::Request {
                peer,
                message,
                reply,
            } => match kith_core::sync::encode(&message) {
                Ok(bytes) => {
                    self.links.used(&peer, crate::now_ms());
                    let id = self.swarm.behaviour_mut().sync.send_request(&peer, bytes);
                    self.pending_requests.insert(id, (peer, reply));
                }
                Err(e) => {
                    let reason = e.to_string();
                    let _ = reply.send(Err(NetError::Sync { peer, reason }));
                }
            },
            Command::Respond { id, message } => {
                if let Some((peer, channel)) = self.pending_responses.remove(&id) {
                    // The requester may have gone; nothing to do then.
                    if let Ok(bytes) = kith_core::sync::encode(&message)
                        && self
                            .swarm
                            .behaviour_mut()
                            .sync
                            .send_response(channel, bytes)
                            .is_ok()
                    {
                        // Until `ResponseSent`, a circuit a direct connection replaced stays:
                        // closing it would drop the answer.
                        *self.answering.entry(peer).or_default() += 1;
                    }
                }
            }
            Command::Refuse { id } => {
                // Dropping the channel fails the request on the requester's side.
                self.pending_responses.remove(&id);
            }
            Command::Notify { peer, bytes, reply } => {
                self.links.used(&peer, crate::now_ms());
                let id = self.swarm.behaviour_mut().notify.send_request(&peer, bytes);
                self.pending_notifies.insert(id, reply);
            }
            Command::AnswerNote { id, answer } => self.answer_note(id, answer),
            Command::Ask { peer, query, reply } => {
                // A query this node sends or forwards is one it has seen: coming back round a
                // loop, it is answered with nothing.
                self.seen_queries.first_time(query.id);
                self.links.used(&peer, crate::now_ms());
                let id = self
                    .swarm
                    .behaviour_mut()
                    .search
                    .send_request(&peer, query.encode());
                self.pending_asks.insert(id, reply);
            }
            Command::AnswerQuery { id, hits } => self.answer_query(id, &hits),
            Command::FetchImage { peer, hash, reply } => {
                self.links.used(&peer, crate::now_ms());
                let id = self
                    .swarm
                    .behaviour_mut()
                    .images
                    .send_request(&peer, hash.0.to_vec());
                self.pending_fetches.insert(id, reply);
            }
            Command::AnswerImage { id, answer } => self.answer_image(id, &answer),
            Command::ListenViaRelay { relay, reply } => {
                let relay_peer = relay.iter().find_map(|p| match p {
                    Protocol::P2p(peer) => Some(peer),
                    _ => None,
                });
                match self.swarm.listen_on(relay.with(Protocol::P2pCircuit)) {
                    Ok(id) => {
                        if let Some(peer) = relay_peer {
                            self.node_links.listening(id, peer);
                        }
                        self.pending_listens.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Relay(e.to_string())));
                    }
                }
            }
            Command::Provide { key, reply } => {
                match self.swarm.behaviour_mut().kad.start_providing(key) {
                    Ok(id) => {
                        self.node_links.dht_busy(crate::now_ms());
                        self.pending_provides.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dht(e.to_string())));
                    }
                }
            }
            Command::PutRecord { key, value, reply } => {
                let record = kad::Record::new(key, value);
                match self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .put_record(record, kad::Quorum::One)
                {
                    Ok(id) => {
                        self.node_links.dht_busy(crate::now_ms());
                        self.pending_puts.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dht(e.to_string())));
                    }
                }
            }
            Command::GetRecord { key, reply } => {
                let id = self.swarm.behaviour_mut().kad.get_record(key);
                self.node_links.dht_busy(crate::now_ms());
                self.pending_gets.insert(id, reply);
            }
            Command::FindProviders { key, reply } => {
                let id = self.swarm.behaviour_mut().kad.get_providers(key);
                self.node_links.dht_busy(crate::now_ms());
                self.pending_lookups.insert(id, (Vec::new(), reply));
            }
            Command::Publish {
                author,
                bytes,
                reply,
            } => {
                let topic = crate::gossip::topic_for(&author);
                let r = self.swarm.behaviour_mut().gossipsub.publish(topic, bytes);
                let _ = reply.send(r.map(|_| ()).map_err(|e| NetError::Publish(e.into())));
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        // A request or an answer, either way, is use of the connections to its peer.
        if let SwarmEvent::Behaviour(
            BehaviourEvent::Sync(e)
            | BehaviourEvent::Notify(e)
            | BehaviourEvent::Search(e)
            | BehaviourEvent::Images(e),
        ) = &event
        {
            self.links.used(&request_peer(e), crate::now_ms());
        }
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let address = endpoint.get_remote_address().clone();
                let transport = TransportKind::of_endpoint(&endpoint);
                self.node_links
                    .established(peer_id, connection_id, &endpoint, crate::now_ms());
                if self
                    .links
                    .established(peer_id, connection_id, transport, crate::now_ms())
                    == Verdict::Close
                {
                    tracing::debug!(%peer_id, "closing a direct connection over the cap");
                    self.swarm.close_connection(connection_id);
                    return;
                }
                if transport == TransportKind::WebRtc {
                    self.retire_relayed(peer_id, false);
                }
                if let Some((_, reply)) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Ok(Connected {
                        peer: peer_id,
                        address: address.clone(),
                        transport,
                    }));
                }
                self.emit(Event::Connected {
                    peer: peer_id,
                    address,
                    transport,
                    connections: num_established.get(),
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                let left = self.links.closed(&peer_id, connection_id);
                self.node_links.closed(connection_id);
                self.emit(Event::Disconnected {
                    peer: peer_id,
                    remaining: num_established,
                    cause: cause.map(|c| c.to_string()),
                    left,
                });
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                self.node_links.closed(connection_id);
                if let Some(peer) = self.links.dialing_peer(connection_id) {
                    tracing::debug!(%peer, "direct connection failed, the circuit stays: {error}");
                    self.links
                        .dial_failed(peer, Some(connection_id), crate::now_ms());
                }
                if let Some((peer, reply)) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Err(NetError::Dial {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result,
            })) => match result {
                Ok(rtt) => self.emit(Event::Ping { peer, rtt }),
                Err(e) => {
                    // A peer that stops answering pings is gone; close the connection so the
                    // app sees the truth instead of a silent, dead link.
                    self.swarm.close_connection(connection);
                    self.emit(Event::PingFailed {
                        peer,
                        error: e.to_string(),
                    });
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let person = crate::identity::person_of(&peer_id, &info.agent_version);
                self.persons.learn(peer_id, person);
                let advertised: Vec<Multiaddr> = info
                    .listen_addrs
                    .iter()
                    .take(crate::behaviour::MAX_LISTEN_ADDRS)
                    .cloned()
                    .collect();
                self.maybe_go_direct(peer_id, &advertised);
                self.emit(Event::Identified {
                    peer: peer_id,
                    person,
                });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Notify(event)) => self.on_notify_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Search(event)) => self.on_search_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Images(event)) => self.on_image_event(event),
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                // A relay reservation: peers can reach us directly through it too.
                if crate::platform::LISTENS_WEBRTC
                    && let Some(direct) = kith_webrtc::addr::advertised(&address)
                {
                    self.swarm.add_external_address(direct);
                }
                if let Some(reply) = self.pending_listens.remove(&listener_id) {
                    let _ = reply.send(Ok(address));
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                if let Some(direct) = kith_webrtc::addr::advertised(&address) {
                    self.swarm.remove_external_address(&direct);
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                self.node_links.listener_closed(listener_id);
                if let Some(reply) = self.pending_listens.remove(&listener_id) {
                    let why = match reason {
                        Err(e) => e.to_string(),
                        Ok(()) => {
                            "the connection to the relay closed before the reservation".to_owned()
                        }
                    };
                    let _ = reply.send(Err(NetError::Relay(why)));
                }
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                if let Some(reply) = self.pending_listens.remove(&listener_id) {
                    let _ = reply.send(Err(NetError::Relay(error.to_string())));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source: from,
                message_id,
                message,
            })) => {
                // Everyone on a shard gets every entry on it, most of them of feeds not
                // followed here: those are ignored before their signature is checked (neither
                // kept nor forwarded; this node is a leaf of kith-node's mesh, so nobody
                // misses them). An entry that does not even decode is judged below.
                if let Ok(author) = kith_core::claimed_author(&message.data)
                    && !self.followed.contains(&author)
                {
                    self.stats.ignored_entries += 1;
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &from,
                            gossipsub::MessageAcceptance::Ignore,
                        );
                    return;
                }
                let verdict =
                    crate::gossip::accept_live(&message.data, &message.topic, crate::now_ms());
                let acceptance = match &verdict {
                    Ok(_) => gossipsub::MessageAcceptance::Accept,
                    Err(_) => gossipsub::MessageAcceptance::Reject,
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &from, acceptance);
                match verdict {
                    Ok(entry) => {
                        self.emit(Event::Entry {
                            from,
                            entry: Box::new(entry),
                        });
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        self.emit(Event::InvalidEntry { from, reason });
                    }
                }
            }
            _ => {}
        }
    }

    /// Answers the inbound image request `id` (the asker may have gone: nothing to do then).
    fn answer_image(&mut self, id: u64, answer: &crate::images::Answer) {
        if let Some(channel) = self.pending_images.remove(&id) {
            let _ = self
                .swarm
                .behaviour_mut()
                .images
                .send_response(channel, answer.encode());
        }
    }

    fn on_image_event(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        use crate::images::{Answer, MAX_PENDING_IMAGE_ASKS, decode_request};
        use request_response::{Event as Rr, Message as RrMessage};
        match event {
            Rr::Message {
                peer,
                message:
                    RrMessage::Request {
                        request, channel, ..
                    },
                ..
            } => {
                // The rate first: a flood costs a token lookup, never a store read.
                if !self.image_throttle.allow(peer, crate::now_ms())
                    || self.pending_images.len() >= MAX_PENDING_IMAGE_ASKS
                {
                    self.stats.throttled_images += 1;
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .images
                        .send_response(channel, Answer::Busy.encode());
                    return;
                }
                let hash = match decode_request(&request) {
                    Ok(h) => h,
                    Err(reason) => {
                        // Dropping the channel fails the peer's request.
                        self.emit(Event::InvalidEntry { from: peer, reason });
                        return;
                    }
                };
                let id = self.next_response_id;
                self.next_response_id += 1;
                self.pending_images.insert(id, channel);
                self.emit(Event::ImageRequest { id, peer, hash });
            }
            Rr::Message {
                peer,
                message:
                    RrMessage::Response {
                        request_id,
                        response,
                    },
                ..
            } => settle(
                &mut self.pending_fetches,
                request_id,
                peer,
                "image",
                Ok(response),
                Answer::decode,
            ),
            Rr::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => settle(
                &mut self.pending_fetches,
                request_id,
                peer,
                "image",
                Err(error.to_string()),
                Answer::decode,
            ),
            Rr::ResponseSent { .. } | Rr::InboundFailure { .. } => {}
        }
    }

    /// Answers the inbound query `id` (the asker may have gone: nothing to do then).
    fn answer_query(&mut self, id: u64, hits: &crate::search::Hits) {
        if let Some(channel) = self.pending_queries.remove(&id) {
            let _ = self
                .swarm
                .behaviour_mut()
                .search
                .send_response(channel, hits.encode());
        }
    }

    fn on_search_event(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        use crate::search::{Hits, MAX_PENDING_QUERIES, Query};
        use request_response::{Event as Rr, Message as RrMessage};
        match event {
            Rr::Message {
                peer,
                message:
                    RrMessage::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let empty = Hits::default().encode();
                // The rate first, then the bounds, then whether the query was here before: a
                // query round a loop of peers is answered once by each.
                if !self.query_throttle.allow(peer, crate::now_ms())
                    || self.pending_queries.len() >= MAX_PENDING_QUERIES
                {
                    self.stats.throttled_queries += 1;
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .search
                        .send_response(channel, empty);
                    return;
                }
                let query = match Query::decode(&request) {
                    Ok(q) => q,
                    Err(reason) => {
                        // Dropping the channel fails the peer's request.
                        self.emit(Event::InvalidEntry { from: peer, reason });
                        return;
                    }
                };
                if !self.seen_queries.first_time(query.id) {
                    self.stats.repeated_queries += 1;
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .search
                        .send_response(channel, empty);
                    return;
                }
                self.stats.queries_taken += 1;
                let id = self.next_response_id;
                self.next_response_id += 1;
                self.pending_queries.insert(id, channel);
                self.emit(Event::Query { id, peer, query });
            }
            Rr::Message {
                peer,
                message:
                    RrMessage::Response {
                        request_id,
                        response,
                    },
                ..
            } => settle(
                &mut self.pending_asks,
                request_id,
                peer,
                "search",
                Ok(response),
                Hits::decode,
            ),
            Rr::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => settle(
                &mut self.pending_asks,
                request_id,
                peer,
                "search",
                Err(error.to_string()),
                Hits::decode,
            ),
            Rr::ResponseSent { .. } | Rr::InboundFailure { .. } => {}
        }
    }

    /// Answers the inbound notification `id` (the sender may have gone: nothing to do then).
    fn answer_note(&mut self, id: u64, answer: crate::notify::Answer) {
        if let Some(channel) = self.pending_notes.remove(&id) {
            let _ = self
                .swarm
                .behaviour_mut()
                .notify
                .send_response(channel, vec![answer.to_byte()]);
        }
    }

    fn on_notify_event(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        use crate::notify::{Answer, MAX_PENDING_NOTES};
        use request_response::{Event as Rr, Message as RrMessage};
        match event {
            Rr::Message {
                peer,
                message:
                    RrMessage::Request {
                        request, channel, ..
                    },
                ..
            } => {
                // The rate is checked first: a flood costs the node a token lookup, not a
                // signature check, and never reaches the agent.
                if !self.throttle.allow(peer, crate::now_ms())
                    || self.pending_notes.len() >= MAX_PENDING_NOTES
                {
                    self.stats.throttled_notes += 1;
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .notify
                        .send_response(channel, vec![Answer::Later.to_byte()]);
                    return;
                }
                let id = self.next_response_id;
                self.next_response_id += 1;
                self.pending_notes.insert(id, channel);
                self.emit(Event::Note {
                    id,
                    peer,
                    bytes: request,
                });
            }
            Rr::Message {
                peer,
                message:
                    RrMessage::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending_notifies.remove(&request_id) {
                    let answer = match response.as_slice() {
                        [b] => Answer::from_byte(*b),
                        _ => None,
                    };
                    let _ = reply.send(answer.ok_or_else(|| NetError::Dial {
                        peer,
                        reason: "notification: an answer that is not one".to_owned(),
                    }));
                }
            }
            Rr::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.pending_notifies.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Dial {
                        peer,
                        reason: format!("notification: {error}"),
                    }));
                }
            }
            Rr::ResponseSent { .. } | Rr::InboundFailure { .. } => {}
        }
    }

    fn on_sync_event(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        use request_response::{Event as Rr, Message as RrMessage};
        match event {
            Rr::Message {
                peer,
                message:
                    RrMessage::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let waiting_from_peer = self
                    .pending_responses
                    .values()
                    .filter(|(p, _)| *p == peer)
                    .count();
                if self.pending_responses.len() >= crate::MAX_PENDING_RESPONSES
                    || waiting_from_peer >= crate::MAX_PENDING_RESPONSES_PER_PEER
                {
                    // Over the bound: drop the request; the peer sees it fail.
                    return;
                }
                match kith_core::sync::decode(&request) {
                    Ok(message) => {
                        let id = self.next_response_id;
                        self.next_response_id += 1;
                        self.pending_responses.insert(id, (peer, channel));
                        self.emit(Event::SyncRequest { id, peer, message });
                    }
                    Err(e) => {
                        let reason = format!("sync request: {e}");
                        self.emit(Event::InvalidEntry { from: peer, reason });
                    }
                }
            }
            Rr::Message {
                peer,
                message:
                    RrMessage::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some((_, reply)) = self.pending_requests.remove(&request_id) {
                    let answer = kith_core::sync::decode(&response).map_err(|e| NetError::Sync {
                        peer,
                        reason: e.to_string(),
                    });
                    let _ = reply.send(answer);
                }
                self.retire_relayed(peer, false);
            }
            Rr::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some((_, reply)) = self.pending_requests.remove(&request_id) {
                    let reason = error.to_string();
                    let _ = reply.send(Err(NetError::Sync { peer, reason }));
                }
                self.retire_relayed(peer, false);
            }
            Rr::ResponseSent { peer, .. } | Rr::InboundFailure { peer, .. } => {
                if let Some(n) = self.answering.get_mut(&peer) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.answering.remove(&peer);
                    }
                }
                self.retire_relayed(peer, false);
            }
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        match event {
            kad::Event::RoutingUpdated { peer, .. } => {
                self.emit(Event::RoutingUpdated { peer });
            }
            // A peer that serves the DHT, on a connection this node dialed.
            kad::Event::RoutablePeer { peer, address }
            | kad::Event::PendingRoutablePeer { peer, address }
                if crate::behaviour::admits_dht_peer(&address) =>
            {
                self.swarm.behaviour_mut().kad.add_address(&peer, address);
            }
            kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::Bootstrap(result),
                step,
                ..
            } => {
                let answer = match result {
                    Err(e) => Some(Err(NetError::Bootstrap(e.to_string()))),
                    Ok(_) if step.last => Some(Ok(())),
                    Ok(_) => None,
                };
                if let Some(answer) = answer
                    && let Some(reply) = self.pending_bootstrap.remove(&id)
                {
                    let _ = reply.send(answer);
                }
            }
            kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::StartProviding(result),
                ..
            } => {
                if let Some(reply) = self.pending_provides.remove(&id) {
                    let _ =
                        reply.send(result.map(|_| ()).map_err(|e| NetError::Dht(e.to_string())));
                }
            }
            kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::PutRecord(result),
                ..
            } => {
                if let Some(reply) = self.pending_puts.remove(&id) {
                    let _ =
                        reply.send(result.map(|_| ()).map_err(|e| NetError::Dht(e.to_string())));
                }
            }
            kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::GetRecord(result),
                step,
                ..
            } => match result {
                Ok(kad::GetRecordOk::FoundRecord(peer_record)) => {
                    if let Some(reply) = self.pending_gets.remove(&id) {
                        let _ = reply.send(Ok(Some(peer_record.record.value)));
                        if let Some(mut q) = self.swarm.behaviour_mut().kad.query_mut(&id) {
                            q.finish();
                        }
                    }
                }
                Ok(_) if !step.last => {}
                Ok(_) | Err(kad::GetRecordError::NotFound { .. }) => {
                    if let Some(reply) = self.pending_gets.remove(&id) {
                        let _ = reply.send(Ok(None));
                    }
                }
                Err(e) => {
                    if let Some(reply) = self.pending_gets.remove(&id) {
                        let _ = reply.send(Err(NetError::Dht(e.to_string())));
                    }
                }
            },
            kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::GetProviders(result),
                step,
                ..
            } => {
                // This node itself is never an answer: Kademlia reports the local provider
                // record first (every feed held here is provided), and answering with it
                // alone would hide every other holder.
                let local = *self.swarm.local_peer_id();
                if let Some((found, _)) = self.pending_lookups.get_mut(&id)
                    && let Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) = &result
                {
                    for p in providers {
                        if *p != local && !found.contains(p) {
                            found.push(*p);
                        }
                    }
                }
                let finished = step.last || result.is_err();
                if finished && let Some((found, reply)) = self.pending_lookups.remove(&id) {
                    let answer = if found.is_empty() {
                        result
                            .map(|_| found)
                            .map_err(|e| NetError::Dht(e.to_string()))
                    } else {
                        Ok(found)
                    };
                    let _ = reply.send(answer);
                } else if !finished
                    && self
                        .pending_lookups
                        .get(&id)
                        .is_some_and(|(f, _)| !f.is_empty())
                    && let Some((found, reply)) = self.pending_lookups.remove(&id)
                {
                    // Providers found: answer now rather than wait for the whole query.
                    let _ = reply.send(Ok(found));
                    if let Some(mut q) = self.swarm.behaviour_mut().kad.query_mut(&id) {
                        q.finish();
                    }
                }
            }
            _ => {}
        }
    }
}

/// Settles an outbound request of a request-response protocol (`what` names it in errors):
/// its answer decoded with `decode`, or its failure, to whoever waits for it.
fn settle<T>(
    pending: &mut HashMap<OutboundRequestId, Reply<T>>,
    request_id: OutboundRequestId,
    peer: PeerId,
    what: &str,
    outcome: Result<Vec<u8>, String>,
    decode: impl FnOnce(&[u8]) -> Result<T, String>,
) {
    if let Some(reply) = pending.remove(&request_id) {
        let _ =
            reply.send(
                outcome
                    .and_then(|bytes| decode(&bytes))
                    .map_err(|reason| NetError::Dial {
                        peer,
                        reason: format!("{what}: {reason}"),
                    }),
            );
    }
}

/// The peer a request-response event is about.
fn request_peer<I, O>(event: &request_response::Event<I, O>) -> PeerId {
    match event {
        request_response::Event::Message { peer, .. }
        | request_response::Event::OutboundFailure { peer, .. }
        | request_response::Event::InboundFailure { peer, .. }
        | request_response::Event::ResponseSent { peer, .. } => *peer,
    }
}

#[cfg(test)]
mod tests {
    use super::Persons;
    use kith_core::{AuthorId, Identity};
    use libp2p::PeerId;

    #[test]
    fn persons_stay_bounded_and_a_failed_claim_forgets() {
        let alice: AuthorId = Identity::from_secret([1; 32]).author();
        let mut persons = Persons::default();
        let first = PeerId::random();
        persons.learn(first, Some(alice));
        assert_eq!(persons.of(&first), Some(alice));
        persons.learn(first, None);
        assert_eq!(persons.of(&first), None);
        let peers: Vec<PeerId> = (0..crate::MAX_PERSONS + 10)
            .map(|_| PeerId::random())
            .collect();
        for p in &peers {
            persons.learn(*p, Some(alice));
        }
        assert_eq!(persons.map.len(), crate::MAX_PERSONS);
        assert!(persons.order.len() <= 2 * crate::MAX_PERSONS);
        // The oldest are forgotten first.
        assert_eq!(persons.of(&peers[0]), None);
        assert_eq!(persons.of(&peers[peers.len() - 1]), Some(alice));
    }
}
