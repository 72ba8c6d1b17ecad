//! Async client: connect to a URL, or run the handshake over any async stream.

use std::ops::ControlFlow;
use std::time::Instant;

use sockeye_proto::handshake::Response;
use sockeye_proto::Connection;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::ClientConfig;
use crate::diagnose::{ConnectReport, HandshakeRecord};
use crate::error::{Error, Stage};
use crate::handshake::client::ClientHandshakeDriver;
use crate::redirect_walk::RedirectWalk;
use crate::tokio::stream::WebSocketStream;
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
    let dialed = dial_async_timed(config, &mut report.timings, &mut report.route).await;
    let stream = report.dialed_async(dialed)?;
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
    mut stream: S,
    config: &ClientConfig,
    record: &mut HandshakeRecord,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let mut driver = ClientHandshakeDriver::start(config, record)?;
    let result = within(
        config.handshake_timeout,
        Stage::Http,
        handshake(&mut stream, &mut driver),
    )
    .await;
    let result = match result {
        Err(timeout @ Error::Timeout { .. }) => Err(driver.timed_out(timeout)),
        other => other,
    };
    let (conn, response) = driver.finish(result)?;
    Ok((WebSocketStream::from_connection(stream, conn), response))
}

/// Writes the request and reads the response (the caller bounds the time).
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    driver: &mut ClientHandshakeDriver<'_>,
) -> Result<(Connection, Response), Error> {
    let http = |err| Error::client_io(Stage::Http, err);
    stream.write_all(driver.request()).await.map_err(http)?;
    stream.flush().await.map_err(http)?;
    loop {
        if stream.read_buf(driver.read_buffer()).await.map_err(http)? == 0 {
            return Err(driver.closed());
        }
        if let Some(open) = driver.received()? {
            return Ok(open);
        }
    }
}
