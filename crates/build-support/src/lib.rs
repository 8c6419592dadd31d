//! Builds workspace crates as WASI Preview 2 components from a build script, so that a plain
//! `cargo build` or `cargo test` yields them with no step beside it.
//!
//! The components get their own target directory: the outer cargo holds a lock on the
//! workspace's. The `wasm32-wasip2` target is installed through rustup when it is missing
//! (rustup adds the targets `rust-toolchain.toml` names only when it installs the toolchain).

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "component";

/// Builds `packages` (the member's folder relative to `workspace`, and its package name) and
/// returns each `.wasm` path, in order. Reruns when the packages' sources, `wit/`, the connector
/// SDK they build on, the lock file, the toolchain or the components' build flags
/// (`.cargo/config.toml`) change.
pub fn build_components(workspace: &Path, packages: &[(&str, &str)]) -> Vec<PathBuf> {
    for watched in ["wit", "crates/sdk", "Cargo.lock", "Cargo.toml", ".cargo/config.toml", "rust-toolchain.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    ensure_target();
    let target_dir = workspace.join("target").join("component");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace).args(["build", "--target", TARGET, "--profile", PROFILE]).arg("--target-dir").arg(&target_dir);
    for (folder, package) in packages {
        command.args(["--package", package]);
        println!("cargo:rerun-if-changed={}", workspace.join(folder).display());
    }
    // The outer build's settings are for the host, not for the components.
    for variable in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        command.env_remove(variable);
    }
    for (name, _) in std::env::vars() {
        if name.starts_with("CARGO_FEATURE_") || name.starts_with("CARGO_CFG_") || name.starts_with("CARGO_PROFILE_") {
            command.env_remove(name);
        }
    }
    let status = command.status().unwrap_or_else(|e| panic!("cannot run cargo to build the components: {e}"));
    if !status.success() {
        panic!("building {packages:?} for {TARGET} failed ({status}); see the errors above");
    }
    // A cdylib's file is named after its package, with `-` as `_`.
    packages.iter().map(|(_, package)| target_dir.join(TARGET).join(PROFILE).join(format!("{}.wasm", package.replace('-', "_")))).collect()
}

fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output().ok().filter(|o| o.status.success());
    let Some(sysroot) = sysroot.map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())) else { return };
    if sysroot.join("lib").join("rustlib").join(TARGET).is_dir() {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    match rustup.status() {
        Ok(status) if status.success() => {}
        _ => panic!("the {TARGET} target is not installed and `rustup target add {TARGET}` failed; install it and build again"),
    }
}
