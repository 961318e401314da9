//! The store's own ceiling for a route, used by `cargo xtask bench --sqlite`: the calls
//! a route makes below HTTP (the instance service over this store: the same
//! statements, through the same SQLite build and pool) in a tight loop.
//!
//! `ceiling <database url> <targets> <get|list|post> <seconds> <tasks>`: `targets`
//! holds `<tenant id> <instance id>` lines. Prints `ops_per_sec=<n>`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hydracore_core::audit::{AuditActor, Who};
use hydracore_core::{PageRequest, SharedClock, SystemClock};
use hydracore_instances::ports::RecordingRuntime;
use hydracore_instances::{CreateInstance, ImageReference, InstanceId, InstanceService};
use hydracore_store::{DatabaseUrl, PoolOptions, Store};
use hydracore_tenants::TenantId;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, targets, mode, seconds, tasks] = args.as_slice() else {
        return Err(
            "usage: ceiling <database url> <targets> <get|list|post> <seconds> <tasks>".into(),
        );
    };
    let targets: Vec<(TenantId, InstanceId)> = std::fs::read_to_string(targets)?
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, i)| {
            Ok((
                t.parse::<uuid::Uuid>()?.into(),
                i.parse::<uuid::Uuid>()?.into(),
            ))
        })
        .collect::<Result<_, uuid::Error>>()?;
    if targets.is_empty() {
        return Err("no targets".into());
    }
    let (mode, seconds, tasks): (String, u64, usize) =
        (mode.clone(), seconds.parse()?, tasks.parse()?);
    // As the server runs: one runtime thread per core.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store =
            Arc::new(Store::open(&DatabaseUrl::parse(url)?, &PoolOptions::default()).await?);
        let clock: SharedClock = Arc::new(SystemClock);
        let service = Arc::new(InstanceService::new(
            store.clone(),
            store,
            Arc::new(RecordingRuntime),
            clock,
            ImageReference::parse("ghcr.io/acme/api:1.4.2")?,
        ));
        let targets = Arc::new(targets);
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for task in 0..tasks {
            let (service, targets, done, stop, mode) = (
                service.clone(),
                targets.clone(),
                done.clone(),
                stop.clone(),
                mode.clone(),
            );
            handles.push(tokio::spawn(async move {
                let who = Who::new(AuditActor::api_key(uuid::Uuid::new_v4(), "bench"));
                let mut i = task * 37;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let (tenant, id) = targets[i % targets.len()];
                    let ok = match mode.as_str() {
                        "get" => service.get(tenant, id).await.is_ok(),
                        "list" => service.list(tenant, PageRequest::first()).await.is_ok(),
                        _ => service
                            .create(
                                tenant,
                                &who,
                                CreateInstance {
                                    name: format!("ceiling-{task}-{i}-{}", std::process::id()),
                                    runtime_image: Some("ghcr.io/acme/api:1.4.2".into()),
                                    config: Some(serde_json::json!(
                                        {"cpu": 1, "memory_mb": 512, "env": {"LOG_LEVEL": "info"}}
                                    )),
                                    start: false,
                                },
                            )
                            .await
                            .is_ok(),
                    };
                    if !ok {
                        return Err(format!("a {mode} failed"));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }));
        }
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        let count = done.load(Ordering::Relaxed);
        for h in handles {
            h.await??;
        }
        println!("ops_per_sec={:.1}", count as f64 / elapsed);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
