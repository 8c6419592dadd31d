//! One running instance of a connector for one tenant: each export called under the call's time,
//! CPU and size limits, an older contract's instance through its adapter, and every failure
//! settled into a [`CallError`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::Store;

use crate::bindings::latest::ConnectorWorld;
use crate::bindings::latest::types::{
    AccountChanges, AccountInfo, ActivationOutcome, Config as CallConfig, ConnectorError, ConnectorMetadata, CreateOutcome, DeleteOutcome,
    Entitlement, GrantOutcome, NewAccount, NewResource, Page, Resource, ResourceChanges, ResourceRef, RevokeOutcome, UpdateOutcome,
};
use crate::call_error::{CallError, MAX_MESSAGE_CHARS, limit_hit, redact_connector_error, shorten, trap_text};
use crate::contract::v0_4 as adapt;
use crate::error::Refusal;
use crate::http::RequestMeter;
use crate::state::TenantState;

/// An instance of a component, of the version it implements.
pub(super) enum World {
    Latest(ConnectorWorld),
    V0_4(crate::bindings::v0_4::ConnectorWorld),
}

/// One running instance of a connector, for one tenant.
pub struct Session {
    /// Its place in the instance pool, given back when the session ends.
    pub(super) _slot: tokio::sync::OwnedSemaphorePermit,
    /// Whether the connector is inside a host call right now (set by the store's call hook).
    pub(super) waiting: Arc<AtomicBool>,
    pub(super) store: Store<TenantState>,
    pub(super) world: World,
    pub(super) meter: Arc<RequestMeter>,
    pub(super) call_timeout: Duration,
    pub(super) cpu_time: Duration,
    /// The store's hostcall fuel, kept for the error that names it.
    pub(super) max_return_bytes: usize,
    pub(super) config: CallConfig,
}

/// A call that ran past its time limit; `waiting`: it was inside a host call (waiting for the
/// API, mostly) when the limit struck.
#[derive(Debug, Clone, Copy)]
struct Overran {
    waiting: bool,
}

/// `call`, stopped after `limit`. Whether it was waiting in the host is read when the limit
/// strikes, before the call is dropped: dropping it unwinds its host calls.
async fn within<T>(limit: Duration, waiting: &AtomicBool, call: impl Future<Output = T>) -> std::result::Result<T, Overran> {
    let overran = async {
        tokio::time::sleep(limit).await;
        waiting.load(Ordering::Relaxed)
    };
    tokio::select! {
        result = call => Ok(result),
        waiting = overran => Err(Overran { waiting }),
    }
}

/// Calls `$method` of the instance, whatever its version: a component of an older contract
/// with the arguments converted down (`|old| ...` names its exports and makes the call) and its
/// answer converted up (`$up`).
macro_rules! call {
    ($self:ident, $method:ident ($($arg:expr),*), |$old:ident| $old_call:expr, $up:expr) => {{
        $self.store.data_mut().cpu.reset();
        $self.store.set_epoch_deadline(1);
        let outcome = match &$self.world {
            World::Latest(world) => {
                let exports = world.accessgov_connector_connector();
                within($self.call_timeout, &$self.waiting, exports.$method(&mut $self.store $(, $arg)*)).await
            }
            World::V0_4(world) => {
                let $old = world.accessgov_connector_connector();
                let future = async { $old_call.await.map(|answer| adapt::answer(answer, $up)) };
                within($self.call_timeout, &$self.waiting, future).await
            }
        };
        let last_words = $self.store.data_mut().flush_output();
        $self.settle(stringify!($method), outcome, last_words)
    }};
}

impl Session {
    pub fn meter(&self) -> &Arc<RequestMeter> {
        &self.meter
    }

