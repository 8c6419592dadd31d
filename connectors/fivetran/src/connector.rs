//! The connector's operations, one API request per call, over any [`Transport`].

use connector_sdk::Syncer;
use serde::de::DeserializeOwned;

use crate::api;
use crate::lenient::Notes;
use crate::mapping;
use crate::model::{
    AccountInfo, Config, ConnectorError, Entitlement, GROUP, Identity, Page, ROLE, Resource, ResourceType, Result, TEAM, USER, UserProfile,
};
use crate::paging::{self, CursorWalk};
use crate::transport::{ApiRequest, ApiResponse, Transport, encode};

pub const NAME: &str = "fivetran";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The largest page the API serves.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Where Fivetran's REST API is.
pub const DEFAULT_BASE_URL: &str = "https://api.fivetran.com";

/// The resource types, in the order the host should list them: roles first, since a group's
/// entitlements are its destination-scoped roles.
pub const RESOURCE_TYPES: &[ResourceType] = &[
    ResourceType { id: ROLE, display_name: "Role", entitlements_need: &[], identity: Identity::Role },
    ResourceType { id: USER, display_name: "User", entitlements_need: &[], identity: Identity::User(USER_PROFILE) },
    ResourceType { id: TEAM, display_name: "Team", entitlements_need: &[], identity: Identity::Group },
    // A destination (a Fivetran group): access to it is a permission, its entitlements say.
    ResourceType { id: GROUP, display_name: "Group", entitlements_need: &[ROLE], identity: Identity::Group },
];

/// Where a user's traits (CONTRACT section 1) hold its profile.
const USER_PROFILE: UserProfile = UserProfile {
    email: Some("email"),
    login: Some("login"),
    status: Some("status"),
    given_name: Some("given_name"),
    family_name: Some("family_name"),
    last_login: Some("last_login"),
    created_at: Some("created_at"),
};

const ACCOUNT_INFO: &str = "GET /v1/account/info";

/// Page tokens of a team's grants: its users first, then its groups.
const TEAM_USERS: &str = "users:";
const TEAM_GROUPS: &str = "groups:";

pub struct Connector<'a, T: Transport> {
    transport: &'a T,
    config: Config,
}

impl<'a, T: Transport> Connector<'a, T> {
    pub fn new(transport: &'a T, mut config: Config) -> Self {
        config.page_size = config.page_size.clamp(1, MAX_PAGE_SIZE);
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        Self { transport, config }
    }

    pub(crate) fn account_info(&self) -> Result<AccountInfo> {
        let (endpoint, response) = self.send("GET", "/v1/account/info".into(), None)?;
        let info: api::AccountInfo = api::decode_data(&endpoint, &response)?;
        self.read(ACCOUNT_INFO, &endpoint, |notes| mapping::account_info(&info, notes))
    }

    /// A team's grants take two listings, walked one page per call: members, then destinations.
    fn list_team_grants(&self, team_id: &str, token: Option<&str>) -> Result<Page> {
        let id = encode(team_id);
        let token = token.unwrap_or(TEAM_USERS);
        if let Some(cursor) = token.strip_prefix(TEAM_USERS) {
            let path = format!("/v1/teams/{id}/users");
            let mut page =
                self.list_page(&path, "GET /v1/teams/{id}/users", non_empty(cursor), |items: Vec<api::TeamMembership>, notes| {
                    Ok(Page { grants: mapping::team_user_grants(team_id, &items, notes)?, ..Page::default() })
                })?;
            page.next_page_token = Some(match page.next_page_token {
                Some(next) => format!("{TEAM_USERS}{next}"),
                None => TEAM_GROUPS.to_owned(),
            });
            Ok(page)
        } else if let Some(cursor) = token.strip_prefix(TEAM_GROUPS) {
            let path = format!("/v1/teams/{id}/groups");
            let mut page =
                self.list_page(&path, "GET /v1/teams/{id}/groups", non_empty(cursor), |items: Vec<api::Membership>, notes| {
                    mapping::team_group_page(team_id, &items, notes)
                })?;
            page.next_page_token = page.next_page_token.map(|next| format!("{TEAM_GROUPS}{next}"));
            Ok(page)
        } else {
            Err(ConnectorError::InvalidArgument(format!(
                "page token {token:?} is not one this connector issued for team {team_id}; restart the listing without a token"
            )))
        }
    }

    /// One page of a list endpoint, mapped; the API's cursor becomes the page token.
    fn list_page<I: DeserializeOwned>(
        &self,
        path: &str,
        template: &'static str,
        token: Option<&str>,
        map: impl FnOnce(Vec<I>, &mut Notes) -> Result<Page>,
    ) -> Result<Page> {
        let (endpoint, response, streak) = self.get_page(path, token)?;
        let (items, next) = api::decode_list::<I>(&endpoint, &response)?;
        let next_page_token = paging::next_token(&endpoint, streak, items.len(), next)?;
        let mut page = self.read(template, &endpoint, |notes| map(items, notes))?;
        page.next_page_token = next_page_token;
        Ok(page)
    }

