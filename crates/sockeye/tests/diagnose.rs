//! Every diagnosis proved against a real misbehaving server on 127.0.0.1 that the test starts:
//! refusals (200, 301, 400, 401, 403 with and without an Origin sent, 404, 405, 426, 429, 500,
//! 502, 503, 505), a 101 without `Upgrade` or `Connection`, a missing or wrong
//! `Sec-WebSocket-Accept`, subprotocols and extensions nobody asked for, a close and a reset in
//! the middle of the handshake, silence; TLS with an untrusted, expired or misnamed certificate,
//! `ws://` to a TLS port and `wss://` to a plain one; refusing HTTP and SOCKS5 proxies. Also the
//! report's timings, heads and TLS session, and that secrets never reach a diagnosis or `Debug`.
//!
//! nginx and squid in front of a sockeye server are in `diagnose_peers.rs`.

mod diagnose_support;
mod tls_support;

use std::time::Duration;

use diagnose_support::{refusing_http_proxy, refusing_socks5_proxy, Behaviour, RawServer};
use rustls::version::{TLS12, TLS13};
use sockeye::diagnose::ConnectReport;
use sockeye::transport::proxy::{NoProxySource, ProxySource};
use sockeye::transport::Route;
use sockeye::{blocking, ClientConfig, Diagnosis, Error, NoProxy, ProxyConfig, Stage, TlsOptions};
use tls_support::pki::{Ca, TestDir};
use tls_support::server::{plain_http_server, server_config, EchoServer};

/// Options for `url` that ignore the environment's proxies and give up after 5 s.
fn config(url: &str) -> ClientConfig {
    ClientConfig::new(url)
        .expect("a valid URL")
        .proxy(ProxyConfig::Direct)
        .connect_timeout(Some(Duration::from_secs(5)))
        .handshake_timeout(Some(Duration::from_secs(5)))
}

/// Connects (it must fail) and returns the error, the report's diagnosis and the report.
fn fail(config: ClientConfig) -> (Error, Diagnosis, ConnectReport) {
    let (result, report) = blocking::connect_with_report(config);
    let err = match result {
        Ok(_) => panic!("the connection opened"),
        Err(err) => err,
    };
    let diagnosis = report.diagnose(&err);
    assert_eq!(diagnosis.stage, err.stage(), "{diagnosis}");
    // The plain diagnosis has the same stage and cause, with less context.
    let plain = err.diagnosis();
    assert_eq!(
        (plain.stage, &plain.cause),
        (diagnosis.stage, &diagnosis.cause)
    );
    (err, diagnosis, report)
}

/// A raw server that answers `response` and a failed connection to it, at `path`.
fn answered(response: &str, path: &str) -> Diagnosis {
    let server = RawServer::start(Behaviour::Answer(response.to_string()));
    fail(config(&server.url(path))).1
}

fn assert_has(diagnosis: &Diagnosis, name: &str, value: &str) {
    let found = diagnosis.evidence(name);
    assert!(
        found.is_some_and(|found| found.contains(value)),
        "evidence {name} should contain {value:?}, got {found:?}:\n{diagnosis}"
    );
}

