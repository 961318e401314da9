//! Test support: a clock tests move forward instead of sleeping, and the audit events
//! in-memory repositories record.

use std::sync::{Arc, Mutex};

use crate::audit::AuditEvent;

use time::{Duration, OffsetDateTime};

use crate::{Clock, SystemClock};

/// The wall clock plus however far a test has moved it: time passes as usual (rows
/// created one after another keep their order), and [`ManualClock::advance`] jumps
/// ahead at once, past an expiry or a grace period, without waiting for it.
#[derive(Debug, Default)]
pub struct ManualClock {
    ahead: Mutex<Duration>,
}

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock `by` ahead of where it would be.
    pub fn advance(&self, by: Duration) {
        let mut ahead = self
            .ahead
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *ahead += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let ahead = *self
            .ahead
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        SystemClock.now() + ahead
    }
}

/// How many legs this test binary skipped so far.
static SKIPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What a test leg needs from its environment: the value of `var` (a database URL,
/// a tool's path), or `None` to skip the leg. Under `require=1` (as CI sets) the
/// missing value fails the leg instead.
///
/// # Panics
/// When `var` is unset or empty and `require` is `1`.
pub fn needs(var: &str, require: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            skip(require, &format!("{var} is not set"));
            None
        }
    }
}

/// Skips the calling test leg for `why`, saying so: past the test harness's output
/// capture, numbered, so a run shows how many legs each binary skipped and why.
///
/// # Panics
/// When `require` is `1`: then nothing may be skipped.
pub fn skip(require: &str, why: &str) {
    assert!(
        std::env::var(require).as_deref() != Ok("1"),
        "{require}=1 but {why}"
    );
    let n = SKIPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    let leg = std::thread::current().name().unwrap_or("a test").to_owned();
    // Written to the stream itself: the harness captures only `eprintln!`.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("skipped ({n} so far in this binary): {leg}: {why} ({require}=1 fails instead)\n")
            .as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_at_once_and_time_still_passes() {
        let clock = ManualClock::new();
        let before = clock.now();
        clock.advance(Duration::hours(2));
        let after = clock.now();
        assert!(after - before >= Duration::hours(2));
        assert!(after - before < Duration::hours(2) + Duration::seconds(5));
        assert!(clock.now() >= after);
    }
}

/// Where the in-memory repositories put the audit events of the changes they make
/// (each has its own unless given a shared one, as a store shares one table).
#[derive(Debug, Clone, Default)]
pub struct EventSink(Arc<Mutex<Vec<AuditEvent>>>);

impl EventSink {
    /// Records an event (with the change it belongs to).
    pub fn record(&self, event: &AuditEvent) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event.clone());
    }

    /// Every event recorded, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Keeps only the events `keep` accepts; answers how many went.
    pub fn retain(&self, keep: impl Fn(&AuditEvent) -> bool) -> usize {
        let mut events = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = events.len();
        events.retain(|e| keep(e));
        before - events.len()
    }
}
