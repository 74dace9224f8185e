//! Every bug-report case in ../shared/cases/bugreports that concerns records or log files,
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! with its `expected` turned into assertions.

use chrono::{DateTime, Utc};
use govtrail_core::{evaluate, Inventory, MemoryStore, Pipeline, RuleId, SkipReason};
use govtrail_tests::{case, read_bytes, read_json};
use serde_json::Value;
use std::io::Write;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-03-06T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn inventory(yaml: &str) -> Inventory {
    Inventory::from_texts(&[("inv.yaml".into(), yaml.into())]).unwrap_or_else(|e| panic!("{e}"))
}

fn rules_for(inv: &Inventory, a: &govtrail_core::Activity) -> Vec<&'static str> {
    let mut v: Vec<&str> = evaluate(a, inv, &inv.settings, now())
        .hits
        .iter()
        .map(|h| h.rule.as_str())
        .collect();
    v.sort();
    v
}

#[test]
fn c01_assumed_role_keeps_the_role_path() {
    let r = read_json("c01", &case("01-assumedrole-role-path.json")["input"]);
    assert_eq!(r.activities.len(), 1);
    let a = &r.activities[0];
    assert_eq!(
        a.principal,
        "arn:aws:iam::111122223333:role/teams/platform/DeployRole"
    );
    assert_eq!(a.session_name.as_deref(), Some("ci-run-42"));
    assert_eq!(a.action, "iam:AttachRolePolicy");
    assert_eq!(
        a.resources,
        vec![
            "arn:aws:iam::111122223333:role/AppRole".to_string(),
            "arn:aws:iam::aws:policy/AdministratorAccess".to_string()
        ]
    );
    // A record keyed on the real role ARN (with path) matches.
    let inv = inventory(
        "identities:\n- principal: arn:aws:iam::111122223333:role/teams/platform/DeployRole\n  kind: workload\n  owner: platform\n",
    );
    assert_eq!(rules_for(&inv, a), vec!["privilege-change-by-nhi"]);
}

#[test]
fn c03_identity_center_user() {
    let r = read_json(
        "c03",
        &case("03-identity-center-user-onbehalfof.json")["input"],
    );
    let a = &r.activities[0];
    assert_eq!(a.identity_type, "IdentityCenterUser");
    assert_eq!(
        a.principal,
        "identitycenter:d-0000000001/9a8b7c6d-1111-2222-3333-444455556666"
    );
    assert_eq!(
        a.on_behalf_of.as_deref(),
        Some("9a8b7c6d-1111-2222-3333-444455556666")
    );
    assert_eq!(a.account_id.as_deref(), Some("111122223333"));
    assert_eq!(a.actor_class.as_str(), "human");
    assert_eq!(a.action, "sso:ListAccounts");
}

#[test]
fn c04_unknown_with_empty_strings() {
    let r = read_json("c04", &case("04-unknown-type-empty-arn.json")["input"]);
    let a = &r.activities[0];
    assert_eq!(a.principal, "unknown:111122223333/111122223333");
    assert_eq!(a.access_key_id, None);
    assert_eq!(a.action, "signin:UserAuthentication");
    // Unknown identities are never matched by an allow-everything record for a real ARN.
    let inv = inventory("identities:\n- principal: 'arn:aws:iam::*'\n  kind: human\n  owner: x\n");
    assert_eq!(rules_for(&inv, a), vec!["unregistered-identity"]);
}

#[test]
fn c05_aws_service_without_arn() {
    let r = read_json("c05", &case("05-awsservice-invokedby-only.json")["input"]);
    let a = &r.activities[0];
    assert_eq!(a.principal, "service:lambda.amazonaws.com");
    assert_eq!(a.actor_class.as_str(), "service");
    assert_eq!(a.account_id.as_deref(), Some("111122223333"));
    assert_eq!(
        a.resources,
        vec!["arn:aws:iam::111122223333:role/service-role/example-fn-role".to_string()]
    );
    // Ignored by default (AWS service principals).
    let inv = inventory("identities: []\n");
    assert!(evaluate(a, &inv, &inv.settings, now()).ignored);
}

