//! `sockeye probe`: the human report and the `--json` object (ok, stage, cause, hint, evidence,
//! timings_ms, tls, request, response, exchange) and the exit status of each failing stage,
//! against `sockeye serve`, raw TCP servers that misbehave, a refusing proxy, and nginx
//! terminating TLS with a certificate the system does not trust.
//!
//! Every wait is bounded and every process is killed when a test ends (see `common`).

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
#[path = "../../sockeye/tests/tls_support/pki.rs"]
mod pki;
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::{Finished, Peer, IO_TIMEOUT, PEER_TIMEOUT};
use pki::{Ca, TestDir};
use serde_json::Value;
use support::{serve, sockeye};

const SECRET: &str = "SECRET-9a41";

/// `sockeye probe ARGS…`, finished.
fn probe(args: &[&str]) -> Finished {
    let mut all = vec![
        "probe",
        "--connect-timeout",
        "10",
        "--handshake-timeout",
        "10",
    ];
    all.extend_from_slice(args);
    Peer::spawn("sockeye probe", sockeye(&all)).finish()
}

/// `sockeye probe --json ARGS…`: the exit status and the one JSON object printed.
fn probe_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let finished = probe(&all);
    assert_eq!(finished.stdout.len(), 1, "one line of JSON: {finished:?}");
    let report: Value = serde_json::from_str(&finished.stdout[0])
        .unwrap_or_else(|err| panic!("not JSON ({err}): {finished:?}"));
    let code = finished.status.code().expect("an exit status");
    assert_eq!(report["exit_code"], code, "{report:#}");
    (code, report)
}

/// A TCP server on 127.0.0.1 that answers each connection's request head with `response`.
fn raw_server(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("an address");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let _ = stream.write_all(response.as_bytes());
                let _ = stream.shutdown(Shutdown::Write);
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
            });
        }
    });
    addr.to_string()
}

fn stdout(finished: &Finished) -> String {
    finished.stdout.join("\n")
}

