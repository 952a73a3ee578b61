//! What stories start from: users, and tracks as the scanner would write them.

use crate::storage::{ScanWrite, Store, TrackRecord};
use mixtape_shared::sync::{OpKind, PlaylistOp};
use mixtape_shared::{DeviceId, OpId, PlaylistId, UserId};

pub fn user(store: &dyn Store, name: &str) -> UserId {
    store
        .create_user(name, "$argon2id$not-a-real-hash", false)
        .expect("create user")
        .id
}

/// A track record with the fields a scan always fills.
pub fn record(
    path: &str,
    title: &str,
    artist: &str,
    album: &str,
    year: Option<i32>,
) -> TrackRecord {
    TrackRecord {
        path: path.into(),
        size: 1000 + path.len() as u64,
        mtime_ns: 1_700_000_000_000_000_000,
        content_hash: blake3::hash(path.as_bytes()).to_hex().to_string(),
        format: "flac".into(),
        content_type: "audio/flac".into(),
        title: title.into(),
        artists: vec![artist.into()],
        album: Some(album.into()),
        album_artist: Some(artist.into()),
        track_number: Some(1),
        year,
        genres: vec!["Rock".into()],
        duration_ms: 180_000,
        ..TrackRecord::default()
    }
}

/// Scans `records` in one batch.
pub fn scan(store: &dyn Store, records: Vec<TrackRecord>) {
    store
        .apply_scan_batch(records.into_iter().map(ScanWrite::Upsert).collect())
        .expect("scan batch");
}

/// An op creating a playlist, from a device of its own.
pub fn create_op(name: &str) -> PlaylistOp {
    PlaylistOp {
        id: OpId::new_v7(),
        playlist_id: PlaylistId::new_v7(),
        clock: 1,
        device: DeviceId::new_v7(),
        kind: OpKind::Create {
            name: name.into(),
            public: false,
        },
    }
}

/// A device making ops with its own Lamport clock.
pub struct Device {
    pub id: DeviceId,
    pub clock: u64,
}

impl Device {
    pub fn new() -> Self {
        Self {
            id: DeviceId::new_v7(),
            clock: 0,
        }
    }

    pub fn op(&mut self, playlist: PlaylistId, kind: OpKind) -> PlaylistOp {
        self.clock += 1;
        PlaylistOp {
            id: OpId::new_v7(),
            playlist_id: playlist,
            clock: self.clock,
            device: self.id,
            kind,
        }
    }

    pub fn create(&mut self, playlist: PlaylistId, name: &str, public: bool) -> PlaylistOp {
        self.op(
            playlist,
            OpKind::Create {
                name: name.into(),
                public,
            },
        )
    }

    pub fn rename(&mut self, playlist: PlaylistId, name: &str) -> PlaylistOp {
        self.op(playlist, OpKind::Rename { name: name.into() })
    }
}
