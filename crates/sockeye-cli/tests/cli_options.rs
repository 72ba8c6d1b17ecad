//! `sockeye connect` options end to end, against servers these tests run in-process on
//! 127.0.0.1 (port 0) or on a Unix socket in a fresh temporary directory: curl-style handshake
//! flags, `--unix-socket`, `-L`/`--max-redirs`, `-m`/`--max-time`, `--handshake-timeout`,
//! `--frames`, `--slash` commands, `--close-code`/`--close-reason`, `--mask-key`,
//! `--no-utf8-check`, and `--no-compression` (of `connect`, `probe`, `bench` and `serve`).
//!
//! Every wait is bounded (see `common`); nothing sleeps to synchronise.
#![allow(clippy::unwrap_used)]

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Finished, Peer};
use sockeye::proto::handshake::accept_key;
use sockeye::{
    blocking, Accept, CloseCode, CloseFrame, Error, Frame, Message, OpCode, Reject, ServerConfig,
};
use support::{assert_exit, connect, serve, sockeye};

const LIMIT: Duration = Duration::from_secs(10);

/// Runs `sockeye connect` with `stdin` as its whole input.
fn run(url: &str, flags: &[&str], stdin: &str) -> Finished {
    let mut client = connect(url, flags);
    client.stdin().write_all(stdin.as_bytes()).unwrap();
    client.close_stdin();
    client.finish()
}

/// A sockeye server for one TCP connection: sends the request head it accepted, then runs
/// `serve` on the connection and sends what that returns.
fn server<T: Send + 'static>(
    serve: impl FnOnce(&mut blocking::WebSocket<TcpStream>) -> T + Send + 'static,
) -> (String, mpsc::Receiver<String>, mpsc::Receiver<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (head_tx, head) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let (mut socket, request) =
            blocking::accept_with(stream, &ServerConfig::default(), |_| Ok(Accept::default()))
                .unwrap();
        let _ = head_tx.send(String::from_utf8_lossy(&request.head).into_owned());
        let _ = done_tx.send(serve(&mut socket));
    });
    (url, head, done)
}

/// Echoes text and binary messages until the close handshake; returns the client's close.
fn echo(socket: &mut blocking::WebSocket<TcpStream>) -> Option<CloseFrame> {
    loop {
        match socket.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => socket.send(message).unwrap(),
            Ok(_) => {}
            Err(Error::ConnectionClosed) => {
                return socket.connection().close_received().cloned().flatten()
            }
            Err(err) => panic!("the server failed: {err}"),
        }
    }
}

fn header_lines(head: &str) -> Vec<&str> {
    head.split("\r\n").filter(|line| !line.is_empty()).collect()
}

#[test]
fn a_cookie_without_equals_is_sent_as_the_header_value() {
    // `-b chocolate`, as websocket-client's `cookie="chocolate"`: not a cookie file (curl).
    let (url, head, done) = server(echo);
    let finished = run(&url, &["-b", "chocolate", "-b", "a=1"], "hi\n");
    assert_exit(&finished, 0);
    assert_eq!(finished.stdout, ["hi"]);
    let head = head.recv_timeout(LIMIT).unwrap();
    assert!(
        header_lines(&head).contains(&"Cookie: chocolate; a=1"),
        "{head}"
    );
    done.recv_timeout(LIMIT).unwrap();
}

