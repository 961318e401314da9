//! Several nodes behind one PostgreSQL and one Redis act as one service.

use hydracore_api_tests::{Backend, TestApp, spawn_app_with};
use serde_json::json;

fn redis_url() -> Option<String> {
    hydracore_core::testing::needs("TEST_REDIS_URL", "HYDRACORE_REQUIRE_REDIS")
}

fn get_at(app: &TestApp, base: &str, path: &str, key: &str) -> u16 {
    let req = ureq::http::Request::builder()
        .method("GET")
        .uri(format!("{base}{path}"))
        .header("X-Api-Key", key)
        .body(String::new())
        .unwrap();
    app.send(req).status
}

#[test]
fn two_nodes_enforce_one_budget_per_key() {
    let Some(redis) = redis_url() else { return };
    let Some(app) = spawn_app_with(Backend::Postgres, |s| {
        s.serve.redis_url = Some(redis.clone().into())
    }) else {
        return;
    };
    let peer = app.peer(|_| {});
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "shared", "scopes": ["instances:read"],
            "rate_limit": {"requests": 6, "per_seconds": 60}}),
        )
        .json();
    let key = minted["key"].as_str().unwrap();
    let mut statuses = Vec::new();
    for i in 0..10 {
        let base = if i % 2 == 0 {
            app.address.clone()
        } else {
            peer.address.clone()
        };
        statuses.push(get_at(&app, &base, "/v1/instances", key));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        6,
        "{statuses:?}"
    );
    assert_eq!(&statuses[6..], &[429, 429, 429, 429], "{statuses:?}");
    // The admin key's budget is its own, on both nodes.
    assert_eq!(get_at(&app, &peer.address, "/v1/instances", &admin), 200);
    assert_eq!(get_at(&app, &app.address, "/v1/instances", &admin), 200);
}

/// A private Redis on a free port, stopped when dropped.
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<Self> {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Self { child, port });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_unreachable_redis_fails_open_and_the_node_recovers() {
    if redis_url().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = PrivateRedis::start(port).expect("redis-server");
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.redis_url = Some(url.into())).unwrap();
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let key = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "k", "scopes": ["instances:read"],
            "rate_limit": {"requests": 3, "per_seconds": 60}}),
        )
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get("/v1/instances", &key).status, 200);
    drop(redis);
    // Redis is gone: the node keeps serving, still limited, by its own budget.
    let started = std::time::Instant::now();
    let statuses: Vec<u16> = (0..4)
        .map(|_| app.get("/v1/instances", &key).status)
        .collect();
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    // ... without waiting on the dead Redis.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Redis is back: the node uses it again by itself (a fresh, empty Redis here).
    let _again = PrivateRedis::start(port).expect("redis-server again");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let res = app.get("/v1/instances", &key);
        if res.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never recovered: {}",
            res.status
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_revoked_key_is_refused_by_every_node_within_a_second() {
    let Some(app) = spawn_app_with(Backend::Postgres, |_| {}) else {
        return;
    };
    let peer = app.peer(|_| {});
    let (tenant, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "cached", "scopes": ["instances:read"]}),
        )
        .json();
    let key = minted["key"].as_str().unwrap();
    // Both nodes have resolved (and cached) the key.
    for _ in 0..3 {
        assert_eq!(get_at(&app, &app.address, "/v1/instances", key), 200);
        assert_eq!(get_at(&app, &peer.address, "/v1/instances", key), 200);
    }
    // The nodes do serve keys from their caches: a revocation written behind their back
    // (no announcement) is not seen at once...
    let quiet = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "quiet", "scopes": ["instances:read"]}),
        )
        .json();
    let quiet_key = quiet["key"].as_str().unwrap();
    assert_eq!(get_at(&app, &peer.address, "/v1/instances", quiet_key), 200);
    let quiet_id = quiet["id"].as_str().unwrap();
    let _ = tenant;
    let sql = format!("UPDATE api_keys SET revoked_at = now() WHERE id = '{quiet_id}'");
    let out = std::process::Command::new("psql")
        .args([app.database_url().as_str(), "-qXc", &sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get_at(&app, &peer.address, "/v1/instances", quiet_key), 200);
    // ... while one made through the API is announced and refused everywhere.
    assert_eq!(
        app.delete(
            &format!("/v1/api-keys/{}", minted["id"].as_str().unwrap()),
            &admin
        )
        .status,
        204
    );
    within_a_second("the other node still accepts the key", || {
        get_at(&app, &peer.address, "/v1/instances", key) == 401
    });
    assert_eq!(get_at(&app, &app.address, "/v1/instances", key), 401);
    // A changed scope set applies on every node just as fast.
    let second = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "rescoped", "scopes": ["instances:read"]}),
        )
        .json();
    let k2 = second["key"].as_str().unwrap();
    assert_eq!(get_at(&app, &peer.address, "/v1/instances", k2), 200);
    let patched = app.patch(
        &format!("/v1/api-keys/{}", second["id"].as_str().unwrap()),
        &admin,
        &json!({"scopes": ["api-keys:read"]}),
    );
    assert_eq!(patched.status, 200);
    within_a_second("the other node kept the old scopes", || {
        get_at(&app, &peer.address, "/v1/instances", k2) == 403
    });
}

