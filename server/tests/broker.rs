//! The recommender's events through RabbitMQ (`--broker`): several `mixtape-server` processes
//! on one PostgreSQL database, each test with a RabbitMQ node of its own (so stopping it is a
//! real outage that touches no other test). Counts are asserted, and the recs state is compared
//! with a rebuild from history.

// The cluster harness is shared with `cluster.rs`; this binary uses part of it (the harness
// files allow dead code themselves).
mod common;
#[path = "cluster/engines.rs"]
mod engines;
#[path = "cluster/nodes.rs"]
mod nodes;
#[path = "cluster/rabbit.rs"]
mod rabbit;

use mixtape_server::storage::postgres::scratch::ScratchDatabase;
use nodes::{Deployment, Node};
use rabbit::RabbitNode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `n` finished plays by one listener, three minutes apart, over the demo's tracks.
/// One test at a time: each runs a RabbitMQ node, PostgreSQL work and several server nodes, and
/// three of those at once on 2 cores slowed the outage test's drain past its deadline.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn events(n: usize, offset: usize) -> Vec<Value> {
    (0..n)
        .map(|k| {
            let k = k + offset;
            json!({"id": uuid::Uuid::now_v7(), "track_id": 1 + (k * 7 % 17) as i64, "kind": "finish",
                   "position_ms": 0, "at_ms": 1_700_000_000_000i64 + k as i64 * 180_000})
        })
        .collect()
}

/// Posts a batch; the number accepted, or the failing status.
fn post_events(node: &Node, batch: &[Value]) -> Result<u64, String> {
    let r = node
        .http
        .post(format!("{}/api/v1/events", node.base))
        .bearer_auth(&node.token)
        .json(&json!({ "events": batch }))
        .send()
        .map_err(|e| e.to_string())?;
    let status = r.status();
    if !status.is_success() {
        return Err(format!("{status}: {}", r.text().unwrap_or_default()));
    }
    let body: Value = r.json().map_err(|e| e.to_string())?;
    Ok(body["accepted"].as_u64().unwrap())
}

