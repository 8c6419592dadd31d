//! Snapshots: the model and its JSON file, the c1z format of baton (its protobuf messages in
//! `baton`), the seam choosing between them (`format`), and the difference between two.

pub mod access;
pub mod baton;
pub mod c1z;
pub mod diff;
pub mod format;
pub mod snapshot;