fn assert_hint(diagnosis: &Diagnosis, every: &[&str]) {
    for text in every {
        assert!(
            diagnosis.hint.contains(text),
            "the hint should say {text:?}:\n{diagnosis}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP refusals
// ---------------------------------------------------------------------------------------------

#[test]
fn status_404_names_the_path_and_quotes_the_body() {
    let diagnosis = answered(
        "HTTP/1.1 404 Not Found\r\nServer: test\r\nContent-Length: 12\r\n\r\nno such path",
        "/chat?room=7",
    );
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Http, "status-404")
    );
    assert_has(&diagnosis, "status", "404 Not Found");
    assert_has(&diagnosis, "body", "no such path");
    assert_has(&diagnosis, "server", "test");
    assert_hint(&diagnosis, &["/chat?room=7", "check the path"]);
}

#[test]
fn status_403_says_whether_an_origin_was_sent() {
    let refusal = "HTTP/1.1 403 Forbidden\r\nContent-Length: 18\r\n\r\norigin not allowed";
    let server = RawServer::start(Behaviour::Answer(refusal.into()));
    let (_, without, _) = fail(config(&server.url("/")));
    assert!(!server.request().contains("Origin:"));
    assert_eq!(without.cause, "status-403");
    assert_has(&without, "origin_sent", "none");
    assert_hint(
        &without,
        &[
            "No Origin was sent",
            &format!("ClientConfig::origin with http://{}", server.addr),
        ],
    );

    let (_, with, _) = fail(config(&server.url("/")).origin("https://app.example"));
    assert!(server.request().contains("Origin: https://app.example"));
    assert_has(&with, "origin_sent", "https://app.example");
    assert_hint(&with, &["An Origin was sent (https://app.example)"]);
}

#[test]
fn status_426_shows_the_versions_the_server_wants() {
    // 13 among them: the upgrade was lost on the way.
    let diagnosis = answered(
        "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 8, 13\r\nContent-Length: 0\r\n\r\n",
        "/",
    );
    assert_eq!(diagnosis.cause, "status-426");
    assert_has(&diagnosis, "sec_websocket_version", "8, 13");
    assert_hint(
        &diagnosis,
        &[
            "supports version 8, 13, and 13 was sent",
            "proxy_set_header Upgrade",
        ],
    );
    // Only an old draft.
    let diagnosis = answered(
        "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 8\r\nContent-Length: 0\r\n\r\n",
        "/",
    );
    assert_hint(&diagnosis, &["wants WebSocket version 8", "speaks 13"]);
}

#[test]
fn status_200_is_not_a_websocket_endpoint() {
    let diagnosis = answered(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 31\r\n\r\n<html><h1>Welcome</h1></html>\r\n",
        "/app",
    );
    assert_eq!(diagnosis.cause, "status-200");
    assert_has(&diagnosis, "body", "Welcome");
    assert_hint(&diagnosis, &["plain HTTP response (text/html)", "/app"]);
}

#[test]
fn redirects_say_where_they_point() {
    let server = RawServer::start(Behaviour::Answer(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: /v2/chat\r\nContent-Length: 0\r\n\r\n".into(),
    ));
    let (_, diagnosis, _) = fail(config(&server.url("/chat")));
    assert_eq!(diagnosis.cause, "status-301");
    assert_has(&diagnosis, "location", "/v2/chat");
    let target = format!("ws://{}/v2/chat", server.addr);
    assert_has(&diagnosis, "redirects_to", &target);
    assert_hint(&diagnosis, &[&target, "ClientConfig::follow_redirects"]);

    // An http:// server that sends everyone to https:// wants wss://.
    let diagnosis = answered(
        "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://secure.example/chat\r\nContent-Length: 0\r\n\r\n",
        "/chat",
    );
    assert_eq!(diagnosis.cause, "status-308");
    assert_has(&diagnosis, "redirects_to", "wss://secure.example/chat");
    assert_hint(&diagnosis, &["redirects to TLS", "wss://"]);
}

#[test]
fn every_other_refusal_has_its_cause_and_hint() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request",
            "status-400",
            &["malformed", "no Origin was sent"],
        ),
        (
            "401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"chat\"\r\nContent-Length: 0\r\n\r\n",
            "status-401",
            &[
            "needs credentials and none were sent",
            "ClientConfig::bearer_token",
        ],
        ),
        (
            "405 Method Not Allowed\r\nAllow: POST\r\nContent-Length: 0\r\n\r\n",
            "status-405",
            &["does not accept GET at /", "not a WebSocket endpoint"],
        ),
        (
            "429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n",
            "status-429",
            &["Retry-After: 30"],
        ),
        (
            "500 Internal Server Error\r\nContent-Length: 13\r\n\r\nstack trace!!",
            "status-500",
            &["its logs say why"],
        ),
        (
            "502 Bad Gateway\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n",
            "status-502",
            &["(nginx/1.22.1)", "server behind it"],
        ),
        (
            "503 Service Unavailable\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n",
            "status-503",
            &["unavailable", "Retry-After: 120"],
        ),
        (
            "504 Gateway Timeout\r\nServer: gw\r\nContent-Length: 0\r\n\r\n",
            "status-504",
            &["(gw) timed out"],
        ),
        (
            "505 HTTP Version Not Supported\r\nContent-Length: 0\r\n\r\n",
            "status-505",
            &["proxy_http_version 1.1"],
        ),
    ];
    for (response, cause, hints) in cases {
        let diagnosis = answered(&format!("HTTP/1.1 {response}"), "/");
        assert_eq!(diagnosis.stage, Stage::Http, "{diagnosis}");
        assert_eq!(diagnosis.cause, *cause, "{diagnosis}");
        assert_hint(&diagnosis, hints);
    }
    // 401 with credentials: they were refused.
    let server = RawServer::start(Behaviour::Answer(
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".into(),
    ));
    let (_, diagnosis, _) = fail(config(&server.url("/")).bearer_token("SECRET-TOKEN"));
    assert_hint(
        &diagnosis,
        &["refused the credentials sent (Authorization: Bearer)"],
    );
    assert!(
        !diagnosis.to_string().contains("SECRET-TOKEN"),
        "{diagnosis}"
    );
}

