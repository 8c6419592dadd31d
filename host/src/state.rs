//! What one tenant's store holds: a WASI context with no capabilities but clocks and random,
//! the HTTP egress hooks, and the limits.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::v0_2::accessgov::connector::log;
use crate::http::EgressHooks;

/// The longest log message a plugin may write; the rest is cut off.
const MAX_LOG_MESSAGE: usize = 4096;

pub(crate) struct TenantState {
    pub tenant: Arc<str>,
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub http: WasiHttpCtx,
    pub hooks: EgressHooks,
    pub limits: StoreLimits,
}

impl TenantState {
    pub fn new(tenant: Arc<str>, hooks: EgressHooks, limits: StoreLimits) -> Self {
        // No files, no environment, no arguments, no sockets, no stdin.
        let wasi = WasiCtx::builder().allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build();
        Self { tenant, wasi, table: ResourceTable::new(), http: WasiHttpCtx::new(), hooks, limits }
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
        let mut message = message;
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let message = self.hooks.credentials.redact(&message);
        let tenant = &*self.tenant;
        match level {
            log::Level::Debug => tracing::debug!(target: "connector_host::plugin", tenant, "{message}"),
            log::Level::Info => tracing::info!(target: "connector_host::plugin", tenant, "{message}"),
            log::Level::Warn => tracing::warn!(target: "connector_host::plugin", tenant, "{message}"),
            log::Level::Error => tracing::error!(target: "connector_host::plugin", tenant, "{message}"),
        }
    }
}

impl crate::bindings::v0_2::accessgov::connector::types::Host for TenantState {}
