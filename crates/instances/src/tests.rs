use std::sync::Arc;

use hydracore_core::SystemClock;
use hydracore_tenants::TenantId;
use serde_json::json;

use crate::ports::{RecordingRuntime, Runtime};
use crate::testing::{FailingRuntime, InMemoryInstanceRepository, InMemoryRuntimeImageRepository};
use crate::*;
use hydracore_core::audit::{Action as Audited, AuditEvent, AuditTarget, TargetKind, Who};

/// An event for a change a test makes straight through a repository.
fn some_event() -> AuditEvent {
    AuditEvent::new(
        None,
        time::OffsetDateTime::now_utc(),
        Audited::RuntimeImageRegistered,
        &Who::ops(),
        AuditTarget::new(TargetKind::RuntimeImage, InstanceId::new().0, "test"),
    )
}

fn service_with(
    runtime: Arc<dyn Runtime>,
) -> (InstanceService, Arc<InMemoryRuntimeImageRepository>) {
    let images = Arc::new(InMemoryRuntimeImageRepository::default());
    let svc = InstanceService::new(
        Arc::new(InMemoryInstanceRepository::default()),
        images.clone(),
        runtime,
        Arc::new(SystemClock),
        crate::ImageReference::trusted("hydracore/agent-runtime:latest"),
    );
    (svc, images)
}

fn create(name: &str) -> CreateInstance {
    CreateInstance {
        name: name.into(),
        ..CreateInstance::default()
    }
}

#[tokio::test]
async fn lifecycle_follows_the_state_machine() {
    let (svc, _) = service_with(Arc::new(RecordingRuntime));
    let t = TenantId::new();
    let i = svc.create(t, &Who::ops(), create("web-1")).await.unwrap();
    assert_eq!(i.status, Status::Stopped);
    assert!(matches!(
        svc.stop(t, &Who::ops(), i.id).await,
        Err(InstanceError::IllegalTransition {
            action: Action::Stop,
            status: Status::Stopped
        })
    ));
    assert_eq!(
        svc.start(t, &Who::ops(), i.id).await.unwrap().status,
        Status::Running
    );
    assert!(matches!(
        svc.start(t, &Who::ops(), i.id).await,
        Err(InstanceError::IllegalTransition {
            action: Action::Start,
            status: Status::Running
        })
    ));
    assert_eq!(
        svc.stop(t, &Who::ops(), i.id).await.unwrap().status,
        Status::Stopped
    );
}

#[tokio::test]
async fn a_failing_runtime_leaves_the_instance_failed() {
    let (svc, _) = service_with(Arc::new(FailingRuntime));
    let t = TenantId::new();
    let i = svc.create(t, &Who::ops(), create("web-1")).await.unwrap();
    let answered = svc.start(t, &Who::ops(), i.id).await.unwrap();
    assert_eq!(answered.status, Status::Failed);
    assert_eq!(answered.status_reason.as_deref(), Some("no capacity"));
    let failed = svc.get(t, i.id).await.unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.status_reason.as_deref(), Some("no capacity"));
}

