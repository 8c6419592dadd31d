//! Checking a tenant's credentials: the account behind them, the kind of key, and whether the key
//! can read each resource type a sync lists.

use std::sync::Arc;

use crate::ConnectorRuntime;
use crate::attempt::run;
use crate::bindings::latest::types::{Capability, KeyKind};
use crate::error::{HostError, Result};
use crate::http::RequestMeter;
use crate::tenant::TenantConfig;

/// The account behind the credentials, what kind of key they are, and what it can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    pub account_id: String,
    pub account_name: Option<String>,
    /// `user`, `system` or `unknown`.
    pub key_kind: &'static str,
    pub key_owner: Option<String>,
    /// One check per resource type the connector reports: its first page.
    pub reads: Vec<ReadCheck>,
    /// Whether the connector can change access (the key's write scopes are not probed).
    pub provisioning: bool,
}

/// Whether the key can read a resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadCheck {
    pub resource_type: String,
    /// Resources on the first page, or why the read failed.
    pub result: std::result::Result<usize, HostError>,
}

impl Validation {
    /// Whether every read a sync needs succeeded.
    pub fn can_sync(&self) -> bool {
        self.reads.iter().all(|r| r.result.is_ok())
    }
}

/// Validates the tenant's credentials and reads the first page of each resource type.
pub async fn validate(runtime: &ConnectorRuntime, tenant: &TenantConfig) -> Result<Validation> {
    let meter = Arc::new(RequestMeter::default());
    let info = run!(runtime, tenant, &meter, |s| s.validate().await)?;
    let metadata = run!(runtime, tenant, &meter, |s| s.metadata().await)?;
    let mut reads = Vec::with_capacity(metadata.resource_types.len());
    for resource_type in &metadata.resource_types {
        let id = resource_type.id.as_str();
        let page = run!(runtime, tenant, &meter, |s| s.list_resources(id, None).await);
        let result = page.map(|page| page.resources.iter().filter(|r| r.resource_type == id).count());
        reads.push(ReadCheck { resource_type: resource_type.id.clone(), result });
    }
    Ok(Validation {
        reads,
        provisioning: metadata.capabilities.contains(&Capability::Provision),
        account_id: info.account_id,
        account_name: info.account_name,
        key_kind: match info.key_kind {
            KeyKind::User => "user",
            KeyKind::System => "system",
            KeyKind::Unknown => "unknown",
        },
        key_owner: info.key_owner,
    })
}
