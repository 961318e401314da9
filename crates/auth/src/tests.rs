use std::sync::Arc;

use hydracore_core::SystemClock;
use hydracore_keys::testing::InMemoryKeyRepository;
use hydracore_keys::{ApiKeyId, Grantor, KeyService, MintKey};
use hydracore_scopes::{Role, Scope, ScopeSet};
use hydracore_tenants::testing::InMemoryTenants;
use hydracore_tenants::{
    Email, Tenant, TenantId, TenantName, TenantRepository, User, UserId, UserRepository,
};
use time::OffsetDateTime;

use super::*;

struct Fixture {
    auth: Authenticator,
    keys: KeyService,
    tenants: Arc<InMemoryTenants>,
    tokens: AccessTokens,
}

fn fixture() -> Fixture {
    let keys = KeyService::new(
        Arc::new(InMemoryKeyRepository::default()),
        Arc::new(SystemClock),
    );
    let tenants = Arc::new(InMemoryTenants::default());
    let tokens = AccessTokens::new(vec![7; 32], time::Duration::minutes(15)).unwrap();
    let auth = Authenticator::new(
        keys.clone(),
        tenants.clone(),
        tenants.clone(),
        tokens.clone(),
        Arc::new(SystemClock),
    );
    Fixture {
        auth,
        keys,
        tenants,
        tokens,
    }
}

/// A user who owns (and is active in) a tenant of their own.
async fn owner(tenants: &InMemoryTenants) -> (User, Tenant) {
    let now = OffsetDateTime::now_utc();
    let user = User {
        id: UserId::new(),
        email: Email::parse("ada@example.com").unwrap(),
        password_hash: "$argon2id$not-checked-here".into(),
        active_tenant_id: None,
        created_at: now,
    };
    let tenant = Tenant {
        id: TenantId::new(),
        name: TenantName::parse("Acme").unwrap(),
        created_at: now,
    };
    let event = hydracore_core::audit::AuditEvent::new(
        Some(tenant.id.0),
        now,
        hydracore_core::audit::Action::UserSignedUp,
        &hydracore_core::audit::Who::ops(),
        hydracore_core::audit::AuditTarget::new(
            hydracore_core::audit::TargetKind::User,
            user.id.0,
            "ada@example.com",
        ),
    );
    tenants
        .insert_with_tenant(&user, &tenant, &event)
        .await
        .unwrap();
    (user, tenant)
}

#[test]
fn a_principal_is_refused_a_scope_it_does_not_hold_by_name() {
    let id = ApiKeyId::new();
    let p = Principal {
        tenant_id: Some(TenantId::new()),
        actor: Actor::ApiKey {
            id,
            name: "ci".into(),
        },
        scopes: ScopeSet::new([Scope::of("instances", "read")]),
        rate_limit: None,
    };
    assert!(p.authorize(&Scope::of("instances", "read")).is_ok());
    match p.authorize(&Scope::of("instances", "write")) {
        Err(AuthError::Forbidden { required }) => assert_eq!(required, "instances:write"),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.key_id(), Some(id));
    assert_eq!(p.user_id(), None);
}

#[tokio::test]
async fn an_api_key_authenticates_as_itself_until_revoked() {
    let f = fixture();
    let tenant = TenantId::new();
    let minted = f
        .keys
        .mint(
            tenant,
            Grantor::Operator,
            &hydracore_core::audit::Who::ops(),
            MintKey {
                name: "ci".into(),
                scopes: vec!["instances:read".into()],
                ..MintKey::default()
            },
        )
        .await
        .unwrap();
    let p = f.auth.api_key(minted.secret.expose()).await.unwrap();
    assert_eq!(p.tenant_id, Some(tenant));
    assert_eq!(p.key_id(), Some(minted.key.id));
    assert_eq!(p.scopes, ScopeSet::new([Scope::of("instances", "read")]));

    assert!(matches!(
        f.auth.api_key("hc_live_nothex").await,
        Err(AuthError::Invalid)
    ));
    f.keys
        .revoke(
            tenant,
            Grantor::Operator,
            &hydracore_core::audit::Who::ops(),
            minted.key.id,
        )
        .await
        .unwrap();
    assert!(matches!(
        f.auth.api_key(minted.secret.expose()).await,
        Err(AuthError::Revoked)
    ));
}

