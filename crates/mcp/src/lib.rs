//! The MCP adapter: `POST /mcp`, the Streamable HTTP transport of the official Rust SDK
//! (rmcp, mounted with rmcp-actix-web), over the same services as the HTTP routes.
//!
//! Authentication happens before rmcp sees a request (the HTTP adapter's middleware);
//! the resolved `Principal` travels in the request's extensions. `tools/list` shows only
//! the tools the caller's scopes allow; every `tools/call` of a known tool leaves one
//! call-log record (ok, error or denied) without arguments, results or error text.
//! Depends on domain crates and the shared wire shapes, never on the store or `http`.

mod log;
pub mod schema;
pub mod tools;

use std::sync::Arc;
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use hydracore_audit::Origin;
use hydracore_auth::{Actor, Principal};
use hydracore_core::SharedClock;
use hydracore_mcp_log::{CallCaller, CallId, CallStatus, McpCall};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use rmcp_actix_web::transport::{
    LocalSessionManager, StreamableHttpService, on_request_extensions,
};
use serde_json::Value;

pub use log::CallLogWriter;
pub use tools::{TOOLS, ToolSpec};

/// What the tools run on: the operations' services, and the call log.
#[derive(Clone)]
pub struct Services {
    pub api: hydracore_api::Services,
    pub log: CallLogWriter,
    pub clock: SharedClock,
}

/// The MCP server: one per session (or per request, stateless).
#[derive(Clone)]
pub struct McpServer {
    services: Services,
    /// Every tool as listed, its schemas read from the API's spec once.
    tools: Arc<Vec<Tool>>,
}

fn as_object(v: Value) -> Arc<JsonObject> {
    Arc::new(match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    })
}

fn tool(spec: &ToolSpec, openapi: &Value) -> Tool {
    let schemas = schema::of(spec, openapi);
    Tool::new(spec.name, spec.description, as_object(schemas.input))
        .with_title(spec.title)
        .with_annotations(
            ToolAnnotations::new()
                .read_only(spec.read_only)
                .destructive(spec.destructive)
                .idempotent(spec.idempotent)
                .open_world(false),
        )
        .with_raw_output_schema(as_object(schemas.output))
}

/// Where the call's HTTP request came from (the audit log records it with changes).
fn origin(ctx: &RequestContext<RoleServer>) -> Origin {
    on_request_extensions(&ctx.extensions)
        .and_then(|e| e.get::<Origin>().cloned())
        .unwrap_or_default()
}

fn principal(ctx: &RequestContext<RoleServer>) -> Result<Principal, McpError> {
    on_request_extensions(&ctx.extensions)
        .and_then(|e| e.get::<Principal>().cloned())
        .ok_or_else(|| McpError::invalid_request("not authenticated", None))
}

impl McpServer {
    /// The server over `services`, its tools described from `openapi` (the API's spec).
    pub fn new(services: Services, openapi: &Value) -> Self {
        Self {
            services,
            tools: Arc::new(TOOLS.iter().map(|t| tool(t, openapi)).collect()),
        }
    }

    fn listed(&self, spec: &ToolSpec) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == spec.name).cloned()
    }

    fn allowed(p: &Principal, spec: &ToolSpec) -> bool {
        spec.scope().is_none_or(|s| p.scopes.allows(&s))
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("hydracore", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "HydraCore control plane: manage agent instances, API keys and MCP credentials of your tenant. Tools you do not see are outside your key's scopes.",
            )
    }

    async fn list_tools(
        &self,
        _req: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let p = principal(&ctx)?;
        Ok(ListToolsResult::with_all_items(
            TOOLS
                .iter()
                .filter(|t| Self::allowed(&p, t))
                .filter_map(|t| self.listed(t))
                .collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        TOOLS
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| self.listed(t))
    }

    async fn call_tool(
        &self,
        req: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let started = Instant::now();
        let p = principal(&ctx)?;
        let Some(spec) = TOOLS.iter().find(|t| t.name == req.name.as_ref()) else {
            return Err(McpError::invalid_params(
                format!("unknown tool: {}", req.name),
                None,
            ));
        };
        let (Some(tenant), Some(caller)) = (p.tenant_id, call_caller(&p)) else {
            return Err(McpError::invalid_request(
                "MCP calls need an API key or an OAuth access token",
                None,
            ));
        };
        let (status, result) = if Self::allowed(&p, spec) {
            let origin = origin(&ctx);
            let caller = hydracore_api::Caller::new(&p, tenant, &origin);
            match (spec.run)(
                &self.services.api,
                caller,
                req.arguments.unwrap_or_default(),
            )
            .await
            {
                Ok(v) => (CallStatus::Ok, CallToolResult::structured(v)),
                Err(problem) => {
                    if let Some(cause) = &problem.source {
                        tracing::error!(tool = spec.name, error = %cause, "an MCP tool call failed");
                    }
                    (
                        CallStatus::Error,
                        CallToolResult::error(vec![ContentBlock::text(tools::say(&problem))]),
                    )
                }
            }
        } else {
            (
                CallStatus::Denied,
                CallToolResult::error(vec![ContentBlock::text(format!(
                    "this credential lacks the scope {} that {} needs",
                    spec.scope_label(),
                    spec.name
                ))]),
            )
        };
        self.services.log.record(McpCall {
            id: CallId::new(),
            tenant_id: tenant,
            caller,
            tool: spec.name.to_owned(),
            scope: spec.scope_label(),
            status,
            latency_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            created_at: self.services.clock.now(),
        });
        Ok(result.into())
    }
}

