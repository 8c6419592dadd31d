//! The `connector-host` command line as a user runs it: exit statuses, one-line errors, and
//! snapshots that are written whole or not at all. The real component runs in the real host
//! against the fake over loopback.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use connector_fake_fivetran::{Account, AccountSpec, FakeFivetran, Fault, FaultRule, generate};

fn fake() -> (FakeFivetran, Account) {
    let account = generate(&AccountSpec::sized(31, 120, 6, 4));
    (FakeFivetran::start(account.clone()).unwrap(), account)
}

/// Runs the binary with only the given credential variables set.
fn run(args: &[&str], key: Option<(&str, &str)>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connector-host"));
    command
        .args(args)
        .env_remove("FIVETRAN_API_KEY")
        .env_remove("FIVETRAN_API_SECRET")
        .env_remove("RUST_LOG")
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
    if let Some((k, s)) = key {
        command.env("FIVETRAN_API_KEY", k).env("FIVETRAN_API_SECRET", s);
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The error line: the last line of stderr, alone on its line.
fn error_line(output: &Output) -> String {
    let text = stderr(output);
    let line = text.lines().last().unwrap_or_default().to_owned();
    assert!(line.starts_with("connector-host: error: "), "stderr ends with one error line: {text}");
    line
}

fn key(account: &Account) -> (&str, &str) {
    (&account.primary_key().key, &account.primary_key().secret)
}

#[test]
fn sync_writes_a_snapshot_and_exits_0() {
    let (fake, account) = fake();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let url = fake.base_url();
    let output = run(&["sync", "--out", out.to_str().unwrap(), "--base-url", &url, "--allow-private-network"], Some(key(&account)));
    assert!(output.status.success(), "{}", stderr(&output));
    let snapshot: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(snapshot["format"], "connector-snapshot/v1");
    assert_eq!(snapshot["tenant"], "default");
    assert_eq!(snapshot["resources"].as_array().unwrap().iter().filter(|r| r["type"] == "user").count(), 120);
    assert!(stdout(&output).contains(&format!("snapshot written to {}", out.display())));
}

fn assert_old_file_kept(out: &Path) {
    assert_eq!(std::fs::read_to_string(out).unwrap(), "old snapshot", "a failed sync leaves the old file as it was");
    let leftovers = std::fs::read_dir(out.parent().unwrap()).unwrap().count();
    assert_eq!(leftovers, 1, "and no temporary file");
}

#[test]
fn wrong_credentials_exit_3_and_keep_the_old_snapshot() {
    let (fake, account) = fake();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    std::fs::write(&out, "old snapshot").unwrap();
    let url = fake.base_url();
    let output = run(
        &["sync", "--out", out.to_str().unwrap(), "--base-url", &url, "--allow-private-network"],
        Some((&account.primary_key().key, "not-the-secret")),
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let line = error_line(&output);
    assert!(line.contains("401") && line.contains("FIVETRAN_API_KEY"), "{line}");
    assert!(!stderr(&output).contains("not-the-secret"));
    assert_old_file_kept(&out);
}

#[test]
fn a_malformed_answer_exits_4_and_keeps_the_old_snapshot() {
    let (fake, account) = fake();
    fake.inject(FaultRule::new("/v1/groups", 1, Fault::Malformed).after(1));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    std::fs::write(&out, "old snapshot").unwrap();
    let url = fake.base_url();
    let output = run(&["sync", "--out", out.to_str().unwrap(), "--base-url", &url, "--allow-private-network"], Some(key(&account)));
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(error_line(&output).contains("GET /v1/groups/"), "{}", stderr(&output));
    assert_old_file_kept(&out);
}

#[test]
fn missing_credentials_exit_2_naming_the_variable() {
    let output = run(&["sync", "--out", "x.json"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("FIVETRAN_API_KEY"));
}

#[test]
fn bad_flags_and_urls_exit_2() {
    let output = run(&["sync", "--bogus"], Some(("k", "s")));
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(error_line(&output).contains("unexpected argument '--bogus' found; usage: connector-host sync"), "{}", stderr(&output));
    let output = run(&["deprovision", "--user", "u1"], Some(("k", "s")));
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("a similar argument exists: '--user-id'"), "{}", stderr(&output));
    let output = run(&["grant", "--entitlement", "team:t1:member"], Some(("k", "s")));
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("not provided: --principal <TYPE:ID>"), "{}", stderr(&output));
    let output = run(&["sync", "--help"], None);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("Usage: connector-host sync"));
    let output = run(&["validate", "--base-url", "ftp://example.com"], Some(("k", "s")));
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("--base-url"));
    let output = run(
        &["sync", "--out", "/nonexistent-folder/x.json", "--base-url", "http://127.0.0.1:9"],
        Some(("a-long-enough-key", "a-long-enough-secret")),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("does not exist"));
}

#[test]
fn a_bad_plugin_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("plugin.wasm");
    std::fs::write(&plugin, b"not wasm").unwrap();
    let output = run(&["validate", "--plugin", plugin.to_str().unwrap()], Some(("k", "s")));
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("not a loadable WebAssembly component"));
}

/// `--component` and the tenant key `component` name a component file; `--plugin` and `plugin`,
/// their earlier names, still do.
#[test]
fn a_component_file_is_named_by_component_or_by_its_earlier_name_plugin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.wasm"), b"not wasm").unwrap();
    let file = dir.path().join("bad.wasm");
    for flag in ["--component", "--plugin"] {
        let output = run(&["validate", flag, file.to_str().unwrap()], Some(("k", "s")));
        assert_eq!(output.status.code(), Some(2), "{flag}");
        assert!(error_line(&output).contains("not a loadable WebAssembly component"), "{flag}: {}", stderr(&output));
    }
    for key in ["component", "plugin"] {
        let tenant = dir.path().join(format!("{key}.toml"));
        std::fs::write(&tenant, format!("[[tenant]]\nid = \"a\"\n{key} = \"bad.wasm\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\n"))
            .unwrap();
        let output = run(&["validate", "--tenant", tenant.to_str().unwrap()], None);
        assert_eq!(output.status.code(), Some(2), "{key}");
        assert!(error_line(&output).contains("not a loadable WebAssembly component"), "{key}: {}", stderr(&output));
    }
}

