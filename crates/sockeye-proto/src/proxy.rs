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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use crate::handshake::body::RefusalBody;
use crate::handshake::headers::write_header;
use crate::handshake::{escape_preview, BodyProblem, Headers};

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

/// Why the proxy did not open the tunnel. Fatal: a handshake that failed keeps failing.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The destination cannot be expressed in this protocol; nothing was sent.
    #[error("cannot ask a {protocol} proxy for {destination}: {why}")]
    UnsupportedDestination {
        /// The protocol.
        protocol: ProxyProtocol,
        /// The destination as asked.
        destination: String,
        /// Why not.
        why: &'static str,
    },
    /// The credentials cannot be sent in this protocol; nothing was sent.
    #[error("cannot send these credentials to a {protocol} proxy: {why}")]
    UnsupportedCredentials {
        /// The protocol.
        protocol: ProxyProtocol,
        /// Why not.
        why: &'static str,
    },
    /// The HTTP proxy answered `CONNECT` with a status other than 2xx.
    #[error(
        "the proxy answered \"{status} {reason}\" to CONNECT {destination}{}{}",
        challenge_suffix(headers),
        body_problem.map(|problem| format!(", and {problem}")).unwrap_or_default()
    )]
    HttpRefused {
        /// What was asked for.
        destination: String,
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
        /// The response headers (`Proxy-Authenticate`, `X-Squid-Error`…).
        headers: Headers,
        /// Up to [`MAX_REFUSAL_BODY_BYTES`] of the body.
        body: Bytes,
        /// Whether the request carried `Proxy-Authorization`.
        sent_credentials: bool,
        /// What is wrong with the body, when it is broken or endless (the refusal stands).
        body_problem: Option<BodyProblem>,
    },
    /// The HTTP proxy's reply is not HTTP/1.x.
    #[error("the proxy's reply to CONNECT is not HTTP ({why}); first bytes: {preview}")]
    MalformedHttp {
        /// What httparse reported.
        why: String,
        /// The first bytes received, escaped.
        preview: String,
    },
    /// The HTTP proxy's reply head did not end within [`MAX_REPLY_HEAD_BYTES`].
    #[error("the proxy's reply to CONNECT exceeded {limit} bytes (or 64 headers) without ending")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The proxy answered with another protocol or SOCKS version.
    #[error("the proxy's reply is not {expected} (it starts with {preview})")]
    WrongProtocol {
        /// What was expected ("SOCKS5", "a SOCKS4 reply (version 0)", …).
        expected: &'static str,
        /// The first bytes received, escaped.
        preview: String,
    },
    /// SOCKS5: the proxy accepts none of the authentication methods offered (reply `0xFF`).
    #[error("the SOCKS5 proxy accepts none of the offered authentication methods ({})", methods_offered(*offered_password))]
    NoAcceptableMethod {
        /// Whether username/password was offered.
        offered_password: bool,
    },
    /// SOCKS5: the proxy chose a method that was not offered.
    #[error("the SOCKS5 proxy chose authentication method {method:#04x}, which was not offered ({})", methods_offered(*offered_password))]
    UnexpectedMethod {
        /// The method chosen.
        method: u8,
        /// Whether username/password was offered.
        offered_password: bool,
    },
    /// SOCKS5: the username/password were rejected (RFC 1929 status other than 0).
    #[error("the SOCKS5 proxy rejected the username and password (RFC 1929 status {status:#04x})")]
    AuthenticationFailed {
        /// The status byte.
        status: u8,
    },
    /// SOCKS5: the proxy refused the `CONNECT` request (RFC 1928 section 6).
    #[error("the SOCKS5 proxy refused CONNECT {destination}: reply {code:#04x}, {}", socks5_reply_meaning(*code))]
    Socks5Refused {
        /// What was asked for.
        destination: String,
        /// The reply code (1 to 255).
        code: u8,
    },
    /// SOCKS4: the proxy refused the request.
    #[error("the SOCKS4 proxy refused CONNECT {destination}: reply {code} ({code:#04x}), {}", socks4_reply_meaning(*code))]
    Socks4Refused {
        /// What was asked for.
        destination: String,
        /// The reply code (90 is success; 91 to 93 are refusals).
        code: u8,
    },
    /// A SOCKS reply that breaks its format.
    #[error("the {protocol} proxy's reply is malformed: {why} (bytes: {preview})")]
    MalformedReply {
        /// The protocol.
        protocol: ProxyProtocol,
        /// What is wrong.
        why: &'static str,
        /// The reply's bytes, escaped.
        preview: String,
    },
    /// The proxy closed the connection before its reply was complete.
    #[error(
        "the {protocol} proxy closed the connection {during} (after {received} bytes of its reply)"
    )]
    Closed {
        /// The protocol.
        protocol: ProxyProtocol,
        /// What was expected next ("before answering CONNECT", …).
        during: &'static str,
        /// Bytes of the reply received.
        received: usize,
    },
}

