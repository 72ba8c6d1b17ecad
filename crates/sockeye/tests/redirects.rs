//! Redirects of the opening handshake, against a sockeye server whose accept hook answers some
//! paths with 301/302/303/307/308 and a `Location`: followed when asked (both front-ends),
//! reported with the `Location` when not, and bounded by the limit.
//!
//! The decisions themselves (relative and absolute locations, `http(s)` → `ws(s)`, never `wss` →
//! `ws`, credentials kept to their host) are unit-tested in `src/redirect.rs`.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use sockeye::proto::HandshakeError;
use sockeye::{blocking, tokio as ws, Accept, ClientConfig, Error, Message, Reject, ServerConfig};

const LIMIT: Duration = Duration::from_secs(10);

/// A server that answers the paths in `routes` with `(status, Location)` and accepts any other,
/// echoing one message. Every request target it sees is sent to the returned channel.
///
/// `{base}` in a Location becomes `127.0.0.1:PORT`. The server thread serves until the test
/// process ends.
fn redirecting_server(routes: &[(&str, u16, &str)]) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = listener.local_addr().unwrap().to_string();
    let routes: HashMap<String, (u16, String)> = routes
        .iter()
        .map(|(path, status, location)| {
            (
                path.to_string(),
                (*status, location.replace("{base}", &base)),
            )
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            let tx = tx.clone();
            let routes = routes.clone();
            thread::spawn(move || {
                let accepted = blocking::accept_with(stream, &ServerConfig::default(), |request| {
                    let _ = tx.send(request.target.clone());
                    match routes.get(&request.target) {
                        Some((status, location)) => {
                            Err(Reject::new(*status, "moved").header("Location", location.as_str()))
                        }
                        None => Ok(Accept::default()),
                    }
                });
                if let Ok((mut socket, _)) = accepted {
                    if let Ok(message) = socket.read() {
                        let _ = socket.send(message);
                    }
                    let _ = socket.read();
                }
            });
        }
    });
    (base, rx)
}

/// The request targets the server saw, once it has seen `count`.
fn seen(rx: &mpsc::Receiver<String>, count: usize) -> Vec<String> {
    let seen: Vec<String> = (0..count)
        .map(|_| rx.recv_timeout(LIMIT).unwrap())
        .collect();
    assert!(
        rx.recv_timeout(Duration::from_millis(50)).is_err(),
        "more requests than {count}: {seen:?}"
    );
    seen
}

fn echo_once(socket: &mut blocking::WebSocket<sockeye::transport::Stream>) {
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    socket.send_text("after the redirect").unwrap();
    assert_eq!(socket.read().unwrap(), Message::text("after the redirect"));
}

#[test]
fn every_redirect_status_is_followed_when_asked() {
    for status in [301, 302, 303, 307, 308] {
        let (base, requests) = redirecting_server(&[("/old", status, "/new?x=1")]);
        let config = ClientConfig::new(&format!("ws://{base}/old"))
            .unwrap()
            .follow_redirects(true);
        let (mut socket, response) = blocking::connect_with(config).unwrap();
        assert_eq!(response.status, 101);
        assert!(
            response.request.starts_with(b"GET /new?x=1 HTTP/1.1\r\n"),
            "{status}"
        );
        echo_once(&mut socket);
        assert_eq!(seen(&requests, 2), ["/old", "/new?x=1"], "{status}");
    }
}

#[test]
fn absolute_http_locations_become_ws_and_chains_are_followed() {
    let (base, requests) = redirecting_server(&[
        ("/a", 302, "http://{base}/b"),
        ("/b", 307, "ws://{base}/c"),
        ("/c", 308, "d"),
    ]);
    let config = ClientConfig::new(&format!("ws://{base}/a"))
        .unwrap()
        .follow_redirects(true);
    let (mut socket, _) = blocking::connect_with(config).unwrap();
    echo_once(&mut socket);
    assert_eq!(seen(&requests, 4), ["/a", "/b", "/c", "/d"]);
}

