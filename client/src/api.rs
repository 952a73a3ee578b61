//! The HTTP client for the server's `/api/v1`: typed calls, timeouts, and retries with backoff for
//! the calls that are safe to repeat (reads, pushes the server deduplicates by id, and login and
//! playlist edits, which carry an `Idempotency-Key`).

use mixtape_shared::api::{
    ChangesPage, ErrorBody, Health, ImportPlaylistReport, LoginRequest, LoginResponse, PlayEvent,
    PostEventsRequest, PostEventsResponse, PushOpsRequest, PushOpsResponse, SearchResults,
};
use mixtape_shared::sync::PlaylistOp;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use std::io::Read;
use std::time::{Duration, Instant};

/// How long to wait for a connection before calling the server unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one JSON call may take in all.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts for a repeatable call, waiting 200 ms, 400 ms, ... between them.
const ATTEMPTS: u32 = 3;
/// The most a JSON answer may hold: a login, a push answer or a search of a thousand tracks is
/// well under 1 MiB, so anything past this is a wrong URL or a hostile server, not an answer.
pub const JSON_LIMIT: u64 = 8 << 20;
/// The most a change-feed page may hold: up to a thousand changes, and a playlist change carries
/// every entry (about 90 bytes each, so a 200k-entry playlist is some 20 MB).
pub const CHANGES_LIMIT: u64 = 128 << 20;
/// The most of an error answer that is read: its code and message are a few hundred bytes.
const ERROR_BODY_LIMIT: u64 = 64 << 10;
/// The header that makes a call safe to retry: the server (any node) runs a key's call once and
/// answers every retry of it with the first answer.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// A fresh key for one call: a UUIDv7, as the draft's sf-string. Every attempt of that call sends
/// the same key; another call gets another key.
fn idempotency_key() -> String {
    format!("\"{}\"", uuid::Uuid::now_v7())
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "server unreachable at {url}: {reason}; working offline, run `mixtape sync` when it is back"
    )]
    Unreachable { url: String, reason: String },
    #[error("the server refused the credentials ({message}): run `mixtape login URL` again")]
    Unauthorized { message: String },
    #[error("the server answered {status} {code}: {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
    #[error(
        "the server's answer is too large (more than {} MiB): check the server URL",
        limit >> 20
    )]
    TooLarge { limit: u64 },
    #[error(
        "the server did not finish answering within {} s; try again later",
        after.as_secs()
    )]
    Timeout { after: Duration },
    #[error("bad server URL {0:?}: give it as http://host:port")]
    BadUrl(String),
}

impl ApiError {
    /// Whether trying again later may succeed (the network or the server, not the request).
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Unreachable { .. } | ApiError::Timeout { .. } => true,
            ApiError::Server { status, .. } if *status >= 500 || *status == 429 => true,
            // The same call (same Idempotency-Key) is still running on the server: its answer
            // will be there for the retry.
            ApiError::Server { status, code, .. } => {
                *status == 409 && code == "idempotency_in_flight"
            }
            _ => false,
        }
    }

    /// The server could not be reached at all, or hung (as opposed to answering with an
    /// error): either way the client works offline.
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            ApiError::Unreachable { .. } | ApiError::Timeout { .. }
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A connection to one server, with or without a token.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    token: Option<String>,
    http: Client,
}

