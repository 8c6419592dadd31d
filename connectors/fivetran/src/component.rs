//! The connector as the host calls it: [`Fivetran`] over [`Connector`], exported through the SDK's
//! WIT glue.

use connector_sdk::ConnectorComponent;
use connector_sdk::model::{
    AccountChanges, AccountInfo, ActivationOutcome, AuthScheme, Capability, Config, CreateOutcome, Credential, DeleteOutcome, Entitlement,
    GrantOutcome, Metadata, NewAccount, NewResource, Page, RateLimitHeaders, Resource, ResourceChanges, ResourceRef, Result, RevokeOutcome,
    UpdateOutcome,
};
use connector_sdk::transport::Transport;

use crate::connector::{self, Connector, RESOURCE_TYPES};

/// The Fivetran connector component.
pub struct Fivetran;

connector_sdk::export_connector!(Fivetran);

const CREDENTIALS: &[Credential] = &[
    Credential {
        name: "api_key",
        default_env: "FIVETRAN_API_KEY",
        description: "a Fivetran API key (Account Settings > API Key, or a system key)",
    },
    Credential { name: "api_secret", default_env: "FIVETRAN_API_SECRET", description: "the API key's secret" },
];

impl ConnectorComponent for Fivetran {
    fn metadata() -> Metadata {
        Metadata {
            name: connector::NAME,
            version: connector::VERSION,
            description: "Fivetran users, roles, teams and destinations, and the access between them",
            resource_types: RESOURCE_TYPES,
            capabilities: &[Capability::Sync, Capability::Provision],
            credentials: CREDENTIALS,
            auth: AuthScheme::Basic { user: "api_key", password: "api_secret" },
            default_base_url: Some(connector::DEFAULT_BASE_URL),
            rate_limit: Some(RateLimitHeaders { limit: "X-Rate-Limit", remaining: "X-Rate-Limit-Remaining", window_seconds: 3600 }),
            max_page_size: connector::MAX_PAGE_SIZE,
        }
    }

    fn validate(transport: &impl Transport, config: Config) -> Result<AccountInfo> {
        Connector::new(transport, config).validate()
    }

    fn list_resources(transport: &impl Transport, config: Config, resource_type: &str, token: Option<&str>) -> Result<Page> {
        Connector::new(transport, config).list_resources(resource_type, token)
    }

    fn list_entitlements(
        transport: &impl Transport,
        config: Config,
        resource: &Resource,
        related: &[Resource],
    ) -> Result<Vec<Entitlement>> {
        Connector::new(transport, config).list_entitlements(resource, related)
    }

    fn list_grants(transport: &impl Transport, config: Config, resource: &Resource, token: Option<&str>) -> Result<Page> {
        Connector::new(transport, config).list_grants(resource, token)
    }

    fn provision_account(transport: &impl Transport, config: Config, account: NewAccount) -> Result<CreateOutcome> {
        Connector::new(transport, config).provision(&account)
    }

    fn deprovision_account(transport: &impl Transport, config: Config, user_id: &str) -> Result<DeleteOutcome> {
        Connector::new(transport, config).deprovision(user_id)
    }

    fn update_account(transport: &impl Transport, config: Config, user_id: &str, changes: AccountChanges) -> Result<UpdateOutcome> {
        Connector::new(transport, config).update_account(user_id, &changes)
    }

    fn set_account_enabled(transport: &impl Transport, config: Config, user_id: &str, enabled: bool) -> Result<ActivationOutcome> {
        Connector::new(transport, config).set_account_enabled(user_id, enabled)
    }

    fn create_resource(transport: &impl Transport, config: Config, spec: NewResource) -> Result<CreateOutcome> {
        Connector::new(transport, config).create_resource(&spec)
    }

    fn update_resource(
        transport: &impl Transport,
        config: Config,
        target: &ResourceRef,
        changes: ResourceChanges,
    ) -> Result<UpdateOutcome> {
        Connector::new(transport, config).update_resource(target, &changes)
    }

    fn delete_resource(transport: &impl Transport, config: Config, target: &ResourceRef) -> Result<DeleteOutcome> {
        Connector::new(transport, config).delete_resource(target)
    }

    fn grant_entitlement(transport: &impl Transport, config: Config, entitlement: &str, principal: &ResourceRef) -> Result<GrantOutcome> {
        Connector::new(transport, config).grant(entitlement, principal)
    }

    fn revoke_grant(transport: &impl Transport, config: Config, grant: &str) -> Result<RevokeOutcome> {
        Connector::new(transport, config).revoke(grant)
    }
}
