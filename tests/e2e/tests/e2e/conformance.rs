//! Everything the connector sends, checked against Fivetran's OpenAPI definition as the fake
//! received it, and request bodies checked on the wire: a gateway that does not decode chunked
//! uploads must read the same body the connector wrote.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use connector_e2e::openapi;
use connector_e2e::{runtime, start, tenant};
use connector_fake_fivetran::{Account, AccountSpec, RecordedRequest};
use connector_host::bindings::latest::types::{AccountChanges, NewAccount, NewResource, ResourceChanges, ResourceRef};
use connector_host::operations::{
    create_resource, delete_resource, deprovision, grant, provision, revoke, to_json, update_account, update_resource, validate,
};
use connector_host::{TenantConfig, sync};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs every kind of request the connector makes: a sync, validation, an invite with a role and a
/// phone, each entitlement granted, updated and revoked, for users and teams, and a delete.
async fn every_kind_of_request(tenant: &TenantConfig, account: &Account) {
    sync(runtime(), tenant).await.expect("sync");
    validate(runtime(), tenant).await.expect("validate");
    let account_role = NewAccount {
        email: "conformance@example.test".into(),
        given_name: "Con".into(),
        family_name: "Formance".into(),
        account_role: Some("Account Reviewer".into()),
        phone: Some("+15551234567".into()),
    };
    let created = provision(runtime(), tenant, account_role).await.map(|o| to_json(&o)).expect("provision");
    let user = format!("user:{}", created["user"]["id"].as_str().unwrap());
    let team_id = account.teams.keys().next().unwrap();
    let group_id = account.groups.keys().find(|g| !account.team_groups.contains_key(&(team_id.clone(), (*g).clone()))).unwrap();
    let team = format!("team:{team_id}");
    let change = |entitlement: String, principal: String| async move {
        grant(runtime(), tenant, &entitlement, &principal)
            .await
            .map(|o| to_json(&o))
            .unwrap_or_else(|e| panic!("grant {entitlement} {principal}: {e}"))
    };
    change("role:Account Analyst:assigned".into(), user.clone()).await;
    revoke(runtime(), tenant, &format!("role:Account Analyst:assigned:{user}")).await.map(|o| to_json(&o)).unwrap();
    let team_role = if account.teams[team_id].role.as_deref() == Some("Account Analyst") { "Account Reviewer" } else { "Account Analyst" };
    change(format!("role:{team_role}:assigned"), team.clone()).await;
    revoke(runtime(), tenant, &format!("role:{team_role}:assigned:{team}")).await.map(|o| to_json(&o)).unwrap();
    change(format!("{team}:member"), user.clone()).await;
    change(format!("{team}:manager"), user.clone()).await;
    revoke(runtime(), tenant, &format!("{team}:manager:{user}")).await.map(|o| to_json(&o)).unwrap();
    for principal in [&user, &team] {
        change(format!("group:{group_id}:View Destination"), principal.clone()).await;
        change(format!("group:{group_id}:Manage Destination"), principal.clone()).await;
        revoke(runtime(), tenant, &format!("group:{group_id}:Manage Destination:{principal}")).await.map(|o| to_json(&o)).unwrap();
    }
    let user_id = user.trim_start_matches("user:");
    let changes = AccountChanges {
        given_name: Some("Connie".into()),
        family_name: Some("Form".into()),
        phone: Some("+15557654321".into()),
        account_role: Some("Account Analyst".into()),
    };
    update_account(runtime(), tenant, user_id, &changes).await.expect("update-account");
    let spec = NewResource {
        resource_type: "team".into(),
        name: "Conformance".into(),
        description: Some("made by the conformance test".into()),
        account_role: Some("Account Reviewer".into()),
    };
    let created = create_resource(runtime(), tenant, &spec).await.map(|o| to_json(&o)).expect("create-resource");
    let new_team = ResourceRef { resource_type: "team".into(), id: created["resource"]["id"].as_str().unwrap().into() };
    let changes = ResourceChanges {
        name: Some("Conformance 2".into()),
        description: Some("renamed".into()),
        account_role: Some("Account Analyst".into()),
    };
    update_resource(runtime(), tenant, &new_team, &changes).await.expect("update-resource");
    delete_resource(runtime(), tenant, &new_team).await.expect("delete-resource");
    deprovision(runtime(), tenant, user_id).await.map(|o| to_json(&o)).expect("deprovision");
}

