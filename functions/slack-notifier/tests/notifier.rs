//! The Slack path end to end: findings the core pipeline made from the example CloudTrail
//! logs, the Block Kit they become, a scripted webhook on 127.0.0.1 that records what it is
//! sent, and the webhook URL in moto's Secrets Manager (`GOVTRAIL_TEST_AWS_ENDPOINT`, started
//! by scripts/test.sh).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use aws_lambda_events::event::sns::SnsEvent;
use chrono::{DateTime, Utc};
use govtrail_aws::alerts::message_body;
use govtrail_aws::secrets::{SecretError, SlackWebhook, WebhookUrl};
use govtrail_aws::slack::{block_kit, RetryPolicy, SlackClient, SlackError};
use govtrail_core::finding::Finding;
use govtrail_core::ports::AlertKind;
use govtrail_core::{FindingFilter, FindingStore, Inventory, MemoryStore, Pipeline};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use slack_notifier::{handle, Notifier, Outcome};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The secret part of the test webhook: it must show up in no error, log or Debug output.
const TOKEN: &str = "XXtoken-that-must-never-leakXX";
const DEFAULT_CHANNEL: &str = "#govtrail-alerts";

// ---------------------------------------------------------------------------------------------
// Findings from the core pipeline over the examples.

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn findings() -> &'static [Finding] {
    static FINDINGS: OnceLock<Vec<Finding>> = OnceLock::new();
    FINDINGS.get_or_init(|| {
        let inv = Inventory::load(&repo().join("infra/examples/inventory.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut store = MemoryStore::new();
        {
            let mut p = Pipeline::new(&inv, &inv.settings, &mut store, None, now);
            for s in p.discover(&[repo().join("infra/examples/cloudtrail")]) {
                p.process_source(&s).unwrap();
            }
            p.finish().unwrap();
        }
        store.list(&FindingFilter::default()).unwrap()
    })
}

fn finding(rule: &str, principal: &str) -> Finding {
    findings()
        .iter()
        .find(|f| f.rule.as_str() == rule && f.principal == principal)
        .cloned()
        .unwrap_or_else(|| panic!("no {rule} finding for {principal}"))
}

fn root_activity() -> Finding {
    finding("root-activity", "arn:aws:iam::777788889999:root")
}

fn field_texts(v: &Value) -> Vec<String> {
    v["blocks"][2]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A scripted webhook: answers each request with the next reply (the last one repeats) and
// records what it was sent.

#[derive(Clone, Copy)]
struct Reply {
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
}

const OK: Reply = Reply {
    status: 200,
    headers: &[],
    body: "ok",
};
const TOO_MANY: Reply = Reply {
    status: 429,
    headers: &[("Retry-After", "1")],
    body: "rate_limited",
};
const BROKEN: Reply = Reply {
    status: 500,
    headers: &[],
    body: "internal_error",
};
const BAD: Reply = Reply {
    status: 400,
    headers: &[],
    body: "invalid_payload",
};

#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    request_line: String,
    content_type: String,
    body: Value,
}

struct Hook {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Hook {
    fn start(script: &[Reply]) -> Hook {
        let script = script.to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&stream) else {
                    continue;
                };
                log.lock().unwrap().push(req);
                let r = script[n.min(script.len() - 1)];
                let mut head = format!(
                    "HTTP/1.1 {} Scripted\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n",
                    r.status,
                    r.body.len()
                );
                for (k, v) in r.headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(r.body.as_bytes());
            }
        });
        Hook {
            url: format!("http://127.0.0.1:{port}/services/T0GOVTRAIL/B0GOVTRAIL/{TOKEN}"),
            received,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let at = Instant::now();
    let (mut length, mut content_type) = (0usize, String::new());
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse().ok()?,
            "content-type" => content_type = v.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        at,
        request_line: request_line.trim_end().to_string(),
        content_type,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

// ---------------------------------------------------------------------------------------------
// moto's Secrets Manager.

fn endpoint() -> String {
    std::env::var("GOVTRAIL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("GOVTRAIL_TEST_AWS_ENDPOINT is not set: run scripts/test.sh (it starts moto), or `source scripts/emulator.sh` first")
    })
}

