//! `FindingStore` semantics, run against both `MemoryStore` and `SqliteStore::in_memory()`
//! (each shared test takes `&mut dyn FindingStore`), and the `Pipeline`'s idempotent replay.
#![allow(clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use govtrail_core::finding::{finding_id, Suppression, EVENT_SAMPLE};
use govtrail_core::ports::{AlertKind, RecordingAlertSink, StoreError};
use govtrail_core::{
    ActorClass, Finding, FindingFilter, FindingStore, Hit, HitOutcome, Inventory, MemoryStore,
    Pipeline, RuleId, Severity, SqliteStore, Status,
};
use serde_json::json;
use std::collections::BTreeMap;

const ACCT: &str = "111122223333";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const CAROL: &str = "arn:aws:iam::111122223333:user/carol";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
}

/// One event's hit on the finding (principal, rule, subject), at `time`.
fn hit(principal: &str, rule: RuleId, subject: &str, event: &str, time: &str) -> Hit {
    let mut evidence = BTreeMap::new();
    evidence.insert("why".to_string(), format!("event {event}"));
    Hit {
        finding_id: finding_id(principal, rule, subject),
        rule,
        severity: rule.default_severity(),
        principal: principal.to_string(),
        actor_class: ActorClass::Human,
        owner: Some("team-a".to_string()),
        contact: None,
        action: Some("s3:GetObject".to_string()),
        resource: None,
        account_id: Some(ACCT.to_string()),
        region: Some("eu-west-1".to_string()),
        event_time: t(time),
        event_id: Some(event.to_string()),
        event_key: format!("{ACCT}:{event}"),
        evidence,
        suppressed_by: None,
    }
}

/// A region-outside-scope hit of alice's (the finding most tests use).
fn region_hit(event: &str, time: &str) -> Hit {
    hit(ALICE, RuleId::RegionOutsideScope, "us-east-1", event, time)
}

fn exception() -> Suppression {
    Suppression {
        reason: "DR failover test".to_string(),
        approver: "ciso@example.com".to_string(),
        ticket: Some("SEC-42".to_string()),
        expires: "2099-12-31".to_string(),
    }
}

fn record(store: &mut dyn FindingStore, hits: &[Hit]) -> Vec<HitOutcome> {
    store
        .record(hits)
        .unwrap_or_else(|e| panic!("record failed: {e}"))
}

fn get(store: &dyn FindingStore, id: &str) -> Finding {
    store
        .get(id)
        .unwrap_or_else(|e| panic!("get failed: {e}"))
        .unwrap_or_else(|| panic!("no finding {id}"))
}

fn list(store: &dyn FindingStore, filter: &FindingFilter) -> Vec<Finding> {
    store
        .list(filter)
        .unwrap_or_else(|e| panic!("list failed: {e}"))
}

fn ids(v: &[Finding]) -> Vec<String> {
    v.iter().map(|f| f.id.clone()).collect()
}

const UPDATED: HitOutcome = HitOutcome::Updated {
    escalated: false,
    reopened: false,
};

// ---------------------------------------------------------------------------------------------
// Shared semantics
// ---------------------------------------------------------------------------------------------

fn same_hit_twice_counts_once(store: &mut dyn FindingStore) {
    let h = region_hit("ev-1", "2024-06-01T10:00:00Z");
    // Twice in one batch, then again in a later batch.
    assert_eq!(
        record(store, &[h.clone(), h.clone()]),
        vec![HitOutcome::New, HitOutcome::Duplicate]
    );
    assert_eq!(
        record(store, std::slice::from_ref(&h)),
        vec![HitOutcome::Duplicate]
    );
    let f = get(store, &h.finding_id);
    assert_eq!(f.count, 1);
    assert_eq!(f.event_ids, vec!["ev-1".to_string()]);
    assert_eq!(f.first_seen, t("2024-06-01T10:00:00Z"));
    assert_eq!(f.last_seen, t("2024-06-01T10:00:00Z"));
    assert_eq!(f.status, Status::Open);

    // The same event on another finding is not a duplicate.
    let other = hit(ALICE, RuleId::NoOwner, "", "ev-1", "2024-06-01T10:00:00Z");
    assert_eq!(
        record(store, std::slice::from_ref(&other)),
        vec![HitOutcome::New]
    );
    assert_eq!(get(store, &other.finding_id).count, 1);
    assert_eq!(get(store, &h.finding_id).count, 1);
}

