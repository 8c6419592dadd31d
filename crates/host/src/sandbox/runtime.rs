//! Loading a connector component once and running it for a tenant: one engine, one compiled and
//! pre-instantiated component, and a fresh store per run.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use crate::bindings::latest::types::{
    AccountChanges, AccountInfo, ActivationOutcome, AuthScheme, Config as CallConfig, ConnectorError, ConnectorMetadata, CreateOutcome,
    DeleteOutcome, Entitlement, GrantOutcome, NewAccount, NewResource, Page, RateLimit, Resource, ResourceChanges, ResourceRef,
    RevokeOutcome, UpdateOutcome, UpstreamError,
};
use crate::bindings::latest::{ConnectorWorld, ConnectorWorldPre};
use crate::bindings::{CONTRACT_VERSION, OLDER_VERSIONS};
use crate::contract::v0_4 as adapt;
use crate::error::{HostError, Refusal, Result};
use crate::http::{EgressHooks, RateLimitHeaders, RequestMeter, TrafficLimits};
use crate::state::TenantState;
use crate::tenant::TenantConfig;
use crate::upstream::Upstream;

/// A component pre-instantiated for the contract version it implements.
#[derive(Clone)]
enum Pre {
    Latest(ConnectorWorldPre<TenantState>),
    V0_4(crate::bindings::v0_4::ConnectorWorldPre<TenantState>),
}

/// An instance of a component, of the version it implements.
enum World {
    Latest(ConnectorWorld),
    V0_4(crate::bindings::v0_4::ConnectorWorld),
}

/// The contract versions a component may implement here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Latest,
    V0_4,
}

/// A compiled connector component, ready to run for any tenant.
#[derive(Clone)]
pub struct ConnectorRuntime {
    engine: Engine,
    pre: Pre,
    upstream: Option<Arc<dyn Upstream>>,
    /// What the component declares, asked once, and what sessions derive from it.
    declared: Arc<tokio::sync::OnceCell<Declared>>,
}

impl ConnectorRuntime {
    /// The engine every connector runs on (see [`crate::engine`]), with a default pool.
    pub fn engine() -> Result<Engine> {
        crate::engine::new_engine(crate::engine::Allocation::default())
    }

    /// Compiles `component` (a WASI Preview 2 component of the `accessgov:connector` world).
    pub fn new(engine: &Engine, component: &[u8]) -> Result<Self> {
        Self::from_component(engine, &crate::cache::compile(engine, component)?)
    }

    /// Like [`Self::new`], through an on-disk cache of compiled components.
    pub fn load(engine: &Engine, component: &[u8], cache: Option<&crate::cache::ComponentCache>) -> Result<Self> {
        match cache {
            Some(cache) => {
                let (compiled, hit) = cache.load(engine, component)?;
                tracing::debug!(cached = hit, "loaded the component");
                Self::from_component(engine, &compiled)
            }
            None => Self::new(engine, component),
        }
    }

