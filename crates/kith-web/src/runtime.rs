//! The app's one long-running task: it owns the store, the person's identity, the network
//! agent and the [`Library`], executes the person's [`Command`]s, and turns everything that
//! happens into [`Action`]s for the reducer.
//!
//! Start-up, in order:
//! 1. open IndexedDB (`kith`); without it the app says why and stops;
//! 2. read the identity; if there is none, wait for the welcome screen's "create" or
//!    "restore" command;
//! 3. load every held feed into the library and show the timeline (this works offline);
//! 4. fetch `/bootstrap.json` (retrying with backoff while kith-node is unreachable), start
//!    the libp2p node with the person's key, and run kith-net's [`Agent`] over the same store.
//!
//! The agent writes what it receives to the store and reports it; the runtime then reads the
//! new entries back into the library and recomputes the screens. The person's own entries are
//! signed here, written to the store, added to the library and published.
//!
//! Node events go to the agent (which needs them all) and, for the status view, to the
//! reducer; both queues are bounded.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use kith_core::entry::{MAX_BIO_CHARS, MAX_NAME_CHARS, MAX_POST_CHARS};
use kith_core::name::normalize_handle;
use kith_core::{
    AuthorId, Backoff, BootstrapDoc, EntryRef, FollowLink, Identity, KdfParams, NameClaim, Payload,
    VerifiedEntry,
};
use kith_net::agent::{Agent, AgentEvent};
use kith_net::{Client, Config, Event, PeerId, TransportKind, platform};
use kith_store::idb::IdbStore;
use kith_store::{MAX_READ, Store, backup};

use crate::browser;
use crate::routes::Route;
use crate::state::{Action, FeedUsage, Me, OwnCheck, Search, Theme};
use crate::tabs::{CHANNEL, NODE_LOCK, TabMessage, TabStatus};
use kith_app::Library;

/// The IndexedDB database the app uses.
pub const DB_NAME: &str = "kith";
/// Threads per home page (and per "load more").
pub const PAGE: usize = 30;
/// The reactions offered under every post.
pub const REACTIONS: [&str; 4] = ["❤️", "👍", "😂", "🎉"];
/// The setting present while the person's own feed may be behind posts made on another
/// device (after a restore): posting waits until the feed was synced from the network, or
/// until the person goes ahead.
const OWN_CHECK: &str = "own-feed-check";
/// How many times a post is signed again when another tab stored an entry at its seq first.
const APPEND_TRIES: u32 = 3;
/// The shortest backup passphrase accepted.
pub const MIN_PASSPHRASE: usize = 8;

/// What the person asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create a new identity with this profile.
    CreateIdentity {
        /// Display name.
        name: String,
        /// Handle to claim.
        handle: String,
        /// Bio (may be empty).
        bio: String,
    },
    /// Restore from a backup file (on the welcome screen, or later to merge posts back).
    Restore {
        /// The file's bytes.
        file: Vec<u8>,
        /// Its passphrase.
        passphrase: String,
    },
    /// Open a screen.
    Open(Route),
    /// Write a post (or a reply).
    Post {
        /// The text.
        text: String,
        /// The post it answers.
        reply_to: Option<EntryRef>,
    },
    /// React to a post (again: take the reaction back).
    React {
        /// The post.
        target: EntryRef,
        /// The emoji.
        emoji: String,
    },
    /// Delete one of my posts.
    Delete(EntryRef),
    /// Follow someone.
    Follow(AuthorId),
    /// Stop following someone.
    Unfollow(AuthorId),
    /// Look up a handle in the DHT.
    Search(String),
    /// Show older posts on the home timeline.
    LoadMore,
    /// Ask the DHT who holds my feed.
    FindHolders,
    /// Download a backup encrypted with this passphrase.
    Backup {
        /// The passphrase.
        passphrase: String,
    },
    /// Drop a feed from this browser.
    Forget(AuthorId),
    /// Change the theme.
    SetTheme(Theme),
    /// Change my profile.
    UpdateProfile {
        /// Display name.
        name: String,
        /// Bio.
        bio: String,
    },
    /// Stop waiting and reconnect now.
    RetryNow,
    /// Post without waiting for the check for posts made on another device.
    GoAhead,
    /// Ask the browser for persistent storage.
    RequestPersistence,
}

/// Where actions go: the reducer's dispatcher.
pub type Dispatch = Rc<dyn Fn(Action)>;

/// The handle components use to send commands, provided through a Yew context.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
}

impl PartialEq for Handle {
    fn eq(&self, other: &Self) -> bool {
        self.tx.same_receiver(&other.tx)
    }
}

impl Handle {
    /// A handle and the receiving end the runtime (or a test) reads.
    pub fn new() -> (Handle, mpsc::UnboundedReceiver<Command>) {
        let (tx, rx) = mpsc::unbounded();
        (Handle { tx }, rx)
    }

    /// Sends a command. The queue holds only the person's own clicks.
    pub fn send(&self, command: Command) {
        let _ = self.tx.unbounded_send(command);
    }
}

fn notice(dispatch: &Dispatch, text: impl Into<String>, error: bool) {
    dispatch(Action::Notice {
        text: text.into(),
        error,
    });
}

