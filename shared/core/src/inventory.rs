//! The governance inventory: records keyed by principal or wildcard pattern, plus settings.
//! Loaded from YAML (one file or a folder); errors name the file and line.

use crate::pattern::Pattern;
use crate::rule_id::{RuleId, Severity};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Human,
    Workload,
    Agent,
}

impl Kind {
    pub fn actor_class(self) -> crate::activity::ActorClass {
        use crate::activity::ActorClass;
        match self {
            Kind::Human => ActorClass::Human,
            Kind::Workload => ActorClass::Workload,
            Kind::Agent => ActorClass::Agent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    #[default]
    Active,
    Suspended,
    Retired,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Active => "active",
            RecordStatus::Suspended => "suspended",
            RecordStatus::Retired => "retired",
        }
    }
}

/// A point in time written as a date (`2026-12-31`: valid through the end of that day, UTC)
/// or an RFC 3339 timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    pub at: DateTime<Utc>,
    text_is_date: bool,
}

impl Deadline {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let end = d.and_time(NaiveTime::from_hms_opt(23, 59, 59)?).and_utc();
            return Some(Deadline {
                at: end,
                text_is_date: true,
            });
        }
        crate::activity::parse_time(s).map(|at| Deadline {
            at,
            text_is_date: false,
        })
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text_is_date {
            write!(f, "{}", self.at.format("%Y-%m-%d"))
        } else {
            f.write_str(&crate::activity::format_time(&self.at))
        }
    }
}

impl<'de> Deserialize<'de> for Deadline {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Deadline::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid date '{s}' (expected YYYY-MM-DD or an RFC 3339 time)"
            ))
        })
    }
}

impl Serialize for Deadline {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A network: CIDR (`203.0.113.0/24`) or a single address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr(pub IpNet);

impl Cidr {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.contains(ip)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim();
        if let Ok(n) = t.parse::<IpNet>() {
            return Ok(Cidr(n));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Cidr(IpNet::from(ip)));
        }
        Err(serde::de::Error::custom(format!(
            "invalid network '{s}' (expected a CIDR such as 203.0.113.0/24 or an IP address)"
        )))
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub last_reviewed: Deadline,
    pub interval_days: u32,
}

/// The longest review interval `validate` accepts (ten years).
pub const MAX_REVIEW_INTERVAL_DAYS: u32 = 3653;

impl Review {
    /// Why a review due at `due` is overdue (the event rule and the sweep say it alike).
    pub fn overdue_reason(&self, due: &DateTime<Utc>) -> String {
        format!(
            "review was due {} (last reviewed {}, every {} days)",
            crate::activity::format_time(due),
            self.last_reviewed,
            self.interval_days
        )
    }

    /// When the next review is due; `None` if that is beyond the calendar (never due).
    pub fn due(&self) -> Option<DateTime<Utc>> {
        self.last_reviewed
            .at
            .checked_add_signed(chrono::Duration::days(i64::from(self.interval_days)))
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialPolicy {
    #[serde(default)]
    pub max_key_age_days: Option<u32>,
    #[serde(default)]
    pub short_lived_only: bool,
}

/// A list that, when present, must name at least one value (an empty list would silently
/// mean "any": leave the key out for that).
fn non_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v = Vec::<T>::deserialize(d)?;
    if v.is_empty() {
        return Err(serde::de::Error::custom(
            "empty list: list at least one value, or leave the key out to allow any",
        ));
    }
    Ok(v)
}

/// An allow or deny statement. Every list that is present constrains; absent means any.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(deserialize_with = "non_empty")]
    pub actions: Vec<Pattern>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub resources: Vec<Pattern>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub regions: Vec<Pattern>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub source_cidrs: Vec<Cidr>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub vpc_endpoints: Vec<Pattern>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub via_services: Vec<Pattern>,
}

impl Statement {
    pub fn label(&self, kind: &str, index: usize) -> String {
        match &self.sid {
            Some(s) => format!("{kind} '{s}'"),
            None => format!("{kind}[{index}]"),
        }
    }

