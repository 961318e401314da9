//! Test support: a clock tests move forward instead of sleeping.

use std::sync::Mutex;

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
