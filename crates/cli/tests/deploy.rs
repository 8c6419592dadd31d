//! `deploy/` agrees with the binary: the manifests of both modes (`single`: one process on SQLite;
//! `scale-out`: replicas on PostgreSQL) parse, and the ports, probe paths, flags, variable names
//! and paths they use are the ones `connector-host serve` has; the base keeps what both share.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn manifest(name: &str) -> Value {
    let text = std::fs::read_to_string(deploy().join("k8s").join(name)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// The long flags `connector-host serve --help` lists.
fn serve_flags() -> BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_connector-host")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout).into_owned();
    help.split_whitespace().filter(|w| w.starts_with("--")).map(|w| w.trim_end_matches(',').to_owned()).collect()
}

/// `--flag value` pairs of an argument list (a flag without a value maps to "").
fn flag_values(args: &[String]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = args.iter().peekable();
    while let Some(arg) = rest.next() {
        if arg.starts_with("--") {
            let value = rest.next_if(|v| !v.starts_with("--")).cloned().unwrap_or_default();
            pairs.push((arg.clone(), value));
        }
    }
    pairs
}

fn value_of<'a>(pairs: &'a [(String, String)], flag: &str) -> &'a str {
    &pairs.iter().find(|(f, _)| f == flag).unwrap_or_else(|| panic!("{flag} is given")).1
}

/// The pod template's first container, its arguments as flag-value pairs, and the pod spec.
fn serve_container(workload: &Value) -> (&Value, Vec<(String, String)>, &Value) {
    let pod = &workload["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<String> = container["args"].as_sequence().unwrap().iter().map(|a| text(a).to_owned()).collect();
    assert_eq!(args[0], "serve");
    let flags = serve_flags();
    let pairs = flag_values(&args);
    for (flag, _) in &pairs {
        assert!(flags.contains(flag), "{flag} is a flag of serve: {flags:?}");
    }
    (container, pairs, pod)
}

fn mount<'a>(container: &'a Value, name: &str) -> &'a str {
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    text(&mounts.iter().find(|m| text(&m["name"]) == name).unwrap_or_else(|| panic!("{name} mounted"))["mountPath"])
}

/// What both workloads keep alike: the port and probes, the tenant file from the ConfigMap, the
/// Secret's variables, a non-root read-only container with limits, and a grace Kubernetes waits out.
fn check_workload(workload: &Value) {
    let (container, pairs, pod) = serve_container(workload);
    let listen = value_of(&pairs, "--listen");
    let port: u64 = listen.rsplit(':').next().unwrap().parse().unwrap();
    let ports = container["ports"].as_sequence().unwrap();
    assert_eq!(ports[0]["containerPort"].as_u64(), Some(port));
    let port_name = text(&ports[0]["name"]);
    assert_eq!(text(&container["livenessProbe"]["httpGet"]["path"]), "/live");
    assert_eq!(text(&container["readinessProbe"]["httpGet"]["path"]), "/ready");
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        assert_eq!(text(&container[probe]["httpGet"]["port"]), port_name, "{probe}");
    }
    let tenants = value_of(&pairs, "--tenants");
    assert_eq!(Path::new(tenants).parent().unwrap(), Path::new(mount(container, "tenants")));
    let configmap = manifest("base/configmap.yaml");
    let file_name = Path::new(tenants).file_name().unwrap().to_str().unwrap();
    let config_name =
        text(&pod["volumes"].as_sequence().unwrap().iter().find(|v| text(&v["name"]) == "tenants").unwrap()["configMap"]["name"]);
    assert_eq!(config_name, text(&configmap["metadata"]["name"]));
    assert!(configmap["data"][file_name].is_string(), "the ConfigMap holds {file_name}");
    let secret = manifest("secret.example.yaml");
    assert_eq!(text(&container["envFrom"][0]["secretRef"]["name"]), text(&secret["metadata"]["name"]));
    assert_eq!(text(&container["image"]), "connector-host", "the base's images entry names the registry");

    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_ne!(pod["securityContext"]["runAsUser"].as_u64(), Some(0));
    if pod["securityContext"]["fsGroup"].is_u64() {
        // Otherwise the kubelet makes every file group-writable at each start, and the cache of
        // compiled components, no longer private, is not trusted: a recompile per start.
        assert_eq!(text(&pod["securityContext"]["fsGroupChangePolicy"]), "OnRootMismatch");
    }
    for kind in ["requests", "limits"] {
        assert!(container["resources"][kind]["cpu"].is_string() && container["resources"][kind]["memory"].is_string(), "{kind}");
    }
    let limit = text(&container["resources"]["limits"]["memory"]);
    let limit_mib: u64 =
        limit.strip_suffix("Gi").map(|g| g.parse::<u64>().unwrap() * 1024).unwrap_or_else(|| limit.trim_end_matches("Mi").parse().unwrap());
    let parallel: u64 = value_of(&pairs, "--max-parallel").parse().unwrap();
    let per_sync = connector_host::tenant::DEFAULT_MAX_SYNC_MIB + connector_host::tenant::DEFAULT_MEMORY_LIMIT_MIB;
    assert!(parallel * per_sync <= limit_mib, "{parallel} syncs of up to {per_sync} MiB fit in {limit}");
    let grace: u64 = value_of(&pairs, "--grace-s").parse().unwrap();
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > grace, "Kubernetes waits longer than the service's grace");
    assert!(pairs.iter().all(|(flag, _)| flag != "--shard"), "neither mode needs shards");
}

