//! Keeps the tab's node connected to kith-node, and reports everything as [`Action`]s.
//!
//! One task, three phases: *connecting* (fetch `/bootstrap.json` from the page's origin, dial
//! every address it lists, first one up wins), *up* (until the node's last connection
//! closes), and *waiting* (a backoff delay before the next try). Node events are read in every
//! phase, so the bounded event queue never backs up into the swarm.

use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::LocalBoxFuture;
use futures::{FutureExt, StreamExt};
use kith_core::{Backoff, BootstrapDoc};
use kith_net::{Client, Connected, Event, PeerId, TransportKind};

use crate::state::Action;

/// What the page asked for in its URL: `?transport=websocket` or `?transport=webrtc-direct`
/// restricts the dial to one transport (for testing and for networks that block one).
pub fn transport_from_url() -> Option<TransportKind> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    match params.get("transport")?.as_str() {
        "websocket" => Some(TransportKind::WebSocket),
        "webrtc-direct" => Some(TransportKind::WebRtcDirect),
        _ => None,
    }
}

/// `performance.now()`: milliseconds since the page started loading.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_default()
}

enum Step {
    Up(Connected),
    Failed(String),
    Retry,
    /// Time to check that the node still answers pings.
    Check,
}

/// How long the node may go without answering a ping before the connection is given up.
/// Pings run every 5 s; a WebRTC link to a vanished node can otherwise stay "open" for long.
pub const LIVENESS_TIMEOUT_MS: f64 = 12_000.0;
/// How often liveness is checked while connected.
const LIVENESS_CHECK: Duration = Duration::from_secs(2);

fn check_later() -> LocalBoxFuture<'static, Step> {
    gloo_timers::future::sleep(LIVENESS_CHECK)
        .map(|()| Step::Check)
        .boxed_local()
}

async fn fetch_bootstrap() -> Result<BootstrapDoc, String> {
    let resp = gloo_net::http::Request::get("/bootstrap.json")
        .send()
        .await
        .map_err(|e| format!("kith-node is unreachable ({e})"))?;
    if !resp.ok() {
        return Err(format!("kith-node answered HTTP {}", resp.status()));
    }
    let bytes = resp
        .binary()
        .await
        .map_err(|e| format!("reading bootstrap.json failed: {e}"))?;
    BootstrapDoc::parse(&bytes).map_err(|e| e.to_string())
}

async fn attempt(client: Client, only: Option<TransportKind>) -> Step {
    let doc = match fetch_bootstrap().await {
        Ok(doc) => doc,
        Err(e) => return Step::Failed(e),
    };
    let (peer, addrs) = match kith_net::dial_plan(&doc, only) {
        Ok(plan) => plan,
        Err(e) => return Step::Failed(e.to_string()),
    };
    match client.dial(peer, addrs).await {
        Ok(c) => Step::Up(c),
        Err(e) => Step::Failed(e.to_string()),
    }
}

/// Schedules the next attempt after `backoff`'s next delay, and says so.
fn wait(
    backoff: &mut Backoff,
    reason: String,
    dispatch: &Dispatch,
) -> LocalBoxFuture<'static, Step> {
    let delay: Duration = backoff.next_delay(js_sys::Math::random());
    dispatch(Action::Disconnected {
        reason,
        retry_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
    });
    gloo_timers::future::sleep(delay)
        .map(|()| Step::Retry)
        .boxed_local()
}

/// Where actions go: the reducer's dispatcher.
pub type Dispatch = Rc<dyn Fn(Action)>;

/// Runs until the node's event stream ends. A message on `retry_now` (the "Retry now" button,
/// or the browser coming back online) ends a backoff wait early.
pub async fn run(
    client: Client,
    events: mpsc::Receiver<Event>,
    retry_now: mpsc::Receiver<()>,
    only: Option<TransportKind>,
    dispatch: Dispatch,
) {
    let mut backoff = Backoff::APP_DEFAULT;
    let mut node: Option<PeerId> = None;
    let mut waiting = false;
    // When the node last answered (a ping or the connection coming up), in ms.
    let mut last_heard = now_ms();
    let mut events = events.fuse();
    let mut retry_now = retry_now.fuse();
    dispatch(Action::Connecting { attempt: 1 });
    let mut phase = attempt(client.clone(), only).boxed_local().fuse();
    loop {
        futures::select! {
            event = events.next() => {
                let Some(event) = event else { return };
                let from_node = |p: &PeerId| Some(*p) == node;
                let lost = matches!(&event, Event::Disconnected { peer, remaining: 0, .. } if from_node(peer));
                if matches!(&event, Event::Ping { peer, .. } if from_node(peer)) {
                    last_heard = now_ms();
                }
                if matches!(&event, Event::RoutingUpdated { peer } if from_node(peer)) {
                    // The node is in the routing table: join the DHT through it.
                    let (client, dispatch) = (client.clone(), dispatch.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        dispatch(Action::Dht(client.bootstrap().await.map_err(|e| e.to_string())));
                    });
                }
                dispatch(Action::Net(event));
                if lost {
                    node = None;
                    waiting = true;
                    phase = wait(&mut backoff, "lost the connection to kith-node".into(), &dispatch).fuse();
                }
            }
            nudge = retry_now.next() => {
                if nudge.is_some() && waiting {
                    phase = futures::future::ready(Step::Retry).boxed_local().fuse();
                }
            }
            step = phase => {
                waiting = false;
                phase = match step {
                    Step::Up(c) => {
                        backoff.reset();
                        node = Some(c.peer);
                        last_heard = now_ms();
                        dispatch(Action::Connected {
                            node: c.peer.to_string(),
                            transport: c.transport,
                            at_ms: last_heard,
                        });
                        check_later().fuse()
                    }
                    Step::Check => match node {
                        Some(peer) if now_ms() - last_heard > LIVENESS_TIMEOUT_MS => {
                            // Silent: close what is left of the connection and start over.
                            let _ = client.disconnect(peer).await;
                            node = None;
                            waiting = true;
                            let reason = "kith-node stopped answering".to_owned();
                            wait(&mut backoff, reason, &dispatch).fuse()
                        }
                        _ => check_later().fuse(),
                    },
                    Step::Failed(reason) => {
                        waiting = true;
                        wait(&mut backoff, reason, &dispatch).fuse()
                    }
                    Step::Retry => {
                        dispatch(Action::Connecting {
                            attempt: backoff.attempt() + 1,
                        });
                        attempt(client.clone(), only).boxed_local().fuse()
                    }
                };
            }
        }
    }
}
