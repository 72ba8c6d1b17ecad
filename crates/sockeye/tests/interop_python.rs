//! Interop with real Python peers over 127.0.0.1, in both directions:
//!
//! - the sockeye blocking client against a Python `websockets` server (`peers/websockets_server.py`);
//! - Python `websockets` clients (`peers/websockets_client.py`) against the sockeye blocking server;
//! - Python `websocket-client` clients (`peers/wsclient_client.py`) against the sockeye server.
//!
//! Every listener binds port 0; every wait is bounded (see `common`); peers are killed when a test
//! ends. The Python comes from `$SOCKEYE_PYTHON` or `<workspace>/.venv/bin/python`: without it
//! the tests fail and say to run `scripts/test.sh`.

mod common;

use std::net::{TcpListener, TcpStream};

use common::{
    fields, pattern_bytes, pattern_messages, python_peer, within_timeout, Finished, Peer,
    PythonServer, IO_TIMEOUT, SIZES,
};
use sockeye::blocking::{self, WebSocket};
use sockeye::transport::Stream;
use sockeye::{
    Accept, ClientConfig, CloseCode, CloseFrame, Error, Message, Reject, Request, Response,
    ServerConfig, Stage,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Client options with bounded connect and handshake times.
fn client_config(url: &str) -> ClientConfig {
    ClientConfig::new(url)
        .expect("a valid ws:// URL")
        .connect_timeout(Some(IO_TIMEOUT))
        .handshake_timeout(Some(IO_TIMEOUT))
}

/// Connects and bounds every later read and write on the socket.
fn connect(config: ClientConfig) -> (WebSocket<Stream>, Response) {
    let url = config.target.url.to_string();
    let config = config.io_timeouts(Some(IO_TIMEOUT), Some(IO_TIMEOUT));
    let (socket, response) = blocking::connect_with(config)
        .unwrap_or_else(|err| panic!("cannot connect to {url}: {err}"));
    (socket, response)
}

fn bound(stream: &TcpStream) {
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .expect("socket timeouts can be set");
}

fn read<S: std::io::Read + std::io::Write>(socket: &mut WebSocket<S>) -> Message {
    socket
        .read()
        .unwrap_or_else(|err| panic!("reading a message failed: {err}"))
}

fn close_frame(code: u16, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame::new(CloseCode::from(code), reason))
}

/// Answering a close, sockeye echoes the peer's code with an empty reason (RFC 6455 section 5.5.1
/// asks for the code only; `websockets` echoes the reason too, `websocket-client` always answers
/// 1000 with no reason).
const SOCKEYE_ECHO_REASON: &str = "";

/// Runs a client's close handshake, then reads until the server ends TCP (RFC 6455 section
/// 7.1.1) and drops the connection: `websockets` reports the close only once TCP is closed.
fn close_client(
    mut socket: WebSocket<Stream>,
    code: CloseCode,
    reason: &str,
) -> Option<CloseFrame> {
    let reply = socket
        .close(code, reason)
        .unwrap_or_else(|err| panic!("close failed: {err}"));
    match socket.read() {
        Err(Error::ConnectionClosed) => reply,
        other => panic!("after the close handshake read() returned {other:?}"),
    }
}

/// A short description of a message for assertion failures (4 MiB payloads stay out of logs).
fn describe(message: &Message) -> String {
    match message {
        Message::Text(text) => format!("text, {} bytes", text.len()),
        Message::Binary(data) => format!("binary, {} bytes", data.len()),
        other => format!("{other:?}"),
    }
}

fn assert_same(received: &Message, expected: &Message, what: &str) {
    assert!(
        received == expected,
        "{what}: got {}, expected {}",
        describe(received),
        describe(expected)
    );
}

