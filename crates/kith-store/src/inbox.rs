//! Notifications kept on this device: the inbox (entries of others that concern the person)
//! and the outbox (the person's own entries still to be delivered to the people they concern).
//!
//! Both live in settings, so they need nothing from a backend but what every backend has:
//! - the inbox is an index ([`INBOX`], newest first, at most [`MAX_INBOX`]) and one setting
//!   per notification holding the entry's bytes (`inbox/<hash>`); when the inbox is full, the
//!   oldest notification of someone not followed goes (among the oldest 64; the oldest of all
//!   if every one of those is from someone followed), so a flood from throwaway identities
//!   cannot push out what people one follows said. An entry is stored here only after kith-net verified it and
//!   [`kith_core::notify::concerns`] said it concerns the person, so it is read back with
//!   [`kith_core::reload`] (no second signature check);
//! - what has been read is a second setting ([`INBOX_READ`]), the time up to which the person
//!   saw the list, so a tab marking the list read never rewrites the list the network agent is
//!   adding to;
//! - the outbox ([`OUTBOX`], at most [`MAX_OUTBOX`]) names each entry by its seq in the
//!   person's own feed, which holds the bytes.
//!
//! The agent of the tab running the node is the only writer of the inbox and the outbox.

use kith_core::{AuthorId, Hash, NoteKind, VerifiedEntry};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// The setting that indexes the inbox.
pub const INBOX: &str = "inbox";
/// The setting that says up to when the inbox was read (ms since the epoch, 8 bytes).
pub const INBOX_READ: &str = "inbox-read";
/// The setting that holds the outbox.
pub const OUTBOX: &str = "outbox";
/// The most notifications kept; the oldest goes first.
pub const MAX_INBOX: usize = 500;
/// The most deliveries waiting; past that the oldest is given up.
pub const MAX_OUTBOX: usize = 200;

/// Why the inbox or the outbox could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxError {
    /// The stored bytes are damaged.
    #[error("the stored notifications are damaged: {0}")]
    Damaged(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One notification received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The entry's hash (its setting's name).
    pub hash: Hash,
    /// Who wrote it.
    pub author: AuthorId,
    /// Its seq in its author's feed.
    pub seq: u64,
    /// Why it concerns the person.
    pub kind: NoteKind,
    /// When it arrived here (ms since the epoch).
    pub received_ms: u64,
}

/// The inbox's index, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    /// The notifications, newest first, at most [`MAX_INBOX`].
    pub notes: Vec<Note>,
}

fn entry_key(hash: &Hash) -> String {
    format!("inbox/{}", hash.to_hex())
}

fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8]) -> Result<T, InboxError> {
    postcard::from_bytes(bytes).map_err(|e| InboxError::Damaged(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of fixed-size fields and vectors always encode.
    postcard::to_allocvec(value).unwrap_or_default()
}

/// A notification's entry, with the sender's latest profile when it came with one (so a
/// person not followed is shown by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The entry.
    pub entry: VerifiedEntry,
    /// Its author's profile entry, verified by the receiver.
    pub profile: Option<VerifiedEntry>,
}

/// What [`receive`] did with an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Kept: a new notification.
    New(Note),
    /// Already in the inbox.
    Duplicate,
}

impl Inbox {
    /// Reads the index (empty if never written).
    pub async fn read(store: &impl Store) -> Result<Inbox, InboxError> {
        let inbox: Inbox = match store.get_setting(INBOX).await? {
            Some(bytes) => decode(&bytes)?,
            None => Inbox::default(),
        };
        if inbox.notes.len() > MAX_INBOX {
            return Err(InboxError::Damaged(format!(
                "{} notifications, more than {MAX_INBOX}",
                inbox.notes.len()
            )));
        }
        Ok(inbox)
    }

    /// The entry of `note` and the sender's profile that came with it, as stored; `None` if
    /// it is gone (a notification dropped by another writer between reads).
    pub async fn entry(store: &impl Store, note: &Note) -> Result<Option<Kept>, InboxError> {
        let Some(bytes) = store.get_setting(&entry_key(&note.hash)).await? else {
            return Ok(None);
        };
        let (entry, profile): (Vec<u8>, Option<Vec<u8>>) = decode(&bytes)?;
        let reload =
            |b: &[u8]| kith_core::reload(b).map_err(|e| InboxError::Damaged(e.to_string()));
        Ok(Some(Kept {
            entry: reload(&entry)?,
            profile: profile.as_deref().map(reload).transpose()?,
        }))
    }