fn challenge_suffix(headers: &Headers) -> String {
    let mut out = String::new();
    let challenges: Vec<&str> = headers.get_all("Proxy-Authenticate").collect();
    if !challenges.is_empty() {
        out.push_str(&format!("; it asks for: {}", challenges.join(", ")));
    }
    if let Some(squid) = headers.get("X-Squid-Error") {
        out.push_str(&format!("; X-Squid-Error: {squid}"));
    }
    out
}

fn methods_offered(password: bool) -> &'static str {
    if password {
        "offered: no authentication, username/password"
    } else {
        "offered: no authentication"
    }
}

/// The meaning of a SOCKS5 reply code (RFC 1928 section 6).
pub fn socks5_reply_meaning(code: u8) -> &'static str {
    match code {
        0x00 => "succeeded",
        0x01 => "general SOCKS server failure",
        0x02 => "connection not allowed by ruleset",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused",
        0x06 => "TTL expired",
        0x07 => "command not supported",
        0x08 => "address type not supported",
        _ => "unassigned reply code",
    }
}

/// The meaning of a SOCKS4 reply code.
pub fn socks4_reply_meaning(code: u8) -> &'static str {
    match code {
        90 => "request granted",
        91 => "request rejected or failed",
        92 => "request rejected because the proxy cannot reach the client's identd",
        93 => "request rejected because identd reports a different user ID",
        _ => "unknown reply code",
    }
}

