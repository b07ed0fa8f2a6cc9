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
    purge,
    frontier_and_forget,
    survives_reopen,
    settings,
    backup_round_trip,
    tampered_backup_refused,
);
