//! `govtrail sweep`, `govtrail inventory discover` and `govtrail inventory export`: the
//! inventory sweep from a laptop, a draft inventory from what IAM holds, and the identities
//! table back to YAML.

use crate::stores::{open_lifecycle, Aws, StoreSpec};
use crate::{load_inventory, open_store, output, StoreArg};
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use govtrail_aws::discovery::{iam_client, Discovery, DiscoveryOptions, DiscoveryStats};
use govtrail_aws::identities::load_inventory as load_table_inventory;
use govtrail_aws::sweep::LIFECYCLE_WINDOW_HOURS;
use govtrail_aws::TableNames;
use govtrail_core::activity::format_time;
use govtrail_core::inventory::{GovernanceRecord, Kind, RecordStatus, Settings, SweepSettings};
use govtrail_core::lifecycle::{merge_into, users_changed_since, KnownState};
use govtrail_core::pattern::Pattern;
use govtrail_core::sweep::{self, IamIdentity, IdentityType, Snapshot};
use govtrail_core::{ActorClass, Inventory, Severity};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the sweep's snapshot comes from: IAM (through the SDK) or a saved JSON file.
pub struct SnapshotSource<'a> {
    pub from_file: Option<&'a Path>,
    pub save_to: Option<&'a Path>,
    pub account_id: Option<String>,
}

fn discover(
    aws: &mut Option<Aws>,
    endpoint_url: Option<&str>,
    src: &SnapshotSource<'_>,
    lifecycle: Option<&KnownState>,
    window: DateTime<Utc>,
) -> Result<(Snapshot, Option<DiscoveryStats>)> {
    let (snapshot, stats) = match src.from_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading snapshot {}", path.display()))?;
            let snap: Snapshot = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: not a govtrail snapshot (as written by --save-snapshot)",
                    path.display()
                )
            })?;
            let mut seen = std::collections::HashSet::new();
            for (i, ident) in snap.identities.iter().enumerate() {
                if !seen.insert(ident.principal.as_str()) {
                    bail!(
                        "{}: identities[{i}]: {} appears twice",
                        path.display(),
                        ident.principal
                    );
                }
            }
            (snap, None)
        }
        None => {
            let a = Aws::get(aws, endpoint_url)?;
            let discovery = Discovery::new(iam_client(&a.sdk));
            let opts = DiscoveryOptions {
                account_id: src.account_id.clone(),
                refresh_keys_for: lifecycle
                    .map(|st| users_changed_since(st, Some(window)))
                    .unwrap_or_default(),
                ..DiscoveryOptions::default()
            };
            let listed_at = Utc::now();
            let (mut snap, stats) =
                a.rt.block_on(discovery.discover(&opts))
                    .map_err(|e| anyhow!("discovery: {e}"))?;
            if let Some(st) = lifecycle {
                merge_into(&mut snap, st, listed_at);
            }
            (snap, Some(stats))
        }
    };
    if let Some(path) = src.save_to {
        let text = serde_json::to_string_pretty(&snapshot)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing snapshot {}", path.display()))?;
    }
    Ok((snapshot, stats))
}

/// Governance records: a YAML inventory, else the identities table of a dynamodb: store.
fn governance(
    inventory: Option<&Path>,
    store: &StoreArg,
    aws: &mut Option<Aws>,
) -> Result<Inventory> {
    if let Some(path) = inventory {
        return load_inventory(path);
    }
    let StoreSpec::Dynamo(prefix) = StoreSpec::parse(&store.store)? else {
        bail!("the sweep needs governance records: --inventory FILE, or --store dynamodb:PREFIX (its identities table)");
    };
    let a = Aws::get(aws, store.endpoint_url.as_deref())?;
    let table = TableNames::for_prefix(&prefix).identities;
    a.rt.block_on(load_table_inventory(&a.dynamo(), &table))
        .map_err(|e| anyhow!("{e}"))
}

