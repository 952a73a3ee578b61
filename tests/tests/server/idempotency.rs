//! The `Idempotency-Key` header on login and the REST playlist edits: a retry with the same key
//! gets the first answer and the edit happens once; the same key on another request is a 422,
//! on a request still running a 409; the remembered login answer holds no token in clear.

use crate::common::*;
use mixtape_server::idempotency::{IdempotencyKey, RequestShape};
use reqwest::{Method, Response};
use serde_json::{Value, json};

fn fresh_key() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Sends `body` (JSON unless null) with the key; the status, whether it was a replay, the body.
async fn keyed(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> (u16, bool, String) {
    let mut req = s.req(method, path, token).header("Idempotency-Key", key);
    if !body.is_null() {
        req = req.json(body);
    }
    split(req.send().await.unwrap()).await
}

async fn split(r: Response) -> (u16, bool, String) {
    let status = r.status().as_u16();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    (status, replayed, r.text().await.unwrap())
}

fn code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

async fn playlists_named(s: &TestServer, token: &str, name: &str) -> usize {
    let list = s.get_json("/api/v1/playlists", token).await;
    list.as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_create_gets_the_first_answer_and_makes_one_playlist() {
    let s = TestServer::demo().await;
    let token = s.user("ann").await;
    let key = fresh_key();
    let body = json!({"name": "Road trip"});
    let first = keyed(&s, Method::POST, "/api/v1/playlists", &token, &key, &body).await;
    assert_eq!(first.0, 201, "{}", first.2);
    assert!(!first.1, "the first answer is not a replay");
    for _ in 0..3 {
        let again = keyed(&s, Method::POST, "/api/v1/playlists", &token, &key, &body).await;
        assert_eq!(
            (again.0, &again.2),
            (201, &first.2),
            "the same answer, byte for byte"
        );
        assert!(again.1, "marked Idempotent-Replayed");
    }
    assert_eq!(playlists_named(&s, &token, "Road trip").await, 1);

    // Adding tracks: the retry does not add them twice.
    let id = serde_json::from_str::<Value>(&first.2).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tracks = s.track_ids().await;
    let path = format!("/api/v1/playlists/{id}/entries");
    let add = json!({"track_ids": &tracks[..3]});
    let key = fresh_key();
    let a = keyed(&s, Method::POST, &path, &token, &key, &add).await;
    let b = keyed(&s, Method::POST, &path, &token, &key, &add).await;
    assert_eq!(a.0, 200, "{}", a.2);
    assert_eq!((b.0, b.2), (a.0, a.2));
    let detail = s.get_json(&format!("/api/v1/playlists/{id}"), &token).await;
    assert_eq!(detail["entries"].as_array().unwrap().len(), 3, "{detail}");

    // A delete replayed answers like the first time (204), not 404.
    let key = fresh_key();
    let path = format!("/api/v1/playlists/{id}");
    let d1 = keyed(&s, Method::DELETE, &path, &token, &key, &Value::Null).await;
    let d2 = keyed(&s, Method::DELETE, &path, &token, &key, &Value::Null).await;
    assert_eq!((d1.0, d2.0, d2.1), (204, 204, true));

    // Without the header nothing changes: two creates make two playlists.
    for _ in 0..2 {
        let (status, _) = s
            .send(
                Method::POST,
                "/api/v1/playlists",
                &token,
                json!({"name": "Twice"}),
            )
            .await;
        assert_eq!(status, 201);
    }
    assert_eq!(playlists_named(&s, &token, "Twice").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_used_for_another_request_is_refused_and_a_bad_key_is_400() {
    let s = TestServer::demo().await;
    let ann = s.user("ann").await;
    let bob = s.user("bob").await;
    let key = fresh_key();
    let first = keyed(
        &s,
        Method::POST,
        "/api/v1/playlists",
        &ann,
        &key,
        &json!({"name": "A"}),
    )
    .await;
    assert_eq!(first.0, 201);
    // Another body, another path, another user: each is another request.
    let other_body = keyed(
        &s,
        Method::POST,
        "/api/v1/playlists",
        &ann,
        &key,
        &json!({"name": "B"}),
    )
    .await;
    let id = serde_json::from_str::<Value>(&first.2).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other_path = keyed(
        &s,
        Method::PATCH,
        &format!("/api/v1/playlists/{id}"),
        &ann,
        &key,
        &json!({"name": "A"}),
    )
    .await;
    let other_user = keyed(
        &s,
        Method::POST,
        "/api/v1/playlists",
        &bob,
        &key,
        &json!({"name": "A"}),
    )
    .await;
    for (what, answer) in [
        ("body", other_body),
        ("path", other_path),
        ("user", other_user),
    ] {
        assert_eq!(answer.0, 422, "other {what}: {}", answer.2);
        assert_eq!(code(&answer.2), "idempotency_key_reused", "other {what}");
    }
    assert_eq!(playlists_named(&s, &ann, "B").await, 0);
    assert_eq!(playlists_named(&s, &ann, "A").await, 1);

    for bad in ["", "\"\"", "has space", &"k".repeat(256)] {
        let r = keyed(
            &s,
            Method::POST,
            "/api/v1/playlists",
            &ann,
            bad,
            &json!({"name": "C"}),
        )
        .await;
        assert_eq!(r.0, 400, "key {bad:?}: {}", r.2);
        assert_eq!(code(&r.2), "idempotency_key_invalid");
    }
    assert_eq!(playlists_named(&s, &ann, "C").await, 0);

    // Unauthenticated: the same 401 as without a key, and nothing reserved.
    let r = keyed(
        &s,
        Method::POST,
        "/api/v1/playlists",
        "nope",
        &key,
        &json!({"name": "A"}),
    )
    .await;
    assert_eq!(r.0, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_while_the_first_runs_is_409_and_concurrent_retries_edit_once() {
    let s = TestServer::demo().await;
    let token = s.user("ann").await;
    let me = s.get_json("/api/v1/me", &token).await;
    let store = s.server.as_ref().unwrap().state.store.clone();

    // The first attempt is running (here: on another node, as far as this one knows).
    let key = fresh_key();
    let body = json!({"name": "Held"});
    let held = IdempotencyKey::parse(key.as_bytes()).unwrap();
    let body_bytes = serde_json::to_vec(&body).unwrap();
    let principal = format!("user:{}", me["id"]);
    let shape = RequestShape {
        method: "POST",
        path: "/api/v1/playlists",
        principal: &principal,
        body: &body_bytes,
    };
    let begun = mixtape_server::idempotency::begin(
        store.as_ref(),
        &held,
        &shape,
        mixtape_server::idempotency::now_ms(),
    )
    .unwrap();
    assert!(matches!(begun, mixtape_server::idempotency::Begin::Run));
    let r = s
        .req(Method::POST, "/api/v1/playlists", &token)
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.headers().contains_key("retry-after"), "{:?}", r.headers());
    assert_eq!(error_code(r).await, "idempotency_in_flight");
    assert_eq!(playlists_named(&s, &token, "Held").await, 0, "nothing ran");
    // The first attempt failed in a way worth retrying (it released the key): the retry runs.
    store.idempotency_release(&held.lookup()).unwrap();
    let r = keyed(&s, Method::POST, "/api/v1/playlists", &token, &key, &body).await;
    assert_eq!((r.0, r.1), (201, false), "{}", r.2);
    assert_eq!(playlists_named(&s, &token, "Held").await, 1);

    // Eight copies of one request at once: one runs, the others replay it or hear it is running.
    let key = fresh_key();
    let body = json!({"name": "Eight"});
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let req = s
                .req(Method::POST, "/api/v1/playlists", &token)
                .header("Idempotency-Key", &key)
                .json(&body);
            tokio::spawn(async move { split(req.send().await.unwrap()).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let created: Vec<_> = answers.iter().filter(|a| a.0 == 201).collect();
    assert!(!created.is_empty(), "{answers:?}");
    assert!(
        created.iter().all(|a| a.2 == created[0].2),
        "one answer: {answers:?}"
    );
    assert_eq!(
        created.iter().filter(|a| !a.1).count(),
        1,
        "one made now: {answers:?}"
    );
    for a in answers.iter().filter(|a| a.0 != 201) {
        assert_eq!(
            (a.0, code(&a.2).as_str()),
            (409, "idempotency_in_flight"),
            "{a:?}"
        );
    }
    assert_eq!(playlists_named(&s, &token, "Eight").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_login_gives_the_same_token_which_is_not_stored_in_clear() {
    let s = TestServer::demo().await;
    let key = fresh_key();
    let login = |key: String| {
        let s = &s;
        async move {
            let r = s
                .http
                .post(s.url("/api/v1/auth/login"))
                .header("Idempotency-Key", format!("\"{key}\""))
                .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
                .send()
                .await
                .unwrap();
            split(r).await
        }
    };
    let first = login(key.clone()).await;
    let again = login(key.clone()).await;
    assert_eq!(first.0, 200, "{}", first.2);
    assert_eq!((again.0, &again.2, again.1), (200, &first.2, true));
    let token = serde_json::from_str::<Value>(&first.2).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.get_json("/api/v1/me", &token).await["username"], "admin");
    // A new key is a new login: another token.
    let other = login(fresh_key()).await;
    assert_ne!(other.2, first.2);

    // The stored row: no token, no key, no password, in any column.
    let db = rusqlite::Connection::open_with_flags(
        s.data.join("mixtape.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let rows: Vec<Vec<u8>> = db
        .prepare("SELECT lookup, fingerprint, answer FROM idempotency_keys")
        .unwrap()
        .query_map([], |r| {
            let mut row: Vec<u8> = r.get(0)?;
            row.extend(r.get::<_, Vec<u8>>(1)?);
            row.extend(r.get::<_, Option<Vec<u8>>>(2)?.unwrap_or_default());
            Ok(row)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2, "one row per key");
    for row in &rows {
        for secret in [token.as_bytes(), key.as_bytes(), ADMIN_PASSWORD.as_bytes()] {
            assert!(
                !row.windows(secret.len()).any(|w| w == secret),
                "a stored row holds {:?}",
                String::from_utf8_lossy(secret)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_header_is_documented_on_login_and_every_playlist_edit() {
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
    let edits = [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/playlists", "post"),
        ("/api/v1/playlists/import", "post"),
        ("/api/v1/playlists/{id}", "patch"),
        ("/api/v1/playlists/{id}", "delete"),
        ("/api/v1/playlists/{id}/entries", "post"),
        ("/api/v1/playlists/{id}/entries/{entry}", "delete"),
        ("/api/v1/playlists/{id}/entries/{entry}/move", "post"),
        ("/api/v1/sync/ops", "post"),
    ];
    for (path, method) in edits {
        let params = doc["paths"][path][method]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            params
                .iter()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
            "{method} {path}: {params:?}"
        );
        let responses = &doc["paths"][path][method]["responses"];
        assert!(
            responses["409"].is_object() && responses["422"].is_object(),
            "{method} {path}"
        );
    }
}
