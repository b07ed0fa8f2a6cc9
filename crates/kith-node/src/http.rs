//! The node's HTTP side: the built app, `/bootstrap.json` and `/status.json`.

use std::path::Path;
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use kith_core::BootstrapDoc;
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
}

/// The routes. Unknown paths fall back to `index.html`, so links into the app work.
pub fn router(dist: &Path, state: HttpState) -> Router {
    let files = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    // The JSON routes are public facts about the node: any origin may read them (the browser
    // tests run on another origin), and they must never be cached across restarts.
    Router::new()
        .route("/bootstrap.json", get(bootstrap))
        .route("/status.json", get(status))
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

async fn status(State(state): State<HttpState>) -> impl IntoResponse {
    match state.control.status().await {
        Ok(s) => Json(s).into_response(),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("node is shutting down: {e}"),
        )
            .into_response(),
    }
}
