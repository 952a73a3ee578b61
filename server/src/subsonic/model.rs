//! The response types of the endpoints we serve, named as in the OpenSubsonic description, and
//! their translation from our catalog types. Serialized with serde (camelCase); `response`
//! renders them as JSON or XML.

use super::ids;
use crate::storage::{Annotation, ItemRef};
use mixtape_shared::api::{Album, Artist, Playlist, Track, User};
use serde::Serialize;
use std::collections::HashMap;

/// [`Child::path`] of a track; `/` inside a name becomes `_`, so the path has three parts.
fn song_path(t: &Track) -> String {
    let part = |s: &str| s.replace('/', "_");
    let artist = t
        .album_artist
        .as_ref()
        .or(t.artists.first())
        .map_or_else(|| "Unknown Artist".to_string(), |a| part(&a.name));
    let album = t
        .album
        .as_ref()
        .map_or_else(|| "Unknown Album".to_string(), |a| part(&a.title));
    let track = t
        .track_number
        .map(|n| format!("{n:02} - "))
        .unwrap_or_default();
    format!(
        "{artist}/{album}/{track}{}.{}",
        part(&t.title),
        t.format.to_lowercase()
    )
}

/// ISO 8601 (UTC) of Unix seconds, as Subsonic dates are, with milliseconds: Amperfy's parser
/// needs the fraction (`2026-12-03T12:21:56.000Z`), and every other parser takes it.
pub fn iso8601(unix_secs: i64) -> String {
    iso8601_ms(unix_secs.saturating_mul(1000))
}

