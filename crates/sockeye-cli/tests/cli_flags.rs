//! `sockeye connect`'s conversation flags (issue 15), each asserted on the wire: a library
//! server on 127.0.0.1 records every message that arrives, and the test checks what it got and
//! how the client exited.
#![allow(clippy::unwrap_used)]

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::PEER_TIMEOUT;
use sockeye::blocking::WebSocket;
use sockeye::{CloseCode, CloseFrame, Message, ServerConfig};
use support::{assert_exit, connect, connect_bytes, one_connection};

/// Reads until the connection ends; returns every message that arrived, pings and closes
/// included (the server's library answers them).
fn record(mut socket: WebSocket<TcpStream>) -> Vec<Message> {
    let mut got = Vec::new();
    while let Ok(message) = socket.read() {
        got.push(message);
    }
    got
}

/// The text of each text message in `messages`, and the code of each close.
fn summary(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|message| match message {
            Message::Text(text) => format!("text {}", text.as_str()),
            Message::Binary(data) => format!("binary {data:?}"),
            Message::Ping(data) => format!("ping {data:?}"),
            Message::Pong(data) => format!("pong {data:?}"),
            Message::Close(frame) => format!("close {:?}", frame.as_ref().map(|f| f.code.as_u16())),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn read_timeout_restarts_at_each_message_then_closes_with_1001_and_exits_28() {
    let (url, recorded) = one_connection(ServerConfig::default(), |mut socket| {
        socket.send(Message::text("a")).unwrap();
        thread::sleep(Duration::from_millis(300));
        socket.send(Message::text("b")).unwrap();
        (Instant::now(), record(socket))
    });
    // `--timeout`, websocket-client's name, is the same flag.
    let mut client = connect(&url, &["--timeout", "1.5"]);
    assert_eq!(client.line(), "a");
    assert_eq!(client.line(), "b");
    let (sent_b, got) = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    assert!(
        sent_b.elapsed() >= Duration::from_millis(1400),
        "closed {:?} after the last message",
        sent_b.elapsed()
    );
    assert_eq!(summary(&got), ["close Some(1001)"]);
    let finished = client.finish();
    assert_exit(&finished, 28);
    assert!(
        finished.stderr.contains("--read-timeout"),
        "{}",
        finished.stderr
    );
}

#[test]
fn idle_timeout_closes_normally_after_silence_either_way() {
    let (url, recorded) = one_connection(ServerConfig::default(), |socket| {
        let start = Instant::now();
        (record(socket), start.elapsed())
    });
    let mut client = connect(&url, &["-t", "hello", "--idle-timeout", "1"]);
    let (got, after) = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    assert_eq!(summary(&got), ["text hello", "close Some(1000)"]);
    assert!(
        after >= Duration::from_millis(900),
        "closed after {after:?}"
    );
    client.close_stdin();
    assert_exit(&client.finish(), 0);
}

#[test]
fn text_is_sent_before_stdin() {
    let (url, recorded) = one_connection(ServerConfig::default(), record);
    let output = connect_bytes(&url, &["--text", "first"], b"second\n");
    assert_eq!(output.status.code(), Some(0));
    let got = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    assert_eq!(
        summary(&got),
        ["text first", "text second", "close Some(1000)"]
    );
}

#[test]
fn one_message_closes_with_1000_after_the_first_message() {
    let (url, recorded) = one_connection(ServerConfig::default(), |mut socket| {
        socket.send(Message::text("one")).unwrap();
        socket.send(Message::text("two")).unwrap();
        record(socket)
    });
    // stdin stays open: the first message alone ends the conversation.
    let client = connect(&url, &["-1"]);
    let got = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    assert_eq!(summary(&got), ["close Some(1000)"]);
    let finished = client.finish();
    assert_exit(&finished, 0);
    assert_eq!(finished.stdout, ["one"]);
}

#[test]
fn no_close_keeps_listening_after_stdin_ends_until_the_server_closes() {
    let (url, recorded) = one_connection(ServerConfig::default(), |mut socket| {
        let first = socket.read().unwrap();
        // Well past --linger: without -n the client would have closed by now.
        thread::sleep(Duration::from_millis(1200));
        socket.send(Message::text("late")).unwrap();
        let close = CloseFrame::new(CloseCode::from(4000), "server done");
        socket.send(Message::Close(Some(close))).unwrap();
        let mut got = vec![first];
        got.extend(record(socket));
        got
    });
    let output = connect_bytes(&url, &["-n"], b"x\n");
    let got = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    // The only close that arrived is the echo of the server's own 4000.
    assert_eq!(summary(&got), ["text x", "close Some(4000)"]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "late\n");
    assert_eq!(output.status.code(), Some(4), "the server closed with 4000");
}

#[test]
fn ping_payload_is_sent_exactly_and_its_pong_answers_the_ping() {
    let (url, recorded) = one_connection(ServerConfig::default(), |mut socket| {
        let mut pings = Vec::new();
        while pings.len() < 2 {
            match socket.read().unwrap() {
                Message::Ping(payload) => pings.push(payload.to_vec()),
                other => panic!("expected pings, got {other:?}"),
            }
        }
        socket
            .send(Message::Close(Some(CloseFrame::new(CloseCode::Normal, ""))))
            .unwrap();
        let _ = record(socket);
        pings
    });
    let client = connect(
        &url,
        &["--ping-interval", "0.2", "--ping-payload", "hello ping ✓"],
    );
    // A second ping goes only once the first has its pong: the pong was matched.
    let pings = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    let exact = "hello ping ✓".as_bytes().to_vec();
    assert_eq!(pings, [exact.clone(), exact]);
    assert_exit(&client.finish(), 0);
}

#[test]
fn show_ping_pong_writes_the_pings_and_pongs_received() {
    let (url, recorded) = one_connection(ServerConfig::default(), |mut socket| {
        socket.send(Message::Ping("are you there".into())).unwrap();
        socket.send(Message::Pong(vec![0xff, 0x00].into())).unwrap();
        socket.send(Message::text("data")).unwrap();
        // The client's automatic pong, then its close when stdin ends.
        record(socket)
    });
    let mut client = connect(&url, &["-P"]);
    assert_eq!(client.line(), "[ping] are you there");
    client.close_stdin();
    let got = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    assert_eq!(
        summary(&got),
        [
            format!("pong {:?}", bytes::Bytes::from("are you there")),
            "close Some(1000)".to_string()
        ]
    );
    let finished = client.finish();
    assert_exit(&finished, 0);
    assert_eq!(
        finished.stdout,
        ["[ping] are you there", "[pong 2 bytes] ff 00", "data"]
    );
}

#[test]
fn execute_sends_the_command_and_exits_after_the_first_reply() {
    let (url, recorded) = one_connection(ServerConfig::default(), |mut socket| {
        let command = socket.read().unwrap();
        socket.send(Message::text("reply 1")).unwrap();
        socket.send(Message::text("reply 2")).unwrap();
        let mut got = vec![command];
        got.extend(record(socket));
        got
    });
    // stdin stays open and is not read.
    let mut client = connect(&url, &["--execute", "status"]);
    client.stdin().write_all(b"not sent\n").unwrap();
    let got = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    assert_eq!(summary(&got), ["text status", "close Some(1000)"]);
    let finished = client.finish();
    assert_exit(&finished, 0);
    assert_eq!(finished.stdout, ["reply 1"]);
}

#[test]
fn execute_with_wait_writes_what_arrives_for_the_wait_then_closes() {
    let (url, recorded) = one_connection(ServerConfig::default(), |mut socket| {
        let command = socket.read().unwrap();
        socket.send(Message::text("reply 1")).unwrap();
        thread::sleep(Duration::from_millis(300));
        socket.send(Message::text("reply 2")).unwrap();
        let sent = Instant::now();
        let mut got = vec![command];
        got.extend(record(socket));
        (got, sent.elapsed())
    });
    let client = connect(&url, &["--execute", "status", "-w", "1"]);
    let (got, after) = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    assert_eq!(summary(&got), ["text status", "close Some(1000)"]);
    assert!(
        after >= Duration::from_millis(500),
        "closed {after:?} after the last reply"
    );
    let finished = client.finish();
    assert_exit(&finished, 0);
    assert_eq!(finished.stdout, ["reply 1", "reply 2"]);
}

/// The kernel's timer on the TCP socket whose local port is `port` (from /proc/net/tcp): 2
/// while a keepalive timer runs, 0 when no timer does.
#[cfg(target_os = "linux")]
fn tcp_timer(port: u16) -> u8 {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let suffix = format!(":{port:04X}");
    let line = table
        .lines()
        .find(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(&suffix))
        })
        .unwrap_or_else(|| panic!("no socket on local port {port} in:\n{table}"));
    let timer = line.split_whitespace().nth(5).unwrap();
    timer.split(':').next().unwrap().parse().unwrap()
}

/// Connects `sockeye connect FLAGS` to a server that notes where the connection came from,
/// then (while the client still holds it) the kernel's timer on the client's socket.
#[cfg(target_os = "linux")]
fn source_and_timer(flags: &[&str]) -> (std::net::SocketAddr, u8) {
    let (url, recorded) = one_connection(ServerConfig::default(), |socket| {
        let peer = socket.get_ref().peer_addr().unwrap();
        let timer = tcp_timer(peer.port());
        let _ = record(socket);
        (peer, timer)
    });
    let mut client = connect(&url, flags);
    client.close_stdin();
    let seen = recorded.recv_timeout(PEER_TIMEOUT).unwrap();
    assert_exit(&client.finish(), 0);
    seen
}

#[test]
#[cfg(target_os = "linux")]
fn local_address_and_keepalive_are_set_on_the_socket() {
    let (peer, timer) = source_and_timer(&["--local-address", "127.0.0.2", "--keepalive"]);
    assert_eq!(peer.ip().to_string(), "127.0.0.2", "the source address");
    assert_eq!(timer, 2, "SO_KEEPALIVE runs the keepalive timer");
    let (peer, timer) = source_and_timer(&[]);
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
    assert_eq!(timer, 0, "no keepalive timer by default");
}
