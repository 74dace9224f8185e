//! Reading CloudTrail input: files, folders and stdin, plain or gzip, in every shape CloudTrail
//! data arrives in; each record is handed on with where it came from, nothing is lost silently.

use crate::frame::{Frame, FrameError, Framer};
use crate::record::{Document, RawRecord, SkipReason};
use flate2::read::MultiGzDecoder;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a record came from: the input's path (or `-`) and the record's index in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub file: Arc<str>,
    pub index: u64,
}

/// A problem with the input: which file, which record (or byte offset), and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputError {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
    pub reason: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(i) = self.record_index {
            write!(f, ": record {i}")?;
        }
        if let Some(o) = self.byte_offset {
            write!(f, " (byte offset {o})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Counts of what was read.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ReadStats {
    /// Inputs opened and read (files and stdin).
    pub files: u64,
    /// CloudTrail records found.
    pub records: u64,
    /// Documents and files that were not records, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    pub input_errors: Vec<InputError>,
    /// Bytes of the documents framed (after decompression).
    pub bytes: u64,
    /// Errors of the current input beyond `MAX_ERRORS_PER_INPUT`: counted, not listed.
    #[serde(skip)]
    unlisted: u64,
    #[serde(skip)]
    listed_this_input: usize,
}

/// Input errors listed per input; the rest of that input's errors are counted in one line.
pub const MAX_ERRORS_PER_INPUT: usize = 100;

impl ReadStats {
    pub fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason.as_str()).or_insert(0) += 1;
    }

    /// Records an input error; past `MAX_ERRORS_PER_INPUT` for one input it is only counted.
    pub fn error(&mut self, e: InputError) {
        if self.listed_this_input < MAX_ERRORS_PER_INPUT {
            self.listed_this_input += 1;
            self.input_errors.push(e);
        } else {
            self.unlisted += 1;
        }
    }

    fn begin_input(&mut self) {
        self.listed_this_input = 0;
        self.unlisted = 0;
    }

    fn end_input(&mut self, name: &str) {
        if self.unlisted > 0 {
            self.input_errors.push(InputError {
                path: name.to_string(),
                record_index: None,
                byte_offset: None,
                reason: format!("{} more errors in this input (not listed)", self.unlisted),
            });
        }
        self.unlisted = 0;
        self.listed_this_input = 0;
    }
}

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn display(&self) -> String {
        match self {
            Source::Stdin => "-".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

const READ_EXTENSIONS: [&str; 5] = [".json", ".json.gz", ".jsonl", ".ndjson", ".gz"];

/// True when a file found in a folder walk should be read.
pub fn readable_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    READ_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

/// Expands command-line paths into inputs: `-` is stdin, a file is always read, a folder is
/// walked recursively in sorted order keeping only readable names (others are counted).
/// A file reached twice (the same path spelled twice, symbolic links, link loops) is read once;
/// in folders, only regular files are read (no pipes or devices that would block).
pub fn discover(paths: &[PathBuf], stats: &mut ReadStats) -> Vec<Source> {
    let mut out = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Source::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                if first_visit(p, &mut seen) {
                    walk(p, &mut out, stats, &mut seen)
                }
            }
            Ok(_) => {
                if first_visit(p, &mut seen) {
                    out.push(Source::File(p.clone()))
                } else {
                    stats.skip(SkipReason::DuplicatePath);
                }
            }
            Err(e) => stats.error(InputError {
                path: p.display().to_string(),
                record_index: None,
                byte_offset: None,
                reason: format!("cannot open: {e}"),
            }),
        }
    }
    stats.end_input("(command line)");
    out
}

/// True the first time a file or folder (by its canonical path) is seen.
fn first_visit(p: &Path, seen: &mut HashSet<PathBuf>) -> bool {
    match std::fs::canonicalize(p) {
        Ok(c) => seen.insert(c),
        Err(_) => true,
    }
}

fn walk(dir: &Path, out: &mut Vec<Source>, stats: &mut ReadStats, seen: &mut HashSet<PathBuf>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            stats.error(InputError {
                path: dir.display().to_string(),
                record_index: None,
                byte_offset: None,
                reason: format!("cannot list folder: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => paths.push(e.path()),
            Err(e) => stats.error(InputError {
                path: dir.display().to_string(),
                record_index: None,
                byte_offset: None,
                reason: format!("cannot list folder entry: {e}"),
            }),
        }
    }
    paths.sort();
    for p in paths {
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => {
                if first_visit(&p, seen) {
                    walk(&p, out, stats, seen);
                } else {
                    stats.skip(SkipReason::DuplicatePath);
                }
            }
            Ok(m) if !m.is_file() => stats.skip(SkipReason::NotARegularFile),
            Ok(_) => {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                if !readable_name(&name) {
                    stats.skip(SkipReason::UnsupportedFileName);
                } else if first_visit(&p, seen) {
                    out.push(Source::File(p));
                } else {
                    stats.skip(SkipReason::DuplicatePath);
                }
            }
            Err(e) => stats.error(InputError {
                path: p.display().to_string(),
                record_index: None,
                byte_offset: None,
                reason: format!("cannot open: {e}"),
            }),
        }
    }
}

