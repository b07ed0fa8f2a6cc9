//! kith-web: the Kith app, a Yew front end with a libp2p node in the tab.
//!
//! How the parts cooperate:
//! - [`runtime`] is the one long-running task. It opens the IndexedDB store, holds the
//!   person's identity, runs kith-net's agent (connection, relay, live delivery, sync,
//!   serving followers), executes the person's [`runtime::Command`]s, and dispatches
//!   [`state::Action`]s. It is started once, by one effect in [`app`].
//! - kith-app's `Library` is the runtime's in-memory read model of the held feeds (kith-core
//!   `Feed`s and `Timeline`), from which it computes kith-app's view types (re-exported by
//!   [`state`]); kith-app's rules run and are tested natively.
//! - [`state`] holds the view state and its reducer: everything on screen is derived from
//!   [`state::Model`], which changes only through an action.
//! - [`components`] are plain: data and callbacks in, HTML out; those that act send commands
//!   through the [`runtime::Handle`] the app provides as a context.
//! - [`tabs`]: one node per browser profile. The tab holding a Web Lock runs the node; the
//!   profile's other tabs share its store, post through it, and take over when it closes.
//! - [`routes`] maps URL fragments to screens (follow links included); [`text`] splits post
//!   text into plain text and safe links; [`identicon`] draws people's keys; [`browser`] is
//!   the one module that talks to browser APIs outside the DOM.

pub mod app;
pub mod browser;
pub mod components;
pub mod handle;
pub mod identicon;
pub mod node;
pub use kith_app::route as routes;
pub mod runtime;
pub mod state;
pub mod tabs;
pub mod text;

/// Starts the app in the page: panic hook, browser logging, then the Yew renderer.
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        browser::show_fatal(&format!(
            "Kith stopped because of a bug: {info}. Your posts are safe in this browser; \
             reload the page to continue."
        ));
    }));
    init_tracing();
    yew::Renderer::<app::App>::new().render();
}

fn init_tracing() {
    use tracing_subscriber::prelude::*;
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .without_time()
        .with_writer(tracing_web::MakeWebConsoleWriter::new())
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
