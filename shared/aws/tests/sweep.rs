//! The inventory sweep against moto's IAM and DynamoDB on 127.0.0.1 (discovery, exact
//! findings, resolution when the condition clears, IAM call counts), and discovery against a
//! stand-in IAM that paginates, throttles every first attempt and serves AWS's own credential
//! report format (`N/A`, the root row), which moto does not.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_iam::types::{StatusType, Tag};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use govtrail_aws::discovery::{iam_client, Discovery, DiscoveryOptions};
use govtrail_aws::identities::{inventory_items, put_items};
use govtrail_aws::sweep::{run, SweepTarget};
use govtrail_aws::tables::create_tables;
use govtrail_aws::{DynamoFindingStore, TableNames};
use govtrail_core::credential_report::LastUsed;
use govtrail_core::finding::{finding_id, FindingFilter};
use govtrail_core::sweep::IdentityType;
use govtrail_core::{FindingStore, Inventory, RuleId, Status};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

fn endpoint() -> String {
    std::env::var("GOVTRAIL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("GOVTRAIL_TEST_AWS_ENDPOINT is not set: run scripts/test.sh (it starts moto)")
    })
}

/// moto's IAM is one account shared by every test of this binary: they take turns.
static IAM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ACCT: &str = "123456789012";

/// Deletes every user (with keys and login profile) and role moto holds.
async fn clean_iam(iam: &aws_sdk_iam::Client) {
    let users = iam.list_users().send().await.unwrap();
    for u in users.users() {
        let name = u.user_name();
        let keys = iam.list_access_keys().user_name(name).send().await.unwrap();
        for k in keys.access_key_metadata() {
            iam.delete_access_key()
                .user_name(name)
                .access_key_id(k.access_key_id().unwrap())
                .send()
                .await
                .unwrap();
        }
        let _ = iam.delete_login_profile().user_name(name).send().await;
        iam.delete_user().user_name(name).send().await.unwrap();
    }
    let mut marker = None;
    let mut roles = Vec::new();
    loop {
        let page = iam.list_roles().set_marker(marker).send().await.unwrap();
        roles.extend(page.roles().iter().map(|r| r.role_name().to_string()));
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    for r in roles {
        let _ = iam.delete_role().role_name(r).send().await;
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn inventory_yaml(stray_record: bool, deploy_owner: &str, today: &str) -> String {
    let mut y = format!(
        r#"
settings:
  known_owners: [team-data, alice@example.com]
  sweep: {{ unused_after_days: 90 }}
identities:
  - principal: arn:aws:iam::{ACCT}:user/alice
    kind: human
    owner: alice@example.com
    review: {{ last_reviewed: {today}, interval_days: 95 }}
  - principal: arn:aws:iam::{ACCT}:user/etl-loader
    kind: workload
    owner: team-data
    credentials: {{ max_key_age_days: 30 }}
  - principal: arn:aws:iam::{ACCT}:role/deploy
    kind: workload
    owner: {deploy_owner}
  - principal: arn:aws:iam::{ACCT}:user/departed
    kind: human
    owner: team-data
"#
    );
    if stray_record {
        y.push_str(&format!(
            "  - principal: arn:aws:iam::{ACCT}:user/stray\n    kind: workload\n    owner: team-data\n"
        ));
    }
    y
}

async fn sync_inventory(dynamo: &aws_sdk_dynamodb::Client, table: &str, yaml: &str) {
    let inv = Inventory::from_texts(&[("inventory.yaml".into(), yaml.into())]).unwrap();
    let items = inventory_items(&inv).unwrap();
    put_items(dynamo, table, items).await.unwrap();
}

fn live_findings(
    tables: &TableNames,
    dynamo: &aws_sdk_dynamodb::Client,
) -> Vec<(String, String, Option<String>, Status)> {
    let store = DynamoFindingStore::new(
        dynamo.clone(),
        tables.clone(),
        tokio::runtime::Handle::current(),
    );
    let mut v: Vec<_> = tokio::task::block_in_place(|| store.list(&FindingFilter::default()))
        .unwrap()
        .into_iter()
        .map(|f| {
            (
                f.rule.as_str().to_string(),
                f.principal,
                f.resource,
                f.status,
            )
        })
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_finds_exactly_what_is_wrong_and_resolves_what_was_fixed() {
    let _turn = IAM.lock().await;
    let ep = endpoint();
    let sdk = govtrail_aws::config::sdk_config(Some(&ep)).await;
    let iam = iam_client(&sdk);
    clean_iam(&iam).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let tables = TableNames::for_prefix(&format!("sweep{}", std::process::id()));
    create_tables(&dynamo, &tables).await.unwrap();
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name(format!("sweep{}", std::process::id()))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();

    // IAM: a human with a console password; a workload user with two keys (one used) and,
    // wrongly, a console password; a stray user with an inactive key and no record; a role
    // with an unknown owner; a service-linked role.
    iam.create_user()
        .user_name("alice")
        .path("/eng/")
        .tags(tag("owner", "alice@example.com"))
        .send()
        .await
        .unwrap();
    iam.create_login_profile()
        .user_name("alice")
        .password("Correct-horse-1")
        .send()
        .await
        .unwrap();
    iam.create_user()
        .user_name("etl-loader")
        .path("/svc/")
        .send()
        .await
        .unwrap();
    iam.create_login_profile()
        .user_name("etl-loader")
        .password("Correct-horse-2")
        .send()
        .await
        .unwrap();
    let k1 = iam
        .create_access_key()
        .user_name("etl-loader")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    // The report names keys by slot and creation second: keys created in the same second
    // cannot be told apart (their use stays unknown), so the second key comes a second later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let k2 = iam
        .create_access_key()
        .user_name("etl-loader")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    iam.create_user().user_name("stray").send().await.unwrap();
    let k3 = iam
        .create_access_key()
        .user_name("stray")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    iam.update_access_key()
        .user_name("stray")
        .access_key_id(k3.access_key_id())
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    iam.create_role()
        .role_name("deploy")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
    iam.create_service_linked_role()
        .aws_service_name("elasticbeanstalk.amazonaws.com")
        .send()
        .await
        .unwrap();
    // One request signed with key 1 marks it used (moto records use per signing key).
    let as_etl = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&sdk)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                k1.access_key_id(),
                k1.secret_access_key(),
                None,
                None,
                "etl-loader",
            ))
            .build(),
    );
    as_etl.list_users().send().await.unwrap();

    let created = Utc::now();
    let today = created.format("%Y-%m-%d").to_string();
    sync_inventory(
        &dynamo,
        &tables.identities,
        &inventory_yaml(false, "team-nobody", &today),
    )
    .await;

    // 100 days on: moto cannot back-date creation, so the sweep is judged at a later `now`.
    let t1: DateTime<Utc> = (created + Duration::days(100)).trunc_subsecs(0);
    let target = SweepTarget {
        tables: tables.clone(),
        topic_arn: Some(topic),
    };
    let opts = DiscoveryOptions {
        report_poll: std::time::Duration::from_millis(20),
        ..DiscoveryOptions::default()
    };
    let out = run(&sdk, &target, &opts, t1).await.unwrap();

    let etl = format!("arn:aws:iam::{ACCT}:user/svc/etl-loader");
    let stray = format!("arn:aws:iam::{ACCT}:user/stray");
    let alice = format!("arn:aws:iam::{ACCT}:user/eng/alice");
    let alice_record = format!("arn:aws:iam::{ACCT}:user/alice");
    let deploy = format!("arn:aws:iam::{ACCT}:role/deploy");
    let departed = format!("arn:aws:iam::{ACCT}:user/departed");
    let (id1, id2) = (
        k1.access_key_id().to_string(),
        k2.access_key_id().to_string(),
    );
    let open = |rule: &str, p: &str, res: Option<&str>| {
        (
            rule.to_string(),
            p.to_string(),
            res.map(str::to_string),
            Status::Open,
        )
    };
    let mut expect = vec![
        open("console-password-on-nhi", &etl, None),
        open("key-too-old", &etl, Some(&id1)),
        open("key-too-old", &etl, Some(&id2)),
        open("review-overdue", &alice_record, None),
        open("stale-record", &departed, None),
        open("two-active-keys", &etl, None),
        open("ungoverned-identity", &stray, None),
        open("unknown-owner", &deploy, None),
        // Key 1 was used 100 days ago, key 2 never: the whole identity is unused.
        open("unused-credential", &etl, None),
        open("unused-credential", &alice, None),
        open("unused-credential", &stray, None),
        open("unused-credential", &deploy, None),
    ];
    expect.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    assert_eq!(live_findings(&tables, &dynamo), expect);
    let r = &out.report;
    assert_eq!(r.account_id, ACCT);
    assert_eq!(
        (
            r.counts.users,
            r.counts.roles,
            r.counts.keys,
            r.counts.active_keys
        ),
        (3, 2, 3, 2)
    );
    assert_eq!(r.counts.aws_managed_skipped, 1);
    assert_eq!((r.findings_new, r.alerts_sent), (12, 12));
    // DynamoDB: the live findings listed by status (2 statuses x 5 severities), one
    // BatchGetItem for the 12 findings, one read per alert; one transaction per finding.
    assert_eq!((out.findings_reads, out.findings_writes), (10 + 1 + 12, 12));
    // Discovery: one page of authorization details, the report, and ListAccessKeys only for
    // the two users the report says hold keys. No per-identity password, MFA or last-use calls.
    let calls = &out.discovery.calls;
    assert_eq!(calls.get("GetAccountAuthorizationDetails"), Some(&1));
    assert_eq!(calls.get("GetCredentialReport"), Some(&1));
    assert_eq!(calls.get("ListAccessKeys"), Some(&2));
    assert!(calls
        .get("GenerateCredentialReport")
        .is_some_and(|n| *n <= 2));
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(out.discovery.credential_report);
    // The report's key use reached the key it belongs to (matched by creation time).
    let store = DynamoFindingStore::new(
        dynamo.clone(),
        tables.clone(),
        tokio::runtime::Handle::current(),
    );
    let get = |id: String| {
        tokio::task::block_in_place(|| store.get(&id))
            .unwrap()
            .unwrap()
    };
    let f = get(finding_id(&etl, RuleId::UnusedCredential, ""));
    assert!(
        f.evidence["why"].contains("last used") && f.evidence["why"].contains("(100 days ago)"),
        "{}",
        f.evidence["why"]
    );

    // Fixes: key 2 deleted, the workload's console password removed, the stray user claimed,
    // the role's owner corrected.
    iam.delete_access_key()
        .user_name("etl-loader")
        .access_key_id(&id2)
        .send()
        .await
        .unwrap();
    iam.delete_login_profile()
        .user_name("etl-loader")
        .send()
        .await
        .unwrap();
    sync_inventory(
        &dynamo,
        &tables.identities,
        &inventory_yaml(true, "team-data", &today),
    )
    .await;
    // The event path saw a key change for alice (who holds no key in the report): the next
    // sweep lists her keys too.
    let lifecycle = govtrail_aws::lifecycle::DynamoLifecycleStore::new(
        dynamo.clone(),
        tables.lifecycle.clone(),
        tokio::runtime::Handle::current(),
    );
    let change = govtrail_core::lifecycle::LifecycleChange {
        event: govtrail_core::lifecycle::LifecycleEvent::KeyDeleted {
            principal: alice.clone(),
            key_id: "AKIAALICEGONE".into(),
        },
        at: Utc::now().trunc_subsecs(0),
        event_key: "evt-alice-key".into(),
    };
    assert_eq!(
        lifecycle
            .put_changes(std::slice::from_ref(&change))
            .await
            .unwrap(),
        1
    );
    assert_eq!(lifecycle.put_changes(&[change]).await.unwrap(), 0);
    let t2 = t1 + Duration::hours(1);
    let out = run(&sdk, &target, &opts, t2).await.unwrap();
    // etl-loader and stray hold keys (stray's is inactive); alice's are listed for the event.
    assert_eq!(out.discovery.calls.get("ListAccessKeys"), Some(&3));
    let mut resolved: Vec<(&str, &str)> = out
        .report
        .resolved
        .iter()
        .map(|r| (r.rule.as_str(), r.principal.as_str()))
        .collect();
    resolved.sort();
    assert_eq!(
        resolved,
        vec![
            ("console-password-on-nhi", etl.as_str()),
            ("key-too-old", etl.as_str()),
            ("two-active-keys", etl.as_str()),
            ("ungoverned-identity", stray.as_str()),
            ("unknown-owner", deploy.as_str()),
        ]
    );
    assert_eq!((out.report.findings_new, out.report.alerts_sent), (0, 0));
    let f = get(finding_id(&etl, RuleId::KeyTooOld, &id2));
    assert_eq!(f.status, Status::Resolved);
    assert_eq!(
        f.status_reason.unwrap(),
        format!(
            "resolved by the sweep at {}: the key was rotated, deactivated or deleted",
            govtrail_core::activity::format_time(&t2)
        )
    );
    // The condition that still holds was counted once more, not re-alerted.
    let f = get(finding_id(&etl, RuleId::KeyTooOld, &id1));
    assert_eq!((f.status, f.count), (Status::Open, 2));
    clean_iam(&iam).await;
}

