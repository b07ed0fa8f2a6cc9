//! A person's node on two kith-nodes: a standby connected and reserved beside the primary,
//! which takes over at once when the primary goes, with live delivery going on through it.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use kith_core::{Feed, Identity, Payload};
use kith_net::agent::{Agent, AgentEvent};
use kith_net::identity::keypair_of;
use kith_net::{Config, Keypair, NodePlan, TransportKind};
use kith_node::Node;
use kith_store::{MemoryStore, Store};
use tokio::task::LocalSet;

type Log = Rc<RefCell<Vec<(tokio::time::Instant, AgentEvent)>>>;

/// Starts an agent for `key` and `store` online through `node`, with `others` known.
fn agent(
    node: &Node,
    others: &[&Node],
    key: Keypair,
    store: MemoryStore,
) -> (Agent<MemoryStore>, Log) {
    let config = Config {
        gossip_heartbeat: Duration::from_millis(200),
        ..Config::default()
    };
    agent_with(node, others, key, store, config)
}

/// [`agent`] with a `config` of the caller's.
fn agent_with(
    node: &Node,
    others: &[&Node],
    key: Keypair,
    store: MemoryStore,
    config: Config,
) -> (Agent<MemoryStore>, Log) {
    let (client, events, peer, addrs) = common::node_for_agent_with(node, key, config);
    let plans = others.iter().map(|n| {
        let doc = n.bootstrap.read().expect("doc").clone();
        kith_net::node_plan(&doc, Some(TransportKind::WebSocket)).expect("plan")
    });
    let agent =
        Agent::new(client, store, peer, addrs).with_other_nodes(plans.collect::<Vec<NodePlan>>());
    let log: Log = Rc::default();
    let sink = log.clone();
    tokio::task::spawn_local(agent.clone().run(events, move |e| {
        sink.borrow_mut().push((tokio::time::Instant::now(), e))
    }));
    (agent, log)
}

async fn wait_for(
    log: &Log,
    what: &str,
    mut ok: impl FnMut(&AgentEvent) -> bool,
) -> tokio::time::Instant {
    for _ in 0..300 {
        if let Some((at, _)) = log.borrow().iter().find(|(_, e)| ok(e)) {
            return *at;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}: {:?}", log.borrow());
}

/// Stores `entry` in the author's `own` store and publishes it until `store` holds the feed
/// up to its seq.
async fn deliver(
    a: &Agent<MemoryStore>,
    entry: &kith_core::VerifiedEntry,
    own: &MemoryStore,
    store: &MemoryStore,
) {
    own.insert(std::slice::from_ref(entry))
        .await
        .expect("store");
    for _ in 0..50 {
        let _ = a.publish(entry).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if store.frontier().await.expect("frontier") == vec![(entry.author(), entry.seq())] {
            return;
        }
    }
    panic!("entry {} never arrived", entry.seq());
}

#[tokio::test]
async fn the_standby_takes_over_when_the_primary_goes_and_posts_keep_arriving() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let (_dirs, nodes) = common::joined_nodes(2).await;
            let [n1, n2] = <[Node; 2]>::try_from(nodes).ok().expect("two nodes");

            let alice = Identity::from_secret([3; 32]);
            let a_store = common::store_following(&[alice.author()]).await;
            let b_store = common::store_following(&[alice.author()]).await;
            // Alice's page came from node 1 and she knows node 2; Bob is on node 2 alone.
            let (a, a_log) = agent(&n1, &[&n2], keypair_of(&alice), a_store.clone());
            let (_b, b_log) = agent(&n2, &[], Keypair::generate_ed25519(), b_store.clone());
            wait_for(
                &a_log,
                "alice online through node 1",
                |e| matches!(e, AgentEvent::Online { node, .. } if *node == n1.peer_id),
            )
            .await;
            wait_for(&a_log, "alice's standby on node 2", |e| {
                matches!(e, AgentEvent::Standby { node: Some((p, relayed)) }
                    if *p == n2.peer_id && relayed.to_string().contains("/p2p-circuit"))
            })
            .await;
            assert_eq!(a.standby(), Some(n2.peer_id));
            wait_for(&b_log, "bob online", |e| {
                matches!(e, AgentEvent::Online { .. })
            })
            .await;

            let mut feed = Feed::new(alice.author());
            let mut post = |text: &str| {
                feed.append(&alice, &Payload::post(text), kith_net::now_ms())
                    .expect("append")
                    .clone()
            };
            let first = post("through node 1");
            deliver(&a, &first, &a_store, &b_store).await;

            // Node 1 goes. Alice is online through node 2 without going offline.
            let gone = tokio::time::Instant::now();
            n1.shutdown().await;
            let back = wait_for(
                &a_log,
                "alice online through node 2",
                |e| matches!(e, AgentEvent::Online { node, .. } if *node == n2.peer_id),
            )
            .await;
            assert!(back >= gone);
            assert_eq!(a.node(), n2.peer_id);
            let offline = a_log
                .borrow()
                .iter()
                .filter(|(at, e)| *at >= gone && matches!(e, AgentEvent::Offline { .. }))
                .count();
            assert_eq!(offline, 0, "alice never went offline: {:?}", a_log.borrow());

            // Her next post reaches Bob through node 2.
            let second = post("through node 2");
            deliver(&a, &second, &a_store, &b_store).await;
            let held = b_store.range(&alice.author(), 1, 10).await.expect("range");
            assert_eq!(held, vec![first, second], "once each, in order");
            n2.shutdown().await;
        }))
        .await;
}

