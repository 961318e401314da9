//! The contract cases. Each takes fresh, empty ports.

use hydracore_core::{Clock, Page, PageRequest, RepoError, SystemClock};
use hydracore_instances::{
    Channel, Instance, InstanceId, InstanceName, RuntimeImage, RuntimeImageId, Status,
};
use hydracore_keys::{ApiKey, ApiKeyId, KeySecret, RateLimit};
use hydracore_mcp_log::{CallStatus, McpCall};
use hydracore_scopes::ScopeSet;
use hydracore_tenants::{Tenant, TenantId, TenantName};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::Ports;

fn now() -> OffsetDateTime {
    SystemClock.now()
}

async fn tenant(ports: &Ports) -> TenantId {
    let t = Tenant {
        id: TenantId::new(),
        name: TenantName::parse("acme").unwrap(),
        created_at: now(),
    };
    ports.tenants.insert(&t).await.unwrap();
    t.id
}

fn key(tenant: TenantId, created_at: OffsetDateTime) -> (ApiKey, KeySecret) {
    let secret = KeySecret::generate();
    let key = ApiKey {
        id: ApiKeyId::new(),
        tenant_id: tenant,
        name: "deploy".into(),
        prefix: secret.display_prefix(),
        scopes: ScopeSet::parse(&["instances:read", "api-keys:*"]).unwrap(),
        created_at,
        expires_at: Some(created_at + Duration::days(30)),
        revoked_at: None,
        last_used_at: None,
        rate_limit: Some(RateLimit::new(100, 60).unwrap()),
    };
    (key, secret)
}

fn instance(tenant: TenantId, name: &str, created_at: OffsetDateTime) -> Instance {
    Instance {
        id: InstanceId::new(),
        tenant_id: tenant,
        name: InstanceName::parse(name).unwrap(),
        status: Status::Stopped,
        runtime_image: "hydracore/agent-runtime:1.0.0".into(),
        config: json!({"model": "m", "nested": {"n": [1, 2.5, null, "é"]}}),
        created_at,
        updated_at: created_at,
    }
}

fn is_duplicate<T: std::fmt::Debug>(r: Result<T, RepoError>) -> bool {
    matches!(r, Err(RepoError::Duplicate { .. }))
}

/// Collects every page of a list, checking that pages hold at most `limit` rows.
async fn all_pages<T, F, Fut>(limit: u32, mut fetch: F) -> Vec<T>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, RepoError>>,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(PageRequest::new(limit, after).unwrap())
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        out.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
}

