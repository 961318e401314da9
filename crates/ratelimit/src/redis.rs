//! Budgets shared by every node through Redis: one atomic script per request, GCRA
//! with Redis's own clock, so nodes need not agree on the time. When Redis cannot be
//! reached the node keeps serving with its in-process limiter (fail open, visibly: a
//! warning and a counter), and goes back to Redis by itself once it answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hydracore_keys::{Budget, Decision, RateLimit, RateLimiter};
use redis::aio::ConnectionManager;

use crate::InProcessLimiter;

/// GCRA over a "theoretical arrival time" kept in microseconds.
/// KEYS[1]: the budget. ARGV: emission interval (µs), burst.
/// Returns {allowed, remaining, retry_after_us, reset_us}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
";

/// The longest a request waits for Redis before deciding locally.
const CALL_TIMEOUT: Duration = Duration::from_millis(200);
/// While Redis is unreachable, how often one request tries it again.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Shared budgets in Redis, falling back to this process's own.
pub struct RedisLimiter {
    conn: ConnectionManager,
    script: redis::Script,
    local: InProcessLimiter,
    degraded: AtomicBool,
    /// While degraded, when Redis was last tried (ms since `started`): it is probed at
    /// most once per `PROBE_EVERY`, so no request waits on a dead Redis.
    last_probe_ms: AtomicU64,
    started: std::time::Instant,
    /// Decisions taken locally because Redis did not answer.
    pub fallbacks: Arc<AtomicU64>,
}

impl RedisLimiter {
    /// Connects (and keeps reconnecting) to `url`.
    ///
    /// # Errors
    /// A malformed URL or a first connection that fails.
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            script: redis::Script::new(GCRA),
            local: InProcessLimiter::new(),
            degraded: AtomicBool::new(false),
            last_probe_ms: AtomicU64::new(0),
            started: std::time::Instant::now(),
            fallbacks: Arc::default(),
        })
    }

    async fn shared(&self, key: Budget, limit: RateLimit) -> Result<Decision, redis::RedisError> {
        let interval_us =
            (u64::from(limit.per_seconds) * 1_000_000 / u64::from(limit.requests)).max(1);
        let budget = format!(
            "hc:rl:{}:{}:{}",
            key.name(),
            limit.requests,
            limit.per_seconds
        );
        let mut conn = self.conn.clone();
        let (allowed, remaining, retry_us, reset_us): (i64, i64, i64, i64) = self
            .script
            .key(budget)
            .arg(interval_us)
            .arg(limit.requests)
            .invoke_async(&mut conn)
            .await?;
        let secs = |us: i64| u64::try_from(us).unwrap_or(0).div_ceil(1_000_000);
        Ok(Decision {
            allowed: allowed == 1,
            limit: limit.requests,
            window_secs: limit.per_seconds,
            remaining: u32::try_from(remaining.max(0))
                .unwrap_or(0)
                .min(limit.requests),
            reset_secs: secs(reset_us),
            retry_after_secs: if allowed == 1 {
                0
            } else {
                secs(retry_us).max(1)
            },
        })
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, key: Budget, limit: RateLimit) -> Decision {
        if self.degraded.load(Ordering::Relaxed) {
            let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let last = self.last_probe_ms.load(Ordering::Relaxed);
            let due = now_ms.saturating_sub(last)
                >= u64::try_from(PROBE_EVERY.as_millis()).unwrap_or(1000);
            if !due
                || self
                    .last_probe_ms
                    .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                return self.local.take(key, limit);
            }
        }
        let answer = match tokio::time::timeout(CALL_TIMEOUT, self.shared(key, limit)).await {
            Ok(answer) => answer,
            Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "Redis did not answer in time",
            ))),
        };
        match answer {
            Ok(d) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        "Redis answers again: rate limits are shared across nodes again"
                    );
                }
                d
            }
            Err(e) => {
                let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.last_probe_ms.store(now_ms, Ordering::Relaxed);
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "Redis unreachable: rate limits fall back to this node alone");
                }
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                self.local.take(key, limit)
            }
        }
    }
}
