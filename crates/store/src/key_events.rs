//! Key changes announced across nodes with PostgreSQL `NOTIFY`, and the listener that
//! hears them. Each change is announced by `pg_notify` inside its own transaction
//! (`schema::pg::announce_key`), so it is heard if and only if it committed. On SQLite
//! there is one node: nothing to announce.

use std::time::Duration;

use futures_util::StreamExt;
use uuid::Uuid;

use crate::DatabaseUrl;

/// The channel key changes are announced on.
pub const CHANNEL: &str = "hydracore_keys";

/// How often the listening connection proves it is alive, and how long it may take.
const HEARTBEAT: Duration = Duration::from_secs(5);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// Listens on `url` for key changes for as long as the process runs: `forget` gets
/// each changed key's id; `live(true)` once listening, `live(false)` whenever the
/// connection is lost (reconnecting every second until it is back). A connection that
/// goes silent without closing (a partition, a middlebox dropping idle flows) is
/// found by a heartbeat query every 5 s that must answer within 2 s, so a node never
/// trusts a feed that may be missing changes for longer than that. The connection is
/// protected as `url`'s `sslmode` asks, like the pool's.
pub async fn listen_key_changes(url: DatabaseUrl, forget: impl Fn(Uuid), live: impl Fn(bool)) {
    let tls = match crate::tls::client_config(&url) {
        Ok(tls) => tls,
        Err(e) => {
            // The pool was opened with the same settings, so this cannot happen.
            tracing::error!(error = %e, "cannot listen for key changes");
            return;
        }
    };
    loop {
        let fed = match &tls {
            Some(config) => {
                let connector = tokio_postgres_rustls::MakeRustlsConnect::new((**config).clone());
                match tokio_postgres::connect(url.driver_url(), connector).await {
                    Ok((client, connection)) => {
                        feed(client, connection, &forget, &live).await;
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            None => match tokio_postgres::connect(url.driver_url(), tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    feed(client, connection, &forget, &live).await;
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        match fed {
            Ok(()) => tracing::warn!(
                "lost the key-change feed: resolving every key from the database until it is back"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot listen for key changes; retrying"),
        }
        live(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Listens on one connection until it is lost or goes silent.
async fn feed<S, T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
    forget: &impl Fn(Uuid),
    live: &impl Fn(bool),
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    if client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .is_ok()
    {
        live(true);
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                payload = rx.recv() => match payload {
                    Some(payload) => {
                        if let Ok(id) = Uuid::parse_str(&payload) {
                            forget(id);
                        }
                    }
                    None => break,
                },
                _ = beat.tick() => {
                    let answer = tokio::time::timeout(
                        HEARTBEAT_TIMEOUT,
                        client.simple_query("SELECT 1"),
                    )
                    .await;
                    if !matches!(answer, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
    }
    driver.abort();
}
