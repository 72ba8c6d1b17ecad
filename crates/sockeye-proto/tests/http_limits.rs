//! Bounded HTTP on both sides of the opening handshake (issue 9, items 3 and 5).
//!
//! - Client: a refusal's body is read in bounded amounts (a 4 KiB preview, 64 KiB read, 1 KiB
//!   chunk-size lines), decoded as it arrives, removed from the buffer as it is read, and the
//!   refusal is reported with its status even when the body is broken or endless.
//! - The chunked decoder: the same result for any split of its input; a line that never ends
//!   is refused within a bounded number of bytes; its size does not depend on its input.
//! - Server: one `Host`, no body, no repeated `Sec-WebSocket-Key`/`-Version`, answered 400, in
//!   words that name the client's request.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use bytes::BytesMut;
use proptest::prelude::*;
use proptest::sample::Index;
use sockeye_proto::handshake::body::MAX_ERROR_BODY_READ_BYTES;
use sockeye_proto::handshake::chunked::{
    ChunkedDecoder, ChunkedProblem, MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES,
};
use sockeye_proto::handshake::server::{error_response, parse_request};
use sockeye_proto::handshake::{
    BodyProblem, ClientHandshake, ClientRequest, HandshakeError, DEFAULT_MAX_HEADER_BYTES,
    MAX_ERROR_BODY_BYTES,
};
use sockeye_test::strategy::chunking;
use sockeye_test::Chunking;

// -- the chunked decoder ---------------------------------------------------------------------

/// What decoding gives: the data, the bytes consumed, and how it stands at the end.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    data: Vec<u8>,
    /// Bytes consumed, when the body is not malformed (a failing call does not say).
    consumed: Option<usize>,
    problem: Option<ChunkedProblem>,
    data_finished: bool,
    finished: bool,
}

fn decode_in_pieces(input: &[u8], chunking: &Chunking) -> Decoded {
    let mut decoder = ChunkedDecoder::new();
    let mut data = Vec::new();
    let mut consumed = 0;
    let mut problem = None;
    for piece in chunking.split(input) {
        match decoder.decode(piece, |run| data.extend_from_slice(run)) {
            Ok(n) => {
                consumed += n;
                if n < piece.len() {
                    // The body ended inside this piece: the rest is not the decoder's.
                    assert!(decoder.is_finished());
                    break;
                }
            }
            Err(found) => {
                problem = Some(found);
                break;
            }
        }
    }
    Decoded {
        data,
        consumed: problem.is_none().then_some(consumed),
        problem,
        data_finished: decoder.data_finished(),
        finished: decoder.is_finished(),
    }
}

