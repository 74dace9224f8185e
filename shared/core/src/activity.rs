//! The normalised `Activity`: one per CloudTrail record, with the canonical principal.

use crate::action;
use crate::input::Origin;
use crate::record::{RawRecord, SkipReason, UserIdentity};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Who acted, as far as the record shows (the inventory's declared kind comes first, see
/// `classify_actor`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum ActorClass {
    Human,
    Workload,
    Agent,
    Service,
    Unknown,
}

impl ActorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorClass::Human => "human",
            ActorClass::Workload => "workload",
            ActorClass::Agent => "agent",
            ActorClass::Service => "service",
            ActorClass::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "human" => ActorClass::Human,
            "workload" => ActorClass::Workload,
            "agent" => ActorClass::Agent,
            "service" => ActorClass::Service,
            "unknown" => ActorClass::Unknown,
            _ => return None,
        })
    }

    pub fn is_non_human(self) -> bool {
        matches!(self, ActorClass::Workload | ActorClass::Agent)
    }
}

/// One CloudTrail record, normalised.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub event_id: Option<String>,
    #[serde(serialize_with = "ser_time")]
    pub event_time: Option<DateTime<Utc>>,
    pub account_id: Option<String>,
    pub identity_account_id: Option<String>,
    pub region: Option<String>,
    pub action: String,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub principal: String,
    pub identity_type: String,
    pub actor_class: ActorClass,
    pub actor_evidence: String,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    pub on_behalf_of: Option<String>,
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub vpc_endpoint_id: Option<String>,
    pub invoked_by: Option<String>,
    pub error_code: Option<String>,
    pub read_only: Option<bool>,
    pub event_type: Option<String>,
    pub event_category: Option<String>,
    pub shared_event_id: Option<String>,
    pub console_session: bool,
    pub mfa_authenticated: Option<bool>,
    pub web_identity_provider: Option<String>,
    pub resources: Vec<String>,
    /// For IAM identity-creating calls: the principal being created (user, role, key owner).
    pub created_principal: Option<String>,
    /// For successful IAM lifecycle calls (identities created or deleted, access keys
    /// created, activated, deactivated or deleted, tags set or removed): what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<crate::lifecycle::LifecycleEvent>,
    /// For records without an eventID: a hash of the record's JSON text, so the same record
    /// counts once wherever it is read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_key: Option<String>,
    pub origin: Origin,
}

fn ser_time<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(t)),
        None => s.serialize_none(),
    }
}

/// Times are written as `2024-03-05T10:15:30Z` (sortable, second precision like CloudTrail).
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses an eventTime: RFC 3339 as CloudTrail writes it, else the forms other exporters
/// use (a space instead of `T`, no zone meaning UTC, epoch seconds or milliseconds).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let naive = s.trim_end_matches(['Z', 'z']);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(t.and_utc());
        }
    }
    if !s.is_empty() && s.len() <= 13 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        // Ten digits or fewer are seconds (until 2286), more are milliseconds.
        return if s.len() <= 10 {
            DateTime::from_timestamp(n, 0)
        } else {
            DateTime::from_timestamp_millis(n)
        };
    }
    None
}

impl Activity {
    /// The key that makes one action count once: `sharedEventID` when present (the copies of
    /// a cross-account call share it), else recipient account + eventID, else a hash of the
    /// record's text, else where it was read.
    pub fn dedup_key(&self) -> String {
        if let Some(s) = &self.shared_event_id {
            return format!("shared:{s}");
        }
        match (&self.event_id, &self.content_key) {
            (Some(id), _) => format!("{}:{id}", self.account_id.as_deref().unwrap_or("")),
            (None, Some(k)) => format!("content:{k}"),
            (None, None) => format!("origin:{}#{}", self.origin.file, self.origin.index),
        }
    }

    pub fn is_success(&self) -> bool {
        self.error_code.is_none()
    }
}

