//! The browser shell: opens the store, runs kith-app's [`App`] over it, and gives the app a
//! network: this tab's own libp2p node when it holds the node lock, or the tab that does
//! (through [`TabNetwork`]) while it waits. Start-up, in order:
//! 1. open IndexedDB (`kith`); without it the app says why and stops;
//! 2. read the identity, or run the welcome screen ([`kith_app::welcome`]) until there is one;
//! 3. load every held feed into the app and show the timeline (this works offline);
//! 4. wait for the node lock ([`tabs`](crate::tabs)); then fetch `/bootstrap.json` (retrying
//!    with backoff while kith-node is unreachable), start the node with this device's network
//!    key (its claim signed by the person's key) and run kith-net's agent over the same store,
//!    as the app's network.
//!
//! What the app and the agent say becomes [`Action`]s: the app's [`Update`]s through
//! [`Action::App`], the agent's connection news here (and, for the
//! profile's other tabs, as [`TabStatus`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use kith_app::{App, Env, Network, News, Update};
use kith_net::agent::AgentEvent;
use kith_net::{Event, TransportKind, platform};
use kith_store::idb::IdbStore;

use crate::browser;
use crate::routes::Route;
use crate::state::Action;
use crate::tabs::{CHANNEL, NODE_LOCK, TabMessage, TabNetwork, TabStatus, Tabs};

pub use crate::handle::Handle;
pub use kith_app::{Command, MIN_PASSPHRASE, PAGE, REACTIONS};

/// The IndexedDB database the app uses.
pub const DB_NAME: &str = "kith";

/// Where actions go: the reducer's dispatcher.
pub type Dispatch = Rc<dyn Fn(Action)>;

struct Shell {
    app: Rc<App<Rc<IdbStore>>>,
    dispatch: Dispatch,
    tabs: Option<Tabs>,
    /// The proxy while another tab runs the node.
    proxy: RefCell<Option<Rc<TabNetwork>>>,
    /// This tab's own network, once it runs the node.
    own: RefCell<Option<Rc<dyn Network>>>,
    /// This tab's connection, as follower tabs are told it.
    status: RefCell<TabStatus>,
    holder: Cell<bool>,
    /// Cuts a wait for kith-node short (the agent's, or the bootstrap's before it).
    retry: mpsc::Sender<()>,
    retry_rx: RefCell<Option<mpsc::Receiver<()>>>,
}

fn env(dispatch: &Dispatch, tabs: Option<Tabs>) -> Env {
    let d = dispatch.clone();
    let shelf = RefCell::new(crate::state::UrlShelf::default());
    Env {
        out: Rc::new(move |update| match update {
            Update::Image { hash, mime, bytes } => match browser::object_url(&bytes, mime) {
                Ok(url) => {
                    for (gone, old) in shelf.borrow_mut().keep(hash, url.clone()) {
                        browser::revoke_url(&old);
                        if gone != hash {
                            d(Action::ImageGone(gone));
                        }
                    }
                    d(Action::ImageUrl { hash, url });
                }
                Err(reason) => d(Action::App(Update::ImageUnavailable { hash, reason })),
            },
            Update::Changed(author) => {
                if let Some(t) = &tabs {
                    t.tell(&TabMessage::Changed { author });
                }
            }
            Update::Download { bytes, name } => {
                let (text, error) = match browser::download(&bytes, &name) {
                    Ok(()) => (
                        format!(
                            "Backup downloaded ({}). Keep it and its passphrase safe.",
                            crate::text::bytes(bytes.len() as u64)
                        ),
                        false,
                    ),
                    Err(e) => (e, true),
                };
                d(Action::App(Update::Notice { text, error }));
            }
            other => {
                if let Update::Theme(t) = &other {
                    browser::apply_theme(t.as_str());
                }
                d(Action::App(other));
            }
        }),
        spawn: Rc::new(platform::spawn_local),
        random: Rc::new(|buf: &mut [u8]| browser::fill_random(buf)),
        persist: Rc::new(|ask| {
            if ask {
                browser::request_persistence().boxed_local()
            } else {
                browser::persisted().map(Ok).boxed_local()
            }
        }),
        origin: browser::origin(),
    }
}

