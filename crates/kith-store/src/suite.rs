//! The test suite every backend runs: the same async functions, run natively against
//! [`MemoryStore`](crate::MemoryStore) and in headless Chromium against IndexedDB. A backend
//! implements [`Backend`]; its test file lists the functions (see `tests/`).
//!
//! The functions panic on failure, like test bodies.

use std::collections::BTreeSet;

use kith_core::{AuthorId, Cursor, Feed, Identity, KdfParams, Payload, VerifiedEntry};

use crate::backup::{self, BackupError};
use crate::{MemoryStore, Store, StoreError};

/// A backend under test.
#[allow(async_fn_in_trait)]
pub trait Backend: Store + Sized {
    /// A fresh, empty store called `name`.
    async fn fresh(name: &str) -> Self;
    /// The same store after a page reload (handles closed, opened again).
    async fn reopen(self) -> Self;
}

impl Backend for MemoryStore {
    async fn fresh(_: &str) -> Self {
        MemoryStore::new()
    }
    async fn reopen(self) -> Self {
        MemoryStore::reopen(&self)
    }
}

/// The suite's clock.
pub const NOW: u64 = 1_767_225_600_000;
/// Cheap key-derivation parameters: the suite checks the format, not the cost.
pub const FAST_KDF: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 1,
};

/// A deterministic person.
pub fn person(n: u8) -> Identity {
    Identity::from_secret([n; 32])
}

/// A feed of `posts` posts by `id`, one every 10 ms from `start`.
pub fn posts(id: &Identity, posts: u64, start: u64) -> Feed {
    let mut f = Feed::new(id.author());
    for i in 0..posts {
        f.append(id, &Payload::post(format!("post {i}")), start + i * 10)
            .expect("append");
    }
    f
}

async fn follow(s: &impl Store, a: AuthorId) {
    s.update_meta(&a, &|m| m.followed = true)
        .await
        .expect("follow");
}

fn seqs(es: &[VerifiedEntry]) -> Vec<u64> {
    es.iter().map(VerifiedEntry::seq).collect()
}

/// A batch with one bad entry leaves nothing behind.
pub async fn atomicity<B: Backend>() {
    let s = B::fresh("atomicity").await;
    let (a, b) = (person(1), person(2));
    let fa = posts(&a, 3, NOW);
    let fb = posts(&b, 3, NOW);
    // b's entry 3 without its entry 2: does not chain.
    let bad = vec![
        fa.entries()[0].clone(),
        fa.entries()[1].clone(),
        fb.entries()[0].clone(),
        fb.entries()[2].clone(),
    ];
    let err = s.insert(&bad).await.expect_err("must fail");
    assert!(
        matches!(err, StoreError::DoesNotChain { seq: 3, .. }),
        "{err}"
    );
    assert_eq!(s.frontier().await.expect("frontier"), vec![]);
    assert!(s.range(&a.author(), 1, 10).await.expect("range").is_empty());
    assert!(s.feeds().await.expect("feeds").is_empty());
    // The good part alone goes in; then the rest, and repeats are harmless.
    s.insert(&fa.entries()[..2]).await.expect("insert");
    s.insert(fa.entries())
        .await
        .expect("insert rest with overlap");
    assert_eq!(
        seqs(&s.range(&a.author(), 1, 10).await.expect("range")),
        [1, 2, 3]
    );
    // A different entry at the stored head is refused.
    let other = posts(&a, 4, NOW + 5);
    let err = s
        .insert(&other.entries()[2..3])
        .await
        .expect_err("fork at head");
    assert!(matches!(err, StoreError::Fork { seq: 3, .. }), "{err}");
}

