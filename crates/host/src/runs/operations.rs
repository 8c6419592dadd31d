//! The single operations: validate a key, invite or delete a user, grant or revoke access.
//!
//! Changes are retried only as safely as the connector allows: each connector operation reads
//! before it writes, so running it again after a 429, a 5xx or a lost answer finds what the
//! first attempt did instead of doing it twice.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::bindings::latest::types::{
    Capability, DeprovisionOutcome, Grant, GrantChange, KeyKind, NewAccount, ProvisionOutcome, Resource, ResourceRef, RevokeChange,
};
use crate::error::{HostError, Result};
use crate::failure::call_failure;
use crate::http::RequestMeter;
use crate::retry::{Retrier, RetryStats, retrying};
use crate::runtime::{CallError, ConnectorRuntime};
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

/// Opens a session and runs `$call` (an expression using `session`) in it with the tenant's
/// retry policy. Calls given the same `$meter` are one run: their requests are counted together
/// and reuse each other's connections, while each still gets an instance of its own (a trap in
/// one leaves the others' instances whole).
macro_rules! run {
    ($runtime:expr, $tenant:expr, $meter:expr, |$session:ident| $call:expr) => {{
        let _retries;
        run!($runtime, $tenant, $meter, |$session| $call, retries: _retries)
    }};
    // `$retries` is set to the retries the call took (after 5xx answers or lost connections).
    ($runtime:expr, $tenant:expr, $meter:expr, |$session:ident| $call:expr, retries: $retries:ident) => {{
        let tenant: &TenantConfig = $tenant;
        let mut $session = $runtime.open(tenant, Arc::clone($meter)).await?;
        let mut stats = RetryStats::default();
        let mut retrier = Retrier::new(&tenant.retry, &tenant.id, &mut stats);
        let result = retrying!(retrier, $call);
        if stats.retries > 0 {
            tracing::info!(tenant = %tenant.id, "done after {} retried attempt(s); each read the state before changing it", stats.retries);
        }
        $retries = stats.retries;
        result.map_err(|(error, attempts): (CallError, u32)| call_failure(tenant, error, attempts))
    }};
}

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

/// Invites a user: `{"outcome": "created" | "already_exists", "user": RESOURCE}`.
pub async fn provision(runtime: &ConnectorRuntime, tenant: &TenantConfig, account: NewAccount) -> Result<Value> {
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.provision_account(&account).await, retries: retries)?;
    let (outcome, user) = match outcome {
        ProvisionOutcome::Created(user) => ("created", user),
        ProvisionOutcome::AlreadyExists(user) => ("already_exists", user),
    };
    note_lost_answer(tenant, retries, outcome);
    Ok(json!({"outcome": outcome, "user": resource_json(&user)?}))
}

/// Deletes a user: `{"outcome": "deleted" | "not_found"}`.
pub async fn deprovision(runtime: &ConnectorRuntime, tenant: &TenantConfig, user_id: &str) -> Result<Value> {
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.deprovision_account(user_id).await, retries: retries)?;
    let outcome = match outcome {
        DeprovisionOutcome::Deleted => "deleted",
        DeprovisionOutcome::NotFound => "not_found",
    };
    note_lost_answer(tenant, retries, outcome);
    Ok(json!({"outcome": outcome, "user_id": user_id}))
}

/// Grants an entitlement: `{"outcome": "granted" | "updated" | "already_held", "grant": GRANT}`.
pub async fn grant(runtime: &ConnectorRuntime, tenant: &TenantConfig, entitlement: &str, principal: &str) -> Result<Value> {
    let principal = parse_principal(principal)?;
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.grant_entitlement(entitlement, &principal).await, retries: retries)?;
    let change = match outcome.change {
        GrantChange::Granted => "granted",
        GrantChange::Updated => "updated",
        GrantChange::AlreadyHeld => "already_held",
    };
    note_lost_answer(tenant, retries, change);
    let mut result = json!({"outcome": change, "grant": grant_json(&outcome.grant)});
    if let Some(replaced) = outcome.replaced {
        result["replaced"] = json!(replaced);
    }
    Ok(result)
}

/// Revokes a grant: `{"outcome": "revoked" | "not_held", "grant": ID}`.
pub async fn revoke(runtime: &ConnectorRuntime, tenant: &TenantConfig, grant: &str) -> Result<Value> {
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.revoke_grant(grant).await, retries: retries)?;
    let change = match outcome.change {
        RevokeChange::Revoked => "revoked",
        RevokeChange::NotHeld => "not_held",
    };
    note_lost_answer(tenant, retries, change);
    Ok(json!({"outcome": change, "grant": outcome.grant}))
}

/// After a retry, a change that found nothing to do may be one an earlier attempt made before its
/// answer was lost; the outcome alone cannot tell, so a warning says so.
fn note_lost_answer(tenant: &TenantConfig, retries: u64, outcome: &str) {
    if retries > 0 && matches!(outcome, "not_found" | "not_held" | "already_held" | "already_exists") {
        let retries = if retries == 1 { "1 retry".to_owned() } else { format!("{retries} retries") };
        tracing::warn!(tenant = %tenant.id, "{outcome} after {retries}: an earlier attempt whose answer was lost may have made this change itself");
    }
}

/// `TYPE:ID`, e.g. `user:U1`.
pub fn parse_principal(text: &str) -> Result<ResourceRef> {
    match text.split_once(':') {
        Some((resource_type, id)) if !resource_type.is_empty() && !id.is_empty() => {
            Ok(ResourceRef { resource_type: resource_type.to_owned(), id: id.to_owned() })
        }
        _ => Err(HostError::usage(format!("principal {text:?} is not TYPE:ID; write it as user:USER_ID or team:TEAM_ID"))),
    }
}

fn resource_json(resource: &Resource) -> Result<Value> {
    let traits: Value = serde_json::from_str(&resource.traits_json)
        .map_err(|_| HostError::other(format!("the connector reported traits of {} that are not JSON", resource.id)))?;
    Ok(json!({"type": resource.resource_type, "id": resource.id, "display_name": resource.display_name, "traits": traits}))
}

fn grant_json(grant: &Grant) -> Value {
    let mut value = json!({
        "id": grant.id,
        "entitlement": grant.entitlement,
        "principal": {"type": grant.principal.resource_type, "id": grant.principal.id},
    });
    if !grant.expandable.is_empty() {
        value["expandable"] = json!(grant.expandable);
    }
    value
}
