//! Which node scans. A single node (the embedded default) always does. With several nodes only
//! the holder of the scan lease does (`crate::leader` hands it the lease's writer); the others
//! answer with the status the leader publishes and pass full scans on to it as requests.

use super::{ScanError, Scanner, idle_status};
use crate::storage::leases::{ScanRequest, unix_ms};
use crate::storage::{FencedWriter, LeaseStore, Unfenced, Work};
use mixtape_shared::api::ScanStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a request waits to be seen started before this node stops reporting it as
/// requested (the leader that took it may have died; its successor's first scan covers it).
const REQUEST_PATIENCE: Duration = Duration::from_secs(60);

pub(super) enum Role {
    /// The only node: writes go straight to the store.
    Standalone,
    /// Holds the scan lease: writes go through it.
    Leader(Arc<dyn FencedWriter>),
    /// Another node scans.
    Follower,
}

pub(super) struct Coordination {
    leases: Arc<dyn LeaseStore>,
    /// A full scan this node asked for and has not yet seen started: its request id.
    pending: Mutex<Option<(i64, Instant)>>,
    /// The status last read from the leader (for the non-blocking [`Scanner::status`]).
    remote: Mutex<Option<ScanStatus>>,
}

impl Scanner {
    /// Names this node in the status (`node`, and `leader` while it scans).
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = node.into();
        self
    }

    /// One of several nodes: it scans only once [`crate::leader`] gives it the scan lease.
    pub fn with_coordination(mut self, leases: Arc<dyn LeaseStore>) -> Self {
        self.coordination = Some(Coordination {
            leases,
            pending: Mutex::new(None),
            remote: Mutex::new(None),
        });
        *self.role.get_mut().unwrap_or_else(|e| e.into_inner()) = Role::Follower;
        self
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether this node runs the scans.
    pub fn is_leader(&self) -> bool {
        !matches!(*self.role(), Role::Follower)
    }

    /// This node now holds the scan lease: scans write through `writer`.
    pub(crate) fn lead(&self, writer: Arc<dyn FencedWriter>) {
        *self.role.write().unwrap_or_else(|e| e.into_inner()) = Role::Leader(writer);
    }

    /// This node lost the scan lease. A scan still running fails at its next write.
    pub(crate) fn follow(&self) {
        if self.coordination.is_some() {
            *self.role.write().unwrap_or_else(|e| e.into_inner()) = Role::Follower;
        }
    }

    fn role(&self) -> std::sync::RwLockReadGuard<'_, Role> {
        self.role.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Where a scan starting now writes.
    pub(super) fn writer(&self) -> Result<Arc<dyn FencedWriter>, ScanError> {
        match &*self.role() {
            Role::Standalone => Ok(Arc::new(Unfenced(self.store.clone()))),
            Role::Leader(w) => Ok(w.clone()),
            Role::Follower => Err(ScanError::NotLeader),
        }
    }

    /// Passes a full scan on to the leader; refused while the leader reports one running.
    pub(super) fn request_from_leader(&self, confirm_removals: bool) -> Result<(), ScanError> {
        let c = self.coordination.as_ref().ok_or(ScanError::NotLeader)?;
        let holder = c.leases.lease_holder(Work::Scan)?;
        if let Some(published) = c.leases.published_scan_status()?
            && published.status.state == "running"
            && holder.as_deref() == Some(published.node.as_str())
        {
            return Err(ScanError::AlreadyRunning);
        }
        let id = c.leases.request_scan(&ScanRequest {
            id: 0,
            confirm_removals,
            node: self.node.clone(),
            requested_at: unix_ms(),
        })?;
        *c.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some((id, Instant::now()));
        tracing::info!(leader = ?holder, request = id, "scan requested from the leader");
        Ok(())
    }

    /// The status to answer with, without a database round trip: this node's own while it
    /// leads, else the leader's as last read ([`Self::shared_status`] reads it fresh).
    pub fn status(&self) -> ScanStatus {
        match (&*self.role(), &self.coordination) {
            (Role::Follower, Some(c)) => {
                let remote = c.remote.lock().unwrap_or_else(|e| e.into_inner()).clone();
                remote.unwrap_or_else(|| ScanStatus {
                    node: self.node.clone(),
                    ..idle_status()
                })
            }
            _ => ScanStatus {
                leader: Some(self.node.clone()),
                node: self.node.clone(),
                ..self.local_status()
            },
        }
    }

    /// Whether a scan is running (on the leader, as last read, for a node that does not lead).
    pub fn is_running(&self) -> bool {
        if self.is_leader() {
            self.locally_running()
        } else {
            self.status().state == "running"
        }
    }

    /// The status every node answers alike: on a node that does not lead, the one the leader
    /// published, read now. Blocking.
    pub fn shared_status(&self) -> Result<ScanStatus, ScanError> {
        let c = match (&*self.role(), &self.coordination) {
            (Role::Follower, Some(c)) => c,
            _ => return Ok(self.status()),
        };
        let holder = c.leases.lease_holder(Work::Scan)?;
        let published = c.leases.published_scan_status()?;
        let served = published.as_ref().map_or(0, |p| p.served_request);
        let mut status = published.map_or_else(idle_status, |p| p.status);
        status.leader = holder;
        status.node = self.node.clone();
        let mut pending = c.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((id, at)) = *pending {
            if served >= id || at.elapsed() > REQUEST_PATIENCE {
                *pending = None;
            } else if status.state != "running" {
                // Asked for and not yet started: a client waiting for it must not take the
                // previous scan's result for this one's.
                status.state = "running".into();
                status.phase = "requested".into();
                status.finished_at = None;
            }
        }
        drop(pending);
        *c.remote.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
        Ok(status)
    }

    /// Leads and no scan runs: when the leader loop starts requested scans.
    pub(crate) fn is_idle_leader(&self) -> bool {
        self.is_leader() && !self.locally_running()
    }
}
