//! Snapshots: the model and its JSON file, and the difference between two. A second format is a
//! module here that writes a `Snapshot` through `files::write_atomic`.

pub mod diff;
pub mod snapshot;
