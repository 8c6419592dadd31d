//! The service's state: users and groups as JSON objects, and what a sync of them must report.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// Which service the fake plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Any SCIM 2.0 service: any role value is accepted.
    #[default]
    Generic,
    /// Fivetran's SCIM API: account roles only; the documentation link names Fivetran.
    Fivetran,
}

/// Fivetran's account roles, the only roles its SCIM API provisions.
pub const FIVETRAN_ACCOUNT_ROLES: &[&str] = &["Account Administrator", "Account Analyst", "Account Reviewer", "Account Billing"];

#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// id -> the user as stored (no `meta`).
    pub users: BTreeMap<String, Value>,
    pub groups: BTreeMap<String, Value>,
    pub flavor: Flavor,
    /// Ids the next created resources get, in order, before fresh ones: a service answering ids
    /// of its own making (a test's way to hand out hostile ones).
    pub next_ids: Vec<String>,
    next_id: u64,
    /// Users and groups numbered 1, 2, 3, ... each (see [`Directory::with_shared_numeric_ids`]).
    numeric: Option<(u64, u64)>,
}

fn text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
}

fn list<'a>(value: &'a Value, name: &str) -> Vec<&'a Value> {
    value
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .and_then(|(_, v)| v.as_array())
        .map(|items| items.iter().collect())
        .unwrap_or_default()
}

impl Directory {
    pub fn new(flavor: Flavor) -> Self {
        Self { flavor, ..Self::default() }
    }

    /// A fresh id: GUID-shaped, as Entra ID's and many others are.
    pub fn fresh_id(&mut self, prefix: char) -> String {
        if !self.next_ids.is_empty() {
            return self.next_ids.remove(0);
        }
        if let Some((users, groups)) = &mut self.numeric {
            let counter = if prefix == 'u' { users } else { groups };
            *counter += 1;
            return counter.to_string();
        }
        self.next_id += 1;
        format!("{prefix}{:07x}-7f76-453a-919d-{:012x}", self.next_id, self.next_id * 7919)
    }

    /// A deterministic directory: `users` users (some inactive, some with several roles, one
    /// with the enterprise extension) and `groups` groups of members, one nesting another.
    pub fn sample(users: usize, groups: usize, flavor: Flavor) -> Self {
        let mut directory = Self::new(flavor);
        let roles: &[&str] = match flavor {
            Flavor::Fivetran => FIVETRAN_ACCOUNT_ROLES,
            Flavor::Generic => &["Admin", "Auditor", "Developer", "Support"],
        };
        let mut user_ids = Vec::new();
        for n in 0..users {
            let id = directory.fresh_id('u');
            let given = ["Ann", "Bo", "Chen", "Dara", "Eli", "Femi"][n % 6];
            let family = ["Lee", "Okafor", "Silva", "Nakamura"][n % 4];
            let email = format!("{}.{}{n}@example.test", given.to_lowercase(), family.to_lowercase());
            let mut user = json!({
                "userName": email,
                "externalId": format!("ext-{n}"),
                "name": {"givenName": given, "familyName": family},
                "emails": [{"value": email, "type": "work", "primary": true}],
                "active": n % 9 != 4,
            });
            match n % 5 {
                0 => {}
                1..=3 => user["roles"] = json!([{"value": roles[n % roles.len()], "primary": true}]),
                _ if flavor == Flavor::Generic => {
                    user["roles"] =
                        json!([{"value": roles[0], "primary": true}, {"value": roles[1], "display": format!("{} role", roles[1])}])
                }
                _ => user["roles"] = json!([{"value": roles[1]}]),
            }
            if n == 2 {
                user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
                    json!({"department": "Finance", "employeeNumber": "701984", "manager": {"value": user_ids[0]}});
            }
            if n % 7 == 3 {
                user["displayName"] = json!(format!("{given} \"{}\" {family}", &given[..1]));
            }
            directory.users.insert(id.clone(), user);
            user_ids.push(id);
        }
        let mut group_ids: Vec<String> = Vec::new();
        for g in 0..groups {
            let id = directory.fresh_id('g');
            let mut members: Vec<Value> =
                user_ids.iter().skip(g).step_by(groups.max(1) + 1).map(|u| json!({"value": u, "type": "User"})).collect();
            if g == 1 && !group_ids.is_empty() {
                members.push(json!({"value": group_ids[0], "type": "Group"}));
            }
            let group = json!({"displayName": format!("Team {}", ["Finance", "Platform", "Support", "Data", "Security"][g % 5]) + &"+".repeat(g / 5), "externalId": format!("gext-{g}"), "members": members});
            directory.groups.insert(id.clone(), group);
            group_ids.push(id);
        }
        directory
    }

