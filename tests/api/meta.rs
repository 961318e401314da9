//! The scope catalogue, probes, the live spec and its snapshot, Swagger UI.

use hydracore_api_tests::{TestApp, api_tests};
use serde_json::{Value, json};

fn scopes_lists_the_catalogue(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:read"]);
    let res = app.get("/v1/scopes", &key);
    assert_eq!(res.status, 200);
    let scopes: Vec<String> = res
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "instances:read",
        "instances:write",
        "instances:delete",
        "instances:*",
        "api-keys:read",
        "api-keys:write",
        "mcp-creds:read",
        "mcp-creds:write",
        "mcp-log:read",
        "members:read",
        "members:write",
        "tenants:read",
        "tenants:write",
        "entities:*",
        "forms:*",
        "email:*",
    ] {
        assert!(scopes.iter().any(|s| s == expected), "{expected} missing");
    }
    // Each scope says what holding it allows: no two verbs of a resource read alike.
    let body = res.json();
    let line = |scope: &str| {
        body.as_array()
            .unwrap()
            .iter()
            .find(|s| s["scope"] == scope)
            .and_then(|s| s["description"].as_str())
            .unwrap()
            .to_owned()
    };
    assert_eq!(line("instances:delete"), "Delete instances");
    assert_ne!(line("instances:read"), line("instances:write"));
    assert!(
        line("instances:*").contains("Every verb"),
        "{}",
        line("instances:*")
    );
    assert_eq!(app.request("GET", "/v1/scopes", None, None).status, 401);
}

fn probes_answer_without_credentials(app: &TestApp) {
    let health = app.request("GET", "/healthz", None, None);
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    let ready = app.request("GET", "/readyz", None, None);
    assert_eq!((ready.status, ready.json()), (200, json!({"status": "ok"})));
}

/// The path of `docs/openapi.json` in the repository.
fn snapshot_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

fn live_spec_matches_the_snapshot_and_documents_every_route(app: &TestApp) {
    let res = app.request("GET", "/openapi.json", None, None);
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let spec = res.json();
    assert_eq!(spec["openapi"], "3.0.3");
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["ApiKeyHeader"]["name"], "X-Api-Key");
    assert_eq!(schemes["BearerAuth"]["scheme"], "bearer");
    let expect = [
        (
            "/v1/instances",
            "get",
            Some("instances:read"),
            &["401", "403", "422"][..],
        ),
        (
            "/v1/instances",
            "post",
            Some("instances:write"),
            &["201", "401", "403", "409", "422"][..],
        ),
        (
            "/v1/instances/{instance_id}",
            "get",
            Some("instances:read"),
            &["404", "422"][..],
        ),
        (
            "/v1/instances/{instance_id}",
            "patch",
            Some("instances:write"),
            &["404", "409", "422"][..],
        ),
        (
            "/v1/instances/{instance_id}",
            "delete",
            Some("instances:delete"),
            &["204", "404"][..],
        ),
        (
            "/v1/instances/{instance_id}/start",
            "post",
            Some("instances:write"),
            &["404", "409"][..],
        ),
        (
            "/v1/instances/{instance_id}/stop",
            "post",
            Some("instances:write"),
            &["404", "409"][..],
        ),
        ("/v1/api-keys", "get", Some("api-keys:read"), &["200"][..]),
        (
            "/v1/api-keys",
            "post",
            Some("api-keys:write"),
            &["201", "403", "422"][..],
        ),
        (
            "/v1/api-keys/{key_id}",
            "get",
            Some("api-keys:read"),
            &["404"][..],
        ),
        (
            "/v1/api-keys/{key_id}",
            "patch",
            Some("api-keys:write"),
            &["404", "422"][..],
        ),
        (
            "/v1/api-keys/{key_id}",
            "delete",
            Some("api-keys:write"),
            &["204", "404"][..],
        ),
        ("/v1/scopes", "get", None, &["200", "401"][..]),
        ("/v1/mcp/api-key-context", "get", None, &["200", "401"][..]),
    ];
    for (path, method, scope, statuses) in expect {
        let op = &spec["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(op["operationId"].is_string(), "{method} {path} operationId");
        assert!(op["summary"].is_string(), "{method} {path} summary");
        assert!(op["tags"].is_array(), "{method} {path} tags");
        assert_eq!(
            op["x-required-scope"],
            scope.map_or(Value::Null, Value::from),
            "{method} {path}"
        );
        let security = if path == "/v1/mcp/api-key-context" {
            // It describes the calling key: user tokens are 403.
            json!([{"ApiKeyHeader": []}])
        } else {
            json!([{"ApiKeyHeader": []}, {"BearerAuth": []}])
        };
        assert_eq!(op["security"], security, "{method} {path}");
        for status in statuses {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path} lacks {status}"
            );
        }
        for status in ["401", "503"] {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path} lacks {status}"
            );
        }
    }
    let key = &spec["components"]["schemas"]["ApiKey"]["properties"];
    assert_eq!(key["created_at"]["format"], "date-time");
    assert_eq!(key["expires_at"]["nullable"], true);
    assert_eq!(key["id"]["format"], "uuid");

    let path = snapshot_path();
    if std::env::var("UPDATE_SPEC").as_deref() == Ok("1") {
        std::fs::write(&path, &res.body).expect("write docs/openapi.json");
    }
    let snapshot = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        snapshot == res.body,
        "docs/openapi.json is stale: run `cargo xtask openapi` and commit it"
    );
}

