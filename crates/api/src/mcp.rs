//! Credentials for third-party MCP servers and the MCP call log.

use hydracore_core::rules::Rule;
use hydracore_keys::ApiKeyId;
pub use hydracore_mcp_creds::CredentialId;
use hydracore_mcp_creds::{AuthKind, McpCredential};
use hydracore_mcp_log::{CallCaller, CallQuery, CallStatus, McpCall};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use hydracore_core::{Page, PageRequest};
use hydracore_mcp_creds::{CreateCredential, CredentialError};

use crate::shapes::{Shapes, body, nested};
use crate::{Caller, FieldRules, Problem, Services, Timestamp};

needs! {
    MCP_CREDS_READ: McpCredsRead = "mcp-creds":"read";
    MCP_CREDS_WRITE: McpCredsWrite = "mcp-creds":"write";
    MCP_LOG_READ: McpLogRead = "mcp-log":"read";
}

path_id! {
    CredentialId = "The credential's id (a UUID).";
}

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[body::<CreateMcpCredentialRequest>],
    nested: &[nested::<McpCallStatusDto>, nested::<McpAuthKindDto>],
};

/// How a credential is presented to its server.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum McpAuthKindDto {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `<header_name>: <secret>`.
    Header,
}

/// A credential for a third-party MCP server. The secret is never shown.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct McpCredentialDto {
    pub id: Uuid,
    pub name: String,
    pub server_url: String,
    pub auth_kind: McpAuthKindDto,
    /// The header carrying the secret, for `auth_kind: header`.
    pub header_name: Option<String>,
    /// Always true: a credential is stored with its secret.
    pub has_secret: bool,
    /// The secret's last 4 characters, for secrets of 12 or more; otherwise `null`.
    pub secret_last4: Option<String>,
    pub created_at: Timestamp,
}

impl From<McpCredential> for McpCredentialDto {
    fn from(c: McpCredential) -> Self {
        Self {
            id: c.id.0,
            name: c.name,
            server_url: c.server_url,
            auth_kind: match c.auth {
                AuthKind::Bearer => McpAuthKindDto::Bearer,
                AuthKind::Header { .. } => McpAuthKindDto::Header,
            },
            header_name: c.auth.header_name().map(str::to_owned),
            has_secret: true,
            secret_last4: (!c.secret_hint.is_empty()).then_some(c.secret_hint),
            created_at: Timestamp(c.created_at),
        }
    }
}

/// Stores a credential. The secret is sealed at once and never returned.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateMcpCredentialRequest {
    /// Unique within the tenant.
    #[openapi(example = "github")]
    pub name: String,
    /// The MCP server's URL.
    #[openapi(example = "https://mcp.example.com/mcp")]
    pub server_url: String,
    pub auth_kind: McpAuthKindDto,
    /// Required for `auth_kind: header`, e.g. `X-Api-Token`.
    pub header_name: Option<String>,
    /// The token or key for the server.
    pub secret: String,
}

impl FieldRules for CreateMcpCredentialRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        use hydracore_mcp_creds::rules;
        vec![
            ("name", rules::NAME),
            ("server_url", rules::SERVER_URL),
            ("header_name", rules::HEADER_NAME),
            ("secret", rules::SECRET),
        ]
    }
}

/// How an MCP tool call ended.
#[derive(Debug, Clone, Copy, Serialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum McpCallStatusDto {
    Ok,
    Error,
    Denied,
}

impl McpCallStatusDto {
    /// The status as the wire writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Denied => "denied",
        }
    }
}

/// The longest tool name a call-log filter takes.
pub const TOOL_FILTER_MAX: usize = 128;

/// Which calls `GET /v1/mcp/call-log` lists, and in which order: `key_id`, `tool`,
/// `status` and `order` (`asc`, the default, or `desc`), as sent.
#[derive(Debug, Clone, Default)]
pub struct CallLogFilter(pub CallQuery);

