//! The pure evaluator: one activity, the governance records, the settings and `now` in;
//! findings (as hits) with evidence out. No I/O, no clock.

use crate::activity::{format_time, Activity, ActorClass};
use crate::finding::{finding_id, Hit, Suppression};
use crate::inventory::{GovernanceRecord, Inventory, Kind, RecordStatus, Settings, Statement};
use crate::lifecycle::LifecycleEvent;
use crate::rule_id::RuleId;
use chrono::{DateTime, SubsecRound, Utc};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Where governance records come from during evaluation (an in-memory snapshot: the YAML
/// inventory, or what an adapter fetched for a batch).
pub trait GovernanceLookup {
    fn find(&self, principal: &str) -> Option<Arc<GovernanceRecord>>;

    /// Called before a batch is evaluated with every principal it will look up, so a remote
    /// source can fetch them in one request; after it, `find` must answer without I/O.
    /// In-memory sources have nothing to do.
    fn prefetch(&self, _principals: &[&str]) -> Result<(), LookupError> {
        Ok(())
    }
}

/// A governance source could not be read (the pipeline fails the batch; nothing is recorded).
#[derive(Debug, thiserror::Error)]
#[error("governance records unavailable: {message}")]
pub struct LookupError {
    pub message: String,
    /// Worth retrying (throttling, timeouts, 5xx) rather than a permanent fault.
    pub transient: bool,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl GovernanceLookup for Inventory {
    fn find(&self, principal: &str) -> Option<Arc<GovernanceRecord>> {
        Inventory::find(self, principal).cloned()
    }
}

/// Remembers lookups for a run: CloudTrail repeats a few principals many times, and a
/// wildcard search (or a remote read) is paid once per principal.
pub struct CachedLookup<'a> {
    inner: &'a dyn GovernanceLookup,
    cache: std::cell::RefCell<std::collections::HashMap<String, Option<Arc<GovernanceRecord>>>>,
}

/// Principals remembered before the cache starts over (bounds memory on huge inputs).
const LOOKUP_CACHE_ENTRIES: usize = 65_536;

impl<'a> CachedLookup<'a> {
    pub fn new(inner: &'a dyn GovernanceLookup) -> Self {
        CachedLookup {
            inner,
            cache: Default::default(),
        }
    }
}

impl GovernanceLookup for CachedLookup<'_> {
    fn prefetch(&self, principals: &[&str]) -> Result<(), LookupError> {
        let cache = self.cache.borrow();
        let missing: Vec<&str> = principals
            .iter()
            .copied()
            .filter(|p| !cache.contains_key(*p))
            .collect();
        drop(cache);
        if missing.is_empty() {
            return Ok(());
        }
        self.inner.prefetch(&missing)
    }

    fn find(&self, principal: &str) -> Option<Arc<GovernanceRecord>> {
        if let Some(hit) = self.cache.borrow().get(principal) {
            return hit.clone();
        }
        let found = self.inner.find(principal);
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= LOOKUP_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(principal.to_string(), found.clone());
        found
    }
}

/// IAM actions that change credentials, permissions or trust.
pub const PRIVILEGE_CHANGE_ACTIONS: &[&str] = &[
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:UploadSSHPublicKey",
    "iam:AttachUserPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachGroupPolicy",
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:PutGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:PassRole",
    "iam:AddUserToGroup",
    "iam:PutUserPermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeactivateMFADevice",
];

/// Services whose CloudTrail region is not where the caller chose to act (global endpoints);
/// region scopes do not apply to them.
pub const GLOBAL_SERVICES: &[&str] = &[
    "iam",
    "organizations",
    "cloudfront",
    "route53",
    "route53domains",
    "globalaccelerator",
    "waf",
    "account",
    "billing",
    "budgets",
    "ce",
    "cur",
    "support",
    "trustedadvisor",
    "health",
    "shield",
    "signin",
    "sso",
    "identitystore",
    "sso-directory",
];

