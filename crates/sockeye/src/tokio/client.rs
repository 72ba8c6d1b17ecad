//! Async client: connect to a URL, or run the handshake over any async stream.

use bytes::BytesMut;
use sockeye_proto::handshake::{ClientHandshake, Response};
use sockeye_proto::{Connection, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::ClientConfig;
use crate::error::{Error, Stage};
use crate::redirect;
use crate::tokio::stream::WebSocketStream;
use crate::trace::Tracer;
use crate::transport::async_stream::within;
use crate::transport::{dial_async, AsyncStream};

/// Connects to a `ws://` URL with default options.
pub async fn connect_async(url: &str) -> Result<(WebSocketStream<AsyncStream>, Response), Error> {
    connect_async_with(ClientConfig::new(url)?).await
}

/// Connects with every option of `config`: the request is checked before anything is sent
/// ([`ClientConfig::check_request`]), then the route (TCP or Unix socket, within the connect
/// timeout), then the handshake within its timeout (again for each `Location` when
/// [`ClientConfig::follow_redirects`] is on).
///
/// `read_timeout` and `write_timeout` do not apply here: wrap a call in
/// `tokio::time::timeout` to bound it (reading is cancel-safe; see [`WebSocketStream`]).
pub async fn connect_async_with(
    config: ClientConfig,
) -> Result<(WebSocketStream<AsyncStream>, Response), Error> {
    let mut config = config;
    let mut followed = 0;
    loop {
        match connect_once(&config).await {
            Err(err) => config = redirect::next_hop(&config, err, followed)?,
            open => return open,
        }
        followed += 1;
    }
}

/// One attempt: dial, then handshake.
async fn connect_once(
    config: &ClientConfig,
) -> Result<(WebSocketStream<AsyncStream>, Response), Error> {
    config.check_request()?;
    let stream = dial_async(config).await?;
    client_async(stream, config).await
}

/// Runs the opening handshake over a stream you already have, within the configured
/// handshake timeout.
pub async fn client_async<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: &ClientConfig,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let mut trace = Tracer::client(config);
    let result = within(
        config.handshake_timeout,
        Stage::Http,
        handshake(stream, config, &mut trace),
    )
    .await;
    trace.finish(result)
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    config: &ClientConfig,
    trace: &mut Tracer,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let mut handshake = ClientHandshake::new(config.request())?;
    let http = |err| Error::client_io(Stage::Http, err);
    trace.sent(handshake.request_bytes());
    stream
        .write_all(handshake.request_bytes())
        .await
        .map_err(http)?;
    stream.flush().await.map_err(http)?;
    let mut buf = BytesMut::with_capacity(4096);
    let response = loop {
        let before = buf.len();
        if stream.read_buf(&mut buf).await.map_err(http)? == 0 {
            return Err(handshake.receive_eof(&mut buf).into());
        }
        trace.received_bytes(&buf[before..]);
        if let Some(response) = handshake.receive(&mut buf)? {
            break response;
        }
    };
    trace.received_head(&response.head);
    let mut conn = Connection::with_mask_keys(
        Role::Client,
        config.protocol.clone(),
        config.mask_keys.source(),
    );
    trace.attach(&mut conn);
    conn.receive_data(&buf);
    Ok((WebSocketStream::from_connection(stream, conn), response))
}
