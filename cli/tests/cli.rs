//! End-to-end tests of the `govtrail` binary on the examples in `infra/examples`, run the way
//! a user runs it: real files, a real SQLite store, exit codes and printed output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NOW: &str = "2026-12-01T00:00:00Z";
const INVENTORY: &str = "infra/examples/inventory.yaml";
const CLOUDTRAIL: &str = "infra/examples/cloudtrail";

const DEPLOYER: &str = "arn:aws:iam::111122223333:role/ci/github-deployer";
const PIPELINE: &str = "arn:aws:iam::111122223333:role/data/etl-pipeline";
const AGENT: &str = "arn:aws:iam::111122223333:role/agents/support-copilot";
const REPORTING: &str = "arn:aws:iam::111122223333:user/svc-reporting";
const SSO_ADMIN: &str = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_4f2c1b9e8d7a6f53";
const GITHUB_OIDC: &str = "webidentity:arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com/repo:acme/orders-api:ref:refs/heads/main";

/// The workspace root: paths are given relative to it, as a user in the repository would.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli has a parent folder")
        .to_path_buf()
}

fn govtrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_govtrail"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run govtrail")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

/// `replay` of the examples into `store` with `extra` arguments; returns the output.
fn replay(store: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "replay",
        CLOUDTRAIL,
        "--inventory",
        INVENTORY,
        "--store",
        store,
        "--now",
        NOW,
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    govtrail(&args)
}

fn replay_json(store: &str) -> Value {
    let out = replay(store, &["--format", "json"]);
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    json(&out)
}

fn temp_store(dir: &tempfile::TempDir) -> String {
    dir.path().join("findings.db").display().to_string()
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings array")
}

/// The one finding with this rule, principal and action (fails when there are 0 or several).
fn one<'a>(report: &'a Value, rule: &str, principal: &str, action: &str) -> &'a Value {
    let hits: Vec<&Value> = findings(report)
        .iter()
        .filter(|f| f["rule"] == rule && f["principal"] == principal && f["action"] == action)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one {rule} finding for {principal} / {action}, got {hits:#?}"
    );
    hits[0]
}

fn check_summary(s: &Value) {
    assert_eq!(s["files"], 8, "{s:#}");
    assert_eq!(s["records"], 32, "{s:#}");
    assert_eq!(s["evaluated"], 31, "{s:#}");
    let skipped: BTreeMap<String, u64> =
        serde_json::from_value(s["skipped"].clone()).expect("skipped map");
    assert_eq!(
        skipped,
        BTreeMap::from([
            ("digest-file".to_string(), 1),
            ("ignored-principal".to_string(), 1)
        ])
    );
    assert_eq!(s["input_errors"], Value::Array(vec![]), "{s:#}");
    assert_eq!(s["alerts_sent"], 0);
}

