//! The tokio front-end against Python's `websockets`, over 127.0.0.1, in both directions:
//!
//! - sockeye's tokio client (`connect_async_with`), whole and split into reader and writer tasks,
//!   against a `websockets` server (`peers/websockets_server.py`);
//! - a `websockets` client (`peers/websockets_client.py`) against sockeye's tokio
//!   `accept_async` and against a whole tokio `Server`.
//!
//! Every listener binds port 0; every wait is bounded; peers are killed when a test ends. The
//! Python comes from `$SOCKEYE_PYTHON` or `<workspace>/.venv/bin/python`: without it the tests
//! fail and say to run `scripts/test.sh`.

mod common;

use std::time::Duration;

use common::{fields, pattern_messages, python_peer, Finished, Peer, PythonServer, SIZES};
use sockeye::tokio::{self as ws, Server, ServerHandler};
use sockeye::{ClientConfig, CloseCode, CloseFrame, Error, Message, ServerConfig};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(30);

fn kind_and_size(message: &Message) -> (&'static str, String) {
    match message {
        Message::Text(text) => ("text", text.len().to_string()),
        other => ("binary", other.len().to_string()),
    }
}

fn strings<const N: usize>(values: [&str; N]) -> [String; N] {
    values.map(str::to_string)
}

fn client_config(url: &str) -> ClientConfig {
    ClientConfig::new(url)
        .expect("a valid URL")
        .connect_timeout(Some(Duration::from_secs(5)))
        .handshake_timeout(Some(Duration::from_secs(5)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

#[test]
fn tokio_client_echoes_every_size_with_websockets_server() {
    let mut server = PythonServer::start(&[]);
    let url = server.url("/echo");
    let received = runtime().block_on(async {
        tokio::time::timeout(LIMIT, async {
            let (mut socket, response) = ws::connect_async_with(client_config(&url))
                .await
                .expect("connect");
            assert_eq!(response.status, 101);
            assert!(
                response.deflate.is_some(),
                "websockets accepts the default permessage-deflate offer"
            );
            let mut echoed = Vec::new();
            for message in pattern_messages() {
                socket.send(&message).await.expect("send");
                let echo = socket.read().await.expect("the echo");
                assert_eq!(echo, message, "the echo of {:?}", kind_and_size(&message));
                echoed.push(kind_and_size(&message));
            }
            let reply = socket.close(CloseCode::Normal, "bye").await.expect("close");
            assert_eq!(reply, Some(CloseFrame::new(CloseCode::Normal, "bye")));
            echoed
        })
        .await
        .expect("within the time limit")
    });
    for (kind, size) in received {
        assert_eq!(
            server.peer.event("message"),
            strings([kind, &size, "ok"]),
            "what the Python server received"
        );
    }
    assert_eq!(server.closed(), strings(["1000", "bye", "1000", "bye"]));
}

#[test]
fn split_tokio_client_pipelines_through_websockets_server() {
    const COUNT: usize = 500;
    let mut server = PythonServer::start(&[]);
    let url = server.url("/echo");
    runtime().block_on(async {
        tokio::time::timeout(LIMIT, async {
            let (socket, _) = ws::connect_async_with(client_config(&url))
                .await
                .expect("connect");
            let (mut reader, mut writer) = socket.split();
            let sending = tokio::spawn(async move {
                for n in 0..COUNT {
                    writer
                        .queue(Message::text(format!("message {n}")))
                        .expect("queue");
                    if n % 50 == 49 {
                        writer.flush().await.expect("flush");
                    }
                }
                writer.flush().await.expect("flush");
                writer
            });
            for n in 0..COUNT {
                assert_eq!(
                    reader.read().await.expect("an echo"),
                    Message::text(format!("message {n}"))
                );
            }
            let mut writer = sending.await.expect("the writer's task");
            writer
                .close(CloseCode::GoingAway, "done")
                .await
                .expect("close");
            loop {
                match reader.read().await {
                    Ok(Message::Close(frame)) => {
                        assert_eq!(frame.map(|f| f.code), Some(CloseCode::GoingAway));
                    }
                    Ok(other) => panic!("unexpected {other:?}"),
                    Err(Error::ConnectionClosed) => break,
                    Err(err) => panic!("{err}"),
                }
            }
        })
        .await
        .expect("within the time limit")
    });
    for _ in 0..COUNT {
        assert_eq!(server.peer.event("message")[0], "text");
    }
    assert_eq!(server.closed(), strings(["1001", "done", "1001", "done"]));
}

/// Runs `websockets_client.py URL sizes --compression COMPRESSION` against `serve`, which gets
/// the listener, and returns what the client printed.
fn websockets_client_against(
    compression: &str,
    serve: impl FnOnce(TcpListener) -> tokio::task::JoinHandle<()>,
) -> Finished {
    let rt = runtime();
    let listener = rt.block_on(async {
        TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0")
    });
    let url = format!("ws://{}/sizes", listener.local_addr().expect("an address"));
    let served = {
        let _guard = rt.enter();
        serve(listener)
    };
    let script = "websockets_client.py";
    let peer = Peer::spawn(
        script,
        python_peer(script, &[&url, "sizes", "--compression", compression]),
    );
    let finished = peer.finish();
    finished.assert_success(script);
    served.abort();
    finished
}

fn assert_every_size_echoed(finished: &Finished) {
    let expected: Vec<Vec<String>> = SIZES
        .iter()
        .flat_map(|size| {
            ["text", "binary"].map(|kind| vec![kind.into(), size.to_string(), "ok".into()])
        })
        .collect();
    assert_eq!(finished.events("echo"), expected);
    let closed = finished.events("closed");
    assert_eq!(closed.len(), 1, "one closed event: {:?}", finished.stdout);
    assert_eq!(
        fields::<4>("closed", closed[0].clone()),
        strings(["1000", "", "1000", "bye"]),
        "the client got sockeye's echo of its close"
    );
}

#[test]
fn websockets_client_echoes_every_size_through_tokio_accept() {
    for compression in ["none", "deflate"] {
        let finished = websockets_client_against(compression, |listener| {
            tokio::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                let mut socket = ws::accept_async(stream).await.expect("the handshake");
                while let Ok(message) = socket.read().await {
                    if let Message::Text(_) | Message::Binary(_) = message {
                        socket.send(message).await.expect("echo");
                    }
                }
            })
        });
        assert_every_size_echoed(&finished);
        let open = finished.events("open");
        let extensions = &open[0][2];
        assert_eq!(
            extensions.starts_with("permessage-deflate"),
            compression == "deflate",
            "negotiated: {open:?}"
        );
    }
}

/// The tokio `Server`'s echo handler.
struct Echo;

impl ServerHandler for Echo {
    fn on_message(&mut self, peer: &mut ws::Peer<'_>, message: Message) {
        peer.send(message);
    }
}

#[test]
fn websockets_client_echoes_every_size_through_tokio_server() {
    let finished = websockets_client_against("deflate", |listener| {
        tokio::spawn(async move {
            let _ = Server::new(ServerConfig::default())
                .serve(listener, || Echo)
                .await;
        })
    });
    assert_every_size_echoed(&finished);
}
