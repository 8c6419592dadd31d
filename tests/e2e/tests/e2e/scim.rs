//! The SCIM connector through the real host against the fake SCIM service: a full sync checked
//! grant by grant against the service's state, in every dialect the fake speaks; every lifecycle
//! verb, idempotent; bad input refused before anything that changes is sent; what goes on the
//! wire (media types, lowercase ops, real booleans, escaped filters).

use std::collections::BTreeSet;

use connector_e2e::{SCIM_TOKEN, exit_status, scim_runtime, scim_tenant, start_scim};
use connector_fake_scim::{Directory, FakeScim, Flavor, Quirks, ScimFault};
use connector_host::bindings::latest::types::{AccountChanges, NewAccount, NewResource, ResourceChanges, ResourceRef};
use connector_host::operations::{
    create_resource, delete_resource, deprovision, grant, provision, revoke, set_account_enabled, to_json, update_account, update_resource,
    validate,
};
use connector_host::{Snapshot, TenantConfig, sync};
use serde_json::{Value, json};

const NO_ACCOUNT_CHANGE: AccountChanges = AccountChanges { given_name: None, family_name: None, phone: None, account_role: None };

async fn synced(tenant: &TenantConfig) -> Snapshot {
    sync(scim_runtime(), tenant).await.expect("sync")
}

fn grant_ids(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot.grants.iter().map(|g| g.id.clone()).collect()
}

fn resource_keys(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot.resources.iter().map(|r| format!("{}:{}", r.resource_type, r.id)).collect()
}

fn resource(snapshot: &Snapshot, resource_type: &str, id: &str) -> Option<Value> {
    snapshot.resources.iter().find(|r| r.resource_type == resource_type && r.id == id).map(|r| serde_json::to_value(r).unwrap())
}

fn setup(flavor: Flavor) -> (FakeScim, TenantConfig) {
    let fake = start_scim(Directory::sample(23, 4, flavor));
    let tenant = scim_tenant(&fake);
    (fake, tenant)
}

#[tokio::test]
async fn a_sync_reports_every_user_group_role_and_grant_of_the_service() {
    let (fake, tenant) = setup(Flavor::Generic);
    let snapshot = synced(&tenant).await;
    let directory = fake.directory();
    assert_eq!(grant_ids(&snapshot), directory.expected_grants());
    assert_eq!(resource_keys(&snapshot), directory.expected_resources());
    assert_eq!(snapshot.connector.name, "scim");

    let nested = snapshot.grants.iter().find(|g| g.principal.resource_type == "group").expect("a nested group");
    assert_eq!(nested.expandable, [format!("group:{}:member", nested.principal.id)]);
    let ann = directory.users.iter().find(|(_, u)| u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].is_object()).unwrap();
    let traits = &resource(&snapshot, "user", ann.0).unwrap()["traits"];
    assert_eq!(traits["department"], "Finance");
    assert_eq!(traits["user_name"], ann.1["userName"]);
    assert_eq!(traits["email"], ann.1["userName"]);
    assert!(snapshot.resources.iter().any(|r| r.resource_type == "user" && r.traits["status"] == "disabled"));
    let entitlements: BTreeSet<&str> = snapshot.entitlements.iter().map(|e| e.id.as_str()).collect();
    for group in directory.groups.keys() {
        assert!(entitlements.contains(format!("group:{group}:member").as_str()));
    }
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.authorized), "every request bore the token");
    assert!(requests.iter().all(|r| r.header("accept") == Some("application/scim+json")), "SCIM clients accept application/scim+json");
}