/// Runs the app until the page closes. See the module docs.
pub async fn run(mut commands: mpsc::UnboundedReceiver<Command>, dispatch: Dispatch) {
    let store = match IdbStore::open(DB_NAME).await {
        Ok(s) => Rc::new(s),
        Err(e) => {
            dispatch(Action::Failed(format!(
                "Kith keeps your posts in this browser's storage (IndexedDB), and it could not be \
                 opened: {e}. Private windows and some privacy settings block it."
            )));
            return;
        }
    };
    let (tabs, tab_rx) = match browser::TabChannel::open(CHANNEL) {
        Ok((channel, rx)) => (Some(Tabs::new(channel)), Some(rx)),
        Err(e) => {
            tracing::warn!("{e}: this tab runs on its own");
            (None, None)
        }
    };
    let env = env(&dispatch, tabs.clone());
    if let Some(theme) = kith_app::stored_theme(&store).await {
        (env.out)(Update::Theme(theme));
    }
    env.persistence(false).await;
    let identity = match kith_app::stored_identity(&store).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            (env.out)(Update::Onboarding {
                busy: false,
                error: None,
            });
            loop {
                let Some(command) = commands.next().await else {
                    return;
                };
                if let Some(id) = kith_app::welcome(&store, &env, command).await {
                    break id;
                }
            }
        }
        Err(e) => {
            dispatch(Action::Failed(e));
            return;
        }
    };
    if let Some(peer) = crate::node::stored_peer(&store).await {
        dispatch(Action::LocalPeer(peer));
    }
    let app = App::new(store, identity, env);
    let (retry_tx, retry_rx) = mpsc::channel(1);
    let shell = Rc::new(Shell {
        app: app.clone(),
        dispatch: dispatch.clone(),
        proxy: RefCell::new(tabs.clone().map(|t| Rc::new(TabNetwork::new(app.me(), t)))),
        tabs,
        own: RefCell::new(None),
        status: RefCell::new(TabStatus::Connecting { attempt: 1 }),
        holder: Cell::new(false),
        retry: retry_tx,
        retry_rx: RefCell::new(Some(retry_rx)),
    });
    app.set_network(shell.proxy.borrow().clone().map(|p| p as Rc<dyn Network>));
    app.load(Route::parse(&browser::fragment())).await;
    if let Some(rx) = tab_rx {
        platform::spawn_local(shell.clone().tab_messages(rx));
    }
    platform::spawn_local(shell.clone().network());
    while let Some(command) = commands.next().await {
        match command {
            Command::RetryNow if shell.holder.get() => shell.retry_now(),
            other => app.handle(other).await,
        }
    }
}

impl Shell {
    fn retry_now(&self) {
        // Full: a retry is already waiting to be taken.
        let _ = self.retry.clone().try_send(());
    }

    fn tell(&self, message: &TabMessage) {
        if let Some(t) = &self.tabs {
            t.tell(message);
        }
    }

    /// Shows this tab's connection state and tells the profile's other tabs.
    fn show_status(&self, status: TabStatus) {
        self.tell(&TabMessage::Status(status.clone()));
        (self.dispatch)(status.action());
        *self.status.borrow_mut() = status;
    }