#[test]
fn a_refusal_whose_body_is_broken_is_diagnosed_by_its_status() {
    // A 401 whose chunked body stops before its last chunk: the same advice as a whole 401,
    // and evidence naming the body's problem.
    let refusal = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"chat\"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnot y";
    let server = RawServer::start(Behaviour::Answer(refusal.into()));
    let (err, diagnosis, _) = fail(config(&server.url("/")));
    assert!(
        matches!(
            err,
            Error::Handshake(sockeye::proto::HandshakeError::RefusalBodyUnfinished {
                status: 401,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Http, "status-401")
    );
    assert_has(&diagnosis, "status", "401 Unauthorized");
    assert_has(&diagnosis, "www_authenticate", "Bearer");
    assert_has(&diagnosis, "body", "not y");
    assert_has(
        &diagnosis,
        "body_problem",
        "cut short: its body stopped after",
    );
    assert_hint(
        &diagnosis,
        &[
            "needs credentials and none were sent",
            "ClientConfig::bearer_token",
        ],
    );
    let (_, diagnosis, _) = fail(config(&server.url("/")).bearer_token("SECRET-TOKEN"));
    assert_hint(
        &diagnosis,
        &["refused the credentials sent (Authorization: Bearer)"],
    );

    // A 403 with malformed chunked framing, and a 503 whose chunk-size line never ends.
    let diagnosis = answered(
        "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "/",
    );
    assert_eq!(diagnosis.cause, "status-403");
    assert_has(&diagnosis, "origin_sent", "none");
    assert_has(&diagnosis, "body_problem", "malformed chunked framing");
    let endless = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nTransfer-Encoding: chunked\r\n\r\n1;{}",
        "x".repeat(4096)
    );
    let diagnosis = answered(&endless, "/");
    assert_eq!(diagnosis.cause, "status-503");
    assert_hint(&diagnosis, &["unavailable", "Retry-After: 5"]);
    assert_has(&diagnosis, "body_problem", "never ended");
}

#[test]
fn nginx_plain_http_to_https_port_means_wss() {
    let page = "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    let diagnosis = answered(
        &format!(
            "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{page}",
            page.len()
        ),
        "/",
    );
    assert_eq!(diagnosis.cause, "not-tls-expected", "{diagnosis}");
    assert_has(
        &diagnosis,
        "body",
        "The plain HTTP request was sent to HTTPS port",
    );
    assert_hint(&diagnosis, &["wss://"]);
}

