//! `Fetcher`: the HTTP side of the cache, `GET /api/v1/media/{hash}` and `/api/v1/art/{hash}`.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, IF_MATCH, RANGE};

use super::CacheError;
use super::error::chain;

/// Talks to one server with one login token. Cheap to clone (the connection pool is shared), so
/// every download thread gets its own copy.
#[derive(Clone)]
pub struct Fetcher {
    base_url: String,
    token: String,
    client: Client,
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
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
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
        let url = format!("{}/api/v1/media/{hash}", self.base_url);
        let mut request = self
            .client
            .get(&url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token));
        let range = match end {
            Some(end) if end > from => Some(format!("bytes={from}-{}", end - 1)),
            _ if from > 0 => Some(format!("bytes={from}-")),
            _ => None,
        };
        if let Some(range) = range {
            request = request
                .header(RANGE, range)
                .header(IF_MATCH, format!("\"{hash}\""));
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
