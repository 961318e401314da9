//! The composition root: settings, telemetry, the one place that names concrete
//! adapters ([`Store`], [`RecordingRuntime`]) and wires them into the services the
//! HTTP adapter serves, and the `hydracore` command line.

pub mod cli;
pub mod settings;
pub mod telemetry;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::HttpServer;
use actix_web::dev::{Server, ServerHandle};
use actix_web::web::Bytes;
use anyhow::Context;
use hydracore_auth::Authenticator;
use hydracore_core::{SharedClock, SystemClock};
use hydracore_http::{AppState, Readiness};
use hydracore_instances::InstanceService;
use hydracore_instances::ports::RecordingRuntime;
use hydracore_keys::KeyService;
use hydracore_store::Store;
use hydracore_tenants::TenantService;
use tracing_actix_web::TracingLogger;

pub use settings::Settings;

struct StoreReadiness(Store);

impl Readiness for StoreReadiness {
    fn check(
        &self,
    ) -> futures_util::future::BoxFuture<'_, Result<(), Box<dyn std::error::Error + Send + Sync>>>
    {
        Box::pin(async move { self.0.ping().await.map_err(Into::into) })
    }
}

/// The services over one store.
pub fn compose(store: &Store, default_runtime_image: &str) -> AppState {
    let clock: SharedClock = Arc::new(SystemClock);
    let shared = Arc::new(store.clone());
    let keys = KeyService::new(shared.clone(), clock.clone());
    AppState {
        tenants: TenantService::new(shared.clone(), clock.clone()),
        keys: keys.clone(),
        instances: InstanceService::new(
            shared.clone(),
            shared,
            Arc::new(RecordingRuntime),
            clock,
            default_runtime_image.to_owned(),
        ),
        auth: Authenticator::new(keys),
        readiness: Arc::new(StoreReadiness(store.clone())),
    }
}

/// A built, bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
}

impl Application {
    /// Opens the store (migrating it), composes the services and binds the socket.
    ///
    /// # Errors
    /// When the database cannot be opened or the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = Store::open(&settings.database_url, &settings.pool())
            .await
            .with_context(|| {
                format!(
                    "opening the {} database",
                    hydracore_store::Backend::from_url(&settings.database_url).as_str()
                )
            })?;
        let state = compose(&store, &settings.serve.default_runtime_image);
        let spec = Bytes::from(hydracore_http::openapi_json());
        let listener = TcpListener::bind(&settings.serve.bind)
            .with_context(|| format!("binding {}", settings.serve.bind))?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || {
            hydracore_http::app(state.clone(), spec.clone()).wrap(TracingLogger::default())
        })
        .listen(listener)?
        .shutdown_timeout(30);
        if let Some(workers) = settings.serve.workers {
            server = server.workers(workers.max(1));
        }
        if !settings.handle_signals {
            server = server.disable_signals();
        }
        tracing::info!(port, backend = store.backend().as_str(), "listening");
        Ok(Self {
            server: server.run(),
            port,
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
        self.server.await
    }
}
