//! Builds the Fivetran plugin for `wasm32-wasip2`, so that a plain `cargo build` yields a host
//! with its default component built in.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("host/ is inside the workspace");
    let wasm = component_build::build_components(workspace, &[("plugin", "fivetran-plugin")]);
    println!("cargo:rustc-env=FIVETRAN_PLUGIN_WASM={}", wasm[0].display());
}
