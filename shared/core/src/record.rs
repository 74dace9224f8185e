//! Our own tolerant CloudTrail record: every field optional, wrong types read as absent.

use crate::lenient;
use serde::Deserialize;
use serde_json::value::RawValue;

/// One CloudTrail record as found in a log file, an EventBridge `detail`, an array or a line.
///
/// The same struct also carries the few top-level keys that tell other documents apart
/// (EventBridge envelopes, SNS messages, digests, S3 notifications), so a document is parsed once.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawRecord {
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_version: Option<String>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub user_identity: Option<UserIdentity>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_source: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub aws_region: Option<String>,
    #[serde(
        rename = "sourceIPAddress",
        default,
        deserialize_with = "lenient::string"
    )]
    pub source_ip_address: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_agent: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub error_code: Option<String>,
    #[serde(default)]
    pub request_parameters: Option<Box<RawValue>>,
    #[serde(default)]
    pub response_elements: Option<Box<RawValue>>,
    #[serde(default)]
    pub additional_event_data: Option<Box<RawValue>>,
    #[serde(rename = "requestID", default, deserialize_with = "lenient::string")]
    pub request_id: Option<String>,
    #[serde(rename = "eventID", default, deserialize_with = "lenient::string")]
    pub event_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read_only: Option<bool>,
    #[serde(default, deserialize_with = "lenient::objects")]
    pub resources: Vec<Resource>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub management_event: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub recipient_account_id: Option<String>,
    #[serde(
        rename = "sharedEventID",
        default,
        deserialize_with = "lenient::string"
    )]
    pub shared_event_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub vpc_endpoint_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub vpc_endpoint_account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_category: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub session_credential_from_console: Option<bool>,

    // Keys of documents that are not CloudTrail records, used to recognise them.
    #[serde(rename = "detail-type", default, deserialize_with = "lenient::string")]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub detail: Option<Box<RawValue>>,
    #[serde(rename = "Type", default, deserialize_with = "lenient::string")]
    pub sns_type: Option<String>,
    #[serde(rename = "Message", default)]
    pub sns_message: Option<Box<RawValue>>,
    #[serde(rename = "Event", default, deserialize_with = "lenient::string")]
    pub s3_event: Option<String>,
    #[serde(default)]
    pub s3_bucket: Option<Box<RawValue>>,
    #[serde(default)]
    pub digest_start_time: Option<Box<RawValue>>,
    #[serde(default)]
    pub log_files: Option<Box<RawValue>>,
    #[serde(
        rename = "CloudTrailEvent",
        default,
        deserialize_with = "lenient::string"
    )]
    pub lookup_cloudtrail_event: Option<String>,
    #[serde(rename = "s3", default)]
    pub s3_notification_entity: Option<Box<RawValue>>,
    #[serde(rename = "Sns", default)]
    pub sns_lambda_entity: Option<Box<RawValue>>,
    #[serde(rename = "EventSource", default, deserialize_with = "lenient::string")]
    pub upper_event_source: Option<String>,
    #[serde(rename = "Records", default)]
    pub records: Option<Box<RawValue>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub identity_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub principal_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub access_key_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub invoked_by: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub identity_provider: Option<String>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub session_context: Option<SessionContext>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub on_behalf_of: Option<OnBehalfOf>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub credential_id: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(default, deserialize_with = "lenient::object")]
    pub session_issuer: Option<SessionIssuer>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub web_id_federation_data: Option<WebIdFederationData>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub attributes: Option<SessionAttributes>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub source_identity: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub ec2_role_delivery: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub issuer_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub principal_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_name: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebIdFederationData {
    #[serde(default, deserialize_with = "lenient::string")]
    pub federated_provider: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    #[serde(default, deserialize_with = "lenient::string")]
    pub creation_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub mfa_authenticated: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnBehalfOf {
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub identity_store_arn: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Resource {
    #[serde(
        rename = "ARN",
        alias = "arn",
        default,
        deserialize_with = "lenient::string"
    )]
    pub arn: Option<String>,
    #[serde(rename = "accountId", default, deserialize_with = "lenient::string")]
    pub account_id: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub resource_type: Option<String>,
}

/// What a parsed JSON document turned out to be.
#[derive(Debug)]
pub enum Document {
    /// A CloudTrail record (possibly unwrapped from an EventBridge envelope or LookupEvents item).
    Record(Box<RawRecord>),
    /// Not a CloudTrail record: skipped with this reason.
    NotARecord(SkipReason),
}

