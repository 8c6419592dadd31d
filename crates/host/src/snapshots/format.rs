//! The snapshot's file formats: this project's JSON (`docs/contract.md` section 2) and baton's c1z
//! (section 8), chosen by `--format`, else by the file's extension (`.c1z`); read back by what
//! the file's first bytes say.

use std::path::Path;

use crate::c1z;
use crate::error::{HostError, Result};
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotFormat {
    Json,
    C1z,
}

impl SnapshotFormat {
    /// `json` or `c1z`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "json" => Ok(Self::Json),
            "c1z" => Ok(Self::C1z),
            other => Err(HostError::usage(format!("format {other:?} is not one of json, c1z"))),
        }
    }

    /// `explicit` when given, else by the extension: `.c1z` is c1z, anything else JSON.
    pub fn for_path(path: &Path, explicit: Option<Self>) -> Self {
        explicit.unwrap_or(if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("c1z")) { Self::C1z } else { Self::Json })
    }

    /// The file extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::C1z => "c1z",
        }
    }
}

/// Writes `snapshot` to `path` in `format`, atomically and durably.
pub fn write(snapshot: &Snapshot, path: &Path, format: SnapshotFormat) -> Result<()> {
    match format {
        SnapshotFormat::Json => snapshot.write_atomic(path),
        SnapshotFormat::C1z => c1z::write(snapshot, path),
    }
}

/// Reads a snapshot in either format, told apart by the file's first bytes.
pub fn read(path: &Path) -> Result<Snapshot> {
    read_run(path, None)
}

/// Reads a snapshot in either format; of a c1z file, the sync run `sync_id` when given (a JSON
/// snapshot holds one sync only, and refuses a run id).
pub fn read_run(path: &Path, sync_id: Option<&str>) -> Result<Snapshot> {
    let mut head = [0u8; 5];
    let is_c1z = std::fs::File::open(path)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut head))
        .map(|()| c1z::is_c1z(&head))
        .unwrap_or(false);
    if !is_c1z {
        if sync_id.is_some() {
            return Err(HostError::usage(format!("{} is a JSON snapshot, which holds one sync: leave out --sync-id", path.display())));
        }
        return Snapshot::read(path);
    }
    c1z::read(path, sync_id)
}
