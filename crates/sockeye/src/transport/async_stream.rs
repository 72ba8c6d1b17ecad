//! The tokio counterpart of [`Stream`](super::Stream): [`AsyncStream`], and the TCP connect and
//! time limits that `dial_async` and the proxy tunnel use.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::{Error, Stage};
use crate::timings::Timings;
use crate::transport::tcp::SocketOptions;

/// A connected async stream: whichever route and wrapping the configuration chose.
#[derive(Debug)]
#[non_exhaustive]
pub enum AsyncStream {
    /// Plain TCP (directly or through a proxy tunnel).
    Tcp(TcpStream),
    /// A Unix domain socket.
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    /// TLS (`wss://`, or an `https://` proxy) over one of the others.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<AsyncStream>>),
    /// The server side of TLS, over an accepted stream (see
    /// [`Listener::tls`](crate::tokio::Listener::tls)).
    #[cfg(feature = "tls")]
    TlsServer(Box<tokio_rustls::server::TlsStream<AsyncStream>>),
}

macro_rules! each_stream {
    ($self:expr, $stream:ident => $body:expr) => {
        match $self {
            AsyncStream::Tcp($stream) => $body,
            #[cfg(unix)]
            AsyncStream::Unix($stream) => $body,
            #[cfg(feature = "tls")]
            AsyncStream::Tls($stream) => $body,
            #[cfg(feature = "tls")]
            AsyncStream::TlsServer($stream) => $body,
        }
    };
}

impl AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A TCP end without TLS close_notify is an end of stream: the WebSocket close handshake
        // is what tells a complete conversation from a cut one.
        #[cfg(feature = "tls")]
        if let AsyncStream::Tls(_) | AsyncStream::TlsServer(_) = this {
            let read = each_stream!(this, s => std::task::ready!(Pin::new(s).poll_read(cx, buf)));
            return match read {
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
                read => Poll::Ready(read),
            };
        }
        each_stream!(this, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each_stream!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

pub(crate) async fn within<T>(
    limit: Option<Duration>,
    stage: Stage,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        Some(after) => tokio::time::timeout(after, work)
            .await
            .map_err(|_| Error::Timeout { stage, after })?,
        None => work.await,
    }
}

/// [`within`] for work that shares a deadline with the work before it: it must be done by
/// `deadline`, which is `limit` after the first of them started (the time-out names `limit`).
pub(crate) async fn until<T>(
    deadline: Option<tokio::time::Instant>,
    limit: Option<Duration>,
    stage: Stage,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match deadline {
        Some(deadline) => {
            tokio::time::timeout_at(deadline, work)
                .await
                .map_err(|_| Error::Timeout {
                    stage,
                    after: limit.unwrap_or_default(),
                })?
        }
        None => work.await,
    }
}

/// Resolves `host` (DNS stage) and connects to the first address that accepts (TCP stage).
pub(crate) async fn connect_tcp(
    host: &str,
    port: u16,
    options: SocketOptions,
) -> Result<TcpStream, Error> {
    connect_tcp_timed(host, port, options, &mut Timings::default()).await
}

/// [`connect_tcp`], noting how long resolving and connecting took.
pub(crate) async fn connect_tcp_timed(
    host: &str,
    port: u16,
    options: SocketOptions,
    timings: &mut Timings,
) -> Result<TcpStream, Error> {
    let started = Instant::now();
    let addrs = resolve(host, port).await;
    timings.set(Stage::Dns, started.elapsed());
    let addrs = addrs?;
    let started = Instant::now();
    let connected = connect_addrs(host, &addrs, options).await;
    timings.set(Stage::Tcp, started.elapsed());
    connected
}

/// Resolves `host:port` (DNS stage) without blocking the runtime: the tokio twin of
/// [`tcp::resolve`](super::tcp::resolve). `getaddrinfo` runs on tokio's blocking pool, so other
/// tasks keep running and a caller's time limit (`tokio::time::timeout`) bounds the wait.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Vec<std::net::SocketAddr>, Error> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| super::tcp::dns_error(host, source))?
        .collect();
    if addrs.is_empty() {
        return Err(super::tcp::no_addresses(host));
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` (resolved for `host`) that accepts (TCP stage).
async fn connect_addrs(
    host: &str,
    addrs: &[std::net::SocketAddr],
    options: SocketOptions,
) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs.iter().filter(|addr| options.fits(addr)) {
        match dial(*addr, options).await {
            Ok(stream) => return Ok(stream),
            Err(source) => {
                last = Some(Error::Connect {
                    addr: addr.to_string(),
                    source,
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| super::tcp::no_addresses_for(host, options)))
}

/// The tokio twin of the blocking dial: a socket for `addr` with `options` set, bound to the
/// local address if there is one, then connected.
async fn dial(addr: std::net::SocketAddr, options: SocketOptions) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_keepalive(options.keepalive)?;
    if let Some(local) = options.local_address {
        socket.bind(std::net::SocketAddr::new(local, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(options.nodelay)?;
    Ok(stream)
}
