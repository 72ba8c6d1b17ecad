//! Hostile HTTP during the opening handshake, over real sockets on 127.0.0.1 (issue 9, items 3
//! and 5). Every peer here is a raw std::net thread whose work is bounded in bytes and time.
//!
//! - Item 3: a server refuses the upgrade with `401` and `Transfer-Encoding: chunked`, then
//!   sends a chunk-size line that never ends. The client (blocking and tokio) stops after the
//!   line limit, long before its handshake timeout, and reports the 401 and that the body
//!   never ended. A refusal whose body is still coming when the time runs out is reported as
//!   the refusal, not as a server that "never answered".
//! - Item 5: a client sends two `Host` headers, or a `GET` with a body (`Content-Length`,
//!   `Transfer-Encoding`) whose bytes are a valid WebSocket frame. `sockeye::blocking::accept`
//!   and the tokio `Server` answer 400 with a body naming the problem, close, and never read
//!   the body as a frame.

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sockeye::proto::handshake::{BodyProblem, ChunkedProblem, HandshakeError};
use sockeye::tokio::{Peer, Server, ServerHandler};
use sockeye::{blocking, ClientConfig, Error, Message, ServerConfig, Stage};

/// The handshake timeout the clients get: failing "fast" means well before it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// What a raw peer thread may spend at most.
const PEER_TIME: Duration = Duration::from_secs(10);
/// What a raw server may send at most.
const PEER_BYTES: usize = 64 << 20;

const CHUNKED_401: &[u8] =
    b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nWWW-Authenticate: Bearer realm=\"chat\"\r\n\r\n";

/// Reads a request head (up to the blank line) from `stream`, within `PEER_TIME`.
fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(PEER_TIME)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    head
}

/// What a raw server saw.
#[derive(Debug)]
struct Sent {
    bytes: usize,
    /// True if the client closed the connection (a write failed) before the server's caps.
    client_closed: bool,
}

/// A server that answers the first request with `head`, then writes `filler` again and again
/// until the client closes (or `PEER_BYTES` / `PEER_TIME` run out).
fn endless_refusal(
    head: &'static [u8],
    filler: &'static [u8],
) -> (String, thread::JoinHandle<Sent>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/chat", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_head(&mut stream);
        stream.set_write_timeout(Some(PEER_TIME)).unwrap();
        let started = Instant::now();
        let mut bytes = 0;
        let mut client_closed = stream.write_all(head).is_err();
        let block = filler.repeat(16 * 1024 / filler.len());
        while !client_closed && bytes < PEER_BYTES && started.elapsed() < PEER_TIME {
            match stream.write(&block) {
                Ok(n) => bytes += n,
                Err(_) => client_closed = true,
            }
        }
        Sent {
            bytes,
            client_closed,
        }
    });
    (url, server)
}

/// A server that answers with `reply` and then holds the connection, silent, until the
/// client closes it (or `PEER_TIME` runs out).
fn stalled_refusal(reply: &'static [u8]) -> (String, thread::JoinHandle<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/chat", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_head(&mut stream);
        stream.write_all(reply).unwrap();
        let mut rest = [0u8; 64];
        // Ok(0): the client closed.
        matches!(stream.read(&mut rest), Ok(0))
    });
    (url, server)
}

