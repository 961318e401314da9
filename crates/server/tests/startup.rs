//! Starting the real binary: what it refuses (a mistyped `DATABASE_URL`, PostgreSQL
//! without the keys every node shares, a key file others may read), the modes of what
//! it creates, migrations run once under a lock by nodes started together, and
//! `--no-migrate`.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::with_fresh_postgres;

const JWT_SECRET: &str = "startup-test-jwt-secret-0123456789abcdef";
const MCP_CREDS_KEY: &str = "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hc-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hydracore() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hydracore"));
    c.env_remove("DATABASE_URL")
        .env_remove("HYDRACORE_JWT_SECRET")
        .env_remove("HYDRACORE_MCP_CREDS_KEY")
        .env("RUST_LOG", "warn");
    c
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The one line a refused start prints, after checking it is one line.
fn refusal(out: &Output) -> String {
    assert!(!out.status.success(), "the start was not refused");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("hydracore: "), "{stderr}");
    stderr
}

#[test]
fn a_database_url_that_names_no_database_is_refused_and_creates_nothing() {
    for url in [
        "postgress://app:hunter2@db/hc",
        "mysql://x",
        "bogus-no-scheme",
        "data/hc.db",
        "sqlite:",
    ] {
        let cwd = temp_dir("badurl");
        for command in [&["serve"][..], &["migrate"]] {
            let out = hydracore()
                .args(command)
                .current_dir(&cwd)
                .env("DATABASE_URL", url)
                .output()
                .unwrap();
            let line = refusal(&out);
            assert!(line.contains("DATABASE_URL"), "{url}: {line}");
            assert!(line.contains("sqlite:"), "{url}: {line}");
            assert!(
                !line.contains("hunter2"),
                "the password was printed: {line}"
            );
        }
        let left: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
        assert!(left.is_empty(), "{url} created {left:?}");
        let _ = std::fs::remove_dir_all(cwd);
    }
}

#[test]
fn sqlite_files_and_key_files_are_the_owners_alone() {
    let dir = temp_dir("modes");
    let db = dir.join("fresh/nested/hc.db");
    let out = hydracore()
        .arg("migrate")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&db), 0o600, "the SQLite file");
    assert_eq!(
        mode(db.parent().unwrap()),
        0o700,
        "the directory made for it"
    );

    // A served node makes its key files 0600 in a 0700 data directory...
    let data = dir.join("keys");
    let mut node = Node::start(
        hydracore()
            .env("DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("HYDRACORE_DATA_DIR", &data),
    );
    node.wait_listening();
    drop(node);
    assert_eq!(mode(&data), 0o700);
    for file in ["jwt.key", "mcp-creds.key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    // ...and refuses one that others may read.
    std::fs::set_permissions(data.join("jwt.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = hydracore()
        .arg("serve")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("HYDRACORE_DATA_DIR", &data)
        .output()
        .unwrap();
    let line = refusal(&out);
    assert!(line.contains("jwt.key") && line.contains("644"), "{line}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A server process, killed when dropped.
struct Node {
    child: Child,
    log: PathBuf,
}

impl Node {
    fn start(command: &mut Command) -> Self {
        let log = std::env::temp_dir().join(format!("hc-node-{}.log", uuid::Uuid::new_v4()));
        let child = command
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
            .env("HYDRACORE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    /// The port from the "listening" line, once it is written.
    fn wait_listening(&mut self) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reader = BufReader::new(std::fs::File::open(&self.log).unwrap());
            let found = reader.lines().map_while(Result::ok).find_map(|line| {
                let v: serde_json::Value = serde_json::from_str(&line).ok()?;
                (v["fields"]["message"] == "listening").then(|| v["fields"]["port"].as_u64())?
            });
            if let Some(port) = found {
                return u16::try_from(port).unwrap();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the node exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "the node did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

#[test]
fn postgres_refuses_to_start_without_the_shared_keys() {
    with_fresh_postgres("hc_startup", |url| {
        let data = temp_dir("pgkeys");
        for (jwt, creds, names) in [
            (
                None,
                None,
                &["HYDRACORE_JWT_SECRET", "HYDRACORE_MCP_CREDS_KEY"][..],
            ),
            (Some(JWT_SECRET), None, &["HYDRACORE_MCP_CREDS_KEY"]),
            (None, Some(MCP_CREDS_KEY), &["HYDRACORE_JWT_SECRET"]),
        ] {
            let mut command = hydracore();
            command
                .arg("serve")
                .env("DATABASE_URL", url)
                .env("HYDRACORE_DATA_DIR", &data);
            if let Some(v) = jwt {
                command.env("HYDRACORE_JWT_SECRET", v);
            }
            if let Some(v) = creds {
                command.env("HYDRACORE_MCP_CREDS_KEY", v);
            }
            let line = refusal(&command.output().unwrap());
            for name in names {
                assert!(line.contains(name), "{line}");
            }
            assert!(!line.contains(JWT_SECRET) && !line.contains(MCP_CREDS_KEY));
        }
        let made: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
        assert!(made.is_empty(), "no node makes a key of its own: {made:?}");
        let _ = std::fs::remove_dir_all(data);
    });
}

#[test]
fn three_nodes_started_at_once_migrate_a_fresh_database_once() {
    with_fresh_postgres("hc_startup", |url| {
        let node = || {
            let mut c = hydracore();
            c.env("DATABASE_URL", url)
                .env("HYDRACORE_JWT_SECRET", JWT_SECRET)
                .env("HYDRACORE_MCP_CREDS_KEY", MCP_CREDS_KEY);
            Node::start(&mut c)
        };
        let started = std::time::Instant::now();
        let mut nodes = [node(), node(), node()];
        let ports: Vec<u16> = nodes.iter_mut().map(Node::wait_listening).collect();
        eprintln!(
            "startup[three nodes, one fresh database]: all listening after {:?}",
            started.elapsed()
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        for port in ports {
            let res = agent
                .get(&format!("http://127.0.0.1:{port}/readyz"))
                .call()
                .unwrap();
            assert_eq!(res.status().as_u16(), 200);
        }
    });
}

#[test]
fn no_migrate_serves_only_a_database_with_nothing_pending() {
    with_fresh_postgres("hc_startup", |url| {
        let out = hydracore()
            .args(["serve", "--no-migrate"])
            .env("DATABASE_URL", url)
            .env("HYDRACORE_JWT_SECRET", JWT_SECRET)
            .env("HYDRACORE_MCP_CREDS_KEY", MCP_CREDS_KEY)
            .output()
            .unwrap();
        let line = refusal(&out);
        assert!(line.contains("hydracore migrate"), "{line}");
        let migrated = hydracore()
            .arg("migrate")
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        assert!(
            migrated.status.success(),
            "{}",
            String::from_utf8_lossy(&migrated.stderr)
        );
        let mut node = Node::start(
            hydracore()
                .env("HYDRACORE_NO_MIGRATE", "true")
                .env("DATABASE_URL", url)
                .env("HYDRACORE_JWT_SECRET", JWT_SECRET)
                .env("HYDRACORE_MCP_CREDS_KEY", MCP_CREDS_KEY),
        );
        node.wait_listening();
    });
}
