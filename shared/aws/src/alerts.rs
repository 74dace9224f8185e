//! `SnsAlertSink`: one message per new, escalated or reopened finding (never per repeat), with
//! message attributes subscribers can filter on.

use crate::error::describe;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use govtrail_core::finding::Finding;
use govtrail_core::ports::{AlertError, AlertKind, AlertSink};
use tokio::runtime::Handle;

pub struct SnsAlertSink {
    client: Client,
    topic_arn: String,
    rt: Handle,
    pub published: u64,
}

/// One line a person can read in a notification list.
pub fn summary_line(kind: AlertKind, f: &Finding) -> String {
    let what = match kind {
        AlertKind::New => "new",
        AlertKind::Escalated => "escalated",
        AlertKind::Reopened => "reopened",
    };
    let why = f.evidence.get("why").map(String::as_str).unwrap_or("");
    format!(
        "[{}] {} {}: {} — {} (owner {}, {}x)",
        f.severity.as_str(),
        what,
        f.rule.as_str(),
        f.principal,
        why,
        f.owner.as_deref().unwrap_or("none"),
        f.count
    )
}

/// The message body: kind, summary line and the whole finding.
pub fn message_body(kind: AlertKind, f: &Finding) -> Result<String, serde_json::Error> {
    serde_json::to_string(&serde_json::json!({
        "kind": kind.as_str(),
        "summary": summary_line(kind, f),
        "finding": f,
    }))
}

fn subject(f: &Finding) -> String {
    // SNS subjects: at most 100 printable ASCII characters, no line breaks.
    let raw = format!(
        "govtrail: {} {} {}",
        f.severity.as_str(),
        f.rule.as_str(),
        f.principal
    );
    raw.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect()
}

fn attr(v: &str) -> Result<MessageAttributeValue, AlertError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(if v.is_empty() { "none" } else { v })
        .build()
        .map_err(|e| AlertError(e.to_string()))
}

impl SnsAlertSink {
    pub fn new(client: Client, topic_arn: String, rt: Handle) -> Self {
        SnsAlertSink {
            client,
            topic_arn,
            rt,
            published: 0,
        }
    }
}

impl AlertSink for SnsAlertSink {
    fn send(&mut self, kind: AlertKind, f: &Finding) -> Result<(), AlertError> {
        let body = message_body(kind, f).map_err(|e| AlertError(e.to_string()))?;
        let req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(f))
            .message(body)
            .message_attributes("severity", attr(f.severity.as_str())?)
            .message_attributes("rule", attr(f.rule.as_str())?)
            .message_attributes("owner", attr(f.owner.as_deref().unwrap_or(""))?)
            .message_attributes("account", attr(f.account_id.as_deref().unwrap_or(""))?)
            .message_attributes("kind", attr(kind.as_str())?);
        self.rt
            .block_on(req.send())
            .map_err(|e| AlertError(describe(&e)))?;
        self.published += 1;
        Ok(())
    }
}
