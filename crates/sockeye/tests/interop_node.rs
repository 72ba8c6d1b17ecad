//! Interop with Node's `ws` 8 over 127.0.0.1, in both directions, with sockeye's tokio front-end:
//!
//! - the tokio client against a `ws` server (`peers/ws_server.js`): text and binary at every
//!   length encoding, fragmented messages from `ws` (assembled, and frame by frame), pings both
//!   ways, close codes both ways, subprotocol;
//! - `ws` clients (`peers/ws_client.js`) against the tokio server: the same, the other way round.
//!
//! `ws` comes from `$SOCKEYE_NODE_MODULES`, else `<workspace>/.node/node_modules`, where
//! `scripts/test.sh` installs it (`npm install --no-save --prefix .node ws@8`). When node or `ws`
//! is missing the tests fail and say so; they are never skipped
//! (`a_missing_ws_fails_the_suite_instead_of_skipping_it` pins that).
//!
//! Every listener binds port 0; every wait is bounded (see `common`); peers are killed when a test
//! ends.

mod common;
mod node_support;

use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;

use common::{pattern_bytes, pattern_text, Finished, Peer, PEER_TIMEOUT, SIZES};
use node_support::{node_modules, node_script, require_package};
use sockeye::tokio::{accept_async_with, connect_async_with, WebSocketStream};
use sockeye::transport::AsyncStream;
use sockeye::{
    Accept, ClientConfig, CloseCode, CloseFrame, Error, Frame, Message, OpCode, Request,
    ServerConfig,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// `node peers/SCRIPT ARGS…`, once `ws` 8 is known to be there.
fn node_peer(script: &str, args: &[&str]) -> Command {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| require_package(&node_modules(), "ws", "8."));
    node_script(&common::peer_script(script), args)
}

/// A running `peers/ws_server.js` and its port.
struct NodeServer {
    peer: Peer,
    port: u16,
}

impl NodeServer {
    fn start() -> Self {
        let mut peer = Peer::spawn("ws_server.js", node_peer("ws_server.js", &[]));
        let port = peer.event("port");
        let port = port
            .first()
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("ws_server.js printed no port: {port:?}"));
        Self { peer, port }
    }

    fn config(&self, path: &str) -> ClientConfig {
        ClientConfig::new(&format!("ws://127.0.0.1:{}{path}", self.port))
            .expect("a valid URL")
            .connect_timeout(Some(PEER_TIMEOUT))
            .handshake_timeout(Some(PEER_TIMEOUT))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Runs `work` on a fresh runtime, bounded by [`PEER_TIMEOUT`].
fn block_on<T>(work: impl Future<Output = T>) -> T {
    runtime()
        .block_on(async { tokio::time::timeout(PEER_TIMEOUT, work).await })
        .unwrap_or_else(|_| panic!("took longer than {PEER_TIMEOUT:?}"))
}

async fn connect(config: ClientConfig) -> (WebSocketStream<AsyncStream>, sockeye::Response) {
    let url = config.target.url.to_string();
    connect_async_with(config)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {url}: {err}"))
}

async fn read(socket: &mut WebSocketStream<AsyncStream>) -> Message {
    socket
        .read()
        .await
        .unwrap_or_else(|err| panic!("reading a message failed: {err}"))
}

/// A sockeye tokio server for one connection on 127.0.0.1 (port 0), on a thread and runtime of
/// its own: it accepts (selecting the subprotocol `chat` when offered), then runs `serve`; the
/// receiver gets what `serve` returned.
fn tokio_server<T, F, Fut>(serve: F) -> (String, mpsc::Receiver<T>)
where
    T: Send + 'static,
    F: FnOnce(WebSocketStream<tokio::net::TcpStream>, Request) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("ws://{}", listener.local_addr().expect("an address"));
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let result = block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            let (stream, _) = listener.accept().await.expect("a connection");
            let (socket, request) =
                accept_async_with(stream, &ServerConfig::default(), |request| {
                    Ok(match request.subprotocols().contains(&"chat") {
                        true => Accept::default().subprotocol("chat"),
                        false => Accept::default(),
                    })
                })
                .await
                .expect("the handshake succeeds");
            serve(socket, request).await
        });
        let _ = tx.send(result);
    });
    (url, rx)
}

/// What the tokio server saw of one conversation.
#[derive(Debug, Default)]
struct Seen {
    messages: Vec<Message>,
    pings: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
    close: Option<CloseFrame>,
}