    pub fn has_network_condition(&self) -> bool {
        !self.source_cidrs.is_empty()
            || !self.vpc_endpoints.is_empty()
            || !self.via_services.is_empty()
    }
}

/// An approved exception to the record: suppresses matching findings until it expires.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Rules it covers; empty means every rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Pattern>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub resources: Vec<Pattern>,
    pub reason: String,
    pub approver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub expires: Deadline,
}

/// The governance record of one identity (or of every identity a pattern matches).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceRecord {
    pub principal: Pattern,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default)]
    pub status: RecordStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<Statement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Statement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<Exception>,
}

impl GovernanceRecord {
    pub fn owner(&self) -> Option<&str> {
        self.owner
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
    }
}

/// AWS service principals and service-linked roles: AWS operates them, no customer owns them.
fn default_ignore() -> Vec<Pattern> {
    vec![
        Pattern::new("service:*"),
        Pattern::new("arn:*:iam::*:role/aws-service-role/*"),
    ]
}

/// Inventory-wide settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Account id -> environment name (e.g. "111122223333": prod).
    #[serde(default)]
    pub accounts: BTreeMap<String, String>,
    /// Principals never evaluated. Default: AWS service principals (`service:*`) and
    /// service-linked roles (`arn:*:iam::*:role/aws-service-role/*`).
    #[serde(default = "default_ignore")]
    pub ignore_principals: Vec<Pattern>,
    #[serde(default)]
    pub severity_overrides: BTreeMap<RuleId, Severity>,
    #[serde(default)]
    pub default_max_key_age_days: Option<u32>,
    #[serde(default)]
    pub known_owners: Vec<String>,
    /// How the inventory sweep judges what it discovers in IAM.
    #[serde(default)]
    pub sweep: SweepSettings,
}

/// Maximum access key age when neither the record nor `default_max_key_age_days` sets one
/// (CIS AWS Foundations: rotate keys every 90 days or less).
pub const DEFAULT_MAX_KEY_AGE_DAYS: u32 = 90;

fn default_owner_tags() -> Vec<String> {
    ["govtrail:owner", "owner", "Owner"]
        .map(String::from)
        .to_vec()
}

fn default_purpose_tags() -> Vec<String> {
    ["govtrail:purpose", "purpose", "Purpose"]
        .map(String::from)
        .to_vec()
}

fn default_kind_tags() -> Vec<String> {
    vec!["govtrail:kind".to_string()]
}

/// Settings of the inventory sweep (`settings.sweep` in the inventory YAML).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepSettings {
    /// An identity or active key unused for longer than this is `unused-credential` (90).
    pub unused_after_days: u32,
    /// `review-due-soon` fires this many days before a review falls due (14).
    pub review_due_soon_days: u32,
    /// `exception-expiring` fires this many days before an exception expires (14).
    pub exception_expiring_days: u32,
    /// Human identities may not hold access keys (`keys-on-human`); the root user never may.
    pub forbid_keys_on_humans: bool,
    /// Report service-linked roles and other AWS-managed identities (`/aws-service-role/`,
    /// `/aws-reserved/`) like any other; by default the sweep counts and skips them.
    pub include_aws_managed: bool,
    /// Tag keys `inventory discover` reads the owner, purpose and kind from (first present wins).
    #[serde(default = "default_owner_tags")]
    pub owner_tags: Vec<String>,
    #[serde(default = "default_purpose_tags")]
    pub purpose_tags: Vec<String>,
    #[serde(default = "default_kind_tags")]
    pub kind_tags: Vec<String>,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            unused_after_days: 90,
            review_due_soon_days: 14,
            exception_expiring_days: 14,
            forbid_keys_on_humans: false,
            include_aws_managed: false,
            owner_tags: default_owner_tags(),
            purpose_tags: default_purpose_tags(),
            kind_tags: default_kind_tags(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            accounts: BTreeMap::new(),
            ignore_principals: default_ignore(),
            severity_overrides: BTreeMap::new(),
            default_max_key_age_days: None,
            known_owners: Vec::new(),
            sweep: SweepSettings::default(),
        }
    }
}

