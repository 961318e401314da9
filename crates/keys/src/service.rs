//! The key rules: minting within the grantor's scopes, managing only keys the caller
//! could have minted, verification through the cache, rotation, revocation.

use std::sync::Arc;

use dashmap::DashMap;
use hydracore_core::audit::{Action, AuditEvent, AuditTarget, TargetKind, Who};
use hydracore_core::{Page, PageRequest, SharedClock, ValidationError};
use hydracore_scopes::{ScopeError, ScopeSet};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::cache::{KeyCache, Lookup};
use crate::usage::Tally;
use crate::{
    ApiKey, ApiKeyId, DEFAULT_ROTATION_GRACE_SECONDS, DEFAULT_USAGE_HOURS,
    DEFAULT_USAGE_RETENTION_DAYS, Grantor, KeyError, KeyPatch, KeyRepository, KeySecret, KeyUsage,
    MAX_KEY_NAME, MAX_ROTATION_GRACE_SECONDS, MAX_USAGE_RANGE_DAYS, MintKey, MintedKey,
    NotRotatable, OwnLimit, RateLimit, UsageOutcome, VerifyError, hour_of, next_hour,
};

/// The key rules.
#[derive(Clone)]
pub struct KeyService {
    repo: Arc<dyn KeyRepository>,
    clock: SharedClock,
    /// When each key was last seen, not yet written: verification records use here
    /// and [`KeyService::flush_usage`] writes it in one batch, so a read request never
    /// writes.
    usage: Arc<DashMap<ApiKeyId, OffsetDateTime>>,
    /// Requests counted by key, hour and outcome, not yet written: the same batching.
    counts: Arc<Tally>,
    /// How long usage counts are kept.
    usage_retention: time::Duration,
    cache: Option<Arc<KeyCache>>,
    /// The budget of keys without one of their own (what clearing a limit means).
    default_rate_limit: RateLimit,
}

fn parse_name(raw: &str) -> Result<String, ValidationError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ValidationError::new(
            "name",
            "string_too_short",
            "Key name must not be blank",
            raw,
        ));
    }
    if raw.chars().count() > MAX_KEY_NAME {
        return Err(ValidationError::new(
            "name",
            "string_too_long",
            format!("Key name must be at most {MAX_KEY_NAME} characters"),
            raw,
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "string_pattern_mismatch",
            "Key name must not contain control characters",
            raw,
        ));
    }
    Ok(name.to_owned())
}

fn parse_scopes(raw: &[String], grantor: Grantor<'_>) -> Result<ScopeSet, KeyError> {
    if raw.is_empty() {
        return Err(ValidationError::new(
            "scopes",
            "too_short",
            "A key needs at least one scope",
            "[]",
        )
        .into());
    }
    let scopes = ScopeSet::parse(raw).map_err(|(i, e)| {
        let message = match &e {
            ScopeError::Malformed(s) => format!("'{s}' is not a scope: expected <resource>:<verb>"),
            ScopeError::UnknownResource(s) | ScopeError::UnknownVerb(s) => {
                format!("'{s}' is not in the scope catalogue (GET /v1/scopes)")
            }
        };
        KeyError::Invalid(
            ValidationError::new("scopes", "value_error", message, raw[i].clone()).at(i),
        )
    })?;
    if let Grantor::Holder { scopes: held, .. } = grantor {
        let missing = scopes.not_granted_by(held);
        if !missing.is_empty() {
            return Err(KeyError::ScopeNotGranted(
                missing.iter().map(ToString::to_string).collect(),
            ));
        }
    }
    Ok(scopes)
}

/// A caller may manage (change, rotate, revoke) only a key it could have minted: one
/// whose every scope it holds.
fn check_manages(grantor: Grantor<'_>, key: &ApiKey) -> Result<(), KeyError> {
    if let Grantor::Holder { scopes: held, .. } = grantor {
        let missing = key.scopes.not_granted_by(held);
        if !missing.is_empty() {
            return Err(KeyError::NotManageable(
                missing.iter().map(ToString::to_string).collect(),
            ));
        }
    }
    Ok(())
}

impl KeyService {
    pub fn new(repo: Arc<dyn KeyRepository>, clock: SharedClock) -> Self {
        Self {
            repo,
            clock,
            usage: Arc::default(),
            counts: Arc::default(),
            usage_retention: time::Duration::days(i64::from(DEFAULT_USAGE_RETENTION_DAYS)),
            cache: None,
            default_rate_limit: RateLimit::DEFAULT,
        }
    }

    /// Caches resolved keys in `cache`. Changes made through this service drop them
    /// here; the store announces them to the other nodes (see [`KeyRepository`]).
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<KeyCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The budget that applies to keys without one of their own.
    #[must_use]
    pub fn with_default_rate_limit(mut self, limit: RateLimit) -> Self {
        self.default_rate_limit = limit;
        self
    }

