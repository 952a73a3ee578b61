//! The endpoints that answer with a `subsonic-response`, each translated onto the store and the
//! domain modules: playlists through `crate::playlists` (so our own client sees the edits in
//! its change feed), scrobbles through `crate::events::record` (the same pipeline as our client's
//! play events). Binary endpoints (`stream`, `download`, `getCoverArt`) are in `http::subsonic`.

use super::error::{Code, SubsonicError};
use super::model::*;
use super::params::Params;
use super::response::Payload;
use super::{auth, ids};
use crate::auth::unix_now;
use crate::playlists;
use crate::scanner::Scanner;
use crate::storage::{AlbumList, ItemRef, PlayQueueRecord, Store, TrackQuery};
use mixtape_shared::api::{Album, PlayEvent, PlayEventKind, PlaylistDetail, Track, User};
use mixtape_shared::{EntryId, EventId, PlaylistId, TrackId};
use std::collections::HashMap;
use std::sync::Arc;

type Answer = Result<Payload, SubsonicError>;

/// Everything an endpoint may use.
pub struct Ctx<'a> {
    pub store: &'a dyn Store,
    pub scanner: &'a Arc<Scanner>,
    pub user: &'a User,
    /// The `c` parameter: the client's name.
    pub client: &'a str,
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
    "getAlbumList2",
    "getGenres",
    "getSongsByGenre",
    "getRandomSongs",
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
    "getStarred2",
    "setRating",
    "getPlayQueue",
    "savePlayQueue",
    "getScanStatus",
    "startScan",
    "getSimilarSongs",
    "getSimilarSongs2",
    "getTopSongs",
    "getLyrics",
    "getLyricsBySongId",
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
        "getAlbumList2" => get_album_list2(ctx, p),
        "getGenres" => get_genres(ctx),
        "getSongsByGenre" => get_songs_by_genre(ctx, p),
        "getRandomSongs" => get_random_songs(ctx, p),
        "search3" => search3(ctx, p),
        "getPlaylists" => get_playlists(ctx, p),
        "getPlaylist" => get_playlist(ctx, p),
        "createPlaylist" => create_playlist(ctx, p),
        "updatePlaylist" => update_playlist(ctx, p),
        "deletePlaylist" => delete_playlist(ctx, p),
        "scrobble" => scrobble(ctx, p),
        "star" => star(ctx, p, true),
        "unstar" => star(ctx, p, false),
        "getStarred2" => get_starred2(ctx),
        "setRating" => set_rating(ctx, p),
        "getPlayQueue" => get_play_queue(ctx),
        "savePlayQueue" => save_play_queue(ctx, p),
        "getScanStatus" => scan_status(ctx),
        "startScan" => start_scan(ctx),
        "getSimilarSongs" => get_similar_songs(ctx, p, "similarSongs", false),
        "getSimilarSongs2" => get_similar_songs(ctx, p, "similarSongs2", true),
        "getTopSongs" => get_top_songs(ctx, p),
        "getLyrics" => super::lyrics::get_lyrics(ctx, p),
        "getLyricsBySongId" => super::lyrics::get_lyrics_by_song_id(ctx, p),
        _ => return None,
    })
}