/// Human signals on an activity: console sign-in, federation token, console session.
fn human_signal(a: &Activity) -> Option<String> {
    let name = a.event_name.as_deref().unwrap_or("");
    if a.action == "signin:ConsoleLogin" || name == "ConsoleLogin" {
        return Some("console sign-in".to_string());
    }
    if a.action == "sts:GetFederationToken" {
        return Some("requested a federation token (console/federated use)".to_string());
    }
    if a.action == "signin:GetSigninToken" {
        return Some("requested a console sign-in token".to_string());
    }
    if a.console_session {
        return Some("acted with console session credentials".to_string());
    }
    None
}

/// The actor class: the record's declared kind first, then evidence from the activity.
pub fn classify_actor(a: &Activity, record: Option<&GovernanceRecord>) -> (ActorClass, String) {
    match record {
        Some(r) => (r.kind.actor_class(), declared_evidence(r)),
        None if a.actor_evidence.is_empty() => crate::activity::evidence_class(a),
        None => (a.actor_class, a.actor_evidence.clone()),
    }
}

fn declared_evidence(r: &GovernanceRecord) -> String {
    format!(
        "declared kind '{}' in governance record {}",
        r.kind.actor_class().as_str(),
        r.principal.as_str()
    )
}

/// The result of evaluating one activity.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// The principal is in the settings' ignore list: nothing was evaluated.
    pub ignored: bool,
    /// Findings for this event; suppressed ones carry `suppressed_by`.
    pub hits: Vec<Hit>,
}

struct Ctx<'a> {
    act: &'a Activity,
    record: Option<&'a GovernanceRecord>,
    settings: &'a Settings,
    class: ActorClass,
    /// Evidence for the class when it came from the activity; a declared kind's evidence is
    /// written only when a rule fires.
    class_evidence: Option<String>,
    at: DateTime<Utc>,
    hits: Vec<Hit>,
}

/// Whom a finding is about, and the record governing it: the actor, or for lifecycle
/// findings the identity acted on.
struct About<'r> {
    principal: &'r str,
    record: Option<&'r GovernanceRecord>,
    class: ActorClass,
    class_evidence: String,
}

impl Ctx<'_> {
    /// Fires a finding about the actor.
    fn fire(
        &mut self,
        rule: RuleId,
        subject: &str,
        resource: Option<String>,
        why: String,
        extra: &[(&str, String)],
    ) {
        let class_evidence = match (&self.class_evidence, self.record) {
            (Some(e), _) => e.clone(),
            (None, Some(r)) => declared_evidence(r),
            (None, None) => String::new(),
        };
        let act = self.act;
        let about = About {
            principal: &act.principal,
            record: self.record,
            class: self.class,
            class_evidence,
        };
        self.fire_about(about, rule, subject, resource, why, extra);
    }

    /// Fires a finding about `about` (its principal, record, class and exceptions), with
    /// this activity as the event.
    fn fire_about(
        &mut self,
        about: About<'_>,
        rule: RuleId,
        subject: &str,
        resource: Option<String>,
        why: String,
        extra: &[(&str, String)],
    ) {
        let a = self.act;
        let mut evidence = BTreeMap::new();
        evidence.insert("why".to_string(), why);
        evidence.insert("actor_class_evidence".to_string(), about.class_evidence);
        evidence.insert(
            "source".to_string(),
            format!("{}#{}", a.origin.file, a.origin.index),
        );
        if let Some(e) = &a.error_code {
            evidence.insert("outcome".to_string(), format!("failed: {e}"));
        }
        if let Some(ip) = &a.source_ip {
            evidence.insert("source_ip".to_string(), ip.clone());
        }
        if let Some(s) = &a.session_name {
            evidence.insert("session_name".to_string(), s.clone());
        }
        if !a.resources.is_empty() {
            evidence.insert("resources".to_string(), a.resources.join(" "));
        }
        if let Some(m) = a.mfa_authenticated {
            evidence.insert("mfa_authenticated".to_string(), m.to_string());
        }
        for (k, v) in extra {
            evidence.insert((*k).to_string(), v.clone());
        }
        if a.event_time.is_none() {
            evidence.insert(
                "event_time".to_string(),
                "missing or invalid in the record; evaluation time used".to_string(),
            );
        }
        let mut suppressed_by = None;
        if let Some(r) = about.record {
            let resources: Vec<&str> = resource
                .iter()
                .chain(a.resources.iter())
                .map(String::as_str)
                .collect();
            let m = exception_for(r, rule, Some(&a.action), &resources, self.at);
            suppressed_by = m.suppressed_by;
            if let Some(e) = m.expired {
                evidence.insert("expired_exception".to_string(), e);
            }
        }
        let (owner, contact) = match about.record {
            Some(r) => (r.owner().map(str::to_owned), r.contact.clone()),
            None => (None, None),
        };
        self.hits.push(Hit {
            finding_id: finding_id(about.principal, rule, subject),
            rule,
            severity: self.settings.severity(rule),
            principal: about.principal.to_string(),
            actor_class: about.class,
            owner,
            contact,
            action: Some(a.action.clone()),
            resource: resource.or_else(|| a.resources.first().cloned()),
            account_id: a.account_id.clone(),
            region: a.region.clone(),
            event_time: self.at,
            event_id: a.event_id.clone(),
            event_key: a.dedup_key(),
            evidence,
            suppressed_by,
        });
    }
}