#[test]
fn curl_style_handshake_flags_arrive_as_given() {
    let (url, head, done) = server(echo);
    let finished = run(
        &format!("{url}/flags"),
        &[
            "-A",
            "probe/2",
            "-b",
            "a=1",
            "--cookie",
            "b=2",
            "-u",
            "alice:secret",
            "--origin",
            "http://origin.test",
            "-H",
            "X-One: 1",
            "--header",
            "X-One: 2",
            "-H",
            "Host: virtual.test",
            "--subprotocol",
            "p1",
            "--subprotocol",
            "p2",
        ],
        "hi\n",
    );
    assert_exit(&finished, 0);
    assert_eq!(finished.stdout, ["hi"]);
    let head = head.recv_timeout(LIMIT).unwrap();
    let lines = header_lines(&head);
    let position = |wanted: &str| {
        lines
            .iter()
            .position(|line| *line == wanted)
            .unwrap_or_else(|| panic!("{wanted:?} not in {lines:#?}"))
    };
    assert_eq!(position("GET /flags HTTP/1.1"), 0);
    assert_eq!(position("Host: virtual.test"), 1);
    position("Origin: http://origin.test");
    position("Sec-WebSocket-Protocol: p1, p2");
    position("User-Agent: probe/2");
    position("Cookie: a=1; b=2");
    // base64("alice:secret")
    position("Authorization: Basic YWxpY2U6c2VjcmV0");
    assert_eq!(position("X-One: 1") + 1, position("X-One: 2"));
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.starts_with("Host:"))
            .count(),
        1
    );
    assert_eq!(
        done.recv_timeout(LIMIT).unwrap().unwrap().code,
        CloseCode::Normal
    );

    // A bearer token, and the default User-Agent.
    let (url, head, _done) = server(echo);
    let finished = run(&url, &["--oauth2-bearer", "t0k3n"], "");
    assert_exit(&finished, 0);
    let head = head.recv_timeout(LIMIT).unwrap();
    let lines = header_lines(&head);
    assert!(lines.contains(&"Authorization: Bearer t0k3n"), "{lines:#?}");
    let user_agent = format!("User-Agent: sockeye/{}", env!("CARGO_PKG_VERSION"));
    assert!(lines.contains(&user_agent.as_str()), "{lines:#?}");
}

#[test]
fn header_values_with_line_breaks_are_refused_before_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    for flags in [
        ["-A", "ua\rX-Evil: 1"],
        ["-b", "a=1\nX-Evil: 1"],
        ["-H", "Host: h\r\nX-Evil: 1"],
    ] {
        let finished = run(&url, &flags, "");
        assert_exit(&finished, 3);
        assert!(
            finished.stderr.contains("refusing to send header"),
            "{}",
            finished.stderr
        );
    }
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "nothing may have connected");
}

#[cfg(unix)]
mod unix_socket {
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;

    use super::*;

    /// A sockeye echo server for one connection on a fresh Unix socket; returns its path and
    /// a receiver of (request target, Host header).
    fn unix_server(name: &str) -> (PathBuf, mpsc::Receiver<(String, String)>) {
        let dir =
            std::env::temp_dir().join(format!("sockeye-cli-unix-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ws.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            let (mut socket, request) =
                blocking::accept_with(stream, &ServerConfig::default(), |_| Ok(Accept::default()))
                    .unwrap();
            let host = request.headers.get("Host").unwrap_or("").to_string();
            let _ = tx.send((request.target, host));
            while let Ok(message) = socket.read() {
                if let Message::Text(_) = message {
                    socket.send(message).unwrap();
                }
            }
            let _ = std::fs::remove_dir_all(dir);
        });
        (path, rx)
    }

    #[test]
    fn unix_socket_flag_with_a_ws_url() {
        let (path, seen) = unix_server("flag");
        let finished = run(
            "ws://svc.local/chat",
            &["--unix-socket", path.to_str().unwrap()],
            "over unix\n",
        );
        assert_exit(&finished, 0);
        assert_eq!(finished.stdout, ["over unix"]);
        assert_eq!(
            seen.recv_timeout(LIMIT).unwrap(),
            ("/chat".to_string(), "svc.local".to_string())
        );
    }

    #[test]
    fn ws_unix_url() {
        let (path, seen) = unix_server("url");
        let url = format!("ws+unix://{}:/x?y=1", path.display());
        let finished = run(&url, &[], "via the url\n");
        assert_exit(&finished, 0);
        assert_eq!(finished.stdout, ["via the url"]);
        assert_eq!(
            seen.recv_timeout(LIMIT).unwrap(),
            ("/x?y=1".to_string(), "localhost".to_string())
        );
    }
}

/// A server that answers `/old` with `status` and `Location: /new`, and accepts `/new`.
fn redirecting_server(connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for _ in 0..connections {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            let accepted = blocking::accept_with(stream, &ServerConfig::default(), |request| {
                match request.target.as_str() {
                    "/old" => Err(Reject::new(301, "moved").header("Location", "/new")),
                    _ => Ok(Accept::default()),
                }
            });
            if let Ok((mut socket, _)) = accepted {
                thread::spawn(move || {
                    while let Ok(message) = socket.read() {
                        if let Message::Text(_) = message {
                            let _ = socket.send(message);
                        }
                    }
                });
            }
        }
    });
    url
}