    /// Reads an answer of `endpoint` with `read`, then says what the parsing policy noted.
    pub(crate) fn read<V>(&self, template: &'static str, endpoint: &str, read: impl FnOnce(&mut Notes) -> Result<V>) -> Result<V> {
        let mut notes = Notes::new(template, endpoint);
        let result = read(&mut notes);
        for warning in notes.warnings() {
            self.transport.warn(&warning);
        }
        result
    }

    /// Sends the request of the page a page token names (none: the first); answers with the
    /// endpoint, the answer and the empty pages in a row that led to it.
    fn get_page(&self, path: &str, token: Option<&str>) -> Result<(String, ApiResponse, u32)> {
        let (streak, cursor) = match token {
            Some(token) => paging::decode_token(token)?,
            None => (0, ""),
        };
        let (endpoint, response) = self.request_page(path, non_empty(cursor))?;
        Ok((endpoint, response, streak))
    }

    /// Sends one page's request of a list endpoint, with the API's own cursor.
    fn request_page(&self, path: &str, cursor: Option<&str>) -> Result<(String, ApiResponse)> {
        let mut path_and_query = format!("{path}?limit={}", self.config.page_size);
        if let Some(cursor) = cursor {
            path_and_query.push_str("&cursor=");
            path_and_query.push_str(&encode(cursor));
        }
        self.send("GET", path_and_query, None)
    }

    pub(crate) fn get_data<D: DeserializeOwned>(&self, path: &str) -> Result<D> {
        let (endpoint, response) = self.send("GET", path.to_owned(), None)?;
        api::decode_data(&endpoint, &response)
    }

    /// Sends one request; answers with the endpoint's name (for errors) and the response.
    pub(crate) fn send(&self, method: &'static str, path: String, body: Option<serde_json::Value>) -> Result<(String, ApiResponse)> {
        let request = ApiRequest::json(method, path, body.map(|b| b.to_string().into_bytes()));
        let endpoint = api::endpoint(&request);
        let response = self.transport.send(&self.config.base_url, &request).map_err(|e| e.at(&endpoint))?;
        Ok((endpoint, response))
    }

    /// Every item of a list endpoint, page after page.
    pub(crate) fn list_all<I: DeserializeOwned>(&self, path: &str) -> Result<Vec<I>> {
        let mut items = Vec::new();
        self.walk_pages::<()>(path, |endpoint, response| {
            let (page, next) = api::decode_list::<I>(endpoint, response)?;
            let count = page.len();
            items.extend(page);
            Ok(Step { found: None, next, items: count })
        })?;
        Ok(items)
    }

    /// Walks a list endpoint page by page, each answer to `visit`, until it finds what it looks
    /// for or the pages end; bounded by what the server sends ([`CursorWalk`]).
    pub(crate) fn walk_pages<Found>(
        &self,
        path: &str,
        mut visit: impl FnMut(&str, &ApiResponse) -> Result<Step<Found>>,
    ) -> Result<Option<Found>> {
        let mut cursor: Option<String> = None;
        let mut walk = CursorWalk::default();
        loop {
            let (endpoint, response) = self.request_page(path, cursor.as_deref())?;
            let step = visit(&endpoint, &response)?;
            if step.found.is_some() {
                return Ok(step.found);
            }
            match walk.next(&endpoint, step.next, step.items)? {
                Some(next) => cursor = Some(next),
                None => return Ok(None),
            }
        }
    }
}

