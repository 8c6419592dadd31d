//! A full sync: the host walks the connector's listings page by page, up to the tenant's
//! `max_concurrency` listings at once, retries what is worth retrying, merges what the pages
//! reveal, and builds the snapshot. The snapshot is the same whatever the concurrency.
//!
//! The phases: the resources of every type (one listing per type, concurrently); the
//! entitlements of every resource (no requests); the grants of every resource (one listing per
//! resource, spread over the workers). Each worker runs its own instance of the component, so a
//! worker's calls never wait on another's.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::task::JoinSet;

use crate::bindings::latest::types::{Capability, ConnectorError, Page, Resource};
use crate::error::{HostError, Result};
use crate::failure::{call_failure, redact};

use crate::http::RequestMeter;
use crate::merge::Merged;
use crate::progress::{Phase, SyncProgress};
use crate::retry::{Retrier, RetryStats, retrying};
use crate::snapshot::{ConnectorInfo, ResourceTypeRecord, Snapshot};
use crate::tenant::TenantConfig;
use crate::{CallError, ConnectorRuntime, Session};

/// Syncs one tenant's account, within the tenant's run time limit.
pub async fn sync(runtime: &ConnectorRuntime, tenant: &TenantConfig) -> Result<Snapshot> {
    sync_with_progress(runtime, tenant, SyncProgress::new()).await
}

/// [`sync`], counting what it does in `progress` as it goes.
pub async fn sync_with_progress(runtime: &ConnectorRuntime, tenant: &TenantConfig, progress: Arc<SyncProgress>) -> Result<Snapshot> {
    let limit = tenant.run_timeout;
    let run = sync_unbounded(runtime.clone(), Arc::new(tenant.clone()), progress);
    match tokio::time::timeout(limit, run).await {
        Ok(result) => result,
        Err(_) => Err(HostError::sandbox(format!(
            "tenant {}: the sync ran longer than its limit of {}s and was stopped",
            tenant.id,
            limit.as_secs()
        ))
        .with_setting("timeout_s")),
    }
}

async fn sync_unbounded(runtime: ConnectorRuntime, tenant: Arc<TenantConfig>, progress: Arc<SyncProgress>) -> Result<Snapshot> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let meter = Arc::new(RequestMeter::default());
    progress.attach(&meter);
    // Declared once for the runtime: no instance of this run is needed to read it, and none is
    // held while workers wait for instance slots.
    let metadata = runtime.metadata().await?;
    if !metadata.capabilities.contains(&Capability::Sync) {
        return Err(HostError::usage(format!("the connector {} cannot sync", metadata.name)));
    }
    let workers = Workers {
        runtime: runtime.clone(),
        tenant: Arc::clone(&tenant),
        meter: Arc::clone(&meter),
        progress: Arc::clone(&progress),
        held: Arc::default(),
    };

    progress.enter(Phase::Resources);
    let jobs = metadata.resource_types.iter().map(|t| Job::Resources(t.id.clone())).collect();
    let (mut merged, mut stats) = workers.run(jobs).await?;
    for resource_type in &metadata.resource_types {
        let count = merged.count(&resource_type.id);
        progress.merged_resources(&resource_type.id, count);
        tracing::info!(tenant = %tenant.id, "listed {count} {}s", resource_type.id);
    }

    progress.enter(Phase::Entitlements);
    let mut session = runtime.open(&tenant, Arc::clone(&meter)).await?;
    for resource_type in &metadata.resource_types {
        let related: Vec<Resource> = resource_type.entitlements_need.iter().flat_map(|needed| merged.primaries(needed)).collect();
        for resource in merged.primaries(&resource_type.id) {
            let entitlements = session.list_entitlements(&resource, &related).await.map_err(|e| listing_failure(&tenant, e, 1))?;
            merged.add_entitlements(entitlements, true);
        }
    }
    drop(session);

    let jobs: VecDeque<Job> = metadata.resource_types.iter().flat_map(|t| merged.primaries(&t.id)).map(Job::Grants).collect();
    progress.listings(jobs.len());
    progress.enter(Phase::Grants);
    let (grants, grant_stats) = workers.run(jobs).await?;
    merged.absorb(grants);
    stats.retries += grant_stats.retries;
    stats.rate_limit_waits += grant_stats.rate_limit_waits;
    tracing::info!(tenant = %tenant.id, "listed the grants of every resource");

    let mut snapshot = merged.into_snapshot(&tenant)?;
    snapshot.connector = ConnectorInfo { name: metadata.name, version: metadata.version };
    let mut types: Vec<ResourceTypeRecord> = metadata.resource_types.iter().map(crate::snapshot::declared_type).collect();
    types.sort_by(|a, b| a.id.cmp(&b.id));
    snapshot.resource_types = types;
    snapshot.started_at = rfc3339(started_at);
    snapshot.finished_at = rfc3339(SystemTime::now());
    snapshot.stats.http_requests = meter.requests();
    snapshot.stats.duration_ms = started.elapsed().as_millis() as u64;
    snapshot.stats.retries = stats.retries;
    snapshot.stats.rate_limit_waits = stats.rate_limit_waits;
    progress.finished(snapshot.grants.len());
    Ok(snapshot)
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A listing to walk to its end.
enum Job {
    /// The resources of a type.
    Resources(String),
    /// The grants on a resource's entitlements.
    Grants(Resource),
}

