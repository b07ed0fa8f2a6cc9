//! Reconnect backoff: how long to wait before the next attempt to reach a node.
//!
//! The schedule doubles from `base` up to `max`. Jitter is supplied by the caller as a number
//! in `[0, 1)` (this crate has no randomness source and no clock), and spreads each delay over
//! `[delay/2, delay)` so that many tabs reconnecting after a node restart do not arrive in
//! lockstep.

use std::time::Duration;

/// An exponential backoff schedule with a cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// The schedule the app uses: 500 ms doubling up to 15 s.
    pub const APP_DEFAULT: Backoff =
        Backoff::new(Duration::from_millis(500), Duration::from_secs(15));

    /// A schedule starting at `base` and never exceeding `max`.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            attempt: 0,
        }
    }

    /// How many delays were handed out since the last [`Backoff::reset`].
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt. `jitter` in `[0, 1)` picks a point in
    /// `[delay/2, delay)`; values outside that range are clamped.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        let full = self.base.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        full / 2 + full.mul_f64(jitter / 2.0)
    }

    /// Start over after a successful connection.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        // With jitter 0 every delay is exactly half of the un-jittered one.
        let got: Vec<u128> = (0..6).map(|_| b.next_delay(0.0).as_millis()).collect();
        assert_eq!(got, vec![50, 100, 200, 400, 500, 500]);
        assert_eq!(b.attempt(), 6);
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let mut b = Backoff::new(Duration::from_millis(1000), Duration::from_secs(60));
        let d = b.next_delay(0.999);
        assert!(
            d >= Duration::from_millis(500) && d < Duration::from_millis(1000),
            "{d:?}"
        );
        // Out-of-range and NaN jitter are clamped, never panics or overflows.
        assert_eq!(b.next_delay(f64::NAN), Duration::from_millis(1000));
        assert_eq!(b.next_delay(7.0), Duration::from_millis(4000));
    }

    #[test]
    fn reset_starts_over_and_huge_attempts_do_not_overflow() {
        let mut b = Backoff::APP_DEFAULT;
        for _ in 0..200 {
            assert!(b.next_delay(0.5) <= Duration::from_secs(15));
        }
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_millis(250));
    }
}
