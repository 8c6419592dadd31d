//! What the service says about a tenant (`GET /v1/tenants/{id}`, `/health`), typed: read from the
//! tenant's state under its lock, then from the store.

use serde::Serialize;

use crate::service::Service;
use crate::store::{StoreResult, SyncRecord};
use crate::tenants::Load;

/// A tenant's status, as `GET /v1/tenants/{id}` answers it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantStatus {
    pub id: String,
    /// The connector it runs (a built-in's name), once known.
    pub connector: Option<String>,
    pub running: bool,
    /// `loading`, `config_error`, `idle`, `queued` or `running`.
    pub state: &'static str,
    /// Why its connector or settings could not be loaded.
    pub error: Option<String>,
    pub last_sync: Option<SyncRecord>,
    /// The replica whose sync of it runs now, this one or another sharing the database.
    pub running_on: Option<String>,
    pub last_success_at: Option<String>,
    pub next_sync_at: Option<String>,
    pub sync_interval_s: u64,
    pub consecutive_failures: u32,
}

impl TenantStatus {
    /// Its health in one word: `config_error`, the last sync's outcome, else `pending`.
    pub fn outcome(&self) -> &str {
        match (self.state, &self.last_sync) {
            ("config_error", _) => "config_error",
            (_, Some(sync)) => &sync.outcome,
            _ => "pending",
        }
    }
}

impl Service {
    /// The ids of the tenants served (not those taken out of the tenant file), in order.
    pub fn served(&self) -> Vec<String> {
        self.tenants().iter().filter(|(_, t)| !t.removed).map(|(id, _)| id.clone()).collect()
    }

    /// The ids of every tenant held, those taken out of the tenant file while a sync ran too.
    pub fn held(&self) -> Vec<String> {
        self.tenants().keys().cloned().collect()
    }

    /// Whether tenant `id` is served here.
    pub fn serves(&self, id: &str) -> bool {
        self.tenants().get(id).is_some_and(|t| !t.removed)
    }

    /// Tenant `id`'s status; none for a tenant this service does not hold.
    pub async fn status(&self, id: &str) -> StoreResult<Option<TenantStatus>> {
        Ok(self.statuses(&[id.to_owned()]).await?.pop())
    }

    /// The statuses of the tenants of `ids` this service holds, in that order, read from the
    /// store in one statement (a listing of thousands of tenants is one query, not thousands).
    pub async fn statuses(&self, ids: &[String]) -> StoreResult<Vec<TenantStatus>> {
        let held: Vec<TenantStatus> = {
            let tenants = self.tenants();
            ids.iter()
                .filter_map(|id| {
                    let tenant = tenants.get(id)?;
                    let state = tenant.state();
                    Some(TenantStatus {
                        id: id.clone(),
                        connector: tenant.connector().map(str::to_owned),
                        running: state == "running",
                        state,
                        error: match &tenant.load {
                            Load::Failed(why) => Some(why.clone()),
                            _ => None,
                        },
                        last_sync: None,
                        running_on: None,
                        last_success_at: None,
                        next_sync_at: tenant.next_due_at().map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                        sync_interval_s: tenant.interval.as_secs(),
                        consecutive_failures: tenant.failures,
                    })
                })
                .collect()
        };
        let ids: Vec<String> = held.iter().map(|status| status.id.clone()).collect();
        let mut records = self.store.overview(&ids).await?;
        Ok(held
            .into_iter()
            .map(|status| {
                let record = records.remove(&status.id).unwrap_or_default();
                TenantStatus {
                    last_sync: record.last_sync,
                    running_on: record.running_on,
                    last_success_at: record.last_success_at,
                    ..status
                }
            })
            .collect())
    }
}
