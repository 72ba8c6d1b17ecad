//! The classic reverse-proxy mistakes, diagnosed against the real proxies: nginx without
//! `proxy_http_version 1.1` and without the `Upgrade`/`Connection` headers, nginx with a dead
//! backend, and squid (as an accelerator) forwarding a plain `GET`, each in front of an
//! in-process sockeye echo server on 127.0.0.1. nginx and squid must be installed
//! (`scripts/test.sh` installs them); a missing one fails the test.

mod diagnose_support;

use std::time::Duration;

use diagnose_support::peers::{echo_backend, Nginx, Squid};
use sockeye::{blocking, ClientConfig, Diagnosis, Message, ProxyConfig, Stage};

fn config(url: &str) -> ClientConfig {
    ClientConfig::new(url)
        .expect("a valid URL")
        .proxy(ProxyConfig::Direct)
        .connect_timeout(Some(Duration::from_secs(10)))
        .handshake_timeout(Some(Duration::from_secs(10)))
}

/// Connects to `port` on 127.0.0.1 (it must fail) and diagnoses the failure with the report.
fn diagnose(port: u16) -> Diagnosis {
    let (result, report) =
        blocking::connect_with_report(config(&format!("ws://127.0.0.1:{port}/chat")));
    let Err(err) = result else {
        panic!("the connection opened")
    };
    let diagnosis = report.diagnose(&err);
    assert_eq!(diagnosis.stage, err.stage());
    diagnosis
}

fn assert_hint(diagnosis: &Diagnosis, every: &[&str]) {
    for text in every {
        assert!(
            diagnosis.hint.contains(text),
            "the hint should say {text:?}:\n{diagnosis}"
        );
    }
}

#[test]
fn nginx_without_the_upgrade_headers() {
    let backend = echo_backend();
    let nginx = Nginx::start(backend);

    // A bare proxy_pass: nginx speaks HTTP/1.0 to the backend, which refuses it with 505.
    let diagnosis = diagnose(nginx.http10);
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Http, "status-505"),
        "{diagnosis}"
    );
    assert!(
        diagnosis
            .evidence("server")
            .is_some_and(|server| server.starts_with("nginx")),
        "{diagnosis}"
    );
    assert_hint(
        &diagnosis,
        &[
            "(nginx",
            "proxy_http_version 1.1",
            "proxy_set_header Upgrade",
        ],
    );

    // HTTP/1.1 without `proxy_set_header Upgrade/Connection`: the backend sees no upgrade and
    // answers 426, naming version 13, which the client did send.
    let diagnosis = diagnose(nginx.no_upgrade);
    assert_eq!(diagnosis.cause, "status-426", "{diagnosis}");
    assert_eq!(
        diagnosis.evidence("sec_websocket_version"),
        Some("13"),
        "{diagnosis}"
    );
    assert_hint(
        &diagnosis,
        &[
            "13 was sent",
            "lost on the way",
            "(nginx",
            "proxy_set_header Upgrade",
        ],
    );

    // A backend that is not running: 502 from nginx.
    let diagnosis = diagnose(nginx.dead_backend);
    assert_eq!(diagnosis.cause, "status-502", "{diagnosis}");
    assert_hint(&diagnosis, &["(nginx", "server behind it"]);

    // Configured as a WebSocket proxy needs, the same backend answers.
    let (result, report) =
        blocking::connect_with_report(config(&format!("ws://127.0.0.1:{}/chat", nginx.correct)));
    let (mut socket, response) = result.expect("nginx passes the upgrade on");
    assert_eq!(response.status, 101);
    assert!(report
        .response_head()
        .and_then(|head| head.get("Server").map(str::to_string))
        .is_some_and(|s| s.starts_with("nginx")));
    socket.send_text("through nginx").expect("send");
    match socket.read().expect("the echo") {
        Message::Text(text) => assert_eq!(text.as_str(), "through nginx"),
        other => panic!("expected the echo, got {other:?}"),
    }
    let _ = socket.close(sockeye::CloseCode::Normal, "");
}

#[test]
fn squid_forwarding_a_plain_get() {
    let backend = echo_backend();
    let squid = Squid::start(backend);
    let diagnosis = diagnose(squid.port);
    assert_eq!(
        (diagnosis.stage, diagnosis.cause.as_str()),
        (Stage::Http, "status-426"),
        "{diagnosis}"
    );
    assert!(
        diagnosis
            .evidence("via")
            .is_some_and(|via| via.contains("squid")),
        "{diagnosis}"
    );
    assert_hint(&diagnosis, &["13 was sent", "lost on the way", "squid"]);
}