#[test]
fn loopback_without_the_flag_exits_5_naming_the_origin_and_the_flag() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let output = run(&["validate", "--base-url", &url], Some(key(&account)));
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let line = error_line(&output);
    assert!(line.contains(url.as_str()) && line.contains("--allow-private-network"), "{line}");
    assert!(fake.requests().is_empty());
}

#[test]
fn validate_names_the_account_and_the_key_kind() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let output = run(&["validate", "--base-url", &url, "--allow-private-network"], Some(key(&account)));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains(&account.account_id) && text.contains(&account.account_name), "{text}");
    assert!(text.contains("user key"), "{text}");
    let system = &account.api_keys[1];
    let output = run(&["validate", "--base-url", &url, "--allow-private-network"], Some((&system.key, &system.secret)));
    assert!(stdout(&output).contains("system key"), "{}", stdout(&output));
    assert_eq!(fake.requests().iter().filter(|r| r.path == "/v1/account/info").count(), 2);
}

#[test]
fn secrets_appear_in_no_output_even_verbose() {
    let (fake, account) = fake();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let url = fake.base_url();
    let (k, s) = key(&account);
    let output = run(&["sync", "-v", "--out", out.to_str().unwrap(), "--base-url", &url, "--allow-private-network"], Some((k, s)));
    assert!(output.status.success());
    assert!(stderr(&output).contains("request"), "verbose shows requests");
    for text in [stdout(&output), stderr(&output), std::fs::read_to_string(&out).unwrap()] {
        assert!(!text.contains(s) && !text.contains(k));
    }
}

#[test]
fn credentials_an_answer_echoes_are_redacted_in_retry_lines() {
    let (fake, account) = fake();
    fake.inject(FaultRule::new("/v1/users", 2, Fault::EchoesCredentials));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let (k, s) = key(&account);
    let output =
        run(&["sync", "-v", "--out", out.to_str().unwrap(), "--base-url", &fake.base_url(), "--allow-private-network"], Some((k, s)));
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    let retries: Vec<&str> = log.lines().filter(|line| line.contains("retrying in")).collect();
    assert_eq!(retries.len(), 2, "{log}");
    assert!(retries.iter().all(|line| line.contains("Authorization: [redacted] (token [redacted])")), "{log}");
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{k}:{s}"));
    for secret in [k, s, token.as_str()] {
        assert!(!log.contains(secret) && !stdout(&output).contains(secret), "{log}");
    }
}

