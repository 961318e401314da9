//! The application services, and the 503 every route that uses them may answer.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use paperclip::actix::OperationModifier;
use paperclip::v2::models::DefaultOperationRaw;
use paperclip::v2::schema::Apiv2Schema;

use super::insert_error;
use crate::error::ApiError;

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
