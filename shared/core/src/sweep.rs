//! The inventory sweep, pure: what discovery found in IAM (a `Snapshot`), reconciled with the
//! governance inventory at an explicit `now`, gives hits for the same finding model and stores
//! as the event rules, and the findings whose condition has cleared.

use crate::activity::{format_time, ActorClass};
use crate::credential_report::LastUsed;
use crate::finding::{finding_id, Finding, FindingFilter, Hit, Status, SWEEP_KEY_PREFIX};
use crate::inventory::{
    iam_name_key, GovernanceRecord, Inventory, Kind, RecordStatus, Settings,
    DEFAULT_MAX_KEY_AGE_DAYS,
};
use crate::pipeline::{record_hits, PipelineError};
use crate::ports::{AlertSink, FindingStore};
use crate::rule_id::RuleId;
use crate::rules::exception_for;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityType {
    User,
    Role,
    Root,
}

impl IdentityType {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityType::User => "user",
            IdentityType::Role => "role",
            IdentityType::Root => "root",
        }
    }
}

/// One access key as discovery saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub id: String,
    pub active: bool,
    pub created: Option<DateTime<Utc>>,
    pub last_used: LastUsed,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_region: Option<String>,
}

/// One IAM identity (user, role or the account root) as discovery saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamIdentity {
    /// The canonical principal, as the event path writes it: the IAM ARN (with its path).
    pub principal: String,
    pub identity_type: IdentityType,
    pub name: String,
    #[serde(default)]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub created: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// A console password (login profile) exists; `None` when discovery could not tell.
    pub password_enabled: Option<bool>,
    pub password_last_used: LastUsed,
    pub mfa_active: Option<bool>,
    /// Roles: `RoleLastUsed` (AWS tracks the trailing 400 days). Users: `Unknown`.
    pub role_last_used: LastUsed,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<AccessKey>,
    /// The keys were listed (`ListAccessKeys`) when the snapshot was taken: fresher than the
    /// credential report and than events delivered late, so lifecycle changes do not apply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keys_listed: bool,
}

fn latest(values: impl IntoIterator<Item = LastUsed>) -> LastUsed {
    let mut best = LastUsed::Never;
    for v in values {
        best = match (best, v) {
            (LastUsed::At(a), LastUsed::At(b)) => LastUsed::At(a.max(b)),
            (LastUsed::At(a), _) | (_, LastUsed::At(a)) => LastUsed::At(a),
            (LastUsed::Unknown, _) | (_, LastUsed::Unknown) => LastUsed::Unknown,
            (LastUsed::Never, LastUsed::Never) => LastUsed::Never,
        };
    }
    best
}

impl IamIdentity {
    /// Service-linked roles and roles AWS creates for its own services (IAM Identity Center's
    /// `/aws-reserved/`): AWS manages them; no customer owner is expected.
    pub fn aws_managed(&self) -> bool {
        self.path.starts_with("/aws-service-role/") || self.path.starts_with("/aws-reserved/")
    }

    pub fn active_keys(&self) -> impl Iterator<Item = &AccessKey> {
        self.keys.iter().filter(|k| k.active)
    }

    /// When any credential of the identity was last used: the latest known use wins; if no
    /// use is known and any source could not say, `Unknown`.
    pub fn last_used(&self) -> LastUsed {
        match self.identity_type {
            IdentityType::Role => self.role_last_used,
            IdentityType::User | IdentityType::Root => {
                let password = if self.password_enabled == Some(false) {
                    LastUsed::Never
                } else {
                    self.password_last_used
                };
                latest(std::iter::once(password).chain(self.keys.iter().map(|k| k.last_used)))
            }
        }
    }

    /// When the identity was last used, only if every source could say: one credential whose
    /// use is unknown (a console password without a report, a key the report does not know)
    /// may have been used since any known time. Judges `unused-credential` for the identity.
    pub fn last_used_if_known(&self) -> LastUsed {
        let unknown = match self.identity_type {
            IdentityType::Role => self.role_last_used == LastUsed::Unknown,
            IdentityType::User | IdentityType::Root => {
                (self.password_enabled != Some(false)
                    && self.password_last_used == LastUsed::Unknown)
                    || self.keys.iter().any(|k| k.last_used == LastUsed::Unknown)
            }
        };
        if unknown {
            LastUsed::Unknown
        } else {
            self.last_used()
        }
    }