#[test]
fn location_follows_redirects_and_max_redirs_bounds_them() {
    let url = redirecting_server(2);
    let finished = run(&format!("{url}/old"), &["-L"], "moved along\n");
    assert_exit(&finished, 0);
    assert_eq!(finished.stdout, ["moved along"]);

    // Not followed without -L: exit 3, and the error names the Location and the flag.
    let url = redirecting_server(1);
    let finished = run(&format!("{url}/old"), &[], "");
    assert_exit(&finished, 3);
    assert!(finished.stderr.contains("301"), "{}", finished.stderr);
    assert!(finished.stderr.contains("\"/new\""), "{}", finished.stderr);
    assert!(finished.stderr.contains("-L"), "{}", finished.stderr);

    let url = redirecting_server(1);
    let finished = run(
        &format!("{url}/old"),
        &["--location", "--max-redirs", "0"],
        "",
    );
    assert_exit(&finished, 3);
    assert!(
        finished.stderr.contains("more than 0 redirects"),
        "{}",
        finished.stderr
    );
}

#[test]
fn max_time_ends_a_stuck_connection_with_exit_28() {
    // Accepted by the kernel, never answered.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let started = Instant::now();
    let args = ["connect", &url, "--handshake-timeout", "0", "-m", "0.5"];
    let finished = Peer::spawn("sockeye connect -m", sockeye(&args)).finish();
    let took = started.elapsed();
    assert_exit(&finished, 28);
    assert!(
        finished.stderr.contains("--max-time"),
        "{}",
        finished.stderr
    );
    assert!(
        took >= Duration::from_millis(450) && took < LIMIT,
        "took {took:?}"
    );
    drop(listener);
}

#[test]
fn handshake_timeout_flag_names_the_stage() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let args = ["connect", &url, "--handshake-timeout", "0.3"];
    let finished = Peer::spawn("sockeye connect", sockeye(&args)).finish();
    assert_exit(&finished, 3);
    assert!(
        finished.stderr.contains("timed out after 300ms"),
        "{}",
        finished.stderr
    );
    drop(listener);
}

#[test]
fn frames_flag_prints_every_frame() {
    let (url, _head, _done) = server(|socket| {
        for frame in [
            Frame::new(OpCode::Text, &b"he"[..]).with_fin(false),
            Frame::new(OpCode::Ping, &b"p"[..]),
            Frame::new(OpCode::Continuation, &b"llo"[..]),
            Frame::new(OpCode::Binary, vec![0xde, 0xad]).with_rsv(0),
        ] {
            socket.send_raw_frame(&frame).unwrap();
        }
        socket.close(CloseCode::Normal, "bye").map(drop)
    });
    let mut client = connect(&url, &["--frames"]);
    let lines: Vec<String> = (0..5).map(|_| client.line()).collect();
    assert_eq!(
        lines,
        [
            "frame 0x1 text fin=0 rsv=000 len=2 \"he\"",
            "frame 0x9 ping fin=1 rsv=000 len=1 \"p\"",
            "frame 0x0 continuation fin=1 rsv=000 len=3 \"llo\"",
            "frame 0x2 binary fin=1 rsv=000 len=2 de ad",
            "frame 0x8 close fin=1 rsv=000 len=5 1000 (normal) \"bye\"",
        ]
    );
    let finished = client.finish();
    assert_exit(&finished, 0);
}

#[test]
fn slash_commands_send_raw_frames_and_the_servers_1002_is_shown() {
    let (url, _head, done) = server(|socket| socket.read().unwrap_err());
    let finished = run(&url, &["--slash"], "/frame opcode=0x3 fin=1 rsv=0 hex=01\n");
    assert_exit(&finished, 4);
    assert!(
        finished
            .stderr
            .contains("the server closed with 1002 (protocol error)"),
        "{}",
        finished.stderr
    );
    let server_saw = done.recv_timeout(LIMIT).unwrap();
    assert!(
        matches!(
            server_saw,
            Error::Protocol(sockeye::ProtocolError::ReservedOpcode(3))
        ),
        "{server_saw:?}"
    );
}

