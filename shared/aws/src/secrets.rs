//! The Slack webhook URL from Secrets Manager: read once per TTL, kept in a type that never
//! prints it (logs, errors, `Debug` and panics all see `<redacted>`).

use crate::error::{describe, is_transient};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::Client;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A webhook URL. The URL is the credential (whoever has it can post), so it is shown to
/// nothing but the HTTP client: `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(Arc<str>);

impl WebhookUrl {
    /// Parses a secret string: the bare URL, or JSON `{"webhook_url": "..."}`. Only `https`
    /// URLs are accepted, and `http` to the loopback interface (local test servers).
    /// `None` says nothing about the value on purpose (no parser message that could quote it).
    pub fn parse(secret: &str) -> Option<WebhookUrl> {
        let secret = secret.trim();
        let raw = if secret.starts_with('{') {
            #[derive(serde::Deserialize)]
            struct Wrapped {
                webhook_url: String,
            }
            serde_json::from_str::<Wrapped>(secret).ok()?.webhook_url
        } else {
            secret.to_string()
        };
        let raw = raw.trim();
        let url = reqwest::Url::parse(raw).ok()?;
        let loopback = matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        );
        let allowed = match url.scheme() {
            "https" => url.host_str().is_some_and(|h| !h.is_empty()),
            "http" => loopback,
            _ => false,
        };
        (allowed && url.username().is_empty() && url.password().is_none())
            .then(|| WebhookUrl(Arc::from(raw)))
    }

    /// The URL itself, for the HTTP request and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the URL in `text` (a response body that echoes the request).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&*self.0, "<redacted>")
        }
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why the webhook URL could not be had. Names the secret, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager failed (`transient`: throttling, 5xx, no connection).
    #[error("reading secret {arn}: {message}")]
    Unavailable {
        arn: String,
        message: String,
        transient: bool,
    },
    #[error("secret {arn} has no SecretString (binary secrets are not supported)")]
    NotAString { arn: String },
    #[error(
        "secret {arn} holds neither an https webhook URL nor JSON {{\"webhook_url\": \"https://...\"}}"
    )]
    Malformed { arn: String },
}

impl SecretError {
    /// Worth retrying later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SecretError::Unavailable {
                transient: true,
                ..
            }
        )
    }
}

/// Reads the webhook URL from one secret and keeps it in memory for a TTL, so a warm Lambda
/// reads Secrets Manager at most once per TTL and a rotated URL is picked up within it.
pub struct SlackWebhook {
    client: Client,
    arn: String,
    ttl: Duration,
    cached: Mutex<Option<(WebhookUrl, Instant)>>,
    /// How many times Secrets Manager was read (tests and metrics).
    pub reads: AtomicU64,
}

impl fmt::Debug for SlackWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackWebhook")
            .field("arn", &self.arn)
            .field("ttl", &self.ttl)
            .field("url", &"<redacted>")
            .finish()
    }
}

impl SlackWebhook {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

    pub fn new(client: Client, arn: impl Into<String>) -> Self {
        SlackWebhook {
            client,
            arn: arn.into(),
            ttl: Self::DEFAULT_TTL,
            cached: Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The URL: from the cache within the TTL, else from Secrets Manager.
    pub async fn url(&self) -> Result<WebhookUrl, SecretError> {
        if let Some((url, at)) = &*self.lock() {
            if at.elapsed() < self.ttl {
                return Ok(url.clone());
            }
        }
        let url = self.read().await?;
        *self.lock() = Some((url.clone(), Instant::now()));
        Ok(url)
    }

    /// Forgets the cached URL (Slack said the webhook is gone: it may have been rotated).
    pub fn invalidate(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(WebhookUrl, Instant)>> {
        // The guarded value is replaced whole, so a poisoned lock still holds a valid one.
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn read(&self) -> Result<WebhookUrl, SecretError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| SecretError::Unavailable {
                arn: self.arn.clone(),
                message: describe(&e),
                // Secrets Manager's own 5xx code is not in the shared list.
                transient: is_transient(&e)
                    || e.code().is_some_and(|c| c == "InternalServiceError"),
            })?;
        let secret = out.secret_string().ok_or_else(|| SecretError::NotAString {
            arn: self.arn.clone(),
        })?;
        WebhookUrl::parse(secret).ok_or_else(|| SecretError::Malformed {
            arn: self.arn.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const URL: &str = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX";

    #[test]
    fn parses_a_bare_url_and_json_and_never_prints_it() {
        let bare = WebhookUrl::parse(&format!("  {URL}\n")).unwrap();
        let json = WebhookUrl::parse(&format!(r#"{{"webhook_url": "{URL}"}}"#)).unwrap();
        assert_eq!(bare.expose(), URL);
        assert_eq!(bare, json);
        assert_eq!(format!("{bare}"), "<redacted>");
        assert_eq!(format!("{bare:?}"), "WebhookUrl(<redacted>)");
        assert_eq!(format!("{:?}", Some(&json)), "Some(WebhookUrl(<redacted>))");
        assert_eq!(
            bare.scrub(&format!("posted to {URL}!")),
            "posted to <redacted>!"
        );
    }

    #[test]
    fn refuses_what_is_not_a_safe_webhook_url() {
        for s in [
            "",
            "not a url",
            "http://hooks.slack.com/services/T/B/X",
            "ftp://127.0.0.1/x",
            "https://user:pw@hooks.slack.com/services/T/B/X",
            r#"{"url": "https://hooks.slack.com/services/T/B/X"}"#,
            r#"{"webhook_url": 3}"#,
        ] {
            assert!(WebhookUrl::parse(s).is_none(), "{s}");
        }
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/hook").is_some());
    }

    #[test]
    fn errors_name_the_secret_only() {
        let e = SecretError::Malformed {
            arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack".into(),
        };
        assert_eq!(
            e.to_string(),
            "secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack holds neither \
             an https webhook URL nor JSON {\"webhook_url\": \"https://...\"}"
        );
        assert!(!e.is_transient());
    }
}
