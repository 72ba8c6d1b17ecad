//! Proxy handshakes, sans-I/O: HTTP `CONNECT` (RFC 9110 section 9.3.6) with Basic
//! authentication, SOCKS4 and SOCKS4a, SOCKS5 (RFC 1928) with username/password authentication
//! (RFC 1929).
//!
//! A [`ProxyHandshake`] opens a tunnel through a proxy to a [`Destination`]. It never touches a
//! socket: the caller connects to the proxy, then drives the handshake in this order until it
//! reports the tunnel open or fails:
//!
//! 1. write [`pending_output`](ProxyHandshake::pending_output) and report what was written with
//!    [`consume_output`](ProxyHandshake::consume_output);
//! 2. read **at most** [`read_limit`](ProxyHandshake::read_limit) bytes from the proxy and append
//!    them to the buffer (the caller owns it); at end of stream, call
//!    [`receive_eof`](ProxyHandshake::receive_eof) for the error that explains it;
//! 3. call [`receive`](ProxyHandshake::receive): `Ok(None)` means go back to 1, `Ok(Some(tunnel))`
//!    means the tunnel is open, `Err` is final (and sticky).
//!
//! Reading no more than `read_limit` guarantees that nothing past the proxy's reply is consumed,
//! so the caller never has bytes of the tunnelled connection in its hands before the tunnel is
//! open (curl reads `CONNECT` replies byte by byte for the same reason). `receive` removes the
//! reply from the buffer; anything left there after the tunnel opens came from the destination.
//!
//! Which protocol sends the destination's name and which an address:
//!
//! | protocol | [`Destination::Name`] | [`Destination::Addr`] |
//! |---|---|---|
//! | HTTP `CONNECT` | `CONNECT name:port` (the proxy resolves) | `CONNECT 192.0.2.1:port`, `CONNECT [2001:db8::1]:port` |
//! | SOCKS4 | SOCKS4a: `0.0.0.1` and the name (the proxy resolves) | IPv4 only |
//! | SOCKS5 | address type 3, the name (the proxy resolves: `socks5h`) | address type 1 or 4 |
//!
//! So "remote DNS" (`socks5h://`, `socks4a://`) is a [`Destination::Name`], and local resolution
//! (`socks5://`, `socks4://`) is the caller resolving first and passing a [`Destination::Addr`].
//!
//! ```
//! use bytes::BytesMut;
//! use sockeye_proto::proxy::{Destination, ProxyHandshake, ProxyProtocol};
//!
//! let destination = Destination::new("example.com", 443);
//! let mut handshake = ProxyHandshake::new(ProxyProtocol::Socks5, destination, None)?;
//! assert_eq!(handshake.pending_output(), [5, 1, 0]); // version 5, one method: no auth
//! handshake.consume_output(3);
//!
//! let mut buf = BytesMut::from(&[5u8, 0][..]); // the proxy picks "no authentication"
//! assert!(handshake.receive(&mut buf)?.is_none());
//! // The CONNECT request, with the name for the proxy to resolve (address type 3).
//! assert_eq!(&handshake.pending_output()[..5], [5, 1, 0, 3, 11]);
//! let n = handshake.pending_output().len();
//! handshake.consume_output(n);
//!
//! buf.extend_from_slice(&[5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90]); // succeeded, bound 10.0.0.1:8080
//! let tunnel = handshake.receive(&mut buf)?.expect("the tunnel is open");
//! assert!(buf.is_empty());
//! # let _ = tunnel;
//! # Ok::<(), sockeye_proto::proxy::ProxyError>(())
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use bytes::{Bytes, BytesMut};

pub use crate::handshake::body::body_text;
use crate::handshake::body::RefusalBody;
use crate::handshake::Headers;

mod error;
mod http;
mod socks;

pub use error::{socks4_reply_meaning, socks5_reply_meaning, ProxyError};
use http::head_read_limit;
use socks::socks5_reply_len;

/// Largest `CONNECT` response head accepted: 16 KiB.
pub const MAX_REPLY_HEAD_BYTES: usize = 16 * 1024;

/// How much of a refusal's body is kept for diagnosis: 4 KiB. Reading stops once that much
/// has arrived; at most
/// [`MAX_ERROR_BODY_READ_BYTES`](crate::handshake::body::MAX_ERROR_BODY_READ_BYTES) (64 KiB)
/// of the body are read to get it, and a chunked body is decoded as it arrives, its lines
/// bounded (see [`crate::handshake::body`]).
pub const MAX_REFUSAL_BODY_BYTES: usize = 4 * 1024;

/// Which proxy protocol a [`ProxyHandshake`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyProtocol {
    /// HTTP `CONNECT`, optionally with `Proxy-Authorization: Basic`.
    HttpConnect,
    /// SOCKS4 for an IPv4 [`Destination::Addr`], SOCKS4a for a [`Destination::Name`].
    Socks4,
    /// SOCKS5, with no authentication or with username/password.
    Socks5,
}