/// Which of a record's exceptions covers a finding.
#[derive(Debug, Default)]
pub struct ExceptionMatch {
    /// A valid exception covers it: the finding is stored as suppressed.
    pub suppressed_by: Option<Suppression>,
    /// An exception would have covered it but expired (evidence for the finding).
    pub expired: Option<String>,
}

/// Finds the exception of `record` covering `rule` (and, when the exception names them, the
/// action and one of the resources) at time `at`. Shared by the event rules and the sweep.
pub fn exception_for(
    record: &GovernanceRecord,
    rule: RuleId,
    action: Option<&str>,
    resources: &[&str],
    at: DateTime<Utc>,
) -> ExceptionMatch {
    let mut out = ExceptionMatch::default();
    for e in &record.exceptions {
        let covers = (e.rules.is_empty() || e.rules.contains(&rule))
            && (e.actions.is_empty()
                || action.is_some_and(|act| e.actions.iter().any(|p| p.matches_ci(act))))
            && (e.resources.is_empty()
                || resources
                    .iter()
                    .any(|res| e.resources.iter().any(|p| p.matches(res))));
        if !covers {
            continue;
        }
        if at <= e.expires.at {
            out.suppressed_by = Some(Suppression {
                reason: e.reason.clone(),
                approver: e.approver.clone(),
                ticket: e.ticket.clone(),
                expires: e.expires.to_string(),
            });
            return out;
        }
        out.expired = Some(format!(
            "exception '{}' approved by {} expired {}{}",
            e.reason,
            e.approver,
            e.expires,
            e.ticket
                .as_deref()
                .map(|t| format!(" (ticket {t})"))
                .unwrap_or_default()
        ));
    }
    out
}

