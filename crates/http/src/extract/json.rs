//! JSON bodies, with a field-precise 422 for each thing wrong in them.

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use paperclip::actix::OperationModifier;
use paperclip::v2::models::{
    DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::insert_error;
use crate::error::{ApiError, ErrorItem};

/// A JSON body of type `T`. Syntax errors, missing fields, wrong types and unknown
/// fields are each a 422 item located at the offending field.
pub struct ValidJson<T>(pub T);

/// The largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Turns a serde failure at `path` into a pydantic-style item.
fn serde_item(path: &serde_path_to_error::Path, message: &str, root: &Value) -> ErrorItem {
    use serde_path_to_error::Segment;
    let mut loc = vec![json!("body")];
    let mut node = Some(root);
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => {
                loc.push(json!(index));
                node = node.and_then(|n| n.get(index));
            }
            Segment::Map { key } => {
                loc.push(json!(key));
                node = node.and_then(|n| n.get(key));
            }
            Segment::Enum { variant } => loc.push(json!(variant)),
            Segment::Unknown => {}
        }
    }
    let input = node.cloned().unwrap_or(Value::Null);
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').nth(1))
            .map(str::to_owned)
    };
    if let Some(field) = quoted("missing field ") {
        loc.push(json!(field));
        return ErrorItem::new("missing", loc, "Field required", input);
    }
    if quoted("unknown field ").is_some() {
        return ErrorItem::new(
            "extra_forbidden",
            loc,
            "Extra inputs are not permitted",
            input,
        );
    }
    let expected = message.rsplit("expected ").next().unwrap_or_default();
    let (kind, msg) = if message.starts_with("invalid type") || message.starts_with("invalid value")
    {
        if expected.contains("string") || expected.contains("date-time") {
            ("string_type", "Input should be a valid string")
        } else if expected.contains("integer")
            || expected.starts_with("u32")
            || expected.starts_with("i")
        {
            ("int_type", "Input should be a valid integer")
        } else if expected.contains("bool") {
            ("bool_type", "Input should be a valid boolean")
        } else if expected.contains("sequence") {
            ("list_type", "Input should be a valid list")
        } else if expected.contains("map") || expected.starts_with("struct") {
            ("dict_type", "Input should be a valid dictionary")
        } else {
            ("value_error", "Input is not valid")
        }
    } else {
        ("value_error", "Input is not valid")
    };
    let detail = if kind == "value_error" {
        format!("Value error, {message}")
    } else {
        msg.to_owned()
    };
    ErrorItem::new(kind, loc, detail, input)
}

/// Parses a JSON body into `T`, or the 422 that says why not.
///
/// An object with no NUL escape (`\u0000`, the only way JSON can hold a NUL) is read
/// straight into `T`; if that fails, or the body is anything else, it is read as a
/// JSON value first, which is what locates and words each kind of failure. Both
/// paths accept the same bodies: a duplicate key, which the direct read refuses and the
/// value keeps the last of, goes the second way.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if object
        && !body.windows(6).any(|w| w == b"\\u0000")
        && let Ok(parsed) = serde_json::from_slice(body)
    {
        return Ok(parsed);
    }
    parse_json_value(body)
}

/// [`parse_json`] by way of a JSON value.
fn parse_json_value<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(ErrorItem::new(
            "missing",
            vec![json!("body")],
            "Field required",
            Value::Null,
        )));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let position = body
            .split(|b| *b == b'\n')
            .take(e.line().saturating_sub(1))
            .map(|l| l.len() + 1)
            .sum::<usize>()
            + e.column().saturating_sub(1);
        ApiError::invalid(ErrorItem {
            kind: "json_invalid".into(),
            loc: vec![json!("body"), json!(position)],
            msg: "JSON decode error".into(),
            input: json!({}),
        })
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid(ErrorItem::new(
            "model_attributes_type",
            vec![json!("body")],
            "Input should be a valid dictionary or object to extract fields from",
            value,
        )));
    }
    let mut loc = vec![json!("body")];
    if hydracore_api::nul_in_body(&value, &mut loc) {
        return Err(ApiError::invalid(ErrorItem::new(
            "string_pattern_mismatch",
            loc,
            "Strings may not contain the NUL character (\\u0000)",
            Value::Null,
        )));
    }
    serde_path_to_error::deserialize::<_, T>(&value).map_err(|e| {
        let item = serde_item(e.path(), &e.inner().to_string(), &value);
        ApiError::invalid(item)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move { parse_json(&body.await?).map(ValidJson) })
    }
}

/// An optional JSON body: empty means `None`; anything else must parse as `T`.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let body = body.await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            parse_json(&body).map(|v| OptionalJson(Some(v)))
        })
    }
}

