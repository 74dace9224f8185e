//! The one pipeline every entry point runs: records -> activities -> evaluate -> store -> alerts.

use crate::activity::{normalise_unclassified, Activity};
use crate::finding::{Hit, HitOutcome};
use crate::input::{self, InputError, ReadStats, RecordItem, Source};
use crate::inventory::Settings;
use crate::lifecycle::LifecycleChange;
use crate::ports::{AlertKind, AlertSink, FindingStore, LifecycleStore, StoreError};
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

/// Activities normalised before their governance records are fetched in one batch and they
/// are evaluated.
pub const BATCH_ACTIVITIES: usize = 512;

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
    /// IAM lifecycle changes newly recorded (0 without a lifecycle store).
    pub lifecycle_changes: u64,
    pub elapsed_seconds: f64,
    pub records_per_second: f64,
}

/// What writing one batch of hits did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub new: u64,
    pub updated: u64,
    pub duplicate: u64,
    pub suppressed: u64,
    pub reopened: u64,
    pub alerts_sent: u64,
}

/// Writes hits to the store and sends one alert per finding for what is new, escalated or
/// reopened (suppressed hits never alert). Shared by the event pipeline and the sweep.
pub fn record_hits(
    store: &mut (dyn FindingStore + '_),
    alerts: Option<&mut (dyn AlertSink + '_)>,
    hits: &[Hit],
) -> Result<Tally, PipelineError> {
    let mut tally = Tally::default();
    if hits.is_empty() {
        return Ok(tally);
    }
    let outcomes = store.record(hits)?;
    let mut to_alert: Vec<(AlertKind, &str)> = Vec::new();
    for (hit, outcome) in hits.iter().zip(outcomes) {
        if hit.suppressed_by.is_some() && outcome != HitOutcome::Duplicate {
            tally.suppressed += 1;
        }
        match outcome {
            HitOutcome::New => {
                tally.new += 1;
                if hit.suppressed_by.is_none() {
                    to_alert.push((AlertKind::New, &hit.finding_id));
                }
            }
            HitOutcome::Updated {
                escalated,
                reopened,
            } => {
                tally.updated += 1;
                if reopened {
                    tally.reopened += 1;
                    to_alert.push((AlertKind::Reopened, &hit.finding_id));
                } else if escalated {
                    to_alert.push((AlertKind::Escalated, &hit.finding_id));
                }
            }
            HitOutcome::Duplicate => tally.duplicate += 1,
        }
    }
    if let Some(sink) = alerts {
        // One alert per finding per batch: the strongest reason wins.
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for (kind, id) in &to_alert {
            if !seen.insert(id) {
                continue;
            }
            if let Some(f) = store.get(id)? {
                sink.send(*kind, &f)?;
                tally.alerts_sent += 1;
            }
        }
    }
    Ok(tally)
}

/// Failure of the pipeline itself (input problems are not failures: they are counted).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Alert(#[from] crate::ports::AlertError),
    #[error(transparent)]
    Lookup(#[from] crate::rules::LookupError),
}

pub struct Pipeline<'a> {
    records: CachedLookup<'a>,
    settings: &'a Settings,
    store: &'a mut dyn FindingStore,
    alerts: Option<&'a mut dyn AlertSink>,
    lifecycle: Option<&'a mut dyn LifecycleStore>,
    now: DateTime<Utc>,
    pending: Vec<Hit>,
    /// Lifecycle changes read but not yet recorded (written before the hits).
    pending_changes: Vec<LifecycleChange>,
    activities: Vec<Activity>,
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
            lifecycle: None,
            now,
            pending: Vec::with_capacity(BATCH_HITS),
            pending_changes: Vec::new(),
            activities: Vec::with_capacity(BATCH_ACTIVITIES),
            stats: ReadStats::default(),
            summary: Summary::default(),
            started: Instant::now(),
            touched: None,
            skipped: BTreeMap::new(),
        }
    }

    /// Also record the IAM lifecycle changes the records carry (identities created and
    /// deleted, access keys created, re-statused and deleted, tags), whoever made them: an
    /// ignored principal's changes are state too. They are written with each batch of hits,
    /// before them.
    pub fn with_lifecycle(mut self, store: &'a mut dyn LifecycleStore) -> Self {
        self.lifecycle = Some(store);
        self
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
        if self.lifecycle.is_some() {
            if let Some(change) = LifecycleChange::from_activity(&act) {
                self.pending_changes.push(change);
            }
        }
        if self.settings.is_ignored(&act.principal) {
            self.skip(SkipReason::IgnoredPrincipal);
            if self.pending_changes.len() >= BATCH_HITS {
                self.write_changes()?;
            }
            return Ok(());
        }
        self.activities.push(act);
        if self.activities.len() >= BATCH_ACTIVITIES {
            self.evaluate_batch()?;
        }
        Ok(())
    }

    /// Fetches the governance records a batch needs in one go, then evaluates it.
    fn evaluate_batch(&mut self) -> Result<(), PipelineError> {
        if self.activities.is_empty() {
            return Ok(());
        }
        let acts = std::mem::take(&mut self.activities);
        {
            let mut principals: Vec<&str> = Vec::with_capacity(acts.len());
            for a in &acts {
                principals.push(&a.principal);
                if let Some(c) = &a.created_principal {
                    principals.push(c);
                }
                if let Some(l) = &a.lifecycle {
                    principals.push(l.principal());
                }
            }
            principals.sort_unstable();
            principals.dedup();
            self.records.prefetch(&principals)?;
        }
        for act in &acts {
            let eval = evaluate(act, &self.records, self.settings, self.now);
            if eval.ignored {
                self.skip(SkipReason::IgnoredPrincipal);
                continue;
            }
            self.summary.evaluated += 1;
            self.pending.extend(eval.hits);
        }
        self.activities = acts;
        self.activities.clear();
        if self.pending.len() >= BATCH_HITS || self.pending_changes.len() >= BATCH_HITS {
            self.write_hits()?;
        }
        Ok(())
    }

    fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason.as_str()).or_insert(0) += 1;
    }

    /// Evaluates what is buffered, writes the hits and sends alerts for new, escalated and
    /// reopened findings: after it, everything read so far is durable.
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        self.evaluate_batch()?;
        self.write_hits()
    }

    /// Records the pending lifecycle changes (a redelivered change is not new).
    fn write_changes(&mut self) -> Result<(), PipelineError> {
        if let Some(store) = self.lifecycle.as_deref_mut() {
            if !self.pending_changes.is_empty() {
                self.summary.lifecycle_changes += store.record_changes(&self.pending_changes)?;
            }
        }
        self.pending_changes.clear();
        Ok(())
    }

    /// Records the pending lifecycle changes, then the hits.
    fn write_hits(&mut self) -> Result<(), PipelineError> {
        self.write_changes()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let hits = std::mem::take(&mut self.pending);
        if let Some(t) = self.touched.as_mut() {
            for h in &hits {
                if !t.contains(&h.finding_id) {
                    t.insert(h.finding_id.clone());
                }
            }
        }
        let tally = record_hits(&mut *self.store, self.alerts.as_deref_mut(), &hits)?;
        self.summary.findings_new += tally.new;
        self.summary.findings_updated += tally.updated;
        self.summary.duplicate_hits += tally.duplicate;
        self.summary.suppressed_hits += tally.suppressed;
        self.summary.alerts_sent += tally.alerts_sent;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{GovernanceRecord, Inventory};
    use crate::memory_store::MemoryStore;
    use crate::rules::LookupError;
    use std::cell::RefCell;

    /// A remote-like source: answers `find` only for what was prefetched, and counts batches.
    struct Remote {
        inner: Inventory,
        fetched: RefCell<Vec<String>>,
        batches: RefCell<usize>,
        fail: bool,
    }

    impl GovernanceLookup for Remote {
        fn find(&self, principal: &str) -> Option<Arc<GovernanceRecord>> {
            assert!(
                self.fetched.borrow().iter().any(|p| p == principal),
                "{principal} looked up without prefetch"
            );
            self.inner.find(principal).cloned()
        }
        fn prefetch(&self, principals: &[&str]) -> Result<(), LookupError> {
            if self.fail {
                return Err(LookupError {
                    message: "throttled".into(),
                    transient: true,
                    source: None,
                });
            }
            *self.batches.borrow_mut() += 1;
            self.fetched
                .borrow_mut()
                .extend(principals.iter().map(|p| p.to_string()));
            Ok(())
        }
    }

    fn log(n: usize) -> String {
        let recs: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"eventVersion":"1.08","eventID":"e{i}","eventTime":"2026-11-30T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","recipientAccountId":"111122223333","requestParameters":{{"userName":"u{i}"}},"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/p{}","accountId":"111122223333"}}}}"#,
                    i % 3
                )
            })
            .collect();
        format!("{{\"Records\":[{}]}}", recs.join(","))
    }

    #[test]
    fn governance_records_are_fetched_once_per_batch() {
        let inv = Inventory::from_texts(&[(
            "i.yaml".into(),
            "identities:\n- principal: arn:aws:iam::111122223333:user/p0\n  kind: human\n  owner: o\n".into(),
        )])
        .unwrap_or_else(|e| panic!("{e}"));
        let remote = Remote {
            inner: inv.clone(),
            fetched: RefCell::new(Vec::new()),
            batches: RefCell::new(0),
            fail: false,
        };
        let mut store = MemoryStore::new();
        let now = chrono::Utc::now();
        let mut p = Pipeline::new(&remote, &inv.settings, &mut store, None, now);
        p.process_stream("log.json", log(1000).as_bytes()).unwrap();
        let s = p.finish().unwrap();
        assert_eq!(s.evaluated, 1000);
        // 1000 activities in batches of 512: two prefetches; the cache means p0..p2 and the
        // created users are each fetched once.
        assert_eq!(*remote.batches.borrow(), 2);
        assert_eq!(remote.fetched.borrow().len(), 1003);
        // p1 and p2 are unregistered; every created user is ungoverned.
        assert_eq!(s.findings_new, 2 + 1000);
    }

    #[test]
    fn a_failing_source_fails_the_batch_and_records_nothing() {
        let inv = Inventory::default();
        let remote = Remote {
            inner: inv.clone(),
            fetched: RefCell::new(Vec::new()),
            batches: RefCell::new(0),
            fail: true,
        };
        let mut store = MemoryStore::new();
        let mut p = Pipeline::new(&remote, &inv.settings, &mut store, None, chrono::Utc::now());
        p.process_stream("log.json", log(10).as_bytes()).unwrap();
        let err = p.flush().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("governance records unavailable: throttled")
        );
        drop(p);
        assert!(store.list(&Default::default()).unwrap().is_empty());
    }
}
