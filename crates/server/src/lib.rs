//! The composition root: settings, telemetry, the one place that names concrete
//! adapters ([`Store`], [`RecordingRuntime`]) and wires them into the services the
//! HTTP adapter serves, and the `hydracore` command line.

pub mod cli;
pub mod client_docs;
pub mod settings;
mod smoke;
pub mod telemetry;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::HttpServer;
use actix_web::dev::{Server, ServerHandle};
use actix_web::web::Bytes;
use anyhow::Context;
use hydracore_audit::AuditService;
use hydracore_auth::oauth::{OAuthService, OAuthSettings};
use hydracore_auth::{AccessTokens, Authenticator, IdentityService, OpsToken, SignInLimits};
use hydracore_core::SharedClock;
use hydracore_http::{AppState, NotReady, Readiness};
use hydracore_instances::ports::RecordingRuntime;
use hydracore_instances::{ImageService, InstanceService};
use hydracore_keys::{KeyCache, KeyService};
use hydracore_mcp::{CallLogWriter, Services as McpServices};
use hydracore_mcp_creds::{Cipher, CredentialService, parse_hex_key};
use hydracore_mcp_log::CallLogService;
use hydracore_store::Store;
use hydracore_tenants::{MemberService, TenantService};
use tracing_actix_web::TracingLogger;

pub use settings::Settings;

/// A node is ready while its database and its instance runtime answer.
struct NodeReadiness {
    store: Store,
    instances: InstanceService,
}

impl Readiness for NodeReadiness {
    fn check(&self) -> futures_util::future::BoxFuture<'_, Result<(), NotReady>> {
        Box::pin(async move {
            self.store.ping().await.map_err(|e| NotReady {
                said: "Not ready: the database does not answer".into(),
                cause: e.into(),
            })?;
            self.instances.runtime_ready().await.map_err(|e| NotReady {
                said: "Not ready: the instance runtime does not answer".into(),
                cause: e.into(),
            })
        })
    }
}

/// The contents of key file `name` in the data directory, created on first use with
/// 32 random bytes as hex, mode 0600 (`create_new`, so concurrent starts agree), in a
/// directory created with mode 0700. A key file other users may read is refused.
///
/// # Errors
/// An unreadable or unwritable file, one others may read, or one holding under 32
/// bytes.
pub fn key_file(settings: &Settings, name: &str) -> anyhow::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};

    let dir = settings.data_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    let mut random = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| anyhow::anyhow!("the system CSPRNG failed"))?;
    let fresh: String = random.iter().map(|b| format!("{b:02x}")).collect();
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            file.write_all(fresh.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "created a key file");
            Ok(fresh)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(&path)
                .with_context(|| format!("reading {}", path.display()))?
                .permissions()
                .mode();
            anyhow::ensure!(
                mode & 0o077 == 0,
                "{} may be read by other users (mode {:o}): make it the owner's alone (chmod 600)",
                path.display(),
                mode & 0o777
            );
            let key = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let key = key.trim().to_owned();
            anyhow::ensure!(key.len() >= 32, "{} holds under 32 bytes", path.display());
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// On PostgreSQL several nodes may serve one database: a key one node generated for
/// itself would make its tokens 401 on the others and its sealed secrets unreadable
/// there. So there the shared keys must be configured; SQLite (one node) keeps
/// generating key files.
///
/// # Errors
/// One line naming every missing setting.
pub fn require_shared_secrets(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_url.backend() != hydracore_store::Backend::Postgres {
        return Ok(());
    }
    let missing: Vec<&str> = [
        ("HYDRACORE_JWT_SECRET", settings.serve.jwt_secret.is_none()),
        (
            "HYDRACORE_MCP_CREDS_KEY",
            settings.serve.mcp_creds_key.is_none(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, absent)| absent.then_some(name))
    .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "on PostgreSQL every node must share its keys: set {} (the same on every node; see docs/auth.md)",
        missing.join(" and ")
    );
    Ok(())
}

