//! Every error answer is the JSON envelope `{"error": {"code", "message"}}`, including the ones
//! made outside our handlers (the router's 405, axum's 413), and the OpenAPI document lists the
//! error statuses the routes really give.

use crate::common::*;
use reqwest::Method;
use serde_json::Value;

async fn envelope(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{status}: {content_type}"
    );
    let body: Value = r.json().await.unwrap();
    let code = body["error"]["code"].as_str().unwrap().to_owned();
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty(), "{body}");
    (status, code, message)
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_made_outside_the_handlers_are_json_too() {
    let s = TestServer::demo().await;
    let r = s
        .req(Method::OPTIONS, "/api/v1/playlists", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 405);
    let r = s
        .req(Method::DELETE, "/api/v1/tracks", &s.admin_token)
        .send()
        .await
        .unwrap();
    let (status, code, _) = envelope(r).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));

    let r = s
        .req(
            Method::POST,
            "/api/v1/playlists/import?name=huge",
            &s.admin_token,
        )
        .header("content-type", "audio/x-mpegurl")
        .body(vec![b'x'; 10 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let (status, code, _) = envelope(r).await;
    assert_eq!((status, code.as_str()), (413, "too_large"));

    // The same pooled connection: the server read the refused body to its end, so it kept it.
    let r = s
        .req(Method::GET, "/api/v1/albums/null", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 400);
}

/// Writes an import of `declared` bytes with `more_headers`, then `sent` bytes of body, and reads
/// the first answer.
async fn upload_raw(
    s: &TestServer,
    more_headers: &str,
    declared: usize,
    sent: usize,
) -> (std::io::Result<()>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/playlists/import?name=huge HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Type: audio/x-mpegurl\r\n\
         Content-Length: {declared}\r\n{more_headers}\r\n",
        s.admin_token
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let written = socket.write_all(&vec![b'x'; sent]).await;
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(8), socket.read(&mut answer))
        .await
        .expect("the refusal comes without waiting for a body nobody will read")
        .unwrap_or(0);
    (
        written,
        String::from_utf8_lossy(&answer[..read]).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_upload_is_read_to_its_end_so_the_client_hears_why() {
    let s = TestServer::demo().await;
    // 40 MiB is more than the socket buffers hold: a server that stopped reading at its 8 MiB
    // limit and closed would reset this write (a broken pipe instead of the answer).
    let size = 40 * 1024 * 1024;
    let (written, answer) = upload_raw(&s, "", size, size).await;
    written.expect("the whole body is taken");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"too_large""#), "{answer}");

    // A declared length over the limit is refused at once, without reading the body...
    let (_, answer) = upload_raw(&s, "", 1 << 30, 0).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // ... and a client that waits for "100 Continue" is not invited to send it.
    let (_, answer) = upload_raw(&s, "Expect: 100-continue\r\n", size, 0).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_lists_401_and_400_where_routes_give_them() {
    let s = TestServer::demo().await;
    let doc: Value = s
        .http
        .get(s.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = &op["responses"];
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                secured += 1;
                assert!(responses["401"].is_object(), "{method} {path} lacks 401");
            }
            if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
                assert!(responses["400"].is_object(), "{method} {path} lacks 400");
            }
        }
    }
    assert!(secured > 30, "only {secured} secured operations");
    assert!(doc["paths"]["/api/v1/playlists"]["post"]["responses"]["507"].is_object());
}
