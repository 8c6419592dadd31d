//! The state in SQLite (`STATE_DIR/state.db`), for one process: WAL journal with
//! `synchronous=FULL`, one connection, and `STATE_DIR/lock` held for the process's life.
//!
//! Calls run on the caller's thread under the connection's lock: each is one short statement or
//! transaction on a local file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    ABANDONED, AuditEntry, AuditRecord, Claim, DamagedList, DamagedSnapshot, Lease, Release, SYNC_ROWS_KEPT, Store, StoreError,
    StoreFuture, StoreResult, SyncCounts, SyncRecord, TenantRecord, UNKNOWN_OUTCOME, compress, lease_lost, now,
};

/// Schema version, in SQLite's `user_version`: 2 added the audit log's request ids and
/// settlement times (changes are recorded before they are sent); 3 the replica of each sync and
/// change; 4 the schedule with its leases (one process holds them all, but the service runs the
/// same way on both back ends).
const SCHEMA_VERSION: i64 = 4;

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
    duration_ms INTEGER,
    replica     TEXT
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
    settled_at TEXT,
    replica    TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit (tenant, id);
CREATE TABLE IF NOT EXISTS schedule (
    tenant           TEXT PRIMARY KEY,
    next_due_ms      INTEGER NOT NULL,
    holder           TEXT,
    token            INTEGER NOT NULL,
    lease_expires_ms INTEGER
);
";

/// From schema 1: the audit log's new columns.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE audit ADD COLUMN request_id TEXT;
ALTER TABLE audit ADD COLUMN settled_at TEXT;
";

/// From schema 2: the replica of each sync and change.
const MIGRATE_2_TO_3: &str = "
ALTER TABLE syncs ADD COLUMN replica TEXT;
ALTER TABLE audit ADD COLUMN replica TEXT;
";

const SYNC_COLUMNS: &str = "id, trigger, started_at, finished_at, outcome, error, resources, grants, requests, duration_ms, replica";
/// The same columns of the table named `s`.
const SYNC_COLUMNS_OF_S: &str =
    "s.id, s.trigger, s.started_at, s.finished_at, s.outcome, s.error, s.resources, s.grants, s.requests, s.duration_ms, s.replica";

fn failed(error: rusqlite::Error) -> StoreError {
    StoreError(format!("the state database failed: {error}; check the --state-dir disk's free space and permissions"))
}

pub struct SqliteStore {
    connection: Mutex<Connection>,
    path: PathBuf,
    replica: String,
    /// Changes found `pending` at start, now `unknown`.
    unknown_changes: u64,
    /// Stored snapshots found damaged since start.
    damaged: DamagedList,
    /// Held for the process's life: one service per state directory.
    _lock: std::fs::File,
}

impl SqliteStore {
    /// Opens (creating) `dir/state.db`, holding `dir/lock` for the process's life; marks syncs a
    /// crash left running as abandoned, and changes it left pending as unknown.
    pub fn open(dir: &Path, replica: &str) -> StoreResult<Self> {
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
        let unknown = prepare(&connection, &path).map_err(|e| match e {
            Prepared::Refused(error) => error,
            Prepared::Failed(error) => failed(error),
        })?;
        if unknown > 0 {
            tracing::warn!(
                "{unknown} change(s) were recorded and not settled when the service last stopped: marked unknown in the audit log"
            );
        }
        Ok(Self {
            connection: Mutex::new(connection),
            path,
            replica: replica.to_owned(),
            unknown_changes: unknown,
            damaged: DamagedList::default(),
            _lock: lock,
        })
    }

