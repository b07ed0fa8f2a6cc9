//! The app's commands natively: a real `MemoryStore` (the backend every store test suite also
//! runs on IndexedDB) and a recording fake network, on a single-threaded executor as in the
//! browser. Each test drives commands and network news and checks what the UI was told and
//! what the network was asked.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use futures::FutureExt;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use kith_app::route::Route;
use kith_app::view::{HomeFeed, OwnCheck, Search, ThreadView};
use kith_app::{
    App, Command, Env, MAX_PREVIEWS, NetFailure, NetResult, Network, News, OWN_CHECK, PREVIEWS,
    Source, Update, welcome,
};
use kith_core::{AuthorId, EntryRef, Feed, Identity, NameClaim, Payload, VerifiedEntry};
use kith_store::{MemoryStore, Store};

/// What the app asked of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Publish(u64),
    FollowLive(AuthorId),
    Provide(AuthorId),
    Sync(AuthorId),
    Lookup(String),
    Claim(String),
    FindHolders(AuthorId),
    Retry,
    SearchPosts(String),
    SendLetter(AuthorId),
    ReadLetters(AuthorId),
    FetchImage(AuthorId, u64, u8),
}

/// The recording fake: answers at once, from what the test put in it.
#[derive(Default)]
struct Fake {
    calls: RefCell<Vec<Call>>,
    published: RefCell<Vec<VerifiedEntry>>,
    names: RefCell<BTreeMap<String, Vec<(AuthorId, String)>>>,
    holders: RefCell<Vec<AuthorId>>,
    found: RefCell<Vec<(VerifiedEntry, Option<AuthorId>)>>,
    /// Sealed letters handed over: messages and read receipts.
    letters: RefCell<Vec<(kith_core::Letter, Vec<u8>)>>,
}

struct FakeNet(Rc<Fake>);

impl Fake {
    fn record(&self, call: Call) {
        self.calls.borrow_mut().push(call);
    }

    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.borrow_mut())
    }
}

fn ok<T: 'static>(v: T) -> NetResult<T> {
    futures::future::ready(Ok(v)).boxed_local()
}

impl Network for FakeNet {
    fn publish(&self, entry: VerifiedEntry) -> NetResult<()> {
        self.0.record(Call::Publish(entry.seq()));
        self.0.published.borrow_mut().push(entry);
        ok(())
    }
    fn follow_live(&self, author: AuthorId) -> NetResult<()> {
        self.0.record(Call::FollowLive(author));
        ok(())
    }
    fn provide(&self, author: AuthorId) -> NetResult<()> {
        self.0.record(Call::Provide(author));
        ok(())
    }
    fn sync(&self, author: AuthorId) {
        self.0.record(Call::Sync(author));
    }
    fn lookup_name(&self, handle: String) -> NetResult<Vec<(AuthorId, String)>> {
        self.0.record(Call::Lookup(handle.clone()));
        match self.0.names.borrow().get(&handle) {
            Some(claims) => ok(claims.clone()),
            None => {
                futures::future::ready(Err(NetFailure::Failed("no record".into()))).boxed_local()
            }
        }
    }
    fn claim_name(&self, claim: NameClaim) -> NetResult<()> {
        self.0.record(Call::Claim(claim.handle));
        ok(())
    }
    fn find_holders(&self, author: AuthorId) -> NetResult<Vec<AuthorId>> {
        self.0.record(Call::FindHolders(author));
        ok(self.0.holders.borrow().clone())
    }
    fn retry_now(&self) {
        self.0.record(Call::Retry);
    }
    fn search_posts(
        &self,
        words: String,
        _ttl: u8,
    ) -> NetResult<Vec<(VerifiedEntry, Option<AuthorId>)>> {
        self.0.record(Call::SearchPosts(words));
        ok(self.0.found.borrow().clone())
    }
    fn send_letter(&self, letter: kith_core::Letter, sealed: Vec<u8>) -> NetResult<()> {
        self.0.record(Call::SendLetter(letter.to));
        self.0.letters.borrow_mut().push((letter, sealed));
        ok(())
    }
    fn fetch_image(&self, author: AuthorId, seq: u64, index: u8) -> NetResult<()> {
        self.0.record(Call::FetchImage(author, seq, index));
        futures::future::ready(Err(NetFailure::Failed(
            "nobody holding this post is online with the image".into(),
        )))
        .boxed_local()
    }
    fn read_letters(
        &self,
        peer: AuthorId,
        up_to_ms: u64,
        id: kith_core::LetterId,
        receipt: Vec<u8>,
    ) -> NetResult<()> {
        self.0.record(Call::ReadLetters(peer));
        let letter = kith_core::Letter {
            id,
            from: AuthorId([0; 32]),
            to: peer,
            sent_ms: up_to_ms,
            body: kith_core::Body::Read { up_to_ms },
        };
        self.0.letters.borrow_mut().push((letter, receipt));
        ok(())
    }
}

/// One person's app over a store, with its updates recorded.
struct Harness {
    pool: LocalPool,
    app: Rc<App<Rc<MemoryStore>>>,
    updates: Rc<RefCell<Vec<Update>>>,
    net: Rc<Fake>,
}

fn env(pool: &LocalPool, updates: &Rc<RefCell<Vec<Update>>>) -> Env {
    let spawner = pool.spawner();
    let out = updates.clone();
    let counter = Rc::new(std::cell::Cell::new(0u8));
    Env {
        out: Rc::new(move |u| out.borrow_mut().push(u)),
        spawn: Rc::new(move |task| spawner.spawn_local(task).expect("spawn")),
        // Distinct keys per call, the same in every run.
        random: Rc::new(move |buf: &mut [u8]| {
            counter.set(counter.get().wrapping_add(1));
            buf.fill(counter.get());
            Ok(())
        }),
        persist: Rc::new(|_| futures::future::ready(Ok(true)).boxed_local()),
        origin: "http://127.0.0.1:8080".into(),
    }
}

impl Harness {
    /// Onboards a new person named `name` (@`handle`) through the welcome screen.
    fn new(name: &str, handle: &str) -> Harness {
        Self::onboard(Rc::new(MemoryStore::new()), name, handle)
    }

    fn onboard(store: Rc<MemoryStore>, name: &str, handle: &str) -> Harness {
        let mut pool = LocalPool::new();
        let updates = Rc::new(RefCell::new(Vec::new()));
        let env = env(&pool, &updates);
        let command = Command::CreateIdentity {
            name: name.into(),
            handle: handle.into(),
            bio: String::new(),
        };
        let id = pool
            .run_until(welcome(&store, &env, command))
            .expect("identity created");
        Self::open(pool, store, id, env, updates)
    }

    fn open(
        mut pool: LocalPool,
        store: Rc<MemoryStore>,
        identity: Identity,
        env: Env,
        updates: Rc<RefCell<Vec<Update>>>,
    ) -> Harness {
        let app = App::new(store, identity, env);
        let net = Rc::new(Fake::default());
        app.set_network(Some(Rc::new(FakeNet(net.clone()))));
        pool.run_until(app.load(Route::Home));
        pool.run_until_stalled();
        Harness {
            pool,
            app,
            updates,
            net,
        }
    }

    /// A second view of the same store (another tab), with a network of its own.
    fn second_tab(&self) -> Harness {
        let pool = LocalPool::new();
        let updates = Rc::new(RefCell::new(Vec::new()));
        let env = env(&pool, &updates);
        let store = self.app.store().clone();
        let id = Identity::from_secret(self.app.identity().secret());
        Self::open(pool, store, id, env, updates)
    }

    fn me(&self) -> AuthorId {
        self.app.me()
    }