fn first_and_last_seen_do_not_depend_on_order(a: &mut dyn FindingStore, b: &mut dyn FindingStore) {
    let late = region_hit("ev-late", "2024-06-01T10:00:00Z");
    let mut early = region_hit("ev-early", "2024-06-01T08:00:00Z");
    early.severity = Severity::Critical;
    early.owner = Some("old-owner".to_string());

    // a: late then early (the second raises the severity: an escalation).
    assert_eq!(
        record(a, std::slice::from_ref(&late)),
        vec![HitOutcome::New]
    );
    assert_eq!(
        record(a, &[early.clone()]),
        vec![HitOutcome::Updated {
            escalated: true,
            reopened: false
        }]
    );
    // b: early then late (in one batch).
    assert_eq!(
        record(b, &[early.clone(), late.clone()]),
        vec![HitOutcome::New, UPDATED]
    );

    let fa = get(a, &late.finding_id);
    let fb = get(b, &late.finding_id);
    for f in [&fa, &fb] {
        assert_eq!(f.count, 2);
        assert_eq!(f.first_seen, t("2024-06-01T08:00:00Z"));
        assert_eq!(f.last_seen, t("2024-06-01T10:00:00Z"));
        assert_eq!(f.severity, Severity::Critical);
        // The newest event's view wins.
        assert_eq!(f.owner.as_deref(), Some("team-a"));
        assert_eq!(
            f.evidence.get("why").map(String::as_str),
            Some("event ev-late")
        );
    }
    // Everything but the sample's order is the same.
    let (mut fa, mut fb) = (fa, fb);
    fa.event_ids.sort();
    fb.event_ids.sort();
    assert_eq!(fa, fb);
}

fn escalates_when_the_count_crosses_ten(store: &mut dyn FindingStore) {
    let hits: Vec<Hit> = (1..=11)
        .map(|i| region_hit(&format!("ev-{i:02}"), &format!("2024-06-01T10:{i:02}:00Z")))
        .collect();
    let mut expected = vec![HitOutcome::New];
    expected.extend(std::iter::repeat_n(UPDATED, 8));
    assert_eq!(record(store, &hits[..9]), expected);
    assert_eq!(
        record(store, &hits[9..10]),
        vec![HitOutcome::Updated {
            escalated: true,
            reopened: false
        }]
    );
    assert_eq!(record(store, &hits[10..]), vec![UPDATED]);
    let f = get(store, &hits[0].finding_id);
    assert_eq!(f.count, 11);
    assert_eq!(f.event_ids.len(), EVENT_SAMPLE);
    assert_eq!(f.first_seen, t("2024-06-01T10:01:00Z"));
    assert_eq!(f.last_seen, t("2024-06-01T10:11:00Z"));
    assert_eq!(f.severity, Severity::Medium);
}

fn no_escalation_while_suppressed(store: &mut dyn FindingStore) {
    let hits: Vec<Hit> = (1..=10)
        .map(|i| {
            let mut h = region_hit(&format!("ev-{i:02}"), &format!("2024-06-01T10:{i:02}:00Z"));
            h.suppressed_by = Some(exception());
            h
        })
        .collect();
    let outcomes = record(store, &hits);
    assert_eq!(outcomes[9], UPDATED);
    let f = get(store, &hits[0].finding_id);
    assert_eq!(f.count, 10);
    assert_eq!(f.status, Status::Suppressed);
}

