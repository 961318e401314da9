//! The management audit log: who changed what, read back.

pub use hydracore_audit::AuditEventId;
use hydracore_audit::{Action, AuditError, AuditEvent, AuditQuery};
use hydracore_core::{Page, PageRequest, ValidationError};
use paperclip::actix::Apiv2Schema;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::shapes::{Shapes, nested};
use crate::{Caller, Problem, Services, Timestamp};

needs! {
    AUDIT_LOG_READ: AuditLogRead = "audit-log":"read";
}

path_id! {
    AuditEventId = "The event's id (a UUID).";
}

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[],
    nested: &[nested::<AuditActorDto>, nested::<AuditTargetDto>],
};

/// Who made a change.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AuditActorDto {
    /// `user`, `api_key`, `ops` (the operator) or `system`.
    pub kind: String,
    /// The user's or the key's id; `null` for the operator and the system.
    pub id: Option<Uuid>,
    /// The e-mail or the key's name, as it was then.
    pub name: String,
}

/// What a change was made to.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AuditTargetDto {
    /// `api_key`, `member`, `tenant`, `user`, `mcp_credential`, `instance` or
    /// `runtime_image`.
    pub kind: String,
    pub id: Uuid,
    /// Its name, as it was then.
    pub name: String,
}

/// One change: who did what to which thing, when, from where. Never a value that was
/// set: only the names of the fields that changed.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AuditEventDto {
    pub id: Uuid,
    /// What happened, `resource.verb` (see `GET /v1/audit-log`'s `action` filter).
    pub action: String,
    pub at: Timestamp,
    pub actor: AuditActorDto,
    pub target: AuditTargetDto,
    /// The names of the fields that changed (never their values).
    pub fields: Vec<String>,
    /// The id of the request that made the change, as the server's logs carry it.
    pub request_id: Option<String>,
    /// The address the request came from.
    pub client: Option<String>,
}

impl From<AuditEvent> for AuditEventDto {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.0,
            action: e.action.as_str().to_owned(),
            at: Timestamp(e.at),
            actor: AuditActorDto {
                kind: e.actor.kind.as_str().to_owned(),
                id: e.actor.id,
                name: e.actor.name,
            },
            target: AuditTargetDto {
                kind: e.target.kind.as_str().to_owned(),
                id: e.target.id,
                name: e.target.name,
            },
            fields: e.fields,
            request_id: e.request_id,
            client: e.client.map(|c| c.to_string()),
        }
    }
}

/// Which events `GET /v1/audit-log` lists, and in which order: `actor_id`, `action`
/// (repeatable), `target_id`, `since`, `until` (RFC 3339) and `order` (`asc`, the
/// default, or `desc`), as sent.
#[derive(Debug, Clone, Default)]
pub struct AuditLogFilter(pub AuditQuery);

/// Every action the log records, as the `action` filter takes them.
pub fn audit_actions() -> Vec<&'static str> {
    Action::ALL.iter().map(|a| a.as_str()).collect()
}

fn uuid_param(name: &'static str, raw: Option<&str>) -> Result<Option<Uuid>, Problem> {
    raw.map(|v| {
        Uuid::parse_str(v).map_err(|e| {
            ValidationError::new(
                name,
                "uuid_parsing",
                format!("Input should be a valid UUID, {e}"),
                v,
            )
            .into()
        })
    })
    .transpose()
}

fn instant_param(name: &'static str, raw: Option<&str>) -> Result<Option<OffsetDateTime>, Problem> {
    raw.map(|v| {
        OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
            ValidationError::new(
                name,
                "datetime_from_date_parsing",
                "Input should be a valid datetime (RFC 3339, e.g. 2026-12-01T00:00:00Z)",
                v,
            )
            .into()
        })
    })
    .transpose()
}

