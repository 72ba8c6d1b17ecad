//! `sockeye connect -v/-vv/-vvv`, `--timings` and `-r/--raw`, against `sockeye serve` or a
//! server this test runs in-process on 127.0.0.1 (port 0); on a terminal through script(1).
//!
//! Every wait is bounded (see `common`).
#![allow(clippy::unwrap_used)]

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::Finished;
use sockeye::{blocking, Accept, CloseCode, Error, Message, ServerConfig};
use support::{connect, serve};

/// 100 bytes: more than the 64 a `-v` preview shows.
const LONG: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789abcdefghijklmnopqrstuvwxyzy";

/// Sends LONG to an echoing `sockeye serve` with FLAGS (no deflate, a readable mask key).
fn echo_long(flags: &[&str]) -> Finished {
    let (_server, url) = serve(&[]);
    let mut args = vec!["--no-compression", "--mask-key", "00000000"];
    args.extend_from_slice(flags);
    let mut client = connect(&url, &args);
    client.stdin().write_all(LONG.as_bytes()).unwrap();
    client.stdin().write_all(b"\n").unwrap();
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect");
    assert_eq!(finished.stdout, [LONG], "stderr: {}", finished.stderr);
    finished
}

/// The trace's hex dump lines (`[1] >   0000  81 …`).
fn dump_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.contains("   0000  ") || line.contains("   0010  "))
        .collect()
}

#[test]
fn verbose_levels_show_more_and_more() {
    let preview_64 = format!("\"{}\"…", &LONG[..64]);
    let whole = format!("\"{LONG}\"");

    // -v: the handshake and each frame, its payload cut after 64 bytes (as before).
    let v = echo_long(&["-v"]).stderr;
    assert!(v.contains("> GET / HTTP/1.1"), "{v}");
    assert!(v.contains("> text 100 bytes "), "{v}");
    assert!(v.contains(&preview_64), "{v}");
    assert!(!v.contains(&whole), "{v}");
    assert!(dump_lines(&v).is_empty(), "{v}");

    // -vv: whole payloads, no bytes.
    let vv = echo_long(&["-vv"]).stderr;
    assert!(vv.contains("> GET / HTTP/1.1"), "{vv}");
    assert!(vv.contains(&format!("> text 100 bytes {whole}")), "{vv}");
    assert!(vv.contains(&format!("< text 100 bytes {whole}")), "{vv}");
    assert!(dump_lines(&vv).is_empty(), "{vv}");
    // --trace-bytes still wins.
    let cut = echo_long(&["-vv", "--trace-bytes", "4"]).stderr;
    assert!(cut.contains("> text 100 bytes \"0123\"…"), "{cut}");

    // -vvv: each frame's bytes as on the wire: FIN+text, mask bit + length 100, the mask key
    // 00000000 (so the payload reads as sent); the server's echo unmasked.
    let vvv = echo_long(&["-vvv"]).stderr;
    assert!(vvv.contains(&format!("> text 100 bytes {whole}")), "{vvv}");
    let dumps = dump_lines(&vvv);
    assert!(
        dumps
            .iter()
            .any(|line| line.ends_with(">   0000  81 e4 00 00 00 00 30 31 32 33 34 35 36 37 38 39")),
        "{vvv}"
    );
    assert!(
        dumps
            .iter()
            .any(|line| line.ends_with("<   0000  81 64 30 31 32 33 34 35 36 37 38 39 61 62 63 64")),
        "{vvv}"
    );
    // The close frames too: 88 82 (masked, 2 bytes) and the code 1000 (03 e8).
    assert!(
        dumps
            .iter()
            .any(|line| line.ends_with(">   0000  88 82 00 00 00 00 03 e8")),
        "{vvv}"
    );
}

/// A server that sends "one", "two", "three" 150 ms apart, then closes with 1000.
fn spaced_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (mut socket, _) =
            blocking::accept_with(stream, &ServerConfig::default(), |_| Ok(Accept::default()))
                .unwrap();
        for (at, text) in ["one", "two", "three"].into_iter().enumerate() {
            if at > 0 {
                thread::sleep(Duration::from_millis(150));
            }
            socket.send(Message::text(text)).unwrap();
        }
        socket.close(CloseCode::Normal, "").unwrap();
        while !matches!(socket.read(), Err(Error::ConnectionClosed) | Err(_)) {}
    });
    url
}

