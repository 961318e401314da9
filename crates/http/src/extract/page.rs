//! `?limit=&cursor=` of list routes.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use hydracore_core::{MAX_PAGE_SIZE, PageRequest};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DataType, DefaultOperationRaw, Either, Parameter, ParameterIn};
use paperclip::v2::schema::Apiv2Schema;
use serde_json::json;

use super::insert_error;
use crate::error::{ApiError, ErrorItem};
use hydracore_api::decode_cursor;

/// `?limit=&cursor=` of a list route.
pub struct ListQuery(pub PageRequest);

fn query_error(field: &str, kind: &str, msg: &str, input: &str) -> ApiError {
    ApiError::invalid(ErrorItem::new(
        kind,
        vec![json!("query"), json!(field)],
        msg,
        json!(input),
    ))
}

impl ListQuery {
    /// # Errors
    /// A 422 naming `limit` or `cursor`.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut limit = MAX_PAGE_SIZE;
        let mut after = None;
        for (k, v) in url_pairs(query) {
            match k.as_str() {
                "limit" => {
                    limit = v.parse::<u32>().map_err(|_| {
                        query_error(
                            "limit",
                            "int_parsing",
                            "Input should be a valid integer, unable to parse string as an integer",
                            &v,
                        )
                    })?;
                    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
                        return Err(query_error(
                            "limit",
                            if limit == 0 {
                                "greater_than_equal"
                            } else {
                                "less_than_equal"
                            },
                            &format!("Input should be between 1 and {MAX_PAGE_SIZE}"),
                            &v,
                        ));
                    }
                }
                "cursor" => {
                    after = Some(decode_cursor(&v).ok_or_else(|| {
                        query_error("cursor", "value_error", "Value error, invalid cursor", &v)
                    })?);
                }
                _ => {}
            }
        }
        PageRequest::new(limit, after)
            .map(ListQuery)
            .map_err(|e| ApiError::invalid(ErrorItem::located("query", &e)))
    }
}

/// `application/x-www-form-urlencoded` pairs of a query string.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

impl FromRequest for ListQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(ListQuery::parse(req.query_string()))
    }
}

impl Apiv2Schema for ListQuery {}

impl OperationModifier for ListQuery {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        op.parameters.push(Either::Right(Parameter {
            in_: ParameterIn::Query,
            name: "limit".into(),
            description: Some(format!(
                "Rows per page, 1 to {MAX_PAGE_SIZE} (default {MAX_PAGE_SIZE})"
            )),
            data_type: Some(DataType::Integer),
            minimum: Some(1.0),
            maximum: Some(MAX_PAGE_SIZE as f32),
            default: Some(json!(MAX_PAGE_SIZE)),
            ..Default::default()
        }));
        op.parameters.push(Either::Right(Parameter {
            in_: ParameterIn::Query,
            name: "cursor".into(),
            description: Some(
                "Opaque cursor from the previous page's `X-Next-Cursor` (or `Link: rel=\"next\"`)"
                    .into(),
            ),
            data_type: Some(DataType::String),
            pattern: Some(format!("^[0-9a-f]{{{}}}$", hydracore_api::CURSOR_LEN)),
            ..Default::default()
        }));
        insert_error(op, "422", "An invalid `limit` or `cursor`");
    }
}

/// `?key_id=&tool=&status=&order=` of the MCP call log, read by the operation layer's
/// [`hydracore_api::CallLogFilter`].
pub struct CallLogQuery(pub hydracore_api::CallLogFilter);

impl CallLogQuery {
    /// # Errors
    /// A 422 naming the parameter at fault.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs = url_pairs(query);
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        hydracore_api::CallLogFilter::parse(get("key_id"), get("tool"), get("status"), get("order"))
            .map(CallLogQuery)
            .map_err(|p| {
                ApiError::Validation(
                    p.items
                        .iter()
                        .map(|e| ErrorItem::located("query", e))
                        .collect(),
                )
            })
    }
}

impl FromRequest for CallLogQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(CallLogQuery::parse(req.query_string()))
    }
}

