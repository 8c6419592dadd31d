//! Generated accounts of any size, deterministic for a seed, with the awkward cases real
//! accounts have: users with no role, invited and never logged in, suspended; names with
//! non-ASCII letters; teams without a role or description; groups listing inherited users with a
//! null or empty role; deprecated role names, listed and unlisted.

use std::collections::{BTreeMap, BTreeSet};

use crate::account::{Account, ApiKey, Group, InheritedRole, Role, Team, User};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSpec {
    pub seed: u64,
    pub users: usize,
    pub teams: usize,
    pub groups: usize,
    /// Most members a team gets (at least 1).
    pub max_team_members: usize,
    /// Most users with a role of their own a group gets.
    pub max_group_users: usize,
    /// Gives the first team this many members (to page past 1000).
    pub large_team: Option<usize>,
    /// Gives the first group this many users with a role (to page past 1000).
    pub large_group: Option<usize>,
}

impl AccountSpec {
    /// The demo's account: a few hundred users, dozens of teams and groups.
    pub fn sample() -> Self {
        Self::sized(1, 300, 40, 25)
    }

    pub fn sized(seed: u64, users: usize, teams: usize, groups: usize) -> Self {
        Self { seed, users, teams, groups, max_team_members: 40, max_group_users: 30, large_team: None, large_group: None }
    }
}

/// A destination role that `/v1/roles` no longer lists but old memberships still carry.
pub const UNLISTED_LEGACY_ROLE: &str = "Destination Analyst";

const GIVEN: &[&str] = &[
    "Ann", "Zoë", "José", "Søren", "Łukasz", "Chloé", "Björn", "Ngozi", "Priya", "Mei", "Oğuz", "Ana", "Tomás", "Ilse", "Kwame", "Noor",
    "Răzvan", "Elif", "Hiroshi", "Amélie",
];
const FAMILY: &[&str] = &[
    "Lee",
    "Müller",
    "García",
    "Østergaard",
    "Nowak",
    "O'Brien",
    "Ñúñez",
    "Dubois",
    "Okafor",
    "Chen",
    "Yılmaz",
    "Kowalczyk",
    "Smith",
    "Jørgensen",
    "Ivanović",
    "Häkkinen",
    "Tanaka",
    "Silva",
    "Björklund",
    "Papadopoulos",
];
const DEPARTMENTS: &[&str] = &[
    "Finance",
    "Data Platform",
    "Marketing Analytics",
    "Équipe Données",
    "Sales Ops",
    "Growth",
    "Security",
    "Analytics Engineering",
    "Customer Success",
    "Produktteam",
];
const DESTINATIONS: &[&str] = &["warehouse", "lake", "analytics", "reporting", "staging", "sandbox", "entrepôt"];

/// SplitMix64: small, fast and the same on every platform and version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An id like Fivetran's: two words and a suffix, unique within `taken`.
    fn id(&mut self, taken: &mut BTreeSet<String>) -> String {
        const A: &[&str] = &["brisk", "calm", "dapper", "eager", "fuzzy", "gentle", "humble", "jolly", "keen", "lucid"];
        const B: &[&str] = &["otter", "falcon", "maple", "comet", "harbor", "tundra", "quartz", "meadow", "ember", "delta"];
        loop {
            let id = format!("{}_{}_{:x}", self.pick(A), self.pick(B), self.next() % 0xfffff);
            if taken.insert(id.clone()) {
                return id;
            }
        }
    }

    /// `count` distinct indices below `n`, sorted.
    fn sample(&mut self, n: usize, count: usize) -> Vec<usize> {
        let count = count.min(n);
        let mut chosen = BTreeSet::new();
        while chosen.len() < count {
            chosen.insert(self.below(n));
        }
        chosen.into_iter().collect()
    }
}

fn role(name: &str, scope: &str, description: &str) -> Role {
    Role {
        name: name.into(),
        description: description.into(),
        scope: vec![scope.into()],
        is_custom: false,
        is_deprecated: false,
        replacement_role_name: None,
    }
}

fn deprecated(name: &str, scope: &str, replacement: &str) -> Role {
    Role { is_deprecated: true, replacement_role_name: Some(replacement.into()), ..role(name, scope, "Legacy role") }
}

