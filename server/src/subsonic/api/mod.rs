//! The endpoints that answer with a `subsonic-response`, each translated onto the store and the
//! domain modules: playlists through `crate::playlists` (so our own client sees the edits in
//! its change feed), scrobbles through `crate::events::record` (the same pipeline as our client's
//! play events). Binary endpoints (`stream`, `download`, `getCoverArt`) are in `http::subsonic`.
//!
//! One module per area, as the spec groups the endpoints: `system`, `browsing`, `lists`,
//! `search`, `playlists`, `annotation`, `queue`, `bookmarks`, `similar` (and, beside this module, `info` for
//! artist and album info and `users` for user management). This module holds what they share:
//! the context, the endpoint list, the dispatch, annotations and the folder/ID3 shapes.

use super::error::{Code, SubsonicError};
use super::model::*;
use super::params::Params;
use super::response::Payload;
use super::{auth, ids};
use crate::auth::unix_now;

use crate::scanner::Scanner;
use crate::storage::{AlbumList, ItemRef, PlayQueueRecord, Store, TrackQuery};
use mixtape_shared::api::{Album, Artist, PlayEvent, PlayEventKind, PlaylistDetail, Track, User};
use mixtape_shared::{EntryId, EventId, PlaylistId, TrackId};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

mod annotation;
mod bookmarks;
mod browsing;
mod lists;
mod playlists;
mod queue;
mod search;
mod similar;
mod system;

use annotation::*;
use bookmarks::*;
use browsing::*;
use lists::*;
use playlists::*;
use queue::*;
use search::*;
use similar::*;
use system::*;

pub use annotation::scrobble_event_id;
pub use similar::similar_tracks;

type Answer = Result<Payload, SubsonicError>;

/// Everything an endpoint may use.
pub struct Ctx<'a> {
    pub store: &'a dyn Store,
    pub scanner: &'a Arc<Scanner>,
    /// The recommender: similar songs.
    pub recs: &'a crate::recs::Recs,
    pub user: &'a User,
    /// The `c` parameter: the client's name.
    pub client: &'a str,
    /// How to hand out image URLs apps load without credentials; None when the request named
    /// no host to build them on.
    pub images: Option<super::info::ImageLinks<'a>>,
}

/// Every endpoint this server answers (without `.view`), for the router and the docs.
pub const ENDPOINTS: &[&str] = &[
    "ping",
    "getLicense",
    "getOpenSubsonicExtensions",
    "getUser",
    "getMusicFolders",
    "getIndexes",
    "getMusicDirectory",
    "getArtists",
    "getArtist",
    "getAlbum",
    "getSong",
    "getAlbumList",
    "getAlbumList2",
    "getGenres",
    "getSongsByGenre",
    "getRandomSongs",
    "search2",
    "search3",
    "getPlaylists",
    "getPlaylist",
    "createPlaylist",
    "updatePlaylist",
    "deletePlaylist",
    "stream",
    "download",
    "getCoverArt",
    "scrobble",
    "star",
    "unstar",
    "getStarred",
    "getStarred2",
    "setRating",
    "getPlayQueue",
    "savePlayQueue",
    "getScanStatus",
    "startScan",
    "getSimilarSongs",
    "getSimilarSongs2",
    "getTopSongs",
    "getArtistInfo",
    "getArtistInfo2",
    "getAlbumInfo",
    "getAlbumInfo2",
    "getShares",
    "getPodcasts",
    "getNewestPodcasts",
    "getInternetRadioStations",
    "getLyrics",
    "getLyricsBySongId",
    "getNowPlaying",
    "getTranscodeDecision",
    "getTranscodeStream",
    "createBookmark",
    "getBookmarks",
    "deleteBookmark",
];

/// The OpenSubsonic extensions we implement (answered without authentication).
pub fn extensions() -> Vec<Extension> {
    vec![
        Extension {
            name: "apiKeyAuthentication",
            versions: vec![1],
        },
        Extension {
            name: "formPost",
            versions: vec![1],
        },
        Extension {
            name: "songLyrics",
            versions: vec![1],
        },
        // `stream?timeOffset=` starts a rendition there (`http::subsonic_stream`).
        Extension {
            name: "transcodeOffset",
            versions: vec![1],
        },
        // `getTranscodeDecision` and `getTranscodeStream` (`http::subsonic_stream`).
        Extension {
            name: "transcoding",
            versions: vec![1],
        },
    ]
}