/// Runs the binary with a standard output whose reader is already gone (`| head` that stopped).
fn run_with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .args(args)
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_commands_own_status() {
    let output = run_with_closed_stdout(&["completions", "bash"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let output = run_with_closed_stdout(&["demo"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    let output = run_with_closed_stdout(&["diff", "/nonexistent/a.json", "/nonexistent/b.json"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(error_line(&output).contains("/nonexistent/a.json"), "{}", stderr(&output));
}

#[test]
fn a_refused_connection_is_one_clear_line_without_a_warning_per_retry() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{closed}");
    let output = run(&["validate", "--base-url", &url, "--allow-private-network"], Some(("some-key", "some-secret")));
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let line = error_line(&output);
    assert!(line.contains("no complete answer: the API refused the connection (gave up after 5 attempts)"), "{line}");
    assert_eq!(stderr(&output).lines().count(), 1, "nothing but the error line: {}", stderr(&output));
}

#[test]
fn a_change_whose_answer_was_lost_is_reported_with_a_warning_when_the_retry_finds_it_done() {
    let (fake, account) = fake();
    let owner = account.primary_key().user_id.clone();
    let user = account.users.keys().find(|id| Some(*id) != owner.as_ref()).unwrap().clone();
    // The user is deleted, but the answer is a 503; the retry finds no user.
    fake.inject(FaultRule::new("/v1/users/", 1, Fault::AppliedThenUnavailable).method("DELETE"));
    let url = fake.base_url();
    let output = run(&["deprovision", "--user-id", &user, "--base-url", &url, "--allow-private-network"], Some(key(&account)));
    assert!(output.status.success(), "{}", stderr(&output));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["outcome"], "not_found");
    assert!(
        stderr(&output).contains("not_found after 1 retry: an earlier attempt whose answer was lost may have made this change"),
        "{}",
        stderr(&output)
    );
    assert!(!fake.account().users.contains_key(&user));
}

#[test]
fn a_tenant_file_names_where_the_credentials_are() {
    let (fake, account) = fake();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), &account.primary_key().secret).unwrap();
    let tenant = dir.path().join("tenant.toml");
    std::fs::write(
        &tenant,
        format!(
            "[[tenant]]\nid = \"acme\"\nbase_url = \"{}\"\nallow_private_network = true\napi_key_env = \"ACME_KEY\"\napi_secret_file = \"secret\"\n",
            fake.base_url()
        ),
    )
    .unwrap();
    let out = dir.path().join("acme.json");
    let output = Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .args(["sync", "--tenant", tenant.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env_remove("FIVETRAN_API_KEY")
        .env("ACME_KEY", &account.primary_key().key)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let snapshot: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(snapshot["tenant"], "acme");
}

#[test]
fn provision_grant_revoke_and_deprovision_print_json() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let common = ["--base-url", url.as_str(), "--allow-private-network"];
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(common);
        let output = run(&all, Some(key(&account)));
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        serde_json::from_slice(&output.stdout).expect("stdout is JSON")
    };
    let invited =
        json(&["provision", "--email", "ann@b.test", "--given-name", "Ann", "--family-name", "Lee", "--role", "Account Reviewer"]);
    assert_eq!(invited["outcome"], "created");
    let user = invited["user"]["id"].as_str().unwrap().to_owned();
    let team = account.teams.keys().next().unwrap();
    let granted = json(&["grant", "--entitlement", &format!("team:{team}:member"), "--principal", &format!("user:{user}")]);
    assert_eq!(granted["outcome"], "granted");
    let grant_id = granted["grant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(grant_id, format!("team:{team}:member:user:{user}"));
    assert_eq!(json(&["revoke", "--grant", &grant_id])["outcome"], "revoked");
    assert_eq!(json(&["deprovision", "--user-id", &user])["outcome"], "deleted");
    assert_eq!(json(&["deprovision", "--user-id", &user])["outcome"], "not_found");
}

#[test]
fn lifecycle_commands_print_json_and_refuse_what_the_connector_cannot_do() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let common = ["--base-url", url.as_str(), "--allow-private-network"];
    let with_common = |args: &[&str]| -> Output {
        let mut all = args.to_vec();
        all.extend(common);
        run(&all, Some(key(&account)))
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let output = with_common(args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        serde_json::from_slice(&output.stdout).expect("stdout is JSON")
    };
    let owner = account.primary_key().user_id.clone();
    let user = account.users.keys().find(|id| Some(*id) != owner.as_ref()).unwrap();
    let updated = json(&["update-account", "--user-id", user, "--given-name", "Ada"]);
    assert_eq!(updated["outcome"], "updated");
    assert_eq!(updated["user"]["traits"]["given_name"], "Ada");
    assert_eq!(json(&["update-account", "--user-id", user, "--given-name", "Ada"])["outcome"], "unchanged");

    let created = json(&["create-resource", "--type", "team", "--name", "Auditors", "--description", "Read-only"]);
    assert_eq!(created["outcome"], "created");
    let team = created["resource"]["id"].as_str().unwrap().to_owned();
    let renamed = json(&["update-resource", "--type", "team", "--id", &team, "--name", "Internal Audit"]);
    assert_eq!(renamed["resource"]["display_name"], "Internal Audit");
    assert_eq!(json(&["delete-resource", "--type", "team", "--id", &team])["outcome"], "deleted");

    let before = fake.requests().len();
    let output = with_common(&["update-account", "--user-id", user]);
    assert_eq!(output.status.code(), Some(2), "no field to change is a usage error");
    let output = with_common(&["disable-account", "--user-id", user]);
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("scim"), "{}", error_line(&output));
    assert_eq!(fake.requests().len(), before, "nothing was sent");
}

/// Runs the binary with only `SCIM_TOKEN` (when given) for credentials.
fn run_scim(args: &[&str], token: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connector-host"));
    command
        .args(args)
        .env_remove("SCIM_TOKEN")
        .env_remove("FIVETRAN_API_KEY")
        .env_remove("FIVETRAN_API_SECRET")
        .env_remove("RUST_LOG")
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
    if let Some(token) = token {
        command.env("SCIM_TOKEN", token);
    }
    command.output().unwrap()
}

#[test]
fn the_scim_connector_syncs_and_changes_a_scim_service_with_the_token_from_scim_token() {
    const TOKEN: &str = "cli-scim-token-93b1";
    let fake =
        connector_fake_scim::FakeScim::start(connector_fake_scim::Directory::sample(12, 3, connector_fake_scim::Flavor::Generic), TOKEN)
            .unwrap();
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scim.json");
    let common = ["--connector", "scim", "--base-url", url.as_str(), "--allow-private-network"];
    let with = |args: &[&str], token: Option<&str>| {
        let mut all = args.to_vec();
        all.extend(common);
        run_scim(&all, token)
    };
    let output = with(&["sync", "--out", out.to_str().unwrap()], Some(TOKEN));
    assert!(output.status.success(), "{}", stderr(&output));
    let snapshot: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(snapshot["connector"]["name"], "scim");
    let grants: std::collections::BTreeSet<String> =
        snapshot["grants"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(grants, fake.directory().expected_grants());

    let user = fake.directory().users.keys().next().unwrap().clone();
    let output = with(&["disable-account", "--user-id", &user], Some(TOKEN));
    assert!(output.status.success(), "{}", stderr(&output));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["outcome"], "disabled");
    assert!(!stdout(&output).contains(TOKEN) && !stderr(&output).contains(TOKEN));

    let output = with(&["create-resource", "--type", "group", "--name", "Auditors"], Some(TOKEN));
    assert!(output.status.success(), "{}", stderr(&output));

    // A tenant file naming the connector and where its token is.
    let tenants = dir.path().join("tenants.toml");
    std::fs::write(
        &tenants,
        format!("[[tenant]]\nid = \"idp\"\nconnector = \"scim\"\nbase_url = \"{url}\"\nallow_private_network = true\ntoken_file = \"idp.token\"\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("idp.token"), format!("{TOKEN}\n")).unwrap();
    let out_dir = dir.path().join("out");
    let output = run_scim(&["sync-all", "--tenants", tenants.to_str().unwrap(), "--out-dir", out_dir.to_str().unwrap()], None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out_dir.join("idp.json").exists());

    let before = fake.requests().len();
    let output = with(&["sync", "--out", out.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("SCIM_TOKEN"), "{}", error_line(&output));
    let output = run_scim(&["sync", "--connector", "scim", "--out", out.to_str().unwrap()], Some(TOKEN));
    assert_eq!(output.status.code(), Some(2), "the scim connector has no default base URL");
    assert!(error_line(&output).contains("--base-url"), "{}", error_line(&output));
    assert_eq!(fake.requests().len(), before, "nothing was sent");
}

#[test]
fn c1z_is_written_by_extension_or_flag_converted_both_ways_and_diffed_against_json() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("snap.json");
    let c1z = dir.path().join("snap.c1z");
    let flagged = dir.path().join("snap.bin");
    for (out, extra) in [(&json, None), (&c1z, None), (&flagged, Some("c1z"))] {
        let mut args = vec!["sync", "--out", out.to_str().unwrap(), "--base-url", url.as_str(), "--allow-private-network", "--quiet"];
        if let Some(format) = extra {
            args.extend(["--format", format]);
        }
        let output = run(&args, Some(key(&account)));
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert!(std::fs::read(&c1z).unwrap().starts_with(b"C1ZF\0"), "the extension chose c1z");
    assert!(std::fs::read(&flagged).unwrap().starts_with(b"C1ZF\0"), "--format chose c1z");
    assert!(std::fs::read(&json).unwrap().starts_with(b"{"));

    let back = dir.path().join("back.json");
    let output = run(&["convert", c1z.to_str().unwrap(), back.to_str().unwrap()], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let original: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let converted: serde_json::Value = serde_json::from_slice(&std::fs::read(&back).unwrap()).unwrap();
    let strip = |mut v: serde_json::Value| {
        for key in ["started_at", "finished_at", "stats"] {
            v.as_object_mut().unwrap().remove(key);
        }
        v
    };
    assert_eq!(strip(converted), strip(original), "c1z holds everything the JSON does");
    let again = dir.path().join("again.c1z");
    let output = run(&["convert", back.to_str().unwrap(), "--out", again.to_str().unwrap()], None);
    assert!(output.status.success());
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&c1z).unwrap(), "converting back gives the same bytes");

    let output = run(&["diff", json.to_str().unwrap(), c1z.to_str().unwrap(), "--json"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let diff: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(diff["grants"]["added"], serde_json::json!([]));
    assert_eq!(diff["resources"]["changed"], serde_json::json!([]));

    let out_dir = dir.path().join("all");
    let tenants = dir.path().join("tenants.toml");
    std::fs::write(&tenants, format!("[[tenant]]\nid = \"acme\"\nbase_url = \"{url}\"\nallow_private_network = true\n")).unwrap();
    let output = run(
        &["sync-all", "--tenants", tenants.to_str().unwrap(), "--out-dir", out_dir.to_str().unwrap(), "--format", "c1z"],
        Some(key(&account)),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(std::fs::read(out_dir.join("acme.c1z")).unwrap().starts_with(b"C1ZF\0"));

    let output = run(&["convert", tenants.to_str().unwrap(), back.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(2), "a file that is no snapshot");
    let output = run(&["sync", "--out", json.to_str().unwrap(), "--format", "xml"], Some(key(&account)));
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("json, c1z"), "{}", error_line(&output));
}

#[test]
fn an_invalid_grant_exits_2_with_one_line() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let output = run(
        &["grant", "--entitlement", "team:t1:owner", "--principal", "user:u1", "--base-url", &url, "--allow-private-network"],
        Some(key(&account)),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("member and manager"));
    let output = run(&["grant", "--entitlement", "team:t1:member", "--principal", "u1", "--base-url", &url], Some(key(&account)));
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("TYPE:ID"));
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn a_component_of_an_older_contract_is_refused_by_name() {
    let component = wat::parse_str(
        r#"(component
            (core module $m (func (export "f") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $f (result u32) (canon lift (core func $i "f")))
            (instance $connector (export "placeholder" (func $f)))
            (export "accessgov:connector/connector@0.1.0" (instance $connector)))"#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("old.wasm");
    std::fs::write(&plugin, component).unwrap();
    let output = run(&["validate", "--plugin", plugin.to_str().unwrap()], Some(("k", "s")));
    assert_eq!(output.status.code(), Some(2));
    let line = error_line(&output);
    assert!(line.contains("accessgov:connector@0.1.0") && line.contains("older") && line.contains("@0.5.0"), "{line}");
}

#[test]
fn demo_runs_without_credentials_or_flags() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .arg("demo")
        .current_dir(dir.path())
        .env_remove("FIVETRAN_API_KEY")
        .env_remove("FIVETRAN_API_SECRET")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("snapshot written to demo-snapshot.json"));
    let snapshot: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("demo-snapshot.json")).unwrap()).unwrap();
    assert!(snapshot["grants"].as_array().unwrap().len() > 500);
    // The next step it suggests runs as printed, on an id of this account.
    let text = stdout(&output);
    let suggested = text.lines().find(|l| l.trim_start().starts_with("connector-host access")).expect("a next step with access");
    let args: Vec<&str> = suggested.split('#').next().unwrap().split_whitespace().skip(1).collect();
    let next = Command::new(env!("CARGO_BIN_EXE_connector-host")).args(&args).current_dir(dir.path()).output().unwrap();
    assert!(next.status.success(), "{suggested}: {}", stderr(&next));
    assert!(stdout(&next).contains("through team:"), "{}", stdout(&next));
}

#[test]
fn sync_all_writes_only_the_good_tenants_and_exits_with_the_worst_status() {
    let (fake, account) = fake();
    let (other_fake, other_account) = {
        let account = generate(&AccountSpec::sized(32, 40, 3, 2));
        (FakeFivetran::start(account.clone()).unwrap(), account)
    };
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.toml");
    let url = fake.base_url();
    let other_url = other_fake.base_url();
    std::fs::write(
        &tenants,
        format!(
            r#"
[[tenant]]
id = "acme"
base_url = "{url}"
allow_private_network = true
api_key_env = "ACME_KEY"
api_secret_env = "ACME_SECRET"

[[tenant]]
id = "globex"
base_url = "{other_url}"
allow_private_network = true
api_key_env = "GLOBEX_KEY"
api_secret_env = "GLOBEX_SECRET"

[[tenant]]
id = "initech"
base_url = "{url}"
api_key_env = "ACME_KEY"
api_secret_env = "ACME_SECRET"

[[tenant]]
id = "umbrella"
base_url = "{url}"
allow_private_network = true
api_key_env = "ACME_KEY"
api_secret_env = "WRONG_SECRET"
"#
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .args(["sync-all", "--tenants", tenants.to_str().unwrap(), "--out-dir", out.to_str().unwrap()])
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("ACME_KEY", &account.primary_key().key)
        .env("ACME_SECRET", &account.primary_key().secret)
        .env("GLOBEX_KEY", &other_account.primary_key().key)
        .env("GLOBEX_SECRET", &other_account.primary_key().secret)
        .env("WRONG_SECRET", "definitely-wrong-secret")
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(5), "initech is denied by policy (5), umbrella's key is wrong (3): {text}{}", stderr(&output));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("acme") && lines[0].contains(" ok "), "{text}");
    assert!(lines[1].starts_with("globex") && lines[1].contains(" ok "), "{text}");
    assert!(lines[2].starts_with("initech") && lines[2].contains("failed (5)"), "{text}");
    assert!(lines[3].starts_with("umbrella") && lines[3].contains("failed (3)"), "{text}");
    let mut written: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    written.sort();
    assert_eq!(written, ["acme.json", "globex.json"]);
    let globex: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("globex.json")).unwrap()).unwrap();
    assert_eq!(globex["tenant"], "globex");
    assert_eq!(globex["resources"].as_array().unwrap().iter().filter(|r| r["type"] == "user").count(), 40);
    for secret in [&account.primary_key().secret, &other_account.primary_key().secret, &"definitely-wrong-secret".to_owned()] {
        assert!(!text.contains(secret.as_str()) && !stderr(&output).contains(secret.as_str()));
    }
}

/// `validate -v` with the compiled-component cache in `cache`: its log says whether the
/// component came from the cache (`cached=true`).
fn validate_with_cache(cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .args(["validate", "-v", "--base-url", "http://127.0.0.1:9", "--cache-dir", cache.to_str().unwrap()])
        .env("FIVETRAN_API_KEY", "k")
        .env("FIVETRAN_API_SECRET", "s")
        .output()
        .unwrap()
}

#[test]
fn a_restart_loads_the_compiled_component_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let run = || validate_with_cache(cache.path());
    let first = run();
    assert!(stderr(&first).contains("cached=false"), "{}", stderr(&first));
    let second = run();
    assert!(stderr(&second).contains("cached=true"), "{}", stderr(&second));
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
}

