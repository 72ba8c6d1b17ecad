//! Blocking server: accept the opening handshake on a stream.

use std::io::{self, Read, Write};

use sockeye_proto::handshake::{Accept, Reject, Request};
use sockeye_proto::Connection;

use crate::blocking::stream::WebSocket;
use crate::config::ServerConfig;
use crate::error::{Error, Stage};
use crate::handshake::server::ServerHandshakeDriver;

/// Accepts any valid WebSocket request on `stream`, with default options.
pub fn accept<S: Read + Write>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, &ServerConfig::default(), |_| Ok(Accept::default())).map(|(ws, _)| ws)
}

/// Reads the request, lets `decide` look at it (path, query, headers, `Origin`, offered
/// subprotocols), then accepts it as `decide` says or refuses it with the given status.
///
/// A request that is not a valid WebSocket handshake is answered with 400, 405, 426 (with
/// `Sec-WebSocket-Version: 13`), 431 or 505 and reported as [`Error::Handshake`].
pub fn accept_with<S, F>(
    mut stream: S,
    config: &ServerConfig,
    decide: F,
) -> Result<(WebSocket<S>, Request), Error>
where
    S: Read + Write,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    let mut driver = ServerHandshakeDriver::new(config);
    let result = handshake(&mut stream, config, &mut driver, decide);
    let (conn, request) = driver.finish(result)?;
    Ok((WebSocket::from_connection(stream, conn), request))
}

/// Reads the request, then writes the answer, each read and write within the stream's own
/// timeouts.
fn handshake<S, F>(
    stream: &mut S,
    config: &ServerConfig,
    driver: &mut ServerHandshakeDriver<'_>,
    decide: F,
) -> Result<(Connection, Request), Error>
where
    S: Read + Write,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    // The stream's timeouts (set by the caller) running out: the client was too slow.
    let io_error = |err: io::Error| match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::RequestTimeout {
            after: config.handshake_timeout.unwrap_or_default(),
        },
        _ => Error::io(Stage::Http, err),
    };
    let mut chunk = [0u8; 4096];
    let request = loop {
        let read = match stream.read(&mut chunk) {
            Ok(0) => return Err(driver.closed()),
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(io_error(err)),
        };
        match driver.receive(&chunk[..read]) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(bad) => {
                // Best effort: the client may already be gone.
                let _ = stream.write_all(&bad.response);
                let _ = stream.flush();
                return Err(bad.error.into());
            }
        }
    };
    let answer = driver.answer(request, decide)?;
    stream
        .write_all(answer.response())
        .and_then(|()| stream.flush())
        .map_err(io_error)?;
    driver.open(answer)
}
