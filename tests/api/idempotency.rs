//! `Idempotency-Key`: a retried create creates once.

use std::collections::HashSet;

use hydracore_api_tests::{TestApp, TestResponse, api_tests};
use serde_json::{Value, json};

fn post_idem(app: &TestApp, key: &str, idem: &str, body: &Value) -> TestResponse {
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/v1/instances", app.address))
        .header("X-Api-Key", key)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", idem)
        .body(body.to_string())
        .unwrap();
    app.send(req)
}

fn a_retry_replays_the_first_response(app: &TestApp) {
    let (tenant, key) = app.tenant_with_key(&["instances:*"]);
    let body = json!({"name": "once"});
    let first = post_idem(app, &key, "create-once-1", &body);
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), Some("false"));
    let again = post_idem(app, &key, "create-once-1", &body);
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json());
    assert_eq!(
        app.get("/v1/instances", &key)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let other = post_idem(app, &key, "create-once-1", &json!({"name": "different"}));
    assert_eq!(other.status, 409);
    assert!(
        other.json()["detail"]
            .as_str()
            .unwrap()
            .contains("different request")
    );
    // Keys are per credential: another key of the tenant may use the same string.
    let second_key = app.key(tenant, &["instances:*"]);
    let theirs = post_idem(
        app,
        &second_key,
        "create-once-1",
        &json!({"name": "theirs"}),
    );
    assert_eq!(theirs.status, 201);
    assert_eq!(theirs.header("idempotent-replayed"), Some("false"));
    // A failed request is not remembered: after fixing the conflict the key works.
    let dup = post_idem(app, &key, "retry-after-409", &json!({"name": "once"}));
    assert_eq!(dup.status, 409);
    assert_eq!(
        app.delete(
            &format!("/v1/instances/{}", first.json()["id"].as_str().unwrap()),
            &key
        )
        .status,
        204
    );
    let fixed = post_idem(app, &key, "retry-after-409", &json!({"name": "once"}));
    assert_eq!(fixed.status, 201);
    let long = post_idem(app, &key, &"k".repeat(256), &body);
    assert_eq!(long.status, 422);
    assert_eq!(
        long.json()["detail"][0]["loc"],
        json!(["header", "idempotency-key"])
    );
}

fn twenty_concurrent_retries_create_one_row(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let body = json!({"name": "racy", "config": {"n": 1}});
    let results: Vec<TestResponse> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| post_idem(app, &key, "race-1", &body)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: HashSet<String> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    for r in &results {
        assert!(
            r.status == 201 || r.status == 409,
            "{} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(created.len(), 1, "every success names the same instance");
    assert_eq!(
        app.get("/v1/instances", &key)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

api_tests!(
    a_retry_replays_the_first_response,
    twenty_concurrent_retries_create_one_row
);
