//! A WebSocket over a blocking stream: the drive loop of the sans-I/O core.

use std::borrow::Borrow;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sockeye_proto::connection::keepalive::{Keepalive, KeepaliveConfig};
use sockeye_proto::connection::OUTPUT_SLICES;
use sockeye_proto::{CloseCode, CloseFrame, Connection, Frame, Message, Role, Step};

use crate::error::{Error, Stage};
use crate::transport::Stream;

const READ_CHUNK: usize = 64 * 1024;

/// One open WebSocket connection over a blocking stream `S`.
///
/// Every method drives the core the same way: feed what was read, take messages, write what the
/// core queued (including its automatic pongs and close replies).
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
    read_buf: Vec<u8>,
    transport_ended: bool,
    /// The stream's read and write timeouts, when known: a read or write that times out is
    /// then reported as [`Error::Timeout`] rather than as an I/O error.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// How to change the socket's read timeout, so a read wakes up at keepalive deadlines.
    /// Set by `set_keepalive`, which exists for stream types that have read timeouts.
    set_socket_read_timeout: Option<SetReadTimeout<S>>,
}

type SetReadTimeout<S> = fn(&S, Option<Duration>) -> io::Result<()>;

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("connection", &self.conn)
            .finish_non_exhaustive()
    }
}