fn swagger_ui_is_served_offline(app: &TestApp) {
    let page = app.request("GET", "/docs/", None, None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("swagger-ui"));
    assert!(page.body.contains("/openapi.json"));
    let bundle = app.request("GET", "/docs/swagger-ui-bundle.js", None, None);
    assert_eq!(bundle.status, 200);
    assert!(bundle.body.len() > 100_000);
    assert_eq!(app.request("GET", "/docs", None, None).status, 308);
}

fn the_static_reference_names_every_operation(app: &TestApp) {
    let page = app.request("GET", "/docs/api", None, None);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(!page.body.contains("<script"), "no JavaScript");
    let spec = app.request("GET", "/openapi.json", None, None).json();
    let mut n = 0;
    for (_, ops) in spec["paths"].as_object().unwrap() {
        for (_, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(page.body.contains(&format!("id=\"{id}\"")), "{id} missing");
            assert!(
                page.body.contains(op["summary"].as_str().unwrap()),
                "{id} summary missing"
            );
            n += 1;
        }
    }
    assert!(n >= 30, "{n}");
    assert!(page.body.contains("<code>instances:write</code>"));
    assert!(page.body.contains("id=\"schema-Instance\""));
}

fn redoc_is_served_offline(app: &TestApp) {
    let page = app.request("GET", "/redoc", None, None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<redoc spec-url=\"/openapi.json\">"));
    assert!(page.body.contains("/redoc/redoc.standalone.js"));
    assert!(!page.body.contains("http"), "no external asset");
    let js = app.request("GET", "/redoc/redoc.standalone.js", None, None);
    assert_eq!(js.status, 200);
    assert!(js.body.len() > 500_000);
}

fn metrics_count_requests_by_route(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:read"]);
    for _ in 0..3 {
        assert_eq!(app.get("/v1/instances", &key).status, 200);
    }
    let id = uuid::Uuid::new_v4();
    assert_eq!(app.get(&format!("/v1/instances/{id}"), &key).status, 404);
    let res = app.request("GET", "/metrics", None, None);
    assert_eq!(res.status, 200);
    let text = res.body;
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("hydracore_http_requests_total{")
                && l.contains("route=\"/v1/instances\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no request counter in:\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    // Labels are route patterns, never raw paths with ids.
    assert!(text.contains("route=\"/v1/instances/{instance_id}\""));
    assert!(!text.contains(&id.to_string()));
    assert!(text.contains("hydracore_http_request_duration_seconds_bucket"));
    for gauge in [
        "hydracore_db_pool_connections",
        "hydracore_mcp_call_log_backlog",
        "hydracore_mcp_call_log_dropped",
        "hydracore_rate_limit_rejections_total",
    ] {
        assert!(text.contains(gauge), "{gauge} missing");
    }
    assert!(text.trim_end().ends_with("# EOF"));
}

/// A client chooses the method and the path; neither may add a label value.
fn metrics_labels_are_bounded_whatever_clients_send(app: &TestApp) {
    let marker = format!("zz{}", uuid::Uuid::new_v4().simple());
    for i in 0..5 {
        let method = format!("{}{i}", marker.to_uppercase());
        let request =
            format!("{method} /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let (raw, _) = app.raw(request.as_bytes(), std::time::Duration::from_secs(5));
        assert!(raw.starts_with("HTTP/1.1 405"), "{raw}");
        assert_eq!(
            app.request("GET", &format!("/{marker}/{i}"), None, None)
                .status,
            404
        );
    }
    let text = app.request("GET", "/metrics", None, None).body;
    assert!(!text.to_lowercase().contains(&marker), "{text}");
    let counted = |method: &str, route: &str| {
        text.lines().any(|l| {
            l.starts_with("hydracore_http_requests_total{")
                && l.contains(&format!("method=\"{method}\""))
                && l.contains(&format!("route=\"{route}\""))
                && l.ends_with(" 5")
        })
    };
    assert!(counted("other", "/healthz"), "{text}");
    assert!(counted("GET", "unmatched"), "{text}");
}

api_tests!(
    metrics_labels_are_bounded_whatever_clients_send,
    metrics_count_requests_by_route,
    scopes_lists_the_catalogue,
    probes_answer_without_credentials,
    live_spec_matches_the_snapshot_and_documents_every_route,
    swagger_ui_is_served_offline,
    redoc_is_served_offline,
    the_static_reference_names_every_operation,
    the_quickstart_runs_as_written,
);

/// The commands of `docs/quickstart.md`, run as written against this server.
fn the_quickstart_runs_as_written(app: &TestApp) {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/quickstart.md"),
    )
    .expect("docs/quickstart.md");
    let start = doc.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let script = &doc[start..start + doc[start..].find("```").expect("closed block")];
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("HC", &app.address)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "running\nweb-1\n");
}
