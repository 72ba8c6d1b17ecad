//! What one connection attempt went through: how long each stage took, the heads as they
//! crossed the wire, and the TLS session. Filled in by `connect_with_report` (blocking) and
//! `connect_async_with_report` (tokio), as an observer of the connect path.

use std::borrow::Cow;

use bytes::Bytes;

use super::{Context, Diagnosis, RequestFacts};
use crate::config::ClientConfig;
use crate::error::Error;
use crate::redact;
use crate::route::Route;
use crate::timings::Timings;

/// How much of the server's reply a report keeps: a head at its largest (16 KiB by default)
/// and the start of a refusal's body.
const MAX_RECORDED_REPLY: usize = 32 * 1024;

/// The heads of one handshake, kept when a report asked for them (else nothing is copied).
#[derive(Debug, Default)]
pub(crate) struct HandshakeRecord {
    enabled: bool,
    request: Option<Bytes>,
    received: Vec<u8>,
}

impl HandshakeRecord {
    /// A record that keeps what it is given.
    pub(crate) fn on() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// The request head, as sent.
    pub(crate) fn sent(&mut self, request: &[u8]) {
        if self.enabled {
            self.request = Some(Bytes::copy_from_slice(request));
        }
    }

    /// Bytes of the reply, as received (kept up to [`MAX_RECORDED_REPLY`]).
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        if self.enabled && self.received.len() < MAX_RECORDED_REPLY {
            let room = MAX_RECORDED_REPLY - self.received.len();
            self.received
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

/// A request or response head, split into its first line and its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Head {
    /// `GET /chat HTTP/1.1`, or `HTTP/1.1 101 Switching Protocols`.
    pub start_line: String,
    /// The headers in order, repeats kept.
    pub headers: Vec<(String, String)>,
    /// For a response: the status code.
    pub status: Option<u16>,
    /// For a response: the bytes after the head (the start of a refusal's body).
    pub body: Bytes,
}

impl Head {
    /// Splits `bytes` at the blank line that ends the head; `None` if there is no head line.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        let end = bytes
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .map_or(bytes.len(), |at| at + 4);
        let text = String::from_utf8_lossy(&bytes[..end]);
        let mut lines = text.split("\r\n").filter(|line| !line.is_empty());
        let start_line = lines.next()?.to_string();
        let headers = lines
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                Some((name.trim().to_string(), value.trim().to_string()))
            })
            .collect();
        let status = start_line
            .strip_prefix("HTTP/")
            .and_then(|rest| rest.split(' ').nth(1))
            .and_then(|code| code.parse().ok());
        // After a 101, what follows the head are the first frames, not a body.
        let body = match status {
            Some(101) => Bytes::new(),
            _ => Bytes::copy_from_slice(&bytes[end..]),
        };
        Some(Self {
            start_line,
            headers,
            status,
            body,
        })
    }

    /// The first header `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(given, _)| given.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The same head with secrets hidden (see [`crate::redact`]).
    pub fn redacted(&self) -> Self {
        Self {
            start_line: redact::head(&self.start_line).into_owned(),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), redact::header(name, value).into_owned()))
                .collect(),
            status: self.status,
            body: match redact::text(&String::from_utf8_lossy(&self.body)) {
                Cow::Borrowed(_) => self.body.clone(),
                Cow::Owned(text) => Bytes::from(text),
            },
        }
    }
}

/// The TLS session of a `wss://` connection.
#[cfg(feature = "tls")]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: Option<String>,
    /// The cipher suite as IANA names it, such as `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<String>,
    /// The protocol agreed with ALPN (`http/1.1`), if any.
    pub alpn: Option<String>,
    /// The server's certificate chain as presented, leaf first, DER-encoded (parse it with an
    /// X.509 crate to show names and dates).
    pub certificates: Vec<Vec<u8>>,
}

#[cfg(feature = "tls")]
impl TlsInfo {
    /// The session of a client TLS connection.
    pub fn of(conn: &rustls::ClientConnection) -> Self {
        let version = conn.protocol_version().map(|version| match version {
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_string(),
            other => format!("TLS version 0x{:04x}", u16::from(other)),
        });
        let cipher_suite = conn.negotiated_cipher_suite().map(|suite| {
            let suite = suite.suite();
            suite
                .as_str()
                .map_or_else(|| format!("0x{:04x}", u16::from(suite)), str::to_string)
        });
        Self {
            version,
            cipher_suite,
            alpn: conn
                .alpn_protocol()
                .map(|alpn| String::from_utf8_lossy(alpn).into_owned()),
            certificates: conn
                .peer_certificates()
                .unwrap_or_default()
                .iter()
                .map(|cert| cert.as_ref().to_vec())
                .collect(),
        }
    }

