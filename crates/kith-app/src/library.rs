//! The feeds held in this browser, in memory, turned into what the screens show.
//!
//! The store is the record; the library is a read model built from it at start and kept up
//! to date entry by entry (the app reads every entry the network stores). It holds each
//! feed as a kith-core [`Feed`] (so deletes purge, forks are caught and the chain is checked
//! again), plus an index of reactions to held entries (a reaction to anything else waits, for
//! at most [`MAX_PENDING_REACTIONS`] targets, until its target arrives). Timelines come from kith-core's [`Timeline`]: merged
//! newest first, replies under their parents, deleted and unfollowed posts gone.
//!
//! Its size is what this device holds: the person's own feed and the feeds they follow.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kith_core::{
    AuthorId, EntryRef, Feed, FeedError, Identity, Inserted, Payload, Thread, Timeline,
    VerifiedEntry, friends_of_friends,
};

use crate::search::{Found, TextIndex};
use crate::view::{ImageView, NoteView, Notifications, Person, PostView, ThreadView};
use kith_core::NoteKind;
use kith_store::{Kept, Note};

/// The feeds held here, indexed for the screens.
pub struct Library {
    me: AuthorId,
    feeds: BTreeMap<AuthorId, Feed>,
    followed: BTreeSet<AuthorId>,
    handles: BTreeMap<AuthorId, String>,
    /// Reactions by target: emoji → who. Only targets held here: a reaction to anything
    /// else waits in `pending`.
    reactions: HashMap<EntryRef, Reactions>,
    /// Reactions to targets not held (yet), at most [`MAX_PENDING_REACTIONS`] targets: a feed
    /// of reactions to made-up entries cannot grow the library without bound.
    pending: HashMap<EntryRef, Reactions>,
    /// Profiles of feeds held only as a window that lacks one (from the feed's first entry),
    /// until the whole feed is read.
    profile_hints: Vec<(AuthorId, Payload)>,
    /// People the person muted or blocked: left out of the timeline, threads and suggestions
    /// (their own profile still lists their posts, under a notice).
    hidden: BTreeSet<AuthorId>,
    /// Every post's words, for search.
    text: TextIndex,
    /// Notifications received (kith-store's inbox, newest first): single entries of people
    /// this person may not follow. Replies among them are shown in threads.
    notes: Vec<(Note, Kept)>,
    /// The profiles that came with notifications, newest first per author: how people not
    /// followed are named.
    note_profiles: BTreeMap<AuthorId, Payload>,
}

/// Emoji → who gave it.
type Reactions = BTreeMap<String, BTreeSet<AuthorId>>;

/// Targets not held here whose reactions are kept until the target arrives.
pub(crate) const MAX_PENDING_REACTIONS: usize = 4_096;

impl Library {
    /// An empty library for `me`.
    pub fn new(me: AuthorId) -> Library {
        Library {
            me,
            feeds: BTreeMap::new(),
            followed: BTreeSet::new(),
            handles: BTreeMap::new(),
            reactions: HashMap::new(),
            pending: HashMap::new(),
            profile_hints: Vec::new(),
            hidden: BTreeSet::new(),
            text: TextIndex::new(),
            notes: Vec::new(),
            note_profiles: BTreeMap::new(),
        }
    }

    /// Holds the latest entries of `author`'s feed, `entries` after `base` (both read from the
    /// store, which checked the chain): enough for a first page. `first` is the feed's first
    /// entry, whose profile names the author until the whole feed is read
    /// ([`Library::complete`]). Nothing changes when the feed is held already.
    pub fn add_window(
        &mut self,
        base: &VerifiedEntry,
        entries: Vec<VerifiedEntry>,
        first: Option<&VerifiedEntry>,
    ) {
        let author = base.author();
        if self.feeds.contains_key(&author) {
            return;
        }
        self.feeds
            .insert(author, Feed::window(author, base.as_prev()));
        if let Some(p @ Payload::Profile { .. }) = first.and_then(VerifiedEntry::payload) {
            self.profile_hints.push((author, p.clone()));
        }
        self.add(entries);
    }

    /// Whether `author`'s feed is held here only as a window of its latest entries.
    pub fn is_window(&self, author: &AuthorId) -> bool {
        self.feeds.get(author).is_some_and(|f| !f.is_whole())
    }

