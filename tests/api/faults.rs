//! Faults: PostgreSQL lost under load (connections cut, or a blackhole that answers
//! nothing), and writes interrupted half-way. PostgreSQL only: the shared server is
//! never stopped; a [`Proxy`] between the server and PostgreSQL loses it instead.
//!
//! Redis lost under load is `nodes::an_unreachable_redis_fails_open_and_the_node_recovers`;
//! SIGTERM under load is `crates/server/tests/shutdown.rs` (it needs the binary).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hydracore_api_tests::{Backend, PASSWORD, TestApp, postgres_url, spawn_app_with};
use hydracore_core::PageRequest;
use hydracore_instances::{Instance, InstanceRepository};
use hydracore_keys::KeyRepository;
use hydracore_scopes::Role;
use hydracore_server::Settings;
use hydracore_store::DatabaseUrl;
use hydracore_tenants::{Email, MembershipRepository, TenantId, TenantRepository, UserRepository};
use serde_json::{Value, json};

/// `HYDRACORE_DB_TIMEOUT_MS` of these servers.
const DB_TIMEOUT: Duration = Duration::from_millis(1000);
/// What a request may take beyond [`DB_TIMEOUT`] on a busy two-core machine.
const MARGIN: Duration = Duration::from_millis(750);

// ---------------------------------------------------------------------------------
// The proxy

/// What the proxy does with the link to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Forwards both ways.
    Up,
    /// Every open connection is closed; new ones are accepted and closed at once.
    Cut,
    /// Connections are accepted and kept open, but nothing is forwarded either way
    /// (held, and delivered late if the link comes back, like a healed partition).
    Blackhole,
}

struct LinkState {
    link: Link,
    /// Both sockets of every connection made, to close them on a cut.
    open: Vec<TcpStream>,
    closing: bool,
}

