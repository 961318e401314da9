//! Extractors: the authenticated principal with the scope a route requires, JSON
//! bodies with field-precise 422s, and list parameters. Each documents itself in the
//! spec (parameters, security, the error statuses it can produce).

use std::collections::BTreeMap;
use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use hydracore_auth::{AuthError, Principal};

use hydracore_core::{MAX_PAGE_SIZE, PageRequest};
use hydracore_scopes::Scope;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{
    DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn, Response,
    SecurityScheme,
};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorItem};
use crate::paged::decode_cursor;

/// The name of the API key security scheme in the spec.
pub const API_KEY_SCHEME: &str = "ApiKeyHeader";

/// A scope a route requires, as a type, so the handler signature is the one place
/// that declares it and the spec can show it.
pub trait RequiredScope {
    const RESOURCE: &'static str;
    const VERB: &'static str;
}

macro_rules! scopes {
    ($($name:ident = $resource:literal : $verb:literal;)*) => {
        $(
            #[doc = concat!("The `", $resource, ":", $verb, "` scope.")]
            pub struct $name;
            impl RequiredScope for $name {
                const RESOURCE: &'static str = $resource;
                const VERB: &'static str = $verb;
            }
        )*
    };
}

scopes! {
    TenantsRead = "tenants":"read";
    MembersRead = "members":"read";
    MembersWrite = "members":"write";
    InstancesRead = "instances":"read";
    InstancesWrite = "instances":"write";
    InstancesDelete = "instances":"delete";
    ApiKeysRead = "api-keys":"read";
    ApiKeysWrite = "api-keys":"write";
    McpCredsRead = "mcp-creds":"read";
    McpCredsWrite = "mcp-creds":"write";
    McpLogRead = "mcp-log":"read";
}

/// Documents `status` on `op` unless something documented it first.
pub(crate) fn insert_error(op: &mut DefaultOperationRaw, status: &str, description: &str) {
    op.responses.entry(status.to_owned()).or_insert_with(|| {
        Either::Right(Response {
            description: Some(description.to_owned()),
            ..Default::default()
        })
    });
}

fn principal(req: &HttpRequest) -> Result<Principal, ApiError> {
    req.extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::Unauthorized("Not authenticated".into()))
}

fn document_auth(op: &mut DefaultOperationRaw, scope: Option<String>) {
    insert_error(
        op,
        "429",
        "The API key's rate limit is spent; see Retry-After",
    );
    let scopes: Vec<String> = scope.into_iter().collect();
    op.security
        .push(BTreeMap::from([(API_KEY_SCHEME.to_owned(), scopes)]));
    insert_error(
        op,
        "401",
        "No credential, or an unknown, revoked or expired one",
    );
    insert_error(op, "503", "The database is unreachable");
}

fn document_scheme(map: &mut BTreeMap<String, SecurityScheme>) {
    map.insert(
        API_KEY_SCHEME.to_owned(),
        SecurityScheme {
            name: Some("X-Api-Key".into()),
            type_: "apiKey".into(),
            in_: Some("header".into()),
            description: Some("An API key (hc_live_...)".into()),
            ..Default::default()
        },
    );
}

/// The caller, authenticated by any credential, acting in a tenant and holding scope
/// `S` there.
pub struct Scoped<S: RequiredScope> {
    pub principal: Principal,
    pub tenant: hydracore_tenants::TenantId,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope> Scoped<S> {
    pub fn scope() -> Scope {
        Scope::of(S::RESOURCE, S::VERB)
    }

    /// The caller, as the operations take it.
    pub fn caller(&self) -> hydracore_api::Caller<'_> {
        hydracore_api::Caller::new(&self.principal, self.tenant)
    }
}

/// The 403 of a user who belongs to no tenant.
pub fn no_tenant() -> ApiError {
    ApiError::Forbidden(
        "No active tenant: switch to one of your tenants (POST /auth/switch-tenant) or create one (POST /v1/tenants)".into(),
    )
}

/// What a route that needs `scope` asks of `p`: a tenant to act in, and the scope
/// there.
///
/// # Errors
/// 403 without an active tenant or without the scope.
pub fn require_scope(
    p: &Principal,
    scope: &Scope,
) -> Result<hydracore_tenants::TenantId, ApiError> {
    let tenant = p.tenant_id.ok_or_else(no_tenant)?;
    p.authorize(scope).map_err(ApiError::from)?;
    Ok(tenant)
}

