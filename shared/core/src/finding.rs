//! Findings: what a rule found, deduplicated by a deterministic id, with the merge semantics
//! every store shares (idempotent by event, order-independent counts and times).

use crate::activity::{format_time, ActorClass};
use crate::rule_id::{RuleId, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// How many event ids a finding keeps as its sample.
pub const EVENT_SAMPLE: usize = 10;

/// Counts at which a repeating finding is re-alerted.
pub const ESCALATION_COUNTS: [u64; 3] = [10, 100, 1000];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Open,
    Acknowledged,
    Resolved,
    Suppressed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
            Status::Suppressed => "suppressed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::Open,
            Status::Acknowledged,
            Status::Resolved,
            Status::Suppressed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Open and acknowledged findings are live: they count for `--fail-on`.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Open | Status::Acknowledged)
    }
}

/// The approved exception that suppressed a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub reason: String,
    pub approver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub expires: String,
}

/// The deterministic id of a finding: same principal, rule and subject -> same finding.
pub fn finding_id(principal: &str, rule: RuleId, subject: &str) -> String {
    let mut h = Sha256::new();
    h.update(principal.as_bytes());
    h.update([0]);
    h.update(rule.as_str().as_bytes());
    h.update([0]);
    h.update(subject.as_bytes());
    let d = h.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for b in &d[..16] {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0x0f)] as char);
    }
    s
}

/// The event key of a sweep observation: `sweep@<time of the sweep>`. A sweep counts once
/// per finding, however often the same sweep is replayed.
pub const SWEEP_KEY_PREFIX: &str = "sweep@";

/// One event's contribution to one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub finding_id: String,
    pub rule: RuleId,
    pub severity: Severity,
    pub principal: String,
    pub actor_class: ActorClass,
    pub owner: Option<String>,
    pub contact: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub event_time: DateTime<Utc>,
    pub event_id: Option<String>,
    /// What makes this event count once (see `Activity::dedup_key`).
    pub event_key: String,
    pub evidence: BTreeMap<String, String>,
    pub suppressed_by: Option<Suppression>,
}

impl Hit {
    /// This hit is a sweep's observation of a standing condition, not an event.
    pub fn is_sweep(&self) -> bool {
        self.event_key.starts_with(SWEEP_KEY_PREFIX)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub rule: RuleId,
    pub severity: Severity,
    pub principal: String,
    pub actor_class: ActorClass,
    pub owner: Option<String>,
    pub contact: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    #[serde(with = "time_fmt")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "time_fmt")]
    pub last_seen: DateTime<Utc>,
    pub count: u64,
    pub event_ids: Vec<String>,
    pub evidence: BTreeMap<String, String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_time_fmt"
    )]
    pub status_until: Option<DateTime<Utc>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_time_fmt"
    )]
    pub status_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Suppression>,
}

pub mod time_fmt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::activity::format_time(t))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        crate::activity::parse_time(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid time '{s}'")))
    }
}

pub mod opt_time_fmt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::activity::format_time(t)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => crate::activity::parse_time(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid time '{s}'"))),
        }
    }
}

/// What recording one (new) event did to its finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitOutcome {
    /// The finding did not exist.
    New,
    /// Counted into an existing finding; `escalated` when severity rose or the count crossed
    /// an escalation threshold, `reopened` when a resolved finding became open again.
    Updated { escalated: bool, reopened: bool },
    /// This event was already counted for this finding.
    Duplicate,
}

impl Finding {
    /// A new finding from its first event.
    pub fn from_hit(hit: &Hit) -> Finding {
        let (status, reason) = match &hit.suppressed_by {
            Some(s) => (Status::Suppressed, Some(format!("exception: {}", s.reason))),
            None => (Status::Open, None),
        };
        Finding {
            id: hit.finding_id.clone(),
            rule: hit.rule,
            severity: hit.severity,
            principal: hit.principal.clone(),
            actor_class: hit.actor_class,
            owner: hit.owner.clone(),
            contact: hit.contact.clone(),
            action: hit.action.clone(),
            resource: hit.resource.clone(),
            account_id: hit.account_id.clone(),
            region: hit.region.clone(),
            first_seen: hit.event_time,
            last_seen: hit.event_time,
            count: 1,
            event_ids: hit.event_id.iter().cloned().collect(),
            evidence: hit.evidence.clone(),
            status,
            status_reason: reason,
            status_until: None,
            status_at: None,
            suppression: hit.suppressed_by.clone(),
        }
    }

