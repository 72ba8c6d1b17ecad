//! Proxies, against real servers from Debian's packages (`proxy_servers`): HTTP `CONNECT`
//! through tinyproxy and squid (with and without Basic authentication, refusals), an `https://`
//! proxy (squid's `https_port`), SOCKS4, SOCKS5 and SOCKS5h through dante (also with
//! username/password against a system account), SOCKS5 through microsocks, and SOCKS4a through
//! OpenSSH's `ssh -D`. Both front-ends; every refusal must say what the proxy said.
//!
//! Python `websocket-client` goes through the same proxies with the same URLs
//! (`peers/wsclient_proxy.py`), to show that the configurations are real proxies doing real
//! work, not something only sockeye gets through.
//!
//! The WebSocket server behind the proxies is an in-process sockeye echo server. Everything
//! listens on 127.0.0.1; every wait is bounded.

mod common;
mod proxy_servers;
mod tls_support;

use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use common::{python_peer, Peer, IO_TIMEOUT};
use proxy_servers::{closed_port, EchoServer, Proxy, SYSTEM_PASSWORD, SYSTEM_USER};
use sockeye::transport::proxy::ProxyError;
use sockeye::{blocking, ClientConfig, CloseCode, Error, Message, ProxyConfig, Stage, TlsOptions};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const ALICE: (&str, &str) = ("alice", "s3cret-pw");
const WRONG: (&str, &str) = ("alice", "not-the-password");

/// Options for `url` through the proxy at `proxy`, with bounded times.
fn through(url: &str, proxy: &str) -> ClientConfig {
    ClientConfig::new(url)
        .expect("a valid ws:// URL")
        .proxy(ProxyConfig::url(proxy).expect("a valid proxy URL"))
        .connect_timeout(Some(IO_TIMEOUT))
        .handshake_timeout(Some(IO_TIMEOUT))
        .io_timeouts(Some(IO_TIMEOUT), Some(IO_TIMEOUT))
}

/// Connects (blocking), sends one text message, returns its echo, closes normally.
fn echo(config: ClientConfig) -> Result<String, Error> {
    let (mut socket, response) = blocking::connect_with(config)?;
    assert_eq!(response.status, 101);
    socket.send_text("hello through the proxy")?;
    let reply = match socket.read()? {
        Message::Text(text) => text.as_str().to_string(),
        other => panic!("expected the text echo, got {other:?}"),
    };
    socket.close(CloseCode::Normal, "done")?;
    Ok(reply)
}

/// The same with the tokio front-end.
fn echo_tokio(config: ClientConfig) -> Result<String, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let work = async {
            let (mut socket, response) = sockeye::tokio::connect_async_with(config).await?;
            assert_eq!(response.status, 101);
            socket
                .send(Message::text("hello through the proxy"))
                .await?;
            let reply = match socket.read().await? {
                Message::Text(text) => text.as_str().to_string(),
                other => panic!("expected the text echo, got {other:?}"),
            };
            socket.close(CloseCode::Normal, "done").await?;
            Ok(reply)
        };
        tokio::time::timeout(IO_TIMEOUT * 2, work)
            .await
            .expect("the tokio client finished in time")
    })
}

#[track_caller]
fn assert_echoes(result: Result<String, Error>, proxy: &Proxy) {
    match result {
        Ok(reply) => assert_eq!(reply, "hello through the proxy"),
        Err(err) => panic!(
            "no echo through {} ({} stage): {err}\n{}",
            proxy.name,
            err.stage(),
            proxy.logs()
        ),
    }
}

/// The error of a connection that must fail, with its message.
#[track_caller]
fn refused(config: ClientConfig) -> (Error, String) {
    match echo(config) {
        Ok(reply) => panic!("expected a failure, got the echo {reply:?}"),
        Err(err) => {
            let text = err.to_string();
            (err, text)
        }
    }
}

#[track_caller]
fn assert_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
}

/// Runs `peers/wsclient_proxy.py URL PROXY` (Python websocket-client through the proxy).
fn python_through(url: &str, proxy: &str) -> common::Finished {
    Peer::spawn(
        "wsclient_proxy.py",
        python_peer("wsclient_proxy.py", &[url, proxy]),
    )
    .finish()
}

#[track_caller]
fn assert_python_echoes(url: &str, proxy_url: &str, proxy: &Proxy) {
    let finished = python_through(url, proxy_url);
    assert!(
        finished.status.success(),
        "websocket-client through {proxy_url} failed: {:?}\n{}\n{}",
        finished.stdout,
        finished.stderr,
        proxy.logs()
    );
    let scheme = proxy_url.split("://").next().unwrap_or_default();
    assert_eq!(
        finished.events("echo"),
        vec![vec![format!("websocket-client via {scheme}")]]
    );
}

