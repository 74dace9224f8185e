//! Discovery: every IAM user, role and access key of the account, with their use, as a core
//! `Snapshot`. The calls are linear in the number of identities and avoid per-identity calls
//! wherever a list or the credential report already has the data:
//!
//! - `GetAccountAuthorizationDetails` (users and roles, paginated): ARNs with paths, ids,
//!   creation times, tags and `RoleLastUsed`, about 100 identities per call (AWS's page size);
//! - `GenerateCredentialReport` (polled until complete) + `GetCredentialReport`: per user the
//!   console password, its last use, MFA, and per key slot the status, creation and last use;
//! - `ListAccessKeys` only for users the report says hold keys (or that the report is too old
//!   to know, or the event path saw a key change for): the report has no key ids.
//!
//! If the credential report cannot be read (access denied, never completes), discovery falls
//! back to per-user calls (`ListAccessKeys`, `GetAccessKeyLastUsed`, `GetLoginProfile`,
//! `ListMFADevices`) and says so. Throttling is retried by the SDK with backoff (up to
//! `MAX_ATTEMPTS`), including in the middle of a pagination.

use crate::error::{describe, is_transient};
use aws_sdk_iam::types::{EntityType, ReportStateType, StatusType};
use aws_sdk_iam::Client;
use chrono::{DateTime, Utc};
use govtrail_core::credential_report::{self, LastUsed, ReportRow};
use govtrail_core::inventory::iam_name_key;
use govtrail_core::sweep::{AccessKey, IamIdentity, IdentityType, Snapshot};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Attempts per IAM call (the first and the retries); IAM's control plane throttles at a few
/// requests per second per account, so a sweep retries harder than the SDK's default 3.
pub const MAX_ATTEMPTS: u32 = 10;
/// Concurrent `ListAccessKeys` calls.
const KEY_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
#[error("IAM {operation}: {message}")]
pub struct DiscoveryError {
    pub operation: &'static str,
    pub message: String,
    pub transient: bool,
}

/// What discovery did: IAM calls by operation, and how it got its data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiscoveryStats {
    pub calls: BTreeMap<&'static str, u64>,
    pub total_calls: u64,
    /// The credential report was used; otherwise per-user calls were (see `fallback_reason`).
    pub credential_report: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// Credential report rows that could not be read (line: reason).
    pub report_row_errors: Vec<String>,
    pub elapsed_seconds: f64,
}

#[derive(Debug, Clone)]
pub struct DiscoveryOptions {
    /// How long to wait for the credential report to be generated.
    pub report_wait: Duration,
    pub report_poll: Duration,
    /// Users whose keys must be listed whatever the report says (the event path saw a change).
    pub refresh_keys_for: Vec<String>,
    /// The account id when no identity names it (an empty account).
    pub account_id: Option<String>,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            report_wait: Duration::from_secs(120),
            report_poll: Duration::from_secs(2),
            refresh_keys_for: Vec::new(),
            account_id: None,
        }
    }
}

/// An IAM client with the sweep's retry policy, built from the shared SDK config.
pub fn iam_client(sdk: &aws_config::SdkConfig) -> Client {
    let retry = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20));
    Client::from_conf(
        aws_sdk_iam::config::Builder::from(sdk)
            .retry_config(retry)
            .build(),
    )
}

