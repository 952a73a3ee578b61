//! Authentication and authorization: logins, tokens, API keys, throttling, playlist privacy.

use crate::common::*;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

/// A client whose requests come from `address` (any 127.0.0.0/8 address reaches the server).
fn from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

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
    // This client has failures: it waits, even with the right password.
    let r = attempt(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(r.status(), 429, "the failing client waits");
    assert!(r.headers().contains_key("retry-after"));
    // Another client of the same user (another address) has none: it is not refused.
    let r = from("127.0.0.2")
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a correct password from a clean client");

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
    // Expiry is counted in whole seconds, so a 1 s token can lapse before its first use: 5 s
    // leaves a loaded machine room for that use, then the test waits for the lapse.
    let s = TestServer::demo_with(|c| c.token_ttl_secs = 5).await;
    let token = s.login("admin", ADMIN_PASSWORD).await.token;
    let me = || async {
        s.req(Method::GET, "/api/v1/me", &token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(me().await, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while me().await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the token never expired"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

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

async fn login_status(
    client: &reqwest::Client,
    s: &TestServer,
    user: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> u16 {
    let mut req = client
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": user, "password": password}));
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    // Not trusted: a forged header does not make a new client.
    let s = TestServer::demo().await;
    let c = from("127.0.0.3");
    for i in 0..5 {
        let fake = format!("198.51.100.{i}");
        assert_eq!(
            login_status(&c, &s, "admin", "wrong", Some(&fake)).await,
            401
        );
    }
    assert_eq!(
        login_status(&c, &s, "admin", "wrong", Some("198.51.100.99")).await,
        429
    );

    // Behind a trusted proxy, each forwarded client is counted on its own.
    let s = TestServer::demo_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    let proxy = from("127.0.0.4");
    for _ in 0..5 {
        assert_eq!(
            login_status(&proxy, &s, "admin", "wrong", Some("198.51.100.7")).await,
            401
        );
    }
    assert_eq!(
        login_status(&proxy, &s, "admin", ADMIN_PASSWORD, Some("198.51.100.7")).await,
        429
    );
    // A client cannot spoof its way out: the proxy appends the real address last. (Asked
    // before the next login, whose password hashing would eat into the 1 s block.)
    assert_eq!(
        login_status(
            &proxy,
            &s,
            "admin",
            ADMIN_PASSWORD,
            Some("198.51.100.9, 198.51.100.7")
        )
        .await,
        429
    );
    assert_eq!(
        login_status(&proxy, &s, "admin", ADMIN_PASSWORD, Some("198.51.100.8")).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn password_changes_offer_to_revoke_keys_and_the_app_password() {
    let s = TestServer::demo().await;
    async fn credentials(s: &TestServer, token: &str) -> String {
        let (status, key) = s
            .send(
                Method::POST,
                "/api/v1/api-keys",
                token,
                json!({"name": "phone"}),
            )
            .await;
        assert_eq!(status, 201);
        let (status, _) = s
            .send(
                Method::PUT,
                "/api/v1/me/subsonic-password",
                token,
                json!({"password": "an-app-password"}),
            )
            .await;
        assert_eq!(status, 204);
        key["secret"].as_str().unwrap().to_string()
    }
    async fn works(s: &TestServer, user: &str, key: &str) -> (bool, bool) {
        let key_ok = s
            .req(Method::GET, "/api/v1/me", key)
            .send()
            .await
            .unwrap()
            .status()
            == 200;
        let t = hex::encode(<md5::Md5 as md5::Digest>::digest(b"an-app-passwordabcdef"));
        let v: serde_json::Value = s
            .http
            .get(s.url(&format!("/rest/ping?u={user}&t={t}&s=abcdef&f=json")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (key_ok, v["subsonic-response"]["status"] == "ok")
    }
    let carol = s.user("carol").await;
    let carol_id = s.get_json("/api/v1/me", &carol).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/users/{carol_id}/password");

    // Own change: keys and the app password stay unless asked.
    let key = credentials(&s, &carol).await;
    let (status, _) = s
        .send(
            Method::PUT,
            &path,
            &carol,
            json!({"password": "carol-password2"}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(works(&s, "carol", &key).await, (true, true));
    let carol = s.login("carol", "carol-password2").await.token;
    let (status, _) = s
        .send(
            Method::PUT,
            &path,
            &carol,
            json!({"password": "carol-password3", "revoke_all": true}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(works(&s, "carol", &key).await, (false, false));

    // Admin reset: everything is revoked by default, kept when asked.
    let carol = s.login("carol", "carol-password3").await.token;
    let key = credentials(&s, &carol).await;
    let (status, _) = s
        .send(
            Method::PUT,
            &path,
            &s.admin_token,
            json!({"password": "carol-password4", "revoke_all": false}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(works(&s, "carol", &key).await, (true, true));
    let (status, _) = s
        .send(
            Method::PUT,
            &path,
            &s.admin_token,
            json!({"password": "carol-password5"}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(works(&s, "carol", &key).await, (false, false));
    assert_eq!(
        s.req(Method::GET, "/api/v1/me", &carol)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "login tokens always go"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_with_an_api_key_says_how_to_revoke_it() {
    let s = TestServer::demo().await;
    let (status, key) = s
        .send(
            Method::POST,
            "/api/v1/api-keys",
            &s.admin_token,
            json!({"name": "script"}),
        )
        .await;
    assert_eq!(status, 201);
    let secret = key["secret"].as_str().unwrap();
    let r = s
        .req(Method::POST, "/api/v1/auth/logout", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_a_session");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DELETE /api/v1/api-keys/")
    );
    assert_eq!(
        s.req(Method::GET, "/api/v1/me", secret)
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the key was not revoked behind the caller's back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_subsonic_key_stops_the_start_only_when_it_sealed_something() {
    let mut s = TestServer::demo().await;
    let key_path = s.data.join("subsonic.key");
    let config = |s: &TestServer| {
        let mut c =
            mixtape_server::Config::embedded(s.library.canonicalize().unwrap(), s.data.clone());
        c.initial_scan = false;
        c
    };
    // A 0-byte key (a full disk while it was made) with nothing sealed: replaced, and app
    // passwords can be set (not a 422 forever).
    s.stop().await;
    std::fs::write(&key_path, b"").unwrap();
    s.start_again().await;
    let token = s.login("admin", ADMIN_PASSWORD).await.token;
    let (status, body) = s
        .send(
            Method::PUT,
            "/api/v1/me/subsonic-password",
            &token,
            json!({"password": "an-app-password"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(std::fs::read(&key_path).unwrap().len(), 32);

    // With an app password sealed, a short or missing key is a clear start-up error.
    s.stop().await;
    for damage in [Some(&b"short"[..]), None] {
        match damage {
            Some(bytes) => std::fs::write(&key_path, bytes).unwrap(),
            None => std::fs::remove_file(&key_path).unwrap(),
        }
        let error = match mixtape_server::start(config(&s)).await {
            Ok(_) => panic!("started without the key that seals an app password"),
            Err(e) => e.to_string(),
        };
        assert!(
            error.contains("subsonic.key") && error.contains("sealed"),
            "{error}"
        );
    }
}