fn custom(name: &str, scope: &str) -> Role {
    Role { is_custom: true, ..role(name, scope, "Custom role") }
}

pub fn generate(spec: &AccountSpec) -> Account {
    let mut rng = Rng(spec.seed ^ 0x5EED_F1BE_7A11);
    let mut taken = BTreeSet::new();
    let custom_account_role = format!("Custom Auditor {}", spec.seed % 100);
    let custom_destination_role = format!("Destination Steward {}", spec.seed % 100);
    let roles = vec![
        role("Account Administrator", "ACCOUNT", "Full access to the account"),
        role("Account Billing", "ACCOUNT", "Billing access"),
        role("Account Analyst", "ACCOUNT", "Read access to the account"),
        role("Account Reviewer", "ACCOUNT", "Reviews the account"),
        custom(&custom_account_role, "ACCOUNT"),
        role("Manage Destination", "DESTINATION", "Manages a destination"),
        role("Edit Destination", "DESTINATION", "Edits a destination"),
        role("View Destination", "DESTINATION", "Views a destination"),
        role("Create Connection", "DESTINATION", "Creates connections in a destination"),
        deprecated("Destination Administrator", "DESTINATION", "Manage Destination"),
        deprecated("Destination Reviewer", "DESTINATION", "View Destination"),
        custom(&custom_destination_role, "DESTINATION"),
        role("Manage Connection", "CONNECTOR", "Manages a connection"),
        role("View Connection", "CONNECTOR", "Views a connection"),
        deprecated("Connector Administrator", "CONNECTOR", "Manage Connection"),
        role("Team Member", "TEAM", "Member of a team"),
        role("Team Manager", "TEAM", "Manages a team"),
    ];
    let account_roles = ["Account Analyst", "Account Reviewer", "Account Billing", custom_account_role.as_str()];
    let mut destination_roles: Vec<&str> = roles.iter().filter(|r| r.scope == ["DESTINATION"]).map(|r| r.name.as_str()).collect();
    destination_roles.push(UNLISTED_LEGACY_ROLE);

    let mut users = BTreeMap::new();
    let mut user_ids = Vec::with_capacity(spec.users);
    for i in 0..spec.users {
        let id = rng.id(&mut taken);
        let given = *rng.pick(GIVEN);
        let family = *rng.pick(FAMILY);
        let invited = i > 0 && rng.chance(12);
        let nameless = i > 0 && rng.chance(2);
        let role = match (i, rng.below(100)) {
            (0, _) => Some("Account Administrator".to_owned()),
            (_, 0..=9) => None,
            (_, 10..=12) => Some("Account Administrator".to_owned()),
            _ => Some((*rng.pick(&account_roles)).to_owned()),
        };
        let user = User {
            id: id.clone(),
            email: format!("{}.{}{i}@example.test", ascii(given), ascii(family)),
            given_name: (!nameless).then(|| given.to_owned()),
            family_name: (!nameless).then(|| family.to_owned()),
            active: i == 0 || !rng.chance(5),
            invited,
            verified: !invited,
            logged_in_at: (!invited).then(|| format!("2026-{:02}-{:02}T09:{:02}:00Z", 1 + rng.below(10), 1 + rng.below(28), rng.below(60))),
            created_at: format!("2024-{:02}-{:02}T12:00:00Z", 1 + rng.below(12), 1 + rng.below(28)),
            phone: rng.chance(40).then(|| format!("+1555{:07}", rng.below(10_000_000))),
            picture: None,
            role,
        };
        user_ids.push(id.clone());
        users.insert(id, user);
    }

    let mut groups = BTreeMap::new();
    let mut group_ids = Vec::with_capacity(spec.groups);
    for i in 0..spec.groups {
        let id = rng.id(&mut taken);
        let name = format!("{}_{i}", rng.pick(DESTINATIONS));
        let created_at = format!("2023-{:02}-{:02}T08:00:00Z", 1 + rng.below(12), 1 + rng.below(28));
        group_ids.push(id.clone());
        groups.insert(id.clone(), Group { id, name, created_at });
    }

    let mut teams = BTreeMap::new();
    let mut team_users = BTreeMap::new();
    let mut team_groups = BTreeMap::new();
    for i in 0..spec.teams {
        let id = rng.id(&mut taken);
        let department = *rng.pick(DEPARTMENTS);
        let team = Team {
            id: id.clone(),
            name: format!("{department} {i}"),
            description: (!rng.chance(25)).then(|| format!("The {department} team")),
            role: (!rng.chance(20)).then(|| (*rng.pick(&account_roles[..2])).to_owned()),
        };
        teams.insert(id.clone(), team);
        let size = match (i, spec.large_team) {
            (0, Some(n)) => n,
            _ => 1 + rng.below(spec.max_team_members.max(1)),
        };
        for u in rng.sample(user_ids.len(), size) {
            let role = if rng.chance(20) { "Team Manager" } else { "Team Member" };
            team_users.insert((id.clone(), user_ids[u].clone()), role.to_owned());
        }
        let team_group_count = rng.below(4);
        for g in rng.sample(group_ids.len(), team_group_count) {
            let role = *rng.pick(&destination_roles[..destination_roles.len() - 1]);
            team_groups.insert((id.clone(), group_ids[g].clone()), role.to_owned());
        }
    }

    let mut group_users = BTreeMap::new();
    for (i, group_id) in group_ids.iter().enumerate() {
        let size = match (i, spec.large_group) {
            (0, Some(n)) => n,
            _ => rng.below(spec.max_group_users + 1),
        };
        for u in rng.sample(user_ids.len(), size) {
            let role = if rng.chance(3) { UNLISTED_LEGACY_ROLE } else { *rng.pick(&destination_roles) };
            group_users.insert((group_id.clone(), user_ids[u].clone()), role.to_owned());
        }
    }

    let owner = user_ids.first().cloned();
    Account {
        account_id: format!("acct_{:x}", spec.seed),
        account_name: format!("Generated account {}", spec.seed),
        users,
        roles,
        teams,
        groups,
        team_users,
        team_groups,
        group_users,
        inheriting_roles: vec![("Account Administrator".into(), InheritedRole::Null), ("Account Reviewer".into(), InheritedRole::Empty)],
        api_keys: vec![
            ApiKey {
                key: format!("key{:x}", rng.next()),
                secret: format!("secret{:x}{:x}", rng.next(), rng.next()),
                user_id: owner,
                system_key_id: None,
                scopes: None,
            },
            ApiKey {
                key: format!("syskey{:x}", rng.next()),
                secret: format!("syssecret{:x}{:x}", rng.next(), rng.next()),
                user_id: None,
                system_key_id: Some(format!("system_{:x}", rng.next() % 0xffff)),
                scopes: Some(["USER:MANAGE", "ACCOUNT:READ", "TEAM:MANAGE", "ROLES:READ", "DESTINATION:MANAGE"].map(String::from).to_vec()),
            },
        ],
    }
}

