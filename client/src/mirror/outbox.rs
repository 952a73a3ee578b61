//! The outbox: playlist ops and play events made on this device, kept until the server has
//! answered for them.

use super::*;

impl Mirror {
    /// Queues an edit made on this device: it shows at once and goes to the server on the next
    /// sync. The op's clock is above every clock this device has seen.
    pub fn enqueue_op(
        &mut self,
        playlist_id: PlaylistId,
        kind: OpKind,
    ) -> MirrorResult<PlaylistOp> {
        let tx = self.conn.transaction()?;
        let seen: i64 = tx.query_row("SELECT coalesce(max(clock), 0) FROM playlists", [], |r| {
            r.get(0)
        })?;
        let clock = meta_u64(&tx, "clock")?.max(seen.max(0) as u64) + 1;
        let op = PlaylistOp {
            id: OpId::new_v7(),
            playlist_id,
            clock,
            device: self.device,
            kind,
        };
        tx.execute(
            "INSERT INTO outbox (op_id, playlist_id, body) VALUES (?1, ?2, ?3)",
            params![
                op.id.to_string(),
                playlist_id.to_string(),
                serde_json::to_string(&op).map_err(corrupt)?
            ],
        )?;
        set_meta(&tx, "clock", &clock.to_string())?;
        tx.commit()?;
        Ok(op)
    }

    /// Ops not yet accepted by the server, oldest first.
    pub fn pending_ops(&self, limit: u32) -> MirrorResult<Vec<PlaylistOp>> {
        self.conn
            .prepare_cached("SELECT body FROM outbox ORDER BY seq LIMIT ?1")?
            .query_map([limit as i64], |r| r.get::<_, String>(0))?
            .map(|body| serde_json::from_str(&body?).map_err(corrupt))
            .collect()
    }

    pub fn pending_op_count(&self) -> MirrorResult<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// Drops ops the server has answered for (applied, already had, or refused for good).
    pub fn remove_ops(&mut self, ids: &[OpId]) -> MirrorResult<()> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM outbox WHERE op_id = ?1", [id.to_string()])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a play event (also offline); it is uploaded on a later sync.
    pub fn record_event(
        &self,
        track_id: TrackId,
        kind: PlayEventKind,
        position_ms: u64,
    ) -> MirrorResult<PlayEvent> {
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let event = PlayEvent {
            id: EventId::new_v7(),
            track_id,
            kind,
            position_ms,
            at_ms,
            device: Some(self.device),
        };
        self.conn.execute(
            "INSERT INTO pending_events (id, body) VALUES (?1, ?2)",
            params![
                event.id.to_string(),
                serde_json::to_string(&event).map_err(corrupt)?
            ],
        )?;
        Ok(event)
    }

    pub fn pending_events(&self, limit: u32) -> MirrorResult<Vec<PlayEvent>> {
        self.conn
            .prepare_cached("SELECT body FROM pending_events ORDER BY seq LIMIT ?1")?
            .query_map([limit as i64], |r| r.get::<_, String>(0))?
            .map(|body| serde_json::from_str(&body?).map_err(corrupt))
            .collect()
    }

    pub fn pending_event_count(&self) -> MirrorResult<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM pending_events", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    pub fn remove_events(&mut self, ids: &[EventId]) -> MirrorResult<()> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM pending_events WHERE id = ?1", [id.to_string()])?;
        }
        tx.commit()?;
        Ok(())
    }
}