    fn store(&self) -> &Rc<MemoryStore> {
        self.app.store()
    }

    /// Runs a command and every task it spawned.
    fn run(&mut self, command: Command) {
        self.pool.run_until(self.app.handle(command));
        self.pool.run_until_stalled();
    }

    fn news(&mut self, news: News) {
        self.pool.run_until(self.app.on_news(news));
        self.pool.run_until_stalled();
    }

    fn take(&self) -> Vec<Update> {
        std::mem::take(&mut *self.updates.borrow_mut())
    }

    /// The last home timeline sent.
    fn home(&self) -> Vec<ThreadView> {
        self.updates
            .borrow()
            .iter()
            .rev()
            .find_map(|u| match u {
                Update::Home { threads, .. } => Some(threads.clone()),
                _ => None,
            })
            .expect("a home timeline was sent")
    }

    fn home_texts(&self) -> Vec<String> {
        self.home().iter().map(|t| t.post.text.clone()).collect()
    }

    fn notices(&self) -> Vec<(String, bool)> {
        self.updates
            .borrow()
            .iter()
            .filter_map(|u| match u {
                Update::Notice { text, error } => Some((text.clone(), *error)),
                _ => None,
            })
            .collect()
    }

    fn last<T>(&self, f: impl Fn(&Update) -> Option<T>) -> Option<T> {
        self.updates.borrow().iter().rev().find_map(f)
    }

    /// The last own-feed check state sent (`Some(None)`: the check ended).
    fn own_check(&self) -> Option<Option<OwnCheck>> {
        self.last(|u| match u {
            Update::OwnCheck(c) => Some(*c),
            _ => None,
        })
    }

    fn post(&mut self, text: &str) {
        self.run(Command::Post {
            text: text.into(),
            reply_to: None,
            images: Vec::new(),
        });
    }

    /// My posts' refs on home, newest first.
    fn post_ref(&self, text: &str) -> EntryRef {
        self.home()
            .iter()
            .find(|t| t.post.text == text)
            .map(|t| t.post.id)
            .expect("post on home")
    }
}

/// Someone else's feed, signed for real.
struct Other {
    id: Identity,
    feed: Feed,
}

impl Other {
    fn new(seed: u8) -> Other {
        let id = Identity::from_secret([seed; 32]);
        let feed = Feed::new(id.author());
        Other { id, feed }
    }

    fn author(&self) -> AuthorId {
        self.id.author()
    }

    fn sign(&mut self, payload: Payload) -> VerifiedEntry {
        let now = kith_app::now_ms();
        self.feed
            .append(&self.id, &payload, now)
            .expect("sign")
            .clone()
    }
}

#[test]
fn onboarding_refuses_bad_input_and_creates_a_profile() {
    let mut pool = LocalPool::new();
    let updates = Rc::new(RefCell::new(Vec::new()));
    let env = env(&pool, &updates);
    let store = Rc::new(MemoryStore::new());
    let bad = Command::CreateIdentity {
        name: " ".into(),
        handle: "alice".into(),
        bio: String::new(),
    };
    assert!(pool.run_until(welcome(&store, &env, bad)).is_none());
    assert!(matches!(
        updates.borrow().last(),
        Some(Update::Onboarding { busy: false, error: Some(e) }) if e.contains("display name")
    ));
    let bad_handle = Command::CreateIdentity {
        name: "Alice".into(),
        handle: "no spaces allowed".into(),
        bio: String::new(),
    };
    assert!(pool.run_until(welcome(&store, &env, bad_handle)).is_none());
    assert!(pool.run_until(store.identity()).expect("read").is_none());

    let h = Harness::onboard(store, "Alice", "Alice");
    let me = h.me();
    let feed = h.stored(me);
    assert_eq!(feed.len(), 1, "the profile entry");
    assert!(matches!(feed[0].payload(), Some(Payload::Profile { name, .. }) if name == "Alice"));
    let ready = h.last(|u| match u {
        Update::Ready(me) => Some(me.clone()),
        _ => None,
    });
    let ready = ready.expect("ready");
    assert_eq!(ready.person.handle.as_deref(), Some("alice"));
    assert!(
        ready
            .web_link
            .starts_with("http://127.0.0.1:8080/#kith://follow/")
    );
}

impl Harness {
    /// Every stored entry of `author`'s feed.
    fn stored(&self, author: AuthorId) -> Vec<VerifiedEntry> {
        futures::executor::block_on(self.store().range(&author, 1, 10_000)).expect("range")
    }
}

#[test]
fn a_post_is_stored_shown_and_published_and_bad_posts_are_refused() {
    let mut h = Harness::new("Alice", "alice");
    h.take();
    h.post("hello world");
    assert_eq!(h.home_texts(), vec!["hello world"]);
    assert!(h.take().contains(&Update::ShowNew));
    assert_eq!(h.net.take(), vec![Call::Publish(2)]);
    assert_eq!(h.stored(h.me()).len(), 2);

    h.post("   ");
    h.post(&"x".repeat(kith_core::entry::MAX_POST_CHARS + 1));
    let errors: Vec<_> = h.notices().into_iter().filter(|(_, e)| *e).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].0.contains("Write something"));
    assert!(errors[1].0.contains("at most"));
    assert!(h.net.take().is_empty(), "nothing published");
    assert_eq!(h.stored(h.me()).len(), 2, "nothing stored");
}

#[test]
fn a_reply_threads_under_its_post_and_mentions_its_author() {
    let mut h = Harness::new("Alice", "alice");
    let mut bob = Other::new(9);
    h.run(Command::Follow(bob.author()));
    let post = bob.sign(Payload::post("a question"));
    h.news(News::Stored {
        entry: Box::new(post.clone()),
    });
    h.run(Command::Post {
        text: "an answer".into(),
        reply_to: Some(post.entry_ref()),
        images: Vec::new(),
    });
    let home = h.home();
    assert_eq!(home.len(), 1, "one thread");
    assert_eq!(home[0].post.text, "a question");
    assert_eq!(home[0].replies.len(), 1);
    assert_eq!(home[0].replies[0].post.text, "an answer");
    let mine = h.stored(h.me()).pop().expect("reply stored");
    assert!(matches!(
        mine.payload(),
        Some(Payload::Post { reply_to: Some(r), mentions, .. })
            if *r == post.entry_ref() && mentions == &vec![bob.author()]
    ));
}

#[test]
fn a_reaction_is_given_and_taken_back() {
    let mut h = Harness::new("Alice", "alice");
    h.post("react to me");
    let target = h.post_ref("react to me");
    let react = || Command::React {
        target,
        emoji: "🎉".into(),
    };
    h.run(react());
    let reactions = |h: &Harness| h.home()[0].post.reactions.clone();
    assert_eq!(reactions(&h), vec![("🎉".to_owned(), 1, true)]);
    h.run(react());
    assert!(
        reactions(&h).iter().all(|(_, n, _)| *n == 0),
        "{:?}",
        reactions(&h)
    );
    let feed = h.stored(h.me());
    // The reaction stays in the chain, its payload purged by the delete that takes it back.
    assert_eq!(feed.len(), 4);
    assert!(feed[2].payload().is_none());
    assert!(
        matches!(feed[3].payload(), Some(Payload::Delete { target }) if *target == feed[2].entry_ref())
    );
    // Every one of them went out live.
    assert_eq!(
        h.net.take(),
        vec![Call::Publish(2), Call::Publish(3), Call::Publish(4)]
    );
}

