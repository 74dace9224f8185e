//! The embedded `FindingStore`: one SQLite file, with the same dedup semantics as every store.

use crate::finding::{sort_findings, Finding, FindingFilter, Hit, HitOutcome, Status};
use crate::lifecycle::LifecycleChange;
use crate::memory_store::{apply_hit, change_status, sort_changes};
use crate::ports::{FindingStore, LifecycleStore, StoreError};
use crate::rule_id::Severity;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS findings (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    principal TEXT NOT NULL,
    owner TEXT,
    status TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    count INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_by_owner ON findings(owner, last_seen);
CREATE INDEX IF NOT EXISTS findings_by_status ON findings(status, severity_rank, last_seen);
CREATE INDEX IF NOT EXISTS findings_by_principal ON findings(principal, last_seen);
-- One row per (finding, event) counted: what makes redelivery idempotent.
CREATE TABLE IF NOT EXISTS finding_events (k BLOB PRIMARY KEY) WITHOUT ROWID;
-- The IAM lifecycle log: one row per (principal, event), the change as JSON.
CREATE TABLE IF NOT EXISTS lifecycle (
    principal TEXT NOT NULL,
    event_key TEXT NOT NULL,
    at TEXT NOT NULL,
    change TEXT NOT NULL,
    PRIMARY KEY (principal, event_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lifecycle_by_time ON lifecycle(at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1');
";

pub struct SqliteStore {
    conn: Connection,
    path: String,
}

fn sev_rank(s: Severity) -> i64 {
    s as i64
}

fn event_key(finding_id: &str, event_key: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(finding_id.as_bytes());
    h.update([0]);
    h.update(event_key.as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| StoreError::Sqlite {
            path: p.clone(),
            source: e,
        })?;
        Self::init(conn, p)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Sqlite {
            path: ":memory:".into(),
            source: e,
        })?;
        Self::init(conn, ":memory:".into())
    }

    fn init(conn: Connection, path: String) -> Result<Self, StoreError> {
        let s = SqliteStore { conn, path };
        s.conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
            )
            .and_then(|_| s.conn.execute_batch(SCHEMA))
            .map_err(|e| s.err(e))?;
        Ok(s)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        }
    }

    fn load(
        conn: &Connection,
        id: &str,
    ) -> Result<Option<Result<Finding, String>>, rusqlite::Error> {
        let body: Option<String> = conn
            .query_row("SELECT body FROM findings WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(body.map(|b| serde_json::from_str::<Finding>(&b).map_err(|e| e.to_string())))
    }

    fn save(conn: &Connection, f: &Finding) -> Result<(), StoreError> {
        let body = serde_json::to_string(f).map_err(|e| StoreError::Corrupt {
            id: f.id.clone(),
            reason: e.to_string(),
        })?;
        conn.prepare_cached(
            "INSERT INTO findings(id, rule, severity_rank, principal, owner, status, first_seen, last_seen, count, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(id) DO UPDATE SET rule=excluded.rule, severity_rank=excluded.severity_rank,
               principal=excluded.principal, owner=excluded.owner, status=excluded.status,
               first_seen=excluded.first_seen, last_seen=excluded.last_seen, count=excluded.count,
               body=excluded.body",
        )
        .and_then(|mut st| {
            st.execute(params![
                f.id,
                f.rule.as_str(),
                sev_rank(f.severity),
                f.principal,
                f.owner,
                f.status.as_str(),
                crate::activity::format_time(&f.first_seen),
                crate::activity::format_time(&f.last_seen),
                f.count as i64,
                body
            ])
        })
        .map(|_| ())
        .map_err(|e| StoreError::Sqlite {
            path: String::new(),
            source: e,
        })
    }
}

impl FindingStore for SqliteStore {
    fn record(&mut self, hits: &[Hit]) -> Result<Vec<HitOutcome>, StoreError> {
        let path = self.path.clone();
        let sql = |e: rusqlite::Error| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut out = Vec::with_capacity(hits.len());
        let mut touched: HashMap<&str, Option<Finding>> = HashMap::new();
        // Findings to save, in first-touched order; `dirty_set` keeps the check O(1) (a batch can
        // touch thousands of findings: a sweep sends one hit per finding).
        let mut dirty: Vec<&str> = Vec::new();
        let mut dirty_set: std::collections::HashSet<&str> = std::collections::HashSet::new();
        {
            let mut mark = tx
                .prepare_cached("INSERT OR IGNORE INTO finding_events(k) VALUES (?1)")
                .map_err(sql)?;
            for h in hits {
                let k = event_key(&h.finding_id, &h.event_key);
                if mark.execute([&k[..]]).map_err(sql)? == 0 {
                    out.push(HitOutcome::Duplicate);
                    continue;
                }
                let id = h.finding_id.as_str();
                if !touched.contains_key(id) {
                    let existing = match SqliteStore::load(&tx, id).map_err(sql)? {
                        None => None,
                        Some(Ok(f)) => Some(f),
                        Some(Err(reason)) => {
                            return Err(StoreError::Corrupt {
                                id: id.to_string(),
                                reason,
                            })
                        }
                    };
                    touched.insert(id, existing);
                }
                if let Some(slot) = touched.get_mut(id) {
                    out.push(apply_hit(slot, h));
                    if dirty_set.insert(id) {
                        dirty.push(id);
                    }
                }
            }
        }
        for id in dirty {
            if let Some(Some(f)) = touched.get(id) {
                SqliteStore::save(&tx, f).map_err(|e| match e {
                    StoreError::Sqlite { source, .. } => sql(source),
                    other => other,
                })?;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(out)
    }

    fn get(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        match SqliteStore::load(&self.conn, id).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(Ok(f)) => Ok(Some(f)),
            Some(Err(reason)) => Err(StoreError::Corrupt {
                id: id.to_string(),
                reason,
            }),
        }
    }

    fn list(&self, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        // Narrow in SQL with the indexed columns; the shared filter decides exactly.
        let mut sql = String::from("SELECT id, body FROM findings WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(o) = &filter.owner {
            sql.push_str(" AND owner = ?");
            args.push(o.clone().into());
        }
        if let Some(p) = &filter.principal {
            sql.push_str(" AND principal = ?");
            args.push(p.clone().into());
        }
        if let Some(s) = filter.status {
            sql.push_str(" AND status = ?");
            args.push(s.as_str().to_string().into());
        }
        if let Some(r) = filter.rule {
            sql.push_str(" AND rule = ?");
            args.push(r.as_str().to_string().into());
        }
        if let Some(s) = filter.min_severity {
            sql.push_str(" AND severity_rank >= ?");
            args.push(sev_rank(s).into());
        }
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut v = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(|e| self.err(e))?;
            let f: Finding = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                id,
                reason: e.to_string(),
            })?;
            if filter.matches(&f) {
                v.push(f);
            }
        }
        sort_findings(&mut v);
        if let Some(l) = filter.limit {
            v.truncate(l);
        }
        Ok(v)
    }

    fn set_status(
        &mut self,
        id: &str,
        status: Status,
        reason: Option<String>,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Finding, StoreError> {
        let mut f = self
            .get(id)?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        change_status(&mut f, status, reason, until, now);
        SqliteStore::save(&self.conn, &f).map_err(|e| match e {
            StoreError::Sqlite { source, .. } => self.err(source),
            other => other,
        })?;
        Ok(f)
    }
}

impl LifecycleStore for SqliteStore {
    fn record_changes(&mut self, changes: &[LifecycleChange]) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let sql = |e: rusqlite::Error| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut new = 0u64;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO lifecycle(principal, event_key, at, change)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql)?;
            for c in changes {
                let principal = c.event.principal();
                let body = c.encode()?;
                let at = crate::activity::format_time(&c.at);
                new += insert
                    .execute(params![principal, c.event_key, at, body])
                    .map_err(sql)? as u64;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(new)
    }

    fn changes_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<LifecycleChange>, StoreError> {
        // Times are stored as `format_time` text: sortable, whole seconds.
        let since = since.map(|t| crate::activity::format_time(&t));
        let mut st = self
            .conn
            .prepare(
                "SELECT principal, event_key, change FROM lifecycle
                 WHERE ?1 IS NULL OR at >= ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([since], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut v = Vec::new();
        for row in rows {
            let (principal, event_key, body) = row.map_err(|e| self.err(e))?;
            v.push(LifecycleChange::decode(&body, principal, event_key)?);
        }
        sort_changes(&mut v);
        Ok(v)
    }
}
