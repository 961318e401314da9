//! Each tool's JSON Schemas, read from the OpenAPI document of the route it mirrors, so a
//! tool takes what its route takes (lengths, patterns, enums, no unknown fields) and
//! answers in the shape its route answers. OpenAPI 3.0's dialect becomes JSON Schema
//! 2020-12 on the way: references are inlined, `nullable` becomes a `"null"` type (so
//! a client that checks `structuredContent` against `outputSchema` accepts the nulls
//! the server sends), examples are dropped.

use serde_json::{Map, Value, json};

use crate::ToolSpec;

/// A tool's argument and result schemas.
#[derive(Debug, Clone)]
pub struct ToolSchemas {
    pub input: Value,
    pub output: Value,
}

/// The schema `#/components/schemas/Name` refers to.
fn resolve<'s>(spec: &'s Value, reference: &str) -> Option<&'s Value> {
    let name = reference.strip_prefix("#/components/schemas/")?;
    spec.pointer(&format!("/components/schemas/{name}"))
}

/// An OpenAPI 3.0 schema as JSON Schema 2020-12.
pub fn json_schema(schema: &Value, spec: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    if let Some(Value::String(r)) = map.get("$ref") {
        return resolve(spec, r).map_or_else(|| json!({}), |s| json_schema(s, spec));
    }
    let mut out = Map::new();
    for (k, v) in map {
        match k.as_str() {
            "nullable" | "example" | "xml" => {}
            "properties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), json_schema(s, spec)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(k.clone(), json_schema(v, spec));
            }
            "allOf" | "oneOf" | "anyOf" => {
                let parts = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| json_schema(s, spec))
                    .collect();
                out.insert(k.clone(), Value::Array(parts));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    // A single `allOf` member (how a nullable reference is written) is that member.
    if let Some(Value::Array(parts)) = out.get("allOf")
        && parts.len() == 1
        && let Some(Value::Object(only)) = parts.first().cloned()
    {
        out.remove("allOf");
        for (k, v) in only {
            out.entry(k).or_insert(v);
        }
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
                if let Some(Value::Array(allowed)) = out.get_mut("enum") {
                    allowed.push(Value::Null);
                }
            }
            _ => return json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
        }
    }
    Value::Object(out)
}

/// A root `oneOf` of objects, made one object: every property of every alternative,
/// required only where all require it (many assistants refuse a `oneOf` at the root
/// of a tool's arguments; the server still checks the alternative's own rules).
fn flatten_alternatives(schema: Value) -> Value {
    let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array).cloned() else {
        return schema;
    };
    let mut props = Map::new();
    let mut required: Option<Vec<Value>> = None;
    for alt in &alternatives {
        for (name, s) in alt["properties"].as_object().into_iter().flatten() {
            match props.get_mut(name) {
                // `auth_kind: bearer` and `auth_kind: header` are one enum of both.
                Some(Value::Object(seen)) => {
                    if let (Some(Value::Array(a)), Some(Value::Array(b))) =
                        (seen.get_mut("enum"), s.get("enum"))
                    {
                        a.extend(b.iter().cloned());
                        seen.remove("description");
                    }
                }
                _ => {
                    props.insert(name.clone(), s.clone());
                }
            }
        }
        let own: Vec<Value> = alt["required"].as_array().cloned().unwrap_or_default();
        required = Some(match required {
            None => own,
            Some(all) => all.into_iter().filter(|r| own.contains(r)).collect(),
        });
    }
    let mut out = json!({ "type": "object", "properties": props, "additionalProperties": false });
    if let Some(d) = schema.get("description") {
        out["description"] = d.clone();
    }
    out["required"] = Value::Array(required.unwrap_or_default());
    out
}

/// The page a list tool answers with: the route's items (each of schema `item`), and
/// where the next page starts.
fn page_of(item: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": item},
            "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor for the next page"}
        },
        "required": ["items", "next_cursor"],
        "additionalProperties": false
    })
}

/// The schemas of `tool`, from the operation it mirrors in `spec`.
pub fn of(tool: &ToolSpec, spec: &Value) -> ToolSchemas {
    let (method, path) = tool.route;
    let op = &spec["paths"][path][method.to_lowercase()];
    let mut input = Map::new();
    let mut required = Vec::new();
    for param in op["parameters"].as_array().into_iter().flatten() {
        if !matches!(param["in"].as_str(), Some("path" | "query")) {
            continue;
        }
        let Some(name) = param["name"].as_str() else {
            continue;
        };
        let mut s = json_schema(&param["schema"], spec);
        if let Some(d) = param.get("description") {
            s["description"] = d.clone();
        }
        if param["required"] == true {
            required.push(Value::from(name));
        }
        input.insert(name.to_owned(), s);
    }
    if let Some(body) = op.pointer("/requestBody/content/application~1json/schema") {
        let body = flatten_alternatives(json_schema(body, spec));
        for (name, s) in body["properties"].as_object().into_iter().flatten() {
            input.insert(name.clone(), s.clone());
        }
        required.extend(body["required"].as_array().cloned().unwrap_or_default());
    }
    let input = json!({
        "type": "object",
        "properties": input,
        "required": required,
        "additionalProperties": false
    });
    let success = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .find(|(code, _)| code.starts_with('2'))
        .map(|(_, r)| r);
    let text = success
        .and_then(|r| r["content"].as_object())
        .is_some_and(|content| content.keys().any(|k| k.starts_with("text/plain")));
    let output = match success.and_then(|r| r.pointer("/content/application~1json/schema")) {
        Some(s) => {
            let s = json_schema(s, spec);
            if s["type"] == "array" {
                page_of(s["items"].clone())
            } else {
                s
            }
        }
        // Text: the tool answers it as one field.
        None if text => json!({
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
            "additionalProperties": false
        }),
        // 204: the tool says what it did.
        None => json!({
            "type": "object",
            "properties": {"deleted": {"type": "boolean"}},
            "required": ["deleted"],
            "additionalProperties": false
        }),
    };
    ToolSchemas { input, output }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_becomes_a_null_type_and_references_are_inlined() {
        let spec = json!({"components": {"schemas": {
            "Limit": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
            "Key": {"type": "object", "properties": {
                "expires_at": {"type": "string", "format": "date-time", "nullable": true, "example": "x"},
                "kind": {"type": "string", "enum": ["a", "b"], "nullable": true},
                "limit": {"allOf": [{"$ref": "#/components/schemas/Limit"}], "nullable": true},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Limit"}}
            }}
        }}});
        let s = json_schema(&json!({"$ref": "#/components/schemas/Key"}), &spec);
        assert_eq!(
            s["properties"]["expires_at"],
            json!({"type": ["string", "null"], "format": "date-time"})
        );
        assert_eq!(
            s["properties"]["kind"],
            json!({"type": ["string", "null"], "enum": ["a", "b", null]})
        );
        assert_eq!(
            s["properties"]["limit"],
            json!({"type": ["object", "null"], "properties": {"n": {"type": "integer"}}, "required": ["n"]})
        );
        assert_eq!(s["properties"]["tags"]["items"]["required"], json!(["n"]));
    }
}
