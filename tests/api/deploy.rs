//! What an operator deploys: the Helm chart, rendered and validated offline, and the
//! container image, run read-only on both backends.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hydracore_api_tests::{free_port, postgres_url};

use crate::containers::podman;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The chart, rendered by Helm's engine for the default and a production-like set of
/// values, linted, validated against Kubernetes' schemas, and held to what a rollout
/// relies on (`tests/deploy/chart.py` says what).
#[test]
fn the_chart_renders_validates_and_keeps_its_promises() {
    let Some(python) =
        hydracore_core::testing::needs("HYDRACORE_HELM_PYTHON", "HYDRACORE_REQUIRE_DEPLOY_TOOLS")
    else {
        return;
    };
    let out = Command::new(&python)
        .arg(repo().join("tests/deploy/chart.py"))
        .arg(repo())
        .output()
        .expect("run the chart checks");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
}

/// Polls `url` until it answers 200, for at most `secs` seconds; its last status.
fn wait_ready(url: &str, secs: u64) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let status = agent.get(url).call().map_or(0, |r| r.status().as_u16());
        if status == 200 || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A container that is removed, with its volume, when the test ends.
struct Running(String, Option<String>);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
        if let Some(volume) = &self.1 {
            let _ = podman(&["volume", "rm", "-f", volume]);
        }
    }
}

/// The image `.ci/run` builds (`cargo xtask image`): on SQLite with its data volume and
/// on PostgreSQL after `hydracore migrate` from the same image, each with a read-only
/// root filesystem, as user 10001, ready and healthy.
#[test]
fn the_image_runs_read_only_on_both_backends() {
    let Some(image) =
        hydracore_core::testing::needs("HYDRACORE_TEST_IMAGE", "HYDRACORE_REQUIRE_IMAGE")
    else {
        return;
    };
    let tag = uuid::Uuid::new_v4().simple().to_string();

    // SQLite: the default, its database on the volume.
    let port = free_port();
    let volume = format!("hc-test-{tag}");
    let (ok, out) = podman(&[
        "run",
        "-d",
        "--read-only",
        "--name",
        &format!("hc-sqlite-{tag}"),
        "-v",
        &format!("{volume}:/var/lib/hydracore"),
        "-p",
        &format!("127.0.0.1:{port}:8000"),
        &image,
    ]);
    assert!(ok, "{out}");
    let sqlite = Running(format!("hc-sqlite-{tag}"), Some(volume));
    let ready = wait_ready(&format!("http://127.0.0.1:{port}/readyz"), 30);
    let (_, logs) = podman(&["logs", &sqlite.0]);
    assert_eq!(ready, 200, "{logs}");
    let (ok, uid) = podman(&["exec", &sqlite.0, "id", "-u"]);
    assert!(ok && uid.trim() == "10001", "{uid}");
    let (wrote, _) = podman(&["exec", &sqlite.0, "touch", "/usr/local/bin/x"]);
    assert!(!wrote, "the root filesystem is read-only");
    let (ok, out) = podman(&["exec", &sqlite.0, "ls", "/var/lib/hydracore"]);
    assert!(ok && out.contains("hydracore.db"), "{out}");
    let (healthy, out) = podman(&["healthcheck", "run", &sqlite.0]);
    assert!(healthy, "the image's health check: {out}");

    // PostgreSQL: migrated once by `hydracore migrate`, then served without migrating.
    let Some(admin) = postgres_url() else { return };
    let name = format!("hc_image_{tag}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = rt
        .block_on(hydracore_store::admin::create_database(&admin, &name))
        .expect("a database");
    let (ok, out) = podman(&[
        "run",
        "--rm",
        "--read-only",
        "--network",
        "host",
        "-e",
        &format!("DATABASE_URL={url}"),
        &image,
        "migrate",
    ]);
    assert!(ok, "hydracore migrate: {out}");
    let port = free_port();
    let (ok, out) = podman(&[
        "run",
        "-d",
        "--read-only",
        "--network",
        "host",
        "--name",
        &format!("hc-pg-{tag}"),
        "-e",
        &format!("DATABASE_URL={url}"),
        "-e",
        &format!("HYDRACORE_BIND=127.0.0.1:{port}"),
        "-e",
        "HYDRACORE_NO_MIGRATE=true",
        "-e",
        "HYDRACORE_JWT_SECRET=image-test-jwt-secret-0123456789abcdef0123",
        "-e",
        "HYDRACORE_MCP_CREDS_KEY=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        &image,
    ]);
    assert!(ok, "{out}");
    let pg = Running(format!("hc-pg-{tag}"), None);
    let ready = wait_ready(&format!("http://127.0.0.1:{port}/readyz"), 30);
    let (_, logs) = podman(&["logs", &pg.0]);
    drop(pg);
    let _ = rt.block_on(hydracore_store::admin::drop_database(&admin, &name));
    assert_eq!(ready, 200, "{logs}");
}
