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

pub mod bindings;
pub mod cache;
mod connections;
pub mod credentials;
pub mod diff;
pub mod egress;
pub mod engine;
pub mod error;
pub mod failure;
pub mod files;
mod guest_output;
pub mod http;
mod merge;
pub mod meter;
pub mod operations;
mod outbound;
pub mod progress;
pub mod retry;
pub mod runtime;
pub mod snapshot;
mod state;
pub mod sync;
pub mod sync_all;
pub mod tenant;
pub mod text;
pub mod upstream;

pub use credentials::Credentials;
pub use error::{ErrorKind, HostError, Result};
pub use runtime::{CallError, ConnectorRuntime, Session};
pub use snapshot::Snapshot;
pub use sync::{sync, sync_with_progress};
pub use tenant::TenantConfig;
pub use upstream::{Upstream, UpstreamFailure, UpstreamFuture};
/// The WebAssembly engine connectors run on (see [`ConnectorRuntime::engine`]).
pub use wasmtime::Engine;

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;
