//! A WebSocket over an async stream: the drive loop of the sans-I/O core, as poll functions.

use std::borrow::Borrow;
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_sink::Sink;
use sockeye_proto::connection::keepalive::{Keepalive, KeepaliveConfig};
use sockeye_proto::connection::{OUTPUT_HIGH_WATER, OUTPUT_SLICES};
use sockeye_proto::{CloseCode, CloseFrame, Connection, Frame, Message, Role, Step};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Error, Stage};
use crate::tokio::budget::Share;

/// The steps in which a connection's memory is reported to a server's budget.
const BUDGET_STEP: usize = 4 * 1024;

/// Smallest free space offered to a read. An idle connection holds about this much.
const MIN_READ: usize = 4 * 1024;
/// Largest read: a read that fills its space doubles the next one, up to this.
const MAX_READ: usize = 64 * 1024;
/// Buffers grown past `2 * MIN_READ` (a large message went through) are given back once the
/// connection has waited this long with them empty. Not at once: between the batches of a busy
/// connection the read also waits, and freeing and reallocating 64 KiB there cost a fifth of
/// the server's time per 1 KiB message.
const IDLE_RELEASE_AFTER: Duration = Duration::from_secs(1);

/// One open WebSocket connection over an async stream `S`.
///
/// # Cancel safety
/// - [`read`](Self::read) (and `StreamExt::next`) is cancel-safe: everything read from the
///   transport is already inside the core, so it can sit in a `select!` without losing data.
/// - [`send`](Self::send) queues the message at once and then writes; if it is cancelled while
///   writing, the message stays queued and goes out with the next write or flush.
/// - [`close`](Self::close) can be cancelled; the close frame, once queued, is still sent by the
///   next flush.
pub struct WebSocketStream<S> {
    stream: S,
    conn: Connection,
    /// How much free space the next read offers: grows while reads fill it.
    read_size: usize,
    transport_ended: bool,
    transport_shut_down: bool,
    /// Wakes the task at the core's next deadline ([`Connection::poll_timeout`]).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The waker the timer was last polled with.
    timer_waker: Option<std::task::Waker>,
    /// Armed while the core holds buffers grown past the idle size: when it fires, buffers that
    /// are empty then go back to the allocator (see [`IDLE_RELEASE_AFTER`]).
    release_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A server's memory budget, told what the core holds each time it is about to wait
    /// (a message arriving grows inside one read, which never returns to the server's loop).
    budget: Option<(Share, usize)>,
}

impl<S> std::fmt::Debug for WebSocketStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketStream")
            .field("connection", &self.conn)
            .finish_non_exhaustive()
    }
}

