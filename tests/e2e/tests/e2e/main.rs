//! The end-to-end tests, one binary: wasmtime links once and each component compiles once.

mod c1z;
mod cache;
mod concurrency;
mod conformance;
mod faults;
mod legacy;
mod lifecycle;
mod provision;
mod robustness;
mod sandbox;
mod scim;
mod scim_deviations;
mod scim_peers;
mod second_connector;
mod sync;
mod upstream;
