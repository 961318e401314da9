//! Password hashing with argon2id (RFC 9106), OWASP's parameters: 19 MiB of memory,
//! two passes, one lane. The PHC string records the parameters, so they can be raised
//! later without invalidating stored hashes.
//!
//! Each hash costs tens of milliseconds of CPU and 19 MiB, so the work is bounded: as
//! many run at once as there are cores, a short queue waits, and past that a caller is
//! told the server is busy rather than adding another 19 MiB (500 logins at once would
//! otherwise want 9.5 GiB).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use hydracore_core::ValidationError;

/// Shortest accepted password (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Too much password work is running or waiting: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked; retry shortly")]
pub struct Busy;

/// How much argon2 work may run at once, and how much may wait.
#[derive(Debug)]
struct Gate {
    running: Arc<tokio::sync::Semaphore>,
    /// Running and waiting, together.
    admitted: AtomicUsize,
    capacity: usize,
}

/// Counts a call as admitted while it lives.
struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How many hashes may wait per one that runs.
const QUEUE_PER_SLOT: usize = 8;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Passwords {
    argon: Argon2<'static>,
    /// The hash of a password nobody knows: verifying against it makes a login for an
    /// unknown e-mail cost what a login for a known one does.
    decoy: String,
    gate: Arc<Gate>,
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
    /// As many hashes at once as there are cores, eight times as many waiting.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::with_concurrency(cores, cores * QUEUE_PER_SLOT)
    }

    /// `running` hashes at once (at least one), `waiting` more queued; past that
    /// [`Busy`].
    pub fn with_concurrency(running: usize, waiting: usize) -> Self {
        let argon = argon();
        let mut random = [0u8; 32];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
        let decoy = hash_with(&argon, &String::from_utf8_lossy(&random)).unwrap_or_default();
        let running = running.max(1);
        Self {
            argon,
            decoy,
            gate: Arc::new(Gate {
                running: Arc::new(tokio::sync::Semaphore::new(running)),
                admitted: AtomicUsize::new(0),
                capacity: running + waiting,
            }),
        }
    }

    /// Runs `work` on the blocking pool once a slot is free. The slot is held until
    /// the work ends, even if the caller stops waiting.
    async fn gated<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> T + Send + 'static,
    ) -> Result<Option<T>, Busy> {
        let gate = &self.gate;
        let before = gate.admitted.fetch_add(1, Ordering::SeqCst);
        let _admitted = Admitted(&gate.admitted);
        if before >= gate.capacity {
            return Err(Busy);
        }
        let slot = gate
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        let me = self.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work(&me)
        })
        .await
        .ok())
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

    /// [`Self::hash`] on the blocking pool, within the bound on concurrent work: tens
    /// of milliseconds of CPU and 19 MiB must not stall the thread that serves other
    /// requests, nor pile up without limit.
    ///
    /// # Errors
    /// [`Busy`] when as much work as allowed is running and waiting.
    pub async fn hash_off_thread(&self, password: &str) -> Result<Option<String>, Busy> {
        let password = password.to_owned();
        Ok(self.gated(move |me| me.hash(&password)).await?.flatten())
    }

    /// [`Self::verify`] on the blocking pool, within the same bound.
    ///
    /// # Errors
    /// [`Busy`], as [`Self::hash_off_thread`].
    pub async fn verify_off_thread(&self, password: &str, phc: Option<&str>) -> Result<bool, Busy> {
        let (password, phc) = (password.to_owned(), phc.map(str::to_owned));
        Ok(self
            .gated(move |me| me.verify(&password, phc.as_deref()))
            .await?
            .unwrap_or(false))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_past_the_slots_and_the_queue_is_refused_not_piled_up() {
        let passwords = Passwords::with_concurrency(1, 2);
        // One call holds the only slot until released...
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let p = passwords.clone();
            tokio::spawn(async move { p.gated(move |_| held.recv().is_ok()).await })
        };
        while passwords.gate.running.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // ...two more wait for it...
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let p = passwords.clone();
                tokio::spawn(async move { p.gated(|_| true).await })
            })
            .collect();
        while passwords.gate.admitted.load(Ordering::SeqCst) < 3 {
            tokio::task::yield_now().await;
        }
        // ...and the next is turned away at once rather than queued.
        assert_eq!(passwords.verify_off_thread("x", None).await, Err(Busy));
        assert_eq!(passwords.hash_off_thread("x").await, Err(Busy));
        release.send(()).unwrap();
        assert_eq!(holder.await.unwrap(), Ok(Some(true)));
        for w in waiting {
            assert_eq!(w.await.unwrap(), Ok(Some(true)));
        }
        // Once the work is done the gate is open again.
        let phc = passwords
            .hash_off_thread("correct horse battery")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            passwords
                .verify_off_thread("correct horse battery", Some(&phc))
                .await,
            Ok(true)
        );
    }
}