impl Settings {
    pub fn severity(&self, rule: RuleId) -> Severity {
        self.severity_overrides
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_severity())
    }

    pub fn is_ignored(&self, principal: &str) -> bool {
        self.ignore_principals.iter().any(|p| p.matches(principal))
    }

    pub fn environment_of(&self, account: &str) -> Option<&str> {
        self.accounts.get(account).map(String::as_str)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    settings: Option<Settings>,
    #[serde(default)]
    identities: Vec<GovernanceRecord>,
}

/// An inventory problem, with the file and line (1-based) where known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryError {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.path, l, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct InventoryErrors(pub Vec<InventoryError>);

/// The loaded inventory: exact records in a map, wildcard records by specificity.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub settings: Settings,
    records: Vec<Arc<GovernanceRecord>>,
    exact: HashMap<String, usize>,
    /// Exact IAM user and role records by (account, "user"/"role", lower-case name): IAM names
    /// are unique per account whatever the path, and CloudTrail often names a user or role
    /// without its path (CreateAccessKey's userName, a session ARN without its issuer).
    by_name: HashMap<(String, &'static str, String), usize>,
    /// Indexes into `records`, most specific first.
    patterns: Vec<usize>,
}

impl Inventory {
    pub fn new(settings: Settings, records: Vec<GovernanceRecord>) -> Self {
        let records: Vec<Arc<GovernanceRecord>> = records.into_iter().map(Arc::new).collect();
        let mut exact = HashMap::new();
        let mut by_name = HashMap::new();
        let mut patterns = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if r.principal.is_wildcard() {
                patterns.push(i);
            } else {
                exact.entry(r.principal.as_str().to_string()).or_insert(i);
                if let Some(key) = iam_name_key(r.principal.as_str()) {
                    by_name.entry(key).or_insert(i);
                }
            }
        }
        // Most literal characters first; file order breaks ties (sort is stable).
        patterns.sort_by_key(|&i| std::cmp::Reverse(records[i].principal.literal_len()));
        Inventory {
            settings,
            records,
            exact,
            by_name,
            patterns,
        }
    }

    pub fn records(&self) -> &[Arc<GovernanceRecord>] {
        &self.records
    }

    /// The record governing `principal`: an exact record, else the most specific pattern.
    pub fn find(&self, principal: &str) -> Option<&Arc<GovernanceRecord>> {
        if let Some(&i) = self.exact.get(principal) {
            return self.records.get(i);
        }
        if !self.by_name.is_empty() {
            if let Some(i) = iam_name_key(principal).and_then(|k| self.by_name.get(&k)) {
                return self.records.get(*i);
            }
        }
        self.patterns
            .iter()
            .map(|&i| &self.records[i])
            .find(|r| r.principal.matches(principal))
    }

    /// Loads a YAML file or every `*.yaml`/`*.yml` file of a folder (sorted, recursive).
    pub fn load(path: &Path) -> Result<Inventory, InventoryErrors> {
        let files = inventory_files(path).map_err(|e| {
            InventoryErrors(vec![InventoryError {
                path: path.display().to_string(),
                line: None,
                message: e,
            }])
        })?;
        let mut texts = Vec::new();
        let mut errors = Vec::new();
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(t) => texts.push((f.display().to_string(), t)),
                Err(e) => errors.push(InventoryError {
                    path: f.display().to_string(),
                    line: None,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(InventoryErrors(errors));
        }
        Self::from_texts(&texts)
    }

    /// Parses and validates inventory texts given as (name, YAML).
    pub fn from_texts(texts: &[(String, String)]) -> Result<Inventory, InventoryErrors> {
        let mut errors = Vec::new();
        let mut settings: Option<(String, Settings)> = None;
        let mut records: Vec<(usize, GovernanceRecord)> = Vec::new();
        for (ti, (name, text)) in texts.iter().enumerate() {
            let parsed: InventoryFile = match serde_yaml::from_str(text) {
                Ok(p) => p,
                Err(e) => {
                    let message = strip_location(&e.to_string());
                    let line = refine_line(text, e.location().map(|l| l.line()), &message);
                    errors.push(InventoryError {
                        path: name.clone(),
                        line,
                        message,
                    });
                    continue;
                }
            };
            if let Some(v) = parsed.version {
                if v != 1 {
                    errors.push(InventoryError {
                        path: name.clone(),
                        line: top_key_line(text, "version"),
                        message: format!(
                            "unsupported inventory version {v} (this govtrail reads version 1)"
                        ),
                    });
                }
            }
            if let Some(s) = parsed.settings {
                if let Some((first, _)) = &settings {
                    errors.push(InventoryError {
                        path: name.clone(),
                        line: top_key_line(text, "settings"),
                        message: format!(
                            "settings are already defined in {first}; define them in one file"
                        ),
                    });
                } else {
                    settings = Some((name.clone(), s));
                }
            }
            records.extend(parsed.identities.into_iter().map(|r| (ti, r)));
        }
        let settings = settings.map(|(_, s)| s).unwrap_or_default();
        validate(texts, &settings, &records, &mut errors);
        if !errors.is_empty() {
            return Err(InventoryErrors(errors));
        }
        Ok(Inventory::new(
            settings,
            records.into_iter().map(|(_, r)| r).collect(),
        ))
    }
}

