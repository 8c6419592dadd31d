//! The service's state in SQLite (`STATE_DIR/state.db`): every sync's outcome and counts, each
//! tenant's last snapshots (zstd-compressed JSON) with the diff from the one before, and the
//! audit log of changes.
//!
//! Durable and crash-safe by construction: WAL journal with `synchronous=FULL`, and a sync's
//! results (its row, its snapshot, its diff, the pruning of old snapshots) commit in one
//! transaction, so a crash or a kill at any moment leaves the last committed state whole. A sync
//! a crash interrupted is found `running` at the next start and marked abandoned.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

/// Schema version, in SQLite's `user_version`.
const SCHEMA_VERSION: i64 = 1;
/// Sync rows kept per tenant (snapshots are kept as the retention setting says).
const SYNC_ROWS_KEPT: i64 = 1000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS syncs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL,
    error       TEXT,
    resources   INTEGER,
    grants      INTEGER,
    requests    INTEGER,
    duration_ms INTEGER
);
CREATE INDEX IF NOT EXISTS syncs_by_tenant ON syncs (tenant, id);
CREATE TABLE IF NOT EXISTS snapshots (
    sync_id    INTEGER PRIMARY KEY REFERENCES syncs (id),
    tenant     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    snapshot   BLOB NOT NULL,
    diff       TEXT
);
CREATE INDEX IF NOT EXISTS snapshots_by_tenant ON snapshots (tenant, sync_id);
CREATE TABLE IF NOT EXISTS audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    tenant    TEXT NOT NULL,
    operation TEXT NOT NULL,
    arguments TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    result    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit (tenant, id);
";

/// A failure of the state database, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self(format!("the state database failed: {error}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One sync, as `GET /v1/tenants/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRecord {
    pub id: i64,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `ok`, `failed` or `abandoned`.
    pub outcome: String,
    pub error: Option<String>,
    pub resources: Option<i64>,
    pub grants: Option<i64>,
    pub requests: Option<i64>,
    pub duration_ms: Option<i64>,
}

/// What a successful sync found, for its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncCounts {
    pub resources: i64,
    pub grants: i64,
    pub requests: i64,
    pub duration_ms: i64,
}

/// One change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub tenant: String,
    pub operation: String,
    pub arguments: Value,
    /// `done`, `failed` or `refused`.
    pub outcome: String,
    /// What the change printed, or its error.
    pub result: Value,
}

pub struct Store {
    connection: Mutex<Connection>,
    path: PathBuf,
}

