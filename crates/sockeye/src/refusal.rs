//! What a refusal says, in the terms error messages and redirects share: the status and
//! headers of a refused upgrade, where a redirect points, the page of a proxy's refusal.

use sockeye_proto::handshake::Headers;
use sockeye_proto::proxy::ProxyError;
use sockeye_proto::HandshakeError;

/// The statuses that are followed: 301, 302, 303, 307 and 308. (A WebSocket handshake is always
/// a GET without a body, so "see other" and "keep the method" mean the same here.)
pub(crate) const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// The status and headers of a refusal of the upgrade: complete, or with a broken body (a
/// redirect is followed all the same: its `Location` is in the head).
pub(crate) fn refusal(error: &HandshakeError) -> Option<(u16, &Headers)> {
    let status = error.refusal_status()?;
    match error {
        HandshakeError::UnexpectedStatus { headers, .. }
        | HandshakeError::RefusalBodyUnfinished { headers, .. } => Some((status, headers)),
        _ => None,
    }
}

/// For an error message: where an unfollowed redirect points, and how to follow it.
pub(crate) fn location_hint(error: &HandshakeError) -> String {
    match refusal(error) {
        Some((status, headers)) if REDIRECT_STATUSES.contains(&status) => {
            match headers.get("Location") {
                Some(location) => format!(
                    " (it redirects to {:?}; set ClientConfig::follow_redirects to follow it)",
                    location.trim()
                ),
                None => " (a redirect without a Location header)".into(),
            }
        }
        _ => String::new(),
    }
}

/// For `Error::Proxy`'s message: the readable text of an HTTP refusal's page, if any
/// (`; its page says: "Access Denied. …"`).
pub(crate) fn refusal_page(reason: &ProxyError) -> String {
    match reason {
        ProxyError::HttpRefused { body, .. } => {
            let text = sockeye_proto::proxy::body_text(body, 240);
            if text.is_empty() {
                String::new()
            } else {
                format!("; its page says: {text:?}")
            }
        }
        _ => String::new(),
    }
}