// ---------------------------------------------------------------------------------------------
// A 101 that breaks RFC 6455
// ---------------------------------------------------------------------------------------------

/// A server answering `101` with `headers` (where `{accept}` is the right accept value).
fn switched(headers: &str, configure: impl FnOnce(ClientConfig) -> ClientConfig) -> Diagnosis {
    let server = RawServer::start(Behaviour::Switch(format!(
        "HTTP/1.1 101 Switching Protocols\r\nServer: switcher/1.0\r\n{headers}\r\n"
    )));
    fail(configure(config(&server.url("/")))).1
}

#[test]
fn a_101_without_upgrade_or_connection_points_at_the_proxy() {
    let diagnosis = switched(
        "Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n",
        |c| c,
    );
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Handshake, "upgrade-missing")
    );
    assert_has(&diagnosis, "upgrade_received", "(none)");
    assert_has(&diagnosis, "server", "switcher/1.0");
    assert_has(&diagnosis, "status_line", "101 Switching Protocols");
    assert_hint(&diagnosis, &["proxy_set_header Upgrade $http_upgrade"]);

    let diagnosis = switched(
        "Upgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: {accept}\r\n",
        |c| c,
    );
    assert_eq!(diagnosis.cause, "connection-missing");
    assert_has(&diagnosis, "connection_received", "keep-alive");
    assert_hint(&diagnosis, &["Connection"]);
}

#[test]
fn accept_missing_or_wrong_shows_expected_and_received() {
    let server = RawServer::start(Behaviour::Switch(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhpcyBpcyB3cm9uZw==\r\n\r\n".into(),
    ));
    let (_, diagnosis, _) = fail(config(&server.url("/")));
    let request = server.request();
    let key = diagnose_support::header(&request, "Sec-WebSocket-Key").expect("a key");
    assert_eq!(diagnosis.cause, "accept-mismatch");
    assert_has(&diagnosis, "key_sent", &key);
    assert_has(
        &diagnosis,
        "expected_accept",
        &sockeye::proto::handshake::accept_key(&key),
    );
    assert_has(&diagnosis, "received_accept", "dGhpcyBpcyB3cm9uZw==");
    assert_hint(&diagnosis, &["middlebox"]);

    let diagnosis = switched("Upgrade: websocket\r\nConnection: Upgrade\r\n", |c| c);
    assert_eq!(diagnosis.cause, "accept-missing");
    assert_has(&diagnosis, "received_accept", "(none)");
}

#[test]
fn subprotocols_and_extensions_nobody_asked_for() {
    let valid = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n";
    // Offered, required, none selected.
    let diagnosis = switched(valid, |c| {
        c.subprotocol("chat.v2").require_subprotocol(true)
    });
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Handshake, "subprotocol-not-selected")
    );
    assert_has(&diagnosis, "offered", "chat.v2");
    // Without require_subprotocol, the same answer opens the connection.
    let server = RawServer::start(Behaviour::Switch(format!(
        "HTTP/1.1 101 Switching Protocols\r\n{valid}\r\n"
    )));
    let (result, _) =
        blocking::connect_with_report(config(&server.url("/")).subprotocol("chat.v2"));
    let (_, response) = result.expect("RFC 6455 lets a server select none");
    assert_eq!(response.subprotocol, None);

    let diagnosis = switched(&format!("{valid}Sec-WebSocket-Protocol: other\r\n"), |c| {
        c.subprotocol("chat.v2")
    });
    assert_eq!(diagnosis.cause, "subprotocol-unexpected");
    assert_has(&diagnosis, "selected", "other");

    let diagnosis = switched(
        &format!("{valid}Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"),
        |c| c,
    );
    assert_eq!(diagnosis.cause, "extension-unexpected");
    assert_has(&diagnosis, "extension", "x-webkit-deflate-frame");
}

