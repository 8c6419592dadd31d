//! The one engine every tenant's connector runs on: the pooling allocator for cheap instances with
//! copy-on-write memory images, and epoch interruption for CPU limits.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::{HostError, Result};

/// The most memory a tenant may give its connector, in MiB: the pool reserves this much a slot.
pub const MAX_MEMORY_LIMIT_MIB: u64 = 1024;

/// How often the epoch advances: the granularity of CPU limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sizes of the instance pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Instances alive at once, across all tenants.
    pub instances: u32,
}

impl Default for PoolSize {
    fn default() -> Self {
        Self { instances: 1024 }
    }
}

/// The engine connectors run on, with its instance slots: as many as its pool holds. A run waits
/// for a slot rather than fail when every slot is taken (100 tenants with 8 workers each, say).
/// Clones share the engine and its slots. It dereferences to the wasmtime engine it wraps.
#[derive(Clone)]
pub struct ConnectorEngine {
    engine: Engine,
    slots: Arc<Semaphore>,
}

impl ConnectorEngine {
    /// Builds the engine and starts its epoch ticker (a thread that ends with the engine).
    pub fn new(allocation: Allocation) -> Result<Self> {
        new_engine(allocation)
    }

    /// The instance slots of this engine's pool (unbounded for an engine without a pool).
    pub(crate) fn slots(&self) -> &Arc<Semaphore> {
        &self.slots
    }
}

impl std::ops::Deref for ConnectorEngine {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

/// How instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Slots reserved up front and reused: instantiation costs microseconds.
    Pooling(PoolSize),
    /// Memory mapped for each instance and unmapped after it.
    OnDemand,
}

impl Default for Allocation {
    fn default() -> Self {
        Allocation::Pooling(PoolSize::default())
    }
}

/// Builds the engine and starts its epoch ticker (a thread that ends with the engine).
pub fn new_engine(allocation: Allocation) -> Result<ConnectorEngine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if std::env::var_os("CONNECTOR_HOST_PERFMAP").is_some() {
        // For developers profiling a connector with `perf`: names the compiled functions in
        // /tmp/perf-PID.map (a component built with its name section shows its Rust names).
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let Allocation::Pooling(pool) = allocation else {
        config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
        let engine = Engine::new(&config).map_err(|e| HostError::other(format!("cannot start the WebAssembly engine: {e}")))?;
        start_ticker(&engine);
        return Ok(ConnectorEngine { engine, slots: Arc::new(Semaphore::new(Semaphore::MAX_PERMITS)) });
    };
    let mut pooling = PoolingAllocationConfig::default();
    // A connector component holds a few core instances (the connector, the WASI adapter's pieces).
    pooling
        .total_component_instances(pool.instances)
        .total_core_instances(pool.instances * 8)
        .total_memories(pool.instances * 2)
        .total_tables(pool.instances * 8)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .max_core_instances_per_component(16)
        .max_memory_size((MAX_MEMORY_LIMIT_MIB * 1024 * 1024) as usize);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    let engine = Engine::new(&config).or_else(|pooled| {
        // Some machines limit virtual memory too tightly for the pool; run without it then.
        tracing::warn!("the pooling allocator is unavailable ({pooled}); instances are allocated on demand");
        config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
        Engine::new(&config)
    });
    let engine = engine.map_err(|e| HostError::other(format!("cannot start the WebAssembly engine: {e}")))?;
    start_ticker(&engine);
    Ok(ConnectorEngine { engine, slots: Arc::new(Semaphore::new(pool.instances as usize)) })
}

fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let _ = std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
        loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        }
    });
}
