//! `sockeye serve` on the tokio server, end to end: `--mode json` and `--mode broadcast`, the
//! `--origin` allow-list, `--subprotocol` selection, `--max-message-size` (1009),
//! `--max-connections` (503), TLS with `--cert/--key`, `--unix`, and the graceful stop on
//! SIGTERM (every client sees 1001). Then `sockeye connect`'s `--ping-interval`/`--ping-timeout`
//! and `--reconnect`.
//!
//! Servers listen on 127.0.0.1 port 0 or on a Unix socket in a fresh temporary directory; every
//! wait is bounded and every process is killed when its test ends (see `common`).
#![allow(clippy::unwrap_used)]

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
#[path = "../../sockeye/tests/tls_support/pki.rs"]
mod pki;
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Peer, PEER_TIMEOUT};
use pki::{Ca, TestDir};
use sockeye::blocking::{self, WebSocket};
use sockeye::transport::Stream;
use sockeye::{Accept, ClientConfig, CloseCode, Error, Message, ServerConfig, TlsOptions};
use support::{assert_exit, connect, serve, sockeye};

/// Read timeout of the test's own clients.
const LIMIT: Duration = Duration::from_secs(10);

fn write_stdin(peer: &mut Peer, text: &str) {
    peer.stdin().write_all(text.as_bytes()).unwrap();
    peer.stdin().flush().unwrap();
}

/// The library's blocking client, with a read timeout so that no read waits forever.
fn try_client(config: ClientConfig) -> Result<WebSocket<Stream>, Error> {
    blocking::connect_with(config.read_timeout(Some(LIMIT))).map(|(socket, _)| socket)
}

fn client(url: &str) -> WebSocket<Stream> {
    try_client(ClientConfig::new(url).unwrap()).unwrap()
}