#[test]
fn the_single_process_keeps_its_sqlite_state_on_a_volume() {
    let set = manifest("single/statefulset.yaml");
    assert_eq!(text(&set["kind"]), "StatefulSet");
    assert_eq!(set["spec"]["replicas"].as_u64(), Some(1), "SQLite serves one process");
    check_workload(&set);
    let (container, pairs, _) = serve_container(&set);
    let state = mount(container, "state");
    assert_eq!(value_of(&pairs, "--state-dir"), state, "the state directory is the volume");
    assert!(value_of(&pairs, "--cache-dir").starts_with(state), "the cache is on the writable volume");
    assert!(set["spec"]["volumeClaimTemplates"].as_sequence().unwrap().iter().any(|c| text(&c["metadata"]["name"]) == "state"));
    assert_eq!(text(&set["spec"]["serviceName"]), text(&manifest("base/service.yaml")["metadata"]["name"]));
}

#[test]
fn the_replicas_share_postgresql_spread_out_and_leave_one_at_a_time() {
    let deployment = manifest("scale-out/deployment.yaml");
    assert_eq!(text(&deployment["kind"]), "Deployment");
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2);
    check_workload(&deployment);
    let (container, pairs, pod) = serve_container(&deployment);
    assert!(pairs.iter().all(|(flag, _)| flag != "--database" && flag != "--state-dir"), "the URL comes from the Secret");
    let secret = manifest("secret.example.yaml");
    assert!(secret["stringData"]["CONNECTOR_HOST_DATABASE_URL"].is_string(), "the variable --database is read from");
    assert_eq!(value_of(&pairs, "--replica-id"), "$(POD_NAME)");
    let env = container["env"].as_sequence().unwrap();
    assert!(env.iter().any(|e| text(&e["name"]) == "POD_NAME" && text(&e["valueFrom"]["fieldRef"]["fieldPath"]) == "metadata.name"));
    assert!(value_of(&pairs, "--cache-dir").starts_with(mount(container, "cache")));
    assert!(deployment["spec"]["volumeClaimTemplates"].is_null());
    let spread = pod["topologySpreadConstraints"].as_sequence().unwrap();
    let keys: BTreeSet<&str> = spread.iter().map(|c| text(&c["topologyKey"])).collect();
    assert!(keys.contains("kubernetes.io/hostname") && keys.contains("topology.kubernetes.io/zone"), "{keys:?}");
    let budget = manifest("scale-out/poddisruptionbudget.yaml");
    assert_eq!(budget["spec"]["selector"]["matchLabels"], deployment["spec"]["selector"]["matchLabels"]);
    assert_eq!(budget["spec"]["maxUnavailable"].as_u64(), Some(1));
    let database = manifest("scale-out/networkpolicy-database.yaml");
    assert_eq!(database["spec"]["egress"][0]["ports"][0]["port"].as_u64(), Some(5432));
}

#[test]
fn the_example_secret_holds_every_variable_and_serve_refuses_its_placeholder_token() {
    let secret = manifest("secret.example.yaml");
    let variables: BTreeSet<&str> = secret["stringData"].as_mapping().unwrap().keys().map(text).collect();
    assert!(variables.contains("CONNECTOR_HOST_API_TOKEN"), "the variable serve reads its token from");
    let configmap = manifest("base/configmap.yaml");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenants.toml");
    std::fs::write(&file, text(&configmap["data"]["tenants.toml"])).unwrap();
    let entries = connector_host::tenant::read_tenant_file(&file).expect("the ConfigMap's tenant file is valid");
    assert!(!entries.is_empty());
    for entry in &entries {
        for (key, variable) in &entry.credential_keys {
            if key.ends_with("_env") {
                assert!(variables.contains(variable.as_str()), "tenant {}: {key} = {variable} is in the Secret", entry.id);
            }
        }
    }
    let placeholder = text(&secret["stringData"]["CONNECTOR_HOST_API_TOKEN"]);
    let output = Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .args([
            "serve",
            "--tenants",
            file.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
            "--state-dir",
            dir.path().join("s").to_str().unwrap(),
        ])
        .env("CONNECTOR_HOST_API_TOKEN", placeholder)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("placeholder"), "{}", String::from_utf8_lossy(&output.stderr));
    for folder in ["base", "single", "scale-out"] {
        let kustomization = manifest(&format!("{folder}/kustomization.yaml"));
        let resources = kustomization["resources"].as_sequence().unwrap();
        assert!(resources.iter().all(|r| !text(r).contains("secret")), "{folder} never applies the example over real values");
        assert!(kustomization["secretGenerator"].is_null(), "{folder}");
    }
}

