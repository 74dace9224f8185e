//! The Lambda handlers against moto on 127.0.0.1: EventBridge events and SQS batches of log
//! notifications, end to end through DynamoDB, S3 and SNS.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use govtrail_aws::identities::{inventory_items, put_items};
use govtrail_aws::service::{handle_eventbridge, handle_sqs, Quarantine, Service};
use govtrail_aws::tables::create_tables;
use govtrail_aws::TableNames;
use govtrail_core::finding::FindingFilter;
use govtrail_core::{FindingStore, Inventory, RuleId};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn endpoint() -> String {
    std::env::var("GOVTRAIL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("GOVTRAIL_TEST_AWS_ENDPOINT is not set: run scripts/test.sh (it starts moto)")
    })
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> PathBuf {
    std::env::var("GOVTRAIL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("../shared"))
}

struct World {
    service: Arc<Service>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    bucket: String,
    tables: TableNames,
}

/// Tables, a topic with an SQS subscriber (to read alerts back), a trail bucket and a
/// quarantine bucket, all fresh for one test.
async fn world(endpoint: &str, name: &str) -> World {
    let sdk = govtrail_aws::config::sdk_config(Some(endpoint)).await;
    let id = format!(
        "h{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let tables = TableNames::for_prefix(&id);
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    create_tables(&dynamo, &tables).await.unwrap();
    let inv = Inventory::load(&repo().join("infra/examples/inventory.yaml")).unwrap();
    let items = inventory_items(&inv).unwrap();
    put_items(&dynamo, &tables.identities, items).await.unwrap();
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name(&id)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(&id)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&arn)
        .send()
        .await
        .unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("{id}-trail").to_lowercase();
    let qbucket = format!("{id}-quarantine").to_lowercase();
    for b in [&bucket, &qbucket] {
        s3.create_bucket()
            .bucket(b)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let service = Arc::new(Service::new(
        &sdk,
        tables.clone(),
        topic,
        Duration::from_secs(300),
        Some(Quarantine {
            bucket: qbucket,
            prefix: "govtrail-quarantine/".into(),
        }),
        tokio::runtime::Handle::current(),
    ));
    World {
        service,
        sqs,
        queue_url,
        bucket,
        tables,
    }
}

impl World {
    async fn alerts(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            let msgs = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                let env: serde_json::Value =
                    serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
                out.push(serde_json::from_str(env["Message"].as_str().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.service
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    fn findings(&self) -> Vec<govtrail_core::Finding> {
        let svc = self.service.clone();
        let tables = self.tables.clone();
        let handle = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            govtrail_aws::DynamoFindingStore::new(svc.dynamo.clone(), tables, handle)
                .list(&FindingFilter::default())
                .unwrap()
        })
        .join()
        .unwrap()
    }
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn s3_notification(bucket: &str, key: &str, size: usize) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(' ', "+"), "size": size}}
    }]})
    .to_string()
}

fn batch(records: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = records;
    e
}

fn message(id: &str, body: String) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_string());
    m.body = Some(body);
    m
}

