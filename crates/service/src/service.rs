//! The service: its tenants, the scheduler that keeps them synced, the syncs themselves, reloads
//! of the tenant file, and shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, UNIX_EPOCH};

use connector_host::credentials::Redactor;
use connector_host::diff::SnapshotDiff;
use connector_host::tenant::{TenantEntry, read_tenant_file};
use connector_host::{HostError, Snapshot};
use tokio::sync::{Notify, Semaphore};

use crate::metrics::Metrics;
use crate::shard::Shard;
use crate::store::{Claim, Lease, Release, StateLocation, Store, SyncCounts};
use crate::tenants::{Load, Running, Tenant, TenantLoader, next_wait};

/// How the service runs (`connector-host serve` flags).
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub tenants_file: PathBuf,
    pub listen: SocketAddr,
    /// SQLite's folder, when no `database` is given.
    pub state_dir: PathBuf,
    /// A PostgreSQL URL: the state replicas share (may hold a password: never printed).
    pub database: Option<String>,
    /// A PEM file of the certificate authority the database's TLS certificate is checked
    /// against, besides the public ones.
    pub database_ca: Option<PathBuf>,
    /// This replica's name, recorded with each sync and change it runs; unique among replicas.
    pub replica_id: String,
    /// How long a claim on a tenant's sync lasts unless renewed: how soon the other replicas take
    /// over the tenants of one that stopped.
    pub lease_ttl: Duration,
    /// Whether the API may change access.
    pub provisioning: bool,
    pub shard: Shard,
    /// The bearer token of `/v1/`; none only on loopback.
    pub api_token: Option<String>,
    /// How long running syncs may finish after SIGTERM.
    pub grace: Duration,
    /// Tenants syncing at once.
    pub max_parallel: usize,
    /// MiB the syncs running at once may take together (each counts its records' limit and its
    /// sandbox's memory); 0: no budget, only `max_parallel`.
    pub memory_budget_mib: u64,
    /// Snapshots kept per tenant.
    pub keep_snapshots: usize,
    /// Host names (besides IP literals and, on loopback, `localhost`) a request's `Host` may
    /// name: what stops DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// How long a connection may take to send a request's head, or stay idle between requests.
    pub header_timeout: Duration,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
}

impl ServiceOptions {
    /// Where the state is kept: the database when one is given, else SQLite in `state_dir`.
    pub fn state_location(&self) -> StateLocation {
        match &self.database {
            Some(url) => StateLocation::Postgres { url: url.clone(), ca: self.database_ca.clone() },
            None => StateLocation::Directory(self.state_dir.clone()),
        }
    }
}

/// Why a sync could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    UnknownTenant,
    AlreadyRunning(i64),
    /// Another replica runs the tenant's sync.
    RunningElsewhere(String),
    /// Another replica synced the tenant: it is not due yet.
    NotDue,
    NotReady(String),
    Stopping,
    Store(String),
}

pub struct Service {
    pub options: ServiceOptions,
    pub store: Arc<dyn Store>,
    pub metrics: Metrics,
    tenants: Mutex<BTreeMap<String, Tenant>>,
    loader: Arc<dyn TenantLoader>,
    slots: Arc<Semaphore>,
    /// Wakes the scheduler (a sync ended, tenants were loaded or reloaded, shutdown).
    wake: Notify,
    /// Signalled whenever a sync ends.
    sync_ended: Notify,
    stopping: AtomicBool,
    /// Changes running (they outlive the HTTP requests that asked for them), and a signal when
    /// one ends.
    changes_running: std::sync::atomic::AtomicUsize,
    change_ended: Notify,
    /// The last failure to write the state, for `/health`.
    state_failure: Mutex<Option<String>>,
    /// The memory budget in MiB, shared by the syncs running; none without one.
    memory: Option<Arc<Semaphore>>,
    /// Every loaded tenant's credentials: what the service records and answers is redacted by it.
    redactor: Redactor,
}

