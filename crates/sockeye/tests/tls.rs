//! `wss://` with rustls, blocking and tokio clients, against a rustls echo server on 127.0.0.1
//! (port 0) with certificates each test makes with rcgen: verification with a CA file, an
//! unknown CA, a wrong name, an expired certificate, the two verification switches, the SNI
//! override, mutual TLS, a plain HTTP server, a silent server, unusable files and SSLKEYLOGFILE;
//! then self-signed certificates pinned by the CA file: accepted when byte-identical to one in
//! it, with their names and dates still checked, and refused in words otherwise.
//!
//! Every wait is bounded; nothing sleeps.

mod tls_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustls::version::{TLS12, TLS13};
use rustls::{CertificateError, SupportedProtocolVersion};
use sockeye::transport::{AsyncStream, Stream};
use sockeye::{blocking, ClientConfig, CloseCode, Error, Message, Stage, TlsOptions, TlsProblem};
use tls_support::pki::{
    self_signed_ca, self_signed_ca_between, self_signed_leaf, Ca, Leaf, TestDir,
};
use tls_support::server::{
    plain_http_server, server_config, silent_server, EchoServer, Seen, WAIT,
};
use wait_timeout::ChildExt;

const TLS_1_2_AND_1_3: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];

/// A CA, its certificate in a file, and an echo server presenting a certificate it issued.
struct Setup {
    dir: TestDir,
    ca: Ca,
    ca_file: PathBuf,
    server: EchoServer,
}

/// An echo server whose certificate, issued by a fresh CA, names `names`.
fn setup(names: &[&str]) -> Setup {
    let ca = Ca::new("sockeye test CA");
    let leaf = ca.server_cert(names);
    let dir = TestDir::new("tls");
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let server = EchoServer::start(server_config(&leaf, None, TLS_1_2_AND_1_3));
    Setup {
        dir,
        ca,
        ca_file,
        server,
    }
}

fn config(url: &str, tls: TlsOptions) -> ClientConfig {
    ClientConfig::new(url).expect("a valid URL").tls(tls)
}

/// Connects with the blocking client, checks an echo and a normal close.
fn echo_blocking(config: ClientConfig) {
    let (mut socket, response) =
        blocking::connect_with(config).unwrap_or_else(|err| panic!("cannot connect: {err}"));
    assert_eq!(response.status, 101);
    assert!(matches!(socket.get_ref(), Stream::Tls(_)));
    socket.send_text("hello over TLS").expect("send");
    match socket.read().expect("read the echo") {
        Message::Text(text) => assert_eq!(text.as_str(), "hello over TLS"),
        other => panic!("expected the echo, got {other:?}"),
    }
    let close = socket.close(CloseCode::Normal, "done").expect("close");
    assert_eq!(close.map(|frame| frame.code), Some(CloseCode::Normal));
}

/// Connects with the tokio client, checks an echo and a normal close.
async fn echo_tokio(config: ClientConfig) {
    let (mut socket, response) = sockeye::tokio::connect_async_with(config)
        .await
        .unwrap_or_else(|err| panic!("cannot connect: {err}"));
    assert_eq!(response.status, 101);
    assert!(matches!(socket.get_ref(), AsyncStream::Tls(_)));
    socket.send_text("hello over TLS").await.expect("send");
    match socket.read().await.expect("read the echo") {
        Message::Text(text) => assert_eq!(text.as_str(), "hello over TLS"),
        other => panic!("expected the echo, got {other:?}"),
    }
    let close = socket
        .close(CloseCode::Normal, "done")
        .await
        .expect("close");
    assert_eq!(close.map(|frame| frame.code), Some(CloseCode::Normal));
}

/// The error of a blocking connection that must fail.
fn failure(config: ClientConfig) -> Error {
    match blocking::connect_with(config) {
        Ok(_) => panic!("the connection should have failed"),
        Err(err) => err,
    }
}

