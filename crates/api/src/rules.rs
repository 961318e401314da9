//! Which rule holds each request field. The rules themselves are declared on the
//! domain types that enforce them (`InstanceName::RULE`); a request DTO only says
//! which of its fields each one holds, beside its definition.

use hydracore_core::rules::Rule;
use paperclip::v2::schema::Apiv2Schema;

use crate::{
    AddMemberRequest, CreateApiKeyRequest, CreateInstanceRequest, CreateMcpCredentialRequest,
    CreateRuntimeImageRequest, CreateTenantRequest, LoginRequest, PromoteRequest, RateLimitDto,
    RefreshRequest, RotateApiKeyRequest, SignupRequest, SwitchTenantRequest, UpdateApiKeyRequest,
    UpdateInstanceRequest, UpdateMemberRequest,
};

/// The rules of a request body's fields.
pub trait FieldRules: Apiv2Schema {
    /// `(field, rule)` for each field that has one; a field of a nested object reads
    /// `outer.inner`.
    fn field_rules() -> Vec<(&'static str, Rule)>;
}

/// Every request body (and shape inside one), by schema name, with its field rules. The spec's finisher
/// writes them into the request schemas, and refuses a request body missing here.
pub fn request_rules() -> Vec<(String, Vec<(&'static str, Rule)>)> {
    fn of<T: FieldRules>() -> (String, Vec<(&'static str, Rule)>) {
        (T::name().unwrap_or_default(), T::field_rules())
    }
    vec![
        of::<CreateInstanceRequest>(),
        of::<UpdateInstanceRequest>(),
        of::<CreateApiKeyRequest>(),
        of::<RateLimitDto>(),
        of::<UpdateApiKeyRequest>(),
        of::<RotateApiKeyRequest>(),
        of::<CreateTenantRequest>(),
        of::<AddMemberRequest>(),
        of::<UpdateMemberRequest>(),
        of::<SignupRequest>(),
        of::<LoginRequest>(),
        of::<RefreshRequest>(),
        of::<SwitchTenantRequest>(),
        of::<CreateMcpCredentialRequest>(),
        of::<CreateRuntimeImageRequest>(),
        of::<PromoteRequest>(),
    ]
}