#[test]
fn a_delete_removes_my_post_and_refuses_someone_elses() {
    let mut h = Harness::new("Alice", "alice");
    h.post("keep");
    h.post("oops");
    let oops = h.post_ref("oops");
    h.run(Command::Delete(oops));
    assert_eq!(h.home_texts(), vec!["keep"]);
    let mut bob = Other::new(9);
    h.run(Command::Follow(bob.author()));
    let theirs = bob.sign(Payload::post("bob's"));
    h.news(News::Stored {
        entry: Box::new(theirs.clone()),
    });
    h.run(Command::Delete(theirs.entry_ref()));
    assert!(h.home_texts().contains(&"bob's".to_owned()));
    assert!(
        h.notices()
            .iter()
            .any(|(t, e)| *e && t.contains("only delete your own"))
    );
}

#[test]
fn follow_and_unfollow_change_home_and_ask_the_network() {
    let mut h = Harness::new("Alice", "alice");
    let mut bob = Other::new(9);
    h.net.take();
    h.run(Command::Follow(bob.author()));
    assert_eq!(
        h.net.take(),
        vec![
            Call::Publish(2),
            Call::FollowLive(bob.author()),
            Call::Sync(bob.author())
        ],
        "not held yet: nothing to announce"
    );
    assert!(
        h.last(|u| match u {
            Update::Following(f) => Some(f.contains(&bob.author())),
            _ => None,
        })
        .expect("following sent")
    );
    // The sync stores Bob's feed, as the network's replica would, and reports it.
    let entries = [
        bob.sign(Payload::post("one")),
        bob.sign(Payload::post("two")),
    ];
    futures::executor::block_on(h.store().insert(&entries)).expect("store");
    h.news(News::Synced {
        author: bob.author(),
        from: Source::Author,
        fetched: 2,
        direct: false,
    });
    assert_eq!(h.home_texts(), vec!["two", "one"]);
    assert_eq!(
        h.net.take(),
        vec![Call::Provide(bob.author())],
        "a holder of a followed feed"
    );
    // A live entry is shown once stored.
    h.news(News::Stored {
        entry: Box::new(bob.sign(Payload::post("three"))),
    });
    assert_eq!(h.home_texts()[0], "three");

    h.run(Command::Unfollow(bob.author()));
    assert!(
        h.home_texts()
            .iter()
            .all(|t| !["one", "two", "three"].contains(&t.as_str()))
    );
    let meta = futures::executor::block_on(h.store().feed(&bob.author()))
        .expect("read")
        .expect("still held");
    assert!(!meta.followed);
    let mine = h.stored(h.me());
    assert!(
        matches!(mine[1].payload(), Some(Payload::Follow { author }) if *author == bob.author())
    );
    assert!(
        matches!(mine[2].payload(), Some(Payload::Unfollow { author }) if *author == bob.author())
    );
}

#[test]
fn following_while_offline_says_when_posts_arrive() {
    let mut h = Harness::new("Alice", "alice");
    h.app.set_network(None);
    let bob = Other::new(9);
    h.run(Command::Follow(bob.author()));
    assert!(h.notices().iter().any(|(t, _)| t.contains("back online")));
    assert!(h.net.take().is_empty());
    // Searching needs the network, and says so.
    h.run(Command::Search("bob".into()));
    assert!(matches!(
        h.last(|u| match u { Update::Search(s) => Some(s.clone()), _ => None }),
        Some(Search::Failed(e)) if e.contains("offline")
    ));
}

/// A preview is kept for the session only: the next start drops it unless it was followed
/// meanwhile, and at most `MAX_PREVIEWS` are kept at once (the oldest goes first). A feed
/// followed from its preview stays.
#[test]
fn previews_are_dropped_at_the_next_start_and_bounded() {
    let mut h = Harness::new("Alice", "alice");
    let mut others: Vec<Other> = (0..=MAX_PREVIEWS as u8 + 1)
        .map(|i| Other::new(20 + i))
        .collect();
    for o in &mut others {
        h.run(Command::Open(Route::Profile(o.author())));
        let post = o.sign(Payload::post("hello"));
        futures::executor::block_on(h.store().insert(&[post])).expect("store");
    }
    let held = |h: &Harness, a: &AuthorId| {
        futures::executor::block_on(h.store().feed(a))
            .expect("meta")
            .is_some()
    };
    // The two oldest were dropped when the 17th and 18th previews opened.
    assert!(!held(&h, &others[1].author()));
    assert!(held(&h, &others[2].author()));
    // The newest one is followed; the rest are dropped at the next start.
    let kept = others[MAX_PREVIEWS + 1].author();
    h.run(Command::Follow(kept));
    let h = h.second_tab();
    assert!(held(&h, &kept), "a feed followed from its preview stays");
    for o in &others[..MAX_PREVIEWS + 1] {
        assert!(
            !held(&h, &o.author()),
            "a preview does not outlive the session"
        );
    }
    assert_eq!(
        futures::executor::block_on(h.store().get_setting(PREVIEWS)).expect("setting"),
        None
    );
}

/// A start shows the first page of the home timeline before every held feed is read: of
/// each author on it only the latest entries (with the name from their profile), then every
/// feed whole behind it. The first page is the same as the one shown once all is read.
#[test]
fn start_up_shows_the_first_page_before_reading_every_feed() {
    let h = Harness::new("Alice", "alice");
    let mut others: Vec<Other> = (0..40).map(|i| Other::new(60 + i)).collect();
    let mut entries = Vec::new();
    for (i, o) in others.iter_mut().enumerate() {
        entries.push(o.sign(Payload::Profile {
            name: format!("Friend {i}"),
            bio: String::new(),
            avatar: None,
        }));
    }
    for round in 0..50 {
        for o in &mut others {
            entries.push(o.sign(Payload::post(format!("round {round}"))));
        }
    }
    futures::executor::block_on(async {
        h.store().insert(&entries).await.expect("store");
        for o in &others {
            h.store()
                .update_meta(&o.author(), &|m| m.followed = true)
                .await
                .expect("follow");
        }
    });
    // A new start over the same store: the first screen, before the start-up task runs.
    let mut pool = LocalPool::new();
    let updates = Rc::new(RefCell::new(Vec::new()));
    let app = App::new(
        h.store().clone(),
        Identity::from_secret(h.app.identity().secret()),
        env(&pool, &updates),
    );
    pool.run_until(app.load(Route::Home));
    let homes = |updates: &RefCell<Vec<Update>>| -> Vec<Vec<ThreadView>> {
        updates
            .borrow()
            .iter()
            .filter_map(|u| match u {
                Update::Home { threads, .. } => Some(threads.clone()),
                _ => None,
            })
            .collect()
    };
    let first = homes(&updates).pop().expect("a first page");
    assert_eq!(first.len(), kith_app::PAGE);
    assert!(
        first.iter().all(|t| t.post.text == "round 49"),
        "the newest posts"
    );
    assert!(
        first
            .iter()
            .all(|t| t.post.author.name.starts_with("Friend ")),
        "named from their profile before the whole feed is read"
    );
    {
        let lib = app.library();
        let shown: Vec<AuthorId> = first.iter().map(|t| t.post.id.author).collect();
        assert!(
            shown.iter().all(|a| lib.is_window(a)),
            "only their latest entries"
        );
        let unread = others
            .iter()
            .filter(|o| lib.feed(&o.author()).is_none())
            .count();
        assert_eq!(
            unread,
            40 - kith_app::PAGE,
            "the feeds not on the page are not read yet"
        );
    }
    // Behind it, every feed is read whole, and the page stays the same.
    pool.run_until_stalled();
    let last = homes(&updates).pop().expect("home");
    assert_eq!(
        first.iter().map(|t| t.post.id).collect::<Vec<_>>(),
        last.iter().map(|t| t.post.id).collect::<Vec<_>>(),
        "the same page once everything is read"
    );
    let h = Harness {
        pool,
        app,
        updates,
        net: Rc::new(Fake::default()),
    };
    let lib = h.app.library();
    assert!(
        others.iter().all(|o| !lib.is_window(&o.author())),
        "every feed read whole"
    );
    assert!(
        others
            .iter()
            .all(|o| lib.feed(&o.author()).is_some_and(|f| f.head_seq() == 51))
    );
}

