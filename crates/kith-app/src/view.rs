//! The owned view types the screens show, computed from the [`Library`](crate::Library) and
//! the store. Plain data: no UI framework, no network types.

use kith_core::{AuthorId, Cursor, EntryRef, Hash, ImageRef};

/// Where the check for posts made on another device stands (after a restore, posting waits
/// until the person's own feed was synced from the network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnCheck {
    /// Asking the network for the person's feed.
    Checking,
    /// Nobody holding it answered.
    Unreachable,
}

/// Someone, as the screens show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their key.
    pub author: AuthorId,
    /// Display name from their latest profile entry (empty if none is held).
    pub name: String,
    /// Their bio.
    pub bio: String,
    /// `xxxx-xxxx-xxxx-xxxx-xxxx`: what tells two people with one name apart.
    pub fingerprint: String,
    /// A handle, when one is known (claimed in the DHT).
    pub handle: Option<String>,
    /// Their avatar, when their latest profile held here names one.
    pub avatar: Option<ImageView>,
}

/// An image a post or a profile names, as the screens show it: a placeholder of its shape
/// until its bytes are here ([`Command::LoadImage`](crate::Command::LoadImage), then
/// [`Update::Image`](crate::Update::Image)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageView {
    /// The entry that names it.
    pub author: AuthorId,
    /// Its seq.
    pub seq: u64,
    /// Which of its images.
    pub index: u8,
    /// What the entry says of it.
    pub image: ImageRef,
}

impl ImageView {
    /// The image's hash: what its bytes are found and cached by.
    pub fn hash(&self) -> Hash {
        self.image.hash
    }

    /// The images `entry` names, in order.
    pub fn of(entry: &kith_core::VerifiedEntry) -> Vec<ImageView> {
        entry
            .payload()
            .map(kith_core::Payload::images)
            .unwrap_or_default()
            .into_iter()
            .zip(0u8..)
            .map(|(image, index)| ImageView {
                author: entry.author(),
                seq: entry.seq(),
                index,
                image,
            })
            .collect()
    }
}

impl Person {
    /// The name to show: the display name, or a neutral label with the fingerprint's start.
    pub fn display_name(&self) -> String {
        if self.name.trim().is_empty() {
            format!(
                "Kith user {}",
                &self.fingerprint[..4.min(self.fingerprint.len())]
            )
        } else {
            self.name.clone()
        }
    }
}

/// One post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostView {
    /// Which entry it is.
    pub id: EntryRef,
    /// Who wrote it.
    pub author: Person,
    /// When, by the author's clock (ms since the epoch).
    pub ts_ms: u64,
    /// The text, shown as text.
    pub text: String,
    /// Its images, in order.
    pub images: Vec<ImageView>,
    /// The post it answers, if any.
    pub reply_to: Option<EntryRef>,
    /// Reactions: emoji, how many, whether one of them is mine.
    pub reactions: Vec<(String, usize, bool)>,
    /// Whether I wrote it (so I may delete it).
    pub mine: bool,
    /// Whether its author is someone I do not follow (a reply that reached me as a
    /// notification): a thread marks it, with a Follow button.
    pub unfollowed: bool,
}

impl PostView {
    /// The timeline order key of this post.
    pub fn key(&self) -> Cursor {
        Cursor {
            timestamp_ms: self.ts_ms,
            author: self.id.author,
            seq: self.id.seq,
        }
    }
}

/// A post and the replies under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadView {
    /// The post.
    pub post: PostView,
    /// Replies, oldest first, each with its own replies.
    pub replies: Vec<ThreadView>,
}

/// The home timeline as computed, and the newest post on screen: posts newer than it wait
/// behind the "N new posts" pill, so the timeline does not move under the reader. The first
/// timeline (or the first after an empty one) is shown whole; [`HomeFeed::show_new`] (the
/// pill, or the person's own post) moves the cutoff to the newest post.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HomeFeed {
    /// Every thread computed, newest first, including those behind the pill.
    pub threads: Vec<ThreadView>,
    /// Whether older posts exist beyond `threads`.
    pub more: bool,
    /// The newest post shown.
    pub cutoff: Option<Cursor>,
}

impl HomeFeed {
    /// A newly computed timeline.
    pub fn update(&mut self, threads: Vec<ThreadView>, more: bool) {
        let first = self.cutoff.is_none();
        self.threads = threads;
        self.more = more;
        if first {
            self.cutoff = self.newest();
        }
    }

