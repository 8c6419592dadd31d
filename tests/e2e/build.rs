//! Builds the test components for `wasm32-wasip2` (the hostile one, a second, minimal
//! connector, and one of contract 0.4.0); the tests find them through `HOSTILE_COMPONENT_WASM`,
//! `MINIMAL_COMPONENT_WASM` and `LEGACY_COMPONENT_WASM`.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().and_then(|p| p.parent()).expect("tests/e2e is inside the workspace");
    let wasm = connector_build_support::build_components(
        workspace,
        &[("tests/hostile", "connector-hostile"), ("tests/minimal", "connector-minimal"), ("tests/legacy", "connector-legacy")],
    );
    println!("cargo:rustc-env=HOSTILE_COMPONENT_WASM={}", wasm[0].display());
    println!("cargo:rustc-env=MINIMAL_COMPONENT_WASM={}", wasm[1].display());
    println!("cargo:rustc-env=LEGACY_COMPONENT_WASM={}", wasm[2].display());
}
