//! The drive step and the timers: what a front-end does next, and when it must wake up.
//!
//! Every rule about what happens between reads lives here or below (automatic replies, when
//! they must be written, keepalive and the receive timeouts); a front-end's loop only moves
//! bytes and waits. Time is passed in, quinn-proto style: [`Connection::poll_timeout`] says when
//! to wake, [`Connection::handle_timeout`] is called then, and [`Connection::input_arrived`]
//! stamps each read.

use std::time::Instant;

use super::keepalive::{Keepalive, KeepaliveAction, KeepaliveConfig};
use super::Connection;
use crate::error::ProtocolError;
use crate::message::Message;

/// What a front-end does next: the answer of [`Connection::next_step`].
///
/// A front-end's read loop is this match, with only I/O in its arms:
///
/// ```
/// use std::time::Instant;
/// use sockeye_proto::{Config, Connection, Message, Role, Step};
///
/// let mut server = Connection::new(Role::Server, Config::default());
/// // Stands in for a socket: a masked "Hello" (RFC 6455 section 5.7), then nothing more.
/// let mut reads = vec![vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]];
/// let mut wire = Vec::new();
/// let received = loop {
///     match server.next_step() {
///         Step::Deliver { message, flush } => {
///             if flush {
///                 wire.extend_from_slice(server.pending_output()); // write everything
///                 server.consume_output(server.pending_output_len());
///             }
///             break message;
///         }
///         Step::Read => {
///             // Write everything, then wait for input until `poll_timeout()`; a timer that
///             // fires calls `handle_timeout(now)` instead of receiving.
///             wire.extend_from_slice(server.pending_output());
///             server.consume_output(server.pending_output_len());
///             let deadline = server.poll_timeout();
///             assert_eq!(deadline, None); // no keepalive here
///             server.receive_data(&reads.remove(0));
///             server.input_arrived(Instant::now());
///         }
///         Step::Closed => unreachable!("write the output, finish the transport, report the end"),
///         Step::Failed(error) => panic!("write the output (best effort), report {error}"),
///     }
/// };
/// assert_eq!(received, Message::text("Hello"));
/// ```
#[derive(Debug)]
#[must_use]
pub enum Step {
    /// A message (or frame, or control frame) for the application. Write the pending output
    /// first when `flush` is set: an automatic reply that should not wait for the rest of the
    /// batch, or [`OUTPUT_HIGH_WATER`](super::OUTPUT_HIGH_WATER) queued. Otherwise replies wait
    /// for the end of the batch, so that one write carries them all.
    Deliver {
        /// The message.
        message: Message,
        /// Write the pending output before handing the message over.
        flush: bool,
    },
    /// Nothing complete is buffered: write all pending output, then wait for input — until
    /// [`Connection::poll_timeout`], if it names a time, and call
    /// [`Connection::handle_timeout`] then. Hand what arrives to
    /// [`Connection::receive_data`] (or [`Connection::input_buffer`]) or
    /// [`Connection::receive_eof`], then [`Connection::input_arrived`].
    Read,
    /// The close handshake is over or the transport ended: write the pending output (best
    /// effort), then end the transport ([`Connection::should_close_transport`]: the server
    /// closes first; a client waits for the server's end of stream) and report the end.
    Closed,
    /// The connection failed (sticky): write the pending output (best effort: it holds the
    /// close frame the failure calls for) and report the error.
    Failed(ProtocolError),
}

impl Connection {
    /// The drive step: the next message, or what the front-end must do to get one.
    ///
    /// [`next_message`](Self::next_message) plus the decisions every front-end would
    /// otherwise repeat: whether replies must be written now, and whether the connection is
    /// over. See [`Step`] for the loop around it.
    #[inline]
    pub fn next_step(&mut self) -> Step {
        match self.next_message() {
            Ok(Some(message)) => Step::Deliver {
                flush: self.should_flush(),
                message,
            },
            Ok(None) if self.is_closed() => Step::Closed,
            Ok(None) => Step::Read,
            Err(error) => Step::Failed(error),
        }
    }

    // ----- timers -----

