//! Authentication (401), authorization (403) and tenant isolation (404).

use hydracore_api_tests::{TestApp, api_tests};
use hydracore_keys::{ApiKey, ApiKeyId, KeySecret};
use hydracore_scopes::ScopeSet;
use serde_json::json;
use time::{Duration, OffsetDateTime};

fn missing_unknown_and_malformed_keys_are_401(app: &TestApp) {
    let none = app.request("GET", "/v1/instances", None, None);
    assert_eq!(none.status, 401);
    assert_eq!(none.json(), json!({"detail": "Not authenticated"}));
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"hydracore\"")
    );
    let unknown = app.get("/v1/instances", &format!("hc_live_{}", "0".repeat(48)));
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json(), json!({"detail": "Invalid API key"}));
    assert_eq!(app.get("/v1/instances", "not-a-key").status, 401);
    assert_eq!(app.get("/v1/instances", "").status, 401);
    // Authentication comes before path validation: no 422 leaks to strangers.
    assert_eq!(
        app.request("GET", "/v1/instances/abc", None, None).status,
        401
    );
}

fn bearer_header_is_accepted(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:read"]);
    let req = ureq::http::Request::builder()
        .method("GET")
        .uri(format!("{}/v1/instances", app.address))
        .header("Authorization", format!("Bearer {key}"))
        .body(String::new())
        .unwrap();
    assert_eq!(app.send(req).status, 200);
    let wrong_scheme = ureq::http::Request::builder()
        .method("GET")
        .uri(format!("{}/v1/instances", app.address))
        .header("Authorization", format!("Basic {key}"))
        .body(String::new())
        .unwrap();
    assert_eq!(app.send(wrong_scheme).status, 401);
}

/// A request carries one credential; the server never picks between two.
fn one_request_one_credential(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:read", "api-keys:read"]);
    let (_, other) = app.tenant_with_key(&["instances:read"]);
    let signed = app.signup("one@example.com", "One");
    let jwt = signed["access_token"].as_str().unwrap();
    let send = |headers: &[(&str, &str)], path: &str| {
        let mut req = ureq::http::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", app.address));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        app.send(req.body(String::new()).unwrap())
    };
    let bearer = |t: &str| format!("Bearer {t}");
    // The same key in both headers is one credential.
    let same = send(
        &[("X-Api-Key", &key), ("Authorization", &bearer(&key))],
        "/v1/instances",
    );
    assert_eq!(same.status, 200, "{}", same.body);
    // Two different ones, valid or not, are refused whichever would have worked.
    for (x_api_key, authorization) in [
        (key.as_str(), bearer(&other)),
        (key.as_str(), bearer(jwt)),
        (key.as_str(), bearer("hc_live_not-a-real-key")),
        ("hc_live_not-a-real-key", bearer(&key)),
    ] {
        let res = send(
            &[("X-Api-Key", x_api_key), ("Authorization", &authorization)],
            "/v1/instances",
        );
        assert_eq!(res.status, 401, "{x_api_key} + {authorization}");
        assert_eq!(
            res.json(),
            json!({"detail": "Send one credential: X-Api-Key and Authorization name different ones"})
        );
        assert!(res.header("www-authenticate").is_some());
    }
    // X-Api-Key carries API keys only: a user's access token there is no key.
    let jwt_as_key = send(&[("X-Api-Key", jwt)], "/v1/instances");
    assert_eq!(jwt_as_key.status, 401);
    assert_eq!(jwt_as_key.json(), json!({"detail": "Invalid API key"}));
    assert_eq!(
        send(&[("X-Api-Key", "garbage")], "/v1/instances").json(),
        json!({"detail": "Invalid API key"})
    );
    // Routes only a person may call answer an API key 401, with a challenge; routes
    // only a key may call answer a user's token the same way.
    for (path, credential) in [
        ("/auth/me", ("X-Api-Key", key.clone())),
        ("/auth/me", ("Authorization", bearer(&key))),
        ("/v1/mcp/api-key-context", ("Authorization", bearer(jwt))),
    ] {
        let res = send(&[(credential.0, &credential.1)], path);
        assert_eq!(res.status, 401, "{path}");
        assert!(res.header("www-authenticate").is_some(), "{path}");
    }
    let mut tenant = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/v1/tenants", app.address))
        .header("X-Api-Key", &key)
        .header("Content-Type", "application/json");
    tenant = tenant.header("Accept", "application/json");
    let res = app.send(tenant.body(json!({"name": "Nope"}).to_string()).unwrap());
    assert_eq!(res.status, 401, "{}", res.body);
}