/// A different entry below the stored head (a tab two posts behind posting, a second device)
/// is refused with [`StoreError::Fork`], never skipped, and nothing of its batch is written;
/// the same entries again are still skipped.
pub async fn below_head<B: Backend>() {
    let s = B::fresh("below-head").await;
    let a = person(1);
    let held = posts(&a, 5, NOW);
    s.insert(held.entries()).await.expect("insert");
    // A stale copy of the feed that stopped at seq 2 signs its own seq 3.
    let mut stale = Feed::new(a.author());
    for e in &held.entries()[..2] {
        stale.insert_verified(e.clone()).expect("copy");
    }
    let late = stale
        .next_entry(&a, &Payload::post("from a stale tab"), NOW + 100)
        .expect("sign");
    assert_eq!(late.seq(), 3);
    let err = s
        .insert(std::slice::from_ref(&late))
        .await
        .expect_err("below the head");
    assert!(
        matches!(err, StoreError::Fork { author, seq: 3 } if author == a.author()),
        "{err}"
    );
    // In a batch with a good entry of another feed: all or nothing.
    let b = person(2);
    let fb = posts(&b, 1, NOW);
    let err = s
        .insert(&[fb.entries()[0].clone(), late])
        .await
        .expect_err("batch refused");
    assert!(matches!(err, StoreError::Fork { .. }), "{err}");
    assert!(s.feed(&b.author()).await.expect("meta").is_none());
    // Repeats of what is held are fine.
    s.insert(&held.entries()[1..4]).await.expect("repeat");
    let meta = s.feed(&a.author()).await.expect("meta").expect("held");
    assert_eq!((meta.head_seq(), meta.entries), (5, 5));
}

/// Range reads and timeline pages across followed feeds, with a stable cursor.
pub async fn paging<B: Backend>() {
    let s = B::fresh("paging").await;
    let (a, b, c) = (person(1), person(2), person(3));
    let (fa, fb, fc) = (
        posts(&a, 30, NOW),
        posts(&b, 30, NOW + 5),
        posts(&c, 30, NOW + 1),
    );
    for f in [&fa, &fb, &fc] {
        s.insert(f.entries()).await.expect("insert");
    }
    follow(&s, a.author()).await;
    follow(&s, b.author()).await;
    assert_eq!(
        seqs(&s.range(&a.author(), 11, 5).await.expect("range")),
        [11, 12, 13, 14, 15]
    );
    assert_eq!(
        seqs(&s.range(&a.author(), 28, 10).await.expect("range")),
        [28, 29, 30]
    );
    // A peer's request asks for any range: empty ones and the last seqs read nothing.
    for (from, limit) in [(3, 0), (u64::MAX, 10), (u64::MAX - 1, usize::MAX), (0, 0)] {
        let got = s.range(&a.author(), from, limit).await.expect("range");
        assert!(got.is_empty(), "{from} {limit}");
    }
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = s.timeline(cursor, 7).await.expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        let last = page.last().expect("non-empty");
        cursor = Some(Cursor {
            timestamp_ms: last.header().timestamp_ms,
            author: last.author(),
            seq: last.seq(),
        });
        seen.extend(
            page.iter()
                .map(|e| (e.header().timestamp_ms, e.author(), e.seq())),
        );
    }
    assert_eq!(
        seen.len(),
        60,
        "both followed feeds, nothing of the unfollowed one"
    );
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    assert!(seen.iter().all(|(_, au, _)| *au != c.author()));
}

/// The first screen's read: windows of the authors on the newest page only, each chaining
/// onto its base, with the feed's first entry beside it.
pub async fn first_page<B: Backend>() {
    let s = B::fresh("first-page").await;
    let (me, a, b, c) = (person(1), person(2), person(3), person(4));
    // a and b post every 10 ms up to the newest posts; c's posts are all older.
    let (fme, fa, fb, fc) = (
        posts(&me, 5, NOW),
        posts(&a, 40, NOW + 1),
        posts(&b, 40, NOW + 2),
        posts(&c, 40, NOW - 10_000),
    );
    for f in [&fme, &fa, &fb, &fc] {
        s.insert(f.entries()).await.expect("insert");
        follow(&s, f.author()).await;
    }
    let windows = crate::first::first_page(&s, 6, &me.author())
        .await
        .expect("first page");
    let authors: BTreeSet<AuthorId> = windows.iter().map(|w| w.author).collect();
    assert_eq!(
        authors,
        BTreeSet::from([a.author(), b.author()]),
        "only the page's authors"
    );
    for w in &windows {
        let f = if w.author == a.author() { &fa } else { &fb };
        let base = w.base.as_ref().expect("a window, not the whole feed");
        assert_eq!(seqs(std::slice::from_ref(base)), [37]);
        assert_eq!(seqs(&w.entries), [38, 39, 40], "to the head");
        assert_eq!(w.first.as_ref(), f.get(1));
        let mut window = Feed::window(w.author, base.as_prev());
        for e in &w.entries {
            window
                .insert_verified(e.clone())
                .expect("chains onto its base");
        }
    }
    // A feed whose oldest post on the page is its first is read whole.
    let whole = crate::first::first_page(&s, 1_000, &me.author())
        .await
        .expect("first page");
    assert!(whole.iter().all(|w| w.base.is_none() && w.first.is_none()));
    assert_eq!(whole.len(), 3);
}

