//! `deploy/` agrees with the binary: the manifests parse, and the ports, probe paths, flags,
//! variable names and paths they use are the ones `connector-host serve` has.

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

#[test]
fn the_statefulset_runs_serve_with_flags_ports_probes_and_paths_the_binary_has() {
    let set = manifest("statefulset.yaml");
    assert_eq!(text(&set["kind"]), "StatefulSet");
    let pod = &set["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<String> = container["args"].as_sequence().unwrap().iter().map(|a| text(a).to_owned()).collect();
    assert_eq!(args[0], "serve");
    let flags = serve_flags();
    let pairs = flag_values(&args);
    for (flag, _) in &pairs {
        assert!(flags.contains(flag), "{flag} is a flag of serve: {flags:?}");
    }
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

    let mounts = container["volumeMounts"].as_sequence().unwrap();
    let mount = |name: &str| {
        text(&mounts.iter().find(|m| text(&m["name"]) == name).unwrap_or_else(|| panic!("{name} mounted"))["mountPath"]).to_owned()
    };
    let state = mount("state");
    assert_eq!(value_of(&pairs, "--state-dir"), state, "the state directory is the volume");
    assert!(value_of(&pairs, "--cache-dir").starts_with(&state), "the cache is on the writable volume");
    assert!(set["spec"]["volumeClaimTemplates"].as_sequence().unwrap().iter().any(|c| text(&c["metadata"]["name"]) == "state"));
    let tenants = value_of(&pairs, "--tenants");
    assert_eq!(Path::new(tenants).parent().unwrap(), Path::new(&mount("tenants")));
    let configmap = manifest("configmap.yaml");
    let file_name = Path::new(tenants).file_name().unwrap().to_str().unwrap();
    let config_name =
        text(&pod["volumes"].as_sequence().unwrap().iter().find(|v| text(&v["name"]) == "tenants").unwrap()["configMap"]["name"]);
    assert_eq!(config_name, text(&configmap["metadata"]["name"]));
    assert!(configmap["data"][file_name].is_string(), "the ConfigMap holds {file_name}");

    // The shard is the pod's ordinal out of the replicas.
    let env = container["env"].as_sequence().unwrap();
    let replicas = env.iter().find(|e| text(&e["name"]) == "REPLICAS").unwrap();
    assert_eq!(text(&replicas["value"]).parse::<u64>().ok(), set["spec"]["replicas"].as_u64());
    assert_eq!(value_of(&pairs, "--shard"), "$(POD_NAME)/$(REPLICAS)");

    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_ne!(pod["securityContext"]["runAsUser"].as_u64(), Some(0));
    for kind in ["requests", "limits"] {
        assert!(container["resources"][kind]["cpu"].is_string() && container["resources"][kind]["memory"].is_string(), "{kind}");
    }
    let grace: u64 = value_of(&pairs, "--grace-s").parse().unwrap();
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > grace, "Kubernetes waits longer than the service's grace");
}

#[test]
fn the_secret_holds_every_variable_the_tenant_file_and_the_service_read() {
    let secret = manifest("secret.yaml");
    let set = manifest("statefulset.yaml");
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(text(&container["envFrom"][0]["secretRef"]["name"]), text(&secret["metadata"]["name"]));
    let variables: BTreeSet<&str> = secret["stringData"].as_mapping().unwrap().keys().map(text).collect();
    assert!(variables.contains("CONNECTOR_HOST_API_TOKEN"), "the variable serve reads its token from");

    let configmap = manifest("configmap.yaml");
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
}

#[test]
fn the_service_and_network_policy_expose_the_api_port_and_allow_only_https_and_dns_out() {
    let set = manifest("statefulset.yaml");
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let port = container["ports"][0]["containerPort"].as_u64();
    let service = manifest("service.yaml");
    assert_eq!(text(&service["spec"]["ports"][0]["targetPort"]), text(&container["ports"][0]["name"]));
    assert_eq!(service["spec"]["selector"], set["spec"]["selector"]["matchLabels"]);
    assert_eq!(text(&set["spec"]["serviceName"]), text(&service["metadata"]["name"]));

    let policy = manifest("networkpolicy.yaml");
    assert_eq!(policy["spec"]["podSelector"]["matchLabels"], set["spec"]["selector"]["matchLabels"]);
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"].as_u64(), port);
    let mut egress: Vec<(String, u64)> = Vec::new();
    for rule in policy["spec"]["egress"].as_sequence().unwrap() {
        assert!(rule["to"].is_null(), "no destination rule widens it");
        for p in rule["ports"].as_sequence().unwrap() {
            egress.push((text(&p["protocol"]).to_owned(), p["port"].as_u64().unwrap()));
        }
    }
    egress.sort();
    assert_eq!(egress, [("TCP".to_owned(), 53), ("TCP".to_owned(), 443), ("UDP".to_owned(), 53)]);

    let kustomization = manifest("kustomization.yaml");
    let listed: BTreeSet<&str> = kustomization["resources"].as_sequence().unwrap().iter().map(text).collect();
    let files: BTreeSet<String> = std::fs::read_dir(deploy().join("k8s"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, files.iter().map(String::as_str).collect(), "kustomization applies every manifest");
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
}
