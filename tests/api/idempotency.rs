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

fn post_with(
    app: &TestApp,
    path: &str,
    credential: (&str, &str),
    idem: &str,
    body: &Value,
) -> TestResponse {
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}{path}", app.address))
        .header(credential.0, credential.1)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", idem)
        .body(body.to_string())
        .unwrap();
    app.send(req)
}

/// A replayed mint or rotation carries a key's plaintext: the record holds it sealed,
/// never in clear.
fn replayed_secrets_rest_sealed(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let body = json!({"name": "ci", "scopes": ["instances:read"]});
    let first = post_with(app, "/v1/api-keys", ("X-Api-Key", &admin), "mint-1", &body);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = post_with(app, "/v1/api-keys", ("X-Api-Key", &admin), "mint-1", &body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json());
    let minted = first.json()["key"].as_str().unwrap().to_owned();
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let rotate = format!("/v1/api-keys/{id}/rotate");
    let grace = json!({"grace_seconds": 60});
    let rotated = post_with(app, &rotate, ("X-Api-Key", &admin), "rotate-1", &grace);
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let replayed = post_with(app, &rotate, ("X-Api-Key", &admin), "rotate-1", &grace);
    assert_eq!(replayed.json(), rotated.json());
    let successor = rotated.json()["key"].as_str().unwrap().to_owned();
    let tables = app.database_text();
    assert!(tables.contains("mint-1"), "the records are there");
    for secret in [&minted, &successor] {
        assert!(
            !tables.contains(secret.as_str()),
            "a key rests in plaintext"
        );
        assert!(!tables.contains(&secret[8..]), "a key rests in plaintext");
    }
}

/// A retry passes the checks a fresh request would: a key that lost the route's scope
/// gets 403, not the old response; a user who switched tenants does not get the other
/// tenant's response.
fn a_replay_passes_the_same_authorization(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "minter", "scopes": ["api-keys:write", "instances:read"]}),
        )
        .json();
    let minter = minted["key"].as_str().unwrap();
    let body = json!({"name": "child", "scopes": ["instances:read"]});
    let first = post_with(
        app,
        "/v1/api-keys",
        ("X-Api-Key", minter),
        "lost-scope",
        &body,
    );
    assert_eq!(first.status, 201);
    let narrowed = app.patch(
        &format!("/v1/api-keys/{}", minted["id"].as_str().unwrap()),
        &admin,
        &json!({"scopes": ["instances:read"]}),
    );
    assert_eq!(narrowed.status, 200);
    let retry = post_with(
        app,
        "/v1/api-keys",
        ("X-Api-Key", minter),
        "lost-scope",
        &body,
    );
    assert_eq!(retry.status, 403, "{}", retry.body);
    assert_eq!(
        retry.json(),
        json!({"detail": "Missing required scope: api-keys:write"})
    );
    assert!(!retry.body.contains("hc_live_"));

    let signed = app.signup("two@example.com", "First");
    let token = signed["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let second = app.bearer(
        "POST",
        "/v1/tenants",
        &token,
        Some(&json!({"name": "Second"})),
    );
    assert_eq!(second.status, 201);
    let instance = json!({"name": "same-name"});
    let in_first = post_with(
        app,
        "/v1/instances",
        ("Authorization", &bearer),
        "switch-1",
        &instance,
    );
    assert_eq!(in_first.status, 201);
    let switched = app.bearer(
        "POST",
        "/auth/switch-tenant",
        &token,
        Some(&json!({"tenant_id": second.json()["id"]})),
    );
    assert_eq!(switched.status, 200);
    let in_second = post_with(
        app,
        "/v1/instances",
        ("Authorization", &bearer),
        "switch-1",
        &instance,
    );
    assert_eq!(in_second.status, 201, "{}", in_second.body);
    assert_eq!(in_second.header("idempotent-replayed"), Some("false"));
    assert_ne!(in_second.json()["id"], in_first.json()["id"]);
}

/// Concurrent copies of a request that fails, under one key: each gets the failure or
/// the documented 409, never a 500 (on PostgreSQL a claim abandoned while another copy
/// looked at it used to answer 500).
fn concurrent_copies_of_a_failing_request_never_answer_500(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["instances:*", "api-keys:*"]);
    let key = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "busy", "scopes": ["instances:*"],
                    "rate_limit": {"requests": 1000000, "per_seconds": 1}}),
        )
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.post("/v1/instances", &key, &json!({"name": "taken"}))
            .status,
        201
    );
    let body = json!({"name": "taken"});
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for run in 0..300 {
        let idem = format!("fail-{run}");
        let got: Vec<u16> = std::thread::scope(|s| {
            let copies: Vec<_> = (0..3)
                .map(|_| s.spawn(|| post_idem(app, &key, &idem, &body).status))
                .collect();
            copies.into_iter().map(|c| c.join().unwrap()).collect()
        });
        for status in got {
            *statuses.entry(status).or_default() += 1;
        }
    }
    eprintln!("idempotency[failing copies]: {statuses:?}");
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        vec![409],
        "{statuses:?}"
    );
}

api_tests!(
    a_retry_replays_the_first_response,
    twenty_concurrent_retries_create_one_row,
    replayed_secrets_rest_sealed,
    a_replay_passes_the_same_authorization,
    concurrent_copies_of_a_failing_request_never_answer_500,
);