/// A delete purges its target's payload; the header chain stays and verifies.
pub async fn purge<B: Backend>() {
    let s = B::fresh("purge").await;
    let a = person(1);
    let mut f = posts(&a, 3, NOW);
    let target = f.get(2).expect("2").entry_ref();
    f.append(&a, &Payload::Delete { target }, NOW + 100)
        .expect("delete");
    s.insert(f.entries()).await.expect("insert");
    follow(&s, a.author()).await;
    let held = s.range(&a.author(), 1, 10).await.expect("range");
    assert_eq!(held.len(), 4);
    assert_eq!(held[1].payload(), None, "payload purged");
    assert_eq!(held[1].hash(), target.hash, "header kept");
    let page = s.timeline(None, 10).await.expect("page");
    assert_eq!(seqs(&page), [3, 1], "deleted post gone from the timeline");
    // The delete is found for the purged entry (what a sync answer sends beside it), also
    // after a reload.
    assert_eq!(
        s.deletes_of(&held).await.expect("deletes"),
        [held[3].clone()]
    );
    let s = s.reopen().await;
    assert_eq!(
        s.deletes_of(&held[..2]).await.expect("deletes"),
        [held[3].clone()]
    );
    // Purge on request, and the size shrinks.
    let before = s
        .feed(&a.author())
        .await
        .expect("meta")
        .expect("meta")
        .bytes;
    s.purge(&a.author(), 1).await.expect("purge");
    let after = s
        .feed(&a.author())
        .await
        .expect("meta")
        .expect("meta")
        .bytes;
    assert!(after < before, "{after} < {before}");
    assert_eq!(seqs(&s.timeline(None, 10).await.expect("page")), [3]);
    // An entry purged by no delete has none to show.
    let held = s.range(&a.author(), 1, 10).await.expect("range");
    assert_eq!(held[0].payload(), None);
    assert_eq!(
        s.deletes_of(&held[..1]).await.expect("deletes"),
        Vec::<VerifiedEntry>::new()
    );
    // A fresh feed built from the purged entries still verifies end to end.
    let mut replica = Feed::new(a.author());
    for e in s.range(&a.author(), 1, 10).await.expect("range") {
        replica.insert(&e.encode(), NOW).expect("verifies");
    }
}

