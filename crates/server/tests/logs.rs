//! The real binary, run as an operator would, through a scenario that handles every kind
//! of secret: no password, API key, access or refresh token, MCP credential secret,
//! MCP tool argument or configured key reaches its logs (even at debug level) or any
//! table, also when keys are minted and rotated under an `Idempotency-Key` (replays
//! are kept), when requests carrying secrets are refused with 422, and when a person
//! signs in to the console, mints a key, stores a credential and lets an MCP client in
//! by OAuth there (codes, verifiers and tokens included); SIGTERM stops it gracefully
//! with exit status 0.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

const PASSWORD: &str = "hunter2-but-longer-Zq9";
const JWT_SECRET: &str = "logs-test-jwt-secret-4f1d2c3b5a69788796a5b4c3";
const MCP_CREDS_KEY: &str = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed";

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    call_with(agent, method, url, bearer, body, None)
}

fn call_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> (u16, Value) {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = bearer {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    req = req.header("Content-Type", "application/json");
    let req = req
        .body(body.map(|b| b.to_string()).unwrap_or_default())
        .unwrap();
    let mut res = agent.run(req).unwrap();
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The server process, killed if the test fails before stopping it.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn run_scenario(database_url: &str) {
    let log_path = std::env::temp_dir().join(format!("hc-log-{}.log", uuid::Uuid::new_v4()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hydracore"));
    if database_url.starts_with("postgres") {
        // PostgreSQL requires the keys every node shares.
        command
            .env("HYDRACORE_JWT_SECRET", JWT_SECRET)
            .env("HYDRACORE_MCP_CREDS_KEY", MCP_CREDS_KEY);
    }
    let mut child = Stopped(
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "debug")
            .env("HYDRACORE_LOG_FORMAT", "json")
            .env("HYDRACORE_USAGE_FLUSH_MS", "50")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // The port is in the "listening" line.
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        let reader = BufReader::new(std::fs::File::open(&log_path).unwrap());
        let found = reader.lines().map_while(Result::ok).find_map(|line| {
            let v: Value = serde_json::from_str(&line).ok()?;
            (v["fields"]["message"] == "listening").then(|| v["fields"]["port"].as_u64())?
        });
        if let Some(p) = found {
            break p;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();

    let (status, signed) = call(
        &agent,
        "POST",
        &format!("{base}/auth/signup"),
        None,
        Some(json!({"email": "ops@example.com", "password": PASSWORD, "tenant_name": "Ops"})),
    );
    assert_eq!(status, 201);
    let access = signed["access_token"].as_str().unwrap().to_owned();
    let refresh = signed["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &agent,
        "POST",
        &format!("{base}/auth/login"),
        None,
        Some(json!({"email": "ops@example.com", "password": format!("{PASSWORD}-wrong")})),
    );
    assert_eq!(status, 401);
    let (status, renewed) = call(
        &agent,
        "POST",
        &format!("{base}/auth/refresh"),
        None,
        Some(json!({"refresh_token": refresh})),
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        &agent,
        "POST",
        &format!("{base}/auth/refresh"),
        None,
        Some(json!({"refresh_token": refresh})),
    );
    assert_eq!(status, 401);
    let (status, key) = call(
        &agent,
        "POST",
        &format!("{base}/v1/api-keys"),
        Some(&access),
        Some(json!({"name": "k", "scopes": ["instances:*", "mcp-creds:*", "mcp-log:read"]})),
    );
    assert_eq!(status, 201);
    let key = key["key"].as_str().unwrap().to_owned();

    // Minted and rotated under an Idempotency-Key, each retried once: the replays are
    // kept, sealed.
    let mut replayed_keys = Vec::new();
    let mint = json!({"name": "idem", "scopes": ["instances:read"]});
    let mut minted_id = String::new();
    for _ in 0..2 {
        let (status, body) = call_with(
            &agent,
            "POST",
            &format!("{base}/v1/api-keys"),
            Some(&access),
            Some(mint.clone()),
            Some("logs-mint"),
        );
        assert_eq!(status, 201);
        replayed_keys.push(body["key"].as_str().unwrap().to_owned());
        minted_id = body["id"].as_str().unwrap().to_owned();
    }
    for _ in 0..2 {
        let (status, body) = call_with(
            &agent,
            "POST",
            &format!("{base}/v1/api-keys/{minted_id}/rotate"),
            Some(&access),
            Some(json!({"grace_seconds": 60})),
            Some("logs-rotate"),
        );
        assert_eq!(status, 201, "{body}");
        replayed_keys.push(body["key"].as_str().unwrap().to_owned());
    }
    assert_eq!(replayed_keys[0], replayed_keys[1], "the mint was replayed");
    assert_eq!(
        replayed_keys[2], replayed_keys[3],
        "the rotation was replayed"
    );

    // Requests carrying secrets, refused with 422 on every route that takes one.
    let refused_password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let refused_token = format!("hc_rt_{}", uuid::Uuid::new_v4().simple());
    let refused_secret = format!("sk-{}", uuid::Uuid::new_v4().simple());
    for (path, bearer, body) in [
        ("/auth/login", None, json!({"password": refused_password})),
        (
            "/auth/signup",
            None,
            json!({"password": refused_password, "tenant_name": "T"}),
        ),
        (
            "/auth/refresh",
            None,
            json!({"refresh_token": refused_token, "extra": 1}),
        ),
        (
            "/auth/logout",
            None,
            json!({"refresh_token": refused_token, "extra": 1}),
        ),
        (
            "/v1/mcp/credentials",
            Some(key.as_str()),
            json!({"secret": refused_secret, "server_url": "https://x.example.com", "auth_kind": "bearer"}),
        ),
        (
            "/v1/api-keys",
            Some(access.as_str()),
            json!({"name": "x", "scopes": [], "key": refused_secret}),
        ),
    ] {
        let (status, detail) = call(&agent, "POST", &format!("{base}{path}"), bearer, Some(body));
        assert_eq!(status, 422, "{path}: {detail}");
        let text = detail.to_string();
        for s in [&refused_password, &refused_token, &refused_secret] {
            assert!(!text.contains(s.as_str()), "{path} echoed a secret: {text}");
        }
    }

    // A credential for a third-party MCP server: its secret is sealed, never stored plain.
    let credential_secret = format!("cred-{}", uuid::Uuid::new_v4().simple());
    let (status, _) = call(
        &agent,
        "POST",
        &format!("{base}/v1/mcp/credentials"),
        Some(&key),
        Some(
            json!({"name": "gh", "server_url": "https://mcp.example.com/mcp",
                    "auth_kind": "bearer", "secret": credential_secret}),
        ),
    );
    assert_eq!(status, 201);

    // MCP tool calls whose arguments must not be kept: one that fails on its argument,
    // one refused for its arguments' shape, and two credential calls that fail with a
    // secret among their arguments (a missing name; a secret of the wrong type).
    let argument_id = uuid::Uuid::new_v4().to_string();
    let argument_text = format!("arg-{}", uuid::Uuid::new_v4().simple());
    let tool_secret = format!("tool-sk-{}", uuid::Uuid::new_v4().simple());
    let tool_number: u64 = 918_273_645_546_372;
    for (id, tool, arguments) in [
        (1, "instances_get", json!({"instance_id": argument_id})),
        (2, "instances_get", json!({"instance_id": argument_text})),
        (
            3,
            "mcp_credentials_create",
            json!({"secret": tool_secret, "server_url": "https://x.example.com", "auth_kind": "bearer"}),
        ),
        (
            4,
            "mcp_credentials_create",
            json!({"name": "n", "secret": tool_number, "server_url": "https://x.example.com", "auth_kind": "bearer"}),
        ),
    ] {
        let req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{base}/mcp"))
            .header("Authorization", format!("Bearer {key}"))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-06-18")
            .body(
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments}})
                .to_string(),
            )
            .unwrap();
        let mut res = agent.run(req).unwrap();
        let text = res.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(res.status().as_u16(), 200, "{text}");
        assert!(text.contains("\"isError\":true"), "{text}");
        assert!(
            !text.contains(&tool_secret) && !text.contains(&tool_number.to_string()),
            "a tool error quoted a secret: {text}"
        );
    }
    // The call log is written in the background: both calls appear shortly.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, calls) = call(
            &agent,
            "GET",
            &format!("{base}/v1/mcp/call-log"),
            Some(&key),
            None,
        );
        assert_eq!(status, 200);
        if calls.as_array().map(Vec::len) == Some(4) {
            break;
        }
        assert!(Instant::now() < deadline, "the call log holds {calls}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) = call(
        &agent,
        "GET",
        &format!("{base}/v1/instances"),
        Some(&key),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        &agent,
        "GET",
        &format!("{base}/v1/instances"),
        Some(&format!("{key}x")),
        None,
    );
    assert_eq!(status, 401);
    let console = console_scenario(&base);
    std::thread::sleep(Duration::from_millis(200));

    let stopped = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let exit = child.0.wait().unwrap();
    assert!(
        exit.success(),
        "SIGTERM must stop the server gracefully: {exit:?}"
    );

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("HTTP request"), "request spans are logged");
    let secrets = [
        PASSWORD.to_owned(),
        access,
        refresh,
        renewed["access_token"].as_str().unwrap().to_owned(),
        renewed["refresh_token"].as_str().unwrap().to_owned(),
        key.clone(),
        key[8..].to_owned(),
        replayed_keys[0].clone(),
        replayed_keys[2].clone(),
        replayed_keys[0][8..].to_owned(),
        replayed_keys[2][8..].to_owned(),
        refused_password,
        refused_token,
        refused_secret,
        tool_secret,
        tool_number.to_string(),
        console.session.clone(),
        console.key.clone(),
        console.key[8..].to_owned(),
        console.wrong_password.clone(),
    ]
    .into_iter()
    .chain(console.oauth.iter().cloned())
    .collect::<Vec<_>>();
    let configured: Vec<String> = if database_url.starts_with("postgres") {
        vec![JWT_SECRET.to_owned(), MCP_CREDS_KEY.to_owned()]
    } else {
        Vec::new()
    };
    for secret in &configured {
        assert!(
            !logs.contains(secret.as_str()),
            "a configured key reached the logs"
        );
    }
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..6]
        );
    }
    let tables = database_text(database_url);
    assert!(
        tables.contains("ops@example.com"),
        "the dump holds the rows"
    );
    let more = [
        credential_secret,
        argument_id,
        argument_text,
        PASSWORD.to_owned(),
        console.credential_secret.clone(),
    ];
    for secret in secrets.iter().chain(&more) {
        assert!(
            !tables.contains(secret.as_str()),
            "a secret reached a table: {}…",
            &secret[..6]
        );
    }
    for secret in &more {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…\n{}",
            &secret[..6],
            logs.lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let _ = std::fs::remove_file(&log_path);
}