/// Wraps a byte stream, gunzipping it when it starts with the gzip magic bytes (the
/// extension and any Content-Encoding are not trusted).
pub fn decoded<'a, R: Read + 'a>(inner: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(256 * 1024, inner);
    let head = br.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(MultiGzDecoder::new(br)))
    } else {
        Ok(Box::new(br))
    }
}

/// What a reader hands on for each CloudTrail record (borrowing from the framed bytes).
pub struct RecordItem<'r, 'a> {
    pub record: &'r RawRecord<'a>,
    pub origin: Origin,
    /// The record's JSON text (identifies records that carry no eventID).
    pub bytes: &'r [u8],
}

/// Reads one source, calling `on_record` for every CloudTrail record and counting the rest.
pub fn read_source(source: &Source, stats: &mut ReadStats, on_record: &mut dyn FnMut(RecordItem)) {
    let name: Arc<str> = Arc::from(source.display());
    let opened: io::Result<Box<dyn Read>> = match source {
        Source::Stdin => decoded(io::stdin().lock()),
        Source::File(p) => File::open(p).and_then(decoded),
    };
    let reader = match opened {
        Ok(r) => r,
        Err(e) => {
            stats.error(InputError {
                path: name.to_string(),
                record_index: None,
                byte_offset: None,
                reason: format!("cannot read: {e}"),
            });
            return;
        }
    };
    stats.files += 1;
    read_stream(reader, &name, stats, on_record);
}

/// Reads any stream (already decoded) as one input named `name`.
pub fn read_stream(
    reader: impl Read,
    name: &Arc<str>,
    stats: &mut ReadStats,
    on_record: &mut dyn FnMut(RecordItem<'_, '_>),
) {
    stats.begin_input();
    let mut framer = Framer::new(reader);
    let mut frame_errors: Vec<FrameError> = Vec::new();
    let errors_before = stats.input_errors.len();
    let result = framer.run(
        &mut |frame: Frame<'_>| handle_frame(frame, name, stats, on_record),
        &mut |e| frame_errors.push(e),
    );
    let total_frames = framer.frames();
    for e in frame_errors.into_iter().chain(result.err()) {
        stats.error(InputError {
            path: name.to_string(),
            record_index: e.record_index,
            byte_offset: Some(e.offset),
            reason: e.reason,
        });
    }
    if total_frames == 0 && stats.input_errors.len() == errors_before {
        stats.skip(SkipReason::EmptyFile);
    }
    stats.end_input(name);
}

fn handle_frame(
    frame: Frame<'_>,
    name: &Arc<str>,
    stats: &mut ReadStats,
    on_record: &mut dyn FnMut(RecordItem<'_, '_>),
) {
    stats.bytes += frame.bytes.len() as u64;
    handle_document(
        frame.bytes,
        frame.index,
        frame.offset,
        0,
        name,
        stats,
        on_record,
    );
}

/// Envelopes nest at most this deep (an EventBridge detail holding a LookupEvents item...).
const MAX_NESTING: u8 = 3;

#[allow(clippy::too_many_arguments)]
fn handle_document(
    bytes: &[u8],
    index: u64,
    offset: u64,
    mut depth: u8,
    name: &Arc<str>,
    stats: &mut ReadStats,
    on_record: &mut dyn FnMut(RecordItem<'_, '_>),
) {
    let error = |stats: &mut ReadStats, reason: String| {
        stats.error(InputError {
            path: name.to_string(),
            record_index: Some(index),
            byte_offset: Some(offset),
            reason,
        })
    };
    if !starts_object(bytes) {
        return error(stats, "malformed record: not a JSON object".to_string());
    }
    let mut rec: RawRecord<'_> = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => return error(stats, format!("malformed record: {e}")),
    };
    let mut text: &[u8] = bytes;
    loop {
        match rec.classify() {
            Document::Record => {
                stats.records += 1;
                on_record(RecordItem {
                    record: &rec,
                    origin: Origin {
                        file: name.clone(),
                        index,
                    },
                    bytes: text,
                });
                return;
            }
            Document::NotARecord(reason) => return stats.skip(reason),
            _ if depth >= MAX_NESTING => return stats.skip(SkipReason::NotACloudTrailRecord),
            Document::Detail(detail) => {
                depth += 1;
                text = detail.get().as_bytes();
                if !starts_object(text) {
                    return error(stats, "EventBridge detail is not a JSON object".to_string());
                }
                rec = match serde_json::from_str(detail.get()) {
                    Ok(r) => r,
                    Err(e) => return error(stats, format!("malformed EventBridge detail: {e}")),
                };
                if !rec.looks_like_cloudtrail() && rec.detail.is_none() {
                    return stats.skip(SkipReason::EventBridgeOther);
                }
            }
            Document::Embedded(embedded) => {
                // The text is owned here: finish this document in its own scope.
                return handle_document(
                    embedded.as_bytes(),
                    index,
                    offset,
                    depth + 1,
                    name,
                    stats,
                    on_record,
                );
            }
        }
    }
}

fn starts_object(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}
