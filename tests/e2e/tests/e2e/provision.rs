//! Provisioning through the real component in the real host against the fake: each operation,
//! its idempotent repeat, the sync that shows exactly that change, and validation that sends
//! nothing.

use std::collections::BTreeSet;

use connector_e2e::{exit_status, runtime, start, tenant};
use connector_fake_fivetran::{Account, AccountSpec, FakeFivetran, Fault, FaultRule};
use connector_host::bindings::latest::types::NewAccount;
use connector_host::operations::{deprovision, grant, provision, revoke, to_json};
use connector_host::{TenantConfig, sync};
use serde_json::Value;

async fn grants(tenant: &TenantConfig) -> BTreeSet<String> {
    sync(runtime(), tenant).await.expect("sync").grants.into_iter().map(|g| g.id).collect()
}

fn writes(fake: &FakeFivetran) -> Vec<String> {
    fake.requests().into_iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect()
}

fn new_account(email: &str, role: Option<&str>) -> NewAccount {
    NewAccount { email: email.into(), given_name: "Ann".into(), family_name: "Lee".into(), account_role: role.map(Into::into), phone: None }
}

fn setup() -> (FakeFivetran, Account, TenantConfig) {
    let (fake, account) = start(&AccountSpec::sized(41, 60, 4, 3));
    let tenant = tenant(&fake, &account);
    (fake, account, tenant)
}

/// A user that is neither the key's owner nor an administrator.
fn some_user(account: &Account) -> String {
    let owner = account.primary_key().user_id.clone();
    account.users.values().find(|u| Some(&u.id) != owner.as_ref() && u.role.as_deref() == Some("Account Analyst")).unwrap().id.clone()
}

#[tokio::test]
async fn invite_creates_once_and_then_reports_the_existing_user() {
    let (fake, _account, tenant) = setup();
    let created =
        provision(runtime(), &tenant, new_account("new.person@example.test", Some("Account Reviewer"))).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(created["outcome"], "created");
    assert_eq!(created["user"]["traits"]["invited"], true);
    assert_eq!(created["user"]["traits"]["account_role"], "Account Reviewer");
    let id = created["user"]["id"].as_str().unwrap().to_owned();
    assert!(grants(&tenant).await.contains(&format!("role:Account Reviewer:assigned:user:{id}")));

    let again = provision(runtime(), &tenant, new_account("New.Person@Example.TEST", None)).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(again["outcome"], "already_exists");
    assert_eq!(again["user"]["id"], Value::String(id));
    assert_eq!(writes(&fake), ["POST /v1/users"], "one invite in all");
}

#[tokio::test]
async fn a_503_after_the_invite_took_effect_does_not_invite_twice() {
    let (fake, _account, tenant) = setup();
    fake.inject(FaultRule::new("/v1/users", 1, Fault::AppliedThenUnavailable).method("POST"));
    let outcome = provision(runtime(), &tenant, new_account("lost.answer@example.test", None)).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "already_exists", "the retry read the state and found the user");
    let users = fake.account().users.values().filter(|u| u.email == "lost.answer@example.test").count();
    assert_eq!(users, 1);
    assert_eq!(writes(&fake), ["POST /v1/users"], "the POST was not sent again");
}

#[tokio::test]
async fn delete_is_idempotent_and_refuses_the_key_owner() {
    let (fake, account, tenant) = setup();
    let user = some_user(&account);
    let deleted = deprovision(runtime(), &tenant, &user).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(deleted["outcome"], "deleted");
    assert!(!fake.account().users.contains_key(&user));
    let again = deprovision(runtime(), &tenant, &user).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(again["outcome"], "not_found");

    let owner = account.primary_key().user_id.clone().unwrap();
    fake.clear_requests();
    let error = deprovision(runtime(), &tenant, &owner).await.unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert!(error.to_string().contains("API key"), "{error}");
    assert!(writes(&fake).is_empty(), "no DELETE was sent");
    assert!(fake.account().users.contains_key(&owner));
}

/// Grants `entitlement` to `principal`, checks the outcome, the idempotent repeat, and that a sync
/// shows exactly this one grant more; then revokes it the same way.
async fn round_trip(fake: &FakeFivetran, tenant: &TenantConfig, entitlement: &str, principal: &str) {
    let before = grants(tenant).await;
    let grant_id = format!("{entitlement}:{principal}");
    assert!(!before.contains(&grant_id), "{grant_id} is not held yet");

    let granted = grant(runtime(), tenant, entitlement, principal).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(granted["outcome"], "granted", "{granted}");
    assert_eq!(granted["grant"]["id"], Value::String(grant_id.clone()));
    let after = grants(tenant).await;
    assert_eq!(after.difference(&before).cloned().collect::<Vec<_>>(), std::slice::from_ref(&grant_id));
    assert!(before.is_subset(&after));

    let writes_before = writes(fake).len();
    let repeat = grant(runtime(), tenant, entitlement, principal).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(repeat["outcome"], "already_held");
    assert_eq!(writes(fake).len(), writes_before, "granting what is held sends no change");

    let revoked = revoke(runtime(), tenant, &grant_id).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(revoked["outcome"], "revoked");
    assert_eq!(grants(tenant).await, before, "the revoke undid exactly the grant");
    let repeat = revoke(runtime(), tenant, &grant_id).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(repeat["outcome"], "not_held");
    assert_eq!(grants(tenant).await, before);
}

