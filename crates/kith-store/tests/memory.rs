//! The shared store suite against `MemoryStore`, natively.
#![cfg(not(target_arch = "wasm32"))]

use futures::executor::block_on;
use kith_store::{MemoryStore, suite};

macro_rules! suite {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            block_on(suite::$name::<MemoryStore>());
        }
    )*};
}

suite!(
    atomicity,
    below_head,
    paging,
    first_page,
    purge,
    frontier_and_forget,
    survives_reopen,
    settings,
    backup_round_trip,
    tampered_backup_refused,
    images,
    backup_keeps_own_pictures,
);

/// A store with a quota refuses a write that would go over it, whole, and keeps what it had;
/// forgetting a feed gives its space back.
#[test]
fn a_write_over_the_quota_is_refused_whole() {
    use kith_store::{Store, StoreError};
    let (a, b) = (suite::person(1), suite::person(2));
    let (fa, fb) = (
        suite::posts(&a, 10, suite::NOW),
        suite::posts(&b, 10, suite::NOW),
    );
    let one_feed: u64 = fa.entries().iter().map(|e| e.encode().len() as u64).sum();
    let s = MemoryStore::with_quota(one_feed + one_feed / 2);
    block_on(s.insert(fa.entries())).expect("within the quota");
    let over = block_on(s.insert(fb.entries()));
    assert_eq!(over, Err(StoreError::QuotaExceeded));
    assert!(
        block_on(s.range(&b.author(), 1, 100))
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        block_on(s.range(&a.author(), 1, 100)).expect("read").len(),
        10
    );
    block_on(s.forget(&a.author())).expect("forget");
    block_on(s.insert(fb.entries())).expect("room again");
}
