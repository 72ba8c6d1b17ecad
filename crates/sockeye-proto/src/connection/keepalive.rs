//! Keepalive: ping after a quiet spell, fail when the pong does not come, fail when no frame
//! comes for a long time or a message takes too long to arrive. Sans-I/O: the front-end passes
//! the current time in and does what [`Keepalive::poll`] says.
//!
//! A [`Connection`](crate::Connection) runs one itself: turn it on with
//! [`Connection::set_keepalive`](crate::Connection::set_keepalive) and drive it through the
//! connection's timers (`poll_timeout`, `handle_timeout`). Standalone, drive it like this: call
//! [`Keepalive::on_activity`] whenever bytes arrive, hand every pong to [`Keepalive::on_pong`],
//! report [`Connection::receive_progress`](crate::Connection::receive_progress) with
//! [`Keepalive::on_progress`] before waiting for input, and call [`Keepalive::poll`] at
//! [`Keepalive::next_deadline`] (and after activity). `poll` answers with a ping to send or the
//! timeout that ends the connection.
//!
//! The two receive timeouts count whole frames, not bytes, so a peer cannot hold a connection by
//! trickling a frame one byte at a time:
//! - [`idle_timeout`](KeepaliveConfig::idle_timeout): no complete frame for this long, while no
//!   message is in progress, fails with 1001 (going away). 1001 rather than 1008: a quiet peer
//!   broke no rule, and clients treat 1001 as "reconnect later".
//! - [`message_timeout`](KeepaliveConfig::message_timeout): a frame or message in progress (its
//!   first byte is in) that is not complete this long after it started fails with 1008 (policy
//!   violation): the peer sends too slowly for this endpoint's policy.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::connection::ReceiveProgress;
use crate::error::ProtocolError;

/// Keepalive settings. Every field documents its default.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepaliveConfig {
    /// Send a ping after this long without hearing from the peer. Default: 20 s (`None`: never).
    pub ping_interval: Option<Duration>,
    /// Fail the connection when a ping gets no pong within this long. Default: 20 s.
    pub ping_timeout: Duration,
    /// The ping payload: at most 117 bytes when [`ping_counter`](Self::ping_counter) is on (the
    /// counter takes the other 8 of a control frame's 125), 125 when it is off; longer payloads
    /// are cut. Default: `sockeye`.
    pub ping_payload: Bytes,
    /// Append an 8-byte big-endian counter to [`ping_payload`](Self::ping_payload), so every
    /// ping is distinguishable and a late pong to an earlier ping is not taken for the answer
    /// to the latest. Off, every ping carries exactly `ping_payload` (for peers or tests that
    /// expect known bytes); a pong with that payload then answers the ping in flight.
    /// Default: on.
    pub ping_counter: bool,
    /// Fail the connection (1001) when no complete frame has arrived for this long and no message
    /// is in progress. Pongs count, so with pings on a live peer never reaches it. Default: none
    /// (servers: [`KeepaliveConfig::server_default`]).
    pub idle_timeout: Option<Duration>,
    /// Fail the connection (1008) when a frame or message in progress is not complete this long
    /// after its first byte arrived. Default: none (servers: [`KeepaliveConfig::server_default`]).
    pub message_timeout: Option<Duration>,
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        Self {
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Duration::from_secs(20),
            ping_payload: Bytes::from_static(b"sockeye"),
            ping_counter: true,
            idle_timeout: None,
            message_timeout: None,
        }
    }
}

