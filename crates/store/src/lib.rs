//! Diesel + diesel-async adapters for every HydraCore port, on PostgreSQL (production)
//! and SQLite (the embedded, zero-setup default).
//!
//! [`Store`] holds one pool and implements every repository port. Each query is
//! written once: [`db!`] expands its body once per backend with that backend's schema
//! module bound to one alias (see `schema`). Driver errors are translated here into
//! [`RepoError`]; `diesel::result::Error` never leaves this crate.
//!
//! This crate knows nothing of HTTP.

mod audit;
mod idempotency;
mod identity;
mod instances;
mod key_events;
mod keys;
mod mcp_creds;
mod mcp_log;
mod oauth;
mod schema;
mod sessions;
mod tenants;
pub mod tls;
mod types;
mod url;

pub mod admin;

use std::path::Path;
use std::time::Duration;

use diesel::ConnectionError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Pool as DeadPool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use hydracore_core::RepoError;

pub use key_events::listen_key_changes;
pub use types::{DbId, DbJson, DbTime};
pub use url::{Backend, DatabaseUrl, SslMode, UrlError};

pub(crate) type SqliteConn = SyncConnectionWrapper<diesel::SqliteConnection>;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Connections at most.
    pub max_size: usize,
    /// How long a request waits for a connection (and for a new one to open) before
    /// the store counts as unavailable.
    pub timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot build the connection pool")]
    Pool(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot connect to the database")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot create the data directory {0}")]
    DataDir(String, #[source] std::io::Error),
    #[error("migrations failed")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "the database has {0} pending migration(s) and --no-migrate is set: run `hydracore migrate` first"
    )]
    Pending(usize),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

enum Pool {
    Pg(DeadPool<AsyncPgConnection>),
    Sqlite(DeadPool<SqliteConn>),
}

/// One pool implementing every repository port.
#[derive(Clone)]
pub struct Store {
    pool: std::sync::Arc<Pool>,
    backend: Backend,
    /// How long one call may take on PostgreSQL, connection and query together.
    timeout: Duration,
    workers: std::sync::Arc<Workers>,
}

type PgPool = DeadPool<AsyncPgConnection>;

/// Builds a PostgreSQL pool of the given size, as the shared one was built.
type MakePool = Box<dyn Fn(usize) -> Result<PgPool, OpenError> + Send + Sync>;

/// PostgreSQL pools of the threads that run a runtime of their own (the HTTP
/// workers), see [`Store::share_among_workers`].
struct Workers {
    /// Tells this store's pools apart in a thread's list.
    id: usize,
    /// Connections each worker's pool holds at most (0: workers use the shared pool).
    each: std::sync::atomic::AtomicUsize,
    make: Option<MakePool>,
    /// Every worker's pool, for [`Store::pool_status`]; a pool goes with its thread.
    pools: std::sync::Mutex<Vec<std::sync::Weak<PgPool>>>,
}

