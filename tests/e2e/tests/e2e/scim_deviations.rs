//! The SCIM connector against services that deviate from RFC 7643/7644 the way real ones do (the
//! fake's quirks, each modelled on a server in `tests/peers`): every change reports what the
//! service holds afterwards, read from the fake's own state, and exits 4 when that is not what
//! was asked; nothing is reported granted, revoked or renamed that is not.

use std::collections::BTreeSet;

use connector_e2e::{exit_status, scim_runtime, scim_tenant, start_scim};
use connector_fake_scim::{Directory, FakeScim, Flavor, Quirks, ScimFault};
use connector_host::bindings::latest::types::{AccountChanges, NewAccount, NewResource, ResourceChanges, ResourceRef};
use connector_host::operations::{
    create_resource, delete_resource, grant, provision, revoke, set_account_enabled, to_json, update_account, update_resource,
};
use connector_host::{HostError, Snapshot, TenantConfig, sync};
use serde_json::{Value, json};

async fn synced(tenant: &TenantConfig) -> Snapshot {
    sync(scim_runtime(), tenant).await.expect("sync")
}

fn grant_ids(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot.grants.iter().map(|g| g.id.clone()).collect()
}

fn with_quirks(directory: Directory, quirks: Quirks) -> (FakeScim, TenantConfig) {
    let fake = start_scim(directory);
    fake.set_quirks(quirks);
    let tenant = scim_tenant(&fake);
    (fake, tenant)
}

fn unverified(error: &HostError, words: &str) {
    assert_eq!(exit_status(&error), 4, "{error}");
    assert!(error.to_string().contains(words), "{error}");
}

