//! The node's HTTP side: the built app, `/bootstrap.json`, `/status.json` and `/metrics`.
//!
//! `/status.json` tells the operator everything (the peer ids connected and in the routing
//! table) and anyone else only counts ([`is_operator`]); `/metrics` (Prometheus' text format)
//! is the operator's only.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use kith_core::BootstrapDoc;
use libp2p::metrics::Registry;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::node::NodeControl;

/// What the HTTP handlers read.
#[derive(Clone)]
pub struct HttpState {
    /// The document served at `/bootstrap.json`, kept current by the swarm task.
    pub bootstrap: Arc<RwLock<BootstrapDoc>>,
    /// Asks the swarm task for live figures.
    pub control: NodeControl,
    /// libp2p's counters (bytes per transport and direction, connections, relay circuits,
    /// gossip messages and bytes per topic, DHT queries), served at `/metrics`.
    pub metrics: Arc<Registry>,
}

/// The routes. Unknown paths fall back to `index.html`, so links into the app work.
pub fn router(dist: &Path, state: HttpState) -> Router {
    let files = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    // The JSON routes are public facts about the node: any origin may read them (the browser
    // tests run on another origin), and they must never be cached across restarts.
    Router::new()
        .route("/bootstrap.json", get(bootstrap))
        .route("/status.json", get(status))
        .route("/metrics", get(metrics))
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .fallback_service(files)
        .with_state(state)
}

async fn bootstrap(State(state): State<HttpState>) -> impl IntoResponse {
    let doc = state
        .bootstrap
        .read()
        .map(|d| d.clone())
        .unwrap_or_else(|poisoned| poisoned.into_inner().clone());
    Json(doc)
}

/// What `/status.json` shows to anyone but the operator: the node and counts, no peer ids of
/// the people connected.
#[derive(Debug, serde::Serialize)]
struct PublicStatus {
    peer_id: String,
    version: String,
    connected_peers: usize,
    routing_table: usize,
    dht_records: usize,
}

/// Whether a request is the operator's: made from this machine (loopback), not forwarded by a
/// reverse proxy (`Forwarded`, `X-Forwarded-For`), and not by a web page of some origin
/// (`Origin`, which browsers send on cross-origin reads; a page on this machine is anyone).
pub fn is_operator(remote: SocketAddr, headers: &HeaderMap) -> bool {
    remote.ip().is_loopback()
        && !headers.contains_key(header::FORWARDED)
        && !headers.contains_key("x-forwarded-for")
        && !headers.contains_key(header::ORIGIN)
}

async fn status(
    State(state): State<HttpState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> impl IntoResponse {
    match state.control.status().await {
        Ok(s) if is_operator(remote, &headers) => Json(s).into_response(),
        Ok(s) => Json(PublicStatus {
            peer_id: s.peer_id,
            version: s.version,
            connected_peers: s.connected_peers.len(),
            routing_table: s.routing_table.len(),
            dht_records: s.dht_records,
        })
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("node is shutting down: {e}"),
        )
            .into_response(),
    }
}

/// The node's counters in Prometheus' text format, for the operator only: they name no peer,
/// but traffic figures are the operator's business.
async fn metrics(
    State(state): State<HttpState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> axum::response::Response {
    if !is_operator(remote, &headers) {
        return (
            StatusCode::FORBIDDEN,
            "/metrics is served to the operator only (a direct request from this machine)",
        )
            .into_response();
    }
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &state.metrics) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the metrics: {e}"),
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_direct_request_from_this_machine_is_the_operators() {
        let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let remote: SocketAddr = "203.0.113.7:5000".parse().expect("addr");
        let none = HeaderMap::new();
        assert!(is_operator(local, &none));
        assert!(is_operator("[::1]:5000".parse().expect("addr"), &none));
        assert!(!is_operator(remote, &none));
        for (name, value) in [
            ("origin", "https://elsewhere.example"),
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=203.0.113.7"),
        ] {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            assert!(!is_operator(local, &h), "{name}");
        }
    }
}