impl Apiv2Schema for CallLogQuery {}

impl OperationModifier for CallLogQuery {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        let param = |name: &str, description: &str| Parameter {
            in_: ParameterIn::Query,
            name: name.into(),
            description: Some(description.into()),
            data_type: Some(DataType::String),
            ..Default::default()
        };
        op.parameters.push(Either::Right(Parameter {
            format: Some(paperclip::v2::models::DataTypeFormat::Uuid),
            ..param("key_id", "Only the calls of this API key")
        }));
        op.parameters.push(Either::Right(Parameter {
            max_length: Some(hydracore_api::TOOL_FILTER_MAX as u32),
            ..param("tool", "Only the calls of the tool of exactly this name")
        }));
        op.parameters.push(Either::Right(Parameter {
            enum_: vec![json!("ok"), json!("error"), json!("denied")],
            ..param("status", "Only the calls that ended so")
        }));
        op.parameters.push(Either::Right(Parameter {
            enum_: vec![json!("asc"), json!("desc")],
            default: Some(json!("asc")),
            ..param(
                "order",
                "`asc`: oldest first (the default); `desc`: newest first. A cursor continues the order that made it.",
            )
        }));
        insert_error(op, "422", "An invalid filter");
    }
}

/// `?actor_id=&action=&target_id=&since=&until=&order=` of the audit log (`action` may
/// repeat), read by the operation layer's [`hydracore_api::AuditLogFilter`].
pub struct AuditLogQuery(pub hydracore_api::AuditLogFilter);

impl AuditLogQuery {
    /// # Errors
    /// A 422 naming the parameter at fault.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs = url_pairs(query);
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let actions: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == "action")
            .map(|(_, v)| v.as_str())
            .collect();
        hydracore_api::AuditLogFilter::parse(
            get("actor_id"),
            &actions,
            get("target_id"),
            get("since"),
            get("until"),
            get("order"),
        )
        .map(AuditLogQuery)
        .map_err(|p| {
            ApiError::Validation(
                p.items
                    .iter()
                    .map(|e| ErrorItem::located("query", e))
                    .collect(),
            )
        })
    }
}

impl FromRequest for AuditLogQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(AuditLogQuery::parse(req.query_string()))
    }
}

impl Apiv2Schema for AuditLogQuery {}

impl OperationModifier for AuditLogQuery {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        let param = |name: &str, description: &str| Parameter {
            in_: ParameterIn::Query,
            name: name.into(),
            description: Some(description.into()),
            data_type: Some(DataType::String),
            ..Default::default()
        };
        let uuid = paperclip::v2::models::DataTypeFormat::Uuid;
        let instant = paperclip::v2::models::DataTypeFormat::DateTime;
        op.parameters.push(Either::Right(Parameter {
            format: Some(uuid.clone()),
            ..param("actor_id", "Only the changes of this user or API key")
        }));
        op.parameters.push(Either::Right(Parameter {
            data_type: Some(DataType::Array),
            items: Some(paperclip::v2::models::Items {
                data_type: Some(DataType::String),
                enum_: hydracore_api::audit_actions()
                    .into_iter()
                    .map(|a| json!(a))
                    .collect(),
                ..Default::default()
            }),
            collection_format: Some(paperclip::v2::models::CollectionFormat::Multi),
            ..param(
                "action",
                "Only these actions (repeat the parameter for several)",
            )
        }));
        op.parameters.push(Either::Right(Parameter {
            format: Some(uuid),
            ..param(
                "target_id",
                "Only the changes to this thing (a key, a member, an instance…)",
            )
        }));
        op.parameters.push(Either::Right(Parameter {
            format: Some(instant.clone()),
            ..param("since", "Only changes at or after this instant (RFC 3339)")
        }));
        op.parameters.push(Either::Right(Parameter {
            format: Some(instant),
            ..param("until", "Only changes before this instant (RFC 3339)")
        }));
        op.parameters.push(Either::Right(Parameter {
            enum_: vec![json!("asc"), json!("desc")],
            default: Some(json!("asc")),
            ..param(
                "order",
                "`asc`: oldest first (the default); `desc`: newest first. A cursor continues the order that made it.",
            )
        }));
        insert_error(op, "422", "An invalid filter");
    }
}
/// A problem of the operation layer whose fields are query parameters: an invalid one
/// is located in `query`, anything else renders as usual.
pub fn query_problem(p: hydracore_api::Problem) -> ApiError {
    if p.outcome == hydracore_api::Outcome::Invalid {
        ApiError::Validation(
            p.items
                .iter()
                .map(|e| ErrorItem::located("query", e))
                .collect(),
        )
    } else {
        p.into()
    }
}