    /// Replaces a window of `author`'s feed with the whole feed, `entries` from seq 1 (later
    /// entries held in the window stay until the caller reads them again). The author's
    /// reactions are counted afresh from the whole feed.
    pub fn complete(&mut self, author: AuthorId, entries: Vec<VerifiedEntry>) {
        for index in [&mut self.reactions, &mut self.pending] {
            for by_emoji in index.values_mut() {
                for who in by_emoji.values_mut() {
                    who.remove(&author);
                }
            }
        }
        self.feeds.remove(&author);
        self.profile_hints.retain(|(a, _)| *a != author);
        self.add(entries);
    }

    /// Whose library it is.
    pub fn me(&self) -> AuthorId {
        self.me
    }

    /// Adds entries (each feed's in order). Returns the authors whose feeds changed.
    /// An entry that does not continue its feed is skipped (the store is the authority; the
    /// runtime re-reads from the library's head).
    pub fn add(&mut self, entries: impl IntoIterator<Item = VerifiedEntry>) -> BTreeSet<AuthorId> {
        let mut changed = BTreeSet::new();
        for e in entries {
            let author = e.author();
            let feed = self
                .feeds
                .entry(author)
                .or_insert_with(|| Feed::new(author));
            // A delete of a reaction takes the reaction back.
            if let Some(Payload::Delete { target }) = e.payload()
                && let Some(Payload::Reaction { target: t, emoji }) =
                    feed.get(target.seq).and_then(VerifiedEntry::payload)
            {
                for index in [&mut self.reactions, &mut self.pending] {
                    if let Some(who) = index.get_mut(t).and_then(|m| m.get_mut(emoji)) {
                        who.remove(&author);
                    }
                }
            }
            let reaction = match e.payload() {
                Some(Payload::Reaction { target, emoji }) => Some((*target, emoji.clone())),
                _ => None,
            };
            let words = match e.payload() {
                Some(Payload::Post { text, .. }) => Some((text.clone(), e.header().timestamp_ms)),
                _ => None,
            };
            let deletes = match e.payload() {
                Some(Payload::Delete { target }) => Some(*target),
                _ => None,
            };
            let this = e.entry_ref();
            match feed.insert_verified(e) {
                Ok(Inserted::Appended | Inserted::PayloadFilled) => {
                    // Reactions that waited for this entry count now.
                    if let Some(waiting) = self.pending.remove(&this) {
                        let counted = self.reactions.entry(this).or_default();
                        for (emoji, who) in waiting {
                            counted.entry(emoji).or_default().extend(who);
                        }
                    }
                    if let Some((target, emoji)) = reaction {
                        self.react(target, emoji, author);
                    }
                    if let Some((text, ts)) = words {
                        self.text.add(this, ts, &text);
                    }
                    if let Some(target) = deletes {
                        self.text.remove(&target);
                    }
                    changed.insert(author);
                }
                Ok(Inserted::Duplicate)
                | Err(FeedError::Gap { .. } | FeedError::BeforeWindow { .. }) => {}
                Err(e) => tracing::warn!("library: {author}: {e}"),
            }
        }
        changed
    }

    /// Whether `target` is held here (its feed, at its seq, with its hash).
    fn holds(&self, target: &EntryRef) -> bool {
        self.feeds
            .get(&target.author)
            .and_then(|f| f.get(target.seq))
            .is_some_and(|e| e.hash() == target.hash)
    }

    /// Counts `who`'s `emoji` on `target` if it is held; otherwise keeps it until the target
    /// arrives, within [`MAX_PENDING_REACTIONS`] targets (beyond, it is not counted).
    fn react(&mut self, target: EntryRef, emoji: String, who: AuthorId) {
        let index = if self.holds(&target) {
            &mut self.reactions
        } else if self.pending.contains_key(&target) || self.pending.len() < MAX_PENDING_REACTIONS {
            &mut self.pending
        } else {
            return;
        };
        index
            .entry(target)
            .or_default()
            .entry(emoji)
            .or_default()
            .insert(who);
    }

    /// The next seq the library lacks for `author`.
    pub fn next_seq(&self, author: &AuthorId) -> u64 {
        self.feeds.get(author).map_or(1, |f| f.head_seq() + 1)
    }

