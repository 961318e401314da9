//! What a resource adds to the spec's components: its request bodies, with their
//! field rules, and the shapes that appear inside other schemas. Each resource module
//! declares its own `SHAPES`; `lib.rs` gathers them. The spec's finisher writes the
//! rules into the request schemas (and refuses a request body that has none), and
//! makes each nested shape a named component that every use points at, so a generated
//! client has one type per shape (not `RateLimit2`…`RateLimit4`, one per place).

use hydracore_core::rules::Rule;
use paperclip::v2::schema::Apiv2Schema;
use serde_json::Value;

use crate::FieldRules;

/// A request body (or a shape inside one) by schema name, with its fields' rules.
pub type BodyRules = (String, Vec<(&'static str, Rule)>);

/// One resource's shapes.
pub(crate) struct Shapes {
    pub bodies: &'static [fn() -> BodyRules],
    pub nested: &'static [fn() -> (String, Value)],
}

/// A request body's entry in [`Shapes::bodies`].
pub(crate) fn body<T: FieldRules>() -> BodyRules {
    (T::name().unwrap_or_default(), T::field_rules())
}

/// A nested shape's entry in [`Shapes::nested`]: its name, and the schema paperclip
/// makes of it.
pub(crate) fn nested<T: Apiv2Schema>() -> (String, Value) {
    let schema = serde_json::to_value(T::raw_schema()).unwrap_or_default();
    (T::name().unwrap_or_default(), schema)
}
