//! Human-readable tables and summaries.

use govtrail_core::input::ReadStats;
use govtrail_core::{Activity, Finding, RuleId, Summary};
use std::io::{self, Write};

/// Shortens a value for a table cell; control characters (escape sequences, newlines from
/// a forged record) are shown as `?` so they cannot rewrite the terminal.
fn cut(s: &str, n: usize) -> String {
    let clean = s.chars().map(|c| if c.is_control() { '?' } else { c });
    if s.chars().count() <= n {
        clean.collect()
    } else {
        let mut t: String = clean.take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub fn findings_table(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "no findings");
    }
    writeln!(
        out,
        "{:<8} {:<28} {:<60} {:<40} {:>6} {:<16} {:<12} ID",
        "SEVERITY", "RULE", "PRINCIPAL", "ACTION/SUBJECT", "COUNT", "OWNER", "STATUS"
    )?;
    for f in findings {
        writeln!(
            out,
            "{:<8} {:<28} {:<60} {:<40} {:>6} {:<16} {:<12} {}",
            f.severity.as_str(),
            f.rule.as_str(),
            cut(&f.principal, 60),
            // Sweep findings have no action: their subject (an access key, a resource).
            cut(
                f.action.as_deref().or(f.resource.as_deref()).unwrap_or("-"),
                40
            ),
            f.count,
            cut(f.owner.as_deref().unwrap_or("-"), 16),
            f.status.as_str(),
            cut(&f.id, 64)
        )?;
    }
    Ok(())
}

pub fn replay_table(out: &mut dyn Write, s: &Summary, findings: &[Finding]) -> io::Result<()> {
    findings_table(out, findings)?;
    writeln!(out)?;
    summary_lines(out, s)
}

pub fn summary_lines(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    writeln!(
        out,
        "files: {}  records: {}  evaluated: {}  findings new: {}  updated: {}  duplicate hits: {}  suppressed hits: {}",
        s.files, s.records, s.evaluated, s.findings_new, s.findings_updated, s.duplicate_hits, s.suppressed_hits
    )?;
    if !s.skipped.is_empty() {
        let parts: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(out, "skipped: {}", parts.join(" "))?;
    }
    if s.records_without_time > 0 {
        writeln!(
            out,
            "warning: {} records had no readable eventTime and were judged at --now",
            s.records_without_time
        )?;
    }
    writeln!(
        out,
        "elapsed: {:.3}s  ({:.0} records/s)",
        s.elapsed_seconds, s.records_per_second
    )?;
    input_errors(out, &s.input_errors)
}

fn input_errors(out: &mut dyn Write, errs: &[govtrail_core::InputError]) -> io::Result<()> {
    if errs.is_empty() {
        return Ok(());
    }
    writeln!(out, "input errors: {}", errs.len())?;
    for e in errs {
        writeln!(out, "  {}", cut(&e.to_string(), 400))?;
    }
    Ok(())
}

pub fn read_summary(out: &mut dyn Write, s: &ReadStats, evaluated: u64) -> io::Result<()> {
    let parts: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(
        out,
        "files: {}  records: {}  normalised: {}  skipped: {}",
        s.files,
        s.records,
        evaluated,
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(" ")
        }
    )?;
    input_errors(out, &s.input_errors)
}

pub fn events_header(out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<20} {:<60} {:<40} {:<9} {:<14} SOURCE",
        "TIME", "PRINCIPAL", "ACTION", "CLASS", "REGION"
    )
}

pub fn event_row(out: &mut dyn Write, a: &Activity) -> io::Result<()> {
    writeln!(
        out,
        "{:<20} {:<60} {:<40} {:<9} {:<14} {}",
        a.event_time
            .as_ref()
            .map(govtrail_core::activity::format_time)
            .unwrap_or_else(|| "-".into()),
        cut(&a.principal, 60),
        cut(&a.action, 40),
        a.actor_class.as_str(),
        cut(a.region.as_deref().unwrap_or("-"), 14),
        cut(a.source_ip.as_deref().unwrap_or("-"), 60)
    )
}

pub fn rules(out: &mut dyn Write, json: bool) -> io::Result<()> {
    if json {
        let v: Vec<serde_json::Value> = RuleId::ALL
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.as_str(),
                    "severity": r.default_severity().as_str(),
                    "source": r.source(),
                    "description": r.description(),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &v)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{:<28} {:<9} {:<13} DESCRIPTION",
        "RULE", "SEVERITY", "SOURCE"
    )?;
    for r in RuleId::ALL {
        writeln!(
            out,
            "{:<28} {:<9} {:<13} {}",
            r.as_str(),
            r.default_severity().as_str(),
            r.source(),
            r.description()
        )?;
    }
    Ok(())
}
