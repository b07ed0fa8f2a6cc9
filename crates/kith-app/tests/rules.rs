//! The app's rules natively, with the real store (`MemoryStore`, the backend every store test
//! suite also runs on IndexedDB): own entries, reactions taken back, follows, previews.

use futures::executor::block_on;
use kith_app::Library;
use kith_core::{Feed, Identity, Payload};
use kith_store::{MemoryStore, Store, StoreError};

const NOW: u64 = 1_767_225_600_000;

fn me() -> Identity {
    Identity::from_secret([1; 32])
}

/// A library and a store holding the same own feed of `n` posts.
fn start(n: u64) -> (Library, MemoryStore) {
    let id = me();
    let store = MemoryStore::new();
    let mut lib = Library::new(id.author());
    for i in 0..n {
        let e = lib
            .next_own_entry(&id, &Payload::post(format!("post {i}")), NOW + i)
            .expect("sign");
        block_on(store.insert(std::slice::from_ref(&e))).expect("store");
        lib.add([e]);
    }
    (lib, store)
}

#[test]
fn own_entries_continue_the_feed_held() {
    let (lib, store) = start(3);
    let e = lib
        .next_own_entry(&me(), &Payload::post("fourth"), NOW + 10)
        .expect("sign");
    assert_eq!(e.seq(), 4);
    block_on(store.insert(std::slice::from_ref(&e))).expect("it continues the stored feed");
    // A clock that went backwards does not make time go backwards in the feed.
    let mut lib = lib;
    lib.add([e.clone()]);
    let back = lib
        .next_own_entry(&me(), &Payload::post("fifth"), NOW)
        .expect("sign");
    assert_eq!(back.header().timestamp_ms, e.header().timestamp_ms);
    // Someone else's identity cannot sign into my feed.
    let other = Identity::from_secret([2; 32]);
    assert!(
        lib.next_own_entry(&other, &Payload::post("no"), NOW)
            .is_err()
    );
}

#[test]
fn a_stale_library_cannot_post_below_the_stored_head() {
    // Two views of one store: the second stops two posts early (a tab that fell behind).
    let (ahead, store) = start(5);
    let mut stale = Library::new(me().author());
    let held: Vec<_> = ahead.feed(&me().author()).expect("own feed").entries()[..3].to_vec();
    stale.add(held);
    let late = stale
        .next_own_entry(&me(), &Payload::post("from behind"), NOW + 100)
        .expect("sign");
    assert_eq!(late.seq(), 4);
    let err = block_on(store.insert(std::slice::from_ref(&late))).expect_err("refused");
    assert!(
        matches!(err, StoreError::Fork { seq: 4, .. }),
        "an entry below the head is an error, never skipped: {err}"
    );
    // Caught up from the store, the same post goes in after the head.
    let rest = block_on(store.range(&me().author(), 4, 10)).expect("range");
    stale.add(rest);
    let again = stale
        .next_own_entry(&me(), &Payload::post("from behind"), NOW + 100)
        .expect("sign");
    assert_eq!(again.seq(), 6);
    block_on(store.insert(std::slice::from_ref(&again))).expect("continues");
}

#[test]
fn a_reaction_is_taken_back_by_a_second_click() {
    let (mut lib, _) = start(1);
    let target = lib.feed(&me().author()).expect("own").entries()[0].entry_ref();
    assert_eq!(lib.my_reaction(&target, "❤️"), None);
    let react = lib
        .next_own_entry(
            &me(),
            &Payload::Reaction {
                target,
                emoji: "❤️".into(),
            },
            NOW + 5,
        )
        .expect("sign");
    lib.add([react.clone()]);
    assert_eq!(lib.my_reaction(&target, "❤️"), Some(react.entry_ref()));
    assert_eq!(lib.my_reaction(&target, "👍"), None);
    let undo = lib
        .next_own_entry(
            &me(),
            &Payload::Delete {
                target: react.entry_ref(),
            },
            NOW + 6,
        )
        .expect("sign");
    lib.add([undo]);
    assert_eq!(lib.my_reaction(&target, "❤️"), None);
    let (home, _) = lib.home(10);
    assert_eq!(home[0].post.reactions, vec![]);
}

#[test]
fn a_preview_shows_a_profile_but_not_on_home_until_followed() {
    let (mut lib, _) = start(0);
    let alice = Identity::from_secret([3; 32]);
    let mut feed = Feed::new(alice.author());
    let profile = Payload::Profile {
        name: "Alice".into(),
        bio: String::new(),
        avatar: None,
    };
    feed.append(&alice, &profile, NOW).expect("profile");
    feed.append(&alice, &Payload::post("hello"), NOW + 1)
        .expect("post");
    lib.add(feed.entries().to_vec());
    assert_eq!(lib.person(&alice.author()).name, "Alice");
    assert_eq!(lib.posts_of(&alice.author(), 10).0.len(), 1);
    assert!(lib.home(10).0.is_empty(), "not followed: not on home");
    lib.set_followed(alice.author(), true);
    assert_eq!(lib.home(10).0[0].post.text, "hello");
    lib.set_followed(alice.author(), false);
    assert!(lib.home(10).0.is_empty(), "unfollowed: gone from home");
    lib.forget(&alice.author());
    assert!(lib.feed(&alice.author()).is_none());
}