#[tokio::test]
async fn team_membership_grants_and_revokes() {
    let (fake, account, tenant) = setup();
    let team = account.teams.keys().next().unwrap();
    let user = account.users.keys().find(|u| !account.team_users.contains_key(&(team.clone(), (*u).clone()))).unwrap();
    round_trip(&fake, &tenant, &format!("team:{team}:manager"), &format!("user:{user}")).await;
}

#[tokio::test]
async fn destination_access_grants_and_revokes_for_users_and_teams() {
    let (fake, account, tenant) = setup();
    let group = account.groups.keys().next().unwrap();
    let user =
        account.users.values().find(|u| u.role.is_none() && !account.group_users.contains_key(&(group.clone(), u.id.clone()))).unwrap();
    round_trip(&fake, &tenant, &format!("group:{group}:View Destination"), &format!("user:{}", user.id)).await;
    let team = account.teams.keys().find(|t| !account.team_groups.contains_key(&((*t).clone(), group.clone()))).unwrap();
    round_trip(&fake, &tenant, &format!("group:{group}:Manage Destination"), &format!("team:{team}")).await;
}

#[tokio::test]
async fn account_roles_grant_revoke_and_replace() {
    let (fake, account, tenant) = setup();
    let user = account.users.values().find(|u| u.role.is_none() && Some(&u.id) != account.primary_key().user_id.as_ref()).unwrap();
    round_trip(&fake, &tenant, "role:Account Billing:assigned", &format!("user:{}", user.id)).await;
    let team = account.teams.values().find(|t| t.role.is_none()).map(|t| t.id.clone());
    if let Some(team) = team {
        round_trip(&fake, &tenant, "role:Account Billing:assigned", &format!("team:{team}")).await;
    }

    // An account role is single-valued: granting another one replaces it.
    let analyst = some_user(&account);
    let outcome =
        grant(runtime(), &tenant, "role:Account Reviewer:assigned", &format!("user:{analyst}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "updated");
    assert_eq!(outcome["replaced"], Value::String(format!("role:Account Analyst:assigned:user:{analyst}")));
    let after = grants(&tenant).await;
    assert!(after.contains(&format!("role:Account Reviewer:assigned:user:{analyst}")));
    assert!(!after.contains(&format!("role:Account Analyst:assigned:user:{analyst}")));
    // Revoking a role the user does not hold changes nothing.
    let outcome = revoke(runtime(), &tenant, &format!("role:Account Analyst:assigned:user:{analyst}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "not_held");
}

#[tokio::test]
async fn a_member_becomes_manager_by_update() {
    let (_fake, account, tenant) = setup();
    let ((team, user), _) = account.team_users.iter().find(|(_, role)| *role == "Team Member").unwrap();
    let outcome = grant(runtime(), &tenant, &format!("team:{team}:manager"), &format!("user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "updated");
    assert_eq!(outcome["replaced"], Value::String(format!("team:{team}:member:user:{user}")));
    let after = grants(&tenant).await;
    assert!(after.contains(&format!("team:{team}:manager:user:{user}")));
    assert!(!after.contains(&format!("team:{team}:member:user:{user}")));
}

#[tokio::test]
async fn invalid_requests_send_no_change_and_exit_2() {
    let (fake, account, tenant) = setup();
    let user = some_user(&account);
    let team = account.teams.keys().next().unwrap().clone();
    let group = account.groups.keys().next().unwrap().clone();
    let invites = [
        (new_account("not-an-email", None), "email"),
        (NewAccount { given_name: " ".into(), ..new_account("a@example.test", None) }, "given name"),
        (new_account("b@example.test", Some("Account Wizard")), "does not exist"),
        (new_account("c@example.test", Some("Manage Destination")), "not an ACCOUNT role"),
        (new_account("d@example.test", Some("account reviewer")), "did you mean"),
    ];
    for (invite, expect) in invites {
        let error = provision(runtime(), &tenant, invite).await.unwrap_err();
        assert_eq!(error.kind(), connector_host::ErrorKind::InvalidArgument, "{error:?}");
        assert_eq!(exit_status(&error), 2);
        assert!(error.to_string().contains(expect), "{error} should say {expect}");
    }
    let grants_ = [
        ("role:Manage Destination:assigned".to_owned(), format!("user:{user}"), "not an ACCOUNT role"),
        (format!("group:{group}:Account Analyst"), format!("user:{user}"), "not a DESTINATION role"),
        (format!("group:{group}:Nope"), format!("team:{team}"), "does not exist"),
        (format!("team:{team}:member"), format!("team:{team}"), "can be granted to: user"),
        (format!("team:{team}:owner"), format!("user:{user}"), "member and manager"),
        ("connector:c1:x".to_owned(), format!("user:{user}"), "not a resource type"),
        (format!("team:{team}:member"), "group:g1".to_owned(), "can be granted to: user"),
    ];
    for (entitlement, principal, expect) in grants_ {
        let error = grant(runtime(), &tenant, &entitlement, &principal).await.unwrap_err();
        assert_eq!(exit_status(&error), 2, "{error}");
        assert!(error.to_string().contains(expect), "{error} should say {expect}");
    }
    for bad in ["team:t1:member", "nonsense", "team:t1:member:robot:r1"] {
        let error = revoke(runtime(), &tenant, bad).await.unwrap_err();
        assert_eq!(exit_status(&error), 2, "{error}");
    }
    let error = grant(runtime(), &tenant, &format!("team:{team}:member"), "user").await.unwrap_err();
    assert_eq!(exit_status(&error), 2);
    assert!(writes(&fake).is_empty(), "no change was sent: {:?}", writes(&fake));
}

#[tokio::test]
async fn a_grant_to_someone_who_does_not_exist_is_an_invalid_argument() {
    let (fake, account, tenant) = setup();
    let team = account.teams.keys().next().unwrap();
    let error = grant(runtime(), &tenant, "role:Account Billing:assigned", "user:no_such_user").await.unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert!(error.to_string().contains("no_such_user"), "{error}");
    let error = grant(runtime(), &tenant, &format!("team:{team}:member"), "user:no_such_user").await.unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
    assert!(fake.account().team_users.keys().all(|(_, u)| u != "no_such_user"));
}

#[tokio::test]
async fn a_rate_limited_change_waits_and_applies_once() {
    let (fake, account, tenant) = setup();
    let team = account.teams.keys().next().unwrap();
    let user = account.users.keys().find(|u| !account.team_users.contains_key(&(team.clone(), (*u).clone()))).unwrap();
    fake.inject(FaultRule::new(&format!("/v1/teams/{team}/users"), 1, Fault::RateLimited { retry_after_s: 1 }).method("POST"));
    let outcome = grant(runtime(), &tenant, &format!("team:{team}:member"), &format!("user:{user}")).await.map(|o| to_json(&o)).unwrap();
    assert_eq!(outcome["outcome"], "granted");
    let posts: Vec<_> = fake.requests().into_iter().filter(|r| r.method == "POST").map(|r| r.status).collect();
    assert_eq!(posts, [429, 201]);
}

#[tokio::test]
async fn validation_reads_each_type_once_over_one_connection() {
    let (fake, account, tenant) = setup();
    let validation = connector_host::operations::validate(runtime(), &tenant).await.expect("validate");
    assert!(validation.can_sync(), "{validation:?}");
    assert_eq!(validation.account_id, account.account_id);
    assert!(writes(&fake).is_empty(), "validation changes nothing: {:?}", writes(&fake));
    // The account, then the first page of each of the four resource types.
    assert_eq!(fake.requests().len(), 1 + validation.reads.len(), "{:?}", fake.requests());
    assert_eq!(fake.connections(), 1, "the calls share the run's connections");
}

#[tokio::test]
async fn a_change_the_api_accepts_without_applying_exits_4_and_is_never_reported_done() {
    let (fake, account, tenant) = setup();
    let user = some_user(&account);
    let team = account.teams.keys().find(|t| !account.team_users.contains_key(&((*t).clone(), user.clone()))).unwrap().clone();
    let before = grants(&tenant).await;
    fake.inject(FaultRule::new("/v1/teams", 1, Fault::AcceptedNotApplied).method("POST"));
    let error = grant(runtime(), &tenant, &format!("team:{team}:member"), &format!("user:{user}")).await.map(|o| to_json(&o)).unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");
    assert!(error.to_string().contains(&format!("shows user {user} as no member")), "{error}");
    assert_eq!(writes(&fake).iter().filter(|w| w.starts_with("POST /v1/teams")).count(), 1, "not retried: {:?}", writes(&fake));

    let held = before.iter().find(|g| g.starts_with("team:") && g.contains(":user:")).unwrap().clone();
    fake.inject(FaultRule::new("/v1/teams", 1, Fault::AcceptedNotApplied).method("DELETE"));
    let error = revoke(runtime(), &tenant, &held).await.map(|o| to_json(&o)).unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");
    fake.inject(FaultRule::new("/v1/users", 1, Fault::AcceptedNotApplied).method("DELETE"));
    let error = deprovision(runtime(), &tenant, &user).await.map(|o| to_json(&o)).unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");
    assert_eq!(grants(&tenant).await, before, "nothing changed, and nothing was said to have");
}
