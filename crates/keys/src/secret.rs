//! Key plaintexts and their hashes.

use std::fmt;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

/// Every key starts with this, so leaked keys are easy to recognise and scan for.
pub const KEY_PREFIX: &str = "hc_live_";

/// Random bytes behind each key: 192 bits.
const RANDOM_BYTES: usize = 24;

/// How much of the random part is shown as the key's prefix.
const SHOWN: usize = 6;

/// The SHA-256 of a key's plaintext: all the store ever holds.
pub type KeyHash = [u8; 32];

/// A key's plaintext. Its `Debug` hides the secret.
pub struct KeySecret(String);

impl KeySecret {
    /// A fresh key from the operating system's CSPRNG.
    ///
    /// # Panics
    /// When the operating system has no randomness to give: nothing could be safe then.
    pub fn generate() -> Self {
        let mut bytes = [0u8; RANDOM_BYTES];
        #[allow(
            clippy::expect_used,
            reason = "no safe key can be made without randomness"
        )]
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system CSPRNG failed");
        let mut s = String::with_capacity(KEY_PREFIX.len() + RANDOM_BYTES * 2);
        s.push_str(KEY_PREFIX);
        for b in bytes {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        Self(s)
    }

    /// The plaintext, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The recognisable start of the key (`hc_live_3f9a1c`).
    pub fn display_prefix(&self) -> String {
        self.0[..KEY_PREFIX.len() + SHOWN].to_owned()
    }

    pub fn hash(&self) -> KeyHash {
        hash(&self.0)
    }

    /// The hash of a presented key, or `None` when it cannot be a key of ours (wrong
    /// prefix or length, anything but lowercase hex): such input never reaches the store.
    pub fn hash_presented(presented: &str) -> Option<KeyHash> {
        let rest = presented.strip_prefix(KEY_PREFIX)?;
        if rest.len() != RANDOM_BYTES * 2
            || !rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        Some(hash(presented))
    }
}

fn hash(s: &str) -> KeyHash {
    let d = digest(&SHA256, s.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySecret({}…)", self.display_prefix())
    }
}
