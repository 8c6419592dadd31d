//! Host bindings of the `accessgov:connector` WIT world, one module per contract version.

/// `accessgov:connector@0.1.0`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "connector-world",
        exports: { default: async },
        additional_derives: [PartialEq],
    });

    pub use accessgov::connector::types;
}