/// The key that signs access tokens: `HYDRACORE_JWT_SECRET`, or (SQLite only) the key
/// file `jwt.key`.
///
/// # Errors
/// A configured key under 32 bytes; a missing one on PostgreSQL; key file failures.
pub fn jwt_secret(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    require_shared_secrets(settings)?;
    if let Some(secret) = &settings.serve.jwt_secret {
        anyhow::ensure!(
            secret.expose().len() >= 32,
            "HYDRACORE_JWT_SECRET must be at least 32 bytes"
        );
        return Ok(secret.expose().as_bytes().to_vec());
    }
    Ok(key_file(settings, "jwt.key")?.into_bytes())
}

/// The keyring sealing MCP credential secrets: `HYDRACORE_MCP_CREDS_KEY` (with its id
/// and the retired keys), or the key file `mcp-creds.key` (id `local`).
///
/// # Errors
/// A key that is not 64 hex characters; key file failures.
pub fn mcp_cipher(settings: &Settings) -> anyhow::Result<Cipher> {
    let mut older = Vec::new();
    for entry in settings
        .serve
        .mcp_creds_old_keys
        .iter()
        .flat_map(|s| s.expose().split(','))
        .filter(|e| !e.trim().is_empty())
    {
        let (id, hex) = entry
            .split_once(':')
            .context("HYDRACORE_MCP_CREDS_OLD_KEYS entries are id:hex")?;
        older.push((
            id.trim().to_owned(),
            parse_hex_key(hex).context("a retired MCP credentials key")?,
        ));
    }
    require_shared_secrets(settings)?;
    let (id, hex) = match &settings.serve.mcp_creds_key {
        Some(hex) => (
            settings.serve.mcp_creds_key_id.clone(),
            hex.expose().to_owned(),
        ),
        None => ("local".to_owned(), key_file(settings, "mcp-creds.key")?),
    };
    let key = parse_hex_key(&hex).context("HYDRACORE_MCP_CREDS_KEY")?;
    Cipher::new(&id, &key, &older).map_err(anyhow::Error::from)
}

