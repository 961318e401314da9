//! The FastAPI error shapes: 422 items, 404 and 405.

use hydracore_api_tests::{TestApp, api_tests};
use serde_json::{Value, json};

fn malformed_uuid_is_422_with_the_exact_item(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let res = app.get("/v1/instances/not-a-uuid", &key);
    assert_eq!(res.status, 422);
    let body = res.json();
    let item = &body["detail"][0];
    assert_eq!(item["type"], "uuid_parsing");
    assert_eq!(item["loc"], json!(["path", "instance_id"]));
    assert_eq!(item["input"], "not-a-uuid");
    assert!(
        item["msg"]
            .as_str()
            .unwrap()
            .starts_with("Input should be a valid UUID")
    );
    assert_eq!(body["detail"].as_array().unwrap().len(), 1);
    let res = app.request("POST", "/v1/instances/123/start", Some(&key), None);
    assert_eq!(res.status, 422);
    assert_eq!(
        res.json()["detail"][0]["loc"],
        json!(["path", "instance_id"])
    );
}

fn bad_json_bodies_are_422_at_the_field(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*", "api-keys:*"]);
    let syntax = app.request("POST", "/v1/instances", Some(&key), Some("{\"name\": "));
    assert_eq!(syntax.status, 422);
    assert_eq!(syntax.json()["detail"][0]["type"], "json_invalid");
    assert_eq!(syntax.json()["detail"][0]["loc"][0], "body");

    let empty = app.request("POST", "/v1/instances", Some(&key), Some(""));
    assert_eq!(empty.status, 422);
    assert_eq!(empty.json()["detail"][0]["type"], "missing");

    let missing = app.post("/v1/instances", &key, &json!({"config": {}}));
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.json()["detail"][0],
        json!({"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {"config": {}}})
    );

    let wrong_type = app.post("/v1/instances", &key, &json!({"name": 7}));
    assert_eq!(wrong_type.status, 422);
    assert_eq!(
        wrong_type.json()["detail"][0],
        json!({"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string", "input": 7})
    );

    let extra = app.post("/v1/instances", &key, &json!({"name": "a", "nmae": "b"}));
    assert_eq!(extra.status, 422);
    assert_eq!(extra.json()["detail"][0]["type"], "extra_forbidden");
    assert_eq!(extra.json()["detail"][0]["loc"], json!(["body", "nmae"]));

    let not_object = app.post("/v1/instances", &key, &json!([1]));
    assert_eq!(not_object.status, 422);

    let bad_name = app.post("/v1/instances", &key, &json!({"name": "Web_1"}));
    assert_eq!(bad_name.status, 422);
    assert_eq!(
        bad_name.json()["detail"][0]["type"],
        "string_pattern_mismatch"
    );
    assert_eq!(bad_name.json()["detail"][0]["loc"], json!(["body", "name"]));

    let bad_config = app.post("/v1/instances", &key, &json!({"name": "a", "config": [1]}));
    assert_eq!(bad_config.status, 422);
    assert_eq!(
        bad_config.json()["detail"][0]["loc"],
        json!(["body", "config"])
    );
    assert_eq!(bad_config.json()["detail"][0]["type"], "dict_type");

    let bad_scope = app.post(
        "/v1/api-keys",
        &key,
        &json!({"name": "k", "scopes": ["instances:read", "instances:fly"]}),
    );
    assert_eq!(bad_scope.status, 422);
    let item = &bad_scope.json()["detail"][0];
    assert_eq!(item["loc"], json!(["body", "scopes", 1]));
    assert_eq!(item["input"], "instances:fly");
    assert!(item["msg"].as_str().unwrap().contains("instances:fly"));

    let bad_date = app.post(
        "/v1/api-keys",
        &key,
        &json!({"name": "k", "scopes": ["instances:read"], "expires_at": "tomorrow"}),
    );
    assert_eq!(bad_date.status, 422);
    assert_eq!(
        bad_date.json()["detail"][0]["loc"],
        json!(["body", "expires_at"])
    );
    // Nothing was created by any of the above.
    assert_eq!(app.get("/v1/instances", &key).json(), json!([]));
}

fn unknown_routes_are_404_and_wrong_methods_405(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let res = app.request("GET", "/nope", None, None);
    assert_eq!(res.status, 404);
    assert_eq!(res.json(), json!({"detail": "Not Found"}));
    assert_eq!(app.get("/v1/nothing-here", &key).status, 404);
    let res = app.request("PUT", "/v1/instances", Some(&key), None);
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("GET, POST"));
    assert_eq!(res.json(), json!({"detail": "Method Not Allowed"}));
    let res = app.request(
        "GET",
        &format!("/v1/instances/{}/start", uuid::Uuid::new_v4()),
        Some(&key),
        None,
    );
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("POST"));
}

