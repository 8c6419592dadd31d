//! What a correct sync of an account must report, derived from the account's state and
//! `docs/contract.md` section 1 alone: the tests' answer key.

use std::collections::{BTreeMap, BTreeSet};

use crate::account::Account;
use crate::routes::MAX_LIMIT;

/// Every grant id the account holds.
pub fn expected_grants(account: &Account) -> BTreeSet<String> {
    let mut grants = BTreeSet::new();
    for user in account.users.values() {
        if let Some(role) = user.role.as_deref().filter(|r| !r.is_empty()) {
            grants.insert(format!("role:{role}:assigned:user:{}", user.id));
        }
    }
    for team in account.teams.values() {
        if let Some(role) = team.role.as_deref().filter(|r| !r.is_empty()) {
            grants.insert(format!("role:{role}:assigned:team:{}", team.id));
        }
    }
    for ((team, user), role) in &account.team_users {
        let slug = if role == "Team Manager" { "manager" } else { "member" };
        grants.insert(format!("team:{team}:{slug}:user:{user}"));
    }
    for ((team, group), role) in &account.team_groups {
        grants.insert(format!("group:{group}:{role}:team:{team}"));
    }
    for group in account.groups.keys() {
        for (user, role) in account.group_listing(group) {
            if let Some(role) = role.filter(|r| !r.trim().is_empty()) {
                grants.insert(format!("group:{group}:{role}:user:{user}"));
            }
        }
    }
    grants
}

/// Every resource as `type:id`.
pub fn expected_resources(account: &Account) -> BTreeSet<String> {
    let mut resources = BTreeSet::new();
    resources.extend(account.users.keys().map(|id| format!("user:{id}")));
    resources.extend(account.roles.iter().map(|r| format!("role:{}", r.name)));
    resources.extend(account.teams.keys().map(|id| format!("team:{id}")));
    resources.extend(account.groups.keys().map(|id| format!("group:{id}")));
    // Roles users and teams hold that `/v1/roles` does not list.
    for role in account.users.values().filter_map(|u| u.role.as_ref()).chain(account.teams.values().filter_map(|t| t.role.as_ref())) {
        resources.insert(format!("role:{role}"));
    }
    resources
}

/// The fewest requests a full sync can send with pages of `MAX_LIMIT`: one listing per resource
/// type, two per team (users, groups), one per group (users), more only past 1000 items.
pub fn minimum_requests(account: &Account) -> u64 {
    let pages = |n: usize| n.div_ceil(MAX_LIMIT).max(1) as u64;
    let mut total = pages(account.users.len()) + pages(account.roles.len()) + pages(account.teams.len()) + pages(account.groups.len());
    let mut members: BTreeMap<&str, usize> = BTreeMap::new();
    let mut destinations: BTreeMap<&str, usize> = BTreeMap::new();
    for (team, _) in account.team_users.keys() {
        *members.entry(team).or_default() += 1;
    }
    for (team, _) in account.team_groups.keys() {
        *destinations.entry(team).or_default() += 1;
    }
    for team in account.teams.keys() {
        total += pages(members.get(team.as_str()).copied().unwrap_or(0));
        total += pages(destinations.get(team.as_str()).copied().unwrap_or(0));
    }
    for group in account.groups.keys() {
        total += pages(account.group_listing(group).len());
    }
    total
}
