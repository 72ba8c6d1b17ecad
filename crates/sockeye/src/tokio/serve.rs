//! A ready server: accept loop, per-connection handlers, connection limit, graceful shutdown.
//!
//! [`Server::serve`] accepts on a TCP or Unix listener, runs the opening handshake (with the
//! accept hook), and drives each connection with a fresh [`ServerHandler`]. A
//! [`ShutdownHandle`] stops it gracefully: no new connections, close 1001 (going away) to every
//! open one, a bounded wait for their close handshakes, then the rest are dropped.
//!
//! [`Listener::tls`] serves `wss://`: the TLS handshake runs in the connection's own task (a slow
//! client never holds up the accept loop), within
//! [`ServerConfig::handshake_timeout`](crate::ServerConfig::handshake_timeout). Each connection
//! runs inside a [`peer_span`](crate::trace::peer_span) naming its address, so its trace says
//! whom it is from.

use std::cell::OnceCell;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use sockeye_proto::connection::close::MAX_CLOSE_REASON_BYTES;
use sockeye_proto::connection::OUTPUT_HIGH_WATER;
use sockeye_proto::handshake::{Accept, Reject, Request};
use sockeye_proto::{CloseCode, CloseFrame, Message};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::ServerConfig;
use crate::error::{Error, Stage};
use crate::tokio::server::accept_async_with;
use crate::tokio::stream::WebSocketStream;
use crate::transport::AsyncStream;

/// Where a [`Server`] listens.
#[derive(Debug)]
#[non_exhaustive]
pub enum Listener {
    /// A TCP listener.
    Tcp(tokio::net::TcpListener),
    /// A Unix domain socket listener.
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
    /// TLS over another listener (see [`Listener::tls`]).
    #[cfg(feature = "tls")]
    Tls(Box<Listener>, std::sync::Arc<rustls::ServerConfig>),
}

/// The TLS acceptor of a [`Listener::Tls`], if that is what the server listens on.
#[cfg(feature = "tls")]
type Acceptor = Option<tokio_rustls::TlsAcceptor>;
#[cfg(not(feature = "tls"))]
type Acceptor = Option<std::convert::Infallible>;

impl Listener {
    /// Serves TLS (`wss://`) on `listener` with `config`, made for example by
    /// [`transport::tls::server_config`](crate::transport::tls::server_config) from PEM files.
    #[cfg(feature = "tls")]
    pub fn tls(
        listener: impl Into<Listener>,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> Self {
        Self::Tls(Box::new(listener.into()), config)
    }

    fn acceptor(&self) -> Acceptor {
        match self {
            #[cfg(feature = "tls")]
            Self::Tls(_, config) => Some(tokio_rustls::TlsAcceptor::from(config.clone())),
            _ => None,
        }
    }

    /// The listener under any TLS layers.
    fn plain(&self) -> &Listener {
        match self {
            #[cfg(feature = "tls")]
            Self::Tls(inner, _) => inner.plain(),
            _ => self,
        }
    }

    async fn accept(&self) -> io::Result<(AsyncStream, String)> {
        match self.plain() {
            Self::Tcp(listener) => {
                let (stream, addr) = listener.accept().await?;
                // Best effort: latency matters more than packet count for WebSocket traffic.
                let _ = stream.set_nodelay(true);
                Ok((AsyncStream::Tcp(stream), addr.to_string()))
            }
            #[cfg(unix)]
            Self::Unix(listener) => {
                let (stream, _) = listener.accept().await?;
                Ok((AsyncStream::Unix(stream), "unix".into()))
            }
            #[cfg(feature = "tls")]
            Self::Tls(..) => unreachable!("TLS layers were unwrapped above"),
        }
    }
}

impl From<tokio::net::TcpListener> for Listener {
    fn from(listener: tokio::net::TcpListener) -> Self {
        Self::Tcp(listener)
    }
}

#[cfg(unix)]
impl From<tokio::net::UnixListener> for Listener {
    fn from(listener: tokio::net::UnixListener) -> Self {
        Self::Unix(listener)
    }
}

/// Sends to one connection from anywhere (another connection's handler, another task).
///
/// Its queue is bounded ([`Server::peer_queue`]); see the
/// [backpressure](Server#backpressure) policy.
#[derive(Clone, Debug)]
pub struct PeerHandle {
    id: u64,
    commands: mpsc::Sender<Message>,
    /// The close asked for with [`close`](Self::close); the first one wins.
    close: watch::Sender<Option<CloseFrame>>,
}

impl PeerHandle {
    /// The connection's id, unique within the process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queues a message for the connection without waiting, so handlers can call it.
    ///
    /// `Ok` means queued, not delivered: the connection can still end first.
    ///
    /// # Errors
    ///
    /// The message comes back, with why:
    /// - [`PeerSendError::Full`]: [`Server::peer_queue`] messages wait already, because the
    ///   client reads slower than it is sent to. Drop the message, try again later, or
    ///   [`close`](Self::close) the connection (which works even with a full queue).
    /// - [`PeerSendError::Closed`]: the connection has ended.
    pub fn send(&self, message: Message) -> Result<(), PeerSendError> {
        self.commands.try_send(message).map_err(|err| match err {
            mpsc::error::TrySendError::Full(message) => PeerSendError::Full(message),
            mpsc::error::TrySendError::Closed(message) => PeerSendError::Closed(message),
        })
    }