impl ApiClient {
    pub fn new(base: &str, token: Option<String>) -> ApiResult<Self> {
        let base = normalize_url(base)?;
        let http = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ApiError::Decode(format!("http client: {e}")))?;
        Ok(Self { base, token, http })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The underlying HTTP client, for downloads that stream bodies themselves.
    pub fn http(&self) -> &Client {
        &self.http
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorized(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// Sends `make()`'s request, retrying with backoff while the failure is retryable.
    fn send_retrying(
        &self,
        repeatable: bool,
        make: impl Fn() -> RequestBuilder,
    ) -> ApiResult<(Response, Deadline)> {
        let attempts = if repeatable { ATTEMPTS } else { 1 };
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << (attempt - 1)));
            }
            let deadline = Deadline::after(REQUEST_TIMEOUT);
            match self.authorized(make()).send() {
                Ok(resp) => match check(resp, deadline) {
                    Ok(resp) => return Ok((resp, deadline)),
                    Err(e) if e.is_retryable() => last = Some(e),
                    Err(e) => return Err(e),
                },
                Err(e) => {
                    let e = self.transport_error(e, REQUEST_TIMEOUT);
                    // A refused connection will not be accepted 200 ms later: give up at once so
                    // an offline start never waits.
                    if e.is_offline() && attempt == 0 && !repeatable {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
            tracing::debug!(attempt, "retrying {:?}", last);
        }
        Err(last.unwrap_or_else(|| ApiError::Decode("no attempt made".into())))
    }

    /// A failed send; `timeout` is the one the call had.
    fn transport_error(&self, e: reqwest::Error, timeout: Duration) -> ApiError {
        if e.is_timeout() {
            return ApiError::Timeout { after: timeout };
        }
        if e.is_decode() || e.is_body() {
            return ApiError::Decode(e.to_string());
        }
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        ApiError::Unreachable {
            url: self.base.clone(),
            reason,
        }
    }

    fn get_json<T: DeserializeOwned>(&self, path: &str, limit: u64) -> ApiResult<T> {
        let url = self.url(path);
        let (resp, deadline) = self.send_retrying(true, || self.http.get(&url))?;
        read_json(resp, limit, deadline)
    }

    fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        repeatable: bool,
    ) -> ApiResult<T> {
        let url = self.url(path);
        let (resp, deadline) =
            self.send_retrying(repeatable, || self.http.post(&url).json(body))?;
        read_json(resp, JSON_LIMIT, deadline)
    }

    /// A quick reachability check (no retries, short timeout): the connectivity probe.
    pub fn health(&self) -> ApiResult<Health> {
        let deadline = Deadline::after(CONNECT_TIMEOUT);
        let resp = self
            .http
            .get(self.url("/healthz"))
            .timeout(CONNECT_TIMEOUT)
            .send()
            .map_err(|e| self.transport_error(e, CONNECT_TIMEOUT))?;
        read_json(check(resp, deadline)?, JSON_LIMIT, deadline)
    }

    /// Repeatable: with its key, a retry after a lost answer gets the same token, not a second
    /// session.
    pub fn login(&self, username: &str, password: &str) -> ApiResult<LoginResponse> {
        let body = LoginRequest {
            username: username.into(),
            password: password.into(),
        };
        let url = self.url("/api/v1/auth/login");
        let key = idempotency_key();
        let (resp, deadline) = self.send_retrying(true, || {
            self.http
                .post(&url)
                .header(IDEMPOTENCY_KEY, &key)
                .json(&body)
        })?;
        read_json(resp, JSON_LIMIT, deadline)
    }

    /// Sets (Some) or removes (None) the user's Subsonic app password. Repeatable: the same
    /// request twice leaves the same state.
    pub fn set_subsonic_password(&self, password: Option<&str>) -> ApiResult<()> {
        let url = self.url("/api/v1/me/subsonic-password");
        let body = serde_json::json!({ "password": password });
        self.send_retrying(true, || match password {
            Some(_) => self.http.put(&url).json(&body),
            None => self.http.delete(&url),
        })?;
        Ok(())
    }

    /// A page of the change feed after `since`, the opaque cursor of the previous page.
    pub fn changes(&self, since: &str, limit: u32) -> ApiResult<ChangesPage> {
        let query: String = reqwest::Url::parse_with_params(
            "http://feed.invalid/",
            &[("since", since), ("limit", &limit.to_string())],
        )
        .ok()
        .and_then(|u| u.query().map(str::to_owned))
        .unwrap_or_default();
        self.get_json(&format!("/api/v1/changes?{query}"), CHANGES_LIMIT)
    }

    /// Pushes ops; repeatable because the server applies each op id once.
    pub fn push_ops(&self, ops: &[PlaylistOp]) -> ApiResult<PushOpsResponse> {
        let body = PushOpsRequest { ops: ops.to_vec() };
        self.post_json("/api/v1/sync/ops", &body, true)
    }

    /// Uploads events; repeatable because the server stores each event id once.
    pub fn post_events(&self, events: &[PlayEvent]) -> ApiResult<PostEventsResponse> {
        let body = PostEventsRequest {
            events: events.to_vec(),
        };
        self.post_json("/api/v1/events", &body, true)
    }

    pub fn search(&self, q: &str, limit: u32) -> ApiResult<SearchResults> {
        let url = self.url("/api/v1/search");
        let limit = limit.to_string();
        let (resp, deadline) = self.send_retrying(true, || {
            self.http.get(&url).query(&[("q", q), ("limit", &limit)])
        })?;
        read_json(resp, JSON_LIMIT, deadline)
    }

