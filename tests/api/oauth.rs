//! OAuth 2.1 for `/mcp`: the metadata documents, registration, the authorization
//! endpoint (the console's consent page), the token and revocation endpoints, and every
//! refusal the flow owes, over real HTTP on both backends. The official SDK's client
//! walks the same flow in a real browser in `the_official_sdk_signs_in_with_oauth`.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use hydracore_api_tests::{
    Backend, PASSWORD, TestApp, TestResponse, Visitor, api_tests, encode, spawn_app_with,
};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:33418/callback";

fn pkce() -> (String, String) {
    let verifier = format!(
        "v{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

fn form(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> TestResponse {
    let body = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}{path}", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    app.send(req)
}

fn register(app: &TestApp, name: &str) -> String {
    let res = app.post_anon(
        "/oauth/register",
        &json!({"client_name": name, "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "client_secret_post"}),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let body = res.json();
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert!(body.get("client_secret").is_none());
    body["client_id"].as_str().unwrap().to_owned()
}

/// The query of an authorization request; `None` leaves a parameter out.
fn authorize_path(app: &TestApp, pairs: &[(&str, Option<&str>)]) -> String {
    let resource = format!("{}/mcp", app.address);
    let mut all: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("redirect_uri", Some(REDIRECT)),
        ("state", Some("st-1")),
        ("code_challenge_method", Some("S256")),
        ("resource", Some(&resource)),
    ];
    for (k, v) in pairs {
        all.retain(|(n, _)| n != k);
        all.push((k, *v));
    }
    let q = all
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v))))
        .collect::<Vec<_>>()
        .join("&");
    format!("/oauth/authorize?{q}")
}

/// The query parameters of a redirect to the client.
fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The hidden fields and the CSRF token of the consent page's Allow/Deny form.
fn consent_fields(page: &str) -> Vec<(String, String)> {
    let form = &page[page
        .find("method=\"post\" action=\"/oauth/authorize\"")
        .unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    let mut out = Vec::new();
    for input in form.split("<input type=\"hidden\"").skip(1) {
        let name = between(input, "name=\"", "\"");
        let value = between(input, "value=\"", "\"");
        out.push((name, unescape(&value)));
    }
    out
}

/// HTML character references decoded.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').map(|e| at + e).unwrap();
        let entity = &rest[at + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => {
                char::from_u32(u32::from_str_radix(&e[2..], 16).unwrap()).unwrap()
            }
            e => char::from_u32(e[1..].parse().unwrap()).unwrap(),
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn between(s: &str, a: &str, b: &str) -> String {
    let from = s.find(a).unwrap() + a.len();
    s[from..from + s[from..].find(b).unwrap()].to_owned()
}

/// Signs `email` in (a new user with a tenant of their own) and goes through the
/// consent page for `client`, allowing `scopes`; returns the code.
fn consent(
    app: &TestApp,
    v: &mut Visitor<'_>,
    client: &str,
    challenge: &str,
    asked: Option<&str>,
    scopes: &[&str],
) -> String {
    let page = v.get(&authorize_path(
        app,
        &[
            ("client_id", Some(client)),
            ("code_challenge", Some(challenge)),
            ("scope", asked),
        ],
    ));
    assert_eq!(page.status, 200, "{}", page.body);
    let mut fields: Vec<(String, String)> = consent_fields(&page.body);
    fields.push(("decision".into(), "allow".into()));
    for s in scopes {
        fields.push(("scope".into(), (*s).into()));
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = v.post("/oauth/authorize", &pairs);
    assert_eq!(res.status, 303, "{}", res.body);
    let location = res.header("location").unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let q = query_of(&location);
    assert_eq!(param(&q, "state"), Some("st-1"));
    assert_eq!(param(&q, "iss"), Some(app.address.as_str()));
    param(&q, "code").unwrap().to_owned()
}

fn exchange(app: &TestApp, client: &str, code: &str, verifier: &str) -> TestResponse {
    form(
        app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", client),
            ("resource", &format!("{}/mcp", app.address)),
        ],
    )
}

/// One JSON-RPC request to `/mcp` with `token`.
fn mcp(app: &TestApp, token: &str, method: &str, params: Value) -> TestResponse {
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/mcp", app.address))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18")
        .header("Authorization", format!("Bearer {token}"))
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string())
        .unwrap();
    app.send(req)
}

