//! API keys: minting from a CSPRNG, verification by SHA-256 hash, revocation, expiry,
//! and the rule that a key may only mint keys whose scopes it holds itself.
//!
//! The plaintext of a key exists only in the mint response; the store holds its hash.
//! Knows nothing of HTTP or SQL.

pub mod ports;
pub mod ratelimit;
mod secret;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::fmt;
use std::sync::Arc;

use dashmap::DashMap;

use hydracore_core::{Page, PageRequest, RepoError, SharedClock, ValidationError};
use hydracore_scopes::{ScopeError, ScopeSet};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

pub use ports::{KeyEvents, KeyRepository};
pub use ratelimit::{Decision, RateLimiter};
pub use secret::{KEY_PREFIX, KeyHash, KeySecret};

/// An API key's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiKeyId(pub Uuid);

impl ApiKeyId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for ApiKeyId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A per-key request budget: `requests` per `per_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per_seconds: u32,
}

impl RateLimit {
    pub const MAX_REQUESTS: u32 = 1_000_000;
    pub const MAX_WINDOW_SECONDS: u32 = 86_400;

    /// # Errors
    /// `requests` outside `1..=1_000_000` or `per_seconds` outside `1..=86_400`.
    pub fn new(requests: u32, per_seconds: u32) -> Result<Self, ValidationError> {
        if !(1..=Self::MAX_REQUESTS).contains(&requests) {
            return Err(ValidationError::new(
                "rate_limit",
                "less_than_equal",
                format!("requests must be between 1 and {}", Self::MAX_REQUESTS),
                requests.to_string(),
            )
            .at("requests"));
        }
        if !(1..=Self::MAX_WINDOW_SECONDS).contains(&per_seconds) {
            return Err(ValidationError::new(
                "rate_limit",
                "less_than_equal",
                format!(
                    "per_seconds must be between 1 and {}",
                    Self::MAX_WINDOW_SECONDS
                ),
                per_seconds.to_string(),
            )
            .at("per_seconds"));
        }
        Ok(Self {
            requests,
            per_seconds,
        })
    }
}

/// An API key as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the plaintext, enough to recognise a key.
    pub prefix: String,
    pub scopes: ScopeSet,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    /// `None`: the server default applies.
    pub rate_limit: Option<RateLimit>,
}

impl ApiKey {
    /// Whether the key may authenticate at `now`.
    pub fn state_at(&self, now: OffsetDateTime) -> Result<(), VerifyError> {
        if self.revoked_at.is_some() {
            return Err(VerifyError::Revoked);
        }
        if self.expires_at.is_some_and(|e| e <= now) {
            return Err(VerifyError::Expired);
        }
        Ok(())
    }
}

/// A new key and the only copy of its plaintext.
#[derive(Debug)]
pub struct MintedKey {
    pub key: ApiKey,
    pub secret: KeySecret,
}

/// What to mint.
#[derive(Debug, Clone, Default)]
pub struct MintKey {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub rate_limit: Option<RateLimit>,
}

/// A partial update; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<Option<OffsetDateTime>>,
    pub rate_limit: Option<Option<RateLimit>>,
}

/// Who grants the scopes of a minted or changed key.
#[derive(Debug, Clone, Copy)]
pub enum Grantor<'a> {
    /// The operator at the command line, bootstrapping a tenant: any catalogued scope.
    Operator,
    /// A caller holding these scopes: only scopes it holds itself.
    Holder(&'a ScopeSet),
}

/// What the key operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("API key not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The grantor does not hold these scopes.
    #[error("cannot grant scopes the caller does not hold: {}", .0.join(", "))]
    ScopeNotGranted(Vec<String>),
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// Why a presented secret does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("unknown API key")]
    Unknown,
    #[error("API key revoked")]
    Revoked,
    #[error("API key expired")]
    Expired,
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// The longest a rotated key may stay valid beside its successor: 7 days.
pub const MAX_ROTATION_GRACE_SECONDS: u32 = 7 * 24 * 3600;
/// How long a rotated key stays valid when the caller does not say: 5 minutes.
pub const DEFAULT_ROTATION_GRACE_SECONDS: u32 = 300;

/// The key rules.
#[derive(Clone)]
pub struct KeyService {
    repo: Arc<dyn KeyRepository>,
    clock: SharedClock,
    /// When each key was last seen, not yet written: verification records use here
    /// and [`KeyService::flush_usage`] writes it in one batch, so a read request never
    /// writes.
    usage: Arc<DashMap<ApiKeyId, OffsetDateTime>>,
    cache: Option<Arc<KeyCache>>,
    events: Option<Arc<dyn KeyEvents>>,
}

/// Resolved keys by the hash of their plaintext. Entries live at most `ttl`, are
/// dropped at once when this node changes a key, and when any node announces a change
/// ([`KeyService::forget`]). While the change feed is down the cache is not used.
pub struct KeyCache {
    entries: DashMap<KeyHash, (ApiKey, std::time::Instant)>,
    ttl: std::time::Duration,
    live: std::sync::atomic::AtomicBool,
}

impl KeyCache {
    /// The most keys kept; past it the cache starts over.
    const CAPACITY: usize = 100_000;

    pub fn new(ttl: std::time::Duration, live: bool) -> Self {
        Self {
            entries: DashMap::new(),
            ttl,
            live: std::sync::atomic::AtomicBool::new(live),
        }
    }

    fn get(&self, hash: &KeyHash) -> Option<ApiKey> {
        if !self.live.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        let entry = self.entries.get(hash)?;
        let (key, at) = entry.value();
        (at.elapsed() < self.ttl).then(|| key.clone())
    }

    fn put(&self, hash: KeyHash, key: ApiKey) {
        if !self.live.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        if self.entries.len() >= Self::CAPACITY {
            self.entries.clear();
        }
        self.entries.insert(hash, (key, std::time::Instant::now()));
    }

    fn forget(&self, id: ApiKeyId) {
        self.entries.retain(|_, (k, _)| k.id != id);
    }

    /// Turns the cache on (the change feed is connected) or off (it is not: every
    /// key is read from the store until it is back).
    pub fn set_live(&self, live: bool) {
        self.entries.clear();
        self.live.store(live, std::sync::atomic::Ordering::Release);
    }
}

const MAX_NAME: usize = 100;

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
    if raw.chars().count() > MAX_NAME {
        return Err(ValidationError::new(
            "name",
            "string_too_long",
            format!("Key name must be at most {MAX_NAME} characters"),
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
    if let Grantor::Holder(held) = grantor {
        let missing = scopes.not_granted_by(held);
        if !missing.is_empty() {
            return Err(KeyError::ScopeNotGranted(
                missing.iter().map(ToString::to_string).collect(),
            ));
        }
    }
    Ok(scopes)
}

impl KeyService {
    pub fn new(repo: Arc<dyn KeyRepository>, clock: SharedClock) -> Self {
        Self {
            repo,
            clock,
            usage: Arc::default(),
            cache: None,
            events: None,
        }
    }

    /// Caches resolved keys in `cache`, and announces changes through `events`.
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<KeyCache>, events: Option<Arc<dyn KeyEvents>>) -> Self {
        self.cache = Some(cache);
        self.events = events;
        self
    }

    /// Drops a key from this node's cache (another node changed it).
    pub fn forget(&self, id: ApiKeyId) {
        if let Some(cache) = &self.cache {
            cache.forget(id);
        }
    }

    /// After a change: drop the key here and tell the other nodes.
    async fn changed(&self, id: ApiKeyId) {
        self.forget(id);
        if let Some(events) = &self.events
            && let Err(e) = events.key_changed(id).await
        {
            // The change is saved; other nodes' entries still expire with the TTL.
            let _ = e;
        }
    }

    /// Writes the usage recorded since the last flush (`last_used_at`).
    ///
    /// # Errors
    /// Store failures; the usage is then kept for the next flush.
    pub async fn flush_usage(&self) -> Result<usize, KeyError> {
        let ids: Vec<ApiKeyId> = self.usage.iter().map(|e| *e.key()).collect();
        let batch: Vec<(ApiKeyId, OffsetDateTime)> = ids
            .into_iter()
            .filter_map(|id| self.usage.remove(&id))
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(e) = self.repo.record_usage(&batch).await {
            for (id, at) in batch {
                let mut slot = self.usage.entry(id).or_insert(at);
                if *slot < at {
                    *slot = at;
                }
            }
            return Err(e.into());
        }
        Ok(batch.len())
    }

    /// Replaces a key with a new one of the same name, scopes, expiry and limit; the
    /// old key keeps working for `grace_seconds` (default 300), then is 401.
    ///
    /// # Errors
    /// `NotFound`; `Invalid` for a grace over 7 days; `ScopeNotGranted` when the
    /// grantor lacks a scope of the key (rotating must not hand out more power).
    pub async fn rotate(
        &self,
        tenant: TenantId,
        grantor: Grantor<'_>,
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
        if let Grantor::Holder(held) = grantor {
            let missing = old.scopes.not_granted_by(held);
            if !missing.is_empty() {
                return Err(KeyError::ScopeNotGranted(
                    missing.iter().map(ToString::to_string).collect(),
                ));
            }
        }
        let now = self.clock.now();
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
        };
        if self
            .repo
            .rotate(id, old_expires_at, &key, &secret.hash())
            .await?
        {
            self.changed(id).await;
            Ok(MintedKey { key, secret })
        } else {
            Err(KeyError::NotFound)
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
        };
        self.repo.insert(&key, &secret.hash()).await?;
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
        let cached = self.cache.as_ref().and_then(|c| c.get(&hash));
        let key = match cached {
            Some(key) => key,
            None => {
                let key = self
                    .repo
                    .find_by_hash(&hash)
                    .await?
                    .ok_or(VerifyError::Unknown)?;
                if let Some(cache) = &self.cache {
                    cache.put(hash, key.clone());
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

    /// Changes a key's name, scopes, expiry or rate limit.
    ///
    /// # Errors
    /// As [`Self::mint`], and `NotFound`.
    pub async fn update(
        &self,
        tenant: TenantId,
        grantor: Grantor<'_>,
        id: ApiKeyId,
        patch: KeyPatch,
    ) -> Result<ApiKey, KeyError> {
        let mut key = self.get(tenant, id).await?;
        if let Some(name) = patch.name {
            key.name = parse_name(&name)?;
        }
        if let Some(scopes) = patch.scopes {
            key.scopes = parse_scopes(&scopes, grantor)?;
        }
        if let Some(expires_at) = patch.expires_at {
            self.check_expiry(expires_at)?;
            key.expires_at = expires_at;
        }
        if let Some(rate_limit) = patch.rate_limit {
            key.rate_limit = rate_limit;
        }
        if self.repo.update(&key).await? {
            self.changed(key.id).await;
            Ok(key)
        } else {
            Err(KeyError::NotFound)
        }
    }

    /// Revokes a key: from now on it is 401 and hidden from reads.
    ///
    /// # Errors
    /// `NotFound` for an unknown, already revoked or other tenant's key.
    pub async fn revoke(&self, tenant: TenantId, id: ApiKeyId) -> Result<(), KeyError> {
        if self.repo.revoke(tenant, id, self.clock.now()).await? {
            self.changed(id).await;
            Ok(())
        } else {
            Err(KeyError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests;
