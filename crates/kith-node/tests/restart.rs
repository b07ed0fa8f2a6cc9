//! kith-node restarts mid-run: every client reconnects by itself, reserves its relay slot and
//! announces its feeds again, and re-syncs, so nothing posted meanwhile is lost.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use kith_core::{Feed, Identity, Payload};
use kith_net::agent::{Agent, AgentEvent};
use kith_net::identity::keypair_of;
use kith_net::{Keypair, Multiaddr};
use kith_node::Node;
use kith_store::{MemoryStore, Store};
use tokio::task::LocalSet;

fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port().to_string())
        .expect("a free port")
}

type Log = Rc<RefCell<Vec<AgentEvent>>>;

/// Starts an agent for `key` and `store` against `node`; its reports go to the returned log.
fn agent(node: &Node, key: Keypair, store: MemoryStore) -> (kith_net::Client, Log) {
    let (client, events, peer, addrs) = common::node_for_agent(node, key);
    let log: Log = Rc::default();
    let sink = log.clone();
    let agent = Agent::new(client.clone(), store, peer, addrs);
    tokio::task::spawn_local(agent.run(events, move |e| sink.borrow_mut().push(e)));
    (client, log)
}

async fn wait_for(log: &Log, what: &str, mut ok: impl FnMut(&[AgentEvent]) -> bool) {
    for _ in 0..300 {
        if ok(&log.borrow()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}: {:?}", log.borrow());
}

fn onlines(events: &[AgentEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, AgentEvent::Online { .. }))
        .count()
}

#[tokio::test]
async fn clients_recover_from_a_node_restart_with_nothing_lost() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let (http, ws, rtc) = (
                format!("127.0.0.1:{}", free_port()),
                free_port(),
                free_port(),
            );
            let flags = [
                "--http",
                http.as_str(),
                "--ws-port",
                ws.as_str(),
                "--webrtc-port",
                rtc.as_str(),
            ];
            let node = Node::start(common::cli(dir.path(), &flags))
                .await
                .expect("node");

            let alice = Identity::from_secret([1; 32]);
            let a_store = common::store_following(&[alice.author()]).await;
            let b_store = common::store_following(&[alice.author()]).await;
            let (a, a_log) = agent(&node, keypair_of(&alice), a_store.clone());
            let (_b, b_log) = agent(&node, Keypair::generate_ed25519(), b_store.clone());
            wait_for(&a_log, "alice online", |e| onlines(e) >= 1).await;
            wait_for(&b_log, "bob online", |e| onlines(e) >= 1).await;

            // Alice posts; Bob gets it live.
            let mut feed = Feed::new(alice.author());
            let post = |feed: &mut Feed, text: &str| {
                feed.append(&alice, &Payload::post(text), kith_net::now_ms())
                    .expect("append")
                    .clone()
            };
            let first = post(&mut feed, "before the restart");
            a_store
                .insert(std::slice::from_ref(&first))
                .await
                .expect("store");
            let mut delivered = false;
            for _ in 0..50 {
                let _ = a.publish(&first).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                if b_store.frontier().await.expect("frontier") == vec![(alice.author(), 1)] {
                    delivered = true;
                    break;
                }
            }
            assert!(delivered, "the first post never reached bob");

            // The node goes away; Alice keeps posting (kept in her own store).
            node.shutdown().await;
            wait_for(&a_log, "alice offline", |e| {
                e.iter().any(|x| matches!(x, AgentEvent::Offline { .. }))
            })
            .await;
            wait_for(&b_log, "bob offline", |e| {
                e.iter().any(|x| matches!(x, AgentEvent::Offline { .. }))
            })
            .await;
            let during: Vec<_> = (0..3)
                .map(|i| post(&mut feed, &format!("during the outage {i}")))
                .collect();
            a_store.insert(&during).await.expect("store");

            // Same node, same identity and ports, back again.
            let node = Node::start(common::cli(dir.path(), &flags))
                .await
                .expect("node again");
            wait_for(&a_log, "alice back online", |e| onlines(e) >= 2).await;
            wait_for(&b_log, "bob back online", |e| onlines(e) >= 2).await;
            let mut caught_up = false;
            for _ in 0..100 {
                if b_store.frontier().await.expect("frontier") == vec![(alice.author(), 4)] {
                    caught_up = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(caught_up, "bob did not re-sync: {:?}", b_log.borrow());
            let held = b_store.range(&alice.author(), 1, 10).await.expect("range");
            assert_eq!(held, feed.entries(), "nothing lost, everything verified");
            let relayed: Vec<Multiaddr> = a_log
                .borrow()
                .iter()
                .filter_map(|e| match e {
                    AgentEvent::Online { relayed, .. } => Some(relayed.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(
                relayed.len(),
                2,
                "alice reserved a relay slot on each connection"
            );
            assert!(
                relayed
                    .iter()
                    .all(|a| a.to_string().contains("/p2p-circuit")),
                "{relayed:?}"
            );
            node.shutdown().await;
        }))
        .await;
}

#[tokio::test]
async fn a_gap_seen_in_gossip_is_filled_by_a_sync() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let alice = Identity::from_secret([1; 32]);
            let a_store = common::store_following(&[alice.author()]).await;
            let b_store = common::store_following(&[alice.author()]).await;
            let (a, a_log) = agent(&node, keypair_of(&alice), a_store.clone());
            let (_b, b_log) = agent(&node, Keypair::generate_ed25519(), b_store.clone());
            wait_for(&a_log, "alice online", |e| onlines(e) >= 1).await;
            wait_for(&b_log, "bob online", |e| onlines(e) >= 1).await;

            // Alice writes three posts but only the third goes out live.
            let feed = common::feed_of(&alice, 3);
            a_store.insert(feed.entries()).await.expect("store");
            let third = feed.entries()[2].clone();
            let mut filled = false;
            for _ in 0..50 {
                let _ = a.publish(&third).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                if b_store.frontier().await.expect("frontier") == vec![(alice.author(), 3)] {
                    filled = true;
                    break;
                }
            }
            assert!(filled, "the gap was not filled: {:?}", b_log.borrow());
            assert_eq!(
                b_store.range(&alice.author(), 1, 10).await.expect("range"),
                feed.entries()
            );
            let progressed = b_log.borrow().iter().any(|e| {
                matches!(
                    e,
                    AgentEvent::SyncProgress {
                        have: 3,
                        want: 3,
                        ..
                    }
                )
            });
            assert!(progressed, "progress reported: {:?}", b_log.borrow());
            node.shutdown().await;
        }))
        .await;
}

