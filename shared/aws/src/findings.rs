//! `DynamoFindingStore`: findings in DynamoDB with the core's merge semantics, idempotent by
//! (finding, event) through seen markers written in the same transaction as the finding.

use crate::error::{describe, is_transient};
use crate::tables::TableNames;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use govtrail_core::finding::{sort_findings, Finding, FindingFilter, Hit, HitOutcome, Status};
use govtrail_core::memory_store::{apply_hit, change_status};
use govtrail_core::ports::{FindingStore, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::runtime::Handle;

/// Seen markers expire after this long (covers CloudTrail's late delivery many times over).
pub const SEEN_TTL: Duration = Duration::from_secs(14 * 24 * 3600);
/// Items per transaction (DynamoDB allows 100: one finding + 99 markers).
const MARKERS_PER_TRANSACTION: usize = 99;
const MAX_ATTEMPTS: usize = 6;
/// Keys per BatchGetItem request (DynamoDB's limit).
const BATCH_GET_KEYS: usize = 100;
/// BatchGetItem rounds for unprocessed keys before giving up (transient).
const MAX_UNPROCESSED_ROUNDS: u32 = 8;

type Item = HashMap<String, AttributeValue>;

/// Requests made, for measuring cost per event.
#[derive(Debug, Default)]
pub struct RequestCounts {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

pub struct DynamoFindingStore {
    client: Client,
    tables: TableNames,
    rt: Handle,
    pub requests: RequestCounts,
}

fn store_err(what: &str, message: String, transient: bool) -> StoreError {
    StoreError::Backend {
        what: what.to_string(),
        message,
        transient,
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// The finding as an item: its fields plus the index attributes and the version.
/// Null attributes are left out (index keys must be strings or absent).
fn to_item(f: &Finding, version: u64) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(f).map_err(|e| StoreError::Corrupt {
        id: f.id.clone(),
        reason: e.to_string(),
    })?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    let rank = f.severity as u8;
    item.insert("severity_rank".into(), AttributeValue::N(rank.to_string()));
    item.insert(
        "status_severity".into(),
        s(&format!("{}#{rank}", f.status.as_str())),
    );
    item.insert("version".into(), AttributeValue::N(version.to_string()));
    Ok(item)
}

fn from_item(item: Item) -> Result<(Finding, u64), StoreError> {
    let version = match item.get("version") {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    let id = match item.get("id") {
        Some(AttributeValue::S(id)) => id.clone(),
        _ => String::new(),
    };
    let f: Finding = serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        id,
        reason: e.to_string(),
    })?;
    Ok((f, version))
}

/// Why a transaction was cancelled, per item.
enum Cancelled {
    /// The finding changed since it was read.
    FindingChanged,
    /// These markers (indexes into the chunk) already existed: those events were counted.
    SeenBefore(Vec<usize>),
}

impl DynamoFindingStore {
    /// `rt` runs the SDK's futures: call the store from a blocking thread (never from inside
    /// an async task).
    pub fn new(client: Client, tables: TableNames, rt: Handle) -> Self {
        DynamoFindingStore {
            client,
            tables,
            rt,
            requests: RequestCounts::default(),
        }
    }

    fn read(&self, id: &str) -> Result<Option<(Finding, u64)>, StoreError> {
        self.requests.reads.fetch_add(1, Ordering::Relaxed);
        let out = self
            .rt
            .block_on(
                self.client
                    .get_item()
                    .table_name(&self.tables.findings)
                    .key("id", s(id))
                    .consistent_read(true)
                    .send(),
            )
            .map_err(|e| store_err("reading a finding", describe(&e), is_transient(&e)))?;
        out.item.map(from_item).transpose()
    }

    fn transact(
        &self,
        finding: &Finding,
        version_read: Option<u64>,
        markers: &[&Hit],
        expires_at: i64,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        let new_version = version_read.map(|v| v + 1).unwrap_or(1);
        let mut put = Put::builder()
            .table_name(&self.tables.findings)
            .set_item(Some(to_item(finding, new_version)?));
        put = match version_read {
            Some(v) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            None => put.condition_expression("attribute_not_exists(id)"),
        };
        let put = put
            .build()
            .map_err(|e| store_err("building a write", e.to_string(), false))?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for h in markers {
            let mut m = Item::new();
            m.insert("k".into(), s(&format!("{}#{}", h.finding_id, h.event_key)));
            m.insert(
                "expires_at".into(),
                AttributeValue::N(expires_at.to_string()),
            );
            let put = Put::builder()
                .table_name(&self.tables.seen)
                .set_item(Some(m))
                .condition_expression("attribute_not_exists(k)")
                .build()
                .map_err(|e| store_err("building a write", e.to_string(), false))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.requests.writes.fetch_add(1, Ordering::Relaxed);
        let res = self.rt.block_on(
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send(),
        );
        match res {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(se)) => match se.err() {
                // A bare 5xx (no error code): the service failed, worth retrying.
                _ if se.err().meta().code().is_none() && se.raw().status().is_server_error() => {
                    Err(store_err(
                        "writing a finding",
                        format!("HTTP {} without an error code", se.raw().status().as_u16()),
                        true,
                    ))
                }
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let reasons = c.cancellation_reasons();
                    let failed = |i: usize| {
                        reasons
                            .get(i)
                            .and_then(|r| r.code())
                            .is_some_and(|code| code == "ConditionalCheckFailed")
                    };
                    if failed(0) {
                        return Ok(Err(Cancelled::FindingChanged));
                    }
                    let seen: Vec<usize> = (0..markers.len()).filter(|i| failed(i + 1)).collect();
                    if !seen.is_empty() {
                        return Ok(Err(Cancelled::SeenBefore(seen)));
                    }
                    // Cancelled for another reason (a conflict with a concurrent transaction).
                    Ok(Err(Cancelled::FindingChanged))
                }
                other => Err(store_err(
                    "writing a finding",
                    {
                        use aws_sdk_dynamodb::error::ProvideErrorMetadata;
                        format!(
                            "{}: {}",
                            other.code().unwrap_or("TransactWriteItems failed"),
                            other.message().unwrap_or("no message")
                        )
                    },
                    matches!(
                        other,
                        TransactWriteItemsError::ProvisionedThroughputExceededException(_)
                            | TransactWriteItemsError::RequestLimitExceeded(_)
                            | TransactWriteItemsError::InternalServerError(_)
                            | TransactWriteItemsError::TransactionInProgressException(_)
                    ),
                )),
            },
            Err(e) => Err(store_err(
                "writing a finding",
                describe(&e),
                is_transient(&e),
            )),
        }
    }

    /// Reads the current state of many findings with consistent BatchGetItem requests (100
    /// keys each, unprocessed keys resent with backoff): one request per 100 findings instead
    /// of one per finding. Findings that do not exist map to `None`.
    fn read_many(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Option<(Finding, u64)>>, StoreError> {
        let mut out: HashMap<String, Option<(Finding, u64)>> =
            ids.iter().map(|id| (id.to_string(), None)).collect();
        for chunk in ids.chunks(BATCH_GET_KEYS) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|id| Item::from([("id".to_string(), s(id))]))
                .collect();
            let mut round = 0u32;
            while !keys.is_empty() {
                round += 1;
                if round > MAX_UNPROCESSED_ROUNDS {
                    return Err(store_err(
                        "reading findings",
                        "DynamoDB kept returning unprocessed keys".into(),
                        true,
                    ));
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| store_err("reading findings", e.to_string(), false))?;
                self.requests.reads.fetch_add(1, Ordering::Relaxed);
                let res = self
                    .rt
                    .block_on(
                        self.client
                            .batch_get_item()
                            .request_items(&self.tables.findings, request)
                            .send(),
                    )
                    .map_err(|e| store_err("reading findings", describe(&e), is_transient(&e)))?;
                if let Some(mut items) = res.responses {
                    for item in items.remove(&self.tables.findings).unwrap_or_default() {
                        let (f, v) = from_item(item)?;
                        out.insert(f.id.clone(), Some((f, v)));
                    }
                }
                if let Some(mut un) = res.unprocessed_keys {
                    if let Some(k) = un.remove(&self.tables.findings) {
                        keys = k.keys;
                        if !keys.is_empty() {
                            std::thread::sleep(Duration::from_millis(25 << round.min(6)));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Records the hits of one finding (all with the same id), chunk by chunk. `known` is
    /// its state from the batch read; a retry after a conflict reads it again.
    fn record_finding(
        &self,
        hits: &[&Hit],
        out: &mut [Option<HitOutcome>],
        idx: &[usize],
        mut known: Option<Option<(Finding, u64)>>,
    ) -> Result<(), StoreError> {
        let expires_at =
            (Utc::now() + chrono::Duration::from_std(SEEN_TTL).unwrap_or_default()).timestamp();
        let mut start = 0;
        while start < hits.len() {
            let end = (start + MARKERS_PER_TRANSACTION).min(hits.len());
            let mut chunk: Vec<usize> = (start..end).collect();
            let mut attempts = 0;
            loop {
                attempts += 1;
                if chunk.is_empty() {
                    break;
                }
                let current = match known.take() {
                    Some(state) => state,
                    None => self.read(&hits[0].finding_id)?,
                };
                let version = current.as_ref().map(|(_, v)| *v);
                let mut slot = current.map(|(f, _)| f);
                let mut outcomes = Vec::with_capacity(chunk.len());
                for &i in &chunk {
                    outcomes.push(apply_hit(&mut slot, hits[i]));
                }
                let Some(merged) = slot else { break };
                let markers: Vec<&Hit> = chunk.iter().map(|&i| hits[i]).collect();
                match self.transact(&merged, version, &markers, expires_at)? {
                    Ok(()) => {
                        for (&i, o) in chunk.iter().zip(outcomes) {
                            out[idx[i]] = Some(o);
                        }
                        break;
                    }
                    Err(Cancelled::SeenBefore(seen)) => {
                        let seen: Vec<usize> = seen.into_iter().map(|j| chunk[j]).collect();
                        for &i in &seen {
                            out[idx[i]] = Some(HitOutcome::Duplicate);
                        }
                        chunk.retain(|i| !seen.contains(i));
                    }
                    Err(Cancelled::FindingChanged) => {}
                }
                if attempts >= MAX_ATTEMPTS {
                    return Err(store_err(
                        "writing a finding",
                        format!(
                            "finding {} kept changing under concurrent writers",
                            hits[0].finding_id
                        ),
                        true,
                    ));
                }
            }
            start = end;
        }
        Ok(())
    }

    /// Reads every page a request returns: `page(start)` sends one request from that key and
    /// answers (items, last evaluated key) or (error text, transient).
    fn all_pages<F, Fut>(&self, what: &str, mut page: F) -> Result<Vec<Finding>, StoreError>
    where
        F: FnMut(Option<Item>) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<Item>, Option<Item>), (String, bool)>>,
    {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.requests.reads.fetch_add(1, Ordering::Relaxed);
            let (items, next) = self
                .rt
                .block_on(page(start.take()))
                .map_err(|(message, transient)| store_err(what, message, transient))?;
            for item in items {
                out.push(from_item(item)?.0);
            }
            match next {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    fn query_index(
        &self,
        index: &str,
        key_attr: &str,
        key: &str,
    ) -> Result<Vec<Finding>, StoreError> {
        self.all_pages("querying findings", |start| {
            let req = self
                .client
                .query()
                .table_name(&self.tables.findings)
                .index_name(index)
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", key_attr)
                .expression_attribute_values(":k", s(key))
                .set_exclusive_start_key(start);
            async move {
                req.send()
                    .await
                    .map(|p| (p.items.unwrap_or_default(), p.last_evaluated_key))
                    .map_err(|e| (describe(&e), is_transient(&e)))
            }
        })
    }

    fn scan(&self) -> Result<Vec<Finding>, StoreError> {
        self.all_pages("scanning findings", |start| {
            let req = self
                .client
                .scan()
                .table_name(&self.tables.findings)
                .set_exclusive_start_key(start);
            async move {
                req.send()
                    .await
                    .map(|p| (p.items.unwrap_or_default(), p.last_evaluated_key))
                    .map_err(|e| (describe(&e), is_transient(&e)))
            }
        })
    }
}

impl FindingStore for DynamoFindingStore {
    fn record(&mut self, hits: &[Hit]) -> Result<Vec<HitOutcome>, StoreError> {
        let mut out: Vec<Option<HitOutcome>> = vec![None; hits.len()];
        // Group by finding, dropping repeats of the same event inside the batch.
        let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut pos: HashMap<&str, usize> = HashMap::new();
        let mut in_batch: std::collections::HashSet<(&str, &str)> = Default::default();
        for (i, h) in hits.iter().enumerate() {
            if !in_batch.insert((&h.finding_id, &h.event_key)) {
                out[i] = Some(HitOutcome::Duplicate);
                continue;
            }
            let g = *pos.entry(&h.finding_id).or_insert_with(|| {
                groups.push((&h.finding_id, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        let ids: Vec<&str> = groups.iter().map(|(id, _)| *id).collect();
        let mut current = self.read_many(&ids)?;
        for (id, idx) in &groups {
            let group: Vec<&Hit> = idx.iter().map(|&i| &hits[i]).collect();
            self.record_finding(&group, &mut out, idx, current.remove(*id))?;
        }
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or(HitOutcome::Duplicate))
            .collect())
    }

    fn get(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        Ok(self.read(id)?.map(|(f, _)| f))
    }

    fn list(&self, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        let candidates = if let Some(o) = &filter.owner {
            self.query_index("by_owner", "owner", o)?
        } else if let Some(p) = &filter.principal {
            self.query_index("by_principal", "principal", p)?
        } else if let Some(st) = filter.status {
            let mut v = Vec::new();
            let min = filter.min_severity.map(|s| s as u8).unwrap_or(0);
            for rank in min..=4 {
                v.extend(self.query_index(
                    "by_status",
                    "status_severity",
                    &format!("{}#{rank}", st.as_str()),
                )?);
            }
            v
        } else {
            self.scan()?
        };
        let mut v: Vec<Finding> = candidates
            .into_iter()
            .filter(|f| filter.matches(f))
            .collect();
        sort_findings(&mut v);
        if let Some(l) = filter.limit {
            v.truncate(l);
        }
        Ok(v)
    }

    fn set_status(
        &mut self,
        id: &str,
        status: Status,
        reason: Option<String>,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Finding, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let (mut f, version) = self
                .read(id)?
                .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
            change_status(&mut f, status, reason.clone(), until, now);
            let put = Put::builder()
                .table_name(&self.tables.findings)
                .set_item(Some(to_item(&f, version + 1)?))
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
                .build()
                .map_err(|e| store_err("building a write", e.to_string(), false))?;
            self.requests.writes.fetch_add(1, Ordering::Relaxed);
            let res = self.rt.block_on(
                self.client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().put(put).build())
                    .send(),
            );
            match res {
                Ok(_) => return Ok(f),
                Err(SdkError::ServiceError(se))
                    if matches!(
                        se.err(),
                        TransactWriteItemsError::TransactionCanceledException(_)
                    ) => {}
                Err(e) => {
                    return Err(store_err(
                        "changing a finding's status",
                        describe(&e),
                        is_transient(&e),
                    ))
                }
            }
        }
        Err(store_err(
            "changing a finding's status",
            format!("finding {id} kept changing under concurrent writers"),
            true,
        ))
    }
}
