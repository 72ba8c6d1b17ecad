//! What a server reports when a client fails its opening handshake, on both front-ends: a
//! client that hangs up in the middle of its request ([`HandshakeError::RequestClosed`]) and
//! one that does not send its request in time ([`Error::RequestTimeout`]). The words are the
//! server's: they speak of the client's request, never of a reply the server did not get, nor
//! of a server that "never answered". The diagnoses say the same.
//!
//! In memory: a scripted stream for the blocking server, `tokio::io::duplex` for the tokio one.
#![allow(clippy::unwrap_used)]

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use sockeye::proto::HandshakeError;
use sockeye::{blocking, Accept, Error, ServerConfig, Stage};
use tokio::io::AsyncWriteExt;

/// The start of a request whose head never ends.
const HALF_A_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n";
const LIMIT: Duration = Duration::from_secs(10);

/// A blocking stream that yields `input`, then ends (`timeout: false`) or fails as a socket
/// whose read timeout ran out does (`timeout: true`). What the server writes is dropped.
struct Scripted {
    input: io::Cursor<Vec<u8>>,
    timeout: bool,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.input.read(buf)?;
        if read == 0 && self.timeout {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(read)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn accept_blocking(input: &[u8], timeout: bool, config: &ServerConfig) -> Error {
    let stream = Scripted {
        input: io::Cursor::new(input.to_vec()),
        timeout,
    };
    match blocking::accept_with(stream, config, |_| Ok(Accept::default())) {
        Ok(_) => panic!("the handshake succeeded"),
        Err(err) => err,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The tokio server reads `input`, then the client hangs up (`hang_up`) or stays silent.
fn accept_tokio(input: &[u8], hang_up: bool, config: &ServerConfig) -> Error {
    runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        client.write_all(input).await.unwrap();
        let _kept = if hang_up {
            drop(client);
            None
        } else {
            Some(client)
        };
        let accepted = tokio::time::timeout(
            LIMIT,
            sockeye::tokio::accept_async_with(server, config, |_| Ok(Accept::default())),
        )
        .await
        .expect("the server gave up in time");
        match accepted {
            Ok(_) => panic!("the handshake succeeded"),
            Err(err) => err,
        }
    })
}

/// The message speaks of the client's request, not of a reply or a server that never answered.
#[track_caller]
fn assert_server_words(err: &Error) {
    let text = err.to_string();
    assert!(text.contains("client"), "{text}");
    for wrong in ["reply", "never answered", "server or a proxy dropped"] {
        assert!(!text.contains(wrong), "{wrong:?} in {text}");
    }
}

#[test]
fn a_client_that_hangs_up_mid_request_is_request_closed() {
    let config = ServerConfig::default();
    for (front_end, err) in [
        ("blocking", accept_blocking(HALF_A_REQUEST, false, &config)),
        ("tokio", accept_tokio(HALF_A_REQUEST, true, &config)),
    ] {
        let received = HALF_A_REQUEST.len();
        assert!(
            matches!(
                &err,
                Error::Handshake(HandshakeError::RequestClosed { received: got }) if *got == received
            ),
            "{front_end}: {err:?}"
        );
        assert_eq!(err.stage(), Stage::Http);
        assert_server_words(&err);
        assert!(
            err.to_string().contains("before its request head ended"),
            "{front_end}: {err}"
        );
        let diagnosis = err.diagnosis();
        assert_eq!(
            diagnosis.cause, "request-closed",
            "{front_end}: {diagnosis}"
        );
        assert_eq!(
            diagnosis.evidence("received_bytes"),
            Some(received.to_string().as_str())
        );
        assert!(
            diagnosis.hint.contains("before its request head ended"),
            "{diagnosis}"
        );
    }
    // Nothing at all: a client that connected and left.
    let err = accept_blocking(b"", false, &config);
    assert!(
        matches!(
            err,
            Error::Handshake(HandshakeError::RequestClosed { received: 0 })
        ),
        "{err:?}"
    );
    assert!(
        err.diagnosis().hint.contains("without sending a request"),
        "{}",
        err.diagnosis()
    );
}

#[test]
fn a_client_too_slow_with_its_request_is_request_timeout() {
    let limit = Duration::from_millis(200);
    let mut config = ServerConfig::default();
    config.handshake_timeout = Some(limit);
    let blocking = accept_blocking(HALF_A_REQUEST, true, &config);
    let started = Instant::now();
    let tokio = accept_tokio(HALF_A_REQUEST, false, &config);
    let took = started.elapsed();
    assert!(
        took >= limit && took < LIMIT,
        "the tokio server took {took:?}"
    );
    for (front_end, err) in [("blocking", blocking), ("tokio", tokio)] {
        assert!(
            matches!(err, Error::RequestTimeout { after } if after == limit),
            "{front_end}: {err:?}"
        );
        assert_eq!(err.stage(), Stage::Http);
        assert_server_words(&err);
        assert!(
            err.to_string()
                .contains("the client did not send its opening handshake in time"),
            "{front_end}: {err}"
        );
        let diagnosis = err.diagnosis();
        assert_eq!(
            diagnosis.cause, "request-timeout",
            "{front_end}: {diagnosis}"
        );
        assert_eq!(diagnosis.evidence("after"), Some("200 ms"));
        assert!(diagnosis.hint.contains("handshake_timeout"), "{diagnosis}");
        assert!(!diagnosis.hint.contains("server"), "{diagnosis}");
    }
}

#[test]
fn invalid_requests_are_diagnosed_as_the_clients() {
    let config = ServerConfig::default();
    // TLS to a plain port: a ClientHello is not HTTP.
    let hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
    let err = accept_blocking(hello, false, &config);
    assert!(
        matches!(
            err,
            Error::Handshake(HandshakeError::MalformedRequest { .. })
        ),
        "{err:?}"
    );
    let diagnosis = err.diagnosis();
    assert_eq!(diagnosis.cause, "request-not-http", "{diagnosis}");
    assert!(diagnosis.hint.contains("TLS"), "{diagnosis}");

    // Two Hosts: refused with 400.
    let two_hosts = b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let err = accept_blocking(two_hosts, false, &config);
    assert!(
        matches!(err, Error::Handshake(HandshakeError::RepeatedHeader { .. })),
        "{err:?}"
    );
    let diagnosis = err.diagnosis();
    assert_eq!(diagnosis.cause, "request-invalid", "{diagnosis}");
    assert_eq!(diagnosis.evidence("answered"), Some("400"));

    // A head over the limit: 431.
    let mut small = ServerConfig::default();
    small.max_header_bytes = 64;
    let mut long = HALF_A_REQUEST.to_vec();
    long.extend_from_slice(&[b'x'; 200]);
    let err = accept_blocking(&long, false, &small);
    assert!(
        matches!(
            err,
            Error::Handshake(HandshakeError::RequestHeadTooLarge { limit: 64 })
        ),
        "{err:?}"
    );
    assert_eq!(err.diagnosis().cause, "request-head-too-large");
}
