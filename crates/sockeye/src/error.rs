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
///
/// `Debug` is written by hand so that it hides secrets as `Display` does (URL credentials and
/// secret parameters, secret headers and cookies in a refusal, its body); see
/// [`Error::unredacted`]. [`Error::diagnosis`] says why, with evidence and a hint.
#[derive(Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be used.
    #[error("invalid URL {shown:?}: {problem}{}", hint.map(|h| format!(" (try {h})")).unwrap_or_default(), shown = crate::redact::error_url(url))]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        problem: UrlProblem,
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
        /// Whether the name is unknown or no DNS server answered.
        failure: DnsFailure,
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
    /// (Server) the client did not send its opening-handshake request in time: the request
    /// was not complete within [`ServerConfig::handshake_timeout`](crate::ServerConfig::handshake_timeout)
    /// (or, rarely, the client did not read the answer). [`Stage::Http`]. A client's own
    /// handshake time running out is [`Error::Timeout`].
    #[error("timed out after {after:?} waiting for the client's request: the client did not send its opening handshake in time (a slow or stalled client, or one that connects without speaking; handshake_timeout sets the limit)")]
    RequestTimeout {
        /// The configured limit.
        after: Duration,
    },
    /// The opening handshake failed.
    #[error("WebSocket handshake failed: {}{}", crate::redact::error_text(&.0.to_string()), crate::redact::error_text(&crate::refusal::location_hint(.0)))]
    Handshake(#[from] HandshakeError),
    /// The server redirected the handshake, and the redirect cannot be followed.
    #[error(
        "cannot follow the {status} redirect from {} to {:?}: {reason}",
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
        reason: RedirectProblem,
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
    Tls(crate::tls_problem::TlsProblem),
    // -- proxies (transport::proxy) -----------------------------------------------------------
    /// The proxy refused the tunnel or broke its protocol: the `CONNECT` status line, or the
    /// SOCKS reply code and its meaning.
    #[error("proxy {}: {reason}{}{}", crate::redact::error_text(proxy), crate::refusal::refusal_page(reason), hint.map(|h| format!(" ({h})")).unwrap_or_default())]
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
        /// What failed: [`Stage::Dns`] when the proxy's host name did not resolve,
        /// [`Stage::Tcp`] when the proxy did not accept the connection.
        failed_at: Stage,
        /// The resolver's or the connection's error.
        #[source]
        source: io::Error,
    },
    /// The client offered subprotocols and requires one
    /// ([`ClientConfig::require_subprotocol`](crate::ClientConfig::require_subprotocol)), but the
    /// server selected none.
    #[error("the server selected none of the offered subprotocols ({}), and one is required", offered.join(", "))]
    SubprotocolNotSelected {
        /// The subprotocols the client offered.
        offered: Vec<String>,
    },
}

/// What is wrong with a URL: the cause of [`Error::InvalidUrl`]. `Display` says it in words.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlProblem {
    /// It is not a URL at all; the URL parser's reason (`relative URL without a base`,
    /// `invalid port number`, `empty host`…).
    Unparsable(url::ParseError),
    /// `http://`: the scheme of web pages, not of WebSocket URLs (`ws://`).
    HttpScheme,
    /// `https://`: the scheme of web pages, not of WebSocket URLs (`wss://`).
    HttpsScheme,
    /// A scheme other than `ws://`, `wss://` or `ws+unix://`.
    UnsupportedScheme(String),
    /// A `#fragment`, which RFC 6455 section 3 forbids.
    Fragment,
    /// No host.
    NoHost,
    /// A `ws+unix://` URL with a user, password or port.
    UnixSocketExtras,
    /// A `ws+unix://` URL whose socket path is not absolute.
    UnixSocketPathNotAbsolute,
    /// A `ws+unix://` URL whose request target (after the socket path) does not start with `/`.
    UnixTargetNotAbsolute,
    /// A proxy URL that cannot be used.
    Proxy {
        /// What is wrong with it.
        problem: ProxyUrlProblem,
        /// The environment variable it was read from (`https_proxy`), if any.
        variable: Option<&'static str>,
    },
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unparsable(err) => write!(f, "{err}"),
            Self::HttpScheme => f.write_str("http:// is not a WebSocket scheme"),
            Self::HttpsScheme => f.write_str("https:// is not a WebSocket scheme"),
            Self::UnsupportedScheme(scheme) => write!(f, "unsupported scheme {scheme:?}"),
            Self::Fragment => {
                f.write_str("WebSocket URLs must not have a #fragment (RFC 6455 section 3)")
            }
            Self::NoHost => f.write_str("the URL has no host"),
            Self::UnixSocketExtras => f.write_str("a ws+unix:// URL has no user, password or port"),
            Self::UnixSocketPathNotAbsolute => {
                f.write_str("a ws+unix:// URL needs the absolute path of the socket")
            }
            Self::UnixTargetNotAbsolute => {
                f.write_str("the request target after the socket path must start with '/'")
            }
            Self::Proxy { problem, variable } => {
                write!(f, "{problem}")?;
                if let Some(name) = variable {
                    write!(f, " (in the environment variable {name})")?;
                }
                Ok(())
            }
        }
    }
}