#[test]
fn timings_prefix_each_message_with_the_seconds_since_open() {
    let url = spaced_server();
    let mut client = connect(&url, &["--timings", "-n"]);
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect --timings");
    assert_eq!(finished.stdout.len(), 3, "{:?}", finished.stdout);
    let mut last = -1.0;
    for (line, text) in finished.stdout.iter().zip(["one", "two", "three"]) {
        let rest = line.strip_prefix("[+").unwrap_or_else(|| panic!("{line}"));
        let (seconds, message) = rest.split_once("s] ").unwrap_or_else(|| panic!("{line}"));
        assert_eq!(message, text, "{line}");
        let (whole, millis) = seconds.split_once('.').unwrap();
        assert!(!whole.is_empty() && millis.len() == 3, "{line}");
        let seconds: f64 = seconds.parse().unwrap();
        assert!(seconds > last, "{:?}", finished.stdout);
        if last >= 0.0 {
            assert!(seconds - last >= 0.1, "{:?}", finished.stdout);
        }
        last = seconds;
    }
    assert!(last < 10.0, "{:?}", finished.stdout);
}

#[test]
fn without_timings_a_pipe_gets_the_bare_messages() {
    let url = spaced_server();
    let mut client = connect(&url, &["-n"]);
    client.close_stdin();
    let finished = client.finish();
    finished.assert_success("sockeye connect");
    assert_eq!(finished.stdout, ["one", "two", "three"]);
}

#[test]
fn raw_conflicts_with_jsonl_and_timings_too() {
    for flags in [["--jsonl", "-r"], ["--jsonl", "--timings"]] {
        let mut client = connect("ws://127.0.0.1:9", &flags);
        client.close_stdin();
        let finished = client.finish();
        assert_eq!(
            finished.status.code(),
            Some(2),
            "{flags:?}: {}",
            finished.stderr
        );
        assert!(
            finished.stderr.contains("cannot be used with"),
            "{}",
            finished.stderr
        );
    }
}

#[test]
fn vvv_puts_the_bytes_in_the_json_trace_too() {
    let finished = echo_long(&["-vvv", "--trace-format", "json"]);
    let sent = finished
        .stderr
        .lines()
        .find(|line| line.contains("\"event\":\"frame\",\"dir\":\"sent\",\"opcode\":\"text\""))
        .unwrap_or_else(|| panic!("{}", finished.stderr));
    assert!(
        sent.contains("\"raw\":\"81 e4 00 00 00 00 30 31 32 33"),
        "{sent}"
    );
    assert!(sent.contains("\"raw_truncated\":false"), "{sent}");
}

/// What `sockeye connect URL -1 FLAGS` writes to a terminal (a pseudo-terminal from
/// util-linux's script(1)): CR LF line ends, as the terminal makes them.
fn on_a_terminal(url: &str, flags: &str) -> Vec<u8> {
    let command = format!(
        "{} connect {url} --connect-timeout 10 --handshake-timeout 10 -1 {flags}",
        env!("CARGO_BIN_EXE_sockeye")
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script(1) (util-linux; scripts/test.sh installs it)");
    assert!(output.status.success(), "{output:?}");
    output.stdout
}

#[test]
fn raw_and_timings_on_a_terminal() {
    let (_server, url) = serve(&[]);
    // Escaped on a terminal by default; -r writes the ESC byte itself.
    let text = "-t \"$(printf 'a\\033b')\"";
    assert_eq!(on_a_terminal(&url, text), b"a\\u{1b}b\r\n");
    assert_eq!(on_a_terminal(&url, &format!("-r {text}")), b"a\x1bb\r\n");
    // --timings on a terminal: the same prefix as in a pipe.
    let timed = String::from_utf8(on_a_terminal(&url, "--timings -t hi")).unwrap();
    let rest = timed
        .strip_prefix("[+")
        .unwrap_or_else(|| panic!("{timed:?}"));
    let (seconds, message) = rest
        .split_once("s] ")
        .unwrap_or_else(|| panic!("{timed:?}"));
    assert!(seconds.parse::<f64>().unwrap() < 10.0, "{timed:?}");
    assert_eq!(message, "hi\r\n");
}
