//! `sockeye connect` in a pipe (issue 15): what goes in on stdin comes back on stdout byte for
//! byte through `sockeye serve`'s echo, in every input and output mode; and Ctrl-C closes with
//! 1001 as the server sees it.
//!
//! Peers run on 127.0.0.1 with port 0; every wait is bounded (see `common`).
#![allow(clippy::unwrap_used)]

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::io::{Read, Write};
use std::process::Output;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use common::PEER_TIMEOUT;
use sockeye::{Message, ServerConfig};
use support::{assert_exit, connect, connect_bytes, one_connection, serve};

/// Text that a terminal would see escaped: the issue's JSON (a `\n` escape and a backslash),
/// tabs, ESC sequences, a bell, DEL, a CR inside the line, quotes and non-ASCII.
const AWKWARD_LINES: [&str; 7] = [
    r#"{"msg":"line1\nline2","path":"C:\\tmp"}"#,
    "tab\there\\t and a backslash \\",
    "\x1b[31mred\x1b[0m \x07 \x7f \x01",
    "carriage\rreturn",
    "",
    "\"quoted\" 'single' — ünïcödé ✓ 𝄞",
    "trailing space ",
];

/// Every byte value once, newline and NUL included.
fn all_bytes() -> Vec<u8> {
    (0..=255).collect()
}