/// The services over one store.
///
/// # Errors
/// A bad signing key (see [`jwt_secret`]).
pub async fn compose(
    store: &Store,
    settings: &Settings,
    clock: SharedClock,
) -> anyhow::Result<Composition> {
    let shared = Arc::new(store.clone());
    let postgres = settings.database_url.backend() == hydracore_store::Backend::Postgres;
    // On PostgreSQL the cache goes live once the change feed listens (see `build`).
    let key_cache = Arc::new(KeyCache::new(
        std::time::Duration::from_secs(settings.serve.key_cache_ttl_secs),
        !postgres && settings.serve.key_cache_ttl_secs > 0,
    ));
    let default_rate_limit = hydracore_keys::RateLimit::new(
        settings.serve.rate_limit_requests,
        settings.serve.rate_limit_per_seconds,
    )
    .map_err(|e| anyhow::anyhow!("the default rate limit: {}", e.message))?;
    let mut keys = KeyService::new(shared.clone(), clock.clone())
        .with_default_rate_limit(default_rate_limit)
        .with_usage_retention(settings.serve.usage_retention_days);
    if settings.serve.key_cache_ttl_secs > 0 {
        keys = keys.with_cache(key_cache.clone());
    }
    let tokens = AccessTokens::new(
        jwt_secret(settings)?,
        time::Duration::seconds(i64::from(settings.serve.access_token_ttl_secs.max(1))),
    )
    .map_err(anyhow::Error::msg)?;
    let ops = match &settings.serve.ops_token {
        Some(token) => Some(Arc::new(
            OpsToken::new(token.expose()).map_err(anyhow::Error::msg)?,
        )),
        None => {
            tracing::warn!(
                "HYDRACORE_OPS_TOKEN is not set: the internal ops surface (/internal/v1) is closed"
            );
            None
        }
    };
    let (limiter, fallbacks): (Arc<dyn hydracore_keys::RateLimiter>, _) =
        match &settings.serve.redis_url {
            Some(url) => {
                let shared = hydracore_ratelimit::RedisLimiter::connect(url.expose())
                    .await
                    .context("connecting to Redis (REDIS_URL) for shared rate limits")?;
                tracing::info!("rate limits are shared through Redis");
                let fallbacks = shared.fallbacks.clone();
                (Arc::new(shared), Some(fallbacks))
            }
            None => (Arc::new(hydracore_ratelimit::InProcessLimiter::new()), None),
        };
    let keyring = Arc::new(mcp_cipher(settings)?);
    let ca = match &settings.serve.oauth_client_document_ca {
        Some(path) => Some(std::fs::read(path).with_context(|| {
            format!(
                "reading HYDRACORE_OAUTH_CLIENT_DOCUMENT_CA ({})",
                path.display()
            )
        })?),
        None => None,
    };
    let documents = client_docs::HttpClientDocuments::new(
        ca.as_deref(),
        settings.serve.oauth_client_documents_allow_private,
    )?;
    let mut oauth_settings = OAuthSettings::new(&settings.serve.public_url);
    oauth_settings.access_ttl =
        time::Duration::seconds(i64::from(settings.serve.oauth_access_token_secs));
    oauth_settings.refresh_ttl =
        time::Duration::days(i64::from(settings.serve.oauth_refresh_token_days));
    let mut engine = None;
    let runtime: Arc<dyn hydracore_instances::Runtime> = match settings.serve.runtime.as_str() {
        "container" => {
            let containers = Arc::new(
                hydracore_runtime_container::ContainerRuntime::connect(&settings.serve.docker_host)
                    .map_err(anyhow::Error::msg)?,
            );
            match hydracore_instances::Runtime::ready(containers.as_ref()).await {
                Ok(()) => {
                    tracing::info!(engine = %settings.serve.docker_host, "instances run as containers")
                }
                Err(e) => tracing::warn!(
                    engine = %settings.serve.docker_host,
                    error = %e.reason(),
                    "instances run as containers; the engine does not answer yet (not ready until it does)"
                ),
            }
            engine = Some(containers.clone());
            containers
        }
        _ => Arc::new(RecordingRuntime),
    };
    let api = hydracore_api::Services {
        oauth: OAuthService::new(
            shared.clone(),
            Arc::new(documents),
            shared.clone(),
            clock.clone(),
            oauth_settings,
        ),
        images: ImageService::new(shared.clone(), clock.clone()),
        credentials: CredentialService::new(shared.clone(), keyring.clone(), clock.clone()),
        calls: CallLogService::new(shared.clone()),
        tenants: TenantService::new(shared.clone(), clock.clone()),
        members: MemberService::new(shared.clone(), shared.clone(), clock.clone())
            .with_max_owned_tenants(settings.serve.max_tenants_per_user),
        identity: IdentityService::new(
            shared.clone(),
            shared.clone(),
            shared.clone(),
            tokens.clone(),
            clock.clone(),
            settings.serve.signup_enabled,
        )
        .with_throttle(
            limiter.clone(),
            SignInLimits {
                per_email: settings.serve.signin_limit_per_email,
                per_address: settings.serve.signin_limit_per_address,
            },
        )
        .with_sessions(shared.clone(), settings.serve.session_ttl()),
        audit: AuditService::new(shared.clone(), clock.clone())
            .with_retention_days(settings.serve.audit_retention_days),
        keys: keys.clone(),
        instances: InstanceService::new(
            shared.clone(),
            shared.clone(),
            runtime,
            clock.clone(),
            settings.serve.default_runtime_image.clone(),
        ),
    };
    let readiness = Arc::new(NodeReadiness {
        store: store.clone(),
        instances: api.instances.clone(),
    });
    let mut state = AppState {
        api,
        idempotency: shared.clone(),
        keyring,
        clock: clock.clone(),
        limiter: limiter.clone(),
        default_rate_limit,
        ops,
        smoke: Arc::new(NoSmoke),
        trusted_proxies: hydracore_api::TrustedProxies::parse(&settings.serve.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("HYDRACORE_TRUSTED_PROXIES: {e}"))?,
        auth: Authenticator::new(keys, shared.clone(), shared.clone(), tokens, clock)
            .with_sessions(shared),
        readiness,
        body_timeout: settings.serve.client_timeout(),
        idempotency_lease: settings.serve.idempotency_lease(),
    };
    state.smoke = Arc::new(smoke::StoreSmoke {
        store: store.clone(),
        state: state.clone(),
    });
    Ok(Composition {
        state,
        limiter_fallbacks: fallbacks,
        key_cache,
        engine,
    })
}

