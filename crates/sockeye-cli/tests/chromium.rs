//! A real browser against `sockeye serve`: Chromium, driven by playwright-core
//! (`tests/browser/chromium.js`), opens a page served on 127.0.0.1 by a small HTTP server in this
//! test (`tests/browser/echo.html`); the page connects to `sockeye serve`, sends a text and a
//! binary message, and shows their echoes, which the test reads from the page's DOM. A page from
//! another origin is refused by `--origin` (403), which the browser reports as an error and close
//! 1006. The first page is saved as a screenshot (kept as `$SOCKEYE_SCREENSHOT` when set).
//!
//! Over wss://, `sockeye serve --cert --key` serves a certificate for 127.0.0.1 made by this test
//! (`tls_support/pki.rs`), and Chromium trusts exactly that certificate: it runs with
//! `--ignore-certificate-errors-spki-list=<base64 SHA-256 of the certificate's
//! SubjectPublicKeyInfo>`, never with `--ignore-certificate-errors`, and a second server with
//! another certificate from the same CA is refused (`ERR_CERT_AUTHORITY_INVALID`). The page
//! itself stays on plain http://: a wss:// connection from an http:// page is not mixed content
//! (that rule only stops a secure page from using ws://).
//!
//! Chromium (`/usr/bin/chromium`, Debian's `chromium`) and playwright-core (in
//! `<workspace>/.node/node_modules`) are installed by `scripts/test.sh`; when either is missing
//! the test fails and says so. Chromium runs with the flags of shared/PEERS.md, so it reaches
//! nothing beyond 127.0.0.1; run it inside `unshare -n` as scripts/test.sh does. Every wait is
//! bounded; the browser is closed by the driver, and the driver killed if the test fails.

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
#[path = "../../sockeye/tests/node_support/mod.rs"]
mod node_support;
#[path = "../../sockeye/tests/tls_support/pki.rs"]
mod pki;
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{events, Peer};
use node_support::{node_modules, node_script, require_package};
use pki::{Ca, Leaf, TestDir};
use support::serve;

const CHROMIUM: &str = "/usr/bin/chromium";
const PAGE: &str = include_str!("browser/echo.html");

/// An HTTP server on 127.0.0.1 (port 0) that serves the page at `/echo.html` (any query) and
/// 404 for anything else, one connection at a time, until the test process ends. Returns its
/// port.
fn page_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("an address").port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(stream);
        }
    });
    port
}

/// Reads one request head and answers it (best effort: a browser may drop the connection).
fn answer(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or("");
    let (status, kind, body) = if target.split('?').next() == Some("/echo.html") {
        ("200 OK", "text/html; charset=utf-8", PAGE)
    } else {
        ("404 Not Found", "text/plain", "not found\n")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// What the driver printed for page `index`: its `field` lines.
fn page_lines(stdout: &[String], field: &str, index: usize) -> Vec<String> {
    events(stdout, field)
        .into_iter()
        .filter(|fields| fields.first().map(String::as_str) == Some(&index.to_string()))
        .map(|fields| fields[1..].join("\t"))
        .collect()
}

fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "Chromium is missing: no {CHROMIUM}; run scripts/test.sh (it installs Debian's chromium \
         package), or apt-get install -y --no-install-recommends chromium"
    );
}

