//! Extractors: the authenticated principal with the scope a route requires, JSON
//! bodies with field-precise 422s, path and list parameters. Each documents itself in
//! the spec (parameters, security, the error statuses it can produce).

mod auth;
mod json;
mod page;
mod path;
mod state;

pub use auth::*;
pub use json::*;
pub use page::*;
pub use path::*;
pub use state::*;

use paperclip::v2::models::{DefaultOperationRaw, Either, Response};

/// Documents `status` on `op` unless something documented it first.
pub(crate) fn insert_error(op: &mut DefaultOperationRaw, status: &str, description: &str) {
    op.responses.entry(status.to_owned()).or_insert_with(|| {
        Either::Right(Response {
            description: Some(description.to_owned()),
            ..Default::default()
        })
    });
}