/// Runs jobs on up to `max_concurrency` workers, each with its own instance.
struct Workers {
    runtime: ConnectorRuntime,
    tenant: Arc<TenantConfig>,
    meter: Arc<RequestMeter>,
    progress: Arc<SyncProgress>,
    /// Bytes of records the run's pages have brought so far, all workers together.
    held: Arc<AtomicU64>,
}

type Queue = Arc<Mutex<VecDeque<Job>>>;

impl Workers {
    /// Walks every job; the first failure stops the others and is the result.
    async fn run(&self, jobs: VecDeque<Job>) -> Result<(Merged, RetryStats)> {
        let count = self.tenant.max_concurrency.clamp(1, jobs.len().max(1));
        let queue: Queue = Arc::new(Mutex::new(jobs));
        let mut set = JoinSet::new();
        for _ in 0..count {
            let worker = Worker {
                runtime: self.runtime.clone(),
                tenant: Arc::clone(&self.tenant),
                meter: Arc::clone(&self.meter),
                progress: Arc::clone(&self.progress),
                queue: Arc::clone(&queue),
                held: Arc::clone(&self.held),
            };
            set.spawn(worker.work());
        }
        let mut merged = Merged::default();
        let mut stats = RetryStats::default();
        while let Some(joined) = set.join_next().await {
            let outcome = joined
                .unwrap_or_else(|panic| Err(HostError::other(format!("a sync worker panicked: {panic}; this is a host bug, report it"))));
            match outcome {
                Ok((found, worker_stats)) => {
                    merged.absorb(found);
                    stats.retries += worker_stats.retries;
                    stats.rate_limit_waits += worker_stats.rate_limit_waits;
                }
                Err(error) => {
                    // Stop the others and wait until they have: a worker left running could
                    // find its HTTP task cancelled under it when the runtime shuts down.
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    return Err(error);
                }
            }
        }
        Ok((merged, stats))
    }
}

/// One worker: takes jobs until none are left, in an instance of its own.
struct Worker {
    runtime: ConnectorRuntime,
    tenant: Arc<TenantConfig>,
    meter: Arc<RequestMeter>,
    progress: Arc<SyncProgress>,
    queue: Queue,
    held: Arc<AtomicU64>,
}

impl Worker {
    async fn work(self) -> Result<(Merged, RetryStats)> {
        let mut merged = Merged::default();
        let mut stats = RetryStats::default();
        let mut session: Option<Session> = None;
        loop {
            let Some(job) = self.queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                return Ok((merged, stats));
            };
            let session = match &mut session {
                Some(session) => session,
                None => session.insert(self.runtime.open(&self.tenant, Arc::clone(&self.meter)).await?),
            };
            let mut token: Option<String> = None;
            let mut walk = Walk::default();
            loop {
                let page = page(session, &self.tenant, &mut stats, &job, token.as_deref()).await?;
                token = page.next_page_token.clone();
                let listing = || session.last_request().unwrap_or_else(|| job.describe());
                self.hold(weight(&page))?;
                if let Err(why) = walk.step(&page) {
                    return Err(HostError::api(format!("{}: {why}; report it to the API's owner", listing())));
                }
                let added = match &job {
                    Job::Resources(resource_type) => {
                        let found = page.resources.iter().filter(|r| &r.resource_type == resource_type).count();
                        self.progress.found_resources(resource_type, found);
                        // The grants a resource listing reveals (the users' account roles).
                        self.progress.listed(page.grants.len());
                        merged.add(page, Some(resource_type))
                    }
                    Job::Grants(_) => {
                        self.progress.listed(page.grants.len());
                        merged.add(page, None)
                    }
                };
                if let Err(why) = added {
                    return Err(redact(
                        &self.tenant,
                        HostError::api(format!(
                            "{}: {why}; the API's listing is inconsistent: run the sync again, and report it if it persists",
                            listing()
                        )),
                    ));
                }
                if token.is_none() {
                    break;
                }
            }
            if matches!(job, Job::Grants(_)) {
                self.progress.listing_done();
            }
        }
    }
}

