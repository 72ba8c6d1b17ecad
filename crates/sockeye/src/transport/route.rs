//! Opening a client connection's route, for both front-ends side by side: [`dial`] (blocking)
//! and [`dial_async`] (tokio). The steps and their order are in the `transport` module docs.

#[cfg(feature = "tokio")]
use std::time::Instant;

#[cfg(feature = "tokio")]
use super::async_stream::{connect_tcp_timed, within, AsyncStream};
#[cfg(feature = "tls")]
use super::tls;
#[cfg(unix)]
use super::unix;
use super::{proxy, tcp, Stream};
use crate::config::ClientConfig;
use crate::error::{Error, Stage};
use crate::route::Route;
use crate::timings::Timings;

/// Opens the route `config` describes (blocking): Unix socket or TCP, then TLS for `wss://`.
pub fn dial(config: &ClientConfig) -> Result<Stream, Error> {
    dial_timed(config, &mut Timings::default(), &mut None)
}

/// [`dial`], noting in `timings` how long each stage took (the one that failed too), and in
/// `route` the route taken, as soon as it is chosen (so a failure on it has it too).
pub(crate) fn dial_timed(
    config: &ClientConfig,
    timings: &mut Timings,
    route: &mut Option<Route>,
) -> Result<Stream, Error> {
    #[cfg(not(feature = "tls"))]
    refuse_tls_without_feature(config)?;
    let route = route.insert(proxy::choose_route(config)?);
    let stream = dial_route(config, route, timings)?;
    #[cfg(feature = "tls")]
    if config.target.secure {
        return timings.time(Stage::Tls, || tls::secure(stream, config));
    }
    Ok(stream)
}

/// The route alone (blocking), before any TLS.
fn dial_route(
    config: &ClientConfig,
    route: &Route,
    timings: &mut Timings,
) -> Result<Stream, Error> {
    match route {
        #[cfg(unix)]
        Route::Unix { path } => {
            return timings.time(Stage::Tcp, || unix::connect(path).map(Stream::Unix));
        }
        #[cfg(not(unix))]
        Route::Unix { path } => return Err(no_unix_sockets(path)),
        // Through a proxy (see `proxy`): its tunnel is the route. The target's name is
        // resolved here for `socks4://` and `socks5://` (DNS stage, blocking resolver).
        Route::Proxy(selected) => {
            let destination = proxy::destination(selected, &config.target, timings)?;
            return timings.time(Stage::Proxy, || {
                proxy::tunnel(selected, destination, config)
            });
        }
        Route::Direct { .. } => {}
    }
    let target = &config.target;
    let addrs = timings.time(Stage::Dns, || tcp::resolve(&target.host, target.port))?;
    let stream = timings.time(Stage::Tcp, || {
        tcp::connect_resolved(
            &target.host,
            addrs,
            config.connect_timeout,
            tcp::SocketOptions::of(config),
        )
    })?;
    Ok(Stream::Tcp(stream))
}

#[cfg(not(unix))]
fn no_unix_sockets(path: &std::path::Path) -> Error {
    Error::Unsupported(format!(
        "Unix domain sockets ({}) are not available on this platform",
        path.display()
    ))
}

#[cfg(not(feature = "tls"))]
fn refuse_tls_without_feature(config: &ClientConfig) -> Result<(), Error> {
    if config.target.secure {
        return Err(Error::Unsupported(format!(
            "{} needs TLS, and this build of sockeye has no TLS (it was built without the `tls` feature); it will not fall back to an unencrypted connection (enable the feature, or use ws:// for a plain server)",
            config.target.url
        )));
    }
    Ok(())
}

/// Opens the route `config` describes (tokio): Unix socket or TCP, then TLS for `wss://`.
#[cfg(feature = "tokio")]
pub async fn dial_async(config: &ClientConfig) -> Result<AsyncStream, Error> {
    dial_async_timed(config, &mut Timings::default(), &mut None).await
}

/// [`dial_async`], noting in `timings` how long each stage took (the one that failed too), and
/// in `route` the route taken, as soon as it is chosen.
#[cfg(feature = "tokio")]
pub(crate) async fn dial_async_timed(
    config: &ClientConfig,
    timings: &mut Timings,
    route: &mut Option<Route>,
) -> Result<AsyncStream, Error> {
    #[cfg(not(feature = "tls"))]
    refuse_tls_without_feature(config)?;
    let route = route.insert(proxy::choose_route(config)?);
    let stream = dial_route_async(config, route, timings).await?;
    #[cfg(feature = "tls")]
    if config.target.secure {
        let started = Instant::now();
        let secured = tls::secure_async(stream, config).await;
        timings.set(Stage::Tls, started.elapsed());
        return secured;
    }
    Ok(stream)
}

/// The route alone (tokio), before any TLS.
#[cfg(feature = "tokio")]
async fn dial_route_async(
    config: &ClientConfig,
    route: &Route,
    timings: &mut Timings,
) -> Result<AsyncStream, Error> {
    let started = Instant::now();
    match route {
        #[cfg(unix)]
        Route::Unix { path } => {
            let stream = tokio::net::UnixStream::connect(path).await;
            timings.set(Stage::Tcp, started.elapsed());
            let stream = stream.map_err(|source| Error::Connect {
                addr: format!("unix:{}", path.display()),
                source,
            })?;
            return Ok(AsyncStream::Unix(stream));
        }
        #[cfg(not(unix))]
        Route::Unix { path } => return Err(no_unix_sockets(path)),
        // Through a proxy (see `proxy`): its tunnel is the route. As DNS and TCP do without a
        // proxy, resolving the target here (`socks4://`, `socks5://`) and reaching the proxy
        // share one connect_timeout.
        Route::Proxy(selected) => {
            let deadline = config
                .connect_timeout
                .map(|limit| tokio::time::Instant::now() + limit);
            let destination = proxy::destination_async(selected, config, deadline, timings).await?;
            let started = Instant::now();
            let tunnel = proxy::tunnel_async(selected, destination, config, deadline).await;
            timings.set(Stage::Proxy, started.elapsed());
            return tunnel;
        }
        Route::Direct { .. } => {}
    }
    let host = config.target.host.as_str();
    let port = config.target.port;
    let options = super::tcp::SocketOptions::of(config);
    let connect = connect_tcp_timed(host, port, options, timings);
    match within(config.connect_timeout, Stage::Tcp, connect).await {
        Ok(stream) => Ok(AsyncStream::Tcp(stream)),
        // Resolving and connecting share the limit: the time-out is the stage still running's,
        // and that stage gets the time.
        Err(Error::Timeout { after, .. }) => Err(Error::Timeout {
            stage: timings.set_unfinished(started.elapsed()),
            after,
        }),
        Err(err) => Err(err),
    }
}
