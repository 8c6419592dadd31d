//! A connector component that implements the `accessgov:connector` world and misbehaves on
//! purpose, for the sandbox tests. Its misbehaviour is the first label of the base URL's host,
//! so one build serves every test: `https://spin.hostile.test` loops forever, for example. When
//! the host is an IP address, it is the resource type `list-resources` is asked for.
//!
//! | label | does, in `list-resources` |
//! |---|---|
//! | `spin` | loops forever |
//! | `hog` | allocates without end |
//! | `flood` | returns a page of about 20 MB |
//! | `swarm` | returns a page of 400,000 empty resources: 13 MB in its memory, 38 MB as host values |
//! | `shout` | passes a 24 MB message to the host's log |
//! | `elsewhere` | requests 169.254.169.254 and example.com |
//! | `authz` | sets an `Authorization` header of its own; reports what happened |
//! | `snoop` | opens files, reads the environment, arguments and stdin, opens a socket; reports what it got |
//! | `chatty` | writes 200 KB to stdout and stderr, then behaves |
//! | `hoard` | keeps up to 10,000 header maps of 8 KB each (host memory, not its own); reports how many |
//! | `fat-header` | adds a 32 KB header value |
//! | `body-budget` | opens a request body; reports how much the host lets it write at once |
//! | `panic` | panics |
//! | `logorrhea` | writes 20,000 messages of 100 bytes through the host's `log` |
//! | `random` | asks for 1 MB of random bytes |
//! | `burst` | sends 64 requests to `{base_url}/v1/users` at once, then reads the answers in turn |
//! | anything else | requests `{base_url}/v1/users` (for address checks: loopback, metadata, names) |

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "connector-world",
    });

    use accessgov::connector::types as wit;
    use exports::accessgov::connector::connector::Guest;

    struct Hostile;

    export!(Hostile);

    fn behaviour<'a>(base_url: &'a str, resource_type: &'a str) -> &'a str {
        let host = base_url.split("://").nth(1).unwrap_or_default();
        let label = host.split(['.', ':', '/']).next().unwrap_or_default();
        if label.bytes().all(|b| b.is_ascii_digit()) { resource_type } else { label }
    }

    /// Sends `count` GET requests to `url` (plain http) without waiting, then waits for each
    /// answer in turn and drops it; the number answered.
    fn burst(url: &str, count: usize) -> usize {
        use waki::bindings::wasi::http::outgoing_handler::handle;
        use waki::bindings::wasi::http::types::{Fields, OutgoingRequest, Scheme};
        let rest = url.trim_start_matches("http://");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = format!("/{path}");
        let pending: Vec<_> = (0..count)
            .filter_map(|_| {
                let request = OutgoingRequest::new(Fields::new());
                request.set_scheme(Some(&Scheme::Http)).ok()?;
                request.set_authority(Some(authority)).ok()?;
                request.set_path_with_query(Some(&path)).ok()?;
                handle(request, None).ok()
            })
            .collect();
        let mut answered = 0;
        for future in pending {
            future.subscribe().block();
            if let Some(Ok(Ok(response))) = future.get() {
                answered += 1;
                drop(response);
            }
        }
        answered
    }

    fn resource(id: &str, traits: String) -> wit::Resource {
        wit::Resource { resource_type: "thing".into(), id: id.into(), display_name: id.into(), traits_json: traits, aliases: Vec::new() }
    }

    fn page(resources: Vec<wit::Resource>) -> wit::Page {
        wit::Page { resources, entitlements: vec![], grants: vec![], next_page_token: None }
    }

    fn upstream(message: String) -> wit::ConnectorError {
        wit::ConnectorError::Upstream(wit::UpstreamError { status: None, code: None, message })
    }

    fn quote(text: &str) -> String {
        let escaped: String = text.chars().filter(|c| !c.is_control()).map(|c| if c == '"' || c == '\\' { '\'' } else { c }).collect();
        format!("\"{escaped}\"")
    }

    fn fetch(url: &str) -> Result<u16, String> {
        waki::Client::new().get(url).send().map(|r| r.status_code()).map_err(|e| e.to_string())
    }

    impl Guest for Hostile {
        fn metadata() -> wit::ConnectorMetadata {
            wit::ConnectorMetadata {
                name: "hostile".into(),
                version: "0.0.0".into(),
                description: "misbehaves on purpose".into(),
                resource_types: vec![wit::ResourceType {
                    id: "thing".into(),
                    display_name: "Thing".into(),
                    entitlements_need: vec![],
                    identity: wit::Identity::Other,
                }],
                capabilities: vec![wit::Capability::Sync],
                credentials: vec![
                    wit::Credential { name: "api_key".into(), default_env: "HOSTILE_KEY".into(), description: "a key".into() },
                    wit::Credential { name: "api_secret".into(), default_env: "HOSTILE_SECRET".into(), description: "a secret".into() },
                ],
                auth: wit::AuthScheme::Basic(wit::BasicAuth { user: "api_key".into(), password: "api_secret".into() }),
                default_base_url: None,
                rate_limit: None,
                max_page_size: 100,
            }
        }

        fn validate(cfg: wit::Config) -> Result<wit::AccountInfo, wit::ConnectorError> {
            Self::list_resources(cfg, "thing".into(), None)?;
            Ok(wit::AccountInfo { account_id: "hostile".into(), account_name: None, key_kind: wit::KeyKind::Unknown, key_owner: None })
        }

        fn list_resources(cfg: wit::Config, resource_type: String, _: Option<String>) -> Result<wit::Page, wit::ConnectorError> {
            match behaviour(&cfg.base_url, &resource_type) {
                "spin" => {
                    let mut n: u64 = 0;
                    loop {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                }
                "hog" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
                    }
                }
                "flood" => {
                    let filler = "x".repeat(1000);
                    let things = (0..20_000).map(|i| resource(&format!("t{i}"), format!("{{\"pad\":\"{filler}\"}}"))).collect();
                    Ok(page(things))
                }
                "swarm" => {
                    let nothing = || wit::Resource {
                        resource_type: String::new(),
                        id: String::new(),
                        display_name: String::new(),
                        traits_json: String::new(),
                        aliases: Vec::new(),
                    };
                    Ok(page((0..400_000).map(|_| nothing()).collect()))
                }
                "shout" => {
                    accessgov::connector::log::write(accessgov::connector::log::Level::Info, &"!".repeat(24 << 20));
                    Ok(page(vec![resource("shouted", "{}".into())]))
                }
                "elsewhere" => {
                    let metadata = fetch("http://169.254.169.254/latest/meta-data/");
                    let other = fetch("https://example.com/");
                    Err(upstream(format!("metadata: {metadata:?}; example.com: {other:?}")))
                }
                "authz" => {
                    let sent =
                        waki::Client::new().get(&format!("{}/v1/users", cfg.base_url)).header("Authorization", "Basic ZXZpbDpldmls").send();
                    let outcome = match sent {
                        Ok(response) => format!("sent, status {}", response.status_code()),
                        Err(error) => format!("refused: {error}"),
                    };
                    Ok(page(vec![resource("authz", format!("{{\"authorization\":{}}}", quote(&outcome)))]))
                }
                "snoop" => {
                    let file = match std::fs::read_to_string("/etc/passwd") {
                        Ok(text) => format!("read {} bytes", text.len()),
                        Err(error) => format!("denied: {error}"),
                    };
                    let root = match std::fs::read_dir("/") {
                        Ok(entries) => format!("listed {} entries", entries.count()),
                        Err(error) => format!("denied: {error}"),
                    };
                    let mut line = String::new();
                    let stdin = match std::io::stdin().read_line(&mut line) {
                        Ok(n) => format!("read {n} bytes"),
                        Err(error) => format!("denied: {error}"),
                    };
                    let socket = match std::net::TcpStream::connect("127.0.0.1:1") {
                        Ok(_) => "connected".to_owned(),
                        Err(error) => format!("denied: {error}"),
                    };
                    let traits = format!(
                        "{{\"file\":{},\"root\":{},\"env\":{},\"args\":{},\"stdin\":{},\"socket\":{}}}",
                        quote(&file),
                        quote(&root),
                        std::env::vars().count(),
                        std::env::args().count(),
                        quote(&stdin),
                        quote(&socket)
                    );
                    Ok(page(vec![resource("snoop", traits)]))
                }
                "burst" => {
                    let answered = burst(&format!("{}/v1/users", cfg.base_url), 64);
                    Ok(page(vec![resource("burst", format!("{{\"answered\":{answered}}}"))]))
                }
                "hoard" => {
                    use waki::bindings::wasi::http::types::Fields;
                    let value = vec![b'v'; 8 * 1024];
                    let mut kept = Vec::new();
                    for _ in 0..10_000 {
                        let fields = Fields::new();
                        let _ = fields.append(&"x-pad".to_owned(), &value);
                        kept.push(fields);
                    }
                    Ok(page(vec![resource("hoard", format!("{{\"kept\":{}}}", kept.len()))]))
                }
                "fat-header" => {
                    let fields = waki::bindings::wasi::http::types::Fields::new();
                    let appended = fields.append(&"x-pad".to_owned(), &vec![b'v'; 32 * 1024]);
                    Ok(page(vec![resource("fat", format!("{{\"append\":{}}}", quote(&format!("{appended:?}"))))]))
                }
                "body-budget" => {
                    use waki::bindings::wasi::http::types::{Fields, OutgoingRequest};
                    let request = OutgoingRequest::new(Fields::new());
                    let body = request.body().ok();
                    let stream = body.as_ref().and_then(|body| body.write().ok());
                    let budget = stream.as_ref().map(|stream| stream.check_write());
                    drop(stream);
                    Ok(page(vec![resource("budget", format!("{{\"check_write\":{}}}", quote(&format!("{budget:?}"))))]))
                }
                "panic" => panic!("the hostile plugin panics on purpose"),
                "logorrhea" => {
                    let line = "x".repeat(100);
                    for _ in 0..20_000 {
                        accessgov::connector::log::write(accessgov::connector::log::Level::Info, &line);
                    }
                    Ok(page(vec![resource("logorrhea", "{}".into())]))
                }
                "random" => {
                    let bytes = waki::bindings::wasi::random::random::get_random_bytes(1 << 20);
                    Ok(page(vec![resource("random", format!("{{\"bytes\":{}}}", bytes.len()))]))
                }
                "chatty" => {
                    let line = "chatter ".repeat(16);
                    for _ in 0..1600 {
                        println!("{line}");
                        eprintln!("{line}");
                    }
                    Ok(page(vec![resource("chatty", "{}".into())]))
                }
                _ => match fetch(&format!("{}/v1/users", cfg.base_url)) {
                    Ok(status) => Ok(page(vec![resource("fetched", format!("{{\"status\":{status}}}"))])),
                    Err(error) => Err(upstream(error)),
                },
            }
        }

        fn list_entitlements(
            _: wit::Config,
            _: wit::Resource,
            _: Vec<wit::Resource>,
        ) -> Result<Vec<wit::Entitlement>, wit::ConnectorError> {
            Ok(vec![])
        }

        fn list_grants(_: wit::Config, _: wit::Resource, _: Option<String>) -> Result<wit::Page, wit::ConnectorError> {
            Ok(page(vec![]))
        }

        fn provision_account(_: wit::Config, _: wit::NewAccount) -> Result<wit::CreateOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }

        fn deprovision_account(_: wit::Config, _: String) -> Result<wit::DeleteOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }

        fn update_account(_: wit::Config, _: String, _: wit::AccountChanges) -> Result<wit::UpdateOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }

        fn set_account_enabled(_: wit::Config, _: String, _: bool) -> Result<wit::ActivationOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }

        fn create_resource(_: wit::Config, _: wit::NewResource) -> Result<wit::CreateOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }

        fn update_resource(
            _: wit::Config,
            _: wit::ResourceRef,
            _: wit::ResourceChanges,
        ) -> Result<wit::UpdateOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }

        fn delete_resource(_: wit::Config, _: wit::ResourceRef) -> Result<wit::DeleteOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }

        fn grant_entitlement(_: wit::Config, _: String, _: wit::ResourceRef) -> Result<wit::GrantOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }

        fn revoke_grant(_: wit::Config, _: String) -> Result<wit::RevokeOutcome, wit::ConnectorError> {
            Err(wit::ConnectorError::Unsupported("hostile".into()))
        }
    }
}
