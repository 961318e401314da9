//! HydraCore as an OAuth 2.1 authorization server for its own MCP endpoint: public
//! clients (registered dynamically or named by a client metadata document), the
//! authorization code flow with PKCE (S256 only), tokens bound to one resource, refresh
//! tokens that rotate and whose reuse revokes the whole grant.
//!
//! A grant is what a person allowed at the consent page: one client acting for them in
//! one tenant with some scopes. Every code, access token and refresh token belongs to
//! one grant; revoking the grant stops all of them at once (every node reads the grant
//! with the token at each request). Tokens are opaque and stored only as SHA-256.
//! What a token allows is its scopes, never more than the person's role in the tenant
//! now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use hydracore_core::audit::{Action, AuditActor, AuditEvent, AuditTarget, TargetKind, Who};
use hydracore_core::{RepoError, SharedClock, id_type};
use hydracore_scopes::{CATALOGUE, Scope, ScopeSet};
use hydracore_tenants::{MembershipRepository, TenantId, UserId};
use ring::digest::{SHA256, digest};
use time::{Duration, OffsetDateTime};

use crate::token::{hash, random_token};
use crate::{Actor, AuthError, Principal};

/// Every access token starts with this (`/mcp` only).
pub const ACCESS_PREFIX: &str = "hc_oat_";
/// Every OAuth refresh token starts with this.
pub const OAUTH_REFRESH_PREFIX: &str = "hc_ort_";
/// Every authorization code starts with this.
pub const CODE_PREFIX: &str = "hc_oac_";

id_type! {
    /// A grant's id: one client acting for one person in one tenant.
    pub struct GrantId;
}

/// How long a grant's last use may lag before it is written again.
const TOUCH_EVERY: Duration = Duration::seconds(60);
/// How long a fetched client metadata document is trusted.
const DOCUMENT_TTL: Duration = Duration::minutes(5);
/// The most redirect URIs a client may name.
const MAX_REDIRECT_URIS: usize = 10;
/// The longest client name kept.
const MAX_CLIENT_NAME: usize = 100;

/// Token lifetimes and the names the server goes by.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The issuer: the public URL, without a trailing slash.
    pub issuer: String,
    /// The protected resource: the public `/mcp` URL.
    pub resource: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub code_ttl: Duration,
}

impl OAuthSettings {
    /// The settings of a server reached at `public_url`, with the default lifetimes
    /// (access 1 hour, refresh 30 days, code 5 minutes).
    pub fn new(public_url: &str) -> Self {
        let issuer = public_url.trim_end_matches('/').to_owned();
        Self {
            resource: format!("{issuer}/mcp"),
            issuer,
            access_ttl: Duration::hours(1),
            refresh_ttl: Duration::days(30),
            code_ttl: Duration::minutes(5),
        }
    }
}

/// A client: registered here (RFC 7591) or described by the document at its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// An id issued here, or the https URL of the client's metadata document.
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub created_at: OffsetDateTime,
}

/// What a client asks to be registered as (RFC 7591), as sent.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
}

/// A client metadata document as fetched from its URL, parsed by the adapter.
#[derive(Debug, Clone, Default)]
pub struct ClientDocument {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
}

/// Fetches client metadata documents (a driven adapter: HTTPS, size and time limits,
/// public addresses only).
#[async_trait]
pub trait ClientDocuments: Send + Sync {
    /// The document at `url`.
    ///
    /// # Errors
    /// Why it could not be had, in one sentence a person can act on.
    async fn fetch(&self, url: &str) -> Result<ClientDocument, String>;
}

/// A grant: what a person allowed a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub client_id: String,
    pub client_name: String,
    pub scopes: ScopeSet,
    pub resource: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Code,
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Code => "code",
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Code, Self::Access, Self::Refresh]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A code or token as stored: its hash, never its plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub hash: [u8; 32],
    pub grant_id: GrantId,
    pub kind: TokenKind,
    pub scopes: ScopeSet,
    /// A code's redirect URI, which the exchange must repeat.
    pub redirect_uri: Option<String>,
    /// A code's PKCE challenge (S256).
    pub challenge: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When a code or refresh token was exchanged: it must never work again.
    pub used_at: Option<OffsetDateTime>,
}

