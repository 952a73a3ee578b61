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

    // On a new connection: the server closes the one whose 10 MiB body it refused unread, and
    // a pooled connection can be reused just before that close lands (seen in a full run).
    let r = reqwest::Client::new()
        .get(s.url("/api/v1/albums/null"))
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 400);
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