    /// The session of a blocking stream, if it is TLS to the WebSocket server.
    pub fn of_stream(stream: &crate::transport::Stream) -> Option<Self> {
        match stream {
            crate::transport::Stream::Tls(tls) => Some(Self::of(&tls.conn)),
            _ => None,
        }
    }

    /// The session of a tokio stream, if it is TLS to the WebSocket server.
    #[cfg(feature = "tokio")]
    pub fn of_async_stream(stream: &crate::transport::AsyncStream) -> Option<Self> {
        match stream {
            crate::transport::AsyncStream::Tls(tls) => Some(Self::of(tls.get_ref().1)),
            _ => None,
        }
    }
}

/// What a connection attempt went through, for showing and for [`diagnose`](Self::diagnose):
/// the URL (after redirects), the route, how long each stage took, the request and response
/// heads as they crossed the wire, and the TLS session.
///
/// ```no_run
/// let config = sockeye::ClientConfig::new("ws://127.0.0.1:9001/chat")?.origin("https://app.test");
/// let (result, report) = sockeye::blocking::connect_with_report(config);
/// println!("tcp took {:?}", report.timings.tcp);
/// match result {
///     Ok((_socket, response)) => println!("open: {}", response.status),
///     Err(err) => println!("{}", report.diagnose(&err)),
/// }
/// # Ok::<(), sockeye::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConnectReport {
    /// The URL of the last attempt (redirects followed), without `user:password@`.
    pub url: String,
    /// The URLs that redirected to the next one, in order.
    pub redirects: Vec<String>,
    /// The proxy the connection went through (without its password), if any: the proxy of
    /// [`route`](Self::route), as shown.
    pub proxy: Option<String>,
    /// The route the last attempt took: direct (and any proxy that `no_proxy` made it go
    /// around), a Unix socket, or which proxy and where it came from (its URL without the
    /// password). `None` when the attempt failed before a route was chosen (an invalid proxy
    /// URL in the environment, a request refused before connecting).
    pub route: Option<Route>,
    /// The peer once connected: `IP:port`, the proxy's address, or `unix:PATH`.
    pub peer: Option<String>,
    /// How long each stage of the last attempt took (`total` counts every attempt).
    pub timings: Timings,
    /// The request head as sent (secrets included: use [`request_head`](Self::request_head)
    /// to show it).
    pub request: Option<Bytes>,
    /// The server's reply as received: its head and the start of a refusal's body (or, after
    /// a 101, of the first frames), or what arrived before the handshake failed (secrets
    /// included: see [`response_head`](Self::response_head)).
    pub response: Option<Bytes>,
    /// The TLS session with the WebSocket server (`wss://`), once its handshake succeeded.
    #[cfg(feature = "tls")]
    pub tls: Option<TlsInfo>,
    facts: Option<RequestFacts>,
    show_secrets: bool,
    /// Whether heads and TLS details are kept (`connect_with` keeps only timings).
    recording: bool,
}

impl ConnectReport {
    /// An empty report for a connection with `config`.
    pub(crate) fn new(config: &ClientConfig) -> Self {
        let mut report = Self {
            recording: true,
            ..Self::default()
        };
        report.start_attempt(config);
        report
    }

    /// A new attempt (the first, or the next after a redirect) with `config`.
    pub(crate) fn start_attempt(&mut self, config: &ClientConfig) {
        if !self.url.is_empty() {
            let previous = std::mem::take(&mut self.url);
            self.redirects.push(previous);
        }
        let total = self.timings.total;
        *self = Self {
            url: config.target.url.to_string(),
            redirects: std::mem::take(&mut self.redirects),
            timings: Timings {
                total,
                ..Timings::default()
            },
            facts: Some(RequestFacts::of(config)),
            show_secrets: config.show_secrets,
            recording: true,
            ..Self::default()
        };
    }

    /// A record for the handshake: one that keeps the heads if this report does.
    pub(crate) fn handshake_record(&self) -> HandshakeRecord {
        if self.recording {
            HandshakeRecord::on()
        } else {
            HandshakeRecord::default()
        }
    }