/// A cache folder others may write, as a Kubernetes emptyDir is (0777) or a volume under
/// `fsGroup` (group-writable, setgid), still saves the compilation at the next start: the entries
/// go to a folder private to this user inside it.
#[cfg(unix)]
#[test]
fn a_cache_folder_as_kubernetes_mounts_it_still_caches() {
    use std::os::unix::fs::PermissionsExt;
    for mode in [0o777, 0o2775] {
        let volume = tempfile::tempdir().unwrap();
        std::fs::set_permissions(volume.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        let run = || validate_with_cache(volume.path());
        let first = run();
        assert!(stderr(&first).contains("cached=false") && !stderr(&first).contains("not using"), "{mode:o}: {}", stderr(&first));
        let second = run();
        assert!(stderr(&second).contains("cached=true"), "{mode:o}: {}", stderr(&second));
    }
}

#[test]
fn progress_is_plain_lines_off_a_terminal_and_silent_with_quiet() {
    let (fake, account) = fake();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let url = fake.base_url();
    let args = ["sync", "--out", out.to_str().unwrap(), "--base-url", &url, "--allow-private-network"];
    let output = run(&args, Some(key(&account)));
    assert!(output.status.success());
    let progress = stderr(&output);
    assert!(!progress.contains('\u{1b}'), "no terminal escapes off a terminal: {progress:?}");
    let last = progress.lines().last().unwrap_or_default();
    assert!(last.starts_with("default: done"), "{progress}");
    assert!(last.contains("120 users") && last.contains("requests"), "{last}");
    let summary = stdout(&output);
    assert!(
        summary.contains("users") && summary.contains("enabled") && summary.contains("grants") && summary.contains("duration"),
        "{summary}"
    );

    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let output = run(&quiet, Some(key(&account)));
    assert!(output.status.success());
    assert_eq!(stderr(&output), "", "--quiet silences progress");
}

#[test]
fn diff_shows_a_grant_and_a_trait_change_by_principal() {
    let (fake, account) = fake();
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = (dir.path().join("before.json"), dir.path().join("after.json"));
    let url = fake.base_url();
    let common = ["--base-url", url.as_str(), "--allow-private-network"];
    let sync_to = |path: &Path| {
        let mut args = vec!["sync", "--out", path.to_str().unwrap()];
        args.extend(common);
        assert!(run(&args, Some(key(&account))).status.success());
    };
    sync_to(&before);
    let team = account.teams.values().next().unwrap();
    let user = account
        .users
        .values()
        .find(|u| !account.team_users.contains_key(&(team.id.clone(), u.id.clone())) && u.role.as_deref() == Some("Account Analyst"))
        .unwrap();
    let mut grant = vec!["grant", "--entitlement"];
    let entitlement = format!("team:{}:manager", team.id);
    let principal = format!("user:{}", user.id);
    grant.extend([entitlement.as_str(), "--principal", principal.as_str()]);
    grant.extend(common);
    assert!(run(&grant, Some(key(&account))).status.success());
    let mut role = vec!["grant", "--entitlement", "role:Account Reviewer:assigned", "--principal", principal.as_str()];
    role.extend(common);
    assert!(run(&role, Some(key(&account))).status.success());
    sync_to(&after);

    let output = run(&["diff", before.to_str().unwrap(), after.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains(&format!("~ user {}: account_role Account Analyst → Account Reviewer", user.email)), "{text}");
    assert!(
        text.contains(&format!("{}: + role Account Reviewer, + team {} (manager), - role Account Analyst", user.email, team.name)),
        "{text}"
    );

    let output = run(&["diff", before.to_str().unwrap(), after.to_str().unwrap(), "--json"], None);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let added: Vec<&str> = json["grants"]["added"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(added, [format!("role:Account Reviewer:assigned:user:{}", user.id), format!("team:{}:manager:user:{}", team.id, user.id)]);
    assert_eq!(json["grants"]["removed"], serde_json::json!([format!("role:Account Analyst:assigned:user:{}", user.id)]));
    assert_eq!(json["resources"]["changed"][0]["id"], user.id.as_str());

    let same = run(&["diff", before.to_str().unwrap(), before.to_str().unwrap()], None);
    assert_eq!((same.status.code(), stdout(&same)), (Some(0), "no changes\n".to_owned()));
    std::fs::write(dir.path().join("junk.json"), "{}").unwrap();
    let junk = run(&["diff", before.to_str().unwrap(), dir.path().join("junk.json").to_str().unwrap()], None);
    assert_eq!(junk.status.code(), Some(2));
    assert!(error_line(&junk).contains("is not a snapshot"));
}

#[test]
fn validate_tells_which_reads_a_system_key_lacks() {
    let mut account = generate(&AccountSpec::sized(33, 30, 3, 2));
    account.api_keys[1].scopes = Some(["USER:READ", "ACCOUNT:READ", "ROLES:READ", "DESTINATION:READ"].map(String::from).to_vec());
    let fake = FakeFivetran::start(account.clone()).unwrap();
    let system = &account.api_keys[1];
    let url = fake.base_url();
    let output = run(&["validate", "--base-url", &url, "--allow-private-network"], Some((&system.key, &system.secret)));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("system key"), "{text}");
    assert!(text.contains("user   ok") && text.contains("group  ok"), "{text}");
    assert!(text.contains("team   failed") && text.contains("TEAM:READ"), "{text}");
    assert!(text.contains("sync: not possible"), "{text}");
    assert!(error_line(&output).contains("cannot read team"));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let output =
        run(&["sync", "--out", out.to_str().unwrap(), "--base-url", &url, "--allow-private-network"], Some((&system.key, &system.secret)));
    assert_eq!(output.status.code(), Some(3));
    assert!(error_line(&output).contains("needs the TEAM:READ scope"), "{}", stderr(&output));
}

#[test]
fn every_command_has_help_with_an_example_and_completions_exist() {
    let commands = [
        "demo",
        "validate",
        "sync",
        "sync-all",
        "diff",
        "convert",
        "serve",
        "provision",
        "deprovision",
        "update-account",
        "disable-account",
        "enable-account",
        "create-resource",
        "update-resource",
        "delete-resource",
        "grant",
        "revoke",
        "completions",
    ];
    for command in commands {
        let output = run(&[command, "--help"], None);
        assert!(output.status.success(), "{command}");
        assert!(stdout(&output).contains("Example"), "{command} --help shows an example");
    }
    let output = run(&["completions", "bash"], None);
    assert!(output.status.success() && stdout(&output).contains("connector-host"));
}

// Security hardening: what the operator and the API hand the host never escapes into files,
// terminals, other endpoints or secrets.

#[test]
fn out_refuses_a_device_or_folder_before_syncing_and_writes_through_a_link() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let sync_to = |out: &str| run(&["sync", "--out", out, "--base-url", &url, "--allow-private-network"], Some(key(&account)));
    let output = sync_to("/dev/null");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(error_line(&output).contains("not a regular file"), "{}", stderr(&output));
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file(), "/dev/null is still the device");
    assert!(fake.requests().is_empty(), "refused before the sync");

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(sync_to(dir.path().to_str().unwrap()).status.code(), Some(2));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let real = dir.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let output = sync_to(link.to_str().unwrap());
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert!(std::fs::read_to_string(&real).unwrap().contains("connector-snapshot/v1"), "written through it");
        assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640, "with the old file's mode");
        let fresh = dir.path().join("fresh.json");
        assert!(sync_to(fresh.to_str().unwrap()).status.success());
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600, "a new snapshot is private");
    }
}

