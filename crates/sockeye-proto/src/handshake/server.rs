//! The server side of the opening handshake (RFC 6455 section 4.2).

use bytes::{Bytes, BytesMut};

use crate::extensions::deflate::{self, DeflateConfig, DeflateProblem, PerMessageDeflate};
use crate::extensions::ExtensionOffer;
use crate::handshake::accept::{accept_key, is_valid_key};
use crate::handshake::headers::{check_header, write_header, Headers};
use crate::handshake::{escape_preview, HandshakeError};

/// A validated opening-handshake request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method (always `GET` once validated).
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Every header, in order.
    pub headers: Headers,
    /// The request head exactly as received.
    pub head: Bytes,
}

impl Request {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The query string after `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The `Origin` header, if the client sent one (browsers always do).
    pub fn origin(&self) -> Option<&str> {
        self.headers.get("Origin")
    }

    /// The `Host` header.
    pub fn host(&self) -> Option<&str> {
        self.headers.get("Host")
    }

    /// The client's `Sec-WebSocket-Key`.
    pub fn key(&self) -> &str {
        self.headers.get("Sec-WebSocket-Key").unwrap_or("")
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn subprotocols(&self) -> Vec<&str> {
        self.headers.tokens("Sec-WebSocket-Protocol").collect()
    }

    /// The extensions the client offered.
    pub fn extensions(&self) -> Vec<ExtensionOffer> {
        self.headers
            .get_all("Sec-WebSocket-Extensions")
            .flat_map(ExtensionOffer::parse_list)
            .collect()
    }
}

/// How to accept a request: the subprotocol to select and extra response headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accept {
    /// The subprotocol to select; it must be one the client offered.
    pub subprotocol: Option<String>,
    /// An accepted extension, as a full `Sec-WebSocket-Extensions` value.
    pub extensions: Option<String>,
    /// Extra headers for the 101 response.
    pub headers: Vec<(String, String)>,
}

impl Accept {
    /// Selects `protocol`.
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocol = Some(protocol.into());
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// How to refuse a request: status, headers, body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reject {
    /// The HTTP status, such as 403.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body (sent with `Content-Length`).
    pub body: Bytes,
}

impl Reject {
    /// A refusal with `status` and a plain-text `body`.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Parses and validates a request from the front of `buf`.
///
/// `Ok(None)`: more bytes are needed. `Ok(Some(request))`: the head was removed from `buf`; any
/// remaining bytes are the client's first frames. `Err`: answer with
/// [`error_response`] and close.
pub fn parse_request(
    buf: &mut BytesMut,
    max_header_bytes: usize,
) -> Result<Option<Request>, HandshakeError> {
    let mut raw = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Request::new(&mut raw);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > max_header_bytes => {
            return Err(HandshakeError::RequestHeadTooLarge {
                limit: max_header_bytes,
            })
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::RequestHeadTooLarge {
                limit: max_header_bytes,
            })
        }
        Err(err) => {
            return Err(HandshakeError::MalformedRequest {
                why: err.to_string(),
                preview: escape_preview(buf),
            })
        }
    };
    if head_len > max_header_bytes {
        return Err(HandshakeError::RequestHeadTooLarge {
            limit: max_header_bytes,
        });
    }
    let method = parsed.method.unwrap_or("").to_string();
    let target = parsed.path.unwrap_or("/").to_string();
    let http_minor = parsed.version.unwrap_or(0);
    let headers = Headers::from_httparse(parsed.headers);
    let mut request = validate_request(method, target, http_minor, headers)?;
    request.head = buf.split_to(head_len).freeze();
    Ok(Some(request))
}

/// Checks a request parsed elsewhere (by an HTTP server such as hyper) against RFC 6455
/// section 4.2.1: GET, HTTP/1.1 or later (`http_minor` ≥ 1), exactly one `Host` naming one
/// host, no body, Upgrade and Connection tokens, exactly one `Sec-WebSocket-Version` (13) and
/// one `Sec-WebSocket-Key` (the base64 of 16 bytes). `head` is left empty.
///
/// A body is refused, whether announced by `Transfer-Encoding` or by a `Content-Length` other
/// than a single `0` ([`HandshakeError::RequestBody`]): an upgrade request has none (RFC 6455
/// section 4.1; RFC 9110 section 9.3.1 gives a GET body no meaning), and the bytes after the
/// head are read as WebSocket frames, so a proxy in front that reads them as the request's
/// body and this server would see two different streams (request smuggling). A lone
/// `Content-Length: 0` announces no body, so every party agrees where the frames start; some
/// HTTP clients add it to every request, and it is accepted.
pub fn validate_request(
    method: String,
    target: String,
    http_minor: u8,
    headers: Headers,
) -> Result<Request, HandshakeError> {
    if method != "GET" {
        return Err(HandshakeError::MethodNotGet(method));
    }
    if http_minor < 1 {
        return Err(HandshakeError::HttpVersionTooOld);
    }
    let host = single_header(&headers, "Host")?;
    match host.map(str::trim) {
        None | Some("") => return Err(HandshakeError::MissingHost),
        Some(host) if !is_one_host(host) => {
            return Err(HandshakeError::InvalidHost {
                found: host.to_string(),
            })
        }
        Some(_) => {}
    }
    check_no_body(&headers)?;
    if !headers.has_token("Upgrade", "websocket") {
        return Err(HandshakeError::RequestUpgradeHeader {
            found: headers.get("Upgrade").map(str::to_string),
        });
    }
    if !headers.has_token("Connection", "upgrade") {
        return Err(HandshakeError::RequestConnectionHeader {
            found: headers.get("Connection").map(str::to_string),
        });
    }
    let version_header = single_header(&headers, "Sec-WebSocket-Version")?.map(str::trim);
    if version_header != Some("13") {
        return Err(HandshakeError::UnsupportedVersion {
            found: version_header.map(str::to_string),
        });
    }
    let key = single_header(&headers, "Sec-WebSocket-Key")?;
    if !key.is_some_and(|key| is_valid_key(key.trim())) {
        return Err(HandshakeError::InvalidKey {
            found: key.map(str::to_string),
        });
    }
    Ok(Request {
        method,
        target,
        headers,
        head: Bytes::new(),
    })
}

/// The value of a header that must appear at most once: `None` when absent,
/// [`HandshakeError::RepeatedHeader`] when repeated.
fn single_header<'a>(
    headers: &'a Headers,
    name: &'static str,
) -> Result<Option<&'a str>, HandshakeError> {
    let mut values = headers.get_all(name);
    let first = values.next();
    if values.next().is_some() {
        let values: Vec<String> = headers.get_all(name).map(str::to_string).collect();
        return Err(HandshakeError::RepeatedHeader {
            name,
            count: values.len(),
            values,
        });
    }
    Ok(first)
}

/// True if `host` is one `host[:port]` (RFC 9112 section 3.2, RFC 3986 section 3.2.2): no
/// list, no whitespace, no user information, path, query or fragment.
fn is_one_host(host: &str) -> bool {
    host.bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b',' | b'/' | b'?' | b'#' | b'@' | b'\\'))
}

/// Refuses a request that announces a body: see [`validate_request`].
fn check_no_body(headers: &Headers) -> Result<(), HandshakeError> {
    let joined = |name| headers.get_all(name).collect::<Vec<_>>().join(", ");
    if headers.contains("Transfer-Encoding") {
        return Err(HandshakeError::RequestBody {
            header: "Transfer-Encoding",
            value: joined("Transfer-Encoding"),
        });
    }
    let lengths: Vec<&str> = headers.get_all("Content-Length").collect();
    match lengths.as_slice() {
        [] => Ok(()),
        [length] if length.trim() == "0" => Ok(()),
        _ => Err(HandshakeError::RequestBody {
            header: "Content-Length",
            value: joined("Content-Length"),
        }),
    }
}

/// The standard reason phrase for `status` (empty when unknown).
pub fn status_reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// The `101 Switching Protocols` response accepting `request` with `accept`'s choices.
///
/// Fails if the subprotocol was not offered or a header is malformed.
pub fn accept_response(request: &Request, accept: &Accept) -> Result<Vec<u8>, HandshakeError> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    for (name, value) in &accept_headers(request, accept)? {
        write_header(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// The headers of the `101 Switching Protocols` response accepting `request`, checked, for an
/// HTTP server that writes the status line itself.
pub fn accept_headers(request: &Request, accept: &Accept) -> Result<Headers, HandshakeError> {
    let mut headers = Headers::new();
    headers.push("Upgrade", "websocket");
    headers.push("Connection", "Upgrade");
    headers.push("Sec-WebSocket-Accept", accept_key(request.key().trim()));
    if let Some(protocol) = &accept.subprotocol {
        let offered = request.subprotocols();
        if !offered.contains(&protocol.as_str()) {
            return Err(HandshakeError::SubprotocolNotOffered {
                selected: protocol.clone(),
                offered: offered.into_iter().map(str::to_string).collect(),
            });
        }
        headers.push("Sec-WebSocket-Protocol", protocol.as_str());
    }
    if let Some(extensions) = &accept.extensions {
        check_header("Sec-WebSocket-Extensions", extensions)?;
        headers.push("Sec-WebSocket-Extensions", extensions.as_str());
    }
    for (name, value) in &accept.headers {
        check_header(name, value)?;
        headers.push(name.as_str(), value.as_str());
    }
    Ok(headers)
}

/// Negotiates permessage-deflate (RFC 7692) for `request` once the accept hook chose `accept`:
///
/// - when the hook accepted `permessage-deflate` itself (in [`Accept::extensions`]), its answer
///   is checked against the client's offers as a client would check it, and its parameters are
///   returned;
/// - otherwise, with a `config`, the first offer it can accept is answered: the element is
///   added to [`Accept::extensions`] and the parameters are returned (give them to
///   [`Connection::with_deflate`](crate::Connection::with_deflate));
/// - otherwise `None`: no offer, none acceptable, or compression off. The connection runs
///   uncompressed.
pub fn negotiate_deflate(
    request: &Request,
    accept: &mut Accept,
    config: Option<&DeflateConfig>,
) -> Result<Option<PerMessageDeflate>, HandshakeError> {
    let offers = request.extensions();
    if let Some(chosen) = &accept.extensions {
        let answers: Vec<ExtensionOffer> = ExtensionOffer::parse_list(chosen)
            .into_iter()
            .filter(deflate::is_permessage_deflate)
            .collect();
        let invalid = |problem| HandshakeError::DeflateResponse {
            response: chosen.clone(),
            problem,
        };
        match answers.as_slice() {
            [] => {}
            [answer] => {
                return deflate::check_response(&offers, answer)
                    .map(Some)
                    .map_err(invalid)
            }
            _ => return Err(invalid(DeflateProblem::AcceptedTwice)),
        }
    }
    let Some((answer, agreed)) = config.and_then(|config| config.accept(&offers)) else {
        return Ok(None);
    };
    accept.extensions = Some(match accept.extensions.take() {
        Some(chosen) if !chosen.trim().is_empty() => format!("{chosen}, {answer}"),
        _ => answer.to_string(),
    });
    Ok(Some(agreed))
}

/// An HTTP response refusing the handshake, with `Content-Length` and `Connection: close`.
pub fn reject_response(reject: &Reject) -> Result<Vec<u8>, HandshakeError> {
    let mut out = Vec::with_capacity(128 + reject.body.len());
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            reject.status,
            status_reason(reject.status)
        )
        .as_bytes(),
    );
    for (name, value) in &reject.headers {
        check_header(name, value)?;
        write_header(&mut out, name, value);
    }
    write_header(&mut out, "Content-Length", &reject.body.len().to_string());
    write_header(&mut out, "Connection", "close");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&reject.body);
    Ok(out)
}

/// The refusal for a request that failed validation: 400, 405, 426 (with
/// `Sec-WebSocket-Version: 13` and `Upgrade: websocket`), 431 or 505, with the reason as body.
pub fn error_reject(error: &HandshakeError) -> Reject {
    let status = error.http_status().unwrap_or(400);
    let mut reject = Reject::new(status, format!("{error}\n"));
    reject = reject.header("Content-Type", "text/plain; charset=utf-8");
    match error {
        HandshakeError::UnsupportedVersion { .. }
        | HandshakeError::RequestUpgradeHeader { .. }
        | HandshakeError::RequestConnectionHeader { .. } => {
            reject = reject
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", "13");
        }
        HandshakeError::MethodNotGet(_) => reject = reject.header("Allow", "GET"),
        _ => {}
    }
    reject
}

/// The bytes of [`error_reject`]'s response, ready to write.
pub fn error_response(error: &HandshakeError) -> Vec<u8> {
    // The headers error_reject adds are constants, so building the response cannot fail.
    reject_response(&error_reject(error)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::client::{ClientHandshake, ClientRequest};

    const RFC_REQUEST: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(bytes: &[u8]) -> Result<Option<Request>, HandshakeError> {
        parse_request(&mut BytesMut::from(bytes), 16 * 1024)
    }

    #[test]
    fn rfc6455_request_is_accepted() {
        let mut buf = BytesMut::from(RFC_REQUEST);
        buf.extend_from_slice(b"\x81\x80abcd");
        let request = parse_request(&mut buf, 16 * 1024).unwrap().unwrap();
        assert_eq!(&buf[..], b"\x81\x80abcd");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("room=1"));
        assert_eq!(request.origin(), Some("http://example.com"));
        assert_eq!(request.subprotocols(), ["chat", "superchat"]);
        let response = accept_response(&request, &Accept::default().subprotocol("chat")).unwrap();
        let text = String::from_utf8(response).unwrap();
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
        assert!(accept_response(&request, &Accept::default().subprotocol("nope")).is_err());
    }

    #[test]
    fn partial_request_waits() {
        for cut in 0..RFC_REQUEST.len() {
            assert_eq!(parse(&RFC_REQUEST[..cut]).unwrap(), None, "cut {cut}");
        }
    }

    fn replace(from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(RFC_REQUEST.to_vec())
            .unwrap()
            .replace(from, to)
            .into_bytes()
    }

    #[test]
    fn each_rule_is_checked_with_its_status() {
        let cases = [
            (replace("GET", "POST"), 405),
            (replace("HTTP/1.1", "HTTP/1.0"), 505),
            (replace("Host: server.example.com\r\n", ""), 400),
            (replace("Upgrade: websocket", "Upgrade: h2c"), 426),
            (
                replace("Connection: Upgrade", "Connection: keep-alive"),
                426,
            ),
            (replace("Version: 13", "Version: 8"), 426),
            (replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="), 400),
            (
                replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
                400,
            ),
        ];
        for (request, status) in cases {
            let err = parse(&request).unwrap_err();
            assert_eq!(err.http_status(), Some(status), "{err}");
            let response = String::from_utf8(error_response(&err)).unwrap();
            assert!(
                response.starts_with(&format!("HTTP/1.1 {status} ")),
                "{response}"
            );
            if status == 426 {
                assert!(response.contains("Sec-WebSocket-Version: 13\r\n"));
            }
        }
    }

    #[test]
    fn token_lists_are_case_insensitive() {
        let request = replace("Upgrade: websocket", "upgrade: WebSocket");
        let request = String::from_utf8(request)
            .unwrap()
            .replace("Connection: Upgrade", "connection: keep-alive, UPGRADE");
        assert!(parse(request.as_bytes()).unwrap().is_some());
    }

    #[test]
    fn client_and_server_agree() {
        let client =
            ClientHandshake::new(ClientRequest::new("localhost:1", "/").subprotocol("p")).unwrap();
        let request = parse(client.request_bytes()).unwrap().unwrap();
        let response = accept_response(&request, &Accept::default().subprotocol("p")).unwrap();
        let mut client = client;
        let accepted = client
            .receive(&mut BytesMut::from(&response[..]))
            .unwrap()
            .unwrap();
        assert_eq!(accepted.subprotocol.as_deref(), Some("p"));
    }

    #[test]
    fn reject_carries_status_headers_and_body() {
        let bytes =
            reject_response(&Reject::new(403, "bad origin").header("X-Why", "origin")).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(text.contains("X-Why: origin\r\nContent-Length: 10\r\n"));
        assert!(text.ends_with("\r\n\r\nbad origin"));
    }
}
