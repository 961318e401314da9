//! The routes of the operation table (`hydracore_api::operations!`): each entry becomes
//! a handler — its doc the operation's summary and description, its arguments the
//! extractors that check and document its parameters, its result the documented
//! responses — and a route. Routes are grouped by path, in the table's order, and a
//! path answers 405 naming the methods it has.

use actix_web::http::Method;
use paperclip::actix::web;

use crate::routes::method_not_allowed;

/// The routes of the table, by path, each with its methods in the table's order.
#[derive(Default)]
pub struct Routes {
    paths: Vec<(&'static str, Vec<(Method, web::Route)>)>,
}

impl Routes {
    pub(crate) fn add(&mut self, path: &'static str, method: Method, route: web::Route) {
        match self.paths.iter_mut().find(|(p, _)| *p == path) {
            Some((_, methods)) => methods.push((method, route)),
            None => self.paths.push((path, vec![(method, route)])),
        }
    }

    /// Mounts each path as one resource.
    pub fn mount(self, cfg: &mut web::ServiceConfig<'_>) {
        for (path, methods) in self.paths {
            let allow: Vec<&str> = methods.iter().map(|(m, _)| m.as_str()).collect();
            let allow = allow.join(", ");
            let resource = methods
                .into_iter()
                .fold(web::resource(path), |r, (_, route)| r.route(route));
            cfg.service(resource.default_service(method_not_allowed(allow)));
        }
    }
}

/// Every route of the table.
pub fn routes() -> Routes {
    let mut routes = Routes::default();
    for mount in MOUNTS {
        mount(&mut routes);
    }
    routes
}

/// The extractor an input is read with.
macro_rules! take_type {
    (id($ty:path)) => { $crate::extract::ResourcePath<$crate::extract::IdPath<$ty>> };
    (body($t:ty)) => { $crate::extract::ValidJson<$t> };
    (optional_body($t:ty)) => { $crate::extract::OptionalJson<$t> };
    (page()) => { $crate::extract::ListQuery };
    (tail()) => { $crate::extract::TailQuery };
    (usage()) => { $crate::extract::UsageQuery };
    (audit_filter()) => { $crate::extract::AuditLogQuery };
    (call_filter()) => { $crate::extract::CallLogQuery };
}

/// The operation's argument, out of its extractor `$v`.
macro_rules! take_value {
    (id($ty:path) $v:ident) => {
        $v.0.0
    };
    (audit_filter() $v:ident) => {
        &$v.0
    };
    (call_filter() $v:ident) => {
        &$v.0
    };
    ($kind:ident($($x:tt)*) $v:ident) => {
        $v.0
    };
}

/// `Idempotency-Key` honoured (and documented), or not.
macro_rules! idempotency {
    (yes) => {
        $crate::idempotency::Idempotent
    };
    (no) => {
        $crate::idempotency::NotIdempotent
    };
}

macro_rules! answer_type {
    (paged $t:ty) => { $crate::paged::Paged<$t> };
    (json $t:ty) => { paperclip::actix::web::Json<$t> };
    (created $t:ty) => { paperclip::actix::CreatedJson<$t> };
    (text $t:ty) => { $crate::text::PlainText };
    (none $t:ty) => { paperclip::actix::NoContent };
}

macro_rules! answer_value {
    (paged $v:ident) => {
        $v.into()
    };
    (json $v:ident) => {
        paperclip::actix::web::Json($v)
    };
    (created $v:ident) => {
        paperclip::actix::CreatedJson($v)
    };
    (text $v:ident) => {
        $crate::text::PlainText($v)
    };
    (none $v:ident) => {{
        let () = $v;
        paperclip::actix::NoContent
    }};
}

/// The error responses a route documents beyond every route's.
macro_rules! fails_type {
    (plain) => {
        $crate::error::ApiError
    };
    (query) => {
        $crate::error::ApiError
    };
    (conflict) => {
        $crate::error::MayConflict
    };
    (runtime) => {
        $crate::error::AsksRuntime
    };
    (runtime_conflict) => {
        $crate::error::AsksRuntimeMayConflict
    };
    ($list:ident) => {
        $crate::error::Documented<$crate::error::$list>
    };
}

/// How an operation's problem becomes the route's error.
macro_rules! fails_map {
    (query) => {
        $crate::extract::query_problem
    };
    ($other:ident) => {
        $crate::error::ApiError::from
    };
}

/// One resource's table: a module of handlers, and its routes.
macro_rules! render {
    (@resources $($resource:ident),*) => {
        /// Each resource's `mount`, in the table's order.
        const MOUNTS: &[fn(&mut Routes)] = &[$($resource::mount),*];
    };
    ($resource:ident; $(
        $(#[doc = $doc:tt])*
        $op:ident : $method:ident $path:literal $id:literal $tag:ident,
            needs $scope:path, idempotent $idem:ident,
            takes [$($kind:ident($($arg:tt)*)),*],
            answers $answer:ident $dto:ty, fails $fails:ident,
            tool [$($tool:tt)*];
    )*) => {
        pub mod $resource {
            $(
                pub mod $op {
                    use paperclip::actix::api_v2_operation;

                    $(#[doc = $doc])*
                    #[api_v2_operation(operation_id = $id, tags($tag))]
                    pub async fn handle(
                        auth: $crate::extract::Scoped<$scope>,
                        _: idempotency!($idem),
                        state: $crate::extract::State,
                        $( $kind: take_type!($kind($($arg)*)), )*
                    ) -> Result<answer_type!($answer $dto), fails_type!($fails)> {
                        let answer = hydracore_api::$op(
                            &state.api,
                            &auth.caller()
                            $(, take_value!($kind($($arg)*) $kind))*
                        )
                        .await
                        .map_err(fails_map!($fails))?;
                        Ok(answer_value!($answer answer))
                    }
                }
            )*

            /// Adds the resource's routes.
            #[allow(unused_variables)] // a resource may have none in the table
            pub fn mount(routes: &mut super::Routes) {
                $(
                    routes.add(
                        $path,
                        actix_web::http::Method::$method,
                        paperclip::actix::web::method(actix_web::http::Method::$method)
                            .to($op::handle),
                    );
                )*
            }
        }
    };
}

hydracore_api::operations!(render);