impl ProxyError {
    /// What to try, when there is something to suggest.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::HttpRefused {
                status: 407,
                sent_credentials: false,
                ..
            } => "the proxy wants credentials: put user:password@ in the proxy URL",
            Self::HttpRefused {
                status: 401 | 407,
                sent_credentials: true,
                ..
            } => "the proxy rejected the credentials: check the user name and password in the proxy URL, with @ : / percent-encoded",
            Self::HttpRefused { status: 401, .. } => {
                "the proxy wants credentials: put user:password@ in the proxy URL"
            }
            Self::HttpRefused { status: 403, .. } => {
                "the proxy's rules forbid a tunnel to this host or port (many proxies allow CONNECT only to port 443): ask its administrator, or bypass it with no_proxy"
            }
            Self::HttpRefused {
                status: 400 | 405 | 501,
                ..
            } => "the proxy does not accept CONNECT: is it an HTTP forward proxy? SOCKS proxies need socks5:// or socks4://",
            Self::HttpRefused {
                status: 502..=504,
                ..
            } => "the proxy could not reach the destination: check the host and port as the proxy sees them",
            Self::MalformedHttp { preview, .. }
                if preview.starts_with("\\x15\\x03") || preview.starts_with("\\x16\\x03") =>
            {
                "the proxy answered with TLS: use an https:// proxy URL"
            }
            Self::MalformedHttp { preview, .. }
                if ["\\x05", "\\x00", "\\x04"]
                    .iter()
                    .any(|start| preview.starts_with(start)) =>
            {
                "the proxy answered in SOCKS: use socks5:// (or socks4://)"
            }
            Self::MalformedHttp { .. } => {
                "is it an HTTP proxy? SOCKS proxies need socks5:// or socks4://, TLS proxies https://"
            }
            Self::WrongProtocol { .. } => {
                "check the proxy URL's scheme: http:// for HTTP proxies, https:// for HTTP proxies behind TLS, socks4:// or socks5:// for SOCKS"
            }
            Self::NoAcceptableMethod {
                offered_password: false,
            } => "the proxy wants a username and password: put user:password@ in the proxy URL",
            Self::NoAcceptableMethod { .. } => {
                "the proxy wants an authentication method sockeye does not have, such as GSSAPI"
            }
            Self::UnexpectedMethod { method: 0x02, .. } => {
                "the proxy wants a username and password: put user:password@ in the proxy URL"
            }
            Self::AuthenticationFailed { .. } => {
                "check the user name and password in the proxy URL, with @ : / percent-encoded"
            }
            Self::Socks5Refused { code: 0x02, .. } => {
                "the proxy's rules forbid this destination: ask its administrator, or bypass it with no_proxy"
            }
            Self::Socks5Refused {
                code: 0x03 | 0x04, ..
            } => "the proxy cannot reach the destination: check the host and port as the proxy sees them (with socks5h:// the proxy resolves the name)",
            Self::Socks5Refused { code: 0x05, .. } => {
                "nothing listens on that port at the destination, as seen from the proxy"
            }
            Self::Socks5Refused { code: 0x08, .. } => {
                "the proxy does not accept this kind of address: with socks5h:// try socks5:// (local name resolution), or use an IPv4 address"
            }
            Self::Socks5Refused { code: 0x01, .. } => {
                "the proxy failed on its side; with socks5h:// it may not resolve the name: try socks5://"
            }
            Self::Socks4Refused { code: 91, .. } => {
                "the proxy's rules forbid this destination, or it cannot reach it: SOCKS4 does not say which"
            }
            Self::Socks4Refused {
                code: 92 | 93, ..
            } => "the proxy checks the user ID with identd: put the right user@ in the proxy URL, or use SOCKS5",
            Self::UnsupportedDestination { .. } => {
                "SOCKS4 carries only IPv4 addresses: use socks4a:// or socks5h:// for host names, socks5:// for IPv6"
            }
            Self::Closed { .. } => {
                "the proxy dropped the request: check its logs and that the URL's scheme matches the proxy's protocol"
            }
            _ => return None,
        })
    }
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

    // -- HTTP CONNECT ------------------------------------------------------------------------

    fn http_request(&self) -> Result<Vec<u8>, ProxyError> {
        let authority = self.destination.authority();
        let unsafe_byte = |s: &str| s.bytes().any(|b| b.is_ascii_whitespace() || b == 0);
        if authority.is_empty() || unsafe_byte(&authority) {
            return Err(self.unsupported_destination(
                "the host contains whitespace, CR, LF or NUL, which would split the request",
            ));
        }
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"CONNECT ");
        out.extend_from_slice(authority.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_header(&mut out, "Host", &authority);
        if let Some(credentials) = &self.credentials {
            if credentials.username.contains(':') {
                return Err(ProxyError::UnsupportedCredentials {
                    protocol: self.protocol,
                    why: "a Basic user name cannot contain ':' (RFC 7617)",
                });
            }
            let pair = format!("{}:{}", credentials.username, credentials.password);
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            write_header(&mut out, "Proxy-Authorization", &format!("Basic {encoded}"));
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }

    fn receive_http_head(&mut self, buf: &mut BytesMut) -> Result<Option<Tunnel>, ProxyError> {
        let mut raw = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut raw);
        let head_len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_REPLY_HEAD_BYTES => {
                return Err(ProxyError::HeadTooLarge {
                    limit: MAX_REPLY_HEAD_BYTES,
                })
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ProxyError::HeadTooLarge {
                    limit: MAX_REPLY_HEAD_BYTES,
                })
            }
            Err(err) => {
                return Err(ProxyError::MalformedHttp {
                    why: err.to_string(),
                    preview: escape_preview(buf),
                })
            }
        };
        if head_len > MAX_REPLY_HEAD_BYTES {
            return Err(ProxyError::HeadTooLarge {
                limit: MAX_REPLY_HEAD_BYTES,
            });
        }
        let status = parsed.code.unwrap_or(0);
        let reason = parsed.reason.unwrap_or("").to_string();
        let headers = Headers::from_httparse(parsed.headers);
        let head = buf.split_to(head_len).freeze();
        if (200..300).contains(&status) {
            // A 2xx reply to CONNECT has no body, whatever Content-Length or
            // Transfer-Encoding say (RFC 9110 section 9.3.6): the tunnel starts here.
            return Ok(Some(Tunnel {
                protocol: self.protocol,
                status: Some(status),
                reason: Some(reason),
                headers,
                bound: None,
                reply: head,
            }));
        }
        let body = RefusalBody::new(status, &headers, MAX_REFUSAL_BODY_BYTES);
        let refusal = ProxyError::HttpRefused {
            destination: self.destination.to_string(),
            status,
            reason,
            headers,
            body: Bytes::new(),
            sent_credentials: self.credentials.is_some(),
            body_problem: None,
        };
        self.state = State::HttpBody {
            refusal: Box::new(refusal),
            body: Box::new(body),
        };
        self.receive_http_body(buf, false)
    }

    /// Reads the refusal's body (removing it from `buf`); at `eof`, no more will come. `Err`
    /// with the refusal once reading is over.
    fn receive_http_body(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
    ) -> Result<Option<Tunnel>, ProxyError> {
        let State::HttpBody { refusal, body } = &mut self.state else {
            return Ok(None);
        };
        let end = match body.feed(buf) {
            Some(end) => end,
            None if eof => body.finish(),
            None => return Ok(None),
        };
        let mut refusal = (**refusal).clone();
        if let ProxyError::HttpRefused {
            body: slot,
            body_problem,
            ..
        } = &mut refusal
        {
            *slot = body.preview();
            *body_problem = end.err();
        }
        Err(refusal)
    }

    // -- SOCKS4 / SOCKS4a --------------------------------------------------------------------

    fn socks4_request(&self) -> Result<Vec<u8>, ProxyError> {
        let user_id = self
            .credentials
            .as_ref()
            .map_or("", |c| c.username.as_str());
        if user_id.contains('\0') {
            return Err(ProxyError::UnsupportedCredentials {
                protocol: self.protocol,
                why: "a SOCKS4 user ID cannot contain NUL",
            });
        }
        let mut out = vec![4, 1];
        out.extend_from_slice(&self.destination.port().to_be_bytes());
        match &self.destination {
            Destination::Addr(SocketAddr::V4(addr)) => {
                out.extend_from_slice(&addr.ip().octets());
                out.extend_from_slice(user_id.as_bytes());
                out.push(0);
            }
            Destination::Addr(SocketAddr::V6(_)) => {
                return Err(self.unsupported_destination("SOCKS4 carries only IPv4 addresses"))
            }
            Destination::Name { host, .. } => {
                if host.is_empty() || host.contains('\0') {
                    return Err(self.unsupported_destination("the host name is empty or has NUL"));
                }
                // SOCKS4a: the address 0.0.0.x (x != 0) says "the name follows the user ID".
                out.extend_from_slice(&[0, 0, 0, 1]);
                out.extend_from_slice(user_id.as_bytes());
                out.push(0);
                out.extend_from_slice(host.as_bytes());
                out.push(0);
            }
        }
        Ok(out)
    }

    fn receive_socks4(&mut self, buf: &mut BytesMut) -> Result<Option<Tunnel>, ProxyError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != 0 {
            return Err(ProxyError::WrongProtocol {
                expected: "a SOCKS4 reply (version byte 0)",
                preview: escape_preview(buf),
            });
        }
        if buf.len() >= 2 && buf[1] != 90 {
            return Err(ProxyError::Socks4Refused {
                destination: self.destination.to_string(),
                code: buf[1],
            });
        }
        if buf.len() < 8 {
            return Ok(None);
        }
        let reply = buf.split_to(8).freeze();
        let port = u16::from_be_bytes([reply[2], reply[3]]);
        let ip = Ipv4Addr::new(reply[4], reply[5], reply[6], reply[7]);
        let bound = (!ip.is_unspecified() || port != 0)
            .then(|| Destination::Addr(SocketAddr::new(IpAddr::V4(ip), port)));
        Ok(Some(self.socks_tunnel(bound, reply)))
    }

    // -- SOCKS5 ------------------------------------------------------------------------------

    fn socks5_greeting(&self) -> Vec<u8> {
        if self.credentials.is_some() {
            vec![5, 2, 0x00, 0x02]
        } else {
            vec![5, 1, 0x00]
        }
    }

    fn socks5_auth_request(&self) -> Result<Vec<u8>, ProxyError> {
        let Some(credentials) = &self.credentials else {
            return Ok(Vec::new());
        };
        let (user, pass) = (
            credentials.username.as_bytes(),
            credentials.password.as_bytes(),
        );
        if user.is_empty() || user.len() > 255 || pass.len() > 255 {
            return Err(ProxyError::UnsupportedCredentials {
                protocol: self.protocol,
                why: "RFC 1929 needs a user name of 1 to 255 bytes and a password of at most 255 bytes",
            });
        }
        let mut out = vec![1, user.len() as u8];
        out.extend_from_slice(user);
        out.push(pass.len() as u8);
        out.extend_from_slice(pass);
        Ok(out)
    }

    fn socks5_request(&self) -> Result<Vec<u8>, ProxyError> {
        let mut out = vec![5, 1, 0];
        match &self.destination {
            Destination::Addr(SocketAddr::V4(addr)) => {
                out.push(1);
                out.extend_from_slice(&addr.ip().octets());
            }
            Destination::Addr(SocketAddr::V6(addr)) => {
                out.push(4);
                out.extend_from_slice(&addr.ip().octets());
            }
            Destination::Name { host, .. } => {
                if host.is_empty() || host.len() > 255 {
                    return Err(self.unsupported_destination(
                        "a SOCKS5 host name must be 1 to 255 bytes long",
                    ));
                }
                out.push(3);
                out.push(host.len() as u8);
                out.extend_from_slice(host.as_bytes());
            }
        }
        out.extend_from_slice(&self.destination.port().to_be_bytes());
        Ok(out)
    }

    fn receive_socks5_method(&mut self, buf: &mut BytesMut) -> Result<Option<Tunnel>, ProxyError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != 5 {
            return Err(ProxyError::WrongProtocol {
                expected: "SOCKS5",
                preview: escape_preview(buf),
            });
        }
        if buf.len() < 2 {
            return Ok(None);
        }
        let method = buf[1];
        buf.advance(2);
        let offered_password = self.credentials.is_some();
        match method {
            0x00 => {
                self.output = self.socks5_request()?;
                self.state = State::Socks5Reply;
            }
            0x02 if offered_password => {
                self.output = self.socks5_auth_request()?;
                self.state = State::Socks5Auth;
            }
            0xFF => return Err(ProxyError::NoAcceptableMethod { offered_password }),
            method => {
                return Err(ProxyError::UnexpectedMethod {
                    method,
                    offered_password,
                })
            }
        }
        Ok(None)
    }

    fn receive_socks5_auth(&mut self, buf: &mut BytesMut) -> Result<Option<Tunnel>, ProxyError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        // RFC 1929 says version 1; some servers answer 5. Only the status matters.
        if !matches!(buf[0], 1 | 5) {
            return Err(ProxyError::MalformedReply {
                protocol: self.protocol,
                why: "the username/password reply's version is neither 1 (RFC 1929) nor 5",
                preview: escape_preview(&buf[..2]),
            });
        }
        let status = buf[1];
        buf.advance(2);
        if status != 0 {
            return Err(ProxyError::AuthenticationFailed { status });
        }
        self.output = self.socks5_request()?;
        self.state = State::Socks5Reply;
        Ok(None)
    }

    fn receive_socks5_reply(&mut self, buf: &mut BytesMut) -> Result<Option<Tunnel>, ProxyError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != 5 {
            return Err(ProxyError::WrongProtocol {
                expected: "SOCKS5",
                preview: escape_preview(buf),
            });
        }
        if buf.len() >= 2 && buf[1] != 0 {
            return Err(ProxyError::Socks5Refused {
                destination: self.destination.to_string(),
                code: buf[1],
            });
        }
        if buf.len() < 5 {
            return Ok(None);
        }
        let malformed = |why| ProxyError::MalformedReply {
            protocol: ProxyProtocol::Socks5,
            why,
            preview: escape_preview(&buf[..buf.len().min(22)]),
        };
        if buf[2] != 0 {
            return Err(malformed("the reserved byte is not 0"));
        }
        if !matches!(buf[3], 1 | 3 | 4) {
            return Err(malformed("unknown address type (not 1, 3 or 4)"));
        }
        let len = socks5_reply_len(buf[3], Some(buf[4]));
        if buf.len() < len {
            return Ok(None);
        }
        let reply = buf.split_to(len).freeze();
        let port = u16::from_be_bytes([reply[len - 2], reply[len - 1]]);
        let bound = match reply[3] {
            1 => {
                let octets: [u8; 4] = reply[4..8].try_into().unwrap_or_default();
                Destination::Addr(SocketAddr::new(Ipv4Addr::from(octets).into(), port))
            }
            4 => {
                let octets: [u8; 16] = reply[4..20].try_into().unwrap_or_default();
                Destination::Addr(SocketAddr::new(Ipv6Addr::from(octets).into(), port))
            }
            _ => Destination::Name {
                host: String::from_utf8_lossy(&reply[5..len - 2]).into_owned(),
                port,
            },
        };
        Ok(Some(self.socks_tunnel(Some(bound), reply)))
    }

    // -- shared ------------------------------------------------------------------------------

    fn socks_tunnel(&self, bound: Option<Destination>, reply: Bytes) -> Tunnel {
        Tunnel {
            protocol: self.protocol,
            status: None,
            reason: None,
            headers: Headers::new(),
            bound,
            reply,
        }
    }

    fn unsupported_destination(&self, why: &'static str) -> ProxyError {
        ProxyError::UnsupportedDestination {
            protocol: self.protocol,
            destination: self.destination.to_string(),
            why,
        }
    }
}