/// Polls `done` every 20 ms; fails with `what` unless it holds within a second.
fn within_a_second(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "{what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// 32 clients hammer one key on two nodes while it is revoked: every request that
/// starts a second after the revoke answered is refused, on both nodes (the change is
/// announced in the revoke's own transaction, and a verification racing the revoke
/// cannot put the stale key back into a cache).
#[test]
fn a_key_revoked_under_load_is_refused_everywhere_a_second_later() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let Some(app) = spawn_app_with(Backend::Postgres, |s| {
        s.serve.rate_limit_requests = 1_000_000;
        s.serve.rate_limit_per_seconds = 1;
        s.serve.workers = Some(2);
    }) else {
        return;
    };
    let peer = app.peer(|_| {});
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "hammered", "scopes": ["instances:read"],
                    "rate_limit": {"requests": 1000000, "per_seconds": 1}}),
        )
        .json();
    let key = minted["key"].as_str().unwrap().to_owned();
    let id = minted["id"].as_str().unwrap().to_owned();
    let stop = AtomicBool::new(false);
    let bases = [app.address.clone(), peer.address.clone()];
    let (revoke_sent, revoked_at, outcomes) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..32)
            .map(|i| {
                let (stop, key, base) = (&stop, &key, bases[i % 2].clone());
                s.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let status = agent
                            .get(&format!("{base}/v1/mcp/api-key-context"))
                            .header("X-Api-Key", key)
                            .call()
                            .map_or(0, |r| r.status().as_u16());
                        seen.push((started, Instant::now(), status, i % 2));
                    }
                    seen
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(1));
        let revoke_sent = Instant::now();
        assert_eq!(
            app.delete(&format!("/v1/api-keys/{id}"), &admin).status,
            204
        );
        let revoked_at = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
        let outcomes: Vec<(Instant, Instant, u16, usize)> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        (revoke_sent, revoked_at, outcomes)
    });
    let before = outcomes.iter().filter(|(t, ..)| *t < revoked_at).count();
    // A request answered before the revoke was even sent saw a live key. (One in flight
    // while the revoke ran may be answered either way.)
    let refused_early: Vec<_> = outcomes
        .iter()
        .filter(|(_, done, status, _)| *done < revoke_sent && *status != 200)
        .map(|(t, _, status, node)| (revoke_sent.duration_since(*t), status, node))
        .collect();
    assert!(
        refused_early.is_empty(),
        "the live key was refused before its revoke: {} requests, first (age, status, node) {:?}",
        refused_early.len(),
        refused_early.first()
    );
    let late: Vec<_> = outcomes
        .iter()
        .filter(|(t, ..)| *t >= revoked_at + Duration::from_secs(1))
        .collect();
    assert!(
        late.len() > 100,
        "too few requests after the revoke: {}",
        late.len()
    );
    let accepted: Vec<_> = late
        .iter()
        .filter(|(_, _, status, _)| *status != 401)
        .collect();
    assert!(
        accepted.is_empty(),
        "{} of {} requests a second after the revoke were not 401 (first: {:?})",
        accepted.len(),
        late.len(),
        accepted
            .first()
            .map(|(t, _, s, node)| (t.duration_since(revoked_at), s, node))
    );
    let last_ok = outcomes
        .iter()
        .filter(|(t, _, status, _)| *t >= revoked_at && *status == 200)
        .map(|(t, ..)| t.duration_since(revoked_at))
        .max();
    eprintln!(
        "nodes[revoke-under-load]: {} requests ({before} before the revoke), {} starting 1 s after it, all 401; the last 200 started {last_ok:?} after the revoke answered",
        outcomes.len(),
        late.len()
    );
}