/// (account, "user"/"role", lower-case name) of an IAM user or role ARN: IAM names are
/// unique per account, whatever the path or case.
pub fn iam_name_key(arn: &str) -> Option<(String, &'static str, String)> {
    let (svc, _region, acct, res) = crate::action::arn_parts(arn)?;
    if svc != "iam" {
        return None;
    }
    let (kind, rest) = if let Some(r) = res.strip_prefix("user/") {
        ("user", r)
    } else if let Some(r) = res.strip_prefix("role/") {
        ("role", r)
    } else {
        return None;
    };
    let name = rest.rsplit('/').next()?;
    if name.is_empty() {
        return None;
    }
    Some((acct.to_string(), kind, name.to_ascii_lowercase()))
}

fn inventory_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot open: {e}"))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in rd {
            let p = entry
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                .path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err("no .yaml or .yml files in this folder".to_string());
    }
    Ok(out)
}

/// serde_yaml appends " at line L column C"; we print the line ourselves.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// serde_yaml places some value errors at the start of the enclosing mapping; when the
/// message quotes the offending value, point at the line that holds it.
fn refine_line(text: &str, line: Option<usize>, message: &str) -> Option<usize> {
    let start = line?;
    let quoted = message.split('\'').nth(1).filter(|q| !q.is_empty());
    let q = match quoted {
        Some(q) => q,
        None if message.contains("empty list") => "[]",
        None => return line,
    };
    text.lines()
        .enumerate()
        .skip(start - 1)
        .find(|(_, l)| l.contains(q))
        .map(|(i, _)| i + 1)
        .or(line)
}

/// The 1-based line of the `nth` record whose `principal:` value is `key` (comments and
/// other keys are not confused with it).
fn principal_line(text: &str, key: &str, nth: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let code = l.split(" #").next().unwrap_or(l).trim_start();
            let code = code.strip_prefix("- ").unwrap_or(code).trim_start();
            code.strip_prefix("principal:")
                .is_some_and(|v| v.trim().trim_matches(|c| c == '\'' || c == '"') == key)
        })
        .nth(nth)
        .map(|(i, _)| i + 1)
}

/// The 1-based line of a top-level key (`settings:` at column 0, not in a comment).
fn top_key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// The 1-based line of the `nth` occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str, nth: usize) -> Option<usize> {
    let at = text.match_indices(needle).nth(nth)?.0;
    Some(text[..at].matches('\n').count() + 1)
}