/// What a route only a person may call asks of `p`: to be a signed-in user.
///
/// # Errors
/// 401 for an API key.
pub fn require_user(p: &Principal) -> Result<hydracore_tenants::UserId, ApiError> {
    p.user_id().ok_or(ApiError::Unauthorized(
        "This route takes a user's access token (Authorization: Bearer <access_token>), not an API key".into()
    ))
}

impl<S: RequiredScope> FromRequest for Scoped<S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).and_then(|p| {
            let tenant = require_scope(&p, &Self::scope())?;
            Ok(Scoped {
                principal: p,
                tenant,
                _scope: PhantomData,
            })
        }))
    }
}

impl<S: RequiredScope> Apiv2Schema for Scoped<S> {}

impl<S: RequiredScope> OperationModifier for Scoped<S> {
    fn update_security(op: &mut DefaultOperationRaw) {
        document_auth(op, Some(Self::scope().to_string()));
        insert_error(op, "403", "The credential lacks the required scope");
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        document_scheme(map);
    }
}

/// The caller, authenticated by an API key (in `X-Api-Key` or as a bearer token); a
/// user's access token is 401, the credential this route takes being absent.
pub struct KeyAuth {
    pub key: hydracore_keys::ApiKeyId,
    pub name: String,
    pub tenant: hydracore_tenants::TenantId,
    pub principal: Principal,
}

impl KeyAuth {
    /// The caller, as the operations take it.
    pub fn caller(&self) -> hydracore_api::Caller<'_> {
        hydracore_api::Caller::new(&self.principal, self.tenant)
    }
}

impl FromRequest for KeyAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).and_then(|p| match (&p.actor, p.tenant_id) {
            (hydracore_auth::Actor::ApiKey { id, name }, Some(tenant)) => Ok(KeyAuth {
                key: *id,
                name: name.clone(),
                tenant,
                principal: p,
            }),
            _ => Err(ApiError::Unauthorized(
                "This route takes an API key (X-Api-Key: hc_live_...), not a user's access token".into()
            )),
        }))
    }
}

impl Apiv2Schema for KeyAuth {}

/// Marks an operation only an API key may call; the finished spec lists the API key
/// scheme alone for it.
pub const KEY_ONLY_MARKER: &str = "ApiKeyOnly";

impl OperationModifier for KeyAuth {
    fn update_security(op: &mut DefaultOperationRaw) {
        document_auth(op, None);
        op.security
            .push(BTreeMap::from([(KEY_ONLY_MARKER.to_owned(), Vec::new())]));
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        document_scheme(map);
    }
}

/// The name of the bearer scheme in the spec.
pub const BEARER_SCHEME: &str = "BearerAuth";

/// A signed-in user (an access token, not an API key).
pub struct UserAuth {
    pub user: hydracore_tenants::UserId,
    pub principal: Principal,
}

impl FromRequest for UserAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).and_then(|p| {
            let user = require_user(&p)?;
            Ok(UserAuth { user, principal: p })
        }))
    }
}

impl Apiv2Schema for UserAuth {}

impl OperationModifier for UserAuth {
    fn update_security(op: &mut DefaultOperationRaw) {
        op.security
            .push(BTreeMap::from([(BEARER_SCHEME.to_owned(), Vec::new())]));
        insert_error(
            op,
            "401",
            "No user access token: none, an unknown or expired one, or an API key",
        );
        insert_error(op, "503", "The database is unreachable");
    }
}

/// The caller, authenticated by any live credential; no scope needed.
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).map(Authenticated))
    }
}

impl Apiv2Schema for Authenticated {}

impl OperationModifier for Authenticated {
    fn update_security(op: &mut DefaultOperationRaw) {
        document_auth(op, None);
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        document_scheme(map);
    }
}

/// Maps an authentication failure into the principal-less path (used by middleware).
pub fn auth_error(e: AuthError) -> ApiError {
    e.into()
}

/// A JSON body of type `T`. Syntax errors, missing fields, wrong types and unknown
/// fields are each a 422 item located at the offending field.
pub struct ValidJson<T>(pub T);

