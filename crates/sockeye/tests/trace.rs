//! The trace: golden tests of the human format for a scripted session between a sockeye client
//! and a sockeye server (blocking and tokio must print the same), the JSON-lines format parsed
//! line by line, and "no cost when off".
//!
//! Each side captures its own trace with a thread-local subscriber, so the two never interleave
//! and tests running in parallel never see each other's connections.
#![allow(clippy::unwrap_used)]

mod trace_support;

use std::net::TcpListener;
use std::thread;

use sockeye::{blocking, Accept, ClientConfig, CloseCode, Message, ServerConfig};
use trace_support::{normalize, SharedBuf};

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
    tracing::subscriber::with_default(sockeye::trace::human_subscriber(buf.clone()), work);
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
    tracing::subscriber::with_default(sockeye::trace::json_subscriber(buf.clone()), || {
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
