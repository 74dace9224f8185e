//! Per-record benchmarks of the engine's hot path, on real CloudTrail records:
//!
//! * `parse`: one record's bytes -> `RawRecord` (serde_json);
//! * `normalise`: `RawRecord` -> `Activity`;
//! * `evaluate`: `Activity` against an inventory of 50 records (exact and wildcard);
//! * `normalise_evaluate`: both, as the pipeline runs them per record.
//!
//! Records come from the corpus at `/work/shared/data/cloudtrail` (found relative to this
//! crate); without it an embedded sample record is used so the bench always runs.
//!
//! Run: `cargo bench -p govtrail-core --bench evaluate -- --warm-up-time 1 --measurement-time 3`

mod common;

use chrono::{DateTime, Utc};
use common::CorpusRecord;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use govtrail_core::rules::GovernanceLookup;
use govtrail_core::{evaluate, normalise, Activity, Inventory, RawRecord};
use std::hint::black_box;

/// Records in the benchmark inventory.
const INVENTORY_RECORDS: usize = 50;

struct Case {
    name: &'static str,
    record: CorpusRecord,
}

struct Setup {
    inventory: Inventory,
    cases: Vec<Case>,
    now: DateTime<Utc>,
}

fn fail(msg: String) -> ! {
    eprintln!("evaluate bench: {msg}");
    std::process::exit(1)
}

