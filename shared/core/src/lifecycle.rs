//! Identity lifecycle from CloudTrail, pure: the IAM events that create, delete, re-key and
//! tag users and roles, folded into what is known about each identity, and merged into the
//! sweep's snapshot where its credential report is older than the events.
//!
//! CloudTrail delivers late, twice and out of order: the fold keeps, for every field, the
//! value of the newest change (time, then event key), so any order and any repetition of the
//! same changes gives the same state.

use crate::activity::Activity;
use crate::credential_report::LastUsed;
use crate::inventory::iam_name_key;
use crate::sweep::{AccessKey, Snapshot};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One IAM lifecycle event of a successful call. `principal` is the identity acted on (for
/// key events the key's owner), written as the event path writes principals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LifecycleEvent {
    /// `CreateUser`, `CreateRole`.
    IdentityCreated { principal: String },
    /// `DeleteUser`, `DeleteRole`.
    IdentityDeleted { principal: String },
    /// `CreateAccessKey`.
    KeyCreated {
        principal: String,
        key_id: String,
        active: bool,
    },
    /// `UpdateAccessKey` (activated or deactivated).
    KeyStatus {
        principal: String,
        key_id: String,
        active: bool,
    },
    /// `DeleteAccessKey`.
    KeyDeleted { principal: String, key_id: String },
    /// `TagUser`, `TagRole`: the tags set.
    Tagged {
        principal: String,
        tags: BTreeMap<String, String>,
    },
    /// `UntagUser`, `UntagRole`: the tag keys removed.
    Untagged {
        principal: String,
        keys: Vec<String>,
    },
}

impl LifecycleEvent {
    /// The identity the event is about.
    pub fn principal(&self) -> &str {
        match self {
            LifecycleEvent::IdentityCreated { principal }
            | LifecycleEvent::IdentityDeleted { principal }
            | LifecycleEvent::KeyCreated { principal, .. }
            | LifecycleEvent::KeyStatus { principal, .. }
            | LifecycleEvent::KeyDeleted { principal, .. }
            | LifecycleEvent::Tagged { principal, .. }
            | LifecycleEvent::Untagged { principal, .. } => principal,
        }
    }
}

/// A lifecycle event with when it happened and the event it came from (`Activity::dedup_key`):
/// one row of the append-only log a `LifecycleStore` keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleChange {
    pub event: LifecycleEvent,
    /// The event time, in whole seconds (CloudTrail's precision, as every store keeps times).
    #[serde(with = "crate::finding::time_fmt")]
    pub at: DateTime<Utc>,
    pub event_key: String,
}

impl LifecycleChange {
    /// The change as the stores keep it (JSON text).
    pub fn encode(&self) -> Result<String, crate::ports::StoreError> {
        serde_json::to_string(self).map_err(|e| crate::ports::StoreError::CorruptChange {
            principal: self.event.principal().to_string(),
            event_key: self.event_key.clone(),
            reason: e.to_string(),
        })
    }

    /// A stored change back; `principal` and `event_key` (its store key) name it in errors.
    pub fn decode(
        text: &str,
        principal: String,
        event_key: String,
    ) -> Result<LifecycleChange, crate::ports::StoreError> {
        serde_json::from_str(text).map_err(|e| crate::ports::StoreError::CorruptChange {
            principal,
            event_key,
            reason: e.to_string(),
        })
    }

    /// The change an activity records: none when it carries no lifecycle event, or no event
    /// time (a change that cannot be ordered against the others is not state).
    pub fn from_activity(act: &Activity) -> Option<LifecycleChange> {
        Some(LifecycleChange {
            event: act.lifecycle.clone()?,
            at: act.event_time?.trunc_subsecs(0),
            event_key: act.dedup_key(),
        })
    }

    /// What orders changes: the time, then the event key (a deterministic tie-break).
    pub fn stamp(&self) -> Stamp {
        Stamp {
            at: self.at,
            event_key: self.event_key.clone(),
        }
    }
}

/// When a value was set: the newest stamp wins (`Ord`: time, then event key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    pub event_key: String,
}

