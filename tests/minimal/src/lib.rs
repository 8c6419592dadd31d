//! A second connector, as small as a connector gets: a "clubs" API with members, read with a
//! bearer token the host applies (`MINIMAL_TOKEN`, tenant keys `token_env`/`token_file`).
//!
//! | request | answer |
//! |---|---|
//! | `GET /members` | `[{"id": "m1", "name": "Ann"}, …]` |
//! | `GET /clubs` | `[{"id": "c1", "name": "Chess"}, …]` |
//! | `GET /clubs/{id}/members` | `["m1", …]` |
//!
//! Resource types `member` and `club`; each club offers `club:C:member`, held by its members. It
//! proves that the host runs a connector it knows nothing of (no line of the host names it), and
//! shows the SDK: the connector is this file, a [`Syncer`] that changes nothing (its managers keep
//! the SDK's defaults, which answer `unsupported`).

use connector_sdk::model::{
    AccountInfo, AuthScheme, Capability, Config, ConnectorError, Credential, Entitlement, Grant, Identity, KeyKind, Metadata, Page,
    Resource, ResourceRef, ResourceType, Result, UserProfile,
};
use connector_sdk::transport::{ApiRequest, Transport};
use connector_sdk::{AccountManager, ConnectorComponent, GrantManager, ResourceManager, Syncer};
use serde_json::Value;

pub struct Minimal;

connector_sdk::export_connector!(Minimal);

/// One call of the host: the transport and the call's config.
pub struct Clubs<'a, T: Transport> {
    transport: &'a T,
    config: Config,
}

fn get(transport: &impl Transport, config: &Config, path: &str) -> Result<Value> {
    let request = ApiRequest::json("GET", path.to_owned(), None);
    let upstream =
        |message: String, status: Option<u16>| ConnectorError::Upstream { status, code: None, message: format!("GET {path}: {message}") };
    let response = transport.send(&config.base_url, &request).map_err(|e| upstream(format!("{e:?}"), None))?;
    match response.status {
        200 => serde_json::from_slice(&response.body).map_err(|e| upstream(format!("not JSON: {e}"), Some(200))),
        401 | 403 => Err(ConnectorError::Unauthorized(format!("GET {path} answered {}", response.status))),
        status => Err(upstream(format!("answered {status}"), Some(status))),
    }
}

fn text(item: &Value, field: &str) -> String {
    item.get(field).and_then(Value::as_str).unwrap_or_default().to_owned()
}

impl ConnectorComponent for Minimal {
    type Session<'a, T: Transport + 'a> = Clubs<'a, T>;

    fn metadata() -> Metadata {
        Metadata {
            name: "minimal",
            version: "0.1.0",
            description: "clubs and their members",
            resource_types: &[
                ResourceType { id: "member", display_name: "Member", entitlements_need: &[], identity: Identity::User(UserProfile::NONE) },
                ResourceType { id: "club", display_name: "Club", entitlements_need: &[], identity: Identity::Group },
            ],
            capabilities: &[Capability::Sync],
            credentials: &[Credential { name: "token", default_env: "MINIMAL_TOKEN", description: "a clubs API token" }],
            auth: AuthScheme::Bearer("token"),
            default_base_url: None,
            rate_limit: None,
            max_page_size: 50,
        }
    }

    fn session<T: Transport>(transport: &T, config: Config) -> Clubs<'_, T> {
        Clubs { transport, config }
    }
}

impl<T: Transport> Syncer for Clubs<'_, T> {
    fn validate(&self) -> Result<AccountInfo> {
        get(self.transport, &self.config, "/members")?;
        Ok(AccountInfo { account_id: "clubs".into(), account_name: None, key_kind: KeyKind::Unknown, key_owner: None })
    }

    fn list_resources(&self, resource_type: &str, _: Option<&str>) -> Result<Page> {
        let path = match resource_type {
            "member" => "/members",
            "club" => "/clubs",
            other => return Err(ConnectorError::InvalidArgument(format!("no resource type {other}"))),
        };
        let items = get(self.transport, &self.config, path)?;
        let resources = items
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| Resource {
                resource_type: resource_type.into(),
                id: text(item, "id"),
                display_name: text(item, "name"),
                traits: "{}".into(),
                aliases: Vec::new(),
            })
            .collect();
        Ok(Page { resources, ..Page::default() })
    }

    fn list_entitlements(&self, club: &Resource, _: &[Resource]) -> Result<Vec<Entitlement>> {
        if club.resource_type != "club" {
            return Ok(vec![]);
        }
        let this = ResourceRef::new("club", &club.id);
        Ok(vec![Entitlement::new(this, "member", format!("{} member", club.display_name), &["member"]).assignment()])
    }

    fn list_grants(&self, club: &Resource, _: Option<&str>) -> Result<Page> {
        if club.resource_type != "club" {
            return Ok(Page::default());
        }
        let members = get(self.transport, &self.config, &format!("/clubs/{}/members", club.id))?;
        let entitlement = format!("club:{}:member", club.id);
        let grants = members
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|member| Grant::new(&entitlement, ResourceRef::new("member", member), Vec::new()))
            .collect();
        Ok(Page { grants, ..Page::default() })
    }
}

// It changes nothing: the SDK's defaults answer every change `unsupported`.
impl<T: Transport> AccountManager for Clubs<'_, T> {}
impl<T: Transport> ResourceManager for Clubs<'_, T> {}
impl<T: Transport> GrantManager for Clubs<'_, T> {}