    /// Reads what the profile's other tabs say, for as long as the page is open.
    async fn tab_messages(self: Rc<Self>, mut rx: mpsc::Receiver<String>) {
        while let Some(text) = rx.next().await {
            let Some(message) = TabMessage::decode(&text) else {
                continue;
            };
            let holder = self.holder.get();
            match &message {
                TabMessage::Changed { author } => self.app.on_store_changed(*author).await,
                TabMessage::Hello if holder => {
                    self.tell(&TabMessage::Status(self.status.borrow().clone()));
                }
                TabMessage::Status(status) if !holder => {
                    (self.dispatch)(Action::ViaTab(true));
                    (self.dispatch)(status.action());
                }
                &TabMessage::Unreachable { author } if !holder => {
                    self.app.on_news(News::Unreachable { author }).await;
                }
                m if !holder => {
                    if let Some(p) = self.proxy.borrow().as_ref() {
                        p.answer(m);
                    }
                }
                // Before the node runs, "Retry now" cuts the wait for kith-node short.
                TabMessage::RetryNow => self.retry_now(),
                m => {
                    let own = self.own.borrow().clone();
                    if let Some(tabs) = &self.tabs {
                        crate::tabs::serve(m, self.app.me(), self.app.store(), own, tabs).await;
                    }
                }
            }
        }
    }

    /// Waits for the node lock, connects, and runs the agent; never returns while the page
    /// is open.
    async fn network(self: Rc<Self>) {
        let d = self.dispatch.clone();
        if self.tabs.is_some() {
            // Another tab of this profile may run the node: ask it how it is, and wait in
            // the lock's queue (granted at once when no other tab holds it).
            self.tell(&TabMessage::Hello);
            let mut granted = Box::pin(browser::hold_lock(NODE_LOCK).fuse());
            let mut told = Box::pin(platform::sleep(std::time::Duration::from_millis(300)).fuse());
            futures::select! {
                () = granted => {}
                () = told => {
                    d(Action::ViaTab(true));
                    granted.await;
                }
            }
            // Whatever the last holder left unsaid: read the store afresh.
            self.app.reload_all().await;
        }
        self.holder.set(true);
        *self.proxy.borrow_mut() = None;
        self.app.set_network(None);
        d(Action::ViaTab(false));
        let Some(mut retry) = self.retry_rx.borrow_mut().take() else {
            return;
        };
        let (plan, others) =
            crate::node::bootstrap(self.app.store(), &mut retry, &|s| self.show_status(s)).await;
        let started = crate::node::start(&self.app, plan, others, self.retry.clone(), retry);
        let (net, mut report_rx, me) = match started.await {
            Ok(started) => started,
            Err(e) => return d(Action::Failed(e)),
        };
        d(Action::LocalPeer(me));
        *self.own.borrow_mut() = Some(net.clone());
        self.app.set_network(Some(net));
        // The transport of the latest connection to each of the last few kith-nodes, for the
        // node the agent is online through (it moves to another when one goes).
        let mut transports: Vec<(kith_net::PeerId, TransportKind)> = Vec::new();
        while let Some(event) = report_rx.next().await {
            match &event {
                AgentEvent::Connecting { attempt } => {
                    self.show_status(TabStatus::Connecting { attempt: *attempt })
                }
                AgentEvent::Online { node, .. } => {
                    let transport = transports
                        .iter()
                        .find(|(p, _)| p == node)
                        .map_or(TransportKind::Other, |(_, t)| *t);
                    self.show_status(TabStatus::Online {
                        node: node.to_string(),
                        transport,
                    });
                }
                AgentEvent::Offline { reason, retry_in } => self.show_status(TabStatus::Offline {
                    reason: reason.clone(),
                    retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                }),
                AgentEvent::Link(e) => {
                    if let Event::Connected {
                        peer, transport: t, ..
                    } = e
                        // Only kith-nodes are reached over these (browsers over circuits or
                        // /webrtc).
                        && matches!(t, TransportKind::WebSocket | TransportKind::WebRtcDirect)
                    {
                        transports.retain(|(p, _)| p != peer);
                        transports.insert(0, (*peer, *t));
                        transports.truncate(kith_net::nodes::MAX_NODES);
                    }
                    d(Action::Net(e.clone()));
                }
                AgentEvent::Unreachable { author } => {
                    self.tell(&TabMessage::Unreachable { author: *author });
                }
                _ => {}
            }
            if let Some(news) = kith_net::news(event) {
                self.app.on_news(news).await;
            }
        }
    }
}
