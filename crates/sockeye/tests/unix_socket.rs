//! Unix domain sockets: `ws+unix://` URLs and the explicit `unix_socket` option, against sockeye
//! servers listening on a socket in a fresh temporary directory, with both front-ends.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use futures_util::StreamExt;
use sockeye::{blocking, tokio as ws, Accept, ClientConfig, CloseCode, Error, Message, Stage};
use sockeye::{ServerConfig, Target};

const LIMIT: Duration = Duration::from_secs(10);

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sockeye-unix-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn socket(&self) -> PathBuf {
        self.0.join("ws.sock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the server saw of the request: the target and the `Host` header.
type Seen = (String, String);

/// A blocking sockeye echo server for one connection on a Unix socket at `path`.
fn blocking_server(path: &Path) -> mpsc::Receiver<Seen> {
    let listener = UnixListener::bind(path).unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let (mut socket, request) =
            blocking::accept_with(stream, &ServerConfig::default(), |_| Ok(Accept::default()))
                .unwrap();
        let host = request.headers.get("Host").unwrap_or("").to_string();
        let _ = tx.send((request.target, host));
        loop {
            match socket.read() {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    socket.send(&message).unwrap()
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    rx
}

fn echo_and_close_blocking(config: ClientConfig) -> Seen {
    let path = config.unix_socket.clone().unwrap();
    let seen = blocking_server(&path);
    let (mut socket, response) = blocking::connect_with(config).unwrap();
    assert_eq!(response.status, 101);
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    assert!(socket.get_ref().peer_description().starts_with("unix"));
    socket.send_text("over the socket").unwrap();
    assert_eq!(socket.read().unwrap(), Message::text("over the socket"));
    let close = socket.close(CloseCode::Normal, "").unwrap();
    assert_eq!(close.map(|frame| frame.code), Some(CloseCode::Normal));
    seen.recv_timeout(LIMIT).unwrap()
}

#[test]
fn a_ws_unix_url_reaches_a_blocking_server_on_the_socket() {
    let dir = TempDir::new();
    let url = format!("ws+unix://{}:/chat?room=1", dir.socket().display());
    let config = ClientConfig::new(&url).unwrap();
    assert_eq!(config.unix_socket.as_deref(), Some(dir.socket().as_path()));
    let (target, host) = echo_and_close_blocking(config);
    assert_eq!(
        (target.as_str(), host.as_str()),
        ("/chat?room=1", "localhost")
    );
}

#[test]
fn the_unix_socket_option_works_with_any_ws_url() {
    let dir = TempDir::new();
    let config = ClientConfig::new("ws://api.internal:8080/v1/stream")
        .unwrap()
        .unix_socket(dir.socket());
    let (target, host) = echo_and_close_blocking(config);
    assert_eq!(
        (target.as_str(), host.as_str()),
        ("/v1/stream", "api.internal:8080")
    );
}

/// A tokio sockeye echo server for one connection on a Unix socket at `path`.
async fn tokio_server(path: &Path) -> tokio::task::JoinHandle<Seen> {
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (mut socket, request) =
            ws::accept_async_with(stream, &ServerConfig::default(), |_| Ok(Accept::default()))
                .await
                .unwrap();
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(_) | Message::Binary(_) = message {
                socket.send(message).await.unwrap();
            }
        }
        let host = request.headers.get("Host").unwrap_or("").to_string();
        (request.target, host)
    })
}

async fn echo_and_close_tokio(config: ClientConfig) -> Seen {
    let server = tokio_server(config.unix_socket.as_deref().unwrap()).await;
    let (mut socket, _) = ws::connect_async_with(config).await.unwrap();
    socket.send_binary(&[1, 2, 3]).await.unwrap();
    assert_eq!(socket.read().await.unwrap(), Message::binary(vec![1, 2, 3]));
    let close = socket.close(CloseCode::Normal, "bye").await.unwrap();
    assert_eq!(close.map(|frame| frame.code), Some(CloseCode::Normal));
    server.await.unwrap()
}

#[tokio::test]
async fn the_tokio_client_reaches_a_tokio_server_on_the_socket_both_ways() {
    tokio::time::timeout(LIMIT, async {
        let dir = TempDir::new();
        let url = format!("ws+unix://{}", dir.socket().display());
        let seen = echo_and_close_tokio(ClientConfig::new(&url).unwrap()).await;
        assert_eq!(seen, ("/".to_string(), "localhost".to_string()));

        let dir = TempDir::new();
        let config = ClientConfig::new("ws://svc.local/")
            .unwrap()
            .unix_socket(dir.socket());
        let seen = echo_and_close_tokio(config).await;
        assert_eq!(seen, ("/".to_string(), "svc.local".to_string()));
    })
    .await
    .unwrap();
}

#[test]
fn a_missing_socket_is_a_connect_error_naming_the_path() {
    let dir = TempDir::new();
    let url = format!("ws+unix://{}:/x", dir.socket().display());
    let err = blocking::connect(&url).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(err.stage(), Stage::Tcp);
    assert!(
        err.to_string()
            .contains(&format!("unix:{}", dir.socket().display())),
        "{err}"
    );
}

#[test]
fn ws_unix_urls_parse_the_socket_path_and_the_request_target() {
    let target = Target::parse("ws+unix:///run/app.sock").unwrap();
    assert_eq!(
        (
            target.unix_socket.as_deref(),
            target.resource.as_str(),
            target.host_header.as_str(),
            target.secure
        ),
        (Some(Path::new("/run/app.sock")), "/", "localhost", false)
    );
    let target = Target::parse("ws+unix://api.local/run/my%20app.sock:/v1/ws?x=1").unwrap();
    assert_eq!(
        target.unix_socket.as_deref(),
        Some(Path::new("/run/my app.sock"))
    );
    assert_eq!(target.resource, "/v1/ws?x=1");
    assert_eq!(target.host_header, "api.local");
    for bad in [
        "ws+unix://",
        "ws+unix:relative.sock",
        "ws+unix:///run/app.sock:chat",
        "ws+unix:///run/app.sock#frag",
    ] {
        let err = Target::parse(bad).unwrap_err();
        assert!(err.to_string().contains("ws+unix"), "{bad}: {err}");
    }
}