struct Shared {
    upstream: String,
    state: Mutex<LinkState>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, LinkState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits while the link is a blackhole; returns what it is then.
    fn wait_unless_blackholed(&self) -> Link {
        let mut st = self.lock();
        while st.link == Link::Blackhole && !st.closing {
            st = self
                .changed
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if st.closing { Link::Cut } else { st.link }
    }
}

/// A TCP proxy to PostgreSQL, written with std threads: one per connection and
/// direction. Dropping it closes everything.
struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(LinkState {
                link: Link::Up,
                open: Vec::new(),
                closing: false,
            }),
            changed: Condvar::new(),
        });
        let accepting = shared.clone();
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.lock().closing {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = accepting.clone();
                std::thread::spawn(move || serve(&shared, client));
            }
        });
        Self {
            port,
            shared,
            accept: Some(accept),
        }
    }

    fn set(&self, link: Link) {
        let mut st = self.shared.lock();
        st.link = link;
        if link == Link::Cut {
            for s in st.open.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        self.shared.changed.notify_all();
    }

    fn cut(&self) {
        self.set(Link::Cut);
    }

    fn restore(&self) {
        self.set(Link::Up);
    }

    /// `url` with its host and port replaced by the proxy's.
    fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let userinfo = authority
            .rsplit_once('@')
            .map_or(String::new(), |(u, _)| format!("{u}@"));
        format!("{scheme}://{userinfo}127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.cut();
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// `host:port` of a `postgres://` URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

fn serve(shared: &Arc<Shared>, client: TcpStream) {
    {
        let mut st = shared.lock();
        if st.link == Link::Cut || st.closing {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        st.open.push(client.try_clone().unwrap());
    }
    // A blackhole accepts and then answers nothing (not even the upstream connect).
    if shared.wait_unless_blackholed() != Link::Up {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(upstream) = TcpStream::connect(&shared.upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    {
        let mut st = shared.lock();
        if st.link != Link::Up || st.closing {
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
            return;
        }
        st.open.push(upstream.try_clone().unwrap());
    }
    let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let back = shared.clone();
    std::thread::spawn(move || pump(&back, u2, c2));
    pump(shared, client, upstream);
}

/// Copies `from` to `to` while the link is up, holding data while it is blackholed;
/// closes both at the end.
fn pump(shared: &Shared, mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if shared.wait_unless_blackholed() != Link::Up || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------
// The server behind it, and load

/// A server on PostgreSQL whose `DATABASE_URL` goes through a new [`Proxy`] (the
/// harness's own `store` goes straight to PostgreSQL), or `None` without PostgreSQL.
fn app_behind_proxy(configure: impl FnOnce(&mut Settings)) -> Option<(TestApp, Proxy)> {
    let admin = postgres_url()?;
    let proxy = Proxy::start(authority(&admin));
    let app = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = DatabaseUrl::parse(&proxy.url_for(s.database_url.expose())).unwrap();
        s.serve.db_timeout_ms = u64::try_from(DB_TIMEOUT.as_millis()).unwrap();
        s.serve.rate_limit_requests = 1_000_000;
        configure(s);
    })?;
    Some((app, proxy))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// One answered request.
#[derive(Debug, Clone)]
struct Call {
    op: &'static str,
    started: Instant,
    took: Duration,
    /// 0: a transport error.
    status: u16,
    retry_after: Option<String>,
    body: String,
}

impl Call {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn ended(&self) -> Instant {
        self.started + self.took
    }

    /// A 503 exactly as documented: `/readyz` names the database, every other route
    /// says the service is unavailable.
    fn is_documented_503(&self) -> bool {
        let said = if self.op == "/readyz" {
            "Not ready: the database does not answer"
        } else {
            "Service unavailable"
        };
        self.status == 503
            && self.json() == json!({ "detail": said })
            && self
                .retry_after
                .as_deref()
                .is_some_and(|v| v.parse::<u32>().is_ok())
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "a request is all of these; a builder would only hide them"
)]
fn call(
    agent: &ureq::Agent,
    app: &TestApp,
    op: &'static str,
    method: &str,
    path: &str,
    header: Option<(&str, &str)>,
    body: Option<&Value>,
    idempotency_key: Option<&str>,
) -> Call {
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", app.address));
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    if body.is_some() {
        req = req.header("Content-Type", "application/json");
    }
    let req = req
        .body(body.map(Value::to_string).unwrap_or_default())
        .unwrap();
    let started = Instant::now();
    match agent.run(req) {
        Ok(mut res) => {
            let retry_after = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let status = res.status().as_u16();
            let body = res.body_mut().read_to_string().unwrap_or_default();
            Call {
                op,
                started,
                took: started.elapsed(),
                status,
                retry_after,
                body,
            }
        }
        Err(e) => Call {
            op,
            started,
            took: started.elapsed(),
            status: 0,
            retry_after: None,
            body: e.to_string(),
        },
    }
}

/// The tenant's list, one instance and a new one, with `key`.
fn round(agent: &ureq::Agent, app: &TestApp, key: &str, id: &str, name: &str) -> Vec<Call> {
    let auth = Some(("X-Api-Key", key));
    vec![
        call(agent, app, "list", "GET", "/v1/instances", auth, None, None),
        call(
            agent,
            app,
            "get",
            "GET",
            &format!("/v1/instances/{id}"),
            auth,
            None,
            None,
        ),
        call(
            agent,
            app,
            "create",
            "POST",
            "/v1/instances",
            auth,
            Some(&json!({ "name": name })),
            None,
        ),
    ]
}

fn probe(agent: &ureq::Agent, app: &TestApp, path: &'static str) -> Call {
    call(agent, app, path, "GET", path, None, None, None)
}

fn statuses<'a>(calls: impl IntoIterator<Item = &'a Call>) -> BTreeMap<(&'static str, u16), usize> {
    let mut out = BTreeMap::new();
    for c in calls {
        *out.entry((c.op, c.status)).or_insert(0) += 1;
    }
    out
}

fn max_took<'a>(calls: impl IntoIterator<Item = &'a Call>) -> Duration {
    calls.into_iter().map(|c| c.took).max().unwrap_or_default()
}

/// Loses PostgreSQL under load from four client threads, one fault after the other
/// (`faults`: what, for how long), then restores it; checks each phase and prints the
/// figures.
fn lose_postgres_under_load(faults: &[(Link, Duration)]) {
    let Some((app, proxy)) = app_behind_proxy(|_| {}) else {
        return;
    };
    let name = faults
        .iter()
        .map(|(link, _)| format!("{link:?}").to_lowercase())
        .collect::<Vec<_>>()
        .join("+");
    let outage: Duration = faults.iter().map(|(_, d)| *d).sum();
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let first = app.post("/v1/instances", &key, &json!({"name": "first"}));
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let probes = agent();
    // Warm: pooled connections, the key cached, the key-change feed listening.
    for i in 0..3 {
        for c in round(&probes, &app, &key, &id, &format!("warm-{i}")) {
            assert!(c.status < 300, "{c:?}");
        }
    }

    let stop = AtomicBool::new(false);
    let probing = AtomicBool::new(true);
    let serial = AtomicUsize::new(0);
    let started = Instant::now();
    let (calls, probed, cut_at, restored_at, recovered_at) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let agent = agent();
                    let mut calls = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let n = serial.fetch_add(1, Ordering::Relaxed);
                        calls.extend(round(&agent, &app, &key, &id, &format!("load-{n}")));
                    }
                    calls
                })
            })
            .collect();
        // The probes, on their own: a probe may wait for the timeout.
        let prober = scope.spawn(|| {
            let agent = agent();
            let mut probed = Vec::new();
            while probing.load(Ordering::Relaxed) {
                probed.push(probe(&agent, &app, "/healthz"));
                probed.push(probe(&agent, &app, "/readyz"));
                std::thread::sleep(Duration::from_millis(50));
            }
            probed
        });
        std::thread::sleep(Duration::from_millis(400));
        let cut_at = Instant::now();
        let mut until = cut_at;
        for (link, lasting) in faults {
            proxy.set(*link);
            until += *lasting;
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
        }
        let restored_at = Instant::now();
        proxy.restore();
        // Recovered: the first round of list, get, create and readiness all good.
        let mut rounds = Vec::new();
        let recovered_at = loop {
            let mut calls = round(&probes, &app, &key, &id, &format!("back-{}", rounds.len()));
            calls.push(probe(&probes, &app, "/readyz"));
            let done = calls.iter().all(|c| c.status < 300);
            rounds.extend(calls);
            if done {
                break Instant::now();
            }
            assert!(
                restored_at.elapsed() < Duration::from_secs(10),
                "{name}: no recovery 10 s after PostgreSQL came back: {:?}",
                rounds.last()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        probing.store(false, Ordering::Relaxed);
        let mut probed = prober.join().unwrap();
        probed.extend(rounds);
        let calls: Vec<Call> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        (calls, probed, cut_at, restored_at, recovered_at)
    });

    let before: Vec<&Call> = calls.iter().filter(|c| c.ended() < cut_at).collect();
    let straddling: Vec<&Call> = calls
        .iter()
        .filter(|c| c.started < cut_at && c.ended() >= cut_at)
        .collect();
    let during: Vec<&Call> = calls
        .iter()
        .filter(|c| c.started >= cut_at && c.ended() < restored_at)
        .collect();
    let since_cut: Vec<&Call> = calls
        .iter()
        .chain(&probed)
        .filter(|c| c.started >= cut_at && c.started < restored_at)
        .collect();
    let recovering: Vec<&Call> = probed
        .iter()
        .filter(|c| c.started >= restored_at && c.started < recovered_at)
        .collect();
    let after: Vec<&Call> = calls.iter().filter(|c| c.started >= recovered_at).collect();
    eprintln!(
        "faults[{name}]: {} load requests in {:.1} s; before: {:?}; straddling the fault: {:?}; \
         during ({} ms): {:?}; recovering: {:?}; after recovery: {:?}",
        calls.len(),
        started.elapsed().as_secs_f64(),
        statuses(before.iter().copied()),
        statuses(straddling.iter().copied()),
        outage.as_millis(),
        statuses(during.iter().copied()),
        statuses(recovering.iter().copied()),
        statuses(after.iter().copied()),
    );
    eprintln!(
        "faults[{name}]: max latency of requests begun during the fault: {} ms \
         (load {} ms, probes {} ms; timeout {} ms); recovery after restore: {} ms",
        max_took(since_cut.iter().copied()).as_millis(),
        max_took(during.iter().copied()).as_millis(),
        max_took(
            probed
                .iter()
                .filter(|c| c.started >= cut_at && c.started < restored_at)
        )
        .as_millis(),
        DB_TIMEOUT.as_millis(),
        (recovered_at - restored_at).as_millis(),
    );

    assert!(
        calls.iter().all(|c| c.status != 0),
        "{name}: a transport error"
    );
    assert!(
        before.iter().all(|c| c.status < 300),
        "{name}: failures before the fault: {:?}",
        statuses(before.iter().copied())
    );
    assert!(!during.is_empty(), "{name}: no load during the fault");
    for c in &during {
        assert!(c.is_documented_503(), "{name}: during the fault: {c:?}");
    }
    // Never a 500, not even for the requests the fault caught in flight.
    for c in calls.iter().chain(&probed) {
        assert!(
            c.status < 300 || c.is_documented_503(),
            "{name}: neither a success nor the documented 503: {c:?}"
        );
    }
    for c in calls.iter().chain(&probed) {
        assert!(
            c.took <= DB_TIMEOUT + MARGIN,
            "{name}: {} ms, over the {} ms timeout: {c:?}",
            c.took.as_millis(),
            DB_TIMEOUT.as_millis()
        );
    }
    // The process stayed up and said it was not ready.
    for c in probed.iter().filter(|c| c.op == "/healthz") {
        assert_eq!(c.status, 200, "{name}: {c:?}");
    }
    let readyz: Vec<&Call> = probed
        .iter()
        .filter(|c| c.op == "/readyz" && c.started >= cut_at && c.ended() < restored_at)
        .collect();
    assert!(!readyz.is_empty());
    for c in readyz {
        assert!(
            c.is_documented_503(),
            "{name}: readiness during the fault: {c:?}"
        );
    }
    // Every route works again, without a restart.
    assert!(!after.is_empty(), "{name}: no load after recovery");
    assert!(
        after.iter().all(|c| c.status < 300),
        "{name}: failures after recovery: {:?}",
        statuses(after.iter().copied())
    );
    assert!(
        recovered_at - restored_at < Duration::from_secs(5),
        "{name}: recovery took {:?}",
        recovered_at - restored_at
    );
}

