//! permessage-deflate (RFC 7692) with real peers over 127.0.0.1, in both directions:
//!
//! - the sockeye blocking client against Python `websockets` 17 (`peers/deflate_server.py`),
//!   with websockets' default answer (12-bit windows) and with other parameters;
//! - `websockets` clients (`peers/deflate_client.py`) against the sockeye blocking server, with
//!   websockets' default offer and with others;
//! - Node's `ws` 8 with `perMessageDeflate: true` (`peers/ws_server.js`, `peers/ws_client.js`,
//!   which `interop_node.rs` also uses) against the blocking client and server.
//!
//! Messages small and large (up to 4 MiB), text and binary, whole and fragmented, both ways.
//! The byte counts on the socket show that compression really happens. Every listener binds
//! port 0; every wait is bounded (see `common`).

mod common;
mod node_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use common::{
    pattern_bytes, pattern_messages, pattern_text, python_peer, within_timeout, Finished, Peer,
    IO_TIMEOUT, SIZES,
};
use node_support::{node_modules, node_script, require_package};
use sockeye::blocking::{self, WebSocket};
use sockeye::proto::extensions::deflate::{DeflateConfig, PerMessageDeflate};
use sockeye::proto::handshake::ClientHandshake;
use sockeye::proto::{Config as ProtocolConfig, Connection, Role};
use sockeye::{Accept, ClientConfig, CloseCode, Error, Message, Request, ServerConfig};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// What `peers/deflate_*.py` send in the `bulk` and `repeat` scenarios.
fn bulk_text() -> String {
    "sockeye and permessage-deflate ".repeat(4 * 1024 * 1024 / 31)
}

fn bulk_binary() -> Vec<u8> {
    (0..=255u8).cycle().take(1024 * 1024).collect()
}

/// A stream that counts the bytes read and written through it.
struct Counting<S> {
    inner: S,
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

#[derive(Clone, Default)]
struct Counters {
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

impl Counters {
    fn wrap<S>(&self, inner: S) -> Counting<S> {
        Counting {
            inner,
            read: self.read.clone(),
            written: self.written.clone(),
        }
    }

    fn read(&self) -> usize {
        self.read.load(Ordering::Relaxed)
    }

    fn written(&self) -> usize {
        self.written.load(Ordering::Relaxed)
    }
}

impl<S: Read> Read for Counting<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.read.fetch_add(read, Ordering::Relaxed);
        Ok(read)
    }
}

impl<S: Write> Write for Counting<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.written.fetch_add(written, Ordering::Relaxed);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn bound(stream: &TcpStream) {
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .expect("socket timeouts can be set");
}

fn read<S: Read + Write>(socket: &mut WebSocket<S>) -> Message {
    socket
        .read()
        .unwrap_or_else(|err| panic!("reading a message failed: {err}"))
}

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

/// A running `peers/deflate_server.py`.
struct DeflateServer {
    peer: Peer,
    port: u16,
}

