//! The Fivetran access connector.
//!
//! Reads a Fivetran account's users, roles, teams and groups (destinations), and every grant
//! between them, one API page per call, in the shape of the `accessgov:connector` WIT world.
//!
//! Everything here is plain Rust over the SDK's [`transport::Transport`] trait, so the mapping is
//! unit-tested natively; [`component`] exports it through the SDK's WIT glue, which exists only
//! when the crate is built for `wasm32-wasip2`.

pub mod accounts;
pub mod api;
pub(crate) mod changes;
pub mod component;
pub mod connector;
pub mod grants;
pub mod ids;
pub mod mapping;
pub mod model;
pub mod teams;

// The SDK's shared parts, under the names this crate's modules use.
#[cfg(test)]
pub(crate) use connector_sdk::testing;
pub use connector_sdk::{heap, json, lenient, paging, transport};
// The capabilities its session (`connector::Connector`) implements, for native callers.
pub use connector_sdk::{AccountManager, GrantManager, ResourceManager, Syncer};
