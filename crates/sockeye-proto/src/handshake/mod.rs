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
//!
//! # Limits
//!
//! Everything a peer sends during the handshake is read in bounded amounts:
//!
//! | what | limit | when it is reached |
//! |---|---|---|
//! | a request or response head | [`DEFAULT_MAX_HEADER_BYTES`] (16 KiB, 128 headers), `max_header_bytes` | client: [`HandshakeError::HeadTooLarge`]; server: [`HandshakeError::RequestHeadTooLarge`], answered 431 |
//! | a refusal's body kept (client) | [`MAX_ERROR_BODY_BYTES`] (4 KiB) | reading stops; the refusal is reported with that much |
//! | a refusal's body read, framing included (client) | [`body::MAX_ERROR_BODY_READ_BYTES`] (64 KiB) | reading stops; [`BodyProblem::TooLong`] |
//! | a chunk-size line, with extensions | [`chunked::MAX_CHUNK_LINE_BYTES`] (1 KiB) | reading stops; [`BodyProblem::Chunked`] |
//! | a chunked body's trailer section | [`chunked::MAX_TRAILER_BYTES`] (4 KiB) | (the client stops at the last chunk and never reads trailers) |
//!
//! A refusal whose body is broken or endless is still reported with its status:
//! [`HandshakeError::RefusalBodyUnfinished`].
//!
//! # Strict requests
//!
//! The server refuses, with 400, a request that two parties could read differently (RFC 9112
//! section 3.2, RFC 6455 sections 4.1 and 11.3): two `Host` headers or a `Host` that is not one
//! host; a body (`Transfer-Encoding`, or a `Content-Length` other than a single `0`), whose
//! bytes would otherwise be read as WebSocket frames, the request smuggling a proxy in front
//! can be led into; a repeated `Sec-WebSocket-Key` or `Sec-WebSocket-Version`. `Upgrade` and
//! `Connection` are lists (RFC 9110 section 5.3): repeating them is the same as one
//! comma-separated line, and is accepted.

pub mod accept;
pub mod body;
pub mod chunked;
pub mod client;
pub mod headers;
pub mod server;

use bytes::Bytes;
use thiserror::Error;

pub use accept::accept_key;
pub use body::BodyProblem;
pub use chunked::ChunkedProblem;
pub use client::{ClientHandshake, ClientRequest, Response};
pub use headers::Headers;
pub use server::{Accept, Reject, Request};

/// Largest request or response head accepted by default: 16 KiB (and at most 128 headers). A
/// head that has not ended within it is refused: the client fails with
/// [`HandshakeError::HeadTooLarge`], the server answers 431 ([`HandshakeError::RequestHeadTooLarge`]).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

