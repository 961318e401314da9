//! The FastAPI error shapes: 422 items, 404 and 405.

use hydracore_api_tests::{TestApp, api_tests};
use serde_json::json;

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

api_tests!(
    malformed_uuid_is_422_with_the_exact_item,
    bad_json_bodies_are_422_at_the_field,
    unknown_routes_are_404_and_wrong_methods_405,
);