thread_local! {
    /// This thread's own pool, per store (see [`Store::enter_worker`]).
    static LOCAL: std::cell::RefCell<Vec<(usize, std::sync::Arc<PgPool>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The calling thread's own pool of the store `id`, if it has one.
pub(crate) fn local_pool(id: usize) -> Option<std::sync::Arc<PgPool>> {
    LOCAL.with(|l| {
        l.borrow()
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| p.clone())
    })
}

/// Runs a query body once per backend. Inside `$body`, `$conn` is a pooled
/// connection and `$s` the backend's schema module; the body is an expression of
/// type `QueryResult<T>` (it may use `?` and `.await`). Evaluates to
/// `Result<T, RepoError>`.
///
/// On PostgreSQL the whole call (waiting for a connection and running the body) is
/// bounded by the pool timeout: a database that stops answering without closing the
/// connection (a partition) would otherwise hold the request until the kernel gives
/// up on the socket. A connection whose body timed out is dropped, not pooled again.
macro_rules! db {
    ($store:expr, |$conn:ident, $s:ident| $body:expr) => {
        match &*$store.pool {
            $crate::Pool::Pg(shared) => {
                #[allow(unused_imports)]
                use $crate::schema::pg as $s;
                let local = $crate::local_pool($store.workers.id);
                let pool = local.as_deref().unwrap_or(shared);
                let deadline = tokio::time::Instant::now() + $store.timeout;
                let mut pooled = tokio::time::timeout_at(deadline, pool.get())
                    .await
                    .map_err($crate::pool_error)?
                    .map_err($crate::pool_error)?;
                let result = {
                    let $conn = &mut *pooled;
                    tokio::time::timeout_at(deadline, async {
                        let result: diesel::QueryResult<_> = $body;
                        result
                    })
                    .await
                };
                match result {
                    Ok(result) => result.map_err($crate::query_error),
                    Err(elapsed) => {
                        drop(deadpool::managed::Object::take(pooled));
                        Err($crate::pool_error(elapsed))
                    }
                }
            }
            $crate::Pool::Sqlite(pool) => {
                #[allow(unused_imports)]
                use $crate::schema::sqlite as $s;
                let mut pooled = pool.get().await.map_err($crate::pool_error)?;
                let $conn = &mut *pooled;
                let result: diesel::QueryResult<_> = async { $body }.await;
                result.map_err($crate::query_error)
            }
        }
    };
}
pub(crate) use db;

/// Narrows a boxed query on `$table` (a schema module path with `created_at` and `id`
/// columns) to the rows after the page's key: `(created_at, id) > (after)`.
macro_rules! keyset {
    ($q:expr, $($table:ident)::+, $page:expr) => {
        match $page.after {
            Some(after) => {
                let (t, id) = ($crate::DbTime(after.created_at), $crate::DbId(after.id));
                // `created_at >= t` bounds the index range scan on
                // (tenant_id, created_at, id) so a page starts where the last one ended;
                // the `OR` alone would be a filter over every earlier row.
                $q.filter($($table)::+::created_at.ge(t)).filter(
                    $($table)::+::created_at
                        .gt(t)
                        .or($($table)::+::created_at.eq(t).and($($table)::+::id.gt(id))),
                )
            }
            None => $q,
        }
    };
}
pub(crate) use keyset;

/// The descending twin of [`keyset!`]: the rows before the page's key,
/// `(created_at, id) < (after)`, for lists read newest first.
macro_rules! keyset_before {
    ($q:expr, $($table:ident)::+, $page:expr) => {
        match $page.after {
            Some(after) => {
                let (t, id) = ($crate::DbTime(after.created_at), $crate::DbId(after.id));
                $q.filter($($table)::+::created_at.le(t)).filter(
                    $($table)::+::created_at
                        .lt(t)
                        .or($($table)::+::created_at.eq(t).and($($table)::+::id.lt(id))),
                )
            }
            None => $q,
        }
    };
}
pub(crate) use keyset_before;

pub(crate) fn pool_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> RepoError {
    RepoError::Unavailable(Box::new(e))
}

pub(crate) fn query_error(e: DieselError) -> RepoError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            RepoError::Duplicate {
                constraint: info
                    .constraint_name()
                    .map_or_else(|| info.message().to_owned(), str::to_owned),
            }
        }
        e if lost_connection(&e) => RepoError::Unavailable(Box::new(e)),
        other => RepoError::Unexpected(Box::new(other)),
    }
}

/// Whether `e` says the connection failed rather than the statement: closed, or a
/// driver error without a SQLSTATE (I/O, "connection closed"), also when it broke a
/// commit.
fn lost_connection(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        DieselError::RollbackErrorOnCommit { commit_error, .. } => lost_connection(commit_error),
        _ => false,
    }
}

/// A row that does not map back to the domain: the database holds something the
/// code never writes.
pub(crate) fn corrupt(what: impl Into<String>) -> RepoError {
    RepoError::Unexpected(what.into().into())
}

/// A deadpool pool over `$manager` with the timeouts of `$options`.
macro_rules! build_pool {
    ($manager:expr, $options:expr) => {
        DeadPool::builder($manager)
            .max_size($options.max_size)
            .wait_timeout(Some($options.timeout))
            .create_timeout(Some($options.timeout))
            .recycle_timeout(Some($options.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| OpenError::Pool(Box::new(e)))
    };
}

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

/// The advisory lock every node takes around its migrations on PostgreSQL, so nodes
/// started at once on a fresh database migrate one after the other ("hcmigrat" as an
/// integer).
const MIGRATION_LOCK: i64 = 0x6863_6d69_6772_6174;

/// Whether pending migrations are applied when the store opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrations {
    /// Apply them (under the migration lock on PostgreSQL).
    Apply,
    /// Apply none; refuse to open a database that has some pending (`serve
    /// --no-migrate`, while `hydracore migrate` runs once per release).
    Require,
}

impl Store {
    /// Opens the database named by `url`, creating a SQLite file (and its directory)
    /// when needed, and applies pending migrations.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated.
    pub async fn open(url: &DatabaseUrl, options: &PoolOptions) -> Result<Self, OpenError> {
        Self::open_with(url, options, Migrations::Apply).await
    }

