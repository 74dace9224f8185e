//! Whole-run benchmark: a replay of at least 1,000,000 CloudTrail records, scaled from the
//! real corpus, measured on one core against parse-only baselines.
//!
//! 1. Reads every CloudTrail record of the corpus (`/work/shared/data/cloudtrail`, found
//!    relative to this crate) with its exact bytes, and writes CloudTrail log files
//!    `{"Records":[...]}` of 1,000 records each into a temporary folder (deleted at the end):
//!    copies of the corpus records in turn, each with a fresh UUID-shaped `eventID` and an
//!    `eventTime` spread over one day; every other byte of a record is kept as it was.
//! 2. Measures, one after the other in this process (single thread):
//!    * `parse-stream`: `serde_json::Deserializer::from_reader(BufReader)` into `IgnoredAny`;
//!    * `parse-slice`: whole file read into memory, `serde_json::from_slice::<IgnoredAny>`;
//!    * `frame+parse`: `input::read_source` with a no-op callback (framing + `RawRecord`);
//!    * `full replay`: `Pipeline` with an inventory generated from the corpus (its most active
//!      principals plus wildcard patterns, so only some events produce findings), a
//!      `SqliteStore` in a temporary file, `process_source` per file and `finish()`.
//!
//! Environment:
//! * `GOVTRAIL_BENCH_RECORDS` — records to generate (default 1_000_000; `50_000` for a quick run);
//! * `GOVTRAIL_BENCH_PASSES` — comma-separated subset of `stream,slice,frame,full` (default all),
//!   e.g. `full` when profiling;
//! * `GOVTRAIL_BENCH_CORPUS` — another corpus folder (a missing one uses the embedded sample).
//!
//! Run: `cargo bench -p govtrail-core --bench replay`

mod common;

use chrono::{DateTime, Utc};
use govtrail_core::input::{self, ReadStats, Source};
use govtrail_core::ports::FindingStore;
use govtrail_core::{evaluate, FindingFilter, Inventory, Pipeline, SqliteStore};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::error::Error;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn Error>>;

const DEFAULT_RECORDS: u64 = 1_000_000;
const RECORDS_PER_FILE: u64 = 1_000;
const INVENTORY_RECORDS: usize = 50;
/// The generated events fall on this day (the day of the invictus-ir trail).
const DAY: &str = "2023-07-10";

// ---------------------------------------------------------------------------------------
// Corpus -> templates
// ---------------------------------------------------------------------------------------

enum Slot {
    EventId,
    EventTime,
}

/// A corpus record cut around its top-level `eventID` and `eventTime` values:
/// `chunks[0] slot[0] chunks[1] slot[1] chunks[2]`.
struct Template {
    chunks: Vec<Vec<u8>>,
    slots: Vec<Slot>,
}

impl Template {
    fn new(bytes: &[u8]) -> Res<Template> {
        let top: HashMap<String, &RawValue> = serde_json::from_slice(bytes)?;
        let base = bytes.as_ptr() as usize;
        let mut spans: Vec<(usize, usize, Slot)> = Vec::new();
        for (key, slot) in [("eventID", Slot::EventId), ("eventTime", Slot::EventTime)] {
            // Only string values are replaced (a record without the field keeps not having it).
            if let Some(v) = top.get(key).filter(|v| v.get().starts_with('"')) {
                let start = (v.get().as_ptr() as usize)
                    .checked_sub(base)
                    .ok_or("value outside the record")?;
                spans.push((start, start + v.get().len(), slot));
            }
        }
        spans.sort_by_key(|s| s.0);
        let mut chunks = Vec::new();
        let mut slots = Vec::new();
        let mut at = 0usize;
        for (start, end, slot) in spans {
            chunks.push(bytes.get(at..start).ok_or("bad span")?.to_vec());
            slots.push(slot);
            at = end;
        }
        chunks.push(bytes.get(at..).ok_or("bad span")?.to_vec());
        Ok(Template { chunks, slots })
    }

    fn write(&self, out: &mut impl Write, event_id: &[u8], event_time: &[u8]) -> Res<()> {
        for (chunk, slot) in self.chunks.iter().zip(&self.slots) {
            out.write_all(chunk)?;
            out.write_all(match slot {
                Slot::EventId => event_id,
                Slot::EventTime => event_time,
            })?;
        }
        if let Some(last) = self.chunks.last() {
            out.write_all(last)?;
        }
        Ok(())
    }
}

