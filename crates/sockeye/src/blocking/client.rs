//! Blocking client: connect to a URL, or run the handshake over any stream.

use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::time::Instant;

use bytes::BytesMut;
use sockeye_proto::handshake::{ClientHandshake, Response};

use crate::blocking::stream::WebSocket;
use crate::config::ClientConfig;
use crate::diagnose::{ConnectReport, HandshakeRecord};
use crate::error::{Error, Stage};
use crate::redirect_walk::RedirectWalk;
use crate::trace::Tracer;
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
    let stream = transport::dial_timed(config, &mut report.timings)?;
    report.connected(&stream);
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
    stream: S,
    config: &ClientConfig,
    record: &mut HandshakeRecord,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut trace = Tracer::client(config);
    let result = handshake(stream, config, &mut trace, record);
    trace.finish(result)
}

fn handshake<S: Read + Write>(
    mut stream: S,
    config: &ClientConfig,
    trace: &mut Tracer,
    record: &mut HandshakeRecord,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut handshake = ClientHandshake::new(config.request())?;
    let timeout = |err: io::Error| {
        if is_timeout(&err) {
            Error::Timeout {
                stage: Stage::Http,
                after: config.handshake_timeout.unwrap_or_default(),
            }
        } else {
            Error::client_io(Stage::Http, err)
        }
    };
    trace.sent(handshake.request_bytes());
    record.sent(handshake.request_bytes());
    stream
        .write_all(handshake.request_bytes())
        .and_then(|()| stream.flush())
        .map_err(timeout)?;
    // The core bounds what this buffer holds: the response head (max_header_bytes) plus one
    // read; a refusal's body is taken out of it as it is read.
    let mut buf = BytesMut::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let response = loop {
        let read = match stream.read(&mut chunk) {
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            // The server already refused: its time ran out while its body came, so report
            // the refusal with what arrived rather than a time-out.
            Err(err) if handshake.refusal_pending() && is_timeout(&err) => {
                return Err(handshake.receive_eof(&mut buf).into())
            }
            Err(err) => return Err(timeout(err)),
        };
        if read == 0 {
            return Err(handshake.receive_eof(&mut buf).into());
        }
        buf.extend_from_slice(&chunk[..read]);
        trace.received_bytes(&chunk[..read]);
        record.received(&chunk[..read]);
        if let Some(response) = handshake.receive(&mut buf)? {
            break response;
        }
    };
    trace.received_head(&response.head);
    check_subprotocol(config, &response)?;
    let mut conn = config.connection(response.deflate);
    trace.attach(&mut conn);
    conn.receive_data(&buf);
    Ok((WebSocket::from_connection(stream, conn), response))
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// [`ClientConfig::require_subprotocol`]: with subprotocols offered, the response must select one.
pub(crate) fn check_subprotocol(config: &ClientConfig, response: &Response) -> Result<(), Error> {
    if config.require_subprotocol
        && !config.subprotocols.is_empty()
        && response.subprotocol.is_none()
    {
        return Err(Error::SubprotocolNotSelected {
            offered: config.subprotocols.clone(),
        });
    }
    Ok(())
}
