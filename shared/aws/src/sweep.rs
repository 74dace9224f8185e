//! The scheduled inventory sweep on AWS: discovery from IAM, governance records from the
//! identities table, reconciliation in the core, findings in DynamoDB and alerts on SNS.

use crate::alerts::SnsAlertSink;
use crate::config::{self, ConfigError};
use crate::discovery::{iam_client, Discovery, DiscoveryError, DiscoveryOptions, DiscoveryStats};
use crate::findings::DynamoFindingStore;
use crate::identities::load_inventory;
use crate::lifecycle::DynamoLifecycleStore;
use crate::tables::TableNames;
use chrono::{DateTime, Duration, Utc};
use govtrail_core::lifecycle::{merge_into, users_changed_since, KnownState};
use govtrail_core::pipeline::PipelineError;
use govtrail_core::ports::AlertSink;
use govtrail_core::sweep::{self, SweepReport};
use serde::Serialize;
use tokio::runtime::Handle;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("loading governance records: {0}")]
    Inventory(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("worker thread failed: {0}")]
    Join(String),
}

impl SweepError {
    /// Retrying later may help (throttling, timeouts, an unreachable service).
    pub fn is_transient(&self) -> bool {
        match self {
            SweepError::Discovery(e) => e.transient,
            SweepError::Pipeline(PipelineError::Store(e)) => e.is_transient(),
            SweepError::Pipeline(PipelineError::Lookup(e)) => e.transient,
            SweepError::Pipeline(PipelineError::Alert(_)) | SweepError::Join(_) => true,
            SweepError::Config(_) | SweepError::Inventory(_) => false,
        }
    }
}

/// What one sweep saw and did: the JSON the function returns and logs.
#[derive(Debug, Clone, Serialize)]
pub struct SweepOutput {
    #[serde(flatten)]
    pub report: SweepReport,
    pub discovery: DiscoveryStats,
    /// DynamoDB requests the findings store made (reads: queries, batch and single reads;
    /// writes: transactions).
    pub findings_reads: u64,
    pub findings_writes: u64,
}

/// Where the sweep reads and writes.
#[derive(Debug, Clone)]
pub struct SweepTarget {
    pub tables: TableNames,
    /// Alerts on new and reopened findings; none: findings are only stored.
    pub topic_arn: Option<String>,
}

impl SweepTarget {
    /// As the function's environment describes it (see docs/aws-design.md).
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(SweepTarget {
            tables: TableNames::from_env()?,
            topic_arn: Some(config::required("GOVTRAIL_ALERT_TOPIC_ARN")?),
        })
    }
}

/// Discovery options from the environment: `GOVTRAIL_REPORT_WAIT_SECONDS` (120),
/// `GOVTRAIL_ACCOUNT_ID` (for an account with no identities to name it).
pub fn options_from_env() -> Result<DiscoveryOptions, ConfigError> {
    Ok(DiscoveryOptions {
        report_wait: std::time::Duration::from_secs(config::number(
            "GOVTRAIL_REPORT_WAIT_SECONDS",
            120,
        )?),
        account_id: config::optional("GOVTRAIL_ACCOUNT_ID"),
        ..DiscoveryOptions::default()
    })
}

/// Lifecycle changes older than this are reflected in IAM's own listing and report (AWS
/// regenerates the credential report when it is older than four hours).
pub const LIFECYCLE_WINDOW_HOURS: i64 = 24;

/// One sweep: discover, load the records, reconcile at `now`, store, alert, resolve.
pub async fn run(
    sdk: &aws_config::SdkConfig,
    target: &SweepTarget,
    opts: &DiscoveryOptions,
    now: DateTime<Utc>,
) -> Result<SweepOutput, SweepError> {
    let discovery = Discovery::new(iam_client(sdk));
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let inventory = load_inventory(&dynamo, &target.tables.identities)
        .await
        .map_err(SweepError::Inventory)?;
    // What the event path saw lately (keys created, re-statused, deleted): those users'
    // keys are listed whatever the (up to four hours old) credential report says, and the
    // changes are merged where the report is older than them.
    let lifecycle = DynamoLifecycleStore::new(
        dynamo.clone(),
        target.tables.lifecycle.clone(),
        Handle::current(),
    );
    let window = Utc::now() - Duration::hours(LIFECYCLE_WINDOW_HOURS);
    let changes = lifecycle
        .read_since(Some(window))
        .await
        .map_err(|e| SweepError::Pipeline(PipelineError::Store(e)))?;
    let state = KnownState::fold(changes.iter());
    let mut opts = opts.clone();
    opts.refresh_keys_for
        .extend(users_changed_since(&state, Some(window)));
    let listed_at = Utc::now();
    let (mut snapshot, stats) = discovery.discover(&opts).await?;
    merge_into(&mut snapshot, &state, listed_at);
    let sns = aws_sdk_sns::Client::new(sdk);
    let tables = target.tables.clone();
    let topic = target.topic_arn.clone();
    let rt = Handle::current();
    let (report, findings_reads, findings_writes) = tokio::task::spawn_blocking(move || {
        let mut store = DynamoFindingStore::new(dynamo, tables, rt.clone());
        let mut sink = topic.map(|t| SnsAlertSink::new(sns, t, rt));
        let result = sweep::reconcile(&snapshot, &inventory, now);
        let report = sweep::apply(
            &mut store,
            sink.as_mut().map(|s| s as &mut dyn AlertSink),
            &result,
            &inventory,
        );
        use std::sync::atomic::Ordering::Relaxed;
        report.map(|r| {
            (
                r,
                store.requests.reads.load(Relaxed),
                store.requests.writes.load(Relaxed),
            )
        })
    })
    .await
    .map_err(|e| SweepError::Join(e.to_string()))??;
    tracing::info!(
        account = %report.account_id,
        identities = report.counts.identities,
        keys = report.counts.keys,
        new = report.findings_new,
        reopened = report.findings_reopened,
        resolved = report.resolved.len(),
        alerts = report.alerts_sent,
        iam_calls = stats.total_calls,
        "sweep done"
    );
    Ok(SweepOutput {
        report,
        discovery: stats,
        findings_reads,
        findings_writes,
    })
}
