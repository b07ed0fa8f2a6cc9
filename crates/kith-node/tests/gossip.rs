//! Live delivery through kith-node: native kith-net clients publish and receive new entries
//! over gossipsub; an invalid entry is refused at the node and its sender cut off.

mod common;

use std::time::Duration;

use common::{client, post_until_delivered, receive};
use kith_core::{Identity, Payload};
use kith_net::Event;
use kith_node::Node;
use tokio::time::{Instant, timeout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_reaches_a_follower_live() {
    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("node");
    let alice = Identity::from_secret([1; 32]);
    let (a, _a_events) = client(&node).await;
    let (b, mut b_events) = client(&node).await;
    b.follow_live(alice.author()).await.expect("follow");
    let mut feed = post_until_delivered(&alice, &a, &mut b_events).await;
    // Once the mesh stands, every post arrives, promptly.
    common::deliver_each(
        &alice,
        &mut feed,
        &a,
        &mut b_events,
        (0..5).map(|i| format!("steady {i}")),
        Duration::from_secs(2),
    )
    .await;
    // A gossip message is the entry and its topic: no gossipsub signature, sender or sequence
    // number (about 110 bytes more per message when they were there).
    let metrics = common::get(node.http_addr, "/metrics").await;
    let topic = kith_net::gossip::topic_for(&alice.author()).hash();
    let label = format!("{{hash=\"{topic}\"}}");
    let bytes = common::counter(
        &metrics,
        &format!("gossipsub_topic_msg_recv_bytes_total{label}"),
    );
    let count = common::counter(
        &metrics,
        &format!("gossipsub_topic_msg_recv_counts_total{label}"),
    );
    let entry_len = feed.entries().last().expect("an entry").encode().len() as u64;
    let per_message = bytes / count;
    assert!(
        per_message <= entry_len + 40,
        "{per_message} bytes per gossip message for entries of about {entry_len}"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_is_refused_and_its_sender_cut_off() {
    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("node");
    let alice = Identity::from_secret([1; 32]);
    let (a, _a_events) = client(&node).await;
    let (b, mut b_events) = client(&node).await;
    let (mallory, mut m_events) = client(&node).await;
    b.follow_live(alice.author()).await.expect("follow");
    let mut feed = post_until_delivered(&alice, &a, &mut b_events).await;

    // Mallory republishes Alice's entries with the text altered.
    let mut sent = 0;
    let start = Instant::now();
    while sent < 3 {
        let e = feed
            .append(
                &alice,
                &Payload::post(format!("original {sent}")),
                kith_net::now_ms(),
            )
            .expect("append")
            .clone();
        let mut raw = e.raw().clone();
        if let Some(p) = raw.payload.as_mut() {
            let last = p.len() - 1;
            p[last] ^= 0x20;
        }
        if mallory
            .publish_bytes(alice.author(), raw.encode())
            .await
            .is_ok()
        {
            sent += 1;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "mallory could not publish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The node cuts Mallory off.
    let node_id = node.peer_id;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut cut_off = false;
    while let Ok(Some(e)) = timeout(
        deadline.saturating_duration_since(Instant::now()),
        m_events.recv(),
    )
    .await
    {
        if matches!(e, Event::Disconnected { peer, remaining: 0, .. } if peer == node_id) {
            cut_off = true;
            break;
        }
    }
    assert!(cut_off, "the node kept the peer that sent invalid entries");
    // Nothing invalid reached Bob, and Alice's real posts still do.
    while let Ok(e) = b_events.try_recv() {
        assert!(
            !matches!(e, Event::InvalidEntry { .. }),
            "an invalid entry was forwarded: {e:?}"
        );
        if let Event::Entry { entry, .. } = e {
            let altered = matches!(entry.payload(), Some(Payload::Post { text, .. }) if text.starts_with("original"));
            assert!(
                !altered,
                "an entry Alice never published reached Bob: {entry:?}"
            );
        }
    }
    let e = feed
        .append(&alice, &Payload::post("still here"), kith_net::now_ms())
        .expect("append")
        .clone();
    a.publish(&e).await.expect("publish");
    assert!(receive(&mut b_events, &e, Duration::from_secs(3)).await);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_crosses_from_one_node_to_another() {
    let (d1, d2) = (common::workdir(), common::workdir());
    let first = Node::start(common::cli(d1.path(), &[]))
        .await
        .expect("node 1");
    let ws = common::node_ws(&first);
    let second = Node::start(common::cli(d2.path(), &["--bootstrap", &ws]))
        .await
        .expect("node 2");
    let alice = Identity::from_secret([1; 32]);
    // Alice uses the first node, Bob the second.
    let (a, _a_events) = client(&first).await;
    let (b, mut b_events) = client(&second).await;
    b.follow_live(alice.author()).await.expect("follow");
    post_until_delivered(&alice, &a, &mut b_events).await;
    second.shutdown().await;
    first.shutdown().await;
}
