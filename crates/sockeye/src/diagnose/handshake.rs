//! The opening handshake's rules, a table over [`HandshakeError`]: the reply's head (its status
//! and HTTP form are `http.rs`'s), the 101's headers (`Upgrade`, `Connection`,
//! `Sec-WebSocket-Accept`, subprotocols, extensions), and a server's view of a client's
//! request.

use sockeye_proto::HandshakeError;

use super::http::{body_problem, http_status, malformed, tls_record};
use super::Builder;

pub(super) fn handshake(b: &mut Builder<'_, '_>, err: &HandshakeError) {
    match err {
        HandshakeError::InvalidHeader { name, why } => {
            b.cause("invalid-header")
                .quote("header", name)
                .fact("why", *why)
                .hint("fix the header given (ClientConfig::header, ClientConfig::origin, ClientConfig::cookie…): names are HTTP tokens, values have no CR, LF or NUL");
        }
        HandshakeError::HeadTooLarge { limit } => {
            b.cause("response-head-too-large")
                .fact("limit", format!("{limit} bytes"))
                .status_line()
                .who_answered()
                .hint("the reply's head did not end within the limit: raise max_header_bytes if the server really sends that much, else it is not speaking HTTP");
        }
        HandshakeError::MalformedHttp { why, preview } => malformed(b, why, preview),
        HandshakeError::UnexpectedStatus {
            status,
            reason,
            headers,
            body,
        } => http_status(b, *status, reason, headers, body),
        HandshakeError::RefusalBodyUnfinished {
            status,
            reason,
            headers,
            body,
            problem,
        } => {
            // The status is what matters: the same cause and hint as a complete refusal.
            http_status(b, *status, reason, headers, body);
            b.fact("body_problem", body_problem(problem));
        }
        HandshakeError::BadUpgradeHeader { found } => {
            b.cause("upgrade-missing")
                .status_line()
                .quote("upgrade_received", found.as_deref().unwrap_or("(none)"))
                .who_answered()
                .hint("the server answered 101 Switching Protocols without `Upgrade: websocket`: something between client and server rewrote the response or dropped the header. A reverse proxy must pass the upgrade on (nginx: `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";`)");
        }
        HandshakeError::BadConnectionHeader { found } => {
            b.cause("connection-missing")
                .status_line()
                .quote("connection_received", found.as_deref().unwrap_or("(none)"))
                .who_answered()
                .hint("the server answered 101 Switching Protocols without `Connection: Upgrade`: something between client and server rewrote the hop-by-hop headers. A reverse proxy must set them (nginx: `proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";`)");
        }
        HandshakeError::MissingAccept { expected } => {
            key_sent(b);
            b.cause("accept-missing")
                .fact("expected_accept", expected.clone())
                .fact("received_accept", "(none)")
                .who_answered()
                .hint("the 101 carries no Sec-WebSocket-Accept: the server does not implement RFC 6455's handshake, or a middlebox stripped the header");
        }
        HandshakeError::AcceptMismatch { expected, received } => {
            key_sent(b);
            b.cause("accept-mismatch")
                .fact("expected_accept", expected.clone())
                .quote("received_accept", received)
                .who_answered()
                .hint("Sec-WebSocket-Accept does not answer the key sent: a middlebox (proxy, load balancer, antivirus) rewrote the headers or replayed another response, or the server computes it wrongly (base64 of SHA-1 of the key followed by 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)");
        }
        HandshakeError::UnexpectedSubprotocol { selected, offered } => {
            let offered = if offered.is_empty() {
                "(none)".to_string()
            } else {
                offered.join(", ")
            };
            b.cause("subprotocol-unexpected")
                .quote("selected", selected)
                .quote("offered", &offered)
                .hint("the server selected a subprotocol the client did not offer, which RFC 6455 forbids: offer it with ClientConfig::subprotocol if it is the one meant, or fix the server");
        }
        HandshakeError::UnexpectedExtension { extension, offered } => {
            let offered = if offered.is_empty() {
                "(none)".to_string()
            } else {
                offered.join(", ")
            };
            b.cause("extension-unexpected")
                .quote("extension", extension)
                .quote("offered", &offered)
                .who_answered()
                .hint("the server accepted an extension the client did not offer, which RFC 6455 forbids: the server (or a proxy answering for it) is broken, or offer the extension (ClientConfig::extension)");
        }
        HandshakeError::DeflateResponse { response, problem } => {
            b.cause("extension-invalid")
                .quote("extension_received", response)
                .fact("why", problem.to_string())
                .who_answered()
                .hint("the server's permessage-deflate answer breaks RFC 7692: the server (or a proxy answering for it) is broken; connecting without compression avoids it");
        }
        HandshakeError::ClosedDuringHandshake { received } => {
            b.cause("closed-during-handshake")
                .fact("received_bytes", received.to_string());
            let hint = if *received == 0 {
                let mut hint = String::from(
                    "the server closed the connection without answering the upgrade request: it may not speak HTTP on this port, refuse this client (by address, or a missing header), or have crashed; its logs say which.",
                );
                if b.cx.secure() == Some(false) {
                    hint.push_str(" A TLS port may also close on plain text: try wss://.");
                }
                hint
            } else {
                b.status_line();
                format!("the connection closed after {received} bytes of the reply, before its head ended: the server or a proxy in between dropped it mid-answer")
            };
            b.hint(hint);
        }
        HandshakeError::RequestClosed { received } => {
            b.cause("request-closed")
                .fact("received_bytes", received.to_string());
            b.hint(if *received == 0 {
                "the client closed the connection without sending a request: a port scanner, a health check that only opens TCP, or a client that gave up"
            } else {
                "the client closed the connection before its request head ended: it gave up (its own timeout), crashed, or something in between cut the connection"
            });
        }
        HandshakeError::RequestHeadTooLarge { limit } => {
            b.cause("request-head-too-large")
                .fact("limit", format!("{limit} bytes"))
                .hint("the client's request head did not end within max_header_bytes (answered 431): raise it if real clients send that much (many or long cookies), else the client is not speaking HTTP or is hostile");
        }
        HandshakeError::MalformedRequest { why, preview } => {
            b.cause("request-not-http")
                .quote_escaped("first_bytes", preview)
                .fact("why", why.clone());
            b.hint(if tls_record(preview) {
                "the client speaks TLS to this plain port (answered 400): it should use ws://, or the server should serve TLS here"
            } else {
                "the client's bytes are not an HTTP/1.1 request (answered 400): something other than a WebSocket client connected"
            });
        }
        HandshakeError::MethodNotGet(_)
        | HandshakeError::HttpVersionTooOld
        | HandshakeError::MissingHost
        | HandshakeError::InvalidHost { .. }
        | HandshakeError::RepeatedHeader { .. }
        | HandshakeError::RequestBody { .. }
        | HandshakeError::RequestUpgradeHeader { .. }
        | HandshakeError::RequestConnectionHeader { .. }
        | HandshakeError::UnsupportedVersion { .. }
        | HandshakeError::InvalidKey { .. }
        | HandshakeError::SubprotocolNotOffered { .. } => {
            b.cause("request-invalid");
            if let Some(status) = err.http_status() {
                b.fact("answered", status.to_string());
            }
            b.hint("the client's request is not a valid WebSocket handshake; the message says which rule it breaks");
        }
        _ => {
            b.cause("handshake-failed");
        }
    }
}

