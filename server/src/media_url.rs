//! Signed media URLs: `/media/{hash}?e={expiry}&s={sig}`, which a shared cache (the nginx edge,
//! `deploy/nginx/`) may serve to anyone, because only the API hands them out.
//!
//! `s` is the hex HMAC-SHA256 of `"{path}\n{expiry}"` (path `/media/{hash}`, expiry in Unix
//! seconds) under a 32-byte key: derived from the deployment secret with
//! [`MEDIA_URL_CONTEXT`] when there is one (every node and the edge share it), otherwise
//! `media.key` in the data folder (64 hex digits, made once, the careful way `subsonic.key` is).
//! The edge checks the same HMAC in njs before its cache (`deploy/nginx/media.js`).
//!
//! Expiries are rounded up to the next [`BUCKET_SECS`] and then [`VALID_SECS`] added: every URL
//! minted within one bucket is the same (stable for browsers and logs), and a URL handed out
//! at any moment of its bucket is valid for at least `VALID_SECS` more. Catalog pages are
//! cached with the URLs inside, so the page cache keeps a page only within the bucket it was
//! rendered in ([`MediaSigner::bucket`]): a cached page never hands out a URL with less than
//! `VALID_SECS` left.

use crate::config::DeploySecret;
use hmac::{KeyInit, Mac};
use rand::RngCore;
use std::path::{Path, PathBuf};

/// The context of the key that signs media URLs (never reuse it for another purpose).
pub const MEDIA_URL_CONTEXT: &str = "mixtape 2026-12-07 signed media URL key";
/// A URL handed out is valid for at least this long: hours, so a listener who starts an album
/// finishes it, and a client holding an older one asks for a fresh one (403/410).
pub const VALID_SECS: u64 = 6 * 3600;
/// Expiries are rounded up to a multiple of this.
pub const BUCKET_SECS: u64 = 3600;
/// The file name of the embedded default's key, in the data folder.
pub const KEY_FILE: &str = "media.key";
const KEY_LEN: usize = 32;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Why a signed media request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Missing, malformed or wrong signature (or expiry): 403 `bad_signature`.
    #[error("the media URL's signature is missing or wrong; ask the API for a new URL")]
    Bad,
    /// A right signature whose expiry has passed: 410 `expired`.
    #[error("the media URL has expired; ask the API for a new URL")]
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaKeyError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error(
        "{0} is not 64 hex digits: restore it from a backup, or remove it to make a new key (media URLs handed out so far stop working, and the edge needs the new key)"
    )]
    Malformed(PathBuf),
}

/// Signs and checks media URLs. Cheap to share (`Arc`).
pub struct MediaSigner {
    key: [u8; KEY_LEN],
    /// Prepended to `/media/…`: empty (URLs relative to the API's origin) or `https://edge…`.
    base: String,
}

impl std::fmt::Debug for MediaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSigner")
            .field("key", &"<redacted>")
            .field("base", &self.base)
            .finish()
    }
}

impl MediaSigner {
    /// `base`: the public origin of media URLs (`--media-base`), or `None` for URLs relative to
    /// the API base.
    pub fn new(key: [u8; KEY_LEN], base: Option<&str>) -> Self {
        Self {
            key,
            base: base.unwrap_or("").trim_end_matches('/').to_owned(),
        }
    }

    /// The key every node derives from the deployment secret.
    pub fn from_secret(secret: &DeploySecret, base: Option<&str>) -> Self {
        Self::new(secret.derive_key(MEDIA_URL_CONTEXT), base)
    }

    /// The embedded default: `data_dir/media.key`, made on first start.
    pub fn open(data_dir: &Path, base: Option<&str>) -> Result<Self, MediaKeyError> {
        Ok(Self::new(load_or_create(&data_dir.join(KEY_FILE))?, base))
    }

    /// The key as the edge's key file holds it (64 hex digits).
    pub fn key_hex(&self) -> String {
        hex::encode(self.key)
    }

    /// The expiry bucket `now` (Unix seconds) falls in; what a cached page's URLs depend on.
    pub fn bucket(now: u64) -> u64 {
        now / BUCKET_SECS
    }

    /// The expiry of URLs minted at `now`: at least `VALID_SECS` away, the same all bucket long.
    pub fn expiry_at(now: u64) -> u64 {
        (Self::bucket(now) + 1) * BUCKET_SECS + VALID_SECS
    }

    /// The signed path of `hash` (`/media/{hash}`).
    pub fn path(hash: &str) -> String {
        format!("/media/{hash}")
    }

    /// The signed path of `hash` in a transcoding profile (`/media/{hash}/{profile}`).
    pub fn rendition_path(hash: &str, profile: &str) -> String {
        format!("/media/{hash}/{profile}")
    }