/// Images are kept only as the images their held entries name, found by hash, kept across a
/// reload, and dropped with their entry's payload (a delete, a purge, forgetting the feed).
pub async fn images<B: Backend>() {
    use kith_core::image::{MAX_AVATAR_SIDE, MAX_IMAGE_SIDE, samples};
    use kith_core::{Hash, ImageRef};
    let s = B::fresh("images").await;
    let a = person(1);
    let pngs: Vec<Vec<u8>> = (0..3).map(|i| samples::png(40, 20, i, 2_000)).collect();
    let refs: Vec<ImageRef> = pngs
        .iter()
        .map(|b| ImageRef::of(b, MAX_IMAGE_SIDE).expect("image"))
        .collect();
    let avatar_png = samples::png(64, 64, 9, 0);
    let avatar = ImageRef::of(&avatar_png, MAX_AVATAR_SIDE).expect("avatar");
    let mut f = Feed::new(a.author());
    let post = |text: &str, images: Vec<ImageRef>| Payload::Post {
        text: text.into(),
        reply_to: None,
        mentions: Vec::new(),
        images,
    };
    let first = f
        .append(&a, &post("two", refs[..2].to_vec()), NOW)
        .expect("post")
        .entry_ref();
    f.append(&a, &post("one", refs[2..].to_vec()), NOW + 10)
        .expect("post");
    f.append(
        &a,
        &Payload::Profile {
            name: "Ada".into(),
            bio: String::new(),
            avatar: Some(avatar.to_avatar()),
        },
        NOW + 20,
    )
    .expect("profile");
    s.insert(f.entries()).await.expect("insert");
    let author = a.author();
    // Refused: bytes that are not the named image, an index the entry does not name, an
    // entry not held.
    let refused = |r: Result<(), StoreError>| matches!(r, Err(StoreError::ImageRefused(_)));
    assert!(refused(s.put_image(&author, 1, 0, &pngs[1]).await));
    let mut altered = pngs[0].clone();
    altered[40] ^= 1;
    assert!(refused(s.put_image(&author, 1, 0, &altered).await));
    assert!(refused(s.put_image(&author, 1, 2, &pngs[0]).await));
    assert!(refused(s.put_image(&author, 9, 0, &pngs[0]).await));
    assert!(refused(
        s.put_image(&person(2).author(), 1, 0, &pngs[0]).await
    ));
    assert_eq!(s.image(&refs[0].hash).await.expect("read"), None);
    // Kept, found by hash, and kept across a reload; the feed's size counts them.
    let size = |m: Option<crate::FeedMeta>| m.expect("held").bytes;
    let before = size(s.feed(&author).await.expect("meta"));
    s.put_image(&author, 1, 0, &pngs[0]).await.expect("image 0");
    s.put_image(&author, 1, 1, &pngs[1]).await.expect("image 1");
    s.put_image(&author, 1, 1, &pngs[1])
        .await
        .expect("again: nothing new");
    s.put_image(&author, 2, 0, &pngs[2])
        .await
        .expect("image of post 2");
    s.put_image(&author, 3, 0, &avatar_png)
        .await
        .expect("avatar");
    let all: usize = pngs.iter().map(Vec::len).sum::<usize>() + avatar_png.len();
    assert_eq!(
        size(s.feed(&author).await.expect("meta")),
        before + all as u64,
        "each image counted once"
    );
    let s = s.reopen().await;
    for (r, b) in refs.iter().zip(&pngs) {
        assert_eq!(s.image(&r.hash).await.expect("read").as_ref(), Some(b));
    }
    assert_eq!(s.image(&avatar.hash).await.expect("read"), Some(avatar_png));
    assert_eq!(s.image(&Hash([7; 32])).await.expect("read"), None);
    // A delete drops the images of its target, and only those.
    let mut more = f.clone();
    more.append(&a, &Payload::Delete { target: first }, NOW + 30)
        .expect("delete");
    let with_images = size(s.feed(&author).await.expect("meta"));
    s.insert(&more.entries()[3..]).await.expect("the delete");
    let after = size(s.feed(&author).await.expect("meta"));
    let delete_len = more.entries()[3].encode().len() as u64;
    assert!(
        after + (pngs[0].len() + pngs[1].len()) as u64 <= with_images + delete_len,
        "the deleted post's images no longer count: {after} after, {with_images} before"
    );
    assert_eq!(s.image(&refs[0].hash).await.expect("read"), None);
    assert_eq!(s.image(&refs[1].hash).await.expect("read"), None);
    assert_eq!(
        s.image(&refs[2].hash).await.expect("read").as_ref(),
        Some(&pngs[2])
    );
    // A deleted entry takes no image any more.
    assert!(refused(s.put_image(&author, 1, 0, &pngs[0]).await));
    // A purge drops them too, and forgetting the feed drops the rest.
    s.purge(&author, 2).await.expect("purge");
    assert_eq!(s.image(&refs[2].hash).await.expect("read"), None);
    assert!(s.image(&avatar.hash).await.expect("read").is_some());
    s.forget(&author).await.expect("forget");
    assert_eq!(s.image(&avatar.hash).await.expect("read"), None);
}

