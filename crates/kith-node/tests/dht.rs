//! Several kith-nodes joined with `--bootstrap` form one DHT, and each names the others in its
//! `/bootstrap.json`.

mod common;

use std::time::Duration;

use kith_node::Node;

async fn wait_until_in_table(node: &Node, peer: &str) -> Vec<String> {
    common::wait_status(node, &format!("{peer} in the routing table"), |s| {
        s.routing_table.iter().any(|p| p == peer)
    })
    .await
    .routing_table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_with_bootstrap_share_one_dht() {
    let (dir_a, dir_b, dir_c) = (common::workdir(), common::workdir(), common::workdir());
    let a = Node::start(common::cli(dir_a.path(), &[]))
        .await
        .expect("start a");
    let ws_a = a
        .addrs()
        .into_iter()
        .find(|s| s.contains("/ws/"))
        .expect("a has a websocket address");
    let b = Node::start(common::cli(dir_b.path(), &["--bootstrap", &ws_a]))
        .await
        .expect("start b");
    // Each sees the other.
    wait_until_in_table(&a, &b.peer_id.to_string()).await;
    wait_until_in_table(&b, &a.peer_id.to_string()).await;

    // A third node that knows only B still finds A through the DHT.
    let ws_b = b
        .addrs()
        .into_iter()
        .find(|s| s.contains("/ws/"))
        .expect("b has a websocket address");
    let c = Node::start(common::cli(dir_c.path(), &["--bootstrap", &ws_b]))
        .await
        .expect("start c");
    let table = wait_until_in_table(&c, &a.peer_id.to_string()).await;
    assert!(table.contains(&b.peer_id.to_string()), "{table:?}");

    // Each node's /bootstrap.json names the other nodes of its routing table, at addresses
    // a browser can dial, so an app can go to another node when its own is gone.
    for (node, others) in [(&c, [&a, &b]), (&a, [&b, &c])] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let reply = common::get(node.http_addr, "/bootstrap.json").await;
            let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
            let doc = kith_core::BootstrapDoc::parse(body.as_bytes()).expect("a valid document");
            let named = |n: &Node| {
                doc.nodes.iter().any(|k| {
                    k.peer_id == n.peer_id.to_string()
                        && k.addrs.iter().any(|a| a.contains("/ws/"))
                        && k.addrs
                            .iter()
                            .all(|a| !a.contains("/tcp/") || a.contains("/ws"))
                })
            };
            if others.iter().all(|o| named(o)) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} does not name {others:?}: {doc:?}",
                node.peer_id,
                others = others.iter().map(|o| o.peer_id).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    for n in [c, b, a] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_webrtc_address_survive_a_restart() {
    let dir = common::workdir();
    let first = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("start");
    let (id, hash) = (first.peer_id, certhash(&first.addrs()));
    first.shutdown().await;
    let second = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("restart");
    assert_eq!(second.peer_id, id);
    assert_eq!(certhash(&second.addrs()), hash);
    second.shutdown().await;
}

fn certhash(addrs: &[String]) -> String {
    let a = addrs
        .iter()
        .find(|a| a.contains("/webrtc-direct/"))
        .expect("a webrtc-direct address");
    a.split("/certhash/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a certhash")
        .to_owned()
}

/// A peer that serves nothing but says, in identify, that it serves Kith's DHT.
mod fake {
    use libp2p::swarm::NetworkBehaviour;
    use libp2p::{identify, kad};

    #[derive(NetworkBehaviour)]
    pub(crate) struct Claims {
        pub(crate) identify: identify::Behaviour,
        pub(crate) kad: kad::Behaviour<kad::store::MemoryStore>,
    }

    /// Its swarm over WebSocket, claiming the DHT protocol (Kademlia in server mode) and
    /// `listening` at an address it does not listen on.
    pub(crate) async fn swarm(listening: libp2p::Multiaddr) -> libp2p::Swarm<Claims> {
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                libp2p::tcp::Config::default(),
                libp2p::noise::Config::new,
                libp2p::yamux::Config::default,
            )
            .expect("tcp")
            .with_dns()
            .expect("dns")
            .with_websocket(libp2p::noise::Config::new, libp2p::yamux::Config::default)
            .await
            .expect("websocket")
            .with_behaviour(|key| {
                let id = key.public().to_peer_id();
                let mut kad = kad::Behaviour::with_config(
                    id,
                    kad::store::MemoryStore::new(id),
                    kith_net::behaviour::kad_config(),
                );
                kad.set_mode(Some(kad::Mode::Server));
                Claims {
                    identify: identify::Behaviour::new(kith_net::behaviour::identify_config(
                        &key.public(),
                        "fake/0",
                    )),
                    kad,
                }
            })
            .expect("behaviour")
            .build();
        swarm.add_external_address(listening);
        swarm
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_only_claims_to_serve_the_dht_stays_out_of_the_routing_table() {
    use futures::StreamExt;
    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("start");
    // Nothing listens on port 9 (discard); the node must not take the claim at its word.
    let mut liar = fake::swarm("/ip4/127.0.0.1/tcp/9/ws".parse().expect("addr")).await;
    let liar_id = liar.local_peer_id().to_string();
    liar.dial(
        common::node_ws(&node)
            .parse::<libp2p::Multiaddr>()
            .expect("addr"),
    )
    .expect("dial");
    let drive = tokio::spawn(async move {
        loop {
            liar.select_next_some().await;
        }
    });
    // Connected and identified (identify runs at once on a new connection), then time for
    // the node's check of the address to fail.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !node
        .control
        .status()
        .await
        .expect("status")
        .connected_peers
        .contains(&liar_id)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the liar never connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = node.control.status().await.expect("status");
    assert!(status.connected_peers.contains(&liar_id), "{status:?}");
    assert!(!status.routing_table.contains(&liar_id), "{status:?}");
    drive.abort();
    node.shutdown().await;
}