#[track_caller]
fn assert_python_fails(url: &str, proxy_url: &str) -> String {
    let finished = python_through(url, proxy_url);
    assert_eq!(
        finished.status.code(),
        Some(2),
        "websocket-client should fail through {proxy_url}: {:?} {}",
        finished.stdout,
        finished.stderr
    );
    finished.stdout.join("\n")
}

// ---------------------------------------------------------------------------------------------
// HTTP CONNECT: tinyproxy
// ---------------------------------------------------------------------------------------------

#[test]
fn tinyproxy_connect_without_credentials() {
    let server = EchoServer::start();
    let proxy = Proxy::tinyproxy(server.port, None);
    let url = server.url("127.0.0.1");
    let proxy_url = proxy.url("http", None);
    assert_echoes(echo(through(&url, &proxy_url)), &proxy);
    assert_echoes(echo_tokio(through(&url, &proxy_url)), &proxy);
    assert_python_echoes(&url, &proxy_url, &proxy);
}

#[test]
fn tinyproxy_basic_auth() {
    let server = EchoServer::start();
    let proxy = Proxy::tinyproxy(server.port, Some(ALICE));
    let url = server.url("127.0.0.1");
    let proxy_url = proxy.url("http", Some(ALICE));
    assert_echoes(echo(through(&url, &proxy_url)), &proxy);
    assert_echoes(echo_tokio(through(&url, &proxy_url)), &proxy);
    assert_python_echoes(&url, &proxy_url, &proxy);
    // The same client without the credentials is refused: websocket-client goes through the
    // proxy, it does not reach the server some other way.
    let output = assert_python_fails(&url, &proxy.url("http", None));
    assert!(output.contains("407"), "{output}");
}

#[test]
fn tinyproxy_without_credentials_says_407_and_how_to_log_in() {
    let server = EchoServer::start();
    let proxy = Proxy::tinyproxy(server.port, Some(ALICE));
    let (err, text) = refused(through(&server.url("127.0.0.1"), &proxy.url("http", None)));
    assert_eq!(err.stage(), Stage::Proxy);
    assert!(
        matches!(&err, Error::Proxy { reason, .. } if matches!(**reason, ProxyError::HttpRefused { status: 407, .. })),
        "{err:?}"
    );
    assert_says(
        &text,
        &[
            "407 Proxy Authentication Required",
            "Basic realm=\"Tinyproxy\"",
            "This proxy requires authentication",
            "put user:password@ in the proxy URL",
            &proxy.url("http", None),
        ],
    );
    let (_, tokio_text) =
        match echo_tokio(through(&server.url("127.0.0.1"), &proxy.url("http", None))) {
            Ok(reply) => panic!("expected a failure, got {reply:?}"),
            Err(err) => (err.stage(), err.to_string()),
        };
    assert_says(&tokio_text, &["407 Proxy Authentication Required"]);
}

#[test]
fn tinyproxy_wrong_credentials_names_the_status_and_hides_the_password() {
    let server = EchoServer::start();
    let proxy = Proxy::tinyproxy(server.port, Some(ALICE));
    let (err, text) = refused(through(
        &server.url("127.0.0.1"),
        &proxy.url("http", Some(WRONG)),
    ));
    assert_eq!(err.stage(), Stage::Proxy);
    assert_says(
        &text,
        &[
            "401 Unauthorized",
            "rejected the credentials",
            "http://alice:[redacted]@127.0.0.1",
        ],
    );
    assert!(!text.contains(WRONG.1), "the password leaked: {text}");
}