#[test]
fn the_base_sets_the_namespace_the_image_and_narrow_traffic() {
    let base = manifest("base/kustomization.yaml");
    let namespace = manifest("base/namespace.yaml");
    assert_eq!(text(&base["namespace"]), text(&namespace["metadata"]["name"]));
    assert_eq!(text(&namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]), "restricted");
    for overlay in ["single", "scale-out"] {
        let image = &manifest(&format!("{overlay}/kustomization.yaml"))["images"][0];
        assert_eq!(text(&image["name"]), "connector-host", "{overlay}");
        assert!(text(&image["newName"]).contains('/'), "a registry in {overlay}'s image name");
        assert_eq!(text(&image["newTag"]), env!("CARGO_PKG_VERSION"));
    }

    let set = manifest("single/statefulset.yaml");
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let port = container["ports"][0]["containerPort"].as_u64();
    let service = manifest("base/service.yaml");
    assert_eq!(text(&service["spec"]["ports"][0]["targetPort"]), text(&container["ports"][0]["name"]));
    assert_eq!(service["spec"]["selector"], set["spec"]["selector"]["matchLabels"]);
    let policy = manifest("base/networkpolicy.yaml");
    assert_eq!(policy["spec"]["podSelector"]["matchLabels"], set["spec"]["selector"]["matchLabels"]);
    let ingress = &policy["spec"]["ingress"][0];
    assert_eq!(ingress["ports"][0]["port"].as_u64(), port);
    let from = ingress["from"].as_sequence().expect("ingress only from named peers");
    assert!(from.iter().any(|peer| peer["namespaceSelector"]["matchLabels"].is_mapping()), "labelled namespaces");
    let mut egress: Vec<(String, u64)> = Vec::new();
    for rule in policy["spec"]["egress"].as_sequence().unwrap() {
        for p in rule["ports"].as_sequence().unwrap() {
            egress.push((text(&p["protocol"]).to_owned(), p["port"].as_u64().unwrap()));
        }
    }
    egress.sort();
    assert_eq!(egress, [("TCP".to_owned(), 53), ("TCP".to_owned(), 443), ("UDP".to_owned(), 53)]);

    for folder in ["base", "single", "scale-out"] {
        let kustomization = manifest(&format!("{folder}/kustomization.yaml"));
        let listed: BTreeSet<&str> =
            kustomization["resources"].as_sequence().unwrap().iter().map(text).filter(|r| *r != "../base").collect();
        let files: BTreeSet<String> = std::fs::read_dir(deploy().join("k8s").join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f != "kustomization.yaml")
            .collect();
        assert_eq!(listed, files.iter().map(String::as_str).collect(), "{folder}'s kustomization applies every manifest");
    }
}

#[test]
fn the_image_runs_serve_as_a_non_root_user_from_scratch() {
    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = dockerfile.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(froms.len() >= 2, "a multi-stage build");
    assert_eq!(froms.last().unwrap().trim(), "FROM scratch", "the final stage is empty but the binary");
    let user = dockerfile.lines().rfind(|l| l.starts_with("USER ")).unwrap();
    assert!(!user.contains(" 0") && !user.contains("root"), "{user}");
    let cmd = dockerfile.lines().find(|l| l.starts_with("CMD ")).unwrap();
    let args: Vec<String> = serde_json::from_str(cmd.trim_start_matches("CMD ")).unwrap();
    let flags = serve_flags();
    let pairs = flag_values(&args);
    for (flag, _) in &pairs {
        assert!(flags.contains(flag), "{flag}");
    }
    let port = value_of(&pairs, "--listen").rsplit(':').next().unwrap().to_owned();
    assert!(dockerfile.contains(&format!("EXPOSE {port}")));
    assert!(dockerfile.contains("--target x86_64-unknown-linux-musl"), "a static binary");
    assert!(dockerfile.contains("--no-default-features"), "the image leaves the demo's fake out");
    assert!(!dockerfile.lines().any(|l| l.starts_with("# syntax")), "no frontend fetched: air-gapped builds work");
    let toolchain = std::fs::read_to_string(deploy().join("../rust-toolchain.toml")).unwrap();
    let channel = toolchain.lines().find_map(|l| l.trim().strip_prefix("channel = ")).unwrap().trim_matches('"');
    assert!(froms[0].starts_with(&format!("FROM rust:{channel}-")), "the builder is the toolchain's exact version: {}", froms[0]);
}
