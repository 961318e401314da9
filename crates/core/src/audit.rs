//! The audit record of a change: who did what to which thing, when, from where. Every
//! domain service makes one for each change it makes and hands it to the repository
//! that makes the change, which writes both in one transaction: no change without its
//! event, no event without its change.
//!
//! By design an event has no field for a value: it names the fields that changed,
//! never what they hold, so no secret can be recorded.

use std::fmt;
use std::net::IpAddr;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::id_type;

id_type! {
    /// An audit event's id.
    pub struct AuditEventId;
}

macro_rules! actions {
    ($($variant:ident = $name:literal: $doc:literal;)*) => {
        /// What happened: a closed list, written `resource.verb`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $(#[doc = $doc] $variant,)*
        }

        impl Action {
            /// Every action, in the order of the documentation.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// What the action records, in one line.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Action::$variant => $doc,)*
                }
            }

            /// The action named `s`, if it is one.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    ApiKeyMinted = "api_key.minted": "An API key was minted";
    ApiKeyUpdated = "api_key.updated": "An API key's name, scopes, expiry or rate limit changed";
    ApiKeyRotated = "api_key.rotated": "An API key was replaced by a successor";
    ApiKeyRevoked = "api_key.revoked": "An API key was revoked";
    MemberAdded = "member.added": "A user became a member of the tenant";
    MemberRoleChanged = "member.role_changed": "A member's role changed";
    MemberRemoved = "member.removed": "A member left the tenant";
    TenantCreated = "tenant.created": "A tenant was created";
    UserSignedUp = "user.signed_up": "A user signed up, with a tenant of their own";
    UserSignedIn = "user.signed_in": "A user signed in (the API or the console)";
    UserSignedOut = "user.signed_out": "A user signed out";
    UserSwitchedTenant = "user.switched_tenant": "A user made another of their tenants the active one";
    McpCredentialCreated = "mcp_credential.created": "An MCP server credential was stored";
    McpCredentialDeleted = "mcp_credential.deleted": "An MCP server credential was deleted";
    InstanceCreated = "instance.created": "An instance was created";
    InstanceUpdated = "instance.updated": "An instance's name, image or configuration changed";
    InstanceStarted = "instance.started": "An instance was asked to start";
    InstanceStopped = "instance.stopped": "An instance was asked to stop";
    InstanceDeleted = "instance.deleted": "An instance was deleted";
    RuntimeImageRegistered = "runtime_image.registered": "A runtime image was registered";
    RuntimeImagePromoted = "runtime_image.promoted": "A runtime image was promoted to a channel";
    OAuthGrantCreated = "oauth_grant.created": "A user let an OAuth client act for them in the tenant";
    OAuthGrantUpdated = "oauth_grant.updated": "A user allowed an OAuth client again, perhaps with more scopes";
    OAuthGrantRevoked = "oauth_grant.revoked": "An OAuth client's grant was revoked (by its user, or on token reuse)";
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// A person, signed in.
    User,
    /// An API key.
    ApiKey,
    /// The operator: the command line or the ops bearer token.
    Ops,
    /// The server itself.
    System,
    /// An application acting through a user's OAuth grant (an MCP client).
    OAuthClient,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::Ops => "ops",
            ActorKind::System => "system",
            ActorKind::OAuthClient => "oauth_client",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::User,
            Self::ApiKey,
            Self::Ops,
            Self::System,
            Self::OAuthClient,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Who acted, with the name they had then (an e-mail, a key's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditActor {
    pub kind: ActorKind,
    /// The user's or the key's id; `None` for the operator and the system.
    pub id: Option<Uuid>,
    pub name: String,
}

impl AuditActor {
    pub fn user(id: Uuid, email: impl Into<String>) -> Self {
        Self {
            kind: ActorKind::User,
            id: Some(id),
            name: email.into(),
        }
    }

    pub fn api_key(id: Uuid, name: impl Into<String>) -> Self {
        Self {
            kind: ActorKind::ApiKey,
            id: Some(id),
            name: name.into(),
        }
    }

