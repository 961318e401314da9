//! Which rule holds each request field. The rules themselves are declared on the
//! domain types that enforce them (`InstanceName::RULE`); a request DTO only says
//! which of its fields each one holds, beside its definition, and its resource lists
//! it in its `SHAPES`.

use hydracore_core::rules::Rule;
use paperclip::v2::schema::Apiv2Schema;

/// The rules of a request body's fields.
pub trait FieldRules: Apiv2Schema {
    /// `(field, rule)` for each field that has one; a field of a nested object reads
    /// `outer.inner`.
    fn field_rules() -> Vec<(&'static str, Rule)>;
}