/// What is wrong with a proxy URL ([`UrlProblem::Proxy`]). `Display` says it in words.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyUrlProblem {
    /// A scheme other than `http`, `https`, `socks4`, `socks4a`, `socks5` or `socks5h`.
    UnsupportedScheme(String),
    /// A path after the host and port.
    HasPath,
    /// A `?query` after the host and port.
    HasQuery,
    /// A `#fragment` after the host and port.
    HasFragment,
    /// An `@` with neither a user name nor a password before it.
    NoUserName,
    /// `[` without its closing `]`.
    Ipv6Unclosed,
    /// Something in brackets that is not an IPv6 address.
    NotIpv6(String),
    /// Something other than `:port` after the bracketed IPv6 address.
    AfterIpv6(String),
    /// An IPv6 address without brackets.
    Ipv6NotBracketed,
    /// A host that is neither a host name nor an IP address.
    BadHost(String),
    /// A port that is not a number from 1 to 65535.
    BadPort(String),
}

impl fmt::Display for ProxyUrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Named, not quoted: a query may hold a token, and the URL is shown redacted.
        let has = |f: &mut fmt::Formatter<'_>, what: &str| {
            write!(
                f,
                "a proxy URL has no path, query or fragment, but this one has {what}"
            )
        };
        match self {
            Self::UnsupportedScheme(scheme) => write!(f, "unsupported proxy scheme {scheme:?}"),
            Self::HasPath => has(f, "a path"),
            Self::HasQuery => has(f, "a query"),
            Self::HasFragment => has(f, "a fragment"),
            Self::NoUserName => f.write_str("the proxy URL has an '@' but no user name"),
            Self::Ipv6Unclosed => f.write_str("an IPv6 address without its closing ']'"),
            Self::NotIpv6(text) => write!(f, "{text:?} is not an IPv6 address"),
            Self::AfterIpv6(text) => write!(f, "unexpected {text:?} after the IPv6 address"),
            Self::Ipv6NotBracketed => f.write_str("an IPv6 address must be in brackets"),
            Self::BadHost(host) => write!(f, "{host:?} is not a proxy host name or IP address"),
            Self::BadPort(port) => write!(f, "{port:?} is not a port number (1 to 65535)"),
        }
    }
}

/// Why a redirect is not followed: the cause of [`Error::Redirect`]. `Display` says it in
/// words.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectProblem {
    /// Following it would exceed [`ClientConfig::max_redirects`](crate::ClientConfig::max_redirects).
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// It leads from `wss://` to unencrypted `ws://` (or `http://`), which is never followed.
    Downgrade,
    /// The `Location` is not a URL, even relative to the request's.
    NotUrl(url::ParseError),
    /// The request's own URL cannot serve as the base to resolve the `Location` against.
    Unresolvable(url::ParseError),
    /// The `Location` has a scheme other than `ws`, `wss`, `http` or `https`.
    UnfollowedScheme(String),
    /// The URL it leads to cannot be used.
    InvalidTarget(UrlProblem),
}