fn resolved_reopens_on_later_activity_only(store: &mut dyn FindingStore) {
    let first = region_hit("ev-1", "2024-06-01T10:00:00Z");
    let id = first.finding_id.clone();
    record(store, &[first]);
    let resolved_at = t("2024-06-01T12:00:00Z");
    let f = store
        .set_status(
            &id,
            Status::Resolved,
            Some("role fixed".to_string()),
            None,
            resolved_at,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.status, Status::Resolved);

    // An event from before the resolution (a late log file) counts but does not reopen.
    assert_eq!(
        record(store, &[region_hit("ev-0", "2024-06-01T09:00:00Z")]),
        vec![UPDATED]
    );
    let f = get(store, &id);
    assert_eq!(f.status, Status::Resolved);
    assert_eq!(f.status_reason.as_deref(), Some("role fixed"));
    assert_eq!(f.status_at, Some(resolved_at));
    assert_eq!(f.count, 2);
    assert_eq!(f.first_seen, t("2024-06-01T09:00:00Z"));

    // An event at the resolution time does not reopen either; a later one does.
    assert_eq!(
        record(store, &[region_hit("ev-1b", "2024-06-01T12:00:00Z")]),
        vec![UPDATED]
    );
    assert_eq!(get(store, &id).status, Status::Resolved);
    assert_eq!(
        record(store, &[region_hit("ev-2", "2024-06-01T13:00:00Z")]),
        vec![HitOutcome::Updated {
            escalated: false,
            reopened: true
        }]
    );
    let f = get(store, &id);
    assert_eq!(f.status, Status::Open);
    assert_eq!(
        f.status_reason.as_deref(),
        Some("reopened: new activity at 2024-06-01T13:00:00Z")
    );
    assert_eq!(f.status_at, None);
    assert_eq!(f.count, 4);
    assert_eq!(f.last_seen, t("2024-06-01T13:00:00Z"));
}

fn exception_suppressed_opens_on_uncovered_activity(store: &mut dyn FindingStore) {
    let mut covered = region_hit("ev-1", "2024-06-01T10:00:00Z");
    covered.suppressed_by = Some(exception());
    let id = covered.finding_id.clone();
    assert_eq!(record(store, &[covered]), vec![HitOutcome::New]);
    let f = get(store, &id);
    assert_eq!(f.status, Status::Suppressed);
    assert_eq!(
        f.status_reason.as_deref(),
        Some("exception: DR failover test")
    );
    assert_eq!(f.suppression, Some(exception()));

    // More covered activity keeps it suppressed.
    let mut covered2 = region_hit("ev-2", "2024-06-01T11:00:00Z");
    covered2.suppressed_by = Some(exception());
    assert_eq!(record(store, &[covered2]), vec![UPDATED]);
    assert_eq!(get(store, &id).status, Status::Suppressed);

    // Activity the exception does not cover makes it live.
    assert_eq!(
        record(store, &[region_hit("ev-3", "2024-06-01T09:00:00Z")]),
        vec![HitOutcome::Updated {
            escalated: false,
            reopened: true
        }]
    );
    let f = get(store, &id);
    assert_eq!(f.status, Status::Open);
    assert_eq!(f.suppression, None);
    assert_eq!(
        f.status_reason.as_deref(),
        Some("activity at 2024-06-01T09:00:00Z not covered by an exception")
    );
    assert_eq!(f.count, 3);

    // An open finding stays open when covered activity arrives later.
    let mut covered4 = region_hit("ev-4", "2024-06-01T14:00:00Z");
    covered4.suppressed_by = Some(exception());
    assert_eq!(record(store, &[covered4]), vec![UPDATED]);
    assert_eq!(get(store, &id).status, Status::Open);
}