    pub fn from_component(engine: &Engine, component: &Component) -> Result<Self> {
        let version = check_contract(engine, component)?;
        let mut linker = Linker::<TenantState>::new(engine);
        let link = |e: wasmtime::Error| HostError::other(format!("cannot link the host interfaces: {e:#}"));
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link)?;
        match version {
            Version::Latest => ConnectorWorld::add_to_linker::<TenantState, HasSelf<TenantState>>(&mut linker, |state| state),
            Version::V0_4 => {
                crate::bindings::v0_4::ConnectorWorld::add_to_linker::<TenantState, HasSelf<TenantState>>(&mut linker, |state| state)
            }
        }
        .map_err(link)?;
        let instance_pre = linker.instantiate_pre(component).map_err(|e| {
            HostError::usage(format!(
                "the plugin does not fit this host: {e:#}; it must implement accessgov:connector@{CONTRACT_VERSION} and import only WASI 0.2 and wasi:http"
            ))
        })?;
        let not_exported = |e: wasmtime::Error| {
            HostError::usage(format!(
                "the plugin does not export the connector interface it names: {e:#}; rebuild it against this host's wit/"
            ))
        };
        let pre = match version {
            Version::Latest => Pre::Latest(ConnectorWorldPre::new(instance_pre).map_err(not_exported)?),
            Version::V0_4 => Pre::V0_4(crate::bindings::v0_4::ConnectorWorldPre::new(instance_pre).map_err(not_exported)?),
        };
        Ok(Self { engine: engine.clone(), pre, upstream: None, declared: Arc::default() })
    }

    /// Sends every request of this runtime's sessions to `upstream` instead of connecting to
    /// the API; the egress policy's origin check, the credentials and the limits still apply
    /// (see [`crate::upstream`]).
    pub fn with_upstream(mut self, upstream: Arc<dyn Upstream>) -> Self {
        self.upstream = Some(upstream);
        self
    }

    pub fn engine_ref(&self) -> &Engine {
        &self.engine
    }

    /// What the component declares: its name, resource types, credentials and how they are
    /// applied, default base URL, rate-limit headers and largest page. Asked once, in an instance
    /// that may send no request, and checked.
    pub async fn metadata(&self) -> Result<ConnectorMetadata> {
        Ok(self.declared().await?.metadata.clone())
    }

    async fn declared(&self) -> Result<&Declared> {
        self.declared.get_or_try_init(|| self.describe()).await
    }

    async fn describe(&self) -> Result<Declared> {
        let mut nowhere = TenantConfig::new("connector", "https://metadata.invalid", crate::Credentials::none());
        nowhere.traffic.max_requests = 1;
        let mut session = self.instantiate(&nowhere, Arc::new(RequestMeter::default()), 1, None).await?;
        let metadata =
            session.metadata().await.map_err(|e| HostError::usage(format!("the plugin did not describe itself: {}", e.text())))?;
        check_metadata(&metadata)?;
        let rate_limit = metadata.rate_limit.as_ref().map(|headers| {
            Arc::new(RateLimitHeaders {
                limit: headers.limit.to_ascii_lowercase(),
                remaining: headers.remaining.to_ascii_lowercase(),
                window: Duration::from_secs(u64::from(headers.window_seconds.max(1))),
            })
        });
        Ok(Declared { metadata, rate_limit })
    }

    /// Instantiates the component in a fresh store with the tenant's policy, credentials and
    /// limits. Requests it sends are counted in `meter`.
    pub async fn open(&self, tenant: &TenantConfig, meter: Arc<RequestMeter>) -> Result<Session> {
        let declared = self.declared().await?;
        let largest = declared.metadata.max_page_size.max(1);
        let page_size = tenant.page_size.unwrap_or(largest).clamp(1, largest);
        self.instantiate(tenant, meter, page_size, declared.rate_limit.clone()).await
    }

    async fn instantiate(
        &self,
        tenant: &TenantConfig,
        meter: Arc<RequestMeter>,
        page_size: u32,
        rate_limit: Option<Arc<RateLimitHeaders>>,
    ) -> Result<Session> {
        let slots = crate::engine::instance_slots(&self.engine);
        let slot = slots.acquire_owned().await.map_err(|_| HostError::other("the instance pool is closed"))?;
        let hooks = EgressHooks {
            tenant: Arc::from(tenant.id.as_str()),
            policy: Arc::new(tenant.egress_policy()?),
            credentials: Arc::new(tenant.credentials.clone()),
            meter: Arc::clone(&meter),
            timeouts: tenant.request_timeouts,
            limits: TrafficLimits {
                max_open_exchanges: tenant.traffic.max_open_exchanges.max(tenant.max_concurrency),
                max_response_bytes: tenant.max_response_bytes(),
                ..tenant.traffic
            },
            upstream: self.upstream.clone(),
            max_wait: tenant.call_timeout / 2,
            last_request: Arc::default(),
            rate_limit,
        };
        let cpu_ticks = (tenant.cpu_time_per_call.as_millis() / crate::engine::EPOCH_TICK.as_millis()).max(1) as u64;
        let mut store =
            Store::new(&self.engine, TenantState::new(Arc::from(tenant.id.as_str()), hooks, tenant.memory_limit_bytes, cpu_ticks));
        store.limiter(|state| &mut state.memory);
        // Each tick the plugin's code runs past costs one tick of its CPU budget; it yields to
        // the other tenants' work every tick, and traps when the budget is spent.
        store.epoch_deadline_callback(|mut context| {
            let cpu = &mut context.data_mut().cpu;
            cpu.used += 1;
            if cpu.used > cpu.allowed {
                cpu.exhausted = true;
                return Ok(wasmtime::UpdateDeadline::Interrupt);
            }
            Ok(wasmtime::UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);
        // Time the plugin spends waiting in the host (for the API, mostly) is not its CPU time:
        // when a host call returns, the deadline starts afresh. Left as it was, a wait across a
        // tick would be charged as a tick, and a call of 1,000 requests as 10 s of CPU.
        let waiting = Arc::new(AtomicBool::new(false));
        let in_host = Arc::clone(&waiting);
        store.call_hook(move |mut context, hook| {
            match hook {
                wasmtime::CallHook::CallingHost => in_host.store(true, Ordering::Relaxed),
                wasmtime::CallHook::ReturningFromHost => {
                    in_host.store(false, Ordering::Relaxed);
                    context.set_epoch_deadline(1);
                }
                wasmtime::CallHook::CallingWasm | wasmtime::CallHook::ReturningFromWasm => {}
            }
            Ok(())
        });
        // What the plugin hands the host in one go (a call's answer, a log message) is counted
        // as wasmtime copies it, before the host allocates it: a page of empty records costs
        // little in the plugin's memory and three times as much as host values.
        store.set_hostcall_fuel(tenant.max_return_bytes);
        // Host state the plugin creates (header maps, body buffers, streams) lives outside its
        // memory limit; bounding its handles bounds that state.
        store.set_max_component_handles(MAX_HANDLES);
        let world = match &self.pre {
            Pre::Latest(pre) => pre.instantiate_async(&mut store).await.map(World::Latest),
            Pre::V0_4(pre) => pre.instantiate_async(&mut store).await.map(World::V0_4),
        }
        .map_err(|e| {
            let first = format!("{e:#}");
            HostError::sandbox(format!(
                "the plugin could not start for tenant {}: {}",
                tenant.id,
                first.lines().next().unwrap_or("instantiation failed")
            ))
        })?;
        Ok(Session {
            _slot: slot,
            waiting,
            store,
            world,
            meter,
            call_timeout: tenant.call_timeout,
            cpu_time: tenant.cpu_time_per_call,
            max_return_bytes: tenant.max_return_bytes,
            config: CallConfig { base_url: tenant.base_url.trim_end_matches('/').to_owned(), page_size },
        })
    }
}

/// What a component declares, and the rate-limit headers its sessions pace by, derived once.
struct Declared {
    metadata: ConnectorMetadata,
    rate_limit: Option<Arc<RateLimitHeaders>>,
}

/// Refuses metadata the host cannot act on, naming what is wrong: credentials without a name, an
/// auth scheme naming a credential not declared, an invalid base URL or header name, a page of 0.
fn check_metadata(metadata: &ConnectorMetadata) -> Result<()> {
    let bad = |why: String| HostError::usage(format!("the plugin {:?} declares {why}; the plugin is faulty", metadata.name));
    let names: Vec<&str> = metadata.credentials.iter().map(|c| c.name.as_str()).collect();
    for name in &names {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(bad(format!("a credential named {name:?} (names are lower-case letters, digits and '_')")));
        }
    }
    let used: Vec<&str> = match &metadata.auth {
        AuthScheme::Basic(basic) => vec![&basic.user, &basic.password],
        AuthScheme::Bearer(name) => vec![name],
        AuthScheme::Header(header) => {
            if http::header::HeaderName::try_from(header.name.as_str()).is_err() {
                return Err(bad(format!("an auth header named {:?}", header.name)));
            }
            vec![&header.credential]
        }
    };
    if !names.is_empty()
        && let Some(missing) = used.iter().find(|name| !names.contains(name))
    {
        return Err(bad(format!("an auth scheme using the credential {missing:?}, which it does not declare")));
    }
    if let Some(url) = &metadata.default_base_url {
        crate::egress::Origin::from_base_url(url).map_err(|_| bad(format!("the default base URL {url:?}, which is not one")))?;
    }
    if metadata.max_page_size == 0 {
        return Err(bad("a largest page of 0 items".into()));
    }
    Ok(())
}