/// The largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Turns a serde failure at `path` into a pydantic-style item.
fn serde_item(path: &serde_path_to_error::Path, message: &str, root: &Value) -> ErrorItem {
    use serde_path_to_error::Segment;
    let mut loc = vec![json!("body")];
    let mut node = Some(root);
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => {
                loc.push(json!(index));
                node = node.and_then(|n| n.get(index));
            }
            Segment::Map { key } => {
                loc.push(json!(key));
                node = node.and_then(|n| n.get(key));
            }
            Segment::Enum { variant } => loc.push(json!(variant)),
            Segment::Unknown => {}
        }
    }
    let input = node.cloned().unwrap_or(Value::Null);
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').nth(1))
            .map(str::to_owned)
    };
    if let Some(field) = quoted("missing field ") {
        loc.push(json!(field));
        return ErrorItem::new("missing", loc, "Field required", input);
    }
    if quoted("unknown field ").is_some() {
        return ErrorItem::new(
            "extra_forbidden",
            loc,
            "Extra inputs are not permitted",
            input,
        );
    }
    let expected = message.rsplit("expected ").next().unwrap_or_default();
    let (kind, msg) = if message.starts_with("invalid type") || message.starts_with("invalid value")
    {
        if expected.contains("string") || expected.contains("date-time") {
            ("string_type", "Input should be a valid string")
        } else if expected.contains("integer")
            || expected.starts_with("u32")
            || expected.starts_with("i")
        {
            ("int_type", "Input should be a valid integer")
        } else if expected.contains("bool") {
            ("bool_type", "Input should be a valid boolean")
        } else if expected.contains("sequence") {
            ("list_type", "Input should be a valid list")
        } else if expected.contains("map") || expected.starts_with("struct") {
            ("dict_type", "Input should be a valid dictionary")
        } else {
            ("value_error", "Input is not valid")
        }
    } else {
        ("value_error", "Input is not valid")
    };
    let detail = if kind == "value_error" {
        format!("Value error, {message}")
    } else {
        msg.to_owned()
    };
    ErrorItem::new(kind, loc, detail, input)
}

/// Parses a JSON body into `T`, or the 422 that says why not.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(ErrorItem::new(
            "missing",
            vec![json!("body")],
            "Field required",
            Value::Null,
        )));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let position = body
            .split(|b| *b == b'\n')
            .take(e.line().saturating_sub(1))
            .map(|l| l.len() + 1)
            .sum::<usize>()
            + e.column().saturating_sub(1);
        ApiError::invalid(ErrorItem {
            kind: "json_invalid".into(),
            loc: vec![json!("body"), json!(position)],
            msg: "JSON decode error".into(),
            input: json!({}),
        })
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid(ErrorItem::new(
            "model_attributes_type",
            vec![json!("body")],
            "Input should be a valid dictionary or object to extract fields from",
            value,
        )));
    }
    let mut loc = vec![json!("body")];
    if hydracore_api::nul_in_body(&value, &mut loc) {
        return Err(ApiError::invalid(ErrorItem::new(
            "string_pattern_mismatch",
            loc,
            "Strings may not contain the NUL character (\\u0000)",
            Value::Null,
        )));
    }
    serde_path_to_error::deserialize::<_, T>(&value).map_err(|e| {
        let item = serde_item(e.path(), &e.inner().to_string(), &value);
        ApiError::invalid(item)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move { parse_json(&body.await?).map(ValidJson) })
    }
}

/// An optional JSON body: empty means `None`; anything else must parse as `T`.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let body = body.await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            parse_json(&body).map(|v| OptionalJson(Some(v)))
        })
    }
}

/// The spec describes a body wrapper as the type it wraps.
macro_rules! schema_of_inner {
    ($($wrapper:ident),*) => {
        $(
            impl<T: Apiv2Schema> Apiv2Schema for $wrapper<T> {
                fn name() -> Option<String> {
                    T::name()
                }

                fn raw_schema() -> DefaultSchemaRaw {
                    T::raw_schema()
                }
            }
        )*
    };
}
schema_of_inner!(ValidJson, OptionalJson);