/// Normalises a record. Records that carry no identity to check (Insights events, records
/// without userIdentity) come back as a skip reason.
pub fn normalise(rec: &RawRecord<'_>, origin: Origin) -> Result<Activity, SkipReason> {
    let mut act = normalise_unclassified(rec, origin)?;
    let (class, evidence) = evidence_class(&act);
    act.actor_class = class;
    act.actor_evidence = evidence;
    Ok(act)
}

/// `normalise` without the evidence-based actor class (`actor_evidence` left empty): the
/// evaluator derives it only when no governance record declares the kind.
pub fn normalise_unclassified(rec: &RawRecord<'_>, origin: Origin) -> Result<Activity, SkipReason> {
    let is_insight = rec.event_category.as_deref() == Some("Insight")
        || rec.event_type.as_deref() == Some("AwsCloudTrailInsight");
    if is_insight {
        return Err(SkipReason::InsightEvent);
    }
    let Some(ui) = rec.user_identity.as_ref() else {
        return Err(SkipReason::NoUserIdentity);
    };
    let account_id = rec
        .recipient_account_id
        .as_deref()
        .or(ui.account_id.as_deref())
        .map(str::to_owned);
    let id = identify(ui, rec, account_id.as_deref());
    let event_name = rec.event_name.as_deref().map(str::to_owned);
    let action = match (&rec.event_source, &event_name) {
        (Some(src), Some(name)) => action::action(src, name),
        (None, Some(name)) => format!("unknown:{}", action::strip_version_suffix(name)),
        (Some(src), None) => format!("{}:unknown", action::service_prefix(src)),
        (None, None) => "unknown:unknown".to_string(),
    };
    let session_ctx = ui.session_context.as_ref();
    let source_identity = session_ctx
        .and_then(|c| c.source_identity.as_deref().map(str::to_owned))
        .or_else(|| request_param_str(rec, "sourceIdentity"));
    let mfa = session_ctx
        .and_then(|c| c.attributes.as_ref())
        .and_then(|a| a.mfa_authenticated)
        .or_else(|| console_mfa(rec));
    let web_identity_provider = session_ctx
        .and_then(|c| c.web_id_federation_data.as_ref())
        .and_then(|w| w.federated_provider.as_deref().map(str::to_owned))
        .or_else(|| id.web_provider.clone());
    let console_session = rec.session_credential_from_console == Some(true)
        || rec
            .event_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("AwsConsoleSignIn"));
    let mut act = Activity {
        event_id: rec.event_id.as_deref().map(str::to_owned),
        event_time: rec.event_time.as_deref().and_then(parse_time),
        identity_account_id: ui
            .account_id
            .as_deref()
            .map(str::to_owned)
            .or_else(|| id.account.clone()),
        account_id,
        region: rec.aws_region.as_deref().map(str::to_owned),
        action,
        event_source: rec.event_source.as_deref().map(str::to_owned),
        event_name,
        principal: id.principal,
        identity_type: id.identity_type,
        actor_class: ActorClass::Unknown,
        actor_evidence: String::new(),
        session_name: id.session_name,
        source_identity,
        on_behalf_of: id.on_behalf_of,
        access_key_id: ui.access_key_id.as_deref().map(str::to_owned),
        source_ip: rec.source_ip_address.as_deref().map(str::to_owned),
        user_agent: rec.user_agent.as_deref().map(str::to_owned),
        vpc_endpoint_id: rec.vpc_endpoint_id.as_deref().map(str::to_owned),
        invoked_by: ui.invoked_by.as_deref().map(str::to_owned),
        error_code: rec.error_code.as_deref().map(str::to_owned),
        read_only: rec.read_only,
        event_type: rec.event_type.as_deref().map(str::to_owned),
        event_category: rec.event_category.as_deref().map(str::to_owned),
        shared_event_id: rec.shared_event_id.as_deref().map(str::to_owned),
        console_session,
        mfa_authenticated: mfa,
        web_identity_provider,
        resources: Vec::new(),
        created_principal: None,
        lifecycle: None,
        content_key: None,
        origin,
    };
    crate::resources::extract(rec, &mut act);
    Ok(act)
}

