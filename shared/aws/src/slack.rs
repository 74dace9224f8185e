//! Slack delivery of govtrail alerts: the SNS alert body read back, a Block Kit message built
//! from the finding (every CloudTrail value escaped), the channel chosen from the finding's
//! contact, and a webhook client that retries only what is worth retrying.

use crate::alerts::summary_line;
use crate::secrets::{SecretError, SlackWebhook, WebhookUrl};
use govtrail_core::activity::format_time;
use govtrail_core::finding::Finding;
use govtrail_core::ports::AlertKind;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use std::time::Duration;

/// One alert as `alerts::message_body` wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub kind: AlertKind,
    pub summary: String,
    pub finding: Finding,
}

/// An SNS message that is not a govtrail alert (someone else published to the topic).
#[derive(Debug, thiserror::Error)]
#[error("not a govtrail alert: {reason}")]
pub struct NotAnAlert {
    pub reason: String,
}

/// Reads an SNS message body `{"kind", "summary", "finding"}`.
pub fn parse_alert(body: &str) -> Result<Alert, NotAnAlert> {
    #[derive(serde::Deserialize)]
    struct Body {
        kind: String,
        #[serde(default)]
        summary: String,
        finding: Finding,
    }
    let b: Body = serde_json::from_str(body).map_err(|e| NotAnAlert {
        reason: e.to_string(),
    })?;
    let kind = match b.kind.as_str() {
        "new" => AlertKind::New,
        "escalated" => AlertKind::Escalated,
        "reopened" => AlertKind::Reopened,
        other => {
            return Err(NotAnAlert {
                reason: format!("unknown kind '{}'", truncate(other, 40)),
            })
        }
    };
    Ok(Alert {
        kind,
        summary: b.summary,
        finding: b.finding,
    })
}

/// Escapes the three characters Slack's mrkdwn treats as control characters (so CloudTrail
/// values cannot make links or `<!channel>` mentions) and turns line breaks and other control
/// characters into spaces (so a value cannot fake a field label on a line of its own).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with `…` when cut (Slack refuses over-long block texts).
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// Longest CloudTrail value shown in one field, before escaping. Escaping at most quintuples
/// it, and a field holds at most two values: under Slack's 2,000 characters per field.
const VALUE_MAX: usize = 180;
const WHY_MAX: usize = 360;

fn value(v: Option<&str>, absent: &str) -> String {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => escape(&truncate(v, VALUE_MAX)),
        None => absent.to_string(),
    }
}

/// The Slack channel a contact names: `slack:#channel`, `slack:channel` or `#channel`
/// (Slack's channel-name characters only); anything else (an e-mail address) names none.
pub fn slack_channel(contact: &str) -> Option<String> {
    let c = contact.trim();
    let name = match c.strip_prefix("slack:") {
        Some(rest) => {
            let rest = rest.trim();
            rest.strip_prefix('#').unwrap_or(rest)
        }
        None => c.strip_prefix('#')?,
    };
    let valid = !name.is_empty()
        && name.chars().count() <= 80
        && name
            .chars()
            .all(|ch| ch.is_alphanumeric() || ch == '-' || ch == '_');
    valid.then(|| format!("#{}", name.to_lowercase()))
}

/// Where a finding's alert goes: its contact's channel, else the default one.
pub fn channel_for(finding: &Finding, default_channel: &str) -> String {
    finding
        .contact
        .as_deref()
        .and_then(slack_channel)
        .unwrap_or_else(|| default_channel.to_string())
}

/// Characters left as they are in a URL fragment component (RFC 3986 unreserved).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The CloudTrail console page of one event; `None` when the region is not a region name
/// (it becomes part of the host name).
pub fn console_event_url(region: &str, event_id: &str) -> Option<String> {
    let region_ok = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-');
    if !region_ok || event_id.trim().is_empty() {
        return None;
    }
    Some(format!(
        "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events/{}",
        utf8_percent_encode(event_id.trim(), COMPONENT)
    ))
}

fn severity_emoji(f: &Finding) -> &'static str {
    use govtrail_core::Severity;
    match f.severity {
        Severity::Critical => ":rotating_light:",
        Severity::High => ":red_circle:",
        Severity::Medium => ":large_orange_circle:",
        Severity::Low => ":large_yellow_circle:",
        Severity::Info => ":information_source:",
    }
}

