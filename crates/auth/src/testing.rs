//! In-memory fake of the refresh-token port.

use std::sync::Mutex;

use async_trait::async_trait;
use hydracore_core::RepoError;
use time::OffsetDateTime;

use crate::ports::RefreshTokenRepository;
use crate::{RefreshToken, RefreshTokenId, TokenFamilyId};

/// A [`RefreshTokenRepository`] in a vector.
#[derive(Debug, Default)]
pub struct InMemoryRefreshTokens {
    rows: Mutex<Vec<(RefreshToken, [u8; 32])>>,
}

fn poisoned<T>(e: std::sync::PoisonError<T>) -> RepoError {
    RepoError::Unexpected(e.to_string().into())
}

#[async_trait]
impl RefreshTokenRepository for InMemoryRefreshTokens {
    async fn insert(&self, token: &RefreshToken, hash: &[u8; 32]) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows.iter().any(|(_, h)| h == hash) {
            return Err(RepoError::Duplicate {
                constraint: "refresh_tokens_token_hash".into(),
            });
        }
        rows.push((token.clone(), *hash));
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
    ) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        for (t, _) in rows.iter_mut() {
            if t.family_id == family && t.revoked_at.is_none() {
                t.revoked_at = Some(at);
            }
        }
        Ok(())
    }
}
