//! Cross-cutting primitives shared by every HydraCore domain crate: the clock port,
//! keyset pagination, validation failures, the storage error that every port uses, the
//! audit record every change leaves ([`audit`]), and [`id_type!`], which declares
//! every entity's id.
//!
//! This crate knows nothing of HTTP, SQL or serialisation formats.

pub mod audit;
mod id;
pub mod idempotency;
pub mod rules;
pub mod seal;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

/// What [`id_type!`] expands to names `uuid` through this path, so a crate that
/// declares an id needs no `uuid` import of its own.
#[doc(hidden)]
pub mod __private {
    pub use uuid::Uuid;
}

/// The source of "now" for every rule that depends on time (expiry, timestamps).
pub trait Clock: Send + Sync {
    /// The current instant in UTC, truncated to whole microseconds so that it
    /// survives a round trip through either database unchanged.
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// Drops sub-microsecond precision, which neither backend stores.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The largest page a list call may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The position after which a page starts: the `(created_at, id)` of the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageKey {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

/// What a list call asks for: at most `limit` rows ordered by `(created_at, id)`,
/// strictly after `after` when it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    limit: u32,
    pub after: Option<PageKey>,
}

impl PageRequest {
    /// A request for `limit` rows.
    ///
    /// # Errors
    /// `limit` outside `1..=1000`.
    pub fn new(limit: u32, after: Option<PageKey>) -> Result<Self, ValidationError> {
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ValidationError::new(
                "limit",
                "less_than_equal",
                format!("Input should be between 1 and {MAX_PAGE_SIZE}"),
                limit.to_string(),
            ));
        }
        Ok(Self { limit, after })
    }

    /// The first page, as large as allowed.
    pub fn first() -> Self {
        Self {
            limit: MAX_PAGE_SIZE,
            after: None,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// How many rows an adapter should fetch: one more than the limit, so it can tell
    /// whether another page exists.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of rows and, when more exist, where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageKey>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in order: the extra row, if
    /// present, only signals that a next page exists.
    pub fn from_overfetch(
        mut rows: Vec<T>,
        req: &PageRequest,
        key: impl Fn(&T) -> PageKey,
    ) -> Self {
        let limit = req.limit() as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(key)
        } else {
            None
        };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// An input that breaks a domain rule, named by the field it came from so an adapter
/// can point at it (`["body", "name"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The field path inside the request, outermost first (`["scopes", "2"]`).
    pub field: Vec<String>,
    /// A stable machine-readable kind, in the vocabulary of pydantic
    /// (`string_pattern_mismatch`, `value_error`, ...).
    pub kind: &'static str,
    /// A sentence a person can act on.
    pub message: String,
    /// The offending input, as text.
    pub input: String,
}

impl ValidationError {
    pub fn new(
        field: &str,
        kind: &'static str,
        message: impl Into<String>,
        input: impl Into<String>,
    ) -> Self {
        Self {
            field: vec![field.to_owned()],
            kind,
            message: message.into(),
            input: input.into(),
        }
    }

    /// Appends an index or key to the field path (`scopes` → `scopes.2`).
    #[must_use]
    pub fn at(mut self, segment: impl ToString) -> Self {
        self.field.push(segment.to_string());
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field.join("."), self.message)
    }
}

impl StdError for ValidationError {}

/// A boxed error source.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What any repository port may fail with besides its business outcomes.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A uniqueness rule was broken; `constraint` names it (`instances_tenant_name`).
    #[error("duplicate value for {constraint}")]
    Duplicate { constraint: String },
    /// The store could not be reached (pool timeout, connection refused).
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else; never matched on for behaviour.
    #[error("unexpected store error")]
    Unexpected(#[source] BoxError),
}
