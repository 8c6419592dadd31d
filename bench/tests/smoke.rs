//! The benchmark's smoke run: every measurement runs, in seconds. It asserts that the run
//! completes and reports each row, not the figures (speed is measured by the full run).

#[test]
fn the_smoke_run_reports_every_measurement() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_connector-bench")).arg("--smoke").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    for row in [
        "concurrency 1: wall time",
        "concurrency 8: requests",
        "per 1,000 grants",
        "pooling on",
        "pooling off",
        "cached component",
        "tenants syncing at once",
        "host memory",
        "written as c1z",
        "component vs native",
        "strings out of the component",
        "every tenant synced once",
        "CPU per sync",
        "latency",
        "replicas on one PostgreSQL",
        "from any replica",
        "claim cost",
        "bytes per tenant-sync",
    ] {
        assert!(text.contains(row), "missing {row}: {text}");
    }
}

#[test]
fn an_unknown_row_group_is_refused_naming_the_groups() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_connector-bench")).args(["--only", "nope"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(
        text.trim(),
        "connector-bench: error: --only nope: no such row group; choose one of sync, sync-8, cpu, instantiation, startup, tenants, large, mapping, service, replicas"
    );
}
