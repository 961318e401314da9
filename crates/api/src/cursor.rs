//! List cursors.

use std::fmt::Write as _;

use ::time::OffsetDateTime;
use uuid::Uuid;

/// Encodes a page key as 48 lowercase hex digits: 8 bytes of Unix nanoseconds (big
/// endian, two's complement), then the 16 bytes of the id. Every such string is a key:
/// the `i64` nanoseconds span 1677 to 2262, all of them representable instants (later
/// or earlier instants, which no row has, are clamped to that span).
pub fn encode_cursor(key: &hydracore_core::PageKey) -> String {
    let nanos = key.created_at.unix_timestamp_nanos();
    let nanos = i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX });
    let mut out = String::with_capacity(CURSOR_LEN);
    for b in nanos.to_be_bytes().iter().chain(key.id.as_bytes()) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The length of a cursor.
pub const CURSOR_LEN: usize = 48;

/// Decodes a cursor made by [`encode_cursor`]; `None` for anything else.
pub fn decode_cursor(s: &str) -> Option<hydracore_core::PageKey> {
    // Exactly what `encode_cursor` writes: lowercase hex digits (no sign, no case).
    if s.len() != CURSOR_LEN
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let bytes: Vec<u8> = (0..CURSOR_LEN / 2)
        .map(|i| u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok())
        .collect::<Option<_>>()?;
    let nanos = i64::from_be_bytes(bytes[..8].try_into().ok()?);
    Some(hydracore_core::PageKey {
        created_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()?,
        id: Uuid::from_slice(&bytes[8..]).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hydracore_core::PageKey;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = PageKey {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000)
                .unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor(&"zz".repeat(32)), None);
        assert_eq!(decode_cursor(&"é".repeat(32)), None);
        let encoded = encode_cursor(&key);
        assert_eq!(decode_cursor(&encoded.to_uppercase()), None);
        assert_eq!(decode_cursor(&"+0".repeat(24)), None);
        // Every cursor of the right shape is a key.
        assert!(decode_cursor(&"f".repeat(48)).is_some());
        assert!(decode_cursor(&"0".repeat(48)).is_some());
    }
}
