//! What a failed operation means to its caller: [`Problem`], an outcome and the
//! sentence that explains it. Each resource's module maps its domain error to one
//! (`From<InstanceError> for Problem`, beside its operations); the errors every
//! resource shares (the store's, authentication's, a field rule's) are mapped here.
//! Each adapter renders a problem in its own shape (HTTP: a status and FastAPI's body;
//! MCP: an error result), so no adapter chooses an outcome or words an error of its own.

use std::borrow::Cow;
use std::fmt;

use hydracore_auth::AuthError;
use hydracore_core::{BoxError, RepoError, ValidationError};

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