/// splitmix64: a deterministic source of fresh event ids.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A quoted version-4 UUID string, as CloudTrail writes event ids.
    fn uuid(&mut self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hi = (self.next() & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        let lo = (self.next() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        let v = (u128::from(hi) << 64) | u128::from(lo);
        out.clear();
        out.push(b'"');
        for i in 0..32 {
            if matches!(i, 8 | 12 | 16 | 20) {
                out.push(b'-');
            }
            let nibble = ((v >> (124 - 4 * i)) & 0xF) as usize;
            out.push(HEX[nibble]);
        }
        out.push(b'"');
    }
}

fn event_time(i: u64, n: u64, out: &mut Vec<u8>) {
    let secs = (u128::from(i) * 86_400 / u128::from(n.max(1))) as u64;
    out.clear();
    let _ = write!(
        out,
        "\"{DAY}T{:02}:{:02}:{:02}Z\"",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
}

struct Generated {
    files: Vec<PathBuf>,
    records: u64,
    bytes: u64,
}

/// Writes `n` records as CloudTrail log files of `RECORDS_PER_FILE` records each.
fn generate(dir: &Path, templates: &[Template], account: &str, n: u64) -> Res<Generated> {
    let logs = dir.join("AWSLogs");
    std::fs::create_dir_all(&logs)?;
    let mut rng = Rng(0x6f76_7472_6169_6c21);
    let (mut id, mut time) = (Vec::with_capacity(40), Vec::with_capacity(24));
    let mut files = Vec::new();
    let mut bytes = 0u64;
    let mut i = 0u64;
    let mut k = 0u64;
    while i < n {
        let first_secs = i * 86_400 / n;
        let path = logs.join(format!(
            "{account}_CloudTrail_us-east-1_{}T{:02}{:02}Z_{k:06}.json",
            DAY.replace('-', ""),
            first_secs / 3600,
            first_secs / 60 % 60
        ));
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        w.write_all(b"{\"Records\":[")?;
        let end = (i + RECORDS_PER_FILE).min(n);
        let mut first = true;
        while i < end {
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            let t = &templates[(i % templates.len() as u64) as usize];
            rng.uuid(&mut id);
            event_time(i, n, &mut time);
            t.write(&mut w, &id, &time)?;
            i += 1;
        }
        w.write_all(b"]}\n")?;
        w.flush()?;
        bytes += std::fs::metadata(&path)?.len();
        files.push(path);
        k += 1;
    }
    Ok(Generated {
        files,
        records: i,
        bytes,
    })
}

// ---------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------

/// A `/proc/self/status` value in kB (`VmRSS`, `VmHWM`).
fn status_kb(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak RSS (`VmHWM`) to the current RSS (Linux >= 4.0), so each pass reports
/// its own peak.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kb: Option<u64>) -> String {
    kb.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "?".to_string())
}

// ---------------------------------------------------------------------------------------
// Passes
// ---------------------------------------------------------------------------------------

struct Measured {
    name: &'static str,
    seconds: f64,
    records: u64,
    rss_before_kb: Option<u64>,
    hwm_before_kb: Option<u64>,
    hwm_after_kb: Option<u64>,
}

fn measure(
    name: &'static str,
    records: u64,
    peak_reset: bool,
    f: impl FnOnce() -> Res<()>,
) -> Res<Measured> {
    if peak_reset {
        reset_peak();
    }
    let rss_before_kb = status_kb("VmRSS");
    let hwm_before_kb = status_kb("VmHWM");
    let t = Instant::now();
    f()?;
    let seconds = t.elapsed().as_secs_f64();
    Ok(Measured {
        name,
        seconds,
        records,
        rss_before_kb,
        hwm_before_kb,
        hwm_after_kb: status_kb("VmHWM"),
    })
}

#[inline(never)]
fn pass_stream(files: &[PathBuf]) -> Res<()> {
    for f in files {
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(File::open(f)?));
        std::hint::black_box(IgnoredAny::deserialize(&mut de)?);
        de.end()?;
    }
    Ok(())
}

#[inline(never)]
fn pass_slice(files: &[PathBuf]) -> Res<()> {
    for f in files {
        let buf = std::fs::read(f)?;
        std::hint::black_box(serde_json::from_slice::<IgnoredAny>(&buf)?);
    }
    Ok(())
}

