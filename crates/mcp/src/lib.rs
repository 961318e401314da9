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

use hydracore_audit::Origin;
use hydracore_auth::Principal;
use hydracore_core::SharedClock;
use hydracore_mcp_log::{CallId, CallStatus, McpCall};
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
        let (Some(tenant), Some(key_id)) = (p.tenant_id, p.key_id()) else {
            return Err(McpError::invalid_request("MCP calls need an API key", None));
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
                    "this API key lacks the scope {} that {} needs",
                    spec.scope_label(),
                    spec.name
                ))]),
            )
        };
        self.services.log.record(McpCall {
            id: CallId::new(),
            tenant_id: tenant,
            key_id,
            tool: spec.name.to_owned(),
            scope: spec.scope_label(),
            status,
            latency_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            created_at: self.services.clock.now(),
        });
        Ok(result.into())
    }
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
            let from = actix_web::HttpMessage::extensions(http_req);
            if let Some(p) = from.get::<Principal>() {
                ext.insert(p.clone());
            }
            if let Some(o) = from.get::<Origin>() {
                ext.insert(o.clone());
            }
        })
        .build()
}