fn config(url: &str, timeout: Duration) -> ClientConfig {
    ClientConfig::new(url)
        .unwrap()
        .handshake_timeout(Some(timeout))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Connects with the blocking client, then with the tokio client, to a fresh server from
/// `serve` each time: the two errors and how long each took.
fn connect_both<T>(
    serve: impl Fn() -> (String, thread::JoinHandle<T>),
    timeout: Duration,
) -> Vec<(&'static str, Error, Duration, T)> {
    let mut outcomes = Vec::new();
    let (url, server) = serve();
    let started = Instant::now();
    let err = blocking::connect_with(config(&url, timeout)).unwrap_err();
    let took = started.elapsed();
    outcomes.push(("blocking", err, took, server.join().unwrap()));

    let (url, server) = serve();
    let started = Instant::now();
    let err = runtime()
        .block_on(sockeye::tokio::connect_async_with(config(&url, timeout)))
        .unwrap_err();
    let took = started.elapsed();
    outcomes.push(("tokio", err, took, server.join().unwrap()));
    outcomes
}

#[test]
fn a_401_whose_chunk_size_line_never_ends_fails_fast_with_the_status() {
    // "1" then spaces: whitespace before a chunk extension, a line that never ends.
    let serve = || endless_refusal([CHUNKED_401, b"1"].concat().leak(), b" ");
    for (front_end, err, took, sent) in connect_both(serve, HANDSHAKE_TIMEOUT) {
        eprintln!(
            "{front_end}: failed after {took:?}; the server wrote {} bytes before the client closed",
            sent.bytes
        );
        assert!(
            took < Duration::from_secs(2),
            "{front_end}: took {took:?} against a {HANDSHAKE_TIMEOUT:?} timeout"
        );
        assert!(
            matches!(
                &err,
                Error::Handshake(HandshakeError::RefusalBodyUnfinished {
                    status: 401,
                    problem: BodyProblem::Chunked(ChunkedProblem::LineTooLong),
                    headers,
                    ..
                }) if headers.get("WWW-Authenticate").is_some()
            ),
            "{front_end}: {err:?}"
        );
        assert_eq!(err.stage(), Stage::Http);
        let text = err.to_string();
        assert!(
            text.contains("the server refused the upgrade with 401 Unauthorized, and its body never ended: a chunk-size line longer than 1024 bytes"),
            "{front_end}: {text}"
        );
        assert!(!text.contains("never answered"), "{front_end}: {text}");
        // The client stopped reading and closed: the server's writes failed long before its
        // own caps.
        assert!(sent.client_closed, "{front_end}: {sent:?}");
        assert!(sent.bytes < PEER_BYTES, "{front_end}: {sent:?}");
    }
}

#[test]
fn endless_extensions_and_trailers_fail_fast_too() {
    let cases: [(&'static [u8], &'static [u8], &str); 3] = [
        (b"1;name=", b"v", "a chunk-size line longer than 1024 bytes"),
        (b"1\r\nx\r\n0\r\n", b"X-Trailer: y\r\n", ""),
        (b"", b"1;e=1\r\nx\r\n", ""),
    ];
    for (start, filler, words) in cases {
        let head: &'static [u8] = [CHUNKED_401, start].concat().leak();
        let (url, server) = endless_refusal(head, filler);
        let started = Instant::now();
        let err = blocking::connect_with(config(&url, HANDSHAKE_TIMEOUT)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
        let Error::Handshake(err) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(err.refusal_status(), Some(401), "{err:?}");
        assert!(err.to_string().contains(words), "{err}");
        let sent = server.join().unwrap();
        assert!(sent.client_closed, "{sent:?}");
    }
}

#[test]
fn a_refusal_whose_body_stalls_is_reported_as_the_refusal_when_time_runs_out() {
    let timeout = Duration::from_millis(400);
    let serve = || stalled_refusal([CHUNKED_401, b"8\r\nno t"].concat().leak());
    for (front_end, err, took, client_closed) in connect_both(serve, timeout) {
        assert!(took < timeout * 5, "{front_end}: took {took:?}");
        assert!(
            matches!(
                &err,
                Error::Handshake(HandshakeError::RefusalBodyUnfinished {
                    status: 401,
                    body,
                    problem: BodyProblem::CutShort { chunked: true, .. },
                    ..
                }) if &body[..] == b"no t"
            ),
            "{front_end}: {err:?}"
        );
        assert!(
            !err.to_string().contains("never answered"),
            "{front_end}: {err}"
        );
        assert!(client_closed, "{front_end}");
    }
    // A server that never answers at all still times out as before.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let err = blocking::connect_with(config(&url, timeout)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                stage: Stage::Http,
                ..
            }
        ),
        "{err:?}"
    );
}

// -- item 5: the server's strict request parsing ---------------------------------------------

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A masked text frame, "hello": what a smuggled body would be read as if it were frames.
const HELLO_FRAME: &[u8] = b"\x81\x85abcd\x09\x07\x0f\x08\x0e";

