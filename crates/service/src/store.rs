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

/// Schema version, in SQLite's `user_version`: 2 added the audit log's request ids and
/// settlement times (changes are recorded before they are sent).
const SCHEMA_VERSION: i64 = 2;
/// The most a stored snapshot may decompress to; a larger one is damaged (or hostile), and the
/// one before it is served.
pub const MAX_STORED_SNAPSHOT: u64 = 2 << 30;
/// The most a stored diff may hold.
pub const MAX_STORED_DIFF: usize = 256 << 20;
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
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    operation  TEXT NOT NULL,
    arguments  TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    result     TEXT NOT NULL,
    request_id TEXT,
    settled_at TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit (tenant, id);
";

/// From schema 1: the audit log's new columns.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE audit ADD COLUMN request_id TEXT;
ALTER TABLE audit ADD COLUMN settled_at TEXT;
";

/// What a change whose outcome a crash left unrecorded says.
const UNKNOWN_OUTCOME: &str = "the service stopped after recording the change and before recording its outcome: it may have reached the API; sync the tenant to see what it holds";

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
        Self(format!("the state database failed: {error}; check the --state-dir disk's free space and permissions"))
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
    /// When it was recorded: before anything was sent.
    pub at: String,
    pub tenant: String,
    pub operation: String,
    pub arguments: Value,
    /// `pending` (recorded, being sent), `done`, `failed`, `refused` (nothing sent), or
    /// `unknown` (the service stopped before its outcome was recorded).
    pub outcome: String,
    /// What the change printed, or its error.
    pub result: Value,
    /// The `X-Request-Id` its answer carried.
    pub request_id: Option<String>,
    /// When its outcome was recorded.
    pub settled_at: Option<String>,
}

/// One stored snapshot that could not be read, for `/health` and the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedSnapshot {
    pub tenant: String,
    pub sync_id: i64,
    pub why: String,
}

pub struct Store {
    connection: Mutex<Connection>,
    path: PathBuf,
    /// Changes found `pending` at start, now `unknown`.
    unknown_changes: u64,
    /// Stored snapshots found damaged since start.
    damaged: Mutex<Vec<DamagedSnapshot>>,
    /// Held for the process's life: one service per state directory.
    _lock: std::fs::File,
}

