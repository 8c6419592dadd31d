//! Compiled components on disk, so a restart does not compile again.
//!
//! An entry is keyed by a SHA-256 of the component's bytes and the engine's compatibility hash
//! (wasmtime version, target and settings): an entry is only ever loaded by an engine that can run
//! it, and a changed component misses. Loading a compiled artifact runs it as native code, so the
//! cache folder is created private to the user (0700), and a folder or entry that another user owns
//! or may write (a shared `--cache-dir`, say) is neither read nor written: the component is
//! compiled instead, with a warning. Entries are written through a temporary file and a rename.

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

    /// The path an entry for `bytes` on `engine` has.
    pub fn entry(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hash);
        let mut digest = Sha256::new();
        digest.update(bytes);
        digest.update(engine_hash.finish().to_le_bytes());
        let hex: String = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}.cwasm"))
    }

    /// The compiled component: from the cache when there, else compiled and stored.
    /// A cache that cannot be read or written costs a compilation, never a failure.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<(Component, bool)> {
        let entry = self.entry(engine, bytes);
        if let Err(why) = private(&self.dir) {
            tracing::warn!("not using the compiled-component cache: {why}; make it private (chmod 700) or pass another --cache-dir");
            return Ok((compile(engine, bytes)?, false));
        }
        if entry.is_file() {
            if let Err(why) = private(&entry) {
                tracing::warn!("not using the compiled-component cache: {why}; remove the file");
                return Ok((compile(engine, bytes)?, false));
            }
            // SAFETY: the entry was written by `Component::serialize` of this engine
            // configuration (its name holds the compatibility hash) into a folder private to this
            // user; a file that does not deserialize is compiled again below.
            match unsafe { Component::deserialize_file(engine, &entry) } {
                Ok(component) => return Ok((component, true)),
                Err(error) => tracing::warn!("ignoring cache entry {}: {error}", entry.display()),
            }
        }
        let component = compile(engine, bytes)?;
        if let Err(error) = self.store(&entry, &component) {
            tracing::warn!("cannot cache the compiled component in {}: {error}", self.dir.display());
        }
        Ok((component, false))
    }

    fn store(&self, entry: &Path, component: &Component) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        let temporary = entry.with_extension(format!("{}.{:x}.tmp", std::process::id(), fastrand::u64(..)));
        std::fs::write(&temporary, bytes)?;
        std::fs::rename(&temporary, entry).inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })
    }
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
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
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
        HostError::Usage(format!(
            "the plugin is not a loadable WebAssembly component: {}; pass a file built for wasm32-wasip2",
            first.lines().next().unwrap_or("invalid")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_load_comes_from_the_cache() {
        let engine = crate::engine::new_engine(crate::engine::Allocation::Pooling(crate::engine::PoolSize { instances: 4 })).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = ComponentCache::new(dir.path().join("cache"));
        let (_, cached) = cache.load(&engine, crate::FIVETRAN_PLUGIN).unwrap();
        assert!(!cached);
        let (_, cached) = cache.load(&engine, crate::FIVETRAN_PLUGIN).unwrap();
        assert!(cached);
        assert_eq!(std::fs::read_dir(cache.dir()).unwrap().count(), 1, "one entry, no temporary file");
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_others_may_write_is_neither_read_nor_written() {
        use std::os::unix::fs::PermissionsExt;
        let engine = crate::engine::new_engine(crate::engine::Allocation::Pooling(crate::engine::PoolSize { instances: 4 })).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = ComponentCache::new(dir.path());
        let (_, cached) = cache.load(&engine, crate::FIVETRAN_PLUGIN).unwrap();
        assert!(!cached);
        let entry = cache.entry(&engine, crate::FIVETRAN_PLUGIN);
        // An entry anyone may replace is not loaded...
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        let (_, cached) = cache.load(&engine, crate::FIVETRAN_PLUGIN).unwrap();
        assert!(!cached, "a world-writable entry is not loaded");
        // ...nor is anything in a folder anyone may write, and nothing is added to it.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::remove_file(&entry).unwrap();
        let (_, cached) = cache.load(&engine, crate::FIVETRAN_PLUGIN).unwrap();
        assert!(!cached);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written to a shared folder");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let (_, cached) = cache.load(&engine, crate::FIVETRAN_PLUGIN).unwrap();
        assert!(!cached);
        let (_, cached) = cache.load(&engine, crate::FIVETRAN_PLUGIN).unwrap();
        assert!(cached, "a private folder is used again");
    }

    #[test]
    fn a_corrupt_entry_is_compiled_again() {
        let engine = crate::engine::new_engine(crate::engine::Allocation::Pooling(crate::engine::PoolSize { instances: 4 })).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = ComponentCache::new(dir.path());
        std::fs::write(cache.entry(&engine, crate::FIVETRAN_PLUGIN), b"garbage").unwrap();
        let (_, cached) = cache.load(&engine, crate::FIVETRAN_PLUGIN).unwrap();
        assert!(!cached);
    }
}