#[tokio::test]
async fn everything_the_plugin_sends_conforms_to_the_openapi_definition() {
    let (fake, account) = start(&AccountSpec::sized(11, 40, 3, 3));
    every_kind_of_request(&tenant(&fake, &account), &account).await;
    let mut operations = BTreeSet::new();
    for request in fake.requests() {
        operations.insert(openapi::check(&request).unwrap_or_else(|why| panic!("{why}")));
    }
    let expected = [
        "GET /v1/account/info",
        "GET /v1/users",
        "GET /v1/roles",
        "GET /v1/teams",
        "GET /v1/groups",
        "GET /v1/teams/{teamId}/users",
        "GET /v1/teams/{teamId}/groups",
        "GET /v1/groups/{groupId}/users",
        "GET /v1/users/{userId}",
        "GET /v1/teams/{teamId}",
        "GET /v1/teams/{teamId}/users/{userId}",
        "GET /v1/users/{userId}/groups/{groupId}",
        "GET /v1/teams/{teamId}/groups/{groupId}",
        "POST /v1/users",
        "POST /v1/teams",
        "POST /v1/teams/{teamId}/users",
        "POST /v1/users/{userId}/groups",
        "POST /v1/teams/{teamId}/groups",
        "PATCH /v1/users/{userId}",
        "PATCH /v1/teams/{teamId}",
        "PATCH /v1/teams/{teamId}/users/{userId}",
        "PATCH /v1/users/{userId}/groups/{groupId}",
        "PATCH /v1/teams/{teamId}/groups/{groupId}",
        "DELETE /v1/users/{id}",
        "DELETE /v1/teams/{teamId}",
        "DELETE /v1/users/{userId}/role",
        "DELETE /v1/teams/{teamId}/role",
        "DELETE /v1/teams/{teamId}/users/{userId}",
        "DELETE /v1/users/{userId}/groups/{groupId}",
        "DELETE /v1/teams/{teamId}/groups/{groupId}",
    ];
    let missing: Vec<_> = expected.iter().filter(|o| !operations.contains(**o)).collect();
    assert!(missing.is_empty(), "the drive did not reach {missing:?}; it reached {operations:#?}");
}

