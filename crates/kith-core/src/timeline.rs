//! The home timeline: many authors' verified posts, newest first, in stable pages.
//!
//! [`Timeline::new`] indexes the feeds of the authors followed (one pass to find replies),
//! then [`Timeline::page`] merges the feeds newest first with a heap, one step per post shown.
//! Within a feed timestamps never go backwards (validation refuses it), so each feed is
//! already sorted and a page costs O(page × log feeds) after the index.
//!
//! Order is (timestamp, author, seq), newest first; a [`Cursor`] is the last key shown, so
//! pages stay stable while new posts arrive. Deleted posts (payload purged) and authors not
//! followed drop out. A reply whose parent is in the timeline appears under it, not on its own.

use std::collections::{BTreeSet, BinaryHeap, HashMap};

use crate::entry::{EntryRef, Payload};
use crate::feed::Feed;
use crate::identity::AuthorId;
use crate::validate::VerifiedEntry;

/// Where a page ends; pass it back for the next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The last post's timestamp.
    pub timestamp_ms: u64,
    /// Its author.
    pub author: AuthorId,
    /// Its seq.
    pub seq: u64,
}

/// A post as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostView<'a> {
    /// The entry.
    pub entry: &'a VerifiedEntry,
    /// Its text.
    pub text: &'a str,
    /// What it replies to, if anything.
    pub reply_to: Option<EntryRef>,
}

/// A post and the replies under it, oldest reply first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread<'a> {
    /// The post.
    pub post: PostView<'a>,
    /// Replies to it that are in the timeline.
    pub replies: Vec<Thread<'a>>,
}

/// One page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a> {
    /// Top-level posts, newest first, each with its replies.
    pub threads: Vec<Thread<'a>>,
    /// The cursor for the next page; `None` at the end.
    pub next: Option<Cursor>,
}

/// How deep replies nest before deeper ones are left out of a thread.
pub const MAX_REPLY_DEPTH: usize = 8;

fn post_view(entry: &VerifiedEntry) -> Option<PostView<'_>> {
    match entry.payload()? {
        Payload::Post { text, reply_to, .. } => Some(PostView {
            entry,
            text,
            reply_to: *reply_to,
        }),
        _ => None,
    }
}

/// The followed feeds, indexed for paging.
pub struct Timeline<'a> {
    feeds: Vec<&'a Feed>,
    by_author: HashMap<AuthorId, &'a Feed>,
    /// Replies whose parent is a visible post in the timeline, by parent.
    children: HashMap<EntryRef, Vec<&'a VerifiedEntry>>,
}

impl<'a> Timeline<'a> {
    /// The timeline of `feeds` whose authors are in `following` (add your own id to see your
    /// own posts).
    pub fn new(feeds: impl IntoIterator<Item = &'a Feed>, following: &BTreeSet<AuthorId>) -> Self {
        let feeds: Vec<&Feed> = feeds
            .into_iter()
            .filter(|f| following.contains(&f.author()))
            .collect();
        let by_author: HashMap<AuthorId, &Feed> = feeds.iter().map(|f| (f.author(), *f)).collect();
        let mut tl = Timeline {
            feeds,
            by_author,
            children: HashMap::new(),
        };
        let mut children: HashMap<EntryRef, Vec<&VerifiedEntry>> = HashMap::new();
        for feed in &tl.feeds {
            for e in feed.entries() {
                if let Some(PostView {
                    reply_to: Some(parent),
                    ..
                }) = post_view(e)
                    && tl.visible(&parent).is_some()
                {
                    children.entry(parent).or_default().push(e);
                }
            }
        }
        for replies in children.values_mut() {
            replies.sort_by_key(|e| (e.header().timestamp_ms, e.author(), e.seq()));
        }
        tl.children = children;
        tl
    }