#[test]
fn the_tokio_client_follows_redirects_too() {
    let (base, requests) = redirecting_server(&[("/old", 301, "http://{base}/new")]);
    let config = ClientConfig::new(&format!("ws://{base}/old"))
        .unwrap()
        .follow_redirects(true);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(LIMIT, async {
            let (mut socket, response) = ws::connect_async_with(config).await.unwrap();
            assert!(response.request.starts_with(b"GET /new HTTP/1.1\r\n"));
            socket.send_text("async").await.unwrap();
            assert_eq!(socket.read().await.unwrap(), Message::text("async"));
        })
        .await
        .unwrap();
    });
    assert_eq!(seen(&requests, 2), ["/old", "/new"]);
}

#[test]
fn redirects_are_not_followed_by_default_and_the_error_names_the_location() {
    let (base, requests) = redirecting_server(&[("/old", 301, "/moved/here")]);
    let err = blocking::connect(&format!("ws://{base}/old")).unwrap_err();
    match &err {
        Error::Handshake(HandshakeError::UnexpectedStatus {
            status, headers, ..
        }) => {
            assert_eq!(*status, 301);
            assert_eq!(headers.get("Location"), Some("/moved/here"));
        }
        other => panic!("expected the 301 itself, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("\"/moved/here\""), "{message}");
    assert!(message.contains("follow_redirects"), "{message}");
    assert_eq!(seen(&requests, 1), ["/old"]);
}

#[test]
fn the_redirect_limit_is_enforced() {
    let (base, requests) = redirecting_server(&[("/loop", 302, "/loop")]);
    let config = ClientConfig::new(&format!("ws://{base}/loop"))
        .unwrap()
        .follow_redirects(true)
        .max_redirects(3);
    let err = blocking::connect_with(config.clone()).unwrap_err();
    assert!(
        matches!(err, Error::Redirect { status: 302, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("more than 3 redirects"), "{err}");
    // The first request and three redirects: four requests in all.
    assert_eq!(seen(&requests, 4).len(), 4);

    // max_redirects(0) with following on: the first redirect is already too many.
    let err = blocking::connect_with(config.max_redirects(0)).unwrap_err();
    assert!(matches!(err, Error::Redirect { .. }), "{err:?}");
    assert_eq!(seen(&requests, 1).len(), 1);
}

/// A raw server that answers every request with `response` and closes: a redirect whose body
/// is broken (chunked framing that is malformed, or cut short). Returns `127.0.0.1:PORT`.
fn raw_answer(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let _ = stream.write_all(response.as_bytes());
                let _ = stream.shutdown(std::net::Shutdown::Write);
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
            });
        }
    });
    base
}

#[test]
fn a_redirect_whose_body_is_broken_is_still_followed() {
    let (target, requests) = redirecting_server(&[]);
    let bodies = [
        // Malformed chunked framing.
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        // A chunked body cut short: the server closes before its last chunk.
        "Transfer-Encoding: chunked\r\n\r\n5\r\nmov",
        // Shorter than its Content-Length.
        "Content-Length: 100\r\n\r\nmoved",
    ];
    for body in bodies {
        let response: &'static str = Box::leak(
            format!("HTTP/1.1 302 Found\r\nLocation: ws://{target}/new\r\n{body}").into_boxed_str(),
        );
        let base = raw_answer(response);
        let url = format!("ws://{base}/old");

        // Not followed unless asked: the refusal, its body problem, and where it points.
        let err = blocking::connect(&url).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Handshake(HandshakeError::RefusalBodyUnfinished { status: 302, .. })
            ),
            "{body:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("ws://{target}/new")), "{message}");
        assert!(message.contains("follow_redirects"), "{message}");
        assert_eq!(err.diagnosis().cause, "status-302");

        // Followed by both front-ends.
        let config = ClientConfig::new(&url).unwrap().follow_redirects(true);
        let (mut socket, response) = blocking::connect_with(config.clone()).unwrap();
        assert!(
            response.request.starts_with(b"GET /new HTTP/1.1\r\n"),
            "{body:?}"
        );
        echo_once(&mut socket);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::timeout(LIMIT, async {
                let (mut socket, _) = ws::connect_async_with(config).await.unwrap();
                socket.send_text("async").await.unwrap();
                assert_eq!(socket.read().await.unwrap(), Message::text("async"));
            })
            .await
            .unwrap();
        });
        assert_eq!(seen(&requests, 2), ["/new", "/new"], "{body:?}");
    }
}

