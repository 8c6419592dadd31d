//! The host's layout, checked: its modules import each other without a cycle, and none of them
//! names a connector (the host knows none; connectors declare what they need).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module's source (in the layer folders too), without its tests and comments; a layer's
/// `mod.rs` only declares modules.
fn modules() -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    let mut folders = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let Some(name) = path.file_stem().and_then(|n| n.to_str()).filter(|_| path.extension().is_some_and(|e| e == "rs")) else {
                continue;
            };
            if name == "mod" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: Vec<&str> = code.lines().filter(|line| !line.trim_start().starts_with("//")).collect();
            assert!(modules.insert(name.to_owned(), code.join("\n")).is_none(), "two modules named {name}");
        }
    }
    modules
}

#[test]
fn the_host_is_in_layer_folders() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for layer in ["config", "contract", "sandbox", "network", "runs", "snapshots"] {
        assert!(src.join(layer).join("mod.rs").is_file(), "{layer}/");
    }
    let loose: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rs") && !["lib.rs", "error.rs", "text.rs"].contains(&n.as_str()))
        .collect();
    assert!(loose.is_empty(), "modules outside a layer: {loose:?}");
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

/// What connectors call their things: a host that matched on these would guess what only a
/// connector can say (what a type is, what an entitlement means, where a profile is).
const CONNECTOR_WORDS: &[&str] = &[
    "\"user\"",
    "\"team\"",
    "\"group\"",
    "\"role\"",
    "\"member\"",
    "\"manager\"",
    "\"assigned\"",
    "\"owner\"",
    "\"email\"",
    "\"login\"",
    "\"user_name\"",
];

#[test]
fn no_host_module_guesses_meaning_from_a_connectors_words() {
    for (name, code) in modules() {
        for word in CONNECTOR_WORDS {
            // Compared, matched or looked up: the host acting on a connector's word.
            let uses = [
                format!("== {word}"),
                format!("!= {word}"),
                format!("{word} =>"),
                format!("{word} |"),
                format!("| {word}"),
                format!(".get({word})"),
            ];
            for used in uses {
                assert!(!code.contains(&used), "{name}.rs acts on the connector word {word} ({used}): declare it in the contract instead");
            }
        }
    }
}

#[test]
fn only_the_contract_module_generates_wit_bindings() {
    for (name, code) in modules() {
        assert_eq!(code.contains("bindgen!"), name == "bindings", "{name}.rs");
    }
}
