//! What changed between two snapshots: resources added and removed, traits changed, grants
//! added and removed. Read by people (grouped by principal) and by programs (JSON).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::snapshot::{EntitlementRecord, GrantRecord, Identity, ResourceKey, ResourceRecord, ResourceTypeRecord, Snapshot};

/// A trait whose value changed.
#[derive(Debug, Clone, PartialEq)]
pub struct TraitChange {
    pub name: String,
    pub old: Value,
    pub new: Value,
}

/// A resource in both snapshots whose display name or traits differ.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceChange {
    pub resource: ResourceRecord,
    pub old_display_name: Option<String>,
    pub traits: Vec<TraitChange>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotDiff {
    pub resources_added: Vec<ResourceRecord>,
    pub resources_removed: Vec<ResourceRecord>,
    pub resources_changed: Vec<ResourceChange>,
    pub grants_added: Vec<GrantRecord>,
    pub grants_removed: Vec<GrantRecord>,
    /// Entitlements of both snapshots, to describe grants in words.
    entitlements: BTreeMap<String, EntitlementRecord>,
    /// Resources of both snapshots (the new record when in both), to name principals.
    resources: BTreeMap<ResourceKey, ResourceRecord>,
    /// What the connector declared of each type, to name things as people know them.
    types: BTreeMap<String, ResourceTypeRecord>,
}

impl SnapshotDiff {
    pub fn between(old: &Snapshot, new: &Snapshot) -> Self {
        let old_resources: BTreeMap<ResourceKey, &ResourceRecord> = old.resources.iter().map(|r| (r.key(), r)).collect();
        let new_resources: BTreeMap<ResourceKey, &ResourceRecord> = new.resources.iter().map(|r| (r.key(), r)).collect();
        let mut diff = SnapshotDiff::default();
        for (key, resource) in &new_resources {
            match old_resources.get(key) {
                None => diff.resources_added.push((*resource).clone()),
                Some(before) => {
                    if let Some(change) = compare(before, resource) {
                        diff.resources_changed.push(change);
                    }
                }
            }
        }
        diff.resources_removed = old_resources.iter().filter(|(k, _)| !new_resources.contains_key(*k)).map(|(_, r)| (*r).clone()).collect();
        let old_grants: BTreeSet<&str> = old.grants.iter().map(|g| g.id.as_str()).collect();
        let new_grants: BTreeSet<&str> = new.grants.iter().map(|g| g.id.as_str()).collect();
        diff.grants_added = new.grants.iter().filter(|g| !old_grants.contains(g.id.as_str())).cloned().collect();
        diff.grants_removed = old.grants.iter().filter(|g| !new_grants.contains(g.id.as_str())).cloned().collect();
        for entitlement in old.entitlements.iter().chain(&new.entitlements) {
            diff.entitlements.insert(entitlement.id.clone(), entitlement.clone());
        }
        for resource in old.resources.iter().chain(&new.resources) {
            diff.resources.insert(resource.key(), resource.clone());
        }
        for declared in old.resource_types.iter().chain(&new.resource_types) {
            diff.types.insert(declared.id.clone(), declared.clone());
        }
        diff
    }

    fn identity(&self, resource_type: &str) -> Option<Identity> {
        self.types.get(resource_type).and_then(|t| t.identity)
    }

    /// A resource's most recognisable name: a user's email (the trait its connector declared
    /// holds it), else its display name.
    fn label(&self, resource: &ResourceRecord) -> String {
        let email = self.types.get(&resource.resource_type).and_then(|t| t.profile.as_ref()).and_then(|p| p.email.as_deref());
        email.and_then(|key| resource.traits.get(key)).and_then(Value::as_str).unwrap_or(&resource.display_name).to_owned()
    }

    pub fn is_empty(&self) -> bool {
        self.resources_added.is_empty()
            && self.resources_removed.is_empty()
            && self.resources_changed.is_empty()
            && self.grants_added.is_empty()
            && self.grants_removed.is_empty()
    }

    /// `{"resources": {"added", "removed", "changed"}, "grants": {"added": [IDS], "removed": [IDS]}}`.
    pub fn to_json(&self) -> Value {
        let brief = |r: &ResourceRecord| json!({"type": r.resource_type, "id": r.id, "display_name": r.display_name});
        let changed: Vec<Value> = self
            .resources_changed
            .iter()
            .map(|c| {
                let traits: serde_json::Map<String, Value> =
                    c.traits.iter().map(|t| (t.name.clone(), json!({"old": t.old, "new": t.new}))).collect();
                let mut value = brief(&c.resource);
                value["traits"] = Value::Object(traits);
                if let Some(old) = &c.old_display_name {
                    value["old_display_name"] = json!(old);
                }
                value
            })
            .collect();
        json!({
            "resources": {
                "added": self.resources_added.iter().map(brief).collect::<Vec<_>>(),
                "removed": self.resources_removed.iter().map(brief).collect::<Vec<_>>(),
                "changed": changed,
            },
            "grants": {
                "added": self.grants_added.iter().map(|g| &g.id).collect::<Vec<_>>(),
                "removed": self.grants_removed.iter().map(|g| &g.id).collect::<Vec<_>>(),
            },
        })
    }

