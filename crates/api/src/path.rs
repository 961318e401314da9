//! Ids that name a resource in a path (`/instances/{instance_id}`): each resource says
//! once how its id reads from the path's UUID and how the spec describes it; the
//! parameter's name is the path's.

use uuid::Uuid;

/// An id a path names.
pub trait PathId: Sized {
    /// The parameter's description in the spec (and so in each tool's schema).
    const DESCRIPTION: &'static str;

    fn from_uuid(id: Uuid) -> Self;
}

/// Declares an id a path names: `path_id!(InstanceId = "The instance's id (a UUID).");`
macro_rules! path_id {
    ($($id:ty = $description:literal;)*) => {
        $(
            impl $crate::PathId for $id {
                const DESCRIPTION: &'static str = $description;

                fn from_uuid(id: uuid::Uuid) -> Self {
                    Self(id)
                }
            }
        )*
    };
}

/// The name of the one parameter of `path` (`instance_id` of
/// `/instances/{instance_id}/start`); empty when it has none.
pub fn path_parameter(path: &str) -> &str {
    path.split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map_or("", |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameter_is_the_name_in_braces() {
        assert_eq!(
            path_parameter("/instances/{instance_id}/start"),
            "instance_id"
        );
        assert_eq!(path_parameter("/audit-log/{event_id}"), "event_id");
        assert_eq!(path_parameter("/instances"), "");
    }
}
