//! What a failed operation means to its caller: [`Problem`], the one table from every
//! domain error to an outcome and the sentence that explains it. Each adapter renders
//! it in its own shape (HTTP: a status and FastAPI's body; MCP: an error result), so
//! no adapter chooses an outcome or words an error of its own.

use std::borrow::Cow;
use std::fmt;

use hydracore_audit::AuditError;
use hydracore_auth::{AuthError, IdentityError};
use hydracore_core::{BoxError, RepoError, ValidationError};
use hydracore_instances::{ImageError, InstanceError};
use hydracore_keys::{KeyError, NotRotatable, OwnLimit};
use hydracore_mcp_creds::CredentialError;
use hydracore_tenants::{MemberError, TenantError};

/// The kind of outcome; each adapter maps it to its own vocabulary (an HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No credential, or one that does not authenticate (or of the wrong kind).
    Unauthorized,
    /// Authenticated, but not allowed.
    Forbidden,
    /// No such row, or another tenant's.
    NotFound,
    /// Conflicts with the current state.
    Conflict,
    /// Breaks a field rule: see the items.
    Invalid,
    /// Too many attempts; retry after this many seconds.
    Throttled { retry_after_secs: u64 },
    /// The store cannot be reached.
    Unavailable,
    /// The server is doing as much of this work as it can; retry shortly.
    Busy,
    /// Anything else: logged with its cause, answered without it.
    Internal,
}

/// A failed operation: its outcome, a sentence a person can act on, the fields at
/// fault (for `Invalid`), and the cause (for `Unavailable` and `Internal`, logged by
/// the adapter, never shown).
pub struct Problem {
    pub outcome: Outcome,
    pub detail: Cow<'static, str>,
    pub items: Vec<ValidationError>,
    pub source: Option<BoxError>,
}

impl Problem {
    pub fn new(outcome: Outcome, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            outcome,
            detail: detail.into(),
            items: Vec::new(),
            source: None,
        }
    }

    pub fn unauthorized(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Outcome::Unauthorized, detail)
    }

    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Outcome::Forbidden, detail)
    }

    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Outcome::NotFound, detail)
    }

    pub fn conflict(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Outcome::Conflict, detail)
    }

    /// One field breaks a rule.
    pub fn invalid(item: ValidationError) -> Self {
        Self {
            items: vec![item],
            ..Self::new(Outcome::Invalid, "The request breaks a field rule")
        }
    }

    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(Outcome::Internal, "Internal Server Error")
        }
    }

    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(Outcome::Unavailable, "Service unavailable")
        }
    }
}

impl fmt::Debug for Problem {
    /// The outcome, the detail and the fields at fault, never their inputs (which may
    /// be secrets), and the cause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<String> = self
            .items
            .iter()
            .map(|i| format!("{} at {}", i.kind, i.field.join(".")))
            .collect();
        f.debug_struct("Problem")
            .field("outcome", &self.outcome)
            .field("detail", &self.detail)
            .field("fields", &fields)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl From<ValidationError> for Problem {
    fn from(v: ValidationError) -> Self {
        Problem::invalid(v)
    }
}

impl From<RepoError> for Problem {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Unavailable(src) => Problem::unavailable(src),
            other => Problem::internal(other),
        }
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => Problem::unauthorized("Not authenticated"),
            AuthError::Invalid => Problem::unauthorized("Invalid API key"),
            AuthError::Revoked => Problem::unauthorized("API key has been revoked"),
            AuthError::Expired => Problem::unauthorized("API key has expired"),
            AuthError::Forbidden { required } => {
                Problem::forbidden(format!("Missing required scope: {required}"))
            }
            AuthError::Store(e) => e.into(),
        }
    }
}

/// What a request that needs the instance runtime is told while it cannot be reached.
pub const RUNTIME_AWAY: &str = "The instance runtime cannot be reached; retry shortly";

impl From<InstanceError> for Problem {
    fn from(e: InstanceError) -> Self {
        match e {
            InstanceError::NotFound => Problem::not_found("Instance not found"),
            InstanceError::Duplicate { name } => {
                Problem::conflict(format!("An instance named '{name}' already exists"))
            }
            e @ InstanceError::IllegalTransition { .. } => {
                let msg = e.to_string();
                let mut chars = msg.chars();
                let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
                Problem::conflict(format!("{}{}", first.unwrap_or_default(), chars.as_str()))
            }
            InstanceError::Invalid(v) => Problem::invalid(v),
            InstanceError::Runtime(e) if e.is_unreachable() => Problem {
                detail: RUNTIME_AWAY.into(),
                ..Problem::unavailable(e)
            },
            InstanceError::Runtime(e) => Problem::internal(e),
            InstanceError::Store(e) => e.into(),
        }
    }
}