/// Chunked bodies, well formed or nearly: chunks with and without extensions, the last chunk,
/// trailers, long lines, noise, then a few edits.
fn chunked_bytes() -> BoxedStrategy<Vec<u8>> {
    let piece = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 1..40).prop_map(|data| {
            let mut piece = format!("{:x}\r\n", data.len()).into_bytes();
            piece.extend(data);
            piece.extend_from_slice(b"\r\n");
            piece
        }),
        1 => (proptest::collection::vec(any::<u8>(), 1..10), "[a-z=; \t\"]{0,30}").prop_map(|(data, ext)| {
            let mut piece = format!("{:X};{ext}\r\n", data.len()).into_bytes();
            piece.extend(data);
            piece.extend_from_slice(b"\r\n");
            piece
        }),
        1 => Just(b"0\r\n\r\n".to_vec()),
        1 => Just(b"0\r\nExpires: never\r\n\r\n".to_vec()),
        1 => (0usize..1500).prop_map(|n| [b"1;".as_slice(), &vec![b'e'; n]].concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..30),
    ];
    (
        proptest::collection::vec(piece, 0..8),
        proptest::collection::vec((any::<Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(pieces, edits)| {
            let mut out: Vec<u8> = pieces.into_iter().flatten().collect();
            if !out.is_empty() {
                for (at, value) in edits {
                    let at = at.index(out.len());
                    out[at] = value;
                }
            }
            out
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Decoding in any pieces gives what decoding in one piece gives.
    #[test]
    fn chunked_decoding_is_the_same_for_any_split(
        input in prop_oneof![chunked_bytes(), proptest::collection::vec(any::<u8>(), 0..200)],
        chunking in chunking(),
    ) {
        let whole = decode_in_pieces(&input, &Chunking::Whole);
        let pieces = decode_in_pieces(&input, &chunking);
        prop_assert_eq!(pieces, whole);
    }

    /// A line that never ends is refused within a bounded number of bytes, whatever it holds:
    /// without a line feed, nothing after the first chunk-size line can be reached.
    #[test]
    fn chunked_decoding_refuses_an_endless_line_in_bounded_bytes(
        line in proptest::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), MAX_CHUNK_LINE_BYTES + 1..MAX_CHUNK_LINE_BYTES + 64),
    ) {
        let mut decoder = ChunkedDecoder::new();
        let mut data = 0;
        let failed_at = line
            .iter()
            .position(|byte| decoder.decode(&[*byte], |run| data += run.len()).is_err());
        prop_assert!(failed_at.is_some_and(|at| at <= MAX_CHUNK_LINE_BYTES), "{:?}", failed_at);
        prop_assert_eq!(data, 0);
    }
}

#[test]
fn the_chunked_decoder_keeps_no_input() {
    // A state, a chunk size and two counters, whatever it is fed.
    assert!(std::mem::size_of::<ChunkedDecoder>() <= 48);
    let mut decoder = ChunkedDecoder::new();
    let trailer = [b"0\r\n".as_slice(), &[b'x'; MAX_TRAILER_BYTES + 10]].concat();
    let before = decoder.clone();
    assert_eq!(
        decoder.decode(&trailer, |_| {}),
        Err(ChunkedProblem::TrailersTooLong)
    );
    assert_eq!(
        std::mem::size_of_val(&decoder),
        std::mem::size_of_val(&before)
    );
}

// -- the client's refusal body ----------------------------------------------------------------

fn handshake() -> ClientHandshake {
    ClientHandshake::with_nonce(
        ClientRequest::new("server.example.com", "/chat"),
        *b"the sample nonce",
    )
    .unwrap()
}

const CHUNKED_401: &[u8] =
    b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nWWW-Authenticate: Bearer\r\n\r\n";

/// What a front-end does: append each piece to its buffer and call `receive`, then
/// `receive_eof` at the end of the input. Checks the buffer never holds more than the head
/// limit plus one piece, and that the refusal's body is removed from it as it is read.
/// Returns the error and the number of bytes fed.
fn drive_refusal(input: &[u8], chunking: &Chunking) -> (HandshakeError, usize) {
    let mut hs = handshake();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    for piece in chunking.split(input) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        assert!(buf.len() <= DEFAULT_MAX_HEADER_BYTES + piece.len());
        match hs.receive(&mut buf) {
            Ok(None) => {
                if hs.refusal_pending() {
                    assert!(buf.is_empty(), "the body stays in the buffer");
                }
            }
            Ok(Some(response)) => panic!("{response:?}"),
            Err(err) => return (err, fed),
        }
    }
    (hs.receive_eof(&mut buf), fed)
}

