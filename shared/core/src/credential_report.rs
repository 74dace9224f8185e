//! IAM credential report parser: the CSV that `GetCredentialReport` returns (base64-decoded).
//!
//! Pure and tolerant. Columns are looked up by header name (AWS may add or reorder them); only
//! `user` and `arn` are required. `N/A` and `no_information` mean "never", `not_supported`
//! (root, and the moto emulator) means "unknown". Rows are kept even when a value such as a time
//! cannot be read (that value becomes `None`/[`LastUsed::Unknown`]); a [`RowError`] is recorded
//! only for structural problems: a wrong field count, or a missing user or invalid ARN.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// When a credential was last used, as far as AWS can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastUsed {
    /// Never used (or AWS has no record of any use: `N/A`, `no_information`).
    Never,
    At(DateTime<Utc>),
    /// The source could not say (`not_supported`, a missing column, unparseable text).
    Unknown,
}

impl LastUsed {
    /// The time of last use, when known.
    pub fn at(self) -> Option<DateTime<Utc>> {
        match self {
            LastUsed::At(t) => Some(t),
            LastUsed::Never | LastUsed::Unknown => None,
        }
    }
}

/// One `access_key_N` slot that holds a key (active or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportKey {
    /// 1 or 2.
    pub slot: u8,
    pub active: bool,
    /// The key's creation (or last rotation) time.
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used: LastUsed,
    /// `None` for `N/A`, `not_supported` or empty.
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

/// One user (or the root account) in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    /// 1-based line number in the CSV (header is line 1).
    pub line: usize,
    /// `<root_account>` for the root row.
    pub user: String,
    pub arn: String,
    pub is_root: bool,
    pub user_creation_time: Option<DateTime<Utc>>,
    /// `None` when `not_supported` (root) or unreadable.
    pub password_enabled: Option<bool>,
    pub password_last_used: LastUsed,
    pub password_last_changed: Option<DateTime<Utc>>,
    pub mfa_active: Option<bool>,
    /// Key slots that exist: a slot is present when access_key_N_active is true OR
    /// access_key_N_last_rotated is a time (an inactive key still exists). Absent when both say no/N/A.
    pub keys: Vec<ReportKey>,
    /// `cert_1_active || cert_2_active`.
    pub cert_active: bool,
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: usize,
    pub reason: String,
}

/// A parsed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialReport {
    pub rows: Vec<ReportRow>,
    /// Rows that could not be read: counted and reported, never silently dropped.
    pub errors: Vec<RowError>,
}

/// Whole-report failures only; bad rows are [`RowError`]s.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("credential report is empty")]
    Empty,
    #[error("credential report header lacks column(s): {0}")]
    MissingColumns(String),
    #[error("credential report is not UTF-8 text: {0}")]
    NotText(String),
}

