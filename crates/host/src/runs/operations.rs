//! The single operations: validate a key, invite or delete a user, grant or revoke access.
//!
//! Changes are retried only as safely as the connector allows: each connector operation reads
//! before it writes, so running it again after a 429, a 5xx or a lost answer finds what the
//! first attempt did instead of doing it twice.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::bindings::latest::types::{
    AccountChanges, ActivationChange, Capability, CreateOutcome, DeleteOutcome, Grant, GrantChange, KeyKind, NewAccount, NewResource,
    Resource, ResourceChanges, ResourceRef, RevokeChange, UpdateOutcome,
};
use crate::error::{HostError, Result};
use crate::failure::call_failure;
use crate::http::RequestMeter;
use crate::retry::{Retrier, RetryStats, retrying};
use crate::snapshot::{GrantRecord, ResourceKey, ResourceRecord};
use crate::tenant::TenantConfig;
use crate::{CallError, ConnectorRuntime};

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

/// What a change did, typed; each serializes as `docs/contract.md` says the command prints it.
macro_rules! outcome_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// As the command prints it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
    };
}

outcome_enum!(
    /// Whether an invite made a user, or a create a resource.
    AccountChange { Created => "created", AlreadyExists => "already_exists" }
);
outcome_enum!(
    /// Whether an update changed anything.
    Update { Updated => "updated", Unchanged => "unchanged" }
);
outcome_enum!(
    /// What disabling or enabling an account did.
    Activation { Disabled => "disabled", AlreadyDisabled => "already_disabled", Enabled => "enabled", AlreadyEnabled => "already_enabled" }
);
outcome_enum!(
    /// Whether a delete found the user.
    Deletion { Deleted => "deleted", NotFound => "not_found" }
);
outcome_enum!(
    /// What a grant changed.
    Granting { Granted => "granted", Updated => "updated", AlreadyHeld => "already_held" }
);
outcome_enum!(
    /// What a revoke changed.
    Revocation { Revoked => "revoked", NotHeld => "not_held" }
);

/// `{"outcome": "created" | "already_exists", "user": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountOutcome {
    pub outcome: AccountChange,
    pub user: ResourceRecord,
}

/// `{"outcome": "deleted" | "not_found", "user_id": ID}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletionOutcome {
    pub outcome: Deletion,
    pub user_id: String,
}

/// `{"outcome": "granted" | "updated" | "already_held", "grant": GRANT, "replaced": ID}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantingOutcome {
    pub outcome: Granting,
    pub grant: GrantRecord,
    /// The grant an update replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
}

/// `{"outcome": "revoked" | "not_held", "grant": ID}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevocationOutcome {
    pub outcome: Revocation,
    pub grant: String,
}

/// `{"outcome": "updated" | "unchanged", "user": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountUpdateOutcome {
    pub outcome: Update,
    pub user: ResourceRecord,
}

/// `{"outcome": "disabled" | "already_disabled" | "enabled" | "already_enabled", "user": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivationOutcome {
    pub outcome: Activation,
    pub user: ResourceRecord,
}

/// `{"outcome": "created" | "already_exists", "resource": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceCreationOutcome {
    pub outcome: AccountChange,
    pub resource: ResourceRecord,
}

/// `{"outcome": "updated" | "unchanged", "resource": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceUpdateOutcome {
    pub outcome: Update,
    pub resource: ResourceRecord,
}

/// `{"outcome": "deleted" | "not_found", "type": TYPE, "id": ID}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDeletionOutcome {
    pub outcome: Deletion,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
}

/// The JSON an outcome prints as.
pub fn to_json(outcome: &impl Serialize) -> Value {
    serde_json::to_value(outcome).unwrap_or(Value::Null)
}

/// Invites a user.
pub async fn provision(runtime: &ConnectorRuntime, tenant: &TenantConfig, account: NewAccount) -> Result<AccountOutcome> {
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.provision_account(&account).await, retries: retries)?;
    let (outcome, user) = match outcome {
        CreateOutcome::Created(user) => (AccountChange::Created, user),
        CreateOutcome::AlreadyExists(user) => (AccountChange::AlreadyExists, user),
    };
    note_lost_answer(tenant, retries, outcome.as_str());
    Ok(AccountOutcome { outcome, user: resource_record(user)? })
}

/// Deletes a user.
pub async fn deprovision(runtime: &ConnectorRuntime, tenant: &TenantConfig, user_id: &str) -> Result<DeletionOutcome> {
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.deprovision_account(user_id).await, retries: retries)?;
    let outcome = match outcome {
        DeleteOutcome::Deleted => Deletion::Deleted,
        DeleteOutcome::NotFound => Deletion::NotFound,
    };
    note_lost_answer(tenant, retries, outcome.as_str());
    Ok(DeletionOutcome { outcome, user_id: user_id.to_owned() })
}

/// Changes the given fields of a user, and only those.
pub async fn update_account(
    runtime: &ConnectorRuntime,
    tenant: &TenantConfig,
    user_id: &str,
    changes: &AccountChanges,
) -> Result<AccountUpdateOutcome> {
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.update_account(user_id, changes).await)?;
    let (outcome, user) = update(outcome);
    Ok(AccountUpdateOutcome { outcome, user: resource_record(user)? })
}

