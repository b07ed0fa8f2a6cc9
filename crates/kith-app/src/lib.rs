//! kith-app: the rules of the Kith app that do not depend on a browser or on libp2p, so they
//! run and are tested natively (and compile to wasm32 for the browser shell, kith-web).
//!
//! How the parts cooperate:
//! - [`Library`] is the read model of the feeds this device holds: each a kith-core
//!   [`Feed`](kith_core::Feed) (chain checked, deletes applied, forks caught) plus an index of
//!   reactions and the handles learnt. The shell fills it from the store at start and entry by
//!   entry as the network stores them, and asks it for what the screens show.
//! - [`view`] holds those owned view types ([`view::ThreadView`], [`view::ProfileView`], …):
//!   plain data that a UI renders as it is.
//! - The person's own entries are signed after the library's head of their own feed
//!   ([`Library::next_own_entry`], kith-core's one signing rule); the store has the last word
//!   (a different entry at the same seq is refused), so the shell re-reads and signs again.
//!
//! What is still in kith-web's runtime and moves here next: the commands and their
//! execution over any `Store` and a network seam (publish, follow live, sync, names, holders).

mod library;
pub mod view;

pub use library::Library;