fn read_text(socket: &mut WebSocket<Stream>) -> String {
    match socket.read().unwrap() {
        Message::Text(text) => text.as_str().to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Reads until the server's close; returns its code.
fn read_until_close(socket: &mut WebSocket<Stream>) -> Option<CloseCode> {
    loop {
        match socket.read() {
            Ok(Message::Close(frame)) => return frame.map(|frame| frame.code),
            Ok(_) => {}
            Err(Error::ConnectionClosed) => {
                return socket
                    .connection()
                    .close_received()
                    .cloned()
                    .flatten()
                    .map(|frame| frame.code)
            }
            Err(err) => panic!("the connection failed instead of closing: {err}"),
        }
    }
}

#[test]
fn json_mode_answers_json_with_an_echo_object_and_other_text_with_a_prefix() {
    let (_server, url) = serve(&["--mode", "json"]);
    let mut socket = client(&url);
    // The message of the seed document's client.
    let sent = r#"{"action": "hello", "value": "world"}"#;
    socket.send(Message::text(sent)).unwrap();
    let reply = read_text(&mut socket);
    // The data comes back exactly as sent, inside the echo object.
    assert!(
        reply.starts_with(&format!(r#"{{"type":"echo","data":{sent},"timestamp":"#)),
        "{reply}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(parsed["type"], "echo");
    assert_eq!(
        parsed["data"],
        serde_json::json!({"action": "hello", "value": "world"})
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let timestamp = parsed["timestamp"].as_f64().unwrap();
    assert!((now - timestamp).abs() < 60.0, "{timestamp} vs {now}");

    socket.send(Message::text("42")).unwrap();
    let reply: serde_json::Value = serde_json::from_str(&read_text(&mut socket)).unwrap();
    assert_eq!(reply["data"], 42);

    socket.send(Message::text("hello {not json")).unwrap();
    assert_eq!(read_text(&mut socket), "Echo: hello {not json");

    socket.send(Message::binary(vec![0, 1, 254, 255])).unwrap();
    assert_eq!(
        socket.read().unwrap(),
        Message::binary(vec![0, 1, 254, 255])
    );
    assert_eq!(
        socket.close(CloseCode::Normal, "").unwrap().map(|f| f.code),
        Some(CloseCode::Normal)
    );
}

#[test]
fn broadcast_mode_relays_every_message_to_every_client() {
    let (_server, url) = serve(&["--mode", "broadcast"]);
    // Each client joins and waits for its own "joined" to come back, so it is known to the
    // server before anyone broadcasts.
    let mut clients: Vec<WebSocket<Stream>> = Vec::new();
    for n in 1..=3 {
        let mut socket = client(&url);
        let joined = format!("joined {n}");
        socket.send(Message::text(joined.as_str())).unwrap();
        while read_text(&mut socket) != joined {}
        clients.push(socket);
    }
    clients[0].send(Message::text("from 1")).unwrap();
    clients[1].send(Message::binary(vec![2, 2])).unwrap();
    clients[2].send(Message::text("from 3")).unwrap();
    for (n, socket) in clients.iter_mut().enumerate() {
        let mut seen = Vec::new();
        while seen.len() < 3 {
            match socket.read().unwrap() {
                Message::Text(text) if text.as_str().starts_with("joined") => {}
                message => seen.push(message),
            }
        }
        seen.sort_by_key(|message| format!("{message:?}"));
        let mut expected = vec![
            Message::text("from 1"),
            Message::binary(vec![2, 2]),
            Message::text("from 3"),
        ];
        expected.sort_by_key(|message| format!("{message:?}"));
        assert_eq!(seen, expected, "client {}", n + 1);
    }
    for socket in &mut clients {
        socket.close(CloseCode::Normal, "").unwrap();
    }
}

#[test]
fn origin_allow_list_refuses_others_with_403() {
    let (_server, url) = serve(&[
        "--origin",
        "https://good.test",
        "--origin",
        "http://also.test:8080/",
    ]);
    for (origin, allowed) in [
        (Some("https://good.test"), true),
        (Some("HTTP://ALSO.test:8080"), true),
        (Some("https://evil.test"), false),
        (Some("https://good.test.evil.test"), false),
        (None, false),
    ] {
        let mut config = ClientConfig::new(&url).unwrap();
        if let Some(origin) = origin {
            config = config.origin(origin);
        }
        match try_client(config) {
            Ok(mut socket) if allowed => {
                socket.send(Message::text("in")).unwrap();
                assert_eq!(read_text(&mut socket), "in");
                socket.close(CloseCode::Normal, "").unwrap();
            }
            Err(err) if !allowed => assert!(err.to_string().contains("403"), "{origin:?}: {err}"),
            Ok(_) => panic!("{origin:?} was let in"),
            Err(err) => panic!("{origin:?} was refused: {err}"),
        }
    }
    // Without --origin, any origin (or none) is welcome.
    let (_server, url) = serve(&[]);
    try_client(
        ClientConfig::new(&url)
            .unwrap()
            .origin("https://anywhere.test"),
    )
    .unwrap();
    try_client(ClientConfig::new(&url).unwrap()).unwrap();
}

/// Sends a handshake offering `protocols` over raw TCP and returns the response head.
fn raw_handshake(url: &str, protocols: &str) -> String {
    let addr = url.strip_prefix("ws://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: {protocols}\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn subprotocol_selects_the_first_the_client_offers_that_the_server_speaks() {
    let (_server, url) = serve(&["--subprotocol", "chat.v2", "--subprotocol", "chat.v1"]);
    for (offered, selected) in [
        (&["chat.v1", "chat.v2"][..], "chat.v1"),
        (&["mqtt", "chat.v2", "chat.v1"][..], "chat.v2"),
    ] {
        let mut config = ClientConfig::new(&url).unwrap();
        for protocol in offered {
            config = config.subprotocol(*protocol);
        }
        let (mut socket, response) =
            blocking::connect_with(config.read_timeout(Some(LIMIT))).unwrap();
        assert_eq!(
            response.subprotocol.as_deref(),
            Some(selected),
            "{offered:?}"
        );
        socket.close(CloseCode::Normal, "").unwrap();
    }
    // Nothing in common: the connection opens without a subprotocol (the client decides).
    let head = raw_handshake(&url, "mqtt, wamp");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("sec-websocket-protocol"),
        "{head}"
    );
}

#[test]
fn max_message_size_closes_with_1009() {
    let (_server, url) = serve(&["--max-message-size", "1K"]);
    let mut socket = client(&url);
    socket.send(Message::binary(vec![7; 1024])).unwrap();
    assert_eq!(socket.read().unwrap(), Message::binary(vec![7; 1024]));
    socket.send(Message::binary(vec![7; 1025])).unwrap();
    assert_eq!(
        read_until_close(&mut socket),
        Some(CloseCode::MessageTooBig)
    );
}

#[test]
fn max_connections_refuses_with_503_until_one_leaves() {
    let (_server, url) = serve(&["--max-connections", "2"]);
    let mut first = client(&url);
    let mut second = client(&url);
    for socket in [&mut first, &mut second] {
        socket.send(Message::text("here")).unwrap();
        assert_eq!(read_text(socket), "here");
    }
    let err = try_client(ClientConfig::new(&url).unwrap()).unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    first.close(CloseCode::Normal, "").unwrap();
    drop(first);
    // The place frees up when the server's side of the connection has ended: bounded retries.
    let deadline = Instant::now() + PEER_TIMEOUT;
    let mut third = loop {
        match try_client(ClientConfig::new(&url).unwrap()) {
            Ok(socket) => break socket,
            Err(err) if Instant::now() < deadline && err.to_string().contains("503") => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(err) => panic!("the third client was still refused: {err}"),
        }
    };
    third.send(Message::text("in")).unwrap();
    assert_eq!(read_text(&mut third), "in");
}

#[test]
fn tls_with_cert_and_key_serves_wss() {
    let dir = TestDir::new("serve-tls");
    let ca = Ca::new("sockeye serve test CA");
    let leaf = ca.server_cert(&["127.0.0.1", "localhost"]);
    let cert = dir.write("server.pem", &leaf.cert_pem);
    let key = dir.write("server.key", &leaf.key_pem);
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let (cert, key, ca_file) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        ca_file.to_str().unwrap(),
    );
    let (_server, url) = serve(&["--cert", cert, "--key", key]);
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");

    let mut client = connect(&url, &["--cacert", ca_file]);
    write_stdin(&mut client, "over tls\n");
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect --cacert");
    assert_eq!(finished.stdout, ["over tls"], "{}", finished.stderr);

    // The library's tokio client, against the same server.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = ClientConfig::new(&url)
            .unwrap()
            .tls(TlsOptions::new().ca_file(ca_file));
        let (mut socket, _) = sockeye::tokio::connect_async_with(config).await.unwrap();
        socket.send_binary(&[1, 2, 3]).await.unwrap();
        assert_eq!(socket.read().await.unwrap(), Message::binary(vec![1, 2, 3]));
        socket.close(CloseCode::Normal, "").await.unwrap();
    });

    // Without the CA, the client refuses the certificate.
    let finished = connect(&url, &[]).finish();
    assert_exit(&finished, 3);
    assert!(finished.stderr.contains("tls stage"), "{}", finished.stderr);
}

#[test]
fn tls_with_an_unusable_key_fails_before_listening() {
    let dir = TestDir::new("serve-tls-bad");
    let ca = Ca::new("sockeye serve test CA");
    let leaf = ca.server_cert(&["127.0.0.1"]);
    let cert = dir.write("server.pem", &leaf.cert_pem);
    let not_a_key = dir.write("key.pem", "no key here\n");
    let finished = Peer::spawn(
        "sockeye serve",
        sockeye(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            not_a_key.to_str().unwrap(),
        ]),
    )
    .finish();
    assert_exit(&finished, 1);
    assert!(finished.stdout.is_empty(), "{:?}", finished.stdout);
    assert!(
        finished.stderr.contains("cannot use the server key"),
        "{}",
        finished.stderr
    );
}

#[test]
fn unix_listen_replaces_a_stale_socket_and_removes_its_own() {
    let dir = TestDir::new("serve-unix");
    let path = dir.path().join("serve.sock");
    // A socket file left behind by a server that is gone.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (server, url) = serve(&["--unix", path.to_str().unwrap()]);
    assert_eq!(url, format!("ws+unix://{}", path.display()));

    let mut client = connect(&url, &[]);
    write_stdin(&mut client, "through the socket\n");
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect ws+unix://");
    assert_eq!(finished.stdout, ["through the socket"]);

    server.signal("TERM");
    server.finish().assert_success("sockeye serve --unix");
    assert!(!path.exists(), "{} is left behind", path.display());
}

#[test]
fn unix_listen_refuses_a_path_another_server_uses() {
    let dir = TestDir::new("serve-unix-busy");
    let path = dir.path().join("busy.sock");
    let _running = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let finished = Peer::spawn(
        "sockeye serve",
        sockeye(&["serve", "--unix", path.to_str().unwrap()]),
    )
    .finish();
    assert_exit(&finished, 1);
    assert!(
        finished.stderr.contains("cannot listen"),
        "{}",
        finished.stderr
    );
    assert!(path.exists());
}

#[test]
fn listen_takes_a_bare_port_on_127_0_0_1() {
    // `sockeye serve -l PORT`, as `websocat -s PORT`: a port that was free a moment ago.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port()
        .to_string();
    let (_server, url) = serve(&["-l", &port]);
    assert_eq!(url, format!("ws://127.0.0.1:{port}"));
    let mut socket = client(&url);
    socket.send(Message::text("on the bare port")).unwrap();
    assert_eq!(read_text(&mut socket), "on the bare port");
}

#[test]
fn sigterm_closes_every_connection_with_1001_and_exits_0() {
    let (server, url) = serve(&[]);
    let mut clients: Vec<WebSocket<Stream>> = (0..3).map(|_| client(&url)).collect();
    for socket in &mut clients {
        socket.send(Message::text("ready")).unwrap();
        assert_eq!(read_text(socket), "ready");
    }
    server.signal("TERM");
    for socket in &mut clients {
        assert_eq!(read_until_close(socket), Some(CloseCode::GoingAway));
    }
    let finished = server.finish();
    finished.assert_success("sockeye serve");
    assert!(
        finished
            .stderr
            .contains("SIGTERM: closing 3 connection(s) with 1001"),
        "{}",
        finished.stderr
    );
}

/// A server for one connection that never answers pings; returns the close code the client
/// sent, if any.
fn server_without_pongs() -> (String, mpsc::Receiver<Option<CloseCode>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(PEER_TIMEOUT)).unwrap();
        let mut config = ServerConfig::default();
        config.protocol.auto_pong = false;
        let (mut socket, _) =
            blocking::accept_with(stream, &config, |_| Ok(Accept::default())).unwrap();
        let close = loop {
            match socket.read() {
                Ok(Message::Close(frame)) => break frame.map(|frame| frame.code),
                Ok(_) => {}
                Err(_) => break None,
            }
        };
        let _ = tx.send(close);
    });
    (url, rx)
}

