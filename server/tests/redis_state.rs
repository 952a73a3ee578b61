//! State the nodes share through Redis (the package `redis-server`, on 127.0.0.1:6379): the
//! login throttle counts failures from every node, read-your-writes marks keep the highest
//! position, and a Redis that does not answer leaves each node on its own state, quickly.
//! Every test uses its own random key namespace, so tests never see each other's keys.

use mixtape_server::auth::address::TrustedProxies;
use mixtape_server::auth::{Auth, AuthError};
use mixtape_server::shared_state::throttle::RedisThrottle;
use mixtape_server::shared_state::{RedisWriteMarks, SharedState};
use mixtape_server::storage::Store;
use mixtape_server::storage::postgres::WriteMarks;
use mixtape_server::storage::sqlite::SqliteStore;
use mixtape_shared::UserId;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REDIS: &str = "redis://127.0.0.1:6379";
const PASSWORD: &str = "the-right-password";

/// Fails (not skips) without a Redis, naming the package to install.
fn require_redis() {
    if std::net::TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_err()
    {
        panic!("no Redis on 127.0.0.1:6379: install and start the package `redis-server`");
    }
}

fn namespace() -> String {
    format!("test-{:016x}:", rand::random::<u64>())
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A store with the admin, and `n` nodes over it, each with its own `Auth` (own in-process
/// counters) and, when `redis` is given, the shared counters.
async fn nodes(dir: &std::path::Path, n: usize, redis: Option<(&str, &str)>) -> Vec<Arc<Auth>> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("m.db"), 2).unwrap());
    let mut out = Vec::new();
    for i in 0..n {
        let throttle =
            redis.map(|(url, ns)| RedisThrottle::new(SharedState::connect(url, ns).unwrap()));
        let store = store.clone();
        let auth = tokio::task::spawn_blocking(move || {
            let mut auth = Auth::new(
                store,
                Duration::from_secs(3600),
                TrustedProxies::parse::<String>(&[]).unwrap(),
            )
            .unwrap();
            if let Some(t) = throttle {
                auth = auth.with_shared_throttle(t);
            }
            if i == 0 {
                auth.bootstrap_admin(Some(PASSWORD)).unwrap();
            }
            auth
        })
        .await
        .unwrap();
        out.push(Arc::new(auth));
    }
    out
}

async fn wrong(auth: &Arc<Auth>) -> AuthError {
    auth.login("admin", "wrong-password", "10.9.8.7")
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_spread_over_three_nodes_count_as_one_budget() {
    require_redis();
    let dir = tempfile::tempdir().unwrap();
    let ns = namespace();
    let n = nodes(dir.path(), 3, Some((REDIS, &ns))).await;
    for i in 0..5 {
        let e = wrong(&n[i % 3]).await;
        assert!(matches!(e, AuthError::BadCredentials), "failure {i}: {e}");
    }
    for node in &n {
        let e = wrong(node).await;
        assert!(matches!(e, AuthError::Throttled(s) if s >= 1), "{e}");
        // The refusal holds for the right password too (the client is waiting its delay).
        let e = node.login("admin", PASSWORD, "10.9.8.7").await.unwrap_err();
        assert!(matches!(e, AuthError::Throttled(_)), "{e}");
    }
    // Another address is not affected.
    n[1].login("admin", PASSWORD, "10.9.8.6").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_each_node_counts_alone() {
    // The control for the test above: the same spread is not throttled per node.
    let dir = tempfile::tempdir().unwrap();
    let n = nodes(dir.path(), 3, None).await;
    for i in 0..6 {
        let e = wrong(&n[i % 3]).await;
        assert!(matches!(e, AuthError::BadCredentials), "failure {i}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_success_on_any_node_forgets_the_clients_failures() {
    require_redis();
    let dir = tempfile::tempdir().unwrap();
    let ns = namespace();
    let n = nodes(dir.path(), 2, Some((REDIS, &ns))).await;
    for _ in 0..4 {
        wrong(&n[0]).await;
    }
    n[1].login("admin", PASSWORD, "10.9.8.7").await.unwrap();
    for i in 0..4 {
        let e = wrong(&n[0]).await;
        assert!(
            matches!(e, AuthError::BadCredentials),
            "failure {i} after the success: {e}"
        );
    }
    n[0].login("admin", PASSWORD, "10.9.8.7").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_guesses_across_nodes_reserve_at_most_the_free_budget() {
    require_redis();
    let dir = tempfile::tempdir().unwrap();
    let ns = namespace();
    let n = nodes(dir.path(), 2, Some((REDIS, &ns))).await;
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let node = n[i % 2].clone();
            tokio::spawn(async move { wrong(&node).await })
        })
        .collect();
    let mut evaluated = 0;
    for g in guesses {
        if matches!(g.await.unwrap(), AuthError::BadCredentials) {
            evaluated += 1;
        }
    }
    assert!(evaluated <= 5, "{evaluated} guesses evaluated");
    assert!(evaluated >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_redis_falls_back_to_this_nodes_counters_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let n = nodes(dir.path(), 1, Some((&url, "x:"))).await;
    let started = Instant::now();
    for i in 0..5 {
        let e = wrong(&n[0]).await;
        assert!(matches!(e, AuthError::BadCredentials), "failure {i}: {e}");
    }
    let e = wrong(&n[0]).await;
    assert!(
        matches!(e, AuthError::Throttled(_)),
        "counted on this node: {e}"
    );
    // Argon2 costs most of it; a stalled Redis call would cost 200 ms each on top.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    n[0].login("admin", PASSWORD, "10.0.0.2").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn write_marks_keep_the_highest_position_for_every_node() {
    require_redis();
    let ns = namespace();
    let a = RedisWriteMarks::new(SharedState::connect(REDIS, &ns).unwrap());
    let b = RedisWriteMarks::new(SharedState::connect(REDIS, &ns).unwrap());
    let checked = tokio::task::spawn_blocking(move || {
        assert!(a.is_shared() && b.is_shared());
        assert_eq!(b.last_write(UserId(1)), None);
        a.mark(UserId(1), 0x16B3748);
        b.mark(UserId(1), 0x100);
        assert_eq!(a.last_write(UserId(1)), Some(0x16B3748));
        assert_eq!(b.last_write(UserId(1)), Some(0x16B3748));
        // Past 2^53, where Lua's numbers would round.
        let high = (1u64 << 60) + 1;
        b.mark(UserId(2), high);
        a.mark(UserId(2), high - 1);
        assert_eq!(a.last_write(UserId(2)), Some(high));
        assert_eq!(a.last_write(UserId(3)), None);
    });
    checked.await.unwrap();
    let mut conn = redis::Client::open(REDIS)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{ns}ryw:1"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((1..=30).contains(&ttl), "ttl {ttl}");
}

#[tokio::test(flavor = "multi_thread")]
async fn write_marks_without_redis_send_user_reads_to_the_primary() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let marks = RedisWriteMarks::new(SharedState::connect(&url, "x:").unwrap());
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        marks.mark(UserId(1), 10);
        assert!(!marks.is_shared(), "down after a failed call");
        // Unknown position: newer than any replica, so no replica qualifies.
        assert_eq!(marks.last_write(UserId(1)), Some(u64::MAX));
        assert!(!marks.is_shared());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // Once a second one caller tries again (and finds it still down).
        std::thread::sleep(Duration::from_millis(1100));
        assert!(marks.is_shared());
        assert_eq!(marks.last_write(UserId(1)), Some(u64::MAX));
        assert!(!marks.is_shared());
    })
    .await
    .unwrap();
}