    /// The human form: resources, then grant changes grouped by principal.
    pub fn to_text(&self) -> String {
        if self.is_empty() {
            return "no changes\n".to_owned();
        }
        let mut lines = Vec::new();
        for r in &self.resources_added {
            lines.push(format!("+ {} {} ({})", r.resource_type, self.label(r), r.id));
        }
        for r in &self.resources_removed {
            lines.push(format!("- {} {} ({})", r.resource_type, self.label(r), r.id));
        }
        for c in &self.resources_changed {
            let mut parts: Vec<String> = Vec::new();
            if let Some(old) = &c.old_display_name {
                parts.push(format!("name {old} → {}", c.resource.display_name));
            }
            parts.extend(c.traits.iter().map(|t| format!("{} {} → {}", t.name, show(&t.old), show(&t.new))));
            lines.push(format!("~ {} {}: {}", c.resource.resource_type, self.label(&c.resource), parts.join(", ")));
        }
        let mut by_principal: BTreeMap<ResourceKey, Vec<String>> = BTreeMap::new();
        for (sign, grants) in [("+", &self.grants_added), ("-", &self.grants_removed)] {
            for grant in grants {
                by_principal.entry(grant.principal.clone()).or_default().push(format!("{sign} {}", self.describe(&grant.entitlement)));
            }
        }
        if !by_principal.is_empty() && !lines.is_empty() {
            lines.push(String::new());
        }
        for (principal, changes) in by_principal {
            let name = match self.resources.get(&principal) {
                // People by their name alone; anything else with its type.
                Some(resource) if self.identity(&principal.resource_type) == Some(Identity::User) => self.label(resource),
                Some(resource) => format!("{} {}", principal.resource_type, self.label(resource)),
                None => format!("{} {}", principal.resource_type, principal.id),
            };
            lines.push(format!("{name}: {}", changes.join(", ")));
        }
        // Names, emails and ids are the API's text: one may hold a newline that would forge a
        // line of this review, or an escape sequence that would hide one.
        let lines: Vec<_> = lines.iter().map(|line| crate::text::escape_controls(line)).collect();
        lines.join("\n") + "\n"
    }

