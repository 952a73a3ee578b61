//! Playlist routes, including m3u8 import and export.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use super::idempotency::IdempotencyKeyHeader;
use super::{AppState, blocking};
use crate::playlists;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use mixtape_shared::api::{
    AddEntriesRequest, CreatePlaylistRequest, ErrorBody, ImportPlaylistReport, MoveEntryRequest,
    Playlist, PlaylistDetail, PushOpsRequest, PushOpsResponse, UpdatePlaylistRequest,
};
use mixtape_shared::{EntryId, PlaylistId, TrackId};
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::IntoParams;
use uuid::Uuid;

const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/playlists", get(list).post(create))
        .route(
            "/api/v1/playlists/import",
            // tower-http's limit refuses a declared length at once (axum's reads up to it first).
            post(import)
                .layer::<_, Infallible>(RequestBodyLimitLayer::new(MAX_IMPORT_BYTES))
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/playlists/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/api/v1/playlists/{id}/entries", post(add_entries))
        .route(
            "/api/v1/playlists/{id}/entries/{entry}",
            delete(remove_entry),
        )
        .route(
            "/api/v1/playlists/{id}/entries/{entry}/move",
            post(move_entry),
        )
        .route("/api/v1/playlists/{id}/m3u8", get(export))
        .route("/api/v1/sync/ops", post(push_ops))
}

/// Applies a device's playlist ops (the offline outbox). Each op id is applied once, so a retried
/// push changes nothing; ops that can never apply are listed in `rejected`. Pull
/// `/api/v1/changes` afterwards for the merged state.
#[utoipa::path(post, path = "/api/v1/sync/ops", params(IdempotencyKeyHeader), tag = "playlists", request_body = PushOpsRequest,
    responses((status = 200, body = PushOpsResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn push_ops(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<PushOpsRequest>,
) -> Result<Json<PushOpsResponse>, ApiError> {
    Ok(Json(
        blocking(move || playlists::push_ops(s.store.as_ref(), &user, req.ops)).await?,
    ))
}

/// The user's playlists and other users' public ones.
#[utoipa::path(get, path = "/api/v1/playlists", tag = "playlists", responses((status = 200, body = Vec<Playlist>)), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<Vec<Playlist>>, ApiError> {
    Ok(Json(
        blocking(move || playlists::list(s.store.as_ref(), &user)).await?,
    ))
}

/// Creates a playlist; with a client-made `id`, replaying the request is harmless.
#[utoipa::path(post, path = "/api/v1/playlists", params(IdempotencyKeyHeader), tag = "playlists", request_body = CreatePlaylistRequest,
    responses((status = 201, body = PlaylistDetail), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<CreatePlaylistRequest>,
) -> Result<(StatusCode, Json<PlaylistDetail>), ApiError> {
    let detail = blocking(move || playlists::create(s.store.as_ref(), &user, &req)).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

#[utoipa::path(get, path = "/api/v1/playlists/{id}", params(("id" = String, Path)), tag = "playlists",
    responses((status = 200, body = PlaylistDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn show(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PlaylistDetail>, ApiError> {
    Ok(Json(
        blocking(move || playlists::get(s.store.as_ref(), &user, PlaylistId(id))).await?,
    ))
}

/// Renames a playlist or changes whether it is public.
#[utoipa::path(patch, path = "/api/v1/playlists/{id}", params(("id" = String, Path), IdempotencyKeyHeader), tag = "playlists", request_body = UpdatePlaylistRequest,
    responses((status = 200, body = PlaylistDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdatePlaylistRequest>,
) -> Result<Json<PlaylistDetail>, ApiError> {
    Ok(Json(
        blocking(move || playlists::update(s.store.as_ref(), &user, PlaylistId(id), &req)).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/playlists/{id}", params(("id" = String, Path), IdempotencyKeyHeader), tag = "playlists",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    blocking(move || playlists::delete(s.store.as_ref(), &user, PlaylistId(id))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Inserts tracks at a position (appends by default); a batch stays together.
#[utoipa::path(post, path = "/api/v1/playlists/{id}/entries", params(("id" = String, Path), IdempotencyKeyHeader), tag = "playlists", request_body = AddEntriesRequest,
    responses((status = 200, body = PlaylistDetail), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn add_entries(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<AddEntriesRequest>,
) -> Result<Json<PlaylistDetail>, ApiError> {
    Ok(Json(
        blocking(move || playlists::add_entries(s.store.as_ref(), &user, PlaylistId(id), &req))
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/playlists/{id}/entries/{entry}", params(("id" = String, Path), ("entry" = String, Path), IdempotencyKeyHeader), tag = "playlists",
    responses((status = 200, body = PlaylistDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove_entry(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((id, entry)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<PlaylistDetail>, ApiError> {
    Ok(Json(
        blocking(move || {
            playlists::remove_entry(s.store.as_ref(), &user, PlaylistId(id), EntryId(entry))
        })
        .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/playlists/{id}/entries/{entry}/move", params(("id" = String, Path), ("entry" = String, Path), IdempotencyKeyHeader),
    tag = "playlists", request_body = MoveEntryRequest,
    responses((status = 200, body = PlaylistDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn move_entry(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((id, entry)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<MoveEntryRequest>,
) -> Result<Json<PlaylistDetail>, ApiError> {
    Ok(Json(
        blocking(move || {
            playlists::move_entry(
                s.store.as_ref(),
                &user,
                PlaylistId(id),
                EntryId(entry),
                req.position,
            )
        })
        .await?,
    ))
}

/// The playlist as extended M3U, with paths relative to the library folder.
#[utoipa::path(get, path = "/api/v1/playlists/{id}/m3u8", params(("id" = String, Path)), tag = "playlists",
    responses((status = 200, content_type = "audio/x-mpegurl"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn export(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let text = blocking(move || -> Result<String, ApiError> {
        let store = s.store.as_ref();
        let detail = playlists::get(store, &user, PlaylistId(id))?;
        let mut ids: Vec<TrackId> = detail.entries.iter().map(|e| e.track_id).collect();
        ids.sort();
        ids.dedup();
        let tracks = store.tracks_by_ids(&ids)?;
        let mut paths = HashMap::new();
        for t in &tracks {
            if let Some(f) = store.track_file(t.id)? {
                paths.insert(t.id, f.path);
            }
        }
        Ok(playlists::to_m3u8(&detail, &tracks, &paths))
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "audio/x-mpegurl; charset=utf-8")],
        text,
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Name of the new playlist; defaults to the file's #PLAYLIST title.
    pub name: Option<String>,
}

/// Creates a playlist from an m3u8 (or Latin-1 m3u) body, in one transaction: nothing is created
/// unless the import succeeds. Lines that match no track are reported, not fatal.
#[utoipa::path(post, path = "/api/v1/playlists/import", params(ImportQuery, IdempotencyKeyHeader), tag = "playlists",
    request_body(content = String, content_type = "audio/x-mpegurl"),
    responses((status = 201, body = ImportPlaylistReport), (status = 400, body = ErrorBody),
        (status = 413, description = "the file is over 8 MiB (`too_large`), refused before its body is read when its Content-Length says so", body = ErrorBody),
        (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn import(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportPlaylistReport>), ApiError> {
    // Set when this future is dropped (client gone, request timeout), so the blocking work stops
    // instead of creating a playlist nobody will hear of.
    let cancelled = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancelled.clone());
    let report = blocking(move || {
        let root = s.library.to_string_lossy().into_owned();
        playlists::import_m3u(s.store.as_ref(), &user, &body, q.name, &root, &cancelled)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(report)))
}

struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