impl CallLogFilter {
    /// The query parameters' names, for adapters that read them one by one.
    pub const PARAMETERS: [&'static str; 4] = ["key_id", "tool", "status", "order"];

    /// Reads the filters as sent (absent ones are `None`).
    ///
    /// # Errors
    /// A key id that is not a UUID, a tool name over 128 characters, an unknown
    /// status or order: an invalid problem naming the parameter.
    pub fn parse(
        key_id: Option<&str>,
        tool: Option<&str>,
        status: Option<&str>,
        order: Option<&str>,
    ) -> Result<Self, Problem> {
        use hydracore_core::ValidationError;
        let key_id = key_id
            .map(|k| {
                Uuid::parse_str(k).map(ApiKeyId).map_err(|e| {
                    ValidationError::new(
                        "key_id",
                        "uuid_parsing",
                        format!("Input should be a valid UUID, {e}"),
                        k,
                    )
                })
            })
            .transpose()?;
        if let Some(t) = tool
            && t.chars().count() > TOOL_FILTER_MAX
        {
            return Err(ValidationError::new(
                "tool",
                "string_too_long",
                format!("String should have at most {TOOL_FILTER_MAX} characters"),
                t,
            )
            .into());
        }
        let status = status
            .map(|s| {
                CallStatus::parse(s).map_err(|_| {
                    ValidationError::new(
                        "status",
                        "enum",
                        "Input should be 'ok', 'error' or 'denied'",
                        s,
                    )
                })
            })
            .transpose()?;
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
        Ok(Self(CallQuery {
            key_id,
            tool: tool.map(str::to_owned),
            status,
            newest_first,
        }))
    }
}

/// One MCP tool call. Arguments, results and error text are never recorded.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct McpCallDto {
    pub id: Uuid,
    pub tool: String,
    /// The scope the tool requires.
    pub scope: String,
    pub status: McpCallStatusDto,
    /// Time spent serving the call, in microseconds.
    pub latency_us: i64,
    /// The API key that called; `null` for a call made through an OAuth grant.
    pub key_id: Option<Uuid>,
    /// The OAuth grant that called; `null` for a call made with an API key.
    pub oauth_grant_id: Option<Uuid>,
    /// The OAuth client that called, by the name it had then.
    pub oauth_client: Option<String>,
    pub created_at: Timestamp,
}

impl From<McpCall> for McpCallDto {
    fn from(c: McpCall) -> Self {
        Self {
            id: c.id.0,
            tool: c.tool,
            scope: c.scope,
            status: match c.status {
                CallStatus::Ok => McpCallStatusDto::Ok,
                CallStatus::Error => McpCallStatusDto::Error,
                CallStatus::Denied => McpCallStatusDto::Denied,
            },
            latency_us: c.latency_us,
            key_id: c.caller.key_id().map(|k| k.0),
            oauth_grant_id: match &c.caller {
                CallCaller::Grant { id, .. } => Some(*id),
                CallCaller::Key(_) => None,
            },
            oauth_client: match c.caller {
                CallCaller::Grant { client, .. } => Some(client),
                CallCaller::Key(_) => None,
            },
            created_at: Timestamp(c.created_at),
        }
    }
}

impl CreateMcpCredentialRequest {
    /// The domain's request.
    pub fn into_domain(self) -> CreateCredential {
        CreateCredential {
            name: self.name,
            server_url: self.server_url,
            auth_kind: match self.auth_kind {
                McpAuthKindDto::Bearer => "bearer".into(),
                McpAuthKindDto::Header => "header".into(),
            },
            header_name: self.header_name,
            secret: self.secret,
        }
    }
}

/// The tenant's credentials, never their secrets.
///
/// # Errors
/// Store failures.
pub async fn list_credentials(
    svc: &Services,
    caller: &Caller<'_>,
    page: PageRequest,
) -> Result<Page<McpCredentialDto>, Problem> {
    caller.require(&MCP_CREDS_READ)?;
    Ok(svc
        .credentials
        .list(caller.tenant, page)
        .await?
        .map(McpCredentialDto::from))
}

/// Stores a credential, its secret sealed at once.
///
/// # Errors
/// A field rule, a taken name (conflict).
pub async fn create_credential(
    svc: &Services,
    caller: &Caller<'_>,
    req: CreateMcpCredentialRequest,
) -> Result<McpCredentialDto, Problem> {
    caller.require(&MCP_CREDS_WRITE)?;
    Ok(svc
        .credentials
        .create(caller.tenant, &caller.who(), req.into_domain())
        .await?
        .into())
}

