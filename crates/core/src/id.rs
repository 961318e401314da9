//! [`id_type!`](crate::id_type): the one way an entity's id is declared.

/// Declares an id newtype over [`uuid::Uuid`]: `Copy`, ordered and hashable, made
/// fresh with `new()` (a random v4 UUID, also its `Default`), shown as the UUID, and
/// built from one with `From<Uuid>` (for ids read back from storage or a request).
///
/// ```
/// hydracore_core::id_type! {
///     /// A widget's id.
///     pub struct WidgetId;
/// }
///
/// let id = WidgetId::new();
/// assert_eq!(WidgetId::from(id.0), id);
/// assert_eq!(id.to_string(), id.0.to_string());
/// ```
#[macro_export]
macro_rules! id_type {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis struct $name(pub $crate::__private::Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn new() -> Self {
                Self($crate::__private::Uuid::new_v4())
            }
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::core::convert::From<$crate::__private::Uuid> for $name {
            fn from(id: $crate::__private::Uuid) -> Self {
                Self(id)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    crate::id_type! {
        /// An id for the tests.
        struct TestId;
    }

    #[test]
    fn ids_are_fresh_shown_as_their_uuid_and_built_from_one() {
        let (a, b) = (TestId::new(), TestId::default());
        assert_ne!(a, b);
        assert_eq!(a.0.get_version_num(), 4);
        let raw = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let id = TestId::from(raw);
        assert_eq!(id, TestId(raw));
        assert_eq!(id.to_string(), "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(format!("{id}"), raw.to_string());
    }
}
