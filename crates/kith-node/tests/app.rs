//! kith-app's rules over the real network: two people's apps, each over its own store with
//! kith-net's agent as its network, against a real kith-node. Onboarding, handle search in the
//! DHT, a follow and its sync, live posts, a reaction taken back, a delete, and who holds a
//! feed: the same commands as the browser's, with nothing faked.

mod common;

use std::time::Duration;

use common::apps::{Person, device, person};
use kith_app::route::Route;
use kith_app::view::Search;
use kith_app::{Command, Update};
use kith_node::Node;
use kith_store::{MemoryStore, Store};
use tokio::task::LocalSet;

#[tokio::test]
async fn the_apps_rules_hold_over_a_real_kith_node() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let alice = person(&node, "Alice", "alice", 11).await;
            let bob = person(&node, "Bob", "bob", 12).await;
            alice.until("alice online", |p| *p.online.borrow()).await;
            bob.until("bob online", |p| *p.online.borrow()).await;

            // Bob finds Alice by handle: her app claimed it when it came online.
            let mut found = None;
            for _ in 0..30 {
                bob.run(Command::Search("@alice".into())).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                found = bob.updates.borrow().iter().rev().find_map(|u| match u {
                    Update::Search(Search::Done { hits, .. }) if !hits.is_empty() => {
                        Some(hits.clone())
                    }
                    _ => None,
                });
                if found.is_some() {
                    break;
                }
            }
            let hits = found.expect("alice found by handle");
            assert_eq!(hits[0].author, alice.app.me());

            // A post from before the follow arrives with the follow's sync.
            alice
                .run(Command::Post {
                    text: "before you followed".into(),
                    reply_to: None,
                    images: Vec::new(),
                })
                .await;
            bob.run(Command::Follow(alice.app.me())).await;
            bob.until("the sync", |p| {
                p.home_texts().contains(&"before you followed".to_owned())
            })
            .await;

            // Live posts reach Bob's timeline.
            alice
                .run(Command::Post {
                    text: "live".into(),
                    reply_to: None,
                    images: Vec::new(),
                })
                .await;
            bob.until("a live post", |p| {
                p.home_texts().first().map(String::as_str) == Some("live")
            })
            .await;

            // Bob reacts, and takes it back; Alice's delete reaches Bob.
            let target = bob.home()[0].post.id;
            let react = || Command::React {
                target,
                emoji: "❤️".into(),
            };
            bob.run(react()).await;
            let mine = |p: &Person| {
                p.home()
                    .first()
                    .is_some_and(|t| t.post.reactions.iter().any(|(_, n, me)| *n == 1 && *me))
            };
            assert!(mine(&bob));
            bob.run(react()).await;
            assert!(!mine(&bob));
            alice.run(Command::Delete(target)).await;
            bob.until("the delete", |p| {
                !p.home_texts().contains(&"live".to_owned())
            })
            .await;
            assert_eq!(alice.home_texts(), vec!["before you followed"]);

            // Bob announced that he holds Alice's feed: her Network screen lists him.
            let mut holders = Vec::new();
            for _ in 0..30 {
                alice.run(Command::Open(Route::Network)).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                holders = alice
                    .updates
                    .borrow()
                    .iter()
                    .rev()
                    .find_map(|u| match u {
                        Update::Holders(Some(Ok(h))) if !h.is_empty() => Some(h.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                if !holders.is_empty() {
                    break;
                }
            }
            assert!(
                holders.iter().any(|h| h.author == bob.app.me()),
                "bob holds alice's feed: {holders:?}"
            );
            node.shutdown().await;
        }))
        .await;
}