/// One of the tenant's credentials.
///
/// # Errors
/// Not found.
pub async fn get_credential(
    svc: &Services,
    caller: &Caller<'_>,
    id: CredentialId,
) -> Result<McpCredentialDto, Problem> {
    caller.require(&MCP_CREDS_READ)?;
    Ok(svc.credentials.get(caller.tenant, id).await?.into())
}

/// Deletes a credential.
///
/// # Errors
/// Not found.
pub async fn delete_credential(
    svc: &Services,
    caller: &Caller<'_>,
    id: CredentialId,
) -> Result<(), Problem> {
    caller.require(&MCP_CREDS_WRITE)?;
    Ok(svc
        .credentials
        .delete(caller.tenant, &caller.who(), id)
        .await?)
}

/// The tenant's MCP tool calls that `filter` matches, oldest first unless it says
/// otherwise.
///
/// # Errors
/// Store failures.
pub async fn list_calls(
    svc: &Services,
    caller: &Caller<'_>,
    filter: &CallLogFilter,
    page: PageRequest,
) -> Result<Page<McpCallDto>, Problem> {
    caller.require(&MCP_LOG_READ)?;
    Ok(svc
        .calls
        .list(caller.tenant, &filter.0, page)
        .await?
        .map(McpCallDto::from))
}

impl From<CredentialError> for Problem {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::NotFound => Problem::not_found("Credential not found"),
            CredentialError::Duplicate(name) => {
                Problem::conflict(format!("A credential named '{name}' already exists"))
            }
            CredentialError::Invalid(v) => Problem::invalid(v),
            CredentialError::Cipher(e) => Problem::internal(e),
            CredentialError::Store(e) => e.into(),
        }
    }
}

/// The MCP credential and call log operations, for each driving adapter to render (see
/// [`crate::operations!`]).
#[macro_export]
#[doc(hidden)]
macro_rules! mcp {
    ($then:path) => {
        $then! { mcp;
            /// List MCP credentials
            list_credentials: GET "/mcp/credentials" "listMcpCredentials" McpCredentials,
                needs $crate::McpCredsRead, idempotent no, takes [page()],
                answers paged $crate::McpCredentialDto, fails plain,
                tool [mcp_credentials_list "List MCP credentials" "List stored credentials for third-party MCP servers (never their secrets)."];

            /// Store an MCP credential
            ///
            /// Stores the credential an instance uses to reach a third-party MCP server. The
            /// secret is sealed with AES-256-GCM at once; no response ever contains it.
            create_credential: POST "/mcp/credentials" "createMcpCredential" McpCredentials,
                needs $crate::McpCredsWrite, idempotent yes,
                takes [body($crate::CreateMcpCredentialRequest)],
                answers created $crate::McpCredentialDto, fails conflict,
                tool [mcp_credentials_create "Store an MCP credential" "Store a credential for a third-party MCP server: name, server_url, auth_kind (bearer|header), header_name (for header), secret. The secret is sealed and never shown again."];

            /// Get an MCP credential
            get_credential: GET "/mcp/credentials/{credential_id}" "getMcpCredential" McpCredentials,
                needs $crate::McpCredsRead, idempotent no,
                takes [id($crate::CredentialId)],
                answers json $crate::McpCredentialDto, fails plain,
                tool [];

            /// Delete an MCP credential
            delete_credential: DELETE "/mcp/credentials/{credential_id}" "deleteMcpCredential" McpCredentials,
                needs $crate::McpCredsWrite, idempotent no,
                takes [id($crate::CredentialId)],
                answers none (), fails plain,
                tool [mcp_credentials_delete "Delete an MCP credential" "Delete a stored credential. This cannot be undone."];

            /// List MCP tool calls
            ///
            /// The audit log of every `tools/call` made through `/mcp`: tool, scope, outcome,
            /// latency and key, filtered by key, tool and status, oldest or newest first.
            /// Arguments, results and error text are never recorded.
            list_calls: GET "/mcp/call-log" "listMcpCalls" McpCallLog,
                needs $crate::McpLogRead, idempotent no, takes [call_filter(), page()],
                answers paged $crate::McpCallDto, fails plain,
                tool [mcp_call_log_list "List MCP tool calls" "The audit log of MCP tool calls: tool, scope, status, latency, key; filter by key_id, tool or status, order asc or desc. Never arguments or results."];
        }
    };
}
