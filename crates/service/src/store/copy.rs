//! A SQLite state copied into PostgreSQL, when a service outgrows one process: every sync row
//! with its id, every kept snapshot as stored (compressed), every audit entry with its id and
//! outcome, in one PostgreSQL transaction, into a database that holds no state yet. The SQLite
//! state is opened as the service opens it (its lock held), so no service may run on it meanwhile.

use super::postgres::db;
use super::{PostgresStore, SqliteStore, Store, StoreError, StoreResult};

/// What a copy moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub syncs: u64,
    pub snapshots: u64,
    pub audit: u64,
}

/// Copies `from` into `to`, which must hold no syncs and no audit entries yet.
pub async fn copy_state(from: &SqliteStore, to: &PostgresStore) -> StoreResult<Copied> {
    let mut client = to.client().await?;
    let transaction = client.transaction().await.map_err(db)?;
    let held: i64 =
        transaction.query_one("SELECT (SELECT count(*) FROM syncs) + (SELECT count(*) FROM audit)", &[]).await.map_err(db)?.get(0);
    if held > 0 {
        return Err(StoreError(format!(
            "{} already holds a state ({held} syncs and audit entries); copy into an empty database",
            to.describe()
        )));
    }
    let mut copied = Copied { syncs: 0, snapshots: 0, audit: 0 };
    for (tenant, sync) in from.export_syncs()? {
        transaction
            .execute(
                "INSERT INTO syncs (id, tenant, trigger, started_at, finished_at, outcome, error, resources, grants, requests, duration_ms, replica)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &sync.id,
                    &tenant,
                    &sync.trigger,
                    &sync.started_at,
                    &sync.finished_at,
                    &sync.outcome,
                    &sync.error,
                    &sync.resources,
                    &sync.grants,
                    &sync.requests,
                    &sync.duration_ms,
                    &sync.replica,
                ],
            )
            .await
            .map_err(db)?;
        copied.syncs += 1;
    }
    // One snapshot in memory at a time: a large state is copied without holding it all.
    for sync_id in from.export_snapshot_ids()? {
        let Some((tenant, created_at, snapshot, diff)) = from.export_snapshot(sync_id)? else { continue };
        transaction
            .execute(
                "INSERT INTO snapshots (sync_id, tenant, created_at, snapshot, diff) VALUES ($1, $2, $3, $4, $5)",
                &[&sync_id, &tenant, &created_at, &snapshot, &diff],
            )
            .await
            .map_err(db)?;
        copied.snapshots += 1;
    }
    for entry in from.export_audit()? {
        transaction
            .execute(
                "INSERT INTO audit (id, at, tenant, operation, arguments, outcome, result, request_id, settled_at, replica)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &entry.id,
                    &entry.at,
                    &entry.tenant,
                    &entry.operation,
                    &entry.arguments.to_string(),
                    &entry.outcome,
                    &entry.result.to_string(),
                    &entry.request_id,
                    &entry.settled_at,
                    &entry.replica,
                ],
            )
            .await
            .map_err(db)?;
        copied.audit += 1;
    }
    // The next ids follow the copied ones.
    transaction
        .batch_execute(
            "SELECT setval(pg_get_serial_sequence('syncs', 'id'), COALESCE((SELECT max(id) FROM syncs), 0) + 1, false);
             SELECT setval(pg_get_serial_sequence('audit', 'id'), COALESCE((SELECT max(id) FROM audit), 0) + 1, false);",
        )
        .await
        .map_err(db)?;
    transaction.commit().await.map_err(db)?;
    Ok(copied)
}