    /// Signs my next entry after the head of my feed as held here, without adding it (the
    /// caller stores it first, then adds it). See [`kith_core::next_entry`].
    pub fn next_own_entry(
        &self,
        identity: &Identity,
        payload: &Payload,
        now_ms: u64,
    ) -> Result<VerifiedEntry, FeedError> {
        if identity.author() != self.me {
            return Err(FeedError::NotYourFeed);
        }
        let head = self.feeds.get(&self.me).and_then(Feed::head);
        kith_core::next_entry(identity, head, payload, now_ms)
    }

    /// My reaction `emoji` to `target`, if I gave it and did not take it back (what a second
    /// click on the reaction deletes).
    pub fn my_reaction(&self, target: &EntryRef, emoji: &str) -> Option<EntryRef> {
        let feed = self.feeds.get(&self.me)?;
        let mut found = None;
        for e in feed.entries() {
            match e.payload() {
                Some(Payload::Reaction {
                    target: t,
                    emoji: x,
                }) if t == target && x == emoji => {
                    found = Some(e.entry_ref());
                }
                Some(Payload::Delete { target: t }) if Some(*t) == found => found = None,
                _ => {}
            }
        }
        found.filter(|r| !feed.is_deleted(r.seq))
    }

    /// My feed (for appending).
    pub fn feed_mut(&mut self, author: AuthorId) -> &mut Feed {
        self.feeds
            .entry(author)
            .or_insert_with(|| Feed::new(author))
    }

    /// A feed.
    pub fn feed(&self, author: &AuthorId) -> Option<&Feed> {
        self.feeds.get(author)
    }

    /// Sets whether `author` is followed here (from the store's feed metadata).
    pub fn set_followed(&mut self, author: AuthorId, followed: bool) {
        if followed {
            self.followed.insert(author);
        } else {
            self.followed.remove(&author);
        }
    }

    /// Sets who is hidden: the people muted or blocked (kith-store's `people` setting).
    pub fn set_hidden(&mut self, hidden: BTreeSet<AuthorId>) {
        self.hidden = hidden;
    }

    /// Whether `author` is muted or blocked here.
    pub fn is_hidden(&self, author: &AuthorId) -> bool {
        self.hidden.contains(author)
    }

    /// Everyone I follow.
    pub fn followed(&self) -> BTreeSet<AuthorId> {
        self.followed.clone()
    }

    /// Whether I follow `author`.
    pub fn is_followed(&self, author: &AuthorId) -> bool {
        self.followed.contains(author)
    }

    /// Remembers a handle someone claimed (a verified claim).
    pub fn learn_handle(&mut self, author: AuthorId, handle: String) {
        self.handles.insert(author, handle);
    }

    /// Everyone a post's text mentions by a handle known here (`@handle`; every claimant of
    /// it, as handles are not unique), at most [`MAX_MENTIONS`](kith_core::entry::MAX_MENTIONS).
    pub fn mentioned(&self, text: &str) -> Vec<AuthorId> {
        let mut out: Vec<AuthorId> = Vec::new();
        for word in text.split_whitespace().filter(|w| w.starts_with('@')) {
            let word = word.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
            let Ok(handle) = kith_core::name::normalize_handle(word) else {
                continue;
            };
            for (a, h) in &self.handles {
                if *h == handle && *a != self.me && !out.contains(a) {
                    out.push(*a);
                }
            }
        }
        out.truncate(kith_core::entry::MAX_MENTIONS);
        out
    }

    /// Drops a feed from memory (after the store forgot it).
    pub fn forget(&mut self, author: &AuthorId) {
        self.feeds.remove(author);
        self.text.remove_author(author);
        self.profile_hints.retain(|(a, _)| a != author);
        self.followed.remove(author);
        for index in [&mut self.reactions, &mut self.pending] {
            index.retain(|target, _| target.author != *author);
            for by_emoji in index.values_mut() {
                for who in by_emoji.values_mut() {
                    who.remove(author);
                }
            }
        }
    }

    /// Someone, as the screens show them.
    pub fn person(&self, author: &AuthorId) -> Person {
        let profile = self
            .feeds
            .get(author)
            .and_then(Feed::profile)
            .or_else(|| {
                self.profile_hints
                    .iter()
                    .find(|(a, _)| a == author)
                    .map(|(_, p)| p)
            })
            .or_else(|| self.note_profiles.get(author));
        let (name, bio) = match profile {
            Some(Payload::Profile { name, bio, .. }) => (name.clone(), bio.clone()),
            _ => (String::new(), String::new()),
        };
        // Only a profile held here has its avatar here to fetch (by its entry).
        let avatar = self
            .feeds
            .get(author)
            .and_then(Feed::profile_entry)
            .and_then(|e| ImageView::of(e).into_iter().next());
        Person {
            author: *author,
            name,
            bio,
            fingerprint: author.fingerprint(),
            handle: self.handles.get(author).cloned(),
            avatar,
        }
    }