/// The services, and what operators watch of them.
pub struct Composition {
    pub state: AppState,
    /// Rate-limit decisions taken locally because Redis did not answer (with Redis).
    pub limiter_fallbacks: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// Resolved API keys of this node.
    pub key_cache: Arc<KeyCache>,
    /// The container engine, when instances run as containers.
    pub engine: Option<Arc<hydracore_runtime_container::ContainerRuntime>>,
}

/// Stands in until the real smoke test, which needs the finished state, is wired.
struct NoSmoke;

impl hydracore_http::Smoke for NoSmoke {
    fn run(&self) -> futures_util::future::BoxFuture<'_, Vec<hydracore_http::SmokeStep>> {
        Box::pin(async { Vec::new() })
    }
}

/// The figures `/metrics` reads at scrape time.
struct ServerGauges {
    store: Store,
    log: CallLogWriter,
    fallbacks: Option<Arc<std::sync::atomic::AtomicU64>>,
    engine: Option<Arc<hydracore_runtime_container::ContainerRuntime>>,
}

impl hydracore_http::metrics::Gauges for ServerGauges {
    #[allow(
        clippy::cast_precision_loss,
        reason = "gauges are floats in Prometheus"
    )]
    fn read(&self) -> Vec<(&'static str, &'static str, f64)> {
        let (open, idle) = self.store.pool_status();
        vec![
            (
                "db_pool_connections",
                "Database connections open",
                open as f64,
            ),
            (
                "db_pool_idle_connections",
                "Database connections idle",
                idle as f64,
            ),
            (
                "mcp_call_log_backlog",
                "MCP call-log records waiting to be written",
                self.log.backlog() as f64,
            ),
            (
                "mcp_call_log_dropped",
                "MCP call-log records dropped since start (buffer full)",
                self.log.dropped() as f64,
            ),
            (
                "rate_limit_local_fallbacks",
                "Rate-limit decisions taken locally because Redis did not answer",
                self.fallbacks
                    .as_ref()
                    .map_or(0.0, |f| f.load(std::sync::atomic::Ordering::Relaxed) as f64),
            ),
            (
                "runtime_engine_calls",
                "Calls made to the container engine since start (0 without one)",
                self.engine
                    .as_ref()
                    .map_or(0.0, |e| e.engine_calls() as f64),
            ),
        ]
    }
}

/// A built, bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
    keys: KeyService,
}

/// Deletes what has expired (`Idempotency-Key` records, console sessions, audit
/// events and API key usage past their retention, OAuth tokens) at start and every ten minutes
/// after, for as long as the server runs (every node does; deleting twice is
/// harmless).
async fn sweep_expired(
    records: Arc<dyn hydracore_core::idempotency::IdempotencyStore>,
    identity: IdentityService,
    audit: AuditService,
    keys: KeyService,
    oauth: OAuthService,
    clock: SharedClock,
) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(600);
    let mut tick = actix_web::rt::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match records.sweep(clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "swept expired idempotency records"),
            Err(e) => tracing::warn!(error = %e, "could not sweep idempotency records; will retry"),
        }
        match identity.sweep_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "swept expired console sessions"),
            Err(e) => tracing::warn!(error = %e, "could not sweep console sessions; will retry"),
        }
        match audit.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "swept audit events past their retention"),
            Err(e) => tracing::warn!(error = %e, "could not sweep the audit log; will retry"),
        }
        match keys.sweep_usage().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "swept API key usage past its retention"),
            Err(e) => tracing::warn!(error = %e, "could not sweep API key usage; will retry"),
        }
        match oauth.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "swept expired OAuth tokens and revoked grants"),
            Err(e) => tracing::warn!(error = %e, "could not sweep OAuth tokens; will retry"),
        }
    }
}

