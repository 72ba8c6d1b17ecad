//! A self-signed certificate made the usual way — `openssl req -x509 -newkey rsa:2048 -nodes
//! -subj /CN=localhost -addext subjectAltName=DNS:localhost`, which marks it `CA:TRUE` — served by
//! `sockeye serve --cert --key` and trusted by `sockeye connect --cacert` with that same file,
//! as curl and Python's `ssl` trust it. Its name is still checked, and another certificate made
//! the same way is refused with words that say why.
//!
//! Needs `openssl` (scripts/test.sh installs it); the test fails, never skips, without it.
//! The server listens on 127.0.0.1 port 0; every wait is bounded and every process is killed
//! when its test ends (see `common`).
#![allow(clippy::unwrap_used)]

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
#[path = "../../sockeye/tests/tls_support/pki.rs"]
mod pki;
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Finished;
use pki::{Ca, TestDir};
use sockeye::{blocking, ClientConfig, CloseCode, Error, Message, TlsOptions, TlsProblem};
use support::{connect, serve};

/// Exit status of `sockeye connect` when it cannot connect.
const CONNECT_FAILED: i32 = 3;

/// `openssl req -x509` as its manual page shows it: a new RSA key, no passphrase, a
/// self-signed certificate for localhost. Returns (certificate, key).
fn openssl_self_signed(dir: &TestDir, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.path().join(format!("{name}.pem"));
    let key = dir.path().join(format!("{name}.key"));
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-days", "30"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run openssl (scripts/test.sh installs it): {err}"));
    assert!(
        output.status.success(),
        "openssl req -x509 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (cert, key)
}

/// What `openssl x509 -text` says of `cert`.
fn openssl_text(cert: &Path) -> String {
    let output = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `sockeye connect URL FLAGS…` that sends one line and closes.
fn send_line(url: &str, flags: &[&str], line: &str) -> Finished {
    let mut client = connect(url, flags);
    client
        .stdin()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    client.stdin().flush().unwrap();
    client.close_stdin();
    client.finish()
}

fn assert_refused(finished: &Finished, expected: &[&str]) {
    assert_eq!(
        finished.status.code(),
        Some(CONNECT_FAILED),
        "exit status; stdout: {:?}\nstderr: {}",
        finished.stdout,
        finished.stderr
    );
    assert!(finished.stdout.is_empty(), "{:?}", finished.stdout);
    for words in expected {
        assert!(
            finished.stderr.contains(words),
            "{words:?} is not in: {}",
            finished.stderr
        );
    }
    for debug in ["CaUsedAsEndEntity", "InvalidCertificate", "Other("] {
        assert!(
            !finished.stderr.contains(debug),
            "{debug:?} is in: {}",
            finished.stderr
        );
    }
}

#[test]
fn an_openssl_self_signed_certificate_is_trusted_through_cacert_with_itself() {
    let dir = TestDir::new("cli-tls-pinning");
    let (cert, key) = openssl_self_signed(&dir, "server");
    let text = openssl_text(&cert);
    assert!(
        text.contains("CA:TRUE"),
        "openssl should mark it CA:TRUE:\n{text}"
    );

    let (_server, url) = serve(&["--cert", arg(&cert), "--key", arg(&key)]);
    let port = url
        .strip_prefix("wss://127.0.0.1:")
        .unwrap_or_else(|| panic!("sockeye serve listens on 127.0.0.1: {url}"));
    let by_name = format!("wss://localhost:{port}");
    let by_ip = format!("wss://127.0.0.1:{port}");

    // The certificate itself, as the CA file: accepted, as curl --cacert accepts it.
    let finished = send_line(&by_name, &["--cacert", arg(&cert)], "pinned");
    finished.assert_success("sockeye connect --cacert (the server's own certificate)");
    assert_eq!(finished.stdout, ["pinned"], "{}", finished.stderr);

    // In a bundle, after a CA that has nothing to do with it.
    let bundle = dir.write(
        "bundle.pem",
        &format!(
            "{}{}",
            Ca::new("unrelated CA").cert_pem,
            std::fs::read_to_string(&cert).unwrap()
        ),
    );
    let finished = send_line(&by_name, &["--cacert", arg(&bundle)], "in a bundle");
    finished.assert_success("sockeye connect --cacert (a bundle)");
    assert_eq!(finished.stdout, ["in a bundle"], "{}", finished.stderr);

    // The library, blocking, with TlsOptions::ca_file.
    let config = ClientConfig::new(&by_name)
        .unwrap()
        .tls(TlsOptions::new().ca_file(&cert));
    let (mut socket, _) = blocking::connect_with(config).unwrap();
    socket.send_text("library").unwrap();
    assert_eq!(socket.read().unwrap(), Message::text("library"));
    socket.close(CloseCode::Normal, "").unwrap();

    // The name is still checked: the certificate names localhost, not 127.0.0.1…
    let finished = send_line(&by_ip, &["--cacert", arg(&cert)], "by ip");
    assert_refused(
        &finished,
        &[
            "(tls stage)",
            "not valid for 127.0.0.1: it names localhost",
            "name mismatch",
        ],
    );
    // …unless that check alone is skipped, or the name it carries is checked instead.
    let finished = send_line(
        &by_ip,
        &["--cacert", arg(&cert), "--no-hostname-check"],
        "no name check",
    );
    finished.assert_success("sockeye connect --cacert --no-hostname-check");
    let finished = send_line(
        &by_ip,
        &["--cacert", arg(&cert), "--sni", "localhost"],
        "sni",
    );
    finished.assert_success("sockeye connect --cacert --sni localhost");
}

#[test]
fn another_openssl_self_signed_certificate_is_refused_in_words() {
    let dir = TestDir::new("cli-tls-pinning-other");
    let (cert, key) = openssl_self_signed(&dir, "server");
    let (other, _) = openssl_self_signed(&dir, "other");
    let (_server, url) = serve(&["--cert", arg(&cert), "--key", arg(&key)]);
    let port = url.strip_prefix("wss://127.0.0.1:").unwrap();
    let by_name = format!("wss://localhost:{port}");

    // Same subject, same name, another key: not the certificate the file holds.
    let finished = send_line(&by_name, &["--cacert", arg(&other)], "refused");
    assert_refused(
        &finished,
        &[
            "(tls stage)",
            "the certificate of localhost is a CA certificate",
            "byte-identical",
            &format!("not one of those in the CA file {}", other.display()),
        ],
    );

    // Without any CA file, the same words, and how to make one.
    let finished = send_line(&by_name, &[], "refused");
    assert_refused(&finished, &["is a CA certificate", "no CA file is set"]);

    // The library reports it as a typed cause.
    let config = ClientConfig::new(&by_name)
        .unwrap()
        .tls(TlsOptions::new().ca_file(&other));
    match blocking::connect_with(config) {
        Err(Error::Tls(TlsProblem::CaCertificate { server, ca_file })) => {
            assert_eq!(server, "localhost");
            assert_eq!(ca_file.as_deref(), Some(other.as_path()));
        }
        Err(err) => panic!("expected a CA certificate problem: {err:?}: {err}"),
        Ok(_) => panic!("another certificate than the pinned one was accepted"),
    }
}
