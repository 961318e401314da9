//! `/v1/instances`: create, read, update, delete and the lifecycle.

use hydracore_api_tests::{TestApp, api_tests};
use hydracore_instances::{Channel, RuntimeImage, RuntimeImageId, RuntimeImageRepository};
use serde_json::{Value, json};

fn is_utc_z(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.ends_with('Z')
            && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_ok()
    })
}

fn create_get_update_delete(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let res = app.post(
        "/v1/instances",
        &key,
        &json!({"name": "web-1", "config": {"model": "m", "n": [1, 2]}}),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let created = res.json();
    assert_eq!(created["name"], "web-1");
    assert_eq!(created["status"], "stopped");
    assert_eq!(created["config"], json!({"model": "m", "n": [1, 2]}));
    assert_eq!(
        created["runtime_image"],
        "ghcr.io/hydracore/agent-runtime:latest"
    );
    assert!(is_utc_z(&created["created_at"]) && is_utc_z(&created["updated_at"]));
    let id = created["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    let path = format!("/v1/instances/{id}");
    assert_eq!(app.get(&path, &key).json(), created);

    let patched = app.patch(
        &path,
        &key,
        &json!({"name": "web-2", "config": {"x": true}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    let patched = patched.json();
    assert_eq!(patched["name"], "web-2");
    assert_eq!(patched["config"], json!({"x": true}));
    assert_eq!(patched["runtime_image"], created["runtime_image"]);
    assert_eq!(patched["created_at"], created["created_at"]);
    assert_ne!(patched["updated_at"], created["updated_at"]);
    assert_eq!(app.get(&path, &key).json(), patched);
    // An empty patch changes nothing but is fine.
    assert_eq!(app.patch(&path, &key, &json!({})).json()["name"], "web-2");

    let del = app.delete(&path, &key);
    assert_eq!(del.status, 204);
    assert!(del.body.is_empty());
    assert_eq!(app.get(&path, &key).status, 404);
    assert_eq!(app.delete(&path, &key).status, 404);
}

fn duplicate_names_are_409(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    assert_eq!(
        app.post("/v1/instances", &key, &json!({"name": "web"}))
            .status,
        201
    );
    let dup = app.post("/v1/instances", &key, &json!({"name": "web"}));
    assert_eq!(dup.status, 409);
    assert_eq!(
        dup.json(),
        json!({"detail": "An instance named 'web' already exists"})
    );
    let other = app
        .post("/v1/instances", &key, &json!({"name": "api"}))
        .json();
    let rename = app.patch(
        &format!("/v1/instances/{}", other["id"].as_str().unwrap()),
        &key,
        &json!({"name": "web"}),
    );
    assert_eq!(rename.status, 409);
    // Another tenant may use the same name.
    let (_, key_b) = app.tenant_with_key(&["instances:*"]);
    assert_eq!(
        app.post("/v1/instances", &key_b, &json!({"name": "web"}))
            .status,
        201
    );
}

fn lifecycle_transitions_and_409s(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let id = app
        .post("/v1/instances", &key, &json!({"name": "agent"}))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let action =
        |a: &str| app.request("POST", &format!("/v1/instances/{id}/{a}"), Some(&key), None);
    let stop = action("stop");
    assert_eq!(stop.status, 409);
    assert_eq!(
        stop.json(),
        json!({"detail": "Cannot stop an instance that is stopped"})
    );
    let started = action("start");
    assert_eq!(started.status, 200);
    assert_eq!(started.json()["status"], "running");
    // Only a failed instance says why; the field is always there.
    assert_eq!(started.json()["status_reason"], serde_json::Value::Null);
    assert!(
        started
            .json()
            .as_object()
            .unwrap()
            .contains_key("status_reason")
    );
    assert_eq!(action("start").status, 409);
    assert_eq!(
        app.get(&format!("/v1/instances/{id}"), &key).json()["status"],
        "running"
    );
    let stopped = action("stop");
    assert_eq!(stopped.status, 200);
    assert_eq!(stopped.json()["status"], "stopped");

    let running = app.post(
        "/v1/instances",
        &key,
        &json!({"name": "eager", "start": true}),
    );
    assert_eq!(running.status, 201);
    assert_eq!(running.json()["status"], "running");
    // Deleting a running instance stops it first.
    let rid = running.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete(&format!("/v1/instances/{rid}"), &key).status,
        204
    );
}

fn start_and_stop_need_write_and_delete_needs_delete(app: &TestApp) {
    let (tenant, admin) = app.tenant_with_key(&["instances:*"]);
    let reader = app.key(tenant, &["instances:read"]);
    let writer = app.key(tenant, &["instances:write"]);
    let id = app
        .post("/v1/instances", &admin, &json!({"name": "a"}))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = format!("/v1/instances/{id}/start");
    assert_eq!(app.request("POST", &start, Some(&reader), None).status, 403);
    assert_eq!(app.request("POST", &start, Some(&writer), None).status, 200);
    assert_eq!(
        app.delete(&format!("/v1/instances/{id}"), &writer).status,
        403
    );
    assert_eq!(
        app.delete(&format!("/v1/instances/{id}"), &admin).status,
        204
    );
}

fn new_instances_take_the_stable_image(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let explicit = app.post(
        "/v1/instances",
        &key,
        &json!({"name": "pinned", "runtime_image": "acme/agent:7"}),
    );
    assert_eq!(explicit.json()["runtime_image"], "acme/agent:7");
    let image = RuntimeImage {
        id: RuntimeImageId::new(),
        name: "ghcr.io/hydracore/agent-runtime".into(),
        version: "1.4.2".into(),
        digest: "sha256:abc".into(),
        created_at: time::OffsetDateTime::now_utc(),
    };
    app.block_on(async {
        let event = hydracore_api_tests::ops_event;
        use hydracore_core::audit::Action;
        RuntimeImageRepository::insert(&app.store, &image, &event(Action::RuntimeImageRegistered))
            .await
            .unwrap();
        RuntimeImageRepository::promote(
            &app.store,
            Channel::Stable,
            image.id,
            image.created_at,
            &event(Action::RuntimeImagePromoted),
        )
        .await
        .unwrap();
    });
    let fresh = app.post("/v1/instances", &key, &json!({"name": "fresh"}));
    assert_eq!(
        fresh.json()["runtime_image"],
        "ghcr.io/hydracore/agent-runtime:1.4.2"
    );
    let bad = app.post(
        "/v1/instances",
        &key,
        &json!({"name": "x", "runtime_image": "has space"}),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.json()["detail"][0]["loc"],
        json!(["body", "runtime_image"])
    );
}

/// `GET /v1/instances/{id}/logs`: text, `tail` from 1 to 10,000 (422 otherwise, located
/// in the query), `instances:read`, another tenant's instance 404; the default runtime
/// runs nothing, so its log is empty.
fn logs_are_text_with_a_bounded_tail(app: &TestApp) {
    let (tenant, admin) = app.tenant_with_key(&["instances:*"]);
    let writer = app.key(tenant, &["instances:write"]);
    let (_, stranger) = app.tenant_with_key(&["instances:*"]);
    let created = app
        .post(
            "/v1/instances",
            &admin,
            &json!({"name": "talker", "start": true}),
        )
        .json();
    let logs = format!("/v1/instances/{}/logs", created["id"].as_str().unwrap());
    let res = app.get(&logs, &admin);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.body, "");
    for ok in ["1", "10000"] {
        assert_eq!(app.get(&format!("{logs}?tail={ok}"), &admin).status, 200);
    }
    for (bad, kind) in [
        ("0", "greater_than_equal"),
        ("10001", "less_than_equal"),
        ("many", "int_parsing"),
    ] {
        let res = app.get(&format!("{logs}?tail={bad}"), &admin);
        assert_eq!(res.status, 422, "{bad}: {}", res.body);
        let item = &res.json()["detail"][0];
        assert_eq!(item["loc"], json!(["query", "tail"]), "{bad}");
        assert_eq!(item["type"], kind, "{bad}");
        assert_eq!(item["input"], bad, "{bad}");
    }
    assert_eq!(app.get(&logs, &writer).status, 403);
    let res = app.get(&logs, &stranger);
    assert_eq!(res.status, 404);
    assert_eq!(res.json(), json!({"detail": "Instance not found"}));
    assert_eq!(app.request("POST", &logs, Some(&admin), None).status, 405);
}

api_tests!(
    logs_are_text_with_a_bounded_tail,
    create_get_update_delete,
    duplicate_names_are_409,
    lifecycle_transitions_and_409s,
    start_and_stop_need_write_and_delete_needs_delete,
    new_instances_take_the_stable_image,
);
