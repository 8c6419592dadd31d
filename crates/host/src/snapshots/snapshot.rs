//! The snapshot file (`docs/contract.md` section 2): what a sync found, sorted and deterministic,
//! written atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{HostError, Result};

pub const FORMAT: &str = "connector-snapshot/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: String,
    pub connector: ConnectorInfo,
    pub tenant: String,
    pub started_at: String,
    pub finished_at: String,
    pub resource_types: Vec<ResourceTypeRecord>,
    pub resources: Vec<ResourceRecord>,
    pub entitlements: Vec<EntitlementRecord>,
    pub grants: Vec<GrantRecord>,
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceTypeRecord {
    pub id: String,
    pub display_name: String,
    /// What its resources are, as the connector declared (none in snapshots from before 0.5.0
    /// of the contract, and for types that are none of these).
    #[serde(default, rename = "trait", skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// For users: the trait keys that hold their profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileKeys>,
}

impl ResourceTypeRecord {
    pub fn new(id: &str, display_name: &str) -> Self {
        Self { id: id.to_owned(), display_name: display_name.to_owned(), identity: None, profile: None }
    }
}

/// What the resources of a type are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Identity {
    User,
    Group,
    Role,
    App,
}

/// The trait keys that hold a user's profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// What holding an entitlement means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Assignment,
    Permission,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceKey {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    pub display_name: String,
    pub traits: Value,
}

impl ResourceRecord {
    pub fn key(&self) -> ResourceKey {
        ResourceKey { resource_type: self.resource_type.clone(), id: self.id.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementRecord {
    pub id: String,
    pub resource: ResourceKey,
    pub slug: String,
    pub display_name: String,
    pub grantable_to: Vec<String>,
    /// As the connector declared (none in snapshots from before 0.5.0 of the contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub id: String,
    pub entitlement: String,
    pub principal: ResourceKey,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expandable: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub http_requests: u64,
    pub duration_ms: u64,
    #[serde(default)]
    pub retries: u64,
    #[serde(default)]
    pub rate_limit_waits: u64,
    /// Grants dropped because their entitlement or principal was not found (a change mid-sync).
    #[serde(default)]
    pub dropped_grants: u64,
    /// Of those, grants whose principal matched no listed resource, by id or alias (a member the
    /// service names in a way no listing shows).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unresolved_principals: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Snapshot {
    /// The declared type of resources of `resource_type`, if the snapshot has it.
    pub fn resource_type(&self, resource_type: &str) -> Option<&ResourceTypeRecord> {
        self.resource_types.iter().find(|t| t.id == resource_type)
    }

    /// Writes the snapshot to `path` atomically and durably (see [`crate::files`]): `path`
    /// holds either the old file or the whole new one; it must be a regular file or absent.
    pub fn write_atomic(&self, path: &Path) -> Result<()> {
        crate::files::write_atomic(path, "snapshot file", |writer| {
            // Streamed, so that writing costs no second copy of the snapshot in memory.
            serde_json::to_writer_pretty(&mut *writer, self)?;
            writer.write_all(b"\n")
        })
    }

    /// Reads a snapshot, refusing files of another format or larger than
    /// [`crate::files::MAX_SNAPSHOT_FILE`].
    pub fn read(path: &Path) -> Result<Self> {
        let reader = crate::files::open_limited(path, crate::files::MAX_SNAPSHOT_FILE, "snapshot")?;
        let value: Value = serde_json::from_reader(reader).map_err(|e| match e.io_error_kind() {
            Some(std::io::ErrorKind::FileTooLarge) => {
                HostError::usage(format!("{} is not a snapshot: larger than {} bytes", path.display(), crate::files::MAX_SNAPSHOT_FILE))
            }
            Some(_) => HostError::usage(format!("cannot read snapshot {}: {e}", path.display())),
            None => HostError::usage(format!("{} is not a snapshot: not JSON ({e})", path.display())),
        })?;
        if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(HostError::usage(format!("{} is not a snapshot: its format is not {FORMAT:?}", path.display())));
        }
        serde_json::from_value(value).map_err(|e| HostError::usage(format!("{} is not a valid snapshot: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            format: FORMAT.into(),
            connector: ConnectorInfo { name: "example".into(), version: "0.1.0".into() },
            tenant: "default".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:01Z".into(),
            resource_types: vec![],
            resources: vec![],
            entitlements: vec![],
            grants: vec![GrantRecord {
                id: "team:t:member:user:u".into(),
                entitlement: "team:t:member".into(),
                principal: ResourceKey { resource_type: "user".into(), id: "u".into() },
                expandable: vec![],
            }],
            stats: Stats::default(),
        }
    }

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old").unwrap();
        snapshot().write_atomic(&path).unwrap();
        assert_eq!(Snapshot::read(&path).unwrap(), snapshot());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("expandable"), "empty expandable lists are left out");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn a_missing_folder_is_a_usage_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let error = snapshot().write_atomic(&dir.path().join("nope/out.json")).unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Usage);
    }

    #[test]
    fn other_files_are_not_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, r#"{"format":"other"}"#).unwrap();
        assert_eq!(Snapshot::read(&path).unwrap_err().kind(), crate::ErrorKind::Usage);
    }
}

/// A resource type as its connector declared it.
pub fn declared_type(declared: &crate::bindings::latest::types::ResourceType) -> ResourceTypeRecord {
    use crate::bindings::latest::types::Identity as Declared;
    let (identity, profile) = match &declared.identity {
        Declared::User(p) => (
            Some(Identity::User),
            Some(ProfileKeys {
                email: p.email.clone(),
                login: p.login.clone(),
                status: p.status.clone(),
                given_name: p.given_name.clone(),
                family_name: p.family_name.clone(),
                last_login: p.last_login.clone(),
                created_at: p.created_at.clone(),
            }),
        ),
        Declared::Group => (Some(Identity::Group), None),
        Declared::Role => (Some(Identity::Role), None),
        Declared::App => (Some(Identity::App), None),
        Declared::Other => (None, None),
    };
    ResourceTypeRecord { id: declared.id.clone(), display_name: declared.display_name.clone(), identity, profile }
}

/// An entitlement's purpose as its connector declared it, if it did.
pub fn declared_purpose(declared: Option<crate::bindings::latest::types::EntitlementPurpose>) -> Option<Purpose> {
    use crate::bindings::latest::types::EntitlementPurpose as Declared;
    declared.map(|d| match d {
        Declared::Assignment => Purpose::Assignment,
        Declared::Permission => Purpose::Permission,
    })
}