impl<T: hydracore_api::FieldRules> OperationModifier for OptionalJson<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        <ValidJson<T> as OperationModifier>::update_parameter(op);
        for p in &mut op.parameters {
            if let Either::Right(p) = p
                && p.in_ == ParameterIn::Body
            {
                p.required = false;
            }
        }
    }
}

/// The whole body, at most [`MAX_BODY_BYTES`], within the server's body timeout.
pub(crate) fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl std::future::Future<Output = Result<Bytes, ApiError>> + 'static {
    let limit = req
        .app_data::<web::Data<crate::AppState>>()
        .map_or(DEFAULT_BODY_TIMEOUT, |s| s.body_timeout);
    let bytes = Bytes::from_request(req, payload);
    let req = req.clone();
    async move {
        let body = match actix_web::rt::time::timeout(limit, bytes).await {
            Ok(read) => read.map_err(|e| body_error(&e))?,
            Err(_) => return Err(ApiError::BodyTimeout(limit.as_millis())),
        };
        // Kept (a reference, not a copy) so a 422 can quote what was sent.
        req.extensions_mut()
            .insert(crate::error::SentBody(body.clone()));
        Ok(body)
    }
}

/// The body timeout when the server sets none.
pub(crate) const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a body could not be read: 413 past [`MAX_BODY_BYTES`], 422 otherwise.
pub(crate) fn body_error(e: &actix_web::Error) -> ApiError {
    if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge(MAX_BODY_BYTES);
    }
    ApiError::invalid(ErrorItem::new(
        "json_invalid",
        vec![json!("body")],
        format!("The request body could not be read: {e}"),
        Value::Null,
    ))
}

/// A request body says which rules hold its fields ([`hydracore_api::FieldRules`]).
impl<T: hydracore_api::FieldRules> OperationModifier for ValidJson<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        op.parameters.push(Either::Right(Parameter {
            in_: ParameterIn::Body,
            name: "body".into(),
            required: true,
            schema: Some({
                let mut def = T::schema_with_ref();
                def.retain_ref();
                def
            }),
            ..Default::default()
        }));
        insert_error(
            op,
            "422",
            "The body is not valid JSON or breaks a field rule",
        );
        insert_error(op, "413", BODY_TOO_LARGE);
        insert_error(
            op,
            "408",
            "The body did not arrive within the server's client timeout",
        );
    }
}

/// How the spec describes a 413.
const BODY_TOO_LARGE: &str = "The body is larger than the server takes (256 KiB)";

/// `?limit=&cursor=` of a list route.
pub struct ListQuery(pub PageRequest);

fn query_error(field: &str, kind: &str, msg: &str, input: &str) -> ApiError {
    ApiError::invalid(ErrorItem::new(
        kind,
        vec![json!("query"), json!(field)],
        msg,
        json!(input),
    ))
}

impl ListQuery {
    /// # Errors
    /// A 422 naming `limit` or `cursor`.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut limit = MAX_PAGE_SIZE;
        let mut after = None;
        for (k, v) in url_pairs(query) {
            match k.as_str() {
                "limit" => {
                    limit = v.parse::<u32>().map_err(|_| {
                        query_error(
                            "limit",
                            "int_parsing",
                            "Input should be a valid integer, unable to parse string as an integer",
                            &v,
                        )
                    })?;
                    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
                        return Err(query_error(
                            "limit",
                            if limit == 0 {
                                "greater_than_equal"
                            } else {
                                "less_than_equal"
                            },
                            &format!("Input should be between 1 and {MAX_PAGE_SIZE}"),
                            &v,
                        ));
                    }
                }
                "cursor" => {
                    after = Some(decode_cursor(&v).ok_or_else(|| {
                        query_error("cursor", "value_error", "Value error, invalid cursor", &v)
                    })?);
                }
                _ => {}
            }
        }
        PageRequest::new(limit, after)
            .map(ListQuery)
            .map_err(|e| ApiError::invalid(ErrorItem::located("query", &e)))
    }
}

/// `application/x-www-form-urlencoded` pairs of a query string.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

impl FromRequest for ListQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(ListQuery::parse(req.query_string()))
    }
}

impl Apiv2Schema for ListQuery {}

