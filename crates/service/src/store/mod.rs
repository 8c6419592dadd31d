//! The service's state: every sync's outcome and counts, each tenant's last snapshots
//! (zstd-compressed JSON) with the diff from the one before, and the audit log of changes.
//!
//! One trait, [`Store`], with two back ends: SQLite under `--state-dir` (one process; the
//! default), and PostgreSQL (`--database URL`), which replicas share. Both keep the same rules: a
//! sync's results (its row, snapshot, diff and the pruning of old ones) commit in one transaction,
//! a change is recorded `pending` before it is sent and settled after, and what a stopped process
//! left running or pending is marked abandoned or unknown when it starts again. The same tests run
//! on both (`crates/service/tests/store.rs`).

mod copy;
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

pub use copy::{Copied, copy_state};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The most a stored snapshot may decompress to; a larger one is damaged (or hostile), and the
/// one before it is served.
pub const MAX_STORED_SNAPSHOT: u64 = 2 << 30;
/// The most a stored diff may hold.
pub const MAX_STORED_DIFF: usize = 256 << 20;
/// Sync rows kept per tenant (snapshots are kept as the retention setting says).
const SYNC_ROWS_KEPT: i64 = 1000;

/// What a change whose outcome a stop left unrecorded says.
const UNKNOWN_OUTCOME: &str = "the service stopped after recording the change and before recording its outcome: it may have reached the API; sync the tenant to see what it holds";
/// What a sync a stop interrupted says.
const ABANDONED: &str = "the service stopped during the sync";

/// A failure of the state, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A store's answer, later: the trait's methods return these so that `dyn Store` works.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

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
    /// The replica that ran it (`--replica-id`).
    pub replica: Option<String>,
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
    /// The replica that received it.
    pub replica: Option<String>,
}

/// One stored snapshot that could not be read, for `/health` and the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedSnapshot {
    pub tenant: String,
    pub sync_id: i64,
    pub why: String,
}

/// A replica's claim on a tenant's sync: the tenant, and the fencing token the claim got. Each
/// claim of a tenant gets a larger token, so a replica whose lease was taken over finds its token
/// stale and commits nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub tenant: String,
    pub token: i64,
    /// The replica whose sync of the tenant this claim found abandoned (its lease lapsed while
    /// it ran): a takeover.
    pub took_over_from: Option<String>,
}

/// What a claim got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The sync is this replica's to run, under this lease.
    Granted(Lease),
    /// Another replica holds the tenant's lease (its sync runs); ask again after `wait`, when the
    /// lease expires unless renewed.
    Held { by: String, wait: Duration },
    /// The tenant is not due: another replica synced it; ask again after `wait`.
    NotDue { wait: Duration },
}

/// How a finished sync leaves the tenant's schedule: its lease released and the next sync due
/// after `next_in`.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    pub lease: &'a Lease,
    pub next_in: Duration,
}

/// What the store holds of one tenant for its status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantRecord {
    /// Its latest sync, running or finished.
    pub last_sync: Option<SyncRecord>,
    /// The replica whose live lease runs its sync now, if one does.
    pub running_on: Option<String>,
    /// When its latest successful sync finished.
    pub last_success_at: Option<String>,
}

/// What a sync whose lease another replica took over gets instead of a commit.
pub fn lease_lost(lease: &Lease) -> StoreError {
    StoreError(format!(
        "the lease on tenant {} (token {}) was taken over by another replica: this sync's results are not committed",
        lease.tenant, lease.token
    ))
}

/// A change about to be sent, as the audit log records it before it is.
#[derive(Debug, Clone, Copy)]
pub struct AuditRecord<'a> {
    pub tenant: &'a str,
    pub operation: &'a str,
    pub arguments: &'a Value,
    pub request_id: &'a str,
}

/// Where the service keeps its state. Every method is one statement or one transaction.
pub trait Store: Send + Sync {
    /// Where the state is, for people: a path, or a database without its password.
    fn describe(&self) -> String;

    /// Changes found `pending` at start (this replica's), now `unknown`.
    fn unknown_changes(&self) -> u64;

    /// Stored snapshots found damaged since start.
    fn damaged(&self) -> Vec<DamagedSnapshot>;