    fn post_view(&self, t: &kith_core::timeline::PostView<'_>) -> PostView {
        let id = t.entry.entry_ref();
        let reactions = self
            .reactions
            .get(&id)
            .map(|m| {
                m.iter()
                    .filter(|(_, who)| !who.is_empty())
                    .map(|(emoji, who)| (emoji.clone(), who.len(), who.contains(&self.me)))
                    .collect()
            })
            .unwrap_or_default();
        PostView {
            id,
            author: self.person(&id.author),
            ts_ms: t.entry.header().timestamp_ms,
            text: t.text.to_owned(),
            images: ImageView::of(t.entry),
            reply_to: t.reply_to,
            reactions,
            mine: id.author == self.me,
            unfollowed: id.author != self.me && !self.followed.contains(&id.author),
        }
    }

    /// The replies to `post` that came as notifications from people not followed (the
    /// replies of people followed come from their feeds), oldest first.
    fn note_replies(&self, post: &EntryRef) -> Vec<ThreadView> {
        let mut replies: Vec<ThreadView> = self
            .notes
            .iter()
            .filter(|(n, _)| {
                !self.followed.contains(&n.author)
                    && n.author != self.me
                    && !self.hidden.contains(&n.author)
            })
            .filter_map(|(_, k)| match k.entry.payload() {
                Some(Payload::Post {
                    text,
                    reply_to: Some(r),
                    ..
                }) if r == post => Some(ThreadView {
                    post: self.post_view(&kith_core::timeline::PostView {
                        entry: &k.entry,
                        text,
                        reply_to: Some(*r),
                    }),
                    replies: Vec::new(),
                }),
                _ => None,
            })
            .collect();
        replies.sort_by_key(|t| t.post.key());
        replies
    }

    /// Replaces the notifications held (newest first, as the inbox lists them). Reactions
    /// among them count on their targets.
    pub fn set_notes(&mut self, notes: Vec<(Note, Kept)>) {
        self.note_profiles.clear();
        for (_, k) in &notes {
            let e = &k.entry;
            if let Some(Payload::Reaction { target, emoji }) = e.payload() {
                self.react(*target, emoji.clone(), e.author());
            }
            if let Some(p @ Payload::Profile { .. }) =
                k.profile.as_ref().and_then(VerifiedEntry::payload)
            {
                self.note_profiles
                    .entry(e.author())
                    .or_insert_with(|| p.clone());
            }
        }
        self.notes = notes;
    }

    /// The entry of a notification held here already.
    pub fn note_entry(&self, note: &Note) -> Option<Kept> {
        self.notes
            .iter()
            .find(|(n, _)| n.hash == note.hash)
            .map(|(_, k)| k.clone())
    }

    /// A post that is not held here (a network search's hit), as the screens show one.
    pub fn loose_post_view(&self, e: &VerifiedEntry) -> Option<PostView> {
        let Some(Payload::Post { text, reply_to, .. }) = e.payload() else {
            return None;
        };
        Some(self.post_view(&kith_core::timeline::PostView {
            entry: e,
            text,
            reply_to: *reply_to,
        }))
    }

    /// The entries of the posts held here that hold every word of `words` (whole words),
    /// newest first, at most `limit`, then the latest profile entry of each of their authors
    /// (so the asker can name them): what this device answers a search from the network with
    /// (muted and blocked people's posts left out).
    pub fn search_entries(&self, words: &str, limit: usize) -> Vec<VerifiedEntry> {
        // A trailing space: every word whole, none a prefix.
        let (views, _) = self.search(&format!("{words} "), limit);
        let mut out: Vec<VerifiedEntry> = views
            .iter()
            .filter_map(|v| self.feeds.get(&v.id.author)?.get(v.id.seq).cloned())
            .collect();
        let authors: BTreeSet<AuthorId> = out.iter().map(VerifiedEntry::author).collect();
        out.extend(
            authors
                .iter()
                .filter_map(|a| self.feeds.get(a)?.profile_entry().cloned()),
        );
        out
    }

