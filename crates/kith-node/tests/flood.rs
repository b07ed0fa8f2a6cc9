//! A gossip flood does not stall a person's node: 20,000 valid messages on a shard it
//! subscribes to, of a feed it does not follow, arrive while it syncs a followed feed; they
//! are ignored unverified, it keeps answering commands, the sync completes, and a live post
//! after the flood is still stored (the scenario is in `common/flood.rs`, shared with the
//! network bench). A node that follows the flooder and never reads its events still answers.

mod common;

use kith_net::Keypair;
use kith_node::Node;
use tokio::task::LocalSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gossip_flood_leaves_commands_and_sync_working() {
    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("node");
    let doc = node.bootstrap.read().expect("doc").clone();
    let f = LocalSet::new()
        .run_until(Box::pin(common::flood::run(&doc)))
        .await;
    eprintln!(
        "flood: published {}, bob ignored {} and saw {} live, dropped {}; {} commands, p99 {:.1} ms; sync {:.0} ms",
        f.published,
        f.stats.ignored_entries,
        f.stats.live_entries,
        f.stats.dropped_entries,
        f.command_ms.len(),
        common::flood::percentile(&mut f.command_ms.clone(), 0.99),
        f.sync_ms
    );
    assert_eq!(
        f.synced,
        common::flood::HISTORY,
        "the sync did not complete"
    );
    assert_eq!(f.failed_commands, 0, "commands failed during the flood");
    assert!(
        f.published >= common::flood::FLOOD * 9 / 10,
        "the flood did not go out ({} published)",
        f.published
    );
    // The flood really reached Bob's node (so the test exercises it), and none of it was
    // verified or handed on: Mallory's feed is not followed there.
    assert!(
        f.stats.ignored_entries >= common::flood::FLOOD / 2,
        "only {} flood messages reached bob",
        f.stats.ignored_entries
    );
    assert!(
        f.stats.live_entries < 10,
        "{} live entries verified at bob, where only alice's few are followed",
        f.stats.live_entries
    );
    assert!(
        f.live_after,
        "a live post after the flood never reached bob"
    );
}

/// The event loop itself never waits for its consumer: a node whose events nobody reads at all
/// still answers commands while entries pour in, and counts the entries it had to drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_events_nobody_reads_keeps_answering() {
    use std::time::Duration;

    use kith_core::Identity;
    use kith_net::identity::keypair_of;
    use kith_net::{EVENT_QUEUE, TransportKind, dial_plan};

    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("node");
    let doc = node.bootstrap.read().expect("doc").clone();
    let (peer, addrs) = dial_plan(&doc, Some(TransportKind::WebSocket)).expect("plan");
    let alice = Identity::from_secret([7; 32]);
    let mallory = common::flood::same_shard(&alice);
    let flood = common::flood::feed(&mallory, 3_000, kith_net::now_ms() - 100_000_000);

    // Eve follows Mallory and never reads her events.
    let (eve, _unread, eve_loop) =
        kith_net::new(Keypair::generate_ed25519(), common::flood::config()).expect("eve");
    tokio::spawn(eve_loop.run());
    eve.dial(peer, addrs.clone()).await.expect("eve dials");
    eve.follow_live(mallory.author()).await.expect("subscribe");
    let (m, _m_events, m_loop) =
        kith_net::new(keypair_of(&mallory), common::flood::config()).expect("mallory");
    tokio::spawn(m_loop.run());
    m.dial(peer, addrs).await.expect("mallory dials");
    // Wait until the node has Eve's subscription (the first entries reach her).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut sent = 0;
    while eve.stats().await.expect("stats").live_entries == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing reached eve");
        let _ = m.publish(&flood[sent]).await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let flooding = tokio::spawn(async move {
        for e in &flood[sent..] {
            for _ in 0..1_000 {
                if m.publish(e).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    // Every command is answered while the flood lasts.
    while !flooding.is_finished() {
        tokio::time::timeout(Duration::from_secs(20), eve.connected_peers())
            .await
            .expect("eve's node stopped answering commands")
            .expect("connected peers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    flooding.await.expect("flood");
    // Entries keep arriving after the queue filled: counted as dropped, not waited for.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = eve.stats().await.expect("stats");
        if stats.dropped_entries > 0 {
            assert!(stats.live_entries >= EVENT_QUEUE as u64, "{stats:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "eve's queue never overflowed: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