#[test]
fn a_preview_shows_an_unfollowed_profile_but_not_on_home() {
    let mut h = Harness::new("Alice", "alice");
    let mut carol = Other::new(7);
    let follower = Other::new(8);
    h.net.take();
    h.run(Command::Open(Route::Profile(carol.author())));
    assert_eq!(h.net.take(), vec![Call::Sync(carol.author())]);
    let entries = [
        carol.sign(Payload::Profile {
            name: "Carol".into(),
            bio: "hi".into(),
            avatar: None,
        }),
        carol.sign(Payload::post("carol's post")),
    ];
    futures::executor::block_on(h.store().insert(&entries)).expect("store");
    h.news(News::Synced {
        author: carol.author(),
        from: Source::Person(follower.author()),
        fetched: 2,
        direct: true,
    });
    let profile = h
        .last(|u| match u {
            Update::Profile(p) => Some(p.clone()),
            _ => None,
        })
        .expect("profile shown");
    assert_eq!(profile.person.name, "Carol");
    assert!(!profile.followed);
    assert!(profile.held);
    assert_eq!(profile.posts[0].post.text, "carol's post");
    assert!(
        profile.synced_from.as_deref().is_some_and(
            |s| s.starts_with("a follower (") && s.ends_with(") over a direct connection")
        ),
        "{:?}",
        profile.synced_from
    );
    assert!(h.home_texts().is_empty(), "not followed: not on home");
    assert!(h.net.take().is_empty(), "not followed: not announced");
    // Following a previewed feed announces it at once.
    h.run(Command::Follow(carol.author()));
    let calls = h.net.take();
    assert!(calls.contains(&Call::Provide(carol.author())), "{calls:?}");
    assert_eq!(h.home_texts(), vec!["carol's post"]);
}

#[test]
fn new_posts_wait_behind_the_pill_and_my_own_post_shows_them() {
    let mut h = Harness::new("Alice", "alice");
    let mut bob = Other::new(9);
    h.run(Command::Follow(bob.author()));
    h.news(News::Stored {
        entry: Box::new(bob.sign(Payload::post("first"))),
    });
    let mut home = HomeFeed::default();
    let feed = |h: &Harness, home: &mut HomeFeed| {
        for u in h.take() {
            match u {
                Update::Home { threads, more } => home.update(threads, more),
                Update::ShowNew => home.show_new(),
                _ => {}
            }
        }
    };
    feed(&h, &mut home);
    assert_eq!(home.shown().count(), 1, "the first timeline shows whole");
    assert_eq!(home.waiting(), 0);
    h.news(News::Stored {
        entry: Box::new(bob.sign(Payload::post("second"))),
    });
    h.news(News::Stored {
        entry: Box::new(bob.sign(Payload::post("third"))),
    });
    feed(&h, &mut home);
    assert_eq!(home.waiting(), 2, "live posts wait behind the pill");
    let shown: Vec<_> = home.shown().map(|t| t.post.text.clone()).collect();
    assert_eq!(shown, vec!["first"]);
    h.post("mine");
    feed(&h, &mut home);
    assert_eq!(home.waiting(), 0, "my own post shows everything");
    assert_eq!(home.shown().count(), 4);
}

#[test]
fn an_empty_home_shows_its_first_posts_directly() {
    let mut home = HomeFeed::default();
    home.update(Vec::new(), false);
    let mut h = Harness::new("Alice", "alice");
    h.post("one");
    home.update(h.home(), false);
    assert_eq!(home.shown().count(), 1);
    assert_eq!(home.waiting(), 0);
}

#[test]
fn after_a_restore_posting_waits_for_my_feed_from_the_network() {
    let first = Harness::new("Alice", "alice");
    futures::executor::block_on(first.store().put_setting(OWN_CHECK, b"1")).expect("setting");
    // The app as it starts after the restore.
    let mut h = first.second_tab();
    assert_eq!(h.own_check(), Some(Some(OwnCheck::Checking)));
    h.net.take();
    h.post("too early");
    assert!(
        h.notices()
            .iter()
            .any(|(t, e)| *e && t.contains("checking for posts"))
    );
    assert!(h.net.take().is_empty(), "nothing published");
    assert_eq!(h.stored(h.me()).len(), 1, "nothing stored");
    // Nobody holding my feed answers: the banner says so and offers to go ahead.
    h.news(News::Unreachable { author: h.me() });
    assert_eq!(h.own_check(), Some(Some(OwnCheck::Unreachable)));
    // Then a holder answers with a post made on the other device: it comes first.
    let other_device = h
        .app
        .library()
        .next_own_entry(
            h.app.identity(),
            &Payload::post("from my phone"),
            kith_app::now_ms(),
        )
        .expect("sign");
    futures::executor::block_on(h.store().insert(&[other_device])).expect("store");
    h.news(News::Synced {
        author: h.me(),
        from: Source::Peer("a holder".into()),
        fetched: 1,
        direct: false,
    });
    assert_eq!(h.own_check(), Some(None));
    h.post("now");
    let feed = h.stored(h.me());
    assert_eq!(feed.len(), 3);
    assert!(matches!(feed[2].payload(), Some(Payload::Post { text, .. }) if text == "now"));
    assert_eq!(h.net.take(), vec![Call::Publish(3)]);
}

#[test]
fn once_another_device_of_mine_posts_every_reconnection_checks_my_feed_first() {
    let mut h = Harness::new("Alice", "alice");
    // One device: reconnecting asks nothing of my feed.
    h.news(News::Online);
    h.post("only device");
    assert_eq!(h.stored(h.me()).len(), 2);
    // My post made on another device arrives live (this device stored it from the network).
    let elsewhere = h
        .app
        .library()
        .next_own_entry(
            h.app.identity(),
            &Payload::post("from my laptop"),
            kith_app::now_ms(),
        )
        .expect("sign");
    futures::executor::block_on(h.store().insert(std::slice::from_ref(&elsewhere))).expect("store");
    h.news(News::Stored {
        entry: Box::new(elsewhere),
    });
    assert_eq!(h.home_texts()[0], "from my laptop");
    let seen = futures::executor::block_on(h.store().get_setting(kith_app::OTHER_DEVICE));
    assert!(matches!(seen, Ok(Some(_))));
    // Back online after a while away: posting waits for my feed from the network.
    h.news(News::Online);
    assert_eq!(h.own_check(), Some(Some(OwnCheck::Checking)));
    h.net.take();
    h.post("too early");
    assert_eq!(h.stored(h.me()).len(), 3, "nothing stored");
    assert!(h.net.take().is_empty(), "nothing published");
    h.news(News::Synced {
        author: h.me(),
        from: Source::Peer("my laptop".into()),
        fetched: 0,
        direct: false,
    });
    h.post("after the check");
    assert_eq!(h.stored(h.me()).len(), 4);
    assert_eq!(h.net.take(), vec![Call::Publish(4)]);
}

