//! The `hydracore` command line.

use anyhow::Context;
use clap::Parser;
use hydracore_keys::{Grantor, KeyService, MintKey};
use hydracore_store::{DatabaseUrl, Store};
use hydracore_tenants::{TenantId, TenantService};
use serde_json::json;

use crate::settings::{Cli, Command, DatabaseArgs, KeysCommand, ServeArgs, TenantsCommand};
use crate::{Application, Settings, telemetry};

/// Parses the command line and runs it.
///
/// # Errors
/// Whatever the command fails with.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    let blocking = match &cli.command {
        Some(Command::Serve { serve, .. }) => serve.as_ref(),
        _ => &cli.serve,
    }
    .db_pool_size
    .max(1)
        + 4;
    actix_web::rt::System::with_tokio_rt(move || {
        // SQLite connections run their calls on this runtime's blocking pool, one call
        // at a time each. With tokio's defaults (up to 512 threads, idle ones ending
        // after 10 s) steady load kept ending and starting threads, and every new one
        // left stack and allocator memory behind: RSS crept up for as long as the load
        // lasted. A bounded pool of long-lived threads holds it flat.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(blocking)
            .thread_keep_alive(std::time::Duration::from_secs(600))
            .build()
            .expect("the main runtime")
    })
    .block_on(execute(cli))
}

fn print(value: &serde_json::Value) {
    println!("{value}");
}

async fn open(database: &DatabaseArgs) -> anyhow::Result<Store> {
    let database_url = DatabaseUrl::parse(database.database_url.expose())?;
    Store::open(
        &database_url,
        &Settings {
            database_url: database_url.clone(),
            serve: ServeArgs::default(),
            handle_signals: false,
        }
        .pool(),
    )
    .await
    .context("opening the database")
}

/// `GET url`, which must answer 200 within three seconds.
fn healthcheck(url: &str) -> anyhow::Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(3)))
        .http_status_as_error(false)
        .build()
        .into();
    let status = agent
        .get(url)
        .call()
        .with_context(|| format!("asking {url}"))?
        .status();
    anyhow::ensure!(status == 200, "{url} answered {status}");
    Ok(())
}

async fn execute(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve {
        database: cli.database,
        serve: Box::new(cli.serve),
    });
    match command {
        Command::Openapi => {
            print!("{}", hydracore_http::openapi_json());
            Ok(())
        }
        Command::Healthcheck { url } => healthcheck(&url),
        Command::Serve { database, serve } => {
            let app = Application::build(
                Settings {
                    database_url: DatabaseUrl::parse(database.database_url.expose())?,
                    serve: *serve,
                    handle_signals: true,
                },
                std::sync::Arc::new(hydracore_core::SystemClock),
            )
            .await?;
            app.run_until_stopped().await.context("serving")
        }
        Command::Migrate(database) => {
            open(&database).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Tenants(TenantsCommand::Create { database, name }) => {
            let store = open(&database).await?;
            let tenants = TenantService::new(
                std::sync::Arc::new(store),
                std::sync::Arc::new(hydracore_core::SystemClock),
            );
            let tenant = tenants
                .create(&hydracore_core::audit::Who::ops(), &name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(&json!({
                "id": tenant.id.0,
                "name": tenant.name.as_str(),
                "created_at": hydracore_api::Timestamp(tenant.created_at),
            }));
            Ok(())
        }
        Command::Keys(KeysCommand::Mint {
            database,
            tenant,
            name,
            scopes,
        }) => {
            let store = std::sync::Arc::new(open(&database).await?);
            let clock = std::sync::Arc::new(hydracore_core::SystemClock);
            let tenant = TenantService::new(store.clone(), clock.clone())
                .get(TenantId(tenant))
                .await
                .map_err(|e| anyhow::anyhow!("tenant {tenant}: {e}"))?;
            let minted = KeyService::new(store, clock)
                .mint(
                    tenant.id,
                    Grantor::Operator,
                    &hydracore_core::audit::Who::ops(),
                    MintKey {
                        name,
                        scopes,
                        ..MintKey::default()
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = serde_json::to_value(hydracore_api::ApiKeyDto::from(minted.key))?;
            if let Some(obj) = out.as_object_mut() {
                obj.insert("key".into(), json!(minted.secret.expose()));
                obj.insert("tenant_id".into(), json!(tenant.id.0));
            }
            print(&out);
            Ok(())
        }
    }
}