impl fmt::Display for RedirectProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooMany { limit } => write!(
                f,
                "that would be more than {limit} redirects (raise ClientConfig::max_redirects if the chain is meant to be this long)"
            ),
            Self::Downgrade => f.write_str(
                "it would downgrade wss:// to unencrypted ws://, which sockeye never does",
            ),
            Self::NotUrl(err) => write!(f, "the Location is not a URL ({err})"),
            Self::Unresolvable(err) => {
                write!(f, "cannot resolve it against the request's URL ({err})")
            }
            Self::UnfollowedScheme(scheme) => write!(
                f,
                "it points to a {scheme}:// URL; only ws://, wss://, http:// and https:// are followed"
            ),
            Self::InvalidTarget(problem) => write!(f, "the URL it points to is invalid: {problem}"),
        }
    }
}

/// Why a host name did not resolve: the cause of [`Error::Dns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsFailure {
    /// The name does not exist, or has no addresses.
    NotFound,
    /// No DNS server answered (`EAI_AGAIN`): a network or resolver problem, maybe passing.
    Temporary,
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
        // Only clients report these: a server whose client is too slow reports
        // `Error::RequestTimeout`.
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
            Self::RequestTimeout { .. } => Stage::Http,
            Self::Handshake(err) => match err {
                HandshakeError::UnexpectedStatus { .. }
                | HandshakeError::RefusalBodyUnfinished { .. }
                | HandshakeError::MalformedHttp { .. }
                | HandshakeError::HeadTooLarge { .. }
                | HandshakeError::ClosedDuringHandshake { .. }
                | HandshakeError::MalformedRequest { .. }
                | HandshakeError::RequestHeadTooLarge { .. }
                | HandshakeError::RequestClosed { .. } => Stage::Http,
                HandshakeError::InvalidHeader { .. } => Stage::Url,
                _ => Stage::Handshake,
            },
            Self::Rejected { .. } | Self::SubprotocolNotSelected { .. } => Stage::Handshake,
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
        if let Some(problem) = crate::tls_problem::problem_in(&source) {
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

/// Like the derived `Debug`, with what `Display` hides hidden too (unless formatted inside
/// [`Error::unredacted`]).
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::redact::{error_text, error_url};
        match self {
            Self::InvalidUrl { url, problem, hint } => f
                .debug_struct("InvalidUrl")
                .field("url", &error_url(url))
                .field("problem", problem)
                .field("hint", hint)
                .finish(),
            Self::Unsupported(text) => f
                .debug_tuple("Unsupported")
                .field(&error_text(text))
                .finish(),
            Self::Dns {
                host,
                failure,
                source,
            } => f
                .debug_struct("Dns")
                .field("host", host)
                .field("failure", failure)
                .field("source", source)
                .finish(),
            Self::Connect { addr, source } => f
                .debug_struct("Connect")
                .field("addr", addr)
                .field("source", source)
                .finish(),
            Self::Timeout { stage, after } => f
                .debug_struct("Timeout")
                .field("stage", stage)
                .field("after", after)
                .finish(),
            Self::RequestTimeout { after } => f
                .debug_struct("RequestTimeout")
                .field("after", after)
                .finish(),
            Self::Handshake(err) => f
                .debug_tuple("Handshake")
                .field(&RedactedHandshake(err))
                .finish(),
            Self::Redirect {
                status,
                from,
                location,
                reason,
            } => f
                .debug_struct("Redirect")
                .field("status", status)
                .field("from", &error_url(from))
                .field("location", &error_url(location))
                .field("reason", reason)
                .finish(),
            Self::Rejected { status } => {
                f.debug_struct("Rejected").field("status", status).finish()
            }
            Self::Protocol(err) => f.debug_tuple("Protocol").field(err).finish(),
            Self::Send(err) => f.debug_tuple("Send").field(err).finish(),
            Self::Io { stage, source } => f
                .debug_struct("Io")
                .field("stage", stage)
                .field("source", source)
                .finish(),
            Self::ConnectionClosed => f.write_str("ConnectionClosed"),
            #[cfg(feature = "tls")]
            Self::Tls(problem) => match problem {
                crate::tls_problem::TlsProblem::NotTls { received } => {
                    let received = received
                        .as_deref()
                        .map(|bytes| error_text(&String::from_utf8_lossy(bytes)));
                    f.debug_tuple("Tls")
                        .field(&format_args!("NotTls {{ received: {received:?} }}"))
                        .finish()
                }
                other => f.debug_tuple("Tls").field(other).finish(),
            },
            Self::Proxy {
                proxy,
                reason,
                hint,
            } => f
                .debug_struct("Proxy")
                .field("proxy", &error_text(proxy))
                .field("reason", &RedactedProxy(reason))
                .field("hint", hint)
                .finish(),
            Self::ProxyUnreachable {
                proxy,
                failed_at,
                source,
            } => f
                .debug_struct("ProxyUnreachable")
                .field("proxy", &error_text(proxy))
                .field("failed_at", failed_at)
                .field("source", source)
                .finish(),
            Self::SubprotocolNotSelected { offered } => f
                .debug_struct("SubprotocolNotSelected")
                .field("offered", offered)
                .finish(),
        }
    }
}

