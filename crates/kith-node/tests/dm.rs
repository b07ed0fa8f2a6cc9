//! Direct messages over the real network: two people's agents (kith-net, each on its own
//! store) through the kith-node binary. A letter reaches the addressee and is marked delivered
//! and then read; a replayed, an altered and a misaddressed letter are refused, and so is a
//! letter once its writer is blocked; letters written while the addressee is offline reach
//! them when they come back. The bytes that cross kith-node are sealed: no text in them, and
//! nobody but the addressee opens them.
#![cfg(target_os = "linux")]

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use kith_core::dm::{self, Body, Letter, LetterId};
use kith_core::{BootstrapDoc, Identity};
use kith_net::agent::{Agent, AgentEvent};
use kith_net::identity::keypair_of;
use kith_net::notify::{Answer, encode_letter};
use kith_net::{Config, TransportKind, dial_plan};
use kith_store::MemoryStore;
use kith_store::dms::{self, Delivery};
use tokio::task::LocalSet;

type Log = Rc<RefCell<Vec<AgentEvent>>>;

/// A person's agent against the node that serves `doc`, under the person's own key (as a
/// native client runs), opening letters with `id`; its reports go to the log.
struct Person {
    id: Rc<Identity>,
    store: MemoryStore,
    agent: Option<(Agent<MemoryStore>, tokio::task::JoinHandle<()>)>,
    log: Log,
}

impl Person {
    fn new(seed: u8) -> Person {
        Person {
            id: Rc::new(Identity::from_secret([seed; 32])),
            store: MemoryStore::new(),
            agent: None,
            log: Rc::default(),
        }
    }

    fn go_online(&mut self, doc: &BootstrapDoc) {
        let config = Config {
            gossip_heartbeat: Duration::from_millis(200),
            ..Config::default()
        };
        let (client, events, event_loop) =
            kith_net::new(keypair_of(&self.id), config).expect("client");
        tokio::spawn(event_loop.run());
        let (peer, addrs) = dial_plan(doc, Some(TransportKind::WebSocket)).expect("plan");
        let agent = Agent::new(client, self.store.clone(), peer, addrs);
        agent.set_identity(self.id.clone());
        let sink = self.log.clone();
        self.log.borrow_mut().clear();
        let run = tokio::task::spawn_local(
            agent
                .clone()
                .run(events, move |e| sink.borrow_mut().push(e)),
        );
        self.agent = Some((agent, run));
    }

