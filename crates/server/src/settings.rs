//! Configuration: command-line flags, each with an environment variable and a default.

use std::time::Duration;

use clap::{Args, FromArgMatches, Parser, Subcommand};
use hydracore_auth::SignInLimits;
use hydracore_instances::ImageReference;
use hydracore_keys::RateLimit;
use hydracore_store::{DatabaseUrl, PoolOptions};

/// A setting that holds a secret: its `Debug` never shows it, so printing the settings
/// (or an error that carries them) cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// The default database: a SQLite file under `./data/`, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/hydracore.db";
/// The image new instances run while no image is promoted to `stable`.
pub const DEFAULT_RUNTIME_IMAGE: &str = "ghcr.io/hydracore/agent-runtime:latest";

/// HydraCore: the control plane of an agent platform.
///
/// Without a command it serves, taking the flags of `serve`.
#[derive(Debug, Parser)]
#[command(
    name = "hydracore",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The database a command works on.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `postgres://…`, `postgresql://…` or `sqlite://PATH`; anything else is refused.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: Secret,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage tenants without HTTP (bootstrap).
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage API keys without HTTP (bootstrap).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Ask a running server whether it is alive (a container's health check): exits 0
    /// when `--url` answers 200 within three seconds, 1 otherwise.
    Healthcheck {
        /// What to ask.
        #[arg(long, default_value = "http://127.0.0.1:8000/healthz")]
        url: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant; prints it as JSON.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The tenant's name: 1 to 128 characters.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Mint an API key for a tenant; prints it, plaintext `key` included, as JSON.
    Mint {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The tenant's id.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// The key's name, to tell it apart in listings: 1 to 100 characters.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, e.g. `instances:*,api-keys:*`.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
    },
}

/// Flags of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HYDRACORE_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "HYDRACORE_WORKERS")]
    pub workers: Option<usize>,
    /// The image new instances run while none is promoted to `stable`.
    #[arg(long, env = "HYDRACORE_DEFAULT_RUNTIME_IMAGE", default_value = DEFAULT_RUNTIME_IMAGE, value_parser = image_reference)]
    pub default_runtime_image: ImageReference,
    /// Database connections at most.
    #[arg(long, env = "HYDRACORE_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// How long one database call may take, in milliseconds: waiting for a pooled
    /// connection and, on PostgreSQL, running the statement too. Past it: 503.
    #[arg(long, env = "HYDRACORE_DB_TIMEOUT_MS", default_value_t = 5000)]
    pub db_timeout_ms: u64,
    /// How long a client may take to send a request's head, and then its body, in
    /// milliseconds. A slower one is answered 408 and disconnected.
    #[arg(long, env = "HYDRACORE_CLIENT_TIMEOUT_MS", default_value_t = 5000)]
    pub client_timeout_ms: u64,
    /// How long an `Idempotency-Key` stays claimed by a request that has not answered,
    /// in seconds. Past it the claim counts as abandoned (its node died, or lost its
    /// database before it could answer) and a retry runs. Keep it above the longest
    /// request: a few times `db_timeout_ms`.
    #[arg(long, env = "HYDRACORE_IDEMPOTENCY_LEASE_SECS", default_value_t = 60)]
    pub idempotency_lease_secs: u64,
    /// Serve without applying migrations, refusing to start while any is pending (run
    /// `hydracore migrate` once per release instead).
    #[arg(long, env = "HYDRACORE_NO_MIGRATE")]
    pub no_migrate: bool,
    /// How long a stopping server lets in-flight requests finish, in seconds.
    #[arg(long, env = "HYDRACORE_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,
    /// The key that signs access tokens (at least 32 bytes), the same on every node.
    /// Required on PostgreSQL; on SQLite, unset means a key file `jwt.key` in the data
    /// directory, created once (mode 0600).
    #[arg(long, env = "HYDRACORE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "HYDRACORE_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u32,
    /// The server as people and clients reach it (scheme, host, port; behind a proxy,
    /// the proxy's). The console's snippets name it, and its cookies are `Secure` when
    /// it is https.
    #[arg(long, env = "HYDRACORE_PUBLIC_URL", default_value = "http://127.0.0.1:8000", value_parser = public_url)]
    pub public_url: String,
    /// Lifetime of an OAuth access token for `/mcp`, in seconds.
    #[arg(long, env = "HYDRACORE_OAUTH_ACCESS_TOKEN_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u32).range(60..=86_400))]
    pub oauth_access_token_secs: u32,
    /// Lifetime of an OAuth refresh token, in days (each refresh issues a new one).
    #[arg(long, env = "HYDRACORE_OAUTH_REFRESH_TOKEN_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub oauth_refresh_token_days: u32,
    /// A PEM file of CA certificates trusted, instead of the public web's roots, when
    /// fetching OAuth client metadata documents (a private deployment's, or a test's).
    #[arg(long, env = "HYDRACORE_OAUTH_CLIENT_DOCUMENT_CA")]
    pub oauth_client_document_ca: Option<std::path::PathBuf>,
    /// Lets OAuth client metadata documents be fetched from private and loopback
    /// addresses. For tests only: it lets anyone who can start a sign-in make the
    /// server fetch from its own network.
    #[arg(long, env = "HYDRACORE_OAUTH_CLIENT_DOCUMENTS_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub oauth_client_documents_allow_private: bool,
    /// How many days audit events are kept; older ones are deleted (every ten minutes).
    #[arg(long, env = "HYDRACORE_AUDIT_RETENTION_DAYS", default_value_t = hydracore_audit::DEFAULT_RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub audit_retention_days: u32,
    /// How long a console sign-in lasts, in hours.
    #[arg(long, env = "HYDRACORE_SESSION_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub session_hours: u32,
    /// Whether `POST /auth/signup` (and the console's sign-up) is open.
    #[arg(long, env = "HYDRACORE_SIGNUP_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub signup_enabled: bool,
    /// Where generated key files live (`jwt.key`, `mcp-creds.key`). Default: the
    /// SQLite database's directory, or `./data` on PostgreSQL.
    #[arg(long, env = "HYDRACORE_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// The AES-256-GCM key sealing MCP credential secrets and idempotent replays: 64
    /// hex characters, the same on every node. Required on PostgreSQL; on SQLite, unset
    /// means a key file `mcp-creds.key` in the data directory, created once (mode 0600).
    #[arg(long, env = "HYDRACORE_MCP_CREDS_KEY", hide_env_values = true)]
    pub mcp_creds_key: Option<Secret>,
    /// The id recorded with each secret sealed by that key (for rotation).
    #[arg(long, env = "HYDRACORE_MCP_CREDS_KEY_ID", default_value = "k1")]
    pub mcp_creds_key_id: String,
    /// Retired keys that still open older secrets: `id:hex,id:hex`.
    #[arg(long, env = "HYDRACORE_MCP_CREDS_OLD_KEYS", hide_env_values = true)]
    pub mcp_creds_old_keys: Option<Secret>,
    /// Host names `/mcp` answers to (DNS-rebinding protection), comma-separated; a bare
    /// name matches any port. Empty turns the check off (behind a proxy that checks).
    #[arg(
        long,
        env = "HYDRACORE_MCP_ALLOWED_HOSTS",
        default_value = "localhost,127.0.0.1,::1",
        value_delimiter = ','
    )]
    pub mcp_allowed_hosts: Vec<String>,
    /// The operator's bearer token for `/internal/v1` (at least 32 characters).
    /// Unset: that surface is closed (every request 401).
    #[arg(long, env = "HYDRACORE_OPS_TOKEN", hide_env_values = true)]
    pub ops_token: Option<Secret>,
    /// Requests per window for API keys without a limit of their own.
    #[arg(
        long,
        env = "HYDRACORE_RATE_LIMIT_REQUESTS",
        default_value_t = RateLimit::DEFAULT.requests
    )]
    pub rate_limit_requests: u32,
    /// The window of that default, in seconds.
    #[arg(
        long,
        env = "HYDRACORE_RATE_LIMIT_PER_SECONDS",
        default_value_t = RateLimit::DEFAULT.per_seconds
    )]
    pub rate_limit_per_seconds: u32,
    /// Sign-in attempts (sign-in, sign-up) naming one e-mail: `attempts/seconds`.
    #[arg(long, env = "HYDRACORE_SIGNIN_LIMIT_PER_EMAIL", default_value_t = SignInLimits::DEFAULT.per_email, value_parser = budget)]
    pub signin_limit_per_email: RateLimit,
    /// Sign-in attempts (sign-in, sign-up, refresh) from one client address:
    /// `attempts/seconds`.
    #[arg(long, env = "HYDRACORE_SIGNIN_LIMIT_PER_ADDRESS", default_value_t = SignInLimits::DEFAULT.per_address, value_parser = budget)]
    pub signin_limit_per_address: RateLimit,
    /// Proxies in front of the server (addresses or networks, comma-separated) whose
    /// `X-Forwarded-For` names the client. Empty: the peer is the client.
    #[arg(
        long,
        env = "HYDRACORE_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = proxy
    )]
    pub trusted_proxies: Vec<String>,
    /// How many tenants one user may own (`POST /v1/tenants` past it is 403).
    #[arg(
        long,
        env = "HYDRACORE_MAX_TENANTS_PER_USER",
        default_value_t = hydracore_tenants::DEFAULT_MAX_OWNED_TENANTS
    )]
    pub max_tenants_per_user: usize,
    /// Redis shared by every node for rate-limit budgets. Unset: budgets live in
    /// this process (right for one node).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// How long a resolved API key may be served from this node's cache, in seconds
    /// (0: no cache). Changes drop it at once, on every node (PostgreSQL NOTIFY).
    #[arg(long, env = "HYDRACORE_KEY_CACHE_TTL_SECS", default_value_t = 30)]
    pub key_cache_ttl_secs: u64,
    /// How often the API keys' `last_used_at` and request counts are written, in
    /// milliseconds.
    #[arg(long, env = "HYDRACORE_USAGE_FLUSH_MS", default_value_t = 10_000)]
    pub usage_flush_ms: u64,
    /// How many days each API key's hourly request counts are kept (1 to 3650).
    #[arg(long, env = "HYDRACORE_USAGE_RETENTION_DAYS", default_value_t = hydracore_keys::DEFAULT_USAGE_RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub usage_retention_days: u32,
    /// How often the instance reconciler runs, in seconds (0: never). It drives on
    /// instances left `starting` or `stopping` by a request that died half-way.
    #[arg(long, env = "HYDRACORE_RECONCILE_INTERVAL_SECS", default_value_t = 15)]
    pub reconcile_interval_secs: u64,
    /// How long an instance may stay `starting` or `stopping` before the reconciler
    /// takes it over, in seconds. Keep it above the longest request.
    #[arg(long, env = "HYDRACORE_RECONCILE_AFTER_SECS", default_value_t = 60)]
    pub reconcile_after_secs: u64,
    /// How often every `running` instance is checked with the runtime, in seconds (0:
    /// never): one that died behind the server's back becomes `failed` with the
    /// runtime's reason.
    #[arg(long, env = "HYDRACORE_RUNTIME_SWEEP_SECS", default_value_t = 60)]
    pub runtime_sweep_secs: u64,
    /// What runs instances: `recording` (records each transition, runs nothing: the
    /// zero-setup default) or `container` (one container per instance through the
    /// Docker Engine API of Docker or Podman, at `DOCKER_HOST`).
    #[arg(long, env = "HYDRACORE_RUNTIME", default_value = "recording", value_parser = ["recording", "container"])]
    pub runtime: String,
    /// The container engine's API (with `HYDRACORE_RUNTIME=container`):
    /// `unix:///path/to.sock` or `tcp://host:port`.
    #[arg(
        long,
        env = "DOCKER_HOST",
        default_value = "unix:///var/run/docker.sock"
    )]
    pub docker_host: String,
}

