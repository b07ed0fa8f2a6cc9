//! [`App`]: the person's commands carried out over any [`Store`] and any [`Network`], and
//! everything that happens turned into [`Update`]s for a UI.
//!
//! - The store is the record. The [`Library`] is the read model built from it, and the
//!   screens are computed from the library ([`view`](crate::view) types) and sent as updates.
//! - My own entries are signed here after the **stored** head (another view of the same store,
//!   a second browser tab, may have posted since), stored, added to the library, then
//!   published. The store refuses a second entry at a seq; the post is then signed again.
//! - After a restore my feed may be behind posts made on another device: posting waits
//!   ([`OWN_CHECK`]) until my feed was synced from the network, or until the person goes ahead.
//!   Once an entry of mine has come from the network ([`OTHER_DEVICE`]), another device of
//!   mine exists, and the same wait follows every (re)connection: that device may have posted
//!   while this one was away.
//! - Each device runs its node under a network key of its own ([`device_secret`]), so two
//!   devices of one person can be online at once and see each other's posts live.
//! - The network may be absent (offline, or not started yet): what needs it says so, and
//!   what can wait (a follow, a post) is done locally and caught up by the next sync.
//! - Nothing here waits on the network while a command runs: lookups, publishing and
//!   announcements run as tasks of their own through [`Env::spawn`]; syncs are the network's
//!   own tasks, whose outcome comes back as [`News`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use kith_core::dm::{self, Body, Letter, LetterId, MAX_DM_TEXT};
use kith_core::entry::{MAX_BIO_CHARS, MAX_NAME_CHARS, MAX_POST_CHARS};
use kith_core::image::{MAX_AVATAR_SIDE, MAX_IMAGE_SIDE, MAX_IMAGES};
use kith_core::name::normalize_handle;
use kith_core::{
    AuthorId, EntryRef, FollowLink, Hash, Identity, ImageRef, KdfParams, NameClaim, Payload,
    VerifiedEntry,
};
use kith_store::dms;
use kith_store::{
    FeedLimits, FeedMeta, MAX_READ, People, Stance, Store, StoreError, backup, people,
};

use crate::Library;
use crate::messages::{ConversationView, Messages, conversation_view, messages_view};
use crate::network::{NetFailure, Network, News, Source};
use crate::route::Route;
use crate::view::{
    FeedUsage, ImageView, Me, NetSearch, Notifications, OwnCheck, Person, PostView, ProfileView,
    Search, TextSearch, Theme, ThreadView,
};

/// How many hops a search of the network goes: the peers connected here, theirs, and theirs.
pub const NET_SEARCH_TTL: u8 = 3;
/// Threads per home page (and per "load more").
pub const PAGE: usize = 30;
/// The most posts a search of the posts held here shows.
pub const SEARCH_PAGE: usize = 50;
/// The reactions offered under every post.
pub const REACTIONS: [&str; 4] = ["❤️", "👍", "😂", "🎉"];
/// The setting present while the person's own feed may be behind posts made on another
/// device (after a restore).
pub const OWN_CHECK: &str = "own-feed-check";
/// The setting present once an entry of mine came from the network: another device of mine
/// posts too, so my feed is checked at every (re)connection before I post.
pub const OTHER_DEVICE: &str = "other-device";
/// The setting that holds this device's network key (32 secret bytes; never in a backup).
pub const DEVICE_KEY: &str = "device-key";
/// The setting that lists the feeds fetched only to preview a profile (hex keys, one a line):
/// they are kept for the session, never announced, and dropped at the next start unless
/// followed meanwhile.
pub const PREVIEWS: &str = "previews";
/// The most previews kept at once; opening one more drops the oldest.
pub const MAX_PREVIEWS: usize = 16;
/// How many times a post is signed again when another view of the store stored an entry at
/// its seq first.
pub const APPEND_TRIES: u32 = 3;
/// The shortest backup passphrase accepted.
pub const MIN_PASSPHRASE: usize = 8;
/// Posts shown on a profile.
const PROFILE_POSTS: usize = 50;

/// What the person asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create a new identity with this profile (on the welcome screen).
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
        /// Its images (at most [`MAX_IMAGES`](kith_core::image::MAX_IMAGES)), each already
        /// resized and re-encoded by the shell (no metadata left in them).
        images: Vec<Vec<u8>>,
    },
    /// Show an image: its bytes come as [`Update::Image`], from the store or else fetched
    /// from the author or a holder of the feed, or [`Update::ImageUnavailable`].
    LoadImage(ImageView),
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
    /// Look up a handle in the DHT (a query of more than one word is only searched here,
    /// with [`Command::SearchText`]).
    Search(String),
    /// Search the posts held here, as the person types: words, `#tags`, `@handles`.
    SearchText(String),
    /// Show older posts on the home timeline.
    LoadMore,
    /// Ask the DHT who holds my feed.
    FindHolders,
    /// Make a backup encrypted with this passphrase ([`Update::Download`]).
    Backup {
        /// The passphrase.
        passphrase: String,
    },
    /// Drop a feed from this device.
    Forget(AuthorId),
    /// Change the theme.
    SetTheme(Theme),
    /// Change my profile.
    UpdateProfile {
        /// Display name.
        name: String,
        /// Bio.
        bio: String,
        /// A new avatar (resized and re-encoded by the shell); `None` keeps the one I have.
        avatar: Option<Vec<u8>>,
    },
    /// Stop waiting and reconnect now.
    RetryNow,
    /// Post without waiting for the check for posts made on another device.
    GoAhead,
    /// Ask the browser for persistent storage.
    RequestPersistence,
    /// Send a direct message.
    SendMessage {
        /// To whom.
        to: AuthorId,
        /// The text.
        text: String,
    },
    /// Mute or block someone (`Some`), or undo it (`None`).
    SetStance {
        /// Who.
        author: AuthorId,
        /// What to do.
        stance: Option<Stance>,
    },
    /// Change how much of one other person's feed this device keeps.
    SetFeedLimits {
        /// The most entries.
        entries: u64,
        /// The most megabytes (MiB).
        megabytes: u64,
    },
}

/// What the app tells its UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The welcome screen: busy creating or restoring, or why the last try failed.
    Onboarding {
        /// Under way.
        busy: bool,
        /// Why it failed.
        error: Option<String>,
    },
    /// The library is loaded: show the app.
    Ready(Me),
    /// My profile changed.
    Me(Me),
    /// The screen open.
    Route(Route),
    /// A sync is under way.
    SyncProgress {
        /// The feed.
        author: AuthorId,
        /// Whose, for the person.
        name: String,
        /// Fetched so far.
        have: u64,
        /// Known missing.
        want: u64,
    },
    /// A sync ended.
    SyncDone(AuthorId),
    /// The home timeline, newest first, and whether older posts exist.
    Home {
        /// The threads.
        threads: Vec<ThreadView>,
        /// Older posts exist.
        more: bool,
    },
    /// Who I follow.
    Following(BTreeSet<AuthorId>),
    /// Show the posts waiting behind the "new posts" pill (after my own post).
    ShowNew,
    /// The profile on screen.
    Profile(Box<ProfileView>),
    /// The notifications, and how many are unread (the navigation shows the count).
    Notifications(Notifications),
    /// The Messages screen (and the navigation's count of unread messages).
    Messages(Messages),
    /// The conversation open.
    Conversation(Box<ConversationView>),
    /// The handle search.
    Search(Search),
    /// The search of the posts held here.
    TextSearch(TextSearch),
    /// A search of the posts other people's devices hold.
    NetSearch(NetSearch),
    /// Friends of friends.
    Suggestions(Vec<(Person, usize)>),
    /// Who announces my feed; `None` while asking.
    Holders(Option<Result<Vec<Person>, String>>),
    /// Storage per feed.
    Usage(Vec<FeedUsage>),
    /// Whether the browser keeps this storage even when space runs short.
    Persisted(bool),
    /// How much of one other person's feed this device keeps.
    FeedLimits(FeedLimits),
    /// Who is muted or blocked on this device (for Settings), in name order.
    People(Vec<(Person, Stance)>),
    /// The theme chosen.
    Theme(Theme),
    /// The check for posts made on another device, while it is pending.
    OwnCheck(Option<OwnCheck>),
    /// A message for the person.
    Notice {
        /// The words.
        text: String,
        /// An error, rather than news.
        error: bool,
    },
    /// An image's bytes, checked against its hash, for every view that names it.
    Image {
        /// Its hash.
        hash: Hash,
        /// Its MIME type.
        mime: &'static str,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// An image could not be had (nobody holding it online, or the store failed).
    ImageUnavailable {
        /// Its hash.
        hash: Hash,
        /// Why, said for the person.
        reason: String,
    },
    /// A file for the person to keep (a backup).
    Download {
        /// Its bytes.
        bytes: Vec<u8>,
        /// Its name.
        name: String,
    },
    /// The store's copy of `author`'s feed (or its follow state) changed here: other views of
    /// the same store should re-read it ([`App::on_store_changed`]).
    Changed(AuthorId),
}