fn root_login_envelope() -> serde_json::Value {
    let text = std::fs::read_to_string(
        shared().join("cases/bugreports/08-root-console-login-eventbridge.json"),
    )
    .unwrap();
    let case: serde_json::Value = serde_json::from_str(&text).unwrap();
    case["input"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_event_is_evaluated_once_and_alerted_once() {
    let w = world(&endpoint(), "eb").await;
    let env = root_login_envelope();
    let first = handle_eventbridge(w.service.clone(), env.clone())
        .await
        .unwrap();
    assert_eq!(
        (
            first.records,
            first.evaluated,
            first.findings_new,
            first.alerts_sent
        ),
        (1, 1, 1, 1)
    );
    // EventBridge delivers at least once: the same event again changes nothing.
    let again = handle_eventbridge(w.service.clone(), env).await.unwrap();
    assert_eq!(
        (
            again.findings_new,
            again.findings_updated,
            again.duplicate_hits,
            again.alerts_sent
        ),
        (0, 0, 1, 0)
    );
    let f = w.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, RuleId::RootActivity);
    assert_eq!(f[0].principal, "arn:aws:iam::111122223333:root");
    assert_eq!(f[0].count, 1);
    let alerts = w.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["kind"], "new");
    assert_eq!(alerts[0]["finding"]["rule"], "root-activity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_notifications_in_every_shape_and_a_corrupt_object() {
    let w = world(&endpoint(), "logs").await;
    let dir = repo()
        .join("infra/examples/cloudtrail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let plain = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let gz = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "gz"))
        .unwrap();
    let key_a = format!(
        "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/{}",
        gz.file_name().unwrap().to_string_lossy()
    );
    let key_b = format!(
        "org trail/AWSLogs/o-example/111122223333/CloudTrail/eu-west-1/2026/11/30/{}.gz",
        plain.file_name().unwrap().to_string_lossy()
    );
    let body_a = std::fs::read(gz).unwrap();
    let body_b = gzip(&std::fs::read(plain).unwrap());
    w.put(&key_a, body_a.clone()).await;
    w.put(&key_b, body_b.clone()).await;
    let corrupt_key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/111122223333_CloudTrail_eu-west-1_20261130T1200Z_broken.json.gz";
    w.put(corrupt_key, body_a[..body_a.len() / 2].to_vec())
        .await;

    let raw_a = s3_notification(&w.bucket, &key_a, body_a.len());
    let sns_b = serde_json::json!({
        "Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:fanout",
        "Message": s3_notification(&w.bucket, &key_b, body_b.len())
    })
    .to_string();
    let digest = s3_notification(&w.bucket, "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/30/111122223333_CloudTrail-Digest_eu-west-1_t_us-east-1_20261130T100000Z.json.gz", 812);
    let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-30T09:00:00.000Z","Bucket":"b"}"#.to_string();
    let corrupt = s3_notification(&w.bucket, corrupt_key, body_a.len() / 2);
    let event = batch(vec![
        message("raw-a", raw_a.clone()),
        message("sns-b", sns_b),
        message("digest", digest),
        message("test", test_event),
        message("corrupt", corrupt),
        message("raw-a-again", raw_a),
        message("junk", "not json".into()),
    ]);
    let resp = handle_sqs(w.service.clone(), event).await;
    let failed: Vec<String> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec!["corrupt".to_string()]);

    // The same files replayed locally give the same findings.
    let inv = Inventory::load(&repo().join("infra/examples/inventory.yaml")).unwrap();
    let mut local = govtrail_core::MemoryStore::new();
    {
        let now = chrono::Utc::now();
        let mut p = govtrail_core::Pipeline::new(&inv, &inv.settings, &mut local, None, now);
        p.process_stream("a", flate2::read::MultiGzDecoder::new(&body_a[..]))
            .unwrap();
        p.process_stream("b", flate2::read::MultiGzDecoder::new(&body_b[..]))
            .unwrap();
        p.finish().unwrap();
    }
    let mut want: Vec<(String, String, u64)> = local
        .list(&FindingFilter::default())
        .unwrap()
        .into_iter()
        .map(|f| (f.rule.as_str().to_string(), f.principal, f.count))
        .collect();
    let mut got: Vec<(String, String, u64)> = w
        .findings()
        .into_iter()
        .map(|f| (f.rule.as_str().to_string(), f.principal, f.count))
        .collect();
    want.sort();
    got.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    let alerts = w.alerts().await;
    let new_unsuppressed = got.len() as u64
        - local
            .list(&FindingFilter {
                status: Some(govtrail_core::Status::Suppressed),
                ..Default::default()
            })
            .unwrap()
            .len() as u64;
    assert_eq!(alerts.len() as u64, new_unsuppressed);

    // The message that was not a notification is kept in the quarantine bucket.
    let q = w.service.quarantine.clone().unwrap();
    let listed = w
        .service
        .s3
        .list_objects_v2()
        .bucket(&q.bucket)
        .prefix(&q.prefix)
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].ends_with("/sqs-junk.json"), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_seen_by_eventbridge_and_in_the_log_file_counts_once() {
    let w = world(&endpoint(), "both").await;
    let env = root_login_envelope();
    handle_eventbridge(w.service.clone(), env.clone())
        .await
        .unwrap();
    let log = serde_json::json!({"Records": [env["detail"].clone()]}).to_string();
    let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/05/111122223333_CloudTrail_us-east-1_20240305T1020Z_both.json.gz";
    let body = gzip(log.as_bytes());
    w.put(key, body.clone()).await;
    let resp = handle_sqs(
        w.service.clone(),
        batch(vec![message(
            "m1",
            s3_notification(&w.bucket, key, body.len()),
        )]),
    )
    .await;
    assert!(resp.batch_item_failures.is_empty());
    let f = w.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].count, 1);
    assert_eq!(w.alerts().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_backend_fails_for_retry_and_records_nothing() {
    let sdk = govtrail_aws::config::sdk_config(Some("http://127.0.0.1:9")).await;
    let service = Arc::new(Service::new(
        &sdk,
        TableNames::for_prefix("down"),
        "arn:aws:sns:eu-west-1:123456789012:down".into(),
        Duration::from_secs(300),
        None,
        tokio::runtime::Handle::current(),
    ));
    let err = handle_eventbridge(service.clone(), root_login_envelope())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    let resp = handle_sqs(service, batch(vec![message("m1", s3_notification("b", "AWSLogs/1/CloudTrail/eu-west-1/2024/03/05/1_CloudTrail_eu-west-1_20240305T1020Z_x.json.gz", 10))])).await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    assert_eq!(resp.batch_item_failures[0].item_identifier, "m1");
}

/// Steady state: a stream of log files from the same identities. Prints the DynamoDB requests
/// per event (run with --nocapture) and holds the bound the design promises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_costs_well_under_one_identity_read_per_event() {
    let w = world(&endpoint(), "cost").await;
    let dir = repo()
        .join("infra/examples/cloudtrail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30");
    let mut records: Vec<serde_json::Value> = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let text = if p.extension().is_some_and(|x| x == "gz") {
            let mut s = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                &mut s,
            )
            .unwrap();
            s
        } else {
            String::from_utf8(bytes).unwrap()
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        records.extend(v["Records"].as_array().unwrap().iter().cloned());
    }
    let files = 10;
    let per_file = 200;
    let mut msgs = Vec::new();
    for f in 0..files {
        let recs: Vec<serde_json::Value> = (0..per_file)
            .map(|i| {
                let mut r = records[i % records.len()].clone();
                r["eventID"] = serde_json::Value::from(format!("cost-{f}-{i}"));
                r
            })
            .collect();
        let body = gzip(
            serde_json::json!({ "Records": recs })
                .to_string()
                .as_bytes(),
        );
        let key = format!("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/111122223333_CloudTrail_eu-west-1_20261130T10{f:02}Z_cost.json.gz");
        w.put(&key, body.clone()).await;
        msgs.push(message(
            &format!("m{f}"),
            s3_notification(&w.bucket, &key, body.len()),
        ));
    }
    let resp = handle_sqs(w.service.clone(), batch(msgs)).await;
    assert!(resp.batch_item_failures.is_empty());
    let events = (files * per_file) as f64;
    use std::sync::atomic::Ordering::Relaxed;
    let identity = w.service.source.reads.load(Relaxed) as f64;
    let reads = w.service.finding_reads.load(Relaxed) as f64;
    let writes = w.service.finding_writes.load(Relaxed) as f64;
    eprintln!(
        "cost: {events} events: identity reads {identity} ({:.4}/event), finding reads {reads} ({:.4}/event), finding transactions {writes} ({:.4}/event)",
        identity / events,
        reads / events,
        writes / events
    );
    // Within the cache TTL every principal is read once, whatever the volume.
    assert!(
        identity / events < 0.02,
        "{identity} identity reads for {events} events"
    );
    // One read and one transaction per finding per batch, not per event.
    assert!(
        writes / events < 0.5,
        "{writes} transactions for {events} events"
    );
}