#[tokio::test]
async fn a_promoted_standby_misses_nothing_and_syncs_nothing_again() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let (_dirs, nodes) = common::joined_nodes(2).await;
            let [n1, n2] = <[Node; 2]>::try_from(nodes).ok().expect("two nodes");

            // Alice posts through node 2; Bob follows her through node 1, node 2 his standby.
            let alice = Identity::from_secret([5; 32]);
            let a_store = common::store_following(&[alice.author()]).await;
            let b_store = common::store_following(&[alice.author()]).await;
            let (a, a_log) = agent(&n2, &[], keypair_of(&alice), a_store.clone());
            let (_b, b_log) = agent(&n1, &[&n2], Keypair::generate_ed25519(), b_store.clone());
            wait_for(&a_log, "alice online", |e| {
                matches!(e, AgentEvent::Online { .. })
            })
            .await;
            wait_for(
                &b_log,
                "bob's standby on node 2",
                |e| matches!(e, AgentEvent::Standby { node: Some((p, _)) } if *p == n2.peer_id),
            )
            .await;
            let mut feed = Feed::new(alice.author());
            let mut post = |text: &str| {
                feed.append(&alice, &Payload::post(text), kith_net::now_ms())
                    .expect("append")
                    .clone()
            };
            let first = post("before");
            deliver(&a, &first, &a_store, &b_store).await;
            // Bob's sync of Alice at going online has ended.
            let is_sync_of_alice = |e: &AgentEvent| {
                matches!(e, AgentEvent::Synced { author, .. } | AgentEvent::Unreachable { author }
                    if *author == alice.author())
            };
            wait_for(&b_log, "bob's first sync of alice", is_sync_of_alice).await;

            // Node 1 goes: Bob is online through node 2 at once.
            n1.shutdown().await;
            let promoted = wait_for(
                &b_log,
                "bob online through node 2",
                |e| matches!(e, AgentEvent::Online { node, .. } if *node == n2.peer_id),
            )
            .await;
            // Alice's next post reaches him live, through the node that was his standby.
            let second = post("after");
            deliver(&a, &second, &a_store, &b_store).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let held = b_store.range(&alice.author(), 1, 10).await.expect("range");
            assert_eq!(held, vec![first, second], "once each, in order");
            // And nothing was synced again: the standby had carried every live post.
            let again: Vec<_> = b_log
                .borrow()
                .iter()
                .filter(|(at, e)| *at >= promoted && is_sync_of_alice(e))
                .map(|(_, e)| format!("{e:?}"))
                .collect();
            assert!(again.is_empty(), "bob synced alice again: {again:?}");
            n2.shutdown().await;
        }))
        .await;
}