    /// An OAuth client acting through grant `id`, by the client's name.
    pub fn oauth_client(id: Uuid, name: impl Into<String>) -> Self {
        Self {
            kind: ActorKind::OAuthClient,
            id: Some(id),
            name: name.into(),
        }
    }

    /// The server itself (a rule it enforces, such as revoking a grant whose token was
    /// used twice).
    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: None,
            name: "system".into(),
        }
    }

    /// The operator (the command line, the internal surface).
    pub fn ops() -> Self {
        Self {
            kind: ActorKind::Ops,
            id: None,
            name: "operator".into(),
        }
    }
}

/// The kind of thing acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    ApiKey,
    Member,
    Tenant,
    User,
    McpCredential,
    Instance,
    RuntimeImage,
    OAuthGrant,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::ApiKey => "api_key",
            TargetKind::Member => "member",
            TargetKind::Tenant => "tenant",
            TargetKind::User => "user",
            TargetKind::McpCredential => "mcp_credential",
            TargetKind::Instance => "instance",
            TargetKind::RuntimeImage => "runtime_image",
            TargetKind::OAuthGrant => "oauth_grant",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ApiKey,
            Self::Member,
            Self::Tenant,
            Self::User,
            Self::McpCredential,
            Self::Instance,
            Self::RuntimeImage,
            Self::OAuthGrant,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// What was acted on, with the name it had then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget {
    pub kind: TargetKind,
    pub id: Uuid,
    pub name: String,
}

impl AuditTarget {
    pub fn new(kind: TargetKind, id: Uuid, name: impl Into<String>) -> Self {
        Self {
            kind,
            id,
            name: name.into(),
        }
    }
}

/// Where a request came from: what an adapter knows of it besides its credential.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The request's id, as its logs carry it.
    pub request_id: Option<String>,
    /// The client's address.
    pub client: Option<IpAddr>,
}

impl Origin {
    /// The same origin, acted from by `actor`.
    pub fn by(&self, actor: AuditActor) -> Who {
        Who {
            actor,
            request_id: self.request_id.clone(),
            client: self.client,
        }
    }
}

/// Who is making a change, and from where: what an adapter knows of a request, handed
/// to the service that makes the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub actor: AuditActor,
    /// The request's id, as its logs carry it.
    pub request_id: Option<String>,
    /// The client's address.
    pub client: Option<IpAddr>,
}

impl Who {
    pub fn new(actor: AuditActor) -> Self {
        Self {
            actor,
            request_id: None,
            client: None,
        }
    }

    /// The operator at the command line or the internal surface.
    pub fn ops() -> Self {
        Self::new(AuditActor::ops())
    }
}

/// One change, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    /// The tenant the change belongs to; `None` for changes to no tenant (runtime
    /// images).
    pub tenant_id: Option<Uuid>,
    pub at: OffsetDateTime,
    pub action: Action,
    pub actor: AuditActor,
    pub target: AuditTarget,
    /// The names of the fields that changed (never their values).
    pub fields: Vec<String>,
    pub request_id: Option<String>,
    pub client: Option<IpAddr>,
}

impl AuditEvent {
    /// The event of `action` on `target` by `who`, at `at`.
    pub fn new(
        tenant: Option<Uuid>,
        at: OffsetDateTime,
        action: Action,
        who: &Who,
        target: AuditTarget,
    ) -> Self {
        Self {
            id: AuditEventId::new(),
            tenant_id: tenant,
            at,
            action,
            actor: who.actor.clone(),
            target,
            fields: Vec::new(),
            request_id: who.request_id.clone(),
            client: who.client,
        }
    }

    /// The same event, naming the fields that changed.
    #[must_use]
    pub fn with_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_name() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
            assert!(a.as_str().contains('.'), "{a}");
            assert!(!a.describe().is_empty());
        }
        assert_eq!(Action::parse("api_key.stolen"), None);
        for k in ["user", "api_key", "ops", "system"] {
            assert_eq!(ActorKind::parse(k).map(ActorKind::as_str), Some(k));
        }
    }
}
