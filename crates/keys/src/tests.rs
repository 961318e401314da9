use std::sync::Arc;

use hydracore_core::{Clock, RepoError, SystemClock};

use super::cache::Lookup;
use super::testing::InMemoryKeyRepository;
use super::*;
use hydracore_core::PageRequest;
use hydracore_core::audit::{Action, AuditEvent, AuditTarget, TargetKind, Who};

/// An event for a change a test makes straight through the repository.
fn some_event() -> AuditEvent {
    AuditEvent::new(
        None,
        OffsetDateTime::now_utc(),
        Action::ApiKeyRevoked,
        &Who::ops(),
        AuditTarget::new(TargetKind::ApiKey, ApiKeyId::new().0, "test"),
    )
}
use hydracore_scopes::ScopeSet;
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

fn service() -> KeyService {
    KeyService::new(
        Arc::new(InMemoryKeyRepository::default()),
        Arc::new(SystemClock),
    )
}

fn mint_req(scopes: &[&str]) -> MintKey {
    MintKey {
        name: "ci".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..MintKey::default()
    }
}

#[tokio::test]
async fn minted_key_verifies_and_is_stored_only_hashed() {
    let svc = service();
    let tenant = TenantId::new();
    let minted = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    assert!(minted.secret.expose().starts_with(KEY_PREFIX));
    assert!(minted.secret.expose().starts_with(&minted.key.prefix));
    assert!(!format!("{:?}", minted.secret).contains(minted.secret.expose()));
    let verified = svc.verify(minted.secret.expose()).await.unwrap();
    assert_eq!(verified.id, minted.key.id);
    assert!(matches!(
        svc.verify("hc_live_nothex").await,
        Err(VerifyError::Unknown)
    ));
}

