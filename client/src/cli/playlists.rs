//! `mixtape playlists ...`: showing playlists, and edits that apply locally at once and are
//! pushed right after when the server answers.

use super::output::{note, print_json, print_raw, say, track_line};
use super::{CliError, JsonFlag, PlaylistCommand, Result, io_err, record_link};
use crate::api::ApiError;
use crate::device::Device;
use crate::mirror::{MirrorError, PlaylistView};
use crate::offline;
use crate::sync::{self, SyncReport};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind};
use mixtape_shared::{EntryId, PlaylistId, TrackId};
use serde_json::json;

/// After an edit: push it now if the server answers, else say it waits. The edit is in the
/// outbox already, so a server that is away or failing for now (5xx, 429) is not a failure of the
/// command: the edit goes with the next sync. Only a refusal for good (4xx) fails it.
fn sync_after_edit(device: &mut Device, json: bool) -> Result<()> {
    if device.session().is_none() {
        if !json {
            note!("not logged in: the edit is kept here and sent after `mixtape login`");
        }
        return Ok(());
    }
    let api = device.api()?;
    let result = sync::sync(&mut device.mirror, &api);
    record_link(device, &result);
    match result {
        Ok(report) => {
            for r in &report.ops_rejected {
                note!("the server refused an edit ({}): {}", r.code, r.message);
            }
            Ok(())
        }
        Err(e) if e.is_offline() => {
            if !json {
                let n = device.mirror.pending_op_count()?;
                note!("offline: saved here; {n} edit(s) will be sent on the next `mixtape sync`");
            }
            Ok(())
        }
        Err(sync::SyncError::Api(e)) if e.is_retryable() => {
            let n = device.mirror.pending_op_count()?;
            let why = match &e {
                ApiError::Server {
                    status,
                    code,
                    message,
                } => format!("{status} {code}: {message}"),
                other => other.to_string(),
            };
            if !json {
                if n > 0 {
                    note!(
                        "saved here; the server refused it for now ({why}); {n} edit(s) will be \
                         retried on the next `mixtape sync`"
                    );
                } else {
                    note!("sent; the server's other changes could not be fetched now ({why})");
                }
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn playlist_json(device: &Device, p: &PlaylistView) -> Result<serde_json::Value> {
    let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
    let tracks = device.mirror.tracks(&ids)?;
    // An offline playlist kept at a quality counts its renditions as its cached copies.
    let quality = if p.offline {
        offline::quality_of(&device.mirror, p)?
    } else {
        crate::quality::ORIGINAL.to_owned()
    };
    let is_cached = |hash: &str| {
        device.cache.contains(hash)
            || (quality != crate::quality::ORIGINAL
                && device.cache.contains_rendition(hash, &quality))
    };
    let entries: Vec<serde_json::Value> = p
        .entries
        .iter()
        .map(|e| {
            let t = tracks.iter().find(|t| t.id == e.track_id);
            json!({
                "entry_id": e.entry_id,
                "track_id": e.track_id,
                "title": t.map(|t| t.title.clone()),
                "artists": t.map(|t| t.artists.iter().map(|a| a.name.clone()).collect::<Vec<_>>()),
                "duration_ms": t.map(|t| t.duration_ms),
                "cached": t.is_some_and(|t| is_cached(&t.content_hash)),
            })
        })
        .collect();
    Ok(json!({
        "id": p.id,
        "name": p.name,
        "owner": p.owner,
        "public": p.public,
        "local_only": p.local_only,
        "pending_ops": p.pending_ops,
        "offline": p.offline,
        "entries": entries,
    }))
}

fn print_playlist(device: &Device, p: &PlaylistView, json: bool) -> Result<()> {
    if json {
        print_json(&playlist_json(device, p)?)?;
        return Ok(());
    }
    let flags = [
        (p.local_only, "not yet on the server"),
        (p.pending_ops > 0, "edits pending"),
        (p.offline, "offline"),
        (p.public, "public"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, s)| *s)
    .collect::<Vec<_>>()
    .join(", ");
    say!(
        "{} ({})  {} entries  {}",
        p.name,
        p.id,
        p.entries.len(),
        flags
    );
    let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
    let tracks = device.mirror.tracks(&ids)?;
    for (i, e) in p.entries.iter().enumerate() {
        let line = tracks.iter().find(|t| t.id == e.track_id).map_or_else(
            || format!("{:>7}  (not in the local catalog)", e.track_id.0),
            track_line,
        );
        say!("{i:>4}  {}  {line}", e.entry_id);
    }
    Ok(())
}

pub(super) fn playlists(device: &mut Device, cmd: PlaylistCommand) -> Result<()> {
    match cmd {
        PlaylistCommand::List(JsonFlag { json }) => {
            let all = device.mirror.playlists()?;
            if json {
                let list: Vec<_> = all
                    .iter()
                    .map(|p| {
                        json!({"id": p.id, "name": p.name, "owner": p.owner, "public": p.public,
                            "entries": p.entries.len(), "pending_ops": p.pending_ops,
                            "local_only": p.local_only, "offline": p.offline})
                    })
                    .collect();
                print_json(&json!(list))?;
            } else if all.is_empty() {
                say!("no playlists yet: `mixtape playlists create NAME`");
            } else {
                for p in all {
                    let owner = p.owner.as_deref().unwrap_or("you");
                    say!(
                        "{}  {:<30} {:>5} entries  by {owner}{}{}",
                        p.id,
                        p.name,
                        p.entries.len(),
                        if p.offline { "  [offline]" } else { "" },
                        if p.pending_ops > 0 {
                            "  [edits pending]"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(())
        }
        PlaylistCommand::Show { name, json } => {
            let p = device.mirror.find_playlist(&name)?;
            print_playlist(device, &p, json.json)
        }
        PlaylistCommand::Create { name, public, json } => {
            let name = name.trim().to_string();
            if name.is_empty() {
                return Err(CliError::Usage("a playlist needs a name".into()));
            }
            let id = PlaylistId::new_v7();
            device
                .mirror
                .enqueue_op(id, OpKind::Create { name, public })?;
            sync_after_edit(device, json.json)?;
            let p = device.mirror.find_playlist(&id.to_string())?;
            if !json.json {
                say!("created {} ({})", p.name, p.id);
            }
            print_playlist_if_json(device, &p, json.json)
        }
        PlaylistCommand::Add {
            name,
            track_ids,
            at,
            json,
        } => {
            let p = device.mirror.find_playlist(&name)?;
            let ids: Vec<TrackId> = track_ids.into_iter().map(TrackId).collect();
            let known = device.mirror.tracks(&ids)?;
            if let Some(missing) = ids.iter().find(|id| !known.iter().any(|t| t.id == **id)) {
                return Err(MirrorError::NoSuchTrack(missing.0).into());
            }
            let at = match at {
                Some(pos) => state_of(&p).anchor_at(pos, None),
                None => Anchor::End,
            };
            let entries = ids
                .iter()
                .map(|t| NewEntry {
                    id: EntryId::new_v7(),
                    track_id: *t,
                })
                .collect();
            device
                .mirror
                .enqueue_op(p.id, OpKind::Add { entries, at })?;
            finish_edit(
                device,
                p.id,
                json.json,
                &format!("added {} track(s)", ids.len()),
            )
        }
        PlaylistCommand::Rm {
            name,
            entry_id,
            json,
        } => {
            let p = device.mirror.find_playlist(&name)?;
            require_entry(&p, entry_id)?;
            device
                .mirror
                .enqueue_op(p.id, OpKind::Remove { entry: entry_id })?;
            finish_edit(device, p.id, json.json, "removed the entry")
        }
        PlaylistCommand::Mv {
            name,
            entry_id,
            position,
            json,
        } => {
            let p = device.mirror.find_playlist(&name)?;
            require_entry(&p, entry_id)?;
            let to = state_of(&p).anchor_at(position, Some(entry_id));
            device.mirror.enqueue_op(
                p.id,
                OpKind::Move {
                    entry: entry_id,
                    to,
                },
            )?;
            finish_edit(
                device,
                p.id,
                json.json,
                &format!("moved to position {position}"),
            )
        }
        PlaylistCommand::Rename {
            name,
            new_name,
            json,
        } => {
            let p = device.mirror.find_playlist(&name)?;
            let new_name = new_name.trim().to_string();
            if new_name.is_empty() {
                return Err(CliError::Usage("a playlist needs a name".into()));
            }
            device
                .mirror
                .enqueue_op(p.id, OpKind::Rename { name: new_name })?;
            finish_edit(device, p.id, json.json, "renamed")
        }
        PlaylistCommand::Delete { name } => {
            let p = device.mirror.find_playlist(&name)?;
            device.mirror.enqueue_op(p.id, OpKind::Delete)?;
            if p.offline {
                offline::unmark(&device.mirror, &device.cache, p.id)?;
            }
            sync_after_edit(device, false)?;
            say!("deleted {}", p.name);
            Ok(())
        }
        PlaylistCommand::Import { file, name, json } => {
            let text = std::fs::read_to_string(&file).map_err(io_err(&file))?;
            let api = device.api()?;
            let report = api.import_m3u8(&text, name.as_deref())?;
            let mut ignored = SyncReport::default();
            sync::pull(&mut device.mirror, &api, &mut ignored)?;
            let p = device
                .mirror
                .find_playlist(&report.playlist.playlist.id.to_string())?;
            if json.json {
                let mut value = playlist_json(device, &p)?;
                value["unmatched"] = json!(report.unmatched);
                print_json(&value)?;
            } else {
                say!("imported {} ({} entries)", p.name, p.entries.len());
                for line in &report.unmatched {
                    say!("  no track for: {line}");
                }
            }
            Ok(())
        }
        PlaylistCommand::Export { name, output } => {
            let p = device.mirror.find_playlist(&name)?;
            let text = export_m3u8(device, &p)?;
            match output {
                Some(path) => std::fs::write(&path, text).map_err(io_err(&path))?,
                None => print_raw(&text)?,
            }
            Ok(())
        }
    }
}

fn print_playlist_if_json(device: &Device, p: &PlaylistView, json: bool) -> Result<()> {
    if json {
        print_json(&playlist_json(device, p)?)?;
    }
    Ok(())
}

fn finish_edit(device: &mut Device, id: PlaylistId, json: bool, done: &str) -> Result<()> {
    sync_after_edit(device, json)?;
    let p = device.mirror.find_playlist(&id.to_string())?;
    if json {
        print_json(&playlist_json(device, &p)?)?;
    } else {
        say!("{done}: {} now has {} entries", p.name, p.entries.len());
    }
    Ok(())
}

fn require_entry(p: &PlaylistView, entry: EntryId) -> Result<()> {
    if p.entries.iter().any(|e| e.entry_id == entry) {
        Ok(())
    } else {
        Err(MirrorError::NoSuchEntry(entry.to_string()).into())
    }
}

fn state_of(p: &PlaylistView) -> mixtape_shared::sync::PlaylistState {
    mixtape_shared::sync::PlaylistState::from_entries(
        p.id,
        p.name.clone(),
        p.public,
        0,
        p.entries.iter().map(|e| (e.entry_id, e.track_id)),
    )
}

/// Extended M3U with the server's stream URLs, which its import maps back to track ids.
fn export_m3u8(device: &Device, p: &PlaylistView) -> Result<String> {
    let base = device
        .session()
        .map(|s| s.server.clone())
        .unwrap_or_default();
    let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
    let tracks = device.mirror.tracks(&ids)?;
    let mut out = format!("#EXTM3U\n#PLAYLIST:{}\n", p.name.replace(['\r', '\n'], " "));
    for e in &p.entries {
        if let Some(t) = tracks.iter().find(|t| t.id == e.track_id) {
            let artists: Vec<&str> = t.artists.iter().map(|a| a.name.as_str()).collect();
            let line = format!("{} - {}", artists.join(", "), t.title).replace(['\r', '\n'], " ");
            out.push_str(&format!(
                "#EXTINF:{},{line}\n{base}/api/v1/tracks/{}/stream\n",
                t.duration_ms.div_ceil(1000),
                t.id.0
            ));
        }
    }
    Ok(out)
}
