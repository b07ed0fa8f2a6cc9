//! Connection status: a compact bar on every screen, and the details on the network screen.

use yew::prelude::*;

use super::avatar::Avatar;
use crate::state::{Conn, Model, Person};

/// How a transport is named on screen.
pub fn transport_label(t: kith_net::TransportKind) -> &'static str {
    match t {
        kith_net::TransportKind::WebRtcDirect => "WebRTC-direct",
        kith_net::TransportKind::WebSocket => "WebSocket",
        kith_net::TransportKind::Tcp => "TCP",
        kith_net::TransportKind::Relayed => "relayed via kith-node",
        kith_net::TransportKind::WebRtc => "direct (WebRTC)",
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

/// A sync under way, as the status bar shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncBar {
    /// Whose feed.
    pub name: String,
    /// Fetched.
    pub have: u64,
    /// Known missing.
    pub want: u64,
}

/// Props for [`StatusBar`].
#[derive(Properties, PartialEq)]
pub struct StatusBarProps {
    /// The connection.
    pub conn: Conn,
    /// How many peers are connected.
    pub peers: usize,
    /// How many of them directly (browser to browser), which works without kith-node.
    #[prop_or_default]
    pub direct: usize,
    /// The node runs in another tab of this browser profile.
    #[prop_or_default]
    pub via_tab: bool,
    /// Syncs under way.
    #[prop_or_default]
    pub syncing: Vec<SyncBar>,
    /// "Retry now".
    #[prop_or_default]
    pub on_retry: Callback<()>,
}

/// Always visible: connecting / connected via which transport / offline with retry, the
/// peer count, and sync progress.
#[function_component(StatusBar)]
pub fn status_bar(props: &StatusBarProps) -> Html {
    let friends = format!(
        "{} friend{} connected directly.",
        props.direct,
        if props.direct == 1 { "" } else { "s" }
    );
    let (state, transport, headline, detail, at) = match &props.conn {
        // Friends connected directly keep working while kith-node is being retried.
        Conn::Connecting { attempt } if props.direct > 0 => (
            "connecting",
            String::new(),
            "kith-node unreachable".to_owned(),
            format!("{friends} Reconnecting to kith-node (attempt {attempt})."),
            String::new(),
        ),
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
            if props.via_tab {
                "through another Kith tab of this browser".to_owned()
            } else {
                format!(
                    "{} peer{}",
                    props.peers,
                    if props.peers == 1 { "" } else { "s" }
                )
            },
            format!("{at_ms:.1}"),
        ),
        Conn::Disconnected {
            reason,
            retry_in_ms,
        } if props.direct > 0 => (
            "disconnected",
            String::new(),
            "kith-node unreachable".to_owned(),
            format!(
                "{friends} Retrying kith-node in {:.1} s.",
                *retry_in_ms as f64 / 1000.0
            ),
            String::new(),
        ),
        Conn::Disconnected {
            reason,
            retry_in_ms,
        } => (
            "disconnected",
            String::new(),
            "Offline".to_owned(),
            format!(
                "{reason}. Retrying in {:.1} s.",
                *retry_in_ms as f64 / 1000.0
            ),
            String::new(),
        ),
    };
    // The kith-node online through (it changes when one goes and another takes over).
    let node = match &props.conn {
        Conn::Connected { node, .. } => node.clone(),
        _ => String::new(),
    };
    html! {
        <section id="status" class={classes!("statusbar", state)} data-state={state}
            data-node={node} data-transport={transport} data-connected-at-ms={at} data-peers={props.peers.to_string()}
            data-direct={props.direct.to_string()}
            data-via-tab={props.via_tab.to_string()}
            aria-live="polite" aria-label="Network status">
            <span class="dot" aria-hidden="true"></span>
            <strong id="status-headline">{ headline }</strong>
            <span id="status-detail" class="detail">{ detail }</span>
            if state == "disconnected" {
                <button id="retry" class="button small" type="button"
                    onclick={props.on_retry.reform(|_: MouseEvent| ())}>{ "Retry now" }</button>
            }
            { for props.syncing.iter().map(|s| html! {
                <label class="sync">
                    <span>{ format!("Syncing {}: {} of {}", s.name, s.have, s.have + s.want) }</span>
                    <progress class="sync-progress" max={(s.have + s.want).max(1).to_string()}
                        value={s.have.to_string()}></progress>
                </label>
            }) }
        </section>
    }
}

