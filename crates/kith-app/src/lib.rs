//! kith-app: the Kith app without a browser or libp2p, so its rules run and are tested
//! natively and compile to wasm32 for the browser shell (kith-web).
//!
//! How the parts cooperate:
//! - [`App`] carries out the person's [`Command`]s over any kith-store [`Store`] and any
//!   [`Network`], and tells the UI what to show as [`Update`]s. The network reports back as
//!   [`News`] ([`App::on_news`]). Where it runs gives it an [`Env`]: where updates go, how to
//!   spawn a task, randomness, the origin of follow links. [`welcome`] is its side of the
//!   welcome screen, before there is an identity.
//! - [`Library`] is the read model of the feeds this device holds: each a kith-core
//!   [`Feed`](kith_core::Feed) (chain checked, deletes applied, forks caught) plus an index of
//!   reactions and the handles learnt. The app fills it from the store at start and entry by
//!   entry as the network stores them, and computes the screens from it.
//! - [`view`] holds those owned view types ([`view::ThreadView`], [`view::ProfileView`], the
//!   home timeline with its "new posts" cutoff, …): plain data a UI renders as it is.
//! - [`search`] is the full-text index of the posts held here, kept by the library as posts
//!   arrive and go; [`Command::SearchText`] asks it as the person types.
//! - Images: [`Command::Post`] and [`Command::UpdateProfile`] carry pictures the shell has
//!   prepared; the app checks them (kith-core's `ImageRef::of`), keeps them in the store
//!   before the entry is published, and [`Command::LoadImage`] brings an image's bytes as
//!   [`Update::Image`] (from the store, or fetched through [`Network::fetch_image`]).
//! - [`route`] names the screens and maps them to URL fragments (follow links included).
//! - [`network`] is the seam: kith-net's agent implements [`Network`] for the device that
//!   runs the node; kith-web's tab proxy implements it for the browser's other tabs.
//! - The person's own entries are signed after the stored head of their own feed
//!   ([`Library::next_own_entry`], kith-core's one signing rule); the store has the last word
//!   (a different entry at the same seq is refused), so the app re-reads and signs again.
//!
//! [`Store`]: kith_store::Store

mod app;
mod library;
pub mod messages;
pub mod network;
pub mod route;
pub mod search;
pub mod view;

pub use app::{
    APPEND_TRIES, App, Command, DEVICE_KEY, Env, MAX_PREVIEWS, MIN_PASSPHRASE, NET_SEARCH_TTL,
    OTHER_DEVICE, OWN_CHECK, PAGE, PREVIEWS, Persist, REACTIONS, Random, SEARCH_PAGE, Update,
    device_secret, now_ms, set_theme, stored_identity, stored_theme, welcome,
};
pub use library::Library;
pub use network::{NetFailure, NetResult, Network, News, PostHits, Source};