/// A reloaded tab comes back with the same key while kith-node still holds its old connection.
/// kith-node closes every connection of such a returning peer, so the client's agent gets a
/// clean first connection: gossipsub announces its subscriptions only on a peer's first one,
/// and without them nothing the client publishes would leave.
#[tokio::test]
async fn a_returning_client_gets_live_delivery_back() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let alice = Identity::from_secret([3; 32]);
            let b_store = MemoryStore::new();
            b_store
                .update_meta(&alice.author(), &|m| m.followed = true)
                .await
                .expect("follow");
            let (_b, b_log) = agent(&node, Keypair::generate_ed25519(), b_store.clone());
            wait_for(&b_log, "bob online", |e| onlines(e) >= 1).await;
            // The old tab: connected, and still open when the new one arrives.
            let (_old, _old_events) = common::client_with(&node, keypair_of(&alice)).await;
            tokio::time::sleep(Duration::from_millis(2500)).await;
            let a_store = MemoryStore::new();
            let (a, a_log) = agent(&node, keypair_of(&alice), a_store.clone());
            wait_for(&a_log, "alice online again", |e| onlines(e) >= 1).await;
            let mut feed = Feed::new(alice.author());
            let entry = feed
                .append(&alice, &Payload::post("back"), kith_net::now_ms())
                .expect("append")
                .clone();
            a_store
                .insert(std::slice::from_ref(&entry))
                .await
                .expect("store");
            let mut published = Err(String::new());
            for _ in 0..25 {
                published = a.publish(&entry).await.map_err(|e| e.to_string());
                if published.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert_eq!(published, Ok(()), "alice's agent log: {:?}", a_log.borrow());
            wait_for(&b_log, "bob receiving alice's post live", |e| {
                e.iter()
                    .any(|x| matches!(x, AgentEvent::Stored { seq: 1, .. }))
            })
            .await;
            node.shutdown().await;
        }))
        .await;
}