fn tools(app: &TestApp, token: &str) -> Vec<String> {
    let res = mcp(app, token, "tools/list", json!({}));
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn refresh_with(app: &TestApp, client: &str, token: &str) -> TestResponse {
    form(
        app,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client),
        ],
    )
}

/// `res` is the token endpoint's `400 {"error": error}`.
fn refused(res: &TestResponse, error: &str) {
    assert_eq!(
        (res.status, error_of(res)),
        (400, error.to_owned()),
        "{}",
        res.body
    );
}

fn error_of(res: &TestResponse) -> String {
    res.json()["error"].as_str().unwrap_or_default().to_owned()
}

fn metadata_documents_follow_the_rfcs(app: &TestApp) {
    let a = &app.address;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let res = app.request("GET", path, None, None);
        assert_eq!(res.status, 200, "{path}");
        let prm = res.json();
        // RFC 9728 2: `resource` is required; the MCP spec needs authorization_servers.
        assert_eq!(prm["resource"], format!("{a}/mcp"));
        assert_eq!(prm["authorization_servers"], json!([a]));
        assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
        let scopes = prm["scopes_supported"].as_array().unwrap();
        assert!(scopes.contains(&json!("instances:read")));
        assert!(scopes.contains(&json!("instances:*")));
    }
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let res = app.request("GET", path, None, None);
        assert_eq!(res.status, 200, "{path}");
        let m = res.json();
        // RFC 8414 2: issuer (the URL the metadata was derived from) and
        // response_types_supported are required; the endpoints the flow uses too.
        assert_eq!(m["issuer"], a.as_str());
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["authorization_endpoint"], format!("{a}/oauth/authorize"));
        assert_eq!(m["token_endpoint"], format!("{a}/oauth/token"));
        assert_eq!(m["registration_endpoint"], format!("{a}/oauth/register"));
        assert_eq!(m["revocation_endpoint"], format!("{a}/oauth/revoke"));
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["client_id_metadata_document_supported"], true);
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["token_endpoint_auth_methods_supported"], json!(["none"]));
        assert_eq!(
            m["grant_types_supported"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    }

    // A 401 from /mcp says where to sign in; a bad token says it is invalid.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let res = app.request("POST", "/mcp", None, Some(&body));
    assert_eq!(res.status, 401);
    let challenge = res.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer resource_metadata=\"{a}/.well-known/oauth-protected-resource/mcp\", scope=\""
        )),
        "{challenge}"
    );
    assert!(challenge.contains("instances:read"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
    let res = app.request("POST", "/mcp", Some("hc_oat_nope"), Some(&body));
    assert_eq!(res.status, 401);
    assert!(
        res.header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // The keys-only endpoint advertises nothing: a client there never tries OAuth.
    let res = app.request("POST", "/api-key/mcp", None, Some(&body));
    assert_eq!(res.status, 401);
    assert!(
        !res.header("www-authenticate")
            .unwrap_or_default()
            .contains("resource_metadata")
    );
}

fn registration_checks_what_clients_send(app: &TestApp) {
    for (body, error, says) in [
        (
            json!({"client_name": "x"}),
            "invalid_redirect_uri",
            "at least one",
        ),
        (
            json!({"redirect_uris": ["http://evil.example.com/cb"]}),
            "invalid_redirect_uri",
            "loopback",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
            "javascript",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
            "implicit",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
            "token",
        ),
        (
            json!(["not", "an", "object"]),
            "invalid_client_metadata",
            "JSON",
        ),
    ] {
        let res = app.post_anon("/oauth/register", &body);
        assert_eq!(res.status, 400, "{body}: {}", res.body);
        assert_eq!(error_of(&res), error, "{body}");
        assert!(
            res.json()["error_description"]
                .as_str()
                .unwrap()
                .contains(says),
            "{body}: {}",
            res.body
        );
    }
    // A native app's own scheme is a redirect URI (RFC 8252 7.1).
    let res = app.post_anon(
        "/oauth/register",
        &json!({"client_name": "Cursor", "redirect_uris": ["cursor://anysphere.cursor-retrieval/oauth/callback"]}),
    );
    assert_eq!(res.status, 201, "{}", res.body);
}

fn every_refusal_the_flow_owes(app: &TestApp) {
    let client = register(app, "Test Assistant");
    let (verifier, challenge) = pkce();
    let mut v = Visitor::new(app);

    // Before signing in, the request is checked, then the person is sent to sign in.
    let path = authorize_path(
        app,
        &[
            ("client_id", Some(&client)),
            ("code_challenge", Some(&challenge)),
        ],
    );
    let res = v.get(&path);
    assert_eq!(res.status, 303);
    assert!(
        res.header("location")
            .unwrap()
            .starts_with("/login?next=/oauth/authorize%3F")
    );

    // A redirect URI not registered, or an unknown client: a page, never a redirect.
    for pairs in [
        vec![
            ("client_id", Some(client.as_str())),
            ("code_challenge", Some(challenge.as_str())),
            ("redirect_uri", Some("http://127.0.0.1:9/elsewhere")),
        ],
        vec![
            ("client_id", Some("hc_client_unknown")),
            ("code_challenge", Some(challenge.as_str())),
        ],
        vec![
            ("client_id", None),
            ("code_challenge", Some(challenge.as_str())),
        ],
    ] {
        let res = v.get(&authorize_path(app, &pairs));
        assert_eq!(res.status, 400, "{pairs:?}");
        assert!(res.header("location").is_none());
        assert!(res.body.contains("This sign-in request cannot be used"));
    }

    // The rest go back to the client, with state and iss.
    let other_resource = format!("{}/v1", app.address);
    for (pairs, error) in [
        (vec![("code_challenge", None)], "invalid_request"),
        (
            vec![
                ("code_challenge", Some(challenge.as_str())),
                ("code_challenge_method", Some("plain")),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("code_challenge", Some(challenge.as_str())),
                ("resource", None),
            ],
            "invalid_target",
        ),
        (
            vec![
                ("code_challenge", Some(challenge.as_str())),
                ("resource", Some(other_resource.as_str())),
            ],
            "invalid_target",
        ),
        (
            vec![
                ("code_challenge", Some(challenge.as_str())),
                ("response_type", Some("token")),
            ],
            "unsupported_response_type",
        ),
        (
            vec![
                ("code_challenge", Some(challenge.as_str())),
                ("scope", Some("instances:fly")),
            ],
            "invalid_scope",
        ),
    ] {
        let mut pairs = pairs;
        pairs.push(("client_id", Some(client.as_str())));
        let res = v.get(&authorize_path(app, &pairs));
        assert_eq!(res.status, 303, "{pairs:?}: {}", res.body);
        let location = res.header("location").unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        let q = query_of(location);
        assert_eq!(param(&q, "error"), Some(error), "{pairs:?}");
        assert_eq!(param(&q, "state"), Some("st-1"));
        assert_eq!(param(&q, "iss"), Some(app.address.as_str()));
    }

    app.signup("ada@example.com", "Acme");
    v.sign_in("ada@example.com");

    // Consent denied: the client gets access_denied.
    let page = v.get(&authorize_path(
        app,
        &[
            ("client_id", Some(&client)),
            ("code_challenge", Some(&challenge)),
        ],
    ));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Test Assistant"));
    assert!(page.body.contains("Acme"));
    // Nothing asked: read-only is offered.
    assert!(page.body.contains("value=\"instances:read\" checked"));
    assert!(!page.body.contains("value=\"instances:write\""));
    let mut fields = consent_fields(&page.body);
    fields.push(("decision".into(), "deny".into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = v.post("/oauth/authorize", &pairs);
    assert_eq!(res.status, 303);
    let q = query_of(res.header("location").unwrap());
    assert_eq!(param(&q, "error"), Some("access_denied"));
    assert_eq!(param(&q, "state"), Some("st-1"));
    assert!(param(&q, "code").is_none());

    // Allowed, read-only.
    let code = consent(
        app,
        &mut v,
        &client,
        &challenge,
        Some("instances:read instances:write"),
        &["instances:read"],
    );

    // No verifier, a wrong one, another resource, another client: refused, the code
    // still unspent.
    let res = form(
        app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client),
        ],
    );
    refused(&res, "invalid_request");
    let (wrong, _) = pkce();
    let res = exchange(app, &client, &code, &wrong);
    refused(&res, "invalid_grant");
    let res = form(
        app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client),
            ("code_verifier", &verifier),
            ("resource", &other_resource),
        ],
    );
    refused(&res, "invalid_target");
    let other_client = register(app, "Another");
    let res = exchange(app, &other_client, &code, &verifier);
    refused(&res, "invalid_grant");

    let res = exchange(app, &client, &code, &verifier);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let tokens = res.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "instances:read");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Only the granted scopes' tools; a tool beyond them is the step-up answer.
    let listed = tools(app, &access);
    assert!(listed.contains(&"instances_list".to_owned()), "{listed:?}");
    assert!(
        !listed.contains(&"instances_create".to_owned()),
        "{listed:?}"
    );
    let res = mcp(
        app,
        &access,
        "tools/call",
        json!({"name": "instances_list", "arguments": {}}),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["result"]["isError"], false, "{}", res.body);
    let res = mcp(
        app,
        &access,
        "tools/call",
        json!({"name": "instances_create", "arguments": {"name": "web-1"}}),
    );
    assert_eq!(res.status, 403, "{}", res.body);
    let challenge_header = res.header("www-authenticate").unwrap();
    assert!(
        challenge_header.contains("error=\"insufficient_scope\""),
        "{challenge_header}"
    );
    assert!(
        challenge_header.contains("scope=\"instances:read instances:write\""),
        "{challenge_header}"
    );
    assert!(
        challenge_header.contains("resource_metadata="),
        "{challenge_header}"
    );

    // The token is for /mcp only.
    let res = app.bearer("GET", "/v1/instances", &access, None);
    assert_eq!(res.status, 401);
    assert!(res.body.contains("/mcp"), "{}", res.body);

    // The call log names the client; the audit log the grant.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let tenant = hydracore_tenants::TenantId(
        uuid::Uuid::parse_str(between(&page.body, "name=\"tenant\" value=\"", "\"").as_str())
            .unwrap(),
    );
    let admin = app.key(tenant, &["mcp-log:read", "audit-log:read"]);
    let calls = app.get("/v1/mcp/call-log?order=desc", &admin).json();
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c["key_id"].is_null() && c["oauth_client"] == "Test Assistant")
    );
    assert_eq!(calls[0]["tool"], "instances_create");
    assert_eq!(calls[0]["status"], "denied");
    assert_eq!(calls[1]["status"], "ok");

    // A reused code is refused and revokes what it issued.
    let res = exchange(app, &client, &code, &verifier);
    refused(&res, "invalid_grant");
    assert_eq!(mcp(app, &access, "tools/list", json!({})).status, 401);
    let res = refresh_with(app, &client, &refresh);
    refused(&res, "invalid_grant");

    // A refresh rotates; reusing the old refresh token revokes the family.
    let (verifier, challenge) = pkce();
    let code = consent(app, &mut v, &client, &challenge, None, &["instances:read"]);
    let tokens = exchange(app, &client, &code, &verifier).json();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let res = refresh_with(app, &client, &refresh);
    assert_eq!(res.status, 200, "{}", res.body);
    let rotated = res.json();
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated["refresh_token"], json!(refresh));
    assert!(tools(app, &access).contains(&"instances_list".to_owned()));
    let res = refresh_with(app, &client, &refresh);
    refused(&res, "invalid_grant");
    assert!(
        res.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_eq!(mcp(app, &access, "tools/list", json!({})).status, 401);
    let res = form(
        app,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated["refresh_token"].as_str().unwrap()),
            ("client_id", &client),
        ],
    );
    assert_eq!(res.status, 400, "{}", res.body);

    // RFC 7009: a revoked access token stops at once.
    let (verifier, challenge) = pkce();
    let code = consent(app, &mut v, &client, &challenge, None, &["instances:read"]);
    let tokens = exchange(app, &client, &code, &verifier).json();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(mcp(app, access, "tools/list", json!({})).status, 200);
    let res = form(
        app,
        "/oauth/revoke",
        &[("token", access), ("client_id", &client)],
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(mcp(app, access, "tools/list", json!({})).status, 401);
    let res = form(app, "/oauth/revoke", &[("token", "hc_oat_unknown")]);
    assert_eq!(res.status, 200);

    // The audit log: the grants made (by the person) and revoked (by the server).
    let events = app
        .get(
            "/v1/audit-log?action=oauth_grant.created&action=oauth_grant.revoked",
            &admin,
        )
        .json();
    let events = events.as_array().unwrap();
    let count = |action: &str, kind: &str| {
        events
            .iter()
            .filter(|e| e["action"] == action && e["actor"]["kind"] == kind)
            .count()
    };
    assert_eq!(count("oauth_grant.created", "user"), 3, "{events:?}");
    assert_eq!(count("oauth_grant.revoked", "system"), 2, "{events:?}");

    // Nothing of a token is stored in clear.
    let dump = app.database_text();
    for secret in [&code, &refresh, &access.to_owned(), &verifier] {
        assert!(
            !dump.contains(secret.as_str()),
            "a secret reached the database"
        );
    }
}