/// The key `KnownState` files a principal under: (account, user|role, lower-case name) for
/// IAM users and roles, so the path an event did or did not name does not matter; else the
/// principal itself.
pub fn identity_key(principal: &str) -> String {
    match iam_name_key(principal) {
        Some((account, kind, name)) => format!("{account}:{kind}/{name}"),
        None => principal.to_string(),
    }
}

/// What the events say about one access key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownKey {
    pub created_at: Option<DateTime<Utc>>,
    /// The newest known status (the creation counts as one).
    pub active: Option<bool>,
    /// The change that set `active`.
    pub status: Option<Stamp>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl KnownKey {
    /// When `active` was last set.
    pub fn status_at(&self) -> Option<DateTime<Utc>> {
        self.status.as_ref().map(|s| s.at)
    }

    /// The newest change of any kind to the key.
    pub fn changed_at(&self) -> Option<DateTime<Utc>> {
        [self.created_at, self.status_at(), self.deleted_at]
            .into_iter()
            .flatten()
            .max()
    }

    fn set_status(&mut self, active: bool, stamp: Stamp) {
        if self.status.as_ref().is_none_or(|s| stamp > *s) {
            self.active = Some(active);
            self.status = Some(stamp);
        }
    }
}

/// A tag's newest known value; `value: None` when that change removed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTag {
    pub value: Option<String>,
    pub stamp: Stamp,
}

/// What the events say about one identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownIdentity {
    /// The principal as the events spelled it; of several spellings (with and without the
    /// IAM path) the longest, then the smallest, so the path is kept whatever the order.
    pub principal: String,
    /// The newest creation.
    pub created_at: Option<DateTime<Utc>>,
    /// The newest deletion.
    pub deleted_at: Option<DateTime<Utc>>,
    /// By access key id.
    pub keys: BTreeMap<String, KnownKey>,
    /// By tag key, removals included.
    pub tags: BTreeMap<String, KnownTag>,
}

impl KnownIdentity {
    /// Not deleted, or created again after its newest deletion.
    pub fn exists(&self) -> bool {
        match (self.created_at, self.deleted_at) {
            (_, None) => true,
            (Some(c), Some(d)) => c > d,
            (None, Some(_)) => false,
        }
    }

    /// The tags as they are now (removed ones left out).
    pub fn tag_values(&self) -> BTreeMap<&str, &str> {
        self.tags
            .iter()
            .filter_map(|(k, t)| t.value.as_deref().map(|v| (k.as_str(), v)))
            .collect()
    }

    fn set_tag(&mut self, key: &str, value: Option<&str>, stamp: &Stamp) {
        if self.tags.get(key).is_some_and(|t| *stamp <= t.stamp) {
            return;
        }
        self.tags.insert(
            key.to_string(),
            KnownTag {
                value: value.map(str::to_owned),
                stamp: stamp.clone(),
            },
        );
    }
}

fn newest(slot: &mut Option<DateTime<Utc>>, at: DateTime<Utc>) {
    if slot.is_none_or(|t| at > t) {
        *slot = Some(at);
    }
}

/// The fold of lifecycle changes, by `identity_key`. Order-independent and idempotent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownState {
    pub identities: BTreeMap<String, KnownIdentity>,
}

