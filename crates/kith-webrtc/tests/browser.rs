//! Two browser nodes in one page reach each other over `/webrtc` through a real kith-node
//! (started by `cargo xtask test wasm`, found through its `/bootstrap.json`; the address comes
//! from `KITH_TEST_NODE` at build time): each reserves a circuit on the node, A dials B's
//! circuit, signals over it, and the two then talk over a direct `RTCPeerConnection`, with the
//! relayed connection closed so nothing else can carry the bytes.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use futures::channel::mpsc;
use futures::future::Either;
use futures::{AsyncReadExt as _, AsyncWriteExt as _, FutureExt as _, StreamExt as _};
use kith_core::BootstrapDoc;
use libp2p::core::multiaddr::{Multiaddr, Protocol};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::upgrade::Version;
use libp2p::core::{ConnectedPoint, Transport as _};
use libp2p::identity::PeerId;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, StreamProtocol, Swarm, SwarmEvent};
use libp2p::{noise, ping, relay, websocket_websys, yamux};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const NODE: &str = match option_env!("KITH_TEST_NODE") {
    Some(url) => url,
    None => "http://127.0.0.1:18080",
};

const ECHO: StreamProtocol = StreamProtocol::new("/kith-test/echo/1");

#[derive(NetworkBehaviour)]
struct Behaviour {
    relay: relay::client::Behaviour,
    ping: ping::Behaviour,
    stream: libp2p_stream::Behaviour,
}

type Event = SwarmEvent<BehaviourEvent>;
type Command = Box<dyn FnOnce(&mut Swarm<Behaviour>)>;

/// A swarm running in its own task: commands in, events out, and a switch that drops it.
struct Node {
    peer: PeerId,
    control: libp2p_stream::Control,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<Event>,
    kill: Option<futures::channel::oneshot::Sender<()>>,
}

async fn sleep(d: Duration) {
    futures_timer::Delay::new(d).await;
}