    /// Creates a playlist on the server from m3u8 text (the server matches library paths).
    /// Repeatable: with its key, a retry never makes a second playlist.
    pub fn import_m3u8(&self, text: &str, name: Option<&str>) -> ApiResult<ImportPlaylistReport> {
        let url = self.url("/api/v1/playlists/import");
        let key = idempotency_key();
        let (resp, deadline) = self.send_retrying(true, || {
            let req = self
                .http
                .post(&url)
                .header(IDEMPOTENCY_KEY, &key)
                .header(reqwest::header::CONTENT_TYPE, "audio/x-mpegurl")
                .body(text.to_string());
            match name {
                Some(n) => req.query(&[("name", n)]),
                None => req,
            }
        })?;
        read_json(resp, JSON_LIMIT, deadline)
    }

    /// "For you": tracks picked from the user's listening by the server's recommender.
    pub fn recommendations(&self, limit: u32) -> ApiResult<Vec<mixtape_shared::api::Track>> {
        let value: serde_json::Value = self.get_json(
            &format!("/api/v1/recommendations/for-you?limit={limit}"),
            JSON_LIMIT,
        )?;
        // A list of tracks, either bare or as items with a `track` (and a score or reason).
        let list = value
            .as_array()
            .or_else(|| value.get("tracks").and_then(|v| v.as_array()))
            .or_else(|| value.get("items").and_then(|v| v.as_array()))
            .ok_or_else(|| ApiError::Decode("recommendations: no list of tracks".into()))?;
        list.iter()
            .map(|item| {
                let track = item.get("track").unwrap_or(item);
                serde_json::from_value(track.clone()).map_err(|e| ApiError::Decode(e.to_string()))
            })
            .collect()
    }

    /// The server's transcoding profiles (`original` first).
    pub fn profiles(&self) -> ApiResult<Vec<mixtape_shared::api::TranscodeProfile>> {
        self.get_json("/api/v1/profiles", JSON_LIMIT)
    }

    /// The exact size of a track in every profile (computed by the server, nothing encoded).
    pub fn renditions(
        &self,
        track: mixtape_shared::TrackId,
    ) -> ApiResult<mixtape_shared::api::Renditions> {
        self.get_json(
            &format!("/api/v1/tracks/{}/renditions", track.0),
            JSON_LIMIT,
        )
    }

    /// A track's lyrics; `None` when the server has none for it (404 `no_lyrics`).
    pub fn lyrics(
        &self,
        id: mixtape_shared::TrackId,
    ) -> ApiResult<Option<mixtape_shared::api::Lyrics>> {
        match self.get_json(&format!("/api/v1/tracks/{}/lyrics", id.0), JSON_LIMIT) {
            Ok(lyrics) => Ok(Some(lyrics)),
            Err(ApiError::Server {
                status: 404, code, ..
            }) if code == "no_lyrics" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The content-addressed URL of a track's audio.
    pub fn media_url(&self, content_hash: &str) -> String {
        self.url(&format!("/api/v1/media/{content_hash}"))
    }

    pub fn art_url(&self, art_hash: &str) -> String {
        self.url(&format!("/api/v1/art/{art_hash}"))
    }
}

/// When a call's answer must have arrived in full: reqwest's blocking body reads restart their
/// timeout at every read, so a server that drips a byte a second would never time out.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    fn passed(&self) -> ApiError {
        ApiError::Timeout {
            after: self.timeout,
        }
    }
}

/// Turns an error status into an [`ApiError`] with the server's stable code.
fn check(resp: Response, deadline: Deadline) -> ApiResult<Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let (code, message) = match read_json::<ErrorBody>(resp, ERROR_BODY_LIMIT, deadline) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => (
            "unknown".to_string(),
            status.canonical_reason().unwrap_or("error").to_string(),
        ),
    };
    if status == StatusCode::UNAUTHORIZED {
        return Err(ApiError::Unauthorized { message });
    }
    Err(ApiError::Server {
        status: status.as_u16(),
        code,
        message,
    })
}

