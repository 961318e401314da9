//! Hostile input: oversized, deep, malformed and slow requests, and strings made to
//! look like SQL or paths. Each gets a clear 4xx, nothing is stored wrong, and the
//! server carries on.

use std::time::Duration;

use hydracore_api_tests::{Backend, TestApp, api_tests, spawn_app_with};
use serde_json::{Value, json};

const LIMIT: usize = 256 * 1024;

fn oversized_bodies_are_413_and_store_nothing(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let body = json!({"name": "big", "config": {"pad": "a".repeat(LIMIT)}}).to_string();
    let res = app.request("POST", "/v1/instances", Some(&key), Some(&body));
    assert_eq!(res.status, 413);
    assert_eq!(
        res.json(),
        json!({"detail": format!("Request body is larger than the limit of {LIMIT} bytes")})
    );

    // The same through the idempotency layer, which reads the body first.
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/v1/instances", app.address))
        .header("X-Api-Key", &key)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", "big-1")
        .body(body)
        .unwrap();
    assert_eq!(app.send(req).status, 413);

    // Within the body limit but past the 64 KiB `config` limit: a 422 at the field.
    let body = json!({"name": "big", "config": {"pad": "a".repeat(70 * 1024)}}).to_string();
    let res = app.request("POST", "/v1/instances", Some(&key), Some(&body));
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["detail"][0]["type"], "too_long");
    assert_eq!(res.json()["detail"][0]["loc"], json!(["body", "config"]));

    assert_eq!(app.get("/v1/instances", &key).json(), json!([]));
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

fn deep_malformed_and_nul_json_is_422(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*", "api-keys:*"]);

    let deep = format!(
        r#"{{"name": "deep", "config": {{"a": {}}}}}"#,
        nested(100_000)
    );
    let res = app.request("POST", "/v1/instances", Some(&key), Some(&deep));
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["detail"][0]["type"], "json_invalid");

    // Nesting a real configuration could have is kept exactly.
    let fine = format!(r#"{{"name": "fine", "config": {{"a": {}}}}}"#, nested(40));
    let res = app.request("POST", "/v1/instances", Some(&key), Some(&fine));
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let expected: Value = serde_json::from_str(&nested(40)).unwrap();
    assert_eq!(
        app.get(&format!("/v1/instances/{id}"), &key).json()["config"]["a"],
        expected
    );

    // Invalid UTF-8 inside a string.
    let body = b"{\"name\": \"a\xff\xfeb\"}";
    let mut raw = format!(
        "POST /v1/instances HTTP/1.1\r\nHost: t\r\nX-Api-Key: {key}\r\n\
         Content-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let (res, _) = app.raw(&raw, Duration::from_secs(5));
    assert!(res.starts_with("HTTP/1.1 422"), "{res}");
    assert!(res.contains("json_invalid"), "{res}");

    // NUL characters: no text column keeps them, so they are refused in every field…
    let res = app.post("/v1/instances", &key, &json!({"name": "a\u{0}b"}));
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(res.json()["detail"][0]["type"], "string_pattern_mismatch");
    assert_eq!(res.json()["detail"][0]["loc"], json!(["body", "name"]));
    // …but `config`, kept as JSON text, holds them as escapes, exactly.
    for (name, config) in [
        ("nul-1", json!({"k": ["ok", "x\u{0}"]})),
        ("nul-2", json!({"k\u{0}": 1})),
    ] {
        let res = app.post(
            "/v1/instances",
            &key,
            &json!({"name": name, "config": config}),
        );
        assert_eq!(res.status, 201, "{}", res.body);
        let id = res.json()["id"].as_str().unwrap().to_owned();
        let got = app.get(&format!("/v1/instances/{id}"), &key).json();
        assert_eq!(got["config"], config);
    }
    let res = app.post(
        "/v1/api-keys",
        &key,
        &json!({"name": "k\u{0}", "scopes": ["instances:read"]}),
    );
    assert_eq!(res.status, 422);

    let names: Vec<Value> = app.get("/v1/instances", &key).json().as_array().unwrap()[..]
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("fine"), json!("nul-1"), json!("nul-2")]);
}

fn huge_headers_are_refused_and_the_server_carries_on(app: &TestApp) {
    let pad = "a".repeat(64 * 1024);
    let raw =
        format!("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: {pad}\r\nConnection: close\r\n\r\n");
    let (res, _) = app.raw(raw.as_bytes(), Duration::from_secs(5));
    assert!(res.starts_with("HTTP/1.1 431"), "{:.80}", res);

    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let raw = format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{many}Connection: close\r\n\r\n");
    let (res, _) = app.raw(raw.as_bytes(), Duration::from_secs(5));
    assert!(res.starts_with("HTTP/1.1 431"), "{:.80}", res);

    assert_eq!(app.request("GET", "/healthz", None, None).status, 200);
}

