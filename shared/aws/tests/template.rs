//! `govtrail store init` and template.yaml must create the same tables: same keys, indexes
//! and TTL attribute.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use govtrail_aws::tables::{specs, TableSpec};
use govtrail_aws::TableNames;
use serde_yaml::Value;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        // !Sub '${TablePrefix}-identities'
        Value::Tagged(t) => text(&t.value),
        other => panic!("unexpected {other:?}"),
    }
}

fn hash_and_range(schema: &Value) -> (String, Option<String>) {
    let mut hash = None;
    let mut range = None;
    for k in schema.as_sequence().unwrap() {
        let name = text(&k["AttributeName"]);
        match k["KeyType"].as_str().unwrap() {
            "HASH" => hash = Some(name),
            "RANGE" => range = Some(name),
            other => panic!("key type {other}"),
        }
    }
    (hash.unwrap(), range)
}

/// (table name, key, sorted (index, hash, range), TTL attribute)
type Table = (
    String,
    String,
    Vec<(String, String, Option<String>)>,
    Option<String>,
);

#[test]
fn template_tables_match_store_init() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut found: Vec<Table> = Vec::new();
    for (_, r) in doc["Resources"].as_mapping().unwrap() {
        if r["Type"].as_str() != Some("AWS::DynamoDB::Table") {
            continue;
        }
        let p = &r["Properties"];
        let name = text(&p["TableName"]);
        let (key, _) = hash_and_range(&p["KeySchema"]);
        let mut indexes: Vec<(String, String, Option<String>)> = p["GlobalSecondaryIndexes"]
            .as_sequence()
            .map(|gs| {
                gs.iter()
                    .map(|g| {
                        assert_eq!(g["Projection"]["ProjectionType"].as_str(), Some("ALL"));
                        let (h, r) = hash_and_range(&g["KeySchema"]);
                        (text(&g["IndexName"]), h, r)
                    })
                    .collect()
            })
            .unwrap_or_default();
        indexes.sort();
        let ttl = p["TimeToLiveSpecification"]["AttributeName"]
            .as_str()
            .map(String::from);
        assert_eq!(p["BillingMode"].as_str(), Some("PAY_PER_REQUEST"), "{name}");
        found.push((name, key, indexes, ttl));
    }
    found.sort();
    let mut want: Vec<Table> = specs(&TableNames::for_prefix("${TablePrefix}"))
        .into_iter()
        .map(
            |TableSpec {
                 name,
                 key,
                 indexes,
                 ttl,
             }| {
                let mut idx: Vec<(String, String, Option<String>)> = indexes
                    .into_iter()
                    .map(|(n, h, r)| (n.to_string(), h.to_string(), r.map(String::from)))
                    .collect();
                idx.sort();
                (name, key.to_string(), idx, ttl.map(String::from))
            },
        )
        .collect();
    want.sort();
    assert_eq!(found.len(), 4);
    assert_eq!(found, want);
}

/// Every `GOVTRAIL_*` variable the functions' code reads is set in template.yaml.
#[test]
fn every_environment_variable_the_functions_read_is_in_the_template() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let mut read = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    for dir in [
        "shared/aws/src",
        "functions/cloudtrail-events/src",
        "functions/cloudtrail-logs/src",
        "functions/slack-notifier/src",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices("\"GOVTRAIL_") {
            let name: String = text[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            read.insert(name);
        }
    }
    assert!(read.contains("GOVTRAIL_FINDINGS_TABLE"), "{read:?}");
    assert!(read.contains("GOVTRAIL_SLACK_SECRET_ARN"), "{read:?}");
    let missing: Vec<&String> = read
        .iter()
        .filter(|v| !template.contains(&format!("{v}:")))
        .collect();
    assert!(
        missing.is_empty(),
        "read by the functions but not set in template.yaml: {missing:?}"
    );
}
