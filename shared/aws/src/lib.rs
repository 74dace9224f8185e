//! AWS adapters for govtrail's ports: DynamoDB governance records and findings, SNS alerts,
//! S3 log objects, Secrets Manager and Slack. See `docs/aws-design.md`.

pub mod alerts;
pub mod config;
pub mod discovery;
pub mod error;
pub mod findings;
pub mod identities;
pub mod lifecycle;
pub mod notifications;
pub mod secrets;
pub mod service;
pub mod slack;
pub mod sweep;
pub mod tables;

pub use alerts::SnsAlertSink;
pub use findings::DynamoFindingStore;
pub use identities::DynamoGovernanceSource;
pub use tables::TableNames;
