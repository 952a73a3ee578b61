//! Recommendations (for you, similar tracks, radio) and the admin's view of their queue.

use super::error::ApiError;
use super::extract::{AdminUser, ApiPath, ApiQuery, AuthUser};
use super::{AppState, blocking};
use crate::recs::queue::{DeadLetter, QueueStats};
use crate::recs::{Recommendations, RecsError, RecsSummary};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use mixtape_shared::TrackId;
use mixtape_shared::api::ErrorBody;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/recommendations/for-you", get(for_you))
        .route("/api/v1/tracks/{id}/similar", get(similar))
        .route("/api/v1/radio", get(radio))
        .route("/api/v1/admin/queue", get(queue_report))
        .route(
            "/api/v1/admin/queue/requeue-dead-letters",
            post(requeue_dead_letters),
        )
        .route("/api/v1/admin/recs", get(recs_summary))
        .route("/api/v1/admin/recs/rebuild", post(rebuild))
        .route("/api/v1/admin/recs/model", get(model_status))
        .route("/api/v1/admin/recs/train", post(train))
}

impl From<RecsError> for ApiError {
    fn from(e: RecsError) -> Self {
        match e {
            RecsError::NotFound(what) => Self::not_found(what),
            RecsError::Invalid(m) => Self::bad_request(m),
            RecsError::Storage(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LimitQuery {
    /// Tracks to return, 1..=100 (default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RadioQuery {
    /// `track:ID` or `artist:ID`; not needed with a cursor.
    pub seed: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Tracks to return, 1..=100 (default 20).
    pub limit: Option<u32>,
}

/// Tracks for the user from their recent plays, without what they just heard, diverse across
/// artists; popular tracks for a user with no plays yet.
#[utoipa::path(get, path = "/api/v1/recommendations/for-you", tag = "recommendations", params(LimitQuery),
    responses((status = 200, body = Recommendations), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn for_you(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<Recommendations>, ApiError> {
    let media = s.media.clone();
    let items = blocking(move || s.recs.for_you(&user, q.limit)).await?;
    Ok(signed(
        &media,
        Recommendations {
            items,
            next_cursor: None,
        },
    ))
}

/// Tracks listened to together with this one (or in the same playlists); tracks like it
/// (artist, album artist, genres, era) when it has little history.
#[utoipa::path(get, path = "/api/v1/tracks/{id}/similar", tag = "recommendations", params(("id" = i64, Path), LimitQuery),
    responses((status = 200, body = Recommendations), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn similar(
    State(s): State<AppState>,
    _: AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<Recommendations>, ApiError> {
    let media = s.media.clone();
    let items = blocking(move || s.recs.similar(TrackId(id), q.limit)).await?;
    Ok(signed(
        &media,
        Recommendations {
            items,
            next_cursor: None,
        },
    ))
}

/// An endless radio from a track or an artist: each page is like the seed and what the radio
/// played lately, and repeats none of the last 200 tracks it played. Pass `next_cursor` back.
#[utoipa::path(get, path = "/api/v1/radio", tag = "recommendations", params(RadioQuery),
    responses((status = 200, body = Recommendations), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn radio(
    State(s): State<AppState>,
    _: AuthUser,
    ApiQuery(q): ApiQuery<RadioQuery>,
) -> Result<Json<Recommendations>, ApiError> {
    let media = s.media.clone();
    let answer = blocking(move || {
        s.recs
            .radio(q.seed.as_deref(), q.cursor.as_deref(), q.limit)
    })
    .await?;
    Ok(signed(&media, answer))
}

/// Recommended tracks carry signed media URLs like every other track answer.
fn signed(
    media: &crate::media_url::MediaSigner,
    mut answer: Recommendations,
) -> Json<Recommendations> {
    use super::media_url::SignMedia;
    answer.sign_media(media, crate::media_url::unix_now());
    Json(answer)
}

/// The recommendation queue as the admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueReport {
    pub queue: QueueStats,
    /// Age of the oldest unacknowledged message, ms (0 when empty).
    pub lag_ms: i64,
    /// Messages handled by this process since it started.
    pub processed: u64,
    /// Of those, redeliveries of messages already taken in.
    pub duplicates: u64,
    pub failures: u64,
    pub dead_lettered: u64,
    /// The newest dead letters (at most 20).
    pub recent_dead_letters: Vec<DeadLetter>,
}

/// Depth, lag, counters and dead letters of the recommendation queue (admin).
#[utoipa::path(get, path = "/api/v1/admin/queue", tag = "recommendations",
    responses((status = 200, body = QueueReport), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn queue_report(
    State(s): State<AppState>,
    _: AdminUser,
) -> Result<Json<QueueReport>, ApiError> {
    let recs = s.recs.clone();
    let (queue, dead) = blocking(move || -> Result<_, ApiError> {
        Ok((recs.queue.stats()?, recs.queue.dead_letters(20)?))
    })
    .await?;
    let st = &s.recs.stats;
    Ok(Json(QueueReport {
        lag_ms: queue
            .oldest_enqueued_at_ms
            .map_or(0, |t| (crate::recs::worker::now_ms() - t).max(0)),
        queue,
        processed: st.processed.load(Ordering::Relaxed),
        duplicates: st.duplicates.load(Ordering::Relaxed),
        failures: st.failures.load(Ordering::Relaxed),
        dead_lettered: st.dead_lettered.load(Ordering::Relaxed),
        recent_dead_letters: dead,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Requeued {
    pub requeued: u64,
}

/// Puts every dead letter back in the queue (admin), after whatever made them fail is fixed.
#[utoipa::path(post, path = "/api/v1/admin/queue/requeue-dead-letters", tag = "recommendations",
    responses((status = 200, body = Requeued), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn requeue_dead_letters(
    State(s): State<AppState>,
    _: AdminUser,
) -> Result<Json<Requeued>, ApiError> {
    let requeued = blocking(move || {
        s.recs
            .queue
            .requeue_dead_letters(crate::recs::worker::now_ms())
    })
    .await?;
    Ok(Json(Requeued { requeued }))
}

/// Counts and a digest of the recommender's state (admin): equal digests mean equal states.
#[utoipa::path(get, path = "/api/v1/admin/recs", tag = "recommendations",
    responses((status = 200, body = RecsSummary), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn recs_summary(
    State(s): State<AppState>,
    _: AdminUser,
) -> Result<Json<RecsSummary>, ApiError> {
    Ok(Json(blocking(move || s.recs.store.recs_summary()).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rebuilt {
    /// Events taken in.
    pub events: u64,
    pub summary: RecsSummary,
}

/// Rebuilds the recommender's state from the whole event history (admin), e.g. after the
/// model changed.
#[utoipa::path(post, path = "/api/v1/admin/recs/rebuild", tag = "recommendations",
    responses((status = 200, body = Rebuilt), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn rebuild(
    State(s): State<AppState>,
    _: AdminUser,
) -> Result<(StatusCode, Json<Rebuilt>), ApiError> {
    let out = blocking(move || -> Result<_, ApiError> {
        let events = s.recs.rebuild()?;
        Ok(Rebuilt {
            events,
            summary: s.recs.store.recs_summary()?,
        })
    })
    .await?;
    Ok((StatusCode::OK, Json(out)))
}

/// The batch-trained model: the version this node serves, the newest stored, and the trainer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelStatus {
    /// The version this node serves (null: none yet; the neighbours alone serve).
    pub serving: Option<crate::storage::ModelInfo>,
    /// The newest stored version (every node moves to it within seconds).
    pub stored: Option<crate::storage::ModelInfo>,
    /// Events taken in so far (a training is due after enough new ones).
    pub events: u64,
    /// Whether the trainer runs on this node (it holds the recs lease).
    pub trainer_here: bool,
    /// Whether it is training now.
    pub training: bool,
}

fn model_status_of(s: &AppState) -> Result<ModelStatus, ApiError> {
    let model = &s.recs.trained;
    Ok(ModelStatus {
        serving: model.current().map(|m| m.info.clone()),
        stored: s.recs.store.recs_model_info()?,
        events: s.recs.store.recs_events_taken_in()?,
        trainer_here: model.trainer_here(),
        training: model.training(),
    })
}

/// The trained recommendation model's state (admin).
#[utoipa::path(get, path = "/api/v1/admin/recs/model", tag = "recommendations",
    responses((status = 200, body = ModelStatus), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn model_status(
    State(s): State<AppState>,
    _: AdminUser,
) -> Result<Json<ModelStatus>, ApiError> {
    Ok(Json(blocking(move || model_status_of(&s)).await?))
}

/// Asks the trainer to train now rather than when due (admin). Only the node holding the recs
/// lease trains: elsewhere the answer is 409 `not_trainer`.
#[utoipa::path(post, path = "/api/v1/admin/recs/train", tag = "recommendations",
    responses((status = 202, body = ModelStatus), (status = 403, body = ErrorBody),
        (status = 409, description = "The trainer runs on another node", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn train(
    State(s): State<AppState>,
    _: AdminUser,
) -> Result<(StatusCode, Json<ModelStatus>), ApiError> {
    if !s.recs.trained.request_training() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_trainer",
            "the recommendation trainer runs on the node holding the recs lease, not this one",
        ));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(blocking(move || model_status_of(&s)).await?),
    ))
}
