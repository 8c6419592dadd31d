//! A stateful fake SCIM 2.0 service (RFC 7643 schema, RFC 7644 protocol), served over HTTP on
//! loopback under `/scim/v2`.
//!
//! Resources are kept as the JSON a client sent (the service adds `id`, `schemas` and `meta`),
//! so PUT replaces and PATCH edits them as a real service would. [`Quirks`] switch on what real
//! services do that the RFC does not ask for (capped pages, string booleans, 204 answers, no
//! PATCH, `members: null`, ...); [`Flavor::Fivetran`] behaves as Fivetran's SCIM API (account
//! roles only, a documentation link naming Fivetran). [`Directory::expected_grants`] is the
//! oracle a sync is checked against.

pub mod directory;
mod handlers;
pub mod server;

pub use directory::{Directory, Flavor};
pub use server::{FakeScim, Quirks, RecordedRequest, ScimFault};
