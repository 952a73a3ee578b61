//! Catalog rows as the feed and the album lists read them: a private copy of the track and
//! album mappings (the catalog module owns the catalog; these read its tables as SQLite's
//! schema names them). Numeric columns are cast in the SELECT so the mapping holds whatever
//! integer width the catalog DDL picked.

use crate::storage::StorageResult;
use crate::storage::sqlite::SEP;
use mixtape_shared::api::{Album, AlbumRef, ArtistRef, MusicBrainzIds, ReplayGain, Track};
use mixtape_shared::{AlbumId, ArtistId, TrackId};
use postgres::{GenericClient, Row};

pub(super) const TRACK_SELECT: &str = "SELECT t.id::int8, t.title, t.artist_ids, t.artist_names,
    t.album_id::int8, al.title, t.album_artist_id::int8, aa.name, t.track_number::int8,
    t.track_total::int8, t.disc_number::int8, t.year::int4, t.genre_names, t.duration_ms::int8,
    t.bitrate_kbps::int8, t.sample_rate::int8, t.channels::int8, t.format, t.content_type,
    t.size::int8, t.content_hash, t.rg_track_gain::float4, t.rg_track_peak::float4,
    t.rg_album_gain::float4, t.rg_album_peak::float4, t.mb_track_id, t.mb_recording_id,
    t.mb_album_id, t.mb_artist_id, t.mb_album_artist_id, t.cover_art, t.available
    FROM tracks t LEFT JOIN albums al ON al.id = t.album_id
    LEFT JOIN artists aa ON aa.id = t.album_artist_id";

pub(super) const ALBUM_SELECT: &str = "SELECT al.id::int8, al.title, al.album_artist_id::int8,
    ar.name, al.year::int4, al.genre_names, al.track_count::int8, al.duration_ms::int8,
    al.cover_art FROM albums al JOIN artists ar ON ar.id = al.album_artist_id";

fn split(joined: &str) -> Vec<String> {
    if joined.is_empty() {
        Vec::new()
    } else {
        joined.split(SEP).map(str::to_string).collect()
    }
}

fn u32_col(r: &Row, i: usize) -> Option<u32> {
    r.get::<_, Option<i64>>(i)
        .map(|v| v.clamp(0, u32::MAX as i64) as u32)
}

pub(super) fn track_from_row(r: &Row) -> Track {
    let ids: String = r.get(2);
    let names: String = r.get(3);
    let artists = ids
        .split(SEP)
        .zip(names.split(SEP))
        .filter_map(|(id, name)| {
            id.parse().ok().map(|id| ArtistRef {
                id: ArtistId(id),
                name: name.to_string(),
            })
        })
        .collect();
    let album = match (r.get::<_, Option<i64>>(4), r.get::<_, Option<String>>(5)) {
        (Some(id), Some(title)) => Some(AlbumRef {
            id: AlbumId(id),
            title,
        }),
        _ => None,
    };
    let album_artist = match (r.get::<_, Option<i64>>(6), r.get::<_, Option<String>>(7)) {
        (Some(id), Some(name)) => Some(ArtistRef {
            id: ArtistId(id),
            name,
        }),
        _ => None,
    };
    Track {
        id: TrackId(r.get(0)),
        title: r.get(1),
        artists,
        album,
        album_artist,
        track_number: u32_col(r, 8),
        track_total: u32_col(r, 9),
        disc_number: u32_col(r, 10),
        year: r.get(11),
        genres: split(&r.get::<_, String>(12)),
        duration_ms: r.get::<_, i64>(13).max(0) as u64,
        bitrate_kbps: u32_col(r, 14),
        sample_rate: u32_col(r, 15),
        channels: r.get::<_, Option<i64>>(16).map(|c| c.clamp(0, 255) as u8),
        format: r.get(17),
        content_type: r.get(18),
        size_bytes: r.get::<_, i64>(19).max(0) as u64,
        content_hash: r.get(20),
        replay_gain: ReplayGain {
            track_gain_db: r.get(21),
            track_peak: r.get(22),
            album_gain_db: r.get(23),
            album_peak: r.get(24),
        },
        musicbrainz: MusicBrainzIds {
            track_id: r.get(25),
            recording_id: r.get(26),
            album_id: r.get(27),
            artist_id: r.get(28),
            album_artist_id: r.get(29),
        },
        cover_art: r.get(30),
        available: r.get(31),
        media_url: None,
    }
}

pub(super) fn album_from_row(r: &Row) -> Album {
    Album {
        id: AlbumId(r.get(0)),
        title: r.get(1),
        album_artist: ArtistRef {
            id: ArtistId(r.get(2)),
            name: r.get(3),
        },
        year: r.get(4),
        genres: split(&r.get::<_, String>(5)),
        track_count: u32_col(r, 6).unwrap_or(0),
        duration_ms: r.get::<_, i64>(7).max(0) as u64,
        cover_art: r.get(8),
    }
}

/// The tracks of `ids` that exist, in no particular order.
pub(super) fn tracks_by_ids(
    c: &mut impl GenericClient,
    ids: &[TrackId],
) -> StorageResult<Vec<Track>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = ids.iter().map(|t| t.0).collect();
    Ok(c.query(
        &format!("{TRACK_SELECT} WHERE t.id = ANY($1::int8[])"),
        &[&ids],
    )?
    .iter()
    .map(track_from_row)
    .collect())
}
