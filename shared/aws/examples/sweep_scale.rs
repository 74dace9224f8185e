//! Measures the sweep on an emulator: IAM calls and wall time for N users and N roles.
//!
//!     (source scripts/emulator.sh; cargo run --release -p govtrail-aws --example sweep_scale -- 500)
//!
//! Creates N users (every second one with an access key, every fourth with two) and N roles
//! in the emulator's IAM (after deleting what is there), then times discovery, reconciliation
//! against an inventory governing half of them, and the store side on an in-memory store;
//! then the whole function path (`govtrail_aws::sweep::run`: identities and lifecycle tables,
//! discovery, DynamoDB findings) twice: the first sweep opens the findings, the second
//! counts into them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Utc;
use govtrail_aws::discovery::{iam_client, Discovery, DiscoveryOptions};
use govtrail_core::sweep;
use govtrail_core::{Inventory, MemoryStore};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N: a whole number"))
        .unwrap_or(500);
    let endpoint = std::env::var("GOVTRAIL_TEST_AWS_ENDPOINT")
        .expect("GOVTRAIL_TEST_AWS_ENDPOINT (source scripts/emulator.sh)");
    let sdk = govtrail_aws::config::sdk_config(Some(&endpoint)).await;
    let iam = iam_client(&sdk);
    // Start from an empty account.
    for u in iam.list_users().send().await.unwrap().users() {
        let name = u.user_name();
        for k in iam
            .list_access_keys()
            .user_name(name)
            .send()
            .await
            .unwrap()
            .access_key_metadata()
        {
            let _ = iam
                .delete_access_key()
                .user_name(name)
                .access_key_id(k.access_key_id().unwrap_or_default())
                .send()
                .await;
        }
        let _ = iam.delete_login_profile().user_name(name).send().await;
        let _ = iam.delete_user().user_name(name).send().await;
    }
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let t = Instant::now();
    for i in 0..n {
        let name = format!("scale-user-{i:05}");
        iam.create_user().user_name(&name).send().await.unwrap();
        if i % 2 == 0 {
            iam.create_access_key()
                .user_name(&name)
                .send()
                .await
                .unwrap();
        }
        if i % 4 == 0 {
            iam.create_access_key()
                .user_name(&name)
                .send()
                .await
                .unwrap();
        }
        let _ = iam
            .create_role()
            .role_name(format!("scale-role-{i:05}"))
            .assume_role_policy_document(trust)
            .send()
            .await;
    }
    eprintln!(
        "created {n} users and {n} roles in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut yaml = String::from("identities:\n");
    for i in (0..n).step_by(2) {
        yaml.push_str(&format!(
            "  - {{ principal: arn:aws:iam::123456789012:user/scale-user-{i:05}, kind: workload, owner: team-{} }}\n",
            i % 7
        ));
    }
    let inv = Inventory::from_texts(&[("scale.yaml".into(), yaml)]).unwrap();
    let discovery = Discovery::new(iam.clone());
    let opts = DiscoveryOptions {
        report_poll: std::time::Duration::from_millis(50),
        ..DiscoveryOptions::default()
    };
    // Once to have the credential report generated, then the measured run.
    let _ = discovery.discover(&opts).await.unwrap();
    let discovery = Discovery::new(iam);
    let t = Instant::now();
    let (snapshot, stats) = discovery.discover(&opts).await.unwrap();
    let discover_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let result = sweep::reconcile(&snapshot, &inv, Utc::now());
    let reconcile_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut store = MemoryStore::new();
    let report = sweep::apply(&mut store, None, &result, &inv).unwrap();
    let apply_s = t.elapsed().as_secs_f64();
    println!(
        "{{\"users\":{n},\"roles\":{n},\"identities\":{},\"keys\":{},\"iam_calls\":{},\"calls\":{},\"discover_s\":{discover_s:.3},\"reconcile_s\":{reconcile_s:.4},\"apply_s\":{apply_s:.4},\"findings\":{}}}",
        report.counts.identities,
        report.counts.keys,
        stats.total_calls,
        serde_json::to_string(&stats.calls).unwrap(),
        report.findings_new
    );

    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let tables = govtrail_aws::TableNames::for_prefix(&format!("scale{}", std::process::id()));
    govtrail_aws::tables::create_tables(&dynamo, &tables)
        .await
        .unwrap();
    let items = govtrail_aws::identities::inventory_items(&inv).unwrap();
    govtrail_aws::identities::put_items(&dynamo, &tables.identities, items)
        .await
        .unwrap();
    let target = govtrail_aws::sweep::SweepTarget {
        tables,
        topic_arn: None,
    };
    for round in ["first", "second"] {
        let t = Instant::now();
        let out = govtrail_aws::sweep::run(&sdk, &target, &opts, Utc::now())
            .await
            .unwrap();
        println!(
            "{{\"function_path\":\"{round}\",\"wall_s\":{:.3},\"iam_calls\":{},\"findings_new\":{},\"findings_updated\":{}}}",
            t.elapsed().as_secs_f64(),
            out.discovery.total_calls,
            out.report.findings_new,
            out.report.findings_updated
        );
    }
}
