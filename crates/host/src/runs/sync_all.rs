//! Many tenants at once: one engine, one compiled component per connector, a store per run. A
//! tenant's failure, misbehaviour or panic changes no other tenant's result or snapshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{HostError, Result};
use crate::format::SnapshotFormat;
use crate::progress::SyncProgress;
use crate::runtime::ConnectorRuntime;
use crate::snapshot::Snapshot;
use crate::sync::sync_with_progress;
use crate::tenant::{TenantConfig, validate_id};

/// One tenant's run: the component to run and the tenant to run it for. A tenant whose
/// configuration could not be resolved (a missing credential, a connector that does not load)
/// carries that error instead.
pub struct TenantRun {
    pub id: String,
    pub tenant: Result<(ConnectorRuntime, TenantConfig)>,
    /// Counted as the run goes, for whoever shows progress.
    pub progress: Arc<SyncProgress>,
}

impl TenantRun {
    pub fn new(id: impl Into<String>, runtime: ConnectorRuntime, tenant: Result<TenantConfig>) -> Self {
        Self { id: id.into(), tenant: tenant.map(|tenant| (runtime, tenant)), progress: SyncProgress::new() }
    }

    /// A tenant that cannot run, for the reason `error` gives.
    pub fn failed(id: impl Into<String>, error: HostError) -> Self {
        Self { id: id.into(), tenant: Err(error), progress: SyncProgress::new() }
    }
}

/// How one tenant's sync ended.
#[derive(Debug)]
pub struct TenantOutcome {
    pub id: String,
    pub result: Result<TenantSummary>,
    pub duration: Duration,
}

/// What a successful tenant sync wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSummary {
    pub path: PathBuf,
    pub resources: usize,
    pub grants: usize,
    pub requests: u64,
}

/// Syncs every tenant concurrently and writes `out_dir/<id>.json` for each that succeeds.
/// Outcomes come back in the order of `runs`.
///
/// A tenant id names a file, so a run whose id is not a valid tenant id (see
/// [`validate_id`]), differs from its tenant's id, or repeats an earlier run's id fails with a
/// usage error and syncs nothing: no file outside `out_dir`, no two runs writing one file.
pub async fn sync_all(runs: Vec<TenantRun>, out_dir: &Path) -> Vec<TenantOutcome> {
    sync_all_as(runs, out_dir, SnapshotFormat::Json).await
}

/// [`sync_all`], writing `DIR/<id>.json` or `DIR/<id>.c1z` as `format` says.
pub async fn sync_all_as(runs: Vec<TenantRun>, out_dir: &Path, format: SnapshotFormat) -> Vec<TenantOutcome> {
    let mut tasks = Vec::with_capacity(runs.len());
    let mut seen = std::collections::BTreeSet::new();
    for run in runs {
        let out_dir = out_dir.to_path_buf();
        let id = run.id.clone();
        let checked = check_run(&run, &mut seen);
        // A task per tenant: a panic in one is that tenant's failure, not the process's.
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let result = match (checked, run.tenant) {
                (Err(error), _) | (Ok(()), Err(error)) => Err(error),
                (Ok(()), Ok((runtime, tenant))) => sync_one(&runtime, &tenant, &out_dir, format, run.progress).await,
            };
            (result, started.elapsed())
        });
        tasks.push((id, task));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for (id, task) in tasks {
        let (result, duration) = match task.await {
            Ok(done) => done,
            Err(join) => {
                (Err(HostError::other(format!("tenant {id}: the run panicked: {join}; this is a host bug, report it"))), Duration::ZERO)
            }
        };
        outcomes.push(TenantOutcome { id, result, duration });
    }
    outcomes
}

/// Whether `run` may write `{id}.json`: a valid id, its tenant's own, and not taken.
fn check_run(run: &TenantRun, seen: &mut std::collections::BTreeSet<String>) -> Result<()> {
    validate_id(&run.id).map_err(HostError::usage)?;
    if let Ok((_, tenant)) = &run.tenant
        && tenant.id != run.id
    {
        return Err(HostError::usage(format!(
            "run {:?} carries tenant {:?}; give the run its tenant's id, which names its snapshot file",
            run.id, tenant.id
        )));
    }
    if !seen.insert(run.id.clone()) {
        return Err(HostError::usage(format!("tenant id {:?} appears twice; ids name output files and must be unique", run.id)));
    }
    Ok(())
}

async fn sync_one(
    runtime: &ConnectorRuntime,
    tenant: &TenantConfig,
    out_dir: &Path,
    format: SnapshotFormat,
    progress: Arc<SyncProgress>,
) -> Result<TenantSummary> {
    let snapshot: Snapshot = sync_with_progress(runtime, tenant, progress).await?;
    let path = out_dir.join(format!("{}.{}", tenant.id, format.extension()));
    crate::format::write(&snapshot, &path, format)?;
    Ok(TenantSummary { path, resources: snapshot.resources.len(), grants: snapshot.grants.len(), requests: snapshot.stats.http_requests })
}