/// Parses a credential report. See the module docs for what is tolerated.
pub fn parse(bytes: &[u8]) -> Result<CredentialReport, ReportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ReportError::NotText(e.to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Old Mac line endings (a lone CR): read as line ends rather than one giant header.
    let normalised;
    let text = if text.contains('\r') && !text.contains('\n') {
        normalised = text.replace('\r', "\n");
        normalised.as_str()
    } else {
        text
    };
    let mut records = split_records(text)
        .into_iter()
        .filter(|(_, f)| !(f.len() == 1 && f.iter().all(|s| s.trim().is_empty())));
    let (_, header) = records.next().ok_or(ReportError::Empty)?;
    let cols: Cols = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
        .rev() // the first of duplicate names wins
        .collect();
    let missing: Vec<&str> = ["user", "arn"]
        .into_iter()
        .filter(|c| !cols.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        return Err(ReportError::MissingColumns(missing.join(", ")));
    }
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (line, fields) in records {
        match read_row(line, fields, &cols, header.len()) {
            Ok(row) => rows.push(row),
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    Ok(CredentialReport { rows, errors })
}

/// Column name -> index in the header.
type Cols = HashMap<String, usize>;

fn read_row(
    line: usize,
    fields: Vec<String>,
    cols: &Cols,
    width: usize,
) -> Result<ReportRow, String> {
    let fields = realign(fields, width, cols)?;
    let get = |name: &str| {
        cols.get(name)
            .and_then(|&i| fields.get(i))
            .map(|s| s.trim())
    };
    let user = get("user").unwrap_or_default().to_string();
    let arn = get("arn").unwrap_or_default().to_string();
    if user.is_empty() {
        return Err("empty user name".to_string());
    }
    if !arn.starts_with("arn:") {
        return Err(format!("arn {arn:?} is not an ARN"));
    }
    let keys = (1..=2u8)
        .filter_map(|slot| {
            let col = |what: &str| get(&format!("access_key_{slot}_{what}"));
            let active = boolean(col("active")) == Some(true);
            let last_rotated = time(col("last_rotated"));
            (active || last_rotated.is_some()).then(|| ReportKey {
                slot,
                active,
                last_rotated,
                last_used: last_used(col("last_used_date")),
                last_used_region: text(col("last_used_region")),
                last_used_service: text(col("last_used_service")),
            })
        })
        .collect();
    Ok(ReportRow {
        line,
        is_root: user == "<root_account>" || arn.ends_with(":root"),
        user_creation_time: time(get("user_creation_time")),
        password_enabled: boolean(get("password_enabled")),
        password_last_used: last_used(get("password_last_used")),
        password_last_changed: time(get("password_last_changed")),
        mfa_active: boolean(get("mfa_active")),
        keys,
        cert_active: boolean(get("cert_1_active")) == Some(true)
            || boolean(get("cert_2_active")) == Some(true),
        user,
        arn,
    })
}

/// Fixes rows whose unquoted user name holds `k` commas (`width + 2k` fields: the name and the
/// ARN that ends with it are each split `k` times). Any other field count is an error.
fn realign(fields: Vec<String>, width: usize, cols: &Cols) -> Result<Vec<String>, String> {
    let user_at = cols.get("user").copied().unwrap_or(0);
    let arn_at = cols.get("arn").copied().unwrap_or(0);
    let n = fields.len();
    if n == width {
        return Ok(fields);
    }
    let mismatch = format!("expected {width} fields, found {n}");
    if n < width || !(n - width).is_multiple_of(2) || arn_at != user_at + 1 {
        return Err(mismatch);
    }
    let k = (n - width) / 2;
    let user = fields[user_at..=user_at + k].join(",");
    let arn = fields[user_at + k + 1..=user_at + 2 * k + 1].join(",");
    if !arn.trim().ends_with(&format!("/{}", user.trim())) {
        return Err(format!(
            "{mismatch} (extra fields are not a user name with commas)"
        ));
    }
    let mut out = fields[..user_at].to_vec();
    out.extend([user, arn]);
    out.extend_from_slice(&fields[user_at + 2 * k + 2..]);
    Ok(out)
}

fn is(value: &str, word: &str) -> bool {
    value.eq_ignore_ascii_case(word)
}

fn time(value: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn boolean(value: Option<&str>) -> Option<bool> {
    match value? {
        v if is(v, "true") => Some(true),
        v if is(v, "false") => Some(false),
        _ => None,
    }
}

fn last_used(value: Option<&str>) -> LastUsed {
    match value {
        Some(v) if is(v, "N/A") || is(v, "no_information") => LastUsed::Never,
        v => time(v).map_or(LastUsed::Unknown, LastUsed::At),
    }
}

fn text(value: Option<&str>) -> Option<String> {
    value
        .filter(|v| !(v.is_empty() || is(v, "N/A") || is(v, "not_supported")))
        .map(str::to_string)
}

/// Splits CSV text into records (RFC 4180: `"`-quoted fields with `""` escapes, which may span
/// lines; `\r\n` or `\n` endings). Each record carries the 1-based line it starts on.
fn split_records(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let (mut fields, mut field) = (Vec::new(), String::new());
    let (mut line, mut start, mut quoted, mut in_quotes) = (1, 1, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if in_quotes => in_quotes = false,
            '"' if field.is_empty() && !quoted => (in_quotes, quoted) = (true, true),
            ',' if !in_quotes => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if !in_quotes && chars.peek() == Some(&'\n') => {}
            '\n' if !in_quotes => {
                fields.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut fields)));
                (line, quoted) = (line + 1, false);
                start = line;
            }
            _ => {
                line += usize::from(c == '\n');
                field.push(c);
            }
        }
    }
    if !field.is_empty() || !fields.is_empty() || quoted {
        fields.push(field);
        out.push((start, fields));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
    const ROOT: &str = "<root_account>,arn:aws:iam::123456789012:root,2016-04-26T21:14:38+00:00,not_supported,2024-01-02T03:04:05+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
    const ALICE: &str = "alice,arn:aws:iam::123456789012:user/alice,2018-05-01T09:00:00+00:00,true,no_information,2018-05-01T09:05:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
    const SVC: &str = "svc-deploy,arn:aws:iam::123456789012:user/ci/svc-deploy,2019-03-01T10:00:00+00:00,false,N/A,N/A,N/A,false,true,2019-03-01T10:05:00+00:00,2024-05-01T12:34:56+00:00,us-east-1,s3,false,2020-01-01T00:00:00Z,N/A,N/A,N/A,false,N/A,true,2021-01-01T00:00:00+00:00";
    const BOB: &str = "bob,arn:aws:iam::123456789012:user/bob,2020-02-02T02:02:02.123+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
    const MOTO: &str = "carol,arn:aws:iam::123456789012:user/carol,2023-01-01T00:00:00+00:00,not_supported,not_supported,not_supported,not_supported,False,TRUE,2023-01-02T00:00:00+00:00,not_supported,not_supported,not_supported,false,not_supported,not_supported,not_supported,not_supported,false,not_supported,false,not_supported";

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn report(lines: &[&str]) -> CredentialReport {
        parse(lines.join("\n").as_bytes()).unwrap()
    }

    /// Every field of a row on one line (times in chrono's Debug form; `-` for no text).
    fn brief(r: &ReportRow) -> String {
        let text = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".into());
        let keys: Vec<String> = (r.keys.iter())
            .map(|k| {
                let (region, service) = (text(&k.last_used_region), text(&k.last_used_service));
                let (slot, active, rotated, used) = (k.slot, k.active, k.last_rotated, k.last_used);
                format!("[{slot} {active} {rotated:?} {used:?} {region} {service}]")
            })
            .collect();
        format!(
            "{} {} {} root={} created={:?} pw={:?} used={:?} changed={:?} mfa={:?} cert={} keys={}",
            r.line,
            r.user,
            r.arn,
            r.is_root,
            r.user_creation_time,
            r.password_enabled,
            r.password_last_used,
            r.password_last_changed,
            r.mfa_active,
            r.cert_active,
            keys.join(" ")
        )
    }

    #[test]
    fn realistic_aws_report() {
        let r = report(&[HEADER, ROOT, ALICE, SVC, BOB, ""]);
        assert_eq!(r.errors, vec![]);
        let rows: Vec<String> = r.rows.iter().map(brief).collect();
        assert_eq!(rows, [
            "2 <root_account> arn:aws:iam::123456789012:root root=true created=Some(2016-04-26T21:14:38Z) pw=None used=At(2024-01-02T03:04:05Z) changed=None mfa=Some(true) cert=false keys=",
            "3 alice arn:aws:iam::123456789012:user/alice root=false created=Some(2018-05-01T09:00:00Z) pw=Some(true) used=Never changed=Some(2018-05-01T09:05:00Z) mfa=Some(true) cert=false keys=",
            "4 svc-deploy arn:aws:iam::123456789012:user/ci/svc-deploy root=false created=Some(2019-03-01T10:00:00Z) pw=Some(false) used=Never changed=None mfa=Some(false) cert=true keys=[1 true Some(2019-03-01T10:05:00Z) At(2024-05-01T12:34:56Z) us-east-1 s3] [2 false Some(2020-01-01T00:00:00Z) Never - -]",
            "5 bob arn:aws:iam::123456789012:user/bob root=false created=Some(2020-02-02T02:02:02.123Z) pw=Some(false) used=Never changed=None mfa=Some(false) cert=false keys=",
        ]);
        let used = r.rows[2].keys[0].last_used;
        assert_eq!(used.at(), Some(ts(2024, 5, 1, 12, 34, 56)));
        assert_eq!((LastUsed::Never.at(), LastUsed::Unknown.at()), (None, None));
    }

    #[test]
    fn moto_style_not_supported() {
        let r = report(&[HEADER, MOTO]);
        assert_eq!(brief(&r.rows[0]), "2 carol arn:aws:iam::123456789012:user/carol root=false created=Some(2023-01-01T00:00:00Z) pw=None used=Unknown changed=None mfa=Some(false) cert=false keys=[1 true Some(2023-01-02T00:00:00Z) Unknown - -]");
    }

    #[test]
    fn crlf_and_bom() {
        let text = format!("\u{feff}{}\r\n", [HEADER, ROOT, ALICE].join("\r\n"));
        let r = parse(text.as_bytes()).unwrap();
        assert_eq!((r.errors.len(), r.rows.len()), (0, 2));
        assert_eq!(r, report(&[HEADER, ROOT, ALICE]));
    }

    #[test]
    fn reordered_columns_extra_column_and_quotes() {
        let text = "arn,future_column,access_key_1_active,user,mfa_active\n\
                    arn:aws:iam::123456789012:user/dave,\"x,\"\"y\"\"\",true,\"dave\",true\n";
        let r = parse(text.as_bytes()).unwrap();
        assert_eq!(r.errors, vec![]);
        assert_eq!(brief(&r.rows[0]), "2 dave arn:aws:iam::123456789012:user/dave root=false created=None pw=None used=Unknown changed=None mfa=Some(true) cert=false keys=[1 true None Unknown - -]");
    }

    #[test]
    fn comma_in_name_is_recovered() {
        let r = report(&[HEADER, &ALICE.replace("alice", "a,b,c"), BOB]);
        assert_eq!(r.errors, vec![]);
        assert_eq!(brief(&r.rows[0]), "2 a,b,c arn:aws:iam::123456789012:user/a,b,c root=false created=Some(2018-05-01T09:00:00Z) pw=Some(true) used=Never changed=Some(2018-05-01T09:05:00Z) mfa=Some(true) cert=false keys=");
        assert_eq!(r.rows[1].user, "bob");
    }

    #[test]
    fn bad_rows_are_reported_and_others_kept() {
        let short = "erin,arn:aws:iam::123456789012:user/erin,2020-01-01T00:00:00+00:00";
        let (extra, bad_arn) = (format!("{BOB},x,y"), BOB.replace("arn:aws", "not-arn:aws"));
        let r = report(&[HEADER, ROOT, short, "", ALICE, &extra, &bad_arn]);
        let users: Vec<_> = r.rows.iter().map(|x| (x.line, x.user.as_str())).collect();
        assert_eq!(users, vec![(2, "<root_account>"), (5, "alice")]);
        let errors: Vec<_> = r
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.line, e.reason))
            .collect();
        assert_eq!(
            errors,
            [
                "3: expected 22 fields, found 3",
                "6: expected 22 fields, found 24 (extra fields are not a user name with commas)",
                "7: arn \"not-arn:aws:iam::123456789012:user/bob\" is not an ARN",
            ]
        );
    }

    #[test]
    fn whole_report_failures() {
        let err = |bytes: &[u8]| parse(bytes).unwrap_err().to_string();
        assert_eq!(err(b""), "credential report is empty");
        assert_eq!(err(b"\xef\xbb\xbf\r\n\n"), "credential report is empty");
        assert!(err(b"\xff\xfe").starts_with("credential report is not UTF-8 text: "));
        let no_arn = err(b"user,password_enabled\nalice,true\n");
        assert_eq!(no_arn, "credential report header lacks column(s): arn");
        assert!(matches!(parse(b"user\n"), Err(ReportError::MissingColumns(c)) if c == "arn"));
        let empty = report(&[HEADER]);
        assert_eq!((empty.rows.len(), empty.errors.len()), (0, 0));
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let text = "user,arn,mfa_active\rbob,arn:aws:iam::111122223333:user/bob,true\r";
        let r = parse(text.as_bytes()).unwrap();
        assert_eq!(r.errors, vec![]);
        assert_eq!(r.rows.len(), 1);
        assert_eq!(
            (r.rows[0].user.as_str(), r.rows[0].mfa_active),
            ("bob", Some(true))
        );
    }
}