    /// A second connection to the state in `dir` beside the service that holds it, as replica
    /// `replica`, without the lock and without settling anything: for tests of the rules that
    /// several replicas follow (the service itself never opens one).
    #[doc(hidden)]
    pub fn shared_with(dir: &Path, replica: &str) -> StoreResult<Self> {
        let path = dir.join("state.db");
        let connection = Connection::open(&path).map_err(failed)?;
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(failed)?;
        let lock = std::fs::File::open(dir.join("lock")).map_err(|e| StoreError(format!("no service holds {}: {e}", dir.display())))?;
        Ok(Self {
            connection: Mutex::new(connection),
            path,
            replica: replica.to_owned(),
            unknown_changes: 0,
            damaged: DamagedList::default(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every sync row with its tenant, oldest first (for a copy into another store).
    pub fn export_syncs(&self) -> StoreResult<Vec<(String, SyncRecord)>> {
        (|| {
            let connection = self.connection();
            let mut statement = connection.prepare(&format!("SELECT tenant, {SYNC_COLUMNS} FROM syncs ORDER BY id"))?;
            let rows = statement.query_map([], |row| {
                let tenant: String = row.get(0)?;
                let record = SyncRecord {
                    id: row.get(1)?,
                    trigger: row.get(2)?,
                    started_at: row.get(3)?,
                    finished_at: row.get(4)?,
                    outcome: row.get(5)?,
                    error: row.get(6)?,
                    resources: row.get(7)?,
                    grants: row.get(8)?,
                    requests: row.get(9)?,
                    duration_ms: row.get(10)?,
                    replica: row.get(11)?,
                };
                Ok((tenant, record))
            })?;
            rows.collect::<Result<_, _>>()
        })()
        .map_err(failed)
    }

    /// The sync ids of every kept snapshot, oldest first.
    pub fn export_snapshot_ids(&self) -> StoreResult<Vec<i64>> {
        (|| {
            let connection = self.connection();
            let mut statement = connection.prepare("SELECT sync_id FROM snapshots ORDER BY sync_id")?;
            statement.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()
        })()
        .map_err(failed)
    }

    /// One kept snapshot as stored: its tenant, time, compressed bytes and diff.
    #[allow(clippy::type_complexity)]
    pub fn export_snapshot(&self, sync_id: i64) -> StoreResult<Option<(String, String, Vec<u8>, Option<String>)>> {
        self.connection()
            .query_row("SELECT tenant, created_at, snapshot, diff FROM snapshots WHERE sync_id = ?1", params![sync_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()
            .map_err(failed)
    }

    /// Every audit entry, oldest first.
    pub fn export_audit(&self) -> StoreResult<Vec<AuditEntry>> {
        (|| {
            let connection = self.connection();
            let mut statement = connection.prepare(
                "SELECT id, at, tenant, operation, arguments, outcome, result, request_id, settled_at, replica FROM audit ORDER BY id",
            )?;
            let rows = statement.query_map([], audit_from_row)?;
            rows.collect::<Result<_, _>>()
        })()
        .map_err(failed)
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity(&self) -> StoreResult<String> {
        self.connection().query_row("PRAGMA integrity_check", [], |row| row.get(0)).map_err(failed)
    }

    /// Runs `statement` on the database as it is (for tests that damage it on purpose).
    pub fn execute_raw(&self, statement: &str) -> StoreResult<usize> {
        self.connection().execute(statement, []).map_err(failed)
    }
}

enum Prepared {
    Refused(StoreError),
    Failed(rusqlite::Error),
}

impl From<rusqlite::Error> for Prepared {
    fn from(error: rusqlite::Error) -> Self {
        Self::Failed(error)
    }
}

/// Brings the schema to this version and settles what the last process left: answers how many
/// changes it left pending.
fn prepare(connection: &Connection, path: &Path) -> Result<u64, Prepared> {
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Prepared::Refused(StoreError(format!(
            "the state database {} was written by a newer version (schema {version}); run that version or use another --state-dir",
            path.display()
        ))));
    }
    let fresh: bool = connection.query_row("SELECT count(*) = 0 FROM sqlite_master WHERE name = 'audit'", [], |row| row.get(0))?;
    if !fresh {
        if version <= 1 {
            connection.execute_batch(MIGRATE_1_TO_2)?;
        }
        if version <= 2 {
            connection.execute_batch(MIGRATE_2_TO_3)?;
        }
    }
    connection.execute_batch(SCHEMA)?;
    connection.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    connection.execute(
        "UPDATE syncs SET outcome = 'abandoned', finished_at = ?1, error = ?2 WHERE outcome = 'running'",
        params![now(), ABANDONED],
    )?;
    let unknown = connection.execute(
        "UPDATE audit SET outcome = 'unknown', settled_at = ?1, result = ?2 WHERE outcome = 'pending'",
        params![now(), serde_json::json!({"error": UNKNOWN_OUTCOME}).to_string()],
    )? as u64;
    // One process: what it leaves is over, and a start syncs every tenant (`docs/contract.md`
    // section 7).
    connection.execute("UPDATE schedule SET holder = NULL, lease_expires_ms = NULL, next_due_ms = 0", [])?;
    Ok(unknown)
}

/// Now, in milliseconds since the epoch: the schedule's clock (one process, one clock).
fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn millis(duration: Duration) -> i64 {
    duration.as_millis().min(i64::MAX as u128) as i64
}

/// Releases `release`'s lease and sets the tenant's next sync; false when it is no longer this
/// replica's.
fn release_lease(connection: &Connection, replica: &str, release: Release<'_>) -> rusqlite::Result<bool> {
    let released = connection.execute(
        "UPDATE schedule SET holder = NULL, lease_expires_ms = NULL, next_due_ms = ?4 WHERE tenant = ?1 AND holder = ?2 AND token = ?3",
        params![release.lease.tenant, replica, release.lease.token, now_ms().saturating_add(millis(release.next_in))],
    )?;
    Ok(released == 1)
}

fn audit_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
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
        replica: row.get(9)?,
    })
}

fn sync_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SyncRecord> {
    sync_from_row_at(row, 0)
}

/// A sync read from [`SYNC_COLUMNS`] starting at column `at`.
fn sync_from_row_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<SyncRecord> {
    Ok(SyncRecord {
        id: row.get(at)?,
        trigger: row.get(at + 1)?,
        started_at: row.get(at + 2)?,
        finished_at: row.get(at + 3)?,
        outcome: row.get(at + 4)?,
        error: row.get(at + 5)?,
        resources: row.get(at + 6)?,
        grants: row.get(at + 7)?,
        requests: row.get(at + 8)?,
        duration_ms: row.get(at + 9)?,
        replica: row.get(at + 10)?,
    })
}

/// An answer already known, as the trait's future.
fn ready<'a, T: Send + 'a>(result: StoreResult<T>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(result))
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("SQLite at {}", self.path.display())
    }

