//! The root component: owns the reducer, starts the node once, lays out the page.

use std::rc::Rc;

use futures::channel::mpsc;
use gloo_events::EventListener;
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
    // Cuts a reconnect wait short: the "Retry now" button and the browser's `online` event.
    let retry_now = use_state(|| None::<mpsc::Sender<()>>);

    {
        // The one effect that turns node events into actions.
        let dispatcher = model.dispatcher();
        let startup_error = startup_error.clone();
        let retry_now = retry_now.clone();
        let keypair = (*keypair).clone();
        use_effect_with((), move |()| {
            let (retry_tx, retry_rx) = mpsc::channel(1);
            match kith_net::new(keypair, Config::default()) {
                Ok((client, events, event_loop)) => {
                    kith_net::platform::spawn(event_loop.run());
                    let dispatch: supervisor::Dispatch =
                        Rc::new(move |a: Action| dispatcher.dispatch(a));
                    let only = supervisor::transport_from_url();
                    wasm_bindgen_futures::spawn_local(supervisor::run(
                        client, events, retry_rx, only, dispatch,
                    ));
                }
                Err(e) => startup_error.set(Some(e.to_string())),
            }
            let online = web_sys::window().map(|window| {
                let tx = retry_tx.clone();
                EventListener::new(&window, "online", move |_| {
                    let _ = tx.clone().try_send(());
                })
            });
            retry_now.set(Some(retry_tx));
            move || drop(online)
        });
    }
    let on_retry = Callback::from(move |()| {
        if let Some(tx) = &*retry_now {
            // A full queue means a retry is already on its way.
            let _ = tx.clone().try_send(());
        }
    });

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
                <StatusPanel model={(*model).clone()} on_retry={on_retry} />
            </main>
        </div>
    }
}
