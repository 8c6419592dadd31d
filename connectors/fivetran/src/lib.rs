//! The Fivetran access connector.
//!
//! Reads a Fivetran account's users, roles, teams and groups (destinations), and every grant
//! between them, one API page per call, in the shape of the `accessgov:connector` WIT world.
//!
//! Everything here but [`component`] is plain Rust over the [`transport::Transport`] trait, so
//! the mapping is unit-tested natively; `component` is the thin WIT glue that exists only when the
//! crate is built for `wasm32-wasip2`, where `waki` sends the requests through the host.

pub mod api;
pub mod connector;
pub mod heap;
pub mod ids;
pub(crate) mod json;
pub mod lenient;
pub mod mapping;
pub mod model;
pub mod provision;
pub mod transport;

#[cfg(test)]
mod testing;

#[cfg(target_arch = "wasm32")]
mod component;
