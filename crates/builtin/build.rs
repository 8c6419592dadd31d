//! Builds every connector under `connectors/` for `wasm32-wasip2`, so that a plain `cargo build`
//! yields a command with its connectors inside. A folder `connectors/NAME` is the package
//! `connector-NAME` (ARCHITECTURE.md's naming rule); its component's path reaches the crate as
//! `CONNECTOR_WASM_NAME` (upper case, `-` as `_`).

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().and_then(|p| p.parent()).expect("crates/builtin is inside the workspace");
    let connectors = workspace.join("connectors");
    // A connector added or removed is a folder added or removed here.
    println!("cargo:rerun-if-changed={}", connectors.display());
    let mut names: Vec<String> = std::fs::read_dir(&connectors)
        .expect("the workspace has a connectors/ folder")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    let packages: Vec<(String, String)> = names.iter().map(|name| (format!("connectors/{name}"), format!("connector-{name}"))).collect();
    let borrowed: Vec<(&str, &str)> = packages.iter().map(|(folder, package)| (folder.as_str(), package.as_str())).collect();
    let wasm = connector_build_support::build_components(workspace, &borrowed);
    for (name, path) in names.iter().zip(wasm) {
        println!("cargo:rustc-env=CONNECTOR_WASM_{}={}", name.to_ascii_uppercase().replace('-', "_"), path.display());
    }
}
