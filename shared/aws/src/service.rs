//! What the Lambdas do, testable without the Lambda runtime: an EventBridge event or an SQS
//! batch of log-file notifications in, the core pipeline over DynamoDB and SNS, and a result
//! that tells Lambda what to retry.

use crate::alerts::SnsAlertSink;
use crate::config::{self, ConfigError};
use crate::error::{describe, is_transient};
use crate::findings::DynamoFindingStore;
use crate::identities::DynamoGovernanceSource;
use crate::lifecycle::DynamoLifecycleStore;
use crate::notifications::{parse_message, Message, ObjectRef};
use crate::tables::TableNames;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::Utc;
use govtrail_core::inventory::Settings;
use govtrail_core::pipeline::{PipelineError, Summary};
use govtrail_core::Pipeline;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// Where malformed input is kept (never silently dropped).
#[derive(Debug, Clone)]
pub struct Quarantine {
    pub bucket: String,
    pub prefix: String,
}

pub struct Service {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub tables: TableNames,
    pub topic_arn: String,
    pub source: Arc<DynamoGovernanceSource>,
    pub quarantine: Option<Quarantine>,
    ttl: Duration,
    settings: Mutex<Option<(Instant, Arc<Settings>)>>,
    rt: Handle,
    /// DynamoDB requests made for findings (reads, transactions), for cost per event.
    pub finding_reads: std::sync::atomic::AtomicU64,
    pub finding_writes: std::sync::atomic::AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("reading s3://{bucket}/{key}: {message}")]
    S3 {
        bucket: String,
        key: String,
        message: String,
        transient: bool,
    },
    #[error("{name} is unreadable: {reason}")]
    Corrupt { name: String, reason: String },
    #[error("worker thread failed: {0}")]
    Join(String),
}

impl ProcessError {
    /// Retrying may help (throttling, timeouts, an unreachable service).
    pub fn is_transient(&self) -> bool {
        match self {
            ProcessError::Pipeline(PipelineError::Store(e)) => e.is_transient(),
            ProcessError::Pipeline(PipelineError::Lookup(e)) => e.transient,
            ProcessError::Pipeline(PipelineError::Alert(_)) => true,
            ProcessError::S3 { transient, .. } => *transient,
            ProcessError::Corrupt { .. } => false,
            ProcessError::Join(_) => true,
        }
    }
}

impl Service {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        tables: TableNames,
        topic_arn: String,
        ttl: Duration,
        quarantine: Option<Quarantine>,
        rt: Handle,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let source = Arc::new(DynamoGovernanceSource::new(
            dynamo.clone(),
            &tables,
            ttl,
            rt.clone(),
        ));
        Service {
            dynamo,
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .force_path_style(true)
                    .build(),
            ),
            sns: aws_sdk_sns::Client::new(sdk),
            tables,
            topic_arn,
            source,
            quarantine,
            ttl,
            settings: Mutex::new(None),
            rt,
            finding_reads: Default::default(),
            finding_writes: Default::default(),
        }
    }

    /// The service as the functions' environment describes it (see docs/aws-design.md).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let tables = TableNames::from_env()?;
        let topic = config::required("GOVTRAIL_ALERT_TOPIC_ARN")?;
        let ttl = Duration::from_secs(config::number("GOVTRAIL_CACHE_TTL_SECONDS", 300)?);
        let quarantine = config::optional("GOVTRAIL_QUARANTINE_BUCKET").map(|bucket| Quarantine {
            bucket,
            prefix: config::optional("GOVTRAIL_QUARANTINE_PREFIX")
                .unwrap_or_else(|| "govtrail-quarantine/".to_string()),
        });
        let sdk = config::sdk_config(None).await;
        Ok(Service::new(
            &sdk,
            tables,
            topic,
            ttl,
            quarantine,
            Handle::current(),
        ))
    }

    fn settings(&self) -> Result<Arc<Settings>, PipelineError> {
        let mut guard = self.settings.lock().map_err(|_| {
            PipelineError::Lookup(govtrail_core::rules::LookupError {
                message: "settings cache poisoned".into(),
                transient: false,
                source: None,
            })
        })?;
        if let Some((at, s)) = guard.as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(s.clone());
            }
        }
        let s = Arc::new(self.source.load_settings()?);
        *guard = Some((Instant::now(), s.clone()));
        Ok(s)
    }

    /// Runs the pipeline over one stream on the calling (blocking) thread; everything read is
    /// durable when it returns Ok.
    pub fn evaluate(&self, name: &str, reader: impl Read) -> Result<Summary, PipelineError> {
        let settings = self.settings()?;
        let mut store =
            DynamoFindingStore::new(self.dynamo.clone(), self.tables.clone(), self.rt.clone());
        let mut sink = SnsAlertSink::new(self.sns.clone(), self.topic_arn.clone(), self.rt.clone());
        let mut lifecycle = DynamoLifecycleStore::new(
            self.dynamo.clone(),
            self.tables.lifecycle.clone(),
            self.rt.clone(),
        );
        let result = {
            let mut p = Pipeline::new(
                self.source.as_ref(),
                &settings,
                &mut store,
                Some(&mut sink),
                Utc::now(),
            )
            .with_lifecycle(&mut lifecycle);
            p.process_stream(name, reader).and_then(|()| p.finish())
        };
        use std::sync::atomic::Ordering::Relaxed;
        self.finding_reads
            .fetch_add(store.requests.reads.load(Relaxed), Relaxed);
        self.finding_writes
            .fetch_add(store.requests.writes.load(Relaxed), Relaxed);
        result
    }

    /// Keeps malformed input: in the quarantine bucket when configured, else in the log.
    pub async fn quarantine(&self, name: &str, summary: &Summary, raw: Option<&[u8]>) {
        let record = serde_json::json!({
            "source": name,
            "input_errors": summary.input_errors,
            "raw": raw.map(|r| String::from_utf8_lossy(r).into_owned()),
            "at": govtrail_core::activity::format_time(&Utc::now()),
        });
        let Some(q) = &self.quarantine else {
            tracing::error!(source = %name, quarantined = %record, "malformed input (no quarantine bucket configured)");
            return;
        };
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let key = format!("{}{}/{safe}.json", q.prefix, Utc::now().format("%Y/%m/%d"));
        let put = self
            .s3
            .put_object()
            .bucket(&q.bucket)
            .key(&key)
            .content_type("application/json")
            .body(record.to_string().into_bytes().into())
            .send()
            .await;
        match put {
            Ok(_) => tracing::warn!(source = %name, key = %key, "malformed input quarantined"),
            Err(e) => {
                tracing::error!(source = %name, quarantined = %record, error = %describe(&e), "quarantine write failed; input kept in this log")
            }
        }
    }
}

