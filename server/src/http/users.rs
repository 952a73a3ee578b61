//! Login, logout, users (admin) and per-device API keys.

use super::error::ApiError;
use super::extract::{AdminUser, ApiJson, ApiPath, AuthUser, bearer};
use super::idempotency::IdempotencyKeyHeader;
use super::{AppState, blocking};
use crate::auth::{new_secret, secret_hash, unix_now};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use mixtape_shared::UserId;
use mixtape_shared::api::{
    ApiKey, ChangePasswordRequest, CreateApiKeyRequest, CreateUserRequest, CreatedApiKey,
    ErrorBody, LoginRequest, LoginResponse, MaxBitrateRequest, User,
};
use std::net::SocketAddr;

/// Login, apart: it takes an `Idempotency-Key` (`http::idempotency`), the other routes do not.
pub fn login_router() -> Router<AppState> {
    Router::new().route("/api/v1/auth/login", post(login))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{id}", delete(delete_user))
        .route("/api/v1/users/{id}/password", put(set_password))
        .route("/api/v1/users/{id}/max-bitrate", put(set_max_bitrate))
        .route("/api/v1/api-keys", get(list_keys).post(create_key))
        .route("/api/v1/api-keys/{id}", delete(delete_key))
}

/// The client's address, for throttling: the peer, or the client a trusted proxy names in
/// `X-Forwarded-For` (`auth::address`); "unknown" when served without connect info.
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Ok(Self("unknown".into()));
        };
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Self(state.auth.client_address(peer, &forwarded)))
    }
}

/// Exchanges a username and password for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", params(IdempotencyKeyHeader), tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    ClientAddress(addr): ClientAddress,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    if req.username.len() > 256 || req.password.len() > 1024 {
        return Err(ApiError::bad_request("username or password too long"));
    }
    Ok(Json(
        s.auth.login(&req.username, &req.password, &addr).await?,
    ))
}

/// Revokes the login token this request carries. An API key is not revoked here (400): delete
/// it with `DELETE /api/v1/api-keys/{id}`.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn logout(
    State(s): State<AppState>,
    _: AuthUser,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let secret = bearer(&headers)
        .ok_or_else(ApiError::unauthorized)?
        .to_string();
    blocking(move || s.auth.logout(&secret)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = User), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn me(AuthUser(user): AuthUser) -> Json<User> {
    Json(user)
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_users(
    State(s): State<AppState>,
    _: AdminUser,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(blocking(move || s.store.list_users()).await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_user(
    State(s): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = s
        .auth
        .create_user(&admin, &req.username, &req.password, req.is_admin)
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", params(("id" = i64, Path)), tag = "users",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_user(
    State(s): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if admin.id == UserId(id) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "an administrator cannot delete their own account",
        ));
    }
    if blocking(move || s.store.delete_user(UserId(id))).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("user"))
    }
}

/// Sets a password (one's own, or anyone's as admin); the user's login tokens are revoked.
/// `revoke_all` also revokes the API keys and the Subsonic app password: the default for an
/// admin resetting another user's password, not for one's own change.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", params(("id" = i64, Path)), tag = "users", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_password(
    State(s): State<AppState>,
    AuthUser(actor): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    if s.auth
        .set_password(&actor, UserId(id), &req.password, req.revoke_all)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("user"))
    }
}

/// Sets or lifts a user's stream limit (admins only). Their Subsonic streams above it become
/// renditions within it; the answer is the user as now stored.
#[utoipa::path(put, path = "/api/v1/users/{id}/max-bitrate", params(("id" = i64, Path)), tag = "users", request_body = MaxBitrateRequest,
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_max_bitrate(
    State(s): State<AppState>,
    _: AdminUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<MaxBitrateRequest>,
) -> Result<Json<User>, ApiError> {
    let kbps = req.max_bitrate_kbps.filter(|&k| k > 0);
    if kbps.is_some_and(|k| k > MAX_BITRATE_LIMIT_KBPS) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "max_bitrate_kbps must be at most {MAX_BITRATE_LIMIT_KBPS} (or 0/null for none)"
            ),
        ));
    }
    let user = blocking(move || -> crate::storage::StorageResult<Option<User>> {
        if !s.store.set_max_bitrate(UserId(id), kbps)? {
            return Ok(None);
        }
        Ok(s.store.user_by_id(UserId(id))?.map(|u| u.user))
    })
    .await?;
    user.map(Json).ok_or_else(|| ApiError::not_found("user"))
}

/// Beyond any audio bitrate (lossless 24-bit/192 kHz stereo is 9,216 kb/s): a typo, not a limit.
const MAX_BITRATE_LIMIT_KBPS: u32 = 100_000;

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "auth", responses((status = 200, body = Vec<ApiKey>)), security(("bearer" = [])))]
pub async fn list_keys(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(
        blocking(move || s.store.list_api_keys(user.id)).await?,
    ))
}

/// A new API key for one device; the secret is shown only in this response.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "auth", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_key(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "key name must be 1-100 characters",
        ));
    }
    let secret = new_secret("mk_");
    let hash = secret_hash(&secret);
    let key = blocking(move || s.store.insert_api_key(user.id, &name, &hash, unix_now())).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key, secret })))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", params(("id" = i64, Path)), tag = "auth",
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_key(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if blocking(move || s.store.delete_api_key(user.id, id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("api key"))
    }
}