/// The error of a tokio connection that must fail.
async fn failure_tokio(config: ClientConfig) -> Error {
    match sockeye::tokio::connect_async_with(config).await {
        Ok(_) => panic!("the connection should have failed"),
        Err(err) => err,
    }
}

/// The TLS problem inside `err`, which must be a TLS-stage error.
fn problem(err: &Error) -> &TlsProblem {
    assert_eq!(err.stage(), Stage::Tls, "{err}");
    match err {
        Error::Tls(problem) => problem,
        other => panic!("expected a TLS error, got {other:?}: {other}"),
    }
}

fn handshake_ok(seen: &Seen) {
    assert!(seen.handshake.is_ok(), "the server saw {seen:?}");
}

// ---------------------------------------------------------------------------------------------
// Verification

#[test]
fn blocking_client_verifies_the_server_with_a_ca_file() {
    let t = setup(&["localhost", "127.0.0.1"]);
    echo_blocking(config(
        &t.server.url("localhost"),
        TlsOptions::new().ca_file(&t.ca_file),
    ));
    let seen = t.server.next_seen();
    handshake_ok(&seen);
    assert_eq!(seen.sni.as_deref(), Some("localhost"));
    assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(!seen.client_cert);
}

#[tokio::test]
async fn tokio_client_verifies_the_server_with_a_ca_file() {
    let t = setup(&["localhost", "127.0.0.1"]);
    echo_tokio(config(
        &t.server.url("localhost"),
        TlsOptions::new().ca_file(&t.ca_file),
    ))
    .await;
    let seen = t.server.next_seen();
    handshake_ok(&seen);
    assert_eq!(seen.sni.as_deref(), Some("localhost"));
}

#[test]
fn an_ip_address_is_checked_against_the_certificate_and_sends_no_sni() {
    let t = setup(&["localhost", "127.0.0.1"]);
    echo_blocking(config(
        &t.server.url("127.0.0.1"),
        TlsOptions::new().ca_file(&t.ca_file),
    ));
    let seen = t.server.next_seen();
    handshake_ok(&seen);
    assert_eq!(seen.sni, None, "RFC 6066: no SNI for an IP address");
}

#[test]
fn a_certificate_from_another_ca_is_an_unknown_issuer() {
    let t = setup(&["localhost"]);
    let other = Ca::new("some other CA");
    let other_file = t.dir.write("other-ca.pem", &other.cert_pem);
    let err = failure(config(
        &t.server.url("localhost"),
        TlsOptions::new().ca_file(&other_file),
    ));
    let TlsProblem::UnknownIssuer { server, trusted } = problem(&err) else {
        panic!("expected an unknown issuer: {err}");
    };
    assert_eq!(server, "localhost");
    assert!(trusted.contains("other-ca.pem"), "{trusted}");
    let message = err.to_string();
    assert!(message.contains("unknown issuer"), "{message}");
    assert!(message.contains("TlsOptions::ca_file"), "{message}");
}

#[tokio::test]
async fn tokio_client_reports_an_unknown_issuer_too() {
    let t = setup(&["localhost"]);
    let other = Ca::new("some other CA");
    let other_file = t.dir.write("other-ca.pem", &other.cert_pem);
    let err = failure_tokio(config(
        &t.server.url("localhost"),
        TlsOptions::new().ca_file(&other_file),
    ))
    .await;
    assert!(
        matches!(problem(&err), TlsProblem::UnknownIssuer { .. }),
        "{err}"
    );
}

#[test]
fn the_system_trust_store_does_not_trust_a_private_ca() {
    let t = setup(&["localhost"]);
    let err = failure(config(&t.server.url("localhost"), TlsOptions::new()));
    let TlsProblem::UnknownIssuer { trusted, .. } = problem(&err) else {
        panic!("expected an unknown issuer (is ca-certificates installed?): {err}");
    };
    assert_eq!(trusted, "the operating system's trust store");
}

