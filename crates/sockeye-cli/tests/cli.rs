//! The `sockeye` binary end to end: `demo`, `connect` against a Python `websockets` server,
//! `serve` against Python clients, and the exit codes and messages of failed connections.
//!
//! Peers run on 127.0.0.1 with port 0; every wait is bounded and every process is killed when a
//! test ends (see `common`, shared with the library's interop tests).

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::io::Write;
use std::net::TcpListener;

use common::{python_peer, Peer, PythonServer, SIZES};
use sockeye::proto::handshake::accept_key;
use support::{assert_exit, connect, serve, sockeye};

fn write_stdin(peer: &mut Peer, text: &str) {
    peer.stdin()
        .write_all(text.as_bytes())
        .and_then(|()| peer.stdin().flush())
        .expect("write to sockeye's stdin");
}

/// The value of `name` in a handshake head printed with `prefix` ("> " or "< ").
fn printed_header<'a>(lines: &'a [String], prefix: &str, name: &str) -> &'a str {
    lines
        .iter()
        .find_map(|line| {
            let (key, value) = line.strip_prefix(prefix)?.split_once(": ")?;
            key.eq_ignore_ascii_case(name).then_some(value)
        })
        .unwrap_or_else(|| panic!("no {prefix}{name} line in {lines:#?}"))
}

#[test]
fn demo_prints_the_handshake_and_checks_the_accept_key() {
    let finished = Peer::spawn("sockeye demo", sockeye(&["demo"])).finish();
    finished.assert_success("sockeye demo");
    let out = &finished.stdout;
    assert!(
        out.iter()
            .any(|line| line.starts_with("> GET /demo HTTP/1.1")),
        "{out:#?}"
    );
    assert!(
        out.iter()
            .any(|line| line == "< HTTP/1.1 101 Switching Protocols"),
        "{out:#?}"
    );
    assert_eq!(printed_header(out, "> ", "Upgrade"), "websocket");
    assert_eq!(printed_header(out, "> ", "Sec-WebSocket-Version"), "13");
    // The printed key and accept belong together (RFC 6455 section 4.2.2; the function itself
    // is pinned to the RFC's example here).
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    let key = printed_header(out, "> ", "Sec-WebSocket-Key");
    let accept = printed_header(out, "< ", "Sec-WebSocket-Accept");
    assert_eq!(accept_key(key), accept);
    let check = out
        .iter()
        .find(|line| line.starts_with("Sec-WebSocket-Accept checks out"))
        .unwrap_or_else(|| panic!("no accept check in {out:#?}"));
    assert!(check.contains(key) && check.ends_with(accept), "{check}");
    assert!(
        out.iter().any(|line| line == "< pong \"are you there?\""),
        "{out:#?}"
    );
    assert!(
        out.iter()
            .any(|line| line == "server saw: 1000 (normal) \"demo done\""),
        "{out:#?}"
    );
}

#[test]
fn connect_pipes_stdin_lines_to_websockets_echo_server() {
    // printf 'hi\nsecond line\ttab\n' | sockeye connect ws://127.0.0.1:PORT/echo
    let mut server = PythonServer::start(&[]);
    let mut client = connect(&server.url("/echo"), &[]);
    write_stdin(&mut client, "hi\nsecond line\ttab\n");
    client.close_stdin();
    let finished = client.finish();
    // At end of stdin sockeye sends a close 1000; websockets echoes it.
    assert_eq!(server.closed(), ["1000", "", "1000", ""]);
    finished.assert_success("sockeye connect");
    assert_eq!(
        finished.stdout,
        ["hi", "second line\ttab"],
        "sockeye connect printed the echo of each stdin line, as sent; the server saw:\n{}\n\
         sockeye stderr:\n{}",
        server.peer.seen().join("\n"),
        finished.stderr
    );
}

#[test]
fn connect_pipes_stdin_lines_to_sockeye_serve() {
    // printf 'hi\n' | sockeye connect ws://…, against sockeye's own echo server.
    let (_server, url) = serve(&[]);
    let mut client = connect(&url, &[]);
    write_stdin(&mut client, "hi\n");
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect");
    assert_eq!(finished.stdout, ["hi"], "stderr: {}", finished.stderr);
}

#[test]
fn connect_prints_binary_as_hex_and_text_while_stdin_is_open() {
    let mut server = PythonServer::start(&[]);
    let mut client = connect(&server.url("/binary-greeting"), &["--binary-output", "hex"]);
    // Each step waits for what it caused, and stdin ends last, so no close races an echo.
    assert_eq!(client.line(), "[binary 4 bytes] de ad be ef");
    write_stdin(&mut client, "after\n");
    assert_eq!(client.line(), "after");
    assert_eq!(server.peer.event("message"), ["text", "5", "mismatch"]);
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect");
    assert_eq!(finished.stdout, ["[binary 4 bytes] de ad be ef", "after"]);
    assert_eq!(server.closed(), ["1000", "", "1000", ""]);
}

