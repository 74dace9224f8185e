//! The one pipeline every entry point runs: records -> activities -> evaluate -> store -> alerts.

use crate::activity::normalise_unclassified;
use crate::finding::{Hit, HitOutcome};
use crate::input::{self, InputError, ReadStats, RecordItem, Source};
use crate::inventory::Settings;
use crate::ports::{AlertKind, AlertSink, FindingStore, StoreError};
use crate::record::SkipReason;
use crate::rules::{evaluate, CachedLookup, GovernanceLookup};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

/// Hits buffered before they are written to the store in one transaction.
pub const BATCH_HITS: usize = 4096;

/// What a replay did. The JSON keys are a documented contract.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub files: u64,
    pub records: u64,
    pub evaluated: u64,
    pub skipped: BTreeMap<&'static str, u64>,
    pub input_errors: Vec<InputError>,
    pub findings_new: u64,
    pub findings_updated: u64,
    /// Hits already counted before (the same event delivered again).
    pub duplicate_hits: u64,
    /// Hits covered by a valid exception (their findings are stored as suppressed).
    pub suppressed_hits: u64,
    pub alerts_sent: u64,
    /// Records evaluated whose eventTime was missing or unreadable: judged at `now`.
    pub records_without_time: u64,
    pub elapsed_seconds: f64,
    pub records_per_second: f64,
}

/// Failure of the pipeline itself (input problems are not failures: they are counted).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Alert(#[from] crate::ports::AlertError),
}

pub struct Pipeline<'a> {
    records: CachedLookup<'a>,
    settings: &'a Settings,
    store: &'a mut dyn FindingStore,
    alerts: Option<&'a mut dyn AlertSink>,
    now: DateTime<Utc>,
    pending: Vec<Hit>,
    stats: ReadStats,
    summary: Summary,
    started: Instant,
    touched: Option<std::collections::BTreeSet<String>>,
    /// Records read but not evaluated (no identity, Insights, ignored principals).
    skipped: BTreeMap<&'static str, u64>,
}

impl<'a> Pipeline<'a> {
    pub fn new(
        records: &'a dyn GovernanceLookup,
        settings: &'a Settings,
        store: &'a mut dyn FindingStore,
        alerts: Option<&'a mut dyn AlertSink>,
        now: DateTime<Utc>,
    ) -> Self {
        Pipeline {
            records: CachedLookup::new(records),
            settings,
            store,
            alerts,
            now,
            pending: Vec::with_capacity(BATCH_HITS),
            stats: ReadStats::default(),
            summary: Summary::default(),
            started: Instant::now(),
            touched: None,
            skipped: BTreeMap::new(),
        }
    }

    /// Remember the ids of findings this run touched (for printing them afterwards).
    pub fn track_findings(&mut self, on: bool) {
        self.touched = on.then(Default::default);
    }

    /// Ids of the findings this run touched, duplicates included (see `track_findings`).
    pub fn touched_findings(&self) -> Vec<String> {
        self.touched.iter().flatten().cloned().collect()
    }

    /// Expands paths (files, folders, `-`) into sources, counting names it skips.
    pub fn discover(&mut self, paths: &[std::path::PathBuf]) -> Vec<Source> {
        input::discover(paths, &mut self.stats)
    }

