//! Whom the person muted or blocked: one setting of this device ([`PEOPLE`]), carried in the
//! backup.
//!
//! Two readers share it through the store, so every tab and the network agent agree without
//! a message between them:
//! - the app hides muted and blocked people everywhere it shows people (timeline, threads,
//!   suggestions);
//! - the network agent refuses the sync requests of a device whose claim names a blocked
//!   person ([`People::is_blocked`]), reading the setting as each request comes.
//!
//! The list is bounded ([`MAX_PEOPLE`]), so the setting stays within
//! [`MAX_SETTING_VALUE`](crate::MAX_SETTING_VALUE) and a read is cheap.

use std::collections::{BTreeMap, BTreeSet};

use kith_core::AuthorId;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// The setting that holds the list.
pub const PEOPLE: &str = "people";

/// The most people one device mutes and blocks together.
pub const MAX_PEOPLE: usize = 1_000;

/// What the person chose for someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stance {
    /// Hidden on this device's screens; nothing else changes.
    Muted,
    /// Hidden, and not served this person's feed (their sync requests are refused).
    Blocked,
}

impl Stance {
    /// The word a screen uses.
    pub fn word(self) -> &'static str {
        match self {
            Stance::Muted => "muted",
            Stance::Blocked => "blocked",
        }
    }
}

/// Why a stance could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeopleError {
    /// The list is full.
    #[error(
        "you have muted or blocked {MAX_PEOPLE} people, the most this device keeps: unmute or unblock someone first"
    )]
    Full,
    /// The stored list is damaged.
    #[error("the list of muted and blocked people is damaged: {0}")]
    Damaged(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The people muted or blocked, at most [`MAX_PEOPLE`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct People(BTreeMap<AuthorId, Stance>);

impl People {
    /// Reads the setting's bytes.
    pub fn decode(bytes: &[u8]) -> Result<People, PeopleError> {
        let list: Vec<(AuthorId, Stance)> =
            postcard::from_bytes(bytes).map_err(|e| PeopleError::Damaged(e.to_string()))?;
        if list.len() > MAX_PEOPLE {
            return Err(PeopleError::Damaged(format!(
                "{} people, more than {MAX_PEOPLE}",
                list.len()
            )));
        }
        Ok(People(list.into_iter().collect()))
    }

    /// The setting's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let list: Vec<(AuthorId, Stance)> = self.0.iter().map(|(a, s)| (*a, *s)).collect();
        // A Vec of fixed-size pairs always encodes.
        postcard::to_allocvec(&list).unwrap_or_default()
    }

    /// What the person chose for `author`, if anything.
    pub fn stance(&self, author: &AuthorId) -> Option<Stance> {
        self.0.get(author).copied()
    }

    /// Whether `author` is blocked.
    pub fn is_blocked(&self, author: &AuthorId) -> bool {
        self.stance(author) == Some(Stance::Blocked)
    }

    /// Sets (or with `None` clears) the stance for `author`. A new person beyond
    /// [`MAX_PEOPLE`] is refused; changing or clearing a listed one always works.
    pub fn set(&mut self, author: AuthorId, stance: Option<Stance>) -> Result<(), PeopleError> {
        match stance {
            None => {
                self.0.remove(&author);
            }
            Some(s) => {
                if !self.0.contains_key(&author) && self.0.len() >= MAX_PEOPLE {
                    return Err(PeopleError::Full);
                }
                self.0.insert(author, s);
            }
        }
        Ok(())
    }

    /// Everyone hidden from the screens: the muted and the blocked.
    pub fn hidden(&self) -> BTreeSet<AuthorId> {
        self.0.keys().copied().collect()
    }

    /// Everyone listed, with their stance, in author order.
    pub fn iter(&self) -> impl Iterator<Item = (AuthorId, Stance)> + '_ {
        self.0.iter().map(|(a, s)| (*a, *s))
    }

    /// How many are listed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nobody is listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds what `other` lists (a restored backup) to this list: a stance already taken here
    /// stays, and people beyond [`MAX_PEOPLE`] are left out. Returns how many were added.
    pub fn merge(&mut self, other: &People) -> usize {
        let mut added = 0;
        for (a, s) in other.iter() {
            if self.0.contains_key(&a) || self.0.len() >= MAX_PEOPLE {
                continue;
            }
            self.0.insert(a, s);
            added += 1;
        }
        added
    }
}