    /// How many notifications arrived after `read_ms`.
    pub fn unread(&self, read_ms: u64) -> usize {
        self.notes
            .iter()
            .filter(|n| n.received_ms > read_ms)
            .count()
    }
}

/// Keeps `entry`, verified and found to concern the person as `kind`, as a notification
/// received at `now_ms`, with its author's `profile` entry if one came (verified too). When
/// the inbox is full, the oldest notification of someone not followed goes.
pub async fn receive(
    store: &impl Store,
    entry: &VerifiedEntry,
    profile: Option<&VerifiedEntry>,
    kind: NoteKind,
    now_ms: u64,
) -> Result<Received, InboxError> {
    // A damaged index is started afresh: otherwise no notification could ever be kept again
    // (the entries it named stay as settings nothing reads).
    let mut inbox = match Inbox::read(store).await {
        Ok(i) => i,
        Err(InboxError::Damaged(_)) => Inbox::default(),
        Err(e) => return Err(e),
    };
    let hash = entry.hash();
    if inbox.notes.iter().any(|n| n.hash == hash) {
        return Ok(Received::Duplicate);
    }
    // The entry first: an index never names bytes that are not there.
    let kept = (entry.encode(), profile.map(VerifiedEntry::encode));
    store.put_setting(&entry_key(&hash), &encode(&kept)).await?;
    let note = Note {
        hash,
        author: entry.author(),
        seq: entry.seq(),
        kind,
        received_ms: now_ms,
    };
    inbox.notes.insert(0, note.clone());
    let mut dropped = Vec::new();
    while inbox.notes.len() > MAX_INBOX {
        // Full: the oldest note of someone not followed goes first, so a flood from throwaway
        // identities pushes out its own kind, not what people one follows said.
        // (Among the oldest 64 only: a store read each, at most.)
        let mut victim = inbox.notes.len() - 1;
        for i in (0..inbox.notes.len()).rev().take(64) {
            let followed =
                matches!(store.feed(&inbox.notes[i].author).await, Ok(Some(m)) if m.followed);
            if !followed {
                victim = i;
                break;
            }
        }
        dropped.push(inbox.notes.remove(victim));
    }
    store.put_setting(INBOX, &encode(&inbox)).await?;
    for old in dropped {
        store.delete_setting(&entry_key(&old.hash)).await?;
    }
    Ok(Received::New(note))
}

/// Up to when the person has read the inbox (0 if never).
pub async fn read_up_to(store: &impl Store) -> Result<u64, InboxError> {
    match store.get_setting(INBOX_READ).await? {
        Some(bytes) => {
            let b: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| InboxError::Damaged(format!("{} bytes of read time", bytes.len())))?;
            Ok(u64::from_be_bytes(b))
        }
        None => Ok(0),
    }
}

/// Notes that the person has read every notification received up to `ms`.
pub async fn mark_read(store: &impl Store, ms: u64) -> Result<(), InboxError> {
    if read_up_to(store).await? < ms {
        store.put_setting(INBOX_READ, &ms.to_be_bytes()).await?;
    }
    Ok(())
}

/// One of the person's entries still to be delivered to someone it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Whom it concerns.
    pub to: AuthorId,
    /// The entry's seq in the person's own feed.
    pub seq: u64,
    /// Why it concerns them.
    pub kind: NoteKind,
    /// Delivery attempts so far.
    pub tries: u32,
    /// When to try next (ms since the epoch).
    pub next_ms: u64,
    /// When it was written (ms since the epoch): it is given up after [`OUTBOX_DAYS`].
    pub since_ms: u64,
}

/// How many days a delivery is tried before it is given up.
pub const OUTBOX_DAYS: u64 = 7;

/// The outbox, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    /// The deliveries waiting, oldest first, at most [`MAX_OUTBOX`].
    pub items: Vec<Outgoing>,
    /// The person's own entries up to this seq were put in the outbox (`None` until the
    /// agent first ran, when it starts from the feed's head): entries made while offline, or
    /// in a tab without the node, are found from here when the agent is next online.
    pub scanned: Option<u64>,
}

impl Outbox {
    /// Reads the outbox (empty if never written).
    pub async fn read(store: &impl Store) -> Result<Outbox, InboxError> {
        let outbox: Outbox = match store.get_setting(OUTBOX).await? {
            Some(bytes) => decode(&bytes)?,
            None => Outbox::default(),
        };
        if outbox.items.len() > MAX_OUTBOX {
            return Err(InboxError::Damaged(format!(
                "{} deliveries, more than {MAX_OUTBOX}",
                outbox.items.len()
            )));
        }
        Ok(outbox)
    }

