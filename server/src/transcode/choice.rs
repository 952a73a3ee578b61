//! Which rendition a stream request gets: Subsonic `stream`'s `format` and `maxBitRate`, and
//! a user's own limit (an admin's `max_bitrate_kbps`) on any stream, answered with the original
//! or one of our profiles. Subsonic songs say what a plain stream will be (`transcodedSuffix`)
//! from [`default_rendition`].

use mixtape_codec::{Codec, Profile};
use mixtape_shared::api::Track;

/// What a `stream` request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Original,
    Rendition(&'static Profile),
}

/// The answer to `format` and `maxBitRate` (kb/s, 0 = none) for a source of `source_kbps`
/// in `source_format` (our `format` field: `flac`, `mp3`, `opus`…):
/// - `raw`, or the source's own format within the cap: the original;
/// - `opus`/`ogg`/`oga`: the largest Opus profile within the cap (the original when the source
///   is Opus already within it);
/// - `mp3` and everything else (`aac`, `m4a`…, which Opus cannot stand in for on the devices
///   that ask, and for which we have no free encoder): the largest MP3 profile within the cap;
/// - no format: the original unless a cap is set and the source exceeds it (or its bitrate is
///   unknown), then Opus within the cap.
pub fn choose(
    format: Option<&str>,
    max_kbps: Option<u32>,
    source_kbps: Option<u32>,
    source_format: &str,
) -> Choice {
    let max = max_kbps.filter(|&m| m > 0);
    let within = |codec: Codec| {
        source_format == codec.suffix()
            && match (max, source_kbps) {
                (None, _) => true,
                (Some(m), Some(b)) => b <= m,
                (Some(_), None) => false,
            }
    };
    let pick = |codec: Codec| {
        if within(codec) {
            return Choice::Original;
        }
        Profile::best_within(codec, max).map_or(Choice::Original, Choice::Rendition)
    };
    let under_cap = match (max, source_kbps) {
        (None, _) => true,
        (Some(m), Some(b)) => b <= m,
        (Some(_), None) => false,
    };
    match format.map(str::to_ascii_lowercase).as_deref() {
        Some("raw") => Choice::Original,
        // The song's own suffix asks for the song as it is (Aonsoku sends it on every stream,
        // `format=ogg` for Ogg Vorbis too).
        Some(f) if f.eq_ignore_ascii_case(source_format) && under_cap => Choice::Original,
        Some("opus" | "ogg" | "oga") => pick(Codec::Opus),
        Some(_) => pick(Codec::Mp3),
        None => match (max, source_kbps) {
            (None, _) => Choice::Original,
            (Some(m), Some(b)) if b <= m => Choice::Original,
            _ => Profile::best_within(Codec::Opus, max).map_or(Choice::Original, Choice::Rendition),
        },
    }
}

/// The cap a request works under: the smaller of the one it asks for (`maxBitRate`, 0 = none)
/// and the user's own.
pub fn effective_max(requested: Option<u32>, user_limit: Option<u32>) -> Option<u32> {
    [requested, user_limit]
        .into_iter()
        .flatten()
        .filter(|&k| k > 0)
        .min()
}

/// The rendition a plain `stream` of `track` (no `format`, no `maxBitRate`) gives a user with
/// `user_limit`; None when it is the original.
pub fn default_rendition(user_limit: Option<u32>, track: &Track) -> Option<&'static Profile> {
    match choose(None, user_limit, track.bitrate_kbps, &track.format) {
        Choice::Original => None,
        Choice::Rendition(p) => Some(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: Choice) -> &'static str {
        match c {
            Choice::Original => "original",
            Choice::Rendition(p) => p.id,
        }
    }

    #[test]
    fn format_and_max_bit_rate_pick_a_profile_as_the_spec_reads() {
        let cases = [
            // (format, maxBitRate, source kb/s, source format, expected)
            (Some("raw"), Some(64), Some(900), "flac", "original"),
            (None, None, Some(900), "flac", "original"),
            (None, Some(0), Some(900), "flac", "original"),
            (None, Some(320), Some(256), "mp3", "original"),
            (None, Some(128), Some(900), "flac", "opus-128"),
            (None, Some(100), None, "flac", "opus-96"),
            (Some("opus"), None, Some(900), "flac", "opus-192"),
            (Some("opus"), Some(150), Some(900), "flac", "opus-128"),
            (Some("ogg"), Some(32), Some(900), "flac", "opus-64"),
            (Some("opus"), Some(160), Some(128), "opus", "original"),
            (Some("opus"), Some(96), Some(128), "opus", "opus-96"),
            (Some("ogg"), None, Some(160), "ogg", "original"),
            (Some("FLAC"), None, Some(900), "flac", "original"),
            (Some("mp3"), Some(128), Some(900), "flac", "mp3-128"),
            (Some("mp3"), None, Some(900), "flac", "mp3-320"),
            (Some("mp3"), Some(256), Some(192), "mp3", "original"),
            (Some("mp3"), Some(128), Some(256), "mp3", "mp3-128"),
            (Some("aac"), Some(200), Some(900), "flac", "mp3-192"),
            (Some("m4a"), Some(64), Some(256), "m4a", "mp3-128"),
        ];
        for (format, max, src, src_format, expected) in cases {
            assert_eq!(
                id(choose(format, max, src, src_format)),
                expected,
                "{format:?} {max:?} {src:?} {src_format}"
            );
        }
    }

    #[test]
    fn the_users_limit_caps_what_a_request_asks_for() {
        assert_eq!(effective_max(None, None), None);
        assert_eq!(effective_max(Some(0), Some(96)), Some(96));
        assert_eq!(effective_max(Some(320), Some(96)), Some(96));
        assert_eq!(effective_max(Some(64), Some(96)), Some(64));
        assert_eq!(effective_max(Some(128), None), Some(128));
    }
}
