//! The connection status card.

use yew::prelude::*;

use crate::state::{Conn, Model};

/// Props for [`StatusPanel`].
#[derive(Properties, PartialEq)]
pub struct StatusProps {
    /// The view state to show.
    pub model: Model,
    /// Called when the person asks to retry now instead of waiting.
    #[prop_or_default]
    pub on_retry: Callback<()>,
}

fn transport_label(t: kith_net::TransportKind) -> &'static str {
    match t {
        kith_net::TransportKind::WebRtcDirect => "WebRTC-direct",
        kith_net::TransportKind::WebSocket => "WebSocket",
        kith_net::TransportKind::Tcp => "TCP",
        kith_net::TransportKind::Relayed => "relay",
        kith_net::TransportKind::Other => "another transport",
    }
}

fn short(id: &str) -> String {
    if id.len() <= 16 {
        id.to_owned()
    } else {
        format!("{}…{}", &id[..8], &id[id.len() - 6..])
    }
}

/// Shows whether the tab reaches the network, how, and who it is connected to.
#[function_component(StatusPanel)]
pub fn status_panel(props: &StatusProps) -> Html {
    let m = &props.model;
    let (state, transport, headline, detail, connected_at) = match &m.conn {
        Conn::Connecting { attempt } => (
            "connecting",
            String::new(),
            "Connecting…".to_owned(),
            if *attempt > 1 {
                format!("Attempt {attempt}")
            } else {
                "Finding kith-node".to_owned()
            },
            String::new(),
        ),
        Conn::Connected {
            transport, at_ms, ..
        } => (
            "connected",
            transport.as_str().to_owned(),
            format!("Connected via {}", transport_label(*transport)),
            m.rtt_ms
                .map(|r| format!("Round trip {r:.1} ms"))
                .unwrap_or_else(|| "Measuring round trip…".into()),
            format!("{at_ms:.1}"),
        ),
        Conn::Disconnected {
            reason,
            retry_in_ms,
        } => (
            "disconnected",
            String::new(),
            "Disconnected".to_owned(),
            format!(
                "{reason}. Retrying in {:.1} s.",
                *retry_in_ms as f64 / 1000.0
            ),
            String::new(),
        ),
    };
    let dht = match &m.dht {
        None => "not joined yet".to_owned(),
        Some(Ok(())) => "joined".to_owned(),
        Some(Err(e)) => format!("failed: {e}"),
    };
    html! {
        <section id="status" class={classes!("card", "status", state)}
            data-state={state} data-transport={transport} data-connected-at-ms={connected_at}
            aria-live="polite">
            <div class="status-head">
                <span class="dot" aria-hidden="true"></span>
                <h2 id="status-headline">{ headline }</h2>
            </div>
            <p id="status-detail" class="detail">{ detail }</p>
            if state == "disconnected" {
                <button id="retry" class="button" type="button"
                    onclick={props.on_retry.reform(|_: MouseEvent| ())}>{ "Retry now" }</button>
            }
            <dl class="facts">
                <dt>{ "Your node" }</dt>
                <dd><code id="local-peer" title={m.local_peer.clone()}>{ short(&m.local_peer) }</code></dd>
                <dt>{ "Round trip" }</dt>
                <dd id="rtt">{ m.rtt_ms.map(|r| format!("{r:.1} ms")).unwrap_or_else(|| "—".into()) }</dd>
                <dt>{ "DHT" }</dt>
                <dd id="dht">{ dht }</dd>
                <dt>{ format!("Connected peers ({})", m.peers.len()) }</dt>
                <dd>
                    <ul id="peers" class="peers">
                        { for m.peers.iter().map(|(p, t)| html! {
                            <li><code title={p.clone()}>{ short(p) }</code>{ " · " }{ transport_label(*t) }</li>
                        }) }
                    </ul>
                </dd>
            </dl>
        </section>
    }
}
