//! List responses: a JSON array plus `Link: <…>; rel="next"` and `X-Next-Cursor`
//! when more rows exist; cursors are opaque to clients.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use hydracore_core::{Page, PageKey};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{
    DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, Header, Response,
};
use paperclip::v2::schema::Apiv2Schema;
use serde::Serialize;

pub use hydracore_api::{decode_cursor, encode_cursor};

/// A page of `T` as a JSON array with pagination headers.
pub struct Paged<T> {
    items: Vec<T>,
    next: Option<PageKey>,
}

impl<T> From<Page<T>> for Paged<T> {
    fn from(page: Page<T>) -> Self {
        Self {
            items: page.items,
            next: page.next,
        }
    }
}

/// The URL of the next page: this request's URL with `cursor` replaced.
fn next_link(req: &HttpRequest, cursor: &str) -> String {
    let info = req.connection_info();
    let mut url = format!("{}://{}{}?", info.scheme(), info.host(), req.path());
    let kept: Vec<(String, String)> = crate::extract::url_pairs(req.query_string())
        .into_iter()
        .filter(|(k, _)| k != "cursor")
        .collect();
    for (k, v) in &kept {
        let _ = write!(url, "{}={}&", urlencode(k), urlencode(v));
    }
    let _ = write!(url, "cursor={cursor}");
    url
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl<T: Serialize> Responder for Paged<T> {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let mut res = HttpResponse::Ok();
        if let Some(next) = &self.next {
            let cursor = encode_cursor(next);
            res.insert_header((
                "Link",
                format!("<{}>; rel=\"next\"", next_link(req, &cursor)),
            ));
            res.insert_header(("X-Next-Cursor", cursor));
        }
        // Sized for a typical row up front: growing a 30 KB page by doubling copies it
        // several times over.
        let mut body = Vec::with_capacity(2 + self.items.len() * 320);
        match serde_json::to_writer(&mut body, &self.items) {
            Ok(()) => res.content_type("application/json").body(body),
            Err(e) => crate::error::ApiError::Internal(Box::new(e)).error_response(),
        }
    }
}

impl<T: Apiv2Schema> Apiv2Schema for Paged<T> {}

impl<T: Apiv2Schema> OperationModifier for Paged<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        let header = |description: &str| Header {
            description: Some(description.to_owned()),
            data_type: Some(DataType::String),
            ..Default::default()
        };
        op.responses.insert(
            "200".into(),
            Either::Right(Response {
                description: Some("OK: one page, oldest first".into()),
                schema: Some(DefaultSchemaRaw {
                    data_type: Some(DataType::Array),
                    items: Some(Box::new({
                        let mut def = T::schema_with_ref();
                        def.retain_ref();
                        def
                    })),
                    ..Default::default()
                }),
                headers: BTreeMap::from([
                    (
                        "Link".to_owned(),
                        header("`<url>; rel=\"next\"` when another page exists"),
                    ),
                    (
                        "X-Next-Cursor".to_owned(),
                        header("The cursor of the next page, when another page exists"),
                    ),
                ]),
            }),
        );
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        <actix_web::web::Json<T> as OperationModifier>::update_definitions(map);
    }
}
