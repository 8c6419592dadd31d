//! The SCIM connector against SCIM servers that other people wrote and deploy (`tests/peers`):
//! each seeded through its own API, synced and changed through the real component in the real
//! host, its state read directly after every command (its database, or its own API). Every verb
//! either does what it says, as the server's state shows, or exits non-zero saying why; where a
//! server cannot do something, that is the assertion.

use std::collections::BTreeSet;

use connector_e2e::peers::{Peer, PeerKind};
use connector_e2e::{exit_status, scim_runtime};
use connector_host::bindings::latest::types::{AccountChanges, NewAccount, NewResource, ResourceChanges, ResourceRef};
use connector_host::operations::{
    create_resource, delete_resource, deprovision, grant, provision, revoke, set_account_enabled, to_json, update_account, update_resource,
};
use connector_host::{Credentials, HostError, Snapshot, TenantConfig, sync};
use serde_json::Value;

fn tenant(peer: &Peer) -> TenantConfig {
    let mut tenant = TenantConfig::new(peer.kind.name(), &peer.base_url, Credentials::bearer(peer.token.clone()));
    tenant.allow_private_network = true;
    tenant
}

/// A user as the server holds it.
#[derive(Debug, Clone, PartialEq)]
struct StoredUser {
    user_name: String,
    given: String,
    family: String,
    active: bool,
    phones: Vec<String>,
    roles: Vec<String>,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The user `id`, read from the server's own state; none when it has no such user.
fn stored_user(peer: &Peer, id: &str) -> Option<StoredUser> {
    match peer.kind {
        PeerKind::Scim2Server => {
            let (status, user) = peer.request("GET", &format!("/Users/{id}"), None);
            (status == 200).then(|| StoredUser {
                user_name: text(&user["userName"]),
                given: text(&user["name"]["givenName"]),
                family: text(&user["name"]["familyName"]),
                active: user["active"].as_bool().unwrap_or(true),
                phones: user["phoneNumbers"].as_array().into_iter().flatten().map(|p| text(&p["value"])).collect(),
                roles: user["roles"].as_array().into_iter().flatten().map(|r| text(&r["value"])).collect(),
            })
        }
        PeerKind::DjangoScim2 => peer
            .database()
            .query_row("SELECT username, first_name, last_name, is_active FROM directory_user WHERE id = ?1", [id], |row| {
                Ok(StoredUser {
                    user_name: row.get(0)?,
                    given: row.get(1)?,
                    family: row.get(2)?,
                    active: row.get(3)?,
                    phones: Vec::new(),
                    roles: Vec::new(),
                })
            })
            .ok(),
        PeerKind::Canaille => peer
            .database()
            .query_row("SELECT user_name, given_name, family_name, lock_date IS NULL, phone_numbers FROM user WHERE id = ?1", [id], |row| {
                let phones: Option<String> = row.get(4)?;
                Ok(StoredUser {
                    user_name: row.get(0)?,
                    given: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    family: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    active: row.get(3)?,
                    phones: phones.and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default(),
                    roles: Vec::new(),
                })
            })
            .ok(),
    }
}

/// Group `id`'s name, read from the server's own state.
fn stored_group_name(peer: &Peer, id: &str) -> Option<String> {
    match peer.kind {
        PeerKind::Scim2Server => {
            let (status, group) = peer.request("GET", &format!("/Groups/{id}"), None);
            (status == 200).then(|| text(&group["displayName"]))
        }
        PeerKind::DjangoScim2 => peer.database().query_row("SELECT name FROM directory_group WHERE id = ?1", [id], |r| r.get(0)).ok(),
        PeerKind::Canaille => peer.database().query_row("SELECT display_name FROM \"group\" WHERE id = ?1", [id], |r| r.get(0)).ok(),
    }
}

/// Every membership the server holds, as the grant ids a sync reports.
fn stored_memberships(peer: &Peer) -> BTreeSet<String> {
    let rows = |sql: &str| -> BTreeSet<String> {
        let database = peer.database();
        let mut statement = database.prepare(sql).expect("the query");
        statement
            .query_map([], |row| Ok(format!("group:{}:member:user:{}", row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
            .expect("the rows")
            .map(|r| r.expect("a row"))
            .collect()
    };
    match peer.kind {
        PeerKind::Scim2Server => {
            let (_, groups) = peer.request("GET", "/Groups?count=1000", None);
            let mut grants = BTreeSet::new();
            for group in groups["Resources"].as_array().into_iter().flatten() {
                for member in group["members"].as_array().into_iter().flatten() {
                    let kind = if member["type"] == "Group" { "group" } else { "user" };
                    grants.insert(format!("group:{}:member:{kind}:{}", text(&group["id"]), text(&member["value"])));
                }
            }
            grants
        }
        PeerKind::DjangoScim2 => rows("SELECT CAST(group_id AS TEXT), CAST(user_id AS TEXT) FROM directory_user_scim_groups"),
        PeerKind::Canaille => rows("SELECT group_id, user_id FROM membership_association_table"),
    }
}

fn memberships(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot.grants.iter().filter(|g| g.id.starts_with("group:")).map(|g| g.id.clone()).collect()
}

fn new_account(email: &str) -> NewAccount {
    NewAccount { email: email.into(), given_name: "Dana".into(), family_name: "Ortiz".into(), account_role: None, phone: None }
}

fn changes() -> AccountChanges {
    AccountChanges { given_name: None, family_name: None, phone: None, account_role: None }
}

fn json_of<T: serde::Serialize>(outcome: Result<T, HostError>) -> Result<Value, HostError> {
    outcome.map(|o| to_json(&o))
}

/// What every server does alike: seeded through its API, synced equal to its state; users
/// provisioned once, renamed, disabled and enabled, deleted once; members added and removed one
/// at a time; groups created once (in any case), deleted once. Answers the seeded ids.
async fn common_lifecycle(peer: &Peer, tenant: &TenantConfig) -> (String, String, String, String) {
    let alice = peer.seed_user("alice", "Alice", "Lee");
    let bob = peer.seed_user("bob", "Bob", "Stone");
    let carol = peer.seed_user("carol", "Carol", "Diaz");
    let ops = peer.seed_group("Ops", &[&alice, &bob]);

    let snapshot = sync(scim_runtime(), tenant).await.unwrap_or_else(|e| panic!("sync of {}: {e}\n{}", peer.kind.name(), peer.log()));
    assert_eq!(memberships(&snapshot), stored_memberships(peer), "{}: the sync shows every membership the server holds", peer.kind.name());
    assert_eq!(snapshot.stats.unresolved_principals, 0);
    assert_eq!(snapshot.resources.iter().filter(|r| r.resource_type == "user").count(), 3);

    // provision, once
    let created = json_of(provision(scim_runtime(), tenant, new_account("dana@example.com")).await).unwrap();
    assert_eq!(created["outcome"], "created");
    let dana = created["user"]["id"].as_str().unwrap().to_owned();
    let stored = stored_user(peer, &dana).expect("dana is stored");
    assert_eq!((stored.user_name.as_str(), stored.given.as_str(), stored.family.as_str()), ("dana@example.com", "Dana", "Ortiz"));
    let again = json_of(provision(scim_runtime(), tenant, new_account("DANA@example.com")).await).unwrap();
    assert_eq!((again["outcome"].as_str(), again["user"]["id"].as_str()), (Some("already_exists"), Some(dana.as_str())));

    // update-account: a family name
    let renamed = AccountChanges { family_name: Some("Ortiz-Vega".into()), ..changes() };
    let updated = json_of(update_account(scim_runtime(), tenant, &dana, &renamed).await).unwrap();
    assert_eq!(updated["outcome"], "updated");
    assert_eq!(stored_user(peer, &dana).unwrap().family, "Ortiz-Vega");
    assert_eq!(stored_user(peer, &dana).unwrap().given, "Dana", "a name not given stays");
    assert_eq!(json_of(update_account(scim_runtime(), tenant, &dana, &renamed).await).unwrap()["outcome"], "unchanged");

    // disable-account, enable-account
    let disabled = json_of(set_account_enabled(scim_runtime(), tenant, &dana, false).await).unwrap();
    assert_eq!((disabled["outcome"].as_str(), disabled["user"]["traits"]["status"].as_str()), (Some("disabled"), Some("disabled")));
    assert!(!stored_user(peer, &dana).unwrap().active);
    assert_eq!(json_of(set_account_enabled(scim_runtime(), tenant, &dana, false).await).unwrap()["outcome"], "already_disabled");
    assert_eq!(json_of(set_account_enabled(scim_runtime(), tenant, &dana, true).await).unwrap()["outcome"], "enabled");
    assert!(stored_user(peer, &dana).unwrap().active);

    // grant and revoke a membership
    let entitlement = format!("group:{ops}:member");
    let granted = json_of(grant(scim_runtime(), tenant, &entitlement, &format!("user:{carol}")).await).unwrap();
    assert_eq!(granted["outcome"], "granted", "{}", peer.log());
    assert!(stored_memberships(peer).contains(&format!("{entitlement}:user:{carol}")));
    assert_eq!(json_of(grant(scim_runtime(), tenant, &entitlement, &format!("user:{carol}")).await).unwrap()["outcome"], "already_held");
    let revoked = json_of(revoke(scim_runtime(), tenant, &format!("{entitlement}:user:{alice}")).await).unwrap();
    assert_eq!(revoked["outcome"], "revoked");
    let held = stored_memberships(peer);
    assert!(!held.contains(&format!("{entitlement}:user:{alice}")), "alice is out: {held:?}");
    assert!(
        held.contains(&format!("{entitlement}:user:{bob}")) && held.contains(&format!("{entitlement}:user:{carol}")),
        "the others stay: {held:?}"
    );
    assert_eq!(json_of(revoke(scim_runtime(), tenant, &format!("{entitlement}:user:{alice}")).await).unwrap()["outcome"], "not_held");

    // create-resource, once in any case
    let spec = NewResource { resource_type: "group".into(), name: "Interop Team".into(), description: None, account_role: None };
    let created = json_of(create_resource(scim_runtime(), tenant, &spec).await).unwrap();
    assert_eq!(created["outcome"], "created");
    let interop = created["resource"]["id"].as_str().unwrap().to_owned();
    assert_eq!(stored_group_name(peer, &interop).as_deref(), Some("Interop Team"));
    let lower = NewResource { name: "interop team".into(), ..spec };
    let again = json_of(create_resource(scim_runtime(), tenant, &lower).await).unwrap();
    assert_eq!((again["outcome"].as_str(), again["resource"]["id"].as_str()), (Some("already_exists"), Some(interop.as_str())));

    // deprovision, once
    assert_eq!(json_of(deprovision(scim_runtime(), tenant, &dana).await).unwrap()["outcome"], "deleted");
    assert_eq!(stored_user(peer, &dana), None);
    assert_eq!(json_of(deprovision(scim_runtime(), tenant, &dana).await).unwrap()["outcome"], "not_found");

    let snapshot = sync(scim_runtime(), tenant).await.expect("the sync after the changes");
    assert_eq!(memberships(&snapshot), stored_memberships(peer), "{}", peer.kind.name());
    (alice, bob, ops, interop)
}

fn group(id: &str) -> ResourceRef {
    ResourceRef { resource_type: "group".into(), id: id.into() }
}

fn rename(name: &str) -> ResourceChanges {
    ResourceChanges { name: Some(name.into()), description: None, account_role: None }
}

#[tokio::test]
async fn scim2_server_does_every_verb() {
    let peer = Peer::start(PeerKind::Scim2Server);
    let tenant = tenant(&peer);
    let (alice, _bob, ops, interop) = common_lifecycle(&peer, &tenant).await;

    // The phone: the work number changes, the mobile one stays.
    let phone = AccountChanges { phone: Some("+1 555 0111".into()), ..changes() };
    assert_eq!(json_of(update_account(scim_runtime(), &tenant, &alice, &phone).await).unwrap()["outcome"], "updated");
    assert_eq!(stored_user(&peer, &alice).unwrap().phones, ["+1 555 0199", "+1 555 0111"]);

    // Roles, held as the user's roles.
    let granted = json_of(grant(scim_runtime(), &tenant, "role:Auditor:assigned", &format!("user:{alice}")).await).unwrap();
    assert_eq!(granted["outcome"], "granted");
    assert_eq!(stored_user(&peer, &alice).unwrap().roles, ["Auditor"]);
    let replaced = json_of(grant(scim_runtime(), &tenant, "role:Admin:assigned", &format!("user:{alice}")).await).unwrap();
    assert_eq!(
        (replaced["outcome"].as_str(), replaced["replaced"].as_str()),
        (Some("updated"), Some(format!("role:Auditor:assigned:user:{alice}").as_str()))
    );
    assert_eq!(stored_user(&peer, &alice).unwrap().roles, ["Admin"]);
    assert_eq!(json_of(revoke(scim_runtime(), &tenant, &format!("role:Admin:assigned:user:{alice}")).await).unwrap()["outcome"], "revoked");
    assert!(stored_user(&peer, &alice).unwrap().roles.is_empty());

    // A nested group, typed.
    let nested = json_of(grant(scim_runtime(), &tenant, &format!("group:{ops}:member"), &format!("group:{interop}")).await).unwrap();
    assert_eq!(nested["outcome"], "granted");
    let snapshot = sync(scim_runtime(), &tenant).await.unwrap();
    let grant = snapshot.grants.iter().find(|g| g.id == format!("group:{ops}:member:group:{interop}")).expect("the nested group");
    assert_eq!(grant.expandable, [format!("group:{interop}:member")]);

    // Rename, delete.
    assert_eq!(
        json_of(update_resource(scim_runtime(), &tenant, &group(&interop), &rename("Interop Guild")).await).unwrap()["outcome"],
        "updated"
    );
    assert_eq!(stored_group_name(&peer, &interop).as_deref(), Some("Interop Guild"));
    assert_eq!(json_of(delete_resource(scim_runtime(), &tenant, &group(&interop)).await).unwrap()["outcome"], "deleted");
    assert_eq!(stored_group_name(&peer, &interop), None);
    assert_eq!(json_of(delete_resource(scim_runtime(), &tenant, &group(&interop)).await).unwrap()["outcome"], "not_found");
}

#[tokio::test]
async fn django_scim2_does_what_it_can_and_the_rest_exits_non_zero() {
    let peer = Peer::start(PeerKind::DjangoScim2);
    let tenant = tenant(&peer);
    let (alice, bob, ops, interop) = common_lifecycle(&peer, &tenant).await;

    // Users and groups share integer ids: adding group 1 (Ops) to group 2 adds user 1. Said, exit 4.
    assert_eq!((alice.as_str(), ops.as_str(), interop.as_str()), ("1", "1", "2"));
    let error = json_of(grant(scim_runtime(), &tenant, &format!("group:{interop}:member"), &format!("group:{ops}")).await).unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");
    assert!(error.to_string().contains(&format!("added user {alice} to group {interop}, not group {ops}")), "{error}");
    assert!(stored_memberships(&peer).contains(&format!("group:{interop}:member:user:{alice}")), "what the server did");

    // It keeps no phone numbers and no roles: accepted and not kept, exit 4.
    let phone = AccountChanges { phone: Some("+1 555 0111".into()), ..changes() };
    let error = json_of(update_account(scim_runtime(), &tenant, &alice, &phone).await).unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");
    let error = json_of(grant(scim_runtime(), &tenant, "role:Auditor:assigned", &format!("user:{bob}")).await).unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");

    // It answers 501 to PATCH displayName; the PUT of the group as read renames it, members kept.
    let members = stored_memberships(&peer);
    assert_eq!(json_of(update_resource(scim_runtime(), &tenant, &group(&ops), &rename("Operations")).await).unwrap()["outcome"], "updated");
    assert_eq!(stored_group_name(&peer, &ops).as_deref(), Some("Operations"));
    assert_eq!(stored_memberships(&peer), members);
    assert_eq!(json_of(delete_resource(scim_runtime(), &tenant, &group(&interop)).await).unwrap()["outcome"], "deleted");
    assert_eq!(stored_group_name(&peer, &interop), None);
}

#[tokio::test]
async fn canaille_does_what_its_schema_allows_and_refuses_the_rest_before_sending() {
    let peer = Peer::start(PeerKind::Canaille);
    let tenant = tenant(&peer);
    let (alice, _bob, ops, interop) = common_lifecycle(&peer, &tenant).await;

    // Its schema declares no roles, and a group's displayName immutable: refused, exit 2.
    let error = json_of(grant(scim_runtime(), &tenant, "role:Auditor:assigned", &format!("user:{alice}")).await).unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    let error = json_of(update_resource(scim_runtime(), &tenant, &group(&ops), &rename("Operations")).await).unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert_eq!(stored_group_name(&peer, &ops).as_deref(), Some("Ops"));

    // Phone numbers are values only there: the first, which sync reports, changes; the other stays.
    let phone = AccountChanges { phone: Some("+1 555 0111".into()), ..changes() };
    let updated = json_of(update_account(scim_runtime(), &tenant, &alice, &phone).await).unwrap();
    assert_eq!(updated["outcome"], "updated");
    assert_eq!(stored_user(&peer, &alice).unwrap().phones, ["+1 555 0111", "+1 555 0100"]);

    assert_eq!(json_of(delete_resource(scim_runtime(), &tenant, &group(&interop)).await).unwrap()["outcome"], "deleted");
    assert_eq!(stored_group_name(&peer, &interop), None);
}
