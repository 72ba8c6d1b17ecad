//! `sockeye connect` through proxies: `-x/--proxy`, `--noproxy`, `--ignore-proxy-env`, and the
//! proxy environment variables (`http_proxy`, `all_proxy`, `no_proxy`, upper and lower case),
//! against real proxies from Debian's packages (see `proxy_servers`) and an in-process sockeye
//! echo server, all on 127.0.0.1.
//!
//! Each `sockeye` process gets a clean proxy environment: the variables of the machine running
//! the tests are removed, and only those a test names are set.

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
#[path = "../../sockeye/tests/proxy_servers/mod.rs"]
mod proxy_servers;

use std::io::Write;
use std::process::Command;

use common::{Finished, Peer};
use proxy_servers::{closed_port, EchoServer, Proxy};

const ALICE: (&str, &str) = ("alice", "s3cret-pw");

const PROXY_VARIABLES: [&str; 9] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
];

/// `printf 'through a proxy\n' | sockeye connect URL FLAGS…` with exactly the proxy variables
/// in `env`.
fn run(url: &str, flags: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sockeye"));
    command.args([
        "connect",
        url,
        "--connect-timeout",
        "10",
        "--handshake-timeout",
        "10",
    ]);
    command.args(flags);
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut client = Peer::spawn_with_stdin("sockeye connect", command);
    // A connection that fails (a dead proxy) can end the process before this write: its
    // output says why, and the caller checks that.
    let _ = client.stdin().write_all(b"through a proxy\n");
    client.close_stdin();
    client.finish()
}

#[track_caller]
fn assert_echoed(finished: &Finished) {
    assert!(
        finished.status.success() && finished.stdout == ["through a proxy"],
        "expected the echo; status {}, stdout {:?}, stderr:\n{}",
        finished.status,
        finished.stdout,
        finished.stderr
    );
}

#[track_caller]
fn assert_failed_saying(finished: &Finished, parts: &[&str]) {
    assert_eq!(
        finished.status.code(),
        Some(3),
        "expected exit status 3; stdout {:?}, stderr:\n{}",
        finished.stdout,
        finished.stderr
    );
    for part in parts {
        assert!(
            finished.stderr.contains(part),
            "{part:?} missing from stderr:\n{}",
            finished.stderr
        );
    }
}

#[test]
fn proxy_flag_for_http_connect_and_socks() {
    let server = EchoServer::start();
    let url = server.url("127.0.0.1");
    let tinyproxy = Proxy::tinyproxy(server.port, Some(ALICE));
    assert_echoed(&run(
        &url,
        &["-x", &tinyproxy.url("http", Some(ALICE))],
        &[],
    ));
    assert_echoed(&run(
        &url,
        &["--proxy", &tinyproxy.url("http", Some(ALICE))],
        &[],
    ));
    // A proxy URL without a scheme is http://.
    let bare = tinyproxy.url("http", Some(ALICE)).replace("http://", "");
    assert_echoed(&run(&url, &["-x", &bare], &[]));
    let refused = run(&url, &["-x", &tinyproxy.url("http", None)], &[]);
    assert_failed_saying(
        &refused,
        &[
            "proxy stage",
            "407 Proxy Authentication Required",
            "put user:password@ in the proxy URL",
        ],
    );

    let microsocks = Proxy::microsocks(Some(ALICE));
    for scheme in ["socks5", "socks5h"] {
        let proxy = microsocks.url(scheme, Some(ALICE));
        assert_echoed(&run(&server.url("localhost"), &["-x", &proxy], &[]));
    }
    let refused = run(
        &url,
        &["-x", &microsocks.url("socks5", Some(("alice", "nope")))],
        &[],
    );
    assert_failed_saying(&refused, &["rejected the username and password"]);
    assert!(!refused.stderr.contains("nope"), "{}", refused.stderr);
}

#[test]
fn forbidden_port_is_reported_in_words() {
    let server = EchoServer::start();
    let proxy = Proxy::tinyproxy(closed_port(), None);
    let finished = run(
        &server.url("127.0.0.1"),
        &["-x", &proxy.url("http", None)],
        &[],
    );
    assert_failed_saying(
        &finished,
        &[
            "403 Access violation",
            "The CONNECT method not allowed with the port you tried to use",
        ],
    );
}

