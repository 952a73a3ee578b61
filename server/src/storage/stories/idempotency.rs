//! Stories of remembered answers: a key is reserved once, whatever the races; its answer is
//! kept for the retry; a failed request frees it; an expired record is as good as absent.

use crate::idempotency::{self, Answer, Begin, IdempotencyError, IdempotencyKey, RequestShape};
use crate::storage::{Reservation, Store};

const T0: i64 = 1_765_000_000_000;
const DAY: i64 = 24 * 60 * 60 * 1000;

fn a_key_is_reserved_once_then_answers_every_retry(store: &dyn Store) {
    let (lookup, fp) = ([1u8; 32], [2u8; 32]);
    assert_eq!(
        store
            .idempotency_reserve(&lookup, &fp, T0, T0 + DAY)
            .unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store
            .idempotency_reserve(&lookup, &fp, T0 + 1, T0 + 1 + DAY)
            .unwrap(),
        Reservation::InFlight {
            fingerprint: fp.to_vec()
        },
        "a second reserve while the first runs"
    );
    assert!(store.idempotency_complete(&lookup, b"sealed").unwrap());
    assert!(
        !store.idempotency_complete(&lookup, b"other").unwrap(),
        "an answer is stored once"
    );
    for _ in 0..2 {
        assert_eq!(
            store
                .idempotency_reserve(&lookup, &[9u8; 32], T0 + 2, T0 + 2 + DAY)
                .unwrap(),
            Reservation::Done {
                fingerprint: fp.to_vec(),
                sealed_answer: b"sealed".to_vec()
            },
            "the record is not replaced by another request's reserve"
        );
    }
    // Another key is independent.
    assert_eq!(
        store
            .idempotency_reserve(&[3u8; 32], &fp, T0, T0 + DAY)
            .unwrap(),
        Reservation::Reserved
    );
}

fn a_released_key_can_run_again_but_an_answered_one_stays(store: &dyn Store) {
    let (lookup, fp) = ([4u8; 32], [5u8; 32]);
    store
        .idempotency_reserve(&lookup, &fp, T0, T0 + DAY)
        .unwrap();
    store.idempotency_release(&lookup).unwrap();
    assert_eq!(
        store
            .idempotency_reserve(&lookup, &fp, T0, T0 + DAY)
            .unwrap(),
        Reservation::Reserved
    );
    assert!(store.idempotency_complete(&lookup, b"answer").unwrap());
    store.idempotency_release(&lookup).unwrap();
    assert!(matches!(
        store
            .idempotency_reserve(&lookup, &fp, T0, T0 + DAY)
            .unwrap(),
        Reservation::Done { .. }
    ));
    // Completing a reservation that is gone says so.
    assert!(!store.idempotency_complete(&[6u8; 32], b"x").unwrap());
}

fn expired_records_are_replaced_and_purged(store: &dyn Store) {
    let (old, young, fp) = ([7u8; 32], [8u8; 32], [0u8; 32]);
    store.idempotency_reserve(&old, &fp, T0, T0 + 10).unwrap();
    store.idempotency_complete(&old, b"old answer").unwrap();
    store
        .idempotency_reserve(&young, &fp, T0, T0 + DAY)
        .unwrap();
    assert_eq!(
        store
            .idempotency_reserve(&old, &[1u8; 32], T0 + 10, T0 + 10 + DAY)
            .unwrap(),
        Reservation::Reserved,
        "at its expiry the key is new again, whatever it was used for"
    );
    store
        .idempotency_reserve(&[9u8; 32], &fp, T0, T0 + 20)
        .unwrap();
    assert_eq!(store.idempotency_purge(T0 + 19).unwrap(), 0);
    assert_eq!(store.idempotency_purge(T0 + 20).unwrap(), 1);
    assert!(matches!(
        store
            .idempotency_reserve(&young, &fp, T0 + 20, T0 + DAY)
            .unwrap(),
        Reservation::InFlight { .. }
    ));
    assert!(matches!(
        store
            .idempotency_reserve(&old, &[1u8; 32], T0 + 20, T0 + DAY)
            .unwrap(),
        Reservation::InFlight { .. }
    ));
}

fn racing_reserves_of_one_key_let_exactly_one_run(store: &dyn Store) {
    for round in 0..5u8 {
        let lookup = [100 + round; 32];
        let outcomes: Vec<Reservation> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        store
                            .idempotency_reserve(&lookup, &[1u8; 32], T0, T0 + DAY)
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let reserved = outcomes
            .iter()
            .filter(|o| **o == Reservation::Reserved)
            .count();
        assert_eq!(reserved, 1, "round {round}: {outcomes:?}");
    }
}

fn the_domain_replays_the_sealed_answer_and_refuses_another_request(store: &dyn Store) {
    let key = IdempotencyKey::parse(b"\"0190f3c4-8e2b-7c6d-9a1b-2c3d4e5f6a7b\"").unwrap();
    let request = RequestShape {
        method: "POST",
        path: "/api/v1/auth/login",
        principal: "anonymous",
        body: br#"{"username":"ann","password":"pw"}"#,
    };
    let now = idempotency::now_ms();
    assert!(matches!(
        idempotency::begin(store, &key, &request, now).unwrap(),
        Begin::Run
    ));
    assert!(matches!(
        idempotency::begin(store, &key, &request, now),
        Err(IdempotencyError::InFlight)
    ));
    let answer = Answer {
        status: 200,
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        body: br#"{"token":"mt_secret"}"#.to_vec(),
    };
    assert!(idempotency::finish(store, &key, &answer).unwrap());
    match idempotency::begin(store, &key, &request, now).unwrap() {
        Begin::Replay(replayed) => assert_eq!(replayed, answer),
        Begin::Run => panic!("a finished key must replay"),
    }
    let other = RequestShape {
        body: br#"{"username":"bob","password":"pw"}"#,
        ..request
    };
    assert!(matches!(
        idempotency::begin(store, &key, &other, now),
        Err(IdempotencyError::Reused)
    ));
    // What the store holds does not show the token.
    match store
        .idempotency_reserve(&key.lookup(), &[0u8; 32], now, now)
        .unwrap()
    {
        Reservation::Done { sealed_answer, .. } => {
            assert!(!sealed_answer.windows(9).any(|w| w == b"mt_secret"))
        }
        other => panic!("expected the answer, got {other:?}"),
    }
    // A failure worth retrying frees the key.
    let key2 = IdempotencyKey::parse(b"second").unwrap();
    assert!(matches!(
        idempotency::begin(store, &key2, &request, now).unwrap(),
        Begin::Run
    ));
    let unavailable = Answer {
        status: 503,
        headers: vec![],
        body: vec![],
    };
    assert!(!idempotency::finish(store, &key2, &unavailable).unwrap());
    assert!(matches!(
        idempotency::begin(store, &key2, &request, now).unwrap(),
        Begin::Run
    ));
}

stories!(
    a_key_is_reserved_once_then_answers_every_retry,
    a_released_key_can_run_again_but_an_answered_one_stays,
    expired_records_are_replaced_and_purged,
    racing_reserves_of_one_key_let_exactly_one_run,
    the_domain_replays_the_sealed_answer_and_refuses_another_request,
);
