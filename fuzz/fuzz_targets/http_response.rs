//! `ClientHandshake::receive` / `receive_eof` on responses with bodies: refusals (any status)
//! with `Content-Length`, `Transfer-Encoding: chunked` or a body until the end of stream, built
//! from a structure the fuzzer fills (well-formed chunks, extensions, a last chunk, trailers)
//! and then spoiled or extended with arbitrary bytes; also 101 responses followed by frames.
//!
//! Checks, besides "never panics":
//! - bounded buffering: while the head is incomplete the caller's buffer holds no more than
//!   `max_header_bytes`; while a refusal's body is read, no more than the last read (the body is
//!   taken out of the buffer as it is read), and the handshake ends once
//!   `MAX_ERROR_BODY_READ_BYTES` of the body were read, however it goes on (an endless
//!   chunk-size line, endless extensions, tiny chunks);
//! - a refusal keeps at most `MAX_ERROR_BODY_BYTES` of its body, and for a well-formed body
//!   exactly its first bytes (chunked framing removed);
//! - an accepted response leaves exactly the bytes after its head in the buffer.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sockeye_fuzz::{pieces, Repeat};
use sockeye_proto::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, DEFAULT_MAX_HEADER_BYTES, MAX_ERROR_BODY_BYTES,
};

/// The most of a refusal's body read, framing included, before the handshake gives up on it:
/// `handshake::body::MAX_ERROR_BODY_READ_BYTES` (64 KiB).
const MAX_BODY_READ: usize = 64 * 1024;

/// Longest stream a run builds.
const MAX_STREAM: usize = DEFAULT_MAX_HEADER_BYTES + 2 * MAX_BODY_READ;

#[derive(Arbitrary, Debug)]
enum Framing {
    /// `Content-Length: n`
    Length(u32),
    /// `Content-Length` with any value.
    LengthText(String),
    /// `Transfer-Encoding: chunked` (or a list ending with it).
    Chunked { gzip_first: bool },
    /// `Transfer-Encoding` with any value.
    TransferText(String),
    /// Both headers (chunked wins, RFC 9112 section 6.3).
    Both(u32),
    /// Neither: the body runs until the end of stream.
    UntilEof,
}

#[derive(Arbitrary, Debug)]
struct Chunk {
    data: Vec<u8>,
    /// A chunk extension (`;` and this text).
    extension: Option<String>,
    uppercase: bool,
    leading_zeros: u8,
}

#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    Chunks {
        chunks: Vec<Chunk>,
        last_chunk: bool,
        trailers: Option<String>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// 101 with the right accept key, or a refusal with this status.
    status: Option<u16>,
    reason: String,
    framing: Framing,
    extra_headers: Vec<(String, String)>,
    /// `max_header_bytes`: the default, or small (64 + n) to reach the limit.
    small_head_limit: Option<u8>,
    body: Body,
    /// Arbitrary bytes spliced into the stream at an arbitrary place.
    splice: Option<(u16, Vec<u8>)>,
    repeat: Option<Repeat>,
    eof: bool,
    chunks: Vec<u8>,
    chunk_scale: u8,
}

