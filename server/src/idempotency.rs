//! `Idempotency-Key` (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): a client sends
//! a unique key with a non-idempotent request (login, a REST playlist edit); the server remembers
//! the answer, so a retry with the same key, on any node, gets that answer and the edit happens
//! once. Knows no HTTP: the request comes in as method, path, principal and body bytes, the
//! answer as status, a few headers and body bytes (`http::idempotency` adapts both).
//!
//! The record lives in the database ([`IdempotencyStore`]), the one store every node shares and
//! the only shared one that survives a restart (Redis here keeps nothing on disk).
//!
//! The protocol: reserve the key (one transaction; a race between nodes is settled by the
//! primary key), run the request, store its answer (another transaction). The edit itself runs
//! in the handler's own transactions, so a crash can fall between the edit's commit and the
//! answer's: such a key stays reserved with no answer, and retries get 409
//! `idempotency_in_flight` until the record expires. We never re-run a reserved key, because
//! nothing tells a crash before the edit from one after it, and re-running the second would
//! repeat the edit. An answer that says the edit did not happen (5xx, 408, 429) releases the key
//! instead, so the retry runs the request.
//!
//! Secrets: a login answer holds a bearer token, and secrets are stored only as hashes. So the
//! row holds blake3 of the key (the lookup), a fingerprint keyed with the key, and the answer
//! sealed (XChaCha20-Poly1305) with a key derived from the Idempotency-Key, which only the
//! client knows: a leaked row opens nothing, and the fingerprint is no cheap oracle for the
//! password in the login body.

use crate::storage::{IdempotencyStore, Reservation, StorageError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::time::Duration;

/// How long an answer is remembered. Retries come within seconds (the balancer) or minutes
/// (the client's backoff, a device waking up); a day covers those with a wide margin, as the
/// draft's examples and common APIs do, while the table stays at about one row per keyed edit
/// per day. Answers for a key older than this are forgotten: the key works as a new one.
pub const RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest key accepted, in bytes: a UUID is 36; this leaves room for other schemes.
pub const MAX_KEY_LEN: usize = 255;

/// The answer headers kept and replayed: those that describe the body or what was made.
pub const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "content-location",
    "etag",
    "www-authenticate",
];

const SEAL_CONTEXT: &str = "mixtape 2026-12-07 idempotency-key answer seal";
const FINGERPRINT_CONTEXT: &str = "mixtape 2026-12-07 idempotency-key request fingerprint";
const NONCE_LEN: usize = 24;
const ANSWER_FORMAT: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error(
        "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters, optionally in double quotes (a UUID is best)"
    )]
    Malformed,
    #[error(
        "this Idempotency-Key was already used for a different request (method, path, user or body): use a new key for a new request"
    )]
    Reused,
    #[error(
        "a request with this Idempotency-Key has not finished (or was interrupted, in which case its outcome is unknown until the key expires): retry shortly"
    )]
    InFlight,
    #[error("a remembered answer cannot be read: {0}")]
    Unreadable(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A client's key, as sent. Never stored: only what [`IdempotencyKey::lookup`] and the sealing
/// derive from it.
#[derive(Clone)]
pub struct IdempotencyKey(String);

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key opens the remembered answer: keep it out of logs.
        f.write_str("IdempotencyKey(..)")
    }
}

impl IdempotencyKey {
    /// Parses a header value: the draft's sf-string (`"…"`), or the bare token many clients
    /// send. Empty, longer than [`MAX_KEY_LEN`], or anything but visible ASCII is malformed.
    pub fn parse(raw: &[u8]) -> Result<Self, IdempotencyError> {
        let raw = match raw {
            [b'"', inner @ .., b'"'] => inner,
            other => other,
        };
        let visible = |b: &u8| (0x21..=0x7e).contains(b) && *b != b'"' && *b != b'\\';
        if raw.is_empty() || raw.len() > MAX_KEY_LEN || !raw.iter().all(visible) {
            return Err(IdempotencyError::Malformed);
        }
        // Visible ASCII is UTF-8.
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    /// What the record is found by: blake3 of the key.
    pub fn lookup(&self) -> [u8; 32] {
        *blake3::hash(self.0.as_bytes()).as_bytes()
    }

    /// What identifies the request the key was first used for. Keyed with the key, so the stored
    /// value says nothing about the body (a login's password) to whoever lacks the key.
    pub fn fingerprint(&self, request: &RequestShape<'_>) -> [u8; 32] {
        let key = blake3::derive_key(FINGERPRINT_CONTEXT, self.0.as_bytes());
        let mut h = blake3::Hasher::new_keyed(&key);
        // Length-prefixed, so no two different requests hash the same bytes.
        for part in [
            request.method.as_bytes(),
            request.path.as_bytes(),
            request.principal.as_bytes(),
            request.body,
        ] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
        *h.finalize().as_bytes()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&blake3::derive_key(SEAL_CONTEXT, self.0.as_bytes()).into())
    }