    /// Starts the close handshake with `code` and `reason`, even when the queue is full.
    ///
    /// Messages queued before go out first. The first close asked for wins; asking after the
    /// connection has ended does nothing. If the client does not answer within
    /// [`Server::close_timeout`], the connection is dropped. A reason longer than 123 bytes is
    /// cut at a character boundary.
    pub fn close(&self, code: CloseCode, reason: &str) {
        let mut end = reason.len().min(MAX_CLOSE_REASON_BYTES);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let frame = CloseFrame::new(code, &reason[..end]);
        self.close.send_if_modified(|asked| {
            let first = asked.is_none();
            if first {
                *asked = Some(frame);
            }
            first
        });
    }
}

/// Why [`PeerHandle::send`] gave a message back; the message is inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSendError {
    /// The connection's queue is full: its client reads slower than it is sent to.
    Full(Message),
    /// The connection has ended.
    Closed(Message),
}

impl PeerSendError {
    /// The message that was not queued.
    pub fn into_message(self) -> Message {
        match self {
            Self::Full(message) | Self::Closed(message) => message,
        }
    }
}

impl std::fmt::Display for PeerSendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "the connection's queue is full: its client reads slower than messages are sent to it; drop the message, retry later, or close the connection",
            Self::Closed(_) => "the connection has ended",
        })
    }
}

impl std::error::Error for PeerSendError {}

/// What a connection's [`PeerHandle`]s send it, made when a handler first asks for a handle:
/// a connection nobody else sends to keeps no channel (idle connections stay small).
struct Mailbox {
    handle: PeerHandle,
    commands: mpsc::Receiver<Message>,
    /// Resolves with the close a handle asked for; made once (a fresh `changed()` future in
    /// every select costs measurably per message).
    close_asked: Pin<Box<dyn Future<Output = CloseFrame> + Send>>,
}

/// A connection's [`Mailbox`], once there is one.
struct MailboxCell {
    cell: OnceCell<Mailbox>,
    id: u64,
    capacity: usize,
}

impl MailboxCell {
    fn handle(&self) -> PeerHandle {
        let mailbox = self.cell.get_or_init(|| {
            let (commands, receiver) = mpsc::channel(self.capacity);
            let (close, mut close_asked) = watch::channel(None);
            Mailbox {
                handle: PeerHandle {
                    id: self.id,
                    commands,
                    close,
                },
                commands: receiver,
                close_asked: Box::pin(async move {
                    let asked = close_asked.wait_for(Option::is_some).await;
                    match asked.ok().and_then(|frame| (*frame).clone()) {
                        Some(frame) => frame,
                        // Every sender gone: cannot happen, the mailbox holds a handle.
                        None => std::future::pending().await,
                    }
                }),
            }
        });
        mailbox.handle.clone()
    }
}

/// What came through the mailbox.
enum Mail {
    Message(Message),
    Close(CloseFrame),
}

/// The next message (unless `flush`: too much output waits) or close (unless `close_taken`)
/// from the mailbox; never, if there is none.
async fn next_mail(mailbox: Option<&mut Mailbox>, flush: bool, close_taken: bool) -> Mail {
    let Some(mailbox) = mailbox else {
        return std::future::pending().await;
    };
    tokio::select! {
        Some(message) = mailbox.commands.recv(), if !flush => Mail::Message(message),
        frame = &mut mailbox.close_asked, if !close_taken => Mail::Close(frame),
        // Nothing to take now (output must drain first, the close was taken already).
        else => std::future::pending().await,
    }
}

/// One open connection, as the handler sees it.
pub struct Peer<'a> {
    socket: &'a mut WebSocketStream<AsyncStream>,
    mailbox: &'a MailboxCell,
    address: &'a str,
}

