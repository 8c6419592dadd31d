//! What one tenant's store holds: a WASI context with no capabilities but clocks and random,
//! the HTTP egress hooks, and the limits.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::latest::accessgov::connector::log;
use crate::guest_output::CappedOutput;
use crate::http::EgressHooks;

/// The longest log message a connector may write; the rest is cut off.
const MAX_LOG_MESSAGE: usize = 4096;
/// Bytes of `log` messages one instance may write, as for stdout and stderr; past it they are
/// dropped and counted, so a connector cannot flood the host's log.
const MAX_LOG_BYTES: usize = 64 * 1024;

/// What an instance has written to the log, and what it dropped since the last report.
#[derive(Debug, Default)]
struct LogBudget {
    written: usize,
    dropped: u64,
}

impl LogBudget {
    /// Whether a message of `len` bytes may still be written; counts it either way.
    fn admit(&mut self, len: usize) -> bool {
        if self.written.saturating_add(len) > MAX_LOG_BYTES {
            self.dropped += 1;
            return false;
        }
        self.written += len;
        true
    }
}

/// CPU time of the current call, in epoch ticks.
#[derive(Debug, Default)]
pub(crate) struct CpuBudget {
    pub used: u64,
    pub allowed: u64,
    pub exhausted: bool,
}

impl CpuBudget {
    pub fn reset(&mut self) {
        self.used = 0;
        self.exhausted = false;
    }
}

/// The connector's memory limit; remembers being hit, so the error can name it.
#[derive(Debug)]
pub(crate) struct MemoryLimit {
    pub max_bytes: usize,
    pub hit: bool,
}

/// Entries a table may grow to: far more than any connector needs.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            wasmtime::bail!("memory limit of {} bytes reached", self.max_bytes);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Random bytes the connector may ask for in one call (wasmtime's default, 64 MiB, is allocated by
/// the host before the connector's memory limit can refuse it).
pub const MAX_RANDOM_BYTES: u64 = 64 * 1024;

pub(crate) struct TenantState {
    pub tenant: Arc<str>,
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub http: WasiHttpCtx,
    pub hooks: EgressHooks,
    pub memory: MemoryLimit,
    pub cpu: CpuBudget,
    outputs: [CappedOutput; 2],
    log: LogBudget,
}

impl TenantState {
    pub fn new(tenant: Arc<str>, hooks: EgressHooks, memory_bytes: usize, cpu_ticks: u64) -> Self {
        let stdout = CappedOutput::new("stdout");
        let stderr = CappedOutput::new("stderr");
        // No files, no environment, no arguments, no sockets, no stdin; stdout and stderr go to
        // the host's log.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(MAX_RANDOM_BYTES)
            .build();
        Self {
            tenant,
            wasi,
            table: ResourceTable::new(),
            http: {
                let mut http = WasiHttpCtx::new();
                http.set_field_size_limit(crate::http::FIELD_SIZE_LIMIT);
                http
            },
            hooks,
            memory: MemoryLimit { max_bytes: memory_bytes, hit: false },
            cpu: CpuBudget { allowed: cpu_ticks, ..CpuBudget::default() },
            outputs: [stdout, stderr],
            log: LogBudget::default(),
        }
    }

    /// Logs what the connector wrote to stdout and stderr since the last call, tagged with the
    /// tenant; returns the last lines it wrote to stderr (where a Rust connector's panic goes).
    pub fn flush_output(&mut self) -> Option<String> {
        if self.log.dropped > 0 {
            let dropped = std::mem::take(&mut self.log.dropped);
            tracing::warn!(target: "connector_host::connector", tenant = &*self.tenant, "dropped {dropped} log messages of the connector: past its {MAX_LOG_BYTES}-byte limit");
        }
        let [stdout, stderr] = &self.outputs;
        let redact = |text: &str| self.hooks.credentials.redact(text);
        stdout.drain_to_log(&self.tenant, redact);
        stderr.drain_to_log(&self.tenant, redact)
    }
}

impl WasiView for TenantState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for TenantState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl log::Host for TenantState {
    fn write(&mut self, level: log::Level, message: String) {
        // A warning (a field the API sent null, say) is said once a run, not once a page; one
        // said already costs nothing. Only the first MAX_LOG_MESSAGE bytes count as the message.
        let mut message = message;
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        if level == log::Level::Warn && !self.hooks.meter.first_time(&message) {
            return;
        }
        if !self.log.admit(message.len()) {
            return;
        }
        let message = self.hooks.credentials.redact(&message);
        let message = crate::text::escape_controls(&message);
        let tenant = &*self.tenant;
        match level {
            log::Level::Debug => tracing::debug!(target: "connector_host::connector", tenant, "{message}"),
            log::Level::Info => tracing::info!(target: "connector_host::connector", tenant, "{message}"),
            log::Level::Warn => tracing::warn!(target: "connector_host::connector", tenant, "{message}"),
            log::Level::Error => tracing::error!(target: "connector_host::connector", tenant, "{message}"),
        }
    }
}

impl crate::bindings::latest::accessgov::connector::types::Host for TenantState {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_budget_admits_up_to_its_bytes_then_counts_what_it_drops() {
        let mut budget = LogBudget::default();
        assert!(budget.admit(MAX_LOG_BYTES - 10));
        assert!(budget.admit(10), "up to the budget exactly");
        assert!(!budget.admit(1));
        assert!(!budget.admit(4096));
        assert_eq!(budget.dropped, 2);
    }
}

/// Handles (requests, header maps, bodies, streams, futures) one instance may hold at once. The
/// connectors of this workspace need under 24; a burst of 64 requests at once fits. Each header map holds at
/// most [`crate::http::FIELD_SIZE_LIMIT`] bytes and each request body buffers at most two
/// [`crate::http::BODY_CHUNK`]s, so the host state a connector can pile up is bounded too.
pub const MAX_HANDLES: usize = 256;
