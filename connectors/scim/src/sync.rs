//! Reading a SCIM service: validation (discovery and one cheap read) and the listings, one page
//! per call.
//!
//! Paging is by `startIndex` and `count` (RFC 7644 section 3.4.2.4). Servers cap `count`
//! silently, so the next page starts after the items actually returned; the listing ends at
//! `totalResults` or an empty page. A server that ignores `startIndex` (the same first item
//! twice in a row) is stopped at once: the page token carries the page's first id.

use connector_sdk::Syncer;

use crate::attrs::Obj;
use crate::client::Client;
use crate::ids::{GROUP, ROLE, USER};
use crate::mapping;
use crate::model::{AccountInfo, ConnectorError, Entitlement, KeyKind, Page, Resource, Result};
use crate::transport::Transport;

/// The collection a resource type is listed from; roles have none (users reveal them).
fn collection(resource_type: &str) -> Result<Option<&'static str>> {
    match resource_type {
        USER => Ok(Some("Users")),
        GROUP => Ok(Some("Groups")),
        ROLE => Ok(None),
        other => {
            Err(ConnectorError::InvalidArgument(format!("resource type {other:?} is not one this connector reports (user, group, role)")))
        }
    }
}

/// Marks a page token whose listing goes without `count`.
const WITHOUT_COUNT: &str = ":without-count";

/// `(startIndex, the previous page's first id, without count)` from a page token. Ids hold no
/// `:`, so the parts split cleanly.
fn decode_token(token: Option<&str>) -> Result<(u64, Option<&str>, bool)> {
    let Some(token) = token else { return Ok((1, None, false)) };
    let (token, without_count) = token.strip_suffix(WITHOUT_COUNT).map_or((token, false), |t| (t, true));
    let (start, first) = token.split_once(':').map_or((token, None), |(s, f)| (s, Some(f)));
    match start.parse::<u64>() {
        Ok(start) if start >= 1 => Ok((start, first.filter(|f| !f.is_empty()), without_count)),
        _ => Err(ConnectorError::InvalidArgument(format!(
            "page token {token:?} is not one this connector issued; restart the listing without a token"
        ))),
    }
}

impl<T: Transport> Client<'_, T> {
    /// The groups of a listing with their members: a service that leaves `members` out of
    /// listings (as some do for large groups) is asked for each such group whole. A group whose
    /// `members` is there, even `null` or empty, is taken as it came.
    fn with_members(&self, endpoint: &str, mut groups: Vec<serde_json::Value>) -> Result<Vec<serde_json::Value>> {
        for (index, group) in groups.iter_mut().enumerate() {
            let listed = group.as_object().is_some_and(|g| g.keys().any(|k| k.eq_ignore_ascii_case("members")));
            if listed {
                continue;
            }
            let id = crate::client::id_of(endpoint, index, group)?;
            if let Some(whole) = self.get_optional(crate::client::resource_path("Groups", &id))? {
                // Gone since the listing: no members to report.
                *group = whole;
            }
        }
        Ok(groups)
    }
}

