//! A wasmtime host for access-connector components.
//!
//! It loads any component of the `accessgov:connector` WIT world (`wit/`), gives it outgoing
//! HTTP under a per-tenant egress policy with the tenant's credentials added by the host, drives
//! its paged listings with retries, and writes deterministic snapshots.
//!
//! ```no_run
//! # async fn run() -> Result<(), connector_host::HostError> {
//! use connector_host::{ConnectorRuntime, Credentials, TenantConfig, sync};
//!
//! let engine = ConnectorRuntime::engine()?;
//! # let component: &[u8] = &[];
//! let runtime = ConnectorRuntime::new(&engine, component)?;
//! let tenant = TenantConfig::new("acme", "https://api.fivetran.com", Credentials::new("key", "secret"));
//! let snapshot = sync(&runtime, &tenant).await?;
//! snapshot.write_atomic(std::path::Path::new("acme.json"))?;
//! # Ok(()) }
//! ```

// The layers, one folder each (see ARCHITECTURE.md); their modules keep their short paths.
mod config;
mod contract;
mod network;
mod runs;
mod sandbox;
mod snapshots;

pub mod error;
pub mod text;

pub use config::{credentials, egress, files, retry, tenant};
pub use contract::bindings;
pub(crate) use network::{connections, outbound};
pub use network::{http, meter, upstream};
pub(crate) use runs::{attempt, merge};
pub use runs::{change, failure, operations, outcome, progress, sync, sync_all, validate};
pub use sandbox::{cache, call_error, engine, runtime, session};
pub(crate) use sandbox::{declared, guest_output, state};
pub use snapshots::{access, baton, c1z, diff, format, snapshot};

pub use call_error::CallError;
pub use credentials::Credentials;
/// The WebAssembly engine connectors run on, with its instance slots (see [`ConnectorRuntime::engine`]).
pub use engine::ConnectorEngine;
pub use error::{ErrorKind, HostError, Result};
pub use runtime::ConnectorRuntime;
pub use session::Session;
pub use snapshot::Snapshot;
pub use sync::{sync, sync_with_progress};
pub use tenant::TenantConfig;
pub use upstream::{Upstream, UpstreamFailure, UpstreamFuture};

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;