#[test]
fn a_device_key_is_made_once_and_kept() {
    let h = Harness::new("Alice", "alice");
    let none = futures::executor::block_on(kith_app::device_secret(h.store(), None));
    assert_eq!(none, Ok(None));
    let pool = LocalPool::new();
    let updates = Rc::new(RefCell::new(Vec::new()));
    let env = env(&pool, &updates);
    // This fake's random bytes repeat per env; step past the ones the identity was made of.
    (env.random)(&mut [0; 32]).expect("random");
    let made = futures::executor::block_on(kith_app::device_secret(h.store(), Some(&env)))
        .expect("made")
        .expect("a key");
    // Not the identity's key, and the same on every later start.
    assert_ne!(made, h.app.identity().secret());
    for _ in 0..2 {
        let again = futures::executor::block_on(kith_app::device_secret(h.store(), Some(&env)));
        assert_eq!(again, Ok(Some(made)));
    }
}

#[test]
fn a_sync_that_could_not_be_stored_says_so() {
    let mut h = Harness::new("Alice", "alice");
    let bob = Other::new(9);
    h.run(Command::Follow(bob.author()));
    h.news(News::StoreFailed {
        author: bob.author(),
        reason: "storage is full: free space or forget a feed in Settings (nothing was lost)"
            .into(),
    });
    let notices = h.notices();
    assert!(
        notices
            .iter()
            .any(|(t, e)| *e && t.contains("could not be saved") && t.contains("storage is full")),
        "{notices:?}"
    );
    assert!(!notices.iter().any(|(t, _)| t.contains("Nobody holding")));
}

#[test]
fn going_ahead_ends_the_check() {
    let h = Harness::new("Alice", "alice");
    futures::executor::block_on(h.store().put_setting(OWN_CHECK, b"1")).expect("setting");
    let mut h = h.second_tab();
    h.run(Command::GoAhead);
    h.post("anyway");
    assert_eq!(h.stored(h.me()).len(), 2);
    let left = futures::executor::block_on(h.store().get_setting(OWN_CHECK)).expect("read");
    assert!(left.is_none());
}

#[test]
fn two_views_of_one_store_never_fork_my_feed() {
    let mut a = Harness::new("Alice", "alice");
    let mut b = a.second_tab();
    a.post("from tab a");
    // Tab b has not heard of it: it signs after the stored head, not its stale library's.
    b.post("from tab b");
    a.post("from tab a again");
    let feed = a.stored(a.me());
    let seqs: Vec<u64> = feed.iter().map(VerifiedEntry::seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    let mut check = Feed::new(a.me());
    for e in &feed {
        assert_eq!(
            check.insert_verified(e.clone()),
            Ok(kith_core::Inserted::Appended),
            "one unbroken chain"
        );
    }
    // Each tab published only its own entries, each once.
    assert_eq!(a.net.take(), vec![Call::Publish(2), Call::Publish(4)]);
    assert_eq!(b.net.take(), vec![Call::Publish(3)]);
    // Told that the store changed, tab b shows all three.
    b.pool.run_until(b.app.on_store_changed(b.me()));
    let texts = b.stored(b.me()).len();
    assert_eq!(texts, 4);
    let home: Vec<String> = b.home_texts();
    assert_eq!(home, vec!["from tab a again", "from tab b", "from tab a"]);
}

#[test]
fn an_entry_below_the_stored_head_is_an_error_never_published() {
    let mut a = Harness::new("Alice", "alice");
    a.post("one");
    // An entry signed by a stale copy of the feed, at a seq the store already holds.
    let stale = kith_core::next_entry(
        a.app.identity(),
        None,
        &Payload::post("stale"),
        kith_app::now_ms(),
    )
    .expect("sign");
    let refused = futures::executor::block_on(a.store().insert(&[stale]));
    assert!(
        matches!(refused, Err(kith_store::StoreError::Fork { seq: 1, .. })),
        "{refused:?}"
    );
    assert_eq!(a.stored(a.me()).len(), 2);
}

#[test]
fn search_finds_claimants_and_me_and_the_network_screen_lists_holders() {
    let mut h = Harness::new("Alice", "alice");
    let bob = Other::new(9);
    h.net
        .names
        .borrow_mut()
        .insert("bob".into(), vec![(bob.author(), "bob".into())]);
    h.run(Command::Search("@Bob".into()));
    let found = h.last(|u| match u {
        Update::Search(Search::Done { handle, hits }) => Some((handle.clone(), hits.clone())),
        _ => None,
    });
    let (handle, hits) = found.expect("found");
    assert_eq!(handle, "bob");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].author, bob.author());
    // The network never counts this device: my own handle lists me anyway.
    h.net.names.borrow_mut().insert("alice".into(), Vec::new());
    h.run(Command::Search("alice".into()));
    let mine = h.last(|u| match u {
        Update::Search(Search::Done { hits, .. }) => Some(hits.clone()),
        _ => None,
    });
    assert_eq!(mine.expect("found")[0].author, h.me());
    h.run(Command::Search("nobody".into()));
    assert!(matches!(
        h.last(|u| match u { Update::Search(s) => Some(s.clone()), _ => None }),
        Some(Search::Failed(e)) if e.contains("no record")
    ));

    h.net.holders.borrow_mut().push(bob.author());
    h.net.take();
    h.run(Command::Open(Route::Network));
    assert_eq!(h.net.take(), vec![Call::FindHolders(h.me())]);
    let holders = h.last(|u| match u {
        Update::Holders(Some(r)) => Some(r.clone()),
        _ => None,
    });
    let holders = holders.expect("answered").expect("found");
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].author, bob.author());
}

#[test]
fn online_claims_my_handle_and_retry_reaches_the_network() {
    let mut h = Harness::new("Alice", "alice");
    h.net.take();
    h.news(News::Online);
    assert_eq!(h.net.take(), vec![Call::Claim("alice".into())]);
    h.run(Command::RetryNow);
    assert_eq!(h.net.take(), vec![Call::Retry]);
}

#[test]
fn a_fork_and_an_unreachable_follow_are_explained() {
    let mut h = Harness::new("Alice", "alice");
    let bob = Other::new(9);
    h.run(Command::Follow(bob.author()));
    h.news(News::Unreachable {
        author: bob.author(),
    });
    assert!(
        h.notices()
            .iter()
            .any(|(t, _)| t.contains("Nobody holding"))
    );
    h.news(News::Forked {
        author: bob.author(),
        seq: 3,
    });
    assert!(
        h.notices()
            .iter()
            .any(|(t, e)| *e && t.contains("has forked"))
    );
}

#[test]
fn forgetting_a_feed_drops_it_but_never_my_own() {
    let mut h = Harness::new("Alice", "alice");
    let mut bob = Other::new(9);
    h.run(Command::Follow(bob.author()));
    h.news(News::Stored {
        entry: Box::new(bob.sign(Payload::post("bob's"))),
    });
    h.run(Command::Forget(bob.author()));
    assert!(h.home_texts().is_empty());
    assert!(
        futures::executor::block_on(h.store().feed(&bob.author()))
            .expect("read")
            .is_none()
    );
    h.run(Command::Forget(h.me()));
    assert!(
        h.notices()
            .iter()
            .any(|(t, e)| *e && t.contains("own feed stays"))
    );
    assert_eq!(h.stored(h.me()).len(), 3, "profile, follow, unfollow");
}