/// Runs the app's node until the page closes. See the module docs.
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
    if let Ok(Some(t)) = store.get_setting("theme").await {
        let theme = Theme::parse(&String::from_utf8_lossy(&t));
        browser::apply_theme(theme.as_str());
        dispatch(Action::Theme(theme));
    }
    dispatch(Action::Persisted(browser::persisted().await));
    let identity = match store.identity().await {
        Ok(Some(secret)) => match <[u8; 32]>::try_from(secret.as_slice()) {
            Ok(s) => Identity::from_secret(s),
            Err(_) => {
                dispatch(Action::Failed(
                    "The identity stored in this browser is damaged. Restore it from a backup \
                     in a new browser profile."
                        .into(),
                ));
                return;
            }
        },
        Ok(None) => match onboard(&store, &mut commands, &dispatch).await {
            Some(id) => id,
            None => return,
        },
        Err(e) => {
            dispatch(Action::Failed(format!("Reading your identity failed: {e}")));
            return;
        }
    };
    let (retry_tx, retry_rx) = mpsc::channel(1);
    let (tabs, tab_rx) = match browser::TabChannel::open(CHANNEL) {
        Ok((channel, rx)) => (Some(channel), Some(rx)),
        Err(e) => {
            tracing::warn!("{e}: this tab runs on its own");
            (None, None)
        }
    };
    let rt = Rc::new(Runtime {
        dispatch: dispatch.clone(),
        library: RefCell::new(Library::new(identity.author())),
        identity,
        store,
        route: Cell::new(Route::Home),
        home_limit: Cell::new(PAGE),
        net: RefCell::new(None),
        handle: RefCell::new(None),
        synced_from: RefCell::new(BTreeMap::new()),
        following_now: RefCell::new(Default::default()),
        shown_meta: RefCell::new(None),
        retry: retry_tx,
        tabs,
        holder: Cell::new(false),
        asked: Cell::new(0),
        own_check: Cell::new(false),
    });
    rt.load().await;
    if let Some(rx) = tab_rx {
        platform::spawn_local(rt.clone().tab_messages(rx));
    }
    platform::spawn_local(rt.clone().network(retry_rx));
    while let Some(command) = commands.next().await {
        rt.clone().handle(command).await;
    }
}

/// The welcome screen's side: waits for "create" or "restore" and carries it out.
async fn onboard(
    store: &Rc<IdbStore>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    dispatch: &Dispatch,
) -> Option<Identity> {
    dispatch(Action::Onboarding {
        busy: false,
        error: None,
    });
    while let Some(command) = commands.next().await {
        let result = match command {
            Command::CreateIdentity { name, handle, bio } => {
                dispatch(Action::Onboarding {
                    busy: true,
                    error: None,
                });
                create_identity(store, &name, &handle, &bio).await
            }
            Command::Restore { file, passphrase } => {
                dispatch(Action::Onboarding {
                    busy: true,
                    error: None,
                });
                match backup::import(&**store, &file, &passphrase, None, kith_net::now_ms()).await {
                    // The backup's feed may be behind posts made elsewhere since: check first.
                    Ok(r) => store
                        .put_setting(OWN_CHECK, b"1")
                        .await
                        .map(|()| r.identity)
                        .map_err(|e| format!("Restoring failed: {e}")),
                    Err(e) => Err(format!("Restoring failed: {e}")),
                }
            }
            Command::SetTheme(t) => {
                set_theme(store, dispatch, t).await;
                continue;
            }
            _ => continue,
        };
        match result {
            Ok(identity) => {
                if let Ok(granted) = kith_store::idb::request_persistence().await {
                    dispatch(Action::Persisted(granted));
                }
                return Some(identity);
            }
            Err(error) => dispatch(Action::Onboarding {
                busy: false,
                error: Some(error),
            }),
        }
    }
    None
}

async fn create_identity(
    store: &Rc<IdbStore>,
    name: &str,
    handle: &str,
    bio: &str,
) -> Result<Identity, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Choose a display name.".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "A display name is at most {MAX_NAME_CHARS} characters."
        ));
    }
    if bio.chars().count() > MAX_BIO_CHARS {
        return Err(format!("A bio is at most {MAX_BIO_CHARS} characters."));
    }
    let handle = normalize_handle(handle).map_err(|e| format!("That handle won't work: {e}"))?;
    let identity = Identity::from_secret(browser::random_bytes::<32>()?);
    let profile = Payload::Profile {
        name: name.to_owned(),
        bio: bio.trim().to_owned(),
        avatar: None,
    };
    let entry = kith_core::next_entry(&identity, None, &profile, kith_net::now_ms())
        .map_err(|e| e.to_string())?;
    let fail = |e: kith_store::StoreError| format!("Saving your identity failed: {e}");
    store.insert(&[entry]).await.map_err(fail)?;
    store
        .update_meta(&identity.author(), &|m| m.followed = true)
        .await
        .map_err(fail)?;
    store
        .put_setting("handle", handle.as_bytes())
        .await
        .map_err(fail)?;
    // Last: the identity's presence is what marks onboarding as done.
    store.set_identity(&identity.secret()).await.map_err(fail)?;
    Ok(identity)
}

async fn set_theme(store: &Rc<IdbStore>, dispatch: &Dispatch, theme: Theme) {
    browser::apply_theme(theme.as_str());
    let _ = store.put_setting("theme", theme.as_str().as_bytes()).await;
    dispatch(Action::Theme(theme));
}

struct Net {
    client: Client,
    agent: Agent<Rc<IdbStore>>,
    node: PeerId,
    reports: mpsc::Sender<AgentEvent>,
    node_transport: Rc<Cell<Option<TransportKind>>>,
}

struct Runtime {
    dispatch: Dispatch,
    identity: Identity,
    store: Rc<IdbStore>,
    library: RefCell<Library>,
    route: Cell<Route>,
    home_limit: Cell<usize>,
    net: RefCell<Option<Rc<Net>>>,
    handle: RefCell<Option<String>>,
    /// The peer each feed was last synced from.
    synced_from: RefCell<BTreeMap<AuthorId, PeerId>>,
    /// The metadata of the profile on screen, as last read (live entries do not change it).
    shown_meta: RefCell<Option<kith_store::FeedMeta>>,
    /// Feeds followed this session whose first sync has not finished.
    following_now: RefCell<std::collections::BTreeSet<AuthorId>>,
    retry: mpsc::Sender<()>,
    /// The channel to this profile's other tabs (see `tabs.rs`).
    tabs: Option<browser::TabChannel>,
    /// Whether this tab holds the node lock (runs the node).
    holder: Cell<bool>,
    /// The id of the latest question asked of the holder (a search, who holds my feed).
    asked: Cell<u64>,
    /// Whether my own feed may be behind posts made on another device ([`OWN_CHECK`]).
    own_check: Cell<bool>,
}

