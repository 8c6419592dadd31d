//! The contract: the only place that generates bindings of a WIT version.

pub mod bindings;
pub mod v0_4;
