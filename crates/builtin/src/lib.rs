//! The connectors built into `connector-host`: the one place a built-in connector is registered.
//! A connector is a WebAssembly component of the `accessgov:connector` world; it declares its
//! credentials, base URL and rate-limit headers itself, so registering it is one line here
//! (`build.rs` builds every folder under `connectors/`).

/// A built-in connector: its name (`--connector NAME`, tenant key `connector`) and component.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    pub component: &'static [u8],
}

/// Every built-in connector; the first is the default.
pub const BUILTIN: &[Builtin] = &[
    Builtin { name: "fivetran", component: include_bytes!(env!("CONNECTOR_WASM_FIVETRAN")) },
    Builtin { name: "scim", component: include_bytes!(env!("CONNECTOR_WASM_SCIM")) },
];

/// The connector a tenant gets when it names none.
pub const DEFAULT: &str = "fivetran";

/// The built-in connector called `name`.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|builtin| builtin.name == name)
}

/// The names of the built-in connectors, for messages: `fivetran, scim`.
pub fn names() -> String {
    BUILTIN.iter().map(|builtin| builtin.name).collect::<Vec<_>>().join(", ")
}

/// The Fivetran connector component.
pub fn fivetran() -> &'static [u8] {
    find("fivetran").expect("registered above").component
}

/// The SCIM 2.0 connector component.
pub fn scim() -> &'static [u8] {
    find("scim").expect("registered above").component
}
