//! `AccessTokens::verify` with a fixed key: arbitrary input never verifies unless its
//! signature is the exact HMAC of its first two parts, and any edit of a real token's
//! bytes makes it fail.
#![no_main]

use std::sync::LazyLock;

use hydracore_auth::{AccessTokens, TokenError};
use hydracore_tenants::UserId;
use libfuzzer_sys::fuzz_target;
use ring::hmac;
use time::OffsetDateTime;
use uuid::Uuid;

const SECRET: [u8; 32] = [7; 32];

static NOW: LazyLock<OffsetDateTime> = LazyLock::new(|| {
    OffsetDateTime::from_unix_timestamp(1_764_000_000).expect("a valid timestamp")
});
static USER: LazyLock<UserId> =
    LazyLock::new(|| UserId(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)));
static TOKENS: LazyLock<AccessTokens> = LazyLock::new(|| {
    AccessTokens::new(SECRET.to_vec(), time::Duration::minutes(15)).expect("a 32-byte key")
});
/// A real token; its `jti` is random, so it differs from run to run.
static TOKEN: LazyLock<String> =
    LazyLock::new(|| TOKENS.issue(*USER, *NOW).expect("HS256 signing works"));

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Whether `token` is three parts whose last is exactly the canonical unpadded base64url
/// of the HMAC-SHA256 of the first two: an oracle independent of biscuit.
fn correctly_signed(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, &SECRET);
    let tag = hmac::sign(&key, format!("{header}.{payload}").as_bytes());
    signature == base64url(tag.as_ref())
}

fn verify(token: &str) -> Result<hydracore_auth::AccessClaims, TokenError> {
    let result = TOKENS.verify(token, *NOW);
    if let Ok(claims) = &result {
        assert!(
            correctly_signed(token),
            "verified without a valid signature: {token:?}"
        );
        assert!(claims.expires_at > *NOW);
    }
    result
}

/// Applies edits read four bytes at a time: `[op, pos_lo, pos_hi, value]`.
fn mutate(mut bytes: Vec<u8>, edits: &[u8]) -> Vec<u8> {
    for e in edits.chunks_exact(4) {
        let pos = usize::from(u16::from_le_bytes([e[1], e[2]]));
        let value = e[3];
        match e[0] % 4 {
            0 if !bytes.is_empty() => {
                let i = pos % bytes.len();
                bytes[i] ^= value;
            }
            1 if !bytes.is_empty() => {
                let i = pos % bytes.len();
                bytes[i] = value;
            }
            2 => {
                let i = pos % (bytes.len() + 1);
                bytes.insert(i, value);
            }
            3 if !bytes.is_empty() => {
                let i = pos % bytes.len();
                bytes.remove(i);
            }
            _ => {}
        }
    }
    bytes
}

fuzz_target!(
    init: {
        let claims = verify(&TOKEN).expect("a freshly issued token verifies");
        assert_eq!(claims.user, *USER);
        assert!(correctly_signed(&TOKEN));
    },
    |data: &[u8]| {
        if let Ok(s) = std::str::from_utf8(data) {
            let _ = verify(s);
        }
        let original = TOKEN.as_bytes();
        let edited = mutate(original.to_vec(), data);
        let Ok(edited) = String::from_utf8(edited) else {
            return;
        };
        let result = verify(&edited);
        if edited.as_bytes() == original {
            assert_eq!(result.map(|c| c.user), Ok(*USER));
        } else {
            assert!(result.is_err(), "an edited token verified: {edited:?} from {:?}", *TOKEN);
        }
    }
);
