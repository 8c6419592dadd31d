//! A second connector through the same host, with no host code of its own: it declares bearer
//! credentials and its own resource types, and the host reads the token where the tenant says,
//! applies it, and syncs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use connector_e2e::{exit_status, runtime};
use connector_host::tenant::{Overrides, TenantEntry, read_tenant_file};
use connector_host::{ConnectorRuntime, sync};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "clubs-token-0123456789";

/// The minimal connector (`tests/minimal`), compiled once.
fn minimal() -> &'static ConnectorRuntime {
    static RUNTIME: OnceLock<ConnectorRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let bytes = std::fs::read(env!("MINIMAL_COMPONENT_WASM")).expect("the minimal component was built");
        ConnectorRuntime::new(runtime().engine_ref(), &bytes).expect("it loads")
    })
}

/// A clubs API on loopback that answers only `Authorization: Bearer TOKEN`, and keeps every
/// `Authorization` it was sent.
async fn clubs_api() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let authorization = head.lines().find_map(|l| {
                    l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.trim().to_owned())
                });
                record.lock().unwrap().push(authorization.clone().unwrap_or_default());
                let (status, body) = if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
                    ("401 Unauthorized", "{}".to_owned())
                } else {
                    let body = match path.as_str() {
                        "/members" => r#"[{"id":"m1","name":"Ann"},{"id":"m2","name":"Bo"},{"id":"m3","name":"Cy"}]"#,
                        "/clubs" => r#"[{"id":"c1","name":"Chess"},{"id":"c2","name":"Rowing"}]"#,
                        "/clubs/c1/members" => r#"["m1","m2"]"#,
                        "/clubs/c2/members" => r#"["m3"]"#,
                        _ => "[]",
                    };
                    ("200 OK", body.to_owned())
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

fn tenant_file(dir: &std::path::Path, text: &str) -> TenantEntry {
    let path = dir.join("tenants.toml");
    std::fs::write(&path, text).unwrap();
    read_tenant_file(&path).unwrap().remove(0)
}

#[tokio::test]
async fn a_second_connector_with_bearer_credentials_syncs_through_the_same_host() {
    let (url, seen) = clubs_api().await;
    let metadata = minimal().metadata().await.unwrap();
    assert_eq!(metadata.name, "minimal");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.txt"), format!("{TOKEN}\n")).unwrap();
    let entry = tenant_file(
        dir.path(),
        &format!("[[tenant]]\nid = \"clubs\"\nbase_url = \"{url}\"\nallow_private_network = true\ntoken_file = \"token.txt\"\n"),
    );
    let tenant = entry.resolve(&Overrides::default(), &metadata).expect("the token is read where the tenant says");
    let snapshot = sync(minimal(), &tenant).await.expect("the second connector syncs");
    let grants: BTreeSet<String> = snapshot.grants.iter().map(|g| g.id.clone()).collect();
    let expected: BTreeSet<String> =
        ["club:c1:member:member:m1", "club:c1:member:member:m2", "club:c2:member:member:m3"].map(String::from).into();
    assert_eq!(grants, expected);
    assert_eq!(snapshot.connector.name, "minimal");
    assert_eq!(snapshot.resources.len(), 5);
    let sent = seen.lock().unwrap().clone();
    assert!(!sent.is_empty() && sent.iter().all(|a| *a == format!("Bearer {TOKEN}")), "the host applied the bearer token: {sent:?}");
    assert!(!serde_json::to_string(&snapshot).unwrap().contains(TOKEN));
}

#[tokio::test]
async fn a_second_connectors_tenant_keys_and_base_url_come_from_what_it_declares() {
    let metadata = minimal().metadata().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fivetran_keys = tenant_file(dir.path(), "[[tenant]]\nid = \"clubs\"\nbase_url = \"https://clubs.example\"\napi_key_env = \"X\"\n");
    let error = fivetran_keys.resolve(&Overrides::default(), &metadata).unwrap_err();
    assert_eq!(exit_status(&error), 2);
    assert!(
        error.message().contains("api_key_env names no credential of the minimal connector; its credential keys are token_env, token_file"),
        "{error}"
    );
    let no_url = tenant_file(dir.path(), "[[tenant]]\nid = \"clubs\"\n");
    let error = no_url.resolve(&Overrides::default(), &metadata).unwrap_err();
    assert!(error.message().contains("the minimal connector has no default base URL"), "{error}");
    let unset = tenant_file(
        dir.path(),
        "[[tenant]]\nid = \"clubs\"\nbase_url = \"https://clubs.example\"\ntoken_env = \"SURELY_UNSET_MINIMAL_TOKEN\"\n",
    );
    let error = unset.resolve(&Overrides::default(), &metadata).unwrap_err();
    assert!(error.message().contains("no token: set the environment variable SURELY_UNSET_MINIMAL_TOKEN"), "{error}");
}

#[tokio::test]
async fn a_wrong_token_is_a_credentials_error() {
    let (url, _) = clubs_api().await;
    let metadata = minimal().metadata().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.txt"), "not-the-token-at-all").unwrap();
    let entry = tenant_file(
        dir.path(),
        &format!("[[tenant]]\nid = \"clubs\"\nbase_url = \"{url}\"\nallow_private_network = true\ntoken_file = \"token.txt\"\n"),
    );
    let tenant = entry.resolve(&Overrides::default(), &metadata).unwrap();
    let error = sync(minimal(), &tenant).await.unwrap_err();
    assert_eq!(exit_status(&error), 3, "{error}");
    assert!(error.message().contains("token.txt"), "the message says where the token came from: {error}");
}

#[tokio::test]
async fn a_second_connectors_c1z_carries_the_traits_and_purposes_it_declares() {
    let (url, _) = clubs_api().await;
    let metadata = minimal().metadata().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.txt"), TOKEN).unwrap();
    let entry = tenant_file(
        dir.path(),
        &format!("[[tenant]]\nid = \"clubs\"\nbase_url = \"{url}\"\nallow_private_network = true\ntoken_file = \"token.txt\"\n"),
    );
    let snapshot = sync(minimal(), &entry.resolve(&Overrides::default(), &metadata).unwrap()).await.unwrap();
    let path = dir.path().join("clubs.c1z");
    connector_host::c1z::write(&snapshot, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let image = zstd::decode_all(bytes.strip_prefix(connector_host::c1z::MAGIC.as_slice()).unwrap()).unwrap();
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    db.deserialize_read_exact(rusqlite::MAIN_DB, image.as_slice(), image.len(), true).unwrap();
    use prost::Message;
    let traits: BTreeSet<(String, Vec<i32>)> = db
        .prepare("select data from v1_resource_types")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|data| {
            let message = connector_host::baton::ResourceType::decode(data.unwrap().as_slice()).unwrap();
            (message.id, message.traits)
        })
        .collect();
    let user = connector_host::baton::Trait::User as i32;
    let group = connector_host::baton::Trait::Group as i32;
    assert_eq!(
        traits,
        [("club".to_owned(), vec![group]), ("member".to_owned(), vec![user])].into(),
        "its own types, their declared traits"
    );
    let purposes: Vec<i32> = db
        .prepare("select data from v1_entitlements")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|data| connector_host::baton::Entitlement::decode(data.unwrap().as_slice()).unwrap().purpose)
        .collect();
    assert!(!purposes.is_empty() && purposes.iter().all(|p| *p == connector_host::baton::Purpose::Assignment as i32), "{purposes:?}");
    let again = connector_host::format::read(&path).unwrap();
    assert_eq!(again.resource_types, snapshot.resource_types, "what it declared comes back");
}
