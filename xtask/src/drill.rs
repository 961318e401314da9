//! `cargo xtask drill [--short]`: a rolling restart behind a real load balancer. Three
//! release nodes on one PostgreSQL database and one Redis, behind HAProxy (health
//! checks on `/readyz`), serve a mixed load (reads, creates with `Idempotency-Key`
//! retried by the client, MCP tool calls) while each node in turn gets SIGTERM and is
//! replaced. Then: a 60/min key through the balancer gets exactly 60, a revoked key is
//! refused by every node (time to 401 on each), and the migrations, applied once by
//! `hydracore migrate` before the nodes started with `HYDRACORE_NO_MIGRATE`, are still
//! applied once. Prints a table, writes `target/drill/<run>/results.json`, and fails
//! when a read failed, a create was lost or duplicated, the limit was not exact, a
//! node kept a revoked key, or the migrations changed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bench::{PG, admin_sql, output, release_build, require};

/// The balancer's port; the nodes take the next three.
const FRONT: u16 = 8910;
const NODES: [u16; 3] = [8911, 8912, 8913];
const JWT_SECRET: &str = "drill-jwt-secret-0123456789abcdef0123456789ab";
const MCP_CREDS_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OPS_TOKEN: &str = "drill-ops-token-0123456789abcdef";
/// What a node has to finish its requests after SIGTERM.
const SHUTDOWN_SECS: u64 = 10;

/// One request of the load.
#[derive(Clone, Copy)]
struct Call {
    kind: &'static str,
    at: Duration,
    took: Duration,
    /// 0: a transport error.
    status: u16,
    /// Answered as asked: a read 200, an MCP call 200 without a tool error, a create
    /// attempt anything but a transport error or a 5xx (the client retries it).
    ok: bool,
}

/// A node process, stopped with SIGTERM when dropped.
struct Node {
    port: u16,
    child: Child,
}

impl Node {
    fn term(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.term();
        let _ = self.child.wait();
    }
}

/// A process killed when dropped (the balancer).
struct Balancer(Child);

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// `method url` with the key and an optional JSON body: status (0 on a transport
/// error) and body.
pub(crate) fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    key: &str,
    body: Option<&Value>,
    idempotency: Option<&str>,
) -> (u16, String) {
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("X-Api-Key", key);
    if let Some(k) = idempotency {
        req = req.header("Idempotency-Key", k);
    }
    let text = body.map(Value::to_string).unwrap_or_default();
    if body.is_some() {
        req = req
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream");
    }
    let Ok(req) = req.body(text) else {
        return (0, String::new());
    };
    match agent.run(req) {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let body = res.body_mut().read_to_string().unwrap_or_default();
            (status, body)
        }
        Err(_) => (0, String::new()),
    }
}

fn psql(db: &str, sql: &str) -> Result<String> {
    Ok(output(Command::new("psql").args([db, "-Atc", sql]))?
        .trim()
        .to_owned())
}

fn start_node(bin: &Path, db: &str, port: u16, work: &Path) -> Result<Node> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(work.join(format!("node-{port}.log")))?;
    let child = Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", db)
        .env("REDIS_URL", "redis://127.0.0.1:6379")
        .env("HYDRACORE_JWT_SECRET", JWT_SECRET)
        .env("HYDRACORE_MCP_CREDS_KEY", MCP_CREDS_KEY)
        .env("HYDRACORE_OPS_TOKEN", OPS_TOKEN)
        .env("HYDRACORE_NO_MIGRATE", "true")
        .env("HYDRACORE_BIND", format!("127.0.0.1:{port}"))
        .env("HYDRACORE_PUBLIC_URL", format!("http://127.0.0.1:{FRONT}"))
        .env("HYDRACORE_SHUTDOWN_TIMEOUT_SECS", SHUTDOWN_SECS.to_string())
        // The load's key may spend freely; the drill's 60/min key has its own limit.
        .env("HYDRACORE_RATE_LIMIT_REQUESTS", "1000000")
        .env("HYDRACORE_RATE_LIMIT_PER_SECONDS", "1")
        .env("HYDRACORE_WORKERS", "1")
        .env("HYDRACORE_DB_POOL_SIZE", "4")
        .env("HYDRACORE_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("starting a node")?;
    Ok(Node { port, child })
}

/// Waits until `port` answers `/readyz` with 200.
fn wait_ready(agent: &ureq::Agent, port: u16) -> Result<Duration> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let (status, _) = send(
            agent,
            "GET",
            &format!("http://127.0.0.1:{port}/readyz"),
            "",
            None,
            None,
        );
        if status == 200 {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the node on {port} never became ready")
}

