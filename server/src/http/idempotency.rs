//! The `Idempotency-Key` header on login and the REST playlist edits: a middleware over
//! `crate::idempotency`, which decides; this only turns requests and responses into bytes.
//! Requests without the header, and safe methods, pass through untouched.

use super::error::ApiError;
use super::extract::{AuthUser, Authenticated};
use super::{AppState, blocking};
use crate::idempotency::{self, Answer, Begin, IdempotencyKey, KEPT_HEADERS, RequestShape};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The request header (IETF httpapi draft "The Idempotency-Key HTTP Header Field").
pub const HEADER: &str = "idempotency-key";
/// Set on an answer that was replayed from the record rather than made now.
pub const REPLAYED: &str = "idempotent-replayed";
/// The largest body a keyed request may have: the largest limit of the routes this wraps (the
/// m3u import's); each route's own, smaller limit still applies after this.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Who sends a request made before signing in (login): its body names the user.
const ANONYMOUS: &str = "anonymous";

/// The header as the OpenAPI document shows it, on every route that takes it.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Only its OpenAPI description is used; the middleware reads the header.
pub struct IdempotencyKeyHeader {
    /// A key unique to this request (a UUIDv7 is best; 1 to 255 visible ASCII characters, as
    /// an sf-string or bare). A retry with the same key, on any node, within 24 h gets the first
    /// answer again (with `Idempotent-Replayed: true`) and the edit happens once. The same key
    /// with another request (method, path, user or body): 422 `idempotency_key_reused`; while
    /// the first is still running (or was interrupted): 409 `idempotency_in_flight` with
    /// `Retry-After`; a malformed key: 400 `idempotency_key_invalid`. Server errors, 408 and 429
    /// are not remembered: the retry runs again.
    #[serde(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}

/// For routes that need a signed-in user: the user is part of what makes a request the same.
/// The user found here is handed to the handler, so it is not looked up twice.
pub async fn signed_in(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if !applies(&req) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let user = match AuthUser::from_request_parts(&mut parts, &s).await {
        Ok(AuthUser(user)) => user,
        Err(e) => return e.into_response(),
    };
    let principal = format!("user:{}", user.id.0);
    parts.extensions.insert(Authenticated(user));
    remember(s, principal, parts, body, next)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// For login, which has no user yet.
pub async fn anonymous(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if !applies(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    remember(s, ANONYMOUS.to_owned(), parts, body, next)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn applies(req: &Request) -> bool {
    !req.method().is_safe() && req.headers().contains_key(HEADER)
}

async fn remember(
    s: AppState,
    principal: String,
    parts: Parts,
    body: Body,
    next: Next,
) -> Result<Response, ApiError> {
    let mut values = parts.headers.get_all(HEADER).iter();
    let (Some(raw), None) = (values.next(), values.next()) else {
        return Err(idempotency::IdempotencyError::Malformed.into());
    };
    let key = IdempotencyKey::parse(raw.as_bytes())?;
    let body = read_body(&parts, body).await?;
    let method = parts.method.as_str().to_owned();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());

    let (store, k, b) = (s.store.clone(), key.clone(), body.clone());
    let begun = blocking(move || {
        let shape = RequestShape {
            method: &method,
            path: &path,
            principal: &principal,
            body: &b,
        };
        idempotency::begin(store.as_ref(), &k, &shape, idempotency::now_ms())
    })
    .await?;
    if let Begin::Replay(answer) = begun {
        return Ok(replay(answer));
    }

    // The handler and the recording run in a task of their own: a client that hangs up, or the
    // request timeout, drops this future, but the edit may still commit, and its answer must
    // still be recorded for the retry that is surely coming.
    let store = s.store.clone();
    let req = Request::from_parts(parts, Body::from(body));
    let task = tokio::spawn(async move {
        let response = next.run(req).await;
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => bytes,
            // Nothing to remember: free the key for the retry.
            Err(e) => {
                let (store, k) = (store.clone(), key.clone());
                if let Err(e) = blocking(move || store.idempotency_release(&k.lookup())).await {
                    tracing::error!(error = ?e, "releasing an idempotency key failed");
                }
                return ApiError::internal(e).into_response();
            }
        };
        let answer = Answer {
            status: parts.status.as_u16(),
            headers: KEPT_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = parts.headers.get(*name)?;
                    Some(((*name).to_owned(), value.as_bytes().to_vec()))
                })
                .collect(),
            body: bytes.to_vec(),
        };
        // A failure here leaves the key reserved without an answer: retries get 409 until it
        // expires, never a second edit. This answer still goes out.
        if let Err(e) = blocking(move || idempotency::finish(store.as_ref(), &key, &answer)).await {
            tracing::error!(error = ?e, "recording an idempotent answer failed");
        }
        Response::from_parts(parts, Body::from(bytes))
    });
    task.await.map_err(ApiError::internal)
}

async fn read_body(parts: &Parts, body: Body) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a request with an Idempotency-Key may carry at most {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::bad_request("the request body was cut short or is too large"))
}

fn replay(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