/// Starts a Python client `script SCENARIO` against a fresh sockeye listener, runs `server` on
/// the accepted connection, then waits for the client to exit.
fn with_python_client<T>(
    script: &str,
    scenario: &str,
    flags: &[&str],
    server: impl FnOnce(TcpStream) -> T,
) -> (T, Finished) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!(
        "ws://{}/{scenario}",
        listener.local_addr().expect("local address")
    );
    let mut args = vec![url.as_str(), scenario];
    args.extend_from_slice(flags);
    let peer = Peer::spawn(script, python_peer(script, &args));
    let accepted = within_timeout("accepting the Python client", move || {
        listener.accept().map(|(stream, _)| stream)
    });
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => panic!("accept failed: {err}\n{}", peer.kill_and_report()),
        Err(why) => panic!("{why}\n{}", peer.kill_and_report()),
    };
    bound(&stream);
    let outcome = server(stream);
    let finished = peer.finish();
    finished.assert_success(script);
    (outcome, finished)
}

/// What the sockeye echo server saw.
struct ServerRun {
    request: Request,
    /// Every message read, in order: data messages (echoed), pings, pongs and the close.
    received: Vec<Message>,
}

impl ServerRun {
    fn data(&self) -> Vec<&Message> {
        self.received
            .iter()
            .filter(|message| matches!(message, Message::Text(_) | Message::Binary(_)))
            .collect()
    }

    fn pings(&self) -> Vec<&Message> {
        self.received
            .iter()
            .filter(|message| matches!(message, Message::Ping(_)))
            .collect()
    }

    fn close(&self) -> Option<&Option<CloseFrame>> {
        self.received.iter().find_map(|message| match message {
            Message::Close(frame) => Some(frame),
            _ => None,
        })
    }
}

/// Accepts the handshake as `decide` says, then echoes text and binary messages until the close
/// handshake is complete.
fn sockeye_echo_server(
    stream: TcpStream,
    decide: impl FnOnce(&Request) -> Result<Accept, Reject>,
) -> ServerRun {
    let (mut socket, request) = blocking::accept_with(stream, &ServerConfig::default(), decide)
        .unwrap_or_else(|err| panic!("the sockeye server's handshake failed: {err}"));
    let mut received = Vec::new();
    loop {
        match socket.read() {
            Ok(message) => {
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    socket
                        .send(&message)
                        .unwrap_or_else(|err| panic!("echo failed: {err}"));
                }
                received.push(message);
            }
            Err(Error::ConnectionClosed) => break,
            Err(err) => panic!("the sockeye server failed: {err}"),
        }
    }
    ServerRun { request, received }
}

fn accept_all(_: &Request) -> Result<Accept, Reject> {
    Ok(Accept::default())
}

/// The `closed` line of a `websockets` client: (received code, reason, sent code, reason).
fn websockets_closed(finished: &Finished) -> [String; 4] {
    let closed = finished.events("closed");
    assert_eq!(closed.len(), 1, "one closed event: {:?}", finished.stdout);
    fields::<4>("closed", closed[0].clone())
}

fn strings<const N: usize>(values: [&str; N]) -> [String; N] {
    values.map(str::to_string)
}

