//! API keys: minting from a CSPRNG, verification by SHA-256 hash, revocation, expiry,
//! rotation, and the authority rules: a key may only mint keys whose scopes it holds,
//! and only manage keys it could have minted.
//!
//! The plaintext of a key exists only in the mint response; the store holds its hash.
//! Each request a key makes is counted by hour and outcome, in memory, and written in
//! batches.
//! Knows nothing of HTTP or SQL.

mod cache;
mod model;
pub mod ports;
pub mod ratelimit;
mod secret;
mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod usage;

pub use cache::KeyCache;
pub use model::{
    ApiKey, ApiKeyId, DEFAULT_ROTATION_GRACE_SECONDS, Grantor, KEY_NAME, KEY_SCOPES, KeyError,
    KeyPatch, MAX_KEY_NAME, MAX_ROTATION_GRACE_SECONDS, MintKey, MintedKey, NotRotatable, OwnLimit,
    ROTATION_GRACE, RateLimit, VerifyError,
};
pub use ports::KeyRepository;
pub use ratelimit::{Budget, Decision, RateLimiter};
pub use secret::{KEY_PREFIX, KeyHash, KeySecret};
pub use service::KeyService;
pub use usage::{
    DEFAULT_USAGE_HOURS, DEFAULT_USAGE_RETENTION_DAYS, KeyUsage, MAX_USAGE_RANGE_DAYS, UsageBucket,
    UsageCounts, UsageOutcome, hour_of, next_hour,
};

#[cfg(test)]
mod tests;
