//! kith-core: the rules of Kith, with no I/O, no clock and no networking.
//!
//! Everything here is pure: inputs in, values or one exact error out. Time is always passed in
//! by the caller, so the same code runs natively, in the browser and in simulations.
//!
//! What lives here today:
//! - [`bootstrap`]: the `/bootstrap.json` document a kith-node serves and the app reads, with
//!   its limits and validation, so both sides agree on one shape.
//! - [`backoff`]: the reconnect schedule (exponential, capped, with caller-supplied jitter)
//!   used by the app when a node cannot be reached.
//!
//! What this crate will hold (see docs/ARCHITECTURE.md): identities and their fingerprints,
//! signed hash-chained feed entries, validation into `VerifiedEntry`, the timeline merge and
//! the sans-I/O sync state machine. Those build on the same principle: callers hand in bytes
//! and the current time, and get back verified values or a precise error.

pub mod backoff;
pub mod bootstrap;

pub use backoff::Backoff;
pub use bootstrap::{BootstrapDoc, BootstrapError};