/// Handles (requests, header maps, bodies, streams, futures) one instance may hold at once. The
/// connectors of this workspace need under 24; a burst of 64 requests at once fits. Each header map holds at
/// most [`crate::http::FIELD_SIZE_LIMIT`] bytes and each request body buffers at most two
/// [`crate::http::BODY_CHUNK`]s, so the host state a plugin can pile up is bounded too.
pub const MAX_HANDLES: usize = 256;

/// The name prefix of the connector interface a component exports, before its version.
const CONNECTOR_EXPORT: &str = "accessgov:connector/connector@";

/// The contract version a component implements: this host's, or an older one it adapts; else
/// refused, with the versions named.
fn check_contract(engine: &Engine, component: &Component) -> Result<Version> {
    let ty = component.component_type();
    let exported: Vec<&str> = ty.exports(engine).filter_map(|(name, _)| name.strip_prefix(CONNECTOR_EXPORT)).collect();
    match exported.as_slice() {
        [version] if *version == CONTRACT_VERSION => Ok(Version::Latest),
        [version] if *version == "0.4.0" => Ok(Version::V0_4),
        [version] => {
            let older = version_parts(version) < version_parts(CONTRACT_VERSION);
            let runs = std::iter::once(CONTRACT_VERSION)
                .chain(OLDER_VERSIONS.iter().copied())
                .map(|v| format!("@{v}"))
                .collect::<Vec<_>>()
                .join(", ");
            Err(HostError::usage(if older {
                format!(
                    "the plugin implements accessgov:connector@{version}, an older contract than this host runs ({runs}); rebuild the plugin against this host's wit/ (or run a connector-host of its version)"
                )
            } else {
                format!(
                    "the plugin implements accessgov:connector@{version}, newer than this host's @{CONTRACT_VERSION}; upgrade connector-host"
                )
            }))
        }
        _ => Err(HostError::usage(format!(
            "the plugin exports no accessgov:connector/connector interface; it is not an access connector (this host runs @{CONTRACT_VERSION})"
        ))),
    }
}

