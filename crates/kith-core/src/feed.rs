//! A feed: one author's append-only, hash-chained log of verified entries.
//!
//! A [`Feed`] holds entries 1..=head contiguously. [`Feed::append`] signs the author's next
//! entry; [`Feed::insert`] takes a replica's next entry from the network. A second, different
//! entry at a position already held is a fork: it is returned as self-proving
//! [`ForkEvidence`] and the feed is marked, never silently merged. A delete entry purges its
//! target's payload; the header stays, so the chain still verifies.

use std::collections::BTreeSet;

use crate::entry::{Header, Payload, RawEntry, sign_entry};
use crate::hash::Hash;
use crate::identity::{AuthorId, Identity};
use crate::validate::{EntryError, Expect, Prev, VerifiedEntry, validate, validate_detached};

/// Two validly signed entries by the same author at the same position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForkEvidence {
    /// The author who signed both.
    pub author: AuthorId,
    /// The position.
    pub seq: u64,
    /// One entry's header and signature (payload dropped).
    pub first: RawEntry,
    /// The other's.
    pub second: RawEntry,
}

impl ForkEvidence {
    /// The evidence that `a` and `b` (same author and seq, different hashes) both exist.
    pub fn pair(a: &VerifiedEntry, b: &VerifiedEntry) -> Self {
        let strip = |e: &VerifiedEntry| RawEntry {
            payload: None,
            ..e.raw().clone()
        };
        ForkEvidence {
            author: a.author(),
            seq: a.seq(),
            first: strip(a),
            second: strip(b),
        }
    }

    /// Checks the evidence on its own: both signed by `author`, both at `seq`, different.
    pub fn verify(&self, now_ms: u64) -> bool {
        let check = |raw: &RawEntry| validate_detached(&raw.encode(), now_ms).ok();
        match (check(&self.first), check(&self.second)) {
            (Some(a), Some(b)) => {
                a.author() == self.author
                    && b.author() == self.author
                    && a.seq() == self.seq
                    && b.seq() == self.seq
                    && a.hash() != b.hash()
            }
            _ => false,
        }
    }
}

/// Signs `identity`'s entry that follows `head` (`None`: the first entry) and validates it:
/// seq `head + 1`, the head's hash as `prev`, and the timestamp `now_ms`, or the head's if the
/// clock went backwards. A payload over the limits is refused here, before anything is stored.
pub fn next_entry(
    identity: &Identity,
    head: Option<Prev>,
    payload: &Payload,
    now_ms: u64,
) -> Result<VerifiedEntry, FeedError> {
    let ts = now_ms.max(head.map_or(0, |p| p.timestamp_ms));
    let raw = sign_entry(
        identity,
        head.map_or(1, |p| p.seq + 1),
        head.map(|p| p.hash),
        ts,
        payload,
    );
    let expect = Expect {
        author: identity.author(),
        prev: head,
    };
    Ok(validate(&raw.encode(), &expect, now_ms)?)
}

/// What [`Feed::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The entry extended the feed.
    Appended,
    /// The feed already held this exact entry.
    Duplicate,
    /// The feed held the header only; the payload was filled in.
    PayloadFilled,
}

/// Why an entry could not join a feed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The entry itself is invalid.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The entry is further ahead than the next position.
    #[error("entry {got} leaves a gap: the feed needs {next} first")]
    Gap {
        /// The next position the feed needs.
        next: u64,
        /// The entry's position.
        got: u64,
    },
    /// A different entry at a position already held.
    #[error("the author signed two different entries at seq {}", .0.seq)]
    Fork(Box<ForkEvidence>),
    /// [`Feed::append`] with someone else's identity.
    #[error("this feed belongs to another author")]
    NotYourFeed,
    /// An entry before the first one a window holds ([`Feed::window`]).
    #[error("entry {got} is before this window of the feed, which starts at {start}")]
    BeforeWindow {
        /// The window's first seq.
        start: u64,
        /// The entry's position.
        got: u64,
    },
}

/// One author's feed: the whole of it from seq 1, or a window of its latest entries after a
/// trusted entry ([`Feed::window`], what a store that already checked the chain hands over
/// to show a first page quickly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    author: AuthorId,
    /// For a window: the entry before the first one held.
    base: Option<Prev>,
    entries: Vec<VerifiedEntry>,
    deleted: BTreeSet<u64>,
    fork: Option<Box<ForkEvidence>>,
}

