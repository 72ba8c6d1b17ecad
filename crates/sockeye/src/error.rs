//! The front-end's error type: every failure names the stage it happened in.

use std::fmt;
use std::io;
use std::time::Duration;

use sockeye_proto::{HandshakeError, ProtocolError, SendError};
use thiserror::Error;

/// Where in the life of a connection something failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Reading the URL or the options.
    Url,
    /// Resolving the host name.
    Dns,
    /// Opening the TCP connection.
    Tcp,
    /// Reaching a proxy and opening its tunnel (HTTP `CONNECT` or SOCKS).
    Proxy,
    /// The TLS handshake.
    Tls,
    /// The HTTP request and response of the opening handshake.
    Http,
    /// The WebSocket-specific checks of the opening handshake.
    Handshake,
    /// After the connection opened.
    Open,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Url => "url",
            Self::Dns => "dns",
            Self::Tcp => "tcp",
            Self::Proxy => "proxy",
            Self::Tls => "tls",
            Self::Http => "http",
            Self::Handshake => "handshake",
            Self::Open => "open",
        })
    }
}

/// Everything that can go wrong, with the stage, the cause and what to try.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be used.
    #[error("invalid URL {shown:?}: {why}{}", hint.map(|h| format!(" (try {h})")).unwrap_or_default(), shown = crate::redact::error_url(url))]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        why: String,
        /// A suggestion.
        hint: Option<&'static str>,
    },
    /// The URL needs a feature this build or version does not have.
    #[error("{}", crate::redact::error_text(.0))]
    Unsupported(String),
    /// The host name did not resolve.
    #[error("cannot resolve host {host:?}: {source} (check the spelling, or use an IP address)")]
    Dns {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// No address of the host accepted a TCP connection.
    #[error("cannot connect to {addr}: {source}{}", tcp_hint(source))]
    Connect {
        /// The address tried last.
        addr: String,
        /// The error for that address.
        #[source]
        source: io::Error,
    },
    /// A stage took longer than its configured timeout.
    #[error("timed out after {after:?} during the {stage} stage{}", timeout_hint(*stage))]
    Timeout {
        /// The stage that was running.
        stage: Stage,
        /// The configured limit.
        after: Duration,
    },
    /// The opening handshake failed.
    #[error("WebSocket handshake failed: {}{}", crate::redact::error_text(&.0.to_string()), crate::redact::error_text(&crate::redirect::location_hint(.0)))]
    Handshake(#[from] HandshakeError),
    /// The server redirected the handshake, and the redirect cannot be followed.
    #[error(
        "cannot follow the {status} redirect from {} to {:?}: {why}",
        crate::redact::error_url(from),
        crate::redact::error_url(location)
    )]
    Redirect {
        /// The redirect status (301, 302, 303, 307 or 308).
        status: u16,
        /// The URL that answered with the redirect (without credentials).
        from: String,
        /// The `Location` header as received.
        location: String,
        /// Why it is not followed.
        why: String,
    },
    /// The server's accept hook refused the request with this status.
    #[error("the request was refused with HTTP {status}")]
    Rejected {
        /// The status sent.
        status: u16,
    },
    /// The peer broke the protocol, or dropped the connection without a close frame.
    #[error("{0} (close code {code})", code = .0.close_code())]
    Protocol(#[from] ProtocolError),
    /// A message could not be sent.
    #[error(transparent)]
    Send(#[from] SendError),
    /// Reading or writing the transport failed.
    #[error("I/O error during the {stage} stage: {source}")]
    Io {
        /// The stage.
        stage: Stage,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The close handshake is complete: there is nothing more to read or send.
    #[error("the connection is closed (the close handshake completed)")]
    ConnectionClosed,
    /// TLS failed: an untrusted, expired or misnamed certificate, a refused client certificate,
    /// a peer that does not speak TLS, an unreadable CA, certificate or key file…
    #[cfg(feature = "tls")]
    #[error("TLS failed: {0}")]
    Tls(crate::transport::tls::TlsProblem),
    // -- proxies (crate::transport::proxy) ----------------------------------------------------
    /// The proxy refused the tunnel or broke its protocol: the `CONNECT` status line, or the
    /// SOCKS reply code and its meaning.
    #[error("proxy {}: {reason}{}{}", crate::redact::error_text(proxy), crate::transport::proxy::refusal_page(reason), hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Proxy {
        /// The proxy's URL without its password, and where it came from (`from $https_proxy`).
        proxy: String,
        /// What the proxy said or did (boxed: an HTTP refusal keeps its headers and page).
        reason: Box<sockeye_proto::proxy::ProxyError>,
        /// What to try.
        hint: Option<&'static str>,
    },
    /// The proxy did not accept a TCP connection (or its host name did not resolve).
    #[error("cannot connect to proxy {}: {source} (check the proxy URL's host and port, and that the proxy runs)", crate::redact::error_text(proxy))]
    ProxyUnreachable {
        /// The proxy's URL without its password, and where it came from.
        proxy: String,
        /// The resolver's or the connection's error.
        #[source]
        source: io::Error,
    },
}

fn tcp_hint(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => {
            " (nothing listens on that port: check the port and that the server runs)"
        }
        io::ErrorKind::TimedOut => {
            " (no answer: a firewall may drop the packets, or the host is down)"
        }
        _ => "",
    }
}