#[tokio::test]
async fn a_holder_reserved_on_another_node_is_reached_through_its_own_node() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let (_dirs, nodes) = common::joined_nodes(3).await;
            let [n1, n2, n3] = <[Node; 3]>::try_from(nodes).ok().expect("three nodes");

            // Alice is offline; Holly holds her feed and is reserved on node 3 alone.
            let alice = Identity::from_secret([4; 32]);
            let feed = common::feed_of(&alice, 3);
            let h_store = common::store_following(&[alice.author()]).await;
            h_store.insert(feed.entries()).await.expect("store");
            let holly = Keypair::generate_ed25519();
            let holly_id = holly.public().to_peer_id();
            let (_h, h_log) = agent(&n3, &[], holly, h_store);
            wait_for(&h_log, "holly online", |e| {
                matches!(e, AgentEvent::Online { .. })
            })
            .await;
            // Her announcement of Alice's feed and her signed circuit address reach node 1.
            common::wait_status(&n1, "holly's records", |s| {
                s.dht_records >= 1 && s.dht_provider_records >= 1
            })
            .await;

            // Sam, online through node 1 with node 2 his standby (and node 3 known too), follows
            // Alice: Holly is found in the DHT, is reserved on neither of his nodes, and is
            // reached through node 3.
            let s_store = common::store_following(&[alice.author()]).await;
            let (_s, s_log) = agent(
                &n1,
                &[&n2, &n3],
                Keypair::generate_ed25519(),
                s_store.clone(),
            );
            wait_for(
                &s_log,
                "sam's standby on node 2",
                |e| matches!(e, AgentEvent::Standby { node: Some((p, _)) } if *p == n2.peer_id),
            )
            .await;
            wait_for(&s_log, "sam synced alice's feed from holly", |e| {
                matches!(e, AgentEvent::Synced { author, peer, .. }
                    if *author == alice.author() && *peer == holly_id)
            })
            .await;
            let held = s_store.range(&alice.author(), 1, 10).await.expect("range");
            assert_eq!(held, feed.entries());
            for n in [n3, n2, n1] {
                n.shutdown().await;
            }
        }))
        .await;
}

#[tokio::test]
async fn the_nodes_only_the_dht_dialed_are_let_go_and_the_two_stay() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let (_dirs, nodes) = common::joined_nodes(3).await;
            let [n1, n2, n3] = <[Node; 3]>::try_from(nodes).ok().expect("three nodes");

            // Alice is online through node 1 with node 2 her standby; announcing her feed takes
            // her to node 3 too (with three nodes, every node is among the closest).
            let alice = Identity::from_secret([5; 32]);
            let store = common::store_following(&[alice.author()]).await;
            store
                .insert(common::feed_of(&alice, 1).entries())
                .await
                .expect("store");
            let key = keypair_of(&alice);
            let me = key.public().to_peer_id().to_string();
            let config = Config {
                gossip_heartbeat: Duration::from_millis(200),
                node_linger: Duration::from_secs(2),
                ..Config::default()
            };
            let (a, log) = agent_with(&n1, &[&n2], key, store, config);
            wait_for(
                &log,
                "alice online through node 1",
                |e| matches!(e, AgentEvent::Online { node, .. } if *node == n1.peer_id),
            )
            .await;
            wait_for(
                &log,
                "alice's standby on node 2",
                |e| matches!(e, AgentEvent::Standby { node: Some((p, _)) } if *p == n2.peer_id),
            )
            .await;
            common::wait_status(&n3, "alice connected to node 3", |s| {
                s.connected_peers.contains(&me)
            })
            .await;

            // Node 3 is let go once the DHT is quiet (a later query may dial it again, and let
            // it go again); nodes 1 and 2 stay.
            common::wait_status(&n3, "alice's connection to node 3 closed", |s| {
                !s.connected_peers.contains(&me)
            })
            .await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            for n in [&n1, &n2] {
                let status = n.control.status().await.expect("status");
                assert!(
                    status.connected_peers.contains(&me),
                    "alice is still connected to {}",
                    n.peer_id
                );
            }
            assert_eq!(a.node(), n1.peer_id);
            assert_eq!(a.standby(), Some(n2.peer_id));
            assert!(
                !log.borrow()
                    .iter()
                    .any(|(_, e)| matches!(e, AgentEvent::Offline { .. })),
                "alice never went offline: {:?}",
                log.borrow()
            );
            for n in [n3, n2, n1] {
                n.shutdown().await;
            }
        }))
        .await;
}
