//! Async client: connect to a URL, or run the handshake over any async stream.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use sockeye_proto::handshake::{ClientHandshake, Response};
use sockeye_proto::{Connection, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::ClientConfig;
use crate::error::{Error, Stage};
use crate::tokio::stream::WebSocketStream;

/// Connects to a `ws://` URL with default options.
pub async fn connect_async(url: &str) -> Result<(WebSocketStream<TcpStream>, Response), Error> {
    connect_async_with(ClientConfig::new(url)?).await
}

async fn within<T>(
    limit: Option<Duration>,
    stage: Stage,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        Some(after) => tokio::time::timeout(after, work)
            .await
            .map_err(|_| Error::Timeout { stage, after })?,
        None => work.await,
    }
}

/// Connects with every option of `config`.
pub async fn connect_async_with(
    config: ClientConfig,
) -> Result<(WebSocketStream<TcpStream>, Response), Error> {
    if config.target.secure {
        return Err(Error::Unsupported(format!(
            "{} needs TLS, which this build of sockeye does not support yet; it will not fall back to an unencrypted connection (use ws:// for a plain server)",
            config.target.url
        )));
    }
    let host = config.target.host.clone();
    let port = config.target.port;
    let stream = within(config.connect_timeout, Stage::Tcp, async {
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|source| Error::Dns {
                host: host.clone(),
                source,
            })?
            .collect();
        let mut last = None;
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .map_err(|err| Error::io(Stage::Tcp, err))?;
                    return Ok(stream);
                }
                Err(source) => {
                    last = Some(Error::Connect {
                        addr: addr.to_string(),
                        source,
                    })
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Dns {
            host: host.clone(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        }))
    })
    .await?;
    client_async(stream, &config).await
}

/// Runs the opening handshake over a stream you already have, within the configured
/// handshake timeout.
pub async fn client_async<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: &ClientConfig,
) -> Result<(WebSocketStream<S>, Response), Error> {
    within(
        config.handshake_timeout,
        Stage::Http,
        handshake(stream, config),
    )
    .await
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    config: &ClientConfig,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let mut handshake = ClientHandshake::new(config.request())?;
    let http = |err| Error::io(Stage::Http, err);
    stream
        .write_all(handshake.request_bytes())
        .await
        .map_err(http)?;
    stream.flush().await.map_err(http)?;
    let mut buf = BytesMut::with_capacity(4096);
    let response = loop {
        if stream.read_buf(&mut buf).await.map_err(http)? == 0 {
            return Err(handshake.receive_eof(&mut buf).into());
        }
        if let Some(response) = handshake.receive(&mut buf)? {
            break response;
        }
    };
    let mut conn = Connection::new(Role::Client, config.protocol.clone());
    conn.receive_data(&buf);
    Ok((WebSocketStream::from_connection(stream, conn), response))
}
