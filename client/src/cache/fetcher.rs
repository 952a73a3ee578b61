//! `Fetcher`: the HTTP side of the cache: audio through the track's signed `media_url` (which an
//! edge cache may serve), else `GET /api/v1/media/{hash}` with the token; `/api/v1/art/{hash}`.
//!
//! A signed URL is sent without the token (it may point at another host). The mirror may hold
//! one for days, past its expiry: on 403 or 410 the fetcher asks the server for a fresh one
//! (`GET /api/v1/media-url/{hash}`) once, and failing that uses the authenticated route.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, IF_MATCH, RANGE};

use super::CacheError;
use super::error::chain;

/// Where the fetcher finds the `media_url` the server handed out for a content hash (the
/// mirror's copy of the tracks: `mirror::MirrorMediaUrls`).
pub trait MediaUrls: Send + Sync {
    fn media_url(&self, hash: &str) -> Option<String>;
}

/// Talks to one server with one login token. Cheap to clone (the connection pool is shared), so
/// every download thread gets its own copy.
#[derive(Clone)]
pub struct Fetcher {
    base_url: String,
    token: String,
    client: Client,
    media_urls: Option<Arc<dyn MediaUrls>>,
    /// Per hash: the URL to use now (refreshed, or the mirror's), or `None` once a signed URL
    /// failed even fresh: then the authenticated route. Shared by the clones.
    resolved: Arc<Mutex<HashMap<String, Option<String>>>>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the token: Debug output ends up in logs.
        f.debug_struct("Fetcher")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// What the server answered to a media request.
pub(crate) enum MediaBody {
    /// 200: the whole file from byte 0 (also the answer to a range request the server ignored).
    Whole(Response),
    /// 206: the requested range.
    Rest(Response),
    /// 416: the offset is not inside the file; the partial download is useless.
    Unsatisfiable,
}

impl Fetcher {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// How long one read may wait for data; a whole download may take much longer.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new(base_url: &str, token: &str) -> Result<Self, CacheError> {
        Self::with_timeouts(
            base_url,
            token,
            Self::DEFAULT_CONNECT_TIMEOUT,
            Self::DEFAULT_READ_TIMEOUT,
        )
    }

