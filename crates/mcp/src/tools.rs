//! The tools: one table (name, scope, the HTTP route it mirrors, schemas, hints) and
//! one dispatcher that calls the same service methods as the routes and answers with
//! the same wire shapes.

use hydracore_api as wire;
use hydracore_auth::Principal;
use hydracore_core::{PageRequest, ValidationError};
use hydracore_instances::{CreateInstance, InstanceId, InstancePatch};
use hydracore_keys::ApiKeyId;
use hydracore_mcp_creds::CreateCredential;
use hydracore_scopes::{CATALOGUE, Scope};
use hydracore_tenants::TenantId;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::Services;

/// One tool.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// `(resource, verb)` the caller must hold; `None`: any live key.
    pub scope: Option<(&'static str, &'static str)>,
    /// The HTTP operation this tool mirrors: `(method, path)`.
    pub route: (&'static str, &'static str),
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
}

impl ToolSpec {
    pub fn scope(&self) -> Option<Scope> {
        self.scope.map(|(r, v)| Scope::of(r, v))
    }

    /// The scope as the call log records it (`""` for tools needing none).
    pub fn scope_label(&self) -> String {
        self.scope().map(|s| s.to_string()).unwrap_or_default()
    }
}

macro_rules! tools {
    ($($name:literal, $title:literal, $scope:expr, $method:literal $path:literal, [$ro:expr, $de:expr, $id:expr], $desc:literal;)*) => {
        /// Every tool.
        pub const TOOLS: &[ToolSpec] = &[
            $(ToolSpec {
                name: $name,
                title: $title,
                description: $desc,
                scope: $scope,
                route: ($method, $path),
                read_only: $ro,
                destructive: $de,
                idempotent: $id,
            },)*
        ];
    };
}

tools! {
    "instances_list", "List instances", Some(("instances", "read")), "GET" "/v1/instances", [true, false, true],
        "List the tenant's agent instances, oldest first, a page at a time (limit 1-1000, cursor from next_cursor).";
    "instances_get", "Get an instance", Some(("instances", "read")), "GET" "/v1/instances/{instance_id}", [true, false, true],
        "Get one agent instance by id.";
    "instances_create", "Create an instance", Some(("instances", "write")), "POST" "/v1/instances", [false, false, false],
        "Create an agent instance. name: 1-64 of [a-z0-9-], unique in the tenant. Optional runtime_image, config (a JSON object), start.";
    "instances_update", "Update an instance", Some(("instances", "write")), "PATCH" "/v1/instances/{instance_id}", [false, false, true],
        "Rename, re-image or reconfigure an instance; omitted fields are left as they are.";
    "instances_start", "Start an instance", Some(("instances", "write")), "POST" "/v1/instances/{instance_id}/start", [false, false, false],
        "Start a stopped or failed instance.";
    "instances_stop", "Stop an instance", Some(("instances", "write")), "POST" "/v1/instances/{instance_id}/stop", [false, false, false],
        "Stop a running, starting or failed instance.";
    "instances_delete", "Delete an instance", Some(("instances", "delete")), "DELETE" "/v1/instances/{instance_id}", [false, true, true],
        "Delete an instance, stopping it first if it runs. This cannot be undone.";
    "api_keys_list", "List API keys", Some(("api-keys", "read")), "GET" "/v1/api-keys", [true, false, true],
        "List the tenant's API keys (never their secrets).";
    "api_keys_get", "Get an API key", Some(("api-keys", "read")), "GET" "/v1/api-keys/{key_id}", [true, false, true],
        "Get one API key by id (never its secret).";
    "api_key_context", "Who am I", None, "GET" "/v1/mcp/api-key-context", [true, false, true],
        "The calling API key: its id, name, tenant, scopes and rate limit.";
    "scopes_list", "List scopes", None, "GET" "/v1/scopes", [true, false, true],
        "The catalogue of scopes an API key can hold.";
    "mcp_credentials_list", "List MCP credentials", Some(("mcp-creds", "read")), "GET" "/v1/mcp/credentials", [true, false, true],
        "List stored credentials for third-party MCP servers (never their secrets).";
    "mcp_credentials_create", "Store an MCP credential", Some(("mcp-creds", "write")), "POST" "/v1/mcp/credentials", [false, false, false],
        "Store a credential for a third-party MCP server: name, server_url, auth_kind (bearer|header), header_name (for header), secret. The secret is sealed and never shown again.";
    "mcp_credentials_delete", "Delete an MCP credential", Some(("mcp-creds", "write")), "DELETE" "/v1/mcp/credentials/{credential_id}", [false, true, true],
        "Delete a stored credential. This cannot be undone.";
    "mcp_call_log_list", "List MCP tool calls", Some(("mcp-log", "read")), "GET" "/v1/mcp/call-log", [true, false, true],
        "The audit log of MCP tool calls: tool, scope, status, latency, key. Never arguments or results.";
}

