//! Configuration, as plain data: tenants resolved against what their connector declares, the
//! credentials and how they are applied, the egress policy, the retry policy, and the files the
//! host reads and writes for the operator.

pub mod credentials;
pub mod egress;
pub mod files;
pub mod retry;
pub mod tenant;