fn ascii(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_account_other_seed_other_account() {
        let spec = AccountSpec::sized(7, 50, 5, 4);
        assert_eq!(generate(&spec), generate(&spec));
        assert_ne!(generate(&spec).users, generate(&AccountSpec { seed: 8, ..spec }).users);
    }

    #[test]
    fn the_awkward_cases_are_there() {
        let account = generate(&AccountSpec::sized(3, 400, 30, 20));
        let users: Vec<_> = account.users.values().collect();
        assert!(users.iter().any(|u| u.role.is_none()));
        assert!(users.iter().any(|u| u.invited && !u.verified && u.logged_in_at.is_none()));
        assert!(users.iter().any(|u| !u.active));
        assert!(users.iter().any(|u| u.given_name.as_deref().is_some_and(|n| !n.is_ascii())));
        assert!(account.teams.values().any(|t| t.role.is_none()));
        assert!(account.teams.values().any(|t| t.description.is_none()));
        assert!(account.group_users.values().any(|r| r == UNLISTED_LEGACY_ROLE));
        assert!(account.group_users.values().any(|r| r == "Destination Administrator"));
        let listing = account.group_listing(account.groups.keys().next().unwrap());
        assert!(listing.iter().any(|(_, role)| role.is_none()));
        assert!(listing.iter().any(|(_, role)| role.as_deref() == Some("")));
    }
}
