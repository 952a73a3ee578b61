//! Lists: album lists of every type (folder and ID3), songs by genre, random songs.

use super::*;

pub(super) fn get_album_list(ctx: &Ctx, p: &Params, shape: Shape) -> Answer {
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