/// A backup keeps the pictures of the person's own posts (not those of others, which their
/// holders serve), and refuses a picture altered in the file.
pub async fn backup_keeps_own_pictures<B: Backend>() {
    use kith_core::ImageRef;
    use kith_core::image::{MAX_IMAGE_SIDE, samples};
    let s = B::fresh("backup-pictures").await;
    let (me, them) = (person(1), person(2));
    let mine_png = samples::png(50, 40, 1, 100);
    let theirs_png = samples::png(50, 40, 2, 100);
    let post = |png: &[u8]| Payload::Post {
        text: "a picture".into(),
        reply_to: None,
        mentions: Vec::new(),
        images: vec![ImageRef::of(png, MAX_IMAGE_SIDE).expect("image")],
    };
    let mut mine = Feed::new(me.author());
    mine.append(&me, &post(&mine_png), NOW).expect("post");
    let mut theirs = Feed::new(them.author());
    theirs.append(&them, &post(&theirs_png), NOW).expect("post");
    s.insert(mine.entries()).await.expect("mine");
    s.insert(theirs.entries()).await.expect("theirs");
    s.put_image(&me.author(), 1, 0, &mine_png)
        .await
        .expect("my picture");
    s.put_image(&them.author(), 1, 0, &theirs_png)
        .await
        .expect("their picture");
    let file = backup::export(&s, &me, "pass phrase", FAST_KDF, RANDOM, NOW)
        .await
        .expect("export");
    let fresh = B::fresh("backup-pictures-restored").await;
    backup::import(&fresh, &file, "pass phrase", None, NOW)
        .await
        .expect("import");
    let hash = |png: &[u8]| kith_core::Hash::of(&[png]);
    assert_eq!(
        fresh.image(&hash(&mine_png)).await.expect("read"),
        Some(mine_png.clone())
    );
    assert_eq!(fresh.image(&hash(&theirs_png)).await.expect("read"), None);
    // A picture altered in the file: refused, nothing written.
    let mut altered: backup::BackupFile = postcard::from_bytes(&file).expect("decode");
    assert_eq!(altered.images.len(), 1);
    altered.images[0].bytes = theirs_png.clone();
    let altered = postcard::to_allocvec(&altered).expect("encode");
    let other = B::fresh("backup-pictures-altered").await;
    assert!(matches!(
        backup::import(&other, &altered, "pass phrase", None, NOW).await,
        Err(BackupError::Tampered { .. })
    ));
    assert!(other.frontier().await.expect("frontier").is_empty());
}

/// The frontier lists every feed's head; forgetting a feed drops it and its data.
pub async fn frontier_and_forget<B: Backend>() {
    let s = B::fresh("frontier").await;
    let (a, b) = (person(1), person(2));
    s.insert(posts(&a, 5, NOW).entries()).await.expect("a");
    s.insert(posts(&b, 2, NOW).entries()).await.expect("b");
    let mut f = s.frontier().await.expect("frontier");
    f.sort();
    let mut want = vec![(a.author(), 5), (b.author(), 2)];
    want.sort();
    assert_eq!(f, want);
    let meta = s.feed(&a.author()).await.expect("meta").expect("a held");
    assert_eq!(meta.entries, 5);
    assert!(meta.bytes > 5 * 64, "{}", meta.bytes);
    s.forget(&a.author()).await.expect("forget");
    assert_eq!(s.frontier().await.expect("frontier"), vec![(b.author(), 2)]);
    assert!(s.range(&a.author(), 1, 5).await.expect("range").is_empty());
    assert_eq!(s.feed(&a.author()).await.expect("meta"), None);
}

/// Everything is still there after a reload.
pub async fn survives_reopen<B: Backend>() {
    let s = B::fresh("reopen").await;
    let a = person(1);
    let f = posts(&a, 4, NOW);
    s.insert(f.entries()).await.expect("insert");
    follow(&s, a.author()).await;
    s.set_identity(b"wrapped secret").await.expect("identity");
    s.put_setting("theme", b"dark").await.expect("setting");
    s.update_meta(&a.author(), &|m| m.last_synced_ms = Some(NOW))
        .await
        .expect("synced");
    let s = s.reopen().await;
    assert_eq!(
        s.range(&a.author(), 1, 10).await.expect("range"),
        f.entries()
    );
    assert_eq!(
        s.identity().await.expect("identity"),
        Some(b"wrapped secret".to_vec())
    );
    assert_eq!(
        s.get_setting("theme").await.expect("setting"),
        Some(b"dark".to_vec())
    );
    let meta = s.feed(&a.author()).await.expect("meta").expect("held");
    assert!(meta.followed);
    assert_eq!(meta.last_synced_ms, Some(NOW));
    assert_eq!(s.timeline(None, 10).await.expect("page").len(), 4);
}

