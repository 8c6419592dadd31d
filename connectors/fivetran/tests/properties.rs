//! Property tests of what reads untrusted input: the answers' parsers and the mapping under the
//! parsing policy, and the id grammar that every id crosses. Each runs 256 cases in the test
//! suite; for a longer hunt, `PROPTEST_CASES=200000 cargo test --release -p connector-fivetran --test properties`.

use connector_fivetran::api::{self, Group, GroupMember, Membership, Role, Team, TeamMembership, User};
use connector_fivetran::ids::{check_api_id, grant_id, parse_entitlement, parse_grant};
use connector_fivetran::lenient::Notes;
use connector_fivetran::mapping;
use connector_fivetran::model::{ConnectorError, ResourceRef};
use connector_fivetran::transport::{ApiResponse, encode};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value, a few levels deep, with awkward strings.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        awkward_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(awkward_string(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn awkward_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_0-9]{0,12}",
        Just("..".to_owned()),
        Just(".".to_owned()),
        "[:/\\\\?#% .a-z\u{0}-\u{1f}\u{202e}é]{0,10}",
        any::<String>(),
    ]
}

/// An item with every field a type reads set to an arbitrary value (or left out), and extras.
fn item(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    (prop::collection::vec(prop::option::of(any_json()), fields.len()), prop::collection::btree_map("[a-z]{1,6}", any_json(), 0..3))
        .prop_map(move |(values, extra)| {
            let mut object: serde_json::Map<String, Value> = extra.into_iter().collect();
            for (field, value) in fields.iter().zip(values) {
                if let Some(value) = value {
                    object.insert((*field).to_owned(), value);
                }
            }
            Value::Object(object)
        })
}

fn answer(items: Vec<Value>, cursor: Value) -> ApiResponse {
    let body = json!({"code": "Success", "data": {"items": items, "next_cursor": cursor}});
    ApiResponse { status: 200, retry_after: None, body: body.to_string().into_bytes() }
}

/// Whether a mapped result is what the policy allows: a page, or an upstream error of status 200.
fn allowed<T>(result: &Result<T, ConnectorError>) -> bool {
    matches!(result, Ok(_) | Err(ConnectorError::Upstream { status: Some(200), .. }))
}

const USER: &[&str] =
    &["id", "email", "given_name", "family_name", "active", "invited", "verified", "logged_in_at", "created_at", "phone", "role"];

proptest! {
    #[test]
    fn any_users_page_maps_or_is_refused_never_panics(items in prop::collection::vec(item(USER), 0..6), cursor in any_json()) {
        let response = answer(items, cursor);
        let decoded = api::decode_list::<User>("GET /v1/users", &response);
        prop_assert!(allowed(&decoded));
        if let Ok((users, _)) = decoded {
            let page = mapping::users_page(&users, &mut Notes::new("GET /v1/users", "GET /v1/users"));
            prop_assert!(allowed(&page));
            if let Ok(page) = page {
                for resource in &page.resources {
                    prop_assert!(serde_json::from_str::<Value>(&resource.traits).is_ok_and(|t| t.is_object()));
                }
                for grant in &page.grants {
                    // Every grant the mapping makes parses back to what it names.
                    let (target, principal) = parse_grant(&grant.id).expect("a grant the mapping made parses");
                    prop_assert_eq!(grant_id(&target, &principal), grant.id.clone());
                }
            }
        }
    }

    #[test]
    fn every_other_answer_maps_or_is_refused_never_panics(
        roles in prop::collection::vec(item(&["name", "description", "scope", "is_custom", "is_deprecated", "replacement_role_name"]), 0..4),
        teams in prop::collection::vec(item(&["id", "name", "description", "role"]), 0..4),
        groups in prop::collection::vec(item(&["id", "name", "created_at"]), 0..4),
        members in prop::collection::vec(item(&["id", "role"]), 0..4),
        team_users in prop::collection::vec(item(&["user_id", "role"]), 0..4),
    ) {
        let notes = || Notes::new("GET /v1/x", "GET /v1/x");
        if let Ok((items, _)) = api::decode_list::<Role>("e", &answer(roles, Value::Null)) {
            prop_assert!(allowed(&mapping::roles_page(&items, &mut notes())));
        }
        if let Ok((items, _)) = api::decode_list::<Team>("e", &answer(teams, Value::Null)) {
            prop_assert!(allowed(&mapping::teams_page(&items, &mut notes())));
        }
        if let Ok((items, _)) = api::decode_list::<Group>("e", &answer(groups, Value::Null)) {
            prop_assert!(allowed(&mapping::groups_page(&items, &mut notes())));
        }
        let response = answer(members.clone(), Value::Null);
        if let Ok((items, _)) = api::decode_list::<GroupMember>("e", &response) {
            prop_assert!(allowed(&mapping::group_user_page("g1", &items, &mut notes())));
        }
        if let Ok((items, _)) = api::decode_list::<Membership>("e", &answer(members, Value::Null)) {
            prop_assert!(allowed(&mapping::team_group_page("t1", &items, &mut notes())));
        }
        if let Ok((items, _)) = api::decode_list::<TeamMembership>("e", &answer(team_users, Value::Null)) {
            prop_assert!(allowed(&mapping::team_user_grants("t1", &items, &mut notes())));
        }
    }

    #[test]
    fn any_bytes_as_an_answer_are_read_or_refused(body in prop::collection::vec(any::<u8>(), 0..256), status in 100u16..600) {
        let response = ApiResponse { status, retry_after: Some(String::from_utf8_lossy(&body).into_owned()), body };
        let _ = api::decode_list::<User>("GET /v1/users", &response);
        let _ = api::decode_data::<api::AccountInfo>("GET /v1/account/info", &response);
    }

    #[test]
    fn ids_the_grammar_accepts_are_single_safe_path_segments(id in awkward_string()) {
        if check_api_id(&id).is_ok() {
            let segment = encode(&id);
            prop_assert!(!segment.is_empty() && segment != "." && segment != "..");
            prop_assert!(!segment.contains(['/', '?', '#', ':', '\\']));
            prop_assert!(!id.contains(':'), "an id never breaks the type:id:slug grammar");
        }
    }

    #[test]
    fn entitlement_and_grant_ids_parse_back_or_are_refused(text in awkward_string(), role in "[A-Za-z: ]{1,20}", id in "[a-z_0-9.]{1,10}") {
        // Whatever the text, parsing answers; what parses names an id that prints the same.
        if let Ok(target) = parse_entitlement(&text) {
            prop_assert_eq!(parse_entitlement(&target.entitlement_id()).ok(), Some(target));
        }
        if let Ok((target, principal)) = parse_grant(&text) {
            prop_assert_eq!(grant_id(&target, &principal), text.clone());
        }
        // Built from parts of the grammar, every id parses back to its parts.
        prop_assume!(check_api_id(&id).is_ok() && !role.trim().is_empty());
        for entitlement in [format!("group:{id}:{role}"), format!("team:{id}:member"), format!("role:{role}:assigned")] {
            let target = parse_entitlement(&entitlement).expect("an entitlement of the grammar parses");
            prop_assert_eq!(target.entitlement_id(), entitlement.clone());
            for principal in [ResourceRef::new("user", &id), ResourceRef::new("team", &id)] {
                if target.check_principal(&principal).is_ok() {
                    let grant = grant_id(&target, &principal);
                    prop_assert_eq!(parse_grant(&grant).ok(), Some((target.clone(), principal)));
                }
            }
        }
    }
}
