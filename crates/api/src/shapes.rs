//! The shapes that appear inside other schemas. The spec's finisher makes each a
//! named component and points every use at it, so a generated client has one type per
//! shape (not `RateLimit2`…`RateLimit4`, one per place it appears).

use paperclip::v2::schema::Apiv2Schema;
use serde_json::Value;

use crate::{
    AuditActorDto, AuditTargetDto, ChannelDto, InstanceStatus, McpAuthKindDto, McpCallStatusDto,
    MembershipDto, RateLimitDto, RoleDto, SmokeStepDto, TenantDto, UserDto,
};

/// Every DTO used inside another, by name, with the schema paperclip makes of it.
pub fn nested_shapes() -> Vec<(String, Value)> {
    fn of<T: Apiv2Schema>() -> (String, Value) {
        let schema = serde_json::to_value(T::raw_schema()).unwrap_or_default();
        (T::name().unwrap_or_default(), schema)
    }
    vec![
        of::<RateLimitDto>(),
        of::<InstanceStatus>(),
        of::<McpCallStatusDto>(),
        of::<McpAuthKindDto>(),
        of::<RoleDto>(),
        of::<ChannelDto>(),
        of::<UserDto>(),
        of::<TenantDto>(),
        of::<MembershipDto>(),
        of::<SmokeStepDto>(),
        of::<AuditActorDto>(),
        of::<AuditTargetDto>(),
    ]
}
