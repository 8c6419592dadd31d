//! The host's concurrent sync: the same snapshot as a sequential one, requests really in
//! flight together, and one rate limit pausing every worker.

use std::time::Duration;

use connector_e2e::{runtime, start, tenant};
use connector_fake_fivetran::oracle::{expected_grants, minimum_requests};
use connector_fake_fivetran::{AccountSpec, Fault, FaultRule};
use connector_host::sync;

#[tokio::test]
async fn a_concurrent_sync_equals_a_sequential_one() {
    let (fake, account) = start(&AccountSpec::sized(61, 1500, 60, 40));
    let mut sequential = tenant(&fake, &account);
    sequential.max_concurrency = 1;
    let mut concurrent = tenant(&fake, &account);
    concurrent.max_concurrency = 8;
    let one = sync(runtime(), &sequential).await.unwrap();
    let eight = sync(runtime(), &concurrent).await.unwrap();
    assert_eq!(one.resources, eight.resources);
    assert_eq!(one.entitlements, eight.entitlements);
    assert_eq!(one.grants, eight.grants);
    assert_eq!(eight.grants.iter().map(|g| g.id.clone()).collect::<std::collections::BTreeSet<_>>(), expected_grants(&account));
    assert_eq!(one.stats.http_requests, minimum_requests(&account));
    assert_eq!(eight.stats.http_requests, minimum_requests(&account), "concurrency sends no extra request");
}

#[tokio::test]
async fn listings_of_different_resources_are_in_flight_together() {
    let (fake, account) = start(&AccountSpec::sized(62, 100, 24, 8));
    fake.inject(FaultRule::new("/v1/teams/", u32::MAX, Fault::Slow(Duration::from_millis(50))));
    let mut eight = tenant(&fake, &account);
    eight.max_concurrency = 8;
    sync(runtime(), &eight).await.unwrap();
    assert_eq!(fake.max_in_flight(), 8, "eight workers, eight requests at once");

    let (fake, account) = start(&AccountSpec::sized(62, 100, 24, 8));
    fake.inject(FaultRule::new("/v1/teams/", u32::MAX, Fault::Slow(Duration::from_millis(20))));
    let mut one = tenant(&fake, &account);
    one.max_concurrency = 1;
    sync(runtime(), &one).await.unwrap();
    assert_eq!(fake.max_in_flight(), 1, "max_concurrency = 1 is sequential");
}

#[tokio::test]
async fn a_429_pauses_all_workers_for_retry_after() {
    let (fake, account) = start(&AccountSpec::sized(63, 200, 40, 10));
    // The first rule that fires wins: the 429 once, slow answers otherwise, which keep all eight
    // workers busy when the 429 comes.
    fake.inject(FaultRule::new("/v1/teams/", 1, Fault::RateLimited { retry_after_s: 1 }).after(20));
    fake.inject(FaultRule::new("/v1/teams/", u32::MAX, Fault::Slow(Duration::from_millis(20))));
    let mut eight = tenant(&fake, &account);
    eight.max_concurrency = 8;
    let snapshot = sync(runtime(), &eight).await.unwrap();
    assert_eq!(snapshot.stats.rate_limit_waits, 1);
    assert_eq!(snapshot.grants.iter().map(|g| g.id.clone()).collect::<std::collections::BTreeSet<_>>(), expected_grants(&account));

    let requests = fake.requests();
    let limited = requests.iter().find(|r| r.status == 429).expect("a 429 was served");
    // Requests already on their way when the 429 was answered may land just after it.
    let grace = Duration::from_millis(60);
    let during_pause: Vec<_> = requests
        .iter()
        .filter(|r| r.at > limited.at + grace && r.at < limited.at + Duration::from_millis(950))
        .map(|r| r.path.clone())
        .collect();
    assert!(during_pause.is_empty(), "no worker sent a request during the pause: {during_pause:?}");
    assert!(requests.iter().any(|r| r.at >= limited.at + Duration::from_secs(1)), "the sync went on after it");
}

#[tokio::test]
async fn a_run_reuses_its_connections_and_copes_with_a_server_that_closes_them() {
    let (fake, account) = start(&AccountSpec::sized(64, 600, 40, 20));
    let mut four = tenant(&fake, &account);
    four.max_concurrency = 4;
    let snapshot = sync(runtime(), &four).await.unwrap();
    let requests = snapshot.stats.http_requests;
    assert!(requests > 100, "{requests} requests");
    // One connection per worker, and a few more where a worker asked while another's answer
    // was still being read.
    assert!(fake.connections() <= 8, "{} connections for {requests} requests", fake.connections());

    let (fake, account) = start(&AccountSpec::sized(64, 600, 40, 20));
    fake.set_keep_alive(false);
    let mut four = tenant(&fake, &account);
    four.max_concurrency = 4;
    let snapshot = sync(runtime(), &four).await.unwrap();
    assert_eq!(snapshot.grants.iter().map(|g| g.id.clone()).collect::<std::collections::BTreeSet<_>>(), expected_grants(&account));
    assert_eq!(fake.connections(), snapshot.stats.http_requests, "a closed connection is not reused");
}