#[test]
fn environment_proxies_by_scheme_and_fallback() {
    let server = EchoServer::start();
    let url = server.url("127.0.0.1");
    let tinyproxy = Proxy::tinyproxy(server.port, Some(ALICE));
    let good = tinyproxy.url("http", Some(ALICE));
    let wrong = tinyproxy.url("http", Some(("alice", "wrong")));
    // Loopback goes direct unless a no_proxy list is set: set one that does not match.
    let no_proxy = ("no_proxy", "no-such-host.invalid");
    assert_echoed(&run(&url, &[], &[("http_proxy", &good), no_proxy]));
    // It really is the proxy: wrong credentials there make the connection fail, and the error
    // says where the proxy came from.
    let finished = run(&url, &[], &[("http_proxy", &wrong), no_proxy]);
    assert_failed_saying(
        &finished,
        &[
            "401 Unauthorized",
            "(from $http_proxy)",
            "alice:[redacted]@",
        ],
    );
    let finished = run(
        &url,
        &[],
        &[("HTTP_PROXY", &wrong), ("NO_PROXY", "x.invalid")],
    );
    assert_failed_saying(&finished, &["(from $HTTP_PROXY)"]);
    // Lower case wins over upper case.
    assert_echoed(&run(
        &url,
        &[],
        &[("http_proxy", &good), ("HTTP_PROXY", &wrong), no_proxy],
    ));
    // https_proxy is for wss:// only.
    assert_echoed(&run(&url, &[], &[("https_proxy", &wrong), no_proxy]));
    // all_proxy is the fallback, here a SOCKS5 proxy.
    let microsocks = Proxy::microsocks(Some(ALICE));
    let socks = microsocks.url("socks5h", Some(ALICE));
    assert_echoed(&run(&url, &[], &[("all_proxy", &socks), no_proxy]));
    let finished = run(
        &url,
        &[],
        &[
            (
                "ALL_PROXY",
                &microsocks.url("socks5h", Some(("alice", "x"))),
            ),
            no_proxy,
        ],
    );
    assert_failed_saying(&finished, &["(from $ALL_PROXY)", "rejected the username"]);
    // An invalid proxy variable is an error that names it.
    let finished = run(&url, &[], &[("http_proxy", "gopher://p:1"), no_proxy]);
    assert_failed_saying(&finished, &["unsupported proxy scheme", "http_proxy"]);
}

#[test]
fn no_proxy_noproxy_and_ignoring_the_environment() {
    let server = EchoServer::start();
    let url = server.url("127.0.0.1");
    // A proxy that cannot be reached: any connection that uses it fails.
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let uses_dead_proxy = ["cannot connect to proxy", "(from $http_proxy)"];
    let finished = run(
        &url,
        &[],
        &[("http_proxy", &dead), ("no_proxy", "x.invalid")],
    );
    assert_failed_saying(&finished, &uses_dead_proxy);
    // Without a no_proxy list, loopback goes direct.
    assert_echoed(&run(&url, &[], &[("http_proxy", &dead)]));
    // no_proxy entries: IP, CIDR, suffix, *, host with port; upper case too.
    for list in [
        "127.0.0.1",
        "10.0.0.0/8, 127.0.0.0/8",
        "*",
        &format!("127.0.0.1:{}", server.port),
    ] {
        assert_echoed(&run(
            &url,
            &[],
            &[("http_proxy", &dead), ("no_proxy", list)],
        ));
        assert_echoed(&run(
            &url,
            &[],
            &[("http_proxy", &dead), ("NO_PROXY", list)],
        ));
    }
    assert_echoed(&run(
        &server.url("localhost"),
        &[],
        &[("http_proxy", &dead), ("no_proxy", ".LOCALHOST")],
    ));
    let finished = run(
        &url,
        &[],
        &[("http_proxy", &dead), ("no_proxy", "127.0.0.1:1")],
    );
    assert_failed_saying(&finished, &uses_dead_proxy);
    // --noproxy replaces no_proxy; --ignore-proxy-env ignores every variable.
    let env = [("http_proxy", dead.as_str()), ("no_proxy", "x.invalid")];
    assert_echoed(&run(&url, &["--noproxy", "*"], &env));
    assert_echoed(&run(&url, &["--noproxy", "127.0.0.0/8"], &env));
    assert_echoed(&run(&url, &["--ignore-proxy-env"], &env));
}

#[test]
fn proxy_flag_with_no_proxy_as_curl() {
    let server = EchoServer::start();
    let url = server.url("127.0.0.1");
    let dead = format!("socks5://127.0.0.1:{}", closed_port());
    // -x replaces the proxy variables…
    let finished = run(
        &url,
        &["-x", &dead],
        &[("http_proxy", "http://127.0.0.1:9")],
    );
    assert_failed_saying(&finished, &["cannot connect to proxy", &dead]);
    // …but no_proxy still applies to it, as in curl,
    assert_echoed(&run(&url, &["-x", &dead], &[("no_proxy", "127.0.0.1")]));
    // unless --ignore-proxy-env,
    let finished = run(
        &url,
        &["-x", &dead, "--ignore-proxy-env"],
        &[("no_proxy", "127.0.0.1")],
    );
    assert_failed_saying(&finished, &["cannot connect to proxy"]);
    // and --noproxy replaces it.
    assert_echoed(&run(&url, &["-x", &dead, "--noproxy", "127.0.0.1"], &[]));
    // -x "" connects directly, whatever the environment says.
    assert_echoed(&run(
        &url,
        &["-x", ""],
        &[("http_proxy", &dead), ("no_proxy", "x.invalid")],
    ));
    // A bad proxy URL is a usage error of the connection (exit 3), without the password.
    let finished = run(&url, &["-x", "ftp://u:secret@p:21"], &[]);
    assert_failed_saying(&finished, &["unsupported proxy scheme \"ftp\""]);
    assert!(!finished.stderr.contains("secret"), "{}", finished.stderr);
}

#[test]
fn help_documents_the_proxy_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_sockeye"))
        .args(["connect", "--help"])
        .output()
        .expect("run sockeye connect --help");
    let help = String::from_utf8_lossy(&output.stdout);
    for part in [
        "-x, --proxy <URL>",
        "socks5h://",
        "--noproxy <LIST>",
        "--ignore-proxy-env",
        "$http_proxy",
        "$no_proxy",
    ] {
        assert!(help.contains(part), "{part:?} missing from --help:\n{help}");
    }
}
