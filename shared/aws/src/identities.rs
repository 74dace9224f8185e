//! `DynamoGovernanceSource`: governance records in DynamoDB, read in batches and cached with a
//! TTL inside the warm Lambda, so a steady stream costs at most one read per principal per TTL.

use crate::error::{describe, is_transient};
use crate::tables::TableNames;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use govtrail_core::inventory::{GovernanceRecord, Inventory, Settings};
use govtrail_core::rules::{GovernanceLookup, LookupError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

type Item = HashMap<String, AttributeValue>;

/// The key of the item holding the inventory settings.
pub const SETTINGS_KEY: &str = "#settings";
const BATCH_GET_KEYS: usize = 100;
const MAX_UNPROCESSED_ROUNDS: u32 = 8;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn lookup_err(what: &str, message: String, transient: bool) -> LookupError {
    LookupError {
        message: format!("{what}: {message}"),
        transient,
        source: None,
    }
}

/// `ACCOUNT#user|role#name` for exact IAM user and role ARNs (the core's
/// `iam_name_key`, as one string for the `by_iam_name` index).
pub fn iam_name(arn: &str) -> Option<String> {
    if arn.contains(['*', '?']) {
        return None;
    }
    let (acct, kind, name) = govtrail_core::inventory::iam_name_key(arn)?;
    Some(format!("{acct}#{kind}#{name}"))
}

/// A governance record as an identities-table item.
pub fn record_item(r: &GovernanceRecord) -> Result<Item, serde_dynamo::Error> {
    let mut item = Item::new();
    let principal = r.principal.as_str();
    item.insert("principal".into(), s(principal));
    item.insert(
        "record".into(),
        AttributeValue::M(serde_dynamo::to_item(r)?),
    );
    if r.principal.is_wildcard() {
        item.insert("is_pattern".into(), s("1"));
    } else if let Some(n) = iam_name(principal) {
        item.insert("iam_name".into(), s(&n));
    }
    Ok(item)
}

pub fn settings_item(settings: &Settings) -> Result<Item, serde_dynamo::Error> {
    let mut item = Item::new();
    item.insert("principal".into(), s(SETTINGS_KEY));
    item.insert(
        "settings".into(),
        AttributeValue::M(serde_dynamo::to_item(settings)?),
    );
    Ok(item)
}

/// Every item an inventory puts in the identities table: its records and its settings.
pub fn inventory_items(inv: &Inventory) -> Result<Vec<Item>, serde_dynamo::Error> {
    let mut items = inv
        .records()
        .iter()
        .map(|r| record_item(r))
        .collect::<Result<Vec<_>, _>>()?;
    items.push(settings_item(&inv.settings)?);
    Ok(items)
}

fn record_from(item: &Item) -> Result<GovernanceRecord, String> {
    match item.get("record") {
        Some(AttributeValue::M(m)) => serde_dynamo::from_item(m.clone()).map_err(|e| e.to_string()),
        _ => Err("item has no record map".to_string()),
    }
}

struct Cached {
    at: Instant,
    record: Option<Arc<GovernanceRecord>>,
}

#[derive(Default)]
struct State {
    exact: HashMap<String, Cached>,
    patterns: Option<(Instant, Inventory)>,
}

pub struct DynamoGovernanceSource {
    client: Client,
    table: String,
    ttl: Duration,
    rt: Handle,
    state: Mutex<State>,
    /// DynamoDB requests made (BatchGetItem, Query), for cost per event.
    pub reads: AtomicU64,
}

impl DynamoGovernanceSource {
    pub fn new(client: Client, tables: &TableNames, ttl: Duration, rt: Handle) -> Self {
        DynamoGovernanceSource {
            client,
            table: tables.identities.clone(),
            ttl,
            rt,
            state: Mutex::new(State::default()),
            reads: AtomicU64::new(0),
        }
    }

    /// The inventory settings (defaults when none were synced).
    pub fn load_settings(&self) -> Result<Settings, LookupError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let out = self
            .rt
            .block_on(
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .key("principal", s(SETTINGS_KEY))
                    .send(),
            )
            .map_err(|e| lookup_err("reading settings", describe(&e), is_transient(&e)))?;
        match out.item.as_ref().and_then(|i| i.get("settings")) {
            Some(AttributeValue::M(m)) => serde_dynamo::from_item(m.clone())
                .map_err(|e| lookup_err("reading settings", e.to_string(), false)),
            _ => Ok(Settings::default()),
        }
    }

    fn query_all(&self, index: &str, attr: &str, value: &str) -> Result<Vec<Item>, LookupError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let page = self
                .rt
                .block_on(
                    self.client
                        .query()
                        .table_name(&self.table)
                        .index_name(index)
                        .key_condition_expression("#a = :v")
                        .expression_attribute_names("#a", attr)
                        .expression_attribute_values(":v", s(value))
                        .set_exclusive_start_key(start.take())
                        .send(),
                )
                .map_err(|e| lookup_err("querying identities", describe(&e), is_transient(&e)))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    fn refresh_patterns(&self, state: &mut State) -> Result<(), LookupError> {
        let fresh = state
            .patterns
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < self.ttl);
        if fresh {
            return Ok(());
        }
        let items = self.query_all("patterns", "is_pattern", "1")?;
        let mut records = Vec::with_capacity(items.len());
        for item in &items {
            match record_from(item) {
                Ok(r) => records.push(r),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable pattern record"),
            }
        }
        state.patterns = Some((Instant::now(), Inventory::new(Settings::default(), records)));
        Ok(())
    }

    fn batch_get(&self, keys: &[&str]) -> Result<HashMap<String, GovernanceRecord>, LookupError> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_KEYS) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|k| HashMap::from([("principal".to_string(), s(k))]))
                .collect();
            let mut round = 0;
            while !pending.is_empty() {
                round += 1;
                if round > MAX_UNPROCESSED_ROUNDS {
                    return Err(lookup_err(
                        "reading identities",
                        "DynamoDB kept returning unprocessed keys".into(),
                        true,
                    ));
                }
                if round > 1 {
                    std::thread::sleep(Duration::from_millis(25 << round.min(6)));
                }
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .build()
                    .map_err(|e| lookup_err("reading identities", e.to_string(), false))?;
                self.reads.fetch_add(1, Ordering::Relaxed);
                let out = self
                    .rt
                    .block_on(
                        self.client
                            .batch_get_item()
                            .request_items(&self.table, ka)
                            .send(),
                    )
                    .map_err(|e| {
                        lookup_err("reading identities", describe(&e), is_transient(&e))
                    })?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(AttributeValue::S(p)) = item.get("principal") {
                        match record_from(&item) {
                            Ok(r) => {
                                found.insert(p.clone(), r);
                            }
                            Err(e) => {
                                tracing::warn!(principal = %p, error = %e, "unreadable governance record")
                            }
                        }
                    }
                }
                if let Some(mut un) = out.unprocessed_keys {
                    if let Some(ka) = un.remove(&self.table) {
                        pending = ka.keys;
                    }
                }
            }
        }
        Ok(found)
    }
}