/// Reads a JSON body of at most `limit` bytes by `deadline`. Never `Response::json`: that reads
/// whatever the server sends into memory. The Content-Length is checked first, then the body is
/// read through a `take`, so a chunked body without a length stops at the limit too; a body
/// still arriving at the deadline is a hang ([`ApiError::Timeout`]), not a bad answer.
fn read_json<T: DeserializeOwned>(resp: Response, limit: u64, deadline: Deadline) -> ApiResult<T> {
    let declared = resp.content_length();
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut reader = resp.take(limit + 1);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(body_error(&e, deadline)),
        };
        body.extend_from_slice(&buf[..n]);
        if Instant::now() > deadline.at {
            return Err(deadline.passed());
        }
    }
    if body.len() as u64 > limit {
        return Err(ApiError::TooLarge { limit });
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::Decode(e.to_string()))
}

/// A failed body read: a timeout anywhere in the cause chain is [`ApiError::Timeout`].
fn body_error(e: &std::io::Error, deadline: Deadline) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        let timed_out = err
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
            || err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
        if timed_out {
            return deadline.passed();
        }
        // An io::Error made from another error hides it behind `get_ref`, not `source`.
        cause = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    ApiError::Decode(e.to_string())
}

/// `host:port` or a URL, without a trailing slash.
pub fn normalize_url(url: &str) -> ApiResult<String> {
    let url = url.trim().trim_end_matches('/');
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(url)
        }
        _ => Err(ApiError::BadUrl(url)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_gain_a_scheme_and_lose_the_trailing_slash() {
        assert_eq!(
            normalize_url("127.0.0.1:4870/").unwrap(),
            "http://127.0.0.1:4870"
        );
        assert_eq!(
            normalize_url("https://music.example/").unwrap(),
            "https://music.example"
        );
        assert!(normalize_url("ftp://x").is_err());
        assert!(normalize_url("").is_err());
    }

    /// A server on loopback that answers each connection with the next of `answers` (status,
    /// JSON body) and hands back every request's head.
    fn scripted_server(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    head.push_str(&line);
                }
                let mut body_in = vec![0u8; length];
                std::io::Read::read_exact(&mut reader, &mut body_in).unwrap();
                tx.send(head).unwrap();
                let mut stream = stream;
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        (base, rx)
    }

    fn idempotency_key_of(head: &str) -> Option<String> {
        head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case(IDEMPOTENCY_KEY)
                .then(|| value.trim().to_string())
        })
    }

    #[test]
    fn login_and_import_retry_with_one_key_per_call() {
        let in_flight = r#"{"error":{"code":"idempotency_in_flight","message":"running"}}"#;
        let unavailable = r#"{"error":{"code":"database_unavailable","message":"down"}}"#;
        let (base, heads) = scripted_server(vec![
            (503, unavailable),
            (409, in_flight),
            (
                200,
                r#"{"token":"t1","expires_at":0,"user":{"id":1,"username":"ann","is_admin":false}}"#,
            ),
            (
                200,
                r#"{"token":"t2","expires_at":0,"user":{"id":1,"username":"ann","is_admin":false}}"#,
            ),
            (503, unavailable),
            (201, "{}"),
        ]);
        let client = ApiClient::new(&base, None).unwrap();
        assert_eq!(client.login("ann", "pw").unwrap().token, "t1");
        assert_eq!(client.login("ann", "pw").unwrap().token, "t2");
        // Its answer's shape is not the point here, only the attempts' keys.
        let _ = client.import_m3u8("#EXTM3U\n", Some("x"));
        let keys: Vec<String> = heads
            .try_iter()
            .map(|h| idempotency_key_of(&h).expect("every attempt carries the key"))
            .collect();
        assert_eq!(keys.len(), 6, "{keys:?}");
        // One call, one key across its attempts; another call, another key.
        assert_eq!(keys[0], keys[1]);
        assert_eq!(keys[1], keys[2]);
        assert_ne!(keys[3], keys[2]);
        assert_eq!(keys[4], keys[5]);
        assert_ne!(keys[4], keys[3]);
        for key in &keys {
            let uuid: uuid::Uuid = key.trim_matches('"').parse().unwrap();
            assert_eq!(uuid.get_version_num(), 7, "{key}");
            assert!(
                key.starts_with('"') && key.ends_with('"'),
                "an sf-string: {key}"
            );
        }
    }

    #[test]
    fn an_unreachable_server_is_reported_at_once_and_as_offline() {
        // Port 9 on loopback: nothing listens there, so the connection is refused.
        let client = ApiClient::new("http://127.0.0.1:9", None).unwrap();
        let started = std::time::Instant::now();
        let err = client.health().unwrap_err();
        assert!(err.is_offline(), "{err}");
        assert!(started.elapsed() < CONNECT_TIMEOUT);
        assert!(err.to_string().contains("working offline"));
    }
}
