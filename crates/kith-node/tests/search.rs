//! Search across the network over a real kith-node: people's apps (kith-app over kith-net's
//! agent) connected in a line B ↔ C ↔ D through the node's relay. B finds a post only D holds,
//! two hops away, verified; with a TTL of 1 it does not; in a loop of peers each answers a
//! query once; a flood of 10,000 queries from one peer is throttled while others are answered.

mod common;

use std::time::Instant;

use common::apps::line_of_three;
use futures::StreamExt;
use kith_app::view::NetSearch;
use kith_app::{Command, Update};
use kith_net::search::{QUERIES_PER_MINUTE, QUERY_BURST, Query};
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
            let (b, c, d) = line_of_three(&node, 51).await;

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
            // Named: Dee's profile came with her post.
            assert_eq!(found[0].0.author.name, "Dee");
            assert_eq!(
                found[0].1.as_ref().map(|p| p.author),
                Some(c.app.me()),
                "it came through Cal's device"
            );

            // One hop only: Cal holds nothing with the word.
            let agent = b.net.borrow().clone().expect("online");
            assert!(agent.search("zebra", 1).await.is_empty());
            let posts = |hits: &[(kith_core::VerifiedEntry, Option<kith_core::AuthorId>)]| {
                hits.iter()
                    .filter(|(e, _)| matches!(e.payload(), Some(kith_core::Payload::Post { .. })))
                    .count()
            };
            assert_eq!(posts(&agent.search("zebra", 2).await), 1);

            // A loop: Bea ↔ Dee too. Each peer answers the query once (the copy that comes
            // round is answered with nothing), and Bea gets the post once.
            b.connect_to(&d, &node).await;
            let d_client = d.client.borrow().clone().expect("online");
            let before = d_client.stats().await.expect("stats");
            let hits = agent.search("zebra", 3).await;
            assert_eq!(posts(&hits), 1, "one post, however many paths");
            assert_eq!(hits.len(), 2, "and its author's profile, once");
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

            // A flood of 10,000 queries from one peer: past the burst, answered with nothing
            // at once (or refused by the stream limit), and Cal keeps working.
            const FLOOD: u32 = 10_000;
            let b_client = b.client.borrow().clone().expect("online");
            let c_device = c.device().await;
            let c_client = c.client.borrow().clone().expect("online");
            let before = c_client.stats().await.expect("stats");
            let started = Instant::now();
            let answers: Vec<_> = futures::stream::iter(0..FLOOD)
                .map(|i| {
                    let mut id = [7u8; 16];
                    id[..4].copy_from_slice(&i.to_be_bytes());
                    let q = Query {
                        id,
                        text: "stripes".into(),
                        ttl: 1,
                    };
                    b_client.query(c_device, q)
                })
                .buffer_unordered(32)
                .collect()
                .await;
            let took = started.elapsed();
            let after = c_client.stats().await.expect("stats");
            let taken = after.queries_taken - before.queries_taken;
            let refused = after.throttled_queries - before.throttled_queries;
            let with_hits = answers
                .iter()
                .filter(|a| a.as_ref().is_ok_and(|h| !h.0.is_empty()))
                .count() as u64;
            let failed = answers.iter().filter(|a| a.is_err()).count() as u64;
            eprintln!(
                "flood of {FLOOD} queries: {taken} taken, {refused} answered empty at once, \
                 {failed} failed, {with_hits} with hits, in {took:?}"
            );
            let allowed = u64::from(QUERY_BURST)
                + (took.as_secs_f64() / 60.0 * f64::from(QUERIES_PER_MINUTE)).ceil() as u64;
            assert!(
                taken >= 1 && taken <= allowed,
                "{taken} taken, {allowed} allowed"
            );
            // Each query was refused by the stream limit on the way, or reached Cal and was
            // taken or answered empty.
            assert!(taken + refused <= u64::from(FLOOD));
            assert!(taken + refused + failed >= u64::from(FLOOD));
            assert!(with_hits <= taken);
            // Another peer is still answered, with Cal's post.
            let d_client = d.client.borrow().clone().expect("online");
            let fresh = Query {
                id: [9; 16],
                text: "stripes".into(),
                ttl: 1,
            };
            let hits = d_client.query(c_device, fresh).await.expect("answered");
            assert_eq!(
                hits.0.len(),
                2,
                "Cal still answers others: his post, his profile"
            );
            assert_eq!(*c.dropped.borrow(), 0, "Cal stayed online");
            node.shutdown().await;
        }))
        .await;
}
