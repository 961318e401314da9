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

/// An [`OAuthRepository`](crate::oauth::OAuthRepository) in vectors.
#[derive(Debug, Default)]
pub struct InMemoryOAuth {
    clients: Mutex<Vec<crate::oauth::OAuthClient>>,
    grants: Mutex<Vec<crate::oauth::Grant>>,
    tokens: Mutex<Vec<crate::oauth::StoredToken>>,
    events: EventSink,
}

impl InMemoryOAuth {
    /// A repository recording its events in `events` (shared with other fakes).
    pub fn with_events(events: EventSink) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }
}

#[async_trait]
impl crate::oauth::OAuthRepository for InMemoryOAuth {
    async fn insert_client(&self, client: &crate::oauth::OAuthClient) -> Result<(), RepoError> {
        self.clients.lock().map_err(poisoned)?.push(client.clone());
        Ok(())
    }

    async fn find_client(&self, id: &str) -> Result<Option<crate::oauth::OAuthClient>, RepoError> {
        let clients = self.clients.lock().map_err(poisoned)?;
        Ok(clients.iter().find(|c| c.id == id).cloned())
    }

    async fn insert_grant(
        &self,
        grant: &crate::oauth::Grant,
        code: &crate::oauth::StoredToken,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        let mut tokens = self.tokens.lock().map_err(poisoned)?;
        if tokens.iter().any(|t| t.hash == code.hash) {
            return Err(RepoError::Duplicate {
                constraint: "oauth_tokens_pkey".into(),
            });
        }
        self.grants.lock().map_err(poisoned)?.push(grant.clone());
        tokens.push(code.clone());
        self.events.record(event);
        Ok(())
    }

    async fn extend_grant(
        &self,
        grant: crate::oauth::GrantId,
        scopes: &hydracore_scopes::ScopeSet,
        client_name: &str,
        code: &crate::oauth::StoredToken,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut grants = self.grants.lock().map_err(poisoned)?;
        let Some(g) = grants
            .iter_mut()
            .find(|g| g.id == grant && g.revoked_at.is_none())
        else {
            return Ok(false);
        };
        g.scopes = scopes.clone();
        g.client_name = client_name.to_owned();
        self.tokens.lock().map_err(poisoned)?.push(code.clone());
        self.events.record(event);
        Ok(true)
    }

    async fn find_token(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<(crate::oauth::StoredToken, crate::oauth::Grant)>, RepoError> {
        let tokens = self.tokens.lock().map_err(poisoned)?;
        let grants = self.grants.lock().map_err(poisoned)?;
        Ok(tokens.iter().find(|t| &t.hash == hash).and_then(|t| {
            grants
                .iter()
                .find(|g| g.id == t.grant_id)
                .map(|g| (t.clone(), g.clone()))
        }))
    }

    async fn exchange(
        &self,
        old: &[u8; 32],
        at: OffsetDateTime,
        new: &[crate::oauth::StoredToken],
    ) -> Result<bool, RepoError> {
        let mut tokens = self.tokens.lock().map_err(poisoned)?;
        let grants = self.grants.lock().map_err(poisoned)?;
        let Some(t) = tokens.iter_mut().find(|t| &t.hash == old) else {
            return Ok(false);
        };
        let live = grants
            .iter()
            .any(|g| g.id == t.grant_id && g.revoked_at.is_none());
        if t.used_at.is_some() || !live {
            return Ok(false);
        }
        t.used_at = Some(at);
        tokens.extend(new.iter().cloned());
        Ok(true)
    }

    async fn delete_token(&self, hash: &[u8; 32]) -> Result<(), RepoError> {
        self.tokens
            .lock()
            .map_err(poisoned)?
            .retain(|t| &t.hash != hash);
        Ok(())
    }

    async fn touch(
        &self,
        grant: crate::oauth::GrantId,
        at: OffsetDateTime,
    ) -> Result<(), RepoError> {
        let mut grants = self.grants.lock().map_err(poisoned)?;
        if let Some(g) = grants.iter_mut().find(|g| g.id == grant) {
            g.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn revoke_grant(
        &self,
        grant: crate::oauth::GrantId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut grants = self.grants.lock().map_err(poisoned)?;
        let Some(g) = grants
            .iter_mut()
            .find(|g| g.id == grant && g.revoked_at.is_none())
        else {
            return Ok(false);
        };
        g.revoked_at = Some(at);
        self.tokens
            .lock()
            .map_err(poisoned)?
            .retain(|t| t.grant_id != grant);
        self.events.record(event);
        Ok(true)
    }

    async fn find_grant(
        &self,
        id: crate::oauth::GrantId,
    ) -> Result<Option<crate::oauth::Grant>, RepoError> {
        let grants = self.grants.lock().map_err(poisoned)?;
        Ok(grants.iter().find(|g| g.id == id).cloned())
    }

    async fn grants_of(
        &self,
        user: hydracore_tenants::UserId,
    ) -> Result<Vec<crate::oauth::Grant>, RepoError> {
        let grants = self.grants.lock().map_err(poisoned)?;
        let mut out: Vec<_> = grants
            .iter()
            .filter(|g| g.user_id == user && g.revoked_at.is_none())
            .cloned()
            .collect();
        out.sort_by_key(|g| std::cmp::Reverse((g.created_at, g.id)));
        Ok(out)
    }

    async fn sweep(&self, now: OffsetDateTime) -> Result<u64, RepoError> {
        let mut tokens = self.tokens.lock().map_err(poisoned)?;
        let mut grants = self.grants.lock().map_err(poisoned)?;
        let before = tokens.len() + grants.len();
        tokens.retain(|t| t.expires_at > now);
        grants.retain(|g| g.revoked_at.is_none_or(|r| r > now));
        Ok((before - tokens.len() - grants.len()) as u64)
    }
}
