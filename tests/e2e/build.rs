//! Builds the hostile test component for `wasm32-wasip2`; the tests find it through
//! `HOSTILE_COMPONENT_WASM`.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().and_then(|p| p.parent()).expect("tests/e2e is inside the workspace");
    let wasm = component_build::build_components(workspace, &[("tests/hostile", "hostile-connector")]);
    println!("cargo:rustc-env=HOSTILE_COMPONENT_WASM={}", wasm[0].display());
}
