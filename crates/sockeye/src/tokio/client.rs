//! Async client: connect to a URL, or run the handshake over any async stream.

use bytes::BytesMut;
use sockeye_proto::handshake::{ClientHandshake, Response};
use sockeye_proto::{Connection, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::ClientConfig;
use crate::error::{Error, Stage};
use crate::tokio::stream::WebSocketStream;
use crate::transport::async_stream::within;
use crate::transport::{dial_async, AsyncStream};

/// Connects to a `ws://` URL with default options.
pub async fn connect_async(url: &str) -> Result<(WebSocketStream<AsyncStream>, Response), Error> {
    connect_async_with(ClientConfig::new(url)?).await
}

/// Connects with every option of `config`: the route (TCP or Unix socket, within the connect
/// timeout), then the handshake within its timeout.
pub async fn connect_async_with(
    config: ClientConfig,
) -> Result<(WebSocketStream<AsyncStream>, Response), Error> {
    let stream = dial_async(&config).await?;
    client_async(stream, &config).await
}

/// Runs the opening handshake over a stream you already have, within the configured
/// handshake timeout.
pub async fn client_async<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: &ClientConfig,
) -> Result<(WebSocketStream<S>, Response), Error> {
    within(
        config.handshake_timeout,
        Stage::Http,
        handshake(stream, config),
    )
    .await
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    config: &ClientConfig,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let mut handshake = ClientHandshake::new(config.request())?;
    let http = |err| Error::io(Stage::Http, err);
    stream
        .write_all(handshake.request_bytes())
        .await
        .map_err(http)?;
    stream.flush().await.map_err(http)?;
    let mut buf = BytesMut::with_capacity(4096);
    let response = loop {
        if stream.read_buf(&mut buf).await.map_err(http)? == 0 {
            return Err(handshake.receive_eof(&mut buf).into());
        }
        if let Some(response) = handshake.receive(&mut buf)? {
            break response;
        }
    };
    let mut conn = Connection::new(Role::Client, config.protocol.clone());
    conn.receive_data(&buf);
    Ok((WebSocketStream::from_connection(stream, conn), response))
}
