//! Blocking client: connect to a URL, or run the handshake over any stream.

use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::time::Instant;

use sockeye_proto::handshake::Response;
use sockeye_proto::Connection;

use crate::blocking::stream::WebSocket;
use crate::config::ClientConfig;
use crate::diagnose::{ConnectReport, HandshakeRecord};
use crate::error::{Error, Stage};
use crate::handshake::client::ClientHandshakeDriver;
use crate::redirect_walk::RedirectWalk;
use crate::transport::{self, Stream};

/// Connects to a `ws://` URL with default options.
///
/// Returns the open connection and the server's handshake response.
pub fn connect(url: &str) -> Result<(WebSocket<Stream>, Response), Error> {
    connect_with(ClientConfig::new(url)?)
}

/// Connects with every option of `config`: the request is checked before anything is sent
/// ([`ClientConfig::check_request`]), then the route (TCP or Unix socket), the handshake within
/// its timeout (again for each `Location` when [`ClientConfig::follow_redirects`] is on), then
/// the read and write timeouts for the open connection.
pub fn connect_with(config: ClientConfig) -> Result<(WebSocket<Stream>, Response), Error> {
    walk_redirects(RedirectWalk::new(config)).0
}

/// [`connect_with`], and what the attempt went through: how long each stage took (DNS, TCP,
/// proxy, TLS, HTTP upgrade), the request and response heads, the TLS session, the redirects.
/// The report comes back whether the connection opened or not, and
/// [`ConnectReport::diagnose`] explains a failure with all of it.
pub fn connect_with_report(
    config: ClientConfig,
) -> (Result<(WebSocket<Stream>, Response), Error>, ConnectReport) {
    walk_redirects(RedirectWalk::reporting(config))
}

/// Every attempt of `walk`, until one opens or fails with an error not to follow.
fn walk_redirects(
    mut walk: RedirectWalk,
) -> (Result<(WebSocket<Stream>, Response), Error>, ConnectReport) {
    let result = loop {
        let (config, report) = walk.attempt();
        let attempt = connect_once(config, report);
        if let ControlFlow::Break(result) = walk.follow(attempt) {
            break result;
        }
    };
    (result, walk.finish())
}

/// One attempt: dial, handshake, timeouts, noted in `report`.
fn connect_once(
    config: &ClientConfig,
    report: &mut ConnectReport,
) -> Result<(WebSocket<Stream>, Response), Error> {
    config.check_request()?;
    let dialed = transport::dial_timed(config, &mut report.timings, &mut report.route);
    let stream = report.dialed(dialed)?;
    let set_timeouts = |stream: &Stream, read, write, stage| {
        stream
            .set_read_timeout(read)
            .and_then(|()| stream.set_write_timeout(write))
            .map_err(|err| Error::io(stage, err))
    };
    set_timeouts(
        &stream,
        config.handshake_timeout,
        config.handshake_timeout,
        Stage::Tcp,
    )?;
    let started = Instant::now();
    let mut record = report.handshake_record();
    let result = client_recorded(stream, config, &mut record);
    report.timings.set(Stage::Http, started.elapsed());
    report.record(record);
    let (mut socket, response) = result?;
    socket.set_read_timeout(config.read_timeout)?;
    socket.set_write_timeout(config.write_timeout)?;
    Ok((socket, response))
}

/// Runs the opening handshake over a stream you already have (TCP, Unix socket, a TLS stream…).
///
/// Timeouts are the stream's own: a read that times out is reported as
/// [`Error::Timeout`] for the handshake.
pub fn client<S: Read + Write>(
    stream: S,
    config: &ClientConfig,
) -> Result<(WebSocket<S>, Response), Error> {
    client_recorded(stream, config, &mut HandshakeRecord::default())
}

/// [`client`], keeping the heads in `record` (when it is on).
fn client_recorded<S: Read + Write>(
    mut stream: S,
    config: &ClientConfig,
    record: &mut HandshakeRecord,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut driver = ClientHandshakeDriver::start(config, record)?;
    let result = handshake(&mut stream, config, &mut driver);
    let (conn, response) = driver.finish(result)?;
    Ok((WebSocket::from_connection(stream, conn), response))
}

/// Writes the request and reads the response, each read and write within the stream's own
/// timeouts.
fn handshake<S: Read + Write>(
    stream: &mut S,
    config: &ClientConfig,
    driver: &mut ClientHandshakeDriver<'_>,
) -> Result<(Connection, Response), Error> {
    let timed_out = || Error::Timeout {
        stage: Stage::Http,
        after: config.handshake_timeout.unwrap_or_default(),
    };
    stream
        .write_all(driver.request())
        .and_then(|()| stream.flush())
        .map_err(|err| {
            if is_timeout(&err) {
                timed_out()
            } else {
                Error::client_io(Stage::Http, err)
            }
        })?;
    let mut chunk = [0u8; 4096];
    loop {
        let read = match stream.read(&mut chunk) {
            Ok(0) => return Err(driver.closed()),
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if is_timeout(&err) => return Err(driver.timed_out(timed_out())),
            Err(err) => return Err(Error::client_io(Stage::Http, err)),
        };
        if let Some(open) = driver.receive(&chunk[..read])? {
            return Ok(open);
        }
    }
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