    pub fn with_timeouts(
        base_url: &str,
        token: &str,
        connect: Duration,
        read: Duration,
    ) -> Result<Self, CacheError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        // reqwest's blocking `timeout` applies to each wait (response head, every body read),
        // not to the whole transfer, so it is the read timeout we want for long files.
        let client = Client::builder()
            .connect_timeout(connect)
            .timeout(read)
            .user_agent(concat!("mixtape/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CacheError::Client {
                base_url: base_url.clone(),
                detail: chain(&e),
            })?;
        Ok(Self {
            base_url,
            token: token.to_owned(),
            client,
            media_urls: None,
            resolved: Arc::default(),
        })
    }

    /// Fetches audio through the signed URLs `urls` knows (otherwise by token).
    pub fn with_media_urls(mut self, urls: Arc<dyn MediaUrls>) -> Self {
        self.media_urls = Some(urls);
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The JSON API of the same server with the same token (for what goes with the audio:
    /// lyrics).
    pub fn api(&self) -> crate::api::ApiResult<crate::api::ApiClient> {
        crate::api::ApiClient::new(&self.base_url, Some(self.token.clone()))
    }

    /// A `media_url` made absolute: relative ones are relative to the server's address.
    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else {
            format!("{}/{}", self.base_url, url.trim_start_matches('/'))
        }
    }

    /// The signed URL to try for `hash`, if any.
    fn signed_url(&self, hash: &str) -> Option<String> {
        let known = self
            .resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned();
        match known {
            Some(url) => url,
            None => self
                .media_urls
                .as_ref()?
                .media_url(hash)
                .map(|u| self.absolute(&u)),
        }
    }

    fn remember(&self, hash: &str, url: Option<String>) {
        self.resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash.to_owned(), url);
    }

    /// A freshly signed URL for `hash` from the server, or `None` (an older server, an error).
    fn fresh_url(&self, hash: &str) -> Option<String> {
        let url = format!("{}/api/v1/media-url/{hash}", self.base_url);
        let response = self
            .client
            .get(&url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .send()
            .ok()?;
        if response.status() != StatusCode::OK {
            tracing::debug!(status = %response.status(), "no fresh media URL");
            return None;
        }
        // A tiny JSON object; anything large is not the answer we asked for.
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(response, 64 * 1024), &mut body)
            .ok()?;
        let answer: mixtape_shared::api::MediaUrl = serde_json::from_slice(&body).ok()?;
        Some(self.absolute(&answer.media_url))
    }

    /// Requests the audio file `hash`: bytes `from..end` (`end: None` for the rest of the
    /// file). `If-Match` makes the server refuse (412) rather than send bytes of another file
    /// to be put beside our partial one.
    pub(crate) fn media(
        &self,
        hash: &str,
        from: u64,
        end: Option<u64>,
    ) -> Result<MediaBody, CacheError> {
        let mut refreshed = false;
        while let Some(url) = self.signed_url(hash) {
            match self.media_from(&url, None, hash, hash, from, end) {
                Err(CacheError::Unauthorized { status }) | Err(CacheError::Http { status, .. })
                    if status == 403 || status == 410 =>
                {
                    // Expired (the mirror keeps URLs for days) or signed with an older key.
                    let fresh = if refreshed {
                        None
                    } else {
                        self.fresh_url(hash)
                    };
                    tracing::info!(
                        status,
                        hash,
                        refreshed = fresh.is_some(),
                        "signed media URL refused"
                    );
                    refreshed = true;
                    self.remember(hash, fresh);
                }
                Err(CacheError::Network { detail, .. }) if !refreshed => {
                    // The edge may be down while the server is up: use the server.
                    tracing::warn!(hash, %detail, "signed media URL unreachable; asking the server");
                    refreshed = true;
                    self.remember(hash, None);
                }
                answer => return answer,
            }
        }
        let url = format!("{}/api/v1/media/{hash}", self.base_url);
        self.media_from(&url, Some(&self.token), hash, hash, from, end)
    }

    /// Requests the rendition of `hash` in `profile` from byte `from` on, by token. `If-Match`
    /// names the rendition's ETag (`{hash}.{profile}`): a changed encoder is a new profile id,
    /// so the bytes resumed are the ones held.
    pub(crate) fn rendition(
        &self,
        hash: &str,
        profile: &str,
        from: u64,
    ) -> Result<MediaBody, CacheError> {
        let url = format!("{}/api/v1/media/{hash}/{profile}", self.base_url);
        let what = format!("{hash}/{profile}");
        let etag = format!("{hash}.{profile}");
        self.media_from(&url, Some(&self.token), &what, &etag, from, None)
    }

    /// One media request to `url` (with the token when it is the authenticated route); `hash`
    /// names the file in errors, `etag` is what a range request must still match.
    fn media_from(
        &self,
        url: &str,
        token: Option<&str>,
        hash: &str,
        etag: &str,
        from: u64,
        end: Option<u64>,
    ) -> Result<MediaBody, CacheError> {
        let url = url.to_owned();
        let mut request = self.client.get(&url);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let range = match end {
            Some(end) if end > from => Some(format!("bytes={from}-{}", end - 1)),
            _ if from > 0 => Some(format!("bytes={from}-")),
            _ => None,
        };
        if let Some(range) = range {
            request = request
                .header(RANGE, range)
                .header(IF_MATCH, format!("\"{etag}\""));
        }
        let response = request.send().map_err(|e| CacheError::Network {
            what: hash.to_owned(),
            detail: chain(&e),
        })?;
        match response.status() {
            StatusCode::OK => Ok(MediaBody::Whole(response)),
            StatusCode::PARTIAL_CONTENT => {
                let start = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(content_range_start);
                if start == Some(from) {
                    Ok(MediaBody::Rest(response))
                } else {
                    tracing::warn!(?start, from, "server answered the wrong range");
                    Err(CacheError::Http { status: 206, url })
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(MediaBody::Unsatisfiable),
            status => Err(status_error(status, hash, url)),
        }
    }

    /// Requests cover art `hash` (the original image, whole).
    pub(crate) fn art(&self, hash: &str) -> Result<Response, CacheError> {
        let url = format!("{}/api/v1/art/{hash}", self.base_url);
        let response = self
            .client
            .get(&url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .send()
            .map_err(|e| CacheError::Network {
                what: format!("cover art {hash}"),
                detail: chain(&e),
            })?;
        match response.status() {
            StatusCode::OK => Ok(response),
            status => Err(status_error(status, hash, url)),
        }
    }
}

fn status_error(status: StatusCode, hash: &str, url: String) -> CacheError {
    match status {
        StatusCode::NOT_FOUND => CacheError::NotFound {
            hash: hash.to_owned(),
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CacheError::Unauthorized {
            status: status.as_u16(),
        },
        StatusCode::PRECONDITION_FAILED => CacheError::Changed {
            hash: hash.to_owned(),
        },
        _ => CacheError::Http {
            status: status.as_u16(),
            url,
        },
    }
}

/// `bytes 100-199/200` → 100.
fn content_range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_start_is_parsed_and_garbage_refused() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes 0-0/1"), Some(0));
        assert_eq!(content_range_start("bytes */200"), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let f = Fetcher::new("http://127.0.0.1:1/", "s3cret").unwrap();
        assert_eq!(f.base_url(), "http://127.0.0.1:1");
        assert!(!format!("{f:?}").contains("s3cret"));
    }
}