fn recorded(method: &str, path: &str, query: Option<&str>, headers: &[(&str, &str)], body: &str) -> RecordedRequest {
    RecordedRequest {
        method: method.into(),
        path: path.into(),
        query: query.map(Into::into),
        status: 200,
        authorized: true,
        at: std::time::Instant::now(),
        // `*` stands for the body's true length.
        headers: headers.iter().map(|(n, v)| ((*n).into(), if *v == "*" { body.len().to_string() } else { (*v).into() })).collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn the_checker_refuses_what_does_not_conform() {
    let accept = ("accept", "application/json");
    let json = ("content-type", "application/json");
    let good =
        recorded("POST", "/v1/teams/t1/users", None, &[accept, json, ("content-length", "*")], r#"{"user_id":"u1","role":"Team Member"}"#);
    assert_eq!(openapi::check(&good), Ok("POST /v1/teams/{teamId}/users".into()));
    let cases = [
        (recorded("GET", "/v1/users", Some("limit=5000"), &[accept], ""), "outside 1..1000"),
        (recorded("GET", "/v1/users", Some("page=2"), &[accept], ""), "not in the definition"),
        (recorded("GET", "/v1/users", None, &[], ""), "Accept"),
        (recorded("GET", "/v2/users", None, &[accept], ""), "no path of the definition"),
        (recorded("PUT", "/v1/users", None, &[accept], ""), "not the method"),
        (
            recorded("POST", "/v1/teams/t1/users", None, &[accept, json, ("transfer-encoding", "chunked")], r#"{"user_id":"u1"}"#),
            "in chunks",
        ),
        (recorded("POST", "/v1/teams/t1/users", None, &[accept, json], r#"{"user_id":"u1"}"#), "Content-Length"),
        (
            recorded("POST", "/v1/teams/t1/users", None, &[accept, json, ("content-length", "*")], r#"{"role":"x1"}"#),
            "required property user_id",
        ),
        (
            recorded("POST", "/v1/teams/t1/users", None, &[accept, json, ("content-length", "*")], r#"{"user_id":"u","extra":1}"#),
            "does not declare",
        ),
        (recorded("POST", "/v1/teams/t1/users", None, &[accept, json, ("content-length", "*")], r#"{"user_id":1}"#), "not of type string"),
        (recorded("DELETE", "/v1/users/u1", None, &[accept], "{}"), "takes none"),
    ];
    for (request, why) in cases {
        match openapi::check(&request) {
            Err(message) => assert!(message.contains(why), "{message} should say {why}"),
            Ok(operation) => panic!("{operation} passed, though it should fail for {why}"),
        }
    }
}

#[test]
fn the_definition_copy_matches_the_shared_one() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fivetran-api/openapi-identity.json");
    let ours = include_str!("../../spec/openapi-identity.json");
    match std::fs::read_to_string(&shared) {
        Ok(theirs) => assert_eq!(ours, theirs, "tests/e2e/spec/openapi-identity.json differs from {}: copy it again", shared.display()),
        // A clone without the shared folder beside it checks against the copy alone.
        Err(_) => assert!(ours.contains("\"/v1/users\"")),
    }
}

/// A loopback proxy in front of the fake that keeps every byte the client sent.
async fn recording_proxy(target: std::net::SocketAddr) -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&sent);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(target).await else { return };
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let upstream = async {
                    let mut buffer = vec![0; 16 * 1024];
                    while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
                        record.lock().unwrap().extend_from_slice(&buffer[..n]);
                        if server_write.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let downstream = async {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                };
                tokio::join!(upstream, downstream);
            });
        }
    });
    (url, sent)
}

#[tokio::test]
async fn request_bodies_go_on_the_wire_with_a_content_length_and_never_in_chunks() {
    let (fake, account) = start(&AccountSpec::sized(5, 20, 2, 2));
    let (url, sent) = recording_proxy(fake.addr()).await;
    let mut tenant = tenant(&fake, &account);
    tenant.base_url = url;
    let (team, user) = account
        .teams
        .keys()
        .flat_map(|t| account.users.keys().map(move |u| (t, u)))
        .find(|(t, u)| !account.team_users.contains_key(&((*t).clone(), (*u).clone())))
        .expect("a user outside a team");
    let outcome = grant(runtime(), &tenant, &format!("team:{team}:member"), &format!("user:{user}"))
        .await
        .map(|o| to_json(&o))
        .expect("the fake took the body");
    assert_eq!(outcome["outcome"], "granted");

    let wire = String::from_utf8_lossy(&sent.lock().unwrap()).into_owned();
    let start = wire.find(&format!("POST /v1/teams/{team}/users HTTP/1.1\r\n")).expect("the POST went through the proxy");
    let (head, rest) = wire[start..].split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(!head.contains("transfer-encoding"), "{head}");
    let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).expect("a Content-Length").trim().parse().unwrap();
    let body = &rest[..length];
    assert_eq!(body, format!(r#"{{"role":"Team Member","user_id":"{user}"}}"#));
    assert!(head.contains("content-type: application/json"), "{head}");
    for get in wire.split("\r\n\r\n").filter(|h| h.contains("GET /v1/")) {
        assert!(!get.to_ascii_lowercase().contains("content-length") && !get.to_ascii_lowercase().contains("transfer-encoding"), "{get}");
    }
}