fn broker_env(rabbit: &RabbitNode) -> [(&'static str, String); 1] {
    [("MIXTAPE_BROKER", rabbit.url())]
}

fn start_nodes(deploy: &Deployment, rabbit: &RabbitNode, names: &[&str]) -> Vec<Node> {
    let env = broker_env(rabbit);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    names.iter().map(|n| deploy.node(n, &env)).collect()
}

/// Waits until the recommender has taken in `n` events; returns its summary.
fn wait_applied(node: &Node, n: u64, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let summary = node.get("/api/v1/admin/recs");
        if summary["applied"].as_u64() == Some(n) {
            return summary;
        }
        assert!(
            summary["applied"].as_u64().unwrap() <= n,
            "more events applied than sent: {summary}"
        );
        assert!(
            Instant::now() < deadline,
            "the recommender did not take in {n} events: {summary}; queue: {}",
            node.get("/api/v1/admin/queue")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn play_events_stored(db: &ScratchDatabase) -> i64 {
    let mut c = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    c.query_one("SELECT count(*) FROM play_events", &[])
        .unwrap()
        .get(0)
}

/// Rebuilds the recommender's state from the event history (in this process: on a loaded
/// machine a debug build's rebuild of thousands of events outlasts the request timeout) and
/// compares it with what the broker fed in.
fn assert_equals_rebuild(db: &ScratchDatabase, incremental: &Value) {
    use mixtape_server::storage::RecsStore;
    use mixtape_server::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
    let store = PgStore::open(
        &PgOptions::new(db.url()),
        Arc::new(LocalWriteMarks::single_node()),
    )
    .unwrap();
    store
        .recs_rebuild(&mixtape_server::recs::model::Params::default(), 0)
        .unwrap();
    let rebuilt = serde_json::to_value(store.recs_summary().unwrap()).unwrap();
    assert_eq!(
        &rebuilt, incremental,
        "the state the broker fed equals a rebuild from history"
    );
}

#[test]
fn events_sent_through_two_nodes_reach_the_recommender_through_the_broker() {
    let _alone = one_at_a_time();
    let rabbit = RabbitNode::start();
    let db = ScratchDatabase::for_test("broker_two_nodes");
    let deploy = Deployment::demo(db.url(), &[], None);
    let nodes = start_nodes(&deploy, &rabbit, &["a", "b"]);

    let sent = events(3000, 0);
    let mut accepted = 0;
    for (i, chunk) in sent.chunks(250).enumerate() {
        accepted += post_events(&nodes[i % 2], chunk).unwrap();
    }
    assert_eq!(accepted, 3000);
    // A playlist addition takes the same road.
    let playlist = nodes[1]
        .post_with(
            "/api/v1/playlists",
            &nodes[1].token,
            &json!({"name": "through the broker"}),
        )
        .unwrap();
    let id = playlist["id"].as_str().unwrap();
    nodes[0]
        .post_with(
            &format!("/api/v1/playlists/{id}/entries"),
            &nodes[0].token,
            &json!({"track_ids": [1, 2, 3]}),
        )
        .unwrap();

    let summary = wait_applied(&nodes[0], 3001, Duration::from_secs(120));
    assert_eq!(play_events_stored(&db), 3000);
    // The relay deletes its outbox rows when the broker confirms, which may come after the
    // consumer applied the events.
    let deadline = Instant::now() + Duration::from_secs(60);
    let queue = loop {
        let queue = nodes[1].get("/api/v1/admin/queue");
        let broker = &queue["queue"]["broker"];
        if (broker["outbox"] == 0 && broker["ready"] == 0) || Instant::now() > deadline {
            break queue;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let broker = &queue["queue"]["broker"];
    assert_eq!(broker["connected"], true, "{queue}");
    assert_eq!(broker["outbox"], 0, "every row relayed: {queue}");
    assert_eq!(broker["ready"], 0, "{queue}");
    assert_eq!(
        broker["consumers"], 1,
        "only the recs lease holder consumes: {queue}"
    );
    assert_eq!(broker["dead_letters"], 0, "{queue}");
    assert_equals_rebuild(&db, &summary);
}

#[test]
fn a_broker_down_for_30_s_under_load_loses_nothing_and_answers_no_error() {
    let _alone = one_at_a_time();
    let mut rabbit = RabbitNode::start();
    let db = ScratchDatabase::for_test("broker_outage");
    let deploy = Deployment::demo(db.url(), &[], None);
    let nodes = Arc::new(start_nodes(&deploy, &rabbit, &["a", "b"]));

    // Load: batches of 10 events alternately to both nodes, about 150 a second, until told
    // to stop (the rebuild at the end must fit in the server's request timeout, debug build).
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let load = {
        let (nodes, stop, sent) = (nodes.clone(), stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let batch = events(10, i * 10);
                match post_events(&nodes[i % 2], &batch) {
                    Ok(n) => {
                        assert_eq!(n, 10, "every new event accepted");
                        sent.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => failures.push(e),
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(60));
            }
            failures
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    let before = sent.load(Ordering::Relaxed);
    assert!(before > 0);
    rabbit.stop();
    let stopped = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let queue = nodes[0].get("/api/v1/admin/queue");
    assert_eq!(queue["queue"]["broker"]["connected"], false, "{queue}");
    assert!(
        queue["queue"]["broker"]["outbox"].as_u64().unwrap() > 0,
        "events wait in the outbox: {queue}"
    );
    std::thread::sleep(Duration::from_secs(30).saturating_sub(stopped.elapsed()));
    let during = sent.load(Ordering::Relaxed) - before;
    rabbit.restart();
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    let failures = load.join().unwrap();
    assert!(failures.is_empty(), "errors answered: {failures:?}");
    assert!(
        during > 100,
        "events kept coming during the outage: {during}"
    );
    let total = sent.load(Ordering::Relaxed);
    eprintln!("{total} events sent, {during} during the outage");

    let summary = wait_applied(&nodes[1], total, Duration::from_secs(300));
    assert_eq!(
        play_events_stored(&db) as u64,
        total,
        "events stored = sent"
    );
    let queue = nodes[0].get("/api/v1/admin/queue");
    assert_eq!(queue["queue"]["broker"]["connected"], true, "{queue}");
    assert_eq!(queue["queue"]["broker"]["outbox"], 0, "drained: {queue}");
    assert_equals_rebuild(&db, &summary);
}

#[test]
fn a_poison_message_is_dead_lettered_after_the_delivery_limit_and_shown() {
    let _alone = one_at_a_time();
    let rabbit = RabbitNode::start();
    let db = ScratchDatabase::for_test("broker_poison");
    let deploy = Deployment::demo(db.url(), &[], None);
    let nodes = start_nodes(&deploy, &rabbit, &["a", "b"]);

    // A message no worker can decode, in the outbox as an event's would be.
    let mut c = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    c.execute(
        "INSERT INTO recs_queue (kind, key, payload, enqueued_at_ms, not_before_ms)
         VALUES ('play', 'poison-1', '{not json', 1, 0)",
        &[],
    )
    .unwrap();
    assert_eq!(post_events(&nodes[0], &events(50, 0)).unwrap(), 50);

    let deadline = Instant::now() + Duration::from_secs(60);
    let queue = loop {
        let queue = nodes[1].get("/api/v1/admin/queue");
        let listed = queue["recent_dead_letters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["key"] == "poison-1");
        if listed {
            break queue;
        }
        assert!(
            Instant::now() < deadline,
            "the poison message never reached the dead letters: {queue}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(queue["queue"]["broker"]["dead_letters"], 1, "{queue}");
    let letter = queue["recent_dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "poison-1")
        .unwrap();
    assert_eq!(letter["payload"], "{not json", "{letter}");
    assert_eq!(letter["last_error"], "broker: rejected", "{letter}");
    // Rejected at its 5th delivery (the delivery limit): 5 failures, one dead letter, counted
    // by whichever node held the recs lease.
    let (mut failures, mut dead) = (0, 0);
    for node in &nodes {
        let q = node.get("/api/v1/admin/queue");
        failures += q["failures"].as_u64().unwrap();
        dead += q["dead_lettered"].as_u64().unwrap();
    }
    assert_eq!((failures, dead), (5, 1), "failures, dead letters");
    // The others were not held back, and nothing was applied twice.
    let summary = wait_applied(&nodes[0], 50, Duration::from_secs(60));
    assert_equals_rebuild(&db, &summary);
    // Still there after the peek: listing does not consume.
    let again = nodes[0].get("/api/v1/admin/queue");
    assert_eq!(again["queue"]["broker"]["dead_letters"], 1, "{again}");
}