    /// "team Finance (manager)", "role Account Analyst", "group warehouse (Manage Destination)".
    fn describe(&self, entitlement_id: &str) -> String {
        let Some(entitlement) = self.entitlements.get(entitlement_id) else { return entitlement_id.to_owned() };
        let resource = self.resources.get(&entitlement.resource);
        let name = resource.map_or(entitlement.resource.id.as_str(), |r| r.display_name.as_str());
        // A role is held, not held as something: its slug says nothing more.
        if self.identity(&entitlement.resource.resource_type) == Some(Identity::Role) {
            format!("{} {name}", entitlement.resource.resource_type)
        } else {
            format!("{} {name} ({})", entitlement.resource.resource_type, entitlement.slug)
        }
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn compare(old: &ResourceRecord, new: &ResourceRecord) -> Option<ResourceChange> {
    let empty = serde_json::Map::new();
    let old_traits = old.traits.as_object().unwrap_or(&empty);
    let new_traits = new.traits.as_object().unwrap_or(&empty);
    let names: BTreeSet<&String> = old_traits.keys().chain(new_traits.keys()).collect();
    let traits: Vec<TraitChange> = names
        .into_iter()
        .filter_map(|name| {
            let (before, after) = (old_traits.get(name).unwrap_or(&Value::Null), new_traits.get(name).unwrap_or(&Value::Null));
            (before != after).then(|| TraitChange { name: name.clone(), old: before.clone(), new: after.clone() })
        })
        .collect();
    let old_display_name = (old.display_name != new.display_name).then(|| old.display_name.clone());
    (!traits.is_empty() || old_display_name.is_some()).then(|| ResourceChange { resource: new.clone(), old_display_name, traits })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ConnectorInfo, FORMAT, Stats};

    fn user(id: &str, email: &str, role: &str, status: &str) -> ResourceRecord {
        ResourceRecord {
            resource_type: "user".into(),
            id: id.into(),
            display_name: email.into(),
            traits: json!({"email": email, "account_role": role, "status": status}),
        }
    }

    fn resource(kind: &str, id: &str, name: &str) -> ResourceRecord {
        ResourceRecord { resource_type: kind.into(), id: id.into(), display_name: name.into(), traits: json!({}) }
    }

    fn entitlement(kind: &str, id: &str, slug: &str) -> EntitlementRecord {
        EntitlementRecord {
            id: format!("{kind}:{id}:{slug}"),
            resource: ResourceKey { resource_type: kind.into(), id: id.into() },
            slug: slug.into(),
            display_name: String::new(),
            grantable_to: vec!["user".into()],
            purpose: None,
        }
    }

    fn grant(entitlement: &str, user: &str) -> GrantRecord {
        GrantRecord {
            id: format!("{entitlement}:user:{user}"),
            entitlement: entitlement.into(),
            principal: ResourceKey { resource_type: "user".into(), id: user.into() },
            expandable: vec![],
        }
    }

    /// The types as a connector declares them.
    fn declared() -> Vec<ResourceTypeRecord> {
        let mut user = ResourceTypeRecord::new("user", "User");
        user.identity = Some(Identity::User);
        user.profile = Some(crate::snapshot::ProfileKeys { email: Some("email".into()), ..Default::default() });
        let mut role = ResourceTypeRecord::new("role", "Role");
        role.identity = Some(Identity::Role);
        let mut team = ResourceTypeRecord::new("team", "Team");
        team.identity = Some(Identity::Group);
        vec![role, team, user]
    }

    fn snapshot(resources: Vec<ResourceRecord>, grants: Vec<GrantRecord>) -> Snapshot {
        Snapshot {
            format: FORMAT.into(),
            connector: ConnectorInfo { name: "x".into(), version: "1".into() },
            tenant: "t".into(),
            started_at: String::new(),
            finished_at: String::new(),
            resource_types: declared(),
            resources,
            entitlements: vec![entitlement("team", "T1", "manager"), entitlement("role", "Account Analyst", "assigned")],
            grants,
            stats: Stats::default(),
        }
    }

    fn pair() -> (Snapshot, Snapshot) {
        let base = || vec![resource("team", "T1", "Finance"), resource("role", "Account Analyst", "Account Analyst")];
        let mut old_resources = base();
        old_resources.push(user("U1", "ann@x.com", "Account Analyst", "enabled"));
        old_resources.push(user("U2", "old@x.com", "Account Analyst", "enabled"));
        let mut new_resources = base();
        new_resources.push(user("U1", "ann@x.com", "Account Reviewer", "disabled"));
        new_resources.push(user("U3", "new@x.com", "Account Analyst", "enabled"));
        let old = snapshot(old_resources, vec![grant("role:Account Analyst:assigned", "U1")]);
        let new = snapshot(new_resources, vec![grant("team:T1:manager", "U1")]);
        (old, new)
    }

    #[test]
    fn finds_added_removed_and_changed() {
        let (old, new) = pair();
        let diff = SnapshotDiff::between(&old, &new);
        assert_eq!(diff.resources_added.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["U3"]);
        assert_eq!(diff.resources_removed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["U2"]);
        assert_eq!(diff.resources_changed.len(), 1);
        let names: Vec<_> = diff.resources_changed[0].traits.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["account_role", "status"]);
        assert_eq!(diff.grants_added[0].id, "team:T1:manager:user:U1");
        assert_eq!(diff.grants_removed[0].id, "role:Account Analyst:assigned:user:U1");
    }

    #[test]
    fn the_human_form_groups_by_principal() {
        let (old, new) = pair();
        let text = SnapshotDiff::between(&old, &new).to_text();
        assert!(text.contains("+ user new@x.com (U3)"), "{text}");
        assert!(text.contains("- user old@x.com (U2)"), "{text}");
        assert!(text.contains("~ user ann@x.com: account_role Account Analyst → Account Reviewer, status enabled → disabled"), "{text}");
        assert!(text.contains("ann@x.com: + team Finance (manager), - role Account Analyst"), "{text}");
    }

    #[test]
    fn the_json_form_follows_the_contract() {
        let (old, new) = pair();
        let json = SnapshotDiff::between(&old, &new).to_json();
        assert_eq!(json["grants"]["added"], json!(["team:T1:manager:user:U1"]));
        assert_eq!(json["grants"]["removed"], json!(["role:Account Analyst:assigned:user:U1"]));
        assert_eq!(json["resources"]["added"][0]["id"], "U3");
        assert_eq!(json["resources"]["changed"][0]["traits"]["status"], json!({"old": "enabled", "new": "disabled"}));
    }

    #[test]
    fn identical_snapshots_have_no_changes() {
        let (old, _) = pair();
        let diff = SnapshotDiff::between(&old, &old);
        assert!(diff.is_empty());
        assert_eq!(diff.to_text(), "no changes\n");
    }
}
