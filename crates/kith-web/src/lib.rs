//! kith-web: the Kith app, a Yew front end with a libp2p node in the tab.
//!
//! How the parts cooperate:
//! - [`state`] holds the view state and its reducer. Everything the screen shows is derived
//!   from [`state::Model`], and the only way it changes is an [`state::Action`].
//! - [`supervisor`] runs the node: it fetches `/bootstrap.json` from the page's own origin,
//!   dials kith-node, keeps the connection alive with backoff, and turns node events into
//!   actions. It is started once, by one effect in [`app`].
//! - [`components`] are plain: they take data and callbacks, and know nothing of the node.
//!
//! The node is reached only through `kith_net::Client` and its event stream.

pub mod app;
pub mod components;
pub mod state;
pub mod supervisor;

/// Starts the app in the page: panic hook, browser logging, then the Yew renderer.
pub fn start() {
    console_error_panic_hook::set_once();
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
    tracing_subscriber::registry().with(layer).init();
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
