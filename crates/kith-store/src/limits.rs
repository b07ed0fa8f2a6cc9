//! How much of another person's feed this device keeps: a cap in entries and in bytes, kept
//! as two settings the person can change (Settings → Storage). Syncs stop a feed at its cap
//! and say so; live entries past it are not stored. The person's own feed has no cap.
//!
//! Kith's feeds are hash chains from their first entry, so a capped feed keeps its oldest
//! entries: what the cap protects against is a hostile or runaway feed filling the browser's
//! storage from one link.

use crate::{Store, StoreError};

/// The setting that holds the entry cap (decimal ASCII).
pub const MAX_ENTRIES_SETTING: &str = "feed-max-entries";
/// The setting that holds the byte cap (decimal ASCII, bytes).
pub const MAX_BYTES_SETTING: &str = "feed-max-bytes";
/// The entry cap unless the person sets another: years of a prolific poster's posts.
pub const DEFAULT_MAX_ENTRIES: u64 = 20_000;
/// The byte cap unless the person sets another: 32 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 32 * 1024 * 1024;
/// The smallest cap a person may set, in entries (a feed's profile and some posts).
pub const MIN_MAX_ENTRIES: u64 = 100;
/// The smallest cap a person may set, in bytes (1 MiB).
pub const MIN_MAX_BYTES: u64 = 1024 * 1024;

/// The cap on one feed held for someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLimits {
    /// The most entries (the last seq held).
    pub entries: u64,
    /// The most bytes (headers, signatures, payloads and images, as [`FeedMeta::bytes`](crate::FeedMeta) counts).
    pub bytes: u64,
}

impl Default for FeedLimits {
    fn default() -> Self {
        FeedLimits {
            entries: DEFAULT_MAX_ENTRIES,
            bytes: DEFAULT_MAX_BYTES,
        }
    }
}

fn parse(value: Option<Vec<u8>>, default: u64, min: u64) -> u64 {
    value
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(default, |n| n.max(min))
}

impl FeedLimits {
    /// The caps kept in `store`, the defaults where none is set (or a value is unreadable),
    /// never below the minimums.
    pub async fn read(store: &impl Store) -> Result<FeedLimits, StoreError> {
        let entries = store.get_setting(MAX_ENTRIES_SETTING).await?;
        let bytes = store.get_setting(MAX_BYTES_SETTING).await?;
        Ok(FeedLimits {
            entries: parse(entries, DEFAULT_MAX_ENTRIES, MIN_MAX_ENTRIES),
            bytes: parse(bytes, DEFAULT_MAX_BYTES, MIN_MAX_BYTES),
        })
    }

    /// Keeps these caps in `store` (raised to the minimums).
    pub async fn write(self, store: &impl Store) -> Result<FeedLimits, StoreError> {
        let kept = FeedLimits {
            entries: self.entries.max(MIN_MAX_ENTRIES),
            bytes: self.bytes.max(MIN_MAX_BYTES),
        };
        store
            .put_setting(MAX_ENTRIES_SETTING, kept.entries.to_string().as_bytes())
            .await?;
        store
            .put_setting(MAX_BYTES_SETTING, kept.bytes.to_string().as_bytes())
            .await?;
        Ok(kept)
    }

    /// Whether a feed held up to `seq` with `bytes` stays within the caps.
    pub fn admits(&self, seq: u64, bytes: u64) -> bool {
        seq <= self.entries && bytes <= self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[test]
    fn caps_default_round_trip_and_never_go_below_the_minimums() {
        futures::executor::block_on(async {
            let store = MemoryStore::new();
            assert_eq!(
                FeedLimits::read(&store).await.expect("read"),
                FeedLimits::default()
            );
            let set = FeedLimits {
                entries: 500,
                bytes: 8 * 1024 * 1024,
            };
            assert_eq!(set.write(&store).await.expect("write"), set);
            assert_eq!(FeedLimits::read(&store).await.expect("read"), set);
            let tiny = FeedLimits {
                entries: 1,
                bytes: 1,
            };
            let kept = tiny.write(&store).await.expect("write");
            assert_eq!((kept.entries, kept.bytes), (MIN_MAX_ENTRIES, MIN_MAX_BYTES));
            store
                .put_setting(MAX_ENTRIES_SETTING, b"lots")
                .await
                .expect("put");
            assert_eq!(
                FeedLimits::read(&store).await.expect("read").entries,
                DEFAULT_MAX_ENTRIES,
                "an unreadable value falls back to the default"
            );
            assert!(set.admits(500, 8 * 1024 * 1024));
            assert!(!set.admits(501, 0));
            assert!(!set.admits(1, 8 * 1024 * 1024 + 1));
        });
    }
}