/// Why a document or record is skipped. The names are stable: they are the keys of the
/// `skipped` summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    DigestFile,
    S3Notification,
    S3TestEvent,
    SnsMessage,
    CloudTrailSnsNotification,
    SqsMessage,
    EventBridgeOther,
    InsightEvent,
    NoUserIdentity,
    IgnoredPrincipal,
    NotACloudTrailRecord,
    UnsupportedFileName,
    EmptyFile,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::DigestFile => "digest-file",
            SkipReason::S3Notification => "s3-notification",
            SkipReason::S3TestEvent => "s3-test-event",
            SkipReason::SnsMessage => "sns-message",
            SkipReason::CloudTrailSnsNotification => "cloudtrail-sns-notification",
            SkipReason::SqsMessage => "sqs-message",
            SkipReason::EventBridgeOther => "eventbridge-non-cloudtrail",
            SkipReason::InsightEvent => "insight-event",
            SkipReason::NoUserIdentity => "no-user-identity",
            SkipReason::IgnoredPrincipal => "ignored-principal",
            SkipReason::NotACloudTrailRecord => "not-a-cloudtrail-record",
            SkipReason::UnsupportedFileName => "unsupported-file-name",
            SkipReason::EmptyFile => "empty-file",
        }
    }
}

/// The EventBridge detail-types that carry a CloudTrail record in `detail`.
pub const CLOUDTRAIL_DETAIL_TYPES: [&str; 4] = [
    "AWS API Call via CloudTrail",
    "AWS Console Sign In via CloudTrail",
    "AWS Service Event via CloudTrail",
    "AWS Insight via CloudTrail",
];

impl RawRecord {
    /// True when the record carries any of the fields every CloudTrail record has.
    fn looks_like_cloudtrail(&self) -> bool {
        let source_ok = self
            .event_source
            .as_deref()
            .is_some_and(|s| !s.starts_with("aws:"));
        let ct_shape = self.event_name.is_some()
            || self.event_id.is_some()
            || self.user_identity.is_some()
            || self.event_category.is_some()
            || self
                .event_type
                .as_deref()
                .is_some_and(|t| t.starts_with("Aws"));
        let dated = self.event_version.is_some() || self.event_time.is_some();
        if self.event_source.is_some() {
            source_ok && ct_shape
        } else {
            dated && ct_shape
        }
    }

    /// Decide what this parsed document is. `depth` guards against envelopes nested forever.
    pub fn classify(self, depth: u8) -> Result<Document, serde_json::Error> {
        if let Some(detail) = &self.detail {
            let is_ct = self
                .detail_type
                .as_deref()
                .map(|t| CLOUDTRAIL_DETAIL_TYPES.contains(&t))
                .unwrap_or(false);
            if is_ct || self.detail_type.is_none() {
                if depth > 2 {
                    return Ok(Document::NotARecord(SkipReason::NotACloudTrailRecord));
                }
                let inner: RawRecord = serde_json::from_str(detail.get())?;
                if inner.looks_like_cloudtrail() {
                    return inner.classify(depth + 1);
                }
                return Ok(Document::NotARecord(SkipReason::EventBridgeOther));
            }
            return Ok(Document::NotARecord(SkipReason::EventBridgeOther));
        }
        if let Some(embedded) = &self.lookup_cloudtrail_event {
            if depth <= 2 {
                let inner: RawRecord = serde_json::from_str(embedded)?;
                return inner.classify(depth + 1);
            }
        }
        if self.s3_event.as_deref() == Some("s3:TestEvent") {
            return Ok(Document::NotARecord(SkipReason::S3TestEvent));
        }
        if self.sns_type.is_some() && self.sns_message.is_some() {
            return Ok(Document::NotARecord(SkipReason::SnsMessage));
        }
        if self.digest_start_time.is_some() || self.log_files.is_some() {
            return Ok(Document::NotARecord(SkipReason::DigestFile));
        }
        if self.s3_bucket.is_some() && !self.looks_like_cloudtrail() {
            return Ok(Document::NotARecord(SkipReason::CloudTrailSnsNotification));
        }
        if self.s3_notification_entity.is_some() || self.event_source.as_deref() == Some("aws:s3") {
            return Ok(Document::NotARecord(SkipReason::S3Notification));
        }
        if self.sns_lambda_entity.is_some() || self.upper_event_source.as_deref() == Some("aws:sns")
        {
            return Ok(Document::NotARecord(SkipReason::SnsMessage));
        }
        if self.event_source.as_deref() == Some("aws:sqs") {
            return Ok(Document::NotARecord(SkipReason::SqsMessage));
        }
        if self.looks_like_cloudtrail() {
            return Ok(Document::Record(Box::new(self)));
        }
        if self.records.is_some() {
            // A `Records` key whose value is not a list of records (framing hands lists over).
            return Ok(Document::NotARecord(SkipReason::NotACloudTrailRecord));
        }
        Ok(Document::NotARecord(SkipReason::NotACloudTrailRecord))
    }
}
