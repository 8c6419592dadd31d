//! Loading a connector component once and running it for a tenant: one engine, one compiled and
//! pre-instantiated component, and a fresh store per run.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, StoreLimitsBuilder};

use crate::bindings::CONTRACT_VERSION;
use crate::bindings::v0_2::types::{
    AccountInfo, Config as CallConfig, ConnectorError, ConnectorMetadata, DeprovisionOutcome, Entitlement,
    GrantOutcome, NewAccount, Page, ProvisionOutcome, Resource, ResourceRef, RevokeOutcome,
};
use crate::bindings::v0_2::{ConnectorWorld, ConnectorWorldPre};
use crate::error::{HostError, Result};
use crate::http::{EgressHooks, RequestMeter};
use crate::state::TenantState;
use crate::tenant::TenantConfig;

/// A compiled connector component, ready to run for any tenant.
#[derive(Clone)]
pub struct ConnectorRuntime {
    engine: Engine,
    pre: ConnectorWorldPre<TenantState>,
}

impl ConnectorRuntime {
    /// The engine configuration every connector runs under.
    pub fn engine() -> Result<Engine> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).map_err(|e| HostError::Other(format!("cannot start the WebAssembly engine: {e}")))
    }

    /// Compiles `component` (a WASI Preview 2 component of the `accessgov:connector` world).
    pub fn new(engine: &Engine, component: &[u8]) -> Result<Self> {
        let component = Component::new(engine, component).map_err(|e| {
            HostError::Usage(format!("the plugin is not a loadable WebAssembly component: {e:#}; pass a file built for wasm32-wasip2"))
        })?;
        Self::from_component(engine, &component)
    }

    pub fn from_component(engine: &Engine, component: &Component) -> Result<Self> {
        check_contract(engine, component)?;
        let mut linker = Linker::<TenantState>::new(engine);
        let link = |e: wasmtime::Error| HostError::Other(format!("cannot link the host interfaces: {e:#}"));
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link)?;
        ConnectorWorld::add_to_linker::<TenantState, HasSelf<TenantState>>(&mut linker, |state| state).map_err(link)?;
        let instance_pre = linker.instantiate_pre(component).map_err(|e| {
            HostError::Usage(format!(
                "the plugin does not fit this host: {e:#}; it must implement accessgov:connector@{CONTRACT_VERSION} and import only WASI 0.2 and wasi:http"
            ))
        })?;
        let pre = ConnectorWorldPre::new(instance_pre).map_err(|e| {
            HostError::Usage(format!(
                "the plugin does not export accessgov:connector/connector@{CONTRACT_VERSION}: {e:#}; rebuild it against this host's wit/"
            ))
        })?;
        Ok(Self { engine: engine.clone(), pre })
    }

    pub fn engine_ref(&self) -> &Engine {
        &self.engine
    }

    /// Instantiates the component in a fresh store with the tenant's policy, credentials and
    /// limits. Requests it sends are counted in `meter`.
    pub async fn open(&self, tenant: &TenantConfig, meter: Arc<RequestMeter>) -> Result<Session> {
        let hooks = EgressHooks {
            policy: Arc::new(tenant.egress_policy()?),
            credentials: Arc::new(tenant.credentials.clone()),
            meter: Arc::clone(&meter),
            timeouts: tenant.request_timeouts,
        };
        let limits = StoreLimitsBuilder::new()
            .memory_size(tenant.memory_limit_bytes)
            .instances(8)
            .tables(64)
            .memories(8)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&self.engine, TenantState::new(Arc::from(tenant.id.as_str()), hooks, limits));
        store.limiter(|state| &mut state.limits);
        let world = self.pre.instantiate_async(&mut store).await.map_err(|e| {
            HostError::Sandbox(format!("the plugin could not start for tenant {}: {e:#}", tenant.id))
        })?;
        Ok(Session {
            store,
            world,
            meter,
            call_timeout: tenant.call_timeout,
            config: CallConfig { base_url: tenant.base_url.trim_end_matches('/').to_owned(), page_size: tenant.page_size },
        })
    }
}

/// The name prefix of the connector interface a component exports, before its version.
const CONNECTOR_EXPORT: &str = "accessgov:connector/connector@";