impl<T: Transport> Syncer for Client<'_, T> {
    fn validate(&self) -> Result<AccountInfo> {
        let discovery = self.discover()?;
        let schemas = self.describe_schemas()?;
        let (_, page) = self.list("Users", 1, None)?;
        let users = match page.total_results {
            Some(total) => format!("{total} users"),
            None => format!("{}+ users", page.resources.len()),
        };
        let service = if discovery.fivetran { "Fivetran SCIM API" } else { "SCIM 2.0 service" };
        Ok(AccountInfo {
            account_id: self.config.base_url.clone(),
            account_name: Some(format!("{service}: {}; {schemas}; {users}", discovery.summary())),
            key_kind: KeyKind::Unknown,
            key_owner: None,
        })
    }

    fn list_resources(&self, resource_type: &str, token: Option<&str>) -> Result<Page> {
        let Some(collection) = collection(resource_type)? else { return Ok(Page::default()) };
        let (start, previous_first, without_count) = decode_token(token)?;
        self.without_count.set(without_count);
        let (endpoint, answer) = self.list(collection, start, None)?;
        let first = answer.resources.first().and_then(Obj::of).and_then(|o| o.str("id"));
        if first.is_some() && first.as_deref() == previous_first {
            return Err(connector_sdk::lenient::malformed(format!(
                "{endpoint} answered startIndex={start} with the page before it again: the service ignores startIndex; the listing was stopped"
            )));
        }
        let mut warnings = Vec::new();
        let mut page = match resource_type {
            USER => mapping::users_page(&endpoint, self.base_url(), &answer.resources, &mut warnings)?,
            _ => {
                let groups = self.with_members(&endpoint, answer.resources.clone())?;
                mapping::groups_page(&endpoint, self.base_url(), &groups, &mut warnings)?
            }
        };
        for warning in dedup(warnings) {
            self.warn(&warning);
        }
        let next = start + answer.resources.len() as u64;
        let more = !answer.resources.is_empty() && answer.total_results.is_none_or(|total| next <= total);
        let marker = if self.without_count.get() { WITHOUT_COUNT } else { "" };
        page.next_page_token = more.then(|| format!("{next}:{}{marker}", first.unwrap_or_default()));
        Ok(page)
    }

    /// Groups offer membership, roles their assignment; sends no request.
    fn list_entitlements(&self, resource: &Resource, _related: &[Resource]) -> Result<Vec<Entitlement>> {
        Ok(match resource.resource_type.as_str() {
            GROUP => vec![mapping::member_entitlement(resource)],
            ROLE => vec![mapping::role_entitlement(&resource.id)],
            _ => Vec::new(),
        })
    }

    /// Every grant came with the listings (members with their group, roles with their user).
    fn list_grants(&self, _resource: &Resource, _token: Option<&str>) -> Result<Page> {
        Ok(Page::default())
    }
}

/// Each warning once, in the order first seen.
fn dedup(warnings: Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    for warning in warnings {
        if !seen.contains(&warning) {
            seen.push(warning);
        }
    }
    seen
}

