//! Client options end to end, over loopback TCP: every handshake option as it arrives on the
//! wire (a server that records the raw request), requests refused before anything is sent,
//! handshake/read/write timeouts, and frame-level control (mask keys, raw frames, frames
//! instead of messages, UTF-8 validation off).
//!
//! Ports are chosen by the OS, every wait is bounded, nothing sleeps to synchronise.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sockeye::proto::handshake::accept_key;
use sockeye::proto::HandshakeError;
use sockeye::{
    blocking, tokio as ws, ClientConfig, CloseCode, Error, Frame, MaskKeys, Message, OpCode,
    ProtocolError, Stage,
};

/// The longest any step may take before the test fails.
const LIMIT: Duration = Duration::from_secs(10);

/// What the recording server saw: the request head (up to the blank line) and the bytes after.
struct Recorded {
    head: String,
    after: Vec<u8>,
}

impl Recorded {
    /// The header lines, without the request line, the blank line and the key's value.
    fn headers(&self) -> Vec<String> {
        self.head
            .split("\r\n")
            .skip(1)
            .filter(|line| !line.is_empty())
            .map(|line| match line.split_once(": ") {
                Some((name, _)) if name.eq_ignore_ascii_case("Sec-WebSocket-Key") => {
                    format!("{name}: <key>")
                }
                _ => line.to_string(),
            })
            .collect()
    }

    fn request_line(&self) -> &str {
        self.head.split("\r\n").next().unwrap_or("")
    }
}

/// Reads from `stream` until the head ends; returns the head and what followed it.
fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = received.split_off(end + 4);
            return (String::from_utf8(received).unwrap(), rest);
        }
        let read = stream.read(&mut chunk).expect("read the request");
        assert!(read > 0, "the client closed before the head ended");
        received.extend_from_slice(&chunk[..read]);
    }
}

/// A server for one connection that records the request, answers 101, then hands the stream
/// to `then` along with the bytes that followed the head; the record is sent when `then` ends.
fn recording_server<F>(then: F) -> (String, mpsc::Receiver<Recorded>)
where
    F: FnOnce(&mut TcpStream, Vec<u8>) -> Vec<u8> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let (head, rest) = read_head(&mut stream);
        let key = head
            .split("\r\n")
            .find_map(|line| {
                let (name, value) = line.split_once(": ")?;
                name.eq_ignore_ascii_case("Sec-WebSocket-Key")
                    .then(|| value.to_string())
            })
            .unwrap();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        );
        stream.write_all(response.as_bytes()).unwrap();
        let after = then(&mut stream, rest);
        let _ = tx.send(Recorded { head, after });
    });
    (format!("127.0.0.1:{port}"), rx)
}

/// Reads until `want` bytes have arrived after the head (or the peer closes).
fn read_exactly(want: usize) -> impl FnOnce(&mut TcpStream, Vec<u8>) -> Vec<u8> + Send {
    move |stream, mut got| {
        let mut chunk = [0u8; 4096];
        while got.len() < want {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(read) => got.extend_from_slice(&chunk[..read]),
            }
        }
        got
    }
}

fn expected_headers(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|line| line.to_string()).collect()
}

fn every_option(addr: &str) -> ClientConfig {
    ClientConfig::new(&format!("ws://alice:s%3Acret@{addr}/chat?room=1"))
        .unwrap()
        .host_header("front.example:8443")
        .origin("https://app.example")
        .cookie("session=abc; theme=dark")
        .subprotocol("chat.v2")
        .subprotocol("chat.v1")
        .extension("permessage-deflate; client_max_window_bits")
        .extension("x-custom")
        .header("X-Trace", "1")
        .header("X-Trace", "2")
        .headers_from([("X-From-List", "a")])
        .headers_from(BTreeMap::from([("X-Map-A", "1"), ("X-Map-B", "2")]))
}

