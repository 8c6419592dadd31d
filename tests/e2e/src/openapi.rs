//! Checks a request as it arrived at the fake against Fivetran's OpenAPI definition
//! (`tests/e2e/spec/openapi-identity.json`, a copy of `shared/fivetran-api/openapi-identity.json`):
//! the method and path, the query parameters and their ranges, the headers a body needs, and the
//! body against the operation's request schema.

use serde_json::Value;

use connector_fake_fivetran::RecordedRequest;

/// The definition, parsed once.
pub fn definition() -> &'static Value {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(include_str!("../spec/openapi-identity.json")).expect("the definition is JSON"))
}

/// The operation `request` is, as `METHOD /path/{template}`, or why it does not conform.
pub fn check(request: &RecordedRequest) -> Result<String, String> {
    let spec = definition();
    let method = request.method.to_ascii_lowercase();
    let (template, operation, path_item) = operation(spec, &method, &request.path)?;
    let named = format!("{} {template}", request.method);
    let fail = |why: String| format!("{named} ({} {}): {why}", request.method, request.path);

    let parameters: Vec<&Value> =
        [operation, path_item].iter().filter_map(|o| o.get("parameters").and_then(Value::as_array)).flatten().collect();
    for (name, value) in query_pairs(request.query.as_deref()) {
        let declared = parameters.iter().find(|p| p["in"] == "query" && p["name"] == name.as_str());
        let Some(declared) = declared else { return Err(fail(format!("query parameter {name:?} is not in the definition"))) };
        match declared["schema"]["type"].as_str() {
            Some("integer") => {
                let n: i64 = value.parse().map_err(|_| fail(format!("{name}={value:?} is not an integer")))?;
                // "Accepts a number in the range 1..1000" (the definition says so in words).
                if name == "limit" && !(1..=1000).contains(&n) {
                    return Err(fail(format!("limit={n} is outside 1..1000")));
                }
            }
            Some("boolean") if value != "true" && value != "false" => return Err(fail(format!("{name}={value:?} is not a boolean"))),
            _ if value.is_empty() => return Err(fail(format!("query parameter {name} is empty"))),
            _ => {}
        }
    }
    if request.header("accept") != Some("application/json") {
        return Err(fail(format!("Accept is {:?}, not application/json", request.header("accept"))));
    }
    if request.header("transfer-encoding").is_some() {
        return Err(fail("the body was sent in chunks (Transfer-Encoding), not with a Content-Length".into()));
    }
    let schema = operation.pointer("/requestBody/content/application~1json/schema");
    match (schema, request.body.is_empty()) {
        (None, false) => Err(fail("a body was sent where the operation takes none".into())),
        (None, true) => Ok(named),
        (Some(schema), _) => {
            if request.header("content-type").map(|t| t.split(';').next().unwrap_or_default().trim()) != Some("application/json") {
                return Err(fail(format!("Content-Type is {:?}, not application/json", request.header("content-type"))));
            }
            let length = request.body.len().to_string();
            if request.header("content-length") != Some(length.as_str()) {
                return Err(fail(format!("Content-Length is {:?} for a body of {length} bytes", request.header("content-length"))));
            }
            let body: Value = serde_json::from_slice(&request.body).map_err(|e| fail(format!("the body is not JSON: {e}")))?;
            conforms(spec, schema, &body, "body").map_err(fail)?;
            Ok(named)
        }
    }
}

/// The path template, operation and path item of `method path`.
fn operation<'s>(spec: &'s Value, method: &str, path: &str) -> Result<(&'s str, &'s Value, &'s Value), String> {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = spec["paths"].as_object().ok_or("the definition has no paths")?;
    let mut shaped = false;
    for (template, item) in paths {
        let parts: Vec<&str> = template.split('/').collect();
        let fits = parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(part, segment)| if part.starts_with('{') { !segment.is_empty() } else { part == segment });
        if !fits {
            continue;
        }
        shaped = true;
        if let Some(operation) = item.get(method) {
            return Ok((template, operation, item));
        }
    }
    Err(if shaped {
        format!("{} {path}: the definition has the path but not the method", method.to_uppercase())
    } else {
        format!("{} {path}: no path of the definition matches", method.to_uppercase())
    })
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// Whether `value` fits `schema`: types, required properties, enums, and no property the schema
/// does not declare (a client sends only what the definition names).
fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = reference.strip_prefix('#').and_then(|pointer| spec.pointer(pointer)).ok_or(format!("unresolved {reference}"))?;
        return conforms(spec, target, value, at);
    }
    if value.is_null() {
        return if schema["nullable"] == true { Ok(()) } else { Err(format!("{at} is null")) };
    }
    let kind = schema.get("type").and_then(Value::as_str);
    let fits = match kind {
        Some("object") | None if value.is_object() => true,
        None => true,
        Some("object") => false,
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("array") => value.is_array(),
        Some(_) => true,
    };
    if !fits {
        return Err(format!("{at} is {value}, not of type {}", kind.unwrap_or("?")));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !value.is_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at} is {value}, not one of {}", Value::Array(allowed.clone())));
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{at} lacks the required property {name}"));
            }
        }
        for (name, field) in object {
            let Some(declared) = properties.and_then(|p| p.get(name)) else {
                return Err(format!("{at} has the property {name}, which the definition does not declare"));
            };
            conforms(spec, declared, field, &format!("{at}.{name}"))?;
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            conforms(spec, items, item, &format!("{at}[{index}]"))?;
        }
    }
    Ok(())
}
