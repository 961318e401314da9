//! In-memory fakes of the refresh-token and session ports.

use std::sync::Mutex;

use async_trait::async_trait;
use hydracore_core::RepoError;
use hydracore_core::audit::AuditEvent;
use hydracore_core::testing::EventSink;
use time::OffsetDateTime;

use crate::ports::{RefreshTokenRepository, SessionRepository};
use crate::{RefreshToken, RefreshTokenId, Session, TokenFamilyId};

/// A [`RefreshTokenRepository`] in a vector.
#[derive(Debug, Default)]
pub struct InMemoryRefreshTokens {
    rows: Mutex<Vec<(RefreshToken, [u8; 32])>>,
    events: EventSink,
}

impl InMemoryRefreshTokens {
    /// A repository recording its events in `events` (shared with other fakes).
    pub fn with_events(events: EventSink) -> Self {
        Self {
            rows: Mutex::default(),
            events,
        }
    }

    /// The audit events of the changes made.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.events()
    }
}

fn poisoned<T>(e: std::sync::PoisonError<T>) -> RepoError {
    RepoError::Unexpected(e.to_string().into())
}

#[async_trait]
impl RefreshTokenRepository for InMemoryRefreshTokens {
    async fn insert(
        &self,
        token: &RefreshToken,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows.iter().any(|(_, h)| h == hash) {
            return Err(RepoError::Duplicate {
                constraint: "refresh_tokens_token_hash".into(),
            });
        }
        rows.push((token.clone(), *hash));
        if let Some(e) = event {
            self.events.record(e);
        }
        Ok(())
    }

    async fn find_by_hash(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        Ok(rows.iter().find(|(_, h)| h == hash).map(|(t, _)| t.clone()))
    }

    async fn rotate(
        &self,
        old: RefreshTokenId,
        at: OffsetDateTime,
        new: &RefreshToken,
        hash: &[u8; 32],
    ) -> Result<bool, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows.iter().any(|(_, h)| h == hash) {
            return Err(RepoError::Duplicate {
                constraint: "refresh_tokens_token_hash".into(),
            });
        }
        match rows.iter_mut().find(|(t, _)| t.id == old) {
            Some((t, _)) if t.used_at.is_none() && t.revoked_at.is_none() => {
                t.used_at = Some(at);
            }
            _ => return Ok(false),
        }
        rows.push((new.clone(), *hash));
        Ok(true)
    }

    async fn revoke_family(
        &self,
        family: TokenFamilyId,
        at: OffsetDateTime,
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        for (t, _) in rows.iter_mut() {
            if t.family_id == family && t.revoked_at.is_none() {
                t.revoked_at = Some(at);
            }
        }
        if let Some(e) = event {
            self.events.record(e);
        }
        Ok(())
    }
}

/// A [`SessionRepository`] in a vector.
#[derive(Debug, Default)]
pub struct InMemorySessions {
    rows: Mutex<Vec<(Session, [u8; 32])>>,
    events: EventSink,
}

impl InMemorySessions {
    /// A repository recording its events in `events` (shared with other fakes).
    pub fn with_events(events: EventSink) -> Self {
        Self {
            rows: Mutex::default(),
            events,
        }
    }

    /// The audit events of the changes made.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.events()
    }
}

#[async_trait]
impl SessionRepository for InMemorySessions {
    async fn insert(
        &self,
        session: &Session,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows.iter().any(|(_, h)| h == hash) {
            return Err(RepoError::Duplicate {
                constraint: "console_sessions_token_hash".into(),
            });
        }
        rows.push((session.clone(), *hash));
        if let Some(e) = event {
            self.events.record(e);
        }
        Ok(())
    }

    async fn find_by_hash(&self, hash: &[u8; 32]) -> Result<Option<Session>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        Ok(rows.iter().find(|(_, h)| h == hash).map(|(s, _)| s.clone()))
    }

    async fn delete_by_hash(
        &self,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<bool, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        let before = rows.len();
        rows.retain(|(_, h)| h != hash);
        let deleted = rows.len() < before;
        if let (true, Some(e)) = (deleted, event) {
            self.events.record(e);
        }
        Ok(deleted)
    }

    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        let before = rows.len();
        rows.retain(|(s, _)| s.expires_at > now);
        Ok((before - rows.len()) as u64)
    }
}
