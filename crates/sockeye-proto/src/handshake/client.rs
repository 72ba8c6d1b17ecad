//! The client side of the opening handshake (RFC 6455 sections 4.1 and 4.2.2).

use bytes::{Bytes, BytesMut};

use crate::extensions::deflate::{self, DeflateProblem, PerMessageDeflate};
use crate::extensions::ExtensionOffer;
use crate::handshake::accept::{accept_key, encode_key};
use crate::handshake::body::RefusalBody;
use crate::handshake::headers::{check_header, write_header, Headers};
use crate::handshake::{
    escape_preview, HandshakeError, DEFAULT_MAX_HEADER_BYTES, MAX_ERROR_BODY_BYTES,
};
use crate::random::fill_os_random;

/// What the client asks for: the request line target, `Host`, and the optional headers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientRequest {
    /// The `Host` header value: `host` or `host:port`.
    pub host: String,
    /// The request target: path and query, starting with `/`.
    pub target: String,
    /// The `Origin` header, if any. Default none: browsers send one, other clients need not.
    pub origin: Option<String>,
    /// Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`).
    pub subprotocols: Vec<String>,
    /// Extension offers, each a full header element (`permessage-deflate; client_max_window_bits`).
    pub extensions: Vec<String>,
    /// Extra headers, in order, sent after the required ones.
    pub headers: Vec<(String, String)>,
    /// Largest response head accepted. Default [`DEFAULT_MAX_HEADER_BYTES`].
    pub max_header_bytes: usize,
}

impl ClientRequest {
    /// A request for `target` (path and query) on `host` (with `:port` when not the default).
    pub fn new(host: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            target: target.into(),
            origin: None,
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }

    /// Sets `Origin`.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers a subprotocol (repeatable).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Offers an extension (repeatable).
    pub fn extension(mut self, offer: impl Into<String>) -> Self {
        self.extensions.push(offer.into());
        self
    }

    /// Adds a header (repeatable, order kept).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn encode(&self, key: &str) -> Result<Vec<u8>, HandshakeError> {
        let target_ok = self.target.starts_with('/')
            && !self
                .target
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b == 0);
        if !target_ok {
            return Err(HandshakeError::InvalidHeader {
                name: "request target".into(),
                why: "the path must start with '/' and contain no spaces, CR, LF or NUL",
            });
        }
        check_header("Host", &self.host)?;
        let mut fixed = vec![
            ("Host", self.host.clone()),
            ("Upgrade", "websocket".to_string()),
            ("Connection", "Upgrade".to_string()),
            ("Sec-WebSocket-Key", key.to_string()),
            ("Sec-WebSocket-Version", "13".to_string()),
        ];
        if let Some(origin) = &self.origin {
            fixed.push(("Origin", origin.clone()));
        }
        if !self.subprotocols.is_empty() {
            fixed.push(("Sec-WebSocket-Protocol", self.subprotocols.join(", ")));
        }
        if !self.extensions.is_empty() {
            fixed.push(("Sec-WebSocket-Extensions", self.extensions.join(", ")));
        }
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in fixed {
            check_header(name, &value)?;
            write_header(&mut out, name, &value);
        }
        for (name, value) in &self.headers {
            check_header(name, value)?;
            write_header(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }
}

/// The server's validated `101 Switching Protocols` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code (101).
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Every header, in order.
    pub headers: Headers,
    /// The subprotocol the server selected, if any.
    pub subprotocol: Option<String>,
    /// The extensions the server accepted.
    pub extensions: Vec<ExtensionOffer>,
    /// The permessage-deflate parameters in force, when the server accepted the extension
    /// (checked against the offer, RFC 7692 section 7.1): give them to
    /// [`Connection::with_deflate`](crate::Connection::with_deflate).
    pub deflate: Option<PerMessageDeflate>,
    /// The response head exactly as received (status line and headers, up to the blank line).
    pub head: Bytes,
    /// The request head this response answers, exactly as sent.
    pub request: Bytes,
}

#[derive(Debug)]
enum Stage {
    Head,
    /// A non-101 response whose body (up to [`MAX_ERROR_BODY_BYTES`]) is being read for
    /// diagnosis: the refusal without its body, and the body's reader.
    Body {
        refusal: Box<HandshakeError>,
        body: Box<RefusalBody>,
    },
    Done,
}

/// The client's half of the opening handshake: the request to send and the response check.
#[derive(Debug)]
pub struct ClientHandshake {
    request: ClientRequest,
    request_bytes: Vec<u8>,
    key: String,
    expected_accept: String,
    stage: Stage,
}

impl ClientHandshake {
    /// A handshake with a fresh key from the OS CSPRNG.
    ///
    /// Fails, before anything is sent, if a header has a bad name or CR, LF or NUL in its value.
    pub fn new(request: ClientRequest) -> Result<Self, HandshakeError> {
        let mut nonce = [0u8; 16];
        fill_os_random(&mut nonce);
        Self::with_nonce(request, nonce)
    }

