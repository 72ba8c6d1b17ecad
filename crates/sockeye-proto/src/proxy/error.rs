//! Why a proxy handshake failed: [`ProxyError`], its messages and the meaning of the SOCKS reply
//! codes.

use bytes::Bytes;
use thiserror::Error;

use super::ProxyProtocol;
#[cfg(doc)]
use super::{MAX_REFUSAL_BODY_BYTES, MAX_REPLY_HEAD_BYTES};
use crate::handshake::{BodyProblem, Headers};

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
