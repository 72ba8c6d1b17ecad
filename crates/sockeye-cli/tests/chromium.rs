//! A real browser against `sockeye serve`: Chromium, driven by playwright-core
//! (`tests/browser/chromium.js`), opens a page served on 127.0.0.1 by a small HTTP server in this
//! test (`tests/browser/echo.html`); the page connects to `sockeye serve`, sends a text and a
//! binary message, and shows their echoes, which the test reads from the page's DOM. A page from
//! another origin is refused by `--origin` (403), which the browser reports as an error and close
//! 1006. The first page is saved as a screenshot (kept as `$SOCKEYE_SCREENSHOT` when set).
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

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::{events, Peer};
use node_support::{node_modules, node_script, require_package};
use pki::TestDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const PAGE: &str = include_str!("browser/echo.html");

fn sockeye(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sockeye"));
    command.args(args);
    command
}

/// `sockeye serve` on 127.0.0.1, port 0, with `flags`, and its URL.
fn serve(flags: &[&str]) -> (Peer, String) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(flags);
    let mut server = Peer::spawn("sockeye serve", sockeye(&args));
    let line = server.line();
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the first line names the URL: {line:?}"))
        .to_string();
    (server, url)
}

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
