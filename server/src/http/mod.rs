//! The HTTP API: axum routers, one module per resource, over the domain modules. This is the
//! only module that knows HTTP; handlers run storage and other blocking work on tokio's
//! blocking pool.

mod catalog;
mod error;
mod events;
mod extract;
mod idempotency;
mod linger;
mod media_url;
mod openapi;
mod ops;
mod playlists;
mod recs;
mod rendition;
mod stream;
mod subsonic;
mod subsonic_stream;
mod trace;
mod users;

pub use error::ApiError;
pub use openapi::ApiDoc;

use crate::art::ArtService;
use crate::auth::Auth;
use crate::scanner::Scanner;
use crate::storage::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

/// JSON bodies are small; m3u8 import has its own, larger limit.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A request (headers and body) must arrive and be answered within this; streamed bodies
/// continue past it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The most one HTTP/1 connection queues for writing (and accepts as request headers).
pub const CONNECTION_BUFFER_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub scanner: Arc<Scanner>,
    pub auth: Arc<Auth>,
    pub art: Arc<ArtService>,
    pub library: PathBuf,
    /// Where the database and caches live; `/readyz` watches its free space.
    pub data_dir: PathBuf,
    pub metrics: PrometheusHandle,
    pub recs: Arc<crate::recs::Recs>,
    /// The OpenSubsonic API's key ring and caches.
    pub subsonic: Arc<crate::subsonic::SubsonicState>,
    /// Rendered catalog pages, valid until the next scan writes.
    pub pages: Arc<crate::pages::PageCache>,
    /// This node's name (`--node-id`): in every request's log span and the metrics' `node` label.
    pub node_id: Arc<str>,
    /// Set on SIGTERM: `/readyz` answers 503 `draining` so load balancers move away.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Signs the `media_url` of every track answered, and checks `/media/{hash}`.
    pub media: Arc<crate::media_url::MediaSigner>,
    /// Renditions: plans, the encoder pool and the rendition cache.
    pub transcoder: Arc<crate::transcode::Transcoder>,
}

/// Runs blocking work (SQLite, argon2, file IO) off the async threads.
pub async fn blocking<T, E>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(Into::into)
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let response = next.run(req).await;
    metrics::histogram!(
        "mixtape_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// Wraps each request in a `node` span, so every log line of it names the node (the trace
/// layer's request span opens inside this one).
async fn node_span(
    axum::extract::State(node): axum::extract::State<Arc<str>>,
    req: Request,
    next: Next,
) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!("node", node = %node);
    next.run(req).instrument(span).await
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /api/openapi.json",
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}

pub fn router(state: AppState) -> Router {
    let node = state.node_id.clone();
    Router::new()
        .merge(ops::router())
        .merge(users::router())
        .merge(
            users::login_router().route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                idempotency::anonymous,
            )),
        )
        .merge(catalog::router())
        .merge(stream::router())
        .merge(rendition::router())
        .merge(media_url::router())
        .merge(
            playlists::router().route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                idempotency::signed_in,
            )),
        )
        .merge(events::router())
        .merge(subsonic::router())
        .merge(recs::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(record_metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(linger::read_refused_uploads))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(error::envelope_plain_errors))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(trace::request_span))
        .layer(axum::middleware::from_fn_with_state(node, node_span))
        .with_state(state)
}
