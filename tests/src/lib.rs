//! The harness of the black-box suite: [`spawn_app`] starts the real server on port 0
//! against a fresh SQLite file or a fresh PostgreSQL database, and [`TestApp`] talks
//! to it over real HTTP. Dropping the app stops the server and deletes its database.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use hydracore_core::SharedClock;
use hydracore_core::audit::{Action, AuditEvent, AuditTarget, TargetKind, Who};
use hydracore_core::testing::ManualClock;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use hydracore_core::SystemClock;
use hydracore_keys::{ApiKey, Grantor, KeyRepository, KeyService, MintKey};
use hydracore_server::settings::{ServeArgs, Settings};
use hydracore_server::{Application, telemetry};
use hydracore_store::{DatabaseUrl, PoolOptions, Store, admin};
use hydracore_tenants::{TenantId, TenantService};
use serde_json::Value;

/// The ops token every test server is configured with.
pub const OPS_TOKEN: &str = "ops-0123456789abcdef0123456789abcdef";

/// The access-token key of test servers on PostgreSQL (which requires one).
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789";

/// The sealing key of test servers on PostgreSQL (which requires one).
pub const MCP_CREDS_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// The password every test user signs up with.
pub const PASSWORD: &str = "correct horse battery staple";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

enum TestDb {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub backend: Backend,
    /// Direct access to the same database, for setting up what HTTP cannot.
    pub store: Store,
    runtime: tokio::runtime::Runtime,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    db: TestDb,
    data_dir: PathBuf,
    settings: Settings,
    agent: ureq::Agent,
    /// The server's clock: `advance` it past an expiry instead of sleeping.
    pub clock: Arc<ManualClock>,
}

/// A second server on the same database (another node); stopped when dropped.
pub struct Peer {
    pub address: String,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl TestResponse {
    /// The body as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (status {})", self.body, self.status))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The PostgreSQL server tests run against, if any.
///
/// # Panics
/// When `HYDRACORE_REQUIRE_PG=1` and `TEST_DATABASE_URL` is not set.
pub fn postgres_url() -> Option<String> {
    hydracore_core::testing::needs("TEST_DATABASE_URL", "HYDRACORE_REQUIRE_PG")
}

/// An audit event of `action` by the operator, of no tenant: for changes a test makes
/// straight through a repository.
pub fn ops_event(action: Action) -> AuditEvent {
    AuditEvent::new(
        None,
        time::OffsetDateTime::now_utc(),
        action,
        &Who::ops(),
        AuditTarget::new(TargetKind::Tenant, uuid::Uuid::new_v4(), "test"),
    )
}

/// Starts the server on `backend`, or `None` (after saying so) when that backend is
/// not available here.
///
/// # Panics
/// When the server cannot start.
pub fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {})
}

/// [`spawn_app`] with settings adjusted by `configure` first.
///
/// # Panics
/// When the server cannot start.
pub fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    if std::env::var("TEST_LOG").is_ok() {
        telemetry::init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (db, url) = match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("hc-api-{}.db", uuid::Uuid::new_v4()));
            let url = format!("sqlite://{}", path.display());
            (TestDb::Sqlite(path), url)
        }
        Backend::Postgres => {
            let admin_url = postgres_url()?;
            let name = format!("hc_api_{}", uuid::Uuid::new_v4().simple());
            let url = runtime
                .block_on(admin::create_database(&admin_url, &name))
                .expect("create test database");
            (TestDb::Postgres { admin_url, name }, url)
        }
    };
    let data_dir = std::env::temp_dir().join(format!("hc-data-{}", uuid::Uuid::new_v4()));
    // The server is told the address clients reach it at (OAuth names itself by it).
    let port = free_port();
    let mut settings = Settings {
        database_url: DatabaseUrl::parse(&url).expect("a database URL"),
        serve: ServeArgs {
            bind: format!("127.0.0.1:{port}"),
            public_url: format!("http://127.0.0.1:{port}"),
            workers: Some(2),
            db_pool_size: 4,
            usage_flush_ms: 100,
            ops_token: Some(OPS_TOKEN.into()),
            // Every test signs in from 127.0.0.1; the throttling tests set their own.
            signin_limit_per_email: hydracore_keys::RateLimit::new(1_000_000, 1).unwrap(),
            signin_limit_per_address: hydracore_keys::RateLimit::new(1_000_000, 1).unwrap(),
            // Every node of a PostgreSQL deployment shares these; SQLite makes its own.
            jwt_secret: (backend == Backend::Postgres).then(|| JWT_SECRET.into()),
            mcp_creds_key: (backend == Backend::Postgres).then(|| MCP_CREDS_KEY.into()),
            data_dir: Some(data_dir.clone()),
            ..ServeArgs::default()
        },
        handle_signals: false,
    };
    configure(&mut settings);
    let base_settings = settings.clone();
    let clock = Arc::new(ManualClock::new());
    let (port, handle, thread) = start_server(settings, clock.clone());
    let store = runtime
        .block_on(Store::open(
            &DatabaseUrl::parse(&url).expect("a database URL"),
            &PoolOptions {
                max_size: 2,
                ..PoolOptions::default()
            },
        ))
        .expect("open the test database");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    Some(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        backend,
        store,
        runtime,
        handle,
        thread: Some(thread),
        db,
        data_dir,
        settings: base_settings,
        agent,
        clock,
    })
}