/// Now, as RFC 3339 UTC to the millisecond.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Store {
    /// Opens (creating) `dir/state.db`; marks syncs a crash left running as abandoned.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("cannot create --state-dir {}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Snapshots say who can do what: only the service's user reads them.
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = dir.join("state.db");
        let connection = Connection::open(&path)
            .map_err(|e| StoreError(format!("cannot open the state database {}: {e}; check --state-dir", path.display())))?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError(format!(
                "the state database {} was written by a newer version (schema {version}); run that version or use another --state-dir",
                path.display()
            )));
        }
        connection.execute_batch(SCHEMA)?;
        connection.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        connection.execute(
            "UPDATE syncs SET outcome = 'abandoned', finished_at = ?1, error = 'the service stopped during the sync' WHERE outcome = 'running'",
            params![now()],
        )?;
        Ok(Self { connection: Mutex::new(connection), path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a sync that starts now; answers its id.
    pub fn begin_sync(&self, tenant: &str, trigger: &str) -> StoreResult<i64> {
        let connection = self.connection();
        connection.execute(
            "INSERT INTO syncs (tenant, trigger, started_at, outcome) VALUES (?1, ?2, ?3, 'running')",
            params![tenant, trigger, now()],
        )?;
        Ok(connection.last_insert_rowid())
    }

    /// Records a successful sync, its snapshot (JSON) and the diff from the one before, and
    /// prunes the tenant's snapshots to the newest `keep`, in one transaction.
    pub fn finish_ok(
        &self,
        sync_id: i64,
        tenant: &str,
        counts: SyncCounts,
        snapshot: &[u8],
        diff: Option<&Value>,
        keep: usize,
    ) -> StoreResult<()> {
        let compressed = zstd::encode_all(snapshot, 3).map_err(|e| StoreError(format!("cannot compress the snapshot: {e}")))?;
        let diff = diff.map(Value::to_string);
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        let finished = now();
        transaction.execute(
            "UPDATE syncs SET outcome = 'ok', finished_at = ?2, resources = ?3, grants = ?4, requests = ?5, duration_ms = ?6 WHERE id = ?1",
            params![sync_id, finished, counts.resources, counts.grants, counts.requests, counts.duration_ms],
        )?;
        transaction.execute(
            "INSERT INTO snapshots (sync_id, tenant, created_at, snapshot, diff) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![sync_id, tenant, finished, compressed, diff],
        )?;
        transaction.execute(
            "DELETE FROM snapshots WHERE tenant = ?1 AND sync_id NOT IN (SELECT sync_id FROM snapshots WHERE tenant = ?1 ORDER BY sync_id DESC LIMIT ?2)",
            params![tenant, keep.max(1) as i64],
        )?;
        transaction.execute(
            "DELETE FROM syncs WHERE tenant = ?1 AND id NOT IN (SELECT id FROM syncs WHERE tenant = ?1 ORDER BY id DESC LIMIT ?2) AND id NOT IN (SELECT sync_id FROM snapshots)",
            params![tenant, SYNC_ROWS_KEPT],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Records a failed (or abandoned) sync and its one-line error; a sync already recorded as
    /// finished stays as it was.
    pub fn finish_failed(&self, sync_id: i64, outcome: &str, error: &str) -> StoreResult<()> {
        self.connection().execute(
            "UPDATE syncs SET outcome = ?2, finished_at = ?3, error = ?4 WHERE id = ?1 AND outcome = 'running'",
            params![sync_id, outcome, now(), error],
        )?;
        Ok(())
    }

    fn sync_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SyncRecord> {
        Ok(SyncRecord {
            id: row.get(0)?,
            trigger: row.get(1)?,
            started_at: row.get(2)?,
            finished_at: row.get(3)?,
            outcome: row.get(4)?,
            error: row.get(5)?,
            resources: row.get(6)?,
            grants: row.get(7)?,
            requests: row.get(8)?,
            duration_ms: row.get(9)?,
        })
    }

    /// The tenant's latest sync.
    pub fn last_sync(&self, tenant: &str) -> StoreResult<Option<SyncRecord>> {
        Ok(self
            .connection()
            .query_row(
                "SELECT id, trigger, started_at, finished_at, outcome, error, resources, grants, requests, duration_ms FROM syncs WHERE tenant = ?1 ORDER BY id DESC LIMIT 1",
                params![tenant],
                Self::sync_from_row,
            )
            .optional()?)
    }

    /// The tenant's sync `id`, or its newest `limit` syncs (newest first) when `id` is none.
    pub fn syncs(&self, tenant: &str, id: Option<i64>, limit: usize) -> StoreResult<Vec<SyncRecord>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT id, trigger, started_at, finished_at, outcome, error, resources, grants, requests, duration_ms FROM syncs
             WHERE tenant = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = statement.query_map(params![tenant, id, limit as i64], Self::sync_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the tenant's latest successful sync finished.
    pub fn last_success_at(&self, tenant: &str) -> StoreResult<Option<String>> {
        Ok(self
            .connection()
            .query_row("SELECT created_at FROM snapshots WHERE tenant = ?1 ORDER BY sync_id DESC LIMIT 1", params![tenant], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// The tenant's latest snapshot, as JSON bytes, with its sync's id.
    pub fn last_snapshot(&self, tenant: &str) -> StoreResult<Option<(i64, Vec<u8>)>> {
        let found: Option<(i64, Vec<u8>)> = self
            .connection()
            .query_row("SELECT sync_id, snapshot FROM snapshots WHERE tenant = ?1 ORDER BY sync_id DESC LIMIT 1", params![tenant], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        match found {
            Some((id, compressed)) => {
                let json = zstd::decode_all(compressed.as_slice()).map_err(|e| StoreError(format!("a stored snapshot is damaged: {e}")))?;
                Ok(Some((id, json)))
            }
            None => Ok(None),
        }
    }

    /// The diff the tenant's latest snapshot made (none for a tenant's first).
    pub fn last_diff(&self, tenant: &str) -> StoreResult<Option<(i64, Option<Value>)>> {
        let found: Option<(i64, Option<String>)> = self
            .connection()
            .query_row("SELECT sync_id, diff FROM snapshots WHERE tenant = ?1 ORDER BY sync_id DESC LIMIT 1", params![tenant], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        Ok(found.map(|(id, diff)| (id, diff.and_then(|d| serde_json::from_str(&d).ok()))))
    }

    /// Appends a change to the audit log.
    pub fn audit(&self, tenant: &str, operation: &str, arguments: &Value, outcome: &str, result: &Value) -> StoreResult<()> {
        self.connection().execute(
            "INSERT INTO audit (at, tenant, operation, arguments, outcome, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![now(), tenant, operation, arguments.to_string(), outcome, result.to_string()],
        )?;
        Ok(())
    }

    /// The tenant's newest `limit` audit entries, newest first.
    pub fn audit_log(&self, tenant: &str, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT id, at, tenant, operation, arguments, outcome, result FROM audit WHERE tenant = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![tenant, limit as i64], |row| {
            let arguments: String = row.get(4)?;
            let result: String = row.get(6)?;
            Ok(AuditEntry {
                id: row.get(0)?,
                at: row.get(1)?,
                tenant: row.get(2)?,
                operation: row.get(3)?,
                arguments: serde_json::from_str(&arguments).unwrap_or(Value::Null),
                outcome: row.get(5)?,
                result: serde_json::from_str(&result).unwrap_or(Value::Null),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity(&self) -> StoreResult<String> {
        Ok(self.connection().query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COUNTS: SyncCounts = SyncCounts { resources: 3, grants: 2, requests: 5, duration_ms: 40 };

    #[test]
    fn a_sync_keeps_its_snapshot_and_diff_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for n in 0..5 {
            let id = store.begin_sync("acme", "schedule").unwrap();
            let diff = json!({"n": n});
            store.finish_ok(id, "acme", COUNTS, format!("{{\"n\":{n}}}").as_bytes(), (n > 0).then_some(&diff), 3).unwrap();
        }
        let (_, snapshot) = store.last_snapshot("acme").unwrap().unwrap();
        assert_eq!(snapshot, br#"{"n":4}"#);
        assert_eq!(store.last_diff("acme").unwrap().unwrap().1, Some(json!({"n": 4})));
        let kept: i64 = store.connection().query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 3);
        assert_eq!(store.last_sync("acme").unwrap().unwrap().outcome, "ok");
        assert!(store.last_snapshot("other").unwrap().is_none());
    }

    #[test]
    fn a_sync_left_running_by_a_crash_is_abandoned_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.begin_sync("acme", "schedule").unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let last = store.last_sync("acme").unwrap().unwrap();
        assert_eq!(last.outcome, "abandoned");
        assert_eq!(store.integrity().unwrap(), "ok");
    }

    #[test]
    fn the_audit_log_reads_back_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.audit("acme", "grant", &json!({"entitlement": "e"}), "done", &json!({"outcome": "granted"})).unwrap();
        store.audit("acme", "revoke", &json!({"grant": "g"}), "failed", &json!({"error": "x"})).unwrap();
        let log = store.audit_log("acme", 10).unwrap();
        assert_eq!(log.iter().map(|e| e.operation.as_str()).collect::<Vec<_>>(), ["revoke", "grant"]);
        assert_eq!(log[1].result["outcome"], "granted");
    }
}