/// Evaluates one activity against the governance records.
pub fn evaluate(
    act: &Activity,
    records: &dyn GovernanceLookup,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Evaluation {
    if settings.is_ignored(&act.principal) {
        return Evaluation {
            ignored: true,
            hits: Vec::new(),
        };
    }
    let record = records.find(&act.principal);
    let (class, class_evidence) = match record.as_deref() {
        Some(r) => (r.kind.actor_class(), None),
        None => {
            let (c, e) = classify_actor(act, None);
            (c, Some(e))
        }
    };
    let mut cx = Ctx {
        act,
        record: record.as_deref(),
        settings,
        class,
        class_evidence,
        at: act.event_time.unwrap_or_else(|| now.trunc_subsecs(0)),
        hits: Vec::new(),
    };
    let is_root = act.identity_type == "Root"
        || (act.principal.starts_with("arn:") && act.principal.ends_with(":root"));
    if is_root {
        // `fire` records mfa_authenticated for every finding.
        cx.fire(
            RuleId::RootActivity,
            &act.action,
            None,
            format!(
                "the root user of account {} called {}",
                act.account_id.as_deref().unwrap_or("?"),
                act.action
            ),
            &[],
        );
    }
    match cx.record {
        None if !is_root => cx.fire(
            RuleId::UnregisteredIdentity,
            "",
            None,
            format!("{} has no governance record", act.principal),
            &[],
        ),
        None => {}
        Some(r) => record_rules(&mut cx, r),
    }
    common_rules(&mut cx, records);
    lifecycle_rules(&mut cx, records);
    Evaluation {
        ignored: false,
        hits: cx.hits,
    }
}

fn record_rules(cx: &mut Ctx<'_>, r: &GovernanceRecord) {
    let act = cx.act;
    let at = cx.at;
    if r.owner().is_none() {
        cx.fire(
            RuleId::NoOwner,
            "",
            None,
            format!("governance record {} names no owner", r.principal.as_str()),
            &[],
        );
    }
    if r.status != RecordStatus::Active {
        cx.fire(
            RuleId::RetiredIdentityActive,
            "",
            None,
            format!(
                "the identity is {} in its governance record but called {}",
                r.status.as_str(),
                act.action
            ),
            &[("record_status", r.status.as_str().to_string())],
        );
    }
    if let Some(exp) = &r.expires {
        if at > exp.at {
            cx.fire(
                RuleId::ApprovalExpired,
                "",
                None,
                format!("approval expired {exp}; activity at {}", format_time(&at)),
                &[("expires", exp.to_string())],
            );
        }
    }
    if let Some((rv, due)) = r.review.as_ref().and_then(|rv| rv.due().map(|d| (rv, d))) {
        if at > due {
            cx.fire(
                RuleId::ReviewOverdue,
                "",
                None,
                rv.overdue_reason(&due),
                &[("review_due", format_time(&due))],
            );
        }
    }
    scope_rules(cx, r);
    if !r.environments.is_empty() {
        let acct = act.account_id.as_deref().unwrap_or("");
        let env = cx.settings.environment_of(acct);
        let inside = r
            .environments
            .iter()
            .any(|e| e == acct || Some(e.as_str()) == env);
        if !inside {
            cx.fire(
                RuleId::EnvironmentCrossing,
                acct,
                None,
                format!(
                    "acted in account {acct} ({}) outside its environments [{}]",
                    env.unwrap_or("no environment mapped"),
                    r.environments.join(", ")
                ),
                &[("environment", env.unwrap_or("unmapped").to_string())],
            );
        }
    }
    if matches!(r.kind, Kind::Workload | Kind::Agent) {
        if let Some(signal) = human_signal(act) {
            cx.fire(
                RuleId::HumanUseOfWorkload,
                &act.action,
                None,
                format!("{signal} on a {} identity", r.kind.actor_class().as_str()),
                &[],
            );
        }
    }
    if let Some(cp) = &r.credentials {
        let key = act.access_key_id.as_deref().unwrap_or("");
        if cp.short_lived_only && key.starts_with("AKIA") {
            cx.fire(
                RuleId::LongTermKey,
                key,
                None,
                format!(
                    "long-term access key {key} used; the record requires short-lived credentials"
                ),
                &[("access_key_id", key.to_string())],
            );
        }
    }
}

/// Which scope dimensions a statement fails for this activity.
#[derive(Debug, Default, Clone)]
struct Misses {
    resource: Option<String>,
    region: bool,
    source: bool,
}

impl Misses {
    fn count(&self) -> usize {
        usize::from(self.resource.is_some()) + usize::from(self.region) + usize::from(self.source)
    }
}

fn is_global(act: &Activity) -> bool {
    let prefix = act.action.split(':').next().unwrap_or("");
    GLOBAL_SERVICES.contains(&prefix)
}

fn statement_misses(s: &Statement, act: &Activity) -> Misses {
    let resource = if s.resources.is_empty() {
        None
    } else {
        let covered: Vec<&String> = act
            .resources
            .iter()
            .filter(|r| s.resources.iter().any(|p| p.matches(r)))
            .collect();
        // Every resource the call names must be covered, except a container of a covered
        // resource (the bucket CloudTrail lists beside the object a GetObject read).
        act.resources
            .iter()
            .find(|r| !covered.contains(r) && !covered.iter().any(|c| is_container_of(r, c)))
            .cloned()
    };
    let region = !s.regions.is_empty()
        && !is_global(act)
        && !act
            .region
            .as_deref()
            .is_some_and(|r| s.regions.iter().any(|p| p.matches(r)));
    let source = s.has_network_condition() && !source_ok(s, act);
    Misses {
        resource,
        region,
        source,
    }
}

/// `parent` names a container of `child` (`arn:aws:s3:::b` of `arn:aws:s3:::b/key`).
fn is_container_of(parent: &str, child: &str) -> bool {
    child.len() > parent.len()
        && child.starts_with(parent)
        && child.as_bytes()[parent.len()] == b'/'
}

fn source_ok(s: &Statement, act: &Activity) -> bool {
    if let Some(ip) = act
        .source_ip
        .as_deref()
        .and_then(|i| i.parse::<IpAddr>().ok())
    {
        if s.source_cidrs.iter().any(|c| c.contains(&ip)) {
            return true;
        }
    }
    if let Some(v) = &act.vpc_endpoint_id {
        if s.vpc_endpoints.iter().any(|p| p.matches(v)) {
            return true;
        }
    }
    // A call an AWS service made for the identity (invokedBy, or a service host as source).
    let via = act.invoked_by.as_deref().or(act
        .source_ip
        .as_deref()
        .filter(|s| s.ends_with(".amazonaws.com")));
    if let Some(svc) = via {
        if s.via_services.iter().any(|p| p.matches(svc)) {
            return true;
        }
    }
    false
}

fn scope_rules(cx: &mut Ctx<'_>, r: &GovernanceRecord) {
    let act = cx.act;
    for (i, d) in r.deny.iter().enumerate() {
        let action_hit = d.actions.iter().any(|p| p.matches_ci(&act.action));
        let resource_hit = d.resources.is_empty()
            || act
                .resources
                .iter()
                .any(|res| d.resources.iter().any(|p| p.matches(res)));
        // A deny's region and network lists say where it applies.
        let region_hit = d.regions.is_empty()
            || act
                .region
                .as_deref()
                .is_some_and(|r| d.regions.iter().any(|p| p.matches(r)));
        let source_hit = !d.has_network_condition() || source_ok(d, act);
        if action_hit && resource_hit && region_hit && source_hit {
            cx.fire(
                RuleId::ActionOutsidePurpose,
                &act.action,
                None,
                format!(
                    "{} is denied by {} of the governance record",
                    act.action,
                    d.label("deny", i)
                ),
                &[("purpose", r.purpose.clone().unwrap_or_default())],
            );
            return;
        }
    }
    if r.allow.is_empty() {
        return;
    }
    let candidates: Vec<(usize, &Statement)> = r
        .allow
        .iter()
        .enumerate()
        .filter(|(_, s)| s.actions.iter().any(|p| p.matches_ci(&act.action)))
        .collect();
    if candidates.is_empty() {
        cx.fire(
            RuleId::ActionOutsidePurpose,
            &act.action,
            None,
            format!(
                "{} is not covered by any allow statement (purpose: {})",
                act.action,
                r.purpose.as_deref().unwrap_or("not stated")
            ),
            &[("purpose", r.purpose.clone().unwrap_or_default())],
        );
        return;
    }
    let mut best: Option<(usize, Misses)> = None;
    for (i, s) in &candidates {
        let m = statement_misses(s, act);
        if m.count() == 0 {
            return;
        }
        if best.as_ref().is_none_or(|(_, b)| m.count() < b.count()) {
            best = Some((*i, m));
        }
    }
    let Some((i, m)) = best else { return };
    let s = &r.allow[i];
    let label = s.label("allow", i);
    let list =
        |v: &[crate::pattern::Pattern]| v.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
    if let Some(res) = m.resource {
        cx.fire(
            RuleId::ResourceOutsideScope,
            &format!("{}|{res}", act.action),
            Some(res.clone()),
            format!("{} on {res}, outside the resources of {label}", act.action),
            &[
                ("allowed_resources", list(&s.resources)),
                ("statement", label.clone()),
            ],
        );
    }
    if m.region {
        let region = act.region.as_deref().unwrap_or("unknown");
        cx.fire(
            RuleId::RegionOutsideScope,
            region,
            None,
            format!(
                "{} in region {region}, outside the regions of {label}",
                act.action
            ),
            &[
                ("allowed_regions", list(&s.regions)),
                ("statement", label.clone()),
            ],
        );
    }
    if m.source {
        let source = act
            .vpc_endpoint_id
            .clone()
            .or_else(|| act.invoked_by.clone())
            .or_else(|| act.source_ip.clone())
            .unwrap_or_else(|| "unknown".to_string());
        let cidrs = s
            .source_cidrs
            .iter()
            .map(|c| c.0.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        cx.fire(
            RuleId::SourceOutsideScope,
            &source,
            None,
            format!(
                "{} from {source}, outside the networks, VPC endpoints and services of {label}",
                act.action
            ),
            &[
                ("allowed_source_cidrs", cidrs),
                ("allowed_vpc_endpoints", list(&s.vpc_endpoints)),
                ("allowed_via_services", list(&s.via_services)),
                ("statement", label),
            ],
        );
    }
}

/// Rules that apply with or without a governance record.
fn common_rules(cx: &mut Ctx<'_>, records: &dyn GovernanceLookup) {
    let act = cx.act;
    if cx.class.is_non_human()
        && PRIVILEGE_CHANGE_ACTIONS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&act.action))
    {
        let explicitly_allowed = cx.record.is_some_and(|r| {
            r.allow.iter().any(|s| {
                s.actions
                    .iter()
                    .any(|p| !p.is_wildcard() && p.as_str().eq_ignore_ascii_case(&act.action))
            })
        });
        if !explicitly_allowed {
            let target = act.resources.first().cloned().unwrap_or_default();
            cx.fire(
                RuleId::PrivilegeChangeByNhi,
                &format!("{}|{target}", act.action),
                None,
                format!(
                    "{} identity called {} without an allow statement naming it explicitly",
                    cx.class.as_str(),
                    act.action
                ),
                &[],
            );
        }
    }
    if cx.class == ActorClass::Agent && act.source_identity.is_none() && act.on_behalf_of.is_none()
    {
        cx.fire(
            RuleId::AgentWithoutDelegation,
            "",
            None,
            "an AI agent acted with neither sourceIdentity nor onBehalfOf naming the person it acts for"
                .to_string(),
            &[],
        );
    }
    if let Some(created) = &act.created_principal {
        if records.find(created).is_none() {
            cx.fire(
                RuleId::UngovernedIdentityCreated,
                created,
                Some(created.clone()),
                format!(
                    "{} for {created}, which has no governance record",
                    act.action
                ),
                &[("created_principal", created.clone())],
            );
        }
    }
}

/// Rules on what an IAM lifecycle event did to the identity it acted on.
fn lifecycle_rules(cx: &mut Ctx<'_>, records: &dyn GovernanceLookup) {
    let act = cx.act;
    let Some(LifecycleEvent::IdentityDeleted { principal }) = &act.lifecycle else {
        return;
    };
    // stale-record: the deleted identity's own (exact) record is still live. The finding is
    // the sweep's: about the record's principal, whole-record subject.
    let Some(r) = records.find(principal) else {
        return;
    };
    if r.status == RecordStatus::Retired || r.principal.is_wildcard() {
        return;
    }
    let about = About {
        principal: r.principal.as_str(),
        record: Some(&r),
        class: r.kind.actor_class(),
        class_evidence: declared_evidence(&r),
    };
    cx.fire_about(
        about,
        RuleId::StaleRecord,
        "",
        Some(principal.clone()),
        format!(
            "{principal} was deleted by {} ({}): retire its governance record",
            act.principal, act.action
        ),
        &[
            ("deleted_by", act.principal.clone()),
            ("record", r.principal.as_str().to_string()),
            ("record_status", r.status.as_str().to_string()),
        ],
    );
}