/// Checks every running instance with the runtime every `every`, for as long as the
/// server runs (every node does; each change is a compare-and-set). The first pass runs
/// at start-up: a node re-attaches to the agents that ran on while it was down (their
/// containers are found by name and label), and marks `failed` those that ended.
async fn sweep_running(instances: InstanceService, every: std::time::Duration) {
    /// Instances asked about per store read (and per listing of the engine's
    /// containers).
    const BATCH: u32 = 500;
    let mut tick = actix_web::rt::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        tick.tick().await;
        let pass = instances.sweep(BATCH).await;
        if std::mem::take(&mut first)
            && let Ok(done) = &pass
        {
            tracing::info!(
                observed = done.observed,
                failed = done.failed,
                unreachable = done.unreachable,
                "re-attached to the running instances"
            );
            continue;
        }
        match pass {
            Ok(done) if done.failed > 0 || done.unreachable > 0 => tracing::info!(
                observed = done.observed,
                failed = done.failed,
                unreachable = done.unreachable,
                "swept running instances"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the runtime sweep failed; will retry"),
        }
    }
}

/// Runs the instance reconciler every `every`, for as long as the server runs.
async fn reconcile(instances: InstanceService, every: std::time::Duration, after: time::Duration) {
    /// Instances driven on per pass; a full batch runs the next pass at once.
    const BATCH: u32 = 100;
    let mut tick = actix_web::rt::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match instances.reconcile(after, BATCH).await {
                Ok(done) => {
                    if done.found > 0 {
                        tracing::info!(
                            found = done.found,
                            settled = done.settled,
                            failed = done.failed,
                            unreachable = done.unreachable,
                            "drove on instances left starting or stopping"
                        );
                    }
                    // Another pass only when this one was full and moved every one.
                    if done.found < BATCH as usize || done.settled + done.failed < done.found {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "instance reconciliation failed; will retry");
                    break;
                }
            }
        }
    }
}