    /// Turns keepalive and the receive timeouts on (or off with `None`), starting their clocks
    /// at `now`: a ping after each quiet spell, [`ProtocolError::PingTimeout`] (1011) when its
    /// pong does not come in time, [`ProtocolError::IdleTimeout`] (1001) and
    /// [`ProtocolError::MessageTimeout`] (1008) as [`KeepaliveConfig`] says. They run through
    /// [`poll_timeout`](Self::poll_timeout) and [`handle_timeout`](Self::handle_timeout).
    pub fn set_keepalive(&mut self, config: Option<KeepaliveConfig>, now: Instant) {
        self.keepalive = config.map(|config| Box::new(Keepalive::new(config, now)));
    }

    /// The keepalive state, when on: its settings and the last round-trip time.
    pub fn keepalive(&self) -> Option<&Keepalive> {
        self.keepalive.as_deref()
    }

    /// True when timers run: the front-end then stamps each read with
    /// [`input_arrived`](Self::input_arrived) (without them it need not read the clock).
    #[inline]
    pub fn has_timers(&self) -> bool {
        self.keepalive.is_some()
    }

    /// Input (bytes or end of stream) arrived from the transport at `now`. Quiet-spell pings
    /// count from the latest input, and frames, messages and pongs that it completes are
    /// stamped with its time.
    #[inline]
    pub fn input_arrived(&mut self, now: Instant) {
        if let Some(keepalive) = &mut self.keepalive {
            keepalive.on_activity(now);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever. Call it
    /// before each wait for input (it takes note of the frames received since the last wait).
    /// A timer may fire late or early: `handle_timeout` acts only on deadlines that passed.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let progress = self.receive_progress();
        let keepalive = self.keepalive.as_mut()?;
        keepalive.sync_progress(progress);
        keepalive.next_deadline()
    }

    /// Acts on every deadline that passed by `now`: queues a keepalive ping, or fails the
    /// connection with the timeout's error (its close frame queued, as for any failure; the
    /// next [`next_step`](Self::next_step) returns [`Step::Failed`]). Afterwards
    /// [`poll_timeout`](Self::poll_timeout) is later than `now`, or `None`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Each action moves its own deadline past `now`: a ping starts the pong's clock, a
        // failure ends the connection. Three deadlines, so three passes at most.
        for _ in 0..3 {
            if self.is_closed() {
                return;
            }
            let progress = self.receive_progress();
            let Some(keepalive) = self.keepalive.as_mut() else {
                return;
            };
            keepalive.sync_progress(progress);
            match keepalive.poll(now) {
                None => return,
                Some(KeepaliveAction::SendPing(payload)) => {
                    if self.send_ping(&payload).is_err() {
                        // Closing already: keepalive has nothing left to do.
                        self.keepalive = None;
                        return;
                    }
                }
                Some(KeepaliveAction::Fail(error)) => {
                    self.abort(error);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Config, Role};

    const SECOND: Duration = Duration::from_secs(1);
    /// A masked, empty pong with the given payload (client to server).
    fn pong_from_client(payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x8a, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(payload);
        frame
    }

    fn drain(conn: &mut Connection) -> Vec<u8> {
        let out = conn.pending_output().to_vec();
        conn.consume_output(out.len());
        out
    }

    #[test]
    fn pings_when_quiet_and_counts_the_pong_that_arrives_with_input() {
        let start = Instant::now();
        let mut server = Connection::new(Role::Server, Config::default());
        server.set_keepalive(Some(KeepaliveConfig::new(10 * SECOND, 5 * SECOND)), start);
        assert!(matches!(server.next_step(), Step::Read));
        assert_eq!(server.poll_timeout(), Some(start + 10 * SECOND));
        // Early: nothing to do, nothing queued.
        server.handle_timeout(start + 9 * SECOND);
        assert_eq!(server.pending_output_len(), 0);
        server.handle_timeout(start + 10 * SECOND);
        let ping = drain(&mut server);
        assert_eq!(ping[0], 0x89, "a ping is queued");
        assert_eq!(server.poll_timeout(), Some(start + 15 * SECOND));
        // Its pong arrives 2 s later.
        server.receive_data(&pong_from_client(&ping[2..]));
        server.input_arrived(start + 12 * SECOND);
        assert!(matches!(
            server.next_step(),
            Step::Deliver {
                message: Message::Pong(_),
                ..
            }
        ));
        let keepalive = server.keepalive().expect("keepalive on");
        assert_eq!(keepalive.last_rtt(), Some(2 * SECOND));
        assert_eq!(server.poll_timeout(), Some(start + 22 * SECOND));
    }

    #[test]
    fn a_pong_delivered_as_a_raw_frame_still_answers_the_ping() {
        let start = Instant::now();
        let config = Config {
            assemble_messages: false,
            ..Config::default()
        };
        let mut server = Connection::new(Role::Server, config);
        server.set_keepalive(Some(KeepaliveConfig::new(SECOND, SECOND)), start);
        server.handle_timeout(start + SECOND);
        let ping = drain(&mut server);
        server.receive_data(&pong_from_client(&ping[2..]));
        server.input_arrived(start + SECOND + SECOND / 2);
        assert!(matches!(
            server.next_step(),
            Step::Deliver {
                message: Message::Frame(_),
                ..
            }
        ));
        server.handle_timeout(start + 2 * SECOND);
        assert!(server.failure().is_none(), "{:?}", server.failure());
        assert_eq!(
            server.keepalive().and_then(Keepalive::last_rtt),
            Some(SECOND / 2)
        );
    }

    #[test]
    fn a_missing_pong_fails_the_connection_with_its_close_frame() {
        let start = Instant::now();
        let mut client = Connection::new(Role::Client, Config::default());
        client.set_keepalive(Some(KeepaliveConfig::new(SECOND, SECOND)), start);
        client.handle_timeout(start + SECOND);
        drain(&mut client);
        client.handle_timeout(start + 2 * SECOND);
        let Step::Failed(error) = client.next_step() else {
            panic!("the pong timeout fails the connection")
        };
        assert_eq!(error, ProtocolError::PingTimeout { after: SECOND });
        let close = drain(&mut client);
        assert_eq!(close[0], 0x88, "the close frame is queued");
        assert_eq!(client.poll_timeout(), None, "no timers after a failure");
    }

    #[test]
    fn every_passed_deadline_is_handled_at_once() {
        let start = Instant::now();
        let mut server = Connection::new(Role::Server, Config::default());
        let config = KeepaliveConfig {
            idle_timeout: Some(5 * SECOND),
            ..KeepaliveConfig::new(SECOND, 60 * SECOND)
        };
        server.set_keepalive(Some(config), start);
        // Woken very late: the ping is due and the idle timeout passed too.
        server.handle_timeout(start + 10 * SECOND);
        assert!(matches!(
            server.next_step(),
            Step::Failed(ProtocolError::IdleTimeout { .. })
        ));
    }

    #[test]
    fn after_handle_timeout_the_next_deadline_is_later() {
        let start = Instant::now();
        let mut server = Connection::new(Role::Server, Config::default());
        server.set_keepalive(Some(KeepaliveConfig::server_default()), start);
        let mut now = start;
        for _ in 0..20 {
            let deadline = server.poll_timeout().expect("timers run");
            now = now.max(deadline);
            server.handle_timeout(now);
            if server.failure().is_some() {
                break;
            }
            assert!(server.poll_timeout().is_none_or(|next| next > now));
        }
        assert!(matches!(
            server.failure(),
            Some(ProtocolError::PingTimeout { .. } | ProtocolError::IdleTimeout { .. })
        ));
    }

    #[test]
    fn a_closing_connection_stops_pinging() {
        let start = Instant::now();
        let mut client = Connection::new(Role::Client, Config::default());
        client.set_keepalive(Some(KeepaliveConfig::new(SECOND, SECOND)), start);
        client.close(None).unwrap();
        drain(&mut client);
        client.handle_timeout(start + SECOND);
        assert_eq!(client.pending_output_len(), 0);
        assert!(!client.has_timers());
    }
}