fn annotate(
    ctx: &Ctx,
    items: impl IntoIterator<Item = ItemRef>,
) -> Result<Annotated, SubsonicError> {
    let items: Vec<ItemRef> = items.into_iter().collect();
    Ok(Annotated(ctx.store.annotations(ctx.user.id, &items)?))
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

fn get_user(ctx: &Ctx, p: &Params) -> Answer {
    let name = p.required("username")?;
    if name.eq_ignore_ascii_case(&ctx.user.username) {
        return Payload::one("user", &SubsonicUser::from_user(ctx.user));
    }
    if !ctx.user.is_admin {
        return Err(SubsonicError::new(
            Code::NotAuthorized,
            "only an administrator can see other users",
        ));
    }
    let other = ctx
        .store
        .user_by_name(name)?
        .ok_or_else(|| SubsonicError::not_found("user"))?;
    Payload::one("user", &SubsonicUser::from_user(&other.user))
}

const IGNORED_ARTICLES: &[&str] = &["The", "El", "La", "Los", "Las", "Le", "Les"];

/// The index letter of a name: its first letter after a leading article, `#` otherwise.
fn index_letter(name: &str) -> String {
    let mut rest = name.trim();
    for article in IGNORED_ARTICLES {
        if let Some(r) = rest.strip_prefix(article)
            && r.starts_with(' ')
        {
            rest = r.trim_start();
            break;
        }
    }
    let folded = crate::catalog::fold(rest);
    match folded.chars().next() {
        Some(c) if c.is_alphabetic() => c.to_uppercase().collect(),
        _ => "#".into(),
    }
}

/// Every artist, grouped by index letter, in name order.
/// Every artist, grouped by index letter, with the user's stars and ratings on them.
#[allow(clippy::type_complexity)]
fn annotated_artists(
    ctx: &Ctx,
) -> Result<(Vec<(String, Vec<mixtape_shared::api::Artist>)>, Annotated), SubsonicError> {
    let groups = all_artists(ctx)?;
    let a = annotate(
        ctx,
        groups
            .iter()
            .flat_map(|(_, g)| g.iter().map(|ar| ItemRef::Artist(ar.id))),
    )?;
    Ok((groups, a))
}

fn all_artists(
    ctx: &Ctx,
) -> Result<Vec<(String, Vec<mixtape_shared::api::Artist>)>, SubsonicError> {
    const PAGE: u32 = 1000;
    let mut all = Vec::new();
    loop {
        let page = ctx.store.artist_page(all.len() as u32, PAGE)?;
        let done = (page.len() as u32) < PAGE;
        all.extend(page);
        if done {
            break;
        }
    }
    let mut groups: Vec<(String, Vec<_>)> = Vec::new();
    let mut by_letter: HashMap<String, usize> = HashMap::new();
    for artist in all {
        let letter = index_letter(&artist.name);
        let i = *by_letter.entry(letter.clone()).or_insert_with(|| {
            groups.push((letter, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(artist);
    }
    groups.sort_by(|a, b| (a.0 == "#").cmp(&(b.0 == "#")).then(a.0.cmp(&b.0)));
    Ok(groups)
}

fn get_indexes(ctx: &Ctx) -> Answer {
    let (groups, a) = annotated_artists(ctx)?;
    let index = groups
        .into_iter()
        .map(|(name, artists)| Index {
            name,
            artist: artists
                .iter()
                .map(|ar| IndexArtist {
                    id: ids::artist(ar.id),
                    name: ar.name.clone(),
                    starred: a.starred(ItemRef::Artist(ar.id)),
                })
                .collect(),
        })
        .collect();
    Payload::one(
        "indexes",
        &Indexes {
            ignored_articles: IGNORED_ARTICLES.join(" "),
            last_modified: unix_now() * 1000,
            index,
        },
    )
}

fn get_artists(ctx: &Ctx) -> Answer {
    let (groups, a) = annotated_artists(ctx)?;
    let index = groups
        .into_iter()
        .map(|(name, artists)| IndexId3 {
            name,
            artist: artists.iter().map(|ar| a.artist(ar, None)).collect(),
        })
        .collect();
    Payload::one(
        "artists",
        &ArtistsId3 {
            ignored_articles: IGNORED_ARTICLES.join(" "),
            index,
        },
    )
}

fn get_music_directory(ctx: &Ctx, p: &Params) -> Answer {
    let id = p.required("id")?;
    match ids::parse(id) {
        Some(ItemRef::Artist(artist_id)) => {
            let detail = ctx
                .store
                .artist(artist_id)?
                .ok_or_else(|| SubsonicError::not_found("artist"))?;
            // The artist's folder holds their albums, then the albums they appear on, so
            // folder browsing reaches every track.
            let mut folders = detail.albums.clone();
            for t in &detail.appears_on {
                if let Some(al) = &t.album
                    && !folders.iter().any(|f| f.id == al.id)
                    && let Some(d) = ctx.store.album(al.id)?
                {
                    folders.push(d.album);
                }
            }
            let a = annotate(
                ctx,
                std::iter::once(ItemRef::Artist(artist_id))
                    .chain(folders.iter().map(|al| ItemRef::Album(al.id))),
            )?;
            let ann =
                a.0.get(&ItemRef::Artist(artist_id))
                    .cloned()
                    .unwrap_or_default();
            Payload::one(
                "directory",
                &Directory {
                    id: ids::artist(artist_id),
                    parent: Some(MUSIC_FOLDER_ID.to_string()),
                    name: detail.artist.name.clone(),
                    starred: ann.starred_at.map(iso8601),
                    user_rating: ann.rating,
                    play_count: None,
                    child: folders.iter().map(|al| a.album_dir(al)).collect(),
                },
            )
        }
        Some(ItemRef::Album(album_id)) => {
            let detail = ctx
                .store
                .album(album_id)?
                .ok_or_else(|| SubsonicError::not_found("album"))?;
            let a = annotate(
                ctx,
                std::iter::once(ItemRef::Album(album_id))
                    .chain(detail.tracks.iter().map(|t| ItemRef::Track(t.id))),
            )?;
            let ann =
                a.0.get(&ItemRef::Album(album_id))
                    .cloned()
                    .unwrap_or_default();
            Payload::one(
                "directory",
                &Directory {
                    id: ids::album(album_id),
                    parent: Some(ids::artist(detail.album.album_artist.id)),
                    name: detail.album.title.clone(),
                    starred: ann.starred_at.map(iso8601),
                    user_rating: ann.rating,
                    play_count: Some(ann.play_count),
                    child: detail.tracks.iter().map(|t| a.child(t)).collect(),
                },
            )
        }
        _ => Err(SubsonicError::not_found("directory")),
    }
}

fn get_artist(ctx: &Ctx, p: &Params) -> Answer {
    let id =
        ids::parse_artist(p.required("id")?).ok_or_else(|| SubsonicError::not_found("artist"))?;
    let detail = ctx
        .store
        .artist(id)?
        .ok_or_else(|| SubsonicError::not_found("artist"))?;
    let a = annotate(
        ctx,
        std::iter::once(ItemRef::Artist(id))
            .chain(detail.albums.iter().map(|al| ItemRef::Album(al.id))),
    )?;
    let albums = detail.albums.iter().map(|al| a.album(al, None)).collect();
    Payload::one("artist", &a.artist(&detail.artist, Some(albums)))
}

fn get_album(ctx: &Ctx, p: &Params) -> Answer {
    let id =
        ids::parse_album(p.required("id")?).ok_or_else(|| SubsonicError::not_found("album"))?;
    let detail = ctx
        .store
        .album(id)?
        .ok_or_else(|| SubsonicError::not_found("album"))?;
    let a = annotate(
        ctx,
        std::iter::once(ItemRef::Album(id))
            .chain(detail.tracks.iter().map(|t| ItemRef::Track(t.id))),
    )?;
    let songs = detail.tracks.iter().map(|t| a.child(t)).collect();
    Payload::one("album", &a.album(&detail.album, Some(songs)))
}

fn get_song(ctx: &Ctx, p: &Params) -> Answer {
    let id = ids::parse_track(p.required("id")?).ok_or_else(|| SubsonicError::not_found("song"))?;
    let track = ctx
        .store
        .track(id)?
        .ok_or_else(|| SubsonicError::not_found("song"))?;
    let mut list = songs(ctx, &[track])?;
    Payload::one("song", &list.remove(0))
}

fn get_album_list2(ctx: &Ctx, p: &Params) -> Answer {
    let size = count(p, "size", 10, 500)?;
    let offset = p.number::<u32>("offset")?.unwrap_or(0);
    let list = match p.required("type")? {
        "random" => AlbumList::Random,
        "newest" => AlbumList::Newest,
        "recent" => AlbumList::Recent,
        "frequent" => AlbumList::Frequent,
        "highest" => AlbumList::Highest,
        "starred" => AlbumList::Starred,
        "alphabeticalByName" => AlbumList::ByName,
        "alphabeticalByArtist" => AlbumList::ByArtist,
        "byYear" => AlbumList::ByYear {
            from: p
                .number("fromYear")?
                .ok_or_else(|| SubsonicError::missing("fromYear"))?,
            to: p
                .number("toYear")?
                .ok_or_else(|| SubsonicError::missing("toYear"))?,
        },
        "byGenre" => AlbumList::ByGenre(p.required("genre")?.to_string()),
        other => {
            return Err(SubsonicError::invalid(
                "type",
                &format!(
                    "one of random, newest, highest, frequent, recent, alphabeticalByName, alphabeticalByArtist, starred, byYear, byGenre (not {other:?})"
                ),
            ));
        }
    };
    let found = ctx.store.album_list(ctx.user.id, &list, offset, size)?;
    Payload::one(
        "albumList2",
        &AlbumList2 {
            album: albums(ctx, &found)?,
        },
    )
}

fn get_genres(ctx: &Ctx) -> Answer {
    let genre = ctx
        .store
        .genres()?
        .into_iter()
        .map(|g| GenreOut {
            value: g.name,
            song_count: g.track_count,
            album_count: g.album_count,
        })
        .collect();
    Payload::one("genres", &Genres { genre })
}

fn get_songs_by_genre(ctx: &Ctx, p: &Params) -> Answer {
    let genre = p.required("genre")?;
    let n = count(p, "count", 10, 500)?;
    let offset = p.number::<u32>("offset")?.unwrap_or(0);
    let tracks = ctx
        .store
        .track_list(&TrackQuery::Genre(genre.into()), offset, n)?;
    Payload::one(
        "songsByGenre",
        &Songs {
            song: songs(ctx, &tracks)?,
        },
    )
}

fn get_random_songs(ctx: &Ctx, p: &Params) -> Answer {
    let n = count(p, "size", 10, 500)?;
    let query = TrackQuery::Random {
        genre: p.get("genre").filter(|g| !g.is_empty()).map(Into::into),
        from_year: p.number("fromYear")?,
        to_year: p.number("toYear")?,
    };
    let tracks = ctx.store.track_list(&query, 0, n)?;
    Payload::one(
        "randomSongs",
        &Songs {
            song: songs(ctx, &tracks)?,
        },
    )
}

fn page<T>(v: Vec<T>, offset: u32, n: u32) -> Vec<T> {
    v.into_iter()
        .skip(offset as usize)
        .take(n as usize)
        .collect()
}

/// At most this many results of one kind are searched through with offsets.
const MAX_SEARCH_WINDOW: u32 = 1000;

fn search3(ctx: &Ctx, p: &Params) -> Answer {
    let query = p.required("query")?.trim();
    // Symfonium's offline sync pages through everything with an empty query (or `""`).
    let everything = query.is_empty() || query == "\"\"" || query == "*";
    let (ac, ao) = (
        count(p, "artistCount", 20, 500)?,
        p.number::<u32>("artistOffset")?.unwrap_or(0),
    );
    let (lc, lo) = (
        count(p, "albumCount", 20, 500)?,
        p.number::<u32>("albumOffset")?.unwrap_or(0),
    );
    let (sc, so) = (
        count(p, "songCount", 20, 500)?,
        p.number::<u32>("songOffset")?.unwrap_or(0),
    );
    let (artists, found_albums, tracks) = if everything {
        (
            if ac > 0 {
                ctx.store.artist_page(ao, ac)?
            } else {
                Vec::new()
            },
            if lc > 0 {
                ctx.store
                    .album_list(ctx.user.id, &AlbumList::ByName, lo, lc)?
            } else {
                Vec::new()
            },
            if sc > 0 {
                ctx.store.track_list(&TrackQuery::All, so, sc)?
            } else {
                Vec::new()
            },
        )
    } else {
        let window = |offset: u32, n: u32| (offset.saturating_add(n)).min(MAX_SEARCH_WINDOW);
        let limit = window(ao, ac)
            .max(window(lo, lc))
            .max(window(so, sc))
            .max(1);
        // Control characters (a NUL ends an FTS string early) match nothing anyway.
        let text: String = query
            .trim_matches('"')
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let r = ctx.store.search(&text, limit)?;
        (
            page(r.artists, ao, ac),
            page(r.albums, lo, lc),
            page(r.tracks, so, sc),
        )
    };
    let a = annotate(
        ctx,
        artists
            .iter()
            .map(|ar| ItemRef::Artist(ar.id))
            .chain(found_albums.iter().map(|al| ItemRef::Album(al.id)))
            .chain(tracks.iter().map(|t| ItemRef::Track(t.id))),
    )?;
    Payload::one(
        "searchResult3",
        &ArtistsAlbumsSongs {
            artist: artists.iter().map(|ar| a.artist(ar, None)).collect(),
            album: found_albums.iter().map(|al| a.album(al, None)).collect(),
            song: tracks.iter().map(|t| a.child(t)).collect(),
        },
    )
}

fn playlist_id(p: &Params, name: &str) -> Result<PlaylistId, SubsonicError> {
    p.required(name)?
        .trim()
        .parse()
        .map_err(|_| SubsonicError::not_found("playlist"))
}

fn playlist_answer(ctx: &Ctx, detail: &PlaylistDetail) -> Answer {
    let ids: Vec<TrackId> = detail.entries.iter().map(|e| e.track_id).collect();
    let tracks: HashMap<TrackId, Track> = ctx
        .store
        .tracks_by_ids(&ids)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let in_order: Vec<Track> = ids
        .iter()
        .filter_map(|id| tracks.get(id).cloned())
        .collect();
    let entries = songs(ctx, &in_order)?;
    Payload::one(
        "playlist",
        &PlaylistOut::from_playlist(&detail.playlist, ctx.user, Some(entries)),
    )
}

fn get_playlists(ctx: &Ctx, p: &Params) -> Answer {
    let user = match p.get("username") {
        Some(name) if !name.eq_ignore_ascii_case(&ctx.user.username) => {
            if !ctx.user.is_admin {
                return Err(SubsonicError::new(
                    Code::NotAuthorized,
                    "only an administrator can list another user's playlists",
                ));
            }
            ctx.store
                .user_by_name(name)?
                .ok_or_else(|| SubsonicError::not_found("user"))?
                .user
        }
        _ => ctx.user.clone(),
    };
    let playlist = playlists::list(ctx.store, &user)?
        .iter()
        .map(|pl| PlaylistOut::from_playlist(pl, ctx.user, None))
        .collect();
    Payload::one("playlists", &Playlists { playlist })
}

fn get_playlist(ctx: &Ctx, p: &Params) -> Answer {
    let id = playlist_id(p, "id")?;
    let detail = playlists::get(ctx.store, ctx.user, id)?;
    playlist_answer(ctx, &detail)
}

fn track_ids(p: &Params, name: &str) -> Result<Vec<TrackId>, SubsonicError> {
    p.all(name)
        .into_iter()
        .map(|s| ids::parse_track(s).ok_or_else(|| SubsonicError::not_found("song")))
        .collect()
}

/// The entries at these positions (of the playlist as it is now), each once.
fn entries_at(detail: &PlaylistDetail, positions: &[usize]) -> Result<Vec<EntryId>, SubsonicError> {
    let mut entries = Vec::new();
    for &i in positions {
        let entry = detail
            .entries
            .get(i)
            .ok_or_else(|| SubsonicError::not_found(&format!("playlist entry {i}")))?;
        if !entries.contains(&entry.id) {
            entries.push(entry.id);
        }
    }
    Ok(entries)
}

fn create_playlist(ctx: &Ctx, p: &Params) -> Answer {
    let songs = track_ids(p, "songId")?;
    let detail = match p.get("playlistId") {
        // Replaces the songs of an existing playlist, as one batch of ops.
        Some(_) => {
            let id = playlist_id(p, "playlistId")?;
            let detail = playlists::get(ctx.store, ctx.user, id)?;
            let edit = playlists::BatchEdit {
                name: p.get("name").map(str::to_string),
                remove: detail.entries.iter().map(|e| e.id).collect(),
                append: songs,
                ..Default::default()
            };
            playlists::edit_batch(ctx.store, ctx.user, id, &edit)?
        }
        None => {
            let name = p
                .get("name")
                .ok_or_else(|| SubsonicError::missing("name or playlistId"))?;
            playlists::create_with_tracks(ctx.store, ctx.user, name, &songs)?
        }
    };
    playlist_answer(ctx, &detail)
}

fn update_playlist(ctx: &Ctx, p: &Params) -> Answer {
    let id = playlist_id(p, "playlistId")?;
    let add = track_ids(p, "songIdToAdd")?;
    let remove: Vec<usize> = p.numbers("songIndexToRemove")?;
    // Ownership first, so nothing is changed for a request that cannot finish.
    let detail = playlists::get(ctx.store, ctx.user, id)?;
    if detail.playlist.owner != ctx.user.username {
        return Err(SubsonicError::new(
            Code::NotAuthorized,
            "only the owner can change this playlist",
        ));
    }
    // Every change of the request in one batch: one transaction, one materialize.
    let edit = playlists::BatchEdit {
        name: p.get("name").map(str::to_string),
        public: p.boolean("public")?,
        remove: entries_at(&detail, &remove)?,
        append: add,
    };
    playlists::edit_batch(ctx.store, ctx.user, id, &edit)?;
    Ok(Payload::empty())
}

fn delete_playlist(ctx: &Ctx, p: &Params) -> Answer {
    let id = playlist_id(p, "id")?;
    playlists::delete(ctx.store, ctx.user, id)?;
    Ok(Payload::empty())
}

/// A scrobble's event id, the same every time the same user scrobbles the same track at the
/// same time (a UUIDv7 whose time is the play's and whose other bits come from a hash), so a
/// repeated scrobble is stored once.
pub fn scrobble_event_id(user: &User, track: TrackId, at_ms: i64, kind: PlayEventKind) -> EventId {
    let hash = blake3::hash(
        format!(
            "mixtape subsonic scrobble\0{}\0{}\0{at_ms}\0{}",
            user.id.0,
            track.0,
            kind.as_str()
        )
        .as_bytes(),
    );
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&hash.as_bytes()[..10]);
    EventId(uuid::Builder::from_unix_timestamp_millis(at_ms.max(0) as u64, &bits).into_uuid())
}

fn scrobble(ctx: &Ctx, p: &Params) -> Answer {
    let tracks = {
        let ids = p.all("id");
        if ids.is_empty() {
            return Err(SubsonicError::missing("id"));
        }
        ids.into_iter()
            .map(|s| ids::parse_track(s).ok_or_else(|| SubsonicError::not_found("song")))
            .collect::<Result<Vec<_>, _>>()?
    };
    let times: Vec<i64> = p.numbers("time")?;
    let submission = p.boolean("submission")?.unwrap_or(true);
    let kind = if submission {
        PlayEventKind::Finish
    } else {
        PlayEventKind::Start
    };
    let known: HashMap<TrackId, Track> = ctx
        .store
        .tracks_by_ids(&tracks)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let now_ms = unix_now() * 1000;
    let events = tracks
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let track = known
                .get(id)
                .ok_or_else(|| SubsonicError::not_found("song"))?;
            let at_ms = times.get(i).copied().unwrap_or(now_ms);
            Ok(PlayEvent {
                id: scrobble_event_id(ctx.user, *id, at_ms, kind),
                track_id: *id,
                kind,
                position_ms: if submission { track.duration_ms } else { 0 },
                at_ms,
                device: None,
            })
        })
        .collect::<Result<Vec<_>, SubsonicError>>()?;
    crate::events::record(ctx.store, ctx.user, &events, unix_now())?;
    Ok(Payload::empty())
}

fn star(ctx: &Ctx, p: &Params, starred: bool) -> Answer {
    let mut items = Vec::new();
    for id in p.all("id") {
        items.push(ids::parse(id).ok_or_else(|| SubsonicError::not_found("item"))?);
    }
    for id in p.all("albumId") {
        items.push(ItemRef::Album(
            ids::parse_album(id).ok_or_else(|| SubsonicError::not_found("album"))?,
        ));
    }
    for id in p.all("artistId") {
        items.push(ItemRef::Artist(
            ids::parse_artist(id).ok_or_else(|| SubsonicError::not_found("artist"))?,
        ));
    }
    if items.is_empty() {
        return Err(SubsonicError::missing("id, albumId or artistId"));
    }
    if starred {
        for item in &items {
            exists(ctx, *item)?;
        }
    }
    ctx.store
        .set_starred(ctx.user.id, &items, starred, unix_now())?;
    Ok(Payload::empty())
}

fn exists(ctx: &Ctx, item: ItemRef) -> Result<(), SubsonicError> {
    let found = match item {
        ItemRef::Track(id) => ctx.store.track(id)?.is_some(),
        ItemRef::Album(id) => ctx.store.album(id)?.is_some(),
        ItemRef::Artist(id) => ctx.store.artist(id)?.is_some(),
    };
    if found {
        Ok(())
    } else {
        Err(SubsonicError::not_found("item"))
    }
}

fn get_starred2(ctx: &Ctx) -> Answer {
    let starred = ctx.store.starred_items(ctx.user.id)?;
    let mut artists = Vec::new();
    let mut found_albums = Vec::new();
    let mut track_ids = Vec::new();
    for (item, _) in &starred {
        match item {
            ItemRef::Artist(id) => {
                if let Some(d) = ctx.store.artist(*id)? {
                    artists.push(d.artist);
                }
            }
            ItemRef::Album(id) => {
                if let Some(d) = ctx.store.album(*id)? {
                    found_albums.push(d.album);
                }
            }
            ItemRef::Track(id) => track_ids.push(*id),
        }
    }
    let tracks = ctx.store.tracks_by_ids(&track_ids)?;
    let a = annotate(ctx, starred.iter().map(|(i, _)| *i))?;
    Payload::one(
        "starred2",
        &ArtistsAlbumsSongs {
            artist: artists.iter().map(|ar| a.artist(ar, None)).collect(),
            album: found_albums.iter().map(|al| a.album(al, None)).collect(),
            song: tracks.iter().map(|t| a.child(t)).collect(),
        },
    )
}

fn set_rating(ctx: &Ctx, p: &Params) -> Answer {
    let item = ids::parse(p.required("id")?).ok_or_else(|| SubsonicError::not_found("item"))?;
    let rating: u8 = p
        .number("rating")?
        .ok_or_else(|| SubsonicError::missing("rating"))?;
    if rating > 5 {
        return Err(SubsonicError::invalid("rating", "0-5"));
    }
    exists(ctx, item)?;
    ctx.store
        .set_rating(ctx.user.id, item, rating, unix_now())?;
    Ok(Payload::empty())
}

fn get_play_queue(ctx: &Ctx) -> Answer {
    let queue = ctx.store.play_queue(ctx.user.id)?;
    let out = match queue {
        None => PlayQueueOut {
            current: None,
            position: 0,
            username: ctx.user.username.clone(),
            changed: iso8601(0),
            changed_by: String::new(),
            entry: Vec::new(),
        },
        Some(q) => {
            let found: HashMap<TrackId, Track> = ctx
                .store
                .tracks_by_ids(&q.track_ids)?
                .into_iter()
                .map(|t| (t.id, t))
                .collect();
            let in_order: Vec<Track> = q
                .track_ids
                .iter()
                .filter_map(|id| found.get(id).cloned())
                .collect();
            PlayQueueOut {
                current: q.current.map(ids::track),
                position: q.position_ms,
                username: ctx.user.username.clone(),
                changed: iso8601(q.changed_at),
                changed_by: q.changed_by,
                entry: songs(ctx, &in_order)?,
            }
        }
    };
    Payload::one("playQueue", &out)
}

/// A saved queue holds at most this many tracks.
const MAX_QUEUE: usize = 10_000;

fn save_play_queue(ctx: &Ctx, p: &Params) -> Answer {
    let tracks = track_ids(p, "id")?;
    if tracks.len() > MAX_QUEUE {
        return Err(SubsonicError::new(
            Code::Generic,
            format!("a play queue holds at most {MAX_QUEUE} songs"),
        ));
    }
    let current = p
        .get("current")
        .map(|c| ids::parse_track(c).ok_or_else(|| SubsonicError::not_found("song")))
        .transpose()?;
    let record = PlayQueueRecord {
        current: current.or(tracks.first().copied()),
        track_ids: tracks,
        position_ms: p.number::<i64>("position")?.unwrap_or(0).max(0),
        changed_at: unix_now(),
        changed_by: ctx.client.to_string(),
    };
    ctx.store.save_play_queue(ctx.user.id, &record)?;
    Ok(Payload::empty())
}

fn scan_status(ctx: &Ctx) -> Answer {
    Payload::one(
        "scanStatus",
        &ScanStatusOut {
            scanning: ctx.scanner.is_running(),
            count: ctx.store.track_count()?,
        },
    )
}

fn start_scan(ctx: &Ctx) -> Answer {
    if !ctx.user.is_admin {
        return Err(SubsonicError::new(
            Code::NotAuthorized,
            "only an administrator can start a scan",
        ));
    }
    match ctx.scanner.spawn_full() {
        Ok(()) | Err(crate::scanner::ScanError::AlreadyRunning) => {}
        Err(e) => return Err(e.into()),
    }
    scan_status(ctx)
}

/// Songs like the seed: until `crate::recs` serves these, honest catalog results — the seed's
/// artists' other songs, then songs sharing its genres, each group shuffled.
pub fn similar_tracks(
    store: &dyn Store,
    seed: ItemRef,
    n: u32,
) -> Result<Vec<Track>, SubsonicError> {
    let (artists, genres, mut except) = match seed {
        ItemRef::Track(id) => {
            let t = store
                .track(id)?
                .ok_or_else(|| SubsonicError::not_found("song"))?;
            let artists = t
                .artists
                .iter()
                .map(|a| a.id)
                .chain(t.album_artist.map(|a| a.id))
                .collect();
            (artists, t.genres, vec![id])
        }
        ItemRef::Album(id) => {
            let d = store
                .album(id)?
                .ok_or_else(|| SubsonicError::not_found("album"))?;
            let except = d.tracks.iter().map(|t| t.id).collect();
            (vec![d.album.album_artist.id], d.album.genres, except)
        }
        ItemRef::Artist(id) => {
            let d = store
                .artist(id)?
                .ok_or_else(|| SubsonicError::not_found("artist"))?;
            let mut genres: Vec<String> = d.albums.iter().flat_map(|a| a.genres.clone()).collect();
            genres.sort();
            genres.dedup();
            (vec![id], genres, Vec::new())
        }
    };
    let mut out: Vec<Track> = Vec::new();
    let mut seen_artists = Vec::new();
    for artist in artists {
        if out.len() >= n as usize || seen_artists.contains(&artist) {
            continue;
        }
        seen_artists.push(artist);
        let more = store.track_list(
            &TrackQuery::ByArtistShuffled {
                artist,
                except: except.clone(),
            },
            0,
            n - out.len() as u32,
        )?;
        except.extend(more.iter().map(|t| t.id));
        out.extend(more);
    }
    if out.len() < n as usize {
        let more = store.track_list(
            &TrackQuery::ByGenresShuffled { genres, except },
            0,
            n - out.len() as u32,
        )?;
        out.extend(more);
    }
    Ok(out)
}

fn get_similar_songs(ctx: &Ctx, p: &Params, element: &'static str, artist_only: bool) -> Answer {
    let id = p.required("id")?;
    let seed = if artist_only {
        ids::parse_artist(id).map(ItemRef::Artist)
    } else {
        ids::parse(id)
    }
    .ok_or_else(|| SubsonicError::not_found("item"))?;
    let n = count(p, "count", 50, 500)?;
    let tracks = similar_tracks(ctx.store, seed, n)?;
    Payload::one(
        element,
        &Songs {
            song: songs(ctx, &tracks)?,
        },
    )
}

/// The artist's most played songs (finished plays by every user), then in album order.
fn get_top_songs(ctx: &Ctx, p: &Params) -> Answer {
    let n = count(p, "count", 50, 500)?;
    let artist = match (p.get("artist"), p.get("id")) {
        (_, Some(id)) => ids::parse_artist(id)
            .and_then(|a| ctx.store.artist(a).transpose())
            .transpose()?
            .map(|d| d.artist),
        (Some(name), None) => ctx.store.artist_by_name(name)?,
        (None, None) => return Err(SubsonicError::missing("artist")),
    };
    let tracks = match artist {
        Some(a) => ctx.store.track_list(&TrackQuery::TopByArtist(a.id), 0, n)?,
        None => Vec::new(),
    };
    Payload::one(
        "topSongs",
        &Songs {
            song: songs(ctx, &tracks)?,
        },
    )
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
