//! The reconciliation rules of the inventory sweep, on hand-built snapshots with an explicit
//! `now`, and the store side: findings opened, counted once per sweep, resolved when the
//! condition clears, reopened when it returns.
#![allow(clippy::panic)]

use chrono::{DateTime, Utc};
use govtrail_core::credential_report::LastUsed;
use govtrail_core::finding::finding_id;
use govtrail_core::ports::{AlertKind, RecordingAlertSink};
use govtrail_core::sweep::{self, AccessKey, IamIdentity, IdentityType, Snapshot};
use govtrail_core::{FindingStore, Inventory, MemoryStore, RuleId, SqliteStore, Status};
use std::collections::BTreeMap;

const ACCT: &str = "111122223333";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
}

fn arn(kind: &str, path_name: &str) -> String {
    format!("arn:aws:iam::{ACCT}:{kind}/{path_name}")
}

fn user(path_name: &str, created: &str) -> IamIdentity {
    let (path, name) = match path_name.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n.to_string()),
        None => ("/".to_string(), path_name.to_string()),
    };
    IamIdentity {
        principal: arn("user", path_name),
        identity_type: IdentityType::User,
        name,
        path,
        id: None,
        created: Some(t(created)),
        tags: BTreeMap::new(),
        password_enabled: Some(false),
        password_last_used: LastUsed::Never,
        mfa_active: Some(false),
        role_last_used: LastUsed::Unknown,
        keys: Vec::new(),
        keys_listed: false,
    }
}

fn role(path_name: &str, created: &str, last_used: LastUsed) -> IamIdentity {
    let mut r = user(path_name, created);
    r.principal = arn("role", path_name);
    r.identity_type = IdentityType::Role;
    r.password_enabled = None;
    r.password_last_used = LastUsed::Unknown;
    r.mfa_active = None;
    r.role_last_used = last_used;
    r
}

fn key(id: &str, active: bool, created: &str, last_used: LastUsed) -> AccessKey {
    AccessKey {
        id: id.to_string(),
        active,
        created: Some(t(created)),
        last_used,
        last_used_service: None,
        last_used_region: None,
    }
}

fn inventory(yaml: &str) -> Inventory {
    Inventory::from_texts(&[("inventory.yaml".to_string(), yaml.to_string())])
        .unwrap_or_else(|e| panic!("inventory: {e}"))
}

const INVENTORY: &str = r#"
settings:
  known_owners: [team-data, team-platform, alice@example.com]
  default_max_key_age_days: 180
  sweep:
    forbid_keys_on_humans: true
identities:
  - principal: arn:aws:iam::111122223333:user/etl-loader
    kind: workload
    owner: team-data
    credentials: { max_key_age_days: 30 }
    review: { last_reviewed: 2026-10-01, interval_days: 70 }
    exceptions:
      - rules: [two-active-keys]
        reason: key rotation in progress
        approver: bob@example.com
        ticket: SEC-42
        expires: 2026-12-10
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: alice@example.com
    review: { last_reviewed: 2026-06-01, interval_days: 90 }
  - principal: arn:aws:iam::111122223333:role/deploy
    kind: workload
    owner: team-unknown
  - principal: arn:aws:iam::111122223333:user/departed
    kind: human
    owner: team-platform
  - principal: arn:aws:iam::111122223333:user/old-intern
    kind: human
    owner: team-platform
    status: retired
  - principal: arn:aws:iam::444455556666:role/other-account
    kind: workload
    owner: team-platform
"#;

const NOW: &str = "2026-12-04T12:00:00Z";

