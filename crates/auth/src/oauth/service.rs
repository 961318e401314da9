//! The authorization server: registration, authorization, consent, tokens, revocation,
//! and the principal of an access token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hydracore_core::audit::{Action, AuditActor, AuditEvent, AuditTarget, TargetKind, Who};
use hydracore_core::{RepoError, SharedClock};
use hydracore_scopes::{CATALOGUE, Scope, ScopeSet};
use hydracore_tenants::{MembershipRepository, TenantId, UserId};
use time::OffsetDateTime;

use super::model::*;
use super::ports::{ClientDocuments, OAuthRepository};
use crate::token::{hash, random_token};
use crate::{Actor, AuthError, Principal};

/// The authorization server.
#[derive(Clone)]
pub struct OAuthService {
    repo: Arc<dyn OAuthRepository>,
    documents: Arc<dyn ClientDocuments>,
    members: Arc<dyn MembershipRepository>,
    clock: SharedClock,
    settings: Arc<OAuthSettings>,
    /// Fetched client documents, by URL, with when they were fetched.
    cache: Arc<Mutex<HashMap<String, (OAuthClient, OffsetDateTime)>>>,
}

impl OAuthService {
    pub fn new(
        repo: Arc<dyn OAuthRepository>,
        documents: Arc<dyn ClientDocuments>,
        members: Arc<dyn MembershipRepository>,
        clock: SharedClock,
        settings: OAuthSettings,
    ) -> Self {
        Self {
            repo,
            documents,
            members,
            clock,
            settings: Arc::new(settings),
            cache: Arc::default(),
        }
    }

    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// Registers a public client (RFC 7591). Every client here is public: whatever
    /// authentication method it asks for, it is registered with `none` and proves
    /// itself with PKCE.
    ///
    /// # Errors
    /// `invalid_redirect_uri` or `invalid_client_metadata` naming what is wrong.
    pub async fn register(&self, r: Registration) -> Result<OAuthClient, OAuthError> {
        if r.redirect_uris.is_empty() {
            return Err(refused(
                "invalid_redirect_uri",
                "redirect_uris: name at least one redirect URI",
            ));
        }
        if r.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(refused(
                "invalid_redirect_uri",
                format!("redirect_uris: at most {MAX_REDIRECT_URIS} redirect URIs"),
            ));
        }
        for uri in &r.redirect_uris {
            redirect_uri_allowed(uri).map_err(|e| refused("invalid_redirect_uri", e))?;
        }
        if let Some(g) = &r.grant_types
            && let Some(bad) = g
                .iter()
                .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
        {
            return Err(refused(
                "invalid_client_metadata",
                format!(
                    "grant_types: {bad:?} is not supported; use authorization_code and refresh_token"
                ),
            ));
        }
        if let Some(t) = &r.response_types
            && let Some(bad) = t.iter().find(|t| t.as_str() != "code")
        {
            return Err(refused(
                "invalid_client_metadata",
                format!("response_types: {bad:?} is not supported; use code"),
            ));
        }
        let name = client_name(r.client_name.as_deref(), "Unnamed client");
        let client = OAuthClient {
            id: format!("hc_client_{}", uuid::Uuid::new_v4().simple()),
            name,
            redirect_uris: r.redirect_uris,
            created_at: self.clock.now(),
        };
        self.repo
            .insert_client(&client)
            .await
            .map_err(OAuthError::Store)?;
        Ok(client)
    }

    /// The client `id`: registered here, or described by the document at its URL
    /// (fetched at most every five minutes).
    async fn client(&self, id: &str) -> Result<Option<(OAuthClient, bool)>, AuthorizeError> {
        if !is_document_id(id) {
            return self
                .repo
                .find_client(id)
                .await
                .map(|c| c.map(|c| (c, false)))
                .map_err(AuthorizeError::Store);
        }
        let now = self.clock.now();
        if let Some((c, at)) = self.cache.lock().ok().and_then(|m| m.get(id).cloned())
            && now - at < DOCUMENT_TTL
        {
            return Ok(Some((c, true)));
        }
        let doc = self.documents.fetch(id).await.map_err(|e| {
            AuthorizeError::Page(format!(
                "The client's metadata document at {id} could not be used: {e}"
            ))
        })?;
        if doc.client_id != id {
            return Err(AuthorizeError::Page(format!(
                "The client's metadata document at {id} names another client_id ({:?})",
                doc.client_id
            )));
        }
        if let Some(m) = doc
            .token_endpoint_auth_method
            .as_deref()
            .filter(|m| *m != "none")
        {
            return Err(AuthorizeError::Page(format!(
                "The client's metadata document asks for the authentication method {m:?}; this server supports public clients only (none)"
            )));
        }
        if doc.redirect_uris.is_empty() {
            return Err(AuthorizeError::Page(format!(
                "The client's metadata document at {id} names no redirect_uris"
            )));
        }
        for uri in &doc.redirect_uris {
            redirect_uri_allowed(uri).map_err(|e| {
                AuthorizeError::Page(format!("The client's metadata document: {e}"))
            })?;
        }
        let client = OAuthClient {
            id: id.to_owned(),
            name: client_name(doc.client_name.as_deref(), id),
            redirect_uris: doc.redirect_uris,
            created_at: now,
        };
        if let Ok(mut m) = self.cache.lock() {
            m.retain(|_, (_, at)| now - *at < DOCUMENT_TTL);
            m.insert(id.to_owned(), (client.clone(), now));
        }
        Ok(Some((client, true)))
    }

    /// Checks an authorization request: first what decides whether the client may be
    /// answered at all (its id and redirect URI: errors are pages), then the rest
    /// (errors go back to the client).
    ///
    /// # Errors
    /// See [`AuthorizeError`].
    pub async fn check(&self, r: &AuthorizationRequest) -> Result<Consent, AuthorizeError> {
        let id = r
            .client_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                AuthorizeError::Page("The request names no client (client_id is missing)".into())
            })?;
        let (client, by_document) = self.client(id).await?.ok_or_else(|| {
            AuthorizeError::Page(format!(
                "No client {id:?} is registered here: the application must register again"
            ))
        })?;
        let redirect_uri = match r.redirect_uri.as_deref().filter(|s| !s.is_empty()) {
            Some(u) if client.redirect_uris.iter().any(|c| c == u) => u.to_owned(),
            Some(u) => {
                return Err(AuthorizeError::Page(format!(
                    "The redirect URI {u:?} is not one that {} registered: nothing is sent back to it",
                    client.name
                )));
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => {
                return Err(AuthorizeError::Page(
                    "The request names no redirect_uri, and the client registered several".into(),
                ));
            }
        };
        let back = |error: &'static str, description: String| AuthorizeError::Redirect {
            location: self.error_location(&redirect_uri, r.state.as_deref(), error, &description),
            error,
            description,
        };
        if r.response_type.as_deref() != Some("code") {
            return Err(back(
                "unsupported_response_type",
                "response_type must be code".into(),
            ));
        }
        let challenge = match r.code_challenge.as_deref() {
            Some(c) if pkce_shaped(c) => c.to_owned(),
            Some(_) => {
                return Err(back(
                    "invalid_request",
                    "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~".into(),
                ));
            }
            None => {
                return Err(back(
                    "invalid_request",
                    "PKCE is required: send code_challenge and code_challenge_method=S256".into(),
                ));
            }
        };
        if r.code_challenge_method.as_deref() != Some("S256") {
            return Err(back(
                "invalid_request",
                "code_challenge_method must be S256".into(),
            ));
        }
        match r.resource.as_deref() {
            Some(res) if res.trim_end_matches('/') == self.settings.resource => {}
            Some(res) => {
                return Err(back(
                    "invalid_target",
                    format!(
                        "resource {res:?} is not served here; ask for {}",
                        self.settings.resource
                    ),
                ));
            }
            None => {
                return Err(back(
                    "invalid_target",
                    format!(
                        "resource is required (RFC 8707): ask for {}",
                        self.settings.resource
                    ),
                ));
            }
        }
        let asked = match r.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(parse_scope(s).map_err(|e| back("invalid_scope", e))?),
        };
        Ok(Consent {
            client,
            by_document,
            redirect_uri,
            state: r.state.clone(),
            challenge,
            asked,
        })
    }

    /// The scopes a person with `role_scopes` is offered for `consent`: what was asked,
    /// split into what the role allows and what it does not; when nothing was asked,
    /// the read scope of every resource the role may read.
    pub fn offer(consent: &Consent, role_scopes: &ScopeSet) -> (Vec<Scope>, Vec<Scope>) {
        match &consent.asked {
            Some(a) => a.iter().cloned().partition(|s| role_scopes.allows(s)),
            None => (
                CATALOGUE
                    .iter()
                    .filter(|r| !r.reserved && r.verbs.iter().any(|v| v.name == "read"))
                    .map(|r| Scope::of(r.resource, "read"))
                    .filter(|s| role_scopes.allows(s))
                    .collect(),
                Vec::new(),
            ),
        }
    }

    /// The person allowed `consent` in `tenant` with `chosen` scopes: stores the grant
    /// and its code, and says where to send the browser (the code, `state` and `iss`).
    ///
    /// # Errors
    /// `Page` when the person is not a member of the tenant, chose nothing, or chose
    /// beyond their role or what was offered.
    pub async fn approve(
        &self,
        consent: &Consent,
        user: UserId,
        tenant: TenantId,
        chosen: &[String],
        who: &Who,
    ) -> Result<String, AuthorizeError> {
        let membership = self
            .members
            .find(tenant, user)
            .await
            .map_err(AuthorizeError::Store)?
            .ok_or_else(|| AuthorizeError::Page("You are not a member of that tenant".into()))?;
        let role = membership.role.scopes();
        let (grantable, _) = Self::offer(consent, &role);
        let scopes = parse_scope(&chosen.join(" ")).map_err(AuthorizeError::Page)?;
        if scopes.is_empty() {
            return Err(AuthorizeError::Page(
                "Choose at least one scope, or deny the request".into(),
            ));
        }
        if let Some(beyond) = scopes.iter().find(|s| !grantable.contains(s)) {
            return Err(AuthorizeError::Page(format!(
                "{beyond} was not offered to this client, or your role does not hold it"
            )));
        }
        let now = self.clock.now();
        let code = random_token(CODE_PREFIX);
        let mut stored = StoredToken {
            hash: hash(&code),
            grant_id: GrantId::new(),
            kind: TokenKind::Code,
            scopes: scopes.clone(),
            redirect_uri: Some(consent.redirect_uri.clone()),
            challenge: Some(consent.challenge.clone()),
            created_at: now,
            expires_at: now + self.settings.code_ttl,
            used_at: None,
        };
        // One grant per person, tenant and client, as people see it under Connected
        // apps: allowing a client again widens its grant (every installation of a
        // client named by a document shares its id, and keeps its tokens).
        let existing = self
            .repo
            .grants_of(user)
            .await
            .map_err(AuthorizeError::Store)?
            .into_iter()
            .find(|g| g.tenant_id == tenant && g.client_id == consent.client.id);
        let mut extended = false;
        if let Some(g) = existing {
            stored.grant_id = g.id;
            let wider = ScopeSet::new(g.scopes.iter().chain(scopes.iter()).cloned());
            let event = AuditEvent::new(
                Some(tenant.0),
                now,
                Action::OAuthGrantUpdated,
                who,
                AuditTarget::new(TargetKind::OAuthGrant, g.id.0, consent.client.name.clone()),
            )
            .with_fields(["scopes"]);
            extended = self
                .repo
                .extend_grant(g.id, &wider, &consent.client.name, &stored, &event)
                .await
                .map_err(AuthorizeError::Store)?;
        }
        if !extended {
            let grant = Grant {
                id: GrantId::new(),
                tenant_id: tenant,
                user_id: user,
                client_id: consent.client.id.clone(),
                client_name: consent.client.name.clone(),
                scopes: scopes.clone(),
                resource: self.settings.resource.clone(),
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            };
            stored.grant_id = grant.id;
            let event = AuditEvent::new(
                Some(tenant.0),
                now,
                Action::OAuthGrantCreated,
                who,
                AuditTarget::new(
                    TargetKind::OAuthGrant,
                    grant.id.0,
                    grant.client_name.clone(),
                ),
            )
            .with_fields(["scopes"]);
            self.repo
                .insert_grant(&grant, &stored, &event)
                .await
                .map_err(AuthorizeError::Store)?;
        }
        let mut pairs = vec![("code", code.as_str())];
        if let Some(s) = consent.state.as_deref() {
            pairs.push(("state", s));
        }
        pairs.push(("iss", &self.settings.issuer));
        Ok(with_query(&consent.redirect_uri, &pairs))
    }

    /// Where to send the browser with `error` (and `state` and `iss`, RFC 9207).
    pub fn error_location(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        error: &str,
        description: &str,
    ) -> String {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(s) = state {
            pairs.push(("state", s));
        }
        pairs.push(("iss", &self.settings.issuer));
        with_query(redirect_uri, &pairs)
    }

    /// The token endpoint: `authorization_code` and `refresh_token` grants.
    ///
    /// # Errors
    /// RFC 6749 5.2 errors naming what is wrong; a code or refresh token used twice
    /// revokes its grant.
    pub async fn token(&self, r: TokenRequest) -> Result<Tokens, OAuthError> {
        match r.grant_type.as_deref() {
            Some("authorization_code") => self.exchange_code(r).await,
            Some("refresh_token") => self.refresh(r).await,
            Some(other) => Err(refused(
                "unsupported_grant_type",
                format!(
                    "grant_type {other:?} is not supported; use authorization_code or refresh_token"
                ),
            )),
            None => Err(refused("invalid_request", "grant_type is required")),
        }
    }

    async fn exchange_code(&self, r: TokenRequest) -> Result<Tokens, OAuthError> {
        let code = r
            .code
            .as_deref()
            .ok_or_else(|| refused("invalid_request", "code is required"))?;
        let verifier = r
            .code_verifier
            .as_deref()
            .ok_or_else(|| refused("invalid_request", "code_verifier is required (PKCE)"))?;
        let (stored, grant) = self.live(code, TokenKind::Code, &r).await?;
        if stored.redirect_uri.as_deref() != r.redirect_uri.as_deref() {
            return Err(refused(
                "invalid_grant",
                "redirect_uri differs from the authorization request's",
            ));
        }
        if !pkce_shaped(verifier) || Some(s256(verifier)) != stored.challenge {
            return Err(refused(
                "invalid_grant",
                "code_verifier does not match the code_challenge",
            ));
        }
        self.issue(&stored, &grant, stored.scopes.clone()).await
    }

    async fn refresh(&self, r: TokenRequest) -> Result<Tokens, OAuthError> {
        let presented = r
            .refresh_token
            .as_deref()
            .ok_or_else(|| refused("invalid_request", "refresh_token is required"))?;
        let (stored, grant) = self.live(presented, TokenKind::Refresh, &r).await?;
        let scopes = match r.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => stored.scopes.clone(),
            Some(s) => {
                let asked = parse_scope(s).map_err(|e| refused("invalid_scope", e))?;
                if let Some(beyond) = asked.iter().find(|s| !stored.scopes.allows(s)) {
                    return Err(refused(
                        "invalid_scope",
                        format!("{beyond} was not granted"),
                    ));
                }
                asked
            }
        };
        self.issue(&stored, &grant, scopes).await
    }

    /// The stored code or refresh token `presented`, checked: of this kind, unused
    /// (reuse revokes the grant), unexpired, of a live grant of the requesting client,
    /// for the resource asked.
    async fn live(
        &self,
        presented: &str,
        kind: TokenKind,
        r: &TokenRequest,
    ) -> Result<(StoredToken, Grant), OAuthError> {
        let what = if kind == TokenKind::Code {
            "code"
        } else {
            "refresh_token"
        };
        let now = self.clock.now();
        let (stored, grant) = self
            .repo
            .find_token(&hash(presented))
            .await
            .map_err(OAuthError::Store)?
            .filter(|(t, _)| t.kind == kind)
            .ok_or_else(|| refused("invalid_grant", format!("{what} is not valid")))?;
        if grant.revoked_at.is_some() {
            return Err(refused("invalid_grant", format!("{what} was revoked")));
        }
        if stored.used_at.is_some() {
            self.revoke_reused(&grant).await?;
            return Err(refused(
                "invalid_grant",
                format!("{what} was used before: the grant is revoked, sign in again"),
            ));
        }
        if stored.expires_at <= now {
            return Err(refused("invalid_grant", format!("{what} has expired")));
        }
        match r.client_id.as_deref() {
            Some(c) if c == grant.client_id => {}
            Some(_) => {
                return Err(refused(
                    "invalid_grant",
                    format!("{what} was issued to another client"),
                ));
            }
            None => return Err(refused("invalid_request", "client_id is required")),
        }
        if let Some(res) = r.resource.as_deref()
            && res.trim_end_matches('/') != grant.resource
        {
            return Err(refused(
                "invalid_target",
                format!(
                    "resource {res:?} is not the one granted ({})",
                    grant.resource
                ),
            ));
        }
        Ok((stored, grant))
    }

    /// Exchanges `old` for a new access and refresh token of `grant`.
    async fn issue(
        &self,
        old: &StoredToken,
        grant: &Grant,
        scopes: ScopeSet,
    ) -> Result<Tokens, OAuthError> {
        let now = self.clock.now();
        let access = random_token(ACCESS_PREFIX);
        let refresh = random_token(OAUTH_REFRESH_PREFIX);
        let token = |plain: &str, kind, ttl| StoredToken {
            hash: hash(plain),
            grant_id: grant.id,
            kind,
            scopes: scopes.clone(),
            redirect_uri: None,
            challenge: None,
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
        };
        let new = [
            token(&access, TokenKind::Access, self.settings.access_ttl),
            token(&refresh, TokenKind::Refresh, self.settings.refresh_ttl),
        ];
        if !self
            .repo
            .exchange(&old.hash, now, &new)
            .await
            .map_err(OAuthError::Store)?
        {
            // Another exchange of the same code or token won: it was used twice.
            self.revoke_reused(grant).await?;
            return Err(refused(
                "invalid_grant",
                "the grant was used twice at once: it is revoked, sign in again",
            ));
        }
        Ok(Tokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: self.settings.access_ttl.whole_seconds(),
            scope: scopes.to_string(),
        })
    }

    async fn revoke_reused(&self, grant: &Grant) -> Result<(), OAuthError> {
        let event = self.revoked_event(grant, &Who::new(AuditActor::system()));
        self.repo
            .revoke_grant(grant.id, self.clock.now(), &event)
            .await
            .map(|_| ())
            .map_err(OAuthError::Store)
    }

    fn revoked_event(&self, grant: &Grant, who: &Who) -> AuditEvent {
        AuditEvent::new(
            Some(grant.tenant_id.0),
            self.clock.now(),
            Action::OAuthGrantRevoked,
            who,
            AuditTarget::new(
                TargetKind::OAuthGrant,
                grant.id.0,
                grant.client_name.clone(),
            ),
        )
    }

    /// RFC 7009: revokes an access token, or a refresh token with its whole grant.
    /// Unknown tokens are not an error (the client's goal is met).
    ///
    /// # Errors
    /// The store fails.
    pub async fn revoke_token(
        &self,
        presented: &str,
        client_id: Option<&str>,
    ) -> Result<(), OAuthError> {
        let h = hash(presented);
        let Some((stored, grant)) = self.repo.find_token(&h).await.map_err(OAuthError::Store)?
        else {
            return Ok(());
        };
        if client_id.is_some_and(|c| c != grant.client_id) {
            // Not this client's token: nothing is said about it (RFC 7009 2.1).
            return Ok(());
        }
        match stored.kind {
            TokenKind::Refresh => {
                let who = Who::new(AuditActor::oauth_client(
                    grant.id.0,
                    grant.client_name.clone(),
                ));
                let event = self.revoked_event(&grant, &who);
                self.repo
                    .revoke_grant(grant.id, self.clock.now(), &event)
                    .await
                    .map(|_| ())
                    .map_err(OAuthError::Store)
            }
            TokenKind::Access | TokenKind::Code => {
                self.repo.delete_token(&h).await.map_err(OAuthError::Store)
            }
        }
    }

    /// The principal of an access token, for the resource `/mcp`: the grant's tenant,
    /// the token's scopes within the person's role there now.
    ///
    /// # Errors
    /// `Invalid` for an unknown or revoked token (or a person no longer a member),
    /// `Expired` past its lifetime.
    pub async fn principal(&self, presented: &str) -> Result<Principal, AuthError> {
        let now = self.clock.now();
        let (stored, grant) = self
            .repo
            .find_token(&hash(presented))
            .await
            .map_err(AuthError::Store)?
            .filter(|(t, g)| t.kind == TokenKind::Access && g.revoked_at.is_none())
            .ok_or(AuthError::Invalid)?;
        if stored.expires_at <= now {
            return Err(AuthError::Expired);
        }
        let membership = self
            .members
            .find(grant.tenant_id, grant.user_id)
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::Invalid)?;
        if grant.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
            self.repo
                .touch(grant.id, now)
                .await
                .map_err(AuthError::Store)?;
        }
        Ok(Principal {
            tenant_id: Some(grant.tenant_id),
            actor: Actor::OAuth {
                grant: grant.id,
                client: grant.client_name.clone(),
                user: grant.user_id,
            },
            scopes: within(&stored.scopes, &membership.role.scopes()),
            rate_limit: None,
        })
    }

    /// The person's live grants, newest first.
    ///
    /// # Errors
    /// The store fails.
    pub async fn grants_of(&self, user: UserId) -> Result<Vec<Grant>, RepoError> {
        self.repo.grants_of(user).await
    }

    /// Revokes the person's grant `id`; `false` when they have no such live grant.
    ///
    /// # Errors
    /// The store fails.
    pub async fn revoke_grant(
        &self,
        user: UserId,
        id: GrantId,
        who: &Who,
    ) -> Result<bool, RepoError> {
        let Some(grant) = self
            .repo
            .find_grant(id)
            .await?
            .filter(|g| g.user_id == user && g.revoked_at.is_none())
        else {
            return Ok(false);
        };
        let event = self.revoked_event(&grant, who);
        self.repo.revoke_grant(id, self.clock.now(), &event).await
    }

    /// Deletes expired codes and tokens and revoked grants.
    ///
    /// # Errors
    /// The store fails.
    pub async fn sweep(&self) -> Result<u64, RepoError> {
        self.repo.sweep(self.clock.now()).await
    }
}