/// A port free on 127.0.0.1 now.
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts a server with `settings` on its own thread; returns its port.
fn start_server(settings: Settings, clock: SharedClock) -> (u16, ServerHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(settings, clock).await {
                Ok(app) => {
                    let _ = tx.send(Ok((app.port(), app.handle())));
                    let _ = app.run_until_stopped().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("{e:#}")));
                }
            }
        });
    });
    let (port, handle) = rx
        .recv()
        .expect("server thread")
        .unwrap_or_else(|e| panic!("server failed to start: {e}"));
    (port, handle, thread)
}

impl TestApp {
    /// Sends `method path` with an optional API key and raw body.
    ///
    /// # Panics
    /// On transport errors.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> TestResponse {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.address));
        if let Some(k) = key {
            req = req.header("X-Api-Key", k);
        }
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req.body(body.unwrap_or("").to_owned()).expect("request");
        self.send(req)
    }

    /// Writes `bytes` on a new connection and reads until the server closes it or
    /// `wait` passes; returns what came back (lossy UTF-8) and when the read ended.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub fn raw(&self, bytes: &[u8], wait: std::time::Duration) -> (String, std::time::Duration) {
        use std::io::{Read, Write};
        let addr = self.address.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(wait)).expect("read timeout");
        let started = std::time::Instant::now();
        // A server may answer and close before reading everything: that is fine.
        let _ = stream.write_all(bytes);
        let mut out = Vec::new();
        let mut buf = [0_u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        (
            String::from_utf8_lossy(&out).into_owned(),
            started.elapsed(),
        )
    }

    /// Sends a prepared request.
    ///
    /// # Panics
    /// On transport errors.
    pub fn send(&self, req: ureq::http::Request<String>) -> TestResponse {
        let mut res = self.agent.run(req).expect("transport");
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        TestResponse {
            status: res.status().as_u16(),
            headers,
            body: res.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    /// Sends `method path` with `Authorization: Bearer <token>`.
    ///
    /// # Panics
    /// On transport errors.
    pub fn bearer(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> TestResponse {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.address))
            .header("Authorization", format!("Bearer {token}"));
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req
            .body(body.map(Value::to_string).unwrap_or_default())
            .expect("request");
        self.send(req)
    }

    /// An unauthenticated JSON `POST`.
    pub fn post_anon(&self, path: &str, body: &Value) -> TestResponse {
        self.request("POST", path, None, Some(&body.to_string()))
    }

    /// Signs a new user up over HTTP; returns the whole 201 body.
    ///
    /// # Panics
    /// Unless sign-up answers 201.
    pub fn signup(&self, email: &str, tenant: &str) -> Value {
        let res = self.post_anon(
            "/auth/signup",
            &serde_json::json!({"email": email, "password": PASSWORD, "tenant_name": tenant}),
        );
        assert_eq!(res.status, 201, "{}", res.body);
        res.json()
    }

    pub fn get(&self, path: &str, key: &str) -> TestResponse {
        self.request("GET", path, Some(key), None)
    }

    pub fn post(&self, path: &str, key: &str, body: &Value) -> TestResponse {
        self.request("POST", path, Some(key), Some(&body.to_string()))
    }

    pub fn patch(&self, path: &str, key: &str, body: &Value) -> TestResponse {
        self.request("PATCH", path, Some(key), Some(&body.to_string()))
    }

    pub fn delete(&self, path: &str, key: &str) -> TestResponse {
        self.request("DELETE", path, Some(key), None)
    }

    /// Another node: a server on the same database and data directory, with settings
    /// adjusted by `configure`.
    pub fn peer(&self, configure: impl FnOnce(&mut Settings)) -> Peer {
        let mut settings = self.settings.clone();
        // Behind one public URL, on a port of its own.
        settings.serve.bind = "127.0.0.1:0".into();
        configure(&mut settings);
        let (port, handle, thread) = start_server(settings, self.clock.clone());
        Peer {
            address: format!("http://127.0.0.1:{port}"),
            handle,
            thread: Some(thread),
        }
    }

    /// Stops the server and starts it again with the same settings, on the same port,
    /// database and data directory: a node's restart.
    ///
    /// # Panics
    /// When the server does not come back on its port.
    pub fn restart(&mut self) {
        drop(self.handle.stop(true));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let (port, handle, thread) = start_server(self.settings.clone(), self.clock.clone());
        assert_eq!(format!("http://127.0.0.1:{port}"), self.address);
        self.handle = handle;
        self.thread = Some(thread);
    }

    /// Where the server keeps its key files.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The database's URL.
    pub fn database_url(&self) -> String {
        match &self.db {
            TestDb::Sqlite(p) => format!("sqlite://{}", p.display()),
            TestDb::Postgres { admin_url, name } => {
                hydracore_store::admin::with_database(admin_url, name).unwrap_or_default()
            }
        }
    }

    /// Everything the database holds, as text: the SQLite file and its WAL, or a
    /// `pg_dump` of the data with its binary columns decoded too.
    ///
    /// # Panics
    /// When the file cannot be read or `pg_dump` fails.
    pub fn database_text(&self) -> String {
        match &self.db {
            TestDb::Sqlite(path) => {
                let mut raw = std::fs::read(path).unwrap();
                let mut wal = path.as_os_str().to_owned();
                wal.push("-wal");
                raw.extend(std::fs::read(wal).unwrap_or_default());
                String::from_utf8_lossy(&raw).into_owned()
            }
            TestDb::Postgres { .. } => admin::data_as_text(&self.database_url()).expect("pg_dump"),
        }
    }

    /// The database file, on SQLite.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        match &self.db {
            TestDb::Sqlite(p) => Some(p),
            TestDb::Postgres { .. } => None,
        }
    }

    /// Runs a future on the harness's runtime (for direct store access).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// A new tenant, made the way an operator bootstraps one.
    ///
    /// # Panics
    /// On store failures.
    pub fn tenant(&self, name: &str) -> TenantId {
        let tenants = TenantService::new(Arc::new(self.store.clone()), Arc::new(SystemClock));
        self.block_on(tenants.create(&Who::ops(), name))
            .expect("create tenant")
            .id
    }

    /// A key of `tenant` with `scopes`, minted the way an operator bootstraps one.
    ///
    /// # Panics
    /// On store failures or bad scopes.
    pub fn key(&self, tenant: TenantId, scopes: &[&str]) -> String {
        let keys = KeyService::new(Arc::new(self.store.clone()), Arc::new(SystemClock));
        let minted = self
            .block_on(keys.mint(
                tenant,
                Grantor::Operator,
                &Who::ops(),
                MintKey {
                    name: "test".into(),
                    scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                    ..MintKey::default()
                },
            ))
            .expect("mint key");
        minted.secret.expose().to_owned()
    }

    /// A fresh tenant and a key of it holding `scopes`.
    pub fn tenant_with_key(&self, scopes: &[&str]) -> (TenantId, String) {
        let t = self.tenant("acme");
        let k = self.key(t, scopes);
        (t, k)
    }

    /// Stores a key exactly as given (e.g. already expired), bypassing the service's
    /// rules; returns its plaintext.
    ///
    /// # Panics
    /// On store failures.
    pub fn insert_raw_key(&self, key: &ApiKey, secret: &hydracore_keys::KeySecret) {
        let event = AuditEvent::new(
            Some(key.tenant_id.0),
            key.created_at,
            Action::ApiKeyMinted,
            &Who::ops(),
            AuditTarget::new(TargetKind::ApiKey, key.id.0, key.name.as_str()),
        );
        self.block_on(KeyRepository::insert(
            &self.store,
            key,
            &secret.hash(),
            &event,
        ))
        .expect("insert key");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        match &self.db {
            TestDb::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            TestDb::Postgres { admin_url, name } => {
                if let Err(e) = self.runtime.block_on(admin::drop_database(admin_url, name)) {
                    eprintln!("could not drop test database {name}: {e}");
                }
            }
        }
    }
}

