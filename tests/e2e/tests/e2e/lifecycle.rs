//! The identity lifecycle through the real Fivetran component in the real host against the fake:
//! update a user, create, rename and delete teams; each idempotent, each checked against what a
//! sync shows afterwards, bad input refused before anything that changes is sent, and disabling
//! refused with the way that works named.

use connector_e2e::{exit_status, runtime, start, tenant};
use connector_fake_fivetran::{Account, AccountSpec, FakeFivetran, Fault, FaultRule};
use connector_host::bindings::latest::types::{AccountChanges, NewResource, ResourceChanges, ResourceRef};
use connector_host::operations::{create_resource, delete_resource, set_account_enabled, to_json, update_account, update_resource};
use connector_host::{TenantConfig, sync};
use serde_json::Value;

const NO_ACCOUNT_CHANGE: AccountChanges = AccountChanges { given_name: None, family_name: None, phone: None, account_role: None };
const NO_RESOURCE_CHANGE: ResourceChanges = ResourceChanges { name: None, description: None, account_role: None };

fn setup() -> (FakeFivetran, Account, TenantConfig) {
    let (fake, account) = start(&AccountSpec::sized(43, 30, 4, 3));
    let tenant = tenant(&fake, &account);
    (fake, account, tenant)
}

fn writes(fake: &FakeFivetran) -> Vec<String> {
    fake.requests().into_iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect()
}

/// A user that does not own the key (the API refuses changing one's own role).
fn some_user(account: &Account) -> String {
    let owner = account.primary_key().user_id.clone();
    account.users.values().find(|u| Some(&u.id) != owner.as_ref()).unwrap().id.clone()
}

/// The resource as a sync reports it, as JSON.
async fn synced(tenant: &TenantConfig, resource_type: &str, id: &str) -> Option<Value> {
    let snapshot = sync(runtime(), tenant).await.expect("sync");
    snapshot.resources.iter().find(|r| r.resource_type == resource_type && r.id == id).map(|r| serde_json::to_value(r).unwrap())
}

fn team(name: &str, role: Option<&str>) -> NewResource {
    NewResource {
        resource_type: "team".into(),
        name: name.into(),
        description: Some("Reviews access".into()),
        account_role: role.map(Into::into),
    }
}

#[tokio::test]
async fn update_account_changes_only_the_fields_given_once() {
    let (fake, account, tenant) = setup();
    let user = some_user(&account);
    let before = fake.account().users[&user].clone();
    let changes = AccountChanges { family_name: Some("Okafor".into()), account_role: Some("Account Reviewer".into()), ..NO_ACCOUNT_CHANGE };
    let updated = update_account(runtime(), &tenant, &user, &changes).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(updated["outcome"], "updated");
    assert_eq!(updated["user"]["traits"]["family_name"], "Okafor");
    assert_eq!(updated["user"]["traits"]["account_role"], "Account Reviewer");
    let after = fake.account().users[&user].clone();
    assert_eq!(after.given_name, before.given_name, "a field not given is left alone");
    assert_eq!(after.phone, before.phone);
    assert_eq!(synced(&tenant, "user", &user).await.as_ref(), Some(&updated["user"]), "the answer is the resource as sync shows it");

    fake.clear_requests();
    let again = update_account(runtime(), &tenant, &user, &changes).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(again["outcome"], "unchanged");
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));
    let patches = fake.requests().into_iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(patches, 0);
}

#[tokio::test]
async fn update_account_refuses_bad_input_before_sending_a_change() {
    let (fake, account, tenant) = setup();
    let user = some_user(&account);
    let cases = [
        AccountChanges { account_role: Some("Destination Administrator".into()), ..NO_ACCOUNT_CHANGE },
        AccountChanges { account_role: Some("Account Emperor".into()), ..NO_ACCOUNT_CHANGE },
        AccountChanges { phone: Some("call me maybe".into()), ..NO_ACCOUNT_CHANGE },
        AccountChanges { given_name: Some("  ".into()), ..NO_ACCOUNT_CHANGE },
        NO_ACCOUNT_CHANGE,
    ];
    for changes in cases {
        let error = update_account(runtime(), &tenant, &user, &changes).await.unwrap_err();
        assert_eq!(exit_status(&error), 2, "{changes:?}: {error}");
    }
    let unknown = AccountChanges { family_name: Some("Nobody".into()), ..NO_ACCOUNT_CHANGE };
    let error = update_account(runtime(), &tenant, "no_such_user", &unknown).await.unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert!(error.to_string().contains("no_such_user"), "{error}");
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));
}

