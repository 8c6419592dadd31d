//! The files the host reads and writes for the operator: read with a size limit, and written so
//! that a reader sees the old file or the whole new one, never a part, never a different kind of
//! file in its place, and never a temporary file left behind.
//!
//! A write goes through a temporary file in the target's folder, flushed to disk, then renamed
//! over the target, and the folder is flushed too. The target must be a regular file or absent:
//! a device (`/dev/null`), a folder or a pipe is refused, and a symbolic link is written through
//! (the file it names is replaced, the link stays). A replaced file keeps its mode; a new one is
//! private (0600), since snapshots hold personal data. Temporary files are registered while they
//! exist, so that [`remove_temporaries`] can delete them when the process is interrupted.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{HostError, Result};

/// The largest tenant file read.
pub const MAX_TENANT_FILE: u64 = 1 << 20;
/// The largest file a credential is read from.
pub const MAX_CREDENTIAL_FILE: u64 = 64 << 10;
/// The largest component file read.
pub const MAX_COMPONENT_FILE: u64 = 256 << 20;
/// The largest snapshot read (a 100,000-user account writes about 100 MiB).
pub const MAX_SNAPSHOT_FILE: u64 = 8 << 30;

/// Temporary files being written now.
static TEMPORARIES: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Reads `path` whole if it holds at most `limit` bytes; `what` names it in errors ("tenant file").
pub fn read_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open(path, what)?.take(limit + 1).read_to_end(&mut bytes).map_err(|e| cannot_read(path, what, &e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, what, limit));
    }
    Ok(bytes)
}

/// A reader of `path` that fails past `limit` bytes with an error naming the limit.
pub fn open_limited(path: &Path, limit: u64, what: &str) -> Result<LimitedReader> {
    Ok(LimitedReader { inner: std::io::BufReader::with_capacity(1 << 16, open(path, what)?), left: limit, limit })
}

/// See [`open_limited`].
pub struct LimitedReader {
    inner: std::io::BufReader<std::fs::File>,
    left: u64,
    limit: u64,
}

impl Read for LimitedReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more than allowed means the file is too large; none means it ended.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, format!("larger than {} bytes", self.limit))),
            };
        }
        let most = buffer.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buffer[..most])?;
        self.left -= read as u64;
        Ok(read)
    }
}

fn open(path: &Path, what: &str) -> Result<std::fs::File> {
    let file = std::fs::File::open(path).map_err(|e| cannot_read(path, what, &e))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(HostError::usage(format!("cannot read {what} {}: it is a folder", path.display())));
    }
    Ok(file)
}

fn cannot_read(path: &Path, what: &str, error: &std::io::Error) -> HostError {
    HostError::usage(format!("cannot read {what} {}: {error}", path.display()))
}

fn too_large(path: &Path, what: &str, limit: u64) -> HostError {
    HostError::usage(format!("{what} {} is larger than {} bytes, more than a {what} holds; check the path", path.display(), limit))
}