impl<S: Read + Write> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done, with the core that will run it.
    ///
    /// Bytes the handshake read past its end must already be in `conn` (see
    /// [`Connection::receive_data`]).
    pub fn from_connection(stream: S, conn: Connection) -> Self {
        Self {
            stream,
            conn,
            read_buf: vec![0; READ_CHUNK],
            transport_ended: false,
            read_timeout: None,
            write_timeout: None,
            set_socket_read_timeout: None,
        }
    }

    /// The round-trip time of the last keepalive ping that was answered.
    pub fn last_rtt(&self) -> Option<Duration> {
        self.conn.keepalive().and_then(Keepalive::last_rtt)
    }

    fn enable_keepalive(
        &mut self,
        config: Option<KeepaliveConfig>,
        set_read_timeout: SetReadTimeout<S>,
    ) {
        self.conn.set_keepalive(config, Instant::now());
        self.set_socket_read_timeout = Some(set_read_timeout);
    }

    /// For a stream whose timeouts you set yourself: the limits to report. A read (or write)
    /// that fails with `WouldBlock` or `TimedOut` is then [`Error::Timeout`] at
    /// [`Stage::Open`] naming that limit; with `None` it stays [`Error::Io`], as a
    /// non-blocking stream needs. Either way the connection remains usable: call again.
    pub fn report_timeouts(&mut self, read: Option<Duration>, write: Option<Duration>) {
        self.read_timeout = read;
        self.write_timeout = write;
    }

    /// The sans-I/O core, for its state and close frames.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably (reading or writing it directly corrupts the connection).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Gives back the stream.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Reads the next message: text, binary, ping, pong, the peer's close, or a raw frame when
    /// messages are not assembled.
    ///
    /// Pings are answered and the peer's close is echoed before this returns them. After the close
    /// handshake, a client waits for the server to close the transport (RFC 6455 section 7.1.1);
    /// then this returns [`Error::ConnectionClosed`].
    pub fn read(&mut self) -> Result<Message, Error> {
        // When this read began: the application's read timeout counts from here, across the
        // wake-ups for keepalive.
        let mut started = None;
        loop {
            match self.conn.next_step() {
                Step::Deliver { message, flush } => {
                    if flush {
                        self.flush()?;
                    }
                    return Ok(message);
                }
                Step::Read => {
                    self.flush()?;
                    self.fill(&mut started)?;
                }
                Step::Closed => {
                    // Best effort: the peer may be gone already.
                    let _ = self.flush();
                    self.wait_for_transport_end();
                    return Err(Error::ConnectionClosed);
                }
                Step::Failed(err) => {
                    // Best effort: the failure's close frame, then the error.
                    let _ = self.flush();
                    return Err(Error::Protocol(err));
                }
            }
        }
    }

    /// Sends a message (or a raw frame) and flushes it. Takes `Message` or `&Message`.
    pub fn send(&mut self, message: impl Borrow<Message>) -> Result<(), Error> {
        self.conn.send(message.borrow())?;
        self.flush()
    }

    /// Queues a message without flushing; call [`flush`](Self::flush) to write a batch at once.
    pub fn queue(&mut self, message: impl Borrow<Message>) -> Result<(), Error> {
        self.conn.send(message.borrow())?;
        Ok(())
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.conn.send_text(text)?;
        self.flush()
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.conn.send_binary(data)?;
        self.flush()
    }

    /// Sends a ping (payload at most 125 bytes). The pong arrives through [`read`](Self::read).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.conn.send_ping(payload)?;
        self.flush()
    }

    /// Sends an unsolicited pong (payload at most 125 bytes).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.conn.send_pong(payload)?;
        self.flush()
    }

    /// Sends a frame exactly as given (any opcode, FIN and RSV bits), for testing peers.
    pub fn send_raw_frame(&mut self, frame: &Frame) -> Result<(), Error> {
        self.conn.send_raw_frame(frame)?;
        self.flush()
    }

    /// Runs the close handshake with `code` and `reason` and returns the peer's close frame
    /// (`None` if it carried no status code).
    ///
    /// Messages that arrive before the peer's close are discarded; to keep them, send
    /// `Message::Close` with [`send`](Self::send) and keep calling [`read`](Self::read).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<Option<CloseFrame>, Error> {
        self.close_with(Some(CloseFrame::new(code, reason)))
    }

    /// Like [`close`](Self::close), with full control: `None` sends a close without status code.
    pub fn close_with(&mut self, frame: Option<CloseFrame>) -> Result<Option<CloseFrame>, Error> {
        if self.conn.close_sent().is_none() {
            self.conn.close(frame)?;
            self.flush()?;
        }
        loop {
            if let Some(received) = self.conn.close_received() {
                let received = received.clone();
                if self.conn.role() == Role::Server {
                    self.flush()?;
                }
                return Ok(received);
            }
            match self.read() {
                Ok(_) => {}
                Err(Error::ConnectionClosed) => {
                    return Ok(self.conn.close_received().cloned().flatten())
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Writes everything the core has queued and flushes the stream.
    pub fn flush(&mut self) -> Result<(), Error> {
        while self.conn.pending_output_len() > 0 {
            // One vectored write: headers and large payloads queued without a copy together.
            let mut slices = [io::IoSlice::new(&[]); OUTPUT_SLICES];
            let filled = self.conn.pending_output_slices(&mut slices);
            match self.stream.write_vectored(&slices[..filled]) {
                Ok(0) => {
                    return Err(Error::io(
                        Stage::Open,
                        io::Error::new(io::ErrorKind::WriteZero, "the transport accepted no bytes"),
                    ))
                }
                Ok(written) => self.conn.consume_output(written),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(open_error(err, self.write_timeout)),
            }
        }
        self.stream
            .flush()
            .map_err(|err| open_error(err, self.write_timeout))
    }

    /// Reads once from the stream into the core. With timers running, waits no longer than
    /// their next deadline (and then lets the core act on it), while still honouring the read
    /// timeout the application set.
    fn fill(&mut self, started: &mut Option<Instant>) -> Result<(), Error> {
        let Some(set_timeout) = self
            .set_socket_read_timeout
            .filter(|_| self.conn.has_timers())
        else {
            return self
                .fill_raw()
                .map_err(|err| open_error(err, self.read_timeout));
        };
        let started = *started.get_or_insert_with(Instant::now);
        let result = loop {
            let now = Instant::now();
            let deadline = self.conn.poll_timeout();
            if deadline.is_some_and(|deadline| deadline <= now) {
                // Back to the drive step: a ping to write, or the failure to report.
                self.conn.handle_timeout(now);
                break Ok(());
            }
            let user_left = self
                .read_timeout
                .map(|limit| limit.saturating_sub(now.duration_since(started)));
            if let (Some(after), Some(Duration::ZERO)) = (self.read_timeout, user_left) {
                break Err(Error::Timeout {
                    stage: Stage::Open,
                    after,
                });
            }
            let until_deadline = deadline.map(|deadline| deadline.saturating_duration_since(now));
            let wait = match (until_deadline, user_left) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
            // A zero timeout means "block forever" to the OS: wait at least a millisecond.
            .map(|wait| wait.max(Duration::from_millis(1)));
            set_timeout(&self.stream, wait).map_err(|err| Error::io(Stage::Open, err))?;
            match self.fill_raw() {
                Ok(()) => break Ok(()),
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(err) => break Err(open_error(err, self.read_timeout)),
            }
        };
        // Put back the application's own timeout.
        let _ = set_timeout(&self.stream, self.read_timeout);
        result
    }

    fn fill_raw(&mut self) -> io::Result<()> {
        loop {
            match self.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    self.transport_ended = true;
                    self.conn.receive_eof();
                }
                Ok(read) => self.conn.receive_data(&self.read_buf[..read]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            if self.conn.has_timers() {
                self.conn.input_arrived(Instant::now());
            }
            return Ok(());
        }
    }

    /// After the close handshake: a client waits for the server to end the transport; a server
    /// (which closes first) and a failed connection return at once.
    fn wait_for_transport_end(&mut self) {
        if self.conn.role() != Role::Client || self.conn.failure().is_some() {
            return;
        }
        while !self.transport_ended {
            match self.stream.read(&mut self.read_buf) {
                Ok(0) => self.transport_ended = true,
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // A read timeout or reset also ends the wait: the handshake is already complete.
                Err(_) => self.transport_ended = true,
            }
        }
    }
}

impl WebSocket<Stream> {
    /// Turns keepalive on (or off with `None`): a ping after each quiet spell, and a failure
    /// ([`ProtocolError::PingTimeout`](sockeye_proto::ProtocolError::PingTimeout), close 1011)
    /// when its pong does not come in time. It runs inside [`read`](Self::read), which wakes at
    /// the keepalive deadlines; the read timeout you set still applies.
    pub fn set_keepalive(&mut self, config: Option<KeepaliveConfig>) {
        self.enable_keepalive(config, |stream, timeout| stream.set_read_timeout(timeout));
    }

    /// Sets the socket's read timeout: a [`read`](Self::read) that waits longer fails with
    /// [`Error::Timeout`] at [`Stage::Open`], and the connection stays usable.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.stream
            .set_read_timeout(timeout)
            .map_err(|err| Error::io(Stage::Open, err))?;
        self.read_timeout = timeout;
        Ok(())
    }

    /// Sets the socket's write timeout: a send or flush that waits longer fails with
    /// [`Error::Timeout`] at [`Stage::Open`]; what was not written stays queued.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.stream
            .set_write_timeout(timeout)
            .map_err(|err| Error::io(Stage::Open, err))?;
        self.write_timeout = timeout;
        Ok(())
    }
}

impl WebSocket<TcpStream> {
    /// Turns keepalive on or off; see [`WebSocket::<Stream>::set_keepalive`](WebSocket::set_keepalive).
    pub fn set_keepalive(&mut self, config: Option<KeepaliveConfig>) {
        self.enable_keepalive(config, |stream, timeout| stream.set_read_timeout(timeout));
    }
}

/// An I/O error of the open connection: a timeout when the stream has a known limit.
fn open_error(err: io::Error, limit: Option<Duration>) -> Error {
    match (limit, err.kind()) {
        (Some(after), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Error::Timeout {
            stage: Stage::Open,
            after,
        },
        _ => Error::io(Stage::Open, err),
    }
}
