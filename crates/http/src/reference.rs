//! `GET /docs/api`: a readable API reference rendered from the finished OpenAPI
//! document once, when the application is built. Plain HTML and CSS: no JavaScript.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes text and renders `code spans` as `<code>`.
fn prose(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(&part.replace("\n\n", "</p><p>"));
        }
    }
    format!("<p>{out}</p>")
}

fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?.as_str()?.rsplit('/').next()
}

/// A one-line type: `string (uuid)`, `array of Instance`, a link to a schema.
fn type_of(v: &Value) -> String {
    if let Some(name) = ref_name(v) {
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    if let Some(all) = v
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return type_of(all);
    }
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("any");
    match ty {
        "array" => format!("array of {}", v.get("items").map_or("any".into(), type_of)),
        _ => match v.get("format").and_then(Value::as_str) {
            Some(f) => format!("{ty} ({f})"),
            None => match v.get("enum").and_then(Value::as_array) {
                Some(vals) => format!(
                    "{ty}: {}",
                    vals.iter()
                        .filter_map(Value::as_str)
                        .map(|s| format!("<code>{}</code>", esc(s)))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ),
                None => ty.to_owned(),
            },
        },
    }
}

/// An example value for a schema, from its examples, enums and types.
pub(crate) fn example(v: &Value, schemas: &serde_json::Map<String, Value>, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(e) = v.get("example") {
        return e.clone();
    }
    if let Some(name) = ref_name(v) {
        return schemas
            .get(name)
            .map_or(Value::Null, |s| example(s, schemas, depth + 1));
    }
    if let Some(first) = v
        .get("allOf")
        .or_else(|| v.get("oneOf"))
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return example(first, schemas, depth + 1);
    }
    if let Some(first) = v
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return first.clone();
    }
    match v.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut out = serde_json::Map::new();
            let required: Vec<&str> = v
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = v.get("properties").and_then(Value::as_object) {
                for (k, p) in props {
                    if required.contains(&k.as_str()) || p.get("example").is_some() {
                        out.insert(k.clone(), example(p, schemas, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
        Some("array") => {
            json!([v
                .get("items")
                .map_or(Value::Null, |i| example(i, schemas, depth + 1))])
        }
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("string") => match v.get("format").and_then(Value::as_str) {
            Some("uuid") => json!("3fa85f64-5717-4562-b3fc-2c963f66afa6"),
            Some("date-time") => json!("2026-11-28T15:04:19.123456Z"),
            _ => json!("string"),
        },
        _ => Value::Null,
    }
}

fn fields_table(schema: &Value) -> String {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return String::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out =
        String::from("<table><tr><th>field</th><th>type</th><th></th><th>description</th></tr>");
    for (name, p) in props {
        let req = if required.contains(&name.as_str()) {
            "required"
        } else if p.get("nullable") == Some(&Value::Bool(true)) {
            "nullable"
        } else {
            ""
        };
        let desc = p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{req}</td><td>{}</td></tr>",
            esc(name),
            type_of(p),
            esc(desc)
        );
    }
    out.push_str("</table>");
    out
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:0 auto;padding:1rem 2rem;color:#1b1f24}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f4f6f8;padding:.75rem;overflow:auto;border-radius:6px}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
.op{border-top:1px solid #d0d7de;padding-top:.5rem;margin-top:1.5rem}.m{font-weight:700;padding:.1rem .4rem;border-radius:4px;color:#fff;background:#57606a}
.get{background:#1f6feb}.post{background:#1a7f37}.patch{background:#9a6700}.delete{background:#cf222e}nav ul{columns:2}";

/// Renders the reference page.
pub fn render(spec: &Value) -> String {
    let empty = serde_json::Map::new();
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let info = &spec["info"];
    let mut by_tag: BTreeMap<String, Vec<(String, String, &Value)>> = BTreeMap::new();
    if let Some(paths) = spec["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let tag = op["tags"][0].as_str().unwrap_or("Other").to_owned();
                by_tag
                    .entry(tag)
                    .or_default()
                    .push((method.clone(), path.clone(), op));
            }
        }
    }
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} — API reference</title><style>{STYLE}</style></head><body><h1>{} <small>{}</small></h1>{}",
        esc(info["title"].as_str().unwrap_or("API")),
        esc(info["title"].as_str().unwrap_or("API")),
        esc(info["version"].as_str().unwrap_or_default()),
        prose(info["description"].as_str().unwrap_or_default()),
    );
    html.push_str("<h2>Authentication</h2><ul>");
    for (name, scheme) in spec
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let _ = write!(
            html,
            "<li><b>{}</b>: {}</li>",
            esc(name),
            prose(scheme["description"].as_str().unwrap_or_default())
        );
    }
    html.push_str("</ul><nav><h2>Operations</h2><ul>");
    for (tag, ops) in &by_tag {
        for (method, path, op) in ops {
            let id = op["operationId"].as_str().unwrap_or_default();
            let _ = write!(
                html,
                "<li><a href=\"#{id}\">{}</a> <small>{} · {} {}</small></li>",
                esc(op["summary"].as_str().unwrap_or(id)),
                esc(tag),
                method.to_uppercase(),
                esc(path)
            );
        }
    }
    html.push_str("</ul></nav>");
    for (tag, ops) in &by_tag {
        let _ = write!(html, "<h2 id=\"tag-{0}\">{0}</h2>", esc(tag));
        for (method, path, op) in ops {
            let id = op["operationId"].as_str().unwrap_or_default();
            let _ = write!(
                html,
                "<section class=\"op\" id=\"{id}\"><h3>{}</h3><p><span class=\"m {method}\">{}</span> <code>{}</code> · <code>{id}</code></p>{}",
                esc(op["summary"].as_str().unwrap_or(id)),
                method.to_uppercase(),
                esc(path),
                prose(op["description"].as_str().unwrap_or_default()),
            );
            let auth = match op["security"].as_array() {
                Some(reqs) => reqs
                    .iter()
                    .filter_map(|r| r.as_object()?.keys().next().cloned())
                    .collect::<Vec<_>>()
                    .join(" or "),
                None => "none".to_owned(),
            };
            let scope = op["x-required-scope"]
                .as_str()
                .map_or("none".to_owned(), |s| format!("<code>{s}</code>"));
            let _ = write!(
                html,
                "<p><b>Auth:</b> {} · <b>Scope:</b> {scope}</p>",
                esc(&auth)
            );
            if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                html.push_str("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th></th><th>description</th></tr>");
                for p in params {
                    let _ = write!(
                        html,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(p["name"].as_str().unwrap_or_default()),
                        esc(p["in"].as_str().unwrap_or_default()),
                        type_of(&p["schema"]),
                        if p["required"] == Value::Bool(true) {
                            "required"
                        } else {
                            ""
                        },
                        esc(p["description"].as_str().unwrap_or_default()),
                    );
                }
                html.push_str("</table>");
            }
            if let Some(body) = op.pointer("/requestBody/content/application~1json/schema") {
                let resolved = ref_name(body).and_then(|n| schemas.get(n)).unwrap_or(body);
                let _ = write!(
                    html,
                    "<h4>Request body</h4><p>{}</p>{}<pre>{}</pre>",
                    type_of(body),
                    fields_table(resolved),
                    esc(&serde_json::to_string_pretty(&example(body, schemas, 0))
                        .unwrap_or_default())
                );
            }
            html.push_str("<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>");
            for (status, r) in op["responses"].as_object().into_iter().flatten() {
                let body = r
                    .pointer("/content/application~1json/schema")
                    .map_or(String::new(), type_of);
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td>{body}</td></tr>",
                    esc(status),
                    esc(r["description"].as_str().unwrap_or_default())
                );
            }
            html.push_str("</table></section>");
        }
    }
    html.push_str("<h2>Schemas</h2>");
    for (name, schema) in schemas {
        let _ = write!(
            html,
            "<section id=\"schema-{0}\"><h3>{0}</h3>{1}{2}</section>",
            esc(name),
            schema["description"]
                .as_str()
                .map(prose)
                .unwrap_or_default(),
            fields_table(schema)
        );
    }
    html.push_str("</body></html>\n");
    html
}