    async fn go_offline(&mut self) {
        if let Some((_, run)) = self.agent.take() {
            run.abort();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    fn agent(&self) -> &Agent<MemoryStore> {
        &self.agent.as_ref().expect("online").0
    }

    async fn until(&self, what: &str, ok: impl Fn(&Person) -> bool) {
        for _ in 0..600 {
            if ok(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}: {:?}", self.log.borrow());
    }

    fn online(&self) -> bool {
        self.log
            .borrow()
            .iter()
            .any(|e| matches!(e, AgentEvent::Online { .. }))
    }

    fn letters(&self) -> Vec<String> {
        self.log
            .borrow()
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Letter(m) => Some(m.text.clone()),
                _ => None,
            })
            .collect()
    }

    /// Writes `text` to `to` as the app does: sealed, then kept and delivered by the agent
    /// (kept in the store when offline, for the agent to deliver when it runs).
    async fn write(&self, to: &Identity, text: &str, seed: u8) -> Letter {
        let letter = Letter {
            id: LetterId([seed; 16]),
            from: self.id.author(),
            to: to.author(),
            sent_ms: kith_net::now_ms(),
            body: Body::Text(text.into()),
        };
        let sealed = dm::seal(&self.id, &letter, [seed; 32]).expect("seal");
        match &self.agent {
            Some((agent, _)) => agent.send_letter(&letter, &sealed).await.expect("keep"),
            None => {
                dms::send(&self.store, &letter, &sealed, kith_net::now_ms())
                    .await
                    .expect("keep");
            }
        }
        letter
    }

    async fn deliveries(&self, to: &Identity) -> Vec<Option<Delivery>> {
        dms::messages(&self.store, &to.author())
            .await
            .expect("read")
            .iter()
            .map(|s| s.delivery)
            .collect()
    }
}

async fn wait_deliveries(p: &Person, to: &Identity, want: &[Option<Delivery>]) {
    for _ in 0..600 {
        if p.deliveries(to).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{:?} never became {want:?}", p.deliveries(to).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_are_delivered_read_refused_when_forged_and_never_readable_by_the_node() {
    LocalSet::new()
        .run_until(Box::pin(async {
            let dir = common::workdir();
            let http = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port");
            let ws = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let node = common::spawn_node(
                env!("CARGO_BIN_EXE_kith-node"),
                dir.path(),
                http.port(),
                ws,
                None,
            );
            let doc = common::fetch_doc(&http.to_string()).await;
            let marker = format!("kith-dm-secret-{}", std::process::id());

            let mut alice = Person::new(51);
            let mut bob = Person::new(52);
            let carol = Identity::from_secret([53; 32]);
            alice.go_online(&doc);
            bob.go_online(&doc);
            alice.until("alice online", Person::online).await;
            bob.until("bob online", Person::online).await;

            // Alice writes; Bob's device takes it; Alice sees "delivered".
            let first = alice
                .write(&bob.id, &format!("{marker} meet at noon"), 1)
                .await;
            bob.until("the letter", |b| b.letters().len() == 1).await;
            assert_eq!(bob.letters(), [format!("{marker} meet at noon")]);
            wait_deliveries(&alice, &bob.id, &[Some(Delivery::Delivered)]).await;
            let index = dms::conversations(&bob.store).await.expect("index");
            assert_eq!((index[0].peer, index[0].unread), (alice.id.author(), 1));
            assert!(!index[0].accepted, "a request on Bob's side");

            // Bob reads it: his read receipt reaches Alice, who sees "read".
            let up_to = dms::newest_from(&bob.store, &alice.id.author())
                .await
                .expect("read")
                .expect("a message");
            let receipt = Letter {
                id: LetterId([90; 16]),
                from: bob.id.author(),
                to: alice.id.author(),
                sent_ms: kith_net::now_ms(),
                body: Body::Read { up_to_ms: up_to },
            };
            let sealed = dm::seal(&bob.id, &receipt, [90; 32]).expect("seal");
            bob.agent()
                .read_letters(alice.id.author(), up_to, receipt.id, &sealed)
                .await
                .expect("read");
            wait_deliveries(&alice, &bob.id, &[Some(Delivery::Read)]).await;
            let index = dms::conversations(&bob.store).await.expect("index");
            assert_eq!(index[0].unread, 0);

            // The attacks, from Alice's connection to Bob's device: a replay is had (kept once),
            // an altered letter and a letter sealed for Carol are refused.
            let bob_device = keypair_of(&bob.id).public().to_peer_id();
            let client = alice.agent().client().clone();
            let sealed_first = dm::seal(&alice.id, &first, [1; 32]).expect("seal");
            assert!(
                !sealed_first
                    .windows(marker.len())
                    .any(|w| w == marker.as_bytes())
            );
            assert_eq!(
                dm::open(&carol, &sealed_first, kith_net::now_ms()),
                Err(kith_core::DmError::DoesNotOpen),
                "a third party who gets the bytes cannot read them"
            );
            let send = |bytes: Vec<u8>| {
                let client = client.clone();
                async move {
                    client
                        .notify_bytes(bob_device, encode_letter(&bytes))
                        .await
                        .expect("an answer")
                }
            };
            assert_eq!(send(sealed_first.clone()).await, Answer::Had);
            let mut altered = sealed_first.clone();
            let last = altered.len() - 1;
            altered[last] ^= 1;
            assert_eq!(send(altered).await, Answer::Refused);
            let for_carol = Letter {
                id: LetterId([77; 16]),
                to: carol.author(),
                ..first.clone()
            };
            let misaddressed = dm::seal(&alice.id, &for_carol, [77; 32]).expect("seal");
            assert_eq!(send(misaddressed).await, Answer::Refused);
            assert_eq!(send(b"not a letter".to_vec()).await, Answer::Refused);
            let kept = dms::messages(&bob.store, &alice.id.author())
                .await
                .expect("read");
            assert_eq!(kept.len(), 1, "nothing but the one letter kept");

            // Bob blocks Alice: her next letter is refused; unblocked, it is taken.
            let blocked = Letter {
                id: LetterId([78; 16]),
                sent_ms: kith_net::now_ms(),
                body: Body::Text("while blocked".into()),
                ..first.clone()
            };
            let sealed_blocked = dm::seal(&alice.id, &blocked, [78; 32]).expect("seal");
            kith_store::people::set(
                &bob.store,
                alice.id.author(),
                Some(kith_store::Stance::Blocked),
            )
            .await
            .expect("block");
            assert_eq!(send(sealed_blocked.clone()).await, Answer::Refused);
            kith_store::people::set(&bob.store, alice.id.author(), None)
                .await
                .expect("unblock");
            assert_eq!(send(sealed_blocked).await, Answer::Kept);
            bob.until("the letter after the unblock", |b| b.letters().len() == 2)
                .await;

            // Bob goes offline; Alice writes twice; Bob comes back and gets both.
            bob.go_offline().await;
            alice.write(&bob.id, "are you there?", 2).await;
            alice.write(&bob.id, "call me", 3).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(
                alice.deliveries(&bob.id).await,
                [
                    Some(Delivery::Read),
                    Some(Delivery::Sending),
                    Some(Delivery::Sending)
                ]
            );
            bob.go_online(&doc);
            bob.until("both letters after coming back", |b| b.letters().len() == 2)
                .await;
            assert_eq!(bob.letters(), ["are you there?", "call me"]);
            wait_deliveries(
                &alice,
                &bob.id,
                &[
                    Some(Delivery::Read),
                    Some(Delivery::Delivered),
                    Some(Delivery::Delivered),
                ],
            )
            .await;
            drop(node);
        }))
        .await;
}