async fn secrets() -> aws_sdk_secretsmanager::Client {
    let sdk = govtrail_aws::config::sdk_config(Some(&endpoint())).await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A new secret holding `value`; returns its ARN.
async fn secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let name = format!(
        "govtrail/slack-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap()
}

/// Short backoff so the tests are quick; `Retry-After` is still honoured as sent.
fn fast() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        request_timeout: Duration::from_secs(5),
        ..RetryPolicy::default()
    }
}

async fn notifier_for(hook_url: &str) -> Notifier {
    let client = secrets().await;
    let arn = secret(&client, hook_url).await;
    Notifier {
        slack: SlackClient::with_policy(SlackWebhook::new(client, arn), fast()).unwrap(),
        default_channel: DEFAULT_CHANNEL.to_string(),
    }
}

/// Display, Debug and every cause of an error: none may hold the webhook.
fn assert_no_webhook(e: &(dyn std::error::Error + 'static), url: &str) {
    let mut texts = vec![e.to_string(), format!("{e:?}")];
    let mut cur = e.source();
    while let Some(c) = cur {
        texts.push(c.to_string());
        texts.push(format!("{c:?}"));
        cur = c.source();
    }
    for t in texts {
        assert!(
            !t.contains(TOKEN) && !t.contains(url),
            "the webhook leaked: {t}"
        );
    }
}

fn sns_event(message_id: &str, message: &str) -> LambdaEvent<SnsEvent> {
    let topic = "arn:aws:sns:eu-west-1:123456789012:govtrail-alerts";
    let event: SnsEvent = serde_json::from_value(json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"),
            "Sns": {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": topic,
                "Subject": "govtrail: critical root-activity arn:aws:iam::777788889999:root",
                "Message": message,
                "Timestamp": "2026-11-30T10:00:01.123Z",
                "SignatureVersion": "1",
                "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
                "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
                "UnsubscribeUrl": format!("https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"),
                "MessageAttributes": {
                    "severity": {"Type": "String", "Value": "critical"},
                    "rule": {"Type": "String", "Value": "root-activity"}
                }
            }
        }]
    }))
    .unwrap();
    LambdaEvent::new(event, Context::default())
}

// ---------------------------------------------------------------------------------------------
// Block Kit.

#[test]
fn root_activity_becomes_this_exact_message_on_the_default_channel() {
    let f = root_activity();
    let v = block_kit(AlertKind::New, &f, DEFAULT_CHANNEL);
    let want = json!({
        "channel": "#govtrail-alerts",
        "text": "[critical] new root-activity: arn:aws:iam::777788889999:root — the root user of account 777788889999 called signin:ConsoleLogin (owner none, 1x)",
        "unfurl_links": false,
        "unfurl_media": false,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": ":rotating_light: CRITICAL root-activity (new)", "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "The account root user acted."}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*Who*\narn:aws:iam::777788889999:root (human)"},
                {"type": "mrkdwn", "text": "*What*\nsignin:ConsoleLogin"},
                {"type": "mrkdwn", "text": "*Where*\naccount 777788889999, us-east-1"},
                {"type": "mrkdwn", "text": "*Owner*\nnone"},
                {"type": "mrkdwn", "text": "*Seen*\nonce, at 2026-11-29T21:17:03Z"}
            ]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Why it is outside the path*\nthe root user of account 777788889999 called signin:ConsoleLogin"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "<https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/d95db187-7f02-448c-a7b2-d48d06ea424d|Open the event in the CloudTrail console>"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "govtrail finding 073df0932bd34a92d808c40f1de79237 · status open"}]}
        ]
    });
    assert_eq!(v, want);
}