    /// The media URL of `hash` in `profile` handed out at `now`.
    pub fn rendition_url(&self, hash: &str, profile: &str, now: u64) -> String {
        let path = Self::rendition_path(hash, profile);
        let expiry = Self::expiry_at(now);
        let sig = self.signature(&path, expiry);
        format!("{}{path}?e={expiry}&s={sig}", self.base)
    }

    fn mac(&self, path: &str, expiry: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expiry.as_bytes());
        mac
    }

    /// The hex signature of `path` until `expiry`.
    pub fn signature(&self, path: &str, expiry: u64) -> String {
        hex::encode(self.mac(path, &expiry.to_string()).finalize().into_bytes())
    }

    /// The media URL of `hash` handed out at `now`.
    pub fn url(&self, hash: &str, now: u64) -> String {
        let path = Self::path(hash);
        let expiry = Self::expiry_at(now);
        let sig = self.signature(&path, expiry);
        format!("{}{path}?e={expiry}&s={sig}", self.base)
    }

    /// The media URL of `hash` handed out now.
    pub fn url_now(&self, hash: &str) -> String {
        self.url(hash, unix_now())
    }

    /// The signed path of cover art `hash` (`/art/{hash}`; the size is left out of the
    /// signature: any size of an image one may see is as harmless as the one handed out).
    pub fn art_path(hash: &str) -> String {
        format!("/art/{hash}")
    }

    /// The URL of cover art `hash` at `size` pixels under `origin` (the API's public origin, as
    /// the request reached it), handed out at `now`: for apps that load an image URL without
    /// their credentials (Subsonic's `artistInfo` image URLs).
    pub fn art_url(&self, origin: &str, hash: &str, size: u32, now: u64) -> String {
        let path = Self::art_path(hash);
        let expiry = Self::expiry_at(now);
        let sig = self.signature(&path, expiry);
        format!("{origin}{path}?size={size}&e={expiry}&s={sig}")
    }

    /// Checks a request for `path` with the query's `e` and `s` at `now`. The signature is
    /// compared in constant time; an expiry is believed only under a right signature.
    pub fn verify(
        &self,
        path: &str,
        expiry: Option<&str>,
        sig: Option<&str>,
        now: u64,
    ) -> Result<(), SignatureError> {
        let (Some(expiry_text), Some(sig)) = (expiry, sig) else {
            return Err(SignatureError::Bad);
        };
        let expiry: u64 = match expiry_text {
            t if !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit()) => {
                t.parse().map_err(|_| SignatureError::Bad)?
            }
            _ => return Err(SignatureError::Bad),
        };
        let sig = hex::decode(sig).map_err(|_| SignatureError::Bad)?;
        self.mac(path, expiry_text)
            .verify_slice(&sig)
            .map_err(|_| SignatureError::Bad)?;
        if expiry < now {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads the key, or makes it: written to a temporary file, synced and hard-linked into place,
/// so a crash or a full disk never leaves half a key, and of two processes starting at once
/// the second reads the first's.
fn load_or_create(path: &Path) -> Result<[u8; KEY_LEN], MediaKeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => return parse_key(&text).ok_or_else(|| MediaKeyError::Malformed(path.into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(MediaKeyError::Read(path.into(), e)),
    }
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    let text = format!("{}\n", hex::encode(key));
    match crate::secret_file::create_new(path, text.as_bytes()) {
        Ok(()) => Ok(key),
        // Another start made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(MediaKeyError::Write(path.into(), e)),
    }
}

fn parse_key(text: &str) -> Option<[u8; KEY_LEN]> {
    hex::decode(text.trim()).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "aa00000000000000000000000000000000000000000000000000000000000001";
    const OTHER: &str = "bb00000000000000000000000000000000000000000000000000000000000002";

    fn parts(url: &str) -> (String, String, String) {
        let (path, query) = url.split_once('?').unwrap();
        let q: std::collections::HashMap<_, _> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .unwrap()
                .into_iter()
                .collect();
        (path.to_owned(), q["e"].clone(), q["s"].clone())
    }

    #[test]
    fn a_minted_url_verifies_until_it_expires_and_not_after() {
        let signer = MediaSigner::new([7; 32], None);
        let now = 1_800_000_123;
        let url = signer.url(HASH, now);
        let (path, e, s) = parts(&url);
        assert_eq!(path, format!("/media/{HASH}"));
        let expiry: u64 = e.parse().unwrap();
        assert!(expiry >= now + VALID_SECS && expiry <= now + VALID_SECS + BUCKET_SECS);
        assert_eq!(signer.verify(&path, Some(&e), Some(&s), now), Ok(()));
        assert_eq!(signer.verify(&path, Some(&e), Some(&s), expiry), Ok(()));
        assert_eq!(
            signer.verify(&path, Some(&e), Some(&s), expiry + 1),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn tampering_with_any_part_is_a_bad_signature() {
        let signer = MediaSigner::new([7; 32], None);
        let now = 1_800_000_000;
        let (path, e, s) = parts(&signer.url(HASH, now));
        let bad = |p: &str, e: Option<&str>, s: Option<&str>| signer.verify(p, e, s, now);
        // Another hash under this signature.
        assert_eq!(
            bad(&MediaSigner::path(OTHER), Some(&e), Some(&s)),
            Err(SignatureError::Bad)
        );
        // A later expiry under this signature.
        let later = (e.parse::<u64>().unwrap() + 86_400).to_string();
        assert_eq!(bad(&path, Some(&later), Some(&s)), Err(SignatureError::Bad));
        // A leading zero is another message, not the same number.
        assert_eq!(
            bad(&path, Some(&format!("0{e}")), Some(&s)),
            Err(SignatureError::Bad)
        );
        // One flipped digit, a cut signature, junk, nothing.
        let flipped = format!("{}{}", if &s[..1] == "0" { "1" } else { "0" }, &s[1..]);
        assert_eq!(
            bad(&path, Some(&e), Some(&flipped)),
            Err(SignatureError::Bad)
        );
        assert_eq!(
            bad(&path, Some(&e), Some(&s[..62])),
            Err(SignatureError::Bad)
        );
        assert_eq!(bad(&path, Some(&e), Some("zz")), Err(SignatureError::Bad));
        assert_eq!(bad(&path, Some("-1"), Some(&s)), Err(SignatureError::Bad));
        assert_eq!(bad(&path, None, Some(&s)), Err(SignatureError::Bad));
        assert_eq!(bad(&path, Some(&e), None), Err(SignatureError::Bad));
        // Another key.
        let other = MediaSigner::new([8; 32], None);
        assert_eq!(
            other.verify(&path, Some(&e), Some(&s), now),
            Err(SignatureError::Bad)
        );
        // An expired URL with a tampered signature is bad, not merely expired.
        assert_eq!(
            signer.verify(&path, Some(&e), Some(&flipped), u64::MAX),
            Err(SignatureError::Bad)
        );
    }

    #[test]
    fn urls_are_stable_within_a_bucket_and_always_valid_for_hours() {
        let signer = MediaSigner::new([1; 32], Some("https://edge.example/"));
        let start = 1_800_000_000 / BUCKET_SECS * BUCKET_SECS;
        let first = signer.url(HASH, start);
        assert!(first.starts_with("https://edge.example/media/"), "{first}");
        assert_eq!(signer.url(HASH, start + BUCKET_SECS - 1), first);
        assert_ne!(signer.url(HASH, start + BUCKET_SECS), first);
        for now in (start..start + 3 * BUCKET_SECS).step_by(97) {
            assert!(MediaSigner::expiry_at(now) >= now + VALID_SECS);
            assert_eq!(
                MediaSigner::bucket(now) == MediaSigner::bucket(start),
                MediaSigner::expiry_at(now) == MediaSigner::expiry_at(start)
            );
        }
    }

    #[test]
    fn the_signature_is_the_hmac_the_edge_computes() {
        // The same vector is checked against njs in `server/tests/edge.rs`: HMAC-SHA256 over
        // "/media/{hash}\n{expiry}" with the 32 key bytes, hex.
        let signer = MediaSigner::new([0x42; 32], None);
        let mut mac = HmacSha256::new_from_slice(&[0x42; 32]).unwrap();
        mac.update(format!("/media/{HASH}\n2000000000").as_bytes());
        assert_eq!(
            signer.signature(&MediaSigner::path(HASH), 2_000_000_000),
            hex::encode(mac.finalize().into_bytes())
        );
    }

    #[test]
    fn the_key_file_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = MediaSigner::open(dir.path(), None).unwrap();
        let b = MediaSigner::open(dir.path(), None).unwrap();
        assert_eq!(a.key_hex(), b.key_hex());
        let text = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        assert_eq!(text, format!("{}\n", a.key_hex()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(dir.path().join(KEY_FILE), "short").unwrap();
        assert!(matches!(
            MediaSigner::open(dir.path(), None),
            Err(MediaKeyError::Malformed(_))
        ));
    }

    #[test]
    fn a_derived_key_differs_from_the_secret_and_other_uses() {
        let secret = DeploySecret::from_bytes(vec![9; 40]).unwrap();
        let signer = MediaSigner::from_secret(&secret, None);
        assert_ne!(
            signer.key_hex(),
            hex::encode(secret.derive_key(crate::config::SUBSONIC_SEALING_CONTEXT))
        );
        assert_eq!(
            signer.key_hex(),
            MediaSigner::from_secret(&secret, None).key_hex()
        );
    }
}
