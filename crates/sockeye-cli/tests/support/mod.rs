//! What the CLI tests share: the binary under test, and `sockeye serve` on 127.0.0.1.
//!
//! Each test file includes it with `mod support;` next to `mod common;` (the library's test
//! support, whose `Peer` runs and stops child processes).
#![allow(dead_code)] // Each test file uses its own part.

use std::process::Command;

use crate::common::Peer;

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
    if !flags.contains(&"--unix") && !flags.contains(&"--listen") {
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

/// `sockeye connect URL FLAGS…` with bounded connect and handshake timeouts, stdin piped.
pub(crate) fn connect(url: &str, flags: &[&str]) -> Peer {
    let mut args = vec![
        "connect",
        url,
        "--connect-timeout",
        "10",
        "--handshake-timeout",
        "10",
    ];
    args.extend_from_slice(flags);
    Peer::spawn_with_stdin("sockeye connect", sockeye(&args))
}
