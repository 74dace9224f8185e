//! Where the CLI keeps findings and governance records: a SQLite file (default) or DynamoDB
//! tables (`dynamodb:PREFIX`, with `--endpoint-url` for emulators).

use anyhow::{bail, Context, Result};
use govtrail_aws::lifecycle::DynamoLifecycleStore;
use govtrail_aws::{DynamoFindingStore, TableNames};
use govtrail_core::ports::LifecycleStore;
use govtrail_core::{FindingStore, MemoryStore, SqliteStore};
use std::path::{Path, PathBuf};

/// A parsed `--store` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    Sqlite(PathBuf),
    Memory,
    Dynamo(String),
}

impl StoreSpec {
    pub fn parse(spec: &str) -> Result<Self> {
        if spec == ":memory:" {
            return Ok(StoreSpec::Memory);
        }
        if let Some(prefix) = spec.strip_prefix("dynamodb:") {
            let ok = !prefix.is_empty()
                && prefix.len() <= 200
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                bail!(
                    "dynamodb:PREFIX needs a table-name prefix of letters, digits, '-', '_' or '.'"
                );
            }
            return Ok(StoreSpec::Dynamo(prefix.to_string()));
        }
        let path = spec.strip_prefix("sqlite:").unwrap_or(spec);
        if path.trim().is_empty() {
            bail!("--store needs a file path, :memory: or dynamodb:PREFIX");
        }
        Ok(StoreSpec::Sqlite(PathBuf::from(path)))
    }
}

/// The AWS side, created on first use: a runtime for the SDK and the shared SDK config.
pub struct Aws {
    pub rt: tokio::runtime::Runtime,
    pub sdk: aws_config::SdkConfig,
}

impl Aws {
    pub fn connect(endpoint_url: Option<&str>) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let sdk = rt.block_on(govtrail_aws::config::sdk_config(endpoint_url));
        if sdk.region().is_none() {
            bail!("no AWS region: set AWS_REGION (or a profile with a region) to use dynamodb: stores");
        }
        Ok(Aws { rt, sdk })
    }

    /// The connection in `slot`, made on first use (one runtime and SDK config per command).
    pub fn get<'a>(slot: &'a mut Option<Aws>, endpoint_url: Option<&str>) -> Result<&'a Aws> {
        if slot.is_none() {
            *slot = Some(Aws::connect(endpoint_url)?);
        }
        slot.as_ref().context("AWS connection unavailable")
    }

    pub fn dynamo(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }
}

/// Opens the findings store. `create` is for `replay`; the query and status commands need an
/// existing store, so a mistyped path is an error rather than an empty new database.
pub fn open(
    spec: &StoreSpec,
    create: bool,
    aws: &mut Option<Aws>,
    endpoint_url: Option<&str>,
) -> Result<Box<dyn FindingStore>> {
    match spec {
        StoreSpec::Memory => Ok(Box::new(
            SqliteStore::in_memory().context("opening in-memory store")?,
        )),
        StoreSpec::Sqlite(path) => {
            if !create && !path.exists() {
                bail!(
                    "no findings store at {} (`govtrail replay PATH --inventory FILE --store {}` or `govtrail sweep ... --store {}` creates it)",
                    path.display(),
                    path.display(),
                    path.display()
                );
            }
            Ok(Box::new(SqliteStore::open(Path::new(path)).with_context(
                || format!("opening store {}", path.display()),
            )?))
        }
        StoreSpec::Dynamo(prefix) => {
            let a = Aws::get(aws, endpoint_url)?;
            Ok(Box::new(DynamoFindingStore::new(
                a.dynamo(),
                TableNames::for_prefix(prefix),
                a.rt.handle().clone(),
            )))
        }
    }
}

/// Opens where IAM lifecycle changes seen in events are kept: the same SQLite file (a second
/// connection) or the dynamodb: store's lifecycle table; `:memory:` keeps them for this run.
pub fn open_lifecycle(
    spec: &StoreSpec,
    aws: &mut Option<Aws>,
    endpoint_url: Option<&str>,
) -> Result<Box<dyn LifecycleStore>> {
    match spec {
        StoreSpec::Memory => Ok(Box::new(MemoryStore::new())),
        StoreSpec::Sqlite(path) => Ok(Box::new(
            SqliteStore::open(Path::new(path))
                .with_context(|| format!("opening store {}", path.display()))?,
        )),
        StoreSpec::Dynamo(prefix) => {
            let a = Aws::get(aws, endpoint_url)?;
            Ok(Box::new(DynamoLifecycleStore::new(
                a.dynamo(),
                TableNames::for_prefix(prefix).lifecycle,
                a.rt.handle().clone(),
            )))
        }
    }
}
