//! Every rule of `evaluate`, through the public API: one case that fires and one that must
//! not, with exact rule lists, subjects, severities, owners and evidence.
//!
//! Records are small JSON documents in CloudTrail's real shape, parsed into `RawRecord` and
//! normalised; inventories are YAML texts loaded with `Inventory::from_texts`.
#![allow(clippy::panic)]

use chrono::{DateTime, Utc};
use govtrail_core::finding::{finding_id, Suppression};
use govtrail_core::{
    evaluate, normalise, Activity, ActorClass, Evaluation, Hit, Inventory, Origin, RawRecord,
    RuleId, Severity,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const ACCT: &str = "111122223333";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const DEPLOYER: &str = "arn:aws:iam::111122223333:role/deployer";
const AGENT: &str = "arn:aws:iam::111122223333:role/report-agent";
const ROOT: &str = "arn:aws:iam::111122223333:root";
const EVENT_TIME: &str = "2024-06-01T12:00:00Z";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
}

/// Evaluation time: two weeks after the events.
fn now() -> DateTime<Utc> {
    t("2024-06-15T00:00:00Z")
}

/// Parses one CloudTrail record (JSON text) and normalises it, as found at `file#index`.
fn activity_from(json: &str, file: &str, index: u64) -> Activity {
    let rec: RawRecord =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad record JSON: {e}\n{json}"));
    let origin = Origin {
        file: Arc::from(file),
        index,
    };
    normalise(&rec, origin).unwrap_or_else(|e| panic!("record skipped: {e:?}\n{json}"))
}

fn activity(json: &str) -> Activity {
    activity_from(json, "test.json", 0)
}

fn inventory(yaml: &str) -> Inventory {
    Inventory::from_texts(&[("inventory.yaml".to_string(), yaml.to_string())])
        .unwrap_or_else(|e| panic!("inventory does not load: {e}\n{yaml}"))
}

fn run(yaml: &str, json: &str) -> Evaluation {
    let inv = inventory(yaml);
    evaluate(&activity(json), &inv, &inv.settings, now())
}

/// The rule ids of an evaluation, sorted.
fn rule_ids(e: &Evaluation) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = e.hits.iter().map(|h| h.rule.as_str()).collect();
    v.sort_unstable();
    v
}

/// The single hit of an evaluation for `rule` (fails when there is not exactly one).
fn hit(e: &Evaluation, rule: RuleId) -> &Hit {
    let found: Vec<&Hit> = e.hits.iter().filter(|h| h.rule == rule).collect();
    assert_eq!(found.len(), 1, "expected one {rule} hit in {:#?}", e.hits);
    found[0]
}

fn ev<'a>(h: &'a Hit, key: &str) -> &'a str {
    h.evidence
        .get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no evidence '{key}' in {:#?}", h.evidence))
}

/// An IAM user with a long-term access key.
fn iam_user(name: &str) -> Value {
    json!({
        "type": "IAMUser",
        "principalId": "AIDAJ45Q7YFFAREXAMPLE",
        "arn": format!("arn:aws:iam::{ACCT}:user/{name}"),
        "accountId": ACCT,
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": name
    })
}

/// An assumed-role session of role `role` named `session`, with short-lived credentials.
fn assumed_role(role: &str, session: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLEID:{session}"),
        "arn": format!("arn:aws:sts::{ACCT}:assumed-role/{role}/{session}"),
        "accountId": ACCT,
        "accessKeyId": "ASIAEXAMPLEKEY123456",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEID",
                "arn": format!("arn:aws:iam::{ACCT}:role/{role}"),
                "accountId": ACCT,
                "userName": role
            },
            "webIdFederationData": {},
            "attributes": {
                "creationDate": "2024-06-01T11:00:00Z",
                "mfaAuthenticated": "false"
            }
        }
    })
}

fn root_user() -> Value {
    json!({
        "type": "Root",
        "principalId": ACCT,
        "arn": format!("arn:aws:iam::{ACCT}:root"),
        "accountId": ACCT,
        "accessKeyId": "ASIAROOTSESSION12345",
        "sessionContext": {
            "attributes": { "creationDate": "2024-06-01T11:58:00Z", "mfaAuthenticated": "true" }
        }
    })
}

/// A management-event record; `extra` keys are added or replace the defaults.
fn event(identity: Value, source: &str, name: &str, extra: Value) -> String {
    let mut e = json!({
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": EVENT_TIME,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "10.1.2.3",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64",
        "requestParameters": null,
        "responseElements": null,
        "requestID": "5c1a6f0e-0000-4000-8000-000000000001",
        "eventID": "0f6c4a4e-0000-4000-8000-000000000001",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCT,
        "eventCategory": "Management"
    });
    if let (Some(m), Value::Object(x)) = (e.as_object_mut(), extra) {
        for (k, v) in x {
            m.insert(k, v);
        }
    }
    e.to_string()
}

/// An S3 GetObject data event on `bucket/key` (request parameters only).
fn get_object(identity: Value, bucket: &str, key: &str, extra: Value) -> String {
    let mut x = json!({
        "requestParameters": { "bucketName": bucket, "key": key, "Host": format!("{bucket}.s3.eu-west-1.amazonaws.com") },
        "managementEvent": false,
        "eventCategory": "Data"
    });
    if let (Some(m), Value::Object(more)) = (x.as_object_mut(), extra) {
        for (k, v) in more {
            m.insert(k, v);
        }
    }
    event(identity, "s3.amazonaws.com", "GetObject", x)
}

fn alice_get(extra: Value) -> String {
    get_object(iam_user("alice"), "reports", "2024/q2.csv", extra)
}

/// A quiet record for alice: a human with an owner and nothing else.
const ALICE_OK: &str = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
";

// ---------------------------------------------------------------------------------------------
// unregistered-identity
// ---------------------------------------------------------------------------------------------

#[test]
fn unregistered_identity_fires_for_a_principal_without_record() {
    let e = run(
        "identities: []\n",
        &get_object(iam_user("bob"), "reports", "a.csv", json!({})),
    );
    assert!(!e.ignored);
    assert_eq!(rule_ids(&e), vec!["unregistered-identity"]);
    let h = hit(&e, RuleId::UnregisteredIdentity);
    assert_eq!(h.principal, BOB);
    assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
    assert_eq!(h.resource.as_deref(), Some("arn:aws:s3:::reports/a.csv"));
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.owner, None);
    assert_eq!(h.contact, None);
    assert_eq!(h.actor_class, ActorClass::Unknown);
    assert_eq!(h.account_id.as_deref(), Some(ACCT));
    assert_eq!(h.region.as_deref(), Some("eu-west-1"));
    assert_eq!(h.event_time, t(EVENT_TIME));
    assert_eq!(
        h.event_id.as_deref(),
        Some("0f6c4a4e-0000-4000-8000-000000000001")
    );
    assert_eq!(
        h.event_key,
        "111122223333:0f6c4a4e-0000-4000-8000-000000000001"
    );
    assert_eq!(h.suppressed_by, None);
    assert_eq!(
        ev(h, "why"),
        "arn:aws:iam::111122223333:user/bob has no governance record"
    );
    assert_eq!(ev(h, "source"), "test.json#0");
    assert_eq!(ev(h, "source_ip"), "10.1.2.3");
    assert_eq!(
        ev(h, "actor_class_evidence"),
        "no declared kind and no evidence"
    );
    assert!(!h.evidence.contains_key("outcome"));
    assert!(!h.evidence.contains_key("event_time"));
    assert_eq!(
        h.finding_id,
        finding_id(BOB, RuleId::UnregisteredIdentity, "")
    );
}

#[test]
fn unregistered_identity_does_not_fire_for_exact_or_pattern_records() {
    let exact = "
identities:
  - principal: arn:aws:iam::111122223333:user/bob
    kind: human
    owner: team-data
";
    let json = get_object(iam_user("bob"), "reports", "a.csv", json!({}));
    assert_eq!(rule_ids(&run(exact, &json)), Vec::<&str>::new());
    let pattern = "
identities:
  - principal: 'arn:aws:iam::*:user/*'
    kind: human
    owner: team-data
";
    assert_eq!(rule_ids(&run(pattern, &json)), Vec::<&str>::new());
}