/// A stand-in for a throttled DynamoDB: a local HTTP server that answers every request with
/// DynamoDB's ThrottlingException. The SDK retries, then the handler fails for a Lambda retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_backend_fails_for_retry_and_records_nothing() {
    let served = Arc::new(AtomicU32::new(0));
    let count = served.clone();
    let url = common::stand_in(move |_, _| {
        count.fetch_add(1, Ordering::Relaxed);
        common::Reply {
            status: "400 Bad Request",
            content_type: "application/x-amz-json-1.0",
            headers: "x-amzn-ErrorType: ThrottlingException\r\n".into(),
            body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#.into(),
        }
    });
    let sdk = govtrail_aws::config::sdk_config(Some(&url)).await;
    let service = Arc::new(Service::new(
        &sdk,
        TableNames::for_prefix("throttled"),
        "arn:aws:sns:eu-west-1:123456789012:t".into(),
        Duration::from_secs(300),
        None,
        tokio::runtime::Handle::current(),
    ));
    let err = handle_eventbridge(service, root_login_envelope())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("ThrottlingException"), "{err}");
    // The SDK's standard retry made more than one attempt before giving up.
    assert!(served.load(Ordering::Relaxed) >= 2);
}

/// An EventBridge envelope of one successful IAM call by alice.
fn iam_envelope(id: &str, event_name: &str, params: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": "111122223333",
        "time": "2026-12-02T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:alice",
                "arn": "arn:aws:sts::111122223333:assumed-role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_4f2c1b9e8d7a6f53/alice",
                "accountId": "111122223333",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_4f2c1b9e8d7a6f53",
                        "accountId": "111122223333",
                        "userName": "AWSReservedSSO_AdministratorAccess_4f2c1b9e8d7a6f53"
                    },
                    "attributes": {"creationDate": "2026-12-02T09:00:00Z", "mfaAuthenticated": "false"}
                }
            },
            "eventTime": "2026-12-02T10:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": event_name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": params,
            "responseElements": null,
            "requestID": format!("req-{id}"),
            "eventID": format!("evt-{id}"),
            "readOnly": false,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": "111122223333",
            "eventCategory": "Management"
        }
    })
}