/// Refuses, with both versions named, a component built against another contract version.
fn check_contract(engine: &Engine, component: &Component) -> Result<()> {
    let ty = component.component_type();
    let exported: Vec<&str> = ty.exports(engine).filter_map(|(name, _)| name.strip_prefix(CONNECTOR_EXPORT)).collect();
    match exported.as_slice() {
        [version] if *version == CONTRACT_VERSION => Ok(()),
        [version] => {
            let older = version_parts(version) < version_parts(CONTRACT_VERSION);
            Err(HostError::Usage(if older {
                format!(
                    "the plugin implements accessgov:connector@{version}, an older contract than this host's @{CONTRACT_VERSION}; rebuild the plugin against this host's wit/ (or run a connector-host of its version)"
                )
            } else {
                format!(
                    "the plugin implements accessgov:connector@{version}, newer than this host's @{CONTRACT_VERSION}; upgrade connector-host"
                )
            }))
        }
        _ => Err(HostError::Usage(format!(
            "the plugin exports no accessgov:connector/connector interface; it is not an access connector (this host runs @{CONTRACT_VERSION})"
        ))),
    }
}

fn version_parts(version: &str) -> Vec<u64> {
    version.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
}

/// Why a call into the plugin did not return a value.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The connector answered with an error.
    Connector(ConnectorError),
    /// The egress policy refused a request the call made.
    Denied(String),
    /// The plugin trapped: a bug, or a sandbox limit.
    Trap(String),
    /// The call ran past the per-call time limit.
    TimedOut(Duration),
}

/// One running instance of a connector, for one tenant.
pub struct Session {
    store: Store<TenantState>,
    world: ConnectorWorld,
    meter: Arc<RequestMeter>,
    call_timeout: Duration,
    config: CallConfig,
}

macro_rules! call {
    ($self:ident, $method:ident $(, $arg:expr)*) => {{
        let exports = $self.world.accessgov_connector_connector();
        let future = exports.$method(&mut $self.store $(, $arg)*);
        let outcome = tokio::time::timeout($self.call_timeout, future).await;
        $self.settle(outcome)
    }};
}

impl Session {
    pub fn meter(&self) -> &Arc<RequestMeter> {
        &self.meter
    }

    pub async fn metadata(&mut self) -> Result<ConnectorMetadata, CallError> {
        let exports = self.world.accessgov_connector_connector();
        let outcome = tokio::time::timeout(self.call_timeout, exports.call_metadata(&mut self.store)).await;
        self.settle(outcome.map(|r| r.map(Ok)))
    }

    pub async fn validate(&mut self) -> Result<AccountInfo, CallError> {
        let config = self.config.clone();
        call!(self, call_validate, &config)
    }

    pub async fn list_resources(&mut self, resource_type: &str, token: Option<&str>) -> Result<Page, CallError> {
        let config = self.config.clone();
        let token = token.map(str::to_owned);
        call!(self, call_list_resources, &config, resource_type, token.as_deref())
    }

    pub async fn list_entitlements(
        &mut self,
        resource: &Resource,
        related: &[Resource],
    ) -> Result<Vec<Entitlement>, CallError> {
        let config = self.config.clone();
        call!(self, call_list_entitlements, &config, resource, related)
    }

    pub async fn list_grants(&mut self, resource: &Resource, token: Option<&str>) -> Result<Page, CallError> {
        let config = self.config.clone();
        let token = token.map(str::to_owned);
        call!(self, call_list_grants, &config, resource, token.as_deref())
    }

    pub async fn provision_account(&mut self, account: &NewAccount) -> Result<ProvisionOutcome, CallError> {
        let config = self.config.clone();
        call!(self, call_provision_account, &config, account)
    }

    pub async fn deprovision_account(&mut self, user_id: &str) -> Result<DeprovisionOutcome, CallError> {
        let config = self.config.clone();
        call!(self, call_deprovision_account, &config, user_id)
    }

    pub async fn grant_entitlement(&mut self, entitlement: &str, principal: &ResourceRef) -> Result<GrantOutcome, CallError> {
        let config = self.config.clone();
        call!(self, call_grant_entitlement, &config, entitlement, principal)
    }

    pub async fn revoke_grant(&mut self, grant: &str) -> Result<RevokeOutcome, CallError> {
        let config = self.config.clone();
        call!(self, call_revoke_grant, &config, grant)
    }

    fn settle<T>(
        &self,
        outcome: std::result::Result<wasmtime::Result<std::result::Result<T, ConnectorError>>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        let denial = self.meter.denial();
        match outcome {
            Err(_) => Err(CallError::TimedOut(self.call_timeout)),
            Ok(Err(trap)) => Err(match denial {
                Some(why) => CallError::Denied(why),
                None => CallError::Trap(format!("{trap:#}")),
            }),
            Ok(Ok(Err(error))) => Err(match denial {
                Some(why) => CallError::Denied(why),
                None => CallError::Connector(error),
            }),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }
}
