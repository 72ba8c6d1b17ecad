//! Async client: connect to a URL, or run the handshake over any async stream.

use std::ops::ControlFlow;
use std::time::Instant;

use bytes::BytesMut;
use sockeye_proto::handshake::{ClientHandshake, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::ClientConfig;
use crate::diagnose::{ConnectReport, HandshakeRecord};
use crate::error::{Error, Stage};
use crate::redirect_walk::RedirectWalk;
use crate::tokio::stream::WebSocketStream;
use crate::trace::Tracer;
use crate::transport::async_stream::within;
use crate::transport::route::dial_async_timed;
use crate::transport::AsyncStream;

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
    walk_redirects(RedirectWalk::new(config)).await.0
}

/// [`connect_async_with`], and what the attempt went through: how long each stage took (DNS,
/// TCP, proxy, TLS, HTTP upgrade), the request and response heads, the TLS session, the
/// redirects. The report comes back whether the connection opened or not, and
/// [`ConnectReport::diagnose`] explains a failure with all of it.
pub async fn connect_async_with_report(
    config: ClientConfig,
) -> (
    Result<(WebSocketStream<AsyncStream>, Response), Error>,
    ConnectReport,
) {
    walk_redirects(RedirectWalk::reporting(config)).await
}

/// Every attempt of `walk`, until one opens or fails with an error not to follow.
async fn walk_redirects(
    mut walk: RedirectWalk,
) -> (
    Result<(WebSocketStream<AsyncStream>, Response), Error>,
    ConnectReport,
) {
    let result = loop {
        let (config, report) = walk.attempt();
        let attempt = connect_once(config, report).await;
        if let ControlFlow::Break(result) = walk.follow(attempt) {
            break result;
        }
    };
    (result, walk.finish())
}

/// One attempt: dial, then handshake, noted in `report`.
async fn connect_once(
    config: &ClientConfig,
    report: &mut ConnectReport,
) -> Result<(WebSocketStream<AsyncStream>, Response), Error> {
    config.check_request()?;
    let stream = dial_async_timed(config, &mut report.timings).await?;
    report.connected_async(&stream);
    let started = Instant::now();
    let mut record = report.handshake_record();
    let result = client_async_recorded(stream, config, &mut record).await;
    report.timings.set(Stage::Http, started.elapsed());
    report.record(record);
    result
}

/// Runs the opening handshake over a stream you already have, within the configured
/// handshake timeout.
pub async fn client_async<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: &ClientConfig,
) -> Result<(WebSocketStream<S>, Response), Error> {
    client_async_recorded(stream, config, &mut HandshakeRecord::default()).await
}

/// [`client_async`], keeping the heads in `record` (when it is on).
async fn client_async_recorded<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: &ClientConfig,
    record: &mut HandshakeRecord,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let mut trace = Tracer::client(config);
    let result = match ClientHandshake::new(config.request()) {
        Ok(mut handshake) => {
            let mut buf = BytesMut::with_capacity(4096);
            let result = within(
                config.handshake_timeout,
                Stage::Http,
                run_handshake(stream, config, &mut handshake, &mut buf, &mut trace, record),
            )
            .await;
            match result {
                // The server already refused: its time ran out while its body came, so report
                // the refusal with what arrived rather than a time-out.
                Err(Error::Timeout { .. }) if handshake.refusal_pending() => {
                    Err(handshake.receive_eof(&mut buf).into())
                }
                other => other,
            }
        }
        Err(err) => Err(err.into()),
    };
    trace.finish(result)
}

/// Sends the request and reads the response. `buf` is the caller's, so that a refusal whose
/// body was still coming when the time ran out can be reported with what arrived; the core
/// bounds what it holds (the response head plus one read: a refusal's body is taken out of it
/// as it is read).
async fn run_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    config: &ClientConfig,
    handshake: &mut ClientHandshake,
    buf: &mut BytesMut,
    trace: &mut Tracer,
    record: &mut HandshakeRecord,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let http = |err| Error::client_io(Stage::Http, err);
    trace.sent(handshake.request_bytes());
    record.sent(handshake.request_bytes());
    stream
        .write_all(handshake.request_bytes())
        .await
        .map_err(http)?;
    stream.flush().await.map_err(http)?;
    let response = loop {
        let before = buf.len();
        if stream.read_buf(buf).await.map_err(http)? == 0 {
            return Err(handshake.receive_eof(buf).into());
        }
        trace.received_bytes(&buf[before..]);
        record.received(&buf[before..]);
        if let Some(response) = handshake.receive(buf)? {
            break response;
        }
    };
    trace.received_head(&response.head);
    crate::blocking::client::check_subprotocol(config, &response)?;
    let mut conn = config.connection(response.deflate);
    trace.attach(&mut conn);
    conn.receive_data(buf);
    Ok((WebSocketStream::from_connection(stream, conn), response))
}
