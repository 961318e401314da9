//! `/v1/mcp/credentials` and `/v1/mcp/call-log`.

use paperclip::actix::web;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web::Json};
use serde::Deserialize;
use uuid::Uuid;

use hydracore_mcp_creds::CreateCredential;

use crate::error::{ApiError, MayConflict};
use crate::extract::{
    ListQuery, McpCredsRead, McpCredsWrite, McpLogRead, ResourcePath, Scoped, State, ValidJson,
};
use crate::paged::Paged;
use crate::routes::method_not_allowed;
use hydracore_api::{CreateMcpCredentialRequest, McpAuthKindDto, McpCallDto, McpCredentialDto};

/// The path of one credential.
#[derive(Deserialize, Apiv2Schema)]
pub struct CredentialPath {
    /// The credential's id (a UUID).
    credential_id: Uuid,
}

/// List MCP credentials
#[api_v2_operation(operation_id = "listMcpCredentials", tags(McpCredentials))]
async fn list(
    auth: Scoped<McpCredsRead>,
    state: State,
    query: ListQuery,
) -> Result<Paged<McpCredentialDto>, ApiError> {
    let page = state.credentials.list(auth.tenant, query.0).await?;
    Ok(Paged::from_page(page, McpCredentialDto::from))
}

/// Store an MCP credential
///
/// Stores the credential an instance uses to reach a third-party MCP server. The
/// secret is sealed with AES-256-GCM at once; no response ever contains it.
#[api_v2_operation(operation_id = "createMcpCredential", tags(McpCredentials))]
async fn create(
    auth: Scoped<McpCredsWrite>,
    state: State,
    body: ValidJson<CreateMcpCredentialRequest>,
) -> Result<CreatedJson<McpCredentialDto>, MayConflict> {
    let b = body.0;
    let req = CreateCredential {
        name: b.name,
        server_url: b.server_url,
        auth_kind: match b.auth_kind {
            McpAuthKindDto::Bearer => "bearer".into(),
            McpAuthKindDto::Header => "header".into(),
        },
        header_name: b.header_name,
        secret: b.secret,
    };
    let cred = state.credentials.create(auth.tenant, req).await?;
    Ok(CreatedJson(cred.into()))
}

/// Get an MCP credential
#[api_v2_operation(operation_id = "getMcpCredential", tags(McpCredentials))]
async fn get(
    auth: Scoped<McpCredsRead>,
    state: State,
    path: ResourcePath<CredentialPath>,
) -> Result<Json<McpCredentialDto>, ApiError> {
    let cred = state
        .credentials
        .get(auth.tenant, path.0.credential_id)
        .await?;
    Ok(Json(cred.into()))
}

/// Delete an MCP credential
#[api_v2_operation(operation_id = "deleteMcpCredential", tags(McpCredentials))]
async fn delete(
    auth: Scoped<McpCredsWrite>,
    state: State,
    path: ResourcePath<CredentialPath>,
) -> Result<NoContent, ApiError> {
    state
        .credentials
        .delete(auth.tenant, path.0.credential_id)
        .await?;
    Ok(NoContent)
}

/// List MCP tool calls
///
/// The audit log of every `tools/call` made through `/mcp`: tool, scope, outcome,
/// latency and key. Arguments, results and error text are never recorded.
#[api_v2_operation(operation_id = "listMcpCalls", tags(McpCallLog))]
async fn call_log(
    auth: Scoped<McpLogRead>,
    state: State,
    query: ListQuery,
) -> Result<Paged<McpCallDto>, ApiError> {
    let page = state.calls.list(auth.tenant, query.0).await?;
    Ok(Paged::from_page(page, McpCallDto::from))
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