#[cfg(feature = "tls")]
mod tls_support;

/// `wss://` redirects, against a rustls server (certificates from the TLS tests' rcgen CA).
#[cfg(feature = "tls")]
mod wss {
    use std::net::TcpStream;
    use std::sync::Arc;

    use rustls::version::{TLS12, TLS13};
    use rustls::{ServerConnection, StreamOwned};
    use sockeye::TlsOptions;

    use super::tls_support::pki::{Ca, TestDir};
    use super::tls_support::server::server_config;
    use super::*;

    /// A TLS server on 127.0.0.1 answering `/old` with 301 and `Location: {location}` (where
    /// `{port}` is its own port) and accepting any other path; returns its port, the CA file's
    /// directory and path, and the request targets it sees.
    fn tls_redirecting_server(
        location: &str,
    ) -> (u16, TestDir, std::path::PathBuf, mpsc::Receiver<String>) {
        let ca = Ca::new("sockeye redirect test CA");
        let leaf = ca.server_cert(&["127.0.0.1"]);
        let dir = TestDir::new("redirect");
        let ca_file = dir.write("ca.pem", &ca.cert_pem);
        let config = Arc::new(server_config(&leaf, None, &[&TLS12, &TLS13]));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let location = location.replace("{port}", &port.to_string());
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let (config, tx, location) = (Arc::clone(&config), tx.clone(), location.clone());
                thread::spawn(move || serve(tcp, config, &location, &tx));
            }
        });
        (port, dir, ca_file, rx)
    }

    fn serve(
        tcp: TcpStream,
        config: Arc<rustls::ServerConfig>,
        location: &str,
        seen: &mpsc::Sender<String>,
    ) {
        tcp.set_read_timeout(Some(LIMIT)).unwrap();
        let Ok(conn) = ServerConnection::new(config) else {
            return;
        };
        let accepted = blocking::accept_with(
            StreamOwned::new(conn, tcp),
            &ServerConfig::default(),
            |request| {
                let _ = seen.send(request.target.clone());
                match request.target.as_str() {
                    "/old" => Err(Reject::new(301, "moved").header("Location", location)),
                    _ => Ok(Accept::default()),
                }
            },
        );
        if let Ok((mut socket, _)) = accepted {
            if let Ok(message) = socket.read() {
                let _ = socket.send(message);
            }
            let _ = socket.read();
        }
    }

    fn follow(port: u16, ca_file: &std::path::Path) -> ClientConfig {
        ClientConfig::new(&format!("wss://127.0.0.1:{port}/old"))
            .unwrap()
            .tls(TlsOptions::new().ca_file(ca_file))
            .follow_redirects(true)
    }

    #[test]
    fn wss_never_follows_a_redirect_to_ws() {
        let (port, _dir, ca_file, requests) = tls_redirecting_server("ws://127.0.0.1:{port}/new");
        let err = blocking::connect_with(follow(port, &ca_file)).unwrap_err();
        assert!(
            matches!(err, Error::Redirect { status: 301, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("downgrade"), "{err}");
        assert_eq!(seen(&requests, 1), ["/old"]);

        // http:// maps to ws://: refused the same way.
        let (port, _dir, ca_file, requests) = tls_redirecting_server("http://127.0.0.1:{port}/new");
        let err = blocking::connect_with(follow(port, &ca_file)).unwrap_err();
        assert!(err.to_string().contains("downgrade"), "{err}");
        assert_eq!(seen(&requests, 1), ["/old"]);
    }

    #[test]
    fn wss_follows_https_and_relative_locations_over_tls() {
        for location in ["https://127.0.0.1:{port}/new", "/new"] {
            let (port, _dir, ca_file, requests) = tls_redirecting_server(location);
            let (mut socket, _) = blocking::connect_with(follow(port, &ca_file)).unwrap();
            assert!(
                matches!(socket.get_ref(), sockeye::transport::Stream::Tls(_)),
                "{location}"
            );
            socket.set_read_timeout(Some(LIMIT)).unwrap();
            socket.send_text("still encrypted").unwrap();
            assert_eq!(socket.read().unwrap(), Message::text("still encrypted"));
            assert_eq!(seen(&requests, 2), ["/old", "/new"], "{location}");
        }
    }
}