fn timeout_hint(stage: Stage) -> &'static str {
    match stage {
        Stage::Tcp => " (the host did not answer: check the address, port and firewalls)",
        Stage::Proxy => {
            " (the proxy did not open the tunnel in time: check the proxy URL, and that its scheme matches the proxy's protocol; a proxy answers only once it has reached the destination)"
        }
        Stage::Http | Stage::Handshake => {
            " (the server accepted TCP but never answered the upgrade: is it a WebSocket endpoint, and is it ws:// vs wss:// correct?)"
        }
        Stage::Open => {
            " (a read or write of the open connection waited longer than its read_timeout or write_timeout; the connection is still usable)"
        }
        Stage::Tls => {
            " (the server accepted TCP but did not finish the TLS handshake: is this a TLS port? a plain HTTP server waits silently for a request: try ws://)"
        }
        _ => "",
    }
}

impl Error {
    /// The stage in which the error happened.
    pub fn stage(&self) -> Stage {
        match self {
            Self::InvalidUrl { .. } | Self::Unsupported(_) => Stage::Url,
            Self::Dns { .. } => Stage::Dns,
            Self::Connect { .. } => Stage::Tcp,
            Self::Timeout { stage, .. } | Self::Io { stage, .. } => *stage,
            Self::Handshake(err) => match err {
                HandshakeError::UnexpectedStatus { .. }
                | HandshakeError::MalformedHttp { .. }
                | HandshakeError::HeadTooLarge { .. }
                | HandshakeError::ClosedDuringHandshake { .. } => Stage::Http,
                HandshakeError::InvalidHeader { .. } => Stage::Url,
                _ => Stage::Handshake,
            },
            Self::Rejected { .. } => Stage::Handshake,
            Self::Redirect { .. } => Stage::Http,
            Self::Protocol(_) | Self::Send(_) | Self::ConnectionClosed => Stage::Open,
            #[cfg(feature = "tls")]
            Self::Tls(_) => Stage::Tls,
            Self::Proxy { .. } | Self::ProxyUnreachable { .. } => Stage::Proxy,
        }
    }

    /// This error's message with secrets shown. [`Display`](fmt::Display) hides them: URL
    /// credentials, secret query parameters and secret headers quoted from the peer appear as
    /// `[redacted]` (see [`crate::redact`]); print this instead when the user asked to see them
    /// (`sockeye --show-secrets`).
    pub fn unredacted(&self) -> impl fmt::Display + '_ {
        Unredacted(self)
    }

    pub(crate) fn io(stage: Stage, source: io::Error) -> Self {
        Self::Io { stage, source }
    }

    /// Like [`io`](Self::io), for a client's stream: a TLS verdict inside the I/O error (a
    /// server refusing the client certificate answers after the TLS 1.3 handshake, so its alert
    /// arrives with the HTTP response) becomes [`Error::Tls`].
    pub(crate) fn client_io(stage: Stage, source: io::Error) -> Self {
        #[cfg(feature = "tls")]
        if let Some(problem) = crate::transport::tls::problem_in(&source) {
            return Self::Tls(problem);
        }
        Self::io(stage, source)
    }
}

/// [`Error::unredacted`]: the message formatted with redaction off on this thread.
struct Unredacted<'a>(&'a Error);

impl fmt::Display for Unredacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::redact::showing_secrets(|| fmt::Display::fmt(self.0, f))
    }
}