/// `attempts/seconds` (`10/300`), within the bounds of a rate limit.
fn budget(s: &str) -> Result<RateLimit, String> {
    let bad = || format!("'{s}' is not attempts/seconds (for example 10/300)");
    let (n, per) = s.trim().split_once('/').ok_or_else(bad)?;
    let n = n.trim().parse().map_err(|_| bad())?;
    let per = per.trim().parse().map_err(|_| bad())?;
    RateLimit::new(n, per).map_err(|e| e.message)
}

/// An image reference, checked as instances' are.
fn image_reference(s: &str) -> Result<ImageReference, String> {
    ImageReference::parse(s).map_err(|e| e.message)
}

/// An http or https URL without a path beyond `/`, kept without its trailing slash.
fn public_url(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| format!("'{s}' is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "'{s}' must be scheme://host[:port] only (https://hydracore.example.com)"
        ));
    }
    Ok(t.to_owned())
}

/// One trusted proxy entry, checked.
fn proxy(s: &str) -> Result<String, String> {
    hydracore_api::TrustedProxies::parse([s])
        .map(|_| s.trim().to_owned())
        .map_err(|e| e.to_string())
}

impl ServeArgs {
    /// [`ServeArgs::client_timeout_ms`] as a duration (at least 100 ms).
    pub fn client_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.client_timeout_ms.max(100))
    }

    /// [`ServeArgs::session_hours`] as a duration.
    pub fn session_ttl(&self) -> time::Duration {
        time::Duration::hours(i64::from(self.session_hours))
    }

    /// [`ServeArgs::idempotency_lease_secs`] as a duration (at least 1 s).
    pub fn idempotency_lease(&self) -> time::Duration {
        secs(self.idempotency_lease_secs.max(1))
    }

    /// [`ServeArgs::reconcile_after_secs`] as a duration.
    pub fn reconcile_after(&self) -> time::Duration {
        secs(self.reconcile_after_secs)
    }
}

