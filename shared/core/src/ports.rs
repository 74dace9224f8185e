//! The ports the pipeline talks to; adapters (SQLite, memory, and AWS in `shared/aws`) implement them.

use crate::finding::{Finding, FindingFilter, Hit, HitOutcome, Status};
use crate::inventory::{GovernanceRecord, Inventory, Settings};
use crate::lifecycle::LifecycleChange;
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite store {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("stored finding {id} is unreadable: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("stored lifecycle change {principal} {event_key} is unreadable: {reason}")]
    CorruptChange {
        principal: String,
        event_key: String,
        reason: String,
    },
    #[error("no finding with id {0}")]
    NotFound(String),
    /// A remote store failed (`transient`: throttling, timeouts, 5xx: worth retrying).
    #[error("{what}: {message}")]
    Backend {
        what: String,
        message: String,
        transient: bool,
    },
}

impl StoreError {
    /// Worth retrying later (the input was fine; the store was not).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Backend {
                transient: true,
                ..
            }
        )
    }
}

/// Where findings are kept, deduplicated by finding id and idempotent by event.
pub trait FindingStore {
    /// Records a batch of hits. Each hit is counted at most once per (finding, event key),
    /// however often it is delivered. Returns one outcome per hit, in order.
    fn record(&mut self, hits: &[Hit]) -> Result<Vec<HitOutcome>, StoreError>;
    fn get(&self, id: &str) -> Result<Option<Finding>, StoreError>;
    fn list(&self, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError>;
    /// Changes a finding's status (acknowledge, resolve, suppress with reason and end).
    fn set_status(
        &mut self,
        id: &str,
        status: Status,
        reason: Option<String>,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Finding, StoreError>;
}

/// Where IAM lifecycle changes are kept: an append-only log keyed by (principal, event key),
/// so a redelivered event is a no-op. The fold into state (`KnownState::fold`) happens on read.
pub trait LifecycleStore {
    /// Appends changes; those whose (principal, event key) is already kept are ignored.
    /// Returns how many were new.
    fn record_changes(&mut self, changes: &[LifecycleChange]) -> Result<u64, StoreError>;
    /// The changes at or after `since` (to the second; every change when `None`), ordered
    /// by time, principal, event key.
    fn changes_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<LifecycleChange>, StoreError>;
}

/// Where governance records come from.
pub trait GovernanceSource {
    fn settings(&self) -> &Settings;
    fn record_for(&self, principal: &str) -> Option<Arc<GovernanceRecord>>;
}

impl GovernanceSource for Inventory {
    fn settings(&self) -> &Settings {
        &self.settings
    }
    fn record_for(&self, principal: &str) -> Option<Arc<GovernanceRecord>> {
        self.find(principal).cloned()
    }
}

/// Why an alert is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    New,
    Escalated,
    Reopened,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::New => "new",
            AlertKind::Escalated => "escalated",
            AlertKind::Reopened => "reopened",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("alert delivery failed: {0}")]
pub struct AlertError(pub String);

/// Where alerts for new, escalated and reopened findings go (never one per repeat).
pub trait AlertSink {
    fn send(&mut self, kind: AlertKind, finding: &Finding) -> Result<(), AlertError>;
}

/// Keeps alerts in memory (tests, and the CLI's count of what would have been sent).
#[derive(Debug, Default)]
pub struct RecordingAlertSink {
    pub sent: Vec<(AlertKind, Finding)>,
}

impl AlertSink for RecordingAlertSink {
    fn send(&mut self, kind: AlertKind, finding: &Finding) -> Result<(), AlertError> {
        self.sent.push((kind, finding.clone()));
        Ok(())
    }
}
