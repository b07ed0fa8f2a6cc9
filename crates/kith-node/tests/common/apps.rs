//! People's apps over the real network: kith-app's `App` over its own `MemoryStore`, with
//! kith-net's agent as its network, as the browser runs them (device key and claim). A
//! person can go offline (the agent and its swarm stop) and come back on the same store.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kith_app::route::Route;
use kith_app::view::{Notifications, ThreadView};
use kith_app::{App, Command, Env, Network, Update, welcome};
use kith_net::AgentNetwork;
use kith_net::agent::{Agent, AgentEvent};
use kith_node::Node;
use kith_store::MemoryStore;

/// Everything the app told its screens, in order.
pub type Updates = Rc<RefCell<Vec<Update>>>;

/// One person's app and what it said.
pub struct Person {
    pub app: Rc<App<Rc<MemoryStore>>>,
    pub updates: Updates,
    pub online: Rc<RefCell<bool>>,
    /// How many times the agent went offline after it was first online.
    pub dropped: Rc<RefCell<u32>>,
    /// The running agent, while online.
    agent: RefCell<Option<tokio::task::JoinHandle<()>>>,
    /// Its node's handle, while online.
    pub client: RefCell<Option<kith_net::Client>>,
    /// Its agent, while online.
    pub net: RefCell<Option<Agent<Rc<MemoryStore>>>>,
}

fn env(updates: &Updates, seed: u8) -> Env {
    let out = updates.clone();
    // Distinct bytes per call (identity, device key), the same in every run.
    let counter = Rc::new(std::cell::Cell::new(0u8));
    Env {
        out: Rc::new(move |u| out.borrow_mut().push(u)),
        spawn: Rc::new(|task| {
            tokio::task::spawn_local(task);
        }),
        random: Rc::new(move |buf: &mut [u8]| {
            counter.set(counter.get().wrapping_add(1));
            buf.fill(seed.wrapping_add(counter.get().wrapping_mul(50)));
            Ok(())
        }),
        persist: Rc::new(|_| futures::future::ready(Ok(true)).boxed_local()),
        origin: "http://127.0.0.1:8080".into(),
    }
}

/// Onboards `name` (@`handle`) through the welcome screen and runs the app on the network.
pub async fn person(node: &Node, name: &str, handle: &str, seed: u8) -> Person {
    let create = Command::CreateIdentity {
        name: name.into(),
        handle: handle.into(),
        bio: String::new(),
    };
    device(node, create, seed).await
}

/// Bea, Cal and Dee online on `node` (device seeds from `seed`), connected in a line
/// Bea ↔ Cal ↔ Dee through its relay; Dee has posted "A zebra crossing at noon" and Cal
/// "Nothing about stripes": a post only Dee holds, two hops from Bea.
pub async fn line_of_three(node: &Node, seed: u8) -> (Person, Person, Person) {
    let b = person(node, "Bea", "bea", seed).await;
    let c = person(node, "Cal", "cal", seed + 1).await;
    let d = person(node, "Dee", "dee", seed + 2).await;
    for p in [&b, &c, &d] {
        p.until("online", |p| *p.online.borrow()).await;
    }
    d.post("A zebra crossing at noon").await;
    c.post("Nothing about stripes").await;
    b.connect_to(&c, node).await;
    c.connect_to(&d, node).await;
    (b, c, d)
}

/// A new device: the welcome screen's `command` (create or restore) over a fresh store, then
/// the app on the network under the device's own key and claim, as the browser runs it.
pub async fn device(node: &Node, command: Command, seed: u8) -> Person {
    let updates: Updates = Rc::default();
    let env = env(&updates, seed);
    let store = Rc::new(MemoryStore::new());
    let identity = welcome(&store, &env, command).await.expect("identity");
    let app = App::new(store.clone(), identity, env);
    app.load(Route::Home).await;
    let p = Person {
        app,
        updates,
        online: Rc::default(),
        dropped: Rc::default(),
        agent: RefCell::new(None),
        client: RefCell::new(None),
        net: RefCell::new(None),
    };
    p.go_online(node).await;
    p
}