/// The spec describes a body wrapper as the type it wraps.
macro_rules! schema_of_inner {
    ($($wrapper:ident),*) => {
        $(
            impl<T: Apiv2Schema> Apiv2Schema for $wrapper<T> {
                fn name() -> Option<String> {
                    T::name()
                }

                fn raw_schema() -> DefaultSchemaRaw {
                    T::raw_schema()
                }
            }
        )*
    };
}
schema_of_inner!(ValidJson, OptionalJson);

impl<T: hydracore_api::FieldRules> OperationModifier for OptionalJson<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        <ValidJson<T> as OperationModifier>::update_parameter(op);
        for p in &mut op.parameters {
            if let Either::Right(p) = p
                && p.in_ == ParameterIn::Body
            {
                p.required = false;
            }
        }
    }
}

/// The whole body, at most [`MAX_BODY_BYTES`], within the server's body timeout.
pub(crate) fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl std::future::Future<Output = Result<Bytes, ApiError>> + 'static {
    let limit = req
        .app_data::<web::Data<crate::AppState>>()
        .map_or(DEFAULT_BODY_TIMEOUT, |s| s.body_timeout);
    let bytes = Bytes::from_request(req, payload);
    let req = req.clone();
    async move {
        let body = match actix_web::rt::time::timeout(limit, bytes).await {
            Ok(read) => read.map_err(|e| body_error(&e))?,
            Err(_) => return Err(ApiError::BodyTimeout(limit.as_millis())),
        };
        // Kept (a reference, not a copy) so a 422 can quote what was sent.
        req.extensions_mut()
            .insert(crate::error::SentBody(body.clone()));
        Ok(body)
    }
}

/// The body timeout when the server sets none.
pub(crate) const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a body could not be read: 413 past [`MAX_BODY_BYTES`], 422 otherwise.
pub(crate) fn body_error(e: &actix_web::Error) -> ApiError {
    if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge(MAX_BODY_BYTES);
    }
    ApiError::invalid(ErrorItem::new(
        "json_invalid",
        vec![json!("body")],
        format!("The request body could not be read: {e}"),
        Value::Null,
    ))
}

/// A request body says which rules hold its fields ([`hydracore_api::FieldRules`]).
impl<T: hydracore_api::FieldRules> OperationModifier for ValidJson<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        op.parameters.push(Either::Right(Parameter {
            in_: ParameterIn::Body,
            name: "body".into(),
            required: true,
            schema: Some({
                let mut def = T::schema_with_ref();
                def.retain_ref();
                def
            }),
            ..Default::default()
        }));
        insert_error(
            op,
            "422",
            "The body is not valid JSON or breaks a field rule",
        );
        insert_error(op, "413", BODY_TOO_LARGE);
        insert_error(
            op,
            "408",
            "The body did not arrive within the server's client timeout",
        );
    }
}

/// How the spec describes a 413.
const BODY_TOO_LARGE: &str = "The body is larger than the server takes (256 KiB)";

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: String,
        size: Option<u32>,
    }

    fn items(body: &str) -> Vec<ErrorItem> {
        match parse_json::<Body>(body.as_bytes()) {
            Err(ApiError::Validation(items)) => items,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let body = parse_json::<Body>(br#"{"name": "a", "name": "b"}"#).unwrap();
        assert_eq!(body.name, "b");
    }

    #[test]
    fn a_nul_escape_is_refused_at_its_field_and_escaped_text_is_not_one() {
        let nul = items(r#"{"name": "a\u0000b"}"#);
        assert_eq!(nul[0].kind, "string_pattern_mismatch");
        assert_eq!(nul[0].loc, vec![json!("body"), json!("name")]);
        let text = parse_json::<Body>(br#"{"name": "a\\u0000b"}"#).unwrap();
        assert_eq!(text.name, r"a\u0000b");
    }

    #[test]
    fn only_an_object_is_a_body() {
        assert_eq!(items(r#"["a", 1]"#)[0].kind, "model_attributes_type");
        assert_eq!(
            items(" \n").first().map(|i| i.kind.as_str()),
            Some("missing")
        );
    }

    #[test]
    fn each_failure_is_located_as_before() {
        let wrong = items(r#"{"name": "a", "size": "big"}"#);
        assert_eq!(wrong[0].kind, "int_type");
        assert_eq!(wrong[0].loc, vec![json!("body"), json!("size")]);
        assert_eq!(wrong[0].input, json!("big"));
        assert_eq!(items(r#"{"size": 1}"#)[0].kind, "missing");
        assert_eq!(items(r#"{"name": "a", "x": 1}"#)[0].kind, "extra_forbidden");
        assert_eq!(items(r#"{"name": "a"} x"#)[0].kind, "json_invalid");
    }
}