    /// [`Store::open`], applying migrations or requiring that none is pending.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or (`Require`) has pending
    /// migrations.
    pub async fn open_with(
        url: &DatabaseUrl,
        options: &PoolOptions,
        migrations: Migrations,
    ) -> Result<Self, OpenError> {
        let backend = url.backend();
        if backend == Backend::Sqlite {
            prepare_sqlite_file(url.sqlite_path())?;
        }
        let tls = tls::client_config(url)?;
        migrate(url, tls.clone(), migrations).await?;
        let sqlite_path = url.sqlite_path().to_owned();
        let url = url.driver_url();
        let mut make: Option<MakePool> = None;
        let pool = match backend {
            Backend::Postgres => {
                let (opts, url) = (options.clone(), url.to_owned());
                let build: MakePool = Box::new(move |max_size| {
                    let mut config = ManagerConfig::default();
                    config.recycling_method = RecyclingMethod::Fast;
                    if let Some(tls) = tls.clone() {
                        config.custom_setup = Box::new(move |url| {
                            let (url, tls) = (url.to_owned(), tls.clone());
                            Box::pin(async move { tls::connect(&url, Some(&tls)).await })
                        });
                    }
                    let manager =
                        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
                            url.clone(),
                            config,
                        );
                    let opts = PoolOptions {
                        max_size,
                        ..opts.clone()
                    };
                    build_pool!(manager, opts)
                });
                let shared = build(options.max_size)?;
                make = Some(build);
                Pool::Pg(shared)
            }
            Backend::Sqlite => {
                let mut config = ManagerConfig::<SqliteConn>::default();
                config.recycling_method = RecyclingMethod::Fast;
                // A SQLite connection runs its blocking calls on the runtime it was
                // opened on. Open every one on this long-lived runtime, not on the
                // HTTP worker that happened to ask: a worker's runtime ends with the
                // worker, and on a graceful stop an idle worker ends at once while
                // the others finish requests that may hold its connections.
                let runtime = tokio::runtime::Handle::current();
                config.custom_setup = Box::new(move |url| {
                    let url = url.to_owned();
                    let opened = runtime.spawn(async move {
                        let mut conn = SqliteConn::establish(&url).await?;
                        conn.batch_execute(SQLITE_PRAGMAS)
                            .await
                            .map_err(ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    });
                    Box::pin(async move {
                        opened
                            .await
                            .map_err(|e| ConnectionError::BadConnection(e.to_string()))?
                    })
                });
                let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(
                    sqlite_path,
                    config,
                );
                Pool::Sqlite(build_pool!(manager, options)?)
            }
        };
        static IDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let store = Self {
            pool: std::sync::Arc::new(pool),
            backend,
            timeout: options.timeout,
            workers: std::sync::Arc::new(Workers {
                id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                each: std::sync::atomic::AtomicUsize::new(0),
                make,
                pools: std::sync::Mutex::new(Vec::new()),
            }),
        };
        store
            .ping()
            .await
            .map_err(|e| OpenError::Connect(Box::new(e)))?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// One round trip to the database.
    ///
    /// # Errors
    /// `Unavailable` when it cannot be reached.
    pub async fn ping(&self) -> Result<(), RepoError> {
        db!(self, |conn, _s| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .await
                .map(|_| ())
        })
        .map_err(|e| match e {
            RepoError::Unexpected(src) => RepoError::Unavailable(src),
            other => other,
        })
    }

