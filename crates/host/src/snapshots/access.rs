//! Effective access over a snapshot: what a principal can reach and who can reach a resource,
//! each with the path that makes it, following expandable grants as baton does
//! (`GrantExpandable`): a grant of entitlement E whose `expandable` lists entitlement S passes E
//! on to every holder of S. Expansion is transitive, breadth first (the shortest path is the one
//! reported) and visits each entitlement once per question, so a cycle ends and the work is
//! bounded by the snapshot's size.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;

use crate::error::{HostError, Result};
use crate::snapshot::{GrantRecord, Snapshot};

/// One entitlement a principal reaches, and through which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reach {
    pub entitlement: String,
    /// `TYPE:ID` of the entitlement's resource.
    pub resource: String,
    /// The entitlements passed through, from the principal's own outwards; empty for a grant
    /// held directly.
    pub via: Vec<String>,
    /// The grants that make the path: the principal's own first, the one of `entitlement` last.
    pub grants: Vec<String>,
}

/// One principal that reaches an entitlement, and through which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// `TYPE:ID`.
    pub principal: String,
    pub entitlement: String,
    pub via: Vec<String>,
    pub grants: Vec<String>,
}

/// A question of access review, as the command's flags and the API's query ask it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// What this principal reaches: `TYPE:ID` or a user's email.
    Principal(String),
    /// Who reaches an entitlement of this resource, `TYPE:ID`.
    Resource(String),
    /// Who holds this entitlement.
    Entitlement(String),
}

impl Question {
    /// The one question asked of three optional ones (the command's flags, the API's query);
    /// none when none or several are.
    pub fn one_of(principal: Option<String>, resource: Option<String>, entitlement: Option<String>) -> Option<Self> {
        match (principal, resource, entitlement) {
            (Some(principal), None, None) => Some(Question::Principal(principal)),
            (None, Some(resource), None) => Some(Question::Resource(resource)),
            (None, None, Some(entitlement)) => Some(Question::Entitlement(entitlement)),
            _ => None,
        }
    }
}

/// A snapshot indexed for access questions.
pub struct AccessIndex<'a> {
    snapshot: &'a Snapshot,
    /// Grants by principal `TYPE:ID`.
    by_principal: HashMap<String, Vec<&'a GrantRecord>>,
    /// Grants by entitlement id.
    by_entitlement: HashMap<&'a str, Vec<&'a GrantRecord>>,
    /// Grants whose `expandable` lists an entitlement, by that entitlement: what its holders get.
    passed_on_by: HashMap<&'a str, Vec<&'a GrantRecord>>,
    /// Each entitlement's resource, `TYPE:ID`.
    resource_of: HashMap<&'a str, String>,
}

fn key(resource_type: &str, id: &str) -> String {
    format!("{resource_type}:{id}")
}

