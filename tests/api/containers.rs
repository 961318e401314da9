//! Instances that really run: the container runtime against a real engine (Podman's
//! Docker API service, which `.ci/run` starts), with a test agent built locally from
//! Debian's static busybox (`tests/containers/agent`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hydracore_api_tests::{Backend, TestApp, TestResponse, Visitor, spawn_app_with};
use serde_json::{Value, json};

const AGENT: &str = "localhost/hydracore-test-agent:1";

/// The engine's socket, when this machine has one (`.ci/run` sets it).
fn engine() -> Option<String> {
    hydracore_core::testing::needs("HYDRACORE_TEST_DOCKER_HOST", "HYDRACORE_REQUIRE_PODMAN")
}

/// Runs `podman` with `args`: whether it succeeded, and what it printed.
pub(crate) fn podman(args: &[&str]) -> (bool, String) {
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

/// Creates and starts an instance of `image`.
fn create(app: &TestApp, key: &str, name: &str, image: &str, config: Value) -> TestResponse {
    app.post(
        "/v1/instances",
        key,
        &json!({"name": name, "runtime_image": image, "config": config, "start": true}),
    )
}

/// A server whose instances run as containers on the engine at `host`, swept every
/// second.
fn container_app(backend: Backend, host: &str) -> Option<TestApp> {
    spawn_app_with(backend, |s| {
        s.serve.runtime = "container".into();
        s.serve.docker_host = host.to_owned();
        s.serve.runtime_sweep_secs = 1;
    })
}

/// Polls the instance's log until `line` is in it `times` times, for at most `secs`
/// seconds.
fn wait_for_log(
    app: &TestApp,
    key: &str,
    logs: &str,
    secs: u64,
    line: &str,
    times: usize,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let res = app.get(&format!("{logs}?tail=1000"), key);
        assert_eq!(res.status, 200, "{}", res.body);
        if res.body.matches(line).count() >= times || Instant::now() > deadline {
            return res.body;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn instances_run_as_containers(backend: Backend) {
    let Some(host) = engine() else { return };
    build_agent();
    let Some(mut app) = container_app(backend, &host) else {
        return;
    };
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let create = |app: &TestApp, name: &str, image: &str, config: Value| {
        create(app, &key, name, image, config)
    };

    // Create + start: the container runs the agent with its configuration and limits.
    let started = Instant::now();
    let res = create(
        &app,
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

    // The log: what the agent wrote, both runs, the last `tail` lines of it.
    let logs = format!("/v1/instances/{id}/logs");
    let log = wait_for_log(&app, &key, &logs, 5, "config ", 2);
    assert_eq!(
        log.matches(&format!("agent {id} starting")).count(),
        2,
        "{log}"
    );
    assert!(log.contains("agent stopping"), "{log}");
    let res = app.get(&format!("{logs}?tail=1"), &key);
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.body.lines().count(), 1, "{}", res.body);
    assert!(res.body.starts_with("config {"), "{}", res.body);

    // The console's instance page shows the same log.
    app.signup("ops@example.com", "console-agents");
    let mut ops = Visitor::new(&app);
    ops.sign_in("ops@example.com");
    let token = ops.csrf();
    let res = ops.post(
        "/instances",
        &[
            ("csrf_token", &token),
            ("name", "console-agent"),
            ("runtime_image", AGENT),
            ("config", "{\"greeting\": \"hello from the console\"}"),
            ("start", "true"),
        ],
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let page_path = res
        .header("location")
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let console_id = page_path.trim_start_matches("/instances/").to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let page = ops.get(&page_path);
        let log = page
            .body
            .split_once("id=\"log-text\"")
            .and_then(|(_, rest)| rest.split_once("</pre>"))
            .map(|(log, _)| log.to_owned());
        match log {
            Some(log) if log.contains("config ") => break log,
            _ if Instant::now() > deadline => panic!("no log on the page: {}", page.body),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert!(
        log.contains(&format!("agent {console_id} starting")),
        "{log}"
    );
    assert!(log.contains("hello from the console"), "{log}");
    let _ = podman(&["rm", "-f", &format!("hydracore-{console_id}")]);

    // A restart of HydraCore leaves the agent running: the same container, never
    // restarted, still `running` after the new node's sweeps.
    let before = inspect(&name);
    app.restart();
    std::thread::sleep(Duration::from_millis(2_500));
    let after = app.get(&format!("/v1/instances/{id}"), &key).json();
    assert_eq!(after["status"], "running", "{after}");
    let now = inspect(&name);
    assert_eq!(now["Id"], before["Id"]);
    assert_eq!(now["State"]["StartedAt"], before["State"]["StartedAt"]);
    assert_eq!(now["State"]["Running"], true);

    // An agent that exits 1 is failed, with the exit code, after a sweep.
    let res = create(&app, "agent-2", AGENT, json!({"exit": 1}));
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

    // An image no registry has: failed, with the engine's pull error, and said so at
    // once.
    let res = create(
        &app,
        "agent-3",
        "localhost/hydracore-no-such-agent:1",
        json!({}),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let missing = res.json();
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
    let listed = app.get("/v1/instances", &key).json();
    for i in listed.as_array().unwrap() {
        let _ = podman(&[
            "rm",
            "-f",
            &format!("hydracore-{}", i["id"].as_str().unwrap()),
        ]);
    }
}

/// A Podman API service of the test's own, on a socket the test can take away.
struct OwnEngine {
    socket: PathBuf,
    service: Option<Child>,
}

impl OwnEngine {
    fn new() -> Self {
        let socket = std::env::temp_dir().join(format!("hc-engine-{}.sock", uuid::Uuid::new_v4()));
        Self {
            socket,
            service: None,
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Starts the service and waits for its socket.
    fn start(&mut self) {
        let service = Command::new("podman")
            .args(["system", "service", "--time=0", &self.host()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service");
        self.service = Some(service);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "the engine's socket did not appear"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the service: its socket stays, and
    /// nothing answers on it.
    fn freeze(&self, frozen: bool) {
        let pid = self.service.as_ref().expect("a running service").id();
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} {pid}");
    }

    /// Kills the service and takes its socket away.
    fn stop(&mut self) {
        if let Some(mut service) = self.service.take() {
            let _ = service.kill();
            let _ = service.wait();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for OwnEngine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `/readyz` until it answers `status`, for at most five seconds.
fn readyz(app: &TestApp, status: u16) -> TestResponse {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let res = app.request("GET", "/readyz", None, None);
        if res.status == status || Instant::now() > deadline {
            return res;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The engine away (its socket gone): the server starts anyway, `/readyz` names the
/// runtime, start, stop, a create that starts and a log read are 503 with
/// `Retry-After` and change nothing, sweeps fail nothing; the engine back, all of it
/// works again without a restart.
fn an_engine_away_is_503_and_recovers(backend: Backend) {
    if engine().is_none() {
        return;
    }
    build_agent();
    let mut own = OwnEngine::new();
    let Some(app) = container_app(backend, &own.host()) else {
        return;
    };
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let away = |res: &TestResponse| {
        assert_eq!(res.status, 503, "{}", res.body);
        assert_eq!(res.header("retry-after"), Some("1"));
        assert_eq!(
            res.json(),
            json!({"detail": "The instance runtime cannot be reached; retry shortly"})
        );
    };

    // Started without its engine: not ready, and nothing is created.
    let res = readyz(&app, 503);
    assert_eq!(res.status, 503, "{}", res.body);
    assert_eq!(
        res.json(),
        json!({"detail": "Not ready: the instance runtime does not answer"})
    );
    away(&create(&app, &key, "early", AGENT, json!({})));
    assert_eq!(app.get("/v1/instances", &key).json(), json!([]));

    own.start();
    assert_eq!(readyz(&app, 200).status, 200);
    let res = create(&app, &key, "steady", AGENT, json!({}));
    assert_eq!(res.status, 201, "{}", res.body);
    let agent = res.json();
    assert_eq!(agent["status"], "running", "{agent}");
    let id = agent["id"].as_str().unwrap().to_owned();
    let name = format!("hydracore-{id}");
    let path = format!("/v1/instances/{id}");
    let idle = app
        .post(
            "/v1/instances",
            &key,
            &json!({"name": "idle", "runtime_image": AGENT}),
        )
        .json();
    let idle_path = format!("/v1/instances/{}", idle["id"].as_str().unwrap());

    // The engine goes away while the agent runs.
    own.stop();
    away(&app.post(&format!("{idle_path}/start"), &key, &json!({})));
    assert_eq!(app.get(&idle_path, &key).json()["status"], "stopped");
    away(&app.post(&format!("{path}/stop"), &key, &json!({})));
    away(&app.get(&format!("{path}/logs"), &key));
    away(&create(&app, &key, "late", AGENT, json!({})));
    assert_eq!(readyz(&app, 503).status, 503);
    std::thread::sleep(Duration::from_millis(2_500));
    let seen = app.get(&path, &key).json();
    assert_eq!(seen["status"], "running", "two sweeps fail nothing: {seen}");
    assert_eq!(seen["status_reason"], Value::Null);
    assert_eq!(
        app.get("/v1/instances", &key)
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(inspect(&name)["State"]["Running"], true);

    // Back: no restart needed.
    own.start();
    assert_eq!(readyz(&app, 200).status, 200);

    // An engine that hangs (its socket there, nothing answering) is away too, and
    // said so within the readiness ping's two seconds, not a pull's two minutes.
    own.freeze(true);
    let asked = Instant::now();
    let res = readyz(&app, 503);
    assert_eq!(res.status, 503, "{}", res.body);
    away(&app.post(&format!("{idle_path}/start"), &key, &json!({})));
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "{:?}",
        asked.elapsed()
    );
    own.freeze(false);
    assert_eq!(readyz(&app, 200).status, 200);
    let res = app.post(&format!("{idle_path}/start"), &key, &json!({}));
    assert_eq!(res.json()["status"], "running", "{}", res.body);
    assert_eq!(app.delete(&idle_path, &key).status, 204);
    let res = app.post(&format!("{path}/stop"), &key, &json!({}));
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["status"], "stopped");
    assert_eq!(inspect(&name)["State"]["Running"], false);
    assert_eq!(app.delete(&path, &key).status, 204);
    let (exists, _) = podman(&["container", "exists", &name]);
    assert!(!exists);
}

/// The quickstart's "running agent" block, run as written against Podman.
#[test]
fn the_quickstart_agent_runs_as_written() {
    let Some(host) = engine() else { return };
    let Some(app) = container_app(Backend::Sqlite, &host) else {
        return;
    };
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/quickstart.md"),
    )
    .expect("docs/quickstart.md");
    let section = &doc[doc.find("## A running agent").expect("the section")..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").expect("closed")];
    let dir = std::env::temp_dir().join(format!("hc-quickstart-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(&dir)
        .env("HC", &app.address)
        .output()
        .expect("bash");
    let _ = std::fs::remove_dir_all(&dir);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert_eq!(lines[0], "running");
    let id = lines[1]
        .strip_prefix("hello from ")
        .and_then(|l| l.strip_suffix(": {\"greeting\":\"hi\"}"))
        .unwrap_or_else(|| panic!("{printed}"));
    assert_eq!(lines[2], "stopped");
    let (exists, _) = podman(&["container", "exists", &format!("hydracore-{id}")]);
    assert!(!exists, "deleted with its instance");
}

#[test]
fn an_engine_away_is_503_and_recovers_on_sqlite() {
    an_engine_away_is_503_and_recovers(Backend::Sqlite);
}

#[test]
fn an_engine_away_is_503_and_recovers_on_postgres() {
    an_engine_away_is_503_and_recovers(Backend::Postgres);
}

#[test]
fn instances_run_as_containers_on_sqlite() {
    instances_run_as_containers(Backend::Sqlite);
}

#[test]
fn instances_run_as_containers_on_postgres() {
    instances_run_as_containers(Backend::Postgres);
}

/// The sweep's cost with many running agents: engine calls per sweep and the time a
/// sweep takes, read from `/metrics` around sweeps of a server whose instances (idle
/// busybox sleepers) all run. A measurement, not run by default: `HYDRACORE_SWEEP_AGENTS`
/// (1,000) agents take minutes to start on a small machine.
///
/// `cargo test -p hydracore-api-tests --test api -- --ignored --nocapture sweep_cost`
#[test]
#[ignore = "a measurement of minutes; run it by name"]
fn sweep_cost_with_many_running_agents() {
    let Some(host) = engine() else { return };
    let agents: usize = std::env::var("HYDRACORE_SWEEP_AGENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    const SLEEPER: &str = "localhost/hydracore-test-sleeper:1";
    let dir = std::env::temp_dir().join(format!("hc-sleeper-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).expect("Debian's busybox-static");
    std::fs::write(
        dir.join("Containerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\", \"sleep\", \"1000000\"]\n",
    )
    .unwrap();
    let (ok, out) = podman(&["build", "-q", "-t", SLEEPER, dir.to_str().unwrap()]);
    assert!(ok, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
    let sweep_secs = 20;
    let Some(app) = spawn_app_with(Backend::Postgres, |s| {
        s.serve.runtime = "container".into();
        s.serve.docker_host = host.clone();
        s.serve.runtime_sweep_secs = sweep_secs;
    }) else {
        return;
    };
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let calls = || -> f64 {
        let text = app.request("GET", "/metrics", None, None).body;
        text.lines()
            .find_map(|l| l.strip_prefix("hydracore_runtime_engine_calls "))
            .and_then(|v| v.trim().parse().ok())
            .expect("hydracore_runtime_engine_calls")
    };
    let started = Instant::now();
    let mut ids = Vec::new();
    for n in 0..agents {
        let res = create(&app, &key, &format!("sleeper-{n}"), SLEEPER, json!({}));
        assert_eq!(res.status, 201, "{}", res.body);
        assert_eq!(res.json()["status"], "running");
        ids.push(res.json()["id"].as_str().unwrap().to_owned());
    }
    eprintln!(
        "{agents} agents started in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // Three whole sweep intervals: every call in them is a sweep's.
    let before = calls();
    std::thread::sleep(Duration::from_secs(3 * sweep_secs));
    let per_sweep = (calls() - before) / 3.0;
    eprintln!(
        "{agents} running agents: {per_sweep} engine calls per sweep, {:.1} a minute at the default 60 s interval",
        per_sweep
    );
    let listed = app.get("/v1/instances?limit=1000", &key).json();
    let running = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "running")
        .count();
    assert_eq!(running, agents.min(1_000), "a sweep failed a live agent");
    assert!(
        per_sweep <= (agents as f64 / 500.0).ceil(),
        "one listing per 500 running instances: {per_sweep}"
    );
    for id in ids {
        let _ = podman(&["rm", "-f", "-t", "0", &format!("hydracore-{id}")]);
    }
}
