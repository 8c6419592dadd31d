//! A second connector, as small as a connector gets: a "clubs" API with members, read with a
//! bearer token the host applies (`MINIMAL_TOKEN`, tenant keys `token_env`/`token_file`).
//!
//! | request | answer |
//! |---|---|
//! | `GET /members` | `[{"id": "m1", "name": "Ann"}, …]` |
//! | `GET /clubs` | `[{"id": "c1", "name": "Chess"}, …]` |
//! | `GET /clubs/{id}/members` | `["m1", …]` |
//!
//! Resource types `member` and `club`; each club offers `club:C:member`, held by its members.
//! It proves that the host runs a connector it knows nothing of: no line of the host names it.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "connector-world",
    });

    use accessgov::connector::types as wit;
    use exports::accessgov::connector::connector::Guest;
    use serde_json::Value;

    struct Minimal;

    export!(Minimal);

    fn get(cfg: &wit::Config, path: &str) -> Result<Value, wit::ConnectorError> {
        let upstream = |message: String, status: Option<u16>| {
            wit::ConnectorError::Upstream(wit::UpstreamError { status, code: None, message: format!("GET {path}: {message}") })
        };
        let response = waki::Client::new()
            .get(&format!("{}{path}", cfg.base_url))
            .header("Accept", "application/json")
            .send()
            .map_err(|e| upstream(e.to_string(), None))?;
        let status = response.status_code();
        if status == 401 || status == 403 {
            return Err(wit::ConnectorError::Unauthorized(format!("GET {path} answered {status}")));
        }
        if status != 200 {
            return Err(upstream(format!("answered {status}"), Some(status)));
        }
        let body = response.body().map_err(|e| upstream(e.to_string(), None))?;
        serde_json::from_slice(&body).map_err(|e| upstream(format!("not JSON: {e}"), Some(status)))
    }

    fn text(item: &Value, field: &str) -> String {
        item.get(field).and_then(Value::as_str).unwrap_or_default().to_owned()
    }

    fn resource(resource_type: &str, item: &Value) -> wit::Resource {
        wit::Resource {
            resource_type: resource_type.into(),
            id: text(item, "id"),
            display_name: text(item, "name"),
            traits_json: "{}".into(),
        }
    }

    fn page(resources: Vec<wit::Resource>, grants: Vec<wit::Grant>) -> wit::Page {
        wit::Page { resources, entitlements: vec![], grants, next_page_token: None }
    }

    fn unsupported<T>() -> Result<T, wit::ConnectorError> {
        Err(wit::ConnectorError::Unsupported("the minimal connector only reads".into()))
    }

    impl Guest for Minimal {
        fn metadata() -> wit::ConnectorMetadata {
            let resource_type =
                |id: &str, name: &str| wit::ResourceType { id: id.into(), display_name: name.into(), entitlements_need: vec![] };
            wit::ConnectorMetadata {
                name: "minimal".into(),
                version: "0.1.0".into(),
                description: "clubs and their members".into(),
                resource_types: vec![resource_type("member", "Member"), resource_type("club", "Club")],
                capabilities: vec![wit::Capability::Sync],
                credentials: vec![wit::Credential {
                    name: "token".into(),
                    default_env: "MINIMAL_TOKEN".into(),
                    description: "a clubs API token".into(),
                }],
                auth: wit::AuthScheme::Bearer("token".into()),
                default_base_url: None,
                rate_limit: None,
                max_page_size: 50,
            }
        }

        fn validate(cfg: wit::Config) -> Result<wit::AccountInfo, wit::ConnectorError> {
            get(&cfg, "/members")?;
            Ok(wit::AccountInfo { account_id: "clubs".into(), account_name: None, key_kind: wit::KeyKind::Unknown, key_owner: None })
        }

        fn list_resources(cfg: wit::Config, resource_type: String, _: Option<String>) -> Result<wit::Page, wit::ConnectorError> {
            let path = match resource_type.as_str() {
                "member" => "/members",
                "club" => "/clubs",
                other => return Err(wit::ConnectorError::InvalidArgument(format!("no resource type {other}"))),
            };
            let items = get(&cfg, path)?;
            let items = items.as_array().cloned().unwrap_or_default();
            Ok(page(items.iter().map(|item| resource(&resource_type, item)).collect(), vec![]))
        }

        fn list_entitlements(
            _: wit::Config,
            club: wit::Resource,
            _: Vec<wit::Resource>,
        ) -> Result<Vec<wit::Entitlement>, wit::ConnectorError> {
            if club.resource_type != "club" {
                return Ok(vec![]);
            }
            Ok(vec![wit::Entitlement {
                id: format!("club:{}:member", club.id),
                resource: wit::ResourceRef { resource_type: "club".into(), id: club.id.clone() },
                slug: "member".into(),
                display_name: format!("{} member", club.display_name),
                grantable_to: vec!["member".into()],
            }])
        }

        fn list_grants(cfg: wit::Config, club: wit::Resource, _: Option<String>) -> Result<wit::Page, wit::ConnectorError> {
            if club.resource_type != "club" {
                return Ok(page(vec![], vec![]));
            }
            let members = get(&cfg, &format!("/clubs/{}/members", club.id))?;
            let entitlement = format!("club:{}:member", club.id);
            let grants = members
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|member| wit::Grant {
                    id: format!("{entitlement}:member:{member}"),
                    entitlement: entitlement.clone(),
                    principal: wit::ResourceRef { resource_type: "member".into(), id: member.into() },
                    expandable: vec![],
                })
                .collect();
            Ok(page(vec![], grants))
        }

        fn provision_account(_: wit::Config, _: wit::NewAccount) -> Result<wit::ProvisionOutcome, wit::ConnectorError> {
            unsupported()
        }

        fn deprovision_account(_: wit::Config, _: String) -> Result<wit::DeprovisionOutcome, wit::ConnectorError> {
            unsupported()
        }

        fn grant_entitlement(_: wit::Config, _: String, _: wit::ResourceRef) -> Result<wit::GrantOutcome, wit::ConnectorError> {
            unsupported()
        }

        fn revoke_grant(_: wit::Config, _: String) -> Result<wit::RevokeOutcome, wit::ConnectorError> {
            unsupported()
        }
    }
}