impl Application {
    /// Opens the store (migrating it), composes the services on `clock` (the
    /// system clock, or a test's) and binds the socket.
    ///
    /// # Errors
    /// When the database cannot be opened or the address cannot be bound.
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        require_shared_secrets(&settings)?;
        let migrations = if settings.serve.no_migrate {
            hydracore_store::Migrations::Require
        } else {
            hydracore_store::Migrations::Apply
        };
        let store = Store::open_with(&settings.database_url, &settings.pool(), migrations)
            .await
            .with_context(|| {
                format!(
                    "opening the {} database",
                    settings.database_url.backend().as_str()
                )
            })?;
        let Composition {
            state,
            limiter_fallbacks,
            key_cache,
            engine,
        } = compose(&store, &settings, clock.clone()).await?;
        if store.backend() == hydracore_store::Backend::Postgres
            && settings.serve.key_cache_ttl_secs > 0
        {
            let keys = state.api.keys.clone();
            actix_web::rt::spawn(hydracore_store::listen_key_changes(
                settings.database_url.clone(),
                move |id| keys.forget(hydracore_keys::ApiKeyId(id)),
                move |live| key_cache.set_live(live),
            ));
        }
        let keys = state.api.keys.clone();
        let flusher = keys.clone();
        let every = std::time::Duration::from_millis(settings.serve.usage_flush_ms.max(10));
        actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(every).await;
                if let Err(e) = flusher.flush_usage().await {
                    tracing::warn!(error = %e, "could not record API key usage; will retry");
                }
            }
        });
        actix_web::rt::spawn(sweep_expired(
            state.idempotency.clone(),
            state.api.identity.clone(),
            state.api.audit.clone(),
            state.api.keys.clone(),
            state.api.oauth.clone(),
            state.clock.clone(),
        ));
        if settings.serve.runtime_sweep_secs > 0 {
            actix_web::rt::spawn(sweep_running(
                state.api.instances.clone(),
                std::time::Duration::from_secs(settings.serve.runtime_sweep_secs),
            ));
        }
        if settings.serve.reconcile_interval_secs > 0 {
            actix_web::rt::spawn(reconcile(
                state.api.instances.clone(),
                std::time::Duration::from_secs(settings.serve.reconcile_interval_secs),
                settings.serve.reconcile_after(),
            ));
        }
        let (log_writer, drain) = CallLogWriter::new(state.api.calls.clone());
        let log_writer_probe = log_writer.clone();
        actix_web::rt::spawn(drain);
        let openapi = hydracore_http::openapi();
        let mcp_services = McpServices {
            api: state.api.clone(),
            log: log_writer,
            clock,
        };
        let mcp = hydracore_mcp::service(mcp_services.clone(), &openapi);
        let mcp_hosts = hydracore_http::hosts::HostAllowList::new(
            settings
                .serve
                .mcp_allowed_hosts
                .iter()
                .map(|h| h.trim())
                .filter(|h| !h.is_empty()),
        );
        let spec = Bytes::from(hydracore_http::spec_json(&openapi));
        let metrics = actix_web::web::Data::new(hydracore_http::metrics::Metrics::new(Arc::new(
            ServerGauges {
                store: store.clone(),
                log: log_writer_probe,
                fallbacks: limiter_fallbacks,
                engine,
            },
        )));
        let console = hydracore_console::ConsoleState {
            api: state.api.clone(),
            auth: state.auth.clone(),
            public_url: settings.serve.public_url.as_str().into(),
            secure_cookies: settings.serve.public_url.starts_with("https://"),
            signup_enabled: settings.serve.signup_enabled,
            trusted_proxies: state.trusted_proxies.clone(),
            clock: state.clock.clone(),
            default_rate_limit: state.default_rate_limit,
        };
        let listener = TcpListener::bind(&settings.serve.bind)
            .with_context(|| format!("binding {}", settings.serve.bind))?;
        let port = listener.local_addr()?.port();
        // actix's own default: one worker per core.
        let workers = settings.serve.workers.map_or_else(
            || std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            |w| w.max(1),
        );
        store.share_among_workers(workers);
        let worker_store = store.clone();
        let server = HttpServer::new(move || {
            // The factory runs once on each worker's thread.
            if let Err(e) = worker_store.enter_worker() {
                tracing::warn!(error = %e, "this worker uses the shared connection pool");
            }
            hydracore_http::app(state.clone(), spec.clone(), metrics.clone())
                // Before `/mcp`: the console's `/mcp/call-log` page is not the MCP endpoint.
                .configure(hydracore_console::configure(console.clone()))
                // `/mcp` takes API keys and OAuth access tokens, and its 401 says
                // where to sign in; `/api-key/mcp` is the same server for clients that
                // must be kept from OAuth (they send a key; nothing is advertised).
                .service(
                    actix_web::web::scope("/mcp")
                        .wrap(actix_web::middleware::from_fn({
                            let services = mcp_services.clone();
                            move |req, next| hydracore_mcp::step_up(services.clone(), req, next)
                        }))
                        .wrap(actix_web::middleware::from_fn(
                            hydracore_http::authenticate_mcp,
                        ))
                        .wrap(actix_web::middleware::from_fn({
                            let hosts = mcp_hosts.clone();
                            move |req, next| hosts.clone().guard(req, next)
                        }))
                        .service(mcp.clone().scope()),
                )
                .service(
                    actix_web::web::scope("/api-key/mcp")
                        .wrap(actix_web::middleware::from_fn(hydracore_http::authenticate))
                        .wrap(actix_web::middleware::from_fn({
                            let hosts = mcp_hosts.clone();
                            move |req, next| hosts.clone().guard(req, next)
                        }))
                        .service(mcp.clone().scope()),
                )
                .wrap(actix_web::middleware::from_fn(
                    hydracore_http::metrics::record,
                ))
                .wrap(TracingLogger::<hydracore_http::span::RequestSpan>::new())
        })
        .listen(listener)?
        .client_request_timeout(settings.serve.client_timeout())
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .shutdown_timeout(settings.serve.shutdown_timeout_secs);
        let mut server = server.workers(workers);
        if !settings.handle_signals {
            server = server.disable_signals();
        }
        tracing::info!(port, backend = store.backend().as_str(), "listening");
        Ok(Self {
            server: server.run(),
            port,
            keys,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (a signal, or [`ServerHandle::stop`]).
    ///
    /// # Errors
    /// I/O failures of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Err(e) = self.keys.flush_usage().await {
            tracing::warn!(error = %e, "could not record API key usage at shutdown");
        }
        served
    }
}