#[test]
fn an_endless_chunk_size_line_fails_after_its_limit_with_the_status() {
    // The attack of issue 9, item 3: a chunk-size line that never ends. The client stops at
    // the line limit, reports the 401 and says the body never ended.
    let line: Vec<u8> = std::iter::once(b'1')
        .chain(std::iter::repeat_n(b' ', 1 << 20))
        .collect();
    let input = [CHUNKED_401, &line].concat();
    let (err, fed) = drive_refusal(&input, &Chunking::Fixed(4096));
    assert!(
        fed <= CHUNKED_401.len() + MAX_CHUNK_LINE_BYTES + 4096,
        "read {fed} bytes"
    );
    assert_eq!(err.refusal_status(), Some(401));
    assert!(
        matches!(
            &err,
            HandshakeError::RefusalBodyUnfinished {
                status: 401,
                problem: BodyProblem::Chunked(ChunkedProblem::LineTooLong),
                headers,
                ..
            } if headers.get("WWW-Authenticate") == Some("Bearer")
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the server refused the upgrade with 401 Unauthorized, and its body never ended: a chunk-size line longer than 1024 bytes"
    );
}

#[test]
fn a_body_cut_short_or_malformed_still_reports_the_refusal() {
    let cases: [(&[u8], &str); 4] = [
        (
            b"5\r\nhello\r\n",
            "its body stopped after 10 bytes, before its last chunk",
        ),
        (
            b"5\r\nhello\r\nzz\r\n",
            "its chunked body is malformed: a chunk size that is not a hexadecimal number",
        ),
        (
            b"3\r\nhello\r\n",
            "its chunked body is malformed: a chunk whose data is not followed by CRLF",
        ),
        (
            b"\r\n",
            "its chunked body is malformed: a chunk size that is not a hexadecimal number",
        ),
    ];
    for (body, words) in cases {
        let (err, _) = drive_refusal(&[CHUNKED_401, body].concat(), &Chunking::Fixed(3));
        assert_eq!(err.refusal_status(), Some(401), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("the server refused the upgrade with 401 Unauthorized, and "));
        assert!(text.contains(words), "{text}");
    }
    let short = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nbusy";
    let (err, _) = drive_refusal(short, &Chunking::Whole);
    assert!(
        matches!(&err, HandshakeError::RefusalBodyUnfinished { status: 503, body, problem: BodyProblem::CutShort { received: 4, chunked: false }, .. } if &body[..] == b"busy"),
        "{err:?}"
    );
}

#[test]
fn a_well_formed_refusal_is_reported_as_before() {
    let chunked = [CHUNKED_401, b"4\r\nno t\r\n5\r\noken!\r\n0\r\n"].concat();
    let (err, _) = drive_refusal(&chunked, &Chunking::Fixed(1));
    assert!(
        matches!(&err, HandshakeError::UnexpectedStatus { status: 401, body, .. } if &body[..] == b"no token!"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the server answered 401 Unauthorized instead of 101 Switching Protocols"
    );
    // No body for 204 and 304: reported at once, whatever follows.
    let (err, fed) = drive_refusal(b"HTTP/1.1 204 No Content\r\n\r\nanything", &Chunking::Whole);
    assert!(
        matches!(err, HandshakeError::UnexpectedStatus { status: 204, ref body, .. } if body.is_empty())
    );
    assert_eq!(fed, 35);
    // A long body: the first 4 KiB, and reading stops there.
    let long = [
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 1000000\r\n\r\n".as_slice(),
        &vec![b'x'; 100_000],
    ]
    .concat();
    let (err, fed) = drive_refusal(&long, &Chunking::Fixed(1000));
    assert!(
        matches!(&err, HandshakeError::UnexpectedStatus { status: 404, body, .. } if body.len() == MAX_ERROR_BODY_BYTES)
    );
    assert!(fed < 6000, "read {fed} bytes");
}

#[test]
fn a_time_out_while_the_body_comes_reports_the_refusal() {
    let mut hs = handshake();
    let mut buf = BytesMut::from(&[CHUNKED_401, b"9\r\nnot y"].concat()[..]);
    assert_eq!(hs.receive(&mut buf).unwrap(), None);
    assert!(hs.refusal_pending());
    // The front-end's time runs out: it stops reading and asks for the error.
    let err = hs.receive_eof(&mut buf);
    assert!(!hs.refusal_pending());
    assert!(
        matches!(&err, HandshakeError::RefusalBodyUnfinished { status: 401, body, problem: BodyProblem::CutShort { chunked: true, .. }, .. } if &body[..] == b"not y"),
        "{err:?}"
    );
}

/// Refusals with chunked bodies: chunk-like pieces, long extension lines, noise.
fn refusal_bytes() -> BoxedStrategy<Vec<u8>> {
    (
        prop_oneof![Just(401u16), Just(403), Just(500), Just(204), 102u16..600],
        prop_oneof![
            3 => Just("Transfer-Encoding: chunked\r\n".to_string()),
            1 => (0usize..6000).prop_map(|n| format!("Content-Length: {n}\r\n")),
            1 => Just(String::new()),
        ],
        chunked_bytes(),
        0usize..3,
    )
        .prop_map(|(status, framing, body, repeat)| {
            let status = if status == 101 { 401 } else { status };
            let mut out = format!("HTTP/1.1 {status} No\r\n{framing}\r\n").into_bytes();
            for _ in 0..=repeat {
                out.extend_from_slice(&body);
            }
            out
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A refusal is reported with its status, the same way however its bytes are cut, after
    /// reading at most the head and 64 KiB of body; the buffer never holds the body.
    #[test]
    fn a_refusal_is_the_same_for_any_split_and_bounded(
        input in refusal_bytes(),
        chunking in chunking(),
    ) {
        let (whole, _) = drive_refusal(&input, &Chunking::Whole);
        let (pieces, fed) = drive_refusal(&input, &chunking);
        prop_assert_eq!(&pieces, &whole);
        let head_len = input.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        prop_assert!(pieces.refusal_status().is_some(), "{:?}", pieces);
        let body = match &pieces {
            HandshakeError::UnexpectedStatus { body, .. }
            | HandshakeError::RefusalBodyUnfinished { body, .. } => body.clone(),
            other => panic!("{other:?}"),
        };
        prop_assert!(body.len() <= MAX_ERROR_BODY_BYTES);
        // Stopped within the read limit (plus the piece that crossed it).
        prop_assert!(fed <= head_len + MAX_ERROR_BODY_READ_BYTES + 64, "fed {}", fed);
    }
}

// -- the server's strict request parsing ------------------------------------------------------

const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// The request with `extra` header lines, and `body` after its head.
fn request(extra: &str, body: &[u8]) -> BytesMut {
    let mut buf = BytesMut::from(format!("{REQUEST}{extra}\r\n").as_bytes());
    buf.extend_from_slice(body);
    buf
}

#[test]
fn ambiguous_requests_are_refused_with_400() {
    let frame = b"\x81\x85abcd\x09\x07\x0f\x08\x0e"; // a masked text frame, "hello"
    let cases: [(&str, &str); 10] = [
        ("Host: evil.example\r\n", "has 2 Host headers"),
        (
            "Content-Length: 11\r\n",
            "announces a body (Content-Length: 11)",
        ),
        (
            "Content-Length: 0\r\nContent-Length: 0\r\n",
            "announces a body (Content-Length: 0, 0)",
        ),
        ("Content-Length: +0\r\n", "announces a body"),
        (
            "Transfer-Encoding: chunked\r\n",
            "announces a body (Transfer-Encoding: chunked)",
        ),
        ("Transfer-Encoding: identity\r\n", "announces a body"),
        (
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n",
            "has 2 Sec-WebSocket-Key headers",
        ),
        (
            "Sec-WebSocket-Version: 8\r\n",
            "has 2 Sec-WebSocket-Version headers",
        ),
        (
            "Sec-WebSocket-Version: 13\r\n",
            "has 2 Sec-WebSocket-Version headers",
        ),
        (
            "Sec-WebSocket-Protocol: chat\r\nHost: server.example.com\r\n",
            "has 2 Host headers",
        ),
    ];
    for (extra, words) in cases {
        let mut buf = request(extra, frame);
        let err = parse_request(&mut buf, DEFAULT_MAX_HEADER_BYTES).unwrap_err();
        assert_eq!(err.http_status(), Some(400), "{extra:?}: {err}");
        let text = err.to_string();
        assert!(text.starts_with("the client's request "), "{text}");
        assert!(text.contains(words), "{extra:?}: {text}");
        let response = String::from_utf8(error_response(&err)).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{response}"
        );
        assert!(
            response.ends_with(&format!("\r\n\r\n{text}\n")),
            "{response}"
        );
    }
}

#[test]
fn a_host_must_be_one_host() {
    let replaced = |host: &str| {
        BytesMut::from(
            format!("{REQUEST}\r\n")
                .replace("server.example.com", host)
                .as_bytes(),
        )
    };
    for host in [
        "a.example, b.example",
        "a.example b.example",
        "user@a.example",
        "a.example/x",
    ] {
        let err = parse_request(&mut replaced(host), DEFAULT_MAX_HEADER_BYTES).unwrap_err();
        assert!(
            matches!(&err, HandshakeError::InvalidHost { found } if found == host),
            "{host}: {err:?}"
        );
        assert_eq!(err.http_status(), Some(400));
    }
    for host in [
        "a.example:8080",
        "[::1]:9001",
        "127.0.0.1",
        "xn--bcher-kva.example",
    ] {
        assert!(
            parse_request(&mut replaced(host), DEFAULT_MAX_HEADER_BYTES)
                .unwrap()
                .is_some(),
            "{host}"
        );
    }
}

#[test]
fn what_is_not_ambiguous_is_accepted() {
    // A lone Content-Length: 0 announces no body; Upgrade and Connection are lists, and a
    // repeated list header is the same as one comma-separated line (RFC 9110 section 5.3).
    for extra in [
        "Content-Length: 0\r\n",
        "Content-Length:  0 \r\n",
        "Upgrade: websocket\r\n",
        "Connection: keep-alive\r\n",
    ] {
        let mut buf = request(extra, b"\x88\x80abcd");
        let parsed = parse_request(&mut buf, DEFAULT_MAX_HEADER_BYTES).unwrap();
        assert!(parsed.is_some(), "{extra:?}");
        assert_eq!(&buf[..], b"\x88\x80abcd", "{extra:?}");
    }
}

#[test]
fn server_side_errors_speak_of_the_client_s_request() {
    let requests: [&[u8]; 8] = [
        b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"POST / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    ];
    for bytes in requests {
        let err = parse_request(&mut BytesMut::from(bytes), DEFAULT_MAX_HEADER_BYTES).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("the client's request "), "{text}");
        assert!(!text.contains("peer") && !text.contains("reply"), "{text}");
    }
    let mut long = BytesMut::from(&b"GET / HTTP/1.1\r\nX: "[..]);
    long.extend_from_slice(&[b'a'; 300]);
    let err = parse_request(&mut long, 200).unwrap_err();
    assert_eq!(err, HandshakeError::RequestHeadTooLarge { limit: 200 });
    assert_eq!(err.http_status(), Some(431));
    assert!(err
        .to_string()
        .starts_with("the client's request head exceeded 200 bytes"));

    // The client's side speaks of the server's response.
    let err = handshake()
        .receive(&mut BytesMut::from(&b"HTTP/1.1 2x0 Odd\r\n\r\n"[..]))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the server's response is not a valid HTTP/1.1 message"),
        "{err}"
    );
    let mut long = BytesMut::from(&b"HTTP/1.1 101 OK\r\n"[..]);
    long.extend_from_slice(&vec![b'a'; DEFAULT_MAX_HEADER_BYTES + 1]);
    let err = handshake().receive(&mut long).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the server's response head exceeded"),
        "{err}"
    );
}

// -- the proxy's CONNECT refusal: the same reader -----------------------------------------------

#[test]
fn a_proxy_refusal_with_an_endless_chunk_size_line_stops_at_the_limit() {
    use sockeye_proto::proxy::{Destination, ProxyError, ProxyHandshake, ProxyProtocol};

    let mut proxy = ProxyHandshake::new(
        ProxyProtocol::HttpConnect,
        Destination::new("example.com", 443),
        None,
    )
    .unwrap();
    let sent = proxy.pending_output().len();
    proxy.consume_output(sent);
    let mut incoming = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
    incoming.extend(std::iter::repeat_n(b'e', 1 << 20));
    let mut rest = &incoming[..];
    let mut buf = BytesMut::new();
    let err = loop {
        let want = proxy.read_limit(&buf).clamp(1, 4096);
        let (piece, tail) = rest.split_at(want.min(rest.len()));
        buf.extend_from_slice(piece);
        rest = tail;
        match proxy.receive(&mut buf) {
            Ok(None) => assert!(buf.len() <= 4096),
            Ok(Some(tunnel)) => panic!("{tunnel:?}"),
            Err(err) => break err,
        }
    };
    let read = incoming.len() - rest.len();
    assert!(read < 16 * 1024, "read {read} bytes");
    assert!(
        matches!(
            &err,
            ProxyError::HttpRefused {
                status: 407,
                body_problem: Some(BodyProblem::Chunked(ChunkedProblem::LineTooLong)),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with(", and its body never ended: a chunk-size line longer than 1024 bytes"),
        "{err}"
    );
}