/// One EventBridge event ("AWS API Call / Console Sign In / Service Event via CloudTrail").
/// An error means: retry (transient) or the event is kept in the DLQ by Lambda.
pub async fn handle_eventbridge(
    service: Arc<Service>,
    event: serde_json::Value,
) -> Result<Summary, ProcessError> {
    let id = event
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_string();
    let name = format!("eventbridge:{id}");
    let bytes = serde_json::to_vec(&event).map_err(|e| ProcessError::Corrupt {
        name: name.clone(),
        reason: e.to_string(),
    })?;
    let (svc, n, b) = (service.clone(), name.clone(), bytes.clone());
    let summary = tokio::task::spawn_blocking(move || svc.evaluate(&n, std::io::Cursor::new(b)))
        .await
        .map_err(|e| ProcessError::Join(e.to_string()))??;
    if !summary.input_errors.is_empty() {
        service.quarantine(&name, &summary, Some(&bytes)).await;
    }
    tracing::info!(event = %name, evaluated = summary.evaluated, new = summary.findings_new, updated = summary.findings_updated, duplicates = summary.duplicate_hits, alerts = summary.alerts_sent, "event evaluated");
    Ok(summary)
}

/// Reads one log object from S3, streaming and decompressing it, and evaluates every record.
pub async fn process_object(
    service: Arc<Service>,
    obj: &ObjectRef,
) -> Result<Summary, ProcessError> {
    let name = format!("s3://{}/{}", obj.bucket, obj.key);
    let resp = service
        .s3
        .get_object()
        .bucket(&obj.bucket)
        .key(&obj.key)
        .send()
        .await
        .map_err(|e| ProcessError::S3 {
            bucket: obj.bucket.clone(),
            key: obj.key.clone(),
            message: describe(&e),
            transient: is_transient(&e),
        })?;
    let body = resp.body.into_async_read();
    let (svc, n) = (service.clone(), name.clone());
    let handle = Handle::current();
    let summary = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new_with_handle(body, handle);
        let reader = govtrail_core::input::decoded(bridge).map_err(|e| {
            PipelineError::Store(govtrail_core::ports::StoreError::Backend {
                what: "reading the object".into(),
                message: e.to_string(),
                transient: true,
            })
        })?;
        svc.evaluate(&n, reader)
    })
    .await
    .map_err(|e| ProcessError::Join(e.to_string()))??;
    // A stream that could not be read to its end (truncated gzip, a dropped connection) is
    // this message's failure: the object is read again on retry, then kept in the DLQ.
    if let Some(e) = summary
        .input_errors
        .iter()
        .find(|e| e.reason.starts_with("read error"))
    {
        return Err(ProcessError::Corrupt {
            name,
            reason: e.reason.clone(),
        });
    }
    if !summary.input_errors.is_empty() {
        service.quarantine(&name, &summary, None).await;
    }
    Ok(summary)
}

/// An SQS batch of log-file notifications: only the messages whose objects failed are
/// reported back (ReportBatchItemFailures), so only those are retried.
pub async fn handle_sqs(service: Arc<Service>, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for msg in event.records {
        let id = msg.message_id.clone().unwrap_or_default();
        let body = msg.body.clone().unwrap_or_default();
        let parsed = match parse_message(&body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "not a log-file notification");
                let summary = Summary {
                    input_errors: vec![govtrail_core::InputError {
                        path: format!("sqs:{id}"),
                        record_index: None,
                        byte_offset: None,
                        reason: e.to_string(),
                    }],
                    ..Summary::default()
                };
                service
                    .quarantine(&format!("sqs-{id}"), &summary, Some(body.as_bytes()))
                    .await;
                continue;
            }
        };
        let objects = match parsed {
            Message::Skip(reason) => {
                tracing::info!(message_id = %id, reason, "message skipped");
                continue;
            }
            Message::Objects { objects, skipped } => {
                for (key, reason) in skipped {
                    tracing::info!(message_id = %id, key = %key, reason, "object skipped");
                }
                objects
            }
        };
        for obj in &objects {
            match process_object(service.clone(), obj).await {
                Ok(s) => {
                    tracing::info!(message_id = %id, bucket = %obj.bucket, key = %obj.key, records = s.records, evaluated = s.evaluated, new = s.findings_new, updated = s.findings_updated, duplicates = s.duplicate_hits, "log file evaluated")
                }
                Err(e) => {
                    tracing::error!(message_id = %id, bucket = %obj.bucket, key = %obj.key, transient = e.is_transient(), error = %e, "log file failed");
                    let mut f = BatchItemFailure::default();
                    f.item_identifier = id.clone();
                    failures.push(f);
                    break;
                }
            }
        }
    }
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures;
    resp
}
