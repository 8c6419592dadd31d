//! Host bindings of the `accessgov:connector` WIT world.
//!
//! One module per contract version the host runs. A component built against another version is
//! refused at load time with a message naming both versions (see [`crate::runtime`]).

/// The contract version this host implements.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// `accessgov:connector@0.2.0`: sync, and provisioning (invite, delete, grant, revoke).
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "connector-world",
        exports: { default: async },
        additional_derives: [PartialEq],
    });

    pub use accessgov::connector::types;
}