#[test]
fn c07_cross_account_copies_count_once() {
    let r = read_json(
        "c07",
        &case("07-cross-account-sharedeventid-two-copies.json")["input"],
    );
    assert_eq!(r.activities.len(), 2);
    assert_ne!(r.activities[0].event_id, r.activities[1].event_id);
    for a in &r.activities {
        assert_eq!(
            a.principal,
            "arn:aws:iam::444455556666:role/DataPipelineRole"
        );
        assert_eq!(a.identity_account_id.as_deref(), Some("444455556666"));
    }
    assert_eq!(
        r.activities[0].resources,
        vec![
            "arn:aws:kms:eu-west-1:111122223333:key/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
                .to_string()
        ]
    );
    let inv = inventory("identities: []\n");
    let mut store = MemoryStore::new();
    let mut p = Pipeline::new(&inv, &inv.settings, &mut store, None, now());
    let bytes = case("07-cross-account-sharedeventid-two-copies.json")["input"].to_string();
    p.process_stream("c07.json", bytes.as_bytes()).unwrap();
    let s = p.finish().unwrap();
    assert_eq!(s.records, 2);
    assert_eq!(s.findings_new, 1);
    assert_eq!(s.duplicate_hits, 1);
    let f = govtrail_core::FindingStore::list(&store, &Default::default()).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, RuleId::UnregisteredIdentity);
    assert_eq!(f[0].count, 1);
}

#[test]
fn c08_root_console_login_via_eventbridge() {
    let input = &case("08-root-console-login-eventbridge.json")["input"];
    let r = read_json("c08", input);
    assert_eq!(r.activities.len(), 1);
    let a = &r.activities[0];
    assert_eq!(a.principal, "arn:aws:iam::111122223333:root");
    assert_eq!(a.action, "signin:ConsoleLogin");
    assert_eq!(a.access_key_id, None);
    let inv = inventory("identities: []\n");
    let mut store = MemoryStore::new();
    let mut p = Pipeline::new(&inv, &inv.settings, &mut store, None, now());
    p.process_stream("c08.json", input.to_string().as_bytes())
        .unwrap();
    p.process_stream("c08-again.json", input.to_string().as_bytes())
        .unwrap();
    let s = p.finish().unwrap();
    assert_eq!(s.findings_new, 1);
    let f = govtrail_core::FindingStore::list(&store, &Default::default()).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, RuleId::RootActivity);
    assert_eq!(f[0].count, 1);
}

#[test]
fn c09_sso_console_login_is_a_human_on_the_permission_set_role() {
    let r = read_json(
        "c09",
        &case("09-federated-console-login-mfa-no.json")["input"],
    );
    let a = &r.activities[0];
    assert_eq!(
        a.principal,
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdminAccess_1a2b3c4d5e6f7a8b"
    );
    assert_eq!(a.session_name.as_deref(), Some("person.two@example.com"));
    assert_eq!(a.actor_class.as_str(), "human");
    let inv = inventory(
        "identities:\n- principal: 'arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*'\n  kind: human\n  owner: it\n",
    );
    assert_eq!(rules_for(&inv, a), Vec::<&str>::new());
}

#[test]
fn c12_web_identity() {
    let r = read_json("c12", &case("12-web-identity-irsa.json")["input"]);
    assert_eq!(r.activities.len(), 2);
    let provider = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE0000000000000000000000001";
    let w = &r.activities[0];
    assert_eq!(
        w.principal,
        format!("webidentity:{provider}/system:serviceaccount:payments:api")
    );
    assert_eq!(
        w.resources,
        vec!["arn:aws:iam::111122223333:role/eks/payments-api".to_string()]
    );
    assert_eq!(w.actor_class.as_str(), "workload");
    let s = &r.activities[1];
    assert_eq!(
        s.principal,
        "arn:aws:iam::111122223333:role/eks/payments-api"
    );
    assert_eq!(s.web_identity_provider.as_deref(), Some(provider));
    assert_eq!(s.actor_class.as_str(), "workload");
}