/// A running instance whose agent dies behind the control plane's back is `failed`
/// after the next sweep, with the runtime's reason; an engine that does not answer
/// fails nothing; starting again clears the reason.
#[tokio::test]
async fn the_sweep_sees_what_died_and_only_that() {
    let runtime = Arc::new(crate::testing::MortalRuntime::default());
    let (svc, _) = service_with(runtime.clone());
    let t = TenantId::new();
    let mut ids = Vec::new();
    for n in 0..5 {
        let i = svc
            .create(
                t,
                &Who::ops(),
                CreateInstance {
                    start: true,
                    ..create(&format!("web-{n}"))
                },
            )
            .await
            .unwrap();
        assert_eq!(i.status, Status::Running);
        assert_eq!(i.status_reason, None);
        ids.push(i.id);
    }
    let idle = svc.create(t, &Who::ops(), create("idle")).await.unwrap();
    runtime.kill(ids[1], "exited with code 1");
    runtime.kill(ids[3], "killed: out of memory");
    runtime.kill(idle.id, "never ran");

    runtime.set_unreachable(true);
    let done = svc.sweep(2).await.unwrap();
    assert_eq!((done.observed, done.unreachable, done.failed), (5, 5, 0));
    assert!(
        svc.list(t, hydracore_core::PageRequest::new(100, None).unwrap())
            .await
            .unwrap()
            .items
            .iter()
            .all(|i| i.status != Status::Failed)
    );

    runtime.set_unreachable(false);
    // Batches of two: every running instance is seen across three reads.
    let done = svc.sweep(2).await.unwrap();
    assert_eq!((done.observed, done.unreachable, done.failed), (5, 0, 2));
    let one = svc.get(t, ids[1]).await.unwrap();
    assert_eq!(one.status, Status::Failed);
    assert_eq!(one.status_reason.as_deref(), Some("exited with code 1"));
    let three = svc.get(t, ids[3]).await.unwrap();
    assert_eq!(
        three.status_reason.as_deref(),
        Some("killed: out of memory")
    );
    assert_eq!(svc.get(t, ids[0]).await.unwrap().status, Status::Running);
    assert_eq!(svc.get(t, idle.id).await.unwrap().status, Status::Stopped);
    let done = svc.sweep(2).await.unwrap();
    assert_eq!((done.observed, done.failed), (3, 0));

    let again = svc.start(t, &Who::ops(), ids[1]).await.unwrap();
    assert_eq!(again.status, Status::Running);
    assert_eq!(again.status_reason, None);
}

/// A delete the runtime cannot carry out deletes nothing: no container is left
/// without its instance.
#[tokio::test]
async fn a_delete_waits_for_the_runtime() {
    let runtime = Arc::new(crate::testing::MortalRuntime::default());
    let (svc, _) = service_with(runtime.clone());
    let t = TenantId::new();
    let i = svc.create(t, &Who::ops(), create("web-1")).await.unwrap();
    runtime.set_unreachable(true);
    assert!(matches!(
        svc.delete(t, &Who::ops(), i.id).await,
        Err(InstanceError::Runtime(_))
    ));
    assert!(svc.get(t, i.id).await.is_ok());
    runtime.set_unreachable(false);
    svc.delete(t, &Who::ops(), i.id).await.unwrap();
    assert!(matches!(
        svc.get(t, i.id).await,
        Err(InstanceError::NotFound)
    ));
}

#[tokio::test]
async fn names_are_unique_per_tenant_only() {
    let (svc, _) = service_with(Arc::new(RecordingRuntime));
    let (a, b) = (TenantId::new(), TenantId::new());
    svc.create(a, &Who::ops(), create("web")).await.unwrap();
    assert!(matches!(
        svc.create(a, &Who::ops(), create("web")).await,
        Err(InstanceError::Duplicate { .. })
    ));
    svc.create(b, &Who::ops(), create("web")).await.unwrap();
}

