//! The request span of the trace layer, with credentials taken out of the logged URI: Subsonic
//! clients send passwords, tokens and API keys in the query string.

use axum::http::Request;
use tracing::Span;

/// Query keys whose values are secrets (compared without case, after percent-decoding).
const SECRET_KEYS: &[&str] = &["p", "t", "s", "apikey", "token", "password"];

/// What `TraceLayer::new_for_http` logs (method, URI, version at DEBUG), secrets redacted.
pub fn request_span<B>(request: &Request<B>) -> Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %redacted_uri(request.uri()),
        version = ?request.version(),
    )
}

pub fn redacted_uri(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.to_string();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            let secret = SECRET_KEYS
                .iter()
                .any(|k| decoded(key).eq_ignore_ascii_case(k));
            if secret {
                format!("{key}=<redacted>")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{}?{}", uri.path(), redacted.join("&"))
}

/// Form decoding of a query key (`+` is a space, `%XX` a byte), so `%70=` is seen as `p=`.
fn decoded(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(s: &str) -> String {
        redacted_uri(&s.parse().unwrap())
    }

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact("/rest/ping?u=admin&p=SuperSecretPW123&f=json"),
            "/rest/ping?u=admin&p=<redacted>&f=json"
        );
        assert_eq!(
            redact("/rest/ping?apiKey=mk_LEAKTEST&v=1.16.1"),
            "/rest/ping?apiKey=<redacted>&v=1.16.1"
        );
        assert_eq!(
            redact("/rest/ping?u=a&t=26719a1196d2a940705a59634eb18eab&s=c19b2d"),
            "/rest/ping?u=a&t=<redacted>&s=<redacted>"
        );
        assert_eq!(
            redact("/x?%70=hidden&APIKEY=k&token=x&password=y&pp=kept"),
            "/x?%70=<redacted>&APIKEY=<redacted>&token=<redacted>&password=<redacted>&pp=kept"
        );
        assert_eq!(redact("/api/v1/tracks?limit=5"), "/api/v1/tracks?limit=5");
        assert_eq!(redact("/api/v1/tracks"), "/api/v1/tracks");
        assert_eq!(redact("/x?p"), "/x?p=<redacted>");
        assert_eq!(decoded("%7"), "%7");
        assert_eq!(decoded("a%zz+"), "a%zz ");
    }
}
