//! The OpenSubsonic API's routes: `/rest/NAME` and `/rest/NAME.view`, GET and form POST, answered
//! by `crate::subsonic` (errors are HTTP 200 with a Subsonic error code). `stream` and `download`
//! go through our stream and rendition code (`subsonic_stream`: Range, ETag, exact lengths) and
//! never count a play; `getCoverArt` through the art
//! service. Also `PUT`/`DELETE /api/v1/me/subsonic-password`: the app password for token auth.

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser};
use super::users::ClientAddress;
use super::{AppState, blocking};
use crate::subsonic::api::{self, Ctx, ENDPOINTS};
use crate::subsonic::auth::AppPasswordError;
use crate::subsonic::info::ImageLinks;
use crate::subsonic::users as subsonic_users;
use crate::subsonic::{Code, Format, Params, Payload, SubsonicError, ids, response};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, put};
use mixtape_shared::api::{ErrorBody, User};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        // Any method, as Navidrome takes them: Aonsoku deletes playlists with DELETE.
        .route("/rest/{endpoint}", any(handle).layer(browser_apps()))
        .route(
            "/api/v1/me/subsonic-password",
            put(set_subsonic_password).delete(clear_subsonic_password),
        )
}

/// Web apps (Aonsoku's web build, Feishin in a browser) call `/rest` from their own origin: any
/// origin may, because `/rest` is authorized by the credentials in each request, never by
/// cookies; so preflights (Aonsoku's DELETE) are answered for anyone.
fn browser_apps() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{Any, CorsLayer};
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods(Any)
        .allow_headers(Any)
}

fn reply(format: &Format, result: &Result<Payload, SubsonicError>) -> Response {
    (
        [(header::CONTENT_TYPE, format.content_type())],
        response::render(format, result),
    )
        .into_response()
}

/// The origin the request reached us by (`X-Forwarded-Proto`/`-Host` from a proxy, else
/// `Host`), for absolute URLs in answers; None without a usable host. Only the caller's own
/// answer depends on it.
fn public_origin(headers: &HeaderMap) -> Option<String> {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = value("x-forwarded-host").or_else(|| value("host"))?;
    // A host is letters, digits, dots, dashes, a port and IPv6 brackets: anything else would
    // let a header inject into the URL.
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    {
        return None;
    }
    let scheme = match value("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    Some(format!("{scheme}://{host}"))
}

async fn on_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SubsonicError> + Send + 'static,
) -> Result<T, SubsonicError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(SubsonicError::internal)?
}

async fn handle(
    State(s): State<AppState>,
    Path(endpoint): Path<String>,
    ClientAddress(address): ClientAddress,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let name = endpoint
        .strip_suffix(".view")
        .unwrap_or(&endpoint)
        .to_string();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = (method != Method::GET && method != Method::HEAD && is_form).then_some(&body[..]);
    let params = match Params::parse(query.as_deref(), form) {
        Ok(p) => p,
        Err(e) => return reply(&Format::Xml, &Err(e)),
    };
    let (format, format_error) = Format::from_params(&params);
    if let Some(e) = format_error {
        return reply(&format, &Err(e));
    }
    // Every name answers in the envelope with HTTP 200, as the spec has it: an app's HTTP
    // client may throw on a 404 (DSub) or crash (stmps) where error 70 is only a missing list.
    if !ENDPOINTS.contains(&name.as_str()) && !subsonic_users::ENDPOINTS.contains(&name.as_str()) {
        return reply(
            &format,
            &Err(SubsonicError::new(
                Code::NotFound,
                format!(
                    "this server does not implement {name}; see getOpenSubsonicExtensions and docs/subsonic.md"
                ),
            )),
        );
    }
    if name == "getOpenSubsonicExtensions" {
        return reply(
            &format,
            &Payload::one("openSubsonicExtensions", &api::extensions()),
        );
    }
    let user = api::authenticate(
        &s.auth,
        s.store.clone(),
        s.subsonic.clone(),
        &params,
        &address,
    )
    .await;
    let user = match user {
        Ok(u) => u,
        Err(e) => return reply(&format, &Err(e)),
    };
    match name.as_str() {
        "stream" | "download" => match super::subsonic_stream::stream(
            &s,
            &user,
            &params,
            &method,
            &headers,
            name == "download",
        )
        .await
        {
            Ok(r) => r,
            Err(e) => reply(&format, &Err(e)),
        },
        "getTranscodeDecision" => reply(
            &format,
            &super::subsonic_stream::transcode_decision(&s, &user, &params, &body).await,
        ),
        "getTranscodeStream" => {
            super::subsonic_stream::transcode_stream(&s, user.id.0, &params, &method, &headers)
                .await
        }
        "getCoverArt" => match cover_art(&s, &params).await {
            Ok(r) => r,
            Err(e) => reply(&format, &Err(e)),
        },
        n if subsonic_users::ENDPOINTS.contains(&n) => reply(
            &format,
            &subsonic_users::call(&s.auth, &s.store, &user, n, &params).await,
        ),
        _ => {
            let origin = public_origin(&headers);
            let result = on_blocking(move || {
                let client = params.get("c").unwrap_or("").to_string();
                let ctx = Ctx {
                    store: s.store.as_ref(),
                    scanner: &s.scanner,
                    recs: &s.recs,
                    user: &user,
                    client: &client,
                    images: origin.map(|origin| ImageLinks {
                        signer: &s.media,
                        origin,
                    }),
                };
                api::call(&ctx, &name, &params)
                    .unwrap_or_else(|| Err(SubsonicError::not_found("endpoint")))
            })
            .await;
            reply(&format, &result)
        }
    }
}