/// Echoes text and binary messages until the connection ends, noting what arrived.
async fn echo_until_closed(mut socket: WebSocketStream<tokio::net::TcpStream>) -> Seen {
    let mut seen = Seen::default();
    loop {
        match socket.read().await {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                socket.send(&message).await.expect("the echo is sent");
                seen.messages.push(message);
            }
            Ok(Message::Ping(payload)) => seen.pings.push(payload.to_vec()),
            Ok(Message::Pong(payload)) => seen.pongs.push(payload.to_vec()),
            Ok(_) => {}
            Err(Error::ConnectionClosed) => {
                seen.close = socket.connection().close_received().cloned().flatten();
                return seen;
            }
            Err(err) => panic!("the tokio server failed: {err}"),
        }
    }
}

/// Runs `ws_client.js URL SCENARIO` to its end.
fn node_client(url: &str, scenario: &str) -> Finished {
    let finished =
        Peer::spawn("ws_client.js", node_peer("ws_client.js", &[url, scenario])).finish();
    finished.assert_success("ws_client.js");
    finished
}

fn close_frame(code: u16, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame::new(CloseCode::from(code), reason))
}

// ---------------------------------------------------------------------------------------------
// The harness itself
// ---------------------------------------------------------------------------------------------

#[test]
#[should_panic(expected = "Node's `ws` is missing")]
fn a_missing_ws_fails_the_suite_instead_of_skipping_it() {
    require_package(Path::new("/nonexistent/sockeye/node_modules"), "ws", "8.");
}

// ---------------------------------------------------------------------------------------------
// sockeye's tokio client -> Node ws server
// ---------------------------------------------------------------------------------------------

#[test]
fn tokio_client_echoes_text_and_binary_of_every_length_through_ws() {
    let mut server = NodeServer::start();
    let config = server.config("/echo").subprotocol("chat");
    let response = block_on(async {
        let (mut socket, response) = connect(config).await;
        for size in SIZES {
            let text = Message::text(pattern_text(size));
            socket.send(&text).await.expect("send text");
            assert_eq!(read(&mut socket).await, text, "text of {size} bytes");
            let binary = Message::binary(pattern_bytes(size));
            socket.send(&binary).await.expect("send binary");
            assert_eq!(read(&mut socket).await, binary, "binary of {size} bytes");
        }
        let echoed = socket.close(CloseCode::Normal, "bye").await.expect("close");
        assert_eq!(echoed, close_frame(1000, "bye"));
        response
    });
    assert_eq!(response.subprotocol.as_deref(), Some("chat"));
    let open = server.peer.event("open");
    assert_eq!(open[..2], ["/echo", "chat"]);
    for size in SIZES {
        for kind in ["text", "binary"] {
            assert_eq!(server.peer.event("message"), [kind, &size.to_string()]);
        }
    }
    assert_eq!(server.peer.event("closed"), ["1000", "bye"]);
}

#[test]
fn tokio_client_assembles_fragmented_messages_from_ws() {
    let server = NodeServer::start();
    block_on(async {
        let (mut socket, _) = connect(server.config("/fragments")).await;
        assert_eq!(read(&mut socket).await, Message::text("fragmented"));
        assert_eq!(
            read(&mut socket).await,
            Message::binary(vec![0x00, 0x01, 0xff])
        );
        socket.close(CloseCode::Normal, "").await.expect("close");
    });
}

#[test]
fn tokio_client_sees_the_fragments_of_ws_frame_by_frame() {
    let server = NodeServer::start();
    let frames = block_on(async {
        let (mut socket, _) = connect(server.config("/fragments").assemble_messages(false)).await;
        let mut frames = Vec::new();
        while frames.len() < 6 {
            match read(&mut socket).await {
                Message::Frame(frame) => frames.push(frame),
                other => panic!("expected frames, got {other:?}"),
            }
        }
        socket.close(CloseCode::Normal, "").await.expect("close");
        frames
    });
    let summary: Vec<(OpCode, bool, Vec<u8>)> = frames
        .iter()
        .map(|frame: &Frame| (frame.opcode(), frame.is_final(), frame.payload.to_vec()))
        .collect();
    assert_eq!(
        summary,
        [
            (OpCode::Text, false, b"frag".to_vec()),
            (OpCode::Continuation, false, b"ment".to_vec()),
            (OpCode::Continuation, true, b"ed".to_vec()),
            (OpCode::Binary, false, vec![0x00, 0x01]),
            (OpCode::Continuation, false, vec![]),
            (OpCode::Continuation, true, vec![0xff]),
        ]
    );
}

