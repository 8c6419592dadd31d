//! Host bindings of the `accessgov:connector` WIT world.
//!
//! One module per contract version the host runs, and `latest`, the one the rest of the host
//! uses; a component of an older version runs through that version's adapter into `latest`
//! (`contract/v0_4.rs`). A component of a version the host does not run is refused at load time
//! with a message naming the versions it runs (see the runtime module).

/// The contract version this host implements.
pub const CONTRACT_VERSION: &str = "0.5.0";

/// The older versions it runs through adapters.
pub const OLDER_VERSIONS: &[&str] = &["0.4.0"];

/// The contract the host runs now.
pub use v0_5 as latest;

/// `accessgov:connector@0.5.0`: sync, provisioning (invite, delete, grant, revoke), the identity
/// lifecycle (update, disable and enable accounts; create, update and delete resources),
/// connectors that declare their credentials, base URL and rate-limit headers, and aliases by
/// which grants may name their principals.
pub mod v0_5 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "connector-world",
        exports: { default: async },
        additional_derives: [PartialEq],
    });

    pub use accessgov::connector::types;
}

/// `accessgov:connector@0.4.0`, run through `contract/v0_4.rs`.
pub mod v0_4 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.4.0",
        world: "connector-world",
        exports: { default: async },
        additional_derives: [PartialEq],
    });

    pub use accessgov::connector::types;
}
