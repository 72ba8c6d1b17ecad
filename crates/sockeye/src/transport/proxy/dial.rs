//! Opening the tunnel through a proxy, for both front-ends side by side: [`destination`] and
//! [`tunnel`] (blocking), `destination_async` and `tunnel_async` (tokio). The handshake itself
//! is [`TunnelStep`], written once; these loops only connect, read, write and wait.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sockeye_proto::proxy::Destination;

use super::step::{self, named_destination, pick_address, unreachable, TunnelStep, Want};
use crate::config::{ClientConfig, Target};
use crate::error::{Error, Stage};
use crate::options::proxy::ProxyScheme;
use crate::route::SelectedProxy;
use crate::timings::Timings;
use crate::transport::{tcp, Stream};

/// What the tunnel must lead to (blocking): the name for proxies that resolve it, else an
/// address resolved here with the system's blocking resolver, timed as the DNS stage.
pub(crate) fn destination(
    proxy: &SelectedProxy,
    target: &Target,
    timings: &mut Timings,
) -> Result<Destination, Error> {
    if let Some(destination) = named_destination(proxy, target) {
        return Ok(destination);
    }
    let addrs = timings.time(Stage::Dns, || tcp::resolve(&target.host, target.port))?;
    Ok(pick_address(proxy, &addrs, target.port))
}

/// The time left before `deadline`, at least 1 ms (std refuses a zero socket timeout).
fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|deadline| {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    })
}

/// Both socket timeouts of `stream`, as proxy-stage errors.
fn set_timeouts(stream: &Stream, timeout: Option<Duration>) -> Result<(), Error> {
    stream
        .set_read_timeout(timeout)
        .and_then(|()| stream.set_write_timeout(timeout))
        .map_err(|err| Error::io(Stage::Proxy, err))
}

/// Opens a tunnel to `destination` (from [`destination`]) through `proxy` (blocking): TCP to
/// the proxy, TLS for `https://` proxies, then the proxy's handshake. The stream comes back
/// with no socket timeouts set.
pub(crate) fn tunnel(
    proxy: &SelectedProxy,
    destination: Destination,
    config: &ClientConfig,
) -> Result<Stream, Error> {
    let limit = config.connect_timeout;
    let mut handshake = TunnelStep::new(proxy, destination, limit)?;
    let options = tcp::SocketOptions::of(config);
    let tcp = tcp::connect_with(&proxy.url.host, proxy.url.port, limit, options)
        .map_err(|err| unreachable(proxy, err))?;
    let mut stream = Stream::Tcp(tcp);
    // TLS and the handshake have the limit again: the proxy answers once it has reached the
    // destination, which is a connect, too.
    let deadline = limit.map(|limit| Instant::now() + limit);
    if proxy.url.scheme == ProxyScheme::Https {
        stream = tls_to_proxy(stream, proxy, config, deadline)?;
    }
    loop {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(handshake.timed_out());
        }
        set_timeouts(&stream, left(deadline))?;
        match handshake.want() {
            Want::Open => break,
            Want::Write => match stream
                .write_all(handshake.output())
                .and_then(|()| stream.flush())
            {
                Ok(()) => handshake.wrote(),
                Err(err) => handshake.failed(err)?,
            },
            Want::Read => match stream.read(handshake.read_space()) {
                Ok(read) => handshake.received(read)?,
                Err(err) => handshake.failed(err)?,
            },
        }
    }
    set_timeouts(&stream, None)?;
    Ok(stream)
}

#[cfg(feature = "tls")]
fn tls_to_proxy(
    stream: Stream,
    proxy: &SelectedProxy,
    config: &ClientConfig,
    deadline: Option<Instant>,
) -> Result<Stream, Error> {
    set_timeouts(&stream, left(deadline))?;
    let options = step::proxy_tls_options(config);
    crate::transport::tls::connect_tls(stream, &proxy.url.host, &options)
}

#[cfg(not(feature = "tls"))]
fn tls_to_proxy(
    _stream: Stream,
    proxy: &SelectedProxy,
    _config: &ClientConfig,
    _deadline: Option<Instant>,
) -> Result<Stream, Error> {
    Err(step::no_tls(proxy))
}

#[cfg(feature = "tokio")]
pub(crate) use self::tokio_dial::{destination_async, tunnel_async};

#[cfg(feature = "tokio")]
mod tokio_dial {
    use std::io;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::transport::async_stream::{connect_tcp, resolve, until, AsyncStream};

    /// The tokio twin of [`destination`]: the name is resolved with tokio's resolver (on its
    /// blocking pool, never on the runtime thread) by `deadline`, else [`Error::Timeout`] at
    /// the DNS stage.
    pub(crate) async fn destination_async(
        proxy: &SelectedProxy,
        config: &ClientConfig,
        deadline: Option<tokio::time::Instant>,
        timings: &mut Timings,
    ) -> Result<Destination, Error> {
        let target = &config.target;
        if let Some(destination) = named_destination(proxy, target) {
            return Ok(destination);
        }
        let started = Instant::now();
        let resolving = resolve(&target.host, target.port);
        let addrs = until(deadline, config.connect_timeout, Stage::Dns, resolving).await;
        timings.set(Stage::Dns, started.elapsed());
        Ok(pick_address(proxy, &addrs?, target.port))
    }