#[test]
fn tokio_client_pings_ws_and_answers_its_pings() {
    let mut server = NodeServer::start();
    block_on(async {
        let (mut socket, _) = connect(server.config("/ping")).await;
        // ws pings first; the pong goes out by itself, and ws says it arrived.
        assert_eq!(
            read(&mut socket).await,
            Message::Ping(b"from-node"[..].into())
        );
        assert_eq!(read(&mut socket).await, Message::text("pong received"));
        socket.ping(b"from-sockeye").await.expect("ping");
        assert_eq!(
            read(&mut socket).await,
            Message::Pong(b"from-sockeye"[..].into())
        );
        socket.close(CloseCode::Normal, "").await.expect("close");
    });
    assert_eq!(server.peer.event("pong"), ["from-node"]);
}

#[test]
fn close_codes_both_ways_with_ws_server() {
    let mut server = NodeServer::start();
    // sockeye closes with 4000: ws echoes it.
    let echoed = block_on(async {
        let (mut socket, _) = connect(server.config("/echo")).await;
        socket
            .close(CloseCode::from(4000), "bye from sockeye")
            .await
    });
    assert_eq!(
        echoed.expect("close"),
        close_frame(4000, "bye from sockeye")
    );
    assert_eq!(server.peer.event("closed"), ["4000", "bye from sockeye"]);
    // ws closes with 4001: sockeye sees it, echoes it, and the connection ends.
    let (close, end) = block_on(async {
        let (mut socket, _) = connect(server.config("/close?code=4001&reason=custom")).await;
        let close = read(&mut socket).await;
        (close, socket.read().await)
    });
    assert_eq!(close, Message::Close(close_frame(4001, "custom")));
    assert!(matches!(end, Err(Error::ConnectionClosed)), "{end:?}");
    // What ws received: sockeye's echo, the code without the reason.
    assert_eq!(server.peer.event("closed"), ["4001", "-"]);
}

// ---------------------------------------------------------------------------------------------
// Node ws client -> sockeye's tokio server
// ---------------------------------------------------------------------------------------------

#[test]
fn ws_client_echoes_through_the_tokio_server() {
    let (url, seen) = tokio_server(|socket, _request| echo_until_closed(socket));
    let finished = node_client(&url, "echo");
    assert_eq!(finished.events("open")[0][0], "chat");
    assert_eq!(
        finished.events("echo"),
        [
            ["text", "15", "ok"],
            ["binary", "5", "ok"],
            ["text", "70000", "ok"],
            ["binary", "0", "ok"],
            ["text", "15", "ok"],
            ["binary", "4", "ok"],
        ]
    );
    // What ws received: the server's echo of its close, the code without the reason.
    assert_eq!(finished.events("closed"), [["1000", "-"]]);
    let seen = seen.recv_timeout(PEER_TIMEOUT).expect("the server ended");
    // The fragmented messages arrived assembled.
    assert_eq!(seen.messages[4], Message::text("fragmented text"));
    assert_eq!(seen.messages[5], Message::binary(vec![9, 8, 7, 6]));
    assert_eq!(seen.close, close_frame(1000, "bye"));
}

#[test]
fn ws_client_and_tokio_server_ping_each_other() {
    let (url, seen) = tokio_server(|mut socket, _request| async move {
        socket.ping(b"from-sockeye").await.expect("ping");
        echo_until_closed(socket).await
    });
    let finished = node_client(&url, "ping");
    assert_eq!(finished.events("ping"), [["from-sockeye"]]);
    assert_eq!(finished.events("pong"), [["from-node"]]);
    let seen = seen.recv_timeout(PEER_TIMEOUT).expect("the server ended");
    assert_eq!(seen.pings, [b"from-node".to_vec()]);
    assert_eq!(seen.pongs, [b"from-sockeye".to_vec()]);
    assert_eq!(seen.close.map(|frame| frame.code), Some(CloseCode::Normal));
}

#[test]
fn close_codes_both_ways_with_ws_client() {
    // ws closes with 4000: the tokio server sees it and echoes it.
    let (url, seen) = tokio_server(|socket, _request| echo_until_closed(socket));
    let finished = node_client(&url, "close");
    assert_eq!(finished.events("closed"), [["4000", "-"]]);
    let seen = seen.recv_timeout(PEER_TIMEOUT).expect("the server ended");
    assert_eq!(seen.close, close_frame(4000, "node done"));

    // The tokio server closes with 4001: ws reports the code and reason.
    let (url, echoed) = tokio_server(|mut socket, _request| async move {
        socket.close(CloseCode::from(4001), "from sockeye").await
    });
    let finished = node_client(&url, "wait");
    assert_eq!(finished.events("closed"), [["4001", "from sockeye"]]);
    let echoed = echoed.recv_timeout(PEER_TIMEOUT).expect("the server ended");
    assert_eq!(echoed.expect("close"), close_frame(4001, "from sockeye"));
}
