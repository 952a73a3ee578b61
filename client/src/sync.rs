//! One sync round: push the outbox (playlist ops), upload play events, then pull the change feed
//! until caught up. Pushes are exactly-once because the server applies each op and event id once:
//! an item leaves the outbox only after the server has answered for it, so a crash or a dropped
//! response just means the next round sends it again, harmlessly.

use crate::api::{ApiClient, ApiError};
use crate::mirror::{Applied, Mirror, MirrorError};
use mixtape_shared::api::RejectedOp;

/// Ops or events per request.
const PUSH_BATCH: u32 = 500;
/// Changes per pulled page.
const PULL_PAGE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Mirror(#[from] MirrorError),
}

impl SyncError {
    pub fn is_offline(&self) -> bool {
        matches!(self, SyncError::Api(e) if e.is_offline())
    }
}

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct SyncReport {
    /// Ops the server applied.
    pub ops_accepted: u32,
    /// Ops the server already had (an earlier round's response was lost).
    pub ops_duplicate: u32,
    /// Ops the server refused for good (dropped from the outbox).
    pub ops_rejected: Vec<RejectedOp>,
    pub events_accepted: u32,
    pub events_duplicate: u32,
    pub tracks_changed: u64,
    pub tracks_deleted: u64,
    pub playlists_changed: u64,
    pub playlists_deleted: u64,
    /// The change-feed revision the mirror is now at.
    pub revision: i64,
}

/// Pushes everything pending, then pulls until the mirror is caught up.
pub fn sync(mirror: &mut Mirror, api: &ApiClient) -> Result<SyncReport, SyncError> {
    let _span = tracing::info_span!("sync", server = api.base_url()).entered();
    let mut report = SyncReport::default();
    push_ops(mirror, api, &mut report)?;
    push_events(mirror, api, &mut report)?;
    pull(mirror, api, &mut report)?;
    tracing::info!(?report, "sync done");
    Ok(report)
}

fn push_ops(
    mirror: &mut Mirror,
    api: &ApiClient,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    loop {
        let ops = mirror.pending_ops(PUSH_BATCH)?;
        if ops.is_empty() {
            return Ok(());
        }
        let answer = api.push_ops(&ops)?;
        for r in &answer.rejected {
            tracing::warn!(op = %r.id, code = %r.code, "server refused an edit: {}", r.message);
        }
        report.ops_accepted += answer.accepted;
        report.ops_duplicate += answer.duplicates;
        report.ops_rejected.extend(answer.rejected);
        let ids: Vec<_> = ops.iter().map(|op| op.id).collect();
        mirror.remove_ops(&ids)?;
    }
}

fn push_events(
    mirror: &mut Mirror,
    api: &ApiClient,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    loop {
        let events = mirror.pending_events(PUSH_BATCH)?;
        if events.is_empty() {
            return Ok(());
        }
        let answer = api.post_events(&events)?;
        report.events_accepted += answer.accepted;
        report.events_duplicate += answer.duplicates;
        let ids: Vec<_> = events.iter().map(|e| e.id).collect();
        mirror.remove_events(&ids)?;
    }
}

/// Pulls pages of the change feed from where the mirror stopped; each page is applied
/// atomically, so an interrupted pull resumes at the last whole page. The next page is fetched
/// while this one is written: the server's work and the mirror's overlap (a first mirror of a
/// large catalog is a hundred pages).
pub fn pull(
    mirror: &mut Mirror,
    api: &ApiClient,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let since = mirror.since()?;
    let (pages_tx, pages_rx) = std::sync::mpsc::sync_channel(1);
    let pulled: Result<(), SyncError> = std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut since = since;
            loop {
                let page = api.changes(&since, PULL_PAGE);
                let more = match &page {
                    Ok(p) => {
                        since = p.next_since.clone();
                        p.has_more
                    }
                    Err(_) => false,
                };
                // The receiver hangs up when applying failed: stop fetching then too.
                if pages_tx.send(page).is_err() || !more {
                    return;
                }
            }
        });
        for page in pages_rx {
            let page = page?;
            let Applied {
                tracks,
                tracks_deleted,
                playlists,
                playlists_deleted,
            } = mirror.apply_changes(&page)?;
            report.tracks_changed += tracks;
            report.tracks_deleted += tracks_deleted;
            report.playlists_changed += playlists;
            report.playlists_deleted += playlists_deleted;
            report.revision = page.revision;
        }
        Ok(())
    });
    // Also after a pull cut short: the pages applied are in the list at once.
    let refreshed = mirror.refresh_album_artists();
    pulled?;
    Ok(refreshed?)
}