/// A backup restored on a second device while the first is online: both stay connected
/// (each device is its own peer), each sees the other's posts live, and the follower's copy
/// of the feed is one chain.
#[tokio::test]
async fn two_devices_of_one_person_stay_online_and_never_fork() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let laptop = person(&node, "Alice", "alice", 21).await;
            laptop.until("laptop online", |p| *p.online.borrow()).await;
            laptop.post("before the backup").await;
            let passphrase = "correct horse battery".to_owned();
            laptop
                .run(Command::Backup {
                    passphrase: passphrase.clone(),
                })
                .await;
            let file = laptop.updates.borrow().iter().rev().find_map(|u| match u {
                Update::Download { bytes, .. } => Some(bytes.clone()),
                _ => None,
            });
            let file = file.expect("a backup");
            laptop.post("after the backup").await;

            let bob = person(&node, "Bob", "bob", 22).await;
            bob.until("bob online", |p| *p.online.borrow()).await;
            bob.run(Command::Follow(laptop.app.me())).await;
            bob.until("bob's sync", |p| p.sees("after the backup"))
                .await;

            // The phone restores the backup while the laptop is online.
            let phone = device(&node, Command::Restore { file, passphrase }, 23).await;
            assert_eq!(phone.app.me(), laptop.app.me());
            phone.until("phone online", |p| *p.online.borrow()).await;
            phone
                .until("the phone's check of its feed", |p| {
                    p.own_check() == Some(None)
                })
                .await;
            phone
                .until("the post made after the backup", |p| {
                    p.sees("after the backup")
                })
                .await;

            phone.post("from the phone").await;
            laptop
                .until("the phone's post on the laptop", |p| {
                    p.sees("from the phone")
                })
                .await;
            bob.until("the phone's post", |p| p.sees("from the phone"))
                .await;
            laptop.post("from the laptop").await;
            phone
                .until("the laptop's post on the phone", |p| {
                    p.sees("from the laptop")
                })
                .await;
            bob.until("the laptop's post", |p| p.sees("from the laptop"))
                .await;
            assert_eq!(
                *laptop.dropped.borrow(),
                0,
                "the laptop was knocked offline"
            );
            assert_eq!(*phone.dropped.borrow(), 0, "the phone was knocked offline");

            // One chain in every copy: the profile and four posts, each continuing the last.
            let me = laptop.app.me();
            for (who, store) in [
                ("bob", bob.app.store()),
                ("laptop", laptop.app.store()),
                ("phone", phone.app.store()),
            ] {
                let feed = store.range(&me, 1, 100).await.expect("read");
                assert_eq!(feed.len(), 5, "{who}'s copy");
                let mut chain = kith_core::Feed::new(me);
                for e in feed {
                    assert_eq!(
                        chain.insert_verified(e),
                        Ok(kith_core::Inserted::Appended),
                        "{who}'s copy is one chain"
                    );
                }
                let meta = store.feed(&me).await.expect("read").expect("held");
                assert!(meta.fork.is_none(), "{who} saw a fork");
            }

            // The phone says whose device it is: among the holders of Alice's feed the laptop
            // counts it as Alice herself (left out of "who else holds my posts"), not as a
            // stranger, and Bob as Bob.
            let mut authors = Vec::new();
            for _ in 0..30 {
                laptop.run(Command::Open(Route::Network)).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                authors = laptop
                    .updates
                    .borrow()
                    .iter()
                    .rev()
                    .find_map(|u| match u {
                        Update::Holders(Some(Ok(h))) => {
                            Some(h.iter().map(|p| p.author).collect::<Vec<_>>())
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                if authors.contains(&bob.app.me()) {
                    break;
                }
            }
            assert_eq!(authors, vec![bob.app.me()]);
            // Bob finds Alice's handle once, though both her devices claim it.
            bob.updates.borrow_mut().clear();
            bob.run(Command::Search("@alice".into())).await;
            let done = |p: &Person| {
                p.updates.borrow().iter().rev().find_map(|u| match u {
                    Update::Search(Search::Done { hits, .. }) => Some(hits.clone()),
                    _ => None,
                })
            };
            bob.until("the search", |p| done(p).is_some()).await;
            let hits = done(&bob).expect("searched");
            assert_eq!(
                hits.iter().map(|h| h.author).collect::<Vec<_>>(),
                vec![me],
                "one hit for two devices"
            );
            node.shutdown().await;
        }))
        .await;
}

/// A link to a feed of 100,000 entries stops at the cap on one person's feed with a message
/// that says so; following it afterwards adds nothing past the cap, and the message is not
/// repeated. The cap is the person's setting, set here to 1,000 entries through Settings (the
/// default, 20,000, would make the test a slow one). The feed's holder runs under its
/// author's key.
#[tokio::test]
async fn a_huge_feed_from_a_link_stops_at_the_cap_with_a_message() {
    const HUGE: u64 = 100_000;
    const CAP: u64 = 1_000;
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let node = Node::start(common::cli(dir.path(), &[]))
                .await
                .expect("node");
            let huge = kith_core::Identity::from_secret([7; 32]);
            let store = MemoryStore::new();
            let start = kith_net::now_ms() - 10_000_000;
            let (mut head, mut batch) = (None, Vec::new());
            for i in 0..HUGE {
                let post = kith_core::Payload::post(format!("{i}"));
                let e = kith_core::next_entry(&huge, head, &post, start + i).expect("sign");
                head = Some(e.as_prev());
                batch.push(e);
                if batch.len() == 10_000 {
                    store.insert(&batch).await.expect("store");
                    batch.clear();
                }
            }
            let (_h, _h_replica, _h_peer) =
                common::relayed_peer(&node, kith_net::identity::keypair_of(&huge), store).await;

            let bea = person(&node, "Bea", "bea", 40).await;
            bea.until("bea online", |p| *p.online.borrow()).await;
            bea.run(Command::SetFeedLimits {
                entries: CAP,
                megabytes: 8,
            })
            .await;
            bea.run(Command::Open(Route::Profile(huge.author()))).await;
            let capped = |p: &Person| {
                p.updates
                    .borrow()
                    .iter()
                    .filter(|u| {
                        matches!(u, Update::Notice { text, error: true }
                            if text.contains("larger than this browser keeps of one person"))
                    })
                    .count()
            };
            for _ in 0..1200 {
                if capped(&bea) > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(capped(&bea), 1, "the cap is said");
            let held = || async {
                bea.app
                    .store()
                    .feed(&huge.author())
                    .await
                    .expect("meta")
                    .expect("held")
            };
            let meta = held().await;
            assert_eq!((meta.head_seq(), meta.entries), (CAP, CAP));
            bea.run(Command::Follow(huge.author())).await;
            bea.until("the follow's sync", |p| {
                p.updates
                    .borrow()
                    .iter()
                    .filter(|u| matches!(u, Update::SyncDone(a) if *a == huge.author()))
                    .count()
                    >= 2
            })
            .await;
            assert_eq!(held().await.head_seq(), CAP, "nothing past the cap");
            assert_eq!(capped(&bea), 1, "said once");
            node.shutdown().await;
        }))
        .await;
}