#[inline(never)]
fn pass_frame(sources: &[Source], expect: u64) -> Res<()> {
    let mut stats = ReadStats::default();
    for s in sources {
        input::read_source(s, &mut stats, &mut |item| {
            std::hint::black_box(item);
        });
    }
    if stats.records != expect || !stats.input_errors.is_empty() {
        return Err(format!(
            "frame pass read {} records (expected {expect}), {} input errors",
            stats.records,
            stats.input_errors.len()
        )
        .into());
    }
    Ok(())
}

#[inline(never)]
fn pass_full(
    sources: &[Source],
    inv: &Inventory,
    db: &Path,
    now: DateTime<Utc>,
    expect: u64,
) -> Res<govtrail_core::Summary> {
    let mut store = SqliteStore::open(db)?;
    let mut p = Pipeline::new(inv, &inv.settings, &mut store, None, now);
    for s in sources {
        p.process_source(s)?;
    }
    let summary = p.finish()?;
    if summary.records != expect || !summary.input_errors.is_empty() {
        return Err(format!(
            "replay read {} records (expected {expect}), {} input errors",
            summary.records,
            summary.input_errors.len()
        )
        .into());
    }
    Ok(summary)
}

// ---------------------------------------------------------------------------------------

fn env_records() -> Res<u64> {
    match std::env::var("GOVTRAIL_BENCH_RECORDS") {
        Ok(v) => {
            let n: u64 = v.replace('_', "").trim().parse().map_err(|e| {
                format!("GOVTRAIL_BENCH_RECORDS={v:?} is not a number of records: {e}")
            })?;
            if n == 0 {
                return Err("GOVTRAIL_BENCH_RECORDS must be at least 1".into());
            }
            Ok(n)
        }
        Err(_) => Ok(DEFAULT_RECORDS),
    }
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn run() -> Res<()> {
    let n = env_records()?;
    let passes = std::env::var("GOVTRAIL_BENCH_PASSES")
        .unwrap_or_else(|_| "stream,slice,frame,full".to_string());
    let want = |p: &str| passes.split(',').any(|x| x.trim() == p);
    let peak_reset = reset_peak();
    println!("govtrail replay benchmark (single thread)");
    println!(
        "  peak RSS at start: VmHWM {}  (per-pass peak reset via /proc/self/clear_refs: {})",
        mib(status_kb("VmHWM")),
        if peak_reset { "yes" } else { "not available" }
    );

    // --- the corpus ---------------------------------------------------------------------
    let t = Instant::now();
    let dir = common::corpus_dir();
    let corpus = common::load_corpus(&dir);
    if corpus.embedded {
        println!(
            "  corpus not found at {}: scaling the embedded sample record",
            dir.display()
        );
    }
    let templates: Vec<Template> = corpus
        .records
        .iter()
        .map(|r| Template::new(&r.bytes))
        .collect::<Res<_>>()?;
    let with_id = templates
        .iter()
        .filter(|t| t.slots.iter().any(|s| matches!(s, Slot::EventId)))
        .count();
    let corpus_bytes: usize = corpus.records.iter().map(|r| r.bytes.len()).sum();
    println!(
        "  corpus: {} CloudTrail records ({} counted by input::read_source) in {} files, {} record bytes; {} with eventID",
        corpus.records.len(),
        corpus.reader_records,
        corpus.files,
        corpus_bytes,
        with_id
    );

    // --- the inventory, generated from the corpus ----------------------------------------
    let acts = common::activities(&corpus.records);
    let stats = common::principal_stats(&acts);
    let yaml = common::inventory_yaml(&stats, INVENTORY_RECORDS);
    let inv = Inventory::from_texts(&[("bench-inventory.yaml".to_string(), yaml)])
        .map_err(|e| format!("generated inventory is invalid: {e}"))?;
    let now = DateTime::from_timestamp(1_700_000_000, 0).ok_or("bad timestamp")?;
    let (mut with_hits, mut hits, mut ignored) = (0usize, 0usize, 0usize);
    for a in &acts {
        let e = evaluate(a, &inv, &inv.settings, now);
        if e.ignored {
            ignored += 1;
        } else if !e.hits.is_empty() {
            with_hits += 1;
            hits += e.hits.len();
        }
    }
    println!(
        "  inventory: {} records ({} wildcard); of {} normalised corpus records {} ignored, {} produce findings ({} hits)",
        inv.records().len(),
        inv.records()
            .iter()
            .filter(|r| r.principal.is_wildcard())
            .count(),
        acts.len(),
        ignored,
        with_hits,
        hits
    );
    let account = stats
        .iter()
        .find_map(|s| s.account.clone())
        .unwrap_or_else(|| "111122223333".to_string());
    let setup_s = t.elapsed().as_secs_f64();

    // --- the scaled corpus ---------------------------------------------------------------
    let tmp = tempfile::Builder::new()
        .prefix("govtrail-replay-bench-")
        .tempdir()?;
    let t = Instant::now();
    let gen = generate(tmp.path(), &templates, &account, n)?;
    let gen_s = t.elapsed().as_secs_f64();
    // Let the kernel write the files back now rather than during a measured pass.
    let _ = std::process::Command::new("sync").status();
    let mut discover_stats = ReadStats::default();
    let sources = input::discover(&[tmp.path().join("AWSLogs")], &mut discover_stats);
    println!(
        "  generated: {} records in {} files, {} bytes ({:.1} MiB, {:.0} bytes/record) in {:.2} s under {} (setup {:.2} s)",
        gen.records,
        gen.files.len(),
        gen.bytes,
        gen.bytes as f64 / 1048576.0,
        gen.bytes as f64 / gen.records as f64,
        gen_s,
        tmp.path().display(),
        setup_s
    );
    println!("  (files were just written, so every pass reads them from the page cache)\n");

    // --- the passes ----------------------------------------------------------------------
    let mut results: Vec<Measured> = Vec::new();
    if want("stream") {
        results.push(measure("parse-stream", gen.records, peak_reset, || {
            pass_stream(&gen.files)
        })?);
    }
    if want("slice") {
        results.push(measure("parse-slice", gen.records, peak_reset, || {
            pass_slice(&gen.files)
        })?);
    }
    if want("frame") {
        results.push(measure("frame+parse", gen.records, peak_reset, || {
            pass_frame(&sources, gen.records)
        })?);
    }
    let db = tmp.path().join("findings.sqlite");
    let mut summary = None;
    if want("full") {
        results.push(measure("full replay", gen.records, peak_reset, || {
            summary = Some(pass_full(&sources, &inv, &db, now, gen.records)?);
            Ok(())
        })?);
    }

    println!(
        "{:<13} {:>10} {:>14} {:>10} {:>13} {:>13} {:>13}",
        "pass", "seconds", "records/s", "MiB/s", "RSS before", "peak before", "peak after"
    );
    for m in &results {
        println!(
            "{:<13} {:>10.3} {:>14.0} {:>10.1} {:>13} {:>13} {:>13}",
            m.name,
            m.seconds,
            m.records as f64 / m.seconds,
            gen.bytes as f64 / 1048576.0 / m.seconds,
            mib(m.rss_before_kb),
            mib(m.hwm_before_kb),
            mib(m.hwm_after_kb)
        );
    }
    let secs = |name: &str| results.iter().find(|m| m.name == name).map(|m| m.seconds);
    println!();
    for (base, label) in [
        ("parse-stream", "full replay / parse-stream"),
        ("parse-slice", "full replay / parse-slice "),
        ("frame+parse", "full replay / frame+parse "),
    ] {
        if let (Some(full), Some(b)) = (secs("full replay"), secs(base)) {
            println!("  {label}: {:.2}x the time", full / b);
        }
    }
    for (a, b) in [
        ("frame+parse", "parse-stream"),
        ("frame+parse", "parse-slice"),
    ] {
        if let (Some(x), Some(y)) = (secs(a), secs(b)) {
            println!("  {a} / {b}: {:.2}x the time", x / y);
        }
    }
    if let Some(s) = summary {
        let store = SqliteStore::open(&db)?;
        let findings = store.list(&FindingFilter::default())?.len();
        let wal = db.with_extension("sqlite-wal");
        println!(
            "  replay summary: files {}, records {}, evaluated {}, skipped {:?}, findings new {}, updated {}, duplicate hits {}, suppressed hits {}, {:.0} records/s by the summary",
            s.files,
            s.records,
            s.evaluated,
            s.skipped,
            s.findings_new,
            s.findings_updated,
            s.duplicate_hits,
            s.suppressed_hits,
            s.records_per_second
        );
        println!(
            "  store: {findings} findings; {} bytes (+{} bytes WAL)",
            file_size(&db),
            file_size(&wal)
        );
    }
    println!(
        "  peak RSS at end: VmHWM {} (since the last reset), VmRSS {}",
        mib(status_kb("VmHWM")),
        mib(status_kb("VmRSS"))
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replay bench: {e}");
            ExitCode::FAILURE
        }
    }
}