#[test]
fn c14_version_suffix_and_foreign_role() {
    let r = read_json("c14", &case("14-eventname-version-suffix.json")["input"]);
    let a = &r.activities[0];
    assert_eq!(a.action, "lambda:UpdateFunctionConfiguration");
    assert_eq!(
        a.event_name.as_deref(),
        Some("UpdateFunctionConfiguration20150331v2")
    );
    let inv = inventory(
        "identities:\n- principal: arn:aws:iam::111122223333:role/DeployRole\n  kind: workload\n  owner: platform\n  allow:\n  - actions: ['lambda:*']\n    resources: ['arn:aws:lambda:*:111122223333:function:*', 'arn:aws:iam::111122223333:role/*']\n",
    );
    let hits = evaluate(a, &inv, &inv.settings, now()).hits;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rule, RuleId::ResourceOutsideScope);
    assert_eq!(
        hits[0].resource.as_deref(),
        Some("arn:aws:iam::444455556666:role/external-admin")
    );
}

#[test]
fn c15_failed_credential_creation_is_evaluated_but_creates_nothing() {
    let r = read_json("c15", &case("15-errorcode-accessdenied.json")["input"]);
    let a = &r.activities[0];
    assert_eq!(a.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(a.created_principal, None);
    assert_eq!(a.principal, "arn:aws:iam::111122223333:user/contractor-1");
    assert_eq!(
        a.resources,
        vec!["arn:aws:iam::111122223333:user/break-glass-admin".to_string()]
    );
    let inv = inventory(
        "identities:\n- principal: arn:aws:iam::111122223333:user/contractor-1\n  kind: workload\n  owner: vendor-mgmt\n",
    );
    let hits = evaluate(a, &inv, &inv.settings, now()).hits;
    assert_eq!(
        hits.iter().map(|h| h.rule.as_str()).collect::<Vec<_>>(),
        vec!["privilege-change-by-nhi"]
    );
    assert_eq!(
        hits[0].evidence.get("outcome").map(String::as_str),
        Some("failed: AccessDenied")
    );
}

#[test]
fn c17_shape_drift_in_request_parameters() {
    let r = read_json(
        "c17",
        &case("17-requestparameters-null-and-shape-drift.json")["input"],
    );
    assert_eq!(r.activities.len(), 3);
    assert!(r.stats.input_errors.is_empty());
    let actions: Vec<&str> = r.activities.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "ec2:RunInstances",
            "ec2:AssociateIamInstanceProfile",
            "iam:ListPolicies"
        ]
    );
}

#[test]
fn c19_insight_events_are_not_api_calls() {
    let r = read_json(
        "c19",
        &case("19-insight-event-no-useridentity.json")["input"],
    );
    assert!(r.activities.is_empty());
    assert_eq!(r.stats.records, r.not_evaluable.len() as u64);
    assert!(r.stats.records >= 1);
    assert!(r
        .not_evaluable
        .iter()
        .all(|s| *s == SkipReason::InsightEvent));
}

#[test]
fn c20_digest_content_is_not_an_event_file() {
    let c = case("20-digest-file-in-bucket.json");
    let r = read_json("digest.json", &c["input"]["object_content_after_gunzip"]);
    assert_eq!(r.stats.records, 0);
    assert!(r.stats.input_errors.is_empty());
    assert_eq!(r.stats.skipped.get("digest-file"), Some(&1));
    let n = read_json("notification.json", &c["input"]["s3_notification"]);
    assert_eq!(n.stats.records, 0);
    assert_eq!(n.stats.skipped.get("s3-notification"), Some(&1));
}

#[test]
fn c21_c26_s3_notifications_are_not_records() {
    for name in [
        "21-config-writability-and-folder-objects.json",
        "26-org-trail-key-layout.json",
    ] {
        let c = case(name);
        let r = read_json(name, &c["input"]);
        let n = c["input"]["Records"].as_array().map(Vec::len).unwrap_or(0) as u64;
        assert_eq!(r.stats.records, 0, "{name}");
        assert_eq!(r.stats.skipped.get("s3-notification"), Some(&n), "{name}");
        assert!(r.stats.input_errors.is_empty(), "{name}");
    }
}

