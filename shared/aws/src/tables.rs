//! The DynamoDB table definitions (names, keys, indexes, TTL), shared by `govtrail store init`,
//! the tests and the check that `template.yaml` agrees with them.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

/// The table names for a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub identities: String,
    pub findings: String,
    pub seen: String,
    /// IAM lifecycle events seen by the event path, read by the sweep.
    pub lifecycle: String,
}

impl TableNames {
    /// The names the functions' environment gives (see docs/aws-design.md).
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        use crate::config::required;
        Ok(TableNames {
            identities: required("GOVTRAIL_IDENTITIES_TABLE")?,
            findings: required("GOVTRAIL_FINDINGS_TABLE")?,
            seen: required("GOVTRAIL_SEEN_TABLE")?,
            lifecycle: required("GOVTRAIL_LIFECYCLE_TABLE")?,
        })
    }

    pub fn for_prefix(prefix: &str) -> Self {
        TableNames {
            identities: format!("{prefix}-identities"),
            findings: format!("{prefix}-findings"),
            seen: format!("{prefix}-seen"),
            lifecycle: format!("{prefix}-lifecycle"),
        }
    }
}

/// One table's definition: (hash key, [(index, hash, range)], ttl attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub key: &'static str,
    pub indexes: Vec<(&'static str, &'static str, Option<&'static str>)>,
    pub ttl: Option<&'static str>,
}

pub fn specs(names: &TableNames) -> Vec<TableSpec> {
    vec![
        TableSpec {
            name: names.identities.clone(),
            key: "principal",
            indexes: vec![
                ("patterns", "is_pattern", None),
                ("by_iam_name", "iam_name", None),
            ],
            ttl: None,
        },
        TableSpec {
            name: names.findings.clone(),
            key: "id",
            indexes: vec![
                ("by_owner", "owner", Some("last_seen")),
                ("by_status", "status_severity", Some("last_seen")),
                ("by_principal", "principal", Some("last_seen")),
            ],
            ttl: None,
        },
        TableSpec {
            name: names.seen.clone(),
            key: "k",
            indexes: vec![],
            ttl: Some("expires_at"),
        },
        TableSpec {
            name: names.lifecycle.clone(),
            key: "k",
            indexes: vec![],
            ttl: Some("expires_at"),
        },
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("creating table {table}: {message}")]
    Create { table: String, message: String },
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, InitError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| InitError::Create {
            table: String::new(),
            message: e.to_string(),
        })
}

/// Creates the tables that do not exist yet (same keys, indexes and TTL as template.yaml).
/// Returns the names it created.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<Vec<String>, InitError> {
    let existing = client
        .list_tables()
        .send()
        .await
        .map_err(|e| InitError::Create {
            table: "*".into(),
            message: crate::error::describe(&e),
        })?
        .table_names
        .unwrap_or_default();
    let mut created = Vec::new();
    for spec in specs(names) {
        if existing.contains(&spec.name) {
            continue;
        }
        let fail = |message: String| InitError::Create {
            table: spec.name.clone(),
            message,
        };
        let mut attrs = vec![spec.key];
        for (_, h, r) in &spec.indexes {
            attrs.push(h);
            if let Some(r) = r {
                attrs.push(r);
            }
        }
        attrs.sort_unstable();
        attrs.dedup();
        let mut req = client
            .create_table()
            .table_name(&spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(spec.key, KeyType::Hash)?);
        for a in attrs {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(a)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        for (index, h, r) in &spec.indexes {
            let mut schema = vec![key(h, KeyType::Hash)?];
            if let Some(r) = r {
                schema.push(key(r, KeyType::Range)?);
            }
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(*index)
                    .set_key_schema(Some(schema))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        req.send()
            .await
            .map_err(|e| fail(crate::error::describe(&e)))?;
        if let Some(ttl) = spec.ttl {
            client
                .update_time_to_live()
                .table_name(&spec.name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(ttl)
                        .enabled(true)
                        .build()
                        .map_err(|e| fail(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| fail(crate::error::describe(&e)))?;
        }
        created.push(spec.name.clone());
    }
    Ok(created)
}
