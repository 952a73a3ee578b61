//! The key's parsing, the fingerprint, the sealing and what is remembered. The store's part
//! (reservations, races, expiry) is in `storage/stories/idempotency.rs`.

use super::*;

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s.as_bytes()).expect("valid key")
}

const LOGIN: RequestShape<'static> = RequestShape {
    method: "POST",
    path: "/api/v1/auth/login",
    principal: "anonymous",
    body: br#"{"username":"ann","password":"hunter2"}"#,
};

#[test]
fn keys_are_sf_strings_or_bare_tokens_of_visible_ascii() {
    let quoted = key("\"0190f3c4-8e2b-7c6d-9a1b-2c3d4e5f6a7b\"");
    let bare = key("0190f3c4-8e2b-7c6d-9a1b-2c3d4e5f6a7b");
    assert_eq!(
        quoted.lookup(),
        bare.lookup(),
        "the quotes are not part of the key"
    );
    for bad in [
        &b""[..],
        b"\"\"",
        b"has space",
        b"tab\there",
        b"quote\"inside",
        b"back\\slash",
        "caf\u{e9}".as_bytes(),
        &[b'a'; MAX_KEY_LEN + 1],
    ] {
        assert!(
            matches!(IdempotencyKey::parse(bad), Err(IdempotencyError::Malformed)),
            "{:?} must be refused",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(IdempotencyKey::parse(&[b'a'; MAX_KEY_LEN]).is_ok());
}

#[test]
fn every_part_of_the_request_changes_the_fingerprint() {
    let k = key("k1");
    let base = k.fingerprint(&LOGIN);
    assert_eq!(base, k.fingerprint(&LOGIN), "deterministic");
    let variants = [
        RequestShape {
            method: "PUT",
            ..LOGIN
        },
        RequestShape {
            path: "/api/v1/auth/login?x=1",
            ..LOGIN
        },
        RequestShape {
            principal: "user:1",
            ..LOGIN
        },
        RequestShape {
            body: br#"{"username":"ann","password":"hunter3"}"#,
            ..LOGIN
        },
    ];
    for v in variants {
        assert_ne!(k.fingerprint(&v), base, "{v:?}");
    }
    // Parts cannot bleed into each other: moving a byte from path to principal differs.
    let a = RequestShape {
        path: "/ab",
        principal: "c",
        ..LOGIN
    };
    let b = RequestShape {
        path: "/a",
        principal: "bc",
        ..LOGIN
    };
    assert_ne!(k.fingerprint(&a), k.fingerprint(&b));
    // Keyed: the same request under another key fingerprints differently, so the stored value
    // cannot be checked against guessed passwords without the key.
    assert_ne!(key("k2").fingerprint(&LOGIN), base);
}

#[test]
fn a_sealed_answer_opens_only_with_its_key_and_shows_nothing() {
    let token = "mt_s3cr3t-t0ken-value";
    let answer = Answer {
        status: 200,
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        body: format!(r#"{{"token":"{token}"}}"#).into_bytes(),
    };
    let k = key("0190f3c4-8e2b-7c6d-9a1b-2c3d4e5f6a7b");
    let sealed = k.seal(&answer).unwrap();
    assert!(
        !sealed.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token must not be readable in the sealed bytes"
    );
    assert_eq!(k.open(&sealed).unwrap(), answer);
    assert!(matches!(
        key("another").open(&sealed),
        Err(IdempotencyError::Unreadable(_))
    ));
    let mut tampered = sealed.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(k.open(&tampered).is_err());
    assert!(k.open(&sealed[..10]).is_err());
    // Fresh nonce each time.
    assert_ne!(k.seal(&answer).unwrap(), sealed);
}

#[test]
fn answers_keep_status_headers_and_any_body() {
    for answer in [
        Answer {
            status: 204,
            headers: vec![],
            body: vec![],
        },
        Answer {
            status: 201,
            headers: vec![
                ("content-type".into(), b"application/json".to_vec()),
                ("location".into(), b"/api/v1/playlists/x".to_vec()),
            ],
            body: (0..=255u8).cycle().take(100_000).collect(),
        },
    ] {
        assert_eq!(Answer::decode(&answer.encode()).unwrap(), answer);
    }
    assert!(Answer::decode(&[]).is_err());
    assert!(Answer::decode(&[9, 0, 200, 0]).is_err(), "unknown format");
    assert!(
        Answer::decode(&[1, 0, 200, 1, 5, b'a']).is_err(),
        "cut header"
    );
}

#[test]
fn failures_worth_retrying_are_not_remembered() {
    for status in [200, 201, 204, 400, 401, 403, 404, 409, 413, 422] {
        assert!(remembers(status), "{status}");
    }
    for status in [408, 429, 500, 502, 503, 507] {
        assert!(!remembers(status), "{status}");
    }
}
