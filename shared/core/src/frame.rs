//! Streaming framer: cuts a JSON byte stream into record-sized documents with bounded memory.
//!
//! It understands just enough JSON to find value boundaries: a top-level object whose
//! `Records` key holds an array is streamed element by element (CloudTrail log files, S3
//! notifications), any other top-level object is handed over whole, top-level arrays are
//! streamed element by element, and several top-level values in a row are JSON Lines.
//! Each framed document is then parsed strictly by serde_json, so the framer never needs
//! to validate more than structure.

use std::io::{self, Read};

/// Documents larger than this are refused rather than buffered (no CloudTrail record is
/// anywhere near it; the EventBridge limit is 256 KB and log-file records stay in the MBs).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;

/// One framed document: the bytes of one JSON value, its index among the documents of this
/// input, and its byte offset in the (decompressed) stream.
pub struct Frame<'a> {
    pub index: u64,
    pub offset: u64,
    pub bytes: &'a [u8],
}

/// A structural problem in the stream at a byte offset (and the index the next document
/// would have had, when the problem is inside an array of records).
#[derive(Debug)]
pub struct FrameError {
    pub offset: u64,
    pub record_index: Option<u64>,
    pub reason: String,
}

/// Structural errors kept per stream before the rest are only counted.
pub const MAX_FRAME_ERRORS: usize = 100;

enum Scan {
    Fatal(FrameError),
}

pub struct Framer<R> {
    src: R,
    /// Bytes `..end` are data; the rest is spare room, zeroed once when allocated.
    buf: Vec<u8>,
    end: usize,
    pos: usize,
    base: u64,
    eof: bool,
    keep: Option<usize>,
    next_index: u64,
    limit: usize,
    /// Errors the framer recovered from inside an array (reported by `run`).
    recovered: Vec<FrameError>,
    /// Recovered errors beyond `MAX_FRAME_ERRORS`, only counted.
    unlisted: u64,
}

type Step = Result<(), Scan>;

fn fatal(offset: u64, reason: impl Into<String>) -> Scan {
    Scan::Fatal(FrameError {
        offset,
        record_index: None,
        reason: reason.into(),
    })
}

fn is_io(e: &FrameError) -> bool {
    e.reason.starts_with("read error")
}

impl<R: Read> Framer<R> {
    pub fn new(src: R) -> Self {
        Framer {
            src,
            buf: Vec::new(),
            end: 0,
            pos: 0,
            base: 0,
            eof: false,
            keep: None,
            next_index: 0,
            limit: MAX_DOCUMENT_BYTES,
            recovered: Vec::new(),
            unlisted: 0,
        }
    }

    /// Refuses documents larger than `limit` bytes (default `MAX_DOCUMENT_BYTES`).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Number of documents handed out so far.
    pub fn frames(&self) -> u64 {
        self.next_index
    }

