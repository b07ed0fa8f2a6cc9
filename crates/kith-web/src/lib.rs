//! kith-web: the Kith app, a Yew front end with a libp2p node in the tab.
//!
//! How the parts cooperate:
//! - kith-app's `App` holds the rules: it carries out the person's commands over the IndexedDB
//!   store and a network, and says what to show as `Update`s.
//! - [`runtime`] is the shell, started once by one effect in [`app`]: it opens the store,
//!   onboards, builds the `App`, turns its updates into [`state::Action`]s, and spawns the tab
//!   channel's reader and the network task. [`node`] starts this tab's libp2p node and
//!   kith-net's agent (the app's network) once the tab holds the node lock.
//! - [`tabs`]: one node per browser profile. The tab holding a Web Lock runs the node; the
//!   profile's other tabs share its store, reach the network through it ([`tabs::TabNetwork`])
//!   and take over when it closes.
//! - [`state`] holds the view state and its reducer: everything on screen is derived from
//!   [`state::Model`], which changes only through an action.
//! - [`components`] are plain: data and callbacks in, HTML out; those that act send commands
//!   through the [`handle::Handle`] the app provides as a context. Pictures: the composer and
//!   the profile editor prepare them with [`browser::prepare_image`]; the app's image bytes
//!   become object URLs in the runtime ([`state::UrlShelf`], at most 200), which the model
//!   lists by hash ([`state::Pictures`], given to components as a context) and
//!   `components::picture` shows, asking for each when it nears the viewport.
//! - [`routes`] (kith-app's) maps URL fragments to screens; [`text`] splits post text into
//!   plain text and safe links; [`identicon`] draws people's keys; [`browser`] is the one
//!   module that talks to browser APIs outside the DOM; [`log`] prints `tracing` events to
//!   the console.

pub mod app;
pub mod browser;
pub mod components;
pub mod handle;
pub mod identicon;
pub mod log;
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
    log::init();
    yew::Renderer::<app::App>::new().render();
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
