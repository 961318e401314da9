//! `/internal/v1`: the ops token and nothing else.

use hydracore_api_tests::{Backend, OPS_TOKEN, TestApp, api_tests, spawn_app_with};
use hydracore_scopes::CATALOGUE;
use serde_json::{Value, json};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image(app: &TestApp, version: &str) -> Value {
    let res = app.bearer(
        "POST",
        "/internal/v1/runtime-images",
        OPS_TOKEN,
        Some(&json!({"name": "ghcr.io/hydracore/agent-runtime", "version": version, "digest": DIGEST})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()
}

fn every_other_credential_is_401(app: &TestApp) {
    let img = image(app, "0.1.0");
    let id = img["id"].as_str().unwrap();
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", "/internal/v1/smoke".into(), None),
        ("GET", "/internal/v1/runtime-images".into(), None),
        (
            "POST",
            "/internal/v1/runtime-images".into(),
            Some(json!({"name": "x", "version": "9", "digest": DIGEST})),
        ),
        (
            "POST",
            format!("/internal/v1/runtime-images/{id}/promote"),
            Some(json!({"channel": "canary"})),
        ),
    ];
    let tenant = app.tenant("ops");
    let every_scope: Vec<String> = CATALOGUE
        .iter()
        .map(|c| format!("{}:*", c.resource))
        .collect();
    let every_scope: Vec<&str> = every_scope.iter().map(String::as_str).collect();
    let admin_key = app.key(tenant, &every_scope);
    let owner_jwt = app.signup("owner@example.com", "Owner")["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut wrong = OPS_TOKEN.to_owned();
    wrong.replace_range(wrong.len() - 1.., "0");
    assert_eq!(wrong.len(), OPS_TOKEN.len());
    let mut cells = 0;
    for (method, path, body) in &routes {
        let body_text = body.as_ref().map(Value::to_string);
        // No credential, an API key of every scope (both headers), the ops token as an
        // API key header, an owner's access token, a wrong token of the same length.
        let attempts = [
            app.request(method, path, None, body_text.as_deref()),
            app.request(method, path, Some(&admin_key), body_text.as_deref()),
            app.bearer(method, path, &admin_key, body.as_ref()),
            app.request(method, path, Some(OPS_TOKEN), body_text.as_deref()),
            app.bearer(method, path, &owner_jwt, body.as_ref()),
            app.bearer(method, path, &wrong, body.as_ref()),
        ];
        for (i, res) in attempts.iter().enumerate() {
            assert_eq!(res.status, 401, "{method} {path} attempt {i}: {}", res.body);
            cells += 1;
        }
        let ok = app.bearer(method, path, OPS_TOKEN, body.as_ref());
        assert!(
            (200..300).contains(&ok.status),
            "{method} {path} with the ops token: {} {}",
            ok.status,
            ok.body
        );
    }
    assert_eq!(cells, 24);
}

fn images_promote_to_new_instances(app: &TestApp) {
    let one = image(app, "1.0.0");
    let dup = app.bearer("POST", "/internal/v1/runtime-images", OPS_TOKEN,
        Some(&json!({"name": "ghcr.io/hydracore/agent-runtime", "version": "1.0.0", "digest": DIGEST})));
    assert_eq!(dup.status, 409);
    let bad = app.bearer(
        "POST",
        "/internal/v1/runtime-images",
        OPS_TOKEN,
        Some(&json!({"name": "x", "version": "1", "digest": "md5:00"})),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["detail"][0]["loc"], json!(["body", "digest"]));
    let promoted = app.bearer(
        "POST",
        &format!(
            "/internal/v1/runtime-images/{}/promote",
            one["id"].as_str().unwrap()
        ),
        OPS_TOKEN,
        Some(&json!({"channel": "stable"})),
    );
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(
        promoted.json()["reference"],
        "ghcr.io/hydracore/agent-runtime:1.0.0"
    );
    let missing = app.bearer(
        "POST",
        &format!(
            "/internal/v1/runtime-images/{}/promote",
            uuid::Uuid::new_v4()
        ),
        OPS_TOKEN,
        Some(&json!({"channel": "stable"})),
    );
    assert_eq!(missing.status, 404);
    let bad_channel = app.bearer(
        "POST",
        &format!(
            "/internal/v1/runtime-images/{}/promote",
            one["id"].as_str().unwrap()
        ),
        OPS_TOKEN,
        Some(&json!({"channel": "beta"})),
    );
    assert_eq!(bad_channel.status, 422);
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let inst = app
        .post("/v1/instances", &key, &json!({"name": "fresh"}))
        .json();
    assert_eq!(
        inst["runtime_image"],
        "ghcr.io/hydracore/agent-runtime:1.0.0"
    );
    let listed = app
        .bearer("GET", "/internal/v1/runtime-images", OPS_TOKEN, None)
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

fn smoke_round_trips_every_store(app: &TestApp) {
    let res = app.bearer("POST", "/internal/v1/smoke", OPS_TOKEN, None);
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["ok"], true);
    let steps = body["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 9);
    assert!(steps.iter().any(|s| s["step"] == "audit log: read"));
    assert!(
        steps
            .iter()
            .all(|s| s["ok"] == true && s["ms"].as_f64().unwrap() >= 0.0)
    );
    assert!(
        steps
            .iter()
            .any(|s| s["step"] == "mcp credentials: seal, open, delete")
    );
}

api_tests!(
    every_other_credential_is_401,
    images_promote_to_new_instances,
    smoke_round_trips_every_store,
);

#[test]
fn without_an_ops_token_the_surface_is_closed() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.ops_token = None).unwrap();
    let res = app.bearer("POST", "/internal/v1/smoke", OPS_TOKEN, None);
    assert_eq!(res.status, 401);
    assert!(res.json()["detail"].as_str().unwrap().contains("closed"));
}
