//! Builds the Fivetran plugin for `wasm32-wasip2` so that a plain `cargo build` yields a host
//! with its default component built in. The plugin has its own target directory: the outer
//! cargo holds a lock on the workspace's.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("host/ is inside the workspace").to_path_buf();
    for watched in ["plugin/src", "plugin/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    let target_dir = workspace.join("target").join("component");
    let wasm = build_component(&workspace, &target_dir, "fivetran-plugin", "fivetran_plugin");
    println!("cargo:rustc-env=FIVETRAN_PLUGIN_WASM={}", wasm.display());
}

/// rustup installs the targets `rust-toolchain.toml` names only with a toolchain it installs;
/// when the toolchain was already there, add the target here so `cargo` alone is enough.
fn ensure_wasm_target() {
    const TARGET: &str = "wasm32-wasip2";
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

fn build_component(workspace: &Path, target_dir: &Path, package: &str, artifact: &str) -> PathBuf {
    ensure_wasm_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--package", package, "--target", "wasm32-wasip2", "--profile", "component"])
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's settings are for the host, not for the component.
    for variable in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER", "CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"] {
        command.env_remove(variable);
    }
    for (name, _) in std::env::vars() {
        if name.starts_with("CARGO_FEATURE_") || name.starts_with("CARGO_CFG_") || name.starts_with("CARGO_PROFILE_") {
            command.env_remove(name);
        }
    }
    let status = command.status().unwrap_or_else(|e| panic!("cannot run cargo to build {package}: {e}"));
    if !status.success() {
        panic!(
            "building {package} for wasm32-wasip2 failed ({status}); if the target is missing, run `rustup target add wasm32-wasip2` (rust-toolchain.toml names it)"
        );
    }
    target_dir.join("wasm32-wasip2").join("component").join(format!("{artifact}.wasm"))
}
