//! The connector as the host calls it: [`Scim`] declares itself, and each call runs in a [`Client`],
//! which implements the SDK's capabilities by domain (`sync.rs`, `accounts.rs`, `groups.rs`,
//! `membership.rs`); exported through the SDK's WIT glue.

use connector_sdk::ConnectorComponent;
use connector_sdk::model::{AuthScheme, Capability, Config, Credential, Identity, Metadata, ResourceType, UserProfile};
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

impl ConnectorComponent for Scim {
    type Session<'a, T: Transport + 'a> = Client<'a, T>;

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

    fn session<T: Transport>(transport: &T, config: Config) -> Client<'_, T> {
        Client::new(transport, config)
    }
}