    /// Splits the pool's connections between `workers` threads that each run a
    /// single-threaded runtime of their own (the HTTP workers) and a shared pool for
    /// every other thread (background tasks). A PostgreSQL connection is driven by a
    /// task on the runtime that opened it; a worker that used a connection opened on
    /// another thread would wake that thread twice per query (to send and to receive).
    /// With its own pool, opened on its own thread, a worker's queries stay on it.
    ///
    /// The shared pool keeps an eighth of the connections (at least one); the workers
    /// share the rest, so the node never holds more than the pool's size. Nothing
    /// changes on SQLite, or when there are too few connections to give each worker
    /// one. Call before the workers start; each calls [`Store::enter_worker`].
    pub fn share_among_workers(&self, workers: usize) {
        let Pool::Pg(shared) = &*self.pool else {
            return;
        };
        let max = shared.status().max_size;
        let reserve = (max / 8).max(1);
        if workers == 0 || max < reserve + workers {
            return;
        }
        shared.resize(reserve);
        self.workers.each.store(
            (max - reserve) / workers,
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// Gives the calling thread its own pool (see [`Store::share_among_workers`]); a
    /// no-op when the pool is not shared among workers or the thread has one.
    ///
    /// # Errors
    /// When the pool cannot be built.
    pub fn enter_worker(&self) -> Result<(), OpenError> {
        let each = std::sync::atomic::AtomicUsize::load(
            &self.workers.each,
            std::sync::atomic::Ordering::SeqCst,
        );
        let Some(make) = self.workers.make.as_ref().filter(|_| each > 0) else {
            return Ok(());
        };
        if local_pool(self.workers.id).is_some() {
            return Ok(());
        }
        let pool = std::sync::Arc::new(make(each)?);
        if let Ok(mut pools) = self.workers.pools.lock() {
            pools.retain(|p| p.strong_count() > 0);
            pools.push(std::sync::Arc::downgrade(&pool));
        }
        LOCAL.with(|l| l.borrow_mut().push((self.workers.id, pool)));
        Ok(())
    }

    /// Connections open and idle, for metrics (every worker's pool included).
    pub fn pool_status(&self) -> (usize, usize) {
        let status = match &*self.pool {
            Pool::Pg(p) => p.status(),
            Pool::Sqlite(p) => p.status(),
        };
        let (mut size, mut available) = (status.size, status.available);
        if let Ok(pools) = self.workers.pools.lock() {
            for pool in pools.iter().filter_map(std::sync::Weak::upgrade) {
                let s = pool.status();
                size += s.size;
                available += s.available;
            }
        }
        (size, available)
    }
}

/// Creates the directory of a new SQLite file (mode 0700) and the file itself (mode
/// 0600) before SQLite opens it: SQLite would create it readable by everyone (0644
/// under the usual umask), and gives its `-wal` and `-shm` files the mode of the
/// database file.
fn prepare_sqlite_file(path: &str) -> Result<(), OpenError> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let path = Path::new(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| OpenError::DataDir(dir.display().to_string(), e))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(OpenError::DataDir(path.display().to_string(), e)),
    }
}

/// Applies (or, with `Require`, checks for) pending migrations, on a thread of its
/// own: the migration harness is synchronous and must not block (or nest inside) the
/// caller's runtime. On PostgreSQL the run holds an advisory lock, so nodes started at
/// once migrate one at a time and the later ones find nothing left to do.
async fn migrate(
    url: &DatabaseUrl,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    migrations: Migrations,
) -> Result<(), OpenError> {
    use diesel::Connection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    fn run<C: MigrationHarness<B>, B: diesel::backend::Backend>(
        conn: &mut C,
        source: EmbeddedMigrations,
        migrations: Migrations,
    ) -> Result<(), OpenError> {
        match migrations {
            Migrations::Apply => conn
                .run_pending_migrations(source)
                .map(|_| ())
                .map_err(OpenError::Migrate),
            Migrations::Require => match conn.pending_migrations(source) {
                Ok(pending) if pending.is_empty() => Ok(()),
                Ok(pending) => Err(OpenError::Pending(pending.len())),
                Err(e) => Err(OpenError::Migrate(e)),
            },
        }
    }
    let url = url.clone();
    let worker = std::thread::spawn(move || -> Result<(), OpenError> {
        match url.backend() {
            Backend::Postgres => {
                // The harness is synchronous; the connection (TLS or not) is made and
                // driven on a small runtime of this thread's own.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| OpenError::Migrate(Box::new(e)))?;
                let async_conn = runtime
                    .block_on(tls::connect(url.driver_url(), tls.as_ref()))
                    .map_err(|e| OpenError::Connect(Box::new(e)))?;
                let _entered = runtime.enter();
                let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(async_conn);
                let lock = |conn: &mut AsyncConnectionWrapper<AsyncPgConnection>, sql: &str| {
                    diesel::RunQueryDsl::execute(
                        diesel::sql_query(sql).bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK),
                        conn,
                    )
                    .map(|_| ())
                    .map_err(|e| OpenError::Migrate(Box::new(e)))
                };
                if migrations == Migrations::Require {
                    return run(&mut conn, PG_MIGRATIONS, migrations);
                }
                lock(&mut conn, "SELECT pg_advisory_lock($1)")?;
                let outcome = run(&mut conn, PG_MIGRATIONS, migrations);
                // Closing the connection would release the lock too.
                let unlocked = lock(&mut conn, "SELECT pg_advisory_unlock($1)");
                outcome.and(unlocked)
            }
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(url.sqlite_path())
                    .map_err(|e| OpenError::Connect(Box::new(e)))?;
                diesel::RunQueryDsl::execute(
                    diesel::sql_query("PRAGMA journal_mode = WAL"),
                    &mut conn,
                )
                .map_err(|e| OpenError::Migrate(Box::new(e)))?;
                run(&mut conn, SQLITE_MIGRATIONS, migrations)
            }
        }
    });
    tokio::task::spawn_blocking(move || worker.join())
        .await
        .map_err(|e| OpenError::Migrate(Box::new(e)))?
        .map_err(|_| OpenError::Migrate("the migration thread panicked".into()))?
}
