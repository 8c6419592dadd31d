//! The state in PostgreSQL (`--database URL`), which replicas share: a pool of connections,
//! versioned migrations applied at start under an advisory lock (replicas that start together
//! take turns; the first applies them, the others find them applied), and what each replica
//! left running or pending settled by that replica alone when it starts again.

use std::str::FromStr;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::Value;

use std::time::Duration;

use super::{
    ABANDONED, AuditEntry, AuditRecord, Claim, DamagedList, DamagedSnapshot, Lease, Release, SYNC_ROWS_KEPT, Store, StoreError,
    StoreFuture, StoreResult, SyncCounts, SyncRecord, TenantRecord, UNKNOWN_OUTCOME, compress, lease_lost, now,
};

/// The migrations, in order; a database records each one applied in `connector_host_migrations`.
/// Never edit one that has shipped: add the next.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("postgres/0001_initial.sql")),
    (2, include_str!("postgres/0002_schedule.sql")),
    (3, include_str!("postgres/0003_replicas.sql")),
];

/// The advisory lock the migrations run under (any constant; the same in every replica).
const MIGRATION_LOCK: i64 = 0x636f_6e6e_6563_746f;

/// Connections one replica holds at most.
const POOL_SIZE: usize = 8;

const SYNC_COLUMNS: &str = "id, trigger, started_at, finished_at, outcome, error, resources, grants, requests, duration_ms, replica";
/// The same columns of the table named `s`.
const SYNC_COLUMNS_OF_S: &str =
    "s.id, s.trigger, s.started_at, s.finished_at, s.outcome, s.error, s.resources, s.grants, s.requests, s.duration_ms, s.replica";

pub struct PostgresStore {
    pool: Pool,
    /// Where it is, without the password.
    described: String,
    replica: String,
    unknown_changes: u64,
    damaged: DamagedList,
}

/// A database failure as one line; the URL (and its password) is never in it.
fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError(format!("the state database failed: {error}; check --database and that PostgreSQL is reachable"))
}

pub(super) fn db(error: tokio_postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(db) => failed(format!("{}: {}", db.severity(), db.message())),
        None => failed(error),
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`), applies the migrations
    /// this version has and the database lacks, and settles what `replica` left running or
    /// pending when it last stopped.
    pub async fn open(url: &str, replica: &str) -> StoreResult<Self> {
        Self::open_with(url, None, replica).await
    }

    /// [`Self::open`], trusting the certificate authority in `ca` (PEM) for the server's TLS
    /// certificate besides the public ones. TLS follows the URL's `sslmode`: `prefer` (the default)
    /// uses it when the server offers it, `require` insists, `disable` never does; when used, the
    /// server's certificate is always verified, name included.
    pub async fn open_with(url: &str, ca: Option<&Path>, replica: &str) -> StoreResult<Self> {
        let config = tokio_postgres::Config::from_str(url).map_err(|_| {
            StoreError(
                "--database is not a PostgreSQL URL; write postgres://USER:PASSWORD@HOST:PORT/DATABASE (the password may come from CONNECTOR_HOST_DATABASE_URL instead of the command line)"
                    .into(),
            )
        })?;
        let described = describe(&config);
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(ca)?);
        let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError(format!("cannot set up the connections to {described}: {e}")))?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| StoreError(format!("cannot connect to {described}: {}; check --database and that PostgreSQL is up", chain(&e))))?;
        migrate(&mut client, &described).await?;
        let now = now();
        client
            .execute(
                "UPDATE syncs SET outcome = 'abandoned', finished_at = $1, error = $2 WHERE outcome = 'running' AND replica = $3",
                &[&now, &ABANDONED, &replica],
            )
            .await
            .map_err(db)?;
        let unknown = client
            .execute(
                "UPDATE audit SET outcome = 'unknown', settled_at = $1, result = $2 WHERE outcome = 'pending' AND replica = $3",
                &[&now, &serde_json::json!({"error": UNKNOWN_OUTCOME}).to_string(), &replica],
            )
            .await
            .map_err(db)?;
        // Its syncs were abandoned above: the others may take its tenants at once.
        client.execute("UPDATE schedule SET holder = NULL, lease_expires = NULL WHERE holder = $1", &[&replica]).await.map_err(db)?;
        if unknown > 0 {
            tracing::warn!(
                "{unknown} change(s) were recorded by this replica and not settled when it last stopped: marked unknown in the audit log"
            );
        }
        drop(client);
        Ok(Self { pool, described, replica: replica.to_owned(), unknown_changes: unknown, damaged: DamagedList::default() })
    }

    pub(super) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| failed(format!("no connection to {}: {}", self.described, chain(&e))))
    }

    /// Runs `statement` on the database as it is (for tests that damage it on purpose).
    pub async fn execute_raw(&self, statement: &str) -> StoreResult<u64> {
        self.client().await?.execute(statement, &[]).await.map_err(db)
    }
}

/// An error and its causes on one line (a pool's error hides why a connection failed: a refused
/// certificate, say).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let part = next.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = next.source();
    }
    text
}

/// The TLS client: the public roots, and the authority in `ca` when given.
fn tls_config(ca: Option<&Path>) -> StoreResult<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
    if let Some(path) = ca {
        let pem = std::fs::read(path).map_err(|e| StoreError(format!("cannot read --database-ca {}: {e}", path.display())))?;
        let mut found = 0;
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            let certificate =
                certificate.map_err(|e| StoreError(format!("--database-ca {} is not PEM certificates: {e}", path.display())))?;
            roots
                .add(certificate)
                .map_err(|e| StoreError(format!("--database-ca {} holds a certificate that is not a CA's: {e}", path.display())))?;
            found += 1;
        }
        if found == 0 {
            return Err(StoreError(format!("--database-ca {} holds no PEM certificate", path.display())));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError(format!("no TLS for the database: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `postgres://USER@HOST:PORT/DATABASE`, never the password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "PostgreSQL at postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or("postgres"),
        config.get_dbname().unwrap_or_else(|| config.get_user().unwrap_or("postgres"))
    )
}

