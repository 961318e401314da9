//! `KeySecret::hash_presented` on arbitrary UTF-8: `Some` exactly for `hc_live_` followed
//! by 48 lowercase hex digits, and then the SHA-256 of the text; generated keys hash alike.
#![no_main]

use hydracore_keys::{KEY_PREFIX, KeyHash, KeySecret};
use libfuzzer_sys::fuzz_target;

const HEX_DIGITS: usize = 48;

fn sha256(s: &str) -> KeyHash {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn has_key_shape(s: &str) -> bool {
    s.len() == KEY_PREFIX.len() + HEX_DIGITS
        && s.starts_with(KEY_PREFIX)
        && s[KEY_PREFIX.len()..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn check(s: &str) {
    let hashed = KeySecret::hash_presented(s);
    assert_eq!(hashed.is_some(), has_key_shape(s), "shape of {s:?}");
    if let Some(h) = hashed {
        assert_eq!(h, sha256(s));
    }
}

fuzz_target!(
    init: {
        for _ in 0..64 {
            let key = KeySecret::generate();
            let text = key.expose();
            assert!(has_key_shape(text));
            assert_eq!(KeySecret::hash_presented(text), Some(key.hash()));
            assert!(text.starts_with(&key.display_prefix()));
            assert!(!format!("{key:?}").contains(text));
        }
    },
    |data: &[u8]| {
        if let Ok(s) = std::str::from_utf8(data) {
            check(s);
        }
        // A well-shaped key built from the input, which raw mutation rarely reaches.
        if data.len() >= HEX_DIGITS / 2 {
            let mut s = String::from(KEY_PREFIX);
            for b in &data[..HEX_DIGITS / 2] {
                s.push_str(&format!("{b:02x}"));
            }
            assert!(KeySecret::hash_presented(&s).is_some());
            check(&s);
        }
    }
);