fn snapshot() -> Snapshot {
    let mut etl = user("data/etl-loader", "2025-01-01T00:00:00Z");
    etl.keys = vec![
        key(
            "AKIAETLOLD",
            true,
            "2026-09-01T00:00:00Z",
            LastUsed::At(t("2026-12-03T10:00:00Z")),
        ),
        key(
            "AKIAETLNEW",
            true,
            "2026-11-30T00:00:00Z",
            LastUsed::At(t("2026-12-04T09:00:00Z")),
        ),
    ];
    etl.password_enabled = Some(true);
    etl.password_last_used = LastUsed::Never;
    let mut alice = user("alice", "2024-03-01T00:00:00Z");
    alice.password_enabled = Some(true);
    alice.password_last_used = LastUsed::At(t("2026-12-01T08:00:00Z"));
    alice.keys = vec![key(
        "AKIAALICE",
        true,
        "2026-11-01T00:00:00Z",
        LastUsed::Never,
    )];
    let mut stray = user("stray", "2026-01-01T00:00:00Z");
    stray.keys = vec![key(
        "AKIASTRAY",
        false,
        "2026-01-01T00:00:00Z",
        LastUsed::Never,
    )];
    let deploy = role(
        "deploy",
        "2025-05-01T00:00:00Z",
        LastUsed::At(t("2026-12-02T00:00:00Z")),
    );
    let mut slr = role(
        "aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk",
        "2020-01-01T00:00:00Z",
        LastUsed::Never,
    );
    slr.path = "/aws-service-role/elasticbeanstalk.amazonaws.com/".to_string();
    let intern = user("old-intern", "2025-06-01T00:00:00Z");
    let mut root = user("root", "2020-01-01T00:00:00Z");
    root.principal = format!("arn:aws:iam::{ACCT}:root");
    root.identity_type = IdentityType::Root;
    root.keys = vec![key(
        "AKIAROOT",
        true,
        "2026-11-20T00:00:00Z",
        LastUsed::Never,
    )];
    Snapshot {
        account_id: ACCT.to_string(),
        report_generated_at: Some(t("2026-12-04T11:00:00Z")),
        identities: vec![etl, alice, stray, deploy, slr, intern, root],
    }
}