impl fmt::Display for ProxyProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HttpConnect => "HTTP CONNECT",
            Self::Socks4 => "SOCKS4",
            Self::Socks5 => "SOCKS5",
        })
    }
}

/// Where the tunnel should lead.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A host name, resolved by the proxy.
    Name {
        /// The host name, without brackets or port.
        host: String,
        /// The port.
        port: u16,
    },
    /// An address, already resolved (or given as an IP literal).
    Addr(SocketAddr),
}

impl Destination {
    /// A destination from a URL's host: an IP literal (IPv6 with or without brackets) becomes
    /// [`Destination::Addr`], anything else [`Destination::Name`].
    pub fn new(host: &str, port: u16) -> Self {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => Self::Addr(SocketAddr::new(ip, port)),
            Err(_) => Self::Name {
                host: host.to_string(),
                port,
            },
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Self::Name { port, .. } => *port,
            Self::Addr(addr) => addr.port(),
        }
    }

    /// `host:port` as an HTTP `CONNECT` target (RFC 9110 section 9.3.6): IPv6 in brackets.
    pub fn authority(&self) -> String {
        match self {
            Self::Name { host, port } => format!("{host}:{port}"),
            Self::Addr(addr) => addr.to_string(),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority())
    }
}

/// A user name and password for the proxy. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The user name (SOCKS4: the user ID).
    pub username: String,
    /// The password (unused by SOCKS4).
    pub password: String,
}

impl Credentials {
    /// A user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The proxy opened the tunnel. What it said about it, for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tunnel {
    /// The protocol spoken.
    pub protocol: ProxyProtocol,
    /// HTTP `CONNECT`: the status code (2xx).
    pub status: Option<u16>,
    /// HTTP `CONNECT`: the reason phrase.
    pub reason: Option<String>,
    /// HTTP `CONNECT`: the response headers.
    pub headers: Headers,
    /// SOCKS: the address and port the proxy bound for the tunnel, when it reports one
    /// (SOCKS4 proxies often send zeros).
    pub bound: Option<Destination>,
    /// The proxy's reply exactly as received (the last reply, for SOCKS5).
    pub reply: Bytes,
}

/// Where a handshake stands.
#[derive(Debug)]
enum State {
    /// HTTP: waiting for the reply head.
    HttpHead,
    /// HTTP: a refusal; reading up to [`MAX_REFUSAL_BODY_BYTES`] of its body for diagnosis.
    HttpBody {
        refusal: Box<ProxyError>,
        body: Box<RefusalBody>,
    },
    /// SOCKS4: waiting for the 8-byte reply.
    Socks4Reply,
    /// SOCKS5: waiting for the method selection (2 bytes).
    Socks5Method,
    /// SOCKS5: waiting for the username/password status (2 bytes).
    Socks5Auth,
    /// SOCKS5: waiting for the reply to CONNECT (at least 10 bytes).
    Socks5Reply,
    /// The tunnel is open.
    Open,
    /// The handshake failed with this error.
    Failed(ProxyError),
}

/// One proxy handshake: the bytes to send and the reply checks, for one tunnel. See the
/// [module documentation](self) for the drive loop.
#[derive(Debug)]
pub struct ProxyHandshake {
    protocol: ProxyProtocol,
    destination: Destination,
    credentials: Option<Credentials>,
    output: Vec<u8>,
    state: State,
}

impl ProxyHandshake {
    /// A handshake asking `protocol`'s proxy for a tunnel to `destination`.
    ///
    /// Credentials: HTTP sends them as `Proxy-Authorization: Basic`; SOCKS5 offers
    /// username/password (RFC 1929) next to "no authentication"; SOCKS4 sends the user name as
    /// its user ID and ignores the password.
    ///
    /// Fails, before anything is sent, when the destination or credentials cannot be expressed:
    /// SOCKS4 with an IPv6 address, a name or credential longer than 255 bytes for SOCKS5, NUL
    /// bytes for SOCKS4, CR/LF/NUL in an HTTP request.
    pub fn new(
        protocol: ProxyProtocol,
        destination: Destination,
        credentials: Option<Credentials>,
    ) -> Result<Self, ProxyError> {
        let mut handshake = Self {
            protocol,
            destination,
            credentials,
            output: Vec::new(),
            state: State::Open,
        };
        let (output, state) = match protocol {
            ProxyProtocol::HttpConnect => (handshake.http_request()?, State::HttpHead),
            ProxyProtocol::Socks4 => (handshake.socks4_request()?, State::Socks4Reply),
            ProxyProtocol::Socks5 => {
                // Check the request and credentials now, so that nothing is sent for a
                // destination that cannot be asked for.
                handshake.socks5_request()?;
                handshake.socks5_auth_request()?;
                (handshake.socks5_greeting(), State::Socks5Method)
            }
        };
        handshake.output = output;
        handshake.state = state;
        Ok(handshake)
    }

    /// The protocol spoken.
    pub fn protocol(&self) -> ProxyProtocol {
        self.protocol
    }

