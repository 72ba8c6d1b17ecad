//! The opening handshake (RFC 6455 section 4), both roles, sans-I/O.
//!
//! - Client: build a [`ClientRequest`], make a [`ClientHandshake`], send its
//!   [`request_bytes`](ClientHandshake::request_bytes), feed the response to
//!   [`ClientHandshake::receive`] until it returns the validated [`Response`]. Bytes after the
//!   response head stay in the buffer: they are the first frames.
//! - Server: feed bytes to [`server::parse_request`] until it returns a validated [`Request`];
//!   inspect it, then write [`server::accept_response`] or [`server::reject_response`]. A request
//!   that fails validation gets [`server::error_response`] (400, 426 with
//!   `Sec-WebSocket-Version: 13`, …). [`server::negotiate_deflate`] answers a permessage-deflate
//!   offer in the [`Accept`] before the response is written.
//! - permessage-deflate, client side: offer it in [`ClientRequest::extensions`]; the response's
//!   answer is checked (RFC 7692 section 7.1) and the agreed parameters are in
//!   [`Response::deflate`].

pub mod accept;
pub mod client;
pub mod headers;
pub mod server;

use bytes::Bytes;
use thiserror::Error;

pub use accept::accept_key;
pub use client::{ClientHandshake, ClientRequest, Response};
pub use headers::Headers;
pub use server::{Accept, Reject, Request};

/// Largest request or response head accepted by default: 16 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

/// How much of a refusal's body a client keeps for diagnosis: 4 KiB.
pub const MAX_ERROR_BODY_BYTES: usize = 4 * 1024;

/// Why an opening handshake failed. One variant per rule of RFC 6455 section 4.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A header to send has a bad name or a CR, LF or NUL in its value; nothing was sent.
    #[error("refusing to send header {name:?}: {why}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The head of the request or response exceeded the limit.
    #[error("the HTTP head exceeded {limit} bytes (or 128 headers) without ending; raise max_header_bytes if the peer really sends that much")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The peer's bytes are not HTTP/1.x.
    #[error("the peer's reply is not a valid HTTP/1.1 message ({why}); first bytes: {preview}")]
    MalformedHttp {
        /// What httparse reported.
        why: String,
        /// The first bytes received, escaped.
        preview: String,
    },
    /// The server answered with a status other than 101.
    #[error("the server answered {status} {reason} instead of 101 Switching Protocols")]
    UnexpectedStatus {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Response headers.
        headers: Headers,
        /// Up to 4 KiB of the body.
        body: Bytes,
    },
    /// `Upgrade` missing or not `websocket`.
    #[error("the response's Upgrade header is {}, not \"websocket\": something between client and server may have dropped it", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    BadUpgradeHeader {
        /// The value received, if any.
        found: Option<String>,
    },
    /// `Connection` without the `upgrade` token.
    #[error("the response's Connection header is {}, without the \"upgrade\" token: a proxy may have rewritten it", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    BadConnectionHeader {
        /// The value received, if any.
        found: Option<String>,
    },
    /// `Sec-WebSocket-Accept` missing.
    #[error("the response has no Sec-WebSocket-Accept header (expected {expected:?})")]
    MissingAccept {
        /// The value RFC 6455 requires for our key.
        expected: String,
    },
    /// `Sec-WebSocket-Accept` does not match our key.
    #[error("Sec-WebSocket-Accept is {received:?} but the key we sent requires {expected:?}: the server computed it wrongly or a middlebox rewrote headers")]
    AcceptMismatch {
        /// The value RFC 6455 requires for our key.
        expected: String,
        /// The value received.
        received: String,
    },
    /// The server selected a subprotocol the client did not offer.
    #[error("the server selected subprotocol {selected:?}, which the client did not offer (offered: {offered:?})")]
    UnexpectedSubprotocol {
        /// What the server selected.
        selected: String,
        /// What the client offered.
        offered: Vec<String>,
    },
    /// The server accepted an extension the client did not offer.
    #[error("the server accepted extension {extension:?}, which the client did not offer (offered: {offered:?})")]
    UnexpectedExtension {
        /// The extension's name.
        extension: String,
        /// The extensions the client offered.
        offered: Vec<String>,
    },
    /// The server's `permessage-deflate` answer breaks RFC 7692 (section 5 or 7.1): the client
    /// must fail the connection.
    #[error("the server's permessage-deflate response {response:?} is invalid: {problem}")]
    DeflateResponse {
        /// The response element (or elements) as received.
        response: String,
        /// What is wrong with it.
        problem: crate::extensions::deflate::DeflateProblem,
    },
    /// The transport ended before the handshake finished.
    #[error("the connection closed during the handshake after {received} bytes of reply: the server or a proxy dropped it")]
    ClosedDuringHandshake {
        /// Bytes received before the end.
        received: usize,
    },
    /// (Server) the request is not a GET.
    #[error("the request method is {0}, but a WebSocket handshake must be GET")]
    MethodNotGet(String),
    /// (Server) the request is older than HTTP/1.1.
    #[error("the request is HTTP/1.0, but a WebSocket handshake needs HTTP/1.1 (a proxy without `proxy_http_version 1.1`?)")]
    HttpVersionTooOld,
    /// (Server) no `Host` header.
    #[error("the request has no Host header")]
    MissingHost,
    /// (Server) `Upgrade` missing or without `websocket`.
    #[error("the request's Upgrade header is {}, not \"websocket\": this is a plain HTTP request, or a proxy dropped the header", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    RequestUpgradeHeader {
        /// The value received, if any.
        found: Option<String>,
    },
    /// (Server) `Connection` without the `upgrade` token.
    #[error("the request's Connection header is {}, without the \"upgrade\" token", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    RequestConnectionHeader {
        /// The value received, if any.
        found: Option<String>,
    },
    /// (Server) `Sec-WebSocket-Version` missing or not 13.
    #[error("the request's Sec-WebSocket-Version is {}, but only 13 is supported", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    UnsupportedVersion {
        /// The value received, if any.
        found: Option<String>,
    },
    /// (Server) `Sec-WebSocket-Key` missing or not base64 of 16 bytes.
    #[error("the request's Sec-WebSocket-Key is {}, not the base64 of 16 bytes", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    InvalidKey {
        /// The value received, if any.
        found: Option<String>,
    },
    /// (Server) the accept options name a subprotocol the client did not offer.
    #[error("cannot select subprotocol {selected:?}: the client offered only {offered:?}")]
    SubprotocolNotOffered {
        /// The subprotocol chosen by the server code.
        selected: String,
        /// What the client offered.
        offered: Vec<String>,
    },
}

impl HandshakeError {
    /// For a request a server refuses: the HTTP status to answer with.
    pub fn http_status(&self) -> Option<u16> {
        Some(match self {
            Self::MethodNotGet(_) => 405,
            Self::HttpVersionTooOld => 505,
            Self::HeadTooLarge { .. } => 431,
            Self::MissingHost | Self::InvalidKey { .. } | Self::MalformedHttp { .. } => 400,
            Self::RequestUpgradeHeader { .. }
            | Self::RequestConnectionHeader { .. }
            | Self::UnsupportedVersion { .. } => 426,
            _ => return None,
        })
    }
}

/// Escapes bytes for an error message: printable ASCII as is, the rest as `\xNN`; at most 64 bytes.
pub(crate) fn escape_preview(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(64) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > 64 {
        out.push('…');
    }
    out
}