impl Worker {
    /// Counts `bytes` more records held by the run; past the tenant's limit the sync stops.
    fn hold(&self, bytes: u64) -> Result<()> {
        let held = self.held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if held > self.tenant.max_sync_bytes {
            return Err(HostError::sandbox(format!(
                "sync memory limit: tenant {}'s sync holds more than {} MiB of records and was stopped",
                self.tenant.id,
                self.tenant.max_sync_bytes / (1024 * 1024)
            ))
            .with_setting("max_sync_mib"));
        }
        Ok(())
    }
}

/// Bytes a page's records take in the host, about: their text and a fixed cost per record.
fn weight(page: &Page) -> u64 {
    const RECORD: usize = 96;
    let resources: usize =
        page.resources.iter().map(|r| RECORD + r.resource_type.len() + r.id.len() + r.display_name.len() + r.traits_json.len()).sum();
    let entitlements: usize = page
        .entitlements
        .iter()
        .map(|e| {
            let refs = e.resource.resource_type.len() + e.resource.id.len();
            RECORD + e.id.len() + refs + e.slug.len() + e.display_name.len() + e.grantable_to.iter().map(|t| t.len() + 24).sum::<usize>()
        })
        .sum();
    let grants: usize = page
        .grants
        .iter()
        .map(|g| {
            let refs = g.principal.resource_type.len() + g.principal.id.len();
            RECORD + g.id.len() + g.entitlement.len() + refs + g.expandable.iter().map(|e| e.len() + 24).sum::<usize>()
        })
        .sum();
    (resources + entitlements + grants) as u64
}

/// One listing's walk, bounded by what the server sends: a page token handed out before (a cycle
/// of any length) stops it. Empty pages are the connector's to count: only it sees the API's items
/// (a page of a thousand users who hold nothing on a group brings no record, and is not empty).
#[derive(Default)]
struct Walk {
    tokens: std::collections::HashSet<String>,
    pages: u64,
}

impl Walk {
    fn step(&mut self, page: &Page) -> std::result::Result<(), String> {
        self.pages += 1;
        let Some(token) = &page.next_page_token else { return Ok(()) };
        if !self.tokens.insert(token.clone()) {
            return Err(format!(
                "the API's paging goes in a circle (it sent a cursor it had sent before); the listing was stopped after {} pages",
                self.pages
            ));
        }
        Ok(())
    }
}

impl Job {
    /// The listing, for errors when no request names it.
    fn describe(&self) -> String {
        match self {
            Job::Resources(resource_type) => format!("the {resource_type} listing"),
            Job::Grants(resource) => format!("the grants of {} {}", resource.resource_type, resource.id),
        }
    }
}

/// One page, retried as the tenant's policy allows. A resource that vanished since it was
/// listed has no grants.
async fn page(session: &mut Session, tenant: &TenantConfig, stats: &mut RetryStats, job: &Job, token: Option<&str>) -> Result<Page> {
    let mut retrier = Retrier::new(&tenant.retry, &tenant.id, stats);
    let result: std::result::Result<Page, (CallError, u32)> = retrying!(
        retrier,
        match job {
            Job::Resources(resource_type) => session.list_resources(resource_type, token).await,
            Job::Grants(resource) => session.list_grants(resource, token).await,
        }
    );
    match result {
        Ok(page) => Ok(page),
        Err((CallError::Connector(ConnectorError::NotFound(why)), _)) if matches!(job, Job::Grants(_)) => {
            if let Job::Grants(resource) = job {
                let shown = crate::text::escape_controls(&resource.id);
                tracing::warn!(tenant = %tenant.id, "{} {shown} vanished during the sync: {}", resource.resource_type, crate::text::escape_controls(&why));
            }
            Ok(Page { resources: vec![], entitlements: vec![], grants: vec![], next_page_token: None })
        }
        // A request of the sync's own making that the API calls invalid is the API's doing or
        // the connector's, never the operator's: not a usage error.
        Err((CallError::Connector(ConnectorError::InvalidArgument(why)), _)) => Err(redact(
            tenant,
            HostError::api(format!("{why}; the API refused a request of the sync as invalid: report it with the endpoint named")),
        )),
        Err((error, attempts)) => Err(listing_failure(tenant, error, attempts)),
    }
}

/// A call of a sync that failed: what a listing meets is the API's failure, a 404 included (it
/// names no input of the user's, as a change's would).
fn listing_failure(tenant: &TenantConfig, error: CallError, attempts: u32) -> HostError {
    let failure = call_failure(tenant, error, attempts);
    match failure.kind() {
        crate::error::ErrorKind::NotFound | crate::error::ErrorKind::Conflict => HostError::api(failure.message()),
        _ => failure,
    }
}
