//! Helpers for the cross-crate scenarios: where the shared corpus and cases live, and a
//! one-call way to normalise documents from bytes.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use govtrail_core::input::{read_stream, ReadStats};
use govtrail_core::{normalise, Activity, SkipReason};
use std::path::PathBuf;
use std::sync::Arc;

/// The read-only material beside the repository (`../shared`), or `GOVTRAIL_SHARED`.
pub fn shared_dir() -> PathBuf {
    if let Ok(p) = std::env::var("GOVTRAIL_SHARED") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

pub fn corpus_dir() -> PathBuf {
    shared_dir().join("data/cloudtrail")
}

pub fn case(name: &str) -> serde_json::Value {
    let p = shared_dir().join("cases/bugreports").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What reading some bytes produced: activities, skip reasons from normalising, and stats.
pub struct Read {
    pub activities: Vec<Activity>,
    pub not_evaluable: Vec<SkipReason>,
    pub stats: ReadStats,
}

pub fn read_bytes(name: &str, bytes: &[u8]) -> Read {
    let mut stats = ReadStats::default();
    let mut activities = Vec::new();
    let mut not_evaluable = Vec::new();
    let reader = govtrail_core::input::decoded(bytes).unwrap_or_else(|e| panic!("{e}"));
    read_stream(
        reader,
        &Arc::from(name),
        &mut stats,
        &mut |item| match normalise(item.record, item.origin) {
            Ok(a) => activities.push(a),
            Err(r) => not_evaluable.push(r),
        },
    );
    Read {
        activities,
        not_evaluable,
        stats,
    }
}

pub fn read_json(name: &str, v: &serde_json::Value) -> Read {
    read_bytes(name, v.to_string().as_bytes())
}