#[test]
fn unregistered_identity_records_a_failed_call_outcome() {
    let e = run(
        "identities: []\n",
        &get_object(
            iam_user("bob"),
            "reports",
            "a.csv",
            json!({"errorCode": "AccessDenied", "errorMessage": "Access Denied"}),
        ),
    );
    assert_eq!(rule_ids(&e), vec!["unregistered-identity"]);
    assert_eq!(
        ev(hit(&e, RuleId::UnregisteredIdentity), "outcome"),
        "failed: AccessDenied"
    );
}

// ---------------------------------------------------------------------------------------------
// no-owner
// ---------------------------------------------------------------------------------------------

#[test]
fn no_owner_fires_when_owner_missing_or_blank() {
    for owner_line in ["", "    owner: '   '\n"] {
        let yaml = format!(
            "identities:\n  - principal: arn:aws:iam::111122223333:user/alice\n    kind: human\n    contact: '#data-oncall'\n{owner_line}"
        );
        let e = run(&yaml, &alice_get(json!({})));
        assert_eq!(rule_ids(&e), vec!["no-owner"], "owner line {owner_line:?}");
        let h = hit(&e, RuleId::NoOwner);
        assert_eq!(h.principal, ALICE);
        assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
        assert_eq!(
            h.resource.as_deref(),
            Some("arn:aws:s3:::reports/2024/q2.csv")
        );
        assert_eq!(h.severity, Severity::Medium);
        assert_eq!(h.owner, None);
        assert_eq!(h.contact.as_deref(), Some("#data-oncall"));
        assert_eq!(h.actor_class, ActorClass::Human);
        assert_eq!(
            ev(h, "why"),
            "governance record arn:aws:iam::111122223333:user/alice names no owner"
        );
        assert_eq!(
            ev(h, "actor_class_evidence"),
            "declared kind 'human' in governance record arn:aws:iam::111122223333:user/alice"
        );
        assert_eq!(h.finding_id, finding_id(ALICE, RuleId::NoOwner, ""));
    }
}

