//! `sockeye connect -v`, `--trace-file`, `--trace-format json`, `--show-secrets` and
//! `sockeye serve -v`: the library's trace as the CLI shows it, against `sockeye serve`.
//!
//! Every wait is bounded and every process is killed when a test ends (see `common`).

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{Finished, Peer};
use support::{serve, sockeye};

const SECRET: &str = "SECRET-6f1c";

/// `sockeye connect URL/chat?token=SECRET&room=7 -H "Authorization: Bearer SECRET" FLAGS`,
/// sending "hi" and closing when stdin ends.
fn connect_with_secrets(url: &str, flags: &[&str]) -> Finished {
    let target = format!("{url}/chat?token={SECRET}&room=7");
    let authorization = format!("Authorization: Bearer {SECRET}");
    let mut args = vec![
        "connect",
        &target,
        "--connect-timeout",
        "10",
        "--handshake-timeout",
        "10",
        "-H",
        &authorization,
    ];
    args.extend_from_slice(flags);
    let mut client = Peer::spawn_with_stdin("sockeye connect", sockeye(&args));
    client
        .stdin()
        .write_all(b"hi\n")
        .expect("write to sockeye's stdin");
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect");
    assert_eq!(finished.stdout, ["hi"], "stderr: {}", finished.stderr);
    finished
}

/// The lines every client trace of that session has, in order.
const CLIENT_TRACE: &[&str] = &[
    "* client connection to 127.0.0.1:",
    "> GET /chat?token=[redacted]&room=7 HTTP/1.1",
    "> Authorization: Bearer [redacted]",
    "< HTTP/1.1 101 Switching Protocols",
    "< Sec-WebSocket-Accept: ",
    "* open",
    "> text 2 bytes \"hi\"  [mask ",
    "< text 2 bytes \"hi\"",
    "> close 1000 (normal)  [mask ",
    "< close 1000 (normal)",
];

/// Panics unless each of `expected` is found in a line of `text`, in order.
fn assert_lines_in_order(text: &str, expected: &[&str]) {
    let mut lines = text.lines();
    for wanted in expected {
        assert!(
            lines.any(|line| line.contains(wanted)),
            "{wanted:?} missing (or out of order) in:\n{text}"
        );
    }
}

fn temp_path(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    std::env::temp_dir().join(format!("sockeye-{name}-{}-{nanos}", std::process::id()))
}

#[test]
fn connect_v_prints_the_handshake_and_frames_with_secrets_redacted() {
    let (_server, url) = serve(&[]);
    let finished = connect_with_secrets(&url, &["-v"]);
    assert_lines_in_order(&finished.stderr, CLIENT_TRACE);
    assert!(!finished.stderr.contains(SECRET), "{}", finished.stderr);
}

#[test]
fn show_secrets_puts_them_in_the_trace() {
    let (_server, url) = serve(&[]);
    let finished = connect_with_secrets(&url, &["-v", "--show-secrets"]);
    let stderr = &finished.stderr;
    assert!(
        stderr.contains(&format!("> GET /chat?token={SECRET}&room=7 HTTP/1.1")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("> Authorization: Bearer {SECRET}")),
        "{stderr}"
    );
}

#[test]
fn trace_file_gets_the_trace_and_stderr_stays_quiet() {
    let (_server, url) = serve(&[]);
    let path = temp_path("trace.log");
    let finished = connect_with_secrets(&url, &["--trace-file", path.to_str().expect("UTF-8")]);
    let trace = std::fs::read_to_string(&path).expect("the trace file exists");
    let _ = std::fs::remove_file(&path);
    assert_lines_in_order(&trace, CLIENT_TRACE);
    assert!(!trace.contains(SECRET), "{trace}");
    assert!(!finished.stderr.contains("> GET"), "{}", finished.stderr);
}

#[test]
fn trace_format_json_writes_one_object_per_line() {
    let (_server, url) = serve(&[]);
    let path = temp_path("trace.jsonl");
    connect_with_secrets(
        &url,
        &[
            "--trace-file",
            path.to_str().expect("UTF-8"),
            "--trace-format",
            "json",
        ],
    );
    let trace = std::fs::read_to_string(&path).expect("the trace file exists");
    let _ = std::fs::remove_file(&path);
    assert!(!trace.contains(SECRET), "{trace}");
    let events: Vec<serde_json::Value> = trace
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|event| event["event"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["start", "request", "response", "open", "frame", "frame", "frame", "frame", "end"],
        "{trace}"
    );
    let sent = &events[4];
    assert_eq!(sent["dir"], "sent", "{sent}");
    assert_eq!(sent["opcode"], "text", "{sent}");
    assert_eq!(sent["preview"], "hi", "{sent}");
    assert_eq!(sent["mask"].as_str().map(str::len), Some(8), "{sent}");
    assert_eq!(events[2]["status"], 101);
}

#[test]
fn serve_v_traces_each_connection() {
    let (server, url) = serve(&["-v"]);
    connect_with_secrets(&url, &[]);
    // The server traced the close it sent before the client could finish.
    let report = server.kill_and_report();
    assert_lines_in_order(
        &report,
        &[
            "* server connection from 127.0.0.1:",
            "< GET /chat?token=[redacted]&room=7 HTTP/1.1",
            "< Authorization: Bearer [redacted]",
            "> HTTP/1.1 101 Switching Protocols",
            "* open",
            "< text 2 bytes \"hi\"  [mask ",
            "> text 2 bytes \"hi\"",
            "< close 1000 (normal)  [mask ",
            "> close 1000 (normal)",
        ],
    );
    assert!(!report.contains(SECRET), "{report}");
}

#[test]
fn error_messages_redact_unless_asked() {
    let url = format!("ws://alice:{SECRET}@127.0.0.1:99999/?token={SECRET}");
    let finished = Peer::spawn("sockeye connect", sockeye(&["connect", &url])).finish();
    assert_eq!(finished.status.code(), Some(3), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("invalid URL"),
        "{}",
        finished.stderr
    );
    assert!(!finished.stderr.contains(SECRET), "{}", finished.stderr);
    assert!(
        finished
            .stderr
            .contains("ws://alice:[redacted]@127.0.0.1:99999/?token=[redacted]"),
        "{}",
        finished.stderr
    );
    let finished = Peer::spawn(
        "sockeye connect",
        sockeye(&["connect", &url, "--show-secrets"]),
    )
    .finish();
    assert_eq!(finished.status.code(), Some(3), "{}", finished.stderr);
    assert!(finished.stderr.contains(SECRET), "{}", finished.stderr);
}
