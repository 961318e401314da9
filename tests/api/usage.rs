//! Per-key usage: every request a key makes, over HTTP and MCP, counted by hour and
//! outcome, written in batches, and read back by `GET /v1/api-keys/{key_id}/usage`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hydracore_api_tests::{Backend, TestApp, api_tests, spawn_app_with};
use serde_json::{Value, json};

/// A GET with `key` against the node at `base`.
fn get_at(app: &TestApp, base: &str, path: &str, key: &str) -> u16 {
    let req = ureq::http::Request::builder()
        .method("GET")
        .uri(format!("{base}{path}"))
        .header("X-Api-Key", key)
        .body(String::new())
        .unwrap();
    app.send(req).status
}

/// An MCP `tools/list` with `key` against the node at `base`.
fn mcp_at(app: &TestApp, base: &str, key: &str) -> u16 {
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base}/mcp"))
        .header("X-Api-Key", key)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string())
        .unwrap();
    app.send(req).status
}

/// An admin key of a fresh tenant, and a key of it holding `instances:read` only with
/// `limit` requests a day (so that a burst past it is 429 and nothing refills it while
/// a test runs): `(admin, key, key id)`.
fn keys(app: &TestApp, limit: u32) -> (String, String, String) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app.post(
        "/v1/api-keys",
        &admin,
        &json!({"name": "counted", "scopes": ["instances:read"],
                "rate_limit": {"requests": limit, "per_seconds": 86_400}}),
    );
    assert_eq!(minted.status, 201, "{}", minted.body);
    let minted = minted.json();
    (
        admin,
        minted["key"].as_str().unwrap().to_owned(),
        minted["id"].as_str().unwrap().to_owned(),
    )
}

/// The outcome a status counts under.
fn outcome(status: u16) -> &'static str {
    match status {
        403 => "forbidden",
        429 => "rate_limited",
        400..=499 => "client_error",
        500.. => "server_error",
        _ => "ok",
    }
}

/// Every outcome, counted from zero.
fn zero() -> BTreeMap<&'static str, u64> {
    [
        "ok",
        "client_error",
        "forbidden",
        "rate_limited",
        "server_error",
    ]
    .into_iter()
    .map(|o| (o, 0))
    .collect()
}

/// The key's counts as the usage route reports them, summed over its buckets.
fn reported(app: &TestApp, admin: &str, id: &str) -> BTreeMap<&'static str, u64> {
    let res = app.get(&format!("/v1/api-keys/{id}/usage"), admin);
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["key_id"], id);
    let mut sums = zero();
    for bucket in body["buckets"].as_array().unwrap() {
        let hour = bucket["hour"].as_str().unwrap();
        assert!(hour.ends_with(":00:00.000000Z"), "{hour}");
        for (name, sum) in &mut sums {
            *sum += bucket[*name].as_u64().unwrap();
        }
    }
    sums
}

/// Polls the usage route until it reports `total` requests (they are written in
/// batches), then returns what it reports.
fn settled(app: &TestApp, admin: &str, id: &str, total: u64) -> BTreeMap<&'static str, u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = reported(app, admin, id);
        if now.values().sum::<u64>() >= total || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn a_thousand_requests_are_counted_exactly_by_outcome(app: &TestApp) {
    let (admin, key, id) = keys(app, 600);
    assert_eq!(reported(app, &admin, &id), zero(), "nothing counted yet");
    let mut sent = zero();
    for i in 0..1000 {
        let status = match i % 10 {
            // Outside the key's scopes: 403 (while its budget lasts).
            3 | 7 => get_at(app, &app.address, "/v1/api-keys", &key),
            // MCP requests count alike.
            5 => mcp_at(app, &app.address, &key),
            _ => get_at(app, &app.address, "/v1/instances", &key),
        };
        *sent.get_mut(outcome(status)).unwrap() += 1;
    }
    assert!(sent["ok"] > 0 && sent["forbidden"] > 0, "{sent:?}");
    assert_eq!(sent["rate_limited"], 400, "{sent:?}");
    assert_eq!(settled(app, &admin, &id, 1000), sent);
    // Another flush or two adds nothing: each request was counted once.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(reported(app, &admin, &id), sent);
}

fn the_range_defaults_to_the_last_36_hours(app: &TestApp) {
    let (admin, _, id) = keys(app, 10);
    let body = app.get(&format!("/v1/api-keys/{id}/usage"), &admin).json();
    let until = body["until"].as_str().unwrap();
    let since = body["since"].as_str().unwrap();
    assert!(until.ends_with(":00:00.000000Z"), "{until}");
    let parse = |t: &str| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert_eq!(parse(until) - parse(since), time::Duration::hours(36));
    let now = hydracore_core::Clock::now(&*app.clock);
    assert!(parse(until) > now && parse(until) - now <= time::Duration::hours(1));
    assert_eq!(body["buckets"], json!([]));
    // Given bounds are echoed, and a range of exactly 90 days is allowed.
    let res = app.get(
        &format!(
            "/v1/api-keys/{id}/usage?since=2026-09-05T00:00:00Z&until=2026-12-04T00:00:00%2B00:00"
        ),
        &admin,
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["since"], "2026-09-05T00:00:00.000000Z");
    assert_eq!(res.json()["until"], "2026-12-04T00:00:00.000000Z");
}