fn haproxy(work: &Path) -> Result<Balancer> {
    let servers: String = NODES
        .iter()
        .enumerate()
        .map(|(i, port)| format!("    server n{i} 127.0.0.1:{port} check\n"))
        .collect();
    let config = format!(
        "global\n    maxconn 2048\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n\
         \x20   retries 3\n    option redispatch 1\n    retry-on conn-failure empty-response\n\
         frontend front\n    bind 127.0.0.1:{FRONT}\n    default_backend nodes\n\
         backend nodes\n    balance roundrobin\n    option httpchk GET /readyz\n    http-check expect status 200\n\
         \x20   default-server inter 500ms fall 2 rise 2\n{servers}"
    );
    let path = work.join("haproxy.cfg");
    std::fs::write(&path, config)?;
    output(Command::new("haproxy").args(["-c", "-q", "-f"]).arg(&path))?;
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(
            work.join("haproxy.log"),
        )?))
        .spawn()
        .context("starting HAProxy")?;
    Ok(Balancer(child))
}

fn percentile(mut ms: Vec<f64>, p: f64) -> f64 {
    if ms.is_empty() {
        return 0.0;
    }
    ms.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * ms.len() as f64).ceil() as usize;
    ms[rank.clamp(1, ms.len()) - 1]
}

pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let short = match args {
        [] => false,
        ["--short"] => true,
        other => bail!("drill: unknown arguments {other:?} (only --short)"),
    };
    for tool in ["haproxy", "psql", "redis-cli"] {
        require(tool)?;
    }
    let (bin, stamp, work) = release_build(root, "drill")?;
    let name = format!("hc_drill_{stamp}");
    admin_sql(&format!("CREATE DATABASE {name}"))?;
    let db = format!("{PG}/{name}");
    let result = drill(&bin, &db, &work, short);
    let _ = admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    result
}

