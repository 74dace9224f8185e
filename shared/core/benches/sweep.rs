//! The sweep's reconciliation and store side at account scale: 10,000 identities (half users
//! with keys, half roles) against an inventory governing half of them by exact record and the
//! rest through a few wildcard patterns, at an explicit `now`; then the store side (all of a
//! sweep's hits in one batch) on the in-memory and the SQLite store.
//!
//! Run: `cargo bench -p govtrail-core --bench sweep -- --warm-up-time 1 --measurement-time 3`

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use govtrail_core::credential_report::LastUsed;
use govtrail_core::sweep::{self, AccessKey, IamIdentity, IdentityType, Snapshot};
use govtrail_core::{Inventory, MemoryStore, SqliteStore};
use std::collections::BTreeMap;
use std::hint::black_box;

const IDENTITIES: usize = 10_000;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_385_600, 0).unwrap_or_default() // 2026-12-04T12:00:00Z
}

fn snapshot() -> Snapshot {
    let now = now();
    let identities = (0..IDENTITIES)
        .map(|i| {
            let role = i % 2 == 1;
            let name = format!("id-{i:05}");
            let created = now - Duration::days((i % 700) as i64);
            let used = LastUsed::At(now - Duration::days((i % 200) as i64));
            IamIdentity {
                principal: format!(
                    "arn:aws:iam::111122223333:{}/team-{}/{name}",
                    if role { "role" } else { "user" },
                    i % 20
                ),
                identity_type: if role {
                    IdentityType::Role
                } else {
                    IdentityType::User
                },
                name,
                path: format!("/team-{}/", i % 20),
                id: None,
                created: Some(created),
                tags: BTreeMap::new(),
                password_enabled: Some(i % 10 == 0),
                password_last_used: LastUsed::Never,
                mfa_active: Some(false),
                role_last_used: if role { used } else { LastUsed::Unknown },
                keys: if role {
                    Vec::new()
                } else {
                    (0..(1 + i % 3).min(2))
                        .map(|k| AccessKey {
                            id: format!("AKIA{i:08}{k}"),
                            active: true,
                            created: Some(created),
                            last_used: used,
                            last_used_service: None,
                            last_used_region: None,
                        })
                        .collect()
                },
                keys_listed: !role,
            }
        })
        .collect();
    Snapshot {
        account_id: "111122223333".into(),
        report_generated_at: Some(now),
        identities,
    }
}

fn inventory() -> Inventory {
    let mut yaml = String::from(
        "settings: { known_owners: [team-0, team-1, team-2, team-3, team-4] }\nidentities:\n",
    );
    for i in (0..IDENTITIES).step_by(2) {
        yaml.push_str(&format!(
            "  - {{ principal: 'arn:aws:iam::111122223333:user/id-{i:05}', kind: workload, owner: team-{}, review: {{ last_reviewed: 2026-09-01, interval_days: 90 }} }}\n",
            i % 7
        ));
    }
    for t in 0..10 {
        yaml.push_str(&format!(
            "  - {{ principal: 'arn:aws:iam::111122223333:role/team-{t}/*', kind: workload, owner: team-{t} }}\n"
        ));
    }
    match Inventory::from_texts(&[("bench.yaml".into(), yaml)]) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("sweep bench: inventory: {e}");
            std::process::exit(1)
        }
    }
}

fn benches(c: &mut Criterion) {
    let snap = snapshot();
    let inv = inventory();
    let mut g = c.benchmark_group("sweep");
    g.throughput(Throughput::Elements(IDENTITIES as u64));
    g.sample_size(20);
    g.bench_function("reconcile_10k", |b| {
        b.iter(|| sweep::reconcile(black_box(&snap), &inv, now()))
    });
    let result = sweep::reconcile(&snap, &inv, now());
    g.bench_function("store_10k_memory", |b| {
        b.iter(|| {
            let mut store = MemoryStore::new();
            sweep::apply(&mut store, None, black_box(&result), &inv).map(|r| r.findings_new)
        })
    });
    g.bench_function("store_10k_sqlite", |b| {
        b.iter(|| {
            let mut store = match SqliteStore::in_memory() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("sweep bench: sqlite: {e}");
                    std::process::exit(1)
                }
            };
            sweep::apply(&mut store, None, black_box(&result), &inv).map(|r| r.findings_new)
        })
    });
    g.finish();
}

criterion_group!(sweep_benches, benches);
criterion_main!(sweep_benches);
