//! The App: a long-lived, event-driven client that keeps itself connected.
//!
//! The reference library's `WebSocketApp`, done right: one [`Handler`] with a callback per event
//! (text *and* binary messages, fragments when asked, pings, pongs with round-trip times, errors,
//! close, reconnect), [`App::run_forever`] with keepalive and automatic reconnect (exponential
//! backoff with jitter, a cap, an attempt limit, optionally after a clean close), an
//! [`AppHandle`] to send and close from any thread or task, every [`ClientConfig`] option, and
//! [`App::run_forever_blocking`] for programs without tokio of their own.
//!
//! ```no_run
//! use sockeye::app::{App, Handler, Session};
//! use sockeye::{ClientConfig, Message};
//!
//! struct Printer;
//!
//! impl Handler for Printer {
//!     fn on_open(&mut self, session: &mut Session<'_>, _response: &sockeye::Response) {
//!         session.send(Message::text("hello"));
//!     }
//!     fn on_message(&mut self, _session: &mut Session<'_>, message: Message) {
//!         println!("{message:?}");
//!     }
//! }
//!
//! let app = App::new(ClientConfig::new("ws://127.0.0.1:9001/")?);
//! let handle = app.handle();
//! std::thread::spawn(move || {
//!     handle.send(Message::text("from another thread"));
//! });
//! app.run_forever_blocking(Printer)?;
//! # Ok::<(), sockeye::Error>(())
//! ```

mod backoff;

use std::time::Duration;

use bytes::Bytes;
use sockeye_proto::connection::keepalive::KeepaliveConfig;
use sockeye_proto::{CloseCode, CloseFrame, Frame, Message};
use tokio::sync::mpsc;

pub use backoff::ReconnectPolicy;

use crate::config::ClientConfig;
use crate::error::{Error, Stage};
use crate::tokio::{connect_async_with, WebSocketStream};
use crate::transport::AsyncStream;
use crate::Response;

/// The live connection, as the callbacks see it: queue messages, start the close.
///
/// Queued messages are written as soon as the callback returns, together with anything else
/// queued in the same batch.
pub struct Session<'a> {
    socket: &'a mut WebSocketStream<AsyncStream>,
    closing: &'a mut bool,
}

impl Session<'_> {
    /// Queues a message (text, binary, ping, pong or raw frame).
    pub fn send(&mut self, message: Message) {
        // A send after the close is refused by the core; there is nothing useful to report.
        let _ = self.socket.queue(message);
    }

    /// Starts the close handshake; `run_forever` returns once it completes.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        *self.closing = true;
        let _ = self
            .socket
            .queue(Message::Close(Some(CloseFrame::new(code, reason))));
    }

    /// The round-trip time of the last answered keepalive ping.
    pub fn rtt(&self) -> Option<Duration> {
        self.socket.last_rtt()
    }
}