impl Runtime {
    fn me(&self) -> AuthorId {
        self.identity.author()
    }

    fn net(&self) -> Option<Rc<Net>> {
        self.net.borrow().clone()
    }

    fn notice(&self, text: impl Into<String>, error: bool) {
        notice(&self.dispatch, text, error);
    }

    /// Reads every held feed into the library and shows the app.
    async fn load(self: &Rc<Self>) {
        self.read_own_check().await;
        if let Ok(Some(h)) = self.store.get_setting("handle").await {
            let h = String::from_utf8_lossy(&h).into_owned();
            self.library.borrow_mut().learn_handle(self.me(), h.clone());
            *self.handle.borrow_mut() = Some(h);
        }
        let metas = self.store.feeds().await.unwrap_or_default();
        for m in &metas {
            self.library
                .borrow_mut()
                .set_followed(m.author, m.followed && m.author != self.me());
            self.read_feed(m.author).await;
        }
        let local_peer = kith_net::identity::peer_id_of(&self.me())
            .map(|p| p.to_string())
            .unwrap_or_default();
        self.dispatch.as_ref()(Action::Ready {
            me: self.me_view(),
            local_peer,
        });
        self.open(Route::parse(&browser::fragment())).await;
        self.refresh_home();
    }

    /// Brings the library's copy of `author`'s feed up to the store's.
    async fn read_feed(&self, author: AuthorId) {
        loop {
            let from = self.library.borrow().next_seq(&author);
            match self.store.range(&author, from, MAX_READ).await {
                Ok(batch) => {
                    let n = batch.len();
                    self.library.borrow_mut().add(batch);
                    if n < MAX_READ {
                        return;
                    }
                }
                Err(e) => {
                    self.notice(format!("Reading stored posts failed: {e}"), true);
                    return;
                }
            }
        }
    }

    fn me_view(&self) -> Me {
        let mut person = self.library.borrow().person(&self.me());
        person.handle = self.handle.borrow().clone();
        let uri = FollowLink {
            author: self.me(),
            bootstrap: Vec::new(),
        }
        .to_uri();
        Me {
            person,
            web_link: format!("{}/#{uri}", browser::origin()),
            uri,
        }
    }

    fn refresh_home(&self) {
        let followed = self.library.borrow().followed();
        self.dispatch.as_ref()(Action::Following(followed));
        let (threads, more) = self.library.borrow().home(self.home_limit.get());
        self.dispatch.as_ref()(Action::Home { threads, more });
    }

    /// Recomputes what the open screen shows.
    async fn refresh_route(&self) {
        match self.route.get() {
            Route::Profile(author) => self.refresh_profile(author).await,
            Route::Discover => {
                let s = self.library.borrow().suggestions();
                self.dispatch.as_ref()(Action::Suggestions(s));
            }
            Route::Settings => self.refresh_usage().await,
            Route::Home | Route::Network => {}
        }
    }

    async fn refresh_profile(&self, author: AuthorId) {
        let meta = self.store.feed(&author).await.ok().flatten();
        self.show_profile(author, meta.as_ref());
    }

    /// Dispatches `author`'s profile with the feed metadata given.
    fn show_profile(&self, author: AuthorId, meta: Option<&kith_store::FeedMeta>) {
        let synced_from = self.synced_from.borrow().get(&author).copied();
        let lib = self.library.borrow();
        let (posts, _) = lib.posts_of(&author, 50);
        let mut person = lib.person(&author);
        if author == self.me() {
            person.handle = self.handle.borrow().clone();
        }
        let view = crate::state::ProfileView {
            person,
            is_me: author == self.me(),
            followed: lib.is_followed(&author),
            held: lib.feed(&author).is_some_and(|f| f.head_seq() > 0),
            posts,
            follows: lib.follows_of(&author),
            last_synced_ms: meta.and_then(|m| m.last_synced_ms),
            synced_from: synced_from
                .filter(|p| Some(*p) != kith_net::identity::peer_id_of(&author))
                .map(|p| match kith_net::identity::author_of(&p) {
                    Some(a) => {
                        let who = lib.person(&a);
                        let fp = &who.fingerprint[..9];
                        if who.name.is_empty() {
                            format!("a follower ({fp})")
                        } else {
                            format!("{} ({fp})", who.name)
                        }
                    }
                    None => p.to_string(),
                }),
            forked: meta.is_some_and(|m| m.fork.is_some()),
        };
        drop(lib);
        self.dispatch.as_ref()(Action::Profile(Box::new(view)));
        *self.shown_meta.borrow_mut() = meta.cloned();
    }

    async fn refresh_usage(&self) {
        let metas = self.store.feeds().await.unwrap_or_default();
        let lib = self.library.borrow();
        let mut usage: Vec<FeedUsage> = metas
            .into_iter()
            .map(|m| FeedUsage {
                person: lib.person(&m.author),
                entries: m.entries,
                bytes: m.bytes,
                followed: m.followed,
            })
            .collect();
        drop(lib);
        usage.sort_by_key(|u| std::cmp::Reverse(u.bytes));
        self.dispatch.as_ref()(Action::Usage(usage));
    }

    async fn refresh_all(&self) {
        self.refresh_home();
        self.refresh_route().await;
    }

    async fn open(self: &Rc<Self>, route: Route) {
        self.route.set(route);
        self.dispatch.as_ref()(Action::Route(route));
        match route {
            Route::Profile(author)
                if author != self.me() && !self.library.borrow().is_followed(&author) =>
            {
                // A preview: fetch their feed as it is now, so the profile shows who they are.
                self.sync_now(author);
            }
            Route::Network => self.find_holders(),
            Route::Settings => {
                self.dispatch.as_ref()(Action::Persisted(browser::persisted().await));
            }
            _ => {}
        }
        self.refresh_route().await;
    }

