//! `/v1/mcp/credentials` and `/v1/mcp/call-log`.

use paperclip::actix::web;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web::Json};
use serde::Deserialize;
use uuid::Uuid;

use hydracore_api as api;
use hydracore_mcp_creds::CredentialId;

use crate::error::{ApiError, MayConflict};
use crate::extract::{CallLogQuery, ListQuery, ResourcePath, Scoped, State, ValidJson};
use crate::idempotency::Idempotent;
use crate::paged::Paged;
use crate::routes::method_not_allowed;
use hydracore_api::{CreateMcpCredentialRequest, McpCallDto, McpCredentialDto};
use hydracore_api::{McpCredsRead, McpCredsWrite, McpLogRead};

/// The path of one credential.
#[derive(Deserialize, Apiv2Schema)]
pub struct CredentialPath {
    /// The credential's id (a UUID).
    credential_id: Uuid,
}

impl CredentialPath {
    fn id(&self) -> CredentialId {
        CredentialId(self.credential_id)
    }
}

/// List MCP credentials
#[api_v2_operation(operation_id = "listMcpCredentials", tags(McpCredentials))]
async fn list(
    auth: Scoped<McpCredsRead>,
    state: State,
    query: ListQuery,
) -> Result<Paged<McpCredentialDto>, ApiError> {
    Ok(api::list_credentials(&state.api, &auth.caller(), query.0)
        .await?
        .into())
}

/// Store an MCP credential
///
/// Stores the credential an instance uses to reach a third-party MCP server. The
/// secret is sealed with AES-256-GCM at once; no response ever contains it.
#[api_v2_operation(operation_id = "createMcpCredential", tags(McpCredentials))]
async fn create(
    auth: Scoped<McpCredsWrite>,
    _: Idempotent,
    state: State,
    body: ValidJson<CreateMcpCredentialRequest>,
) -> Result<CreatedJson<McpCredentialDto>, MayConflict> {
    Ok(CreatedJson(
        api::create_credential(&state.api, &auth.caller(), body.0).await?,
    ))
}

/// Get an MCP credential
#[api_v2_operation(operation_id = "getMcpCredential", tags(McpCredentials))]
async fn get(
    auth: Scoped<McpCredsRead>,
    state: State,
    path: ResourcePath<CredentialPath>,
) -> Result<Json<McpCredentialDto>, ApiError> {
    Ok(Json(
        api::get_credential(&state.api, &auth.caller(), path.0.id()).await?,
    ))
}

/// Delete an MCP credential
#[api_v2_operation(operation_id = "deleteMcpCredential", tags(McpCredentials))]
async fn delete(
    auth: Scoped<McpCredsWrite>,
    state: State,
    path: ResourcePath<CredentialPath>,
) -> Result<NoContent, ApiError> {
    api::delete_credential(&state.api, &auth.caller(), path.0.id()).await?;
    Ok(NoContent)
}

/// List MCP tool calls
///
/// The audit log of every `tools/call` made through `/mcp`: tool, scope, outcome,
/// latency and key, filtered by key, tool and status, oldest or newest first.
/// Arguments, results and error text are never recorded.
#[api_v2_operation(operation_id = "listMcpCalls", tags(McpCallLog))]
async fn call_log(
    auth: Scoped<McpLogRead>,
    state: State,
    filter: CallLogQuery,
    query: ListQuery,
) -> Result<Paged<McpCallDto>, ApiError> {
    Ok(
        api::list_calls(&state.api, &auth.caller(), &filter.0, query.0)
            .await?
            .into(),
    )
}

/// Mounts the MCP resources (inside `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::resource("/mcp/credentials")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/mcp/credentials/{credential_id}")
            .route(web::get().to(get))
            .route(web::delete().to(delete))
            .default_service(method_not_allowed("GET, DELETE")),
    )
    .service(
        web::resource("/mcp/call-log")
            .route(web::get().to(call_log))
            .default_service(method_not_allowed("GET")),
    );
}