    /// Records a sync of `tenant` that starts now, run by this replica; answers its id.
    fn begin_sync<'a>(&'a self, tenant: &'a str, trigger: &'a str) -> StoreFuture<'a, i64>;

    /// Claims the tenant's next sync for this replica, for `ttl`: granted when no live lease holds
    /// it and it is due (or `now`, a sync asked for). The first claim of a tenant is always due.
    fn claim<'a>(&'a self, tenant: &'a str, ttl: Duration, now: bool) -> StoreFuture<'a, Claim>;

    /// Says this replica is alive, and settles what replicas silent for twice `ttl` left: their
    /// pending changes become `unknown`, their running syncs `abandoned`. Answers how many
    /// changes it settled.
    fn heartbeat(&self, ttl: Duration) -> StoreFuture<'_, u64>;

    /// What a status shows of each of `tenants` (those the store knows nothing of are left
    /// out), in one statement however many tenants there are.
    fn overview<'a>(&'a self, tenants: &'a [String]) -> StoreFuture<'a, HashMap<String, TenantRecord>>;

    /// Extends the lease by `ttl` from now; false when another replica has taken it over.
    fn renew<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, bool>;

    /// Records a successful sync, its snapshot (JSON) and the diff from the one before, prunes the
    /// tenant's snapshots to the newest `keep`, and releases its lease, in one transaction; when
    /// the lease was taken over, nothing ([`lease_lost`]).
    #[allow(clippy::too_many_arguments)]
    fn finish_ok<'a>(
        &'a self,
        sync_id: i64,
        tenant: &'a str,
        counts: SyncCounts,
        snapshot: &'a [u8],
        diff: Option<&'a Value>,
        keep: usize,
        release: Option<Release<'a>>,
    ) -> StoreFuture<'a, ()>;

    /// Records a failed (or abandoned) sync and its one-line error, and releases its lease (when
    /// still this replica's); a sync already recorded as finished stays as it was.
    fn finish_failed<'a>(&'a self, sync_id: i64, outcome: &'a str, error: &'a str, release: Option<Release<'a>>) -> StoreFuture<'a, ()>;

    /// The tenant's sync `id`, or its newest `limit` syncs (newest first) when `id` is none.
    fn syncs<'a>(&'a self, tenant: &'a str, id: Option<i64>, limit: usize) -> StoreFuture<'a, Vec<SyncRecord>>;

    /// The ids of the syncs whose snapshots are kept, newest first.
    fn kept_snapshots<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, Vec<i64>>;

    /// One stored snapshot, compressed, as it was written.
    fn stored_snapshot<'a>(&'a self, sync_id: i64) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// The newest snapshot's sync id and its diff text (none for a tenant's first).
    fn stored_diff<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, Option<(i64, Option<String>)>>;

    /// Appends a change already settled (a refusal: nothing was sent).
    fn audit<'a>(&'a self, record: AuditRecord<'a>, outcome: &'a str, result: &'a Value) -> StoreFuture<'a, ()>;

    /// Records a change about to be sent, `pending`, durably; answers its entry's id.
    fn audit_pending<'a>(&'a self, record: AuditRecord<'a>) -> StoreFuture<'a, i64>;

    /// Records the outcome of a pending change, once.
    fn audit_settle<'a>(&'a self, entry: i64, outcome: &'a str, result: &'a Value) -> StoreFuture<'a, ()>;

    /// The tenant's newest `limit` audit entries, newest first.
    fn audit_log<'a>(&'a self, tenant: &'a str, limit: usize) -> StoreFuture<'a, Vec<AuditEntry>>;

    /// Whether the state can be written now (for `/health`).
    fn writable(&self) -> StoreFuture<'_, ()>;

    /// Notes a stored snapshot that could not be read; true the first time it is noted.
    fn note_damaged(&self, damaged: DamagedSnapshot) -> bool;
}

/// What the service keeps its state in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// SQLite in this folder, for this process alone.
    Directory(std::path::PathBuf),
    /// A PostgreSQL database the replicas share, by its URL (which may hold a password), with the
    /// certificate authority its TLS certificate is checked against besides the public ones.
    Postgres { url: String, ca: Option<std::path::PathBuf> },
}