    fn find_holders(self: &Rc<Self>) {
        if self.follower() {
            self.dispatch.as_ref()(Action::Holders(None));
            self.tell(&TabMessage::FindHolders { id: self.ask_id() });
            return;
        }
        let Some(net) = self.net() else {
            self.dispatch.as_ref()(Action::Holders(Some(Err(
                "You are offline; the DHT cannot be asked right now.".into(),
            ))));
            return;
        };
        self.dispatch.as_ref()(Action::Holders(None));
        let rt = self.clone();
        platform::spawn_local(async move {
            let result = net.client.find_providers(rt.me()).await.map(|peers| {
                let lib = rt.library.borrow();
                peers
                    .into_iter()
                    .filter(|p| *p != net.client.local_peer_id())
                    .filter_map(|p| kith_net::identity::author_of(&p))
                    .map(|a| lib.person(&a))
                    .collect::<Vec<_>>()
            });
            rt.dispatch.as_ref()(Action::Holders(Some(result.map_err(|e| e.to_string()))));
        });
    }

    /// Signs `payload` as my next entry, stores it, adds it to the library and publishes it.
    ///
    /// The entry is signed after the stored head, not the library's: another tab of this
    /// browser profile may have posted since (they share the store), and the library first
    /// catches up. If the store refuses it anyway (another tab posted at the same moment,
    /// [`kith_store::StoreError::Fork`]), the refused entry is neither shown nor published, and
    /// the post is signed again after the new head ([`APPEND_TRIES`] times in all).
    async fn append(&self, payload: Payload) -> Result<VerifiedEntry, String> {
        if self.own_check.get() {
            // Another tab may have finished the check.
            self.read_own_check().await;
        }
        if self.own_check.get() {
            return Err(
                "Kith is still checking for posts you made on another device since \
                        this backup, so your feed does not split in two. Wait a moment, or \
                        choose “Post anyway” above."
                    .into(),
            );
        }
        let mut tries = 0;
        let entry = loop {
            tries += 1;
            let stored = self
                .store
                .feed(&self.me())
                .await
                .map_err(|e| format!("Reading your feed failed: {e}"))?
                .map_or(0, |m| m.head_seq());
            if stored >= self.library.borrow().next_seq(&self.me()) {
                self.read_feed(self.me()).await;
            }
            let entry = self
                .library
                .borrow()
                .next_own_entry(&self.identity, &payload, kith_net::now_ms())
                .map_err(|e| e.to_string())?;
            match self.store.insert(std::slice::from_ref(&entry)).await {
                Ok(()) => break entry,
                // Another tab stored its entry at this seq first: sign again after it.
                Err(kith_store::StoreError::Fork { .. }) if tries < APPEND_TRIES => {
                    self.read_feed(self.me()).await;
                }
                Err(kith_store::StoreError::Fork { .. }) => {
                    self.read_feed(self.me()).await;
                    return Err(
                        "Another tab of this browser kept posting at the same moment. \
                                Nothing was lost: try again."
                            .into(),
                    );
                }
                Err(e) => return Err(format!("Saving failed: {e}")),
            }
        };
        self.library.borrow_mut().add([entry.clone()]);
        self.tell(&TabMessage::Changed { author: self.me() });
        if self.follower() {
            self.tell(&TabMessage::Publish { seq: entry.seq() });
        } else {
            self.publish(entry.clone());
        }
        Ok(entry)
    }

    /// Publishes a stored entry of mine live, in the background. With nobody listening it
    /// waits in the store, and followers fetch it when they next sync.
    fn publish(&self, entry: VerifiedEntry) {
        let Some(net) = self.net() else { return };
        platform::spawn_local(async move {
            if let Err(err) = net.agent.publish(&entry).await {
                let seq = entry.seq();
                tracing::info!("#{seq} not published live ({err}); followers will sync it");
            }
        });
    }

