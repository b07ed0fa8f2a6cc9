//! Full-text search over the posts this device holds: a small inverted index, kept by the
//! [`Library`](crate::Library) as posts arrive and are deleted.
//!
//! Why not a search crate: the well-kept ones (tantivy, for example) do not build for wasm32
//! or weigh megabytes, and the app's bundle has a few kilobytes to spare. What Kith needs is
//! small: words, `#tags` and `@handles`, every word of a query present, the last one as a
//! prefix while the person types, newest first.
//!
//! - [`tokens`] splits text: lower-cased runs of letters and digits (any script), with a
//!   leading `#` or `@` kept as its own token beside the bare word (`#Rust` is found by
//!   `#rust` and by `rust`).
//! - [`TextIndex`] maps each token to the posts that contain it (compact post numbers, in
//!   the order posts were added), remembers each post's time and reference, and forgets a
//!   post by marking it (a delete, a forgotten feed); marked posts never show again, and
//!   their numbers are not reused.
//! - [`TextIndex::search`] intersects the posting lists (the shortest first), ranks newest
//!   first and returns at most `limit`, with how many matched in all.

use std::collections::{BTreeMap, HashMap};

use kith_core::{AuthorId, EntryRef};

/// The longest token indexed, in characters (longer runs are cut: a search for them still
/// finds them by their first characters).
pub const MAX_TOKEN_CHARS: usize = 32;
/// The most words of a query that count.
pub const MAX_QUERY_TOKENS: usize = 8;

/// The tokens of `text`, in order, with repeats.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut sigil: Option<char> = None;
    let mut prev: Option<char> = None;
    let flush = |word: &mut String, sigil: &mut Option<char>, out: &mut Vec<String>| {
        if !word.is_empty() {
            if let Some(s) = sigil.take() {
                out.push(format!("{s}{word}"));
            }
            out.push(std::mem::take(word));
        }
        *sigil = None;
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() || (ch == '_' && !word.is_empty()) {
            if word.chars().count() < MAX_TOKEN_CHARS {
                word.extend(ch.to_lowercase());
            }
        } else {
            flush(&mut word, &mut sigil, &mut out);
            // A sigil starts a tag or handle only at the start of a word.
            if (ch == '#' || ch == '@') && !prev.is_some_and(char::is_alphanumeric) {
                sigil = Some(ch);
            }
        }
        prev = Some(ch);
    }
    flush(&mut word, &mut sigil, &mut out);
    out
}

/// One post in the index.
#[derive(Debug, Clone, Copy)]
struct Doc {
    post: EntryRef,
    ts_ms: u64,
    gone: bool,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The posts, newest first, at most the limit asked for.
    pub posts: Vec<EntryRef>,
    /// How many matched in all.
    pub total: usize,
}

/// An inverted index of post texts.
#[derive(Debug, Default)]
pub struct TextIndex {
    docs: Vec<Doc>,
    by_post: HashMap<EntryRef, u32>,
    postings: BTreeMap<String, Vec<u32>>,
}

impl TextIndex {
    /// An empty index.
    pub fn new() -> TextIndex {
        TextIndex::default()
    }

