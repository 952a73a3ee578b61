//! Scale-out settings: `--database`, `--read-replica`, `--redis`, `--secret-file`, `--node-id`,
//! the drain and shutdown-grace times; their errors; and what an embedded server does with
//! them (media is `private` to caches, `/readyz` says `draining`).

use clap::Parser;
use mixtape_server::config::{self, Args, ConfigError, Database, DeploySecret};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `mixtape-server` flags over a fresh library folder (no config file, no data-dir default).
fn args(dir: &Path, flags: &[&str]) -> Args {
    let library = dir.join("library");
    std::fs::create_dir_all(&library).unwrap();
    let missing_config = dir.join("no-config.toml");
    std::fs::write(&missing_config, "").unwrap();
    let mut argv = vec![
        "mixtape-server".to_string(),
        "--library".into(),
        library.display().to_string(),
        "--data-dir".into(),
        dir.join("data").display().to_string(),
        "--config".into(),
        missing_config.display().to_string(),
    ];
    argv.extend(flags.iter().map(|s| s.to_string()));
    Args::try_parse_from(argv).unwrap()
}

fn secret_file(dir: &Path, len: usize) -> PathBuf {
    let path = dir.join(format!("secret-{len}"));
    std::fs::write(&path, vec![7u8; len]).unwrap();
    path
}

const PG: &str = "postgres://mixtape:hunter22@127.0.0.1:5432/mixtape";

#[test]
fn the_embedded_default_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let c = config::resolve(args(dir.path(), &[])).unwrap();
    assert_eq!(c.database, Database::Sqlite(None));
    assert_eq!(c.database_path(), dir.path().join("data/mixtape.db"));
    assert!(c.secret.is_none() && c.redis.is_none() && c.read_replicas.is_empty());
    assert_eq!(c.drain_secs, 0);
    assert_eq!(c.shutdown_grace_secs, 10);
    let port = c.listen.port();
    assert!(c.node_id.ends_with(&format!(":{port}")), "{}", c.node_id);

    let file = dir.path().join("elsewhere.db");
    let c = config::resolve(args(
        dir.path(),
        &["--database", &format!("sqlite:{}", file.display())],
    ))
    .unwrap();
    assert_eq!(c.database_path(), file);
}

#[test]
fn postgres_needs_a_secret_file_of_32_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let err = config::resolve(args(dir.path(), &["--database", PG])).unwrap_err();
    assert!(matches!(err, ConfigError::NoSecretFile), "{err}");
    assert!(err.to_string().contains("--secret-file"), "{err}");

    let short = secret_file(dir.path(), 31);
    let err = config::resolve(args(
        dir.path(),
        &["--database", PG, "--secret-file", short.to_str().unwrap()],
    ))
    .unwrap_err();
    assert!(matches!(err, ConfigError::ShortSecret(_, 31)), "{err}");
    assert!(err.to_string().contains("at least 32"), "{err}");

    let missing = dir.path().join("nope");
    let err = config::resolve(args(
        dir.path(),
        &["--database", PG, "--secret-file", missing.to_str().unwrap()],
    ))
    .unwrap_err();
    assert!(matches!(err, ConfigError::ReadSecret(..)), "{err}");

    let good = secret_file(dir.path(), 32);
    let c = config::resolve(args(
        dir.path(),
        &[
            "--database",
            PG,
            "--secret-file",
            good.to_str().unwrap(),
            "--read-replica",
            "postgresql://reader:s3cret@127.0.0.1:5433/mixtape",
            "--read-replica",
            "postgres://127.0.0.1:5434/mixtape",
            "--redis",
            "redis://:redispw@127.0.0.1:6379/0",
            "--node-id",
            "node-a",
        ],
    ))
    .unwrap();
    assert_eq!(c.database, Database::Postgres(PG.into()));
    assert_eq!(c.read_replicas.len(), 2);
    assert!(c.secret.is_some());
    assert_eq!(c.node_id, "node-a");
    assert_eq!(c.drain_secs, 5, "postgres drains 5 s by default");
    let shown = c.redacted();
    for secret in ["hunter22", "s3cret", "redispw"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        shown.contains("node_id=node-a") && shown.contains("127.0.0.1:5433"),
        "{shown}"
    );
    assert!(!format!("{c:?}").contains("\\u{7}"));
}

