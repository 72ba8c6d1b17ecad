//! `ProxyHandshake` (HTTP CONNECT, SOCKS4/4a, SOCKS5 with and without username/password) fed a
//! proxy's reply as arbitrary bytes in arbitrary pieces.
//!
//! Checks, besides "never panics":
//! - `receive` only ever removes bytes from the front of the caller's buffer: what is left is
//!   always the tail of what was read (consumed bytes never exceed the input, nothing is added);
//! - a caller that reads no more than `read_limit` holds nothing past the reply once the tunnel
//!   opens, and the tunnel's `reply` is exactly the bytes consumed last;
//! - bounded buffering: such a caller holds no more than [`MAX_HELD`] bytes of an unfinished
//!   head and no more than its last read of a refusal's body, and the handshake ends within
//!   [`MAX_READ`] bytes, whatever the proxy sends (an endless header line, chunk-size line or
//!   body is refused, not buffered);
//! - errors are sticky, and `read_limit` is 0 after the tunnel opens or the handshake fails;
//! - error texts and hints can be made for every error.
//!
//! Half the inputs start with a canned reply prefix (a CONNECT refusal with a chunked body, a
//! SOCKS5 method choice...) so the fuzzer spends its time past the first bytes, and a
//! [`Repeat`] lets a short input describe a long reply.

#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sockeye_fuzz::{pieces, Repeat};
use sockeye_proto::handshake::body::MAX_ERROR_BODY_READ_BYTES;
use sockeye_proto::proxy::{
    Credentials, Destination, ProxyHandshake, ProxyProtocol, MAX_REPLY_HEAD_BYTES,
};

/// The most a caller that obeys `read_limit` may have to hold while the reply head is
/// incomplete: the limit, and the one or two bytes read past it that show it was crossed.
const MAX_HELD: usize = MAX_REPLY_HEAD_BYTES + 2;

/// The most of a reply read before the handshake ends: the head and the refusal body's read
/// cap (`MAX_ERROR_BODY_READ_BYTES`, framing included).
const MAX_READ: usize = MAX_HELD + MAX_ERROR_BODY_READ_BYTES;

/// Longest reply a run builds (prefix, bytes and repeats together).
const MAX_STREAM: usize = 2 * MAX_READ;

#[derive(Arbitrary, Debug)]
enum Target {
    Name(String),
    V4([u8; 4]),
    V6([u8; 16]),
}

#[derive(Arbitrary, Debug)]
struct Input {
    protocol: u8,
    target: Target,
    port: u16,
    credentials: Option<(String, String)>,
    /// Read no more than `read_limit` (as the front-ends do); otherwise append each piece as
    /// it comes, like a caller that reads greedily.
    obey_read_limit: bool,
    /// Report end of stream once the reply is used up.
    eof: bool,
    /// Which canned prefix to start the reply with (see [`prefix`]).
    prefix: u8,
    chunks: Vec<u8>,
    reply: Vec<u8>,
    repeat: Option<Repeat>,
    suffix: Vec<u8>,
}

/// Reply prefixes that get past the first checks.
fn prefix(choice: u8) -> &'static [u8] {
    match choice % 12 {
        0 => b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nTransfer-Encoding: chunked\r\n\r\n",
        1 => b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\n",
        2 => b"HTTP/1.0 502 Bad Gateway\r\n\r\n",
        3 => b"HTTP/1.1 200 Connection established\r\n\r\n",
        4 => b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: gzip, chunked\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n\r\n",
        5 => &[5, 0],
        6 => &[5, 2, 1, 0],
        7 => &[5, 0, 5, 0, 0, 3],
        8 => &[0, 90],
        9 => &[0, 91],
        _ => b"",
    }
}

