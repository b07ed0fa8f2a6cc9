//! A gossip flood does not stall a person's node: 20,000 valid messages on a shard it
//! subscribes to arrive while it syncs a followed feed; it keeps answering commands, the sync
//! completes, and a live post after the flood is still stored (the scenario is in
//! `common/flood.rs`, shared with the network bench).

mod common;

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
        "flood: published {}, bob saw {} live, dropped {}; {} commands, p99 {:.1} ms; sync {:.0} ms",
        f.published,
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
    // The flood really reached Bob's node (so the test exercises it).
    assert!(
        f.stats.live_entries >= common::flood::FLOOD / 2,
        "only {} flood messages reached bob",
        f.stats.live_entries
    );
    assert!(
        f.live_after,
        "a live post after the flood never reached bob"
    );
}
