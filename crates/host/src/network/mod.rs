//! Egress: the `wasi:http` hooks (policy, credentials, whole bodies), a run's traffic accounting
//! and connection pool, direct connections to checked addresses, and an embedder's upstream.

pub(crate) mod connections;
pub mod http;
pub mod meter;
pub(crate) mod outbound;
pub mod upstream;
