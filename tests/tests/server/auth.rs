//! Authentication and authorization: logins, tokens, API keys, throttling, playlist privacy.

use crate::common::*;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_but_health_and_login_needs_credentials() {
    let s = TestServer::demo().await;
    for path in [
        "/api/v1/tracks",
        "/api/v1/albums",
        "/api/v1/search?q=a",
        "/api/v1/scan",
        "/api/v1/changes",
        "/api/v1/playlists",
        "/api/v1/tracks/1/stream",
        "/api/v1/me",
    ] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without a token");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(error_code(r).await, "unauthorized");
        let r = s
            .http
            .get(s.url(path))
            .bearer_auth("mt_not-a-real-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with a made-up token");
    }
    assert_eq!(
        s.http.get(s.url("/healthz")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        s.http.get(s.url("/readyz")).send().await.unwrap().status(),
        200
    );
    let doc: serde_json::Value = s
        .http
        .get(s.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/tracks/{id}/stream"].is_object());
    assert!(doc["paths"]["/api/v1/changes"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_are_refused_then_throttled() {
    let s = TestServer::demo().await;
    let attempt = |password: &'static str| {
        s.http
            .post(s.url("/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": password}))
            .send()
    };
    let r = attempt("wrong").await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(error_code(r).await, "bad_credentials");
    for _ in 0..4 {
        attempt("wrong").await.unwrap();
    }
    let r = attempt(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(r.status(), 429, "locked out even with the right password");
    assert!(r.headers().contains_key("retry-after"));

    let r = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "nobody", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "bad_request");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_expire_and_logout_revokes_them() {
    let s = TestServer::demo_with(|c| c.token_ttl_secs = 1).await;
    let token = s.login("admin", ADMIN_PASSWORD).await.token;
    assert_eq!(
        s.req(Method::GET, "/api/v1/me", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        s.req(Method::GET, "/api/v1/me", &token)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "expired"
    );

    let token = s.login("admin", ADMIN_PASSWORD).await.token;
    assert_eq!(
        s.req(Method::POST, "/api/v1/auth/logout", &token)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.req(Method::GET, "/api/v1/me", &token)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "revoked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_work_until_deleted_and_admins_manage_users() {
    let s = TestServer::demo().await;
    let alice = s.user("alice").await;
    let key: serde_json::Value = s
        .req(Method::POST, "/api/v1/api-keys", &alice)
        .json(&json!({"name": "phone"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = key["secret"].as_str().unwrap();
    let me = s.get_json("/api/v1/me", secret).await;
    assert_eq!(me["username"], "alice");
    let keys = s.get_json("/api/v1/api-keys", &alice).await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(keys[0].get("secret").is_none(), "secrets are shown once");
    let id = key["id"].as_i64().unwrap();
    assert_eq!(
        s.req(Method::DELETE, &format!("/api/v1/api-keys/{id}"), &alice)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.req(Method::GET, "/api/v1/me", secret)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Only admins manage users; weak passwords and duplicate names are refused.
    let r = s
        .req(Method::GET, "/api/v1/users", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (status, _) = s
        .send(
            Method::POST,
            "/api/v1/users",
            &alice,
            json!({"username": "mallory", "password": "longenough"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = s
        .send(
            Method::POST,
            "/api/v1/users",
            &s.admin_token,
            json!({"username": "bob", "password": "short"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = s
        .send(
            Method::POST,
            "/api/v1/users",
            &s.admin_token,
            json!({"username": "ALICE", "password": "longenough"}),
        )
        .await;
    assert_eq!(status, 409);
    let users = s.admin_get("/api/v1/users").await;
    assert_eq!(users.as_array().unwrap().len(), 2);
    // Changing a password signs the user out everywhere.
    let alice_id = me["id"].as_i64().unwrap();
    let r = s
        .req(
            Method::PUT,
            &format!("/api/v1/users/{alice_id}/password"),
            &alice,
        )
        .json(&json!({"password": "a-new-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.req(Method::GET, "/api/v1/me", &alice)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    s.login("alice", "a-new-password").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn private_playlists_stay_private_and_public_ones_read_only() {
    let s = TestServer::demo().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let track = s.all_tracks().await[0]["id"].as_i64().unwrap();
    let created: serde_json::Value = s
        .req(Method::POST, "/api/v1/playlists", &bob)
        .json(&json!({"name": "bob's secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/playlists/{id}");
    for (method, p, body) in [
        (Method::GET, path.clone(), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"name": "mine now"})),
        ),
        (Method::DELETE, path.clone(), None),
        (
            Method::POST,
            format!("{path}/entries"),
            Some(json!({"track_ids": [track]})),
        ),
        (Method::GET, format!("{path}/m3u8"), None),
    ] {
        let mut req = s.req(method.clone(), &p, &alice);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        assert_eq!(
            r.status(),
            404,
            "{method} {p}: another user's private playlist does not exist for alice"
        );
    }
    let listed = s.get_json("/api/v1/playlists", &alice).await;
    assert!(listed.as_array().unwrap().is_empty());
    // Alice cannot take the id either.
    let r = s
        .req(Method::POST, "/api/v1/playlists", &alice)
        .json(&json!({"id": id, "name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    let r = s
        .req(Method::PATCH, &path, &bob)
        .json(&json!({"public": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.get_json(&path, &alice).await["name"], "bob's secret");
    let r = s
        .req(Method::PATCH, &path, &alice)
        .json(&json!({"name": "mine now"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s.req(Method::DELETE, &path, &alice).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.get_json(&path, &bob).await["name"], "bob's secret");
}
