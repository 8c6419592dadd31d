//! A generic SCIM 2.0 access connector (RFC 7643 schema, RFC 7644 protocol).
//!
//! Reads a SCIM service's users, groups and the role values users hold, and every grant between
//! them, one page per call; provisions users (create, update, disable and enable, delete), groups
//! (create, rename, delete) and their members, adapting to what the service's
//! `/ServiceProviderConfig` says it supports (PUT where PATCH is not). Correct for Fivetran's SCIM
//! API in particular (`https://api.fivetran.com/scim/v2`: user name = email, account roles only,
//! groups are teams).
//!
//! Everything here is plain Rust over the SDK's [`transport::Transport`], unit-tested natively;
//! [`component`] exports it through the SDK's WIT glue.

pub mod accounts;
pub mod attrs;
pub mod client;
pub mod component;
pub mod discovery;
pub mod groups;
pub mod ids;
pub mod mapping;
pub mod members;
pub mod membership;
pub mod readback;
pub mod schema;
pub mod sync;

#[cfg(test)]
pub(crate) use connector_sdk::testing;
pub use connector_sdk::{model, transport};
