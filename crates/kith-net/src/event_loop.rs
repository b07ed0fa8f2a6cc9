//! The task that owns the swarm: it executes [`Client`](crate::Client) commands and turns
//! swarm events into [`Event`]s.

use std::collections::HashMap;

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{PeerId, Swarm, gossipsub, identify, kad, ping};

use crate::behaviour::{BehaviourEvent, learn_dht_peer};
use crate::client::{Command, Connected};
use crate::{Behaviour, Event, NetError, TransportKind};

/// The node's event loop. Spawn [`EventLoop::run`]; it ends when every `Client` is dropped.
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    pending_dials: HashMap<ConnectionId, (PeerId, oneshot::Sender<Result<Connected, NetError>>)>,
    pending_bootstrap: HashMap<kad::QueryId, oneshot::Sender<Result<(), NetError>>>,
}

impl EventLoop {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
    ) -> Self {
        EventLoop {
            swarm,
            commands,
            events,
            pending_dials: HashMap::new(),
            pending_bootstrap: HashMap::new(),
        }
    }

    /// Drives the node until every [`Client`](crate::Client) is dropped.
    pub async fn run(mut self) {
        loop {
            futures::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event).await,
                command = self.commands.next() => match command {
                    Some(c) => self.on_command(c),
                    None => return,
                },
            }
        }
    }

    async fn emit(&mut self, event: Event) {
        // Bounded: when the consumer falls behind, the loop waits rather than buffering
        // without limit. A consumer that went away is not an error for the node.
        let _ = self.events.send(event).await;
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { peer, addrs, reply } => {
                let opts = DialOpts::peer_id(peer)
                    .addresses(addrs)
                    .condition(PeerCondition::Always)
                    .build();
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
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
                    self.pending_bootstrap.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(NetError::Bootstrap(format!(
                        "{e}: no Kademlia server is known yet"
                    ))));
                }
            },
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
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
                let topic = crate::gossip::topic_for(&author);
                let r = self.swarm.behaviour_mut().gossipsub.subscribe(&topic);
                let _ = reply.send(r.map(|_| ()).map_err(|e| NetError::Publish(e.to_string())));
            }
            Command::Publish {
                author,
                bytes,
                reply,
            } => {
                let topic = crate::gossip::topic_for(&author);
                let r = self.swarm.behaviour_mut().gossipsub.publish(topic, bytes);
                let _ = reply.send(r.map(|_| ()).map_err(|e| NetError::Publish(e.to_string())));
            }
        }
    }

    async fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let address = endpoint.get_remote_address().clone();
                let transport = TransportKind::of(&address);
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
                })
                .await;
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                self.emit(Event::Disconnected {
                    peer: peer_id,
                    remaining: num_established,
                    cause: cause.map(|c| c.to_string()),
                })
                .await;
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
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
                Ok(rtt) => self.emit(Event::Ping { peer, rtt }).await,
                Err(e) => {
                    // A peer that stops answering pings is gone; close the connection so the
                    // app sees the truth instead of a silent, dead link.
                    self.swarm.close_connection(connection);
                    self.emit(Event::PingFailed {
                        peer,
                        error: e.to_string(),
                    })
                    .await;
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                learn_dht_peer(&mut self.swarm.behaviour_mut().kad, &peer_id, info);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad_event(event).await,
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source: from,
                message_id,
                message,
            })) => {
                let verdict = kith_core::validate_detached(&message.data, crate::now_ms());
                let acceptance = match &verdict {
                    Ok(e) if crate::gossip::topic_for(&e.author()).hash() == message.topic => {
                        gossipsub::MessageAcceptance::Accept
                    }
                    _ => gossipsub::MessageAcceptance::Reject,
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &from, acceptance);
                match verdict {
                    Ok(entry) if acceptance == gossipsub::MessageAcceptance::Accept => {
                        self.emit(Event::Entry {
                            from,
                            entry: Box::new(entry),
                        })
                        .await;
                    }
                    Ok(_) => {
                        let reason = "entry published on another author's topic".to_owned();
                        self.emit(Event::InvalidEntry { from, reason }).await;
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        self.emit(Event::InvalidEntry { from, reason }).await;
                    }
                }
            }
            _ => {}
        }
    }

    async fn on_kad_event(&mut self, event: kad::Event) {
        match event {
            kad::Event::RoutingUpdated { peer, .. } => {
                self.emit(Event::RoutingUpdated { peer }).await;
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
            _ => {}
        }
    }
}