/// Fills a buffer from a CSPRNG, or says why it cannot.
pub type Random = Rc<dyn Fn(&mut [u8]) -> Result<(), String>>;

/// Asks for persistent storage (`true`), or only checks it (`false`): whether the storage
/// is kept even when the device runs short of space.
pub type Persist = Rc<dyn Fn(bool) -> LocalBoxFuture<'static, Result<bool, String>>>;

/// What the app needs from where it runs.
#[derive(Clone)]
pub struct Env {
    /// Where updates go.
    pub out: Rc<dyn Fn(Update)>,
    /// Runs a task beside the app (the page's event loop, a local executor).
    pub spawn: Rc<dyn Fn(LocalBoxFuture<'static, ()>)>,
    /// Fills a buffer from a CSPRNG.
    pub random: Random,
    /// Persistent storage.
    pub persist: Persist,
    /// The origin follow links open on (`http://127.0.0.1:8080`).
    pub origin: String,
}

impl Env {
    fn send(&self, update: Update) {
        (self.out)(update);
    }

    fn notice(&self, text: impl Into<String>, error: bool) {
        self.send(Update::Notice {
            text: text.into(),
            error,
        });
    }

    /// Checks (`ask == false`) or asks for persistent storage, and shows the answer; a
    /// refusal to ask is explained.
    pub async fn persistence(&self, ask: bool) {
        match (self.persist)(ask).await {
            Ok(granted) => {
                self.send(Update::Persisted(granted));
                if ask && !granted {
                    self.notice(
                        "The browser did not grant persistent storage. Bookmarking the page or \
                         installing the app usually makes it agree.",
                        true,
                    );
                }
            }
            Err(e) if ask => self.notice(e, true),
            Err(e) => tracing::info!("checking persistent storage: {e}"),
        }
    }

