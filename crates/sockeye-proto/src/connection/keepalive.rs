//! Keepalive: ping after a quiet spell, fail when the pong does not come, fail after a long
//! silence. Sans-I/O: the front-end passes the current time in and does what [`Keepalive::poll`]
//! says.
//!
//! Drive it like this: call [`Keepalive::on_activity`] whenever bytes arrive, hand every pong to
//! [`Keepalive::on_pong`], and call [`Keepalive::poll`] at [`Keepalive::next_deadline`] (and after
//! activity). `poll` answers with a ping to send or the timeout that ends the connection.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::ProtocolError;

/// Keepalive settings. Every field documents its default.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepaliveConfig {
    /// Send a ping after this long without hearing from the peer. Default: 20 s (`None`: never).
    pub ping_interval: Option<Duration>,
    /// Fail the connection when a ping gets no pong within this long. Default: 20 s.
    pub ping_timeout: Duration,
    /// The ping payload (at most 117 bytes: an 8-byte counter is appended so every ping is
    /// distinguishable). Default: `sockeye`.
    pub ping_payload: Bytes,
    /// Fail the connection after this long without receiving anything at all. Default: none.
    pub idle_timeout: Option<Duration>,
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        Self {
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Duration::from_secs(20),
            ping_payload: Bytes::from_static(b"sockeye"),
            idle_timeout: None,
        }
    }
}

impl KeepaliveConfig {
    /// Pings every `interval` of silence, failing after `timeout` without a pong.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Self {
            ping_interval: Some(interval),
            ping_timeout: timeout,
            ..Self::default()
        }
    }
}

/// What the front-end must do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeepaliveAction {
    /// Send a ping with this payload.
    SendPing(Bytes),
    /// Fail the connection with this error (ping or idle timeout).
    Fail(ProtocolError),
}

/// The keepalive state of one connection.
#[derive(Clone, Debug)]
pub struct Keepalive {
    config: KeepaliveConfig,
    last_activity: Instant,
    outstanding: Option<(Bytes, Instant)>,
    pings_sent: u64,
    last_rtt: Option<Duration>,
}