/// Serves IAM's query protocol from canned AWS-format pages: two pages of authorization
/// details, a report that takes one poll to complete, AWS's CSV with the root row and `N/A`.
/// Every odd-numbered request is answered with IAM's Throttling error.
fn stand_in_iam(served: Arc<AtomicU32>, throttled: Arc<AtomicU32>) -> String {
    let report = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
<root_account>,arn:aws:iam::111122223333:root,2019-03-01T10:00:00+00:00,not_supported,2026-11-30T08:00:00+00:00,not_supported,not_supported,true,true,2020-05-05T05:05:05+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
carol,arn:aws:iam::111122223333:user/eng/carol,2024-01-01T00:00:00+00:00,true,no_information,2024-01-01T00:00:00+00:00,N/A,false,true,2025-06-01T12:00:00+00:00,2026-12-01T09:30:00+00:00,eu-west-1,s3,false,2024-02-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n";
    let content = aws_smithy_types::base64::encode(report);
    let ns = r#"xmlns="https://iam.amazonaws.com/doc/2010-05-08/""#;
    let mut generated = 0;
    common::stand_in(move |body, _| {
        let n = served.fetch_add(1, Ordering::Relaxed);
        let (status, payload) = if n.is_multiple_of(2) {
            throttled.fetch_add(1, Ordering::Relaxed);
            (
                "400 Bad Request",
                format!(
                    r#"<ErrorResponse {ns}><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t{n}</RequestId></ErrorResponse>"#
                ),
            )
        } else if body.contains("Action=GetAccountAuthorizationDetails")
            && !body.contains("Marker=")
        {
            (
                "200 OK",
                format!(
                    r#"<GetAccountAuthorizationDetailsResponse {ns}><GetAccountAuthorizationDetailsResult><IsTruncated>true</IsTruncated><Marker>page2</Marker><UserDetailList><member><Path>/eng/</Path><UserName>carol</UserName><UserId>AIDACAROL</UserId><Arn>arn:aws:iam::111122223333:user/eng/carol</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate><Tags><member><Key>owner</Key><Value>carol@example.com</Value></member></Tags></member></UserDetailList><RoleDetailList/><GroupDetailList/><Policies/></GetAccountAuthorizationDetailsResult><ResponseMetadata><RequestId>r{n}</RequestId></ResponseMetadata></GetAccountAuthorizationDetailsResponse>"#
                ),
            )
        } else if body.contains("Action=GetAccountAuthorizationDetails") {
            (
                "200 OK",
                format!(
                    r#"<GetAccountAuthorizationDetailsResponse {ns}><GetAccountAuthorizationDetailsResult><IsTruncated>false</IsTruncated><UserDetailList/><RoleDetailList><member><Path>/</Path><RoleName>batch</RoleName><RoleId>AROABATCH</RoleId><Arn>arn:aws:iam::111122223333:role/batch</Arn><CreateDate>2023-01-01T00:00:00Z</CreateDate><Tags/><RoleLastUsed><LastUsedDate>2026-11-20T10:00:00Z</LastUsedDate><Region>eu-west-1</Region></RoleLastUsed></member></RoleDetailList><GroupDetailList/><Policies/></GetAccountAuthorizationDetailsResult><ResponseMetadata><RequestId>r{n}</RequestId></ResponseMetadata></GetAccountAuthorizationDetailsResponse>"#
                ),
            )
        } else if body.contains("Action=GenerateCredentialReport") {
            generated += 1;
            let state = if generated == 1 {
                "STARTED"
            } else {
                "COMPLETE"
            };
            (
                "200 OK",
                format!(
                    r#"<GenerateCredentialReportResponse {ns}><GenerateCredentialReportResult><State>{state}</State><Description>x</Description></GenerateCredentialReportResult><ResponseMetadata><RequestId>r{n}</RequestId></ResponseMetadata></GenerateCredentialReportResponse>"#
                ),
            )
        } else if body.contains("Action=GetCredentialReport") {
            (
                "200 OK",
                format!(
                    r#"<GetCredentialReportResponse {ns}><GetCredentialReportResult><Content>{content}</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2026-12-04T10:00:00Z</GeneratedTime></GetCredentialReportResult><ResponseMetadata><RequestId>r{n}</RequestId></ResponseMetadata></GetCredentialReportResponse>"#
                ),
            )
        } else if body.contains("Action=ListAccessKeys") {
            (
                "200 OK",
                format!(
                    r#"<ListAccessKeysResponse {ns}><ListAccessKeysResult><IsTruncated>false</IsTruncated><AccessKeyMetadata><member><UserName>carol</UserName><AccessKeyId>AKIACAROLOLD</AccessKeyId><Status>Inactive</Status><CreateDate>2024-02-01T00:00:00Z</CreateDate></member><member><UserName>carol</UserName><AccessKeyId>AKIACAROLNEW</AccessKeyId><Status>Active</Status><CreateDate>2025-06-01T12:00:00Z</CreateDate></member></AccessKeyMetadata></ListAccessKeysResult><ResponseMetadata><RequestId>r{n}</RequestId></ResponseMetadata></ListAccessKeysResponse>"#
                ),
            )
        } else {
            (
                "400 Bad Request",
                format!(
                    r#"<ErrorResponse {ns}><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>unexpected {body}</Message></Error><RequestId>x</RequestId></ErrorResponse>"#
                ),
            )
        };
        common::Reply {
            status,
            content_type: "text/xml",
            headers: format!("x-amzn-RequestId: r{n}\r\n"),
            body: payload,
        }
    })
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_pages_through_throttling_and_reads_aws_report_format() {
    let served = Arc::new(AtomicU32::new(0));
    let throttled = Arc::new(AtomicU32::new(0));
    let ep = stand_in_iam(served.clone(), throttled.clone());
    let sdk = govtrail_aws::config::sdk_config(Some(&ep)).await;
    let discovery = Discovery::new(iam_client(&sdk));
    let opts = DiscoveryOptions {
        report_poll: std::time::Duration::from_millis(10),
        ..DiscoveryOptions::default()
    };
    let (snap, stats) = discovery.discover(&opts).await.unwrap();

    // Two pages, two report generations (STARTED, COMPLETE), one report, one key listing:
    // six calls, each throttled once and retried.
    assert_eq!(stats.total_calls, 6, "{:?}", stats.calls);
    assert_eq!(stats.calls.get("GetAccountAuthorizationDetails"), Some(&2));
    assert_eq!(throttled.load(Ordering::Relaxed), 6);
    assert_eq!(served.load(Ordering::Relaxed), 12);

    assert_eq!(snap.account_id, "111122223333");
    assert_eq!(snap.report_generated_at, Some(t("2026-12-04T10:00:00Z")));
    let names: Vec<(&str, IdentityType)> = snap
        .identities
        .iter()
        .map(|i| (i.principal.as_str(), i.identity_type))
        .collect();
    assert_eq!(
        names,
        vec![
            ("arn:aws:iam::111122223333:role/batch", IdentityType::Role),
            ("arn:aws:iam::111122223333:root", IdentityType::Root),
            (
                "arn:aws:iam::111122223333:user/eng/carol",
                IdentityType::User
            ),
        ]
    );
    let role = &snap.identities[0];
    assert_eq!(role.role_last_used, LastUsed::At(t("2026-11-20T10:00:00Z")));
    let root = &snap.identities[1];
    assert_eq!(root.password_enabled, None);
    assert_eq!(
        root.password_last_used,
        LastUsed::At(t("2026-11-30T08:00:00Z"))
    );
    assert_eq!(root.mfa_active, Some(true));
    assert_eq!(root.keys.len(), 1);
    assert_eq!(
        (
            root.keys[0].id.as_str(),
            root.keys[0].active,
            root.keys[0].last_used
        ),
        ("root-access-key-1", true, LastUsed::Never)
    );
    let carol = &snap.identities[2];
    assert_eq!(
        carol.tags.get("owner").map(String::as_str),
        Some("carol@example.com")
    );
    assert_eq!(carol.password_enabled, Some(true));
    assert_eq!(carol.password_last_used, LastUsed::Never);
    assert_eq!(carol.mfa_active, Some(false));
    let keys: Vec<(&str, bool, LastUsed, Option<&str>)> = carol
        .keys
        .iter()
        .map(|k| {
            (
                k.id.as_str(),
                k.active,
                k.last_used,
                k.last_used_service.as_deref(),
            )
        })
        .collect();
    // Slots matched to ids by creation time: the active key's use is the report's slot 1.
    assert_eq!(
        keys,
        vec![
            ("AKIACAROLOLD", false, LastUsed::Never, None),
            (
                "AKIACAROLNEW",
                true,
                LastUsed::At(t("2026-12-01T09:30:00Z")),
                Some("s3")
            ),
        ]
    );
}

/// IAM calls are linear in the number of identities and per-identity calls go only to users
/// that hold keys (the report has no key ids): 1 page of authorization details (moto does not
/// paginate; AWS returns 100 identities a page), 1 report generation, 1 report read, and one
/// `ListAccessKeys` per key-holding user. Doubling the account doubles only that last term.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_calls_grow_only_with_key_holding_users() {
    let _turn = IAM.lock().await;
    let sdk = govtrail_aws::config::sdk_config(Some(&endpoint())).await;
    let iam = iam_client(&sdk);
    clean_iam(&iam).await;
    let opts = DiscoveryOptions {
        report_poll: std::time::Duration::from_millis(20),
        ..DiscoveryOptions::default()
    };
    let mut calls = Vec::new();
    let mut made = 0;
    for n in [8, 16] {
        while made < n {
            let name = format!("linear-{made:03}");
            iam.create_user().user_name(&name).send().await.unwrap();
            if made % 2 == 0 {
                iam.create_access_key()
                    .user_name(&name)
                    .send()
                    .await
                    .unwrap();
            }
            iam.create_role()
                .role_name(format!("linear-role-{made:03}"))
                .assume_role_policy_document(TRUST)
                .send()
                .await
                .unwrap();
            made += 1;
        }
        // Once so the report exists (moto says STARTED the first time), then counted.
        Discovery::new(iam.clone()).discover(&opts).await.unwrap();
        let (snap, stats) = Discovery::new(iam.clone()).discover(&opts).await.unwrap();
        assert_eq!(snap.identities.len(), 2 * n);
        calls.push(stats.calls);
    }
    let expect = |keyed: u64| {
        std::collections::BTreeMap::from([
            ("GenerateCredentialReport", 1),
            ("GetAccountAuthorizationDetails", 1),
            ("GetCredentialReport", 1),
            ("ListAccessKeys", keyed),
        ])
    };
    assert_eq!(calls, vec![expect(4), expect(8)]);
    clean_iam(&iam).await;
}
