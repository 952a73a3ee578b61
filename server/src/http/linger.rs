//! A refused upload is read to its end before the refusal goes out, as nginx's lingering close
//! does. A server that answers early and closes with the body unread resets the connection, and
//! a client still sending then sees a broken pipe instead of the answer: a too-large playlist
//! import reached the user as "broken pipe", not as "too large". Reading what is left, within a
//! bound in bytes and in time, lets the client finish, read the refusal and keep the connection.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, EXPECT};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// The most of a body read after its handler answered; a body declared larger is not read at
/// all, and its connection is closed as before.
const MAX_LINGER_BYTES: u64 = 64 * 1024 * 1024;
/// The longest a refused upload is waited for (a client that trickles is cut off).
const MAX_LINGER_TIME: Duration = Duration::from_secs(10);

/// Middleware: hands the handler a body that comes back here if it is dropped unfinished, and
/// reads that rest before the answer is sent.
pub async fn read_refused_uploads(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if req.body().is_end_stream() || declared.is_some_and(|n| n > MAX_LINGER_BYTES) {
        return next.run(req).await;
    }
    // A client that waits for "100 Continue" sends nothing until the body is first read; one
    // refused before that has nothing on the way, and reading would only invite the body.
    let waits_to_send = req
        .headers()
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let left_unread = Arc::new(Mutex::new(None));
    let req = req.map(|body| {
        Body::new(ReturnedIfUnread {
            body: Some(body),
            started: !waits_to_send,
            home: left_unread.clone(),
        })
    });
    let response = next.run(req).await;
    let unread = left_unread.lock().ok().and_then(|mut slot| slot.take());
    if let Some(body) = unread {
        read_and_discard(body).await;
    }
    response
}

async fn read_and_discard(body: Body) {
    let mut chunks = body.into_data_stream();
    let reading = async {
        let mut read = 0u64;
        while let Some(Ok(chunk)) = chunks.next().await {
            read += chunk.len() as u64;
            if read > MAX_LINGER_BYTES {
                break;
            }
        }
    };
    if tokio::time::timeout(MAX_LINGER_TIME, reading)
        .await
        .is_err()
    {
        tracing::debug!("a refused upload was still arriving; its connection is closed");
    }
}

/// The request's body, put back into `home` when dropped before its end once it has started.
struct ReturnedIfUnread {
    body: Option<Body>,
    /// Whether the client is sending: it did not wait for "100 Continue", or it got one.
    started: bool,
    home: Arc<Mutex<Option<Body>>>,
}

impl HttpBody for ReturnedIfUnread {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.started = true;
        match self.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for ReturnedIfUnread {
    fn drop(&mut self) {
        if let Some(body) = self
            .body
            .take()
            .filter(|b| self.started && !b.is_end_stream())
            && let Ok(mut home) = self.home.lock()
        {
            *home = Some(body);
        }
    }
}