/// Reads the list from `store` (empty if never written).
pub async fn read(store: &impl Store) -> Result<People, PeopleError> {
    match store.get_setting(PEOPLE).await? {
        Some(bytes) => People::decode(&bytes),
        None => Ok(People::default()),
    }
}

/// Writes the list to `store` (an empty list removes the setting).
pub async fn write(store: &impl Store, people: &People) -> Result<(), PeopleError> {
    if people.is_empty() {
        store.delete_setting(PEOPLE).await?;
    } else {
        store.put_setting(PEOPLE, &people.encode()).await?;
    }
    Ok(())
}

/// Sets `author`'s stance in the stored list (read, changed, written back) and returns the
/// list as written.
pub async fn set(
    store: &impl Store,
    author: AuthorId,
    stance: Option<Stance>,
) -> Result<People, PeopleError> {
    let mut people = read(store).await?;
    people.set(author, stance)?;
    write(store, &people).await?;
    Ok(people)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    fn author(i: u32) -> AuthorId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&i.to_be_bytes());
        AuthorId(b)
    }

    #[test]
    fn a_full_list_fits_one_setting_and_refuses_one_more() {
        let mut p = People::default();
        for i in 0..MAX_PEOPLE as u32 {
            let s = if i % 2 == 0 {
                Stance::Muted
            } else {
                Stance::Blocked
            };
            p.set(author(i), Some(s)).expect("room");
        }
        assert_eq!(
            p.set(author(u32::MAX), Some(Stance::Muted)),
            Err(PeopleError::Full)
        );
        // Changing or clearing a listed person still works when full.
        p.set(author(0), Some(Stance::Blocked)).expect("change");
        p.set(author(1), None).expect("clear");
        p.set(author(u32::MAX), Some(Stance::Muted))
            .expect("room again");
        let bytes = p.encode();
        assert!(
            bytes.len() <= crate::MAX_SETTING_VALUE,
            "{} bytes",
            bytes.len()
        );
        assert_eq!(People::decode(&bytes).expect("decodes"), p);
        assert!(p.is_blocked(&author(0)));
        assert!(!p.is_blocked(&author(2)));
        assert_eq!(p.hidden().len(), MAX_PEOPLE);
    }

    #[test]
    fn damaged_or_oversized_bytes_are_a_clear_error() {
        assert!(matches!(
            People::decode(&[0xff, 0xff, 0xff]),
            Err(PeopleError::Damaged(_))
        ));
        let list: Vec<(AuthorId, Stance)> = (0..MAX_PEOPLE as u32 + 1)
            .map(|i| (author(i), Stance::Muted))
            .collect();
        let bytes = postcard::to_allocvec(&list).expect("encodes");
        assert!(
            matches!(People::decode(&bytes), Err(PeopleError::Damaged(m)) if m.contains("more than"))
        );
    }

    #[test]
    fn merging_keeps_what_is_here_and_stays_bounded() {
        let mut here = People::default();
        here.set(author(1), Some(Stance::Muted)).expect("room");
        let mut file = People::default();
        file.set(author(1), Some(Stance::Blocked)).expect("room");
        file.set(author(2), Some(Stance::Blocked)).expect("room");
        assert_eq!(here.merge(&file), 1);
        assert_eq!(here.stance(&author(1)), Some(Stance::Muted));
        assert_eq!(here.stance(&author(2)), Some(Stance::Blocked));
        let mut full = People::default();
        for i in 0..MAX_PEOPLE as u32 {
            full.set(author(1000 + i), Some(Stance::Muted))
                .expect("room");
        }
        assert_eq!(full.merge(&file), 0);
        assert_eq!(full.len(), MAX_PEOPLE);
    }

    #[test]
    fn the_store_keeps_the_list_and_an_empty_list_removes_the_setting() {
        futures::executor::block_on(async {
            let store = MemoryStore::new();
            assert!(read(&store).await.expect("reads").is_empty());
            let p = set(&store, author(7), Some(Stance::Blocked))
                .await
                .expect("sets");
            assert!(p.is_blocked(&author(7)));
            assert!(read(&store).await.expect("reads").is_blocked(&author(7)));
            set(&store, author(7), None).await.expect("clears");
            assert_eq!(store.get_setting(PEOPLE).await.expect("reads"), None);
        });
    }
}