/// The expected `echo` events of the `sizes` scenarios.
fn size_echo_events() -> Vec<Vec<String>> {
    SIZES
        .iter()
        .flat_map(|size| {
            ["text", "binary"].map(|kind| vec![kind.to_string(), size.to_string(), "ok".into()])
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// sockeye client -> Python `websockets` server
// ---------------------------------------------------------------------------------------------

/// Sends every size as text and binary, checks each echo byte for byte, and checks that the
/// server received the exact pattern; returns after a 1000 "bye" close. `accepted`: the
/// `Sec-WebSocket-Extensions` the server answers sockeye's default offer with, if any.
fn client_echo_every_size(server: &mut PythonServer, accepted: Option<&str>) {
    let (mut socket, response) = connect(client_config(&server.url("/echo")));
    assert_eq!(response.status, 101);
    assert_eq!(
        response.headers.get("Sec-WebSocket-Extensions"),
        accepted,
        "sockeye offers permessage-deflate by default"
    );
    assert_eq!(response.deflate.is_some(), accepted.is_some());
    assert_eq!(
        server.peer.event("open"),
        strings(["/echo", "-", accepted.unwrap_or("-")]),
        "the server negotiated no subprotocol"
    );
    for message in pattern_messages() {
        socket.send(&message).expect("send");
        let echoed = read(&mut socket);
        assert_same(&echoed, &message, "the echo");
        let (kind, size) = match &message {
            Message::Text(text) => ("text", text.len()),
            _ => ("binary", message.len()),
        };
        assert_eq!(
            server.peer.event("message"),
            strings([kind, &size.to_string(), "ok"]),
            "what the Python server received"
        );
    }
    let reply = close_client(socket, CloseCode::Normal, "bye");
    assert_eq!(
        reply,
        close_frame(1000, "bye"),
        "websockets echoes the close"
    );
    assert_eq!(server.closed(), strings(["1000", "bye", "1000", "bye"]));
}

#[test]
fn client_echoes_every_size_with_websockets_server() {
    // Both defaults: sockeye offers permessage-deflate and websockets accepts it (more in
    // interop_deflate.rs).
    let mut server = PythonServer::start(&[]);
    client_echo_every_size(
        &mut server,
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"),
    );
}

#[test]
fn client_echoes_every_size_with_websockets_server_without_compression() {
    let mut server = PythonServer::start(&["--compression", "none"]);
    client_echo_every_size(&mut server, None);
}

#[test]
fn client_assembles_fragmented_messages_from_websockets() {
    let mut server = PythonServer::start(&[]);
    let (mut socket, _) = connect(client_config(&server.url("/fragments")));
    assert_eq!(read(&mut socket), Message::text("fragmented"));
    assert_eq!(read(&mut socket), Message::binary(&b"\x00\x01\xff"[..]));
    let large = read(&mut socket);
    assert_same(
        &large,
        &Message::binary(pattern_bytes(300_000)),
        "5 fragments",
    );
    let reply = close_client(socket, CloseCode::Normal, "done");
    assert_eq!(reply, close_frame(1000, "done"));
    assert_eq!(server.closed(), strings(["1000", "done", "1000", "done"]));
}

#[test]
fn websockets_server_pings_client_and_gets_its_pong() {
    let mut server = PythonServer::start(&[]);
    let (mut socket, _) = connect(client_config(&server.url("/ping")));
    // sockeye answers the ping before read() hands it over.
    assert_eq!(read(&mut socket), Message::Ping("from-python".into()));
    assert_eq!(read(&mut socket), Message::text("pong received"));
    assert_eq!(
        server.peer.event("pong"),
        strings(["ok", "from-python"]),
        "websockets matched the pong to its ping by payload"
    );
    close_client(socket, CloseCode::Normal, "");
    assert_eq!(server.closed(), strings(["1000", "", "1000", ""]));
}

#[test]
fn client_pings_websockets_server() {
    let mut server = PythonServer::start(&[]);
    let (mut socket, _) = connect(client_config(&server.url("/echo")));
    socket.ping(b"from-sockeye").expect("ping");
    assert_eq!(read(&mut socket), Message::Pong("from-sockeye".into()));
    // An empty ping gets an empty pong.
    socket.ping(b"").expect("ping");
    assert_eq!(read(&mut socket), Message::Pong("".into()));
    close_client(socket, CloseCode::Normal, "bye");
    assert_eq!(server.closed(), strings(["1000", "bye", "1000", "bye"]));
}

#[test]
fn client_closes_with_custom_code_and_websockets_sees_it() {
    let mut server = PythonServer::start(&[]);
    let (socket, _) = connect(client_config(&server.url("/echo")));
    let reply = close_client(socket, CloseCode::Other(4001), "custom");
    assert_eq!(reply, close_frame(4001, "custom"), "websockets echoes");
    assert_eq!(
        server.closed(),
        strings(["4001", "custom", "4001", "custom"])
    );
}

/// The server closes with `code` and `reason`: sockeye reports them and echoes them.
fn websockets_server_closes_with(code: u16, reason: &str) {
    let mut server = PythonServer::start(&[]);
    let path = format!("/close?code={code}&reason={reason}");
    let (mut socket, _) = connect(client_config(&server.url(&path)));
    assert_eq!(read(&mut socket), Message::Close(close_frame(code, reason)));
    match socket.read() {
        Err(Error::ConnectionClosed) => {}
        other => panic!("after the close handshake: {other:?}"),
    }
    assert_eq!(
        socket.connection().close_sent(),
        Some(&close_frame(code, SOCKEYE_ECHO_REASON)),
        "sockeye echoes the server's code"
    );
    drop(socket);
    let code = code.to_string();
    assert_eq!(
        server.closed(),
        [
            code.clone(),
            SOCKEYE_ECHO_REASON.into(),
            code,
            reason.into()
        ],
        "websockets received sockeye's echo of its code"
    );
}

#[test]
fn websockets_server_closes_normally_with_reason() {
    websockets_server_closes_with(1000, "bye");
}

#[test]
fn websockets_server_closes_with_custom_code() {
    websockets_server_closes_with(4001, "custom");
}

#[test]
fn client_negotiates_subprotocol_with_websockets() {
    let mut server = PythonServer::start(&["--subprotocols", "chat.v1,chat.v2"]);
    let config = client_config(&server.url("/echo"))
        .subprotocol("chat.v2")
        .subprotocol("chat.v3");
    let (mut socket, response) = connect(config);
    assert_eq!(response.subprotocol.as_deref(), Some("chat.v2"));
    // sockeye offers compression by default, and websockets accepts it.
    assert_eq!(
        server.peer.event("open"),
        strings([
            "/echo",
            "chat.v2",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        ])
    );
    socket.send_text("with chat.v2").expect("send");
    assert_eq!(read(&mut socket), Message::text("with chat.v2"));
    close_client(socket, CloseCode::Normal, "");
    assert_eq!(server.closed(), strings(["1000", "", "1000", ""]));
}

#[test]
fn client_reports_http_400_when_websockets_refuses_its_subprotocols() {
    let server = PythonServer::start(&["--subprotocols", "chat.v1"]);
    let config = client_config(&server.url("/echo")).subprotocol("other");
    let err = blocking::connect_with(config).expect_err("no shared subprotocol");
    assert_eq!(err.stage(), Stage::Http, "{err}");
    assert!(err.to_string().contains("400"), "{err}");
}

/// The request head as the `/headers` path sends it back: (name, value) pairs.
fn request_headers(socket: &mut WebSocket<Stream>) -> Vec<(String, String)> {
    let Message::Text(head) = read(socket) else {
        panic!("expected the request headers as text")
    };
    head.as_str()
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("Name: value");
            (name.to_ascii_lowercase(), value.to_string())
        })
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .collect()
}

#[test]
fn client_sends_custom_headers_and_origin_to_websockets() {
    let mut server = PythonServer::start(&[]);
    let config = client_config(&server.url("/headers"))
        .header("X-Sockeye-Test", "value with spaces")
        .header("X-Repeated", "one")
        .header("X-Repeated", "two")
        .origin("http://origin.test");
    let (mut socket, _) = connect(config);
    let headers = request_headers(&mut socket);
    assert_eq!(
        header(&headers, "x-sockeye-test"),
        ["value with spaces"],
        "{headers:?}"
    );
    assert_eq!(
        header(&headers, "x-repeated"),
        ["one", "two"],
        "{headers:?}"
    );
    assert_eq!(
        header(&headers, "origin"),
        ["http://origin.test"],
        "{headers:?}"
    );
    assert_eq!(
        header(&headers, "host"),
        [format!("127.0.0.1:{}", server.port).as_str()]
    );
    close_client(socket, CloseCode::Normal, "");
    assert_eq!(server.closed(), strings(["1000", "", "1000", ""]));
}

#[test]
fn client_sends_no_origin_unless_configured() {
    let mut server = PythonServer::start(&[]);
    let (mut socket, _) = connect(client_config(&server.url("/headers")));
    let headers = request_headers(&mut socket);
    assert_eq!(
        header(&headers, "origin"),
        Vec::<&str>::new(),
        "{headers:?}"
    );
    assert_eq!(header(&headers, "sec-websocket-version"), ["13"]);
    assert_eq!(
        header(&headers, "sec-websocket-extensions"),
        ["permessage-deflate; client_max_window_bits"],
        "sockeye offers permessage-deflate, and nothing else, by default"
    );
    close_client(socket, CloseCode::Normal, "");
    assert_eq!(server.closed(), strings(["1000", "", "1000", ""]));
}

// ---------------------------------------------------------------------------------------------
// Python `websockets` client -> sockeye server
// ---------------------------------------------------------------------------------------------

fn websockets_client_echo_every_size(compression: &str) -> (ServerRun, Finished) {
    let (run, finished) = with_python_client(
        "websockets_client.py",
        "sizes",
        &["--compression", compression],
        |stream| sockeye_echo_server(stream, accept_all),
    );
    let expected = pattern_messages();
    let data = run.data();
    assert_eq!(data.len(), expected.len(), "messages the server received");
    for (received, expected) in data.into_iter().zip(&expected) {
        assert_same(received, expected, "what sockeye received");
    }
    assert_eq!(run.close(), Some(&close_frame(1000, "bye")));
    assert_eq!(finished.events("echo"), size_echo_events());
    assert_eq!(
        websockets_closed(&finished),
        strings(["1000", SOCKEYE_ECHO_REASON, "1000", "bye"]),
        "the client got sockeye's echo of its close"
    );
    (run, finished)
}

#[test]
fn websockets_client_echoes_every_size_with_sockeye_server() {
    let (run, finished) = websockets_client_echo_every_size("none");
    assert_eq!(run.request.headers.get("Sec-WebSocket-Extensions"), None);
    assert_eq!(
        finished.events("open"),
        [strings(["-", "-", "-"])],
        "no subprotocol, no extension offered or accepted"
    );
}

#[test]
fn websockets_client_offering_permessage_deflate_gets_it() {
    let (run, finished) = websockets_client_echo_every_size("deflate");
    let offer = run
        .request
        .headers
        .get("Sec-WebSocket-Extensions")
        .expect("websockets offers permessage-deflate by default");
    assert!(offer.contains("permessage-deflate"), "{offer}");
    let open = &finished.events("open")[0];
    assert!(open[1].contains("permessage-deflate"), "{open:?}");
    assert_eq!(
        open[2], "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        "sockeye's server accepts it by default (more in interop_deflate.rs): {open:?}"
    );
}

#[test]
fn websockets_client_sends_fragmented_messages_to_sockeye() {
    let (run, finished) = with_python_client("websockets_client.py", "fragments", &[], |stream| {
        sockeye_echo_server(stream, accept_all)
    });
    let data = run.data();
    assert_eq!(data.len(), 3, "three assembled messages");
    assert_eq!(data[0], &Message::text("fragmented"));
    assert_eq!(data[1], &Message::binary(&b"\x00\x01\xff"[..]));
    assert_same(
        data[2],
        &Message::binary(pattern_bytes(300_000)),
        "5 fragments",
    );
    assert_eq!(finished.events("echo").len(), 3);
    assert_eq!(run.close(), Some(&close_frame(1000, "done")));
}

#[test]
fn websockets_client_pings_sockeye_server() {
    let (run, finished) = with_python_client("websockets_client.py", "ping", &[], |stream| {
        sockeye_echo_server(stream, accept_all)
    });
    assert_eq!(run.pings(), [&Message::Ping("from-python".into())]);
    assert_eq!(finished.events("pong"), [strings(["ok", "from-python"])]);
}

#[test]
fn sockeye_server_pings_websockets_client() {
    let (pong, finished) =
        with_python_client("websockets_client.py", "wait-close", &[], |stream| {
            let mut socket = blocking::accept(stream).expect("handshake");
            socket.ping(b"from-sockeye").expect("ping");
            let pong = read(&mut socket);
            let reply = socket.close(CloseCode::Normal, "pinged").expect("close");
            assert_eq!(reply, close_frame(1000, "pinged"));
            pong
        });
    assert_eq!(pong, Message::Pong("from-sockeye".into()));
    assert_eq!(
        websockets_closed(&finished),
        strings(["1000", "pinged", "1000", "pinged"])
    );
}

#[test]
fn sockeye_server_closes_with_custom_code_and_websockets_sees_it() {
    let (reply, finished) =
        with_python_client("websockets_client.py", "wait-close", &[], |stream| {
            let mut socket = blocking::accept(stream).expect("handshake");
            socket
                .close(CloseCode::Other(4001), "custom")
                .expect("close")
        });
    assert_eq!(reply, close_frame(4001, "custom"), "websockets echoes");
    assert_eq!(
        websockets_closed(&finished),
        strings(["4001", "custom", "4001", "custom"])
    );
}

#[test]
fn websockets_client_closes_with_custom_code() {
    let (run, finished) =
        with_python_client("websockets_client.py", "client-close", &[], |stream| {
            sockeye_echo_server(stream, accept_all)
        });
    assert_eq!(run.close(), Some(&close_frame(4001, "custom")));
    assert_eq!(
        websockets_closed(&finished),
        strings(["4001", SOCKEYE_ECHO_REASON, "4001", "custom"]),
        "sockeye echoed the code"
    );
}

/// Picks `chat.v2` when offered and reports what the request offered.
fn choose_chat_v2(request: &Request) -> Result<Accept, Reject> {
    if request.subprotocols().contains(&"chat.v2") {
        Ok(Accept::default().subprotocol("chat.v2"))
    } else {
        Err(Reject::new(400, "chat.v2 required"))
    }
}

#[test]
fn websockets_client_negotiates_subprotocol_and_sends_headers() {
    let (run, finished) = with_python_client("websockets_client.py", "handshake", &[], |stream| {
        sockeye_echo_server(stream, choose_chat_v2)
    });
    assert_eq!(run.request.subprotocols(), ["chat.v1", "chat.v2"]);
    assert_eq!(
        run.request.headers.get("X-Sockeye-Test"),
        Some("from websockets")
    );
    assert_eq!(run.request.origin(), Some("http://origin.test"));
    assert_eq!(finished.events("open")[0][0], "chat.v2");
    assert_eq!(run.close(), Some(&close_frame(1000, "done")));
}

// ---------------------------------------------------------------------------------------------
// Python `websocket-client` -> sockeye server
// ---------------------------------------------------------------------------------------------

#[test]
fn wsclient_echoes_every_size_with_sockeye_server() {
    let (run, finished) = with_python_client("wsclient_client.py", "sizes", &[], |stream| {
        sockeye_echo_server(stream, accept_all)
    });
    let expected = pattern_messages();
    let data = run.data();
    assert_eq!(data.len(), expected.len(), "messages the server received");
    for (received, expected) in data.into_iter().zip(&expected) {
        assert_same(received, expected, "what sockeye received");
    }
    assert_eq!(finished.events("echo"), size_echo_events());
    assert_eq!(run.close(), Some(&close_frame(1000, "bye")));
    assert_eq!(
        finished.events("close-rcvd"),
        [strings(["1000", SOCKEYE_ECHO_REASON])],
        "sockeye echoed the client's close"
    );
}

#[test]
fn wsclient_sends_fragments_with_a_ping_between_them() {
    let (run, finished) = with_python_client("wsclient_client.py", "fragments", &[], |stream| {
        sockeye_echo_server(stream, accept_all)
    });
    let data = run.data();
    assert_eq!(data.len(), 4, "four assembled messages");
    assert_eq!(data[0], &Message::text("fragmented"));
    assert_eq!(
        data[1],
        &Message::text("caf\u{e9}"),
        "UTF-8 split over fragments"
    );
    assert_eq!(data[2], &Message::binary(&b"\x00\x01\xff"[..]));
    assert_same(
        data[3],
        &Message::binary(pattern_bytes(300_000)),
        "5 fragments",
    );
    // The ping arrived between the first and second fragment and was answered at once.
    assert_eq!(run.received[0], Message::Ping("mid".into()));
    assert_eq!(finished.events("pong"), [strings(["mid"])]);
    assert_eq!(finished.events("echo").len(), 4);
}

#[test]
fn wsclient_pings_sockeye_server() {
    let (run, finished) = with_python_client("wsclient_client.py", "ping", &[], |stream| {
        sockeye_echo_server(stream, accept_all)
    });
    assert_eq!(run.pings(), [&Message::Ping("from-wsclient".into())]);
    assert_eq!(finished.events("pong"), [strings(["from-wsclient"])]);
    assert_eq!(run.close(), Some(&close_frame(1000, "done")));
}

#[test]
fn sockeye_server_pings_wsclient() {
    let (pong, finished) = with_python_client("wsclient_client.py", "wait-close", &[], |stream| {
        let mut socket = blocking::accept(stream).expect("handshake");
        socket.ping(b"from-sockeye").expect("ping");
        let pong = read(&mut socket);
        let reply = socket.close(CloseCode::Normal, "pinged").expect("close");
        // websocket-client answers every close with a plain 1000.
        assert_eq!(reply, close_frame(1000, ""));
        pong
    });
    assert_eq!(pong, Message::Pong("from-sockeye".into()));
    assert_eq!(finished.events("ping"), [strings(["from-sockeye"])]);
    assert_eq!(finished.events("close-rcvd"), [strings(["1000", "pinged"])]);
}

#[test]
fn sockeye_server_closes_with_custom_code_and_wsclient_sees_it() {
    let (reply, finished) = with_python_client("wsclient_client.py", "wait-close", &[], |stream| {
        let mut socket = blocking::accept(stream).expect("handshake");
        socket
            .close(CloseCode::Other(4001), "custom")
            .expect("close")
    });
    assert_eq!(reply, close_frame(1000, ""));
    assert_eq!(finished.events("close-rcvd"), [strings(["4001", "custom"])]);
}

#[test]
fn wsclient_closes_with_custom_code() {
    let (run, finished) = with_python_client("wsclient_client.py", "client-close", &[], |stream| {
        sockeye_echo_server(stream, accept_all)
    });
    assert_eq!(run.close(), Some(&close_frame(4001, "custom")));
    assert_eq!(
        finished.events("close-rcvd"),
        [strings(["4001", SOCKEYE_ECHO_REASON])],
        "sockeye echoed the code"
    );
}

#[test]
fn wsclient_negotiates_subprotocol_and_sends_headers() {
    let (run, finished) = with_python_client("wsclient_client.py", "handshake", &[], |stream| {
        sockeye_echo_server(stream, choose_chat_v2)
    });
    assert_eq!(run.request.subprotocols(), ["chat.v1", "chat.v2"]);
    assert_eq!(
        run.request.headers.get("X-Sockeye-Test"),
        Some("from websocket-client")
    );
    assert_eq!(run.request.origin(), Some("http://origin.test"));
    assert_eq!(finished.events("open"), [strings(["chat.v2"])]);
    assert_eq!(
        finished.events("close-rcvd"),
        [strings(["1000", SOCKEYE_ECHO_REASON])]
    );
}

#[test]
fn python_peer_is_the_pinned_version() {
    // common::python() fails the test (never skips) when the venv is missing or wrong.
    let output = std::process::Command::new(common::python())
        .args([
            "-c",
            "import websockets, websocket; print(websockets.__version__, websocket.__version__)",
        ])
        .output()
        .expect("python runs");
    let versions = String::from_utf8_lossy(&output.stdout);
    assert!(versions.starts_with("17."), "{versions}");
    assert!(versions.contains(" 1.9."), "{versions}");
}
