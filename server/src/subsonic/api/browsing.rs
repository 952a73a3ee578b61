//! Browsing: the artist indexes (folder and ID3), folders, artists, albums, songs, genres.

use super::*;

pub(super) const IGNORED_ARTICLES: &[&str] = &["The", "El", "La", "Los", "Las", "Le", "Les"];

/// The index letter of a name: its first letter after a leading article, `#` otherwise.
pub(super) fn index_letter(name: &str) -> String {
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
pub(super) fn annotated_artists(
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

pub(super) fn all_artists(
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
    // Album artists only: a guest on one track of a compilation would open an empty page in
    // most apps. Every track stays reachable through its album's artist.
    for artist in all.into_iter().filter(|a| a.album_count > 0) {
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

pub(super) fn get_indexes(ctx: &Ctx) -> Answer {
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

pub(super) fn get_artists(ctx: &Ctx) -> Answer {
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

pub(super) fn get_music_directory(ctx: &Ctx, p: &Params) -> Answer {
    let id = p.required("id")?;
    match ids::parse(id) {
        Some(ItemRef::Artist(artist_id)) => {
            let detail = ctx
                .store
                .artist(artist_id)?
                .ok_or_else(|| SubsonicError::not_found("artist"))?;
            let folders = artist_albums(ctx, &detail)?;
            let a = annotate(
                ctx,
                std::iter::once(ItemRef::Artist(artist_id))
                    .chain(folders.iter().map(|al| ItemRef::Album(al.id))),
            )?;
            let ann = a
                .by_item
                .get(&ItemRef::Artist(artist_id))
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
            let ann = a
                .by_item
                .get(&ItemRef::Album(album_id))
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

/// An artist's albums, then the albums they appear on (a song's artist may have only the
/// latter), so browsing an artist reaches every one of their tracks.
pub(super) fn artist_albums(
    ctx: &Ctx,
    detail: &mixtape_shared::api::ArtistDetail,
) -> Result<Vec<Album>, SubsonicError> {
    let mut albums = detail.albums.clone();
    for t in &detail.appears_on {
        if let Some(al) = &t.album
            && !albums.iter().any(|f| f.id == al.id)
            && let Some(d) = ctx.store.album(al.id)?
        {
            albums.push(d.album);
        }
    }
    Ok(albums)
}

pub(super) fn get_artist(ctx: &Ctx, p: &Params) -> Answer {
    let id =
        ids::parse_artist(p.required("id")?).ok_or_else(|| SubsonicError::not_found("artist"))?;
    let detail = ctx
        .store
        .artist(id)?
        .ok_or_else(|| SubsonicError::not_found("artist"))?;
    let found = artist_albums(ctx, &detail)?;
    let a = annotate(
        ctx,
        std::iter::once(ItemRef::Artist(id)).chain(found.iter().map(|al| ItemRef::Album(al.id))),
    )?;
    let albums = found.iter().map(|al| a.album(al, None)).collect();
    let artist = Artist {
        album_count: found.len() as u32,
        ..detail.artist.clone()
    };
    Payload::one("artist", &a.artist(&artist, Some(albums)))
}

pub(super) fn get_album(ctx: &Ctx, p: &Params) -> Answer {
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

pub(super) fn get_song(ctx: &Ctx, p: &Params) -> Answer {
    let id = ids::parse_track(p.required("id")?).ok_or_else(|| SubsonicError::not_found("song"))?;
    let track = ctx
        .store
        .track(id)?
        .ok_or_else(|| SubsonicError::not_found("song"))?;
    let mut list = songs(ctx, &[track])?;
    Payload::one("song", &list.remove(0))
}

pub(super) fn get_genres(ctx: &Ctx) -> Answer {
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