#[allow(clippy::too_many_arguments)]
pub fn sweep(
    inventory: Option<&Path>,
    store: &StoreArg,
    src: &SnapshotSource<'_>,
    now: Option<DateTime<Utc>>,
    json: bool,
    fail_on: Option<Severity>,
) -> Result<ExitCode> {
    let mut aws = None;
    let inv = governance(inventory, store, &mut aws)?;
    // IAM lifecycle changes the event path recorded in this store lately (see the Lambda).
    let window = Utc::now() - chrono::Duration::hours(LIFECYCLE_WINDOW_HOURS);
    let spec = StoreSpec::parse(&store.store)?;
    let state = match spec {
        StoreSpec::Sqlite(ref p) if !p.exists() => None,
        _ => {
            let lc = open_lifecycle(&spec, &mut aws, store.endpoint_url.as_deref())?;
            Some(KnownState::fold(lc.changes_since(Some(window))?.iter()))
        }
    };
    let (snapshot, stats) = discover(
        &mut aws,
        store.endpoint_url.as_deref(),
        src,
        state.as_ref(),
        window,
    )?;
    let mut findings_store = open_store(store, true, &mut aws)?;
    let now = now.unwrap_or_else(Utc::now);
    let result = sweep::reconcile(&snapshot, &inv, now);
    let report = sweep::apply(findings_store.as_mut(), None, &result, &inv)?;
    let mut findings = Vec::new();
    for id in &report.finding_ids {
        if let Some(f) = findings_store.get(id)? {
            findings.push(f);
        }
    }
    govtrail_core::finding::sort_findings(&mut findings);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({ "sweep": report, "discovery": stats, "findings": findings }),
        )?;
        writeln!(out)?;
    } else {
        output::findings_table(&mut out, &findings)?;
        writeln!(out)?;
        for r in &report.resolved {
            writeln!(
                out,
                "resolved {} {} {}: {}",
                r.id, r.rule, r.principal, r.reason
            )?;
        }
        let c = &report.counts;
        writeln!(
            out,
            "account: {}  identities: {} (users {}, roles {}, root {})  keys: {} ({} active)  governed: {}  aws-managed skipped: {}  ignored: {}",
            report.account_id, c.identities, c.users, c.roles, c.root, c.keys, c.active_keys, c.governed, c.aws_managed_skipped, c.ignored
        )?;
        writeln!(
            out,
            "findings new: {}  updated: {}  reopened: {}  resolved: {}  suppressed hits: {}",
            report.findings_new,
            report.findings_updated,
            report.findings_reopened,
            report.resolved.len(),
            report.suppressed_hits
        )?;
        if let Some(s) = &stats {
            let calls: Vec<String> = s.calls.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(
                out,
                "IAM calls: {} ({})  credential report: {}  {:.2} s",
                s.total_calls,
                calls.join(" "),
                if s.credential_report {
                    "used".to_string()
                } else {
                    format!(
                        "not used: {}",
                        s.fallback_reason.as_deref().unwrap_or("unknown")
                    )
                },
                s.elapsed_seconds
            )?;
            for e in &s.report_row_errors {
                writeln!(out, "credential report row skipped: {e}")?;
            }
        }
    }
    out.flush()?;
    Ok(crate::fail_on_exit(&findings, fail_on))
}

/// Tag names `discover` reads, from the command line or else the settings.
pub struct TagNames {
    pub owner: Vec<String>,
    pub purpose: Vec<String>,
    pub kind: Vec<String>,
}

fn first_tag<'a>(ident: &'a IamIdentity, names: &[String]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| ident.tags.get(n))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn kind_of(ident: &IamIdentity, tags: &TagNames) -> (Kind, String) {
    if let Some(v) = first_tag(ident, &tags.kind) {
        match v.to_ascii_lowercase().as_str() {
            "human" => return (Kind::Human, format!("kind from tag: {v}")),
            "workload" | "service" => return (Kind::Workload, format!("kind from tag: {v}")),
            "agent" | "ai-agent" => return (Kind::Agent, format!("kind from tag: {v}")),
            _ => {}
        }
    }
    let kind = match ident.guessed_class() {
        ActorClass::Human => Kind::Human,
        _ => Kind::Workload,
    };
    let why = match ident.identity_type {
        IdentityType::Role => "kind guessed: a role".to_string(),
        _ if ident.password_enabled == Some(true) => {
            "kind guessed: a user with a console password".to_string()
        }
        _ if !ident.keys.is_empty() => {
            "kind guessed: a user with access keys and no console password".to_string()
        }
        _ => "kind guessed: a user with no credentials".to_string(),
    };
    (kind, why)
}

