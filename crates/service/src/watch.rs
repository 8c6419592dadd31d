//! The tenant file read again when it changes on disk: its fingerprint (the file it resolves to
//! through symbolic links, its size and modification time) polled every two seconds. A Kubernetes
//! ConfigMap is updated by swapping a symbolic link, which the resolved path shows; an edit in
//! place shows in the size or the time. SIGHUP still reads it at once.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_secs(2);

/// What identifies one version of the file; none while it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Option<(PathBuf, u64, Option<SystemTime>)>);

impl Fingerprint {
    pub fn of(path: &Path) -> Self {
        let resolved = std::fs::canonicalize(path).ok();
        let metadata = std::fs::metadata(path).ok();
        Self(resolved.zip(metadata).map(|(resolved, metadata)| (resolved, metadata.len(), metadata.modified().ok())))
    }
}

/// Calls `changed` each time the file's fingerprint differs from the last one seen, until the
/// task is dropped.
pub async fn watch(path: PathBuf, changed: impl Fn()) {
    let mut seen = Fingerprint::of(&path);
    loop {
        tokio::time::sleep(POLL).await;
        let now = Fingerprint::of(&path);
        if now != seen {
            seen = now;
            changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swapped_link_an_edit_and_a_removal_each_change_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two, link) = (dir.path().join("one.toml"), dir.path().join("two.toml"), dir.path().join("tenants.toml"));
        std::fs::write(&one, "a").unwrap();
        std::fs::write(&two, "a").unwrap();
        std::os::unix::fs::symlink(&one, &link).unwrap();
        let first = Fingerprint::of(&link);
        assert_eq!(Fingerprint::of(&link), first, "unchanged");
        std::fs::remove_file(&link).unwrap();
        assert_ne!(Fingerprint::of(&link), first, "gone");
        std::os::unix::fs::symlink(&two, &link).unwrap();
        let swapped = Fingerprint::of(&link);
        assert_ne!(swapped, first, "the link now names another file");
        std::fs::write(&two, "ab").unwrap();
        assert_ne!(Fingerprint::of(&link), swapped, "edited in place");
    }
}