    /// Counts one more event (the caller has checked it is new to this finding).
    /// Counts, times and severity do not depend on the order events arrive in.
    pub fn apply(&mut self, hit: &Hit) -> HitOutcome {
        let before_count = self.count;
        let before_sev = self.severity;
        self.count += 1;
        if hit.event_time < self.first_seen {
            self.first_seen = hit.event_time;
        }
        if hit.event_time >= self.last_seen {
            self.last_seen = hit.event_time;
            // The newest event's view of the identity wins (owner changes, evidence).
            self.evidence = hit.evidence.clone();
            self.owner = hit.owner.clone();
            self.contact = hit.contact.clone();
            self.actor_class = hit.actor_class;
            self.action = hit.action.clone().or(self.action.take());
            self.resource = hit.resource.clone().or(self.resource.take());
            self.region = hit.region.clone().or(self.region.take());
            self.account_id = hit.account_id.clone().or(self.account_id.take());
        }
        if hit.severity > self.severity {
            self.severity = hit.severity;
        }
        if self.event_ids.len() < EVENT_SAMPLE {
            if let Some(id) = &hit.event_id {
                if !self.event_ids.contains(id) {
                    self.event_ids.push(id.clone());
                }
            }
        }
        let mut reopened = false;
        match self.status {
            Status::Resolved => {
                if self.status_at.is_none_or(|at| hit.event_time > at) {
                    self.status = Status::Open;
                    self.status_reason = Some(if hit.is_sweep() {
                        format!(
                            "reopened: the sweep at {} found the condition again",
                            format_time(&hit.event_time)
                        )
                    } else {
                        format!("reopened: new activity at {}", format_time(&hit.event_time))
                    });
                    self.status_at = None;
                    reopened = true;
                }
            }
            Status::Suppressed => {
                let by_exception = self.suppression.is_some();
                if by_exception && hit.suppressed_by.is_none() {
                    // Some activity was not covered by the exception: the finding is live.
                    self.status = Status::Open;
                    self.status_reason = Some(format!(
                        "activity at {} not covered by an exception",
                        format_time(&hit.event_time)
                    ));
                    self.suppression = None;
                    reopened = true;
                } else if let Some(until) = self.status_until {
                    if hit.event_time > until {
                        self.status = Status::Open;
                        self.status_reason = Some(format!(
                            "suppression ended {}; new activity at {}",
                            format_time(&until),
                            format_time(&hit.event_time)
                        ));
                        self.status_until = None;
                        reopened = true;
                    }
                }
            }
            Status::Open | Status::Acknowledged => {}
        }
        // A standing condition seen by one more sweep is not news: only events escalate by count.
        let crossed = !hit.is_sweep()
            && ESCALATION_COUNTS
                .iter()
                .any(|&t| before_count < t && self.count >= t);
        let escalated = self.status.is_live() && (self.severity > before_sev || crossed);
        HitOutcome::Updated {
            escalated,
            reopened,
        }
    }
}

/// Filters for listing findings; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub owner: Option<String>,
    pub rule: Option<RuleId>,
    pub min_severity: Option<Severity>,
    pub principal: Option<String>,
    pub status: Option<Status>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
}

impl FindingFilter {
    pub fn matches(&self, f: &Finding) -> bool {
        self.owner
            .as_ref()
            .is_none_or(|o| f.owner.as_ref() == Some(o))
            && self.rule.is_none_or(|r| f.rule == r)
            && self.min_severity.is_none_or(|s| f.severity >= s)
            && self.principal.as_ref().is_none_or(|p| &f.principal == p)
            && self.status.is_none_or(|s| f.status == s)
            && self.since.is_none_or(|t| f.last_seen >= t)
            && self.until.is_none_or(|t| f.first_seen <= t)
    }
}

/// Orders findings for display: severity (highest first), then last seen (newest first), id.
pub fn sort_findings(v: &mut [Finding]) {
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a.id.cmp(&b.id))
    });
}