    async fn handle(self: Rc<Self>, command: Command) {
        let d = self.dispatch.clone();
        match command {
            Command::CreateIdentity { .. } => {}
            Command::Restore { file, passphrase } => {
                match backup::import(
                    &self.store,
                    &file,
                    &passphrase,
                    Some(self.me()),
                    kith_net::now_ms(),
                )
                .await
                {
                    Ok(r) => {
                        for m in self.store.feeds().await.unwrap_or_default() {
                            self.library
                                .borrow_mut()
                                .set_followed(m.author, m.followed && m.author != self.me());
                            self.read_feed(m.author).await;
                        }
                        self.notice(
                            format!("Restored {} entries from {} feeds.", r.entries, r.feeds),
                            false,
                        );
                        self.refresh_all().await;
                    }
                    Err(e) => self.notice(format!("Restoring failed: {e}"), true),
                }
            }
            Command::Open(route) => self.open(route).await,
            Command::Post { text, reply_to } => {
                let n = crate::text::char_count(&text);
                if text.trim().is_empty() {
                    self.notice("Write something first.", true);
                } else if n > MAX_POST_CHARS {
                    self.notice(
                        format!("A post is at most {MAX_POST_CHARS} characters; this one has {n}."),
                        true,
                    );
                } else {
                    let mentions = reply_to.map(|r| vec![r.author]).unwrap_or_default();
                    let payload = Payload::Post {
                        text,
                        reply_to,
                        mentions,
                    };
                    match self.append(payload).await {
                        Ok(_) => {
                            self.refresh_all().await;
                            d(Action::ShowNew);
                        }
                        Err(e) => self.notice(format!("Your post was not sent. {e}"), true),
                    }
                }
            }
            Command::React { target, emoji } => {
                let mine = self.library.borrow().my_reaction(&target, &emoji);
                let payload = match mine {
                    Some(r) => Payload::Delete { target: r },
                    None => Payload::Reaction { target, emoji },
                };
                match self.append(payload).await {
                    Ok(_) => self.refresh_all().await,
                    Err(e) => self.notice(format!("Reacting failed. {e}"), true),
                }
            }
            Command::Delete(target) => {
                if target.author != self.me() {
                    self.notice("You can only delete your own posts.", true);
                } else {
                    match self.append(Payload::Delete { target }).await {
                        Ok(_) => {
                            self.refresh_all().await;
                            self.notice("Post deleted, here and for everyone who holds it.", false);
                        }
                        Err(e) => self.notice(format!("Deleting failed. {e}"), true),
                    }
                }
            }
            Command::Follow(author) => self.follow(author).await,
            Command::Unfollow(author) => {
                if self.library.borrow().is_followed(&author) {
                    if let Err(e) = self.append(Payload::Unfollow { author }).await {
                        self.notice(format!("Unfollowing failed. {e}"), true);
                        return;
                    }
                    let _ = self
                        .store
                        .update_meta(&author, &|m| m.followed = false)
                        .await;
                    self.library.borrow_mut().set_followed(author, false);
                    self.tell(&TabMessage::Changed { author });
                    self.refresh_all().await;
                }
            }
            Command::Search(q) => self.search(q),
            Command::LoadMore => {
                self.home_limit.set(self.home_limit.get() + PAGE);
                self.refresh_home();
            }
            Command::FindHolders => self.find_holders(),
            Command::Backup { passphrase } => self.backup(passphrase).await,
            Command::Forget(author) => {
                if author == self.me() {
                    self.notice("Your own feed stays: it is you.", true);
                    return;
                }
                if self.library.borrow().is_followed(&author) {
                    let _ = self.append(Payload::Unfollow { author }).await;
                }
                match self.store.forget(&author).await {
                    Ok(()) => {
                        let name = self.library.borrow().person(&author).display_name();
                        self.library.borrow_mut().forget(&author);
                        self.tell(&TabMessage::Changed { author });
                        self.notice(format!("Forgot {name}'s posts in this browser."), false);
                        self.refresh_all().await;
                    }
                    Err(e) => self.notice(format!("Forgetting failed: {e}"), true),
                }
            }
            Command::SetTheme(t) => set_theme(&self.store, &d, t).await,
            Command::UpdateProfile { name, bio } => {
                let name = name.trim().to_owned();
                if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
                    self.notice(
                        format!("A display name is 1 to {MAX_NAME_CHARS} characters."),
                        true,
                    );
                    return;
                }
                let payload = Payload::Profile {
                    name,
                    bio: bio.trim().to_owned(),
                    avatar: None,
                };
                match self.append(payload).await {
                    Ok(_) => {
                        d(Action::Me(self.me_view()));
                        self.notice("Profile updated.", false);
                        self.refresh_all().await;
                    }
                    Err(e) => self.notice(format!("Updating your profile failed. {e}"), true),
                }
            }
            Command::GoAhead => self.own_check_done().await,
            Command::RetryNow => {
                if self.follower() {
                    self.tell(&TabMessage::RetryNow);
                } else {
                    let _ = self.retry.clone().try_send(());
                }
            }
            Command::RequestPersistence => match kith_store::idb::request_persistence().await {
                Ok(granted) => {
                    d(Action::Persisted(granted));
                    if !granted {
                        self.notice(
                            "The browser did not grant persistent storage. Bookmarking the page or \
                             installing the app usually makes it agree.",
                            true,
                        );
                    }
                }
                Err(e) => self.notice(e.to_string(), true),
            },
        }
    }

    async fn follow(self: Rc<Self>, author: AuthorId) {
        if author == self.me() {
            self.notice("That is you.", true);
            return;
        }
        if !self.library.borrow().is_followed(&author) {
            if let Err(e) = self.append(Payload::Follow { author }).await {
                self.notice(format!("Following failed. {e}"), true);
                return;
            }
            if let Err(e) = self
                .store
                .update_meta(&author, &|m| m.followed = true)
                .await
            {
                self.notice(format!("Following failed: {e}"), true);
                return;
            }
            self.library.borrow_mut().set_followed(author, true);
            self.tell(&TabMessage::Changed { author });
        }
        self.following_now.borrow_mut().insert(author);
        self.refresh_all().await;
        if self.follower() {
            self.tell(&TabMessage::Followed { author });
            return;
        }
        self.follow_on_network(author).await;
    }

    /// The network side of a follow (this tab's, or a follower tab's on its behalf).
    async fn follow_on_network(&self, author: AuthorId) {
        let Some(net) = self.net() else {
            self.notice(
                "Followed. Their posts will arrive once you are back online.",
                false,
            );
            return;
        };
        let _ = net.client.follow_live(author).await;
        if self
            .library
            .borrow()
            .feed(&author)
            .is_some_and(|f| f.head_seq() > 0)
        {
            // Already held (a profile preview): a holder from now on.
            self.announce(author);
        }
        self.sync_now(author);
    }

    /// Announces in the DHT that this browser holds `author`'s feed, so others can fetch it
    /// from here while the author is offline.
    fn announce(&self, author: AuthorId) {
        let Some(net) = self.net() else { return };
        platform::spawn_local(async move {
            if let Err(e) = net.client.provide(author).await {
                tracing::warn!("announcing {author}'s feed: {e}");
            }
        });
    }

    /// Starts a sync of `author`'s feed (reported through the agent's events).
    fn sync_now(&self, author: AuthorId) {
        if self.follower() {
            self.tell(&TabMessage::Sync { author });
            return;
        }
        let Some(net) = self.net() else { return };
        let (agent, reports) = (net.agent.clone(), net.reports.clone());
        platform::spawn_local(async move {
            agent
                .sync_feed(author, &move |e| {
                    let _ = reports.clone().try_send(e);
                })
                .await;
        });
    }

    /// Reads [`OWN_CHECK`] and shows it.
    async fn read_own_check(&self) {
        let pending = matches!(self.store.get_setting(OWN_CHECK).await, Ok(Some(_)));
        let was = self.own_check.replace(pending);
        if pending && !was {
            self.dispatch.as_ref()(Action::OwnCheck(Some(OwnCheck::Checking)));
        } else if !pending && was {
            self.dispatch.as_ref()(Action::OwnCheck(None));
        }
    }

    /// My own feed is known to be current (synced from the network, or the person said so).
    async fn own_check_done(&self) {
        if !self.own_check.get() {
            return;
        }
        if let Err(e) = self.store.delete_setting(OWN_CHECK).await {
            self.notice(format!("Saving a setting failed: {e}"), true);
        }
        self.own_check.set(false);
        self.dispatch.as_ref()(Action::OwnCheck(None));
        self.tell(&TabMessage::Changed { author: self.me() });
    }

    /// Whether another tab of this profile runs the node (this one asks it for network work).
    fn follower(&self) -> bool {
        self.tabs.is_some() && !self.holder.get()
    }

    /// Posts `message` to the profile's other tabs.
    fn tell(&self, message: &TabMessage) {
        if let Some(t) = &self.tabs {
            t.post(&message.encode());
        }
    }

    /// A new question id (only the latest question's answer is shown).
    fn ask_id(&self) -> u64 {
        let id = self.asked.get() + 1;
        self.asked.set(id);
        id
    }

    /// This tab's connection, as follower tabs show it.
    fn status(&self) -> TabStatus {
        match self.net() {
            Some(net) => TabStatus::Online {
                node: net.node.to_string(),
                transport: net.node_transport.get().unwrap_or(TransportKind::Other),
            },
            None => TabStatus::Connecting { attempt: 1 },
        }
    }

    /// Re-reads `author`'s feed and follow state from the store (another tab changed it).
    async fn reload_feed(&self, author: AuthorId) {
        match self.store.feed(&author).await {
            Ok(Some(m)) => {
                self.library
                    .borrow_mut()
                    .set_followed(author, m.followed && author != self.me());
                self.read_feed(author).await;
            }
            Ok(None) => self.library.borrow_mut().forget(&author),
            Err(e) => tracing::warn!("re-reading {author}'s feed: {e}"),
        }
        if author == self.me() {
            self.dispatch.as_ref()(Action::Me(self.me_view()));
        }
    }

    /// Re-reads every held feed.
    async fn reload_all(&self) {
        for m in self.store.feeds().await.unwrap_or_default() {
            self.reload_feed(m.author).await;
        }
        self.refresh_all().await;
    }

    /// Reads what the profile's other tabs say, for as long as the page is open.
    async fn tab_messages(self: Rc<Self>, mut rx: mpsc::Receiver<String>) {
        while let Some(text) = rx.next().await {
            let Some(message) = TabMessage::decode(&text) else {
                continue;
            };
            self.clone().on_tab_message(message).await;
        }
    }

    async fn on_tab_message(self: Rc<Self>, message: TabMessage) {
        let holder = !self.follower();
        let d = self.dispatch.clone();
        match message {
            TabMessage::Changed { author } => {
                if author == self.me() {
                    self.read_own_check().await;
                }
                self.reload_feed(author).await;
                self.refresh_live().await;
            }
            TabMessage::Publish { seq } if holder => {
                let me = self.me();
                self.reload_feed(me).await;
                if let Ok(Some(e)) = self.store.range(&me, seq, 1).await.map(|mut v| v.pop()) {
                    self.publish(e);
                }
            }
            TabMessage::Followed { author } if holder => {
                self.reload_feed(author).await;
                self.following_now.borrow_mut().insert(author);
                self.follow_on_network(author).await;
            }
            TabMessage::Sync { author } if holder => self.sync_now(author),
            TabMessage::Search { id, handle } if holder => {
                let Some(net) = self.net() else {
                    self.tell(&TabMessage::Found {
                        id,
                        handle,
                        result: Err("the node is not connected yet".into()),
                    });
                    return;
                };
                platform::spawn_local(async move {
                    let result = lookup(&net, &handle).await;
                    self.tell(&TabMessage::Found { id, handle, result });
                });
            }
            TabMessage::Found { id, handle, result } if !holder && id == self.asked.get() => {
                self.found(handle, result);
            }
            TabMessage::FindHolders { id } if holder => {
                let Some(net) = self.net() else {
                    self.tell(&TabMessage::Holders {
                        id,
                        result: Err("the node is not connected yet".into()),
                    });
                    return;
                };
                platform::spawn_local(async move {
                    let me = net.client.local_peer_id();
                    let result = net
                        .client
                        .find_providers(self.me())
                        .await
                        .map(|peers| {
                            peers
                                .into_iter()
                                .filter(|p| *p != me)
                                .filter_map(|p| kith_net::identity::author_of(&p))
                                .collect()
                        })
                        .map_err(|e| e.to_string());
                    self.tell(&TabMessage::Holders { id, result });
                });
            }
            TabMessage::Holders { id, result } if !holder && id == self.asked.get() => {
                let lib = self.library.borrow();
                let people = result.map(|authors| authors.iter().map(|a| lib.person(a)).collect());
                drop(lib);
                d(Action::Holders(Some(people)));
            }
            TabMessage::RetryNow if holder => {
                let _ = self.retry.clone().try_send(());
            }
            TabMessage::Hello if holder && self.holder.get() => {
                self.tell(&TabMessage::Status(self.status()));
            }
            TabMessage::Status(status) if !holder => {
                d(Action::ViaTab(true));
                match status {
                    TabStatus::Connecting { attempt } => d(Action::Connecting { attempt }),
                    TabStatus::Online { node, transport } => d(Action::Connected {
                        node,
                        transport,
                        at_ms: browser::perf_now(),
                    }),
                    TabStatus::Offline {
                        reason,
                        retry_in_ms,
                    } => d(Action::Disconnected {
                        reason,
                        retry_in_ms,
                    }),
                }
            }
            // Meant for a tab in the other role.
            _ => {}
        }
    }

    fn search(self: Rc<Self>, q: String) {
        let d = self.dispatch.clone();
        let handle = match normalize_handle(q.trim().trim_start_matches('@')) {
            Ok(h) => h,
            Err(e) => {
                d(Action::Search(Search::Failed(format!(
                    "“{q}” is not a handle: {e}"
                ))));
                return;
            }
        };
        d(Action::Search(Search::Searching(handle.clone())));
        if self.follower() {
            self.tell(&TabMessage::Search {
                id: self.ask_id(),
                handle,
            });
            return;
        }
        let Some(net) = self.net() else {
            d(Action::Search(Search::Failed(
                "You are offline: handles are looked up in the network.".into(),
            )));
            return;
        };
        platform::spawn_local(async move {
            let result = lookup(&net, &handle).await;
            self.found(handle, result);
        });
    }

    /// Shows a handle search's result.
    fn found(&self, handle: String, result: Result<Vec<(AuthorId, String)>, String>) {
        let search = match result {
            Ok(mut claims) => {
                // The lookup never counts this node; my own claim is known here.
                let mine = self.handle.borrow().clone();
                if mine.as_deref() == Some(handle.as_str())
                    && !claims.iter().any(|(a, _)| *a == self.me())
                {
                    claims.insert(0, (self.me(), handle.clone()));
                }
                let mut lib = self.library.borrow_mut();
                for (author, h) in &claims {
                    lib.learn_handle(*author, h.clone());
                }
                let hits = claims.iter().map(|(a, _)| lib.person(a)).collect();
                Search::Done { handle, hits }
            }
            Err(e) => Search::Failed(format!("The lookup failed: {e}")),
        };
        self.dispatch.as_ref()(Action::Search(search));
    }

    async fn backup(&self, passphrase: String) {
        if passphrase.chars().count() < MIN_PASSPHRASE {
            self.notice(
                format!("Use a passphrase of at least {MIN_PASSPHRASE} characters."),
                true,
            );
            return;
        }
        let (salt, nonce) = match (browser::random_bytes::<16>(), browser::random_bytes::<12>()) {
            (Ok(s), Ok(n)) => (s, n),
            (Err(e), _) | (_, Err(e)) => {
                self.notice(e, true);
                return;
            }
        };
        let now = kith_net::now_ms();
        match backup::export(
            &self.store,
            &self.identity,
            &passphrase,
            KdfParams::RECOMMENDED,
            salt,
            nonce,
            now,
        )
        .await
        {
            Ok(bytes) => {
                let fp = self.me().fingerprint();
                let name = format!("kith-backup-{}-{}.kith", &fp[..9], now / 1000);
                match browser::download(&bytes, &name) {
                    Ok(()) => self.notice(
                        format!(
                            "Backup downloaded ({}). Keep it and its passphrase safe.",
                            crate::text::bytes(bytes.len() as u64)
                        ),
                        false,
                    ),
                    Err(e) => self.notice(e, true),
                }
            }
            Err(e) => self.notice(format!("The backup failed: {e}"), true),
        }
    }

    /// Connects to the network and runs the agent; never returns while the page is open.
    async fn network(self: Rc<Self>, mut retry: mpsc::Receiver<()>) {
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
            self.reload_all().await;
        }
        self.holder.set(true);
        d(Action::ViaTab(false));
        let only = transport_from_url();
        let mut backoff = Backoff::APP_DEFAULT;
        let (node, addrs, fallback) = loop {
            d(Action::Connecting {
                attempt: backoff.attempt() + 1,
            });
            let plan = fetch_bootstrap()
                .await
                .and_then(|doc| node_plan(&doc, only));
            match plan {
                Ok(plan) => break plan,
                Err(reason) => {
                    let delay = backoff.next_delay(js_sys::Math::random());
                    d(Action::Disconnected {
                        reason,
                        retry_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    });
                    let mut sleep = Box::pin(platform::sleep(delay).fuse());
                    futures::select! {
                        () = sleep => {}
                        _ = retry.next() => {}
                    }
                }
            }
        };
        let keypair = kith_net::identity::keypair_of(&self.identity);
        let (client, events, event_loop) = match kith_net::new(keypair, Config::default()) {
            Ok(n) => n,
            Err(e) => {
                d(Action::Failed(format!(
                    "The network could not start in this browser: {e}"
                )));
                return;
            }
        };
        platform::spawn(event_loop.run());
        let agent =
            Agent::new(client.clone(), self.store.clone(), node, addrs).with_fallback(fallback);
        let (reports, mut report_rx) = mpsc::channel::<AgentEvent>(1024);
        let node_transport = Rc::new(Cell::new(None));
        *self.net.borrow_mut() = Some(Rc::new(Net {
            client: client.clone(),
            agent: agent.clone(),
            node,
            reports: reports.clone(),
            node_transport: node_transport.clone(),
        }));
        // One event path: the agent reads the node's events and reports connection news too.
        platform::spawn_local(agent.run_with(events, retry, move |e| {
            // A full queue drops this report; the next report for the feed re-reads the store
            // from the library's head, so nothing is lost for good.
            let _ = reports.clone().try_send(e);
        }));
        while let Some(event) = report_rx.next().await {
            self.on_agent(event).await;
        }
    }

    async fn on_agent(self: &Rc<Self>, event: AgentEvent) {
        let d = self.dispatch.clone();
        match event {
            AgentEvent::Connecting { attempt } => {
                self.tell(&TabMessage::Status(TabStatus::Connecting { attempt }));
                d(Action::Connecting { attempt });
            }
            AgentEvent::Online { .. } => {
                let Some(net) = self.net() else { return };
                self.tell(&TabMessage::Status(self.status()));
                d(Action::Connected {
                    node: net.node.to_string(),
                    transport: net.node_transport.get().unwrap_or(TransportKind::Other),
                    at_ms: browser::perf_now(),
                });
                let handle = self.handle.borrow().clone();
                if let Some(h) = handle
                    && let Ok(claim) = NameClaim::sign(&self.identity, &h, kith_net::now_ms())
                {
                    let client = net.client.clone();
                    platform::spawn_local(async move {
                        if let Err(e) = client.claim_name(&claim).await {
                            tracing::warn!("claiming @{}: {e}", claim.handle);
                        }
                    });
                }
                match self.route.get() {
                    Route::Network => self.find_holders(),
                    Route::Profile(a)
                        if a != self.me() && !self.library.borrow().is_followed(&a) =>
                    {
                        self.sync_now(a);
                    }
                    _ => {}
                }
            }
            AgentEvent::Offline { reason, retry_in } => {
                let retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX);
                self.tell(&TabMessage::Status(TabStatus::Offline {
                    reason: reason.clone(),
                    retry_in_ms,
                }));
                d(Action::Disconnected {
                    reason,
                    retry_in_ms,
                });
            }
            AgentEvent::SyncProgress { author, have, want } => {
                let name = self.library.borrow().person(&author).display_name();
                d(Action::SyncProgress {
                    author,
                    name,
                    have,
                    want,
                });
            }
            AgentEvent::Synced {
                author,
                peer,
                fetched,
            } => {
                tracing::info!("synced {author} from {peer}: {fetched} entries");
                d(Action::SyncDone(author));
                self.synced_from.borrow_mut().insert(author, peer);
                if author == self.me() {
                    // Synced from a holder of my feed: posts made elsewhere are in the store.
                    self.read_feed(author).await;
                    self.own_check_done().await;
                }
                self.tell(&TabMessage::Changed { author });
                self.following_now.borrow_mut().remove(&author);
                self.read_feed(author).await;
                if self.library.borrow().is_followed(&author) {
                    self.announce(author);
                }
                self.refresh_all().await;
            }
            AgentEvent::Unreachable { author } if author == self.me() => {
                d(Action::SyncDone(author));
                if self.own_check.get() {
                    d(Action::OwnCheck(Some(OwnCheck::Unreachable)));
                }
            }
            AgentEvent::Unreachable { author } => {
                tracing::info!("nobody holding {author}'s feed answered");
                d(Action::SyncDone(author));
                if self.following_now.borrow_mut().remove(&author) {
                    let name = self.library.borrow().person(&author).display_name();
                    self.notice(
                        format!(
                            "Nobody holding {name}'s posts is online right now. They will arrive \
                             when the author or one of their followers is."
                        ),
                        false,
                    );
                }
            }
            AgentEvent::Link(e) => {
                if let Event::Connected {
                    peer, transport, ..
                } = &e
                    && let Some(net) = self.net()
                    && *peer == net.node
                {
                    net.node_transport.set(Some(*transport));
                }
                d(Action::Net(e));
            }
            AgentEvent::Forked { author, .. } => {
                self.tell(&TabMessage::Changed { author });
                let whose = if author == self.me() {
                    "Your own feed".to_owned()
                } else {
                    format!(
                        "{}'s feed",
                        self.library.borrow().person(&author).display_name()
                    )
                };
                self.notice(
                    format!(
                        "{whose} has forked: two different posts were signed at the same place                          (the same identity used in two browsers at once). The profile shows it."
                    ),
                    true,
                );
                self.refresh_all().await;
            }
            AgentEvent::Stored { author, seq, entry } => {
                self.tell(&TabMessage::Changed { author });
                // Shown once stored: the feed's next entry is added without reading it back;
                // after a gap the library catches up from the store.
                let next = self.library.borrow().next_seq(&author);
                if next == seq {
                    self.library.borrow_mut().add([*entry]);
                } else if next < seq {
                    self.read_feed(author).await;
                } else {
                    return;
                }
                self.refresh_live().await;
            }
        }
    }

    /// Recomputes the screens after a live entry: the posts change, not the feed's metadata.
    async fn refresh_live(&self) {
        self.refresh_home();
        match self.route.get() {
            Route::Profile(a) => {
                let meta = self.shown_meta.borrow().clone().filter(|m| m.author == a);
                match meta {
                    Some(m) => self.show_profile(a, Some(&m)),
                    None => self.refresh_profile(a).await,
                }
            }
            _ => self.refresh_route().await,
        }
    }
}

