//! Play event upload and the user's play history.

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, AuthUser};
use super::{AppState, blocking};
use crate::auth::unix_now;
use crate::events;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use mixtape_shared::api::{
    ErrorBody, HistoryQuery, PlayHistory, PostEventsRequest, PostEventsResponse,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", post(post_events))
        .route("/api/v1/history", get(history))
}

/// Stores play events; an event id the server already has is counted as a duplicate and
/// ignored, so uploads can be retried freely.
#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = PostEventsRequest,
    responses((status = 200, body = PostEventsResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn post_events(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<PostEventsRequest>,
) -> Result<Json<PostEventsResponse>, ApiError> {
    Ok(Json(
        blocking(move || events::record(s.store.as_ref(), &user, &req.events, unix_now())).await?,
    ))
}

/// The user's play events, newest first.
#[utoipa::path(get, path = "/api/v1/history", tag = "events", params(HistoryQuery),
    responses((status = 200, body = PlayHistory), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn history(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<PlayHistory>, ApiError> {
    Ok(Json(
        blocking(move || events::history(s.store.as_ref(), &user, q.before_ms, q.limit)).await?,
    ))
}