async fn relay_addr() -> Multiaddr {
    let resp = gloo_net::http::Request::get(&format!("{NODE}/bootstrap.json"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("kith-node at {NODE} is not reachable: {e}"));
    let doc = BootstrapDoc::parse(&resp.binary().await.expect("body")).expect("bootstrap.json");
    let ws = doc
        .addrs
        .iter()
        .find(|a| a.contains("/ws"))
        .expect("the node offers WebSocket");
    let addr: Multiaddr = ws.parse().expect("address");
    let node: PeerId = doc.peer_id.parse().expect("peer id");
    if addr.iter().any(|p| matches!(p, Protocol::P2p(_))) {
        addr
    } else {
        addr.with(Protocol::P2p(node))
    }
}

fn start(config: kith_webrtc::Config) -> Node {
    let stream = libp2p_stream::Behaviour::new();
    let control = stream.new_control();
    let signalling = control.clone();
    let key = libp2p::identity::Keypair::generate_ed25519();
    let (relay_transport, relay) = relay::client::new(key.public().to_peer_id());
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_wasm_bindgen()
        .with_other_transport(|key| {
            let noise = noise::Config::new(key)?;
            let relayed = relay_transport
                .upgrade(Version::V1Lazy)
                .authenticate(noise.clone())
                .multiplex(yamux::Config::default())
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
            let websocket = websocket_websys::Transport::default()
                .upgrade(Version::V1Lazy)
                .authenticate(noise)
                .multiplex(yamux::Config::default())
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
            // `/webrtc` first: the relay transport would take `/p2p-circuit/webrtc` dials too.
            let webrtc = kith_webrtc::Transport::new(config, signalling)
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                webrtc.or_transport(relayed).or_transport(websocket).map(
                    |either, _| match either {
                        Either::Left(Either::Left(out))
                        | Either::Left(Either::Right(out))
                        | Either::Right(out) => out,
                    },
                ),
            )
        })
        .expect("transports")
        .with_behaviour(|_| Behaviour {
            relay,
            ping: ping::Behaviour::new(
                ping::Config::new().with_interval(Duration::from_millis(500)),
            ),
            stream,
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let peer = *swarm.local_peer_id();
    let (commands, mut command_rx) = mpsc::unbounded::<Command>();
    let (event_tx, events) = mpsc::unbounded();
    let (kill, killed) = futures::channel::oneshot::channel::<()>();
    wasm_bindgen_futures::spawn_local(async move {
        let mut killed = killed.fuse();
        loop {
            futures::select! {
                _ = killed => break, // the swarm is dropped here, and its connections with it
                command = command_rx.next() => match command {
                    Some(command) => command(&mut swarm),
                    None => break,
                },
                event = swarm.select_next_some() => {
                    let _ = event_tx.unbounded_send(event);
                }
            }
        }
    });
    Node {
        peer,
        control,
        commands,
        events,
        kill: Some(kill),
    }
}

impl Node {
    fn run(&self, command: impl FnOnce(&mut Swarm<Behaviour>) + 'static) {
        self.commands
            .unbounded_send(Box::new(command))
            .expect("the swarm task runs");
    }

    /// Waits up to `secs` for the first event `pick` accepts.
    async fn wait_for<T>(
        &mut self,
        secs: u64,
        what: &str,
        mut pick: impl FnMut(Event) -> Option<T>,
    ) -> T {
        let found = async {
            while let Some(event) = self.events.next().await {
                if let Some(t) = pick(event) {
                    return Some(t);
                }
            }
            None
        };
        futures::select! {
            t = found.fuse() => t.unwrap_or_else(|| panic!("event stream ended waiting for {what}")),
            () = sleep(Duration::from_secs(secs)).fuse() => panic!("no {what} within {secs} s"),
        }
    }

    /// Reserves a circuit on the node; returns the circuit listen address.
    async fn reserve(&mut self, relay: &Multiaddr) -> Multiaddr {
        let circuit = relay.clone().with(Protocol::P2pCircuit);
        self.run(move |s| {
            s.listen_on(circuit).expect("circuit listen");
            s.listen_on(kith_webrtc::addr::listen_addr())
                .expect("webrtc listen");
        });
        self.wait_for(20, "a relay reservation", |e| match e {
            SwarmEvent::NewListenAddr { address, .. }
                if address.iter().any(|p| p == Protocol::P2pCircuit) =>
            {
                Some(address)
            }
            _ => None,
        })
        .await
    }
}

/// The dialer's address names `/webrtc`; the listener's local address is the `/webrtc`
/// listener (its send-back address is empty: where the dialer is reachable is not known).
fn is_webrtc(endpoint: &ConnectedPoint) -> bool {
    let addr = match endpoint {
        ConnectedPoint::Dialer { address, .. } => address,
        ConnectedPoint::Listener { local_addr, .. } => local_addr,
    };
    addr.iter().any(|p| p == Protocol::WebRTC)
}

/// A and B, each reserved on the node, connected directly; the relayed connections closed.
/// Returns the WebRTC connection's id on each side.
async fn connected_pair(config: kith_webrtc::Config) -> (Node, Node, ConnectionId, ConnectionId) {
    let relay = relay_addr().await;
    let mut a = start(config.clone());
    let mut b = start(config);
    a.reserve(&relay).await;
    let b_circuit = b.reserve(&relay).await;
    let b_webrtc = kith_webrtc::addr::advertised(&b_circuit)
        .unwrap_or_else(|| panic!("not a circuit address: {b_circuit}"))
        .with(Protocol::P2p(b.peer));
    assert_eq!(kith_webrtc::addr::dial_target(&b_webrtc), Some(b.peer));
    // First the circuit (signalling runs over it), then the direct connection.
    let b_relayed = kith_webrtc::addr::circuit_of(&b_webrtc).expect("circuit");
    a.run(move |s| s.dial(b_relayed).expect("circuit dial"));
    let (a_peer, b_peer) = (a.peer, b.peer);
    let a_relayed = a
        .wait_for(20, "the relayed connection to B", |e| match e {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                ..
            } if peer_id == b_peer => Some(connection_id),
            _ => None,
        })
        .await;
    a.run(move |s| s.dial(b_webrtc).expect("webrtc dial"));
    let a_side = a
        .wait_for(20, "the WebRTC connection to B", |e| match e {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } if peer_id == b_peer && is_webrtc(&endpoint) => Some(connection_id),
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                panic!("the WebRTC dial failed: {error}")
            }
            _ => None,
        })
        .await;
    let mut b_relayed = None;
    let b_side = b
        .wait_for(20, "the WebRTC connection from A", |e| match e {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } if peer_id == a_peer => {
                if is_webrtc(&endpoint) {
                    Some(connection_id)
                } else {
                    b_relayed = Some(connection_id);
                    None
                }
            }
            _ => None,
        })
        .await;
    let b_relayed = b_relayed.expect("B saw the relayed connection first");
    // Close the circuit: from here on only WebRTC carries anything between the two.
    a.run(move |s| {
        assert!(s.close_connection(a_relayed), "the circuit was open");
    });
    b.wait_for(20, "the circuit to close", |e| match e {
        SwarmEvent::ConnectionClosed { connection_id, .. } if connection_id == b_relayed => {
            Some(())
        }
        SwarmEvent::ConnectionClosed {
            connection_id,
            cause,
            ..
        } if connection_id == b_side => {
            panic!("the WebRTC connection closed with the circuit: {cause:?}")
        }
        _ => None,
    })
    .await;
    (a, b, a_side, b_side)
}

