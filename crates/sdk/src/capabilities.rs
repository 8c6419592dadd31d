//! What a connector can do, as traits: the component declares itself and opens a session for each
//! call; the session is a [`Syncer`] (required), and an [`AccountManager`], a [`ResourceManager`]
//! and a [`GrantManager`], whose changes default to `unsupported` (a connector that cannot make one
//! writes an empty `impl`, or says what can instead). The WIT glue calls the session: a connector
//! writes no forwarders.

use crate::model::{
    AccountChanges, AccountInfo, ActivationOutcome, Config, ConnectorError, CreateOutcome, DeleteOutcome, Entitlement, GrantOutcome,
    Metadata, NewAccount, NewResource, Page, Resource, ResourceChanges, ResourceRef, Result, RevokeOutcome, UpdateOutcome,
};
use crate::transport::Transport;

/// A connector component: what it declares, and the session each call of the host runs in.
pub trait ConnectorComponent {
    /// One call's connector: the transport and the call's config (base URL, page size).
    type Session<'a, T: Transport + 'a>: Syncer + AccountManager + ResourceManager + GrantManager;

    /// Its name, resource types, credentials and how they are applied, base URL, limits.
    fn metadata() -> Metadata;

    /// The session a call runs in, over `transport`.
    fn session<T: Transport>(transport: &T, config: Config) -> Self::Session<'_, T>;
}

/// Reading the account: one API request per listing call (a page of a listing, a resource's
/// entitlements, a page of its grants).
pub trait Syncer {
    fn validate(&self) -> Result<AccountInfo>;
    fn list_resources(&self, resource_type: &str, token: Option<&str>) -> Result<Page>;
    fn list_entitlements(&self, resource: &Resource, related: &[Resource]) -> Result<Vec<Entitlement>>;
    fn list_grants(&self, resource: &Resource, token: Option<&str>) -> Result<Page>;
}

/// Changing user accounts. Each change reads back what the service holds afterwards.
pub trait AccountManager {
    fn provision_account(&self, _account: &NewAccount) -> Result<CreateOutcome> {
        Err(unsupported("provision-account"))
    }
    fn deprovision_account(&self, _user_id: &str) -> Result<DeleteOutcome> {
        Err(unsupported("deprovision-account"))
    }
    fn update_account(&self, _user_id: &str, _changes: &AccountChanges) -> Result<UpdateOutcome> {
        Err(unsupported("update-account"))
    }
    fn set_account_enabled(&self, _user_id: &str, _enabled: bool) -> Result<ActivationOutcome> {
        Err(unsupported("set-account-enabled"))
    }
}

/// Creating, changing and deleting resources (teams, groups).
pub trait ResourceManager {
    fn create_resource(&self, _spec: &NewResource) -> Result<CreateOutcome> {
        Err(unsupported("create-resource"))
    }
    fn update_resource(&self, _target: &ResourceRef, _changes: &ResourceChanges) -> Result<UpdateOutcome> {
        Err(unsupported("update-resource"))
    }
    fn delete_resource(&self, _target: &ResourceRef) -> Result<DeleteOutcome> {
        Err(unsupported("delete-resource"))
    }
}

/// Granting entitlements and revoking grants.
pub trait GrantManager {
    fn grant_entitlement(&self, _entitlement: &str, _principal: &ResourceRef) -> Result<GrantOutcome> {
        Err(unsupported("grant-entitlement"))
    }
    fn revoke_grant(&self, _grant: &str) -> Result<RevokeOutcome> {
        Err(unsupported("revoke-grant"))
    }
}

fn unsupported(operation: &str) -> ConnectorError {
    ConnectorError::Unsupported(format!("this connector does not implement {operation}"))
}