/// Opens the state where `location` says, as replica `replica`: creates or migrates the schema,
/// and marks what this replica left running or pending when it last stopped.
pub async fn open(location: &StateLocation, replica: &str) -> StoreResult<Arc<dyn Store>> {
    Ok(match location {
        StateLocation::Directory(dir) => Arc::new(SqliteStore::open(dir, replica)?),
        StateLocation::Postgres { url, ca } => Arc::new(PostgresStore::open_with(url, ca.as_deref(), replica).await?),
    })
}

/// The password a database URL holds, if it holds one: for the redactors.
pub fn password_of(url: &str) -> Option<String> {
    use std::str::FromStr;
    let config = tokio_postgres::Config::from_str(url).ok()?;
    config.get_password().map(|password| String::from_utf8_lossy(password).into_owned())
}

/// The reads every back end answers the same way, built on the trait's primitives.
impl dyn Store {
    /// The tenant's latest sync.
    pub async fn last_sync(&self, tenant: &str) -> StoreResult<Option<SyncRecord>> {
        Ok(self.syncs(tenant, None, 1).await?.pop())
    }

    /// What the store holds of one tenant for its status.
    pub async fn record(&self, tenant: &str) -> StoreResult<TenantRecord> {
        let tenants = [tenant.to_owned()];
        Ok(self.overview(&tenants).await?.remove(tenant).unwrap_or_default())
    }

    /// The replica whose live lease runs the tenant's sync now, if one does.
    pub async fn running_on(&self, tenant: &str) -> StoreResult<Option<String>> {
        Ok(self.record(tenant).await?.running_on)
    }

    /// When the tenant's latest successful sync finished.
    pub async fn last_success_at(&self, tenant: &str) -> StoreResult<Option<String>> {
        Ok(self.record(tenant).await?.last_success_at)
    }

    /// The tenant's latest snapshot that reads whole, as JSON bytes, with its sync's id. A stored
    /// snapshot that does not decompress, or decompresses past [`MAX_STORED_SNAPSHOT`], is
    /// damaged: it is reported (a warning, `/health`) and the one before it is served.
    pub async fn last_snapshot(&self, tenant: &str) -> StoreResult<Option<(i64, Vec<u8>)>> {
        for id in self.kept_snapshots(tenant).await? {
            let Some(compressed) = self.stored_snapshot(id).await? else { continue };
            match decompress(&compressed, MAX_STORED_SNAPSHOT) {
                Ok(json) => return Ok(Some((id, json))),
                Err(why) => {
                    let warning = format!("the stored snapshot of sync {id} is damaged ({why}): the one before it is served");
                    if self.note_damaged(DamagedSnapshot { tenant: tenant.to_owned(), sync_id: id, why }) {
                        tracing::warn!(tenant = %tenant, "{warning}");
                    }
                }
            }
        }
        Ok(None)
    }

    /// The diff the tenant's latest snapshot made (none for a tenant's first). A diff that is too
    /// large or not JSON is an error, not "no diff".
    pub async fn last_diff(&self, tenant: &str) -> StoreResult<Option<(i64, Option<Value>)>> {
        match self.stored_diff(tenant).await? {
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
}

/// The damaged snapshots a store has noted, each once.
#[derive(Default)]
struct DamagedList(std::sync::Mutex<Vec<DamagedSnapshot>>);

impl DamagedList {
    /// True when `damaged` was not noted before.
    fn note(&self, damaged: DamagedSnapshot) -> bool {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let new = !list.iter().any(|d| d.sync_id == damaged.sync_id);
        if new {
            list.push(damaged);
        }
        new
    }

    fn all(&self) -> Vec<DamagedSnapshot> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Now, as RFC 3339 UTC to the millisecond.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// A snapshot compressed as the stores keep it: one frame that declares its size, so that a read
/// can check it before it decompresses.
fn compress(snapshot: &[u8]) -> StoreResult<Vec<u8>> {
    zstd::bulk::compress(snapshot, 3).map_err(|e| StoreError(format!("cannot compress the snapshot: {e}")))
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
}
