//! The guest side every connector shares: the model a connector reports in ([`model`]), its one
//! way out ([`transport`], over `wasi:http` through `waki` in a component, canned answers in unit
//! tests: [`testing`]), the parsing policy ([`lenient`]), bounded cursor walks ([`paging`]), a
//! fast JSON writer for traits ([`json`]), an allocator tuned for page-sized work ([`heap`]), and
//! the WIT glue: implement [`ConnectorComponent`] and call [`export_connector!`].
//!
//! Everything but the glue is plain Rust, so a connector's logic is unit-tested natively; the glue
//! exists only when the crate is built for `wasm32-wasip2`.

pub mod checks;
pub mod heap;
pub mod json;
pub mod lenient;
pub mod model;
pub mod paging;
pub mod testing;
pub mod transport;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod glue;

use model::{
    AccountChanges, AccountInfo, ActivationOutcome, ConnectorError, CreateOutcome, DeleteOutcome, Entitlement, GrantOutcome, Metadata,
    NewAccount, NewResource, Page, Resource, ResourceChanges, ResourceRef, Result, RevokeOutcome, UpdateOutcome,
};
use transport::Transport;

/// A connector as the host calls it: one API request per listing call, over any [`Transport`].
/// The changes default to `unsupported`; a connector that cannot do one says what can.
pub trait ConnectorComponent {
    fn metadata() -> Metadata;
    fn validate(transport: &impl Transport, config: model::Config) -> Result<AccountInfo>;
    fn list_resources(transport: &impl Transport, config: model::Config, resource_type: &str, token: Option<&str>) -> Result<Page>;
    fn list_entitlements(
        transport: &impl Transport,
        config: model::Config,
        resource: &Resource,
        related: &[Resource],
    ) -> Result<Vec<Entitlement>>;
    fn list_grants(transport: &impl Transport, config: model::Config, resource: &Resource, token: Option<&str>) -> Result<Page>;

    fn provision_account(_: &impl Transport, _: model::Config, _: NewAccount) -> Result<CreateOutcome> {
        Err(unsupported("provision-account"))
    }
    fn deprovision_account(_: &impl Transport, _: model::Config, _: &str) -> Result<DeleteOutcome> {
        Err(unsupported("deprovision-account"))
    }
    fn update_account(_: &impl Transport, _: model::Config, _: &str, _: AccountChanges) -> Result<UpdateOutcome> {
        Err(unsupported("update-account"))
    }
    fn set_account_enabled(_: &impl Transport, _: model::Config, _: &str, _: bool) -> Result<ActivationOutcome> {
        Err(unsupported("set-account-enabled"))
    }
    fn create_resource(_: &impl Transport, _: model::Config, _: NewResource) -> Result<CreateOutcome> {
        Err(unsupported("create-resource"))
    }
    fn update_resource(_: &impl Transport, _: model::Config, _: &ResourceRef, _: ResourceChanges) -> Result<UpdateOutcome> {
        Err(unsupported("update-resource"))
    }
    fn delete_resource(_: &impl Transport, _: model::Config, _: &ResourceRef) -> Result<DeleteOutcome> {
        Err(unsupported("delete-resource"))
    }
    fn grant_entitlement(_: &impl Transport, _: model::Config, _: &str, _: &ResourceRef) -> Result<GrantOutcome> {
        Err(unsupported("grant-entitlement"))
    }
    fn revoke_grant(_: &impl Transport, _: model::Config, _: &str) -> Result<RevokeOutcome> {
        Err(unsupported("revoke-grant"))
    }
}

fn unsupported(operation: &str) -> ConnectorError {
    ConnectorError::Unsupported(format!("this connector does not implement {operation}"))
}

