//! Which CloudTrail log objects an SQS message names: raw S3 event notifications, the same
//! wrapped in an SNS envelope, and CloudTrail's own SNS delivery notices. Pure, no I/O.

use serde::Deserialize;
use serde_json::Value;

/// One S3 object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
}

/// What a queue message holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Log objects to read (others in the message were skipped, with reasons).
    Objects {
        objects: Vec<ObjectRef>,
        skipped: Vec<(String, &'static str)>,
    },
    /// Nothing to read, for this reason (acknowledge the message).
    Skip(&'static str),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a notification govtrail understands: {0}")]
pub struct NotANotification(pub String);

/// Decodes an S3 event notification key (`+` is a space, `%XX` escapes).
pub fn decode_s3_key(key: &str) -> String {
    let plus = key.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// Why a key is not a CloudTrail log file to read, if it is not.
pub fn skip_reason(key: &str, size: Option<u64>) -> Option<&'static str> {
    let name = key.rsplit('/').next().unwrap_or(key);
    if key.ends_with('/') || name.is_empty() {
        return Some("folder-object");
    }
    if key.contains("/CloudTrail-Digest/") || name.contains("_CloudTrail-Digest_") {
        return Some("digest-file");
    }
    if name.contains("ConfigWritabilityCheckFile") {
        return Some("config-writability-check");
    }
    if key.contains("/CloudTrail-Insight/") || name.contains("_CloudTrail-Insight_") {
        return Some("insight-file");
    }
    if size == Some(0) {
        return Some("empty-object");
    }
    let lower = name.to_ascii_lowercase();
    let log_name =
        name.contains("_CloudTrail_") && (lower.ends_with(".json.gz") || lower.ends_with(".json"));
    if !log_name {
        return Some("not-a-cloudtrail-log-file");
    }
    None
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}
#[derive(Deserialize)]
struct S3Bucket {
    name: String,
}
#[derive(Deserialize)]
struct S3Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
}

fn from_value(v: &Value, depth: u8) -> Result<Message, NotANotification> {
    if depth > 2 {
        return Err(NotANotification("envelopes nested too deep".into()));
    }
    // SNS envelope (raw message delivery off): decode Message.
    if v.get("Type").and_then(Value::as_str) == Some("Notification") {
        let Some(msg) = v.get("Message").and_then(Value::as_str) else {
            return Err(NotANotification("SNS envelope without a Message".into()));
        };
        if msg.trim() == "CloudTrail validation message." {
            return Ok(Message::Skip("cloudtrail-validation-message"));
        }
        let inner: Value = serde_json::from_str(msg)
            .map_err(|e| NotANotification(format!("SNS Message is not JSON: {e}")))?;
        return from_value(&inner, depth + 1);
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Message::Skip("s3-test-event"));
    }
    // CloudTrail's own notice: keys are delivered as-is (not form-encoded).
    if let (Some(bucket), Some(keys)) = (
        v.get("s3Bucket").and_then(Value::as_str),
        v.get("s3ObjectKey").and_then(Value::as_array),
    ) {
        let mut objects = Vec::new();
        let mut skipped = Vec::new();
        for k in keys.iter().filter_map(Value::as_str) {
            match skip_reason(k, None) {
                Some(r) => skipped.push((k.to_string(), r)),
                None => objects.push(ObjectRef {
                    bucket: bucket.to_string(),
                    key: k.to_string(),
                    size: None,
                }),
            }
        }
        return Ok(Message::Objects { objects, skipped });
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let mut objects = Vec::new();
        let mut skipped = Vec::new();
        for r in records {
            let Some(s3) = r.get("s3") else {
                return Err(NotANotification("a Records entry without s3".into()));
            };
            let e: S3Entity = serde_json::from_value(s3.clone())
                .map_err(|e| NotANotification(format!("S3 notification: {e}")))?;
            let key = decode_s3_key(&e.object.key);
            match skip_reason(&key, e.object.size) {
                Some(reason) => skipped.push((key, reason)),
                None => objects.push(ObjectRef {
                    bucket: e.bucket.name,
                    key,
                    size: e.object.size,
                }),
            }
        }
        if objects.is_empty() && skipped.is_empty() {
            return Ok(Message::Skip("no-records"));
        }
        return Ok(Message::Objects { objects, skipped });
    }
    Err(NotANotification(
        "neither an S3 event notification, an SNS envelope nor a CloudTrail notice".into(),
    ))
}

/// Reads an SQS message body.
pub fn parse_message(body: &str) -> Result<Message, NotANotification> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| NotANotification(format!("body is not JSON: {e}")))?;
    from_value(&v, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_classified() {
        assert_eq!(skip_reason("AWSLogs/1/CloudTrail-Digest/eu-west-1/2024/03/05/1_CloudTrail-Digest_eu-west-1_t_us-east-1_20240305T110012Z.json.gz", Some(812)), Some("digest-file"));
        assert_eq!(
            skip_reason("AWSLogs/1/CloudTrail/eu-west-1/", Some(0)),
            Some("folder-object")
        );
        assert_eq!(
            skip_reason("AWSLogs/1/ConfigWritabilityCheckFile", Some(0)),
            Some("config-writability-check")
        );
        assert_eq!(skip_reason("ct-org/AWSLogs/o-exampleorg1/444455556666/CloudTrail/ap-southeast-2/2024/03/05/444455556666_CloudTrail_ap-southeast-2_20240305T1020Z_ExAmPlE00000005.json.gz", Some(2048)), None);
        assert_eq!(
            skip_reason(
                "replay/111122223333_CloudTrail_eu-west-1_20240305T1025Z_x.json",
                None
            ),
            None
        );
    }

    #[test]
    fn s3_keys_are_form_decoded() {
        assert_eq!(decode_s3_key("a+b%2Fc%3D"), "a b/c=");
    }
}
