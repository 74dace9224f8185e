//! The real corpus in ../shared/data/cloudtrail: every record accounted for, exact values.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use govtrail_core::input::{discover, read_source, ReadStats, Source};
use govtrail_core::{normalise, Activity, Inventory, MemoryStore, Pipeline};
use govtrail_tests::corpus_dir;
use std::collections::BTreeMap;

fn all_activities() -> (ReadStats, Vec<Activity>, BTreeMap<&'static str, u64>) {
    let mut stats = ReadStats::default();
    let sources = discover(&[corpus_dir()], &mut stats);
    let mut acts = Vec::new();
    let mut skipped = BTreeMap::new();
    for s in &sources {
        read_source(
            s,
            &mut stats,
            &mut |item| match normalise(item.record, item.origin) {
                Ok(a) => acts.push(a),
                Err(r) => *skipped.entry(r.as_str()).or_insert(0) += 1,
            },
        );
    }
    (stats, acts, skipped)
}

fn find<'a>(acts: &'a [Activity], file_suffix: &str, index: u64) -> &'a Activity {
    acts.iter()
        .find(|a| a.origin.file.ends_with(file_suffix) && a.origin.index == index)
        .unwrap_or_else(|| panic!("no record {file_suffix}#{index}"))
}

#[test]
fn every_record_is_accounted_for() {
    let (stats, acts, skipped) = all_activities();
    assert_eq!(stats.records, 2995);
    assert_eq!(stats.files, 218);
    assert!(stats.input_errors.is_empty(), "{:?}", stats.input_errors);
    // 24 .txt files and the README are skipped by name in a folder walk.
    assert_eq!(stats.skipped.get("unsupported-file-name"), Some(&25));
    assert_eq!(stats.skipped.get("s3-notification"), Some(&15));
    assert_eq!(stats.skipped.get("digest-file"), Some(&2));
    assert_eq!(stats.skipped.get("cloudtrail-sns-notification"), Some(&2));
    assert_eq!(skipped, BTreeMap::from([("insight-event", 3)]));
    assert_eq!(acts.len(), 2992);
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &acts {
        *by_type.entry(a.identity_type.as_str()).or_insert(0) += 1;
    }
    assert_eq!(
        by_type,
        BTreeMap::from([
            ("AWSAccount", 1),
            ("AWSService", 69),
            ("AssumedRole", 108),
            ("FederatedUser", 1),
            ("IAMUser", 2801),
            ("IdentityCenterUser", 1),
            ("Root", 9),
            ("Unknown", 2),
        ])
    );
    assert!(acts
        .iter()
        .all(|a| !a.principal.is_empty() && !a.action.is_empty()));
}