const EVERY_OPTION_HEADERS: [&str; 16] = [
    "Host: front.example:8443",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: <key>",
    "Sec-WebSocket-Version: 13",
    "Origin: https://app.example",
    "Sec-WebSocket-Protocol: chat.v2, chat.v1",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-custom",
    concat!("User-Agent: sockeye/", env!("CARGO_PKG_VERSION")),
    // base64("alice:s:cret"): the URL's credentials, percent-escapes decoded.
    "Authorization: Basic YWxpY2U6czpjcmV0",
    "Cookie: session=abc; theme=dark",
    "X-Trace: 1",
    "X-Trace: 2",
    "X-From-List: a",
    "X-Map-A: 1",
    "X-Map-B: 2",
];

fn every_option_headers() -> Vec<String> {
    expected_headers(&EVERY_OPTION_HEADERS)
}

#[test]
fn every_handshake_option_arrives_as_configured() {
    let (addr, recorded) = recording_server(|_, rest| rest);
    let config = every_option(&addr);
    // The credentials left the URL: they are only in the Authorization header.
    assert!(
        !config.target.url.as_str().contains("cret"),
        "{}",
        config.target.url
    );
    let (socket, response) = blocking::connect_with(config).unwrap();
    let recorded = recorded.recv_timeout(LIMIT).unwrap();
    assert_eq!(recorded.request_line(), "GET /chat?room=1 HTTP/1.1");
    assert_eq!(recorded.headers(), every_option_headers());
    // What was sent is also what the response says was sent.
    assert_eq!(response.request, recorded.head.as_bytes());
    drop(socket);
}

#[test]
fn the_tokio_client_sends_the_same_request() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (addr, recorded) = recording_server(|_, rest| rest);
    let (_socket, _) = runtime
        .block_on(async {
            tokio::time::timeout(LIMIT, ws::connect_async_with(every_option(&addr))).await
        })
        .unwrap()
        .unwrap();
    let recorded = recorded.recv_timeout(LIMIT).unwrap();
    assert_eq!(recorded.request_line(), "GET /chat?room=1 HTTP/1.1");
    assert_eq!(recorded.headers(), every_option_headers());
}

#[test]
fn bearer_token_user_agent_and_no_origin_by_default() {
    let (addr, recorded) = recording_server(|_, rest| rest);
    let config = ClientConfig::new(&format!("ws://{addr}/"))
        .unwrap()
        .bearer_token("t0k3n")
        .user_agent("probe/1.0");
    let _open = blocking::connect_with(config).unwrap();
    let recorded = recorded.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        recorded.headers(),
        expected_headers(&[
            &format!("Host: {addr}"),
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: <key>",
            "Sec-WebSocket-Version: 13",
            // Compression is offered by default.
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "User-Agent: probe/1.0",
            "Authorization: Bearer t0k3n",
        ])
    );
}

#[test]
fn headers_given_explicitly_replace_the_generated_ones() {
    let (addr, recorded) = recording_server(|_, rest| rest);
    let config = ClientConfig::new(&format!("ws://{addr}/"))
        .unwrap()
        .origin("https://ignored.example")
        .header("host", "virtual.example")
        .header("User-Agent", "curl/8.0")
        .header("Origin", "https://given.example");
    let _open = blocking::connect_with(config).unwrap();
    let recorded = recorded.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        recorded.headers(),
        expected_headers(&[
            "Host: virtual.example",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: <key>",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "User-Agent: curl/8.0",
            "Origin: https://given.example",
        ])
    );
    // An empty User-Agent sends none; the default names this crate.
    assert!(sockeye::DEFAULT_USER_AGENT.starts_with("sockeye/"));
    let config = ClientConfig::new(&format!("ws://{addr}/"))
        .unwrap()
        .user_agent("");
    assert!(!config
        .request()
        .headers
        .iter()
        .any(|(name, _)| name == "User-Agent"));
}

