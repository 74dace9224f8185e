//! Helpers shared by the benchmarks: reading the real CloudTrail corpus record by record
//! (keeping each record's exact bytes) and generating a realistic governance inventory from
//! what the corpus contains.
//!
//! Not a benchmark target itself: `benches/evaluate.rs` and `benches/replay.rs` include it
//! with `mod common;`.

// Each bench uses a different subset of these helpers.
#![allow(dead_code)]

use govtrail_core::frame::{Frame, Framer};
use govtrail_core::input::{self, Origin, ReadStats, Source};
use govtrail_core::record::{Document, RawRecord};
use govtrail_core::{normalise, Activity};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Fallback record used when the corpus folder is missing, so the benches always run.
///
/// Verbatim from the AWS IAM User Guide (`doc_source/cloudtrail-integration.md`, fenced code
/// block #0, awsdocs/iam-user-guide @ e2b8637a; sample code under AWS's modified-MIT
/// licence). It is also `awsdocs/iam-user-guide/cloudtrail-integration__block00.json` in the
/// corpus.
pub const EMBEDDED_SAMPLE: &str = r#"{
  "eventVersion": "1.05",
  "userIdentity": {
    "type": "IAMUser",
    "principalId": "AIDACKCEVSQ6C2EXAMPLE",
    "arn": "arn:aws:iam::444455556666:user/JaneDoe",
    "accountId": "444455556666",
    "accessKeyId": "AKIAI44QH8DHBEXAMPLE",
    "userName": "JaneDoe",
    "sessionContext": {
      "attributes": {
        "mfaAuthenticated": "false",
        "creationDate": "2014-07-15T21:39:40Z"
      }
    },
    "invokedBy": "signin.amazonaws.com"
  },
  "eventTime": "2014-07-15T21:40:14Z",
  "eventSource": "iam.amazonaws.com",
  "eventName": "GetUserPolicy",
  "awsRegion": "us-east-2",
  "sourceIPAddress": "signin.amazonaws.com",
  "userAgent": "signin.amazonaws.com",
  "requestParameters": {
    "userName": "JaneDoe",
    "policyName": "ReadOnlyAccess-JaneDoe-201407151307"
  },
  "responseElements": null,
  "requestID": "9EXAMPLE-0c68-11e4-a24e-d5e16EXAMPLE",
  "eventID": "cEXAMPLE-127e-4632-980d-505a4EXAMPLE"
}"#;

/// `/work/shared/data/cloudtrail`, found relative to this crate (`shared/core`); the
/// `GOVTRAIL_BENCH_CORPUS` environment variable names another folder.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("GOVTRAIL_BENCH_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cloudtrail"),
    }
}

/// One CloudTrail record of the corpus: its exact bytes and where it was found.
#[derive(Clone)]
pub struct CorpusRecord {
    /// The record's JSON exactly as it appears in its file (for an EventBridge envelope:
    /// the bytes of `detail`).
    pub bytes: Vec<u8>,
    pub file: Arc<str>,
    /// Index of the framed document in its file (what `Origin::index` holds).
    pub index: u64,
}

impl CorpusRecord {
    pub fn origin(&self) -> Origin {
        Origin {
            file: self.file.clone(),
            index: self.index,
        }
    }

    pub fn parse(&self) -> Result<RawRecord<'_>, serde_json::Error> {
        serde_json::from_slice(&self.bytes)
    }
}

/// What loading the corpus found.
pub struct Corpus {
    pub records: Vec<CorpusRecord>,
    /// Files read.
    pub files: usize,
    /// Records the library's own reader (`input::read_source`) counts in the same files.
    pub reader_records: u64,
    /// True when the corpus folder was missing and the embedded sample is used instead.
    pub embedded: bool,
}