/// `additionalEventData.MFAUsed` of a console sign-in ("Yes"/"No").
fn console_mfa(rec: &RawRecord<'_>) -> Option<bool> {
    let raw = rec.additional_event_data.as_ref()?;
    if !raw.get().contains("MFAUsed") {
        return None;
    }
    let v: Value = serde_json::from_str(raw.get()).ok()?;
    match v.get("MFAUsed")?.as_str()? {
        "Yes" => Some(true),
        "No" => Some(false),
        _ => None,
    }
}

fn request_param_str(rec: &RawRecord<'_>, key: &str) -> Option<String> {
    let raw = rec.request_parameters.as_ref()?;
    // Only parse when the key is there at all: most records never need this.
    if !raw.get().contains(key) {
        return None;
    }
    let v: Value = serde_json::from_str(raw.get()).ok()?;
    v.get(key)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

struct Identified {
    principal: String,
    identity_type: String,
    session_name: Option<String>,
    on_behalf_of: Option<String>,
    account: Option<String>,
    web_provider: Option<String>,
}

fn partition_of(arn: Option<&str>, region: Option<&str>) -> &'static str {
    if let Some(a) = arn {
        if a.starts_with("arn:aws-cn:") {
            return "aws-cn";
        }
        if a.starts_with("arn:aws-us-gov:") {
            return "aws-us-gov";
        }
    }
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

/// Splits `arn:aws:sts::ACCT:assumed-role/NAME/SESSION` into (account, role name, session).
fn parse_sts_arn(arn: &str) -> Option<(&str, &str, Option<&str>)> {
    let (svc, _region, acct, res) = action::arn_parts(arn)?;
    if svc != "sts" {
        return None;
    }
    let rest = res.strip_prefix("assumed-role/")?;
    let (name, session) = match rest.split_once('/') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    Some((acct, name, session))
}

/// The provider part of a web-identity or SAML principalId: `<provider>:<aud>:<sub>` where the
/// provider may itself contain colons (an IAM OIDC provider ARN).
fn split_provider(principal_id: &str) -> Option<&str> {
    for marker in [":oidc-provider/", ":saml-provider/"] {
        if let Some(at) = principal_id.find(marker) {
            let after = at + marker.len();
            let end = principal_id[after..]
                .find(':')
                .map(|i| after + i)
                .unwrap_or(principal_id.len());
            return Some(&principal_id[..end]);
        }
    }
    principal_id.split_once(':').map(|(p, _)| p)
}

fn identify(ui: &UserIdentity<'_>, rec: &RawRecord<'_>, account: Option<&str>) -> Identified {
    let acct = ui.account_id.as_deref().or(account).unwrap_or("unknown");
    let arn = ui.arn.as_deref();
    let issuer = ui
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref());
    let mut out = Identified {
        principal: String::new(),
        identity_type: String::new(),
        session_name: None,
        on_behalf_of: None,
        account: None,
        web_provider: None,
    };
    let declared = ui.identity_type.as_deref();
    // Records without a type: AWS service events carry only invokedBy; else infer from the ARN.
    let ty = match declared {
        Some(t) => t.to_string(),
        None if ui.invoked_by.is_some() => "AWSService".to_string(),
        None => match arn {
            Some(a) if a.contains(":assumed-role/") => "AssumedRole".to_string(),
            Some(a) if a.contains(":user/") => "IAMUser".to_string(),
            Some(a) if a.ends_with(":root") => "Root".to_string(),
            Some(a) if a.contains(":federated-user/") => "FederatedUser".to_string(),
            _ => "Unknown".to_string(),
        },
    };
    out.identity_type = ty.clone();
    match ty.as_str() {
        "IAMUser" => {
            out.principal = match (arn, ui.user_name.as_deref()) {
                (Some(a), _) => a.to_string(),
                (None, Some(n)) => format!(
                    "arn:{}:iam::{acct}:user/{n}",
                    partition_of(None, rec.aws_region.as_deref())
                ),
                (None, None) => unknown_principal(acct, ui),
            };
        }
        "Root" => {
            let root_acct = ui
                .account_id
                .as_deref()
                .or(ui.principal_id.as_deref())
                .or(account)
                .unwrap_or("unknown");
            out.principal = format!(
                "arn:{}:iam::{root_acct}:root",
                partition_of(arn, rec.aws_region.as_deref())
            );
        }
        "AssumedRole" => {
            let sts = arn.and_then(parse_sts_arn);
            out.session_name = sts.and_then(|(_, _, s)| s).map(str::to_owned).or_else(|| {
                ui.principal_id
                    .as_deref()
                    .and_then(|p| p.split_once(':'))
                    .map(|(_, s)| s.to_owned())
            });
            out.principal = match (issuer.and_then(|i| i.arn.as_deref()), sts) {
                // Some records carry the session ARN where the role ARN belongs: convert it.
                (Some(issuer_arn), _) if parse_sts_arn(issuer_arn).is_some() => {
                    match parse_sts_arn(issuer_arn) {
                        Some((a, name, _)) => format!(
                            "arn:{}:iam::{a}:role/{name}",
                            partition_of(Some(issuer_arn), rec.aws_region.as_deref())
                        ),
                        None => issuer_arn.to_string(),
                    }
                }
                (Some(issuer_arn), _) => issuer_arn.to_string(),
                (None, Some((a, name, _))) => format!(
                    "arn:{}:iam::{a}:role/{name}",
                    partition_of(arn, rec.aws_region.as_deref())
                ),
                (None, None) => unknown_principal(acct, ui),
            };
        }
        "FederatedUser" => {
            out.session_name = arn
                .and_then(|a| a.split_once(":federated-user/"))
                .map(|(_, n)| n.to_owned())
                .or_else(|| {
                    ui.principal_id
                        .as_deref()
                        .and_then(|p| p.split_once(':'))
                        .map(|(_, s)| s.to_owned())
                });
            out.principal = match (issuer.and_then(|i| i.arn.as_deref()), arn) {
                (Some(i), _) => i.to_string(),
                (None, Some(a)) => a.to_string(),
                (None, None) => unknown_principal(acct, ui),
            };
        }
        "AWSService" => {
            let svc = ui
                .invoked_by
                .as_deref()
                .or(rec
                    .source_ip_address
                    .as_deref()
                    .filter(|s| s.ends_with(".amazonaws.com")))
                .unwrap_or("unknown");
            out.principal = format!("service:{svc}");
        }
        "AWSAccount" => {
            let a = ui.account_id.as_deref().unwrap_or(acct);
            out.principal = format!("account:{a}");
            out.account = Some(a.to_string());
        }
        "IdentityCenterUser" => {
            let obo = ui.on_behalf_of.as_ref();
            let user = obo.and_then(|o| o.user_id.as_deref());
            let store = obo
                .and_then(|o| o.identity_store_arn.as_deref())
                .map(|s| s.rsplit('/').next().unwrap_or(s));
            out.on_behalf_of = user.map(str::to_owned);
            out.principal = match (store, user) {
                (Some(s), Some(u)) => format!("identitycenter:{s}/{u}"),
                (None, Some(u)) => format!("identitycenter:unknown/{u}"),
                _ => unknown_principal(acct, ui),
            };
        }
        "SAMLUser" | "WebIdentityUser" => {
            let scheme = if ty == "SAMLUser" {
                "saml"
            } else {
                "webidentity"
            };
            let provider = ui
                .identity_provider
                .as_deref()
                .map(str::to_owned)
                .or_else(|| {
                    ui.principal_id
                        .as_deref()
                        .and_then(split_provider)
                        .map(str::to_owned)
                });
            let user = ui.user_name.as_deref().map(str::to_owned).or_else(|| {
                let pid = ui.principal_id.as_deref()?;
                let p = provider.as_deref()?;
                pid.strip_prefix(p)
                    .map(|r| r.trim_start_matches(':'))
                    .map(|r| r.rsplit_once(':').map(|(_, s)| s).unwrap_or(r).to_owned())
            });
            if ty == "WebIdentityUser" {
                out.web_provider = provider.clone();
            }
            out.principal = format!(
                "{scheme}:{}/{}",
                provider.as_deref().unwrap_or("unknown"),
                user.as_deref().unwrap_or("unknown")
            );
            out.session_name = user;
        }
        _ => out.principal = unknown_principal(acct, ui),
    }
    if out.on_behalf_of.is_none() {
        out.on_behalf_of = ui
            .on_behalf_of
            .as_ref()
            .and_then(|o| o.user_id.as_deref().map(str::to_owned));
    }
    out
}

