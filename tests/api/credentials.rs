//! `/v1/mcp/credentials`: stored sealed, never shown.

use hydracore_api_tests::{TestApp, api_tests};
use serde_json::json;

const SECRET: &str = "ghp_ZX81-very-secret-token-9fd2";

fn credentials_are_sealed_and_never_returned(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["mcp-creds:read", "mcp-creds:write"]);
    let res = app.post(
        "/v1/mcp/credentials",
        &key,
        &json!({"name": "github", "server_url": "https://mcp.example.com/mcp", "auth_kind": "header",
                "header_name": "X-Api-Token", "secret": SECRET}),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let created = res.json();
    assert_eq!(created["auth_kind"], "header");
    assert_eq!(created["header_name"], "X-Api-Token");
    assert_eq!(created["has_secret"], true);
    assert_eq!(created["secret_last4"], "9fd2");
    let id = created["id"].as_str().unwrap();
    let fetched = app.get(&format!("/v1/mcp/credentials/{id}"), &key);
    let listed = app.get("/v1/mcp/credentials", &key);
    for body in [&res.body, &fetched.body, &listed.body] {
        assert!(!body.contains(SECRET));
        assert!(!body.contains("very-secret"));
    }
    assert_eq!(fetched.json(), created);
    // The plaintext is nowhere in the database file either.
    if let Some(db) = app.sqlite_file() {
        let mut raw = std::fs::read(db).unwrap_or_default();
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        raw.extend(std::fs::read(wal).unwrap_or_default());
        assert!(
            !raw.windows(11).any(|w| w == b"very-secret"),
            "plaintext secret in the SQLite files"
        );
        assert!(!raw.windows(6).any(|w| w == b"ZX81-v"));
    }
    let bearer = app.post(
        "/v1/mcp/credentials",
        &key,
        &json!({"name": "linear", "server_url": "https://linear.example.com", "auth_kind": "bearer", "secret": "short"}),
    );
    assert_eq!(bearer.status, 201);
    assert_eq!(bearer.json()["secret_last4"], json!(null));
    assert_eq!(bearer.json()["header_name"], json!(null));
    assert_eq!(
        app.delete(&format!("/v1/mcp/credentials/{id}"), &key)
            .status,
        204
    );
    assert_eq!(
        app.get(&format!("/v1/mcp/credentials/{id}"), &key).status,
        404
    );
}

fn bad_credentials_are_422_and_names_unique(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["mcp-creds:write", "mcp-creds:read"]);
    let base = json!({"name": "gh", "server_url": "https://x.example.com", "auth_kind": "bearer", "secret": "s3cret-value"});
    assert_eq!(app.post("/v1/mcp/credentials", &key, &base).status, 201);
    assert_eq!(app.post("/v1/mcp/credentials", &key, &base).status, 409);
    for (patch, field) in [
        (json!({"auth_kind": "header"}), "header_name"),
        (json!({"auth_kind": "basic"}), "auth_kind"),
        (json!({"server_url": "ftp://x"}), "server_url"),
        (json!({"secret": ""}), "secret"),
    ] {
        let mut body = base.clone();
        body["name"] = json!(format!("n-{field}"));
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post("/v1/mcp/credentials", &key, &body);
        assert_eq!(res.status, 422, "{field}: {}", res.body);
        assert_eq!(
            res.json()["detail"][0]["loc"],
            json!(["body", field]),
            "{field}"
        );
    }
    let (_, reader) = app.tenant_with_key(&["mcp-creds:read"]);
    assert_eq!(app.post("/v1/mcp/credentials", &reader, &base).status, 403);
    // Another tenant cannot see the credential.
    let mine = app.get("/v1/mcp/credentials", &key).json();
    let id = mine[0]["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/mcp/credentials/{id}"), &reader)
            .status,
        404
    );
    assert_eq!(app.get("/v1/mcp/credentials", &reader).json(), json!([]));
}

fn the_call_log_needs_its_scope(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["mcp-log:read"]);
    let res = app.get("/v1/mcp/call-log", &key);
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!([]));
    let (_, other) = app.tenant_with_key(&["instances:read"]);
    assert_eq!(app.get("/v1/mcp/call-log", &other).status, 403);
}

/// `?key_id=&tool=&status=&order=` narrow the call log and turn it around; bad values
/// are 422 naming the parameter; the next page keeps the filters.
fn the_call_log_filters_and_reads_newest_first(app: &TestApp) {
    use hydracore_keys::ApiKeyId;
    use hydracore_mcp_log::{CallId, CallStatus, McpCall, McpCallLog};
    let (tenant, key) = app.tenant_with_key(&["mcp-log:read"]);
    let (k1, k2) = (ApiKeyId::new(), ApiKeyId::new());
    let start = time::OffsetDateTime::now_utc();
    let call = |n: i64, key: ApiKeyId, tool: &str, status: CallStatus| McpCall {
        id: CallId::new(),
        tenant_id: tenant,
        caller: hydracore_mcp_log::CallCaller::Key(key),
        tool: tool.into(),
        scope: "instances:read".into(),
        status,
        latency_us: 100,
        created_at: start + time::Duration::milliseconds(n),
    };
    let calls = [
        call(0, k1, "instances_list", CallStatus::Ok),
        call(1, k2, "instances_list", CallStatus::Denied),
        call(2, k1, "instances_get", CallStatus::Error),
        call(3, k1, "instances_list", CallStatus::Ok),
    ];
    app.block_on(app.store.append(&calls)).unwrap();
    let ids = |path: &str| -> Vec<String> {
        let res = app.get(path, &key);
        assert_eq!(res.status, 200, "{path}: {}", res.body);
        res.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let id = |i: usize| calls[i].id.to_string();
    assert_eq!(ids("/v1/mcp/call-log"), [id(0), id(1), id(2), id(3)]);
    assert_eq!(
        ids("/v1/mcp/call-log?order=desc"),
        [id(3), id(2), id(1), id(0)]
    );
    assert_eq!(
        ids(&format!("/v1/mcp/call-log?key_id={}&order=desc", k1)),
        [id(3), id(2), id(0)]
    );
    assert_eq!(
        ids("/v1/mcp/call-log?tool=instances_list&status=ok"),
        [id(0), id(3)]
    );
    assert_eq!(ids("/v1/mcp/call-log?status=denied"), [id(1)]);
    // A page of a filtered, newest-first list links to the next one, filters kept.
    let first = app.get(
        &format!("/v1/mcp/call-log?key_id={k1}&order=desc&limit=2"),
        &key,
    );
    let link = first.header("link").unwrap().to_owned();
    assert!(
        link.contains("order=desc") && link.contains(&k1.to_string()),
        "{link}"
    );
    let next = first.header("x-next-cursor").unwrap();
    assert_eq!(
        ids(&format!(
            "/v1/mcp/call-log?key_id={k1}&order=desc&limit=2&cursor={next}"
        )),
        [id(0)]
    );
    for (query, field) in [
        ("key_id=nope", "key_id"),
        ("status=fine", "status"),
        ("order=sideways", "order"),
        (&*format!("tool={}", "t".repeat(129)), "tool"),
    ] {
        let res = app.get(&format!("/v1/mcp/call-log?{query}"), &key);
        assert_eq!(res.status, 422, "{query}");
        assert_eq!(
            res.json()["detail"][0]["loc"],
            json!(["query", field]),
            "{query}"
        );
    }
}

api_tests!(
    credentials_are_sealed_and_never_returned,
    bad_credentials_are_422_and_names_unique,
    the_call_log_needs_its_scope,
    the_call_log_filters_and_reads_newest_first,
);