/// Revoking in the console stops the grant's tokens on every node at once.
fn grants_are_listed_and_revoked_across_nodes(app: &TestApp) {
    let client = register(app, "Claude");
    let mut v = Visitor::new(app);
    app.signup("bo@example.com", "Bo Inc");
    v.sign_in("bo@example.com");
    let (verifier, challenge) = pkce();
    let code = consent(
        app,
        &mut v,
        &client,
        &challenge,
        Some("instances:read mcp-log:read"),
        &["instances:read", "mcp-log:read"],
    );
    let tokens = exchange(app, &client, &code, &verifier).json();
    let access = tokens["access_token"].as_str().unwrap();
    // Allowed again (another installation, or a step-up): still one grant, wider, and
    // the first installation's token keeps working.
    let (verifier, challenge) = pkce();
    let code = consent(
        app,
        &mut v,
        &client,
        &challenge,
        Some("instances:write"),
        &["instances:write"],
    );
    let second = exchange(app, &client, &code, &verifier).json();
    assert_eq!(second["scope"], "instances:write");
    let second = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(mcp(app, access, "tools/list", json!({})).status, 200);
    let peer = app.peer(|_| {});
    let on_peer = |token: &str| {
        let req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}/mcp", peer.address))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("Authorization", format!("Bearer {token}"))
            .body(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string())
            .unwrap();
        app.send(req).status
    };
    assert_eq!(on_peer(access), 200);

    let page = v.get("/settings/connected-apps");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Claude"));
    assert!(page.body.contains("Bo Inc"));
    assert!(
        page.body
            .contains("instances:read instances:write mcp-log:read")
    );
    assert_eq!(
        page.body.matches("/revoke\"").count(),
        1,
        "one grant per client"
    );
    let id = between(&page.body, "/settings/connected-apps/", "/revoke");
    let confirm = v.get(&format!("/settings/connected-apps/{id}/revoke"));
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Revoke Claude?"));
    let csrf = between(&confirm.body, "name=\"csrf_token\" value=\"", "\"");
    let res = v.post(
        &format!("/settings/connected-apps/{id}/revoke"),
        &[("csrf_token", &csrf)],
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let revoked_at = std::time::Instant::now();
    assert_eq!(on_peer(access), 401);
    assert_eq!(on_peer(&second), 401);
    assert_eq!(mcp(app, access, "tools/list", json!({})).status, 401);
    assert!(revoked_at.elapsed() < std::time::Duration::from_secs(1));
    let page = v.get("/settings/connected-apps?done=grant-revoked");
    assert!(!page.body.contains("Claude"));
    // Another person's grant is not theirs to revoke.
    let res = v.post(
        &format!("/settings/connected-apps/{id}/revoke"),
        &[("csrf_token", &csrf)],
    );
    assert_eq!(res.status, 404);
}