#[test]
fn a_slack_contact_routes_the_alert_to_its_channel() {
    let f = finding(
        "environment-crossing",
        "arn:aws:iam::111122223333:role/ci/github-deployer",
    );
    assert_eq!(f.contact.as_deref(), Some("#platform-oncall"));
    let v = block_kit(AlertKind::Escalated, &f, DEFAULT_CHANNEL);
    assert_eq!(v["channel"], "#platform-oncall");
    assert_eq!(
        v["blocks"][0]["text"]["text"],
        ":red_circle: HIGH environment-crossing (escalated)"
    );
    assert_eq!(
        field_texts(&v),
        [
            "*Who*\narn:aws:iam::111122223333:role/ci/github-deployer (workload)",
            "*What*\ns3:PutObject on arn:aws:s3:::acme-staging-artifacts/orders-api/4702/function.zip",
            "*Where*\naccount 444455556666, eu-west-1",
            "*Owner*\nplatform-team (#platform-oncall)",
            "*Seen*\nonce, at 2026-11-28T16:27:10Z",
        ]
    );
    assert_eq!(
        v["blocks"][3]["text"]["text"],
        "*Why it is outside the path*\nacted in account 444455556666 (staging) outside its environments [prod]"
    );
    assert_eq!(
        v["blocks"][4]["text"]["text"],
        "<https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/6cdade7a-7732-4970-a6a8-f09020acd244|Open the event in the CloudTrail console>"
    );

    // The same finding with a `slack:` contact, and with an e-mail contact (no channel).
    let mut g = f.clone();
    g.contact = Some("slack:#orders-deploys".into());
    assert_eq!(
        block_kit(AlertKind::New, &g, DEFAULT_CHANNEL)["channel"],
        "#orders-deploys"
    );
    let review = finding(
        "review-overdue",
        "arn:aws:iam::111122223333:user/svc-reporting",
    );
    assert_eq!(
        review.contact.as_deref(),
        Some("finance-analytics@example.com")
    );
    let v = block_kit(AlertKind::New, &review, DEFAULT_CHANNEL);
    assert_eq!(v["channel"], DEFAULT_CHANNEL);
    assert_eq!(
        v["blocks"][0]["text"]["text"],
        ":large_orange_circle: MEDIUM review-overdue (new)"
    );
    assert_eq!(
        field_texts(&v)[3..],
        [
            "*Owner*\nfinance-analytics (finance-analytics@example.com)",
            "*Seen*\n2 times, first 2026-11-29T14:05:00Z, last 2026-11-29T18:04:51Z",
        ]
    );
}

#[test]
fn cloudtrail_values_cannot_inject_mrkdwn() {
    let mut f = root_activity();
    f.action = Some("s3:GetObject<!channel>".into());
    f.resource = Some("arn:aws:s3:::b/<https://evil.example|click>&".into());
    f.evidence
        .insert("why".into(), "why\n*Owner*\nsomeone <@U123>".into());
    let v = block_kit(AlertKind::New, &f, DEFAULT_CHANNEL);
    assert_eq!(
        field_texts(&v)[1],
        "*What*\ns3:GetObject&lt;!channel&gt; on arn:aws:s3:::b/&lt;https://evil.example|click&gt;&amp;"
    );
    assert_eq!(
        v["blocks"][3]["text"]["text"],
        "*Why it is outside the path*\nwhy *Owner* someone &lt;@U123&gt;"
    );
    let all = v.to_string();
    assert!(
        !all.contains("<!channel>") && !all.contains("<@U123>") && !all.contains("<https://evil")
    );
}

// ---------------------------------------------------------------------------------------------
// The webhook client.

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds_with_two_attempts() {
    let hook = Hook::start(&[TOO_MANY, OK]);
    let client = secrets().await;
    // The JSON form of the secret.
    let arn = secret(&client, &json!({"webhook_url": hook.url}).to_string()).await;
    let slack = SlackClient::with_policy(SlackWebhook::new(client, arn), fast()).unwrap();
    let payload = block_kit(AlertKind::New, &root_activity(), DEFAULT_CHANNEL);

    slack.post(&payload).await.unwrap();

    let got = hook.received();
    assert_eq!(got.len(), 2);
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After not honoured: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    for r in &got {
        assert_eq!(
            r.request_line,
            format!("POST /services/T0GOVTRAIL/B0GOVTRAIL/{TOKEN} HTTP/1.1")
        );
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.body, payload);
    }
}