#[derive(Clone, Default)]
struct Calls(Arc<Mutex<BTreeMap<&'static str, u64>>>);

impl Calls {
    fn add(&self, op: &'static str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op).or_insert(0) += 1;
        }
    }
    fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

fn fail<E>(
    operation: &'static str,
    e: &aws_sdk_iam::error::SdkError<E, crate::error::HttpResponse>,
) -> DiscoveryError
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error,
{
    DiscoveryError {
        operation,
        message: describe(e),
        transient: is_transient(e),
    }
}

fn code_of<E, R>(e: &aws_sdk_iam::error::SdkError<E, R>) -> Option<&str>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata,
{
    match e {
        aws_sdk_iam::error::SdkError::ServiceError(s) => {
            aws_sdk_iam::error::ProvideErrorMetadata::code(s.err())
        }
        _ => None,
    }
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn tags(t: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    t.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

pub struct Discovery {
    client: Client,
    calls: Calls,
}

impl Discovery {
    pub fn new(client: Client) -> Self {
        Discovery {
            client,
            calls: Calls::default(),
        }
    }

    /// Discovers the account's identities now.
    pub async fn discover(
        &self,
        opts: &DiscoveryOptions,
    ) -> Result<(Snapshot, DiscoveryStats), DiscoveryError> {
        let started = std::time::Instant::now();
        let mut stats = DiscoveryStats::default();
        let mut identities = self.authorization_details().await?;
        let report = match self.credential_report(opts).await {
            Ok(r) => Some(r),
            Err(e) if e.transient => return Err(e),
            Err(e) => {
                stats.fallback_reason = Some(e.to_string());
                None
            }
        };
        let mut report_generated_at = None;
        match report {
            Some((generated, parsed)) => {
                stats.credential_report = true;
                report_generated_at = generated;
                stats.report_row_errors = parsed
                    .errors
                    .iter()
                    .map(|e| format!("line {}: {}", e.line, e.reason))
                    .collect();
                self.merge_report(&mut identities, parsed.rows, opts)
                    .await?;
            }
            None => self.per_user_details(&mut identities).await?,
        }
        let seen = identities
            .iter()
            .find_map(|i: &IamIdentity| account_of(&i.principal));
        let account_id = match (&opts.account_id, seen) {
            (Some(given), Some(found)) if *given != found => {
                return Err(DiscoveryError {
                    operation: "GetAccountAuthorizationDetails",
                    message: format!(
                        "the account id given ({given}) is not the account of the discovered identities ({found}): check the credentials' account"
                    ),
                    transient: false,
                })
            }
            (_, Some(found)) => found,
            (Some(given), None) => given.clone(),
            (None, None) => String::new(),
        };
        identities.sort_by(|a, b| a.principal.cmp(&b.principal));
        stats.calls = self.calls.snapshot();
        stats.total_calls = stats.calls.values().sum();
        stats.elapsed_seconds = started.elapsed().as_secs_f64();
        Ok((
            Snapshot {
                account_id,
                report_generated_at,
                identities,
            },
            stats,
        ))
    }

    /// Users and roles, with tags and `RoleLastUsed`, all pages.
    async fn authorization_details(&self) -> Result<Vec<IamIdentity>, DiscoveryError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.calls.add("GetAccountAuthorizationDetails");
            let page = self
                .client
                .get_account_authorization_details()
                .filter(EntityType::User)
                .filter(EntityType::Role)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| fail("GetAccountAuthorizationDetails", &e))?;
            for u in page.user_detail_list() {
                let (Some(arn), Some(name)) = (u.arn(), u.user_name()) else {
                    continue;
                };
                out.push(IamIdentity {
                    principal: arn.to_string(),
                    identity_type: IdentityType::User,
                    name: name.to_string(),
                    path: u.path().unwrap_or("/").to_string(),
                    id: u.user_id().map(str::to_string),
                    created: time(u.create_date()),
                    tags: tags(u.tags()),
                    password_enabled: None,
                    password_last_used: LastUsed::Unknown,
                    mfa_active: None,
                    role_last_used: LastUsed::Unknown,
                    keys: Vec::new(),
                    keys_listed: false,
                });
            }
            for r in page.role_detail_list() {
                let (Some(arn), Some(name)) = (r.arn(), r.role_name()) else {
                    continue;
                };
                // AWS tracks role use for the trailing 400 days: no date means no use in them.
                let last = match r.role_last_used().and_then(|l| time(l.last_used_date())) {
                    Some(t) => LastUsed::At(t),
                    None => LastUsed::Never,
                };
                out.push(IamIdentity {
                    principal: arn.to_string(),
                    identity_type: IdentityType::Role,
                    name: name.to_string(),
                    path: r.path().unwrap_or("/").to_string(),
                    id: r.role_id().map(str::to_string),
                    created: time(r.create_date()),
                    tags: tags(r.tags()),
                    password_enabled: None,
                    password_last_used: LastUsed::Unknown,
                    mfa_active: None,
                    role_last_used: last,
                    keys: Vec::new(),
                    keys_listed: false,
                });
            }
            match page.marker() {
                Some(m) if page.is_truncated() && !m.is_empty() => marker = Some(m.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// Generates (or reuses: AWS keeps a report for four hours) and reads the report.
    async fn credential_report(
        &self,
        opts: &DiscoveryOptions,
    ) -> Result<(Option<DateTime<Utc>>, credential_report::CredentialReport), DiscoveryError> {
        let deadline = tokio::time::Instant::now() + opts.report_wait;
        loop {
            self.calls.add("GenerateCredentialReport");
            let state = self
                .client
                .generate_credential_report()
                .send()
                .await
                .map_err(|e| fail("GenerateCredentialReport", &e))?;
            if state.state() == Some(&ReportStateType::Complete) {
                self.calls.add("GetCredentialReport");
                match self.client.get_credential_report().send().await {
                    Ok(out) => {
                        let bytes = out.content().map(|b| b.as_ref()).unwrap_or_default();
                        let parsed =
                            credential_report::parse(bytes).map_err(|e| DiscoveryError {
                                operation: "GetCredentialReport",
                                message: e.to_string(),
                                transient: false,
                            })?;
                        return Ok((time(out.generated_time()), parsed));
                    }
                    // Expired or not ready between the two calls: generate again.
                    Err(e)
                        if matches!(
                            code_of(&e),
                            Some("ReportExpired" | "ReportInProgress" | "ReportNotPresent")
                        ) => {}
                    Err(e) => return Err(fail("GetCredentialReport", &e)),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(DiscoveryError {
                    operation: "GenerateCredentialReport",
                    message: format!(
                        "the report was not complete after {} s",
                        opts.report_wait.as_secs()
                    ),
                    transient: false,
                });
            }
            tokio::time::sleep(opts.report_poll).await;
        }
    }

    /// Fills users from the report, lists the keys of those that hold any, and adds the root
    /// user (the report's `<root_account>` row).
    async fn merge_report(
        &self,
        identities: &mut Vec<IamIdentity>,
        rows: Vec<ReportRow>,
        opts: &DiscoveryOptions,
    ) -> Result<(), DiscoveryError> {
        let refresh: HashSet<_> = opts
            .refresh_keys_for
            .iter()
            .filter_map(|p| iam_name_key(p))
            .collect();
        let mut by_arn: HashMap<String, ReportRow> = HashMap::new();
        let mut root = None;
        for row in rows {
            if row.is_root {
                root = Some(row);
            } else {
                by_arn.insert(row.arn.clone(), row);
            }
        }
        let mut list_keys: Vec<usize> = Vec::new();
        for (i, ident) in identities.iter_mut().enumerate() {
            if ident.identity_type != IdentityType::User {
                continue;
            }
            match by_arn.remove(&ident.principal) {
                Some(row) => {
                    ident.password_enabled = row.password_enabled;
                    ident.password_last_used = row.password_last_used;
                    ident.mfa_active = row.mfa_active;
                    // Named by slot until the keys are listed.
                    ident.keys = report_keys(&row, "slot");
                    if !ident.keys.is_empty()
                        || iam_name_key(&ident.principal).is_some_and(|k| refresh.contains(&k))
                    {
                        list_keys.push(i);
                    }
                }
                // Created after the report (or missing from it): nothing known yet.
                None => list_keys.push(i),
            }
        }
        let listed = self.list_keys_for(identities, &list_keys).await?;
        for (i, keys) in listed {
            let Some(ident) = identities.get_mut(i) else {
                continue;
            };
            ident.keys_listed = true;
            let from_report = std::mem::take(&mut ident.keys);
            ident.keys = keys
                .into_iter()
                .map(|mut k| {
                    // The report names keys by slot; match them by creation time (to the
                    // second). A key the report does not know, or two keys created in the
                    // same second, keep an unknown last use rather than a guessed one.
                    let second = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
                    let mut matches = from_report
                        .iter()
                        .filter(|r| r.created.is_some() && second(r.created) == second(k.created));
                    if let (Some(r), None) = (matches.next(), matches.next()) {
                        k.last_used = r.last_used;
                        k.last_used_service = r.last_used_service.clone();
                        k.last_used_region = r.last_used_region.clone();
                    }
                    k
                })
                .collect();
        }
        if let Some(row) = root {
            identities.push(root_identity(&row));
        }
        Ok(())
    }

    /// Runs `call(client, calls, user name)` for the users at `indexes`, `KEY_CONCURRENCY`
    /// at a time; returns each result with its index.
    async fn per_user<T, F, Fut>(
        &self,
        identities: &[IamIdentity],
        indexes: &[usize],
        operation: &'static str,
        call: F,
    ) -> Result<Vec<(usize, T)>, DiscoveryError>
    where
        T: Send + 'static,
        F: Fn(Client, Calls, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, DiscoveryError>> + Send + 'static,
    {
        let mut out = Vec::with_capacity(indexes.len());
        for chunk in indexes.chunks(KEY_CONCURRENCY) {
            let mut set = tokio::task::JoinSet::new();
            for &i in chunk {
                let Some(ident) = identities.get(i) else {
                    continue;
                };
                let work = call(self.client.clone(), self.calls.clone(), ident.name.clone());
                set.spawn(async move { work.await.map(|t| (i, t)) });
            }
            while let Some(joined) = set.join_next().await {
                out.push(joined.map_err(|e| DiscoveryError {
                    operation,
                    message: format!("worker failed: {e}"),
                    transient: true,
                })??);
            }
        }
        Ok(out)
    }

    /// `ListAccessKeys` (all pages) for the users at `indexes`.
    async fn list_keys_for(
        &self,
        identities: &[IamIdentity],
        indexes: &[usize],
    ) -> Result<Vec<(usize, Vec<AccessKey>)>, DiscoveryError> {
        self.per_user(
            identities,
            indexes,
            "ListAccessKeys",
            |client, calls, name| async move { list_access_keys(&client, &calls, &name).await },
        )
        .await
    }

    /// Without a credential report: per-user calls for keys, key use, password and MFA.
    async fn per_user_details(&self, identities: &mut [IamIdentity]) -> Result<(), DiscoveryError> {
        let users: Vec<usize> = identities
            .iter()
            .enumerate()
            .filter(|(_, i)| i.identity_type == IdentityType::User)
            .map(|(i, _)| i)
            .collect();
        let details = self
            .per_user(
                identities,
                &users,
                "GetLoginProfile",
                |client, calls, name| async move { user_details(&client, &calls, &name).await },
            )
            .await?;
        for (i, (keys, password, mfa)) in details {
            if let Some(ident) = identities.get_mut(i) {
                ident.keys = keys;
                ident.keys_listed = true;
                ident.password_enabled = Some(password);
                // Password last use needs GetUser per user; the report is the cheap source.
                ident.password_last_used = if password {
                    LastUsed::Unknown
                } else {
                    LastUsed::Never
                };
                ident.mfa_active = Some(mfa);
            }
        }
        Ok(())
    }
}

/// The key slots of a report row as keys named `<prefix>-<slot>`.
fn report_keys(row: &ReportRow, prefix: &str) -> Vec<AccessKey> {
    row.keys
        .iter()
        .map(|k| AccessKey {
            id: format!("{prefix}-{}", k.slot),
            active: k.active,
            created: k.last_rotated,
            last_used: k.last_used,
            last_used_service: k.last_used_service.clone(),
            last_used_region: k.last_used_region.clone(),
        })
        .collect()
}

fn root_identity(row: &ReportRow) -> IamIdentity {
    IamIdentity {
        principal: row.arn.clone(),
        identity_type: IdentityType::Root,
        name: "root".to_string(),
        path: String::new(),
        id: None,
        created: row.user_creation_time,
        tags: BTreeMap::new(),
        password_enabled: row.password_enabled,
        password_last_used: row.password_last_used,
        mfa_active: row.mfa_active,
        role_last_used: LastUsed::Unknown,
        // Root keys cannot be listed with an IAM principal's credentials: named by slot.
        keys: report_keys(row, "root-access-key"),
        keys_listed: false,
    }
}

async fn list_access_keys(
    client: &Client,
    calls: &Calls,
    user: &str,
) -> Result<Vec<AccessKey>, DiscoveryError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        calls.add("ListAccessKeys");
        let page = match client
            .list_access_keys()
            .user_name(user)
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(p) => p,
            // Deleted between the listing and now: it has no keys.
            Err(e) if code_of(&e) == Some("NoSuchEntity") => return Ok(out),
            Err(e) => return Err(fail("ListAccessKeys", &e)),
        };
        for k in page.access_key_metadata() {
            let Some(id) = k.access_key_id() else {
                continue;
            };
            out.push(AccessKey {
                id: id.to_string(),
                active: k.status() == Some(&StatusType::Active),
                created: time(k.create_date()),
                last_used: LastUsed::Unknown,
                last_used_service: None,
                last_used_region: None,
            });
        }
        match page.marker() {
            Some(m) if page.is_truncated() && !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}

fn known(s: Option<&str>) -> Option<String> {
    s.filter(|v| !v.is_empty() && *v != "N/A")
        .map(str::to_string)
}

async fn user_details(
    client: &Client,
    calls: &Calls,
    user: &str,
) -> Result<(Vec<AccessKey>, bool, bool), DiscoveryError> {
    let mut keys = list_access_keys(client, calls, user).await?;
    for k in &mut keys {
        calls.add("GetAccessKeyLastUsed");
        let out = client
            .get_access_key_last_used()
            .access_key_id(&k.id)
            .send()
            .await
            .map_err(|e| fail("GetAccessKeyLastUsed", &e))?;
        if let Some(u) = out.access_key_last_used() {
            k.last_used = match time(u.last_used_date()) {
                Some(t) => LastUsed::At(t),
                None => LastUsed::Never,
            };
            k.last_used_service = known(Some(u.service_name()));
            k.last_used_region = known(Some(u.region()));
        }
    }
    calls.add("GetLoginProfile");
    let password = match client.get_login_profile().user_name(user).send().await {
        Ok(_) => true,
        Err(e) if code_of(&e) == Some("NoSuchEntity") => false,
        Err(e) => return Err(fail("GetLoginProfile", &e)),
    };
    calls.add("ListMFADevices");
    let mfa = match client.list_mfa_devices().user_name(user).send().await {
        Ok(out) => !out.mfa_devices().is_empty(),
        Err(e) if code_of(&e) == Some("NoSuchEntity") => false,
        Err(e) => return Err(fail("ListMFADevices", &e)),
    };
    Ok((keys, password, mfa))
}