    /// The Notifications screen: every notification of someone not muted or blocked, newest
    /// first; unread are those that arrived after `read_ms`.
    pub fn notifications(&self, read_ms: u64) -> Notifications {
        let items: Vec<NoteView> = self
            .notes
            .iter()
            .filter(|(n, _)| !self.hidden.contains(&n.author))
            .map(|(n, k)| self.note_view(n, &k.entry, read_ms))
            .collect();
        Notifications {
            unread: items.iter().filter(|n| n.unread).count(),
            items,
        }
    }

    fn note_view(&self, n: &Note, e: &VerifiedEntry, read_ms: u64) -> NoteView {
        let (post, about, emoji) = match e.payload() {
            Some(Payload::Post { text, reply_to, .. }) => (
                Some(self.post_view(&kith_core::timeline::PostView {
                    entry: e,
                    text,
                    reply_to: *reply_to,
                })),
                reply_to.filter(|r| r.author == self.me),
                None,
            ),
            Some(Payload::Reaction { target, emoji }) => (None, Some(*target), Some(emoji.clone())),
            _ => (None, None, None),
        };
        let about_text =
            about.and_then(
                |r| match self.feeds.get(&r.author)?.get(r.seq)?.payload()? {
                    Payload::Post { text, .. } => Some(text.chars().take(80).collect()),
                    _ => None,
                },
            );
        NoteView {
            kind: n.kind,
            who: self.person(&n.author),
            followed: self.followed.contains(&n.author),
            post: if n.kind == NoteKind::Follow {
                None
            } else {
                post
            },
            about,
            about_text,
            emoji,
            received_ms: n.received_ms,
            unread: n.received_ms > read_ms,
        }
    }

    fn thread_view(&self, t: &Thread<'_>) -> ThreadView {
        let id = t.post.entry.entry_ref();
        let mut replies: Vec<ThreadView> = t
            .replies
            .iter()
            .filter(|r| !self.hidden.contains(&r.post.entry.author()))
            .map(|r| self.thread_view(r))
            .collect();
        // Replies from people not followed, which came as notifications (only to my posts).
        if id.author == self.me {
            let extra = self.note_replies(&id);
            if !extra.is_empty() {
                replies.extend(extra);
                replies.sort_by_key(|r| r.post.key());
            }
        }
        ThreadView {
            post: self.post_view(&t.post),
            replies,
        }
    }

    fn page(&self, following: &BTreeSet<AuthorId>, limit: usize) -> (Vec<ThreadView>, bool) {
        let tl = Timeline::new(self.feeds.values(), following);
        let page = tl.page(None, limit);
        let threads = page.threads.iter().map(|t| self.thread_view(t)).collect();
        (threads, page.next.is_some())
    }

    /// The home timeline: me and everyone I follow, newest first, `limit` threads; and
    /// whether there are more.
    pub fn home(&self, limit: usize) -> (Vec<ThreadView>, bool) {
        let mut following = &self.followed - &self.hidden;
        following.insert(self.me);
        self.page(&following, limit)
    }

    /// `author`'s posts (with replies held here), newest first: a muted or blocked author's
    /// too (their profile says so), without the replies of others hidden.
    pub fn posts_of(&self, author: &AuthorId, limit: usize) -> (Vec<ThreadView>, bool) {
        let mut following = &self.followed - &self.hidden;
        following.insert(self.me);
        following.insert(*author);
        let (threads, more) = self.page(&following, usize::MAX);
        let mine: Vec<ThreadView> = threads
            .into_iter()
            .filter(|t| t.post.id.author == *author)
            .collect();
        let more = more || mine.len() > limit;
        (mine.into_iter().take(limit).collect(), more)
    }

    /// Who `author` follows, by their feed.
    pub fn follows_of(&self, author: &AuthorId) -> Vec<Person> {
        self.feeds
            .get(author)
            .map(|f| f.follows().iter().map(|a| self.person(a)).collect())
            .unwrap_or_default()
    }

