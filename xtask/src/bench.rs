//! `cargo xtask bench [--sqlite] [--seconds N]`: our release server against the
//! FastAPI peer (`shared/bench/peer-fastapi`) and against PostgreSQL's own ceiling
//! (pgbench replaying the peer's SQL), in one run on this machine. Prints a table and
//! writes `target/bench/<run>/results.json`. Compare ratios, never numbers across runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

const OURS: u16 = 8901;
const PEER: u16 = 8900;
pub(crate) const PG: &str = "postgres://postgres@127.0.0.1:5432";

pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// A process started by a script (the peer), stopped when dropped.
struct Pid(u32);

impl Drop for Pid {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.to_string()])
            .status();
    }
}

pub(crate) fn require(tool: &str) -> Result<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()?;
    if !found.status.success() {
        bail!("`{tool}` is needed (Debian: apt-get install {tool})");
    }
    Ok(())
}

pub(crate) fn output(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("running {shown}"))?;
    if !out.status.success() {
        bail!("{shown} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `sql` as the PostgreSQL superuser on the local server (creating and dropping
/// the databases the project's commands measure on).
pub(crate) fn admin_sql(sql: &str) -> Result<String> {
    output(Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-c", sql]))
}

/// Whether a server on `port` answers `/healthz` with a success now.
pub(crate) fn healthy(port: u16) -> bool {
    Command::new("curl")
        .args(["-fs", &format!("http://127.0.0.1:{port}/healthz")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn wait_healthy(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if healthy(port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing healthy on port {port}")
}

pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// RSS of a process and all its descendants.
fn tree_rss_kib(pid: u32) -> u64 {
    let children = Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output();
    let mut total = rss_kib(pid);
    if let Ok(out) = children {
        for child in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(c) = child.parse() {
                total += tree_rss_kib(c);
            }
        }
    }
    total
}

fn wrk(port: u16, script: &Path, mode: &str, targets: &Path, seconds: u64) -> Result<Value> {
    let out = output(
        Command::new("wrk")
            .args(["-t2", "-c64", &format!("-d{seconds}s"), "-s"])
            .arg(script)
            .arg(format!("http://127.0.0.1:{port}"))
            .env("MODE", mode)
            .env("TARGETS", targets),
    )?;
    let line = out
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .context("wrk printed no RESULT")?;
    let mut v = serde_json::Map::new();
    for pair in line.trim_start_matches("RESULT ").split_whitespace() {
        if let Some((k, val)) = pair.split_once('=') {
            v.insert(k.to_owned(), json!(val.parse::<f64>().unwrap_or(0.0)));
        }
    }
    Ok(Value::Object(v))
}

/// pgbench's tps for `scripts` on `db` (one script picked at random per transaction),
/// as many clients as the server's pool on 2 threads, with the query protocol
/// `protocol` (`simple`, `prepared`).
pub(crate) fn pgbench(scripts: &[PathBuf], db: &str, protocol: &str, seconds: u64) -> Result<f64> {
    let mut cmd = Command::new("pgbench");
    let clients = crate::ceiling::POOL.to_string();
    cmd.args([
        "-n",
        "-M",
        protocol,
        "-c",
        &clients,
        "-j",
        "2",
        "-T",
        &seconds.to_string(),
    ])
    .args(["-h", "127.0.0.1", "-U", "postgres"]);
    for s in scripts {
        cmd.arg("-f").arg(s);
    }
    tps(&output(cmd.arg(db))?)
}

/// The `tps = …` figure of pgbench's output.
fn tps(out: &str) -> Result<f64> {
    out.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .context("pgbench printed no tps")
}

/// The prepared-statement ceiling of what our server sends for `mode`: 20 requests
/// (two per tenant, so a tenant's own values are never taken for new ones) captured
/// from the statement log, replayed by pgbench (see `ceiling`; statements of fewer than
/// a quarter of the requests are shown but not replayed). Returns the tps and a
/// summary of the statements.
fn own_ceiling(
    root: &Path,
    dbname: &str,
    db: &str,
    mode: &str,
    targets: &Path,
    work: &Path,
    seconds: u64,
) -> Result<(f64, String)> {
    let lines = std::fs::read_to_string(targets)?;
    let agent = crate::drill::agent();
    let base = format!("http://127.0.0.1:{OURS}");
    let mut requests = lines
        .lines()
        .filter_map(|l| l.split_once(' '))
        .take(20)
        .enumerate()
        .map(|(i, (key, id))| {
            let (key, id, agent, base) =
                (key.to_owned(), id.to_owned(), agent.clone(), base.clone());
            let mode = mode.to_owned();
            Box::new(move || {
                let (method, url, body) = match mode.as_str() {
                    "list" => ("GET", format!("{base}/v1/instances"), None),
                    "get" => ("GET", format!("{base}/v1/instances/{id}"), None),
                    _ => (
                        "POST",
                        format!("{base}/v1/instances"),
                        Some(json!({
                            "name": format!("capture-{i}-{}", std::process::id()),
                            "runtime_image": "ghcr.io/acme/api:1.4.2",
                            "config": {"cpu": 1, "memory_mb": 512, "env": {"LOG_LEVEL": "info"}},
                        })),
                    ),
                };
                let (status, text) =
                    crate::drill::send(&agent, method, &url, &key, body.as_ref(), None);
                if !(200..300).contains(&status) {
                    bail!("{method} {url} answered {status}: {text}");
                }
                Ok(())
            }) as Box<dyn FnOnce() -> Result<()>>
        });
    // Warm first: a key cache entry that expired since the last run would be read
    // again inside the capture, which a request at steady state does not do.
    let script = root.join("../shared/bench/peer-fastapi/bench.lua");
    wrk(OURS, &script, mode, targets, 1)?;
    let captured = crate::ceiling::capture(dbname, db, &mut requests)?;
    let dir = work.join("ceiling");
    std::fs::create_dir_all(&dir)?;
    let scripts = crate::ceiling::scripts(&crate::ceiling::steady(&captured), &dir, mode)?;
    crate::ceiling::replay(&scripts, dbname, 2)?;
    let tps = crate::ceiling::replay(&scripts, dbname, seconds)?;
    Ok((tps, crate::ceiling::describe(&captured)))
}

/// SQLite's ceiling for `mode`: the instance service over the store, on the bench's
/// database file, in a tight loop (`crates/store/examples/ceiling.rs`) with as many
/// tasks as the server's pool: the same statements through the same SQLite build,
/// without HTTP.
fn store_ceiling(root: &Path, db: &str, mode: &str, work: &Path, seconds: u64) -> Result<f64> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--package",
            "hydracore-store",
            "--example",
            "ceiling",
        ])
        .status()?;
    if !built.success() {
        bail!("building the store's ceiling example failed");
    }
    let bin = root.join("target/release/examples/ceiling");
    let targets = work.join(TENANT_TARGETS);
    let run = |secs: u64| -> Result<f64> {
        let out = output(Command::new(&bin).arg(db).arg(&targets).args([
            mode,
            &secs.to_string(),
            &crate::ceiling::POOL.to_string(),
        ]))?;
        out.lines()
            .find_map(|l| l.strip_prefix("ops_per_sec="))
            .and_then(|v| v.parse().ok())
            .context("the ceiling example printed no ops_per_sec")
    };
    run(2)?;
    run(seconds)
}

/// Beside the key targets: `<tenant id> <instance id>` lines in the same order.
const TENANT_TARGETS: &str = "targets-tenants.txt";

/// Seeds 10 tenants x 1 key x 100 instances through the CLI and the public API of
/// the server on `port`; returns the targets file (`<key> <instance id>`, interleaved
/// across tenants).
pub(crate) fn seed(bin: &Path, db: &str, work: &Path, port: u16) -> Result<PathBuf> {
    let mut per_tenant: Vec<(String, String, Vec<String>)> = Vec::new();
    for t in 0..10 {
        let tenant: Value = serde_json::from_str(&output(
            Command::new(bin)
                .args(["tenants", "create", "--name", &format!("bench-{t}")])
                .env("DATABASE_URL", db),
        )?)?;
        let id = tenant["id"].as_str().context("tenant id")?.to_owned();
        let key: Value = serde_json::from_str(&output(
            Command::new(bin)
                .args([
                    "keys",
                    "mint",
                    "--tenant",
                    &id,
                    "--name",
                    "bench",
                    "--scopes",
                    "instances:*",
                ])
                .env("DATABASE_URL", db),
        )?)?;
        let key = key["key"].as_str().context("key")?.to_owned();
        let mut curl = Command::new("curl");
        curl.arg("-sf");
        for i in 0..100 {
            if i > 0 {
                curl.arg("--next").arg("-sf");
            }
            curl.args([
                "-w", "\n", "-X", "POST",
                "-H", &format!("X-Api-Key: {key}"),
                "-H", "Content-Type: application/json",
                "-d", &format!(r#"{{"name":"seed-{i}","runtime_image":"ghcr.io/acme/api:1.4.2","config":{{"cpu":1,"memory_mb":512}}}}"#),
                &format!("http://127.0.0.1:{port}/v1/instances"),
            ]);
        }
        let ids: Vec<String> = output(&mut curl)?
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect();
        if ids.len() != 100 {
            bail!("seeding tenant {t} created {} instances", ids.len());
        }
        per_tenant.push((key, id, ids));
    }
    let (mut lines, mut tenant_lines) = (String::new(), String::new());
    for i in 0..100 {
        for (key, tenant, ids) in &per_tenant {
            lines.push_str(&format!("{key} {}\n", ids[i]));
            tenant_lines.push_str(&format!("{tenant} {}\n", ids[i]));
        }
    }
    std::fs::write(work.join(TENANT_TARGETS), tenant_lines)?;
    let path = work.join("targets-ours.txt");
    std::fs::write(&path, lines)?;
    Ok(path)
}

/// Builds the release server; returns its path, a run stamp and `target/<kind>/<stamp>`.
pub(crate) fn release_build(root: &Path, kind: &str) -> Result<(PathBuf, u64, PathBuf)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--release", "--package", "hydracore-server"])
        .status()?;
    if !built.success() {
        bail!("the release build failed");
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let work = root.join(format!("target/{kind}/{stamp}"));
    std::fs::create_dir_all(&work)?;
    Ok((root.join("target/release/hydracore"), stamp, work))
}

pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let sqlite = args.contains(&"--sqlite");
    let seconds: u64 = args
        .iter()
        .position(|a| *a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    for tool in ["wrk", "pgbench", "psql", "curl", "pgrep"] {
        require(tool)?;
    }
    let (bin, stamp, work) = release_build(root, "bench")?;
    let (db, dbname) = if sqlite {
        (format!("sqlite://{}/bench.db", work.display()), None)
    } else {
        let name = format!("hc_bench_{stamp}");
        admin_sql(&format!("CREATE DATABASE {name}"))?;
        (format!("{PG}/{name}"), Some(name))
    };
    let result = measure(root, &bin, &db, dbname.as_deref(), &work, seconds);
    if let Some(name) = dbname {
        let _ = admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    result
}

fn measure(
    root: &Path,
    bin: &Path,
    db: &str,
    dbname: Option<&str>,
    work: &Path,
    seconds: u64,
) -> Result<()> {
    let log = std::fs::File::create(work.join("ours.log"))?;
    let ours = Killed(
        Command::new(bin)
            .args(["serve", "--bind", &format!("127.0.0.1:{OURS}")])
            .env("DATABASE_URL", db)
            .env("HYDRACORE_DATA_DIR", work)
            .env("HYDRACORE_RATE_LIMIT_REQUESTS", "1000000")
            .env("HYDRACORE_RATE_LIMIT_PER_SECONDS", "1")
            .env("HYDRACORE_DB_POOL_SIZE", crate::ceiling::POOL.to_string())
            // PostgreSQL requires the keys every node shares; SQLite ignores them.
            .env("HYDRACORE_JWT_SECRET", crate::BENCH_JWT_SECRET)
            .env("HYDRACORE_MCP_CREDS_KEY", crate::BENCH_MCP_CREDS_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?,
    );
    wait_healthy(OURS)?;
    let ours_targets = seed(bin, db, work, OURS)?;
    let peer_dir = root.join("../shared/bench/peer-fastapi");
    let peer_work = work.join("peer");
    output(
        Command::new("bash")
            .arg(peer_dir.join("run-peer.sh"))
            .arg(&peer_work)
            .arg(PEER.to_string()),
    )?;
    let peer = Pid(std::fs::read_to_string(peer_work.join("peer.pid"))?
        .trim()
        .parse()?);
    let peer_targets = peer_work.join("targets.txt");
    let bench_lua = peer_dir.join("bench.lua");
    let context_lua = root.join("xtask/bench/context.lua");

    let mut rows = Vec::new();
    for mode in ["healthz", "list", "get", "post", "context"] {
        let script = if mode == "context" {
            &context_lua
        } else {
            &bench_lua
        };
        // Warm both up, then measure them alternately.
        wrk(OURS, script, mode, &ours_targets, 2)?;
        let peer = if mode == "context" {
            None
        } else {
            wrk(PEER, script, mode, &peer_targets, 2)?;
            Some(wrk(PEER, script, mode, &peer_targets, seconds)?)
        };
        let ours_run = wrk(OURS, script, mode, &ours_targets, seconds)?;
        let ceiling = match mode {
            "list" | "get" | "post" => Some(pgbench(
                &[root.join(format!("xtask/bench/{mode}.sql"))],
                "bench_peer",
                "simple",
                seconds,
            )?),
            _ => None,
        };
        let own = match (mode, dbname) {
            ("list" | "get" | "post", Some(name)) => {
                let (tps, sent) = own_ceiling(root, name, db, mode, &ours_targets, work, seconds)?;
                println!("{mode}: the statements one request sends\n{sent}");
                Some(tps)
            }
            ("list" | "get" | "post", None) => Some(store_ceiling(root, db, mode, work, seconds)?),
            _ => None,
        };
        rows.push(json!({
            "mode": mode, "ours": ours_run, "peer": peer,
            "pgbench_tps": ceiling, "own_sql_tps": own,
        }));
    }
    let ours_rss = rss_kib(ours.0.id());
    let peer_rss = tree_rss_kib(peer.0);
    drop(peer);
    let pages = if db.starts_with("postgres") {
        Some(page_cost(root, bin, db, work, &ours_targets, seconds)?)
    } else {
        None
    };

    let healthz = rows[0]["ours"]["rps"].as_f64().unwrap_or(0.0);
    println!(
        "{:<8} {:>10} {:>10} {:>8} {:>9} {:>9} {:>9} {:>10} {:>8} {:>10} {:>8}",
        "route",
        "ours rps",
        "peer rps",
        "x peer",
        "ours p99",
        "peer p99",
        "p99 ratio",
        "own SQL",
        "x own",
        "peer SQL",
        "x pgb"
    );
    for r in &mut rows {
        let o = r["ours"]["rps"].as_f64().unwrap_or(0.0);
        let p = r["peer"]["rps"].as_f64();
        let op99 = r["ours"]["p99_ms"].as_f64().unwrap_or(0.0);
        let pp99 = r["peer"]["p99_ms"].as_f64();
        let ceil = r["pgbench_tps"].as_f64();
        let vs_peer = p.map(|p| o / p);
        let vs_pgb = ceil.map(|c| o / c);
        let own = r["own_sql_tps"].as_f64();
        let vs_own = own.map(|c| o / c);
        r["ratio_vs_own_sql"] = json!(vs_own);
        let p99_ratio = pp99.map(|pp| op99 / pp);
        r["ratio_vs_peer"] = json!(vs_peer);
        r["ratio_vs_pgbench"] = json!(vs_pgb);
        r["p99_ratio_vs_peer"] = json!(p99_ratio);
        if r["mode"] == "context" {
            r["ratio_vs_own_healthz"] = json!(o / healthz.max(1.0));
        }
        let f = |v: Option<f64>, d: usize| v.map_or("-".to_owned(), |x| format!("{x:.d$}"));
        println!(
            "{:<8} {:>10.0} {:>10} {:>8} {:>9.2} {:>9} {:>9} {:>10} {:>8} {:>10} {:>8}",
            r["mode"].as_str().unwrap_or_default(),
            o,
            f(p, 0),
            f(vs_peer, 2),
            op99,
            f(pp99, 2),
            f(p99_ratio, 2),
            f(own, 0),
            f(vs_own, 2),
            f(ceil, 0),
            f(vs_pgb, 2)
        );
    }
    if dbname.is_some() {
        println!(
            "own SQL: what the server sent, pgbench -M prepared -c {}; peer SQL: the peer's \
             statements, pgbench -c 16 (simple protocol)",
            crate::ceiling::POOL
        );
    } else {
        println!(
            "own SQL: the instance service over the store on the same SQLite file, {} tasks, \
             no HTTP; peer SQL: the peer's statements on PostgreSQL, pgbench -c 16",
            crate::ceiling::POOL
        );
    }
    println!(
        "context vs own healthz: {:.2}",
        rows[4]["ratio_vs_own_healthz"].as_f64().unwrap_or(0.0)
    );
    println!(
        "RSS after the run: ours {:.1} MiB, peer {:.1} MiB",
        ours_rss as f64 / 1024.0,
        peer_rss as f64 / 1024.0
    );
    if let Some(pages) = &pages {
        println!("{pages}");
    }
    let results = json!({
        "pages": pages.as_ref().map(|p| p.json.clone()),
        "backend": if db.starts_with("sqlite") { "sqlite" } else { "postgres" },
        "seconds": seconds,
        "wrk": "-t2 -c64",
        "rows": rows,
        "rss_mib": {"ours": ours_rss as f64 / 1024.0, "peer": peer_rss as f64 / 1024.0},
    });
    let path = work.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    println!("wrote {}", path.display());
    drop(ours);
    Ok(())
}

/// p99 of a 100-row page for a tenant of 100 instances and for one of 100,000.
pub(crate) struct PageCost {
    json: Value,
}

impl std::fmt::Display for PageCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "100-row page, p99 ms (req/s):")?;
        for case in self.json["cases"].as_array().into_iter().flatten() {
            writeln!(
                f,
                "  {:<38} {:>8.2} ({:.0})",
                case["case"].as_str().unwrap_or_default(),
                case["p99_ms"].as_f64().unwrap_or(0.0),
                case["rps"].as_f64().unwrap_or(0.0)
            )?;
        }
        write!(
            f,
            "  worst 100,000-instance page vs the 100-instance tenant: {:.2}x",
            self.json["worst_ratio"].as_f64().unwrap_or(0.0)
        )
    }
}

/// Adds a tenant of 100,000 instances (in bulk, by SQL: the API would take minutes)
/// and measures its first page and a page from the middle against a tenant of 100.
fn page_cost(
    root: &Path,
    bin: &Path,
    db: &str,
    work: &Path,
    ours_targets: &Path,
    seconds: u64,
) -> Result<PageCost> {
    let tenant: Value = serde_json::from_str(&output(
        Command::new(bin)
            .args(["tenants", "create", "--name", "bench-big"])
            .env("DATABASE_URL", db),
    )?)?;
    let tenant = tenant["id"].as_str().context("tenant id")?.to_owned();
    let key: Value = serde_json::from_str(&output(
        Command::new(bin)
            .args(["keys", "mint", "--tenant", &tenant, "--name", "big"])
            .args(["--scopes", "instances:*"])
            .env("DATABASE_URL", db),
    )?)?;
    let big_key = key["key"].as_str().context("key")?.to_owned();
    let psql = |sql: &str| {
        output(Command::new("psql").args([
            db,
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ]))
    };
    psql(&format!(
        "INSERT INTO instances (id, tenant_id, name, status, runtime_image, config, created_at, updated_at) \
         SELECT gen_random_uuid(), '{tenant}', 'big-' || g, 'stopped', 'ghcr.io/acme/api:1.4.2', \
                '{{\"cpu\":1,\"memory_mb\":512}}', t, t \
         FROM generate_series(1, 100000) g, \
              LATERAL (SELECT date_trunc('milliseconds', now()) + g * interval '1 microsecond' AS t) ts; \
         ANALYZE instances;"
    ))?;
    let middle = psql(&format!(
        "SELECT (extract(epoch FROM created_at) * 1000000)::bigint * 1000, replace(id::text, '-', '') \
         FROM instances WHERE tenant_id = '{tenant}' ORDER BY created_at, id OFFSET 49999 LIMIT 1"
    ))?;
    let (nanos, id) = middle.trim().split_once('|').context("the middle row")?;
    let cursor = format!("{:016x}{id}", nanos.parse::<i64>()?);
    let small_key = std::fs::read_to_string(ours_targets)?
        .split_whitespace()
        .next()
        .context("a key of a 100-instance tenant")?
        .to_owned();
    let script = root.join("xtask/bench/page.lua");
    let mut cases = Vec::new();
    for (case, key, path) in [
        (
            "tenant of 100: first page",
            &small_key,
            "/v1/instances?limit=100".to_owned(),
        ),
        (
            "tenant of 100,000: first page",
            &big_key,
            "/v1/instances?limit=100".to_owned(),
        ),
        (
            "tenant of 100,000: page at row 50,000",
            &big_key,
            format!("/v1/instances?limit=100&cursor={cursor}"),
        ),
    ] {
        let targets = work.join(format!("page-{}.txt", cases.len()));
        std::fs::write(&targets, format!("{key} {path}\n"))?;
        wrk(OURS, &script, "page", &targets, 2)?;
        let mut run = wrk(OURS, &script, "page", &targets, seconds)?;
        if run["non2xx"].as_f64().unwrap_or(0.0) > 0.0 {
            bail!("{case}: {path} answered non-2xx responses");
        }
        run["case"] = json!(case);
        cases.push(run);
    }
    let p99 = |i: usize| cases[i]["p99_ms"].as_f64().unwrap_or(0.0);
    let worst = p99(1).max(p99(2)) / p99(0).max(f64::EPSILON);
    Ok(PageCost {
        json: json!({ "cases": cases, "worst_ratio": worst }),
    })
}
