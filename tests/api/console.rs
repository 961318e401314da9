//! The console: in a real browser (Chromium through Playwright, `tests/browser/
//! console.py`), and the rules a browser cannot show from the outside: the headers of
//! every page, sessions that end at once, lists that page.

use std::path::PathBuf;
use std::process::Command;

use hydracore_api_tests::{Backend, PASSWORD, TestApp, Visitor, api_tests, spawn_app_with};
use serde_json::{Value, json};

/// A tool `.ci/run` installs, named by an environment variable.
fn tool(var: &str) -> Option<PathBuf> {
    hydracore_core::testing::needs(var, "HYDRACORE_REQUIRE_DOC_TOOLS").map(PathBuf::from)
}

fn console_in_a_real_browser(app: &TestApp) {
    let (Some(python), Some(axe)) = (tool("HYDRACORE_PLAYWRIGHT_PYTHON"), tool("HYDRACORE_AXE"))
    else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/console.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script).arg(&app.address).arg(&axe);
    if let Ok(dir) = std::env::var("HYDRACORE_CONSOLE_SHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        cmd.arg(dir);
    }
    let out = cmd.output().expect("python");
    assert!(
        out.status.success(),
        "the console walk-through failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages: Vec<&str> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for page in [
        "login",
        "signup",
        "instances",
        "instance",
        "api-keys",
        "api-key",
        "api-key-created",
        "members",
        "mcp-credentials",
        "mcp-call-log",
        "audit-log",
        "audit-event",
        "tenant",
    ] {
        assert!(pages.contains(&page), "axe never saw {page}: {pages:?}");
    }
    assert_eq!(report["csp_violations"], json!([]));
}

/// The navigation lists every section the person may see, in order, and marks the one
/// the page is of (`aria-current`).
fn the_navigation_marks_the_page_it_is_on(app: &TestApp) {
    let mut v = Visitor::new(app);
    app.signup("ada@example.com", "Acme");
    v.sign_in("ada@example.com");
    let links = [
        ("/instances", "Instances"),
        ("/settings/api-keys", "API keys"),
        ("/settings/members", "Members"),
        ("/settings/mcp-credentials", "MCP credentials"),
        ("/mcp/call-log", "MCP call log"),
        ("/settings/audit-log", "Audit log"),
        ("/settings/connected-apps", "Connected apps"),
        ("/settings/tenant", "Tenant"),
    ];
    for (page, current) in [
        ("/instances", "/instances"),
        ("/settings/api-keys", "/settings/api-keys"),
        ("/mcp/call-log", "/mcp/call-log"),
        ("/settings/audit-log", "/settings/audit-log"),
        ("/settings/tenant", "/settings/tenant"),
    ] {
        let res = v.get(page);
        assert_eq!(res.status, 200, "{page}: {}", res.body);
        let nav = &res.body[res.body.find("<nav aria-label=\"Main\">").unwrap()..];
        let nav = &nav[..nav.find("</nav>").unwrap()];
        let mut at = 0;
        for (href, label) in links {
            let mark = if href == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let link = format!("<a href=\"{href}\"{mark}>{label}</a>");
            let found = nav[at..]
                .find(&link)
                .unwrap_or_else(|| panic!("{page}: no {link} in order in {nav}"));
            at += found + link.len();
        }
        assert_eq!(nav.matches("aria-current").count(), 1, "{page}: {nav}");
    }
}

/// Every console response forbids framing, inline script and style, other origins,
/// caching; cookies are HttpOnly and SameSite=Lax.
fn console_pages_carry_the_security_headers(app: &TestApp) {
    let mut v = Visitor::new(app);
    let login = v.get("/login");
    assert_eq!(login.status, 200);
    let signed_in = {
        app.signup("ada@example.com", "Acme");
        v.sign_in("ada@example.com");
        v.get("/settings/api-keys")
    };
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    for res in [&login, &signed_in] {
        let csp = res.header("content-security-policy").unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(res.header("x-frame-options"), Some("DENY"));
        assert_eq!(res.header("referrer-policy"), Some("same-origin"));
        assert_eq!(res.header("cache-control"), Some("no-store"));
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        assert!(!res.body.contains("<script>") && !res.body.contains(" style="));
    }
    let cookie = login
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http by default: {cookie}"
    );
    // Every script and stylesheet comes from this server.
    for asset in ["console.css", "console.js", "htmx.min.js"] {
        let res = app.request("GET", &format!("/console/assets/{asset}"), None, None);
        assert_eq!(res.status, 200, "{asset}");
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        let tag = res.header("etag").unwrap().to_owned();
        let again = app.send(
            ureq::http::Request::builder()
                .uri(format!("{}/console/assets/{asset}", app.address))
                .header("If-None-Match", &tag)
                .body(String::new())
                .unwrap(),
        );
        assert_eq!(again.status, 304, "{asset}");
    }
    // The API keeps answering as before around the console's pages.
    assert_eq!(app.request("GET", "/nothing-here", None, None).status, 404);
    assert_eq!(app.request("GET", "/mcp/call-log", None, None).status, 303);
}