fn secs(n: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The defaults are the flags' own, read from their declarations (environment
/// ignored), so they are written once.
impl Default for ServeArgs {
    fn default() -> Self {
        let flags = Self::augment_args(clap::Command::new("defaults")).mut_args(|a| a.env(None));
        flags
            .try_get_matches_from(["defaults"])
            .and_then(|m| Self::from_arg_matches(&m))
            .expect("every serve flag has a default or is optional")
    }
}

/// Everything the application needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub serve: ServeArgs,
    /// Stop gracefully on SIGINT/SIGTERM (off for servers embedded in tests).
    pub handle_signals: bool,
}

impl Settings {
    /// Where generated key files live.
    pub fn data_dir(&self) -> std::path::PathBuf {
        if let Some(dir) = &self.serve.data_dir {
            return dir.clone();
        }
        if self.database_url.backend() == hydracore_store::Backend::Sqlite {
            let db = std::path::Path::new(self.database_url.sqlite_path());
            if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
                return dir.to_path_buf();
            }
            return std::path::PathBuf::from(".");
        }
        std::path::PathBuf::from("data")
    }

    pub fn pool(&self) -> PoolOptions {
        PoolOptions {
            max_size: self.serve.db_pool_size.max(1),
            timeout: Duration::from_millis(self.serve.db_timeout_ms.max(1)),
        }
    }
}
