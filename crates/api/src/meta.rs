//! The scope catalogue, the probes and the smoke test.

use hydracore_scopes::CATALOGUE;
use paperclip::actix::Apiv2Schema;
use serde::Serialize;

use crate::shapes::{Shapes, nested};

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[],
    nested: &[nested::<SmokeStepDto>],
};

/// One scope of the catalogue.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ScopeDto {
    /// `<resource>:<verb>`, or `<resource>:*` for every verb.
    pub scope: String,
    pub resource: String,
    pub verb: String,
    /// What holding the scope allows, in one line.
    pub description: String,
    /// Served by other platform components: grantable here, enforced there.
    pub reserved: bool,
}

/// Liveness or readiness.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct HealthDto {
    /// `ok`, or `unavailable`.
    pub status: String,
}

/// One step of the smoke test.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SmokeStepDto {
    pub step: String,
    pub ok: bool,
    /// Milliseconds the step took.
    pub ms: f64,
}

/// The smoke test's outcome.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SmokeDto {
    pub ok: bool,
    pub total_ms: f64,
    pub steps: Vec<SmokeStepDto>,
}

/// The scope catalogue: every verb of every resource, and each resource's wildcard.
pub fn list_scopes() -> Vec<ScopeDto> {
    let mut out = Vec::new();
    for spec in CATALOGUE {
        for verb in spec.verbs.iter().map(|v| v.name).chain(["*"]) {
            out.push(ScopeDto {
                scope: format!("{}:{verb}", spec.resource),
                resource: spec.resource.to_owned(),
                verb: verb.to_owned(),
                description: spec.summary(verb),
                reserved: spec.reserved,
            });
        }
    }
    out
}

/// No operation of this resource is in the table: its routes are the scope catalogue, the calling key's context and the probes, which take any credential or none,
/// written by hand.
#[macro_export]
#[doc(hidden)]
macro_rules! meta {
    ($then:path) => {
        $then! { meta; }
    };
}
