//! Images over the real network: people's agents (kith-net, each on its own store) through
//! the kith-node binary. A follower fetches a post's images from the author by hash; with the
//! author offline, a third person gets them from the follower, found in the DHT; a holder that
//! answers with other bytes is refused and the next holder asked; after the delete, the
//! follower's copies are gone and it serves them no more.
#![cfg(target_os = "linux")]

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use kith_core::image::{MAX_IMAGE_SIDE, samples};
use kith_core::{BootstrapDoc, Feed, Identity, ImageRef, Payload};
use kith_net::agent::{Agent, AgentEvent};
use kith_net::identity::keypair_of;
use kith_net::images::{Answer, FetchError};
use kith_net::{Config, Event, Multiaddr, TransportKind, dial_plan};
use kith_node::Node;
use kith_store::{MemoryStore, Store};
use tokio::task::LocalSet;

type Log = Rc<RefCell<Vec<AgentEvent>>>;

/// A person's agent over `store`, under the person's own key (as a native client runs),
/// online through the node that serves `doc`; returns once it is online.
async fn online(
    doc: &BootstrapDoc,
    id: &Identity,
    store: MemoryStore,
) -> (Agent<MemoryStore>, tokio::task::JoinHandle<()>) {
    let config = Config {
        gossip_heartbeat: Duration::from_millis(200),
        ..Config::default()
    };
    let (client, events, event_loop) = kith_net::new(keypair_of(id), config).expect("client");
    tokio::spawn(event_loop.run());
    let (peer, addrs) = dial_plan(doc, Some(TransportKind::WebSocket)).expect("plan");
    let agent = Agent::new(client, store, peer, addrs);
    let log: Log = Rc::default();
    let sink = log.clone();
    let run = tokio::task::spawn_local(
        agent
            .clone()
            .run(events, move |e| sink.borrow_mut().push(e)),
    );
    for _ in 0..300 {
        if log
            .borrow()
            .iter()
            .any(|e| matches!(e, AgentEvent::Online { .. }))
        {
            return (agent, run);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not online: {:?}", log.borrow());
}

/// A store holding `feed`, followed.
async fn holding(feed: &Feed) -> MemoryStore {
    let store = MemoryStore::new();
    store.insert(feed.entries()).await.expect("the feed");
    store
        .update_meta(&feed.author(), &|m| m.followed = true)
        .await
        .expect("follow");
    store
}

#[tokio::test]
async fn images_come_by_hash_from_the_author_then_from_a_holder_and_go_with_the_post() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let doc = node.bootstrap.read().expect("doc").clone();
            let (alice, bob, carol, dave) = (
                Identity::from_secret([1; 32]),
                Identity::from_secret([2; 32]),
                Identity::from_secret([3; 32]),
                Identity::from_secret([4; 32]),
            );
            // Two pictures of about 200 KB each in one post.
            let pngs: Vec<Vec<u8>> = (0..2).map(|i| samples::png(320, 240, i, 120_000)).collect();
            let refs: Vec<ImageRef> = pngs
                .iter()
                .map(|b| ImageRef::of(b, MAX_IMAGE_SIDE).expect("image"))
                .collect();
            let mut feed = Feed::new(alice.author());
            let start = kith_net::now_ms() - 60_000;
            feed.append(&alice, &Payload::post("hello"), start)
                .expect("post");
            let post = feed
                .append(
                    &alice,
                    &Payload::Post {
                        text: "two pictures".into(),
                        reply_to: None,
                        mentions: Vec::new(),
                        images: refs.clone(),
                    },
                    start + 1,
                )
                .expect("post")
                .entry_ref();
            let a_store = holding(&feed).await;
            for (i, b) in pngs.iter().enumerate() {
                a_store
                    .put_image(&alice.author(), post.seq, i as u8, b)
                    .await
                    .expect("alice keeps her pictures");
            }
            let (alice_agent, a_run) = online(&doc, &alice, a_store).await;

            // Bob holds the post (as a sync left it) and fetches its pictures from Alice.
            let b_store = holding(&feed).await;
            let (bob_agent, _b_run) = online(&doc, &bob, b_store.clone()).await;
            for (i, b) in pngs.iter().enumerate() {
                let got = bob_agent
                    .fetch_image(alice.author(), post.seq, i as u8)
                    .await
                    .expect("from alice");
                assert_eq!(&got, b, "byte-identical");
                assert_eq!(b_store.image(&refs[i].hash).await.expect("read"), Some(got));
            }
            // An image the post does not name is no fetch at all.
            assert_eq!(
                bob_agent.fetch_image(alice.author(), post.seq, 2).await,
                Err(FetchError::NotNamed)
            );

            // Alice goes offline. A holder running under her key (asked first, as the author)
            // answers with other bytes; Carol refuses them and gets the pictures from Bob,
            // found in the DHT.
            // Her node goes away whole (its connection to kith-node closed, its swarm ended
            // with its last client), so her key's relay slot is free for the forger.
            let node_peer = alice_agent.node();
            let _ = alice_agent.client().disconnect(node_peer).await;
            a_run.abort();
            drop(alice_agent);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (forger, mut forger_events) = common::client_with(&node, keypair_of(&alice)).await;
            let relay: Multiaddr = common::node_ws(&node).parse().expect("addr");
            forger.listen_via_relay(relay).await.expect("reservation");
            let asked = Rc::new(RefCell::new(0));
            let forger_asked = asked.clone();
            let forger_answers = forger.clone();
            tokio::task::spawn_local(async move {
                while let Some(e) = forger_events.recv().await {
                    if let Event::ImageRequest { id, .. } = e {
                        *forger_asked.borrow_mut() += 1;
                        let other = samples::png(320, 240, 9, 120_000);
                        let _ = forger_answers.answer_image(id, Answer::Here(other)).await;
                    }
                }
            });
            // Carol holds the post (a preview, not followed: nothing fetches its pictures
            // in the background) and asks for a picture.
            let c_store = MemoryStore::new();
            c_store.insert(feed.entries()).await.expect("the feed");
            let (carol_agent, _c_run) = online(&doc, &carol, c_store.clone()).await;
            let got = carol_agent
                .fetch_image(alice.author(), post.seq, 1)
                .await
                .expect("from bob");
            assert_eq!(got, pngs[1]);
            assert_eq!(
                *asked.borrow(),
                1,
                "the holder under the author's key was asked first, and its bytes refused"
            );
            assert_eq!(
                c_store.image(&refs[1].hash).await.expect("read"),
                Some(pngs[1].clone()),
                "only the right bytes are kept"
            );

            // Alice's delete reaches Bob: his copies are gone, and he serves them no more.
            feed.append(&alice, &Payload::Delete { target: post }, start + 2)
                .expect("delete");
            b_store
                .insert(&feed.entries()[2..])
                .await
                .expect("the delete");
            for r in &refs {
                assert_eq!(b_store.image(&r.hash).await.expect("read"), None);
            }
            let d_store = holding(&feed).await;
            let (dave_agent, _d_run) = online(&doc, &dave, d_store).await;
            // Dave holds the delete too: the post names no image any more.
            assert_eq!(
                dave_agent.fetch_image(alice.author(), post.seq, 0).await,
                Err(FetchError::NotNamed)
            );
            let bob_peer = keypair_of(&bob).public().to_peer_id();
            let circuit: Multiaddr =
                format!("{}/p2p-circuit/p2p/{bob_peer}", common::node_ws(&node))
                    .parse()
                    .expect("addr");
            let asker = dave_agent.client();
            asker
                .dial(bob_peer, vec![circuit])
                .await
                .expect("a circuit to bob");
            let answer = asker.fetch_image(bob_peer, refs[0].hash).await;
            assert!(matches!(answer, Ok(Answer::NotHeld)), "{answer:?}");
            node.shutdown().await;
        }))
        .await;
}

