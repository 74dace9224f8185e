//! In-memory `FindingStore`: the reference semantics, for unit tests of the core.

use crate::finding::{sort_findings, Finding, FindingFilter, Hit, HitOutcome, Status};
use crate::lifecycle::LifecycleChange;
use crate::ports::{FindingStore, LifecycleStore, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Default)]
pub struct MemoryStore {
    findings: HashMap<String, Finding>,
    seen: HashSet<(String, String)>,
    /// The lifecycle log by (principal, event key).
    lifecycle: BTreeMap<(String, String), LifecycleChange>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Applies one hit to a finding slot (shared by the stores so they agree).
pub fn apply_hit(slot: &mut Option<Finding>, hit: &Hit) -> HitOutcome {
    match slot {
        None => {
            *slot = Some(Finding::from_hit(hit));
            HitOutcome::New
        }
        Some(f) => f.apply(hit),
    }
}

/// Applies a status change (shared by the stores).
pub fn change_status(
    f: &mut Finding,
    status: Status,
    reason: Option<String>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    f.status = status;
    f.status_reason = reason;
    f.status_until = if status == Status::Suppressed {
        until
    } else {
        None
    };
    // Stored times have whole seconds (CloudTrail's precision); both stores agree.
    f.status_at = Some(now.trunc_subsecs(0));
    f.status_until = f.status_until.map(|t| t.trunc_subsecs(0));
    // A person's decision replaces an exception's suppression.
    f.suppression = None;
}

impl FindingStore for MemoryStore {
    fn record(&mut self, hits: &[Hit]) -> Result<Vec<HitOutcome>, StoreError> {
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            if !self
                .seen
                .insert((h.finding_id.clone(), h.event_key.clone()))
            {
                out.push(HitOutcome::Duplicate);
                continue;
            }
            let mut slot = self.findings.remove(&h.finding_id);
            let o = apply_hit(&mut slot, h);
            if let Some(f) = slot {
                self.findings.insert(h.finding_id.clone(), f);
            }
            out.push(o);
        }
        Ok(out)
    }

    fn get(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        Ok(self.findings.get(id).cloned())
    }

    fn list(&self, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        let mut v: Vec<Finding> = self
            .findings
            .values()
            .filter(|f| filter.matches(f))
            .cloned()
            .collect();
        sort_findings(&mut v);
        if let Some(l) = filter.limit {
            v.truncate(l);
        }
        Ok(v)
    }

    fn set_status(
        &mut self,
        id: &str,
        status: Status,
        reason: Option<String>,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Finding, StoreError> {
        let f = self
            .findings
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        change_status(f, status, reason, until, now);
        Ok(f.clone())
    }
}

impl LifecycleStore for MemoryStore {
    fn record_changes(&mut self, changes: &[LifecycleChange]) -> Result<u64, StoreError> {
        let mut new = 0;
        for c in changes {
            let key = (c.event.principal().to_string(), c.event_key.clone());
            if let std::collections::btree_map::Entry::Vacant(slot) = self.lifecycle.entry(key) {
                slot.insert(c.clone());
                new += 1;
            }
        }
        Ok(new)
    }

    fn changes_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<LifecycleChange>, StoreError> {
        let since = since.map(|t| t.trunc_subsecs(0));
        let mut v: Vec<LifecycleChange> = self
            .lifecycle
            .values()
            .filter(|c| since.is_none_or(|s| c.at >= s))
            .cloned()
            .collect();
        sort_changes(&mut v);
        Ok(v)
    }
}

/// The order `changes_since` returns: time, principal, event key (shared by the stores).
pub fn sort_changes(v: &mut [LifecycleChange]) {
    v.sort_by(|a, b| {
        (a.at, a.event.principal(), &a.event_key).cmp(&(b.at, b.event.principal(), &b.event_key))
    });
}