impl DeflateServer {
    fn start(flags: &[&str]) -> Self {
        let mut peer = Peer::spawn("deflate_server.py", python_peer("deflate_server.py", flags));
        let port = peer.event("port");
        let port = port
            .first()
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the server printed no port: {port:?}"));
        Self { peer, port }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// Connects the blocking client through a counting stream.
    fn connect(
        &self,
        path: &str,
        config: ClientConfig,
    ) -> (WebSocket<Counting<TcpStream>>, sockeye::Response, Counters) {
        let config = config
            .connect_timeout(Some(IO_TIMEOUT))
            .handshake_timeout(Some(IO_TIMEOUT));
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        bound(&stream);
        let counters = Counters::default();
        let (socket, response) = blocking::client(counters.wrap(stream), &config)
            .unwrap_or_else(|err| panic!("handshake with {} failed: {err}", self.url(path)));
        (socket, response, counters)
    }

    /// The next `open` event's extensions field.
    fn opened(&mut self) -> String {
        let open = self.peer.event("open");
        open.get(1).cloned().unwrap_or_default()
    }
}

fn client_config(server: &DeflateServer, path: &str) -> ClientConfig {
    ClientConfig::new(&server.url(path)).expect("a valid ws:// URL")
}

/// Closes with 1000 "bye" and reads until the server ends TCP.
fn close<S: Read + Write>(mut socket: WebSocket<S>) {
    socket.close(CloseCode::Normal, "bye").expect("close");
    match socket.read() {
        Err(Error::ConnectionClosed) => {}
        other => panic!("after the close handshake read() returned {other:?}"),
    }
}

/// Sends every message, checking each echo and the kind and length the server received (and,
/// for the `patterns.py` messages, their contents).
fn echo_all<S: Read + Write>(
    socket: &mut WebSocket<S>,
    server: &mut DeflateServer,
    messages: &[Message],
) {
    for message in messages {
        socket.send(message).expect("send");
        assert_same(&read(socket), message, "the echo");
        let event = server.peer.event("message");
        let (kind, len, pattern) = match message {
            Message::Text(text) => (
                "text",
                text.len(),
                pattern_text(text.len()) == text.as_str(),
            ),
            _ => (
                "binary",
                message.len(),
                message == &Message::binary(pattern_bytes(message.len())),
            ),
        };
        assert_eq!(event[..2], [kind.to_string(), len.to_string()], "{event:?}");
        if pattern {
            assert_eq!(event[2], "ok", "the server received the pattern: {event:?}");
        }
    }
}

/// Starts `peers/deflate_client.py URL SCENARIO FLAGS` against a fresh listener and runs the
/// sockeye echo server (with `config`) on the accepted connection, through a counting stream.
/// Returns what the server saw, the byte counters and the client's output.
fn python_client_against_sockeye(
    scenario: &str,
    flags: &[&str],
    config: &ServerConfig,
) -> (ServerRun, Counters, Finished) {
    client_against_sockeye("deflate_client.py", config, |url| {
        let mut args = vec![url, scenario];
        args.extend_from_slice(flags);
        python_peer("deflate_client.py", &args)
    })
}

/// `node peers/SCRIPT ARGS…`, once `ws` 8 is known to be there.
fn node_peer(script: &str, args: &[&str]) -> std::process::Command {
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| require_package(&node_modules(), "ws", "8."));
    node_script(&common::peer_script(script), args)
}

/// Starts the client `command(url)` makes against a fresh listener and runs the sockeye echo
/// server on the accepted connection, through a counting stream.
fn client_against_sockeye(
    name: &str,
    config: &ServerConfig,
    command: impl FnOnce(&str) -> std::process::Command,
) -> (ServerRun, Counters, Finished) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("ws://{}/", listener.local_addr().expect("local address"));
    let peer = Peer::spawn(name, command(&url));
    let accepted = within_timeout("accepting the Python client", move || {
        listener.accept().map(|(stream, _)| stream)
    });
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => panic!("accept failed: {err}\n{}", peer.kill_and_report()),
        Err(why) => panic!("{why}\n{}", peer.kill_and_report()),
    };
    bound(&stream);
    let counters = Counters::default();
    let run = sockeye_echo_server(counters.wrap(stream), config);
    let finished = peer.finish();
    finished.assert_success(name);
    (run, counters, finished)
}

struct ServerRun {
    request: Request,
    deflate: Option<PerMessageDeflate>,
    data: Vec<Message>,
}

fn sockeye_echo_server<S: Read + Write>(stream: S, config: &ServerConfig) -> ServerRun {
    // The first subprotocol offered, if any (ws_client.js insists on one).
    let decide = |request: &Request| {
        Ok(match request.subprotocols().first() {
            Some(protocol) => Accept::default().subprotocol(*protocol),
            None => Accept::default(),
        })
    };
    let (mut socket, request) = blocking::accept_with(stream, config, decide)
        .unwrap_or_else(|err| panic!("the sockeye server's handshake failed: {err}"));
    let deflate = socket.connection().deflate().copied();
    let mut data = Vec::new();
    loop {
        match socket.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                socket
                    .send(&message)
                    .unwrap_or_else(|err| panic!("echo failed: {err}"));
                data.push(message);
            }
            Ok(_) => {}
            Err(Error::ConnectionClosed) => break,
            Err(err) => panic!("the sockeye server failed: {err}"),
        }
    }
    ServerRun {
        request,
        deflate,
        data,
    }
}