#[test]
fn known_records_normalise_exactly() {
    let (_, acts, _) = all_activities();
    let a = find(
        &acts,
        "aws-lambda-rust-runtime/example-cloudwatch-cloudtrail-assumed-role.json",
        0,
    );
    assert_eq!(a.identity_type, "AssumedRole");
    assert_eq!(
        a.principal,
        "arn:aws:iam::123456789000:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AWSAdministratorAccess_abcdef1234567890"
    );
    assert_eq!(a.action, "controltower:CreateManagedAccount");
    assert_eq!(a.session_name.as_deref(), Some("me@dev.com"));
    assert_eq!(a.actor_class.as_str(), "human");

    let r = find(
        &acts,
        "amazon-ec2-user-guide/monitor-with-cloudtrail__block00.json",
        0,
    );
    assert_eq!(r.identity_type, "Root");
    assert_eq!(r.principal, "arn:aws:iam::123456789012:root");
    assert_eq!(r.action, "ec2:TerminateInstances");

    let f = find(
        &acts,
        "datadog_stratus-red-team/detonation-logs/aws.persistence.sts-federation-token.json",
        1,
    );
    assert_eq!(f.identity_type, "FederatedUser");
    assert_eq!(
        f.principal,
        "arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user"
    );
    assert_eq!(f.session_name.as_deref(), Some("stratus_red_team"));
    assert_eq!(f.action, "sts:GetCallerIdentity");

    let ic = find(
        &acts,
        "ocsf_examples/v1.5.0_CloudTrail_Authentication_authentication.raw.json",
        0,
    );
    assert_eq!(
        ic.principal,
        "identitycenter:d-9911111111/e3644802-3061-7018-86c3-USERID"
    );
    assert_eq!(ic.action, "signin:CredentialChallenge");
    assert_eq!(ic.actor_class.as_str(), "human");

    let acct = find(
        &acts,
        "iam-user-guide/cloudtrail-integration__block02.json",
        0,
    );
    assert_eq!(acct.principal, "account:777788889999");
    assert_eq!(acct.action, "sts:AssumeRole");

    // A doc example whose sessionIssuer.arn is the session ARN: the role ARN is derived.
    let ssm = find(
        &acts,
        "aws-systems-manager-user-guide/monitoring-cloudtrail-logs__block01.json",
        0,
    );
    assert_eq!(ssm.principal, "arn:aws:iam::123456789012:role/exampleRole");
    assert_eq!(ssm.action, "ssm-guiconnect:StartConnection");

    // Service events without a userIdentity.type are AWS service activity.
    let svc: Vec<&Activity> = acts
        .iter()
        .filter(|a| {
            a.origin
                .file
                .ends_with("218007301253_CloudTrail_us-east-1_20230710T1215Z_nBsuPO1qSTEVerMD.json")
        })
        .filter(|a| a.principal == "service:secretsmanager.amazonaws.com")
        .collect();
    assert!(!svc.is_empty());
    assert!(svc
        .iter()
        .all(|a| a.identity_type == "AWSService" && a.actor_class.as_str() == "service"));
}

#[test]
fn the_invictus_console_user_is_a_human_with_mfa() {
    let (_, acts, _) = all_activities();
    let logins: Vec<&Activity> = acts
        .iter()
        .filter(|a| a.action == "signin:ConsoleLogin")
        .collect();
    assert!(!logins.is_empty());
    let benjamin: Vec<&Activity> = acts
        .iter()
        .filter(|a| a.principal == "arn:aws:iam::123837392027:user/benjamin")
        .collect();
    assert!(!benjamin.is_empty());
    assert!(benjamin
        .iter()
        .any(|a| a.console_session && a.actor_class.as_str() == "human"));
}

#[test]
fn txt_files_named_explicitly_are_input_errors() {
    let dir = corpus_dir();
    let mut stats = ReadStats::default();
    let mut txt: Vec<_> = Vec::new();
    for entry in walk(&dir) {
        if entry.extension().is_some_and(|e| e == "txt") {
            txt.push(entry);
        }
    }
    txt.sort();
    assert_eq!(txt.len(), 24);
    let sources = discover(&txt, &mut stats);
    assert_eq!(sources.len(), 24);
    for s in &sources {
        let before = stats.input_errors.len();
        read_source(s, &mut stats, &mut |_| {});
        let Source::File(p) = s else { unreachable!() };
        let errs = &stats.input_errors[before..];
        assert!(!errs.is_empty(), "{} gave no input error", p.display());
        assert!(errs.iter().all(|e| e.path == p.display().to_string()));
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn whole_corpus_replay_is_idempotent() {
    let inv = Inventory::from_texts(&[("empty.yaml".into(), "identities: []\n".into())])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut store = MemoryStore::new();
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let run = |store: &mut MemoryStore| {
        let mut p = Pipeline::new(&inv, &inv.settings, store, None, now);
        let sources = p.discover(&[corpus_dir()]);
        for s in &sources {
            p.process_source(s).unwrap();
        }
        p.finish().unwrap()
    };
    let first = run(&mut store);
    assert_eq!(first.records, 2995);
    assert!(first.input_errors.is_empty());
    assert!(first.findings_new > 0);
    let second = run(&mut store);
    assert_eq!(second.records, 2995);
    assert_eq!(second.findings_new, 0);
    assert_eq!(second.findings_updated, 0);
    assert_eq!(second.evaluated, first.evaluated);
    assert_eq!(
        second.duplicate_hits,
        first.findings_new + first.findings_updated + first.duplicate_hits
    );
}
