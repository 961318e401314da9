//! The contract cases. Each takes fresh, empty ports.

use hydracore_auth::{RefreshToken, RefreshTokenId, TokenFamilyId};
use hydracore_core::{Clock, Page, PageRequest, RepoError, SystemClock};
use hydracore_instances::{
    Channel, Config, ImageReference, Instance, InstanceId, InstanceName, RuntimeImage,
    RuntimeImageId, Status,
};
use hydracore_keys::{ApiKey, ApiKeyId, KeySecret, RateLimit, UsageBucket, UsageCounts};
use hydracore_mcp_log::{CallId, CallQuery, CallStatus, McpCall};
use hydracore_scopes::Role;
use hydracore_scopes::ScopeSet;
use hydracore_tenants::{
    Email, Membership, MembershipChange, Tenant, TenantId, TenantName, User, UserId,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::Ports;

/// A fresh audit event for a change a case makes (of no tenant, so it needs no row).
fn ev() -> hydracore_core::audit::AuditEvent {
    hydracore_core::audit::AuditEvent::new(
        None,
        now(),
        hydracore_core::audit::Action::TenantCreated,
        &hydracore_core::audit::Who::ops(),
        hydracore_core::audit::AuditTarget::new(
            hydracore_core::audit::TargetKind::Tenant,
            TenantId::new().0,
            "case",
        ),
    )
}

fn now() -> OffsetDateTime {
    SystemClock.now()
}

async fn tenant(ports: &Ports) -> TenantId {
    let t = Tenant {
        id: TenantId::new(),
        name: TenantName::parse("acme").unwrap(),
        created_at: now(),
    };
    ports.tenants.insert(&t, &ev()).await.unwrap();
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
        rotated_at: None,
    };
    (key, secret)
}