/// Options whose values would split the request: each must fail before a connection opens.
fn injections(url: &str) -> Vec<(&'static str, ClientConfig)> {
    let base = || ClientConfig::new(url).unwrap();
    vec![
        ("header value", base().header("X-Test", "a\r\nEvil: 1")),
        ("header name", base().header("X-Te\nst", "a")),
        ("Host override", base().host_header("h\r\nEvil: 1")),
        ("cookie", base().cookie("a=1\nEvil: 1")),
        ("origin", base().origin("https://o\r\n")),
        ("user agent", base().user_agent("ua\0")),
        ("bearer token", base().bearer_token("t\r\nEvil: 1")),
        ("subprotocol", base().subprotocol("chat\r\nEvil: 1")),
        ("extension", base().extension("x\nEvil: 1")),
        (
            "header list",
            base().headers_from([("X-Ok", "1"), ("X-Bad", "2\r\n")]),
        ),
    ]
}

fn assert_refused(what: &str, result: Result<(), Error>) {
    match result {
        Err(Error::Handshake(HandshakeError::InvalidHeader { .. })) => {}
        other => panic!("{what}: expected InvalidHeader, got {other:?}"),
    }
}

#[test]
fn cr_lf_or_nul_is_refused_before_anything_is_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (what, config) in injections(&url) {
        assert_refused(what, config.check_request());
        assert_refused(what, blocking::connect_with(config.clone()).map(drop));
        let tokio_result = runtime.block_on(ws::connect_async_with(config));
        assert_refused(what, tokio_result.map(drop));
    }
    // No connection was even opened: the accept queue is empty.
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(err) if err.kind() == ErrorKind::WouldBlock => {}
        other => panic!("a refused request still connected: {other:?}"),
    }
}

#[test]
fn handshake_timeout_fires_when_the_server_never_answers() {
    // The kernel accepts the connection into the backlog; nobody ever reads or answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let limit = Duration::from_millis(300);
    let config = ClientConfig::new(&url)
        .unwrap()
        .handshake_timeout(Some(limit));

    let started = Instant::now();
    let err = blocking::connect_with(config.clone()).unwrap_err();
    let blocking_took = started.elapsed();
    assert!(
        matches!(err, Error::Timeout { stage: Stage::Http, after } if after == limit),
        "{err:?}"
    );
    assert!(err.to_string().contains("never answered"), "{err}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let err = runtime
        .block_on(ws::connect_async_with(config))
        .unwrap_err();
    let tokio_took = started.elapsed();
    assert!(
        matches!(err, Error::Timeout { stage: Stage::Http, after } if after == limit),
        "{err:?}"
    );
    for took in [blocking_took, tokio_took] {
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(5),
            "timed out after {took:?}, configured {limit:?}"
        );
    }
    drop(listener);
}