    /// The posts held here that hold every word of `query` (the last as a prefix while the
    /// person types; `@handle` also finds the posts of whoever claims the handle here), newest
    /// first, at most `limit`, and how many matched in all. Deleted posts and those of
    /// people muted or blocked are left out.
    pub fn search(&self, query: &str, limit: usize) -> (Vec<PostView>, usize) {
        let claims = |handle: &str| {
            self.handles
                .iter()
                .filter(|(_, h)| h.as_str() == handle)
                .map(|(a, _)| *a)
                .collect()
        };
        let keep = |post: &EntryRef| {
            !self.hidden.contains(&post.author)
                && self.feeds.get(&post.author).is_some_and(|f| {
                    !f.is_deleted(post.seq)
                        && f.get(post.seq).is_some_and(|e| e.hash() == post.hash)
                })
        };
        let Found { posts, total } = self.text.search(query, limit, &claims, &keep);
        let views = posts
            .iter()
            .filter_map(|p| {
                let entry = self.feeds.get(&p.author)?.get(p.seq)?;
                let Some(Payload::Post { text, reply_to, .. }) = entry.payload() else {
                    return None;
                };
                Some(self.post_view(&kith_core::timeline::PostView {
                    entry,
                    text,
                    reply_to: *reply_to,
                }))
            })
            .collect();
        (views, total)
    }