    /// Runs over the whole stream, calling `emit` for each document. Structural errors of
    /// one top-level value are passed to `on_error` and the framer resumes at the next
    /// line; an I/O error (e.g. a truncated gzip stream) ends the stream.
    pub fn run(
        &mut self,
        emit: &mut dyn FnMut(Frame<'_>),
        on_error: &mut dyn FnMut(FrameError),
    ) -> Result<(), FrameError> {
        self.skip_bom().map_err(|e| self.io_error(e))?;
        loop {
            let c = match self.skip_ws() {
                Ok(Some(c)) => c,
                Ok(None) => {
                    self.report_unlisted(on_error);
                    return Ok(());
                }
                Err(e) => return Err(self.io_error(e)),
            };
            let start = self.pos;
            let start_abs = self.abs(start);
            self.keep = Some(start);
            let res = match c {
                b'{' => self.object(true, emit),
                b'[' => self.top_array(emit),
                _ => Err(fatal(
                    start_abs,
                    format!(
                        "expected a JSON object or array, found {}",
                        describe_byte(c)
                    ),
                )),
            };
            self.keep = None;
            for e in self.recovered.drain(..) {
                on_error(e);
            }
            match res {
                Ok(()) => {}
                Err(Scan::Fatal(err)) => {
                    if is_io(&err) {
                        self.report_unlisted(on_error);
                        return Err(err);
                    }
                    on_error(err);
                    // Resume at the line after the one this value started on.
                    if !self.resync_after(start_abs).map_err(|e| self.io_error(e))? {
                        self.report_unlisted(on_error);
                        return Ok(());
                    }
                }
            }
        }
    }

    fn report_unlisted(&mut self, on_error: &mut dyn FnMut(FrameError)) {
        if self.unlisted > 0 {
            on_error(FrameError {
                offset: self.abs(self.pos),
                record_index: None,
                reason: format!(
                    "{} more structural errors in this input (not listed)",
                    self.unlisted
                ),
            });
            self.unlisted = 0;
        }
    }

    /// After a structural error inside an array, moves to the next element that can be read:
    /// a `{` after `,`, `}` or `[` (a missing comma, a stray brace, a broken record) and notes
    /// the error; at end of input the error is returned as the stream's last word.
    fn recover(&mut self, mut err: FrameError, from: usize, at_boundary: bool) -> Step {
        err.record_index = Some(self.next_index);
        self.keep = None;
        self.pos = from.min(self.end);
        let mut last = if at_boundary { b',' } else { b'\0' };
        loop {
            let Some(b) = self.peek().map_err(|e| Scan::Fatal(self.io_error(e)))? else {
                return Err(Scan::Fatal(err));
            };
            if b == b'{' && matches!(last, b',' | b'}' | b'[') {
                break;
            }
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                last = b;
            }
            self.pos += 1;
        }
        if self.recovered.len() < MAX_FRAME_ERRORS {
            self.recovered.push(err);
        } else {
            self.unlisted += 1;
        }
        Ok(())
    }

    fn abs(&self, idx: usize) -> u64 {
        self.base + idx as u64
    }

    fn io_error(&self, e: io::Error) -> FrameError {
        FrameError {
            offset: self.abs(self.pos),
            record_index: None,
            reason: format!("read error: {e}"),
        }
    }

