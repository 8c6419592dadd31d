//! The connector as the host calls it: [`Fivetran`] declares itself, and each call runs in a
//! [`Connector`], which implements the SDK's capabilities by domain (`connector.rs` the listings,
//! `accounts.rs`, `teams.rs`, `grants.rs`); exported through the SDK's WIT glue.

use connector_sdk::ConnectorComponent;
use connector_sdk::model::{AuthScheme, Capability, Config, Credential, Metadata, RateLimitHeaders};
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
    type Session<'a, T: Transport + 'a> = Connector<'a, T>;

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

    fn session<T: Transport>(transport: &T, config: Config) -> Connector<'_, T> {
        Connector::new(transport, config)
    }
}