/// Signing out and losing a membership end a console session at once; a form without
/// the session's token, or posted from another site, changes nothing.
fn console_sessions_end_at_once_and_forms_need_their_token(app: &TestApp) {
    app.signup("ada@example.com", "Acme");
    app.signup("bob@example.com", "Bob's");
    let mut ada = Visitor::new(app);
    ada.sign_in("ada@example.com");
    let token = ada.csrf();
    let added = ada.post(
        "/settings/members",
        &[
            ("csrf_token", &token),
            ("email", "bob@example.com"),
            ("role", "admin"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.body);

    let mut bob = Visitor::new(app);
    bob.sign_in("bob@example.com");
    let bob_token = bob.csrf();
    let acme = ada.get("/settings/tenant");
    let marker = "<code id=\"tenant-id\">";
    let at = acme.body.find(marker).unwrap() + marker.len();
    let acme_id = acme.body[at..at + 36].to_owned();
    let switched = bob.post(
        "/switch-tenant",
        &[("csrf_token", &bob_token), ("tenant_id", &acme_id)],
    );
    assert_eq!(switched.status, 303);
    let keys = bob.get("/settings/api-keys");
    assert_eq!(keys.status, 200);
    assert!(keys.body.contains("Create key"), "an admin may mint");

    // No token, a wrong token, another site: refused, nothing made.
    for (form, origin) in [
        (vec![("name", "x1")], None),
        (
            vec![
                ("csrf_token", "0123456789abcdef0123456789abcdef"),
                ("name", "x2"),
            ],
            None,
        ),
        (
            vec![("csrf_token", bob_token.as_str()), ("name", "x3")],
            Some("http://evil.test"),
        ),
    ] {
        let mut req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}/instances", app.address))
            .header("Cookie", bob.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            req = req
                .header("Origin", o)
                .header("Sec-Fetch-Site", "cross-site");
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let res = app.send(req.body(body).unwrap());
        assert_eq!(res.status, 403, "{form:?} {origin:?}: {}", res.body);
    }
    assert!(!bob.get("/instances").body.contains("x3"));

    // Ada removes Bob: his next page in Acme is refused, though his session lives.
    let bob_id = ada.get("/settings/members");
    let bob_row = bob_id.body.find("bob@example.com").unwrap();
    let href = bob_id.body[bob_row..]
        .find("/settings/members/")
        .map(|i| &bob_id.body[bob_row + i + 18..bob_row + i + 18 + 36])
        .unwrap()
        .to_owned();
    let removed = ada.post(
        &format!("/settings/members/{href}/remove"),
        &[("csrf_token", &token)],
    );
    assert_eq!(removed.status, 303, "{}", removed.body);
    let after = bob.get("/settings/api-keys");
    assert_eq!(after.status, 403, "{}", after.body);
    assert!(
        after.body.contains("not a member of any tenant"),
        "{}",
        after.body
    );

    // Signing out ends the session: the same cookie opens nothing any more.
    let cookie = bob.cookie("hc_session").unwrap().to_owned();
    assert_eq!(
        bob.post("/logout", &[("csrf_token", &bob_token)]).status,
        303
    );
    bob.cookies.push(("hc_session".into(), cookie));
    let res = bob.get("/settings/tenant");
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), Some("/login?next=/settings/tenant"));
}

