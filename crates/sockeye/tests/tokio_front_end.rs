//! The tokio front-end against itself and against the blocking front-end, over loopback TCP.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::{blocking, tokio as ws, CloseCode, Error, Message};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(10);

async fn tokio_echo_server() -> (String, tokio::task::JoinHandle<Option<sockeye::CloseFrame>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut socket = ws::accept_async(stream).await.unwrap();
        while let Some(message) = socket.next().await {
            let message = message.unwrap();
            if let Message::Text(_) | Message::Binary(_) = message {
                socket.send(message).await.unwrap();
            }
        }
        socket.connection().close_received().cloned().flatten()
    });
    (url, task)
}

#[tokio::test]
async fn tokio_client_and_server_echo_and_close() {
    tokio::time::timeout(LIMIT, async {
        let (url, server) = tokio_echo_server().await;
        let (mut client, response) = ws::connect_async(&url).await.unwrap();
        assert_eq!(response.status, 101);
        let big = vec![7u8; 1 << 20];
        for message in [
            Message::text("hello"),
            Message::binary(vec![1, 2, 3]),
            Message::text(""),
            Message::binary(big),
        ] {
            client.send(&message).await.unwrap();
            assert_eq!(client.read().await.unwrap(), message);
        }
        client.ping(b"p").await.unwrap();
        assert_eq!(
            client.read().await.unwrap(),
            Message::Ping(b"p"[..].into()).clone_pong()
        );
        let peer = client
            .close(CloseCode::Other(4001), "custom")
            .await
            .unwrap();
        assert_eq!(peer.unwrap().code, CloseCode::Other(4001));
        let server_saw = server.await.unwrap().unwrap();
        assert_eq!(
            (server_saw.code, server_saw.reason.as_str()),
            (CloseCode::Other(4001), "custom")
        );
        assert!(matches!(client.read().await, Err(Error::ConnectionClosed)));
    })
    .await
    .unwrap();
}

trait ClonePong {
    fn clone_pong(self) -> Message;
}

impl ClonePong for Message {
    fn clone_pong(self) -> Message {
        match self {
            Message::Ping(payload) => Message::Pong(payload),
            other => other,
        }
    }
}

#[tokio::test]
async fn pipelined_messages_through_sink_arrive_in_order() {
    tokio::time::timeout(LIMIT, async {
        let (url, server) = tokio_echo_server().await;
        let (client, _) = ws::connect_async(&url).await.unwrap();
        let (mut sink, mut stream) = client.split();
        let sender = tokio::spawn(async move {
            for i in 0..1000u32 {
                sink.feed(Message::text(i.to_string())).await.unwrap();
            }
            sink.flush().await.unwrap();
            sink
        });
        for i in 0..1000u32 {
            assert_eq!(
                stream.next().await.unwrap().unwrap(),
                Message::text(i.to_string())
            );
        }
        let mut sink = sender.await.unwrap();
        sink.close().await.unwrap();
        match stream.next().await {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Normal),
            other => panic!("expected the server's close echo, got {other:?}"),
        }
        assert!(
            stream.next().await.is_none(),
            "the stream ends after the close handshake"
        );
        let server_saw = server.await.unwrap().unwrap();
        assert_eq!(server_saw.code, CloseCode::Normal);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn tokio_client_against_blocking_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let mut socket = blocking::accept(stream).unwrap();
        loop {
            match socket.read() {
                Ok(message @ Message::Text(_)) => socket.send(&message).unwrap(),
                Ok(_) => {}
                Err(Error::ConnectionClosed) => return true,
                Err(err) => panic!("{err}"),
            }
        }
    });
    tokio::time::timeout(LIMIT, async {
        let (mut client, _) = ws::connect_async(&url).await.unwrap();
        client.send_text("across").await.unwrap();
        assert_eq!(client.read().await.unwrap(), Message::text("across"));
        let peer = client.close(CloseCode::Normal, "bye").await.unwrap();
        assert_eq!(peer.unwrap().code, CloseCode::Normal);
    })
    .await
    .unwrap();
    assert!(server.join().unwrap());
}

#[tokio::test]
async fn handshake_timeout_fires_against_a_silent_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let _silent = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(LIMIT).await;
        drop(stream);
    });
    let config = sockeye::ClientConfig::new(&url)
        .unwrap()
        .handshake_timeout(Some(Duration::from_millis(300)));
    let started = std::time::Instant::now();
    let err = ws::connect_async_with(config).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(err.stage(), sockeye::Stage::Http);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn keepalive_pings_measure_rtt_and_detect_a_silent_peer() {
    use sockeye::proto::connection::keepalive::KeepaliveConfig;
    tokio::time::timeout(LIMIT, async {
        // An answering peer: pings go out after the quiet spell and the RTT is measured.
        let (url, _server) = tokio_echo_server().await;
        let (mut client, _) = ws::connect_async(&url).await.unwrap();
        client.set_keepalive(Some(KeepaliveConfig::new(
            Duration::from_millis(50),
            Duration::from_secs(2),
        )));
        let reply = client.read().await.unwrap();
        assert!(
            matches!(reply, Message::Pong(ref p) if p.starts_with(b"sockeye")),
            "{reply:?}"
        );
        assert!(client.last_rtt().is_some());

        // A peer that completes the handshake and then reads nothing: the ping times out.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let silent = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let socket = ws::accept_async(stream).await.unwrap();
            tokio::time::sleep(LIMIT).await;
            drop(socket);
        });
        let (mut client, _) = ws::connect_async(&url).await.unwrap();
        client.set_keepalive(Some(KeepaliveConfig::new(
            Duration::from_millis(50),
            Duration::from_millis(200),
        )));
        let started = std::time::Instant::now();
        let err = client.read().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Protocol(sockeye::ProtocolError::PingTimeout { .. })
            ),
            "{err}"
        );
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert_eq!(
            client
                .connection()
                .close_sent()
                .cloned()
                .flatten()
                .unwrap()
                .code,
            CloseCode::InternalError
        );
        silent.abort();
    })
    .await
    .unwrap();
}
