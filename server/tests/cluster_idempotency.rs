//! `Idempotency-Key` across nodes: two `mixtape-server` processes on one PostgreSQL database. A
//! retry that a balancer sends to the other node gets the first answer, and the edit happens
//! once; a retry that arrives there while the first node is still working is a 409.

mod common;
#[path = "cluster/engines.rs"]
mod engines;
#[path = "cluster/nodes.rs"]
mod nodes;

use mixtape_server::storage::postgres::scratch::ScratchDatabase;
use nodes::{ADMIN_PASSWORD, Deployment, Node};
use serde_json::{Value, json};
use std::time::Duration;

/// Status, whether `Idempotent-Replayed: true` was set, and the body.
fn keyed(node: &Node, method: &str, path: &str, key: &str, body: &Value) -> (u16, bool, String) {
    send(node, Some(&node.token), method, path, key, body)
}

fn send(
    node: &Node,
    token: Option<&str>,
    method: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, bool, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = node
        .http
        .request(method, format!("{}{path}", node.base))
        .header("Idempotency-Key", key);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if !body.is_null() {
        req = req.json(body);
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    (status, replayed, r.text().unwrap())
}

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn playlists_named(node: &Node, name: &str) -> Vec<Value> {
    node.get("/api/v1/playlists")
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .cloned()
        .collect()
}

#[test]
fn a_retry_on_the_other_node_gets_the_first_answer_and_edits_once() {
    let db = ScratchDatabase::for_test("idem_nodes");
    let deploy = Deployment::demo(db.url(), &[], None);
    // Every change-recording commit waits 1 s, so an edit is still running on one node when
    // its retry reaches the other.
    let slow = [("MIXTAPE_TEST_COMMIT_DELAY_MS", "1000")];
    let a = deploy.node("a", &slow);
    let mut b = deploy.node("b", &slow);
    deploy.wait_scan_idle(&a);

    // Login: the retry on B hands out the token A made.
    let login_key = key();
    let creds = json!({"username": "admin", "password": ADMIN_PASSWORD});
    let first = send(&a, None, "POST", "/api/v1/auth/login", &login_key, &creds);
    let retry = send(&b, None, "POST", "/api/v1/auth/login", &login_key, &creds);
    assert_eq!(first.0, 200, "{}", first.2);
    assert_eq!((retry.0, &retry.2, retry.1), (200, &first.2, true));

    // Create on A, retry on B: one playlist, one answer.
    let create_key = key();
    let body = json!({"name": "Across nodes"});
    let made = keyed(&a, "POST", "/api/v1/playlists", &create_key, &body);
    assert_eq!((made.0, made.1), (201, false), "{}", made.2);
    let again = keyed(&b, "POST", "/api/v1/playlists", &create_key, &body);
    assert_eq!((again.0, &again.2, again.1), (201, &made.2, true));
    assert_eq!(playlists_named(&b, "Across nodes").len(), 1);
    let id = serde_json::from_str::<Value>(&made.2).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Add tracks on A; the balancer gives up on A mid-edit and retries on B. Whichever node
    // reserved the key first does the edit (A, unless A was slower to start than B); the other
    // says it is under way (409) instead of doing it again; then both replay the one answer.
    let tracks: Vec<i64> = a.get("/api/v1/tracks?limit=3")["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    let add_key = key();
    let add = json!({"track_ids": tracks});
    let path = format!("/api/v1/playlists/{id}/entries");
    let (on_a, on_b) = std::thread::scope(|s| {
        let on_a = s.spawn(|| keyed(&a, "POST", &path, &add_key, &add));
        std::thread::sleep(Duration::from_millis(200));
        let on_b = keyed(&b, "POST", &path, &add_key, &add);
        (on_a.join().unwrap(), on_b)
    });
    let (done, refused) = if on_a.0 == 200 {
        (on_a, on_b)
    } else {
        (on_b, on_a)
    };
    assert_eq!((done.0, done.1), (200, false), "{}", done.2);
    assert_eq!(refused.0, 409, "{}", refused.2);
    assert!(refused.2.contains("idempotency_in_flight"), "{}", refused.2);
    for node in [&a, &b] {
        let replay = keyed(node, "POST", &path, &add_key, &add);
        assert_eq!(
            (replay.0, &replay.2, replay.1),
            (200, &done.2, true),
            "on {}",
            node.name
        );
    }
    let detail = b.get(&format!("/api/v1/playlists/{id}"));
    assert_eq!(detail["entries"].as_array().unwrap().len(), 3, "{detail}");

    // The same key on B with another body: refused, not applied.
    let other = keyed(
        &b,
        "POST",
        &path,
        &add_key,
        &json!({"track_ids": [tracks[0]]}),
    );
    assert_eq!(other.0, 422, "{}", other.2);
    assert!(other.2.contains("idempotency_key_reused"), "{}", other.2);

    // A stopped node loses nothing: the record is in the database, not in A.
    drop(a);
    let after = keyed(&b, "POST", "/api/v1/playlists", &create_key, &body);
    assert_eq!((after.0, &after.2), (201, &made.2));
    assert_eq!(playlists_named(&b, "Across nodes").len(), 1);

    // The rows hold no token in clear.
    let token = serde_json::from_str::<Value>(&first.2).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let rows = client
        .query(
            "SELECT lookup || fingerprint || coalesce(answer, ''::bytea) FROM idempotency_keys",
            &[],
        )
        .unwrap();
    assert!(rows.len() >= 3, "{} rows", rows.len());
    for row in rows {
        let bytes: Vec<u8> = row.get(0);
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()));
    }
    b.kill();
}
