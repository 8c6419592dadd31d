//! Runs: a sync (workers, bounded paging, memory held, merging), many tenants at once,
//! validation and changes, progress, and how a failed call becomes a `HostError`.

pub(crate) mod attempt;
pub mod change;
pub mod failure;
pub(crate) mod merge;
pub mod operations;
pub mod outcome;
pub mod progress;
pub mod sync;
pub mod sync_all;
pub mod validate;
