//! The real binary, run as an operator would, through a scenario that handles every kind
//! of secret: no password, API key, access or refresh token, MCP credential secret or
//! MCP tool argument reaches its logs (even at debug level) or any table; SIGTERM
//! stops it gracefully with exit status 0.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = bearer {
        req = req.header("Authorization", format!("Bearer {t}"));
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
    // one refused for its arguments' shape.
    let argument_id = uuid::Uuid::new_v4().to_string();
    let argument_text = format!("arg-{}", uuid::Uuid::new_v4().simple());
    for (id, arguments) in [
        (1, json!({"instance_id": argument_id})),
        (2, json!({"instance_id": argument_text})),
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
                       "params": {"name": "instances_get", "arguments": arguments}})
                .to_string(),
            )
            .unwrap();
        let mut res = agent.run(req).unwrap();
        let text = res.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(res.status().as_u16(), 200, "{text}");
        assert!(text.contains("\"isError\":true"), "{text}");
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
        if calls.as_array().map(Vec::len) == Some(2) {
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
    ];
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

/// Every row of every table, as text: the SQLite file and its WAL, or `pg_dump`.
fn database_text(database_url: &str) -> String {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let mut raw = std::fs::read(path).unwrap();
        raw.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        return String::from_utf8_lossy(&raw).into_owned();
    }
    let out = Command::new("pg_dump")
        .args(["--data-only", "--no-owner", database_url])
        .output()
        .expect("pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_secret_reaches_the_logs_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("hc-logs-{}", uuid::Uuid::new_v4()));
    run_scenario(&format!("sqlite://{}/hc.db", dir.display()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn no_secret_reaches_the_logs_on_postgres() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        assert!(
            std::env::var("HYDRACORE_REQUIRE_PG").as_deref() != Ok("1"),
            "HYDRACORE_REQUIRE_PG=1 but TEST_DATABASE_URL is not set"
        );
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = format!("hc_logs_{}", uuid::Uuid::new_v4().simple());
    let url = rt
        .block_on(hydracore_store::admin::create_database(&admin, &name))
        .unwrap();
    run_scenario(&url);
    rt.block_on(hydracore_store::admin::drop_database(&admin, &name))
        .unwrap();
}