impl<T: Transport> Syncer for Connector<'_, T> {
    /// `GET /v1/account/info`: the account, and whose key this is.
    fn validate(&self) -> Result<AccountInfo> {
        self.account_info()
    }

    fn list_resources(&self, resource_type: &str, token: Option<&str>) -> Result<Page> {
        match resource_type {
            USER => {
                let (endpoint, response, streak) = self.get_page("/v1/users", token)?;
                let (users, next) = api::decode_list::<api::User>(&endpoint, &response)?;
                let next_page_token = paging::next_token(&endpoint, streak, users.len(), next)?;
                let page = self.read("GET /v1/users", &endpoint, |notes| mapping::users_page(&users, notes))?;
                Ok(Page { next_page_token, ..page })
            }
            ROLE => self.list_page("/v1/roles", "GET /v1/roles", token, |items: Vec<api::Role>, notes| mapping::roles_page(&items, notes)),
            TEAM => self.list_page("/v1/teams", "GET /v1/teams", token, |items: Vec<api::Team>, notes| mapping::teams_page(&items, notes)),
            GROUP => {
                self.list_page("/v1/groups", "GET /v1/groups", token, |items: Vec<api::Group>, notes| mapping::groups_page(&items, notes))
            }
            other => Err(unknown_type(other)),
        }
    }

    fn list_entitlements(&self, resource: &Resource, related: &[Resource]) -> Result<Vec<Entitlement>> {
        known_type(&resource.resource_type)?;
        Ok(mapping::entitlements(resource, related))
    }

    fn list_grants(&self, resource: &Resource, token: Option<&str>) -> Result<Page> {
        // A team's or group's id goes into a path: only an id of the one grammar does.
        if matches!(resource.resource_type.as_str(), TEAM | GROUP)
            && let Err(why) = crate::ids::check_api_id(&resource.id)
        {
            return Err(ConnectorError::InvalidArgument(format!("{} id {why}; it is not a Fivetran id", resource.resource_type)));
        }
        let id = encode(&resource.id);
        match resource.resource_type.as_str() {
            TEAM => self.list_team_grants(&resource.id, token),
            GROUP => {
                let (endpoint, response, streak) = self.get_page(&format!("/v1/groups/{id}/users"), token)?;
                let (members, next) = api::decode_list::<api::GroupMember>(&endpoint, &response)?;
                // Most of a group's users reach it through their account role and hold nothing on
                // it: a page of them maps to no grant, and is not empty.
                let next_page_token = paging::next_token(&endpoint, streak, members.len(), next)?;
                let page =
                    self.read("GET /v1/groups/{id}/users", &endpoint, |notes| mapping::group_user_page(&resource.id, &members, notes))?;
                Ok(Page { next_page_token, ..page })
            }
            // A user's and a role's grants come with the user and team listings.
            USER | ROLE => Ok(Page::default()),
            other => Err(unknown_type(other)),
        }
    }
}

/// What [`Connector::walk_pages`] learns from one page.
pub(crate) struct Step<Found> {
    /// What the walk looks for, if this page has it.
    pub found: Option<Found>,
    /// The next page's cursor; none when the pages end.
    pub next: Option<String>,
    /// Items on the page.
    pub items: usize,
}

fn non_empty(cursor: &str) -> Option<&str> {
    (!cursor.is_empty()).then_some(cursor)
}

fn known_type(resource_type: &str) -> Result<()> {
    match RESOURCE_TYPES.iter().any(|t| t.id == resource_type) {
        true => Ok(()),
        false => Err(unknown_type(resource_type)),
    }
}