fn upgrade_request(extra: &str) -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// The hostile requests: extra headers, then `HELLO_FRAME` as body; the words the 400 must say.
fn hostile_requests() -> Vec<(Vec<u8>, &'static str)> {
    let with_body = |extra: &str| [upgrade_request(extra), HELLO_FRAME.to_vec()].concat();
    vec![
        (
            with_body("Host: other.example\r\n"),
            "the client's request has 2 Host headers",
        ),
        (
            with_body(&format!("Content-Length: {}\r\n", HELLO_FRAME.len())),
            "the client's request announces a body (Content-Length: 11)",
        ),
        (
            [
                upgrade_request("Transfer-Encoding: chunked\r\n"),
                format!("{:x}\r\n", HELLO_FRAME.len()).into_bytes(),
                HELLO_FRAME.to_vec(),
                b"\r\n0\r\n\r\n".to_vec(),
            ]
            .concat(),
            "the client's request announces a body (Transfer-Encoding: chunked)",
        ),
        (
            with_body("Sec-WebSocket-Version: 13\r\n"),
            "the client's request has 2 Sec-WebSocket-Version headers",
        ),
    ]
}

/// Sends `request` on a fresh connection to `addr` and reads the answer until the server
/// closes (within `PEER_TIME`).
fn send_raw(addr: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PEER_TIME)).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => break,
            Err(err) => panic!("no answer and no close within {PEER_TIME:?}: {err}"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A 400 whose body is the error's message, and nothing after it: no 101, no frame.
fn assert_refused_with_400(answer: &str, words: &str) {
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(body.len(), length, "bytes after the 400's body: {answer:?}");
    assert!(body.starts_with(words), "{body}");
}

#[test]
fn blocking_accept_refuses_ambiguous_requests_with_400() {
    for (request, words) in hostile_requests() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(PEER_TIME)).unwrap();
            blocking::accept(stream).map(|_| ()).unwrap_err()
        });
        let answer = send_raw(&addr, &request);
        assert_refused_with_400(&answer, words);
        let err = server.join().unwrap();
        let Error::Handshake(handshake) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(handshake.http_status(), Some(400), "{err:?}");
        assert!(err.to_string().contains(words), "{err}");
    }
}

#[test]
fn blocking_accept_takes_a_lone_content_length_0_and_reads_the_frame_that_follows() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(PEER_TIME)).unwrap();
        let mut socket = blocking::accept(stream).unwrap();
        socket.read().unwrap()
    });
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(
            &[
                upgrade_request("Content-Length: 0\r\n"),
                HELLO_FRAME.to_vec(),
            ]
            .concat(),
        )
        .unwrap();
    assert_eq!(server.join().unwrap(), Message::text("hello"));
}

/// Records what the tokio server's handlers saw.
struct Recorder(mpsc::Sender<String>);

impl ServerHandler for Recorder {
    fn on_open(&mut self, _peer: &mut Peer<'_>, _request: &sockeye::Request) {
        self.0.send("open".into()).unwrap();
    }
    fn on_message(&mut self, _peer: &mut Peer<'_>, message: Message) {
        self.0.send(format!("message {message:?}")).unwrap();
    }
    fn on_error(&mut self, error: &Error) {
        self.0.send(format!("error {error}")).unwrap();
    }
}

#[test]
fn the_tokio_server_refuses_ambiguous_requests_with_400() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = Server::new(ServerConfig::default());
    let shutdown = server.shutdown_handle();
    let (seen, events) = mpsc::channel();
    let running = runtime.spawn(server.serve(listener, move || Recorder(seen.clone())));
    for (request, words) in hostile_requests() {
        let answer = send_raw(&addr, &request);
        assert_refused_with_400(&answer, words);
        let event = events.recv_timeout(PEER_TIME).unwrap();
        assert!(
            event.starts_with("error ") && event.contains(words),
            "{event}"
        );
    }
    shutdown.shutdown();
    runtime.block_on(running).unwrap().unwrap();
    // Nothing opened, no frame read.
    let rest: Vec<String> = events.try_iter().collect();
    assert!(
        rest.iter()
            .all(|event| !event.starts_with("open") && !event.starts_with("message")),
        "{rest:?}"
    );
}