#[test]
fn operator_paths_are_read_with_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("a.json");
    std::fs::write(&snapshot, "{}").unwrap();
    for args in [
        vec!["sync", "--tenant", "/dev/zero", "--out", "x.json"],
        vec!["diff", "/dev/zero", snapshot.to_str().unwrap()],
        vec!["validate", "--plugin", "/dev/zero"],
    ] {
        let started = std::time::Instant::now();
        let output = run(&args, Some(("a-long-enough-key", "a-long-enough-secret")));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{args:?} took {:?}", started.elapsed());
        let line = error_line(&output);
        assert!(line.contains("larger than") || line.contains("not a snapshot"), "{args:?}: {line}");
    }
    let tenant = dir.path().join("t.toml");
    std::fs::write(&tenant, "[[tenant]]\nid = \"a\"\napi_key_file = \"/dev/zero\"\napi_secret_file = \"/dev/zero\"\n").unwrap();
    let output = run(&["validate", "--tenant", tenant.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("larger than 65536 bytes"), "{}", stderr(&output));
}

#[test]
fn a_base_url_with_a_bad_port_or_parts_is_refused_before_anything_is_sent() {
    for url in [
        "http://127.0.0.1:99999",
        "http://127.0.0.1:0",
        "https://user:pw@api.fivetran.com",
        "https://api.fivetran.com/#x",
        "https://api.fivetran.com/?a=1",
    ] {
        let output = run(&["validate", "--base-url", url, "--allow-private-network"], Some(("a-long-enough-key", "a-long-enough-secret")));
        assert_eq!(output.status.code(), Some(2), "{url}: {}", stderr(&output));
        assert!(error_line(&output).contains("--base-url"), "{url}");
    }
}