    /// A best guess at the kind of an identity with no record (for drafts and findings).
    pub fn guessed_class(&self) -> ActorClass {
        match self.identity_type {
            IdentityType::Root => ActorClass::Human,
            IdentityType::Role => ActorClass::Workload,
            IdentityType::User if self.password_enabled == Some(true) => ActorClass::Human,
            IdentityType::User if !self.keys.is_empty() => ActorClass::Workload,
            IdentityType::User => ActorClass::Unknown,
        }
    }
}

/// Everything discovery found in one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub account_id: String,
    /// When the credential report (password and key use) was generated, if one was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_generated_at: Option<DateTime<Utc>>,
    pub identities: Vec<IamIdentity>,
}

/// What a sweep counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepCounts {
    pub identities: u64,
    pub users: u64,
    pub roles: u64,
    /// The account root user (from the credential report's `<root_account>` row).
    pub root: u64,
    pub keys: u64,
    pub active_keys: u64,
    /// AWS-managed identities counted and skipped (see `settings.sweep.include_aws_managed`).
    pub aws_managed_skipped: u64,
    /// Identities matching `settings.ignore_principals`.
    pub ignored: u64,
    pub governed: u64,
    pub records_checked: u64,
}

/// The hits of one sweep, and what it covered (for resolving what it no longer sees).
#[derive(Debug, Clone, Default)]
pub struct SweepResult {
    pub account_id: String,
    pub at: DateTime<Utc>,
    pub hits: Vec<Hit>,
    pub counts: SweepCounts,
}

struct Ctx<'a> {
    settings: &'a Settings,
    at: DateTime<Utc>,
    account: &'a str,
    hits: Vec<Hit>,
}

/// The subject of a finding about one record as a whole (shared with the event rules).
const WHOLE: &str = "";

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &mut self,
        rule: RuleId,
        principal: &str,
        subject: &str,
        record: Option<&GovernanceRecord>,
        class: ActorClass,
        account: Option<&str>,
        resource: Option<String>,
        why: String,
        extra: Vec<(&str, String)>,
    ) {
        let mut evidence = BTreeMap::new();
        evidence.insert("why".to_string(), why);
        evidence.insert("sweep_at".to_string(), format_time(&self.at));
        if let Some(r) = record {
            evidence.insert("record".to_string(), r.principal.as_str().to_string());
        }
        for (k, v) in extra {
            evidence.insert(k.to_string(), v);
        }
        let mut suppressed_by = None;
        // An exception never silences the notice of its own expiry.
        if let Some(r) = record.filter(|_| rule != RuleId::ExceptionExpiring) {
            let resources: Vec<&str> = resource.iter().map(String::as_str).collect();
            let m = exception_for(r, rule, None, &resources, self.at);
            suppressed_by = m.suppressed_by;
            if let Some(e) = m.expired {
                evidence.insert("expired_exception".to_string(), e);
            }
        }
        self.hits.push(Hit {
            finding_id: finding_id(principal, rule, subject),
            rule,
            severity: self.settings.severity(rule),
            principal: principal.to_string(),
            actor_class: class,
            owner: record.and_then(|r| r.owner().map(str::to_owned)),
            contact: record.and_then(|r| r.contact.clone()),
            action: None,
            resource,
            account_id: account.map(str::to_owned),
            region: None,
            event_time: self.at,
            event_id: None,
            event_key: format!("{SWEEP_KEY_PREFIX}{}", format_time(&self.at)),
            evidence,
            suppressed_by,
        });
    }
}

fn days(d: Duration) -> i64 {
    d.num_days()
}

