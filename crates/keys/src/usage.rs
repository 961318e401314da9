//! Per-key usage: requests counted by key, UTC hour and outcome, in memory on the
//! request path, added to the store in batches by [`crate::KeyService::flush_usage`].

use dashmap::DashMap;
use hydracore_tenants::TenantId;
use time::{Duration, OffsetDateTime};

use crate::ApiKeyId;

/// How a request authenticated by a key ended. Which responses fall in which outcome
/// is the adapter's to say (HTTP: by status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageOutcome {
    /// Served.
    Ok,
    /// Refused for what the request held (a bad field, an unknown id).
    ClientError,
    /// Refused for what the key may not do.
    Forbidden,
    /// Refused for the key's rate limit.
    RateLimited,
    /// The server failed.
    ServerError,
}

/// Requests counted per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageCounts {
    pub ok: u64,
    pub client_error: u64,
    pub forbidden: u64,
    pub rate_limited: u64,
    pub server_error: u64,
}

impl UsageCounts {
    /// Counts one request that ended with `outcome`.
    pub fn count(&mut self, outcome: UsageOutcome) {
        let slot = match outcome {
            UsageOutcome::Ok => &mut self.ok,
            UsageOutcome::ClientError => &mut self.client_error,
            UsageOutcome::Forbidden => &mut self.forbidden,
            UsageOutcome::RateLimited => &mut self.rate_limited,
            UsageOutcome::ServerError => &mut self.server_error,
        };
        *slot = slot.saturating_add(1);
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &UsageCounts) {
        self.ok = self.ok.saturating_add(other.ok);
        self.client_error = self.client_error.saturating_add(other.client_error);
        self.forbidden = self.forbidden.saturating_add(other.forbidden);
        self.rate_limited = self.rate_limited.saturating_add(other.rate_limited);
        self.server_error = self.server_error.saturating_add(other.server_error);
    }

    /// Every request, whatever its outcome.
    pub fn total(&self) -> u64 {
        self.ok
            .saturating_add(self.client_error)
            .saturating_add(self.forbidden)
            .saturating_add(self.rate_limited)
            .saturating_add(self.server_error)
    }
}

/// One key's requests in one UTC hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBucket {
    pub key_id: ApiKeyId,
    pub tenant_id: TenantId,
    /// The start of the hour.
    pub hour: OffsetDateTime,
    pub counts: UsageCounts,
}

/// A key's hourly buckets in `[since, until)`: only hours with requests, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub key_id: ApiKeyId,
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
    pub buckets: Vec<UsageBucket>,
}

/// The longest range one usage read may span: 90 days.
pub const MAX_USAGE_RANGE_DAYS: i64 = 90;
/// How long usage is kept when the server does not say: 90 days.
pub const DEFAULT_USAGE_RETENTION_DAYS: u32 = 90;
/// The range a usage read spans when it gives no `since`: 36 hours.
pub const DEFAULT_USAGE_HOURS: i64 = 36;

/// The start of the UTC hour `t` falls in.
pub fn hour_of(t: OffsetDateTime) -> OffsetDateTime {
    let secs = t.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(secs - secs.rem_euclid(3600))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The start of the hour after the one `t` falls in.
pub fn next_hour(t: OffsetDateTime) -> OffsetDateTime {
    hour_of(t) + Duration::HOUR
}

/// Counts not yet written, by key and hour (seconds since the epoch): counting is one
/// map entry, and a flush takes them out; what it could not write is put back.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    counts: DashMap<(ApiKeyId, i64), (TenantId, UsageCounts)>,
}

impl Tally {
    pub(crate) fn count(
        &self,
        key: ApiKeyId,
        tenant: TenantId,
        at: OffsetDateTime,
        outcome: UsageOutcome,
    ) {
        let secs = at.unix_timestamp();
        let hour = secs - secs.rem_euclid(3600);
        self.counts
            .entry((key, hour))
            .or_insert_with(|| (tenant, UsageCounts::default()))
            .1
            .count(outcome);
    }

    /// Takes every count out, as buckets.
    pub(crate) fn take(&self) -> Vec<UsageBucket> {
        let slots: Vec<(ApiKeyId, i64)> = self.counts.iter().map(|e| *e.key()).collect();
        slots
            .into_iter()
            .filter_map(|slot| self.counts.remove(&slot))
            .filter_map(|((key_id, hour), (tenant_id, counts))| {
                Some(UsageBucket {
                    key_id,
                    tenant_id,
                    hour: OffsetDateTime::from_unix_timestamp(hour).ok()?,
                    counts,
                })
            })
            .collect()
    }

    /// Puts back counts a flush could not write, beside any counted since.
    pub(crate) fn restore(&self, buckets: Vec<UsageBucket>) {
        for b in buckets {
            self.counts
                .entry((b.key_id, b.hour.unix_timestamp()))
                .or_insert_with(|| (b.tenant_id, UsageCounts::default()))
                .1
                .add(&b.counts);
        }
    }
}