#[test]
fn credentials_the_api_echoes_never_reach_the_snapshot_or_the_terminal() {
    let (fake, account) = fake();
    let (key, secret) = key(&account);
    let (key, secret) = (key.to_owned(), secret.to_owned());
    fake.update(|a| {
        a.account_name = format!("Acme {secret}");
        let user = a.users.values_mut().next().unwrap();
        user.given_name = Some(format!("Echo {secret}"));
        user.phone = Some(secret.clone());
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let url = fake.base_url();
    let output = run(&["sync", "--out", out.to_str().unwrap(), "--base-url", &url, "--allow-private-network"], Some((&key, &secret)));
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(!written.contains(&secret), "no secret in the snapshot");
    assert!(written.contains("Echo [redacted]"), "the echo is redacted in place");
    let output = run(&["validate", "--base-url", &url, "--allow-private-network"], Some((&key, &secret)));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("account: Acme [redacted]"), "{}", stdout(&output));
    assert!(!stdout(&output).contains(&secret) && !stderr(&output).contains(&secret));
}

#[test]
fn a_secret_echoed_past_any_length_of_message_is_redacted_whole() {
    let (fake, account) = fake();
    let (key, secret) = key(&account);
    for padding in [280, 290, 295, 2000] {
        fake.clear_faults();
        fake.inject(FaultRule::new("/v1/account/info", u32::MAX, Fault::EchoesSecretAfter(padding)));
        let url = fake.base_url();
        let output = run(&["validate", "--base-url", &url, "--allow-private-network", "-v"], Some((key, secret)));
        let text = format!("{}{}", stdout(&output), stderr(&output));
        assert!(!output.status.success());
        assert!(!text.contains(&secret[..8]), "{padding}: no part of the secret: {text}");
    }
}

#[test]
fn api_text_cannot_forge_a_line_of_the_diff_or_the_log() {
    let (fake, account) = fake();
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    let url = fake.base_url();
    let sync_to =
        |out: &Path| run(&["sync", "--out", out.to_str().unwrap(), "--base-url", &url, "--allow-private-network"], Some(key(&account)));
    assert!(sync_to(&old).status.success());
    fake.update(|a| {
        let user = a.users.values_mut().next().unwrap();
        user.given_name = Some("Mallory\nceo@example.com: - team Admins (manager)\u{1b}[2K".into());
    });
    assert!(sync_to(&new).status.success());
    let output = run(&["diff", old.to_str().unwrap(), new.to_str().unwrap()], None);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(!text.lines().any(|l| l.starts_with("ceo@example.com")), "no forged line: {text}");
    assert!(!text.contains('\u{1b}'), "no escape sequence reaches the terminal");
    assert!(text.contains("Mallory\\nceo@example.com"), "shown escaped: {text}");
}

#[test]
fn connectors_are_chosen_by_name_or_file_and_an_unknown_name_is_refused() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let output = run(&["validate", "--connector", "fivetran", "--base-url", &url, "--allow-private-network"], Some(key(&account)));
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(&["validate", "--connector", "nosuch", "--base-url", &url, "--allow-private-network"], Some(key(&account)));
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("\"nosuch\" is not a built-in connector; choose one of fivetran"), "{}", stderr(&output));
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("t.toml");
    std::fs::write(&tenants, format!("[[tenant]]\nid = \"a\"\nconnector = \"nosuch\"\nbase_url = \"{url}\"\n")).unwrap();
    let output = run(&["validate", "--tenant", tenants.to_str().unwrap()], Some(key(&account)));
    assert_eq!(output.status.code(), Some(2));
    assert!(error_line(&output).contains("tenant a: connector \"nosuch\" is not a built-in connector"), "{}", stderr(&output));
    let output = run(&["validate", "--connector", "fivetran", "--plugin", "x.wasm"], Some(key(&account)));
    assert_eq!(output.status.code(), Some(2), "the two flags exclude each other");
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_sync_exits_143_and_leaves_the_old_snapshot_alone() {
    // JSON and c1z alike: the snapshot is written whole or not at all.
    for name in ["snap.json", "snap.c1z"] {
        let (fake, account) = fake();
        fake.set_latency(std::time::Duration::from_millis(400));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(name);
        std::fs::write(&out, "old snapshot").unwrap();
        let (key, secret) = key(&account);
        let child = Command::new(env!("CARGO_BIN_EXE_connector-host"))
            .args(["sync", "--out", out.to_str().unwrap(), "--base-url", &fake.base_url(), "--allow-private-network", "--quiet"])
            .env("FIVETRAN_API_KEY", key)
            .env("FIVETRAN_API_SECRET", secret)
            .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the sync is under way (its first requests reached the fake), then stop it.
        let started = std::time::Instant::now();
        while fake.requests().is_empty() && started.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(143), "{}", stderr(&output));
        assert!(stderr(&output).contains("interrupted"), "{}", stderr(&output));
        assert_old_file_kept(&out);
    }
}

