//! The relay client in a browser's node survives a relay connection that closes while a
//! reservation is being made over another one.
//!
//! libp2p-relay 0.22's client panics ("Relay connection exist") when a reservation it asked
//! for is accepted after its listener was removed. kith-net once removed a relay listener
//! whenever its relay's last connection closed; when the relay client had meanwhile dialed
//! the relay itself for that reservation, the acceptance on the new connection took the
//! whole swarm task down. The scale bench hit it at 575 people. Here it is made certain with
//! two TCP proxies in front of a real kith-node: one holds the relay client's own dial for a
//! few seconds, the other carries a connection the test then cuts.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kith_net::{Config, Keypair, Multiaddr, TransportKind, dial_plan};
use kith_node::Node;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy to `to` on a free port: each connection waits `hold` before it is connected
/// through. Returns its port and the tasks carrying connections (abort them to cut).
async fn proxy(to: u16, hold: Duration) -> (u16, Arc<Mutex<Vec<JoinHandle<()>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let carried: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
    let tasks = carried.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let task = tokio::spawn(async move {
                tokio::time::sleep(hold).await;
                if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", to)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
            tasks.lock().expect("tasks").push(task);
        }
    });
    (port, carried)
}

/// The node's WebSocket address with its port replaced by `port`.
fn via(addr: &Multiaddr, port: u16) -> Multiaddr {
    addr.iter()
        .map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(_) => libp2p::multiaddr::Protocol::Tcp(port),
            other => other,
        })
        .collect()
}

#[tokio::test]
async fn a_reservation_survives_the_relays_other_connection_closing() {
    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("node");
    let doc = node.bootstrap.read().expect("doc").clone();
    let (node_peer, addrs) = dial_plan(&doc, Some(TransportKind::WebSocket)).expect("plan");
    let ws = addrs[0].clone();
    let ws_port = ws
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a tcp port");
    let (slow, _) = proxy(ws_port, Duration::from_secs(3)).await;
    let (quick, cut) = proxy(ws_port, Duration::ZERO).await;

    let (client, _events, event_loop) =
        kith_net::new(Keypair::generate_ed25519(), Config::default()).expect("client");
    tokio::spawn(event_loop.run());
    // Not connected to the node yet: the relay client dials it itself, through the slow proxy.
    let listening = {
        let client = client.clone();
        let relay = via(&ws, slow);
        tokio::spawn(async move { client.listen_via_relay(relay).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile a connection of its own to the node, which is then cut: the node's last
    // established connection closes while the relay client's dial is still pending.
    client
        .dial(node_peer, vec![via(&ws, quick)])
        .await
        .expect("connected through the quick proxy");
    for task in cut.lock().expect("tasks").drain(..) {
        task.abort();
    }
    let reserved = tokio::time::timeout(Duration::from_secs(20), listening)
        .await
        .expect("the reservation is answered")
        .expect("the task ran");
    // Past the slow proxy's hold, the relay client's own dial has connected and its
    // reservation was answered: the swarm task must still be alive.
    tokio::time::sleep(Duration::from_secs(4)).await;
    client
        .dial(node_peer, vec![via(&ws, quick)])
        .await
        .expect("the swarm task is alive and the node answers");
    let addr = reserved.expect("reserved over the relay client's own connection");
    assert!(addr.to_string().contains("p2p-circuit"), "{addr}");
    node.shutdown().await;
}