/// Cover art by its hash (what `coverArt` fields hold), or by an album, song or artist id.
async fn cover_art(s: &AppState, params: &Params) -> Result<Response, SubsonicError> {
    let id = params.required("id")?.trim().to_string();
    let size = params
        .number::<u32>("size")?
        .map(|n| n.clamp(crate::art::MIN_SIZE, crate::art::MAX_SIZE));
    let (store, art) = (s.store.clone(), s.art.clone());
    let image = on_blocking(move || {
        let hash = if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(id.to_ascii_lowercase())
        } else {
            match ids::parse(&id) {
                Some(crate::storage::ItemRef::Track(t)) => {
                    store.track(t)?.and_then(|t| t.cover_art)
                }
                Some(crate::storage::ItemRef::Album(a)) => {
                    store.album(a)?.and_then(|a| a.album.cover_art)
                }
                Some(crate::storage::ItemRef::Artist(a)) => store
                    .artist(a)?
                    .and_then(|d| d.albums.into_iter().find_map(|al| al.cover_art)),
                None => None,
            }
        };
        let hash = hash.ok_or_else(|| SubsonicError::not_found("cover art"))?;
        art.get(&hash, size).map_err(|e| match e {
            crate::art::ArtError::Storage(e) => e.into(),
            crate::art::ArtError::Cache(e) => SubsonicError::internal(e),
            busy @ crate::art::ArtError::Busy => {
                SubsonicError::new(Code::Generic, busy.to_string())
            }
            other => SubsonicError::new(Code::NotFound, other.to_string()),
        })
    })
    .await?;
    Response::builder()
        .header(header::CONTENT_TYPE, image.mime)
        .header(header::CACHE_CONTROL, "private, max-age=86400")
        .body(Body::from(image.bytes))
        .map_err(SubsonicError::internal)
}

/// `PUT /api/v1/me/subsonic-password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubsonicPasswordRequest {
    /// At least 8 characters. Subsonic clients send it as `p`, or as `t = md5(password + s)`
    /// with a salt `s`. Keep it different from the login password.
    pub password: String,
}

fn set_password_error(e: AppPasswordError) -> ApiError {
    match e {
        AppPasswordError::Invalid(m) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m)
        }
        AppPasswordError::Storage(e) => e.into(),
        other => ApiError::internal(other),
    }
}

async fn change_app_password(
    s: AppState,
    user: User,
    password: Option<String>,
) -> Result<StatusCode, ApiError> {
    blocking(move || {
        crate::subsonic::auth::set_app_password(
            s.store.as_ref(),
            &s.subsonic,
            &user,
            password.as_deref(),
        )
        .map_err(set_password_error)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the caller's Subsonic app password: the password Subsonic clients use for token
/// authentication (`u`, `t`, `s`) or as `p`. Stored encrypted with a key in the server's data
/// folder; the login password is never stored in a readable form, so token auth needs this.
#[utoipa::path(put, path = "/api/v1/me/subsonic-password", tag = "auth", request_body = SubsonicPasswordRequest,
    responses((status = 204, description = "set"), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_subsonic_password(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<SubsonicPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    change_app_password(s, user, Some(req.password)).await
}

/// Removes the caller's Subsonic app password: token authentication stops working (error 40).
#[utoipa::path(delete, path = "/api/v1/me/subsonic-password", tag = "auth",
    responses((status = 204, description = "cleared"), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn clear_subsonic_password(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<StatusCode, ApiError> {
    change_app_password(s, user, None).await
}
