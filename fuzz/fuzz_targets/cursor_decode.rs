//! `decode_cursor` on arbitrary input: no panic, and every decoded key re-encodes with
//! `encode_cursor` to 48 lowercase hex digits that decode to the same key; every string
//! of that shape decodes.
#![no_main]

use hydracore_core::PageKey;
use hydracore_api::{CURSOR_LEN, decode_cursor, encode_cursor};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use uuid::Uuid;

fn round_trips(key: PageKey) {
    let encoded = encode_cursor(&key);
    assert_eq!(encoded.len(), CURSOR_LEN);
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{encoded:?}"
    );
    assert_eq!(decode_cursor(&encoded), Some(key));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let shaped = s.len() == CURSOR_LEN
            && s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        // Exactly the strings of the cursor's shape decode, and exactly.
        assert_eq!(decode_cursor(s).is_some(), shaped, "{s:?}");
        if let Some(key) = decode_cursor(s) {
            assert_eq!(encode_cursor(&key), s);
            round_trips(key);
        }
    }
    // Keys built from the input, which raw mutation rarely turns into a valid cursor.
    if data.len() >= 32 {
        let id = Uuid::from_slice(&data[16..32]).expect("16 bytes");
        let narrow = i64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
        if let Ok(created_at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(narrow)) {
            round_trips(PageKey { created_at, id });
        }
    }
});
