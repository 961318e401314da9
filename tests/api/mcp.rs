//! `/mcp` driven by the official MCP Python SDK (both its 1.x and 2.x lines), then the
//! call log and the whole database checked: exactly those calls, no argument anywhere.

use std::process::Command;

use hydracore_api_tests::{TestApp, api_tests};
use serde_json::{Value, json};

/// The Python interpreters with the SDK installed (`.ci/run` sets this).
fn pythons() -> Vec<String> {
    hydracore_core::testing::needs("HYDRACORE_MCP_PYTHONS", "HYDRACORE_REQUIRE_MCP_CLIENTS")
        .map(|list| list.split(':').map(str::to_owned).collect())
        .unwrap_or_default()
}

fn official_clients_drive_mcp_and_every_call_is_logged(app: &TestApp) {
    for python in pythons() {
        let tenant = app.tenant("mcp");
        let full = app.key(
            tenant,
            &["instances:read", "instances:write", "mcp-log:read"],
        );
        let readonly = app.key(tenant, &["instances:read"]);
        let marker = format!("MARK{}", uuid::Uuid::new_v4().simple());
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp/client.py");
        let out = Command::new(&python)
            .arg(&script)
            .args([&format!("{}/mcp", app.address), &full, &readonly, &marker])
            .output()
            .expect("run the MCP client");
        assert!(
            out.status.success(),
            "{python}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("client report");
        let line = report["line"].as_i64().unwrap();

        // A read-only key sees only read tools; the fuller key sees writes too.
        let ro = report["readonly_tools"].as_object().unwrap();
        assert!(
            ro.contains_key("instances_list") && ro.contains_key("scopes_list"),
            "{line}: {ro:?}"
        );
        assert!(!ro.contains_key("instances_create") && !ro.contains_key("instances_delete"));
        assert!(
            ro.values()
                .all(|t| t["read_only"] == true && t["has_output_schema"] == true)
        );
        let full_tools = report["full_tools"].as_object().unwrap();
        assert!(full_tools.contains_key("instances_create"));
        assert!(!full_tools.contains_key("mcp_credentials_create"));
        assert!(report["protocol"].as_str().unwrap().starts_with("20"));

        assert_eq!(report["list"]["is_error"], false);
        assert_eq!(
            report["create"]["is_error"], false,
            "{line}: {}",
            report["create"]
        );
        assert_eq!(
            report["create"]["structured"]["name"],
            format!("mcp-py{line}")
        );
        assert_eq!(report["invalid"]["is_error"], true);
        assert_eq!(report["denied"]["is_error"], true);
        assert_eq!(report["unknown"], "rpc-error");

        // The instance exists for the HTTP API too.
        let listed = app.get("/v1/instances", &full).json();
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["name"] == format!("mcp-py{line}"))
        );

        // The call log holds exactly the four tools/call of known tools, in order.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let log = app.get("/v1/mcp/call-log", &full);
        assert_eq!(log.status, 200);
        let rows: Vec<(String, String, String)> = log
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["tool"].as_str().unwrap().to_owned(),
                    r["status"].as_str().unwrap().to_owned(),
                    r["scope"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected = [
            ("instances_list", "ok", "instances:read"),
            ("instances_create", "ok", "instances:write"),
            ("instances_create", "error", "instances:write"),
            ("mcp_credentials_create", "denied", "mcp-creds:write"),
        ];
        let expected: Vec<(String, String, String)> = expected
            .iter()
            .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
            .collect();
        assert_eq!(rows, expected, "python line {line}");
        assert!(
            log.json()
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["latency_us"].as_i64().unwrap() >= 0)
        );

        // No argument value reached any table.
        assert!(
            !app.database_text().contains(&marker),
            "an MCP argument was stored (line {line})"
        );
    }
}

/// One `tools/call` over plain HTTP: the tool's result.
fn call_tool(app: &TestApp, key: &str, name: &str, arguments: Value) -> Value {
    let rpc = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/mcp", app.address))
        .header("X-Api-Key", key)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": name, "arguments": arguments}})
            .to_string(),
        )
        .unwrap();
    let res = app.send(rpc);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["result"].clone()
}

/// `instances_logs` answers the route's text as `{"text": …}`, and its `tail` keeps the
/// route's bounds: each bad value is an error result naming `tail`, never a log.
fn the_log_tool_keeps_the_routes_bounds(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let id = app
        .post(
            "/v1/instances",
            &key,
            &json!({"name": "quiet", "start": true}),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = call_tool(
        app,
        &key,
        "instances_logs",
        json!({"instance_id": id, "tail": 10}),
    );
    assert_eq!(ok["isError"], false, "{ok}");
    assert_eq!(ok["structuredContent"], json!({"text": ""}));
    for (tail, said) in [
        (json!(0), "greater than or equal to 1"),
        (json!(10_001), "less than or equal to 10000"),
        (json!("ten"), "valid integer"),
        (json!(2.5), "valid integer"),
    ] {
        let bad = call_tool(
            app,
            &key,
            "instances_logs",
            json!({"instance_id": id, "tail": tail}),
        );
        assert_eq!(bad["isError"], true, "{tail}: {bad}");
        let text = bad["content"][0]["text"].as_str().unwrap();
        assert!(
            text.contains("tail") && text.contains(said),
            "{tail}: {text}"
        );
    }
    let extra = call_tool(
        app,
        &key,
        "instances_logs",
        json!({"instance_id": id, "lines": 5}),
    );
    assert_eq!(extra["isError"], true, "{extra}");
}

fn mcp_needs_a_credential_first(app: &TestApp) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let res = app.request("POST", "/mcp", None, Some(&body));
    assert_eq!(res.status, 401);
    assert_eq!(res.json(), json!({"detail": "Not authenticated"}));
    let res = app.request("POST", "/mcp", Some("hc_live_nope"), Some(&body));
    assert_eq!(res.status, 401);
}

