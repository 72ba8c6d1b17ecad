//! Reconnect policy: exponential backoff with jitter, a cap and an attempt limit.

use std::time::Duration;

/// When and how often [`App`](super::App) reconnects. Every field documents its default.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// Reconnect at all. Default: on.
    pub enabled: bool,
    /// Delay before the first attempt. Default: 500 ms.
    pub initial_delay: Duration,
    /// Each further attempt waits this factor longer. Default: 2.
    pub multiplier: f64,
    /// The longest delay. Default: 30 s.
    pub max_delay: Duration,
    /// Random spread: each delay is drawn from `[delay * (1 - jitter), delay]`. Default: 0.5.
    pub jitter: f64,
    /// Give up after this many consecutive failed attempts (`None`: never). Default: none.
    pub max_attempts: Option<u32>,
    /// Reconnect also after the server closed cleanly (1000 or 1001). Default: off.
    pub after_clean_close: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_delay: Duration::from_millis(500),
            multiplier: 2.0,
            max_delay: Duration::from_secs(30),
            jitter: 0.5,
            max_attempts: None,
            after_clean_close: false,
        }
    }
}

impl ReconnectPolicy {
    /// Never reconnect: `run_forever` returns when the first connection ends.
    pub fn never() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets the first delay and the cap.
    pub fn delays(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max;
        self
    }

    /// Sets the growth factor per attempt.
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Sets the random spread (0: none, 1: anywhere from zero to the delay).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Gives up after `attempts` consecutive failed attempts.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Reconnects also after a clean close by the server.
    pub fn after_clean_close(mut self, reconnect: bool) -> Self {
        self.after_clean_close = reconnect;
        self
    }

    /// The delay before attempt `attempt` (1-based), given a uniform random `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let base = self.initial_delay.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        let capped = base.min(self.max_delay.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let spread = capped * (1.0 - jitter * unit.clamp(0.0, 1.0));
        Duration::from_secs_f64(spread.max(0.0))
    }

    /// True if attempt number `attempt` (1-based) may still be made.
    pub fn allows(&self, attempt: u32) -> bool {
        self.enabled && self.max_attempts.is_none_or(|max| attempt <= max)
    }
}

/// A uniform random number in `[0, 1)` from the OS CSPRNG.
pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    sockeye_proto::random::fill_os_random(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let policy = ReconnectPolicy {
            jitter: 0.0,
            ..ReconnectPolicy::default()
        };
        let delays: Vec<u128> = (1..=8).map(|a| policy.delay(a, 0.7).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(policy.delay(u32::MAX, 0.0), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let policy = ReconnectPolicy::default();
        for unit in [0.0, 0.25, 0.5, 0.999] {
            let delay = policy.delay(3, unit);
            assert!(
                delay <= Duration::from_secs(2) && delay >= Duration::from_secs(1),
                "{delay:?}"
            );
        }
        for _ in 0..100 {
            let unit = random_unit();
            assert!((0.0..1.0).contains(&unit));
        }
    }

    #[test]
    fn attempt_limit() {
        let policy = ReconnectPolicy {
            max_attempts: Some(3),
            ..ReconnectPolicy::default()
        };
        assert!(policy.allows(3));
        assert!(!policy.allows(4));
        assert!(!ReconnectPolicy::never().allows(1));
    }
}