impl KeepaliveConfig {
    /// What a server runs by default: a ping after 30 s of silence (30 s for its pong), 120 s
    /// without a complete frame fails the connection (1001), and a message must arrive in full
    /// within 60 s of its first byte (1008). The pings keep quiet but live clients (browsers
    /// answer them on their own) clear of the idle timeout; 120 s is uWebSockets' idle
    /// timeout. 60 s lets a 16 MiB message (the default `max_message_size`) through at 2.2 Mbit/s;
    /// raise it for slower uploads.
    pub fn server_default() -> Self {
        Self {
            ping_interval: Some(Duration::from_secs(30)),
            ping_timeout: Duration::from_secs(30),
            ping_payload: Bytes::from_static(b"sockeye"),
            ping_counter: true,
            idle_timeout: Some(Duration::from_secs(120)),
            message_timeout: Some(Duration::from_secs(60)),
        }
    }

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
    /// When the last complete frame was seen (or keepalive started).
    last_frame: Instant,
    /// When the frame or message in progress started, if one is.
    message_started: Option<Instant>,
    progress: ReceiveProgress,
    outstanding: Option<(Bytes, Instant)>,
    pings_sent: u64,
    last_rtt: Option<Duration>,
}

impl Keepalive {
    /// Starts keepalive at `now` (normally when the connection opens).
    pub fn new(mut config: KeepaliveConfig, now: Instant) -> Self {
        let limit = if config.ping_counter { 117 } else { 125 };
        config.ping_payload.truncate(limit);
        Self {
            config,
            last_activity: now,
            last_frame: now,
            message_started: None,
            progress: ReceiveProgress::default(),
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

    /// The connection's [`receive_progress`](crate::Connection::receive_progress) at `now`:
    /// starts and stops the idle and message clocks. Returns true when a message started or
    /// ended, the cases in which [`next_deadline`](Self::next_deadline) can come sooner than
    /// before without [`poll`](Self::poll) (a front-end that arms its timer lazily re-arms it
    /// then).
    pub fn on_progress(&mut self, progress: ReceiveProgress, now: Instant) -> bool {
        if progress.frames != self.progress.frames {
            self.last_frame = self.last_frame.max(now);
        }
        let before = self.message_started;
        if !progress.receiving {
            self.message_started = None;
        } else if self.message_started.is_none() || progress.messages != self.progress.messages {
            self.message_started = Some(now);
        }
        self.progress = progress;
        self.message_started != before
    }

    /// The idle deadline, if it applies now: while a message is in progress the message
    /// timeout governs instead (when there is one).
    fn idle_deadline(&self) -> Option<Instant> {
        let limit = self.config.idle_timeout?;
        if self.message_started.is_some() && self.config.message_timeout.is_some() {
            return None;
        }
        Some(self.last_frame + limit)
    }

    fn message_deadline(&self) -> Option<Instant> {
        Some(self.message_started? + self.config.message_timeout?)
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

    /// A pong arrived with the latest input ([`on_activity`](Self::on_activity) stamped it).
    pub(crate) fn on_pong_received(&mut self, payload: &[u8]) {
        self.on_pong(payload, self.last_activity);
    }

    /// [`on_progress`](Self::on_progress) stamped with the time of the latest input: progress
    /// comes only from parsing input, so that is when it happened.
    pub(crate) fn sync_progress(&mut self, progress: ReceiveProgress) -> bool {
        self.on_progress(progress, self.last_activity)
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
        [ping, self.idle_deadline(), self.message_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// What to do at `now`: nothing, send a ping, or fail.
    pub fn poll(&mut self, now: Instant) -> Option<KeepaliveAction> {
        if let (Some(deadline), Some(after)) =
            (self.message_deadline(), self.config.message_timeout)
        {
            if now >= deadline {
                return Some(KeepaliveAction::Fail(ProtocolError::MessageTimeout {
                    after,
                }));
            }
        }
        if let (Some(deadline), Some(after)) = (self.idle_deadline(), self.config.idle_timeout) {
            if now >= deadline {
                return Some(KeepaliveAction::Fail(ProtocolError::IdleTimeout { after }));
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
        let payload = if self.config.ping_counter {
            let mut payload = Vec::with_capacity(self.config.ping_payload.len() + 8);
            payload.extend_from_slice(&self.config.ping_payload);
            payload.extend_from_slice(&self.pings_sent.to_be_bytes());
            Bytes::from(payload)
        } else {
            self.config.ping_payload.clone()
        };
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

    fn progress(frames: u64, messages: u64, receiving: bool) -> ReceiveProgress {
        ReceiveProgress {
            frames,
            messages,
            receiving,
        }
    }

    #[test]
    fn idle_timeout_counts_frames_not_bytes() {
        let start = Instant::now();
        let config = KeepaliveConfig {
            ping_interval: None,
            idle_timeout: Some(10 * SECOND),
            ..KeepaliveConfig::default()
        };
        let mut keepalive = Keepalive::new(config, start);
        // Bytes trickle in, but no frame completes and nothing is left in progress.
        for second in 1..10u32 {
            keepalive.on_activity(start + second * SECOND);
        }
        assert_eq!(keepalive.next_deadline(), Some(start + 10 * SECOND));
        // A trickled frame header: without a message timeout the idle clock still runs.
        keepalive.on_progress(progress(0, 0, true), start + 9 * SECOND);
        assert!(matches!(
            keepalive.poll(start + 10 * SECOND),
            Some(KeepaliveAction::Fail(ProtocolError::IdleTimeout { .. }))
        ));
        // A complete frame restarts it.
        let mut keepalive = Keepalive::new(keepalive.config().clone(), start);
        keepalive.on_progress(progress(1, 1, false), start + 8 * SECOND);
        assert_eq!(keepalive.next_deadline(), Some(start + 18 * SECOND));
    }

    #[test]
    fn message_timeout_bounds_a_message_in_progress() {
        let start = Instant::now();
        let config = KeepaliveConfig {
            ping_interval: None,
            idle_timeout: Some(100 * SECOND),
            message_timeout: Some(5 * SECOND),
            ..KeepaliveConfig::default()
        };
        let mut keepalive = Keepalive::new(config, start);
        // A message starts at 1 s; its fragments keep completing frames, but not the message.
        keepalive.on_progress(progress(0, 0, true), start + SECOND);
        keepalive.on_progress(progress(1, 0, true), start + 3 * SECOND);
        assert_eq!(keepalive.next_deadline(), Some(start + 6 * SECOND));
        assert_eq!(keepalive.poll(start + 5 * SECOND), None);
        let action = keepalive.poll(start + 6 * SECOND);
        let Some(KeepaliveAction::Fail(error)) = action else {
            panic!("{action:?}")
        };
        assert_eq!(error, ProtocolError::MessageTimeout { after: 5 * SECOND });
        assert_eq!(error.close_code().as_u16(), 1008);
        // Messages completing back to back, with the next always begun: each gets its own time.
        let mut keepalive = Keepalive::new(keepalive.config().clone(), start);
        for n in 0..20u32 {
            keepalive.on_progress(progress(n.into(), n.into(), true), start + n * 2 * SECOND);
            assert_eq!(keepalive.poll(start + n * 2 * SECOND), None);
        }
        // Done: only the idle clock is left.
        keepalive.on_progress(progress(20, 20, false), start + 40 * SECOND);
        assert_eq!(keepalive.next_deadline(), Some(start + 140 * SECOND));
    }

    #[test]
    fn without_the_counter_every_ping_carries_exactly_the_payload() {
        let start = Instant::now();
        let config = KeepaliveConfig {
            ping_payload: Bytes::from(vec![b'x'; 130]),
            ping_counter: false,
            ..KeepaliveConfig::new(SECOND, SECOND)
        };
        let mut keepalive = Keepalive::new(config, start);
        for n in 1..=2u32 {
            let Some(KeepaliveAction::SendPing(payload)) = keepalive.poll(start + n * SECOND)
            else {
                panic!("a ping is due")
            };
            assert_eq!(
                payload,
                vec![b'x'; 125],
                "cut to 125 bytes, nothing appended"
            );
            assert_eq!(
                keepalive.on_pong(&payload, start + n * SECOND),
                Some(Duration::ZERO)
            );
        }
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
