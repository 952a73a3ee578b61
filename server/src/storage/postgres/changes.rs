//! Change-feed sequence numbers on PostgreSQL.
//!
//! A plain sequence hands out numbers at `nextval` and commits in any order, so a reader that
//! saw 12 could never see a late-committing 11. Here a transaction collects its changes and,
//! as its last statements, takes a block of numbers from the one `meta.change_seq` row and
//! writes them. The row lock is held until commit, and PostgreSQL makes a transaction visible
//! before it releases its locks, so the next allocator proceeds only after this commit is
//! visible: sequence order is commit order, on the primary and, by WAL replay, on replicas.

use crate::storage::StorageResult;
use mixtape_shared::UserId;
use postgres::Transaction;

/// The changes one transaction records, in the order they happened.
#[derive(Debug, Default)]
pub struct ChangeSet {
    changes: Vec<Change>,
}

#[derive(Debug)]
struct Change {
    kind: &'static str,
    item: String,
    user: Option<UserId>,
    deleted: bool,
}

impl ChangeSet {
    /// Notes that `item` changed (or was deleted); `user` None means everyone sees it.
    pub fn push(&mut self, kind: &'static str, item: String, user: Option<UserId>, deleted: bool) {
        self.changes.push(Change {
            kind,
            item,
            user,
            deleted,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Allocates the block and writes the rows; the block's first and last numbers, None when
    /// there was nothing to record. Only an item's last change in the set is kept (the feed is
    /// compacted per item anyway).
    pub(super) fn record(&mut self, tx: &mut Transaction<'_>) -> StorageResult<Option<(i64, i64)>> {
        if self.changes.is_empty() {
            return Ok(None);
        }
        let mut seen = std::collections::HashSet::new();
        let mut last: Vec<&Change> = self
            .changes
            .iter()
            .rev()
            .filter(|c| seen.insert((c.kind, c.item.as_str())))
            .collect();
        last.reverse();
        let n = last.len() as i64;
        let top: i64 = tx
            .query_one(
                "UPDATE meta SET value = value + $1 WHERE key = 'change_seq' RETURNING value",
                &[&n],
            )?
            .get(0);
        let first = top - n + 1;
        let kinds: Vec<&str> = last.iter().map(|c| c.kind).collect();
        let items: Vec<&str> = last.iter().map(|c| c.item.as_str()).collect();
        let users: Vec<Option<i64>> = last.iter().map(|c| c.user.map(|u| u.0)).collect();
        let seqs: Vec<i64> = (first..=top).collect();
        let deleted: Vec<bool> = last.iter().map(|c| c.deleted).collect();
        tx.execute(
            "INSERT INTO changes (kind, item, user_id, seq, deleted)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bool[])
             ON CONFLICT (kind, item) DO UPDATE
                SET seq = excluded.seq, deleted = excluded.deleted, user_id = excluded.user_id",
            &[&kinds, &items, &users, &seqs, &deleted],
        )?;
        Ok(Some((first, top)))
    }
}
