//! A full sync through the real component in the real host, against the fake over loopback.

use std::collections::BTreeSet;

use connector_e2e::{runtime, start, tenant};
use connector_fake_fivetran::AccountSpec;
use connector_fake_fivetran::oracle::{expected_grants, expected_resources, minimum_requests};
use connector_host::sync;
use serde_json::Value;

fn ids<T>(items: &[T], id: impl Fn(&T) -> String) -> BTreeSet<String> {
    items.iter().map(id).collect()
}

#[tokio::test]
async fn a_large_account_syncs_grant_by_grant_with_the_minimum_requests() {
    let (fake, account) = start(&AccountSpec::sized(11, 3000, 200, 150));
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.expect("sync succeeds");

    let resources = ids(&snapshot.resources, |r| format!("{}:{}", r.resource_type, r.id));
    assert_eq!(resources, expected_resources(&account));
    let grants = ids(&snapshot.grants, |g| g.id.clone());
    let expected = expected_grants(&account);
    assert_eq!(grants.len(), expected.len());
    assert_eq!(grants, expected, "the snapshot holds exactly the account's grants");
    assert_eq!(snapshot.stats.dropped_grants, 0);

    assert_eq!(snapshot.stats.http_requests, minimum_requests(&account));
    assert_eq!(fake.requests().len() as u64, minimum_requests(&account));
    for request in fake.requests() {
        assert!(request.query.as_deref().is_some_and(|q| q.contains("limit=1000")), "{request:?} asks for full pages");
    }
}

#[tokio::test]
async fn every_grant_and_entitlement_refers_to_something_in_the_snapshot() {
    let (fake, account) = start(&AccountSpec::sized(12, 400, 30, 20));
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.unwrap();
    let resources = ids(&snapshot.resources, |r| format!("{}:{}", r.resource_type, r.id));
    let entitlements = ids(&snapshot.entitlements, |e| e.id.clone());
    for entitlement in &snapshot.entitlements {
        assert!(resources.contains(&format!("{}:{}", entitlement.resource.resource_type, entitlement.resource.id)));
    }
    for grant in &snapshot.grants {
        assert!(entitlements.contains(&grant.entitlement), "{} names a listed entitlement", grant.id);
        assert!(resources.contains(&format!("{}:{}", grant.principal.resource_type, grant.principal.id)));
    }
    // Team grants pass to the team's members and managers.
    let team_grant = snapshot.grants.iter().find(|g| g.principal.resource_type == "team").expect("a team grant");
    let team = &team_grant.principal.id;
    assert_eq!(team_grant.expandable, [format!("team:{team}:member"), format!("team:{team}:manager")]);
    // A group offers one entitlement per destination role, plus the unlisted legacy names used.
    let destination_roles = account.roles.iter().filter(|r| r.scope == ["DESTINATION"]).count();
    let group = account.groups.keys().next().unwrap();
    let offered = snapshot.entitlements.iter().filter(|e| e.resource.resource_type == "group" && &e.resource.id == group).count();
    assert!(offered >= destination_roles);
    assert!(snapshot.entitlements.iter().any(|e| e.slug == connector_fake_fivetran::generate::UNLISTED_LEGACY_ROLE));
}

#[tokio::test]
async fn user_traits_carry_the_awkward_cases() {
    let (fake, account) = start(&AccountSpec::sized(13, 400, 5, 5));
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.unwrap();
    let traits = |id: &str| -> &Value { &snapshot.resources.iter().find(|r| r.resource_type == "user" && r.id == id).unwrap().traits };
    let invited = account.users.values().find(|u| u.invited).unwrap();
    assert_eq!(traits(&invited.id)["invited"], true);
    assert_eq!(traits(&invited.id)["verified"], false);
    assert_eq!(traits(&invited.id)["last_login"], Value::Null);
    let suspended = account.users.values().find(|u| !u.active).unwrap();
    assert_eq!(traits(&suspended.id)["status"], "disabled");
    let roleless = account.users.values().find(|u| u.role.is_none()).unwrap();
    assert_eq!(traits(&roleless.id)["account_role"], Value::Null);
    let accented = account.users.values().find(|u| u.given_name.as_deref().is_some_and(|n| !n.is_ascii())).unwrap();
    let resource = snapshot.resources.iter().find(|r| r.id == accented.id).unwrap();
    assert!(resource.display_name.starts_with(accented.given_name.as_deref().unwrap()));
    let nameless = account.users.values().find(|u| u.given_name.is_none()).unwrap();
    assert_eq!(snapshot.resources.iter().find(|r| r.id == nameless.id).unwrap().display_name, nameless.email);
}