    /// People followed by people I follow, that I do not follow.
    pub fn suggestions(&self) -> Vec<(Person, usize)> {
        let Some(me) = self.feeds.get(&self.me) else {
            return Vec::new();
        };
        friends_of_friends(me, self.feeds.values())
            .into_iter()
            .filter(|(a, _)| !self.followed.contains(a) && !self.hidden.contains(a))
            .map(|(a, n)| (self.person(&a), n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    fn post(
        feed: &mut Feed,
        id: &Identity,
        text: &str,
        reply_to: Option<EntryRef>,
        t: u64,
    ) -> VerifiedEntry {
        let p = Payload::Post {
            text: text.into(),
            reply_to,
            mentions: Vec::new(),
            images: Vec::new(),
        };
        feed.append(id, &p, NOW + t).cloned().expect("appends")
    }

    #[test]
    fn home_threads_reacts_and_deletes() {
        let (a, b) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([2; 32]),
        );
        let (mut fa, mut fb) = (Feed::new(a.author()), Feed::new(b.author()));
        let mut lib = Library::new(b.author());
        let profile = Payload::Profile {
            name: "Alice".into(),
            bio: "hi".into(),
            avatar: None,
        };
        let p0 = fa.append(&a, &profile, NOW).cloned().expect("appends");
        let p1 = post(&mut fa, &a, "first", None, 1);
        let r1 = post(&mut fb, &b, "reply", Some(p1.entry_ref()), 2);
        let react = Payload::Reaction {
            target: p1.entry_ref(),
            emoji: "❤️".into(),
        };
        let x = fb.append(&b, &react, NOW + 3).cloned().expect("appends");
        // Not followed yet: only my reply shows, as its own thread.
        assert_eq!(
            lib.add([p0.clone(), p1.clone(), r1.clone(), x.clone()])
                .len(),
            2
        );
        let (home, _) = lib.home(10);
        assert_eq!(home.len(), 1);
        assert_eq!(home[0].post.text, "reply");
        lib.set_followed(a.author(), true);
        let (home, more) = lib.home(10);
        assert!(!more);
        assert_eq!(home.len(), 1);
        assert_eq!(home[0].post.author.name, "Alice");
        assert_eq!(home[0].post.reactions, vec![("❤️".into(), 1, true)]);
        assert_eq!(home[0].replies[0].post.text, "reply");
        assert!(home[0].replies[0].post.mine);
        // Alice deletes her post: it and the thread under it leave the timeline.
        let del = fa
            .append(
                &a,
                &Payload::Delete {
                    target: p1.entry_ref(),
                },
                NOW + 4,
            )
            .cloned()
            .expect("appends");
        lib.add([del]);
        let (home, _) = lib.home(10);
        assert_eq!(home.len(), 1);
        assert_eq!(home[0].post.text, "reply");
        // Taking the reaction back.
        let undo = fb
            .append(
                &b,
                &Payload::Delete {
                    target: x.entry_ref(),
                },
                NOW + 5,
            )
            .cloned()
            .expect("appends");
        lib.add([undo]);
        assert!(lib.reactions.get(&p1.entry_ref()).expect("reacted")["❤️"].is_empty());
        // Gaps are skipped, not applied.
        let p5 = post(&mut fa, &a, "later", None, 6);
        let mut lib2 = Library::new(b.author());
        assert!(lib2.add([p5]).is_empty());
    }

    #[test]
    fn hidden_people_leave_the_timeline_threads_and_suggestions_but_not_their_profile() {
        let (a, b, c) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([2; 32]),
            Identity::from_secret([3; 32]),
        );
        let (mut fa, mut fb, mut fc) = (
            Feed::new(a.author()),
            Feed::new(b.author()),
            Feed::new(c.author()),
        );
        let mut lib = Library::new(b.author());
        let p1 = post(&mut fa, &a, "alice's post", None, 1);
        let mine = post(&mut fb, &b, "my post", None, 2);
        let reply = post(&mut fc, &c, "carol replies", Some(mine.entry_ref()), 3);
        let carol_post = post(&mut fc, &c, "carol's post", None, 4);
        // I follow Alice and Carol; Alice follows Dave, whom I do not: Dave is suggested.
        let dave = Identity::from_secret([4; 32]).author();
        let follow = fa
            .append(&a, &Payload::Follow { author: dave }, NOW + 5)
            .cloned()
            .expect("appends");
        lib.add([p1, mine, reply, carol_post, follow]);
        lib.set_followed(a.author(), true);
        lib.set_followed(c.author(), true);
        let me_follows = fb
            .append(&b, &Payload::Follow { author: a.author() }, NOW + 6)
            .cloned()
            .expect("appends");
        lib.add([me_follows]);
        let texts = |lib: &Library| -> Vec<String> {
            lib.home(10)
                .0
                .iter()
                .flat_map(|t| {
                    std::iter::once(t.post.text.clone())
                        .chain(t.replies.iter().map(|r| r.post.text.clone()))
                })
                .collect()
        };
        assert_eq!(
            texts(&lib),
            ["carol's post", "my post", "carol replies", "alice's post"]
        );
        assert_eq!(lib.suggestions().len(), 1);
        // Carol muted: her post and her reply under mine go.
        lib.set_hidden(BTreeSet::from([c.author()]));
        assert!(lib.is_hidden(&c.author()));
        assert_eq!(texts(&lib), ["my post", "alice's post"]);
        // Her profile still lists her post (her reply is in my thread).
        let (hers, _) = lib.posts_of(&c.author(), 10);
        assert_eq!(hers.len(), 1);
        assert_eq!(hers[0].post.text, "carol's post");
        // Dave hidden: no longer suggested.
        lib.set_hidden(BTreeSet::from([dave]));
        assert!(lib.suggestions().is_empty());
        // Undone: everything returns.
        lib.set_hidden(BTreeSet::new());
        assert_eq!(texts(&lib).len(), 4);
    }

    #[test]
    fn reactions_count_only_for_held_posts_and_made_up_targets_are_bounded() {
        let (a, c) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([3; 32]),
        );
        let (mut fa, mut fc) = (Feed::new(a.author()), Feed::new(c.author()));
        let mut lib = Library::new(a.author());
        let p1 = post(&mut fa, &a, "mine", None, 1);
        // C reacts to A's post before the library holds it, then to many made-up entries.
        let mut entries = vec![
            fc.append(
                &c,
                &Payload::Reaction {
                    target: p1.entry_ref(),
                    emoji: "👍".into(),
                },
                NOW + 2,
            )
            .cloned()
            .expect("appends"),
        ];
        for i in 0..(MAX_PENDING_REACTIONS as u64 + 100) {
            let made_up = EntryRef {
                author: AuthorId([9; 32]),
                seq: i + 1,
                hash: kith_core::Hash::of(&[&i.to_be_bytes()]),
            };
            let r = Payload::Reaction {
                target: made_up,
                emoji: "👍".into(),
            };
            entries.push(fc.append(&c, &r, NOW + 3 + i).cloned().expect("appends"));
        }
        lib.add(entries);
        assert!(lib.reactions.is_empty(), "nothing held was reacted to");
        assert_eq!(lib.pending.len(), MAX_PENDING_REACTIONS, "bounded");
        // A's post arrives: C's reaction counts.
        lib.add([p1.clone()]);
        assert_eq!(
            lib.reactions[&p1.entry_ref()]["👍"],
            BTreeSet::from([c.author()])
        );
        assert!(!lib.pending.contains_key(&p1.entry_ref()));
    }
}
