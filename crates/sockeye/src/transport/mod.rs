//! Transports: how the bytes reach the peer.
//!
//! [`dial`] (blocking) and `dial_async` (tokio) turn a [`ClientConfig`] into a connected stream,
//! in this order, each step with its own error stage:
//!
//! 1. the route: a Unix socket, a proxy (its own TCP connection and handshake), or direct TCP
//!    (DNS, then connect);
//! 2. TLS, for `wss://`;
//!
//! and return one stream type per front-end ([`Stream`], [`AsyncStream`]) so that callers get the
//! same `WebSocket` type whatever the route.
//!
//! # Name resolution
//!
//! Host names are resolved where the route needs them: the WebSocket server's (direct, or
//! through a `socks4://` or `socks5://` proxy, which are sent an address) and the proxy's.
//! Each is the DNS stage of [`Timings`] for the server's name, part of the proxy stage for the
//! proxy's.
//!
//! - The blocking front-end resolves on the calling thread with the system resolver
//!   ([`tcp::resolve`], `getaddrinfo`), which has no time limit of its own: `connect_timeout`
//!   bounds the connects that follow it.
//! - The tokio front-end never resolves on the runtime thread: it uses
//!   `tokio::net::lookup_host` (`getaddrinfo` on tokio's blocking pool), so other tasks keep
//!   running, and resolving counts against `connect_timeout` (with connecting to the server,
//!   or with connecting to the proxy). A resolution that runs out of time is
//!   [`Error::Timeout`] at [`Stage::Dns`] for the server's name (direct, or sent to a SOCKS
//!   proxy as an address) and at [`Stage::Proxy`] for the proxy's name. For a direct
//!   connection, DNS and TCP run under one limit: the time-out is at the stage that was still
//!   running, and [`Timings`] gives that stage the time.
//!
//! The tokio path does no other blocking I/O, except reading small local files when a TLS
//! configuration is built: the CA file and client certificate and key of [`tls::TlsOptions`]
//! (for each connection, unless `rustls_config` is given) and the system trust store (once per
//! process).
//!
//! [`ClientConfig`]: crate::ClientConfig
//! [`Timings`]: crate::timings::Timings
//! [`Error::Timeout`]: crate::Error::Timeout
//! [`Stage::Dns`]: crate::Stage::Dns
//! [`Stage::Proxy`]: crate::Stage::Proxy

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub mod proxy;
pub mod tcp;
pub mod tls;
#[cfg(unix)]
pub mod unix;

#[cfg(feature = "tokio")]
pub(crate) mod async_stream;
pub(crate) mod route;
pub use crate::route::Route;
#[cfg(feature = "tokio")]
pub use async_stream::AsyncStream;
pub use proxy::choose_route;
pub use route::dial;
#[cfg(feature = "tokio")]
pub use route::dial_async;
pub(crate) use route::dial_timed;

/// A connected blocking stream: whichever route and wrapping the configuration chose.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// Plain TCP (directly or through a proxy tunnel).
    Tcp(TcpStream),
    /// A Unix domain socket.
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
    /// TLS (`wss://`, or an `https://` proxy) over one of the others.
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Stream>>),
}

impl Stream {
    /// Sets the read timeout of the underlying socket.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.set_read_timeout(timeout),
            #[cfg(unix)]
            Self::Unix(stream) => stream.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.get_ref().set_read_timeout(timeout),
        }
    }

    /// The read timeout of the underlying socket.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        match self {
            Self::Tcp(stream) => stream.read_timeout(),
            #[cfg(unix)]
            Self::Unix(stream) => stream.read_timeout(),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.get_ref().read_timeout(),
        }
    }

    /// Sets the write timeout of the underlying socket.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.set_write_timeout(timeout),
            #[cfg(unix)]
            Self::Unix(stream) => stream.set_write_timeout(timeout),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.get_ref().set_write_timeout(timeout),
        }
    }

    /// The peer's address, for logs and traces (`unix:PATH` for Unix sockets).
    pub fn peer_description(&self) -> String {
        match self {
            Self::Tcp(stream) => stream
                .peer_addr()
                .map_or_else(|_| "?".into(), |addr| addr.to_string()),
            #[cfg(unix)]
            Self::Unix(stream) => stream
                .peer_addr()
                .ok()
                .and_then(|addr| addr.as_pathname().map(|p| format!("unix:{}", p.display())))
                .unwrap_or_else(|| "unix".into()),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.get_ref().peer_description(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.read(buf),
            #[cfg(unix)]
            Self::Unix(stream) => stream.read(buf),
            // A TCP end without TLS close_notify is an end of stream: the WebSocket close
            // handshake is what tells a complete conversation from a cut one.
            #[cfg(feature = "tls")]
            Self::Tls(stream) => match stream.read(buf) {
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                read => read,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.write(buf),
            #[cfg(unix)]
            Self::Unix(stream) => stream.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.write_vectored(bufs),
            #[cfg(unix)]
            Self::Unix(stream) => stream.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => {
                let rustls::StreamOwned { conn, sock } = &mut **stream;
                rustls::Stream::new(conn, sock).write_vectored(bufs)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.flush(),
            #[cfg(unix)]
            Self::Unix(stream) => stream.flush(),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.flush(),
        }
    }
}