/// Expands each test function `fn(&TestApp)` into one test per backend:
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let app = $crate::spawn_app($crate::Backend::Sqlite).expect("sqlite is always available");
                    super::$name(&app);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(app) = $crate::spawn_app($crate::Backend::Postgres) {
                        super::$name(&app);
                    }
                }
            )*
        }
    };
}

/// A browser without a browser: the console's cookies, kept by hand.
pub struct Visitor<'a> {
    pub app: &'a TestApp,
    pub cookies: Vec<(String, String)>,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: Vec::new(),
        }
    }

    pub fn keep(&mut self, res: &TestResponse) {
        for (k, v) in &res.headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = v.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get(&mut self, path: &str) -> TestResponse {
        let req = ureq::http::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", self.app.address))
            .header("Cookie", self.cookie_header())
            .body(String::new())
            .unwrap();
        let res = self.app.send(req);
        self.keep(&res);
        res
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> TestResponse {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", self.app.address))
            .header("Cookie", self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .unwrap();
        let res = self.app.send(req);
        self.keep(&res);
        res
    }

    /// Signs in through the sign-in form.
    pub fn sign_in(&mut self, email: &str) {
        self.get("/login");
        let token = self.cookie("hc_form").unwrap().to_owned();
        let res = self.post(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", PASSWORD),
                ("next", "/instances"),
            ],
        );
        assert_eq!(res.status, 303, "{}", res.body);
        assert!(self.cookie("hc_session").is_some());
    }

    /// The CSRF token of the signed-in session, as its pages carry it.
    pub fn csrf(&mut self) -> String {
        let page = self.get("/settings/tenant");
        let marker = "name=\"csrf_token\" value=\"";
        let at = page.body.find(marker).unwrap() + marker.len();
        page.body[at..at + 32].to_owned()
    }
}

/// `s` percent-encoded for a form or query value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