#[tokio::test]
async fn every_quirk_of_real_services_gives_the_same_snapshot() {
    let (fake, tenant) = setup(Flavor::Generic);
    let plain = synced(&tenant).await;
    let quirks = [
        Quirks { max_count: Some(4), ..Quirks::default() },
        Quirks { string_booleans: true, ..Quirks::default() },
        Quirks { members_null: true, ..Quirks::default() },
        Quirks { members_not_listed: true, ..Quirks::default() },
        Quirks { lowercase_resources: true, no_schemas: true, numbers_as_strings: true, ..Quirks::default() },
        Quirks { no_discovery: true, numeric_status: true, ..Quirks::default() },
    ];
    for quirk in quirks {
        fake.set_quirks(quirk.clone());
        fake.clear_requests();
        let snapshot = synced(&tenant).await;
        assert_eq!(grant_ids(&snapshot), grant_ids(&plain), "{quirk:?}");
        assert_eq!(snapshot.resources, plain.resources, "{quirk:?}");
        if quirk.max_count.is_some() {
            let starts: Vec<String> = fake.requests().iter().filter(|r| r.path == "/Users").filter_map(|r| r.query.clone()).collect();
            assert!(starts.iter().any(|q| q.starts_with("startIndex=5&")), "the next page starts after the 4 items that came: {starts:?}");
        }
    }
}

#[tokio::test]
async fn validate_says_what_the_service_supports() {
    let (fake, tenant) = setup(Flavor::Fivetran);
    fake.set_quirks(Quirks { no_patch: true, ..Quirks::default() });
    let validation = validate(scim_runtime(), &tenant).await.unwrap();
    let about = validation.account_name.clone().unwrap();
    assert!(about.starts_with("Fivetran SCIM API"), "{about}");
    assert!(about.contains("PATCH no (changes are sent as PUT)") && about.contains("User, Group") && about.contains("23 users"), "{about}");
    assert!(validation.can_sync() && validation.provisioning);
}

fn new_user(email: &str, role: Option<&str>) -> NewAccount {
    NewAccount {
        email: email.into(),
        given_name: "Nia".into(),
        family_name: "Park".into(),
        account_role: role.map(Into::into),
        phone: Some("+15551230000".into()),
    }
}

#[tokio::test]
async fn a_user_is_created_once_updated_disabled_enabled_and_deleted() {
    let (fake, tenant) = setup(Flavor::Fivetran);
    let created =
        provision(scim_runtime(), &tenant, new_user("nia.park@example.test", Some("Account Reviewer"))).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(created["outcome"], "created");
    let id = created["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["user"]["traits"]["account_role"], "Account Reviewer");
    assert_eq!(created["user"]["traits"]["user_name"], "nia.park@example.test", "user name = email");
    let post = fake.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.header("content-type"), Some("application/scim+json"));
    assert_eq!(post.json()["active"], json!(true));
    assert_eq!(resource(&synced(&tenant).await, "user", &id).as_ref(), Some(&created["user"]), "the answer is the user as sync shows it");

    let again = provision(scim_runtime(), &tenant, new_user("NIA.PARK@example.test", None)).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(again["outcome"], "already_exists");
    assert_eq!(fake.writes(), ["POST /Users"]);

    let changes =
        AccountChanges { family_name: Some("Park-Lee".into()), account_role: Some("Account Analyst".into()), ..NO_ACCOUNT_CHANGE };
    let updated = update_account(scim_runtime(), &tenant, &id, &changes).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(updated["outcome"], "updated");
    assert_eq!(updated["user"]["traits"]["family_name"], "Park-Lee");
    assert_eq!(updated["user"]["traits"]["given_name"], "Nia", "a name not given stays");
    assert_eq!(fake.directory().roles_of(&id), ["Account Analyst"]);
    let unchanged = update_account(scim_runtime(), &tenant, &id, &changes).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(unchanged["outcome"], "unchanged");

    fake.clear_requests();
    let disabled = set_account_enabled(scim_runtime(), &tenant, &id, false).await.map(|o| to_json(&o)).unwrap();
    assert_eq!((disabled["outcome"].as_str(), disabled["user"]["traits"]["status"].as_str()), (Some("disabled"), Some("disabled")));
    let patch = fake.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        patch.json(),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]})
    );
    let again = set_account_enabled(scim_runtime(), &tenant, &id, false).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(again["outcome"], "already_disabled");
    assert!(fake.directory().users.contains_key(&id), "a disabled user stays");
    let enabled = set_account_enabled(scim_runtime(), &tenant, &id, true).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(enabled["outcome"], "enabled");
    let again = set_account_enabled(scim_runtime(), &tenant, &id, true).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(again["outcome"], "already_enabled");
    assert_eq!(fake.writes().len(), 2, "{:?}", fake.writes());

    let deleted = deprovision(scim_runtime(), &tenant, &id).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(deleted["outcome"], "deleted");
    let gone = deprovision(scim_runtime(), &tenant, &id).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(gone["outcome"], "not_found");
}