#[test]
fn mute_and_block_hide_a_person_everywhere_until_undone_and_other_tabs_agree() {
    use kith_store::Stance;
    let mut h = Harness::new("Alice", "alice");
    let mut carol = Other::new(3);
    h.run(Command::Follow(carol.author()));
    let entries = [carol.sign(Payload::post("carol one"))];
    futures::executor::block_on(h.store().insert(&entries)).expect("store");
    h.news(News::Synced {
        author: carol.author(),
        from: Source::Author,
        fetched: 1,
        direct: false,
    });
    h.post("mine");
    let mine = h.post_ref("mine");
    h.news(News::Stored {
        entry: Box::new(carol.sign(Payload::Post {
            text: "carol replies".into(),
            reply_to: Some(mine),
            mentions: Vec::new(),
            images: Vec::new(),
        })),
    });
    let replies = |h: &Harness| -> Vec<String> {
        h.home()
            .iter()
            .flat_map(|t| t.replies.iter().map(|r| r.post.text.clone()))
            .collect()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // Posted within the same milliseconds: their order on home is not the point here.
    assert_eq!(sorted(h.home_texts()), ["carol one", "mine"]);
    assert_eq!(replies(&h), ["carol replies"]);
    let tab = h.second_tab();

    h.run(Command::SetStance {
        author: carol.author(),
        stance: Some(Stance::Muted),
    });
    assert_eq!(h.home_texts(), ["mine"]);
    assert!(replies(&h).is_empty(), "her reply under my post is hidden");
    assert!(
        h.notices()
            .last()
            .is_some_and(|(t, e)| t.starts_with("Muted") && !e)
    );
    // Still followed: muting is not unfollowing.
    assert!(
        h.last(|u| match u {
            Update::Following(f) => Some(f.contains(&carol.author())),
            _ => None,
        })
        .expect("following sent")
    );
    // Her profile says so, and still lists her post.
    h.run(Command::Open(Route::Profile(carol.author())));
    let profile = h
        .last(|u| match u {
            Update::Profile(p) => Some(p.clone()),
            _ => None,
        })
        .expect("profile");
    assert_eq!(profile.stance, Some(Stance::Muted));
    assert_eq!(profile.posts.len(), 1);

    // The other tab learns it from the store, as the shell tells it.
    let mut tab = tab;
    tab.pool.run_until(tab.app.on_store_changed(carol.author()));
    tab.pool.run_until_stalled();
    tab.run(Command::Open(Route::Home));
    assert_eq!(tab.home_texts(), ["mine"]);

    // Blocked: listed in Settings, kept in the store for the network agent.
    h.run(Command::SetStance {
        author: carol.author(),
        stance: Some(Stance::Blocked),
    });
    h.run(Command::Open(Route::Settings));
    let listed = h
        .last(|u| match u {
            Update::People(p) => Some(p.clone()),
            _ => None,
        })
        .expect("people listed");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0.author, carol.author());
    assert_eq!(listed[0].1, Stance::Blocked);
    let stored = futures::executor::block_on(kith_store::people::read(h.store())).expect("read");
    assert!(stored.is_blocked(&carol.author()));

    // Undone from Settings: everything returns.
    h.run(Command::SetStance {
        author: carol.author(),
        stance: None,
    });
    assert!(
        h.notices()
            .last()
            .is_some_and(|(t, _)| t.ends_with("is no longer blocked."))
    );
    assert!(
        h.last(|u| match u {
            Update::People(p) => Some(p.is_empty()),
            _ => None,
        })
        .expect("people listed")
    );
    h.run(Command::Open(Route::Home));
    assert_eq!(sorted(h.home_texts()), ["carol one", "mine"]);
    assert_eq!(replies(&h), ["carol replies"]);

    // Nobody mutes themselves.
    let me = h.me();
    h.run(Command::SetStance {
        author: me,
        stance: Some(Stance::Muted),
    });
    assert!(h.notices().last().is_some_and(|(_, e)| *e));
    assert!(
        futures::executor::block_on(kith_store::people::read(h.store()))
            .expect("read")
            .is_empty()
    );
}

#[test]
fn searching_the_posts_held_here_as_one_types_finds_words_tags_and_handles() {
    use kith_store::Stance;
    let mut h = Harness::new("Alice", "alice");
    let mut carol = Other::new(3);
    h.run(Command::Follow(carol.author()));
    let entries = [
        carol.sign(Payload::post("Rust meetup tonight #rust")),
        carol.sign(Payload::post("Thanks @alice for the talk")),
    ];
    futures::executor::block_on(h.store().insert(&entries)).expect("store");
    h.news(News::Synced {
        author: carol.author(),
        from: Source::Author,
        fetched: 2,
        direct: false,
    });
    h.post("Rusty bikes for sale");
    h.post("Gone soon: rust");
    let search = |h: &mut Harness, q: &str| {
        h.run(Command::SearchText(q.into()));
        h.last(|u| match u {
            Update::TextSearch(s) => Some(s.clone()),
            _ => None,
        })
        .expect("a search result")
    };
    let texts = |s: &kith_app::view::TextSearch| -> Vec<String> {
        s.posts.iter().map(|t| t.post.text.clone()).collect()
    };
    // While typing, "rus" takes rust and rusty; newest first (posts made within the same
    // millisecond may come in either order, so the order is checked by time).
    let s = search(&mut h, "rus");
    assert_eq!(s.query, "rus");
    let mut found = texts(&s);
    found.sort();
    assert_eq!(
        found,
        [
            "Gone soon: rust",
            "Rust meetup tonight #rust",
            "Rusty bikes for sale"
        ]
    );
    assert!(
        s.posts
            .windows(2)
            .all(|w| w[0].post.ts_ms >= w[1].post.ts_ms)
    );
    assert_eq!(s.total, 3);
    assert_eq!(
        texts(&search(&mut h, "#rust")),
        ["Rust meetup tonight #rust"]
    );
    // My handle finds the post that mentions me and my own posts.
    assert_eq!(search(&mut h, "@alice ").total, 3);
    // A deleted post is gone from the results.
    let gone = h.post_ref("Gone soon: rust");
    h.run(Command::Delete(gone));
    assert_eq!(search(&mut h, "rust ").total, 1);
    // A muted person's posts are left out.
    h.run(Command::SetStance {
        author: carol.author(),
        stance: Some(Stance::Muted),
    });
    assert_eq!(search(&mut h, "rust ").total, 0);
    assert!(search(&mut h, "   ").posts.is_empty());
    // Submitting words (not a handle) asks the network for posts, and looks up no handle.
    h.net.take();
    h.run(Command::Search("rust meetup".into()));
    assert_eq!(h.net.take(), [Call::SearchPosts("rust meetup".into())]);
}

