//! Builds the built-in connectors for `wasm32-wasip2`, so that a plain `cargo build` yields a
//! command with its connectors inside.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().and_then(|p| p.parent()).expect("crates/builtin is inside the workspace");
    let wasm =
        component_build::build_components(workspace, &[("connectors/fivetran", "fivetran-plugin"), ("connectors/scim", "scim-plugin")]);
    println!("cargo:rustc-env=FIVETRAN_CONNECTOR_WASM={}", wasm[0].display());
    println!("cargo:rustc-env=SCIM_CONNECTOR_WASM={}", wasm[1].display());
}
