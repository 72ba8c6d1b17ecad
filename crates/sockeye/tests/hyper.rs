//! Upgrading hyper and axum requests to sockeye WebSockets.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sockeye::tokio::hyper::{is_upgrade_request, upgrade};
use sockeye::{tokio as ws, Accept, CloseCode, Message, Reject, ServerConfig};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(10);

async fn handle(
    mut request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    if !is_upgrade_request(&request) {
        return Ok(hyper::Response::new(Full::new(Bytes::from_static(
            b"plain page",
        ))));
    }
    let (response, upgrade) = upgrade(&mut request, &ServerConfig::default(), |request| {
        if request.path() == "/forbidden" {
            return Err(Reject::new(403, "not here\n"));
        }
        Ok(Accept::default().subprotocol("chat"))
    });
    if let Some(upgrade) = upgrade {
        tokio::spawn(async move {
            let mut socket = upgrade.into_websocket().await.unwrap();
            while let Ok(message) = socket.read().await {
                if let Message::Text(_) | Message::Binary(_) = message {
                    socket.send(message).await.unwrap();
                }
            }
        });
    }
    Ok(response)
}

async fn hyper_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(
                http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .with_upgrades(),
            );
        }
    });
    format!("ws://{addr}")
}

#[tokio::test]
async fn hyper_hands_the_connection_to_sockeye() {
    tokio::time::timeout(LIMIT, async {
        let base = hyper_server().await;
        let config = sockeye::ClientConfig::new(&format!("{base}/chat"))
            .unwrap()
            .subprotocol("chat");
        let (mut client, response) = ws::connect_async_with(config).await.unwrap();
        assert_eq!(response.subprotocol.as_deref(), Some("chat"));
        // Both defaults: permessage-deflate negotiated through `upgrade` (RFC 7692).
        assert_eq!(
            response.headers.get("Sec-WebSocket-Extensions"),
            Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
        );
        assert!(client.connection().deflate().is_some());
        for message in [
            Message::text("through hyper"),
            Message::binary(vec![0u8; 100_000]),
        ] {
            client.send(message.clone()).await.unwrap();
            assert_eq!(client.read().await.unwrap(), message);
        }
        let peer = client.close(CloseCode::Normal, "done").await.unwrap();
        assert_eq!(peer.unwrap().code, CloseCode::Normal);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn refusals_come_back_as_http_statuses() {
    tokio::time::timeout(LIMIT, async {
        let base = hyper_server().await;
        let err = ws::connect_async(&format!("{base}/forbidden")).await.unwrap_err();
        assert!(err.to_string().contains("403"), "{err}");

        // A WebSocket request with the wrong version gets 426 with the version the server wants.
        let addr = base.trim_start_matches("ws://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(
                format!(
                    "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut reply = vec![0u8; 1024];
        let read = stream.read(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply[..read]).to_ascii_lowercase();
        assert!(reply.starts_with("http/1.1 426"), "{reply}");
        assert!(reply.contains("sec-websocket-version: 13"), "{reply}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn axum_routes_to_sockeye() {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;

    async fn route(mut request: Request) -> Response {
        let (response, upgrade) = upgrade(&mut request, &ServerConfig::default(), |_| {
            Ok(Accept::default())
        });
        if let Some(upgrade) = upgrade {
            tokio::spawn(async move {
                let mut socket = upgrade.into_websocket().await.unwrap();
                while let Ok(message @ Message::Text(_)) = socket.read().await {
                    socket.send(message).await.unwrap();
                }
            });
        }
        response.map(Body::new)
    }

    tokio::time::timeout(LIMIT, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/ws", axum::routing::get(route));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let (mut client, _) = ws::connect_async(&format!("ws://{addr}/ws")).await.unwrap();
        client.send_text("through axum").await.unwrap();
        assert_eq!(client.read().await.unwrap(), Message::text("through axum"));
    })
    .await
    .unwrap();
}
