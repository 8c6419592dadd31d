//! What a real API and its front ends send that the project's own fake does not, end to end
//! through the real host and component: the parsing policy (identifying fields strict, the rest
//! lenient), paging bounded by what the server sends, a sync's memory bounded, CPU limits that
//! count CPU, and errors that name the real cause with the right exit status.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use connector_e2e::{LogCapture, exit_status, runtime, start, tenant};
use connector_fake_fivetran::oracle::expected_grants;
use connector_fake_fivetran::{AccountSpec, Dialect, FakeFivetran, Fault, FaultRule, Paging};
use connector_host::bindings::latest::types::NewAccount;
use connector_host::operations::{grant, provision, revoke, to_json};
use connector_host::{ErrorKind, HostError, Snapshot, sync};

fn grant_ids(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot.grants.iter().map(|g| g.id.clone()).collect()
}

fn small() -> AccountSpec {
    AccountSpec::sized(7, 60, 5, 4)
}

fn requests_to(fake: &FakeFivetran, path: &str) -> usize {
    fake.requests().iter().filter(|r| r.path == path).count()
}

fn new_account(email: &str) -> NewAccount {
    NewAccount { email: email.into(), given_name: "Ann".into(), family_name: "Lee".into(), account_role: None, phone: None }
}

/// An API error (exit status 4) whose message holds every one of `parts`.
fn assert_api_error(result: Result<impl std::fmt::Debug, HostError>, parts: &[&str]) {
    match result {
        Err(error) if error.kind() == ErrorKind::Api => {
            assert_eq!(exit_status(&error), 4);
            for part in parts {
                assert!(error.message().contains(part), "{:?} should say {part:?}", error.message());
            }
        }
        other => panic!("expected an API error saying {parts:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_that_null_omit_mistype_or_add_fields_give_the_same_grants() {
    let (fake, account) = start(&small());
    let full = sync(runtime(), &tenant(&fake, &account)).await.expect("the full answers sync");
    assert_eq!(grant_ids(&full), expected_grants(&account));
    let resources =
        |snapshot: &Snapshot| snapshot.resources.iter().map(|r| format!("{}:{}", r.resource_type, r.id)).collect::<BTreeSet<_>>();
    for dialect in [Dialect::Nulls, Dialect::Absent, Dialect::Mistyped, Dialect::Extra] {
        fake.set_dialect(dialect);
        let log = LogCapture::start(tracing::Level::WARN);
        let snapshot = sync(runtime(), &tenant(&fake, &account)).await.unwrap_or_else(|e| panic!("{dialect:?}: {e}"));
        assert_eq!(grant_ids(&snapshot), grant_ids(&full), "{dialect:?}: the same grants");
        assert_eq!(resources(&snapshot), resources(&full), "{dialect:?}: the same resources");
        let warnings: Vec<String> = log.text().lines().filter(|l| l.contains(" WARN ")).map(str::to_owned).collect();
        if dialect != Dialect::Full {
            assert!(!warnings.is_empty(), "{dialect:?}: what was read with a default is said");
        }
        let distinct: BTreeSet<&String> = warnings.iter().collect();
        assert_eq!(distinct.len(), warnings.len(), "{dialect:?}: each warning once a run, not once a page: {warnings:#?}");
    }
    // Nulls: a user's informational traits fall back to their documented defaults.
    fake.set_dialect(Dialect::Nulls);
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.unwrap();
    let user = snapshot.resources.iter().find(|r| r.resource_type == "user").unwrap();
    assert_eq!(user.traits["status"], "enabled");
    assert_eq!(user.traits["verified"], false);
    assert_eq!(user.display_name, user.traits["email"].as_str().unwrap(), "no name: the email");
}

#[tokio::test]
async fn changes_read_answers_in_every_dialect() {
    let (fake, account) = start(&small());
    let tenant = tenant(&fake, &account);
    let team = account.teams.keys().next().unwrap().clone();
    let user = account.users.values().find(|u| Some(&u.id) != account.primary_key().user_id.as_ref()).unwrap().id.clone();
    for dialect in [Dialect::Nulls, Dialect::Absent, Dialect::Mistyped, Dialect::Extra] {
        fake.set_dialect(dialect);
        let entitlement = format!("team:{team}:manager");
        let granted = grant(runtime(), &tenant, &entitlement, &format!("user:{user}")).await.map(|o| to_json(&o)).unwrap();
        assert!(["granted", "updated", "already_held"].contains(&granted["outcome"].as_str().unwrap()), "{dialect:?}: {granted}");
        let revoked = revoke(runtime(), &tenant, &format!("{entitlement}:user:{user}")).await.map(|o| to_json(&o)).unwrap();
        assert_eq!(revoked["outcome"], "revoked", "{dialect:?}");
        let email = format!("{dialect:?}@example.test").to_lowercase();
        let created = provision(runtime(), &tenant, new_account(&email)).await.map(|o| to_json(&o)).unwrap();
        assert_eq!(created["outcome"], "created", "{dialect:?}");
        let again = provision(runtime(), &tenant, new_account(&email)).await.map(|o| to_json(&o)).unwrap();
        assert_eq!(again["outcome"], "already_exists", "{dialect:?}");
    }
}

#[tokio::test]
async fn an_item_that_cannot_be_identified_stops_the_sync_naming_the_endpoint_and_the_item() {
    type Change = fn(&mut connector_fake_fivetran::Account);
    let cases: [(&str, Change, &str, &str); 5] = [
        ("a group with id ..", |a| rename_group(a, ".."), "GET /v1/groups", "a dot segment"),
        ("a group with id .", |a| rename_group(a, "."), "GET /v1/groups", "a dot segment"),
        ("a user with id a:b", |a| rename_user(a, "a:b"), "GET /v1/users", "holds ':'"),
        ("a user with an empty id", |a| rename_user(a, ""), "GET /v1/users", "id is empty"),
        ("a user with id a/b", |a| rename_user(a, "a/b"), "GET /v1/users", "holds '/'"),
    ];
    for (what, change, endpoint, why) in cases {
        let (fake, account) = start(&small());
        fake.update(change);
        let result = sync(runtime(), &tenant(&fake, &account)).await;
        assert_api_error(result.map(|_| ()), &[endpoint, "cannot identify", "item ", why]);
        let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
        assert!(!paths.iter().any(|p| p.contains("/..") || p.contains("/./") || p.contains("a:b")), "{what}: {paths:?}");
    }
}

fn rename_group(account: &mut connector_fake_fivetran::Account, id: &str) {
    let mut group = account.groups.values().next().unwrap().clone();
    group.id = id.into();
    account.groups.insert(id.into(), group);
}

fn rename_user(account: &mut connector_fake_fivetran::Account, id: &str) {
    let mut user = account.users.values().next().unwrap().clone();
    user.id = id.into();
    user.email = "renamed@example.test".into();
    account.users.insert(id.into(), user);
}

#[tokio::test]
async fn two_users_under_one_id_stop_the_sync_instead_of_merging() {
    let (fake, account) = start(&small());
    fake.set_paging(Paging::DuplicateUser);
    let result = sync(runtime(), &tenant(&fake, &account)).await;
    assert_api_error(result.map(|_| ()), &["GET /v1/users", "twice with different data"]);
}

#[tokio::test]
async fn a_repeating_or_cycling_cursor_stops_the_listing_at_once() {
    for paging in [Paging::RepeatCursor, Paging::CycleCursor] {
        let (fake, account) = start(&small());
        fake.set_paging(paging);
        let mut tenant = tenant(&fake, &account);
        tenant.page_size = Some(7);
        let result = sync(runtime(), &tenant).await;
        assert_api_error(result.map(|_| ()), &["goes in a circle"]);
        let requests = fake.requests().len();
        assert!(requests < 40, "{paging:?}: stopped after {requests} requests");
    }
}

#[tokio::test]
async fn the_plugins_own_page_walk_stops_a_cycle_too() {
    let (fake, account) = start(&small());
    fake.set_paging(Paging::CycleCursor);
    let mut tenant = tenant(&fake, &account);
    tenant.page_size = Some(5);
    let result = provision(runtime(), &tenant, new_account("cycle@example.test")).await;
    assert_api_error(result, &["GET /v1/users", "sent before"]);
    assert!(requests_to(&fake, "/v1/users") <= 4, "{} requests", requests_to(&fake, "/v1/users"));
    assert!(fake.requests().iter().all(|r| r.method == "GET"), "nothing invited");
}

#[tokio::test]
async fn empty_pages_without_end_are_followed_a_bounded_number_of_times() {
    let (fake, account) = start(&small());
    fake.set_paging(Paging::EmptyForever);
    let result = sync(runtime(), &tenant(&fake, &account)).await;
    assert_api_error(result.map(|_| ()), &["GET /v1/users", "10 empty pages in a row"]);
    assert_eq!(requests_to(&fake, "/v1/users"), 10);
}

/// Most of a group's users reach it through their account role and hold nothing on it: many pages
/// in a row bring no record, and the listing goes on (the 100,000-user benchmark found this).
#[tokio::test]
async fn pages_that_bring_no_record_are_not_empty_pages() {
    let (fake, _) = start(&AccountSpec::sized(9, 40, 2, 2));
    fake.update(|a| {
        a.group_users.clear();
        a.team_groups.clear();
        for user in a.users.values_mut() {
            user.role = Some("Account Reviewer".into());
        }
    });
    let account = fake.account();
    let mut tenant = tenant(&fake, &account);
    tenant.page_size = Some(1);
    let snapshot = sync(runtime(), &tenant).await.expect("forty pages of inherited users are no endless paging");
    assert_eq!(grant_ids(&snapshot), expected_grants(&account));
    assert!(requests_to(&fake, &format!("/v1/groups/{}/users", account.groups.keys().next().unwrap())) >= 40);
}

#[tokio::test]
async fn a_listing_that_never_ends_stops_at_the_syncs_memory_limit() {
    let (fake, account) = start(&small());
    fake.set_paging(Paging::EndlessUsers);
    let mut tenant = tenant(&fake, &account);
    tenant.max_sync_bytes = 4 * 1024 * 1024;
    let result = sync(runtime(), &tenant).await;
    match result {
        Err(error) if error.kind() == ErrorKind::Sandbox => {
            assert_eq!(exit_status(&error), 5);
            assert!(error.message().starts_with("sync memory limit: tenant test's sync holds more than 4 MiB"), "{}", error.message());
            assert_eq!(error.setting(), Some("max_sync_mib"));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(requests_to(&fake, "/v1/users") < 20, "{} pages", requests_to(&fake, "/v1/users"));
}

#[tokio::test]
async fn waiting_for_the_api_is_not_counted_as_cpu_time() {
    let (fake, account) = start(&AccountSpec::sized(3, 80, 2, 2));
    fake.set_latency(Duration::from_millis(15));
    let mut tenant = tenant(&fake, &account);
    tenant.page_size = Some(1);
    tenant.cpu_time_per_call = Duration::from_millis(60);
    // Looking for an email no user has reads all 80 pages of one user in one call: 1.2 s of
    // waiting, a few milliseconds of work.
    let started = Instant::now();
    let created = provision(runtime(), &tenant, new_account("nobody.yet@example.test")).await.map(|o| to_json(&o)).expect("no CPU limit");
    assert_eq!(created["outcome"], "created");
    assert!(requests_to(&fake, "/v1/users") >= 80);
    assert!(started.elapsed() >= Duration::from_millis(1200), "it did wait for the API");
}

#[tokio::test]
async fn an_oversized_or_endless_answer_is_refused_with_the_response_limit_named() {
    for size in [Some(50 * 1024 * 1024), None] {
        let (fake, account) = start(&small());
        fake.inject(FaultRule::new("/v1/users", u32::MAX, Fault::Oversized(size)));
        let result = sync(runtime(), &tenant(&fake, &account)).await;
        match result {
            Err(error) if error.kind() == ErrorKind::Sandbox => {
                let message = error.message();
                assert!(message.starts_with("response size limit: GET /v1/users answered more than 8388608 bytes"), "{message}");
                assert!(!message.contains("memory limit"), "{message}");
            }
            other => panic!("{size:?}: {:?}", other.map(|_| ())),
        }
        assert_eq!(requests_to(&fake, "/v1/users"), 1, "a limit is not retried");
    }
}

#[tokio::test]
async fn a_400_during_a_sync_is_the_apis_failure_not_a_usage_error() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/teams", 1, Fault::BadRequest));
    let result = sync(runtime(), &tenant(&fake, &account)).await;
    assert_api_error(result.map(|_| ()), &["GET /v1/teams answered 400", "refused a request of the sync"]);
}

#[tokio::test]
async fn an_answer_that_drips_past_the_calls_limit_names_the_endpoint() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/roles", 1, Fault::Drip(Duration::from_millis(100))));
    let mut tenant = tenant(&fake, &account);
    tenant.call_timeout = Duration::from_secs(2);
    let result = sync(runtime(), &tenant).await;
    assert_api_error(result.map(|_| ()), &["GET /v1/roles", "did not complete within the call's limit of 2 s"]);
}

#[tokio::test]
async fn a_pace_no_call_can_wait_for_fails_at_once() {
    let (fake, account) = start(&small());
    fake.set_rate_limit(100);
    fake.set_rate_remaining(5);
    let mut tenant = tenant(&fake, &account);
    tenant.call_timeout = Duration::from_secs(10);
    let started = Instant::now();
    let result = sync(runtime(), &tenant).await;
    assert_api_error(result.map(|_| ()), &["rate limit", "X-Rate-Limit spaces requests 36 s", "longer than a call may wait (5 s)"]);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_head_too_large_to_read_is_not_retried() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/roles", u32::MAX, Fault::HugeHeader(512 * 1024)));
    let result = sync(runtime(), &tenant(&fake, &account)).await;
    assert_api_error(result.map(|_| ()), &["GET /v1/roles", "not valid HTTP"]);
    assert_eq!(requests_to(&fake, "/v1/roles"), 1);
}

#[tokio::test]
async fn a_body_cut_short_says_so() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/roles", u32::MAX, Fault::Truncated));
    let result = sync(runtime(), &tenant(&fake, &account)).await;
    assert_api_error(result.map(|_| ()), &["GET /v1/roles", "answer was cut short", "gave up after 5 attempts"]);
}

#[tokio::test]
async fn one_tenant_paging_forever_does_not_take_its_neighbour_with_it() {
    use connector_host::sync_all::{TenantRun, sync_all};
    let (endless_fake, endless_account) = start(&small());
    endless_fake.set_paging(Paging::EndlessUsers);
    let (good_fake, good_account) = start(&small());
    let mut endless = tenant(&endless_fake, &endless_account);
    endless.id = "endless".into();
    endless.max_sync_bytes = 8 * 1024 * 1024;
    let mut good = tenant(&good_fake, &good_account);
    good.id = "good".into();
    let dir = tempfile::tempdir().unwrap();
    let runs = vec![
        TenantRun::new(endless.id.clone(), runtime().clone(), Ok(endless)),
        TenantRun::new(good.id.clone(), runtime().clone(), Ok(good)),
    ];
    let outcomes = sync_all(runs, dir.path()).await;
    let error = outcomes[0].result.as_ref().expect_err("the endless tenant is stopped");
    assert_eq!(exit_status(&error), 5, "{error}");
    assert!(error.message().contains("sync memory limit"), "{error}");
    assert!(!dir.path().join("endless.json").exists());
    let written = outcomes[1].result.as_ref().expect("the good tenant is unaffected");
    let snapshot = Snapshot::read(&written.path).unwrap();
    assert_eq!(grant_ids(&snapshot), expected_grants(&good_account));
}
