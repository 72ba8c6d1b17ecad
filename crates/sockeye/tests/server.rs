//! The tokio `Server`: handlers, broadcast through handles, connection limit, graceful shutdown.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockeye::tokio::{self as ws, Peer, PeerHandle, Server, ServerHandler};
use sockeye::{CloseCode, Error, Message, Request, ServerConfig};
use tokio::net::TcpListener;

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
            peer.send(message.clone());
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