fn set_status_round_trips(store: &mut dyn FindingStore) {
    let h = region_hit("ev-1", "2024-06-01T10:00:00Z");
    let id = h.finding_id.clone();
    record(store, &[h]);

    let now = t("2024-06-02T09:00:00Z");
    let acked = store
        .set_status(
            &id,
            Status::Acknowledged,
            Some("looking".to_string()),
            None,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(acked.status, Status::Acknowledged);
    assert_eq!(acked.status_reason.as_deref(), Some("looking"));
    assert_eq!(acked.status_at, Some(now));
    assert_eq!(acked.status_until, None);
    assert_eq!(get(store, &id), acked);
    // Acknowledged findings are live: new activity counts, no reopening.
    assert_eq!(
        record(store, &[region_hit("ev-2", "2024-06-02T10:00:00Z")]),
        vec![UPDATED]
    );
    assert_eq!(get(store, &id).status, Status::Acknowledged);

    let now = t("2024-06-03T09:00:00Z");
    let resolved = store
        .set_status(&id, Status::Resolved, None, None, now)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.status, Status::Resolved);
    assert_eq!(resolved.status_reason, None);
    assert_eq!(resolved.status_at, Some(now));
    assert_eq!(get(store, &id), resolved);

    let now = t("2024-06-04T09:00:00Z");
    let until = t("2024-06-20T00:00:00Z");
    let suppressed = store
        .set_status(
            &id,
            Status::Suppressed,
            Some("accepted risk".to_string()),
            Some(until),
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(suppressed.status, Status::Suppressed);
    assert_eq!(suppressed.status_reason.as_deref(), Some("accepted risk"));
    assert_eq!(suppressed.status_until, Some(until));
    assert_eq!(suppressed.status_at, Some(now));
    assert_eq!(suppressed.suppression, None);
    assert_eq!(get(store, &id), suppressed);

    // Activity before the end keeps it suppressed; after the end it opens again.
    assert_eq!(
        record(store, &[region_hit("ev-3", "2024-06-10T10:00:00Z")]),
        vec![UPDATED]
    );
    assert_eq!(get(store, &id).status, Status::Suppressed);
    assert_eq!(
        record(store, &[region_hit("ev-4", "2024-06-21T10:00:00Z")]),
        vec![HitOutcome::Updated {
            escalated: false,
            reopened: true
        }]
    );
    let f = get(store, &id);
    assert_eq!(f.status, Status::Open);
    assert_eq!(f.status_until, None);
    assert_eq!(
        f.status_reason.as_deref(),
        Some("suppression ended 2024-06-20T00:00:00Z; new activity at 2024-06-21T10:00:00Z")
    );

    // Unknown ids are an error.
    match store.set_status("nope", Status::Resolved, None, None, now) {
        Err(StoreError::NotFound(id)) => assert_eq!(id, "nope"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(store.get("nope").unwrap_or_else(|e| panic!("{e}")), None);
}

fn list_filters(store: &mut dyn FindingStore) {
    // h1 alice/region (medium, team-a), h2 bob/root (critical, no owner),
    // h3 alice/long-term-key (low, team-a, resolved), h4 carol/unregistered (high, team-b).
    let h1 = region_hit("ev-1", "2024-06-01T10:00:00Z");
    let mut h2 = hit(
        BOB,
        RuleId::RootActivity,
        "ec2:RunInstances",
        "ev-2",
        "2024-06-01T11:00:00Z",
    );
    h2.owner = None;
    let mut h3 = hit(
        ALICE,
        RuleId::LongTermKey,
        "AKIAEXAMPLE",
        "ev-3",
        "2024-06-01T12:00:00Z",
    );
    h3.severity = Severity::Low;
    let mut h4 = hit(
        CAROL,
        RuleId::UnregisteredIdentity,
        "",
        "ev-4",
        "2024-06-01T13:00:00Z",
    );
    h4.owner = Some("team-b".to_string());
    record(store, &[h1.clone(), h2.clone(), h3.clone(), h4.clone()]);
    store
        .set_status(
            &h3.finding_id,
            Status::Resolved,
            None,
            None,
            t("2024-06-02T00:00:00Z"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (i1, i2, i3, i4) = (
        h1.finding_id.clone(),
        h2.finding_id.clone(),
        h3.finding_id.clone(),
        h4.finding_id.clone(),
    );

    // Severity first (highest first).
    assert_eq!(
        ids(&list(store, &FindingFilter::default())),
        vec![i2.clone(), i4.clone(), i1.clone(), i3.clone()]
    );
    let by_owner = FindingFilter {
        owner: Some("team-a".to_string()),
        ..Default::default()
    };
    assert_eq!(ids(&list(store, &by_owner)), vec![i1.clone(), i3.clone()]);
    let by_rule = FindingFilter {
        rule: Some(RuleId::RootActivity),
        ..Default::default()
    };
    assert_eq!(ids(&list(store, &by_rule)), vec![i2.clone()]);
    let by_severity = FindingFilter {
        min_severity: Some(Severity::High),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(store, &by_severity)),
        vec![i2.clone(), i4.clone()]
    );
    let resolved = FindingFilter {
        status: Some(Status::Resolved),
        ..Default::default()
    };
    assert_eq!(ids(&list(store, &resolved)), vec![i3.clone()]);
    let open = FindingFilter {
        status: Some(Status::Open),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(store, &open)),
        vec![i2.clone(), i4.clone(), i1.clone()]
    );
    let by_principal = FindingFilter {
        principal: Some(ALICE.to_string()),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(store, &by_principal)),
        vec![i1.clone(), i3.clone()]
    );
    let combined = FindingFilter {
        owner: Some("team-a".to_string()),
        min_severity: Some(Severity::Medium),
        status: Some(Status::Open),
        principal: Some(ALICE.to_string()),
        rule: Some(RuleId::RegionOutsideScope),
        ..Default::default()
    };
    assert_eq!(ids(&list(store, &combined)), vec![i1.clone()]);
    let nothing = FindingFilter {
        owner: Some("team-b".to_string()),
        principal: Some(ALICE.to_string()),
        ..Default::default()
    };
    assert_eq!(ids(&list(store, &nothing)), Vec::<String>::new());
    let limited = FindingFilter {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(ids(&list(store, &limited)), vec![i2.clone(), i4.clone()]);
    let since = FindingFilter {
        since: Some(t("2024-06-01T11:30:00Z")),
        ..Default::default()
    };
    assert_eq!(ids(&list(store, &since)), vec![i4.clone(), i3.clone()]);
}

// ---------------------------------------------------------------------------------------------
// Pipeline
// ---------------------------------------------------------------------------------------------

const PIPELINE_INVENTORY: &str = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    allow:
      - actions: ['s3:GetObject']
        regions: ['eu-*']
";

fn cloudtrail_record(
    user: &str,
    event_id: &str,
    time: &str,
    name: &str,
    region: &str,
) -> serde_json::Value {
    let source = if name == "RunInstances" {
        "ec2.amazonaws.com"
    } else {
        "s3.amazonaws.com"
    };
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAJ45Q7YFFAREXAMPLE",
            "arn": format!("arn:aws:iam::{ACCT}:user/{user}"),
            "accountId": ACCT,
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": user
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "10.1.2.3",
        "userAgent": "aws-cli/2.15.30",
        "requestParameters": {"bucketName": "reports", "key": "a.csv"},
        "responseElements": null,
        "requestID": format!("req-{event_id}"),
        "eventID": event_id,
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": false,
        "recipientAccountId": ACCT,
        "eventCategory": "Data"
    })
}

/// A CloudTrail log file: 6 records, 5 evaluated (one AWS service record is ignored),
/// 4 hits on 3 findings.
fn log_file() -> String {
    json!({"Records": [
        // In scope: no hit.
        cloudtrail_record("alice", "e-0", "2024-06-01T10:00:00Z", "GetObject", "eu-west-1"),
        // region-outside-scope.
        cloudtrail_record("alice", "e-1", "2024-06-01T10:01:00Z", "GetObject", "us-east-1"),
        // action-outside-purpose.
        cloudtrail_record("alice", "e-2", "2024-06-01T10:02:00Z", "RunInstances", "eu-west-1"),
        // unregistered-identity, twice on one finding.
        cloudtrail_record("bob", "e-3", "2024-06-01T10:03:00Z", "GetObject", "eu-west-1"),
        cloudtrail_record("bob", "e-4", "2024-06-01T10:04:00Z", "GetObject", "eu-west-1"),
        {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
            "eventTime": "2024-06-01T10:05:00Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetBucketAcl",
            "awsRegion": "eu-west-1",
            "sourceIPAddress": "cloudtrail.amazonaws.com",
            "userAgent": "cloudtrail.amazonaws.com",
            "eventID": "e-5",
            "readOnly": true,
            "eventType": "AwsApiCall",
            "recipientAccountId": ACCT
        }
    ]})
    .to_string()
}

fn pipeline_replay_is_idempotent(store: &mut dyn FindingStore) {
    let inv = Inventory::from_texts(&[("inv.yaml".to_string(), PIPELINE_INVENTORY.to_string())])
        .unwrap_or_else(|e| panic!("{e}"));
    let now = t("2024-06-15T00:00:00Z");
    let file = log_file();

    let mut alerts = RecordingAlertSink::default();
    let mut p = Pipeline::new(&inv, &inv.settings, store, Some(&mut alerts), now);
    p.process_stream("111122223333_CloudTrail_eu-west-1.json", file.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let first = p.finish().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.input_errors, Vec::new());
    assert_eq!(first.files, 1);
    assert_eq!(first.records, 6);
    assert_eq!(first.evaluated, 5);
    assert_eq!(
        first.skipped.get("ignored-principal").copied(),
        Some(1),
        "{:?}",
        first.skipped
    );
    assert_eq!(first.findings_new, 3);
    assert_eq!(first.findings_updated, 1);
    assert_eq!(first.duplicate_hits, 0);
    assert_eq!(first.suppressed_hits, 0);
    assert_eq!(first.alerts_sent, 3);
    let kinds: Vec<AlertKind> = alerts.sent.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, vec![AlertKind::New; 3]);
    let hits = first.findings_new + first.findings_updated;
    assert_eq!(hits, 4);

    let mut alerts = RecordingAlertSink::default();
    let mut p = Pipeline::new(&inv, &inv.settings, store, Some(&mut alerts), now);
    p.process_stream("111122223333_CloudTrail_eu-west-1.json", file.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let second = p.finish().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.records, 6);
    assert_eq!(second.evaluated, 5);
    assert_eq!(second.findings_new, 0);
    assert_eq!(second.findings_updated, 0);
    assert_eq!(second.duplicate_hits, hits);
    assert_eq!(second.alerts_sent, 0);
    assert!(alerts.sent.is_empty());

    let all = list(&*store, &FindingFilter::default());
    let mut rules: Vec<(&str, &str, u64)> = all
        .iter()
        .map(|f| (f.principal.as_str(), f.rule.as_str(), f.count))
        .collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        vec![
            (ALICE, "action-outside-purpose", 1),
            (ALICE, "region-outside-scope", 1),
            (BOB, "unregistered-identity", 2),
        ]
    );
    let bob = all
        .iter()
        .find(|f| f.principal == BOB)
        .unwrap_or_else(|| panic!("no bob finding"));
    assert_eq!(bob.first_seen, t("2024-06-01T10:03:00Z"));
    assert_eq!(bob.last_seen, t("2024-06-01T10:04:00Z"));
    assert_eq!(bob.event_ids, vec!["e-3".to_string(), "e-4".to_string()]);
    assert_eq!(bob.owner, None);
    assert_eq!(bob.severity, Severity::High);
}

