//! The port contract suite against both adapters: SQLite on a fresh file per case,
//! PostgreSQL on a fresh database per case (when `TEST_DATABASE_URL` is set).

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

mod common;

use std::path::PathBuf;

use hydracore_store::{DatabaseUrl, PoolOptions, Store, admin};
use hydracore_store_contract::{Harness, Ports, contract_tests};

struct SqliteHarness(PathBuf);

impl Harness for SqliteHarness {
    async fn setup() -> Option<(Self, Ports)> {
        let path = std::env::temp_dir().join(format!("hc-contract-{}.db", uuid::Uuid::new_v4()));
        let store = Store::open(
            &DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("sqlite URL"),
            &PoolOptions::default(),
        )
        .await
        .expect("open sqlite");
        Some((SqliteHarness(path), Ports::of(store)))
    }

    async fn teardown(self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

struct PgHarness {
    admin_url: String,
    name: String,
}

impl Harness for PgHarness {
    async fn setup() -> Option<(Self, Ports)> {
        let admin_url =
            hydracore_core::testing::needs("TEST_DATABASE_URL", "HYDRACORE_REQUIRE_PG")?;
        let (name, _, store) = common::fresh_postgres(&admin_url, "hc_contract", 2).await;
        Some((PgHarness { admin_url, name }, Ports::of(store)))
    }

    async fn teardown(self) {
        admin::drop_database(&self.admin_url, &self.name)
            .await
            .expect("drop test database");
    }
}

mod sqlite {
    use super::*;
    contract_tests!(SqliteHarness);
}

mod postgres {
    use super::*;
    contract_tests!(PgHarness);
}
