//! The field rules the services enforce, stated in the spec's request schemas, so that
//! every request the schema allows is one the server takes (clients can check before
//! sending, and generated tests know what is valid).

use serde_json::{Map, Value, json};

use hydracore_instances::InstanceName;
use hydracore_keys::{MAX_ROTATION_GRACE_SECONDS, RateLimit};

/// Text with at least one visible character and no control characters.
const PRINTABLE: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// The OCI distribution grammar of an image reference (see `parse_image_reference`).
const IMAGE_REFERENCE: &str = concat!(
    r"^(?:(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+)(?::[0-9]{1,5})?/",
    r"|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?:[0-9]{1,5}/)?",
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*",
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?",
    r"(?:@[A-Za-z][A-Za-z0-9+._-]*:[0-9a-fA-F]{32,})?$",
);

/// What `Email::parse` takes: one `@`, a dotted domain, no whitespace.
const EMAIL: &str =
    r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f]+(?:\.[^@\s.\x00-\x1f\x7f-\x9f]+)+$";

/// Any text but NUL.
const NO_NUL: &str = r"^[^\x00]*$";

/// Text without whitespace or control characters.
const NO_SPACE: &str = r"^[^\s\x00-\x1f\x7f-\x9f]+$";

fn text(max: usize, pattern: &str) -> Value {
    json!({ "minLength": 1, "maxLength": max, "pattern": pattern })
}

fn range(min: u64, max: u64) -> Value {
    json!({ "minimum": min, "maximum": max })
}

