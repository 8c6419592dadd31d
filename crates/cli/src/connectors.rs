//! Which connector a tenant runs, and its compiled component: `--component FILE`, else
//! `--connector NAME`, else the tenant's `component` key (relative to its tenant file), else its
//! `connector` key, else the default built-in connector. Each distinct component is compiled (or
//! taken from the cache) once per command, whatever the number of tenants running it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use connector_host::cache::ComponentCache;
use connector_host::files::{MAX_COMPONENT_FILE, read_limited};
use connector_host::tenant::{Overrides, TenantEntry};
use connector_host::{ConnectorRuntime, HostError, TenantConfig};

/// A connector, as chosen: built in, or a component file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Choice {
    Builtin(&'static str),
    File(PathBuf),
}

/// Loads the components tenants name, once each.
pub struct Connectors {
    engine: connector_host::ConnectorEngine,
    cache: Option<ComponentCache>,
    /// `--connector` and `--component`, which win over every tenant's keys.
    flag: Option<Choice>,
    loaded: Mutex<HashMap<Choice, ConnectorRuntime>>,
}

impl Connectors {
    pub fn new(cache: Option<ComponentCache>, connector: Option<&str>, component: Option<&Path>) -> Result<Self, HostError> {
        let flag = match (component, connector) {
            (Some(path), _) => Some(Choice::File(path.to_path_buf())),
            (None, Some(name)) => Some(builtin(name, "--connector")?),
            (None, None) => None,
        };
        Ok(Self { engine: ConnectorRuntime::engine()?, cache, flag, loaded: Mutex::default() })
    }

    /// What `entry` runs (see the module's order).
    pub fn choice(&self, entry: &TenantEntry) -> Result<Choice, HostError> {
        if let Some(flag) = &self.flag {
            return Ok(flag.clone());
        }
        if let Some(path) = &entry.component {
            let path = match (&entry.base_dir, path.is_relative()) {
                (Some(dir), true) => dir.join(path),
                _ => path.clone(),
            };
            return Ok(Choice::File(path));
        }
        match &entry.connector {
            Some(name) => builtin(name, &format!("tenant {}: connector", entry.id)),
            None => Ok(Choice::Builtin(connector_builtin::DEFAULT)),
        }
    }

    /// The compiled component of `choice`.
    pub fn runtime(&self, choice: &Choice) -> Result<ConnectorRuntime, HostError> {
        if let Some(runtime) = self.loaded.lock().unwrap_or_else(|p| p.into_inner()).get(choice) {
            return Ok(runtime.clone());
        }
        let bytes = match choice {
            Choice::Builtin(name) => connector_builtin::find(name).map(|b| b.component.to_vec()).unwrap_or_default(),
            Choice::File(path) => read_limited(path, MAX_COMPONENT_FILE, "--component")?,
        };
        let runtime = ConnectorRuntime::load(&self.engine, &bytes, self.cache.as_ref())?;
        self.loaded.lock().unwrap_or_else(|p| p.into_inner()).insert(choice.clone(), runtime.clone());
        Ok(runtime)
    }

    /// The tenant `entry` describes, resolved against the credentials its connector declares,
    /// with the runtime to run it in. Its credentials are taught to the command's redactor here,
    /// the one place a command resolves tenants.
    pub async fn tenant(&self, entry: &TenantEntry, overrides: &Overrides) -> Result<(ConnectorRuntime, TenantConfig), HostError> {
        let runtime = self.runtime(&self.choice(entry)?)?;
        let metadata = runtime.metadata().await?;
        let tenant = entry.resolve(overrides, &metadata)?;
        crate::output::redactor().learn(&tenant.credentials);
        Ok((runtime, tenant))
    }
}

fn builtin(name: &str, setting: &str) -> Result<Choice, HostError> {
    match connector_builtin::find(name) {
        Some(found) => Ok(Choice::Builtin(found.name)),
        None => Err(HostError::usage(format!(
            "{setting} {name:?} is not a built-in connector; choose one of {}, or load a component file with --component",
            connector_builtin::names()
        ))),
    }
}