/// A client metadata document at a private or loopback address is never fetched.
fn a_client_document_at_a_private_address_is_refused(app: &TestApp) {
    let (_, challenge) = pkce();
    let mut v = Visitor::new(app);
    for id in [
        "https://127.0.0.1:9/client.json",
        "https://10.0.0.7/client.json",
        "https://localhost:9/client.json",
    ] {
        let res = v.get(&authorize_path(
            app,
            &[
                ("client_id", Some(id)),
                ("code_challenge", Some(&challenge)),
            ],
        ));
        assert_eq!(res.status, 400, "{id}: {}", res.body);
        assert!(res.header("location").is_none());
        assert!(
            res.body.contains("private or loopback"),
            "{id}: {}",
            res.body
        );
    }
}

/// The consent page offers only what the person's role holds, in the tenant they
/// choose; a forged form asking for more is refused and stores no grant.
fn consent_stays_within_the_role_in_the_chosen_tenant(app: &TestApp) {
    let client = register(app, "Picky");
    let owner = app.signup("owner@example.com", "Acme");
    let tenant = owner["tenant"]["id"].as_str().unwrap().to_owned();
    let key = app.key(
        hydracore_tenants::TenantId(uuid::Uuid::parse_str(&tenant).unwrap()),
        &["audit-log:read"],
    );
    // Vic owns a tenant of their own and is a viewer in Acme.
    app.signup("vic@example.com", "Vic's");
    let res = app.bearer(
        "POST",
        "/v1/members",
        owner["access_token"].as_str().unwrap(),
        Some(&json!({"email": "vic@example.com", "role": "viewer"})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let mut v = Visitor::new(app);
    v.sign_in("vic@example.com");
    let (_, challenge) = pkce();
    let path = authorize_path(
        app,
        &[
            ("client_id", Some(&client)),
            ("code_challenge", Some(&challenge)),
            ("scope", Some("instances:read instances:write")),
        ],
    );
    // Their own tenant first (the active one), where they are owner: both offered.
    let page = v.get(&path);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("In Vic&#x27;s, where you are owner")
            || page.body.contains("In Vic&#39;s, where you are owner"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<select id=\"consent-tenant\""));
    assert!(page.body.contains("value=\"instances:write\" checked"));
    // Acme, chosen with the switcher: a viewer may only read.
    let page = v.get(&format!("{path}&tenant={tenant}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("In Acme, where you are viewer"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"instances:read\" checked"));
    assert!(!page.body.contains("value=\"instances:write\""));
    assert!(page.body.contains("your role here does not hold"));
    // A forged form asking for the write anyway.
    let mut fields = consent_fields(&page.body);
    fields.extend([
        ("decision".to_owned(), "allow".to_owned()),
        ("scope".to_owned(), "instances:write".to_owned()),
    ]);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = v.post("/oauth/authorize", &pairs);
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.header("location").is_none());
    assert!(
        res.body.contains("instances:write was not offered"),
        "{}",
        res.body
    );
    let events = app
        .get("/v1/audit-log?action=oauth_grant.created", &key)
        .json();
    assert_eq!(events, json!([]));
}

