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

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sockeye_proto::handshake::{Accept, Reject, Request};
use sockeye_proto::{CloseCode, CloseFrame, Message};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::ServerConfig;
use crate::error::Error;
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
#[derive(Clone, Debug)]
pub struct PeerHandle {
    id: u64,
    commands: mpsc::UnboundedSender<Message>,
}

impl PeerHandle {
    /// The connection's id, unique within the process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queues a message for the connection; false once it has ended.
    pub fn send(&self, message: Message) -> bool {
        self.commands.send(message).is_ok()
    }
}

/// One open connection, as the handler sees it.
pub struct Peer<'a> {
    socket: &'a mut WebSocketStream<AsyncStream>,
    handle: &'a PeerHandle,
    address: &'a str,
}

impl Peer<'_> {
    /// Queues a message; it is written as soon as the callback returns.
    pub fn send(&mut self, message: Message) {
        // Refused only after the close was sent; nothing useful to report then.
        let _ = self.socket.queue(message);
    }

    /// Starts the close handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        let _ = self
            .socket
            .queue(Message::Close(Some(CloseFrame::new(code, reason))));
    }

    /// A handle to this connection for other tasks (broadcast, for example).
    pub fn handle(&self) -> PeerHandle {
        self.handle.clone()
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
pub struct Server {
    config: ServerConfig,
    max_connections: Option<usize>,
    shutdown_timeout: Duration,
    decide: Arc<Decide>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("max_connections", &self.max_connections)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Server {
    /// A server accepting every valid request, with no connection limit and a 5 s shutdown wait.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config,
            max_connections: None,
            shutdown_timeout: Duration::from_secs(5),
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
                    let stop = self.shutdown.subscribe();
                    let connection = async move {
                        handler.on_connect(&address);
                        let stream = match secure(stream, acceptor, &config).await {
                            Ok(stream) => stream,
                            Err(error) => {
                                handler.on_error(&error);
                                return;
                            }
                        };
                        run_connection(stream, address, config, decide, handler, stop).await;
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
    mut handler: H,
    mut stop: watch::Receiver<bool>,
) {
    let (mut socket, request) = match accept_async_with(stream, &config, |r| decide(r)).await {
        Ok(accepted) => accepted,
        Err(error) => {
            handler.on_error(&error);
            return;
        }
    };
    let (sender, mut commands) = mpsc::unbounded_channel();
    let handle = PeerHandle {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        commands: sender,
    };
    handler.on_open(
        &mut Peer {
            socket: &mut socket,
            handle: &handle,
            address: &address,
        },
        &request,
    );
    let mut stopping = *stop.borrow();
    loop {
        if stopping && socket.connection().close_sent().is_none() {
            let _ = socket.queue(Message::Close(Some(CloseFrame::new(
                CloseCode::GoingAway,
                "server shutting down",
            ))));
        }
        tokio::select! {
            read = socket.read() => match read {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    let mut peer = Peer { socket: &mut socket, handle: &handle, address: &address };
                    handler.on_message(&mut peer, message);
                }
                Ok(_) => {}
                Err(Error::ConnectionClosed) => {
                    handler.on_close(socket.connection().close_received().cloned().flatten().as_ref());
                    return;
                }
                Err(error) => {
                    handler.on_error(&error);
                    return;
                }
            },
            Some(message) = commands.recv() => {
                let _ = socket.queue(message);
            }
            changed = stop.changed(), if !stopping => {
                stopping = changed.is_err() || *stop.borrow();
            }
        }
    }
}
