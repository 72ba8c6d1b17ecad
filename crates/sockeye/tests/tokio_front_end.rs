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
        // The reader is a `Stream` and the writer a `Sink`.
        let (mut stream, mut sink) = client.split();
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
        SinkExt::close(&mut sink).await.unwrap();
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

#[tokio::test]
async fn split_halves_work_from_two_tasks_and_reunite() {
    tokio::time::timeout(LIMIT, async {
        let (url, server) = tokio_echo_server().await;
        let (client, _) = ws::connect_async(&url).await.unwrap();
        let (mut reader, mut writer) = client.split();
        assert!(writer.is_pair_of(&reader));
        let sender = tokio::spawn(async move {
            for n in 0..200u32 {
                writer.send_text(&format!("message {n}")).await.unwrap();
            }
            writer.send(Message::binary(vec![9; 70_000])).await.unwrap();
            writer
        });
        for n in 0..200u32 {
            assert_eq!(
                reader.read().await.unwrap(),
                Message::text(format!("message {n}"))
            );
        }
        assert_eq!(
            reader.read().await.unwrap(),
            Message::binary(vec![9; 70_000])
        );
        let writer = sender.await.unwrap();
        let mut client = reader.reunite(writer).unwrap();
        let peer = client.close(CloseCode::Normal, "bye").await.unwrap();
        assert_eq!(peer.unwrap().code, CloseCode::Normal);
        assert_eq!(server.await.unwrap().unwrap().reason.as_str(), "bye");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn reunite_refuses_halves_of_different_connections() {
    tokio::time::timeout(LIMIT, async {
        let (url_a, _server_a) = tokio_echo_server().await;
        let (url_b, _server_b) = tokio_echo_server().await;
        let (reader_a, writer_a) = ws::connect_async(&url_a).await.unwrap().0.split();
        let (reader_b, writer_b) = ws::connect_async(&url_b).await.unwrap().0.split();
        assert!(!writer_b.is_pair_of(&reader_a));
        let ws::ReuniteError(reader_a, writer_b) = reader_a.reunite(writer_b).unwrap_err();
        assert!(reader_a.reunite(writer_a).is_ok());
        assert!(reader_b.reunite(writer_b).is_ok());
    })
    .await
    .unwrap();
}

/// Both halves write (the reader its pongs), and a tokio socket keeps one waker per direction:
/// a writer stalled on a full socket must still wake after the reader's flush also stalled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_writer_wakes_after_the_reader_flushed_pongs() {
    // 16 MiB: far more than the socket buffers hold once the server's is fixed small.
    const MESSAGES: usize = 64;
    const SIZE: usize = 256 * 1024;
    const PINGS: usize = 20;
    tokio::time::timeout(LIMIT, async {
        // A fixed receive buffer (no autotuning): the client's writes stall within a few MiB.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut socket = ws::accept_async(stream).await.unwrap();
            // Not reading yet: the client's writes fill the socket buffers and stall. Pings
            // sent meanwhile make the client's reader flush pongs into the full socket too.
            tokio::time::sleep(Duration::from_millis(100)).await;
            for _ in 0..PINGS {
                socket.ping(b"are you there").await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let mut received = 0;
            loop {
                match socket.read().await {
                    Ok(Message::Binary(data)) => {
                        assert_eq!(data.len(), SIZE);
                        received += 1;
                    }
                    Ok(_) => {}
                    Err(Error::ConnectionClosed) => return received,
                    Err(err) => panic!("server: {err}"),
                }
            }
        });
        let (client, _) = ws::connect_async(&url).await.unwrap();
        let (mut reader, mut writer) = client.split();
        // Incompressible, so permessage-deflate (on by default) cannot shrink it.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..SIZE)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let sender = tokio::spawn(async move {
            for _ in 0..MESSAGES {
                writer.send(Message::binary(noise.clone())).await.unwrap();
            }
            writer.close(CloseCode::Normal, "").await.unwrap();
        });
        let mut pings = 0;
        loop {
            match reader.read().await {
                Ok(Message::Ping(_)) => pings += 1,
                Ok(Message::Close(_)) => {}
                Ok(other) => panic!("unexpected {other:?}"),
                Err(Error::ConnectionClosed) => break,
                Err(err) => panic!("client: {err}"),
            }
        }
        sender.await.unwrap();
        assert_eq!(pings, PINGS);
        assert_eq!(server.await.unwrap(), MESSAGES);
    })
    .await
    .expect("no half hung");
}

/// A keepalive deadline that passes while this side waits for the close echo stops keepalive
/// (no ping may follow a close); the read must then go on waiting for input, not spin on the
/// timer that fired. A spinning read never polls the socket, so it never sees the echo.
#[test]
fn a_keepalive_deadline_while_closing_does_not_stall_the_read() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut socket = blocking::accept(stream).unwrap();
        // Answer the close only after several ping intervals of the client.
        std::thread::sleep(Duration::from_millis(300));
        while socket.read().is_ok() {}
    });
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let peer = runtime.block_on(async {
            let (mut client, _) = ws::connect_async(&url).await.unwrap();
            client.set_keepalive(Some(
                sockeye::proto::connection::keepalive::KeepaliveConfig::new(
                    Duration::from_millis(50),
                    Duration::from_secs(5),
                ),
            ));
            client.close(CloseCode::Normal, "bye").await
        });
        let _ = done.send(peer.map(|frame| frame.map(|frame| frame.code)));
    });
    let peer = finished
        .recv_timeout(LIMIT)
        .expect("the close completes once the server answers");
    assert_eq!(peer.unwrap(), Some(CloseCode::Normal));
    server.join().unwrap();
}
