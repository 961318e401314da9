//! Key changes announced across nodes with PostgreSQL `NOTIFY`, and the listener that
//! hears them. On SQLite there is one node: nothing to announce.

use std::time::Duration;

use async_trait::async_trait;
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use hydracore_core::RepoError;
use hydracore_keys::{ApiKeyId, KeyEvents};
use uuid::Uuid;

use crate::{Backend, Store, db};

/// The channel key changes are announced on.
pub const CHANNEL: &str = "hydracore_keys";

#[async_trait]
impl KeyEvents for Store {
    async fn key_changed(&self, id: ApiKeyId) -> Result<(), RepoError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let sql = format!("NOTIFY {CHANNEL}, '{}'", id.0);
        db!(self, |conn, _s| {
            diesel::sql_query(sql.as_str())
                .execute(conn)
                .await
                .map(|_| ())
        })
    }
}

/// Listens on `url` for key changes for as long as the process runs: `forget` gets
/// each changed key's id; `live(true)` once listening, `live(false)` whenever the
/// connection is lost (reconnecting every second until it is back).
pub async fn listen_key_changes(url: String, forget: impl Fn(Uuid), live: impl Fn(bool)) {
    loop {
        match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
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
                    while let Some(payload) = rx.recv().await {
                        if let Ok(id) = Uuid::parse_str(&payload) {
                            forget(id);
                        }
                    }
                }
                driver.abort();
                tracing::warn!(
                    "lost the key-change feed: resolving every key from the database until it is back"
                );
                live(false);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for key changes; retrying");
                live(false);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
