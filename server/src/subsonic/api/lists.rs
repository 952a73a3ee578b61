//! Lists: album lists of every type (folder and ID3), songs by genre, random songs.

use super::*;

pub(super) fn get_album_list(ctx: &Ctx, p: &Params, shape: Shape) -> Answer {
    // Supersonic pages its year and genre lists with `limit` where the spec has `size`.
    let size = match p.get("size") {
        None if p.get("limit").is_some() => count(p, "limit", 10, 500)?,
        _ => count(p, "size", 10, 500)?,
    };
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
    if shape == Shape::Folders {
        let a = annotate(ctx, found.iter().map(|al| ItemRef::Album(al.id)))?;
        return Payload::one(
            "albumList",
            &FolderAlbumList {
                album: found.iter().map(|al| a.album_dir(al)).collect(),
            },
        );
    }
    Payload::one(
        "albumList2",
        &AlbumList2 {
            album: albums(ctx, &found)?,
        },
    )
}

pub(super) fn get_songs_by_genre(ctx: &Ctx, p: &Params) -> Answer {
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

pub(super) fn get_random_songs(ctx: &Ctx, p: &Params) -> Answer {
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

/// How far back `getNowPlaying` looks for a play that started: longer than any song people
/// leave running (a mix, an audiobook chapter).
const NOW_PLAYING_WINDOW_SECS: i64 = 6 * 3600;
/// A play still counts while its track's length plus this has not passed since it started
/// (pauses, clocks a little apart).
const NOW_PLAYING_SLACK_MS: i64 = 60_000;

/// Who is playing what: every user whose latest play event is a start (a Subsonic
/// `scrobble?submission=false`, or our client's start) within the track's length. Read from
/// the play events, so every node answers the same.
pub(super) fn get_now_playing(ctx: &Ctx) -> Answer {
    let now_ms = unix_now() * 1000;
    let starts: Vec<_> = ctx
        .store
        .latest_plays(unix_now() - NOW_PLAYING_WINDOW_SECS)?
        .into_iter()
        .filter(|p| p.event.kind == PlayEventKind::Start)
        .collect();
    let ids: Vec<TrackId> = starts.iter().map(|p| p.event.track_id).collect();
    let tracks = tracks_by_id(ctx, &ids)?;
    let a = annotate(ctx, ids.iter().map(|t| ItemRef::Track(*t)))?;
    let mut entry = Vec::new();
    for play in starts {
        let Some(track) = tracks.get(&play.event.track_id) else {
            continue;
        };
        let elapsed_ms = now_ms - play.event.at_ms;
        if elapsed_ms < -NOW_PLAYING_SLACK_MS
            || elapsed_ms > track.duration_ms as i64 + NOW_PLAYING_SLACK_MS
        {
            continue;
        }
        let Some(user) = ctx.store.user_by_id(play.user)? else {
            continue;
        };
        entry.push(NowPlayingEntry {
            song: a.child(track),
            username: user.user.username,
            minutes_ago: (elapsed_ms.max(0) / 60_000) as u32,
            player_id: player_id(play.event.device),
        });
    }
    entry.sort_by_key(|e| e.minutes_ago);
    Payload::one("nowPlaying", &NowPlaying { entry })
}

/// Subsonic's integer player id, from the device that sent the play (a Subsonic app's device
/// is derived from its client name, see `scrobble`); 0 for a play without one.
fn player_id(device: Option<mixtape_shared::DeviceId>) -> u32 {
    device.map_or(0, |d| {
        let b = d.0.as_bytes();
        u32::from_be_bytes([b[12], b[13], b[14], b[15]]) & 0x7fff_ffff
    })
}

#[derive(Serialize)]
struct NowPlaying {
    entry: Vec<NowPlayingEntry>,
}

/// A song (every `child` field) with who plays it, since when and on what.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NowPlayingEntry {
    #[serde(flatten)]
    song: Child,
    username: String,
    minutes_ago: u32,
    player_id: u32,
}