/// The length of a SOCKS5 reply with address type `atyp` (for type 3, the name's length byte).
fn socks5_reply_len(atyp: u8, name_len: Option<u8>) -> usize {
    match atyp {
        1 => 4 + 4 + 2,
        4 => 4 + 16 + 2,
        3 => match name_len {
            Some(len) => 4 + 1 + usize::from(len) + 2,
            None => 5,
        },
        // Unknown: enough to see the type; `receive` rejects it.
        _ => 5,
    }
}

/// How many bytes may be read while the `CONNECT` reply head is incomplete without reading past
/// its end: the fewest that could complete a blank line (`\r\n\r\n`, or bare `\n\n`).
fn head_read_limit(buffered: &[u8]) -> usize {
    match buffered {
        [.., b'\n'] | [.., b'\n', b'\r'] => 1,
        _ => 2,
    }
}

/// The readable text of a refusal's body, for an error message: HTML tags, the head (title,
/// styles) and scripts removed, whitespace collapsed, control characters dropped, at most `max_chars` characters.
pub fn body_text(body: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut rest = text.as_ref();
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            push_words(&mut out, rest);
            break;
        };
        push_words(&mut out, &rest[..open]);
        rest = &rest[open..];
        let lower = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
        let skip_to = if lower.starts_with("<head") && !lower.starts_with("<header") {
            "</head>"
        } else if lower.starts_with("<style") {
            "</style>"
        } else if lower.starts_with("<title") {
            "</title>"
        } else if lower.starts_with("<script") {
            "</script>"
        } else {
            ">"
        };
        let lowered = rest.to_ascii_lowercase();
        rest = match lowered.find(skip_to) {
            Some(end) => &rest[end + skip_to.len()..],
            None => "",
        };
        out.push(' ');
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

fn push_words(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_read_limit_never_passes_the_blank_line() {
        let head = b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n";
        let mut buffered = Vec::new();
        while buffered.len() < head.len() {
            let n = head_read_limit(&buffered).min(head.len() - buffered.len());
            let next = &head[buffered.len()..buffered.len() + n];
            buffered.extend_from_slice(next);
            // Only the final read may complete the blank line.
            let ends = buffered.ends_with(b"\r\n\r\n");
            assert!(!ends || buffered.len() == head.len());
        }
    }

    #[test]
    fn body_text_strips_html() {
        let body = b"<html><head><style>p { x }</style><title>ERROR</title></head>\n<body><h1>Access   Denied.</h1><p>Go\naway</p></body></html>";
        assert_eq!(body_text(body, 100), "Access Denied. Go away");
        assert_eq!(body_text(body, 6), "Access…");
    }
}