/// Who the call log says called: the API key, or the OAuth client through its grant.
fn call_caller(p: &Principal) -> Option<CallCaller> {
    match &p.actor {
        Actor::ApiKey { id, .. } => Some(CallCaller::Key(*id)),
        Actor::OAuth { grant, client, .. } => Some(CallCaller::Grant {
            id: grant.0,
            client: client.clone(),
        }),
        Actor::User { .. } => None,
    }
}

/// The step-up of the MCP authorization spec: a `tools/call` made with an OAuth token
/// whose grant lacks the tool's scope is answered `403` with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` (the scopes held
/// and the one missing), so the client can ask the person for more. The call is logged
/// as denied. API keys keep getting a tool error instead: no person can widen a key
/// from a client.
///
/// # Errors
/// The body cannot be read.
pub async fn step_up<B: MessageBody + 'static>(
    services: Services,
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let principal = req.extensions().get::<Principal>().cloned();
    let Some(p) = principal.filter(|p| p.grant_id().is_some()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if req.method() != actix_web::http::Method::POST {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let body = req.extract::<actix_web::web::Bytes>().await?;
    let denied = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        let calls: Vec<Value> = match v {
            Value::Array(items) => items,
            one => vec![one],
        };
        calls.iter().find_map(|c| {
            let name = (c.get("method")? == "tools/call")
                .then(|| c.pointer("/params/name")?.as_str())??;
            TOOLS
                .iter()
                .find(|t| t.name == name && !McpServer::allowed(&p, t))
        })
    });
    let Some(spec) = denied else {
        req.set_payload(actix_web::dev::Payload::from(body));
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if let (Some(tenant), Some(caller)) = (p.tenant_id, call_caller(&p)) {
        services.log.record(McpCall {
            id: CallId::new(),
            tenant_id: tenant,
            caller,
            tool: spec.name.to_owned(),
            scope: spec.scope_label(),
            status: CallStatus::Denied,
            latency_us: 0,
            created_at: services.clock.now(),
        });
    }
    let mut wanted = p.scopes.to_strings();
    wanted.push(spec.scope_label());
    let challenge = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"{} needs {}\"",
        wanted.join(" "),
        hydracore_api::resource_metadata_url(services.api.oauth.settings()),
        spec.name,
        spec.scope_label()
    );
    let res = actix_web::HttpResponse::Forbidden()
        .insert_header((actix_web::http::header::WWW_AUTHENTICATE, challenge))
        .json(serde_json::json!({
            "detail": format!(
                "This grant lacks the scope {} that {} needs: sign in again and allow it",
                spec.scope_label(),
                spec.name
            )
        }));
    Ok(req.into_response(res).map_into_right_body())
}

/// The `/mcp` service: build it once and mount `.scope()` of a clone in every worker.
/// The `Host` check against DNS rebinding is the HTTP adapter's (before authentication,
/// in the documented error shape), so rmcp's own is off.
pub fn service(services: Services, openapi: &Value) -> StreamableHttpService<McpServer> {
    let server = McpServer::new(services, openapi);
    StreamableHttpService::builder()
        .service_factory(Arc::new(move || Ok(server.clone())))
        .session_manager(Arc::new(LocalSessionManager::default()))
        .stateful_mode(false)
        .json_response(true)
        .allowed_hosts(Vec::new())
        .on_request_fn(|http_req, ext| {
            let from = http_req.extensions();
            if let Some(p) = from.get::<Principal>() {
                ext.insert(p.clone());
            }
            if let Some(o) = from.get::<Origin>() {
                ext.insert(o.clone());
            }
        })
        .build()
}
