//! What each operation needs of its caller: the scope it checks before it runs. Each
//! resource names its scopes once, with `needs!`, beside its operations, so every
//! adapter (HTTP, MCP, the console) is refused alike and a page can ask whether to
//! offer an action at all. A scope outside the catalogue fails the build there.

use hydracore_auth::Principal;
use hydracore_scopes::Scope;

use crate::{Caller, Problem};

/// A scope an operation needs, as a type: an adapter that declares its needs in
/// signatures (the HTTP extractor `Scoped<S>`, which the spec reads) takes it.
pub trait Need {
    const SCOPE: Scope;
}

/// Declares each scope a resource's operations need: a constant (`INSTANCES_READ`)
/// and a type implementing [`Need`] (`InstancesRead`).
macro_rules! needs {
    ($($constant:ident: $ty:ident = $resource:literal : $verb:literal;)*) => {
        $(
            #[doc = concat!("The `", $resource, ":", $verb, "` scope.")]
            pub const $constant: hydracore_scopes::Scope =
                hydracore_scopes::Scope::named($resource, $verb);

            #[doc = concat!("The `", $resource, ":", $verb, "` scope, as a type.")]
            pub struct $ty;

            impl $crate::Need for $ty {
                const SCOPE: hydracore_scopes::Scope = $constant;
            }
        )*
    };
}

/// Whether `principal` holds `need`.
pub fn holds(principal: &Principal, need: &Scope) -> bool {
    principal.scopes.allows(need)
}

impl Caller<'_> {
    /// Refuses a caller without `need`, naming it.
    ///
    /// # Errors
    /// Forbidden.
    pub fn require(&self, need: &Scope) -> Result<(), Problem> {
        Ok(self.principal.authorize(need)?)
    }
}