    /// Drops a key from this node's cache (it changed, here or on another node).
    pub fn forget(&self, id: ApiKeyId) {
        if let Some(cache) = &self.cache {
            cache.forget(id);
        }
    }

    /// How long usage counts are kept (swept by [`Self::sweep_usage`]).
    #[must_use]
    pub fn with_usage_retention(mut self, days: u32) -> Self {
        self.usage_retention = time::Duration::days(i64::from(days.max(1)));
        self
    }

    /// Counts one request of `key` (of `tenant`) that ended with `outcome`, in this
    /// hour. In memory only: [`Self::flush_usage`] writes the counts.
    pub fn count_request(&self, key: ApiKeyId, tenant: TenantId, outcome: UsageOutcome) {
        self.counts.count(key, tenant, self.clock.now(), outcome);
    }

    /// Writes the usage recorded since the last flush: `last_used_at`, and the counts
    /// of requests. Returns how many keys and buckets it wrote.
    ///
    /// # Errors
    /// Store failures; what could not be written is then kept for the next flush.
    pub async fn flush_usage(&self) -> Result<usize, KeyError> {
        let ids: Vec<ApiKeyId> = self.usage.iter().map(|e| *e.key()).collect();
        let batch: Vec<(ApiKeyId, OffsetDateTime)> = ids
            .into_iter()
            .filter_map(|id| self.usage.remove(&id))
            .collect();
        let mut written = 0;
        let mut failed = None;
        if !batch.is_empty() {
            match self.repo.record_usage(&batch).await {
                Ok(()) => written += batch.len(),
                Err(e) => {
                    for (id, at) in batch {
                        let mut slot = self.usage.entry(id).or_insert(at);
                        if *slot < at {
                            *slot = at;
                        }
                    }
                    failed = Some(e);
                }
            }
        }
        let buckets = self.counts.take();
        if !buckets.is_empty() {
            match self.repo.add_usage(&buckets).await {
                Ok(()) => written += buckets.len(),
                Err(e) => {
                    self.counts.restore(buckets);
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(written),
        }
    }

    /// The range a usage read covers: `until` defaults to the start of the next hour,
    /// `since` to 36 hours before `until`, and no earlier than 90 days before it (the
    /// answer says the range it covers). A range that holds no instant (`since` at or
    /// after `until`) covers nothing.
    fn usage_range(
        &self,
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
    ) -> (OffsetDateTime, OffsetDateTime) {
        let until = until.unwrap_or_else(|| next_hour(self.clock.now()));
        let since = since.unwrap_or(until - time::Duration::hours(DEFAULT_USAGE_HOURS));
        let earliest = until - time::Duration::days(MAX_USAGE_RANGE_DAYS);
        (since.max(earliest), until)
    }

    /// A live key's requests per hour and outcome in `[since, until)` (defaults: the
    /// 36 hours up to the end of this hour).
    ///
    /// # Errors
    /// `NotFound` for an unknown, revoked or other tenant's key.
    pub async fn usage(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
    ) -> Result<KeyUsage, KeyError> {
        let (since, until) = self.usage_range(since, until);
        self.get(tenant, id).await?;
        let buckets = if since < until {
            self.repo.usage(tenant, &[id], since, until).await?
        } else {
            Vec::new()
        };
        Ok(KeyUsage {
            key_id: id,
            since,
            until,
            buckets,
        })
    }

    /// [`Self::usage`] of several keys of the tenant at once, in one read: one
    /// [`KeyUsage`] per key of `keys`, in that order. Another tenant's key has none.
    ///
    /// # Errors
    /// `Invalid` for a bad range, as [`Self::usage`]; store failures.
    pub async fn usage_of(
        &self,
        tenant: TenantId,
        keys: &[ApiKeyId],
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
    ) -> Result<Vec<KeyUsage>, KeyError> {
        let (since, until) = self.usage_range(since, until);
        let mut by_key: std::collections::HashMap<ApiKeyId, Vec<_>> =
            std::collections::HashMap::new();
        if !keys.is_empty() && since < until {
            for b in self.repo.usage(tenant, keys, since, until).await? {
                by_key.entry(b.key_id).or_default().push(b);
            }
        }
        Ok(keys
            .iter()
            .map(|&key_id| KeyUsage {
                key_id,
                since,
                until,
                buckets: by_key.remove(&key_id).unwrap_or_default(),
            })
            .collect())
    }

    /// Deletes usage counts older than the retention, of every tenant.
    ///
    /// # Errors
    /// Store failures.
    pub async fn sweep_usage(&self) -> Result<u64, KeyError> {
        let before = hour_of(self.clock.now() - self.usage_retention);
        Ok(self.repo.delete_usage_before(before).await?)
    }

    /// Replaces a key with a new one of the same name, scopes, expiry and limit; the
    /// old key keeps working for `grace_seconds` (default 300), then is 401. A key is
    /// rotated once: its successor is the key to rotate next.
    ///
    /// # Errors
    /// `NotFound`; `Invalid` for a grace over 7 days; `NotManageable` when the
    /// grantor lacks a scope of the key (rotating must not hand out more power);
    /// `NotRotatable` for a key rotated already (also by a concurrent rotation) or
    /// expired.
    pub async fn rotate(
        &self,
        tenant: TenantId,
        grantor: Grantor<'_>,
        who: &Who,
        id: ApiKeyId,
        grace_seconds: Option<u32>,
    ) -> Result<MintedKey, KeyError> {
        let grace = grace_seconds.unwrap_or(DEFAULT_ROTATION_GRACE_SECONDS);
        if grace > MAX_ROTATION_GRACE_SECONDS {
            return Err(ValidationError::new(
                "grace_seconds",
                "less_than_equal",
                format!("Input should be less than or equal to {MAX_ROTATION_GRACE_SECONDS}"),
                grace.to_string(),
            )
            .into());
        }
        let old = self.get(tenant, id).await?;
        check_manages(grantor, &old)?;
        let now = self.clock.now();
        if old.rotated_at.is_some() {
            return Err(KeyError::NotRotatable(NotRotatable::Rotated));
        }
        if old.is_expired_at(now) {
            return Err(KeyError::NotRotatable(NotRotatable::Expired));
        }
        let grace_end = now + time::Duration::seconds(i64::from(grace));
        let old_expires_at = old.expires_at.map_or(grace_end, |e| e.min(grace_end));
        let secret = KeySecret::generate();
        let key = ApiKey {
            id: ApiKeyId::new(),
            tenant_id: tenant,
            name: old.name,
            prefix: secret.display_prefix(),
            scopes: old.scopes,
            created_at: now,
            expires_at: old.expires_at,
            revoked_at: None,
            last_used_at: None,
            rate_limit: old.rate_limit,
            rotated_at: None,
        };
        let event = audit(tenant, now, Action::ApiKeyRotated, who, id, &key.name)
            .with_fields(["expires_at"]);
        if self
            .repo
            .rotate(id, now, old_expires_at, &key, &secret.hash(), &event)
            .await?
        {
            self.forget(id);
            return Ok(MintedKey { key, secret });
        }
        // Changed since it was read: revoked (404), or rotated by a concurrent call.
        match self.get(tenant, id).await {
            Ok(_) => Err(KeyError::NotRotatable(NotRotatable::Rotated)),
            Err(e) => Err(e),
        }
    }

    fn check_expiry(&self, at: Option<OffsetDateTime>) -> Result<(), ValidationError> {
        match at {
            Some(t) if t <= self.clock.now() => Err(ValidationError::new(
                "expires_at",
                "value_error",
                "expires_at must be in the future",
                t.to_string(),
            )),
            _ => Ok(()),
        }
    }

    /// Mints a key for `tenant`.
    ///
    /// # Errors
    /// `Invalid` for a bad name, scope, or an expiry in the past; `ScopeNotGranted`
    /// when the grantor lacks a requested scope.
    pub async fn mint(
        &self,
        tenant: TenantId,
        grantor: Grantor<'_>,
        who: &Who,
        req: MintKey,
    ) -> Result<MintedKey, KeyError> {
        let name = parse_name(&req.name)?;
        let scopes = parse_scopes(&req.scopes, grantor)?;
        self.check_expiry(req.expires_at)?;
        let secret = KeySecret::generate();
        let key = ApiKey {
            id: ApiKeyId::new(),
            tenant_id: tenant,
            name,
            prefix: secret.display_prefix(),
            scopes,
            created_at: self.clock.now(),
            expires_at: req.expires_at,
            revoked_at: None,
            last_used_at: None,
            rate_limit: req.rate_limit,
            rotated_at: None,
        };
        let event = audit(
            tenant,
            key.created_at,
            Action::ApiKeyMinted,
            who,
            key.id,
            &key.name,
        );
        self.repo.insert(&key, &secret.hash(), &event).await?;
        Ok(MintedKey { key, secret })
    }

    /// Resolves a presented plaintext to its live key.
    ///
    /// # Errors
    /// `Unknown` for a malformed or unknown secret; `Revoked` or `Expired` for a key
    /// that no longer authenticates.
    pub async fn verify(&self, presented: &str) -> Result<ApiKey, VerifyError> {
        let Some(hash) = KeySecret::hash_presented(presented) else {
            return Err(VerifyError::Unknown);
        };
        let lookup = self.cache.as_ref().map(|c| c.get(&hash));
        let key = match lookup {
            Some(Lookup::Hit(key)) => key,
            miss => {
                let key = self
                    .repo
                    .find_by_hash(&hash)
                    .await?
                    .ok_or(VerifyError::Unknown)?;
                if let (Some(cache), Some(Lookup::Miss(seen))) = (&self.cache, miss) {
                    cache.put(hash, key.clone(), seen);
                }
                key
            }
        };
        let now = self.clock.now();
        key.state_at(now)?;
        self.usage.insert(key.id, now);
        Ok(key)
    }

    /// A live (not revoked) key of the tenant.
    ///
    /// # Errors
    /// `NotFound` for an unknown, revoked or other tenant's key.
    pub async fn get(&self, tenant: TenantId, id: ApiKeyId) -> Result<ApiKey, KeyError> {
        match self.repo.find(tenant, id).await? {
            Some(k) if k.revoked_at.is_none() => Ok(k),
            _ => Err(KeyError::NotFound),
        }
    }

    /// The tenant's live keys, oldest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, KeyError> {
        Ok(self.repo.list(tenant, page).await?)
    }

    /// Changes a key's name, scopes, expiry or rate limit. The grantor must hold every
    /// scope the key holds now and every scope it is given; a key changing itself may
    /// tighten its rate limit and expiry, never loosen them.
    ///
    /// # Errors
    /// As [`Self::mint`], and `NotFound`, `NotManageable`, `OwnLimit`.
    pub async fn update(
        &self,
        tenant: TenantId,
        grantor: Grantor<'_>,
        who: &Who,
        id: ApiKeyId,
        patch: KeyPatch,
    ) -> Result<ApiKey, KeyError> {
        let mut key = self.get(tenant, id).await?;
        let before = key.clone();
        check_manages(grantor, &key)?;
        let itself = matches!(grantor, Grantor::Holder { key: Some(caller), .. } if caller == id);
        if let Some(name) = patch.name {
            key.name = parse_name(&name)?;
        }
        if let Some(scopes) = patch.scopes {
            key.scopes = parse_scopes(&scopes, grantor)?;
        }
        if let Some(expires_at) = patch.expires_at {
            self.check_expiry(expires_at)?;
            let later = match (key.expires_at, expires_at) {
                (Some(now), Some(new)) => new > now,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if itself && later {
                return Err(KeyError::OwnLimit(OwnLimit::Expiry));
            }
            key.expires_at = expires_at;
        }
        if let Some(rate_limit) = patch.rate_limit {
            let effective = |l: Option<RateLimit>| l.unwrap_or(self.default_rate_limit);
            if itself && effective(rate_limit).looser_than(&effective(key.rate_limit)) {
                return Err(KeyError::OwnLimit(OwnLimit::RateLimit));
            }
            key.rate_limit = rate_limit;
        }
        let changed = [
            ("name", before.name != key.name),
            ("scopes", before.scopes != key.scopes),
            ("expires_at", before.expires_at != key.expires_at),
            ("rate_limit", before.rate_limit != key.rate_limit),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field));
        let event = audit(
            tenant,
            self.clock.now(),
            Action::ApiKeyUpdated,
            who,
            id,
            &before.name,
        )
        .with_fields(changed);
        if self.repo.update(&key, &event).await? {
            self.forget(key.id);
            Ok(key)
        } else {
            Err(KeyError::NotFound)
        }
    }

    /// Revokes a key: from now on it is 401 and hidden from reads. The grantor must
    /// hold every scope of the key.
    ///
    /// # Errors
    /// `NotFound` for an unknown, already revoked or other tenant's key;
    /// `NotManageable`.
    pub async fn revoke(
        &self,
        tenant: TenantId,
        grantor: Grantor<'_>,
        who: &Who,
        id: ApiKeyId,
    ) -> Result<(), KeyError> {
        let key = self.get(tenant, id).await?;
        check_manages(grantor, &key)?;
        let now = self.clock.now();
        let event = audit(tenant, now, Action::ApiKeyRevoked, who, id, &key.name);
        if self.repo.revoke(tenant, id, now, &event).await? {
            self.forget(id);
            Ok(())
        } else {
            Err(KeyError::NotFound)
        }
    }
}

/// The audit event of `action` on key `id` (named `name` then) of `tenant`.
fn audit(
    tenant: TenantId,
    at: OffsetDateTime,
    action: Action,
    who: &Who,
    id: ApiKeyId,
    name: &str,
) -> AuditEvent {
    AuditEvent::new(
        Some(tenant.0),
        at,
        action,
        who,
        AuditTarget::new(TargetKind::ApiKey, id.0, name),
    )
}
