//! The tools: one typed table, rendered from the operation table of `hydracore-api`
//! (`operations!`) where an entry offers a tool. Each names the tool, the scope it
//! needs, the HTTP operation it mirrors (whose schemas it takes), its hints, and the
//! function that runs it: the same operation as the route, its arguments read into the
//! route's request type, its result answered in the route's shape. No tool words an
//! error of its own: a failure is the operation's `Problem`.

use futures_util::future::BoxFuture;
use hydracore_api::{self as api, Caller, Problem, Services};
use hydracore_core::{Page, PageRequest, ValidationError};
use hydracore_instances::LogTail;
use hydracore_scopes::Scope;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use uuid::Uuid;

/// What runs a tool: the services, the caller, the arguments.
pub type Run = for<'a> fn(
    &'a Services,
    Caller<'a>,
    Map<String, Value>,
) -> BoxFuture<'a, Result<Value, Problem>>;

/// One tool.
#[derive(Clone, Copy)]
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The scope the caller must hold (the operation's own); `None`: any live key.
    pub scope: Option<Scope>,
    /// The HTTP operation this tool mirrors: `(method, path)`.
    pub route: (&'static str, &'static str),
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub run: Run,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.name)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl ToolSpec {
    pub fn scope(&self) -> Option<Scope> {
        self.scope
    }

    /// The scope as the call log records it (`""` for tools needing none).
    pub fn scope_label(&self) -> String {
        self.scope().map(|s| s.to_string()).unwrap_or_default()
    }
}

/// The arguments broke a rule of their own shape (a missing or unknown field, a
/// wrong type, a NUL): an `Invalid` problem naming the field, never quoting a secret.
fn bad_argument(path: &str, message: String) -> Problem {
    let field = if path.is_empty() || path == "." {
        "arguments"
    } else {
        path
    };
    Problem::invalid(ValidationError::new(field, "value_error", message, ""))
}

/// The arguments, read into the route's request type `T`.
fn body<T: DeserializeOwned>(raw: Map<String, Value>) -> Result<T, Problem> {
    let raw = Value::Object(raw);
    let mut at = Vec::new();
    if api::nul_in_body(&raw, &mut at) {
        let path: Vec<String> = at.iter().map(|s| s.to_string()).collect();
        return Err(bad_argument(
            &path.join("."),
            "strings may not contain the NUL character".into(),
        ));
    }
    serde_path_to_error::deserialize::<_, T>(&raw).map_err(|e| {
        let path = e.path().to_string();
        // serde quotes offending values ("invalid type: integer `5`"): never a secret's.
        if path.split('.').any(api::is_secret_field) {
            bad_argument(&path, "is not valid".into())
        } else {
            bad_argument(&path, e.inner().to_string())
        }
    })
}

/// Takes the id argument `name` (a path parameter of the route) out of the arguments.
fn take_id(raw: &mut Map<String, Value>, name: &'static str) -> Result<Uuid, Problem> {
    match raw.remove(name) {
        Some(Value::String(s)) => Uuid::parse_str(&s)
            .map_err(|e| bad_argument(name, format!("Input should be a valid UUID, {e}"))),
        Some(_) => Err(bad_argument(name, "Input should be a valid UUID".into())),
        None => Err(bad_argument(name, "Field required".into())),
    }
}

/// The route's page parameters, `limit` and `cursor`.
fn page(mut raw: Map<String, Value>) -> Result<PageRequest, Problem> {
    let limit = match raw.remove("limit") {
        None | Some(Value::Null) => hydracore_core::MAX_PAGE_SIZE,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad_argument("limit", "Input should be a valid integer".into()))?,
    };
    let after = match raw.remove("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(
            api::decode_cursor(&c)
                .ok_or_else(|| bad_argument("cursor", "not a cursor of this server".into()))?,
        ),
        Some(_) => {
            return Err(bad_argument(
                "cursor",
                "Input should be a valid string".into(),
            ));
        }
    };
    nothing(raw)?;
    Ok(PageRequest::new(limit, after)?)
}

/// The call log's filters, taken out of the arguments.
fn call_log_filter(raw: &mut Map<String, Value>) -> Result<api::CallLogFilter, Problem> {
    let mut given = Vec::new();
    for name in api::CallLogFilter::PARAMETERS {
        given.push(match raw.remove(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(bad_argument(name, "Input should be a valid string".into())),
        });
    }
    let arg = |i: usize| given[i].as_deref();
    api::CallLogFilter::parse(arg(0), arg(1), arg(2), arg(3))
}

