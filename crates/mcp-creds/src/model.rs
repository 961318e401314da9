//! The credential model: how a credential is presented, the stored credential, what
//! to store, and the field rules.

use std::fmt;

use hydracore_core::id_type;
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

id_type! {
    /// A credential's id.
    pub struct CredentialId;
}

/// How the credential is presented to the third-party server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `<header_name>: <secret>`.
    Header { name: String },
}

impl AuthKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthKind::Bearer => "bearer",
            AuthKind::Header { .. } => "header",
        }
    }

    pub fn header_name(&self) -> Option<&str> {
        match self {
            AuthKind::Bearer => None,
            AuthKind::Header { name } => Some(name),
        }
    }
}

/// A stored credential, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpCredential {
    pub id: CredentialId,
    pub tenant_id: TenantId,
    pub name: String,
    pub server_url: String,
    pub auth: AuthKind,
    /// The secret's last four characters (fewer for very short secrets).
    pub secret_hint: String,
    pub created_at: OffsetDateTime,
}

/// What to store.
#[derive(Clone, Default)]
pub struct CreateCredential {
    pub name: String,
    pub server_url: String,
    pub auth_kind: String,
    pub header_name: Option<String>,
    pub secret: String,
}

impl fmt::Debug for CreateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateCredential")
            .field("name", &self.name)
            .field("server_url", &self.server_url)
            .field("auth_kind", &self.auth_kind)
            .finish_non_exhaustive()
    }
}

/// The field rules of a new credential.
pub mod rules {
    use hydracore_core::rules::Rule;

    pub const MAX_NAME: usize = 100;
    pub const MAX_URL: usize = 2048;
    pub const MAX_HEADER: usize = 128;
    pub const MAX_SECRET: usize = 8192;
    pub const NAME: Rule = Rule::printable(MAX_NAME);
    pub const SERVER_URL: Rule = Rule::Text {
        min: 1,
        max: MAX_URL,
        pattern: Some(r"^https?://[^\s@/?#\x00-\x1f\x7f-\x9f]+(?:[/?#][^\s\x00-\x1f\x7f-\x9f]*)?$"),
        chars: Some("an `http` or `https` URL without credentials in it"),
    };
    /// An HTTP header name (RFC 9110 token).
    pub const HEADER_NAME: Rule = Rule::Text {
        min: 1,
        max: MAX_HEADER,
        pattern: Some(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"),
        chars: Some("an HTTP header name"),
    };
    pub const SECRET: Rule = Rule::length(1, MAX_SECRET);
}
