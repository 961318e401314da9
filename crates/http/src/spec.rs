//! Finishing the OpenAPI 3 document that paperclip converts from its v2 model: what
//! v2 cannot say (HTTP bearer auth, `nullable`, error bodies, the scope per route) is
//! added here, in one step shared by the live `/openapi.json` and the snapshot.

use serde_json::{Map, Value, json};

use crate::extract::API_KEY_SCHEME;
use crate::idempotency;

use crate::extract::{BEARER_SCHEME, KEY_ONLY_MARKER, OPS_SCHEME};

fn error_schemas() -> Value {
    json!({
        "HTTPError": {
            "type": "object",
            "required": ["detail"],
            "properties": { "detail": { "type": "string", "example": "Instance not found" } }
        },
        "ValidationErrorItem": {
            "type": "object",
            "required": ["type", "loc", "msg", "input"],
            "properties": {
                "type": { "type": "string", "example": "uuid_parsing" },
                "loc": {
                    "type": "array",
                    "items": { "oneOf": [{ "type": "string" }, { "type": "integer" }] },
                    "example": ["path", "instance_id"]
                },
                "msg": { "type": "string" },
                "input": {}
            }
        },
        "HTTPValidationError": {
            "type": "object",
            "required": ["detail"],
            "properties": {
                "detail": { "type": "array", "items": { "$ref": "#/components/schemas/ValidationErrorItem" } }
            }
        }
    })
}

/// Renames `FooDto` schemas to `Foo`, in definitions and references alike.
fn strip_dto_suffix(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(stripped) = r.strip_suffix("Dto")
            {
                *r = stripped.to_owned();
            }
            for child in map.values_mut() {
                strip_dto_suffix(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_dto_suffix),
        _ => {}
    }
}

/// A `$ref` as it reads once `Dto` suffixes are gone (they are stripped first).
fn schema_ref_without_dto(schema: &Value) -> Value {
    let mut s = schema.clone();
    strip_dto_suffix(&mut s);
    s
}

/// Properties that are not required are nullable: the server writes `null` for them
/// and accepts `null` in requests.
fn mark_nullable(schema: &mut Value) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        for (name, prop) in props.iter_mut() {
            if required.contains(name) {
                continue;
            }
            if let Some(r) = prop.get("$ref").cloned() {
                *prop = json!({ "allOf": [{ "$ref": r }], "nullable": true });
            } else if let Value::Object(p) = prop {
                p.insert("nullable".into(), Value::Bool(true));
            }
        }
    }
}

/// A response's fields are all sent (`null` when empty): every one is required, the
/// optional ones nullable (marked first).
fn require_all(schema: &mut Value) {
    let Some(Value::Object(props)) = schema.get("properties") else {
        return;
    };
    let names: Vec<Value> = props.keys().cloned().map(Value::String).collect();
    schema["required"] = Value::Array(names);
}

/// What identifies a shape wherever it appears: all but what a use may say of it.
fn shape_key(schema: &Value) -> Value {
    let mut key = schema.clone();
    if let Value::Object(m) = &mut key {
        for word in ["description", "example", "nullable"] {
            m.remove(word);
        }
    }
    key
}

/// Points every inline copy of a nested shape (`hydracore_api::nested_shapes`, now
/// components of their own) at its component, keeping what the use says of it (its
/// description, whether it may be `null`).
fn name_nested_shapes(schemas: &mut Map<String, Value>) {
    let shapes: Vec<(String, Value, Value)> = hydracore_api::nested_shapes()
        .into_iter()
        .map(|(name, raw)| {
            let name = name
                .strip_suffix("Dto")
                .map_or_else(|| name.clone(), str::to_owned);
            // Inline copies are as paperclip wrote them: compared with the shape before
            // its component was finished (its optional fields marked nullable).
            let key = shape_key(&raw);
            let description = schemas
                .get(&name)
                .map(|s| s["description"].clone())
                .unwrap_or_default();
            (name, key, description)
        })
        .collect();
    for schema in schemas.values_mut() {
        point_at_shapes(schema, &shapes, true);
    }
}

/// `(name, shape_key, the shape's own description)` of each nested shape.
type Shapes = [(String, Value, Value)];

