//! The connector as the host calls it: [`Scim`] over [`Client`], exported through the SDK's WIT
//! glue.

use connector_sdk::ConnectorComponent;
use connector_sdk::model::{
    AccountChanges, AccountInfo, ActivationOutcome, AuthScheme, Capability, Config, CreateOutcome, Credential, DeleteOutcome, Entitlement,
    GrantOutcome, Identity, Metadata, NewAccount, NewResource, Page, Resource, ResourceChanges, ResourceRef, ResourceType, Result,
    RevokeOutcome, UpdateOutcome, UserProfile,
};
use connector_sdk::transport::Transport;

use crate::client::Client;
use crate::ids::{GROUP, ROLE, USER};

/// The SCIM connector component.
pub struct Scim;

connector_sdk::export_connector!(Scim);

pub const NAME: &str = "scim";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The page size asked for; servers cap it lower as they please (Entra ID and Okta serve 100).
pub const MAX_PAGE_SIZE: u32 = 100;

/// Users first: their listing reveals the roles they hold.
pub const RESOURCE_TYPES: &[ResourceType] = &[
    ResourceType { id: USER, display_name: "User", entitlements_need: &[], identity: Identity::User(USER_PROFILE) },
    ResourceType { id: GROUP, display_name: "Group", entitlements_need: &[], identity: Identity::Group },
    ResourceType { id: ROLE, display_name: "Role", entitlements_need: &[], identity: Identity::Role },
];

/// Where a user's traits (CONTRACT section 6) hold its profile.
const USER_PROFILE: UserProfile = UserProfile {
    email: Some("email"),
    login: Some("user_name"),
    status: Some("status"),
    given_name: Some("given_name"),
    family_name: Some("family_name"),
    last_login: None,
    created_at: None,
};

const CREDENTIALS: &[Credential] = &[Credential {
    name: "token",
    default_env: "SCIM_TOKEN",
    description: "the SCIM service's bearer token (for Fivetran: Account Settings > General > SCIM Config)",
}];

fn client<T: Transport>(transport: &T, config: Config) -> Client<'_, T> {
    Client::new(transport, config)
}

impl ConnectorComponent for Scim {
    fn metadata() -> Metadata {
        Metadata {
            name: NAME,
            version: VERSION,
            description: "Users, groups and roles of any SCIM 2.0 service (RFC 7643/7644), and the access between them",
            resource_types: RESOURCE_TYPES,
            capabilities: &[Capability::Sync, Capability::Provision],
            credentials: CREDENTIALS,
            auth: AuthScheme::Bearer("token"),
            default_base_url: None,
            rate_limit: None,
            max_page_size: MAX_PAGE_SIZE,
        }
    }

    fn validate(transport: &impl Transport, config: Config) -> Result<AccountInfo> {
        client(transport, config).validate()
    }

    fn list_resources(transport: &impl Transport, config: Config, resource_type: &str, token: Option<&str>) -> Result<Page> {
        client(transport, config).list_resources(resource_type, token)
    }

    fn list_entitlements(
        transport: &impl Transport,
        config: Config,
        resource: &Resource,
        _related: &[Resource],
    ) -> Result<Vec<Entitlement>> {
        client(transport, config).list_entitlements(resource)
    }

    fn list_grants(transport: &impl Transport, config: Config, resource: &Resource, token: Option<&str>) -> Result<Page> {
        client(transport, config).list_grants(resource, token)
    }

    fn provision_account(transport: &impl Transport, config: Config, account: NewAccount) -> Result<CreateOutcome> {
        client(transport, config).provision(&account)
    }

    fn deprovision_account(transport: &impl Transport, config: Config, user_id: &str) -> Result<DeleteOutcome> {
        client(transport, config).deprovision(user_id)
    }

    fn update_account(transport: &impl Transport, config: Config, user_id: &str, changes: AccountChanges) -> Result<UpdateOutcome> {
        client(transport, config).update_account(user_id, &changes)
    }

    fn set_account_enabled(transport: &impl Transport, config: Config, user_id: &str, enabled: bool) -> Result<ActivationOutcome> {
        client(transport, config).set_account_enabled(user_id, enabled)
    }

    fn create_resource(transport: &impl Transport, config: Config, spec: NewResource) -> Result<CreateOutcome> {
        client(transport, config).create_group(&spec)
    }

    fn update_resource(
        transport: &impl Transport,
        config: Config,
        target: &ResourceRef,
        changes: ResourceChanges,
    ) -> Result<UpdateOutcome> {
        client(transport, config).update_group(target, &changes)
    }

    fn delete_resource(transport: &impl Transport, config: Config, target: &ResourceRef) -> Result<DeleteOutcome> {
        client(transport, config).delete_group(target)
    }

    fn grant_entitlement(transport: &impl Transport, config: Config, entitlement: &str, principal: &ResourceRef) -> Result<GrantOutcome> {
        client(transport, config).grant(entitlement, principal)
    }

    fn revoke_grant(transport: &impl Transport, config: Config, grant: &str) -> Result<RevokeOutcome> {
        client(transport, config).revoke(grant)
    }
}