    /// Where the tunnel leads.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Bytes to write to the proxy now.
    pub fn pending_output(&self) -> &[u8] {
        &self.output
    }

    /// Reports that the first `n` bytes of [`pending_output`](Self::pending_output) were written.
    pub fn consume_output(&mut self, n: usize) {
        self.output.drain(..n.min(self.output.len()));
    }

    /// True once the tunnel is open.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// True while the body of an HTTP refusal is being read: the proxy has already said no,
    /// and [`receive_eof`](Self::receive_eof) gives that answer with whatever body arrived (for
    /// a caller whose time ran out).
    pub fn refusal_pending(&self) -> bool {
        matches!(self.state, State::HttpBody { .. })
    }

    /// The most bytes the caller may read from the proxy now, given what is already `buffered`,
    /// without reading past the proxy's reply. 0 when nothing is expected (the tunnel is open,
    /// the handshake failed, or output is pending).
    pub fn read_limit(&self, buffered: &[u8]) -> usize {
        if !self.output.is_empty() {
            return 0;
        }
        let total = |needed: usize| needed.saturating_sub(buffered.len());
        match &self.state {
            State::HttpHead => head_read_limit(buffered),
            State::HttpBody { body, .. } => body.wanted().saturating_sub(buffered.len()).max(1),
            State::Socks4Reply => total(8),
            State::Socks5Method | State::Socks5Auth => total(2),
            State::Socks5Reply => match buffered.get(3) {
                Some(&atyp) => total(socks5_reply_len(atyp, buffered.get(4).copied())),
                None => total(5),
            },
            State::Open | State::Failed(_) => 0,
        }
    }

    /// Feeds the bytes received so far (accumulated in `buf`; the caller appends).
    ///
    /// `Ok(None)`: write [`pending_output`](Self::pending_output) if any, then read more.
    /// `Ok(Some(tunnel))`: the tunnel is open and the reply was removed from `buf`.
    /// `Err`: the proxy refused or misbehaved; every later call returns the same error.
    pub fn receive(&mut self, buf: &mut BytesMut) -> Result<Option<Tunnel>, ProxyError> {
        let result = match &self.state {
            State::Failed(err) => return Err(err.clone()),
            State::Open => return Ok(None),
            State::HttpHead => self.receive_http_head(buf),
            State::HttpBody { .. } => self.receive_http_body(buf, false),
            State::Socks4Reply => self.receive_socks4(buf),
            State::Socks5Method => self.receive_socks5_method(buf),
            State::Socks5Auth => self.receive_socks5_auth(buf),
            State::Socks5Reply => self.receive_socks5_reply(buf),
        };
        match result {
            Ok(Some(tunnel)) => {
                self.state = State::Open;
                Ok(Some(tunnel))
            }
            Ok(None) => Ok(None),
            Err(err) => {
                self.output.clear();
                self.state = State::Failed(err.clone());
                Err(err)
            }
        }
    }

    /// Tells the handshake that the proxy closed the connection (or that no more bytes will be
    /// read, for example after a timeout while reading a refusal's body). Returns the error that
    /// explains it: a refusal complete with what arrived of its body, or [`ProxyError::Closed`].
    pub fn receive_eof(&mut self, buf: &mut BytesMut) -> ProxyError {
        if let State::HttpBody { .. } = self.state {
            if let Err(err) = self.receive_http_body(buf, true) {
                self.state = State::Failed(err.clone());
                return err;
            }
        }
        // A SOCKS refusal whose first bytes arrived (some proxies close without the padding).
        if let (State::Socks5Reply, [5, code, ..]) = (&self.state, &buf[..]) {
            if *code != 0 {
                let err = ProxyError::Socks5Refused {
                    destination: self.destination.to_string(),
                    code: *code,
                };
                self.state = State::Failed(err.clone());
                return err;
            }
        }
        if let (State::Socks4Reply, [0, code, ..]) = (&self.state, &buf[..]) {
            if *code != 90 {
                let err = ProxyError::Socks4Refused {
                    destination: self.destination.to_string(),
                    code: *code,
                };
                self.state = State::Failed(err.clone());
                return err;
            }
        }
        let during = match self.state {
            State::Failed(ref err) => return err.clone(),
            State::HttpHead | State::HttpBody { .. } => "before answering CONNECT",
            State::Socks4Reply => "before answering the SOCKS4 request",
            State::Socks5Method => "before choosing an authentication method",
            State::Socks5Auth => "before answering the username/password authentication",
            State::Socks5Reply => "before answering CONNECT",
            State::Open => "after opening the tunnel",
        };
        let err = ProxyError::Closed {
            protocol: self.protocol,
            during,
            received: buf.len(),
        };
        self.state = State::Failed(err.clone());
        err
    }

    // -- shared ------------------------------------------------------------------------------

    fn unsupported_destination(&self, why: &'static str) -> ProxyError {
        ProxyError::UnsupportedDestination {
            protocol: self.protocol,
            destination: self.destination.to_string(),
            why,
        }
    }
}
