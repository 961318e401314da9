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
use hydracore_keys::{Budget, Decision, RateLimit, RateLimiter};

type KeyLimiter = Gcra<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// A budget's limiter and when it was last used.
struct Entry {
    limit: RateLimit,
    limiter: Arc<KeyLimiter>,
    last_used: std::sync::atomic::AtomicU64,
}

/// One GCRA budget per key (or sign-in e-mail, or client address), in this process.
/// A budget unused for longer than its window is whole again, as good as new: such
/// entries are dropped now and then, so budgets nobody uses (a revoked key, an
/// address seen once) do not accumulate.
#[derive(Default)]
pub struct InProcessLimiter {
    budgets: DashMap<Budget, Entry>,
    clock: DefaultClock,
    started: std::sync::OnceLock<std::time::Instant>,
    checks: std::sync::atomic::AtomicU64,
}

/// Every this many decisions, idle budgets are swept.
const SWEEP_EVERY: u64 = 4096;

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

    /// Milliseconds since this limiter was made.
    fn now_ms(&self) -> u64 {
        let started = self.started.get_or_init(std::time::Instant::now);
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn limiter(&self, budget: Budget, limit: RateLimit) -> Arc<KeyLimiter> {
        let now = self.now_ms();
        if let Some(entry) = self.budgets.get(&budget)
            && entry.limit == limit
        {
            entry
                .last_used
                .store(now, std::sync::atomic::Ordering::Relaxed);
            return entry.limiter.clone();
        }
        // New budget, or its limit changed: a fresh budget under the new quota, made
        // under the shard's lock, so that of many first requests at once one makes it
        // and the others take from it (two budgets would admit one request too many).
        let fresh =
            || Arc::new(Gcra::direct(quota(limit)).with_middleware::<StateInformationMiddleware>());
        match self.budgets.entry(budget) {
            dashmap::Entry::Occupied(mut seen) => {
                if seen.get().limit != limit {
                    seen.insert(Entry {
                        limit,
                        limiter: fresh(),
                        last_used: now.into(),
                    });
                }
                let entry = seen.get();
                entry
                    .last_used
                    .store(now, std::sync::atomic::Ordering::Relaxed);
                entry.limiter.clone()
            }
            dashmap::Entry::Vacant(free) => {
                let limiter = fresh();
                free.insert(Entry {
                    limit,
                    limiter: limiter.clone(),
                    last_used: now.into(),
                });
                limiter
            }
        }
    }

    /// Drops budgets unused for longer than their window (GCRA refills a budget
    /// completely in one window, so a dropped one comes back exactly as it was).
    fn sweep(&self) {
        let now = self.now_ms();
        self.budgets.retain(|_, e| {
            let idle = now.saturating_sub(e.last_used.load(std::sync::atomic::Ordering::Relaxed));
            idle <= u64::from(e.limit.per_seconds) * 1000
        });
    }

    /// How many budgets are held.
    pub fn len(&self) -> usize {
        self.budgets.len()
    }

    /// Whether no budget is held.
    pub fn is_empty(&self) -> bool {
        self.budgets.is_empty()
    }

    /// Takes one request, synchronously.
    pub fn take(&self, budget: Budget, limit: RateLimit) -> Decision {
        if self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % SWEEP_EVERY
            == SWEEP_EVERY - 1
        {
            self.sweep();
        }
        let limiter = self.limiter(budget, limit);
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
    async fn check(&self, budget: Budget, limit: RateLimit) -> Decision {
        self.take(budget, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hydracore_keys::ApiKeyId;

    #[test]
    fn a_key_gets_exactly_its_budget_and_keys_do_not_share() {
        let l = InProcessLimiter::new();
        let (a, b) = (Budget::Key(ApiKeyId::new()), Budget::Key(ApiKeyId::new()));
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

    /// Many first requests of a key at once: still exactly its budget. (Two of them
    /// could each find no budget and make one, the second replacing the first after
    /// the first had admitted a request: one request more than the budget.)
    #[test]
    fn a_new_budget_taken_at_once_by_many_admits_exactly_its_size() {
        let seven = RateLimit::new(7, 86_400).unwrap();
        let threads = 8;
        for _ in 0..300 {
            let l = InProcessLimiter::new();
            let key = Budget::Key(ApiKeyId::new());
            let start = std::sync::Barrier::new(threads);
            let admitted = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        start.wait();
                        for _ in 0..3 {
                            if l.take(key, seven).allowed {
                                admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                        }
                    });
                }
            });
            assert_eq!(admitted.into_inner(), 7);
        }
    }

    #[test]
    fn sign_in_budgets_are_their_own_and_idle_ones_are_dropped() {
        let l = InProcessLimiter::new();
        let one = RateLimit::new(1, 1).unwrap();
        let email = Budget::sign_in_email("Ada@Example.com ");
        assert_eq!(email, Budget::sign_in_email("ada@example.com"));
        let addr = Budget::SignInAddress("192.0.2.7".parse().unwrap());
        assert!(l.take(email, one).allowed);
        assert!(!l.take(email, one).allowed);
        assert!(l.take(addr, one).allowed);
        assert!(!email.name().contains("ada"));
        assert_eq!(l.len(), 2);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        l.sweep();
        assert!(l.is_empty(), "budgets idle past their window are dropped");
        assert!(l.take(email, one).allowed);
    }
}
