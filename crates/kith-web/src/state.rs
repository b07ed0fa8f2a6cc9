//! View state and the reducer: pure, so it is tested without a node or a DOM.

use std::collections::BTreeMap;
use std::rc::Rc;

use kith_net::{Event, TransportKind};
use yew::Reducible;

/// The connection to kith-node, as the person sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    /// Fetching the node's address or dialing it.
    Connecting {
        /// 1 for the first try, counting up while the node stays unreachable.
        attempt: u32,
    },
    /// Connected to the node.
    Connected {
        /// The node's peer id.
        node: String,
        /// The transport in use.
        transport: TransportKind,
        /// `performance.now()` when the connection came up.
        at_ms: f64,
    },
    /// Not connected; a retry is scheduled.
    Disconnected {
        /// What went wrong, in words.
        reason: String,
        /// How long until the next try.
        retry_in_ms: u64,
    },
}

/// Everything the status view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// This tab's peer id.
    pub local_peer: String,
    /// The connection to kith-node.
    pub conn: Conn,
    /// Connected peers and the transport of their latest connection.
    pub peers: BTreeMap<String, TransportKind>,
    /// The latest ping round trip to the node, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Whether the DHT bootstrap through the node succeeded.
    pub dht: Option<Result<(), String>>,
}

impl Model {
    /// The state at page load.
    pub fn new(local_peer: String) -> Self {
        Model {
            local_peer,
            conn: Conn::Connecting { attempt: 1 },
            peers: BTreeMap::new(),
            rtt_ms: None,
            dht: None,
        }
    }
}

/// Everything that can change the view state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A new attempt to reach the node started.
    Connecting {
        /// The attempt number.
        attempt: u32,
    },
    /// The node is reachable.
    Connected {
        /// Its peer id.
        node: String,
        /// The transport that won.
        transport: TransportKind,
        /// `performance.now()`.
        at_ms: f64,
    },
    /// The node could not be reached, or the connection was lost.
    Disconnected {
        /// Why.
        reason: String,
        /// When the next try is.
        retry_in_ms: u64,
    },
    /// The DHT bootstrap finished.
    Dht(Result<(), String>),
    /// Something the node reported.
    Net(Event),
}

impl Reducible for Model {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Connecting { attempt } => next.conn = Conn::Connecting { attempt },
            Action::Connected {
                node,
                transport,
                at_ms,
            } => {
                next.peers.insert(node.clone(), transport);
                next.conn = Conn::Connected {
                    node,
                    transport,
                    at_ms,
                };
            }
            Action::Disconnected {
                reason,
                retry_in_ms,
            } => {
                next.conn = Conn::Disconnected {
                    reason,
                    retry_in_ms,
                };
                next.rtt_ms = None;
                next.dht = None;
            }
            Action::Dht(result) => next.dht = Some(result),
            Action::Net(Event::Connected {
                peer, transport, ..
            }) => {
                next.peers.insert(peer.to_string(), transport);
            }
            Action::Net(Event::Disconnected {
                peer, remaining: 0, ..
            }) => {
                next.peers.remove(&peer.to_string());
            }
            Action::Net(Event::Ping { peer, rtt }) => {
                if matches!(&next.conn, Conn::Connected { node, .. } if *node == peer.to_string()) {
                    next.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
                }
            }
            Action::Net(_) => return self,
        }
        if next == *self { self } else { Rc::new(next) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_net::PeerId;
    use std::time::Duration;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn reduce(model: Model, actions: Vec<Action>) -> Model {
        let mut m = Rc::new(model);
        for a in actions {
            m = m.reduce(a);
        }
        (*m).clone()
    }

    #[wasm_bindgen_test]
    fn connect_ping_and_lose_the_node() {
        let node = PeerId::random();
        let m = reduce(
            Model::new("me".into()),
            vec![
                Action::Connected {
                    node: node.to_string(),
                    transport: TransportKind::WebSocket,
                    at_ms: 12.0,
                },
                Action::Net(Event::Ping {
                    peer: node,
                    rtt: Duration::from_micros(1500),
                }),
                Action::Dht(Ok(())),
            ],
        );
        assert_eq!(m.rtt_ms, Some(1.5));
        assert_eq!(
            m.peers.get(&node.to_string()),
            Some(&TransportKind::WebSocket)
        );
        let m = reduce(
            m,
            vec![
                Action::Net(Event::Disconnected {
                    peer: node,
                    remaining: 0,
                    cause: None,
                }),
                Action::Disconnected {
                    reason: "connection lost".into(),
                    retry_in_ms: 500,
                },
            ],
        );
        assert!(m.peers.is_empty());
        assert_eq!(m.rtt_ms, None);
        assert_eq!(m.dht, None);
        assert!(matches!(
            m.conn,
            Conn::Disconnected {
                retry_in_ms: 500,
                ..
            }
        ));
    }

    #[wasm_bindgen_test]
    fn pings_from_other_peers_do_not_count_and_unchanged_state_is_reused() {
        let m = Rc::new(Model::new("me".into()));
        let same = m.clone().reduce(Action::Net(Event::Ping {
            peer: PeerId::random(),
            rtt: Duration::from_millis(3),
        }));
        assert!(Rc::ptr_eq(&m, &same));
        let same = same.reduce(Action::Connecting { attempt: 1 });
        assert!(Rc::ptr_eq(&m, &same));
    }
}