/// A few typical records, each chosen by what it exercises; the corpus's own file order
/// decides which record is taken (first match).
fn pick_cases(
    records: &[CorpusRecord],
    acts: &[(usize, Activity)],
    inv: &Inventory,
    now: DateTime<Utc>,
) -> Vec<Case> {
    type Pred<'a> = Box<dyn Fn(&Activity) -> bool + 'a>;
    let registered = |a: &Activity| inv.find(&a.principal).is_some();
    let hits = |a: &Activity| evaluate(a, inv, &inv.settings, now).hits.len();
    let criteria: Vec<(&'static str, Pred<'_>)> = vec![
        (
            "iam_user_s3_read",
            Box::new(move |a: &Activity| {
                a.identity_type == "IAMUser"
                    && a.action.starts_with("s3:")
                    && a.is_success()
                    && registered(a)
            }),
        ),
        (
            "assumed_role_ec2",
            Box::new(move |a: &Activity| {
                a.identity_type == "AssumedRole"
                    && a.action.starts_with("ec2:")
                    && !a.principal.contains(":role/aws-service-role/")
                    && a.is_success()
                    && registered(a)
            }),
        ),
        (
            "iam_write_with_params",
            Box::new(move |a: &Activity| {
                a.action.starts_with("iam:")
                    && a.read_only == Some(false)
                    && !a.resources.is_empty()
                    && registered(a)
            }),
        ),
        (
            "failed_call",
            Box::new(move |a: &Activity| !a.is_success() && registered(a)),
        ),
        (
            "registered_with_finding",
            Box::new(move |a: &Activity| registered(a) && hits(a) > 0),
        ),
        (
            "unregistered",
            Box::new(move |a: &Activity| {
                a.principal.starts_with("arn:")
                    && a.identity_type != "Root"
                    && !inv.settings.is_ignored(&a.principal)
                    && !registered(a)
            }),
        ),
    ];
    // Prefer the complete real trail (invictus-ir) over documentation examples.
    let real = |i: usize| {
        records
            .get(i)
            .is_some_and(|r| r.file.contains("invictus-ir_aws_dataset"))
    };
    let mut chosen: Vec<(&'static str, usize)> = Vec::new();
    for (name, pred) in &criteria {
        let taken = |i: usize| chosen.iter().any(|(_, j)| *j == i);
        let found = acts
            .iter()
            .find(|(i, a)| real(*i) && !taken(*i) && pred(a))
            .or_else(|| acts.iter().find(|(i, a)| !taken(*i) && pred(a)));
        if let Some((i, _)) = found {
            chosen.push((name, *i));
        }
    }
    if chosen.is_empty() {
        chosen.push(("sample", 0));
    }
    chosen
        .into_iter()
        .filter_map(|(name, i)| {
            records.get(i).map(|r| Case {
                name,
                record: r.clone(),
            })
        })
        .collect()
}

fn setup() -> Setup {
    let dir = common::corpus_dir();
    let corpus = common::load_corpus(&dir);
    if corpus.embedded {
        eprintln!(
            "evaluate bench: corpus not found at {}; using the embedded sample record",
            dir.display()
        );
    }
    let parsed: Vec<(usize, Activity)> = corpus
        .records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let raw = r.parse().ok()?;
            normalise(&raw, r.origin()).ok().map(|a| (i, a))
        })
        .collect();
    let all: Vec<Activity> = parsed.iter().map(|(_, a)| a.clone()).collect();
    let stats = common::principal_stats(&all);
    let yaml = common::inventory_yaml(&stats, INVENTORY_RECORDS);
    let inventory = Inventory::from_texts(&[("bench-inventory.yaml".to_string(), yaml)])
        .unwrap_or_else(|e| fail(format!("generated inventory is invalid: {e}")));
    let now = DateTime::from_timestamp(1_700_000_000, 0)
        .unwrap_or_else(|| fail("bad timestamp".to_string()));
    let cases = pick_cases(&corpus.records, &parsed, &inventory, now);
    eprintln!(
        "evaluate bench: {} CloudTrail records ({} by input::read_source) in {} files, {} normalised; inventory of {} records ({} wildcard)",
        corpus.records.len(),
        corpus.reader_records,
        corpus.files,
        all.len(),
        inventory.records().len(),
        inventory
            .records()
            .iter()
            .filter(|r| r.principal.is_wildcard())
            .count()
    );
    for c in &cases {
        let raw: Option<RawRecord> = c.record.parse().ok();
        let act = raw.and_then(|r| normalise(&r, c.record.origin()).ok());
        let hits = act
            .as_ref()
            .map(|a| evaluate(a, &inventory, &inventory.settings, now).hits.len());
        eprintln!(
            "  case {:<22} {:>5} bytes  {}#{}  principal={}  action={}  hits={}",
            c.name,
            c.record.bytes.len(),
            c.record.file,
            c.record.index,
            act.as_ref().map(|a| a.principal.as_str()).unwrap_or("-"),
            act.as_ref().map(|a| a.action.as_str()).unwrap_or("-"),
            hits.map(|h| h.to_string())
                .unwrap_or_else(|| "-".to_string()),
        );
    }
    Setup {
        inventory,
        cases,
        now,
    }
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let inv = &s.inventory;
    let lookup: &dyn GovernanceLookup = inv;

    let mut g = c.benchmark_group("parse");
    for case in &s.cases {
        g.throughput(Throughput::Bytes(case.record.bytes.len() as u64));
        g.bench_with_input(
            BenchmarkId::from_parameter(case.name),
            &case.record.bytes,
            |b, bytes| {
                b.iter(|| serde_json::from_slice::<RawRecord>(black_box(bytes)).ok());
            },
        );
    }
    g.finish();

    let raws: Vec<(&Case, RawRecord)> = s
        .cases
        .iter()
        .filter_map(|c| c.record.parse().ok().map(|r| (c, r)))
        .collect();

    let mut g = c.benchmark_group("normalise");
    g.throughput(Throughput::Elements(1));
    for (case, raw) in &raws {
        let origin = case.record.origin();
        g.bench_with_input(BenchmarkId::from_parameter(case.name), raw, |b, raw| {
            b.iter(|| normalise(black_box(raw), origin.clone()).ok());
        });
    }
    g.finish();

    let acts: Vec<(&Case, &RawRecord, Activity)> = raws
        .iter()
        .filter_map(|(c, r)| normalise(r, c.record.origin()).ok().map(|a| (*c, r, a)))
        .collect();

    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));
    for (case, _, act) in &acts {
        g.bench_with_input(BenchmarkId::from_parameter(case.name), act, |b, act| {
            b.iter(|| evaluate(black_box(act), lookup, &inv.settings, s.now));
        });
    }
    g.finish();

    let mut g = c.benchmark_group("normalise_evaluate");
    g.throughput(Throughput::Elements(1));
    for (case, raw, _) in &acts {
        let origin = case.record.origin();
        g.bench_with_input(BenchmarkId::from_parameter(case.name), *raw, |b, raw| {
            b.iter(|| {
                normalise(black_box(raw), origin.clone())
                    .ok()
                    .map(|a| evaluate(&a, lookup, &inv.settings, s.now))
            });
        });
    }
    g.finish();
}

criterion_group!(evaluate_benches, benches);
criterion_main!(evaluate_benches);