fn agreed(snct: bool, cnct: bool, smwb: u8, cmwb: u8) -> Option<PerMessageDeflate> {
    Some(PerMessageDeflate {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: smwb,
        client_max_window_bits: cmwb,
    })
}

/// websockets' default answer to sockeye's default offer, and sockeye's to websockets'.
const WINDOWS_12: &str = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12";

// ---------------------------------------------------------------------------------------------
// sockeye client -> Python `websockets` server
// ---------------------------------------------------------------------------------------------

#[test]
fn client_negotiates_and_echoes_every_size_with_websockets() {
    let mut server = DeflateServer::start(&[]);
    let (mut socket, response, counters) = server.connect("/echo", client_config(&server, "/echo"));
    assert_eq!(
        response.headers.get("Sec-WebSocket-Extensions"),
        Some(WINDOWS_12)
    );
    assert_eq!(response.deflate, agreed(false, false, 12, 12));
    assert_eq!(socket.connection().deflate().copied(), response.deflate);
    assert_eq!(server.opened(), WINDOWS_12);
    echo_all(&mut socket, &mut server, &pattern_messages());
    close(socket);
    // Text and binary patterns of 4 MiB each way, compressed: far less than 16 MiB moved.
    assert!(
        counters.written() < 8 << 20 && counters.read() < 8 << 20,
        "written {}, read {}",
        counters.written(),
        counters.read()
    );
}

#[test]
fn client_receives_and_sends_bulk_compressed() {
    let mut server = DeflateServer::start(&[]);
    let (mut socket, _, counters) = server.connect("/bulk", client_config(&server, "/bulk"));
    server.opened();
    let text = read(&mut socket);
    assert_same(&text, &Message::text(bulk_text()), "4 MiB of text");
    let binary = read(&mut socket);
    assert_same(&binary, &Message::binary(bulk_binary()), "1 MiB of binary");
    assert!(
        counters.read() < 256 << 10,
        "read {} bytes",
        counters.read()
    );
    echo_all(&mut socket, &mut server, &[text, binary]);
    assert!(
        counters.written() < 256 << 10,
        "wrote {}",
        counters.written()
    );
    close(socket);
}

#[test]
fn client_assembles_compressed_fragments_from_websockets() {
    let mut server = DeflateServer::start(&[]);
    let (mut socket, _, _) = server.connect("/fragments", client_config(&server, "/fragments"));
    server.opened();
    let expected = [
        Message::text("fragmented caf\u{e9} \u{20ac}"),
        Message::binary([&b"\x00\x01"[..], &[0xff; 40]].concat()),
        Message::text(pattern_text(300_000)),
        Message::binary(pattern_bytes(300_000)),
    ];
    for message in &expected {
        assert_same(&read(&mut socket), message, "a fragmented message");
    }
    echo_all(&mut socket, &mut server, &expected);
    close(socket);
}

#[test]
fn client_sends_compressed_fragments_to_websockets() {
    // The blocking API sends whole messages; the core sends fragments: drive it directly.
    let mut server = DeflateServer::start(&[]);
    let config = client_config(&server, "/echo");
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    bound(&stream);
    let mut handshake = ClientHandshake::new(config.request()).expect("a valid request");
    stream.write_all(handshake.request_bytes()).expect("write");
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    let response = loop {
        let read = stream.read(&mut chunk).expect("read");
        assert!(read > 0, "the server closed during the handshake");
        buf.extend_from_slice(&chunk[..read]);
        if let Some(response) = handshake.receive(&mut buf).expect("a valid response") {
            break response;
        }
    };
    let deflate = response.deflate.expect("permessage-deflate accepted");
    server.opened();
    let mut conn = Connection::new(Role::Client, ProtocolConfig::default())
        .with_deflate(deflate, &DeflateConfig::default());
    conn.receive_data(&buf);
    let text = pattern_text(200_000);
    let binary = pattern_bytes(200_000);
    // A one-byte first fragment, two large ones, and an empty last one.
    let pieces = |len: usize| [0, 1, len / 3, len, len];
    for (is_text, payload) in [(true, text.as_bytes()), (false, &binary[..])] {
        let cuts = pieces(payload.len());
        conn.send_first_fragment(is_text, &payload[..cuts[1]])
            .expect("first fragment");
        let windows: Vec<&[usize]> = cuts[1..].windows(2).collect();
        for (i, window) in windows.iter().enumerate() {
            conn.send_continuation(&payload[window[0]..window[1]], i + 1 == windows.len())
                .expect("continuation");
        }
        stream.write_all(&conn.take_output()).expect("write");
        let echoed = loop {
            if let Some(message) = conn.next_message().expect("a valid echo") {
                break message;
            }
            let read = stream.read(&mut chunk).expect("read");
            assert!(read > 0, "the server closed");
            conn.receive_data(&chunk[..read]);
        };
        let expected = if is_text {
            Message::text(text.clone())
        } else {
            Message::binary(binary.clone())
        };
        assert_same(&echoed, &expected, "the echo of a fragmented message");
        let event = server.peer.event("message");
        assert_eq!(event.get(2).map(String::as_str), Some("ok"), "{event:?}");
    }
}