#[test]
fn read_timeout_surfaces_as_a_timeout_and_the_connection_survives() {
    let (go, wait) = mpsc::channel::<()>();
    let (addr, _recorded) = recording_server(move |stream, rest| {
        wait.recv_timeout(LIMIT).unwrap();
        stream.write_all(b"\x81\x04late").unwrap();
        read_exactly(usize::MAX)(stream, rest)
    });
    let limit = Duration::from_millis(200);
    let config = ClientConfig::new(&format!("ws://{addr}/"))
        .unwrap()
        .read_timeout(Some(limit));
    let (mut socket, _) = blocking::connect_with(config).unwrap();
    let started = Instant::now();
    let err = socket.read().unwrap_err();
    assert!(
        matches!(err, Error::Timeout { stage: Stage::Open, after } if after == limit),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    go.send(()).unwrap();
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(socket.read().unwrap(), Message::text("late"));
}

#[test]
fn write_timeout_surfaces_as_a_timeout() {
    // The server never reads: the socket buffers fill and the write waits.
    let (hold, held) = mpsc::channel::<()>();
    let (addr, _recorded) = recording_server(move |_, rest| {
        let _ = held.recv_timeout(LIMIT);
        rest
    });
    let limit = Duration::from_millis(200);
    let config = ClientConfig::new(&format!("ws://{addr}/"))
        .unwrap()
        .write_timeout(Some(limit));
    let (mut socket, _) = blocking::connect_with(config).unwrap();
    // 1 MiB at a time until the socket buffers are full, however large they are (1 GiB at most).
    let chunk = vec![0u8; 1 << 20];
    let err = (0..1024)
        .find_map(|_| socket.send_binary(&chunk).err())
        .expect("the writes time out once nobody reads");
    assert!(
        matches!(err, Error::Timeout { stage: Stage::Open, after } if after == limit),
        "{err:?}"
    );
    drop(hold);
}

#[test]
fn an_all_zero_mask_key_leaves_the_payload_readable_on_the_wire() {
    let (addr, recorded) = recording_server(read_exactly(11));
    let config = ClientConfig::new(&format!("ws://{addr}/"))
        .unwrap()
        .mask_keys(MaskKeys::ZERO);
    let (mut socket, _) = blocking::connect_with(config).unwrap();
    socket.send_text("hello").unwrap();
    let recorded = recorded.recv_timeout(LIMIT).unwrap();
    assert_eq!(recorded.after, b"\x81\x85\0\0\0\0hello");
}

#[test]
fn custom_mask_keys_are_used_in_order_by_both_front_ends() {
    let counter = AtomicU8::new(0);
    let keys = MaskKeys::custom(move || [0xA0, 0, 0, counter.fetch_add(1, Ordering::SeqCst)]);
    let (addr, recorded) = recording_server(read_exactly(12));
    let config = ClientConfig::new(&format!("ws://{addr}/"))
        .unwrap()
        .mask_keys(keys.clone());
    let (mut socket, _) = blocking::connect_with(config).unwrap();
    socket.send_binary(b"").unwrap();
    socket.send_binary(b"").unwrap();
    let recorded = recorded.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        recorded.after,
        [0x82, 0x80, 0xA0, 0, 0, 0, 0x82, 0x80, 0xA0, 0, 0, 1]
    );

    // The tokio client takes the same option; the shared source continues at 2.
    let (addr, recorded) = recording_server(read_exactly(8));
    let config = ClientConfig::new(&format!("ws://{addr}/"))
        .unwrap()
        .mask_keys(keys);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut socket, _) = ws::connect_async_with(config).await.unwrap();
        socket.send_text("hi").await.unwrap();
    });
    let recorded = recorded.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        recorded.after,
        [0x81, 0x82, 0xA0, 0, 0, 2, b'h' ^ 0xA0, b'i']
    );
}

/// A sockeye server for one connection that runs `serve` on it.
fn sockeye_server<T: Send + 'static>(
    serve: impl FnOnce(blocking::WebSocket<TcpStream>) -> T + Send + 'static,
) -> (String, mpsc::Receiver<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let socket = blocking::accept(stream).unwrap();
        let _ = tx.send(serve(socket));
    });
    (url, rx)
}

#[test]
fn a_raw_frame_with_a_reserved_opcode_makes_the_server_fail_with_1002() {
    let (url, server) = sockeye_server(|mut socket| {
        let err = socket.read().unwrap_err();
        let _ = socket.flush();
        err
    });
    // Without compression no extension claims RSV1, so the reserved bit is the first fault.
    let config = ClientConfig::new(&url).unwrap().compression(None);
    let (mut client, _) = blocking::connect_with(config).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let reserved = Frame::new(OpCode::Reserved(0x3), &b"?"[..])
        .with_fin(false)
        .with_rsv(0b100);
    client.send_raw_frame(&reserved).unwrap();
    let server_err = server.recv_timeout(LIMIT).unwrap();
    assert!(
        matches!(
            server_err,
            Error::Protocol(ProtocolError::ReservedBitsSet { bits: 0b100 })
        ),
        "{server_err:?}"
    );
    match client.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::ProtocolError),
        other => panic!("expected the server's close 1002, got {other:?}"),
    }

    // Opcode alone: RSV clear, FIN set, reserved data opcode 0x3.
    let (url, server) = sockeye_server(|mut socket| {
        let err = socket.read().unwrap_err();
        let _ = socket.flush();
        err
    });
    let (mut client, _) = blocking::connect_with(ClientConfig::new(&url).unwrap()).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    client
        .send_raw_frame(&Frame::new(OpCode::Reserved(0x3), &b"x"[..]))
        .unwrap();
    let server_err = server.recv_timeout(LIMIT).unwrap();
    assert!(
        matches!(
            server_err,
            Error::Protocol(ProtocolError::ReservedOpcode(0x3))
        ),
        "{server_err:?}"
    );
    match client.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code.as_u16(), 1002),
        other => panic!("expected the server's close 1002, got {other:?}"),
    }
}

