//! Path parameters: a malformed UUID is a 422 naming it, never a 404.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use paperclip::actix::OperationModifier;
use paperclip::v2::models::DefaultOperationRaw;
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;

use hydracore_api::PathId;

use super::insert_error;
use crate::error::ApiError;

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

/// The one parameter of a path that names a resource by id (`/instances/{instance_id}`):
/// the spec names it after the path's template and describes it with the id's
/// [`PathId::DESCRIPTION`].
pub struct IdPath<I>(pub I);

impl<'de, I: PathId> serde::Deserialize<'de> for IdPath<I> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        uuid::Uuid::deserialize(d).map(|id| IdPath(I::from_uuid(id)))
    }
}

impl<I: PathId> Apiv2Schema for IdPath<I> {
    fn raw_schema() -> paperclip::v2::models::DefaultSchemaRaw {
        paperclip::v2::models::DefaultSchemaRaw {
            data_type: Some(paperclip::v2::models::DataType::String),
            format: Some(paperclip::v2::models::DataTypeFormat::Uuid),
            description: Some(I::DESCRIPTION.into()),
            ..Default::default()
        }
    }
}