/// Headers as `Debug` shows them: `[("Set-Cookie", "sid=[redacted]; Path=/")]`.
struct RedactedHeaders<'a>(&'a sockeye_proto::handshake::Headers);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|(name, value)| (name, crate::redact::error_header(name, value))),
            )
            .finish()
    }
}

/// A body as `Debug` shows it: as text, secrets hidden.
fn redacted_body(body: &[u8]) -> String {
    crate::redact::error_text(&String::from_utf8_lossy(body))
}

/// A [`HandshakeError`] as `Debug` shows it, headers, bodies and previews redacted.
struct RedactedHandshake<'a>(&'a HandshakeError);

impl fmt::Debug for RedactedHandshake<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            HandshakeError::UnexpectedStatus {
                status,
                reason,
                headers,
                body,
            } => f
                .debug_struct("UnexpectedStatus")
                .field("status", status)
                .field("reason", reason)
                .field("headers", &RedactedHeaders(headers))
                .field("body", &redacted_body(body))
                .finish(),
            HandshakeError::RefusalBodyUnfinished {
                status,
                reason,
                headers,
                body,
                problem,
            } => f
                .debug_struct("RefusalBodyUnfinished")
                .field("status", status)
                .field("reason", reason)
                .field("headers", &RedactedHeaders(headers))
                .field("body", &redacted_body(body))
                .field("problem", problem)
                .finish(),
            HandshakeError::MalformedHttp { why, preview } => f
                .debug_struct("MalformedHttp")
                .field("why", why)
                .field("preview", &crate::redact::error_text(preview))
                .finish(),
            HandshakeError::MalformedRequest { why, preview } => f
                .debug_struct("MalformedRequest")
                .field("why", why)
                .field("preview", &crate::redact::error_text(preview))
                .finish(),
            other => fmt::Debug::fmt(other, f),
        }
    }
}

/// A proxy's refusal as `Debug` shows it, headers and page redacted.
struct RedactedProxy<'a>(&'a sockeye_proto::proxy::ProxyError);

impl fmt::Debug for RedactedProxy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            sockeye_proto::proxy::ProxyError::HttpRefused {
                destination,
                status,
                reason,
                headers,
                body,
                sent_credentials,
                ..
            } => f
                .debug_struct("HttpRefused")
                .field("destination", destination)
                .field("status", status)
                .field("reason", reason)
                .field("headers", &RedactedHeaders(headers))
                .field("body", &redacted_body(body))
                .field("sent_credentials", sent_credentials)
                .finish(),
            other => fmt::Debug::fmt(other, f),
        }
    }
}