    /// The answer, sealed with a key derived from this key: nonce, then ciphertext.
    pub fn seal(&self, answer: &Answer) -> Result<Vec<u8>, IdempotencyError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let lookup = self.lookup();
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &answer.encode(),
                    aad: &lookup,
                },
            )
            .map_err(|_| IdempotencyError::Unreadable("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens what [`IdempotencyKey::seal`] made with this key.
    pub fn open(&self, sealed: &[u8]) -> Result<Answer, IdempotencyError> {
        if sealed.len() < NONCE_LEN {
            return Err(IdempotencyError::Unreadable("too short"));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let lookup = self.lookup();
        let plain = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &lookup,
                },
            )
            .map_err(|_| IdempotencyError::Unreadable("does not open with this key"))?;
        Answer::decode(&plain)
    }
}

/// The parts of a request that make it "the same request".
#[derive(Debug, Clone, Copy)]
pub struct RequestShape<'a> {
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// Who sends it: a user id, or a fixed name for requests made before signing in (login).
    pub principal: &'a str,
    pub body: &'a [u8],
}

/// A remembered answer: status, the [`KEPT_HEADERS`] it had, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Answer {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 64);
        out.push(ANSWER_FORMAT);
        out.extend_from_slice(&self.status.to_be_bytes());
        let headers: Vec<_> = self
            .headers
            .iter()
            .filter(|(n, v)| n.len() <= u8::MAX as usize && v.len() <= u16::MAX as usize)
            .take(u8::MAX as usize)
            .collect();
        out.push(headers.len() as u8);
        for (name, value) in headers {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(value);
        }
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, IdempotencyError> {
        let bad = || IdempotencyError::Unreadable("malformed answer");
        let mut r = Reader(bytes);
        if r.take(1).ok_or_else(bad)? != [ANSWER_FORMAT] {
            return Err(IdempotencyError::Unreadable("unknown answer format"));
        }
        let status = u16::from_be_bytes(r.take(2).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
        let count = r.take(1).ok_or_else(bad)?[0];
        let mut headers = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let len = r.take(1).ok_or_else(bad)?[0] as usize;
            let name =
                String::from_utf8(r.take(len).ok_or_else(bad)?.to_vec()).map_err(|_| bad())?;
            let len = u16::from_be_bytes(r.take(2).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
            headers.push((name, r.take(len as usize).ok_or_else(bad)?.to_vec()));
        }
        Ok(Self {
            status,
            headers,
            body: r.0.to_vec(),
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
}

/// Whether an answer is remembered. Those that say the request did not take effect and may
/// succeed later (server errors, a timeout, throttling) release the key instead, so a retry
/// runs the request again rather than replaying the failure.
pub fn remembers(status: u16) -> bool {
    !(status >= 500 || status == 408 || status == 429)
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Begin {
    /// The key is reserved for this request: run it, then [`finish`].
    Run,
    /// The first request's answer: send it again, run nothing.
    Replay(Answer),
}

/// Reserves `key` for `request`, or says why not: the key's answer to replay, another request
/// that used the key ([`IdempotencyError::Reused`]), or one still running
/// ([`IdempotencyError::InFlight`]).
pub fn begin(
    store: &dyn IdempotencyStore,
    key: &IdempotencyKey,
    request: &RequestShape<'_>,
    now_ms: i64,
) -> Result<Begin, IdempotencyError> {
    let fingerprint = key.fingerprint(request);
    let expires = now_ms.saturating_add(RETENTION.as_millis() as i64);
    match store.idempotency_reserve(&key.lookup(), &fingerprint, now_ms, expires)? {
        Reservation::Reserved => Ok(Begin::Run),
        Reservation::InFlight { fingerprint: f } | Reservation::Done { fingerprint: f, .. }
            if f != fingerprint =>
        {
            Err(IdempotencyError::Reused)
        }
        Reservation::InFlight { .. } => Err(IdempotencyError::InFlight),
        Reservation::Done { sealed_answer, .. } => Ok(Begin::Replay(key.open(&sealed_answer)?)),
    }
}

/// Ends a request [`begin`] let run: remembers its answer, or releases the key when the answer
/// is not one to remember ([`remembers`]). Returns whether the answer was stored.
pub fn finish(
    store: &dyn IdempotencyStore,
    key: &IdempotencyKey,
    answer: &Answer,
) -> Result<bool, IdempotencyError> {
    let lookup = key.lookup();
    if !remembers(answer.status) {
        store.idempotency_release(&lookup)?;
        return Ok(false);
    }
    Ok(store.idempotency_complete(&lookup, &key.seal(answer)?)?)
}

/// Unix milliseconds now, the clock records expire by.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Forgets records past their [`RETENTION`]; how many went.
pub fn purge(store: &dyn IdempotencyStore, now_ms: i64) -> Result<u64, IdempotencyError> {
    Ok(store.idempotency_purge(now_ms)?)
}

#[cfg(test)]
mod tests;
