//! Request bodies as JSON: objects relayed as they are, the NUL rule, and the fields
//! that hold secrets.

use paperclip::v2::models::DataType;
use paperclip::v2::schema::TypedData;
use serde::{Deserialize, Deserializer, Serialize};

/// Request fields that hold secrets (passwords, tokens, keys, credential secrets): an
/// error that quotes a request masks their values, at any depth.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "refresh_token",
    "access_token",
    "token",
    "secret",
    "key",
    "client_secret",
];

/// What a masked secret reads as.
pub const MASK: &str = "**********";

/// Whether `field` names a secret.
pub fn is_secret_field(field: &str) -> bool {
    SECRET_FIELDS.contains(&field)
}

/// Replaces the value of every secret field in `value`, at any depth, with [`MASK`].
pub fn mask_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_field(k) {
                    *v = serde_json::Value::from(MASK);
                } else {
                    mask_secrets(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// A JSON object, relayed as it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonObject(pub serde_json::Value);

impl TypedData for JsonObject {
    fn data_type() -> DataType {
        DataType::Object
    }
}

/// Whether a request body holds a string or key with a NUL character, which no text
/// column stores (PostgreSQL refuses it); if so, `loc` ends with the path to the first
/// one. `config` is exempt: it is kept as JSON text, where a NUL is only an escape.
pub fn nul_in_body(body: &serde_json::Value, loc: &mut Vec<serde_json::Value>) -> bool {
    match body {
        serde_json::Value::Object(fields) => fields.iter().any(|(k, v)| {
            loc.push(serde_json::Value::from(k.as_str()));
            let found = k.contains('\0') || (k != "config" && nul_at(v, loc));
            if !found {
                loc.pop();
            }
            found
        }),
        other => nul_at(other, loc),
    }
}

/// Whether `value` holds a string or key with a NUL character; if so, `loc` ends with
/// the path to the first one.
pub fn nul_at(value: &serde_json::Value, loc: &mut Vec<serde_json::Value>) -> bool {
    use serde_json::Value;
    let mut descend = |step: Value, key_has_nul: bool, child: &Value| {
        loc.push(step);
        let found = key_has_nul || nul_at(child, loc);
        if !found {
            loc.pop();
        }
        found
    };
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .any(|(i, v)| descend(Value::from(i), false, v)),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| descend(Value::from(k.as_str()), k.contains('\0'), v)),
        _ => false,
    }
}

/// A JSON object answered as the text it is stored as (never parsed on the way out).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct RawJsonObject(pub Box<serde_json::value::RawValue>);

impl TypedData for RawJsonObject {
    fn data_type() -> DataType {
        DataType::Object
    }
}

/// Deserialises a present field (even `null`) as `Some`, so `None` means "absent".
pub(crate) fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