/// What the console scenario handled that must stay secret.
struct ConsoleSecrets {
    session: String,
    key: String,
    wrong_password: String,
    credential_secret: String,
    /// The OAuth flow's code, verifier and tokens.
    oauth: Vec<String>,
}

/// A form post with cookies; answers the status, the `Set-Cookie` values and the body.
fn form(
    agent: &ureq::Agent,
    url: &str,
    cookies: &str,
    fields: &[(&str, &str)],
) -> (u16, Vec<String>, String) {
    let body = fields
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&");
    let req = ureq::http::Request::builder()
        .method(if fields.is_empty() { "GET" } else { "POST" })
        .uri(url)
        .header("Cookie", cookies)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    let mut res = agent.run(req).unwrap();
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect();
    let status = res.status().as_u16();
    (
        status,
        set,
        res.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// Signs in to the console (once with a wrong password), mints a key and stores an MCP
/// credential there, and signs out.
fn console_scenario(base: &str) -> ConsoleSecrets {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let agent = &agent;
    let (_, set, _) = form(agent, &format!("{base}/login"), "", &[]);
    let form_cookie = set
        .iter()
        .find(|c| c.starts_with("hc_form="))
        .unwrap()
        .clone();
    let token = form_cookie.trim_start_matches("hc_form=").to_owned();
    let wrong_password = format!("{PASSWORD}-console-wrong");
    let (status, _, _) = form(
        agent,
        &format!("{base}/login"),
        &form_cookie,
        &[
            ("csrf_token", &token),
            ("email", "ops@example.com"),
            ("password", &wrong_password),
        ],
    );
    assert_eq!(status, 401);
    let (status, set, _) = form(
        agent,
        &format!("{base}/login"),
        &form_cookie,
        &[
            ("csrf_token", &token),
            ("email", "ops@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(status, 303);
    let session = set
        .iter()
        .find(|c| c.starts_with("hc_session="))
        .unwrap()
        .clone();
    let (_, _, page) = form(agent, &format!("{base}/settings/tenant"), &session, &[]);
    let marker = "name=\"csrf_token\" value=\"";
    let at = page.find(marker).unwrap() + marker.len();
    let csrf = page[at..at + 32].to_owned();
    let (status, _, page) = form(
        agent,
        &format!("{base}/settings/api-keys"),
        &session,
        &[
            ("csrf_token", &csrf),
            ("name", "console-key"),
            ("scopes", "instances:read"),
            ("expires", "never"),
        ],
    );
    assert_eq!(status, 201, "{page}");
    // The key itself, shown once in its own element (the page also shows its prefix).
    let element = page.find("id=\"new-key\"").unwrap();
    let at = element + page[element..].find("hc_live_").unwrap();
    let key: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert!(key.len() > 40, "{key}");
    let credential_secret = "console-credential-secret-7731".to_owned();
    let (status, _, _) = form(
        agent,
        &format!("{base}/settings/mcp-credentials"),
        &session,
        &[
            ("csrf_token", &csrf),
            ("name", "console-cred"),
            ("server_url", "https://mcp.example.com/mcp"),
            ("auth_kind", "bearer"),
            ("secret", &credential_secret),
        ],
    );
    assert_eq!(status, 303);
    let oauth = oauth_scenario(agent, base, &session, &csrf);
    let (status, _, _) = form(
        agent,
        &format!("{base}/logout"),
        &session,
        &[("csrf_token", &csrf)],
    );
    assert_eq!(status, 303);
    ConsoleSecrets {
        session: session.trim_start_matches("hc_session=").to_owned(),
        key,
        wrong_password,
        credential_secret,
        oauth,
    }
}

/// An MCP client's OAuth flow, the person signed in to the console with `session`:
/// registration, consent, the code exchanged, a call to `/mcp`, a refresh and a
/// revocation. Returns every secret it handled.
fn oauth_scenario(agent: &ureq::Agent, base: &str, session: &str, csrf: &str) -> Vec<String> {
    use base64::Engine as _;
    let redirect = "http://127.0.0.1:33418/callback";
    let (status, client) = call(
        agent,
        "POST",
        &format!("{base}/oauth/register"),
        None,
        Some(json!({"client_name": "Logs", "redirect_uris": [redirect]})),
    );
    assert_eq!(status, 201, "{client}");
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let verifier = format!(
        "verifier-{}-{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
    let resource = "http://127.0.0.1:8000/mcp";
    let params = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", resource),
    ];
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A").replace('/', "%2F")))
        .collect::<Vec<_>>()
        .join("&");
    let (status, _, page) = form(
        agent,
        &format!("{base}/oauth/authorize?{query}"),
        session,
        &[],
    );
    assert_eq!(status, 200, "{page}");
    let marker = "name=\"tenant\" value=\"";
    let at = page.find(marker).unwrap() + marker.len();
    let tenant = page[at..at + 36].to_owned();
    let mut fields: Vec<(&str, &str)> = params.to_vec();
    fields.retain(|(k, _)| *k != "scope");
    fields.extend([
        ("csrf_token", csrf),
        ("tenant", tenant.as_str()),
        ("scope", "instances:read"),
        ("decision", "allow"),
    ]);
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base}/oauth/authorize"))
        .header("Cookie", session)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            fields
                .iter()
                .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A").replace('/', "%2F")))
                .collect::<Vec<_>>()
                .join("&"),
        )
        .unwrap();
    let res = agent.run(req).unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let location = res
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let code: String = location[location.find("code=").unwrap() + 5..]
        .chars()
        .take_while(|c| *c != '&')
        .collect();
    let token = |body: String| {
        let req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{base}/oauth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .unwrap();
        let mut res = agent.run(req).unwrap();
        assert_eq!(res.status().as_u16(), 200);
        serde_json::from_str::<Value>(&res.body_mut().read_to_string().unwrap()).unwrap()
    };
    let first = token(format!(
        "grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%3A33418%2Fcallback&code_verifier={verifier}&client_id={client_id}"
    ));
    let access = first["access_token"].as_str().unwrap().to_owned();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = call(
        agent,
        "POST",
        &format!("{base}/mcp"),
        Some(&access),
        Some(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})),
    );
    assert_ne!(status, 401);
    let second = token(format!(
        "grant_type=refresh_token&refresh_token={refresh}&client_id={client_id}"
    ));
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    let refresh2 = second["refresh_token"].as_str().unwrap().to_owned();
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base}/oauth/revoke"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={refresh2}"))
        .unwrap();
    assert_eq!(agent.run(req).unwrap().status().as_u16(), 200);
    vec![code, verifier, access, refresh, access2, refresh2]
}

/// Every row of every table, as text: the SQLite file and its WAL, or `pg_dump` with
/// its binary columns decoded too.
fn database_text(database_url: &str) -> String {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let mut raw = std::fs::read(path).unwrap();
        raw.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        return String::from_utf8_lossy(&raw).into_owned();
    }
    hydracore_store::admin::data_as_text(database_url).expect("pg_dump")
}

#[test]
fn no_secret_reaches_the_logs_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("hc-logs-{}", uuid::Uuid::new_v4()));
    run_scenario(&format!("sqlite://{}/hc.db", dir.display()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn no_secret_reaches_the_logs_on_postgres() {
    common::with_fresh_postgres("hc_logs", run_scenario);
}