/// Disables (`enabled` false) or enables a user.
pub async fn set_account_enabled(
    runtime: &ConnectorRuntime,
    tenant: &TenantConfig,
    user_id: &str,
    enabled: bool,
) -> Result<ActivationOutcome> {
    let retries;
    let outcome =
        run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.set_account_enabled(user_id, enabled).await, retries: retries)?;
    let change = match outcome.change {
        ActivationChange::Disabled => Activation::Disabled,
        ActivationChange::AlreadyDisabled => Activation::AlreadyDisabled,
        ActivationChange::Enabled => Activation::Enabled,
        ActivationChange::AlreadyEnabled => Activation::AlreadyEnabled,
    };
    let expected =
        if enabled { [Activation::Enabled, Activation::AlreadyEnabled] } else { [Activation::Disabled, Activation::AlreadyDisabled] };
    if !expected.contains(&change) {
        return Err(HostError::other(format!(
            "the connector answered {:?} when asked to {} user {user_id}; this is a connector bug, report it",
            change.as_str(),
            if enabled { "enable" } else { "disable" }
        )));
    }
    note_lost_answer(tenant, retries, change.as_str());
    Ok(ActivationOutcome { outcome: change, user: resource_record(outcome.user)? })
}

/// Creates a resource, or finds the one of its type with the same name.
pub async fn create_resource(runtime: &ConnectorRuntime, tenant: &TenantConfig, spec: &NewResource) -> Result<ResourceCreationOutcome> {
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.create_resource(spec).await, retries: retries)?;
    let (outcome, resource) = match outcome {
        CreateOutcome::Created(resource) => (AccountChange::Created, resource),
        CreateOutcome::AlreadyExists(resource) => (AccountChange::AlreadyExists, resource),
    };
    note_lost_answer(tenant, retries, outcome.as_str());
    Ok(ResourceCreationOutcome { outcome, resource: resource_record(resource)? })
}

/// Changes the given fields of a resource, and only those.
pub async fn update_resource(
    runtime: &ConnectorRuntime,
    tenant: &TenantConfig,
    target: &ResourceRef,
    changes: &ResourceChanges,
) -> Result<ResourceUpdateOutcome> {
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.update_resource(target, changes).await)?;
    let (outcome, resource) = update(outcome);
    Ok(ResourceUpdateOutcome { outcome, resource: resource_record(resource)? })
}

/// Deletes a resource.
pub async fn delete_resource(runtime: &ConnectorRuntime, tenant: &TenantConfig, target: &ResourceRef) -> Result<ResourceDeletionOutcome> {
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.delete_resource(target).await, retries: retries)?;
    let outcome = match outcome {
        DeleteOutcome::Deleted => Deletion::Deleted,
        DeleteOutcome::NotFound => Deletion::NotFound,
    };
    note_lost_answer(tenant, retries, outcome.as_str());
    Ok(ResourceDeletionOutcome { outcome, resource_type: target.resource_type.clone(), id: target.id.clone() })
}

fn update(outcome: UpdateOutcome) -> (Update, Resource) {
    match outcome {
        UpdateOutcome::Updated(resource) => (Update::Updated, resource),
        UpdateOutcome::Unchanged(resource) => (Update::Unchanged, resource),
    }
}

/// Grants an entitlement.
pub async fn grant(runtime: &ConnectorRuntime, tenant: &TenantConfig, entitlement: &str, principal: &str) -> Result<GrantingOutcome> {
    let principal = parse_principal(principal)?;
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.grant_entitlement(entitlement, &principal).await, retries: retries)?;
    let change = match outcome.change {
        GrantChange::Granted => Granting::Granted,
        GrantChange::Updated => Granting::Updated,
        GrantChange::AlreadyHeld => Granting::AlreadyHeld,
    };
    note_lost_answer(tenant, retries, change.as_str());
    Ok(GrantingOutcome { outcome: change, grant: grant_record(outcome.grant), replaced: outcome.replaced })
}

/// Revokes a grant.
pub async fn revoke(runtime: &ConnectorRuntime, tenant: &TenantConfig, grant: &str) -> Result<RevocationOutcome> {
    let retries;
    let outcome = run!(runtime, tenant, &Arc::new(RequestMeter::default()), |s| s.revoke_grant(grant).await, retries: retries)?;
    let change = match outcome.change {
        RevokeChange::Revoked => Revocation::Revoked,
        RevokeChange::NotHeld => Revocation::NotHeld,
    };
    note_lost_answer(tenant, retries, change.as_str());
    Ok(RevocationOutcome { outcome: change, grant: outcome.grant })
}

/// After a retry, a change that found nothing to do may be one an earlier attempt made before its
/// answer was lost; the outcome alone cannot tell, so a warning says so.
fn note_lost_answer(tenant: &TenantConfig, retries: u64, outcome: &str) {
    if retries > 0
        && matches!(outcome, "not_found" | "not_held" | "already_held" | "already_exists" | "already_disabled" | "already_enabled")
    {
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

fn resource_record(resource: Resource) -> Result<ResourceRecord> {
    let traits: Value = serde_json::from_str(&resource.traits_json)
        .map_err(|_| HostError::other(format!("the connector reported traits of {} that are not JSON", resource.id)))?;
    Ok(ResourceRecord { resource_type: resource.resource_type, id: resource.id, display_name: resource.display_name, traits })
}

fn grant_record(grant: Grant) -> GrantRecord {
    let principal = ResourceKey { resource_type: grant.principal.resource_type, id: grant.principal.id };
    GrantRecord { id: grant.id, entitlement: grant.entitlement, principal, expandable: grant.expandable }
}