#[test]
fn slash_commands_ping_binary_and_close() {
    let (url, _head, done) = server(|socket| {
        let mut seen = Vec::new();
        loop {
            match socket.read() {
                Ok(Message::Close(frame)) => {
                    seen.push(format!(
                        "close {:?}",
                        frame.map(|f| (f.code.as_u16(), f.reason))
                    ));
                }
                Ok(message) => seen.push(format!("{message:?}")),
                Err(_) => return seen,
            }
        }
    });
    let finished = run(
        &url,
        &["--slash", "-v"],
        "/ping hey\n//not a command\n/binary 01 02\n/nope\n/close 4002 done here\nnot sent\n",
    );
    assert_exit(&finished, 0);
    assert!(
        finished.stderr.contains("unknown command /nope"),
        "{}",
        finished.stderr
    );
    let seen = done.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        seen,
        [
            "Ping(b\"hey\")",
            "Text(\"/not a command\")",
            "Binary(b\"\\x01\\x02\")",
            "close Some((4002, \"done here\"))",
        ]
    );
}

#[test]
fn close_code_and_reason_flags_reach_the_server_and_its_code_is_printed() {
    let (url, _head, done) = server(echo);
    let finished = run(
        &url,
        &["--close-code", "4000", "--close-reason", "bye now"],
        "",
    );
    // The server echoed 4000: the close sockeye asked for, so a normal end, reported anyway.
    assert_exit(&finished, 0);
    assert!(
        finished
            .stderr
            .contains("the server closed with 4000 (private use)"),
        "{}",
        finished.stderr
    );
    let seen = done.recv_timeout(LIMIT).unwrap().unwrap();
    assert_eq!(
        (seen.code.as_u16(), seen.reason.as_str()),
        (4000, "bye now")
    );

    let finished = run(&url, &["--close-code", "1005"], "");
    assert_exit(&finished, 3);
    assert!(
        finished.stderr.contains("--close-code"),
        "{}",
        finished.stderr
    );
}

#[test]
fn mask_key_flag_is_used_on_the_wire() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (tx, first_frame) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let mut received = Vec::new();
        let mut chunk = [0u8; 1024];
        let head_end = loop {
            let read = stream.read(&mut chunk).unwrap();
            assert!(read > 0);
            received.extend_from_slice(&chunk[..read]);
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
        };
        let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
        let key = head
            .split("\r\n")
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_string();
        write!(
            stream,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        )
        .unwrap();
        let mut frame = received.split_off(head_end);
        while frame.len() < 11 {
            let read = stream.read(&mut chunk).unwrap();
            assert!(read > 0);
            frame.extend_from_slice(&chunk[..read]);
        }
        let _ = tx.send(frame[..11].to_vec());
        // A normal close, and the end of the connection.
        let _ = stream.write_all(b"\x88\x02\x03\xe8");
    });
    let finished = run(&url, &["--mask-key", "00000000"], "hello\n");
    assert_eq!(
        first_frame.recv_timeout(LIMIT).unwrap(),
        b"\x81\x85\0\0\0\0hello",
        "stderr: {}",
        finished.stderr
    );

    let finished = run(&url, &["--mask-key", "xyz"], "");
    assert_exit(&finished, 3);
    assert!(
        finished.stderr.contains("8 hex digits"),
        "{}",
        finished.stderr
    );
}

#[test]
fn no_utf8_check_flag_prints_invalid_text_instead_of_failing() {
    let invalid = || Frame::new(OpCode::Text, &b"ok \xff"[..]);
    let (url, _head, _done) = server(move |socket| {
        socket.send_raw_frame(&invalid()).unwrap();
        socket.close(CloseCode::Normal, "").map(drop)
    });
    let mut client = connect(&url, &["--no-utf8-check"]);
    assert_eq!(client.line(), "ok \u{fffd}");
    assert_exit(&client.finish(), 0);

    let (url, _head, _done) = server(move |socket| {
        socket.send_raw_frame(&invalid()).unwrap();
        let _ = socket.read();
    });
    let finished = connect(&url, &[]).finish();
    assert_exit(&finished, 4);
    assert!(finished.stderr.contains("UTF-8"), "{}", finished.stderr);
}