#[tokio::test]
async fn groups_and_their_members_change_one_at_a_time() {
    let (fake, tenant) = setup(Flavor::Generic);
    let spec = NewResource { resource_type: "group".into(), name: "Access Reviewers".into(), description: None, account_role: None };
    let created = create_resource(scim_runtime(), &tenant, &spec).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(created["outcome"], "created");
    let group = created["resource"]["id"].as_str().unwrap().to_owned();
    let same = NewResource { name: "access reviewers".into(), ..spec.clone() };
    assert_eq!(create_resource(scim_runtime(), &tenant, &same).await.map(|o| to_json(&o)).unwrap()["outcome"], "already_exists");

    let directory = fake.directory();
    let user = directory.users.keys().next().unwrap().clone();
    let other_group = directory.groups.keys().next().unwrap().clone();
    let entitlement = format!("group:{group}:member");
    for principal in [format!("user:{user}"), format!("group:{other_group}")] {
        let granted = grant(scim_runtime(), &tenant, &entitlement, &principal).await.map(|o| to_json(&o)).unwrap();
        assert_eq!(granted["outcome"], "granted", "{principal}");
        let held = grant(scim_runtime(), &tenant, &entitlement, &principal).await.map(|o| to_json(&o)).unwrap();
        assert_eq!(held["outcome"], "already_held");
    }
    let snapshot = synced(&tenant).await;
    assert_eq!(grant_ids(&snapshot), fake.directory().expected_grants());
    assert!(grant_ids(&snapshot).contains(&format!("{entitlement}:group:{other_group}")));

    fake.clear_requests();
    let revoked = revoke(scim_runtime(), &tenant, &format!("{entitlement}:user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(revoked["outcome"], "revoked");
    let patch = fake.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.json()["Operations"], json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]));
    assert_eq!(fake.directory().members_of(&group), std::slice::from_ref(&other_group), "the other member stays");
    let not_held = revoke(scim_runtime(), &tenant, &format!("{entitlement}:user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(not_held["outcome"], "not_held");

    let target = ResourceRef { resource_type: "group".into(), id: group.clone() };
    let rename = ResourceChanges { name: Some("Access Review Board".into()), description: None, account_role: None };
    let renamed = update_resource(scim_runtime(), &tenant, &target, &rename).await.map(|o| to_json(&o)).unwrap();
    assert_eq!((renamed["outcome"].as_str(), renamed["resource"]["display_name"].as_str()), (Some("updated"), Some("Access Review Board")));
    assert_eq!(update_resource(scim_runtime(), &tenant, &target, &rename).await.map(|o| to_json(&o)).unwrap()["outcome"], "unchanged");
    assert_eq!(delete_resource(scim_runtime(), &tenant, &target).await.map(|o| to_json(&o)).unwrap()["outcome"], "deleted");
    assert_eq!(delete_resource(scim_runtime(), &tenant, &target).await.map(|o| to_json(&o)).unwrap()["outcome"], "not_found");
}

#[tokio::test]
async fn roles_are_set_and_cleared_on_the_user() {
    let (fake, tenant) = setup(Flavor::Fivetran);
    let directory = fake.directory();
    let (user, _) = directory.users.iter().find(|(id, _)| directory.roles_of(id) == ["Account Analyst"]).unwrap();
    let outcome =
        grant(scim_runtime(), &tenant, "role:Account Reviewer:assigned", &format!("user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "updated");
    assert_eq!(outcome["replaced"], format!("role:Account Analyst:assigned:user:{user}"));
    assert_eq!(fake.directory().roles_of(user), ["Account Reviewer"]);
    let revoked =
        revoke(scim_runtime(), &tenant, &format!("role:Account Reviewer:assigned:user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(revoked["outcome"], "revoked");
    assert!(fake.directory().roles_of(user).is_empty());
    assert!(!grant_ids(&synced(&tenant).await).iter().any(|g| g.ends_with(&format!(":user:{user}")) && g.starts_with("role:")));
}

#[tokio::test]
async fn a_service_without_patch_is_changed_with_put_and_204s_are_success() {
    let (fake, tenant) = setup(Flavor::Generic);
    fake.set_quirks(Quirks { no_patch: true, no_content: true, string_booleans: true, ..Quirks::default() });
    let directory = fake.directory();
    let user = directory.users.keys().nth(1).unwrap().clone();
    let group = directory.groups.keys().nth(2).unwrap().clone();
    let disabled = set_account_enabled(scim_runtime(), &tenant, &user, false).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(disabled["user"]["traits"]["status"], "disabled");
    let granted =
        grant(scim_runtime(), &tenant, &format!("group:{group}:member"), &format!("user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(granted["outcome"], "granted");
    let before = directory.members_of(&group);
    let mut after = fake.directory().members_of(&group);
    after.retain(|m| *m != user);
    assert_eq!(after, before, "a PUT kept every other member");
    assert!(fake.writes().iter().all(|w| w.starts_with("PUT ")), "{:?}", fake.writes());
    assert_eq!(grant_ids(&synced(&tenant).await), fake.directory().expected_grants());
}

#[tokio::test]
async fn lost_answers_and_rate_limits_do_not_change_anything_twice() {
    let (fake, tenant) = setup(Flavor::Generic);
    fake.inject("POST", "/Users", 1, ScimFault::AppliedThenUnavailable);
    let outcome = provision(scim_runtime(), &tenant, new_user("lost@example.test", None)).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "already_exists", "the retry looked the user up and found it");
    assert_eq!(fake.directory().users.values().filter(|u| u["userName"] == "lost@example.test").count(), 1);
    fake.inject("GET", "/Groups", 2, ScimFault::RateLimited);
    let snapshot = synced(&tenant).await;
    assert_eq!(grant_ids(&snapshot), fake.directory().expected_grants());
}

#[tokio::test]
async fn a_service_filtering_case_sensitively_still_finds_the_user_after_a_409() {
    let (fake, tenant) = setup(Flavor::Generic);
    fake.set_quirks(Quirks { case_sensitive_filter: true, ..Quirks::default() });
    // Stored in lower case; asked in upper case, the filter misses and the create answers 409.
    let existing = fake.directory().users.values().next().unwrap()["userName"].as_str().unwrap().to_uppercase();
    let outcome = provision(scim_runtime(), &tenant, new_user(&existing, None)).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "already_exists");
    assert_eq!(fake.writes(), ["POST /Users"], "one create, refused");
}

#[tokio::test]
async fn filter_values_are_escaped_and_encoded() {
    let (fake, tenant) = setup(Flavor::Generic);
    // A quoted local part may hold quotes and backslashes; the filter must carry them intact.
    let tricky = "o\"neil\\x@example.test";
    assert_eq!(provision(scim_runtime(), &tenant, new_user(tricky, None)).await.map(|o| to_json(&o)).unwrap()["outcome"], "created");
    fake.clear_requests();
    assert_eq!(provision(scim_runtime(), &tenant, new_user(tricky, None)).await.map(|o| to_json(&o)).unwrap()["outcome"], "already_exists");
    let lookup = fake.requests().into_iter().find(|r| r.path == "/Users" && r.method == "GET").unwrap();
    assert!(lookup.query.unwrap().ends_with("filter=userName%20eq%20%22o%5C%22neil%5C%5Cx%40example.test%22"));
    assert_eq!(fake.writes(), Vec::<String>::new(), "found by the escaped filter, not created again");
    let spec = NewResource { resource_type: "group".into(), name: "R&D \"core\" \\ team".into(), description: None, account_role: None };
    let created = create_resource(scim_runtime(), &tenant, &spec).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(created["resource"]["display_name"], "R&D \"core\" \\ team");
    let lookup =
        fake.requests().into_iter().find(|r| r.path == "/Groups" && r.query.as_deref().is_some_and(|q| q.contains("filter="))).unwrap();
    let query = lookup.query.unwrap();
    assert!(
        query.ends_with("filter=displayName%20eq%20%22R%26D%20%5C%22core%5C%22%20%5C%5C%20team%22"),
        "the value is quoted, escaped and encoded: {query}"
    );
    assert_eq!(create_resource(scim_runtime(), &tenant, &spec).await.map(|o| to_json(&o)).unwrap()["outcome"], "already_exists");
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_that_changes_is_sent() {
    let (fake, tenant) = setup(Flavor::Fivetran);
    let user = fake.directory().users.keys().next().unwrap().clone();
    let group = fake.directory().groups.keys().next().unwrap().clone();
    let errors = [
        provision(scim_runtime(), &tenant, new_user("a@b.test", Some("Destination Administrator"))).await.map(|_| ()).unwrap_err(),
        provision(scim_runtime(), &tenant, new_user("not-an-email", None)).await.map(|_| ()).unwrap_err(),
        update_account(scim_runtime(), &tenant, &user, &NO_ACCOUNT_CHANGE).await.map(|_| ()).unwrap_err(),
        update_account(scim_runtime(), &tenant, "no-such-user", &AccountChanges { given_name: Some("X".into()), ..NO_ACCOUNT_CHANGE })
            .await
            .map(|_| ())
            .unwrap_err(),
        set_account_enabled(scim_runtime(), &tenant, "a:b", false).await.map(|_| ()).unwrap_err(),
        grant(scim_runtime(), &tenant, "role:Destination Reviewer:assigned", &format!("user:{user}")).await.map(|_| ()).unwrap_err(),
        grant(scim_runtime(), &tenant, &format!("group:{group}:member"), "role:Admin").await.map(|_| ()).unwrap_err(),
        grant(scim_runtime(), &tenant, &format!("group:{group}:member"), "user:nobody").await.map(|_| ()).unwrap_err(),
        grant(scim_runtime(), &tenant, &format!("group:{group}:owner"), &format!("user:{user}")).await.map(|_| ()).unwrap_err(),
        create_resource(
            scim_runtime(),
            &tenant,
            &NewResource { resource_type: "group".into(), name: "X".into(), description: Some("d".into()), account_role: None },
        )
        .await
        .map(|_| ())
        .unwrap_err(),
        create_resource(
            scim_runtime(),
            &tenant,
            &NewResource { resource_type: "team".into(), name: "X".into(), description: None, account_role: None },
        )
        .await
        .map(|_| ())
        .unwrap_err(),
        delete_resource(scim_runtime(), &tenant, &ResourceRef { resource_type: "group".into(), id: "..".into() })
            .await
            .map(|_| ())
            .unwrap_err(),
    ];
    for error in errors {
        assert_eq!(exit_status(&error), 2, "{error}");
    }
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
}

#[tokio::test]
async fn a_wrong_token_is_a_credentials_error() {
    let (fake, _tenant) = setup(Flavor::Generic);
    let mut tenant = scim_tenant(&fake);
    tenant.credentials = connector_host::Credentials::bearer(format!("{SCIM_TOKEN}-wrong"));
    let error = sync(scim_runtime(), &tenant).await.unwrap_err();
    assert_eq!(exit_status(&error), 3, "{error}");
}

#[tokio::test]
async fn the_progress_counts_what_the_summary_counts() {
    let (_fake, tenant) = setup(Flavor::Generic);
    let progress = connector_host::progress::SyncProgress::new();
    let snapshot = connector_host::sync_with_progress(scim_runtime(), &tenant, progress.clone()).await.unwrap();
    for (resource_type, shown) in progress.view().resources {
        let counted = snapshot.resources.iter().filter(|r| r.resource_type == resource_type).count();
        assert_eq!(shown, counted, "{resource_type}: roles come from the users listing, and count all the same");
    }
    assert!(snapshot.resources.iter().any(|r| r.resource_type == "role"));
}