/// Exports `$connector`, a type implementing [`ConnectorComponent`], as the component's
/// `accessgov:connector` interface. Call it once, in the connector's crate root; it does nothing
/// outside `wasm32`.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Exports;
            impl $crate::glue::Guest for Exports {
                fn metadata() -> $crate::glue::wit::ConnectorMetadata {
                    $crate::glue::metadata(<$connector as $crate::ConnectorComponent>::metadata())
                }
                fn validate(cfg: $crate::glue::wit::Config) -> Result<$crate::glue::wit::AccountInfo, $crate::glue::wit::ConnectorError> {
                    $crate::glue::validate::<$connector>(cfg)
                }
                fn list_resources(
                    cfg: $crate::glue::wit::Config,
                    resource_type: String,
                    token: Option<String>,
                ) -> Result<$crate::glue::wit::Page, $crate::glue::wit::ConnectorError> {
                    $crate::glue::list_resources::<$connector>(cfg, resource_type, token)
                }
                fn list_entitlements(
                    cfg: $crate::glue::wit::Config,
                    resource: $crate::glue::wit::Resource,
                    related: Vec<$crate::glue::wit::Resource>,
                ) -> Result<Vec<$crate::glue::wit::Entitlement>, $crate::glue::wit::ConnectorError> {
                    $crate::glue::list_entitlements::<$connector>(cfg, resource, related)
                }
                fn list_grants(
                    cfg: $crate::glue::wit::Config,
                    resource: $crate::glue::wit::Resource,
                    token: Option<String>,
                ) -> Result<$crate::glue::wit::Page, $crate::glue::wit::ConnectorError> {
                    $crate::glue::list_grants::<$connector>(cfg, resource, token)
                }
                fn provision_account(
                    cfg: $crate::glue::wit::Config,
                    account: $crate::glue::wit::NewAccount,
                ) -> Result<$crate::glue::wit::CreateOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::provision_account::<$connector>(cfg, account)
                }
                fn deprovision_account(
                    cfg: $crate::glue::wit::Config,
                    user_id: String,
                ) -> Result<$crate::glue::wit::DeleteOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::deprovision_account::<$connector>(cfg, user_id)
                }
                fn update_account(
                    cfg: $crate::glue::wit::Config,
                    user_id: String,
                    changes: $crate::glue::wit::AccountChanges,
                ) -> Result<$crate::glue::wit::UpdateOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::update_account::<$connector>(cfg, user_id, changes)
                }
                fn set_account_enabled(
                    cfg: $crate::glue::wit::Config,
                    user_id: String,
                    enabled: bool,
                ) -> Result<$crate::glue::wit::ActivationOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::set_account_enabled::<$connector>(cfg, user_id, enabled)
                }
                fn create_resource(
                    cfg: $crate::glue::wit::Config,
                    spec: $crate::glue::wit::NewResource,
                ) -> Result<$crate::glue::wit::CreateOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::create_resource::<$connector>(cfg, spec)
                }
                fn update_resource(
                    cfg: $crate::glue::wit::Config,
                    target: $crate::glue::wit::ResourceRef,
                    changes: $crate::glue::wit::ResourceChanges,
                ) -> Result<$crate::glue::wit::UpdateOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::update_resource::<$connector>(cfg, target, changes)
                }
                fn delete_resource(
                    cfg: $crate::glue::wit::Config,
                    target: $crate::glue::wit::ResourceRef,
                ) -> Result<$crate::glue::wit::DeleteOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::delete_resource::<$connector>(cfg, target)
                }
                fn grant_entitlement(
                    cfg: $crate::glue::wit::Config,
                    entitlement: String,
                    principal: $crate::glue::wit::ResourceRef,
                ) -> Result<$crate::glue::wit::GrantOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::grant_entitlement::<$connector>(cfg, entitlement, principal)
                }
                fn revoke_grant(
                    cfg: $crate::glue::wit::Config,
                    grant: String,
                ) -> Result<$crate::glue::wit::RevokeOutcome, $crate::glue::wit::ConnectorError> {
                    $crate::glue::revoke_grant::<$connector>(cfg, grant)
                }
            }
    $crate::glue::export!(Exports with_types_in $crate::glue::bindings);
        };
    };
}