#[track_caller]
fn assert_clean_exit(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "exit status; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `sockeye connect FLAGS` against a fresh echo server with `stdin`; returns its stdout.
fn echoed(flags: &[&str], stdin: &[u8]) -> Vec<u8> {
    let (_server, url) = serve(&[]);
    let output = connect_bytes(&url, flags, stdin);
    assert_clean_exit(&output);
    output.stdout
}

#[test]
fn text_lines_come_back_exactly_as_sent() {
    let input = AWKWARD_LINES.map(|line| format!("{line}\n")).concat();
    let output = echoed(&[], input.as_bytes());
    assert_eq!(String::from_utf8_lossy(&output), input);
}

#[test]
fn nul_separated_records_carry_newlines_both_ways() {
    let records = ["two\nlines", "crlf\r\nline\r", "\n", "plain"];
    let input = records.map(|record| format!("{record}\0")).concat();
    let output = echoed(&["-0"], input.as_bytes());
    assert_eq!(String::from_utf8_lossy(&output), input);
}

#[test]
fn whole_stdin_is_one_text_message() {
    let input = AWKWARD_LINES.join("\n");
    let output = echoed(&["--whole", "--jsonl"], input.as_bytes());
    let line: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(line, serde_json::json!({"type": "text", "data": input}));
}

#[test]
fn jsonl_is_lossless_for_text_and_binary() {
    let input = AWKWARD_LINES.map(|line| format!("{line}\n")).concat();
    let output = echoed(&["--jsonl"], input.as_bytes());
    let lines: Vec<serde_json::Value> = output
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let expected: Vec<serde_json::Value> = AWKWARD_LINES
        .iter()
        .map(|line| serde_json::json!({"type": "text", "data": line}))
        .collect();
    assert_eq!(lines, expected);

    let encoded = BASE64.encode(all_bytes());
    let output = echoed(
        &["--input-format", "base64", "--jsonl"],
        format!("{encoded}\n").as_bytes(),
    );
    assert_eq!(
        String::from_utf8(output).unwrap(),
        format!("{{\"type\":\"binary\",\"data\":\"{encoded}\"}}\n")
    );
}

#[test]
fn binary_with_every_byte_value_comes_back_raw_base64_or_hex() {
    // The default in a pipe: the bytes as they are, then the separator.
    let output = echoed(&["--binary", "--whole"], &all_bytes());
    assert_eq!(output, [all_bytes(), vec![b'\n']].concat());
    let output = echoed(&["--binary", "--whole", "-0"], &all_bytes());
    assert_eq!(output, [all_bytes(), vec![0]].concat());

    let output = echoed(&["--binary", "--whole", "--base64"], &all_bytes());
    assert_eq!(
        output,
        format!("{}\n", BASE64.encode(all_bytes())).as_bytes()
    );

    let output = echoed(
        &["--binary", "--binary-output", "hex"],
        b"\x00\x01\xfe\xff\n",
    );
    assert_eq!(output, b"[binary 4 bytes] 00 01 fe ff\n");
}

#[test]
fn base64_lines_in_come_back_as_the_same_base64_lines() {
    let bytes = all_bytes();
    let input: String = bytes
        .chunks(100)
        .map(|chunk| format!("{}\n", BASE64.encode(chunk)))
        .collect();
    let output = echoed(&["--input-format", "base64", "--base64"], input.as_bytes());
    assert_eq!(String::from_utf8(output).unwrap(), input);
    // Raw out: the bytes, a newline after each message.
    let output = echoed(&["--input-format", "base64"], input.as_bytes());
    let expected: Vec<u8> = bytes
        .chunks(100)
        .flat_map(|chunk| [chunk, b"\n"].concat())
        .collect();
    assert_eq!(output, expected);
}

#[test]
fn binary_lines_keep_their_carriage_returns() {
    let input = b"crlf\r\n\x00\x01\n\xff\xfe\n";
    assert_eq!(echoed(&["--binary"], input), input);
}

#[test]
fn a_text_record_that_is_not_utf8_is_not_sent_and_says_why() {
    let (_server, url) = serve(&[]);
    let output = connect_bytes(&url, &[], b"\xff\xfe\nstill sent\n");
    assert_clean_exit(&output);
    assert_eq!(output.stdout, b"still sent\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not sent") && stderr.contains("--binary"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_closes_with_1001_and_exits_130() {
    let (server, url) = serve(&["-v"]);
    let mut client = connect(&url, &[]);
    writeln!(client.stdin(), "ready").unwrap();
    // The echo arrived: the connection is open, and Ctrl-C is sockeye's to handle.
    assert_eq!(client.line(), "ready");
    client.signal("INT");
    let finished = client.finish();
    assert_exit(&finished, 130);
    assert!(
        finished.stderr.contains("closing with 1001"),
        "{}",
        finished.stderr
    );
    server.signal("TERM");
    let served = server.finish();
    assert!(
        served.stderr.contains("closed: 1001 (going away)"),
        "the server saw: {}",
        served.stderr
    );
}

/// A server that sends "hello", then reads the client's close frame from the socket itself
/// and never answers it: returns the close code it read.
fn hello_and_no_close_reply(mut socket: sockeye::blocking::WebSocket<std::net::TcpStream>) -> u16 {
    socket.send(Message::text("hello")).unwrap();
    let mut stream = socket.into_inner();
    // A masked close frame with a code and no reason: FIN + opcode 8, MASK + length 2, the
    // 4-byte mask key, the 2 masked bytes of the code.
    let mut frame = [0u8; 8];
    stream.read_exact(&mut frame).unwrap();
    assert_eq!(frame[..2], [0x88, 0x82], "a close frame: {frame:02x?}");
    let code = u16::from_be_bytes([frame[6] ^ frame[2], frame[7] ^ frame[3]]);
    // Hold the connection open, without a word, until the client goes; the test reads the
    // code meanwhile.
    std::thread::spawn(move || stream.read(&mut [0u8; 64]));
    code
}

#[test]
fn a_second_ctrl_c_exits_at_once_when_the_server_does_not_answer() {
    let (url, close_code) = one_connection(ServerConfig::default(), hello_and_no_close_reply);
    let mut client = connect(&url, &["--close-timeout", "60"]);
    assert_eq!(client.line(), "hello");
    client.signal("INT");
    assert_eq!(close_code.recv_timeout(PEER_TIMEOUT).unwrap(), 1001);
    let second = Instant::now();
    client.signal("INT");
    let finished = client.finish();
    assert!(
        second.elapsed() < Duration::from_secs(20),
        "exited {:?} after the second Ctrl-C",
        second.elapsed()
    );
    assert_exit(&finished, 130);
    assert!(
        finished.stderr.contains("interrupted again"),
        "{}",
        finished.stderr
    );
}
