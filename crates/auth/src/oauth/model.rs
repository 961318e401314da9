//! The OAuth server's model: clients, grants, codes and tokens as stored, the requests
//! as clients send them, why they are refused, and the rules a redirect URI, a PKCE
//! verifier and a scope parameter follow.

use base64::Engine as _;
use hydracore_core::{RepoError, id_type};
use hydracore_scopes::ScopeSet;
use hydracore_tenants::{TenantId, UserId};
use ring::digest::{SHA256, digest};
use time::{Duration, OffsetDateTime};

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
pub(super) const TOUCH_EVERY: Duration = Duration::seconds(60);
/// How long a fetched client metadata document is trusted.
pub(super) const DOCUMENT_TTL: Duration = Duration::minutes(5);
/// The most redirect URIs a client may name.
pub(super) const MAX_REDIRECT_URIS: usize = 10;
/// The longest client name kept.
pub(super) const MAX_CLIENT_NAME: usize = 100;

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

pub(super) fn refused(error: &'static str, description: impl Into<String>) -> OAuthError {
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
pub(super) fn authority(rest: &str) -> Option<&str> {
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
pub(super) fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(digest(&SHA256, verifier.as_bytes()).as_ref())
}

/// A PKCE verifier or challenge: 43 to 128 characters of `A-Z a-z 0-9 - . _ ~`.
pub(super) fn pkce_shaped(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
}

/// Parses a space-separated scope parameter against the catalogue.
pub(super) fn parse_scope(s: &str) -> Result<ScopeSet, String> {
    let items: Vec<&str> = s.split(' ').filter(|i| !i.is_empty()).collect();
    ScopeSet::parse(&items).map_err(|(i, e)| format!("{:?}: {e}", items[i]))
}

/// `set` without what `holder` does not allow.
pub fn within(set: &ScopeSet, holder: &ScopeSet) -> ScopeSet {
    ScopeSet::new(set.iter().filter(|s| holder.allows(s)).cloned())
}

/// `uri` with `pairs` added to its query.
pub(super) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
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
pub(super) fn encode(s: &str) -> String {
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

pub(super) fn client_name(name: Option<&str>, fallback: &str) -> String {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(fallback);
    name.chars()
        .filter(|c| !c.is_control())
        .take(MAX_CLIENT_NAME)
        .collect()
}