/// Lifecycle from events: deleting a governed user raises stale-record (the finding the sweep
/// would raise) and the change is kept once in the lifecycle table for the next sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_governed_user_raises_stale_record_and_records_the_change_once() {
    use govtrail_aws::lifecycle::DynamoLifecycleStore;
    use govtrail_core::lifecycle::LifecycleEvent;
    let w = world(&endpoint(), "lc").await;
    let delete = iam_envelope(
        "del-1",
        "DeleteUser",
        serde_json::json!({"userName": "svc-reporting"}),
    );
    let update = iam_envelope(
        "upd-1",
        "UpdateAccessKey",
        serde_json::json!({"userName": "svc-reporting", "accessKeyId": "AKIAEXAMPLEREPORT001", "status": "Inactive"}),
    );
    for env in [&delete, &update, &delete] {
        handle_eventbridge(w.service.clone(), env.clone())
            .await
            .unwrap();
    }
    let stale: Vec<_> = w
        .findings()
        .into_iter()
        .filter(|f| f.rule == RuleId::StaleRecord)
        .collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(
        stale[0].principal,
        "arn:aws:iam::111122223333:user/svc-reporting"
    );
    assert_eq!(stale[0].owner.as_deref(), Some("finance-analytics"));
    assert_eq!(stale[0].count, 1, "the re-delivered DeleteUser counts once");
    let store = DynamoLifecycleStore::new(
        w.service.dynamo.clone(),
        w.tables.lifecycle.clone(),
        tokio::runtime::Handle::current(),
    );
    let changes = store.read_since(None).await.unwrap();
    let events: Vec<&LifecycleEvent> = changes.iter().map(|c| &c.event).collect();
    assert_eq!(
        events,
        vec![
            &LifecycleEvent::IdentityDeleted {
                principal: "arn:aws:iam::111122223333:user/svc-reporting".into()
            },
            &LifecycleEvent::KeyStatus {
                principal: "arn:aws:iam::111122223333:user/svc-reporting".into(),
                key_id: "AKIAEXAMPLEREPORT001".into(),
                active: false
            },
        ]
    );
}

/// A backend failing with a bare HTTP 500 (no error code, as moto does when it breaks) is a
/// transient failure, retried by Lambda, and the error says what came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_server_error_is_transient() {
    let url = common::stand_in(|_, _| common::Reply {
        status: "500 Internal Server Error",
        content_type: "text/html",
        headers: String::new(),
        body: "<html>Internal Server Error</html>".into(),
    });
    let sdk = govtrail_aws::config::sdk_config(Some(&url)).await;
    let service = Arc::new(Service::new(
        &sdk,
        TableNames::for_prefix("broken"),
        "arn:aws:sns:eu-west-1:123456789012:t".into(),
        Duration::from_secs(300),
        None,
        tokio::runtime::Handle::current(),
    ));
    let err = handle_eventbridge(service, root_login_envelope())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string().contains("HTTP 500 without an error code"),
        "{err}"
    );
}