#[tokio::test]
async fn lists_longer_than_a_page_are_followed_to_the_end() {
    let mut spec = AccountSpec::sized(14, 2500, 3, 2);
    spec.large_team = Some(1500);
    spec.large_group = Some(1200);
    let (fake, account) = start(&spec);
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.unwrap();
    assert_eq!(ids(&snapshot.grants, |g| g.id.clone()), expected_grants(&account));
    assert_eq!(snapshot.stats.http_requests, minimum_requests(&account));
    let user_pages = fake.requests().iter().filter(|r| r.path == "/v1/users").count();
    assert_eq!(user_pages, 3, "2500 users take three pages of 1000");
    let team = account.teams.keys().next().unwrap();
    let member_pages = fake.requests().iter().filter(|r| r.path == format!("/v1/teams/{team}/users")).count();
    assert_eq!(member_pages, 2, "1500 members take two pages");
}

#[tokio::test]
async fn two_syncs_of_the_same_account_are_identical() {
    let (fake, account) = start(&AccountSpec::sized(15, 500, 20, 10));
    let first = sync(runtime(), &tenant(&fake, &account)).await.unwrap();
    let second = sync(runtime(), &tenant(&fake, &account)).await.unwrap();
    assert_eq!(first.resources, second.resources);
    assert_eq!(first.entitlements, second.entitlements);
    assert_eq!(first.grants, second.grants);
    let without_times = |mut s: connector_host::Snapshot| {
        s.started_at.clear();
        s.finished_at.clear();
        s.stats = Default::default();
        serde_json::to_string_pretty(&s).unwrap()
    };
    assert_eq!(without_times(first), without_times(second), "byte-identical but for times and stats");
}

#[tokio::test]
async fn a_change_in_the_account_shows_in_the_next_sync() {
    let (fake, account) = start(&AccountSpec::sized(16, 100, 5, 5));
    let tenant = tenant(&fake, &account);
    let before = sync(runtime(), &tenant).await.unwrap();
    let (team, user) = account.team_users.keys().next().unwrap().clone();
    fake.update(|a| {
        a.team_users.remove(&(team.clone(), user.clone()));
    });
    let after = sync(runtime(), &tenant).await.unwrap();
    let gone: Vec<_> = before.grants.iter().filter(|g| !after.grants.contains(g)).map(|g| g.id.clone()).collect();
    assert_eq!(gone.len(), 1);
    assert!(gone[0].starts_with(&format!("team:{team}:")) && gone[0].ends_with(&format!(":user:{user}")));
}

#[tokio::test]
async fn sync_all_refuses_a_run_whose_id_would_write_outside_its_folder_or_twice() {
    use connector_host::ErrorKind;
    use connector_host::sync_all::{TenantRun, sync_all};
    let (fake, account) = start(&AccountSpec::sized(12, 30, 2, 2));
    let parent = tempfile::tempdir().unwrap();
    let out_dir = parent.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let with_id = |id: &str| {
        let mut tenant = tenant(&fake, &account);
        tenant.id = id.into();
        tenant
    };
    let runs = vec![
        TenantRun::new("../escaped", runtime().clone(), Ok(with_id("../escaped"))),
        TenantRun::new("acme", runtime().clone(), Ok(with_id("acme"))),
        TenantRun::new("acme", runtime().clone(), Ok(with_id("acme"))),
        TenantRun::new("named", runtime().clone(), Ok(with_id("other"))),
    ];
    let outcomes = sync_all(runs, &out_dir).await;
    let usage = |i: usize| outcomes[i].result.as_ref().is_err_and(|e| e.kind() == ErrorKind::Usage);
    assert!(usage(0), "{:?}", outcomes[0].result);
    assert!(outcomes[1].result.is_ok(), "{:?}", outcomes[1].result);
    assert!(usage(2) && usage(3), "{:?} {:?}", outcomes[2].result, outcomes[3].result);
    let written: Vec<String> =
        std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(written, ["acme.json"]);
    assert!(!parent.path().join("escaped.json").exists());
    // Only the one valid run reached the API.
    assert_eq!(fake.requests().iter().filter(|r| r.path == "/v1/users").count(), 1);
}

#[tokio::test]
async fn progress_counts_every_grant_and_ends_on_the_snapshots_figures() {
    use connector_host::progress::{Phase, SyncProgress};
    let (fake, account) = start(&AccountSpec::sized(14, 80, 5, 4));
    let progress = SyncProgress::new();
    let snapshot = connector_host::sync_with_progress(runtime(), &tenant(&fake, &account), progress.clone()).await.expect("sync");
    let view = progress.view();
    assert_eq!(view.phase, Phase::Done);
    assert_eq!(view.grants, snapshot.grants.len(), "the account roles the users listing reveals count too");
    assert_eq!(view.requests, snapshot.stats.http_requests);
    for (resource_type, count) in &view.resources {
        assert_eq!(*count, snapshot.resources.iter().filter(|r| &r.resource_type == resource_type).count(), "{resource_type}");
    }
}