/// The resources of a list answer, for tests.
#[cfg(test)]
fn ids_of(page: &Page, resource_type: &str) -> Vec<String> {
    page.resources.iter().filter(|r| r.resource_type == resource_type).map(|r| r.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use crate::testing::Canned;

    fn client(canned: &Canned) -> Client<'_, Canned> {
        Client::new(canned, Config { base_url: "https://scim.example/v2/".into(), page_size: 100 })
    }

    #[test]
    fn pages_advance_by_what_came_back_and_stop_at_total_results() {
        let canned = Canned::new(&[
            (200, r#"{"totalResults": 3, "Resources": [{"id": "a"}, {"id": "b"}]}"#),
            (200, r#"{"totalResults": "3", "resources": [{"id": "c"}]}"#),
        ]);
        let c = client(&canned);
        let first = c.list_resources(USER, None).unwrap();
        assert_eq!(ids_of(&first, USER), ["a", "b"]);
        assert_eq!(first.next_page_token.as_deref(), Some("3:a"));
        let second = c.list_resources(USER, first.next_page_token.as_deref()).unwrap();
        assert_eq!(ids_of(&second, USER), ["c"]);
        assert_eq!(second.next_page_token, None);
        let seen = canned.seen.borrow();
        assert_eq!(seen[0], "GET https://scim.example/v2/Users?startIndex=1&count=100");
        assert_eq!(seen[1], "GET https://scim.example/v2/Users?startIndex=3&count=100");
    }

    #[test]
    fn a_service_that_fails_on_count_is_read_without_it_page_after_page() {
        let canned = Canned::new(&[
            (500, "<html>Technical problem</html>"),
            (200, r#"{"totalResults": 3, "Resources": [{"id": "a"}, {"id": "b"}]}"#),
            (200, r#"{"totalResults": 3, "Resources": [{"id": "c"}]}"#),
        ]);
        let c = client(&canned);
        let first = c.list_resources(USER, None).unwrap();
        assert_eq!(first.next_page_token.as_deref(), Some("3:a:without-count"));
        let fresh = client(&canned);
        let second = fresh.list_resources(USER, first.next_page_token.as_deref()).unwrap();
        assert_eq!((ids_of(&second, USER), second.next_page_token), (vec!["c".to_owned()], None));
        let seen = canned.seen.borrow();
        assert_eq!(seen[1], "GET https://scim.example/v2/Users?startIndex=1");
        assert_eq!(seen[2], "GET https://scim.example/v2/Users?startIndex=3", "not asked with count again");
    }

    #[test]
    fn without_total_results_an_empty_page_ends_the_listing() {
        let canned = Canned::new(&[(200, r#"{"Resources": [{"id": "a", "members": []}]}"#), (200, r#"{"Resources": []}"#)]);
        let c = client(&canned);
        let first = c.list_resources(GROUP, None).unwrap();
        let second = c.list_resources(GROUP, first.next_page_token.as_deref()).unwrap();
        assert!(second.resources.is_empty() && second.next_page_token.is_none());
    }

    #[test]
    fn a_server_ignoring_start_index_is_stopped() {
        let page = r#"{"totalResults": 1000000, "Resources": [{"id": "a"}, {"id": "b"}]}"#;
        let canned = Canned::new(&[(200, page), (200, page)]);
        let c = client(&canned);
        let first = c.list_resources(USER, None).unwrap();
        let error = c.list_resources(USER, first.next_page_token.as_deref()).unwrap_err();
        assert!(matches!(&error, ConnectorError::Upstream { message, .. } if message.contains("startIndex")), "{error:?}");
    }

    #[test]
    fn a_group_listed_without_members_is_read_whole_and_one_with_null_members_is_not() {
        let canned = Canned::new(&[
            (200, r#"{"totalResults": 2, "Resources": [{"id": "g1", "displayName": "A"}, {"id": "g2", "members": null}]}"#),
            (200, r#"{"id": "g1", "displayName": "A", "members": [{"value": "u1"}]}"#),
        ]);
        let page = client(&canned).list_resources(GROUP, None).unwrap();
        let grants: Vec<&str> = page.grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(grants, ["group:g1:member:user:u1"]);
        let seen = canned.seen.borrow();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[1], "GET https://scim.example/v2/Groups/g1");
    }

    #[test]
    fn roles_are_not_listed_and_foreign_tokens_are_refused() {
        let nothing = Canned::new(&[]);
        assert_eq!(client(&nothing).list_resources(ROLE, None).unwrap(), Page::default());
        assert!(client(&nothing).list_resources(USER, Some("zero")).is_err());
        assert!(client(&nothing).list_resources(USER, Some("0:a")).is_err());
        assert!(client(&nothing).list_resources("team", None).is_err());
        assert!(nothing.seen.borrow().is_empty());
    }

    #[test]
    fn validate_says_what_the_service_supports() {
        let canned = Canned::new(&[
            (
                200,
                r#"{"patch": {"supported": false}, "filter": {"supported": true, "maxResults": 200}, "etag": {"supported": false}, "bulk": {"supported": false}}"#,
            ),
            (404, r#"{"status": "404"}"#),
            (200, r#"{"Resources": [{"name": "User"}, {"name": "Group"}]}"#),
            (404, r#"{"status": "404"}"#),
            (200, r#"{"totalResults": 12, "Resources": [{"id": "a"}]}"#),
        ]);
        let info = client(&canned).validate().unwrap();
        let name = info.account_name.unwrap();
        assert!(
            name.contains("PATCH no") && name.contains("up to 200") && name.contains("User, Group") && name.contains("12 users"),
            "{name}"
        );
        assert_eq!(canned.seen.borrow()[4], "GET https://scim.example/v2/Users?startIndex=1&count=100");
    }

    #[test]
    fn a_listing_the_server_cannot_answer_is_an_error_not_an_empty_page() {
        let canned = Canned::new(&[(200, r#"{"Resources": {"id": "a"}}"#)]);
        assert!(client(&canned).list_resources(USER, None).is_err());
    }
}