#[tokio::test]
async fn validates_name_and_config() {
    let (svc, _) = service_with(Arc::new(RecordingRuntime));
    let t = TenantId::new();
    for bad in ["", "Web", "a_b", &"a".repeat(65)] {
        assert!(
            matches!(
                svc.create(t, &Who::ops(), create(bad)).await,
                Err(InstanceError::Invalid(_))
            ),
            "{bad}"
        );
    }
    let mut req = create("ok");
    req.config = Some(json!([1, 2]));
    match svc.create(t, &Who::ops(), req).await {
        Err(InstanceError::Invalid(v)) => assert_eq!(v.kind, "dict_type"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn new_instances_take_the_stable_image_or_the_default() {
    let (svc, images) = service_with(Arc::new(RecordingRuntime));
    let t = TenantId::new();
    let first = svc.create(t, &Who::ops(), create("a")).await.unwrap();
    assert_eq!(
        first.runtime_image.as_str(),
        "hydracore/agent-runtime:latest"
    );
    let image = RuntimeImage {
        id: RuntimeImageId::new(),
        name: "hydracore/agent-runtime".into(),
        version: "1.4.2".into(),
        digest: "sha256:00".into(),
        created_at: time::OffsetDateTime::now_utc(),
    };
    images.insert(&image, &some_event()).await.unwrap();
    images
        .promote(Channel::Stable, image.id, image.created_at, &some_event())
        .await
        .unwrap();
    let second = svc.create(t, &Who::ops(), create("b")).await.unwrap();
    assert_eq!(
        second.runtime_image.as_str(),
        "hydracore/agent-runtime:1.4.2"
    );
}

#[tokio::test]
async fn other_tenants_instances_are_not_found() {
    let (svc, _) = service_with(Arc::new(RecordingRuntime));
    let i = svc
        .create(TenantId::new(), &Who::ops(), create("web"))
        .await
        .unwrap();
    let other = TenantId::new();
    assert!(matches!(
        svc.get(other, i.id).await,
        Err(InstanceError::NotFound)
    ));
    assert!(matches!(
        svc.start(other, &Who::ops(), i.id).await,
        Err(InstanceError::NotFound)
    ));
    assert!(matches!(
        svc.delete(other, &Who::ops(), i.id).await,
        Err(InstanceError::NotFound)
    ));
    assert!(matches!(
        svc.update(other, &Who::ops(), i.id, InstancePatch::default())
            .await,
        Err(InstanceError::NotFound)
    ));
}

#[test]
fn image_references_follow_the_oci_grammar() {
    for good in [
        "agent",
        "ghcr.io/hydracore/agent-runtime:latest",
        "localhost:5000/a/b:1.4.2",
        "registry.example.com:443/team/agent_x__y:v1-rc.2",
        "docker.io/library/python:3.12-slim",
        "ghcr.io/acme/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "acme/agent:1.4@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "a--b/c",
        // A dotted first component that is no host name is part of the path.
        "m5ph_s__sv.2eryfmuwcsr60k/0mct5/1/sp__76w6uj0f",
    ] {
        assert!(crate::ImageReference::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "../../../../etc/passwd",
        "/etc/passwd",
        "acme//agent",
        "Acme/Agent",
        "acme/agent:",
        "acme/agent:-tag",
        "acme/agent@sha256:xyz",
        "acme/agent@md5",
        "acme/.hidden",
        "acme/agent.",
        "Exa_mple.com/agent",
        "host:port/agent",
        "'; DROP TABLE instances; --",
        "a b",
        "acme/agent:tag\n",
    ] {
        assert!(crate::ImageReference::parse(bad).is_err(), "{bad}");
    }
}

/// A runtime that never answers: the request driving it dies half-way.
struct HangingRuntime;

#[async_trait::async_trait]
impl Runtime for HangingRuntime {
    async fn ready(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn logs(&self, _instance: &Instance, _tail: u32) -> Result<String, RuntimeError> {
        std::future::pending().await
    }

    async fn start(&self, _instance: &Instance) -> Result<Status, RuntimeError> {
        std::future::pending().await
    }

    async fn stop(&self, _instance: &Instance) -> Result<Status, RuntimeError> {
        std::future::pending().await
    }

    async fn observe(&self, _instance: &Instance) -> Result<Observed, RuntimeError> {
        std::future::pending().await
    }

    async fn remove(&self, _instance: &Instance) -> Result<(), RuntimeError> {
        std::future::pending().await
    }
}

fn over(repo: &Arc<InMemoryInstanceRepository>, runtime: Arc<dyn Runtime>) -> InstanceService {
    InstanceService::new(
        repo.clone(),
        Arc::new(InMemoryRuntimeImageRepository::default()),
        runtime,
        Arc::new(SystemClock),
        crate::ImageReference::trusted("hydracore/agent-runtime:latest"),
    )
}

#[tokio::test]
async fn the_reconciler_finishes_what_a_dead_request_began() {
    let repo = Arc::new(InMemoryInstanceRepository::default());
    let dying = over(&repo, Arc::new(HangingRuntime));
    let t = TenantId::new();
    let mut req = create("half-made");
    req.start = true;
    let cut = std::time::Duration::from_millis(20);
    assert!(
        tokio::time::timeout(cut, dying.create(t, &Who::ops(), req))
            .await
            .is_err()
    );
    let running = dying
        .create(t, &Who::ops(), create("to-stop"))
        .await
        .unwrap();
    let healthy = over(&repo, Arc::new(RecordingRuntime));
    let running = healthy.start(t, &Who::ops(), running.id).await.unwrap();
    assert!(
        tokio::time::timeout(cut, dying.stop(t, &Who::ops(), running.id))
            .await
            .is_err()
    );
    let left: Vec<Status> = healthy
        .list(t, hydracore_core::PageRequest::new(10, None).unwrap())
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| i.status)
        .collect();
    assert_eq!(left, [Status::Starting, Status::Stopping]);

    // Too recent for a reconciler that waits a minute: untouched.
    let minute = time::Duration::minutes(1);
    assert_eq!(
        healthy.reconcile(minute, 100).await.unwrap(),
        Reconciled::default()
    );
    let done = healthy.reconcile(time::Duration::ZERO, 100).await.unwrap();
    assert_eq!(
        done,
        Reconciled {
            found: 2,
            settled: 2,
            failed: 0,
            unreachable: 0
        }
    );
    let settled: Vec<(String, Status)> = healthy
        .list(t, hydracore_core::PageRequest::new(10, None).unwrap())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| (i.name.as_str().to_owned(), i.status))
        .collect();
    assert_eq!(
        settled,
        [
            ("half-made".to_owned(), Status::Running),
            ("to-stop".to_owned(), Status::Stopped)
        ]
    );
    // Nothing left to do.
    assert_eq!(
        healthy.reconcile(time::Duration::ZERO, 100).await.unwrap(),
        Reconciled::default()
    );
}

#[tokio::test]
async fn the_reconciler_marks_what_the_runtime_refuses_failed() {
    let repo = Arc::new(InMemoryInstanceRepository::default());
    let t = TenantId::new();
    let mut req = create("doomed");
    req.start = true;
    let cut = std::time::Duration::from_millis(20);
    let dying = over(&repo, Arc::new(HangingRuntime));
    assert!(
        tokio::time::timeout(cut, dying.create(t, &Who::ops(), req))
            .await
            .is_err()
    );
    let failing = over(&repo, Arc::new(FailingRuntime));
    assert_eq!(
        failing.reconcile(time::Duration::ZERO, 100).await.unwrap(),
        Reconciled {
            found: 1,
            settled: 0,
            failed: 1,
            unreachable: 0
        }
    );
    let page = failing
        .list(t, hydracore_core::PageRequest::new(10, None).unwrap())
        .await
        .unwrap();
    assert_eq!(page.items[0].status, Status::Failed);
}

#[test]
fn the_name_pattern_states_the_same_bound_as_the_parser() {
    let bound = format!("{{1,{}}}", crate::InstanceName::MAX_LEN);
    assert!(crate::InstanceName::PATTERN.contains(&bound));
    let longest = "a".repeat(crate::InstanceName::MAX_LEN);
    assert!(crate::InstanceName::parse(&longest).is_ok());
    assert!(crate::InstanceName::parse(&format!("{longest}a")).is_err());
}

#[tokio::test]
async fn each_asked_for_change_leaves_one_event_and_the_runtimes_moves_none() {
    let repo = Arc::new(InMemoryInstanceRepository::default());
    let svc = InstanceService::new(
        repo.clone(),
        Arc::new(InMemoryRuntimeImageRepository::default()),
        Arc::new(RecordingRuntime),
        Arc::new(SystemClock),
        crate::ImageReference::trusted("hydracore/agent-runtime:latest"),
    );
    let (t, who) = (TenantId::new(), Who::ops());
    let mut req = create("web-1");
    req.start = true;
    let i = svc.create(t, &who, req).await.unwrap();
    svc.stop(t, &who, i.id).await.unwrap();
    assert!(svc.stop(t, &who, i.id).await.is_err(), "illegal: no event");
    svc.start(t, &who, i.id).await.unwrap();
    let patch = InstancePatch {
        name: Some("web-2".into()),
        config: Some(json!({"model": "small"})),
        ..InstancePatch::default()
    };
    svc.update(t, &who, i.id, patch).await.unwrap();
    assert!(svc.create(t, &who, create("web-2")).await.is_err(), "taken");
    svc.delete(t, &who, i.id).await.unwrap();
    let seen: Vec<(Audited, String, Vec<String>)> = repo
        .events()
        .into_iter()
        .map(|e| (e.action, e.target.name, e.fields))
        .collect();
    let named =
        |a, n: &str, f: &[&str]| (a, n.to_owned(), f.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(
        seen,
        vec![
            named(Audited::InstanceCreated, "web-1", &[]),
            named(Audited::InstanceStopped, "web-1", &[]),
            named(Audited::InstanceStarted, "web-1", &[]),
            named(Audited::InstanceUpdated, "web-1", &["name", "config"]),
            named(Audited::InstanceDeleted, "web-2", &[]),
        ]
    );
}

/// An engine that is away concludes nothing: start, stop and a create that starts are
/// refused before anything is written (no status change, no event), the reconciler and
/// the sweep leave instances as they are, and once it answers everything goes on.
#[tokio::test]
async fn an_unreachable_runtime_changes_nothing() {
    let repo = Arc::new(InMemoryInstanceRepository::default());
    let runtime = Arc::new(crate::testing::MortalRuntime::default());
    let svc = over(&repo, runtime.clone());
    let (t, who) = (TenantId::new(), Who::ops());
    let mut req = create("web-1");
    req.start = true;
    let running = svc.create(t, &who, req.clone()).await.unwrap();
    let stopped = svc.create(t, &who, create("web-2")).await.unwrap();
    let events = repo.events().len();

    runtime.set_unreachable(true);
    let away = |r: Result<Instance, InstanceError>| matches!(r, Err(InstanceError::Runtime(e)) if e.is_unreachable());
    assert!(away(svc.stop(t, &who, running.id).await));
    assert!(away(svc.start(t, &who, stopped.id).await));
    req.name = "web-3".into();
    assert!(away(svc.create(t, &who, req.clone()).await));
    assert!(matches!(
        svc.logs(t, running.id, LogTail::DEFAULT).await,
        Err(InstanceError::Runtime(e)) if e.is_unreachable()
    ));
    assert_eq!(
        svc.get(t, running.id).await.unwrap().status,
        Status::Running
    );
    assert_eq!(
        svc.get(t, stopped.id).await.unwrap().status,
        Status::Stopped
    );
    let page = hydracore_core::PageRequest::new(10, None).unwrap();
    assert_eq!(svc.list(t, page).await.unwrap().items.len(), 2);
    assert_eq!(repo.events().len(), events, "nothing was recorded");
    let swept = svc.sweep(10).await.unwrap();
    assert_eq!((swept.unreachable, swept.failed), (1, 0));

    runtime.set_unreachable(false);
    assert_eq!(
        svc.stop(t, &who, running.id).await.unwrap().status,
        Status::Stopped
    );
    assert_eq!(
        svc.start(t, &who, stopped.id).await.unwrap().status,
        Status::Running
    );
    let log = svc.logs(t, stopped.id, LogTail::DEFAULT).await.unwrap();
    assert_eq!(log, format!("agent {} started\n", stopped.id));
}

/// A runtime that answers `ready` and then is gone: the request's instance goes back
/// to where it was (a `failed` one keeps its reason); a create that starts is answered
/// `starting`, and the reconciler starts it once the runtime is back.
#[tokio::test]
async fn a_runtime_lost_half_way_puts_the_instance_back() {
    struct GoneAfterReady;
    #[async_trait::async_trait]
    impl Runtime for GoneAfterReady {
        async fn ready(&self) -> Result<(), RuntimeError> {
            Ok(())
        }
        async fn start(&self, _: &Instance) -> Result<Status, RuntimeError> {
            Err(RuntimeError::Unreachable("connection refused".into()))
        }
        async fn stop(&self, _: &Instance) -> Result<Status, RuntimeError> {
            Err(RuntimeError::Unreachable("connection refused".into()))
        }
        async fn observe(&self, _: &Instance) -> Result<Observed, RuntimeError> {
            Err(RuntimeError::Unreachable("connection refused".into()))
        }
        async fn logs(&self, _: &Instance, _: u32) -> Result<String, RuntimeError> {
            Err(RuntimeError::Unreachable("connection refused".into()))
        }
        async fn remove(&self, _: &Instance) -> Result<(), RuntimeError> {
            Err(RuntimeError::Unreachable("connection refused".into()))
        }
    }
    let repo = Arc::new(InMemoryInstanceRepository::default());
    let (t, who) = (TenantId::new(), Who::ops());
    let failing = over(&repo, Arc::new(FailingRuntime));
    let mut req = create("web-1");
    req.start = true;
    let failed = failing.create(t, &who, req.clone()).await.unwrap();
    assert_eq!(failed.status, Status::Failed);

    let gone = over(&repo, Arc::new(GoneAfterReady));
    assert!(matches!(
        gone.start(t, &who, failed.id).await,
        Err(InstanceError::Runtime(e)) if e.is_unreachable()
    ));
    let back = gone.get(t, failed.id).await.unwrap();
    assert_eq!(back.status, Status::Failed);
    assert_eq!(back.status_reason.as_deref(), Some("no capacity"));
    assert!(matches!(
        gone.delete(t, &who, failed.id).await,
        Err(InstanceError::Runtime(e)) if e.is_unreachable()
    ));

    req.name = "web-2".into();
    let pending = gone.create(t, &who, req).await.unwrap();
    assert_eq!(pending.status, Status::Starting);
    let done = gone.reconcile(time::Duration::ZERO, 10).await.unwrap();
    assert_eq!((done.found, done.unreachable, done.failed), (1, 1, 0));
    assert_eq!(
        gone.get(t, pending.id).await.unwrap().status,
        Status::Starting
    );
    let back = over(&repo, Arc::new(RecordingRuntime));
    back.reconcile(time::Duration::ZERO, 10).await.unwrap();
    assert_eq!(
        back.get(t, pending.id).await.unwrap().status,
        Status::Running
    );
}

#[test]
fn a_log_tail_is_one_to_ten_thousand_lines() {
    assert_eq!(LogTail::parse("1").unwrap().lines(), 1);
    assert_eq!(LogTail::parse("10000").unwrap().lines(), 10_000);
    for (raw, kind) in [
        ("0", "greater_than_equal"),
        ("-5", "greater_than_equal"),
        ("10001", "less_than_equal"),
        ("99999999999999999999", "int_parsing"),
        ("ten", "int_parsing"),
        ("", "int_parsing"),
    ] {
        let e = LogTail::parse(raw).unwrap_err();
        assert_eq!(
            (e.field.join("."), e.kind),
            ("tail".to_owned(), kind),
            "{raw}"
        );
    }
}
