//! `ClientHandshake::receive` and `receive_eof` on arbitrary bytes, fed in pieces.
//!
//! With the first input bit set, the bytes follow a valid 101 response head prefix (status line,
//! Upgrade, Connection and the right Sec-WebSocket-Accept), so the fuzzer spends its time on the
//! later checks (subprotocol, extensions, further headers) instead of guessing the accept key.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockeye_proto::handshake::{ClientHandshake, ClientRequest};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, bytes)) = data.split_first() else {
        return;
    };
    let request = ClientRequest::new("example.com", "/chat")
        .subprotocol("chat")
        .extension("permessage-deflate; client_max_window_bits");
    let mut handshake =
        ClientHandshake::with_nonce(request, *b"the sample nonce").expect("valid request");

    let mut stream = Vec::new();
    if seed & 1 != 0 {
        stream.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
        stream.extend_from_slice(b"Connection: Upgrade\r\nSec-WebSocket-Accept: ");
        stream.extend_from_slice(handshake.expected_accept().as_bytes());
        stream.extend_from_slice(b"\r\n");
    }
    stream.extend_from_slice(bytes);

    let chunk = usize::from(seed >> 1) + 1;
    let mut buf = BytesMut::new();
    let mut finished = false;
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        match handshake.receive(&mut buf) {
            Ok(None) => continue,
            Ok(Some(response)) => {
                assert_eq!(response.status, 101);
                // httparse also takes a bare LF as a line end (RFC 9112 section 2.2 allows it).
                assert!(response.head.ends_with(b"\n"));
                // Once accepted, the handshake stays done: later bytes are frames, not HTTP.
                assert_eq!(handshake.receive(&mut buf), Ok(None));
            }
            Err(error) => {
                let _ = (error.to_string(), error.http_status());
            }
        }
        finished = true;
        break;
    }
    if !finished {
        let error = handshake.receive_eof(&mut buf);
        let _ = error.to_string();
    }
});