/// How much of a refusal's body a client keeps for diagnosis: 4 KiB. Once that much has
/// arrived the client stops reading and reports the refusal; at most
/// [`body::MAX_ERROR_BODY_READ_BYTES`] (64 KiB) of the body are read to get it.
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
    /// (Client) the head of the server's response exceeded the limit.
    #[error("the server's response head exceeded {limit} bytes (or 128 headers) without ending; raise max_header_bytes if the server really sends that much")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// (Client) the server's bytes are not an HTTP/1.x response.
    #[error(
        "the server's response is not a valid HTTP/1.1 message ({why}); first bytes: {preview}"
    )]
    MalformedHttp {
        /// What httparse reported.
        why: String,
        /// The first bytes received, escaped.
        preview: String,
    },
    /// The server answered with a status other than 101. Its body was read until it ended or
    /// [`MAX_ERROR_BODY_BYTES`] of it arrived.
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
    /// The server answered with a status other than 101, and its body is broken: it never
    /// ended within the limits, its chunked framing is malformed, or the connection closed
    /// before its end. The status is what matters; the body is what arrived of it.
    #[error("the server refused the upgrade with {status} {reason}, and {problem}")]
    RefusalBodyUnfinished {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Response headers.
        headers: Headers,
        /// Up to 4 KiB of the body: what was decoded before the problem.
        body: Bytes,
        /// What is wrong with the body.
        problem: BodyProblem,
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
    /// (Client) the transport ended before the server's response head did.
    #[error("the connection closed during the handshake after {received} bytes of reply: the server or a proxy dropped it")]
    ClosedDuringHandshake {
        /// Bytes received before the end.
        received: usize,
    },
    /// (Server) the head of the client's request exceeded the limit: answered 431.
    #[error("the client's request head exceeded {limit} bytes (or 128 headers) without ending; raise max_header_bytes if clients really send that much")]
    RequestHeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// (Server) the client's bytes are not an HTTP/1.x request: answered 400.
    #[error(
        "the client's request is not a valid HTTP/1.1 message ({why}); first bytes: {preview}"
    )]
    MalformedRequest {
        /// What httparse reported.
        why: String,
        /// The first bytes received, escaped.
        preview: String,
    },
    /// (Server) the transport ended before the client's request head did.
    #[error(
        "the client closed the connection after {received} bytes, before its request head ended"
    )]
    RequestClosed {
        /// Bytes received before the end.
        received: usize,
    },
    /// (Server) the request is not a GET.
    #[error("the client's request method is {0}, but a WebSocket handshake must be GET")]
    MethodNotGet(String),
    /// (Server) the request is older than HTTP/1.1.
    #[error("the client's request is HTTP/1.0, but a WebSocket handshake needs HTTP/1.1 (a proxy without `proxy_http_version 1.1`?)")]
    HttpVersionTooOld,
    /// (Server) no `Host` header.
    #[error("the client's request has no Host header")]
    MissingHost,
    /// (Server) a `Host` that is not one host (RFC 9112 section 3.2): answered 400.
    #[error("the client's request has Host {found:?}, which is not one host[:port]")]
    InvalidHost {
        /// The value received.
        found: String,
    },
    /// (Server) a header that must appear once appears more often (`Host`, RFC 9112 section
    /// 3.2; `Sec-WebSocket-Key` and `Sec-WebSocket-Version`, RFC 6455 section 11.3): the
    /// request is ambiguous, answered 400.
    #[error("the client's request has {count} {name} headers ({}), but exactly one is allowed: the request is ambiguous", values.join(" | "))]
    RepeatedHeader {
        /// The header's name.
        name: &'static str,
        /// How many times it appears.
        count: usize,
        /// Its values, in order.
        values: Vec<String>,
    },
    /// (Server) the upgrade request announces a body (`Transfer-Encoding`, or a
    /// `Content-Length` other than 0): answered 400. An upgrade request has no body (RFC 6455
    /// section 4.1, RFC 9110 section 9.3.1); its bytes would be read as WebSocket frames here
    /// while a proxy in front reads them as a body: request smuggling.
    #[error("the client's request announces a body ({header}: {value}), but a WebSocket upgrade request has none: its bytes would be read as WebSocket frames")]
    RequestBody {
        /// `Content-Length` or `Transfer-Encoding`.
        header: &'static str,
        /// The value(s) received.
        value: String,
    },
    /// (Server) `Upgrade` missing or without `websocket`.
    #[error("the client's request has Upgrade {}, not \"websocket\": this is a plain HTTP request, or a proxy dropped the header", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    RequestUpgradeHeader {
        /// The value received, if any.
        found: Option<String>,
    },
    /// (Server) `Connection` without the `upgrade` token.
    #[error("the client's request has Connection {}, without the \"upgrade\" token", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    RequestConnectionHeader {
        /// The value received, if any.
        found: Option<String>,
    },
    /// (Server) `Sec-WebSocket-Version` missing or not 13.
    #[error("the client's request has Sec-WebSocket-Version {}, but only 13 is supported", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
    UnsupportedVersion {
        /// The value received, if any.
        found: Option<String>,
    },
    /// (Server) `Sec-WebSocket-Key` missing or not base64 of 16 bytes.
    #[error("the client's request has Sec-WebSocket-Key {}, not the base64 of 16 bytes", found.as_deref().map_or("missing".to_string(), |v| format!("{v:?}")))]
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
            Self::HeadTooLarge { .. } | Self::RequestHeadTooLarge { .. } => 431,
            Self::MissingHost
            | Self::InvalidHost { .. }
            | Self::RepeatedHeader { .. }
            | Self::RequestBody { .. }
            | Self::InvalidKey { .. }
            | Self::MalformedHttp { .. }
            | Self::MalformedRequest { .. } => 400,
            Self::RequestUpgradeHeader { .. }
            | Self::RequestConnectionHeader { .. }
            | Self::UnsupportedVersion { .. } => 426,
            _ => return None,
        })
    }

    /// For a client: the status the server refused the upgrade with
    /// ([`UnexpectedStatus`](Self::UnexpectedStatus) or
    /// [`RefusalBodyUnfinished`](Self::RefusalBodyUnfinished)).
    pub fn refusal_status(&self) -> Option<u16> {
        match self {
            Self::UnexpectedStatus { status, .. } | Self::RefusalBodyUnfinished { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
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
