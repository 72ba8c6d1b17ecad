//! `handshake::server::parse_request` on arbitrary bytes, whole and fed in pieces.
//!
//! A validated request is answered with `accept_response`, a refused one with `error_response`;
//! neither may panic. Feeding the bytes in pieces must end the same way as feeding them at once.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockeye_proto::handshake::server::{accept_response, error_response, parse_request, Accept};
use sockeye_proto::handshake::Request;
use sockeye_proto::HandshakeError;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, bytes)) = data.split_first() else {
        return;
    };
    // Mostly the default limit; sometimes a small one, to reach the "head too large" paths.
    let max_header_bytes = if seed & 0x80 != 0 { 64 } else { 16 * 1024 };

    let whole = parse_all(bytes, bytes.len().max(1), max_header_bytes);
    let chunk = usize::from(seed & 0x3F) + 1;
    let pieces = parse_all(bytes, chunk, max_header_bytes);
    // A request that completes within the limit is the same however it arrived. Errors may differ:
    // a partial head can trip the size limit or be malformed before the whole head is seen.
    if let (Ok(Some(a)), Ok(Some(b))) = (&whole, &pieces) {
        assert_eq!(a, b);
    }

    match whole {
        Ok(Some(request)) => {
            let _ = (
                request.path(),
                request.query(),
                request.origin(),
                request.host(),
            );
            let _ = (request.key(), request.subprotocols(), request.extensions());
            let response = accept_response(&request, &Accept::default()).expect("default accept");
            assert!(response.starts_with(b"HTTP/1.1 101 "));
            if let Some(protocol) = request.subprotocols().first() {
                let chosen = Accept::default().subprotocol(*protocol);
                accept_response(&request, &chosen).expect("offered subprotocol");
            }
        }
        Ok(None) => {}
        Err(error) => {
            let response = error_response(&error);
            assert!(response.starts_with(b"HTTP/1.1 "));
            let _ = error.to_string();
        }
    }
});

/// Feeds `bytes` `chunk` at a time until the parser gives a request or an error.
fn parse_all(
    bytes: &[u8],
    chunk: usize,
    max_header_bytes: usize,
) -> Result<Option<Request>, HandshakeError> {
    let mut buf = BytesMut::new();
    for piece in bytes.chunks(chunk) {
        buf.extend_from_slice(piece);
        let before = buf.len();
        match parse_request(&mut buf, max_header_bytes)? {
            Some(request) => {
                assert_eq!(before - buf.len(), request.head.len());
                return Ok(Some(request));
            }
            None => assert_eq!(buf.len(), before, "a partial head consumed bytes"),
        }
    }
    Ok(None)
}