    /// `work`, as a time-out error once `deadline` passes.
    async fn by<T>(
        deadline: Option<tokio::time::Instant>,
        work: impl std::future::Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, work)
                .await
                .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
            None => work.await,
        }
    }

    /// The tokio twin of [`tunnel`]. The proxy's own name is resolved with tokio's resolver
    /// too, and reaching it must be done by `deadline`.
    pub(crate) async fn tunnel_async(
        proxy: &SelectedProxy,
        destination: Destination,
        config: &ClientConfig,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<AsyncStream, Error> {
        let limit = config.connect_timeout;
        let mut handshake = TunnelStep::new(proxy, destination, limit)?;
        let options = crate::transport::tcp::SocketOptions::of(config);
        let connecting = connect_tcp(&proxy.url.host, proxy.url.port, options);
        let tcp = until(deadline, limit, Stage::Proxy, connecting)
            .await
            .map_err(|err| unreachable(proxy, err))?;
        let mut stream = AsyncStream::Tcp(tcp);
        // TLS and the handshake have the limit again: the proxy answers once it has reached
        // the destination, which is a connect, too.
        let deadline = limit.map(|limit| tokio::time::Instant::now() + limit);
        if proxy.url.scheme == ProxyScheme::Https {
            stream = tls_to_proxy_async(stream, proxy, config, deadline).await?;
        }
        loop {
            match handshake.want() {
                Want::Open => return Ok(stream),
                Want::Write => {
                    let write = async {
                        stream.write_all(handshake.output()).await?;
                        stream.flush().await
                    };
                    match by(deadline, write).await {
                        Ok(()) => handshake.wrote(),
                        Err(err) => handshake.failed(err)?,
                    }
                }
                Want::Read => match by(deadline, stream.read(handshake.read_space())).await {
                    Ok(read) => handshake.received(read)?,
                    Err(err) => handshake.failed(err)?,
                },
            }
        }
    }

    #[cfg(feature = "tls")]
    async fn tls_to_proxy_async(
        stream: AsyncStream,
        proxy: &SelectedProxy,
        config: &ClientConfig,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<AsyncStream, Error> {
        let options = step::proxy_tls_options(config);
        let handshake = crate::transport::tls::connect_tls_async(stream, &proxy.url.host, &options);
        until(deadline, config.connect_timeout, Stage::Proxy, handshake).await
    }

    #[cfg(not(feature = "tls"))]
    async fn tls_to_proxy_async(
        _stream: AsyncStream,
        proxy: &SelectedProxy,
        _config: &ClientConfig,
        _deadline: Option<tokio::time::Instant>,
    ) -> Result<AsyncStream, Error> {
        Err(step::no_tls(proxy))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::options::proxy::ProxyUrl;
    use crate::route::ProxySource;

    #[test]
    fn remote_schemes_send_the_name_local_ones_resolve_it() {
        let target = Target::parse("ws://localhost:9001/").unwrap();
        let via = |url: &str| SelectedProxy {
            url: ProxyUrl::parse(url).unwrap(),
            source: ProxySource::Config,
        };
        let name = Destination::Name {
            host: "localhost".into(),
            port: 9001,
        };
        for remote in ["http://p", "https://p", "socks4a://p", "socks5h://p"] {
            let mut timings = Timings::default();
            assert_eq!(
                destination(&via(remote), &target, &mut timings).unwrap(),
                name,
                "{remote}"
            );
            assert_eq!(timings.dns, None, "{remote}: nothing resolved here");
        }
        for local in ["socks4://p", "socks5://p"] {
            let mut timings = Timings::default();
            match destination(&via(local), &target, &mut timings).unwrap() {
                Destination::Addr(addr) => {
                    assert!(addr.ip().is_loopback() && addr.port() == 9001, "{addr}")
                }
                other => panic!("{local}: {other:?}"),
            }
            assert!(timings.dns.is_some(), "{local}: the DNS stage is timed");
        }
        // SOCKS4 picks an IPv4 address; an IP literal is never resolved.
        let v4 = destination(&via("socks4://p"), &target, &mut Timings::default()).unwrap();
        assert!(matches!(v4, Destination::Addr(SocketAddr::V4(_))), "{v4:?}");
        let literal = Target::parse("ws://[::1]:80/").unwrap();
        for scheme in ["socks5h://p", "socks5://p"] {
            let mut timings = Timings::default();
            assert_eq!(
                destination(&via(scheme), &literal, &mut timings).unwrap(),
                Destination::new("::1", 80)
            );
            assert_eq!(timings.dns, None);
        }
    }

    /// The tokio twin resolves with tokio's resolver (on a current-thread runtime too) to what
    /// the blocking one gives. (Its deadline: `tests/async_resolution.rs`, with a real slow
    /// resolver.)
    #[cfg(feature = "tokio")]
    #[test]
    fn the_async_destination_resolves_like_the_blocking_one() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let via = |url: &str| SelectedProxy {
            url: ProxyUrl::parse(url).unwrap(),
            source: ProxySource::Config,
        };
        let config = ClientConfig::new("ws://localhost:9001/").unwrap();
        runtime.block_on(async {
            for scheme in ["socks4://p", "socks5://p", "socks5h://p"] {
                let mut timings = Timings::default();
                let deadline = Some(tokio::time::Instant::now() + Duration::from_secs(10));
                let got = destination_async(&via(scheme), &config, deadline, &mut timings)
                    .await
                    .unwrap();
                let blocking = destination(&via(scheme), &config.target, &mut Timings::default());
                assert_eq!(got, blocking.unwrap(), "{scheme}");
                assert_eq!(timings.dns.is_some(), scheme != "socks5h://p", "{scheme}");
            }
        });
    }
}
