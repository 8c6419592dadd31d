//! Loading a connector component once and running it for a tenant: one engine, one compiled and
//! pre-instantiated component, and a fresh store per run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use crate::engine::ConnectorEngine;

use crate::bindings::latest::types::{Config as CallConfig, ConnectorMetadata};
use crate::bindings::latest::{ConnectorWorld, ConnectorWorldPre};
use crate::bindings::{CONTRACT_VERSION, OLDER_VERSIONS};
use crate::credentials::Credentials;
use crate::declared::{Declared, check_metadata};
use crate::egress::EgressPolicy;
use crate::error::{HostError, Result};
use crate::http::{EgressHooks, RateLimitHeaders, RequestMeter, RequestTimeouts, TrafficLimits};
use crate::session::{Session, World};
use crate::state::TenantState;
use crate::tenant::TenantConfig;
use crate::upstream::Upstream;

/// A component pre-instantiated for the contract version it implements.
#[derive(Clone)]
enum Pre {
    Latest(ConnectorWorldPre<TenantState>),
    V0_4(crate::bindings::v0_4::ConnectorWorldPre<TenantState>),
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
    engine: ConnectorEngine,
    pre: Pre,
    upstream: Option<Arc<dyn Upstream>>,
    /// What the component declares, asked once, and what sessions derive from it.
    declared: Arc<tokio::sync::OnceCell<Declared>>,
}

impl ConnectorRuntime {
    /// The engine every connector runs on (see [`crate::engine`]), with a default pool.
    pub fn engine() -> Result<ConnectorEngine> {
        crate::engine::new_engine(crate::engine::Allocation::default())
    }

    /// Compiles `component` (a WASI Preview 2 component of the `accessgov:connector` world).
    pub fn new(engine: &ConnectorEngine, component: &[u8]) -> Result<Self> {
        Self::from_component(engine, &crate::cache::compile(engine, component)?)
    }

    /// Like [`Self::new`], through an on-disk cache of compiled components.
    pub fn load(engine: &ConnectorEngine, component: &[u8], cache: Option<&crate::cache::ComponentCache>) -> Result<Self> {
        match cache {
            Some(cache) => {
                let (compiled, hit) = cache.load(engine, component)?;
                tracing::debug!(cached = hit, "loaded the component");
                Self::from_component(engine, &compiled)
            }
            None => Self::new(engine, component),
        }
    }

