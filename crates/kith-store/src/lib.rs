//! kith-store: where a person's Kith data lives.
//!
//! The [`Store`] trait is the one interface the rest of Kith uses to keep data. Its futures do
//! not need `Send`, so a browser backend built on IndexedDB (whose handles are `!Send`) fits
//! the same trait as a native one. Callers hold a store and `await` its methods; they never
//! learn which backend is behind it.
//!
//! Backends:
//! - [`MemoryStore`]: in memory, for native code and tests.
//! - The IndexedDB store (browser only) arrives with the feed data model.
//!
//! What the store holds today is the settings table (small named values such as the theme or
//! the last node the app reached). It will hold the identity, the person's own feed, the
//! replicated feeds of followed authors, payloads kept apart from headers so deletes can purge
//! them, and per-feed metadata; one shared test suite will run against every backend.

use std::cell::RefCell;
use std::collections::BTreeMap;

/// The longest setting name accepted, in bytes.
pub const MAX_SETTING_KEY: usize = 128;
/// The largest setting value accepted, in bytes.
pub const MAX_SETTING_VALUE: usize = 64 * 1024;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The key is empty or longer than [`MAX_SETTING_KEY`].
    #[error("setting name must be 1 to {MAX_SETTING_KEY} bytes, got {0}")]
    BadKey(usize),
    /// The value is larger than [`MAX_SETTING_VALUE`].
    #[error("setting value is {0} bytes, more than the {MAX_SETTING_VALUE} allowed")]
    ValueTooLarge(usize),
    /// The backend failed; the message says what it reported.
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// The interface every backend implements. Futures are not `Send` (IndexedDB is not).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Reads a setting, `None` if it was never written.
    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a setting, replacing any earlier value.
    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes a setting; removing a missing one is not an error.
    async fn delete_setting(&self, key: &str) -> Result<(), StoreError>;
}

/// Checks a setting's key and value against the limits every backend enforces.
pub fn check_setting(key: &str, value: &[u8]) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_SETTING_KEY {
        return Err(StoreError::BadKey(key.len()));
    }
    if value.len() > MAX_SETTING_VALUE {
        return Err(StoreError::ValueTooLarge(value.len()));
    }
    Ok(())
}

/// A store that keeps everything in memory; gone when dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    settings: RefCell<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_setting(key, &[])?;
        Ok(self.settings.borrow().get(key).cloned())
    }

    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_setting(key, value)?;
        self.settings
            .borrow_mut()
            .insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    async fn delete_setting(&self, key: &str) -> Result<(), StoreError> {
        check_setting(key, &[])?;
        self.settings.borrow_mut().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn settings_round_trip_replace_and_delete() {
        block_on(async {
            let s = MemoryStore::new();
            assert_eq!(s.get_setting("theme").await, Ok(None));
            s.put_setting("theme", b"dark").await.expect("put");
            s.put_setting("theme", b"light").await.expect("replace");
            assert_eq!(s.get_setting("theme").await, Ok(Some(b"light".to_vec())));
            s.delete_setting("theme").await.expect("delete");
            s.delete_setting("theme")
                .await
                .expect("delete twice is fine");
            assert_eq!(s.get_setting("theme").await, Ok(None));
        });
    }

    #[test]
    fn limits_refuse_and_keep_old_value() {
        block_on(async {
            let s = MemoryStore::new();
            s.put_setting("k", b"v").await.expect("put");
            let big = vec![0u8; MAX_SETTING_VALUE + 1];
            assert_eq!(
                s.put_setting("k", &big).await,
                Err(StoreError::ValueTooLarge(MAX_SETTING_VALUE + 1))
            );
            assert_eq!(s.get_setting("k").await, Ok(Some(b"v".to_vec())));
            assert_eq!(s.get_setting("").await, Err(StoreError::BadKey(0)));
            let long = "x".repeat(MAX_SETTING_KEY + 1);
            assert!(matches!(
                s.put_setting(&long, b"").await,
                Err(StoreError::BadKey(_))
            ));
        });
    }
}
