//! `/v1/audit-log`: who changed what in the tenant.

use paperclip::actix::web;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web::Json};
use serde::Deserialize;
use uuid::Uuid;

use hydracore_api as api;
use hydracore_api::AuditEventDto;
use hydracore_audit::AuditEventId;

use crate::error::ApiError;
use crate::extract::{AuditLogQuery, ListQuery, ResourcePath, Scoped, State};
use crate::paged::Paged;
use crate::routes::method_not_allowed;
use hydracore_api::AuditLogRead;

/// The path of one audit event.
#[derive(Deserialize, Apiv2Schema)]
pub struct EventPath {
    /// The event's id (a UUID).
    event_id: Uuid,
}

/// List audit events
///
/// One event for every change made in the tenant through any way in (the API, MCP,
/// the console, the operator): who (a user or an API key, with the name they had
/// then), what (`api_key.minted`, `member.role_changed`, …), to which thing, when, from
/// which address and request. Changed fields are named, never their values. Filter by
/// actor, action (repeat it for several), target and time; oldest first unless
/// `order=desc`.
#[api_v2_operation(operation_id = "listAuditEvents", tags(AuditLog))]
async fn list(
    auth: Scoped<AuditLogRead>,
    state: State,
    filter: AuditLogQuery,
    query: ListQuery,
) -> Result<Paged<AuditEventDto>, ApiError> {
    Ok(
        api::list_audit_events(&state.api, &auth.caller(), &filter.0, query.0)
            .await?
            .into(),
    )
}

/// Get an audit event
#[api_v2_operation(operation_id = "getAuditEvent", tags(AuditLog))]
async fn get(
    auth: Scoped<AuditLogRead>,
    state: State,
    path: ResourcePath<EventPath>,
) -> Result<Json<AuditEventDto>, ApiError> {
    Ok(Json(
        api::get_audit_event(&state.api, &auth.caller(), AuditEventId(path.0.event_id)).await?,
    ))
}

/// Mounts the audit log (inside `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::resource("/audit-log")
            .route(web::get().to(list))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/audit-log/{event_id}")
            .route(web::get().to(get))
            .default_service(method_not_allowed("GET")),
    );
}