fn point_at_shapes(node: &mut Value, shapes: &Shapes, root: bool) {
    if !root {
        let key = shape_key(node);
        if let Some((name, key, own)) = shapes.iter().find(|(_, k, _)| *k == key) {
            let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
            let mut said = Map::new();
            for word in ["description", "nullable"] {
                // A use that repeats the shape's own description says nothing more.
                if let Some(v) = node.get(word).filter(|v| word == "nullable" || *v != own) {
                    said.insert(word.to_owned(), v.clone());
                }
            }
            if said.contains_key("nullable") {
                // OpenAPI 3.0 reads `nullable` only beside a `type`.
                said.insert("type".into(), key["type"].clone());
            }
            *node = if said.is_empty() {
                reference
            } else {
                said.insert("allOf".into(), json!([reference]));
                Value::Object(said)
            };
            return;
        }
    }
    let Value::Object(m) = node else {
        return;
    };
    for (word, child) in m.iter_mut() {
        match (word.as_str(), child) {
            ("properties", Value::Object(props)) => {
                for p in props.values_mut() {
                    point_at_shapes(p, shapes, false);
                }
            }
            ("items", child) => point_at_shapes(child, shapes, false),
            ("allOf" | "oneOf" | "anyOf", Value::Array(all)) => {
                for c in all {
                    point_at_shapes(c, shapes, false);
                }
            }
            _ => {}
        }
    }
}

/// What an operation takes, as its error examples need it.
struct Asked {
    scope: Option<String>,
    tag: Option<String>,
    body: bool,
    path_param: Option<String>,
}

/// A body the server answers `code` with on this operation, as the server writes it;
/// `said` is the response's description, for answers only the route knows.
fn error_example(code: u16, said: &str, asked: &Asked) -> Value {
    let detail = match code {
        401 => "Not authenticated".to_owned(),
        403 => asked.scope.as_ref().map_or_else(
            || said.to_owned(),
            |s| format!("Missing required scope: {s}"),
        ),
        404 if said.starts_with("Not found") => {
            let thing = match asked.tag.as_deref() {
                Some("Instances") => "Instance",
                Some("ApiKeys") => "API key",
                Some("McpCredentials") => "Credential",
                Some("Members") => "Member",
                Some("Internal") => "Runtime image",
                _ => "Tenant",
            };
            format!("{thing} not found")
        }
        408 => format!(
            "The request body did not arrive within {} ms",
            crate::extract::DEFAULT_BODY_TIMEOUT.as_millis()
        ),
        413 => format!(
            "Request body is larger than the limit of {} bytes",
            crate::extract::MAX_BODY_BYTES
        ),
        422 => {
            let item = if asked.body {
                json!({ "type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {} })
            } else if let Some(name) = &asked.path_param {
                let why = uuid::Uuid::parse_str("x").err().map(|e| e.to_string());
                json!({
                    "type": "uuid_parsing",
                    "loc": ["path", name],
                    "msg": format!("Input should be a valid UUID, {}", why.unwrap_or_default()),
                    "input": "x"
                })
            } else {
                json!({
                    "type": "less_than_equal",
                    "loc": ["query", "limit"],
                    "msg": format!("Input should be between 1 and {}", hydracore_core::MAX_PAGE_SIZE),
                    "input": "5000"
                })
            };
            return json!({ "detail": [item] });
        }
        429 if said.contains("sign-in") => {
            "Too many sign-in attempts; retry in 30 seconds".to_owned()
        }
        429 => "Rate limit exceeded".to_owned(),
        503 => "Service unavailable".to_owned(),
        _ => said.to_owned(),
    };
    json!({ "detail": detail })
}

fn finish_operation(op: &mut Map<String, Value>) {
    let scope = op
        .get("security")
        .and_then(Value::as_array)
        .and_then(|reqs| {
            reqs.iter().find_map(|r| {
                r.get(API_KEY_SCHEME)?
                    .as_array()?
                    .first()?
                    .as_str()
                    .map(str::to_owned)
            })
        });
    let authenticated = op.contains_key("security");
    let ops_only = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|reqs| reqs.iter().any(|r| r.get(OPS_SCHEME).is_some()));
    let key_only = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|reqs| reqs.iter().any(|r| r.get(KEY_ONLY_MARKER).is_some()));
    let user_only = !ops_only
        && authenticated
        && !op
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|reqs| reqs.iter().any(|r| r.get(API_KEY_SCHEME).is_some()));
    // Routes that take `Idempotent` carry a bare `Idempotency-Key` header; it is
    // written out here, last among the parameters, with the answers it adds.
    let idempotent = op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .is_some_and(|params| {
            let before = params.len();
            params.retain(|p| !(p["in"] == "header" && p["name"] == idempotency::HEADER));
            params.len() < before
        });
    if idempotent {
        let params = op.entry("parameters").or_insert_with(|| json!([]));
        if let Value::Array(params) = params {
            params.push(json!({
                "in": "header",
                "name": idempotency::HEADER,
                "required": false,
                "description": "Makes a retry safe: the first successful response to this key (per credential and tenant, for 24 hours) is replayed with `Idempotent-Replayed: true`, after the retry passes the same authorization as a fresh request; the same key with a different request, or while the first still runs, is 409. A first request that never answered (its server stopped or lost its database) holds the key for a minute at most (`HYDRACORE_IDEMPOTENCY_LEASE_SECS`); then a retry runs. Remembered responses are kept sealed and deleted once expired.",
                "schema": { "type": "string", "minLength": 1, "maxLength": idempotency::MAX_KEY_LEN, "pattern": "^[!-~]+$" }
            }));
        }
        if let Some(Value::Object(responses)) = op.get_mut("responses") {
            responses.entry("409").or_insert_with(|| json!({"description": "The Idempotency-Key was used with another request, or is still running"}));
            responses
                .entry("422")
                .or_insert_with(|| json!({"description": "A malformed Idempotency-Key"}));
        }
    }
    if authenticated {
        let (security, note) = if ops_only {
            (
                json!([{ OPS_SCHEME: [] }]),
                "Needs the ops bearer token (`Authorization: Bearer <HYDRACORE_OPS_TOKEN>`); every other credential gets 401.".to_owned(),
            )
        } else if key_only {
            (
                json!([{ API_KEY_SCHEME: [] }]),
                "Needs an API key (`X-Api-Key`, or `Authorization: Bearer hc_live_...`); a user's access token gets 401.".to_owned(),
            )
        } else if user_only {
            (
                json!([{ BEARER_SCHEME: [] }]),
                "Needs a user's access token (`Authorization: Bearer <access_token>`); API keys get 401.".to_owned(),
            )
        } else {
            (
                json!([{ API_KEY_SCHEME: [] }, { BEARER_SCHEME: [] }]),
                match &scope {
                    Some(s) => format!("Requires scope `{s}`."),
                    None => "Any live credential; no scope needed.".to_owned(),
                },
            )
        };
        op.insert("security".into(), security);
        let description = match op.get("description").and_then(Value::as_str) {
            Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
            _ => note,
        };
        op.insert("description".into(), Value::String(description));
        op.insert(
            "x-required-scope".into(),
            scope.clone().map_or(Value::Null, Value::String),
        );
    }
    let asked = Asked {
        scope: scope.clone(),
        tag: op
            .get("tags")
            .and_then(|t| t.get(0))
            .and_then(Value::as_str)
            .map(str::to_owned),
        body: op.contains_key("requestBody"),
        path_param: op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p["in"] == "path")
            .and_then(|p| p["name"].as_str())
            .map(str::to_owned),
    };
    if let Some(Value::Object(responses)) = op.get_mut("responses") {
        for response in responses.values_mut() {
            // paperclip's v3 conversion leaves headers with an empty `content` and no
            // schema; every header here is a string.
            if let Some(Value::Object(headers)) = response.get_mut("headers") {
                for header in headers.values_mut() {
                    let description = header.get("description").cloned().unwrap_or(Value::Null);
                    *header = json!({ "description": description, "schema": { "type": "string" } });
                }
            }
        }
        for (status, response) in responses.iter_mut() {
            let Some(code) = status.parse::<u16>().ok().filter(|c| *c >= 400) else {
                continue;
            };
            let schema = if code == 422 {
                "HTTPValidationError"
            } else {
                "HTTPError"
            };
            if let Value::Object(r) = response {
                let said = r.get("description").and_then(Value::as_str).unwrap_or("");
                let example = error_example(code, said, &asked);
                r.insert(
                    "content".into(),
                    json!({ "application/json": {
                        "schema": { "$ref": format!("#/components/schemas/{schema}") },
                        "example": example
                    } }),
                );
            }
        }
        if authenticated {
            responses.insert(
                "401".into(),
                json!({
                    "description": "No credential, or an unknown, revoked or expired one",
                    "headers": { "WWW-Authenticate": { "schema": { "type": "string" } } },
                    "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/HTTPError" },
                        "example": error_example(401, "", &asked)
                    } }
                }),
            );
        }
    }
}