    /// Writes the outbox.
    pub async fn write(&self, store: &impl Store) -> Result<(), InboxError> {
        store.put_setting(OUTBOX, &encode(self)).await?;
        Ok(())
    }

    /// Adds a delivery of `entry` to each person it concerns, due now. Past [`MAX_OUTBOX`]
    /// the oldest deliveries are given up; returns how many.
    pub fn add(&mut self, entry: &VerifiedEntry, now_ms: u64) -> usize {
        // Contiguous with what was scanned: the scan mark moves on (a gap is left to the
        // agent's catch-up, which reads the entries between).
        if self.scanned.is_some_and(|s| s + 1 == entry.seq()) {
            self.scanned = Some(entry.seq());
        }
        for (to, kind) in kith_core::notify::addressees(entry) {
            if self
                .items
                .iter()
                .any(|i| i.to == to && i.seq == entry.seq())
            {
                continue;
            }
            self.items.push(Outgoing {
                to,
                seq: entry.seq(),
                kind,
                tries: 0,
                next_ms: now_ms,
                since_ms: now_ms,
            });
        }
        let over = self.items.len().saturating_sub(MAX_OUTBOX);
        self.items.drain(..over);
        over
    }

    /// Gives up deliveries older than [`OUTBOX_DAYS`]; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let before = self.items.len();
        let limit = OUTBOX_DAYS * 24 * 3600 * 1000;
        self.items
            .retain(|i| now_ms.saturating_sub(i.since_ms) < limit);
        before - self.items.len()
    }

    /// The people with a delivery due at `now_ms`, each once, oldest delivery first.
    pub fn due(&self, now_ms: u64) -> Vec<AuthorId> {
        let mut out: Vec<AuthorId> = Vec::new();
        for i in self.items.iter().filter(|i| i.next_ms <= now_ms) {
            if !out.contains(&i.to) {
                out.push(i.to);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use kith_core::{Feed, Hash, Identity, Payload};

    fn replies(n: usize) -> (AuthorId, Vec<VerifiedEntry>) {
        let (alice, carol) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([2; 32]),
        );
        let mut a = Feed::new(alice.author());
        let target = a
            .append(&alice, &Payload::post("hello"), 1_000)
            .expect("append")
            .entry_ref();
        let mut c = Feed::new(carol.author());
        let entries = (0..n)
            .map(|i| {
                c.append(
                    &carol,
                    &Payload::Post {
                        text: format!("reply {i}"),
                        reply_to: Some(target),
                        mentions: vec![alice.author()],
                        images: Vec::new(),
                    },
                    2_000 + i as u64,
                )
                .expect("append")
                .clone()
            })
            .collect();
        (alice.author(), entries)
    }

    #[test]
    fn the_inbox_keeps_the_newest_once_each_and_drops_the_oldest_bytes_too() {
        futures::executor::block_on(async {
            let store = MemoryStore::new();
            let (_, entries) = replies(MAX_INBOX + 2);
            for (i, e) in entries.iter().enumerate() {
                let r = receive(&store, e, None, NoteKind::Reply, 10 + i as u64)
                    .await
                    .expect("kept");
                assert!(matches!(r, Received::New(_)));
            }
            assert_eq!(
                receive(
                    &store,
                    &entries[MAX_INBOX + 1],
                    None,
                    NoteKind::Reply,
                    99_999
                )
                .await
                .expect("read"),
                Received::Duplicate
            );
            let inbox = Inbox::read(&store).await.expect("reads");
            assert_eq!(inbox.notes.len(), MAX_INBOX);
            assert_eq!(inbox.notes[0].seq, (MAX_INBOX + 2) as u64);
            let newest = Inbox::entry(&store, &inbox.notes[0])
                .await
                .expect("reads")
                .expect("kept");
            assert_eq!(Some(&newest.entry), entries.last());
            assert_eq!(newest.profile, None);
            // The two oldest are gone, bytes and all.
            for old in &entries[..2] {
                assert_eq!(
                    store
                        .get_setting(&entry_key(&old.hash()))
                        .await
                        .expect("reads"),
                    None
                );
            }
            // The full index fits one setting.
            let bytes = store.get_setting(INBOX).await.expect("reads").expect("set");
            assert!(bytes.len() <= crate::MAX_SETTING_VALUE, "{}", bytes.len());
            // Read marks.
            assert_eq!(inbox.unread(0), MAX_INBOX);
            mark_read(&store, 10 + MAX_INBOX as u64)
                .await
                .expect("marks");
            assert_eq!(inbox.unread(read_up_to(&store).await.expect("reads")), 1);
            // A mark never goes back.
            mark_read(&store, 5).await.expect("marks");
            assert_eq!(
                read_up_to(&store).await.expect("reads"),
                10 + MAX_INBOX as u64
            );
        });
    }

    #[test]
    fn a_full_inbox_drops_notes_of_people_not_followed_first() {
        futures::executor::block_on(async {
            let store = MemoryStore::new();
            let friend = Identity::from_secret([7; 32]);
            let mut feed = Feed::new(friend.author());
            let mut append = |p: Payload, t| feed.append(&friend, &p, t).expect("append").clone();
            let first = append(Payload::post("my friend's first"), 1);
            // The friend is followed here: their feed is held, marked followed.
            store
                .insert(std::slice::from_ref(&first))
                .await
                .expect("insert");
            store
                .update_meta(&friend.author(), &|m| m.followed = true)
                .await
                .expect("meta");
            let (alice, _) = replies(0);
            let target = kith_core::EntryRef {
                author: alice,
                seq: 1,
                hash: Hash([1; 32]),
            };
            let from_friend = append(
                Payload::Reaction {
                    target,
                    emoji: "🎉".into(),
                },
                2,
            );
            receive(&store, &from_friend, None, NoteKind::Reaction, 1)
                .await
                .expect("kept");
            // A flood of strangers' replies fills the inbox and goes on.
            let (_, flood) = replies(MAX_INBOX + 10);
            for (i, e) in flood.iter().enumerate() {
                receive(&store, e, None, NoteKind::Reply, 2 + i as u64)
                    .await
                    .expect("kept");
            }
            let inbox = Inbox::read(&store).await.expect("reads");
            assert_eq!(inbox.notes.len(), MAX_INBOX);
            assert!(
                inbox.notes.iter().any(|n| n.author == friend.author()),
                "the friend's note, the oldest of all, stays"
            );
        });
    }

    #[test]
    fn damaged_notifications_are_a_clear_error() {
        futures::executor::block_on(async {
            let store = MemoryStore::new();
            store.put_setting(INBOX, &[0xff; 3]).await.expect("writes");
            assert!(matches!(
                Inbox::read(&store).await,
                Err(InboxError::Damaged(_))
            ));
            // The next notification starts a fresh index.
            let (_, entries) = replies(1);
            assert!(matches!(
                receive(&store, &entries[0], None, NoteKind::Reply, 1).await,
                Ok(Received::New(_))
            ));
            assert_eq!(Inbox::read(&store).await.expect("reads").notes.len(), 1);
            store
                .put_setting(INBOX_READ, &[1, 2])
                .await
                .expect("writes");
            assert!(matches!(
                read_up_to(&store).await,
                Err(InboxError::Damaged(_))
            ));
            store.put_setting(OUTBOX, &[0xff; 3]).await.expect("writes");
            assert!(matches!(
                Outbox::read(&store).await,
                Err(InboxError::Damaged(_))
            ));
        });
    }

    #[test]
    fn the_outbox_names_each_person_once_is_bounded_and_expires() {
        futures::executor::block_on(async {
            let (alice, entries) = replies(MAX_OUTBOX + 5);
            let mut out = Outbox::default();
            assert_eq!(out.add(&entries[0], 100), 0);
            // The same entry twice is one delivery.
            assert_eq!(out.add(&entries[0], 100), 0);
            assert_eq!(out.items.len(), 1);
            assert_eq!(out.items[0].kind, NoteKind::Reply);
            let mut dropped = 0;
            for e in &entries[1..] {
                dropped += out.add(e, 200);
            }
            assert_eq!(dropped, 5);
            assert_eq!(out.items.len(), MAX_OUTBOX);
            assert_eq!(out.due(150), Vec::<AuthorId>::new());
            assert_eq!(out.due(200), vec![alice]);
            let store = MemoryStore::new();
            out.write(&store).await.expect("writes");
            assert_eq!(Outbox::read(&store).await.expect("reads"), out);
            let week = OUTBOX_DAYS * 24 * 3600 * 1000;
            assert_eq!(out.expire(200 + week), MAX_OUTBOX);
            assert!(out.items.is_empty());
            // The scan mark moves only with contiguous entries.
            let mut marked = Outbox {
                scanned: Some(1),
                ..Outbox::default()
            };
            marked.add(&entries[1], 300);
            assert_eq!(marked.scanned, Some(2));
            marked.add(&entries[3], 300);
            assert_eq!(marked.scanned, Some(2), "seq 3 is left to the catch-up");
        });
    }
}