    /// A handshake whose `Sec-WebSocket-Key` is the base64 of `nonce` (for tests and replays).
    pub fn with_nonce(request: ClientRequest, nonce: [u8; 16]) -> Result<Self, HandshakeError> {
        let key = encode_key(nonce);
        let request_bytes = request.encode(&key)?;
        Ok(Self {
            expected_accept: accept_key(&key),
            request,
            request_bytes,
            key,
            stage: Stage::Head,
        })
    }

    /// The bytes to write: request line, headers, blank line.
    pub fn request_bytes(&self) -> &[u8] {
        &self.request_bytes
    }

    /// The request this handshake sends.
    pub fn request(&self) -> &ClientRequest {
        &self.request
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` the server must answer.
    pub fn expected_accept(&self) -> &str {
        &self.expected_accept
    }

    /// Feeds received bytes (accumulated in `buf`; the caller appends).
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some(response))`: the handshake succeeded; the head
    /// was removed from `buf` and what remains are the first WebSocket frames. `Err`: the
    /// handshake failed.
    ///
    /// For a refusal (status other than 101), the error comes once its body has been read for
    /// diagnosis, in bounded amounts (see the [module's limits](super#limits)): the body ended,
    /// [`MAX_ERROR_BODY_BYTES`] of it arrived, or it is broken or endless
    /// ([`HandshakeError::RefusalBodyUnfinished`]), whichever comes first. The body's bytes are
    /// removed from `buf` as they are read, so `buf` never holds more than one read. Until then
    /// [`refusal_pending`](Self::refusal_pending) is true, and
    /// [`receive_eof`](Self::receive_eof) gives the refusal with what arrived.
    pub fn receive(&mut self, buf: &mut BytesMut) -> Result<Option<Response>, HandshakeError> {
        match &mut self.stage {
            Stage::Head => {
                let response = self.parse_head(buf)?;
                if response.is_some() {
                    self.stage = Stage::Done;
                }
                Ok(response)
            }
            Stage::Body { body, .. } => match body.feed(buf) {
                None => Ok(None),
                Some(end) => Err(self.finish_refusal(end)),
            },
            Stage::Done => Ok(None),
        }
    }

    /// True while the body of a refusal is being read: the server has already said no, and
    /// [`receive_eof`](Self::receive_eof) gives that answer with whatever body arrived (for a
    /// caller whose time ran out).
    pub fn refusal_pending(&self) -> bool {
        matches!(self.stage, Stage::Body { .. })
    }

    /// Tells the handshake the transport ended, or that the caller stops reading (its time ran
    /// out); returns the error that ends the handshake. While a refusal is pending that is the
    /// refusal, with what arrived of its body ([`HandshakeError::RefusalBodyUnfinished`] if
    /// its length or last chunk had not arrived); otherwise
    /// [`HandshakeError::ClosedDuringHandshake`].
    pub fn receive_eof(&mut self, buf: &mut BytesMut) -> HandshakeError {
        match &mut self.stage {
            Stage::Body { body, .. } => {
                let end = body.feed(buf).unwrap_or_else(|| body.finish());
                self.finish_refusal(end)
            }
            _ => HandshakeError::ClosedDuringHandshake {
                received: buf.len(),
            },
        }
    }

    /// Ends a refusal whose body reading is over: the refusal with the body kept, and the
    /// problem if the body is broken.
    fn finish_refusal(&mut self, end: Result<(), crate::handshake::BodyProblem>) -> HandshakeError {
        let Stage::Body { refusal, body } = std::mem::replace(&mut self.stage, Stage::Done) else {
            return HandshakeError::ClosedDuringHandshake { received: 0 };
        };
        let preview = body.preview();
        match (*refusal, end) {
            (
                HandshakeError::UnexpectedStatus {
                    status,
                    reason,
                    headers,
                    ..
                },
                Err(problem),
            ) => HandshakeError::RefusalBodyUnfinished {
                status,
                reason,
                headers,
                body: preview,
                problem,
            },
            (
                HandshakeError::UnexpectedStatus {
                    status,
                    reason,
                    headers,
                    ..
                },
                Ok(()),
            ) => HandshakeError::UnexpectedStatus {
                status,
                reason,
                headers,
                body: preview,
            },
            (other, _) => other,
        }
    }

    fn parse_head(&mut self, buf: &mut BytesMut) -> Result<Option<Response>, HandshakeError> {
        let limit = self.request.max_header_bytes;
        let mut raw = [httparse::EMPTY_HEADER; 128];
        let mut parsed = httparse::Response::new(&mut raw);
        let head_len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > limit => {
                return Err(HandshakeError::HeadTooLarge { limit })
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HandshakeError::HeadTooLarge { limit })
            }
            Err(err) => {
                return Err(HandshakeError::MalformedHttp {
                    why: err.to_string(),
                    preview: escape_preview(buf),
                })
            }
        };
        if head_len > limit {
            return Err(HandshakeError::HeadTooLarge { limit });
        }
        let status = parsed.code.unwrap_or(0);
        let reason = parsed.reason.unwrap_or("").to_string();
        let headers = Headers::from_httparse(parsed.headers);
        let head = buf.split_to(head_len).freeze();
        if status != 101 {
            let body = RefusalBody::new(status, &headers, MAX_ERROR_BODY_BYTES);
            self.stage = Stage::Body {
                refusal: Box::new(HandshakeError::UnexpectedStatus {
                    status,
                    reason,
                    headers,
                    body: Bytes::new(),
                }),
                body: Box::new(body),
            };
            return self.receive(buf);
        }
        self.validate(status, reason, headers, head).map(Some)
    }

    fn validate(
        &self,
        status: u16,
        reason: String,
        headers: Headers,
        head: Bytes,
    ) -> Result<Response, HandshakeError> {
        if !headers.has_token("Upgrade", "websocket") {
            return Err(HandshakeError::BadUpgradeHeader {
                found: headers.get("Upgrade").map(str::to_string),
            });
        }
        if !headers.has_token("Connection", "upgrade") {
            return Err(HandshakeError::BadConnectionHeader {
                found: headers.get("Connection").map(str::to_string),
            });
        }
        match headers.get("Sec-WebSocket-Accept").map(str::trim) {
            None => {
                return Err(HandshakeError::MissingAccept {
                    expected: self.expected_accept.clone(),
                })
            }
            Some(received) if received != self.expected_accept => {
                return Err(HandshakeError::AcceptMismatch {
                    expected: self.expected_accept.clone(),
                    received: received.to_string(),
                })
            }
            Some(_) => {}
        }
        let selected: Vec<&str> = headers.tokens("Sec-WebSocket-Protocol").collect();
        let subprotocol = match selected.as_slice() {
            [] => None,
            [one] if self.request.subprotocols.iter().any(|p| p == one) => Some(one.to_string()),
            _ => {
                return Err(HandshakeError::UnexpectedSubprotocol {
                    selected: selected.join(", "),
                    offered: self.request.subprotocols.clone(),
                })
            }
        };
        let offered: Vec<String> = self
            .request
            .extensions
            .iter()
            .flat_map(|offer| ExtensionOffer::parse_list(offer))
            .map(|offer| offer.name)
            .collect();
        let extensions: Vec<ExtensionOffer> = headers
            .get_all("Sec-WebSocket-Extensions")
            .flat_map(ExtensionOffer::parse_list)
            .collect();
        if let Some(unoffered) = extensions.iter().find(|ext| {
            !offered
                .iter()
                .any(|name| name.eq_ignore_ascii_case(&ext.name))
        }) {
            return Err(HandshakeError::UnexpectedExtension {
                extension: unoffered.name.clone(),
                offered,
            });
        }
        let deflate = self.check_deflate(&extensions)?;
        Ok(Response {
            status,
            reason,
            headers,
            subprotocol,
            extensions,
            deflate,
            head,
            request: Bytes::copy_from_slice(&self.request_bytes),
        })
    }
}

