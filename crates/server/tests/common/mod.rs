//! What the real-binary tests share.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

/// Runs `test` with the URL of a fresh PostgreSQL database (named `prefix_…`), dropped
/// after; a skip, said so, when no server is configured (a failure under
/// `HYDRACORE_REQUIRE_PG=1`).
pub fn with_fresh_postgres(prefix: &str, test: impl FnOnce(&str)) {
    let Some(admin) = hydracore_core::testing::needs("TEST_DATABASE_URL", "HYDRACORE_REQUIRE_PG")
    else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let url = rt
        .block_on(hydracore_store::admin::create_database(&admin, &name))
        .unwrap();
    test(&url);
    rt.block_on(hydracore_store::admin::drop_database(&admin, &name))
        .unwrap();
}