fn instance(tenant: TenantId, name: &str, created_at: OffsetDateTime) -> Instance {
    Instance {
        id: InstanceId::new(),
        tenant_id: tenant,
        name: InstanceName::parse(name).unwrap(),
        status: Status::Stopped,
        status_reason: None,
        runtime_image: ImageReference::parse("hydracore/agent-runtime:1.0.0").unwrap(),
        config: Config::from_value(&json!({"model": "m", "nested": {"n": [1, 2.5, null, "é"]}}))
            .expect("an object"),
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
    ports.tenants.insert(&t, &ev()).await.unwrap();
    assert_eq!(ports.tenants.find(t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(ports.tenants.find(TenantId::new()).await.unwrap(), None);
    assert!(is_duplicate(ports.tenants.insert(&t, &ev()).await));
    assert!(ports.tenants.delete(t.id).await.unwrap());
    assert!(!ports.tenants.delete(t.id).await.unwrap());
    assert_eq!(ports.tenants.find(t.id).await.unwrap(), None);
}

/// A key is found by its hash (any tenant) and by id within its tenant only; a second
/// key with the same hash is `Duplicate`.
pub async fn keys_round_trip_by_hash_and_id(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let (k, secret) = key(t, now());
    ports.keys.insert(&k, &secret.hash(), &ev()).await.unwrap();
    assert_eq!(
        ports.keys.find_by_hash(&secret.hash()).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(ports.keys.find(t, k.id).await.unwrap(), Some(k.clone()));
    assert_eq!(ports.keys.find(other, k.id).await.unwrap(), None);
    assert_eq!(ports.keys.find_by_hash(&[7u8; 32]).await.unwrap(), None);
    let (mut twin, _) = key(t, now());
    twin.id = ApiKeyId::new();
    assert!(is_duplicate(
        ports.keys.insert(&twin, &secret.hash(), &ev()).await
    ));
}

/// `update` saves name, scopes, expiry and limit of live keys of the right tenant;
/// `revoke` works once, and only within the tenant.
pub async fn keys_update_and_revoke(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let (mut k, secret) = key(t, now());
    ports.keys.insert(&k, &secret.hash(), &ev()).await.unwrap();
    k.name = "renamed".into();
    k.scopes = ScopeSet::parse(&["instances:*"]).unwrap();
    k.expires_at = None;
    k.rate_limit = None;
    assert!(ports.keys.update(&k, &ev()).await.unwrap());
    assert_eq!(ports.keys.find(t, k.id).await.unwrap(), Some(k.clone()));
    let mut foreign = k.clone();
    foreign.tenant_id = other;
    assert!(!ports.keys.update(&foreign, &ev()).await.unwrap());
    assert!(!ports.keys.revoke(other, k.id, now(), &ev()).await.unwrap());
    let at = now();
    assert!(ports.keys.revoke(t, k.id, at, &ev()).await.unwrap());
    assert!(!ports.keys.revoke(t, k.id, now(), &ev()).await.unwrap());
    assert!(!ports.keys.update(&k, &ev()).await.unwrap());
    let stored = ports
        .keys
        .find_by_hash(&secret.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revoked_at, Some(at));
}

/// `rotate` replaces a live key once, all or nothing: never a rotated, expired, revoked
/// or other tenant's key, and of concurrent rotations exactly one wins.
pub async fn keys_rotate_once_all_or_nothing(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let (old, secret) = key(t, now());
    ports
        .keys
        .insert(&old, &secret.hash(), &ev())
        .await
        .unwrap();
    let at = now();
    let grace_end = at + Duration::minutes(5);
    let successor = |tenant| {
        let (mut k, s) = key(tenant, at);
        k.name = old.name.clone();
        (k, s)
    };
    let (foreign, foreign_secret) = successor(other);
    assert!(
        !ports
            .keys
            .rotate(
                old.id,
                at,
                grace_end,
                &foreign,
                &foreign_secret.hash(),
                &ev()
            )
            .await
            .unwrap()
    );
    assert_eq!(ports.keys.find(other, foreign.id).await.unwrap(), None);
    let (first, first_secret) = successor(t);
    let (second, second_secret) = successor(t);
    let (r1, r2) = futures_join(
        ports
            .keys
            .rotate(old.id, at, grace_end, &first, &first_secret.hash(), &ev()),
        ports
            .keys
            .rotate(old.id, at, grace_end, &second, &second_secret.hash(), &ev()),
    )
    .await;
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert!(r1 ^ r2, "exactly one rotation wins: {r1} {r2}");
    let (won, lost) = if r1 {
        (&first, &second)
    } else {
        (&second, &first)
    };
    assert_eq!(ports.keys.find(t, won.id).await.unwrap(), Some(won.clone()));
    assert_eq!(ports.keys.find(t, lost.id).await.unwrap(), None);
    let rotated = ports.keys.find(t, old.id).await.unwrap().unwrap();
    assert_eq!(rotated.rotated_at, Some(at));
    assert_eq!(rotated.expires_at, Some(grace_end));
    // Rotated keys, expired keys and revoked keys are not rotated.
    let (again, again_secret) = successor(t);
    assert!(
        !ports
            .keys
            .rotate(
                old.id,
                now(),
                grace_end,
                &again,
                &again_secret.hash(),
                &ev()
            )
            .await
            .unwrap()
    );
    let (mut expired, expired_secret) = key(t, at - Duration::hours(2));
    expired.expires_at = Some(at - Duration::hours(1));
    ports
        .keys
        .insert(&expired, &expired_secret.hash(), &ev())
        .await
        .unwrap();
    assert!(
        !ports
            .keys
            .rotate(
                expired.id,
                at,
                grace_end,
                &again,
                &again_secret.hash(),
                &ev()
            )
            .await
            .unwrap()
    );
    assert!(ports.keys.revoke(t, won.id, now(), &ev()).await.unwrap());
    assert!(
        !ports
            .keys
            .rotate(
                won.id,
                now(),
                grace_end,
                &again,
                &again_secret.hash(),
                &ev()
            )
            .await
            .unwrap()
    );
    assert_eq!(ports.keys.find(t, again.id).await.unwrap(), None);
}

/// `record_usage` keeps the latest instant per key.
pub async fn keys_record_usage_keeps_the_latest(ports: &Ports) {
    let t = tenant(ports).await;
    let (k, secret) = key(t, now());
    ports.keys.insert(&k, &secret.hash(), &ev()).await.unwrap();
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

fn bucket(k: &ApiKey, hour: OffsetDateTime, ok: u64, forbidden: u64) -> UsageBucket {
    UsageBucket {
        key_id: k.id,
        tenant_id: k.tenant_id,
        hour,
        counts: UsageCounts {
            ok,
            forbidden,
            ..UsageCounts::default()
        },
    }
}

/// Usage counts add up per key and hour: across batches, within one batch, and from
/// concurrent batches; reads cover `[since, until)` of the tenant's keys only, by key
/// then hour.
pub async fn keys_usage_adds_up_per_key_and_hour(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let (a, _) = key(t, now());
    let (b, _) = key(t, now());
    let (foreign, _) = key(other, now());
    let h0 = hydracore_keys::hour_of(now()) - Duration::hours(5);
    let h1 = h0 + Duration::hours(1);
    let h2 = h0 + Duration::hours(2);
    ports
        .keys
        .add_usage(&[
            bucket(&a, h0, 3, 1),
            bucket(&a, h1, 1, 0),
            bucket(&a, h1, 1, 0),
        ])
        .await
        .unwrap();
    ports
        .keys
        .add_usage(&[
            UsageBucket {
                counts: UsageCounts {
                    client_error: 2,
                    rate_limited: 3,
                    server_error: 4,
                    ..UsageCounts::default()
                },
                ..bucket(&a, h0, 0, 0)
            },
            bucket(&b, h2, 7, 0),
            bucket(&foreign, h0, 9, 9),
        ])
        .await
        .unwrap();
    // Concurrent batches on one row lose nothing.
    let one = [bucket(&b, h2, 1, 1)];
    let adds = (0..8).map(|_| ports.keys.add_usage(&one));
    for r in futures_join_all(adds).await {
        r.unwrap();
    }
    let read = |keys: Vec<ApiKeyId>, since, until| {
        let ports = ports.clone();
        async move { ports.keys.usage(t, &keys, since, until).await.unwrap() }
    };
    let mut expected = vec![
        UsageBucket {
            counts: UsageCounts {
                ok: 3,
                client_error: 2,
                forbidden: 1,
                rate_limited: 3,
                server_error: 4,
            },
            ..bucket(&a, h0, 0, 0)
        },
        bucket(&a, h1, 2, 0),
    ];
    assert_eq!(read(vec![a.id], h0, h2).await, expected);
    assert_eq!(read(vec![a.id], h1, h2).await, expected[1..]);
    assert_eq!(read(vec![a.id], h2, h2 + Duration::hours(1)).await, []);
    expected.push(bucket(&b, h2, 15, 8));
    expected.sort_by_key(|u| (u.key_id, u.hour));
    assert_eq!(
        read(vec![a.id, b.id], h0, h2 + Duration::hours(1)).await,
        expected
    );
    // Another tenant's key has none here; its own tenant sees its counts.
    assert_eq!(read(vec![foreign.id], h0, h2).await, []);
    assert_eq!(
        ports
            .keys
            .usage(other, &[foreign.id, a.id], h0, h2)
            .await
            .unwrap(),
        [bucket(&foreign, h0, 9, 9)]
    );
}

/// `delete_usage_before` deletes the buckets of every tenant older than the cutoff,
/// and only those.
pub async fn keys_usage_sweep_deletes_only_older_buckets(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let (a, _) = key(t, now());
    let (foreign, _) = key(other, now());
    let cutoff = hydracore_keys::hour_of(now()) - Duration::days(90);
    ports
        .keys
        .add_usage(&[
            bucket(&a, cutoff - Duration::hours(2), 1, 0),
            bucket(&a, cutoff, 2, 0),
            bucket(&foreign, cutoff - Duration::hours(1), 3, 0),
            bucket(&a, cutoff + Duration::hours(1), 4, 0),
        ])
        .await
        .unwrap();
    assert_eq!(ports.keys.delete_usage_before(cutoff).await.unwrap(), 2);
    assert_eq!(ports.keys.delete_usage_before(cutoff).await.unwrap(), 0);
    let left = ports
        .keys
        .usage(t, &[a.id], cutoff - Duration::days(1), now())
        .await
        .unwrap();
    assert_eq!(
        left,
        [
            bucket(&a, cutoff, 2, 0),
            bucket(&a, cutoff + Duration::hours(1), 4, 0)
        ]
    );
    assert_eq!(
        ports
            .keys
            .usage(other, &[foreign.id], cutoff - Duration::days(1), now())
            .await
            .unwrap(),
        []
    );
}

/// Polls every future together on one task, so they interleave at every await.
async fn futures_join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, f) in pending.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    done.into_iter().map(Option::unwrap).collect()
}

/// `list` pages through live keys of one tenant in `(created_at, id)` order.
pub async fn keys_list_pages_skip_revoked(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let base = now();
    let mut ids = Vec::new();
    for i in 0..7 {
        let (k, s) = key(t, base + Duration::milliseconds(i / 2));
        ports.keys.insert(&k, &s.hash(), &ev()).await.unwrap();
        ids.push((k.created_at, k.id.0));
    }
    let (foreign, s) = key(other, base);
    ports.keys.insert(&foreign, &s.hash(), &ev()).await.unwrap();
    let revoked = ApiKeyId(ids.remove(3).1);
    assert!(ports.keys.revoke(t, revoked, now(), &ev()).await.unwrap());
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
    ports.instances.insert(&i, &ev()).await.unwrap();
    assert_eq!(
        ports.instances.find(t, i.id).await.unwrap(),
        Some(i.clone())
    );
    assert_eq!(ports.instances.find(other, i.id).await.unwrap(), None);
    i.name = InstanceName::parse("web-2").unwrap();
    i.config = Config::from_value(&json!({"replicas": 3})).expect("an object");
    i.runtime_image = ImageReference::parse("other:2").unwrap();
    i.updated_at = now();
    assert!(ports.instances.update(&i, &ev()).await.unwrap());
    assert_eq!(
        ports.instances.find(t, i.id).await.unwrap(),
        Some(i.clone())
    );
    let mut foreign = i.clone();
    foreign.tenant_id = other;
    assert!(!ports.instances.update(&foreign, &ev()).await.unwrap());
    assert!(!ports.instances.delete(other, i.id, &ev()).await.unwrap());
    assert!(ports.instances.delete(t, i.id, &ev()).await.unwrap());
    assert!(!ports.instances.delete(t, i.id, &ev()).await.unwrap());
    assert_eq!(ports.instances.find(t, i.id).await.unwrap(), None);
}

/// A name is unique within a tenant, on insert and on rename, and free across tenants.
pub async fn instances_names_unique_per_tenant(ports: &Ports) {
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    ports
        .instances
        .insert(&instance(t, "web", now()), &ev())
        .await
        .unwrap();
    assert!(is_duplicate(
        ports
            .instances
            .insert(&instance(t, "web", now()), &ev())
            .await
    ));
    ports
        .instances
        .insert(&instance(other, "web", now()), &ev())
        .await
        .unwrap();
    let mut second = instance(t, "api", now());
    ports.instances.insert(&second, &ev()).await.unwrap();
    second.name = InstanceName::parse("web").unwrap();
    assert!(is_duplicate(ports.instances.update(&second, &ev()).await));
}

/// `transition` applies only from the expected status and returns the new row.
pub async fn instances_transition_is_compare_and_set(ports: &Ports) {
    let t = tenant(ports).await;
    let i = instance(t, "web", now());
    ports.instances.insert(&i, &ev()).await.unwrap();
    let at = now() + Duration::seconds(1);
    let moved = ports
        .instances
        .transition(t, i.id, Status::Stopped, Status::Starting, None, at, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.status, Status::Starting);
    assert_eq!(moved.updated_at, at);
    assert_eq!(
        ports
            .instances
            .transition(t, i.id, Status::Stopped, Status::Starting, None, at, None)
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
                None,
                at,
                None
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
        ports.instances.insert(&i, &ev()).await.unwrap();
        expected.push((i.created_at, i.id.0));
    }
    ports
        .instances
        .insert(&instance(tenant(ports).await, "x", base), &ev())
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
    ports.images.insert(&one, &ev()).await.unwrap();
    ports.images.insert(&two, &ev()).await.unwrap();
    assert!(is_duplicate(
        ports.images.insert(&image("1.0.0"), &ev()).await
    ));
    assert_eq!(ports.images.find(one.id).await.unwrap(), Some(one.clone()));
    assert_eq!(ports.images.promoted(Channel::Stable).await.unwrap(), None);
    assert!(
        !ports
            .images
            .promote(Channel::Stable, RuntimeImageId::new(), now(), &ev())
            .await
            .unwrap()
    );
    assert!(
        ports
            .images
            .promote(Channel::Stable, one.id, now(), &ev())
            .await
            .unwrap()
    );
    assert!(
        ports
            .images
            .promote(Channel::Canary, two.id, now(), &ev())
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
            .promote(Channel::Stable, two.id, now(), &ev())
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
        id: CallId::new(),
        tenant_id: tenant,
        caller: hydracore_mcp_log::CallCaller::Key(ApiKeyId::new()),
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
    let all = CallQuery::default();
    let listed = all_pages(1, |p| ports.calls.list(t, &all, p)).await;
    assert_eq!(listed, mine);
}

/// The call log filters by key, tool and status, and reads newest first page by page.
pub async fn call_log_filters_and_reads_newest_first(ports: &Ports) {
    let t = tenant(ports).await;
    let (k1, k2) = (ApiKeyId::new(), ApiKeyId::new());
    let call = |key: ApiKeyId, tool: &str, status: CallStatus, n: i64| McpCall {
        id: CallId::new(),
        tenant_id: t,
        caller: hydracore_mcp_log::CallCaller::Key(key),
        tool: tool.into(),
        scope: "instances:read".into(),
        status,
        latency_us: 10,
        created_at: now() + Duration::microseconds(n),
    };
    let calls = vec![
        call(k1, "instances_list", CallStatus::Ok, 0),
        call(k2, "instances_list", CallStatus::Denied, 1),
        call(k1, "instances_get", CallStatus::Error, 2),
        call(k1, "instances_list", CallStatus::Ok, 3),
        call(k2, "api_keys_list", CallStatus::Ok, 4),
    ];
    ports.calls.append(&calls).await.unwrap();
    let list = |q: CallQuery| async move {
        all_pages(2, |p| {
            let q = q.clone();
            async move { ports.calls.list(t, &q, p).await }
        })
        .await
    };
    let newest = list(CallQuery {
        newest_first: true,
        ..CallQuery::default()
    })
    .await;
    let mut reversed = calls.clone();
    reversed.reverse();
    assert_eq!(newest, reversed);
    let of_k1 = list(CallQuery {
        key_id: Some(k1),
        newest_first: true,
        ..CallQuery::default()
    })
    .await;
    assert_eq!(
        of_k1,
        vec![calls[3].clone(), calls[2].clone(), calls[0].clone()]
    );
    let listed_ok = list(CallQuery {
        tool: Some("instances_list".into()),
        status: Some(CallStatus::Ok),
        ..CallQuery::default()
    })
    .await;
    assert_eq!(listed_ok, vec![calls[0].clone(), calls[3].clone()]);
    let none = list(CallQuery {
        tool: Some("instances".into()),
        ..CallQuery::default()
    })
    .await;
    assert!(none.is_empty());
}

fn user(email: &str) -> User {
    User {
        id: UserId::new(),
        email: Email::parse(email).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        active_tenant_id: None,
        created_at: now(),
    }
}

fn new_tenant(name: &str) -> Tenant {
    Tenant {
        id: TenantId::new(),
        name: TenantName::parse(name).unwrap(),
        created_at: now(),
    }
}

/// Signs a user up with a tenant; returns both as stored.
async fn signed_up(ports: &Ports, email: &str) -> (User, Tenant) {
    let u = user(email);
    let t = new_tenant("team");
    ports.users.insert_with_tenant(&u, &t, &ev()).await.unwrap();
    (ports.users.find(u.id).await.unwrap().unwrap(), t)
}

/// A user and a tenant are stored together, the user active in it as its owner; a
/// taken e-mail stores neither.
pub async fn users_signup_is_all_or_nothing(ports: &Ports) {
    let (u, t) = signed_up(ports, "ada@example.com").await;
    assert_eq!(u.active_tenant_id, Some(t.id));
    assert_eq!(ports.tenants.find(t.id).await.unwrap(), Some(t.clone()));
    let by_email = ports
        .users
        .find_by_email(&Email::parse("ADA@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(by_email, Some(u.clone()));
    let m = ports.members.find(t.id, u.id).await.unwrap().unwrap();
    assert_eq!(m.role, Role::Owner);
    let twin = user("ada@example.com");
    let other = new_tenant("other");
    assert!(is_duplicate(
        ports.users.insert_with_tenant(&twin, &other, &ev()).await
    ));
    assert_eq!(ports.tenants.find(other.id).await.unwrap(), None);
    assert_eq!(ports.users.find(twin.id).await.unwrap(), None);
}

/// `set_active_tenant` works only for tenants the user belongs to.
pub async fn users_switch_only_to_their_tenants(ports: &Ports) {
    let (u, first) = signed_up(ports, "ada@example.com").await;
    let (_, foreign) = signed_up(ports, "eve@example.com").await;
    let second = new_tenant("second");
    ports
        .members
        .insert_tenant_with_owner(&second, u.id, 10, &ev())
        .await
        .unwrap();
    assert!(
        ports
            .users
            .set_active_tenant(u.id, second.id, &ev())
            .await
            .unwrap()
    );
    assert_eq!(
        ports
            .users
            .find(u.id)
            .await
            .unwrap()
            .unwrap()
            .active_tenant_id,
        Some(second.id)
    );
    assert!(
        !ports
            .users
            .set_active_tenant(u.id, foreign.id, &ev())
            .await
            .unwrap()
    );
    assert!(
        !ports
            .users
            .set_active_tenant(UserId::new(), first.id, &ev())
            .await
            .unwrap()
    );
    assert_eq!(
        ports
            .users
            .find(u.id)
            .await
            .unwrap()
            .unwrap()
            .active_tenant_id,
        Some(second.id)
    );
}

/// Members are listed per tenant in order; a user's tenants come with their roles.
pub async fn memberships_add_list_and_tenants_of(ports: &Ports) {
    let (owner, t) = signed_up(ports, "owner@example.com").await;
    let mut expected = vec![(owner.email.clone(), Role::Owner)];
    for (i, role) in [Role::Admin, Role::Member, Role::Viewer]
        .into_iter()
        .enumerate()
    {
        let (u, _) = signed_up(ports, &format!("u{i}@example.com")).await;
        let m = Membership {
            tenant_id: t.id,
            user_id: u.id,
            role,
            created_at: now() + Duration::microseconds(i as i64 + 1),
        };
        ports.members.insert(&m, &ev()).await.unwrap();
        assert!(is_duplicate(ports.members.insert(&m, &ev()).await));
        expected.push((u.email.clone(), role));
    }
    let listed = all_pages(1, |p| ports.members.list(t.id, p)).await;
    let got: Vec<_> = listed.iter().map(|m| (m.email.clone(), m.role)).collect();
    assert_eq!(got, expected);
    let admin = ports
        .users
        .find_by_email(&Email::parse("u0@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let theirs = ports.members.tenants_of(admin.id).await.unwrap();
    let roles: Vec<_> = theirs.iter().map(|tr| tr.role).collect();
    assert_eq!(roles, vec![Role::Owner, Role::Admin]);
    assert_eq!(theirs[1].tenant, t);
}

/// The last owner can be neither demoted nor removed; with two owners one may go,
/// and a removed member loses the tenant as active tenant.
pub async fn memberships_keep_an_owner(ports: &Ports) {
    let (owner, t) = signed_up(ports, "owner@example.com").await;
    assert_eq!(
        ports
            .members
            .change_role(t.id, owner.id, Role::Admin, &Role::ALL, &ev())
            .await
            .unwrap(),
        MembershipChange::LastOwner
    );
    assert_eq!(
        ports
            .members
            .remove(t.id, owner.id, &Role::ALL, &ev())
            .await
            .unwrap(),
        MembershipChange::LastOwner
    );
    assert_eq!(
        ports
            .members
            .change_role(t.id, UserId::new(), Role::Admin, &Role::ALL, &ev())
            .await
            .unwrap(),
        MembershipChange::NotFound
    );
    let (second, _) = signed_up(ports, "second@example.com").await;
    ports
        .members
        .insert(
            &Membership {
                tenant_id: t.id,
                user_id: second.id,
                role: Role::Viewer,
                created_at: now(),
            },
            &ev(),
        )
        .await
        .unwrap();
    assert!(
        matches!(ports.members.change_role(t.id, second.id, Role::Owner, &Role::ALL, &ev()).await.unwrap(), MembershipChange::Done(m) if m.role == Role::Viewer)
    );
    assert!(
        matches!(ports.members.remove(t.id, owner.id, &Role::ALL, &ev()).await.unwrap(), MembershipChange::Done(m) if m.role == Role::Owner)
    );
    assert_eq!(ports.members.find(t.id, owner.id).await.unwrap(), None);
    assert_eq!(
        ports
            .users
            .find(owner.id)
            .await
            .unwrap()
            .unwrap()
            .active_tenant_id,
        None
    );
    assert_eq!(
        ports
            .members
            .remove(t.id, second.id, &Role::ALL, &ev())
            .await
            .unwrap(),
        MembershipChange::LastOwner
    );
}

/// Two owners demoted at the same time: exactly one demotion succeeds.
pub async fn memberships_keep_an_owner_under_concurrency(ports: &Ports) {
    let (a, t) = signed_up(ports, "a@example.com").await;
    let (b, _) = signed_up(ports, "b@example.com").await;
    ports
        .members
        .insert(
            &Membership {
                tenant_id: t.id,
                user_id: b.id,
                role: Role::Owner,
                created_at: now(),
            },
            &ev(),
        )
        .await
        .unwrap();
    for _ in 0..5 {
        let (ra, rb) = futures_join(
            ports
                .members
                .change_role(t.id, a.id, Role::Admin, &Role::ALL, &ev()),
            ports
                .members
                .change_role(t.id, b.id, Role::Admin, &Role::ALL, &ev()),
        )
        .await;
        let done = [ra.unwrap(), rb.unwrap()]
            .iter()
            .filter(|c| matches!(c, MembershipChange::Done(_)))
            .count();
        assert_eq!(done, 1);
        let owners = all_pages(100, |p| ports.members.list(t.id, p))
            .await
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1);
        // Restore both owners for the next round.
        ports
            .members
            .change_role(t.id, a.id, Role::Owner, &Role::ALL, &ev())
            .await
            .unwrap();
        ports
            .members
            .change_role(t.id, b.id, Role::Owner, &Role::ALL, &ev())
            .await
            .unwrap();
    }
}

/// Polls two futures together on one task, so they interleave at every await.
async fn futures_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

/// A refresh token is exchanged once, all or nothing; revoking a family revokes only
/// that family, the tokens exchanged into it included.
pub async fn refresh_tokens_rotate_once_and_revoke_families(ports: &Ports) {
    let (u, _) = signed_up(ports, "ada@example.com").await;
    let token = |family: TokenFamilyId| RefreshToken {
        id: RefreshTokenId::new(),
        family_id: family,
        user_id: u.id,
        created_at: now(),
        expires_at: now() + Duration::days(30),
        used_at: None,
        revoked_at: None,
    };
    let (f1, f2) = (TokenFamilyId::new(), TokenFamilyId::new());
    let (a, b, c) = (token(f1), token(f1), token(f2));
    for (t, h) in [(&a, [1u8; 32]), (&b, [2u8; 32]), (&c, [3u8; 32])] {
        ports.refresh.insert(t, &h, None).await.unwrap();
    }
    assert!(is_duplicate(
        ports.refresh.insert(&token(f2), &[3u8; 32], None).await
    ));
    assert_eq!(
        ports.refresh.find_by_hash(&[1u8; 32]).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(ports.refresh.find_by_hash(&[9u8; 32]).await.unwrap(), None);
    let at = now();
    // Two exchanges of one token at once: exactly one stores its successor.
    let (next1, next2) = (token(f1), token(f1));
    let (r1, r2) = futures_join(
        ports.refresh.rotate(a.id, at, &next1, &[11u8; 32]),
        ports.refresh.rotate(a.id, at, &next2, &[12u8; 32]),
    )
    .await;
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert!(r1 ^ r2, "exactly one exchange wins: {r1} {r2}");
    let (won, lost) = if r1 {
        ([11u8; 32], [12u8; 32])
    } else {
        ([12u8; 32], [11u8; 32])
    };
    assert!(ports.refresh.find_by_hash(&won).await.unwrap().is_some());
    assert_eq!(ports.refresh.find_by_hash(&lost).await.unwrap(), None);
    assert_eq!(
        ports
            .refresh
            .find_by_hash(&[1u8; 32])
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(at)
    );
    assert!(
        !ports
            .refresh
            .rotate(a.id, at, &token(f1), &[13u8; 32])
            .await
            .unwrap()
    );
    assert_eq!(ports.refresh.find_by_hash(&[13u8; 32]).await.unwrap(), None);
    // Revoking the family revokes the token the exchange made, and nothing else.
    ports.refresh.revoke_family(f1, at, None).await.unwrap();
    assert!(
        !ports
            .refresh
            .rotate(b.id, at, &token(f1), &[14u8; 32])
            .await
            .unwrap()
    );
    for hash in [[2u8; 32], won] {
        assert_eq!(
            ports
                .refresh
                .find_by_hash(&hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(at)
        );
    }
    assert_eq!(
        ports
            .refresh
            .find_by_hash(&[3u8; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert!(
        ports
            .refresh
            .rotate(c.id, at, &token(f2), &[15u8; 32])
            .await
            .unwrap()
    );
}

/// The grant rule is judged on the member's role inside the change's transaction: a
/// caller that may not manage owners changes or removes no owner, however the role
/// changed before.
pub async fn memberships_change_only_roles_the_caller_manages(ports: &Ports) {
    let (owner, t) = signed_up(ports, "o@example.com").await;
    let (m, _) = signed_up(ports, "m@example.com").await;
    ports
        .members
        .insert(
            &Membership {
                tenant_id: t.id,
                user_id: m.id,
                role: Role::Member,
                created_at: now(),
            },
            &ev(),
        )
        .await
        .unwrap();
    let admin_may = [Role::Admin, Role::Member, Role::Viewer];
    assert!(matches!(
        ports.members.change_role(t.id, m.id, Role::Viewer, &admin_may, &ev()).await.unwrap(),
        MembershipChange::Done(before) if before.role == Role::Member
    ));
    // Promoted to owner meanwhile: the admin's next change is refused, not applied.
    ports
        .members
        .change_role(t.id, m.id, Role::Owner, &Role::ALL, &ev())
        .await
        .unwrap();
    assert_eq!(
        ports
            .members
            .change_role(t.id, m.id, Role::Viewer, &admin_may, &ev())
            .await
            .unwrap(),
        MembershipChange::NotGranted(Role::Owner)
    );
    assert_eq!(
        ports
            .members
            .remove(t.id, m.id, &admin_may, &ev())
            .await
            .unwrap(),
        MembershipChange::NotGranted(Role::Owner)
    );
    assert_eq!(
        ports.members.find(t.id, m.id).await.unwrap().unwrap().role,
        Role::Owner
    );
    let _ = owner;
}

/// A user owns at most `max_owned` tenants, also when creations race.
pub async fn memberships_cap_the_tenants_a_user_owns(ports: &Ports) {
    let (u, _) = signed_up(ports, "cap@example.com").await;
    // The sign-up made one; two more fit under a cap of 3, not a third.
    assert!(
        ports
            .members
            .insert_tenant_with_owner(&new_tenant("two"), u.id, 3, &ev())
            .await
            .unwrap()
    );
    let (x, y) = (new_tenant("x"), new_tenant("y"));
    let (rx, ry) = futures_join(
        ports.members.insert_tenant_with_owner(&x, u.id, 3, &ev()),
        ports.members.insert_tenant_with_owner(&y, u.id, 3, &ev()),
    )
    .await;
    let (rx, ry) = (rx.unwrap(), ry.unwrap());
    assert!(rx ^ ry, "exactly one fits: {rx} {ry}");
    let refused = if rx { &y } else { &x };
    assert_eq!(ports.tenants.find(refused.id).await.unwrap(), None);
    assert_eq!(ports.members.tenants_of(u.id).await.unwrap().len(), 3);
}

/// Credentials round-trip with their sealed secret, per tenant, names unique per
/// tenant.
pub async fn mcp_credentials_round_trip_sealed(ports: &Ports) {
    use hydracore_mcp_creds::{AuthKind, CredentialId, McpCredential, Sealed};
    let t = tenant(ports).await;
    let other = tenant(ports).await;
    let cred = |tenant: TenantId, name: &str, auth: AuthKind| McpCredential {
        id: CredentialId::new(),
        tenant_id: tenant,
        name: name.into(),
        server_url: "https://mcp.example.com".into(),
        auth,
        secret_hint: "abcd".into(),
        created_at: now(),
    };
    let sealed = Sealed {
        key_id: "k1".into(),
        nonce: vec![1; 12],
        ciphertext: vec![2; 40],
    };
    let a = cred(
        t,
        "github",
        AuthKind::Header {
            name: "X-Token".into(),
        },
    );
    ports.creds.insert(&a, &sealed, &ev()).await.unwrap();
    assert!(is_duplicate(
        ports
            .creds
            .insert(&cred(t, "github", AuthKind::Bearer), &sealed, &ev())
            .await
    ));
    ports
        .creds
        .insert(&cred(other, "github", AuthKind::Bearer), &sealed, &ev())
        .await
        .unwrap();
    assert_eq!(ports.creds.find(t, a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        ports.creds.find_sealed(t, a.id).await.unwrap(),
        Some((a.clone(), sealed.clone()))
    );
    assert_eq!(ports.creds.find(other, a.id).await.unwrap(), None);
    let b = cred(t, "linear", AuthKind::Bearer);
    ports.creds.insert(&b, &sealed, &ev()).await.unwrap();
    let listed = all_pages(1, |p| ports.creds.list(t, p)).await;
    assert_eq!(listed.len(), 2);
    assert!(!ports.creds.delete(other, a.id, &ev()).await.unwrap());
    assert!(ports.creds.delete(t, a.id, &ev()).await.unwrap());
    assert_eq!(ports.creds.find(t, a.id).await.unwrap(), None);
}

/// Idempotency claims: one winner among concurrent claims, replay after completion,
/// release on abandon, replacement once expired or stale, and a superseded claim that
/// can no longer touch the record that replaced it.
pub async fn idempotency_claims_replay_and_lapse(ports: &Ports) {
    use hydracore_core::idempotency::{Begin, Claim};
    let store = &ports.idempotency;
    let sealed = |body: &[u8]| hydracore_core::seal::Sealed {
        key_id: "k1".into(),
        nonce: vec![9; 12],
        ciphertext: body.to_vec(),
    };
    let t0 = now();
    static PRINT: [u8; 32] = [1; 32];
    static OTHER: [u8; 32] = [2; 32];
    let (print, other) = (&PRINT, &OTHER);
    let claim = |key: &'static str, fingerprint: &'static [u8; 32], at: OffsetDateTime| Claim {
        owner: "key:a",
        key,
        fingerprint,
        at,
        expires_at: t0 + Duration::hours(24),
        stale_before: at - Duration::seconds(60),
    };
    // Of concurrent claims exactly one runs.
    let c = claim("k1", print, t0);
    let (a, b) = futures_join(store.begin(&c), store.begin(&c)).await;
    let mut got = [a.unwrap(), b.unwrap()];
    got.sort_by_key(|b| matches!(b, Begin::InProgress));
    assert_eq!(got, [Begin::Started, Begin::InProgress]);
    // Another request under the key is a mismatch, running or done.
    let t1 = t0 + Duration::seconds(1);
    assert_eq!(
        store.begin(&claim("k1", other, t1)).await.unwrap(),
        Begin::Mismatch
    );
    store
        .complete("key:a", "k1", t0, 201, &sealed(b"{\"id\":1}"))
        .await
        .unwrap();
    assert_eq!(
        store.begin(&claim("k1", print, t1)).await.unwrap(),
        Begin::Replay {
            status: 201,
            body: sealed(b"{\"id\":1}")
        }
    );
    // A complete record is kept whatever its age (until it expires); abandon and a
    // second complete leave it.
    store.abandon("key:a", "k1", t0).await.unwrap();
    store
        .complete("key:a", "k1", t0, 500, &sealed(b"no"))
        .await
        .unwrap();
    let late = t0 + Duration::hours(23);
    assert!(matches!(
        store.begin(&claim("k1", print, late)).await.unwrap(),
        Begin::Replay { status: 201, .. }
    ));
    // Expired: the key is free again, for any request.
    let expired = t0 + Duration::hours(24);
    assert_eq!(
        store.begin(&claim("k1", other, expired)).await.unwrap(),
        Begin::Started
    );
    // Keys are per owner.
    let mut theirs = claim("k1", print, t0);
    theirs.owner = "key:b";
    assert_eq!(store.begin(&theirs).await.unwrap(), Begin::Started);

    // Abandon frees the key at once.
    assert_eq!(
        store.begin(&claim("k2", print, t0)).await.unwrap(),
        Begin::Started
    );
    store.abandon("key:a", "k2", t0).await.unwrap();
    assert_eq!(
        store.begin(&claim("k2", other, t1)).await.unwrap(),
        Begin::Started
    );

    // A claim that never answers holds the key for its lease, then lapses.
    assert_eq!(
        store.begin(&claim("k3", print, t0)).await.unwrap(),
        Begin::Started
    );
    let within = t0 + Duration::seconds(59);
    assert_eq!(
        store.begin(&claim("k3", print, within)).await.unwrap(),
        Begin::InProgress
    );
    let after = t0 + Duration::seconds(60);
    assert_eq!(
        store.begin(&claim("k3", print, after)).await.unwrap(),
        Begin::Started
    );
    // The lapsed request finishing late touches nothing of its successor's.
    store
        .complete("key:a", "k3", t0, 201, &sealed(b"old"))
        .await
        .unwrap();
    store.abandon("key:a", "k3", t0).await.unwrap();
    assert_eq!(
        store.begin(&claim("k3", print, after)).await.unwrap(),
        Begin::InProgress
    );
    store
        .complete("key:a", "k3", after, 201, &sealed(b"new"))
        .await
        .unwrap();
    assert_eq!(
        store.begin(&claim("k3", print, after)).await.unwrap(),
        Begin::Replay {
            status: 201,
            body: sealed(b"new")
        }
    );

    // The sweep deletes what has expired, and only that.
    assert_eq!(
        store.begin(&claim("k4", print, t1)).await.unwrap(),
        Begin::Started
    );
    let swept = store.sweep(t0 + Duration::hours(24)).await.unwrap();
    assert!(swept >= 1, "{swept}");
    assert_eq!(store.sweep(t0 + Duration::hours(24)).await.unwrap(), 0);
    let mut fresh = claim("k5", print, t1);
    fresh.expires_at = t1 + Duration::hours(48);
    assert_eq!(store.begin(&fresh).await.unwrap(), Begin::Started);
    store.sweep(t0 + Duration::hours(25)).await.unwrap();
    assert_eq!(store.begin(&fresh).await.unwrap(), Begin::InProgress);
}

/// A claim abandoned while another request looks at its key never makes that request
/// fail: it gets an answer (the key, or "in progress").
pub async fn idempotency_begin_answers_while_claims_come_and_go(ports: &Ports) {
    use hydracore_core::idempotency::{Begin, Claim};
    let store = &ports.idempotency;
    static PRINT: [u8; 32] = [3; 32];
    for round in 0..40 {
        let key = format!("churn-{round}");
        let at = now();
        let claim = Claim {
            owner: "key:churn",
            key: &key,
            fingerprint: &PRINT,
            at,
            expires_at: at + Duration::hours(24),
            stale_before: at - Duration::seconds(60),
        };
        assert_eq!(store.begin(&claim).await.unwrap(), Begin::Started);
        let later = Claim {
            at: at + Duration::milliseconds(1),
            ..claim
        };
        let (looked, abandoned) =
            futures_join(store.begin(&later), store.abandon("key:churn", &key, at)).await;
        abandoned.unwrap();
        let looked = looked.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            matches!(looked, Begin::Started | Begin::InProgress),
            "round {round}: {looked:?}"
        );
    }
}

/// The reconciler's query: `starting` and `stopping` instances of every tenant, not
/// changed since the given instant, longest-waiting first, bounded.
pub async fn instances_unsettled_cross_tenants_oldest_first(ports: &Ports) {
    let (a, b) = (tenant(ports).await, tenant(ports).await);
    let base = now() - Duration::minutes(10);
    let mut made = Vec::new();
    for (n, (t, status, age)) in [
        (a, Status::Starting, 5),
        (b, Status::Stopping, 7),
        (a, Status::Running, 9),
        (b, Status::Stopped, 9),
        (a, Status::Failed, 9),
        (b, Status::Starting, 0),
        (a, Status::Stopping, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let mut i = instance(t, &format!("u{n}"), base);
        i.status = status;
        i.updated_at = base + Duration::minutes(10 - age);
        ports.instances.insert(&i, &ev()).await.unwrap();
        made.push(i);
    }
    let before = base + Duration::minutes(7);
    let names = |v: Vec<Instance>| -> Vec<String> {
        v.into_iter().map(|i| i.name.as_str().to_owned()).collect()
    };
    // u1 changed at +3, u0 at +5, u6 at +7 (inclusive); u5 at +10 is too recent.
    let found = ports.instances.unsettled(before, 100).await.unwrap();
    assert_eq!(names(found.clone()), ["u1", "u0", "u6"]);
    assert_eq!(found[0], made[1]);
    assert_eq!(
        names(ports.instances.unsettled(before, 2).await.unwrap()),
        ["u1", "u0"]
    );
    let moved = ports
        .instances
        .transition(
            a,
            made[0].id,
            Status::Starting,
            Status::Running,
            None,
            now(),
            None,
        )
        .await
        .unwrap();
    assert!(moved.is_some());
    assert_eq!(
        names(ports.instances.unsettled(before, 100).await.unwrap()),
        ["u1", "u6"]
    );
}

/// `running` lists every tenant's running instances by id, a batch at a time; a
/// transition records its reason and the next one clears it.
pub async fn instances_running_cross_tenants_with_reasons(ports: &Ports) {
    let (a, b) = (tenant(ports).await, tenant(ports).await);
    let mut running = Vec::new();
    for (n, (t, status)) in [
        (a, Status::Running),
        (b, Status::Running),
        (a, Status::Stopped),
        (b, Status::Running),
        (a, Status::Failed),
        (a, Status::Running),
    ]
    .into_iter()
    .enumerate()
    {
        let mut i = instance(t, &format!("r{n}"), now());
        i.status = status;
        ports.instances.insert(&i, &ev()).await.unwrap();
        if status == Status::Running {
            running.push(i.id);
        }
    }
    running.sort();
    let first = ports.instances.running(None, 3).await.unwrap();
    let ids: Vec<InstanceId> = first.iter().map(|i| i.id).collect();
    assert_eq!(ids, running[..3]);
    let rest = ports
        .instances
        .running(ids.last().copied(), 3)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|i| i.id).collect::<Vec<_>>(), running[3..]);

    let died = first[0].clone();
    let failed = ports
        .instances
        .transition(
            died.tenant_id,
            died.id,
            Status::Running,
            Status::Failed,
            Some("exited with code 1"),
            now(),
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status_reason.as_deref(), Some("exited with code 1"));
    let found = ports
        .instances
        .find(died.tenant_id, died.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, failed);
    assert_eq!(ports.instances.running(None, 10).await.unwrap().len(), 3);
    let restarted = ports
        .instances
        .transition(
            died.tenant_id,
            died.id,
            Status::Failed,
            Status::Starting,
            None,
            now(),
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restarted.status_reason, None);
}

/// Sessions are found by the hash of their secret, end one at a time, and are swept
/// once expired (at exactly their expiry).
pub async fn sessions_find_end_and_sweep(ports: &Ports) {
    use hydracore_auth::{Session, SessionId};
    let (u, _) = signed_up(ports, "ada@example.com").await;
    let t0 = now();
    let session = |minutes: i64| Session {
        id: SessionId::new(),
        user_id: u.id,
        created_at: t0,
        expires_at: t0 + Duration::minutes(minutes),
    };
    let (a, b, c) = (session(10), session(20), session(30));
    for (s, h) in [(&a, [1u8; 32]), (&b, [2u8; 32]), (&c, [3u8; 32])] {
        ports.sessions.insert(s, &h, None).await.unwrap();
    }
    assert!(is_duplicate(
        ports.sessions.insert(&session(5), &[3u8; 32], None).await
    ));
    assert_eq!(
        ports.sessions.find_by_hash(&[1u8; 32]).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(ports.sessions.find_by_hash(&[9u8; 32]).await.unwrap(), None);

    assert!(
        ports
            .sessions
            .delete_by_hash(&[2u8; 32], None)
            .await
            .unwrap()
    );
    assert!(
        !ports
            .sessions
            .delete_by_hash(&[2u8; 32], None)
            .await
            .unwrap()
    );
    assert_eq!(ports.sessions.find_by_hash(&[2u8; 32]).await.unwrap(), None);

    assert_eq!(
        ports
            .sessions
            .delete_expired(t0 + Duration::minutes(9))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        ports
            .sessions
            .delete_expired(t0 + Duration::minutes(10))
            .await
            .unwrap(),
        1
    );
    assert_eq!(ports.sessions.find_by_hash(&[1u8; 32]).await.unwrap(), None);
    assert_eq!(
        ports.sessions.find_by_hash(&[3u8; 32]).await.unwrap(),
        Some(c)
    );
}

/// An event of `tenant` on `target`, `at`.
fn event_of(
    tenant: TenantId,
    action: hydracore_core::audit::Action,
    target: InstanceId,
    at: OffsetDateTime,
) -> hydracore_core::audit::AuditEvent {
    let target = target.0;
    use hydracore_core::audit::{AuditActor, AuditEvent, AuditTarget, TargetKind, Who};
    let mut who = Who::new(AuditActor::user(target, "ada@example.com"));
    who.request_id = Some("req-7".into());
    who.client = Some("203.0.113.9".parse().unwrap());
    AuditEvent::new(
        Some(tenant.0),
        at,
        action,
        &who,
        AuditTarget::new(TargetKind::Instance, target, "web"),
    )
    .with_fields(["name", "config"])
}

/// A change stores its event; a change that does not happen (a taken name, a
/// compare-and-set that misses, an unknown row, a refused role change) stores none.
pub async fn audit_events_come_with_their_change_only(ports: &Ports) {
    use hydracore_audit::AuditQuery;
    use hydracore_core::audit::Action;
    let t = tenant(ports).await;
    let i = instance(t, "web", now());
    let created = event_of(t, Action::InstanceCreated, i.id, now());
    ports.instances.insert(&i, &created).await.unwrap();
    let taken = event_of(t, Action::InstanceCreated, InstanceId::new(), now());
    let mut twin = instance(t, "web", now());
    twin.id = InstanceId::new();
    assert!(is_duplicate(ports.instances.insert(&twin, &taken).await));
    let missed = event_of(t, Action::InstanceStarted, i.id, now());
    let moved = ports
        .instances
        .transition(
            t,
            i.id,
            Status::Running,
            Status::Stopping,
            None,
            now(),
            Some(&missed),
        )
        .await
        .unwrap();
    assert!(moved.is_none());
    let started = event_of(t, Action::InstanceStarted, i.id, now());
    ports
        .instances
        .transition(
            t,
            i.id,
            i.status,
            Status::Starting,
            None,
            now(),
            Some(&started),
        )
        .await
        .unwrap()
        .unwrap();
    let gone = event_of(t, Action::InstanceDeleted, InstanceId::new(), now());
    assert!(
        !ports
            .instances
            .delete(t, InstanceId::new(), &gone)
            .await
            .unwrap()
    );
    let (u, _) = signed_up(ports, "owner@example.com").await;
    let refused = event_of(t, Action::MemberRoleChanged, InstanceId(u.id.0), now());
    let change = ports
        .members
        .change_role(t, u.id, Role::Viewer, &[Role::Viewer], &refused)
        .await
        .unwrap();
    assert_eq!(change, MembershipChange::NotFound);
    let listed = ports
        .audit
        .list(Some(t), &AuditQuery::default(), PageRequest::first())
        .await
        .unwrap()
        .items;
    let ids: Vec<_> = listed.iter().map(|e| e.id).collect();
    assert_eq!(ids, [created.id, started.id]);
    assert_eq!(listed[0], created, "read back as written, field by field");
    assert_eq!(
        ports.audit.find(t, started.id).await.unwrap(),
        Some(started.clone())
    );
    let other = tenant(ports).await;
    assert_eq!(ports.audit.find(other, started.id).await.unwrap(), None);
}

/// The log filters by actor, action, target and time, reads newest first page by
/// page, and forgets what is older than the cutoff.
pub async fn audit_events_filter_page_and_sweep(ports: &Ports) {
    use hydracore_audit::AuditQuery;
    use hydracore_core::audit::Action;
    let t = tenant(ports).await;
    let t0 = now();
    let (a, b) = (InstanceId::new(), InstanceId::new());
    let events = [
        event_of(t, Action::InstanceCreated, a, t0),
        event_of(t, Action::InstanceStarted, a, t0 + Duration::seconds(1)),
        event_of(t, Action::InstanceCreated, b, t0 + Duration::seconds(2)),
        event_of(t, Action::InstanceDeleted, a, t0 + Duration::seconds(3)),
    ];
    // Written as the changes that carry them would: through a transition each.
    for (n, e) in events.iter().enumerate() {
        let mut i = instance(t, &format!("i{n}"), e.at);
        i.id = InstanceId::new();
        ports.instances.insert(&i, e).await.unwrap();
    }
    let list = |q: AuditQuery| async move {
        all_pages(2, |p| {
            let q = q.clone();
            async move { ports.audit.list(Some(t), &q, p).await }
        })
        .await
        .into_iter()
        .map(|e| e.id)
        .collect::<Vec<_>>()
    };
    let id = |n: usize| events[n].id;
    assert_eq!(
        list(AuditQuery {
            newest_first: true,
            ..AuditQuery::default()
        })
        .await,
        [id(3), id(2), id(1), id(0)]
    );
    assert_eq!(
        list(AuditQuery {
            target_id: Some(a.0),
            actions: vec![Action::InstanceCreated, Action::InstanceDeleted],
            ..AuditQuery::default()
        })
        .await,
        [id(0), id(3)]
    );
    assert_eq!(
        list(AuditQuery {
            actor_id: Some(b.0),
            ..AuditQuery::default()
        })
        .await,
        [id(2)]
    );
    assert_eq!(
        list(AuditQuery {
            since: Some(t0 + Duration::seconds(1)),
            until: Some(t0 + Duration::seconds(3)),
            ..AuditQuery::default()
        })
        .await,
        [id(1), id(2)]
    );
    // The two older events go, with the one `tenant` wrote before them.
    assert_eq!(
        ports.audit.sweep(t0 + Duration::seconds(2)).await.unwrap(),
        3
    );
    assert_eq!(list(AuditQuery::default()).await, [id(2), id(3)]);
}

/// A grant and its code, for user `u` in tenant `t`.
fn oauth_grant(
    u: &User,
    t: &Tenant,
    code: [u8; 32],
) -> (
    hydracore_auth::oauth::Grant,
    hydracore_auth::oauth::StoredToken,
) {
    use hydracore_auth::oauth::{Grant, GrantId, StoredToken, TokenKind};
    let at = now();
    let grant = Grant {
        id: GrantId::new(),
        tenant_id: t.id,
        user_id: u.id,
        client_id: "https://app.example.com/client.json".into(),
        client_name: "App".into(),
        scopes: ScopeSet::parse(&["instances:read", "mcp-log:read"]).unwrap(),
        resource: "https://hc.example.com/mcp".into(),
        created_at: at,
        last_used_at: None,
        revoked_at: None,
    };
    let code = StoredToken {
        hash: code,
        grant_id: grant.id,
        kind: TokenKind::Code,
        scopes: grant.scopes.clone(),
        redirect_uri: Some("http://127.0.0.1:9/cb".into()),
        challenge: Some("c".repeat(43)),
        created_at: at,
        expires_at: at + Duration::minutes(5),
        used_at: None,
    };
    (grant, code)
}

fn oauth_token(
    grant: &hydracore_auth::oauth::Grant,
    kind: hydracore_auth::oauth::TokenKind,
    hash: [u8; 32],
    minutes: i64,
) -> hydracore_auth::oauth::StoredToken {
    hydracore_auth::oauth::StoredToken {
        hash,
        grant_id: grant.id,
        kind,
        scopes: ScopeSet::parse(&["instances:read"]).unwrap(),
        redirect_uri: None,
        challenge: None,
        created_at: now(),
        expires_at: now() + Duration::minutes(minutes),
        used_at: None,
    }
}

/// Clients, grants and codes round-trip; a code or refresh token is exchanged exactly
/// once, even by racing exchanges, and stores its successors only then.
pub async fn oauth_codes_and_tokens_exchange_once(ports: &Ports) {
    use hydracore_auth::oauth::{OAuthClient, TokenKind};
    let client = OAuthClient {
        id: "hc_client_1".into(),
        name: "Claude".into(),
        redirect_uris: vec!["https://claude.ai/api/mcp/auth_callback".into()],
        created_at: now(),
    };
    ports.oauth.insert_client(&client).await.unwrap();
    assert_eq!(
        ports.oauth.find_client("hc_client_1").await.unwrap(),
        Some(client)
    );
    assert_eq!(ports.oauth.find_client("hc_client_2").await.unwrap(), None);

    let (u, t) = signed_up(ports, "ada@example.com").await;
    let (grant, code) = oauth_grant(&u, &t, [1; 32]);
    ports
        .oauth
        .insert_grant(&grant, &code, &ev())
        .await
        .unwrap();
    let (found, of) = ports.oauth.find_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!((found, of), (code.clone(), grant.clone()));
    assert_eq!(ports.oauth.find_token(&[9; 32]).await.unwrap(), None);

    // Eight exchanges of one code at once: one wins, and only its tokens exist.
    let at = now();
    let racers: Vec<_> = (0..8u8)
        .map(|i| {
            let oauth = ports.oauth.clone();
            let new = vec![
                oauth_token(&grant, TokenKind::Access, [10 + i; 32], 60),
                oauth_token(&grant, TokenKind::Refresh, [20 + i; 32], 600),
            ];
            async move { oauth.exchange(&[1; 32], at, &new).await.unwrap() }
        })
        .collect();
    let won = futures_join_all(racers).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let winner = u8::try_from(won.iter().position(|w| *w).unwrap()).unwrap();
    for i in 0..8u8 {
        let stored = ports.oauth.find_token(&[10 + i; 32]).await.unwrap();
        assert_eq!(stored.is_some(), i == winner, "racer {i}");
    }
    let (spent, _) = ports.oauth.find_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(spent.used_at, Some(at));
    let (refresh, _) = ports
        .oauth
        .find_token(&[20 + winner; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refresh.kind, TokenKind::Refresh);
    assert_eq!(refresh.used_at, None);

    // An access token can be deleted alone; the grant is touched.
    ports.oauth.delete_token(&[10 + winner; 32]).await.unwrap();
    assert_eq!(
        ports.oauth.find_token(&[10 + winner; 32]).await.unwrap(),
        None
    );
    ports.oauth.touch(grant.id, at).await.unwrap();
    let g = ports.oauth.find_grant(grant.id).await.unwrap().unwrap();
    assert_eq!(g.last_used_at, Some(at));
}

/// Revoking a grant deletes its tokens and stores its event, once; a revoked grant's
/// tokens cannot be exchanged; the sweep takes expired tokens and revoked grants.
pub async fn oauth_grants_revoke_with_their_tokens(ports: &Ports) {
    use hydracore_auth::oauth::TokenKind;
    let (u, t) = signed_up(ports, "ada@example.com").await;
    let (a, code_a) = oauth_grant(&u, &t, [1; 32]);
    let (b, code_b) = oauth_grant(&u, &t, [2; 32]);
    ports.oauth.insert_grant(&a, &code_a, &ev()).await.unwrap();
    ports.oauth.insert_grant(&b, &code_b, &ev()).await.unwrap();
    let listed = ports.oauth.grants_of(u.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    let events_before = ports
        .audit
        .list(
            None,
            &hydracore_audit::AuditQuery::default(),
            PageRequest::new(100, None).unwrap(),
        )
        .await
        .unwrap()
        .items
        .len();

    let refresh = [oauth_token(&a, TokenKind::Refresh, [3; 32], 600)];
    assert!(
        ports
            .oauth
            .exchange(&[1; 32], now(), &refresh)
            .await
            .unwrap()
    );
    // Allowed again, wider: the grant keeps its id and tokens, and gets a new code.
    let wider = ScopeSet::parse(&["instances:read", "instances:write", "mcp-log:read"]).unwrap();
    let again = oauth_token(&a, TokenKind::Code, [4; 32], 5);
    assert!(
        ports
            .oauth
            .extend_grant(a.id, &wider, "App 2", &again, &ev())
            .await
            .unwrap()
    );
    let g = ports.oauth.find_grant(a.id).await.unwrap().unwrap();
    assert_eq!((g.scopes, g.client_name.as_str()), (wider.clone(), "App 2"));
    assert!(ports.oauth.find_token(&[3; 32]).await.unwrap().is_some());
    assert!(ports.oauth.find_token(&[4; 32]).await.unwrap().is_some());
    assert!(ports.oauth.revoke_grant(a.id, now(), &ev()).await.unwrap());
    assert!(!ports.oauth.revoke_grant(a.id, now(), &ev()).await.unwrap());
    assert_eq!(ports.oauth.find_token(&[3; 32]).await.unwrap(), None);
    assert!(
        ports
            .oauth
            .find_grant(a.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let events_after = ports
        .audit
        .list(
            None,
            &hydracore_audit::AuditQuery::default(),
            PageRequest::new(100, None).unwrap(),
        )
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(events_after, events_before + 2);
    // A revoked grant is not widened, and stores nothing.
    let late = oauth_token(&a, TokenKind::Code, [5; 32], 5);
    assert!(
        !ports
            .oauth
            .extend_grant(a.id, &wider, "App", &late, &ev())
            .await
            .unwrap()
    );
    assert_eq!(ports.oauth.find_token(&[5; 32]).await.unwrap(), None);
    assert_eq!(
        ports
            .oauth
            .grants_of(u.id)
            .await
            .unwrap()
            .iter()
            .map(|g| g.id)
            .collect::<Vec<_>>(),
        vec![b.id]
    );

    // The sweep: b's code expires in five minutes; a is revoked.
    assert_eq!(ports.oauth.sweep(now()).await.unwrap(), 1);
    assert_eq!(ports.oauth.find_grant(a.id).await.unwrap(), None);
    assert!(ports.oauth.find_token(&[2; 32]).await.unwrap().is_some());
    ports
        .oauth
        .sweep(now() + Duration::minutes(6))
        .await
        .unwrap();
    assert_eq!(ports.oauth.find_token(&[2; 32]).await.unwrap(), None);
}