#[allow(clippy::too_many_lines, reason = "one drill, in the order it happens")]
fn drill(bin: &Path, db: &str, work: &Path, short: bool) -> Result<()> {
    let http = agent();
    // Migrations: once, by the command a release runs before its nodes.
    output(Command::new(bin).arg("migrate").env("DATABASE_URL", db))?;
    let migrations = |db: &str| psql(db, "SELECT count(*) FROM __diesel_schema_migrations");
    let migrated = migrations(db)?;

    let mut nodes = Vec::new();
    for port in NODES {
        nodes.push(start_node(bin, db, port, work)?);
    }
    for port in NODES {
        wait_ready(&http, port)?;
    }
    let _balancer = haproxy(work)?;
    let front = format!("http://127.0.0.1:{FRONT}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while send(&http, "GET", &format!("{front}/readyz"), "", None, None).0 != 200 {
        if Instant::now() > deadline {
            bail!("HAProxy never found a ready node");
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // A tenant, a key for the load, a key to mint with.
    let tenant: Value = serde_json::from_str(&output(
        Command::new(bin)
            .args(["tenants", "create", "--name", "drill"])
            .env("DATABASE_URL", db),
    )?)?;
    let tenant = tenant["id"].as_str().context("tenant id")?.to_owned();
    let mint = |scopes: &str| -> Result<String> {
        let key: Value = serde_json::from_str(&output(
            Command::new(bin)
                .args(["keys", "mint", "--tenant", &tenant, "--name", "drill"])
                .args(["--scopes", scopes])
                .env("DATABASE_URL", db),
        )?)?;
        Ok(key["key"].as_str().context("key")?.to_owned())
    };
    let key = mint("instances:*")?;
    let admin = mint("api-keys:*,instances:*")?;
    let mut ids = Vec::new();
    for i in 0..20 {
        let (status, body) = send(
            &http,
            "POST",
            &format!("{front}/v1/instances"),
            &key,
            Some(&json!({"name": format!("seed-{i}")})),
            None,
        );
        if status != 201 {
            bail!("seeding: {status} {body}");
        }
        let v: Value = serde_json::from_str(&body)?;
        ids.push(v["id"].as_str().context("id")?.to_owned());
    }

    // The load, until told to stop.
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let calls: Arc<Mutex<Vec<Call>>> = Arc::new(Mutex::new(Vec::new()));
    let creates = Arc::new(AtomicUsize::new(0));
    let lost = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    let record = {
        let calls = calls.clone();
        move |kind: &'static str, started: Instant, status: u16, ok: bool| {
            if let Ok(mut c) = calls.lock() {
                c.push(Call {
                    kind,
                    at: started.duration_since(t0),
                    took: started.elapsed(),
                    status,
                    ok,
                });
            }
        }
    };
    for reader in 0..2 {
        let (stop, key, ids, front, record) = (
            stop.clone(),
            key.clone(),
            ids.clone(),
            front.clone(),
            record.clone(),
        );
        workers.push(std::thread::spawn(move || {
            let http = agent();
            let mut n = reader;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let url = format!("{front}/v1/instances/{}", ids[n % ids.len()]);
                let (status, _) = send(&http, "GET", &url, &key, None, None);
                record("read", started, status, status == 200);
                n += 1;
            }
        }));
    }
    {
        let (stop, key, front, record, creates, lost) = (
            stop.clone(),
            key.clone(),
            front.clone(),
            record.clone(),
            creates.clone(),
            lost.clone(),
        );
        workers.push(std::thread::spawn(move || {
            let http = agent();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                // One logical create: retried with its key until it is answered 201.
                let name = format!("drill-{n}");
                let body = json!({"name": name});
                let mut done = false;
                for _ in 0..50 {
                    let started = Instant::now();
                    let (status, _) = send(
                        &http,
                        "POST",
                        &format!("{front}/v1/instances"),
                        &key,
                        Some(&body),
                        Some(&name),
                    );
                    record("create", started, status, status != 0 && status < 500);
                    if status == 201 {
                        done = true;
                        break;
                    }
                    if (400..500).contains(&status) && status != 409 && status != 429 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                if !done && let Ok(mut l) = lost.lock() {
                    l.push(name);
                }
                creates.fetch_add(1, Ordering::Relaxed);
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        }));
    }
    {
        let (stop, key, front, record) = (stop.clone(), key.clone(), front.clone(), record);
        workers.push(std::thread::spawn(move || {
            let http = agent();
            let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "instances_list", "arguments": {"limit": 5}}});
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let (status, body) = send(
                    &http,
                    "POST",
                    &format!("{front}/mcp"),
                    &key,
                    Some(&call),
                    None,
                );
                let ok = status == 200 && !body.contains("\"isError\":true");
                record("mcp", started, status, ok);
            }
        }));
    }

    // The roll: each node in turn gets SIGTERM and is replaced on its port.
    let settle = Duration::from_secs(if short { 1 } else { 3 });
    std::thread::sleep(settle);
    let roll_start = t0.elapsed();
    let mut replaced = Vec::new();
    for node in &mut nodes {
        let port = node.port;
        let asked = Instant::now();
        node.term();
        let _ = node.child.wait();
        let stopped = asked.elapsed();
        *node = start_node(bin, db, port, work)?;
        let ready = wait_ready(&http, port)?;
        replaced.push(
            json!({"port": port, "stopped_ms": stopped.as_millis(), "ready_ms": ready.as_millis()}),
        );
        // HAProxy's `rise 2` at 500 ms, then a pause before the next node.
        std::thread::sleep(Duration::from_millis(1_000) + settle);
    }
    let roll_end = t0.elapsed();
    std::thread::sleep(settle);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let calls = calls.lock().map(|c| c.clone()).unwrap_or_default();

    // Creates: each answered once, none twice.
    let made: usize = psql(
        db,
        "SELECT count(*) FROM instances WHERE name LIKE 'drill-%'",
    )?
    .parse()?;
    let logical = creates.load(Ordering::Relaxed);
    let lost = lost.lock().map(|l| l.clone()).unwrap_or_default();

    // Rate-limit exactness: a 60/min key through the balancer, over three nodes.
    let (status, body) = send(
        &http,
        "POST",
        &format!("{front}/v1/api-keys"),
        &admin,
        Some(&json!({"name": "sixty", "scopes": ["instances:read"],
            "rate_limit": {"requests": 60, "per_seconds": 60}})),
        None,
    );
    if status != 201 {
        bail!("minting the limited key: {status} {body}");
    }
    let limited: Value = serde_json::from_str(&body)?;
    let limited = limited["key"].as_str().context("key")?.to_owned();
    let mut admitted = 0;
    let mut refused = 0;
    for _ in 0..90 {
        match send(
            &http,
            "GET",
            &format!("{front}/v1/instances?limit=1"),
            &limited,
            None,
            None,
        )
        .0
        {
            200 => admitted += 1,
            429 => refused += 1,
            other => bail!("the limited key got {other}"),
        }
    }

    // Revocation: warm a key on every node, revoke it through the balancer, then time
    // each node's first 401.
    let (status, body) = send(
        &http,
        "POST",
        &format!("{front}/v1/api-keys"),
        &admin,
        Some(&json!({"name": "doomed", "scopes": ["instances:read"]})),
        None,
    );
    if status != 201 {
        bail!("minting the doomed key: {status} {body}");
    }
    let doomed: Value = serde_json::from_str(&body)?;
    let doomed_key = doomed["key"].as_str().context("key")?.to_owned();
    let doomed_id = doomed["id"].as_str().context("id")?.to_owned();
    for port in NODES {
        let url = format!("http://127.0.0.1:{port}/v1/instances?limit=1");
        if send(&http, "GET", &url, &doomed_key, None, None).0 != 200 {
            bail!("the doomed key was refused on {port} before its revocation");
        }
    }
    let (status, _) = send(
        &http,
        "DELETE",
        &format!("{front}/v1/api-keys/{doomed_id}"),
        &admin,
        None,
        None,
    );
    if status != 204 {
        bail!("revoking: {status}");
    }
    let revoked = Instant::now();
    let mut to_401 = Vec::new();
    for port in NODES {
        let url = format!("http://127.0.0.1:{port}/v1/instances?limit=1");
        loop {
            if send(&http, "GET", &url, &doomed_key, None, None).0 == 401 {
                to_401.push(revoked.elapsed());
                break;
            }
            if revoked.elapsed() > Duration::from_secs(30) {
                bail!("node {port} still takes the revoked key after 30 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let migrated_after = migrations(db)?;
    drop(nodes);

    // The figures.
    let during: Vec<&Call> = calls
        .iter()
        .filter(|c| c.at >= roll_start && c.at <= roll_end)
        .collect();
    let mut rows = Vec::new();
    let mut failed_reads = 0;
    println!(
        "{:<8} {:>9} {:>8} {:>12} {:>12} {:>12}",
        "kind", "requests", "failed", "p50 roll ms", "p99 roll ms", "p99 all ms"
    );
    for kind in ["read", "create", "mcp"] {
        let all: Vec<&Call> = calls.iter().filter(|c| c.kind == kind).collect();
        let failed = all.iter().filter(|c| !c.ok).count();
        let mut failed_statuses = std::collections::BTreeMap::<u16, usize>::new();
        for c in all.iter().filter(|c| !c.ok) {
            *failed_statuses.entry(c.status).or_default() += 1;
        }
        if kind == "read" {
            failed_reads = failed;
        }
        let ms = |cs: &[&Call]| -> Vec<f64> {
            cs.iter().map(|c| c.took.as_secs_f64() * 1000.0).collect()
        };
        let in_roll: Vec<&Call> = during.iter().copied().filter(|c| c.kind == kind).collect();
        let (p50, p99, p99_all) = (
            percentile(ms(&in_roll), 50.0),
            percentile(ms(&in_roll), 99.0),
            percentile(ms(&all), 99.0),
        );
        println!(
            "{kind:<8} {:>9} {failed:>8} {p50:>12.1} {p99:>12.1} {p99_all:>12.1}",
            all.len()
        );
        rows.push(json!({"kind": kind, "requests": all.len(), "failed": failed,
            "failed_statuses": failed_statuses,
            "in_roll": in_roll.len(), "p50_roll_ms": p50, "p99_roll_ms": p99, "p99_all_ms": p99_all}));
    }
    let to_401_ms: Vec<u128> = to_401.iter().map(Duration::as_millis).collect();
    println!(
        "roll: {:.1} s for {} nodes; creates: {logical} logical, {made} made, {} lost",
        (roll_end - roll_start).as_secs_f64(),
        NODES.len(),
        lost.len()
    );
    println!(
        "rate limit 60/min over {} nodes: {admitted} admitted, {refused} refused",
        NODES.len()
    );
    println!("revocation: 401 on each node after {to_401_ms:?} ms");
    println!("migrations: {migrated} applied before the nodes, {migrated_after} after the roll");
    let results = json!({
        "short": short,
        "rows": rows,
        "roll_seconds": (roll_end - roll_start).as_secs_f64(),
        "replaced": replaced,
        "creates": {"logical": logical, "made": made, "lost": lost},
        "rate_limit": {"admitted": admitted, "refused": refused},
        "revocation_ms": to_401_ms,
        "migrations": {"before": migrated, "after": migrated_after},
    });
    let out: PathBuf = work.join("results.json");
    std::fs::write(&out, serde_json::to_string_pretty(&results)?)?;
    println!("wrote {}", out.display());

    let mut failures = Vec::new();
    if failed_reads > 0 {
        failures.push(format!("{failed_reads} reads failed"));
    }
    if !lost.is_empty() || made != logical {
        failures.push(format!(
            "creates: {logical} asked, {made} made, {} never answered 201",
            lost.len()
        ));
    }
    if (admitted, refused) != (60, 30) {
        failures.push(format!("the 60/min key got {admitted} (and {refused} 429)"));
    }
    if to_401.iter().any(|t| *t > Duration::from_secs(5)) {
        failures.push(format!("revocation took {to_401_ms:?} ms"));
    }
    if migrated != migrated_after {
        failures.push("the migrations changed during the roll".into());
    }
    if !failures.is_empty() {
        bail!("the drill failed: {}", failures.join("; "));
    }
    Ok(())
}
