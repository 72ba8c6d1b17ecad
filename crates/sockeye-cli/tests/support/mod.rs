//! What the CLI tests share: the binary under test, and `sockeye serve` on 127.0.0.1.
//!
//! Each test file includes it with `mod support;` next to `mod common;` (the library's test
//! support, whose `Peer` runs and stops child processes).
#![allow(dead_code)] // Each test file uses its own part.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;

use sockeye::{blocking, Accept, ServerConfig};

use crate::common::{within_timeout, Finished, Peer, PEER_TIMEOUT};

/// The `sockeye` binary Cargo built for these tests, with `args`, and without the environment's
/// proxy variables (they would change the route).
pub(crate) fn sockeye(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sockeye"));
    command.args(args);
    for name in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        command.env_remove(name);
    }
    command
}

/// Starts `sockeye serve FLAGS…` (on 127.0.0.1, port 0, unless the flags say where) and returns
/// it with the URL its first line names.
pub(crate) fn serve(flags: &[&str]) -> (Peer, String) {
    let mut args = vec!["serve"];
    if !["--unix", "--listen", "-l"]
        .iter()
        .any(|flag| flags.contains(flag))
    {
        args.extend(["--listen", "127.0.0.1:0"]);
    }
    args.extend_from_slice(flags);
    let mut server = Peer::spawn("sockeye serve", sockeye(&args));
    let line = server.line();
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the first line names the URL: {line:?}"))
        .to_string();
    (server, url)
}

/// Panics unless the child exited with `code`, showing what it printed.
#[track_caller]
pub(crate) fn assert_exit(finished: &Finished, code: i32) {
    assert_eq!(
        finished.status.code(),
        Some(code),
        "exit status; stdout: {:?}\nstderr: {}",
        finished.stdout,
        finished.stderr
    );
}

/// A library server for one connection on 127.0.0.1: accepts the handshake with `config`,
/// runs `serve` on the connection and sends what it returns. Reads wait at most
/// [`PEER_TIMEOUT`].
pub(crate) fn one_connection<T: Send + 'static>(
    config: ServerConfig,
    serve: impl FnOnce(blocking::WebSocket<TcpStream>) -> T + Send + 'static,
) -> (String, mpsc::Receiver<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("ws://{}", listener.local_addr().expect("a local address"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(PEER_TIMEOUT))
            .expect("set a read timeout");
        let (socket, _) = blocking::accept_with(stream, &config, |_| Ok(Accept::default()))
            .expect("the handshake");
        let _ = tx.send(serve(socket));
    });
    (url, rx)
}

/// `sockeye connect URL FLAGS…` with bounded connect and handshake timeouts, stdin piped.
pub(crate) fn connect(url: &str, flags: &[&str]) -> Peer {
    Peer::spawn_with_stdin("sockeye connect", connect_command(url, flags))
}

fn connect_command(url: &str, flags: &[&str]) -> Command {
    let mut args = vec![
        "connect",
        url,
        "--connect-timeout",
        "10",
        "--handshake-timeout",
        "10",
    ];
    args.extend_from_slice(flags);
    sockeye(&args)
}

/// `sockeye connect URL FLAGS…` with `stdin` as its whole input, run to its end: its stdout
/// byte for byte (not lines, as [`Peer`] collects them), its stderr and its exit status.
pub(crate) fn connect_bytes(url: &str, flags: &[&str], stdin: &[u8]) -> Output {
    let mut child = connect_command(url, flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sockeye connect");
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // Written on a thread while stdout is read, so that neither pipe can fill up and stall;
    // stdin closes when the thread ends.
    thread::spawn(move || input.write_all(&stdin));
    let pid = child.id().to_string();
    within_timeout("sockeye connect", move || child.wait_with_output())
        .unwrap_or_else(|err| {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("{err}")
        })
        .expect("wait for sockeye connect")
}