#[test]
fn replay_examples_reports_the_intended_findings() {
    let dir = tempfile::tempdir().unwrap();
    let report = replay_json(&temp_store(&dir));
    let s = &report["summary"];
    check_summary(s);
    assert_eq!(s["findings_new"], 20, "{s:#}");
    // review-overdue (svc-reporting) and no-owner (sandbox) each get a second event.
    assert_eq!(s["findings_updated"], 2, "{s:#}");
    // The stolen-credential UpdateFunctionCode is delivered in two files (same eventID).
    assert_eq!(s["duplicate_hits"], 1, "{s:#}");
    assert_eq!(s["suppressed_hits"], 1, "{s:#}");

    let list = findings(&report);
    assert_eq!(list.len(), 20);
    let ids: BTreeSet<&str> = list.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 20, "finding ids are unique");

    // Every rule fires at least once on the examples.
    let rules: BTreeSet<&str> = list.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    let all: BTreeSet<&str> = [
        "unregistered-identity",
        "no-owner",
        "retired-identity-active",
        "approval-expired",
        "review-overdue",
        "action-outside-purpose",
        "resource-outside-scope",
        "region-outside-scope",
        "source-outside-scope",
        "environment-crossing",
        "human-use-of-workload",
        "privilege-change-by-nhi",
        "root-activity",
        "long-term-key",
        "agent-without-delegation",
        "ungoverned-identity-created",
    ]
    .into_iter()
    .collect();
    assert_eq!(rules, all);

    // Findings per rule.
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for f in list {
        *per_rule.entry(f["rule"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(per_rule["action-outside-purpose"], 4);
    assert_eq!(per_rule["resource-outside-scope"], 2);
    assert_eq!(
        per_rule.values().sum::<usize>() - 4 - 2,
        14,
        "one finding each for the other 14 rules: {per_rule:?}"
    );

    // Source: the CI session's credentials used from a laptop; counted once despite redelivery.
    let f = one(
        &report,
        "source-outside-scope",
        DEPLOYER,
        "lambda:UpdateFunctionCode",
    );
    assert_eq!(f["count"], 1);
    assert_eq!(f["event_ids"].as_array().unwrap().len(), 1);
    assert_eq!(f["owner"], "platform-team");
    assert_eq!(f["status"], "open");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["evidence"]["source_ip"], "198.51.100.23");
    assert_eq!(f["evidence"]["statement"], "allow 'deploy-lambda'");
    assert_eq!(f["evidence"]["allowed_source_cidrs"], "203.0.113.0/24");
    assert_eq!(
        f["resource"],
        "arn:aws:lambda:eu-west-1:111122223333:function:orders-api"
    );

    // Environment: the prod deployer wrote to the staging account's bucket.
    let f = one(&report, "environment-crossing", DEPLOYER, "s3:PutObject");
    assert_eq!(f["account_id"], "444455556666");
    assert_eq!(f["evidence"]["environment"], "staging");
    assert_eq!(f["count"], 1);

    // The deployer's in-scope CI run (whoami, upload, change sets, the CloudFormation-made
    // CreateLogGroup, UpdateFunctionCode and GetFunction from the runner range) is silent.
    let deployer: Vec<&str> = list
        .iter()
        .filter(|f| f["principal"] == DEPLOYER)
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(deployer.len(), 2, "{deployer:?}");
    assert!(!list.iter().any(|f| f["principal"] == GITHUB_OIDC));

    // Deny statement and missing allow statement.
    let f = one(
        &report,
        "action-outside-purpose",
        PIPELINE,
        "s3:DeleteObject",
    );
    assert_eq!(f["owner"], "data-platform");
    assert_eq!(f["contact"], "data-platform@example.com");
    assert!(
        f["evidence"]["why"]
            .as_str()
            .unwrap()
            .contains("denied by deny 'raw-zone-is-immutable'"),
        "{f:#}"
    );
    let f = one(
        &report,
        "action-outside-purpose",
        PIPELINE,
        "iam:AttachRolePolicy",
    );
    assert!(
        f["evidence"]["why"]
            .as_str()
            .unwrap()
            .contains("not covered by any allow statement"),
        "{f:#}"
    );
    let f = one(
        &report,
        "privilege-change-by-nhi",
        PIPELINE,
        "iam:AttachRolePolicy",
    );
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["actor_class"], "workload");
    assert_eq!(f["region"], "us-east-1");

    // Resource scope: one open finding, one covered by the valid exception.
    let resource: Vec<&Value> = list
        .iter()
        .filter(|f| f["rule"] == "resource-outside-scope")
        .collect();
    let open = resource
        .iter()
        .find(|f| f["status"] == "open")
        .expect("open resource finding");
    assert_eq!(
        open["resource"],
        "arn:aws:s3:::acme-exports-public/orders/2026-11-28.csv.gz"
    );
    assert_eq!(open["principal"], PIPELINE);
    let suppressed = resource
        .iter()
        .find(|f| f["status"] == "suppressed")
        .expect("suppressed resource finding");
    assert_eq!(
        suppressed["resource"],
        "arn:aws:s3:::acme-partner-exchange/settlements/2026-11.csv"
    );
    assert_eq!(suppressed["suppression"]["ticket"], "GOV-1042");
    assert_eq!(
        suppressed["suppression"]["approver"],
        "maria.rossi@example.com"
    );
    assert_eq!(suppressed["suppression"]["expires"], "2026-12-31");
    assert_eq!(
        list.iter().filter(|f| f["status"] == "suppressed").count(),
        1
    );

    // Region: the expired exception does not suppress, it is quoted as evidence.
    let f = one(
        &report,
        "region-outside-scope",
        PIPELINE,
        "glue:StartJobRun",
    );
    assert_eq!(f["status"], "open");
    assert_eq!(f["region"], "us-east-1");
    assert_eq!(f["evidence"]["allowed_regions"], "eu-west-1");
    assert!(
        f["evidence"]["expired_exception"]
            .as_str()
            .unwrap()
            .contains("expired 2026-10-31 (ticket GOV-0977)"),
        "{f:#}"
    );

    // The legacy IAM user: AKIA key, console sign-in, overdue review (with the severity override).
    let f = one(
        &report,
        "long-term-key",
        REPORTING,
        "athena:StartQueryExecution",
    );
    assert_eq!(f["evidence"]["access_key_id"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(f["owner"], "finance-analytics");
    let f = one(
        &report,
        "human-use-of-workload",
        REPORTING,
        "signin:ConsoleLogin",
    );
    assert_eq!(f["severity"], "high");
    assert!(f["evidence"]["source"]
        .as_str()
        .unwrap()
        .ends_with("eventbridge/2026-11-29-console-sign-in.jsonl#0"));
    one(
        &report,
        "action-outside-purpose",
        REPORTING,
        "signin:ConsoleLogin",
    );
    // Newest event wins the action; both events are counted.
    let f = one(&report, "review-overdue", REPORTING, "signin:ConsoleLogin");
    assert_eq!(f["count"], 2);
    assert_eq!(f["severity"], "medium", "settings override low -> medium");
    assert_eq!(f["first_seen"], "2026-11-29T14:05:00Z");
    assert_eq!(f["last_seen"], "2026-11-29T18:04:51Z");
    assert_eq!(f["evidence"]["review_due"], "2026-08-29T23:59:59Z");

    // The agent: one query without a delegating person, one action outside its purpose.
    let f = one(&report, "agent-without-delegation", AGENT, "dynamodb:Query");
    assert_eq!(f["count"], 1, "the delegated query is not counted");
    assert_eq!(f["evidence"]["session_name"], "copilot-batch-summarizer");
    let f = one(
        &report,
        "action-outside-purpose",
        AGENT,
        "secretsmanager:GetSecretValue",
    );
    assert_eq!(f["evidence"]["outcome"], "failed: AccessDenied");
    assert_eq!(f["actor_class"], "agent");
    assert_eq!(list.iter().filter(|f| f["principal"] == AGENT).count(), 2);

    // An SSO administrator created an IAM user nobody registered.
    let f = one(
        &report,
        "ungoverned-identity-created",
        SSO_ADMIN,
        "iam:CreateUser",
    );
    assert_eq!(
        f["resource"],
        "arn:aws:iam::111122223333:user/contractors/tmp-dev-jlee"
    );
    assert_eq!(f["owner"], "cloud-governance");
    assert_eq!(f["actor_class"], "human");
    assert_eq!(
        list.iter().filter(|f| f["principal"] == SSO_ADMIN).count(),
        1
    );

    // Identities without a record, without an owner, retired, expired; root.
    let f = one(
        &report,
        "unregistered-identity",
        "arn:aws:iam::444455556666:role/service-role/image-resizer-role-k2l9x0qa",
        "s3:GetObject",
    );
    assert_eq!(f["owner"], Value::Null);
    assert_eq!(f["account_id"], "444455556666");
    let f = one(
        &report,
        "no-owner",
        "arn:aws:iam::777788889999:role/sandbox-experiments",
        "ec2:DescribeInstances",
    );
    assert_eq!(f["count"], 2);
    assert_eq!(f["event_ids"].as_array().unwrap().len(), 2);
    assert_eq!(f["owner"], Value::Null);
    let f = one(
        &report,
        "retired-identity-active",
        "arn:aws:iam::111122223333:role/legacy/jenkins-deployer",
        "ecr:GetAuthorizationToken",
    );
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["record_status"], "retired");
    let f = one(
        &report,
        "approval-expired",
        "arn:aws:iam::444455556666:role/vendor/observability-readonly",
        "cloudwatch:GetMetricData",
    );
    assert_eq!(f["evidence"]["expires"], "2026-11-15");
    assert_eq!(f["owner"], "sre-team");
    let f = one(
        &report,
        "root-activity",
        "arn:aws:iam::777788889999:root",
        "signin:ConsoleLogin",
    );
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["owner"], Value::Null);
    assert_eq!(f["account_id"], "777788889999");
}