// ---------------------------------------------------------------------------------------------
// Closed, reset, silent
// ---------------------------------------------------------------------------------------------

#[test]
fn closed_in_the_middle_of_the_handshake() {
    let server = RawServer::start(Behaviour::CloseAfter(
        "HTTP/1.1 101 Switching Protocols\r\nUpgr".into(),
    ));
    let (_, diagnosis, report) = fail(config(&server.url("/")));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Http, "closed-during-handshake")
    );
    assert_has(&diagnosis, "received_bytes", "38");
    assert_eq!(
        report.response.as_deref(),
        Some(&b"HTTP/1.1 101 Switching Protocols\r\nUpgr"[..])
    );

    let server = RawServer::start(Behaviour::CloseAfter(String::new()));
    let (_, diagnosis, _) = fail(config(&server.url("/")));
    assert_eq!(diagnosis.cause, "closed-during-handshake");
    assert_has(&diagnosis, "received_bytes", "0");
    assert_hint(&diagnosis, &["without answering", "try wss://"]);
}

#[test]
fn reset_in_the_middle_of_the_handshake() {
    let server = RawServer::start(Behaviour::Reset);
    let (err, diagnosis, _) = fail(config(&server.url("/")));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Http, "reset-during-handshake"),
        "{err:?}"
    );
    assert_hint(&diagnosis, &["reset the connection"]);
}

#[test]
fn a_server_that_never_answers_times_out_in_the_http_stage() {
    let server = RawServer::start(Behaviour::Silent);
    let limit = Duration::from_millis(300);
    let (_, diagnosis, report) = fail(config(&server.url("/")).handshake_timeout(Some(limit)));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Http, "timeout-http")
    );
    assert_has(&diagnosis, "after", "300 ms");
    assert_hint(&diagnosis, &["never finished its answer", "try wss://"]);
    let http = report.timings.http.expect("the http stage is timed");
    assert!(http >= limit, "{http:?}");
}

#[test]
fn nothing_listening_is_tcp_refused_and_timed() {
    let port = diagnose_support::peers::free_port();
    let (_, diagnosis, report) = fail(config(&format!("ws://127.0.0.1:{port}/")));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Tcp, "tcp-refused")
    );
    assert_has(&diagnosis, "address", &format!("127.0.0.1:{port}"));
    assert!(report.timings.dns.is_some() && report.timings.tcp.is_some());
    assert_eq!(report.timings.http, None);
    assert_eq!(report.request, None);
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&TLS13, &TLS12];

#[test]
fn tls_certificates_that_are_untrusted_expired_or_for_another_name() {
    let dir = TestDir::new("diagnose-tls");
    let ca = Ca::new("diagnose test CA");
    let ca_file = dir.write("ca.pem", &ca.cert_pem);

    // The system's trust store does not know the test CA.
    let server = EchoServer::start(server_config(
        &ca.server_cert(&["localhost"]),
        None,
        VERSIONS,
    ));
    let (_, diagnosis, _) = fail(config(&server.url("localhost")));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Tls, "tls-unknown-issuer")
    );
    assert_has(&diagnosis, "trusted", "operating system's trust store");
    assert_hint(&diagnosis, &["TlsOptions::ca_file"]);

    // Expired on 2021-01-01.
    let server = EchoServer::start(server_config(
        &ca.expired_server_cert(&["localhost"]),
        None,
        VERSIONS,
    ));
    let tls = TlsOptions::new().ca_file(&ca_file);
    let (_, diagnosis, _) = fail(config(&server.url("localhost")).tls(tls.clone()));
    assert_eq!(diagnosis.cause, "tls-expired");
    assert_has(&diagnosis, "not_after", "2021-01-01 00:00:00 UTC");

    // Valid for localhost only, reached as 127.0.0.1.
    let server = EchoServer::start(server_config(
        &ca.server_cert(&["localhost"]),
        None,
        VERSIONS,
    ));
    let (_, diagnosis, _) = fail(config(&server.url("127.0.0.1")).tls(tls.clone()));
    assert_eq!(diagnosis.cause, "tls-hostname-mismatch");
    assert_has(&diagnosis, "expected_name", "127.0.0.1");
    assert_has(&diagnosis, "certificate_names", "localhost");
    assert_hint(
        &diagnosis,
        &["TlsOptions::server_name", "TlsOptions::skip_hostname_check"],
    );

    // The same server through its name opens, and the report has the session.
    let (result, report) = blocking::connect_with_report(config(&server.url("localhost")).tls(tls));
    let (mut socket, _) = result.expect("a trusted certificate for localhost");
    let session = report.tls.as_ref().expect("the TLS session");
    assert!(
        session
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("TLS 1.")),
        "{session:?}"
    );
    assert!(session.cipher_suite.is_some(), "{session:?}");
    assert_eq!(session.alpn.as_deref(), Some("http/1.1"));
    assert!(!session.certificates.is_empty());
    assert!(report.timings.tls.is_some() && report.timings.http.is_some());
    let _ = socket.close(sockeye::CloseCode::Normal, "");
}