#[test]
fn postgres_cut_under_load_is_503_at_once_and_recovers_without_a_restart() {
    lose_postgres_under_load(&[(Link::Cut, Duration::from_millis(2500))]);
}

#[test]
fn postgres_blackholed_under_load_is_503_within_the_timeout_and_recovers() {
    lose_postgres_under_load(&[(Link::Blackhole, Duration::from_millis(2500))]);
}

/// A stall that ends in closed connections (a failover, say): the requests stuck in
/// flight when the connections close answer 503 too, not 500.
#[test]
fn postgres_stalled_then_cut_under_load_is_503_and_recovers() {
    lose_postgres_under_load(&[
        (Link::Blackhole, Duration::from_millis(400)),
        (Link::Cut, Duration::from_millis(1200)),
    ]);
}

/// A key-change feed that goes silent (a partition that closes nothing) must not keep
/// a node trusting its key cache: a key revoked meanwhile stops working on that node
/// within the feed's heartbeat (5 s, answered within 2 s), not after the cache's TTL.
#[test]
fn a_silent_key_change_feed_stops_the_key_cache() {
    let Some((app, proxy)) = app_behind_proxy(|s| s.serve.key_cache_ttl_secs = 300) else {
        return;
    };
    let (tenant, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "partitioned", "scopes": ["instances:read"]}),
        )
        .json();
    let key = minted["key"].as_str().unwrap();
    let id =
        hydracore_keys::ApiKeyId(uuid::Uuid::parse_str(minted["id"].as_str().unwrap()).unwrap());
    let context = |key: &str| app.get("/v1/mcp/api-key-context", key).status;
    // Resolved once, then served from the cache (the route needs nothing else).
    assert_eq!(context(key), 200);
    proxy.set(Link::Blackhole);
    let silent = Instant::now();
    // Revoked and announced by another node, straight to PostgreSQL: the announcement
    // is held in the partition.
    app.block_on(KeyRepository::revoke(
        &app.store,
        tenant,
        id,
        time::OffsetDateTime::now_utc(),
        &hydracore_api_tests::ops_event(hydracore_core::audit::Action::ApiKeyRevoked),
    ))
    .unwrap();
    // 5 s to the next heartbeat, 2 s for its answer, and the first request that then
    // goes to the (silent) database spends its 1 s timeout; slack for a loaded machine.
    let deadline = silent + Duration::from_secs(12);
    let mut served = 0;
    while context(key) == 200 {
        served += 1;
        assert!(
            Instant::now() < deadline,
            "the revoked key still works {:?} into a silent partition",
            silent.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let trusted = silent.elapsed();
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(5);
    while context(key) != 401 {
        assert!(
            Instant::now() < deadline,
            "the revoked key is not refused after the partition"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "faults[feed]: the revoked key served from the cache for {} ms ({served} requests) \
         into a silent partition, then refused",
        trusted.as_millis()
    );
}

// ---------------------------------------------------------------------------------
// Interrupted writes

/// Calls `write(0)`, `write(1)`… (pausing a little after a 503) until it returns
/// `None`, or until `stop` is set and the last write succeeded.
fn write_until<T>(
    stop: &AtomicBool,
    mut write: impl FnMut(usize) -> Option<(T, Call)>,
) -> Vec<(T, Call)> {
    let mut out = Vec::new();
    let mut stopping: Option<Instant> = None;
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            let since = *stopping.get_or_insert_with(Instant::now);
            let last_ok = out.last().is_some_and(|(_, c): &(T, Call)| c.status < 300);
            if last_ok || since.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        let Some((what, c)) = write(n) else { break };
        if c.status == 503 {
            std::thread::sleep(Duration::from_millis(10));
        }
        out.push((what, c));
    }
    out
}

fn join<T>(workers: Vec<std::thread::ScopedJoinHandle<'_, Vec<T>>>) -> Vec<T> {
    workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect()
}

fn first_page() -> PageRequest {
    PageRequest::new(1000, None).unwrap()
}

/// Writes of several statements, many at once, while PostgreSQL is cut again and
/// again; afterwards no write is half made, whatever the client was told:
///
/// - a sign-up (tenant, user, owner membership: one transaction) left all or nothing,
///   and one answered 503 that did commit can sign in;
/// - a key rotation (old key's expiry, successor: one transaction) left both or neither;
/// - an instance created with `start: true` (stored `starting`, then moved on after
///   the runtime call: no transaction can hold a runtime call) answered 201 only when
///   running; after a 503 it is absent, or present and brought to `running` by the
///   reconciler with no help from the client;
/// - retrying a create that answered 503 with its `Idempotency-Key`, once the claim's
///   lease has passed (a claim whose `abandon` the outage swallowed lapses), runs: 201
///   when the instance is absent, 409 for the name when it exists. Never "still being
///   processed".
#[test]
fn writes_cut_half_way_leave_nothing_half_made() {
    let Some((app, proxy)) = app_behind_proxy(|s| {
        s.serve.db_pool_size = 8;
        s.serve.idempotency_lease_secs = LEASE.as_secs();
        s.serve.reconcile_interval_secs = 1;
        s.serve.reconcile_after_secs = LEASE.as_secs();
    }) else {
        return;
    };
    let (tenant, admin) = app.tenant_with_key(&["instances:*", "api-keys:*"]);
    const ROTATE: usize = 240;
    let keys: Vec<String> = (0..ROTATE)
        .map(|i| {
            let res = app.post(
                "/v1/api-keys",
                &admin,
                &json!({"name": format!("rot-{i}"), "scopes": ["instances:read"]}),
            );
            assert_eq!(res.status, 201, "{}", res.body);
            res.json()["id"].as_str().unwrap().to_owned()
        })
        .collect();

    let stop = AtomicBool::new(false);
    let next_key = AtomicUsize::new(0);
    let auth = Some(("X-Api-Key", admin.as_str()));
    let (creates, rotations, signups, cycles) = std::thread::scope(|scope| {
        let creators: Vec<_> = (0..3)
            .map(|t| {
                let (stop, app) = (&stop, &app);
                scope.spawn(move || {
                    let agent = agent();
                    write_until(stop, |n| {
                        let name = format!("w{t}-{n}");
                        let body = json!({"name": name, "start": true});
                        let c = call(
                            &agent,
                            app,
                            "create",
                            "POST",
                            "/v1/instances",
                            auth,
                            Some(&body),
                            Some(&name),
                        );
                        Some((name, c))
                    })
                })
            })
            .collect();
        let rotators: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let agent = agent();
                    write_until(&stop, |_| {
                        let i = next_key.fetch_add(1, Ordering::Relaxed);
                        let path = format!("/v1/api-keys/{}/rotate", keys.get(i)?);
                        let c = call(&agent, &app, "rotate", "POST", &path, auth, None, None);
                        Some((i, c))
                    })
                })
            })
            .collect();
        let signers: Vec<_> = (0..2)
            .map(|t| {
                let (stop, app) = (&stop, &app);
                scope.spawn(move || {
                    let agent = agent();
                    write_until(stop, |n| {
                        let email = format!("s{t}-{n}@example.com");
                        let body = json!({"email": email, "password": PASSWORD,
                            "tenant_name": format!("T {t} {n}")});
                        let c = call(
                            &agent,
                            app,
                            "signup",
                            "POST",
                            "/auth/signup",
                            None,
                            Some(&body),
                            None,
                        );
                        Some((email, c))
                    })
                })
            })
            .collect();
        let mut cycles = 0;
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(250));
            proxy.cut();
            std::thread::sleep(Duration::from_millis(150));
            proxy.restore();
            cycles += 1;
        }
        // Let the service settle, then stop.
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let creates: Vec<(String, Call)> = join(creators);
        let rotations: Vec<(usize, Call)> = join(rotators);
        let signups: Vec<(String, Call)> = join(signers);
        (creates, rotations, signups, cycles)
    });
    eprintln!(
        "faults[writes]: {cycles} cuts; creates {:?}; rotations {:?}; sign-ups {:?}",
        statuses(creates.iter().map(|(_, c)| c)),
        statuses(rotations.iter().map(|(_, c)| c)),
        statuses(signups.iter().map(|(_, c)| c)),
    );
    for (_, c) in creates.iter().chain(&signups) {
        assert!(c.status == 201 || c.is_documented_503(), "{c:?}");
    }
    for (_, c) in &rotations {
        assert!(c.status == 201 || c.is_documented_503(), "{c:?}");
    }
    for (what, calls) in [
        (
            "creates",
            creates.iter().map(|(_, c)| c.status).collect::<Vec<_>>(),
        ),
        (
            "rotations",
            rotations.iter().map(|(_, c)| c.status).collect(),
        ),
        ("sign-ups", signups.iter().map(|(_, c)| c.status).collect()),
    ] {
        assert!(calls.contains(&201), "{what}: none succeeded");
        assert!(calls.contains(&503), "{what}: none was cut");
    }

    check_instances(&app, tenant, &admin, &creates, Instant::now());
    check_rotations(&app, tenant, &keys, &rotations);
    check_signups(&app, &signups);
    check_audit(&app, tenant, &signups);
}

