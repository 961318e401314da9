//! OAuth for `/mcp`: the metadata documents clients discover the server by (RFC 9728,
//! RFC 8414), and the person's connected applications (their grants).

use hydracore_audit::{AuditActor, Origin};
use hydracore_auth::oauth::{Grant, GrantId, OAuthSettings};
use hydracore_tenants::UserId;
use serde_json::{Value, json};

use crate::shapes::Shapes;
use crate::{Problem, Services};

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[],
    nested: &[],
};

/// Every scope a client may ask for: the catalogue's, resource wildcards included.
pub fn scopes_supported() -> Vec<String> {
    hydracore_scopes::grantable()
}

/// The scopes a 401 from `/mcp` suggests: what a client needs to use the tools
/// read-only (a client asking for nothing is offered the same).
pub fn challenge_scopes() -> String {
    hydracore_scopes::CATALOGUE
        .iter()
        .filter(|r| !r.reserved && r.verbs.iter().any(|v| v.name == "read"))
        .map(|r| format!("{}:read", r.resource))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the protected resource metadata of `/mcp` is (RFC 9728 3.1).
pub fn resource_metadata_url(s: &OAuthSettings) -> String {
    format!("{}/.well-known/oauth-protected-resource/mcp", s.issuer)
}

/// The protected resource metadata of `/mcp` (RFC 9728 2).
pub fn protected_resource_metadata(s: &OAuthSettings) -> Value {
    json!({
        "resource": s.resource,
        "authorization_servers": [s.issuer],
        "scopes_supported": scopes_supported(),
        "bearer_methods_supported": ["header"],
        "resource_name": "HydraCore MCP",
        "resource_documentation": format!("{}/docs/", s.issuer),
    })
}

/// The authorization server metadata (RFC 8414 2), also served where OpenID clients
/// look for it.
pub fn authorization_server_metadata(s: &OAuthSettings) -> Value {
    let i = &s.issuer;
    json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth/authorize"),
        "token_endpoint": format!("{i}/oauth/token"),
        "registration_endpoint": format!("{i}/oauth/register"),
        "revocation_endpoint": format!("{i}/oauth/revoke"),
        "scopes_supported": scopes_supported(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{i}/docs/"),
    })
}

/// The person's connected applications: their live grants, newest first.
///
/// # Errors
/// The store fails.
pub async fn connected_apps(svc: &Services, user: UserId) -> Result<Vec<Grant>, Problem> {
    Ok(svc.oauth.grants_of(user).await?)
}

/// Revokes the person's grant `id`: its tokens stop working at once, on every node.
///
/// # Errors
/// 404 when the person has no such live grant.
pub async fn revoke_connected_app(
    svc: &Services,
    user: UserId,
    email: &str,
    id: GrantId,
    origin: &Origin,
) -> Result<(), Problem> {
    let who = origin.by(AuditActor::user(user.0, email));
    if svc.oauth.revoke_grant(user, id, &who).await? {
        Ok(())
    } else {
        Err(Problem::not_found("Connected application not found"))
    }
}

/// No operation of this resource is in the table: its routes are the consent page's and OAuth's protocol endpoints, outside the spec,
/// written by hand.
#[macro_export]
#[doc(hidden)]
macro_rules! oauth {
    ($then:path) => {
        $then! { oauth; }
    };
}