fn version_parts(version: &str) -> Vec<u64> {
    version.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
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

impl CallError {
    /// What went wrong, in words, for a message that has no tenant to word it for.
    pub fn text(&self) -> String {
        match self {
            CallError::Connector(error) => format!("the connector answered {error:?}"),
            CallError::Denied(refusal) | CallError::Limit(refusal) => refusal.message.clone(),
            CallError::Trap(trap) => format!("it crashed: {trap}"),
            CallError::TimedOut(limit) => format!("it ran longer than {} s", limit.as_secs()),
            CallError::Api(why) => why.clone(),
        }
    }
}

/// Why a call into the plugin did not return a value.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The connector answered with an error.
    Connector(ConnectorError),
    /// The egress policy refused a request the call made.
    Denied(Refusal),
    /// The plugin trapped: a bug, or a sandbox limit.
    Trap(String),
    /// The call ran past the per-call time limit.
    TimedOut(Duration),
    /// The plugin hit a sandbox limit (CPU time, returned size).
    Limit(Refusal),
    /// The API answered in a way no retry mends, as the host saw it: an answer that did not
    /// complete in the call's time, a rate limit no call can wait for.
    Api(String),
}

/// One running instance of a connector, for one tenant.
pub struct Session {
    /// Its place in the instance pool, given back when the session ends.
    _slot: tokio::sync::OwnedSemaphorePermit,
    /// Whether the plugin is inside a host call right now (set by the store's call hook).
    waiting: Arc<AtomicBool>,
    store: Store<TenantState>,
    world: World,
    meter: Arc<RequestMeter>,
    call_timeout: Duration,
    cpu_time: Duration,
    /// The store's hostcall fuel, kept for the error that names it.
    max_return_bytes: usize,
    config: CallConfig,
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

