//! Rate limiters behind the `hydracore_keys::RateLimiter` port.
//!
//! [`InProcessLimiter`] keeps one GCRA limiter (governor) per API key in this process:
//! right for a single node; the math is governor's. [`RedisLimiter`] shares budgets
//! between nodes through one atomic Redis script per request, and falls back to the
//! in-process limiter while Redis is unreachable.

mod redis;

pub use crate::redis::RedisLimiter;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter as Gcra};
use hydracore_keys::{ApiKeyId, Decision, RateLimit, RateLimiter};

type KeyLimiter = Gcra<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// One GCRA budget per key, in this process.
#[derive(Default)]
pub struct InProcessLimiter {
    keys: DashMap<ApiKeyId, (RateLimit, Arc<KeyLimiter>)>,
    clock: DefaultClock,
}

fn quota(limit: RateLimit) -> Quota {
    let burst = NonZeroU32::new(limit.requests).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs(u64::from(limit.per_seconds)) / limit.requests.max(1);
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst)
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl InProcessLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn limiter(&self, key: ApiKeyId, limit: RateLimit) -> Arc<KeyLimiter> {
        if let Some(entry) = self.keys.get(&key)
            && entry.0 == limit
        {
            return entry.1.clone();
        }
        // New key, or its limit changed: a fresh budget under the new quota.
        let fresh =
            Arc::new(Gcra::direct(quota(limit)).with_middleware::<StateInformationMiddleware>());
        self.keys.insert(key, (limit, fresh.clone()));
        fresh
    }

    /// Takes one request, synchronously.
    pub fn take(&self, key: ApiKeyId, limit: RateLimit) -> Decision {
        let limiter = self.limiter(key, limit);
        let interval = quota(limit).replenish_interval();
        match limiter.check() {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit: limit.requests,
                    window_secs: limit.per_seconds,
                    remaining,
                    reset_secs: ceil_secs(interval * (limit.requests - remaining)),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit: limit.requests,
                    window_secs: limit.per_seconds,
                    remaining: 0,
                    reset_secs: ceil_secs(interval * limit.requests),
                    retry_after_secs: ceil_secs(wait).max(1),
                }
            }
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(&self, key: ApiKeyId, limit: RateLimit) -> Decision {
        self.take(key, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_exactly_its_budget_and_keys_do_not_share() {
        let l = InProcessLimiter::new();
        let (a, b) = (ApiKeyId::new(), ApiKeyId::new());
        let five = RateLimit::new(5, 60).unwrap();
        let remaining: Vec<u32> = (0..5).map(|_| l.take(a, five).remaining).collect();
        assert_eq!(remaining, vec![4, 3, 2, 1, 0]);
        let refused = l.take(a, five);
        assert!(!refused.allowed);
        assert!((1..=12).contains(&refused.retry_after_secs));
        assert!(l.take(b, five).allowed);
        // A changed limit applies at once.
        assert!(l.take(a, RateLimit::new(10, 60).unwrap()).allowed);
    }
}