/// Every change the cuts let through has its event, and no event is left by a change
/// they undid: the instances created, the keys rotated and the users signed up are
/// exactly the targets of `instance.created`, `api_key.rotated` and `user.signed_up`.
fn check_audit(app: &TestApp, tenant: TenantId, signups: &[(String, Call)]) {
    use hydracore_audit::{Action, AuditLog, AuditQuery};
    use std::collections::BTreeSet;
    let targets = |action: Action, of: Option<TenantId>| -> BTreeSet<uuid::Uuid> {
        let mut out = BTreeSet::new();
        let mut after = None;
        loop {
            let query = AuditQuery {
                actions: vec![action],
                ..AuditQuery::default()
            };
            let page = app
                .block_on(AuditLog::list(
                    &app.store,
                    of,
                    &query,
                    PageRequest::new(1000, after).unwrap(),
                ))
                .unwrap();
            out.extend(page.items.iter().map(|e| e.target.id));
            match page.next {
                Some(n) => after = Some(n),
                None => return out,
            }
        }
    };
    let instances: BTreeSet<uuid::Uuid> = settled_instances(app, tenant)
        .values()
        .map(|i| i.id.0)
        .collect();
    assert_eq!(targets(Action::InstanceCreated, Some(tenant)), instances);
    let keys = app
        .block_on(KeyRepository::list(&app.store, tenant, first_page()))
        .unwrap()
        .items;
    let rotated: BTreeSet<uuid::Uuid> = keys
        .iter()
        .filter(|k| k.rotated_at.is_some())
        .map(|k| k.id.0)
        .collect();
    assert_eq!(targets(Action::ApiKeyRotated, Some(tenant)), rotated);
    let users: BTreeSet<uuid::Uuid> = signups
        .iter()
        .filter_map(|(email, _)| {
            app.block_on(UserRepository::find_by_email(
                &app.store,
                &Email::parse(email).unwrap(),
            ))
            .unwrap()
        })
        .map(|u| u.id.0)
        .collect();
    assert_eq!(targets(Action::UserSignedUp, None), users);
    eprintln!(
        "faults[writes]: audit events match the changes: {} instances, {} rotations, {} sign-ups",
        instances.len(),
        rotated.len(),
        users.len()
    );
}