#[test]
fn bad_urls_are_clear_start_errors() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path(), 40);
    let secret = secret.to_str().unwrap();
    let resolve = |flags: &[&str]| config::resolve(args(dir.path(), flags)).unwrap_err();

    let err = resolve(&["--database", "mysql://root:pw@localhost/db"]);
    assert!(matches!(err, ConfigError::BadDatabase(_)), "{err}");
    assert!(!err.to_string().contains(":pw@"), "{err}");
    assert!(err.to_string().contains("postgres://"), "{err}");
    assert!(matches!(
        resolve(&["--database", "sqlite:"]),
        ConfigError::BadDatabase(_)
    ));
    let err = resolve(&[
        "--database",
        "postgres://u:pw@host:notaport/db",
        "--secret-file",
        secret,
    ]);
    assert!(matches!(err, ConfigError::BadDatabaseUrl(..)), "{err}");
    assert!(!err.to_string().contains(":pw@"), "{err}");
    assert!(matches!(
        resolve(&["--read-replica", "postgres://127.0.0.1:5433/x"]),
        ConfigError::ReplicasWithoutPostgres
    ));
    assert!(matches!(
        resolve(&[
            "--database",
            PG,
            "--secret-file",
            secret,
            "--read-replica",
            "http://x"
        ]),
        ConfigError::BadReplicaUrl(..)
    ));
    assert!(matches!(
        resolve(&["--redis", "memcached://127.0.0.1"]),
        ConfigError::BadRedisUrl(..)
    ));
    assert!(matches!(
        resolve(&["--node-id", "has space"]),
        ConfigError::BadNodeId
    ));
}

#[test]
fn the_config_file_takes_the_same_settings() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path(), 64);
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        format!(
            "library = {:?}\ndatabase = {PG:?}\nread_replicas = [\"postgres://127.0.0.1:5433/m\"]\nredis = \"redis://127.0.0.1:6379\"\nsecret_file = {:?}\nnode_id = \"n1\"\ndrain_secs = 2\nshutdown_grace_secs = 3\n",
            dir.path(),
            secret
        ),
    )
    .unwrap();
    let argv = [
        "mixtape-server",
        "--config",
        file.to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
    ];
    let c = config::resolve(Args::try_parse_from(argv).unwrap()).unwrap();
    assert!(c.database.is_postgres());
    assert_eq!(c.read_replicas, ["postgres://127.0.0.1:5433/m"]);
    assert_eq!(c.redis.as_deref(), Some("redis://127.0.0.1:6379"));
    assert_eq!(
        (c.node_id.as_str(), c.drain_secs, c.shutdown_grace_secs),
        ("n1", 2, 3)
    );
    // A flag overrides the file.
    let mut argv = argv.to_vec();
    argv.extend(["--drain-secs", "0", "--node-id", "n2"]);
    let c = config::resolve(Args::try_parse_from(argv).unwrap()).unwrap();
    assert_eq!((c.node_id.as_str(), c.drain_secs), ("n2", 0));
}

#[test]
fn the_binary_refuses_postgres_without_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("library")).unwrap();
    std::fs::write(dir.path().join("empty.toml"), "").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixtape-server"))
        .args(["--library", dir.path().join("library").to_str().unwrap()])
        .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
        .args(["--database", PG])
        .env_remove("MIXTAPE_SECRET_FILE")
        .env("MIXTAPE_CONFIG", dir.path().join("empty.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--secret-file"), "{stderr}");
    assert!(!stderr.contains("hunter22"), "{stderr}");
}

#[test]
fn derived_keys_are_stable_and_differ_by_use() {
    let a = DeploySecret::from_bytes(vec![1; 32]).unwrap();
    let b = DeploySecret::from_bytes(vec![2; 32]).unwrap();
    assert_eq!(a.derive_key("x"), a.derive_key("x"));
    assert_ne!(a.derive_key("x"), a.derive_key("y"));
    assert_ne!(a.derive_key("x"), b.derive_key("x"));
    assert_eq!(DeploySecret::from_bytes(vec![0; 31]).err(), Some(31));
    assert!(!format!("{a:?}").contains('1'));
}

#[test]
fn app_passwords_sealed_on_one_node_open_on_another() {
    use mixtape_server::subsonic::SubsonicState;
    let secret = DeploySecret::from_bytes((0..48).collect()).unwrap();
    let (a, b) = (
        SubsonicState::with_secret(&secret),
        SubsonicState::with_secret(&secret),
    );
    let user = mixtape_shared::UserId(3);
    let sealed = a.keyring.seal(user, "app-password-1").unwrap();
    assert_eq!(
        b.keyring.open_secret(user, &sealed).unwrap(),
        "app-password-1"
    );
    // Bound to the user, and to the secret.
    assert!(
        b.keyring
            .open_secret(mixtape_shared::UserId(4), &sealed)
            .is_err()
    );
    let other = SubsonicState::with_secret(&DeploySecret::from_bytes(vec![9; 32]).unwrap());
    assert!(other.keyring.open_secret(user, &sealed).is_err());
}

// ---- An embedded server: cache headers and draining ----

