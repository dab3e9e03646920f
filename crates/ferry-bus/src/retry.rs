//! How often and how late a failed delivery is tried again.

use std::time::Duration;

/// Retries of a failed delivery: exponential backoff with full jitter.
///
/// After the `n`-th failed attempt the next one waits a random time in
/// `[0, min(cap, base × 2^(n−1)))`; after `max_attempts` attempts the delivery
/// moves to the dead-letter table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `0` is read as `1`.
    pub max_attempts: u32,
    /// The ceiling of the first backoff.
    pub base: Duration,
    /// The largest ceiling any backoff may have.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 200 ms base, 30 s cap.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Whether a delivery that has failed `failures` times gets another try.
    pub fn retries_after(&self, failures: u32) -> bool {
        failures < self.max_attempts.max(1)
    }

    /// The ceiling of the wait after the `failures`-th failed attempt
    /// (`failures` ≥ 1): `min(cap, base × 2^(failures−1))`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.base
            .checked_mul(1_u32 << doublings)
            .map_or(self.cap, |ceiling| ceiling.min(self.cap))
    }

    /// The wait after the `failures`-th failed attempt, given `unit`, a
    /// random number in `[0, 1)` (full jitter).
    pub fn backoff(&self, failures: u32, unit: f64) -> Duration {
        self.ceiling(failures).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A random number in `[0, 1)`, from a v4 uuid's random bits: jitter needs
/// no better randomness than that, and no extra dependency.
pub(crate) fn random_unit() -> f64 {
    // The low 53 bits of a v4 uuid are all random (the version and variant
    // bits sit higher up), and 53 bits is what an f64 holds exactly.
    let bits = (uuid::Uuid::new_v4().as_u128() as u64) & ((1_u64 << 53) - 1);
    bits as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(1), Duration::from_millis(200));
        assert_eq!(policy.ceiling(2), Duration::from_millis(400));
        assert_eq!(policy.ceiling(5), Duration::from_millis(3200));
        assert_eq!(
            policy.ceiling(8),
            Duration::from_secs(25) + Duration::from_millis(600)
        );
        assert_eq!(policy.ceiling(9), Duration::from_secs(30));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let policy = RetryPolicy::default();
        for failures in 1..12 {
            let wait = policy.backoff(failures, random_unit());
            assert!(wait < policy.ceiling(failures));
        }
        assert_eq!(policy.backoff(3, 0.0), Duration::ZERO);
        assert_eq!(policy.backoff(3, 0.5), Duration::from_millis(400));
    }

    #[test]
    fn attempts_stop_at_the_maximum() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(policy.retries_after(1));
        assert!(policy.retries_after(2));
        assert!(!policy.retries_after(3));
        let once = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(!once.retries_after(1));
    }
}