fn day_list(keys: &[&AccessKey]) -> String {
    keys.iter()
        .map(|k| {
            format!(
                "{} (created {})",
                k.id,
                k.created.map(|t| format_time(&t)).unwrap_or("?".into())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reconciles one account's snapshot with the inventory at `now`.
pub fn reconcile(snapshot: &Snapshot, inventory: &Inventory, now: DateTime<Utc>) -> SweepResult {
    let settings = &inventory.settings;
    let at = now.trunc_subsecs(0);
    let mut cx = Ctx {
        settings,
        at,
        account: &snapshot.account_id,
        hits: Vec::new(),
    };
    let mut counts = SweepCounts::default();
    let mut present: HashSet<(String, &'static str, String)> = HashSet::new();
    for ident in &snapshot.identities {
        if let Some(k) = iam_name_key(&ident.principal) {
            present.insert(k);
        }
        counts.identities += 1;
        match ident.identity_type {
            IdentityType::User => counts.users += 1,
            IdentityType::Role => counts.roles += 1,
            IdentityType::Root => counts.root += 1,
        }
        counts.keys += ident.keys.len() as u64;
        counts.active_keys += ident.active_keys().count() as u64;
        if ident.aws_managed() && !settings.sweep.include_aws_managed {
            counts.aws_managed_skipped += 1;
            continue;
        }
        if settings.is_ignored(&ident.principal) {
            counts.ignored += 1;
            continue;
        }
        let record = inventory.find(&ident.principal).map(|r| &**r);
        if record.is_some() {
            counts.governed += 1;
        }
        identity_rules(&mut cx, ident, record);
    }
    for record in inventory.records() {
        counts.records_checked += 1;
        record_rules(&mut cx, record, &present);
    }
    SweepResult {
        account_id: snapshot.account_id.clone(),
        at,
        hits: cx.hits,
        counts,
    }
}

fn identity_rules(cx: &mut Ctx<'_>, ident: &IamIdentity, record: Option<&GovernanceRecord>) {
    let settings = cx.settings;
    let at = cx.at;
    let account = cx.account.to_string();
    let acct = Some(account.as_str());
    let p = ident.principal.as_str();
    let class = record.map_or_else(|| ident.guessed_class(), |r| r.kind.actor_class());
    let is_root = ident.identity_type == IdentityType::Root;
    let kind_name = ident.identity_type.as_str();

    // ungoverned-identity: no record, or a retired one (the root user is governed by the
    // account itself: its activity is `root-activity`, its keys `keys-on-human`).
    if !is_root {
        match record {
            None => cx.fire(
                RuleId::UngovernedIdentity,
                p,
                WHOLE,
                None,
                class,
                acct,
                None,
                format!("IAM {kind_name} {p} exists with no governance record"),
                identity_evidence(ident),
            ),
            Some(r) if r.status == RecordStatus::Retired => cx.fire(
                RuleId::UngovernedIdentity,
                p,
                WHOLE,
                Some(r),
                class,
                acct,
                None,
                format!(
                    "IAM {kind_name} {p} still exists but its governance record {} is retired",
                    r.principal.as_str()
                ),
                identity_evidence(ident),
            ),
            Some(_) => {}
        }
    }

    let active: Vec<&AccessKey> = ident.active_keys().collect();

    // key-too-old
    let (max_age, max_from) = match record
        .and_then(|r| r.credentials.as_ref())
        .and_then(|c| c.max_key_age_days)
    {
        Some(d) => (d, "the governance record"),
        None => match settings.default_max_key_age_days {
            Some(d) => (d, "settings.default_max_key_age_days"),
            None => (DEFAULT_MAX_KEY_AGE_DAYS, "the built-in default"),
        },
    };
    for k in &active {
        let Some(created) = k.created else { continue };
        let age = days(at - created);
        // Older than the maximum to the second: 90 days and an hour is over 90 days.
        if at - created > Duration::days(i64::from(max_age)) {
            cx.fire(
                RuleId::KeyTooOld,
                p,
                &k.id,
                record,
                class,
                acct,
                Some(k.id.clone()),
                format!(
                    "active access key {} is {age} days old; the maximum is {max_age} days ({max_from})",
                    k.id
                ),
                vec![
                    ("access_key_id", k.id.clone()),
                    ("key_created", format_time(&created)),
                    ("key_age_days", age.to_string()),
                    ("max_key_age_days", max_age.to_string()),
                ],
            );
        }
    }

    // two-active-keys
    if active.len() >= 2 {
        cx.fire(
            RuleId::TwoActiveKeys,
            p,
            WHOLE,
            record,
            class,
            acct,
            None,
            format!("{} active access keys: {}", active.len(), day_list(&active)),
            vec![(
                "access_key_ids",
                active
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )],
        );
    }

    // unused-credential: the whole identity when nothing of it was used within the
    // threshold; otherwise each active key that was not.
    let limit = i64::from(settings.sweep.unused_after_days);
    let threshold = Duration::days(limit);
    let stale = |last: LastUsed, created: Option<DateTime<Utc>>| -> Option<String> {
        match last {
            LastUsed::At(t) if at - t > threshold => Some(format!(
                "last used {} ({} days ago)",
                format_time(&t),
                days(at - t)
            )),
            LastUsed::Never => match created {
                Some(c) if at - c > threshold => Some(format!(
                    "never used since it was created {} ({} days ago)",
                    format_time(&c),
                    days(at - c)
                )),
                _ => None,
            },
            _ => None,
        }
    };
    let whole = if is_root {
        None
    } else {
        stale(ident.last_used_if_known(), ident.created)
    };
    match whole {
        Some(why) => cx.fire(
            RuleId::UnusedCredential,
            p,
            WHOLE,
            record,
            class,
            acct,
            None,
            format!("IAM {kind_name} {p} {why}; the threshold is {limit} days"),
            identity_evidence(ident),
        ),
        None => {
            for k in &active {
                if let Some(why) = stale(k.last_used, k.created) {
                    cx.fire(
                        RuleId::UnusedCredential,
                        p,
                        &k.id,
                        record,
                        class,
                        acct,
                        Some(k.id.clone()),
                        format!(
                            "active access key {} {why}; the threshold is {limit} days",
                            k.id
                        ),
                        vec![("access_key_id", k.id.clone())],
                    );
                }
            }
        }
    }

    // console-password-on-nhi
    if let Some(r) = record {
        if matches!(r.kind, Kind::Workload | Kind::Agent) && ident.password_enabled == Some(true) {
            cx.fire(
                RuleId::ConsolePasswordOnNhi,
                p,
                WHOLE,
                record,
                class,
                acct,
                None,
                format!(
                    "{} identity {p} has a console password (login profile)",
                    r.kind.actor_class().as_str()
                ),
                vec![(
                    "password_last_used",
                    last_used_text(ident.password_last_used),
                )],
            );
        }
    }

    // keys-on-human (always for the root user)
    let human = record.is_some_and(|r| r.kind == Kind::Human);
    if !active.is_empty() && (is_root || (human && settings.sweep.forbid_keys_on_humans)) {
        let why = if is_root {
            format!(
                "the root user of account {} has active access keys: {}",
                cx.account,
                day_list(&active)
            )
        } else {
            format!(
                "human identity {p} has active access keys ({}); settings.sweep.forbid_keys_on_humans is set",
                day_list(&active)
            )
        };
        cx.fire(
            RuleId::KeysOnHuman,
            p,
            WHOLE,
            record,
            ActorClass::Human,
            acct,
            None,
            why,
            vec![(
                "access_key_ids",
                active
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )],
        );
    }
}

fn last_used_text(l: LastUsed) -> String {
    match l {
        LastUsed::Never => "never".to_string(),
        LastUsed::At(t) => format_time(&t),
        LastUsed::Unknown => "unknown".to_string(),
    }
}

fn identity_evidence(ident: &IamIdentity) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("identity_type", ident.identity_type.as_str().to_string()),
        ("last_used", last_used_text(ident.last_used())),
        ("access_keys", ident.keys.len().to_string()),
    ];
    if let Some(c) = ident.created {
        v.push(("created", format_time(&c)));
    }
    if let Some(pw) = ident.password_enabled {
        v.push(("console_password", pw.to_string()));
    }
    if !ident.tags.is_empty() {
        v.push((
            "tags",
            ident
                .tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    v
}

/// The account of a record whose principal is one exact IAM ARN.
fn record_account(r: &GovernanceRecord) -> Option<String> {
    if r.principal.is_wildcard() {
        return None;
    }
    crate::action::arn_parts(r.principal.as_str()).map(|(_, _, acct, _)| acct.to_string())
}

fn record_rules(
    cx: &mut Ctx<'_>,
    r: &GovernanceRecord,
    present: &HashSet<(String, &'static str, String)>,
) {
    if r.status == RecordStatus::Retired {
        return;
    }
    let at = cx.at;
    let p = r.principal.as_str();
    let class = r.kind.actor_class();
    let acct = record_account(r);
    let acct = acct.as_deref();

    // stale-record: an exact user or role record of the swept account with no such identity.
    if !r.principal.is_wildcard() {
        if let Some(key) = iam_name_key(p) {
            if key.0 == cx.account && !present.contains(&key) {
                let (_, kind, name) = &key;
                cx.fire(
                    RuleId::StaleRecord,
                    p,
                    WHOLE,
                    Some(r),
                    class,
                    acct,
                    None,
                    format!(
                        "no IAM {kind} named {name} exists in account {}: retire the record",
                        cx.account
                    ),
                    vec![("record_status", r.status.as_str().to_string())],
                );
            }
        }
    }
    if r.status != RecordStatus::Active {
        return;
    }

    // review-overdue / review-due-soon
    if let Some((rv, due)) = r.review.as_ref().and_then(|rv| rv.due().map(|d| (rv, d))) {
        let notice = Duration::days(i64::from(cx.settings.sweep.review_due_soon_days));
        let extra = vec![
            ("review_due", format_time(&due)),
            ("last_reviewed", rv.last_reviewed.to_string()),
        ];
        if at > due {
            cx.fire(
                RuleId::ReviewOverdue,
                p,
                WHOLE,
                Some(r),
                class,
                acct,
                None,
                rv.overdue_reason(&due),
                extra,
            );
        } else if due - at <= notice {
            cx.fire(
                RuleId::ReviewDueSoon,
                p,
                &format_time(&due),
                Some(r),
                class,
                acct,
                None,
                format!(
                    "review falls due {} ({} days from now)",
                    format_time(&due),
                    days(due - at)
                ),
                extra,
            );
        }
    }

    // exception-expiring
    let notice = Duration::days(i64::from(cx.settings.sweep.exception_expiring_days));
    for e in &r.exceptions {
        if at <= e.expires.at && e.expires.at - at <= notice {
            let subject = format!(
                "{}|{}|{}",
                e.ticket.as_deref().unwrap_or(""),
                e.reason,
                e.expires
            );
            let rules = if e.rules.is_empty() {
                "every rule".to_string()
            } else {
                e.rules
                    .iter()
                    .map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut extra = vec![
                ("exception_expires", e.expires.to_string()),
                ("exception_reason", e.reason.clone()),
                ("exception_approver", e.approver.clone()),
                ("exception_rules", rules),
            ];
            if let Some(t) = &e.ticket {
                extra.push(("exception_ticket", t.clone()));
            }
            cx.fire(
                RuleId::ExceptionExpiring,
                p,
                &subject,
                Some(r),
                class,
                acct,
                None,
                format!(
                    "exception '{}' approved by {} expires {} ({} days from now)",
                    e.reason,
                    e.approver,
                    e.expires,
                    days(e.expires.at - at)
                ),
                extra,
            );
        }
    }

    // unknown-owner
    let known = &cx.settings.known_owners;
    let why = match r.owner() {
        None => Some("the governance record names no owner".to_string()),
        Some(o) if !known.is_empty() && !known.iter().any(|k| k.trim().eq_ignore_ascii_case(o)) => {
            Some(format!("owner '{o}' is not in settings.known_owners"))
        }
        Some(_) => None,
    };
    if let Some(why) = why {
        cx.fire(
            RuleId::UnknownOwner,
            p,
            WHOLE,
            Some(r),
            class,
            acct,
            None,
            why,
            vec![],
        );
    }
}

/// A live finding the sweep no longer sees, with the reason recorded when it is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub id: String,
    pub rule: RuleId,
    pub principal: String,
    pub reason: String,
}

/// The live (open or acknowledged) sweep-rule findings that this sweep did not see again and
/// whose condition no longer holds. Identity findings are judged only in the swept account;
/// record findings wherever this inventory holds their record, and, when the record is gone,
/// only in its own account (one store may serve sweeps of several inventories). A
/// `review-overdue` finding the event path raised for a principal is kept while that
/// principal's record is still overdue.
pub fn resolutions(
    live: &[Finding],
    result: &SweepResult,
    inventory: &Inventory,
) -> Vec<Resolution> {
    let seen: HashSet<&str> = result.hits.iter().map(|h| h.finding_id.as_str()).collect();
    let mut out = Vec::new();
    for f in live {
        if !f.status.is_live() || !f.rule.is_sweep() || seen.contains(f.id.as_str()) {
            continue;
        }
        let record_rule = matches!(
            f.rule,
            RuleId::ReviewOverdue
                | RuleId::ReviewDueSoon
                | RuleId::ExceptionExpiring
                | RuleId::UnknownOwner
        );
        let in_account = f.account_id.as_deref() == Some(result.account_id.as_str())
            || (f.account_id.is_none()
                && iam_name_key(&f.principal).is_some_and(|k| k.0 == result.account_id));
        let record = inventory.find(&f.principal);
        // A record finding is judged when this inventory holds its record; a record that is
        // gone only by the sweep of its own account (another inventory may hold it).
        let in_scope = if record_rule {
            record.is_some() || in_account
        } else {
            in_account
        };
        if !in_scope {
            continue;
        }
        let reason = if record_rule && record.is_none() {
            "the record is no longer in the inventory"
        } else {
            cleared_reason(f.rule)
        };
        if f.rule == RuleId::ReviewOverdue {
            let still = record.is_some_and(|r| {
                r.status == RecordStatus::Active
                    && r.review
                        .as_ref()
                        .and_then(|rv| rv.due())
                        .is_some_and(|due| result.at > due)
            });
            if still {
                continue;
            }
        }
        out.push(Resolution {
            id: f.id.clone(),
            rule: f.rule,
            principal: f.principal.clone(),
            reason: format!(
                "resolved by the sweep at {}: {reason}",
                format_time(&result.at)
            ),
        });
    }
    out
}

fn cleared_reason(rule: RuleId) -> &'static str {
    match rule {
        RuleId::UngovernedIdentity => "the identity is gone or has an active governance record",
        RuleId::StaleRecord => "the identity exists again or the record was retired or removed",
        RuleId::KeyTooOld => "the key was rotated, deactivated or deleted",
        RuleId::TwoActiveKeys => "at most one access key is active",
        RuleId::UnusedCredential => "the credential was used, deactivated or removed",
        RuleId::ReviewOverdue => "the record was reviewed",
        RuleId::ReviewDueSoon => "the record was reviewed",
        RuleId::ExceptionExpiring => "the exception was renewed, removed or has expired",
        RuleId::ConsolePasswordOnNhi => "the console password was removed or the kind changed",
        RuleId::KeysOnHuman => "the human identity no longer has active access keys",
        RuleId::UnknownOwner => "the record names a known owner",
        _ => "the condition no longer holds",
    }
}

/// What one sweep did: counts, store outcomes, the findings it resolved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub account_id: String,
    #[serde(with = "crate::finding::time_fmt")]
    pub at: DateTime<Utc>,
    pub counts: SweepCounts,
    /// Hits by rule id.
    pub hits_by_rule: BTreeMap<&'static str, u64>,
    pub findings_new: u64,
    pub findings_updated: u64,
    pub findings_reopened: u64,
    /// Hits this same sweep had already recorded (a replayed sweep).
    pub duplicate_hits: u64,
    pub suppressed_hits: u64,
    pub alerts_sent: u64,
    pub resolved: Vec<Resolution>,
    /// The ids of the findings the sweep saw (open, suppressed or repeated).
    pub finding_ids: Vec<String>,
}

/// Runs the sweep's store side: records the hits (alerting on new and reopened findings
/// through the same sink as the event path), then resolves the live sweep findings whose
/// condition has cleared, recording why.
pub fn apply(
    store: &mut (dyn FindingStore + '_),
    alerts: Option<&mut (dyn AlertSink + '_)>,
    result: &SweepResult,
    inventory: &Inventory,
) -> Result<SweepReport, PipelineError> {
    let mut live = Vec::new();
    for status in [Status::Open, Status::Acknowledged] {
        live.extend(store.list(&FindingFilter {
            status: Some(status),
            ..FindingFilter::default()
        })?);
    }
    live.retain(|f| f.rule.is_sweep());
    let tally = record_hits(store, alerts, &result.hits)?;
    let resolved = resolutions(&live, result, inventory);
    for r in &resolved {
        store.set_status(
            &r.id,
            Status::Resolved,
            Some(r.reason.clone()),
            None,
            result.at,
        )?;
    }
    let mut hits_by_rule = BTreeMap::new();
    let mut ids: Vec<String> = Vec::new();
    for h in &result.hits {
        *hits_by_rule.entry(h.rule.as_str()).or_insert(0) += 1;
        ids.push(h.finding_id.clone());
    }
    ids.sort();
    ids.dedup();
    Ok(SweepReport {
        account_id: result.account_id.clone(),
        at: result.at,
        counts: result.counts.clone(),
        hits_by_rule,
        findings_new: tally.new,
        findings_updated: tally.updated,
        findings_reopened: tally.reopened,
        duplicate_hits: tally.duplicate,
        suppressed_hits: tally.suppressed,
        alerts_sent: tally.alerts_sent,
        resolved,
        finding_ids: ids,
    })
}