/// Indents one serialised record as an item of the `identities:` list.
fn list_item(yaml: &str) -> String {
    let mut s = String::new();
    for (i, line) in yaml.lines().enumerate() {
        s.push_str(if i == 0 { "  - " } else { "    " });
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// Text safe inside a `#` comment: no line breaks of any kind.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The draft inventory text for a snapshot. Identities an existing inventory governs exactly
/// are left out; AWS-managed and ignored ones too (unless the settings include them).
pub fn draft(
    snapshot: &Snapshot,
    existing: Option<&Inventory>,
    settings: &Settings,
    tags: &TagNames,
    now: DateTime<Utc>,
) -> Result<(String, usize, usize)> {
    let mut out = String::new();
    out.push_str(&format!(
        "# Draft governance inventory written by `govtrail inventory discover` at {}\n# from account {}. Owners and purposes come from tags ({} / {}) where present;\n# entries marked UNCLAIMED need an accountable owner before this is merged.\n# Check each kind, then add allow statements, a review and credential policy.\nversion: 1\nidentities:\n",
        format_time(&now),
        if snapshot.account_id.is_empty() {
            "?".to_string()
        } else {
            comment(&snapshot.account_id)
        },
        comment(&tags.owner.join(", ")),
        comment(&tags.purpose.join(", ")),
    ));
    let (mut written, mut unclaimed) = (0, 0);
    for ident in &snapshot.identities {
        if ident.identity_type == IdentityType::Root
            || (ident.aws_managed() && !settings.sweep.include_aws_managed)
            || settings.is_ignored(&ident.principal)
        {
            continue;
        }
        if existing
            .and_then(|inv| inv.find(&ident.principal))
            .is_some_and(|r| !r.principal.is_wildcard())
        {
            continue;
        }
        // IAM paths may contain * and ?, which a principal reads as wildcards: such an
        // identity cannot be named by an exact record.
        if ident.principal.contains(['*', '?']) {
            out.push_str(&format!(
                "  # SKIPPED: {} contains * or ?, which a record's principal reads as a pattern\n",
                comment(&ident.principal)
            ));
            continue;
        }
        let (kind, kind_why) = kind_of(ident, tags);
        let owner = first_tag(ident, &tags.owner).map(str::to_string);
        let purpose = first_tag(ident, &tags.purpose).map(str::to_string);
        let record = GovernanceRecord {
            principal: Pattern::new(&ident.principal),
            kind,
            owner: owner.clone(),
            contact: None,
            purpose,
            status: RecordStatus::Active,
            review: None,
            expires: None,
            credentials: None,
            environments: Vec::new(),
            allow: Vec::new(),
            deny: Vec::new(),
            exceptions: Vec::new(),
        };
        let yaml = serde_yaml::to_string(&record)
            .with_context(|| format!("writing the draft record of {}", ident.principal))?;
        if owner.is_none() {
            unclaimed += 1;
            out.push_str(&format!(
                "  # UNCLAIMED: no owner tag ({}). {}\n",
                comment(&tags.owner.join(", ")),
                comment(&kind_why)
            ));
        } else {
            out.push_str(&format!("  # {}\n", comment(&kind_why)));
        }
        out.push_str(&list_item(&yaml));
        written += 1;
    }
    if written == 0 {
        out = out.replace("identities:\n", "identities: []\n");
    }
    Ok((out, written, unclaimed))
}

pub fn inventory_discover(
    endpoint_url: Option<&str>,
    existing: Option<&Path>,
    out_path: Option<&Path>,
    src: &SnapshotSource<'_>,
    tag_args: (Vec<String>, Vec<String>, Vec<String>),
) -> Result<ExitCode> {
    let existing = existing.map(load_inventory).transpose()?;
    let settings = existing
        .as_ref()
        .map(|i| i.settings.clone())
        .unwrap_or_default();
    let pick = |given: Vec<String>, from: &[String]| {
        if given.is_empty() {
            from.to_vec()
        } else {
            given
        }
    };
    let SweepSettings {
        owner_tags,
        purpose_tags,
        kind_tags,
        ..
    } = &settings.sweep;
    let tags = TagNames {
        owner: pick(tag_args.0, owner_tags),
        purpose: pick(tag_args.1, purpose_tags),
        kind: pick(tag_args.2, kind_tags),
    };
    let mut aws = None;
    let (snapshot, _) = discover(&mut aws, endpoint_url, src, None, Utc::now())?;
    let (text, written, unclaimed) =
        draft(&snapshot, existing.as_ref(), &settings, &tags, Utc::now())?;
    match out_path {
        Some(p) if p != Path::new("-") => {
            std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("{}: {}", p.display(), drafted(written, unclaimed));
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            eprintln!("{}", drafted(written, unclaimed));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn drafted(written: usize, unclaimed: usize) -> String {
    format!(
        "{written} {} drafted ({unclaimed} unclaimed: no owner tag)",
        if written == 1 {
            "identity"
        } else {
            "identities"
        }
    )
}

/// The identities table back to YAML (settings and every record, sorted by principal).
pub fn inventory_export(store: &StoreArg, out_path: Option<&PathBuf>) -> Result<ExitCode> {
    let StoreSpec::Dynamo(prefix) = StoreSpec::parse(&store.store)? else {
        bail!("inventory export reads the identities table of a dynamodb:PREFIX store");
    };
    let aws = Aws::connect(store.endpoint_url.as_deref())?;
    let table = TableNames::for_prefix(&prefix).identities;
    let inv = aws
        .rt
        .block_on(load_table_inventory(&aws.dynamo(), &table))
        .map_err(|e| anyhow!("{e}"))?;
    #[derive(serde::Serialize)]
    struct File<'a> {
        version: u32,
        settings: &'a Settings,
        identities: Vec<&'a GovernanceRecord>,
    }
    let file = File {
        version: 1,
        settings: &inv.settings,
        identities: inv.records().iter().map(|r| &**r).collect(),
    };
    let text = format!(
        "# Exported from {table} by `govtrail inventory export` at {}\n{}",
        format_time(&Utc::now()),
        serde_yaml::to_string(&file)?
    );
    match out_path {
        Some(p) if p.as_path() != Path::new("-") => {
            std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
            eprintln!(
                "{}: {} governance records",
                p.display(),
                file.identities.len()
            );
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