#[tokio::test]
async fn two_500s_are_retried_with_backoff_and_the_secret_is_read_once() {
    let hook = Hook::start(&[BROKEN, BROKEN, OK]);
    let n = notifier_for(&hook.url).await;
    let payload = block_kit(AlertKind::New, &root_activity(), DEFAULT_CHANNEL);
    n.slack.post(&payload).await.unwrap();
    let got = hook.received();
    assert_eq!(got.len(), 3);
    // Backoff with jitter: between half and all of 20 ms, then of 40 ms.
    assert!(got[1].at - got[0].at >= Duration::from_millis(10));
    assert!(got[2].at - got[1].at >= Duration::from_millis(20));

    n.slack.post(&payload).await.unwrap();
    assert_eq!(hook.received().len(), 4);
    assert_eq!(n.slack.webhook().reads.load(Ordering::Relaxed), 1, "cached");
}

#[tokio::test]
async fn a_400_is_permanent_after_one_attempt_and_no_error_shows_the_webhook() {
    let hook = Hook::start(&[BAD]);
    let n = notifier_for(&hook.url).await;
    let payload = block_kit(AlertKind::New, &root_activity(), DEFAULT_CHANNEL);
    let e = n.slack.post(&payload).await.unwrap_err();
    assert_eq!(hook.received().len(), 1);
    assert!(!e.is_transient());
    assert!(
        matches!(&e, SlackError::Rejected { status: 400, body } if body == "invalid_payload"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "Slack rejected the message: HTTP 400 invalid_payload"
    );
    assert_no_webhook(&e, &hook.url);
    let debug = format!("{n:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
}

#[tokio::test]
async fn failures_that_persist_are_transient_and_never_show_the_webhook() {
    // 5xx on every attempt.
    let hook = Hook::start(&[BROKEN]);
    let n = notifier_for(&hook.url).await;
    let payload = block_kit(AlertKind::New, &root_activity(), DEFAULT_CHANNEL);
    let e = n.slack.post(&payload).await.unwrap_err();
    assert_eq!(hook.received().len(), 4);
    assert!(e.is_transient());
    assert_eq!(e.to_string(), "Slack answered HTTP 500 to all 4 attempts");
    assert_no_webhook(&e, &hook.url);

    // Nobody listening: connection refused on every attempt.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/services/T0GOVTRAIL/B0GOVTRAIL/{TOKEN}");
    let e = n
        .slack
        .post_to(&WebhookUrl::parse(&url).unwrap(), &payload)
        .await
        .unwrap_err();
    assert!(e.is_transient());
    assert!(
        matches!(e, SlackError::Unreachable { attempts: 4, .. }),
        "{e:?}"
    );
    assert_no_webhook(&e, &url);
}

#[tokio::test]
async fn secret_errors_name_the_secret_and_never_its_value() {
    let client = secrets().await;
    let leaky = format!("http://hooks.example.com/services/T0/B0/{TOKEN}");
    let arn = secret(&client, &leaky).await;
    let hook = SlackWebhook::new(client.clone(), arn.clone());
    let e = hook.url().await.unwrap_err();
    assert!(matches!(e, SecretError::Malformed { .. }), "{e:?}");
    assert!(e
        .to_string()
        .starts_with(&format!("secret {arn} holds neither")));
    assert_no_webhook(&e, &leaky);

    let missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:govtrail-missing-AbCdEf";
    let e = SlackWebhook::new(client, missing).url().await.unwrap_err();
    assert!(!e.is_transient());
    assert!(
        e.to_string().starts_with(&format!(
            "reading secret {missing}: ResourceNotFoundException"
        )),
        "{e}"
    );
}

#[tokio::test]
async fn the_cache_expires_after_its_ttl() {
    let hook = Hook::start(&[OK]);
    let client = secrets().await;
    let arn = secret(&client, &hook.url).await;
    let webhook = SlackWebhook::new(client, arn).with_ttl(Duration::ZERO);
    assert_eq!(webhook.url().await.unwrap().expose(), hook.url);
    assert_eq!(webhook.url().await.unwrap().expose(), hook.url);
    assert_eq!(webhook.reads.load(Ordering::Relaxed), 2);
    assert_eq!(format!("{webhook:?}").matches(TOKEN).count(), 0);
}

// ---------------------------------------------------------------------------------------------
// The handler.

#[tokio::test]
async fn the_handler_posts_each_alert_as_block_kit() {
    let hook = Hook::start(&[OK]);
    let n = notifier_for(&hook.url).await;
    let f = root_activity();
    let event = sns_event(
        "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        &message_body(AlertKind::New, &f).unwrap(),
    );
    let out = handle(event, &n).await.unwrap();
    assert_eq!(
        out,
        Outcome {
            posted: 1,
            skipped: 0,
            rejected: 0
        }
    );
    let got = hook.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, block_kit(AlertKind::New, &f, DEFAULT_CHANNEL));
}

#[tokio::test]
async fn the_handler_skips_messages_that_are_not_govtrail_alerts() {
    let hook = Hook::start(&[OK]);
    let n = notifier_for(&hook.url).await;
    for message in [
        "hello from another publisher",
        r#"{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"x"}}}]}"#,
        r#"{"kind":"new","summary":"x","finding":{"id":"only an id"}}"#,
    ] {
        let out = handle(sns_event("not-ours-1", message), &n).await.unwrap();
        assert_eq!(
            out,
            Outcome {
                posted: 0,
                skipped: 1,
                rejected: 0
            }
        );
    }
    assert!(hook.received().is_empty());
    // Nothing to post, so the secret was never read.
    assert_eq!(n.slack.webhook().reads.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn the_handler_fails_the_invocation_when_slack_stays_down() {
    let hook = Hook::start(&[BROKEN]);
    let n = notifier_for(&hook.url).await;
    let body = message_body(AlertKind::New, &root_activity()).unwrap();
    let e = handle(sns_event("msg-500", &body), &n).await.unwrap_err();
    assert_eq!(hook.received().len(), 4);
    assert_eq!(e.message_id, "msg-500");
    assert_eq!(
        e.to_string(),
        "SNS message msg-500: Slack answered HTTP 500 to all 4 attempts"
    );
    assert_no_webhook(&e, &hook.url);
    // What the Lambda runtime reports.
    let boxed = lambda_runtime::Error::from(e);
    assert!(!format!("{boxed:?}").contains(TOKEN));
}

#[tokio::test]
async fn the_handler_drops_a_message_slack_refuses() {
    let hook = Hook::start(&[BAD]);
    let n = notifier_for(&hook.url).await;
    let body = message_body(AlertKind::New, &root_activity()).unwrap();
    let out = handle(sns_event("msg-400", &body), &n).await.unwrap();
    assert_eq!(
        out,
        Outcome {
            posted: 0,
            skipped: 0,
            rejected: 1
        }
    );
    assert_eq!(hook.received().len(), 1);
}

#[tokio::test]
async fn the_handler_fails_the_invocation_when_the_secret_is_missing() {
    let hook = Hook::start(&[OK]);
    let client = secrets().await;
    let n = Notifier {
        slack: SlackClient::with_policy(
            SlackWebhook::new(
                client,
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:govtrail-none-AbCdEf",
            ),
            fast(),
        )
        .unwrap(),
        default_channel: DEFAULT_CHANNEL.to_string(),
    };
    let body = message_body(AlertKind::New, &root_activity()).unwrap();
    let e = handle(sns_event("msg-secret", &body), &n)
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with(
            "SNS message msg-secret: reading secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:govtrail-none-AbCdEf: ResourceNotFoundException"
        ),
        "{e}"
    );
    assert!(hook.received().is_empty());
}