    /// The sandbox limit a trap's text says wasmtime enforced, in words, if it is one. Their
    /// error types are private; the sandbox tests fail if the wording changes.
    fn limit_hit(&self, method: &'static str, trap: &str) -> Option<String> {
        let call = wit_name(method);
        if trap.contains("fuel allocated for hostcalls has been exhausted") {
            Some(format!(
                "return size limit: {call} handed the host more than {} at once (its answer, or a message it logged), and was stopped before the host copied it; the plugin misbehaves or pages too large",
                bytes(self.max_return_bytes)
            ))
        } else if trap.contains("store handle limit exceeded") {
            Some(format!(
                "handle limit: {call} held more than {MAX_HANDLES} host resources at once (requests, header maps, bodies, streams) and was stopped; the plugin leaks them"
            ))
        } else if trap.contains("requested len") && trap.contains("exceeds limit") {
            Some(format!(
                "random bytes limit: {call} asked the host for more than {} of random bytes at once and was stopped; the plugin misbehaves",
                bytes(crate::state::MAX_RANDOM_BYTES as usize)
            ))
        } else if trap.contains("total size of fields exceeds limit") {
            Some(format!(
                "header size limit: {call} built request headers of more than {} and was stopped; the plugin misbehaves",
                bytes(crate::http::FIELD_SIZE_LIMIT)
            ))
        } else {
            None
        }
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
                    "memory limit: the plugin needed more than its {} MiB and was stopped",
                    self.store.data().memory.max_bytes / (1024 * 1024)
                ),
                Some("memory_limit_mib"),
            )));
        }
        if self.store.data().cpu.exhausted {
            return Err(CallError::Limit(Refusal::new(
                format!("CPU time limit: the plugin computed for more than {} ms in one call and was stopped", self.cpu_time.as_millis()),
                Some("cpu_time_ms"),
            )));
        }
        if let Ok(Err(trap)) = &outcome
            && let Some(limit) = self.limit_hit(method, &format!("{trap:#}"))
        {
            return Err(CallError::Limit(Refusal::new(limit, None)));
        }
        // Whatever the API or the plugin put in an error, no secret leaves through it: not into
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

/// A trap in one line: what stopped the plugin (wasmtime's first line is only "error while
/// executing at wasm backtrace:"), and the last lines it wrote to stderr, where a Rust plugin's
/// panic is.
fn trap_text(trap: &wasmtime::Error, last_words: Option<&str>) -> String {
    let cause = trap.root_cause().to_string();
    let cause = cause.lines().next().unwrap_or("trap");
    match last_words {
        Some(words) => format!("{cause}; its last words on stderr: {words}"),
        None => cause.to_owned(),
    }
}

/// The most characters of a message a connector returns that an error quotes. Cut only after
/// redaction: a cut through an echoed credential would leave a part no redaction recognises.
const MAX_MESSAGE_CHARS: usize = 1000;

fn shorten(text: String, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The WIT name of a bindings method, `call_list_resources` -> `list-resources`, for errors.
fn wit_name(method: &'static str) -> String {
    method.trim_start_matches("call_").replace('_', "-")
}

/// `n` bytes for a person: whole MiB and KiB as such.
fn bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    if n > 0 && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n > 0 && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// `error` with `clean` applied to every text it carries.
fn redact_connector_error(error: ConnectorError, clean: impl Fn(String) -> String) -> ConnectorError {
    match error {
        ConnectorError::Unauthorized(m) => ConnectorError::Unauthorized(clean(m)),
        ConnectorError::Forbidden(m) => ConnectorError::Forbidden(clean(m)),
        ConnectorError::NotFound(m) => ConnectorError::NotFound(clean(m)),
        ConnectorError::RateLimited(limit) => ConnectorError::RateLimited(RateLimit { message: clean(limit.message), ..limit }),
        ConnectorError::InvalidArgument(m) => ConnectorError::InvalidArgument(clean(m)),
        ConnectorError::Conflict(m) => ConnectorError::Conflict(clean(m)),
        ConnectorError::Upstream(upstream) => {
            ConnectorError::Upstream(UpstreamError { code: upstream.code.map(&clean), message: clean(upstream.message), ..upstream })
        }
        ConnectorError::Unsupported(m) => ConnectorError::Unsupported(clean(m)),
        ConnectorError::Internal(m) => ConnectorError::Internal(clean(m)),
    }
}
