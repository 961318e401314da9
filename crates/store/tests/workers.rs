//! Pools of their own for the HTTP workers (PostgreSQL, when `TEST_DATABASE_URL` is
//! set): the node never holds more connections than its pool's size, the metrics see
//! every worker's connections, and a worker's end leaves the others working.

use std::sync::{Arc, Barrier};

mod common;

use hydracore_store::admin;

async fn sessions(url: &str, name: &str) -> i64 {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .expect("count sessions")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_the_pool_without_exceeding_it() {
    let Some(admin_url) =
        hydracore_core::testing::needs("TEST_DATABASE_URL", "HYDRACORE_REQUIRE_PG")
    else {
        return;
    };
    let (name, url, store) = common::fresh_postgres(&admin_url, "hc_workers", 8).await;
    // 8 connections: 1 shared, 3 for each of 2 workers.
    store.share_among_workers(2);

    let busy = Arc::new(Barrier::new(3));
    let done = Arc::new(Barrier::new(3));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (store, busy, done) = (store.clone(), busy.clone(), done.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                store.enter_worker().expect("a worker pool");
                rt.block_on(async {
                    // Far more at once than the worker's three connections.
                    let pings = (0..20).map(|_| store.ping());
                    for r in futures_util::future::join_all(pings).await {
                        r.expect("a worker's query");
                    }
                });
                busy.wait();
                done.wait();
                // The runtime (and the connections it drives) ends with the thread.
            })
        })
        .collect();
    busy.wait();
    let (size, _) = store.pool_status();
    let open = sessions(&url, &name).await;
    done.wait();
    for w in workers {
        w.join().expect("worker thread");
    }
    assert_eq!(size, 7, "1 shared (opened at start) + 3 per worker");
    assert!(open <= 8, "{open} sessions against a pool of 8");

    // The workers are gone; everyone else still has the shared pool.
    for _ in 0..3 {
        store
            .ping()
            .await
            .expect("the shared pool after the workers ended");
    }
    assert_eq!(
        store.pool_status().0,
        1,
        "a gone worker's pool is not counted"
    );
    drop(store);
    admin::drop_database(&admin_url, &name)
        .await
        .expect("drop test database");
}