// ---------------------------------------------------------------------------------------------
// Both stores
// ---------------------------------------------------------------------------------------------

fn sqlite() -> SqliteStore {
    SqliteStore::in_memory().unwrap_or_else(|e| panic!("{e}"))
}

macro_rules! for_both_stores {
    (one: [$($one:ident),* $(,)?], two: [$($two:ident),* $(,)?] $(,)?) => {
        mod memory {
            use super::*;
            $(#[test] fn $one() { super::$one(&mut MemoryStore::new()); })*
            $(#[test] fn $two() { super::$two(&mut MemoryStore::new(), &mut MemoryStore::new()); })*
        }
        mod sqlite {
            use super::*;
            $(#[test] fn $one() { super::$one(&mut sqlite()); })*
            $(#[test] fn $two() { super::$two(&mut sqlite(), &mut sqlite()); })*
        }
    };
}

for_both_stores!(
    one: [
        same_hit_twice_counts_once,
        escalates_when_the_count_crosses_ten,
        no_escalation_while_suppressed,
        resolved_reopens_on_later_activity_only,
        exception_suppressed_opens_on_uncovered_activity,
        set_status_round_trips,
        list_filters,
        pipeline_replay_is_idempotent,
    ],
    two: [first_and_last_seen_do_not_depend_on_order],
);

#[test]
fn memory_and_sqlite_keep_the_same_findings() {
    let mut hits: Vec<Hit> = (0..25)
        .map(|i| {
            let who = [ALICE, BOB, CAROL][i % 3];
            let rule = [RuleId::RegionOutsideScope, RuleId::NoOwner][i % 2];
            // Out of time order on purpose.
            let minute = (i * 7) % 25;
            hit(
                who,
                rule,
                "s",
                &format!("ev-{i}"),
                &format!("2024-06-01T10:{minute:02}:00Z"),
            )
        })
        .collect();
    hits[3].suppressed_by = Some(exception());
    hits.push(hits[5].clone()); // a redelivery
    let mut m = MemoryStore::new();
    let mut s = sqlite();
    assert_eq!(record(&mut m, &hits[..10]), record(&mut s, &hits[..10]));
    assert_eq!(record(&mut m, &hits[10..]), record(&mut s, &hits[10..]));
    let lm = list(&m, &FindingFilter::default());
    let ls = list(&s, &FindingFilter::default());
    assert_eq!(lm.len(), 6);
    assert_eq!(lm, ls);
}

#[test]
fn manual_suppression_of_an_exception_suppressed_finding_holds() {
    for store in [
        &mut MemoryStore::new() as &mut dyn FindingStore,
        &mut sqlite() as &mut dyn FindingStore,
    ] {
        let mut covered = region_hit("ev-1", "2024-06-01T10:00:00Z");
        covered.suppressed_by = Some(exception());
        let id = covered.finding_id.clone();
        record(store, &[covered]);
        let f = store
            .set_status(
                &id,
                Status::Suppressed,
                Some("accepted risk, no end".to_string()),
                None,
                t("2024-06-02T00:00:00Z"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.status, Status::Suppressed);
        // A finding never covered by an exception and suppressed the same way stays
        // suppressed on new activity; this one should too.
        assert_eq!(
            record(store, &[region_hit("ev-2", "2024-06-03T10:00:00Z")]),
            vec![UPDATED]
        );
        assert_eq!(get(store, &id).status, Status::Suppressed);
    }
}

#[test]
fn manual_suppression_without_end_holds_for_a_plain_finding() {
    for store in [
        &mut MemoryStore::new() as &mut dyn FindingStore,
        &mut sqlite() as &mut dyn FindingStore,
    ] {
        let h = region_hit("ev-1", "2024-06-01T10:00:00Z");
        let id = h.finding_id.clone();
        record(store, &[h]);
        store
            .set_status(
                &id,
                Status::Suppressed,
                Some("accepted risk, no end".to_string()),
                None,
                t("2024-06-02T00:00:00Z"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            record(store, &[region_hit("ev-2", "2024-06-03T10:00:00Z")]),
            vec![UPDATED]
        );
        assert_eq!(get(store, &id).status, Status::Suppressed);
    }
}

#[test]
fn sqlite_set_status_returns_what_get_reads_back() {
    let now = t("2024-06-02T09:00:00Z") + Duration::milliseconds(750);
    let mut m = MemoryStore::new();
    let mut s = sqlite();
    for store in [
        &mut m as &mut dyn FindingStore,
        &mut s as &mut dyn FindingStore,
    ] {
        let h = region_hit("ev-1", "2024-06-01T10:00:00Z");
        let id = h.finding_id.clone();
        record(store, &[h]);
        let returned = store
            .set_status(&id, Status::Resolved, None, None, now)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(get(store, &id), returned);
        // Stored times have CloudTrail's whole-second precision, in both stores.
        assert_eq!(returned.status_at, Some(t("2024-06-02T09:00:00Z")));
    }
}
