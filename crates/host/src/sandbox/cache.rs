//! Compiled components on disk, so a restart does not compile again.
//!
//! An entry is keyed by a SHA-256 of the component's bytes and the engine's compatibility hash
//! (wasmtime version, target and settings): an entry is only ever loaded by an engine that can run
//! it, and a changed component misses. Loading a compiled artifact runs it as native code, so the
//! cache folder is created private to the user (0700), and a folder or entry that another user owns
//! or may write is neither read nor written: the component is compiled instead, with a warning.
//! A `--cache-dir` that others may write (a Kubernetes `emptyDir`, a volume under `fsGroup`, a
//! shared folder) holds the entries in a folder private to this user inside it, `user-UID`. Each entry carries a SHA-256 of the compiled code, checked
//! before the code is loaded: a corrupted entry (a disk error, a half-copied file) would otherwise
//! run as broken native code; a mismatch compiles again, with a warning. Entries are written
//! atomically and durably ([`crate::files::write_atomic`]).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{HostError, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$XDG_CACHE_HOME/connector-host`, else `~/.cache/connector-host`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
        Some(base.join("connector-host"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder the entries are in: the cache folder, or when others may write that (and so
    /// replace what is in it), a folder of this user's inside it.
    pub fn entries_dir(&self) -> PathBuf {
        match private(&self.dir) {
            Ok(()) => self.dir.clone(),
            Err(_) => self.dir.join(format!("user-{}", user_id())),
        }
    }

    /// The path an entry for `bytes` on `engine` has.
    pub fn entry(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hash);
        let mut digest = Sha256::new();
        digest.update(bytes);
        digest.update(engine_hash.finish().to_le_bytes());
        let hex: String = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.entries_dir().join(format!("{hex}.cwasm"))
    }

    /// The compiled component: from the cache when there, else compiled and stored.
    /// A cache that cannot be read or written costs a compilation, never a failure.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<(Component, bool)> {
        let entry = self.entry(engine, bytes);
        let dir = self.entries_dir();
        if let Err(why) = private(&dir).and_then(|()| not_a_link(&dir)) {
            tracing::warn!("not using the compiled-component cache: {why}; make it private (chmod 700) or use another cache folder");
            return Ok((compile(engine, bytes)?, false));
        }
        if entry.is_file() {
            if let Err(why) = private(&entry) {
                tracing::warn!("not using the compiled-component cache: {why}; remove the file");
                return Ok((compile(engine, bytes)?, false));
            }
            match read_entry(&entry) {
                // SAFETY: the code was written by `Component::serialize` of this engine
                // configuration (the entry's name holds the compatibility hash) into a folder
                // private to this user, and its checksum matches what was written; code that
                // does not deserialize is compiled again below.
                Ok(code) => match unsafe { Component::deserialize(engine, &code) } {
                    Ok(component) => return Ok((component, true)),
                    Err(error) => tracing::warn!("ignoring cache entry {}: {error}", entry.display()),
                },
                Err(why) => tracing::warn!("ignoring cache entry {}: {why}; compiling the component again", entry.display()),
            }
        }
        let component = compile(engine, bytes)?;
        if let Err(error) = store(&dir, &entry, &component) {
            tracing::warn!("cannot cache the compiled component in {}: {error}", dir.display());
        }
        Ok((component, false))
    }
}

/// Writes `component` as the entry `entry` in `dir`, creating the folder private.
fn store(dir: &Path, entry: &Path, component: &Component) -> std::result::Result<(), String> {
    create_private_dir(dir).map_err(|e| e.to_string())?;
    // Checked again once it exists: a folder made by someone else meanwhile is not written.
    private(dir).and_then(|()| not_a_link(dir))?;
    let code = component.serialize().map_err(|e| e.to_string())?;
    let checksum = Sha256::digest(&code);
    crate::files::write_atomic(entry, "cache entry", |file| {
        file.write_all(ENTRY_MAGIC)?;
        file.write_all(&checksum)?;
        file.write_all(&code)
    })
    .map_err(|e| e.message().to_owned())
}

/// The effective user id, which names this user's folder in a shared cache folder.
#[cfg(unix)]
fn user_id() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn user_id() -> u32 {
    0
}

/// Refuses a symbolic link where the entries' folder is: in a folder others may write, one could
/// point this user's folder elsewhere.
fn not_a_link(path: &Path) -> std::result::Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => Err(format!("{} is a symbolic link", path.display())),
        _ => Ok(()),
    }
}

/// An entry: these bytes, the SHA-256 of the code, the code.
const ENTRY_MAGIC: &[u8; 8] = b"CHCWASM1";

/// The largest entry read (a compiled connector is a few MiB).
const MAX_ENTRY: u64 = 1 << 30;

/// An entry's code, if its checksum matches.
fn read_entry(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = crate::files::read_limited(path, MAX_ENTRY, "cache entry").map_err(|e| e.message().to_owned())?;
    let header = ENTRY_MAGIC.len() + 32;
    if bytes.len() < header || &bytes[..ENTRY_MAGIC.len()] != ENTRY_MAGIC {
        return Err("not an entry of this version".into());
    }
    if Sha256::digest(&bytes[header..])[..] != bytes[ENTRY_MAGIC.len()..header] {
        return Err("its checksum does not match its contents (corrupted)".into());
    }
    bytes.drain(..header);
    Ok(bytes)
}

/// Whether `path`, if it exists, is this user's and writable by no one else.
#[cfg(unix)]
fn private(path: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(format!("cannot inspect {}: {error}", path.display())),
    };
    let me = user_id();
    if metadata.uid() != me {
        return Err(format!("{} belongs to user {}, not to this user ({me})", path.display(), metadata.uid()));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(format!("{} may be written by other users (mode {:o})", path.display(), metadata.mode() & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private(_: &Path) -> std::result::Result<(), String> {
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Compiles a component, or says why it is not one.
pub fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    Component::new(engine, bytes).map_err(|e| {
        let first = format!("{e:#}");
        HostError::usage(format!(
            "the file is not a loadable WebAssembly component: {}; pass a file built for wasm32-wasip2",
            first.lines().next().unwrap_or("invalid")
        ))
    })
}