impl ClientHandshake {
    /// Checks an accepted `permessage-deflate` against the offers (RFC 7692 section 7.1).
    fn check_deflate(
        &self,
        accepted: &[ExtensionOffer],
    ) -> Result<Option<PerMessageDeflate>, HandshakeError> {
        let answers: Vec<&ExtensionOffer> = accepted
            .iter()
            .filter(|ext| deflate::is_permessage_deflate(ext))
            .collect();
        let invalid = |problem| HandshakeError::DeflateResponse {
            response: answers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            problem,
        };
        match answers.as_slice() {
            [] => Ok(None),
            [answer] => {
                let offers: Vec<ExtensionOffer> = self
                    .request
                    .extensions
                    .iter()
                    .flat_map(|offer| ExtensionOffer::parse_list(offer))
                    .collect();
                deflate::check_response(&offers, answer)
                    .map(Some)
                    .map_err(invalid)
            }
            _ => Err(invalid(DeflateProblem::AcceptedTwice)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> ClientHandshake {
        // The RFC 6455 section 1.3 nonce: "the sample nonce".
        ClientHandshake::with_nonce(
            ClientRequest::new("server.example.com", "/chat")
                .origin("http://example.com")
                .subprotocol("chat")
                .subprotocol("superchat"),
            *b"the sample nonce",
        )
        .unwrap()
    }

    fn response(extra: &str) -> BytesMut {
        BytesMut::from(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{extra}\r\n"
            )
            .as_bytes(),
        )
    }

    #[test]
    fn request_matches_rfc6455_section_1_3() {
        let hs = handshake();
        assert_eq!(hs.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        let text = std::str::from_utf8(hs.request_bytes()).unwrap();
        assert!(text.starts_with("GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
        assert!(text.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
        assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
        assert!(text.contains("Origin: http://example.com\r\n"));
        assert!(text.contains("Sec-WebSocket-Protocol: chat, superchat\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn accepts_a_valid_response_and_keeps_following_bytes() {
        let mut hs = handshake();
        let mut buf = response(
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n",
        );
        buf.extend_from_slice(b"\x81\x02hi");
        let response = hs.receive(&mut buf).unwrap().unwrap();
        assert_eq!(response.subprotocol.as_deref(), Some("chat"));
        assert_eq!(&buf[..], b"\x81\x02hi");
    }

    #[test]
    fn each_rule_has_its_error() {
        type Check = fn(&HandshakeError) -> bool;
        let cases: Vec<(&str, Check)> = vec![
            ("", |e| matches!(e, HandshakeError::MissingAccept { .. })),
            ("Sec-WebSocket-Accept: wrong\r\n", |e| {
                matches!(e, HandshakeError::AcceptMismatch { expected, received }
                    if expected == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" && received == "wrong")
            }),
            (
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: other\r\n",
                |e| matches!(e, HandshakeError::UnexpectedSubprotocol { .. }),
            ),
            (
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
                |e| matches!(e, HandshakeError::UnexpectedExtension { .. }),
            ),
        ];
        for (extra, check) in cases {
            let err = handshake().receive(&mut response(extra)).unwrap_err();
            assert!(check(&err), "{extra:?}: {err:?}");
        }
        let mut no_upgrade =
            BytesMut::from(&b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n"[..]);
        assert_eq!(
            handshake().receive(&mut no_upgrade).unwrap_err(),
            HandshakeError::BadUpgradeHeader { found: None }
        );
        let mut no_connection = BytesMut::from(
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\r\n"[..],
        );
        assert_eq!(
            handshake().receive(&mut no_connection).unwrap_err(),
            HandshakeError::BadConnectionHeader {
                found: Some("keep-alive".into())
            }
        );
    }

    #[test]
    fn refusal_keeps_status_headers_and_body() {
        let mut hs = handshake();
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nX-Why: path\r\n\r\nno such p"[..],
        );
        assert_eq!(hs.receive(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"a");
        let err = hs.receive(&mut buf).unwrap_err();
        let HandshakeError::UnexpectedStatus {
            status,
            reason,
            headers,
            body,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((status, reason.as_str()), (404, "Not Found"));
        assert_eq!(headers.get("x-why"), Some("path"));
        assert_eq!(&body[..], b"no such pa");
    }

    #[test]
    fn refusal_body_until_eof_and_chunked() {
        let mut hs = handshake();
        let mut buf = BytesMut::from(&b"HTTP/1.1 500 Oops\r\n\r\nbroken"[..]);
        assert_eq!(hs.receive(&mut buf).unwrap(), None);
        let err = hs.receive_eof(&mut buf);
        assert!(
            matches!(err, HandshakeError::UnexpectedStatus { status: 500, body, .. } if &body[..] == b"broken")
        );

        let mut hs = handshake();
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nno o\r\n5\r\nrigin\r\n0\r\n\r\n"[..],
        );
        let err = hs.receive(&mut buf).unwrap_err();
        assert!(
            matches!(err, HandshakeError::UnexpectedStatus { status: 403, body, .. } if &body[..] == b"no origin")
        );
    }

    #[test]
    fn header_injection_is_refused_before_sending() {
        let err = ClientHandshake::new(
            ClientRequest::new("example.com", "/").header("X-Token", "a\r\nHost: evil"),
        )
        .unwrap_err();
        assert!(matches!(err, HandshakeError::InvalidHeader { .. }));
        let err = ClientHandshake::new(ClientRequest::new("example.com", "/").origin("a\nb"))
            .unwrap_err();
        assert!(matches!(err, HandshakeError::InvalidHeader { .. }));
        assert!(ClientHandshake::new(ClientRequest::new("example.com", "/a b")).is_err());
    }

    #[test]
    fn head_limit_is_enforced() {
        let mut hs = handshake();
        let mut buf = BytesMut::from(&b"HTTP/1.1 101 OK\r\n"[..]);
        buf.extend_from_slice(&vec![b'a'; DEFAULT_MAX_HEADER_BYTES + 1]);
        assert!(matches!(
            hs.receive(&mut buf),
            Err(HandshakeError::HeadTooLarge { .. })
        ));
    }
}
