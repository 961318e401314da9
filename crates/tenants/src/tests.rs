use std::sync::Arc;

use hydracore_core::SystemClock;

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
    let t = svc.create("  Acme  ").await.unwrap();
    assert_eq!(t.name.as_str(), "Acme");
    assert_eq!(svc.get(t.id).await.unwrap(), t);
}

#[tokio::test]
async fn rejects_blank_and_long_names() {
    let svc = service();
    assert!(matches!(
        svc.create(" ").await,
        Err(TenantError::Invalid(_))
    ));
    assert!(matches!(
        svc.create(&"x".repeat(129)).await,
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
