//! The rate-limit port. Request budgets belong to API keys, never to tenants: two keys
//! of one tenant never share one. Sign-in attempts have budgets of their own, per
//! e-mail and per client address.

use std::fmt::Write as _;
use std::net::IpAddr;

use async_trait::async_trait;
use ring::digest::{SHA256, digest};

use crate::{ApiKeyId, RateLimit};

/// Whose budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// An API key's requests.
    Key(ApiKeyId),
    /// Sign-in attempts naming one e-mail, by the SHA-256 of its lowercase form (no
    /// address is kept in clear, in memory or in Redis).
    SignInEmail([u8; 32]),
    /// Sign-in attempts (sign-in, sign-up, refresh) from one client address.
    SignInAddress(IpAddr),
    /// An OAuth grant's requests (every token of the grant shares it).
    Grant(uuid::Uuid),
    /// Dynamic client registrations from one client address.
    Registration(IpAddr),
}

impl Budget {
    /// The budget of sign-in attempts naming `email` (case and surrounding space do
    /// not make another one).
    pub fn sign_in_email(email: &str) -> Self {
        let d = digest(&SHA256, email.trim().to_lowercase().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Budget::SignInEmail(out)
    }

    /// A stable name for shared stores (`key:…`, `email:…`, `addr:…`, `grant:…`,
    /// `register:…`).
    pub fn name(&self) -> String {
        match self {
            Budget::Key(id) => format!("key:{}", id.0),
            Budget::SignInEmail(hash) => {
                let mut s = String::with_capacity(6 + 64);
                s.push_str("email:");
                for b in hash {
                    let _ = write!(s, "{b:02x}");
                }
                s
            }
            Budget::SignInAddress(ip) => format!("addr:{ip}"),
            Budget::Grant(id) => format!("grant:{id}"),
            Budget::Registration(ip) => format!("register:{ip}"),
        }
    }
}

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

/// Takes requests from budgets.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one request from `budget`, sized `limit`. A changed `limit` applies from
    /// this call on. Never fails: a limiter that cannot reach its store decides locally.
    async fn check(&self, budget: Budget, limit: RateLimit) -> Decision;
}