#[tokio::test]
async fn a_users_scopes_are_read_at_every_request() {
    let f = fixture();
    let (user, tenant) = owner(&f.tenants).await;
    let token = f.tokens.issue(user.id, OffsetDateTime::now_utc()).unwrap();

    let p = f.auth.access_token(&token).await.unwrap();
    assert_eq!(p.tenant_id, Some(tenant.id));
    assert_eq!(p.user_id(), Some(user.id));
    assert_eq!(p.scopes, Role::Owner.scopes());

    // The same token, once the tenant is gone, acts on no tenant and holds nothing.
    assert!(f.tenants.delete(tenant.id).await.unwrap());
    let p = f.auth.access_token(&token).await.unwrap();
    assert_eq!(p.tenant_id, None);
    assert!(p.scopes.is_empty());

    assert!(matches!(
        f.auth.access_token("eyJ.garbage").await,
        Err(AuthError::Invalid)
    ));
    let stranger = f
        .tokens
        .issue(UserId::new(), OffsetDateTime::now_utc())
        .unwrap();
    assert!(matches!(
        f.auth.access_token(&stranger).await,
        Err(AuthError::Invalid)
    ));
}

#[tokio::test]
async fn a_console_session_is_a_users_principal_until_it_ends_or_expires() {
    use crate::testing::{InMemoryRefreshTokens, InMemorySessions};
    use hydracore_core::testing::ManualClock;

    let clock = Arc::new(ManualClock::new());
    let tenants = Arc::new(InMemoryTenants::default());
    let sessions = Arc::new(InMemorySessions::default());
    let tokens = AccessTokens::new(vec![7; 32], time::Duration::minutes(15)).unwrap();
    let identity = IdentityService::new(
        tenants.clone(),
        tenants.clone(),
        Arc::new(InMemoryRefreshTokens::default()),
        tokens.clone(),
        clock.clone(),
        true,
    )
    .with_sessions(sessions.clone(), time::Duration::hours(12));
    let auth = Authenticator::new(
        KeyService::new(Arc::new(InMemoryKeyRepository::default()), clock.clone()),
        tenants.clone(),
        tenants.clone(),
        tokens,
        clock.clone(),
    )
    .with_sessions(sessions.clone());

    let origin = hydracore_core::audit::Origin {
        request_id: Some("req-1".into()),
        client: Some("203.0.113.9".parse().unwrap()),
    };
    let secret = identity
        .signup_session("ada@example.com", "correct horse battery", "Acme", &origin)
        .await
        .unwrap();
    let p = auth.session(secret.expose()).await.unwrap();
    assert_eq!(p.scopes, Role::Owner.scopes());
    assert!(p.tenant_id.is_some());
    assert!(matches!(
        auth.session("hc_s_unknown").await,
        Err(AuthError::Invalid)
    ));

    // Signed in again with the password: a second, separate session.
    let again = identity
        .login_session("ada@example.com", "correct horse battery", &origin)
        .await
        .unwrap();
    assert!(matches!(
        identity
            .login_session("ada@example.com", "wrong password!", &origin)
            .await,
        Err(IdentityError::InvalidCredentials)
    ));

    // Signing out ends that session at once, and only that one.
    identity
        .end_session(secret.expose(), &origin)
        .await
        .unwrap();
    assert!(matches!(
        auth.session(secret.expose()).await,
        Err(AuthError::Invalid)
    ));
    assert!(auth.session(again.expose()).await.is_ok());

    // Past its lifetime it is refused, then swept.
    clock.advance(time::Duration::hours(12));
    assert!(matches!(
        auth.session(again.expose()).await,
        Err(AuthError::Expired)
    ));
    assert_eq!(identity.sweep_sessions().await.unwrap(), 1);

    // The sign-up, the one sign-in that worked and the sign-out were recorded, with
    // where they came from; the failed sign-in was not.
    use hydracore_core::audit::Action;
    let signed_up: Vec<Action> = tenants.events().iter().map(|e| e.action).collect();
    assert_eq!(signed_up, [Action::UserSignedUp]);
    let events = sessions.events();
    let seen: Vec<Action> = events.iter().map(|e| e.action).collect();
    assert_eq!(seen, [Action::UserSignedIn, Action::UserSignedOut]);
    assert!(events.iter().all(|e| e.actor.name == "ada@example.com"
        && e.client == origin.client
        && e.request_id.as_deref() == Some("req-1")
        && e.tenant_id == p.tenant_id.map(|t| t.0)));
    assert!(matches!(
        auth.session(again.expose()).await,
        Err(AuthError::Invalid)
    ));
}