    /// Reads more bytes; returns false at end of input. Drops bytes nobody keeps.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let drop = self.keep.unwrap_or(self.pos).min(self.pos);
        if drop > 0 && (drop >= self.end / 2 || self.buf.len() - self.end < CHUNK) {
            self.buf.copy_within(drop..self.end, 0);
            self.end -= drop;
            self.base += drop as u64;
            self.pos -= drop;
            if let Some(k) = self.keep.as_mut() {
                *k -= drop;
            }
        }
        if self.buf.len() - self.end < CHUNK {
            self.buf.resize(self.end + CHUNK, 0);
        }
        let n = loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.end += n;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn skip_bom(&mut self) -> io::Result<()> {
        while self.end < 3 && self.fill()? {}
        if self.buf[..self.end].starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.pos = 3;
        }
        Ok(())
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        if self.pos >= self.end && !self.fill()? {
            return Ok(None);
        }
        Ok(self.buf[..self.end].get(self.pos).copied())
    }

    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.pos += 1,
                other => return Ok(other),
            }
        }
    }

    fn step_ws(&mut self) -> Result<u8, Scan> {
        match self.skip_ws() {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(fatal(self.abs(self.pos), "unexpected end of input")),
            Err(e) => Err(Scan::Fatal(self.io_error(e))),
        }
    }

    fn expect(&mut self, want: u8) -> Step {
        let c = self.step_ws()?;
        if c != want {
            return Err(fatal(
                self.abs(self.pos),
                format!("expected '{}', found {}", want as char, describe_byte(c)),
            ));
        }
        self.pos += 1;
        Ok(())
    }

    /// Moves past the end of the JSON value starting at `self.pos`.
    fn scan_value(&mut self) -> Step {
        let first = self.step_ws()?;
        let start_abs = self.abs(self.pos);
        match first {
            b'{' | b'[' => {
                let mut depth: usize = 0;
                let mut in_str = false;
                loop {
                    let mut i = self.pos;
                    let end = self.end;
                    while i < end {
                        if in_str {
                            // Most bytes of a record are inside strings: jump to the next
                            // quote or backslash.
                            match memchr::memchr2(b'"', b'\\', &self.buf[i..end]) {
                                None => {
                                    i = end;
                                    break;
                                }
                                Some(off) => {
                                    let at = i + off;
                                    if self.buf[at] == b'"' {
                                        in_str = false;
                                        i = at + 1;
                                    } else if at + 1 < end {
                                        i = at + 2;
                                    } else {
                                        // A backslash at the end of the buffer: rescan it
                                        // with more bytes.
                                        i = at;
                                        break;
                                    }
                                }
                            }
                            continue;
                        }
                        let b = self.buf[i];
                        i += 1;
                        match b {
                            b'"' => in_str = true,
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    self.pos = i;
                                    return Ok(());
                                }
                            }
                            _ => {}
                        }
                    }
                    self.pos = i;
                    self.check_size(start_abs)?;
                    let before = self.end - self.pos;
                    if !self.fill().map_err(|e| Scan::Fatal(self.io_error(e)))?
                        || self.end - self.pos == before
                    {
                        return Err(fatal(
                            start_abs,
                            "unexpected end of input inside a JSON value (truncated?)",
                        ));
                    }
                }
            }
            b'"' => {
                self.pos += 1;
                self.scan_string_body(start_abs)
            }
            _ => loop {
                match self.peek().map_err(|e| Scan::Fatal(self.io_error(e)))? {
                    None => return Ok(()),
                    Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') => return Ok(()),
                    Some(_) => self.pos += 1,
                }
                self.check_size(start_abs)?;
            },
        }
    }

    fn check_size(&self, start_abs: u64) -> Step {
        if self.abs(self.pos) - start_abs > self.limit as u64 {
            return Err(fatal(
                start_abs,
                format!("JSON value larger than {} bytes", self.limit),
            ));
        }
        Ok(())
    }

    /// After the opening quote: moves past the closing quote.
    fn scan_string_body(&mut self, start_abs: u64) -> Step {
        loop {
            let mut i = self.pos;
            let end = self.end;
            while i < end {
                match memchr::memchr2(b'"', b'\\', &self.buf[i..end]) {
                    None => i = end,
                    Some(off) => {
                        let at = i + off;
                        if self.buf[at] == b'"' {
                            self.pos = at + 1;
                            return Ok(());
                        }
                        if at + 1 >= end {
                            i = at;
                            break;
                        }
                        i = at + 2;
                    }
                }
            }
            self.pos = i;
            self.check_size(start_abs)?;
            let before = self.end - self.pos;
            if !self.fill().map_err(|e| Scan::Fatal(self.io_error(e)))?
                || self.end - self.pos == before
            {
                return Err(fatal(start_abs, "unexpected end of input inside a string"));
            }
        }
    }

    fn emit_range(&mut self, start: usize, emit: &mut dyn FnMut(Frame<'_>)) {
        let index = self.next_index;
        self.next_index += 1;
        let offset = self.abs(start);
        emit(Frame {
            index,
            offset,
            bytes: &self.buf[start..self.pos],
        });
    }

    /// An object at `self.pos`. With `whole`, an object without a `Records` array is emitted
    /// as one document (the caller set `keep` at its start).
    fn object(&mut self, whole: bool, emit: &mut dyn FnMut(Frame<'_>)) -> Step {
        let start = self.pos;
        let start_abs = self.abs(start);
        self.pos += 1; // '{'
        let mut streamed = false;
        loop {
            let c = self.step_ws()?;
            if c == b'}' {
                self.pos += 1;
                break;
            }
            if c != b'"' {
                return Err(fatal(
                    self.abs(self.pos),
                    format!("expected an object key, found {}", describe_byte(c)),
                ));
            }
            let key_start = self.pos;
            let outer_keep = self.keep;
            if outer_keep.is_none() {
                self.keep = Some(key_start);
            }
            self.pos += 1;
            let key_abs = self.abs(key_start);
            self.scan_string_body(key_abs)?;
            // `keep` covers the key, so its bytes are still in the buffer.
            let key_start = (key_abs - self.base) as usize;
            let is_records = &self.buf[key_start..self.pos] == b"\"Records\"";
            if outer_keep.is_none() {
                self.keep = None;
            }
            self.expect(b':')?;
            let c = self.step_ws()?;
            if is_records && c == b'[' {
                streamed = true;
                self.keep = None;
                self.records_array(emit)?;
            } else {
                self.scan_value()?;
                if whole && !streamed {
                    // The whole object is buffered: hold it to the same bound as one value.
                    self.check_size(start_abs)?;
                }
            }
            let c = self.step_ws()?;
            match c {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(fatal(
                        self.abs(self.pos),
                        format!("expected ',' or '}}' in object, found {}", describe_byte(c)),
                    ))
                }
            }
        }
        if whole && !streamed {
            let start = self.keep.unwrap_or(start);
            self.emit_range(start, emit);
        }
        Ok(())
    }

    /// The `Records` array: every element is one document. A structural error inside it is
    /// reported and reading resumes at the next element.
    fn records_array(&mut self, emit: &mut dyn FnMut(Frame<'_>)) -> Step {
        self.pos += 1; // '['
        self.array_elements(false, emit)
    }

    /// Elements of an array up to its `]`. With `objects_whole`, object elements go through
    /// `object` (they may be log files themselves).
    fn array_elements(&mut self, objects_whole: bool, emit: &mut dyn FnMut(Frame<'_>)) -> Step {
        loop {
            let c = self.step_ws()?;
            if c == b']' {
                self.pos += 1;
                return Ok(());
            }
            let start = self.pos;
            self.keep = Some(start);
            let scanned = if objects_whole && c == b'{' {
                self.object(true, emit)
            } else {
                self.scan_value().map(|()| {
                    let start = self.keep.unwrap_or(start);
                    self.emit_range(start, emit);
                })
            };
            let start = self.keep.unwrap_or(start);
            self.keep = None;
            if let Err(Scan::Fatal(e)) = scanned {
                if is_io(&e) {
                    return Err(Scan::Fatal(e));
                }
                self.recover(e, start + 1, false)?;
                continue;
            }
            match self.step_ws()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                c => {
                    let e = FrameError {
                        offset: self.abs(self.pos),
                        record_index: None,
                        reason: format!("expected ',' or ']' in array, found {}", describe_byte(c)),
                    };
                    let from = self.pos;
                    self.recover(e, from, true)?;
                }
            }
        }
    }

    /// A top-level array: each element is a document; objects in it may be log files.
    fn top_array(&mut self, emit: &mut dyn FnMut(Frame<'_>)) -> Step {
        self.pos += 1; // '['
        self.keep = None;
        self.array_elements(true, emit)
    }

    /// Positions the framer at the next line, after `start_abs`, that starts with `{` or `[`
    /// (how JSON Lines and concatenated documents begin); false at end of input.
    fn resync_after(&mut self, start_abs: u64) -> io::Result<bool> {
        if start_abs >= self.base {
            self.pos = ((start_abs - self.base) as usize).min(self.end);
        }
        loop {
            // Skip to just after the next newline.
            loop {
                let Some(b) = self.peek()? else {
                    return Ok(false);
                };
                self.pos += 1;
                if b == b'\n' {
                    break;
                }
            }
            match self.peek()? {
                None => return Ok(false),
                Some(b'{' | b'[') => return Ok(true),
                Some(_) => {}
            }
        }
    }
}

fn describe_byte(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> (Vec<(u64, String)>, Vec<String>, Option<String>) {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        let mut f = Framer::new(input);
        let res = f.run(
            &mut |fr| out.push((fr.index, String::from_utf8_lossy(fr.bytes).into_owned())),
            &mut |e| errs.push(format!("{}@{}", e.reason, e.offset)),
        );
        (out, errs, res.err().map(|e| e.reason))
    }

    #[test]
    fn log_file_streams_each_record() {
        let (out, errs, fatal) =
            frames(br#"{"Records":[{"a":"x]}"},{"b":[1,{"c":2}]}], "extra": 1}"#);
        assert_eq!(
            out,
            vec![
                (0, r#"{"a":"x]}"}"#.to_string()),
                (1, r#"{"b":[1,{"c":2}]}"#.to_string())
            ]
        );
        assert!(errs.is_empty());
        assert!(fatal.is_none());
    }

    #[test]
    fn single_object_is_emitted_whole() {
        let (out, _, _) = frames(b"  {\"eventName\": \"X\", \"Records\": 3}\n");
        assert_eq!(
            out,
            vec![(0, "{\"eventName\": \"X\", \"Records\": 3}".to_string())]
        );
    }

    #[test]
    fn json_lines_and_arrays() {
        let (out, errs, _) =
            frames(b"{\"a\":1}\n{\"b\":\"}\\\"\"}\n[{\"c\":1},{\"Records\":[{\"d\":1}]}]");
        let docs: Vec<_> = out.into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            docs,
            vec!["{\"a\":1}", "{\"b\":\"}\\\"\"}", "{\"c\":1}", "{\"d\":1}"]
        );
        assert!(errs.is_empty());
    }

    #[test]
    fn bad_line_is_reported_and_the_next_line_read() {
        let (out, errs, _) = frames(b"{\"a\":1}\nnot json\n{\"b\":2}\n");
        let docs: Vec<_> = out.into_iter().map(|(_, s)| s).collect();
        assert_eq!(docs, vec!["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(errs, vec!["expected a JSON object or array, found 'n'@8"]);
    }

    #[test]
    fn truncated_log_file_keeps_complete_records() {
        let (out, errs, _) = frames(br#"{"Records":[{"a":1},{"b":"#);
        assert_eq!(out.len(), 1);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("unexpected end of input"), "{errs:?}");
    }

    #[test]
    fn large_input_crosses_chunk_boundaries() {
        let rec = format!("{{\"k\":\"{}\"}}", "v".repeat(1000));
        let mut s = String::from("{\"Records\":[");
        for i in 0..2000 {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&rec);
        }
        s.push_str("]}");
        let (out, errs, _) = frames(s.as_bytes());
        assert_eq!(out.len(), 2000);
        assert!(out.iter().all(|(_, d)| d == &rec));
        assert!(errs.is_empty());
    }

    #[test]
    fn escapes_split_across_reads_are_kept() {
        // A reader that hands out one byte at a time puts every backslash at a buffer end.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.split_first() {
                    Some((b, rest)) if !buf.is_empty() => {
                        buf[0] = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let input = br#"{"Records":[{"a":"x\"}\\"},{"b":"\\"}]}"#;
        let mut out = Vec::new();
        let mut errs = Vec::new();
        let mut f = Framer::new(OneByte(input));
        let res = f.run(
            &mut |fr| out.push(String::from_utf8_lossy(fr.bytes).into_owned()),
            &mut |e| errs.push(e.reason),
        );
        assert!(res.is_ok());
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(out, vec![r#"{"a":"x\"}\\"}"#, r#"{"b":"\\"}"#]);
    }

    #[test]
    fn structural_errors_inside_records_resume_at_the_next_record() {
        // A stray brace after record 1, a missing comma after record 3.
        let (out, errs, fatal) =
            frames(br#"{"Records":[{"a":0},{"a":1}},{"a":2},{"a":3}{"a":4},{"a":5}]}"#);
        let docs: Vec<_> = out.into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            docs,
            vec![
                r#"{"a":0}"#,
                r#"{"a":1}"#,
                r#"{"a":2}"#,
                r#"{"a":3}"#,
                r#"{"a":4}"#,
                r#"{"a":5}"#
            ]
        );
        assert_eq!(
            errs,
            vec![
                "expected ',' or ']' in array, found '}'@27",
                "expected ',' or ']' in array, found '{'@44"
            ]
        );
        assert!(fatal.is_none());
    }

    #[test]
    fn a_huge_object_is_refused_not_buffered() {
        let mut body = String::from("{");
        for i in 0..50 {
            body.push_str(&format!("\"k{i}\":\"v\","));
        }
        body.push_str("\"end\":1}\n{\"ok\":1}");
        let mut f = Framer::new(body.as_bytes()).with_limit(100);
        let mut docs = Vec::new();
        let mut errs = Vec::new();
        let r = f.run(
            &mut |fr| docs.push(String::from_utf8_lossy(fr.bytes).into_owned()),
            &mut |e| errs.push(e.reason),
        );
        assert!(r.is_ok());
        assert_eq!(docs, vec![r#"{"ok":1}"#]);
        assert_eq!(errs, vec!["JSON value larger than 100 bytes"]);
    }

    #[test]
    fn bom_is_skipped() {
        let (out, errs, _) = frames(b"\xEF\xBB\xBF{\"a\":1}");
        assert_eq!(out.len(), 1);
        assert!(errs.is_empty());
    }
}