/// Answers endpoint `name`; None when it is not one of ours (or a binary one).
pub fn call(ctx: &Ctx, name: &str, p: &Params) -> Option<Answer> {
    Some(match name {
        "ping" => Ok(Payload::empty()),
        "getLicense" => Payload::one("license", &License { valid: true }),
        "getOpenSubsonicExtensions" => Payload::one("openSubsonicExtensions", &extensions()),
        "getUser" => get_user(ctx, p),
        "getMusicFolders" => Payload::one(
            "musicFolders",
            &MusicFolders {
                music_folder: vec![MusicFolder {
                    id: MUSIC_FOLDER_ID,
                    name: "Library".into(),
                }],
            },
        ),
        "getIndexes" => get_indexes(ctx),
        "getMusicDirectory" => get_music_directory(ctx, p),
        "getArtists" => get_artists(ctx),
        "getArtist" => get_artist(ctx, p),
        "getAlbum" => get_album(ctx, p),
        "getSong" => get_song(ctx, p),
        "getAlbumList" => get_album_list(ctx, p, Shape::Folders),
        "getAlbumList2" => get_album_list(ctx, p, Shape::Id3),
        "getGenres" => get_genres(ctx),
        "getSongsByGenre" => get_songs_by_genre(ctx, p),
        "getRandomSongs" => get_random_songs(ctx, p),
        "search2" => search(ctx, p, Shape::Folders),
        "search3" => search(ctx, p, Shape::Id3),
        "getPlaylists" => get_playlists(ctx, p),
        "getPlaylist" => get_playlist(ctx, p),
        "createPlaylist" => create_playlist(ctx, p),
        "updatePlaylist" => update_playlist(ctx, p),
        "deletePlaylist" => delete_playlist(ctx, p),
        "scrobble" => scrobble(ctx, p),
        "star" => star(ctx, p, true),
        "unstar" => star(ctx, p, false),
        "getStarred" => get_starred(ctx, Shape::Folders),
        "getStarred2" => get_starred(ctx, Shape::Id3),
        "setRating" => set_rating(ctx, p),
        "getPlayQueue" => get_play_queue(ctx),
        "savePlayQueue" => save_play_queue(ctx, p),
        "getScanStatus" => scan_status(ctx),
        "startScan" => start_scan(ctx),
        "getSimilarSongs" => get_similar_songs(ctx, p, "similarSongs"),
        "getSimilarSongs2" => get_similar_songs(ctx, p, "similarSongs2"),
        "getTopSongs" => get_top_songs(ctx, p),
        "getLyrics" => super::lyrics::get_lyrics(ctx, p),
        "getLyricsBySongId" => super::lyrics::get_lyrics_by_song_id(ctx, p),
        "getArtistInfo" => super::info::artist_info(ctx, p, false),
        "getArtistInfo2" => super::info::artist_info(ctx, p, true),
        "getAlbumInfo" | "getAlbumInfo2" => super::info::album_info(ctx, p),
        "getNowPlaying" => get_now_playing(ctx),
        "createBookmark" => create_bookmark(ctx, p),
        "getBookmarks" => get_bookmarks(ctx),
        "deleteBookmark" => delete_bookmark(ctx, p),
        "getShares" => Payload::one("shares", &NoShares { share: Vec::new() }),
        "getPodcasts" => Payload::one(
            "podcasts",
            &NoPodcasts {
                channel: Vec::new(),
            },
        ),
        "getNewestPodcasts" => Payload::one(
            "newestPodcasts",
            &NoEpisodes {
                episode: Vec::new(),
            },
        ),
        "getInternetRadioStations" => Payload::one(
            "internetRadioStations",
            &NoRadioStations {
                internet_radio_station: Vec::new(),
            },
        ),
        _ => return None,
    })
}

pub(super) fn annotate(
    ctx: &Ctx,
    items: impl IntoIterator<Item = ItemRef>,
) -> Result<Annotated, SubsonicError> {
    let items: Vec<ItemRef> = items.into_iter().collect();
    Ok(Annotated {
        by_item: ctx.store.annotations(ctx.user.id, &items)?,
        max_bitrate_kbps: ctx.user.max_bitrate_kbps,
    })
}

