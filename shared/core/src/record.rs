//! Our own tolerant CloudTrail record: every field optional, wrong types read as absent.

use crate::lenient;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One CloudTrail record as found in a log file, an EventBridge `detail`, an array or a line.
///
/// The same struct also carries the few top-level keys that tell other documents apart
/// (EventBridge envelopes, SNS messages, digests, S3 notifications), so a document is parsed once.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct RawRecord<'a> {
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_version: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub user_identity: Option<UserIdentity<'a>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_time: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_source: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub aws_region: Option<Cow<'a, str>>,
    #[serde(
        rename = "sourceIPAddress",
        default,
        deserialize_with = "lenient::string"
    )]
    pub source_ip_address: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_agent: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub error_code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub response_elements: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub additional_event_data: Option<&'a RawValue>,
    #[serde(rename = "requestID", default, deserialize_with = "lenient::string")]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventID", default, deserialize_with = "lenient::string")]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read_only: Option<bool>,
    #[serde(default, deserialize_with = "lenient::objects")]
    pub resources: Vec<Resource<'a>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_type: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub management_event: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub recipient_account_id: Option<Cow<'a, str>>,
    #[serde(
        rename = "sharedEventID",
        default,
        deserialize_with = "lenient::string"
    )]
    pub shared_event_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub vpc_endpoint_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub vpc_endpoint_account_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_category: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub session_credential_from_console: Option<bool>,

    // Keys of documents that are not CloudTrail records, used to recognise them.
    #[serde(rename = "detail-type", default, deserialize_with = "lenient::string")]
    pub detail_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub detail: Option<&'a RawValue>,
    #[serde(rename = "Type", default, deserialize_with = "lenient::string")]
    pub sns_type: Option<Cow<'a, str>>,
    #[serde(rename = "Message", default, borrow)]
    pub sns_message: Option<&'a RawValue>,
    #[serde(rename = "Event", default, deserialize_with = "lenient::string")]
    pub s3_event: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub s3_bucket: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub digest_start_time: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub log_files: Option<&'a RawValue>,
    #[serde(
        rename = "CloudTrailEvent",
        default,
        deserialize_with = "lenient::string"
    )]
    pub lookup_cloudtrail_event: Option<Cow<'a, str>>,
    #[serde(rename = "s3", default, borrow)]
    pub s3_notification_entity: Option<&'a RawValue>,
    #[serde(rename = "Sns", default, borrow)]
    pub sns_lambda_entity: Option<&'a RawValue>,
    #[serde(rename = "EventSource", default, deserialize_with = "lenient::string")]
    pub upper_event_source: Option<Cow<'a, str>>,
    #[serde(rename = "Records", default, borrow)]
    pub records: Option<&'a RawValue>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct UserIdentity<'a> {
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub identity_type: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub arn: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub access_key_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub invoked_by: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub identity_provider: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub session_context: Option<SessionContext<'a>>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub on_behalf_of: Option<OnBehalfOf<'a>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub credential_id: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct SessionContext<'a> {
    #[serde(default, deserialize_with = "lenient::object")]
    pub session_issuer: Option<SessionIssuer<'a>>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub web_id_federation_data: Option<WebIdFederationData<'a>>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub attributes: Option<SessionAttributes<'a>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub source_identity: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub ec2_role_delivery: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct SessionIssuer<'a> {
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub issuer_type: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub arn: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_name: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct WebIdFederationData<'a> {
    #[serde(default, deserialize_with = "lenient::string")]
    pub federated_provider: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct SessionAttributes<'a> {
    #[serde(default, deserialize_with = "lenient::string")]
    pub creation_date: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub mfa_authenticated: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct OnBehalfOf<'a> {
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub identity_store_arn: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct Resource<'a> {
    #[serde(
        rename = "ARN",
        alias = "arn",
        default,
        deserialize_with = "lenient::string"
    )]
    pub arn: Option<Cow<'a, str>>,
    #[serde(rename = "accountId", default, deserialize_with = "lenient::string")]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub resource_type: Option<Cow<'a, str>>,
}

/// What a parsed JSON document turned out to be (decided without moving the record).
#[derive(Debug)]
pub enum Document<'a> {
    /// The document is a CloudTrail record.
    Record,
    /// An EventBridge envelope: its `detail` holds the record; parse it again.
    Detail(&'a RawValue),
    /// A CloudTrail record embedded as a JSON string (a LookupEvents item's `CloudTrailEvent`):
    /// parse this text again.
    Embedded(String),
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
    DuplicatePath,
    NotARegularFile,
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
            SkipReason::DuplicatePath => "duplicate-path",
            SkipReason::NotARegularFile => "not-a-regular-file",
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

impl<'a> RawRecord<'a> {
    /// True when the record carries any of the fields every CloudTrail record has.
    pub fn looks_like_cloudtrail(&self) -> bool {
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

    /// Decide what this parsed document is.
    pub fn classify(&self) -> Document<'a> {
        if let Some(detail) = self.detail {
            let is_ct = self
                .detail_type
                .as_deref()
                .is_some_and(|t| CLOUDTRAIL_DETAIL_TYPES.contains(&t));
            if is_ct || self.detail_type.is_none() {
                return Document::Detail(detail);
            }
            return Document::NotARecord(SkipReason::EventBridgeOther);
        }
        if let Some(embedded) = &self.lookup_cloudtrail_event {
            return Document::Embedded(embedded.to_string());
        }
        if self.s3_event.as_deref() == Some("s3:TestEvent") {
            return Document::NotARecord(SkipReason::S3TestEvent);
        }
        if self.sns_type.is_some() && self.sns_message.is_some() {
            return Document::NotARecord(SkipReason::SnsMessage);
        }
        if self.digest_start_time.is_some() || self.log_files.is_some() {
            return Document::NotARecord(SkipReason::DigestFile);
        }
        if self.s3_bucket.is_some() && !self.looks_like_cloudtrail() {
            return Document::NotARecord(SkipReason::CloudTrailSnsNotification);
        }
        if self.s3_notification_entity.is_some() || self.event_source.as_deref() == Some("aws:s3") {
            return Document::NotARecord(SkipReason::S3Notification);
        }
        if self.sns_lambda_entity.is_some() || self.upper_event_source.as_deref() == Some("aws:sns")
        {
            return Document::NotARecord(SkipReason::SnsMessage);
        }
        if self.event_source.as_deref() == Some("aws:sqs") {
            return Document::NotARecord(SkipReason::SqsMessage);
        }
        if self.looks_like_cloudtrail() {
            return Document::Record;
        }
        Document::NotARecord(SkipReason::NotACloudTrailRecord)
    }
}
