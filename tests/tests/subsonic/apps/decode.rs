//! What strict decoders accept, checked field by field on our JSON: Go's `encoding/json`
//! (Supersonic's go-subsonic, stmps) fails a whole answer on one mismatched type, Gson (Tempus)
//! on a fraction where an `Int` is declared or an object where a list is. Absent fields and
//! `null` pass (both decoders leave the zero value).

use serde_json::Value;

/// A field's declared type in the app's model.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Str,
    /// Go `int`/`int64`, Java `Int`/`Long`: a JSON integer, never `1.0`.
    Int,
    Float,
    Bool,
    /// Go `time.Time` (RFC 3339) and Tempus's UTC `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`: both read
    /// a UTC time with at most three fraction digits.
    Time,
    /// `[]struct{ID, Name string}`.
    IdNames,
    /// `[]struct{Name string}`.
    Names,
    Strs,
    Object,
    Array,
}

pub fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let base = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let rest = &s[19.min(s.len())..];
    base && match rest.strip_prefix('.') {
        Some(frac) => {
            let n = frac.len() - 1;
            frac.ends_with('Z')
                && (1..=3).contains(&n)
                && frac[..n].bytes().all(|c| c.is_ascii_digit())
        }
        None => rest == "Z",
    }
}

fn fits(v: &Value, kind: Kind) -> bool {
    let objects_with = |v: &Value, keys: &[&str]| {
        v.as_array()
            .is_some_and(|items| items.iter().all(|i| keys.iter().all(|k| i[*k].is_string())))
    };
    match kind {
        Kind::Str => v.is_string(),
        Kind::Int => v.is_i64() || v.is_u64(),
        Kind::Float => v.is_number(),
        Kind::Bool => v.is_boolean(),
        Kind::Time => v.as_str().is_some_and(is_time),
        Kind::IdNames => objects_with(v, &["id", "name"]),
        Kind::Names => objects_with(v, &["name"]),
        Kind::Strs => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        Kind::Object => v.is_object(),
        Kind::Array => v.is_array(),
    }
}

/// Every field of `fields` present in `v` has its declared type; `required` ones are present.
pub fn decodes(what: &str, v: &Value, fields: &[(&str, Kind)], required: &[&str]) {
    assert!(v.is_object(), "{what} is an object: {v}");
    for (name, kind) in fields {
        let field = &v[*name];
        if !field.is_null() {
            assert!(fits(field, *kind), "{what}.{name} is not {kind:?}: {field}");
        }
    }
    for name in required {
        assert!(!v[*name].is_null(), "{what} has no {name}: {v}");
    }
}

use Kind::*;

/// go-subsonic's `Child` (`subsonic/models.go`), the fields Tempus's `Child.kt` shares.
pub const CHILD: &[(&str, Kind)] = &[
    ("id", Str),
    ("parent", Str),
    ("isDir", Bool),
    ("title", Str),
    ("album", Str),
    ("artist", Str),
    ("artists", IdNames),
    ("albumArtists", IdNames),
    ("genres", Names),
    ("displayArtist", Str),
    ("displayAlbumArtist", Str),
    ("track", Int),
    ("year", Int),
    ("genre", Str),
    ("comment", Str),
    ("bpm", Int),
    ("musicBrainzId", Str),
    ("coverArt", Str),
    ("size", Int),
    ("contentType", Str),
    ("suffix", Str),
    ("transcodedContentType", Str),
    ("transcodedSuffix", Str),
    ("duration", Int),
    ("bitRate", Int),
    ("bitDepth", Int),
    ("samplingRate", Int),
    ("channelCount", Int),
    ("path", Str),
    ("isVideo", Bool),
    ("userRating", Int),
    ("averageRating", Float),
    ("playCount", Int),
    ("discNumber", Int),
    ("created", Time),
    ("starred", Time),
    ("played", Time),
    ("albumId", Str),
    ("artistId", Str),
    ("type", Str),
    ("bookmarkPosition", Int),
    ("replayGain", Object),
];

/// `AlbumID3` as go-subsonic and Tempus's `AlbumID3.kt` declare it.
pub const ALBUM: &[(&str, Kind)] = &[
    ("id", Str),
    ("name", Str),
    ("artist", Str),
    ("artistId", Str),
    ("artists", IdNames),
    ("coverArt", Str),
    ("songCount", Int),
    ("duration", Int),
    ("playCount", Int),
    ("created", Time),
    ("starred", Time),
    ("played", Time),
    ("year", Int),
    ("genre", Str),
    ("genres", Names),
    ("userRating", Int),
    ("releaseTypes", Strs),
    ("moods", Strs),
    ("isCompilation", Bool),
    ("sortName", Str),
    ("musicBrainzId", Str),
    ("displayArtist", Str),
    ("releaseDate", Object),
    ("originalReleaseDate", Object),
    ("song", Array),
];

pub const ARTIST: &[(&str, Kind)] = &[
    ("id", Str),
    ("name", Str),
    ("coverArt", Str),
    ("artistImageUrl", Str),
    ("albumCount", Int),
    ("starred", Time),
    ("sortName", Str),
    ("musicBrainzId", Str),
    ("album", Array),
];

pub const PLAYLIST: &[(&str, Kind)] = &[
    ("id", Str),
    ("name", Str),
    ("comment", Str),
    ("owner", Str),
    ("public", Bool),
    ("songCount", Int),
    ("duration", Int),
    ("created", Time),
    ("changed", Time),
    ("coverArt", Str),
    ("allowedUser", Strs),
    ("entry", Array),
];

pub const PLAY_QUEUE: &[(&str, Kind)] = &[
    ("entry", Array),
    ("current", Str),
    ("position", Int),
    ("username", Str),
    ("changed", Time),
    ("changedBy", Str),
];

pub const INFO: &[(&str, Kind)] = &[
    ("biography", Str),
    ("notes", Str),
    ("musicBrainzId", Str),
    ("lastFmUrl", Str),
    ("smallImageUrl", Str),
    ("mediumImageUrl", Str),
    ("largeImageUrl", Str),
    ("similarArtist", Array),
];

pub const LYRICS: &[(&str, Kind)] = &[
    ("displayArtist", Str),
    ("displayTitle", Str),
    ("lang", Str),
    ("offset", Int),
    ("synced", Bool),
    ("line", Array),
];

pub fn child(v: &Value) {
    decodes("child", v, CHILD, &["id", "title"]);
}

pub fn album(v: &Value) {
    decodes("album", v, ALBUM, &["id", "name"]);
    v["song"].as_array().into_iter().flatten().for_each(child);
}

pub fn artist(v: &Value) {
    decodes("artist", v, ARTIST, &["id", "name"]);
    v["album"].as_array().into_iter().flatten().for_each(album);
}

pub fn playlist(v: &Value) {
    decodes("playlist", v, PLAYLIST, &["id", "name"]);
    v["entry"].as_array().into_iter().flatten().for_each(child);
}

/// An element's list, which must be an array when present (never an object for one item).
pub fn list<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    let field = &v[key];
    assert!(
        field.is_null() || field.is_array(),
        "{key} is a list: {field}"
    );
    field
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

#[test]
fn times_are_utc_with_at_most_three_fraction_digits() {
    assert!(is_time("2026-12-03T12:21:56.000Z"));
    assert!(is_time("2026-12-03T12:21:56Z"));
    assert!(!is_time("2026-12-03T12:21:56.123456Z"));
    assert!(!is_time("2026-12-03T12:21:56+02:00"));
    assert!(!is_time("2026-12-03 12:21:56"));
    assert!(!is_time(""));
}