#[test]
fn an_open_connection_is_reported_ok_with_timings_heads_and_the_exchange() {
    let (_server, url) = serve(&[]);
    let target = format!("{url}/echo?token={SECRET}");
    let bearer = format!("Authorization: Bearer {SECRET}");
    let finished = probe(&[
        &target, "-H", &bearer, "--send", "hello", "--expect", "^hel+o$",
    ]);
    finished.assert_success("sockeye probe");
    let out = stdout(&finished);
    for expected in [
        "timings",
        "  dns ",
        "  tcp ",
        "  http ",
        "  first msg ",
        "> GET /echo?token=[redacted] HTTP/1.1",
        "> Authorization: Bearer [redacted]",
        "< HTTP/1.1 101 Switching Protocols",
        "  > hello",
        "  < hello",
        "matches /^hel+o$/",
        "verdict: OK, the connection opened",
    ] {
        assert!(
            out.contains(expected),
            "the report should say {expected:?}:\n{out}"
        );
    }
    assert!(!out.contains(SECRET), "{out}");

    let (code, report) = probe_json(&[
        &target, "-H", &bearer, "--send", "hello", "--expect", "hel+o",
    ]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["stage"], "open");
    assert_eq!(report["cause"], "ok");
    for stage in ["dns", "tcp", "http", "first_message", "total"] {
        assert!(
            report["timings_ms"][stage].is_number(),
            "{stage}: {report:#}"
        );
    }
    assert!(report["timings_ms"]["tls"].is_null() && report["timings_ms"]["proxy"].is_null());
    assert_eq!(
        report["request"]["line"],
        "GET /echo?token=[redacted] HTTP/1.1"
    );
    let sent_auth = report["request"]["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .any(|pair| pair[0] == "Authorization" && pair[1] == "Bearer [redacted]");
    assert!(sent_auth, "{report:#}");
    assert_eq!(report["response"]["status"], 101);
    assert_eq!(report["exchange"]["received"], "hello");
    assert_eq!(report["exchange"]["matched"], true);
    assert!(!report.to_string().contains(SECRET), "{report:#}");
}

#[test]
fn each_failing_stage_has_its_exit_status_and_cause() {
    // url: 10.
    let (code, report) = probe_json(&["http://127.0.0.1:9/"]);
    assert_eq!(
        (code, &report["stage"], &report["cause"]),
        (10, &"url".into(), &"url-http-scheme".into())
    );
    assert!(
        report["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("ws://")),
        "{report:#}"
    );

    // tcp: 12.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let (code, report) = probe_json(&[&format!("ws://127.0.0.1:{port}/")]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (12, Some("tcp-refused")),
        "{report:#}"
    );
    assert!(report["timings_ms"]["tcp"].is_number());

    // http: 15, with the status, the body and the path in the hint.
    let addr = raw_server("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno route!");
    let (code, report) = probe_json(&[&format!("ws://{addr}/missing")]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (15, Some("status-404")),
        "{report:#}"
    );
    assert_eq!(report["evidence"]["status"], "404 Not Found");
    assert_eq!(report["evidence"]["body"], "no route!");
    assert!(report["hint"]
        .as_str()
        .is_some_and(|hint| hint.contains("/missing")));
    assert_eq!(report["response"]["status"], 404);

    // handshake: 16, a 101 that lost its Upgrade header.
    let addr = raw_server("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n");
    let (code, report) = probe_json(&[&format!("ws://{addr}/")]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (16, Some("upgrade-missing")),
        "{report:#}"
    );
    assert!(report["hint"]
        .as_str()
        .is_some_and(|hint| hint.contains("proxy_set_header Upgrade")));

    // proxy: 13.
    let proxy = raw_server(
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n",
    );
    let (code, report) = probe_json(&["ws://127.0.0.1:9/", "-x", &format!("http://{proxy}")]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (13, Some("proxy-auth-required")),
        "{report:#}"
    );
    assert!(report["timings_ms"]["proxy"].is_number());

    // tls: 14, wss:// to a plain WebSocket server.
    let (_server, url) = serve(&[]);
    let plain = url.replacen("ws://", "wss://", 1);
    let (code, report) = probe_json(&[&plain]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (14, Some("tls-not-tls")),
        "{report:#}"
    );

    // open: 17, a reply that does not match.
    let (code, report) = probe_json(&[&url, "--send", "ping?", "--expect", "^pong$"]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (17, Some("expect-mismatch")),
        "{report:#}"
    );
    assert_eq!(report["evidence"]["received"], "ping?");

    // A bad regular expression is a usage error.
    let finished = probe(&[&url, "--expect", "("]);
    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
}

#[test]
fn the_human_report_of_a_failure_has_evidence_and_hint() {
    let addr = raw_server(
        "HTTP/1.1 403 Forbidden\r\nServer: guard\r\nContent-Length: 18\r\n\r\norigin not allowed",
    );
    let finished = probe(&[&format!("ws://{addr}/feed")]);
    assert_eq!(finished.status.code(), Some(15), "{finished:?}");
    let out = stdout(&finished);
    for expected in [
        "verdict: FAILED at the http stage: status-403",
        "evidence",
        "status                 403 Forbidden",
        "origin_sent            none",
        "body                   origin not allowed",
        "hint: the server forbids this request. No Origin was sent",
        "< HTTP/1.1 403 Forbidden",
        "< [body] origin not allowed",
    ] {
        assert!(
            out.contains(expected),
            "the report should say {expected:?}:\n{out}"
        );
    }
}

/// The route line says where the connection went: through which proxy, or direct and which
/// proxy `--noproxy` made it go around (a line of its own); `--json` has the same as `route`.
#[test]
fn the_report_shows_the_route_taken() {
    // Nothing listens on the port of a listener that was dropped.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("ws://127.0.0.1:{port}/");
    let around = ["-x", "http://proxy.invalid:3128", "--noproxy", "127.0.0.1"];
    let mut args = vec![url.as_str()];
    args.extend_from_slice(&around);
    let finished = probe(&args);
    assert_eq!(finished.status.code(), Some(12), "{finished:?}");
    let out = stdout(&finished);
    for expected in [
        "route        direct",
        "bypassed     http://proxy.invalid:3128, excluded by --noproxy",
    ] {
        assert!(
            out.contains(expected),
            "the report should say {expected:?}:\n{out}"
        );
    }
    let (_, report) = probe_json(&args);
    assert_eq!(report["route"]["kind"], "direct", "{report:#}");
    assert_eq!(report["route"]["bypassed"]["no_proxy"], "config");
    assert_eq!(
        report["route"]["bypassed"]["proxy"]["url"],
        "http://proxy.invalid:3128"
    );

    let proxy = raw_server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    let via = format!("http://{proxy}");
    let finished = probe(&[&url, "-x", &via]);
    let out = stdout(&finished);
    assert!(
        out.contains(&format!("route        proxy {via}\n")),
        "{out}"
    );
    let (_, report) = probe_json(&[&url, "-x", &via]);
    assert_eq!(report["route"]["kind"], "proxy", "{report:#}");
    assert_eq!(report["route"]["proxy"]["source"], "config");
    assert_eq!(report["proxy"], via.as_str());
}

#[test]
fn help_documents_the_exit_statuses() {
    let finished = Peer::spawn("sockeye probe --help", sockeye(&["probe", "--help"])).finish();
    finished.assert_success("sockeye probe --help");
    let out = stdout(&finished);
    for expected in [
        "--send",
        "--expect",
        "--json",
        "--origin",
        "--cacert",
        "-x, --proxy",
        "10  url",
        "17  open",
    ] {
        assert!(
            out.contains(expected),
            "--help should say {expected:?}:\n{out}"
        );
    }
    // connect's interactive options are hidden.
    for hidden in ["--slash", "--linger", "--frames"] {
        assert!(
            !out.contains(hidden),
            "--help should not list {hidden}:\n{out}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// TLS through nginx
// ---------------------------------------------------------------------------------------------

/// nginx, from PATH or /usr/sbin. Panics (the test fails, it is never skipped) when missing.
fn nginx_binary() -> PathBuf {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|binary| binary.is_file())
        .unwrap_or_else(|| panic!("nginx is missing: run scripts/test.sh (it installs nginx)"))
}

/// nginx terminating TLS for `backend_port` on a free port, with `cert` and `key` (PEM).
fn nginx_tls(dir: &TestDir, cert: &str, key: &str, backend_port: u16) -> (Peer, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    dir.write("server.pem", cert);
    dir.write("server.key", key);
    let p = dir.path().display();
    let config = format!(
        "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log info;\n\
         events {{ worker_connections 64; }}\nhttp {{\n access_log {p}/access.log;\n\
         client_body_temp_path {p}/client_body;\n proxy_temp_path {p}/proxy;\n\
         fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
         server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {p}/server.pem;\n\
         ssl_certificate_key {p}/server.key;\n  location / {{ proxy_pass http://127.0.0.1:{backend_port};\n\
         proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n\
         proxy_set_header Connection \"upgrade\"; }}\n }}\n}}\n"
    );
    let config_path = dir.write("nginx.conf", &config);
    let mut command = Command::new(nginx_binary());
    command
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&config_path)
        .arg("-e")
        .arg(dir.path().join("error.log"));
    let nginx = Peer::spawn("nginx", command);
    let deadline = Instant::now() + PEER_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        thread::sleep(Duration::from_millis(20));
    }
    (nginx, port)
}

#[test]
fn tls_details_and_a_refused_certificate_through_nginx() {
    let (_server, url) = serve(&[]);
    let backend_port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("a port in the URL");
    let dir = TestDir::new("probe-nginx");
    let ca = Ca::new("sockeye probe test CA");
    let leaf = ca.server_cert(&["localhost"]);
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let (_nginx, port) = nginx_tls(&dir, &leaf.cert_pem, &leaf.key_pem, backend_port);
    let url = format!("wss://localhost:{port}/echo");

    // Trusted with --cacert: the session's details.
    let ca_arg = ca_file.to_str().expect("a UTF-8 path");
    let (code, report) = probe_json(&[&url, "--cacert", ca_arg, "--send", "hi", "--expect", "hi"]);
    assert_eq!(code, 0, "{report:#}");
    let tls = &report["tls"];
    assert_eq!(tls["verified"], true);
    assert!(
        tls["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("TLS 1.")),
        "{tls:#}"
    );
    assert!(tls["cipher_suite"].is_string(), "{tls:#}");
    assert_eq!(tls["alpn"], "http/1.1");
    assert_eq!(tls["certificate"]["subject"], "CN=localhost");
    assert_eq!(tls["certificate"]["issuer"], "CN=sockeye probe test CA");
    assert_eq!(tls["certificate"]["names"][0], "localhost");
    assert!(tls["certificate"]["not_after"]
        .as_str()
        .is_some_and(|t| t.ends_with("UTC")));
    assert!(report["timings_ms"]["tls"].is_number());
    let server = report["response"]["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .any(|pair| {
            pair[0] == "Server" && pair[1].as_str().is_some_and(|s| s.starts_with("nginx"))
        });
    assert!(server, "{report:#}");

    let finished = probe(&[&url, "--cacert", ca_arg]);
    finished.assert_success("sockeye probe");
    let out = stdout(&finished);
    for expected in [
        "tls\n",
        "  version      TLS 1.",
        "  alpn         http/1.1",
        "  subject      CN=localhost",
        "  issuer       CN=sockeye probe test CA",
        "  expires ",
    ] {
        assert!(
            out.contains(expected),
            "the report should say {expected:?}:\n{out}"
        );
    }

    // Not trusted: the certificate is fetched by an unverified handshake to show who issued it.
    let (code, report) = probe_json(&[&url]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (14, Some("tls-unknown-issuer")),
        "{report:#}"
    );
    assert_eq!(report["tls"]["verified"], false);
    assert_eq!(
        report["evidence"]["certificate_issuer"],
        "CN=sockeye probe test CA"
    );
    assert_eq!(report["evidence"]["certificate_subject"], "CN=localhost");

    // Reached by IP, the name does not match.
    let (code, report) = probe_json(&[&format!("wss://127.0.0.1:{port}/echo"), "--cacert", ca_arg]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (14, Some("tls-hostname-mismatch")),
        "{report:#}"
    );
    assert_eq!(report["evidence"]["certificate_names"], "localhost");

    // A self-signed certificate says so, and the hint names it.
    let self_signed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("a self-signed certificate");
    let self_dir = TestDir::new("probe-nginx-self");
    let (_nginx2, port2) = nginx_tls(
        &self_dir,
        &self_signed.cert.pem(),
        &self_signed.signing_key.serialize_pem(),
        backend_port,
    );
    let (code, report) = probe_json(&[&format!("wss://localhost:{port2}/echo")]);
    assert_eq!(
        (code, report["cause"].as_str()),
        (14, Some("tls-unknown-issuer")),
        "{report:#}"
    );
    assert_eq!(report["evidence"]["self_signed"], "yes", "{report:#}");
    assert_eq!(report["tls"]["certificate"]["self_signed"], true);
    assert!(
        report["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("self-signed")),
        "{report:#}"
    );
}
