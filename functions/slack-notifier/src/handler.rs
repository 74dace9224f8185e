//! The slack-notifier handler: each SNS alert becomes one Block Kit message on Slack.
//! Transient failures fail the invocation (Lambda retries the async event); messages that are
//! not govtrail alerts and messages Slack refuses are logged and dropped.

use aws_lambda_events::event::sns::SnsEvent;
use govtrail_aws::config::{required, ConfigError};
use govtrail_aws::slack::{block_kit, parse_alert, SlackClient, SlackError};
use lambda_runtime::LambdaEvent;

/// Settings from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub secret_arn: String,
    pub default_channel: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Config {
            secret_arn: required("GOVTRAIL_SLACK_SECRET_ARN")?,
            default_channel: required("GOVTRAIL_SLACK_DEFAULT_CHANNEL")?,
        })
    }
}

/// What the handler holds across invocations.
#[derive(Debug)]
pub struct Notifier {
    pub slack: SlackClient,
    pub default_channel: String,
}

/// What one invocation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub posted: usize,
    /// Not govtrail alerts.
    pub skipped: usize,
    /// Refused by Slack for good (a 4xx other than 429).
    pub rejected: usize,
}

/// A delivery worth retrying failed: the invocation fails so Lambda tries it again.
#[derive(Debug, thiserror::Error)]
#[error("SNS message {message_id}: {detail}")]
pub struct HandlerError {
    pub message_id: String,
    detail: String,
    #[source]
    pub source: SlackError,
}

/// An error and its causes on one line (the webhook URL is in none of them).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

pub async fn handle(
    event: LambdaEvent<SnsEvent>,
    notifier: &Notifier,
) -> Result<Outcome, HandlerError> {
    let mut outcome = Outcome::default();
    let mut retry = None;
    for record in &event.payload.records {
        let message_id = record.sns.message_id.as_str();
        let alert = match parse_alert(&record.sns.message) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(message_id, reason = %e, "skipping an SNS message that is not a govtrail alert");
                outcome.skipped += 1;
                continue;
            }
        };
        let payload = block_kit(alert.kind, &alert.finding, &notifier.default_channel);
        let channel = payload["channel"].as_str().unwrap_or("");
        let finding = alert.finding.id.as_str();
        match notifier.slack.post(&payload).await {
            Ok(()) => {
                tracing::info!(message_id, finding, channel, "posted to Slack");
                outcome.posted += 1;
            }
            // An unreadable secret fails every alert: fail the invocation so it shows.
            Err(e) if e.is_transient() || matches!(e, SlackError::Secret(_)) => {
                let detail = chain(&e);
                tracing::error!(message_id, finding, error = %detail, "Slack delivery failed; the invocation will be retried");
                retry.get_or_insert(HandlerError {
                    message_id: message_id.to_string(),
                    detail,
                    source: e,
                });
            }
            Err(e) => {
                tracing::error!(message_id, finding, channel, error = %chain(&e), "Slack refused the alert; not retrying");
                outcome.rejected += 1;
            }
        }
    }
    match retry {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

impl HandlerError {
    /// The failure and its causes.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}