/// How a call ended, for the caller and the call log.
#[derive(Debug)]
pub enum Outcome {
    Ok(Value),
    /// The tool ran into a rule or bad arguments; the text is for the model to correct.
    Error(String),
    /// The key lacks the tool's scope.
    Denied(String),
}

fn args<T: DeserializeOwned>(raw: Map<String, Value>) -> Result<T, String> {
    let raw = Value::Object(raw);
    let mut at = Vec::new();
    if wire::nul_in_body(&raw, &mut at) {
        let path: Vec<String> = at.iter().map(|s| s.to_string()).collect();
        return Err(format!(
            "invalid arguments: strings may not contain the NUL character (at {})",
            path.join(".")
        ));
    }
    serde_path_to_error::deserialize::<_, T>(&raw).map_err(|e| {
        let path = e.path().to_string();
        // serde quotes offending values ("invalid type: integer `5`"): never a secret's.
        if path.split('.').any(wire::is_secret_field) {
            format!("invalid arguments: {path} is not valid")
        } else {
            format!("invalid arguments: {}", e.inner())
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageArgs {
    limit: Option<u32>,
    cursor: Option<String>,
}

impl PageArgs {
    fn request(self) -> Result<PageRequest, String> {
        let after = match self.cursor {
            Some(c) => Some(
                wire::decode_cursor(&c)
                    .ok_or("invalid arguments: cursor is not a cursor of this server")?,
            ),
            None => None,
        };
        PageRequest::new(self.limit.unwrap_or(hydracore_core::MAX_PAGE_SIZE), after)
            .map_err(|e| format!("invalid arguments: {e}"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceArgs {
    instance_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyArgs {
    key_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialArgs {
    credential_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateArgs {
    instance_id: Uuid,
    name: Option<String>,
    runtime_image: Option<String>,
    config: Option<Value>,
}

fn page<T, U: serde::Serialize>(page: hydracore_core::Page<T>, f: impl FnMut(T) -> U) -> Value {
    let next = page.next.as_ref().map(wire::encode_cursor);
    let items: Vec<U> = page.items.into_iter().map(f).collect();
    json!({"items": items, "next_cursor": next})
}

fn to_value<T: serde::Serialize>(v: T) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|_| "internal error".to_owned())
}

/// A failure's text for the model: the domain's own sentence, never a store error's.
fn say<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn validation(e: &ValidationError) -> String {
    format!("invalid arguments: {e}")
}

/// Runs `tool` for `principal` in `tenant`. Authorization has been checked.
pub async fn execute(
    svc: &Services,
    tool: &ToolSpec,
    principal: &Principal,
    tenant: TenantId,
    raw: Map<String, Value>,
) -> Outcome {
    match run(svc, tool, principal, tenant, raw).await {
        Ok(v) => Outcome::Ok(v),
        Err(msg) => Outcome::Error(msg),
    }
}

async fn run(
    svc: &Services,
    tool: &ToolSpec,
    principal: &Principal,
    tenant: TenantId,
    raw: Map<String, Value>,
) -> Result<Value, String> {
    use hydracore_instances::InstanceError as IE;
    let inst = |e: IE| match e {
        IE::Invalid(v) => validation(&v),
        IE::Store(_) | IE::Runtime(_) => {
            "the service could not complete the call; try again".to_owned()
        }
        other => say(other),
    };
    match tool.name {
        "instances_list" => {
            let p = args::<PageArgs>(raw)?.request()?;
            let rows = svc.instances.list(tenant, p).await.map_err(inst)?;
            Ok(page(rows, wire::InstanceDto::from))
        }
        "instances_get" => {
            let a: InstanceArgs = args(raw)?;
            to_value(wire::InstanceDto::from(
                svc.instances
                    .get(tenant, InstanceId(a.instance_id))
                    .await
                    .map_err(inst)?,
            ))
        }
        "instances_create" => {
            let a: wire::CreateInstanceRequest = args(raw)?;
            let req = CreateInstance {
                name: a.name,
                runtime_image: a.runtime_image,
                config: a.config.map(|c| c.0),
                start: a.start.unwrap_or(false),
            };
            to_value(wire::InstanceDto::from(
                svc.instances.create(tenant, req).await.map_err(inst)?,
            ))
        }
        "instances_update" => {
            let a: UpdateArgs = args(raw)?;
            let patch = InstancePatch {
                name: a.name,
                runtime_image: a.runtime_image,
                config: a.config,
            };
            to_value(wire::InstanceDto::from(
                svc.instances
                    .update(tenant, InstanceId(a.instance_id), patch)
                    .await
                    .map_err(inst)?,
            ))
        }
        "instances_start" => {
            let a: InstanceArgs = args(raw)?;
            to_value(wire::InstanceDto::from(
                svc.instances
                    .start(tenant, InstanceId(a.instance_id))
                    .await
                    .map_err(inst)?,
            ))
        }
        "instances_stop" => {
            let a: InstanceArgs = args(raw)?;
            to_value(wire::InstanceDto::from(
                svc.instances
                    .stop(tenant, InstanceId(a.instance_id))
                    .await
                    .map_err(inst)?,
            ))
        }
        "instances_delete" => {
            let a: InstanceArgs = args(raw)?;
            svc.instances
                .delete(tenant, InstanceId(a.instance_id))
                .await
                .map_err(inst)?;
            Ok(json!({"deleted": true}))
        }
        "api_keys_list" => {
            let p = args::<PageArgs>(raw)?.request()?;
            let rows = svc
                .keys
                .list(tenant, p)
                .await
                .map_err(|_| "the service could not complete the call; try again".to_owned())?;
            Ok(page(rows, wire::ApiKeyDto::from))
        }
        "api_keys_get" => {
            let a: KeyArgs = args(raw)?;
            let key = svc
                .keys
                .get(tenant, ApiKeyId(a.key_id))
                .await
                .map_err(|e| match e {
                    hydracore_keys::KeyError::NotFound => "API key not found".to_owned(),
                    _ => "the service could not complete the call; try again".to_owned(),
                })?;
            to_value(wire::ApiKeyDto::from(key))
        }
        "api_key_context" => {
            let _: Map<String, Value> = args(raw)?;
            let Some(id) = principal.key_id() else {
                return Err("this tool describes the calling API key".into());
            };
            let name = match &principal.actor {
                hydracore_auth::Actor::ApiKey { name, .. } => name.clone(),
                hydracore_auth::Actor::User { email, .. } => email.clone(),
            };
            to_value(wire::ApiKeyContextDto {
                key_id: id.0,
                name,
                tenant_id: tenant.0,
                scopes: principal.scopes.to_strings(),
                rate_limit: principal.rate_limit.map(Into::into),
            })
        }
        "scopes_list" => {
            let _: Map<String, Value> = args(raw)?;
            let mut items = Vec::new();
            for spec in CATALOGUE {
                for verb in spec.verbs.iter().copied().chain(["*"]) {
                    items.push(wire::ScopeDto {
                        scope: format!("{}:{verb}", spec.resource),
                        resource: spec.resource.to_owned(),
                        verb: verb.to_owned(),
                        description: spec.description.to_owned(),
                        reserved: spec.reserved,
                    });
                }
            }
            Ok(json!({"items": items, "next_cursor": null}))
        }
        "mcp_credentials_list" => {
            let p = args::<PageArgs>(raw)?.request()?;
            let rows = svc
                .credentials
                .list(tenant, p)
                .await
                .map_err(|_| "the service could not complete the call; try again".to_owned())?;
            Ok(page(rows, wire::McpCredentialDto::from))
        }
        "mcp_credentials_create" => {
            let a: wire::CreateMcpCredentialRequest = args(raw)?;
            let req = CreateCredential {
                name: a.name,
                server_url: a.server_url,
                auth_kind: match a.auth_kind {
                    wire::McpAuthKindDto::Bearer => "bearer".into(),
                    wire::McpAuthKindDto::Header => "header".into(),
                },
                header_name: a.header_name,
                secret: a.secret,
            };
            let cred = svc
                .credentials
                .create(tenant, req)
                .await
                .map_err(|e| match e {
                    hydracore_mcp_creds::CredentialError::Invalid(v) => validation(&v),
                    hydracore_mcp_creds::CredentialError::Duplicate(_)
                    | hydracore_mcp_creds::CredentialError::NotFound => say(e),
                    _ => "the service could not complete the call; try again".to_owned(),
                })?;
            to_value(wire::McpCredentialDto::from(cred))
        }
        "mcp_credentials_delete" => {
            let a: CredentialArgs = args(raw)?;
            svc.credentials
                .delete(tenant, a.credential_id)
                .await
                .map_err(|e| match e {
                    hydracore_mcp_creds::CredentialError::NotFound => say(e),
                    _ => "the service could not complete the call; try again".to_owned(),
                })?;
            Ok(json!({"deleted": true}))
        }
        "mcp_call_log_list" => {
            let p = args::<PageArgs>(raw)?.request()?;
            let rows = svc
                .calls
                .list(tenant, p)
                .await
                .map_err(|_| "the service could not complete the call; try again".to_owned())?;
            Ok(page(rows, wire::McpCallDto::from))
        }
        _ => Err("unknown tool".into()),
    }
}