impl Keepalive {
    /// Starts keepalive at `now` (normally when the connection opens).
    pub fn new(mut config: KeepaliveConfig, now: Instant) -> Self {
        config.ping_payload.truncate(117);
        Self {
            config,
            last_activity: now,
            outstanding: None,
            pings_sent: 0,
            last_rtt: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &KeepaliveConfig {
        &self.config
    }

    /// Bytes arrived from the peer at `now`.
    pub fn on_activity(&mut self, now: Instant) {
        self.last_activity = self.last_activity.max(now);
    }

    /// A pong arrived at `now`. Returns the round-trip time if it answers the ping in flight.
    pub fn on_pong(&mut self, payload: &[u8], now: Instant) -> Option<Duration> {
        self.on_activity(now);
        match &self.outstanding {
            Some((sent, at)) if sent.as_ref() == payload => {
                let rtt = now.saturating_duration_since(*at);
                self.outstanding = None;
                self.last_rtt = Some(rtt);
                Some(rtt)
            }
            _ => None,
        }
    }

    /// The round-trip time of the last answered ping.
    pub fn last_rtt(&self) -> Option<Duration> {
        self.last_rtt
    }

    /// When [`poll`](Self::poll) has something to do next, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let ping = match &self.outstanding {
            Some((_, sent)) => Some(*sent + self.config.ping_timeout),
            None => self
                .config
                .ping_interval
                .map(|interval| self.last_activity + interval),
        };
        let idle = self
            .config
            .idle_timeout
            .map(|limit| self.last_activity + limit);
        match (ping, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What to do at `now`: nothing, send a ping, or fail.
    pub fn poll(&mut self, now: Instant) -> Option<KeepaliveAction> {
        if let Some(limit) = self.config.idle_timeout {
            if now.saturating_duration_since(self.last_activity) >= limit {
                return Some(KeepaliveAction::Fail(ProtocolError::IdleTimeout {
                    after: limit,
                }));
            }
        }
        if let Some((_, sent)) = &self.outstanding {
            if now.saturating_duration_since(*sent) >= self.config.ping_timeout {
                return Some(KeepaliveAction::Fail(ProtocolError::PingTimeout {
                    after: self.config.ping_timeout,
                }));
            }
            return None;
        }
        let interval = self.config.ping_interval?;
        if now.saturating_duration_since(self.last_activity) < interval {
            return None;
        }
        self.pings_sent += 1;
        let mut payload = Vec::with_capacity(self.config.ping_payload.len() + 8);
        payload.extend_from_slice(&self.config.ping_payload);
        payload.extend_from_slice(&self.pings_sent.to_be_bytes());
        let payload = Bytes::from(payload);
        self.outstanding = Some((payload.clone(), now));
        Some(KeepaliveAction::SendPing(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn pings_after_silence_and_measures_the_round_trip() {
        let start = Instant::now();
        let mut keepalive = Keepalive::new(KeepaliveConfig::new(10 * SECOND, 5 * SECOND), start);
        assert_eq!(keepalive.next_deadline(), Some(start + 10 * SECOND));
        assert_eq!(keepalive.poll(start + 9 * SECOND), None);
        keepalive.on_activity(start + 9 * SECOND);
        assert_eq!(keepalive.next_deadline(), Some(start + 19 * SECOND));
        let Some(KeepaliveAction::SendPing(payload)) = keepalive.poll(start + 19 * SECOND) else {
            panic!("a ping is due")
        };
        assert!(payload.starts_with(b"sockeye"));
        assert_eq!(keepalive.next_deadline(), Some(start + 24 * SECOND));
        assert_eq!(keepalive.on_pong(b"other", start + 20 * SECOND), None);
        assert_eq!(
            keepalive.on_pong(&payload, start + 21 * SECOND),
            Some(2 * SECOND)
        );
        assert_eq!(keepalive.last_rtt(), Some(2 * SECOND));
        assert_eq!(keepalive.next_deadline(), Some(start + 31 * SECOND));
    }

    #[test]
    fn missing_pong_fails_after_the_timeout() {
        let start = Instant::now();
        let mut keepalive = Keepalive::new(KeepaliveConfig::new(SECOND, 3 * SECOND), start);
        assert!(matches!(
            keepalive.poll(start + SECOND),
            Some(KeepaliveAction::SendPing(_))
        ));
        // Other traffic does not answer the ping.
        keepalive.on_activity(start + 2 * SECOND);
        assert_eq!(keepalive.poll(start + 3 * SECOND), None);
        let action = keepalive.poll(start + 4 * SECOND);
        let Some(KeepaliveAction::Fail(error)) = action else {
            panic!("{action:?}")
        };
        assert_eq!(error, ProtocolError::PingTimeout { after: 3 * SECOND });
        assert_eq!(error.close_code().as_u16(), 1011);
    }

    #[test]
    fn idle_timeout_fails_a_silent_connection() {
        let start = Instant::now();
        let config = KeepaliveConfig {
            ping_interval: None,
            idle_timeout: Some(5 * SECOND),
            ..KeepaliveConfig::default()
        };
        let mut keepalive = Keepalive::new(config, start);
        assert_eq!(keepalive.next_deadline(), Some(start + 5 * SECOND));
        assert_eq!(keepalive.poll(start + 4 * SECOND), None);
        assert!(matches!(
            keepalive.poll(start + 5 * SECOND),
            Some(KeepaliveAction::Fail(ProtocolError::IdleTimeout { .. }))
        ));
    }

    #[test]
    fn each_ping_payload_is_distinct() {
        let start = Instant::now();
        let mut keepalive = Keepalive::new(KeepaliveConfig::new(SECOND, SECOND), start);
        let Some(KeepaliveAction::SendPing(first)) = keepalive.poll(start + SECOND) else {
            panic!()
        };
        keepalive.on_pong(&first, start + SECOND);
        let Some(KeepaliveAction::SendPing(second)) = keepalive.poll(start + 2 * SECOND) else {
            panic!()
        };
        assert_ne!(first, second);
        assert!(second.len() <= 125);
    }
}
