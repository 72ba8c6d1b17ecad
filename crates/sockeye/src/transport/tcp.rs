//! TCP: name resolution and connecting, each with its own error stage.

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::config::ClientConfig;
use crate::error::{DnsFailure, Error, Stage};

/// The TCP socket options of [`ClientConfig`], for both dials (blocking and tokio), to the
/// server or to a proxy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SocketOptions {
    pub(crate) nodelay: bool,
    pub(crate) keepalive: bool,
    pub(crate) local_address: Option<IpAddr>,
}

impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            nodelay: true,
            keepalive: false,
            local_address: None,
        }
    }
}

impl SocketOptions {
    /// `config`'s `tcp_nodelay`, `tcp_keepalive` and `local_address`.
    pub(crate) fn of(config: &ClientConfig) -> Self {
        Self {
            nodelay: config.tcp_nodelay,
            keepalive: config.tcp_keepalive,
            local_address: config.local_address,
        }
    }

    /// Whether `addr` can be reached from the local address: the same family, when one is set.
    pub(crate) fn fits(&self, addr: &SocketAddr) -> bool {
        self.local_address
            .is_none_or(|local| local.is_ipv4() == addr.is_ipv4())
    }
}

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
    connect_with(host, port, timeout, SocketOptions::default())
}

/// [`connect`] with `options`.
pub(crate) fn connect_with(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
    options: SocketOptions,
) -> Result<TcpStream, Error> {
    let addrs = resolve(host, port)?;
    connect_resolved(host, addrs, timeout, options)
}

/// A socket for `addr` with `options` set, bound to the local address if there is one,
/// connected within `timeout`.
fn dial(
    addr: SocketAddr,
    timeout: Option<Duration>,
    options: SocketOptions,
) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_keepalive(options.keepalive)?;
    if let Some(local) = options.local_address {
        socket.bind(&SockAddr::from(SocketAddr::new(local, 0)))?;
    }
    match timeout {
        Some(limit) => socket.connect_timeout(&SockAddr::from(addr), limit)?,
        None => socket.connect(&SockAddr::from(addr))?,
    }
    socket.set_tcp_nodelay(options.nodelay)?;
    Ok(socket.into())
}

/// Connects to the first of `addrs` (resolved for `host`) that accepts (TCP stage).
pub(crate) fn connect_resolved(
    host: &str,
    addrs: Vec<SocketAddr>,
    timeout: Option<Duration>,
    options: SocketOptions,
) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs.into_iter().filter(|addr| options.fits(addr)) {
        match dial(addr, timeout, options) {
            Ok(stream) => return Ok(stream),
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
    Err(last.unwrap_or_else(|| no_addresses_for(host, options)))
}

/// The error when no address of `host` can be tried: none at all, or none of the local
/// address's family.
pub(crate) fn no_addresses_for(host: &str, options: SocketOptions) -> Error {
    match options.local_address {
        Some(local) => Error::Connect {
            addr: host.to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("no address of {host} is of the local address {local}'s family"),
            ),
        },
        None => no_addresses(host),
    }
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