    pub fn from_component(engine: &ConnectorEngine, component: &Component) -> Result<Self> {
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
                "the connector does not fit this host: {e:#}; it must implement accessgov:connector@{CONTRACT_VERSION} and import only WASI 0.2 and wasi:http"
            ))
        })?;
        let not_exported = |e: wasmtime::Error| {
            HostError::usage(format!(
                "the connector does not export the connector interface it names: {e:#}; rebuild it against this host's wit/"
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

    pub fn engine_ref(&self) -> &ConnectorEngine {
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
        let mut session = self.instantiate(Opening::describing(), Arc::new(RequestMeter::default()), 1, None).await?;
        let metadata =
            session.metadata().await.map_err(|e| HostError::usage(format!("the connector did not describe itself: {}", e.text())))?;
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
        self.instantiate(Opening::for_tenant(tenant)?, meter, page_size, declared.rate_limit.clone()).await
    }

    async fn instantiate(
        &self,
        opening: Opening,
        meter: Arc<RequestMeter>,
        page_size: u32,
        rate_limit: Option<Arc<RateLimitHeaders>>,
    ) -> Result<Session> {
        let slot = Arc::clone(self.engine.slots()).acquire_owned().await.map_err(|_| HostError::other("the instance pool is closed"))?;
        let Opening { tenant, policy, credentials, base_url, timeouts, traffic, call_timeout, cpu_time, memory_bytes, max_return_bytes } =
            opening;
        let hooks = EgressHooks {
            tenant: Arc::clone(&tenant),
            policy: Arc::new(policy),
            credentials: Arc::new(credentials),
            meter: Arc::clone(&meter),
            timeouts,
            limits: traffic,
            upstream: self.upstream.clone(),
            max_wait: call_timeout / 2,
            last_request: Arc::default(),
            rate_limit,
        };
        let cpu_ticks = (cpu_time.as_millis() / crate::engine::EPOCH_TICK.as_millis()).max(1) as u64;
        let mut store = Store::new(&self.engine, TenantState::new(Arc::clone(&tenant), hooks, memory_bytes, cpu_ticks));
        store.limiter(|state| &mut state.memory);
        // Each tick the connector's code runs past costs one tick of its CPU budget; it yields to
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
        // Time the connector spends waiting in the host (for the API, mostly) is not its CPU time:
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
        // What the connector hands the host in one go (a call's answer, a log message) is counted
        // as wasmtime copies it, before the host allocates it: a page of empty records costs
        // little in the connector's memory and three times as much as host values.
        store.set_hostcall_fuel(max_return_bytes);
        // Host state the connector creates (header maps, body buffers, streams) lives outside its
        // memory limit; bounding its handles bounds that state.
        store.set_max_component_handles(crate::state::MAX_HANDLES);
        let world = match &self.pre {
            Pre::Latest(pre) => pre.instantiate_async(&mut store).await.map(World::Latest),
            Pre::V0_4(pre) => pre.instantiate_async(&mut store).await.map(World::V0_4),
        }
        .map_err(|e| {
            let first = format!("{e:#}");
            HostError::sandbox(format!(
                "the connector could not start for {}: {}",
                opening_for(&tenant),
                first.lines().next().unwrap_or("instantiation failed")
            ))
        })?;
        Ok(Session {
            _slot: slot,
            waiting,
            store,
            world,
            meter,
            call_timeout,
            cpu_time,
            max_return_bytes,
            config: CallConfig { base_url, page_size },
        })
    }
}

/// What a session is opened with: whom it runs for, where it may send requests and with which
/// credentials, and the limits it runs under.
struct Opening {
    /// The tenant's id; empty for a session that describes the connector.
    tenant: Arc<str>,
    policy: EgressPolicy,
    credentials: Credentials,
    base_url: String,
    timeouts: RequestTimeouts,
    traffic: TrafficLimits,
    call_timeout: Duration,
    cpu_time: Duration,
    memory_bytes: usize,
    max_return_bytes: usize,
}

impl Opening {
    /// A session for `tenant`: its origin, credentials and limits.
    fn for_tenant(tenant: &TenantConfig) -> Result<Self> {
        Ok(Self {
            tenant: Arc::from(tenant.id.as_str()),
            policy: tenant.egress_policy()?,
            credentials: tenant.credentials.clone(),
            base_url: tenant.base_url.trim_end_matches('/').to_owned(),
            timeouts: tenant.request_timeouts,
            traffic: TrafficLimits {
                max_open_exchanges: tenant.traffic.max_open_exchanges.max(tenant.max_concurrency),
                max_response_bytes: tenant.max_response_bytes(),
                ..tenant.traffic
            },
            call_timeout: tenant.call_timeout,
            cpu_time: tenant.cpu_time_per_call,
            memory_bytes: tenant.memory_limit_bytes,
            max_return_bytes: tenant.max_return_bytes,
        })
    }

    /// A session that only asks the connector to describe itself: for no tenant, with no
    /// credentials, under a policy that lets no request out, and the default limits.
    fn describing() -> Self {
        use crate::tenant::{DEFAULT_CALL_TIMEOUT, DEFAULT_CPU_TIME_PER_CALL, DEFAULT_MAX_RETURN_BYTES, DEFAULT_MEMORY_LIMIT_MIB};
        Self {
            tenant: Arc::from(""),
            policy: EgressPolicy::none(),
            credentials: Credentials::none(),
            base_url: String::new(),
            timeouts: RequestTimeouts::default(),
            traffic: TrafficLimits { max_requests: 0, ..TrafficLimits::default() },
            call_timeout: DEFAULT_CALL_TIMEOUT,
            cpu_time: DEFAULT_CPU_TIME_PER_CALL,
            memory_bytes: (DEFAULT_MEMORY_LIMIT_MIB * 1024 * 1024) as usize,
            max_return_bytes: DEFAULT_MAX_RETURN_BYTES,
        }
    }
}

/// Whom a session runs for, in a message.
fn opening_for(tenant: &str) -> String {
    if tenant.is_empty() { "describing itself".to_owned() } else { format!("tenant {tenant}") }
}

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
                    "the connector implements accessgov:connector@{version}, an older contract than this host runs ({runs}); rebuild the connector against this host's wit/ (or run a connector-host of its version)"
                )
            } else {
                format!(
                    "the connector implements accessgov:connector@{version}, newer than this host's @{CONTRACT_VERSION}; upgrade connector-host"
                )
            }))
        }
        _ => Err(HostError::usage(format!(
            "the connector exports no accessgov:connector/connector interface; it is not an access connector (this host runs @{CONTRACT_VERSION})"
        ))),
    }
}

fn version_parts(version: &str) -> Vec<u64> {
    version.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
}