impl OperationModifier for ListQuery {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        op.parameters.push(Either::Right(Parameter {
            in_: ParameterIn::Query,
            name: "limit".into(),
            description: Some(format!(
                "Rows per page, 1 to {MAX_PAGE_SIZE} (default {MAX_PAGE_SIZE})"
            )),
            data_type: Some(DataType::Integer),
            minimum: Some(1.0),
            maximum: Some(MAX_PAGE_SIZE as f32),
            default: Some(json!(MAX_PAGE_SIZE)),
            ..Default::default()
        }));
        op.parameters.push(Either::Right(Parameter {
            in_: ParameterIn::Query,
            name: "cursor".into(),
            description: Some(
                "Opaque cursor from the previous page's `X-Next-Cursor` (or `Link: rel=\"next\"`)"
                    .into(),
            ),
            data_type: Some(DataType::String),
            pattern: Some(format!("^[0-9a-f]{{{}}}$", hydracore_api::CURSOR_LEN)),
            ..Default::default()
        }));
        insert_error(op, "422", "An invalid `limit` or `cursor`");
    }
}

/// Path parameters: the route documents 404 and a 422 for malformed UUIDs.
pub fn document_path_errors(op: &mut DefaultOperationRaw) {
    insert_error(op, "404", "Not found, or owned by another tenant");
    insert_error(op, "422", "A path parameter is not a valid UUID");
}

/// Path parameters of type `T` (UUIDs): a malformed one is a 422 `uuid_parsing`
/// item naming it, never a 404.
pub struct ResourcePath<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ResourcePath<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            actix_web::web::Path::<T>::extract(req)
                .into_inner()
                .map(|p| ResourcePath(p.into_inner()))
                .map_err(|_| crate::error::path_error(req)),
        )
    }
}

impl<T: Apiv2Schema> Apiv2Schema for ResourcePath<T> {}

impl<T: Apiv2Schema> OperationModifier for ResourcePath<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        <actix_web::web::Path<T> as OperationModifier>::update_parameter(op);
        document_path_errors(op);
    }
}

/// The application services. Every route that takes them may find the database
/// unreachable, so the spec says it can answer 503 (documented from the parameter
/// hook: paperclip asks arguments only about parameters and security).
pub struct State(pub actix_web::web::Data<crate::AppState>);

impl std::ops::Deref for State {
    type Target = crate::AppState;

    fn deref(&self) -> &crate::AppState {
        &self.0
    }
}

impl FromRequest for State {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.app_data::<actix_web::web::Data<crate::AppState>>()
                .cloned()
                .map(State)
                .ok_or_else(|| ApiError::Internal("application state missing".into())),
        )
    }
}

impl Apiv2Schema for State {}

impl OperationModifier for State {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        insert_error(op, "503", "The database is unreachable");
    }
}

/// The name of the ops bearer scheme in the spec.
pub const OPS_SCHEME: &str = "OpsBearer";

/// A request the ops middleware let through (the ops token, nothing else). Fails
/// closed: without the mark [`crate::auth::ops_authenticate`] leaves on a request it
/// verified, extraction is 401, so a route mounted outside `/internal/v1` is shut.
pub struct OpsAuth;

/// Left on a request by the ops middleware once its token is verified.
#[derive(Clone, Copy)]
pub(crate) struct OpsVerified;

impl FromRequest for OpsAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<OpsVerified>()
                .map(|_| OpsAuth)
                .ok_or(ApiError::Unauthorized("Not authenticated".into())),
        )
    }
}

impl Apiv2Schema for OpsAuth {}

impl OperationModifier for OpsAuth {
    fn update_security(op: &mut DefaultOperationRaw) {
        op.security
            .push(BTreeMap::from([(OPS_SCHEME.to_owned(), Vec::new())]));
        insert_error(
            op,
            "401",
            "Anything but the ops bearer token (API keys and user tokens included)",
        );
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn ops_auth_fails_closed_without_the_middleware() {
        let req = TestRequest::default().to_http_request();
        let got = OpsAuth::from_request(&req, &mut Payload::None).into_inner();
        assert!(matches!(got, Err(ApiError::Unauthorized(_))));

        let req = TestRequest::default().to_http_request();
        req.extensions_mut().insert(OpsVerified);
        let got = OpsAuth::from_request(&req, &mut Payload::None).into_inner();
        assert!(got.is_ok());
    }
}