/// Now, as RFC 3339 UTC to the millisecond.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Store {
    /// Opens (creating) `dir/state.db`, holding `dir/lock` for the process's life; marks syncs a
    /// crash left running as abandoned, and changes it left pending as unknown.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError(format!("cannot create --state-dir {}: {e}; check its parent's permissions", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Snapshots say who can do what: only the service's user reads them.
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let lock = lock(dir)?;
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
        let fresh: bool = connection.query_row("SELECT count(*) = 0 FROM sqlite_master WHERE name = 'audit'", [], |row| row.get(0))?;
        if version == 1 && !fresh {
            connection.execute_batch(MIGRATE_1_TO_2)?;
        }
        connection.execute_batch(SCHEMA)?;
        connection.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        connection.execute(
            "UPDATE syncs SET outcome = 'abandoned', finished_at = ?1, error = 'the service stopped during the sync' WHERE outcome = 'running'",
            params![now()],
        )?;
        let unknown = connection.execute(
            "UPDATE audit SET outcome = 'unknown', settled_at = ?1, result = ?2 WHERE outcome = 'pending'",
            params![now(), serde_json::json!({"error": UNKNOWN_OUTCOME}).to_string()],
        )? as u64;
        if unknown > 0 {
            tracing::warn!(
                "{unknown} change(s) were recorded and not settled when the service last stopped: marked unknown in the audit log"
            );
        }
        Ok(Self { connection: Mutex::new(connection), path, unknown_changes: unknown, damaged: Mutex::default(), _lock: lock })
    }

    /// Changes a crash left unsettled, found at start.
    pub fn unknown_changes(&self) -> u64 {
        self.unknown_changes
    }

    /// Stored snapshots found damaged since start.
    pub fn damaged(&self) -> Vec<DamagedSnapshot> {
        self.damaged.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
        // One frame that declares its size, so that a read can check it before it decompresses.
        let compressed = zstd::bulk::compress(snapshot, 3).map_err(|e| StoreError(format!("cannot compress the snapshot: {e}")))?;
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

    /// The tenant's latest snapshot that reads whole, as JSON bytes, with its sync's id. A stored
    /// snapshot that does not decompress, or decompresses past [`MAX_STORED_SNAPSHOT`], is
    /// damaged: it is reported (a warning, `/health`) and the one before it is served.
    pub fn last_snapshot(&self, tenant: &str) -> StoreResult<Option<(i64, Vec<u8>)>> {
        let ids: Vec<i64> = {
            let connection = self.connection();
            let mut statement = connection.prepare("SELECT sync_id FROM snapshots WHERE tenant = ?1 ORDER BY sync_id DESC")?;
            statement.query_map(params![tenant], |row| row.get(0))?.collect::<Result<_, _>>()?
        };
        for id in ids {
            let compressed: Vec<u8> =
                self.connection().query_row("SELECT snapshot FROM snapshots WHERE sync_id = ?1", params![id], |row| row.get(0))?;
            match decompress(&compressed, MAX_STORED_SNAPSHOT) {
                Ok(json) => return Ok(Some((id, json))),
                Err(why) => self.note_damaged(tenant, id, why),
            }
        }
        Ok(None)
    }

    fn note_damaged(&self, tenant: &str, sync_id: i64, why: String) {
        let mut damaged = self.damaged.lock().unwrap_or_else(|p| p.into_inner());
        if !damaged.iter().any(|d| d.sync_id == sync_id) {
            tracing::warn!(tenant = %tenant, "the stored snapshot of sync {sync_id} is damaged ({why}): the one before it is served");
            damaged.push(DamagedSnapshot { tenant: tenant.to_owned(), sync_id, why });
        }
    }

    /// The diff the tenant's latest snapshot made (none for a tenant's first). A diff that is too
    /// large or not JSON is an error, not "no diff".
    pub fn last_diff(&self, tenant: &str) -> StoreResult<Option<(i64, Option<Value>)>> {
        let found: Option<(i64, Option<String>)> = self
            .connection()
            .query_row("SELECT sync_id, diff FROM snapshots WHERE tenant = ?1 ORDER BY sync_id DESC LIMIT 1", params![tenant], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        match found {
            None => Ok(None),
            Some((id, None)) => Ok(Some((id, None))),
            Some((id, Some(diff))) if diff.len() > MAX_STORED_DIFF => {
                Err(StoreError(format!("the stored diff of sync {id} is larger than {MAX_STORED_DIFF} bytes: it is damaged")))
            }
            Some((id, Some(diff))) => serde_json::from_str(&diff)
                .map(|d| Some((id, Some(d))))
                .map_err(|e| StoreError(format!("the stored diff of sync {id} is damaged: {e}"))),
        }
    }

    /// Appends a change already settled (a refusal: nothing was sent).
    pub fn audit(
        &self,
        tenant: &str,
        operation: &str,
        arguments: &Value,
        outcome: &str,
        result: &Value,
        request_id: &str,
    ) -> StoreResult<()> {
        let at = now();
        self.connection().execute(
            "INSERT INTO audit (at, tenant, operation, arguments, outcome, result, request_id, settled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?1)",
            params![at, tenant, operation, arguments.to_string(), outcome, result.to_string(), request_id],
        )?;
        Ok(())
    }

    /// Records a change about to be sent, `pending`, durably; answers its entry's id.
    pub fn audit_pending(&self, tenant: &str, operation: &str, arguments: &Value, request_id: &str) -> StoreResult<i64> {
        let connection = self.connection();
        connection.execute(
            "INSERT INTO audit (at, tenant, operation, arguments, outcome, result, request_id) VALUES (?1, ?2, ?3, ?4, 'pending', 'null', ?5)",
            params![now(), tenant, operation, arguments.to_string(), request_id],
        )?;
        Ok(connection.last_insert_rowid())
    }

    /// Records the outcome of a pending change.
    pub fn audit_settle(&self, entry: i64, outcome: &str, result: &Value) -> StoreResult<()> {
        let settled = self.connection().execute(
            "UPDATE audit SET outcome = ?2, result = ?3, settled_at = ?4 WHERE id = ?1 AND outcome = 'pending'",
            params![entry, outcome, result.to_string(), now()],
        )?;
        if settled != 1 {
            return Err(StoreError(format!("audit entry {entry} is not pending")));
        }
        Ok(())
    }

    /// Whether the state can be written now (for `/health`): a write that changes nothing.
    pub fn writable(&self) -> StoreResult<()> {
        let connection = self.connection();
        connection.execute_batch("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS probe (x); DROP TABLE probe; COMMIT;").map_err(|e| {
            let _ = connection.execute_batch("ROLLBACK");
            StoreError(format!(
                "the state database {} cannot be written: {e}; free space on its disk or fix its permissions",
                self.path.display()
            ))
        })
    }

    /// The tenant's newest `limit` audit entries, newest first.
    pub fn audit_log(&self, tenant: &str, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT id, at, tenant, operation, arguments, outcome, result, request_id, settled_at FROM audit WHERE tenant = ?1 ORDER BY id DESC LIMIT ?2",
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
                request_id: row.get(7)?,
                settled_at: row.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity(&self) -> StoreResult<String> {
        Ok(self.connection().query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }
}

/// `dir/lock`, locked for this process: one service per state directory. The holder's pid is
/// written in it, for the message a second one gets.
fn lock(dir: &Path) -> StoreResult<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = dir.join("lock");
    let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| {
        StoreError(format!("cannot open the state directory's lock {}: {e}; check --state-dir's permissions", path.display()))
    })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { String::new() } else { format!(" (process {holder})") };
            return Err(StoreError(format!(
                "the state directory {} is in use by another service{holder}, which holds {}; stop it or give this one another --state-dir",
                dir.display(),
                path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError(format!("cannot lock {}: {e}; check --state-dir's file system", path.display())));
        }
    }
    let _ =
        file.set_len(0).and_then(|()| file.rewind()).and_then(|()| write!(file, "{}", std::process::id())).and_then(|()| file.sync_data());
    Ok(file)
}

/// `compressed` (zstd) decompressed, refused past `limit` bytes without holding more than
/// `limit` in memory: a frame that declares its size is checked before it is read; one that
/// does not (older states) is measured by a first pass that keeps nothing.
pub fn decompress(compressed: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let too_large = || format!("it decompresses to more than {limit} bytes");
    match zstd::zstd_safe::get_frame_content_size(compressed) {
        Ok(Some(declared)) if declared > limit => return Err(too_large()),
        Ok(Some(declared)) => {
            let json = zstd::bulk::decompress(compressed, declared as usize).map_err(|e| format!("not whole zstd: {e}"))?;
            if json.len() as u64 != declared {
                return Err(format!("it decompresses to {} bytes, not the {declared} its frame declares", json.len()));
            }
            return Ok(json);
        }
        Ok(None) => {}
        Err(_) => return Err("not zstd".into()),
    }
    let measured = {
        let decoder = zstd::stream::read::Decoder::new(compressed).map_err(|e| format!("not zstd: {e}"))?;
        std::io::copy(&mut decoder.take(limit + 1), &mut std::io::sink()).map_err(|e| format!("not whole zstd: {e}"))?
    };
    if measured > limit {
        return Err(too_large());
    }
    let mut json = Vec::with_capacity(measured as usize);
    let decoder = zstd::stream::read::Decoder::new(compressed).map_err(|e| format!("not zstd: {e}"))?;
    decoder.take(limit).read_to_end(&mut json).map_err(|e| format!("not whole zstd: {e}"))?;
    Ok(json)
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
    fn a_change_is_pending_until_settled_and_unknown_when_a_crash_left_it_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let done = store.audit_pending("acme", "grant", &json!({"entitlement": "e"}), "req-1").unwrap();
        store.audit_settle(done, "done", &json!({"outcome": "granted"})).unwrap();
        assert!(store.audit_settle(done, "failed", &json!({})).is_err(), "settled once");
        store.audit_pending("acme", "revoke", &json!({"grant": "g"}), "req-2").unwrap();
        assert_eq!(store.audit_log("acme", 10).unwrap()[0].outcome, "pending");
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.unknown_changes(), 1);
        let log = store.audit_log("acme", 10).unwrap();
        assert_eq!((log[0].outcome.as_str(), log[0].request_id.as_deref()), ("unknown", Some("req-2")));
        assert!(log[0].result["error"].as_str().unwrap().contains("may have reached the API"));
        assert_eq!((log[1].outcome.as_str(), log[1].request_id.as_deref()), ("done", Some("req-1")));
        assert!(log[1].settled_at.is_some());
    }

    #[test]
    fn one_service_per_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path()).unwrap();
        let error = Store::open(dir.path()).err().expect("the second is refused");
        assert!(error.0.contains("in use by another service") && error.0.contains(&format!("process {}", std::process::id())), "{error}");
        drop(first);
        assert!(Store::open(dir.path()).is_ok(), "free again once the first is gone");
    }

    #[test]
    fn a_damaged_or_oversized_snapshot_is_reported_and_the_one_before_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for n in 0..3 {
            let id = store.begin_sync("acme", "schedule").unwrap();
            store.finish_ok(id, "acme", COUNTS, format!("{{\"n\":{n}}}").as_bytes(), None, 5).unwrap();
        }
        store.connection().execute("UPDATE snapshots SET snapshot = x'28b52ffd0000' WHERE sync_id = 3", []).unwrap();
        let (id, snapshot) = store.last_snapshot("acme").unwrap().unwrap();
        assert_eq!((id, snapshot.as_slice()), (2, &br#"{"n":1}"#[..]));
        assert_eq!(store.damaged().len(), 1);
        assert_eq!(store.damaged()[0].sync_id, 3);
    }

    #[test]
    fn decompression_stops_at_the_limit_declared_or_not() {
        let big = vec![b' '; 1 << 20];
        let declared = zstd::bulk::compress(&big, 1).unwrap();
        assert!(decompress(&declared, 1000).unwrap_err().contains("more than 1000 bytes"));
        assert_eq!(decompress(&declared, 1 << 20).unwrap().len(), 1 << 20);
        let streamed = zstd::encode_all(big.as_slice(), 1).unwrap();
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&streamed).unwrap(), None, "no declared size");
        assert!(decompress(&streamed, 1000).unwrap_err().contains("more than 1000 bytes"));
        assert_eq!(decompress(&streamed, 1 << 20).unwrap(), big);
        assert!(decompress(b"not zstd", 1000).is_err());
    }

    #[test]
    fn the_audit_log_reads_back_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.audit("acme", "grant", &json!({"entitlement": "e"}), "done", &json!({"outcome": "granted"}), "r1").unwrap();
        store.audit("acme", "revoke", &json!({"grant": "g"}), "failed", &json!({"error": "x"}), "r2").unwrap();
        let log = store.audit_log("acme", 10).unwrap();
        assert_eq!(log.iter().map(|e| e.operation.as_str()).collect::<Vec<_>>(), ["revoke", "grant"]);
        assert_eq!(log[1].result["outcome"], "granted");
    }
}
