//! `/v1/api-keys`: minting, reading, changing, revoking; the subset rule.

use hydracore_api_tests::{TestApp, api_tests};
use serde_json::json;

fn minted_key_is_shown_once_and_works(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:*"]);
    let res = app.post(
        "/v1/api-keys",
        &admin,
        &json!({
            "name": "ci",
            "scopes": ["instances:read"],
            "expires_at": "2099-01-01T00:00:00+02:00",
            "rate_limit": {"requests": 100, "per_seconds": 60}
        }),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let minted = res.json();
    let key = minted["key"].as_str().unwrap();
    assert!(key.starts_with("hc_live_"));
    assert!(key.starts_with(minted["prefix"].as_str().unwrap()));
    assert_eq!(minted["scopes"], json!(["instances:read"]));
    assert_eq!(minted["expires_at"], "2098-12-31T22:00:00.000000Z");
    assert_eq!(
        minted["rate_limit"],
        json!({"requests": 100, "per_seconds": 60})
    );
    assert_eq!(minted["last_used_at"], json!(null));
    let id = minted["id"].as_str().unwrap();

    let fetched = app.get(&format!("/v1/api-keys/{id}"), &admin);
    assert_eq!(fetched.status, 200);
    let listed = app.get("/v1/api-keys", &admin);
    for body in [&fetched.body, &listed.body] {
        assert!(
            !body.contains(key),
            "the secret must never be returned again"
        );
        assert!(!body.contains("hash"));
    }
    assert!(fetched.json().get("key").is_none());
    assert_eq!(listed.json().as_array().unwrap().len(), 2);

    assert_eq!(app.get("/v1/instances", key).status, 200);
    assert_eq!(
        app.post("/v1/instances", key, &json!({"name": "x"})).status,
        403
    );
    let ctx = app.get("/v1/mcp/api-key-context", key);
    assert_eq!(ctx.status, 200);
    let ctx = ctx.json();
    assert_eq!(ctx["key_id"], minted["id"]);
    assert_eq!(ctx["name"], "ci");
    assert_eq!(ctx["scopes"], json!(["instances:read"]));
    assert_eq!(
        ctx["rate_limit"],
        json!({"requests": 100, "per_seconds": 60})
    );
}

fn a_key_can_only_grant_what_it_holds(app: &TestApp) {
    let (_, limited) = app.tenant_with_key(&["api-keys:write", "instances:read"]);
    let res = app.post(
        "/v1/api-keys",
        &limited,
        &json!({"name": "escalate", "scopes": ["instances:read", "instances:write"]}),
    );
    assert_eq!(res.status, 403);
    assert!(
        res.json()["detail"]
            .as_str()
            .unwrap()
            .contains("instances:write")
    );
    let wildcard = app.post(
        "/v1/api-keys",
        &limited,
        &json!({"name": "w", "scopes": ["instances:*"]}),
    );
    assert_eq!(wildcard.status, 403);
    let ok = app.post(
        "/v1/api-keys",
        &limited,
        &json!({"name": "ok", "scopes": ["instances:read"]}),
    );
    assert_eq!(ok.status, 201);
    // Nor can a PATCH widen a key beyond the caller's scopes.
    let id = ok.json()["id"].as_str().unwrap().to_owned();
    let widen = app.patch(
        &format!("/v1/api-keys/{id}"),
        &limited,
        &json!({"scopes": ["api-keys:read"]}),
    );
    assert_eq!(widen.status, 403);
    let empty = app.post(
        "/v1/api-keys",
        &limited,
        &json!({"name": "none", "scopes": []}),
    );
    assert_eq!(empty.status, 422);
    assert_eq!(empty.json()["detail"][0]["loc"], json!(["body", "scopes"]));
}

fn patch_changes_and_clears_fields(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:*"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "a", "scopes": ["instances:read"], "expires_at": "2099-01-01T00:00:00Z",
                    "rate_limit": {"requests": 5, "per_seconds": 1}}),
        )
        .json();
    let path = format!("/v1/api-keys/{}", minted["id"].as_str().unwrap());
    let res = app.patch(
        &path,
        &admin,
        &json!({"name": "b", "scopes": ["instances:*"]}),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let res = res.json();
    assert_eq!(res["name"], "b");
    assert_eq!(res["scopes"], json!(["instances:*"]));
    assert_eq!(res["rate_limit"], json!({"requests": 5, "per_seconds": 1}));
    let cleared = app
        .patch(
            &path,
            &admin,
            &json!({"expires_at": null, "rate_limit": null}),
        )
        .json();
    assert_eq!(cleared["expires_at"], json!(null));
    assert_eq!(cleared["rate_limit"], json!(null));
    assert_eq!(cleared["name"], "b");
    assert_eq!(app.get(&path, &admin).json(), cleared);
    // The new scopes apply to the key at once.
    let key = minted["key"].as_str().unwrap();
    assert_eq!(
        app.post("/v1/instances", key, &json!({"name": "now-allowed"}))
            .status,
        201
    );
    let bad = app.patch(
        &path,
        &admin,
        &json!({"rate_limit": {"requests": 0, "per_seconds": 1}}),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.json()["detail"][0]["loc"],
        json!(["body", "rate_limit", "requests"])
    );
    let past = app.patch(
        &path,
        &admin,
        &json!({"expires_at": "2001-01-01T00:00:00Z"}),
    );
    assert_eq!(past.status, 422);
}

fn revoked_keys_disappear(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "gone", "scopes": ["api-keys:read"]}),
        )
        .json();
    let path = format!("/v1/api-keys/{}", minted["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, &admin).status, 204);
    assert_eq!(app.get(&path, &admin).status, 404);
    assert_eq!(app.delete(&path, &admin).status, 404);
    let listed = app.get("/v1/api-keys", &admin).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

api_tests!(
    minted_key_is_shown_once_and_works,
    a_key_can_only_grant_what_it_holds,
    patch_changes_and_clears_fields,
    revoked_keys_disappear,
);