/// Applies the migrations the database lacks, in one transaction under the advisory lock.
async fn migrate(client: &mut deadpool_postgres::Object, described: &str) -> StoreResult<()> {
    let transaction = client.transaction().await.map_err(db)?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db)?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS connector_host_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        .await
        .map_err(db)?;
    let applied: Option<i32> = transaction.query_one("SELECT max(version) FROM connector_host_migrations", &[]).await.map_err(db)?.get(0);
    let applied = applied.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if applied > known {
        return Err(StoreError(format!(
            "the state database {described} was migrated by a newer version (migration {applied}, this one knows {known}); run that version"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > applied) {
        transaction.batch_execute(sql).await.map_err(|e| StoreError(format!("migration {version} failed on {described}: {}", db(e))))?;
        transaction
            .execute("INSERT INTO connector_host_migrations (version, applied_at) VALUES ($1, $2)", &[version, &now()])
            .await
            .map_err(db)?;
        tracing::info!("applied migration {version} to {described}");
    }
    transaction.commit().await.map_err(db)
}

/// Releases `release`'s lease and sets the tenant's next sync, on `client` (a transaction's, for a
/// commit); false when the lease is no longer this replica's.
async fn release_lease(client: &impl deadpool_postgres::GenericClient, replica: &str, release: Release<'_>) -> StoreResult<bool> {
    let released = client
        .execute(
            "UPDATE schedule SET holder = NULL, lease_expires = NULL, next_due = now() + make_interval(secs => $4) WHERE tenant = $1 AND holder = $2 AND token = $3",
            &[&release.lease.tenant, &replica, &release.lease.token, &release.next_in.as_secs_f64()],
        )
        .await
        .map_err(db)?;
    Ok(released == 1)
}

/// Seconds from the database's clock as a wait; none below zero.
fn wait(seconds: Option<f64>) -> Duration {
    Duration::try_from_secs_f64(seconds.unwrap_or(0.0).max(0.0)).unwrap_or(Duration::ZERO)
}

fn sync_from_row(row: &tokio_postgres::Row) -> SyncRecord {
    sync_from_row_at(row, 0)
}

/// A sync read from [`SYNC_COLUMNS`] starting at column `at`.
fn sync_from_row_at(row: &tokio_postgres::Row, at: usize) -> SyncRecord {
    SyncRecord {
        id: row.get(at),
        trigger: row.get(at + 1),
        started_at: row.get(at + 2),
        finished_at: row.get(at + 3),
        outcome: row.get(at + 4),
        error: row.get(at + 5),
        resources: row.get(at + 6),
        grants: row.get(at + 7),
        requests: row.get(at + 8),
        duration_ms: row.get(at + 9),
        replica: row.get(at + 10),
    }
}

impl Store for PostgresStore {
    fn describe(&self) -> String {
        self.described.clone()
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
        Box::pin(async move {
            let row = self
                .client()
                .await?
                .query_one(
                    "INSERT INTO syncs (tenant, trigger, started_at, outcome, replica) VALUES ($1, $2, $3, 'running', $4) RETURNING id",
                    &[&tenant, &trigger, &now(), &self.replica],
                )
                .await
                .map_err(db)?;
            Ok(row.get(0))
        })
    }

    fn claim<'a>(&'a self, tenant: &'a str, ttl: Duration, now: bool) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let client = self.client().await?;
            let claimed = client
                .query_opt(
                    "INSERT INTO schedule (tenant, next_due, holder, token, lease_expires) VALUES ($1, now(), $2, 1, now() + make_interval(secs => $3))
                     ON CONFLICT (tenant) DO UPDATE SET holder = EXCLUDED.holder, token = schedule.token + 1, lease_expires = EXCLUDED.lease_expires
                     WHERE (schedule.holder IS NULL OR schedule.lease_expires <= now()) AND ($4 OR schedule.next_due <= now())
                     RETURNING token",
                    &[&tenant, &self.replica, &ttl.as_secs_f64(), &now],
                )
                .await
                .map_err(db)?;
            if let Some(row) = claimed {
                // A sync another replica left running is over: its lease lapsed, this one's is live.
                let abandoned = client
                    .query(
                        "UPDATE syncs SET outcome = 'abandoned', finished_at = $3, error = 'its replica stopped during the sync; ' || $2 || ' took the tenant over' WHERE tenant = $1 AND outcome = 'running' AND replica IS DISTINCT FROM $2 RETURNING replica",
                        &[&tenant, &self.replica, &super::now()],
                    )
                    .await
                    .map_err(db)?;
                let took_over_from = abandoned.first().map(|row| row.get::<_, Option<String>>(0).unwrap_or_default());
                return Ok(Claim::Granted(Lease { tenant: tenant.to_owned(), token: row.get(0), took_over_from }));
            }
            let row = client
                .query_opt(
                    "SELECT holder, lease_expires > now(), EXTRACT(EPOCH FROM (lease_expires - now()))::float8, EXTRACT(EPOCH FROM (next_due - now()))::float8 FROM schedule WHERE tenant = $1",
                    &[&tenant],
                )
                .await
                .map_err(db)?;
            Ok(match row {
                Some(row) if row.get::<_, Option<bool>>(1) == Some(true) => {
                    Claim::Held { by: row.get::<_, Option<String>>(0).unwrap_or_default(), wait: wait(row.get(2)) }
                }
                Some(row) => Claim::NotDue { wait: wait(row.get(3)) },
                None => Claim::NotDue { wait: Duration::ZERO },
            })
        })
    }

    fn heartbeat(&self, ttl: Duration) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let transaction = client.transaction().await.map_err(db)?;
            transaction
                .execute(
                    "INSERT INTO replicas (id, seen_at) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET seen_at = now()",
                    &[&self.replica],
                )
                .await
                .map_err(db)?;
            let silent = (ttl * 2).as_secs_f64();
            let at = super::now();
            let unknown = transaction
                .execute(
                    "UPDATE audit SET outcome = 'unknown', settled_at = $1, result = $2 WHERE outcome = 'pending'
                     AND replica IN (SELECT id FROM replicas WHERE seen_at < now() - make_interval(secs => $3))",
                    &[&at, &serde_json::json!({"error": super::UNKNOWN_OUTCOME}).to_string(), &silent],
                )
                .await
                .map_err(db)?;
            transaction
                .execute(
                    "UPDATE syncs SET outcome = 'abandoned', finished_at = $1, error = $2 WHERE outcome = 'running'
                     AND replica IN (SELECT id FROM replicas WHERE seen_at < now() - make_interval(secs => $3))",
                    &[&at, &ABANDONED, &silent],
                )
                .await
                .map_err(db)?;
            // What a silent replica left is settled above; a day later it is forgotten.
            transaction.execute("DELETE FROM replicas WHERE seen_at < now() - interval '1 day'", &[]).await.map_err(db)?;
            transaction.commit().await.map_err(db)?;
            if unknown > 0 {
                tracing::warn!("{unknown} change(s) a stopped replica left pending: marked unknown in the audit log");
            }
            Ok(unknown)
        })
    }

    fn overview<'a>(&'a self, tenants: &'a [String]) -> StoreFuture<'a, HashMap<String, TenantRecord>> {
        Box::pin(async move {
            // One statement for a listing of any length: each tenant's lookups walk an index.
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT t.tenant, {SYNC_COLUMNS_OF_S},
                            (SELECT holder FROM schedule WHERE tenant = t.tenant AND lease_expires > now()),
                            (SELECT created_at FROM snapshots WHERE tenant = t.tenant ORDER BY sync_id DESC LIMIT 1)
                         FROM unnest($1::TEXT[]) AS t(tenant)
                         LEFT JOIN LATERAL (SELECT * FROM syncs WHERE tenant = t.tenant ORDER BY id DESC LIMIT 1) AS s ON true"
                    ),
                    &[&tenants],
                )
                .await
                .map_err(db)?;
            Ok(rows
                .iter()
                .map(|row| {
                    let last_sync = row.get::<_, Option<i64>>(1).map(|_| sync_from_row_at(row, 1));
                    (row.get::<_, String>(0), TenantRecord { last_sync, running_on: row.get(12), last_success_at: row.get(13) })
                })
                .filter(|(_, record)| *record != TenantRecord::default())
                .collect())
        })
    }

    fn renew<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let renewed = self
                .client()
                .await?
                .execute(
                    "UPDATE schedule SET lease_expires = now() + make_interval(secs => $4) WHERE tenant = $1 AND holder = $2 AND token = $3",
                    &[&lease.tenant, &self.replica, &lease.token, &ttl.as_secs_f64()],
                )
                .await
                .map_err(db)?;
            Ok(renewed == 1)
        })
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
        Box::pin(async move {
            let compressed = compress(snapshot)?;
            let diff = diff.map(Value::to_string);
            let mut client = self.client().await?;
            let transaction = client.transaction().await.map_err(db)?;
            // First, so that the schedule's row stays locked until the commit: a replica's claim
            // waits for it, and a taken-over lease commits nothing.
            if let Some(release) = release
                && !release_lease(&transaction, &self.replica, release).await?
            {
                return Err(lease_lost(release.lease));
            }
            let finished = now();
            transaction
                .execute(
                    "UPDATE syncs SET outcome = 'ok', finished_at = $2, resources = $3, grants = $4, requests = $5, duration_ms = $6 WHERE id = $1",
                    &[&sync_id, &finished, &counts.resources, &counts.grants, &counts.requests, &counts.duration_ms],
                )
                .await
                .map_err(db)?;
            transaction
                .execute(
                    "INSERT INTO snapshots (sync_id, tenant, created_at, snapshot, diff) VALUES ($1, $2, $3, $4, $5)",
                    &[&sync_id, &tenant, &finished, &compressed, &diff],
                )
                .await
                .map_err(db)?;
            transaction
                .execute(
                    "DELETE FROM snapshots WHERE tenant = $1 AND sync_id NOT IN (SELECT sync_id FROM snapshots WHERE tenant = $1 ORDER BY sync_id DESC LIMIT $2)",
                    &[&tenant, &(keep.max(1) as i64)],
                )
                .await
                .map_err(db)?;
            transaction
                .execute(
                    "DELETE FROM syncs WHERE tenant = $1 AND id NOT IN (SELECT id FROM syncs WHERE tenant = $1 ORDER BY id DESC LIMIT $2) AND id NOT IN (SELECT sync_id FROM snapshots)",
                    &[&tenant, &SYNC_ROWS_KEPT],
                )
                .await
                .map_err(db)?;
            transaction.commit().await.map_err(db)
        })
    }

    fn finish_failed<'a>(&'a self, sync_id: i64, outcome: &'a str, error: &'a str, release: Option<Release<'a>>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let client = self.client().await?;
            client
                .execute(
                    "UPDATE syncs SET outcome = $2, finished_at = $3, error = $4 WHERE id = $1 AND outcome = 'running'",
                    &[&sync_id, &outcome, &now(), &error],
                )
                .await
                .map_err(db)?;
            if let Some(release) = release {
                // A lease another replica took over is theirs now: nothing to release.
                release_lease(&client, &self.replica, release).await?;
            }
            Ok(())
        })
    }

    fn syncs<'a>(&'a self, tenant: &'a str, id: Option<i64>, limit: usize) -> StoreFuture<'a, Vec<SyncRecord>> {
        Box::pin(async move {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {SYNC_COLUMNS} FROM syncs WHERE tenant = $1 AND ($2::BIGINT IS NULL OR id = $2) ORDER BY id DESC LIMIT $3"
                    ),
                    &[&tenant, &id, &(limit as i64)],
                )
                .await
                .map_err(db)?;
            Ok(rows.iter().map(sync_from_row).collect())
        })
    }

    fn kept_snapshots<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, Vec<i64>> {
        Box::pin(async move {
            let rows = self
                .client()
                .await?
                .query("SELECT sync_id FROM snapshots WHERE tenant = $1 ORDER BY sync_id DESC", &[&tenant])
                .await
                .map_err(db)?;
            Ok(rows.iter().map(|row| row.get(0)).collect())
        })
    }

    fn stored_snapshot<'a>(&'a self, sync_id: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let row = self.client().await?.query_opt("SELECT snapshot FROM snapshots WHERE sync_id = $1", &[&sync_id]).await.map_err(db)?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn stored_diff<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, Option<(i64, Option<String>)>> {
        Box::pin(async move {
            let row = self
                .client()
                .await?
                .query_opt("SELECT sync_id, diff FROM snapshots WHERE tenant = $1 ORDER BY sync_id DESC LIMIT 1", &[&tenant])
                .await
                .map_err(db)?;
            Ok(row.map(|row| (row.get(0), row.get(1))))
        })
    }

    fn audit<'a>(&'a self, record: AuditRecord<'a>, outcome: &'a str, result: &'a Value) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.client()
                .await?
                .execute(
                    "INSERT INTO audit (at, tenant, operation, arguments, outcome, result, request_id, settled_at, replica) VALUES ($1, $2, $3, $4, $5, $6, $7, $1, $8)",
                    &[
                        &now(),
                        &record.tenant,
                        &record.operation,
                        &record.arguments.to_string(),
                        &outcome,
                        &result.to_string(),
                        &record.request_id,
                        &self.replica,
                    ],
                )
                .await
                .map_err(db)?;
            Ok(())
        })
    }

    fn audit_pending<'a>(&'a self, record: AuditRecord<'a>) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let row = self
                .client()
                .await?
                .query_one(
                    "INSERT INTO audit (at, tenant, operation, arguments, outcome, result, request_id, replica) VALUES ($1, $2, $3, $4, 'pending', 'null', $5, $6) RETURNING id",
                    &[&now(), &record.tenant, &record.operation, &record.arguments.to_string(), &record.request_id, &self.replica],
                )
                .await
                .map_err(db)?;
            Ok(row.get(0))
        })
    }

    fn audit_settle<'a>(&'a self, entry: i64, outcome: &'a str, result: &'a Value) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let settled = self
                .client()
                .await?
                .execute(
                    // An entry others marked unknown while this replica was silent takes its real
                    // outcome when it arrives after all.
                    "UPDATE audit SET outcome = $2, result = $3, settled_at = $4
                     WHERE id = $1 AND (outcome = 'pending' OR (outcome = 'unknown' AND replica = $5))",
                    &[&entry, &outcome, &result.to_string(), &now(), &self.replica],
                )
                .await
                .map_err(db)?;
            if settled != 1 {
                return Err(StoreError(format!("audit entry {entry} is not pending")));
            }
            Ok(())
        })
    }

    fn audit_log<'a>(&'a self, tenant: &'a str, limit: usize) -> StoreFuture<'a, Vec<AuditEntry>> {
        Box::pin(async move {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT id, at, tenant, operation, arguments, outcome, result, request_id, settled_at, replica FROM audit WHERE tenant = $1 ORDER BY id DESC LIMIT $2",
                    &[&tenant, &(limit as i64)],
                )
                .await
                .map_err(db)?;
            Ok(rows
                .iter()
                .map(|row| AuditEntry {
                    id: row.get(0),
                    at: row.get(1),
                    tenant: row.get(2),
                    operation: row.get(3),
                    arguments: serde_json::from_str(row.get(4)).unwrap_or(Value::Null),
                    outcome: row.get(5),
                    result: serde_json::from_str(row.get(6)).unwrap_or(Value::Null),
                    request_id: row.get(7),
                    settled_at: row.get(8),
                    replica: row.get(9),
                })
                .collect())
        })
    }

    fn writable(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let client = self.client().await?;
            let read_only: bool = client.query_one("SELECT pg_is_in_recovery()", &[]).await.map_err(db)?.get(0);
            if read_only {
                return Err(StoreError(format!(
                    "the state database {} is a read-only standby; point --database at the primary",
                    self.described
                )));
            }
            Ok(())
        })
    }
}