async fn echo_server(mut control: libp2p_stream::Control) {
    let mut incoming = control.accept(ECHO).expect("accept");
    while let Some((_, mut stream)) = incoming.next().await {
        wasm_bindgen_futures::spawn_local(async move {
            let mut data = Vec::new();
            if stream.read_to_end(&mut data).await.is_ok() {
                let _ = stream.write_all(&data).await;
                let _ = stream.close().await;
            }
        });
    }
}

/// Sends `data` on a new echo stream, closes the write side (FIN, FIN_ACK), reads the echo.
async fn echo(control: &mut libp2p_stream::Control, peer: PeerId, data: &[u8]) -> Vec<u8> {
    let mut stream = control.open_stream(peer, ECHO).await.expect("stream opens");
    stream.write_all(data).await.expect("write");
    stream.close().await.expect("close");
    let mut back = Vec::new();
    stream.read_to_end(&mut back).await.expect("read");
    back
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Runs `fut` for at most `secs`.
async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    futures::select! {
        t = fut.fuse() => t,
        () = sleep(Duration::from_secs(secs)).fuse() => panic!("{what} took over {secs} s"),
    }
}

#[wasm_bindgen_test]
async fn two_browsers_connect_directly_ping_and_move_bytes_intact() {
    // A FIN_ACK timeout far over the test's waits: a close that returns in time was answered.
    let config = kith_webrtc::Config {
        fin_ack_timeout: Duration::from_secs(600),
        ..kith_webrtc::Config::default()
    };
    let (mut a, b, a_side, _) = connected_pair(config).await;
    let rtt = a
        .wait_for(20, "a ping over WebRTC", |e| match e {
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                connection,
                result: Ok(rtt),
                ..
            })) if connection == a_side => Some(rtt),
            _ => None,
        })
        .await;
    assert!(rtt < Duration::from_secs(5), "rtt {rtt:?}");
    wasm_bindgen_futures::spawn_local(echo_server(b.control.clone()));

    let mut control = a.control.clone();
    let big = pattern(1024 * 1024, 1);
    let back = within(60, "1 MiB there and back", echo(&mut control, b.peer, &big)).await;
    assert!(
        back == big,
        "1 MiB came back altered ({} bytes)",
        back.len()
    );

    let small = futures::future::join_all((0..64u32).map(|i| {
        let mut control = a.control.clone();
        let peer = b.peer;
        async move {
            let data = pattern(100 + i as usize * 7, i + 2);
            (echo(&mut control, peer, &data).await, data)
        }
    }));
    for (i, (back, sent)) in within(60, "64 small streams", small)
        .await
        .into_iter()
        .enumerate()
    {
        assert!(back == sent, "small stream {i} came back altered");
    }
    // Still the one WebRTC connection, and nothing else, between the two.
    let (tx, rx) = futures::channel::oneshot::channel();
    let b_peer = b.peer;
    a.run(move |s| {
        let _ = tx.send(s.connected_peers().filter(|p| **p == b_peer).count());
    });
    assert_eq!(rx.await.expect("answer"), 1);
    a.wait_for(5, "one more ping over WebRTC", |e| match e {
        SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
            connection,
            result: Ok(_),
            ..
        })) if connection == a_side => Some(()),
        SwarmEvent::ConnectionClosed {
            connection_id,
            cause,
            ..
        } if connection_id == a_side => {
            panic!("the WebRTC connection closed: {cause:?}")
        }
        _ => None,
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_browser_that_disappears_is_noticed() {
    // A tab that closes or drops its node closes the peer connection: the SCTP transport
    // closes and the other side sees it at once. A tab that vanishes without a word (a
    // crash, a lost network) is noticed when ICE says `disconnected` and the grace passes.
    let (mut a, mut b, a_side, _) = connected_pair(kith_webrtc::Config::default()).await;
    let started = web_time::Instant::now();
    // B's tab goes: its swarm, and the peer connection with it, is dropped.
    let _ = b.kill.take().expect("alive").send(());
    let cause = a
        .wait_for(40, "A to notice B is gone", |e| match e {
            SwarmEvent::ConnectionClosed {
                connection_id,
                cause,
                ..
            } if connection_id == a_side => Some(cause),
            _ => None,
        })
        .await;
    web_sys::console::log_1(
        &format!("B gone, noticed after {:?}: {cause:?}", started.elapsed()).into(),
    );
}