#[test]
fn connect_sends_headers_origin_and_subprotocol() {
    let mut server = PythonServer::start(&["--subprotocols", "chat.v1,chat.v2"]);
    let mut client = connect(
        &server.url("/headers"),
        &[
            "-v",
            "--jsonl",
            "-H",
            "X-Sockeye-Test: from the cli",
            "--origin",
            "http://origin.test",
            "--subprotocol",
            "chat.v2",
        ],
    );
    // The request head comes back as one text message, with newlines: one JSON line.
    let head: serde_json::Value = serde_json::from_str(&client.line()).unwrap();
    let headers: Vec<&str> = head["data"].as_str().unwrap().split('\n').collect();
    for expected in [
        "X-Sockeye-Test: from the cli",
        "Origin: http://origin.test",
        "Sec-WebSocket-Protocol: chat.v2",
    ] {
        assert!(headers.contains(&expected), "{expected:?} in {headers:?}");
    }
    // Compression is offered by default, and websockets accepts it.
    assert_eq!(
        server.peer.event("open"),
        [
            "/headers",
            "chat.v2",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        ]
    );
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect -v");
    let stderr = &finished.stderr;
    assert!(stderr.contains("> GET /headers HTTP/1.1"), "{stderr}");
    assert!(
        stderr.contains("< HTTP/1.1 101 Switching Protocols"),
        "{stderr}"
    );
    assert!(stderr.contains("subprotocol: chat.v2"), "{stderr}");
    assert!(stderr.contains("> close 1000 (normal)"), "{stderr}");
}

#[test]
fn connect_exits_4_when_the_server_closes_with_another_code() {
    let mut server = PythonServer::start(&[]);
    let client = connect(&server.url("/close?code=4001&reason=custom"), &[]);
    // stdin stays open, so the server's close comes first; it completes once sockeye echoed it.
    assert_eq!(server.closed(), ["4001", "", "4001", "custom"]);
    let finished = client.finish();
    assert_eq!(
        finished.status.code(),
        Some(4),
        "exit status; stderr: {}",
        finished.stderr
    );
    assert!(finished.stderr.contains("4001"), "{}", finished.stderr);
    assert!(finished.stderr.contains("custom"), "{}", finished.stderr);
}

#[test]
fn connect_exits_3_naming_the_tcp_stage_when_nothing_listens() {
    // A port that was free a moment ago: bind it, note it, release it.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port();
    let url = format!("ws://127.0.0.1:{port}/");
    let finished = Peer::spawn("sockeye connect", sockeye(&["connect", &url])).finish();
    assert_eq!(
        finished.status.code(),
        Some(3),
        "exit status; stderr: {}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("(tcp stage)"),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        finished.stderr
    );
    assert!(finished.stdout.is_empty(), "{:?}", finished.stdout);
}

#[test]
fn connect_refuses_http_urls_and_suggests_ws() {
    let finished = Peer::spawn(
        "sockeye connect",
        sockeye(&["connect", "http://127.0.0.1:9/chat"]),
    )
    .finish();
    assert_eq!(
        finished.status.code(),
        Some(3),
        "an http:// URL fails before connecting, with exit 3; stderr: {}",
        finished.stderr
    );
    assert!(finished.stderr.contains("http://"), "{}", finished.stderr);
    assert!(finished.stderr.contains("try ws://"), "{}", finished.stderr);
}

#[test]
fn connect_suggests_ws_for_a_url_without_a_scheme() {
    let finished = Peer::spawn("sockeye connect", sockeye(&["connect", "localhost:9001"])).finish();
    assert_exit(&finished, 3);
    assert!(
        finished
            .stderr
            .contains("did you mean ws://localhost:9001?"),
        "{}",
        finished.stderr
    );
}

/// Runs a Python client scenario against `url` and returns its stdout lines.
fn python_client(script: &str, url: &str, scenario: &str) -> common::Finished {
    let finished = Peer::spawn(script, python_peer(script, &[url, scenario])).finish();
    finished.assert_success(script);
    finished
}

fn expected_size_echoes() -> Vec<Vec<String>> {
    SIZES
        .iter()
        .flat_map(|size| {
            ["text", "binary"].map(|kind| vec![kind.to_string(), size.to_string(), "ok".into()])
        })
        .collect()
}

#[test]
fn serve_echoes_text_and_binary_for_websocket_client() {
    let (_server, url) = serve(&[]);
    let finished = python_client("wsclient_client.py", &format!("{url}/sizes"), "sizes");
    assert_eq!(finished.events("echo"), expected_size_echoes());
    // The server answered the client's close 1000 "bye" with 1000.
    assert_eq!(finished.events("close-rcvd"), [["1000", ""]]);
}

#[test]
fn serve_echoes_for_websockets_client_and_answers_pings() {
    let (_server, url) = serve(&[]);
    let finished = python_client("websockets_client.py", &format!("{url}/a"), "sizes");
    assert_eq!(finished.events("echo"), expected_size_echoes());
    assert_eq!(finished.events("closed"), [["1000", "", "1000", "bye"]]);
    // The same server keeps serving: a second connection, a ping this time.
    let finished = python_client("websockets_client.py", &format!("{url}/b"), "ping");
    assert_eq!(finished.events("pong"), [["ok", "from-python"]]);
}