impl Peer<'_> {
    /// Queues a message; it is written as soon as the callback returns.
    pub fn send(&mut self, message: Message) {
        // Refused only after the close was sent; nothing useful to report then.
        let _ = self.socket.queue(message);
    }

    /// Starts the close handshake; the client has the server's
    /// [`close_timeout`](Server::close_timeout) to answer.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        let _ = self
            .socket
            .queue(Message::Close(Some(CloseFrame::new(code, reason))));
    }

    /// A handle to this connection for other tasks (broadcast, for example). The connection's
    /// bounded queue is made with the first handle.
    pub fn handle(&self) -> PeerHandle {
        self.mailbox.handle()
    }

    /// The connection's id, unique within the process (the same as its handles').
    pub fn id(&self) -> u64 {
        self.mailbox.id
    }

    /// The peer's address (`unix` for Unix sockets).
    pub fn address(&self) -> &str {
        self.address
    }
}

/// What the server does with one connection. A new handler is made for each connection.
#[allow(unused_variables)]
pub trait ServerHandler: Send + 'static {
    /// A client connected from `address` (`unix` for Unix sockets); the TLS and WebSocket
    /// handshakes come next.
    fn on_connect(&mut self, address: &str) {}
    /// The handshake completed.
    fn on_open(&mut self, peer: &mut Peer<'_>, request: &Request) {}
    /// A text or binary message arrived (pings are answered by the connection itself).
    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message) {}
    /// The connection ended; `close` is the client's close frame, if it sent one.
    fn on_close(&mut self, close: Option<&CloseFrame>) {}
    /// The TLS handshake, the WebSocket handshake or the connection failed.
    fn on_error(&mut self, error: &Error) {}
}

/// Stops a running [`Server`] gracefully.
#[derive(Clone, Debug)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    /// Stops accepting, closes every connection with 1001 (going away), waits up to the
    /// server's shutdown timeout, then drops what is left. Idempotent.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

type Decide = dyn Fn(&Request) -> Result<Accept, Reject> + Send + Sync;

/// An accept loop with per-connection handlers, a connection limit and graceful shutdown.
///
/// # Backpressure
///
/// Each connection has a bounded queue for what other tasks send it through its [`PeerHandle`]
/// ([`Server::peer_queue`], 1024 messages by default). [`PeerHandle::send`] never waits: when the
/// queue is full it hands the message back, and the sender decides (drop it, or
/// [`close`](PeerHandle::close) a client that cannot keep up). The connection stops taking from
/// its queue, and stops reading, while more than
/// [`OUTPUT_HIGH_WATER`](sockeye_proto::connection::OUTPUT_HIGH_WATER) bytes wait to be written,
/// and writes until they are all out. So a client that stops reading fills its own queue: what
/// the server holds for it stays within the queue, that high-water mark and the kernel's socket
/// buffers.
pub struct Server {
    config: ServerConfig,
    max_connections: Option<usize>,
    shutdown_timeout: Duration,
    limits: Limits,
    decide: Arc<Decide>,
    shutdown: watch::Sender<bool>,
}