impl From<KeyError> for Problem {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::NotFound => Problem::not_found("API key not found"),
            KeyError::Invalid(v) => Problem::invalid(v),
            KeyError::ScopeNotGranted(scopes) => Problem::forbidden(format!(
                "Cannot grant scopes the caller does not hold: {}",
                scopes.join(", ")
            )),
            KeyError::NotManageable(scopes) => Problem::forbidden(format!(
                "Cannot manage a key holding scopes the caller does not hold: {}",
                scopes.join(", ")
            )),
            KeyError::OwnLimit(OwnLimit::RateLimit) => Problem::forbidden(
                "A key cannot loosen its own rate limit (a larger burst, a faster refill, or the server default in place of its own)",
            ),
            KeyError::OwnLimit(OwnLimit::Expiry) => {
                Problem::forbidden("A key cannot extend or remove its own expiry")
            }
            KeyError::NotRotatable(NotRotatable::Rotated) => {
                Problem::conflict("This key was rotated already: rotate its successor")
            }
            KeyError::NotRotatable(NotRotatable::Expired) => {
                Problem::conflict("This key has expired: mint a new one")
            }
            KeyError::Store(e) => e.into(),
        }
    }
}

impl From<AuditError> for Problem {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::NotFound => Problem::not_found("Audit event not found"),
            AuditError::Store(e) => e.into(),
        }
    }
}

impl From<TenantError> for Problem {
    fn from(e: TenantError) -> Self {
        match e {
            TenantError::NotFound => Problem::not_found("Tenant not found"),
            TenantError::Invalid(v) => Problem::invalid(v),
            TenantError::Store(e) => e.into(),
        }
    }
}

impl From<CredentialError> for Problem {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::NotFound => Problem::not_found("Credential not found"),
            CredentialError::Duplicate(name) => {
                Problem::conflict(format!("A credential named '{name}' already exists"))
            }
            CredentialError::Invalid(v) => Problem::invalid(v),
            CredentialError::Cipher(e) => Problem::internal(e),
            CredentialError::Store(e) => e.into(),
        }
    }
}

impl From<ImageError> for Problem {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::NotFound => Problem::not_found("Runtime image not found"),
            e @ ImageError::Duplicate { .. } => Problem::conflict(format!("Runtime {e}")),
            ImageError::Invalid(v) => Problem::invalid(v),
            ImageError::Store(e) => e.into(),
        }
    }
}

impl From<MemberError> for Problem {
    fn from(e: MemberError) -> Self {
        match e {
            MemberError::UserNotFound => Problem::not_found("User not found"),
            MemberError::MemberNotFound => Problem::not_found("Member not found"),
            MemberError::AlreadyMember => {
                Problem::conflict("The user is already a member of this tenant")
            }
            MemberError::LastOwner => Problem::conflict("A tenant must keep at least one owner"),
            MemberError::RoleNotGranted(role) => Problem::forbidden(format!(
                "Cannot manage the {role} role without holding every scope it grants"
            )),
            MemberError::TenantLimit(max) => Problem::forbidden(format!(
                "You own {max} tenants, the most one user may own (HYDRACORE_MAX_TENANTS_PER_USER)"
            )),
            MemberError::Invalid(v) => Problem::invalid(v),
            MemberError::Store(e) => e.into(),
        }
    }
}

impl From<IdentityError> for Problem {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::SignupDisabled => Problem::forbidden("Sign-up is disabled"),
            IdentityError::EmailTaken => {
                Problem::conflict("An account with this email already exists")
            }
            IdentityError::InvalidCredentials => {
                Problem::unauthorized("Incorrect email or password")
            }
            IdentityError::InvalidRefreshToken => {
                Problem::unauthorized("Invalid or expired refresh token")
            }
            IdentityError::TenantNotFound => Problem::not_found("Tenant not found"),
            IdentityError::UserNotFound => Problem::unauthorized("Invalid access token"),
            IdentityError::Throttled { retry_after_secs } => Problem::new(
                Outcome::Throttled { retry_after_secs },
                format!(
                    "Too many sign-in attempts; retry in {retry_after_secs} second{}",
                    if retry_after_secs == 1 { "" } else { "s" }
                ),
            ),
            IdentityError::Busy(_) => Problem::new(
                Outcome::Busy,
                "The server is checking as many passwords as it can; retry in a moment",
            ),
            IdentityError::Invalid(v) => Problem::invalid(v),
            IdentityError::Store(e) => e.into(),
        }
    }
}