#[test]
fn ws_to_a_tls_port_and_wss_to_a_plain_port() {
    let ca = Ca::new("diagnose test CA");
    let server = EchoServer::start(server_config(
        &ca.server_cert(&["localhost"]),
        None,
        VERSIONS,
    ));
    let (_, diagnosis, _) = fail(config(&format!("ws://{}/", server.addr)));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Http, "not-tls-expected")
    );
    assert_has(&diagnosis, "first_bytes", "\\x15\\x03");
    assert_hint(&diagnosis, &["use wss:// instead of ws://"]);

    let (addr, _handle) = plain_http_server();
    let (_, diagnosis, _) = fail(config(&format!("wss://{addr}/")));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Tls, "tls-not-tls")
    );
    assert_has(&diagnosis, "first_bytes", "HTTP/1.1 400 Bad Request");
    assert_hint(&diagnosis, &["use ws:// instead of wss://"]);
}

// ---------------------------------------------------------------------------------------------
// Proxies
// ---------------------------------------------------------------------------------------------

#[test]
fn proxies_that_refuse() {
    let proxy = refusing_http_proxy(
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n",
    );
    let proxied = |url: String| {
        config("ws://127.0.0.1:9/").proxy(ProxyConfig::url(&url).expect("a proxy URL"))
    };
    let (_, diagnosis, report) = fail(proxied(format!("http://{}", proxy.addr)));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Proxy, "proxy-auth-required")
    );
    assert_has(&diagnosis, "proxy_authenticate", "Basic realm=\"corp\"");
    assert_has(&diagnosis, "credentials_sent", "no");
    assert!(report.timings.proxy.is_some());
    assert!(report
        .proxy
        .as_deref()
        .is_some_and(|p| p.contains(&proxy.addr.to_string())));

    let socks = refusing_socks5_proxy(0x04);
    let (_, diagnosis, _) = fail(proxied(format!("socks5://{socks}")));
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Proxy, "socks-host-unreachable")
    );
    assert_has(&diagnosis, "socks_reply", "0x04 (host unreachable)");
}

