//! Notifications over the real network: people's apps (kith-app over kith-net's agent, each
//! on its own store) against a real kith-node. A reply and a mention from someone not
//! followed reach the author; a block drops them; a reaction made while the author is offline
//! reaches them when they come back; and a flood from one peer is throttled while the
//! receiver keeps working.

mod common;

use std::time::{Duration, Instant};

use common::apps::person;
use futures::StreamExt;
use kith_app::route::Route;
use kith_app::{Command, Update};
use kith_core::{EntryRef, Feed, Hash, Identity, NoteKind, Payload};
use kith_net::notify::{Answer, NOTE_BURST, NOTES_PER_MINUTE};
use kith_net::{Multiaddr, PeerId};
use kith_node::Node;
use kith_store::{Outbox, Store};
use tokio::task::LocalSet;

fn kinds(n: &kith_app::view::Notifications) -> Vec<NoteKind> {
    n.items.iter().map(|i| i.kind).collect()
}

#[tokio::test]
async fn replies_mentions_and_reactions_reach_people_who_do_not_follow_back() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let alice = person(&node, "Alice", "alice", 31).await;
            let carol = person(&node, "Carol", "carol", 32).await;
            alice.until("alice online", |p| *p.online.borrow()).await;
            carol.until("carol online", |p| *p.online.borrow()).await;
            alice.post("hello from alice").await;

            // Carol does not follow Alice: she finds her by handle and opens her profile (a
            // preview), which shows the post.
            let mut post = None;
            for _ in 0..30 {
                carol.run(Command::Search("@alice".into())).await;
                carol
                    .run(Command::Open(Route::Profile(alice.app.me())))
                    .await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                post = carol.updates.borrow().iter().rev().find_map(|u| match u {
                    Update::Profile(p) => p.posts.first().map(|t| t.post.id),
                    _ => None,
                });
                if post.is_some() {
                    break;
                }
            }
            let post: EntryRef = post.expect("alice's post in the preview");

            let sent = Instant::now();
            carol
                .run(Command::Post {
                    text: "nice one".into(),
                    reply_to: Some(post),
                    images: Vec::new(),
                })
                .await;
            carol.post("thinking of @alice today").await;
            alice
                .until("a reply and a mention", |p| {
                    let k = kinds(&p.notifications());
                    k.contains(&NoteKind::Reply) && k.contains(&NoteKind::Mention)
                })
                .await;
            eprintln!("reply and mention notified in {:?}", sent.elapsed());
            let n = alice.notifications();
            assert_eq!(n.unread, 2);
            assert!(
                n.items
                    .iter()
                    .all(|i| i.who.author == carol.app.me() && !i.followed)
            );
            // Named: her profile came with the notification.
            assert!(n.items.iter().all(|i| i.who.name == "Carol"), "{n:?}");
            // The reply is threaded under Alice's post, marked as from someone not followed.
            let home = alice.home();
            let thread = home.iter().find(|t| t.post.id == post).expect("her post");
            assert_eq!(thread.replies.len(), 1);
            assert!(thread.replies[0].post.unfollowed);
            assert_eq!(thread.replies[0].post.text, "nice one");
            // Carol's outbox is empty: both were taken.
            let outbox = Outbox::read(carol.app.store()).await.expect("outbox");
            assert!(outbox.items.is_empty(), "{outbox:?}");

            // Blocked: Carol's next reply is refused and never shown; her outbox lets it go.
            alice
                .run(Command::SetStance {
                    author: carol.app.me(),
                    stance: Some(kith_store::Stance::Blocked),
                })
                .await;
            carol
                .run(Command::Post {
                    text: "a reply while blocked".into(),
                    reply_to: Some(post),
                    images: Vec::new(),
                })
                .await;
            let seq = carol
                .app
                .store()
                .feed(&carol.app.me())
                .await
                .expect("feed")
                .expect("held")
                .head_seq();
            let mut delivered = false;
            for _ in 0..100 {
                // Queued (the scan mark passed it) and gone from the outbox: answered.
                let outbox = Outbox::read(carol.app.store()).await.expect("outbox");
                if outbox.scanned >= Some(seq) && outbox.items.iter().all(|i| i.seq != seq) {
                    delivered = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(delivered, "the refusal is final for the sender");
            let inbox = kith_store::Inbox::read(alice.app.store())
                .await
                .expect("inbox");
            assert_eq!(inbox.notes.len(), 2, "nothing kept from a blocked person");
            alice
                .run(Command::SetStance {
                    author: carol.app.me(),
                    stance: None,
                })
                .await;

            // Alice goes offline; Carol reacts; Alice comes back and gets it.
            alice.go_offline().await;
            carol
                .run(Command::React {
                    target: post,
                    emoji: "🎉".into(),
                })
                .await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            let waiting = Outbox::read(carol.app.store()).await.expect("outbox");
            assert_eq!(waiting.items.len(), 1, "kept while alice is away");
            assert!(waiting.items[0].tries >= 1);
            let back = Instant::now();
            alice.go_online(&node).await;
            alice
                .until("the reaction made while offline", |p| {
                    kinds(&p.notifications()).contains(&NoteKind::Reaction)
                })
                .await;
            eprintln!("delivered {:?} after coming back", back.elapsed());
            node.shutdown().await;
        }))
        .await;
}

