//! `/v1/api-keys`: minting, reading, changing, revoking; the subset rule.

use hydracore_api_tests::{TestApp, api_tests};
use serde_json::{Value, json};

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

/// A key with `api-keys:write` manages only keys it could have minted, and never
/// loosens its own limits.
fn a_weaker_key_cannot_manage_a_stronger_one(app: &TestApp) {
    let (tenant, weak) =
        app.tenant_with_key(&["api-keys:write", "api-keys:read", "instances:read"]);
    let strong = app.key(tenant, &["instances:*", "api-keys:*"]);
    let ids: Vec<Value> = app
        .get("/v1/api-keys", &weak)
        .json()
        .as_array()
        .unwrap()
        .clone();
    let id_of = |prefix: &str| {
        ids.iter()
            .find(|k| prefix.starts_with(k["prefix"].as_str().unwrap()))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (strong_id, weak_id) = (id_of(&strong), id_of(&weak));
    let path = format!("/v1/api-keys/{strong_id}");
    for (method, uri, body) in [
        ("PATCH", path.clone(), Some(json!({"name": "mine now"}))),
        (
            "PATCH",
            path.clone(),
            Some(json!({"scopes": ["instances:read"]})),
        ),
        (
            "PATCH",
            path.clone(),
            Some(json!({"rate_limit": {"requests": 1, "per_seconds": 86400}})),
        ),
        (
            "PATCH",
            path.clone(),
            Some(json!({"expires_at": "2099-01-01T00:00:00Z"})),
        ),
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/rotate"), None),
    ] {
        let res = app.request(
            method,
            &uri,
            Some(&weak),
            body.as_ref().map(Value::to_string).as_deref(),
        );
        assert_eq!(res.status, 403, "{method} {uri} {body:?}: {}", res.body);
        let detail = res.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.starts_with("Cannot manage a key holding scopes the caller does not hold")
                && detail.contains("instances:*"),
            "{detail}"
        );
    }
    // The stronger key is untouched and works.
    let stored = app.get(&path, &strong).json();
    assert_eq!(stored["name"], "test");
    assert_eq!(stored["rate_limit"], json!(null));
    assert_eq!(app.get("/v1/instances", &strong).status, 200);
    // The weak key cannot loosen itself: no bigger budget, no later or absent expiry...
    let me = format!("/v1/api-keys/{weak_id}");
    for body in [
        json!({"rate_limit": {"requests": 1000000, "per_seconds": 1}}),
        json!({"rate_limit": {"requests": 601, "per_seconds": 60}}),
    ] {
        let res = app.patch(&me, &weak, &body);
        assert_eq!(res.status, 403, "{body}: {}", res.body);
        assert!(
            res.json()["detail"]
                .as_str()
                .unwrap()
                .contains("its own rate limit")
        );
    }
    // ...but may tighten itself, and then not undo it.
    let tight = app.patch(
        &me,
        &weak,
        &json!({"rate_limit": {"requests": 100, "per_seconds": 60},
                                              "expires_at": "2098-01-01T00:00:00Z"}),
    );
    assert_eq!(tight.status, 200, "{}", tight.body);
    for body in [
        json!({"rate_limit": {"requests": 101, "per_seconds": 60}}),
        // Back to the server default (600 per minute) would loosen it too.
        json!({"rate_limit": null}),
        json!({"expires_at": "2099-01-01T00:00:00Z"}),
        json!({"expires_at": null}),
    ] {
        assert_eq!(app.patch(&me, &weak, &body).status, 403, "{body}");
    }
    assert_eq!(
        app.get(&me, &weak).json()["rate_limit"],
        json!({"requests": 100, "per_seconds": 60})
    );
    // Another key may set any budget on a key it manages.
    let minted = app
        .post(
            "/v1/api-keys",
            &strong,
            &json!({"name": "r", "scopes": ["instances:read"]}),
        )
        .json();
    let other = format!("/v1/api-keys/{}", minted["id"].as_str().unwrap());
    assert_eq!(
        app.patch(
            &other,
            &weak,
            &json!({"rate_limit": {"requests": 1000000, "per_seconds": 1}})
        )
        .status,
        200
    );
    assert_eq!(app.delete(&other, &weak).status, 204);
}

/// A key is rotated once; its successor inherits its own expiry, never the grace's end.
fn a_rotated_or_expired_key_is_not_rotated_again(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let first = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "r", "scopes": ["instances:read"]}),
        )
        .json();
    let rotate = |id: &str| {
        app.request(
            "POST",
            &format!("/v1/api-keys/{id}/rotate"),
            Some(&admin),
            Some(&json!({"grace_seconds": 3600}).to_string()),
        )
    };
    let second = rotate(first["id"].as_str().unwrap());
    assert_eq!(second.status, 201, "{}", second.body);
    let second = second.json();
    assert_eq!(second["expires_at"], json!(null));
    assert_eq!(second["rotated_at"], json!(null));
    let old = app
        .get(
            &format!("/v1/api-keys/{}", first["id"].as_str().unwrap()),
            &admin,
        )
        .json();
    assert!(old["rotated_at"].is_string(), "{old}");
    assert!(old["expires_at"].is_string(), "{old}");
    for _ in 0..2 {
        let again = rotate(first["id"].as_str().unwrap());
        assert_eq!(again.status, 409, "{}", again.body);
        assert_eq!(
            again.json(),
            json!({"detail": "This key was rotated already: rotate its successor"})
        );
    }
    // The old key still works through its grace; the successor rotates normally.
    assert_eq!(
        app.get("/v1/instances", first["key"].as_str().unwrap())
            .status,
        200
    );
    let third = rotate(second["id"].as_str().unwrap());
    assert_eq!(third.status, 201);
    assert_eq!(third.json()["expires_at"], json!(null));
    // A key whose expiry passed is not rotated.
    let expired = app.post(
        "/v1/api-keys",
        &admin,
        &json!({"name": "short", "scopes": ["instances:read"],
                "expires_at": (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
                    .format(&time::format_description::well_known::Rfc3339).unwrap()}),
    );
    assert_eq!(expired.status, 201, "{}", expired.body);
    app.clock.advance(time::Duration::seconds(3));
    let res = rotate(expired.json()["id"].as_str().unwrap());
    assert_eq!(res.status, 409);
    assert_eq!(
        res.json(),
        json!({"detail": "This key has expired: mint a new one"})
    );
}

api_tests!(
    a_weaker_key_cannot_manage_a_stronger_one,
    a_rotated_or_expired_key_is_not_rotated_again,
    minted_key_is_shown_once_and_works,
    a_key_can_only_grant_what_it_holds,
    patch_changes_and_clears_fields,
    revoked_keys_disappear,
);
