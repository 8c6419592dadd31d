//! A connector built against `accessgov:connector@0.4.0` (`wit/v0.4.0`), as a connector published
//! before 0.5.0 is: the host must keep running it through its adapter. It serves a fixed
//! directory without sending a request: people, circles, and who is in which; granting a
//! membership answers `granted`; the rest is unsupported.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../../wit/v0.4.0",
        world: "connector-world",
    });

    use accessgov::connector::types as wit;
    use exports::accessgov::connector::connector::Guest;

    struct Legacy;

    export!(Legacy);

    const PEOPLE: &[(&str, &str)] = &[("p1", "Ada"), ("p2", "Grace")];
    const CIRCLES: &[(&str, &str, &[&str])] = &[("c1", "Readers", &["p1", "p2"]), ("c2", "Writers", &["p2"])];

    fn reference(resource_type: &str, id: &str) -> wit::ResourceRef {
        wit::ResourceRef { resource_type: resource_type.into(), id: id.into() }
    }

    fn membership(circle: &str, person: &str) -> wit::Grant {
        wit::Grant {
            id: format!("circle:{circle}:member:person:{person}"),
            entitlement: format!("circle:{circle}:member"),
            principal: reference("person", person),
            expandable: vec![],
        }
    }

    fn unsupported() -> wit::ConnectorError {
        wit::ConnectorError::Unsupported("legacy".into())
    }

    impl Guest for Legacy {
        fn metadata() -> wit::ConnectorMetadata {
            let kind = |id: &str, name: &str| wit::ResourceType { id: id.into(), display_name: name.into(), entitlements_need: vec![] };
            wit::ConnectorMetadata {
                name: "legacy".into(),
                version: "0.4.0".into(),
                description: "a connector of contract 0.4.0".into(),
                resource_types: vec![kind("person", "Person"), kind("circle", "Circle")],
                capabilities: vec![wit::Capability::Sync, wit::Capability::Provision],
                credentials: vec![wit::Credential {
                    name: "token".into(),
                    default_env: "LEGACY_TOKEN".into(),
                    description: "a token".into(),
                }],
                auth: wit::AuthScheme::Bearer("token".into()),
                default_base_url: Some("https://legacy.example".into()),
                rate_limit: None,
                max_page_size: 100,
            }
        }

        fn validate(cfg: wit::Config) -> Result<wit::AccountInfo, wit::ConnectorError> {
            Ok(wit::AccountInfo {
                account_id: cfg.base_url,
                account_name: Some("Legacy".into()),
                key_kind: wit::KeyKind::Unknown,
                key_owner: None,
            })
        }

        fn list_resources(_: wit::Config, resource_type: String, _: Option<String>) -> Result<wit::Page, wit::ConnectorError> {
            let resource = |id: &str, name: &str| wit::Resource {
                resource_type: resource_type.clone(),
                id: id.into(),
                display_name: name.into(),
                traits_json: "{}".into(),
            };
            let (resources, grants) = match resource_type.as_str() {
                "person" => (PEOPLE.iter().map(|(id, name)| resource(id, name)).collect(), vec![]),
                "circle" => (
                    CIRCLES.iter().map(|(id, name, _)| resource(id, name)).collect(),
                    CIRCLES.iter().flat_map(|(id, _, members)| members.iter().map(move |m| membership(id, m))).collect(),
                ),
                other => return Err(wit::ConnectorError::InvalidArgument(format!("no resource type {other}"))),
            };
            Ok(wit::Page { resources, entitlements: vec![], grants, next_page_token: None })
        }

        fn list_entitlements(
            _: wit::Config,
            resource: wit::Resource,
            _: Vec<wit::Resource>,
        ) -> Result<Vec<wit::Entitlement>, wit::ConnectorError> {
            if resource.resource_type != "circle" {
                return Ok(vec![]);
            }
            Ok(vec![wit::Entitlement {
                id: format!("circle:{}:member", resource.id),
                resource: reference("circle", &resource.id),
                slug: "member".into(),
                display_name: format!("{} member", resource.display_name),
                grantable_to: vec!["person".into()],
            }])
        }

        fn list_grants(_: wit::Config, _: wit::Resource, _: Option<String>) -> Result<wit::Page, wit::ConnectorError> {
            Ok(wit::Page { resources: vec![], entitlements: vec![], grants: vec![], next_page_token: None })
        }

        fn provision_account(_: wit::Config, _: wit::NewAccount) -> Result<wit::CreateOutcome, wit::ConnectorError> {
            Err(unsupported())
        }

        fn deprovision_account(_: wit::Config, _: String) -> Result<wit::DeleteOutcome, wit::ConnectorError> {
            Err(unsupported())
        }

        fn update_account(_: wit::Config, _: String, _: wit::AccountChanges) -> Result<wit::UpdateOutcome, wit::ConnectorError> {
            Err(unsupported())
        }

        fn set_account_enabled(_: wit::Config, _: String, _: bool) -> Result<wit::ActivationOutcome, wit::ConnectorError> {
            Err(unsupported())
        }

        fn create_resource(_: wit::Config, _: wit::NewResource) -> Result<wit::CreateOutcome, wit::ConnectorError> {
            Err(unsupported())
        }

        fn update_resource(
            _: wit::Config,
            _: wit::ResourceRef,
            _: wit::ResourceChanges,
        ) -> Result<wit::UpdateOutcome, wit::ConnectorError> {
            Err(unsupported())
        }

        fn delete_resource(_: wit::Config, _: wit::ResourceRef) -> Result<wit::DeleteOutcome, wit::ConnectorError> {
            Err(unsupported())
        }

        fn grant_entitlement(
            _: wit::Config,
            entitlement: String,
            principal: wit::ResourceRef,
        ) -> Result<wit::GrantOutcome, wit::ConnectorError> {
            let circle = entitlement
                .strip_prefix("circle:")
                .and_then(|e| e.strip_suffix(":member"))
                .ok_or_else(|| wit::ConnectorError::InvalidArgument(format!("entitlement {entitlement} is not circle:ID:member")))?;
            Ok(wit::GrantOutcome { grant: membership(circle, &principal.id), change: wit::GrantChange::Granted, replaced: None })
        }

        fn revoke_grant(_: wit::Config, _: String) -> Result<wit::RevokeOutcome, wit::ConnectorError> {
            Err(unsupported())
        }
    }
}