#[tokio::test]
async fn the_main_help_names_every_built_in_connector_and_the_credentials_it_reads() {
    let help = String::from_utf8(run(&["--help"], None).stdout).unwrap();
    let engine = connector_host::ConnectorRuntime::engine().unwrap();
    for builtin in connector_builtin::BUILTIN {
        let runtime = connector_host::ConnectorRuntime::new(&engine, builtin.component).unwrap();
        assert!(help.contains(&format!("  {}  ", builtin.name)), "{} missing from:\n{help}", builtin.name);
        for credential in &runtime.metadata().await.unwrap().credentials {
            assert!(help.contains(&credential.default_env), "{} missing from:\n{help}", credential.default_env);
        }
    }
}

#[test]
fn convert_and_diff_read_a_file_baton_wrote_and_sync_id_picks_a_run() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/e2e/data/written-by-baton-sdk-v0.7.27.c1z");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("baton.json");
    let output = run(&["convert", sample, json.to_str().unwrap()], None);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("382 resources, 280 entitlements, 1564 grants"));
    let output = run(&["diff", sample, json.to_str().unwrap(), "--json"], None);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let diff: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(diff["grants"]["added"].as_array().unwrap().len(), 0, "the same access either way");

    let output =
        run(&["convert", sample, "--out", dir.path().join("x.json").to_str().unwrap(), "--sync-id", "3N0mDwOoPcnC9lunqVxsNMtrOFy"], None);
    assert!(output.status.success(), "its one run, by id: {}", String::from_utf8_lossy(&output.stderr));
    let output = run(&["convert", json.to_str().unwrap(), "--out", dir.path().join("y.c1z").to_str().unwrap(), "--sync-id", "x"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("leave out --sync-id"));
}