fuzz_target!(|input: Input| {
    let mut request = ClientRequest::new("example.com", "/chat")
        .subprotocol("chat")
        .extension("permessage-deflate; client_max_window_bits");
    if let Some(small) = input.small_head_limit {
        request.max_header_bytes = 64 + usize::from(small);
    }
    let head_limit = request.max_header_bytes;
    let mut handshake =
        ClientHandshake::with_nonce(request, *b"the sample nonce").expect("valid request");

    // The head.
    let mut stream = Vec::new();
    let status = input.status.map(|status| status % 1000);
    match status {
        None => {
            stream.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
            stream.extend_from_slice(b"Connection: Upgrade\r\nSec-WebSocket-Accept: ");
            stream.extend_from_slice(handshake.expected_accept().as_bytes());
            stream.extend_from_slice(b"\r\n");
        }
        Some(status) => {
            stream.extend_from_slice(format!("HTTP/1.1 {status:03} ").as_bytes());
            stream.extend_from_slice(input.reason.as_bytes());
            stream.extend_from_slice(b"\r\n");
        }
    }
    match &input.framing {
        Framing::Length(n) => {
            stream.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes())
        }
        Framing::LengthText(text) => {
            stream.extend_from_slice(format!("Content-Length: {text}\r\n").as_bytes())
        }
        Framing::Chunked { gzip_first } => stream.extend_from_slice(if *gzip_first {
            b"Transfer-Encoding: gzip, chunked\r\n".as_slice()
        } else {
            b"Transfer-Encoding: chunked\r\n".as_slice()
        }),
        Framing::TransferText(text) => {
            stream.extend_from_slice(format!("Transfer-Encoding: {text}\r\n").as_bytes())
        }
        Framing::Both(n) => stream.extend_from_slice(
            format!("Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n").as_bytes(),
        ),
        Framing::UntilEof => {}
    }
    for (name, value) in &input.extra_headers {
        stream.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    stream.extend_from_slice(b"\r\n");

    // The body, and what a refusal should keep of it when nothing spoils it.
    let mut data = Vec::new();
    match &input.body {
        Body::Raw(bytes) => {
            stream.extend_from_slice(bytes);
            data.extend_from_slice(bytes);
        }
        Body::Chunks {
            chunks,
            last_chunk,
            trailers,
        } => {
            for chunk in chunks.iter().filter(|chunk| !chunk.data.is_empty()) {
                let zeros = "0".repeat(usize::from(chunk.leading_zeros % 4));
                let size = if chunk.uppercase {
                    format!("{zeros}{:X}", chunk.data.len())
                } else {
                    format!("{zeros}{:x}", chunk.data.len())
                };
                stream.extend_from_slice(size.as_bytes());
                if let Some(extension) = &chunk.extension {
                    stream.push(b';');
                    stream.extend_from_slice(extension.as_bytes());
                }
                stream.extend_from_slice(b"\r\n");
                stream.extend_from_slice(&chunk.data);
                stream.extend_from_slice(b"\r\n");
                data.extend_from_slice(&chunk.data);
            }
            if *last_chunk {
                stream.extend_from_slice(b"0\r\n");
                if let Some(trailers) = trailers {
                    stream.extend_from_slice(trailers.as_bytes());
                }
                stream.extend_from_slice(b"\r\n");
            }
        }
    }
    let well_formed_len = stream.len();
    // Text the fuzzer chose can break the framing that the expected body assumes.
    let breaks_line = |text: &str| text.bytes().any(|b| b < 0x20 || b == 0x7f);
    let mut spoiled = breaks_line(&input.reason)
        || input.extra_headers.iter().any(|(name, value)| {
            breaks_line(name)
                || breaks_line(value)
                || name.trim().eq_ignore_ascii_case("content-length")
                || name.trim().eq_ignore_ascii_case("transfer-encoding")
        });
    if let Body::Chunks { chunks, .. } = &input.body {
        spoiled |= chunks.iter().any(|chunk| {
            chunk
                .extension
                .as_deref()
                .is_some_and(|ext| breaks_line(ext) || ext.len() > 512)
        });
    }
    if let Some((at, bytes)) = &input.splice {
        let at = usize::from(*at).min(stream.len());
        stream.splice(at..at, bytes.iter().copied());
        spoiled |= !bytes.is_empty();
    }
    if let Some(repeat) = &input.repeat {
        repeat.write_to(&mut stream, MAX_STREAM);
    }
    stream.truncate(MAX_STREAM);

    let mut buf = BytesMut::new();
    let mut read = 0;
    let mut outcome = None;
    for piece in pieces(
        &stream,
        &input.chunks,
        usize::from(input.chunk_scale).max(1),
    ) {
        buf.extend_from_slice(piece);
        read += piece.len();
        let before = buf.len();
        let result = handshake.receive(&mut buf);
        assert!(buf.len() <= before);
        assert_eq!(&buf[..], &stream[read - buf.len()..read]);
        match result {
            Ok(None) if handshake.refusal_pending() => {
                // The body is taken out of the buffer as it is read.
                assert!(
                    buf.len() <= piece.len(),
                    "the caller holds {} bytes while a refusal's body is read (last read {})",
                    buf.len(),
                    piece.len()
                );
                assert!(
                    read <= head_limit + MAX_BODY_READ + piece.len(),
                    "{read} bytes read and the handshake still waits (head limit {head_limit})"
                );
            }
            Ok(None) => {
                assert!(
                    buf.len() <= head_limit,
                    "the caller holds {} bytes of an unfinished head (limit {head_limit})",
                    buf.len()
                );
            }
            Ok(Some(response)) => {
                assert_eq!(response.status, 101);
                assert_eq!(&response.head[..], &stream[..read - buf.len()]);
                assert_eq!(handshake.receive(&mut buf), Ok(None));
                return;
            }
            Err(error) => {
                outcome = Some(error);
                break;
            }
        }
    }
    let error = match outcome {
        Some(error) => error,
        None if input.eof => handshake.receive_eof(&mut buf),
        None => return,
    };
    let _ = (error.to_string(), error.http_status());
    assert!(!handshake.refusal_pending());
    if let HandshakeError::RefusalBodyUnfinished { body, .. } = &error {
        assert!(
            body.len() <= MAX_ERROR_BODY_BYTES,
            "kept {} bytes of the body",
            body.len()
        );
    }
    if let HandshakeError::UnexpectedStatus {
        status: got, body, ..
    } = &error
    {
        assert!(
            body.len() <= MAX_ERROR_BODY_BYTES,
            "kept {} bytes of the body",
            body.len()
        );
        assert_eq!(Some(*got), status);
        // A body that nothing spoiled is kept exactly, framing removed, up to the limit.
        let plain = !spoiled
            && input.repeat.is_none()
            && read >= well_formed_len
            && !matches!(status, Some(100..=199 | 204 | 304));
        let expected: Option<&[u8]> = match (&input.framing, &input.body) {
            (Framing::Length(n), Body::Raw(bytes)) => Some(&bytes[..bytes.len().min(*n as usize)]),
            (Framing::UntilEof, Body::Raw(bytes)) if input.eof => Some(bytes),
            (
                Framing::Chunked { gzip_first: false } | Framing::Both(_),
                Body::Chunks {
                    last_chunk: true, ..
                },
            ) if read == stream.len() => Some(&data),
            _ => None,
        };
        if let (true, Some(expected)) = (plain, expected) {
            let expected = &expected[..expected.len().min(MAX_ERROR_BODY_BYTES)];
            assert_eq!(&body[..], expected, "the refusal's body");
        }
    }
    // Done: later calls change nothing and never panic.
    let _ = handshake.receive(&mut buf);
});
