//! Which events a read of the log returns.

use time::OffsetDateTime;
use uuid::Uuid;

use hydracore_core::audit::{Action, AuditEvent};

/// Which of a tenant's events a list returns, and in which order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only the events of this actor (a user's or a key's id).
    pub actor_id: Option<Uuid>,
    /// Only events of these actions (any, when empty).
    pub actions: Vec<Action>,
    /// Only the events on this target.
    pub target_id: Option<Uuid>,
    /// Only events at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Only events before this instant.
    pub until: Option<OffsetDateTime>,
    /// Newest first, as an audit trail is read; oldest first otherwise.
    pub newest_first: bool,
}

impl AuditQuery {
    /// Whether `event` is one the query returns (its order aside).
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.actor_id.is_none_or(|a| event.actor.id == Some(a))
            && (self.actions.is_empty() || self.actions.contains(&event.action))
            && self.target_id.is_none_or(|t| event.target.id == t)
            && self.since.is_none_or(|s| event.at >= s)
            && self.until.is_none_or(|u| event.at < u)
    }
}