/// What each connection gets from the [`Server`]'s settings.
#[derive(Clone, Copy, Debug)]
struct Limits {
    peer_queue: usize,
    close_timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("max_connections", &self.max_connections)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("peer_queue", &self.limits.peer_queue)
            .field("close_timeout", &self.limits.close_timeout)
            .finish_non_exhaustive()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Server {
    /// A server accepting every valid request, with no connection limit, a 5 s shutdown wait,
    /// queues of 1024 messages and a 5 s close timeout.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config,
            max_connections: None,
            shutdown_timeout: Duration::from_secs(5),
            limits: Limits {
                peer_queue: 1024,
                close_timeout: Duration::from_secs(5),
            },
            decide: Arc::new(|_| Ok(Accept::default())),
            shutdown: watch::channel(false).0,
        }
    }

    /// Lets `decide` accept (choosing a subprotocol, adding headers) or refuse each request.
    pub fn accept_with(
        mut self,
        decide: impl Fn(&Request) -> Result<Accept, Reject> + Send + Sync + 'static,
    ) -> Self {
        self.decide = Arc::new(decide);
        self
    }

    /// Refuses handshakes with 503 while `limit` connections are open.
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.max_connections = Some(limit);
        self
    }

    /// How long shutdown waits for close handshakes before dropping connections.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How many messages sent through a connection's [`PeerHandle`]s may wait for it (0 counts
    /// as 1). Past that, [`PeerHandle::send`] reports the queue full: see the
    /// [backpressure](Server#backpressure) policy.
    pub fn peer_queue(mut self, capacity: usize) -> Self {
        self.limits.peer_queue = capacity.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// How long a client has to answer a close that a handler ([`Peer::close`]) or a
    /// [`PeerHandle::close`] started, before its connection is dropped. Shutdown has its own
    /// wait, [`shutdown_timeout`](Self::shutdown_timeout).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.limits.close_timeout = timeout;
        self
    }

    /// A handle that stops [`serve`](Self::serve) gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Accepts connections until shut down, each driven by a handler from `make_handler`.
    ///
    /// Returns when shutdown completes, or with the listener's error.
    pub async fn serve<H, F>(self, listener: impl Into<Listener>, make_handler: F) -> io::Result<()>
    where
        H: ServerHandler,
        F: Fn() -> H,
    {
        let listener = listener.into();
        let limit = self
            .max_connections
            .map(|limit| Arc::new(Semaphore::new(limit)));
        let mut stop = self.shutdown.subscribe();
        let mut tasks = JoinSet::new();
        let acceptor = listener.acceptor();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, address) = match accepted {
                        Ok(accepted) => accepted,
                        // Out of file descriptors and the like: keep serving the others.
                        Err(err) if is_transient(&err) => continue,
                        Err(err) => return Err(err),
                    };
                    let span = crate::trace::peer_span(&address);
                    // A copy without the `tls` feature (the acceptor type is then uninhabited).
                    #[allow(clippy::clone_on_copy)]
                    let acceptor = acceptor.clone();
                    let permit = match &limit {
                        Some(limit) => match limit.clone().try_acquire_owned() {
                            Ok(permit) => Some(permit),
                            Err(_) => {
                                let config = self.config.clone();
                                tasks.spawn(refuse_busy(stream, acceptor, config).instrument(span));
                                continue;
                            }
                        },
                        None => None,
                    };
                    let mut handler = make_handler();
                    let config = self.config.clone();
                    let decide = self.decide.clone();
                    let limits = self.limits;
                    let stop = self.shutdown.subscribe();
                    let connection = async move {
                        handler.on_connect(&address);
                        let stream = match Box::pin(secure(stream, acceptor, &config)).await {
                            Ok(stream) => stream,
                            Err(error) => {
                                handler.on_error(&error);
                                return;
                            }
                        };
                        run_connection(stream, address, config, decide, limits, handler, stop)
                            .await;
                        drop(permit);
                    };
                    tasks.spawn(connection.instrument(span));
                }
                _ = stop.changed() => break,
                // Reap finished connections so the set does not grow with the server's age.
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        drop(listener);
        let drained = tokio::time::timeout(self.shutdown_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.shutdown().await;
        }
        Ok(())
    }
}

fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || err
        .raw_os_error()
        .is_some_and(|code| code == 23 || code == 24)
}

