//! `govtrail store init` and `govtrail inventory sync`: the DynamoDB side of the inventory.

use crate::stores::{Aws, StoreSpec};
use crate::StoreArg;
use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use govtrail_aws::identities::{
    delete_principals, put_items, record_item, scan_items, settings_item,
};
use govtrail_aws::tables::create_tables;
use govtrail_aws::TableNames;
use govtrail_core::{Inventory, SqliteStore};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn store_init(arg: &StoreArg) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match StoreSpec::parse(&arg.store)? {
        StoreSpec::Memory => bail!("an in-memory store needs no initialisation"),
        StoreSpec::Sqlite(path) => {
            SqliteStore::open(&path).with_context(|| format!("creating {}", path.display()))?;
            writeln!(out, "{}: ready", path.display())?;
        }
        StoreSpec::Dynamo(prefix) => {
            let aws = Aws::connect(arg.endpoint_url.as_deref())?;
            let names = TableNames::for_prefix(&prefix);
            let created = aws
                .rt
                .block_on(create_tables(&aws.dynamo(), &names))
                .map_err(|e| anyhow!("{e}"))?;
            for t in [
                &names.identities,
                &names.findings,
                &names.seen,
                &names.lifecycle,
            ] {
                let state = if created.contains(t) {
                    "created"
                } else {
                    "exists"
                };
                writeln!(out, "{t}: {state}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn principal_of(item: &HashMap<String, AttributeValue>) -> Option<String> {
    match item.get("principal") {
        Some(AttributeValue::S(p)) => Some(p.clone()),
        _ => None,
    }
}

pub fn inventory_sync(path: &Path, arg: &StoreArg, dry_run: bool) -> Result<ExitCode> {
    let inv = Inventory::load(path).map_err(|e| anyhow!("invalid inventory:\n{e}"))?;
    let StoreSpec::Dynamo(prefix) = StoreSpec::parse(&arg.store)? else {
        bail!("inventory sync writes the identities table of a dynamodb:PREFIX store");
    };
    let aws = Aws::connect(arg.endpoint_url.as_deref())?;
    let client = aws.dynamo();
    let table = TableNames::for_prefix(&prefix).identities;
    let mut desired: BTreeMap<String, HashMap<String, AttributeValue>> = BTreeMap::new();
    for r in inv.records() {
        let item = record_item(r).map_err(|e| anyhow!("record {}: {e}", r.principal.as_str()))?;
        desired.insert(r.principal.as_str().to_string(), item);
    }
    let settings = settings_item(&inv.settings).map_err(|e| anyhow!("settings: {e}"))?;
    desired.insert(govtrail_aws::identities::SETTINGS_KEY.to_string(), settings);
    let existing: BTreeMap<String, HashMap<String, AttributeValue>> = aws
        .rt
        .block_on(scan_items(&client, &table))
        .map_err(|e| anyhow!("reading {table}: {e}"))?
        .into_iter()
        .filter_map(|i| principal_of(&i).map(|p| (p, i)))
        .collect();
    let mut out = std::io::stdout().lock();
    let (mut add, mut change, mut same) = (Vec::new(), Vec::new(), 0usize);
    for (p, item) in &desired {
        match existing.get(p) {
            None => add.push(item.clone()),
            Some(old) if old != item => change.push(item.clone()),
            Some(_) => same += 1,
        }
    }
    let remove: Vec<String> = existing
        .keys()
        .filter(|p| !desired.contains_key(*p))
        .cloned()
        .collect();
    for i in &add {
        writeln!(out, "+ {}", principal_of(i).unwrap_or_default())?;
    }
    for i in &change {
        writeln!(out, "~ {}", principal_of(i).unwrap_or_default())?;
    }
    for p in &remove {
        writeln!(out, "- {p}")?;
    }
    writeln!(
        out,
        "{table}: {} to add, {} to change, {} to remove, {same} unchanged{}",
        add.len(),
        change.len(),
        remove.len(),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    )?;
    if !dry_run {
        let mut writes = add;
        writes.extend(change);
        aws.rt
            .block_on(put_items(&client, &table, writes))
            .map_err(|e| anyhow!("writing {table}: {e}"))?;
        aws.rt
            .block_on(delete_principals(&client, &table, &remove))
            .map_err(|e| anyhow!("deleting from {table}: {e}"))?;
    }
    Ok(ExitCode::SUCCESS)
}
