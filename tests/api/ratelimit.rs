//! Per-key rate limits: exact budgets, standard headers, no sharing between keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hydracore_api_tests::{TestApp, api_tests};
use serde_json::json;

/// A key of a fresh tenant limited to `requests` per minute, and an admin key.
fn limited(app: &TestApp, requests: u32) -> (String, String, String) {
    limited_per(app, requests, 60)
}

/// A key of a fresh tenant limited to `requests` per `per_seconds`, and an admin key.
fn limited_per(app: &TestApp, requests: u32, per_seconds: u32) -> (String, String, String) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "limited", "scopes": ["instances:read"],
            "rate_limit": {"requests": requests, "per_seconds": per_seconds}}),
        )
        .json();
    (
        admin,
        minted["key"].as_str().unwrap().to_owned(),
        minted["id"].as_str().unwrap().to_owned(),
    )
}

fn exactly_n_then_429_with_counting_headers(app: &TestApp) {
    let (admin, key, _) = limited(app, 5);
    for expected in (0..5).rev() {
        let res = app.get("/v1/instances", &key);
        assert_eq!(res.status, 200);
        assert_eq!(res.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            res.header("x-ratelimit-remaining"),
            Some(expected.to_string().as_str())
        );
        let reset: u64 = res.header("x-ratelimit-reset").unwrap().parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(reset >= now && reset <= now + 61, "reset {reset} now {now}");
        assert_eq!(res.header("ratelimit-policy"), Some("\"key\";q=5;w=60"));
        assert!(
            res.header("ratelimit")
                .unwrap()
                .starts_with(&format!("\"key\";r={expected};t="))
        );
    }
    let refused = app.get("/v1/instances", &key);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json(), json!({"detail": "Rate limit exceeded"}));
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    // The admin key of the same tenant has its own budget.
    assert_eq!(app.get("/v1/instances", &admin).status, 200);
}

/// Twenty concurrent requests on a budget of seven: exactly seven pass. A day's window,
/// so that no request regains budget however slowly a busy machine serves the twenty
/// (at 7 a minute one comes back every 8.6 s).
fn no_over_admission_under_concurrency(app: &TestApp) {
    let (_, key, _) = limited_per(app, 7, 86_400);
    let ok = Arc::new(AtomicUsize::new(0));
    let limited = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (ok, limited, key) = (ok.clone(), limited.clone(), key.clone());
            s.spawn(move || {
                for _ in 0..5 {
                    match app.get("/v1/instances", &key).status {
                        200 => ok.fetch_add(1, Ordering::SeqCst),
                        429 => limited.fetch_add(1, Ordering::SeqCst),
                        other => panic!("unexpected {other}"),
                    };
                }
            });
        }
    });
    assert_eq!(ok.load(Ordering::SeqCst), 7);
    assert_eq!(limited.load(Ordering::SeqCst), 13);
}

fn a_changed_limit_applies_at_once(app: &TestApp) {
    let (admin, key, id) = limited(app, 2);
    assert_eq!(app.get("/v1/instances", &key).status, 200);
    assert_eq!(app.get("/v1/instances", &key).status, 200);
    assert_eq!(app.get("/v1/instances", &key).status, 429);
    let patched = app.patch(
        &format!("/v1/api-keys/{id}"),
        &admin,
        &json!({"rate_limit": {"requests": 10, "per_seconds": 60}}),
    );
    assert_eq!(patched.status, 200);
    let res = app.get("/v1/instances", &key);
    assert_eq!(res.status, 200);
    assert_eq!(res.header("x-ratelimit-limit"), Some("10"));
}

fn mcp_calls_spend_the_same_budget(app: &TestApp) {
    let (_, key, _) = limited(app, 2);
    let rpc = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/mcp", app.address))
        .header("X-Api-Key", &key)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string())
        .unwrap();
    let res = app.send(rpc);
    assert_ne!(res.status, 429);
    assert_eq!(res.header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(app.get("/v1/instances", &key).status, 200);
    assert_eq!(app.get("/v1/instances", &key).status, 429);
}

api_tests!(
    exactly_n_then_429_with_counting_headers,
    no_over_admission_under_concurrency,
    a_changed_limit_applies_at_once,
    mcp_calls_spend_the_same_budget,
);