impl Feed {
    /// An empty feed of `author`.
    pub fn new(author: AuthorId) -> Feed {
        Feed {
            author,
            base: None,
            entries: Vec::new(),
            deleted: BTreeSet::new(),
            fork: None,
        }
    }

    /// An empty window of `author`'s feed that continues after `base` (an entry whose place in
    /// the chain was checked before, by the store that held it). Entries before it are not
    /// held: deletes of them, earlier profiles and follows are not seen, and an entry before
    /// the window is refused ([`FeedError::BeforeWindow`]).
    pub fn window(author: AuthorId, base: Prev) -> Feed {
        Feed {
            base: Some(base),
            ..Feed::new(author)
        }
    }

    /// Whether the feed is held from its first entry (not a window).
    pub fn is_whole(&self) -> bool {
        self.base.is_none()
    }

    /// The first seq held (or that would be).
    fn start(&self) -> u64 {
        self.base.map_or(1, |b| b.seq.saturating_add(1))
    }

    /// The index of `seq` in `entries`, if held.
    fn index(&self, seq: u64) -> Option<usize> {
        let i = usize::try_from(seq.checked_sub(self.start())?).ok()?;
        (i < self.entries.len()).then_some(i)
    }

    /// The author.
    pub fn author(&self) -> AuthorId {
        self.author
    }
    /// The latest seq held (0 when empty).
    pub fn head_seq(&self) -> u64 {
        (self.start() - 1).saturating_add(self.entries.len() as u64)
    }
    /// What the next entry is validated against.
    pub fn head(&self) -> Option<Prev> {
        self.entries
            .last()
            .map(VerifiedEntry::as_prev)
            .or(self.base)
    }
    /// What the next entry of this feed must satisfy.
    pub fn expect(&self) -> Expect {
        Expect {
            author: self.author,
            prev: self.head(),
        }
    }
    /// The entry at `seq`.
    pub fn get(&self, seq: u64) -> Option<&VerifiedEntry> {
        self.entries.get(self.index(seq)?)
    }
    /// Entries from `from` (1-based), at most `limit` (of a window, from its first).
    pub fn range(&self, from: u64, limit: usize) -> &[VerifiedEntry] {
        let start = usize::try_from(from.saturating_sub(self.start()))
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        let end = start.saturating_add(limit).min(self.entries.len());
        &self.entries[start..end]
    }
    /// Every entry, oldest first.
    pub fn entries(&self) -> &[VerifiedEntry] {
        &self.entries
    }
    /// Whether the entry at `seq` was deleted by its author.
    pub fn is_deleted(&self, seq: u64) -> bool {
        self.deleted.contains(&seq)
    }
    /// The deletes that removed the payloads of `entries` (of this feed): what a sync answer
    /// carries beside entries served without their payload.
    pub fn deletes_of(&self, entries: &[VerifiedEntry]) -> Vec<VerifiedEntry> {
        let wanted: Vec<crate::EntryRef> = entries
            .iter()
            .filter(|e| e.payload().is_none() && self.is_deleted(e.seq()))
            .map(VerifiedEntry::entry_ref)
            .collect();
        let Some(first) = wanted.iter().map(|r| r.seq).min() else {
            return Vec::new();
        };
        self.range(first.saturating_add(1), usize::MAX)
            .iter()
            .filter(|d| {
                matches!(d.payload(), Some(Payload::Delete { target }) if wanted.contains(target))
            })
            .cloned()
            .collect()
    }
    /// The fork evidence, if the author was caught signing two histories.
    pub fn fork(&self) -> Option<&ForkEvidence> {
        self.fork.as_deref()
    }

    /// Signs the author's next entry after this feed's head without adding it: the one
    /// signing rule, used by [`Feed::append`] and by an app that stores the entry before it
    /// holds it. See [`next_entry`].
    pub fn next_entry(
        &self,
        identity: &Identity,
        payload: &Payload,
        now_ms: u64,
    ) -> Result<VerifiedEntry, FeedError> {
        if identity.author() != self.author {
            return Err(FeedError::NotYourFeed);
        }
        next_entry(identity, self.head(), payload, now_ms)
    }

    /// Signs and appends the author's next entry. The timestamp is `now_ms`, or the previous
    /// entry's if the clock went backwards.
    pub fn append(
        &mut self,
        identity: &Identity,
        payload: &Payload,
        now_ms: u64,
    ) -> Result<&VerifiedEntry, FeedError> {
        let entry = self.next_entry(identity, payload, now_ms)?;
        Ok(self.push(entry))
    }