    /// The latest request this instance sent, as `GET /v1/users`, for errors about a listing.
    pub fn last_request(&self) -> Option<String> {
        self.store.data().hooks.last_request.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub async fn metadata(&mut self) -> Result<ConnectorMetadata, CallError> {
        self.store.data_mut().cpu.reset();
        self.store.set_epoch_deadline(1);
        let outcome = match &self.world {
            World::Latest(world) => {
                let exports = world.accessgov_connector_connector();
                within(self.call_timeout, &self.waiting, exports.call_metadata(&mut self.store)).await
            }
            World::V0_4(world) => {
                let exports = world.accessgov_connector_connector();
                let future = async { exports.call_metadata(&mut self.store).await.map(adapt::metadata) };
                within(self.call_timeout, &self.waiting, future).await
            }
        };
        let last_words = self.store.data_mut().flush_output();
        self.settle("call_metadata", outcome.map(|r| r.map(Ok)), last_words)
    }

    pub async fn validate(&mut self) -> Result<AccountInfo, CallError> {
        let config = self.config.clone();
        call!(self, call_validate(&config), |old| old.call_validate(&mut self.store, &adapt::config(&config)), adapt::account_info)
    }

    pub async fn list_resources(&mut self, resource_type: &str, token: Option<&str>) -> Result<Page, CallError> {
        let config = self.config.clone();
        let token = token.map(str::to_owned);
        call!(
            self,
            call_list_resources(&config, resource_type, token.as_deref()),
            |old| old.call_list_resources(&mut self.store, &adapt::config(&config), resource_type, token.as_deref()),
            adapt::page
        )
    }

    pub async fn list_entitlements(&mut self, resource: &Resource, related: &[Resource]) -> Result<Vec<Entitlement>, CallError> {
        let config = self.config.clone();
        let (old_resource, old_related) = (adapt::resource_down(resource), related.iter().map(adapt::resource_down).collect::<Vec<_>>());
        call!(
            self,
            call_list_entitlements(&config, resource, related),
            |old| old.call_list_entitlements(&mut self.store, &adapt::config(&config), &old_resource, &old_related),
            |list: Vec<_>| list.into_iter().map(adapt::entitlement).collect()
        )
    }

    pub async fn list_grants(&mut self, resource: &Resource, token: Option<&str>) -> Result<Page, CallError> {
        let config = self.config.clone();
        let token = token.map(str::to_owned);
        let old_resource = adapt::resource_down(resource);
        call!(
            self,
            call_list_grants(&config, resource, token.as_deref()),
            |old| old.call_list_grants(&mut self.store, &adapt::config(&config), &old_resource, token.as_deref()),
            adapt::page
        )
    }

    pub async fn provision_account(&mut self, account: &NewAccount) -> Result<CreateOutcome, CallError> {
        let config = self.config.clone();
        let old_account = adapt::new_account(account);
        call!(
            self,
            call_provision_account(&config, account),
            |old| old.call_provision_account(&mut self.store, &adapt::config(&config), &old_account),
            adapt::create_outcome
        )
    }

    pub async fn deprovision_account(&mut self, user_id: &str) -> Result<DeleteOutcome, CallError> {
        let config = self.config.clone();
        call!(
            self,
            call_deprovision_account(&config, user_id),
            |old| old.call_deprovision_account(&mut self.store, &adapt::config(&config), user_id),
            adapt::delete_outcome
        )
    }

    pub async fn update_account(&mut self, user_id: &str, changes: &AccountChanges) -> Result<UpdateOutcome, CallError> {
        let config = self.config.clone();
        let old_changes = adapt::account_changes(changes);
        call!(
            self,
            call_update_account(&config, user_id, changes),
            |old| old.call_update_account(&mut self.store, &adapt::config(&config), user_id, &old_changes),
            adapt::update_outcome
        )
    }

    pub async fn set_account_enabled(&mut self, user_id: &str, enabled: bool) -> Result<ActivationOutcome, CallError> {
        let config = self.config.clone();
        call!(
            self,
            call_set_account_enabled(&config, user_id, enabled),
            |old| old.call_set_account_enabled(&mut self.store, &adapt::config(&config), user_id, enabled),
            adapt::activation_outcome
        )
    }

    pub async fn create_resource(&mut self, spec: &NewResource) -> Result<CreateOutcome, CallError> {
        let config = self.config.clone();
        let old_spec = adapt::new_resource(spec);
        call!(
            self,
            call_create_resource(&config, spec),
            |old| old.call_create_resource(&mut self.store, &adapt::config(&config), &old_spec),
            adapt::create_outcome
        )
    }

    pub async fn update_resource(&mut self, target: &ResourceRef, changes: &ResourceChanges) -> Result<UpdateOutcome, CallError> {
        let config = self.config.clone();
        let (old_target, old_changes) = (adapt::reference_down(target), adapt::resource_changes(changes));
        call!(
            self,
            call_update_resource(&config, target, changes),
            |old| old.call_update_resource(&mut self.store, &adapt::config(&config), &old_target, &old_changes),
            adapt::update_outcome
        )
    }

    pub async fn delete_resource(&mut self, target: &ResourceRef) -> Result<DeleteOutcome, CallError> {
        let config = self.config.clone();
        let old_target = adapt::reference_down(target);
        call!(
            self,
            call_delete_resource(&config, target),
            |old| old.call_delete_resource(&mut self.store, &adapt::config(&config), &old_target),
            adapt::delete_outcome
        )
    }

    pub async fn grant_entitlement(&mut self, entitlement: &str, principal: &ResourceRef) -> Result<GrantOutcome, CallError> {
        let config = self.config.clone();
        let old_principal = adapt::reference_down(principal);
        call!(
            self,
            call_grant_entitlement(&config, entitlement, principal),
            |old| old.call_grant_entitlement(&mut self.store, &adapt::config(&config), entitlement, &old_principal),
            adapt::grant_outcome
        )
    }

    pub async fn revoke_grant(&mut self, grant: &str) -> Result<RevokeOutcome, CallError> {
        let config = self.config.clone();
        call!(
            self,
            call_revoke_grant(&config, grant),
            |old| old.call_revoke_grant(&mut self.store, &adapt::config(&config), grant),
            adapt::revoke_outcome
        )
    }

    fn settle<T>(
        &self,
        method: &'static str,
        outcome: std::result::Result<wasmtime::Result<std::result::Result<T, ConnectorError>>, Overran>,
        last_words: Option<String>,
    ) -> Result<T, CallError> {
        let denial = self.meter.denial();
        if let Some(why) = self.meter.api_failure() {
            return Err(CallError::Api(why));
        }
        if self.store.data().memory.hit {
            return Err(CallError::Limit(Refusal::new(
                format!(
                    "memory limit: the connector needed more than its {} MiB and was stopped",
                    self.store.data().memory.max_bytes / (1024 * 1024)
                ),
                Some("memory_limit_mib"),
            )));
        }
        if self.store.data().cpu.exhausted {
            return Err(CallError::Limit(Refusal::new(
                format!(
                    "CPU time limit: the connector computed for more than {} ms in one call and was stopped",
                    self.cpu_time.as_millis()
                ),
                Some("cpu_time_ms"),
            )));
        }
        if let Ok(Err(trap)) = &outcome
            && let Some(limit) = limit_hit(method, &format!("{trap:#}"), self.max_return_bytes)
        {
            return Err(CallError::Limit(Refusal::new(limit, None)));
        }
        // Whatever the API or the connector put in an error, no secret leaves through it: not into
        // a retry's log line, a warning, an error message or a file.
        let credentials = &self.store.data().hooks.credentials;
        let clean = |text: String| shorten(credentials.redact_owned(text), MAX_MESSAGE_CHARS);
        match outcome {
            // Stopped while it waited for the API: the API is what was slow.
            Err(Overran { waiting: true }) => Err(CallError::Api(format!(
                "{}: the API's answer did not complete within the call's limit of {} s (it answered too slowly or stalled); check the API's status and run again",
                self.store.data().hooks.last_request.lock().unwrap_or_else(|p| p.into_inner()).as_deref().unwrap_or("a request"),
                self.call_timeout.as_secs()
            ))),
            Err(_) => Err(CallError::TimedOut(self.call_timeout)),
            Ok(Err(trap)) => Err(match denial {
                Some(why) => CallError::Denied(Refusal { message: clean(why.message), ..why }),
                None => CallError::Trap(clean(trap_text(&trap, last_words.as_deref()))),
            }),
            Ok(Ok(Err(error))) => Err(match denial {
                Some(why) => CallError::Denied(Refusal { message: clean(why.message), ..why }),
                None => CallError::Connector(redact_connector_error(error, clean)),
            }),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }
}
