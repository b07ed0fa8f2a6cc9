//! Handles through kith-node's DHT: every claimant is found, with its fingerprint; a forged
//! record is refused by the node.

mod common;

use std::time::Duration;

use kith_core::{Identity, NameClaim};
use kith_net::Client;
use kith_net::identity::keypair_of;
use kith_node::Node;

async fn claim(c: &Client, who: &Identity, handle: &str) {
    let claim = NameClaim::sign(who, handle, kith_net::now_ms()).expect("claim");
    for _ in 0..50 {
        if c.claim_name(&claim).await.is_ok() {
            return;
        }
        // Until the node is in the routing table, there is no one to store it.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not publish the claim");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_claimant_of_a_handle_is_found_and_forgeries_are_refused() {
    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("node");
    let (alice, mallory) = (
        Identity::from_secret([1; 32]),
        Identity::from_secret([2; 32]),
    );
    let (a, _) = common::client_with(&node, keypair_of(&alice)).await;
    let (m, _) = common::client_with(&node, keypair_of(&mallory)).await;
    // Claimants are reachable through the relay, so their provider records carry an address.
    let relay: kith_net::Multiaddr = common::node_ws(&node).parse().expect("addr");
    a.listen_via_relay(relay.clone())
        .await
        .expect("reservation");
    m.listen_via_relay(relay).await.expect("reservation");
    claim(&a, &alice, "alice").await;
    claim(&m, &mallory, "alice").await;

    let (c, _) = common::client(&node).await;
    let mut found = Vec::new();
    for _ in 0..50 {
        found = c.lookup_name("@Alice").await.expect("lookup");
        if found.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut who: Vec<_> = found
        .iter()
        .map(|c| (c.author, c.author.fingerprint()))
        .collect();
    who.sort();
    let mut want = vec![
        (alice.author(), alice.author().fingerprint()),
        (mallory.author(), mallory.author().fingerprint()),
    ];
    want.sort();
    assert_eq!(who, want, "both claimants, each with a fingerprint");
    assert_ne!(want[0].1, want[1].1);

    // Mallory stores a claim of "bob" in Alice's name, signed with his own key, and announces
    // the handle. The node refuses the record, so the lookup finds no claimant at all.
    let mut forged = NameClaim::sign(&mallory, "bob", kith_net::now_ms()).expect("claim");
    forged.author = alice.author();
    let _ = m.claim_name(&forged).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.lookup_name("bob").await.expect("lookup"), vec![]);
    let status = node.control.status().await.expect("status");
    assert_eq!(status.dht_records, 2, "the node stored the forged record");
    node.shutdown().await;
}

/// `--dht-max-records` and `--dht-max-providers-per-key` bound what the node keeps: three
/// people claim one handle on a node that keeps two records and two holders a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dht_keeps_within_its_limits() {
    let dir = common::workdir();
    let limits = ["--dht-max-records", "2", "--dht-max-providers-per-key", "2"];
    let node = Node::start(common::cli(dir.path(), &limits))
        .await
        .expect("node");
    let relay: kith_net::Multiaddr = common::node_ws(&node).parse().expect("addr");
    let mut clients = Vec::new();
    for seed in 1..=3u8 {
        let who = Identity::from_secret([seed; 32]);
        let (c, _) = common::client_with(&node, keypair_of(&who)).await;
        c.listen_via_relay(relay.clone())
            .await
            .expect("reservation");
        claim(&c, &who, "same").await;
        clients.push(c);
    }
    let status = node.control.status().await.expect("status");
    assert_eq!(status.dht_records, 2, "records beyond --dht-max-records");
    let (c, _) = common::client(&node).await;
    let mut found = Vec::new();
    for _ in 0..50 {
        found = c.lookup_name("same").await.expect("lookup");
        if found.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 2, "holders beyond --dht-max-providers-per-key");
    node.shutdown().await;
}

/// One peer announcing holders for junk keys neither fills the node nor keeps a real holder
/// out: its keys are capped (`--dht-max-keys-per-provider`), and the node has room for
/// far more keys than rust-libp2p's default of 1,024, which this junk alone filled before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_providers_neither_fill_the_node_nor_keep_a_holder_out() {
    let dir = common::workdir();
    let node = Node::start(common::cli(
        dir.path(),
        &["--dht-max-keys-per-provider", "300"],
    ))
    .await
    .expect("node");
    let (junk, _) = common::client(&node).await;
    for i in 0..1_100u32 {
        let mut a = [0u8; 32];
        a[..4].copy_from_slice(&i.to_be_bytes());
        junk.provide(kith_core::AuthorId(a))
            .await
            .expect("announce");
    }
    let status = node.control.status().await.expect("status");
    assert_eq!(
        status.dht_provider_records, 300,
        "one peer's keys are capped"
    );

    // A holder others can reach: reserved on the node, so its record has an address.
    let (honest, _) = common::client(&node).await;
    honest
        .listen_via_relay(common::node_ws(&node).parse().expect("addr"))
        .await
        .expect("reservation");
    let author = Identity::from_secret([9; 32]).author();
    honest.provide(author).await.expect("announce");
    let (reader, _) = common::client(&node).await;
    // An announcement is fire-and-forget: look until the node has it (or 5 s).
    let mut found = Vec::new();
    for _ in 0..50 {
        found = reader.find_providers(author).await.expect("lookup");
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found, vec![honest.local_peer_id()]);
    node.shutdown().await;
}