#[tokio::test]
async fn revoked_and_expired_keys_do_not_verify() {
    let svc = service();
    let tenant = TenantId::new();
    let minted = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    svc.revoke(tenant, Grantor::Operator, &Who::ops(), minted.key.id)
        .await
        .unwrap();
    assert!(matches!(
        svc.verify(minted.secret.expose()).await,
        Err(VerifyError::Revoked)
    ));
    assert!(matches!(
        svc.get(tenant, minted.key.id).await,
        Err(KeyError::NotFound)
    ));
    let past = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let mut req = mint_req(&["instances:read"]);
    req.expires_at = Some(past);
    assert!(matches!(
        svc.mint(tenant, Grantor::Operator, &Who::ops(), req).await,
        Err(KeyError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_key_cannot_grant_more_than_it_holds() {
    let svc = service();
    let holder = ScopeSet::parse(&["api-keys:write", "instances:read"]).unwrap();
    let err = svc
        .mint(
            TenantId::new(),
            Grantor::holder(&holder, None),
            &Who::ops(),
            mint_req(&["instances:read", "instances:write"]),
        )
        .await
        .unwrap_err();
    match err {
        KeyError::ScopeNotGranted(s) => assert_eq!(s, vec!["instances:write".to_owned()]),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn bad_scopes_name_their_index() {
    let err = service()
        .mint(
            TenantId::new(),
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read", "instances:fly"]),
        )
        .await
        .unwrap_err();
    match err {
        KeyError::Invalid(v) => assert_eq!(v.field, vec!["scopes".to_owned(), "1".to_owned()]),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn other_tenants_keys_are_invisible() {
    let svc = service();
    let minted = svc
        .mint(
            TenantId::new(),
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    let other = TenantId::new();
    assert!(matches!(
        svc.get(other, minted.key.id).await,
        Err(KeyError::NotFound)
    ));
    assert!(matches!(
        svc.revoke(other, Grantor::Operator, &Who::ops(), minted.key.id)
            .await,
        Err(KeyError::NotFound)
    ));
    assert!(
        svc.list(other, PageRequest::first())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn rotation_keeps_scopes_and_bounds_the_old_keys_life() {
    let svc = service();
    let tenant = TenantId::new();
    let old = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    let new = svc
        .rotate(tenant, Grantor::Operator, &Who::ops(), old.key.id, Some(0))
        .await
        .unwrap();
    assert_eq!(new.key.scopes, old.key.scopes);
    assert_ne!(new.secret.expose(), old.secret.expose());
    assert!(svc.verify(new.secret.expose()).await.is_ok());
    assert!(matches!(
        svc.verify(old.secret.expose()).await,
        Err(VerifyError::Expired)
    ));
    let weaker = ScopeSet::parse(&["api-keys:write"]).unwrap();
    assert!(matches!(
        svc.rotate(
            tenant,
            Grantor::holder(&weaker, None),
            &Who::ops(),
            new.key.id,
            None
        )
        .await,
        Err(KeyError::NotManageable(_))
    ));
    assert!(matches!(
        svc.rotate(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            new.key.id,
            Some(MAX_ROTATION_GRACE_SECONDS + 1)
        )
        .await,
        Err(KeyError::Invalid(_))
    ));
}

#[tokio::test]
async fn usage_is_written_only_when_flushed() {
    let svc = service();
    let tenant = TenantId::new();
    let minted = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    svc.verify(minted.secret.expose()).await.unwrap();
    assert_eq!(
        svc.get(tenant, minted.key.id).await.unwrap().last_used_at,
        None
    );
    assert_eq!(svc.flush_usage().await.unwrap(), 1);
    assert!(
        svc.get(tenant, minted.key.id)
            .await
            .unwrap()
            .last_used_at
            .is_some()
    );
    assert_eq!(svc.flush_usage().await.unwrap(), 0);
}

#[tokio::test]
async fn cached_keys_are_dropped_when_changed_here_or_elsewhere() {
    let repo = Arc::new(InMemoryKeyRepository::default());
    let cache = Arc::new(KeyCache::new(std::time::Duration::from_secs(60), true));
    let svc = KeyService::new(repo.clone(), Arc::new(SystemClock)).with_cache(cache.clone());
    let tenant = TenantId::new();
    let minted = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    svc.verify(minted.secret.expose()).await.unwrap();
    // Revoked here: dropped at once.
    svc.revoke(tenant, Grantor::Operator, &Who::ops(), minted.key.id)
        .await
        .unwrap();
    assert!(matches!(
        svc.verify(minted.secret.expose()).await,
        Err(VerifyError::Revoked)
    ));
    // Revoked by another node: the cached entry serves until that node's announcement.
    let other = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    svc.verify(other.secret.expose()).await.unwrap();
    repo.revoke(
        tenant,
        other.key.id,
        OffsetDateTime::now_utc(),
        &some_event(),
    )
    .await
    .unwrap();
    assert!(svc.verify(other.secret.expose()).await.is_ok());
    svc.forget(other.key.id);
    assert!(matches!(
        svc.verify(other.secret.expose()).await,
        Err(VerifyError::Revoked)
    ));
    // With the change feed down the cache is bypassed.
    let third = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    svc.verify(third.secret.expose()).await.unwrap();
    cache.set_live(false);
    repo.revoke(
        tenant,
        third.key.id,
        OffsetDateTime::now_utc(),
        &some_event(),
    )
    .await
    .unwrap();
    assert!(matches!(
        svc.verify(third.secret.expose()).await,
        Err(VerifyError::Revoked)
    ));
}

#[tokio::test]
async fn a_key_is_rotated_once_and_never_once_expired() {
    let svc = service();
    let tenant = TenantId::new();
    let old = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    let new = svc
        .rotate(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            old.key.id,
            Some(3600),
        )
        .await
        .unwrap();
    // The old key still works through its grace, but is rotated: its successor is the
    // key to rotate, and it keeps its own (absent) expiry rather than the grace's end.
    assert!(svc.verify(old.secret.expose()).await.is_ok());
    assert!(matches!(
        svc.rotate(tenant, Grantor::Operator, &Who::ops(), old.key.id, None)
            .await,
        Err(KeyError::NotRotatable(NotRotatable::Rotated))
    ));
    assert_eq!(new.key.expires_at, None);
    let again = svc
        .rotate(tenant, Grantor::Operator, &Who::ops(), new.key.id, Some(0))
        .await
        .unwrap();
    assert_eq!(again.key.expires_at, None);
    // Nor is a key whose expiry has passed.
    let repo = Arc::new(InMemoryKeyRepository::default());
    let svc = KeyService::new(repo.clone(), Arc::new(SystemClock));
    let secret = KeySecret::generate();
    let past = OffsetDateTime::now_utc() - time::Duration::seconds(5);
    let dead = ApiKey {
        id: ApiKeyId::new(),
        tenant_id: tenant,
        name: "dead".into(),
        prefix: secret.display_prefix(),
        scopes: ScopeSet::parse(&["instances:read"]).unwrap(),
        created_at: past - time::Duration::hours(1),
        expires_at: Some(past),
        revoked_at: None,
        last_used_at: None,
        rate_limit: None,
        rotated_at: None,
    };
    repo.insert(&dead, &secret.hash(), &some_event())
        .await
        .unwrap();
    assert!(matches!(
        svc.rotate(tenant, Grantor::Operator, &Who::ops(), dead.id, None)
            .await,
        Err(KeyError::NotRotatable(NotRotatable::Expired))
    ));
}

#[tokio::test]
async fn a_caller_manages_only_keys_it_could_have_minted() {
    let svc = service();
    let tenant = TenantId::new();
    let strong = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read", "instances:delete"]),
        )
        .await
        .unwrap();
    let weak_scopes = ScopeSet::parse(&["api-keys:write", "instances:read"]).unwrap();
    let weak = Grantor::holder(&weak_scopes, None);
    let rename = KeyPatch {
        name: Some("mine now".into()),
        ..KeyPatch::default()
    };
    for result in [
        svc.update(tenant, weak, &Who::ops(), strong.key.id, rename.clone())
            .await
            .map(|_| ()),
        svc.revoke(tenant, weak, &Who::ops(), strong.key.id).await,
        svc.rotate(tenant, weak, &Who::ops(), strong.key.id, None)
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(KeyError::NotManageable(missing)) => {
                assert_eq!(missing, vec!["instances:delete".to_owned()]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(svc.get(tenant, strong.key.id).await.unwrap().name, "ci");
    let held = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    assert_eq!(
        svc.update(tenant, weak, &Who::ops(), held.key.id, rename)
            .await
            .unwrap()
            .name,
        "mine now"
    );
    svc.revoke(tenant, weak, &Who::ops(), held.key.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_key_tightens_its_own_limits_but_never_loosens_them() {
    let svc = service().with_default_rate_limit(RateLimit::new(100, 60).unwrap());
    let tenant = TenantId::new();
    let mut req = mint_req(&["api-keys:write"]);
    req.rate_limit = Some(RateLimit::new(10, 60).unwrap());
    req.expires_at = Some(OffsetDateTime::now_utc() + time::Duration::days(30));
    let me = svc
        .mint(tenant, Grantor::Operator, &Who::ops(), req)
        .await
        .unwrap();
    let scopes = me.key.scopes.clone();
    let myself = Grantor::holder(&scopes, Some(me.key.id));
    let limit = |n, per| KeyPatch {
        rate_limit: Some(Some(RateLimit::new(n, per).unwrap())),
        ..KeyPatch::default()
    };
    for looser in [
        limit(1_000_000, 1),
        limit(11, 60),
        limit(10, 59),
        KeyPatch {
            rate_limit: Some(None),
            ..KeyPatch::default()
        },
        KeyPatch {
            expires_at: Some(None),
            ..KeyPatch::default()
        },
        KeyPatch {
            expires_at: Some(Some(OffsetDateTime::now_utc() + time::Duration::days(90))),
            ..KeyPatch::default()
        },
    ] {
        assert!(
            matches!(
                svc.update(tenant, myself, &Who::ops(), me.key.id, looser.clone())
                    .await,
                Err(KeyError::OwnLimit(_))
            ),
            "{looser:?}"
        );
    }
    let stored = svc.get(tenant, me.key.id).await.unwrap();
    assert_eq!(stored.rate_limit, Some(RateLimit::new(10, 60).unwrap()));
    // Tighter is fine, for itself as for another key.
    let tighter = svc
        .update(tenant, myself, &Who::ops(), me.key.id, limit(5, 120))
        .await
        .unwrap();
    assert_eq!(tighter.rate_limit, Some(RateLimit::new(5, 120).unwrap()));
    let soon = OffsetDateTime::now_utc() + time::Duration::days(1);
    let sooner = svc
        .update(
            tenant,
            myself,
            &Who::ops(),
            me.key.id,
            KeyPatch {
                expires_at: Some(Some(soon)),
                ..KeyPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(sooner.expires_at, Some(soon));
    let other = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["api-keys:write"]),
        )
        .await
        .unwrap();
    assert!(
        svc.update(
            tenant,
            myself,
            &Who::ops(),
            other.key.id,
            limit(1_000_000, 1)
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn a_read_racing_a_change_cannot_put_the_stale_key_back() {
    let repo = Arc::new(InMemoryKeyRepository::default());
    let cache = Arc::new(KeyCache::new(std::time::Duration::from_secs(60), true));
    let svc = KeyService::new(repo.clone(), Arc::new(SystemClock)).with_cache(cache.clone());
    let tenant = TenantId::new();
    let minted = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    let hash = minted.secret.hash();
    // A verification misses the cache and reads the live key...
    let Lookup::Miss(seen) = cache.get(&hash) else {
        panic!("nothing is cached yet");
    };
    let stale = repo.find_by_hash(&hash).await.unwrap().unwrap();
    // ...the key is revoked and forgotten meanwhile...
    svc.revoke(tenant, Grantor::Operator, &Who::ops(), minted.key.id)
        .await
        .unwrap();
    // ...and the late verification's put is refused.
    cache.put(hash, stale, seen);
    assert!(matches!(
        svc.verify(minted.secret.expose()).await,
        Err(VerifyError::Revoked)
    ));
}

#[tokio::test]
async fn every_key_change_leaves_one_event_naming_what_changed() {
    let repo = Arc::new(InMemoryKeyRepository::default());
    let svc = KeyService::new(repo.clone(), Arc::new(SystemClock));
    let tenant = TenantId::new();
    let who = Who::new(hydracore_core::audit::AuditActor::user(
        TenantId::new().0,
        "ada@example.com",
    ));
    let minted = svc
        .mint(
            tenant,
            Grantor::Operator,
            &who,
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap();
    let patch = KeyPatch {
        name: Some("renamed".into()),
        scopes: Some(vec!["instances:read".into()]),
        ..KeyPatch::default()
    };
    svc.update(tenant, Grantor::Operator, &who, minted.key.id, patch)
        .await
        .unwrap();
    let rotated = svc
        .rotate(tenant, Grantor::Operator, &who, minted.key.id, Some(0))
        .await
        .unwrap();
    svc.revoke(tenant, Grantor::Operator, &who, rotated.key.id)
        .await
        .unwrap();
    // Refused changes leave nothing.
    assert!(
        svc.revoke(tenant, Grantor::Operator, &who, rotated.key.id)
            .await
            .is_err()
    );
    assert!(
        svc.mint(tenant, Grantor::Operator, &who, mint_req(&["nope:read"]))
            .await
            .is_err()
    );
    let events = repo.events();
    let seen: Vec<(Action, Vec<String>)> = events
        .iter()
        .map(|e| (e.action, e.fields.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Action::ApiKeyMinted, vec![]),
            (Action::ApiKeyUpdated, vec!["name".to_owned()]),
            (Action::ApiKeyRotated, vec!["expires_at".to_owned()]),
            (Action::ApiKeyRevoked, vec![]),
        ]
    );
    assert!(events.iter().all(|e| e.actor.name == "ada@example.com"));
    assert!(events.iter().all(|e| e.tenant_id == Some(tenant.0)));
    assert_eq!(
        events[1].target.name, "ci",
        "named as it was before the change"
    );
    assert_eq!(events[2].target.id, minted.key.id.0, "the rotated key");
}

/// A key repository whose `add_usage` fails while `down` is set.
#[derive(Default)]
struct FlakyUsage {
    inner: InMemoryKeyRepository,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl KeyRepository for FlakyUsage {
    async fn insert(
        &self,
        key: &ApiKey,
        hash: &KeyHash,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        self.inner.insert(key, hash, event).await
    }
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKey>, RepoError> {
        self.inner.find_by_hash(hash).await
    }
    async fn find(&self, tenant: TenantId, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError> {
        self.inner.find(tenant, id).await
    }
    async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<hydracore_core::Page<ApiKey>, RepoError> {
        self.inner.list(tenant, page).await
    }
    async fn update(&self, key: &ApiKey, event: &AuditEvent) -> Result<bool, RepoError> {
        self.inner.update(key, event).await
    }
    async fn revoke(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        self.inner.revoke(tenant, id, at, event).await
    }
    async fn rotate(
        &self,
        old: ApiKeyId,
        at: OffsetDateTime,
        old_expires_at: OffsetDateTime,
        new: &ApiKey,
        hash: &KeyHash,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        self.inner
            .rotate(old, at, old_expires_at, new, hash, event)
            .await
    }
    async fn record_usage(&self, used: &[(ApiKeyId, OffsetDateTime)]) -> Result<(), RepoError> {
        self.inner.record_usage(used).await
    }
    async fn add_usage(&self, buckets: &[UsageBucket]) -> Result<(), RepoError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(RepoError::Unavailable("the store is down".into()));
        }
        self.inner.add_usage(buckets).await
    }
    async fn usage(
        &self,
        tenant: TenantId,
        keys: &[ApiKeyId],
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<UsageBucket>, RepoError> {
        self.inner.usage(tenant, keys, since, until).await
    }
    async fn delete_usage_before(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        self.inner.delete_usage_before(before).await
    }
}

#[tokio::test]
async fn requests_are_counted_by_hour_and_outcome_and_kept_when_a_flush_fails() {
    let repo = Arc::new(FlakyUsage::default());
    let clock = Arc::new(hydracore_core::testing::ManualClock::new());
    let svc = KeyService::new(repo.clone(), clock.clone());
    let tenant = TenantId::new();
    let key = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap()
        .key;
    let this_hour = hour_of(clock.now());
    for outcome in [
        UsageOutcome::Ok,
        UsageOutcome::Ok,
        UsageOutcome::Forbidden,
        UsageOutcome::RateLimited,
    ] {
        svc.count_request(key.id, tenant, outcome);
    }
    // Nothing is written before a flush; a failed flush keeps every count.
    let read = |svc: KeyService| async move {
        svc.usage(tenant, key.id, None, None).await.unwrap().buckets
    };
    assert_eq!(read(svc.clone()).await, []);
    repo.down.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(svc.flush_usage().await.is_err());
    svc.count_request(key.id, tenant, UsageOutcome::ServerError);
    clock.advance(time::Duration::hours(1));
    svc.count_request(key.id, tenant, UsageOutcome::ClientError);
    repo.down.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(svc.flush_usage().await.unwrap(), 2);
    assert_eq!(svc.flush_usage().await.unwrap(), 0);
    let bucket = |hour, counts| UsageBucket {
        key_id: key.id,
        tenant_id: tenant,
        hour,
        counts,
    };
    assert_eq!(
        read(svc.clone()).await,
        [
            bucket(
                this_hour,
                UsageCounts {
                    ok: 2,
                    forbidden: 1,
                    rate_limited: 1,
                    server_error: 1,
                    ..UsageCounts::default()
                }
            ),
            bucket(
                this_hour + time::Duration::hours(1),
                UsageCounts {
                    client_error: 1,
                    ..UsageCounts::default()
                }
            ),
        ]
    );
}

#[tokio::test]
async fn usage_reads_a_bounded_range_of_the_tenants_live_keys() {
    let clock = Arc::new(hydracore_core::testing::ManualClock::new());
    let svc = KeyService::new(Arc::new(InMemoryKeyRepository::default()), clock.clone())
        .with_usage_retention(7);
    let tenant = TenantId::new();
    let key = svc
        .mint(
            tenant,
            Grantor::Operator,
            &Who::ops(),
            mint_req(&["instances:read"]),
        )
        .await
        .unwrap()
        .key;
    // Defaults: the 36 hours up to the end of this hour.
    let usage = svc.usage(tenant, key.id, None, None).await.unwrap();
    assert_eq!(usage.until, next_hour(clock.now()));
    assert_eq!(usage.since, usage.until - time::Duration::hours(36));
    let at = |hours: i64| usage.until + time::Duration::hours(hours);
    // A range that holds no instant covers nothing; one over 90 days is cut to 90.
    for (since, until) in [(at(0), at(0)), (at(1), at(0))] {
        let empty = svc
            .usage(tenant, key.id, Some(since), Some(until))
            .await
            .unwrap();
        assert!(empty.buckets.is_empty());
    }
    let long = svc
        .usage(tenant, key.id, Some(at(-90 * 24 - 1)), None)
        .await
        .unwrap();
    assert_eq!(long.since, at(-90 * 24));
    assert_eq!(long.until, at(0));
    // Another tenant's key, an unknown key: not found.
    assert!(matches!(
        svc.usage(TenantId::new(), key.id, None, None).await,
        Err(KeyError::NotFound)
    ));
    assert!(matches!(
        svc.usage(tenant, ApiKeyId::new(), None, None).await,
        Err(KeyError::NotFound)
    ));
    // Several keys in one read, in the order asked; the sweep keeps the retention.
    svc.count_request(key.id, tenant, UsageOutcome::Ok);
    svc.flush_usage().await.unwrap();
    let other = ApiKeyId::new();
    let both = svc
        .usage_of(tenant, &[other, key.id], None, None)
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!((both[0].key_id, both[0].buckets.len()), (other, 0));
    assert_eq!((both[1].key_id, both[1].buckets.len()), (key.id, 1));
    assert_eq!(svc.sweep_usage().await.unwrap(), 0);
    clock.advance(time::Duration::days(8));
    assert_eq!(svc.sweep_usage().await.unwrap(), 1);
}