fn revoked_key_is_401(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app.post(
        "/v1/api-keys",
        &admin,
        &json!({"name": "short-lived", "scopes": ["instances:read"]}),
    );
    assert_eq!(minted.status, 201);
    let minted = minted.json();
    let key = minted["key"].as_str().unwrap();
    assert_eq!(app.get("/v1/instances", key).status, 200);
    let id = minted["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/v1/api-keys/{id}"), &admin).status,
        204
    );
    let after = app.get("/v1/instances", key);
    assert_eq!(after.status, 401);
    assert_eq!(after.json(), json!({"detail": "API key has been revoked"}));
}

fn expired_key_is_401(app: &TestApp) {
    let tenant = app.tenant("acme");
    let secret = KeySecret::generate();
    let created = OffsetDateTime::now_utc() - Duration::hours(2);
    app.insert_raw_key(
        &ApiKey {
            id: ApiKeyId::new(),
            tenant_id: tenant,
            name: "old".into(),
            prefix: secret.display_prefix(),
            scopes: ScopeSet::parse(&["instances:read"]).unwrap(),
            created_at: created,
            expires_at: Some(created + Duration::hours(1)),
            revoked_at: None,
            last_used_at: None,
            rate_limit: None,
            rotated_at: None,
        },
        &secret,
    );
    let res = app.get("/v1/instances", secret.expose());
    assert_eq!(res.status, 401);
    assert_eq!(res.json(), json!({"detail": "API key has expired"}));
}

fn a_key_without_the_routes_scope_is_403(app: &TestApp) {
    let (_, reader) = app.tenant_with_key(&["instances:read", "instances:delete"]);
    let res = app.post("/v1/instances", &reader, &json!({"name": "web"}));
    assert_eq!(res.status, 403);
    assert_eq!(
        res.json(),
        json!({"detail": "Missing required scope: instances:write"})
    );
    assert_eq!(app.get("/v1/instances", &reader).status, 200);
    assert_eq!(app.get("/v1/api-keys", &reader).status, 403);
    // 403 comes before body validation.
    assert_eq!(
        app.request("POST", "/v1/instances", Some(&reader), Some("{"))
            .status,
        403
    );
    let (_, wildcard) = app.tenant_with_key(&["instances:*"]);
    assert_eq!(
        app.post("/v1/instances", &wildcard, &json!({"name": "web"}))
            .status,
        201
    );
}

fn other_tenants_rows_are_404_everywhere(app: &TestApp) {
    let (_, a) = app.tenant_with_key(&["instances:*", "api-keys:*"]);
    let (_, b) = app.tenant_with_key(&["instances:*", "api-keys:*"]);
    let inst = app
        .post("/v1/instances", &a, &json!({"name": "secret"}))
        .json();
    let id = inst["id"].as_str().unwrap();
    let path = format!("/v1/instances/{id}");
    for res in [
        app.get(&path, &b),
        app.patch(&path, &b, &json!({"name": "stolen"})),
        app.request("POST", &format!("{path}/start"), Some(&b), None),
        app.request("POST", &format!("{path}/stop"), Some(&b), None),
        app.delete(&path, &b),
    ] {
        assert_eq!(res.status, 404, "{}", res.body);
        assert_eq!(res.json(), json!({"detail": "Instance not found"}));
    }
    assert_eq!(app.get("/v1/instances", &b).json(), json!([]));
    let a_keys = app.get("/v1/api-keys", &a).json();
    let a_key_id = a_keys[0]["id"].as_str().unwrap();
    let key_path = format!("/v1/api-keys/{a_key_id}");
    assert_eq!(app.get(&key_path, &b).status, 404);
    assert_eq!(app.patch(&key_path, &b, &json!({"name": "x"})).status, 404);
    assert_eq!(app.delete(&key_path, &b).status, 404);
    // Nothing changed for the owner.
    let mine = app.get(&path, &a).json();
    assert_eq!(mine["name"], "secret");
    assert_eq!(mine["status"], "stopped");
    assert_eq!(
        app.get("/v1/instances", &a)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

api_tests!(
    missing_unknown_and_malformed_keys_are_401,
    bearer_header_is_accepted,
    revoked_key_is_401,
    expired_key_is_401,
    a_key_without_the_routes_scope_is_403,
    one_request_one_credential,
    other_tenants_rows_are_404_everywhere,
);
