//! TCP: name resolution and connecting, each with its own error stage.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, Stage};

/// Resolves `host:port` (DNS stage).
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| Error::Dns {
            host: host.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::Dns {
            host: host.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
        });
    }
    Ok(addrs)
}

/// Connects to the first address of `host:port` that accepts (TCP stage), with Nagle off.
pub fn connect(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream, Error> {
    let addrs = resolve(host, port)?;
    connect_resolved(host, addrs, timeout)
}

/// Connects to the first of `addrs` (resolved for `host`) that accepts (TCP stage).
pub(crate) fn connect_resolved(
    host: &str,
    addrs: Vec<SocketAddr>,
    timeout: Option<Duration>,
) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs {
        let attempt = match timeout {
            Some(limit) => TcpStream::connect_timeout(&addr, limit),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .map_err(|source| Error::io(Stage::Tcp, source))?;
                return Ok(stream);
            }
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {
                last = Some(match timeout {
                    Some(after) => Error::Timeout {
                        stage: Stage::Tcp,
                        after,
                    },
                    None => Error::Connect {
                        addr: addr.to_string(),
                        source: err,
                    },
                })
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
        host: host.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
    }))
}
