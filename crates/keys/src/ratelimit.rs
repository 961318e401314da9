//! The per-key rate-limit port. Budgets belong to API keys, never to tenants: two keys
//! of one tenant never share one.

use async_trait::async_trait;

use crate::{ApiKeyId, RateLimit};

/// The outcome of taking one request from a key's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests per window.
    pub limit: u32,
    pub window_secs: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until the budget is whole again.
    pub reset_secs: u64,
    /// When refused: seconds until one request is allowed again.
    pub retry_after_secs: u64,
}

/// Takes requests from per-key budgets.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one request from `key`'s budget of `limit`. A changed `limit` applies from
    /// this call on. Never fails: a limiter that cannot reach its store decides locally.
    async fn check(&self, key: ApiKeyId, limit: RateLimit) -> Decision;
}
