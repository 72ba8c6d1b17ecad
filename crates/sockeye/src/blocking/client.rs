//! Blocking client: connect to a URL, or run the handshake over any stream.

use std::io::{self, Read, Write};

use bytes::BytesMut;
use sockeye_proto::handshake::{ClientHandshake, Response};
use sockeye_proto::{Connection, Role};

use crate::blocking::stream::WebSocket;
use crate::config::ClientConfig;
use crate::error::{Error, Stage};
use crate::transport::{self, Stream};

/// Connects to a `ws://` URL with default options.
///
/// Returns the open connection and the server's handshake response.
pub fn connect(url: &str) -> Result<(WebSocket<Stream>, Response), Error> {
    connect_with(ClientConfig::new(url)?)
}

/// Connects with every option of `config`: the route (TCP or Unix socket), the handshake within
/// its timeout, then the read and write timeouts for the open connection.
pub fn connect_with(config: ClientConfig) -> Result<(WebSocket<Stream>, Response), Error> {
    let stream = transport::dial(&config)?;
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
    let (socket, response) = client(stream, &config)?;
    set_timeouts(
        socket.get_ref(),
        config.read_timeout,
        config.write_timeout,
        Stage::Open,
    )?;
    Ok((socket, response))
}

/// Runs the opening handshake over a stream you already have (TCP, Unix socket, a TLS stream…).
///
/// Timeouts are the stream's own: a read that times out is reported as
/// [`Error::Timeout`] for the handshake.
pub fn client<S: Read + Write>(
    mut stream: S,
    config: &ClientConfig,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut handshake = ClientHandshake::new(config.request())?;
    let timeout = |err: io::Error| match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
            stage: Stage::Http,
            after: config.handshake_timeout.unwrap_or_default(),
        },
        _ => Error::io(Stage::Http, err),
    };
    stream
        .write_all(handshake.request_bytes())
        .and_then(|()| stream.flush())
        .map_err(timeout)?;
    let mut buf = BytesMut::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let response = loop {
        let read = match stream.read(&mut chunk) {
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(timeout(err)),
        };
        if read == 0 {
            return Err(handshake.receive_eof(&mut buf).into());
        }
        buf.extend_from_slice(&chunk[..read]);
        if let Some(response) = handshake.receive(&mut buf)? {
            break response;
        }
    };
    let mut conn = Connection::new(Role::Client, config.protocol.clone());
    conn.receive_data(&buf);
    Ok((WebSocket::from_connection(stream, conn), response))
}