/// Header clients keep their key on `/api-key/mcp`, where OAuth tokens are not taken.
fn the_key_only_endpoint_takes_keys_only(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:read"]);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let send = |credential: &str| {
        let req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}/api-key/mcp", app.address))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("Authorization", format!("Bearer {credential}"))
            .body(body.clone())
            .unwrap();
        app.send(req)
    };
    let res = send(&key);
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("instances_list"));
    let client = register(app, "Any");
    let mut v = Visitor::new(app);
    app.signup("kay@example.com", "Kay");
    v.sign_in("kay@example.com");
    let (verifier, challenge) = pkce();
    let code = consent(app, &mut v, &client, &challenge, None, &["instances:read"]);
    let tokens = exchange(app, &client, &code, &verifier).json();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(mcp(app, access, "tools/list", json!({})).status, 200);
    let res = send(access);
    assert_eq!(res.status, 401);
    assert!(
        !res.header("www-authenticate")
            .unwrap_or_default()
            .contains("resource_metadata")
    );
}

api_tests!(
    consent_stays_within_the_role_in_the_chosen_tenant,
    the_key_only_endpoint_takes_keys_only,
    metadata_documents_follow_the_rfcs,
    registration_checks_what_clients_send,
    every_refusal_the_flow_owes,
    grants_are_listed_and_revoked_across_nodes,
    a_client_document_at_a_private_address_is_refused,
);

