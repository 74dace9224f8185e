//! The AWS adapters against a real emulator: moto's server on 127.0.0.1, started by
//! scripts/test.sh (`GOVTRAIL_TEST_AWS_ENDPOINT`). Each test works in its own tables.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_dynamodb::Client as Dynamo;
use chrono::{DateTime, Utc};
use govtrail_aws::identities::{inventory_items, put_items};
use govtrail_aws::tables::{create_tables, specs};
use govtrail_aws::{DynamoFindingStore, DynamoGovernanceSource, SnsAlertSink, TableNames};
use govtrail_core::finding::FindingFilter;
use govtrail_core::rules::GovernanceLookup;
use govtrail_core::{FindingStore, Inventory, Pipeline, SqliteStore, Status};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn endpoint() -> String {
    std::env::var("GOVTRAIL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("GOVTRAIL_TEST_AWS_ENDPOINT is not set: run scripts/test.sh (it starts moto), or `source scripts/emulator.sh` first")
    })
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn prefix(name: &str) -> String {
    format!(
        "t{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

struct Env {
    rt: tokio::runtime::Runtime,
    sdk: aws_config::SdkConfig,
}

fn env() -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sdk = rt.block_on(govtrail_aws::config::sdk_config(Some(&endpoint())));
    Env { rt, sdk }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples_inventory() -> Inventory {
    Inventory::load(&repo().join("infra/examples/inventory.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn setup(e: &Env, name: &str) -> (Dynamo, TableNames) {
    let client = Dynamo::new(&e.sdk);
    let names = TableNames::for_prefix(&prefix(name));
    let created = e.rt.block_on(create_tables(&client, &names)).unwrap();
    assert_eq!(created.len(), 4, "identities, findings, seen, lifecycle");
    (client, names)
}

fn sync_inventory(e: &Env, client: &Dynamo, names: &TableNames, inv: &Inventory) {
    let items = inventory_items(inv).unwrap();
    e.rt.block_on(put_items(client, &names.identities, items))
        .unwrap();
}

#[test]
fn store_init_creates_the_documented_tables() {
    let e = env();
    let (client, names) = setup(&e, "init");
    for spec in specs(&names) {
        let t =
            e.rt.block_on(client.describe_table().table_name(&spec.name).send())
                .unwrap()
                .table
                .unwrap();
        let key: Vec<String> = t
            .key_schema()
            .iter()
            .map(|k| k.attribute_name().to_string())
            .collect();
        assert_eq!(key, vec![spec.key.to_string()]);
        let mut indexes: Vec<(String, Vec<String>)> = t
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                (
                    g.index_name().unwrap_or("").to_string(),
                    g.key_schema()
                        .iter()
                        .map(|k| k.attribute_name().to_string())
                        .collect(),
                )
            })
            .collect();
        indexes.sort();
        let mut want: Vec<(String, Vec<String>)> = spec
            .indexes
            .iter()
            .map(|(n, h, r)| {
                (
                    n.to_string(),
                    std::iter::once(*h).chain(*r).map(String::from).collect(),
                )
            })
            .collect();
        want.sort();
        assert_eq!(indexes, want, "{}", spec.name);
    }
    // Running it again creates nothing.
    assert!(e
        .rt
        .block_on(create_tables(&client, &names))
        .unwrap()
        .is_empty());
}

#[test]
fn replay_into_dynamodb_matches_the_local_store_and_is_idempotent() {
    let e = env();
    let (client, names) = setup(&e, "replay");
    let inv = examples_inventory();
    sync_inventory(&e, &client, &names, &inv);
    let examples = repo().join("infra/examples/cloudtrail");

    let mut local = SqliteStore::in_memory().unwrap();
    let local_summary = {
        let mut p = Pipeline::new(&inv, &inv.settings, &mut local, None, now());
        for s in p.discover(std::slice::from_ref(&examples)) {
            p.process_source(&s).unwrap();
        }
        p.finish().unwrap()
    };

    let handle = e.rt.handle().clone();
    let source = DynamoGovernanceSource::new(
        client.clone(),
        &names,
        Duration::from_secs(300),
        handle.clone(),
    );
    let settings = source.load_settings().unwrap();
    assert_eq!(settings.accounts, inv.settings.accounts);
    let mut remote = DynamoFindingStore::new(client.clone(), names.clone(), handle.clone());
    let run = |remote: &mut DynamoFindingStore| {
        let mut p = Pipeline::new(&source, &settings, remote, None, now());
        for s in p.discover(std::slice::from_ref(&examples)) {
            p.process_source(&s).unwrap();
        }
        p.finish().unwrap()
    };
    let first = run(&mut remote);
    assert_eq!(first.records, local_summary.records);
    assert_eq!(first.findings_new, local_summary.findings_new);
    assert_eq!(first.findings_updated, local_summary.findings_updated);
    assert_eq!(first.duplicate_hits, local_summary.duplicate_hits);
    assert_eq!(first.suppressed_hits, local_summary.suppressed_hits);

    let all = FindingFilter::default();
    let a = local.list(&all).unwrap();
    let b = remote.list(&all).unwrap();
    assert_eq!(a.len(), 20);
    assert_eq!(a, b, "the local and DynamoDB stores disagree");

    // Replaying the same files again counts nothing twice.
    let second = run(&mut remote);
    assert_eq!(second.findings_new, 0);
    assert_eq!(second.findings_updated, 0);
    assert_eq!(
        second.duplicate_hits,
        first.findings_new + first.findings_updated + first.duplicate_hits
    );
    assert_eq!(remote.list(&all).unwrap(), a);

    // Queries by the indexes.
    let owner = a.iter().find_map(|f| f.owner.clone()).unwrap();
    let by_owner = remote
        .list(&FindingFilter {
            owner: Some(owner.clone()),
            ..Default::default()
        })
        .unwrap();
    let want: Vec<_> = a
        .iter()
        .filter(|f| f.owner.as_deref() == Some(owner.as_str()))
        .cloned()
        .collect();
    assert_eq!(by_owner, want);
    let critical_open = remote
        .list(&FindingFilter {
            status: Some(Status::Open),
            min_severity: Some(govtrail_core::Severity::Critical),
            ..Default::default()
        })
        .unwrap();
    let want: Vec<String> = a
        .iter()
        .filter(|f| f.status == Status::Open && f.severity == govtrail_core::Severity::Critical)
        .map(|f| f.rule.as_str().to_string())
        .collect();
    assert_eq!(
        critical_open
            .iter()
            .map(|f| f.rule.as_str().to_string())
            .collect::<Vec<_>>(),
        want
    );
    assert_eq!(want.len(), 3);

    // Status changes round-trip.
    let id = a[0].id.clone();
    let acked = remote
        .set_status(&id, Status::Acknowledged, Some("on it".into()), None, now())
        .unwrap();
    assert_eq!(remote.get(&id).unwrap().unwrap(), acked);
    assert_eq!(acked.status, Status::Acknowledged);

    // Cost: governance reads are batched, well under one per event.
    let reads = source.reads.load(Relaxed);
    assert!(reads > 0);
    assert!(
        reads * 4 < first.records * 2,
        "{reads} identity reads for {} records",
        first.records * 2
    );
}

#[test]
fn governance_source_finds_exact_pattern_and_pathless_records_with_few_reads() {
    let e = env();
    let (client, names) = setup(&e, "source");
    let inv = examples_inventory();
    sync_inventory(&e, &client, &names, &inv);
    let source = DynamoGovernanceSource::new(
        client,
        &names,
        Duration::from_secs(300),
        e.rt.handle().clone(),
    );
    let deployer = "arn:aws:iam::111122223333:role/ci/github-deployer";
    let sso =
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123";
    let pathless = "arn:aws:iam::111122223333:role/github-deployer";
    let nobody = "arn:aws:iam::111122223333:user/nobody";
    let principals = [deployer, sso, pathless, nobody];
    std::thread::spawn(move || {
        source.prefetch(&principals).unwrap();
        let after_first = source.reads.load(Relaxed);
        // the patterns query, one BatchGetItem, and a by-name query for each IAM user or
        // role without an exact record (the SSO role, the pathless role, nobody)
        assert_eq!(after_first, 5);
        let owner = |p: &str| source.find(p).and_then(|r| r.owner.clone());
        assert_eq!(owner(deployer).as_deref(), Some("platform-team"));
        assert_eq!(owner(pathless).as_deref(), Some("platform-team"));
        assert!(source.find(sso).is_some());
        assert!(source.find(nobody).is_none());
        // Within the TTL nothing is read again.
        source.prefetch(&principals).unwrap();
        assert_eq!(source.reads.load(Relaxed), after_first);
    })
    .join()
    .unwrap();
}

#[test]
fn unreachable_dynamodb_fails_the_batch_as_transient_and_records_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sdk = rt.block_on(govtrail_aws::config::sdk_config(Some("http://127.0.0.1:9")));
    let client = Dynamo::new(&sdk);
    let names = TableNames::for_prefix("unreachable");
    let source = DynamoGovernanceSource::new(
        client.clone(),
        &names,
        Duration::from_secs(300),
        rt.handle().clone(),
    );
    let mut store = DynamoFindingStore::new(client, names, rt.handle().clone());
    let inv = Inventory::default();
    let examples = repo().join("infra/examples/cloudtrail");
    let err = std::thread::spawn(move || {
        let mut p = Pipeline::new(&source, &inv.settings, &mut store, None, now());
        for s in p.discover(std::slice::from_ref(&examples)) {
            p.process_source(&s).unwrap();
        }
        p.finish().err().map(|e| e.to_string())
    })
    .join()
    .unwrap();
    let err = err.expect("an unreachable DynamoDB must fail the run");
    assert!(
        err.starts_with(
            "governance records unavailable: querying identities: could not reach the service"
        ),
        "{err}"
    );
}

#[test]
fn sns_alerts_carry_filterable_attributes() {
    let e = env();
    let sns = aws_sdk_sns::Client::new(&e.sdk);
    let sqs = aws_sdk_sqs::Client::new(&e.sdk);
    let name = prefix("alerts");
    let topic =
        e.rt.block_on(sns.create_topic().name(&name).send())
            .unwrap()
            .topic_arn
            .unwrap();
    let queue_url =
        e.rt.block_on(sqs.create_queue().queue_name(&name).send())
            .unwrap()
            .queue_url
            .unwrap();
    let queue_arn =
        e.rt.block_on(
            sqs.get_queue_attributes()
                .queue_url(&queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send(),
        )
        .unwrap()
        .attributes
        .unwrap()
        .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .cloned()
        .unwrap();
    e.rt.block_on(
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .attributes("RawMessageDelivery", "false")
            .send(),
    )
    .unwrap();

    let inv = examples_inventory();
    let mut store = SqliteStore::in_memory().unwrap();
    let mut sink = SnsAlertSink::new(sns.clone(), topic.clone(), e.rt.handle().clone());
    let examples = repo().join("infra/examples/cloudtrail");
    let summary = std::thread::scope(|s| {
        s.spawn(|| {
            let mut p = Pipeline::new(&inv, &inv.settings, &mut store, Some(&mut sink), now());
            for src in p.discover(std::slice::from_ref(&examples)) {
                p.process_source(&src).unwrap();
            }
            p.finish().unwrap()
        })
        .join()
        .unwrap()
    });
    // One alert per new, unsuppressed finding; repeats never alert.
    assert_eq!(summary.alerts_sent, 19);
    assert_eq!(sink.published, 19);

    let mut bodies = Vec::new();
    for _ in 0..10 {
        let out =
            e.rt.block_on(
                sqs.receive_message()
                    .queue_url(&queue_url)
                    .max_number_of_messages(10)
                    .send(),
            )
            .unwrap();
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() {
            break;
        }
        for m in msgs {
            bodies.push(m.body.unwrap_or_default());
        }
    }
    assert_eq!(bodies.len(), 19);
    let root = bodies
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
        .find(|env| {
            env["Subject"]
                .as_str()
                .is_some_and(|s| s.contains("root-activity"))
        })
        .expect("a root-activity alert");
    let attrs = &root["MessageAttributes"];
    assert_eq!(attrs["severity"]["Value"], "critical");
    assert_eq!(attrs["rule"]["Value"], "root-activity");
    assert_eq!(attrs["account"]["Value"], "777788889999");
    assert_eq!(attrs["owner"]["Value"], "none");
    let body: serde_json::Value = serde_json::from_str(root["Message"].as_str().unwrap()).unwrap();
    assert_eq!(body["kind"], "new");
    assert_eq!(
        body["finding"]["principal"],
        "arn:aws:iam::777788889999:root"
    );
    assert!(body["summary"]
        .as_str()
        .unwrap()
        .starts_with("[critical] new root-activity: arn:aws:iam::777788889999:root"));
}