/// The stream as accepted, or, on a TLS listener, after the TLS handshake (within the handshake
/// timeout).
#[cfg_attr(not(feature = "tls"), allow(unused_variables))]
async fn secure(
    stream: AsyncStream,
    acceptor: Acceptor,
    config: &ServerConfig,
) -> Result<AsyncStream, Error> {
    match acceptor {
        None => Ok(stream),
        #[cfg(feature = "tls")]
        Some(acceptor) => {
            let handshake = crate::transport::tls::accept_tls(stream, &acceptor);
            crate::transport::async_stream::within(
                config.handshake_timeout,
                crate::error::Stage::Tls,
                handshake,
            )
            .await
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
    }
}

async fn refuse_busy(stream: AsyncStream, acceptor: Acceptor, config: ServerConfig) {
    let Ok(stream) = secure(stream, acceptor, &config).await else {
        return;
    };
    let refused = accept_async_with(stream, &config, |_| {
        Err(Reject::new(503, "too many connections; try again later\n").header("Retry-After", "1"))
    })
    .await;
    debug_assert!(refused.is_err());
}

async fn run_connection<H: ServerHandler>(
    stream: AsyncStream,
    address: String,
    config: ServerConfig,
    decide: Arc<Decide>,
    limits: Limits,
    mut handler: H,
    mut stop: watch::Receiver<bool>,
) {
    // Boxed: the handshake's state is large and lives only until it ends, while the
    // connection's future keeps its largest state for the connection's whole life.
    let accepting = Box::pin(accept_async_with(stream, &config, |r| decide(r)));
    let (mut socket, request) = match accepting.await {
        Ok(accepted) => accepted,
        Err(error) => {
            handler.on_error(&error);
            return;
        }
    };
    let mut mailbox = MailboxCell {
        cell: OnceCell::new(),
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        capacity: limits.peer_queue,
    };
    handler.on_open(
        &mut Peer {
            socket: &mut socket,
            mailbox: &mailbox,
            address: &address,
        },
        &request,
    );
    // Made once: a fresh `changed()` future in every select costs measurably per message.
    let mut shutdown = pin!(async move {
        // An error means the server is gone: stop too.
        let _ = stop.wait_for(|stop| *stop).await;
    });
    let mut deadline = pin!(tokio::time::sleep(limits.close_timeout));
    let (mut stopping, mut close_taken, mut closing) = (false, false, false);
    loop {
        // A close this side started must be answered in time (shutdown has its own wait).
        if !closing && !stopping && socket.connection().close_sent().is_some() {
            closing = true;
            deadline
                .as_mut()
                .reset(tokio::time::Instant::now() + limits.close_timeout);
        }
        let flush = over_high_water(&socket);
        tokio::select! {
            io = read_or_flush(&mut socket, flush) => {
                let open = match io {
                    Io::Read(read) => deliver(&mut handler, &mut socket, &mailbox, &address, read),
                    Io::Flushed(Ok(())) => true,
                    Io::Flushed(Err(error)) => {
                        handler.on_error(&error);
                        false
                    }
                };
                if !open {
                    return;
                }
            }
            mail = next_mail(mailbox.cell.get_mut(), flush, close_taken) => match mail {
                Mail::Message(message) => {
                    let _ = socket.queue(message);
                    // The rest that waits too, in the same turn.
                    if let Some(mailbox) = mailbox.cell.get_mut() {
                        while !over_high_water(&socket) {
                            let Ok(message) = mailbox.commands.try_recv() else { break };
                            let _ = socket.queue(message);
                        }
                    }
                }
                Mail::Close(frame) => {
                    close_taken = true;
                    start_close(&mut socket, mailbox.cell.get_mut(), frame);
                }
            },
            () = &mut shutdown, if !stopping => {
                stopping = true;
                let frame = CloseFrame::new(CloseCode::GoingAway, "server shutting down");
                start_close(&mut socket, mailbox.cell.get_mut(), frame);
            }
            () = &mut deadline, if closing => {
                let late = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client did not answer the close within {:?}", limits.close_timeout),
                );
                handler.on_error(&Error::io(Stage::Open, late));
                return;
            }
        }
    }
}

/// What the connection's I/O gave: a message (or its end), or the end of a flush.
enum Io {
    Read(Result<Message, Error>),
    Flushed(Result<(), Error>),
}

/// Reads; or, while too much output waits, only writes: a client that does not read is not read
/// from either, and its queue fills instead of the server's memory.
async fn read_or_flush(socket: &mut WebSocketStream<AsyncStream>, flush: bool) -> Io {
    if flush {
        Io::Flushed(socket.flush().await)
    } else {
        Io::Read(socket.read().await)
    }
}

fn over_high_water(socket: &WebSocketStream<AsyncStream>) -> bool {
    socket.connection().pending_output_len() >= OUTPUT_HIGH_WATER
}

/// Hands `read` to the handler, then every frame already buffered, without a select between
/// them (that select is most of the per-message cost). False once the connection has ended.
fn deliver<H: ServerHandler>(
    handler: &mut H,
    socket: &mut WebSocketStream<AsyncStream>,
    mailbox: &MailboxCell,
    address: &str,
    mut read: Result<Message, Error>,
) -> bool {
    loop {
        match read {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                let mut peer = Peer {
                    socket: &mut *socket,
                    mailbox,
                    address,
                };
                handler.on_message(&mut peer, message);
            }
            Ok(_) => {}
            Err(Error::ConnectionClosed) => {
                let close = socket.connection().close_received().cloned().flatten();
                handler.on_close(close.as_ref());
                return false;
            }
            Err(error) => {
                handler.on_error(&error);
                return false;
            }
        }
        if !socket.connection().has_buffered_frame() || over_high_water(socket) {
            return true;
        }
        // Polled once: a fragment can still need more input, and then the select waits for it
        // (`read` is cancel-safe).
        match socket.read().now_or_never() {
            Some(next) => read = next,
            None => return true,
        }
    }
}

/// Queues `frame` after what the connection's handles sent before it.
fn start_close(
    socket: &mut WebSocketStream<AsyncStream>,
    mailbox: Option<&mut Mailbox>,
    frame: CloseFrame,
) {
    if let Some(mailbox) = mailbox {
        while let Ok(message) = mailbox.commands.try_recv() {
            let _ = socket.queue(message);
        }
    }
    // The core refuses codes not allowed on the wire: close without a status then.
    if socket.queue(Message::Close(Some(frame))).is_err() {
        let _ = socket.queue(Message::Close(None));
    }
}