/// The key list shows a page at a time: 1,000 keys are all reachable from the first
/// page's "Next page" links, 100 rows a page, and a page of 1,000 when asked.
fn the_key_list_pages_a_thousand_keys(app: &TestApp) {
    let owner = app.signup("ada@example.com", "Acme");
    let token = owner["access_token"].as_str().unwrap();
    let tenant =
        hydracore_tenants::TenantId(owner["tenant"]["id"].as_str().unwrap().parse().unwrap());
    for _ in 0..1000 {
        app.key(tenant, &["instances:read"]);
    }
    assert_eq!(app.bearer("GET", "/auth/me", token, None).status, 200);
    let mut v = Visitor::new(app);
    v.sign_in("ada@example.com");
    let mut path = "/settings/api-keys".to_owned();
    let mut rows = 0;
    let mut pages = 0;
    loop {
        let page = v.get(&path);
        assert_eq!(page.status, 200, "{}", page.body);
        let here = page.body.matches("<tr id=\"key-").count();
        assert!(here <= 100, "{here} rows on one page");
        rows += here;
        pages += 1;
        match page.body.find("rel=\"next\"") {
            Some(_) => {
                let at = page.body.find("href=\"/settings/api-keys?cursor=").unwrap() + 6;
                let end = page.body[at..].find('"').unwrap();
                path = page.body[at..at + end].replace("&amp;", "&");
            }
            None => break,
        }
    }
    assert_eq!((rows, pages), (1000, 10));
    let all = v.get("/settings/api-keys?limit=1000");
    assert_eq!(all.body.matches("<tr id=\"key-").count(), 1000);
    let bad = v.get("/settings/api-keys?cursor=nonsense");
    assert_eq!(bad.status, 422);
}

/// The key list draws each key's last 36 hours (one read for the page), and a key's
/// page its last 30 days with served and refused requests apart; both named for
/// people who cannot see them, and neither with an inline style.
fn key_pages_draw_their_usage(app: &TestApp) {
    let owner = app.signup("ada@example.com", "Acme");
    let tenant =
        hydracore_tenants::TenantId(owner["tenant"]["id"].as_str().unwrap().parse().unwrap());
    let used = app.key(tenant, &["instances:read"]);
    app.key(tenant, &["instances:read"]);
    for _ in 0..4 {
        assert_eq!(app.get("/v1/instances", &used).status, 200);
    }
    assert_eq!(app.get("/v1/api-keys", &used).status, 403);
    let mut v = Visitor::new(app);
    v.sign_in("ada@example.com");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let list = loop {
        let list = v.get("/settings/api-keys");
        assert_eq!(list.status, 200, "{}", list.body);
        if list.body.contains("5 requests in the last 36 hours")
            || std::time::Instant::now() > deadline
        {
            break list;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        list.body.contains(
            "role=\"img\" aria-label=\"5 requests in the last 36 hours, 1 of them refused or failed\""
        ),
        "{}",
        list.body
    );
    assert!(
        list.body
            .contains("aria-label=\"No requests in the last 36 hours\""),
        "the unused key has its line too"
    );
    assert_eq!(list.body.matches("<svg class=\"spark\"").count(), 2);
    assert!(!list.body.contains(" style="));
    let id = used_key_id(app, tenant, &used);
    let page = v.get(&format!("/settings/api-keys/{id}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(
            "aria-label=\"Requests per day in the last 30 days: 4 served, 1 refused, 0 failed\""
        ),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<rect class=\"bar-ok\"").count(), 1);
    assert_eq!(page.body.matches("<rect class=\"bar-refused\"").count(), 1);
    assert_eq!(page.body.matches("<rect class=\"bar-error\"").count(), 0);
    assert_eq!(
        page.body.matches("<g transform=").count(),
        30,
        "one bar a day"
    );
    assert!(!page.body.contains(" style="));
}

/// The id of the key whose plaintext is `secret`.
fn used_key_id(app: &TestApp, tenant: hydracore_tenants::TenantId, secret: &str) -> String {
    let key = app
        .block_on(hydracore_keys::KeyRepository::find_by_hash(
            &app.store,
            &hydracore_keys::KeySecret::hash_presented(secret).unwrap(),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(key.tenant_id, tenant);
    key.id.to_string()
}

api_tests!(
    console_in_a_real_browser,
    console_pages_carry_the_security_headers,
    the_navigation_marks_the_page_it_is_on,
    console_sessions_end_at_once_and_forms_need_their_token,
    the_key_list_pages_a_thousand_keys,
    key_pages_draw_their_usage,
);

/// With sign-up turned off, the console neither offers nor takes it.
#[test]
fn the_console_offers_no_sign_up_when_it_is_off() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.signup_enabled = false).unwrap();
    let mut v = Visitor::new(&app);
    let login = v.get("/login");
    assert_eq!(login.status, 200);
    assert!(
        !login.body.contains("/signup"),
        "no link to a closed sign-up"
    );
    let page = v.get("/signup");
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Sign-up is disabled"));
    let token = v.cookie("hc_form").unwrap().to_owned();
    let posted = v.post(
        "/signup",
        &[
            ("csrf_token", &token),
            ("email", "a@example.com"),
            ("password", PASSWORD),
            ("tenant_name", "A"),
        ],
    );
    assert_eq!(posted.status, 403);
    assert!(v.cookie("hc_session").is_none());
}