fn looks_like_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn validate(
    texts: &[(String, String)],
    settings: &Settings,
    records: &[(usize, GovernanceRecord)],
    errors: &mut Vec<InventoryError>,
) {
    let env_names: Vec<&str> = settings.accounts.values().map(String::as_str).collect();
    for acct in settings.accounts.keys() {
        if !looks_like_account_id(acct) {
            errors.push(InventoryError {
                path: texts
                    .iter()
                    .find(|(_, t)| t.contains(acct.as_str()))
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default(),
                line: texts.iter().find_map(|(_, t)| line_of(t, acct, 0)),
                message: format!("settings.accounts: '{acct}' is not a 12-digit AWS account id"),
            });
        }
    }
    // Lines are looked up only for records with a problem (no quadratic scans).
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut seen_names: HashMap<(String, &'static str, String), (usize, &str, usize)> =
        HashMap::new();
    let mut occurrences: HashMap<(usize, &str), usize> = HashMap::new();
    for (ti, r) in records {
        let (name, text) = &texts[*ti];
        let key = r.principal.as_str();
        let nth = occurrences.entry((*ti, key)).or_insert(0);
        let this_nth = *nth;
        *nth += 1;
        let line = std::cell::OnceCell::new();
        let line_here = || *line.get_or_init(|| principal_line(text, key, this_nth));
        let mut err = |message: String| {
            errors.push(InventoryError {
                path: name.clone(),
                line: line_here(),
                message: format!("record '{key}': {message}"),
            })
        };
        if let Some(&(pti, pnth)) = seen.get(key) {
            err(format!(
                "duplicate record (first defined in {} line {})",
                texts[pti].0,
                principal_line(&texts[pti].1, key, pnth).unwrap_or(0)
            ));
        } else {
            seen.insert(key, (*ti, this_nth));
            if !r.principal.is_wildcard() {
                if let Some(nk) = iam_name_key(key) {
                    if let Some(&(pti, pkey, pnth)) = seen_names.get(&nk) {
                        err(format!(
                            "names the same IAM {} as record '{pkey}' ({} line {}); IAM names are unique per account whatever the path or case",
                            nk.1,
                            texts[pti].0,
                            principal_line(&texts[pti].1, pkey, pnth).unwrap_or(0)
                        ));
                    } else {
                        seen_names.insert(nk, (*ti, key, this_nth));
                    }
                }
            }
        }
        for env in &r.environments {
            if !looks_like_account_id(env) && !env_names.contains(&env.as_str()) {
                err(format!(
                    "environment '{env}' is neither an account id nor an environment named in settings.accounts"
                ));
            }
        }
        for (i, s) in r.allow.iter().chain(r.deny.iter()).enumerate() {
            if s.actions.is_empty() {
                err(format!(
                    "statement {} has no actions",
                    s.label("statement", i)
                ));
            }
            for a in &s.actions {
                let ok = a.as_str() == "*"
                    || a.as_str()
                        .split_once(':')
                        .is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty());
                if !ok {
                    err(format!(
                        "action '{}' must be service:Action (e.g. s3:GetObject) or *",
                        a.as_str()
                    ));
                }
            }
        }
        for e in &r.exceptions {
            if e.reason.trim().is_empty() || e.approver.trim().is_empty() {
                err("exception needs a reason and an approver".to_string());
            }
        }
        if let Some(rv) = &r.review {
            if rv.interval_days == 0 || rv.interval_days > MAX_REVIEW_INTERVAL_DAYS {
                err(format!(
                    "review.interval_days must be between 1 and {MAX_REVIEW_INTERVAL_DAYS}"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(y: &str) -> Result<Inventory, InventoryErrors> {
        Inventory::from_texts(&[("inv.yaml".to_string(), y.to_string())])
    }

    #[test]
    fn exact_beats_pattern_and_specific_beats_general() {
        let inv = load(
            "identities:\n\
             - principal: 'arn:aws:iam::*:role/*'\n  kind: workload\n  owner: a\n\
             - principal: 'arn:aws:iam::*:role/ci/*'\n  kind: workload\n  owner: b\n\
             - principal: 'arn:aws:iam::111122223333:role/ci/deploy'\n  kind: workload\n  owner: c\n",
        )
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
        let owner = |p: &str| inv.find(p).and_then(|r| r.owner.clone());
        assert_eq!(
            owner("arn:aws:iam::111122223333:role/ci/deploy").as_deref(),
            Some("c")
        );
        assert_eq!(
            owner("arn:aws:iam::111122223333:role/ci/other").as_deref(),
            Some("b")
        );
        assert_eq!(
            owner("arn:aws:iam::111122223333:role/x").as_deref(),
            Some("a")
        );
        assert_eq!(owner("arn:aws:iam::111122223333:user/x"), None);
        // A role named without its path (e.g. from a session ARN) finds its exact record.
        assert_eq!(
            owner("arn:aws:iam::111122223333:role/deploy").as_deref(),
            Some("c")
        );
        assert_eq!(
            owner("arn:aws:iam::444455556666:role/deploy").as_deref(),
            Some("a")
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = load("identities:\n  - principal: x\n    kind: robot\n")
            .err()
            .map(|e| e.0);
        let err = err.unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].path, "inv.yaml");
        assert_eq!(err[0].line, Some(3));
        assert!(
            err[0].message.contains("unknown variant `robot`"),
            "{}",
            err[0].message
        );

        let err = load("identities:\n  - principal: x\n    kind: human\n  - principal: x\n    kind: human\n    environments: [nowhere]\n")
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        let msgs: Vec<String> = err.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "inv.yaml:4: record 'x': duplicate record (first defined in inv.yaml line 2)".to_string(),
                "inv.yaml:4: record 'x': environment 'nowhere' is neither an account id nor an environment named in settings.accounts".to_string(),
            ]
        );
    }

    #[test]
    fn bad_cidr_and_date_are_located() {
        let err = load("identities:\n  - principal: x\n    kind: human\n    allow:\n      - actions: ['s3:*']\n        source_cidrs: ['10.0.0.0/33']\n")
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].line, Some(6));
        assert!(
            err[0].message.contains("invalid network '10.0.0.0/33'"),
            "{}",
            err[0].message
        );
        let err = load("identities:\n  - principal: x\n    kind: human\n    expires: 2026-13-01\n")
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert_eq!(err[0].line, Some(4));
        assert!(
            err[0].message.contains("invalid date '2026-13-01'"),
            "{}",
            err[0].message
        );
    }

    #[test]
    fn validation_names_the_right_line_and_catches_aliases() {
        let y = "# principal: arn:aws:iam::111122223333:user/bob is documented here\n\
                 identities:\n\
                 - principal: arn:aws:iam::111122223333:user/bobby\n  kind: human\n\
                 - principal: arn:aws:iam::111122223333:user/bob\n  kind: human\n\
                 - principal: arn:aws:iam::111122223333:user/team/Bob\n  kind: human\n\
                 - principal: x\n  kind: human\n  allow:\n  - actions: ['s3:']\n";
        let msgs: Vec<String> = load(y)
            .err()
            .map(|e| e.0)
            .unwrap_or_default()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                "inv.yaml:7: record 'arn:aws:iam::111122223333:user/team/Bob': names the same IAM user as record 'arn:aws:iam::111122223333:user/bob' (inv.yaml line 5); IAM names are unique per account whatever the path or case".to_string(),
                "inv.yaml:9: record 'x': action 's3:' must be service:Action (e.g. s3:GetObject) or *".to_string(),
            ]
        );
    }

    #[test]
    fn empty_lists_are_refused_not_read_as_any() {
        let err = load("identities:\n  - principal: x\n    kind: human\n    allow:\n      - actions: ['s3:*']\n        regions: []\n")
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert!(
            err[0].message.contains("allow[0]: empty list"),
            "{}",
            err[0].message
        );
        assert_eq!(err[0].line, Some(6));
    }

    #[test]
    fn default_settings_ignore_service_principals() {
        let inv = load("identities: []\n").map_err(|e| e.to_string());
        let inv = inv.unwrap_or_else(|e| panic!("{e}"));
        assert!(inv.settings.is_ignored("service:lambda.amazonaws.com"));
        assert!(!inv.settings.is_ignored("arn:aws:iam::1:user/x"));
    }
}