fn io_error(err: io::Error) -> Error {
    Error::io(Stage::Open, err)
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Wraps a stream whose opening handshake is done, with the core that will run it.
    ///
    /// Bytes the handshake read past its end must already be in `conn`.
    pub fn from_connection(stream: S, conn: Connection) -> Self {
        Self {
            stream,
            conn,
            read_size: MIN_READ,
            transport_ended: false,
            transport_shut_down: false,
            timer: None,
            timer_waker: None,
            release_timer: None,
            budget: None,
        }
    }

    /// Counts this connection in a server's memory budget.
    pub(crate) fn set_budget(&mut self, share: Share) {
        self.budget = Some((share, 0));
        self.report_memory();
    }

    /// The budget share, if the connection has one.
    pub(crate) fn budget(&self) -> Option<&Share> {
        self.budget.as_ref().map(|(share, _)| share)
    }

    /// Tells the budget what the core holds now, if it changed. When the budget picks this
    /// connection to close, it fails at once (its memory goes back before anything else runs):
    /// [`ProtocolError::MemoryBudgetExceeded`](sockeye_proto::ProtocolError::MemoryBudgetExceeded).
    pub(crate) fn report_memory(&mut self) {
        let Some((share, reported)) = &mut self.budget else {
            return;
        };
        // Counted in 4 KiB steps, rounded up, and lowered only once it fell by more than a
        // step: a busy connection's buffers move by a few bytes with every message, and a
        // report per message costs measurably. The count errs high, by at most 8 KiB.
        let held = self.conn.memory_use().next_multiple_of(BUDGET_STEP);
        if held > *reported || held + BUDGET_STEP < *reported {
            *reported = held;
            share.report_connection(held);
        }
        if share.is_evicted() && self.conn.failure().is_none() {
            let held = share.held();
            let output = self.conn.pending_output_len() + share.queued();
            self.conn
                .abort(sockeye_proto::ProtocolError::MemoryBudgetExceeded {
                    held,
                    budget: share.limit(),
                    receiving: output * 2 < held,
                });
            let held = self.conn.memory_use();
            *reported = held;
            share.report_connection(held);
        }
    }

    /// Turns keepalive on (or off with `None`): a ping after each quiet spell, and a failure
    /// ([`ProtocolError::PingTimeout`](sockeye_proto::ProtocolError::PingTimeout), close 1011)
    /// when its pong does not come in time. Keepalive runs while a read is pending, which an
    /// application's read loop always has.
    pub fn set_keepalive(&mut self, config: Option<KeepaliveConfig>) {
        self.conn.set_keepalive(config, Instant::now());
        self.timer = None;
        self.timer_waker = None;
    }

    /// The round-trip time of the last keepalive ping that was answered.
    pub fn last_rtt(&self) -> Option<Duration> {
        self.conn.keepalive().and_then(Keepalive::last_rtt)
    }

    /// The sans-I/O core, for its state and close frames.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Gives back the stream.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Reads the next message: text, binary, ping, pong, the peer's close, or a raw frame.
    ///
    /// Pings are answered and the peer's close is echoed by the core. After the close handshake
    /// this returns [`Error::ConnectionClosed`]. Cancel-safe.
    pub async fn read(&mut self) -> Result<Message, Error> {
        poll_fn(|cx| self.poll_read_message(cx)).await
    }

    /// Sends a message (or raw frame) and writes it out. Takes `Message` or `&Message`.
    pub async fn send(&mut self, message: impl Borrow<Message>) -> Result<(), Error> {
        self.conn.send(message.borrow())?;
        self.flush().await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.conn.send_text(text)?;
        self.flush().await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.conn.send_binary(data)?;
        self.flush().await
    }

    /// Sends a ping (payload at most 125 bytes).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.conn.send_ping(payload)?;
        self.flush().await
    }

    /// Sends a frame exactly as given, for testing peers.
    pub async fn send_raw_frame(&mut self, frame: &Frame) -> Result<(), Error> {
        self.conn.send_raw_frame(frame)?;
        self.flush().await
    }

    /// Queues a message without writing it; [`flush`](Self::flush) writes a batch at once.
    pub fn queue(&mut self, message: impl Borrow<Message>) -> Result<(), Error> {
        self.conn.send(message.borrow())?;
        Ok(())
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_write_output(cx)).await
    }

    /// Runs the close handshake with `code` and `reason`; returns the peer's close frame.
    ///
    /// Messages that arrive before the peer's close are discarded.
    pub async fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
    ) -> Result<Option<CloseFrame>, Error> {
        if self.conn.close_sent().is_none() {
            self.conn.close(Some(CloseFrame::new(code, reason)))?;
        }
        self.flush().await?;
        loop {
            if let Some(received) = self.conn.close_received() {
                let received = received.clone();
                self.flush().await?;
                return Ok(received);
            }
            match self.read().await {
                Ok(_) => {}
                Err(Error::ConnectionClosed) => {
                    return Ok(self.conn.close_received().cloned().flatten())
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Writes queued output until it is all written and flushed, or the transport would block.
    pub(crate) fn poll_write_output(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while self.conn.pending_output_len() > 0 {
            let written = if self.stream.is_write_vectored() {
                // One write for headers and the large payloads queued after them without a copy.
                let mut slices = [io::IoSlice::new(&[]); OUTPUT_SLICES];
                let filled = self.conn.pending_output_slices(&mut slices);
                ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..filled]))
            } else {
                ready!(Pin::new(&mut self.stream).poll_write(cx, self.conn.pending_output()))
            }
            .map_err(io_error)?;
            if written == 0 {
                return Poll::Ready(Err(io_error(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the transport accepted no bytes",
                ))));
            }
            self.conn.consume_output(written);
        }
        Pin::new(&mut self.stream).poll_flush(cx).map_err(io_error)
    }

    /// The drive loop: take a message from the core, else write replies and read more.
    pub(crate) fn poll_read_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Message, Error>> {
        loop {
            match self.conn.next_step() {
                Step::Deliver { message, flush } => {
                    if flush {
                        if let Poll::Ready(Err(err)) = self.poll_write_output(cx) {
                            return Poll::Ready(Err(err));
                        }
                    }
                    return Poll::Ready(Ok(message));
                }
                Step::Read => {
                    if let Poll::Ready(Err(err)) = self.poll_write_output(cx) {
                        return Poll::Ready(Err(err));
                    }
                    if self.poll_timer(cx) {
                        // The core acted on a deadline: a ping to write, or its failure.
                        continue;
                    }
                    self.poll_release(cx);
                    self.report_memory();
                    ready!(self.poll_fill(cx))?;
                }
                Step::Closed => {
                    // The close echo must be on the wire before the end is reported.
                    ready!(self.poll_write_output(cx))?;
                    ready!(self.poll_finish_transport(cx));
                    return Poll::Ready(Err(Error::ConnectionClosed));
                }
                Step::Failed(err) => {
                    // Best effort: the failure's close frame, then the error.
                    let _ = self.poll_write_output(cx);
                    return Poll::Ready(Err(Error::Protocol(err)));
                }
            }
        }
    }

    /// Arms the timer for the core's next deadline; when it fired, lets the core act first and
    /// returns true.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let fired = self.timer.as_ref().is_some_and(|timer| timer.is_elapsed());
        if fired {
            self.conn.handle_timeout(Instant::now());
        }
        let Some(deadline) = self.conn.poll_timeout() else {
            // No deadline left (keepalive stopped while closing): a fired timer must not be
            // seen as firing again.
            self.timer = None;
            return fired;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        // Reads only move deadlines later, and a timer that fires early is re-armed here: it is
        // moved only when it fired or the deadline came sooner (a message started, and its
        // timeout comes first). Resetting it at every wait costs a timer-wheel update per message.
        match &mut self.timer {
            Some(timer) if !fired && timer.deadline() <= deadline => {}
            Some(timer) => {
                timer.as_mut().reset(deadline);
                self.timer_waker = None;
            }
            None => {
                self.timer = Some(Box::pin(tokio::time::sleep_until(deadline)));
                self.timer_waker = None;
            }
        }
        let Some(timer) = &mut self.timer else {
            return fired;
        };
        // Polled (which registers the task's waker with the timer) only when it was armed
        // anew or the task is another one: a poll per wait costs measurably.
        let registered = self
            .timer_waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()));
        if !registered {
            self.timer_waker = Some(cx.waker().clone());
            if timer.as_mut().poll(cx).is_ready() {
                // Due already: come back at once to act on it.
                cx.waker().wake_by_ref();
            }
        }
        fired
    }

    /// When the release timer fires: the core's empty buffers go back to the allocator (the next
    /// read reserves again), so a connection idle after a large message stays small.
    fn poll_release(&mut self, cx: &mut Context<'_>) {
        let Some(timer) = &mut self.release_timer else {
            return;
        };
        if timer.as_mut().poll(cx).is_ready() {
            self.release_timer = None;
            self.conn.release_idle_buffers(2 * MIN_READ);
        }
    }

    /// Reads straight into the core's input buffer: no intermediate copy, and no per-connection
    /// read buffer beyond the small free space an idle connection keeps.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let input = self.conn.input_buffer();
        if input.capacity() - input.len() < self.read_size / 2 {
            input.reserve(self.read_size);
        }
        let offered = input.capacity() - input.len();
        let filled = match tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, input) {
            Poll::Ready(filled) => filled.map_err(io_error)?,
            Poll::Pending => {
                // Waiting, with buffers a large message grew: give them back if this lasts.
                if self.release_timer.is_none() && self.conn.buffer_capacity() > 2 * MIN_READ {
                    let mut timer = Box::pin(tokio::time::sleep(IDLE_RELEASE_AFTER));
                    if timer.as_mut().poll(cx).is_ready() {
                        cx.waker().wake_by_ref();
                    }
                    self.release_timer = Some(timer);
                }
                return Poll::Pending;
            }
        };
        if self.conn.has_timers() {
            self.conn.input_arrived(Instant::now());
        }
        if filled == 0 {
            self.transport_ended = true;
            self.conn.receive_eof();
        } else if filled == offered {
            self.read_size = (self.read_size * 2).min(MAX_READ);
        }
        Poll::Ready(Ok(()))
    }

    /// After the close handshake: the server shuts the transport down (it closes first); a client
    /// waits for the server's end of stream (RFC 6455 section 7.1.1).
    fn poll_finish_transport(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.conn.failure().is_some() || self.conn.should_close_transport() {
            if !self.transport_shut_down {
                // Errors here mean the peer is gone already, which is the goal.
                let _ = ready!(Pin::new(&mut self.stream).poll_shutdown(cx));
                self.transport_shut_down = true;
            }
            return Poll::Ready(());
        }
        if self.conn.role() == Role::Client {
            let mut discard = [0u8; 512];
            while !self.transport_ended {
                let mut buf = ReadBuf::new(&mut discard);
                match ready!(Pin::new(&mut self.stream).poll_read(cx, &mut buf)) {
                    Ok(()) if buf.filled().is_empty() => self.transport_ended = true,
                    Ok(()) => {}
                    Err(_) => self.transport_ended = true,
                }
            }
        }
        Poll::Ready(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match ready!(this.poll_read_message(cx)) {
            Ok(message) => Poll::Ready(Some(Ok(message))),
            Err(Error::ConnectionClosed) => Poll::Ready(None),
            Err(err) => Poll::Ready(Some(Err(err))),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        // A peer that stops reading cannot make the queue grow without bound.
        if this.conn.pending_output_len() >= OUTPUT_HIGH_WATER {
            ready!(this.poll_write_output(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().conn.send(&message)?;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_write_output(cx)
    }

    /// Sends a normal close (1000) unless a close was already sent, and writes it out.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.conn.close_sent().is_none() && this.conn.failure().is_none() {
            this.conn
                .close(Some(CloseFrame::new(CloseCode::Normal, "")))?;
        }
        this.poll_write_output(cx)
    }
}