/// Props for [`NetworkPanel`].
#[derive(Properties, PartialEq)]
pub struct NetworkProps {
    /// The view state.
    pub model: Model,
    /// Ask the DHT again who holds my feed.
    #[prop_or_default]
    pub on_find_holders: Callback<()>,
}

/// The network screen: this node, the round trip, peers, and who holds my posts.
#[function_component(NetworkPanel)]
pub fn network_panel(props: &NetworkProps) -> Html {
    let m = &props.model;
    let holders = match &m.holders {
        None => html! { <p class="muted">{ "Asking the DHT…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e }</p> },
        Some(Ok(list)) if list.is_empty() => html! {
            <p class="muted" id="holders-empty">{ "Nobody else announces your feed yet. Followers who have synced it will appear here." }</p>
        },
        Some(Ok(list)) => html! {
            <ul id="holders" class="people">
                { for list.iter().map(|p: &Person| {
                    let link = m.link_to(&p.author);
                    let label = match link {
                        Some(t @ (kith_net::TransportKind::WebRtc | kith_net::TransportKind::Relayed)) => {
                            format!("connected · {}", transport_label(t))
                        }
                        Some(_) => "connected".to_owned(),
                        None => "announced".to_owned(),
                    };
                    html! {
                        <li data-link={link.map(|t| t.as_str()).unwrap_or("none")}>
                            <Avatar author={p.author} size={28} />
                            <a href={crate::routes::Route::Profile(p.author).to_fragment()}>{ p.display_name() }</a>
                            <code class="fp">{ super::short_fp(&p.fingerprint) }</code>
                            <span class={classes!("badge", link.is_some().then_some("online"))}>{ label }</span>
                        </li>
                    }
                }) }
            </ul>
        },
    };
    html! {
        <section class="card" aria-labelledby="network-title">
            <h2 id="network-title">{ "Network" }</h2>
            <dl class="facts">
                <dt>{ "Your node" }</dt>
                <dd><code id="local-peer" title={m.local_peer.clone()}>{ short(&m.local_peer) }</code></dd>
                <dt>{ "Round trip to kith-node" }</dt>
                <dd id="rtt">{ m.rtt_ms.map(|r| format!("{r:.1} ms")).unwrap_or_else(|| "—".into()) }</dd>
                <dt>{ format!("Connected peers ({})", m.peers.len()) }</dt>
                <dd>
                    <ul id="peers" class="peers">
                        { for m.peers.iter().map(|(p, t)| {
                            let person = m.persons.get(p).copied();
                            let rtt = m.peer_rtt_ms.get(p).copied();
                            html! {
                                <li data-transport={t.as_str()} data-peer={p.clone()}
                                    data-rtt-ms={rtt.map(|r| format!("{r:.1}")).unwrap_or_default()}>
                                    if let Some(author) = person {
                                        <a href={crate::routes::Route::Profile(author).to_fragment()} title="Their profile">
                                            <Avatar author={author} size={20} />
                                        </a>{ " " }
                                    }
                                    <code title={p.clone()}>{ short(p) }</code>{ " · " }{ transport_label(*t) }
                                    if let Some(r) = rtt {
                                        { format!(" · {r:.1} ms") }
                                    }
                                </li>
                            }
                        }) }
                    </ul>
                </dd>
            </dl>
            <h3>{ "Who holds my posts" }</h3>
            <p class="muted">{ "Peers that announce your feed in the DHT: they serve your posts while you are offline." }</p>
            { holders }
            <button type="button" class="button secondary" id="find-holders"
                onclick={props.on_find_holders.reform(|_: MouseEvent| ())}>{ "Ask again" }</button>
        </section>
    }
}