#[test]
fn replay_twice_into_the_same_store_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = temp_store(&dir);
    let first = replay_json(&store);
    let second = replay_json(&store);
    check_summary(&second["summary"]);
    let s = &second["summary"];
    assert_eq!(s["findings_new"], 0, "{s:#}");
    assert_eq!(s["findings_updated"], 0, "{s:#}");
    assert_eq!(s["suppressed_hits"], 0, "{s:#}");
    // Every hit of the first run (20 new + 2 updates + 1 duplicate) is now a duplicate.
    assert_eq!(s["duplicate_hits"], 23, "{s:#}");

    let key = |v: &Value| -> BTreeMap<String, (Value, Value, Value)> {
        findings(v)
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_string(),
                    (
                        f["count"].clone(),
                        f["status"].clone(),
                        f["last_seen"].clone(),
                    ),
                )
            })
            .collect()
    };
    let (a, b) = (key(&first), key(&second));
    assert_eq!(a.len(), 20);
    assert_eq!(a, b, "same findings with the same counts and statuses");

    // The store holds exactly those findings.
    let out = govtrail(&["findings", "list", "--store", &store, "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stored = json(&out);
    assert_eq!(stored.as_array().unwrap().len(), 20);
    let total: u64 = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 22);
}

#[test]
fn exit_codes_follow_fail_on_and_input_errors() {
    let dir = tempfile::tempdir().unwrap();

    let out = replay(":memory:", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("files: 8  records: 32  evaluated: 31  findings new: 20"),
        "{table}"
    );
    assert!(
        table.contains("skipped: digest-file=1 ignored-principal=1"),
        "{table}"
    );

    let out = replay(":memory:", &["--fail-on", "high"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let out = replay(":memory:", &["--fail-on", "critical", "--format", "json"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["summary"]["findings_new"], 20);

    // A truncated file next to the examples: everything else is still read, exit 2.
    let bad = dir.path().join("broken-export.json");
    std::fs::write(&bad, "{\"Records\":[{\"eventVersion\":\"1.10\",\n").unwrap();
    let bad_path = bad.display().to_string();
    let out = govtrail(&[
        "replay",
        CLOUDTRAIL,
        &bad_path,
        "--inventory",
        INVENTORY,
        "--store",
        ":memory:",
        "--now",
        NOW,
        "--format",
        "json",
        "--fail-on",
        "high",
    ]);
    assert_eq!(code(&out), 2, "input errors win over --fail-on");
    let report = json(&out);
    let s = &report["summary"];
    assert_eq!(s["files"], 9);
    assert_eq!(s["records"], 32);
    assert_eq!(s["findings_new"], 20);
    let errors = s["input_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{s:#}");
    assert_eq!(errors[0]["path"], bad_path.as_str());
    assert!(
        errors[0]["reason"].as_str().unwrap().contains("truncated"),
        "{s:#}"
    );

    // In the table format the error is printed with the file name.
    let out = govtrail(&[
        "replay",
        CLOUDTRAIL,
        &bad_path,
        "--inventory",
        INVENTORY,
        "--store",
        ":memory:",
        "--now",
        NOW,
    ]);
    assert_eq!(code(&out), 2);
    let text = stdout(&out);
    assert!(text.contains("input errors: 1"), "{text}");
    assert!(text.contains(&format!("  {bad_path}")), "{text}");

    // A broken inventory is an error too: exit 2, naming the file and line.
    let inv = dir.path().join("inventory.yaml");
    std::fs::write(
        &inv,
        "version: 1\nidentities:\n  - principal: x\n    kind: robot\n",
    )
    .unwrap();
    let inv_path = inv.display().to_string();
    let out = govtrail(&[
        "replay",
        CLOUDTRAIL,
        "--inventory",
        &inv_path,
        "--store",
        ":memory:",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(&format!("{inv_path}:4:")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn findings_list_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let store = temp_store(&dir);
    replay_json(&store);

    let out = govtrail(&[
        "findings",
        "list",
        "--store",
        &store,
        "--rule",
        "root-activity",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let list = json(&out);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:#?}");
    let root = &list[0];
    assert_eq!(root["rule"], "root-activity");
    assert_eq!(root["principal"], "arn:aws:iam::777788889999:root");
    assert_eq!(root["action"], "signin:ConsoleLogin");
    assert_eq!(root["count"], 1);
    assert_eq!(root["status"], "open");
    assert_eq!(root["severity"], "critical");
    assert_eq!(root["first_seen"], "2026-11-29T21:17:03Z");
    assert_eq!(root["evidence"]["source_ip"], "198.51.100.9");
    let id = root["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let out = govtrail(&["findings", "show", id, "--store", &store]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(&json(&out), root, "show prints the same finding");

    let out = govtrail(&["findings", "show", "0123456789abcdef", "--store", &store]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no finding with id 0123456789abcdef"));

    // Filters: owner, status, severity.
    let count = |args: &[&str]| -> usize {
        let mut a = vec!["findings", "list", "--store", &store, "--format", "json"];
        a.extend_from_slice(args);
        let out = govtrail(&a);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        json(&out).as_array().unwrap().len()
    };
    assert_eq!(count(&["--owner", "data-platform"]), 6);
    assert_eq!(count(&["--status", "suppressed"]), 1);
    assert_eq!(count(&["--severity", "critical"]), 3);
    assert_eq!(count(&["--principal", REPORTING]), 4);

    // Table output names the rule and the principal.
    let out = govtrail(&["findings", "list", "--store", &store, "--rule", "no-owner"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.starts_with("SEVERITY"), "{text}");
    assert!(
        text.contains("arn:aws:iam::777788889999:role/sandbox-experiments"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn inventory_validate() {
    let out = govtrail(&["inventory", "validate", INVENTORY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "infra/examples/inventory.yaml: ok: 9 governance records (2 wildcard patterns), 3 accounts mapped to environments"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.yaml");
    std::fs::write(
        &bad,
        "version: 1\nidentities:\n  - principal: arn:aws:iam::111122223333:role/x\n    kind: workload\n    allow:\n      - actions: ['s3:GetObject']\n        source_cidrs: ['10.0.0.0/33']\n",
    )
    .unwrap();
    let out = govtrail(&["inventory", "validate", &bad.display().to_string()]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{}:7: ", bad.display())),
        "{err}"
    );
    assert!(first.contains("invalid network '10.0.0.0/33'"), "{err}");
    assert!(err.contains("1 error(s)"), "{err}");
    assert_eq!(stdout(&out), "");
}

#[test]
fn rules_json_lists_every_rule() {
    let out = govtrail(&["rules", "--format", "json"]);
    assert_eq!(code(&out), 0);
    let rules = json(&out);
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 26);
    let ids: BTreeSet<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 26);
    let sources: BTreeMap<&str, usize> = rules.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r["source"].as_str().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(
        sources,
        BTreeMap::from([("events", 15), ("events+sweep", 2), ("sweep", 9)])
    );
    let root = rules
        .iter()
        .find(|r| r["id"] == "root-activity")
        .expect("root-activity listed");
    assert_eq!(root["severity"], "critical");
    let review = rules
        .iter()
        .find(|r| r["id"] == "review-overdue")
        .expect("review-overdue listed");
    assert_eq!(review["severity"], "low", "the default, before overrides");
    assert!(rules
        .iter()
        .all(|r| !r["description"].as_str().unwrap().is_empty()));
}

#[test]
fn events_prints_one_json_line_per_record() {
    let out = govtrail(&["events", CLOUDTRAIL]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.len(), 32);
    let err = stderr(&out);
    assert!(
        err.contains("files: 8  records: 32  normalised: 32  skipped: digest-file=1"),
        "{err}"
    );

    let principals: BTreeSet<&str> = events
        .iter()
        .map(|e| e["principal"].as_str().unwrap())
        .collect();
    for p in [
        DEPLOYER,
        PIPELINE,
        AGENT,
        REPORTING,
        SSO_ADMIN,
        GITHUB_OIDC,
        "service:lambda.amazonaws.com",
        "arn:aws:iam::777788889999:root",
    ] {
        assert!(principals.contains(p), "{p} missing from {principals:#?}");
    }
    // The redelivered record appears twice (events does not deduplicate).
    let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        *by_id.entry(e["event_id"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(by_id.len(), 31);
    assert_eq!(by_id.values().filter(|&&n| n == 2).count(), 1);

    let login = events
        .iter()
        .find(|e| e["principal"] == REPORTING && e["action"] == "signin:ConsoleLogin")
        .expect("console sign-in from the EventBridge envelope");
    assert_eq!(login["actor_class"], "human", "evidence without inventory");
    assert_eq!(login["console_session"], true);

    // With the inventory the declared kind wins.
    let out = govtrail(&["events", CLOUDTRAIL, "--inventory", INVENTORY]);
    assert_eq!(code(&out), 0);
    let login = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["principal"] == REPORTING && e["action"] == "signin:ConsoleLogin")
        .expect("console sign-in");
    assert_eq!(login["actor_class"], "workload");
}

/// The DynamoDB side of the CLI against moto (started by scripts/test.sh): store init,
/// inventory sync with its diff, replay into the tables, and the findings commands.
#[test]
fn dynamodb_store_init_sync_replay_and_query() {
    let endpoint = std::env::var("GOVTRAIL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("GOVTRAIL_TEST_AWS_ENDPOINT is not set: run scripts/test.sh (it starts moto)")
    });
    let store = format!("dynamodb:cli{}", std::process::id());
    let ep: &str = &endpoint;
    let init = govtrail(&["store", "init", "--store", &store, "--endpoint-url", ep]);
    assert_eq!(code(&init), 0, "{}", stderr(&init));
    let prefix = store.trim_start_matches("dynamodb:");
    assert_eq!(
        stdout(&init),
        format!(
            "{prefix}-identities: created\n{prefix}-findings: created\n{prefix}-seen: created\n{prefix}-lifecycle: created\n"
        )
    );

    let dry = govtrail(&[
        "inventory",
        "sync",
        INVENTORY,
        "--store",
        &store,
        "--endpoint-url",
        ep,
        "--dry-run",
    ]);
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    let out = stdout(&dry);
    assert!(
        out.contains("+ arn:aws:iam::111122223333:role/ci/github-deployer\n"),
        "{out}"
    );
    assert!(out.ends_with(&format!(
        "{prefix}-identities: 10 to add, 0 to change, 0 to remove, 0 unchanged (dry run: nothing written)\n"
    )), "{out}");
    let sync = govtrail(&[
        "inventory",
        "sync",
        INVENTORY,
        "--store",
        &store,
        "--endpoint-url",
        ep,
    ]);
    assert_eq!(code(&sync), 0, "{}", stderr(&sync));
    let again = govtrail(&[
        "inventory",
        "sync",
        INVENTORY,
        "--store",
        &store,
        "--endpoint-url",
        ep,
        "--dry-run",
    ]);
    assert!(stdout(&again).ends_with(&format!(
        "{prefix}-identities: 0 to add, 0 to change, 0 to remove, 10 unchanged (dry run: nothing written)\n"
    )), "{}", stdout(&again));

    let report = {
        let out = replay(&store, &["--format", "json", "--endpoint-url", ep]);
        assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
        json(&out)
    };
    assert_eq!(report["summary"]["findings_new"], 20);
    let listed = govtrail(&[
        "findings",
        "list",
        "--store",
        &store,
        "--endpoint-url",
        ep,
        "--format",
        "json",
    ]);
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    let listed = json(&listed);
    assert_eq!(listed.as_array().map(Vec::len), Some(20));
    // The same findings as a local replay, in the same order.
    let dir = tempfile::tempdir().expect("tempdir");
    let local = replay_json(&temp_store(&dir));
    assert_eq!(&listed, &local["findings"]);

    let root_id = listed
        .as_array()
        .and_then(|a| a.iter().find(|f| f["rule"] == "root-activity"))
        .and_then(|f| f["id"].as_str())
        .expect("a root-activity finding")
        .to_string();
    let ack = govtrail(&[
        "findings",
        "ack",
        &root_id,
        "--store",
        &store,
        "--endpoint-url",
        ep,
        "--reason",
        "break-glass test",
    ]);
    assert_eq!(
        stdout(&ack),
        format!("{root_id} acknowledged\n"),
        "{}",
        stderr(&ack)
    );
    let show = json(&govtrail(&[
        "findings",
        "show",
        &root_id,
        "--store",
        &store,
        "--endpoint-url",
        ep,
    ]));
    assert_eq!(show["status"], "acknowledged");
    assert_eq!(show["status_reason"], "break-glass test");
    // The identities table back to YAML: a valid inventory with the same records.
    let exported = dir.path().join("exported.yaml");
    let exported_s = exported.display().to_string();
    let out = govtrail(&[
        "inventory",
        "export",
        "--store",
        &store,
        "--endpoint-url",
        ep,
        "--out",
        &exported_s,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = govtrail(&["inventory", "validate", &exported_s]);
    assert_eq!(
        stdout(&out).trim(),
        format!("{exported_s}: ok: 9 governance records (2 wildcard patterns), 3 accounts mapped to environments")
    );
    // Synced back, it changes nothing.
    let again = govtrail(&[
        "inventory",
        "sync",
        &exported_s,
        "--store",
        &store,
        "--endpoint-url",
        ep,
        "--dry-run",
    ]);
    assert!(stdout(&again).ends_with(&format!(
        "{prefix}-identities: 0 to add, 0 to change, 0 to remove, 10 unchanged (dry run: nothing written)\n"
    )), "{}", stdout(&again));

    // The sweep with governance records from the identities table (no --inventory).
    let out = govtrail(&[
        "sweep",
        "--store",
        &store,
        "--endpoint-url",
        ep,
        "--from-snapshot",
        SNAPSHOT,
        "--now",
        SWEEP_NOW,
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    // review-overdue of svc-reporting is the finding the replayed events already raised:
    // the sweep counts into it rather than opening a second one.
    assert_eq!(
        (&v["sweep"]["findings_new"], &v["sweep"]["findings_updated"]),
        (&Value::from(8), &Value::from(1))
    );
    assert_eq!(sweep_findings(&v), example_sweep_findings());
}

const SNAPSHOT: &str = "infra/examples/iam/snapshot.json";
const SWEEP_NOW: &str = "2026-12-04T12:00:00Z";

/// (rule, principal, subject) of the findings of a sweep's JSON output.
fn sweep_findings(v: &Value) -> BTreeSet<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["principal"].as_str().unwrap().to_string(),
                f["resource"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// What the example snapshot shows against the example inventory on 2026-12-04.
fn example_sweep_findings() -> BTreeSet<(String, String, String)> {
    let jenkins = "arn:aws:iam::111122223333:role/legacy/jenkins-deployer";
    [
        ("ungoverned-identity", jenkins, ""),
        ("unused-credential", jenkins, ""),
        (
            "ungoverned-identity",
            "arn:aws:iam::111122223333:user/alice",
            "",
        ),
        ("console-password-on-nhi", REPORTING, ""),
        ("key-too-old", REPORTING, "AKIAEXAMPLEREPORT001"),
        ("two-active-keys", REPORTING, ""),
        ("review-overdue", REPORTING, ""),
        ("review-due-soon", DEPLOYER, ""),
        (
            "unknown-owner",
            "arn:aws:iam::777788889999:role/sandbox-experiments",
            "",
        ),
    ]
    .into_iter()
    .map(|(r, p, s)| (r.to_string(), p.to_string(), s.to_string()))
    .collect()
}

/// `govtrail sweep` from the example snapshot: exact findings, --fail-on, then a fixed
/// snapshot an hour later resolves what was fixed and keeps the rest.
#[test]
fn sweep_from_a_snapshot_finds_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sweep.db").display().to_string();
    let sweep = |snapshot: &str, now: &str, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "--inventory",
            INVENTORY,
            "--store",
            &db,
            "--from-snapshot",
            snapshot,
            "--now",
            now,
        ];
        args.extend_from_slice(extra);
        govtrail(&args)
    };
    let out = sweep(
        SNAPSHOT,
        SWEEP_NOW,
        &["--format", "json", "--fail-on", "high"],
    );
    assert_eq!(code(&out), 1, "high findings exist: {}", stderr(&out));
    let v = json(&out);
    assert_eq!(sweep_findings(&v), example_sweep_findings());
    let counts = &v["sweep"]["counts"];
    assert_eq!(
        (
            counts["identities"].as_u64(),
            counts["users"].as_u64(),
            counts["roles"].as_u64(),
            counts["keys"].as_u64(),
            counts["aws_managed_skipped"].as_u64(),
            counts["governed"].as_u64()
        ),
        (Some(9), Some(2), Some(6), Some(2), Some(2), Some(5))
    );

    // svc-reporting's new key is deleted and its console password removed.
    let mut snap: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(SNAPSHOT)).unwrap()).unwrap();
    for i in snap["identities"].as_array_mut().unwrap() {
        if i["principal"] == REPORTING {
            i["password_enabled"] = Value::Bool(false);
            i["keys"].as_array_mut().unwrap().truncate(1);
        }
    }
    let fixed = dir.path().join("fixed.json");
    std::fs::write(&fixed, snap.to_string()).unwrap();
    let out = sweep(&fixed.display().to_string(), "2026-12-04T13:00:00Z", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let resolved: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("resolved "))
        .map(|l| l.split(' ').nth(2).unwrap())
        .collect();
    assert_eq!(
        resolved,
        BTreeSet::from(["console-password-on-nhi", "two-active-keys"]),
        "{text}"
    );
    assert!(
        text.contains("findings new: 0  updated: 7  reopened: 0  resolved: 2  suppressed hits: 0"),
        "{text}"
    );
    let out = govtrail(&[
        "findings", "list", "--store", &db, "--status", "resolved", "--format", "json",
    ]);
    let list = json(&out);
    let reasons: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status_reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons
        .iter()
        .all(|r| r.starts_with("resolved by the sweep at 2026-12-04T13:00:00Z: ")));
}

/// `inventory discover` drafts a record for every identity, owners from tags, the rest
/// UNCLAIMED; the draft passes `inventory validate`. With an inventory, only the ungoverned.
#[test]
fn inventory_discover_drafts_a_valid_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let draft = dir.path().join("draft.yaml");
    let draft_s = draft.display().to_string();
    let out = govtrail(&[
        "inventory",
        "discover",
        "--from-snapshot",
        SNAPSHOT,
        "--out",
        &draft_s,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        format!("{draft_s}: 6 identities drafted (1 unclaimed: no owner tag)")
    );
    let text = std::fs::read_to_string(&draft).unwrap();
    assert!(
        text.contains("  # UNCLAIMED: no owner tag (govtrail:owner, owner, Owner). kind guessed: a role\n  - principal: arn:aws:iam::111122223333:role/legacy/jenkins-deployer\n    kind: workload\n"),
        "{text}"
    );
    assert!(
        text.contains("  - principal: arn:aws:iam::111122223333:role/agents/support-copilot\n    kind: agent\n    owner: support-engineering\n"),
        "{text}"
    );
    let out = govtrail(&["inventory", "validate", &draft_s]);
    assert_eq!(
        stdout(&out).trim(),
        format!("{draft_s}: ok: 6 governance records (0 wildcard patterns), 0 accounts mapped to environments"),
        "{}",
        stderr(&out)
    );
    let out = govtrail(&[
        "inventory",
        "discover",
        "--from-snapshot",
        SNAPSHOT,
        "--inventory",
        INVENTORY,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("  - principal: arn:aws:iam::111122223333:user/alice\n    kind: human\n    owner: alice@example.com\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        stderr(&out).trim(),
        "1 identity drafted (0 unclaimed: no owner tag)"
    );
}

/// The live path as a user runs it: `inventory discover` and `sweep` against moto's IAM.
#[test]
fn discover_and_sweep_a_live_account_on_the_emulator() {
    let endpoint = std::env::var("GOVTRAIL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("GOVTRAIL_TEST_AWS_ENDPOINT is not set: run scripts/test.sh (it starts moto)")
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = format!("cli-sweeper-{}", std::process::id());
    let iam = rt.block_on(async {
        let sdk = govtrail_aws::config::sdk_config(Some(&endpoint)).await;
        let iam = aws_sdk_iam::Client::new(&sdk);
        iam.create_user()
            .user_name(&name)
            .path("/ci/")
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("owner")
                    .value("team: \"platform\" # not a comment")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        iam.create_access_key()
            .user_name(&name)
            .send()
            .await
            .unwrap();
        iam
    });
    let principal = format!("arn:aws:iam::123456789012:user/ci/{name}");
    let dir = tempfile::tempdir().unwrap();
    let draft = dir.path().join("draft.yaml").display().to_string();
    let out = govtrail(&[
        "inventory",
        "discover",
        "--endpoint-url",
        &endpoint,
        "--out",
        &draft,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&draft).unwrap();
    assert!(
        text.contains(&format!(
            "  - principal: {principal}\n    kind: workload\n    owner: 'team: \"platform\" # not a comment'\n"
        )),
        "{text}"
    );
    let out = govtrail(&["inventory", "validate", &draft]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Judged 200 days on, with no record for it: ungoverned, its key too old and unused.
    let later = (chrono::Utc::now() + chrono::Duration::days(200))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let db = dir.path().join("live.db").display().to_string();
    let out = govtrail(&[
        "sweep",
        "--inventory",
        INVENTORY,
        "--store",
        &db,
        "--endpoint-url",
        &endpoint,
        "--now",
        &later,
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let mine: BTreeSet<String> = sweep_findings(&v)
        .into_iter()
        .filter(|(_, p, _)| *p == principal)
        .map(|(r, _, _)| r)
        .collect();
    assert_eq!(
        mine,
        BTreeSet::from([
            "key-too-old".to_string(),
            "ungoverned-identity".to_string(),
            "unused-credential".to_string()
        ])
    );
    assert!(v["discovery"]["credential_report"].as_bool().unwrap());
    // An account id that is not the credentials' account is refused, not trusted.
    let out = govtrail(&[
        "sweep",
        "--inventory",
        INVENTORY,
        "--store",
        ":memory:",
        "--endpoint-url",
        &endpoint,
        "--account-id",
        "999999999999",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("the account id given (999999999999) is not the account of the discovered identities (123456789012)"),
        "{}",
        stderr(&out)
    );
    assert!(v["discovery"]["calls"]["GetAccountAuthorizationDetails"].as_u64() >= Some(1));

    rt.block_on(async {
        for k in iam
            .list_access_keys()
            .user_name(&name)
            .send()
            .await
            .unwrap()
            .access_key_metadata()
        {
            iam.delete_access_key()
                .user_name(&name)
                .access_key_id(k.access_key_id().unwrap())
                .send()
                .await
                .unwrap();
        }
        iam.delete_user().user_name(&name).send().await.unwrap();
    });
}

/// Hostile or malformed snapshots: named errors, and nothing injected into a draft.
#[test]
fn snapshot_files_are_checked_and_drafts_cannot_be_injected() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, v: &Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p.display().to_string()
    };
    let mut snap: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(SNAPSHOT)).unwrap()).unwrap();
    snap["account_id"] = Value::from("111122223333\nsettings:\n  ignore_principals: ['*']\n#");
    let hostile = write("hostile.json", &snap);
    let draft = dir.path().join("draft.yaml").display().to_string();
    let out = govtrail(&[
        "inventory",
        "discover",
        "--from-snapshot",
        &hostile,
        "--owner-tag",
        "owner\nsettings: {}",
        "--out",
        &draft,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&draft).unwrap();
    assert!(!text.lines().any(|l| l.starts_with("settings")), "{text}");
    assert!(
        text.contains("# from account 111122223333 settings:   ignore_principals: ['*'] #."),
        "{text}"
    );
    let out = govtrail(&["inventory", "validate", &draft]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A misspelt field is refused, not read as "no keys".
    let mut typo: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(SNAPSHOT)).unwrap()).unwrap();
    typo["identities"][0]["access_keys"] = Value::Array(vec![]);
    let typo = write("typo.json", &typo);
    let out = govtrail(&[
        "sweep",
        "--inventory",
        INVENTORY,
        "--store",
        ":memory:",
        "--from-snapshot",
        &typo,
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not a govtrail snapshot (as written by --save-snapshot)")
            && stderr(&out).contains("unknown field `access_keys`"),
        "{}",
        stderr(&out)
    );
    // The same identity twice.
    let mut dup: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(SNAPSHOT)).unwrap()).unwrap();
    let first = dup["identities"][0].clone();
    dup["identities"].as_array_mut().unwrap().push(first);
    let dup = write("dup.json", &dup);
    let out = govtrail(&[
        "sweep",
        "--inventory",
        INVENTORY,
        "--store",
        ":memory:",
        "--from-snapshot",
        &dup,
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(
            "identities[9]: arn:aws:iam::111122223333:role/ci/github-deployer appears twice"
        ),
        "{}",
        stderr(&out)
    );
}
