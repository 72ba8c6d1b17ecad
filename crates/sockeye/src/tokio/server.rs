//! Async server: accept the opening handshake on a stream.

use bytes::BytesMut;
use sockeye_proto::handshake::server::{
    accept_response, error_response, negotiate_deflate, parse_request, reject_response,
};
use sockeye_proto::handshake::{Accept, Reject, Request};
use sockeye_proto::HandshakeError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::ServerConfig;
use crate::error::{Error, Stage};
use crate::tokio::stream::WebSocketStream;
use crate::trace::Tracer;
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
    stream: S,
    config: &ServerConfig,
    decide: F,
) -> Result<(WebSocketStream<S>, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    let mut trace = Tracer::server(config);
    let result = within(
        config.handshake_timeout,
        Stage::Http,
        handshake(stream, config, decide, &mut trace),
    )
    .await
    .map_err(|err| match err {
        // The time is up: the client did not send its request in time.
        Error::Timeout { after, .. } => Error::RequestTimeout { after },
        other => other,
    });
    trace.finish(result)
}

async fn handshake<S, F>(
    mut stream: S,
    config: &ServerConfig,
    decide: F,
    trace: &mut Tracer,
) -> Result<(WebSocketStream<S>, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    let http = |err| Error::io(Stage::Http, err);
    let mut buf = BytesMut::with_capacity(4096);
    let request = loop {
        match parse_request(&mut buf, config.max_header_bytes) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(err) => {
                let response = error_response(&err);
                trace.sent(&response);
                // Best effort: the client may already be gone.
                let _ = stream.write_all(&response).await;
                let _ = stream.flush().await;
                return Err(err.into());
            }
        }
        let before = buf.len();
        if stream.read_buf(&mut buf).await.map_err(http)? == 0 {
            return Err(HandshakeError::RequestClosed {
                received: buf.len(),
            }
            .into());
        }
        trace.received_bytes(&buf[before..]);
    };
    trace.received_head(&request.head);
    let mut deflate = None;
    let (response, refused) = match decide(&request) {
        Ok(mut accept) => {
            deflate = negotiate_deflate(&request, &mut accept, config.compression.as_ref())?;
            (accept_response(&request, &accept)?, None)
        }
        Err(reject) => (reject_response(&reject)?, Some(reject.status)),
    };
    trace.sent(&response);
    stream.write_all(&response).await.map_err(http)?;
    stream.flush().await.map_err(http)?;
    if let Some(status) = refused {
        return Err(Error::Rejected { status });
    }
    let mut conn = config.connection(deflate);
    trace.attach(&mut conn);
    conn.receive_data(&buf);
    let mut socket = WebSocketStream::from_connection(stream, conn);
    socket.set_keepalive(config.keepalive.clone());
    Ok((socket, request))
}