/// Server flags × client settings → the answer and the parameters in force; then messages of
/// every kind cross both ways.
#[test]
fn client_follows_every_parameter_websockets_answers() {
    let defaults = DeflateConfig::default();
    let cases: Vec<(&[&str], DeflateConfig, &str, Option<PerMessageDeflate>)> = vec![
        (
            &["--server-no-context-takeover", "--client-no-context-takeover"],
            defaults.clone(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            agreed(true, true, 15, 15),
        ),
        (
            &["--server-max-window-bits", "9", "--client-max-window-bits", "9"],
            defaults.clone(),
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
            agreed(false, false, 9, 9),
        ),
        // websockets' default server, asked for less.
        (
            &[],
            defaults
                .clone()
                .server_no_context_takeover(true)
                .server_max_window_bits(Some(10))
                .client_max_window_bits(Some(11)),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
            agreed(true, false, 10, 11),
        ),
        // The client's own hint: it takes no context over, whatever the server says.
        (
            &[],
            defaults.clone().client_no_context_takeover(true),
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
            agreed(false, true, 12, 12),
        ),
    ];
    let messages = [
        Message::text("short"),
        Message::text(pattern_text(70_000)),
        Message::text(bulk_text()),
        Message::binary(pattern_bytes(65_536)),
        Message::binary(bulk_binary()),
        Message::binary(Vec::new()),
        Message::text(bulk_text()),
    ];
    for (flags, settings, answer, expected) in cases {
        let mut server = DeflateServer::start(flags);
        let config = client_config(&server, "/echo").compression(Some(settings.clone()));
        let (mut socket, response, _) = server.connect("/echo", config);
        assert_eq!(
            response.headers.get("Sec-WebSocket-Extensions"),
            Some(answer),
            "{flags:?} / {settings:?}"
        );
        assert_eq!(response.deflate, expected, "{flags:?} / {settings:?}");
        server.opened();
        echo_all(&mut socket, &mut server, &messages);
        close(socket);
    }
}

#[test]
fn client_without_compression_offers_nothing() {
    let mut server = DeflateServer::start(&[]);
    let config = client_config(&server, "/echo").compression(None);
    let (mut socket, response, _) = server.connect("/echo", config);
    assert_eq!(response.headers.get("Sec-WebSocket-Extensions"), None);
    assert_eq!(response.deflate, None);
    assert_eq!(server.opened(), "-");
    echo_all(&mut socket, &mut server, &[Message::text(bulk_text())]);
    close(socket);
}

// ---------------------------------------------------------------------------------------------
// Python `websockets` client -> sockeye server
// ---------------------------------------------------------------------------------------------

/// The `open` event of a deflate_client.py run: (offered, accepted).
fn client_open(finished: &Finished) -> (String, String) {
    let open = finished.events("open");
    assert_eq!(open.len(), 1, "{:?}", finished.stdout);
    (open[0][0].clone(), open[0][1].clone())
}

fn client_echoes(finished: &Finished) -> usize {
    let echoes = finished.events("echo");
    assert!(echoes.iter().all(|e| e[2] == "ok"), "{echoes:?}");
    echoes.len()
}

#[test]
fn websockets_client_default_offer_echoes_every_size() {
    let (run, counters, finished) =
        python_client_against_sockeye("sizes", &[], &ServerConfig::default());
    assert_eq!(
        run.request.headers.get("Sec-WebSocket-Extensions"),
        Some("permessage-deflate; client_max_window_bits")
    );
    assert_eq!(
        client_open(&finished),
        (
            "permessage-deflate; client_max_window_bits".into(),
            WINDOWS_12.into()
        )
    );
    assert_eq!(run.deflate, agreed(false, false, 12, 12));
    let expected = pattern_messages();
    assert_eq!(run.data.len(), expected.len());
    for (received, expected) in run.data.iter().zip(&expected) {
        assert_same(received, expected, "what sockeye received");
    }
    assert_eq!(client_echoes(&finished), expected.len());
    assert!(
        counters.read() < 8 << 20 && counters.written() < 8 << 20,
        "read {}, written {}",
        counters.read(),
        counters.written()
    );
}

#[test]
fn websockets_client_sends_compressed_fragments_to_sockeye() {
    let (run, _, finished) =
        python_client_against_sockeye("fragments", &[], &ServerConfig::default());
    let expected = [
        Message::text("fragmented caf\u{e9} \u{20ac}"),
        Message::binary([&b"\x00\x01"[..], &[0xff; 40]].concat()),
        Message::text(pattern_text(300_000)),
        Message::binary(pattern_bytes(300_000)),
    ];
    assert_eq!(run.data.len(), expected.len());
    for (received, expected) in run.data.iter().zip(&expected) {
        assert_same(received, expected, "an assembled message");
    }
    assert_eq!(client_echoes(&finished), expected.len());
}

#[test]
fn websockets_client_bulk_is_compressed_both_ways() {
    let (run, counters, finished) =
        python_client_against_sockeye("bulk", &[], &ServerConfig::default());
    assert_same(&run.data[0], &Message::text(bulk_text()), "4 MiB of text");
    assert_same(
        &run.data[1],
        &Message::binary(bulk_binary()),
        "1 MiB of binary",
    );
    assert_eq!(client_echoes(&finished), 2);
    assert!(counters.read() < 256 << 10, "read {}", counters.read());
    assert!(
        counters.written() < 256 << 10,
        "wrote {}",
        counters.written()
    );
}

#[test]
fn context_takeover_shrinks_repeated_messages() {
    // 50 identical 2 KiB messages each way: with context takeover every message after the
    // first is a few back-references; without it each is compressed alone.
    let (_, taken_over, finished) =
        python_client_against_sockeye("repeat", &[], &ServerConfig::default());
    assert_eq!(client_echoes(&finished), 50);
    let (run, alone, finished) = python_client_against_sockeye(
        "repeat",
        &[
            "--server-no-context-takeover",
            "--client-no-context-takeover",
        ],
        &ServerConfig::default(),
    );
    assert_eq!(client_echoes(&finished), 50);
    assert_eq!(
        run.deflate
            .map(|d| (d.server_no_context_takeover, d.client_no_context_takeover)),
        Some((true, true))
    );
    assert!(
        taken_over.written() * 2 < alone.written() && taken_over.read() * 2 < alone.read(),
        "with context takeover: read {} written {}; without: read {} written {}",
        taken_over.read(),
        taken_over.written(),
        alone.read(),
        alone.written()
    );
}

/// Client flags → sockeye's default answer, and every message crosses.
#[test]
fn sockeye_server_answers_every_websockets_offer() {
    let cases: Vec<(&[&str], &str, Option<PerMessageDeflate>)> = vec![
        (
            &["--server-no-context-takeover"],
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
            agreed(true, false, 12, 12),
        ),
        (
            &["--client-no-context-takeover"],
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
            agreed(false, true, 12, 12),
        ),
        (
            &["--server-max-window-bits", "9"],
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12",
            agreed(false, false, 9, 12),
        ),
        (
            &["--server-max-window-bits", "15", "--client-max-window-bits", "10"],
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
            agreed(false, false, 12, 10),
        ),
        // No client_max_window_bits offered: none may be answered (RFC 7692 7.1.2.2).
        (
            &["--client-max-window-bits", "none"],
            "permessage-deflate; server_max_window_bits=12",
            agreed(false, false, 12, 15),
        ),
    ];
    for (flags, answer, expected) in cases {
        let (run, _, finished) =
            python_client_against_sockeye("sizes", flags, &ServerConfig::default());
        assert_eq!(client_open(&finished).1, answer, "{flags:?}");
        assert_eq!(run.deflate, expected, "{flags:?}");
        assert_eq!(client_echoes(&finished), SIZES.len() * 2, "{flags:?}");
    }
}

#[test]
fn sockeye_server_without_compression_accepts_no_offer() {
    let mut config = ServerConfig::default();
    config.compression = None;
    let (run, _, finished) = python_client_against_sockeye("bulk", &[], &config);
    assert_eq!(client_open(&finished).1, "-");
    assert_eq!(run.deflate, None);
    assert_eq!(client_echoes(&finished), 2);
}

// ---------------------------------------------------------------------------------------------
// Node `ws` 8 with perMessageDeflate, both ways
// ---------------------------------------------------------------------------------------------

#[test]
fn blocking_client_and_ws_server_compress_both_ways() {
    let mut peer = Peer::spawn("ws_server.js", node_peer("ws_server.js", &[]));
    let port: u16 = peer
        .event("port")
        .first()
        .and_then(|port| port.parse().ok())
        .expect("ws_server.js prints its port");
    let config = ClientConfig::new(&format!("ws://127.0.0.1:{port}/echo"))
        .expect("a valid URL")
        .connect_timeout(Some(IO_TIMEOUT))
        .handshake_timeout(Some(IO_TIMEOUT));
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    bound(&stream);
    let counters = Counters::default();
    let (mut socket, response) =
        blocking::client(counters.wrap(stream), &config).expect("handshake with ws");
    let answer = response
        .headers
        .get("Sec-WebSocket-Extensions")
        .expect("ws accepts permessage-deflate")
        .to_string();
    assert!(answer.starts_with("permessage-deflate"), "{answer}");
    assert!(response.deflate.is_some());
    let open = peer.event("open");
    assert!(open[2].starts_with("permessage-deflate"), "{open:?}");
    let mut messages = pattern_messages();
    messages.push(Message::text(bulk_text()));
    messages.push(Message::binary(bulk_binary()));
    for message in &messages {
        socket.send(message).expect("send");
        assert_same(&read(&mut socket), message, "the echo from ws");
        let (kind, len) = match message {
            Message::Text(text) => ("text", text.len()),
            _ => ("binary", message.len()),
        };
        assert_eq!(peer.event("message"), [kind, &len.to_string()]);
    }
    close(socket);
    // 2 × 4 MiB of patterns and 5 MiB of bulk each way, compressed.
    assert!(
        counters.written() < 10 << 20 && counters.read() < 10 << 20,
        "written {}, read {}",
        counters.written(),
        counters.read()
    );
}

#[test]
fn ws_client_and_blocking_server_compress_both_ways() {
    let (run, _, finished) =
        client_against_sockeye("ws_client.js", &ServerConfig::default(), |url| {
            node_peer("ws_client.js", &[url, "echo"])
        });
    let open = finished.events("open");
    assert!(open[0][1].starts_with("permessage-deflate"), "{open:?}");
    assert!(run.deflate.is_some());
    let offer = run
        .request
        .headers
        .get("Sec-WebSocket-Extensions")
        .expect("ws offers permessage-deflate");
    assert!(offer.starts_with("permessage-deflate"), "{offer}");
    let echoes = finished.events("echo");
    assert_eq!(echoes.len(), 6, "{:?}", finished.stdout);
    assert!(echoes.iter().all(|echo| echo[2] == "ok"), "{echoes:?}");
    assert_eq!(run.data.len(), 6);
    assert_eq!(
        run.data[2],
        Message::text("a\u{e9}\u{20ac}\u{1f600}".repeat(7000))
    );
    assert_eq!(run.data[4], Message::text("fragmented text"));
}
