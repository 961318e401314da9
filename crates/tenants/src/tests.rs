use std::sync::Arc;

use hydracore_core::SystemClock;
use hydracore_core::audit::Who;

use super::testing::InMemoryTenantRepository;
use super::*;

fn service() -> TenantService {
    TenantService::new(
        Arc::new(InMemoryTenantRepository::default()),
        Arc::new(SystemClock),
    )
}

#[tokio::test]
async fn creates_and_reads_back() {
    let svc = service();
    let t = svc.create(&Who::ops(), "  Acme  ").await.unwrap();
    assert_eq!(t.name.as_str(), "Acme");
    assert_eq!(svc.get(t.id).await.unwrap(), t);
}

#[tokio::test]
async fn each_change_leaves_its_audit_event_and_a_refused_one_none() {
    use hydracore_core::audit::{Action, ActorKind, TargetKind};
    let repo = Arc::new(InMemoryTenantRepository::default());
    let svc = TenantService::new(repo.clone(), Arc::new(SystemClock));
    let t = svc.create(&Who::ops(), "Acme").await.unwrap();
    assert!(svc.create(&Who::ops(), " ").await.is_err());
    let events = repo.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.action, Action::TenantCreated);
    assert_eq!(e.tenant_id, Some(t.id.0));
    assert_eq!((e.target.kind, e.target.id), (TargetKind::Tenant, t.id.0));
    assert_eq!(e.target.name, "Acme");
    assert_eq!(e.actor.kind, ActorKind::Ops);
}

#[tokio::test]
async fn rejects_blank_and_long_names() {
    let svc = service();
    assert!(matches!(
        svc.create(&Who::ops(), " ").await,
        Err(TenantError::Invalid(_))
    ));
    assert!(matches!(
        svc.create(&Who::ops(), &"x".repeat(129)).await,
        Err(TenantError::Invalid(_))
    ));
}

#[tokio::test]
async fn unknown_tenant_is_not_found() {
    assert!(matches!(
        service().get(TenantId::new()).await,
        Err(TenantError::NotFound)
    ));
}