    /// The post `r` names, if it is in the timeline and not deleted.
    fn visible(&self, r: &EntryRef) -> Option<PostView<'a>> {
        let e = self.by_author.get(&r.author)?.get(r.seq)?;
        (e.hash() == r.hash).then(|| post_view(e)).flatten()
    }

    fn thread(&self, post: PostView<'a>, depth: usize) -> Thread<'a> {
        let replies = if depth >= MAX_REPLY_DEPTH {
            Vec::new()
        } else {
            self.children
                .get(&post.entry.entry_ref())
                .map(|rs| {
                    rs.iter()
                        .filter_map(|e| post_view(e))
                        .map(|p| self.thread(p, depth + 1))
                        .collect()
                })
                .unwrap_or_default()
        };
        Thread { post, replies }
    }

    /// Up to `limit` top-level posts after `cursor` (from the newest when `None`).
    pub fn page(&self, cursor: Option<Cursor>, limit: usize) -> Page<'a> {
        let key = |e: &VerifiedEntry| Cursor {
            timestamp_ms: e.header().timestamp_ms,
            author: e.author(),
            seq: e.seq(),
        };
        // For each feed, how many entries (from the start) are still to be shown.
        let mut heap: BinaryHeap<(Cursor, usize)> = BinaryHeap::new();
        let mut remaining: Vec<usize> = Vec::with_capacity(self.feeds.len());
        for (i, feed) in self.feeds.iter().enumerate() {
            let entries = feed.entries();
            let n = match cursor {
                None => entries.len(),
                Some(c) => entries.partition_point(|e| key(e) < c),
            };
            remaining.push(n);
            if n > 0 {
                heap.push((key(&entries[n - 1]), i));
            }
        }
        let mut threads = Vec::new();
        let mut last = None;
        while threads.len() < limit {
            let Some((k, i)) = heap.pop() else { break };
            let entries = self.feeds[i].entries();
            remaining[i] -= 1;
            let e = &entries[remaining[i]];
            if remaining[i] > 0 {
                heap.push((key(&entries[remaining[i] - 1]), i));
            }
            let Some(post) = post_view(e) else { continue };
            if post.reply_to.is_some_and(|p| self.visible(&p).is_some()) {
                continue; // shown under its parent
            }
            last = Some(k);
            threads.push(self.thread(post, 0));
        }
        let more = !heap.is_empty();
        Page {
            threads,
            next: if more { last } else { None },
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::testutil::{NOW, id};

    fn texts(page: &Page<'_>) -> Vec<String> {
        page.threads
            .iter()
            .map(|t| t.post.text.to_owned())
            .collect()
    }

    #[test]
    fn merges_newest_first_with_stable_cursor_paging() {
        let (a, b) = (id(1), id(2));
        let (mut fa, mut fb) = (Feed::new(a.author()), Feed::new(b.author()));
        for i in 0..5u64 {
            fa.append(&a, &Payload::post(format!("a{i}")), NOW + 10 * i)
                .expect("a");
            fb.append(&b, &Payload::post(format!("b{i}")), NOW + 10 * i + 5)
                .expect("b");
        }
        let following = BTreeSet::from([a.author(), b.author()]);
        let tl = Timeline::new([&fa, &fb], &following);
        let p1 = tl.page(None, 4);
        assert_eq!(texts(&p1), ["b4", "a4", "b3", "a3"]);
        let next = p1.next;
        // New posts arriving do not shift the next page.
        fa.append(&a, &Payload::post("new"), NOW + 1000)
            .expect("new");
        let tl = Timeline::new([&fa, &fb], &following);
        let p2 = tl.page(next, 4);
        assert_eq!(texts(&p2), ["b2", "a2", "b1", "a1"]);
        let p3 = tl.page(p2.next, 4);
        assert_eq!(texts(&p3), ["b0", "a0"]);
        assert_eq!(p3.next, None);
        assert_eq!(texts(&tl.page(None, 1)), ["new"]);
    }

    #[test]
    fn unfollowed_and_deleted_posts_drop_out_and_replies_thread() {
        let (a, b, c) = (id(1), id(2), id(3));
        let (mut fa, mut fb, mut fc) = (
            Feed::new(a.author()),
            Feed::new(b.author()),
            Feed::new(c.author()),
        );
        let root = fa
            .append(&a, &Payload::post("root"), NOW)
            .expect("root")
            .entry_ref();
        let gone = fa
            .append(&a, &Payload::post("gone"), NOW + 1)
            .expect("gone")
            .entry_ref();
        fa.append(&a, &Payload::Delete { target: gone }, NOW + 2)
            .expect("delete");
        let reply = Payload::Post {
            text: "reply".into(),
            reply_to: Some(root),
            mentions: vec![a.author()],
            images: Vec::new(),
        };
        let r = fb.append(&b, &reply, NOW + 3).expect("reply").entry_ref();
        let nested = Payload::Post {
            text: "nested".into(),
            reply_to: Some(r),
            mentions: vec![],
            images: Vec::new(),
        };
        fa.append(&a, &nested, NOW + 4).expect("nested");
        fc.append(&c, &Payload::post("not followed"), NOW + 5)
            .expect("c");
        let following = BTreeSet::from([a.author(), b.author()]);
        let tl = Timeline::new([&fa, &fb, &fc], &following);
        let page = tl.page(None, 10);
        assert_eq!(texts(&page), ["root"]);
        let thread = &page.threads[0];
        assert_eq!(thread.replies.len(), 1);
        assert_eq!(thread.replies[0].post.text, "reply");
        assert_eq!(thread.replies[0].replies[0].post.text, "nested");
        assert_eq!(page.next, None);
        // Without following `a`, b's reply has no visible parent and stands on its own.
        let only_b = BTreeSet::from([b.author()]);
        let tl = Timeline::new([&fa, &fb, &fc], &only_b);
        assert_eq!(texts(&tl.page(None, 10)), ["reply"]);
    }
}