/// (rule, principal, subject) of every hit, sorted.
fn fired(result: &sweep::SweepResult) -> Vec<(String, String, bool)> {
    let mut v: Vec<_> = result
        .hits
        .iter()
        .map(|h| {
            (
                h.rule.as_str().to_string(),
                h.principal.clone(),
                h.suppressed_by.is_some(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_reconciliation_rule_fires_on_its_condition_and_nothing_else() {
    let inv = inventory(INVENTORY);
    let result = sweep::reconcile(&snapshot(), &inv, t(NOW));
    let etl = arn("user", "data/etl-loader");
    let stray = arn("user", "stray");
    let alice = arn("user", "alice");
    let root = format!("arn:aws:iam::{ACCT}:root");
    let expect: Vec<(String, String, bool)> = vec![
        ("console-password-on-nhi", etl.as_str(), false),
        ("key-too-old", etl.as_str(), false),
        ("keys-on-human", alice.as_str(), false),
        ("keys-on-human", root.as_str(), false),
        (
            "review-due-soon",
            "arn:aws:iam::111122223333:user/etl-loader",
            false,
        ),
        (
            "review-overdue",
            "arn:aws:iam::111122223333:user/alice",
            false,
        ),
        (
            "stale-record",
            "arn:aws:iam::111122223333:user/departed",
            false,
        ),
        ("two-active-keys", etl.as_str(), true),
        (
            "exception-expiring",
            "arn:aws:iam::111122223333:user/etl-loader",
            false,
        ),
        (
            "ungoverned-identity",
            arn("user", "old-intern").as_str(),
            false,
        ),
        ("ungoverned-identity", stray.as_str(), false),
        // Never used since created: 337 and 551 days.
        (
            "unused-credential",
            arn("user", "old-intern").as_str(),
            false,
        ),
        ("unused-credential", stray.as_str(), false),
        (
            "unknown-owner",
            "arn:aws:iam::111122223333:role/deploy",
            false,
        ),
    ]
    .into_iter()
    .map(|(r, p, s)| (r.to_string(), p.to_string(), s))
    .collect::<Vec<_>>();
    let mut expect = expect;
    expect.sort();
    assert_eq!(fired(&result), expect);

    let c = &result.counts;
    assert_eq!(
        (c.identities, c.users, c.roles, c.keys, c.active_keys),
        (7, 4, 2, 5, 4)
    );
    assert_eq!((c.aws_managed_skipped, c.ignored, c.governed), (1, 0, 4));

    let old = result
        .hits
        .iter()
        .find(|h| h.rule == RuleId::KeyTooOld)
        .unwrap_or_else(|| panic!("no key-too-old"));
    // The record's 30 days wins over the settings' 180.
    assert_eq!(
        old.finding_id,
        finding_id(&etl, RuleId::KeyTooOld, "AKIAETLOLD")
    );
    assert_eq!(old.evidence["key_age_days"], "94");
    assert_eq!(old.evidence["max_key_age_days"], "30");
    assert_eq!(old.owner.as_deref(), Some("team-data"));
    assert_eq!(old.account_id.as_deref(), Some(ACCT));
    assert_eq!(old.event_key, "sweep@2026-12-04T12:00:00Z");
    let due = result
        .hits
        .iter()
        .find(|h| h.rule == RuleId::ReviewDueSoon)
        .unwrap_or_else(|| panic!("no review-due-soon"));
    assert_eq!(due.evidence["review_due"], "2026-12-10T23:59:59Z");
    let overdue = result
        .hits
        .iter()
        .find(|h| h.rule == RuleId::ReviewOverdue)
        .unwrap_or_else(|| panic!("no review-overdue"));
    // Shared with the event rule: same principal, rule and subject -> same finding.
    assert_eq!(
        overdue.finding_id,
        finding_id(&alice, RuleId::ReviewOverdue, "")
    );
    let two = result
        .hits
        .iter()
        .find(|h| h.rule == RuleId::TwoActiveKeys)
        .unwrap_or_else(|| panic!("no two-active-keys"));
    assert_eq!(two.evidence["access_key_ids"], "AKIAETLOLD AKIAETLNEW");
    assert_eq!(
        two.suppressed_by.as_ref().and_then(|s| s.ticket.as_deref()),
        Some("SEC-42")
    );
}

#[test]
fn unused_credentials_are_judged_per_identity_then_per_key() {
    let inv = inventory(
        r#"
settings: { sweep: { unused_after_days: 90 } }
identities:
  - { principal: "arn:aws:iam::111122223333:*", kind: workload, owner: team-data }
"#,
    );
    let now = t(NOW);
    // Never used in 300 days: the identity as a whole.
    let mut idle = user("idle", "2026-02-07T00:00:00Z");
    idle.keys = vec![key(
        "AKIAIDLE",
        true,
        "2026-02-07T00:00:00Z",
        LastUsed::Never,
    )];
    // Used yesterday through one key; the other key was last used 100 days ago.
    let mut busy = user("busy", "2025-01-01T00:00:00Z");
    busy.keys = vec![
        key(
            "AKIABUSY1",
            true,
            "2026-11-01T00:00:00Z",
            LastUsed::At(t("2026-12-03T00:00:00Z")),
        ),
        key(
            "AKIABUSY2",
            true,
            "2026-11-01T00:00:00Z",
            LastUsed::At(t("2026-08-26T00:00:00Z")),
        ),
    ];
    // A role last used 91 days ago; one whose use AWS could not report; a young unused one.
    let quiet = role(
        "quiet",
        "2025-01-01T00:00:00Z",
        LastUsed::At(t("2026-09-04T00:00:00Z")),
    );
    let unknown = role("unknown", "2025-01-01T00:00:00Z", LastUsed::Unknown);
    let young = role("young", "2026-11-01T00:00:00Z", LastUsed::Never);
    let snap = Snapshot {
        account_id: ACCT.into(),
        report_generated_at: None,
        identities: vec![idle, busy, quiet, unknown, young],
    };
    let result = sweep::reconcile(&snap, &inv, now);
    let mut unused: Vec<(String, Option<String>)> = result
        .hits
        .iter()
        .filter(|h| h.rule == RuleId::UnusedCredential)
        .map(|h| (h.principal.clone(), h.resource.clone()))
        .collect();
    unused.sort();
    assert_eq!(
        unused,
        vec![
            (arn("role", "quiet"), None),
            (arn("user", "busy"), Some("AKIABUSY2".to_string())),
            (arn("user", "idle"), None),
        ]
    );
    let idle_hit = result
        .hits
        .iter()
        .find(|h| h.principal == arn("user", "idle") && h.rule == RuleId::UnusedCredential)
        .unwrap_or_else(|| panic!("no idle hit"));
    assert!(
        idle_hit.evidence["why"]
            .contains("never used since it was created 2026-02-07T00:00:00Z (300 days ago)"),
        "{}",
        idle_hit.evidence["why"]
    );
}

#[test]
fn aws_managed_and_ignored_identities_are_counted_not_reported_unless_asked() {
    let mut snap = snapshot();
    snap.identities.retain(|i| i.aws_managed());
    let result = sweep::reconcile(&snap, &inventory("identities: []"), t(NOW));
    assert!(result.hits.is_empty(), "{:?}", fired(&result));
    assert_eq!(result.counts.aws_managed_skipped, 1);
    let result = sweep::reconcile(
        &snap,
        &inventory(
            "settings: { ignore_principals: ['service:*'], sweep: { include_aws_managed: true } }\nidentities: []",
        ),
        t(NOW),
    );
    assert_eq!(
        fired(&result),
        vec![
            (
                "ungoverned-identity".to_string(),
                arn("role", "aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk"),
                false
            ),
            (
                "unused-credential".to_string(),
                arn("role", "aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk"),
                false
            ),
        ]
    );
}

fn sweep_cycle(store: &mut dyn FindingStore) {
    let inv = inventory(INVENTORY);
    let mut alerts = RecordingAlertSink::default();
    let first = sweep::reconcile(&snapshot(), &inv, t(NOW));
    let r1 = sweep::apply(store, Some(&mut alerts), &first, &inv)
        .unwrap_or_else(|e| panic!("sweep 1: {e}"));
    assert_eq!(r1.findings_new, 14);
    assert_eq!(r1.suppressed_hits, 1);
    assert_eq!(r1.alerts_sent, 13, "suppressed findings do not alert");
    assert!(r1.resolved.is_empty());

    // The same sweep replayed: nothing counts twice, nothing alerts.
    let again = sweep::apply(store, Some(&mut alerts), &first, &inv)
        .unwrap_or_else(|e| panic!("replay: {e}"));
    assert_eq!(
        (again.findings_new, again.duplicate_hits, again.alerts_sent),
        (0, 14, 0)
    );

    // An hour later: the old etl key was deactivated and the stray user deleted.
    let mut snap = snapshot();
    snap.identities[0].keys[0].active = false;
    snap.identities
        .retain(|i| !i.principal.ends_with("user/stray"));
    let second = sweep::reconcile(&snap, &inv, t("2026-12-04T13:00:00Z"));
    let r2 = sweep::apply(store, Some(&mut alerts), &second, &inv)
        .unwrap_or_else(|e| panic!("sweep 2: {e}"));
    let mut resolved: Vec<(&str, &str)> = r2
        .resolved
        .iter()
        .map(|r| (r.rule.as_str(), r.principal.as_str()))
        .collect();
    resolved.sort();
    let etl = arn("user", "data/etl-loader");
    let stray = arn("user", "stray");
    assert_eq!(
        resolved,
        vec![
            ("key-too-old", etl.as_str()),
            ("ungoverned-identity", stray.as_str()),
            ("unused-credential", stray.as_str())
        ]
    );
    let id = finding_id(&etl, RuleId::KeyTooOld, "AKIAETLOLD");
    let f = store
        .get(&id)
        .unwrap_or_else(|e| panic!("get: {e}"))
        .unwrap_or_else(|| panic!("missing"));
    assert_eq!(f.status, Status::Resolved);
    assert_eq!(
        f.status_reason.as_deref(),
        Some("resolved by the sweep at 2026-12-04T13:00:00Z: the key was rotated, deactivated or deleted")
    );
    // The suppressed two-active-keys finding is not live: it is neither resolved nor re-alerted.
    assert_eq!(r2.alerts_sent, 0);
    assert_eq!(r2.findings_new, 0);
    // A repeating standing condition is not escalated by count.
    let overdue = finding_id(&arn("user", "alice"), RuleId::ReviewOverdue, "");
    let f = store
        .get(&overdue)
        .unwrap_or_else(|e| panic!("get: {e}"))
        .unwrap_or_else(|| panic!("missing"));
    assert_eq!((f.count, f.status), (2, Status::Open));

    // The key is reactivated: the next sweep reopens the same finding and alerts once.
    let third = sweep::reconcile(&snapshot(), &inv, t("2026-12-04T14:00:00Z"));
    alerts.sent.clear();
    let r3 = sweep::apply(store, Some(&mut alerts), &third, &inv)
        .unwrap_or_else(|e| panic!("sweep 3: {e}"));
    assert_eq!(r3.findings_reopened, 3);
    let mut kinds: Vec<(AlertKind, RuleId)> =
        alerts.sent.iter().map(|(k, f)| (*k, f.rule)).collect();
    kinds.sort_by_key(|(_, r)| r.as_str());
    assert_eq!(
        kinds,
        vec![
            (AlertKind::Reopened, RuleId::KeyTooOld),
            (AlertKind::Reopened, RuleId::UngovernedIdentity),
            (AlertKind::Reopened, RuleId::UnusedCredential)
        ]
    );
    let f = store
        .get(&id)
        .unwrap_or_else(|e| panic!("get: {e}"))
        .unwrap_or_else(|| panic!("missing"));
    assert_eq!(f.status, Status::Open);
    assert_eq!(
        f.status_reason.as_deref(),
        Some("reopened: the sweep at 2026-12-04T14:00:00Z found the condition again")
    );
}

#[test]
fn sweep_findings_open_resolve_and_reopen_in_memory() {
    sweep_cycle(&mut MemoryStore::new());
}

#[test]
fn sweep_findings_open_resolve_and_reopen_in_sqlite() {
    let mut store = SqliteStore::in_memory().unwrap_or_else(|e| panic!("sqlite: {e}"));
    sweep_cycle(&mut store);
}

#[test]
fn an_event_raised_review_finding_stays_while_the_record_is_overdue() {
    // The event path raised review-overdue for a principal a wildcard record governs; the
    // sweep's own finding is on the record. The event one stays open while overdue.
    let inv = inventory(
        r#"
identities:
  - principal: "arn:aws:iam::111122223333:role/ci-*"
    kind: workload
    owner: team-data
    review: { last_reviewed: 2026-01-01, interval_days: 30 }
"#,
    );
    let mut store = MemoryStore::new();
    let principal = arn("role", "ci-build");
    let mut hit = sweep::reconcile(&Snapshot::default(), &inv, t(NOW)).hits[0].clone();
    assert_eq!(hit.rule, RuleId::ReviewOverdue);
    hit.principal = principal.clone();
    hit.finding_id = finding_id(&principal, RuleId::ReviewOverdue, "");
    hit.event_key = "event-1".into();
    store.record(&[hit]).unwrap_or_else(|e| panic!("{e}"));
    let snap = Snapshot {
        account_id: ACCT.into(),
        ..Snapshot::default()
    };
    let result = sweep::reconcile(&snap, &inv, t(NOW));
    let report = sweep::apply(&mut store, None, &result, &inv).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.resolved.is_empty(), "{:?}", report.resolved);
    // Reviewed since: both the event finding and the sweep's are resolved.
    let reviewed = inventory(
        r#"
identities:
  - principal: "arn:aws:iam::111122223333:role/ci-*"
    kind: workload
    owner: team-data
    review: { last_reviewed: 2026-12-01, interval_days: 30 }
"#,
    );
    let result = sweep::reconcile(&snap, &reviewed, t("2026-12-04T13:00:00Z"));
    let report =
        sweep::apply(&mut store, None, &result, &reviewed).unwrap_or_else(|e| panic!("{e}"));
    let mut ids: Vec<&str> = report
        .resolved
        .iter()
        .map(|r| r.principal.as_str())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec!["arn:aws:iam::111122223333:role/ci-*", principal.as_str()]
    );
}

#[test]
fn a_review_interval_beyond_the_calendar_is_refused_by_validate_and_never_due() {
    let yaml = "identities:\n  - principal: arn:aws:iam::111122223333:user/alice\n    kind: human\n    owner: a\n    review: { last_reviewed: 2026-01-01, interval_days: 4294967295 }\n";
    let err = Inventory::from_texts(&[("inv.yaml".into(), yaml.into())])
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(
        err.to_string()
            .contains("review.interval_days must be between 1 and 3653"),
        "{err}"
    );
    // Records from the identities table are not validated: the sweep must not overflow.
    let record: govtrail_core::GovernanceRecord = serde_yaml::from_str(
        "{ principal: 'arn:aws:iam::111122223333:user/alice', kind: human, owner: a, review: { last_reviewed: 2026-01-01, interval_days: 4294967295 } }",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let inv = Inventory::new(Default::default(), vec![record]);
    let result = sweep::reconcile(&Snapshot::default(), &inv, t(NOW));
    assert!(
        result
            .hits
            .iter()
            .all(|h| !matches!(h.rule, RuleId::ReviewOverdue | RuleId::ReviewDueSoon)),
        "{:?}",
        fired(&result)
    );
}

#[test]
fn sweeps_of_two_inventories_into_one_store_leave_each_other_alone() {
    let inv = |acct: &str| {
        inventory(&format!(
            "identities:\n  - principal: arn:aws:iam::{acct}:role/app\n    kind: workload\n    review: {{ last_reviewed: 2026-01-01, interval_days: 30 }}\n"
        ))
    };
    let snap = |acct: &str| Snapshot {
        account_id: acct.to_string(),
        report_generated_at: None,
        identities: vec![IamIdentity {
            principal: format!("arn:aws:iam::{acct}:role/app"),
            ..role("app", "2026-11-01T00:00:00Z", LastUsed::Unknown)
        }],
    };
    let (a, b) = (inv("111111111111"), inv("222222222222"));
    let mut store = MemoryStore::new();
    let mut reopened = 0;
    for (i, hour) in ["12", "13", "14", "15"].iter().enumerate() {
        let (inv, acct) = if i % 2 == 0 {
            (&a, "111111111111")
        } else {
            (&b, "222222222222")
        };
        let at = t(&format!("2026-12-04T{hour}:00:00Z"));
        let result = sweep::reconcile(&snap(acct), inv, at);
        let r = sweep::apply(&mut store, None, &result, inv).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.resolved.is_empty(), "sweep {i}: {:?}", r.resolved);
        reopened += r.findings_reopened;
    }
    assert_eq!(reopened, 0);
    // The record removed from inventory A: A's next sweep resolves its findings, saying why.
    let empty = inventory("identities: []");
    let result = sweep::reconcile(&snap("111111111111"), &empty, t("2026-12-04T16:00:00Z"));
    let r = sweep::apply(&mut store, None, &result, &empty).unwrap_or_else(|e| panic!("{e}"));
    let mut resolved: Vec<(&str, &str)> = r
        .resolved
        .iter()
        .map(|x| (x.rule.as_str(), x.reason.as_str()))
        .collect();
    resolved.sort();
    assert_eq!(
        resolved,
        vec![
            (
                "review-overdue",
                "resolved by the sweep at 2026-12-04T16:00:00Z: the record is no longer in the inventory"
            ),
            (
                "unknown-owner",
                "resolved by the sweep at 2026-12-04T16:00:00Z: the record is no longer in the inventory"
            ),
        ]
    );
}

#[test]
fn an_unknown_source_keeps_the_identity_from_being_called_unused_and_ages_count_to_the_second() {
    let inv = inventory(
        "settings: { default_max_key_age_days: 90 }\nidentities:\n  - { principal: 'arn:aws:iam::111122223333:*', kind: human, owner: o }\n",
    );
    // A console password whose use the source could not report, and a key last used 337
    // days ago: the identity may be in use; the key is not.
    let mut u = user("console", "2025-01-01T00:00:00Z");
    u.password_enabled = Some(true);
    u.password_last_used = LastUsed::Unknown;
    u.keys = vec![key(
        "AKIAOLDUSE",
        true,
        "2026-09-04T11:00:00Z",
        LastUsed::At(t("2026-01-01T00:00:00Z")),
    )];
    let snap = Snapshot {
        account_id: ACCT.into(),
        report_generated_at: None,
        identities: vec![u],
    };
    let result = sweep::reconcile(&snap, &inv, t(NOW));
    let mut got: Vec<(&str, Option<&str>)> = result
        .hits
        .iter()
        .map(|h| (h.rule.as_str(), h.resource.as_deref()))
        .collect();
    got.sort();
    // The key is 91 days and one hour old (2026-09-04T11:00 to 2026-12-04T12:00).
    assert_eq!(
        got,
        vec![
            ("key-too-old", Some("AKIAOLDUSE")),
            ("unused-credential", Some("AKIAOLDUSE")),
        ]
    );
    // 90 days and one hour: over the maximum of 90 days.
    let mut snap = snap;
    snap.identities[0].keys[0].created = Some(t("2026-09-05T11:00:00Z"));
    let result = sweep::reconcile(&snap, &inv, t(NOW));
    let old = result
        .hits
        .iter()
        .find(|h| h.rule == RuleId::KeyTooOld)
        .unwrap_or_else(|| panic!("90 days and an hour is over 90 days"));
    assert_eq!(old.evidence["key_age_days"], "90");
}
