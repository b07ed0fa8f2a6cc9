//! Components rendered into a real DOM in headless Chromium.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use kith_net::{PeerId, TransportKind};
use kith_web::components::status::{StatusPanel, StatusProps};
use kith_web::state::{Action, Conn, Model};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use yew::Reducible;

wasm_bindgen_test_configure!(run_in_browser);

fn mount(model: Model, on_retry: yew::Callback<()>) -> web_sys::Element {
    let document = gloo_utils_document();
    let root = document.create_element("div").expect("div");
    document
        .body()
        .expect("body")
        .append_child(&root)
        .expect("append");
    yew::Renderer::<StatusPanel>::with_root_and_props(
        root.clone(),
        StatusProps { model, on_retry },
    )
    .render();
    root
}

fn gloo_utils_document() -> web_sys::Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("document")
}

async fn settle() {
    gloo_timers::future::sleep(Duration::from_millis(20)).await;
}

fn text(root: &web_sys::Element, selector: &str) -> String {
    root.query_selector(selector)
        .expect("selector")
        .unwrap_or_else(|| panic!("{selector} not rendered"))
        .text_content()
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn connected_status_shows_transport_round_trip_and_peers() {
    let node = PeerId::random();
    let model = std::rc::Rc::new(Model::new(PeerId::random().to_string()))
        .reduce(Action::Connected {
            node: node.to_string(),
            transport: TransportKind::WebRtcDirect,
            at_ms: 42.0,
        })
        .reduce(Action::Net(kith_net::Event::Ping {
            peer: node,
            rtt: Duration::from_millis(2),
        }));
    let root = mount((*model).clone(), yew::Callback::noop());
    settle().await;
    assert!(
        root.query_selector("#retry").expect("q").is_none(),
        "no retry button while connected"
    );
    settle().await;
    let status = root.query_selector("#status").expect("q").expect("#status");
    assert_eq!(
        status.get_attribute("data-state").as_deref(),
        Some("connected")
    );
    assert_eq!(
        status.get_attribute("data-transport").as_deref(),
        Some("webrtc-direct")
    );
    assert_eq!(
        text(&root, "#status-headline"),
        "Connected via WebRTC-direct"
    );
    assert_eq!(text(&root, "#rtt"), "2.0 ms");
    assert_eq!(
        root.query_selector_all("#peers li").expect("li").length(),
        1
    );
}

#[wasm_bindgen_test]
async fn disconnected_status_says_why_and_when_it_retries() {
    let mut model = Model::new(PeerId::random().to_string());
    model.conn = Conn::Disconnected {
        reason: "kith-node is unreachable".into(),
        retry_in_ms: 2500,
    };
    let clicks = std::rc::Rc::new(std::cell::Cell::new(0));
    let counter = clicks.clone();
    let root = mount(
        model,
        yew::Callback::from(move |()| counter.set(counter.get() + 1)),
    );
    settle().await;
    assert_eq!(text(&root, "#status-headline"), "Disconnected");
    let button: web_sys::HtmlElement = root
        .query_selector("#retry")
        .expect("q")
        .expect("a Retry now button")
        .dyn_into()
        .expect("an HTML element");
    button.click();
    assert_eq!(clicks.get(), 1);
    assert_eq!(
        text(&root, "#status-detail"),
        "kith-node is unreachable. Retrying in 2.5 s."
    );
    assert_eq!(text(&root, "#rtt"), "—");
}