impl AuditLogFilter {
    /// Reads the filters as sent (absent ones are `None`, `actions` may be empty).
    ///
    /// # Errors
    /// An id that is not a UUID, an unknown action or order, an instant that is not
    /// RFC 3339: an invalid problem naming the parameter.
    pub fn parse(
        actor_id: Option<&str>,
        actions: &[&str],
        target_id: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        order: Option<&str>,
    ) -> Result<Self, Problem> {
        let actions = actions
            .iter()
            .map(|a| {
                Action::parse(a).ok_or_else(|| {
                    Problem::from(ValidationError::new(
                        "action",
                        "enum",
                        format!("Input should be one of: {}", audit_actions().join(", ")),
                        *a,
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A range that holds no instant (until at or before since) lists nothing.
        let since = instant_param("since", since)?;
        let until = instant_param("until", until)?;
        let newest_first = match order {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ValidationError::new(
                    "order",
                    "enum",
                    "Input should be 'asc' or 'desc'",
                    other,
                )
                .into());
            }
        };
        Ok(Self(AuditQuery {
            actor_id: uuid_param("actor_id", actor_id)?,
            actions,
            target_id: uuid_param("target_id", target_id)?,
            since,
            until,
            newest_first,
        }))
    }
}

/// The tenant's audit events that `filter` matches, a page at a time.
///
/// # Errors
/// Store failures.
pub async fn list_audit_events(
    svc: &Services,
    caller: &Caller<'_>,
    filter: &AuditLogFilter,
    page: PageRequest,
) -> Result<Page<AuditEventDto>, Problem> {
    caller.require(&AUDIT_LOG_READ)?;
    Ok(svc
        .audit
        .list(caller.tenant, &filter.0, page)
        .await?
        .map(AuditEventDto::from))
}

/// One of the tenant's audit events.
///
/// # Errors
/// Not found.
pub async fn get_audit_event(
    svc: &Services,
    caller: &Caller<'_>,
    id: AuditEventId,
) -> Result<AuditEventDto, Problem> {
    caller.require(&AUDIT_LOG_READ)?;
    Ok(svc.audit.get(caller.tenant, id).await?.into())
}

/// Every audit event that `filter` matches, of any tenant or none (runtime images):
/// the operator's view.
///
/// # Errors
/// Store failures.
pub async fn list_all_audit_events(
    svc: &Services,
    filter: &AuditLogFilter,
    page: PageRequest,
) -> Result<Page<AuditEventDto>, Problem> {
    Ok(svc
        .audit
        .list_all(&filter.0, page)
        .await?
        .map(AuditEventDto::from))
}

impl From<AuditError> for Problem {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::NotFound => Problem::not_found("Audit event not found"),
            AuditError::Store(e) => e.into(),
        }
    }
}

/// The audit log's operations, for each driving adapter to render (see
/// [`crate::operations!`]).
#[macro_export]
#[doc(hidden)]
macro_rules! audit {
    ($then:path) => {
        $then! { audit;
            /// List audit events
            ///
            /// One event for every change made in the tenant through any way in (the API, MCP,
            /// the console, the operator): who (a user or an API key, with the name they had
            /// then), what (`api_key.minted`, `member.role_changed`, …), to which thing, when, from
            /// which address and request. Changed fields are named, never their values. Filter by
            /// actor, action (repeat it for several), target and time; oldest first unless
            /// `order=desc`.
            list_audit_events: GET "/audit-log" "listAuditEvents" AuditLog,
                needs $crate::AuditLogRead, idempotent no, takes [audit_filter(), page()],
                answers paged $crate::AuditEventDto, fails plain,
                tool [audit_log_list "List audit events" "Who changed what in the tenant: every change with its actor, action, target, changed fields (never values), time, request id and address; filter by actor_id, action (a list), target_id, since, until (RFC 3339), order asc or desc."];

            /// Get an audit event
            get_audit_event: GET "/audit-log/{event_id}" "getAuditEvent" AuditLog,
                needs $crate::AuditLogRead, idempotent no,
                takes [id($crate::AuditEventId)],
                answers json $crate::AuditEventDto, fails plain,
                tool [];
        }
    };
}
