//! Backfill and replication through kith-node: a late follower fetches an author's history
//! from the author over a relayed circuit, and when the author is offline, a third peer finds
//! a follower in the DHT and gets the author's posts from it, every entry verified.

mod common;

use std::rc::Rc;
use std::time::Duration;

use kith_core::{Feed, Identity, Payload};
use kith_net::identity::keypair_of;
use kith_net::replica::Replica;
use kith_net::{Client, Event, Multiaddr, PeerId};
use kith_node::Node;
use kith_store::{MemoryStore, Store};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::LocalSet;

const POSTS: u64 = 150;

fn alice_feed(alice: &Identity) -> Feed {
    let mut f = Feed::new(alice.author());
    let start = kith_net::now_ms() - 1_000_000;
    for i in 0..POSTS {
        f.append(alice, &Payload::post(format!("alice {i}")), start + i)
            .expect("append");
    }
    f
}

/// Serves sync requests from `replica` until the events end; other events are dropped.
fn serve(replica: Rc<Replica<MemoryStore>>, mut events: UnboundedReceiver<Event>) {
    tokio::task::spawn_local(async move {
        while let Some(e) = events.recv().await {
            if let Event::SyncRequest { id, message, .. } = e {
                let _ = replica.serve(id, message).await;
            }
        }
    });
}

/// A peer reachable through the node's relay: returns its client, replica and peer id.
async fn relayed_peer(
    node: &Node,
    key: kith_net::Keypair,
    store: MemoryStore,
) -> (Client, Rc<Replica<MemoryStore>>, PeerId) {
    let peer = key.public().to_peer_id();
    let (client, events) = common::client_with(node, key).await;
    let relay: Multiaddr = common::node_ws(node).parse().expect("addr");
    client
        .listen_via_relay(relay)
        .await
        .expect("relay reservation");
    let replica = Rc::new(Replica::new(client.clone(), store));
    serve(replica.clone(), events);
    (client, replica, peer)
}

async fn dial_via_relay(node: &Node, client: &Client, peer: PeerId) {
    let addr: Multiaddr = format!("{}/p2p-circuit/p2p/{peer}", common::node_ws(node))
        .parse()
        .expect("addr");
    client
        .dial(peer, vec![addr])
        .await
        .expect("a circuit through the node");
}

async fn follower(node: &Node, follows: &Identity) -> (Client, Replica<MemoryStore>) {
    let store = MemoryStore::new();
    store
        .update_meta(&follows.author(), &|m| m.followed = true)
        .await
        .expect("follow");
    let (client, _events) = common::client(node).await;
    (client.clone(), Replica::new(client, store))
}

#[tokio::test]
async fn a_late_follower_backfills_the_authors_history_from_the_author() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let alice = Identity::from_secret([1; 32]);
            let feed = alice_feed(&alice);
            let store = MemoryStore::new();
            store
                .insert(feed.entries())
                .await
                .expect("alice's own feed");
            let (_a, _a_replica, a_peer) = relayed_peer(&node, keypair_of(&alice), store).await;

            let (c, c_replica) = follower(&node, &alice).await;
            dial_via_relay(&node, &c, a_peer).await;
            let seen = std::cell::RefCell::new(Vec::new());
            let done = c_replica
                .sync_with(a_peer, |p| seen.borrow_mut().push(p))
                .await
                .expect("sync");
            assert_eq!((done.have, done.want, done.done), (POSTS, POSTS, true));
            assert!(seen.borrow().len() >= 2, "progress reported as it went");
            let held = c_replica
                .store()
                .range(&alice.author(), 1, 1000)
                .await
                .expect("range");
            assert_eq!(held, feed.entries());
            let meta = c_replica
                .store()
                .feed(&alice.author())
                .await
                .expect("meta")
                .expect("held");
            assert!(meta.last_synced_ms.is_some());
            // A second sync has nothing to do.
            let again = c_replica
                .sync_with(a_peer, |_| {})
                .await
                .expect("sync again");
            assert_eq!((again.have, again.want), (0, 0));
            node.shutdown().await;
        }))
        .await;
}

#[tokio::test]
async fn with_the_author_offline_a_follower_found_in_the_dht_serves_the_posts() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let alice = Identity::from_secret([1; 32]);
            let feed = alice_feed(&alice);

            // Alice is online at first; Bob follows her and copies her feed.
            let a_store = MemoryStore::new();
            a_store.insert(feed.entries()).await.expect("alice's feed");
            let (a_client, a_replica, a_peer) =
                relayed_peer(&node, keypair_of(&alice), a_store).await;
            let b_store = MemoryStore::new();
            b_store
                .update_meta(&alice.author(), &|m| m.followed = true)
                .await
                .expect("follow");
            let (b_client, b_replica, b_peer) =
                relayed_peer(&node, kith_net::Keypair::generate_ed25519(), b_store).await;
            dial_via_relay(&node, &b_client, a_peer).await;
            b_replica
                .sync_with(a_peer, |_| {})
                .await
                .expect("bob syncs from alice");
            // Bob announces the feeds he holds (retrying until the node is in his routing table).
            let mut provided = false;
            for _ in 0..50 {
                if b_replica.provide_all().await.is_ok() {
                    provided = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(provided, "bob could not announce alice's feed");

            // Alice goes offline.
            drop((a_client, a_replica));
            let _ = b_client.disconnect(a_peer).await;

            // Dave follows Alice, finds Bob in the DHT and syncs Alice's posts from him.
            let (d, d_replica) = follower(&node, &alice).await;
            let mut providers = Vec::new();
            for _ in 0..50 {
                providers = d.find_providers(alice.author()).await.unwrap_or_default();
                if providers.contains(&b_peer) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                providers.contains(&b_peer),
                "bob not found as a provider: {providers:?}"
            );
            dial_via_relay(&node, &d, b_peer).await;
            let done = d_replica
                .sync_with(b_peer, |_| {})
                .await
                .expect("sync from bob");
            assert_eq!(done.have, POSTS);
            let held = d_replica
                .store()
                .range(&alice.author(), 1, 1000)
                .await
                .expect("range");
            assert_eq!(
                held,
                feed.entries(),
                "alice's posts, verified against her key"
            );
            node.shutdown().await;
        }))
        .await;
}