/// `(schema, property path, rules)`; a path steps into nested objects with dots.
fn rules() -> Vec<(&'static str, &'static str, Value)> {
    let instance_name = text(InstanceName::MAX_LEN, "^[a-z0-9-]{1,64}$");
    let image = text(255, IMAGE_REFERENCE);
    let key_name = text(100, PRINTABLE);
    let scopes = json!({ "minItems": 1, "items": { "type": "string", "enum": catalogue() } });
    let email = json!({ "maxLength": 254, "pattern": EMAIL });
    let requests = range(1, u64::from(RateLimit::MAX_REQUESTS));
    let window = range(1, u64::from(RateLimit::MAX_WINDOW_SECONDS));
    vec![
        ("CreateInstanceRequest", "name", instance_name.clone()),
        ("UpdateInstanceRequest", "name", instance_name),
        ("CreateInstanceRequest", "runtime_image", image.clone()),
        ("UpdateInstanceRequest", "runtime_image", image),
        ("CreateApiKeyRequest", "name", key_name.clone()),
        ("UpdateApiKeyRequest", "name", key_name),
        ("CreateApiKeyRequest", "scopes", scopes.clone()),
        ("UpdateApiKeyRequest", "scopes", scopes),
        (
            "CreateApiKeyRequest",
            "rate_limit.requests",
            requests.clone(),
        ),
        (
            "CreateApiKeyRequest",
            "rate_limit.per_seconds",
            window.clone(),
        ),
        ("UpdateApiKeyRequest", "rate_limit.requests", requests),
        ("UpdateApiKeyRequest", "rate_limit.per_seconds", window),
        (
            "RotateApiKeyRequest",
            "grace_seconds",
            range(0, u64::from(MAX_ROTATION_GRACE_SECONDS)),
        ),
        ("CreateTenantRequest", "name", text(128, PRINTABLE)),
        ("SignupRequest", "tenant_name", text(128, PRINTABLE)),
        ("SignupRequest", "email", email.clone()),
        ("AddMemberRequest", "email", email),
        (
            "SignupRequest",
            "password",
            json!({
                "minLength": hydracore_auth::MIN_PASSWORD_CHARS,
                "maxLength": hydracore_auth::MAX_PASSWORD_CHARS
            }),
        ),
        ("CreateMcpCredentialRequest", "name", text(100, PRINTABLE)),
        (
            "CreateMcpCredentialRequest",
            "server_url",
            text(
                2048,
                r"^https?://[^\s@/?#\x00-\x1f\x7f-\x9f]+(?:[/?#][^\s\x00-\x1f\x7f-\x9f]*)?$",
            ),
        ),
        (
            "CreateMcpCredentialRequest",
            "header_name",
            text(128, r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"),
        ),
        (
            "CreateMcpCredentialRequest",
            "secret",
            json!({ "minLength": 1, "maxLength": 8192 }),
        ),
        ("CreateRuntimeImageRequest", "name", text(200, NO_SPACE)),
        ("CreateRuntimeImageRequest", "version", text(128, NO_SPACE)),
        (
            "CreateRuntimeImageRequest",
            "digest",
            json!({ "pattern": "^sha256:[0-9a-fA-F]{64}$" }),
        ),
    ]
}

fn catalogue() -> Vec<String> {
    hydracore_scopes::CATALOGUE
        .iter()
        .flat_map(|spec| {
            spec.verbs
                .iter()
                .copied()
                .chain(["*"])
                .map(move |verb| format!("{}:{verb}", spec.resource))
        })
        .collect()
}

/// Adds the rules to the (renamed) component schemas.
///
/// # Panics
/// When a rule names a schema or property the spec no longer has: the table must
/// follow the DTOs.
pub fn apply(schemas: &mut Map<String, Value>) {
    for (schema, property, rules) in rules() {
        let target = property
            .split('.')
            .try_fold(schemas.get_mut(schema), |node, step| {
                Some(node?.get_mut("properties")?.get_mut(step))
            });
        let Some(Some(Value::Object(prop))) = target else {
            panic!("field rule for {schema}.{property}: no such property in the spec");
        };
        if let Value::Object(rules) = rules {
            prop.extend(rules);
        }
    }
    // Every request type refuses fields it does not know (`deny_unknown_fields`), and
    // strings with a NUL (every pattern above excludes it already).
    for (name, schema) in schemas.iter_mut() {
        if name.ends_with("Request")
            && let Value::Object(schema) = schema
        {
            schema.insert("additionalProperties".into(), json!(false));
            if let Some(Value::Object(props)) = schema.get_mut("properties") {
                for prop in props.values_mut().filter_map(Value::as_object_mut) {
                    let plain_text = prop.get("type") == Some(&json!("string"))
                        && !prop.contains_key("pattern")
                        && !prop.contains_key("enum")
                        && !prop.contains_key("format");
                    if plain_text {
                        prop.insert("pattern".into(), json!(NO_NUL));
                    }
                }
            }
            if let Some(Value::Object(limit)) = schema
                .get_mut("properties")
                .and_then(|p| p.get_mut("rate_limit"))
            {
                limit.insert("additionalProperties".into(), json!(false));
            }
        }
    }
    split_credential_kinds(schemas);
}

/// `header_name` belongs to `auth_kind: header` alone (required there, refused with
/// `bearer`): the request schema is one of the two shapes.
fn split_credential_kinds(schemas: &mut Map<String, Value>) {
    let Some(base) = schemas.get("CreateMcpCredentialRequest").cloned() else {
        return;
    };
    let shape = |kind: &str, with_header: bool| {
        let mut s = base.clone();
        if let Some(Value::Object(props)) = s.get_mut("properties") {
            props.insert(
                "auth_kind".into(),
                json!({ "type": "string", "enum": [kind], "description": format!("`{kind}`") }),
            );
            if !with_header {
                props.remove("header_name");
            } else if let Some(Value::Object(h)) = props.get_mut("header_name") {
                h.remove("nullable");
            }
        }
        let mut required: Vec<Value> = ["name", "server_url", "auth_kind", "secret"]
            .into_iter()
            .map(Value::from)
            .collect();
        if with_header {
            required.push(json!("header_name"));
        }
        s["required"] = Value::Array(required);
        s["additionalProperties"] = json!(false);
        s["title"] = json!(format!("{kind} credential"));
        s
    };
    let description = base.get("description").cloned().unwrap_or(Value::Null);
    schemas.insert(
        "CreateMcpCredentialRequest".into(),
        json!({
            "description": description,
            "oneOf": [shape("bearer", false), shape("header", true)]
        }),
    );
}