    fn unknown_changes(&self) -> u64 {
        self.unknown_changes
    }

    fn damaged(&self) -> Vec<DamagedSnapshot> {
        self.damaged.all()
    }

    fn note_damaged(&self, damaged: DamagedSnapshot) -> bool {
        self.damaged.note(damaged)
    }

    fn begin_sync<'a>(&'a self, tenant: &'a str, trigger: &'a str) -> StoreFuture<'a, i64> {
        ready(
            (|| {
                let connection = self.connection();
                connection.execute(
                    "INSERT INTO syncs (tenant, trigger, started_at, outcome, replica) VALUES (?1, ?2, ?3, 'running', ?4)",
                    params![tenant, trigger, now(), self.replica],
                )?;
                Ok(connection.last_insert_rowid())
            })()
            .map_err(failed),
        )
    }

    fn claim<'a>(&'a self, tenant: &'a str, ttl: Duration, now: bool) -> StoreFuture<'a, Claim> {
        ready(
            (|| {
                let connection = self.connection();
                let at = now_ms();
                let claimed: Option<i64> = connection
                    .query_row(
                        "INSERT INTO schedule (tenant, next_due_ms, holder, token, lease_expires_ms) VALUES (?1, ?2, ?3, 1, ?2 + ?4)
                         ON CONFLICT (tenant) DO UPDATE SET holder = excluded.holder, token = schedule.token + 1, lease_expires_ms = excluded.lease_expires_ms
                         WHERE (schedule.holder IS NULL OR schedule.lease_expires_ms <= ?2) AND (?5 OR schedule.next_due_ms <= ?2)
                         RETURNING token",
                        params![tenant, at, self.replica, millis(ttl), now],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(token) = claimed {
                    // One process: nothing of another replica's to take over.
                    return Ok(Claim::Granted(Lease { tenant: tenant.to_owned(), token, took_over_from: None }));
                }
                let row: Option<(Option<String>, Option<i64>, i64)> = connection
                    .query_row("SELECT holder, lease_expires_ms, next_due_ms FROM schedule WHERE tenant = ?1", params![tenant], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()?;
                let wait = |until: i64| Duration::from_millis(until.saturating_sub(at).max(0) as u64);
                Ok(match row {
                    Some((Some(by), Some(expires), _)) if expires > at => Claim::Held { by, wait: wait(expires) },
                    Some((_, _, next_due)) => Claim::NotDue { wait: wait(next_due) },
                    None => Claim::NotDue { wait: Duration::ZERO },
                })
            })()
            .map_err(failed),
        )
    }

    fn heartbeat(&self, _ttl: Duration) -> StoreFuture<'_, u64> {
        // One process: what an earlier one left was settled when this one opened the state.
        ready(Ok(0))
    }

    fn overview<'a>(&'a self, tenants: &'a [String]) -> StoreFuture<'a, HashMap<String, TenantRecord>> {
        ready(
            (|| {
                let list = serde_json::to_string(tenants).unwrap_or_else(|_| "[]".into());
                let connection = self.connection();
                // One pass over the listed tenants; each lookup walks an index.
                let mut statement = connection.prepare(&format!(
                    "SELECT t.value, {SYNC_COLUMNS_OF_S},
                        (SELECT holder FROM schedule WHERE tenant = t.value AND lease_expires_ms > ?2),
                        (SELECT created_at FROM snapshots WHERE tenant = t.value ORDER BY sync_id DESC LIMIT 1)
                     FROM json_each(?1) AS t
                     LEFT JOIN syncs AS s ON s.id = (SELECT max(id) FROM syncs WHERE tenant = t.value)"
                ))?;
                let rows = statement.query_map(params![list, now_ms()], |row| {
                    let tenant: String = row.get(0)?;
                    let last_sync = match row.get::<_, Option<i64>>(1)? {
                        Some(_) => Some(sync_from_row_at(row, 1)?),
                        None => None,
                    };
                    Ok((tenant, TenantRecord { last_sync, running_on: row.get(12)?, last_success_at: row.get(13)? }))
                })?;
                rows.filter(|row| !matches!(row, Ok((_, record)) if *record == TenantRecord::default()))
                    .collect::<Result<HashMap<_, _>, _>>()
            })()
            .map_err(failed),
        )
    }

    fn renew<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, bool> {
        ready(
            self.connection()
                .execute(
                    "UPDATE schedule SET lease_expires_ms = ?4 WHERE tenant = ?1 AND holder = ?2 AND token = ?3",
                    params![lease.tenant, self.replica, lease.token, now_ms().saturating_add(millis(ttl))],
                )
                .map(|renewed| renewed == 1)
                .map_err(failed),
        )
    }

    fn finish_ok<'a>(
        &'a self,
        sync_id: i64,
        tenant: &'a str,
        counts: SyncCounts,
        snapshot: &'a [u8],
        diff: Option<&'a Value>,
        keep: usize,
        release: Option<Release<'a>>,
    ) -> StoreFuture<'a, ()> {
        let compressed = match compress(snapshot) {
            Ok(compressed) => compressed,
            Err(error) => return ready(Err(error)),
        };
        let diff = diff.map(Value::to_string);
        // Ok(false): the lease was taken over, and the transaction is dropped unapplied.
        let committed = (|| {
                let mut connection = self.connection();
                let transaction = connection.transaction()?;
                if let Some(release) = release
                    && !release_lease(&transaction, &self.replica, release)?
                {
                    return Ok(false);
                }
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
                transaction.commit().map(|()| true)
            })()
            .map_err(failed);
        ready(match (committed, release) {
            (Ok(false), Some(release)) => Err(lease_lost(release.lease)),
            (result, _) => result.map(drop),
        })
    }

    fn finish_failed<'a>(&'a self, sync_id: i64, outcome: &'a str, error: &'a str, release: Option<Release<'a>>) -> StoreFuture<'a, ()> {
        ready(
            (|| {
                let connection = self.connection();
                connection.execute(
                    "UPDATE syncs SET outcome = ?2, finished_at = ?3, error = ?4 WHERE id = ?1 AND outcome = 'running'",
                    params![sync_id, outcome, now(), error],
                )?;
                if let Some(release) = release {
                    // A lease another replica took over is theirs now: nothing to release.
                    release_lease(&connection, &self.replica, release)?;
                }
                Ok(())
            })()
            .map_err(failed),
        )
    }

    fn syncs<'a>(&'a self, tenant: &'a str, id: Option<i64>, limit: usize) -> StoreFuture<'a, Vec<SyncRecord>> {
        ready(
            (|| {
                let connection = self.connection();
                let mut statement = connection.prepare(&format!(
                    "SELECT {SYNC_COLUMNS} FROM syncs WHERE tenant = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY id DESC LIMIT ?3"
                ))?;
                let rows = statement.query_map(params![tenant, id, limit as i64], sync_from_row)?;
                rows.collect::<Result<_, _>>()
            })()
            .map_err(failed),
        )
    }

    fn kept_snapshots<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, Vec<i64>> {
        ready(
            (|| {
                let connection = self.connection();
                let mut statement = connection.prepare("SELECT sync_id FROM snapshots WHERE tenant = ?1 ORDER BY sync_id DESC")?;
                statement.query_map(params![tenant], |row| row.get(0))?.collect::<Result<_, _>>()
            })()
            .map_err(failed),
        )
    }

    fn stored_snapshot<'a>(&'a self, sync_id: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        ready(
            self.connection()
                .query_row("SELECT snapshot FROM snapshots WHERE sync_id = ?1", params![sync_id], |row| row.get(0))
                .optional()
                .map_err(failed),
        )
    }

    fn stored_diff<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, Option<(i64, Option<String>)>> {
        ready(
            self.connection()
                .query_row("SELECT sync_id, diff FROM snapshots WHERE tenant = ?1 ORDER BY sync_id DESC LIMIT 1", params![tenant], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
                .map_err(failed),
        )
    }

    fn audit<'a>(&'a self, record: AuditRecord<'a>, outcome: &'a str, result: &'a Value) -> StoreFuture<'a, ()> {
        let at = now();
        ready(
            self.connection()
                .execute(
                    "INSERT INTO audit (at, tenant, operation, arguments, outcome, result, request_id, settled_at, replica) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?1, ?8)",
                    params![
                        at,
                        record.tenant,
                        record.operation,
                        record.arguments.to_string(),
                        outcome,
                        result.to_string(),
                        record.request_id,
                        self.replica
                    ],
                )
                .map(drop)
                .map_err(failed),
        )
    }

    fn audit_pending<'a>(&'a self, record: AuditRecord<'a>) -> StoreFuture<'a, i64> {
        ready(
            (|| {
                let connection = self.connection();
                connection.execute(
                    "INSERT INTO audit (at, tenant, operation, arguments, outcome, result, request_id, replica) VALUES (?1, ?2, ?3, ?4, 'pending', 'null', ?5, ?6)",
                    params![now(), record.tenant, record.operation, record.arguments.to_string(), record.request_id, self.replica],
                )?;
                Ok(connection.last_insert_rowid())
            })()
            .map_err(failed),
        )
    }

    fn audit_settle<'a>(&'a self, entry: i64, outcome: &'a str, result: &'a Value) -> StoreFuture<'a, ()> {
        let settled = self
            .connection()
            .execute(
                "UPDATE audit SET outcome = ?2, result = ?3, settled_at = ?4 WHERE id = ?1 AND outcome = 'pending'",
                params![entry, outcome, result.to_string(), now()],
            )
            .map_err(failed);
        ready(match settled {
            Ok(1) => Ok(()),
            Ok(_) => Err(StoreError(format!("audit entry {entry} is not pending"))),
            Err(error) => Err(error),
        })
    }

    fn audit_log<'a>(&'a self, tenant: &'a str, limit: usize) -> StoreFuture<'a, Vec<AuditEntry>> {
        ready(
            (|| {
                let connection = self.connection();
                let mut statement = connection.prepare(
                    "SELECT id, at, tenant, operation, arguments, outcome, result, request_id, settled_at, replica FROM audit WHERE tenant = ?1 ORDER BY id DESC LIMIT ?2",
                )?;
                let rows = statement.query_map(params![tenant, limit as i64], audit_from_row)?;
                rows.collect::<Result<_, _>>()
            })()
            .map_err(failed),
        )
    }

    fn writable(&self) -> StoreFuture<'_, ()> {
        let connection = self.connection();
        ready(connection.execute_batch("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS probe (x); DROP TABLE probe; COMMIT;").map_err(|e| {
            let _ = connection.execute_batch("ROLLBACK");
            StoreError(format!(
                "the state database {} cannot be written: {e}; free space on its disk or fix its permissions",
                self.path.display()
            ))
        }))
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

