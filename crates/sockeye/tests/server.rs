//! The tokio `Server`: handlers, broadcast through handles, connection limit, graceful shutdown,
//! bounded handle queues and backpressure, frames of one read handled in one turn.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockeye::proto::connection::OUTPUT_HIGH_WATER;
use sockeye::proto::{Frame, OpCode};
use sockeye::tokio::{self as ws, Peer, PeerHandle, PeerSendError, Server, ServerHandler};
use sockeye::{CloseCode, CloseFrame, Error, Message, Request, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

const LIMIT: Duration = Duration::from_secs(10);

struct Echo;

impl ServerHandler for Echo {
    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message) {
        peer.send(message);
    }
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test]
async fn graceful_shutdown_sends_1001_to_every_client() {
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let server = Server::new(ServerConfig::default());
        let shutdown = server.shutdown_handle();
        let running = tokio::spawn(server.serve(listener, || Echo));
        let mut clients = Vec::new();
        for i in 0..5 {
            let (mut client, _) = ws::connect_async(&url).await.unwrap();
            client.send_text(&format!("hi {i}")).await.unwrap();
            assert_eq!(
                client.read().await.unwrap(),
                Message::text(format!("hi {i}"))
            );
            clients.push(client);
        }
        shutdown.shutdown();
        for mut client in clients {
            match client.read().await.unwrap() {
                Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::GoingAway),
                other => panic!("expected close 1001, got {other:?}"),
            }
            assert!(matches!(client.read().await, Err(Error::ConnectionClosed)));
        }
        running.await.unwrap().unwrap();
        assert!(
            ws::connect_async(&url).await.is_err(),
            "no longer accepting"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn shutdown_drops_clients_that_never_answer_the_close() {
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let server =
            Server::new(ServerConfig::default()).shutdown_timeout(Duration::from_millis(200));
        let shutdown = server.shutdown_handle();
        let running = tokio::spawn(server.serve(listener, || Echo));
        // A client that completes the handshake and then never reads.
        let (_silent, _) = ws::connect_async(&url).await.unwrap();
        tokio::task::yield_now().await;
        let started = std::time::Instant::now();
        shutdown.shutdown();
        running.await.unwrap().unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn connection_limit_answers_503() {
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let server = Server::new(ServerConfig::default()).max_connections(1);
        let shutdown = server.shutdown_handle();
        let running = tokio::spawn(server.serve(listener, || Echo));
        let (mut first, _) = ws::connect_async(&url).await.unwrap();
        first.send_text("x").await.unwrap();
        first.read().await.unwrap();
        let err = ws::connect_async(&url).await.unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
        first.close(CloseCode::Normal, "").await.unwrap();
        // The slot frees once the first connection has ended.
        let mut second = None;
        for _ in 0..100 {
            if let Ok((client, _)) = ws::connect_async(&url).await {
                second = Some(client);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(second.is_some(), "a slot frees after a close");
        shutdown.shutdown();
        drop(second);
        running.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

/// Relays each message to every connected client, through their handles.
struct Broadcast {
    peers: Arc<Mutex<Vec<PeerHandle>>>,
    me: Option<u64>,
}

impl ServerHandler for Broadcast {
    fn on_open(&mut self, peer: &mut Peer<'_>, _request: &Request) {
        self.me = Some(peer.handle().id());
        self.peers.lock().unwrap().push(peer.handle());
    }
    fn on_message(&mut self, _peer: &mut Peer<'_>, message: Message) {
        for peer in self.peers.lock().unwrap().iter() {
            // A connection that ended meanwhile is skipped; these clients read everything.
            let _ = peer.send(message.clone());
        }
    }
    fn on_close(&mut self, _close: Option<&sockeye::CloseFrame>) {
        self.peers
            .lock()
            .unwrap()
            .retain(|p| Some(p.id()) != self.me);
    }
}

#[tokio::test]
async fn handles_let_one_connection_reach_the_others() {
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let peers = Arc::new(Mutex::new(Vec::new()));
        let server = Server::new(ServerConfig::default()).accept_with(|request| {
            if request.path() == "/" {
                Ok(sockeye::Accept::default())
            } else {
                Err(sockeye::Reject::new(404, "no"))
            }
        });
        let shutdown = server.shutdown_handle();
        let registry = peers.clone();
        let running = tokio::spawn(server.serve(listener, move || Broadcast {
            peers: registry.clone(),
            me: None,
        }));
        // Each receives its own broadcast once registered; b joins after a's round trip.
        let (mut a, _) = ws::connect_async(&url).await.unwrap();
        a.send_text("a here").await.unwrap();
        assert_eq!(a.read().await.unwrap(), Message::text("a here"));
        let (mut b, _) = ws::connect_async(&url).await.unwrap();
        b.send_text("b here").await.unwrap();
        assert_eq!(b.read().await.unwrap(), Message::text("b here"));
        assert_eq!(a.read().await.unwrap(), Message::text("b here"));
        let refused = ws::connect_async(&format!("{url}nope")).await.unwrap_err();
        assert!(refused.to_string().contains("404"), "{refused}");
        shutdown.shutdown();
        // The clients answer the server's 1001, so every handler sees its close.
        for client in [&mut a, &mut b] {
            while client.read().await.is_ok() {}
        }
        running.await.unwrap().unwrap();
        assert!(peers.lock().unwrap().is_empty());
    })
    .await
    .unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn serves_on_a_unix_socket() {
    tokio::time::timeout(LIMIT, async {
        let dir = std::env::temp_dir().join(format!("sockeye-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ws.sock");
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = Server::new(ServerConfig::default());
        let shutdown = server.shutdown_handle();
        let running = tokio::spawn(server.serve(listener, || Echo));
        let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
        let config = sockeye::ClientConfig::new("ws://localhost/").unwrap();
        let (mut client, _) = ws::client_async(stream, &config).await.unwrap();
        client.send_text("over unix").await.unwrap();
        assert_eq!(client.read().await.unwrap(), Message::text("over unix"));
        client.close(CloseCode::Normal, "").await.unwrap();
        shutdown.shutdown();
        running.await.unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
}

/// Gives each connection's handle to the test, and tells it how the connection ended.
struct Hold {
    handles: UnboundedSender<PeerHandle>,
    ended: UnboundedSender<String>,
}

impl ServerHandler for Hold {
    fn on_open(&mut self, peer: &mut Peer<'_>, _request: &Request) {
        let _ = self.handles.send(peer.handle());
    }
    fn on_close(&mut self, close: Option<&CloseFrame>) {
        let _ = self
            .ended
            .send(format!("closed {:?}", close.map(|frame| frame.code)));
    }
    fn on_error(&mut self, error: &Error) {
        let _ = self.ended.send(format!("error: {error}"));
    }
}

/// A server of [`Hold`] handlers; the receivers of their handles and of how they ended.
fn hold(
    server: Server,
    listener: TcpListener,
) -> (
    UnboundedReceiver<PeerHandle>,
    UnboundedReceiver<String>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (handles, handles_rx) = unbounded_channel();
    let (ended, ended_rx) = unbounded_channel();
    let running = tokio::spawn(server.serve(listener, move || Hold {
        handles: handles.clone(),
        ended: ended.clone(),
    }));
    (handles_rx, ended_rx, running)
}

/// Message `seq` of the flood: its number, then bytes that do not compress.
fn numbered(seq: u64, size: usize) -> Message {
    let mut data = Vec::with_capacity(size);
    data.extend_from_slice(&seq.to_be_bytes());
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.push(x as u8);
    }
    Message::binary(data)
}

fn seq_of(message: &Message) -> u64 {
    match message {
        Message::Binary(data) => u64::from_be_bytes(data[..8].try_into().unwrap()),
        other => panic!("expected a numbered binary message, got {other:?}"),
    }
}

const QUEUE: usize = 16;

/// Sends `QUEUE + 1` messages to its own connection from inside a callback, where the connection
/// cannot take any: the last one finds the queue full.
struct Burst {
    outcomes: Arc<Mutex<Vec<&'static str>>>,
}

impl ServerHandler for Burst {
    fn on_message(&mut self, peer: &mut Peer<'_>, _message: Message) {
        let handle = peer.handle();
        let mut outcomes = self.outcomes.lock().unwrap();
        for seq in 0..=QUEUE as u64 {
            outcomes.push(match handle.send(numbered(seq, 64)) {
                Ok(()) => "queued",
                Err(PeerSendError::Full(_)) => "full",
                Err(PeerSendError::Closed(_)) => "closed",
            });
        }
    }
}

#[tokio::test]
async fn a_handle_queue_is_full_at_its_capacity() {
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let server = Server::new(ServerConfig::default()).peer_queue(QUEUE);
        let shutdown = server.shutdown_handle();
        let seen = outcomes.clone();
        let running = tokio::spawn(server.serve(listener, move || Burst {
            outcomes: seen.clone(),
        }));
        let (mut client, _) = ws::connect_async(&url).await.unwrap();
        client.send_text("go").await.unwrap();
        for seq in 0..QUEUE as u64 {
            assert_eq!(seq_of(&client.read().await.unwrap()), seq);
        }
        let mut expected = vec!["queued"; QUEUE];
        expected.push("full");
        assert_eq!(*outcomes.lock().unwrap(), expected);
        // What was refused was not sent either.
        shutdown.shutdown();
        match client.read().await.unwrap() {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::GoingAway),
            other => panic!("expected close 1001 after the queued messages, got {other:?}"),
        }
        assert!(matches!(client.read().await, Err(Error::ConnectionClosed)));
        running.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_client_that_stops_reading_fills_its_queue_not_the_server() {
    const SIZE: usize = 16 * 1024;
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let server = Server::new(ServerConfig::default()).peer_queue(QUEUE);
        let shutdown = server.shutdown_handle();
        let (mut handles, mut ended, running) = hold(server, listener);
        // Connected, and never reading until the end of the flood.
        let (mut client, _) = ws::connect_async(&url).await.unwrap();
        let handle = handles.recv().await.unwrap();

        // Send until the queue stays full: the connection has stopped taking from it.
        let mut accepted = 0u64;
        let mut full_since: Option<Instant> = None;
        let mut refusals = 0;
        while full_since.is_none_or(|since| since.elapsed() < Duration::from_millis(300)) {
            match handle.send(numbered(accepted, SIZE)) {
                Ok(()) => {
                    accepted += 1;
                    full_since = None;
                }
                Err(PeerSendError::Full(_)) => {
                    refusals += 1;
                    full_since.get_or_insert_with(Instant::now);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(PeerSendError::Closed(_)) => panic!("the connection ended"),
            }
        }
        assert!(refusals >= 10, "{refusals} refusals");
        // What the server holds for it: the queue, the high-water mark of its output and the
        // kernel's socket buffers (a few MiB on loopback).
        let bound = (QUEUE * SIZE + OUTPUT_HIGH_WATER + 32 * 1024 * 1024) / SIZE;
        assert!(accepted as usize <= bound, "{accepted} messages taken");

        // Nothing was lost or reordered; the close asked for with a full queue comes after them.
        handle.close(CloseCode::PolicyViolation, "too slow");
        for seq in 0..accepted {
            assert_eq!(seq_of(&client.read().await.unwrap()), seq);
        }
        match client.read().await.unwrap() {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, CloseCode::PolicyViolation);
                assert_eq!(frame.reason, "too slow");
            }
            other => panic!("expected close 1008, got {other:?}"),
        }
        assert!(matches!(client.read().await, Err(Error::ConnectionClosed)));
        assert_eq!(ended.recv().await.unwrap(), "closed Some(PolicyViolation)");
        assert!(matches!(
            handle.send(Message::text("late")),
            Err(PeerSendError::Closed(_))
        ));
        shutdown.shutdown();
        running.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_close_the_client_never_answers_ends_after_the_close_timeout() {
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let server = Server::new(ServerConfig::default()).close_timeout(Duration::from_millis(200));
        let shutdown = server.shutdown_handle();
        let (mut handles, mut ended, running) = hold(server, listener);
        let (_silent, _) = ws::connect_async(&url).await.unwrap();
        let handle = handles.recv().await.unwrap();
        let started = Instant::now();
        handle.close(CloseCode::Normal, &"é".repeat(100));
        let how = ended.recv().await.unwrap();
        assert!(
            how.contains("did not answer the close within 200ms"),
            "{how}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        shutdown.shutdown();
        running.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

/// Echoes, and records the client's close.
struct EchoRecording {
    closed: Arc<Mutex<Option<Option<CloseCode>>>>,
}

impl ServerHandler for EchoRecording {
    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message) {
        peer.send(message);
    }
    fn on_close(&mut self, close: Option<&CloseFrame>) {
        *self.closed.lock().unwrap() = Some(close.map(|frame| frame.code));
    }
}

#[tokio::test]
async fn frames_of_one_write_are_answered_in_order_and_the_close_after_them() {
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let closed = Arc::new(Mutex::new(None));
        let server = Server::new(ServerConfig::default());
        let shutdown = server.shutdown_handle();
        let seen = closed.clone();
        let running = tokio::spawn(server.serve(listener, move || EchoRecording {
            closed: seen.clone(),
        }));
        let (mut client, _) = ws::connect_async(&url).await.unwrap();
        // One write: 300 messages and the close, so the server finds them buffered together.
        for i in 0..300 {
            client.queue(Message::text(format!("m{i}"))).unwrap();
        }
        client
            .queue(Message::Close(Some(CloseFrame::new(
                CloseCode::Normal,
                "done",
            ))))
            .unwrap();
        client.flush().await.unwrap();
        for i in 0..300 {
            assert_eq!(client.read().await.unwrap(), Message::text(format!("m{i}")));
        }
        match client.read().await.unwrap() {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Normal),
            other => panic!("expected the close echo, got {other:?}"),
        }
        assert!(matches!(client.read().await, Err(Error::ConnectionClosed)));
        // The handler saw the client's close once its connection ended.
        for _ in 0..100 {
            if closed.lock().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*closed.lock().unwrap(), Some(Some(CloseCode::Normal)));
        shutdown.shutdown();
        running.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn shutdown_is_seen_while_a_fragmented_message_waits_for_its_end() {
    tokio::time::timeout(LIMIT, async {
        let (listener, url) = listen().await;
        let server = Server::new(ServerConfig::default());
        let shutdown = server.shutdown_handle();
        let running = tokio::spawn(server.serve(listener, || Echo));
        let (mut client, _) = ws::connect_async(&url).await.unwrap();
        // A message and, in the same write, the first fragment of another that never ends.
        client.queue(Message::text("whole")).unwrap();
        client
            .queue(Message::Frame(
                Frame::new(OpCode::Text, &b"half"[..]).with_fin(false),
            ))
            .unwrap();
        client.flush().await.unwrap();
        assert_eq!(client.read().await.unwrap(), Message::text("whole"));
        shutdown.shutdown();
        match client.read().await.unwrap() {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::GoingAway),
            other => panic!("expected close 1001, got {other:?}"),
        }
        running.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}
