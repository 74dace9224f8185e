//! Every AWS action the functions call is allowed by their policies in template.yaml.
//!
//! A moto server of its own, with IAM enforcement switched on after the setup
//! (`/moto-api/reset-auth`), and one IAM user per function holding exactly the actions of that
//! function's template statements. moto matches actions but names no resource for DynamoDB,
//! SNS or IAM requests, so the statements' resources are widened to `*` here: this catches a
//! missing action (a new API call without its permission), not a too-narrow resource; the
//! resources are held by scripts/check_template.py. A user without one needed action is
//! refused, which shows the enforcement is real.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use govtrail_aws::discovery::DiscoveryOptions;
use govtrail_aws::identities::{inventory_items, put_items};
use govtrail_aws::service::{handle_eventbridge, Service};
use govtrail_aws::sweep::{run, SweepTarget};
use govtrail_aws::tables::create_tables;
use govtrail_aws::TableNames;
use govtrail_core::Inventory;
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first plain (not gzipped, not digest) example CloudTrail log file.
fn log_file() -> PathBuf {
    let mut stack = vec![repo().join("infra/examples/cloudtrail/AWSLogs")];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().contains("Digest")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files.into_iter().next().unwrap()
}

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A moto server of this test's own (enforcing IAM is a server-wide switch).
fn start_moto() -> Moto {
    let bin = std::env::var("GOVTRAIL_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join(".venv/bin/moto_server"));
    assert!(
        bin.exists(),
        "{} not found: run scripts/test.sh (it installs moto in .venv)",
        bin.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log =
        std::fs::File::create(std::env::temp_dir().join(format!("govtrail-moto-auth-{port}.log")))
            .unwrap();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    // Owned by `Moto` at once: it is killed and waited for however this test ends.
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return moto;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto did not start on {}", moto.url);
}

fn post(url: &str, body: &str) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let (host, rest) = addr.split_once('/').unwrap_or((addr, ""));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST /{rest} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"),
        "{out}"
    );
}

/// The actions of a function's Allow statements in template.yaml (both branches of an `!If`).
fn template_actions(function: &str) -> BTreeSet<String> {
    let doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo().join("template.yaml")).unwrap())
            .unwrap();
    let mut actions = BTreeSet::new();
    fn statements(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Tagged(t) => statements(&t.value, out),
            Value::Sequence(s) => s.iter().for_each(|x| statements(x, out)),
            Value::Mapping(m) if m.contains_key("Effect") => out.push(v.clone()),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for p in doc["Resources"][function]["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{function} has no Policies"))
    {
        statements(&p["Statement"], &mut found);
    }
    for st in found {
        assert_eq!(st["Effect"].as_str(), Some("Allow"));
        match &st["Action"] {
            Value::String(a) => {
                actions.insert(a.clone());
            }
            Value::Sequence(v) => actions.extend(v.iter().map(|a| a.as_str().unwrap().to_string())),
            other => panic!("{function}: action {other:?}"),
        }
    }
    actions
}