fuzz_target!(|input: Input| {
    let protocol = match input.protocol % 3 {
        0 => ProxyProtocol::HttpConnect,
        1 => ProxyProtocol::Socks4,
        _ => ProxyProtocol::Socks5,
    };
    let destination = match &input.target {
        Target::Name(host) => Destination::new(host, input.port),
        Target::V4(octets) => {
            Destination::Addr(SocketAddr::new(Ipv4Addr::from(*octets).into(), input.port))
        }
        Target::V6(octets) => {
            Destination::Addr(SocketAddr::new(Ipv6Addr::from(*octets).into(), input.port))
        }
    };
    let credentials = input
        .credentials
        .as_ref()
        .map(|(user, password)| Credentials::new(user.as_str(), password.as_str()));
    let mut handshake = match ProxyHandshake::new(protocol, destination, credentials) {
        Ok(handshake) => handshake,
        Err(error) => {
            // Refused before anything is sent: the destination or credentials cannot be said.
            let _ = (error.to_string(), error.hint());
            return;
        }
    };

    let mut stream = prefix(input.prefix).to_vec();
    stream.extend_from_slice(&input.reply[..input.reply.len().min(MAX_STREAM)]);
    if let Some(repeat) = &input.repeat {
        repeat.write_to(&mut stream, MAX_STREAM);
    }
    stream.extend_from_slice(&input.suffix[..input.suffix.len().min(MAX_STREAM)]);

    let mut buf = BytesMut::new();
    let mut read = 0; // bytes of `stream` appended to `buf` so far
    let mut pieces = pieces(&stream, &input.chunks, 1);
    let mut piece: &[u8] = &[];
    loop {
        // Write everything the handshake wants sent.
        let pending = handshake.pending_output().len();
        handshake.consume_output(pending);
        assert!(handshake.pending_output().is_empty());

        // A caller that read past what was needed (greedily) may hold a whole next reply: then
        // the limit is 0 and `receive` goes on without new bytes.
        let limit = handshake.read_limit(&buf);
        if limit > 0 && piece.is_empty() {
            match pieces.next() {
                Some(next) => piece = next,
                None => {
                    if input.eof {
                        let error = handshake.receive_eof(&mut buf);
                        let _ = (error.to_string(), error.hint());
                        assert_eq!(handshake.read_limit(&buf), 0);
                        assert_eq!(handshake.receive(&mut buf), Err(error));
                    }
                    break;
                }
            }
        }
        let take = if input.obey_read_limit {
            piece.len().min(limit)
        } else {
            piece.len()
        };
        buf.extend_from_slice(&piece[..take]);
        piece = &piece[take..];
        read += take;
        if input.obey_read_limit {
            assert!(
                read <= MAX_READ,
                "{protocol}: {read} bytes of the reply read and the handshake goes on (at most {MAX_READ})"
            );
        }

        let before = buf.len();
        let result = handshake.receive(&mut buf);
        // Only ever removes a prefix: what is left is the tail of what was read.
        assert!(buf.len() <= before);
        assert_eq!(&buf[..], &stream[read - buf.len()..read]);
        let consumed_now = before - buf.len();
        match result {
            Ok(None) => {
                if input.obey_read_limit && handshake.refusal_pending() {
                    // A refusal's body is taken out of the buffer as it is read.
                    assert!(
                        buf.len() <= take,
                        "{protocol}: {} bytes of a refusal's body held",
                        buf.len()
                    );
                } else if input.obey_read_limit {
                    assert!(
                        buf.len() <= MAX_HELD,
                        "{protocol}: the caller holds {} bytes of the reply, more than {MAX_HELD}",
                        buf.len()
                    );
                }
                // Progress: bytes were read or consumed, or there is something to send.
                assert!(
                    take > 0 || consumed_now > 0 || !handshake.pending_output().is_empty(),
                    "{protocol}: read_limit is 0 but the handshake waits ({} bytes held)",
                    buf.len()
                );
            }
            Ok(Some(tunnel)) => {
                assert!(handshake.is_open());
                assert_eq!(tunnel.protocol, protocol);
                // The reply is the bytes just consumed.
                assert_eq!(tunnel.reply.len(), consumed_now);
                assert_eq!(
                    &tunnel.reply[..],
                    &stream[read - buf.len() - consumed_now..read - buf.len()]
                );
                if input.obey_read_limit {
                    // Nothing past the reply was read.
                    assert!(
                        buf.is_empty(),
                        "{protocol}: {} bytes past the reply were read",
                        buf.len()
                    );
                }
                assert_eq!(handshake.read_limit(&buf), 0);
                assert_eq!(handshake.receive(&mut buf), Ok(None));
                break;
            }
            Err(error) => {
                let _ = (error.to_string(), error.hint());
                assert!(!handshake.is_open());
                assert!(handshake.pending_output().is_empty());
                assert_eq!(handshake.read_limit(&buf), 0);
                assert_eq!(handshake.receive(&mut buf), Err(error));
                break;
            }
        }
    }
});
