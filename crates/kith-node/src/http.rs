//! The node's HTTP side: the built app, `/bootstrap.json`, `/status.json` and `/metrics`.
//!
//! `/status.json` tells the operator everything (the peer ids connected and in the routing
//! table) and anyone else only counts ([`is_operator`]); `/metrics` (Prometheus' text format)
//! is the operator's only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

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

/// The routes. Unknown paths fall back to `index.html`, so links into the app work. Every
/// response carries the app's Content-Security-Policy ([`content_security_policy`]).
pub fn router(dist: &Path, state: HttpState) -> Router {
    let files = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    let csp = Arc::new(Csp {
        index: dist.join("index.html"),
        cached: Mutex::new(None),
    });
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
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            move |_: &axum::response::Response| csp.header(),
        ))
        .with_state(state)
}

/// What the app may load and run. Scripts: the app's own files, WebAssembly, and the inline
/// scripts of `index.html` by their SHA-256 (the theme and service worker lines, and the
/// loader Trunk writes, whose file names change with each build). Connections: this origin
/// and WebSockets to any kith-node. No plugins, frames, `<base>` or form posts anywhere. Style
/// and images only from this origin (identicons and QR codes are inline SVG elements).
pub fn content_security_policy(index_html: &str) -> String {
    format!("{}; frame-ancestors 'none'", meta_policy(index_html))
}

/// [`content_security_policy`] as a `<meta http-equiv>` element carries it, for hosts other
/// than kith-node that serve the built app (`cargo xtask` writes it into `index.html`): the
/// same policy without `frame-ancestors`, which browsers ignore in a `<meta>` (with a console
/// warning). It hashes the same scripts, since the element is not a script.
pub fn meta_policy(index_html: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hashes: String = inline_scripts(index_html)
        .map(|s| {
            let digest = sha2::Sha256::digest(s.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; \
         img-src 'self' data: blob:; connect-src 'self' ws: wss:; worker-src 'self'; \
         manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// The text of each `<script>` element without a `src` in `html`, exactly as the browser
/// hashes it (everything between the opening tag's `>` and `</script>`).
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let after = &rest[start..];
            let open_end = after.find('>')?;
            let tag = &after[..open_end];
            let body = &after[open_end + 1..];
            let close = body.find("</script>")?;
            rest = &body[close..];
            if !tag.contains("src=") {
                return Some(&body[..close]);
            }
        }
    })
}

/// The policy for the `index.html` on disk, worked out again when the file changes (a new
/// build of the app while the node runs).
struct Csp {
    index: PathBuf,
    cached: Mutex<Option<(SystemTime, u64, HeaderValue)>>,
}

impl Csp {
    fn header(&self) -> Option<HeaderValue> {
        let meta = std::fs::metadata(&self.index).ok()?;
        let stamp = (meta.modified().ok()?, meta.len());
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, len, value)) = cached.as_ref()
            && (*at, *len) == stamp
        {
            return Some(value.clone());
        }
        let html = std::fs::read_to_string(&self.index).ok()?;
        let value = HeaderValue::from_str(&content_security_policy(&html)).ok()?;
        *cached = Some((stamp.0, stamp.1, value.clone()));
        Some(value)
    }
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
    dht_provider_records: usize,
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
            dht_provider_records: s.dht_provider_records,
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
    fn the_policy_names_each_inline_script_by_its_hash() {
        let html = "<head><script>var a = 1;</script><script type=\"module\">\nimport x from '/a.js';\n</script>\
                    <script src=\"/b.js\"></script></head>";
        let found: Vec<&str> = inline_scripts(html).collect();
        assert_eq!(found, vec!["var a = 1;", "\nimport x from '/a.js';\n"]);
        let policy = content_security_policy(html);
        // echo -n 'var a = 1;' | openssl dgst -sha256 -binary | base64
        assert!(
            policy.contains("'sha256-+dZ6udsWxNVoGfScAq7t5IIF5UJb4F6RhjbN6oe1p4w='"),
            "{policy}"
        );
        assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
        assert!(
            policy.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{policy}"
        );
        assert!(policy.contains("object-src 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
    }

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