/// Checks, before any work, that [`write_atomic`] could write `path`: the target is a regular
/// file or absent, its folder exists, and a file can be created there.
pub fn check_writable(path: &Path, flag: &str) -> Result<()> {
    let target = Target::of(path, flag)?;
    let probe = target.temporary();
    std::fs::OpenOptions::new().write(true).create_new(true).open(&probe).map_err(|e| {
        HostError::usage(format!("{flag} {}: cannot write in folder {}: {e}; choose another path", path.display(), target.dir.display()))
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes `path` atomically and durably with what `write` produces (see the module's rules).
pub fn write_atomic(path: &Path, flag: &str, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let target = Target::of(path, flag)?;
    let temporary = target.temporary();
    let io = |what: &str, e: std::io::Error| HostError::other(format!("cannot {what} {}: {e}", path.display()));
    register(&temporary);
    let result = (|| {
        let file = create_private(&temporary).map_err(|e| io("create a temporary file beside", e))?;
        let mut writer = std::io::BufWriter::with_capacity(1 << 16, file);
        write(&mut writer).map_err(|e| io("write", e))?;
        let file = writer.into_inner().map_err(|e| io("write", e.into_error()))?;
        set_mode(&file, target.mode).map_err(|e| io("set the mode of", e))?;
        file.sync_all().map_err(|e| io("flush", e))?;
        drop(file);
        std::fs::rename(&temporary, &target.file).map_err(|e| io("replace", e))?;
        // The rename itself reaches the disk with the folder.
        if let Ok(dir) = std::fs::File::open(&target.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    unregister(&temporary);
    result
}

/// A working file beside a file about to be written (the same folder, so the same disk the
/// output goes to, not a small `/tmp`), private to this user, removed when dropped or when the
/// process ends on a signal.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A new, empty scratch file beside `path`, named after it with `suffix`.
    pub fn beside(path: &Path, suffix: &str, flag: &str) -> Result<Self> {
        let target = Target::of(path, flag)?;
        let name = target.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let scratch = target.dir.join(format!(".{name}.{}.{suffix}", std::process::id()));
        register(&scratch);
        let _ = std::fs::remove_file(&scratch);
        create_private(&scratch).map_err(|e| {
            unregister(&scratch);
            HostError::other(format!("cannot create a working file beside {}: {e}", path.display()))
        })?;
        Ok(Self { path: scratch })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        unregister(&self.path);
    }
}

/// Deletes every temporary file being written now: for a process ending on a signal.
pub fn remove_temporaries() {
    let pending = TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
    for path in pending {
        let _ = std::fs::remove_file(path);
    }
}

fn register(path: &Path) {
    TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(HashSet::new).insert(path.to_path_buf());
}

fn unregister(path: &Path) {
    if let Some(set) = TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        set.remove(path);
    }
}

/// The file a write replaces (a symbolic link followed), its folder, and the mode it gets.
struct Target {
    file: PathBuf,
    dir: PathBuf,
    mode: u32,
}

/// Links followed before a path is given up on, as the kernel does.
const MAX_LINKS: usize = 40;

impl Target {
    fn of(path: &Path, flag: &str) -> Result<Self> {
        let usage = |why: String| HostError::usage(format!("{flag} {}: {why}", path.display()));
        let mut file = path.to_path_buf();
        let mut links = 0;
        let metadata = loop {
            match std::fs::symlink_metadata(&file) {
                Ok(m) if m.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(usage("too many levels of symbolic links".into()));
                    }
                    let next = std::fs::read_link(&file).map_err(|e| usage(format!("cannot read the link: {e}")))?;
                    file = match file.parent() {
                        Some(parent) if next.is_relative() => parent.join(next),
                        _ => next,
                    };
                }
                Ok(m) => break Some(m),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break None,
                Err(e) => return Err(usage(format!("cannot inspect it: {e}"))),
            }
        };
        let mode = match &metadata {
            Some(m) if m.is_file() => mode_of(m),
            Some(m) => {
                let kind = if m.is_dir() { "a folder" } else { "not a regular file (a device, a pipe or a socket)" };
                return Err(usage(format!("refusing to replace it: it is {kind}; give the path of a file")));
            }
            None => NEW_FILE_MODE,
        };
        let dir = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(usage(format!("folder {} does not exist; create it or choose another path", dir.display())));
        }
        if file.file_name().is_none() {
            return Err(usage("names no file".into()));
        }
        Ok(Self { file, dir, mode })
    }

    fn temporary(&self) -> PathBuf {
        let name = self.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.dir.join(format!(".{name}.{}.{:x}.tmp", std::process::id(), fastrand::u64(..)))
    }
}

/// A new file's mode: private, since what the host writes may hold personal data.
const NEW_FILE_MODE: u32 = 0o600;

#[cfg(unix)]
fn mode_of(metadata: &std::fs::Metadata) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    NEW_FILE_MODE
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(NEW_FILE_MODE).open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `remove_temporaries` deletes every temporary the process is writing: the test of it must
    /// not run beside another that writes.
    static WRITING: Mutex<()> = Mutex::new(());

    fn writing() -> std::sync::MutexGuard<'static, ()> {
        WRITING.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write_text(path: &Path, text: &str) -> Result<()> {
        write_atomic(path, "--out", |w| w.write_all(text.as_bytes()))
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_private_and_a_replaced_one_keeps_its_mode() {
        let _writing = writing();
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        write_text(&path, "one").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_text(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_written_through_and_stays_a_link() {
        let _writing = writing();
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_text(&link, "new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        write_text(&dangling, "made").unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("made.json")).unwrap(), "made");
    }

    #[test]
    fn devices_folders_and_missing_folders_are_refused_before_anything_is_written() {
        let _writing = writing();
        let dir = tempfile::tempdir().unwrap();
        for (path, expect) in [
            (PathBuf::from("/dev/null"), "not a regular file"),
            (dir.path().to_path_buf(), "it is a folder"),
            (dir.path().join("absent/x.json"), "does not exist"),
        ] {
            let error = write_text(&path, "x").unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::Usage, "{error}");
            assert!(error.message().contains(expect), "{error}");
            assert!(check_writable(&path, "--out").is_err());
        }
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file(), "/dev/null is still the device");
        assert!(check_writable(&dir.path().join("fine.json"), "--out").is_ok());
        assert!(leftovers(dir.path()).is_empty(), "the probe is removed");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let _writing = writing();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        std::fs::write(&path, "old").unwrap();
        let failed = write_atomic(&path, "--out", |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("interrupted"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn temporaries_are_removed_on_request() {
        let _writing = writing();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        let seen = std::cell::Cell::new(None);
        let _ = write_atomic(&path, "--out", |w| {
            w.write_all(b"partial")?;
            w.flush()?;
            seen.set(Some(leftovers(dir.path())));
            remove_temporaries();
            Err(std::io::Error::other("the signal came"))
        });
        assert_eq!(seen.take().unwrap().len(), 1, "the temporary existed while writing");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn reads_are_bounded_and_name_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, vec![b'x'; 2000]).unwrap();
        assert_eq!(read_limited(&path, 2000, "tenant file").unwrap().len(), 2000);
        let error = read_limited(&path, 1999, "tenant file").unwrap_err();
        assert!(error.message().contains("larger than 1999 bytes"), "{error}");
        let endless = read_limited(Path::new("/dev/zero"), 1 << 20, "tenant file").unwrap_err();
        assert_eq!(endless.kind(), crate::ErrorKind::Usage);
        let mut reader = open_limited(Path::new("/dev/zero"), 10, "snapshot").unwrap();
        let mut sink = Vec::new();
        let error = reader.read_to_end(&mut sink).unwrap_err();
        assert!(error.to_string().contains("larger than 10 bytes"));
        assert!(read_limited(dir.path(), 10, "tenant file").unwrap_err().message().contains("it is a folder"));
    }
}