    /// Takes a replica's entry: the next one, one already held, or a fork.
    pub fn insert(&mut self, bytes: &[u8], now_ms: u64) -> Result<Inserted, FeedError> {
        self.insert_verified(validate_detached(bytes, now_ms)?)
    }

    /// [`Feed::insert`] for an entry whose signature and payload were already verified (by
    /// [`validate_detached`] or a sync session); only its place in the chain is checked.
    pub fn insert_verified(&mut self, entry: VerifiedEntry) -> Result<Inserted, FeedError> {
        if entry.author() != self.author {
            return Err(EntryError::WrongAuthor {
                expected: self.author,
                found: entry.author(),
            }
            .into());
        }
        let next = self.head_seq() + 1;
        if entry.seq() == next {
            entry.check_chain(&self.expect())?;
            self.push(entry);
            return Ok(Inserted::Appended);
        }
        if entry.seq() > next {
            return Err(FeedError::Gap {
                next,
                got: entry.seq(),
            });
        }
        let seq = entry.seq();
        if seq < self.start() {
            return Err(FeedError::BeforeWindow {
                start: self.start(),
                got: seq,
            });
        }
        let Some(held) = self.get(seq) else {
            return Err(FeedError::Gap { next, got: seq });
        };
        if held.hash() != entry.hash() {
            let evidence = Box::new(ForkEvidence::pair(held, &entry));
            self.fork.get_or_insert_with(|| evidence.clone());
            return Err(FeedError::Fork(evidence));
        }
        if held.payload().is_none() && entry.payload().is_some() && !self.is_deleted(seq) {
            if let Some(slot) = self.index(seq).and_then(|i| self.entries.get_mut(i)) {
                *slot = entry;
            }
            return Ok(Inserted::PayloadFilled);
        }
        Ok(Inserted::Duplicate)
    }

    fn push(&mut self, entry: VerifiedEntry) -> &VerifiedEntry {
        if let Some(Payload::Delete { target }) = entry.payload() {
            let target = *target;
            // A delete of seq 0 (validation lets it through: it is below the delete's own
            // seq) targets nothing, nor does one of an entry before a window.
            if let Some(victim) = self
                .index(target.seq)
                .and_then(|i| self.entries.get_mut(i))
                .filter(|v| v.hash() == target.hash)
            {
                victim.purge_payload();
                self.deleted.insert(target.seq);
            }
        }
        self.entries.push(entry);
        &self.entries[self.entries.len() - 1]
    }

    /// Whom the author follows, derived from follow and unfollow entries in order.
    pub fn follows(&self) -> BTreeSet<AuthorId> {
        let mut set = BTreeSet::new();
        for e in &self.entries {
            match e.payload() {
                Some(Payload::Follow { author }) => {
                    set.insert(*author);
                }
                Some(Payload::Unfollow { author }) => {
                    set.remove(author);
                }
                _ => {}
            }
        }
        set
    }

    /// The latest profile entry's payload.
    pub fn profile(&self) -> Option<&Payload> {
        self.entries
            .iter()
            .rev()
            .filter_map(VerifiedEntry::payload)
            .find(|p| matches!(p, Payload::Profile { .. }))
    }

    /// The entry of the latest profile held, if any.
    pub fn profile_entry(&self) -> Option<&VerifiedEntry> {
        self.entries
            .iter()
            .rev()
            .find(|e| matches!(e.payload(), Some(Payload::Profile { .. })))
    }

    /// The header of the entry at `seq`.
    pub fn header(&self, seq: u64) -> Option<&Header> {
        self.get(seq).map(VerifiedEntry::header)
    }