/// The bytes of the CloudTrail record in a framed document, unwrapping EventBridge envelopes
/// and LookupEvents items the way `RawRecord::classify` does; `None` if it is not a record.
fn record_bytes(doc: &[u8], depth: u8) -> Option<Vec<u8>> {
    if depth > 3 {
        return None;
    }
    let rec: RawRecord = serde_json::from_slice(doc).ok()?;
    let detail = rec.detail.as_ref().map(|d| d.get().as_bytes().to_vec());
    let embedded = rec.lookup_cloudtrail_event.as_deref().map(str::to_owned);
    if let Document::NotARecord(_) = rec.classify() {
        return None;
    }
    if let Some(d) = detail {
        return record_bytes(&d, depth + 1);
    }
    if let Some(e) = embedded {
        return record_bytes(e.as_bytes(), depth + 1);
    }
    Some(doc.to_vec())
}

/// Reads every CloudTrail record of the corpus folder, in the order `input::discover` lists
/// the files. Falls back to [`EMBEDDED_SAMPLE`] when the folder is missing or holds no record.
pub fn load_corpus(dir: &Path) -> Corpus {
    let mut records = Vec::new();
    let mut files = 0usize;
    let mut reader_stats = ReadStats::default();
    if dir.is_dir() {
        let mut discover_stats = ReadStats::default();
        let sources = input::discover(&[dir.to_path_buf()], &mut discover_stats);
        for source in &sources {
            let Source::File(path) = source else { continue };
            input::read_source(source, &mut reader_stats, &mut |_| {});
            let Ok(reader) = File::open(path).and_then(input::decoded) else {
                continue;
            };
            files += 1;
            let name: Arc<str> = Arc::from(source.display());
            let mut framer = Framer::new(reader);
            // Structural errors are the `_unparseable` text blocks: not records.
            let _ = framer.run(
                &mut |frame: Frame<'_>| {
                    if let Some(bytes) = record_bytes(frame.bytes, 0) {
                        records.push(CorpusRecord {
                            bytes,
                            file: name.clone(),
                            index: frame.index,
                        });
                    }
                },
                &mut |_| {},
            );
        }
    }
    if records.is_empty() {
        return Corpus {
            records: vec![CorpusRecord {
                bytes: EMBEDDED_SAMPLE.as_bytes().to_vec(),
                file: Arc::from("embedded-sample.json"),
                index: 0,
            }],
            files: 0,
            reader_records: 0,
            embedded: true,
        };
    }
    Corpus {
        records,
        files,
        reader_records: reader_stats.records,
        embedded: false,
    }
}

/// Normalises every record that can be (records without identity, Insights are skipped).
pub fn activities(records: &[CorpusRecord]) -> Vec<Activity> {
    records
        .iter()
        .filter_map(|r| {
            r.parse()
                .ok()
                .and_then(|raw| normalise(&raw, r.origin()).ok())
        })
        .collect()
}

/// How one principal shows up in the corpus.
#[derive(Debug, Clone)]
pub struct PrincipalStats {
    pub principal: String,
    pub identity_type: String,
    pub account: Option<String>,
    pub count: u64,
    /// Service prefix (`ec2`, `s3`, ...) -> events.
    pub services: BTreeMap<String, u64>,
    pub regions: BTreeMap<String, u64>,
}

/// Principals by number of events, most active first (ties by name).
pub fn principal_stats(acts: &[Activity]) -> Vec<PrincipalStats> {
    let mut by: BTreeMap<&str, PrincipalStats> = BTreeMap::new();
    for a in acts {
        let e = by
            .entry(a.principal.as_str())
            .or_insert_with(|| PrincipalStats {
                principal: a.principal.clone(),
                identity_type: a.identity_type.clone(),
                account: a.identity_account_id.clone().or(a.account_id.clone()),
                count: 0,
                services: BTreeMap::new(),
                regions: BTreeMap::new(),
            });
        e.count += 1;
        let svc = a.action.split(':').next().unwrap_or("unknown").to_string();
        *e.services.entry(svc).or_insert(0) += 1;
        if let Some(r) = &a.region {
            *e.regions.entry(r.clone()).or_insert(0) += 1;
        }
    }
    let mut v: Vec<PrincipalStats> = by.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.principal.cmp(&b.principal)));
    v
}