/// A CA and a certificate for 127.0.0.1 it signed, made with `openssl`: the HTTPS of
/// the client metadata document the SDK test serves. Returns (ca, cert, key).
fn test_certificates(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let p = |n: &str| dir.join(n);
    std::fs::write(
        p("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=hydracore test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        vec![
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
        vec![
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    ] {
        let out = Command::new("openssl")
            .args(&args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (p("ca.pem"), p("leaf.pem"), p("leaf.key"))
}

/// The official SDK's OAuth client, both lines, both ways of naming a client, with
/// the person's part played in Chromium.
fn the_official_sdk_signs_in_with_oauth(backend: Backend) {
    let pythons: Vec<String> =
        hydracore_core::testing::needs("HYDRACORE_MCP_PYTHONS", "HYDRACORE_REQUIRE_MCP_CLIENTS")
            .map(|l| l.split(':').map(str::to_owned).collect())
            .unwrap_or_default();
    let Some(pw) = hydracore_core::testing::needs(
        "HYDRACORE_PLAYWRIGHT_PYTHON",
        "HYDRACORE_REQUIRE_DOC_TOOLS",
    ) else {
        return;
    };
    if pythons.is_empty() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("hc-oauth-{}", uuid::Uuid::new_v4()));
    let (ca, cert, key) = test_certificates(&dir);
    let Some(app) = spawn_app_with(backend, |s| {
        s.serve.oauth_client_document_ca = Some(ca.clone());
        s.serve.oauth_client_documents_allow_private = true;
    }) else {
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for python in &pythons {
        for mode in ["dcr", "document"] {
            let email = format!("{mode}-{}@example.com", uuid::Uuid::new_v4().simple());
            let me = app.signup(&email, "SDK tenant");
            let mut cmd = Command::new(python);
            cmd.arg(root.join("mcp/oauth_flow.py"))
                .arg(format!("{}/mcp", app.address))
                .args([mode, &email, PASSWORD, &pw])
                .arg(root.join("browser/consent.py"));
            if mode == "document" {
                cmd.arg(&cert).arg(&key);
            }
            let out = cmd.output().expect("run the SDK");
            assert!(
                out.status.success(),
                "{python} {mode}:\n{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            let ctx = format!("{python} {mode}: {r}");
            // Discovery led the SDK to ask for /mcp's read scopes, for this resource.
            let first = &r["consents"][0];
            assert!(
                first["asked"].as_str().unwrap().contains("instances:read"),
                "{ctx}"
            );
            assert_eq!(first["resource"], format!("{}/mcp", app.address), "{ctx}");
            assert_eq!(r["iss"], app.address.as_str(), "{ctx}");
            let client_id = r["client_id"].as_str().unwrap();
            if mode == "dcr" {
                assert!(client_id.starts_with("hc_client_"), "{ctx}");
            } else {
                assert!(client_id.starts_with("https://127.0.0.1:"), "{ctx}");
                assert!(r["document_fetched"].as_u64().unwrap() >= 1, "{ctx}");
            }
            // Only the granted scopes' tools.
            let tools: Vec<&str> = r["tools"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(tools.contains(&"instances_list"), "{ctx}");
            assert!(!tools.contains(&"instances_create"), "{ctx}");
            assert_eq!(r["list"]["is_error"], false, "{ctx}");
            // The write stepped up: asked again, allowed, done.
            assert_eq!(r["consents"].as_array().unwrap().len(), 2, "{ctx}");
            assert!(
                r["consents"][1]["asked"]
                    .as_str()
                    .unwrap()
                    .contains("instances:write"),
                "{ctx}"
            );
            assert_eq!(r["create"]["is_error"], false, "{ctx}");
            assert!(
                r["scope_after_step_up"]
                    .as_str()
                    .unwrap()
                    .contains("instances:write"),
                "{ctx}"
            );
            assert!(
                r["tools_after_step_up"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("instances_create")),
                "{ctx}"
            );
            // A refresh, then the console's revocation makes the next call 401.
            assert_eq!(r["refreshed"], true, "{ctx}");
            assert_eq!(r["list_after_refresh"]["is_error"], false, "{ctx}");
            assert_eq!(r["after_revoke"], 401, "{ctx}");
            assert!(
                r["after_revoke_challenge"]
                    .as_str()
                    .unwrap()
                    .contains("invalid_token"),
                "{ctx}"
            );

            // The call log and the audit log name the client.
            std::thread::sleep(std::time::Duration::from_millis(300));
            let tenant = hydracore_tenants::TenantId(
                uuid::Uuid::parse_str(me["tenant"]["id"].as_str().unwrap()).unwrap(),
            );
            let admin = app.key(tenant, &["mcp-log:read", "audit-log:read"]);
            let calls = app.get("/v1/mcp/call-log", &admin).json();
            let client_name = if mode == "dcr" {
                "SDK test (registered)"
            } else {
                "SDK test (document)"
            };
            let ok: Vec<&Value> = calls
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["oauth_client"] == client_name)
                .collect();
            assert!(
                ok.iter()
                    .any(|c| c["tool"] == "instances_create" && c["status"] == "ok"),
                "{ctx}: {calls}"
            );
            assert!(
                ok.iter()
                    .any(|c| c["tool"] == "instances_create" && c["status"] == "denied"),
                "{ctx}: {calls}"
            );
            let events = app
                .get("/v1/audit-log?action=instance.created", &admin)
                .json();
            let e = &events.as_array().unwrap()[0];
            assert_eq!(e["actor"]["kind"], "oauth_client", "{ctx}: {events}");
            assert_eq!(e["actor"]["name"], client_name, "{ctx}: {events}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_official_sdk_signs_in_with_oauth_on_sqlite() {
    the_official_sdk_signs_in_with_oauth(Backend::Sqlite);
}

#[test]
fn the_official_sdk_signs_in_with_oauth_on_postgres() {
    the_official_sdk_signs_in_with_oauth(Backend::Postgres);
}
