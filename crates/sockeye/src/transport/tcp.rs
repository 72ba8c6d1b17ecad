//! TCP: name resolution and connecting, each with its own error stage.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{DnsFailure, Error, Stage};

/// Resolves `host:port` (DNS stage).
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| dns_error(host, source))?
        .collect();
    if addrs.is_empty() {
        return Err(no_addresses(host));
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
    Err(last.unwrap_or_else(|| no_addresses(host)))
}

/// The DNS-stage error of a failed lookup of `host`, its failure classified where the
/// resolver's error enters: the standard library reports `getaddrinfo`'s failures as text
/// only (no code to match), so this is the one place that reads it.
pub(crate) fn dns_error(host: &str, source: std::io::Error) -> Error {
    let text = source.to_string();
    // EAI_AGAIN: "Temporary failure in name resolution" (glibc, musl), "… try again" (BSDs).
    let failure = if text.contains("Temporary failure") || text.contains("try again") {
        DnsFailure::Temporary
    } else {
        DnsFailure::NotFound
    };
    Error::Dns {
        host: host.to_string(),
        failure,
        source,
    }
}

/// The DNS-stage error of a lookup of `host` that returned no address.
pub(crate) fn no_addresses(host: &str) -> Error {
    Error::Dns {
        host: host.to_string(),
        failure: DnsFailure::NotFound,
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
    }
}
