//! Users signing up, in and out; rotating refresh tokens; switching tenants.

use std::net::IpAddr;
use std::sync::Arc;

use hydracore_core::audit::{Action, AuditActor, AuditEvent, AuditTarget, Origin, TargetKind};
use hydracore_core::{RepoError, SharedClock, ValidationError};
use hydracore_keys::{Budget, RateLimit, RateLimiter};
use hydracore_tenants::{
    Email, MembershipRepository, Tenant, TenantId, TenantName, TenantRole, User, UserId,
    UserRepository,
};
use time::{Duration, OffsetDateTime};

use crate::password::{Busy, Passwords};
use crate::ports::{RefreshTokenRepository, SessionRepository};
use crate::token::{AccessTokens, RefreshSecret, SessionSecret, hash as refresh_hash};
use crate::{RefreshToken, RefreshTokenId, Session, SessionId, TokenFamilyId};

/// How long a refresh token lives unless used.
pub const REFRESH_TTL: Duration = Duration::days(30);

/// How long a console session lasts unless configured otherwise.
pub const SESSION_TTL: Duration = Duration::hours(12);

/// A fresh access token and the refresh token that renews it.
#[derive(Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: RefreshSecret,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// What the identity operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("sign-up is disabled")]
    SignupDisabled,
    #[error("an account with this e-mail exists already")]
    EmailTaken,
    #[error("incorrect e-mail or password")]
    InvalidCredentials,
    /// Unknown, expired, revoked or reused refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("tenant not found")]
    TenantNotFound,
    #[error("user not found")]
    UserNotFound,
    /// The sign-in budget of the e-mail or the client address is spent.
    #[error("too many sign-in attempts; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// As much password work as allowed is running and waiting.
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// The identity rules.
#[derive(Clone)]
pub struct IdentityService {
    users: Arc<dyn UserRepository>,
    members: Arc<dyn MembershipRepository>,
    refresh: Arc<dyn RefreshTokenRepository>,
    tokens: AccessTokens,
    passwords: Passwords,
    clock: SharedClock,
    signup_enabled: bool,
    throttle: Option<Throttle>,
    sessions: Option<(Arc<dyn SessionRepository>, Duration)>,
}

/// The budgets of sign-in attempts (sign-in, sign-up, refresh).
#[derive(Clone)]
struct Throttle {
    limiter: Arc<dyn RateLimiter>,
    limits: SignInLimits,
}

/// How many sign-in attempts one e-mail and one client address may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Sign-ins and sign-ups naming one e-mail.
    pub per_email: RateLimit,
    /// Sign-ins, sign-ups and refreshes from one client address.
    pub per_address: RateLimit,
}

impl SignInLimits {
    /// 10 attempts per e-mail per 5 minutes; 60 per address per minute.
    pub const DEFAULT: SignInLimits = SignInLimits {
        per_email: RateLimit {
            requests: 10,
            per_seconds: 300,
        },
        per_address: RateLimit {
            requests: 60,
            per_seconds: 60,
        },
    };
}

