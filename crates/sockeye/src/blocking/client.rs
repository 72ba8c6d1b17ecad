//! Blocking client: connect to a URL, or run the handshake over any stream.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use bytes::BytesMut;
use sockeye_proto::handshake::{ClientHandshake, Response};
use sockeye_proto::{Connection, Role};

use crate::blocking::stream::WebSocket;
use crate::config::ClientConfig;
use crate::error::{Error, Stage};
use crate::transport::tcp;

/// Connects to a `ws://` URL with default options.
///
/// Returns the open connection and the server's handshake response.
pub fn connect(url: &str) -> Result<(WebSocket<TcpStream>, Response), Error> {
    connect_with(ClientConfig::new(url)?)
}

/// Connects with every option of `config`.
pub fn connect_with(config: ClientConfig) -> Result<(WebSocket<TcpStream>, Response), Error> {
    if config.target.secure {
        return Err(Error::Unsupported(format!(
            "{} needs TLS, which this build of sockeye does not support yet; it will not fall back to an unencrypted connection (use ws:// for a plain server)",
            config.target.url
        )));
    }
    let stream = tcp::connect(
        &config.target.host,
        config.target.port,
        config.connect_timeout,
    )?;
    let set_timeouts = |timeout| {
        stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout))
            .map_err(|err| Error::io(Stage::Tcp, err))
    };
    set_timeouts(config.handshake_timeout)?;
    let (socket, response) = client(stream, &config)?;
    socket
        .get_ref()
        .set_read_timeout(None)
        .and_then(|()| socket.get_ref().set_write_timeout(None))
        .map_err(|err| Error::io(Stage::Open, err))?;
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
