//! `govtrail`: replay CloudTrail offline through the governance rules, inspect events,
//! manage the inventory and query findings.

mod output;
mod stores;
mod sweep;
mod sync;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use govtrail_core::activity::parse_time;
use govtrail_core::finding::FindingFilter;
use govtrail_core::input::{self, ReadStats};
use govtrail_core::rules::classify_actor;
use govtrail_core::{
    normalise, FindingStore, Inventory, Pipeline, RuleId, Severity, SkipReason, Status,
};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "govtrail",
    version,
    about = "Continuous authorisation for every AWS identity"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum ReplayFormat {
    Table,
    Json,
    Jsonl,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum EventsFormat {
    Jsonl,
    Table,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    Table,
    Json,
    Jsonl,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate CloudTrail files, folders or stdin (-) against an inventory; store and print findings.
    Replay {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Governance inventory: a YAML file or a folder of them.
        #[arg(long)]
        inventory: PathBuf,
        #[command(flatten)]
        store: StoreArg,
        #[arg(long, value_enum, default_value = "table")]
        format: ReplayFormat,
        /// Exit 1 when a live finding at or above this severity exists.
        #[arg(long, value_parser = parse_severity)]
        fail_on: Option<Severity>,
        /// Evaluation time (RFC 3339); used where a record has no valid eventTime.
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        /// Never draw a progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Print the normalised activity of every record (JSON Lines by default).
    Events {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: EventsFormat,
        /// Optional inventory: the actor class then comes from the declared kind.
        #[arg(long)]
        inventory: Option<PathBuf>,
    },
    /// Query and manage findings in the store.
    Findings {
        #[command(subcommand)]
        command: FindingsCommand,
    },
    /// Inventory tools.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// Create the store (the DynamoDB tables, with the same keys, indexes and TTL as template.yaml).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Discover every IAM user, role and access key (or read a saved snapshot), reconcile
    /// them with the governance records at --now, store the findings and resolve the ones
    /// whose condition cleared.
    Sweep {
        /// Governance inventory (YAML file or folder); without it, the identities table of a
        /// dynamodb:PREFIX --store.
        #[arg(long)]
        inventory: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        snapshot: SnapshotArgs,
        /// Judge ages and due dates at this time (RFC 3339 or YYYY-MM-DD); default now.
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        #[arg(long, value_enum, default_value = "table")]
        format: SweepFormat,
        /// Exit 1 when a live finding of this sweep is at or above this severity.
        #[arg(long, value_parser = parse_severity)]
        fail_on: Option<Severity>,
    },
    /// List the rules with their default severity.
    Rules {
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
}

#[derive(clap::Args)]
pub struct StoreArg {
    /// Findings store: a SQLite file path (or sqlite:PATH, :memory:), or dynamodb:PREFIX for
    /// the PREFIX-findings / -seen / -identities / -lifecycle tables.
    #[arg(long, default_value = "govtrail.db")]
    pub store: String,
    /// AWS endpoint for dynamodb: stores and for the sweep's IAM calls (an emulator such as
    /// moto on http://127.0.0.1:PORT).
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

#[derive(Subcommand)]
enum FindingsCommand {
    /// List findings, filtered.
    List {
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, value_parser = parse_rule)]
        rule: Option<RuleId>,
        /// Minimum severity.
        #[arg(long, value_parser = parse_severity)]
        severity: Option<Severity>,
        /// Exact principal (ARN or canonical key, see the README).
        #[arg(long)]
        principal: Option<String>,
        #[arg(long, value_parser = parse_status)]
        status: Option<Status>,
        /// Only findings last seen at or after this time (RFC 3339, or YYYY-MM-DD from the
        /// start of that day, UTC).
        #[arg(long, value_parser = parse_day_start)]
        since: Option<DateTime<Utc>>,
        /// Only findings first seen at or before this time (a date: through the end of that day).
        #[arg(long, value_parser = parse_when)]
        until: Option<DateTime<Utc>>,
        /// At most this many findings (highest severity, newest first).
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Show one finding in full (JSON).
    Show {
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Mark a finding acknowledged.
    Ack {
        id: String,
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Mark a finding resolved (new activity after this reopens it).
    Resolve {
        id: String,
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Suppress a finding, with a reason and optional end.
    Suppress {
        id: String,
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        reason: String,
        #[arg(long, value_parser = parse_when)]
        until: Option<DateTime<Utc>>,
    },
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum SweepFormat {
    Table,
    Json,
}

/// Where a sweep's view of IAM comes from.
#[derive(clap::Args)]
struct SnapshotArgs {
    /// Read the snapshot from this JSON file (written by --save-snapshot) instead of IAM.
    #[arg(long)]
    from_snapshot: Option<PathBuf>,
    /// Also write what discovery found to this JSON file.
    #[arg(long)]
    save_snapshot: Option<PathBuf>,
    /// The account id, for an account with no identity to name it.
    #[arg(long)]
    account_id: Option<String>,
}

impl SnapshotArgs {
    fn source(&self) -> sweep::SnapshotSource<'_> {
        sweep::SnapshotSource {
            from_file: self.from_snapshot.as_deref(),
            save_to: self.save_snapshot.as_deref(),
            account_id: self.account_id.clone(),
        }
    }
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Check an inventory file or folder; errors name the file and line.
    Validate { path: PathBuf },
    /// Push a YAML inventory into the identities table (dynamodb:PREFIX), showing the diff.
    Sync {
        path: PathBuf,
        #[command(flatten)]
        store: StoreArg,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a draft inventory for every discovered IAM identity: owner, purpose and kind
    /// from tags where present, the rest marked UNCLAIMED for an owner to claim.
    Discover {
        /// Existing inventory: its settings (tag names, ignores) apply and identities it
        /// already governs exactly are left out of the draft.
        #[arg(long)]
        inventory: Option<PathBuf>,
        /// Output file (default: stdout).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Tag keys holding the owner (repeatable; default govtrail:owner, owner, Owner).
        #[arg(long)]
        owner_tag: Vec<String>,
        /// Tag keys holding the purpose (default govtrail:purpose, purpose, Purpose).
        #[arg(long)]
        purpose_tag: Vec<String>,
        /// Tag keys holding the kind: human, workload or agent (default govtrail:kind).
        #[arg(long)]
        kind_tag: Vec<String>,
        /// AWS endpoint for IAM (an emulator such as moto on http://127.0.0.1:PORT).
        #[arg(long)]
        endpoint_url: Option<String>,
        #[command(flatten)]
        snapshot: SnapshotArgs,
    },
    /// Write the identities table of a dynamodb:PREFIX store back to YAML.
    Export {
        #[command(flatten)]
        store: StoreArg,
        /// Output file (default: stdout).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Create the tables (or the SQLite file) if they do not exist.
    Init {
        #[command(flatten)]
        store: StoreArg,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("unknown severity '{s}' (info, low, medium, high, critical)"))
}

fn parse_rule(s: &str) -> Result<RuleId, String> {
    RuleId::parse(s).ok_or_else(|| format!("unknown rule '{s}' (see `govtrail rules`)"))
}

fn parse_status(s: &str) -> Result<Status, String> {
    Status::parse(s)
        .ok_or_else(|| format!("unknown status '{s}' (open, acknowledged, resolved, suppressed)"))
}

/// A point in time: RFC 3339, or a date meaning the start of that day (UTC).
fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    parse_day_start(s)
}

fn parse_day_start(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    parse_time(s).ok_or_else(|| format!("invalid time '{s}' (expected YYYY-MM-DD or RFC 3339)"))
}

/// An end of a window or a suppression: a date means through the end of that day (UTC).
fn parse_when(s: &str) -> Result<DateTime<Utc>, String> {
    govtrail_core::inventory::Deadline::parse(s)
        .map(|d| d.at)
        .ok_or_else(|| format!("invalid time '{s}' (expected YYYY-MM-DD or RFC 3339)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // The reader of our output went away (`| head`): not a failure of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}

/// Opens the findings store. `create` is for `replay`; the query and status commands need an
/// existing store, so a mistyped path is an error rather than an empty new database.
fn open_store(
    arg: &StoreArg,
    create: bool,
    aws: &mut Option<stores::Aws>,
) -> Result<Box<dyn FindingStore>> {
    let spec = stores::StoreSpec::parse(&arg.store)?;
    stores::open(&spec, create, aws, arg.endpoint_url.as_deref())
}

fn load_inventory(path: &Path) -> Result<Inventory> {
    Inventory::load(path).map_err(|e| anyhow::anyhow!("invalid inventory:\n{e}"))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Replay {
            paths,
            inventory,
            store,
            format,
            fail_on,
            now,
            no_progress,
        } => replay(
            &paths,
            &inventory,
            &store,
            format,
            fail_on,
            now,
            no_progress,
        ),
        Command::Events {
            paths,
            format,
            inventory,
        } => events(&paths, format, inventory.as_deref()),
        Command::Findings { command } => findings(command),
        Command::Inventory { command } => match command {
            InventoryCommand::Validate { path } => validate(&path),
            InventoryCommand::Sync {
                path,
                store,
                dry_run,
            } => sync::inventory_sync(&path, &store, dry_run),
            InventoryCommand::Discover {
                inventory,
                out,
                owner_tag,
                purpose_tag,
                kind_tag,
                endpoint_url,
                snapshot,
            } => sweep::inventory_discover(
                endpoint_url.as_deref(),
                inventory.as_deref(),
                out.as_deref(),
                &snapshot.source(),
                (owner_tag, purpose_tag, kind_tag),
            ),
            InventoryCommand::Export { store, out } => {
                sweep::inventory_export(&store, out.as_ref())
            }
        },
        Command::Sweep {
            inventory,
            store,
            snapshot,
            now,
            format,
            fail_on,
        } => sweep::sweep(
            inventory.as_deref(),
            &store,
            &snapshot.source(),
            now,
            format == SweepFormat::Json,
            fail_on,
        ),
        Command::Store { command } => match command {
            StoreCommand::Init { store } => sync::store_init(&store),
        },
        Command::Rules { format } => {
            let mut out = std::io::stdout().lock();
            output::rules(
                &mut out,
                format == ListFormat::Json || format == ListFormat::Jsonl,
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn replay(
    paths: &[PathBuf],
    inventory: &Path,
    store: &StoreArg,
    format: ReplayFormat,
    fail_on: Option<Severity>,
    now: Option<DateTime<Utc>>,
    no_progress: bool,
) -> Result<ExitCode> {
    let inv = load_inventory(inventory)?;
    let mut aws = None;
    let mut lifecycle = stores::open_lifecycle(
        &stores::StoreSpec::parse(&store.store)?,
        &mut aws,
        store.endpoint_url.as_deref(),
    )?;
    let mut store = open_store(store, true, &mut aws)?;
    let now = now.unwrap_or_else(Utc::now);
    let touched;
    let summary = {
        let mut pipeline = Pipeline::new(&inv, &inv.settings, store.as_mut(), None, now)
            .with_lifecycle(lifecycle.as_mut());
        pipeline.track_findings(true);
        let sources = pipeline.discover(paths);
        let bar = (!no_progress && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(sources.len() as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        for s in &sources {
            pipeline.process_source(s)?;
            if let Some(b) = &bar {
                b.inc(1);
                b.set_message(format!("{} records", pipeline.stats().records));
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        pipeline.flush()?;
        touched = pipeline.touched_findings();
        pipeline.finish()?
    };
    let mut findings = Vec::with_capacity(touched.len());
    for id in &touched {
        if let Some(f) = store.get(id)? {
            findings.push(f);
        }
    }
    govtrail_core::finding::sort_findings(&mut findings);
    let mut out = std::io::stdout().lock();
    match format {
        ReplayFormat::Table => output::replay_table(&mut out, &summary, &findings)?,
        ReplayFormat::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({ "summary": summary, "findings": findings }),
            )?;
            writeln!(out)?;
        }
        ReplayFormat::Jsonl => {
            for f in &findings {
                serde_json::to_writer(&mut out, f)?;
                writeln!(out)?;
            }
            let mut err = std::io::stderr().lock();
            output::summary_lines(&mut err, &summary)?;
        }
    }
    out.flush()?;
    if !summary.input_errors.is_empty() {
        return Ok(ExitCode::from(2));
    }
    Ok(fail_on_exit(&findings, fail_on))
}

/// Exit 1 when a live finding at or above `fail_on` is among `findings` (replay, sweep).
pub fn fail_on_exit(findings: &[govtrail_core::Finding], fail_on: Option<Severity>) -> ExitCode {
    match fail_on {
        Some(min)
            if findings
                .iter()
                .any(|f| f.status.is_live() && f.severity >= min) =>
        {
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}

fn events(paths: &[PathBuf], format: EventsFormat, inventory: Option<&Path>) -> Result<ExitCode> {
    let inv = inventory.map(load_inventory).transpose()?;
    let mut stats = ReadStats::default();
    let sources = input::discover(paths, &mut stats);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut write_err: Option<std::io::Error> = None;
    let mut evaluated = 0u64;
    let mut skipped_extra: Vec<SkipReason> = Vec::new();
    if format == EventsFormat::Table {
        output::events_header(&mut out)?;
    }
    for s in &sources {
        input::read_source(s, &mut stats, &mut |item| {
            if write_err.is_some() {
                return;
            }
            match normalise(item.record, item.origin) {
                Ok(mut act) => {
                    if let Some(inv) = &inv {
                        let (c, e) =
                            classify_actor(&act, inv.find(&act.principal).map(|r| r.as_ref()));
                        act.actor_class = c;
                        act.actor_evidence = e;
                    }
                    evaluated += 1;
                    let r = match format {
                        EventsFormat::Jsonl => serde_json::to_writer(&mut out, &act)
                            .map_err(std::io::Error::from)
                            .and_then(|_| writeln!(out)),
                        EventsFormat::Table => output::event_row(&mut out, &act),
                    };
                    if let Err(e) = r {
                        write_err = Some(e);
                    }
                }
                Err(reason) => skipped_extra.push(reason),
            }
        });
    }
    for r in skipped_extra {
        stats.skip(r);
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other?,
    }
    if let Some(e) = write_err {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(e.into());
    }
    let mut err = std::io::stderr().lock();
    output::read_summary(&mut err, &stats, evaluated)?;
    Ok(if stats.input_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn findings(cmd: FindingsCommand) -> Result<ExitCode> {
    let now = Utc::now();
    match cmd {
        FindingsCommand::List {
            store,
            owner,
            rule,
            severity,
            principal,
            status,
            since,
            until,
            limit,
            format,
        } => {
            let mut aws = None;
            let store = open_store(&store, false, &mut aws)?;
            let filter = FindingFilter {
                owner,
                rule,
                min_severity: severity,
                principal,
                status,
                since,
                until,
                limit,
            };
            let list = store.list(&filter)?;
            let mut out = std::io::stdout().lock();
            match format {
                ListFormat::Table => output::findings_table(&mut out, &list)?,
                ListFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &list)?;
                    writeln!(out)?;
                }
                ListFormat::Jsonl => {
                    for f in &list {
                        serde_json::to_writer(&mut out, f)?;
                        writeln!(out)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FindingsCommand::Show { id, store } => {
            let mut aws = None;
            let store = open_store(&store, false, &mut aws)?;
            match store.get(&id)? {
                Some(f) => {
                    let mut out = std::io::stdout().lock();
                    serde_json::to_writer_pretty(&mut out, &f)?;
                    writeln!(out)?;
                    Ok(ExitCode::SUCCESS)
                }
                None => bail!("no finding with id {id}"),
            }
        }
        FindingsCommand::Ack { id, store, reason } => {
            set_status(&store, &id, Status::Acknowledged, reason, None, now)
        }
        FindingsCommand::Resolve { id, store, reason } => {
            set_status(&store, &id, Status::Resolved, reason, None, now)
        }
        FindingsCommand::Suppress {
            id,
            store,
            reason,
            until,
        } => set_status(&store, &id, Status::Suppressed, Some(reason), until, now),
    }
}

fn set_status(
    store: &StoreArg,
    id: &str,
    status: Status,
    reason: Option<String>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<ExitCode> {
    if reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
        bail!("--reason must not be empty");
    }
    if let Some(u) = until {
        if u <= now {
            bail!(
                "--until {} is not in the future",
                govtrail_core::activity::format_time(&u)
            );
        }
    }
    let mut aws = None;
    let mut store = open_store(store, false, &mut aws)?;
    let f = store.set_status(id, status, reason, until, now)?;
    writeln!(std::io::stdout().lock(), "{} {}", f.id, f.status.as_str())?;
    Ok(ExitCode::SUCCESS)
}

fn validate(path: &Path) -> Result<ExitCode> {
    match Inventory::load(path) {
        Ok(inv) => {
            let total = inv.records().len();
            let patterns = inv
                .records()
                .iter()
                .filter(|r| r.principal.is_wildcard())
                .count();
            writeln!(
                std::io::stdout().lock(),
                "{}: ok: {total} governance records ({patterns} wildcard patterns), {} accounts mapped to environments",
                path.display(),
                inv.settings.accounts.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errs) => {
            for e in &errs.0 {
                eprintln!("{e}");
            }
            eprintln!("{} error(s)", errs.0.len());
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_open_and_close_whole_days() {
        let t = |s: &str| parse_time(s).unwrap();
        assert_eq!(parse_day_start("2026-11-30"), Ok(t("2026-11-30T00:00:00Z")));
        assert_eq!(parse_when("2026-11-30"), Ok(t("2026-11-30T23:59:59Z")));
        assert_eq!(
            parse_now("2026-12-01T08:00:00Z"),
            Ok(t("2026-12-01T08:00:00Z"))
        );
        assert!(parse_day_start("30/11/2026").is_err());
    }
}