/// A hand-checked account for `access`: Ann in team eng, Bob in team ops, ops a member of eng and
/// eng of ops (a cycle), eng holding admin on destination g1, Cy g1's reader directly.
fn access_snapshot(dir: &Path) -> std::path::PathBuf {
    let resource = |t: &str, id: &str, email: Option<&str>| serde_json::json!({"type": t, "id": id, "display_name": id.to_uppercase(), "traits": email.map_or(serde_json::json!({}), |e| serde_json::json!({"email": e}))});
    let entitlement = |id: &str| {
        let (resource, slug) = id.rsplit_once(':').unwrap();
        let (t, rid) = resource.split_once(':').unwrap();
        serde_json::json!({"id": id, "resource": {"type": t, "id": rid}, "slug": slug, "display_name": id, "grantable_to": ["user", "team"]})
    };
    let grant = |entitlement: &str, principal: &str, expandable: &[&str]| {
        let (t, id) = principal.split_once(':').unwrap();
        serde_json::json!({"id": format!("{entitlement}:{principal}"), "entitlement": entitlement, "principal": {"type": t, "id": id}, "expandable": expandable})
    };
    let snapshot = serde_json::json!({
        "format": "connector-snapshot/v1",
        "connector": {"name": "fivetran", "version": "0.1.0"},
        "tenant": "default", "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:01Z",
        "resource_types": [{"id": "user", "display_name": "User", "trait": "user", "profile": {"email": "email"}}, {"id": "team", "display_name": "Team"}, {"id": "group", "display_name": "Group"}],
        "resources": [resource("group", "g1", None), resource("team", "eng", None), resource("team", "ops", None),
                      resource("user", "ann", Some("ann@example.com")), resource("user", "bob", None), resource("user", "cy", None)],
        "entitlements": [entitlement("group:g1:admin"), entitlement("group:g1:reader"), entitlement("team:eng:member"), entitlement("team:ops:member")],
        "grants": [grant("group:g1:admin", "team:eng", &["team:eng:member"]), grant("group:g1:reader", "user:cy", &[]),
                   grant("team:eng:member", "team:ops", &["team:ops:member"]), grant("team:eng:member", "user:ann", &[]),
                   grant("team:ops:member", "team:eng", &["team:eng:member"]), grant("team:ops:member", "user:bob", &[])],
        "stats": {"http_requests": 0, "duration_ms": 0}
    });
    let path = dir.join("access.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&snapshot).unwrap()).unwrap();
    path
}

fn access(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connector-host")).arg("access").args(args).output().unwrap()
}

#[test]
fn access_answers_who_reaches_what_through_teams_and_a_cycle_from_json_and_c1z() {
    let dir = tempfile::tempdir().unwrap();
    let json_file = access_snapshot(dir.path());
    let c1z_file = dir.path().join("access.c1z");
    let converted = Command::new(env!("CARGO_BIN_EXE_connector-host")).arg("convert").arg(&json_file).arg(&c1z_file).output().unwrap();
    assert!(converted.status.success(), "{}", stderr(&converted));
    for file in [&json_file, &c1z_file] {
        let file = file.to_str().unwrap();
        let bob = access(&[file, "--principal", "user:bob", "--json"]);
        assert!(bob.status.success(), "{}", stderr(&bob));
        let bob: serde_json::Value = serde_json::from_slice(&bob.stdout).unwrap();
        let paths: Vec<(String, Vec<String>)> = bob["access"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["entitlement"].as_str().unwrap().to_owned(), serde_json::from_value(a["via"].clone()).unwrap()))
            .collect();
        let expected: Vec<(String, Vec<String>)> = vec![
            ("group:g1:admin".into(), vec!["team:ops:member".into(), "team:eng:member".into()]),
            ("team:eng:member".into(), vec!["team:ops:member".into()]),
            ("team:ops:member".into(), vec![]),
        ];
        assert_eq!((bob["principal"].as_str(), paths), (Some("user:bob"), expected), "{file}");
        assert_eq!(bob["access"][0]["resource"], "group:g1");

        let g1 = access(&[file, "--resource", "group:g1", "--json"]);
        let g1: serde_json::Value = serde_json::from_slice(&g1.stdout).unwrap();
        let holders: Vec<String> = g1["principals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| format!("{} {} {}", h["principal"].as_str().unwrap(), h["entitlement"].as_str().unwrap(), h["via"]))
            .collect();
        assert_eq!(
            holders,
            [
                "team:eng group:g1:admin []",
                "team:ops group:g1:admin [\"team:eng:member\"]",
                "user:ann group:g1:admin [\"team:eng:member\"]",
                "user:bob group:g1:admin [\"team:ops:member\",\"team:eng:member\"]",
                "user:cy group:g1:reader []",
            ],
            "{file}"
        );
    }
    let table = access(&[json_file.to_str().unwrap(), "--principal", "ann@example.com"]);
    assert!(table.status.success());
    let text = stdout(&table);
    assert!(text.starts_with("user:ann (ANN) reaches 3 entitlement(s)\n"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("group:g1:admin") && l.ends_with("through team:eng:member")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("team:eng:member") && l.ends_with("direct")), "{text}");

    for (args, wanted) in [
        (vec!["--principal", "user:zed"], "no principal \"user:zed\""),
        (vec!["--resource", "group:g9"], "no resource \"group:g9\""),
        (vec!["--entitlement", "team:x:member"], "no entitlement \"team:x:member\""),
    ] {
        let mut all = vec![json_file.to_str().unwrap()];
        all.extend(args);
        let output = access(&all);
        assert_eq!(output.status.code(), Some(2));
        let line = stderr(&output);
        assert!(line.contains(wanted) && line.trim().lines().count() == 1, "{line}");
    }
}

/// Every command's help describes each of its arguments and flags, and shows examples.
#[test]
fn every_argument_of_every_command_is_described() {
    let help = |args: &[&str]| stdout(&Command::new(env!("CARGO_BIN_EXE_connector-host")).args(args).output().unwrap());
    let top = help(&["--help"]);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 15, "{top}");
    let mut missing = Vec::new();
    for command in commands {
        let text = help(&[&command, "--help"]);
        for line in
            text.lines().filter(|l| l.starts_with("  ") && (l.trim_start().starts_with('-') || l.trim_start().starts_with(['<', '['])))
        {
            // "  --flag <VALUE>   what it does": a name alone is an undescribed argument.
            let described = line.trim().split("  ").filter(|part| !part.trim().is_empty()).count() >= 2;
            if !described {
                missing.push(format!("{command}: {line:?} has no description"));
            }
        }
        if !text.contains("Example") {
            missing.push(format!("{command} --help shows no example"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// `sync`, `demo` and `validate` print a JSON summary for scripts with `--json`.
#[test]
fn sync_demo_and_validate_print_json_summaries() {
    let (fake, account) = fake();
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let output =
        run(&["sync", "--base-url", &url, "--allow-private-network", "--out", out.to_str().unwrap(), "--json", "-q"], Some(key(&account)));
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("only JSON on stdout");
    let snapshot: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(summary["grants"].as_u64().unwrap() as usize, snapshot["grants"].as_array().unwrap().len());
    let users = snapshot["resources"].as_array().unwrap().iter().filter(|r| r["type"] == "user").count();
    assert_eq!(summary["resources"]["user"].as_u64().unwrap() as usize, users);
    assert_eq!((summary["tenant"].as_str(), summary["connector"]["name"].as_str()), (Some("default"), Some("fivetran")));
    assert!(summary["requests"].as_u64().unwrap() > 0);

    let output = run(&["validate", "--base-url", &url, "--allow-private-network", "--json"], Some(key(&account)));
    assert!(output.status.success(), "{}", stderr(&output));
    let validation: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(validation["sync_possible"], true);
    assert!(validation["reads"].as_array().unwrap().iter().all(|r| r["ok"] == true), "{validation}");
    assert!(validation["account"]["id"].is_string() && validation["key"]["kind"].is_string(), "{validation}");

    let demo = Command::new(env!("CARGO_BIN_EXE_connector-host")).args(["demo", "--json", "-q"]).current_dir(dir.path()).output().unwrap();
    assert!(demo.status.success(), "{}", stderr(&demo));
    let summary: serde_json::Value = serde_json::from_slice(&demo.stdout).expect("only JSON on stdout");
    assert_eq!(summary["out"], "demo-snapshot.json");
    assert_eq!(summary["tenant"], "demo");
}
