//! A proxy tunnel's handshake as one step that both front-ends drive, sans-I/O: the core's
//! [`ProxyHandshake`], the buffer of the proxy's reply, what the tunnel leads to, and every
//! failure in the proxy stage's words. No socket, no clock: the loops in `dial.rs` (one per
//! front-end) only write [`TunnelStep::output`], read into [`TunnelStep::read_space`], and wait
//! until their deadline, as [`TunnelStep::want`] says.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use sockeye_proto::proxy::{Destination, ProxyError, ProxyHandshake};

#[cfg(feature = "tls")]
use crate::config::ClientConfig;
use crate::config::Target;
use crate::error::{Error, Stage};
use crate::options::proxy::ProxyScheme;
#[cfg(feature = "tls")]
use crate::options::tls::TlsOptions;
use crate::route::SelectedProxy;

/// The most bytes read from the proxy at once: its replies are short, and a refusal's body is
/// read only up to what diagnosis keeps.
const READ_CHUNK: usize = 512;

/// What a [`TunnelStep`] needs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// Write all of [`TunnelStep::output`] (and flush), then call [`TunnelStep::wrote`].
    Write,
    /// Read once into [`TunnelStep::read_space`], then call [`TunnelStep::received`].
    Read,
    /// The tunnel is open: the stream is the route.
    Open,
}

/// One tunnel's handshake through `proxy`. Drive it until [`want`](Self::want) is
/// [`Want::Open`]; any I/O error goes to [`failed`](Self::failed), running out of time to
/// [`timed_out`](Self::timed_out). Reading only into [`read_space`](Self::read_space) never
/// takes bytes past the proxy's reply (see [`ProxyHandshake::read_limit`]).
pub(crate) struct TunnelStep<'p> {
    proxy: &'p SelectedProxy,
    handshake: ProxyHandshake,
    /// The proxy's reply so far.
    reply: BytesMut,
    chunk: [u8; READ_CHUNK],
    /// `connect_timeout`, for the time-out error.
    limit: Option<Duration>,
    open: bool,
}

impl<'p> TunnelStep<'p> {
    /// The handshake asking `proxy` for a tunnel to `destination`; fails, before anything is
    /// sent, when the destination or credentials cannot be expressed in its protocol.
    pub(crate) fn new(
        proxy: &'p SelectedProxy,
        destination: Destination,
        limit: Option<Duration>,
    ) -> Result<Self, Error> {
        let handshake = ProxyHandshake::new(
            proxy.url.scheme.protocol(),
            destination,
            proxy.url.credentials.clone(),
        )
        .map_err(|reason| refused(proxy, reason))?;
        Ok(Self {
            proxy,
            handshake,
            reply: BytesMut::with_capacity(READ_CHUNK),
            chunk: [0; READ_CHUNK],
            limit,
            open: false,
        })
    }

    /// What to do next.
    pub(crate) fn want(&self) -> Want {
        if self.open {
            Want::Open
        } else if self.handshake.pending_output().is_empty() {
            Want::Read
        } else {
            Want::Write
        }
    }

    /// The bytes to write to the proxy now.
    pub(crate) fn output(&self) -> &[u8] {
        self.handshake.pending_output()
    }

    /// All of [`output`](Self::output) was written and flushed.
    pub(crate) fn wrote(&mut self) {
        let written = self.handshake.pending_output().len();
        self.handshake.consume_output(written);
    }

    /// Where to read the proxy's next bytes: as many as may be read now (at least one).
    pub(crate) fn read_space(&mut self) -> &mut [u8] {
        let want = self
            .handshake
            .read_limit(&self.reply)
            .clamp(1, self.chunk.len());
        &mut self.chunk[..want]
    }

    /// `read` bytes arrived in [`read_space`](Self::read_space) (0: the proxy closed the
    /// connection). Fails with the proxy's refusal, in words.
    pub(crate) fn received(&mut self, read: usize) -> Result<(), Error> {
        if read == 0 {
            return Err(refused(
                self.proxy,
                self.handshake.receive_eof(&mut self.reply),
            ));
        }
        self.reply.extend_from_slice(&self.chunk[..read]);
        let proxy = self.proxy;
        let tunnel = self
            .handshake
            .receive(&mut self.reply)
            .map_err(|reason| refused(proxy, reason))?;
        self.open = tunnel.is_some();
        Ok(())
    }

