//! kith-app's rules over the real network: two people's apps, each over its own store with
//! kith-net's agent as its network, against a real kith-node. Onboarding, handle search in the
//! DHT, a follow and its sync, live posts, a reaction taken back, a delete, and who holds a
//! feed: the same commands as the browser's, with nothing faked.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kith_app::route::Route;
use kith_app::view::{Search, ThreadView};
use kith_app::{App, Command, Env, Network, Update, welcome};
use kith_net::AgentNetwork;
use kith_net::agent::{Agent, AgentEvent};
use kith_node::Node;
use kith_store::MemoryStore;
use tokio::task::LocalSet;

type Updates = Rc<RefCell<Vec<Update>>>;

struct Person {
    app: Rc<App<Rc<MemoryStore>>>,
    updates: Updates,
    online: Rc<RefCell<bool>>,
}

/// Onboards `name` (@`handle`) through the welcome screen and runs the app on the network.
async fn person(node: &Node, name: &str, handle: &str, seed: u8) -> Person {
    let updates: Updates = Rc::default();
    let out = updates.clone();
    let env = Env {
        out: Rc::new(move |u| out.borrow_mut().push(u)),
        spawn: Rc::new(|task| {
            tokio::task::spawn_local(task);
        }),
        random: Rc::new(move |buf: &mut [u8]| {
            buf.fill(seed);
            Ok(())
        }),
        persist: Rc::new(|_| futures::future::ready(Ok(true)).boxed_local()),
        origin: "http://127.0.0.1:8080".into(),
    };
    let store = Rc::new(MemoryStore::new());
    let create = Command::CreateIdentity {
        name: name.into(),
        handle: handle.into(),
        bio: String::new(),
    };
    let identity = welcome(&store, &env, create).await.expect("identity");
    let key = kith_net::identity::keypair_of(&identity);
    let app = App::new(store.clone(), identity, env);
    app.load(Route::Home).await;

    let (client, events, peer, addrs) = common::node_for_agent(node, key);
    let agent = Agent::new(client, store, peer, addrs);
    let (retry_tx, retry_rx) = futures::channel::mpsc::channel(1);
    let net: Rc<dyn Network> = Rc::new(AgentNetwork::new(agent.clone(), retry_tx));
    app.set_network(Some(net));
    let (reports, mut rx) = futures::channel::mpsc::channel::<AgentEvent>(1024);
    tokio::task::spawn_local(agent.run_with(events, retry_rx, move |e| {
        let _ = reports.clone().try_send(e);
    }));
    let online = Rc::new(RefCell::new(false));
    let (a, o) = (app.clone(), online.clone());
    tokio::task::spawn_local(async move {
        while let Some(event) = rx.next().await {
            if matches!(event, AgentEvent::Online { .. }) {
                *o.borrow_mut() = true;
            }
            if let Some(news) = kith_net::news(event) {
                a.on_news(news).await;
            }
        }
    });
    Person {
        app,
        updates,
        online,
    }
}

impl Person {
    fn home(&self) -> Vec<ThreadView> {
        self.updates
            .borrow()
            .iter()
            .rev()
            .find_map(|u| match u {
                Update::Home { threads, .. } => Some(threads.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn home_texts(&self) -> Vec<String> {
        self.home().iter().map(|t| t.post.text.clone()).collect()
    }

    async fn run(&self, command: Command) {
        self.app.handle(command).await;
    }

    /// Waits (up to 30 s) until `ok` holds for what the UI was told.
    async fn until(&self, what: &str, ok: impl Fn(&Person) -> bool) {
        for _ in 0..300 {
            if ok(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {what}; last updates: {:?}",
            self.updates
                .borrow()
                .iter()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
        );
    }
}

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