/// Completes paperclip's v3 document.
pub fn finish(mut spec: Value) -> Value {
    strip_dto_suffix(&mut spec);
    let Value::Object(root) = &mut spec else {
        return spec;
    };
    root.insert("openapi".into(), json!("3.0.3"));
    root.insert(
        "info".into(),
        json!({
            "title": "HydraCore control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Tenants, API keys with scopes, agent instances and their runtime images.\n\nAuthenticate with an API key (`X-Api-Key: hc_live_...`, or `Authorization: Bearer hc_live_...`) or a user's access token (`Authorization: Bearer <jwt>` from `POST /auth/login`). Errors follow FastAPI's shape: `{\"detail\": \"...\"}`, and for 422 a list of `{type, loc, msg, input}` items.\n\nLimits: a request body takes at most 256 KiB (413 past it) and header fields 16 KiB in all (431); a request's head and then its body must arrive within the server's client timeout (5 s by default; a late body is 408); strings may not contain the NUL character (422).",
            "license": { "name": "Apache-2.0" },
            "contact": { "name": "HydraCore maintainers" }
        }),
    );
    root.insert(
        "servers".into(),
        json!([{ "url": "/", "description": "The server that serves this document" }]),
    );
    root.insert(
        "tags".into(),
        json!([
            { "name": "Auth", "description": "Sign-up, sign-in, tokens and the active tenant" },
            { "name": "Tenants", "description": "The current tenant and new tenants" },
            { "name": "Members", "description": "Members of the tenant and their roles" },
            { "name": "Instances", "description": "Agent instances and their lifecycle" },
            { "name": "ApiKeys", "description": "API keys, their scopes and limits" },
            { "name": "Scopes", "description": "The scope catalogue" },
            { "name": "McpCredentials", "description": "Credentials for third-party MCP servers" },
            { "name": "McpCallLog", "description": "The audit log of MCP tool calls" },
            { "name": "Operations", "description": "Health probes" },
            { "name": "Internal", "description": "The operator's surface (ops token only)" }
        ]),
    );
    if let Some(Value::Object(paths)) = root.get_mut("paths") {
        for item in paths.values_mut() {
            if let Value::Object(ops) = item {
                for op in ops.values_mut() {
                    if let Value::Object(op) = op {
                        finish_operation(op);
                    }
                }
            }
        }
    }
    let components = root
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(components) = components {
        let schemas = components.entry("schemas").or_insert_with(|| json!({}));
        if let Value::Object(schemas) = schemas {
            let renamed: Vec<(String, Value)> = std::mem::take(schemas)
                .into_iter()
                .chain(hydracore_api::nested_shapes())
                .map(|(k, mut v)| {
                    let name = k
                        .strip_suffix("Dto")
                        .map_or_else(|| k.clone(), str::to_owned);
                    mark_nullable(&mut v);
                    if !name.ends_with("Request") {
                        require_all(&mut v);
                    }
                    (name, v)
                })
                .collect();
            schemas.extend(renamed);
            name_nested_shapes(schemas);
            crate::rules::apply(schemas);
            if let Value::Object(errors) = error_schemas() {
                schemas.extend(errors);
            }
        }
        components.insert(
            "securitySchemes".into(),
            json!({
                API_KEY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Api-Key",
                    "description": "An API key: `hc_live_...`"
                },
                OPS_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The operator's token (`HYDRACORE_OPS_TOKEN`), for `/internal/v1` only"
                },
                BEARER_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A user's access token from `/auth/login` (a JWT), or an API key sent as `Authorization: Bearer hc_live_...`"
                }
            }),
        );
    }
    // Every request body gets an example, built from its schema's field examples and
    // rules (so it satisfies them), once the schemas are final.
    let schemas = root
        .get("components")
        .and_then(|c| c.get("schemas"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Object(paths)) = root.get_mut("paths") {
        for op in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|ops| ops.values_mut())
        {
            if let Some(media) = op.pointer_mut("/requestBody/content/application~1json")
                && let Some(schema) = media.get("schema").cloned()
            {
                let renamed = schema_ref_without_dto(&schema);
                media["example"] = crate::reference::example(&renamed, &schemas, 0);
            }
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn spec() -> Value {
        crate::openapi()
    }

    /// A response sends every field (`null` when empty), so generated types must not
    /// make them optional.
    #[test]
    fn response_shapes_require_every_field() {
        let spec = spec();
        let schemas = spec["components"]["schemas"].as_object().unwrap();
        for (name, schema) in schemas.iter().filter(|(n, _)| !n.ends_with("Request")) {
            let Some(props) = schema["properties"].as_object() else {
                continue;
            };
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for prop in props.keys() {
                assert!(
                    required.contains(&prop.as_str()),
                    "{name}.{prop} is not required"
                );
            }
        }
        let key = &schemas["ApiKey"]["properties"]["expires_at"];
        assert_eq!(key["nullable"], true, "optional fields stay nullable");
    }

    /// Each error status of an operation has an example of its own body.
    #[test]
    fn error_examples_differ_by_status() {
        let spec = spec();
        let get = &spec["paths"]["/v1/instances/{instance_id}"]["get"]["responses"];
        let detail =
            |status: &str| get[status]["content"]["application/json"]["example"]["detail"].clone();
        assert_eq!(detail("401"), "Not authenticated");
        assert_eq!(detail("403"), "Missing required scope: instances:read");
        assert_eq!(detail("404"), "Instance not found");
        assert_eq!(detail("429"), "Rate limit exceeded");
        assert_eq!(detail("503"), "Service unavailable");
        assert_eq!(
            detail("422")[0]["loc"],
            serde_json::json!(["path", "instance_id"])
        );
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.as_str() >= "400" {
                        let example = &response["content"]["application/json"]["example"];
                        assert!(
                            example["detail"].is_string() || example["detail"].is_array(),
                            "{method} {path} {status} has no example"
                        );
                    }
                }
            }
        }
    }
}
