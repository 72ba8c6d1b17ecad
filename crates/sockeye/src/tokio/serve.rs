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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use sockeye_proto::connection::close::MAX_CLOSE_REASON_BYTES;
use sockeye_proto::connection::OUTPUT_HIGH_WATER;
use sockeye_proto::handshake::{Accept, Reject, Request};
use sockeye_proto::{CloseCode, CloseFrame, Message};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::ServerConfig;
use crate::error::{Error, Stage};
use crate::tokio::budget::Budget;
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
    /// Payload bytes waiting in the queue, for the server's memory budget.
    queued: Arc<AtomicUsize>,
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
        let size = payload_len(&message);
        // Counted before it can be taken, so the count never goes below zero.
        self.queued.fetch_add(size, Ordering::Relaxed);
        self.commands.try_send(message).map_err(|err| {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            match err {
                mpsc::error::TrySendError::Full(message) => PeerSendError::Full(message),
                mpsc::error::TrySendError::Closed(message) => PeerSendError::Closed(message),
            }
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
    queued: Arc<AtomicUsize>,
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
            let queued = Arc::new(AtomicUsize::new(0));
            Mailbox {
                handle: PeerHandle {
                    id: self.id,
                    commands,
                    queued: queued.clone(),
                    close,
                },
                commands: receiver,
                queued,
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

impl MailboxCell {
    /// Payload bytes waiting in the mailbox.
    fn queued(&self) -> usize {
        self.cell
            .get()
            .map_or(0, |mailbox| mailbox.queued.load(Ordering::Relaxed))
    }
}

impl Mailbox {
    /// The next message waiting, if any.
    fn try_take(&mut self) -> Option<Message> {
        let message = self.commands.try_recv().ok()?;
        self.queued
            .fetch_sub(payload_len(&message), Ordering::Relaxed);
        Some(message)
    }
}

/// The bytes a queued message holds.
fn payload_len(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data.len(),
        Message::Frame(frame) => frame.payload.len(),
        _ => 0,
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
        Some(message) = mailbox.commands.recv(), if !flush => {
            mailbox.queued.fetch_sub(payload_len(&message), Ordering::Relaxed);
            Mail::Message(message)
        }
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
///
/// # Limits
///
/// What a hostile client can hold is bounded: handshakes in progress
/// ([`max_pending_handshakes`](Self::max_pending_handshakes), each within
/// [`ServerConfig::handshake_timeout`] and `max_header_bytes`), open connections
/// ([`max_connections`](Self::max_connections), counted once the handshake is done, so
/// half-sent requests never take an open connection's place), the memory of all connections
/// together ([`ServerConfig::max_memory`]), and time: the receive timeouts of
/// [`ServerConfig::keepalive`], and a connection whose output makes no progress for its idle
/// timeout while the client reads nothing is dropped.
pub struct Server {
    config: ServerConfig,
    max_connections: Option<usize>,
    max_pending_handshakes: usize,
    shutdown_timeout: Duration,
    limits: Limits,
    decide: Arc<Decide>,
    shutdown: watch::Sender<bool>,
}

/// The [`Server`]'s settings.
#[derive(Clone, Copy, Debug)]
struct Limits {
    peer_queue: usize,
    close_timeout: Duration,
}

/// What every connection of a running [`Server`] shares.
#[derive(Debug)]
struct Shared {
    /// Permits for open connections (`max_connections`).
    open: Option<Arc<Semaphore>>,
    budget: Option<Arc<Budget>>,
    peer_queue: usize,
    close_timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("max_connections", &self.max_connections)
            .field("max_pending_handshakes", &self.max_pending_handshakes)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("peer_queue", &self.limits.peer_queue)
            .field("close_timeout", &self.limits.close_timeout)
            .finish_non_exhaustive()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The default of [`Server::max_pending_handshakes`]: 1024. Each holds at most
/// `max_header_bytes` (16 KiB) of request, plus a TLS session's buffers on `wss://`.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 1024;

impl Server {
    /// A server accepting every valid request, with no connection limit, at most
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`] handshakes at a time, a 5 s shutdown wait, queues of
    /// 1024 messages and a 5 s close timeout.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config,
            max_connections: None,
            max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
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

    /// Refuses handshakes with 503 while `limit` connections are open. Only connections whose
    /// handshake is done count: requests still arriving have their own limit,
    /// [`max_pending_handshakes`](Self::max_pending_handshakes).
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.max_connections = Some(limit);
        self
    }

    /// How many connections may be in their TLS or WebSocket handshake at once (0 counts as 1).
    /// While that many are, the server accepts no more: new clients wait in the kernel's
    /// listen backlog until a handshake ends (done, refused, or out of
    /// [`ServerConfig::handshake_timeout`]). Default: [`DEFAULT_MAX_PENDING_HANDSHAKES`].
    pub fn max_pending_handshakes(mut self, limit: usize) -> Self {
        self.max_pending_handshakes = limit.clamp(1, Semaphore::MAX_PERMITS);
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
        let limits = Arc::new(Shared {
            open: self
                .max_connections
                .map(|limit| Arc::new(Semaphore::new(limit))),
            budget: self.config.max_memory.map(Budget::new),
            peer_queue: self.limits.peer_queue,
            close_timeout: self.limits.close_timeout,
        });
        let pending = Arc::new(Semaphore::new(self.max_pending_handshakes));
        let mut stop = self.shutdown.subscribe();
        let mut tasks = JoinSet::new();
        let acceptor = listener.acceptor();
        loop {
            // A handshake slot first: while all are taken, clients wait in the listen backlog.
            let next = async {
                let slot = pending.clone().acquire_owned().await;
                (slot, listener.accept().await)
            };
            tokio::select! {
                (slot, accepted) = next => {
                    let (stream, address) = match accepted {
                        Ok(accepted) => accepted,
                        // Out of file descriptors and the like: keep serving the others.
                        Err(err) if is_transient(&err) => continue,
                        Err(err) => return Err(err),
                    };
                    let Ok(slot) = slot else { continue };
                    let span = crate::trace::peer_span(&address);
                    // A copy without the `tls` feature (the acceptor type is then uninhabited).
                    #[allow(clippy::clone_on_copy)]
                    let acceptor = acceptor.clone();
                    let mut handler = make_handler();
                    let config = self.config.clone();
                    let decide = self.decide.clone();
                    let limits = limits.clone();
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
                        run_connection(stream, address, config, decide, limits, slot, handler, stop)
                            .await;
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

/// The 503 for a client that completed its request while every connection slot is taken.
fn busy() -> Reject {
    Reject::new(503, "too many connections; try again later\n").header("Retry-After", "1")
}

#[allow(clippy::too_many_arguments)]
async fn run_connection<H: ServerHandler>(
    stream: AsyncStream,
    address: String,
    config: ServerConfig,
    decide: Arc<Decide>,
    shared: Arc<Shared>,
    handshake_slot: OwnedSemaphorePermit,
    mut handler: H,
    mut stop: watch::Receiver<bool>,
) {
    // Taken when the request is complete, so only finished handshakes compete for it.
    let mut open_slot = None;
    let take_slot = |request: &Request| {
        if let Some(open) = &shared.open {
            match open.clone().try_acquire_owned() {
                Ok(permit) => open_slot = Some(permit),
                Err(_) => return Err(busy()),
            }
        }
        decide(request)
    };
    // Boxed: the handshake's state is large and lives only until it ends, while the
    // connection's future keeps its largest state for the connection's whole life.
    let accepting = Box::pin(accept_async_with(stream, &config, take_slot));
    let accepted = accepting.await;
    drop(handshake_slot);
    let (mut socket, request) = match accepted {
        Ok(accepted) => accepted,
        Err(error) => {
            handler.on_error(&error);
            return;
        }
    };
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut mailbox = MailboxCell {
        cell: OnceCell::new(),
        id,
        capacity: shared.peer_queue,
    };
    if let Some(budget) = &shared.budget {
        let share = budget.join(id);
        // The budget wakes this task when it picks this connection; the read (or flush) then
        // finds out as it reports, and fails.
        std::future::poll_fn(|cx| {
            share.wake_on_eviction(cx.waker());
            std::task::Poll::Ready(())
        })
        .await;
        socket.set_budget(share);
    }
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
    let mut deadline = pin!(tokio::time::sleep(shared.close_timeout));
    // A client that reads nothing while output waits is dropped after this long without
    // progress (the idle timeout: keepalive cannot run while the connection only writes).
    let stall_limit = config.keepalive.as_ref().and_then(|k| k.idle_timeout);
    let mut stall = pin!(tokio::time::sleep(stall_limit.unwrap_or(Duration::MAX / 4)));
    let mut stall_mark = None;
    let (mut stopping, mut close_taken, mut closing) = (false, false, false);
    loop {
        // The stream reports what its core holds each time its read waits; what waits in the
        // queue, and the core while only writing, are reported here.
        if let Some(share) = socket.budget() {
            let queued = mailbox.queued();
            if queued != share.queued() {
                share.report_queued(queued);
            }
        }
        // A close this side started must be answered in time (shutdown has its own wait).
        if !closing && !stopping && socket.connection().close_sent().is_some() {
            closing = true;
            deadline
                .as_mut()
                .reset(tokio::time::Instant::now() + shared.close_timeout);
        }
        let flush = over_high_water(&socket);
        if flush {
            socket.report_memory();
        }
        if let (true, Some(limit)) = (flush, stall_limit) {
            // Armed when the flushing starts, and again whenever some of it went out.
            let pending = socket.connection().pending_output_len();
            if stall_mark.is_none_or(|mark| pending < mark) {
                stall_mark = Some(pending);
                stall.as_mut().reset(tokio::time::Instant::now() + limit);
            }
        } else {
            stall_mark = None;
        }
        tokio::select! {
            io = read_or_flush(&mut socket, flush) => {
                let open = match io {
                    Io::Read(read) => deliver(&mut handler, &mut socket, &mailbox, &address, read),
                    Io::Flushed(Ok(())) => true,
                    // Output the client does not read would only keep the memory: drop it now.
                    Io::Flushed(Err(error)) | Io::Evicted(error) => {
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
                            let Some(message) = mailbox.try_take() else { break };
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
                    format!("the client did not answer the close within {:?}", shared.close_timeout),
                );
                handler.on_error(&Error::io(Stage::Open, late));
                return;
            }
            () = &mut stall, if stall_mark.is_some() => {
                let pending = socket.connection().pending_output_len();
                if stall_mark.is_some_and(|mark| pending < mark) {
                    // Some went out after all: give it another period.
                    continue;
                }
                let stalled = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the client read nothing for {:?} while {pending} bytes waited for it (idle_timeout)",
                        stall_limit.unwrap_or_default()
                    ),
                );
                handler.on_error(&Error::io(Stage::Open, stalled));
                return;
            }
        }
    }
}

/// What the connection's I/O gave: a message (or its end), or the end of a flush.
enum Io {
    Read(Result<Message, Error>),
    Flushed(Result<(), Error>),
    /// The memory budget picked this connection while it was only writing.
    Evicted(Error),
}

/// Reads; or, while too much output waits, only writes: a client that does not read is not read
/// from either, and its queue fills instead of the server's memory.
async fn read_or_flush(socket: &mut WebSocketStream<AsyncStream>, flush: bool) -> Io {
    if !flush {
        return Io::Read(socket.read().await);
    }
    std::future::poll_fn(|cx| {
        socket.report_memory();
        if let Some(error) = socket.connection().failure() {
            return std::task::Poll::Ready(Io::Evicted(Error::Protocol(error.clone())));
        }
        socket.poll_write_output(cx).map(Io::Flushed)
    })
    .await
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
        while let Some(message) = mailbox.try_take() {
            let _ = socket.queue(message);
        }
    }
    // The core refuses codes not allowed on the wire: close without a status then.
    if socket.queue(Message::Close(Some(frame))).is_err() {
        let _ = socket.queue(Message::Close(None));
    }
}