const ADMIN_PASSWORD: &str = "scale-test-password";

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo")
}

async fn embedded(data: &Path) -> mixtape_server::app::RunningServer {
    let mut c = config::Config::embedded(demo_dir().canonicalize().unwrap(), data.to_path_buf());
    c.admin_password = Some(ADMIN_PASSWORD.into());
    // Long enough for a loaded machine to ask `/readyz` and be served during the drain.
    c.drain_secs = 5;
    mixtape_server::start(c).await.unwrap()
}

async fn login(http: &reqwest::Client, base: &str) -> String {
    let r: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn media_fetched_with_a_bearer_is_private_to_caches() {
    let dir = tempfile::tempdir().unwrap();
    let server = embedded(dir.path()).await;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let token = login(&http, &base).await;
    let mut track = serde_json::Value::Null;
    for _ in 0..1200 {
        let page: serde_json::Value = http
            .get(format!("{base}/api/v1/tracks?limit=1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(t) = page["items"].get(0) {
            track = t.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hash = track["content_hash"]
        .as_str()
        .expect("the demo library scanned");
    let id = track["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/media/{hash}"),
        format!("/api/v1/tracks/{id}/stream"),
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .header("range", "bytes=0-99")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206, "{path}");
        let cache = r.headers()["cache-control"].to_str().unwrap().to_string();
        assert!(cache.starts_with("private"), "{path}: {cache}");
        assert!(!cache.contains("public"), "{path}: {cache}");
    }
    let r = http
        .get(format!("{base}/api/v1/media/{hash}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["cache-control"],
        "private, max-age=31536000, immutable"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_says_draining_until_the_node_stops() {
    let dir = tempfile::tempdir().unwrap();
    let server = embedded(dir.path()).await;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let token = login(&http, &base).await;

    let stopping = tokio::spawn(server.drain_and_shutdown());
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    let r = loop {
        let r = http.get(format!("{base}/readyz")).send().await.unwrap();
        if r.status() == 503 || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "draining", "{body}");
    // Still serving while the load balancer moves away.
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let me = http
        .get(format!("{base}/api/v1/tracks?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    tokio::time::timeout(Duration::from_secs(30), stopping)
        .await
        .expect("the drain ends")
        .unwrap()
        .unwrap();
    let fresh = reqwest::Client::new();
    assert!(
        fresh.get(format!("{base}/healthz")).send().await.is_err(),
        "stopped accepting"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_feed_takes_an_opaque_since() {
    let dir = tempfile::tempdir().unwrap();
    let server = embedded(dir.path()).await;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let token = login(&http, &base).await;
    for (since, status) in [
        ("0", 200),
        ("12", 200),
        ("-1", 400),
        ("abc", 400),
        ("1.5", 400),
    ] {
        let r = http
            .get(format!("{base}/api/v1/changes?since={since}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "since={since}");
        if status == 400 {
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "bad_request", "{body}");
        }
    }
    server.shutdown().await.unwrap();
}

#[test]
fn the_broker_url_is_checked_at_start_and_needs_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path(), 64);
    let secret = secret.to_str().unwrap();
    let resolve = |flags: &[&str]| config::resolve(args(dir.path(), flags));
    let bad = resolve(&[
        "--database",
        PG,
        "--secret-file",
        secret,
        "--broker",
        "http://x",
    ])
    .unwrap_err();
    assert!(matches!(bad, ConfigError::BadBrokerUrl(..)), "{bad}");
    assert!(bad.to_string().contains("amqp://"), "{bad}");
    let bad = resolve(&[
        "--database",
        PG,
        "--secret-file",
        secret,
        "--broker",
        "amqp://guest:pw@127.0.0.1:notaport/%2f",
    ])
    .unwrap_err();
    assert!(matches!(bad, ConfigError::BadBrokerUrl(..)), "{bad}");
    assert!(
        !bad.to_string().contains("pw@"),
        "the password is redacted: {bad}"
    );
    assert!(matches!(
        resolve(&["--broker", "amqp://127.0.0.1:5672/%2f"]).unwrap_err(),
        ConfigError::BrokerWithoutPostgres
    ));
    let c = resolve(&[
        "--database",
        PG,
        "--secret-file",
        secret,
        "--broker",
        "amqp://guest:rabbitpw@127.0.0.1:5672/%2f",
    ])
    .unwrap();
    assert_eq!(
        c.broker.as_deref(),
        Some("amqp://guest:rabbitpw@127.0.0.1:5672/%2f")
    );
    assert!(
        c.redacted()
            .contains("broker=amqp://guest:<redacted>@127.0.0.1:5672/%2f")
    );
    assert!(!c.redacted().contains("rabbitpw"));
}
