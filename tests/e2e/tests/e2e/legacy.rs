//! A connector of contract 0.4.0 keeps running: the host loads it through its adapter into the
//! latest contract, syncs it, and changes access through it; what 0.4.0 cannot say (a type's
//! identity, an entitlement's purpose, aliases) it says nothing of.

use std::sync::OnceLock;

use connector_e2e::{exit_status, runtime};
use connector_host::bindings::latest::types::Identity;
use connector_host::operations::{grant, to_json};
use connector_host::{ConnectorRuntime, Credentials, TenantConfig, sync};

fn legacy() -> &'static ConnectorRuntime {
    static RUNTIME: OnceLock<ConnectorRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let bytes = std::fs::read(env!("LEGACY_COMPONENT_WASM")).expect("the 0.4.0 component was built");
        ConnectorRuntime::new(runtime().engine_ref(), &bytes).expect("a 0.4.0 component loads")
    })
}

fn tenant() -> TenantConfig {
    TenantConfig::new("legacy", "https://legacy.example", Credentials::bearer("legacy-token-0123456789"))
}

#[tokio::test]
async fn a_connector_of_contract_0_4_syncs_and_changes_through_the_adapter() {
    let metadata = legacy().metadata().await.unwrap();
    assert_eq!((metadata.name.as_str(), metadata.version.as_str()), ("legacy", "0.4.0"));
    assert!(metadata.resource_types.iter().all(|t| t.identity == Identity::Other), "0.4.0 declares no identity");

    let snapshot = sync(legacy(), &tenant()).await.expect("it syncs");
    let grants: Vec<&str> = snapshot.grants.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(grants, ["circle:c1:member:person:p1", "circle:c1:member:person:p2", "circle:c2:member:person:p2"]);
    assert_eq!(snapshot.resources.len(), 4);
    assert!(snapshot.entitlements.iter().all(|e| e.purpose.is_none()), "no purpose where none was said");
    assert!(snapshot.resource_types.iter().all(|t| t.identity.is_none()));

    let granted = grant(legacy(), &tenant(), "circle:c2:member", "person:p1").await.map(|o| to_json(&o)).unwrap();
    assert_eq!((granted["outcome"].as_str(), granted["grant"]["id"].as_str()), (Some("granted"), Some("circle:c2:member:person:p1")));
    let error = connector_host::operations::revoke(legacy(), &tenant(), "circle:c2:member:person:p1").await.unwrap_err();
    assert_eq!(exit_status(&error), 2, "unsupported, as it said: {error}");
}
