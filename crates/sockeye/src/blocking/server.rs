//! Blocking server: accept the opening handshake on a stream.

use std::io::{self, Read, Write};

use bytes::BytesMut;
use sockeye_proto::handshake::server::{
    accept_response, error_response, negotiate_deflate, parse_request, reject_response,
};
use sockeye_proto::handshake::{Accept, Reject, Request};

use crate::blocking::stream::WebSocket;
use crate::config::ServerConfig;
use crate::error::{Error, Stage};
use crate::trace::Tracer;

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
    stream: S,
    config: &ServerConfig,
    decide: F,
) -> Result<(WebSocket<S>, Request), Error>
where
    S: Read + Write,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    let mut trace = Tracer::server(config);
    let result = handshake(stream, config, decide, &mut trace);
    trace.finish(result)
}

fn handshake<S, F>(
    mut stream: S,
    config: &ServerConfig,
    decide: F,
    trace: &mut Tracer,
) -> Result<(WebSocket<S>, Request), Error>
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
    let mut buf = BytesMut::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let request = loop {
        match parse_request(&mut buf, config.max_header_bytes) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(err) => {
                let response = error_response(&err);
                trace.sent(&response);
                // Best effort: the client may already be gone.
                let _ = stream.write_all(&response);
                let _ = stream.flush();
                return Err(err.into());
            }
        }
        let read = match stream.read(&mut chunk) {
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(io_error(err)),
        };
        if read == 0 {
            return Err(sockeye_proto::HandshakeError::RequestClosed {
                received: buf.len(),
            }
            .into());
        }
        buf.extend_from_slice(&chunk[..read]);
        trace.received_bytes(&chunk[..read]);
    };
    trace.received_head(&request.head);
    let mut deflate = None;
    let (response, outcome) = match decide(&request) {
        Ok(mut accept) => {
            deflate = negotiate_deflate(&request, &mut accept, config.compression.as_ref())?;
            (accept_response(&request, &accept)?, None)
        }
        Err(reject) => (reject_response(&reject)?, Some(reject.status)),
    };
    trace.sent(&response);
    stream
        .write_all(&response)
        .and_then(|()| stream.flush())
        .map_err(io_error)?;
    if let Some(status) = outcome {
        return Err(Error::Rejected { status });
    }
    let mut conn = config.connection(deflate);
    trace.attach(&mut conn);
    conn.receive_data(&buf);
    Ok((WebSocket::from_connection(stream, conn), request))
}