#[tokio::test]
async fn a_flood_of_notifications_from_one_peer_is_throttled_and_the_receiver_keeps_working() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let alice = person(&node, "Alice", "alice", 41).await;
            alice.until("alice online", |p| *p.online.borrow()).await;
            let device = kith_net::identity::device_keypair(
                alice.app.device_key().await.expect("device key"),
            )
            .public()
            .to_peer_id();
            let circuit = |to: PeerId| -> Multiaddr {
                format!("{}/p2p-circuit/p2p/{to}", common::node_ws(&node))
                    .parse()
                    .expect("addr")
            };

            // 10,000 valid replies to Alice, each signed, from one peer.
            const FLOOD: usize = 10_000;
            let flooder = Identity::from_secret([42; 32]);
            let target = EntryRef {
                author: alice.app.me(),
                seq: 1,
                hash: Hash([7; 32]),
            };
            let mut feed = Feed::new(flooder.author());
            let now = kith_net::now_ms();
            let entries: Vec<_> = (0..FLOOD)
                .map(|i| {
                    feed.append(
                        &flooder,
                        &Payload::Post {
                            text: format!("flood {i}"),
                            reply_to: Some(target),
                            mentions: Vec::new(),
                            images: Vec::new(),
                        },
                        now,
                    )
                    .expect("append")
                    .clone()
                })
                .collect();
            let (f, _events) =
                common::client_with(&node, kith_net::identity::keypair_of(&flooder)).await;
            f.dial(device, vec![circuit(device)])
                .await
                .expect("reach alice");
            let start = Instant::now();
            let answers: Vec<_> = futures::stream::iter(entries.iter())
                .map(|e| f.notify(device, e, None))
                .buffer_unordered(32)
                .collect()
                .await;
            let took = start.elapsed();
            let count = |a: Answer| answers.iter().filter(|r| **r == Ok(a)).count();
            let (kept, later) = (count(Answer::Kept), count(Answer::Later));
            let failed = answers.iter().filter(|r| r.is_err()).count();
            let first_failure = answers.iter().find_map(|r| r.as_ref().err());
            eprintln!(
                "flood of {FLOOD}: {kept} kept, {later} answered later, {failed} failed \
                 ({first_failure:?}), in {took:?}"
            );
            let allowed = NOTE_BURST as usize
                + (took.as_secs_f64() / 60.0 * f64::from(NOTES_PER_MINUTE)).ceil() as usize;
            assert!(
                kept >= 1 && kept <= allowed,
                "{kept} kept, {allowed} allowed"
            );
            assert_eq!(kept + later + failed, FLOOD);
            assert!(later >= FLOOD - allowed - failed);

            // Alice keeps working: someone else's reply is kept at once, and shown.
            let bob = Identity::from_secret([43; 32]);
            let mut bob_feed = Feed::new(bob.author());
            let reply = bob_feed
                .append(
                    &bob,
                    &Payload::Post {
                        text: "an honest reply".into(),
                        reply_to: Some(target),
                        mentions: Vec::new(),
                        images: Vec::new(),
                    },
                    kith_net::now_ms(),
                )
                .expect("append")
                .clone();
            let (b, _b_events) =
                common::client_with(&node, kith_net::identity::keypair_of(&bob)).await;
            b.dial(device, vec![circuit(device)])
                .await
                .expect("reach alice");
            assert_eq!(b.notify(device, &reply, None).await, Ok(Answer::Kept));
            alice
                .until("the honest reply listed", |p| {
                    p.notifications()
                        .items
                        .iter()
                        .any(|i| i.who.author == bob.author())
                })
                .await;
            assert_eq!(alice.notifications().items.len(), kept + 1);
            // A forged entry and one that does not concern Alice are refused.
            let mut forged = reply.encode();
            let last = forged.len() - 1;
            forged[last] ^= 1;
            assert_eq!(
                b.notify_bytes(device, kith_net::notify::encode_note_bytes(forged, None))
                    .await,
                Ok(Answer::Refused)
            );
            assert_eq!(
                b.notify_bytes(device, b"not a notification".to_vec()).await,
                Ok(Answer::Refused)
            );
            let plain = bob_feed
                .append(&bob, &Payload::post("not for alice"), kith_net::now_ms())
                .expect("append")
                .clone();
            assert_eq!(b.notify(device, &plain, None).await, Ok(Answer::Refused));
            assert_eq!(*alice.dropped.borrow(), 0, "alice stayed online");
            node.shutdown().await;
        }))
        .await;
}
