//! IAM lifecycle from CloudTrail: parsing the nine kinds of event from records in CloudTrail's
//! real shape, the order-independent fold, the merge into the sweep's snapshot, both
//! `LifecycleStore`s, and the `Pipeline` recording changes beside its findings.
#![allow(clippy::panic)]

use chrono::{DateTime, Utc};
use govtrail_core::credential_report::LastUsed;
use govtrail_core::finding::finding_id;
use govtrail_core::lifecycle::{
    identity_key, merge_into, users_changed_since, KnownIdentity, KnownKey,
};
use govtrail_core::sweep::{AccessKey, IamIdentity, IdentityType, Snapshot};
use govtrail_core::{
    normalise, Activity, FindingFilter, FindingStore, Inventory, KnownState, LifecycleChange,
    LifecycleEvent, LifecycleStore, MemoryStore, Origin, Pipeline, RawRecord, RuleId, SqliteStore,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const ACCT: &str = "111122223333";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const CAROL: &str = "arn:aws:iam::111122223333:user/carol";
const EVENT_TIME: &str = "2024-06-01T12:00:00Z";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
}

fn activity(json: &str) -> Activity {
    let rec: RawRecord =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad record JSON: {e}\n{json}"));
    let origin = Origin {
        file: Arc::from("test.json"),
        index: 0,
    };
    normalise(&rec, origin).unwrap_or_else(|e| panic!("record skipped: {e:?}\n{json}"))
}

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
            "attributes": { "creationDate": "2024-06-01T11:00:00Z", "mfaAuthenticated": "false" }
        }
    })
}

/// An IAM management event by `identity`, with event id `id`.
fn iam_event(identity: Value, name: &str, id: &str, request: Value, response: Value) -> String {
    json!({
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": EVENT_TIME,
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.1.2.3",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64",
        "requestParameters": request,
        "responseElements": response,
        "requestID": "5c1a6f0e-0000-4000-8000-000000000001",
        "eventID": id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCT,
        "eventCategory": "Management"
    })
    .to_string()
}

