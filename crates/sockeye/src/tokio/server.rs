//! Async server: accept the opening handshake on a stream.

use sockeye_proto::handshake::{Accept, Reject, Request};
use sockeye_proto::Connection;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::ServerConfig;
use crate::error::{Error, Stage};
use crate::handshake::server::ServerHandshakeDriver;
use crate::tokio::stream::WebSocketStream;
use crate::transport::async_stream::within;

/// Accepts any valid WebSocket request on `stream`, with default options.
pub async fn accept_async<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
) -> Result<WebSocketStream<S>, Error> {
    accept_async_with(stream, &ServerConfig::default(), |_| Ok(Accept::default()))
        .await
        .map(|(ws, _)| ws)
}

/// Reads the request within the configured handshake timeout, lets `decide` look at it, then
/// accepts or refuses it. Invalid requests are answered with 400, 405, 426, 431 or 505.
pub async fn accept_async_with<S, F>(
    mut stream: S,
    config: &ServerConfig,
    decide: F,
) -> Result<(WebSocketStream<S>, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    let mut driver = ServerHandshakeDriver::new(config);
    let result = within(
        config.handshake_timeout,
        Stage::Http,
        handshake(&mut stream, &mut driver, decide),
    )
    .await
    .map_err(|err| match err {
        // The time is up: the client did not send its request in time.
        Error::Timeout { after, .. } => Error::RequestTimeout { after },
        other => other,
    });
    let (conn, request) = driver.finish(result)?;
    let mut socket = WebSocketStream::from_connection(stream, conn);
    socket.set_keepalive(config.keepalive.clone());
    Ok((socket, request))
}

/// Reads the request, then writes the answer (the caller bounds the time).
async fn handshake<S, F>(
    stream: &mut S,
    driver: &mut ServerHandshakeDriver<'_>,
    decide: F,
) -> Result<(Connection, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    let http = |err| Error::io(Stage::Http, err);
    let request = loop {
        if stream.read_buf(driver.read_buffer()).await.map_err(http)? == 0 {
            return Err(driver.closed());
        }
        match driver.received() {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(bad) => {
                // Best effort: the client may already be gone.
                let _ = stream.write_all(&bad.response).await;
                let _ = stream.flush().await;
                return Err(bad.error.into());
            }
        }
    };
    let answer = driver.answer(request, decide)?;
    stream.write_all(answer.response()).await.map_err(http)?;
    stream.flush().await.map_err(http)?;
    driver.open(answer)
}