#[test]
fn chromium_page_exchanges_text_and_binary_with_sockeye_serve() {
    require_chromium();
    require_package(&node_modules(), "playwright-core", "1.");
    let allowed = page_server();
    let elsewhere = page_server();
    let (_server, ws_url) = serve(&[
        "--origin",
        &format!("http://127.0.0.1:{allowed}"),
        "--subprotocol",
        "chat.v1",
    ]);
    let page = |port: u16| format!("http://127.0.0.1:{port}/echo.html?ws={ws_url}");
    let dir = TestDir::new("chromium");
    let screenshot: PathBuf = std::env::var_os("SOCKEYE_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("page.png"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/chromium.js");
    let driver = node_script(
        &script,
        &[
            CHROMIUM,
            screenshot.to_str().expect("a UTF-8 path"),
            &page(allowed),
            &page(elsewhere),
        ],
    );
    let finished = Peer::spawn("chromium.js", driver).finish();
    finished.assert_success("chromium.js");
    let out = &finished.stdout;

    // The page from the allowed origin: both echoes, shown in its DOM, and a clean close.
    assert_eq!(page_lines(out, "status", 0), ["done"], "{out:#?}");
    let log = page_lines(out, "log", 0);
    assert!(
        log.iter()
            .any(|line| line.starts_with("open, protocol: chat.v1,")),
        "{log:#?}"
    );
    assert!(
        log.contains(&"text: hello from chromium \u{2713}".to_string()),
        "{log:#?}"
    );
    assert!(log.contains(&"binary: 1,2,3,255".to_string()), "{log:#?}");
    assert!(log.contains(&"close: 1000 clean".to_string()), "{log:#?}");

    // The page from another origin: refused with 403, which a browser shows only as an error
    // and close 1006, with the status in the console.
    assert_eq!(page_lines(out, "status", 1), ["failed"], "{out:#?}");
    let log = page_lines(out, "log", 1);
    assert!(log.contains(&"error".to_string()), "{log:#?}");
    assert!(log.contains(&"close: 1006 unclean".to_string()), "{log:#?}");
    let console = page_lines(out, "console", 1);
    assert!(
        console.iter().any(|line| line.contains("403")),
        "{console:#?}"
    );

    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
}

/// Writes `leaf`'s certificate and key to `dir` as `NAME.pem` and `NAME.key`, as
/// `sockeye serve --cert NAME.pem --key NAME.key` flags.
fn tls_flags(dir: &TestDir, name: &str, leaf: &Leaf) -> [String; 4] {
    let cert = dir.write(&format!("{name}.pem"), &leaf.cert_pem);
    let key = dir.write(&format!("{name}.key"), &leaf.key_pem);
    let text = |path: PathBuf| path.to_str().expect("a UTF-8 path").to_string();
    ["--cert".into(), text(cert), "--key".into(), text(key)]
}

/// What Chromium's `--ignore-certificate-errors-spki-list` takes for a certificate: the base64
/// SHA-256 of its DER SubjectPublicKeyInfo. The SPKI comes from x509-parser (a dependency of
/// sockeye-cli); the hash from `openssl dgst`, as no SHA-256 crate is a dependency here.
fn spki_sha256_base64(cert_der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).expect("a DER certificate");
    let spki = cert.tbs_certificate.subject_pki.raw;
    let mut openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot run openssl ({err}); scripts/test.sh installs Debian's openssl")
        });
    openssl
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(spki)
        .expect("openssl reads the SPKI");
    let output = openssl.wait_with_output().expect("openssl runs");
    assert!(
        output.status.success() && output.stdout.len() == 32,
        "openssl dgst -sha256 -binary failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    base64(&output.stdout)
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let bits = byte(0) << 16 | byte(1) << 8 | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sends a plain-text upgrade request to the wss:// server at `url`: it must not answer with
/// HTTP (its first byte is a TLS record, an alert), which shows the port speaks only TLS.
fn assert_plain_http_is_refused(url: &str) {
    let address = url.strip_prefix("wss://").expect("a wss:// URL");
    let mut stream = TcpStream::connect(address).expect("connect to sockeye serve");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    // One write: the server gives up at the first bytes, so a second write could fail.
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .expect("send a plain-text request");
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    // Until the server closes (or resets) the connection, keeping what arrived before.
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        reply.extend_from_slice(&buf[..n]);
    }
    assert!(
        !reply.starts_with(b"HTTP/"),
        "a wss:// port answered plain HTTP: {:?}",
        String::from_utf8_lossy(&reply)
    );
    // 0x15: a TLS alert record, rustls's answer to bytes that are not TLS.
    assert_eq!(reply.first(), Some(&0x15), "not a TLS alert: {reply:?}");
}

/// The JSON trace events (`sockeye serve -v --trace-format json`) in `stderr`.
fn trace_events(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect()
}

