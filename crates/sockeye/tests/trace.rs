//! The trace: golden tests of the human format for a scripted session between a sockeye client
//! and a sockeye server (blocking and tokio must print the same), the JSON-lines format parsed
//! line by line, and "no cost when off".
//!
//! Each side captures its own trace with a thread-local subscriber, so the two never interleave
//! and tests running in parallel never see each other's connections.
#![allow(clippy::unwrap_used)]

mod trace_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use sockeye::{blocking, Accept, ClientConfig, CloseCode, Message, ServerConfig};
use trace_support::{normalize, normalize_compressed, SharedBuf};

/// The client asks for `/chat?token=…&room=7` with an `Authorization` header and a cookie, offers
/// a subprotocol, then sends text, binary and a ping, and closes with 1000 "bye".
fn client_config(url: &str) -> ClientConfig {
    ClientConfig::new(&format!("{url}/chat?token=SECRET-TOKEN&room=7"))
        .unwrap()
        .header("Authorization", "Bearer SECRET-AUTH")
        .header("Cookie", "session=SECRET-COOKIE; theme=dark")
        .subprotocol("chat.v1")
        .user_agent("")
        .mask_keys(sockeye::MaskKeys::Fixed([0x37, 0xfa, 0x21, 0x3d]))
        // The goldens show frames as the application sent them; compressed frames carry
        // deflate output instead, which would make the golden depend on zlib's encoder.
        .compression(None)
}