#[test]
fn notifications_from_anyone_are_listed_counted_threaded_and_hidden_when_muted() {
    use kith_core::NoteKind;
    use kith_store::Stance;
    let mut h = Harness::new("Alice", "alice");
    let mut carol = Other::new(3);
    h.post("mine");
    let mine = h.post_ref("mine");
    // Carol, not followed, replies, mentions, reacts and follows; the agent keeps each in
    // the inbox and says so.
    let entries = [
        carol.sign(Payload::Post {
            text: "carol replies".into(),
            reply_to: Some(mine),
            mentions: vec![h.app.me()],
            images: Vec::new(),
        }),
        carol.sign(Payload::Post {
            text: "hey @alice".into(),
            reply_to: None,
            mentions: vec![h.app.me()],
            images: Vec::new(),
        }),
        carol.sign(Payload::Reaction {
            target: mine,
            emoji: "🎉".into(),
        }),
        carol.sign(Payload::Follow { author: h.app.me() }),
    ];
    // Her profile comes with each (she is not followed, so this is how she is named).
    let profile = Some(carol.sign(Payload::Profile {
        name: "Carol".into(),
        bio: String::new(),
        avatar: None,
    }));
    for (i, e) in entries.iter().enumerate() {
        let kind = kith_core::notify::concerns(e, &h.app.me()).expect("concerns me");
        let kept = futures::executor::block_on(kith_store::inbox::receive(
            h.store(),
            e,
            profile.as_ref(),
            kind,
            kith_app::now_ms() - 10 + i as u64,
        ))
        .expect("kept");
        let kith_store::Received::New(note) = kept else {
            panic!("new")
        };
        h.news(News::Notified {
            note,
            entry: Box::new(e.clone()),
        });
    }
    let notes = |h: &Harness| {
        h.last(|u| match u {
            Update::Notifications(n) => Some(n.clone()),
            _ => None,
        })
        .expect("notifications sent")
    };
    let n = notes(&h);
    assert_eq!(n.unread, 4);
    assert_eq!(
        n.items.iter().map(|i| i.kind).collect::<Vec<_>>(),
        [
            NoteKind::Follow,
            NoteKind::Reaction,
            NoteKind::Mention,
            NoteKind::Reply
        ],
        "newest first"
    );
    assert!(
        n.items
            .iter()
            .all(|i| !i.followed && i.who.author == carol.author())
    );
    assert!(n.items.iter().all(|i| i.who.display_name() == "Carol"));
    assert_eq!(n.items[1].emoji.as_deref(), Some("🎉"));
    assert_eq!(n.items[1].about_text.as_deref(), Some("mine"));
    assert_eq!(
        n.items[3].post.as_ref().map(|p| p.text.as_str()),
        Some("carol replies")
    );
    // The reply from someone not followed is threaded under my post, marked as such, and
    // the reaction counts.
    let home = h.home();
    let thread = home.iter().find(|t| t.post.id == mine).expect("my post");
    assert_eq!(thread.replies.len(), 1);
    assert!(thread.replies[0].post.unfollowed);
    assert_eq!(thread.replies[0].post.text, "carol replies");
    assert!(
        thread
            .post
            .reactions
            .iter()
            .any(|(e, n, _)| e == "🎉" && *n == 1)
    );
    // Her mention is not on my home (I do not follow her).
    assert!(!h.home_texts().contains(&"hey @alice".to_owned()));

    // Another tab sees the same, from the store.
    let mut tab = h.second_tab();
    tab.pool.run_until(tab.app.on_store_changed(carol.author()));
    tab.pool.run_until_stalled();
    assert_eq!(notes(&tab).unread, 4);

    // Opening the screen reads them; the count is kept in the store.
    h.run(Command::Open(Route::Notifications));
    assert_eq!(notes(&h).unread, 0);
    assert_eq!(notes(&h).items.len(), 4);
    tab.pool.run_until(tab.app.on_store_changed(h.app.me()));
    tab.pool.run_until_stalled();
    assert_eq!(notes(&tab).unread, 0);

    // Muted: gone from the list and the thread; unmuted: back.
    h.run(Command::SetStance {
        author: carol.author(),
        stance: Some(Stance::Muted),
    });
    h.run(Command::Open(Route::Notifications));
    assert!(notes(&h).items.is_empty());
    let home = h.home();
    let thread = home.iter().find(|t| t.post.id == mine).expect("my post");
    assert!(thread.replies.is_empty());
    h.run(Command::SetStance {
        author: carol.author(),
        stance: None,
    });
    h.run(Command::Open(Route::Notifications));
    assert_eq!(notes(&h).items.len(), 4);

    // Following her from the thread: her reply is no longer marked.
    h.run(Command::Follow(carol.author()));
    let n = notes(&h);
    assert!(n.items.iter().all(|i| i.followed) || n.items.is_empty());
}

#[test]
fn a_post_mentions_everyone_whose_handle_it_names() {
    let mut h = Harness::new("Alice", "alice");
    let carol = Other::new(3);
    assert!(
        h.app.library().mentioned("@carol").is_empty(),
        "unknown yet"
    );
    // A lookup finds her claim, and the library learns her handle.
    h.net
        .names
        .borrow_mut()
        .insert("carol".into(), vec![(carol.author(), "carol".into())]);
    h.run(Command::Search("@carol".into()));
    h.post("hello @Carol, and @nobody!");
    let entry = h.net.published.borrow().last().cloned().expect("published");
    let Some(Payload::Post { mentions, .. }) = entry.payload() else {
        panic!("a post")
    };
    assert_eq!(mentions, &vec![carol.author()]);
}

#[test]
fn submitting_a_search_asks_the_network_and_lists_verified_posts_with_who_passed_them_on() {
    use kith_app::view::NetSearch;
    let mut h = Harness::new("Alice", "alice");
    let mut dee = Other::new(4);
    let mut muted = Other::new(5);
    let cal = Other::new(6);
    let found = vec![
        (
            dee.sign(Payload::post("A zebra crossing")),
            Some(cal.author()),
        ),
        (muted.sign(Payload::post("zebra again")), None),
        // Dee's profile came with her post: she is named though not known here.
        (
            dee.sign(Payload::Profile {
                name: "Dee".into(),
                bio: String::new(),
                avatar: None,
            }),
            None,
        ),
    ];
    *h.net.found.borrow_mut() = found;
    h.run(Command::SetStance {
        author: muted.author(),
        stance: Some(kith_store::Stance::Muted),
    });
    h.run(Command::Search("zebra".into()));
    assert!(h.net.take().contains(&Call::SearchPosts("zebra".into())));
    let done = h
        .last(|u| match u {
            Update::NetSearch(s) => Some(s.clone()),
            _ => None,
        })
        .expect("an answer");
    let NetSearch::Done { query, posts } = done else {
        panic!("done: {done:?}")
    };
    assert_eq!(query, "zebra");
    // The muted person's post is left out; Dee's came through Cal's device.
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].0.text, "A zebra crossing");
    assert_eq!(posts[0].0.author.display_name(), "Dee");
    assert_eq!(posts[0].1.as_ref().map(|p| p.author), Some(cal.author()));
    // Offline: said so, nothing asked.
    h.app.set_network(None);
    h.run(Command::Search("zebra".into()));
    assert!(matches!(
        h.last(|u| match u {
            Update::NetSearch(s) => Some(s.clone()),
            _ => None,
        }),
        Some(NetSearch::Failed(_))
    ));
}

