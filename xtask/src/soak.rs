//! `cargo xtask soak [--sqlite] [--seconds N] [--sample S]`: the release server under a
//! mixed workload (`xtask/bench/soak.lua`: list, get, create, start, stop, update,
//! delete and the key-context route, rotating over ten tenants) for N seconds, its RSS
//! sampled every S seconds. Prints a table, writes `target/soak/<run>/results.json`
//! and fails when RSS still grows after the warm-up or when any response is a 5xx.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bench::{
    Killed, PG, admin_sql, healthy, release_build, require, rss_kib, seed, wait_healthy,
};

/// Not the benchmark's port, so a stray benchmark server is never measured.
const PORT: u16 = 8902;
const CONNECTIONS: &str = "-c32";
const THREADS: &str = "-t2";
/// Allowed growth after the warm-up: final RSS <= warm-up RSS x 1.10 + 2 MiB.
const GROWTH: f64 = 1.10;
const SLACK_KIB: u64 = 2048;

struct Options {
    sqlite: bool,
    seconds: u64,
    sample: u64,
}

fn parse(args: &[&str]) -> Result<Options> {
    let mut o = Options {
        sqlite: false,
        seconds: 300,
        sample: 5,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match *arg {
            "--sqlite" => o.sqlite = true,
            "--seconds" | "--sample" => {
                let v: u64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|v| *v > 0)
                    .with_context(|| format!("{arg} takes a positive number of seconds"))?;
                if *arg == "--seconds" {
                    o.seconds = v;
                } else {
                    o.sample = v;
                }
            }
            other => bail!("soak: unknown argument `{other}`"),
        }
    }
    Ok(o)
}

/// The warm-up: a fifth of the run, but at least 30 s, and never more than half of a
/// short run.
fn warmup(seconds: u64) -> u64 {
    (seconds / 5).max(30.min(seconds / 2))
}

pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let opts = parse(args)?;
    let warm = warmup(opts.seconds);
    if opts.sample > opts.seconds - warm {
        bail!(
            "--sample {} leaves no sample between the warm-up ({warm} s) and the end ({} s)",
            opts.sample,
            opts.seconds
        );
    }
    let mut tools = vec!["wrk", "curl"];
    if !opts.sqlite {
        tools.push("psql");
    }
    for tool in tools {
        require(tool)?;
    }
    let (bin, stamp, work) = release_build(root, "soak")?;
    let data = std::env::temp_dir().join(format!("hc-soak-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let (db, dbname) = if opts.sqlite {
        (format!("sqlite://{}/soak.db", data.display()), None)
    } else {
        let name = format!("hc_soak_{stamp}");
        admin_sql(&format!("CREATE DATABASE {name}"))?;
        (format!("{PG}/{name}"), Some(name))
    };
    let result = soak(root, &bin, &db, &data, &work, &opts, warm);
    if let Some(name) = dbname {
        let _ = admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// One RSS reading: seconds since wrk started, KiB.
struct Sample {
    t: f64,
    kib: u64,
}

fn soak(
    root: &Path,
    bin: &Path,
    db: &str,
    data: &Path,
    work: &Path,
    opts: &Options,
    warm: u64,
) -> Result<()> {
    if healthy(PORT) {
        bail!("something already answers on port {PORT}");
    }
    let log = std::fs::File::create(work.join("server.log"))?;
    let mut server = Killed(
        Command::new(bin)
            .args(["serve", "--bind", &format!("127.0.0.1:{PORT}")])
            .env("DATABASE_URL", db)
            .env("HYDRACORE_DATA_DIR", data)
            .env("HYDRACORE_RATE_LIMIT_REQUESTS", "1000000")
            .env("HYDRACORE_RATE_LIMIT_PER_SECONDS", "1")
            // PostgreSQL requires the keys every node shares; SQLite ignores them.
            .env("HYDRACORE_JWT_SECRET", crate::BENCH_JWT_SECRET)
            .env("HYDRACORE_MCP_CREDS_KEY", crate::BENCH_MCP_CREDS_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?,
    );
    let pid = server.0.id();
    wait_healthy(PORT)?;
    let targets = seed(bin, db, work, PORT)?;

    let mut samples = vec![Sample {
        t: 0.0,
        kib: rss_kib(pid),
    }];
    let wrk_out = work.join("wrk.txt");
    let mut wrk = Command::new("wrk")
        .args([
            THREADS,
            CONNECTIONS,
            "--timeout",
            "10s",
            &format!("-d{}s", opts.seconds),
            "-s",
        ])
        .arg(root.join("xtask/bench/soak.lua"))
        .arg(format!("http://127.0.0.1:{PORT}"))
        .env("TARGETS", &targets)
        .stdout(std::fs::File::create(&wrk_out)?)
        .stderr(std::fs::File::create(work.join("wrk.err"))?)
        .spawn()
        .context("starting wrk")?;
    let started = Instant::now();
    let mut next = opts.sample;
    let status = loop {
        if let Some(status) = wrk.try_wait()? {
            break status;
        }
        let elapsed = started.elapsed().as_secs_f64();
        if next < opts.seconds && elapsed >= next as f64 {
            samples.push(Sample {
                t: elapsed,
                kib: rss_kib(pid),
            });
            next += opts.sample;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    samples.push(Sample {
        t: started.elapsed().as_secs_f64(),
        kib: rss_kib(pid),
    });
    let exited = server.0.try_wait()?;
    drop(server);
    if !status.success() {
        bail!("wrk failed with {status}; see {}", work.display());
    }
    if let Some(code) = exited {
        bail!(
            "the server exited during the run ({code}); see {}",
            work.join("server.log").display()
        );
    }
    let report = Report::parse(&std::fs::read_to_string(&wrk_out)?)?;
    verdict(db, work, opts, warm, &report, &samples)
}

/// What `soak.lua`'s `done()` prints.
struct Report {
    result: BTreeMap<String, u64>,
    statuses: BTreeMap<u16, u64>,
    ops: BTreeMap<String, u64>,
}

impl Report {
    fn parse(text: &str) -> Result<Self> {
        let mut r = Report {
            result: BTreeMap::new(),
            statuses: BTreeMap::new(),
            ops: BTreeMap::new(),
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("RESULT"), ..) => {
                    for pair in line.split_whitespace().skip(1) {
                        if let Some((k, v)) = pair.split_once('=') {
                            r.result.insert(k.to_owned(), v.parse().unwrap_or(0));
                        }
                    }
                }
                (Some("STATUS"), Some(s), Some(c)) => {
                    r.statuses.insert(s.parse()?, c.parse()?);
                }
                (Some("OP"), Some(o), Some(c)) => {
                    r.ops.insert(o.to_owned(), c.parse()?);
                }
                _ => {}
            }
        }
        if r.result.is_empty() {
            bail!("wrk printed no RESULT line");
        }
        Ok(r)
    }

    fn get(&self, key: &str) -> u64 {
        self.result.get(key).copied().unwrap_or(0)
    }

    fn ms(&self, key: &str) -> f64 {
        self.get(key) as f64 / 1000.0
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(
    db: &str,
    work: &Path,
    opts: &Options,
    warm: u64,
    report: &Report,
    samples: &[Sample],
) -> Result<()> {
    let backend = if db.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    let requests = report.get("requests");
    let secs = report.get("duration_us") as f64 / 1e6;
    let rps = requests as f64 / secs.max(f64::EPSILON);
    let socket: u64 = ["connect", "read", "write", "timeout"]
        .iter()
        .map(|k| report.get(k))
        .sum();
    let server_errors: u64 = report
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, c)| c)
        .sum();
    let not_ok: u64 = report
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 400)
        .map(|(_, c)| c)
        .sum();

    let start = samples.first().map_or(0, |s| s.kib);
    let end = samples.last().map_or(0, |s| s.kib);
    // The first sample taken during the run at or after the end of the warm-up.
    let warm_at = samples[..samples.len() - 1]
        .iter()
        .position(|s| s.t >= warm as f64)
        .unwrap_or(samples.len() - 1);
    let warm_kib = samples[warm_at].kib;
    let limit = (warm_kib as f64 * GROWTH) as u64 + SLACK_KIB;
    let peak_after = samples[warm_at..].iter().map(|s| s.kib).max().unwrap_or(0);
    let rss_ok = end > 0 && end <= limit;
    let errors_ok = server_errors == 0;
    let ran = requests > 0;
    let pass = rss_ok && errors_ok && ran;

    let statuses = report
        .statuses
        .iter()
        .map(|(s, c)| format!("{s}: {c}"))
        .collect::<Vec<_>>()
        .join("  ");
    let ops = report
        .ops
        .iter()
        .map(|(o, c)| format!("{o} {c}"))
        .collect::<Vec<_>>()
        .join("  ");
    println!(
        "soak: {backend}, {} s, wrk {THREADS} {CONNECTIONS}, RSS every {} s, warm-up {warm} s",
        opts.seconds, opts.sample
    );
    println!("requests     {requests} ({rps:.0} req/s)");
    println!("sent         {ops}");
    println!("by status    {statuses}");
    println!("4xx + 5xx    {not_ok} (5xx: {server_errors}); socket errors {socket}");
    println!(
        "latency ms   p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        report.ms("p50_us"),
        report.ms("p90_us"),
        report.ms("p99_us"),
        report.ms("max_us")
    );
    println!("{:>7} {:>10}", "t (s)", "RSS (MiB)");
    for (i, s) in samples.iter().enumerate() {
        let mark = if i == 0 {
            "  start (seeded, idle)"
        } else if i == samples.len() - 1 {
            "  end"
        } else if i == warm_at {
            "  warm-up"
        } else {
            ""
        };
        println!("{:>7.1} {:>10.1}{mark}", s.t, mib(s.kib));
    }
    println!("peak RSS after the warm-up: {:.1} MiB", mib(peak_after));
    println!(
        "rule: end RSS {:.1} MiB <= warm-up RSS {:.1} MiB x {GROWTH:.2} + {} MiB = {:.1} MiB: {}",
        mib(end),
        mib(warm_kib),
        SLACK_KIB / 1024,
        mib(limit),
        if rss_ok { "pass" } else { "FAIL" }
    );
    println!(
        "rule: 5xx responses {server_errors} == 0: {}",
        if errors_ok { "pass" } else { "FAIL" }
    );
    if !ran {
        println!("rule: wrk completed no request: FAIL");
    }

    let by_status: serde_json::Map<String, Value> = report
        .statuses
        .iter()
        .map(|(s, c)| (s.to_string(), json!(c)))
        .collect();
    let rss: Vec<Value> = samples
        .iter()
        .map(|s| json!({"t": s.t, "kib": s.kib}))
        .collect();
    let results = json!({
        "backend": backend,
        "seconds": opts.seconds,
        "sample_seconds": opts.sample,
        "warmup_seconds": warm,
        "wrk": format!("{THREADS} {CONNECTIONS} --timeout 10s"),
        "requests": requests,
        "rps": rps,
        "sent_by_op": report.ops,
        "by_status": by_status,
        "errors_4xx_5xx": not_ok,
        "errors_5xx": server_errors,
        "socket_errors": socket,
        "latency_ms": {
            "p50": report.ms("p50_us"),
            "p90": report.ms("p90_us"),
            "p99": report.ms("p99_us"),
            "max": report.ms("max_us"),
        },
        "rss_kib": rss,
        "rss_rule": {
            "start_kib": start,
            "warmup_kib": warm_kib,
            "end_kib": end,
            "limit_kib": limit,
            "peak_after_warmup_kib": peak_after,
            "pass": rss_ok,
        },
        "pass": pass,
    });
    let path: PathBuf = work.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    println!("wrote {}", path.display());
    if !pass {
        bail!("soak failed (see the rules above)");
    }
    println!("soak: pass");
    Ok(())
}