#[test]
fn c22_c23_c24_queue_messages_are_recognised() {
    let body = case("22-s3-test-event.json")["input"]["sqs_message"]["body"]
        .as_str()
        .unwrap()
        .to_string();
    let r = read_bytes("test-event.json", body.as_bytes());
    assert_eq!(r.stats.skipped.get("s3-test-event"), Some(&1));
    let sqs = read_json(
        "sqs.json",
        &case("22-s3-test-event.json")["input"]["sqs_message"],
    );
    assert_eq!(sqs.stats.records, 0);
    assert!(sqs.stats.input_errors.is_empty());
    let c23 = case("23-cloudtrail-native-sns-messages.json");
    for m in c23["input"]["sqs_bodies"].as_array().unwrap() {
        let r = read_json("sns.json", m);
        assert_eq!(r.stats.records, 0);
        assert_eq!(r.stats.skipped.get("sns-message"), Some(&1));
    }
    let inner: Value =
        serde_json::from_str(c23["input"]["sqs_bodies"][1]["Message"].as_str().unwrap()).unwrap();
    let r = read_json("ct-sns.json", &inner);
    assert_eq!(r.stats.skipped.get("cloudtrail-sns-notification"), Some(&1));
    for b in case("24-sns-envelope-in-sqs.json")["input"]["sqs_message_bodies"]
        .as_array()
        .unwrap()
    {
        let r = read_bytes("body.json", b.as_str().unwrap().as_bytes());
        assert_eq!(r.stats.records, 0);
        assert!(r.stats.input_errors.is_empty());
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn c27_gzip_is_decided_by_magic_bytes() {
    let log = case("34-records-wrapper-vs-single-event.json")["input"]["log_file"].to_string();
    let plain = read_bytes("x.json.gz", log.as_bytes());
    let gz = read_bytes("x.json", &gzip(log.as_bytes()));
    assert_eq!(plain.activities.len(), 2);
    assert_eq!(gz.activities.len(), 2);
    let z = gzip(log.as_bytes());
    let truncated = read_bytes("cut.json.gz", &z[..z.len() / 2]);
    assert_eq!(truncated.stats.input_errors.len(), 1);
    assert_eq!(truncated.stats.input_errors[0].path, "cut.json.gz");
}

fn records_case(name: &str, pick: impl Fn(&Value) -> Vec<Value>) -> Vec<Value> {
    pick(&case(name)["input"])
}

#[test]
fn c28_c29_order_and_duplicates_do_not_change_outcomes() {
    let recs = records_case("29-duplicate-delivery-same-eventid.json", |i| {
        i["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["record"].clone())
            .collect()
    });
    assert!(recs.len() >= 2);
    let older = {
        let mut r = recs[0].clone();
        r["eventID"] = Value::from("0f1e2d3c-0000-4000-8000-0000000000aa");
        r["eventTime"] = Value::from("2024-03-05T10:06:11Z");
        r
    };
    let inv = inventory("identities: []\n");
    let run = |order: &[&Value]| {
        let mut store = MemoryStore::new();
        let mut p = Pipeline::new(&inv, &inv.settings, &mut store, None, now());
        for (i, r) in order.iter().enumerate() {
            p.process_stream(&format!("f{i}.json"), r.to_string().as_bytes())
                .unwrap();
        }
        p.finish().unwrap();
        govtrail_core::FindingStore::list(&store, &Default::default()).unwrap()
    };
    let mut order_a: Vec<&Value> = recs.iter().collect();
    order_a.push(&older);
    let mut order_b: Vec<&Value> = vec![&older];
    order_b.extend(recs.iter().rev());
    let a = run(&order_a);
    let b = run(&order_b);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].count, 2);
    assert_eq!(a[0].first_seen.to_rfc3339(), "2024-03-05T10:06:11+00:00");
    assert_eq!(a[0].last_seen.to_rfc3339(), "2024-03-05T10:15:30+00:00");
    assert_eq!(
        (b[0].count, b[0].first_seen, b[0].last_seen),
        (a[0].count, a[0].first_seen, a[0].last_seen)
    );
}

#[test]
fn c31_c33_c40_records_from_log_files() {
    let r = read_json(
        "c31",
        &case("31-global-and-regional-sts-iam-events.json")["input"],
    );
    assert_eq!(r.activities.len(), 2);
    assert_eq!(
        r.activities[0].principal,
        "arn:aws:iam::111122223333:user/ci-bot"
    );
    assert_eq!(
        r.activities[0].access_key_id.as_deref(),
        Some("AKIAEXAMPLEKEY000031")
    );
    assert_eq!(
        r.activities[0].resources,
        vec!["arn:aws:iam::111122223333:role/ReleaseRole".to_string()]
    );
    assert_eq!(
        r.activities[1].principal,
        "arn:aws:iam::111122223333:role/ReleaseRole"
    );
    assert_eq!(r.activities[1].region.as_deref(), Some("ap-southeast-2"));
    let big = read_json(
        "c33",
        &case("33-oversize-event-not-on-eventbridge.json")["input"],
    );
    assert_eq!(
        big.activities[0].principal,
        "arn:aws:iam::111122223333:role/ScaleOutRole"
    );
    let gap = read_json(
        "c40",
        &case("40-eventbridge-coverage-gaps.json")["input"]["expected_from_s3_log_file"],
    );
    assert_eq!(gap.activities[0].action, "cloudshell:GetFileDownloadUrls");
}

#[test]
fn c34_every_container_shape_yields_individual_records() {
    let c = case("34-records-wrapper-vs-single-event.json");
    assert_eq!(
        read_json("log.json", &c["input"]["log_file"])
            .activities
            .len(),
        2
    );
    let item = read_json("lookup.json", &c["input"]["lookup_events_item"]);
    assert_eq!(item.activities.len(), 1);
    assert!(item.stats.input_errors.is_empty());
}

#[test]
fn c36_large_log_file_streams_and_keeps_going_past_a_bad_record() {
    let c = case("36-large-log-file-streaming.json");
    let base = c["input"]["sample_record"].clone();
    let mut body = String::from("{\"Records\":[");
    for i in 0..7700 {
        if i > 0 {
            body.push(',');
        }
        if i == 100 {
            body.push_str(
                "{\"eventVersion\":\"1.09\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"eventTime\":[1,2],\"userIdentity\":\"oops\"}",
            );
            continue;
        }
        let mut r = base.clone();
        r["eventID"] = Value::from(format!("0f1e2d3c-0000-4000-8000-{i:012}"));
        body.push_str(&r.to_string());
    }
    body.push_str("]}");
    let r = read_bytes("big.json.gz", &gzip(body.as_bytes()));
    // A record with an array as eventTime and a string as userIdentity is tolerated and
    // counted (it has no identity to evaluate); nothing is lost.
    assert_eq!(r.stats.records, 7700);
    assert_eq!(r.activities.len(), 7699);
    assert_eq!(r.not_evaluable, vec![SkipReason::NoUserIdentity]);
    assert!(r.stats.input_errors.is_empty());
    let broken = body.replacen("\"eventName\":\"GetObject\"", "\"eventName\":GetObject", 1);
    let r = read_bytes("broken.json", broken.as_bytes());
    assert_eq!(r.stats.records, 7699);
    assert_eq!(r.stats.input_errors.len(), 1);
    assert_eq!(r.stats.input_errors[0].record_index, Some(0));
}

#[test]
fn c38_data_and_network_activity_events() {
    let r = read_json(
        "c38",
        &case("38-eventcategory-data-and-networkactivity.json")["input"],
    );
    assert_eq!(r.activities.len(), 2);
    assert_eq!(r.activities[0].event_category.as_deref(), Some("Data"));
    assert_eq!(r.activities[0].principal, "service:events.amazonaws.com");
    let n = &r.activities[1];
    assert_eq!(n.event_category.as_deref(), Some("NetworkActivity"));
    assert_eq!(n.principal, "account:444455556666");
    assert_eq!(n.account_id.as_deref(), Some("111122223333"));
    assert_eq!(n.vpc_endpoint_id.as_deref(), Some("vpce-0aaaabbbbcccc0038"));
    assert_eq!(n.error_code.as_deref(), Some("VpceAccessDenied"));
}

#[test]
fn c39_envelope_variations_give_the_same_event() {
    let c = case("39-eventbridge-envelope-shape.json");
    let envs = c["input"].as_array().unwrap();
    let ids: Vec<Option<String>> = envs
        .iter()
        .map(|e| {
            let r = read_json("eb.json", e);
            assert_eq!(r.activities.len(), 1);
            assert_eq!(r.activities[0].account_id.as_deref(), Some("444455556666"));
            r.activities[0].event_id.clone()
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
}