/// Settings: round trip, replace, delete, limits.
pub async fn settings<B: Backend>() {
    let s = B::fresh("settings").await;
    assert_eq!(s.get_setting("theme").await, Ok(None));
    s.put_setting("theme", b"dark").await.expect("put");
    s.put_setting("theme", b"light").await.expect("replace");
    assert_eq!(s.get_setting("theme").await, Ok(Some(b"light".to_vec())));
    s.delete_setting("theme").await.expect("delete");
    s.delete_setting("theme").await.expect("delete twice");
    assert_eq!(s.get_setting("theme").await, Ok(None));
    let big = vec![0u8; crate::MAX_SETTING_VALUE + 1];
    assert!(matches!(
        s.put_setting("k", &big).await,
        Err(StoreError::ValueTooLarge(_))
    ));
    assert!(matches!(
        s.get_setting("").await,
        Err(StoreError::BadKey(0))
    ));
}

async fn filled<B: Backend>(name: &str) -> (B, Identity, Feed, Feed) {
    let s = B::fresh(name).await;
    let (me, friend) = (person(1), person(2));
    let mut mine = Feed::new(me.author());
    mine.append(
        &me,
        &Payload::Profile {
            name: "Me".into(),
            bio: String::new(),
            avatar: None,
        },
        NOW,
    )
    .expect("profile");
    mine.append(
        &me,
        &Payload::Follow {
            author: friend.author(),
        },
        NOW,
    )
    .expect("follow");
    mine.append(&me, &Payload::post("hello"), NOW + 1)
        .expect("post");
    let theirs = posts(&friend, 5, NOW);
    s.insert(mine.entries()).await.expect("mine");
    s.insert(theirs.entries()).await.expect("theirs");
    follow(&s, me.author()).await;
    follow(&s, friend.author()).await;
    (s, me, mine, theirs)
}

/// Fixed randomness for the backups of the tests.
const RANDOM: backup::Randomness = backup::Randomness {
    salt: [1; 16],
    nonce: [2; 12],
    dms_seed: [3; 32],
};

/// A backup file of an older `version` (1 or 2) up to its version 1 fields: `me` and `mine`.
fn older_file(me: &Identity, mine: &Feed, version: u16) -> Vec<u8> {
    postcard::to_allocvec(&(
        backup::MAGIC,
        version,
        NOW,
        me.author(),
        me.export("pw", FAST_KDF, [1; 16], [2; 12]).expect("export"),
        vec![backup::BackupFeed {
            author: me.author(),
            followed: true,
            entries: mine.entries().iter().map(VerifiedEntry::encode).collect(),
        }],
    ))
    .expect("encodes")
}