/// The idempotency lease and the reconciler's wait in the write test.
const LEASE: Duration = Duration::from_secs(2);

/// The tenant's instances by name, waiting (up to 20 s) for the reconciler to leave none
/// `starting` or `stopping`.
fn settled_instances(app: &TestApp, tenant: TenantId) -> HashMap<String, Instance> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stored: HashMap<String, Instance> = app
            .block_on(InstanceRepository::list(&app.store, tenant, first_page()))
            .unwrap()
            .items
            .into_iter()
            .map(|i| (i.name.as_str().to_owned(), i))
            .collect();
        let moving = stored
            .values()
            .filter(|i| matches!(i.status.as_str(), "starting" | "stopping"))
            .count();
        if moving == 0 {
            return stored;
        }
        assert!(
            Instant::now() < deadline,
            "{moving} instances still starting or stopping 20 s after the outage"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn check_instances(
    app: &TestApp,
    tenant: TenantId,
    admin: &str,
    creates: &[(String, Call)],
    stopped: Instant,
) {
    let mut left = BTreeMap::<&str, usize>::new();
    for (name, c) in creates {
        if c.status != 201 {
            let row = app
                .block_on(InstanceRepository::list(&app.store, tenant, first_page()))
                .unwrap()
                .items
                .into_iter()
                .find(|i| i.name.as_str() == name);
            *left
                .entry(row.map_or("absent", |r| r.status.as_str()))
                .or_insert(0) += 1;
        }
    }
    let stored = settled_instances(app, tenant);
    let reconciled = stopped.elapsed();
    let asked: HashMap<&str, &Call> = creates.iter().map(|(n, c)| (n.as_str(), c)).collect();
    assert!(
        stored.keys().all(|n| asked.contains_key(n.as_str())),
        "an instance nobody asked for"
    );
    let orphaned = orphaned_claims(app, admin, creates);
    // Every claim the outage orphaned has lapsed by now.
    std::thread::sleep(LEASE.saturating_sub(stopped.elapsed()));
    let mut replays = BTreeMap::<(&str, u16), usize>::new();
    for (name, c) in creates {
        let row = stored.get(name);
        if c.status == 201 {
            let row = row.unwrap_or_else(|| panic!("{name} answered 201 but is not stored"));
            assert_eq!(c.json()["id"], row.id.0.to_string());
            assert_eq!(c.json()["status"], "running");
            assert_eq!(row.status.as_str(), "running", "{name}");
            continue;
        }
        // Stored before the cut: the reconciler has brought it to where it was asked.
        if let Some(row) = row {
            assert_eq!(row.status.as_str(), "running", "{name}");
        }
        // The same request again, with its Idempotency-Key: what a client does after a 503.
        let again = app.send(
            ureq::http::Request::builder()
                .method("POST")
                .uri(format!("{}/v1/instances", app.address))
                .header("X-Api-Key", admin)
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", name.as_str())
                .body(json!({"name": name, "start": true}).to_string())
                .unwrap(),
        );
        if row.is_some() {
            assert_eq!(again.status, 409, "{name}: {}", again.body);
            let detail = again.json()["detail"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(detail.contains("already exists"), "{name}: {detail}");
        } else {
            assert_eq!(again.status, 201, "{name}: {}", again.body);
            assert_eq!(again.json()["status"], "running");
        }
        *replays
            .entry((
                if row.is_some() { "present" } else { "absent" },
                again.status,
            ))
            .or_insert(0) += 1;
    }
    eprintln!(
        "faults[writes]: instances after a 503 create with start, as the outage left them: \
         {left:?}; none starting {} ms after the outage; {orphaned} Idempotency-Key \
         claims left by the outage; retried with the same key after the {} s lease \
         (instance, answer): {replays:?}",
        reconciled.as_millis(),
        LEASE.as_secs()
    );
}

/// How many of the creates answered 503 still hold their `Idempotency-Key` (their
/// `abandon` was lost with the database), asked of the store directly.
fn orphaned_claims(app: &TestApp, admin: &str, creates: &[(String, Call)]) -> usize {
    use hydracore_core::Clock;
    use hydracore_core::idempotency::{Begin, Claim, IdempotencyStore};
    let ctx = app.get("/v1/mcp/api-key-context", admin).json();
    let owner = format!("key:{}", ctx["key_id"].as_str().unwrap());
    let mut held = 0;
    for (name, c) in creates.iter().filter(|(_, c)| c.status != 201) {
        // A different fingerprint and a lease of nothing: free keys are Started (and
        // given back at once), a held one is a mismatch.
        let at = hydracore_core::SystemClock.now();
        let probe = Claim {
            owner: &owner,
            key: name,
            fingerprint: &[0; 32],
            at,
            expires_at: at + time::Duration::minutes(1),
            stale_before: at - time::Duration::days(1),
        };
        match app
            .block_on(IdempotencyStore::begin(&app.store, &probe))
            .unwrap()
        {
            Begin::Started => app
                .block_on(IdempotencyStore::abandon(&app.store, &owner, name, at))
                .unwrap(),
            Begin::Mismatch => held += 1,
            other => panic!("{name}: {other:?} for a request answered {}", c.status),
        }
    }
    held
}

fn check_rotations(app: &TestApp, tenant: TenantId, keys: &[String], rotations: &[(usize, Call)]) {
    let stored = app
        .block_on(KeyRepository::list(&app.store, tenant, first_page()))
        .unwrap()
        .items;
    let mut outcome = BTreeMap::<(u16, usize), usize>::new();
    for (i, c) in rotations {
        let name = format!("rot-{i}");
        let mine: Vec<_> = stored.iter().filter(|k| k.name == name).collect();
        let old = mine
            .iter()
            .find(|k| k.id.0.to_string() == keys[*i])
            .unwrap_or_else(|| panic!("{name}: the rotated key is gone"));
        match mine.len() {
            // Not rotated: the old key is as it was.
            1 => {
                assert_eq!(c.status, 503, "{name}: answered 201 without a successor");
                assert_eq!(old.expires_at, None, "{name}: expiry set, no successor");
            }
            // Rotated: the old key expires after the grace period, when its successor
            // was made.
            2 => {
                let new = mine.iter().find(|k| k.id != old.id).unwrap();
                assert_eq!(
                    old.expires_at,
                    Some(new.created_at + time::Duration::seconds(300)),
                    "{name}: a successor without the old key's grace period"
                );
                if c.status == 201 {
                    assert_eq!(c.json()["id"], new.id.0.to_string());
                }
            }
            n => panic!("{name}: {n} keys after one rotation"),
        }
        *outcome.entry((c.status, mine.len())).or_insert(0) += 1;
    }
    eprintln!("faults[writes]: rotations (answer, keys of that name): {outcome:?}");
}

fn check_signups(app: &TestApp, signups: &[(String, Call)]) {
    let mut outcome = BTreeMap::<(u16, bool), usize>::new();
    for (email, c) in signups {
        let user = app
            .block_on(UserRepository::find_by_email(
                &app.store,
                &Email::parse(email).unwrap(),
            ))
            .unwrap();
        outcome
            .entry((c.status, user.is_some()))
            .and_modify(|n| *n += 1)
            .or_insert(1);
        let Some(user) = user else {
            assert_eq!(c.status, 503, "{email} answered 201 but is not stored");
            continue;
        };
        // All of it: the tenant, and the user its owner.
        let tenant = user.active_tenant_id.expect("an active tenant");
        assert!(
            app.block_on(TenantRepository::find(&app.store, tenant))
                .unwrap()
                .is_some(),
            "{email}: a user without its tenant"
        );
        let membership = app
            .block_on(MembershipRepository::find(&app.store, tenant, user.id))
            .unwrap()
            .unwrap_or_else(|| panic!("{email}: a user without its membership"));
        assert_eq!(membership.role, Role::Owner);
        if c.status == 201 {
            assert_eq!(c.json()["tenant"]["id"], tenant.0.to_string(), "{}", c.body);
        } else {
            // Told 503 but made whole: the account works.
            let login = app.post_anon(
                "/auth/login",
                &json!({"email": email, "password": PASSWORD}),
            );
            assert_eq!(login.status, 200, "{email}: {}", login.body);
        }
    }
    eprintln!("faults[writes]: sign-ups (answer, user stored): {outcome:?}");
}
