use std::sync::Arc;

use hydracore_core::audit::{Action, AuditEvent, AuditTarget, TargetKind, Who};
use hydracore_core::testing::{EventSink, ManualClock};
use hydracore_core::{Clock, PageRequest};
use hydracore_tenants::TenantId;

use crate::testing::InMemoryAuditLog;
use crate::{AuditQuery, AuditService};

fn event(tenant: TenantId, clock: &ManualClock, action: Action) -> AuditEvent {
    AuditEvent::new(
        Some(tenant.0),
        clock.now(),
        action,
        &Who::ops(),
        AuditTarget::new(TargetKind::Tenant, tenant.0, "acme"),
    )
}

#[tokio::test]
async fn the_log_reads_a_tenants_events_and_forgets_them_past_the_retention() {
    let clock = Arc::new(ManualClock::new());
    let sink = EventSink::default();
    let service = AuditService::new(
        Arc::new(InMemoryAuditLog::over(sink.clone())),
        clock.clone(),
    )
    .with_retention_days(30);
    let (mine, other) = (TenantId::new(), TenantId::new());
    sink.record(&event(mine, &clock, Action::TenantCreated));
    clock.advance(time::Duration::days(20));
    sink.record(&event(mine, &clock, Action::MemberAdded));
    sink.record(&event(other, &clock, Action::TenantCreated));
    let page = PageRequest::first();
    let all = service
        .list(mine, &AuditQuery::default(), page)
        .await
        .unwrap();
    let actions: Vec<Action> = all.items.iter().map(|e| e.action).collect();
    assert_eq!(actions, [Action::TenantCreated, Action::MemberAdded]);
    let added = AuditQuery {
        actions: vec![Action::MemberAdded],
        ..AuditQuery::default()
    };
    assert_eq!(
        service.list(mine, &added, page).await.unwrap().items.len(),
        1
    );
    assert!(service.get(other, all.items[0].id).await.is_err());
    clock.advance(time::Duration::days(15));
    assert_eq!(service.sweep().await.unwrap(), 1);
    assert_eq!(
        service
            .list(mine, &AuditQuery::default(), page)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}