/// Persistence of clients, grants and their tokens.
#[async_trait]
pub trait OAuthRepository: Send + Sync {
    /// Stores a registered client.
    async fn insert_client(&self, client: &OAuthClient) -> Result<(), RepoError>;

    /// The registered client `id`.
    async fn find_client(&self, id: &str) -> Result<Option<OAuthClient>, RepoError>;

    /// Stores a grant with its first code and its event, in one transaction.
    async fn insert_grant(
        &self,
        grant: &Grant,
        code: &StoredToken,
        event: &AuditEvent,
    ) -> Result<(), RepoError>;

    /// Widens the live grant `grant` to `scopes` (its client now named `client_name`)
    /// and stores `code` for it, with the event, in one transaction; MUST return `false`
    /// (and store nothing) when the grant is revoked or does not exist.
    async fn extend_grant(
        &self,
        grant: GrantId,
        scopes: &ScopeSet,
        client_name: &str,
        code: &StoredToken,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// The token whose plaintext hashes to `hash` and its grant, used, expired or
    /// revoked or not.
    async fn find_token(&self, hash: &[u8; 32]) -> Result<Option<(StoredToken, Grant)>, RepoError>;

    /// Exchanges the code or refresh token `old` for `new`, all or nothing: marks `old`
    /// used at `at` and stores `new`, only if `old` is unused and its grant not
    /// revoked. Of concurrent exchanges exactly one succeeds; the others MUST return
    /// `false` and store nothing.
    async fn exchange(
        &self,
        old: &[u8; 32],
        at: OffsetDateTime,
        new: &[StoredToken],
    ) -> Result<bool, RepoError>;

    /// Deletes one access or refresh token (RFC 7009 revocation of an access token).
    async fn delete_token(&self, hash: &[u8; 32]) -> Result<(), RepoError>;

    /// Records that the grant was used at `at`.
    async fn touch(&self, grant: GrantId, at: OffsetDateTime) -> Result<(), RepoError>;

    /// Revokes the grant and deletes its tokens, with the event in the same
    /// transaction; MUST return `false` (and store no event) when it was revoked
    /// already or does not exist.
    async fn revoke_grant(
        &self,
        grant: GrantId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// The grant `id`, revoked or not.
    async fn find_grant(&self, id: GrantId) -> Result<Option<Grant>, RepoError>;

    /// The user's grants that are not revoked, newest first, in every tenant.
    async fn grants_of(&self, user: UserId) -> Result<Vec<Grant>, RepoError>;

    /// Deletes codes and tokens that expired at or before `now`, and grants revoked
    /// then; returns how many rows went.
    async fn sweep(&self, now: OffsetDateTime) -> Result<u64, RepoError>;
}

/// An authorization request as the client sent it (RFC 6749 4.1.1, RFC 7636, RFC 8707).
#[derive(Debug, Clone, Default)]
pub struct AuthorizationRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
}

/// An authorization request that may be shown to the person.
#[derive(Debug, Clone)]
pub struct Consent {
    pub client: OAuthClient,
    /// Whether the client's id is the URL of its metadata document.
    pub by_document: bool,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub challenge: String,
    /// The scopes the client asked for; `None` when it asked for none.
    pub asked: Option<ScopeSet>,
}

/// Why an authorization request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// No trustworthy redirect URI: shown to the person, never sent to the client.
    #[error("{0}")]
    Page(String),
    /// Sent back to the client at its redirect URI.
    #[error("{error}: {description}")]
    Redirect {
        location: String,
        error: &'static str,
        description: String,
    },
    #[error(transparent)]
    Store(RepoError),
}

/// An error of the token, registration or revocation endpoint (RFC 6749 5.2).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{error}: {description}")]
    Refused {
        error: &'static str,
        description: String,
    },
    #[error(transparent)]
    Store(RepoError),
}

fn refused(error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError::Refused {
        error,
        description: description.into(),
    }
}

/// A token request (RFC 6749 4.1.3 and 6), as sent.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub refresh_token: Option<String>,
    pub resource: Option<String>,
    pub scope: Option<String>,
}