/// A follower keeps the images of the posts it holds without anyone asking for them: a post
/// that arrives live, and the latest posts of a sync, bring their images too, so the follower
/// serves them once the author is offline.
#[tokio::test]
async fn a_follower_keeps_the_images_of_the_posts_it_receives() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let doc = node.bootstrap.read().expect("doc").clone();
            let (alice, bob) = (
                Identity::from_secret([5; 32]),
                Identity::from_secret([6; 32]),
            );
            let png = samples::png(100, 80, 5, 1_000);
            let image = ImageRef::of(&png, MAX_IMAGE_SIDE).expect("image");
            let mut feed = Feed::new(alice.author());
            let start = kith_net::now_ms() - 60_000;
            feed.append(&alice, &Payload::post("hello"), start)
                .expect("post");
            let a_store = holding(&feed).await;
            let (alice_agent, _a_run) = online(&doc, &alice, a_store.clone()).await;
            // Bob follows Alice and holds her feed so far; he is online.
            let b_store = holding(&feed).await;
            let (_bob_agent, _b_run) = online(&doc, &bob, b_store.clone()).await;
            // Alice posts a picture live.
            let entry = feed
                .append(
                    &alice,
                    &Payload::Post {
                        text: "live picture".into(),
                        reply_to: None,
                        mentions: Vec::new(),
                        images: vec![image],
                    },
                    kith_net::now_ms(),
                )
                .expect("post")
                .clone();
            a_store
                .insert(std::slice::from_ref(&entry))
                .await
                .expect("kept");
            a_store
                .put_image(&alice.author(), entry.seq(), 0, &png)
                .await
                .expect("her picture");
            let mut kept = None;
            for _ in 0..200 {
                let _ = alice_agent.publish(&entry).await;
                kept = b_store.image(&image.hash).await.expect("read");
                if kept.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(
                kept,
                Some(png),
                "Bob keeps the picture of the post he received"
            );

            // With his cap on one person's feed at 1 MiB, Alice's next post of four pictures
            // of about 300 KB each is not all fetched ahead: the feed stays within the cap.
            kith_store::FeedLimits {
                entries: 20_000,
                bytes: kith_store::limits::MIN_MAX_BYTES,
            }
            .write(&b_store)
            .await
            .expect("cap");
            let big: Vec<Vec<u8>> = (0..4)
                .map(|i| samples::png(100, 100, 10 + i, 300_000))
                .collect();
            let refs: Vec<ImageRef> = big
                .iter()
                .map(|b| ImageRef::of(b, MAX_IMAGE_SIDE).expect("image"))
                .collect();
            let heavy = feed
                .append(
                    &alice,
                    &Payload::Post {
                        text: "four large pictures".into(),
                        reply_to: None,
                        mentions: Vec::new(),
                        images: refs.clone(),
                    },
                    kith_net::now_ms(),
                )
                .expect("post")
                .clone();
            a_store
                .insert(std::slice::from_ref(&heavy))
                .await
                .expect("kept");
            for (i, b) in big.iter().enumerate() {
                a_store
                    .put_image(&alice.author(), heavy.seq(), i as u8, b)
                    .await
                    .expect("her pictures");
            }
            let mut fetched = 0;
            for _ in 0..200 {
                let _ = alice_agent.publish(&heavy).await;
                fetched = 0;
                for r in &refs {
                    if b_store.image(&r.hash).await.expect("read").is_some() {
                        fetched += 1;
                    }
                }
                if fetched > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(fetched > 0, "the first pictures fit and are fetched");
            // Time for the rest, if anything let them through.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let held = b_store
                .feed(&alice.author())
                .await
                .expect("meta")
                .expect("held")
                .bytes;
            assert!(
                held <= kith_store::limits::MIN_MAX_BYTES,
                "Alice's feed holds {held} bytes here, over the cap"
            );
            let mut all = 0;
            for r in &refs {
                if b_store.image(&r.hash).await.expect("read").is_some() {
                    all += 1;
                }
            }
            assert!(all < 4, "not every picture was fetched ahead ({all} of 4)");
            node.shutdown().await;
        }))
        .await;
}
