//! The DHT outlives a node: a node restarted with its data directory still answers for the
//! handles and feeds of people who are offline, and a node lost for good loses nothing that
//! the other nodes hold too.

mod common;

use std::time::Duration;

use kith_core::{Identity, NameClaim};
use kith_net::Client;
use kith_net::identity::keypair_of;
use kith_node::Node;

/// Alice, online through `node`: reserved on its relay, her handle claimed and her feed
/// announced. Returns her client.
async fn alice_announces(node: &Node, alice: &Identity) -> Client {
    let (a, _) = common::client_with(node, keypair_of(alice)).await;
    let relay: kith_net::Multiaddr = common::node_ws(node).parse().expect("addr");
    a.listen_via_relay(relay).await.expect("reservation");
    let claim = NameClaim::sign(alice, "alice", kith_net::now_ms()).expect("claim");
    let mut tries = 0;
    // Until the node is in the client's routing table, there is no one to store it.
    while a.claim_name(&claim).await.is_err() || a.provide(alice.author()).await.is_err() {
        tries += 1;
        assert!(tries < 50, "alice could not announce herself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a
}

/// Looks alice up through `node` with a fresh client: her handle's claim and her feed's holder.
async fn find_alice(node: &Node, alice: &Identity) {
    let (c, _) = common::client(node).await;
    let me = keypair_of(alice).public().to_peer_id();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let claims = c.lookup_name("alice").await.expect("lookup");
        let holders = c.find_providers(alice.author()).await.unwrap_or_default();
        if claims.iter().any(|c| c.author == alice.author()) && holders.contains(&me) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice not found through {}: claims {claims:?}, holders {holders:?}",
            node.peer_id
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_still_answers_for_people_who_are_offline() {
    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("start");
    let alice = Identity::from_secret([7; 32]);
    let a = alice_announces(&node, &alice).await;
    // Her handle's claim and her device's claim; her handle and her feed as provider records.
    let before = common::wait_status(&node, "alice's records", |s| {
        s.dht_records >= 1 && s.dht_provider_records >= 2
    })
    .await;
    drop(a);
    node.shutdown().await;
    assert!(dir.path().join("dht.bin").is_file(), "the DHT is on disk");

    // Alice stays offline; the node comes back with its data directory.
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("restart");
    let after = node.control.status().await.expect("status");
    assert_eq!(
        (after.dht_records, after.dht_provider_records),
        (before.dht_records, before.dht_provider_records),
        "everything the node held is back"
    );
    find_alice(&node, &alice).await;
    node.shutdown().await;

    // Without the file, the same node knows nothing of her.
    std::fs::remove_file(dir.path().join("dht.bin")).expect("remove");
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("restart");
    let empty = node.control.status().await.expect("status");
    assert_eq!((empty.dht_records, empty.dht_provider_records), (0, 0));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_lost_for_good_loses_nothing_the_others_hold() {
    let (mut dirs, nodes) = common::joined_nodes(3).await;
    let [a, b, c] = <[Node; 3]>::try_from(nodes).ok().expect("three nodes");

    // Alice knows only node A; her announcements reach the nodes closest to each key, which
    // in a DHT of three are all of them.
    let alice = Identity::from_secret([8; 32]);
    let online = alice_announces(&a, &alice).await;
    for n in [&b, &c] {
        common::wait_status(n, "alice's records", |s| {
            s.dht_records >= 1 && s.dht_provider_records >= 2
        })
        .await;
    }
    drop(online);

    // A is gone for good, its disk with it.
    a.shutdown().await;
    drop(dirs.remove(0));
    find_alice(&c, &alice).await;
    find_alice(&b, &alice).await;
    for n in [b, c] {
        n.shutdown().await;
    }
}