#[test]
fn a_wrong_hostname_lists_the_names_the_certificate_carries() {
    let t = setup(&["sockeye.test", "alt.sockeye.test", "10.1.2.3"]);
    let err = failure(config(
        &t.server.url("127.0.0.1"),
        TlsOptions::new().ca_file(&t.ca_file),
    ));
    let TlsProblem::HostnameMismatch {
        expected,
        presented,
    } = problem(&err)
    else {
        panic!("expected a hostname mismatch: {err}");
    };
    assert_eq!(expected, "127.0.0.1");
    assert_eq!(presented, &["sockeye.test", "alt.sockeye.test", "10.1.2.3"]);
    let message = err.to_string();
    assert!(
        message
            .contains("not valid for 127.0.0.1: it names sockeye.test, alt.sockeye.test, 10.1.2.3"),
        "{message}"
    );
    assert!(message.contains("name mismatch"), "{message}");
    assert!(
        message.contains("TlsOptions::skip_hostname_check"),
        "{message}"
    );
}

#[tokio::test]
async fn skipping_the_hostname_check_accepts_a_misnamed_certificate() {
    let t = setup(&["sockeye.test"]);
    let tls = TlsOptions::new()
        .ca_file(&t.ca_file)
        .skip_hostname_check(true);
    echo_blocking(config(&t.server.url("127.0.0.1"), tls.clone()));
    handshake_ok(&t.server.next_seen());
    echo_tokio(config(&t.server.url("127.0.0.1"), tls)).await;
    handshake_ok(&t.server.next_seen());
}

#[test]
fn skipping_the_hostname_check_still_verifies_the_chain_and_dates() {
    let t = setup(&["sockeye.test"]);
    let other = Ca::new("some other CA");
    let other_file = t.dir.write("other-ca.pem", &other.cert_pem);
    let err = failure(config(
        &t.server.url("127.0.0.1"),
        TlsOptions::new()
            .ca_file(&other_file)
            .skip_hostname_check(true),
    ));
    assert!(
        matches!(problem(&err), TlsProblem::UnknownIssuer { .. }),
        "{err}"
    );

    let expired = t.ca.expired_server_cert(&["sockeye.test"]);
    let server = EchoServer::start(server_config(&expired, None, TLS_1_2_AND_1_3));
    let err = failure(config(
        &server.url("127.0.0.1"),
        TlsOptions::new()
            .ca_file(&t.ca_file)
            .skip_hostname_check(true),
    ));
    assert!(matches!(problem(&err), TlsProblem::Expired { .. }), "{err}");
}

#[test]
fn an_expired_certificate_names_its_dates() {
    let ca = Ca::new("sockeye test CA");
    let dir = TestDir::new("tls");
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let expired = ca.expired_server_cert(&["localhost"]);
    let server = EchoServer::start(server_config(&expired, None, TLS_1_2_AND_1_3));
    let err = failure(config(
        &server.url("localhost"),
        TlsOptions::new().ca_file(&ca_file),
    ));
    let TlsProblem::Expired {
        server, not_after, ..
    } = problem(&err)
    else {
        panic!("expected an expired certificate: {err}");
    };
    assert_eq!(server, "localhost");
    assert!(not_after.is_some());
    let message = err.to_string();
    assert!(
        message.contains("has expired (valid until 2021-01-01 00:00:00 UTC)"),
        "{message}"
    );
    assert!(message.contains("(it is now "), "{message}");
}

#[tokio::test]
async fn insecure_skip_verify_connects_whatever_the_certificate() {
    // Issued by a CA the client does not know, for another name, and expired.
    let ca = Ca::new("unknown CA");
    let leaf = ca.expired_server_cert(&["elsewhere.test"]);
    let server = EchoServer::start(server_config(&leaf, None, TLS_1_2_AND_1_3));
    let tls = TlsOptions::new().insecure_skip_verify(true);
    echo_blocking(config(&server.url("127.0.0.1"), tls.clone()));
    handshake_ok(&server.next_seen());
    echo_tokio(config(&server.url("localhost"), tls)).await;
    handshake_ok(&server.next_seen());
}

