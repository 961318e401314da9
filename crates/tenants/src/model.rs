//! The tenant model: tenants, users and their e-mail addresses, and memberships.

use std::fmt;

use hydracore_core::ValidationError;
use hydracore_core::id_type;
use hydracore_core::rules::Rule;
use hydracore_scopes::Role;
use time::OffsetDateTime;

id_type! {
    /// A tenant's id.
    pub struct TenantId;
}

/// A tenant's display name: 1..=128 characters, not blank, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub const MAX_LEN: usize = 128;
    pub const RULE: Rule = Rule::printable(Self::MAX_LEN);

    /// # Errors
    /// A blank name, one over 128 characters, or one with control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new(
                "name",
                "string_too_short",
                "Tenant name must not be blank",
                raw,
            ));
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(ValidationError::new(
                "name",
                "string_too_long",
                format!("Tenant name must be at most {} characters", Self::MAX_LEN),
                raw,
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "string_pattern_mismatch",
                "Tenant name must not contain control characters",
                raw,
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: TenantName,
    pub created_at: OffsetDateTime,
}

id_type! {
    /// A user's id.
    pub struct UserId;
}

/// An e-mail address, compared case-insensitively: stored lower-cased and trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;
    /// What [`Email::parse`] takes: one `@`, a dotted domain, no whitespace.
    pub const PATTERN: &str =
        r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f]+(?:\.[^@\s.\x00-\x1f\x7f-\x9f]+)+$";
    pub const RULE: Rule = Rule::Text {
        min: 0,
        max: Self::MAX_LEN,
        pattern: Some(Self::PATTERN),
        chars: Some("`local@domain.tld`"),
    };

    /// # Errors
    /// Anything that is not `local@domain.tld` of at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let too_long = raw.chars().count() > Self::MAX_LEN;
        let email = raw.trim().to_lowercase();
        let invalid = |why: &str| {
            ValidationError::new(
                "email",
                "value_error",
                format!("value is not a valid email address: {why}"),
                raw,
            )
        };
        if too_long {
            return Err(invalid(&format!(
                "it is longer than {} characters",
                Self::MAX_LEN
            )));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("it has no @-sign"));
        };
        if local.is_empty() || domain.contains('@') {
            return Err(invalid(
                "the part before the @-sign is empty or it has several @-signs",
            ));
        }
        if !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(invalid("the domain name is not valid"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains whitespace"));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person who signs in with an e-mail address and a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    /// A PHC string (`$argon2id$…`); never the password.
    pub password_hash: String,
    /// The tenant the user's requests act on.
    pub active_tenant_id: Option<TenantId>,
    pub created_at: OffsetDateTime,
}

/// A user's membership of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

/// A member as the tenant sees it: the membership and the user's e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub email: Email,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

/// One of a user's tenants, with the user's role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRole {
    pub tenant: Tenant,
    pub role: Role,
}

/// The outcome of changing or removing a membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    /// Done; the membership as it was before the change.
    Done(Membership),
    NotFound,
    /// Refused: the tenant would be left without an owner.
    LastOwner,
    /// Refused: the member's role (as read in the change's transaction) is not one the
    /// caller may manage.
    NotGranted(Role),
}