/// [`iso8601`] of Unix milliseconds.
pub fn iso8601_ms(unix_ms: i64) -> String {
    let millis = unix_ms.rem_euclid(1000);
    let unix_secs = unix_ms.div_euclid(1000);
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant's algorithm), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct License {
    pub valid: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Extension {
    pub name: &'static str,
    pub versions: Vec<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubsonicUser {
    pub username: String,
    pub email: Option<String>,
    pub scrobbling_enabled: bool,
    pub admin_role: bool,
    pub settings_role: bool,
    pub download_role: bool,
    pub upload_role: bool,
    pub playlist_role: bool,
    pub cover_art_role: bool,
    pub comment_role: bool,
    pub podcast_role: bool,
    pub stream_role: bool,
    pub jukebox_role: bool,
    pub share_role: bool,
    pub video_conversion_role: bool,
    /// The admin-set stream limit in kb/s (0: none), as Subsonic has it.
    pub max_bit_rate: u32,
    pub folder: Vec<i64>,
}

impl SubsonicUser {
    pub fn from_user(u: &User) -> Self {
        Self {
            username: u.username.clone(),
            email: None,
            scrobbling_enabled: true,
            admin_role: u.is_admin,
            settings_role: true,
            download_role: true,
            upload_role: false,
            playlist_role: true,
            cover_art_role: true,
            comment_role: false,
            podcast_role: false,
            stream_role: true,
            jukebox_role: false,
            share_role: false,
            video_conversion_role: false,
            max_bit_rate: u.max_bitrate_kbps.unwrap_or(0),
            folder: vec![MUSIC_FOLDER_ID],
        }
    }
}

/// The library is the one music folder.
pub const MUSIC_FOLDER_ID: i64 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct MusicFolder {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MusicFolders {
    pub music_folder: Vec<MusicFolder>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NameRef {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayGainOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_gain: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_peak: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album_gain: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album_peak: Option<f32>,
}

/// A song (`isDir` false) or a folder (an album or artist in folder browsing).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Child {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub is_dir: bool,
    pub title: String,
    /// An album folder's name too (beside `title`): Feishin reads `name` off the albums of
    /// `getStarred`, as off ID3 albums.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_art: Option<String>,
    /// A song's path as the apps that keep files by it expect (DSub names its cache files after
    /// it): `Album Artist/Album/NN - Title.ext`, made from the tags, not the library's layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// What a plain `stream` of the song gives when the user's stream limit makes it a
    /// rendition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcoded_content_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcoded_suffix: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_count: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_video: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub play_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disc_number: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub played: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist_id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub music_brainz_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub genres: Vec<NameRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artists: Vec<IdName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_artist: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub album_artists: Vec<IdName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_album_artist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_gain: Option<ReplayGainOut>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbumId3 {
    pub id: String,
    pub name: String,
    pub artist: String,
    pub artist_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_art: Option<String>,
    pub song_count: u32,
    pub duration: u64,
    pub play_count: u64,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub played: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    pub genres: Vec<NameRef>,
    pub artists: Vec<IdName>,
    pub display_artist: String,
    /// Present (even empty) in `getAlbum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub song: Option<Vec<Child>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtistId3 {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_art: Option<String>,
    pub album_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
    /// Present (even empty) in `getArtist`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album: Option<Vec<AlbumId3>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexId3 {
    pub name: String,
    pub artist: Vec<ArtistId3>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtistsId3 {
    pub ignored_articles: String,
    pub index: Vec<IndexId3>,
}

/// A folder-browsing artist (`getIndexes`).
#[derive(Debug, Clone, Serialize)]
pub struct IndexArtist {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Index {
    pub name: String,
    pub artist: Vec<IndexArtist>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Indexes {
    pub ignored_articles: String,
    pub last_modified: i64,
    pub index: Vec<Index>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub play_count: Option<u64>,
    pub child: Vec<Child>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenreOut {
    pub value: String,
    pub song_count: u32,
    pub album_count: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Genres {
    pub genre: Vec<GenreOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Songs {
    pub song: Vec<Child>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlbumList2 {
    pub album: Vec<AlbumId3>,
}

/// The lists of features this server does not have (shares, podcasts, internet radio),
/// answered empty: an app shows an empty screen, not an error.
#[derive(Debug, Clone, Serialize)]
pub struct NoShares {
    pub share: Vec<()>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoPodcasts {
    pub channel: Vec<()>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoEpisodes {
    pub episode: Vec<()>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoRadioStations {
    pub internet_radio_station: Vec<()>,
}

/// `albumList` (folder mode): albums as folders.
#[derive(Debug, Clone, Serialize)]
pub struct FolderAlbumList {
    pub album: Vec<Child>,
}

/// `searchResult2` and `starred` (folder mode): artists as index entries, albums as folders.
#[derive(Debug, Clone, Serialize)]
pub struct FolderResults {
    pub artist: Vec<IndexArtist>,
    pub album: Vec<Child>,
    pub song: Vec<Child>,
}

/// `searchResult3` and `starred2`.
#[derive(Debug, Clone, Serialize)]
pub struct ArtistsAlbumsSongs {
    pub artist: Vec<ArtistId3>,
    pub album: Vec<AlbumId3>,
    pub song: Vec<Child>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaylistOut {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub public: bool,
    pub song_count: u32,
    pub duration: u64,
    pub created: String,
    pub changed: String,
    pub readonly: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_art: Option<String>,
    /// Present (even empty) in `getPlaylist`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<Vec<Child>>,
}

impl PlaylistOut {
    pub fn from_playlist(p: &Playlist, viewer: &User, entries: Option<Vec<Child>>) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            owner: p.owner.clone(),
            public: p.public,
            song_count: p.entry_count,
            duration: p.duration_ms.div_ceil(1000),
            // The op log knows only the last change; it stands for both.
            created: iso8601(p.updated_at),
            changed: iso8601(p.updated_at),
            readonly: p.owner != viewer.username,
            cover_art: entries
                .as_ref()
                .and_then(|e| e.iter().find_map(|c| c.cover_art.clone())),
            entry: entries,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Playlists {
    pub playlist: Vec<PlaylistOut>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayQueueOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    pub position: i64,
    pub username: String,
    pub changed: String,
    pub changed_by: String,
    pub entry: Vec<Child>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanStatusOut {
    pub scanning: bool,
    pub count: u64,
}

/// Annotations (stars, ratings, plays, added dates) of the items in one answer, by item, and
/// the asking user's stream limit (what their songs will stream as).
#[derive(Debug, Default)]
pub struct Annotated {
    pub by_item: HashMap<ItemRef, Annotation>,
    pub max_bitrate_kbps: Option<u32>,
}

fn names(refs: &[mixtape_shared::api::ArtistRef]) -> String {
    refs.iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Annotated {
    fn get(&self, item: ItemRef) -> Annotation {
        self.by_item.get(&item).cloned().unwrap_or_default()
    }

    pub fn child(&self, t: &Track) -> Child {
        let a = self.get(ItemRef::Track(t.id));
        let artist_refs: Vec<IdName> = t
            .artists
            .iter()
            .map(|r| IdName {
                id: ids::artist(r.id),
                name: r.name.clone(),
            })
            .collect();
        let album_artists: Vec<IdName> = t
            .album_artist
            .iter()
            .map(|r| IdName {
                id: ids::artist(r.id),
                name: r.name.clone(),
            })
            .collect();
        let rg = &t.replay_gain;
        let replay_gain = (rg.track_gain_db.is_some()
            || rg.track_peak.is_some()
            || rg.album_gain_db.is_some()
            || rg.album_peak.is_some())
        .then(|| ReplayGainOut {
            track_gain: rg.track_gain_db,
            track_peak: rg.track_peak.filter(|p| *p >= 0.0),
            album_gain: rg.album_gain_db,
            album_peak: rg.album_peak.filter(|p| *p >= 0.0),
        });
        let display_artist = (!t.artists.is_empty()).then(|| names(&t.artists));
        let transcoded = crate::transcode::choice::default_rendition(self.max_bitrate_kbps, t);
        Child {
            id: ids::track(t.id),
            parent: t.album.as_ref().map(|al| ids::album(al.id)),
            is_dir: false,
            title: t.title.clone(),
            name: None,
            album: t.album.as_ref().map(|al| al.title.clone()),
            artist: display_artist.clone(),
            track: t.track_number,
            year: t.year,
            genre: t.genres.first().cloned(),
            cover_art: t.cover_art.clone(),
            path: Some(song_path(t)),
            size: Some(t.size_bytes),
            content_type: Some(t.content_type.clone()),
            suffix: Some(t.format.to_lowercase()),
            transcoded_content_type: transcoded.map(|p| p.codec.content_type()),
            transcoded_suffix: transcoded.map(|p| p.codec.suffix()),
            duration: Some(t.duration_ms.div_ceil(1000)),
            bit_rate: t.bitrate_kbps,
            sampling_rate: t.sample_rate,
            channel_count: t.channels,
            is_video: Some(false),
            user_rating: a.rating,
            play_count: Some(a.play_count),
            disc_number: t.disc_number,
            created: a.added_at.map(iso8601),
            starred: a.starred_at.map(iso8601),
            played: a.last_played_ms.map(iso8601_ms),
            album_id: t.album.as_ref().map(|al| ids::album(al.id)),
            artist_id: t.artists.first().map(|r| ids::artist(r.id)),
            kind: Some("music"),
            media_type: Some("song"),
            music_brainz_id: t.musicbrainz.recording_id.clone(),
            genres: t
                .genres
                .iter()
                .map(|g| NameRef { name: g.clone() })
                .collect(),
            artists: artist_refs,
            display_artist,
            display_album_artist: t.album_artist.as_ref().map(|r| r.name.clone()),
            album_artists,
            replay_gain,
        }
    }

    pub fn album(&self, al: &Album, songs: Option<Vec<Child>>) -> AlbumId3 {
        let a = self.get(ItemRef::Album(al.id));
        AlbumId3 {
            id: ids::album(al.id),
            name: al.title.clone(),
            artist: al.album_artist.name.clone(),
            artist_id: ids::artist(al.album_artist.id),
            cover_art: al.cover_art.clone(),
            song_count: al.track_count,
            duration: al.duration_ms.div_ceil(1000),
            play_count: a.play_count,
            created: iso8601(a.added_at.unwrap_or(0)),
            starred: a.starred_at.map(iso8601),
            played: a.last_played_ms.map(iso8601_ms),
            user_rating: a.rating,
            year: al.year,
            genre: al.genres.first().cloned(),
            genres: al
                .genres
                .iter()
                .map(|g| NameRef { name: g.clone() })
                .collect(),
            artists: vec![IdName {
                id: ids::artist(al.album_artist.id),
                name: al.album_artist.name.clone(),
            }],
            display_artist: al.album_artist.name.clone(),
            song: songs,
        }
    }

    /// An album as a folder of its artist (`getMusicDirectory`).
    pub fn album_dir(&self, al: &Album) -> Child {
        let a = self.get(ItemRef::Album(al.id));
        Child {
            id: ids::album(al.id),
            parent: Some(ids::artist(al.album_artist.id)),
            is_dir: true,
            title: al.title.clone(),
            name: Some(al.title.clone()),
            album: Some(al.title.clone()),
            artist: Some(al.album_artist.name.clone()),
            year: al.year,
            genre: al.genres.first().cloned(),
            cover_art: al.cover_art.clone(),
            duration: Some(al.duration_ms.div_ceil(1000)),
            user_rating: a.rating,
            play_count: Some(a.play_count),
            created: a.added_at.map(iso8601),
            starred: a.starred_at.map(iso8601),
            played: a.last_played_ms.map(iso8601_ms),
            album_id: Some(ids::album(al.id)),
            artist_id: Some(ids::artist(al.album_artist.id)),
            ..Child::default()
        }
    }

    pub fn artist(&self, ar: &Artist, albums: Option<Vec<AlbumId3>>) -> ArtistId3 {
        let a = self.get(ItemRef::Artist(ar.id));
        ArtistId3 {
            id: ids::artist(ar.id),
            name: ar.name.clone(),
            cover_art: albums
                .as_ref()
                .and_then(|al| al.iter().find_map(|x| x.cover_art.clone())),
            album_count: ar.album_count,
            starred: a.starred_at.map(iso8601),
            user_rating: a.rating,
            album: albums,
        }
    }

    pub fn starred(&self, item: ItemRef) -> Option<String> {
        self.get(item).starred_at.map(iso8601)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(iso8601_ms(1_700_000_000_999), "2023-11-14T22:13:20.999Z");
        assert_eq!(iso8601_ms(-1), "1969-12-31T23:59:59.999Z");
    }
}