#[test]
fn tls_1_2_servers_are_verified_too() {
    let ca = Ca::new("sockeye test CA");
    let dir = TestDir::new("tls");
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let leaf = ca.server_cert(&["localhost"]);
    let server = EchoServer::start(server_config(&leaf, None, &[&TLS12]));
    echo_blocking(config(
        &server.url("localhost"),
        TlsOptions::new().ca_file(&ca_file),
    ));
    handshake_ok(&server.next_seen());
}

// ---------------------------------------------------------------------------------------------
// Server name (SNI)

#[tokio::test]
async fn the_sni_override_reaches_the_server_and_is_what_the_certificate_must_name() {
    let t = setup(&["sockeye.test"]);
    let tls = TlsOptions::new()
        .ca_file(&t.ca_file)
        .server_name("sockeye.test");
    echo_blocking(config(&t.server.url("127.0.0.1"), tls.clone()));
    let seen = t.server.next_seen();
    handshake_ok(&seen);
    assert_eq!(seen.sni.as_deref(), Some("sockeye.test"));

    echo_tokio(config(&t.server.url("localhost"), tls)).await;
    assert_eq!(t.server.next_seen().sni.as_deref(), Some("sockeye.test"));

    let err = failure(config(
        &t.server.url("127.0.0.1"),
        TlsOptions::new()
            .ca_file(&t.ca_file)
            .server_name("other.test"),
    ));
    assert!(
        matches!(problem(&err), TlsProblem::HostnameMismatch { expected, .. } if expected == "other.test"),
        "{err}"
    );
    assert_eq!(t.server.next_seen().sni.as_deref(), Some("other.test"));
}

