//! Compiled components on disk, so a restart does not compile again.
//!
//! An entry is keyed by a SHA-256 of the component's bytes and the engine's compatibility hash
//! (wasmtime version, target and settings): an entry is only ever loaded by an engine that can run
//! it, and a changed component misses. Loading a compiled artifact trusts the cache folder, so it
//! is created private to the user (0700); entries are written through a temporary file and a rename.

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
        if entry.is_file() {
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