    /// An I/O error while talking to the proxy: `Ok` when the call is to be tried again
    /// (interrupted), else the error (see [`timed_out`](Self::timed_out) for a time-out).
    pub(crate) fn failed(&mut self, err: io::Error) -> Result<(), Error> {
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(());
        }
        Err(self.io_failure(err))
    }

    /// The deadline passed: the time-out, or the refusal whose body was still arriving.
    pub(crate) fn timed_out(&mut self) -> Error {
        self.io_failure(io::ErrorKind::TimedOut.into())
    }

    /// The proxy leaving is explained by the handshake (what it had said so far); a time-out
    /// is the proxy stage's, unless the proxy had refused already.
    fn io_failure(&mut self, err: io::Error) -> Error {
        use io::ErrorKind;
        match err.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut if self.handshake.refusal_pending() => {
                refused(self.proxy, self.handshake.receive_eof(&mut self.reply))
            }
            ErrorKind::WouldBlock | ErrorKind::TimedOut => Error::Timeout {
                stage: Stage::Proxy,
                after: self.limit.unwrap_or_default(),
            },
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => {
                refused(self.proxy, self.handshake.receive_eof(&mut self.reply))
            }
            _ => Error::io(Stage::Proxy, err),
        }
    }
}

/// What the tunnel leads to when sockeye need not resolve anything: the target as named (the
/// proxy resolves names: `http://`, `https://`, `socks4a://`, `socks5h://`), or its IP address.
/// `None` when the target's name is to be resolved here first (`socks4://`, `socks5://`: the
/// connection's DNS stage), and the address then chosen with [`pick_address`].
pub(crate) fn named_destination(proxy: &SelectedProxy, target: &Target) -> Option<Destination> {
    let destination = Destination::new(&target.host, target.port);
    let resolved_here =
        !proxy.url.scheme.resolves_remotely() && matches!(destination, Destination::Name { .. });
    (!resolved_here).then_some(destination)
}

/// Of the addresses resolved for the target, the one the proxy is sent: the first, except
/// that SOCKS4 (which has no IPv6) takes the first IPv4 address.
pub(crate) fn pick_address(proxy: &SelectedProxy, addrs: &[SocketAddr], port: u16) -> Destination {
    let pick = if proxy.url.scheme == ProxyScheme::Socks4 {
        addrs.iter().find(|addr| addr.is_ipv4()).or(addrs.first())
    } else {
        addrs.first()
    };
    // The resolvers fail rather than return no address.
    Destination::Addr(
        pick.copied()
            .unwrap_or_else(|| SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port)),
    )
}

/// [`Error::Proxy`] for what the proxy said.
pub(crate) fn refused(proxy: &SelectedProxy, reason: ProxyError) -> Error {
    Error::Proxy {
        proxy: proxy.to_string(),
        hint: reason.hint(),
        reason: Box::new(reason),
    }
}

/// Turns the errors of connecting to the proxy into proxy-stage errors that name it.
pub(crate) fn unreachable(proxy: &SelectedProxy, err: Error) -> Error {
    match err {
        Error::Dns { source, .. } => Error::ProxyUnreachable {
            proxy: proxy.to_string(),
            failed_at: Stage::Dns,
            source,
        },
        Error::Connect { source, .. } => Error::ProxyUnreachable {
            proxy: proxy.to_string(),
            failed_at: Stage::Tcp,
            source,
        },
        Error::Timeout { after, .. } => Error::Timeout {
            stage: Stage::Proxy,
            after,
        },
        Error::Io { source, .. } => Error::io(Stage::Proxy, source),
        other => other,
    }
}

/// The TLS options for an `https://` proxy: the connection's, checked against the proxy's
/// host name (the SNI override is for the WebSocket server only).
#[cfg(feature = "tls")]
pub(crate) fn proxy_tls_options(config: &ClientConfig) -> TlsOptions {
    let mut options = config.tls.clone();
    options.server_name = None;
    options
}

/// An `https://` proxy in a build without TLS.
#[cfg(not(feature = "tls"))]
pub(crate) fn no_tls(proxy: &SelectedProxy) -> Error {
    Error::Unsupported(format!(
        "the proxy {proxy} needs TLS, and this build of sockeye has no TLS (it was built without the `tls` feature); it will not talk to it unencrypted (enable the feature, or use an http:// proxy)"
    ))
}