impl KnownState {
    /// Folds changes, in any order, repeated or not.
    pub fn fold<'c>(changes: impl IntoIterator<Item = &'c LifecycleChange>) -> KnownState {
        let mut state = KnownState::default();
        for c in changes {
            state.apply(c);
        }
        state
    }

    /// Applies one change: each field keeps the value of its newest change.
    pub fn apply(&mut self, change: &LifecycleChange) {
        let principal = change.event.principal();
        let ident = self.identities.entry(identity_key(principal)).or_default();
        let spelled = ident.principal.as_str();
        if (principal.len(), std::cmp::Reverse(principal))
            > (spelled.len(), std::cmp::Reverse(spelled))
        {
            ident.principal = principal.to_string();
        }
        let at = change.at;
        match &change.event {
            LifecycleEvent::IdentityCreated { .. } => newest(&mut ident.created_at, at),
            LifecycleEvent::IdentityDeleted { .. } => newest(&mut ident.deleted_at, at),
            LifecycleEvent::KeyCreated { key_id, active, .. } => {
                let key = ident.keys.entry(key_id.clone()).or_default();
                newest(&mut key.created_at, at);
                key.set_status(*active, change.stamp());
            }
            LifecycleEvent::KeyStatus { key_id, active, .. } => {
                let key = ident.keys.entry(key_id.clone()).or_default();
                key.set_status(*active, change.stamp());
            }
            LifecycleEvent::KeyDeleted { key_id, .. } => {
                newest(
                    &mut ident.keys.entry(key_id.clone()).or_default().deleted_at,
                    at,
                );
            }
            LifecycleEvent::Tagged { tags, .. } => {
                let stamp = change.stamp();
                for (k, v) in tags {
                    ident.set_tag(k, Some(v), &stamp);
                }
            }
            LifecycleEvent::Untagged { keys, .. } => {
                let stamp = change.stamp();
                for k in keys {
                    ident.set_tag(k, None, &stamp);
                }
            }
        }
    }

    /// What is known about `principal` (matched by `identity_key`: the path does not matter).
    pub fn get(&self, principal: &str) -> Option<&KnownIdentity> {
        self.identities.get(&identity_key(principal))
    }
}

/// The IAM users with an access-key change after `since` (every one with a key change when
/// `None`), as principals, sorted: discovery lists their keys afresh instead of trusting an
/// older credential report.
pub fn users_changed_since(state: &KnownState, since: Option<DateTime<Utc>>) -> Vec<String> {
    let mut out: Vec<String> = state
        .identities
        .values()
        .filter(|i| iam_name_key(&i.principal).is_some_and(|k| k.1 == "user"))
        .filter(|i| {
            i.keys
                .values()
                .filter_map(KnownKey::changed_at)
                .any(|t| since.is_none_or(|s| t > s))
        })
        .map(|i| i.principal.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Brings the snapshot's access keys up to date with the key changes its credential report
/// cannot know: those after `snapshot.report_generated_at` (all, without a report) and at or
/// before `listed_at`, when IAM was listed (later ones are for the next sweep). A key created
/// then and not listed is added (never used); a key whose status changed then takes that
/// status; a key deleted then is removed. Identities are matched by `identity_key` and never
/// added or removed: the IAM listing is authoritative for what exists. Identities whose keys
/// the sweep listed itself (`keys_listed`) are left alone: the listing is fresher than the
/// events, which may arrive late.
pub fn merge_into(snapshot: &mut Snapshot, state: &KnownState, listed_at: DateTime<Utc>) {
    let report = snapshot.report_generated_at;
    let unseen = |t: Option<DateTime<Utc>>| {
        t.is_some_and(|t| report.is_none_or(|r| t > r) && t <= listed_at)
    };
    for ident in &mut snapshot.identities {
        // Keys listed at the sweep are fresher than any event delivered since.
        if ident.keys_listed {
            continue;
        }
        let Some(known) = state.get(&ident.principal) else {
            continue;
        };
        for (id, k) in &known.keys {
            let listed = ident.keys.iter().position(|x| x.id == *id);
            if k.deleted_at.is_some_and(|d| d <= listed_at) {
                if let (true, Some(i)) = (unseen(k.deleted_at), listed) {
                    ident.keys.remove(i);
                }
                continue;
            }
            // A status set after the listing is not the status at it: then the key is as
            // AWS creates it (active) or as listed.
            let status = k
                .active
                .filter(|_| k.status_at().is_some_and(|t| t <= listed_at));
            match listed {
                None if unseen(k.created_at) => ident.keys.push(AccessKey {
                    id: id.clone(),
                    active: status.unwrap_or(true),
                    created: k.created_at,
                    last_used: LastUsed::Never,
                    last_used_service: None,
                    last_used_region: None,
                }),
                Some(i) if unseen(k.status_at()) => {
                    if let (Some(active), Some(key)) = (status, ident.keys.get_mut(i)) {
                        key.active = active;
                    }
                }
                _ => {}
            }
        }
    }
}