impl GovernanceLookup for DynamoGovernanceSource {
    fn prefetch(&self, principals: &[&str]) -> Result<(), LookupError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| lookup_err("identity cache", "poisoned".into(), false))?;
        self.refresh_patterns(&mut state)?;
        let missing: Vec<&str> = principals
            .iter()
            .copied()
            .filter(|p| {
                state
                    .exact
                    .get(*p)
                    .is_none_or(|c| c.at.elapsed() >= self.ttl)
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut found = self.batch_get(&missing)?;
        // IAM users and roles named without their path: look up by (account, kind, name).
        for p in &missing {
            if found.contains_key(*p) {
                continue;
            }
            if let Some(name) = iam_name(p) {
                for item in self.query_all("by_iam_name", "iam_name", &name)? {
                    if let Ok(r) = record_from(&item) {
                        found.insert((*p).to_string(), r);
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        for p in missing {
            let record = found.remove(p).map(Arc::new);
            state
                .exact
                .insert(p.to_string(), Cached { at: now, record });
        }
        Ok(())
    }

    fn find(&self, principal: &str) -> Option<Arc<GovernanceRecord>> {
        let state = self.state.lock().ok()?;
        if let Some(Some(r)) = state.exact.get(principal).map(|c| c.record.clone()) {
            return Some(r);
        }
        state
            .patterns
            .as_ref()
            .and_then(|(_, inv)| inv.find(principal).cloned())
    }
}

/// Writes records and settings (for `govtrail inventory sync`), 25 per request.
pub async fn put_items(client: &Client, table: &str, items: Vec<Item>) -> Result<u64, String> {
    let requests = items
        .into_iter()
        .map(|i| {
            PutRequest::builder()
                .set_item(Some(i))
                .build()
                .map(|p| WriteRequest::builder().put_request(p).build())
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    batch_write(client, table, requests).await
}

/// BatchWriteItem in chunks of 25, resending unprocessed items with backoff.
async fn batch_write(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
) -> Result<u64, String> {
    let mut calls = 0;
    for chunk in requests.chunks(25) {
        let mut pending = chunk.to_vec();
        let mut round = 0;
        while !pending.is_empty() {
            round += 1;
            if round > MAX_UNPROCESSED_ROUNDS {
                return Err("DynamoDB kept returning unprocessed items".into());
            }
            calls += 1;
            let out = client
                .batch_write_item()
                .request_items(table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(|e| describe(&e))?;
            if let Some(mut un) = out.unprocessed_items {
                pending = un.remove(table).unwrap_or_default();
                if !pending.is_empty() {
                    tokio::time::sleep(Duration::from_millis(25 << round.min(6))).await;
                }
            }
        }
    }
    Ok(calls)
}

/// Every item of the identities table (for `govtrail inventory sync`'s diff).
pub async fn scan_items(client: &Client, table: &str) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        out.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(out),
        }
    }
}

/// The whole inventory (settings and every record) from the identities table, for the sweep
/// and `govtrail inventory export`. An unreadable item fails the load, naming its principal:
/// a record silently missing would make its identity look ungoverned.
pub async fn load_inventory(client: &Client, table: &str) -> Result<Inventory, String> {
    let mut settings = Settings::default();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for item in scan_items(client, table).await? {
        let principal = match item.get("principal") {
            Some(AttributeValue::S(p)) => p.clone(),
            _ => {
                errors.push("an item without a principal key".to_string());
                continue;
            }
        };
        if principal == SETTINGS_KEY {
            match item.get("settings") {
                Some(AttributeValue::M(m)) => match serde_dynamo::from_item(m.clone()) {
                    Ok(s) => settings = s,
                    Err(e) => errors.push(format!("{SETTINGS_KEY}: {e}")),
                },
                _ => errors.push(format!("{SETTINGS_KEY}: no settings map")),
            }
            continue;
        }
        match record_from(&item) {
            Ok(r) => records.push(r),
            Err(e) => errors.push(format!("{principal}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(format!(
            "{} unreadable item(s) in {table}: {}",
            errors.len(),
            errors.join("; ")
        ));
    }
    records.sort_by(|a, b| a.principal.as_str().cmp(b.principal.as_str()));
    Ok(Inventory::new(settings, records))
}

/// Deletes items by principal, 25 per request.
pub async fn delete_principals(
    client: &Client,
    table: &str,
    principals: &[String],
) -> Result<u64, String> {
    use aws_sdk_dynamodb::types::DeleteRequest;
    let requests = principals
        .iter()
        .map(|p| {
            DeleteRequest::builder()
                .key("principal", s(p))
                .build()
                .map(|d| WriteRequest::builder().delete_request(d).build())
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    batch_write(client, table, requests).await
}