#[test]
fn chromium_page_exchanges_text_and_binary_over_wss_trusting_only_the_test_certificate() {
    require_chromium();
    require_package(&node_modules(), "playwright-core", "1.");
    let dir = TestDir::new("chromium-wss");
    let ca = Ca::new("sockeye chromium test CA");
    let trusted = ca.server_cert(&["127.0.0.1"]);
    let untrusted = ca.server_cert(&["127.0.0.1"]);
    let mut flags = tls_flags(&dir, "trusted", &trusted).to_vec();
    // The page offers chat.v1, and a browser fails a handshake that selects no subprotocol.
    flags.extend(["--subprotocol", "chat.v1", "-v", "--trace-format", "json"].map(String::from));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (server, wss_url) = serve(&flags);
    let other_flags = tls_flags(&dir, "untrusted", &untrusted);
    let other_flags: Vec<&str> = other_flags.iter().map(String::as_str).collect();
    let (_other, other_url) = serve(&other_flags);
    assert!(wss_url.starts_with("wss://127.0.0.1:"), "{wss_url}");
    assert!(other_url.starts_with("wss://127.0.0.1:"), "{other_url}");
    assert_plain_http_is_refused(&wss_url);

    let port = page_server();
    let page = |ws: &str| format!("http://127.0.0.1:{port}/echo.html?ws={ws}");
    // Chromium honours the SPKI list only together with --user-data-dir, which
    // launchPersistentContext (chromium.js) passes for its fresh profile.
    let trust = format!(
        "--ignore-certificate-errors-spki-list={}",
        spki_sha256_base64(&trusted.cert_der)
    );
    let screenshot = dir.path().join("page.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/chromium.js");
    let driver = node_script(
        &script,
        &[
            CHROMIUM,
            screenshot.to_str().expect("a UTF-8 path"),
            &trust,
            &page(&wss_url),
            &page(&other_url),
        ],
    );
    let finished = Peer::spawn("chromium.js", driver).finish();
    finished.assert_success("chromium.js");
    let out = &finished.stdout;

    // The trusted certificate: both echoes over wss://, with permessage-deflate, and a clean
    // close.
    assert_eq!(page_lines(out, "status", 0), ["done"], "{out:#?}");
    let log = page_lines(out, "log", 0);
    assert!(
        log.contains(&format!("connecting to {wss_url}")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|line| line
                .starts_with("open, protocol: chat.v1, extensions: permessage-deflate")),
        "{log:#?}"
    );
    assert!(
        log.contains(&"text: hello from chromium \u{2713}".to_string()),
        "{log:#?}"
    );
    assert!(log.contains(&"binary: 1,2,3,255".to_string()), "{log:#?}");
    assert!(log.contains(&"close: 1000 clean".to_string()), "{log:#?}");

    // Another certificate from the same CA: not in the SPKI list, so refused.
    assert_eq!(page_lines(out, "status", 1), ["failed"], "{out:#?}");
    let log = page_lines(out, "log", 1);
    assert!(log.contains(&"close: 1006 unclean".to_string()), "{log:#?}");
    let console = page_lines(out, "console", 1);
    assert!(
        console
            .iter()
            .any(|line| line.contains("ERR_CERT_AUTHORITY_INVALID")),
        "{console:#?}"
    );

    // The server's side: the plain-text request failed in TLS, Chromium's request arrived (so
    // through TLS), offering permessage-deflate, which was agreed and used on its messages.
    server.signal("TERM");
    let served = server.finish();
    served.assert_success("sockeye serve");
    assert!(
        served
            .stderr
            .lines()
            .any(|line| line.contains("ended: TLS failed")),
        "{}",
        served.stderr
    );
    let events = trace_events(&served.stderr);
    let event = |name: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["event"] == name).collect()
    };
    let requests = event("request");
    let [request] = requests.as_slice() else {
        panic!("one request: {}", served.stderr)
    };
    let head = request["head"].as_str().expect("the request head");
    assert!(head.contains("Chrome/"), "{head}");
    assert!(
        head.contains(&format!("Origin: http://127.0.0.1:{port}\r\n")),
        "{head}"
    );
    assert!(
        head.contains("Sec-WebSocket-Extensions: permessage-deflate"),
        "{head}"
    );
    let opened = event("open");
    assert!(
        opened.len() == 1
            && opened[0]["extensions"]
                .as_str()
                .is_some_and(|agreed| agreed.starts_with("permessage-deflate")),
        "{opened:#?}"
    );
    let received = |opcode: &str| {
        event("frame")
            .into_iter()
            .find(|e| e["dir"] == "received" && e["opcode"] == opcode)
            .unwrap_or_else(|| panic!("no {opcode} frame received: {}", served.stderr))
    };
    // Chromium compresses every message once the extension is agreed (RSV1 set).
    assert_eq!(received("text")["rsv1"], true, "{}", served.stderr);
    assert_eq!(received("binary")["rsv1"], true, "{}", served.stderr);
}