    fn random<const N: usize>(&self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        (self.random)(&mut out)?;
        Ok(out)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The welcome screen's side: carries out one command while there is no identity. Returns
/// the identity once one was created or restored.
pub async fn welcome<S: Store>(store: &S, env: &Env, command: Command) -> Option<Identity> {
    let result = match command {
        Command::CreateIdentity { name, handle, bio } => {
            env.send(Update::Onboarding {
                busy: true,
                error: None,
            });
            create_identity(store, env, &name, &handle, &bio).await
        }
        Command::Restore { file, passphrase } => {
            env.send(Update::Onboarding {
                busy: true,
                error: None,
            });
            match backup::import(store, &file, &passphrase, None, now_ms()).await {
                // The backup's feed may be behind posts made elsewhere since: check first,
                // now and whenever this device comes back, since the backup's device may
                // still be in use.
                Ok(r) => {
                    let mut saved = Ok(());
                    for setting in [OWN_CHECK, OTHER_DEVICE] {
                        if saved.is_ok() {
                            saved = store.put_setting(setting, b"1").await;
                        }
                    }
                    saved
                        .map(|()| r.identity)
                        .map_err(|e| format!("Restoring failed: {e}"))
                }
                Err(e) => Err(format!("Restoring failed: {e}")),
            }
        }
        Command::SetTheme(t) => {
            set_theme(store, env, t).await;
            return None;
        }
        _ => return None,
    };
    match result {
        Ok(identity) => {
            // A new identity's key lives in this storage only: ask the browser to keep it.
            if let Ok(granted) = (env.persist)(true).await {
                env.send(Update::Persisted(granted));
            }
            Some(identity)
        }
        Err(error) => {
            env.send(Update::Onboarding {
                busy: false,
                error: Some(error),
            });
            None
        }
    }
}

async fn create_identity<S: Store>(
    store: &S,
    env: &Env,
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
    let identity = Identity::from_secret(env.random::<32>()?);
    let profile = Payload::Profile {
        name: name.to_owned(),
        bio: bio.trim().to_owned(),
        avatar: None,
    };
    let entry =
        kith_core::next_entry(&identity, None, &profile, now_ms()).map_err(|e| e.to_string())?;
    let fail = |e: StoreError| format!("Saving your identity failed: {e}");
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

/// Keeps the theme chosen, and says so.
pub async fn set_theme<S: Store>(store: &S, env: &Env, theme: Theme) {
    if let Err(e) = store.put_setting("theme", theme.as_str().as_bytes()).await {
        env.notice(format!("Saving the theme failed: {e}"), true);
    }
    env.send(Update::Theme(theme));
}

/// The theme kept in `store`.
pub async fn stored_theme<S: Store>(store: &S) -> Option<Theme> {
    match store.get_setting("theme").await {
        Ok(Some(t)) => Some(Theme::parse(&String::from_utf8_lossy(&t))),
        _ => None,
    }
}

/// The identity kept in `store`: `Ok(None)` before onboarding, an error said for the person
/// when it cannot be read.
pub async fn stored_identity<S: Store>(store: &S) -> Result<Option<Identity>, String> {
    match store.identity().await {
        Ok(Some(secret)) => match <[u8; 32]>::try_from(secret.as_slice()) {
            Ok(s) => Ok(Some(Identity::from_secret(s))),
            Err(_) => Err(
                "The identity stored in this browser is damaged. Restore it from a \
                 backup in a new browser profile."
                    .into(),
            ),
        },
        Ok(None) => Ok(None),
        Err(e) => Err(format!("Reading your identity failed: {e}")),
    }
}

/// This device's network key: the one kept in `store`, or, the first time (`env` given), a
/// new random one, saved. `Ok(None)` when there is none yet and `env` is `None`.
pub async fn device_secret<S: Store>(
    store: &S,
    env: Option<&Env>,
) -> Result<Option<[u8; 32]>, String> {
    let kept = store
        .get_setting(DEVICE_KEY)
        .await
        .map_err(|e| format!("Reading this device's key failed: {e}"))?;
    if let Some(bytes) = kept {
        return <[u8; 32]>::try_from(bytes.as_slice())
            .map(Some)
            .map_err(|_| "This device's network key is damaged.".to_owned());
    }
    let Some(env) = env else { return Ok(None) };
    let secret = env.random::<32>()?;
    store
        .put_setting(DEVICE_KEY, &secret)
        .await
        .map_err(|e| format!("Saving this device's key failed: {e}"))?;
    Ok(Some(secret))
}

/// The app for one person. See the module docs.
pub struct App<S> {
    env: Env,
    identity: Rc<Identity>,
    store: S,
    library: RefCell<Library>,
    route: Cell<Route>,
    home_limit: Cell<usize>,
    net: RefCell<Option<Rc<dyn Network>>>,
    handle: RefCell<Option<String>>,
    /// Where each feed was last synced from.
    synced_from: RefCell<BTreeMap<AuthorId, (Source, bool)>>,
    /// The metadata of the profile on screen, as last read (live entries do not change it).
    shown_meta: RefCell<Option<FeedMeta>>,
    /// Feeds followed this session whose first sync has not finished.
    following_now: RefCell<BTreeSet<AuthorId>>,
    /// The latest handle search (only its answer is shown).
    searches: Cell<u64>,
    /// Whether my own feed may be behind posts made on another device ([`OWN_CHECK`]).
    own_check: Cell<bool>,
    /// Feeds whose reaching the cap was said this session (said once each).
    capped_said: RefCell<BTreeSet<AuthorId>>,
    /// Who is muted or blocked (kith-store's `people` setting, as last read).
    people: RefCell<People>,
    /// Up to when the notifications were read (kith-store's inbox, as last read).
    read_ms: Cell<u64>,
    /// The latest network search (only its answer is shown).
    net_searches: Cell<u64>,
    /// Images being loaded (each asked of the network once at a time).
    loading_images: RefCell<BTreeSet<Hash>>,
}

impl<S: Store + 'static> App<S> {
    /// The app for `identity` over `store`, offline until [`App::set_network`].
    pub fn new(store: S, identity: Identity, env: Env) -> Rc<Self> {
        Rc::new(App {
            library: RefCell::new(Library::new(identity.author())),
            env,
            identity: Rc::new(identity),
            store,
            route: Cell::new(Route::Home),
            home_limit: Cell::new(PAGE),
            net: RefCell::new(None),
            handle: RefCell::new(None),
            synced_from: RefCell::new(BTreeMap::new()),
            shown_meta: RefCell::new(None),
            following_now: RefCell::new(BTreeSet::new()),
            searches: Cell::new(0),
            own_check: Cell::new(false),
            capped_said: RefCell::new(BTreeSet::new()),
            people: RefCell::new(People::default()),
            read_ms: Cell::new(0),
            net_searches: Cell::new(0),
            loading_images: RefCell::new(BTreeSet::new()),
        })
    }

    /// Whose app it is.
    pub fn me(&self) -> AuthorId {
        self.identity.author()
    }

    /// The person's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The person's identity, shared (the network agent opens the letters sent to them with
    /// it: kith-net's `Agent::set_identity`).
    pub fn shared_identity(&self) -> Rc<Identity> {
        self.identity.clone()
    }

    /// This device's network key, made and saved the first time ([`device_secret`]).
    pub async fn device_key(&self) -> Result<[u8; 32], String> {
        device_secret(&self.store, Some(&self.env))
            .await?
            .ok_or_else(|| "No device key could be made.".to_owned())
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The library, for reading.
    pub fn library(&self) -> std::cell::Ref<'_, Library> {
        self.library.borrow()
    }

    /// The network the app uses from now on (`None`: offline).
    pub fn set_network(&self, net: Option<Rc<dyn Network>>) {
        *self.net.borrow_mut() = net;
    }

    fn net(&self) -> Option<Rc<dyn Network>> {
        self.net.borrow().clone()
    }

    fn send(&self, update: Update) {
        self.env.send(update);
    }

    fn notice(&self, text: impl Into<String>, error: bool) {
        self.env.notice(text, error);
    }

    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        (self.env.spawn)(Box::pin(task));
    }

    /// Shows the app on `route` as soon as the first page is read, and reads every held feed
    /// into the library behind it.
    ///
    /// First: my own feed (whole: posting signs after its head), and of each author on the
    /// first page of the home timeline only their latest entries (a window, from the store's
    /// time index: [`kith_store::first::first_page`]). So the first screen costs the same
    /// whether this browser holds ten posts or ten thousand. Then, in a task of its own, every
    /// feed is read whole (windows completed) and the screens are refreshed.
    pub async fn load(self: &Rc<Self>, route: Route) {
        self.read_own_check().await;
        if let Ok(Some(h)) = self.store.get_setting("handle").await {
            let h = String::from_utf8_lossy(&h).into_owned();
            self.library.borrow_mut().learn_handle(self.me(), h.clone());
            *self.handle.borrow_mut() = Some(h);
        }
        self.drop_previews(0).await;
        self.read_people().await;
        self.read_inbox().await;
        self.refresh_messages().await;
        let metas = self.store.feeds().await.unwrap_or_default();
        for m in &metas {
            self.library
                .borrow_mut()
                .set_followed(m.author, m.followed && m.author != self.me());
        }
        let me = self.me();
        let (_, first_page) = futures::future::join(
            self.read_feed(me),
            kith_store::first::first_page(&self.store, PAGE, &me),
        )
        .await;
        match first_page {
            Ok(windows) => {
                let mut lib = self.library.borrow_mut();
                for w in windows {
                    match &w.base {
                        Some(base) => lib.add_window(base, w.entries, w.first.as_ref()),
                        None => {
                            lib.add(w.entries);
                        }
                    }
                }
            }
            Err(e) => self.notice(format!("Reading stored posts failed: {e}"), true),
        }
        self.send(Update::Ready(self.me_view()));
        self.open(route).await;
        self.refresh_home();
        let app = self.clone();
        self.spawn(async move {
            for m in metas {
                app.read_whole(m.author).await;
            }
            app.refresh_all().await;
        });
    }

    /// Reads `author`'s feed whole into the library: a window is completed, a feed not held
    /// yet is read, a whole one brought up to the store's head.
    async fn read_whole(&self, author: AuthorId) {
        if self.library.borrow().is_window(&author) {
            let entries = match kith_store::range_to_head(&self.store, &author, 1).await {
                Ok(entries) => entries,
                Err(e) => {
                    self.notice(format!("Reading stored posts failed: {e}"), true);
                    return;
                }
            };
            self.library.borrow_mut().complete(author, entries);
        }
        self.read_feed(author).await;
    }

    /// The feeds held only as previews ([`PREVIEWS`]), oldest first.
    async fn previews(&self) -> Vec<AuthorId> {
        match self.store.get_setting(PREVIEWS).await {
            Ok(Some(v)) => String::from_utf8_lossy(&v)
                .lines()
                .filter_map(AuthorId::from_hex)
                .collect(),
            _ => Vec::new(),
        }
    }

    async fn set_previews(&self, list: &[AuthorId]) {
        let text: Vec<String> = list.iter().map(AuthorId::to_hex).collect();
        let saved = if list.is_empty() {
            self.store.delete_setting(PREVIEWS).await
        } else {
            self.store
                .put_setting(PREVIEWS, text.join("\n").as_bytes())
                .await
        };
        if let Err(e) = saved {
            tracing::warn!("keeping the list of previews: {e}");
        }
    }

    /// Notes `author`'s feed as a preview, dropping the oldest previews beyond
    /// [`MAX_PREVIEWS`].
    async fn add_preview(&self, author: AuthorId) {
        let mut list = self.previews().await;
        if !list.contains(&author) {
            list.push(author);
            self.set_previews(&list).await;
        }
        self.drop_previews(MAX_PREVIEWS).await;
    }

    /// Forgets the preview feeds not followed meanwhile, oldest first, until at most `keep`
    /// remain (at start-up, none).
    async fn drop_previews(&self, keep: usize) {
        let list = self.previews().await;
        if list.len() <= keep {
            return;
        }
        let cut = list.len() - keep;
        for author in &list[..cut] {
            let followed = matches!(self.store.feed(author).await, Ok(Some(m)) if m.followed);
            if !followed && *author != self.me() {
                if let Err(e) = self.store.forget(author).await {
                    tracing::warn!("dropping the preview of {author}: {e}");
                    continue;
                }
                self.library.borrow_mut().forget(author);
                self.send(Update::Changed(*author));
            }
        }
        self.set_previews(&list[cut..]).await;
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
            web_link: format!("{}/#{uri}", self.env.origin),
            uri,
        }
    }

    fn refresh_home(&self) {
        let followed = self.library.borrow().followed();
        self.send(Update::Following(followed));
        let (threads, more) = self.library.borrow().home(self.home_limit.get());
        self.send(Update::Home { threads, more });
    }