/// The Slack message for one alert: Block Kit blocks, the summary line as the notification
/// fallback, and the channel from the finding's contact (else `default_channel`).
pub fn block_kit(kind: AlertKind, f: &Finding, default_channel: &str) -> Value {
    let who = format!(
        "*Who*\n{} ({})",
        value(Some(&f.principal), "unknown"),
        f.actor_class.as_str()
    );
    let what = match f
        .resource
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(_) => format!(
            "*What*\n{} on {}",
            value(f.action.as_deref(), "unknown action"),
            value(f.resource.as_deref(), "")
        ),
        None => format!("*What*\n{}", value(f.action.as_deref(), "unknown action")),
    };
    let where_ = format!(
        "*Where*\naccount {}, {}",
        value(f.account_id.as_deref(), "unknown"),
        value(f.region.as_deref(), "unknown region")
    );
    let why = match f
        .evidence
        .get("why")
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
    {
        Some(w) => escape(&truncate(w, WHY_MAX)),
        None => "not recorded".to_string(),
    };
    let owner = match f
        .contact
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => format!(
            "*Owner*\n{} ({})",
            value(f.owner.as_deref(), "none"),
            escape(&truncate(c, VALUE_MAX))
        ),
        None => format!("*Owner*\n{}", value(f.owner.as_deref(), "none")),
    };
    let seen = if f.count == 1 {
        format!("*Seen*\nonce, at {}", format_time(&f.first_seen))
    } else {
        format!(
            "*Seen*\n{} times, first {}, last {}",
            f.count,
            format_time(&f.first_seen),
            format_time(&f.last_seen)
        )
    };
    let field = |text: String| json!({"type": "mrkdwn", "text": text});

    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": format!(
                    "{} {} {} ({})",
                    severity_emoji(f),
                    f.severity.as_str().to_uppercase(),
                    f.rule.as_str(),
                    kind.as_str()
                ),
                "emoji": true
            }
        }),
        json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": escape(f.rule.description())}
        }),
        json!({
            "type": "section",
            "fields": [
                field(who),
                field(what),
                field(where_),
                field(owner),
                field(seen),
            ]
        }),
        json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*Why it is outside the path*\n{why}")}
        }),
    ];
    let link = f
        .event_ids
        .first()
        .zip(f.region.as_deref())
        .and_then(|(id, region)| console_event_url(region.trim(), id));
    if let Some(url) = link {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("<{url}|Open the event in the CloudTrail console>")}
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!("govtrail finding {} · status {}", escape(&f.id), f.status.as_str())
        }]
    }));
    json!({
        "channel": channel_for(f, default_channel),
        "text": escape(&summary_line(kind, f)),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// How hard the client tries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt (doubles each time, with jitter).
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
    /// One request, connecting included.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with "equal jitter": between half and all of base·2^(attempt-1).
    fn backoff(&self, attempt: u32) -> Duration {
        use std::hash::BuildHasher;
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        // A fresh RandomState is randomly keyed: good enough to spread retries out.
        let r = std::collections::hash_map::RandomState::new().hash_one(attempt);
        let frac = (r >> 11) as f64 / (1u64 << 53) as f64;
        exp / 2 + exp.mul_f64(frac / 2.0)
    }

    /// `Retry-After` in seconds, capped; `None` when absent or an HTTP date.
    fn retry_after(&self, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
        let secs: u64 = headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(Duration::from_secs(secs).min(self.max_retry_after))
    }
}

/// Why a message did not reach Slack. Never holds the webhook URL (the client's errors are
/// stripped of it, response bodies are scrubbed).
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A 4xx other than 429: the message or the webhook is wrong; retrying will not help.
    #[error("Slack rejected the message: HTTP {status} {body}")]
    Rejected { status: u16, body: String },
    /// 429 or 5xx on every attempt.
    #[error("Slack answered HTTP {status} to all {attempts} attempts")]
    Unavailable { status: u16, attempts: u32 },
    /// No answer (connection refused or reset, DNS, TLS, timeout) on the last attempt.
    #[error("could not reach Slack in {attempts} attempts")]
    Unreachable {
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP client could not be built or the request not formed.
    #[error("could not prepare the request to Slack")]
    Client {
        #[source]
        source: reqwest::Error,
    },
}

impl SlackError {
    /// Worth retrying later (the message was fine; Slack or the network was not).
    pub fn is_transient(&self) -> bool {
        match self {
            SlackError::Secret(e) => e.is_transient(),
            SlackError::Unavailable { .. } | SlackError::Unreachable { .. } => true,
            SlackError::Rejected { .. } | SlackError::Client { .. } => false,
        }
    }
}

/// Posts messages to the incoming webhook held in Secrets Manager.
#[derive(Debug)]
pub struct SlackClient {
    http: reqwest::Client,
    webhook: SlackWebhook,
    policy: RetryPolicy,
}

impl SlackClient {
    pub fn new(webhook: SlackWebhook) -> Result<Self, SlackError> {
        Self::with_policy(webhook, RetryPolicy::default())
    }

    pub fn with_policy(webhook: SlackWebhook, policy: RetryPolicy) -> Result<Self, SlackError> {
        let http = reqwest::Client::builder()
            .timeout(policy.request_timeout)
            .connect_timeout(policy.request_timeout.min(Duration::from_secs(5)))
            // A webhook does not redirect; following one could send the message elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("govtrail/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SlackError::Client {
                source: e.without_url(),
            })?;
        Ok(SlackClient {
            http,
            webhook,
            policy,
        })
    }

    pub fn webhook(&self) -> &SlackWebhook {
        &self.webhook
    }

    /// Posts one message to the webhook from Secrets Manager.
    pub async fn post(&self, payload: &Value) -> Result<(), SlackError> {
        let url = self.webhook.url().await?;
        let result = self.post_to(&url, payload).await;
        if let Err(SlackError::Rejected {
            status: 403 | 404 | 410,
            ..
        }) = &result
        {
            // The webhook was revoked or rotated: read the secret again next time.
            self.webhook.invalidate();
        }
        result
    }

    /// Posts one message: 429 waits for `Retry-After` (capped), 5xx and transport failures
    /// back off exponentially with jitter, another 4xx fails at once; at most
    /// `max_attempts` requests in all.
    pub async fn post_to(&self, url: &WebhookUrl, payload: &Value) -> Result<(), SlackError> {
        let max = self.policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self.http.post(url.expose()).json(payload).send().await;
            let (failure, wait) = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        return Ok(());
                    }
                    let code = status.as_u16();
                    if code != 429 && !status.is_server_error() {
                        let body = resp.text().await.unwrap_or_default();
                        return Err(SlackError::Rejected {
                            status: code,
                            body: escape(&truncate(url.scrub(body.trim()).as_str(), 200)),
                        });
                    }
                    let wait = self
                        .policy
                        .retry_after(resp.headers())
                        .unwrap_or_else(|| self.policy.backoff(attempt));
                    (
                        SlackError::Unavailable {
                            status: code,
                            attempts: attempt,
                        },
                        wait,
                    )
                }
                Err(e) => {
                    let e = e.without_url();
                    if e.is_builder() {
                        return Err(SlackError::Client { source: e });
                    }
                    (
                        SlackError::Unreachable {
                            attempts: attempt,
                            source: e,
                        },
                        self.policy.backoff(attempt),
                    )
                }
            };
            if attempt >= max {
                return Err(failure);
            }
            tracing::warn!(
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %failure,
                "Slack delivery failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use govtrail_core::rule_id::{RuleId, Severity};
    use govtrail_core::{ActorClass, Status};
    use std::collections::BTreeMap;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn finding() -> Finding {
        Finding {
            id: "0123456789abcdef0123456789abcdef".into(),
            rule: RuleId::parse("unregistered-identity").unwrap(),
            severity: Severity::High,
            principal: "arn:aws:iam::111122223333:user/<!channel>&co".into(),
            actor_class: ActorClass::Human,
            owner: None,
            contact: Some("slack: #Sec-Alerts".into()),
            action: Some("iam:CreateAccessKey".into()),
            resource: Some("arn:aws:iam::111122223333:user/x>y".into()),
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            first_seen: t("2026-11-29T14:10:00Z"),
            last_seen: t("2026-11-30T09:05:00Z"),
            count: 3,
            event_ids: vec!["ab/cd ef".into()],
            evidence: BTreeMap::from([("why".to_string(), "no record\nfor <you>".to_string())]),
            status: Status::Open,
            status_reason: None,
            status_until: None,
            status_at: None,
            suppression: None,
        }
    }

    #[test]
    fn escapes_control_characters() {
        assert_eq!(escape("a&b<c>d\ne"), "a&amp;b&lt;c&gt;d e");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn channels_come_from_slack_contacts_only() {
        assert_eq!(
            slack_channel("#platform-oncall").as_deref(),
            Some("#platform-oncall")
        );
        assert_eq!(
            slack_channel("slack:#Sec_Alerts").as_deref(),
            Some("#sec_alerts")
        );
        assert_eq!(slack_channel("slack:ops").as_deref(), Some("#ops"));
        assert_eq!(slack_channel("sre@example.com"), None);
        assert_eq!(slack_channel("#"), None);
        assert_eq!(slack_channel("#a b"), None);
        assert_eq!(slack_channel("#<!here>"), None);
    }

    #[test]
    fn console_links_encode_the_event_id_and_refuse_odd_regions() {
        assert_eq!(
            console_event_url("eu-west-1", "ab/cd ef").as_deref(),
            Some("https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/ab%2Fcd%20ef")
        );
        assert_eq!(console_event_url("evil.com/x", "id"), None);
        assert_eq!(console_event_url("eu-west-1", " "), None);
    }

    #[test]
    fn block_kit_escapes_every_cloudtrail_value() {
        let v = block_kit(AlertKind::Escalated, &finding(), "#govtrail");
        assert_eq!(v["channel"], "#sec-alerts");
        assert_eq!(
            v["blocks"][0]["text"]["text"],
            ":red_circle: HIGH unregistered-identity (escalated)"
        );
        let fields: Vec<&str> = v["blocks"][2]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "*Who*\narn:aws:iam::111122223333:user/&lt;!channel&gt;&amp;co (human)",
                "*What*\niam:CreateAccessKey on arn:aws:iam::111122223333:user/x&gt;y",
                "*Where*\naccount 111122223333, eu-west-1",
                "*Owner*\nnone (slack: #Sec-Alerts)",
                "*Seen*\n3 times, first 2026-11-29T14:10:00Z, last 2026-11-30T09:05:00Z",
            ]
        );
        assert_eq!(
            v["blocks"][3]["text"]["text"],
            "*Why it is outside the path*\nno record for &lt;you&gt;"
        );
        assert_eq!(
            v["blocks"][4]["text"]["text"],
            "<https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/ab%2Fcd%20ef|Open the event in the CloudTrail console>"
        );
        assert_eq!(
            v["text"],
            "[high] escalated unregistered-identity: arn:aws:iam::111122223333:user/&lt;!channel&gt;&amp;co — no record for &lt;you&gt; (owner none, 3x)"
        );
        // Nothing unescaped from CloudTrail anywhere in the message.
        let all = v.to_string();
        assert!(
            !all.contains("<!channel>") && !all.contains("<you>"),
            "{all}"
        );
    }

    #[test]
    fn parses_alert_bodies_and_refuses_others() {
        let f = finding();
        let body = crate::alerts::message_body(AlertKind::Reopened, &f).unwrap();
        let a = parse_alert(&body).unwrap();
        assert_eq!(a.kind, AlertKind::Reopened);
        assert_eq!(a.finding, f);
        assert_eq!(a.summary, summary_line(AlertKind::Reopened, &f));
        assert!(parse_alert("hello").is_err());
        assert!(parse_alert(r#"{"kind":"new","summary":"x"}"#).is_err());
        let e = parse_alert(&body.replace("\"reopened\"", "\"other\"")).unwrap_err();
        assert_eq!(e.to_string(), "not a govtrail alert: unknown kind 'other'");
    }

    #[test]
    fn retry_after_is_capped_and_backoff_grows_with_jitter() {
        let p = RetryPolicy::default();
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "1".parse().unwrap());
        assert_eq!(p.retry_after(&h), Some(Duration::from_secs(1)));
        h.insert(reqwest::header::RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(p.retry_after(&h), Some(Duration::from_secs(30)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(p.retry_after(&h), None);
        for attempt in 1..=6 {
            let full = p
                .base_delay
                .saturating_mul(1 << (attempt - 1))
                .min(p.max_delay);
            let d = p.backoff(attempt);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
    }
}