const HOSTILE: &[&str] = &[
    "'; DROP TABLE instances; --",
    "\" OR 1=1 --",
    "Robert'); DELETE FROM api_keys WHERE ('1'='1",
    "../../../../etc/passwd",
    "..\\..\\windows\\system32\\config",
    "%2e%2e%2f%2e%2e%2f",
    "<script>alert(1)</script>",
    "${jndi:ldap://x/a}",
    "☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{202e}txt.exe",
];

fn hostile_strings_are_kept_exactly_or_refused(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*", "api-keys:*", "mcp-creds:*"]);
    let mut created = 0;
    for (i, s) in HOSTILE.iter().enumerate() {
        // Names have a strict alphabet: refused, with the input echoed back.
        let res = app.post("/v1/instances", &key, &json!({"name": s}));
        assert_eq!(res.status, 422, "{s}: {}", res.body);
        assert_eq!(res.json()["detail"][0]["loc"], json!(["body", "name"]));
        assert_eq!(res.json()["detail"][0]["input"], json!(s));
        let res = app.post(
            "/v1/instances",
            &key,
            &json!({"name": format!("img-{i}"), "runtime_image": s}),
        );
        assert_eq!(res.status, 422, "{s}: {}", res.body);

        // Free text is stored as it came and read back the same.
        let config = json!({"note": s, *s: [s]});
        let res = app.post(
            "/v1/instances",
            &key,
            &json!({"name": format!("h-{i}"), "config": config}),
        );
        assert_eq!(res.status, 201, "{s}: {}", res.body);
        created += 1;
        let id = res.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(
            app.get(&format!("/v1/instances/{id}"), &key).json()["config"],
            config
        );

        let res = app.post(
            "/v1/api-keys",
            &key,
            &json!({"name": s, "scopes": ["instances:read"]}),
        );
        assert_eq!(res.status, 201, "{s}: {}", res.body);
        let id = res.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(
            app.get(&format!("/v1/api-keys/{id}"), &key).json()["name"],
            json!(s)
        );

        let res = app.post(
            "/v1/mcp/credentials",
            &key,
            &json!({"name": s, "server_url": "https://mcp.example.com/mcp",
                    "auth_kind": "bearer", "secret": s}),
        );
        assert_eq!(res.status, 201, "{s}: {}", res.body);
        assert_eq!(res.json()["name"], json!(s));
        let res = app.post(
            "/v1/mcp/credentials",
            &key,
            &json!({"name": format!("u-{i}"), "server_url": s,
                    "auth_kind": "bearer", "secret": "x"}),
        );
        assert_eq!(res.status, 422, "{s}: {}", res.body);
    }
    // Every table still holds what it should.
    let instances = app.get("/v1/instances", &key).json();
    assert_eq!(instances.as_array().unwrap().len(), created);
    let keys = app.get("/v1/api-keys", &key).json();
    assert_eq!(keys.as_array().unwrap().len(), HOSTILE.len() + 1);

    // Paths: a traversal in an id is a malformed id, never a file.
    let res = app.get("/v1/instances/..%2F..%2F..%2Fetc%2Fpasswd", &key);
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["detail"][0]["type"], "uuid_parsing");
    for path in [
        "/docs/../../../../etc/passwd",
        "/docs/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/redoc/..%2f..%2f..%2fCargo.toml",
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let (res, _) = app.raw(raw.as_bytes(), Duration::from_secs(5));
        assert!(res.starts_with("HTTP/1.1 404"), "{path}: {:.120}", res);
        assert!(!res.contains("root:"), "{path}");
    }
}

api_tests!(
    oversized_bodies_are_413_and_store_nothing,
    deep_malformed_and_nul_json_is_422,
    huge_headers_are_refused_and_the_server_carries_on,
    hostile_strings_are_kept_exactly_or_refused,
);

/// Slow clients (slowloris): a head or a body that never finishes is cut off after
/// the client timeout, and other clients are served meanwhile.
#[test]
fn slow_clients_are_cut_off() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.client_timeout_ms = 500)
        .expect("sqlite is always available");
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let app = &app;

    std::thread::scope(|scope| {
        let slow_head = scope.spawn(move || {
            app.raw(
                b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ",
                Duration::from_secs(10),
            )
        });
        let head = format!(
            "POST /v1/instances HTTP/1.1\r\nHost: t\r\nX-Api-Key: {key}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": "
        );
        let slow_body = scope.spawn(move || app.raw(head.as_bytes(), Duration::from_secs(10)));

        // Meanwhile everyone else is served at once.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(app.get("/v1/instances", &key).status, 200);

        let (res, took) = slow_head.join().unwrap();
        assert!(took < Duration::from_secs(3), "head cut off after {took:?}");
        assert!(res.is_empty() || res.starts_with("HTTP/1.1 408"), "{res}");

        let (res, took) = slow_body.join().unwrap();
        assert!(took < Duration::from_secs(3), "body cut off after {took:?}");
        assert!(res.starts_with("HTTP/1.1 408"), "{res}");
        assert!(
            res.contains(r#"{"detail":"The request body did not arrive within 500 ms"}"#),
            "{res}"
        );
    });
    assert_eq!(app.get("/v1/instances", &key).json(), json!([]));
}