    /// Reads and evaluates one source. Hits are written in batches: call `flush` to make
    /// everything read so far durable (e.g. before acknowledging a message), or `finish`.
    pub fn process_source(&mut self, source: &Source) -> Result<(), PipelineError> {
        let mut failure: Option<PipelineError> = None;
        let mut stats = std::mem::take(&mut self.stats);
        input::read_source(source, &mut stats, &mut |item| {
            if failure.is_none() {
                if let Err(e) = self.process_record(item) {
                    failure = Some(e);
                }
            }
        });
        self.stats = stats;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Reads and evaluates a stream (already decoded, e.g. an S3 object body) named `name`.
    pub fn process_stream(&mut self, name: &str, reader: impl Read) -> Result<(), PipelineError> {
        let mut failure: Option<PipelineError> = None;
        let mut stats = std::mem::take(&mut self.stats);
        stats.files += 1;
        let name: Arc<str> = Arc::from(name);
        input::read_stream(reader, &name, &mut stats, &mut |item| {
            if failure.is_none() {
                if let Err(e) = self.process_record(item) {
                    failure = Some(e);
                }
            }
        });
        self.stats = stats;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Normalises and evaluates one record; hits are buffered and written in batches.
    pub fn process_record(&mut self, item: RecordItem<'_, '_>) -> Result<(), PipelineError> {
        let mut act = match normalise_unclassified(item.record, item.origin) {
            Ok(a) => a,
            Err(reason) => {
                self.skip(reason);
                return Ok(());
            }
        };
        if act.event_id.is_none() && act.shared_event_id.is_none() {
            act.content_key = Some(content_key(item.bytes));
        }
        if act.event_time.is_none() {
            self.summary.records_without_time += 1;
        }
        let eval = evaluate(&act, &self.records, self.settings, self.now);
        if eval.ignored {
            self.skip(SkipReason::IgnoredPrincipal);
            return Ok(());
        }
        self.summary.evaluated += 1;
        self.pending.extend(eval.hits);
        if self.pending.len() >= BATCH_HITS {
            self.flush()?;
        }
        Ok(())
    }

    fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason.as_str()).or_insert(0) += 1;
    }

    /// Writes buffered hits and sends alerts for new, escalated and reopened findings.
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let hits = std::mem::take(&mut self.pending);
        let outcomes = self.store.record(&hits)?;
        let mut to_alert: Vec<(AlertKind, &str)> = Vec::new();
        if let Some(t) = self.touched.as_mut() {
            for h in &hits {
                if !t.contains(&h.finding_id) {
                    t.insert(h.finding_id.clone());
                }
            }
        }
        for (hit, outcome) in hits.iter().zip(outcomes) {
            if hit.suppressed_by.is_some() && outcome != HitOutcome::Duplicate {
                self.summary.suppressed_hits += 1;
            }
            match outcome {
                HitOutcome::New => {
                    self.summary.findings_new += 1;
                    if hit.suppressed_by.is_none() {
                        to_alert.push((AlertKind::New, &hit.finding_id));
                    }
                }
                HitOutcome::Updated {
                    escalated,
                    reopened,
                } => {
                    self.summary.findings_updated += 1;
                    if reopened {
                        to_alert.push((AlertKind::Reopened, &hit.finding_id));
                    } else if escalated {
                        to_alert.push((AlertKind::Escalated, &hit.finding_id));
                    }
                }
                HitOutcome::Duplicate => self.summary.duplicate_hits += 1,
            }
        }
        if let Some(sink) = self.alerts.as_deref_mut() {
            // One alert per finding per batch: the strongest reason wins.
            let mut seen: Vec<&str> = Vec::new();
            for (kind, id) in &to_alert {
                if seen.contains(id) {
                    continue;
                }
                seen.push(id);
                if let Some(f) = self.store.get(id)? {
                    sink.send(*kind, &f)?;
                    self.summary.alerts_sent += 1;
                }
            }
        }
        self.pending = hits;
        self.pending.clear();
        Ok(())
    }

    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Flushes and returns the summary.
    pub fn finish(mut self) -> Result<Summary, PipelineError> {
        self.flush()?;
        let mut s = self.summary;
        s.files = self.stats.files;
        s.records = self.stats.records;
        s.skipped = self.stats.skipped;
        for (k, v) in self.skipped {
            *s.skipped.entry(k).or_insert(0) += v;
        }
        s.input_errors = self.stats.input_errors;
        let el = self.started.elapsed().as_secs_f64();
        s.elapsed_seconds = el;
        s.records_per_second = if el > 0.0 { s.records as f64 / el } else { 0.0 };
        Ok(s)
    }
}

/// A stable key for a record's JSON text (for records without an eventID).
fn content_key(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(bytes);
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}