/// A usage read's range, `since` and `until`, taken out of the arguments.
fn usage_range(raw: &mut Map<String, Value>) -> Result<api::UsageRange, Problem> {
    let mut given = Vec::new();
    for name in api::UsageRange::PARAMETERS {
        given.push(match raw.remove(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(bad_argument(name, "Input should be a valid string".into())),
        });
    }
    api::UsageRange::parse(given[0].as_deref(), given[1].as_deref())
}

/// A log read's `tail`, taken out of the arguments (absent: the default).
fn log_tail(raw: &mut Map<String, Value>) -> Result<LogTail, Problem> {
    let name = api::LOG_TAIL_PARAMETER;
    match raw.remove(name) {
        None | Some(Value::Null) => Ok(LogTail::DEFAULT),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(lines) => LogTail::new(lines, &n.to_string()).map_err(Problem::invalid),
            None => Err(bad_argument(name, "Input should be a valid integer".into())),
        },
        Some(_) => Err(bad_argument(name, "Input should be a valid integer".into())),
    }
}

/// A text result (a route that answers `text/plain`), as a tool answers it.
fn text_out(text: String) -> Result<Value, Problem> {
    Ok(json!({ "text": text }))
}

/// No arguments (beyond those already taken).
fn nothing(raw: Map<String, Value>) -> Result<(), Problem> {
    match raw.keys().next() {
        Some(extra) => Err(bad_argument(extra, "Extra inputs are not permitted".into())),
        None => Ok(()),
    }
}

/// A result in the route's shape.
fn out<T: Serialize>(value: T) -> Result<Value, Problem> {
    serde_json::to_value(value).map_err(Problem::internal)
}

/// A page as a tool answers it: the route's items, and where the next page starts.
fn page_out<T: Serialize>(page: Page<T>) -> Result<Value, Problem> {
    let next = page.next.as_ref().map(api::encode_cursor);
    Ok(json!({"items": out(page.items)?, "next_cursor": next}))
}

/// A deletion's result.
fn deleted() -> Result<Value, Problem> {
    Ok(json!({"deleted": true}))
}

/// The function of one tool: `|svc, caller, args| body`, where `args` is the mutable
/// map of arguments and the body evaluates to `Result<Value, Problem>`.
macro_rules! run {
    (|$svc:ident, $caller:ident, $args:ident| $body:expr) => {{
        #[allow(unused_mut, unused_variables)]
        fn run<'a>(
            $svc: &'a Services,
            $caller: Caller<'a>,
            mut $args: Map<String, Value>,
        ) -> BoxFuture<'a, Result<Value, Problem>> {
            Box::pin(async move { $body })
        }
        run
    }};
}

/// The tools of operations the table (`hydracore_api::operations!`) does not hold.
const OTHER_TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "api_key_context",
        title: "Who am I",
        description: "The calling API key: its id, name, tenant, scopes and rate limit.",
        scope: None,
        route: ("GET", "/v1/mcp/api-key-context"),
        read_only: true,
        destructive: false,
        idempotent: true,
        run: run!(|svc, caller, args| {
            nothing(args)?;
            out(api::api_key_context(&caller)?)
        }),
    },
    ToolSpec {
        name: "scopes_list",
        title: "List scopes",
        description: "The catalogue of scopes an API key can hold.",
        scope: None,
        route: ("GET", "/v1/scopes"),
        read_only: true,
        destructive: false,
        idempotent: true,
        run: run!(|svc, caller, args| {
            nothing(args)?;
            Ok(json!({"items": out(api::list_scopes())?, "next_cursor": null}))
        }),
    },
];

/// An argument of an operation, taken out of the tool's arguments, in the table's
/// order: a path parameter by its name, the route's body from what is left.
macro_rules! take {
    (id($ty:path) $args:ident $path:literal) => {
        <$ty as api::PathId>::from_uuid(take_id(&mut $args, api::path_parameter($path))?)
    };
    (body($t:ty) $args:ident $path:literal) => {
        body::<$t>(std::mem::take(&mut $args))?
    };
    (optional_body($t:ty) $args:ident $path:literal) => {{
        let raw = std::mem::take(&mut $args);
        if raw.is_empty() {
            None
        } else {
            Some(body::<$t>(raw)?)
        }
    }};
    (page() $args:ident $path:literal) => {
        page(std::mem::take(&mut $args))?
    };
    (tail() $args:ident $path:literal) => {
        log_tail(&mut $args)?
    };
    (usage() $args:ident $path:literal) => {
        usage_range(&mut $args)?
    };
    (audit_filter() $args:ident $path:literal) => {
        &audit_log_filter(&mut $args)?
    };
    (call_filter() $args:ident $path:literal) => {
        &call_log_filter(&mut $args)?
    };
}