/// The lifecycle event alice's call `name` carries.
fn parsed(name: &str, request: Value, response: Value) -> Option<LifecycleEvent> {
    activity(&iam_event(
        iam_user("alice"),
        name,
        "e-1",
        request,
        response,
    ))
    .lifecycle
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

#[test]
fn identity_creation_and_deletion_are_parsed() {
    assert_eq!(
        parsed(
            "CreateUser",
            json!({"userName": "svc-export", "path": "/batch/", "tags": [{"key": "team", "value": "data"}]}),
            json!({"user": {"path": "/batch/", "userName": "svc-export", "userId": "AIDAEXAMPLEUSERID0001",
                "arn": "arn:aws:iam::111122223333:user/batch/svc-export", "createDate": "Jun 1, 2024 12:00:00 PM"}}),
        ),
        Some(LifecycleEvent::IdentityCreated {
            principal: "arn:aws:iam::111122223333:user/batch/svc-export".into()
        })
    );
    // Without the response's ARN, the role is named from the request (with its path).
    assert_eq!(
        parsed(
            "CreateRole",
            json!({"roleName": "etl", "path": "/batch/", "assumeRolePolicyDocument": "{}"}),
            Value::Null,
        ),
        Some(LifecycleEvent::IdentityCreated {
            principal: "arn:aws:iam::111122223333:role/batch/etl".into()
        })
    );
    assert_eq!(
        parsed("DeleteUser", json!({"userName": "bob"}), Value::Null),
        Some(LifecycleEvent::IdentityDeleted {
            principal: BOB.into()
        })
    );
    assert_eq!(
        parsed("DeleteRole", json!({"roleName": "etl"}), Value::Null),
        Some(LifecycleEvent::IdentityDeleted {
            principal: "arn:aws:iam::111122223333:role/etl".into()
        })
    );
}

#[test]
fn access_key_events_are_parsed() {
    assert_eq!(
        parsed(
            "CreateAccessKey",
            json!({"userName": "bob"}),
            json!({"accessKey": {"accessKeyId": "AKIANEWKEYEXAMPLE001", "createDate": "Jun 1, 2024 12:00:00 PM",
                "status": "Active", "userName": "bob"}}),
        ),
        Some(LifecycleEvent::KeyCreated {
            principal: BOB.into(),
            key_id: "AKIANEWKEYEXAMPLE001".into(),
            active: true
        })
    );
    assert_eq!(
        parsed(
            "UpdateAccessKey",
            json!({"userName": "bob", "accessKeyId": "AKIANEWKEYEXAMPLE001", "status": "Inactive"}),
            Value::Null,
        ),
        Some(LifecycleEvent::KeyStatus {
            principal: BOB.into(),
            key_id: "AKIANEWKEYEXAMPLE001".into(),
            active: false
        })
    );
    assert_eq!(
        parsed(
            "DeleteAccessKey",
            json!({"userName": "bob", "accessKeyId": "AKIANEWKEYEXAMPLE001"}),
            Value::Null,
        ),
        Some(LifecycleEvent::KeyDeleted {
            principal: BOB.into(),
            key_id: "AKIANEWKEYEXAMPLE001".into()
        })
    );
    // Without a userName the key is the caller's own (an IAM user, with its ARN).
    assert_eq!(
        parsed(
            "UpdateAccessKey",
            json!({"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "status": "Active"}),
            Value::Null,
        ),
        Some(LifecycleEvent::KeyStatus {
            principal: ALICE.into(),
            key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            active: true
        })
    );
    // A role session names no user: the response says whose key it created.
    let json = iam_event(
        assumed_role("admin", "ops"),
        "CreateAccessKey",
        "e-2",
        json!({}),
        json!({"accessKey": {"accessKeyId": "AKIANEWKEYEXAMPLE002", "status": "Active", "userName": "carol"}}),
    );
    assert_eq!(
        activity(&json).lifecycle,
        Some(LifecycleEvent::KeyCreated {
            principal: CAROL.into(),
            key_id: "AKIANEWKEYEXAMPLE002".into(),
            active: true
        })
    );
}

#[test]
fn tag_events_are_parsed() {
    assert_eq!(
        parsed(
            "TagUser",
            json!({"userName": "bob", "tags": [{"key": "owner", "value": "team-ops"}, {"key": "cost-centre", "value": ""}]}),
            Value::Null,
        ),
        Some(LifecycleEvent::Tagged {
            principal: BOB.into(),
            tags: tags(&[("cost-centre", ""), ("owner", "team-ops")])
        })
    );
    assert_eq!(
        parsed(
            "TagRole",
            json!({"roleName": "etl", "tags": [{"key": "env", "value": "prod"}]}),
            Value::Null,
        ),
        Some(LifecycleEvent::Tagged {
            principal: "arn:aws:iam::111122223333:role/etl".into(),
            tags: tags(&[("env", "prod")])
        })
    );
    assert_eq!(
        parsed(
            "UntagUser",
            json!({"userName": "bob", "tagKeys": ["owner", "cost-centre"]}),
            Value::Null
        ),
        Some(LifecycleEvent::Untagged {
            principal: BOB.into(),
            keys: vec!["owner".into(), "cost-centre".into()]
        })
    );
    assert_eq!(
        parsed(
            "UntagRole",
            json!({"roleName": "etl", "tagKeys": ["env"]}),
            Value::Null
        ),
        Some(LifecycleEvent::Untagged {
            principal: "arn:aws:iam::111122223333:role/etl".into(),
            keys: vec!["env".into()]
        })
    );
}

#[test]
fn incomplete_failed_or_other_calls_carry_no_lifecycle_event() {
    let none: Vec<(&str, Value, Value)> = vec![
        ("DeleteUser", json!({}), Value::Null),
        (
            "DeleteRole",
            json!({"roleName": {"name": "etl"}, "x": [1]}),
            Value::Null,
        ),
        ("CreateAccessKey", json!({"userName": "bob"}), Value::Null),
        (
            "CreateAccessKey",
            json!({"userName": "bob"}),
            json!({"accessKey": {"status": "Active"}}),
        ),
        (
            "UpdateAccessKey",
            json!({"userName": "bob", "accessKeyId": "AKIANEWKEYEXAMPLE001"}),
            Value::Null,
        ),
        (
            "UpdateAccessKey",
            json!({"userName": "bob", "accessKeyId": "AKIANEWKEYEXAMPLE001", "status": "Paused"}),
            Value::Null,
        ),
        ("DeleteAccessKey", json!({"userName": "bob"}), Value::Null),
        (
            "TagUser",
            json!({"userName": "bob", "tags": []}),
            Value::Null,
        ),
        (
            "TagUser",
            json!({"userName": "bob", "tags": "owner=x"}),
            Value::Null,
        ),
        (
            "TagRole",
            json!({"tags": [{"key": "env", "value": "prod"}]}),
            Value::Null,
        ),
        ("UntagUser", json!({"userName": "bob"}), Value::Null),
        (
            "AttachUserPolicy",
            json!({"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            Value::Null,
        ),
        (
            "CreateUser",
            Value::String("not an object".into()),
            Value::Null,
        ),
    ];
    for (name, request, response) in none {
        assert_eq!(
            parsed(name, request.clone(), response.clone()),
            None,
            "{name} {request} {response}"
        );
    }
    let mut failed: Value = serde_json::from_str(&iam_event(
        iam_user("alice"),
        "DeleteUser",
        "e-3",
        json!({"userName": "bob"}),
        Value::Null,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    failed["errorCode"] = json!("AccessDenied");
    assert_eq!(activity(&failed.to_string()).lifecycle, None);
}

#[test]
fn a_change_carries_the_event_time_and_dedup_key_and_serialises_tagged() {
    let act = activity(&iam_event(
        iam_user("alice"),
        "DeleteAccessKey",
        "e-9",
        json!({"userName": "bob", "accessKeyId": "AKIAOLDKEYEXAMPLE001"}),
        Value::Null,
    ));
    let c = LifecycleChange::from_activity(&act).unwrap_or_else(|| panic!("no change"));
    assert_eq!(c.at, t(EVENT_TIME));
    assert_eq!(c.event_key, "111122223333:e-9");
    assert_eq!(
        serde_json::to_value(&c).unwrap_or_else(|e| panic!("{e}")),
        json!({
            "event": {"kind": "key_deleted", "principal": BOB, "key_id": "AKIAOLDKEYEXAMPLE001"},
            "at": "2024-06-01T12:00:00Z",
            "event_key": "111122223333:e-9"
        })
    );
    let back: LifecycleChange =
        serde_json::from_value(serde_json::to_value(&c).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, c);
    // Activities serialise the event only when there is one.
    let v = serde_json::to_value(&act).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["lifecycle"]["kind"], json!("key_deleted"));
    let other = activity(&iam_event(
        iam_user("alice"),
        "ListUsers",
        "e-10",
        json!({}),
        Value::Null,
    ));
    let v = serde_json::to_value(&other).unwrap_or_else(|e| panic!("{e}"));
    assert!(v.get("lifecycle").is_none());
    assert!(LifecycleChange::from_activity(&other).is_none());
}

// ---------------------------------------------------------------------------------------------
// The fold
// ---------------------------------------------------------------------------------------------

fn change(event: LifecycleEvent, at: &str, key: &str) -> LifecycleChange {
    LifecycleChange {
        event,
        at: t(at),
        event_key: format!("{ACCT}:{key}"),
    }
}

fn key_created(principal: &str, id: &str, at: &str, ev: &str) -> LifecycleChange {
    change(
        LifecycleEvent::KeyCreated {
            principal: principal.into(),
            key_id: id.into(),
            active: true,
        },
        at,
        ev,
    )
}

fn key_status(principal: &str, id: &str, active: bool, at: &str, ev: &str) -> LifecycleChange {
    change(
        LifecycleEvent::KeyStatus {
            principal: principal.into(),
            key_id: id.into(),
            active,
        },
        at,
        ev,
    )
}

fn key_deleted(principal: &str, id: &str, at: &str, ev: &str) -> LifecycleChange {
    change(
        LifecycleEvent::KeyDeleted {
            principal: principal.into(),
            key_id: id.into(),
        },
        at,
        ev,
    )
}

/// A history of bob's (spelled with and without his path) in event order.
fn history() -> Vec<LifecycleChange> {
    let bob_path = "arn:aws:iam::111122223333:user/ops/bob";
    vec![
        change(
            LifecycleEvent::IdentityCreated {
                principal: bob_path.into(),
            },
            "2024-06-01T10:00:00Z",
            "e1",
        ),
        key_created(BOB, "AKIAKEY1", "2024-06-01T10:01:00Z", "e2"),
        change(
            LifecycleEvent::Tagged {
                principal: BOB.into(),
                tags: tags(&[("owner", "team-ops"), ("env", "dev")]),
            },
            "2024-06-01T10:02:00Z",
            "e3",
        ),
        key_status(BOB, "AKIAKEY1", false, "2024-06-01T11:00:00Z", "e4"),
        // Two status changes in the same second: the event key decides, whatever the order.
        key_status(BOB, "AKIAKEY1", true, "2024-06-01T11:00:00Z", "e5"),
        change(
            LifecycleEvent::Untagged {
                principal: BOB.into(),
                keys: vec!["env".into()],
            },
            "2024-06-01T11:30:00Z",
            "e6",
        ),
        key_created(BOB, "AKIAKEY2", "2024-06-01T12:00:00Z", "e7"),
        key_deleted(BOB, "AKIAKEY1", "2024-06-01T12:30:00Z", "e8"),
        change(
            LifecycleEvent::IdentityDeleted {
                principal: BOB.into(),
            },
            "2024-06-01T13:00:00Z",
            "e9",
        ),
    ]
}

#[test]
fn the_fold_keeps_the_newest_value_of_every_field() {
    let state = KnownState::fold(&history());
    assert_eq!(state.identities.len(), 1);
    let bob = state.get(BOB).unwrap_or_else(|| panic!("no bob"));
    assert_eq!(
        state.get("arn:aws:iam::111122223333:user/other/BOB"),
        Some(bob)
    );
    assert_eq!(identity_key(BOB), "111122223333:user/bob");
    // The spelling with the path is kept.
    assert_eq!(bob.principal, "arn:aws:iam::111122223333:user/ops/bob");
    assert_eq!(bob.created_at, Some(t("2024-06-01T10:00:00Z")));
    assert_eq!(bob.deleted_at, Some(t("2024-06-01T13:00:00Z")));
    assert!(!bob.exists());
    assert_eq!(bob.keys.len(), 2);
    let k1 = &bob.keys["AKIAKEY1"];
    assert_eq!(k1.created_at, Some(t("2024-06-01T10:01:00Z")));
    assert_eq!(k1.active, Some(true));
    assert_eq!(k1.status_at(), Some(t("2024-06-01T11:00:00Z")));
    assert_eq!(
        k1.status.as_ref().map(|s| s.event_key.as_str()),
        Some("111122223333:e5")
    );
    assert_eq!(k1.deleted_at, Some(t("2024-06-01T12:30:00Z")));
    assert_eq!(k1.changed_at(), Some(t("2024-06-01T12:30:00Z")));
    let k2: &KnownKey = &bob.keys["AKIAKEY2"];
    assert_eq!(k2.created_at, Some(t("2024-06-01T12:00:00Z")));
    assert_eq!(k2.active, Some(true));
    assert_eq!(k2.deleted_at, None);
    assert_eq!(
        bob.tag_values().into_iter().collect::<Vec<_>>(),
        vec![("owner", "team-ops")]
    );
    assert_eq!(bob.tags["env"].value, None);
    assert_eq!(bob.tags["env"].stamp.at, t("2024-06-01T11:30:00Z"));
}

#[test]
fn the_fold_is_order_independent_and_idempotent() {
    let in_order = KnownState::fold(&history());
    let mut reversed = history();
    reversed.reverse();
    assert_eq!(KnownState::fold(&reversed), in_order);
    // Delivered twice, interleaved and shuffled.
    let h = history();
    let mut shuffled: Vec<LifecycleChange> = Vec::new();
    for i in [4, 8, 0, 6, 2, 4, 1, 7, 3, 5, 0, 8, 2] {
        shuffled.push(h[i].clone());
    }
    assert_eq!(KnownState::fold(&shuffled), in_order);
    let mut twice = in_order.clone();
    for c in &h {
        twice.apply(c);
    }
    assert_eq!(twice, in_order);
}

#[test]
fn an_identity_created_again_after_its_deletion_exists() {
    let mut h = history();
    h.push(change(
        LifecycleEvent::IdentityCreated {
            principal: BOB.into(),
        },
        "2024-06-02T09:00:00Z",
        "e10",
    ));
    let state = KnownState::fold(&h);
    let bob: &KnownIdentity = state.get(BOB).unwrap_or_else(|| panic!("no bob"));
    assert_eq!(bob.created_at, Some(t("2024-06-02T09:00:00Z")));
    assert!(bob.exists());
    // Key events alone do not say the identity was ever deleted.
    let only_keys =
        KnownState::fold(&[key_created(CAROL, "AKIAKEY9", "2024-06-01T10:00:00Z", "x")]);
    assert!(only_keys.get(CAROL).is_some_and(KnownIdentity::exists));
}

// ---------------------------------------------------------------------------------------------
// The merge into the sweep's snapshot
// ---------------------------------------------------------------------------------------------

fn listed_key(id: &str, active: bool) -> AccessKey {
    AccessKey {
        id: id.into(),
        active,
        created: Some(t("2024-01-01T00:00:00Z")),
        last_used: LastUsed::At(t("2024-05-31T00:00:00Z")),
        last_used_service: Some("s3".into()),
        last_used_region: Some("eu-west-1".into()),
    }
}

fn user(principal: &str, name: &str, keys: Vec<AccessKey>) -> IamIdentity {
    IamIdentity {
        principal: principal.into(),
        identity_type: IdentityType::User,
        name: name.into(),
        path: "/".into(),
        id: None,
        created: Some(t("2024-01-01T00:00:00Z")),
        tags: BTreeMap::new(),
        password_enabled: Some(false),
        password_last_used: LastUsed::Never,
        mfa_active: Some(false),
        role_last_used: LastUsed::Unknown,
        keys,
        keys_listed: false,
    }
}

const REPORT: &str = "2024-06-01T08:00:00Z";
const LISTED: &str = "2024-06-01T12:00:00Z";

fn snapshot() -> Snapshot {
    Snapshot {
        account_id: ACCT.into(),
        report_generated_at: Some(t(REPORT)),
        identities: vec![
            // bob is listed with a path; the events spell him without one.
            user(
                "arn:aws:iam::111122223333:user/ops/bob",
                "bob",
                vec![
                    listed_key("AKIAOLD1", true),
                    listed_key("AKIAOLD2", true),
                    listed_key("AKIAOLD3", true),
                ],
            ),
            user(ALICE, "alice", vec![listed_key("AKIAALICE1", true)]),
        ],
    }
}

fn lifecycle_state() -> KnownState {
    KnownState::fold(&[
        // After the report: a new key, a deactivation, a deletion.
        key_created(BOB, "AKIANEW1", "2024-06-01T09:00:00Z", "n1"),
        key_status(BOB, "AKIAOLD1", false, "2024-06-01T09:30:00Z", "n2"),
        key_deleted(BOB, "AKIAOLD2", "2024-06-01T10:00:00Z", "n3"),
        // Before the report: already in it, ignored.
        key_status(BOB, "AKIAOLD3", false, "2024-06-01T07:00:00Z", "o1"),
        key_created(BOB, "AKIAGONE", "2024-06-01T07:00:00Z", "o2"),
        key_status(ALICE, "AKIAALICE1", false, "2024-06-01T07:59:59Z", "o3"),
        // After the listing: for the next sweep.
        key_created(ALICE, "AKIALATE", "2024-06-01T12:00:01Z", "l1"),
        // An identity the listing does not have is not added.
        key_created(CAROL, "AKIACAROL", "2024-06-01T09:00:00Z", "c1"),
        change(
            LifecycleEvent::IdentityDeleted {
                principal: ALICE.into(),
            },
            "2024-06-01T11:00:00Z",
            "d1",
        ),
    ])
}

#[test]
fn the_merge_applies_key_changes_newer_than_the_credential_report() {
    let mut snap = snapshot();
    merge_into(&mut snap, &lifecycle_state(), t(LISTED));
    let bob = &snap.identities[0];
    assert_eq!(
        bob.keys,
        vec![
            AccessKey {
                active: false,
                ..listed_key("AKIAOLD1", true)
            },
            listed_key("AKIAOLD3", true),
            AccessKey {
                id: "AKIANEW1".into(),
                active: true,
                created: Some(t("2024-06-01T09:00:00Z")),
                last_used: LastUsed::Never,
                last_used_service: None,
                last_used_region: None,
            },
        ]
    );
    // alice: nothing after the report and up to the listing touches her keys; the listing,
    // not her deletion event, says she exists.
    assert_eq!(
        snap.identities[1],
        user(ALICE, "alice", vec![listed_key("AKIAALICE1", true)])
    );
    assert_eq!(snap.identities.len(), 2);
}

#[test]
fn without_a_credential_report_every_change_up_to_the_listing_applies() {
    let mut snap = snapshot();
    snap.report_generated_at = None;
    merge_into(&mut snap, &lifecycle_state(), t(LISTED));
    let ids: Vec<(&str, bool)> = snap.identities[0]
        .keys
        .iter()
        .map(|k| (k.id.as_str(), k.active))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("AKIAOLD1", false),
            ("AKIAOLD3", false),
            ("AKIAGONE", true),
            ("AKIANEW1", true),
        ]
    );
    let alice: Vec<(&str, bool)> = snap.identities[1]
        .keys
        .iter()
        .map(|k| (k.id.as_str(), k.active))
        .collect();
    assert_eq!(alice, vec![("AKIAALICE1", false)]);
    // Merging twice changes nothing more.
    let once = snap.clone();
    merge_into(&mut snap, &lifecycle_state(), t(LISTED));
    assert_eq!(snap, once);
}

#[test]
fn users_with_key_changes_since_a_time_are_listed() {
    let state = lifecycle_state();
    assert_eq!(
        users_changed_since(&state, Some(t(REPORT))),
        vec![ALICE.to_string(), BOB.to_string(), CAROL.to_string()]
    );
    assert_eq!(
        users_changed_since(&state, Some(t("2024-06-01T09:59:59Z"))),
        vec![ALICE.to_string(), BOB.to_string()]
    );
    assert_eq!(
        users_changed_since(&state, Some(t("2024-06-01T12:00:01Z"))),
        Vec::<String>::new()
    );
    assert_eq!(users_changed_since(&state, None).len(), 3);
    // Roles and identities with no key change are not users to re-list.
    let roles = KnownState::fold(&[change(
        LifecycleEvent::IdentityCreated {
            principal: "arn:aws:iam::111122223333:role/etl".into(),
        },
        "2024-06-01T09:00:00Z",
        "r1",
    )]);
    assert_eq!(users_changed_since(&roles, None), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// The stores
// ---------------------------------------------------------------------------------------------

fn store_contract(store: &mut dyn LifecycleStore) {
    let h = history();
    assert_eq!(
        store.record_changes(&h).unwrap_or_else(|e| panic!("{e}")),
        9
    );
    assert_eq!(
        store.record_changes(&h).unwrap_or_else(|e| panic!("{e}")),
        0
    );
    // A batch of old and new: only the new counts.
    let more = vec![
        h[0].clone(),
        key_created(CAROL, "AKIAKEY9", "2024-06-01T10:00:00Z", "c1"),
    ];
    assert_eq!(
        store
            .record_changes(&more)
            .unwrap_or_else(|e| panic!("{e}")),
        1
    );
    assert_eq!(
        store.record_changes(&[]).unwrap_or_else(|e| panic!("{e}")),
        0
    );

    let all = store.changes_since(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 10);
    // Time, then principal, then event key.
    let order: Vec<&str> = all.iter().map(|c| c.event_key.as_str()).collect();
    assert_eq!(
        order,
        vec![
            "111122223333:c1",
            "111122223333:e1",
            "111122223333:e2",
            "111122223333:e3",
            "111122223333:e4",
            "111122223333:e5",
            "111122223333:e6",
            "111122223333:e7",
            "111122223333:e8",
            "111122223333:e9",
        ]
    );
    let mut expected = KnownState::fold(&h);
    expected.apply(&more[1]);
    assert_eq!(KnownState::fold(&all), expected);
    // Inclusive, to the second.
    let since = store
        .changes_since(Some(t("2024-06-01T12:30:00.500Z")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(since, vec![h[7].clone(), h[8].clone()]);
}

#[test]
fn memory_store_keeps_each_change_once() {
    store_contract(&mut MemoryStore::new());
}

#[test]
fn sqlite_store_keeps_each_change_once() {
    store_contract(&mut SqliteStore::in_memory().unwrap_or_else(|e| panic!("{e}")));
}

#[test]
fn sqlite_store_keeps_changes_across_reopening() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("govtrail.db");
    {
        let mut s = SqliteStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.record_changes(&history())
                .unwrap_or_else(|e| panic!("{e}")),
            9
        );
    }
    let mut s = SqliteStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.record_changes(&history())
            .unwrap_or_else(|e| panic!("{e}")),
        0
    );
    assert_eq!(
        s.changes_since(None).unwrap_or_else(|e| panic!("{e}")),
        history()
    );
}

// ---------------------------------------------------------------------------------------------
// The pipeline
// ---------------------------------------------------------------------------------------------

const INVENTORY: &str = "
settings:
  ignore_principals: ['arn:aws:iam::111122223333:role/provisioner']
identities:
  - principal: arn:aws:iam::111122223333:user/alice
    kind: human
    owner: team-data
  - principal: arn:aws:iam::111122223333:user/ops/bob
    kind: workload
    owner: team-ops
  - principal: arn:aws:iam::111122223333:user/carol
    kind: workload
    owner: team-ops
";

fn log() -> String {
    let records: Vec<Value> = [
        iam_event(
            iam_user("alice"),
            "CreateAccessKey",
            "p-1",
            json!({"userName": "carol"}),
            json!({"accessKey": {"accessKeyId": "AKIACAROL1", "status": "Active", "userName": "carol",
                "createDate": "Jun 1, 2024 12:00:00 PM"}}),
        ),
        iam_event(
            iam_user("alice"),
            "DeleteUser",
            "p-2",
            json!({"userName": "bob"}),
            Value::Null,
        ),
        // An ignored principal's change is state all the same.
        iam_event(
            assumed_role("provisioner", "cfn"),
            "DeleteAccessKey",
            "p-3",
            json!({"userName": "carol", "accessKeyId": "AKIACAROL0"}),
            Value::Null,
        ),
        iam_event(
            iam_user("alice"),
            "ListUsers",
            "p-4",
            json!({}),
            Value::Null,
        ),
    ]
    .iter()
    .map(|r| serde_json::from_str(r).unwrap_or_else(|e| panic!("{e}")))
    .collect();
    json!({ "Records": records }).to_string()
}

#[test]
fn a_replay_records_lifecycle_changes_and_the_stale_record_finding() {
    let inv = Inventory::from_texts(&[("i.yaml".into(), INVENTORY.into())])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut findings = MemoryStore::new();
    let mut lifecycle = SqliteStore::in_memory().unwrap_or_else(|e| panic!("{e}"));
    let now = t("2024-06-15T00:00:00Z");
    for round in 0..2 {
        let mut p = Pipeline::new(&inv, &inv.settings, &mut findings, None, now)
            .with_lifecycle(&mut lifecycle);
        p.process_stream("log.json", log().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let s = p.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.records, 4);
        assert_eq!(s.evaluated, 3);
        assert_eq!(s.skipped.get("ignored-principal"), Some(&1));
        // The replay is a no-op the second time.
        assert_eq!(s.lifecycle_changes, if round == 0 { 3 } else { 0 });
        assert_eq!(s.findings_new, if round == 0 { 1 } else { 0 });
        assert_eq!(s.duplicate_hits, round);
    }
    let stored = findings
        .list(&FindingFilter::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 1);
    let f = &stored[0];
    let record = "arn:aws:iam::111122223333:user/ops/bob";
    assert_eq!(f.rule, RuleId::StaleRecord);
    assert_eq!(f.principal, record);
    assert_eq!(f.id, finding_id(record, RuleId::StaleRecord, ""));
    assert_eq!(f.owner.as_deref(), Some("team-ops"));
    assert_eq!(
        f.evidence.get("deleted_by").map(String::as_str),
        Some(ALICE)
    );
    assert_eq!(f.count, 1);

    let changes = lifecycle
        .changes_since(None)
        .unwrap_or_else(|e| panic!("{e}"));
    let events: Vec<(&LifecycleEvent, &str)> = changes
        .iter()
        .map(|c| (&c.event, c.event_key.as_str()))
        .collect();
    assert_eq!(
        events,
        vec![
            (
                &LifecycleEvent::IdentityDeleted {
                    principal: BOB.into()
                },
                "111122223333:p-2"
            ),
            (
                &LifecycleEvent::KeyCreated {
                    principal: CAROL.into(),
                    key_id: "AKIACAROL1".into(),
                    active: true
                },
                "111122223333:p-1"
            ),
            (
                &LifecycleEvent::KeyDeleted {
                    principal: CAROL.into(),
                    key_id: "AKIACAROL0".into()
                },
                "111122223333:p-3"
            ),
        ]
    );
    assert!(changes.iter().all(|c| c.at == t(EVENT_TIME)));
}

#[test]
fn without_a_lifecycle_store_nothing_is_recorded() {
    let inv = Inventory::from_texts(&[("i.yaml".into(), INVENTORY.into())])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut findings = MemoryStore::new();
    let mut p = Pipeline::new(&inv, &inv.settings, &mut findings, None, t(EVENT_TIME));
    p.process_stream("log.json", log().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let s = p.finish().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.lifecycle_changes, 0);
    assert_eq!(s.findings_new, 1);
    // A MemoryStore used as both stores keeps its own lifecycle log empty.
    assert_eq!(
        findings
            .changes_since(None)
            .unwrap_or_else(|e| panic!("{e}")),
        Vec::new()
    );
}

#[test]
fn keys_listed_at_the_sweep_are_not_overridden_by_late_events() {
    // The sweep listed bob's keys itself: an event delivered since (a key created, one
    // deactivated) describes a state the listing already reflects, or a newer one it will see
    // next time, never a fresher one.
    let mut snap = snapshot();
    snap.identities[0].keys_listed = true;
    let before = snap.identities[0].clone();
    merge_into(&mut snap, &lifecycle_state(), t(LISTED));
    assert_eq!(snap.identities[0], before);
}