impl<'a> AccessIndex<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Self {
        let mut by_principal: HashMap<String, Vec<&GrantRecord>> = HashMap::new();
        let mut by_entitlement: HashMap<&str, Vec<&GrantRecord>> = HashMap::new();
        let mut passed_on_by: HashMap<&str, Vec<&GrantRecord>> = HashMap::new();
        for grant in &snapshot.grants {
            by_principal.entry(key(&grant.principal.resource_type, &grant.principal.id)).or_default().push(grant);
            by_entitlement.entry(grant.entitlement.as_str()).or_default().push(grant);
            for source in &grant.expandable {
                passed_on_by.entry(source.as_str()).or_default().push(grant);
            }
        }
        let resource_of = snapshot.entitlements.iter().map(|e| (e.id.as_str(), key(&e.resource.resource_type, &e.resource.id))).collect();
        Self { snapshot, by_principal, by_entitlement, passed_on_by, resource_of }
    }

    /// The principal `TYPE:ID`, or the user whose email is `email` (the trait its resource type
    /// declares as the profile's email); an error naming what was not found, with a suggestion.
    pub fn principal(&self, given: &str) -> Result<String> {
        if let Some((resource_type, id)) = given.split_once(':') {
            if self.snapshot.resources.iter().any(|r| r.resource_type == resource_type && r.id == id)
                || self.by_principal.contains_key(given)
            {
                return Ok(given.to_owned());
            }
            return Err(HostError::usage(format!(
                "no principal {given:?} in the snapshot; give TYPE:ID as its resources name them (user:ID, team:ID) or a user's email"
            )));
        }
        // Each type's declared email key: the host knows no connector's words.
        let email_keys: HashMap<&str, &str> =
            self.snapshot.resource_types.iter().filter_map(|t| Some((t.id.as_str(), t.profile.as_ref()?.email.as_deref()?))).collect();
        let matching: Vec<String> = self
            .snapshot
            .resources
            .iter()
            .filter(|r| {
                email_keys
                    .get(r.resource_type.as_str())
                    .and_then(|email| r.traits.get(*email))
                    .and_then(|e| e.as_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case(given))
            })
            .map(|r| key(&r.resource_type, &r.id))
            .collect();
        match matching.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(HostError::usage(format!(
                "no principal {given:?}: give TYPE:ID (user:ID, team:ID) or the email of a user in the snapshot"
            ))),
            _ => Err(HostError::usage(format!(
                "the email {given:?} names {} resources ({}): give TYPE:ID",
                matching.len(),
                matching.join(", ")
            ))),
        }
    }

    /// A resource `TYPE:ID` that exists in the snapshot, or an error naming it.
    pub fn resource(&self, given: &str) -> Result<String> {
        let found = given.split_once(':').is_some_and(|(t, id)| self.snapshot.resources.iter().any(|r| r.resource_type == t && r.id == id));
        if found {
            Ok(given.to_owned())
        } else {
            Err(HostError::usage(format!(
                "no resource {given:?} in the snapshot; give TYPE:ID as its resources name them (group:ID, team:ID, user:ID)"
            )))
        }
    }

    /// Everything `principal` (`TYPE:ID`) reaches, sorted by entitlement.
    pub fn reach(&self, principal: &str) -> Vec<Reach> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<(&GrantRecord, Vec<String>, Vec<String>)> = VecDeque::new();
        for grant in self.by_principal.get(principal).into_iter().flatten() {
            queue.push_back((grant, Vec::new(), vec![grant.id.clone()]));
        }
        let mut found = Vec::new();
        while let Some((grant, via, grants)) = queue.pop_front() {
            if !seen.insert(grant.entitlement.as_str()) {
                continue;
            }
            for passed in self.passed_on_by.get(grant.entitlement.as_str()).into_iter().flatten() {
                if !seen.contains(passed.entitlement.as_str()) {
                    let mut via = via.clone();
                    via.push(grant.entitlement.clone());
                    let mut grants = grants.clone();
                    grants.push(passed.id.clone());
                    queue.push_back((passed, via, grants));
                }
            }
            found.push(Reach { entitlement: grant.entitlement.clone(), resource: self.resource_of(&grant.entitlement), via, grants });
        }
        found.sort_by(|a, b| a.entitlement.cmp(&b.entitlement));
        found
    }

    /// Every principal that reaches an entitlement of `resource` (`TYPE:ID`), sorted by
    /// principal then entitlement.
    pub fn holders_of_resource(&self, resource: &str) -> Vec<Holder> {
        let mut holders: Vec<Holder> = self
            .snapshot
            .entitlements
            .iter()
            .filter(|e| key(&e.resource.resource_type, &e.resource.id) == resource)
            .flat_map(|e| self.holders(&e.id))
            .collect();
        holders.sort_by(|a, b| (&a.principal, &a.entitlement).cmp(&(&b.principal, &b.entitlement)));
        holders
    }

    /// Every principal that holds `entitlement`, directly or passed on, each once (by its
    /// shortest path), sorted by principal.
    pub fn holders(&self, entitlement: &str) -> Vec<Holder> {
        let mut explored: HashSet<&str> = HashSet::new();
        let mut reported: HashSet<String> = HashSet::new();
        // (an entitlement whose holders hold `entitlement`, the path from it outwards, its grants)
        let mut queue: VecDeque<(&str, Vec<String>, Vec<String>)> = VecDeque::from([(entitlement, Vec::new(), Vec::new())]);
        let mut found = Vec::new();
        while let Some((current, via, grants)) = queue.pop_front() {
            if !explored.insert(current) {
                continue;
            }
            for grant in self.by_entitlement.get(current).into_iter().flatten() {
                let principal = key(&grant.principal.resource_type, &grant.principal.id);
                let mut path = vec![grant.id.clone()];
                path.extend(grants.iter().cloned());
                if reported.insert(principal.clone()) {
                    found.push(Holder { principal, entitlement: entitlement.to_owned(), via: via.clone(), grants: path.clone() });
                }
                for source in &grant.expandable {
                    if !explored.contains(source.as_str()) {
                        let mut via = via.clone();
                        via.insert(0, source.clone());
                        queue.push_back((source.as_str(), via, path.clone()));
                    }
                }
            }
        }
        found.sort_by(|a, b| a.principal.cmp(&b.principal));
        found
    }

    fn resource_of(&self, entitlement: &str) -> String {
        self.resource_of.get(entitlement).cloned().unwrap_or_default()
    }

    /// The answer to `question` as the contract's JSON: `{"principal", "access": [...]}`, or
    /// `{"resource" | "entitlement", "principals": [...]}`; an error naming what the snapshot
    /// does not hold.
    pub fn answer(&self, question: &Question) -> Result<serde_json::Value> {
        use serde_json::json;
        Ok(match question {
            Question::Principal(given) => {
                let principal = self.principal(given)?;
                json!({"principal": principal, "access": self.reach(&principal)})
            }
            Question::Resource(given) => {
                let resource = self.resource(given)?;
                json!({"resource": resource, "principals": self.holders_of_resource(&resource)})
            }
            Question::Entitlement(entitlement) => {
                if !self.resource_of.contains_key(entitlement.as_str()) {
                    return Err(HostError::usage(format!(
                        "no entitlement {entitlement:?} in the snapshot; give its id as the snapshot's entitlements list it (team:ID:member)"
                    )));
                }
                json!({"entitlement": entitlement, "principals": self.holders(entitlement)})
            }
        })
    }

    /// A resource's or principal's display name, for tables.
    pub fn display_name(&self, resource: &str) -> Option<&str> {
        let (resource_type, id) = resource.split_once(':')?;
        self.snapshot.resources.iter().find(|r| r.resource_type == resource_type && r.id == id).map(|r| r.display_name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ConnectorInfo, EntitlementRecord, ProfileKeys, ResourceKey, ResourceRecord, ResourceTypeRecord, Stats};

    fn at(resource: &str) -> ResourceKey {
        let (resource_type, id) = resource.split_once(':').unwrap();
        ResourceKey { resource_type: resource_type.into(), id: id.into() }
    }

    fn grant(entitlement: &str, principal: &str, expandable: &[&str]) -> GrantRecord {
        GrantRecord {
            id: format!("{entitlement}:{principal}"),
            entitlement: entitlement.into(),
            principal: at(principal),
            expandable: expandable.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    /// Checked by hand: Ann is in team eng, Bob in team ops; ops is a member of eng and eng of
    /// ops (a cycle); eng holds admin on destination g1; Cy is g1's reader directly.
    fn account() -> Snapshot {
        let resources = ["user:ann", "user:bob", "user:cy", "team:eng", "team:ops", "group:g1"]
            .map(|r| ResourceRecord {
                resource_type: at(r).resource_type,
                id: at(r).id,
                display_name: r.to_uppercase(),
                traits: if r == "user:ann" { serde_json::json!({"email": "ann@example.com"}) } else { serde_json::json!({}) },
            })
            .to_vec();
        let entitlements = ["team:eng:member", "team:ops:member", "group:g1:admin", "group:g1:reader"]
            .map(|e| {
                let (resource, slug) = e.rsplit_once(':').unwrap();
                EntitlementRecord {
                    id: e.into(),
                    resource: at(resource),
                    slug: slug.into(),
                    display_name: e.into(),
                    grantable_to: vec!["user".into(), "team".into()],
                    purpose: None,
                }
            })
            .to_vec();
        Snapshot {
            format: crate::snapshot::FORMAT.into(),
            connector: ConnectorInfo { name: "hand".into(), version: "0".into() },
            tenant: "t".into(),
            started_at: String::new(),
            finished_at: String::new(),
            resource_types: vec![ResourceTypeRecord {
                profile: Some(ProfileKeys { email: Some("email".into()), ..ProfileKeys::default() }),
                ..ResourceTypeRecord::new("user", "User")
            }],
            resources,
            entitlements,
            grants: vec![
                grant("team:eng:member", "user:ann", &[]),
                grant("team:ops:member", "user:bob", &[]),
                grant("team:eng:member", "team:ops", &["team:ops:member"]),
                grant("team:ops:member", "team:eng", &["team:eng:member"]),
                grant("group:g1:admin", "team:eng", &["team:eng:member"]),
                grant("group:g1:reader", "user:cy", &[]),
            ],
            stats: Stats::default(),
        }
    }

    fn paths(reach: &[Reach]) -> Vec<(&str, Vec<&str>)> {
        reach.iter().map(|r| (r.entitlement.as_str(), r.via.iter().map(String::as_str).collect())).collect()
    }

    #[test]
    fn a_principal_reaches_what_its_teams_hold_by_the_shortest_path_through_a_cycle() {
        let snapshot = account();
        let index = AccessIndex::new(&snapshot);
        let ann = index.reach("user:ann");
        assert_eq!(
            paths(&ann),
            vec![("group:g1:admin", vec!["team:eng:member"]), ("team:eng:member", vec![]), ("team:ops:member", vec!["team:eng:member"]),]
        );
        assert_eq!(ann[0].resource, "group:g1");
        assert_eq!(ann[0].grants, ["team:eng:member:user:ann", "group:g1:admin:team:eng"]);
        assert_eq!(
            paths(&index.reach("user:bob")),
            vec![
                ("group:g1:admin", vec!["team:ops:member", "team:eng:member"]),
                ("team:eng:member", vec!["team:ops:member"]),
                ("team:ops:member", vec![]),
            ]
        );
        assert_eq!(paths(&index.reach("user:cy")), vec![("group:g1:reader", vec![])]);
        assert!(index.reach("user:nobody").is_empty());
    }

    #[test]
    fn a_resources_holders_are_every_principal_reaching_it_each_with_its_path() {
        let snapshot = account();
        let index = AccessIndex::new(&snapshot);
        let holders: Vec<(String, String, Vec<String>)> =
            index.holders_of_resource("group:g1").into_iter().map(|h| (h.principal, h.entitlement, h.via)).collect();
        let expected = [
            ("team:eng", "group:g1:admin", vec![]),
            ("team:ops", "group:g1:admin", vec!["team:eng:member"]),
            ("user:ann", "group:g1:admin", vec!["team:eng:member"]),
            ("user:bob", "group:g1:admin", vec!["team:ops:member", "team:eng:member"]),
            ("user:cy", "group:g1:reader", vec![]),
        ]
        .map(|(p, e, via)| (p.to_owned(), e.to_owned(), via.into_iter().map(str::to_owned).collect::<Vec<_>>()));
        assert_eq!(holders, expected);
        let bob = index.holders("group:g1:admin").into_iter().find(|h| h.principal == "user:bob").unwrap();
        assert_eq!(bob.grants, ["team:ops:member:user:bob", "team:eng:member:team:ops", "group:g1:admin:team:eng"]);
    }

    #[test]
    fn principals_and_resources_are_named_by_type_and_id_or_email() {
        let snapshot = account();
        let index = AccessIndex::new(&snapshot);
        assert_eq!(index.principal("user:ann").unwrap(), "user:ann");
        assert_eq!(index.principal("ANN@example.com").unwrap(), "user:ann");
        assert!(index.principal("user:zed").unwrap_err().message().contains("no principal \"user:zed\""));
        assert!(index.principal("zed@example.com").is_err());
        assert!(index.resource("group:g2").unwrap_err().message().contains("no resource \"group:g2\""));
    }
}