#[test]
fn messages_are_sealed_for_their_addressee_listed_and_read_with_a_receipt_unless_a_request() {
    use kith_core::dm::{self, Body, Letter, LetterId};
    use kith_store::dms;
    let mut h = Harness::new("Alice", "alice");
    let bob = Other::new(21);
    let carol = Other::new(22);
    h.run(Command::Follow(bob.author()));
    h.net.take();

    // Alice writes to Bob: the network gets a letter only Bob opens, with her text.
    h.run(Command::SendMessage {
        to: bob.author(),
        text: "  lunch tomorrow?  ".into(),
    });
    assert_eq!(h.net.take(), vec![Call::SendLetter(bob.author())]);
    let (letter, sealed) = h.net.letters.borrow_mut().remove(0);
    let opened = dm::open(&bob.id, &sealed, kith_app::now_ms()).expect("Bob opens it");
    assert_eq!(opened, letter);
    assert_eq!(opened.body, Body::Text("lunch tomorrow?".into()));
    assert!(dm::open(&carol.id, &sealed, kith_app::now_ms()).is_err());
    // The agent keeps it and says so: the conversation lists it, sending.
    futures::executor::block_on(dms::send(h.store(), &letter, &sealed, kith_app::now_ms()))
        .expect("kept");
    h.news(News::Letters { peer: bob.author() });
    let messages = |h: &Harness| {
        h.last(|u| match u {
            Update::Messages(m) => Some(m.clone()),
            _ => None,
        })
        .expect("messages sent")
    };
    let m = messages(&h);
    assert_eq!(m.conversations.len(), 1);
    assert_eq!((m.unread, m.requests.len()), (0, 0));

    // Bob answers; Alice's count goes up; opening the conversation reads it and sends Bob a
    // receipt up to his message.
    let answer = Letter {
        id: LetterId([5; 16]),
        from: bob.author(),
        to: h.app.me(),
        sent_ms: kith_app::now_ms(),
        body: Body::Text("yes!".into()),
    };
    futures::executor::block_on(dms::receive(h.store(), &answer)).expect("kept");
    h.news(News::Letters { peer: bob.author() });
    assert_eq!(messages(&h).unread, 1);
    h.run(Command::Open(Route::Conversation(bob.author())));
    assert!(h.net.take().contains(&Call::ReadLetters(bob.author())));
    let (_, receipt) = h.net.letters.borrow_mut().remove(0);
    let receipt = dm::open(&bob.id, &receipt, kith_app::now_ms()).expect("Bob opens it");
    assert_eq!(
        receipt.body,
        Body::Read {
            up_to_ms: answer.sent_ms
        }
    );
    let view = h
        .last(|u| match u {
            Update::Conversation(c) => Some(c.clone()),
            _ => None,
        })
        .expect("conversation sent");
    let texts: Vec<(&str, bool)> = view
        .messages
        .iter()
        .map(|m| (m.text.as_str(), m.mine))
        .collect();
    assert_eq!(texts, [("lunch tomorrow?", true), ("yes!", false)]);
    assert!(!view.request);

    // Carol, not followed, writes: a request, not counted, and opening it sends no receipt.
    let hello = Letter {
        id: LetterId([6; 16]),
        from: carol.author(),
        to: h.app.me(),
        sent_ms: kith_app::now_ms(),
        body: Body::Text("hello from carol".into()),
    };
    futures::executor::block_on(dms::receive(h.store(), &hello)).expect("kept");
    h.news(News::Letters {
        peer: carol.author(),
    });
    let m = messages(&h);
    assert_eq!(m.requests.len(), 1);
    assert_eq!(m.requests[0].who.author, carol.author());
    h.net.take();
    h.run(Command::Open(Route::Conversation(carol.author())));
    let calls = h.net.take();
    assert!(
        !calls.contains(&Call::ReadLetters(carol.author())),
        "{calls:?}"
    );
    // She is unknown here: her feed is fetched to name her.
    assert!(calls.contains(&Call::Sync(carol.author())), "{calls:?}");

    // Too long, or to oneself: said, and nothing sent.
    h.run(Command::SendMessage {
        to: bob.author(),
        text: "x".repeat(dm::MAX_DM_TEXT + 1),
    });
    h.run(Command::SendMessage {
        to: h.app.me(),
        text: "note to self".into(),
    });
    assert!(
        !h.net
            .take()
            .iter()
            .any(|c| matches!(c, Call::SendLetter(_)))
    );
    let notices = h.notices();
    assert!(
        notices
            .iter()
            .any(|(t, e)| *e && t.contains("at most 4000 bytes")),
        "{notices:?}"
    );
    assert!(
        notices.iter().any(|(t, e)| *e && t.contains("yourself")),
        "{notices:?}"
    );
}

/// A post with images keeps them in the store before it is published and shows them; an image
/// that is not postable is refused with the reason and nothing is posted; an avatar set once
/// stays through later profile changes; someone else's image not held here is asked of the
/// network, and its absence said.
#[test]
fn images_are_kept_with_the_post_shown_by_hash_and_an_avatar_stays() {
    use kith_core::image::samples;
    let mut h = Harness::new("Alice", "alice");
    let pngs: Vec<Vec<u8>> = (0..2).map(|i| samples::png(60, 40, i, 500)).collect();
    h.run(Command::Post {
        text: "look".into(),
        reply_to: None,
        images: pngs.clone(),
    });
    let post = h.home()[0].post.clone();
    assert_eq!(post.text, "look");
    assert_eq!(post.images.len(), 2);
    assert_eq!(
        (
            post.images[1].index,
            post.images[1].image.width,
            post.images[1].image.height
        ),
        (1, 60, 40)
    );
    // Kept before it was published.
    assert!(h.net.take().contains(&Call::Publish(post.id.seq)));
    for (v, b) in post.images.iter().zip(&pngs) {
        h.take();
        h.run(Command::LoadImage(*v));
        let got = h.last(|u| match u {
            Update::Image { hash, mime, bytes } => Some((*hash, *mime, bytes.clone())),
            _ => None,
        });
        assert_eq!(got, Some((v.hash(), "image/png", b.clone())));
    }
    assert!(
        !h.net
            .take()
            .iter()
            .any(|c| matches!(c, Call::FetchImage(..))),
        "my own images come from the store"
    );

    // An image with metadata, or too many images: refused, nothing posted.
    let before = h.notices().len();
    h.run(Command::Post {
        text: "with a location".into(),
        reply_to: None,
        images: vec![samples::png_with_text(10, 10)],
    });
    h.run(Command::Post {
        text: "five".into(),
        reply_to: None,
        images: vec![pngs[0].clone(); 5],
    });
    let errors: Vec<String> = h.notices()[before..]
        .iter()
        .filter(|n| n.1)
        .map(|n| n.0.clone())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("metadata"), "{errors:?}");
    assert!(errors[1].contains("at most 4 images"), "{errors:?}");
    let mine = futures::executor::block_on(h.store().range(&h.me(), 1, 100)).expect("read");
    assert_eq!(
        mine.last().map(|e| e.entry_ref()),
        Some(post.id),
        "nothing posted since"
    );

    // An avatar, kept when only the bio changes.
    let avatar = samples::png(128, 128, 7, 0);
    h.run(Command::UpdateProfile {
        name: "Alice".into(),
        bio: "hi".into(),
        avatar: Some(avatar.clone()),
    });
    h.run(Command::UpdateProfile {
        name: "Alice".into(),
        bio: "hello".into(),
        avatar: None,
    });
    let me = h
        .last(|u| match u {
            Update::Me(me) => Some(me.person.clone()),
            _ => None,
        })
        .expect("me");
    assert_eq!(me.bio, "hello");
    let shown = me.avatar.expect("the avatar stayed");
    assert_eq!(shown.image.width, 128);
    let held = futures::executor::block_on(h.store().image(&shown.hash())).expect("read");
    assert_eq!(held, Some(avatar), "kept for the newest profile entry");
    // Too large a picture for an avatar is refused.
    h.take();
    h.run(Command::UpdateProfile {
        name: "Alice".into(),
        bio: "hello".into(),
        avatar: Some(samples::png(600, 600, 1, 0)),
    });
    assert!(h.notices().iter().any(|(t, e)| *e && t.contains("avatar")));

    // Bob's post with an image, held here without the image: asked of the network.
    let mut bob = Other::new(2);
    let img = samples::png(30, 30, 3, 0);
    let r = kith_core::ImageRef::of(&img, kith_core::image::MAX_IMAGE_SIDE).expect("image");
    let entry = bob.sign(Payload::Post {
        text: "bob's picture".into(),
        reply_to: None,
        mentions: Vec::new(),
        images: vec![r],
    });
    futures::executor::block_on(h.store().insert(std::slice::from_ref(&entry))).expect("held");
    let view = kith_app::view::ImageView::of(&entry)[0];
    h.take();
    h.net.take();
    h.run(Command::LoadImage(view));
    assert_eq!(
        h.net.take(),
        [Call::FetchImage(bob.author(), entry.seq(), 0)]
    );
    let unavailable = h.last(|u| match u {
        Update::ImageUnavailable { hash, reason } => Some((*hash, reason.clone())),
        _ => None,
    });
    assert_eq!(
        unavailable.map(|u| u.0),
        Some(r.hash),
        "its absence is said"
    );
}