impl Person {
    /// Starts the network (a new swarm and agent over the same store), as a page load does.
    pub async fn go_online(&self, node: &Node) {
        let app = &self.app;
        let key = kith_net::identity::device_keypair(app.device_key().await.expect("device key"));
        let claim = kith_net::identity::device_claim(app.identity(), &key.public().to_peer_id());
        let (client, events, peer, addrs) = super::node_for_agent_as(node, key, claim);
        let agent = Agent::new(client.clone(), app.store().clone(), peer, addrs);
        agent.set_identity(app.shared_identity());
        let weak = Rc::downgrade(app);
        agent.set_searcher(Rc::new(move |words: &str, limit: usize| {
            weak.upgrade()
                .map(|a| a.library().search_entries(words, limit))
                .unwrap_or_default()
        }));
        *self.client.borrow_mut() = Some(client);
        *self.net.borrow_mut() = Some(agent.clone());
        let (retry_tx, retry_rx) = futures::channel::mpsc::channel(1);
        let net: Rc<dyn Network> = Rc::new(AgentNetwork::new(agent.clone(), retry_tx));
        app.set_network(Some(net));
        let (reports, mut rx) = futures::channel::mpsc::channel::<AgentEvent>(1024);
        let handle = tokio::task::spawn_local(agent.run_with(events, retry_rx, move |e| {
            let _ = reports.clone().try_send(e);
        }));
        *self.agent.borrow_mut() = Some(handle);
        let (a, o, d) = (app.clone(), self.online.clone(), self.dropped.clone());
        tokio::task::spawn_local(async move {
            while let Some(event) = rx.next().await {
                match event {
                    AgentEvent::Online { .. } => *o.borrow_mut() = true,
                    AgentEvent::Offline { .. } if *o.borrow() => *d.borrow_mut() += 1,
                    _ => {}
                }
                if let Some(news) = kith_net::news(event) {
                    a.on_news(news).await;
                }
            }
        });
    }

    /// Stops the network, as closing the tab does: the agent ends, and with the last client
    /// its swarm and connections.
    pub async fn go_offline(&self) {
        self.app.set_network(None);
        self.client.borrow_mut().take();
        self.net.borrow_mut().take();
        if let Some(h) = self.agent.borrow_mut().take() {
            h.abort();
        }
        *self.online.borrow_mut() = false;
        // The swarm's task ends once its commands channel closes; the node sees it go.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// This device's peer id.
    pub async fn device(&self) -> kith_net::PeerId {
        kith_net::identity::device_keypair(self.app.device_key().await.expect("device key"))
            .public()
            .to_peer_id()
    }

    /// Connects this device to `other`'s through `node`'s relay, as a sync or a follow does.
    pub async fn connect_to(&self, other: &Person, node: &Node) {
        let to = other.device().await;
        let addr: kith_net::Multiaddr = format!("{}/p2p-circuit/p2p/{to}", super::node_ws(node))
            .parse()
            .expect("addr");
        let client = self.client.borrow().clone().expect("online");
        client.dial(to, vec![addr]).await.expect("reached");
    }

    pub fn home(&self) -> Vec<ThreadView> {
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

    pub fn home_texts(&self) -> Vec<String> {
        self.home().iter().map(|t| t.post.text.clone()).collect()
    }

    /// The Notifications screen as last sent.
    pub fn notifications(&self) -> Notifications {
        self.updates
            .borrow()
            .iter()
            .rev()
            .find_map(|u| match u {
                Update::Notifications(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    pub async fn run(&self, command: Command) {
        self.app.handle(command).await;
    }

    /// Waits (up to 30 s) until `ok` holds for what the UI was told.
    pub async fn until(&self, what: &str, ok: impl Fn(&Person) -> bool) {
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

    pub async fn post(&self, text: &str) {
        self.run(Command::Post {
            text: text.into(),
            reply_to: None,
            images: Vec::new(),
        })
        .await;
    }

    pub fn sees(&self, text: &str) -> bool {
        self.home_texts().iter().any(|t| t == text)
    }

    pub fn own_check(&self) -> Option<Option<kith_app::view::OwnCheck>> {
        self.updates.borrow().iter().rev().find_map(|u| match u {
            Update::OwnCheck(c) => Some(*c),
            _ => None,
        })
    }
}