impl Service {
    /// Opens the state and reads the tenant file (this shard's tenants); loads nothing yet.
    pub async fn new(options: ServiceOptions, loader: Arc<dyn TenantLoader>) -> Result<Arc<Self>, HostError> {
        let entries = read_tenant_file(&options.tenants_file)?;
        let store = crate::store::open(&options.state_location(), &options.replica_id).await.map_err(|e| HostError::usage(e.0))?;
        let options_budget = options.memory_budget_mib;
        let service = Arc::new(Self {
            slots: Arc::new(Semaphore::new(options.max_parallel.max(1))),
            options,
            store,
            metrics: Metrics::default(),
            tenants: Mutex::default(),
            loader,
            wake: Notify::new(),
            sync_ended: Notify::new(),
            stopping: AtomicBool::new(false),
            changes_running: Default::default(),
            change_ended: Notify::new(),
            state_failure: Mutex::default(),
            redactor: Redactor::default(),
            memory: (options_budget > 0).then(|| Arc::new(Semaphore::new(options_budget.min(Semaphore::MAX_PERMITS as u64) as usize))),
        });
        if let Some(token) = &service.options.api_token {
            service.redactor.learn_secret(token);
        }
        if let Some(password) = service.options.database.as_deref().and_then(crate::store::password_of) {
            service.redactor.learn_secret(&password);
        }
        service.apply(entries);
        Ok(service)
    }

    /// What the service's records and answers are redacted by: it knows every tenant's
    /// credentials once the tenant is loaded.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn tenants(&self) -> MutexGuard<'_, BTreeMap<String, Tenant>> {
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where tenant `id`'s connector stands: loading, failed, or ready to run.
    pub fn load_of(&self, id: &str) -> Option<crate::tenants::Load> {
        self.tenants().get(id).map(|t| t.load.clone())
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Notes that the state could not be written (`/health` says so until a write succeeds).
    pub fn state_failed(&self, why: &str) {
        tracing::error!("{why}");
        *self.state_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_owned());
    }

    /// Why the state cannot be written, if it cannot: the last failure, checked again now.
    pub async fn state_problem(&self) -> Option<String> {
        let checked = self.store.writable().await;
        let mut failure = self.state_failure.lock().unwrap_or_else(|p| p.into_inner());
        match checked {
            Ok(()) => {
                *failure = None;
                None
            }
            Err(error) => {
                *failure = Some(error.0.clone());
                Some(error.0)
            }
        }
    }