/// The callbacks of an [`App`]. Every method has a default that does nothing.
#[allow(unused_variables)]
pub trait Handler: Send {
    /// The connection opened (again, after a reconnect).
    fn on_open(&mut self, session: &mut Session<'_>, response: &Response) {}
    /// A whole text or binary message arrived.
    fn on_message(&mut self, session: &mut Session<'_>, message: Message) {}
    /// A frame arrived, when messages are not assembled
    /// ([`ProtocolConfig::assemble_messages`](crate::ProtocolConfig) off): data frames,
    /// continuation fragments and control frames alike.
    fn on_fragment(&mut self, session: &mut Session<'_>, frame: Frame) {}
    /// A ping arrived (the pong is sent automatically).
    fn on_ping(&mut self, session: &mut Session<'_>, payload: Bytes) {}
    /// A pong arrived; `rtt` is the round-trip time of the last answered keepalive ping.
    fn on_pong(&mut self, session: &mut Session<'_>, payload: Bytes, rtt: Option<Duration>) {}
    /// Something failed: connecting, the handshake, or the open connection.
    fn on_error(&mut self, error: &Error) {}
    /// The connection ended. `peer` is the close frame the server sent (`None` if it sent none:
    /// the connection failed or dropped).
    fn on_close(&mut self, peer: Option<&CloseFrame>) {}
    /// A reconnect attempt (1-based) will start after `delay`.
    fn on_reconnect(&mut self, attempt: u32, delay: Duration) {}
}

enum Command {
    Send(Message),
    Close(Option<CloseFrame>),
}

/// Sends and closes from any thread or task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl AppHandle {
    /// Queues a message for the current connection. Returns false once the App has stopped.
    ///
    /// Messages queued while the App is reconnecting are sent on the next connection.
    pub fn send(&self, message: Message) -> bool {
        self.commands.send(Command::Send(message)).is_ok()
    }

    /// Closes the connection with `code` and `reason` and stops the App (no reconnect).
    pub fn close(&self, code: CloseCode, reason: &str) -> bool {
        self.commands
            .send(Command::Close(Some(CloseFrame::new(code, reason))))
            .is_ok()
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Send(message) => f.debug_tuple("Send").field(message).finish(),
            Self::Close(frame) => f.debug_tuple("Close").field(frame).finish(),
        }
    }
}

/// A client that stays connected. Build it, take [`handle`](Self::handle)s, then run it.
#[derive(Debug)]
pub struct App {
    config: ClientConfig,
    keepalive: Option<KeepaliveConfig>,
    reconnect: ReconnectPolicy,
    commands: mpsc::UnboundedReceiver<Command>,
    sender: mpsc::UnboundedSender<Command>,
}

/// How one connection ended.
enum Ended {
    /// The application asked to close (handle or session).
    ByUs,
    /// The server closed with a normal code (1000 or 1001).
    CleanlyByServer,
    /// Anything else: an error, a drop, an unusual close code.
    Abnormally(Option<Error>),
}

impl App {
    /// An App for `config`, with keepalive (ping every 20 s, fail after 20 s without pong) and
    /// the default [`ReconnectPolicy`].
    pub fn new(config: ClientConfig) -> Self {
        let (sender, commands) = mpsc::unbounded_channel();
        Self {
            config,
            keepalive: Some(KeepaliveConfig::default()),
            reconnect: ReconnectPolicy::default(),
            commands,
            sender,
        }
    }

    /// Sets keepalive (`None`: no pings).
    pub fn keepalive(mut self, keepalive: Option<KeepaliveConfig>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets the reconnect policy.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// A handle to send and close from other threads or tasks.
    pub fn handle(&self) -> AppHandle {
        AppHandle {
            commands: self.sender.clone(),
        }
    }

    /// Runs until the application closes, the server closes cleanly (unless the policy says to
    /// reconnect then too), or the reconnect policy gives up — returning the last error.
    pub async fn run_forever<H: Handler>(mut self, mut handler: H) -> Result<(), Error> {
        let mut attempt: u32 = 0;
        let mut pending: Vec<Message> = Vec::new();
        loop {
            let last_error = match connect_async_with(self.config.clone()).await {
                Ok((socket, response)) => {
                    attempt = 0;
                    match self
                        .serve(socket, &response, &mut handler, &mut pending)
                        .await
                    {
                        Ended::ByUs => return Ok(()),
                        Ended::CleanlyByServer if !self.reconnect.after_clean_close => {
                            return Ok(())
                        }
                        Ended::CleanlyByServer => None,
                        Ended::Abnormally(error) => error,
                    }
                }
                Err(error) => {
                    handler.on_error(&error);
                    Some(error)
                }
            };
            attempt += 1;
            if !self.reconnect.allows(attempt) {
                return last_error.map_or(Ok(()), Err);
            }
            let delay = self.reconnect.delay(attempt, backoff::random_unit());
            handler.on_reconnect(attempt, delay);
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    command = self.commands.recv() => match command {
                        Some(Command::Send(message)) => pending.push(message),
                        // Closing while disconnected: nothing to close, stop here.
                        Some(Command::Close(_)) | None => return Ok(()),
                    },
                }
            }
        }
    }

    /// [`run_forever`](Self::run_forever) on a private single-threaded tokio runtime, for
    /// programs that do not use tokio themselves.
    pub fn run_forever_blocking<H: Handler>(self, handler: H) -> Result<(), Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| Error::io(Stage::Open, err))?;
        runtime.block_on(self.run_forever(handler))
    }

    /// Drives one open connection until it ends.
    async fn serve<H: Handler>(
        &mut self,
        mut socket: WebSocketStream<AsyncStream>,
        response: &Response,
        handler: &mut H,
        pending: &mut Vec<Message>,
    ) -> Ended {
        socket.set_keepalive(self.keepalive.clone());
        let mut closing = false;
        for message in pending.drain(..) {
            let _ = socket.queue(message);
        }
        handler.on_open(
            &mut Session {
                socket: &mut socket,
                closing: &mut closing,
            },
            response,
        );
        let mut commands_open = true;
        loop {
            tokio::select! {
                read = socket.read() => {
                    let mut session = Session { socket: &mut socket, closing: &mut closing };
                    match read {
                        Ok(Message::Ping(payload)) => handler.on_ping(&mut session, payload),
                        Ok(Message::Pong(payload)) => {
                            let rtt = session.rtt();
                            handler.on_pong(&mut session, payload, rtt);
                        }
                        Ok(Message::Frame(frame)) => handler.on_fragment(&mut session, frame),
                        // The peer's close: reported once the handshake completes, below.
                        Ok(Message::Close(_)) => {}
                        Ok(message) => handler.on_message(&mut session, message),
                        Err(Error::ConnectionClosed) => {
                            let peer = socket.connection().close_received().cloned().flatten();
                            handler.on_close(peer.as_ref());
                            if closing {
                                return Ended::ByUs;
                            }
                            return match peer.map(|frame| frame.code) {
                                Some(CloseCode::Normal | CloseCode::GoingAway) => Ended::CleanlyByServer,
                                _ => Ended::Abnormally(None),
                            };
                        }
                        Err(error) => {
                            handler.on_error(&error);
                            handler.on_close(socket.connection().close_received().cloned().flatten().as_ref());
                            return Ended::Abnormally(Some(error));
                        }
                    }
                }
                command = self.commands.recv(), if commands_open => match command {
                    Some(Command::Send(message)) => {
                        let _ = socket.queue(message);
                    }
                    Some(Command::Close(frame)) => {
                        closing = true;
                        let _ = socket.queue(Message::Close(frame));
                    }
                    // Every handle is gone, but the App itself holds a sender: unreachable in
                    // practice; stop listening rather than spin.
                    None => commands_open = false,
                },
            }
        }
    }
}