#[test]
fn frames_arrive_one_by_one_when_messages_are_not_assembled() {
    let (url, _server) = sockeye_server(|mut socket| {
        for frame in [
            Frame::new(OpCode::Text, &b"he"[..]).with_fin(false),
            Frame::new(OpCode::Ping, &b"p"[..]),
            Frame::new(OpCode::Continuation, &b"llo"[..]),
        ] {
            socket.send_raw_frame(&frame).unwrap();
        }
        socket.close(CloseCode::Other(4001), "done").map(drop)
    });
    let config = ClientConfig::new(&url).unwrap().assemble_messages(false);
    let (mut client, _) = blocking::connect_with(config).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let mut seen = Vec::new();
    loop {
        match client.read() {
            Ok(Message::Frame(frame)) => {
                seen.push((frame.opcode(), frame.is_final(), frame.payload.to_vec()))
            }
            Ok(other) => panic!("expected only frames, got {other:?}"),
            Err(Error::ConnectionClosed) => break,
            Err(err) => panic!("{err}"),
        }
    }
    assert_eq!(
        seen,
        [
            (OpCode::Text, false, b"he".to_vec()),
            (OpCode::Ping, true, b"p".to_vec()),
            (OpCode::Continuation, true, b"llo".to_vec()),
            (OpCode::Close, true, b"\x0f\xa1done".to_vec()),
        ]
    );
    let close = client.connection().close_received().cloned().flatten();
    assert_eq!(close.map(|frame| frame.code.as_u16()), Some(4001));
}

#[test]
fn invalid_utf8_is_delivered_with_replacements_when_validation_is_off() {
    let invalid_text = || Frame::new(OpCode::Text, &b"ok \xff"[..]);
    let (url, _server) = sockeye_server(move |mut socket| {
        socket.send_raw_frame(&invalid_text()).unwrap();
        let _ = socket.read();
    });
    let config = ClientConfig::new(&url).unwrap().validate_utf8(false);
    let (mut client, _) = blocking::connect_with(config).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(client.read().unwrap(), Message::text("ok \u{fffd}"));

    // Validation on (the default): the same frame fails the connection with 1007.
    let (url, _server) = sockeye_server(move |mut socket| {
        socket.send_raw_frame(&invalid_text()).unwrap();
        let _ = socket.read();
    });
    let (mut client, _) = blocking::connect_with(ClientConfig::new(&url).unwrap()).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let err = client.read().unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ref e) if e.close_code() == CloseCode::InvalidPayload),
        "{err:?}"
    );
}

#[test]
fn custom_close_code_and_reason_reach_the_server_and_its_reply_comes_back() {
    let (url, server) = sockeye_server(|mut socket| loop {
        match socket.read() {
            Ok(Message::Close(frame)) => return frame,
            Ok(_) => {}
            Err(err) => panic!("{err}"),
        }
    });
    let (mut client, _) = blocking::connect_with(ClientConfig::new(&url).unwrap()).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let reply = client.close(CloseCode::Other(4000), "tests done").unwrap();
    let seen = server.recv_timeout(LIMIT).unwrap().unwrap();
    assert_eq!(
        (seen.code.as_u16(), seen.reason.as_str()),
        (4000, "tests done")
    );
    assert_eq!(reply.map(|frame| frame.code.as_u16()), Some(4000));
}
