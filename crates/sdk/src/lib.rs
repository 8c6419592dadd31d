//! The guest side every connector shares: the model a connector reports in ([`model`]), its one
//! way out ([`transport`], over `wasi:http` through `waki` in a component, canned answers in unit
//! tests: [`testing`]), the parsing policy ([`lenient`]), bounded cursor walks ([`paging`]), a
//! fast JSON writer for traits ([`json`]), an allocator tuned for page-sized work ([`heap`]), and
//! the WIT glue: implement [`ConnectorComponent`] (what the connector declares, and a session per
//! call that implements [`Syncer`] and, where it can change things, [`AccountManager`],
//! [`ResourceManager`] and [`GrantManager`]) and call [`export_connector!`].
//!
//! Everything but the glue is plain Rust, so a connector's logic is unit-tested natively; the glue
//! exists only when the crate is built for `wasm32-wasip2`.

pub mod capabilities;
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

pub use capabilities::{AccountManager, ConnectorComponent, GrantManager, ResourceManager, Syncer};

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