    /// Shows everything (the pill was pressed, or I posted).
    pub fn show_new(&mut self) {
        if let Some(newest) = self.newest() {
            self.cutoff = Some(newest);
        }
    }

    /// The threads on screen: those not newer than the cutoff.
    pub fn shown(&self) -> impl Iterator<Item = &ThreadView> {
        let cutoff = self.cutoff;
        self.threads
            .iter()
            .filter(move |t| cutoff.is_none_or(|c| t.post.key() <= c))
    }

    /// How many new top-level posts wait behind the pill.
    pub fn waiting(&self) -> usize {
        match self.cutoff {
            None => 0,
            Some(c) => self.threads.iter().filter(|t| t.post.key() > c).count(),
        }
    }

    fn newest(&self) -> Option<Cursor> {
        self.threads.iter().map(|t| t.post.key()).max()
    }
}

/// Someone's profile screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileView {
    /// Who.
    pub person: Person,
    /// Whether it is me.
    pub is_me: bool,
    /// Whether I follow them.
    pub followed: bool,
    /// Whether any of their feed is held here.
    pub held: bool,
    /// Their posts, newest first.
    pub posts: Vec<ThreadView>,
    /// Who they follow.
    pub follows: Vec<Person>,
    /// When their feed was last brought up to date here (ms since the epoch).
    pub last_synced_ms: Option<u64>,
    /// Who it was last synced from, when that was not the author.
    pub synced_from: Option<String>,
    /// Whether the author was caught signing two different entries at one position.
    pub forked: bool,
    /// Whether I muted or blocked them.
    pub stance: Option<kith_store::Stance>,
}

/// Me, once an identity exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    /// My profile.
    pub person: Person,
    /// My follow link, as a web address that opens this app on my profile.
    pub web_link: String,
    /// My follow link, as a `kith://follow/…` URI.
    pub uri: String,
}

/// A handle search.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Search {
    /// Nothing searched yet.
    #[default]
    Idle,
    /// Looking up this handle.
    Searching(String),
    /// What the DHT returned for a handle.
    Done {
        /// The handle searched.
        handle: String,
        /// Every claimant, verified.
        hits: Vec<Person>,
    },
    /// The search failed.
    Failed(String),
}

/// A search of the posts other people's devices hold (across the network).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetSearch {
    /// Nothing asked.
    #[default]
    Idle,
    /// Asking the peers for these words.
    Searching(String),
    /// What came back: each post once, verified, newest first, with whose device it came
    /// through when known.
    Done {
        /// The words.
        query: String,
        /// The posts, and who passed each on.
        posts: Vec<(PostView, Option<Person>)>,
    },
    /// The search could not be made.
    Failed(String),
}

/// A search of the posts held here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextSearch {
    /// What was searched, as typed.
    pub query: String,
    /// The posts found, newest first (each alone, without replies).
    pub posts: Vec<ThreadView>,
    /// How many matched in all (more than shown when over the page).
    pub total: usize,
}

/// One feed's storage use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUsage {
    /// Whose.
    pub person: Person,
    /// Entries held.
    pub entries: u64,
    /// Bytes held.
    pub bytes: u64,
    /// Followed?
    pub followed: bool,
}

/// The light/dark setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    /// Follow the system.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// Parses a stored name; anything unknown is `System`.
    pub fn parse(s: &str) -> Theme {
        match s {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::System,
        }
    }
}

/// One notification, as the Notifications screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteView {
    /// What happened.
    pub kind: kith_core::NoteKind,
    /// Who did it.
    pub who: Person,
    /// Whether I follow them.
    pub followed: bool,
    /// The post itself, for a reply or a mention.
    pub post: Option<PostView>,
    /// My entry it is about (the post replied or reacted to), when held here.
    pub about: Option<EntryRef>,
    /// The start of that post's text, when held here.
    pub about_text: Option<String>,
    /// The emoji of a reaction.
    pub emoji: Option<String>,
    /// When it arrived here (ms since the epoch).
    pub received_ms: u64,
    /// Whether it arrived after the list was last read.
    pub unread: bool,
}

/// The Notifications screen: newest first, and how many are unread (the navigation shows it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notifications {
    /// The notifications, newest first (muted and blocked people left out).
    pub items: Vec<NoteView>,
    /// How many arrived since the list was last read.
    pub unread: usize,
}
