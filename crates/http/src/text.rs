//! Plain-text responses (an instance's log): `text/plain; charset=utf-8`, documented as
//! such, with errors still in the JSON shape.

use std::collections::BTreeSet;

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{
    DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, MediaRange, Response,
};
use paperclip::v2::schema::Apiv2Schema;

/// The media type of a plain-text answer.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A 200 whose body is text.
pub struct PlainText(pub String);

impl Responder for PlainText {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok()
            .content_type(TEXT_PLAIN)
            // A log changes by the second: never from a cache.
            .insert_header(("Cache-Control", "no-store"))
            .body(self.0)
    }
}

impl Apiv2Schema for PlainText {}

impl OperationModifier for PlainText {
    fn update_response(op: &mut DefaultOperationRaw) {
        if let Ok(text) = TEXT_PLAIN.parse() {
            op.produces = Some(BTreeSet::from([MediaRange(text)]));
        }
        op.responses.insert(
            "200".into(),
            Either::Right(Response {
                description: Some("OK: the text".into()),
                schema: Some(DefaultSchemaRaw {
                    data_type: Some(DataType::String),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        );
    }
}
