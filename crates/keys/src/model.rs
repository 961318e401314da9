//! The key types: ids, budgets, the stored key, requests, and what the operations can
//! fail with.

use hydracore_core::id_type;
use hydracore_core::rules::Rule;
use hydracore_core::{RepoError, ValidationError};
use hydracore_scopes::ScopeSet;
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::KeySecret;

id_type! {
    /// An API key's id.
    pub struct ApiKeyId;
}

/// A request budget: bursts of up to `requests`, refilled at `requests` per
/// `per_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub requests: u32,
    pub per_seconds: u32,
}

/// `requests/seconds`, as the settings write a budget (`600/60`).
impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.requests, self.per_seconds)
    }
}

impl RateLimit {
    pub const MAX_REQUESTS: u32 = 1_000_000;
    pub const MAX_WINDOW_SECONDS: u32 = 86_400;
    pub const REQUESTS: Rule = Rule::Whole {
        min: 1,
        max: Self::MAX_REQUESTS as u64,
    };
    pub const WINDOW: Rule = Rule::Whole {
        min: 1,
        max: Self::MAX_WINDOW_SECONDS as u64,
    };
    /// The budget of keys without one of their own, unless the server sets another.
    pub const DEFAULT: RateLimit = RateLimit {
        requests: 600,
        per_seconds: 60,
    };

    /// # Errors
    /// `requests` outside `1..=1_000_000` or `per_seconds` outside `1..=86_400`.
    pub fn new(requests: u32, per_seconds: u32) -> Result<Self, ValidationError> {
        if !(1..=Self::MAX_REQUESTS).contains(&requests) {
            return Err(ValidationError::new(
                "rate_limit",
                "less_than_equal",
                format!("requests must be between 1 and {}", Self::MAX_REQUESTS),
                requests.to_string(),
            )
            .at("requests"));
        }
        if !(1..=Self::MAX_WINDOW_SECONDS).contains(&per_seconds) {
            return Err(ValidationError::new(
                "rate_limit",
                "less_than_equal",
                format!(
                    "per_seconds must be between 1 and {}",
                    Self::MAX_WINDOW_SECONDS
                ),
                per_seconds.to_string(),
            )
            .at("per_seconds"));
        }
        Ok(Self {
            requests,
            per_seconds,
        })
    }

    /// Whether `self` allows anything `than` does not: a larger burst or a faster
    /// refill.
    pub fn looser_than(&self, than: &RateLimit) -> bool {
        let faster = u64::from(self.requests) * u64::from(than.per_seconds)
            > u64::from(than.requests) * u64::from(self.per_seconds);
        self.requests > than.requests || faster
    }
}

/// An API key as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the plaintext, enough to recognise a key.
    pub prefix: String,
    pub scopes: ScopeSet,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    /// `None`: the server default applies.
    pub rate_limit: Option<RateLimit>,
    /// When a successor replaced it; it then lives out its grace period (its
    /// `expires_at`) and cannot be rotated again.
    pub rotated_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// Whether the key may authenticate at `now`.
    ///
    /// # Errors
    /// `Revoked` or `Expired`.
    pub fn state_at(&self, now: OffsetDateTime) -> Result<(), VerifyError> {
        if self.revoked_at.is_some() {
            return Err(VerifyError::Revoked);
        }
        if self.is_expired_at(now) {
            return Err(VerifyError::Expired);
        }
        Ok(())
    }

    /// Whether the key's expiry has passed at `now`.
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// A new key and the only copy of its plaintext.
#[derive(Debug)]
pub struct MintedKey {
    pub key: ApiKey,
    pub secret: KeySecret,
}

/// What to mint.
#[derive(Debug, Clone, Default)]
pub struct MintKey {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub rate_limit: Option<RateLimit>,
}

/// A partial update; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<Option<OffsetDateTime>>,
    pub rate_limit: Option<Option<RateLimit>>,
}

/// Who mints, changes, rotates or revokes a key.
#[derive(Debug, Clone, Copy)]
pub enum Grantor<'a> {
    /// The operator at the command line, bootstrapping a tenant: any catalogued scope.
    Operator,
    /// A caller holding `scopes`: it grants only scopes it holds, and manages only keys
    /// whose every scope it holds. `key` is the caller's own key, when it is one: that
    /// key never loosens its own limits.
    Holder {
        scopes: &'a ScopeSet,
        key: Option<ApiKeyId>,
    },
}

impl<'a> Grantor<'a> {
    /// A caller holding `scopes`, itself the key `key` when it is an API key.
    pub fn holder(scopes: &'a ScopeSet, key: Option<ApiKeyId>) -> Self {
        Grantor::Holder { scopes, key }
    }
}

/// Why a key cannot be rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRotatable {
    /// A successor replaced it already: rotate the successor.
    Rotated,
    /// Its expiry has passed.
    Expired,
}

/// A limit a key may not loosen on itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnLimit {
    RateLimit,
    Expiry,
}

/// What the key operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("API key not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The grantor does not hold these scopes it tries to grant.
    #[error("cannot grant scopes the caller does not hold: {}", .0.join(", "))]
    ScopeNotGranted(Vec<String>),
    /// The key holds these scopes the caller does not: the caller could not have minted
    /// it, so it may not change, rotate or revoke it.
    #[error("cannot manage a key holding scopes the caller does not hold: {}", .0.join(", "))]
    NotManageable(Vec<String>),
    /// A key tried to loosen one of its own limits.
    #[error("a key cannot loosen its own {0:?}")]
    OwnLimit(OwnLimit),
    #[error("the key cannot be rotated: {0:?}")]
    NotRotatable(NotRotatable),
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// Why a presented secret does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("unknown API key")]
    Unknown,
    #[error("API key revoked")]
    Revoked,
    #[error("API key expired")]
    Expired,
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// The longest a rotated key may stay valid beside its successor: 7 days.
pub const MAX_ROTATION_GRACE_SECONDS: u32 = 7 * 24 * 3600;
/// How long a rotated key stays valid when the caller does not say: 5 minutes.
pub const DEFAULT_ROTATION_GRACE_SECONDS: u32 = 300;
/// How long a rotated key may keep working, in seconds.
pub const ROTATION_GRACE: Rule = Rule::Whole {
    min: 0,
    max: MAX_ROTATION_GRACE_SECONDS as u64,
};
/// The longest key name.
pub const MAX_KEY_NAME: usize = 100;
/// A key's name.
pub const KEY_NAME: Rule = Rule::printable(MAX_KEY_NAME);
/// The scopes a key grants: at least one, each from the catalogue (a resource's verb,
/// or `*` for all of them).
pub const KEY_SCOPES: Rule = Rule::Each {
    min: 1,
    name: "ScopeName",
    values: hydracore_scopes::grantable,
};