const CLIENT_GOLDEN: &str = r#"[#] * client connection to 127.0.0.1:PORT
[#] > GET /chat?token=[redacted]&room=7 HTTP/1.1
[#] > Host: 127.0.0.1:PORT
[#] > Upgrade: websocket
[#] > Connection: Upgrade
[#] > Sec-WebSocket-Key: KEY
[#] > Sec-WebSocket-Version: 13
[#] > Sec-WebSocket-Protocol: chat.v1
[#] > Authorization: Bearer [redacted]
[#] > Cookie: session=[redacted]; theme=[redacted]
[#] >
[#] < HTTP/1.1 101 Switching Protocols
[#] < Upgrade: websocket
[#] < Connection: Upgrade
[#] < Sec-WebSocket-Accept: ACCEPT
[#] < Sec-WebSocket-Protocol: chat.v1
[#] <
[#] * open (subprotocol: chat.v1)
[#] > text 2 bytes "hi"  [mask 37fa213d]
[#] < text 2 bytes "hi"
[#] > binary 5 bytes 01 02 03 04 05  [mask 37fa213d]
[#] < binary 5 bytes 01 02 03 04 05
[#] > text 80 bytes "0123456789012345678901234567890123456789012345678901234567890123"…  [mask 37fa213d]
[#] < text 80 bytes "0123456789012345678901234567890123456789012345678901234567890123"…
[#] > ping 1 byte "x"  [mask 37fa213d]
[#] < pong 1 byte "x" after T ms
[#] > close 1000 (normal) "bye"  [mask 37fa213d]
[#] < close 1000 (normal)
[#] * end: 5 frames sent, 5 received
"#;

const SERVER_GOLDEN: &str = r#"[#] * server connection from 127.0.0.1:PORT
[#] < GET /chat?token=[redacted]&room=7 HTTP/1.1
[#] < Host: 127.0.0.1:PORT
[#] < Upgrade: websocket
[#] < Connection: Upgrade
[#] < Sec-WebSocket-Key: KEY
[#] < Sec-WebSocket-Version: 13
[#] < Sec-WebSocket-Protocol: chat.v1
[#] < Authorization: Bearer [redacted]
[#] < Cookie: session=[redacted]; theme=[redacted]
[#] <
[#] > HTTP/1.1 101 Switching Protocols
[#] > Upgrade: websocket
[#] > Connection: Upgrade
[#] > Sec-WebSocket-Accept: ACCEPT
[#] > Sec-WebSocket-Protocol: chat.v1
[#] >
[#] * open (subprotocol: chat.v1)
[#] < text 2 bytes "hi"  [mask 37fa213d]
[#] > text 2 bytes "hi"
[#] < binary 5 bytes 01 02 03 04 05  [mask 37fa213d]
[#] > binary 5 bytes 01 02 03 04 05
[#] < text 80 bytes "0123456789012345678901234567890123456789012345678901234567890123"…  [mask 37fa213d]
[#] > text 80 bytes "0123456789012345678901234567890123456789012345678901234567890123"…
[#] < ping 1 byte "x"  [mask 37fa213d]
[#] > pong 1 byte "x"
[#] < close 1000 (normal) "bye"  [mask 37fa213d]
[#] > close 1000 (normal)
[#] * end: 5 frames sent, 5 received
"#;

fn long_text() -> String {
    "0123456789".repeat(8)
}

/// The scripted client session over a blocking connection.
fn blocking_client(url: &str) {
    let (mut socket, _) = blocking::connect_with(client_config(url)).unwrap();
    socket.send_text("hi").unwrap();
    assert_eq!(socket.read().unwrap(), Message::text("hi"));
    socket.send_binary(&[1, 2, 3, 4, 5]).unwrap();
    assert_eq!(socket.read().unwrap(), Message::binary(vec![1, 2, 3, 4, 5]));
    socket.send_text(&long_text()).unwrap();
    assert_eq!(socket.read().unwrap(), Message::text(long_text()));
    socket.ping(b"x").unwrap();
    assert_eq!(socket.read().unwrap(), Message::Pong(b"x"[..].into()));
    let close = socket.close(CloseCode::Normal, "bye").unwrap();
    assert_eq!(close.map(|frame| frame.code), Some(CloseCode::Normal));
}

fn accept_first_subprotocol(request: &sockeye::Request) -> Accept {
    match request.subprotocols().first() {
        Some(offered) => Accept::default().subprotocol(*offered),
        None => Accept::default(),
    }
}

/// The server side: accept with the offered subprotocol, echo data until the close.
fn blocking_server(listener: TcpListener) {
    let (stream, peer) = listener.accept().unwrap();
    let _peer = sockeye::trace::peer_span(&peer.to_string()).entered();
    let (mut socket, _) = blocking::accept_with(stream, &ServerConfig::default(), |request| {
        Ok(accept_first_subprotocol(request))
    })
    .unwrap();
    loop {
        match socket.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => socket.send(message).unwrap(),
            Ok(_) => {}
            Err(sockeye::Error::ConnectionClosed) => break,
            Err(err) => panic!("server: {err}"),
        }
    }
}

/// Runs `work` with the trace of this thread going to a fresh buffer; returns what it printed.
fn traced(work: impl FnOnce()) -> String {
    let buf = SharedBuf::default();
    trace_support::capture(sockeye::trace::human_subscriber(buf.clone()), work);
    buf.text()
}

#[test]
fn blocking_session_traces_match_the_golden_files() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || traced(|| blocking_server(listener)));
    let client = traced(|| blocking_client(&url));
    let server = server.join().unwrap();
    assert_eq!(normalize(&client), CLIENT_GOLDEN, "client trace:\n{client}");
    assert_eq!(normalize(&server), SERVER_GOLDEN, "server trace:\n{server}");
}

#[test]
fn tokio_session_traces_like_blocking() {
    use futures_util::StreamExt;
    use tracing::Instrument;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let server = thread::spawn(move || {
        traced(|| {
            runtime().block_on(async {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let (stream, peer) = listener.accept().await.unwrap();
                let (mut socket, _) = sockeye::tokio::accept_async_with(
                    stream,
                    &ServerConfig::default(),
                    |request| Ok(accept_first_subprotocol(request)),
                )
                .instrument(sockeye::trace::peer_span(&peer.to_string()))
                .await
                .unwrap();
                while let Some(message) = socket.next().await {
                    let message = message.unwrap();
                    if matches!(message, Message::Text(_) | Message::Binary(_)) {
                        socket.send(message).await.unwrap();
                    }
                }
            })
        })
    });
    let client = traced(|| {
        runtime().block_on(async {
            let (mut socket, _) = sockeye::tokio::connect_async_with(client_config(&url))
                .await
                .unwrap();
            socket.send(Message::text("hi")).await.unwrap();
            assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("hi"));
            socket
                .send(Message::binary(vec![1, 2, 3, 4, 5]))
                .await
                .unwrap();
            socket.next().await.unwrap().unwrap();
            socket.send(Message::text(long_text())).await.unwrap();
            socket.next().await.unwrap().unwrap();
            socket.send(Message::Ping(b"x"[..].into())).await.unwrap();
            socket.next().await.unwrap().unwrap();
            socket.close(CloseCode::Normal, "bye").await.unwrap();
        })
    });
    let server = server.join().unwrap();
    assert_eq!(normalize(&client), CLIENT_GOLDEN, "client trace:\n{client}");
    assert_eq!(normalize(&server), SERVER_GOLDEN, "server trace:\n{server}");
}

#[test]
fn json_lines_parse_and_carry_every_field() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || blocking_server(listener));
    let buf = SharedBuf::default();
    trace_support::capture(sockeye::trace::json_subscriber(buf.clone()), || {
        blocking_client(&url)
    });
    server.join().unwrap();
    let text = buf.text();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "start", "request", "response", "open", "frame", "frame", "frame", "frame", "frame",
            "frame", "frame", "frame", "frame", "frame", "end"
        ]
    );
    let id = events[0]["conn"].as_u64().unwrap();
    for event in &events {
        assert_eq!(event["conn"].as_u64(), Some(id), "{event}");
        assert_eq!(event["role"], "client", "{event}");
        assert!(
            event["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{event}"
        );
        assert!(event["time"].as_str().unwrap().ends_with('Z'), "{event}");
        assert!(event["message"].is_string(), "{event}");
    }
    let request = &events[1];
    assert_eq!(request["dir"], "sent");
    let head = request["head"].as_str().unwrap();
    assert!(
        head.starts_with("GET /chat?token=[redacted]&room=7 HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Authorization: Bearer [redacted]\r\n"),
        "{head}"
    );
    assert!(head.ends_with("\r\n\r\n"), "{head:?}");
    assert_eq!(events[2]["status"], 101);
    assert_eq!(events[3]["subprotocol"], "chat.v1");

    let sent_text = &events[4];
    assert_eq!(sent_text["dir"], "sent");
    assert_eq!(sent_text["opcode"], "text");
    assert_eq!(sent_text["fin"], true);
    assert_eq!(
        (&sent_text["rsv1"], &sent_text["rsv2"], &sent_text["rsv3"]),
        (&false.into(), &false.into(), &false.into())
    );
    assert_eq!(sent_text["mask"], "37fa213d");
    assert_eq!(sent_text["len"], 2);
    assert_eq!(sent_text["preview"], "hi");
    assert_eq!(sent_text["preview_format"], "text");
    assert_eq!(sent_text["truncated"], false);
    assert_eq!(
        sent_text["message"],
        "> text 2 bytes \"hi\"  [mask 37fa213d]"
    );
    let received_text = &events[5];
    assert_eq!(received_text["dir"], "received");
    assert!(received_text.get("mask").is_none(), "{received_text}");

    let binary = &events[7];
    assert_eq!(binary["preview"], "01 02 03 04 05");
    assert_eq!(binary["preview_format"], "hex");
    let long = &events[8];
    assert_eq!(long["len"], 80);
    assert_eq!(long["truncated"], true);
    assert_eq!(long["preview"].as_str().unwrap().len(), 64);

    let pong = &events[11];
    assert_eq!(pong["opcode"], "pong");
    assert!(pong["rtt_ms"].as_f64().unwrap() >= 0.0, "{pong}");
    let close = &events[12];
    assert_eq!(close["close_code"], 1000);
    assert_eq!(close["close_name"], "normal");
    assert_eq!(close["close_reason"], "bye");
    assert_eq!(events[14]["frames_sent"], 5);
    assert_eq!(events[14]["frames_received"], 5);
}

#[test]
fn preview_length_is_configurable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || blocking_server(listener));
    let trace = traced(|| {
        let config = ClientConfig::new(&url).unwrap().trace_preview_bytes(4);
        let (mut socket, _) = blocking::connect_with(config).unwrap();
        socket.send_text("abcdefgh").unwrap();
        socket.read().unwrap();
        socket.close(CloseCode::Normal, "").unwrap();
    });
    server.join().unwrap();
    assert!(trace.contains("> text 8 bytes \"abcd\"…"), "{trace}");
    assert!(trace.contains("< text 8 bytes \"abcd\"…"), "{trace}");
}

#[test]
fn failures_are_traced_with_their_close_code() {
    // A server that answers the upgrade, then sends a frame with a reserved opcode.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut socket = blocking::accept(stream).unwrap();
        let frame = sockeye::Frame::new(sockeye::OpCode::Reserved(3), &b""[..]);
        socket.send_raw_frame(&frame).unwrap();
        let _ = socket.read();
    });
    let trace = traced(|| {
        let (mut socket, _) = blocking::connect(&url).unwrap();
        assert!(socket.read().is_err());
    });
    server.join().unwrap();
    assert!(
        trace.contains("> close 1002 (protocol error) \"protocol error\""),
        "{trace}"
    );
    assert!(
        trace.contains("! failed: received a frame with reserved opcode 0x3"),
        "{trace}"
    );
    assert!(
        trace.contains("(close code 1002 (protocol error))"),
        "{trace}"
    );
}

#[test]
fn a_refused_handshake_shows_the_response_and_the_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let refused = blocking::accept_with(stream, &ServerConfig::default(), |_| {
            Err(sockeye::Reject::new(403, "go away").header("Set-Cookie", "sid=SECRET; Path=/"))
        });
        assert!(refused.is_err());
    });
    let trace = traced(|| {
        let err = blocking::connect(&url).unwrap_err();
        assert_eq!(err.stage(), sockeye::Stage::Http);
    });
    server.join().unwrap();
    assert!(trace.contains("< HTTP/1.1 403 Forbidden"), "{trace}");
    assert!(
        trace.contains("< Set-Cookie: sid=[redacted]; Path=/"),
        "{trace}"
    );
    assert!(trace.contains("< [body 7 bytes] \"go away\""), "{trace}");
    assert!(
        trace.contains("! handshake failed (http stage): WebSocket handshake failed: the server answered 403 Forbidden"),
        "{trace}"
    );
    assert!(!trace.contains("SECRET"), "{trace}");
}

#[test]
fn nothing_is_observed_when_tracing_is_off() {
    // No subscriber: the connection gets no observer, so the trace costs nothing. The core's
    // observer slot is private; what can be seen is that no event reaches a subscriber that
    // is installed only after the connection was made.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || blocking_server(listener));
    let (mut socket, _) = blocking::connect(&url).unwrap();
    let late = traced(|| {
        socket.send_text("unseen").unwrap();
        socket.read().unwrap();
        socket.close(CloseCode::Normal, "").unwrap();
        drop(socket);
    });
    server.join().unwrap();
    assert_eq!(late, "");
}

// ----- permessage-deflate: compressed frames show what was said -----

/// A compressible text and a compressible binary message.
fn hello_text() -> String {
    "hello ".repeat(20)
}

fn counting_bytes() -> Vec<u8> {
    (0..8).cycle().take(200).collect()
}

/// Previews of 16 bytes keep the goldens short; compression is on by default on both sides.
const DEFLATE_PREVIEW_BYTES: usize = 16;

fn deflate_client_config(url: &str) -> ClientConfig {
    ClientConfig::new(url)
        .unwrap()
        .user_agent("")
        .mask_keys(sockeye::MaskKeys::Fixed([0x37, 0xfa, 0x21, 0x3d]))
        .trace_preview_bytes(DEFLATE_PREVIEW_BYTES)
}

fn deflate_server_config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.trace_preview_bytes = DEFLATE_PREVIEW_BYTES;
    config
}

/// The client sends a compressed text, a compressed binary and "hi" (too short to be
/// compressed), reads each echo, and closes.
fn deflate_client(url: &str) {
    let (mut socket, _) = blocking::connect_with(deflate_client_config(url)).unwrap();
    socket.send_text(&hello_text()).unwrap();
    assert_eq!(socket.read().unwrap(), Message::text(hello_text()));
    socket.send_binary(&counting_bytes()).unwrap();
    assert_eq!(socket.read().unwrap(), Message::binary(counting_bytes()));
    socket.send_text("hi").unwrap();
    assert_eq!(socket.read().unwrap(), Message::text("hi"));
    socket.close(CloseCode::Normal, "").unwrap();
}

/// Echoes data messages until the close, with compression as negotiated.
fn deflate_server(listener: TcpListener) {
    let (stream, peer) = listener.accept().unwrap();
    let _peer = sockeye::trace::peer_span(&peer.to_string()).entered();
    let (mut socket, _) =
        blocking::accept_with(stream, &deflate_server_config(), |_| Ok(Accept::default())).unwrap();
    loop {
        match socket.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => socket.send(message).unwrap(),
            Ok(_) => {}
            Err(sockeye::Error::ConnectionClosed) => break,
            Err(err) => panic!("server: {err}"),
        }
    }
}

const DEFLATE_CLIENT_GOLDEN: &str = r#"[#] * client connection to 127.0.0.1:PORT
[#] > GET / HTTP/1.1
[#] > Host: 127.0.0.1:PORT
[#] > Upgrade: websocket
[#] > Connection: Upgrade
[#] > Sec-WebSocket-Key: KEY
[#] > Sec-WebSocket-Version: 13
[#] > Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
[#] >
[#] < HTTP/1.1 101 Switching Protocols
[#] < Upgrade: websocket
[#] < Connection: Upgrade
[#] < Sec-WebSocket-Accept: ACCEPT
[#] < Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12
[#] <
[#] * open (extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12)
[#] > text N bytes compressed from 120 bytes "hello hello hell"…  [rsv1, mask 37fa213d]
[#] < text N bytes compressed  [rsv1]
[#] * inflated text 120 bytes from N bytes "hello hello hell"…
[#] > binary N bytes compressed from 200 bytes 00 01 02 03 04 05 06 07 00 01 02 03 04 05 06 07 …  [rsv1, mask 37fa213d]
[#] < binary N bytes compressed  [rsv1]
[#] * inflated binary 200 bytes from N bytes 00 01 02 03 04 05 06 07 00 01 02 03 04 05 06 07 …
[#] > text 2 bytes "hi"  [mask 37fa213d]
[#] < text 2 bytes "hi"
[#] > close 1000 (normal)  [mask 37fa213d]
[#] < close 1000 (normal)
[#] * end: 4 frames sent, 4 received
"#;

const DEFLATE_SERVER_GOLDEN: &str = r#"[#] * server connection from 127.0.0.1:PORT
[#] < GET / HTTP/1.1
[#] < Host: 127.0.0.1:PORT
[#] < Upgrade: websocket
[#] < Connection: Upgrade
[#] < Sec-WebSocket-Key: KEY
[#] < Sec-WebSocket-Version: 13
[#] < Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
[#] <
[#] > HTTP/1.1 101 Switching Protocols
[#] > Upgrade: websocket
[#] > Connection: Upgrade
[#] > Sec-WebSocket-Accept: ACCEPT
[#] > Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12
[#] >
[#] * open (extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12)
[#] < text N bytes compressed  [rsv1, mask 37fa213d]
[#] * inflated text 120 bytes from N bytes "hello hello hell"…
[#] > text N bytes compressed from 120 bytes "hello hello hell"…  [rsv1]
[#] < binary N bytes compressed  [rsv1, mask 37fa213d]
[#] * inflated binary 200 bytes from N bytes 00 01 02 03 04 05 06 07 00 01 02 03 04 05 06 07 …
[#] > binary N bytes compressed from 200 bytes 00 01 02 03 04 05 06 07 00 01 02 03 04 05 06 07 …  [rsv1]
[#] < text 2 bytes "hi"  [mask 37fa213d]
[#] > text 2 bytes "hi"
[#] < close 1000 (normal)  [mask 37fa213d]
[#] > close 1000 (normal)
[#] * end: 4 frames sent, 4 received
"#;

#[test]
fn compressed_frames_show_the_uncompressed_payload() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || traced(|| deflate_server(listener)));
    let client = traced(|| deflate_client(&url));
    let server = server.join().unwrap();
    assert_eq!(
        normalize_compressed(&client),
        DEFLATE_CLIENT_GOLDEN,
        "client trace:\n{client}"
    );
    assert_eq!(
        normalize_compressed(&server),
        DEFLATE_SERVER_GOLDEN,
        "server trace:\n{server}"
    );
    // Compressed means smaller here: the frames carry fewer bytes than they say.
    for line in client.lines().chain(server.lines()) {
        if let Some((wire, uncompressed)) = compressed_sizes(line) {
            assert!(wire < uncompressed, "{line}");
        }
    }
}

/// The wire and uncompressed sizes of a `… N bytes compressed from M bytes …` line.
fn compressed_sizes(line: &str) -> Option<(u64, u64)> {
    let (before, after) = line.split_once(" bytes compressed from ")?;
    let wire = before.rsplit(' ').next()?.parse().ok()?;
    let uncompressed = after.split(' ').next()?.parse().ok()?;
    Some((wire, uncompressed))
}

/// Runs `work` with the JSON trace of this thread going to a fresh buffer; returns its events.
fn traced_json(work: impl FnOnce()) -> Vec<serde_json::Value> {
    let buf = SharedBuf::default();
    trace_support::capture(sockeye::trace::json_subscriber(buf.clone()), work);
    buf.text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect()
}

/// The frame and inflated events of a trace, from `open` on.
fn data_events(events: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    events
        .iter()
        .filter(|event| matches!(event["event"].as_str(), Some("frame" | "inflated")))
        .collect()
}

/// A compressed frame sent: its sizes and the uncompressed preview.
fn assert_sent_compressed(event: &serde_json::Value, opcode: &str, len: u64, preview: &str) {
    assert_eq!(event["event"], "frame", "{event}");
    assert_eq!(event["dir"], "sent", "{event}");
    assert_eq!(event["opcode"], opcode, "{event}");
    assert_eq!(event["compressed"], true, "{event}");
    assert_eq!(event["uncompressed_len"], len, "{event}");
    assert!(event["len"].as_u64().unwrap() < len, "{event}");
    assert_eq!(event["preview"], preview, "{event}");
    let format = if opcode == "text" { "text" } else { "hex" };
    assert_eq!(event["preview_format"], format, "{event}");
    assert_eq!(event["truncated"], true, "{event}");
}

/// A compressed frame received: its wire size, no preview of its DEFLATE bytes.
fn assert_received_compressed(event: &serde_json::Value, opcode: &str, rsv1: bool) -> u64 {
    assert_eq!(event["event"], "frame", "{event}");
    assert_eq!(event["dir"], "received", "{event}");
    assert_eq!(event["opcode"], opcode, "{event}");
    assert_eq!(event["rsv1"], rsv1, "{event}");
    assert_eq!(event["compressed"], true, "{event}");
    for absent in ["uncompressed_len", "preview", "preview_format", "truncated"] {
        assert!(event.get(absent).is_none(), "{absent}: {event}");
    }
    event["len"].as_u64().unwrap()
}

/// The inflated message: its size, its wire size and its preview.
fn assert_inflated(event: &serde_json::Value, opcode: &str, len: u64, wire: u64, preview: &str) {
    assert_eq!(event["event"], "inflated", "{event}");
    assert_eq!(event["dir"], "received", "{event}");
    assert_eq!(event["opcode"], opcode, "{event}");
    assert_eq!(event["len"], len, "{event}");
    assert_eq!(event["compressed_len"], wire, "{event}");
    assert_eq!(event["preview"], preview, "{event}");
    let format = if opcode == "text" { "text" } else { "hex" };
    assert_eq!(event["preview_format"], format, "{event}");
    assert_eq!(event["truncated"], true, "{event}");
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("inflated {opcode} {len} bytes from {wire} bytes ")),
        "{event}"
    );
}

const HELLO_PREVIEW: &str = "hello hello hell";
const COUNTING_PREVIEW: &str = "00 01 02 03 04 05 06 07 00 01 02 03 04 05 06 07";

#[test]
fn compressed_frames_in_json_carry_both_sizes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || traced_json(|| deflate_server(listener)));
    let client = traced_json(|| deflate_client(&url));
    let server = server.join().unwrap();
    let (client, server) = (data_events(&client), data_events(&server));

    // The client: sent, received, inflated, for the text then the binary.
    assert_sent_compressed(client[0], "text", 120, HELLO_PREVIEW);
    assert_eq!(client[0]["rsv1"], true);
    assert_eq!(client[0]["mask"], "37fa213d");
    let wire = assert_received_compressed(client[1], "text", true);
    assert_inflated(client[2], "text", 120, wire, HELLO_PREVIEW);
    assert_sent_compressed(client[3], "binary", 200, COUNTING_PREVIEW);
    let wire = assert_received_compressed(client[4], "binary", true);
    assert_inflated(client[5], "binary", 200, wire, COUNTING_PREVIEW);
    // "hi" is not compressed: the fields stay as they were.
    for event in &client[6..8] {
        assert_eq!(event["preview"], "hi", "{event}");
        assert!(event.get("compressed").is_none(), "{event}");
        assert!(event.get("uncompressed_len").is_none(), "{event}");
    }

    // The server: what it received and inflated, then its compressed echo.
    let wire = assert_received_compressed(server[0], "text", true);
    assert_eq!(wire, client[0]["len"].as_u64().unwrap());
    assert_eq!(server[0]["mask"], "37fa213d");
    assert_inflated(server[1], "text", 120, wire, HELLO_PREVIEW);
    assert_sent_compressed(server[2], "text", 120, HELLO_PREVIEW);
    assert_eq!(server[2]["len"], client[1]["len"]);
    let wire = assert_received_compressed(server[3], "binary", true);
    assert_inflated(server[4], "binary", 200, wire, COUNTING_PREVIEW);
    assert_sent_compressed(server[5], "binary", 200, COUNTING_PREVIEW);
}

/// A server driven by the sans-I/O core directly (the library's front-ends send whole messages
/// only): it accepts permessage-deflate, sends `messages` as compressed fragments, then echoes
/// whatever comes until the close.
fn fragmenting_server(listener: TcpListener, messages: Vec<(bool, Vec<Vec<u8>>)>) {
    use sockeye::proto::handshake::server::{accept_response, negotiate_deflate, parse_request};
    use sockeye::proto::{Config, Connection, Role};
    use sockeye::DeflateConfig;

    let (mut stream, _) = listener.accept().unwrap();
    let mut input = bytes::BytesMut::new();
    let mut chunk = [0; 4096];
    let request = loop {
        let read = stream.read(&mut chunk).unwrap();
        assert!(read > 0, "the client left during the handshake");
        input.extend_from_slice(&chunk[..read]);
        if let Some(request) = parse_request(&mut input, 16 << 10).unwrap() {
            break request;
        }
    };
    let config = DeflateConfig::server_default();
    let mut accept = Accept::default();
    let agreed = negotiate_deflate(&request, &mut accept, Some(&config))
        .unwrap()
        .expect("the client offers permessage-deflate");
    stream
        .write_all(&accept_response(&request, &accept).unwrap())
        .unwrap();
    let mut conn = Connection::new(Role::Server, Config::default()).with_deflate(agreed, &config);
    conn.receive_data(&input);
    for (text, fragments) in messages {
        let last = fragments.len() - 1;
        for (index, fragment) in fragments.iter().enumerate() {
            match index {
                0 => conn.send_first_fragment(text, fragment).unwrap(),
                _ => conn.send_continuation(fragment, index == last).unwrap(),
            }
        }
    }
    let send = |conn: &mut Connection, stream: &mut TcpStream| {
        stream.write_all(&conn.take_output()).unwrap();
    };
    send(&mut conn, &mut stream);
    loop {
        match conn.next_message() {
            Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                conn.send(&message).unwrap();
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                send(&mut conn, &mut stream);
                if conn.should_close_transport() {
                    return;
                }
                let read = stream.read(&mut chunk).unwrap();
                if read == 0 {
                    return;
                }
                conn.receive_data(&chunk[..read]);
            }
            Err(err) => panic!("fragmenting server: {err}"),
        }
    }
}

/// A text in two compressed fragments and a binary in three.
fn fragmented_messages() -> Vec<(bool, Vec<Vec<u8>>)> {
    let text = hello_text().into_bytes();
    let binary = counting_bytes();
    vec![
        (true, vec![text[..60].to_vec(), text[60..].to_vec()]),
        (
            false,
            vec![
                binary[..80].to_vec(),
                binary[80..160].to_vec(),
                binary[160..].to_vec(),
            ],
        ),
    ]
}

/// The client reads the two fragmented messages, sends them back (whole, compressed), reads
/// the server's echo of each and closes.
fn fragments_client(url: &str) {
    let (mut socket, _) = blocking::connect_with(deflate_client_config(url)).unwrap();
    assert_eq!(socket.read().unwrap(), Message::text(hello_text()));
    assert_eq!(socket.read().unwrap(), Message::binary(counting_bytes()));
    socket.send_text(&hello_text()).unwrap();
    assert_eq!(socket.read().unwrap(), Message::text(hello_text()));
    socket.send_binary(&counting_bytes()).unwrap();
    assert_eq!(socket.read().unwrap(), Message::binary(counting_bytes()));
    socket.close(CloseCode::Normal, "").unwrap();
}

const FRAGMENTS_GOLDEN: &str = r#"[#] * open (extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12)
[#] < text N bytes compressed  [not final, rsv1]
[#] < continuation N bytes compressed
[#] * inflated text 120 bytes from N bytes "hello hello hell"…
[#] < binary N bytes compressed  [not final, rsv1]
[#] < continuation N bytes compressed  [not final]
[#] < continuation N bytes compressed
[#] * inflated binary 200 bytes from N bytes 00 01 02 03 04 05 06 07 00 01 02 03 04 05 06 07 …
[#] > text N bytes compressed from 120 bytes "hello hello hell"…  [rsv1, mask 37fa213d]
[#] < text N bytes compressed  [rsv1]
[#] * inflated text 120 bytes from N bytes "hello hello hell"…
[#] > binary N bytes compressed from 200 bytes 00 01 02 03 04 05 06 07 00 01 02 03 04 05 06 07 …  [rsv1, mask 37fa213d]
[#] < binary N bytes compressed  [rsv1]
[#] * inflated binary 200 bytes from N bytes 00 01 02 03 04 05 06 07 00 01 02 03 04 05 06 07 …
[#] > close 1000 (normal)  [mask 37fa213d]
[#] < close 1000 (normal)
[#] * end: 3 frames sent, 8 received
"#;

#[test]
fn fragments_of_a_compressed_message_are_compressed_too() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || fragmenting_server(listener, fragmented_messages()));
    let trace = traced(|| fragments_client(&url));
    server.join().unwrap();
    let normalized = normalize_compressed(&trace);
    let from_open = &normalized[normalized.find("[#] * open").unwrap()..];
    assert_eq!(from_open, FRAGMENTS_GOLDEN, "client trace:\n{trace}");
}

#[test]
fn fragments_of_a_compressed_message_in_json() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = thread::spawn(move || fragmenting_server(listener, fragmented_messages()));
    let events = traced_json(|| fragments_client(&url));
    server.join().unwrap();
    let events = data_events(&events);

    // The inflated event counts the wire bytes of every fragment of its message.
    let first = assert_received_compressed(events[0], "text", true);
    assert_eq!(events[0]["fin"], false);
    let last = assert_received_compressed(events[1], "continuation", false);
    assert_eq!(events[1]["fin"], true);
    assert_inflated(events[2], "text", 120, first + last, HELLO_PREVIEW);
    let wire: u64 = [
        (3, "binary", true),
        (4, "continuation", false),
        (5, "continuation", false),
    ]
    .into_iter()
    .map(|(at, opcode, rsv1)| assert_received_compressed(events[at], opcode, rsv1))
    .sum();
    assert_inflated(events[6], "binary", 200, wire, COUNTING_PREVIEW);
    assert_sent_compressed(events[7], "text", 120, HELLO_PREVIEW);
    assert_sent_compressed(events[10], "binary", 200, COUNTING_PREVIEW);
}