    /// Indexes `post` (written at `ts_ms`) with its `text`. A post already indexed is left
    /// as it is.
    pub fn add(&mut self, post: EntryRef, ts_ms: u64, text: &str) {
        if self.by_post.contains_key(&post) {
            return;
        }
        let Ok(id) = u32::try_from(self.docs.len()) else {
            return;
        };
        self.docs.push(Doc {
            post,
            ts_ms,
            gone: false,
        });
        self.by_post.insert(post, id);
        let mut seen: Vec<String> = tokens(text);
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            self.postings.entry(t).or_default().push(id);
        }
    }

    /// Forgets `post` (deleted): it is never found again.
    pub fn remove(&mut self, post: &EntryRef) {
        if let Some(&id) = self.by_post.get(post) {
            self.docs[id as usize].gone = true;
        }
    }

    /// Forgets every post of `author` (a forgotten feed).
    pub fn remove_author(&mut self, author: &AuthorId) {
        for d in self.docs.iter_mut().filter(|d| d.post.author == *author) {
            d.gone = true;
        }
    }

    /// Posts indexed and not forgotten.
    pub fn len(&self) -> usize {
        self.docs.iter().filter(|d| !d.gone).count()
    }

    /// Whether no post is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Post numbers holding `token`, or (for the word being typed, `prefix`) any token it
    /// begins, sorted.
    fn matching(&self, token: &str, prefix: bool) -> Vec<u32> {
        if !prefix {
            return self.postings.get(token).cloned().unwrap_or_default();
        }
        let mut ids: Vec<u32> = self
            .postings
            .range(token.to_owned()..)
            .take_while(|(t, _)| t.starts_with(token))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The posts holding every word of `query` (the last one as a prefix unless the query
    /// ends in a space), that `keep` accepts, newest first, at most `limit`. `extra` adds
    /// the posts of authors a word names (a handle known here: `@alice` finds Alice's posts
    /// as well as the posts that mention her).
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        extra: &dyn Fn(&str) -> Vec<AuthorId>,
        keep: &dyn Fn(&EntryRef) -> bool,
    ) -> Found {
        let mut words = tokens(query);
        // `#rust` yields "#rust" and "rust": the tagged form is the stricter one.
        words.dedup_by(|later, earlier| {
            earlier.len() == later.len() + 1 && earlier.ends_with(later.as_str())
        });
        words.truncate(MAX_QUERY_TOKENS);
        if words.is_empty() {
            return Found {
                posts: Vec::new(),
                total: 0,
            };
        }
        let typing = !query.ends_with(char::is_whitespace);
        let last = words.len() - 1;
        let mut lists: Vec<Vec<u32>> = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mut ids = self.matching(w, typing && i == last);
                if let Some(handle) = w.strip_prefix('@') {
                    let authors = extra(handle);
                    if !authors.is_empty() {
                        ids.extend(
                            self.docs
                                .iter()
                                .enumerate()
                                .filter(|(_, d)| authors.contains(&d.post.author))
                                .filter_map(|(id, _)| u32::try_from(id).ok()),
                        );
                        ids.sort_unstable();
                        ids.dedup();
                    }
                }
                ids
            })
            .collect();
        lists.sort_by_key(Vec::len);
        let (first, rest) = lists.split_first().expect("at least one word");
        let mut hits: Vec<&Doc> = first
            .iter()
            .filter(|id| rest.iter().all(|l| l.binary_search(id).is_ok()))
            .map(|id| &self.docs[*id as usize])
            .filter(|d| !d.gone && keep(&d.post))
            .collect();
        let total = hits.len();
        hits.sort_by(|a, b| {
            (b.ts_ms, b.post.author, b.post.seq).cmp(&(a.ts_ms, a.post.author, a.post.seq))
        });
        Found {
            posts: hits.into_iter().take(limit).map(|d| d.post).collect(),
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(author: u8, seq: u64) -> EntryRef {
        EntryRef {
            author: AuthorId([author; 32]),
            seq,
            hash: kith_core::Hash::of(&[&[author], &seq.to_be_bytes()]),
        }
    }

    fn none(_: &str) -> Vec<AuthorId> {
        Vec::new()
    }

    fn all(_: &EntryRef) -> bool {
        true
    }

    #[test]
    fn words_tags_and_handles_are_tokens() {
        assert_eq!(
            tokens("Hello, #Rust fans! Ask @alice_b about e-mail #2026 a#b"),
            [
                "hello", "#rust", "rust", "fans", "ask", "@alice_b", "alice_b", "about", "e",
                "mail", "#2026", "2026", "a", "b"
            ]
        );
        assert_eq!(
            tokens("Ünïcode ΚΑΛΗΜΈΡΑ 東京"),
            ["ünïcode", "καλημέρα", "東京"]
        );
        let long = "x".repeat(100);
        assert_eq!(tokens(&long)[0].len(), MAX_TOKEN_CHARS);
        assert!(tokens("  ...  ").is_empty());
    }

    #[test]
    fn every_word_must_match_newest_first_and_the_last_word_is_a_prefix_while_typing() {
        let mut ix = TextIndex::new();
        ix.add(post(1, 1), 10, "Rust is fun #rust");
        ix.add(post(2, 1), 30, "I like rusty bikes");
        ix.add(post(1, 2), 20, "Fun with friends");
        ix.add(post(3, 1), 40, "rust and fun, at last");
        let found = |q: &str| ix.search(q, 10, &none, &all).posts;
        assert_eq!(found("fun"), [post(3, 1), post(1, 2), post(1, 1)]);
        assert_eq!(found("rust fun"), [post(3, 1), post(1, 1)]);
        // Typing: "rus" finds rust and rusty; a finished word ("rust ") does not take rusty.
        assert_eq!(found("rus"), [post(3, 1), post(2, 1), post(1, 1)]);
        assert_eq!(found("rust "), [post(3, 1), post(1, 1)]);
        // A tag finds only the tagged post; the bare word finds it too.
        assert_eq!(found("#rust "), [post(1, 1)]);
        assert_eq!(found("FUN"), found("fun"));
        assert!(found("").is_empty());
        assert!(found("nothing here").is_empty());
        let limited = ix.search("fun", 2, &none, &all);
        assert_eq!((limited.posts.len(), limited.total), (2, 3));
    }

    #[test]
    fn deleted_forgotten_and_filtered_posts_are_not_found() {
        let mut ix = TextIndex::new();
        ix.add(post(1, 1), 10, "hello world");
        ix.add(post(2, 1), 20, "hello there");
        ix.add(post(3, 1), 30, "hello again");
        // Added twice (a re-read): indexed once.
        ix.add(post(3, 1), 30, "hello again");
        assert_eq!(ix.len(), 3);
        ix.remove(&post(1, 1));
        assert_eq!(
            ix.search("hello", 10, &none, &all).posts,
            [post(3, 1), post(2, 1)]
        );
        ix.remove_author(&AuthorId([2; 32]));
        assert_eq!(ix.search("hello", 10, &none, &all).posts, [post(3, 1)]);
        let not_three = |p: &EntryRef| p.author != AuthorId([3; 32]);
        assert!(ix.search("hello", 10, &none, &not_three).posts.is_empty());
    }

    #[test]
    fn a_handle_finds_mentions_and_the_posts_of_whoever_claims_it() {
        let mut ix = TextIndex::new();
        ix.add(post(1, 1), 10, "my first post");
        ix.add(post(2, 1), 20, "thanks @alice!");
        ix.add(post(3, 1), 30, "unrelated");
        let alice = |h: &str| {
            if h == "alice" {
                vec![AuthorId([1; 32])]
            } else {
                Vec::new()
            }
        };
        assert_eq!(
            ix.search("@alice ", 10, &alice, &all).posts,
            [post(2, 1), post(1, 1)]
        );
        assert_eq!(ix.search("@alice ", 10, &none, &all).posts, [post(2, 1)]);
    }
}