    /// Recomputes what the open screen shows.
    async fn refresh_route(&self) {
        match self.route.get() {
            Route::Profile(author) => {
                let meta = self.store.feed(&author).await.ok().flatten();
                self.show_profile(author, meta.as_ref());
            }
            Route::Discover => {
                let s = self.library.borrow().suggestions();
                self.send(Update::Suggestions(s));
            }
            Route::Settings => {
                self.refresh_usage().await;
                self.send(Update::People(self.people_view()));
            }
            Route::Notifications => {
                // Seen: everything listed now is read (and other tabs re-read the count; only
                // when something was unread, so two tabs on this screen do not answer each
                // other forever).
                let unread = self
                    .library
                    .borrow()
                    .notifications(self.read_ms.get())
                    .unread;
                if unread > 0 {
                    let now = now_ms();
                    match kith_store::inbox::mark_read(&self.store, now).await {
                        Ok(()) => {
                            self.read_ms.set(now);
                            self.send(Update::Changed(self.me()));
                        }
                        Err(e) => self.notice(format!("Saving what you read failed: {e}"), true),
                    }
                }
                self.send_notifications();
            }
            Route::Messages => self.refresh_messages().await,
            Route::Conversation(peer) => self.show_conversation(peer).await,
            Route::Home | Route::Network => {}
        }
    }

    /// Reads the conversations and shows the Messages list (and the navigation's count).
    async fn refresh_messages(&self) {
        match dms::conversations(&self.store).await {
            Ok(c) => {
                let view = messages_view(&c, &self.library.borrow());
                self.send(Update::Messages(view));
            }
            Err(e) => self.notice(format!("Reading your messages failed: {e}"), true),
        }
    }

