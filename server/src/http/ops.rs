//! Operations and sync routes: health, readiness, metrics, scans, the change feed, OpenAPI.

use super::error::ApiError;
use super::extract::{AdminUser, ApiQuery, AuthUser};
use super::{AppState, blocking};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use mixtape_shared::api::{
    ChangesPage, ChangesQuery, ErrorBody, Health, ScanStatus, StartScanRequest,
};
use utoipa::OpenApi;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/scan", get(scan_status).post(start_scan))
        .route("/api/v1/changes", get(changes))
        .route("/api/openapi.json", get(openapi))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Readiness: not draining, the data disk has room to write, and the database answers a
/// primary-key lookup (cheap: load balancers ask every second or so).
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(s): State<AppState>) -> Result<Json<Health>, ApiError> {
    if s.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "not ready: this node is shutting down",
        ));
    }
    let data_dir = s.data_dir.clone();
    if let Some(free) = blocking(move || Ok::<_, ApiError>(crate::disk::full(&data_dir))).await? {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "disk_full",
            format!(
                "not ready: the data disk is full ({} KiB free)",
                free / 1024
            ),
        ));
    }
    blocking(move || s.store.user_by_id(mixtape_shared::UserId(0)))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database does not answer",
            )
        })?;
    Ok(Json(Health {
        status: "ready".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// Prometheus text format.
pub async fn metrics_text(State(s): State<AppState>) -> impl IntoResponse {
    let status = s.scanner.status();
    metrics::gauge!("mixtape_scan_running").set(if s.scanner.is_running() { 1.0 } else { 0.0 });
    metrics::gauge!("mixtape_scan_files_pending").set(status.files_pending_hash as f64);
    metrics::gauge!("mixtape_scan_files_read").set(status.files_read as f64);
    metrics::gauge!("mixtape_scan_failures").set(status.failures.len() as f64);
    if let Some((connections, idle)) = s.store.pool_stats() {
        metrics::gauge!("mixtape_db_pool_connections").set(connections as f64);
        metrics::gauge!("mixtape_db_pool_idle").set(idle as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

/// Progress of the running or last scan, with the files that failed and why. Every node
/// answers alike (the scan leader's status) and names the leader and itself.
#[utoipa::path(get, path = "/api/v1/scan", tag = "library", responses((status = 200, body = ScanStatus)), security(("bearer" = [])))]
pub async fn scan_status(
    State(s): State<AppState>,
    _: AuthUser,
) -> Result<Json<ScanStatus>, ApiError> {
    let scanner = s.scanner.clone();
    Ok(Json(blocking(move || scanner.shared_status()).await?))
}

/// Starts a full rescan (admin); 409 while one runs. The body is optional: with
/// `confirm_removals` the scan removes missing tracks even when that looks like a missing disk.
/// On a node that does not run scans the request goes to the one that does.
#[utoipa::path(post, path = "/api/v1/scan", tag = "library", request_body(content = Option<StartScanRequest>),
    responses((status = 202, body = ScanStatus), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn start_scan(
    State(s): State<AppState>,
    _: AdminUser,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ScanStatus>), ApiError> {
    // No body (the form every client used so far) is a plain rescan.
    let request: StartScanRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StartScanRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let scanner = s.scanner.clone();
    let status = blocking(move || {
        if request.confirm_removals {
            scanner.spawn_full_confirming_removals()?;
        } else {
            scanner.spawn_full()?;
        }
        scanner.shared_status()
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}

/// What changed after `since`: catalog tracks and the user's own playlists, compacted to
/// their latest state, in revision order. Page until `has_more` is false.
#[utoipa::path(get, path = "/api/v1/changes", params(ChangesQuery), tag = "sync",
    responses((status = 200, body = ChangesPage), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn changes(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Json<ChangesPage>, ApiError> {
    let since = q.since.unwrap_or_else(|| "0".into());
    let limit = q.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    let store = s.store.clone();
    let mut page = blocking(move || store.changes(user.id, &since, limit)).await?;
    super::media_url::SignMedia::sign_media(&mut page, &s.media, crate::media_url::unix_now());
    Ok(Json(page))
}

/// The change feed's query as it arrives: `since` is an opaque cursor string the store issued
/// and reads back (a decimal revision on SQLite, a vector of positions on PostgreSQL).
#[derive(Debug, serde::Deserialize)]
pub struct FeedQuery {
    pub since: Option<String>,
    pub limit: Option<u32>,
}

/// This document.
pub async fn openapi() -> impl IntoResponse {
    Json(super::openapi::ApiDoc::openapi())
}
