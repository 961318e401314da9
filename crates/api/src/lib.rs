//! The operation layer: what clients send and receive (DTOs, with their conversions
//! from and to domain types), shared by every driving adapter (HTTP, MCP, the console)
//! so a tool and its route answer alike. Domain types never serialise; these do.

#[macro_use]
mod access;
mod client;
mod cursor;
mod json;
#[macro_use]
mod path;
mod problem;
mod rules;
mod services;
mod shapes;
mod time;

pub use access::*;
pub use client::{ProxyError, TrustedProxies};
pub use cursor::*;
pub use json::*;
pub use path::{PathId, path_parameter};
pub use problem::{Outcome, Problem};
pub use rules::FieldRules;
pub use services::Caller;

use hydracore_audit::AuditService;
use hydracore_auth::IdentityService;
use hydracore_auth::oauth::OAuthService;
use hydracore_instances::{ImageService, InstanceService};
use hydracore_keys::KeyService;
use hydracore_mcp_creds::CredentialService;
use hydracore_mcp_log::CallLogService;
use hydracore_tenants::{MemberService, TenantService};
pub use shapes::BodyRules;
pub use time::*;

/// The resources, each with the application services its operations run on. Each
/// module holds a resource's DTOs and their conversions, its operations, the scopes
/// they need (`needs!`), the outcomes of its errors (`From<…> for Problem`), its
/// `SHAPES` and its operation table (a macro named as the module); this list is the one
/// place a new one is named, and a module without `SHAPES` or a table does not
/// compile. (`$d` is `$`, for the macro this one writes.)
macro_rules! resources {
    ($d:tt $($resource:ident { $($service:ident: $kind:ty),* $(,)? }),* $(,)?) => {
        $(
            mod $resource;
            pub use $resource::*;
        )*

        /// The application services every operation runs on, built once by the
        /// composition root and shared by every adapter.
        #[derive(Clone)]
        pub struct Services {
            $($(pub $service: $kind,)*)*
        }

        /// Every request body (and shape inside one), by schema name, with its field
        /// rules.
        pub fn request_rules() -> Vec<BodyRules> {
            [$($resource::SHAPES.bodies),*].concat().iter().map(|of| of()).collect()
        }

        /// Every DTO used inside another, by name, with the schema paperclip makes of
        /// it.
        pub fn nested_shapes() -> Vec<(String, serde_json::Value)> {
            [$($resource::SHAPES.nested),*].concat().iter().map(|of| of()).collect()
        }

        /// Every operation of every resource's table, for a driving adapter to render:
        /// `hydracore_api::operations!(render)` calls `render!` once per resource with its
        /// table, so a route and a tool come from one declaration and cannot drift.
        ///
        /// An entry of a table reads:
        ///
        /// ```text
        /// /// Summary (the first line of the doc; the rest is the description)
        /// operation: METHOD "/path under /v1" "operationId" Tag,
        ///     needs ScopeType, idempotent yes|no, takes [input, …],
        ///     answers paged|json|created|text|none Type,
        ///     fails plain|conflict|runtime|runtime_conflict|query,
        ///     tool [name "Title" "Description"] | tool [];
        /// ```
        ///
        /// `operation` is the function of this crate that runs it; `takes` lists its
        /// arguments after the caller, in order: `id(IdType)` (the path's parameter, a
        /// [`PathId`]), `body(Request)`, `optional_body(Request)`, `page()`, `tail()`,
        /// `usage()`, `audit_filter()`, `call_filter()`. `fails` names the statuses the
        /// route documents beyond every route's (409, 503 with `Retry-After`; another
        /// name is one of the HTTP adapter's lists of documented errors), `query` that an
        /// invalid outcome is about query parameters. `idempotent yes` honours
        /// `Idempotency-Key`.
        ///
        /// After the tables, `render!` is called once more with the resources' names:
        /// `render! { @resources instances, … }`.
        #[macro_export]
        macro_rules! operations {
            ($d then:path) => {
                $d crate::each_table!($d then; $($resource),*);
            };
        }
    };
}

resources! { $
    instances { instances: InstanceService },
    keys { keys: KeyService },
    members { tenants: TenantService, members: MemberService },
    identity { identity: IdentityService },
    mcp { credentials: CredentialService, calls: CallLogService },
    images { images: ImageService },
    meta {},
    audit { audit: AuditService },
    oauth { oauth: OAuthService },
}

/// Calls `$then!` with each resource's table (the macro named as its module), then with
/// their names.
#[macro_export]
#[doc(hidden)]
macro_rules! each_table {
    ($then:path; $($resource:ident),*) => {
        $( $crate::$resource!($then); )*
        $then! { @resources $($resource),* }
    };
}