    /// Whether `value` names a user (else a group, else nothing).
    /// The same directory as an ORM-backed service keeps it: users and groups numbered from 1
    /// each, so that user 3 and group 3 both exist (against RFC 7643 section 3.1), and no group
    /// in a group (such services hold users only as members).
    pub fn with_shared_numeric_ids(self) -> Self {
        let renumber = |ids: Vec<&String>| -> BTreeMap<String, String> {
            ids.into_iter().enumerate().map(|(n, id)| (id.clone(), (n + 1).to_string())).collect()
        };
        let users = renumber(self.users.keys().collect());
        let groups = renumber(self.groups.keys().collect());
        let mut renumbered = Self { flavor: self.flavor, numeric: Some((users.len() as u64, groups.len() as u64)), ..Self::default() };
        for (id, user) in &self.users {
            renumbered.users.insert(users[id].clone(), user.clone());
        }
        for (id, group) in &self.groups {
            let mut group = group.clone();
            let members: Vec<Value> =
                list(&group, "members").into_iter().filter_map(|m| users.get(text(m, "value")?)).map(|u| json!({"value": u})).collect();
            group["members"] = Value::Array(members);
            renumbered.groups.insert(groups[id].clone(), group);
        }
        renumbered
    }

    /// What an id names: a user first (a service whose users and groups share ids takes an id
    /// for its user).
    pub fn kind_of(&self, id: &str) -> Option<&'static str> {
        if self.users.contains_key(id) {
            Some("user")
        } else if self.groups.contains_key(id) {
            Some("group")
        } else {
            None
        }
    }

    /// Every grant a sync must report: each member of each group, each role of each user.
    pub fn expected_grants(&self) -> BTreeSet<String> {
        let mut grants = BTreeSet::new();
        for (group_id, group) in &self.groups {
            for member in list(group, "members") {
                if let Some(id) = text(member, "value")
                    && let Some(kind) = self.kind_of(id)
                {
                    grants.insert(format!("group:{group_id}:member:{kind}:{id}"));
                }
            }
        }
        for (user_id, user) in &self.users {
            for role in list(user, "roles") {
                if let Some(value) = text(role, "value") {
                    grants.insert(format!("role:{value}:assigned:user:{user_id}"));
                }
            }
        }
        grants
    }

    /// Every resource a sync must report, as `type:id`.
    pub fn expected_resources(&self) -> BTreeSet<String> {
        let mut resources: BTreeSet<String> = self.users.keys().map(|id| format!("user:{id}")).collect();
        resources.extend(self.groups.keys().map(|id| format!("group:{id}")));
        for user in self.users.values() {
            for role in list(user, "roles") {
                if let Some(value) = text(role, "value") {
                    resources.insert(format!("role:{value}"));
                }
            }
        }
        resources
    }

    /// The user whose `userName` is `name` in any case.
    pub fn user_named(&self, name: &str) -> Option<(&String, &Value)> {
        self.users.iter().find(|(_, u)| text(u, "userName").is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }

    pub fn group_named(&self, name: &str) -> Option<(&String, &Value)> {
        self.groups.iter().find(|(_, g)| text(g, "displayName").is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }

    /// The group named exactly `name`, case and all.
    pub fn group_named_exactly(&self, name: &str) -> Option<(&String, &Value)> {
        self.groups.iter().find(|(_, g)| text(g, "displayName") == Some(name))
    }

    /// The groups user `id` is a member of.
    pub fn groups_of(&self, id: &str) -> Vec<String> {
        self.groups.iter().filter(|(group, _)| self.members_of(group).iter().any(|m| m == id)).map(|(group, _)| group.clone()).collect()
    }

    /// The member ids of group `id`.
    pub fn members_of(&self, id: &str) -> Vec<String> {
        self.groups
            .get(id)
            .map(|g| list(g, "members").into_iter().filter_map(|m| text(m, "value")).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The role values user `id` holds.
    pub fn roles_of(&self, id: &str) -> Vec<String> {
        self.users
            .get(id)
            .map(|u| list(u, "roles").into_iter().filter_map(|r| text(r, "value")).map(str::to_owned).collect())
            .unwrap_or_default()
    }
}
