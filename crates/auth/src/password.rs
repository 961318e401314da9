//! Password hashing with argon2id (RFC 9106), OWASP's parameters: 19 MiB of memory,
//! two passes, one lane. The PHC string records the parameters, so they can be raised
//! later without invalidating stored hashes.
//!
//! Each hash costs tens of milliseconds of CPU and 19 MiB, so the work is bounded: it
//! runs on as many threads of its own as there are cores, a short queue waits, and past
//! that a caller is told the server is busy rather than adding another 19 MiB (500
//! logins at once would otherwise want 9.5 GiB). Fixed threads also keep that memory
//! to one block per thread: the allocator keeps a freed 19 MiB block in the arena of
//! the thread that used it, so hashes spread over a growing blocking pool left a block
//! behind in each thread's arena.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use std::cell::RefCell;

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use hydracore_core::ValidationError;
use hydracore_core::rules::Rule;

/// Shortest accepted password (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// A new password's rule.
pub const PASSWORD: Rule = Rule::length(MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS);

/// Too much password work is running or waiting: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked; retry shortly")]
pub struct Busy;

type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash, and the bounded queue in front of them.
struct Workers {
    jobs: SyncSender<Job>,
}

impl Workers {
    fn start(threads: usize, waiting: usize) -> Self {
        let (jobs, queue) = sync_channel::<Job>(waiting);
        let queue: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job, not to run it.
                        let next = queue.lock().map(|q| q.recv());
                        match next {
                            Ok(Ok(job)) => job(),
                            _ => break,
                        }
                    }
                });
            // A thread that could not be started lowers the concurrency; the queue
            // still drains through the others (and with none, every call is Busy).
            drop(spawned);
        }
        Self { jobs }
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
    workers: Arc<Workers>,
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
    /// As many hashes at once as there are cores, eight per core waiting.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::with_concurrency(cores, cores * QUEUE_PER_SLOT)
    }

    /// `running` hashes at once (at least one, each on a thread of its own), `waiting`
    /// more queued; past that [`Busy`].
    pub fn with_concurrency(running: usize, waiting: usize) -> Self {
        let argon = argon();
        let mut random = [0u8; 32];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
        let decoy = hash_once(&argon, &String::from_utf8_lossy(&random)).unwrap_or_default();
        Self {
            argon,
            decoy,
            workers: Arc::new(Workers::start(running.max(1), waiting)),
        }
    }

    /// Runs `work` on the hashing threads, or refuses at once when as much as allowed
    /// is running and waiting. Work whose caller stops waiting still runs to its end.
    async fn gated<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> T + Send + 'static,
    ) -> Result<Option<T>, Busy> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let me = self.clone();
        let job: Job = Box::new(move || {
            let _ = done.send(work(&me));
        });
        match self.workers.jobs.try_send(job) {
            Ok(()) => Ok(answer.await.ok()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
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
        verify_with(password, target).unwrap_or(false) && phc.is_some()
    }
}

thread_local! {
    /// This thread's argon2 memory, kept from one hash to the next.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `blocks` blocks of this thread's argon2 memory.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        f(&mut memory[..blocks])
    })
}

/// Equal, in time that does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `password` hashes to the PHC string `phc`, with the parameters it records.
fn verify_with(password: &str, phc: &str) -> Option<bool> {
    let parsed = PasswordHash::new(phc).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.as_bytes().len()];
    with_memory(params.block_count(), |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .ok()?;
    Some(same(&out, expected.as_bytes()))
}

/// The PHC string of `password` under `argon` with a fresh random salt, computed in
/// this thread's argon2 memory.
fn hash_with(argon: &Argon2<'static>, password: &str) -> Option<String> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).ok()?;
    let params = argon.params();
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    with_memory(params.block_count(), |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .ok()?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).ok()?,
        salt: Some(Salt::new(&salt).ok()?),
        hash: Some(Output::new(&out).ok()?),
    };
    Some(phc.to_string())
}

/// A hash of `password` in memory of its own (freed after), for the one made before
/// any hashing thread runs: the decoy.
fn hash_once(argon: &Argon2<'static>, password: &str) -> Option<String> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).ok()?;
    argon
        .hash_password_with_salt(password.as_bytes(), &salt)
        .ok()
        .map(|h| h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_read_and_written_as_the_argon2_crate_does() {
        use argon2::password_hash::PasswordVerifier as _;
        let argon = argon();
        let ours = hash_with(&argon, "correct horse battery").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(
            argon
                .verify_password(b"wrong horse battery", &parsed)
                .is_err()
        );
        let theirs = hash_once(&argon, "correct horse battery").unwrap();
        assert_eq!(verify_with("correct horse battery", &theirs), Some(true));
        assert_eq!(verify_with("wrong horse battery", &theirs), Some(false));
        assert_eq!(verify_with("x", "not a phc string"), None);
        let p = Passwords::with_concurrency(1, 1);
        assert!(p.verify("correct horse battery", Some(&theirs)));
        assert!(!p.verify("correct horse battery", None));
    }

    #[tokio::test]
    async fn work_past_the_threads_and_the_queue_is_refused_not_piled_up() {
        let passwords = Passwords::with_concurrency(1, 2);
        // One call holds the only thread until released...
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let holder = {
            let p = passwords.clone();
            tokio::spawn(async move {
                p.gated(move |_| {
                    let _ = started.send(());
                    held.recv().is_ok()
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || running.recv())
            .await
            .unwrap()
            .unwrap();
        // ...two more wait in the queue...
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let p = passwords.clone();
                tokio::spawn(async move { p.gated(|_| true).await })
            })
            .collect();
        // (each takes its place in the queue when first polled)
        for _ in 0..10 {
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
