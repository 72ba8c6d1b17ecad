//! HTTP `CONNECT` (RFC 9110 section 9.3.6) with Basic authentication: the request, the reply
//! head, and the body of a refusal.

use base64::Engine as _;
use bytes::{Bytes, BytesMut};

use super::{
    ProxyError, ProxyHandshake, State, Tunnel, MAX_REFUSAL_BODY_BYTES, MAX_REPLY_HEAD_BYTES,
};
use crate::handshake::body::RefusalBody;
use crate::handshake::headers::write_header;
use crate::handshake::{escape_preview, Headers};

impl ProxyHandshake {
    // -- HTTP CONNECT ------------------------------------------------------------------------

    pub(super) fn http_request(&self) -> Result<Vec<u8>, ProxyError> {
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

    pub(super) fn receive_http_head(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Tunnel>, ProxyError> {
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
    pub(super) fn receive_http_body(
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
}

/// How many bytes may be read while the `CONNECT` reply head is incomplete without reading past
/// its end: the fewest that could complete a blank line (`\r\n\r\n`, or bare `\n\n`).
pub(super) fn head_read_limit(buffered: &[u8]) -> usize {
    match buffered {
        [.., b'\n'] | [.., b'\n', b'\r'] => 1,
        _ => 2,
    }
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
}
