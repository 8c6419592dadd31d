//! The host's layout, checked: its modules import each other without a cycle, and none of them
//! names a connector (the host knows none; connectors declare what they need).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module's source, without its tests and comments.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|n| n.to_str()).filter(|_| path.extension().is_some_and(|e| e == "rs")) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: Vec<&str> = code.lines().filter(|line| !line.trim_start().starts_with("//")).collect();
        modules.insert(name.to_owned(), code.join("\n"));
    }
    modules
}

/// The modules `code` imports from its crate.
fn imports(code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    code.split("crate::")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit()).collect::<String>())
        .filter(|name| known.contains(name))
        .collect()
}

#[test]
fn the_host_modules_import_each_other_without_a_cycle() {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let graph: BTreeMap<&str, BTreeSet<String>> =
        modules.iter().map(|(name, code)| (name.as_str(), imports(code, &known).into_iter().filter(|m| m != name).collect())).collect();
    // Kahn's algorithm: what cannot be ordered lies on a cycle.
    let mut remaining = graph.clone();
    loop {
        let free: Vec<&str> =
            remaining.iter().filter(|(_, deps)| deps.iter().all(|d| !remaining.contains_key(d.as_str()))).map(|(m, _)| *m).collect();
        if free.is_empty() {
            break;
        }
        for module in free {
            remaining.remove(module);
        }
    }
    assert!(remaining.is_empty(), "these modules import each other in a cycle: {remaining:#?}");
}

#[test]
fn no_host_module_names_a_connector() {
    for (name, code) in modules() {
        if name == "lib" {
            continue;
        }
        assert!(!code.to_ascii_lowercase().contains("fivetran"), "{name}.rs names Fivetran outside its documentation");
    }
}

#[test]
fn only_the_contract_module_generates_wit_bindings() {
    for (name, code) in modules() {
        assert_eq!(code.contains("bindgen!"), name == "bindings", "{name}.rs");
    }
}
