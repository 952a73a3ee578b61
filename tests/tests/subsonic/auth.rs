//! Authentication: API keys, passwords (plain and `enc:`), tokens over the app password only.

use crate::common::ADMIN_PASSWORD;
use crate::support::*;
use reqwest::Method;

fn hexed(s: &str) -> String {
    format!("enc:{}", hex::encode(s.as_bytes()))
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_and_passwords_authenticate() {
    let sub = Sub::new().await;
    let key = sub.key.clone();
    let j = |v: Vec<(&'static str, String)>| v;
    let ok_cases = [
        j(vec![("apiKey", key.clone())]),
        j(vec![("u", "admin".into()), ("p", ADMIN_PASSWORD.into())]),
        j(vec![("u", "admin".into()), ("p", hexed(ADMIN_PASSWORD))]),
    ];
    for creds in &ok_cases {
        let mut p: Vec<(&str, &str)> = creds.iter().map(|(k, v)| (*k, v.as_str())).collect();
        p.push(("f", "json"));
        let v = sub
            .json_raw(
                "getUser",
                &[p.as_slice(), &[("username", "admin")]].concat(),
            )
            .await;
        assert_eq!(ok(&v)["user"]["username"], "admin");
        assert_eq!(v["user"]["adminRole"], true);
        p.retain(|(k, _)| *k != "f");
        xml_ok(&sub.xml_raw("ping", &p).await);
    }
    let bad_cases: [(Vec<(&str, &str)>, u64); 7] = [
        (vec![], 10),
        (vec![("u", "admin")], 10),
        (vec![("apiKey", "mk_nope")], 44),
        (vec![("apiKey", &key), ("u", "admin")], 43),
        (vec![("u", "admin"), ("p", "wrong-password")], 40),
        (vec![("u", "nobody"), ("p", "whatever-1")], 40),
        (vec![("u", "admin"), ("p", "x"), ("t", "y"), ("s", "z")], 43),
    ];
    for (creds, code) in &bad_cases {
        let mut p = creds.clone();
        p.push(("f", "json"));
        failed(&sub.json_raw("ping", &p).await, *code);
        xml_failed(&sub.xml_raw("ping", creds).await, *code);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn token_auth_needs_an_app_password_kept_encrypted() {
    let sub = Sub::new().await;
    let token = |password: &str, salt: &str| md5_hex(&format!("{password}{salt}"));
    // No app password yet: token auth is refused with 40 (as a wrong token is, so tokens
    // cannot probe who has an app password), even with the login password.
    let t = token(ADMIN_PASSWORD, "c19b2d");
    let creds = [("u", "admin"), ("t", t.as_str()), ("s", "c19b2d")];
    failed(
        &sub.json_raw("ping", &[&creds[..], &[("f", "json")]].concat())
            .await,
        40,
    );
    xml_failed(&sub.xml_raw("ping", &creds).await, 40);
    // Unknown users get the same answer.
    failed(
        &sub.json_raw(
            "ping",
            &[("u", "nobody"), ("t", &t), ("s", "c19b2d"), ("f", "json")],
        )
        .await,
        40,
    );

    let app_password = "subsonic-app-pass";
    let (status, body) = sub
        .s
        .send(
            Method::PUT,
            "/api/v1/me/subsonic-password",
            &sub.s.admin_token,
            serde_json::json!({"password": app_password}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = sub
        .s
        .send(
            Method::PUT,
            "/api/v1/me/subsonic-password",
            &sub.s.admin_token,
            serde_json::json!({"password": "short"}),
        )
        .await;
    assert_eq!(status, 422);

    for salt in ["c19b2d", "another-salt"] {
        let t = token(app_password, salt);
        let creds = [("u", "admin"), ("t", t.as_str()), ("s", salt)];
        ok(&sub
            .json_raw("ping", &[&creds[..], &[("f", "json")]].concat())
            .await);
        xml_ok(&sub.xml_raw("ping", &creds).await);
    }
    // Upper-case hex tokens are fine too; a wrong one is 40.
    let upper = token(app_password, "s1").to_uppercase();
    ok(&sub
        .json_raw(
            "ping",
            &[("u", "admin"), ("t", &upper), ("s", "s1"), ("f", "json")],
        )
        .await);
    let wrong = token("not-it", "s1");
    failed(
        &sub.json_raw(
            "ping",
            &[("u", "admin"), ("t", &wrong), ("s", "s1"), ("f", "json")],
        )
        .await,
        40,
    );
    failed(
        &sub.json_raw("ping", &[("u", "admin"), ("t", &wrong), ("f", "json")])
            .await,
        10,
    );
    // The app password also works as p.
    ok(&sub
        .json_raw(
            "ping",
            &[("u", "admin"), ("p", &hexed(app_password)), ("f", "json")],
        )
        .await);

    // Stored sealed: not in the database in clear; the key is in the data folder.
    let db = std::fs::read(sub.s.data.join("mixtape.db")).unwrap();
    let wal = std::fs::read(sub.s.data.join("mixtape.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes
                .windows(app_password.len())
                .any(|w| w == app_password.as_bytes())
        );
    }
    assert_eq!(
        std::fs::read(sub.s.data.join("subsonic.key"))
            .unwrap()
            .len(),
        32
    );

    // Cleared: back to 40.
    let (status, _) = sub
        .s
        .send(
            Method::DELETE,
            "/api/v1/me/subsonic-password",
            &sub.s.admin_token,
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(status, 204);
    let t = token(app_password, "c19b2d");
    failed(
        &sub.json_raw(
            "ping",
            &[("u", "admin"), ("t", &t), ("s", "c19b2d"), ("f", "json")],
        )
        .await,
        40,
    );
    // The REST endpoints need a signed-in user.
    let (status, _) = sub
        .s
        .send(
            Method::DELETE,
            "/api/v1/me/subsonic-password",
            "nope",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_api_key_acts_as_that_user() {
    let sub = Sub::new().await;
    let token = sub.s.user("listener").await;
    let key = api_key(&sub.s, &token).await;
    let v = sub
        .json_raw(
            "getUser",
            &[("apiKey", &key), ("f", "json"), ("username", "listener")],
        )
        .await;
    assert_eq!(ok(&v)["user"]["username"], "listener");
    assert_eq!(v["user"]["adminRole"], false);
    // A login token is not an API key.
    failed(
        &sub.json_raw("ping", &[("apiKey", &token), ("f", "json")])
            .await,
        44,
    );
}

/// The error of a Subsonic answer (as `json_raw` returns it): (code, message).
fn error_of(v: &serde_json::Value) -> (u64, String) {
    let e = &v["error"];
    (
        e["code"].as_u64().unwrap(),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn token_answers_do_not_reveal_app_passwords_and_are_throttled() {
    let sub = Sub::new().await;
    let token = |password: &str, salt: &str| md5_hex(&format!("{password}{salt}"));
    let with_app = sub.s.user("withapp").await;
    sub.s.user("without").await;
    let (status, _) = sub
        .s
        .send(
            Method::PUT,
            "/api/v1/me/subsonic-password",
            &with_app,
            serde_json::json!({"password": "the-app-password"}),
        )
        .await;
    assert_eq!(status, 204);
    let wrong = token("guess", "salt1");
    let ping = |u: &'static str, t: String| {
        let sub = &sub;
        async move {
            sub.json_raw(
                "ping",
                &[("u", u), ("t", &t), ("s", "salt1"), ("f", "json")],
            )
            .await
        }
    };
    // A wrong token, no app password, no such user: one answer.
    let answers = [
        error_of(&ping("withapp", wrong.clone()).await),
        error_of(&ping("without", wrong.clone()).await),
        error_of(&ping("nobody", wrong.clone()).await),
    ];
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 40);
    // Each is a failed attempt: after the free ones, the client waits.
    for _ in 0..4 {
        ping("without", wrong.clone()).await;
    }
    let (code, message) = error_of(&ping("without", wrong.clone()).await);
    assert_eq!(code, 40);
    assert!(message.contains("too many failed attempts"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_sending_a_wrong_token_locks_out_nothing_else() {
    let sub = Sub::new().await;
    let owner = sub.s.user("owner").await;
    let (status, _) = sub
        .s
        .send(
            Method::PUT,
            "/api/v1/me/subsonic-password",
            &owner,
            serde_json::json!({"password": "owner-app-password"}),
        )
        .await;
    assert_eq!(status, 204);
    // The misconfigured phone, over and over.
    let stale = md5_hex("old-app-passwordsalt9");
    for _ in 0..12 {
        failed(
            &sub.json_raw(
                "ping",
                &[("u", "owner"), ("t", &stale), ("s", "salt9"), ("f", "json")],
            )
            .await,
            40,
        );
    }
    // From the same address: the terminal client's login, and an app using p.
    sub.s.login("owner", "owner-password").await;
    ok(&sub
        .json_raw(
            "ping",
            &[("u", "owner"), ("p", "owner-app-password"), ("f", "json")],
        )
        .await);
    ok(&sub
        .json_raw(
            "ping",
            &[("u", "owner"), ("p", "owner-password"), ("f", "json")],
        )
        .await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remembered_password_is_not_held_up_by_failures() {
    let sub = Sub::new().await;
    sub.s.user("carol").await;
    ok(&sub
        .json_raw(
            "ping",
            &[("u", "carol"), ("p", "carol-password"), ("f", "json")],
        )
        .await);
    // Another app from the same address guesses wrong until it is throttled.
    for _ in 0..6 {
        sub.json_raw(
            "ping",
            &[("u", "carol"), ("p", "wrong-guess"), ("f", "json")],
        )
        .await;
    }
    let (_, message) = error_of(
        &sub.json_raw(
            "ping",
            &[("u", "carol"), ("p", "wrong-guess"), ("f", "json")],
        )
        .await,
    );
    assert!(message.contains("too many failed attempts"), "{message}");
    // The working app's password matched a moment ago: it still gets in.
    ok(&sub
        .json_raw(
            "ping",
            &[("u", "carol"), ("p", "carol-password"), ("f", "json")],
        )
        .await);
}

/// Admins manage users through `/rest` as through `/api/v1/users`: create (with an `enc:`
/// password, as DSub sends it), list, reset a password, delete; users change their own
/// password; nobody else manages anyone.
#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_users_and_users_change_their_own_password() {
    let sub = Sub::new().await;
    ok(&sub
        .json(
            "createUser",
            &[
                ("username", "robin"),
                ("password", &hexed("robin-password-1")),
                ("email", "robin@example.org"),
            ],
        )
        .await);
    failed(
        &sub.json(
            "createUser",
            &[("username", "robin"), ("password", "another-password")],
        )
        .await,
        0,
    );
    let users = sub.json("getUsers", &[]).await;
    let names: Vec<&str> = ok(&users)["users"]["user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "robin"]);
    let as_robin = |password: &'static str| vec![("u", "robin"), ("p", password), ("f", "json")];
    ok(&sub.json_raw("ping", &as_robin("robin-password-1")).await);
    // Robin is not an admin: no user list, no new users, no one else's password.
    failed(
        &sub.json_raw("getUsers", &as_robin("robin-password-1"))
            .await,
        50,
    );
    failed(
        &sub.json_raw(
            "createUser",
            &[
                as_robin("robin-password-1"),
                vec![("username", "eve"), ("password", "eve-password-1")],
            ]
            .concat(),
        )
        .await,
        50,
    );
    failed(
        &sub.json_raw(
            "changePassword",
            &[
                as_robin("robin-password-1"),
                vec![("username", "admin"), ("password", "taken-over-1")],
            ]
            .concat(),
        )
        .await,
        50,
    );
    // Robin changes their own password; then the admin resets it.
    ok(&sub
        .json_raw(
            "changePassword",
            &[
                as_robin("robin-password-1"),
                vec![("username", "robin"), ("password", "robin-password-2")],
            ]
            .concat(),
        )
        .await);
    failed(
        &sub.json_raw("ping", &as_robin("robin-password-1")).await,
        40,
    );
    ok(&sub.json_raw("ping", &as_robin("robin-password-2")).await);
    ok(&sub
        .json(
            "updateUser",
            &[("username", "robin"), ("password", "robin-password-3")],
        )
        .await);
    ok(&sub.json_raw("ping", &as_robin("robin-password-3")).await);
    // Deleting: not oneself; robin goes.
    failed(&sub.json("deleteUser", &[("username", "admin")]).await, 50);
    ok(&sub.json("deleteUser", &[("username", "robin")]).await);
    failed(
        &sub.json_raw("ping", &as_robin("robin-password-3")).await,
        40,
    );
    failed(&sub.json("deleteUser", &[("username", "robin")]).await, 70);
    // A password in a broken `enc:` form is a bad parameter, not a failed sign-in.
    failed(
        &sub.json("createUser", &[("username", "kim"), ("password", "enc:zz")])
            .await,
        10,
    );
}