#[tokio::test]
async fn members_listed_by_user_name_are_matched_by_ref_in_sync_revoke_and_grant() {
    let quirks = Quirks { members_by_user_name: true, ..Quirks::default() };
    let (fake, tenant) = with_quirks(Directory::sample(12, 3, Flavor::Generic), quirks);
    let snapshot = synced(&tenant).await;
    assert_eq!(grant_ids(&snapshot), fake.directory().expected_grants(), "every membership, under the users' ids");
    assert_eq!(snapshot.stats.unresolved_principals, 0);

    let directory = fake.directory();
    let (group, user) = directory
        .groups
        .keys()
        .find_map(|g| directory.members_of(g).into_iter().find(|m| directory.users.contains_key(m)).map(|u| (g.clone(), u)))
        .unwrap();
    let name = directory.users[&user]["userName"].as_str().unwrap().to_owned();
    let others: Vec<String> = directory.members_of(&group).into_iter().filter(|m| *m != user).collect();
    fake.clear_requests();
    let revoked = revoke(scim_runtime(), &tenant, &format!("group:{group}:member:user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(revoked["outcome"], "revoked");
    assert_eq!(fake.directory().members_of(&group), others, "the member is gone, the others stay");
    let patch = fake.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        patch.json()["Operations"],
        json!([{"op": "remove", "path": format!("members[value eq \"{name}\"]")}]),
        "by the name listed"
    );

    let granted =
        grant(scim_runtime(), &tenant, &format!("group:{group}:member"), &format!("user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(granted["outcome"], "granted");
    assert!(fake.directory().members_of(&group).contains(&user));
    let held =
        grant(scim_runtime(), &tenant, &format!("group:{group}:member"), &format!("user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(held["outcome"], "already_held");
}

#[tokio::test]
async fn a_group_granted_where_ids_are_shared_and_a_user_is_added_instead_exits_4() {
    let quirks = Quirks { members_taken_for_users: true, ..Quirks::default() };
    let (fake, tenant) = with_quirks(Directory::sample(8, 4, Flavor::Generic).with_shared_numeric_ids(), quirks);
    assert_eq!(grant_ids(&synced(&tenant).await), fake.directory().expected_grants());
    let before = fake.directory().members_of("2");
    assert!(!before.contains(&"3".to_owned()));
    let error = grant(scim_runtime(), &tenant, "group:2:member", "group:3").await.map(|o| to_json(&o)).unwrap_err();
    unverified(&error, "added user 3 to group 2, not group 3");
    // What the service did, the sync shows: user 3, not group 3.
    let snapshot = synced(&tenant).await;
    assert!(grant_ids(&snapshot).contains("group:2:member:user:3") && !grant_ids(&snapshot).contains("group:2:member:group:3"));
}

#[tokio::test]
async fn a_nested_group_is_sent_typed_and_a_service_that_keeps_what_it_is_sent_keeps_it_nested() {
    let quirks = Quirks { members_as_sent: true, ..Quirks::default() };
    let (fake, tenant) = with_quirks(Directory::sample(6, 3, Flavor::Generic), quirks);
    let groups: Vec<String> = fake.directory().groups.keys().cloned().collect();
    let (parent, child) = (&groups[2], &groups[0]);
    let granted =
        grant(scim_runtime(), &tenant, &format!("group:{parent}:member"), &format!("group:{child}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(granted["outcome"], "granted");
    let patch = fake.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.json()["Operations"][0]["value"], json!([{"value": child, "type": "Group"}]));
    let nested = format!("group:{parent}:member:group:{child}");
    let snapshot = synced(&tenant).await;
    let grant = snapshot.grants.iter().find(|g| g.id == nested).expect("the nested group, as a group");
    assert_eq!(grant.expandable, [format!("group:{child}:member")]);
}

fn user_with_phones() -> Directory {
    let mut directory = Directory::sample(3, 1, Flavor::Generic);
    let user = directory.users.values_mut().next().unwrap();
    user["phoneNumbers"] = json!([{"value": "+1 555 0199", "type": "mobile", "primary": true}, {"value": "+1 555 0100", "type": "work"}]);
    directory
}

#[tokio::test]
async fn a_phone_change_replaces_the_work_number_and_keeps_the_others() {
    let (fake, tenant) = with_quirks(user_with_phones(), Quirks::default());
    let user = fake.directory().users.keys().next().unwrap().clone();
    let changes = AccountChanges { phone: Some("+1 555 0111".into()), given_name: None, family_name: None, account_role: None };
    let updated = update_account(scim_runtime(), &tenant, &user, &changes).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(updated["outcome"], "updated");
    assert_eq!(
        fake.directory().users[&user]["phoneNumbers"],
        json!([{"value": "+1 555 0199", "type": "mobile", "primary": true}, {"value": "+1 555 0111", "type": "work"}])
    );
    let patch = fake.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        patch.json()["Operations"],
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0111"}])
    );
}

#[tokio::test]
async fn a_service_with_patch_for_members_only_is_renamed_by_put() {
    let quirks = Quirks { patch_members_only: true, ..Quirks::default() };
    let (fake, tenant) = with_quirks(Directory::sample(6, 2, Flavor::Generic), quirks);
    let group = fake.directory().groups.keys().next().unwrap().clone();
    let members = fake.directory().members_of(&group);
    let target = ResourceRef { resource_type: "group".into(), id: group.clone() };
    let rename = ResourceChanges { name: Some("Data Platform".into()), description: None, account_role: None };
    let renamed = update_resource(scim_runtime(), &tenant, &target, &rename).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(renamed["outcome"], "updated");
    assert_eq!(fake.directory().groups[&group]["displayName"], "Data Platform");
    assert_eq!(fake.directory().members_of(&group), members, "the PUT kept the members as read");
    assert!(fake.writes().ends_with(&[format!("PATCH /Groups/{group}"), format!("PUT /Groups/{group}")]), "{:?}", fake.writes());
}

#[tokio::test]
async fn a_strict_schema_shapes_every_request_and_an_immutable_name_is_refused_before_sending() {
    let quirks = Quirks { strict_schema: true, ..Quirks::default() };
    let (fake, tenant) = with_quirks(Directory::sample(4, 2, Flavor::Generic), quirks);
    let mut account = NewAccount {
        email: "ines.ruiz@example.test".into(),
        given_name: "Ines".into(),
        family_name: "Ruiz".into(),
        account_role: None,
        phone: Some("+1 555 0123".into()),
    };
    let created = provision(scim_runtime(), &tenant, account.clone()).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(created["outcome"], "created");
    let id = created["user"]["id"].as_str().unwrap().to_owned();
    let stored = &fake.directory().users[&id];
    assert_eq!(stored["name"]["formatted"], "Ines Ruiz");
    assert_eq!(stored["emails"], json!([{"value": "ines.ruiz@example.test"}]));
    assert_eq!(stored["phoneNumbers"], json!([{"value": "+1 555 0123"}]));

    account.email = "other@example.test".into();
    account.account_role = Some("Admin".into());
    let error = provision(scim_runtime(), &tenant, account).await.map(|o| to_json(&o)).unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert!(error.to_string().contains("no roles attribute"), "{error}");

    let group = fake.directory().groups.keys().next().unwrap().clone();
    fake.clear_requests();
    let rename = ResourceChanges { name: Some("Renamed".into()), description: None, account_role: None };
    let target = ResourceRef { resource_type: "group".into(), id: group.clone() };
    let error = update_resource(scim_runtime(), &tenant, &target, &rename).await.map(|o| to_json(&o)).unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert!(error.to_string().contains("displayName immutable"), "{error}");
    assert!(fake.writes().is_empty());

    let granted = grant(scim_runtime(), &tenant, &format!("group:{group}:member"), &format!("user:{id}")).await.map(|o| to_json(&o));
    let granted = granted.unwrap();
    assert_eq!(granted["outcome"], "granted");
    let added = fake.requests().into_iter().find(|r| r.method == "PATCH").unwrap().json()["Operations"][0]["value"][0].clone();
    assert_eq!(added, json!({"value": id, "$ref": format!("{}/Users/{id}", tenant.base_url)}), "the $ref it requires, no type it lacks");
}

#[tokio::test]
async fn a_server_error_naming_a_scim_error_type_is_a_refusal_sent_once() {
    // The schema is not served, so the rename is sent; the service refuses it with a 500.
    let quirks = Quirks { strict_schema: true, no_discovery: true, ..Quirks::default() };
    let (fake, tenant) = with_quirks(Directory::sample(4, 2, Flavor::Generic), quirks);
    let group = fake.directory().groups.keys().next().unwrap().clone();
    let target = ResourceRef { resource_type: "group".into(), id: group.clone() };
    let rename = ResourceChanges { name: Some("Renamed".into()), description: None, account_role: None };
    let error = update_resource(scim_runtime(), &tenant, &target, &rename).await.map(|o| to_json(&o)).unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert!(error.to_string().contains("mutability") && error.to_string().contains("displayName is immutable"), "{error}");
    assert_eq!(fake.writes(), [format!("PATCH /Groups/{group}")], "not retried, and no PUT after a refusal");
}

#[tokio::test]
async fn a_group_named_in_another_case_is_found_though_the_filter_compares_exactly() {
    let quirks = Quirks { case_sensitive_filter: true, ..Quirks::default() };
    let (fake, tenant) = with_quirks(Directory::sample(4, 3, Flavor::Generic), quirks);
    let spec = NewResource { resource_type: "group".into(), name: "Interop Team".into(), description: None, account_role: None };
    let created = create_resource(scim_runtime(), &tenant, &spec).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(created["outcome"], "created");
    let lower = NewResource { name: "interop team".into(), ..spec };
    let again = create_resource(scim_runtime(), &tenant, &lower).await.map(|o| to_json(&o)).unwrap();
    assert_eq!((again["outcome"].as_str(), again["resource"]["id"].as_str()), (Some("already_exists"), created["resource"]["id"].as_str()));
    assert_eq!(fake.writes().len(), 1, "one create: {:?}", fake.writes());

    let other = fake.directory().groups.keys().next().unwrap().clone();
    let rename = ResourceChanges { name: Some("INTEROP TEAM".into()), description: None, account_role: None };
    let error = update_resource(scim_runtime(), &tenant, &ResourceRef { resource_type: "group".into(), id: other }, &rename)
        .await
        .map(|o| to_json(&o))
        .unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert_eq!(fake.writes().len(), 1, "the rename was refused before sending");
}

#[tokio::test]
async fn ids_shaped_like_paths_stop_a_sync_and_are_never_sent() {
    let (fake, tenant) = with_quirks(Directory::sample(4, 2, Flavor::Generic), Quirks::default());
    fake.edit(|d| drop(d.users.insert("../Users/u1".into(), json!({"userName": "mallory@example.test"}))));
    let error = sync(scim_runtime(), &tenant).await.unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");
    assert!(error.to_string().contains("../Users/u1"), "{error}");

    let (fake, tenant) = with_quirks(Directory::sample(4, 2, Flavor::Generic), Quirks::default());
    fake.edit(|d| d.next_ids.push(".%2e".into()));
    let spec = NewResource { resource_type: "group".into(), name: "Shaped".into(), description: None, account_role: None };
    let error = create_resource(scim_runtime(), &tenant, &spec).await.map(|o| to_json(&o)).unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");

    fake.clear_requests();
    for id in ["../Users/u1", "x/../../Users/u1", ".%2e", "..%2FUsers%2Fu1"] {
        let target = ResourceRef { resource_type: "group".into(), id: id.into() };
        let error = delete_resource(scim_runtime(), &tenant, &target).await.map(|o| to_json(&o)).unwrap_err();
        assert_eq!(exit_status(&error), 2, "{id}: {error}");
    }
    assert!(fake.requests().is_empty(), "nothing sent: {:?}", fake.writes());
}

#[tokio::test]
async fn a_change_accepted_but_not_applied_exits_4_naming_what_the_service_shows() {
    let (fake, tenant) = with_quirks(Directory::sample(6, 2, Flavor::Generic), Quirks::default());
    let directory = fake.directory();
    let user = directory.users.keys().next().unwrap().clone();
    fake.inject("PATCH", "/Users", 9, ScimFault::AcceptedNotApplied);
    fake.inject("PUT", "/Users", 9, ScimFault::AcceptedNotApplied);
    let error = set_account_enabled(scim_runtime(), &tenant, &user, false).await.map(|o| to_json(&o)).unwrap_err();
    unverified(&error, "is still enabled when read back");
    assert!(error.to_string().contains("sync to see what the service holds"), "{error}");

    let group = directory.groups.keys().next().unwrap().clone();
    let outsider = directory.users.keys().find(|u| !directory.members_of(&group).contains(u)).unwrap().clone();
    fake.inject("PATCH", "/Groups", 9, ScimFault::AcceptedNotApplied);
    fake.inject("PUT", "/Groups", 9, ScimFault::AcceptedNotApplied);
    let error = grant(scim_runtime(), &tenant, &format!("group:{group}:member"), &format!("user:{outsider}"))
        .await
        .map(|o| to_json(&o))
        .unwrap_err();
    unverified(&error, &format!("does not list user {outsider}"));
    assert_eq!(fake.directory().members_of(&group), directory.members_of(&group));
}

#[tokio::test]
async fn every_dialect_of_membership_gives_the_same_snapshot() {
    let (fake, tenant) = with_quirks(Directory::sample(15, 4, Flavor::Generic), Quirks::default());
    let plain = synced(&tenant).await;
    for quirks in [
        Quirks { members_by_user_name: true, ..Quirks::default() },
        Quirks { members_as_sent: true, ..Quirks::default() },
        Quirks { members_by_user_name: true, members_not_listed: true, ..Quirks::default() },
    ] {
        fake.set_quirks(quirks.clone());
        let snapshot = synced(&tenant).await;
        assert_eq!(grant_ids(&snapshot), grant_ids(&plain), "{quirks:?}");
        let traits = |s: &Snapshot| s.resources.iter().map(|r| (r.id.clone(), r.traits.clone())).collect::<Vec<(String, Value)>>();
        assert_eq!(traits(&snapshot), traits(&plain), "{quirks:?}");
    }
}