#[test]
fn no_owner_does_not_fire_with_an_owner() {
    let e = run(ALICE_OK, &alice_get(json!({})));
    assert!(!e.ignored);
    assert_eq!(rule_ids(&e), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------------
// retired-identity-active
// ---------------------------------------------------------------------------------------------

#[test]
fn retired_identity_active_fires_for_retired_and_suspended() {
    for status in ["retired", "suspended"] {
        let yaml = format!("{ALICE_OK}    status: {status}\n");
        let e = run(&yaml, &alice_get(json!({})));
        assert_eq!(rule_ids(&e), vec!["retired-identity-active"]);
        let h = hit(&e, RuleId::RetiredIdentityActive);
        assert_eq!(h.principal, ALICE);
        assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
        assert_eq!(h.severity, Severity::Critical);
        assert_eq!(h.owner.as_deref(), Some("team-data"));
        assert_eq!(ev(h, "record_status"), status);
        assert_eq!(
            ev(h, "why"),
            format!("the identity is {status} in its governance record but called s3:GetObject")
        );
    }
}

#[test]
fn retired_identity_active_does_not_fire_for_active() {
    let yaml = format!("{ALICE_OK}    status: active\n");
    assert_eq!(
        rule_ids(&run(&yaml, &alice_get(json!({})))),
        Vec::<&str>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// approval-expired
// ---------------------------------------------------------------------------------------------

#[test]
fn approval_expired_fires_after_the_expiry() {
    let yaml = format!("{ALICE_OK}    expires: 2024-05-31\n");
    let e = run(&yaml, &alice_get(json!({})));
    assert_eq!(rule_ids(&e), vec!["approval-expired"]);
    let h = hit(&e, RuleId::ApprovalExpired);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(ev(h, "expires"), "2024-05-31");
    assert_eq!(
        ev(h, "why"),
        "approval expired 2024-05-31; activity at 2024-06-01T12:00:00Z"
    );

    // An RFC 3339 expiry one second before the event.
    let yaml = format!("{ALICE_OK}    expires: '2024-06-01T11:59:59Z'\n");
    let e = run(&yaml, &alice_get(json!({})));
    assert_eq!(rule_ids(&e), vec!["approval-expired"]);
    assert_eq!(
        ev(hit(&e, RuleId::ApprovalExpired), "expires"),
        "2024-06-01T11:59:59Z"
    );
}

#[test]
fn approval_expired_does_not_fire_on_the_expiry_day() {
    // A date is valid through the end of that day (UTC); the event is at noon.
    let yaml = format!("{ALICE_OK}    expires: 2024-06-01\n");
    assert_eq!(
        rule_ids(&run(&yaml, &alice_get(json!({})))),
        Vec::<&str>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// review-overdue
// ---------------------------------------------------------------------------------------------

#[test]
fn review_overdue_fires_after_the_interval() {
    let yaml = format!(
        "{ALICE_OK}    review:\n      last_reviewed: 2024-01-01\n      interval_days: 90\n"
    );
    let e = run(&yaml, &alice_get(json!({})));
    assert_eq!(rule_ids(&e), vec!["review-overdue"]);
    let h = hit(&e, RuleId::ReviewOverdue);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.severity, Severity::Low);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(ev(h, "review_due"), "2024-03-31T23:59:59Z");
    assert_eq!(
        ev(h, "why"),
        "review was due 2024-03-31T23:59:59Z (last reviewed 2024-01-01, every 90 days)"
    );
}

#[test]
fn review_overdue_does_not_fire_within_the_interval() {
    let yaml = format!(
        "{ALICE_OK}    review:\n      last_reviewed: 2024-01-01\n      interval_days: 365\n"
    );
    assert_eq!(
        rule_ids(&run(&yaml, &alice_get(json!({})))),
        Vec::<&str>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// action-outside-purpose
// ---------------------------------------------------------------------------------------------

const ALICE_DENY: &str = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    purpose: read quarterly reports
    allow:
      - actions: ['s3:*']
        regions: [us-east-1]
    deny:
      - sid: no-deletes
        actions: ['S3:deleteobject']
      - actions: ['s3:PutObject']
        resources: ['arn:aws:s3:::reports/*']
";

#[test]
fn action_outside_purpose_deny_wins_over_allow() {
    // s3:* allows DeleteObject, and the region would miss the allow too: the deny alone
    // decides (case-insensitively), and scope rules are not evaluated.
    let json = event(
        iam_user("alice"),
        "s3.amazonaws.com",
        "DeleteObject",
        json!({"requestParameters": {"bucketName": "reports", "key": "old.csv"}, "readOnly": false}),
    );
    let e = run(ALICE_DENY, &json);
    assert_eq!(rule_ids(&e), vec!["action-outside-purpose"]);
    let h = hit(&e, RuleId::ActionOutsidePurpose);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.action.as_deref(), Some("s3:DeleteObject"));
    assert_eq!(h.resource.as_deref(), Some("arn:aws:s3:::reports/old.csv"));
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(
        ev(h, "why"),
        "s3:DeleteObject is denied by deny 'no-deletes' of the governance record"
    );
    assert_eq!(ev(h, "purpose"), "read quarterly reports");
    assert_eq!(
        h.finding_id,
        finding_id(ALICE, RuleId::ActionOutsidePurpose, "s3:DeleteObject")
    );

    // A deny with resources: applies on a matching resource (label without sid)...
    let put = |bucket: &str| {
        event(
            iam_user("alice"),
            "s3.amazonaws.com",
            "PutObject",
            json!({"requestParameters": {"bucketName": bucket, "key": "x.csv"}, "awsRegion": "us-east-1"}),
        )
    };
    let e = run(ALICE_DENY, &put("reports"));
    assert_eq!(rule_ids(&e), vec!["action-outside-purpose"]);
    assert_eq!(
        ev(hit(&e, RuleId::ActionOutsidePurpose), "why"),
        "s3:PutObject is denied by deny[1] of the governance record"
    );
    // ...and not on another resource, where s3:* allows it.
    assert_eq!(
        rule_ids(&run(ALICE_DENY, &put("scratch"))),
        Vec::<&str>::new()
    );
}

#[test]
fn action_outside_purpose_fires_when_no_allow_covers_the_action() {
    let yaml = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    purpose: read quarterly reports
    allow:
      - actions: ['s3:GetObject', 's3:List*']
";
    let json = event(
        iam_user("alice"),
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"readOnly": false}),
    );
    let e = run(yaml, &json);
    assert_eq!(rule_ids(&e), vec!["action-outside-purpose"]);
    let h = hit(&e, RuleId::ActionOutsidePurpose);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.action.as_deref(), Some("ec2:RunInstances"));
    assert_eq!(h.resource, None);
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(
        ev(h, "why"),
        "ec2:RunInstances is not covered by any allow statement (purpose: read quarterly reports)"
    );
    assert_eq!(ev(h, "purpose"), "read quarterly reports");

    // Without a purpose.
    let no_purpose = yaml.replace("    purpose: read quarterly reports\n", "");
    let e = run(&no_purpose, &json);
    assert_eq!(rule_ids(&e), vec!["action-outside-purpose"]);
    let h = hit(&e, RuleId::ActionOutsidePurpose);
    assert_eq!(
        ev(h, "why"),
        "ec2:RunInstances is not covered by any allow statement (purpose: not stated)"
    );
    assert_eq!(ev(h, "purpose"), "");

    // Covered actions (exact and wildcard) do not fire.
    assert_eq!(
        rule_ids(&run(yaml, &alice_get(json!({})))),
        Vec::<&str>::new()
    );
    let list = event(
        iam_user("alice"),
        "s3.amazonaws.com",
        "ListObjectsV2",
        json!({}),
    );
    assert_eq!(rule_ids(&run(yaml, &list)), Vec::<&str>::new());
}

#[test]
fn action_outside_purpose_does_not_fire_without_allow_statements() {
    // No allow list: the record does not constrain actions.
    let json = event(
        iam_user("alice"),
        "ec2.amazonaws.com",
        "RunInstances",
        json!({}),
    );
    assert_eq!(rule_ids(&run(ALICE_OK, &json)), Vec::<&str>::new());
}

#[test]
fn action_outside_purpose_deny_respects_its_region_condition() {
    // Statement docs: "Every list that is present constrains; absent means any."
    let yaml = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    deny:
      - actions: ['s3:*']
        regions: ['us-east-1']
";
    // Denied in us-east-1...
    let e = run(yaml, &alice_get(json!({"awsRegion": "us-east-1"})));
    assert_eq!(rule_ids(&e), vec!["action-outside-purpose"]);
    // ...but not in eu-west-1, which the deny does not name.
    let e = run(yaml, &alice_get(json!({})));
    assert_eq!(rule_ids(&e), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------------
// resource-outside-scope
// ---------------------------------------------------------------------------------------------

const ALICE_RESOURCES: &str = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    allow:
      - sid: reports
        actions: ['s3:GetObject']
        resources: ['arn:aws:s3:::reports/*']
";

#[test]
fn resource_outside_scope_fires_outside_the_allowed_resources() {
    let json = get_object(iam_user("alice"), "payroll", "salaries.csv", json!({}));
    let e = run(ALICE_RESOURCES, &json);
    assert_eq!(rule_ids(&e), vec!["resource-outside-scope"]);
    let h = hit(&e, RuleId::ResourceOutsideScope);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
    assert_eq!(
        h.resource.as_deref(),
        Some("arn:aws:s3:::payroll/salaries.csv")
    );
    assert_eq!(h.severity, Severity::Medium);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(ev(h, "allowed_resources"), "arn:aws:s3:::reports/*");
    assert_eq!(ev(h, "statement"), "allow 'reports'");
    assert_eq!(
        ev(h, "why"),
        "s3:GetObject on arn:aws:s3:::payroll/salaries.csv, outside the resources of allow 'reports'"
    );
    assert_eq!(
        h.finding_id,
        finding_id(
            ALICE,
            RuleId::ResourceOutsideScope,
            "s3:GetObject|arn:aws:s3:::payroll/salaries.csv"
        )
    );
}

#[test]
fn resource_outside_scope_does_not_fire_inside_the_allowed_resources() {
    assert_eq!(
        rule_ids(&run(ALICE_RESOURCES, &alice_get(json!({})))),
        Vec::<&str>::new()
    );
}

#[test]
fn resource_outside_scope_uses_the_best_matching_allow_statement() {
    // Two statements cover GetObject; the second one is fully satisfied: no finding.
    let yaml = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    allow:
      - actions: ['s3:GetObject']
        resources: ['arn:aws:s3:::reports/*']
      - actions: ['s3:*']
        resources: ['arn:aws:s3:::shared/*']
";
    let json = get_object(iam_user("alice"), "shared", "a.csv", json!({}));
    assert_eq!(rule_ids(&run(yaml, &json)), Vec::<&str>::new());
}

#[test]
fn resource_outside_scope_accepts_real_s3_data_event_resources() {
    // CloudTrail S3 data events list the object and its bucket in `resources`.
    let json = get_object(
        iam_user("alice"),
        "reports",
        "2024/q2.csv",
        json!({"resources": [
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::reports/2024/q2.csv"},
            {"accountId": ACCT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::reports"}
        ]}),
    );
    assert_eq!(rule_ids(&run(ALICE_RESOURCES, &json)), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------------
// region-outside-scope
// ---------------------------------------------------------------------------------------------

const ALICE_REGIONS: &str = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    allow:
      - actions: ['s3:*', 'iam:Get*']
        regions: ['eu-*']
";

#[test]
fn region_outside_scope_fires_outside_the_allowed_regions() {
    let json = alice_get(json!({"awsRegion": "us-east-1"}));
    let e = run(ALICE_REGIONS, &json);
    assert_eq!(rule_ids(&e), vec!["region-outside-scope"]);
    let h = hit(&e, RuleId::RegionOutsideScope);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
    assert_eq!(
        h.resource.as_deref(),
        Some("arn:aws:s3:::reports/2024/q2.csv")
    );
    assert_eq!(h.region.as_deref(), Some("us-east-1"));
    assert_eq!(h.severity, Severity::Medium);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(ev(h, "allowed_regions"), "eu-*");
    assert_eq!(ev(h, "statement"), "allow[0]");
    assert_eq!(
        ev(h, "why"),
        "s3:GetObject in region us-east-1, outside the regions of allow[0]"
    );
    assert_eq!(
        h.finding_id,
        finding_id(ALICE, RuleId::RegionOutsideScope, "us-east-1")
    );
}

#[test]
fn region_outside_scope_does_not_fire_inside_the_allowed_regions() {
    assert_eq!(
        rule_ids(&run(ALICE_REGIONS, &alice_get(json!({})))),
        Vec::<&str>::new()
    );
}

#[test]
fn region_outside_scope_exempts_global_services() {
    // IAM is global: CloudTrail records it in us-east-1 whatever the caller chose.
    let json = event(
        iam_user("alice"),
        "iam.amazonaws.com",
        "GetUser",
        json!({"awsRegion": "us-east-1", "requestParameters": {"userName": "alice"}}),
    );
    let e = run(ALICE_REGIONS, &json);
    assert_eq!(rule_ids(&e), Vec::<&str>::new());
    // The same region on a regional service does fire (the scope is live).
    let e = run(ALICE_REGIONS, &alice_get(json!({"awsRegion": "us-east-1"})));
    assert_eq!(rule_ids(&e), vec!["region-outside-scope"]);
}

#[test]
fn severity_overrides_apply_to_hits() {
    let yaml = format!(
        "settings:\n  severity_overrides:\n    region-outside-scope: low\n    unregistered-identity: critical\n{ALICE_REGIONS}"
    );
    let e = run(&yaml, &alice_get(json!({"awsRegion": "us-east-1"})));
    assert_eq!(rule_ids(&e), vec!["region-outside-scope"]);
    assert_eq!(hit(&e, RuleId::RegionOutsideScope).severity, Severity::Low);
    let e = run(
        &yaml,
        &get_object(iam_user("bob"), "reports", "a.csv", json!({})),
    );
    assert_eq!(rule_ids(&e), vec!["unregistered-identity"]);
    assert_eq!(
        hit(&e, RuleId::UnregisteredIdentity).severity,
        Severity::Critical
    );
    // Without an override the default applies.
    let e = run(ALICE_REGIONS, &alice_get(json!({"awsRegion": "us-east-1"})));
    assert_eq!(
        hit(&e, RuleId::RegionOutsideScope).severity,
        Severity::Medium
    );
}

// ---------------------------------------------------------------------------------------------
// source-outside-scope
// ---------------------------------------------------------------------------------------------

#[test]
fn source_outside_scope_by_cidr() {
    let yaml = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    allow:
      - sid: office
        actions: ['s3:*']
        source_cidrs: ['10.0.0.0/8', '192.0.2.7']
";
    let e = run(yaml, &alice_get(json!({"sourceIPAddress": "203.0.113.5"})));
    assert_eq!(rule_ids(&e), vec!["source-outside-scope"]);
    let h = hit(&e, RuleId::SourceOutsideScope);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(ev(h, "source_ip"), "203.0.113.5");
    assert_eq!(ev(h, "allowed_source_cidrs"), "10.0.0.0/8, 192.0.2.7/32");
    assert_eq!(ev(h, "allowed_vpc_endpoints"), "");
    assert_eq!(ev(h, "allowed_via_services"), "");
    assert_eq!(ev(h, "statement"), "allow 'office'");
    assert_eq!(
        ev(h, "why"),
        "s3:GetObject from 203.0.113.5, outside the networks, VPC endpoints and services of allow 'office'"
    );
    assert_eq!(
        h.finding_id,
        finding_id(ALICE, RuleId::SourceOutsideScope, "203.0.113.5")
    );

    for inside in ["10.200.3.4", "192.0.2.7"] {
        let e = run(yaml, &alice_get(json!({"sourceIPAddress": inside})));
        assert_eq!(rule_ids(&e), Vec::<&str>::new(), "{inside}");
    }
}

#[test]
fn source_outside_scope_by_vpc_endpoint() {
    let yaml = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    allow:
      - actions: ['s3:*']
        vpc_endpoints: ['vpce-0a1b*']
";
    let e = run(
        yaml,
        &alice_get(json!({"vpcEndpointId": "vpce-0a1b2c3d4e5f", "vpcEndpointAccountId": ACCT})),
    );
    assert_eq!(rule_ids(&e), Vec::<&str>::new());

    let e = run(
        yaml,
        &alice_get(json!({"vpcEndpointId": "vpce-ffff0000", "vpcEndpointAccountId": ACCT})),
    );
    assert_eq!(rule_ids(&e), vec!["source-outside-scope"]);
    let h = hit(&e, RuleId::SourceOutsideScope);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.severity, Severity::High);
    assert_eq!(ev(h, "allowed_vpc_endpoints"), "vpce-0a1b*");
    assert_eq!(ev(h, "allowed_source_cidrs"), "");
    assert_eq!(
        ev(h, "why"),
        "s3:GetObject from vpce-ffff0000, outside the networks, VPC endpoints and services of allow[0]"
    );
    assert_eq!(
        h.finding_id,
        finding_id(ALICE, RuleId::SourceOutsideScope, "vpce-ffff0000")
    );

    // No endpoint at all (public endpoint from 10.1.2.3) is outside too.
    let e = run(yaml, &alice_get(json!({})));
    assert_eq!(rule_ids(&e), vec!["source-outside-scope"]);
}

#[test]
fn source_outside_scope_by_calling_service() {
    let yaml = "
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
    allow:
      - actions: ['s3:*']
        via_services: ['cloudformation.amazonaws.com']
";
    let mut via_cfn = iam_user("alice");
    via_cfn["invokedBy"] = json!("cloudformation.amazonaws.com");
    let json = get_object(
        via_cfn,
        "reports",
        "a.csv",
        json!({"sourceIPAddress": "cloudformation.amazonaws.com"}),
    );
    assert_eq!(rule_ids(&run(yaml, &json)), Vec::<&str>::new());

    // A service host as sourceIPAddress (no invokedBy) counts as that service.
    let json = alice_get(json!({"sourceIPAddress": "cloudformation.amazonaws.com"}));
    assert_eq!(rule_ids(&run(yaml, &json)), Vec::<&str>::new());

    // Another service.
    let mut via_athena = iam_user("alice");
    via_athena["invokedBy"] = json!("athena.amazonaws.com");
    let json = get_object(
        via_athena,
        "reports",
        "a.csv",
        json!({"sourceIPAddress": "athena.amazonaws.com"}),
    );
    let e = run(yaml, &json);
    assert_eq!(rule_ids(&e), vec!["source-outside-scope"]);
    let h = hit(&e, RuleId::SourceOutsideScope);
    assert_eq!(
        ev(h, "allowed_via_services"),
        "cloudformation.amazonaws.com"
    );
    assert_eq!(
        h.finding_id,
        finding_id(ALICE, RuleId::SourceOutsideScope, "athena.amazonaws.com")
    );

    // A direct call from an address.
    let e = run(yaml, &alice_get(json!({})));
    assert_eq!(rule_ids(&e), vec!["source-outside-scope"]);
    assert_eq!(
        hit(&e, RuleId::SourceOutsideScope).finding_id,
        finding_id(ALICE, RuleId::SourceOutsideScope, "10.1.2.3")
    );
}

// ---------------------------------------------------------------------------------------------
// environment-crossing
// ---------------------------------------------------------------------------------------------

fn env_yaml(environments: &str) -> String {
    format!(
        "settings:\n  accounts:\n    '111122223333': prod\n    '444455556666': dev\nidentities:\n  - principal: arn:aws:iam::111122223333:user/alice\n    kind: human\n    owner: team-data\n    environments: {environments}\n"
    )
}

#[test]
fn environment_crossing_fires_outside_the_environments() {
    let e = run(&env_yaml("[dev]"), &alice_get(json!({})));
    assert_eq!(rule_ids(&e), vec!["environment-crossing"]);
    let h = hit(&e, RuleId::EnvironmentCrossing);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
    assert_eq!(h.account_id.as_deref(), Some(ACCT));
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(ev(h, "environment"), "prod");
    assert_eq!(
        ev(h, "why"),
        "acted in account 111122223333 (prod) outside its environments [dev]"
    );
    assert_eq!(
        h.finding_id,
        finding_id(ALICE, RuleId::EnvironmentCrossing, ACCT)
    );

    // An account no environment maps.
    let e = run(
        &env_yaml("[prod]"),
        &alice_get(json!({"recipientAccountId": "999988887777"})),
    );
    assert_eq!(rule_ids(&e), vec!["environment-crossing"]);
    let h = hit(&e, RuleId::EnvironmentCrossing);
    assert_eq!(ev(h, "environment"), "unmapped");
    assert_eq!(
        ev(h, "why"),
        "acted in account 999988887777 (no environment mapped) outside its environments [prod]"
    );
}

#[test]
fn environment_crossing_does_not_fire_inside_the_environments() {
    for envs in ["[prod]", "['111122223333']", "[dev, prod]"] {
        let e = run(&env_yaml(envs), &alice_get(json!({})));
        assert_eq!(rule_ids(&e), Vec::<&str>::new(), "{envs}");
    }
}

// ---------------------------------------------------------------------------------------------
// human-use-of-workload
// ---------------------------------------------------------------------------------------------

const DEPLOYER_WORKLOAD: &str = "
identities:
  - principal: arn:aws:iam::111122223333:role/deployer
    kind: workload
    owner: team-platform
    contact: platform@example.com
";

fn console_login(identity: Value) -> String {
    event(
        identity,
        "signin.amazonaws.com",
        "ConsoleLogin",
        json!({
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.20",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
            "readOnly": false,
            "eventType": "AwsConsoleSignIn"
        }),
    )
}

#[test]
fn human_use_of_workload_fires_for_console_sign_in() {
    // A console sign-in of an assumed role carries no session issuer.
    let identity = json!({
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEID:ci",
        "arn": "arn:aws:sts::111122223333:assumed-role/deployer/ci",
        "accountId": ACCT
    });
    let e = run(DEPLOYER_WORKLOAD, &console_login(identity));
    assert_eq!(rule_ids(&e), vec!["human-use-of-workload"]);
    let h = hit(&e, RuleId::HumanUseOfWorkload);
    assert_eq!(h.principal, DEPLOYER);
    assert_eq!(h.action.as_deref(), Some("signin:ConsoleLogin"));
    assert_eq!(h.resource, None);
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.owner.as_deref(), Some("team-platform"));
    assert_eq!(h.contact.as_deref(), Some("platform@example.com"));
    assert_eq!(h.actor_class, ActorClass::Workload);
    assert_eq!(ev(h, "why"), "console sign-in on a workload identity");
    assert_eq!(ev(h, "session_name"), "ci");
    assert_eq!(
        h.finding_id,
        finding_id(DEPLOYER, RuleId::HumanUseOfWorkload, "signin:ConsoleLogin")
    );
}

#[test]
fn human_use_of_workload_fires_for_console_session_and_federation_token() {
    let json = get_object(
        assumed_role("deployer", "ci"),
        "reports",
        "a.csv",
        json!({"sessionCredentialFromConsole": "true"}),
    );
    let e = run(DEPLOYER_WORKLOAD, &json);
    assert_eq!(rule_ids(&e), vec!["human-use-of-workload"]);
    assert_eq!(
        ev(hit(&e, RuleId::HumanUseOfWorkload), "why"),
        "acted with console session credentials on a workload identity"
    );

    let json = event(
        assumed_role("deployer", "ci"),
        "sts.amazonaws.com",
        "GetFederationToken",
        json!({"requestParameters": {"name": "console", "durationSeconds": 3600}}),
    );
    let e = run(DEPLOYER_WORKLOAD, &json);
    assert_eq!(rule_ids(&e), vec!["human-use-of-workload"]);
    assert_eq!(
        ev(hit(&e, RuleId::HumanUseOfWorkload), "why"),
        "requested a federation token (console/federated use) on a workload identity"
    );
}

#[test]
fn human_use_of_workload_does_not_fire_for_humans_or_api_calls() {
    let human = DEPLOYER_WORKLOAD.replace("kind: workload", "kind: human");
    let identity = json!({
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEID:ci",
        "arn": "arn:aws:sts::111122223333:assumed-role/deployer/ci",
        "accountId": ACCT
    });
    assert_eq!(
        rule_ids(&run(&human, &console_login(identity))),
        Vec::<&str>::new()
    );
    let api = get_object(
        assumed_role("deployer", "ci"),
        "reports",
        "a.csv",
        json!({}),
    );
    assert_eq!(rule_ids(&run(DEPLOYER_WORKLOAD, &api)), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------------
// privilege-change-by-nhi
// ---------------------------------------------------------------------------------------------

fn attach_role_policy(identity: Value) -> String {
    event(
        identity,
        "iam.amazonaws.com",
        "AttachRolePolicy",
        json!({
            "awsRegion": "us-east-1",
            "requestParameters": {
                "roleName": "app",
                "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"
            },
            "readOnly": false
        }),
    )
}

#[test]
fn privilege_change_by_nhi_fires_for_a_workload() {
    let e = run(
        DEPLOYER_WORKLOAD,
        &attach_role_policy(assumed_role("deployer", "ci")),
    );
    assert_eq!(rule_ids(&e), vec!["privilege-change-by-nhi"]);
    let h = hit(&e, RuleId::PrivilegeChangeByNhi);
    assert_eq!(h.principal, DEPLOYER);
    assert_eq!(h.action.as_deref(), Some("iam:AttachRolePolicy"));
    assert_eq!(
        h.resource.as_deref(),
        Some("arn:aws:iam::111122223333:role/app")
    );
    assert_eq!(h.severity, Severity::Critical);
    assert_eq!(h.owner.as_deref(), Some("team-platform"));
    assert_eq!(h.actor_class, ActorClass::Workload);
    assert_eq!(
        ev(h, "why"),
        "workload identity called iam:AttachRolePolicy without an allow statement naming it explicitly"
    );
    assert_eq!(
        h.finding_id,
        finding_id(
            DEPLOYER,
            RuleId::PrivilegeChangeByNhi,
            "iam:AttachRolePolicy|arn:aws:iam::111122223333:role/app"
        )
    );

    // A wildcard allow covers the action (no action-outside-purpose) but is not explicit.
    let wildcard = format!("{DEPLOYER_WORKLOAD}    allow:\n      - actions: ['iam:*']\n");
    let e = run(
        &wildcard,
        &attach_role_policy(assumed_role("deployer", "ci")),
    );
    assert_eq!(rule_ids(&e), vec!["privilege-change-by-nhi"]);
}

#[test]
fn privilege_change_by_nhi_does_not_fire_when_allowed_explicitly_or_for_humans() {
    for action in ["iam:AttachRolePolicy", "IAM:attachrolepolicy"] {
        let yaml = format!(
            "{DEPLOYER_WORKLOAD}    allow:\n      - actions: ['iam:*']\n      - actions: ['{action}']\n        resources: ['arn:aws:iam::111122223333:role/app']\n"
        );
        let e = run(&yaml, &attach_role_policy(assumed_role("deployer", "ci")));
        assert_eq!(rule_ids(&e), Vec::<&str>::new(), "{action}");
    }
    let human = DEPLOYER_WORKLOAD.replace("kind: workload", "kind: human");
    let e = run(&human, &attach_role_policy(assumed_role("deployer", "ci")));
    assert_eq!(rule_ids(&e), Vec::<&str>::new());
}

#[test]
fn privilege_change_by_nhi_uses_record_evidence_without_a_record() {
    // An EC2 instance-profile session (session name is the instance id): a workload.
    let e = run(
        "identities: []\n",
        &attach_role_policy(assumed_role("app-instance", "i-0abc1234def567890")),
    );
    assert_eq!(
        rule_ids(&e),
        vec!["privilege-change-by-nhi", "unregistered-identity"]
    );
    let h = hit(&e, RuleId::PrivilegeChangeByNhi);
    assert_eq!(h.principal, "arn:aws:iam::111122223333:role/app-instance");
    assert_eq!(h.actor_class, ActorClass::Workload);
    assert_eq!(h.owner, None);
    assert_eq!(
        ev(h, "actor_class_evidence"),
        "session name i-0abc1234def567890 is an EC2 instance id"
    );
}

// ---------------------------------------------------------------------------------------------
// root-activity
// ---------------------------------------------------------------------------------------------

#[test]
fn root_activity_fires_for_the_root_user() {
    let json = event(
        root_user(),
        "ec2.amazonaws.com",
        "DescribeInstances",
        json!({"awsRegion": "eu-central-1", "sourceIPAddress": "198.51.100.9"}),
    );
    // No record: root is reported as root, not as unregistered.
    let e = run("identities: []\n", &json);
    assert_eq!(rule_ids(&e), vec!["root-activity"]);
    let h = hit(&e, RuleId::RootActivity);
    assert_eq!(h.principal, ROOT);
    assert_eq!(h.action.as_deref(), Some("ec2:DescribeInstances"));
    assert_eq!(h.resource, None);
    assert_eq!(h.severity, Severity::Critical);
    assert_eq!(h.owner, None);
    assert_eq!(h.actor_class, ActorClass::Human);
    assert_eq!(ev(h, "mfa_authenticated"), "true");
    assert_eq!(
        ev(h, "why"),
        "the root user of account 111122223333 called ec2:DescribeInstances"
    );
    assert_eq!(
        h.finding_id,
        finding_id(ROOT, RuleId::RootActivity, "ec2:DescribeInstances")
    );

    // With a record, the owner is reported and the record's rules apply too.
    let yaml = "
identities:
  - principal: arn:aws:iam::111122223333:root
    kind: human
    owner: cloud-governance
";
    let e = run(yaml, &json);
    assert_eq!(rule_ids(&e), vec!["root-activity"]);
    assert_eq!(
        hit(&e, RuleId::RootActivity).owner.as_deref(),
        Some("cloud-governance")
    );
}

#[test]
fn root_activity_does_not_fire_for_other_identities() {
    let json = event(
        iam_user("alice"),
        "ec2.amazonaws.com",
        "DescribeInstances",
        json!({}),
    );
    assert_eq!(rule_ids(&run(ALICE_OK, &json)), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------------
// long-term-key
// ---------------------------------------------------------------------------------------------

#[test]
fn long_term_key_fires_for_an_akia_key_when_short_lived_only() {
    let yaml = format!("{ALICE_OK}    credentials:\n      short_lived_only: true\n");
    let e = run(&yaml, &alice_get(json!({})));
    assert_eq!(rule_ids(&e), vec!["long-term-key"]);
    let h = hit(&e, RuleId::LongTermKey);
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
    assert_eq!(h.severity, Severity::Medium);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(ev(h, "access_key_id"), "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(
        ev(h, "why"),
        "long-term access key AKIAIOSFODNN7EXAMPLE used; the record requires short-lived credentials"
    );
    assert_eq!(
        h.finding_id,
        finding_id(ALICE, RuleId::LongTermKey, "AKIAIOSFODNN7EXAMPLE")
    );
}

#[test]
fn long_term_key_does_not_fire_for_session_keys_or_without_the_policy() {
    let yaml = format!("{ALICE_OK}    credentials:\n      short_lived_only: true\n");
    let mut session = iam_user("alice");
    session["accessKeyId"] = json!("ASIAEXAMPLEKEY123456");
    let json = get_object(session, "reports", "a.csv", json!({}));
    assert_eq!(rule_ids(&run(&yaml, &json)), Vec::<&str>::new());

    let relaxed = format!("{ALICE_OK}    credentials:\n      short_lived_only: false\n");
    assert_eq!(
        rule_ids(&run(&relaxed, &alice_get(json!({})))),
        Vec::<&str>::new()
    );
    assert_eq!(
        rule_ids(&run(ALICE_OK, &alice_get(json!({})))),
        Vec::<&str>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// agent-without-delegation
// ---------------------------------------------------------------------------------------------

const AGENT_RECORD: &str = "
identities:
  - principal: arn:aws:iam::111122223333:role/report-agent
    kind: agent
    owner: team-ai
";

#[test]
fn agent_without_delegation_fires_without_source_identity() {
    let json = get_object(
        assumed_role("report-agent", "run-42"),
        "reports",
        "a.csv",
        json!({}),
    );
    let e = run(AGENT_RECORD, &json);
    assert_eq!(rule_ids(&e), vec!["agent-without-delegation"]);
    let h = hit(&e, RuleId::AgentWithoutDelegation);
    assert_eq!(h.principal, AGENT);
    assert_eq!(h.action.as_deref(), Some("s3:GetObject"));
    assert_eq!(h.resource.as_deref(), Some("arn:aws:s3:::reports/a.csv"));
    assert_eq!(h.severity, Severity::Medium);
    assert_eq!(h.owner.as_deref(), Some("team-ai"));
    assert_eq!(h.actor_class, ActorClass::Agent);
    assert_eq!(
        ev(h, "why"),
        "an AI agent acted with neither sourceIdentity nor onBehalfOf naming the person it acts for"
    );
    assert_eq!(ev(h, "session_name"), "run-42");
    assert_eq!(
        h.finding_id,
        finding_id(AGENT, RuleId::AgentWithoutDelegation, "")
    );
}

#[test]
fn agent_without_delegation_does_not_fire_with_source_identity_or_on_behalf_of() {
    let mut with_source = assumed_role("report-agent", "run-42");
    with_source["sessionContext"]["sourceIdentity"] = json!("alice@example.com");
    let json = get_object(with_source, "reports", "a.csv", json!({}));
    assert_eq!(rule_ids(&run(AGENT_RECORD, &json)), Vec::<&str>::new());

    let mut on_behalf = assumed_role("report-agent", "run-43");
    on_behalf["onBehalfOf"] = json!({
        "userId": "94482488-3041-7026-18f3-be45837cd0e4",
        "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-1234567890"
    });
    let json = get_object(on_behalf, "reports", "a.csv", json!({}));
    assert_eq!(rule_ids(&run(AGENT_RECORD, &json)), Vec::<&str>::new());

    // A workload is not an agent.
    let workload = AGENT_RECORD.replace("kind: agent", "kind: workload");
    let json = get_object(
        assumed_role("report-agent", "run-42"),
        "reports",
        "a.csv",
        json!({}),
    );
    assert_eq!(rule_ids(&run(&workload, &json)), Vec::<&str>::new());
}

#[test]
fn agent_without_delegation_uses_user_agent_evidence_without_a_record() {
    let json = get_object(
        assumed_role("report-agent", "run-42"),
        "reports",
        "a.csv",
        json!({"userAgent": "Boto3/1.34.0 md/Botocore#1.34.0 langchain/0.2.1"}),
    );
    let e = run("identities: []\n", &json);
    assert_eq!(
        rule_ids(&e),
        vec!["agent-without-delegation", "unregistered-identity"]
    );
    let h = hit(&e, RuleId::AgentWithoutDelegation);
    assert_eq!(h.actor_class, ActorClass::Agent);
    assert_eq!(
        ev(h, "actor_class_evidence"),
        "user agent contains the agent framework marker 'langchain'"
    );
}

// ---------------------------------------------------------------------------------------------
// ungoverned-identity-created
// ---------------------------------------------------------------------------------------------

fn create_user(extra: Value) -> String {
    let mut x = json!({
        "awsRegion": "us-east-1",
        "requestParameters": {"userName": "svc-export"},
        "responseElements": {"user": {
            "path": "/",
            "userName": "svc-export",
            "userId": "AIDAEXAMPLEUSERID0001",
            "arn": "arn:aws:iam::111122223333:user/svc-export",
            "createDate": "Jun 1, 2024, 12:00:00 PM"
        }},
        "readOnly": false
    });
    if let (Some(m), Value::Object(more)) = (x.as_object_mut(), extra) {
        for (k, v) in more {
            m.insert(k, v);
        }
    }
    event(iam_user("alice"), "iam.amazonaws.com", "CreateUser", x)
}

#[test]
fn ungoverned_identity_created_fires_for_a_user_without_record() {
    let e = run(ALICE_OK, &create_user(json!({})));
    assert_eq!(rule_ids(&e), vec!["ungoverned-identity-created"]);
    let h = hit(&e, RuleId::UngovernedIdentityCreated);
    let created = "arn:aws:iam::111122223333:user/svc-export";
    assert_eq!(h.principal, ALICE);
    assert_eq!(h.action.as_deref(), Some("iam:CreateUser"));
    assert_eq!(h.resource.as_deref(), Some(created));
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.owner.as_deref(), Some("team-data"));
    assert_eq!(ev(h, "created_principal"), created);
    assert_eq!(
        ev(h, "why"),
        "iam:CreateUser for arn:aws:iam::111122223333:user/svc-export, which has no governance record"
    );
    assert_eq!(
        h.finding_id,
        finding_id(ALICE, RuleId::UngovernedIdentityCreated, created)
    );

    // A role with a path, named from the request when the response carries no ARN.
    let json = event(
        iam_user("alice"),
        "iam.amazonaws.com",
        "CreateRole",
        json!({"requestParameters": {"roleName": "etl", "path": "/batch/", "assumeRolePolicyDocument": "{}"}}),
    );
    let e = run(ALICE_OK, &json);
    assert_eq!(rule_ids(&e), vec!["ungoverned-identity-created"]);
    assert_eq!(
        ev(
            hit(&e, RuleId::UngovernedIdentityCreated),
            "created_principal"
        ),
        "arn:aws:iam::111122223333:role/batch/etl"
    );
}

#[test]
fn ungoverned_identity_created_does_not_fire_when_the_created_principal_has_a_record() {
    let yaml = format!(
        "{ALICE_OK}  - principal: 'arn:aws:iam::111122223333:user/svc-*'\n    kind: workload\n    owner: team-data\n"
    );
    assert_eq!(
        rule_ids(&run(&yaml, &create_user(json!({})))),
        Vec::<&str>::new()
    );
    // A key for the caller itself: the caller has a record.
    let json = event(
        iam_user("alice"),
        "iam.amazonaws.com",
        "CreateAccessKey",
        json!({"responseElements": {"accessKey": {"accessKeyId": "AKIANEWKEYEXAMPLE123", "status": "Active", "userName": "alice"}}}),
    );
    assert_eq!(rule_ids(&run(ALICE_OK, &json)), Vec::<&str>::new());
}

#[test]
fn ungoverned_identity_created_does_not_fire_when_the_call_failed() {
    let json = create_user(json!({
        "errorCode": "AccessDenied",
        "errorMessage": "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:CreateUser",
        "responseElements": null
    }));
    assert_eq!(rule_ids(&run(ALICE_OK, &json)), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------------
// stale-record (events): a governed identity was deleted
// ---------------------------------------------------------------------------------------------

/// alice deletes IAM user `name` (no path in the request, as CloudTrail logs it).
fn delete_user(name: &str) -> String {
    event(
        iam_user("alice"),
        "iam.amazonaws.com",
        "DeleteUser",
        json!({"awsRegion": "us-east-1", "requestParameters": {"userName": name}, "readOnly": false}),
    )
}

/// alice's record and one for bob (with an IAM path, a contact and `status`).
fn with_bob(status: &str) -> String {
    format!(
        "{ALICE_OK}  - principal: arn:aws:iam::111122223333:user/ops/bob\n    kind: workload\n    owner: team-ops\n    contact: ops@example.com\n    status: {status}\n"
    )
}

#[test]
fn stale_record_fires_when_a_governed_identity_is_deleted() {
    let e = run(&with_bob("active"), &delete_user("bob"));
    assert_eq!(rule_ids(&e), vec!["stale-record"]);
    let h = hit(&e, RuleId::StaleRecord);
    let record = "arn:aws:iam::111122223333:user/ops/bob";
    // The record's principal and the whole-record subject: the finding the sweep raises.
    assert_eq!(h.principal, record);
    assert_eq!(h.finding_id, finding_id(record, RuleId::StaleRecord, ""));
    assert_eq!(h.severity, Severity::Medium);
    assert_eq!(h.owner.as_deref(), Some("team-ops"));
    assert_eq!(h.contact.as_deref(), Some("ops@example.com"));
    assert_eq!(h.actor_class, ActorClass::Workload);
    assert_eq!(h.action.as_deref(), Some("iam:DeleteUser"));
    assert_eq!(h.resource.as_deref(), Some(BOB));
    assert_eq!(h.account_id.as_deref(), Some(ACCT));
    assert_eq!(h.event_time, t(EVENT_TIME));
    assert_eq!(
        h.event_key,
        "111122223333:0f6c4a4e-0000-4000-8000-000000000001"
    );
    assert_eq!(
        ev(h, "why"),
        "arn:aws:iam::111122223333:user/bob was deleted by arn:aws:iam::111122223333:user/alice (iam:DeleteUser): retire its governance record"
    );
    assert_eq!(ev(h, "deleted_by"), ALICE);
    assert_eq!(ev(h, "record"), record);
    assert_eq!(ev(h, "record_status"), "active");
    assert_eq!(
        ev(h, "actor_class_evidence"),
        "declared kind 'workload' in governance record arn:aws:iam::111122223333:user/ops/bob"
    );
    assert_eq!(h.suppressed_by, None);

    // A suspended record is live too; so is a deleted role's.
    let e = run(&with_bob("suspended"), &delete_user("bob"));
    assert_eq!(
        ev(hit(&e, RuleId::StaleRecord), "record_status"),
        "suspended"
    );
    let yaml = format!("{ALICE_OK}{DEPLOYER_WORKLOAD_ENTRY}");
    let json = event(
        iam_user("alice"),
        "iam.amazonaws.com",
        "DeleteRole",
        json!({"requestParameters": {"roleName": "deployer"}, "readOnly": false}),
    );
    let e = run(&yaml, &json);
    assert_eq!(rule_ids(&e), vec!["stale-record"]);
    assert_eq!(hit(&e, RuleId::StaleRecord).principal, DEPLOYER);
}

const DEPLOYER_WORKLOAD_ENTRY: &str =
    "  - principal: arn:aws:iam::111122223333:role/deployer\n    kind: workload\n    owner: team-ops\n";

#[test]
fn stale_record_does_not_fire_without_a_live_exact_record_or_a_deletion() {
    // No record for the deleted user.
    assert_eq!(
        rule_ids(&run(ALICE_OK, &delete_user("bob"))),
        Vec::<&str>::new()
    );
    // A retired record: already retired.
    assert_eq!(
        rule_ids(&run(&with_bob("retired"), &delete_user("bob"))),
        Vec::<&str>::new()
    );
    // A pattern record governs many identities: one deletion does not make it stale.
    let pattern = format!(
        "{ALICE_OK}  - principal: 'arn:aws:iam::111122223333:user/b*'\n    kind: workload\n    owner: team-ops\n"
    );
    assert_eq!(
        rule_ids(&run(&pattern, &delete_user("bob"))),
        Vec::<&str>::new()
    );
    // A failed deletion deleted nothing.
    let failed = event(
        iam_user("alice"),
        "iam.amazonaws.com",
        "DeleteUser",
        json!({"requestParameters": {"userName": "bob"}, "errorCode": "DeleteConflict", "readOnly": false}),
    );
    assert_eq!(
        rule_ids(&run(&with_bob("active"), &failed)),
        Vec::<&str>::new()
    );
    // Deleting a key is not deleting the identity.
    let key = event(
        iam_user("alice"),
        "iam.amazonaws.com",
        "DeleteAccessKey",
        json!({"requestParameters": {"userName": "bob", "accessKeyId": "AKIAOLDKEYEXAMPLE123"}, "readOnly": false}),
    );
    assert_eq!(
        rule_ids(&run(&with_bob("active"), &key)),
        Vec::<&str>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// Every rule id is covered
// ---------------------------------------------------------------------------------------------

#[test]
fn every_rule_id_has_a_firing_case() {
    let no_owner =
        "identities:\n  - principal: arn:aws:iam::111122223333:user/alice\n    kind: human\n";
    let cases: Vec<(String, String)> = vec![
        ("identities: []\n".into(), get_object(iam_user("bob"), "r", "k", json!({}))),
        (no_owner.into(), alice_get(json!({}))),
        (format!("{ALICE_OK}    status: retired\n"), alice_get(json!({}))),
        (format!("{ALICE_OK}    expires: 2024-01-01\n"), alice_get(json!({}))),
        (
            format!("{ALICE_OK}    review:\n      last_reviewed: 2023-01-01\n      interval_days: 30\n"),
            alice_get(json!({})),
        ),
        (ALICE_DENY.into(), event(iam_user("alice"), "s3.amazonaws.com", "DeleteObject", json!({}))),
        (ALICE_RESOURCES.into(), get_object(iam_user("alice"), "x", "y", json!({}))),
        (ALICE_REGIONS.into(), alice_get(json!({"awsRegion": "us-east-1"}))),
        (
            format!("{ALICE_OK}    allow:\n      - actions: ['*']\n        source_cidrs: ['10.9.0.0/16']\n"),
            alice_get(json!({})),
        ),
        (env_yaml("[dev]"), alice_get(json!({}))),
        (DEPLOYER_WORKLOAD.into(), console_login(assumed_role("deployer", "ci"))),
        (DEPLOYER_WORKLOAD.into(), attach_role_policy(assumed_role("deployer", "ci"))),
        ("identities: []\n".into(), event(root_user(), "ec2.amazonaws.com", "DescribeInstances", json!({}))),
        (
            format!("{ALICE_OK}    credentials:\n      short_lived_only: true\n"),
            alice_get(json!({})),
        ),
        (AGENT_RECORD.into(), get_object(assumed_role("report-agent", "r"), "r", "k", json!({}))),
        (ALICE_OK.into(), create_user(json!({}))),
        (with_bob("active"), delete_user("bob")),
    ];
    let mut fired = BTreeSet::new();
    for (i, (yaml, json)) in cases.iter().enumerate() {
        let e = run(yaml, json);
        assert_eq!(e.hits.len(), 1, "case {i}: {:?}", rule_ids(&e));
        assert!(fired.insert(e.hits[0].rule), "case {i} repeats a rule");
    }
    // The event rules; the sweep's own rules are covered by tests/sweep.rs.
    let all: BTreeSet<RuleId> = RuleId::ALL
        .iter()
        .copied()
        .filter(|r| r.source().contains("events"))
        .collect();
    assert_eq!(all.len(), 17);
    assert_eq!(fired, all);
}

// ---------------------------------------------------------------------------------------------
// Exceptions
// ---------------------------------------------------------------------------------------------

fn with_exception(rules: &str, expires: &str) -> String {
    format!(
        "{ALICE_REGIONS}    exceptions:\n      - rules: {rules}\n        reason: DR failover test\n        approver: ciso@example.com\n        ticket: SEC-42\n        expires: {expires}\n"
    )
}

#[test]
fn a_valid_exception_suppresses_the_matching_hit() {
    let e = run(
        &with_exception("[region-outside-scope]", "2099-12-31"),
        &alice_get(json!({"awsRegion": "us-east-1"})),
    );
    assert_eq!(rule_ids(&e), vec!["region-outside-scope"]);
    let h = hit(&e, RuleId::RegionOutsideScope);
    assert_eq!(
        h.suppressed_by,
        Some(Suppression {
            reason: "DR failover test".to_string(),
            approver: "ciso@example.com".to_string(),
            ticket: Some("SEC-42".to_string()),
            expires: "2099-12-31".to_string(),
        })
    );
    assert!(!h.evidence.contains_key("expired_exception"));
    // The exception is judged at the event time: valid through the end of its day.
    let e = run(
        &with_exception("[]", "2024-06-01"),
        &alice_get(json!({"awsRegion": "us-east-1"})),
    );
    assert!(hit(&e, RuleId::RegionOutsideScope).suppressed_by.is_some());
}

#[test]
fn an_expired_exception_does_not_suppress_and_is_named_in_evidence() {
    let e = run(
        &with_exception("[region-outside-scope]", "2024-05-01"),
        &alice_get(json!({"awsRegion": "us-east-1"})),
    );
    assert_eq!(rule_ids(&e), vec!["region-outside-scope"]);
    let h = hit(&e, RuleId::RegionOutsideScope);
    assert_eq!(h.suppressed_by, None);
    assert_eq!(
        ev(h, "expired_exception"),
        "exception 'DR failover test' approved by ciso@example.com expired 2024-05-01 (ticket SEC-42)"
    );
}

#[test]
fn an_exception_for_another_rule_or_action_does_not_apply() {
    let e = run(
        &with_exception("[resource-outside-scope]", "2099-12-31"),
        &alice_get(json!({"awsRegion": "us-east-1"})),
    );
    let h = hit(&e, RuleId::RegionOutsideScope);
    assert_eq!(h.suppressed_by, None);
    assert!(!h.evidence.contains_key("expired_exception"));

    let yaml = format!(
        "{ALICE_REGIONS}    exceptions:\n      - actions: ['s3:PutObject']\n        reason: r\n        approver: a\n        expires: 2099-12-31\n"
    );
    let e = run(&yaml, &alice_get(json!({"awsRegion": "us-east-1"})));
    assert_eq!(hit(&e, RuleId::RegionOutsideScope).suppressed_by, None);

    // A resource-scoped exception matching the object does apply.
    let yaml = format!(
        "{ALICE_REGIONS}    exceptions:\n      - actions: ['s3:Get*']\n        resources: ['arn:aws:s3:::reports/*']\n        reason: r\n        approver: a\n        expires: 2099-12-31\n"
    );
    let e = run(&yaml, &alice_get(json!({"awsRegion": "us-east-1"})));
    assert_eq!(
        hit(&e, RuleId::RegionOutsideScope).suppressed_by,
        Some(Suppression {
            reason: "r".to_string(),
            approver: "a".to_string(),
            ticket: None,
            expires: "2099-12-31".to_string(),
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Ignored principals, event time, finding ids
// ---------------------------------------------------------------------------------------------

#[test]
fn an_ignored_principal_is_not_evaluated() {
    let yaml = "
settings:
  ignore_principals: ['arn:aws:iam::111122223333:role/scanner-*']
identities: []
";
    let e = run(
        yaml,
        &get_object(
            assumed_role("scanner-prod", "scan"),
            "reports",
            "a.csv",
            json!({}),
        ),
    );
    assert!(e.ignored);
    assert_eq!(e.hits, Vec::new());

    // A principal the pattern does not match is evaluated.
    let e = run(
        yaml,
        &get_object(
            assumed_role("scanner", "scan"),
            "reports",
            "a.csv",
            json!({}),
        ),
    );
    assert!(!e.ignored);
    assert_eq!(rule_ids(&e), vec!["unregistered-identity"]);
}

#[test]
fn aws_service_principals_are_ignored_by_default() {
    let json = event(
        json!({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}),
        "s3.amazonaws.com",
        "GetBucketAcl",
        json!({"sourceIPAddress": "cloudtrail.amazonaws.com", "userAgent": "cloudtrail.amazonaws.com"}),
    );
    let act = activity(&json);
    assert_eq!(act.principal, "service:cloudtrail.amazonaws.com");
    let e = run("identities: []\n", &json);
    assert!(e.ignored);
    assert_eq!(e.hits, Vec::new());
}

#[test]
fn a_missing_event_time_falls_back_to_now_and_says_so() {
    let e = run("identities: []\n", &alice_get(json!({"eventTime": null})));
    let h = hit(&e, RuleId::UnregisteredIdentity);
    assert_eq!(h.event_time, now());
    assert_eq!(
        ev(h, "event_time"),
        "missing or invalid in the record; evaluation time used"
    );
}

#[test]
fn finding_ids_are_deterministic() {
    let inv = inventory(ALICE_REGIONS);
    let json = alice_get(json!({"awsRegion": "us-east-1"}));
    let a = evaluate(&activity(&json), &inv, &inv.settings, now());
    let b = evaluate(&activity(&json), &inv, &inv.settings, now());
    assert_eq!(a.hits, b.hits);
    let id = &hit(&a, RuleId::RegionOutsideScope).finding_id;
    assert_eq!(id.len(), 32);
    assert!(id
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));

    // Another event (other id, time, file) on the same subject: same finding, another event key.
    let other = alice_get(json!({
        "awsRegion": "us-east-1",
        "eventID": "0f6c4a4e-0000-4000-8000-000000000002",
        "eventTime": "2024-06-02T08:00:00Z"
    }));
    let c = evaluate(
        &activity_from(&other, "other.json.gz", 7),
        &inv,
        &inv.settings,
        now(),
    );
    let hc = hit(&c, RuleId::RegionOutsideScope);
    assert_eq!(&hc.finding_id, id);
    assert_ne!(hc.event_key, hit(&a, RuleId::RegionOutsideScope).event_key);
    assert_eq!(ev(hc, "source"), "other.json.gz#7");

    // Another subject (region) or another principal: another finding.
    let d = evaluate(
        &activity(&alice_get(json!({"awsRegion": "ap-south-1"}))),
        &inv,
        &inv.settings,
        now(),
    );
    assert_ne!(&hit(&d, RuleId::RegionOutsideScope).finding_id, id);
    let bob_yaml = ALICE_REGIONS.replace("user/alice", "user/bob");
    let bob_inv = inventory(&bob_yaml);
    let e = evaluate(
        &activity(&get_object(
            iam_user("bob"),
            "reports",
            "2024/q2.csv",
            json!({"awsRegion": "us-east-1"}),
        )),
        &bob_inv,
        &bob_inv.settings,
        now(),
    );
    let he = hit(&e, RuleId::RegionOutsideScope);
    assert_eq!(he.principal, BOB);
    assert_ne!(&he.finding_id, id);
    assert_eq!(
        he.finding_id,
        finding_id(BOB, RuleId::RegionOutsideScope, "us-east-1")
    );
    // Another rule on the same principal and subject: another finding.
    assert_ne!(
        finding_id(ALICE, RuleId::RegionOutsideScope, "us-east-1"),
        finding_id(ALICE, RuleId::SourceOutsideScope, "us-east-1")
    );
}