/// `insert` then `find` returns the same tenant; an unknown id is `None`; a second
/// insert with the same id is `Duplicate`.
pub async fn tenants_insert_and_find(ports: &Ports) {
    let t = Tenant {
        id: TenantId::new(),
        name: TenantName::parse("Acme Corp").unwrap(),
        created_at: now(),
    };
    ports.tenants.insert(&t).await.unwrap();
    assert_eq!(ports.tenants.find(t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(ports.tenants.find(TenantId::new()).await.unwrap(), None);
    assert!(is_duplicate(ports.tenants.insert(&t).await));
}

/// A key is found by its hash (any tenant) and by id within its tenant only; a second
/// key with the same hash is `Duplicate`.
pub async fn keys_round_trip_by_hash_and_id(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let (k, secret) = key(t, now());
    ports.keys.insert(&k, &secret.hash()).await.unwrap();
    assert_eq!(
        ports.keys.find_by_hash(&secret.hash()).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(ports.keys.find(t, k.id).await.unwrap(), Some(k.clone()));
    assert_eq!(ports.keys.find(other, k.id).await.unwrap(), None);
    assert_eq!(ports.keys.find_by_hash(&[7u8; 32]).await.unwrap(), None);
    let (mut twin, _) = key(t, now());
    twin.id = ApiKeyId::new();
    assert!(is_duplicate(ports.keys.insert(&twin, &secret.hash()).await));
}

/// `update` saves name, scopes, expiry and limit of live keys of the right tenant;
/// `revoke` works once, and only within the tenant.
pub async fn keys_update_and_revoke(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let (mut k, secret) = key(t, now());
    ports.keys.insert(&k, &secret.hash()).await.unwrap();
    k.name = "renamed".into();
    k.scopes = ScopeSet::parse(&["instances:*"]).unwrap();
    k.expires_at = None;
    k.rate_limit = None;
    assert!(ports.keys.update(&k).await.unwrap());
    assert_eq!(ports.keys.find(t, k.id).await.unwrap(), Some(k.clone()));
    let mut foreign = k.clone();
    foreign.tenant_id = other;
    assert!(!ports.keys.update(&foreign).await.unwrap());
    assert!(!ports.keys.revoke(other, k.id, now()).await.unwrap());
    let at = now();
    assert!(ports.keys.revoke(t, k.id, at).await.unwrap());
    assert!(!ports.keys.revoke(t, k.id, now()).await.unwrap());
    assert!(!ports.keys.update(&k).await.unwrap());
    let stored = ports
        .keys
        .find_by_hash(&secret.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revoked_at, Some(at));
}

/// `record_usage` keeps the latest instant per key.
pub async fn keys_record_usage_keeps_the_latest(ports: &Ports) {
    let t = tenant(ports).await;
    let (k, secret) = key(t, now());
    ports.keys.insert(&k, &secret.hash()).await.unwrap();
    let later = now() + Duration::seconds(10);
    ports.keys.record_usage(&[(k.id, later)]).await.unwrap();
    ports
        .keys
        .record_usage(&[(k.id, later - Duration::seconds(5))])
        .await
        .unwrap();
    let stored = ports.keys.find(t, k.id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(later));
}

/// `list` pages through live keys of one tenant in `(created_at, id)` order.
pub async fn keys_list_pages_skip_revoked(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let base = now();
    let mut ids = Vec::new();
    for i in 0..7 {
        let (k, s) = key(t, base + Duration::milliseconds(i / 2));
        ports.keys.insert(&k, &s.hash()).await.unwrap();
        ids.push((k.created_at, k.id.0));
    }
    let (foreign, s) = key(other, base);
    ports.keys.insert(&foreign, &s.hash()).await.unwrap();
    let revoked = ApiKeyId(ids.remove(3).1);
    assert!(ports.keys.revoke(t, revoked, now()).await.unwrap());
    ids.sort();
    let listed = all_pages(2, |p| ports.keys.list(t, p)).await;
    let got: Vec<_> = listed.iter().map(|k| (k.created_at, k.id.0)).collect();
    assert_eq!(got, ids);
}

/// Instances round-trip exactly (config included), and another tenant sees nothing.
pub async fn instances_crud_and_isolation(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let mut i = instance(t, "web-1", now());
    ports.instances.insert(&i).await.unwrap();
    assert_eq!(
        ports.instances.find(t, i.id).await.unwrap(),
        Some(i.clone())
    );
    assert_eq!(ports.instances.find(other, i.id).await.unwrap(), None);
    i.name = InstanceName::parse("web-2").unwrap();
    i.config = json!({"replicas": 3});
    i.runtime_image = "other:2".into();
    i.updated_at = now();
    assert!(ports.instances.update(&i).await.unwrap());
    assert_eq!(
        ports.instances.find(t, i.id).await.unwrap(),
        Some(i.clone())
    );
    let mut foreign = i.clone();
    foreign.tenant_id = other;
    assert!(!ports.instances.update(&foreign).await.unwrap());
    assert!(!ports.instances.delete(other, i.id).await.unwrap());
    assert!(ports.instances.delete(t, i.id).await.unwrap());
    assert!(!ports.instances.delete(t, i.id).await.unwrap());
    assert_eq!(ports.instances.find(t, i.id).await.unwrap(), None);
}

/// A name is unique within a tenant, on insert and on rename, and free across tenants.
pub async fn instances_names_unique_per_tenant(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    ports
        .instances
        .insert(&instance(t, "web", now()))
        .await
        .unwrap();
    assert!(is_duplicate(
        ports.instances.insert(&instance(t, "web", now())).await
    ));
    ports
        .instances
        .insert(&instance(other, "web", now()))
        .await
        .unwrap();
    let mut second = instance(t, "api", now());
    ports.instances.insert(&second).await.unwrap();
    second.name = InstanceName::parse("web").unwrap();
    assert!(is_duplicate(ports.instances.update(&second).await));
}

/// `transition` applies only from the expected status and returns the new row.
pub async fn instances_transition_is_compare_and_set(ports: &Ports) {
    let t = tenant(ports).await;
    let i = instance(t, "web", now());
    ports.instances.insert(&i).await.unwrap();
    let at = now() + Duration::seconds(1);
    let moved = ports
        .instances
        .transition(t, i.id, Status::Stopped, Status::Starting, at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.status, Status::Starting);
    assert_eq!(moved.updated_at, at);
    assert_eq!(
        ports
            .instances
            .transition(t, i.id, Status::Stopped, Status::Starting, at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        ports
            .instances
            .transition(
                tenant(ports).await,
                i.id,
                Status::Starting,
                Status::Running,
                at
            )
            .await
            .unwrap(),
        None
    );
    let stored = ports.instances.find(t, i.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Starting);
}

/// Pages of any size return every row of the tenant exactly once, in
/// `(created_at, id)` order, ties on `created_at` included.
pub async fn instances_pages_return_every_row_once(ports: &Ports) {
    let t = tenant(ports).await;
    let base = now();
    let mut expected = Vec::new();
    for n in 0..23 {
        let i = instance(t, &format!("i-{n}"), base + Duration::microseconds(n / 3));
        ports.instances.insert(&i).await.unwrap();
        expected.push((i.created_at, i.id.0));
    }
    ports
        .instances
        .insert(&instance(tenant(ports).await, "x", base))
        .await
        .unwrap();
    expected.sort();
    for limit in [1, 5, 23, 1000] {
        let got: Vec<_> = all_pages(limit, |p| ports.instances.list(t, p))
            .await
            .iter()
            .map(|i| (i.created_at, i.id.0))
            .collect();
        assert_eq!(got, expected, "limit {limit}");
    }
}

/// Images are unique by name and version; promotion needs an existing image and a
/// later promotion replaces the earlier one.
pub async fn images_promotion(ports: &Ports) {
    let image = |version: &str| RuntimeImage {
        id: RuntimeImageId::new(),
        name: "hydracore/agent-runtime".into(),
        version: version.into(),
        digest: format!("sha256:{version}"),
        created_at: now(),
    };
    let one = image("1.0.0");
    let two = image("2.0.0");
    ports.images.insert(&one).await.unwrap();
    ports.images.insert(&two).await.unwrap();
    assert!(is_duplicate(ports.images.insert(&image("1.0.0")).await));
    assert_eq!(ports.images.find(one.id).await.unwrap(), Some(one.clone()));
    assert_eq!(ports.images.promoted(Channel::Stable).await.unwrap(), None);
    assert!(
        !ports
            .images
            .promote(Channel::Stable, RuntimeImageId::new(), now())
            .await
            .unwrap()
    );
    assert!(
        ports
            .images
            .promote(Channel::Stable, one.id, now())
            .await
            .unwrap()
    );
    assert!(
        ports
            .images
            .promote(Channel::Canary, two.id, now())
            .await
            .unwrap()
    );
    assert_eq!(
        ports.images.promoted(Channel::Stable).await.unwrap(),
        Some(one.clone())
    );
    assert!(
        ports
            .images
            .promote(Channel::Stable, two.id, now())
            .await
            .unwrap()
    );
    assert_eq!(
        ports.images.promoted(Channel::Stable).await.unwrap(),
        Some(two.clone())
    );
    let all = all_pages(1, |p| ports.images.list(p)).await;
    assert_eq!(all.len(), 2);
}

/// Appended calls are listed for their tenant only, in order.
pub async fn call_log_append_and_list(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let call = |tenant: TenantId, status: CallStatus, n: i64| McpCall {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        key_id: Uuid::new_v4(),
        tool: "instances_list".into(),
        scope: "instances:read".into(),
        status,
        latency_us: 1200 + n,
        created_at: now() + Duration::microseconds(n),
    };
    let mine = vec![call(t, CallStatus::Ok, 0), call(t, CallStatus::Denied, 1)];
    ports.calls.append(&mine).await.unwrap();
    ports
        .calls
        .append(&[call(other, CallStatus::Error, 2)])
        .await
        .unwrap();
    ports.calls.append(&[]).await.unwrap();
    let listed = all_pages(1, |p| ports.calls.list(t, p)).await;
    assert_eq!(listed, mine);
}