/// The tracks of `ids` that exist, by id.
fn tracks_by_id(ctx: &Ctx, ids: &[TrackId]) -> Result<HashMap<TrackId, Track>, SubsonicError> {
    Ok(ctx
        .store
        .tracks_by_ids(ids)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

fn songs(ctx: &Ctx, tracks: &[Track]) -> Result<Vec<Child>, SubsonicError> {
    let a = annotate(ctx, tracks.iter().map(|t| ItemRef::Track(t.id)))?;
    Ok(tracks.iter().map(|t| a.child(t)).collect())
}

fn albums(ctx: &Ctx, list: &[Album]) -> Result<Vec<AlbumId3>, SubsonicError> {
    let a = annotate(ctx, list.iter().map(|al| ItemRef::Album(al.id)))?;
    Ok(list.iter().map(|al| a.album(al, None)).collect())
}

/// `count`-like parameters: a default, at most `max`.
fn count(p: &Params, name: &str, default: u32, max: u32) -> Result<u32, SubsonicError> {
    Ok(p.number::<u32>(name)?.unwrap_or(default).min(max))
}

/// How a list answers: the ID3 endpoints' albums and artists, or the folder endpoints' (the
/// `…2`-less ones DSub uses by default: albums as folders, artists as index entries).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Id3,
    Folders,
}

/// Artists, albums and songs in the endpoint's shape, under `element`.
pub(super) fn artists_albums_songs(
    ctx: &Ctx,
    element: &'static str,
    shape: Shape,
    artists: &[Artist],
    found_albums: &[Album],
    tracks: &[Track],
) -> Answer {
    let a = annotate(
        ctx,
        artists
            .iter()
            .map(|ar| ItemRef::Artist(ar.id))
            .chain(found_albums.iter().map(|al| ItemRef::Album(al.id)))
            .chain(tracks.iter().map(|t| ItemRef::Track(t.id))),
    )?;
    match shape {
        Shape::Id3 => Payload::one(
            element,
            &ArtistsAlbumsSongs {
                artist: artists.iter().map(|ar| a.artist(ar, None)).collect(),
                album: found_albums.iter().map(|al| a.album(al, None)).collect(),
                song: tracks.iter().map(|t| a.child(t)).collect(),
            },
        ),
        Shape::Folders => Payload::one(
            element,
            &FolderResults {
                artist: artists
                    .iter()
                    .map(|ar| IndexArtist {
                        id: ids::artist(ar.id),
                        name: ar.name.clone(),
                        starred: a
                            .by_item
                            .get(&ItemRef::Artist(ar.id))
                            .and_then(|x| x.starred_at)
                            .map(iso8601),
                    })
                    .collect(),
                album: found_albums.iter().map(|al| a.album_dir(al)).collect(),
                song: tracks.iter().map(|t| a.child(t)).collect(),
            },
        ),
    }
}

/// Checks the version and the credentials, for `http::subsonic`.
pub async fn authenticate(
    auth_service: &std::sync::Arc<crate::auth::Auth>,
    store: std::sync::Arc<dyn Store>,
    state: std::sync::Arc<super::SubsonicState>,
    params: &Params,
    address: &str,
) -> Result<User, SubsonicError> {
    auth::check_version(params)?;
    auth::authenticate(auth_service, store, state, params, address).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixtape_shared::UserId;

    #[test]
    fn index_letters_skip_articles_and_fold_accents() {
        assert_eq!(index_letter("The Beatles"), "B");
        assert_eq!(index_letter("Theory"), "T");
        assert_eq!(index_letter("Émile"), "E");
        assert_eq!(index_letter("10cc"), "#");
        assert_eq!(index_letter("les Rita"), "L");
    }

    #[test]
    fn scrobble_ids_are_deterministic_per_user_track_time_and_kind() {
        let user = |id| User {
            id: UserId(id),
            username: "u".into(),
            is_admin: false,
            max_bitrate_kbps: None,
        };
        let a = scrobble_event_id(
            &user(1),
            TrackId(5),
            1_700_000_000_000,
            PlayEventKind::Finish,
        );
        assert_eq!(
            a,
            scrobble_event_id(
                &user(1),
                TrackId(5),
                1_700_000_000_000,
                PlayEventKind::Finish
            )
        );
        assert_ne!(
            a,
            scrobble_event_id(
                &user(2),
                TrackId(5),
                1_700_000_000_000,
                PlayEventKind::Finish
            )
        );
        assert_ne!(
            a,
            scrobble_event_id(
                &user(1),
                TrackId(6),
                1_700_000_000_000,
                PlayEventKind::Finish
            )
        );
        assert_ne!(
            a,
            scrobble_event_id(
                &user(1),
                TrackId(5),
                1_700_000_000_001,
                PlayEventKind::Finish
            )
        );
        assert_ne!(
            a,
            scrobble_event_id(
                &user(1),
                TrackId(5),
                1_700_000_000_000,
                PlayEventKind::Start
            )
        );
        assert_eq!(a.0.get_version_num(), 7);
    }
}
