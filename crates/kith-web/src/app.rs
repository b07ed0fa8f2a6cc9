//! The root component: owns the reducer, starts the node once, lays out the page.

use std::rc::Rc;

use kith_net::{Config, Keypair};
use yew::prelude::*;

use crate::components::status::StatusPanel;
use crate::state::{Action, Model};
use crate::supervisor;

/// The app.
#[function_component(App)]
pub fn app() -> Html {
    // The tab's network identity. It lives as long as the tab for now; the person's own
    // identity, kept in IndexedDB, arrives with kith-store.
    let keypair = use_memo((), |()| Keypair::generate_ed25519());
    let model = {
        let peer = keypair.public().to_peer_id().to_string();
        use_reducer(move || Model::new(peer))
    };
    let startup_error = use_state(|| None::<String>);

    {
        // The one effect that turns node events into actions.
        let dispatcher = model.dispatcher();
        let startup_error = startup_error.clone();
        let keypair = (*keypair).clone();
        use_effect_with((), move |()| {
            match kith_net::new(keypair, Config::default()) {
                Ok((client, events, event_loop)) => {
                    kith_net::platform::spawn(event_loop.run());
                    let dispatch: supervisor::Dispatch =
                        Rc::new(move |a: Action| dispatcher.dispatch(a));
                    let only = supervisor::transport_from_url();
                    wasm_bindgen_futures::spawn_local(supervisor::run(
                        client, events, only, dispatch,
                    ));
                }
                Err(e) => startup_error.set(Some(e.to_string())),
            }
        });
    }

    html! {
        <div class="app">
            <header class="topbar">
                <h1 class="brand">{ "Kith" }</h1>
                <p class="tagline">{ "Your posts live in your browser. Your friends keep copies." }</p>
            </header>
            <main>
                if let Some(err) = &*startup_error {
                    <div class="error" role="alert">
                        { format!("The network could not start in this browser: {err}") }
                    </div>
                }
                <StatusPanel model={(*model).clone()} />
            </main>
        </div>
    }
}