/// Sends an upgrade request offering permessage-deflate (as Chromium does) to the ws:// `url`
/// over a plain TcpStream and returns the response head.
fn handshake_offering_deflate(url: &str) -> String {
    let address = url.strip_prefix("ws://").unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "the head ended early: {head:?}"
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

fn has_extensions_header(head: &str) -> bool {
    head.to_ascii_lowercase()
        .contains("\r\nsec-websocket-extensions:")
}

#[test]
fn no_compression_flag_leaves_the_deflate_offer_out_of_the_request() {
    // By default the offer is in the request the server received and in the -v trace.
    let (url, head, _done) = server(echo);
    let finished = run(&url, &["-v"], "hi\n");
    assert_exit(&finished, 0);
    assert!(finished.stdout.contains(&"hi".to_string()), "{finished:?}");
    let head = head.recv_timeout(LIMIT).unwrap();
    assert!(
        header_lines(&head)
            .contains(&"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"),
        "{head}"
    );
    assert!(
        finished
            .stderr
            .contains("> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"),
        "{}",
        finished.stderr
    );
    assert!(
        finished
            .stderr
            .contains("open (extensions: permessage-deflate"),
        "{}",
        finished.stderr
    );

    // --no-compression: no offer at all, and the session still works (uncompressed).
    let (url, head, _done) = server(echo);
    let finished = run(&url, &["-v", "--no-compression"], "hi\n");
    assert_exit(&finished, 0);
    assert!(finished.stdout.contains(&"hi".to_string()), "{finished:?}");
    let head = head.recv_timeout(LIMIT).unwrap();
    assert!(!has_extensions_header(&head), "{head}");
    assert!(
        finished.stderr.contains("> GET / HTTP/1.1"),
        "{}",
        finished.stderr
    );
    assert!(
        !finished.stderr.contains("Sec-WebSocket-Extensions"),
        "{}",
        finished.stderr
    );
}

#[test]
fn probe_and_bench_take_no_compression_too() {
    let (url, head, _done) = server(echo);
    let probe = sockeye(&[
        "probe",
        &url,
        "--no-compression",
        "--connect-timeout",
        "10",
        "--handshake-timeout",
        "10",
    ]);
    assert_exit(&Peer::spawn("sockeye probe", probe).finish(), 0);
    let head = head.recv_timeout(LIMIT).unwrap();
    assert!(!has_extensions_header(&head), "{head}");

    // bench offers nothing by default; the flag says so explicitly and contradicts --deflate.
    let (_server, url) = serve(&[]);
    let bench = |flags: &[&str]| {
        let mut args = vec![
            "bench",
            &url,
            "-n",
            "20",
            "--json",
            "--connect-timeout",
            "10",
        ];
        args.extend_from_slice(flags);
        Peer::spawn("sockeye bench", sockeye(&args)).finish()
    };
    let finished = bench(&["--no-compression"]);
    assert_exit(&finished, 0);
    let report: serde_json::Value = serde_json::from_str(&finished.stdout[0]).unwrap();
    assert_eq!(report["compressed_connections"], 0, "{report}");
    let finished = bench(&["--no-compression", "--deflate"]);
    assert_exit(&finished, 2);
    assert!(
        finished.stderr.contains("cannot be used with"),
        "{}",
        finished.stderr
    );
}

#[test]
fn serve_no_compression_flag_declines_the_offer() {
    // By default `sockeye serve` accepts the offer.
    let (_server, url) = serve(&[]);
    let response = handshake_offering_deflate(&url);
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    assert!(
        header_lines(&response)
            .iter()
            .any(|line| line.starts_with("Sec-WebSocket-Extensions: permessage-deflate")),
        "{response}"
    );

    // With --no-compression it opens the connection without the extension.
    let (_server, url) = serve(&["--no-compression"]);
    let response = handshake_offering_deflate(&url);
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    assert!(!has_extensions_header(&response), "{response}");

    // The library's client offers it by default, and runs uncompressed with this server.
    let (mut socket, response) = blocking::connect(&url).unwrap();
    assert!(response.extensions.is_empty(), "{response:?}");
    assert!(response.deflate.is_none(), "{response:?}");
    assert!(socket.connection().deflate().is_none());
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    let text = "compressible ".repeat(100);
    socket.send(Message::text(text.clone())).unwrap();
    assert_eq!(socket.read().unwrap(), Message::text(text));
    socket.close(CloseCode::Normal, "").unwrap();
}