    /// The hash of the entry at `seq`.
    pub fn hash_at(&self, seq: u64) -> Option<Hash> {
        self.get(seq).map(VerifiedEntry::hash)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::testutil::{NOW, id};

    #[test]
    fn a_window_holds_the_latest_entries_after_a_trusted_one() {
        let me = id(1);
        let mut whole = Feed::new(me.author());
        for i in 0..6 {
            whole
                .append(&me, &Payload::post(format!("{i}")), NOW + i)
                .expect("append");
        }
        let base = whole.get(3).expect("3").as_prev();
        let mut w = Feed::window(me.author(), base);
        assert!(!w.is_whole() && whole.is_whole());
        assert_eq!((w.head_seq(), w.head()), (3, Some(base)));
        for e in whole.range(4, 10) {
            assert_eq!(w.insert_verified(e.clone()), Ok(Inserted::Appended));
        }
        assert_eq!(w.head_seq(), 6);
        assert_eq!(w.get(5), whole.get(5));
        assert_eq!(w.get(3), None);
        assert_eq!(w.range(1, 10), whole.range(4, 10));
        assert_eq!(w.range(5, 1), whole.range(5, 1));
        assert_eq!(
            w.insert_verified(whole.get(2).expect("2").clone()),
            Err(FeedError::BeforeWindow { start: 4, got: 2 })
        );
        assert_eq!(
            w.insert_verified(whole.get(5).expect("5").clone()),
            Ok(Inserted::Duplicate)
        );
        // A delete inside the window purges; one of an entry before it targets nothing.
        let early = whole.get(2).expect("2").entry_ref();
        let inside = whole.get(5).expect("5").entry_ref();
        for target in [early, inside] {
            let e = whole
                .append(&me, &Payload::Delete { target }, NOW + 10)
                .expect("delete")
                .clone();
            assert_eq!(w.insert_verified(e), Ok(Inserted::Appended));
        }
        assert!(w.is_deleted(5) && !w.is_deleted(2));
        assert!(w.get(5).expect("5").payload().is_none());
        // The window signs on like the whole feed.
        let next = w
            .next_entry(&me, &Payload::post("more"), NOW + 20)
            .expect("next");
        assert_eq!(next.seq(), 9);
        assert_eq!(whole.insert_verified(next), Ok(Inserted::Appended));
    }

    #[test]
    fn append_chains_and_replicas_take_the_same_bytes() {
        let me = id(1);
        let mut mine = Feed::new(me.author());
        for i in 0..5 {
            mine.append(&me, &Payload::post(format!("post {i}")), NOW + i)
                .expect("append");
        }
        assert_eq!(mine.head_seq(), 5);
        let mut replica = Feed::new(me.author());
        for e in mine.entries() {
            assert_eq!(replica.insert(&e.encode(), NOW), Ok(Inserted::Appended));
        }
        assert_eq!(replica, mine);
        assert_eq!(
            replica.insert(&mine.entries()[2].encode(), NOW),
            Ok(Inserted::Duplicate)
        );
        assert_eq!(mine.range(2, 2).len(), 2);
        assert_eq!(mine.range(5, 10).len(), 1);
        assert!(mine.range(9, 10).is_empty());
    }

    #[test]
    fn clock_going_backwards_keeps_the_previous_timestamp() {
        let me = id(1);
        let mut f = Feed::new(me.author());
        f.append(&me, &Payload::post("a"), NOW).expect("a");
        let b = f.append(&me, &Payload::post("b"), NOW - 5_000).expect("b");
        assert_eq!(b.header().timestamp_ms, NOW);
    }

    #[test]
    fn gaps_wrong_feeds_and_foreign_identities_are_refused() {
        let me = id(1);
        let mut mine = Feed::new(me.author());
        for i in 0..3 {
            mine.append(&me, &Payload::post(format!("{i}")), NOW)
                .expect("append");
        }
        let mut replica = Feed::new(me.author());
        assert_eq!(
            replica.insert(&mine.entries()[2].encode(), NOW),
            Err(FeedError::Gap { next: 1, got: 3 })
        );
        let mut other = Feed::new(id(2).author());
        assert!(matches!(
            other.insert(&mine.entries()[0].encode(), NOW),
            Err(FeedError::Entry(EntryError::WrongAuthor { .. }))
        ));
        assert_eq!(
            other.append(&me, &Payload::post("x"), NOW).err(),
            Some(FeedError::NotYourFeed)
        );
    }

    #[test]
    fn a_fork_is_detected_with_evidence_and_marked() {
        let me = id(1);
        let mut honest = Feed::new(me.author());
        let mut evil = Feed::new(me.author());
        honest.append(&me, &Payload::post("one"), NOW).expect("a");
        evil.append(&me, &Payload::post("one"), NOW).expect("a");
        honest.append(&me, &Payload::post("two"), NOW).expect("b");
        evil.append(&me, &Payload::post("TWO"), NOW).expect("b'");
        let mut replica = honest.clone();
        let Err(FeedError::Fork(evidence)) = replica.insert(&evil.entries()[1].encode(), NOW)
        else {
            panic!("fork not detected");
        };
        assert_eq!(evidence.seq, 2);
        assert!(evidence.verify(NOW));
        assert_eq!(replica.fork(), Some(&*evidence));
        // The replica's own history is untouched.
        assert_eq!(replica.entries(), honest.entries());
        // Evidence with two copies of the same entry proves nothing.
        let bogus = ForkEvidence {
            second: evidence.first.clone(),
            ..(*evidence).clone()
        };
        assert!(!bogus.verify(NOW));
    }

    #[test]
    fn a_delete_of_seq_zero_deletes_nothing_and_panics_nowhere() {
        let me = id(1);
        let mut mine = Feed::new(me.author());
        mine.append(&me, &Payload::post("keep"), NOW).expect("1");
        let target = crate::EntryRef {
            author: me.author(),
            seq: 0,
            hash: Hash([0; 32]),
        };
        mine.append(&me, &Payload::Delete { target }, NOW)
            .expect("a delete of nothing is still an entry");
        let mut replica = Feed::new(me.author());
        for e in mine.entries() {
            replica.insert(&e.encode(), NOW).expect("replicate");
        }
        for f in [&mine, &replica] {
            assert_eq!(
                f.get(1).expect("kept").payload(),
                Some(&Payload::post("keep"))
            );
            assert!(!f.is_deleted(0) && !f.is_deleted(1));
        }
    }

    #[test]
    fn delete_purges_the_payload_everywhere_and_the_chain_still_verifies() {
        let me = id(1);
        let mut mine = Feed::new(me.author());
        mine.append(&me, &Payload::post("keep"), NOW).expect("1");
        let target = mine
            .append(&me, &Payload::post("oops"), NOW)
            .expect("2")
            .entry_ref();
        let mut replica = Feed::new(me.author());
        for e in mine.entries() {
            replica.insert(&e.encode(), NOW).expect("replicate");
        }
        mine.append(&me, &Payload::Delete { target }, NOW)
            .expect("delete");
        replica
            .insert(&mine.entries()[2].encode(), NOW)
            .expect("replicate delete");
        for f in [&mine, &replica] {
            assert!(f.is_deleted(2));
            assert_eq!(f.get(2).expect("header kept").payload(), None);
            assert_eq!(
                f.get(1).expect("kept").payload(),
                Some(&Payload::post("keep"))
            );
        }
        // A fresh replica syncing the purged feed verifies the whole chain.
        let mut fresh = Feed::new(me.author());
        for e in mine.entries() {
            fresh
                .insert(&e.encode(), NOW)
                .expect("header-only entries chain");
        }
        // Someone offering the deleted payload again does not bring it back.
        let original = sign_entry(&me, 2, mine.hash_at(1), NOW, &Payload::post("oops"));
        assert_eq!(
            fresh.insert(&original.encode(), NOW),
            Ok(Inserted::Duplicate)
        );
        assert_eq!(fresh.get(2).expect("kept").payload(), None);
    }

    #[test]
    fn a_missing_payload_is_filled_from_a_later_copy() {
        let me = id(1);
        let mut mine = Feed::new(me.author());
        mine.append(&me, &Payload::post("hi"), NOW).expect("1");
        let mut header_only = mine.entries()[0].clone();
        header_only.purge_payload();
        let mut replica = Feed::new(me.author());
        replica
            .insert(&header_only.encode(), NOW)
            .expect("header only");
        assert_eq!(
            replica.insert(&mine.entries()[0].encode(), NOW),
            Ok(Inserted::PayloadFilled)
        );
        assert_eq!(
            replica.get(1).expect("e").payload(),
            Some(&Payload::post("hi"))
        );
    }

    #[test]
    fn follow_state_is_derived_from_entries() {
        let me = id(1);
        let (a, b) = (id(2).author(), id(3).author());
        let mut f = Feed::new(me.author());
        for p in [
            Payload::Follow { author: a },
            Payload::Follow { author: b },
            Payload::Unfollow { author: a },
            Payload::Profile {
                name: "Me".into(),
                bio: "hi".into(),
                avatar: None,
            },
        ] {
            f.append(&me, &p, NOW).expect("append");
        }
        assert_eq!(f.follows(), BTreeSet::from([b]));
        assert!(matches!(f.profile(), Some(Payload::Profile { name, .. }) if name == "Me"));
        assert_eq!(f.header(1).map(|h| h.seq), Some(1));
    }
}
