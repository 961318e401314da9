//! Users and their e-mail addresses.

use std::fmt;

use hydracore_core::ValidationError;
use hydracore_core::rules::Rule;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::TenantId;

/// A user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub Uuid);

impl UserId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
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