fn unknown_principal(acct: &str, ui: &UserIdentity<'_>) -> String {
    match ui.principal_id.as_deref().or(ui.user_name.as_deref()) {
        Some(p) => format!("unknown:{acct}/{p}"),
        None => format!("unknown:{acct}"),
    }
}

/// User-agent fragments of AI-agent frameworks and agent runtimes (lower case).
const AGENT_USER_AGENTS: &[&str] = &[
    "langchain",
    "langgraph",
    "llama_index",
    "llama-index",
    "llamaindex",
    "crewai",
    "autogen",
    "semantic-kernel",
    "strands-agents",
    "openai-agents",
    "bedrock-agent",
    "bedrockagent",
    "agentcore",
    "mcp-server",
    "awslabs#mcp",
    "awslabs/mcp",
    "claude-code",
    "pydantic-ai",
    "smolagents",
];

fn is_instance_id(s: &str) -> bool {
    s.len() >= 10
        && s.len() <= 19
        && s.starts_with("i-")
        && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Classifies the actor from the record alone, returning the evidence used.
pub fn evidence_class(a: &Activity) -> (ActorClass, String) {
    let ua = a.user_agent.as_deref().unwrap_or("").to_ascii_lowercase();
    if let Some(fragment) = AGENT_USER_AGENTS.iter().find(|f| ua.contains(*f)) {
        return (
            ActorClass::Agent,
            format!("user agent contains the agent framework marker '{fragment}'"),
        );
    }
    match a.identity_type.as_str() {
        "AWSService" => {
            return (
                ActorClass::Service,
                format!(
                    "AWS service {} acted",
                    a.invoked_by.as_deref().unwrap_or("(unnamed)")
                ),
            )
        }
        "Root" => return (ActorClass::Human, "root user".to_string()),
        "IdentityCenterUser" => return (ActorClass::Human, "IAM Identity Center user".to_string()),
        "SAMLUser" => return (ActorClass::Human, "SAML federated user".to_string()),
        "WebIdentityUser" => {
            return (
                ActorClass::Workload,
                "web identity (OIDC) federation".to_string(),
            )
        }
        _ => {}
    }
    if a.event_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("AwsConsoleSignIn"))
    {
        return (ActorClass::Human, "console sign-in".to_string());
    }
    if a.console_session {
        return (ActorClass::Human, "console session credentials".to_string());
    }
    if a.principal
        .contains(":role/aws-reserved/sso.amazonaws.com/")
        || a.principal.contains(":role/AWSReservedSSO_")
    {
        return (
            ActorClass::Human,
            "IAM Identity Center permission-set role".to_string(),
        );
    }
    if let Some(s) = a.session_name.as_deref() {
        if is_instance_id(s) {
            return (
                ActorClass::Workload,
                format!("session name {s} is an EC2 instance id"),
            );
        }
        if a.identity_type == "AssumedRole" && s.contains('@') {
            return (
                ActorClass::Human,
                format!("session name {s} is an e-mail address"),
            );
        }
    }
    if ua.contains("aws_lambda_") || ua.contains("exec-env/aws_lambda") {
        return (
            ActorClass::Workload,
            "Lambda execution environment user agent".to_string(),
        );
    }
    if a.web_identity_provider.is_some() {
        return (
            ActorClass::Workload,
            "web identity (OIDC) federated session".to_string(),
        );
    }
    (
        ActorClass::Unknown,
        "no declared kind and no evidence".to_string(),
    )
}
