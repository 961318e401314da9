//! The field rules the services enforce, written into the spec's request schemas, so
//! that every request the schema allows is one the server takes (clients can check
//! before sending, MCP tool schemas carry them, and generated tests know what is
//! valid). The rules are declared on the domain types; which field each holds is
//! declared beside each request DTO ([`hydracore_api::FieldRules`]).

use hydracore_core::rules::Rule;
use serde_json::{Map, Value, json};

/// Any text but NUL.
const NO_NUL: &str = r"^[^\x00]*$";

/// The JSON Schema keywords of a rule.
fn keywords(rule: &Rule) -> Value {
    match rule {
        Rule::Text {
            min, max, pattern, ..
        } => {
            let mut k = json!({ "maxLength": max });
            if *min > 0 {
                k["minLength"] = json!(min);
            }
            if let Some(p) = pattern {
                k["pattern"] = json!(p);
            }
            k
        }
        Rule::Whole { min, max } => json!({ "minimum": min, "maximum": max }),
        Rule::Each { min, name, .. } => {
            json!({ "minItems": min, "items": { "$ref": format!("#/components/schemas/{name}") } })
        }
    }
}

/// Adds the rules to the (renamed) component schemas, and each rule in words to its
/// field's description.
///
/// # Panics
/// When a rule names a property the schema does not have, or a request schema
/// declares no rules: both would leave the spec saying less than the server checks.
pub fn apply(schemas: &mut Map<String, Value>) {
    let declared: Vec<_> = hydracore_api::request_rules()
        .into_iter()
        .map(|(name, fields)| {
            let name = name
                .strip_suffix("Dto")
                .map_or_else(|| name.clone(), str::to_owned);
            (name, fields)
        })
        .collect();
    for name in schemas.keys().filter(|n| n.ends_with("Request")) {
        assert!(
            declared.iter().any(|(d, _)| d == name),
            "{name} declares no field rules: implement hydracore_api::FieldRules for it and \
             list it in its resource's SHAPES"
        );
    }
    let mut sets = Vec::new();
    for (schema, fields) in declared {
        for (property, rule) in fields {
            let target = property
                .split('.')
                .try_fold(schemas.get_mut(&schema), |node, step| {
                    Some(node?.get_mut("properties")?.get_mut(step))
                });
            let Some(Some(Value::Object(prop))) = target else {
                panic!("field rule for {schema}.{property}: no such property in the spec");
            };
            if let Value::Object(k) = keywords(&rule) {
                prop.extend(k);
            }
            if let Rule::Each { name, values, .. } = rule {
                sets.push((name, values()));
            }
            let said = rule.describe();
            let description = match prop.get("description").and_then(Value::as_str) {
                Some(d) => format!("{d} {said}"),
                None => said,
            };
            prop.insert("description".into(), json!(description));
        }
    }
    for (name, values) in sets {
        schemas.insert(name.into(), json!({ "type": "string", "enum": values }));
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
        }
    }
    // The nested shape requests take refuses unknown fields too.
    if let Some(Value::Object(limit)) = schemas.get_mut("RateLimit") {
        limit.insert("additionalProperties".into(), json!(false));
    }
    split_credential_kinds(schemas);
}

/// `header_name` belongs to `auth_kind: header` alone (required there, refused with
/// `bearer`): the request schema is one of the two shapes, named, told apart by
/// `auth_kind`.
fn split_credential_kinds(schemas: &mut Map<String, Value>) {
    let Some(base) = schemas.get("CreateMcpCredentialRequest").cloned() else {
        return;
    };
    let shape = |kind: &str, with_header: bool| {
        let mut s = base.clone();
        if let Some(Value::Object(props)) = s.get_mut("properties") {
            props.insert(
                "auth_kind".into(),
                json!({ "$ref": format!("#/components/schemas/{}AuthKind", capitalized(kind)) }),
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
    let mut mapping = Map::new();
    for (kind, with_header) in [("bearer", false), ("header", true)] {
        let name = format!("Create{}CredentialRequest", capitalized(kind));
        schemas.insert(name.clone(), shape(kind, with_header));
        // Its own one-value enum, named: generators make a literal of it.
        schemas.insert(
            format!("{}AuthKind", capitalized(kind)),
            json!({ "type": "string", "enum": [kind], "description": format!("`{kind}`") }),
        );
        mapping.insert(kind.into(), json!(format!("#/components/schemas/{name}")));
    }
    let one_of: Vec<Value> = mapping.values().map(|r| json!({ "$ref": r })).collect();
    schemas.insert(
        "CreateMcpCredentialRequest".into(),
        json!({
            "description": description,
            "oneOf": one_of,
            "discriminator": { "propertyName": "auth_kind", "mapping": mapping }
        }),
    );
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