    /// Shows the conversation with `peer`, and reads it ([`crate::messages`]).
    async fn show_conversation(&self, peer: AuthorId) {
        let store = &self.store;
        let (index, shown) = match (
            dms::conversations(store).await,
            dms::messages(store, &peer).await,
        ) {
            (Ok(i), Ok(s)) => (i, s),
            (Err(e), _) | (_, Err(e)) => {
                self.notice(format!("Reading your messages failed: {e}"), true);
                return;
            }
        };
        let c = index.iter().find(|c| c.peer == peer).cloned();
        let view = conversation_view(peer, c.as_ref(), shown, &self.library.borrow());
        let request = view.request;
        self.send(Update::Conversation(Box::new(view)));
        let Some(c) = c else { return };
        // No receipt for a request, nor to someone blocked.
        if request || self.people.borrow().is_blocked(&peer) {
            return;
        }
        let newest = match dms::newest_from(store, &peer).await {
            Ok(Some(n)) if n > c.read_ms || c.unread > 0 => n,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!("reading a conversation: {e}");
                return;
            }
        };
        let (id, seed) = match (self.env.random::<16>(), self.env.random::<32>()) {
            (Ok(i), Ok(s)) => (LetterId(i), s),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("no randomness for a read receipt: {e}");
                return;
            }
        };
        let receipt = Letter {
            id,
            from: self.me(),
            to: peer,
            sent_ms: now_ms(),
            body: Body::Read { up_to_ms: newest },
        };
        let sealed = match dm::seal(&self.identity, &receipt, seed) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("sealing a read receipt: {e}");
                return;
            }
        };
        let result = match self.net() {
            Some(net) => net
                .read_letters(peer, newest, id, sealed)
                .await
                .map_err(|e| e.to_string()),
            None => read_here(store, peer, newest, id, &sealed)
                .await
                .map_err(|e| e.to_string()),
        };
        match result {
            Ok(()) => {
                self.refresh_messages().await;
                self.send(Update::Changed(peer));
            }
            Err(e) => self.notice(format!("Saving what you read failed: {e}"), true),
        }
    }

    /// Seals and sends a direct message ([`crate::messages`]). The network's part runs beside
    /// the app: in a tab without the node it waits for the tab that has it.
    fn send_message(self: &Rc<Self>, to: AuthorId, text: String) {
        let text = text.trim().to_owned();
        if text.is_empty() {
            return;
        }
        if text.len() > MAX_DM_TEXT {
            self.notice(
                format!(
                    "A message can be at most {MAX_DM_TEXT} bytes; this one is {}.",
                    text.len()
                ),
                true,
            );
            return;
        }
        if to == self.me() {
            self.notice("You cannot send yourself a message.", true);
            return;
        }
        let (id, seed) = match (self.env.random::<16>(), self.env.random::<32>()) {
            (Ok(i), Ok(s)) => (LetterId(i), s),
            (Err(e), _) | (_, Err(e)) => {
                self.notice(format!("Sending failed: {e}"), true);
                return;
            }
        };
        let letter = Letter {
            id,
            from: self.me(),
            to,
            sent_ms: now_ms(),
            body: Body::Text(text),
        };
        let sealed = match dm::seal(&self.identity, &letter, seed) {
            Ok(s) => s,
            Err(e) => {
                self.notice(format!("The message could not be sealed: {e}"), true);
                return;
            }
        };
        let app = self.clone();
        self.spawn(async move {
            let result = match app.net() {
                Some(net) => net
                    .send_letter(letter, sealed)
                    .await
                    .map_err(|e| e.to_string()),
                // No network in this tab yet: kept here, and the agent delivers it from the
                // outbox once it runs.
                None => dms::send(&app.store, &letter, &sealed, now_ms())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            match result {
                Ok(()) => {
                    app.send(Update::Changed(to));
                    app.letters_changed(to).await;
                }
                Err(e) => app.notice(format!("Sending failed: {e}"), true),
            }
        });
    }

    /// A message came from `peer`, whom this device cannot name (none of their feed is
    /// held): their feed is fetched as a preview, as opening their profile does, so the
    /// conversation shows who wrote (the list is read again once it is synced).
    async fn learn_writer(&self, peer: AuthorId) {
        if peer == self.me() {
            return;
        }
        let Some(net) = self.net() else { return };
        if matches!(self.store.feed(&peer).await, Ok(None)) {
            self.add_preview(peer).await;
            net.sync(peer);
        }
    }

    /// The messages with `peer` changed in the store: the list and, if open, the
    /// conversation are read again.
    async fn letters_changed(&self, peer: AuthorId) {
        self.refresh_messages().await;
        if self.route.get() == Route::Conversation(peer) {
            self.show_conversation(peer).await;
        }
    }

    fn show_profile(&self, author: AuthorId, meta: Option<&FeedMeta>) {
        let lib = self.library.borrow();
        let synced_from = self
            .synced_from
            .borrow()
            .get(&author)
            .and_then(|(from, direct)| {
                let who = match from {
                    Source::Author => return None,
                    Source::Person(a) => {
                        let who = lib.person(a);
                        let fp = &who.fingerprint[..9];
                        if who.name.is_empty() {
                            format!("a follower ({fp})")
                        } else {
                            format!("{} ({fp})", who.name)
                        }
                    }
                    Source::Peer(p) => p.clone(),
                };
                Some(if *direct {
                    format!("{who} over a direct connection")
                } else {
                    who
                })
            });
        let (posts, _) = lib.posts_of(&author, PROFILE_POSTS);
        let mut person = lib.person(&author);
        if author == self.me() {
            person.handle = self.handle.borrow().clone();
        }
        let view = ProfileView {
            person,
            is_me: author == self.me(),
            followed: lib.is_followed(&author),
            held: lib.feed(&author).is_some_and(|f| f.head_seq() > 0),
            posts,
            follows: lib.follows_of(&author),
            last_synced_ms: meta.and_then(|m| m.last_synced_ms),
            synced_from,
            forked: meta.is_some_and(|m| m.fork.is_some()),
            stance: self.people.borrow().stance(&author),
        };
        drop(lib);
        self.send(Update::Profile(Box::new(view)));
        *self.shown_meta.borrow_mut() = meta.cloned();
    }

    async fn refresh_usage(&self) {
        let metas = self.store.feeds().await.unwrap_or_default();
        let mut usage: Vec<FeedUsage> = {
            let lib = self.library.borrow();
            metas
                .into_iter()
                .map(|m| FeedUsage {
                    person: lib.person(&m.author),
                    entries: m.entries,
                    bytes: m.bytes,
                    followed: m.followed,
                })
                .collect()
        };
        usage.sort_by_key(|u| std::cmp::Reverse(u.bytes));
        self.send(Update::Usage(usage));
        match FeedLimits::read(&self.store).await {
            Ok(l) => self.send(Update::FeedLimits(l)),
            Err(e) => tracing::warn!("reading the feed limits: {e}"),
        }
    }

    async fn refresh_all(&self) {
        self.refresh_home();
        self.refresh_route().await;
    }

    /// Recomputes the screens after a live entry: the posts change, not the feed's metadata.
    async fn refresh_live(&self) {
        self.refresh_home();
        if let Route::Profile(a) = self.route.get() {
            let meta = self.shown_meta.borrow().clone().filter(|m| m.author == a);
            if let Some(m) = meta {
                self.show_profile(a, Some(&m));
                return;
            }
        }
        self.refresh_route().await;
    }

    async fn open(self: &Rc<Self>, route: Route) {
        self.route.set(route);
        self.send(Update::Route(route));
        match route {
            Route::Profile(author)
                if author != self.me() && !self.library.borrow().is_followed(&author) =>
            {
                // A preview: fetch their feed as it is now, so the profile shows who they are.
                // It is kept for this session only, never announced.
                if let Some(net) = self.net() {
                    if matches!(self.store.feed(&author).await, Ok(None)) {
                        self.add_preview(author).await;
                    }
                    net.sync(author);
                }
            }
            Route::Network => self.find_holders(),
            Route::Settings => self.env.persistence(false).await,
            Route::Conversation(peer) => self.learn_writer(peer).await,
            _ => {}
        }
        self.refresh_route().await;
    }

    fn find_holders(self: &Rc<Self>) {
        let Some(net) = self.net() else {
            self.send(Update::Holders(Some(Err(
                "You are offline; the DHT cannot be asked right now.".into(),
            ))));
            return;
        };
        self.send(Update::Holders(None));
        let app = self.clone();
        self.spawn(async move {
            let result = net.find_holders(app.me()).await.map(|authors| {
                let lib = app.library.borrow();
                authors
                    .iter()
                    .filter(|a| **a != app.me())
                    .map(|a| lib.person(a))
                    .collect::<Vec<_>>()
            });
            app.send(Update::Holders(Some(result.map_err(|e| e.to_string()))));
        });
    }

    /// Signs `payload` as my next entry, stores it, adds it to the library and publishes it.
    ///
    /// The entry is signed after the stored head, not the library's: another view of the
    /// same store may have posted since, and the library first catches up. If the store
    /// refuses it anyway ([`StoreError::Fork`]: posted at the same moment), the refused entry
    /// is neither shown nor published, and the post is signed again after the new head
    /// ([`APPEND_TRIES`] times in all).
    pub async fn append(&self, payload: Payload) -> Result<VerifiedEntry, String> {
        self.append_with(payload, &[]).await
    }

    /// [`App::append`] of an entry that names `images` (their bytes, in the entry's order):
    /// kept in the store before the entry is published, so followers can fetch them at once.
    pub async fn append_with(
        &self,
        payload: Payload,
        images: &[Vec<u8>],
    ) -> Result<VerifiedEntry, String> {
        if self.own_check.get() {
            // Another view may have finished the check.
            self.read_own_check().await;
        }
        if self.own_check.get() {
            return Err(
                "Kith is still checking for posts you made on another device since \
                 this backup, so your feed does not split in two. Wait a moment, or choose \
                 “Post anyway” above."
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
                .next_own_entry(&self.identity, &payload, now_ms())
                .map_err(|e| e.to_string())?;
            match self.store.insert(std::slice::from_ref(&entry)).await {
                Ok(()) => break entry,
                Err(StoreError::Fork { .. }) if tries < APPEND_TRIES => {
                    self.read_feed(self.me()).await;
                }
                Err(StoreError::Fork { .. }) => {
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
        for (bytes, index) in images.iter().zip(0u8..) {
            if let Err(e) = self
                .store
                .put_image(&self.me(), entry.seq(), index, bytes)
                .await
            {
                // The entry is kept and shown; nobody can fetch the image from here.
                self.library.borrow_mut().add([entry.clone()]);
                self.send(Update::Changed(self.me()));
                self.publish(entry.clone());
                return Err(format!(
                    "It was posted, but its images could not be saved: {e}"
                ));
            }
        }
        self.library.borrow_mut().add([entry.clone()]);
        self.send(Update::Changed(self.me()));
        self.publish(entry.clone());
        Ok(entry)
    }

    /// Publishes a stored entry of mine live, in the background.
    fn publish(&self, entry: VerifiedEntry) {
        let Some(net) = self.net() else { return };
        self.spawn(async move {
            if let Err(err) = net.publish(entry.clone()).await {
                let seq = entry.seq();
                tracing::info!("#{seq} not published live ({err}); followers will sync it");
            }
        });
    }

    /// Carries out one command ([`Command::CreateIdentity`] belongs to [`welcome`]).
    pub async fn handle(self: &Rc<Self>, command: Command) {
        match command {
            Command::CreateIdentity { .. } => {}
            Command::RequestPersistence => self.env.persistence(true).await,
            Command::SetFeedLimits { entries, megabytes } => {
                let wanted = FeedLimits {
                    entries,
                    bytes: megabytes.saturating_mul(1024 * 1024),
                };
                match wanted.write(&self.store).await {
                    Ok(kept) => {
                        self.send(Update::FeedLimits(kept));
                        self.notice(
                            format!(
                                "Saved: up to {} entries or {} MB of each person's feed.",
                                kept.entries,
                                kept.bytes / (1024 * 1024)
                            ),
                            false,
                        );
                    }
                    Err(e) => self.notice(format!("Saving the limit failed: {e}"), true),
                }
            }
            Command::Restore { file, passphrase } => self.restore(&file, &passphrase).await,
            Command::Open(route) => self.open(route).await,
            Command::Post {
                text,
                reply_to,
                images,
            } => self.post(text, reply_to, images).await,
            Command::LoadImage(view) => self.load_image(view),
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
                    return;
                }
                match self.append(Payload::Delete { target }).await {
                    Ok(_) => {
                        self.refresh_all().await;
                        self.notice("Post deleted, here and for everyone who holds it.", false);
                    }
                    Err(e) => self.notice(format!("Deleting failed. {e}"), true),
                }
            }
            Command::SetStance { author, stance } => self.set_stance(author, stance).await,
            Command::SendMessage { to, text } => self.send_message(to, text),
            Command::Follow(author) => self.follow(author).await,
            Command::Unfollow(author) => self.unfollow(author).await,
            Command::Search(q) => self.search(&q),
            Command::SearchText(q) => {
                let found = self.text_search(&q);
                self.send(Update::TextSearch(found));
            }
            Command::LoadMore => {
                self.home_limit.set(self.home_limit.get() + PAGE);
                self.refresh_home();
            }
            Command::FindHolders => self.find_holders(),
            Command::Backup { passphrase } => self.backup(&passphrase).await,
            Command::Forget(author) => self.forget(author).await,
            Command::SetTheme(t) => set_theme(&self.store, &self.env, t).await,
            Command::UpdateProfile { name, bio, avatar } => {
                self.update_profile(name, bio, avatar).await;
            }
            Command::GoAhead => self.own_check_done().await,
            Command::RetryNow => {
                if let Some(net) = self.net() {
                    net.retry_now();
                }
            }
        }
    }

    async fn restore(&self, file: &[u8], passphrase: &str) {
        match backup::import(&self.store, file, passphrase, Some(self.me()), now_ms()).await {
            Ok(r) => {
                for m in self.store.feeds().await.unwrap_or_default() {
                    self.reload_feed(m.author).await;
                    self.send(Update::Changed(m.author));
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

    async fn post(&self, text: String, reply_to: Option<EntryRef>, images: Vec<Vec<u8>>) {
        let n = text.chars().count();
        if text.trim().is_empty() && images.is_empty() {
            self.notice("Write something first.", true);
            return;
        }
        if images.len() > MAX_IMAGES {
            self.notice(
                format!(
                    "A post has at most {MAX_IMAGES} images; this one has {}.",
                    images.len()
                ),
                true,
            );
            return;
        }
        let mut refs = Vec::with_capacity(images.len());
        for (i, bytes) in images.iter().enumerate() {
            match ImageRef::of(bytes, MAX_IMAGE_SIDE) {
                Ok(r) => refs.push(r),
                Err(e) => {
                    self.notice(format!("Image {} cannot be posted: {e}.", i + 1), true);
                    return;
                }
            }
        }
        if n > MAX_POST_CHARS {
            self.notice(
                format!("A post is at most {MAX_POST_CHARS} characters; this one has {n}."),
                true,
            );
            return;
        }
        let mut mentions = reply_to.map(|r| vec![r.author]).unwrap_or_default();
        for a in self.library.borrow().mentioned(&text) {
            if !mentions.contains(&a) && mentions.len() < kith_core::entry::MAX_MENTIONS {
                mentions.push(a);
            }
        }
        let payload = Payload::Post {
            text,
            reply_to,
            mentions,
            images: refs,
        };
        match self.append_with(payload, &images).await {
            Ok(_) => {
                self.refresh_all().await;
                self.send(Update::ShowNew);
            }
            Err(e) => self.notice(format!("Your post was not sent. {e}"), true),
        }
    }

    async fn follow(self: &Rc<Self>, author: AuthorId) {
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
            self.send(Update::Changed(author));
            let mut previews = self.previews().await;
            if previews.contains(&author) {
                previews.retain(|a| *a != author);
                self.set_previews(&previews).await;
            }
        }
        self.following_now.borrow_mut().insert(author);
        self.refresh_all().await;
        let Some(net) = self.net() else {
            self.notice(
                "Followed. Their posts will arrive once you are back online.",
                false,
            );
            return;
        };
        let held = self
            .library
            .borrow()
            .feed(&author)
            .is_some_and(|f| f.head_seq() > 0);
        self.spawn(async move {
            if let Err(e) = net.follow_live(author).await {
                tracing::warn!("following {author} live: {e}");
            }
            if held {
                // Already held (a profile preview): a holder from now on.
                if let Err(e) = net.provide(author).await {
                    tracing::warn!("announcing {author}'s feed: {e}");
                }
            }
            net.sync(author);
        });
    }

    /// Reads who is muted or blocked, and hides them in the library.
    async fn read_people(&self) {
        match people::read(&self.store).await {
            Ok(p) => {
                self.library.borrow_mut().set_hidden(p.hidden());
                *self.people.borrow_mut() = p;
            }
            Err(e) => self.notice(
                format!("Reading who you muted or blocked failed: {e}"),
                true,
            ),
        }
    }

    /// Reads the notifications received (kith-store's inbox; the entries not held yet) and
    /// what was read, and shows them.
    async fn read_inbox(&self) {
        let inbox = match kith_store::Inbox::read(&self.store).await {
            Ok(i) => i,
            Err(e) => {
                self.notice(format!("Reading your notifications failed: {e}"), true);
                return;
            }
        };
        let mut notes = Vec::with_capacity(inbox.notes.len());
        for note in inbox.notes {
            let held = self.library.borrow().note_entry(&note);
            let entry = match held {
                Some(e) => Some(e),
                None => kith_store::Inbox::entry(&self.store, &note)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!("reading a notification: {e}");
                        None
                    }),
            };
            if let Some(e) = entry {
                notes.push((note, e));
            }
        }
        self.library.borrow_mut().set_notes(notes);
        match kith_store::inbox::read_up_to(&self.store).await {
            Ok(ms) => self.read_ms.set(ms),
            Err(e) => tracing::warn!("reading what was read: {e}"),
        }
        self.send_notifications();
    }

    fn send_notifications(&self) {
        let view = self.library.borrow().notifications(self.read_ms.get());
        self.send(Update::Notifications(view));
    }

    /// Who is muted or blocked, as Settings lists them.
    fn people_view(&self) -> Vec<(Person, Stance)> {
        let lib = self.library.borrow();
        let mut list: Vec<(Person, Stance)> = self
            .people
            .borrow()
            .iter()
            .map(|(a, s)| (lib.person(&a), s))
            .collect();
        list.sort_by_key(|(p, _)| (p.display_name().to_lowercase(), p.author));
        list
    }

    /// Mutes, blocks, or undoes either. Kept in the store, where the network agent reads it
    /// (a block refuses the person's sync requests from then on); other views re-read it.
    async fn set_stance(&self, author: AuthorId, stance: Option<Stance>) {
        if author == self.me() {
            self.notice("You cannot mute or block yourself.", true);
            return;
        }
        let before = self.people.borrow().stance(&author);
        if before == stance {
            return;
        }
        match people::set(&self.store, author, stance).await {
            Ok(p) => {
                self.library.borrow_mut().set_hidden(p.hidden());
                *self.people.borrow_mut() = p;
            }
            Err(e) => {
                self.notice(format!("That did not work: {e}"), true);
                return;
            }
        }
        let name = self.library.borrow().person(&author).display_name();
        let text = match (stance, before) {
            (Some(Stance::Muted), _) => format!(
                "Muted {name}: their posts and replies are hidden on this device. Unmute on                  their profile or in Settings."
            ),
            (Some(Stance::Blocked), _) => format!(
                "Blocked {name}: their posts and replies are hidden, and this device no longer                  serves them your posts. Unblock on their profile or in Settings."
            ),
            (None, Some(was)) => format!("{name} is no longer {}.", was.word()),
            (None, None) => return,
        };
        self.notice(text, false);
        self.send(Update::Changed(author));
        self.refresh_all().await;
        if self.route.get() == Route::Settings {
            self.send(Update::People(self.people_view()));
        }
    }

    async fn unfollow(&self, author: AuthorId) {
        if !self.library.borrow().is_followed(&author) {
            return;
        }
        if let Err(e) = self.append(Payload::Unfollow { author }).await {
            self.notice(format!("Unfollowing failed. {e}"), true);
            return;
        }
        if let Err(e) = self
            .store
            .update_meta(&author, &|m| m.followed = false)
            .await
        {
            self.notice(format!("Unfollowing failed: {e}"), true);
        }
        self.library.borrow_mut().set_followed(author, false);
        self.send(Update::Changed(author));
        self.refresh_all().await;
    }

    async fn forget(&self, author: AuthorId) {
        if author == self.me() {
            self.notice("Your own feed stays: it is you.", true);
            return;
        }
        if self.library.borrow().is_followed(&author)
            && let Err(e) = self.append(Payload::Unfollow { author }).await
        {
            self.notice(format!("Forgetting failed. {e}"), true);
            return;
        }
        match self.store.forget(&author).await {
            Ok(()) => {
                let name = self.library.borrow().person(&author).display_name();
                self.library.borrow_mut().forget(&author);
                self.send(Update::Changed(author));
                self.notice(format!("Forgot {name}'s posts in this browser."), false);
                self.refresh_all().await;
            }
            Err(e) => self.notice(format!("Forgetting failed: {e}"), true),
        }
    }

    async fn update_profile(&self, name: String, bio: String, avatar: Option<Vec<u8>>) {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            self.notice(
                format!("A display name is 1 to {MAX_NAME_CHARS} characters."),
                true,
            );
            return;
        }
        if bio.chars().count() > MAX_BIO_CHARS {
            self.notice(
                format!("A bio is at most {MAX_BIO_CHARS} characters."),
                true,
            );
            return;
        }
        let (avatar_ref, avatar_bytes) = match avatar {
            Some(bytes) => match ImageRef::of(&bytes, MAX_AVATAR_SIDE) {
                Ok(r) => (Some(r.to_avatar()), vec![bytes]),
                Err(e) => {
                    self.notice(format!("That picture cannot be your avatar: {e}."), true);
                    return;
                }
            },
            // The avatar I have stays (its bytes are kept for the new profile entry too).
            None => match self.me_view().person.avatar {
                Some(a) => match self.store.image(&a.hash()).await {
                    Ok(Some(bytes)) => (Some(a.image.to_avatar()), vec![bytes]),
                    _ => (Some(a.image.to_avatar()), Vec::new()),
                },
                None => (None, Vec::new()),
            },
        };
        let payload = Payload::Profile {
            name,
            bio: bio.trim().to_owned(),
            avatar: avatar_ref,
        };
        match self.append_with(payload, &avatar_bytes).await {
            Ok(_) => {
                self.send(Update::Me(self.me_view()));
                self.notice("Profile updated.", false);
                self.refresh_all().await;
            }
            Err(e) => self.notice(format!("Updating your profile failed. {e}"), true),
        }
    }

    /// Sends the bytes of `view`'s image: from the store, or else fetched by the network
    /// (which keeps them in the store once checked), each image asked once at a time.
    fn load_image(self: &Rc<Self>, view: ImageView) {
        let hash = view.hash();
        if !self.loading_images.borrow_mut().insert(hash) {
            return;
        }
        let app = self.clone();
        self.spawn(async move {
            let mime = view.image.kind.mime();
            let mut held = app.store.image(&hash).await;
            if matches!(held, Ok(None)) {
                let fetched = match app.net() {
                    Some(net) => net.fetch_image(view.author, view.seq, view.index).await,
                    None => Err(NetFailure::NotConnected),
                };
                held = match fetched {
                    Ok(()) => app.store.image(&hash).await,
                    Err(e) => {
                        app.loading_images.borrow_mut().remove(&hash);
                        app.send(Update::ImageUnavailable {
                            hash,
                            reason: e.to_string(),
                        });
                        return;
                    }
                };
            }
            app.loading_images.borrow_mut().remove(&hash);
            app.send(match held {
                Ok(Some(bytes)) => Update::Image { hash, mime, bytes },
                Ok(None) => Update::ImageUnavailable {
                    hash,
                    reason: "the image is not held here".into(),
                },
                Err(e) => Update::ImageUnavailable {
                    hash,
                    reason: format!("reading it failed: {e}"),
                },
            });
        });
    }

    /// The posts held here that match `query`, newest first (at most [`SEARCH_PAGE`]).
    pub fn text_search(&self, query: &str) -> TextSearch {
        let (posts, total) = self.library.borrow().search(query, SEARCH_PAGE);
        TextSearch {
            query: query.to_owned(),
            posts: posts
                .into_iter()
                .map(|post| ThreadView {
                    post,
                    replies: Vec::new(),
                })
                .collect(),
            total,
        }
    }

    fn search(self: &Rc<Self>, q: &str) {
        // Submitted words are also asked of the network (the posts others hold).
        self.search_network(q);
        if q.split_whitespace().count() > 1 || q.trim().starts_with('#') {
            // Words and tags are searched here as they are typed; only a handle goes out.
            self.send(Update::Search(Search::Idle));
            return;
        }
        let handle = match normalize_handle(q.trim().trim_start_matches('@')) {
            Ok(h) => h,
            Err(e) => {
                self.send(Update::Search(Search::Failed(format!(
                    "“{q}” is not a handle: {e}"
                ))));
                return;
            }
        };
        self.send(Update::Search(Search::Searching(handle.clone())));
        let Some(net) = self.net() else {
            self.send(Update::Search(Search::Failed(
                "You are offline: handles are looked up in the network.".into(),
            )));
            return;
        };
        let id = self.searches.get() + 1;
        self.searches.set(id);
        let app = self.clone();
        self.spawn(async move {
            let result = net.lookup_name(handle.clone()).await;
            if app.searches.get() == id {
                app.found(handle, result);
            }
        });
    }

    /// Asks the peers for posts holding every word of `q` ([`NET_SEARCH_TTL`] hops).
    fn search_network(self: &Rc<Self>, q: &str) {
        let words = q.trim().to_owned();
        if crate::search::tokens(&words).is_empty() {
            self.send(Update::NetSearch(NetSearch::Idle));
            return;
        }
        let Some(net) = self.net() else {
            self.send(Update::NetSearch(NetSearch::Failed(
                "You are offline: the network cannot be searched right now.".into(),
            )));
            return;
        };
        self.send(Update::NetSearch(NetSearch::Searching(words.clone())));
        let id = self.net_searches.get() + 1;
        self.net_searches.set(id);
        let app = self.clone();
        self.spawn(async move {
            let result = net.search_posts(words.clone(), NET_SEARCH_TTL).await;
            if app.net_searches.get() != id {
                return;
            }
            let update = match result {
                Ok(found) => {
                    let lib = app.library.borrow();
                    // Profiles that came with the posts name authors not known here.
                    let names: BTreeMap<AuthorId, (String, String)> = found
                        .iter()
                        .filter_map(|(e, _)| match e.payload() {
                            Some(Payload::Profile { name, bio, .. }) => {
                                Some((e.author(), (name.clone(), bio.clone())))
                            }
                            _ => None,
                        })
                        .collect();
                    let mut posts: Vec<(PostView, Option<Person>)> = found
                        .iter()
                        .filter(|(e, _)| !lib.is_hidden(&e.author()))
                        .filter_map(|(e, via)| {
                            let mut view = lib.loose_post_view(e)?;
                            if view.author.name.is_empty()
                                && let Some((name, bio)) = names.get(&e.author())
                            {
                                view.author.name = name.clone();
                                view.author.bio = bio.clone();
                            }
                            let via = via.map(|a| {
                                let mut p = lib.person(&a);
                                if p.name.is_empty()
                                    && let Some((name, _)) = names.get(&a)
                                {
                                    p.name = name.clone();
                                }
                                p
                            });
                            Some((view, via))
                        })
                        .collect();
                    posts.sort_by_key(|p| std::cmp::Reverse(p.0.key()));
                    NetSearch::Done {
                        query: words,
                        posts,
                    }
                }
                Err(e) => NetSearch::Failed(format!("Searching the network failed: {e}")),
            };
            app.send(Update::NetSearch(update));
        });
    }

    /// Shows a handle search's result.
    fn found(&self, handle: String, result: Result<Vec<(AuthorId, String)>, NetFailure>) {
        let search = match result {
            Ok(mut claims) => {
                // The network never counts this device; my own claim is known here.
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
        self.send(Update::Search(search));
    }

    async fn backup(&self, passphrase: &str) {
        if passphrase.chars().count() < MIN_PASSPHRASE {
            self.notice(
                format!("Use a passphrase of at least {MIN_PASSPHRASE} characters."),
                true,
            );
            return;
        }
        let (salt, nonce, seed) = match (
            self.env.random::<16>(),
            self.env.random::<12>(),
            self.env.random::<32>(),
        ) {
            (Ok(s), Ok(n), Ok(d)) => (s, n, d),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                self.notice(e, true);
                return;
            }
        };
        let now = now_ms();
        let kdf = KdfParams::RECOMMENDED;
        match backup::export(
            &self.store,
            &self.identity,
            passphrase,
            kdf,
            backup::Randomness {
                salt,
                nonce,
                dms_seed: seed,
            },
            now,
        )
        .await
        {
            Ok(bytes) => {
                let fp = self.me().fingerprint();
                let name = format!("kith-backup-{}-{}.kith", &fp[..9], now / 1000);
                self.send(Update::Download { bytes, name });
            }
            Err(e) => self.notice(format!("The backup failed: {e}"), true),
        }
    }

    /// Reads [`OWN_CHECK`] and shows it.
    async fn read_own_check(&self) {
        let pending = matches!(self.store.get_setting(OWN_CHECK).await, Ok(Some(_)));
        let was = self.own_check.replace(pending);
        if pending && !was {
            self.send(Update::OwnCheck(Some(OwnCheck::Checking)));
        } else if !pending && was {
            self.send(Update::OwnCheck(None));
        }
    }

    /// Whether another device of mine is known to post.
    async fn has_other_device(&self) -> bool {
        matches!(self.store.get_setting(OTHER_DEVICE).await, Ok(Some(_)))
    }

    /// An entry of mine came from the network: remember that another device posts.
    async fn other_device_seen(&self) {
        if self.has_other_device().await {
            return;
        }
        tracing::info!("an entry of mine came from another device");
        if let Err(e) = self.store.put_setting(OTHER_DEVICE, b"1").await {
            self.notice(format!("Saving a setting failed: {e}"), true);
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
        self.send(Update::OwnCheck(None));
        self.send(Update::Changed(self.me()));
    }

    /// Re-reads `author`'s feed and follow state from the store.
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
            self.send(Update::Me(self.me_view()));
        }
    }

    /// Another view of the same store changed `author`'s feed: re-read it and show it.
    pub async fn on_store_changed(&self, author: AuthorId) {
        if author == self.me() {
            self.read_own_check().await;
        }
        // A mute or block in another view says so with the person's author id, and so does a
        // notification kept by the tab running the node (its author's).
        self.read_people().await;
        self.read_inbox().await;
        self.reload_feed(author).await;
        self.refresh_live().await;
        // Direct messages with them may have moved too (kept by the tab running the node).
        self.letters_changed(author).await;
    }

    /// Re-reads every held feed (after another view of the store may have changed any).
    pub async fn reload_all(&self) {
        self.read_own_check().await;
        self.read_people().await;
        self.read_inbox().await;
        for m in self.store.feeds().await.unwrap_or_default() {
            self.reload_feed(m.author).await;
        }
        self.refresh_all().await;
    }

    /// What the network reports.
    pub async fn on_news(self: &Rc<Self>, news: News) {
        match news {
            News::Online => {
                // Another device of mine may have posted while this one was away.
                if self.has_other_device().await {
                    if let Err(e) = self.store.put_setting(OWN_CHECK, b"1").await {
                        self.notice(format!("Saving a setting failed: {e}"), true);
                    }
                    self.read_own_check().await;
                }
                self.on_online();
            }
            News::SyncProgress { author, have, want } => {
                let name = self.library.borrow().person(&author).display_name();
                self.send(Update::SyncProgress {
                    author,
                    name,
                    have,
                    want,
                });
            }
            News::Synced {
                author,
                from,
                fetched,
                direct,
            } => {
                tracing::info!("synced {author} from {from:?}: {fetched} entries");
                if author == self.me() && fetched > 0 {
                    self.other_device_seen().await;
                }
                self.send(Update::SyncDone(author));
                self.synced_from.borrow_mut().insert(author, (from, direct));
                self.following_now.borrow_mut().remove(&author);
                self.read_feed(author).await;
                if author == self.me() {
                    // Synced from a holder of my feed: posts made elsewhere are in the store.
                    self.own_check_done().await;
                }
                self.send(Update::Changed(author));
                if self.library.borrow().is_followed(&author)
                    && let Some(net) = self.net()
                {
                    self.spawn(async move {
                        if let Err(e) = net.provide(author).await {
                            tracing::warn!("announcing {author}'s feed: {e}");
                        }
                    });
                }
                self.refresh_all().await;
            }
            News::Unreachable { author } if author == self.me() => {
                self.send(Update::SyncDone(author));
                if self.own_check.get() {
                    self.send(Update::OwnCheck(Some(OwnCheck::Unreachable)));
                }
            }
            News::Capped {
                author,
                held,
                available,
                max_entries,
                max_bytes,
            } => {
                self.send(Update::SyncDone(author));
                self.following_now.borrow_mut().remove(&author);
                if self.capped_said.borrow_mut().insert(author) {
                    let name = self.library.borrow().person(&author).display_name();
                    self.notice(
                        format!(
                            "{name}'s feed is larger than this browser keeps of one person \
                             ({max_entries} entries or {} MB; it has at least {available}): \
                             the first {held} are kept, and later posts are not shown. \
                             You can raise the limit in Settings.",
                            max_bytes / (1024 * 1024)
                        ),
                        true,
                    );
                }
                self.reload_feed(author).await;
                self.refresh_all().await;
            }
            News::StoreFailed { author, reason } => {
                self.send(Update::SyncDone(author));
                self.following_now.borrow_mut().remove(&author);
                let name = self.library.borrow().person(&author).display_name();
                self.notice(
                    format!("{name}'s posts arrived but could not be saved: {reason}"),
                    true,
                );
                // Whatever a batch before the failure stored is shown.
                self.reload_feed(author).await;
                self.refresh_all().await;
            }
            News::Unreachable { author } => {
                self.send(Update::SyncDone(author));
                if self.following_now.borrow_mut().remove(&author) {
                    let name = self.library.borrow().person(&author).display_name();
                    self.notice(
                        format!(
                            "Nobody holding {name}'s posts is online right now. They will \
                             arrive when the author or one of their followers is."
                        ),
                        false,
                    );
                }
            }
            News::Forked { author, .. } => {
                self.send(Update::Changed(author));
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
                        "{whose} has forked: two different posts were signed at the same place \
                         (the same identity used in two browsers at once). The profile shows it."
                    ),
                    true,
                );
                self.refresh_all().await;
            }
            News::Stored { entry } => {
                let (author, seq) = (entry.author(), entry.seq());
                if author == self.me() {
                    // Not signed here (this device's own are stored before they leave).
                    self.other_device_seen().await;
                }
                self.send(Update::Changed(author));
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
            News::Letters { peer } => {
                // Kept by the agent: other tabs read it too.
                self.send(Update::Changed(peer));
                self.learn_writer(peer).await;
                self.letters_changed(peer).await;
            }
            News::Notified { note, .. } => {
                // Kept in the inbox by the agent: read from there, like every other tab does.
                self.send(Update::Changed(note.author));
                self.read_inbox().await;
                if self.route.get() == Route::Notifications {
                    // On screen: read as it arrives.
                    self.refresh_route().await;
                }
                self.refresh_live().await;
            }
        }
    }

    /// Online: claim my handle, and redo what the open screen asked of the network.
    fn on_online(self: &Rc<Self>) {
        let Some(net) = self.net() else { return };
        let handle = self.handle.borrow().clone();
        if let Some(h) = handle {
            match NameClaim::sign(&self.identity, &h, now_ms()) {
                Ok(claim) => {
                    let net = net.clone();
                    self.spawn(async move {
                        if let Err(e) = net.claim_name(claim).await {
                            tracing::warn!("claiming @{h}: {e}");
                        }
                    });
                }
                Err(e) => tracing::warn!("signing my claim of @{h}: {e}"),
            }
        }
        match self.route.get() {
            Route::Network => self.find_holders(),
            Route::Profile(a) if a != self.me() && !self.library.borrow().is_followed(&a) => {
                net.sync(a);
            }
            _ => {}
        }
    }
}

/// Marks `peer`'s messages read up to `up_to_ms` and queues `receipt` if that moved the mark:
/// what the agent does, done here when this tab has no network yet.
async fn read_here(
    store: &impl Store,
    peer: AuthorId,
    up_to_ms: u64,
    id: LetterId,
    receipt: &[u8],
) -> Result<(), kith_store::InboxError> {
    if dms::mark_read(store, &peer, up_to_ms).await? {
        dms::queue_receipt(store, id, peer, receipt, now_ms()).await?;
    }
    Ok(())
}