/// The report carries the route the dial took (both front-ends): the proxy and where it came
/// from, or direct and the proxy that `no_proxy` made it go around, which diagnosis shows.
#[test]
fn the_report_has_the_route_the_dial_took() {
    let proxy = refusing_http_proxy("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    let proxied = config("ws://127.0.0.1:9/")
        .proxy(ProxyConfig::url(&format!("http://{}", proxy.addr)).expect("a proxy URL"));
    let (_, _, report) = fail(proxied);
    let route = report.route.as_ref().expect("the dial noted its route");
    assert_eq!(route.to_string(), format!("proxy http://{}", proxy.addr));
    assert_eq!(
        route.proxy().map(|proxy| proxy.source),
        Some(ProxySource::Config)
    );

    // A proxy that no_proxy went around: the route is direct, and the diagnosis says which.
    let port = diagnose_support::peers::free_port();
    let bypassing = config(&format!("ws://127.0.0.1:{port}/"))
        .proxy(ProxyConfig::url("http://proxy.invalid:3128").expect("a proxy URL"))
        .no_proxy(NoProxy::parse("127.0.0.1"));
    let (_, diagnosis, report) = fail(bypassing.clone());
    assert_eq!(diagnosis.cause, "tcp-refused");
    let route = report.route.as_ref().expect("the dial noted its route");
    assert_eq!(route.to_string(), "direct");
    assert_eq!(
        route.bypassed().map(|bypass| bypass.by),
        Some(NoProxySource::Config)
    );
    assert_eq!(report.proxy, None);
    assert_has(
        &diagnosis,
        "bypassed_proxy",
        "http://proxy.invalid:3128, excluded by ClientConfig::no_proxy",
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (result, report) = runtime.block_on(sockeye::tokio::connect_async_with_report(bypassing));
    assert!(result.is_err());
    assert_eq!(
        report
            .route
            .as_ref()
            .and_then(Route::bypassed)
            .map(|bypass| bypass.by),
        Some(NoProxySource::Config)
    );
}

// ---------------------------------------------------------------------------------------------
// Redaction, tokio
// ---------------------------------------------------------------------------------------------

#[test]
fn secrets_reach_neither_the_diagnosis_nor_debug() {
    let server = RawServer::start(Behaviour::Answer(
        "HTTP/1.1 403 Forbidden\r\nSet-Cookie: sid=SECRET-COOKIE; Path=/\r\nLocation: /x?token=SECRET-LOCATION\r\nContent-Length: 26\r\n\r\nyour token SECRET-BODY-JWT"
            .into(),
    ));
    let config = config(&server.url("/chat?access_token=SECRET-URL"))
        .bearer_token("SECRET-BEARER")
        .cookie("session=SECRET-SESSION");
    let (err, diagnosis, report) = fail(config.clone());
    let shown = [
        diagnosis.to_string(),
        err.diagnosis_for(&config).to_string(),
        format!("{err:?}"),
        format!("{err}"),
        format!("{:?}", report.request_head()),
        format!("{:?}", report.response_head()),
    ];
    for text in &shown {
        for secret in [
            "SECRET-URL",
            "SECRET-BEARER",
            "SECRET-SESSION",
            "SECRET-COOKIE",
            "SECRET-LOCATION",
        ] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
    }
    assert!(format!("{err:?}").contains("sid=[redacted]"), "{err:?}");
    // Asked for, they are shown.
    let (_, diagnosis, report) = fail(config.show_secrets(true));
    assert!(
        diagnosis.to_string().contains("token=SECRET-LOCATION"),
        "{diagnosis}"
    );
    let request = report.request_head().expect("the request");
    assert_eq!(request.get("Authorization"), Some("Bearer SECRET-BEARER"));

    let err = ClientConfig::new("http://bob:SECRET-PASSWORD@example.com/").expect_err("http://");
    assert!(!format!("{err:?}").contains("SECRET-PASSWORD"), "{err:?}");
}

#[test]
fn the_tokio_front_end_reports_the_same() {
    let server = RawServer::start(Behaviour::Answer(
        "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone".into(),
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (result, report) = runtime.block_on(sockeye::tokio::connect_async_with_report(config(
        &server.url("/chat"),
    )));
    let Err(err) = result else {
        panic!("the connection opened")
    };
    let diagnosis = report.diagnose(&err);
    assert_eq!(diagnosis.cause, "status-404");
    assert_has(&diagnosis, "body", "gone");
    assert!(report.timings.tcp.is_some() && report.timings.http.is_some());
    assert!(report.request_head().is_some() && report.response_head().is_some());
}