#[test]
fn ping_timeout_fails_the_connection_when_pongs_do_not_come() {
    let (url, server_saw) = server_without_pongs();
    let started = Instant::now();
    // A long linger keeps the connection open after stdin ends: the ping is what ends it.
    let finished = connect(
        &url,
        &[
            "--ping-interval",
            "0.2",
            "--ping-timeout",
            "0.4",
            "--linger",
            "20",
        ],
    )
    .finish();
    assert_exit(&finished, 4);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        finished
            .stderr
            .contains("no pong arrived within 400ms of a keepalive ping"),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("--ping-timeout"),
        "{}",
        finished.stderr
    );
    // The client said why: 1011 (internal error), as the keepalive rules say.
    assert_eq!(
        server_saw.recv_timeout(PEER_TIMEOUT).unwrap(),
        Some(CloseCode::InternalError)
    );
}

#[test]
fn ping_interval_pings_a_server_that_answers_and_shows_the_round_trip() {
    let (_server, url) = serve(&[]);
    let dir = TestDir::new("ping-trace");
    let trace = dir.path().join("trace.log");
    let mut client = connect(
        &url,
        &[
            "--ping-interval",
            "0.1",
            "--trace-file",
            trace.to_str().unwrap(),
        ],
    );
    // Bounded polling of the trace file: stdin stays open until a pong came back.
    let deadline = Instant::now() + PEER_TIMEOUT;
    let pong = loop {
        let text = std::fs::read_to_string(&trace).unwrap_or_default();
        if let Some(line) = text.lines().find(|line| line.contains("< pong")) {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "no pong in the trace:\n{text}");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(pong.contains(" ms"), "{pong}");
    write_stdin(&mut client, "still here\n");
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect --ping-interval");
    assert_eq!(finished.stdout, ["still here"]);
}

#[test]
fn reconnect_follows_a_server_restart() {
    let (first, url) = serve(&[]);
    let addr = url.strip_prefix("ws://").unwrap().to_string();
    let mut client = connect(&url, &["--reconnect"]);
    write_stdin(&mut client, "one\n");
    assert_eq!(client.line(), "one");

    // The server goes away (1001 to the client), and comes back on the same port.
    first.signal("TERM");
    first.finish().assert_success("the first sockeye serve");
    let (_second, second_url) = serve(&["--listen", &addr]);
    assert_eq!(second_url, url);

    write_stdin(&mut client, "two\n");
    assert_eq!(client.line(), "two");
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect --reconnect");
    assert!(
        finished
            .stderr
            .contains("the server closed with 1001 (going away)"),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("sockeye: reconnected"),
        "{}",
        finished.stderr
    );
}

#[test]
fn without_reconnect_a_server_restart_ends_connect() {
    let (server, url) = serve(&[]);
    let mut client = connect(&url, &[]);
    write_stdin(&mut client, "one\n");
    assert_eq!(client.line(), "one");
    server.signal("TERM");
    // The server exits once its close handshakes are done: the 1001 reached the client while
    // its stdin was still open, which ends the conversation with exit 4.
    server.finish().assert_success("sockeye serve");
    let finished = client.finish();
    assert_exit(&finished, 4);
    assert!(
        finished
            .stderr
            .contains("the server closed with 1001 (going away)"),
        "{}",
        finished.stderr
    );
    assert!(
        !finished.stderr.contains("reconnect"),
        "{}",
        finished.stderr
    );
}

#[test]
fn broadcast_closes_a_client_that_stops_reading_and_keeps_serving_the_others() {
    const SIZE: usize = 16 * 1024;
    // Far more than the 1024 messages of a client's queue plus the network buffers hold.
    const SENT: u64 = 4000;
    let (server, url) = serve(&["--mode", "broadcast", "-v"]);
    // Uncompressed, so that each message fills the buffers by its full size.
    let plain = || try_client(ClientConfig::new(&url).unwrap().compression(None)).unwrap();
    let mut reader = plain();
    reader.send(Message::text("reader here")).unwrap();
    assert_eq!(read_text(&mut reader), "reader here");
    // The stalled client is known to the server once its own message reaches the reader; from
    // then on it never reads, until the end.
    let mut stalled = plain();
    let Stream::Tcp(tcp) = stalled.get_ref() else {
        panic!("a TCP client")
    };
    let stalled_address = tcp.local_addr().unwrap();
    stalled.send(Message::text("stalled here")).unwrap();
    assert_eq!(read_text(&mut reader), "stalled here");

    // The reader gets every message back, one after the other, while the stalled one falls
    // behind and is closed.
    let mut payload = vec![0u8; SIZE];
    for seq in 0..SENT {
        payload[..8].copy_from_slice(&seq.to_be_bytes());
        reader.send(Message::binary(payload.clone())).unwrap();
        match reader.read().unwrap() {
            Message::Binary(data) => assert_eq!(data[..8], seq.to_be_bytes(), "message {seq}"),
            other => panic!("expected message {seq} back, got {other:?}"),
        }
    }

    // The stalled client finds a prefix of the broadcast, in order, then the close (or, had it
    // waited longer than the close timeout to read, the end of the connection).
    let mut received = 0u64;
    let close = loop {
        match stalled.read() {
            Ok(Message::Text(_)) => {}
            Ok(Message::Binary(data)) => {
                assert_eq!(data[..8], received.to_be_bytes());
                received += 1;
            }
            Ok(Message::Close(frame)) => break frame,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(err) => {
                eprintln!("the stalled client was dropped before it read the close: {err}");
                break None;
            }
        }
    };
    assert!(
        (1024..SENT).contains(&received),
        "the stalled client got {received} of {SENT} messages"
    );
    if let Some(frame) = close {
        assert_eq!(frame.code, CloseCode::PolicyViolation);
        assert_eq!(
            frame.reason,
            "too slow: could not keep up with the broadcast"
        );
    }
    // The reader is still served.
    reader.send(Message::text("still here")).unwrap();
    assert_eq!(read_text(&mut reader), "still here");
    reader.close(CloseCode::Normal, "").unwrap();

    server.signal("TERM");
    let finished = server.finish();
    finished.assert_success("sockeye serve --mode broadcast");
    let slow: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|line| line.contains("messages wait for it"))
        .collect();
    assert_eq!(
        slow,
        [format!(
            "[{stalled_address}] too slow: 1024 messages wait for it; closing with 1008"
        )],
        "{}",
        finished.stderr
    );
}

/// With its stderr pipe closed, the server's notes fail to print; SIGTERM must still shut it
/// down (a panicking `eprintln!` killed the signal handler before it could).
#[test]
fn sigterm_stops_the_server_even_when_stderr_is_gone() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let mut child = support::sockeye(&["serve", "--listen", "127.0.0.1:0", "-v"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    // A connection, so that `-v` has something to log to the closed stderr.
    let mut socket = client(&url);
    socket.send(Message::text("hello")).unwrap();
    assert_eq!(read_text(&mut socket), "hello");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(15) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(0),
        "SIGTERM stops the server and it exits 0"
    );
}