#[cfg(test)]
mod tests {
    //! What only SQLite has: the directory's lock, the integrity check, a schema 2 database
    //! brought forward. What both back ends do is tested on both in `tests/store.rs`.
    use super::*;

    #[test]
    fn one_service_per_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = SqliteStore::open(dir.path(), "r1").unwrap();
        let error = SqliteStore::open(dir.path(), "r1").err().expect("the second is refused");
        assert!(error.0.contains("in use by another service") && error.0.contains(&format!("process {}", std::process::id())), "{error}");
        drop(first);
        assert!(SqliteStore::open(dir.path(), "r1").is_ok(), "free again once the first is gone");
    }

    #[test]
    fn a_state_of_schema_2_is_brought_forward_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        {
            let connection = Connection::open(dir.path().join("state.db")).unwrap();
            let old = SCHEMA.replace(",\n    replica     TEXT\n", "\n").replace(",\n    replica    TEXT\n", "\n");
            assert!(!old.contains("replica"), "the schema 2 tables");
            connection.execute_batch(&old).unwrap();
            connection
                .execute("INSERT INTO audit (at, tenant, operation, arguments, outcome, result) VALUES ('t', 'acme', 'grant', '{}', 'done', 'null')", [])
                .unwrap();
            connection.pragma_update(None, "user_version", 2).unwrap();
        }
        let store = SqliteStore::open(dir.path(), "r1").unwrap();
        assert_eq!(store.integrity().unwrap(), "ok");
        let version: i64 = store.connection().pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let kept: i64 = store.connection().query_row("SELECT count(*) FROM audit WHERE replica IS NULL", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 1, "the old entry, with no replica");
    }
}
