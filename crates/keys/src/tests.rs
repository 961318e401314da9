use std::sync::Arc;

use hydracore_core::SystemClock;

use super::testing::InMemoryKeyRepository;
use super::*;

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
        .mint(tenant, Grantor::Operator, mint_req(&["instances:read"]))
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
        .mint(tenant, Grantor::Operator, mint_req(&["instances:read"]))
        .await
        .unwrap();
    svc.revoke(tenant, minted.key.id).await.unwrap();
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
        svc.mint(tenant, Grantor::Operator, req).await,
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
            Grantor::Holder(&holder),
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
        svc.revoke(other, minted.key.id).await,
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
        .mint(tenant, Grantor::Operator, mint_req(&["instances:read"]))
        .await
        .unwrap();
    let new = svc
        .rotate(tenant, Grantor::Operator, old.key.id, Some(0))
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
        svc.rotate(tenant, Grantor::Holder(&weaker), new.key.id, None)
            .await,
        Err(KeyError::ScopeNotGranted(_))
    ));
    assert!(matches!(
        svc.rotate(
            tenant,
            Grantor::Operator,
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
        .mint(tenant, Grantor::Operator, mint_req(&["instances:read"]))
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
    let svc = KeyService::new(repo.clone(), Arc::new(SystemClock)).with_cache(cache.clone(), None);
    let tenant = TenantId::new();
    let minted = svc
        .mint(tenant, Grantor::Operator, mint_req(&["instances:read"]))
        .await
        .unwrap();
    svc.verify(minted.secret.expose()).await.unwrap();
    // Revoked here: dropped at once.
    svc.revoke(tenant, minted.key.id).await.unwrap();
    assert!(matches!(
        svc.verify(minted.secret.expose()).await,
        Err(VerifyError::Revoked)
    ));
    // Revoked by another node: the cached entry serves until that node's announcement.
    let other = svc
        .mint(tenant, Grantor::Operator, mint_req(&["instances:read"]))
        .await
        .unwrap();
    svc.verify(other.secret.expose()).await.unwrap();
    repo.revoke(tenant, other.key.id, OffsetDateTime::now_utc())
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
        .mint(tenant, Grantor::Operator, mint_req(&["instances:read"]))
        .await
        .unwrap();
    svc.verify(third.secret.expose()).await.unwrap();
    cache.set_live(false);
    repo.revoke(tenant, third.key.id, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(matches!(
        svc.verify(third.secret.expose()).await,
        Err(VerifyError::Revoked)
    ));
}