/// A `Host` the server does not serve MCP under is refused in the documented shape,
/// before the key is even looked at: no rate budget is spent on it.
fn a_foreign_host_is_refused_before_any_budget_is_spent(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:*"]);
    let minted = app.post(
        "/v1/api-keys",
        &admin,
        &json!({"name": "mcp", "scopes": ["instances:read"],
                "rate_limit": {"requests": 5, "per_seconds": 86400}}),
    );
    assert_eq!(minted.status, 201, "{}", minted.body);
    let key = minted.json()["key"].as_str().unwrap().to_owned();
    let remaining = |res: &hydracore_api_tests::TestResponse| -> u32 {
        res.header("x-ratelimit-remaining")
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = remaining(&app.get("/v1/mcp/api-key-context", &key));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    for host in ["evil.example", "rebind.attacker.test:8000"] {
        let request = format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\nX-Api-Key: {key}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (raw, _) = app.raw(request.as_bytes(), std::time::Duration::from_secs(5));
        let (head, payload) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 403"), "{raw}");
        assert!(
            head.to_lowercase()
                .contains("content-type: application/json"),
            "{raw}"
        );
        let detail: Value = serde_json::from_str(payload).unwrap();
        assert!(
            detail["detail"]
                .as_str()
                .unwrap()
                .contains("HYDRACORE_MCP_ALLOWED_HOSTS"),
            "{detail}"
        );
    }
    let after = remaining(&app.get("/v1/mcp/api-key-context", &key));
    assert_eq!(after, before - 1, "only the two context calls were counted");
}

/// The directory with the official MCP TypeScript SDK installed (`.ci/run` sets it).
fn typescript_sdk() -> Option<std::path::PathBuf> {
    hydracore_core::testing::needs("HYDRACORE_MCP_TS", "HYDRACORE_REQUIRE_MCP_CLIENTS")
        .map(Into::into)
}

/// Every tool, called by the official SDKs: each call's result validates against the
/// tool's own `outputSchema` (the TypeScript SDK refuses one that does not; the Python
/// run checks with a JSON Schema 2020-12 validator), nulls included.
fn every_tool_answers_within_its_own_schemas(app: &TestApp) {
    let tenant = app.tenant("every-tool");
    let key = app.key(
        tenant,
        &[
            "instances:*",
            "api-keys:*",
            "mcp-creds:*",
            "mcp-log:read",
            "audit-log:read",
        ],
    );
    let url = format!("{}/mcp", app.address);
    let all: Vec<&str> = hydracore_mcp::TOOLS.iter().map(|t| t.name).collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp");
    for python in pythons() {
        let out = Command::new(&python)
            .arg(dir.join("every_tool.py"))
            .args([&url, &key])
            .output()
            .expect("run the MCP client");
        assert!(
            out.status.success(),
            "{python}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("client report");
        let line = &report["line"];
        for name in &all {
            let t = &report["tools"][name];
            assert_eq!(t["is_error"], false, "python {line}, {name}: {t}");
            assert_eq!(
                t["input"],
                json!([]),
                "python {line}, {name}: arguments vs inputSchema"
            );
            assert_eq!(
                t["output"],
                json!([]),
                "python {line}, {name}: result vs outputSchema"
            );
        }
        let nulls = &report["tools"]["api_key_context"]["structured"]["rate_limit"];
        assert!(nulls.is_null(), "the key has no limit of its own: {nulls}");
    }
    if let Some(sdk) = typescript_sdk() {
        let script = sdk.join("every_tool.mjs");
        std::fs::copy(dir.join("every_tool.mjs"), &script).unwrap();
        let out = Command::new("node")
            .arg(&script)
            .args([&url, &key])
            .output()
            .expect("node");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("client report");
        for name in &all {
            let t = &report["tools"][name];
            assert_eq!(t["ok"], true, "typescript, {name}: {t}");
        }
    }
}

api_tests!(
    the_log_tool_keeps_the_routes_bounds,
    every_tool_answers_within_its_own_schemas,
    official_clients_drive_mcp_and_every_call_is_logged,
    mcp_needs_a_credential_first,
    a_foreign_host_is_refused_before_any_budget_is_spent,
);

#[test]
fn every_tool_mirrors_a_route_with_the_same_scope() {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for tool in hydracore_mcp::TOOLS.iter() {
        let (method, path) = tool.route;
        let op = &spec["paths"][path][method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} mirrors {method} {path}, which the spec lacks",
            tool.name
        );
        let expected = tool
            .scope()
            .map_or(Value::Null, |s| Value::from(s.to_string()));
        assert_eq!(
            op["x-required-scope"], expected,
            "{}: scope differs from {method} {path}",
            tool.name
        );
        assert_eq!(
            tool.read_only,
            method == "GET",
            "{}: readOnlyHint must match the method",
            tool.name
        );
        assert_eq!(
            tool.destructive,
            method == "DELETE",
            "{}: destructiveHint",
            tool.name
        );
    }
}

/// The schema a `$ref` names in `spec`, or `schema` itself.
fn resolved<'s>(schema: &'s Value, spec: &'s Value) -> &'s Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => spec
            .pointer(&format!(
                "/components/{}",
                r.trim_start_matches("#/components/")
            ))
            .unwrap_or(schema),
        None => match schema.get("allOf").and_then(Value::as_array) {
            Some(parts) if parts.len() == 1 => resolved(&parts[0], spec),
            _ => schema,
        },
    }
}