    /// Runs a change in a task of its own, so that it ends (and is recorded) whether or not the
    /// client that asked waits; shutdown waits for it.
    pub fn spawn_change<F>(self: &Arc<Self>, change: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.changes_running.fetch_add(1, Ordering::SeqCst);
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let output = change.await;
            service.changes_running.fetch_sub(1, Ordering::SeqCst);
            service.change_ended.notify_waiters();
            output
        })
    }

    /// Whether every tenant's loading has finished (loaded, or failed with a reason shown).
    pub fn ready(&self) -> bool {
        self.tenants().values().all(|t| !matches!(t.load, Load::Loading))
    }

    /// Makes the served tenants those of `entries` this shard owns: new ones added, removed ones
    /// dropped (after their running sync), every one (re)loaded, so that changed settings and
    /// rotated credential files take effect. Schedules are kept.
    fn apply(self: &Arc<Self>, entries: Vec<TenantEntry>) {
        let entries: Vec<TenantEntry> = entries.into_iter().filter(|e| self.options.shard.owns(&e.id)).collect();
        let mut to_load = Vec::new();
        {
            let mut tenants = self.tenants();
            let keep: std::collections::BTreeSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            let gone: Vec<String> = tenants.keys().filter(|id| !keep.contains(id.as_str())).cloned().collect();
            for id in gone {
                let running = tenants.get(&id).is_some_and(|t| t.running.is_some());
                if running {
                    tenants.get_mut(&id).expect("listed").removed = true;
                } else {
                    tenants.remove(&id);
                    self.metrics.forget(&id);
                }
                tracing::info!(tenant = %id, "no longer in the tenant file (or not this shard's): dropped");
            }
            for entry in entries {
                let interval = entry.sync_interval().unwrap_or(Duration::from_secs(connector_host::tenant::DEFAULT_SYNC_INTERVAL_S));
                let tenant = tenants.entry(entry.id.clone()).or_insert_with(|| Tenant::new(entry.clone(), interval));
                tenant.entry = entry.clone();
                tenant.interval = interval;
                tenant.removed = false;
                tenant.generation += 1;
                if !matches!(tenant.load, Load::Ready(_)) {
                    tenant.load = Load::Loading;
                }
                to_load.push((entry, tenant.generation));
            }
            self.metrics.tenants.set(tenants.len() as i64);
        }
        for (entry, generation) in to_load {
            let service = Arc::clone(self);
            tokio::spawn(async move {
                let loaded = service.loader.load(&entry).await;
                let mut tenants = service.tenants();
                if let Some(tenant) = tenants.get_mut(&entry.id).filter(|t| t.generation == generation) {
                    tenant.load = match loaded {
                        Ok(loaded) => {
                            service.redactor.learn(&loaded.config.credentials);
                            Load::Ready(Box::new(loaded))
                        }
                        Err(error) => {
                            let line = service.redactor.redact(error.message()).into_owned();
                            tracing::error!(tenant = %entry.id, "cannot run the tenant: {line}");
                            Load::Failed(line)
                        }
                    };
                }
                drop(tenants);
                service.wake.notify_one();
            });
        }
        self.wake.notify_one();
    }

    /// Reads the tenant file again (SIGHUP). A file that cannot be read changes nothing.
    pub fn reload(self: &Arc<Self>) {
        match read_tenant_file(&self.options.tenants_file) {
            Ok(entries) => {
                tracing::info!("reloading the tenant file {}", self.options.tenants_file.display());
                self.apply(entries);
            }
            Err(error) => tracing::error!("the tenant file was not reloaded, the tenants run as before: {}", error.message()),
        }
    }

    /// Starts the scheduled syncs as they fall due, until shutdown.
    pub async fn schedule(self: Arc<Self>) {
        while !self.stopping() {
            let now = Instant::now();
            let due: Vec<String> = self
                .tenants()
                .iter()
                .filter(|(_, t)| matches!(t.load, Load::Ready(_)) && t.running.is_none() && !t.removed && t.next_due <= now)
                .map(|(id, _)| id.clone())
                .collect();
            for id in due {
                match self.start_sync(&id, "schedule").await {
                    Ok(_) | Err(StartError::NotDue | StartError::RunningElsewhere(_) | StartError::AlreadyRunning(_)) => {}
                    Err(error) => {
                        tracing::warn!(tenant = %id, "scheduled sync not started: {error:?}");
                        // Not again at once: a failing database would otherwise be asked in a loop.
                        if let Some(tenant) = self.tenants().get_mut(&id) {
                            tenant.failures = tenant.failures.saturating_add(1);
                            tenant.next_due = Instant::now() + next_wait(&id, tenant.interval, tenant.failures);
                        }
                    }
                }
            }
            let next = self
                .tenants()
                .values()
                .filter(|t| matches!(t.load, Load::Ready(_)) && t.running.is_none())
                .map(|t| t.next_due)
                .min()
                .unwrap_or(now + Duration::from_secs(60));
            tokio::select! {
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(next.max(Instant::now()))) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// Starts a sync of tenant `id` now (it waits for a free sync slot); answers its id. The sync
    /// is claimed in the store first: the scheduler's only when it is due, an asked one at once;
    /// either only while no other replica's runs.
    pub async fn start_sync(self: &Arc<Self>, id: &str, trigger: &str) -> Result<i64, StartError> {
        if self.stopping() {
            return Err(StartError::Stopping);
        }
        let loaded = {
            let mut tenants = self.tenants();
            let tenant = tenants.get_mut(id).filter(|t| !t.removed).ok_or(StartError::UnknownTenant)?;
            if let Some(running) = &tenant.running {
                return Err(StartError::AlreadyRunning(running.sync_id));
            }
            let loaded = match &tenant.load {
                Load::Ready(loaded) => loaded.clone(),
                Load::Loading => return Err(StartError::NotReady("the tenant's connector is still loading".into())),
                Load::Failed(why) => return Err(StartError::NotReady(why.clone())),
            };
            // Taken while the sync is claimed and recorded, so that no second one starts meanwhile.
            tenant.running = Some(Running { sync_id: 0, started: None, abort: None, lease: None });
            loaded
        };
        let claimed = self.store.claim(id, self.options.lease_ttl, trigger != "schedule").await;
        let lease = match claimed {
            Ok(Claim::Granted(lease)) => lease,
            Ok(Claim::Held { by, wait }) => {
                // Another replica syncs it: the snapshot's gauges are that replica's to export.
                self.metrics.forget_snapshot(id);
                return Err(self.not_started(id, Some(wait), StartError::RunningElsewhere(by)));
            }
            Ok(Claim::NotDue { wait }) => {
                self.metrics.forget_snapshot(id);
                return Err(self.not_started(id, Some(wait), StartError::NotDue));
            }
            Err(error) => return Err(self.not_started(id, None, StartError::Store(error.0))),
        };
        self.metrics.leases_claimed.inc();
        if let Some(from) = &lease.took_over_from {
            self.metrics.leases_taken_over.inc();
            tracing::info!(tenant = %id, "took the tenant over from replica {from}, which stopped during its sync");
        }
        let held = HeldLease::new(&self.metrics);
        let recorded = self.store.begin_sync(id, trigger).await;
        let mut tenants = self.tenants();
        let Some(tenant) = tenants.get_mut(id) else { return Err(StartError::UnknownTenant) };
        let sync_id = match recorded {
            Ok(sync_id) => sync_id,
            Err(error) => {
                // Its lease expires by itself: another replica, or this one, tries again then.
                tenant.running = None;
                return Err(StartError::Store(error.0));
            }
        };
        let service = Arc::clone(self);
        let tenant_id = id.to_owned();
        let kept = lease.clone();
        // Spawned under the lock: the sync's first step takes it, so it finds itself running.
        let task = tokio::spawn(async move {
            let _held = held;
            service.run_sync(tenant_id, sync_id, *loaded, kept).await
        });
        tenant.running = Some(Running { sync_id, started: None, abort: Some(task.abort_handle()), lease: Some(lease) });
        Ok(sync_id)
    }
}

/// A lease this replica holds, counted in `connector_leases_held` until it is dropped (the sync
/// ended, failed to start, or was aborted at a stop).
struct HeldLease(prometheus_client::metrics::gauge::Gauge);

impl HeldLease {
    fn new(metrics: &Metrics) -> Self {
        metrics.leases_held.inc();
        Self(metrics.leases_held.clone())
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Service {
    /// Frees the tenant a claim did not get, and schedules it for when the store said to ask
    /// again (with up to a second of jitter, so that replicas do not all ask at once).
    fn not_started(&self, id: &str, wait: Option<Duration>, error: StartError) -> StartError {
        if let Some(tenant) = self.tenants().get_mut(id) {
            tenant.running = None;
            if let Some(wait) = wait {
                tenant.next_due = Instant::now() + wait + Duration::from_millis(fastrand::u64(50..1000));
            }
        }
        error
    }

    /// Reserves the memory a sync of this tenant may take (its records' limit and its sandbox's)
    /// from `--memory-budget-mib`, waiting while other syncs hold it: large tenants queue rather
    /// than take the process past its memory limit. None without a budget.
    async fn reserve_memory(&self, id: &str, loaded: &crate::tenants::Loaded) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let budget = self.memory.as_ref()?;
        let mib = |bytes: u64| bytes.div_ceil(1024 * 1024);
        let wanted = mib(loaded.config.max_sync_bytes) + mib(loaded.config.memory_limit_bytes as u64);
        let wanted = wanted.clamp(1, self.options.memory_budget_mib.max(1)).min(u64::from(u32::MAX)) as u32;
        if budget.available_permits() < wanted as usize {
            tracing::info!(tenant = %id, "waiting for {wanted} MiB of the memory budget, held by the syncs running");
        }
        Arc::clone(budget).acquire_many_owned(wanted).await.ok()
    }

    /// Renews `lease` every third of its time to live; answers when it is lost: another replica
    /// took it over, or the store could not be reached for as long as it lives.
    async fn keep_lease(&self, lease: &Lease) {
        let ttl = self.options.lease_ttl;
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(ttl / 3).await;
            match self.store.renew(lease, ttl).await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => return,
                Err(error) if renewed.elapsed() >= ttl => {
                    tracing::warn!(tenant = %lease.tenant, "the lease could not be renewed for {ttl:?}: {error}");
                    return;
                }
                Err(error) => tracing::warn!(tenant = %lease.tenant, "the lease was not renewed (trying again): {error}"),
            }
        }
    }

    async fn run_sync(self: Arc<Self>, id: String, sync_id: i64, loaded: crate::tenants::Loaded, lease: Lease) {
        let label = Metrics::tenant(&id);
        let progress = connector_host::progress::SyncProgress::new();
        // The lease is kept from the claim on, while the sync waits for a slot and its memory too.
        let work = async {
            let slot = Arc::clone(&self.slots).acquire_owned().await.ok()?;
            let memory = self.reserve_memory(&id, &loaded).await;
            if let Some(Running { started, .. }) = self.tenants().get_mut(&id).and_then(|t| t.running.as_mut()) {
                *started = Some(Instant::now());
            }
            self.metrics.running.get_or_create(&label).set(1);
            let clock = Instant::now();
            let result = connector_host::sync_with_progress(&loaded.runtime, &loaded.config, Arc::clone(&progress)).await;
            Some((result, clock.elapsed(), (slot, memory)))
        };
        let (result, seconds, _held) = tokio::select! {
            done = work => match done {
                Some((result, took, held)) => (Some(result), took.as_secs_f64(), Some(held)),
                None => return,
            },
            () = self.keep_lease(&lease) => (None, 0.0, None),
        };
        // Every request the sync sent counts, a failed sync's too.
        self.metrics.api_requests.get_or_create(&label).inc_by(progress.view().requests);
        let (interval, failures) = self.tenants().get(&id).map_or((Duration::from_secs(3600), 0), |t| (t.interval, t.failures));
        let next_ok = next_wait(&id, interval, 0);
        let next_failed = next_wait(&id, interval, failures.saturating_add(1));
        let outcome = match result {
            Some(result) => self.record(&id, sync_id, result, &lease, (next_ok, next_failed)).await,
            None => {
                self.metrics.leases_lost.inc();
                let line = crate::store::lease_lost(&lease).0;
                let _ = self.store.finish_failed(sync_id, "abandoned", &line, None).await;
                Err(line)
            }
        };
        self.metrics.running.get_or_create(&label).set(0);
        self.metrics.sync_duration.get_or_create(&label).observe(seconds);
        let ok = outcome.is_ok();
        self.metrics.syncs.get_or_create(&Metrics::outcome(&id, if ok { "ok" } else { "failed" })).inc();
        match &outcome {
            Ok(()) => tracing::info!(tenant = %id, sync = sync_id, "synced in {seconds:.1}s"),
            Err(line) => tracing::warn!(tenant = %id, sync = sync_id, "sync failed: {}", connector_host::text::escape_controls(line)),
        }
        let mut tenants = self.tenants();
        if let Some(tenant) = tenants.get_mut(&id) {
            tenant.running = None;
            tenant.failures = if ok { 0 } else { tenant.failures.saturating_add(1) };
            tenant.next_due = Instant::now() + if ok { next_ok } else { next_failed };
            if tenant.removed {
                tenants.remove(&id);
                self.metrics.forget(&id);
            }
        }
        drop(tenants);
        self.sync_ended.notify_waiters();
        self.wake.notify_one();
    }

    /// Stores a sync's result; answers the error line of a failed one.
    /// The lease is released with the tenant's next sync due after `next.0` (a success) or
    /// `next.1` (a failure), as this replica schedules it too.
    async fn record(
        &self,
        id: &str,
        sync_id: i64,
        result: Result<Snapshot, HostError>,
        lease: &Lease,
        next: (Duration, Duration),
    ) -> Result<(), String> {
        let failed = Release { lease, next_in: next.1 };
        let snapshot = match result {
            Ok(snapshot) => snapshot,
            Err(error) => {
                let line = self.redactor.redact(error.message()).into_owned();
                if let Err(e) = self.store.finish_failed(sync_id, "failed", &line, Some(failed)).await {
                    self.state_failed(&format!("tenant {id}: {e}"));
                }
                return Err(line);
            }
        };
        let previous = self.store.last_snapshot(id).await.ok().flatten().map(|(_, bytes)| bytes);
        // The snapshot's JSON and the diff are long computations: off the runtime.
        let (json, diff, counts) = tokio::task::spawn_blocking(move || {
            let json = serde_json::to_vec_pretty(&snapshot).map_err(|e| format!("cannot encode the snapshot: {e}"))?;
            let previous = previous.and_then(|bytes| serde_json::from_slice::<Snapshot>(&bytes).ok());
            let diff = previous.map(|old| SnapshotDiff::between(&old, &snapshot).to_json());
            let counts = SyncCounts {
                resources: snapshot.resources.len() as i64,
                grants: snapshot.grants.len() as i64,
                requests: snapshot.stats.http_requests as i64,
                duration_ms: snapshot.stats.duration_ms as i64,
            };
            Ok::<_, String>((json, diff, counts))
        })
        .await
        .unwrap_or_else(|e| Err(format!("recording the sync failed: {e}")))?;
        let release = Release { lease, next_in: next.0 };
        if let Err(error) =
            self.store.finish_ok(sync_id, id, counts, &json, diff.as_ref(), self.options.keep_snapshots, Some(release)).await
        {
            if error == crate::store::lease_lost(lease) {
                self.metrics.leases_lost.inc();
                let _ = self.store.finish_failed(sync_id, "abandoned", &error.0, None).await;
            } else {
                self.state_failed(&format!("tenant {id}: {error}"));
                let _ = self.store.finish_failed(sync_id, "failed", &error.0, Some(failed)).await;
            }
            return Err(error.0);
        }
        let label = Metrics::tenant(id);
        self.metrics.grants.get_or_create(&label).set(counts.grants);
        self.metrics.resources.get_or_create(&label).set(counts.resources);
        let now = std::time::SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default();
        self.metrics.last_success.get_or_create(&label).set(now);
        Ok(())
    }

    /// Stops starting syncs, lets the running ones finish within the grace period, and abandons
    /// the rest (nothing of theirs is written; their rows say abandoned). Changes running are
    /// waited for within the same period: each was recorded before it was sent, and one cut short
    /// is found `pending` at the next start and marked unknown.
    pub async fn shut_down(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let deadline = tokio::time::Instant::now() + self.options.grace;
        while self.changes_running.load(Ordering::SeqCst) > 0 {
            let ended = self.change_ended.notified();
            if self.changes_running.load(Ordering::SeqCst) == 0 || tokio::time::timeout_at(deadline, ended).await.is_err() {
                break;
            }
        }
        loop {
            let ended = self.sync_ended.notified();
            let running: Vec<i64> = self.tenants().values().filter_map(|t| t.running.as_ref().map(|r| r.sync_id)).collect();
            if running.is_empty() {
                break;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                let mut abandoned = Vec::new();
                for tenant in self.tenants().values_mut() {
                    if let Some(running) = tenant.running.take() {
                        if let Some(abort) = running.abort {
                            abort.abort();
                        }
                        tracing::warn!(tenant = %tenant.entry.id, "sync {} abandoned at shutdown: nothing of it was written", running.sync_id);
                        abandoned.push((running.sync_id, running.lease));
                    }
                }
                for (sync_id, lease) in abandoned {
                    // Released due now: another replica may run it at once.
                    let release = lease.as_ref().map(|lease| Release { lease, next_in: Duration::ZERO });
                    let _ = self.store.finish_failed(sync_id, "abandoned", "the service stopped during the sync", release).await;
                }
                break;
            }
        }
    }
}
