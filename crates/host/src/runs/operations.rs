//! Running changes: each verb in a session of its own with the tenant's retry policy, and
//! [`apply`], which runs any [`Change`] (what the command line and the service parse into).
//!
//! Changes are retried only as safely as the connector allows: each connector operation reads
//! before it writes, so running it again after a 429, a 5xx or a lost answer finds what the
//! first attempt did instead of doing it twice.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::ConnectorRuntime;
use crate::attempt::run;
use crate::bindings::latest::types::{
    AccountChanges, ActivationChange, CreateOutcome, DeleteOutcome, Grant, GrantChange, NewAccount, NewResource, Resource, ResourceChanges,
    ResourceRef, RevokeChange, UpdateOutcome,
};
use crate::error::{HostError, Result};
use crate::http::RequestMeter;
use crate::snapshot::{GrantRecord, ResourceKey, ResourceRecord};
use crate::tenant::TenantConfig;

pub use crate::change::{Change, parse_principal};
pub use crate::outcome::*;
pub use crate::validate::{ReadCheck, Validation, validate};

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
    note_lost_answer(tenant, retries, outcome.as_str(), outcome.found_made());
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
    note_lost_answer(tenant, retries, outcome.as_str(), outcome.found_made());
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
    note_lost_answer(tenant, retries, change.as_str(), change.found_made());
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
    note_lost_answer(tenant, retries, outcome.as_str(), outcome.found_made());
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
    note_lost_answer(tenant, retries, outcome.as_str(), outcome.found_made());
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
    note_lost_answer(tenant, retries, change.as_str(), change.found_made());
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
    note_lost_answer(tenant, retries, change.as_str(), change.found_made());
    Ok(RevocationOutcome { outcome: change, grant: outcome.grant })
}

/// After a retry, a change that found nothing to do may be one an earlier attempt made before its
/// answer was lost; the outcome alone cannot tell, so a warning says so.
fn note_lost_answer(tenant: &TenantConfig, retries: u64, outcome: &str, found_made: bool) {
    if retries > 0 && found_made {
        let retries = if retries == 1 { "1 retry".to_owned() } else { format!("{retries} retries") };
        tracing::warn!(tenant = %tenant.id, "{outcome} after {retries}: an earlier attempt whose answer was lost may have made this change itself");
    }
}

/// Runs `change` against the tenant's connector, checked first (see [`Change::check`]), and
/// reports what the service holds afterwards.
pub async fn apply(runtime: &ConnectorRuntime, tenant: &TenantConfig, change: &Change) -> Result<ChangeOutcome> {
    change.check()?;
    Ok(match change.clone() {
        Change::Provision { email, given_name, family_name, role, phone } => {
            let account = NewAccount { email, given_name, family_name, account_role: role, phone };
            ChangeOutcome::Account(provision(runtime, tenant, account).await?)
        }
        Change::Deprovision { user_id } => ChangeOutcome::Deletion(deprovision(runtime, tenant, &user_id).await?),
        Change::UpdateAccount { user_id, given_name, family_name, phone, role } => {
            let changes = AccountChanges { given_name, family_name, phone, account_role: role };
            ChangeOutcome::AccountUpdate(update_account(runtime, tenant, &user_id, &changes).await?)
        }
        Change::DisableAccount { user_id } => ChangeOutcome::Activation(set_account_enabled(runtime, tenant, &user_id, false).await?),
        Change::EnableAccount { user_id } => ChangeOutcome::Activation(set_account_enabled(runtime, tenant, &user_id, true).await?),
        Change::CreateResource { resource_type, name, description, role } => {
            let spec = NewResource { resource_type, name, description, account_role: role };
            ChangeOutcome::ResourceCreation(create_resource(runtime, tenant, &spec).await?)
        }
        Change::UpdateResource { resource_type, id, name, description, role } => {
            let target = ResourceRef { resource_type, id };
            let changes = ResourceChanges { name, description, account_role: role };
            ChangeOutcome::ResourceUpdate(update_resource(runtime, tenant, &target, &changes).await?)
        }
        Change::DeleteResource { resource_type, id } => {
            ChangeOutcome::ResourceDeletion(delete_resource(runtime, tenant, &ResourceRef { resource_type, id }).await?)
        }
        Change::Grant { entitlement, principal } => ChangeOutcome::Granting(grant(runtime, tenant, &entitlement, &principal).await?),
        Change::Revoke { grant: id } => ChangeOutcome::Revocation(revoke(runtime, tenant, &id).await?),
    })
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