fn types(schema: &Value) -> Vec<String> {
    match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => schema["anyOf"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(types)
            .collect(),
    }
}

/// Every tool's schemas say what its route's do, checked here from the spec itself:
/// each rule of a request field (lengths, patterns, enums, bounds) is in the tool's
/// input schema, which takes no unknown field; each field of the response is in its
/// output schema, required alike, and nullable exactly where the spec says so.
#[test]
fn every_tool_schema_says_what_its_route_says() {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for tool in hydracore_mcp::TOOLS.iter() {
        let schemas = hydracore_mcp::schema::of(tool, &spec);
        let (method, path) = tool.route;
        let op = &spec["paths"][path][method.to_lowercase()];
        let name = tool.name;
        assert_eq!(schemas.input["additionalProperties"], false, "{name}");
        // Request fields and their rules.
        let mut request = Vec::new();
        if let Some(body) = op.pointer("/requestBody/content/application~1json/schema") {
            let body = resolved(body, &spec);
            let alternatives: Vec<&Value> = match body["oneOf"].as_array() {
                Some(alts) => alts.iter().collect(),
                None => vec![body],
            };
            for alt in alternatives {
                for (field, rule) in resolved(alt, &spec)["properties"].as_object().unwrap() {
                    request.push((field.clone(), resolved(rule, &spec).clone()));
                }
            }
        }
        for param in op["parameters"].as_array().into_iter().flatten() {
            if matches!(param["in"].as_str(), Some("path" | "query")) {
                request.push((
                    param["name"].as_str().unwrap().to_owned(),
                    param["schema"].clone(),
                ));
                if param["required"] == true {
                    let required = schemas.input["required"].as_array().unwrap();
                    assert!(
                        required.contains(&param["name"]),
                        "{name}: {}",
                        param["name"]
                    );
                }
            }
        }
        for (field, rule) in &request {
            let theirs = &schemas.input["properties"][field];
            assert!(theirs.is_object(), "{name}: no argument {field}");
            for key in [
                "minLength",
                "maxLength",
                "pattern",
                "minimum",
                "maximum",
                "format",
            ] {
                assert_eq!(theirs.get(key), rule.get(key), "{name}.{field}: {key}");
            }
            if let Some(allowed) = rule["enum"].as_array() {
                let mine = theirs["enum"].as_array().unwrap();
                assert!(
                    allowed.iter().all(|v| mine.contains(v)),
                    "{name}.{field}: enum"
                );
            }
        }
        // Response fields: present, required alike, nullable exactly where the spec is.
        let success = op["responses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(code, _)| code.starts_with('2'))
            .map(|(_, r)| r)
            .unwrap();
        let Some(schema) = success.pointer("/content/application~1json/schema") else {
            let text = success["content"]
                .as_object()
                .is_some_and(|c| c.keys().any(|k| k.starts_with("text/plain")));
            let answer = if text { "text" } else { "deleted" };
            assert_eq!(schemas.output["required"], json!([answer]), "{name}");
            continue;
        };
        let (route_item, tool_item) = if schema["type"] == "array" {
            (
                resolved(&schema["items"], &spec),
                &schemas.output["properties"]["items"]["items"],
            )
        } else {
            (resolved(schema, &spec), &schemas.output)
        };
        assert_eq!(
            tool_item["required"], route_item["required"],
            "{name}: required"
        );
        for (field, rule) in route_item["properties"].as_object().unwrap() {
            let theirs = &tool_item["properties"][field];
            assert!(theirs.is_object(), "{name}: no result field {field}");
            let nullable = rule["nullable"] == true;
            assert_eq!(
                types(theirs).contains(&"null".to_owned()),
                nullable,
                "{name}.{field}: nullable"
            );
        }
    }
}