fn unknown_type(resource_type: &str) -> ConnectorError {
    let known: Vec<_> = RESOURCE_TYPES.iter().map(|t| t.id).collect();
    ConnectorError::InvalidArgument(format!("unknown resource type {resource_type:?}; this connector reports {}", known.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::Canned;

    fn config() -> Config {
        Config { base_url: "https://api.example/".into(), page_size: 5000 }
    }

    fn team() -> Resource {
        Resource { resource_type: TEAM.into(), id: "t~1".into(), display_name: "T".into(), traits: "{}".into(), aliases: Vec::new() }
    }

    #[test]
    fn pages_ask_for_the_maximum_and_pass_the_cursor_encoded() {
        let canned = Canned::new(&[(200, r#"{"data":{"items":[],"next_cursor":"a b&c"}}"#), (200, r#"{"data":{"items":[]}}"#)]);
        let connector = Connector::new(&canned, config());
        let first = connector.list_resources("user", None).unwrap();
        assert_eq!(first.next_page_token.as_deref(), Some("1:a b&c"), "the cursor, after one empty page");
        let second = connector.list_resources("user", first.next_page_token.as_deref()).unwrap();
        assert_eq!(second.next_page_token, None);
        assert_eq!(
            *canned.seen.borrow(),
            ["GET https://api.example/v1/users?limit=1000", "GET https://api.example/v1/users?limit=1000&cursor=a%20b%26c"]
        );
    }

    #[test]
    fn team_grants_walk_users_then_groups_one_request_per_call() {
        let canned = Canned::new(&[
            (200, r#"{"data":{"items":[{"user_id":"u1","role":"Team Member"}],"next_cursor":"n1"}}"#),
            (200, r#"{"data":{"items":[{"user_id":"u2","role":"Team Manager"}]}}"#),
            (200, r#"{"data":{"items":[{"id":"g1","role":"Manage Destination"},{"id":"g2","role":null}]}}"#),
        ]);
        let connector = Connector::new(&canned, config());
        let team = team();
        let mut token = None;
        let mut grants = Vec::new();
        loop {
            let page = connector.list_grants(&team, token.as_deref()).unwrap();
            grants.extend(page.grants.into_iter().map(|g| g.id));
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(grants, ["team:t~1:member:user:u1", "team:t~1:manager:user:u2", "group:g1:Manage Destination:team:t~1"]);
        let seen = canned.seen.borrow();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], "GET https://api.example/v1/teams/t~1/users?limit=1000");
        assert_eq!(seen[1], "GET https://api.example/v1/teams/t~1/users?limit=1000&cursor=n1");
        assert_eq!(seen[2], "GET https://api.example/v1/teams/t~1/groups?limit=1000");
    }

    #[test]
    fn foreign_page_tokens_and_types_are_invalid_arguments() {
        let canned = Canned::new(&[]);
        let connector = Connector::new(&canned, config());
        assert!(matches!(connector.list_grants(&team(), Some("bogus")), Err(ConnectorError::InvalidArgument(_))));
        assert!(matches!(connector.list_resources("connector", None), Err(ConnectorError::InvalidArgument(_))));
        assert!(canned.seen.borrow().is_empty());
    }

    #[test]
    fn a_resource_whose_id_is_not_a_fivetran_id_is_never_put_in_a_path() {
        let canned = Canned::new(&[]);
        let connector = Connector::new(&canned, config());
        for id in ["..", ".", "a/b", ""] {
            let group =
                Resource { resource_type: GROUP.into(), id: id.into(), display_name: "G".into(), traits: "{}".into(), aliases: Vec::new() };
            assert!(matches!(connector.list_grants(&group, None), Err(ConnectorError::InvalidArgument(_))), "{id:?}");
        }
        assert!(canned.seen.borrow().is_empty());
    }

    fn walk(canned: &Canned) -> Result<Vec<api::Group>> {
        Connector::new(canned, config()).list_all::<api::Group>("/v1/groups")
    }

    #[test]
    fn a_cursor_cycle_of_any_length_stops_the_walk() {
        let a = r#"{"data":{"items":[{"id":"g1"}],"next_cursor":"A"}}"#;
        let b = r#"{"data":{"items":[{"id":"g2"}],"next_cursor":"B"}}"#;
        for answers in [vec![(200, a), (200, a)], vec![(200, a), (200, b), (200, a)], vec![(200, a), (200, b), (200, b)]] {
            let canned = Canned::new(&answers);
            match walk(&canned) {
                Err(ConnectorError::Upstream { status: Some(200), message, .. }) => {
                    assert!(message.contains("sent a next cursor it had sent before"), "{message}")
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(canned.seen.borrow().len(), answers.len(), "no request after the repeat");
        }
    }

    #[test]
    fn empty_pages_with_a_cursor_are_followed_a_bounded_number_of_times() {
        let empties: Vec<String> = (0..20).map(|i| format!(r#"{{"data":{{"items":[],"next_cursor":"c{i}"}}}}"#)).collect();
        let answers: Vec<(u16, &'static str)> = empties.iter().map(|e| (200, &*e.clone().leak())).collect();
        let canned = Canned::new(&answers);
        let error = walk(&canned).unwrap_err();
        assert!(matches!(&error, ConnectorError::Upstream { message, .. } if message.contains("10 empty pages in a row")), "{error:?}");
        assert_eq!(canned.seen.borrow().len(), crate::paging::MAX_EMPTY_PAGES);
        let some_empty = Canned::new(&[
            (200, r#"{"data":{"items":[],"next_cursor":"x"}}"#),
            (200, r#"{"data":{"items":null,"next_cursor":"y"}}"#),
            (200, r#"{"data":{"items":[{"id":"g1"}],"next_cursor":7}}"#),
            (200, r#"{"data":{"items":[{"id":"g2"}],"next_cursor":null}}"#),
        ]);
        assert_eq!(walk(&some_empty).unwrap().len(), 2);
        assert!(some_empty.seen.borrow()[3].ends_with("cursor=7"), "a number cursor is sent as its text");
    }

    #[test]
    fn a_page_with_more_items_than_asked_for_is_read_whole() {
        let canned = Canned::new(&[(200, r#"{"data":{"items":[{"id":"g1"},{"id":"g2"},{"id":"g3"}]}}"#)]);
        let connector = Connector::new(&canned, Config { base_url: "https://api.example".into(), page_size: 1 });
        let page = connector.list_resources(GROUP, None).unwrap();
        assert_eq!(page.resources.len(), 3);
        assert!(canned.seen.borrow()[0].ends_with("?limit=1"));
    }

    #[test]
    fn transport_failure_is_an_upstream_error_without_status() {
        let canned = Canned::new(&[]);
        let connector = Connector::new(&canned, config());
        match connector.list_resources("group", None) {
            Err(ConnectorError::Upstream { status: None, message, .. }) => assert!(message.starts_with("GET /v1/groups")),
            other => panic!("unexpected {other:?}"),
        }
    }
}