impl IdentityService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        members: Arc<dyn MembershipRepository>,
        refresh: Arc<dyn RefreshTokenRepository>,
        tokens: AccessTokens,
        clock: SharedClock,
        signup_enabled: bool,
    ) -> Self {
        Self {
            users,
            members,
            refresh,
            tokens,
            passwords: Passwords::new(),
            clock,
            signup_enabled,
            throttle: None,
            sessions: None,
        }
    }

    /// Keeps console sessions in `repo`, each lasting `ttl`.
    #[must_use]
    pub fn with_sessions(mut self, repo: Arc<dyn SessionRepository>, ttl: Duration) -> Self {
        self.sessions = Some((repo, ttl));
        self
    }

    fn sessions(&self) -> Result<&(Arc<dyn SessionRepository>, Duration), IdentityError> {
        self.sessions.as_ref().ok_or_else(|| {
            IdentityError::Store(RepoError::Unexpected(
                "console sessions are not configured".into(),
            ))
        })
    }

    /// A new console session for `user`, with the event of the sign-in (none right
    /// after a sign-up, which has its own).
    async fn start_session(
        &self,
        user: UserId,
        event: Option<&AuditEvent>,
    ) -> Result<SessionSecret, IdentityError> {
        let (repo, ttl) = self.sessions()?;
        let now = self.clock.now();
        let secret = SessionSecret::generate();
        let session = Session {
            id: SessionId::new(),
            user_id: user,
            created_at: now,
            expires_at: now + *ttl,
        };
        repo.insert(&session, &secret.hash(), event).await?;
        Ok(secret)
    }

    /// The audit event of `action` by `user` on themselves, in `tenant`.
    fn user_event(
        &self,
        user: &User,
        tenant: Option<TenantId>,
        action: Action,
        origin: &Origin,
    ) -> AuditEvent {
        let who = origin.by(AuditActor::user(user.id.0, user.email.as_str()));
        AuditEvent::new(
            tenant.map(|t| t.0),
            self.clock.now(),
            action,
            &who,
            AuditTarget::new(TargetKind::User, user.id.0, user.email.as_str()),
        )
    }

    /// Signs in to the console: the same checks and budgets as [`Self::login`], and a
    /// session instead of tokens.
    ///
    /// # Errors
    /// `Throttled`; `InvalidCredentials`; `Busy`.
    pub async fn login_session(
        &self,
        email: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<SessionSecret, IdentityError> {
        let user = self.check_password(email, password, origin.client).await?;
        let event = self.user_event(&user, user.active_tenant_id, Action::UserSignedIn, origin);
        self.start_session(user.id, Some(&event)).await
    }

    /// Signs up in the console: the same rules as [`Self::signup`], and a session
    /// instead of tokens.
    ///
    /// # Errors
    /// As [`Self::signup`].
    pub async fn signup_session(
        &self,
        email: &str,
        password: &str,
        tenant_name: &str,
        origin: &Origin,
    ) -> Result<SessionSecret, IdentityError> {
        let (user, _) = self.register(email, password, tenant_name, origin).await?;
        self.start_session(user.id, None).await
    }

    /// Ends the console session whose secret is `presented`; unknown ones are ignored.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn end_session(&self, presented: &str, origin: &Origin) -> Result<(), IdentityError> {
        let (repo, _) = self.sessions()?;
        let hash = refresh_hash(presented);
        let Some(session) = repo.find_by_hash(&hash).await? else {
            return Ok(());
        };
        let event = match self.users.find(session.user_id).await? {
            Some(user) => {
                Some(self.user_event(&user, user.active_tenant_id, Action::UserSignedOut, origin))
            }
            None => None,
        };
        repo.delete_by_hash(&hash, event.as_ref()).await?;
        Ok(())
    }

    /// Deletes the sessions that have expired; answers how many.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn sweep_sessions(&self) -> Result<u64, IdentityError> {
        let (repo, _) = self.sessions()?;
        Ok(repo.delete_expired(self.clock.now()).await?)
    }

    /// Throttles sign-in attempts with `limiter`: each spends the budget of its client
    /// address, and (sign-in, sign-up) of the e-mail it names.
    #[must_use]
    pub fn with_throttle(mut self, limiter: Arc<dyn RateLimiter>, limits: SignInLimits) -> Self {
        self.throttle = Some(Throttle { limiter, limits });
        self
    }

    /// Spends one attempt from the address's budget, then the e-mail's.
    async fn spend(
        &self,
        client: Option<IpAddr>,
        email: Option<&str>,
    ) -> Result<(), IdentityError> {
        let Some(t) = &self.throttle else {
            return Ok(());
        };
        let budgets = client
            .map(|ip| (Budget::SignInAddress(ip), t.limits.per_address))
            .into_iter()
            .chain(email.map(|e| (Budget::sign_in_email(e), t.limits.per_email)));
        for (budget, limit) in budgets {
            let d = t.limiter.check(budget, limit).await;
            if !d.allowed {
                return Err(IdentityError::Throttled {
                    retry_after_secs: d.retry_after_secs,
                });
            }
        }
        Ok(())
    }

    /// A new refresh token of `family` for `user`, made at `now`.
    fn new_refresh(
        user: UserId,
        family: TokenFamilyId,
        now: OffsetDateTime,
    ) -> (RefreshToken, RefreshSecret) {
        let record = RefreshToken {
            id: RefreshTokenId::new(),
            family_id: family,
            user_id: user,
            created_at: now,
            expires_at: now + REFRESH_TTL,
            used_at: None,
            revoked_at: None,
        };
        (record, RefreshSecret::generate())
    }

    /// A new session (a new family) for `user`, with the event of the sign-in (none
    /// right after a sign-up, which has its own).
    async fn issue(
        &self,
        user: UserId,
        family: TokenFamilyId,
        event: Option<&AuditEvent>,
    ) -> Result<TokenPair, IdentityError> {
        let now = self.clock.now();
        let (record, secret) = Self::new_refresh(user, family, now);
        self.refresh.insert(&record, &secret.hash(), event).await?;
        self.pair(user, secret, now)
    }

    fn pair(
        &self,
        user: UserId,
        secret: RefreshSecret,
        now: OffsetDateTime,
    ) -> Result<TokenPair, IdentityError> {
        let access_token = self
            .tokens
            .issue(user, now)
            .map_err(|e| IdentityError::Store(RepoError::Unexpected(Box::new(e))))?;
        Ok(TokenPair {
            access_token,
            refresh_token: secret,
            expires_in: self.tokens.ttl_seconds(),
        })
    }

    /// A new user, owning a new tenant, signed in. `client` is the caller's address,
    /// when known.
    ///
    /// # Errors
    /// `SignupDisabled`; `Throttled`; `Invalid` e-mail, password or tenant name;
    /// `EmailTaken`; `Busy`.
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        tenant_name: &str,
        origin: &Origin,
    ) -> Result<(User, Tenant, TokenPair), IdentityError> {
        let (user, tenant) = self.register(email, password, tenant_name, origin).await?;
        let pair = self.issue(user.id, TokenFamilyId::new(), None).await?;
        Ok((user, tenant, pair))
    }

    /// A new user owning a new tenant, not signed in yet.
    async fn register(
        &self,
        email: &str,
        password: &str,
        tenant_name: &str,
        origin: &Origin,
    ) -> Result<(User, Tenant), IdentityError> {
        if !self.signup_enabled {
            return Err(IdentityError::SignupDisabled);
        }
        self.spend(origin.client, Some(email)).await?;
        let email = Email::parse(email)?;
        Passwords::check_new(password)?;
        let tenant_name = TenantName::parse(tenant_name).map_err(|mut e| {
            e.field = vec!["tenant_name".into()];
            e
        })?;
        let now = self.clock.now();
        let tenant = Tenant {
            id: TenantId::new(),
            name: tenant_name,
            created_at: now,
        };
        let password_hash = self
            .passwords
            .hash_off_thread(password)
            .await?
            .ok_or_else(|| {
                IdentityError::Store(RepoError::Unexpected("password hashing failed".into()))
            })?;
        let user = User {
            id: UserId::new(),
            email,
            password_hash,
            active_tenant_id: Some(tenant.id),
            created_at: now,
        };
        let event = self.user_event(&user, Some(tenant.id), Action::UserSignedUp, origin);
        self.users
            .insert_with_tenant(&user, &tenant, &event)
            .await
            .map_err(|e| match e {
                RepoError::Duplicate { .. } => IdentityError::EmailTaken,
                other => IdentityError::Store(other),
            })?;
        Ok((user, tenant))
    }

    /// Signs in. A wrong password and an unknown e-mail cost the same and fail alike.
    /// `client` is the caller's address, when known.
    ///
    /// # Errors
    /// `Throttled`; `InvalidCredentials`; `Busy`.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<TokenPair, IdentityError> {
        let user = self.check_password(email, password, origin.client).await?;
        let event = self.user_event(&user, user.active_tenant_id, Action::UserSignedIn, origin);
        self.issue(user.id, TokenFamilyId::new(), Some(&event))
            .await
    }

    /// The user whose e-mail and password these are. A wrong password and an unknown
    /// e-mail cost the same and fail alike.
    async fn check_password(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<User, IdentityError> {
        self.spend(client, Some(email)).await?;
        let user = match Email::parse(email) {
            Ok(email) => self.users.find_by_email(&email).await?,
            Err(_) => None,
        };
        if !self
            .passwords
            .verify_off_thread(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?
        {
            return Err(IdentityError::InvalidCredentials);
        }
        user.ok_or(IdentityError::InvalidCredentials)
    }

    /// Exchanges a refresh token for a new pair. A token works once: presenting a used
    /// one again revokes its whole family (RFC 9700 §4.14.2). `client` is the caller's
    /// address, when known.
    ///
    /// # Errors
    /// `Throttled`; `InvalidRefreshToken`.
    pub async fn refresh(
        &self,
        presented: &str,
        origin: &Origin,
    ) -> Result<TokenPair, IdentityError> {
        self.spend(origin.client, None).await?;
        let now = self.clock.now();
        let token = self
            .refresh
            .find_by_hash(&refresh_hash(presented))
            .await?
            .ok_or(IdentityError::InvalidRefreshToken)?;
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Err(IdentityError::InvalidRefreshToken);
        }
        let (next, secret) = Self::new_refresh(token.user_id, token.family_id, now);
        if token.used_at.is_some()
            || !self
                .refresh
                .rotate(token.id, now, &next, &secret.hash())
                .await?
        {
            // Reuse: whoever holds this family's tokens may be an attacker. The token
            // that replaced this one was stored with the exchange, so it is revoked
            // with the rest of the family here, even when the two calls raced.
            self.refresh
                .revoke_family(token.family_id, now, None)
                .await?;
            return Err(IdentityError::InvalidRefreshToken);
        }
        self.pair(token.user_id, secret, now)
    }

    /// Signs out: revokes the refresh token's whole family. Unknown tokens are ignored.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn logout(&self, presented: &str, origin: &Origin) -> Result<(), IdentityError> {
        if let Some(token) = self.refresh.find_by_hash(&refresh_hash(presented)).await? {
            let event = match self.users.find(token.user_id).await? {
                Some(user) => Some(self.user_event(
                    &user,
                    user.active_tenant_id,
                    Action::UserSignedOut,
                    origin,
                )),
                None => None,
            };
            self.refresh
                .revoke_family(token.family_id, self.clock.now(), event.as_ref())
                .await?;
        }
        Ok(())
    }

    /// Makes `tenant` the user's active tenant.
    ///
    /// # Errors
    /// `TenantNotFound` unless the user is a member.
    pub async fn switch_tenant(
        &self,
        user: UserId,
        tenant: TenantId,
        origin: &Origin,
    ) -> Result<(), IdentityError> {
        let user = self
            .users
            .find(user)
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        let name = self
            .members
            .tenants_of(user.id)
            .await?
            .into_iter()
            .find(|t| t.tenant.id == tenant)
            .map(|t| t.tenant.name.as_str().to_owned())
            .ok_or(IdentityError::TenantNotFound)?;
        let who = origin.by(AuditActor::user(user.id.0, user.email.as_str()));
        let event = AuditEvent::new(
            Some(tenant.0),
            self.clock.now(),
            Action::UserSwitchedTenant,
            &who,
            AuditTarget::new(TargetKind::Tenant, tenant.0, name),
        );
        if self
            .users
            .set_active_tenant(user.id, tenant, &event)
            .await?
        {
            Ok(())
        } else {
            Err(IdentityError::TenantNotFound)
        }
    }

    /// The user and every tenant the user belongs to.
    ///
    /// # Errors
    /// `UserNotFound`.
    pub async fn me(&self, user: UserId) -> Result<(User, Vec<TenantRole>), IdentityError> {
        let user = self
            .users
            .find(user)
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        let tenants = self.members.tenants_of(user.id).await?;
        Ok((user, tenants))
    }
}
