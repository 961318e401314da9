//! The credential rules: validating a new credential, sealing its secret to its row,
//! and opening it only for the runtime.

use std::sync::Arc;

use hydracore_core::audit::{Action, AuditEvent, AuditTarget, TargetKind, Who};
use hydracore_core::seal::{Cipher, CipherError};
use hydracore_core::{Page, PageRequest, RepoError, SharedClock, ValidationError};
use hydracore_tenants::TenantId;

use crate::rules::{MAX_HEADER, MAX_NAME, MAX_SECRET, MAX_URL};
use crate::{AuthKind, CreateCredential, CredentialId, McpCredential, McpCredentialRepository};

/// What the credential operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("credential not found")]
    NotFound,
    #[error("a credential named '{0}' exists already")]
    Duplicate(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("sealing failed")]
    Cipher(#[from] CipherError),
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// The credential rules.
#[derive(Clone)]
pub struct CredentialService {
    repo: Arc<dyn McpCredentialRepository>,
    cipher: Arc<Cipher>,
    clock: SharedClock,
}

/// The associated data binding a sealed secret to its row.
fn aad(tenant: TenantId, id: CredentialId) -> Vec<u8> {
    let mut out = tenant.0.as_bytes().to_vec();
    out.extend_from_slice(id.0.as_bytes());
    out
}

fn invalid(field: &str, kind: &'static str, msg: &str, input: &str) -> ValidationError {
    ValidationError::new(field, kind, msg, input)
}

fn check_url(raw: &str) -> Result<String, ValidationError> {
    let url = raw.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(
                "server_url",
                "url_scheme",
                "URL scheme should be 'http' or 'https'",
                raw,
            )
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty()
        || raw.chars().count() > MAX_URL
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
        || host.contains('@')
    {
        return Err(invalid(
            "server_url",
            "url_parsing",
            &format!(
                "Input should be a valid URL (no credentials in it, at most {MAX_URL} characters)"
            ),
            raw,
        ));
    }
    Ok(url.to_owned())
}

fn check_header(raw: &str) -> Result<String, ValidationError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_HEADER
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let reserved = [
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
    ];
    if !ok || reserved.contains(&raw.to_ascii_lowercase().as_str()) {
        return Err(invalid(
            "header_name",
            "value_error",
            "Value error, not a usable HTTP header name",
            raw,
        ));
    }
    Ok(raw.to_owned())
}

impl CredentialService {
    pub fn new(
        repo: Arc<dyn McpCredentialRepository>,
        cipher: Arc<Cipher>,
        clock: SharedClock,
    ) -> Self {
        Self {
            repo,
            cipher,
            clock,
        }
    }

    /// Validates, seals and stores a credential.
    ///
    /// # Errors
    /// `Invalid` for a bad field; `Duplicate` for a taken name.
    pub async fn create(
        &self,
        tenant: TenantId,
        who: &Who,
        req: CreateCredential,
    ) -> Result<McpCredential, CredentialError> {
        let name = req.name.trim();
        if name.is_empty()
            || req.name.chars().count() > MAX_NAME
            || name.chars().any(char::is_control)
        {
            return Err(invalid(
                "name",
                "string_too_long",
                &format!("name must be 1 to {MAX_NAME} printable characters"),
                &req.name,
            )
            .into());
        }
        let server_url = check_url(&req.server_url)?;
        let auth = match (req.auth_kind.as_str(), req.header_name.as_deref()) {
            ("bearer", None) => AuthKind::Bearer,
            ("bearer", Some(h)) => {
                return Err(invalid(
                    "header_name",
                    "value_error",
                    "Value error, header_name is only for auth_kind 'header'",
                    h,
                )
                .into());
            }
            ("header", Some(h)) => AuthKind::Header {
                name: check_header(h)?,
            },
            ("header", None) => {
                return Err(ValidationError::new(
                    "header_name",
                    "missing",
                    "Field required when auth_kind is 'header'",
                    "",
                )
                .into());
            }
            (other, _) => {
                return Err(invalid(
                    "auth_kind",
                    "enum",
                    "Input should be 'bearer' or 'header'",
                    other,
                )
                .into());
            }
        };
        if req.secret.is_empty() || req.secret.chars().count() > MAX_SECRET {
            return Err(ValidationError::new(
                "secret",
                "string_too_long",
                format!("secret must be 1 to {MAX_SECRET} characters"),
                "********",
            )
            .into());
        }
        let hint: String = {
            let chars: Vec<char> = req.secret.chars().collect();
            let shown = if chars.len() >= 12 { 4 } else { 0 };
            chars[chars.len() - shown..].iter().collect()
        };
        let credential = McpCredential {
            id: CredentialId::new(),
            tenant_id: tenant,
            name: name.to_owned(),
            server_url,
            auth,
            secret_hint: hint,
            created_at: self.clock.now(),
        };
        let sealed = self
            .cipher
            .seal(req.secret.as_bytes(), &aad(tenant, credential.id))?;
        let event = audit(
            &credential,
            credential.created_at,
            Action::McpCredentialCreated,
            who,
        );
        self.repo
            .insert(&credential, &sealed, &event)
            .await
            .map_err(|e| match e {
                RepoError::Duplicate { .. } => CredentialError::Duplicate(credential.name.clone()),
                other => CredentialError::Store(other),
            })?;
        Ok(credential)
    }

    /// # Errors
    /// `NotFound`.
    pub async fn get(
        &self,
        tenant: TenantId,
        id: CredentialId,
    ) -> Result<McpCredential, CredentialError> {
        self.repo
            .find(tenant, id)
            .await?
            .ok_or(CredentialError::NotFound)
    }

    /// # Errors
    /// Store failures only.
    pub async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<McpCredential>, CredentialError> {
        Ok(self.repo.list(tenant, page).await?)
    }

    /// # Errors
    /// `NotFound`.
    pub async fn delete(
        &self,
        tenant: TenantId,
        who: &Who,
        id: CredentialId,
    ) -> Result<(), CredentialError> {
        let credential = self.get(tenant, id).await?;
        let event = audit(
            &credential,
            self.clock.now(),
            Action::McpCredentialDeleted,
            who,
        );
        if self.repo.delete(tenant, id, &event).await? {
            Ok(())
        } else {
            Err(CredentialError::NotFound)
        }
    }

    /// The plaintext secret, for the runtime that connects an instance to the server.
    /// Never for an API response.
    ///
    /// # Errors
    /// `NotFound`; `Cipher` when the secret does not open.
    pub async fn reveal(
        &self,
        tenant: TenantId,
        id: CredentialId,
    ) -> Result<String, CredentialError> {
        let (cred, sealed) = self
            .repo
            .find_sealed(tenant, id)
            .await?
            .ok_or(CredentialError::NotFound)?;
        let plain = self.cipher.open(&sealed, &aad(cred.tenant_id, cred.id))?;
        String::from_utf8(plain).map_err(|_| CredentialError::Cipher(CipherError::Open))
    }
}

/// The audit event of `action` on `credential`.
fn audit(
    credential: &McpCredential,
    at: time::OffsetDateTime,
    action: Action,
    who: &Who,
) -> AuditEvent {
    AuditEvent::new(
        Some(credential.tenant_id.0),
        at,
        action,
        who,
        AuditTarget::new(
            TargetKind::McpCredential,
            credential.id.0,
            credential.name.as_str(),
        ),
    )
}
