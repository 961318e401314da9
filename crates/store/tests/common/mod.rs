//! What the store's PostgreSQL tests share.

use hydracore_store::{DatabaseUrl, PoolOptions, Store, admin};

/// A fresh database `<prefix>_<uuid>` on the server of `admin_url`, and the store
/// opened on it with a pool of `max_size`: its name, its URL and the store. The test
/// drops it (`admin::drop_database`) when done.
pub async fn fresh_postgres(
    admin_url: &str,
    prefix: &str,
    max_size: usize,
) -> (String, String, Store) {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let url = admin::create_database(admin_url, &name)
        .await
        .expect("create test database");
    let store = Store::open(
        &DatabaseUrl::parse(&url).expect("postgres URL"),
        &PoolOptions {
            max_size,
            ..PoolOptions::default()
        },
    )
    .await
    .expect("open postgres");
    (name, url, store)
}