/// Every `/v1` path of the spec answers a method it does not have with 405, and its
/// `Allow` names exactly the methods the spec gives that path.
fn every_path_names_its_methods_in_a_405(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let spec = app.request("GET", "/openapi.json", None, None).json();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        let verbs = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        let mut has: Vec<&str> = verbs
            .into_iter()
            .filter(|v| item.get(v.to_lowercase()).is_some())
            .collect();
        has.sort_unstable();
        let other = verbs.into_iter().find(|v| !has.contains(v)).unwrap();
        let url: Vec<String> = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    seg.to_owned()
                }
            })
            .collect();
        let url = url.join("/");
        let res = app.request(other, &url, Some(&key), None);
        assert_eq!(res.status, 405, "{other} {url}: {}", res.body);
        assert_eq!(res.json(), json!({"detail": "Method Not Allowed"}));
        let mut allow: Vec<&str> = res.header("allow").unwrap().split(", ").collect();
        allow.sort_unstable();
        assert_eq!(allow, has, "{other} {url}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} paths under /v1");
}

/// A 422 never repeats a secret: the fields that hold one are masked wherever they
/// appear in an item, the field's own value or the value of an object it sits in.
fn secrets_are_masked_in_every_422(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["mcp-creds:*"]);
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let token = format!("hc_rt_{}", uuid::Uuid::new_v4().simple());
    let secret = format!("sk-{}", uuid::Uuid::new_v4().simple());
    let cases: Vec<(&str, Option<&str>, Value, Value, Value)> = vec![
        // No e-mail: the item quotes the body it is missing from.
        (
            "/auth/login",
            None,
            json!({"password": password}),
            json!(["body", "email"]),
            json!({"password": "**********"}),
        ),
        // The password itself breaks a rule.
        (
            "/auth/signup",
            None,
            json!({"email": "a@example.com", "password": "Zq9x7", "tenant_name": "T"}),
            json!(["body", "password"]),
            json!("**********"),
        ),
        (
            "/auth/refresh",
            None,
            json!({"refresh_token": 12345}),
            json!(["body", "refresh_token"]),
            json!("**********"),
        ),
        (
            "/auth/logout",
            None,
            json!({"refresh_token": token, "extra": 1}),
            json!(["body", "extra"]),
            json!(1),
        ),
        // A credential's secret, sent without a name.
        (
            "/v1/mcp/credentials",
            Some(key.as_str()),
            json!({"secret": secret, "server_url": "https://x.example.com", "auth_kind": "bearer"}),
            json!(["body", "name"]),
            json!({"secret": "**********", "server_url": "https://x.example.com", "auth_kind": "bearer"}),
        ),
        // Deep inside something unexpected.
        (
            "/auth/login",
            None,
            json!({"email": "a@example.com", "password": password, "nested": {"deeper": [{"password": password}]}}),
            json!(["body", "nested"]),
            json!({"deeper": [{"password": "**********"}]}),
        ),
    ];
    for (path, credential, body, loc, input) in cases {
        let res = app.request("POST", path, credential, Some(&body.to_string()));
        assert_eq!(res.status, 422, "{path}: {}", res.body);
        for s in [
            &password,
            &token,
            &secret,
            &"12345".to_owned(),
            &"Zq9x7".to_owned(),
        ] {
            assert!(
                !res.body.contains(s.as_str()),
                "{path} echoed a secret: {}",
                res.body
            );
        }
        let item = res.json()["detail"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["loc"] == loc)
            .cloned()
            .unwrap_or_else(|| panic!("{path}: no item at {loc}: {}", res.body));
        assert_eq!(item["input"], input, "{path}");
    }
}

/// A 422's `input` is the value as sent (FastAPI's behaviour), not the server's
/// rendering of what it parsed.
fn inputs_are_quoted_as_sent(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &key,
            &json!({"name": "k", "scopes": ["instances:read"]}),
        )
        .json();
    let id = minted["id"].as_str().unwrap();
    let cases = [
        (
            "POST",
            "/v1/api-keys".to_owned(),
            json!({"name": "k", "scopes": ["instances:read"], "expires_at": "2020-01-01T00:00:00Z"}),
            json!("2020-01-01T00:00:00Z"),
        ),
        (
            "POST",
            format!("/v1/api-keys/{id}/rotate"),
            json!({"grace_seconds": 604801}),
            json!(604801),
        ),
        (
            "POST",
            "/v1/api-keys".to_owned(),
            json!({"name": "k", "scopes": []}),
            json!([]),
        ),
        (
            "PATCH",
            format!("/v1/api-keys/{id}"),
            json!({"rate_limit": {"requests": 0, "per_seconds": 60}}),
            json!(0),
        ),
        (
            "POST",
            "/v1/api-keys".to_owned(),
            json!({"name": "   ", "scopes": ["instances:read"]}),
            json!("   "),
        ),
    ];
    for (method, path, body, input) in cases {
        let res = app.request(method, &path, Some(&key), Some(&body.to_string()));
        assert_eq!(res.status, 422, "{method} {path}: {}", res.body);
        assert_eq!(
            res.json()["detail"][0]["input"],
            input,
            "{method} {path}: {}",
            res.body
        );
    }
}

api_tests!(
    secrets_are_masked_in_every_422,
    inputs_are_quoted_as_sent,
    malformed_uuid_is_422_with_the_exact_item,
    bad_json_bodies_are_422_at_the_field,
    unknown_routes_are_404_and_wrong_methods_405,
    every_path_names_its_methods_in_a_405,
);