/// YAML single-quoted scalar.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn top_key(m: &BTreeMap<String, u64>) -> Option<&str> {
    m.iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.as_str())
}

/// Exact records for the most active principals.
pub const TOP_PRINCIPALS: usize = 10;
/// Share of a registered principal's events its allow statement covers (by service); the
/// rarest services are left out, so their calls are `action-outside-purpose` findings.
pub const COVERED_SHARE: f64 = 0.95;

/// A realistic inventory of `total` records (YAML, inventory version 1), generated from what
/// the corpus shows:
///
/// * exact records for the [`TOP_PRINCIPALS`] most active principals (`unknown:` principals
///   excluded, and those the default settings ignore: AWS service principals and
///   service-linked roles), each with an owner, its
///   environment, an allow statement of `service:*` patterns covering [`COVERED_SHARE`] of its
///   events in its main region, and a deny statement with wildcard actions;
/// * wildcard records: every role of the two busiest accounts, the Organizations access role,
///   SSO permission-set roles, `svc-*` users, CI roles, agent roles, web identities;
/// * filler exact records for identities that never show up, up to `total`.
///
/// Principals not covered (the documentation examples' users, mostly) stay unregistered and
/// produce `unregistered-identity` findings.
pub fn inventory_yaml(stats: &[PrincipalStats], total: usize) -> String {
    let defaults = govtrail_core::Settings::default();
    let top: Vec<&PrincipalStats> = stats
        .iter()
        .filter(|s| !s.principal.starts_with("unknown:") && !defaults.is_ignored(&s.principal))
        .take(TOP_PRINCIPALS)
        .collect();
    // Accounts of the registered principals, busiest first: they get environment names.
    let mut accounts: Vec<(String, u64)> = Vec::new();
    for s in &top {
        if let Some(a) = s.account.as_deref().filter(|a| is_account_id(a)) {
            match accounts.iter_mut().find(|(x, _)| x == a) {
                Some(e) => e.1 += s.count,
                None => accounts.push((a.to_string(), s.count)),
            }
        }
    }
    accounts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    const ENV_NAMES: [&str; 6] = ["prod", "staging", "sandbox", "dev", "test", "shared"];
    let env_of = |acct: &str| -> Option<String> {
        accounts
            .iter()
            .position(|(a, _)| a == acct)
            .map(|i| match ENV_NAMES.get(i) {
                Some(n) => (*n).to_string(),
                None => acct.to_string(),
            })
    };
    let main_account = accounts
        .first()
        .map(|(a, _)| a.clone())
        .unwrap_or_else(|| "111122223333".to_string());

    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Generated by the govtrail benchmarks from the CloudTrail corpus.\nversion: 1\nsettings:\n  accounts:"
    );
    if accounts.is_empty() {
        let _ = writeln!(y, "    {}: prod", q(&main_account));
    }
    for (a, _) in &accounts {
        if let Some(env) = env_of(a) {
            let _ = writeln!(y, "    {}: {env}", q(a));
        }
    }
    let _ = writeln!(
        y,
        "  severity_overrides:\n    review-overdue: medium\nidentities:"
    );
    let mut n = 0usize;
    for (i, s) in top.iter().enumerate() {
        let human = matches!(
            s.identity_type.as_str(),
            "IAMUser" | "Root" | "IdentityCenterUser" | "SAMLUser"
        );
        let _ = writeln!(y, "  - principal: {}", q(&s.principal));
        let _ = writeln!(y, "    kind: {}", if human { "human" } else { "workload" });
        let _ = writeln!(y, "    owner: team-{i:02}");
        let _ = writeln!(y, "    contact: 'team-{i:02}@example.com'");
        let _ = writeln!(y, "    purpose: 'Observed identity #{i} of the corpus'");
        if let Some(env) = s.account.as_deref().and_then(env_of) {
            let _ = writeln!(y, "    environments: [{env}]");
        }
        let mut services: Vec<(&String, &u64)> = s.services.iter().collect();
        services.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut covered = 0u64;
        let mut actions = Vec::new();
        for (svc, c) in services {
            if !actions.is_empty() && covered as f64 >= COVERED_SHARE * s.count as f64 {
                break;
            }
            covered += c;
            actions.push(q(&format!("{svc}:*")));
        }
        let _ = writeln!(y, "    allow:");
        let _ = writeln!(y, "      - sid: observed-services");
        let _ = writeln!(y, "        actions: [{}]", actions.join(", "));
        if let Some(r) = top_key(&s.regions) {
            let _ = writeln!(y, "        regions: [{}]", q(r));
        }
        let _ = writeln!(
            y,
            "      - sid: whoami\n        actions: ['sts:GetCallerIdentity']"
        );
        let _ = writeln!(
            y,
            "    deny:\n      - sid: no-destruction\n        actions: ['iam:Delete*', 'kms:ScheduleKeyDeletion', 'cloudtrail:StopLogging', 'cloudtrail:DeleteTrail', 's3:DeleteBucket*']"
        );
        n += 1;
    }
    let mut patterns: Vec<String> = Vec::new();
    for (a, _) in accounts.iter().take(2) {
        patterns.push(format!(
            "  - principal: {}\n    kind: workload\n    owner: platform-team\n    purpose: 'Every role of account {a}'\n    allow:\n      - sid: read-only\n        actions: ['ec2:Describe*', 'sts:*', 'ssm:Get*', 's3:Get*', 's3:List*', 'kms:Decrypt']\n",
            q(&format!("arn:aws:iam::{a}:role/*"))
        ));
    }
    patterns.push(
        "  - principal: 'arn:aws:iam::*:role/OrganizationAccountAccessRole'\n    kind: human\n    owner: cloud-platform\n    purpose: 'Organizations break-glass access'\n".to_string(),
    );
    patterns.push(
        "  - principal: 'arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*'\n    kind: human\n    owner: cloud-governance\n    purpose: 'IAM Identity Center permission sets'\n".to_string(),
    );
    patterns.push(
        "  - principal: 'arn:aws:iam::*:user/svc-*'\n    kind: workload\n    owner: platform-team\n    credentials:\n      short_lived_only: true\n".to_string(),
    );
    patterns.push(
        "  - principal: 'arn:aws:iam::*:role/ci/*'\n    kind: workload\n    owner: platform-team\n    allow:\n      - actions: ['cloudformation:*', 'lambda:Update*', 's3:PutObject']\n        regions: ['eu-*']\n".to_string(),
    );
    patterns.push(
        "  - principal: 'webidentity:*'\n    kind: workload\n    owner: platform-team\n"
            .to_string(),
    );
    patterns.push(
        "  - principal: 'arn:aws:iam::*:role/agents/*'\n    kind: agent\n    owner: ai-platform\n"
            .to_string(),
    );
    for p in patterns {
        y.push_str(&p);
        n += 1;
    }
    let mut i = 0usize;
    while n < total {
        let _ = writeln!(
            y,
            "  - principal: {}\n    kind: workload\n    owner: app-team-{:02}\n    purpose: 'Application service {i}'\n    allow:\n      - sid: data\n        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 's3:GetObject']\n        resources: ['arn:aws:dynamodb:*:{main_account}:table/app-{i:02}-*', 'arn:aws:s3:::app-{i:02}-*/*']\n        regions: ['eu-west-1', 'us-east-1']\n      - sid: whoami\n        actions: ['sts:GetCallerIdentity']",
            q(&format!("arn:aws:iam::{main_account}:role/app/service-{i:02}")),
            i % 7
        );
        i += 1;
        n += 1;
    }
    y
}