/// Issued tokens. Its `Debug` hides them.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub scope: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Whether `uri` may be a redirect URI: https, http on a loopback host (RFC 8252 7.3),
/// or a private-use scheme (RFC 8252 7.1: `cursor://…`); never a fragment.
pub fn redirect_uri_allowed(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(format!("{uri:?} is not an absolute URI"));
    };
    if uri.contains('#') {
        return Err(format!("{uri:?} has a fragment; a redirect URI may not"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{uri:?} contains whitespace"));
    }
    let scheme = scheme.to_ascii_lowercase();
    if !scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(format!("{uri:?} is not an absolute URI"));
    }
    match scheme.as_str() {
        "https" => match authority(rest) {
            Some(host) if !host.is_empty() => Ok(()),
            _ => Err(format!("{uri:?} names no host")),
        },
        "http" => match authority(rest).map(|h| h.to_ascii_lowercase()) {
            Some(h) if h == "localhost" || h == "127.0.0.1" || h == "[::1]" => Ok(()),
            _ => Err(format!(
                "{uri:?}: plain http is allowed only to a loopback host (127.0.0.1, [::1], localhost)"
            )),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => Err(format!(
            "{uri:?}: the {scheme} scheme cannot be a redirect URI"
        )),
        _ => Ok(()),
    }
}

/// The host of `//host[:port]/…`.
fn authority(rest: &str) -> Option<&str> {
    let rest = rest.strip_prefix("//")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let hostport = &rest[..end];
    if hostport.contains('@') {
        return None;
    }
    if hostport.starts_with('[') {
        return hostport.find(']').map(|i| &hostport[..=i]);
    }
    Some(hostport.split(':').next().unwrap_or(""))
}

/// Whether `id` is a client id that names a metadata document: an https URL with a
/// path.
pub fn is_document_id(id: &str) -> bool {
    id.strip_prefix("https://")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(host, path)| !host.is_empty() && !path.is_empty())
}

/// BASE64URL(SHA-256(verifier)) (RFC 7636 4.2).
fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(digest(&SHA256, verifier.as_bytes()).as_ref())
}

/// A PKCE verifier or challenge: 43 to 128 characters of `A-Z a-z 0-9 - . _ ~`.
fn pkce_shaped(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
}

/// Parses a space-separated scope parameter against the catalogue.
fn parse_scope(s: &str) -> Result<ScopeSet, String> {
    let items: Vec<&str> = s.split(' ').filter(|i| !i.is_empty()).collect();
    ScopeSet::parse(&items).map_err(|(i, e)| format!("{:?}: {e}", items[i]))
}

/// `set` without what `holder` does not allow.
pub fn within(set: &ScopeSet, holder: &ScopeSet) -> ScopeSet {
    ScopeSet::new(set.iter().filter(|s| holder.allows(s)).cloned())
}

/// `uri` with `pairs` added to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::from(uri);
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&encode(v));
        sep = '&';
    }
    out
}

/// Percent-encodes everything but the unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

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

fn client_name(name: Option<&str>, fallback: &str) -> String {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(fallback);
    name.chars()
        .filter(|c| !c.is_control())
        .take(MAX_CLIENT_NAME)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_rfc_8252() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://localhost:6274/oauth/callback",
            "http://[::1]:8080/cb",
            "cursor://anysphere.cursor-retrieval/oauth/user-hydracore/callback",
        ] {
            assert!(redirect_uri_allowed(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https://example.com/cb#frag",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https:///nohost",
            "/relative",
            "http://127.0.0.1.evil.com/cb",
            "https://user@evil.com/cb",
            "https://example.com/a b",
        ] {
            assert!(redirect_uri_allowed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(pkce_shaped("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_shaped("short"));
        assert!(!pkce_shaped(&"a+".repeat(30)));
    }

    #[test]
    fn document_ids_are_https_urls_with_a_path() {
        assert!(is_document_id("https://app.example.com/oauth/client.json"));
        assert!(!is_document_id("https://app.example.com"));
        assert!(!is_document_id("https://app.example.com/"));
        assert!(!is_document_id("http://app.example.com/client.json"));
        assert!(!is_document_id("hc_client_0123"));
    }

    #[test]
    fn queries_are_added_encoded() {
        assert_eq!(
            with_query(
                "https://a.example/cb?x=1",
                &[("code", "a b&c"), ("iss", "http://h")]
            ),
            "https://a.example/cb?x=1&code=a%20b%26c&iss=http%3A%2F%2Fh"
        );
    }
}