    /// The dial ended (blocking): notes the proxy of the route it took (`route` it noted
    /// itself) and, once open, the peer and the TLS session.
    pub(crate) fn dialed(
        &mut self,
        dialed: Result<crate::transport::Stream, Error>,
    ) -> Result<crate::transport::Stream, Error> {
        self.route_taken();
        let stream = dialed?;
        self.connected(&stream);
        Ok(stream)
    }

    /// The dial ended (tokio): as [`dialed`](Self::dialed).
    #[cfg(feature = "tokio")]
    pub(crate) fn dialed_async(
        &mut self,
        dialed: Result<crate::transport::AsyncStream, Error>,
    ) -> Result<crate::transport::AsyncStream, Error> {
        self.route_taken();
        let stream = dialed?;
        self.connected_async(&stream);
        Ok(stream)
    }

    /// The proxy of the route the dial noted, as shown.
    fn route_taken(&mut self) {
        if self.recording {
            self.proxy = self
                .route
                .as_ref()
                .and_then(Route::proxy)
                .map(ToString::to_string);
        }
    }

    /// The route is open (blocking): notes the peer and the TLS session.
    fn connected(&mut self, stream: &crate::transport::Stream) {
        if self.recording {
            self.peer = Some(stream.peer_description());
            #[cfg(feature = "tls")]
            {
                self.tls = TlsInfo::of_stream(stream);
            }
        }
    }

    /// The route is open (tokio): notes the peer and the TLS session.
    #[cfg(feature = "tokio")]
    fn connected_async(&mut self, stream: &crate::transport::AsyncStream) {
        if self.recording {
            self.peer = async_peer(stream);
            #[cfg(feature = "tls")]
            {
                self.tls = TlsInfo::of_async_stream(stream);
            }
        }
    }

    /// Takes what a handshake recorded.
    pub(crate) fn record(&mut self, record: HandshakeRecord) {
        self.request = record.request;
        if !record.received.is_empty() {
            self.response = Some(Bytes::from(record.received));
        }
    }

    /// The request head as it may be shown: secrets redacted unless the configuration's
    /// `show_secrets` was on.
    pub fn request_head(&self) -> Option<Head> {
        let head = Head::parse(self.request.as_deref()?)?;
        Some(if self.show_secrets {
            head
        } else {
            head.redacted()
        })
    }

    /// The response head (and the start of a refusal's body) as it may be shown.
    pub fn response_head(&self) -> Option<Head> {
        let head = Head::parse(self.response.as_deref()?)?;
        Some(if self.show_secrets {
            head
        } else {
            head.redacted()
        })
    }

    /// Why `error` happened, with everything this report saw: what the request sent (was there
    /// an `Origin`? credentials? which subprotocols?), the reply's headers (`Server`, `Via`),
    /// the key sent for an accept mismatch. Redacted unless the configuration's
    /// `show_secrets` was on.
    pub fn diagnose(&self, error: &Error) -> Diagnosis {
        let cx = Context {
            show_secrets: self.show_secrets,
            facts: self.facts.as_ref(),
            request: self.request.as_deref().and_then(Head::parse),
            response: self.response.as_deref().and_then(Head::parse),
            raw_response: self.response.as_deref(),
            route: self.route.as_ref(),
        };
        super::diagnose(error, &cx)
    }
}

/// The peer of a tokio stream: `IP:port` or `unix:PATH`.
#[cfg(feature = "tokio")]
fn async_peer(stream: &crate::transport::AsyncStream) -> Option<String> {
    use crate::transport::AsyncStream;
    match stream {
        AsyncStream::Tcp(tcp) => tcp.peer_addr().ok().map(|addr| addr.to_string()),
        #[cfg(unix)]
        AsyncStream::Unix(unix) => unix.peer_addr().ok().and_then(|addr| {
            addr.as_pathname()
                .map(|path| format!("unix:{}", path.display()))
        }),
        #[cfg(feature = "tls")]
        AsyncStream::Tls(tls) => async_peer(tls.get_ref().0),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_split_into_line_headers_and_body() {
        let head = Head::parse(
            b"HTTP/1.1 403 Forbidden\r\nSet-Cookie: sid=abc; Path=/\r\nServer: x\r\n\r\nno",
        )
        .expect("a head");
        assert_eq!(head.start_line, "HTTP/1.1 403 Forbidden");
        assert_eq!(head.status, Some(403));
        assert_eq!(head.get("server"), Some("x"));
        assert_eq!(&head.body[..], b"no");
        let shown = head.redacted();
        assert_eq!(shown.get("Set-Cookie"), Some("sid=[redacted]; Path=/"));
        assert_eq!(Head::parse(b""), None);
    }
}