/// `?since=&until=` of a usage read, read by the operation layer's
/// [`hydracore_api::UsageRange`].
pub struct UsageQuery(pub hydracore_api::UsageRange);

impl UsageQuery {
    /// # Errors
    /// A 422 naming each parameter that is not an RFC 3339 date-time.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs = url_pairs(query);
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        hydracore_api::UsageRange::parse(get("since"), get("until"))
            .map(UsageQuery)
            .map_err(query_problem)
    }
}

impl FromRequest for UsageQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(UsageQuery::parse(req.query_string()))
    }
}

impl Apiv2Schema for UsageQuery {}

impl OperationModifier for UsageQuery {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        let param = |name: &str, description: String| Parameter {
            in_: ParameterIn::Query,
            name: name.into(),
            description: Some(description),
            data_type: Some(DataType::String),
            format: Some(paperclip::v2::models::DataTypeFormat::DateTime),
            ..Default::default()
        };
        op.parameters.push(Either::Right(param(
            "since",
            format!(
                "The first hour counted (RFC 3339; default: {} hours before `until`)",
                hydracore_keys::DEFAULT_USAGE_HOURS
            ),
        )));
        op.parameters.push(Either::Right(param(
            "until",
            format!(
                "The end of the range, excluded (RFC 3339; default: the start of the next hour). At most {} days after `since`",
                hydracore_keys::MAX_USAGE_RANGE_DAYS
            ),
        )));
        insert_error(
            op,
            "422",
            "`since` or `until` not RFC 3339, `since` not before `until`, or a range over 90 days",
        );
    }
}

/// `?tail=` of a log read, read by the operation layer's [`hydracore_api::log_tail`].
pub struct TailQuery(pub hydracore_instances::LogTail);

impl TailQuery {
    /// # Errors
    /// A 422 naming `tail` when it is not a whole number from 1 to 10,000.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs = url_pairs(query);
        let raw = pairs
            .iter()
            .find(|(k, _)| k == hydracore_api::LOG_TAIL_PARAMETER)
            .map(|(_, v)| v.as_str());
        hydracore_api::log_tail(raw)
            .map(TailQuery)
            .map_err(query_problem)
    }
}

impl FromRequest for TailQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(TailQuery::parse(req.query_string()))
    }
}

impl Apiv2Schema for TailQuery {}

impl OperationModifier for TailQuery {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        use hydracore_instances::LogTail;
        op.parameters.push(Either::Right(Parameter {
            in_: ParameterIn::Query,
            name: hydracore_api::LOG_TAIL_PARAMETER.into(),
            description: Some(format!(
                "How many of the last lines to read, 1 to {} (default {})",
                LogTail::MAX,
                LogTail::DEFAULT.lines()
            )),
            data_type: Some(DataType::Integer),
            minimum: Some(1.0),
            maximum: Some(LogTail::MAX as f32),
            default: Some(json!(LogTail::DEFAULT.lines())),
            ..Default::default()
        }));
        let said = "`tail` is not a whole number from 1 to 10,000";
        match op.responses.get_mut("422") {
            // A path parameter documented its own 422 first: one response says both.
            Some(Either::Right(r)) => {
                let before = r.description.take().unwrap_or_default();
                r.description = Some(format!("{before}, or {said}"));
            }
            _ => insert_error(op, "422", said),
        }
    }
}