/// A backup restores the same identity, posts and follows into an empty store; twice is fine.
pub async fn backup_round_trip<B: Backend>() {
    let (s, me, mine, theirs) = filled::<B>("backup-src").await;
    crate::people::set(&s, person(5).author(), Some(crate::Stance::Muted))
        .await
        .expect("mute");
    crate::people::set(&s, person(6).author(), Some(crate::Stance::Blocked))
        .await
        .expect("block");
    // A direct message from a friend: in the file only sealed to me.
    let letter = kith_core::Letter {
        id: kith_core::LetterId([7; 16]),
        from: person(5).author(),
        to: me.author(),
        sent_ms: NOW,
        body: kith_core::Body::Text("a secret between us".into()),
    };
    crate::dms::receive(&s, &letter).await.expect("message");
    let file = backup::export(&s, &me, "pass phrase", FAST_KDF, RANDOM, NOW)
        .await
        .expect("export");
    assert!(
        !file.windows(6).any(|w| w == b"secret"),
        "the message is sealed"
    );
    let fresh = B::fresh("backup-dst").await;
    let restored = backup::import(&fresh, &file, "pass phrase", None, NOW)
        .await
        .expect("import");
    let restored_letters = crate::dms::messages(&fresh, &person(5).author())
        .await
        .expect("messages");
    assert_eq!(restored_letters.len(), 1);
    assert_eq!(restored_letters[0].message.text, "a secret between us");
    assert_eq!(restored.identity.author(), me.author());
    assert_eq!((restored.feeds, restored.entries), (2, 8));
    assert_eq!(
        fresh.identity().await.expect("id"),
        Some(me.secret().to_vec())
    );
    assert_eq!(
        fresh.range(&me.author(), 1, 10).await.expect("mine"),
        mine.entries()
    );
    assert_eq!(
        fresh.range(&theirs.author(), 1, 10).await.expect("theirs"),
        theirs.entries()
    );
    let followed: BTreeSet<AuthorId> = fresh
        .feeds()
        .await
        .expect("feeds")
        .into_iter()
        .filter(|m| m.followed)
        .map(|m| m.author)
        .collect();
    assert_eq!(followed, BTreeSet::from([me.author(), theirs.author()]));
    let people = crate::people::read(&fresh).await.expect("people");
    assert_eq!(
        people.stance(&person(5).author()),
        Some(crate::Stance::Muted)
    );
    assert!(people.is_blocked(&person(6).author()));
    // A version 1 file (before the muted and blocked people) still restores.
    let v1 = older_file(&me, &mine, 1);
    // So does a version 2 file (before the messages): version 1's fields, then the people.
    let mut v2 = older_file(&me, &mine, 2);
    v2.extend(
        postcard::to_allocvec(&vec![(person(5).author(), crate::Stance::Muted)]).expect("encodes"),
    );
    let older2 = B::fresh("backup-v2").await;
    let restored = backup::import(&older2, &v2, "pw", None, NOW)
        .await
        .expect("version 2 imports");
    assert_eq!((restored.feeds, restored.entries), (1, 3));
    let older = B::fresh("backup-v1").await;
    let restored = backup::import(&older, &v1, "pw", None, NOW)
        .await
        .expect("version 1 imports");
    assert_eq!((restored.feeds, restored.entries), (1, 3));
    assert!(
        crate::people::read(&older)
            .await
            .expect("people")
            .is_empty()
    );
    // Importing the same file again changes nothing.
    backup::import(&fresh, &file, "pass phrase", Some(me.author()), NOW)
        .await
        .expect("again");
    assert_eq!(
        fresh.range(&me.author(), 1, 10).await.expect("mine").len(),
        3
    );
    // Someone else's backup cannot become this browser's identity.
    let err = backup::import(&fresh, &file, "pass phrase", Some(person(9).author()), NOW)
        .await
        .expect_err("not yours");
    assert_eq!(err, BackupError::NotYours);
}

/// A tampered backup is refused with a clear error and nothing is written.
pub async fn tampered_backup_refused<B: Backend>() {
    let (s, me, _, theirs) = filled::<B>("tamper-src").await;
    let file = backup::export(&s, &me, "pw", FAST_KDF, RANDOM, NOW)
        .await
        .expect("export");
    let fresh = B::fresh("tamper-dst").await;
    // Flip one bit inside the friend's last post's text ("post 4"), wherever the format puts
    // it in the file.
    let mut bad = file.clone();
    let text = b"post 4";
    let at = bad
        .windows(text.len())
        .rposition(|w| w == text)
        .expect("the friend's last post is in the file")
        + text.len()
        - 1;
    bad[at] ^= 0x01;
    let err = backup::import(&fresh, &bad, "pw", None, NOW)
        .await
        .expect_err("tampered");
    assert!(matches!(err, BackupError::Tampered { .. }), "{err}");
    assert!(err.to_string().contains("nothing was imported"), "{err}");
    assert_eq!(
        backup::import(&fresh, &file, "wrong", None, NOW)
            .await
            .expect_err("passphrase"),
        BackupError::Identity(kith_core::KeyExportError::WrongPassphrase)
    );
    assert_eq!(
        backup::import(&fresh, b"hello", "pw", None, NOW)
            .await
            .expect_err("junk"),
        BackupError::NotABackup
    );
    assert!(
        fresh.feeds().await.expect("feeds").is_empty(),
        "nothing written"
    );
    assert_eq!(fresh.identity().await.expect("id"), None);
    assert!(
        fresh
            .range(&theirs.author(), 1, 10)
            .await
            .expect("range")
            .is_empty()
    );
}