#[test]
fn a_server_name_that_is_no_name_is_refused_before_connecting() {
    let t = setup(&["localhost"]);
    let err = failure(config(
        &t.server.url("127.0.0.1"),
        TlsOptions::new().server_name("not a name"),
    ));
    assert!(
        matches!(problem(&err), TlsProblem::InvalidServerName { name } if name == "not a name"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS

/// A server that requires a client certificate issued by `client_ca`.
fn mtls_server(client_ca: &Ca, versions: &[&'static SupportedProtocolVersion]) -> Setup {
    let ca = Ca::new("sockeye server CA");
    let leaf = ca.server_cert(&["localhost"]);
    let dir = TestDir::new("mtls");
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let server = EchoServer::start(server_config(&leaf, Some(client_ca), versions));
    Setup {
        dir,
        ca,
        ca_file,
        server,
    }
}

#[tokio::test]
async fn a_client_certificate_is_presented_to_a_server_that_requires_one() {
    let client_ca = Ca::new("sockeye client CA");
    let t = mtls_server(&client_ca, TLS_1_2_AND_1_3);
    let client = client_ca.client_cert("sockeye-client");
    let cert = t.dir.write("client.pem", &client.cert_pem);
    let key = t.dir.write("client.key", &client.key_pem);
    let tls = TlsOptions::new()
        .ca_file(&t.ca_file)
        .client_auth(&cert, Some(&key));
    echo_blocking(config(&t.server.url("localhost"), tls.clone()));
    let seen = t.server.next_seen();
    handshake_ok(&seen);
    assert!(seen.client_cert);
    echo_tokio(config(&t.server.url("localhost"), tls)).await;
    assert!(t.server.next_seen().client_cert);

    // Certificate and key in one file, as curl's --cert allows.
    let both = t.dir.write(
        "client-and-key.pem",
        &format!("{}{}", client.cert_pem, client.key_pem),
    );
    echo_blocking(config(
        &t.server.url("localhost"),
        TlsOptions::new()
            .ca_file(&t.ca_file)
            .client_auth(&both, None::<PathBuf>),
    ));
    assert!(t.server.next_seen().client_cert);
}

#[tokio::test]
async fn no_client_certificate_for_a_server_that_requires_one_is_a_clear_error() {
    let client_ca = Ca::new("sockeye client CA");
    let t = mtls_server(&client_ca, TLS_1_2_AND_1_3);
    let tls = TlsOptions::new().ca_file(&t.ca_file);
    for err in [
        failure(config(&t.server.url("localhost"), tls.clone())),
        failure_tokio(config(&t.server.url("localhost"), tls)).await,
    ] {
        assert!(
            matches!(problem(&err), TlsProblem::ClientCertificateRequired),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("requires a client certificate"),
            "{message}"
        );
        assert!(message.contains("TlsOptions::client_auth"), "{message}");
        assert!(t.server.next_seen().handshake.is_err());
    }
}

#[test]
fn no_client_certificate_over_tls_1_2_is_a_clear_error_too() {
    let client_ca = Ca::new("sockeye client CA");
    let t = mtls_server(&client_ca, &[&TLS12]);
    let err = failure(config(
        &t.server.url("localhost"),
        TlsOptions::new().ca_file(&t.ca_file),
    ));
    let message = problem(&err).to_string();
    assert!(message.contains("client certificate"), "{message}");
    assert!(message.contains("TlsOptions::client_auth"), "{message}");
}

#[test]
fn a_client_certificate_from_a_ca_the_server_does_not_trust_is_refused() {
    let client_ca = Ca::new("sockeye client CA");
    let t = mtls_server(&client_ca, TLS_1_2_AND_1_3);
    let stranger = Ca::new("stranger CA").client_cert("sockeye-client");
    let cert = t.dir.write("client.pem", &stranger.cert_pem);
    let key = t.dir.write("client.key", &stranger.key_pem);
    let err = failure(config(
        &t.server.url("localhost"),
        TlsOptions::new()
            .ca_file(&t.ca_file)
            .client_auth(&cert, Some(&key)),
    ));
    assert!(
        matches!(problem(&err), TlsProblem::ClientCertificateRefused { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the server refused the client certificate"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Peers that are not TLS servers, and files that cannot be used

#[tokio::test]
async fn a_plain_http_server_on_a_wss_url_is_not_tls() {
    let (addr, server) = plain_http_server();
    let err = failure(config(
        &format!("wss://{addr}/"),
        TlsOptions::new().insecure_skip_verify(true),
    ));
    let TlsProblem::NotTls { received } = problem(&err) else {
        panic!("expected 'not TLS': {err}");
    };
    assert!(
        received
            .as_deref()
            .is_some_and(|bytes| bytes.starts_with(b"HTTP/1.1 400")),
        "{received:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("it sent \"HTTP/1.1 400 Bad Request"),
        "{message}"
    );
    assert!(message.contains("try ws:// instead of wss://"), "{message}");
    server.join().expect("the HTTP server thread");

    let (addr, server) = plain_http_server();
    let err = failure_tokio(config(&format!("wss://{addr}/"), TlsOptions::new())).await;
    assert!(matches!(problem(&err), TlsProblem::NotTls { .. }), "{err}");
    assert!(err.to_string().contains("try ws://"), "{err}");
    server.join().expect("the HTTP server thread");
}

#[tokio::test]
async fn a_silent_server_times_out_in_the_tls_stage() {
    let limit = Duration::from_millis(300);
    for tokio in [false, true] {
        let (addr, _release) = silent_server();
        let config = config(&format!("wss://{addr}/"), TlsOptions::new()).tls_timeout(Some(limit));
        let started = Instant::now();
        let err = if tokio {
            failure_tokio(config).await
        } else {
            failure(config)
        };
        let took = started.elapsed();
        assert!(
            matches!(err, Error::Timeout { stage: Stage::Tls, after } if after == limit),
            "{err:?}"
        );
        assert!(
            took >= limit && took < WAIT,
            "the {limit:?} limit fired after {took:?}"
        );
        assert!(err.to_string().contains("TLS handshake"), "{err}");
    }
}

#[test]
fn unusable_files_are_named_before_connecting() {
    let t = setup(&["localhost"]);
    let missing = t.dir.path().join("missing.pem");
    let err = failure(config(
        &t.server.url("localhost"),
        TlsOptions::new().ca_file(&missing),
    ));
    let message = problem(&err).to_string();
    assert!(
        message.starts_with(&format!("cannot use the CA file {}", missing.display())),
        "{message}"
    );

    let empty = t.dir.write("empty.pem", "no certificates here\n");
    let err = failure(config(
        &t.server.url("localhost"),
        TlsOptions::new().ca_file(&empty),
    ));
    assert!(
        problem(&err)
            .to_string()
            .contains("holds no PEM certificate"),
        "{err}"
    );

    let client = t.ca.client_cert("sockeye-client");
    let cert = t.dir.write("client.pem", &client.cert_pem);
    let err = failure(config(
        &t.server.url("localhost"),
        TlsOptions::new()
            .ca_file(&t.ca_file)
            .client_auth(&cert, None::<PathBuf>),
    ));
    assert!(
        problem(&err)
            .to_string()
            .contains("it holds no private key; give the key file too"),
        "{err}"
    );

    let other_key = Ca::new("x").client_cert("other").key_pem;
    let key = t.dir.write("other.key", &other_key);
    let err = failure(config(
        &t.server.url("localhost"),
        TlsOptions::new()
            .ca_file(&t.ca_file)
            .client_auth(&cert, Some(&key)),
    ));
    assert!(
        matches!(
            problem(&err),
            TlsProblem::File {
                what: "client certificate and key",
                ..
            }
        ),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Self-signed certificates pinned by the CA file

/// An echo server presenting `leaf`, and a CA file holding the PEM certificates `trusted`.
fn pinned_setup(leaf: &Leaf, trusted: &[&str]) -> (TestDir, PathBuf, EchoServer) {
    let dir = TestDir::new("tls-pin");
    let ca_file = dir.write("trusted.pem", &trusted.concat());
    let server = EchoServer::start(server_config(leaf, None, TLS_1_2_AND_1_3));
    (dir, ca_file, server)
}

fn assert_says(message: &str, expected: &[&str]) {
    for words in expected {
        assert!(message.contains(words), "{words:?} is not in: {message}");
    }
    for debug in ["CaUsedAsEndEntity", "InvalidCertificate", "Other("] {
        assert!(!message.contains(debug), "{debug:?} is in: {message}");
    }
}

#[tokio::test]
async fn a_self_signed_ca_certificate_in_the_ca_file_is_pinned() {
    // CA:TRUE, as `openssl req -x509` makes it: webpki alone refuses it as a server's own.
    let leaf = self_signed_ca(&["localhost", "127.0.0.1"]);
    let other = Ca::new("some other CA");
    // Alone in the file, and in a bundle after another CA.
    for trusted in [
        vec![leaf.cert_pem.as_str()],
        vec![other.cert_pem.as_str(), leaf.cert_pem.as_str()],
    ] {
        let (_dir, ca_file, server) = pinned_setup(&leaf, &trusted);
        let tls = TlsOptions::new().ca_file(&ca_file);
        echo_blocking(config(&server.url("localhost"), tls.clone()));
        let seen = server.next_seen();
        handshake_ok(&seen);
        assert_eq!(seen.sni.as_deref(), Some("localhost"));
        echo_tokio(config(&server.url("127.0.0.1"), tls)).await;
        handshake_ok(&server.next_seen());
    }
}

#[test]
fn a_self_signed_certificate_that_is_not_a_ca_is_trusted_through_the_ca_file_too() {
    let leaf = self_signed_leaf(&["localhost"]);
    let (_dir, ca_file, server) = pinned_setup(&leaf, &[&leaf.cert_pem]);
    echo_blocking(config(
        &server.url("localhost"),
        TlsOptions::new().ca_file(&ca_file),
    ));
    handshake_ok(&server.next_seen());
}

#[tokio::test]
async fn a_pinned_certificate_still_has_its_name_checked() {
    let leaf = self_signed_ca(&["localhost"]);
    let (_dir, ca_file, server) = pinned_setup(&leaf, &[&leaf.cert_pem]);
    let tls = TlsOptions::new().ca_file(&ca_file);
    for err in [
        failure(config(&server.url("127.0.0.1"), tls.clone())),
        failure_tokio(config(&server.url("127.0.0.1"), tls.clone())).await,
    ] {
        let TlsProblem::HostnameMismatch {
            expected,
            presented,
        } = problem(&err)
        else {
            panic!("expected a hostname mismatch: {err}");
        };
        assert_eq!(expected, "127.0.0.1");
        assert_eq!(presented, &["localhost"]);
        assert_says(
            &err.to_string(),
            &[
                "the certificate is not valid for 127.0.0.1: it names localhost",
                "name mismatch",
                "TlsOptions::server_name",
                "TlsOptions::skip_hostname_check",
            ],
        );
    }
    // The two ways past it: check the name it carries, or skip only the name check.
    echo_blocking(config(
        &server.url("127.0.0.1"),
        tls.clone().server_name("localhost"),
    ));
    echo_tokio(config(
        &server.url("127.0.0.1"),
        tls.skip_hostname_check(true),
    ))
    .await;
}

#[tokio::test]
async fn another_self_signed_certificate_than_the_pinned_one_is_refused_in_words() {
    // Same names, another key: only the bytes of the certificate tell them apart.
    let served = self_signed_ca(&["localhost"]);
    let pinned = self_signed_ca(&["localhost"]);
    let (_dir, ca_file, server) = pinned_setup(&served, &[&pinned.cert_pem]);
    let tls = TlsOptions::new().ca_file(&ca_file);
    for err in [
        failure(config(&server.url("localhost"), tls.clone())),
        failure_tokio(config(&server.url("localhost"), tls.clone())).await,
        // Skipping the name check changes nothing.
        failure(config(
            &server.url("localhost"),
            tls.clone().skip_hostname_check(true),
        )),
    ] {
        let TlsProblem::CaCertificate {
            server: name,
            ca_file: named,
        } = problem(&err)
        else {
            panic!("expected a CA certificate refused as the server's own: {err}");
        };
        assert_eq!(name, "localhost");
        assert_eq!(named.as_deref(), Some(ca_file.as_path()));
        assert_says(
            &err.to_string(),
            &[
                "the certificate of localhost is a CA certificate",
                "accepted as a server's own only when it is byte-identical to a certificate in \
                 TlsOptions::ca_file",
                &format!(
                    "it is not one of those in the CA file {}",
                    ca_file.display()
                ),
            ],
        );
    }

    // Without a CA file the system's roots are used, and nothing is pinned.
    let err = failure(config(&server.url("localhost"), TlsOptions::new()));
    assert!(
        matches!(
            problem(&err),
            TlsProblem::CaCertificate { ca_file: None, .. }
        ),
        "{err}"
    );
    assert_says(
        &err.to_string(),
        &["no CA file is set", "name that file in TlsOptions::ca_file"],
    );

    // A self-signed certificate that is not a CA, and not pinned, has an unknown issuer…
    let leaf = self_signed_leaf(&["127.0.0.1"]);
    let (_dir, ca_file, server) = pinned_setup(&leaf, &[&pinned.cert_pem]);
    let err = failure(config(
        &server.url("127.0.0.1"),
        TlsOptions::new().ca_file(&ca_file),
    ));
    assert!(
        matches!(problem(&err), TlsProblem::UnknownIssuer { .. }),
        "{err}"
    );
    assert_says(
        &err.to_string(),
        &["unknown issuer", "self-signed", "TlsOptions::ca_file"],
    );

    // …unless a trusted certificate bears its name (CN=localhost here): one made again, whose
    // signature then does not verify with the old key.
    let remade = self_signed_leaf(&["localhost"]);
    let (_dir, ca_file, server) = pinned_setup(&remade, &[&pinned.cert_pem]);
    let err = failure(config(
        &server.url("localhost"),
        TlsOptions::new().ca_file(&ca_file),
    ));
    assert!(
        matches!(
            problem(&err),
            TlsProblem::BadCertificate {
                error: CertificateError::BadSignature,
                ..
            }
        ),
        "{err}"
    );
    assert_says(
        &err.to_string(),
        &[
            "signature does not verify",
            "made again",
            "put the new one in the file named by TlsOptions::ca_file",
        ],
    );
}

#[test]
fn a_pinned_certificate_is_refused_outside_its_dates() {
    let expired = self_signed_ca_between(&["localhost"], (2020, 1, 1), (2021, 1, 1));
    let (_dir, ca_file, server) = pinned_setup(&expired, &[&expired.cert_pem]);
    for tls in [
        TlsOptions::new().ca_file(&ca_file),
        TlsOptions::new()
            .ca_file(&ca_file)
            .skip_hostname_check(true),
    ] {
        let err = failure(config(&server.url("localhost"), tls));
        let TlsProblem::Expired { not_after, .. } = problem(&err) else {
            panic!("expected an expired certificate: {err}");
        };
        assert!(not_after.is_some());
        assert_says(
            &err.to_string(),
            &[
                "the certificate of localhost has expired (valid until 2021-01-01 00:00:00 UTC)",
                "needs a new certificate",
            ],
        );
    }

    let future = self_signed_ca_between(&["localhost"], (2090, 1, 1), (2091, 1, 1));
    let (_dir, ca_file, server) = pinned_setup(&future, &[&future.cert_pem]);
    let err = failure(config(
        &server.url("localhost"),
        TlsOptions::new().ca_file(&ca_file),
    ));
    assert!(
        matches!(problem(&err), TlsProblem::NotYetValid { .. }),
        "{err}"
    );
    assert_says(
        &err.to_string(),
        &["is not valid yet (valid from 2090-01-01 00:00:00 UTC)"],
    );
}

// ---------------------------------------------------------------------------------------------
// SSLKEYLOGFILE

/// The environment is process-wide, so the connection that logs its keys runs in a child process
/// (this test binary, running only [`keylog_child`]) with `SSLKEYLOGFILE` set there.
#[test]
fn sslkeylogfile_receives_the_session_secrets() {
    let dir = TestDir::new("keylog");
    let log = dir.path().join("keys.log");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "keylog_child", "--ignored", "--test-threads=1"])
        .env("SSLKEYLOGFILE", &log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the test binary");
    let status = child
        .wait_timeout(WAIT)
        .expect("wait for the child")
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("the key log child did not finish within {WAIT:?}")
        });
    assert!(status.success(), "the key log child failed: {status}");
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|err| panic!("SSLKEYLOGFILE {} was not written: {err}", log.display()));
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET ",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET ",
        "CLIENT_TRAFFIC_SECRET_0 ",
        "SERVER_TRAFFIC_SECRET_0 ",
    ] {
        assert!(
            text.lines().any(|line| line.starts_with(label)),
            "no {label}line in\n{text}"
        );
    }
}

/// Run by [`sslkeylogfile_receives_the_session_secrets`]; does nothing without `SSLKEYLOGFILE`.
#[test]
#[ignore = "runs in a child process of sslkeylogfile_receives_the_session_secrets"]
fn keylog_child() {
    if std::env::var_os("SSLKEYLOGFILE").is_none() {
        return;
    }
    let t = setup(&["localhost"]);
    echo_blocking(config(
        &t.server.url("localhost"),
        TlsOptions::new().ca_file(&t.ca_file),
    ));
}
