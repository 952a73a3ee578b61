//! Bookmarks: a position a user keeps in a song (audiobooks, long mixes), one per song.

use super::*;
use crate::storage::BookmarkRecord;

/// A comment longer than this is refused (it is shown in a list, not a document).
const MAX_COMMENT: usize = 1_000;

pub(super) fn create_bookmark(ctx: &Ctx, p: &Params) -> Answer {
    let track =
        ids::parse_track(p.required("id")?).ok_or_else(|| SubsonicError::not_found("song"))?;
    let position_ms = p
        .number::<i64>("position")?
        .ok_or_else(|| SubsonicError::missing("position"))?;
    if position_ms < 0 {
        return Err(SubsonicError::invalid(
            "position",
            "milliseconds from the start, not negative",
        ));
    }
    let comment = p.get("comment").unwrap_or_default();
    if comment.chars().count() > MAX_COMMENT {
        return Err(SubsonicError::invalid(
            "comment",
            &format!("at most {MAX_COMMENT} characters"),
        ));
    }
    if ctx.store.track(track)?.is_none() {
        return Err(SubsonicError::not_found("song"));
    }
    let now = unix_now();
    ctx.store.save_bookmark(
        ctx.user.id,
        &BookmarkRecord {
            track,
            position_ms,
            comment: comment.to_string(),
            created_at: now,
            changed_at: now,
        },
    )?;
    Ok(Payload::empty())
}

pub(super) fn get_bookmarks(ctx: &Ctx) -> Answer {
    let marks = ctx.store.bookmarks(ctx.user.id)?;
    let ids: Vec<TrackId> = marks.iter().map(|b| b.track).collect();
    let tracks = tracks_by_id(ctx, &ids)?;
    let a = annotate(ctx, ids.iter().map(|t| ItemRef::Track(*t)))?;
    // A bookmark on a track a rescan removed is kept (the file may come back) but not shown.
    let bookmark = marks
        .iter()
        .filter_map(|b| {
            tracks.get(&b.track).map(|t| BookmarkOut {
                position: b.position_ms,
                username: ctx.user.username.clone(),
                comment: (!b.comment.is_empty()).then(|| b.comment.clone()),
                created: iso8601(b.created_at),
                changed: iso8601(b.changed_at),
                entry: a.child(t),
            })
        })
        .collect();
    Payload::one("bookmarks", &Bookmarks { bookmark })
}

pub(super) fn delete_bookmark(ctx: &Ctx, p: &Params) -> Answer {
    let track =
        ids::parse_track(p.required("id")?).ok_or_else(|| SubsonicError::not_found("bookmark"))?;
    if ctx.store.delete_bookmark(ctx.user.id, track)? {
        Ok(Payload::empty())
    } else {
        Err(SubsonicError::not_found("bookmark"))
    }
}

#[derive(Serialize)]
struct Bookmarks {
    bookmark: Vec<BookmarkOut>,
}

#[derive(Serialize)]
struct BookmarkOut {
    position: i64,
    username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    created: String,
    changed: String,
    entry: Child,
}
