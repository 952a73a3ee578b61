//! Annotation: scrobbles (play events), stars, ratings, the starred lists.

use super::*;

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

/// The device a Subsonic app's plays come from: one per user and client name (`c`), the same on
/// every node, so "now playing" can tell a user's phone from their desktop.
fn app_device(user: &User, client: &str) -> mixtape_shared::DeviceId {
    let hash = blake3::hash(format!("mixtape subsonic device\0{}\0{client}", user.id.0).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    mixtape_shared::DeviceId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

pub(super) fn scrobble(ctx: &Ctx, p: &Params) -> Answer {
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
    let known = tracks_by_id(ctx, &tracks)?;
    // Milliseconds, so a start and its end scrobbled without `time` (Tempus) keep their order.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
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
                device: Some(app_device(ctx.user, ctx.client)),
            })
        })
        .collect::<Result<Vec<_>, SubsonicError>>()?;
    crate::events::record(ctx.store, ctx.user, &events, unix_now())?;
    Ok(Payload::empty())
}

pub(super) fn star(ctx: &Ctx, p: &Params, starred: bool) -> Answer {
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

pub(super) fn exists(ctx: &Ctx, item: ItemRef) -> Result<(), SubsonicError> {
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

pub(super) fn get_starred(ctx: &Ctx, shape: Shape) -> Answer {
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
    let element = match shape {
        Shape::Id3 => "starred2",
        Shape::Folders => "starred",
    };
    artists_albums_songs(ctx, element, shape, &artists, &found_albums, &tracks)
}

pub(super) fn set_rating(ctx: &Ctx, p: &Params) -> Answer {
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
