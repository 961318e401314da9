//! Password hashing with argon2id (RFC 9106), OWASP's parameters: 19 MiB of memory,
//! two passes, one lane. The PHC string records the parameters, so they can be raised
//! later without invalidating stored hashes.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use hydracore_core::ValidationError;

/// Shortest accepted password (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Passwords {
    argon: Argon2<'static>,
    /// The hash of a password nobody knows: verifying against it makes a login for an
    /// unknown e-mail cost what a login for a known one does.
    decoy: String,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

fn argon() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Passwords {
    pub fn new() -> Self {
        let argon = argon();
        let mut random = [0u8; 32];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
        let decoy = hash_with(&argon, &String::from_utf8_lossy(&random)).unwrap_or_default();
        Self { argon, decoy }
    }

    /// Checks the length rules of a new password.
    ///
    /// # Errors
    /// Fewer than 8 or more than 256 characters.
    pub fn check_new(password: &str) -> Result<(), ValidationError> {
        let n = password.chars().count();
        if n < MIN_PASSWORD_CHARS {
            return Err(ValidationError::new(
                "password",
                "string_too_short",
                format!("String should have at least {MIN_PASSWORD_CHARS} characters"),
                "********",
            ));
        }
        if n > MAX_PASSWORD_CHARS {
            return Err(ValidationError::new(
                "password",
                "string_too_long",
                format!("String should have at most {MAX_PASSWORD_CHARS} characters"),
                "********",
            ));
        }
        Ok(())
    }

    /// The PHC string of a new password, with a fresh random salt.
    pub fn hash(&self, password: &str) -> Option<String> {
        hash_with(&self.argon, password)
    }

    /// [`Self::hash`] on the blocking pool: tens of milliseconds of CPU and 19 MiB must
    /// not stall the thread that serves other requests.
    pub async fn hash_off_thread(&self, password: &str) -> Option<String> {
        let (me, password) = (self.clone(), password.to_owned());
        tokio::task::spawn_blocking(move || me.hash(&password))
            .await
            .ok()
            .flatten()
    }

    /// [`Self::verify`] on the blocking pool.
    pub async fn verify_off_thread(&self, password: &str, phc: Option<&str>) -> bool {
        let (me, password, phc) = (self.clone(), password.to_owned(), phc.map(str::to_owned));
        tokio::task::spawn_blocking(move || me.verify(&password, phc.as_deref()))
            .await
            .unwrap_or(false)
    }

    /// Whether `password` matches `phc`. With `None` (no such user) it spends the same
    /// work on a decoy and answers `false`.
    pub fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let target = phc.unwrap_or(&self.decoy);
        let matches = PasswordHash::new(target)
            .map(|parsed| {
                self.argon
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && phc.is_some()
    }
}

fn hash_with(argon: &Argon2<'static>, password: &str) -> Option<String> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).ok()?;
    let hash: PasswordHash = argon
        .hash_password_with_salt(password.as_bytes(), &salt)
        .ok()?;
    Some(hash.to_string())
}