/// The `Sec-WebSocket-Key` of the request, when recorded.
pub(super) fn key_sent(b: &mut Builder<'_, '_>) {
    let key =
        b.cx.request
            .as_ref()
            .and_then(|head| head.get("Sec-WebSocket-Key"))
            .map(str::to_string);
    if let Some(key) = key {
        b.quote("key_sent", &key);
    }
}

/// [`Error::SubprotocolNotSelected`](crate::Error::SubprotocolNotSelected): a 101 that chose
/// none of the subprotocols offered, when one is required.
pub(super) fn subprotocol_not_selected(b: &mut Builder<'_, '_>, offered: &[String]) {
    b.cause("subprotocol-not-selected")
        .quote("offered", &offered.join(", "))
        .fact("selected", "none")
        .who_answered()
        .hint("the server opened the connection without choosing any offered subprotocol: it supports none of them (check their names), or ignores Sec-WebSocket-Protocol; browsers fail such a connection too. Leave ClientConfig::require_subprotocol off to accept it");
}

/// [`Error::Rejected`](crate::Error::Rejected): a server's accept hook refused the request.
pub(super) fn rejected(b: &mut Builder<'_, '_>, status: u16) {
    b.cause("rejected")
        .fact("status", status.to_string())
        .hint("the accept hook refused this request");
}