#[test]
fn tinyproxy_forbidden_port_says_why() {
    let server = EchoServer::start();
    // The proxy allows CONNECT to another port only.
    let proxy = Proxy::tinyproxy(closed_port(), None);
    let (err, text) = refused(through(&server.url("127.0.0.1"), &proxy.url("http", None)));
    assert_eq!(err.stage(), Stage::Proxy);
    assert_says(
        &text,
        &[
            "403 Access violation",
            &format!("CONNECT 127.0.0.1:{}", server.port),
            "The CONNECT method not allowed with the port you tried to use",
            "allow CONNECT only to port 443",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP CONNECT: squid, also as an https:// proxy
// ---------------------------------------------------------------------------------------------

#[test]
fn squid_basic_auth_and_wrong_credentials() {
    let server = EchoServer::start();
    let proxy = Proxy::squid(server.port, Some(ALICE), None);
    let url = server.url("127.0.0.1");
    assert_echoes(echo(through(&url, &proxy.url("http", Some(ALICE)))), &proxy);
    assert_echoes(
        echo_tokio(through(&url, &proxy.url("http", Some(ALICE)))),
        &proxy,
    );
    assert_python_echoes(&url, &proxy.url("http", Some(ALICE)), &proxy);

    let (err, text) = refused(through(&url, &proxy.url("http", Some(WRONG))));
    assert_eq!(err.stage(), Stage::Proxy);
    assert_says(
        &text,
        &[
            "407 Proxy Authentication Required",
            "X-Squid-Error: ERR_CACHE_ACCESS_DENIED",
            "Basic realm=\"sockeye-test\"",
            "rejected the credentials",
        ],
    );
    let (_, text) = refused(through(&url, &proxy.url("http", None)));
    assert_says(&text, &["407", "put user:password@ in the proxy URL"]);
}

#[test]
fn squid_forbidden_port_and_unreachable_destination() {
    let server = EchoServer::start();
    let nothing_there = closed_port();
    let proxy = Proxy::squid(nothing_there, None, None);
    // The echo server's port is not in the proxy's allowed ports.
    let (err, text) = refused(through(&server.url("127.0.0.1"), &proxy.url("http", None)));
    assert_eq!(err.stage(), Stage::Proxy);
    assert_says(
        &text,
        &[
            "403 Forbidden",
            "X-Squid-Error: ERR_ACCESS_DENIED",
            "Access Denied",
            "allow CONNECT only to port 443",
        ],
    );
    // An allowed port where nothing listens: the proxy cannot reach it.
    let url = format!("ws://127.0.0.1:{nothing_there}/");
    let (_, text) = refused(through(&url, &proxy.url("http", None)));
    assert_says(
        &text,
        &[
            "503 Service Unavailable",
            "ERR_CONNECT_FAIL",
            "Connection refused",
            "could not reach the destination",
        ],
    );
}

/// A self-signed certificate for 127.0.0.1 and localhost, as PEM (certificate, key).
fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("make a certificate");
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

#[test]
fn https_proxy_speaks_tls_to_the_proxy() {
    let server = EchoServer::start();
    let proxy = Proxy::squid(server.port, Some(ALICE), Some(self_signed()));
    let ca = proxy.ca_file.clone().expect("the proxy's certificate");
    let url = server.url("127.0.0.1");
    let proxy_url = proxy.url("https", Some(ALICE));
    let trusted = |config: ClientConfig| config.tls(TlsOptions::new().ca_file(&ca));
    assert_echoes(echo(trusted(through(&url, &proxy_url))), &proxy);
    assert_echoes(echo_tokio(trusted(through(&url, &proxy_url))), &proxy);
    // Refusals come through the TLS layer in words, too.
    let (_, text) = refused(trusted(through(&url, &proxy.url("https", Some(WRONG)))));
    assert_says(
        &text,
        &[
            "407 Proxy Authentication Required",
            "https://alice:[redacted]@",
        ],
    );
    // Without the proxy's CA, its certificate is not trusted: a TLS error, never plain text.
    let (err, text) = refused(through(&url, &proxy_url));
    assert_eq!(err.stage(), Stage::Tls, "{text}");
    // http:// to the TLS port: the proxy's answer is not HTTP.
    let (err, text) = refused(trusted(through(&url, &proxy.url("http", Some(ALICE)))));
    assert_eq!(err.stage(), Stage::Proxy, "{text}");
    assert_says(&text, &["use an https:// proxy URL"]);
}

#[test]
fn wss_through_http_socks_and_https_proxies() {
    use rustls::version::{TLS12, TLS13};
    use tls_support::pki::{Ca, TestDir};
    use tls_support::server::{server_config, EchoServer as TlsEchoServer};

    let ca = Ca::new("sockeye proxy test CA");
    let leaf = ca.server_cert(&["localhost", "127.0.0.1"]);
    let server = TlsEchoServer::start(server_config(&leaf, None, &[&TLS13, &TLS12]));
    let port = server.addr.port();
    let tinyproxy = Proxy::tinyproxy(port, None);
    let dante = Proxy::dante(closed_port(), false);
    let squid = Proxy::squid(port, Some(ALICE), Some(self_signed()));
    // One CA file that trusts both the WebSocket server's CA and the https:// proxy.
    let dir = TestDir::new("proxy-cas");
    let squid_ca = std::fs::read_to_string(squid.ca_file.as_ref().expect("a certificate"))
        .expect("read the proxy's certificate");
    let cas = dir.write("cas.pem", &format!("{}{squid_ca}", ca.cert_pem));
    let cases = [
        (&tinyproxy, tinyproxy.url("http", None)),
        (&dante, dante.url("socks5h", None)),
        (&dante, dante.url("socks5", None)),
        // TLS to the proxy, and TLS to the server inside it.
        (&squid, squid.url("https", Some(ALICE))),
    ];
    for (proxy, proxy_url) in cases {
        let config =
            || through(&server.url("localhost"), &proxy_url).tls(TlsOptions::new().ca_file(&cas));
        assert_echoes(echo(config()), proxy);
        // The TLS handshake through the tunnel is with the WebSocket server, by its name.
        let seen = server.next_seen();
        assert_eq!(seen.sni.as_deref(), Some("localhost"), "{proxy_url}");
        assert!(seen.handshake.is_ok(), "{seen:?}");
        assert_echoes(echo_tokio(config()), proxy);
        assert_eq!(server.next_seen().sni.as_deref(), Some("localhost"));
    }
}

// ---------------------------------------------------------------------------------------------
// SOCKS: dante
// ---------------------------------------------------------------------------------------------

#[test]
fn dante_socks4_socks5_and_socks5h() {
    let server = EchoServer::start();
    let proxy = Proxy::dante(closed_port(), false);
    for (scheme, host) in [
        ("socks4", "127.0.0.1"),
        // Resolved here, sent as an IPv4 address.
        ("socks4", "localhost"),
        ("socks5", "127.0.0.1"),
        ("socks5", "localhost"),
        // Sent as a name, resolved by dante.
        ("socks5h", "localhost"),
    ] {
        let url = server.url(host);
        let proxy_url = proxy.url(scheme, None);
        assert_echoes(echo(through(&url, &proxy_url)), &proxy);
        assert_echoes(echo_tokio(through(&url, &proxy_url)), &proxy);
        assert_python_echoes(&url, &proxy_url, &proxy);
    }
}

#[test]
fn dante_refusals_give_the_socks_reply_and_its_meaning() {
    let server = EchoServer::start();
    let proxy = Proxy::dante(server.port, false);
    let url = server.url("127.0.0.1");
    let (err, text) = refused(through(&url, &proxy.url("socks5", None)));
    assert_eq!(err.stage(), Stage::Proxy);
    assert!(
        matches!(&err, Error::Proxy { reason, .. } if matches!(**reason, ProxyError::Socks5Refused { code: 2, .. })),
        "{err:?}"
    );
    assert_says(
        &text,
        &[
            "reply 0x02, connection not allowed by ruleset",
            "rules forbid this destination",
        ],
    );
    let (err, text) = refused(through(&url, &proxy.url("socks4", None)));
    assert_eq!(err.stage(), Stage::Proxy);
    assert_says(&text, &["reply 91", "request rejected or failed"]);
    // Nothing listens: SOCKS5 says "connection refused".
    let url = format!("ws://127.0.0.1:{}/", closed_port());
    let (_, text) = refused(through(&url, &proxy.url("socks5", None)));
    assert_says(
        &text,
        &["connection refused", "nothing listens on that port"],
    );
}

#[test]
fn dante_socks5_username_and_password_of_a_system_account() {
    let server = EchoServer::start();
    let proxy = Proxy::dante(closed_port(), true);
    let url = server.url("127.0.0.1");
    let account = (SYSTEM_USER, SYSTEM_PASSWORD);
    for scheme in ["socks5", "socks5h"] {
        let proxy_url = proxy.url(scheme, Some(account));
        assert_echoes(echo(through(&url, &proxy_url)), &proxy);
        assert_echoes(echo_tokio(through(&url, &proxy_url)), &proxy);
        assert_python_echoes(&url, &proxy_url, &proxy);
    }
    let (err, text) = refused(through(
        &url,
        &proxy.url("socks5", Some((SYSTEM_USER, "wrong"))),
    ));
    assert_eq!(err.stage(), Stage::Proxy);
    assert_says(
        &text,
        &["rejected the username and password", "check the user name"],
    );
    let (_, text) = refused(through(&url, &proxy.url("socks5", None)));
    assert_says(
        &text,
        &[
            "accepts none of the offered authentication methods",
            "put user:password@ in the proxy URL",
        ],
    );
    assert_python_fails(&url, &proxy.url("socks5", None));
}

// ---------------------------------------------------------------------------------------------
// SOCKS: microsocks
// ---------------------------------------------------------------------------------------------

#[test]
fn microsocks_socks5_with_username_and_password() {
    let server = EchoServer::start();
    let proxy = Proxy::microsocks(Some(ALICE));
    let url = server.url("127.0.0.1");
    for scheme in ["socks5", "socks5h"] {
        let proxy_url = proxy.url(scheme, Some(ALICE));
        assert_echoes(echo(through(&url, &proxy_url)), &proxy);
        assert_echoes(echo_tokio(through(&url, &proxy_url)), &proxy);
        assert_python_echoes(&url, &proxy_url, &proxy);
    }
    assert_echoes(
        echo(through(
            &server.url("localhost"),
            &proxy.url("socks5h", Some(ALICE)),
        )),
        &proxy,
    );
    let (_, text) = refused(through(&url, &proxy.url("socks5", Some(WRONG))));
    assert_says(&text, &["rejected the username and password"]);
    assert!(!text.contains(WRONG.1), "the password leaked: {text}");
    let (_, text) = refused(through(&url, &proxy.url("socks5", None)));
    assert_says(
        &text,
        &["accepts none of the offered authentication methods"],
    );
    let url = format!("ws://127.0.0.1:{}/", closed_port());
    let (_, text) = refused(through(&url, &proxy.url("socks5", Some(ALICE))));
    assert_says(&text, &["reply 0x05, connection refused"]);
}

#[test]
fn microsocks_without_authentication() {
    let server = EchoServer::start();
    let proxy = Proxy::microsocks(None);
    let url = server.url("localhost");
    assert_echoes(echo(through(&url, &proxy.url("socks5h", None))), &proxy);
    assert_echoes(
        echo_tokio(through(&url, &proxy.url("socks5", None))),
        &proxy,
    );
    assert_python_echoes(&url, &proxy.url("socks5h", None), &proxy);
}

// ---------------------------------------------------------------------------------------------
// SOCKS4a: OpenSSH dynamic forwarding
// ---------------------------------------------------------------------------------------------

#[test]
fn ssh_dynamic_forward_socks4a_socks4_and_socks5h() {
    let server = EchoServer::start();
    let proxy = Proxy::ssh_dynamic_forward();
    for (scheme, host) in [
        ("socks4a", "localhost"),
        ("socks4", "127.0.0.1"),
        ("socks5h", "localhost"),
    ] {
        let url = server.url(host);
        let proxy_url = proxy.url(scheme, None);
        assert_echoes(echo(through(&url, &proxy_url)), &proxy);
        assert_echoes(echo_tokio(through(&url, &proxy_url)), &proxy);
        assert_python_echoes(&url, &proxy_url, &proxy);
    }
    // OpenSSH answers a destination it cannot reach by closing the connection.
    let url = format!("ws://localhost:{}/", closed_port());
    let (err, text) = refused(through(&url, &proxy.url("socks4a", None)));
    assert_eq!(err.stage(), Stage::Proxy);
    assert_says(&text, &["closed the connection"]);
}

// ---------------------------------------------------------------------------------------------
// Proxies that cannot be used
// ---------------------------------------------------------------------------------------------

#[test]
fn unreachable_proxy_is_named() {
    let server = EchoServer::start();
    let proxy_url = format!("socks5://127.0.0.1:{}", closed_port());
    let (err, text) = refused(through(&server.url("127.0.0.1"), &proxy_url));
    assert_eq!(err.stage(), Stage::Proxy);
    assert!(matches!(err, Error::ProxyUnreachable { .. }), "{err:?}");
    assert_says(&text, &[&proxy_url, "check the proxy URL's host and port"]);
}

#[test]
fn silent_proxy_times_out_in_the_proxy_stage() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = listener.local_addr().expect("address").port();
    // Accepts (the backlog does) and never answers.
    let limit = Duration::from_millis(400);
    for scheme in ["http", "socks5"] {
        let config = through("ws://127.0.0.1:9/", &format!("{scheme}://127.0.0.1:{port}"))
            .connect_timeout(Some(limit));
        let started = Instant::now();
        let (err, text) = refused(config.clone());
        let took = started.elapsed();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    stage: Stage::Proxy,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(took >= limit && took < limit * 10, "took {took:?}");
        assert_says(&text, &["proxy stage", "did not open the tunnel in time"]);
        assert!(matches!(
            echo_tokio(config),
            Err(Error::Timeout {
                stage: Stage::Proxy,
                ..
            })
        ));
    }
    drop(listener);
}

#[test]
fn http_proxy_url_for_a_socks_proxy_says_so() {
    let server = EchoServer::start();
    let proxy = Proxy::microsocks(None);
    let (err, text) = refused(through(&server.url("127.0.0.1"), &proxy.url("http", None)));
    assert_eq!(err.stage(), Stage::Proxy);
    assert_says(
        &text,
        &[
            "not HTTP",
            "\\x05",
            "the proxy answered in SOCKS: use socks5://",
        ],
    );
}