/// The verified claimants of `handle` in the DHT, as (author, handle) pairs.
async fn lookup(net: &Net, handle: &str) -> Result<Vec<(AuthorId, String)>, String> {
    net.client
        .lookup_name(handle)
        .await
        .map(|claims| claims.into_iter().map(|c| (c.author, c.handle)).collect())
        .map_err(|e| e.to_string())
}

/// `?transport=websocket` or `?transport=webrtc-direct` in the page's URL restricts the dial
/// to one transport (for tests and for networks that block one).
pub fn transport_from_url() -> Option<TransportKind> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    match params.get("transport")?.as_str() {
        "websocket" => Some(TransportKind::WebSocket),
        "webrtc-direct" => Some(TransportKind::WebRtcDirect),
        _ => None,
    }
}

/// Which of kith-node's addresses to dial: its WebSocket addresses first and WebRTC-direct
/// only when those fail, unless the URL asks for one transport. A WebRTC-direct connection is
/// a little faster to set up, but streams that kith-node opens towards the browser right after
/// it can be lost (rust-libp2p #3665), and gossipsub announces its subscriptions on exactly
/// such a stream; over WebSocket (yamux) they always arrive.
fn node_plan(
    doc: &BootstrapDoc,
    only: Option<TransportKind>,
) -> Result<(PeerId, Vec<kith_net::Multiaddr>, Vec<kith_net::Multiaddr>), String> {
    let (peer, all) = kith_net::dial_plan(doc, only).map_err(|e| e.to_string())?;
    if only.is_some() {
        return Ok((peer, all, Vec::new()));
    }
    let (ws, rest): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|a| TransportKind::of(a) == TransportKind::WebSocket);
    if ws.is_empty() {
        Ok((peer, rest, Vec::new()))
    } else {
        Ok((peer, ws, rest))
    }
}

async fn fetch_bootstrap() -> Result<BootstrapDoc, String> {
    let resp = gloo_net::http::Request::get("/bootstrap.json")
        .send()
        .await
        .map_err(|e| format!("kith-node is unreachable ({e})"))?;
    if !resp.ok() {
        return Err(format!("kith-node answered HTTP {}", resp.status()));
    }
    let bytes = resp
        .binary()
        .await
        .map_err(|e| format!("reading bootstrap.json failed: {e}"))?;
    BootstrapDoc::parse(&bytes).map_err(|e| e.to_string())
}
