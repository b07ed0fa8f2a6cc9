//! Search across the network over a real kith-node: people's apps (kith-app over kith-net's
//! agent) connected in a line B ↔ C ↔ D through the node's relay. B finds a post only D holds,
//! two hops away, verified; with a TTL of 1 it does not; in a loop of peers each answers a
//! query once; a flood of queries from one peer is throttled.

mod common;

use std::time::{Duration, Instant};

use common::apps::person;
use kith_app::view::NetSearch;
use kith_app::{Command, Update};
use kith_net::search::{QUERY_BURST, Query};
use kith_node::Node;
use tokio::task::LocalSet;

#[tokio::test]
async fn a_query_floods_two_hops_is_answered_once_per_peer_and_a_flood_is_throttled() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let b = person(&node, "Bea", "bea", 51).await;
            let c = person(&node, "Cal", "cal", 52).await;
            let d = person(&node, "Dee", "dee", 53).await;
            for p in [&b, &c, &d] {
                p.until("online", |p| *p.online.borrow()).await;
            }
            d.post("A zebra crossing at noon").await;
            c.post("Nothing about stripes").await;
            b.connect_to(&c, &node).await;
            c.connect_to(&d, &node).await;

            // Through the app, as the Search button does: found two hops away, verified,
            // with the device it came through.
            let asked = Instant::now();
            b.run(Command::Search("zebra".into())).await;
            b.until("the network's answer", |p| {
                p.updates
                    .borrow()
                    .iter()
                    .any(|u| matches!(u, Update::NetSearch(NetSearch::Done { .. })))
            })
            .await;
            let took = asked.elapsed();
            let found = b.updates.borrow().iter().rev().find_map(|u| match u {
                Update::NetSearch(NetSearch::Done { posts, .. }) => Some(posts.clone()),
                _ => None,
            });
            let found = found.expect("done");
            eprintln!("search two hops away answered in {took:?}");
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].0.text, "A zebra crossing at noon");
            assert_eq!(found[0].0.id.author, d.app.me());
            assert_eq!(
                found[0].1.as_ref().map(|p| p.author),
                Some(c.app.me()),
                "it came through Cal's device"
            );

            // One hop only: Cal holds nothing with the word.
            let agent = b.net.borrow().clone().expect("online");
            assert!(agent.search("zebra", 1).await.is_empty());
            assert_eq!(agent.search("zebra", 2).await.len(), 1);

            // A loop: Bea ↔ Dee too. Each peer answers the query once (the copy that comes
            // round is answered with nothing), and Bea gets the post once.
            b.connect_to(&d, &node).await;
            let d_client = d.client.borrow().clone().expect("online");
            let before = d_client.stats().await.expect("stats");
            let hits = agent.search("zebra", 3).await;
            assert_eq!(hits.len(), 1, "one post, however many paths");
            let after = d_client.stats().await.expect("stats");
            assert_eq!(
                after.queries_taken - before.queries_taken,
                1,
                "Dee answered once"
            );
            assert!(
                after.repeated_queries > before.repeated_queries,
                "the copy round the loop was refused"
            );

            // A flood from one peer: past the burst, answered with nothing at once.
            let b_client = b.client.borrow().clone().expect("online");
            let c_device = c.device().await;
            let c_client = c.client.borrow().clone().expect("online");
            let before = c_client.stats().await.expect("stats");
            let mut answered = 0;
            for i in 0..200u32 {
                let mut id = [7u8; 16];
                id[..4].copy_from_slice(&i.to_be_bytes());
                let q = Query {
                    id,
                    text: "stripes".into(),
                    ttl: 1,
                };
                if let Ok(h) = b_client.query(c_device, q).await {
                    answered += usize::from(!h.0.is_empty());
                }
            }
            let after = c_client.stats().await.expect("stats");
            let taken = after.queries_taken - before.queries_taken;
            assert!(taken <= u64::from(QUERY_BURST) + 2, "{taken} taken");
            assert!(after.throttled_queries - before.throttled_queries >= 190);
            assert!(answered as u64 <= taken);
            // Cal keeps working: a post of his reaches Bea's search later (after the burst
            // refills is not waited for here; his node still answers a sync).
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(*c.dropped.borrow(), 0);
            node.shutdown().await;
        }))
        .await;
}
