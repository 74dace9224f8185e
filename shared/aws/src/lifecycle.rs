//! `DynamoLifecycleStore`: the core's append-only log of IAM lifecycle changes in the
//! lifecycle table. One item per (principal, event key), written with a condition so a
//! re-delivered event is a no-op; kept 400 days (TTL). The sweep reads a recent window.

use crate::error::{describe, is_transient};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use govtrail_core::activity::format_time;
use govtrail_core::lifecycle::LifecycleChange;
use govtrail_core::ports::{LifecycleStore, StoreError};
use std::collections::HashMap;
use tokio::runtime::Handle;

/// How long a lifecycle change is kept.
pub const RETENTION_DAYS: i64 = 400;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn backend<E>(
    what: &str,
    e: &aws_sdk_dynamodb::error::SdkError<E, crate::error::HttpResponse>,
) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error,
{
    StoreError::Backend {
        what: what.to_string(),
        message: describe(e),
        transient: is_transient(e),
    }
}

pub struct DynamoLifecycleStore {
    client: Client,
    table: String,
    rt: Handle,
}

impl DynamoLifecycleStore {
    pub fn new(client: Client, table: String, rt: Handle) -> Self {
        DynamoLifecycleStore { client, table, rt }
    }

    /// The item of one change.
    pub fn item(c: &LifecycleChange) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let principal = c.event.principal();
        let body = c.encode()?;
        let expires = (c.at + Duration::days(RETENTION_DAYS)).timestamp();
        Ok(HashMap::from([
            ("k".to_string(), s(&format!("{principal}|{}", c.event_key))),
            ("principal".to_string(), s(principal)),
            ("event_key".to_string(), s(&c.event_key)),
            ("at".to_string(), s(&format_time(&c.at))),
            ("change".to_string(), s(&body)),
            (
                "expires_at".to_string(),
                AttributeValue::N(expires.to_string()),
            ),
        ]))
    }

    /// Async form of `record_changes`.
    pub async fn put_changes(&self, changes: &[LifecycleChange]) -> Result<u64, StoreError> {
        let mut new = 0;
        for c in changes {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(Self::item(c)?))
                .condition_expression("attribute_not_exists(k)")
                .send()
                .await;
            match put {
                Ok(_) => new += 1,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(backend("writing a lifecycle change", &e)),
            }
        }
        Ok(new)
    }

    /// Async form of `changes_since`.
    pub async fn read_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<LifecycleChange>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut req = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start.take());
            if let Some(t) = since {
                req = req
                    .filter_expression("#at >= :since")
                    .expression_attribute_names("#at", "at")
                    .expression_attribute_values(":since", s(&format_time(&t)));
            }
            let page = req
                .send()
                .await
                .map_err(|e| backend("reading lifecycle changes", &e))?;
            for item in page.items() {
                let text = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                let (principal, event_key) = (text("principal"), text("event_key"));
                match item.get("change") {
                    Some(AttributeValue::S(body)) => {
                        out.push(LifecycleChange::decode(body, principal, event_key)?)
                    }
                    _ => {
                        return Err(StoreError::CorruptChange {
                            principal,
                            event_key,
                            reason: "no change attribute".to_string(),
                        })
                    }
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        govtrail_core::memory_store::sort_changes(&mut out);
        Ok(out)
    }
}

impl LifecycleStore for DynamoLifecycleStore {
    fn record_changes(&mut self, changes: &[LifecycleChange]) -> Result<u64, StoreError> {
        self.rt.block_on(self.put_changes(changes))
    }

    fn changes_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<LifecycleChange>, StoreError> {
        self.rt.block_on(self.read_since(since))
    }
}
