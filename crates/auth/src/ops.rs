//! The operator's bearer token for `/internal/v1/*`.

use ring::hmac;
use ring::rand::SystemRandom;

/// The configured ops token, kept only as an HMAC tag under a random per-process key,
/// so checking a presented token takes the same time wherever it first differs.
pub struct OpsToken {
    key: hmac::Key,
    tag: hmac::Tag,
}

impl std::fmt::Debug for OpsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpsToken(…)")
    }
}

impl OpsToken {
    /// # Errors
    /// A token shorter than 32 characters, or no randomness for the key.
    pub fn new(token: &str) -> Result<Self, String> {
        if token.len() < 32 {
            return Err("the ops token must be at least 32 characters".into());
        }
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| "the system CSPRNG failed".to_owned())?;
        let tag = hmac::sign(&key, token.as_bytes());
        Ok(Self { key, tag })
    }
}

/// Whether `presented` is the configured ops token, in constant time.
pub fn verify_ops_bearer_token(presented: &str, ops: &OpsToken) -> bool {
    hmac::verify(&ops.key, presented.as_bytes(), ops.tag.as_ref()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_verifies() {
        let token = "x".repeat(40);
        let ops = OpsToken::new(&token).unwrap();
        assert!(verify_ops_bearer_token(&token, &ops));
        assert!(!verify_ops_bearer_token(&"y".repeat(40), &ops));
        assert!(!verify_ops_bearer_token(&"x".repeat(39), &ops));
        assert!(!verify_ops_bearer_token("", &ops));
        assert!(OpsToken::new("short").is_err());
        assert!(!format!("{ops:?}").contains('x'));
    }
}