#[tokio::test]
async fn disabling_a_user_through_the_rest_api_names_the_scim_connector() {
    let (fake, account, tenant) = setup();
    for enabled in [false, true] {
        let error = set_account_enabled(runtime(), &tenant, &some_user(&account), enabled).await.unwrap_err();
        assert_eq!(exit_status(&error), 2, "{error}");
        assert!(error.to_string().contains("scim"), "{error}");
    }
    assert!(fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_team_is_created_once_renamed_and_deleted() {
    let (fake, _account, tenant) = setup();
    let created =
        create_resource(runtime(), &tenant, &team("Access Reviewers", Some("Account Reviewer"))).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(created["outcome"], "created");
    assert_eq!(created["resource"]["display_name"], "Access Reviewers");
    let id = created["resource"]["id"].as_str().unwrap().to_owned();
    assert_eq!(synced(&tenant, "team", &id).await.as_ref(), Some(&created["resource"]));

    let again = create_resource(runtime(), &tenant, &team("access REVIEWERS", None)).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(again["outcome"], "already_exists");
    assert_eq!(again["resource"]["id"], created["resource"]["id"]);

    let target = ResourceRef { resource_type: "team".into(), id: id.clone() };
    let rename = ResourceChanges { name: Some("Access Review Board".into()), ..NO_RESOURCE_CHANGE };
    let renamed = update_resource(runtime(), &tenant, &target, &rename).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(renamed["outcome"], "updated");
    assert_eq!(renamed["resource"]["display_name"], "Access Review Board");
    assert_eq!(renamed["resource"]["traits"]["account_role"], "Account Reviewer", "the role was not given, so it stays");
    let unchanged = update_resource(runtime(), &tenant, &target, &rename).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(unchanged["outcome"], "unchanged");

    let deleted = delete_resource(runtime(), &tenant, &target).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(deleted, serde_json::json!({"outcome": "deleted", "type": "team", "id": id}));
    assert_eq!(synced(&tenant, "team", &id).await, None);
    let gone = delete_resource(runtime(), &tenant, &target).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(gone["outcome"], "not_found");
    assert_eq!(
        writes(&fake),
        ["POST /v1/teams".to_owned(), format!("PATCH /v1/teams/{id}"), format!("DELETE /v1/teams/{id}"), format!("DELETE /v1/teams/{id}")],
        "one create, one rename; the second delete found nothing"
    );
}

#[tokio::test]
async fn a_lost_answer_to_a_team_create_does_not_create_it_twice() {
    let (fake, _account, tenant) = setup();
    fake.inject(FaultRule::new("/v1/teams", 1, Fault::AppliedThenUnavailable).method("POST"));
    let outcome = create_resource(runtime(), &tenant, &team("Platform", None)).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "already_exists", "the retry read the teams and found it");
    assert_eq!(fake.account().teams.values().filter(|t| t.name == "Platform").count(), 1);
    assert_eq!(writes(&fake), ["POST /v1/teams"]);
}

#[tokio::test]
async fn team_changes_refuse_bad_input_before_sending_a_change() {
    let (fake, account, tenant) = setup();
    let existing = account.teams.values().next().unwrap().clone();
    let other = account.teams.values().nth(1).unwrap().clone();
    let group = NewResource { resource_type: "group".into(), name: "Warehouse".into(), description: None, account_role: None };
    for spec in [group, team("", None), team("Ops", Some("Destination Reviewer")), team("Bad\u{7}Name", None)] {
        let error = create_resource(runtime(), &tenant, &spec).await.unwrap_err();
        assert_eq!(exit_status(&error), 2, "{spec:?}: {error}");
    }
    let target = ResourceRef { resource_type: "team".into(), id: existing.id.clone() };
    let onto_other = ResourceChanges { name: Some(other.name.to_uppercase()), ..NO_RESOURCE_CHANGE };
    let error = update_resource(runtime(), &tenant, &target, &onto_other).await.unwrap_err();
    assert!(error.to_string().contains(&other.id), "{error}");
    let missing = ResourceRef { resource_type: "team".into(), id: "no_such_team".into() };
    let error = update_resource(runtime(), &tenant, &missing, &onto_other).await.unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    let error =
        delete_resource(runtime(), &tenant, &ResourceRef { resource_type: "team".into(), id: "../users".into() }).await.unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));
}