/// The one item of a 422's body.
fn invalid(app: &TestApp, path: &str, key: &str) -> Value {
    let res = app.get(path, key);
    assert_eq!(res.status, 422, "{path}: {}", res.body);
    let body = res.json();
    let items = body["detail"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    for field in ["type", "loc", "msg", "input"] {
        assert!(items[0].get(field).is_some(), "{field} in {body}");
    }
    items[0].clone()
}

fn bad_times_are_422_naming_the_parameter(app: &TestApp) {
    let (admin, _, id) = keys(app, 10);
    let usage = format!("/v1/api-keys/{id}/usage");
    let item = invalid(app, &format!("{usage}?since=yesterday"), &admin);
    assert_eq!(item["loc"], json!(["query", "since"]));
    assert_eq!(item["type"], "datetime_parsing");
    assert_eq!(item["input"], "yesterday");
    let item = invalid(app, &format!("{usage}?until=2026-12-04"), &admin);
    assert_eq!(item["loc"], json!(["query", "until"]));
    assert_eq!(item["input"], "2026-12-04");
    // Both wrong: both named.
    let res = app.get(&format!("{usage}?since=a&until=b"), &admin);
    assert_eq!(res.status, 422);
    let locs: Vec<Value> = res.json()["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["loc"].clone())
        .collect();
    assert_eq!(locs, [json!(["query", "since"]), json!(["query", "until"])]);
    // A range that holds no instant covers nothing (both values are valid alone), and
    // one over 90 days is cut to the 90 days before `until`, as the answer says.
    for query in [
        "since=2026-12-04T10:00:00Z&until=2026-12-04T10:00:00Z",
        "since=2026-12-04T11:00:00Z&until=2026-12-04T10:00:00Z",
    ] {
        let res = app.get(&format!("{usage}?{query}"), &admin);
        assert_eq!(res.status, 200, "{query}: {}", res.body);
        assert_eq!(res.json()["buckets"], json!([]), "{query}");
    }
    let res = app.get(
        &format!("{usage}?since=2026-01-01T00:00:00Z&until=2026-12-04T00:00:00Z"),
        &admin,
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["since"], "2026-09-05T00:00:00.000000Z");
    // A malformed key id.
    let item = invalid(app, "/v1/api-keys/not-a-uuid/usage", &admin);
    assert_eq!(item["loc"], json!(["path", "key_id"]));
}

fn another_tenants_key_is_not_found(app: &TestApp) {
    let (admin, key, id) = keys(app, 10);
    assert_eq!(get_at(app, &app.address, "/v1/instances", &key), 200);
    let (_, stranger) = app.tenant_with_key(&["api-keys:*"]);
    for path in [
        format!("/v1/api-keys/{id}/usage"),
        format!("/v1/api-keys/{}/usage", uuid::Uuid::new_v4()),
    ] {
        let res = app.get(&path, &stranger);
        assert_eq!(res.status, 404, "{path}: {}", res.body);
        assert_eq!(res.json(), json!({"detail": "API key not found"}));
    }
    // Reading needs `api-keys:read`; the key itself lacks it.
    assert_eq!(
        app.get(&format!("/v1/api-keys/{id}/usage"), &key).status,
        403
    );
    assert_eq!(settled(app, &admin, &id, 2)["forbidden"], 1);
}

api_tests!(
    a_thousand_requests_are_counted_exactly_by_outcome,
    the_range_defaults_to_the_last_36_hours,
    bad_times_are_422_naming_the_parameter,
    another_tenants_key_is_not_found,
);

/// Two nodes count the requests each served; the counts add up in the one table. The
/// second node writes only when it stops (its timer would wait an hour), so its
/// counts also show that a stopping node loses none.
#[test]
fn two_nodes_add_up_and_a_stopping_node_writes_what_it_counted() {
    let Some(app) = spawn_app_with(Backend::Postgres, |_| {}) else {
        return;
    };
    let peer = app.peer(|s| s.serve.usage_flush_ms = 3_600_000);
    let (admin, key, id) = keys(&app, 100_000);
    let mut sent = zero();
    for i in 0..300 {
        let base = if i % 2 == 0 {
            &app.address
        } else {
            &peer.address
        };
        let status = if i % 3 == 0 {
            get_at(&app, base, "/v1/api-keys", &key)
        } else {
            get_at(&app, base, "/v1/instances", &key)
        };
        *sent.get_mut(outcome(status)).unwrap() += 1;
    }
    assert_eq!(sent["ok"] + sent["forbidden"], 300, "{sent:?}");
    // The first node's half is written by its timer; the peer's waits for its stop.
    let first = settled(&app, &admin, &id, 150);
    assert_eq!(first.values().sum::<u64>(), 150, "{first:?}");
    drop(peer);
    assert_eq!(settled(&app, &admin, &id, 300), sent);
}