/// An operation's result as its tool answers it.
macro_rules! give {
    (paged $v:expr) => {
        page_out($v)
    };
    (json $v:expr) => {
        out($v)
    };
    (created $v:expr) => {
        out($v)
    };
    (text $v:expr) => {
        text_out($v)
    };
    (none $v:expr) => {{
        let () = $v;
        deleted()
    }};
}

/// A tool's hints, from its route's method: `(read_only, destructive, idempotent)`.
macro_rules! hints {
    (GET) => {
        (true, false, true)
    };
    (POST) => {
        (false, false, false)
    };
    (PUT) => {
        (false, false, true)
    };
    (PATCH) => {
        (false, false, true)
    };
    (DELETE) => {
        (false, true, true)
    };
}

/// The tool of one entry of the table, if it offers one.
macro_rules! tool {
    ([] $($entry:tt)*) => {
        None
    };
    ([$name:ident $title:literal $description:literal]
        $op:ident $method:ident $path:literal $scope:path; $answer:ident
        [$($kind:ident($($arg:tt)*)),*]) => {
        Some(ToolSpec {
            name: stringify!($name),
            title: $title,
            description: $description,
            scope: Some(<$scope as api::Need>::SCOPE),
            route: (stringify!($method), concat!("/v1", $path)),
            read_only: hints!($method).0,
            destructive: hints!($method).1,
            idempotent: hints!($method).2,
            run: run!(|svc, caller, args| {
                $( let $kind = take!($kind($($arg)*) args $path); )*
                nothing(args)?;
                give!($answer api::$op(svc, &caller $(, $kind)*).await?)
            }),
        })
    };
}

/// One resource's table: its tools.
macro_rules! render {
    (@resources $($resource:ident),*) => {
        /// Every tool: the operation table's, in its order, then the others.
        pub static TOOLS: LazyLock<Vec<ToolSpec>> = LazyLock::new(|| {
            [$($resource::TOOLS,)* &[]]
                .concat()
                .into_iter()
                .flatten()
                .chain(OTHER_TOOLS.iter().copied())
                .collect()
        });
    };
    ($resource:ident; $(
        $(#[doc = $doc:tt])*
        $op:ident : $method:ident $path:literal $id:literal $tag:ident,
            needs $scope:path, idempotent $idem:ident,
            takes [$($kind:ident($($arg:tt)*)),*],
            answers $answer:ident $dto:ty, fails $fails:ident,
            tool [$($tool:tt)*];
    )*) => {
        mod $resource {
            #[allow(unused_imports)] // a resource may have no operation in the table
            use super::*;

            /// The tool of each operation that offers one.
            pub const TOOLS: &[Option<ToolSpec>] = &[
                $( tool!([$($tool)*] $op $method $path $scope; $answer [$($kind($($arg)*)),*]), )*
            ];
        }
    };
}

hydracore_api::operations!(render);

/// The audit log's filters, taken out of the arguments (`action` is a list).
fn audit_log_filter(raw: &mut Map<String, Value>) -> Result<api::AuditLogFilter, Problem> {
    let mut text = |name: &'static str| match raw.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad_argument(name, "Input should be a valid string".into())),
    };
    let (actor, target) = (text("actor_id")?, text("target_id")?);
    let (since, until, order) = (text("since")?, text("until")?, text("order")?);
    let actions: Vec<String> = match raw.remove("action") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(bad_argument(
                    "action",
                    "Input should be a list of strings".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad_argument(
                "action",
                "Input should be a valid list".into(),
            ));
        }
    };
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    api::AuditLogFilter::parse(
        actor.as_deref(),
        &actions,
        target.as_deref(),
        since.as_deref(),
        until.as_deref(),
        order.as_deref(),
    )
}

/// A problem as a tool's error result says it: the operation's detail, the fields at
/// fault for invalid arguments, and nothing of a cause.
pub fn say(p: &Problem) -> String {
    match p.outcome {
        api::Outcome::Invalid => {
            let fields: Vec<String> = p
                .items
                .iter()
                .map(|i| format!("{}: {}", i.field.join("."), i.message))
                .collect();
            format!("invalid arguments: {}", fields.join("; "))
        }
        // The detail of an unavailable dependency names it and nothing of its cause.
        api::Outcome::Unavailable => p.detail.to_string(),
        api::Outcome::Internal | api::Outcome::Busy => {
            "the service could not complete the call; try again".to_owned()
        }
        _ => p.detail.to_string(),
    }
}
