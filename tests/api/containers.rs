//! Instances that really run: the container runtime against a real engine (Podman's
//! Docker API service, which `.ci/run` starts), with a test agent built locally from
//! Debian's static busybox (`tests/containers/agent`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hydracore_api_tests::{Backend, TestApp, spawn_app_with};
use serde_json::{Value, json};

const AGENT: &str = "localhost/hydracore-test-agent:1";

/// The engine's socket, when this machine has one (`.ci/run` sets it).
fn engine() -> Option<String> {
    hydracore_core::testing::needs("HYDRACORE_TEST_DOCKER_HOST", "HYDRACORE_REQUIRE_PODMAN")
}

fn podman(args: &[&str]) -> (bool, String) {
    let out = Command::new("podman").args(args).output().expect("podman");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Builds the test agent's image (busybox copied in beside its script).
fn build_agent() {
    let dir = std::env::temp_dir().join(format!("hc-agent-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("containers/agent");
    for f in ["Containerfile", "agent.sh"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    std::fs::copy("/bin/busybox", dir.join("busybox")).expect("Debian's busybox-static");
    let (ok, out) = podman(&["build", "-q", "-t", AGENT, dir.to_str().unwrap()]);
    assert!(ok, "building the agent image: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn inspect(name: &str) -> Value {
    let (ok, out) = podman(&["inspect", "--type", "container", name]);
    assert!(ok, "{out}");
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

/// Polls the instance until `done` holds of it, for at most `within`.
fn wait_for(
    app: &TestApp,
    key: &str,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let i = app.get(&format!("/v1/instances/{id}"), key).json();
        if done(&i) || Instant::now() > deadline {
            return i;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn instances_run_as_containers(backend: Backend) {
    let Some(host) = engine() else { return };
    build_agent();
    let Some(app) = spawn_app_with(backend, |s| {
        s.serve.runtime = "container".into();
        s.serve.docker_host = host.clone();
        s.serve.runtime_sweep_secs = 1;
    }) else {
        return;
    };
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let create = |name: &str, image: &str, config: Value| {
        app.post(
            "/v1/instances",
            &key,
            &json!({"name": name, "runtime_image": image, "config": config, "start": true}),
        )
    };

    // Create + start: the container runs the agent with its configuration and limits.
    let started = Instant::now();
    let res = create(
        "agent-1",
        AGENT,
        json!({"greeting": "hi", "resources": {"memory_mb": 64, "cpu": 0.5}}),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let running_after = started.elapsed();
    let agent = res.json();
    assert_eq!(agent["status"], "running");
    let id = agent["id"].as_str().unwrap().to_owned();
    let name = format!("hydracore-{id}");
    let c = inspect(&name);
    assert_eq!(c["State"]["Running"], true, "{c}");
    let env: Vec<&str> = c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        env.contains(&format!("HYDRACORE_INSTANCE_ID={id}").as_str()),
        "{env:?}"
    );
    assert!(
        env.iter()
            .any(|e| e.starts_with("HYDRACORE_INSTANCE_CONFIG=") && e.contains("\"greeting\"")),
        "{env:?}"
    );
    assert_eq!(
        c["HostConfig"]["Memory"],
        64 * 1024 * 1024,
        "{}",
        c["HostConfig"]
    );
    assert_eq!(
        c["HostConfig"]["NanoCpus"], 500_000_000,
        "{}",
        c["HostConfig"]
    );
    assert_eq!(c["Config"]["Labels"]["io.hydracore.instance"], id.as_str());
    std::thread::sleep(Duration::from_millis(300));
    let (_, logs) = podman(&["logs", &name]);
    assert!(logs.contains(&format!("agent {id} starting")), "{logs}");

    // Starting again is idempotent; stop stops the container gracefully.
    let res = app.post(&format!("/v1/instances/{id}/stop"), &key, &json!({}));
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["status"], "stopped");
    assert_eq!(inspect(&name)["State"]["Running"], false);
    let (_, logs) = podman(&["logs", &name]);
    assert!(logs.contains("agent stopping"), "a graceful stop: {logs}");
    let res = app.post(&format!("/v1/instances/{id}/start"), &key, &json!({}));
    assert_eq!(res.json()["status"], "running", "{}", res.body);
    assert_eq!(inspect(&name)["State"]["Running"], true);

    // An agent that exits 1 is failed, with the exit code, after a sweep.
    let res = create("agent-2", AGENT, json!({"exit": 1}));
    assert_eq!(res.status, 201, "{}", res.body);
    let failing = res.json()["id"].as_str().unwrap().to_owned();
    let seen = wait_for(&app, &key, &failing, Duration::from_secs(5), |i| {
        i["status"] == "failed"
    });
    assert_eq!(seen["status"], "failed", "{seen}");
    assert_eq!(seen["status_reason"], "exited with code 1", "{seen}");

    // Killed behind HydraCore's back: failed within two sweep intervals.
    let killed_at = Instant::now();
    let (ok, out) = podman(&["kill", &name]);
    assert!(ok, "{out}");
    let seen = wait_for(&app, &key, &id, Duration::from_secs(3), |i| {
        i["status"] == "failed"
    });
    assert_eq!(seen["status"], "failed", "{seen}");
    assert!(killed_at.elapsed() <= Duration::from_secs(3));
    assert!(
        seen["status_reason"]
            .as_str()
            .unwrap()
            .starts_with("exited with code"),
        "{seen}"
    );

    // An image no registry has: failed, with the engine's pull error.
    let _ = create("agent-3", "localhost/hydracore-no-such-agent:1", json!({}));
    let listed = app.get("/v1/instances", &key).json();
    let missing = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "agent-3")
        .unwrap()
        .clone();
    assert_eq!(missing["status"], "failed", "{missing}");
    assert!(
        missing["status_reason"]
            .as_str()
            .unwrap()
            .starts_with("pulling localhost/hydracore-no-such-agent:1"),
        "{missing}"
    );
    // Delete removes the container.
    let res = app.delete(&format!("/v1/instances/{id}"), &key);
    assert_eq!(res.status, 204, "{}", res.body);
    let (exists, _) = podman(&["container", "exists", &name]);
    assert!(!exists, "the container outlived its instance");
    eprintln!(
        "{backend:?}: POST /v1/instances with start to observed running: {} ms",
        running_after.as_millis()
    );
    for i in listed.as_array().unwrap() {
        let _ = podman(&[
            "rm",
            "-f",
            &format!("hydracore-{}", i["id"].as_str().unwrap()),
        ]);
    }
}

#[test]
fn instances_run_as_containers_on_sqlite() {
    instances_run_as_containers(Backend::Sqlite);
}

#[test]
fn instances_run_as_containers_on_postgres() {
    instances_run_as_containers(Backend::Postgres);
}
