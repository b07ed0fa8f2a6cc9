//! Several kith-nodes joined with `--bootstrap` form one DHT.

mod common;

use std::time::Duration;

use kith_node::Node;

async fn wait_until_in_table(node: &Node, peer: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = node.control.status().await.expect("status");
        if status.routing_table.iter().any(|p| p == peer) {
            return status.routing_table;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{peer} never entered the routing table of {}: {status:?}",
            node.peer_id
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
