//! `decode_cursor` on arbitrary input: no panic, and every decoded key re-encodes with
//! `encode_cursor` to 64 lowercase hex digits that decode to the same key.
#![no_main]

use hydracore_core::PageKey;
use hydracore_wire::{decode_cursor, encode_cursor};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use uuid::Uuid;

fn round_trips(key: PageKey) {
    let encoded = encode_cursor(&key);
    assert_eq!(encoded.len(), 64);
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{encoded:?}"
    );
    assert_eq!(decode_cursor(&encoded), Some(key));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Some(key) = decode_cursor(s)
    {
        // Only what `encode_cursor` writes decodes: the round trip is exact.
        assert_eq!(encode_cursor(&key), s);
        round_trips(key);
    }
    // Keys built from the input, which raw mutation rarely turns into a valid cursor.
    if data.len() >= 32 {
        let id = Uuid::from_slice(&data[16..32]).expect("16 bytes");
        let wide = i128::from_be_bytes(data[..16].try_into().expect("16 bytes"));
        if let Ok(created_at) = OffsetDateTime::from_unix_timestamp_nanos(wide) {
            round_trips(PageKey { created_at, id });
        }
        let narrow = i64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
        if let Ok(created_at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(narrow)) {
            round_trips(PageKey { created_at, id });
        }
    }
});