/// An IAM user allowed exactly `actions` (on any resource); returns an SDK config signing as it.
async fn principal(
    admin: &aws_sdk_iam::Client,
    base: &aws_config::SdkConfig,
    name: &str,
    actions: &BTreeSet<String>,
) -> aws_config::SdkConfig {
    admin.create_user().user_name(name).send().await.unwrap();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
    });
    admin
        .put_user_policy()
        .user_name(name)
        .policy_name("template")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let key = admin
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    base.to_builder()
        .credentials_provider(aws_sdk_iam::config::SharedCredentialsProvider::new(
            aws_sdk_iam::config::Credentials::new(
                key.access_key_id(),
                key.secret_access_key(),
                None,
                None,
                "template-policy",
            ),
        ))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_need_no_action_their_template_policy_lacks() {
    let moto = start_moto();
    let base = govtrail_aws::config::sdk_config(Some(&moto.url)).await;
    let admin = aws_sdk_iam::Client::new(&base);
    let dynamo = aws_sdk_dynamodb::Client::new(&base);
    let tables = TableNames::for_prefix("perm");
    create_tables(&dynamo, &tables).await.unwrap();
    let inv = Inventory::load(&repo().join("infra/examples/inventory.yaml")).unwrap();
    let items = inventory_items(&inv).unwrap();
    put_items(&dynamo, &tables.identities, items).await.unwrap();
    let topic = aws_sdk_sns::Client::new(&base)
        .create_topic()
        .name("perm-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    for i in 0..4 {
        let name = format!("discovered-{i}");
        admin.create_user().user_name(&name).send().await.unwrap();
        admin
            .create_access_key()
            .user_name(&name)
            .send()
            .await
            .unwrap();
    }
    // moto authorises a transaction by its operation name; AWS by the actions of its items
    // (PutItem, ConditionCheckItem: in the template). No IAM action is named
    // TransactWriteItems on AWS, so granting it here widens nothing real.
    let moto_only = |mut a: BTreeSet<String>| {
        if a.contains("dynamodb:PutItem") && a.contains("dynamodb:ConditionCheckItem") {
            a.insert("dynamodb:TransactWriteItems".to_string());
        }
        a
    };
    let sweep_actions = moto_only(template_actions("InventorySweepFunction"));
    let sweeper = principal(&admin, &base, "sweeper", &sweep_actions).await;
    let mut lacking = sweep_actions.clone();
    assert!(lacking.remove("dynamodb:BatchGetItem"));
    let lacking = principal(&admin, &base, "sweeper-lacking", &lacking).await;
    let events = principal(
        &admin,
        &base,
        "events",
        &moto_only(template_actions("CloudTrailEventsFunction")),
    )
    .await;
    let logs = principal(
        &admin,
        &base,
        "logs",
        &moto_only(template_actions("CloudTrailLogsFunction")),
    )
    .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&base)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("perm-trail")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let log_path = log_file();
    let log_key = log_path
        .to_string_lossy()
        .split_once("AWSLogs/")
        .map(|(_, k)| format!("AWSLogs/{k}"))
        .unwrap();
    let log_key = log_key.as_str();
    let log_body = std::fs::read(&log_path).unwrap();
    s3.put_object()
        .bucket("perm-trail")
        .key(log_key)
        .body(log_body.clone().into())
        .send()
        .await
        .unwrap();
    let no_publish = principal(
        &admin,
        &base,
        "no-publish",
        &BTreeSet::from(["dynamodb:GetItem".to_string()]),
    )
    .await;
    // From here on moto checks every request against the caller's IAM policies.
    post(&format!("{}/moto-api/reset-auth", moto.url), "0");

    // SNS: moto rejects the signature of a query body with a space encoded as %20, as the
    // Rust SDK encodes it (boto3 sends '+'), so alert bodies cannot go through enforcing moto.
    // sns:Publish itself is checked here with a body without spaces, for both principals, and
    // a principal without it is refused; the event path below alerts through the shared moto.
    for (who, creds) in [("sweeper", &sweeper), ("events", &events)] {
        aws_sdk_sns::Client::new(creds)
            .publish()
            .topic_arn(&topic)
            .message("{\"probe\":\"sns:Publish\"}")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{who} may not publish: {e:?}"));
    }
    let refused = aws_sdk_sns::Client::new(&no_publish)
        .publish()
        .topic_arn(&topic)
        .message("x")
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a principal without sns:Publish must be refused"
    );
    let target = SweepTarget {
        tables: tables.clone(),
        topic_arn: None,
    };
    let opts = DiscoveryOptions {
        report_poll: Duration::from_millis(20),
        ..DiscoveryOptions::default()
    };
    let out = run(&sweeper, &target, &opts, Utc::now()).await.unwrap();
    assert!(out.report.findings_new >= 4, "{:?}", out.report);
    // The same sweep again reads every finding back (BatchGetItem) and counts into it.
    let again = run(
        &sweeper,
        &target,
        &opts,
        Utc::now() + chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(again.report.findings_updated, out.report.findings_new);

    let err = run(
        &lacking,
        &target,
        &opts,
        Utc::now() + chrono::Duration::hours(2),
    )
    .await
    .unwrap_err();
    // moto's refusal carries no error code the SDK can read: a bare 403 on the batch read.
    assert!(
        err.to_string().starts_with("reading findings: HTTP 403"),
        "{err}"
    );

    // The event path: a root sign-in (finding, alert) and a DeleteUser (lifecycle write).
    let mut service = Service::new(
        &events,
        tables.clone(),
        topic,
        Duration::from_secs(300),
        None,
        tokio::runtime::Handle::current(),
    );
    // Alerts go to the suite's shared (non-enforcing) moto: see the SNS note above.
    let shared = govtrail_aws::config::sdk_config(Some(
        &std::env::var("GOVTRAIL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
            panic!("GOVTRAIL_TEST_AWS_ENDPOINT is not set: run scripts/test.sh (it starts moto)")
        }),
    ))
    .await;
    service.sns = aws_sdk_sns::Client::new(&shared);
    let topic_arn = service
        .sns
        .create_topic()
        .name("perm-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    service.topic_arn = topic_arn.clone();
    let service = Arc::new(service);
    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::env::var("GOVTRAIL_SHARED")
                .map(PathBuf::from)
                .unwrap_or_else(|_| repo().join("../shared"))
                .join("cases/bugreports/08-root-console-login-eventbridge.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let summary = handle_eventbridge(service.clone(), case["input"].clone())
        .await
        .unwrap();
    assert_eq!((summary.findings_new, summary.alerts_sent), (1, 1));
    let mut delete = case["input"].clone();
    delete["id"] = "perm-delete".into();
    delete["detail"]["eventID"] = "perm-delete-1".into();
    delete["detail"]["eventName"] = "DeleteUser".into();
    delete["detail"]["eventSource"] = "iam.amazonaws.com".into();
    delete["detail"]["eventType"] = "AwsApiCall".into();
    delete["detail"]["requestParameters"] = serde_json::json!({"userName": "svc-reporting"});
    delete["detail"]["responseElements"] = serde_json::Value::Null;
    let summary = handle_eventbridge(service, delete).await.unwrap();
    assert_eq!(summary.lifecycle_changes, 1, "{summary:?}");

    // The log-file path: the object read from the trail bucket with the logs function's
    // actions, every record evaluated, no batch item failure.
    let mut service = Service::new(
        &logs,
        tables.clone(),
        String::new(),
        Duration::from_secs(300),
        None,
        tokio::runtime::Handle::current(),
    );
    service.sns = aws_sdk_sns::Client::new(&shared);
    service.topic_arn = topic_arn.clone();
    let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
    message.message_id = Some("perm-1".into());
    message.body = Some(
        serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "perm-trail"}, "object": {"key": log_key, "size": log_body.len()}}
        }]})
        .to_string(),
    );
    let mut batch = aws_lambda_events::event::sqs::SqsEvent::default();
    batch.records = vec![message];
    let response = govtrail_aws::service::handle_sqs(Arc::new(service), batch).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    // Enforcement off again: the findings of that file's events are in the table.
    post(&format!("{}/moto-api/reset-auth", moto.url), "inf");
    let log: serde_json::Value = serde_json::from_slice(&log_body).unwrap();
    let ids: BTreeSet<String> = log["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["eventID"].as_str().map(String::from))
        .collect();
    let store = govtrail_aws::DynamoFindingStore::new(
        dynamo.clone(),
        tables.clone(),
        tokio::runtime::Handle::current(),
    );
    let findings = tokio::task::block_in_place(|| {
        govtrail_core::FindingStore::list(&store, &Default::default())
    })
    .unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.event_ids.iter().any(|e| ids.contains(e))),
        "no finding from {}",
        log_file().display()
    );
}
