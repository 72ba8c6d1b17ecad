//! Proxies: which one a connection uses, and opening the tunnel through it.
//!
//! Supported proxy URLs (the scheme is the protocol spoken to the proxy):
//!
//! | URL | protocol | who resolves the WebSocket host | default port |
//! |---|---|---|---|
//! | `http://[user:pass@]host[:port]` | HTTP `CONNECT`, `Proxy-Authorization: Basic` | the proxy | 1080 |
//! | `https://[user:pass@]host[:port]` | the same inside TLS to the proxy | the proxy | 443 |
//! | `socks4://[user@]host[:port]` | SOCKS4 (the user is the SOCKS4 user ID) | sockeye (IPv4 only) | 1080 |
//! | `socks4a://[user@]host[:port]` | SOCKS4a | the proxy | 1080 |
//! | `socks5://[user:pass@]host[:port]` | SOCKS5, RFC 1929 username/password | sockeye | 1080 |
//! | `socks5h://[user:pass@]host[:port]` | SOCKS5, RFC 1929 username/password | the proxy | 1080 |
//!
//! A URL without a scheme is `http://`; default ports are curl's. Percent-escapes in the user
//! name and password are decoded (`%40` for `@`, `%3A` for `:`). Passwords never appear in error
//! messages or `Debug` output: [`ProxyUrl`] prints `user:[redacted]@`, as [`crate::redact`] does.
//!
//! # Which proxy applies
//!
//! [`ClientConfig::proxy`] chooses ([`ProxyConfig`]):
//!
//! - [`ProxyConfig::Environment`] (the default, as in curl): `ws://` URLs use `http_proxy`,
//!   `wss://` URLs use `https_proxy`, both fall back to `all_proxy`. Each name is looked up in
//!   lower case first, then upper case; an empty value counts as unset. `HTTP_PROXY` (upper case)
//!   is ignored when `REQUEST_METHOD` is set, as in Go and curl: in a CGI program it can come
//!   from a request's `Proxy:` header ("httpoxy"). Hosts in `no_proxy` / `NO_PROXY` go direct.
//!   When no `no_proxy` list is configured at all, loopback hosts (`localhost`, `127.0.0.0/8`,
//!   `::1`) go direct, as in Chromium and Go; setting any `no_proxy` list turns that off.
//! - [`ProxyConfig::Url`]: this proxy, whatever the environment says; only
//!   [`ClientConfig::no_proxy`] excludes hosts. (`sockeye connect -x` also applies the
//!   environment's `no_proxy`, as curl does, unless `--ignore-proxy-env`.)
//! - [`ProxyConfig::Direct`]: never a proxy; the environment is ignored.
//!
//! [`ClientConfig::no_proxy`], when set, replaces the environment's list. Its syntax is curl's
//! ([`NoProxy`]): comma- or space-separated host names (each also matches its subdomains, a
//! leading dot is optional), IP addresses, CIDR blocks, an optional `:port`, or `*` for every
//! host. Names are compared as written: `no_proxy` never resolves them, so an IP or CIDR entry
//! matches only URLs that use an IP address.
//!
//! A `ws+unix://` URL or [`ClientConfig::unix_socket`] never uses a proxy.
//!
//! # Opening the tunnel
//!
//! For `socks4://` and `socks5://`, sockeye first resolves the WebSocket server's name (the DNS
//! stage; see [Name resolution](super#name-resolution): the tokio front-end never resolves on
//! the runtime thread). [`dial`](super::dial) and `dial_async` connect to the proxy within
//! [`ClientConfig::connect_timeout`] (`dial_async`: that resolution and this connect together),
//! then run TLS to the proxy (`https://` proxies) and the
//! proxy's handshake (driving [`sockeye_proto::proxy::ProxyHandshake`]) within the same limit
//! again: the proxy answers only once it has reached the destination, which is a connect, too.
//! Then, for `wss://`, TLS runs to the WebSocket server through the tunnel, as without a proxy.
//! An `https://` proxy's certificate is checked with [`ClientConfig::tls`] (CA file, client
//! certificate, verification switches), but against the proxy's host name: the SNI override
//! is for the WebSocket server only.
//!
//! Every failure is at [`Stage::Proxy`] and names the proxy: unreachable
//! ([`Error::ProxyUnreachable`]), too slow ([`Error::Timeout`]), or its refusal in words
//! ([`Error::Proxy`]: the `CONNECT` status line, or the SOCKS reply code and its meaning), each
//! with what to try.
//!
//! [`ClientConfig::proxy`]: crate::ClientConfig::proxy
//! [`ClientConfig::no_proxy`]: crate::ClientConfig::no_proxy
//! [`ClientConfig::unix_socket`]: crate::ClientConfig::unix_socket
//! [`ClientConfig::connect_timeout`]: crate::ClientConfig::connect_timeout
//! [`ClientConfig::tls`]: crate::ClientConfig::tls

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
pub use sockeye_proto::proxy::{
    Credentials, Destination, ProxyError, ProxyHandshake, ProxyProtocol, Tunnel,
};

use crate::config::{ClientConfig, Target};
use crate::error::{Error, Stage, UrlProblem};
pub use crate::options::proxy::{NoProxy, ProxyConfig, ProxyScheme, ProxyUrl};
use crate::timings::Timings;
use crate::transport::{tcp, Stream};

// ---------------------------------------------------------------------------------------------
// Which proxy applies
// ---------------------------------------------------------------------------------------------

/// Where the chosen proxy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxySource {
    /// [`ProxyConfig::Url`].
    Config,
    /// This environment variable.
    Environment(&'static str),
}

/// The proxy a connection uses, and where that choice came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelectedProxy {
    /// The proxy.
    pub url: ProxyUrl,
    /// Where it came from.
    pub source: ProxySource,
}

impl fmt::Display for SelectedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            ProxySource::Config => write!(f, "{}", self.url),
            ProxySource::Environment(name) => write!(f, "{} (from ${name})", self.url),
        }
    }
}

/// The proxy `config` would use for its target now, or `None` for a direct connection; reads
/// the environment for [`ProxyConfig::Environment`]. Fails when the chosen proxy URL is invalid.
pub fn select(config: &ClientConfig) -> Result<Option<SelectedProxy>, Error> {
    select_with(config, &|name| std::env::var(name).ok())
}

/// [`select`] with the environment given as a lookup function (tests, sandboxes).
pub fn select_with(
    config: &ClientConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SelectedProxy>, Error> {
    if config.unix_socket.is_some() {
        return Ok(None);
    }
    let target = &config.target;
    let selected = match &config.proxy {
        ProxyConfig::Direct => return Ok(None),
        ProxyConfig::Url(url) => SelectedProxy {
            url: url.clone(),
            source: ProxySource::Config,
        },
        ProxyConfig::Environment => {
            let names: [&'static str; 4] = if target.secure {
                ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
            } else {
                ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
            };
            let cgi = env("REQUEST_METHOD").is_some();
            let found = names
                .into_iter()
                .filter(|name| !(cgi && *name == "HTTP_PROXY"))
                .find_map(|name| {
                    env(name)
                        .filter(|value| !value.trim().is_empty())
                        .map(|value| (name, value))
                });
            let Some((name, value)) = found else {
                return Ok(None);
            };
            let url = ProxyUrl::parse(&value).map_err(|err| match err {
                Error::InvalidUrl {
                    url,
                    problem: UrlProblem::Proxy { problem, .. },
                    hint,
                } => Error::InvalidUrl {
                    url,
                    problem: UrlProblem::Proxy {
                        problem,
                        variable: Some(name),
                    },
                    hint,
                },
                other => other,
            })?;
            SelectedProxy {
                url,
                source: ProxySource::Environment(name),
            }
        }
    };
    let bypass = match (&config.no_proxy, &config.proxy) {
        (Some(list), _) => list.matches(&target.host, target.port),
        (None, ProxyConfig::Environment) => match NoProxy::from_lookup(env) {
            Some(list) => list.matches(&target.host, target.port),
            None => NoProxy::loopback().matches(&target.host, target.port),
        },
        (None, _) => false,
    };
    Ok((!bypass).then_some(selected))
}

// ---------------------------------------------------------------------------------------------
// Opening the tunnel
// ---------------------------------------------------------------------------------------------

/// True when sockeye, not the proxy, resolves the WebSocket server's host: a `socks4://` or
/// `socks5://` proxy and a name (an IP address is never resolved). That resolution is the
/// connection's DNS stage.
fn resolved_here(proxy: &SelectedProxy, target: &Target) -> bool {
    !proxy.url.scheme.resolves_remotely()
        && matches!(
            Destination::new(&target.host, target.port),
            Destination::Name { .. }
        )
}

/// What the tunnel must lead to (blocking): the name for proxies that resolve it, else an
/// address resolved here with the system's blocking resolver, timed as the DNS stage.
pub(crate) fn destination(
    proxy: &SelectedProxy,
    target: &Target,
    timings: &mut Timings,
) -> Result<Destination, Error> {
    if !resolved_here(proxy, target) {
        return Ok(Destination::new(&target.host, target.port));
    }
    let addrs = timings.time(Stage::Dns, || tcp::resolve(&target.host, target.port))?;
    Ok(pick_address(proxy, &addrs, target.port))
}

/// Of the addresses resolved for the target, the one the proxy is sent: the first, except
/// that SOCKS4 (which has no IPv6) takes the first IPv4 address.
fn pick_address(proxy: &SelectedProxy, addrs: &[SocketAddr], port: u16) -> Destination {
    let pick = if proxy.url.scheme == ProxyScheme::Socks4 {
        addrs.iter().find(|addr| addr.is_ipv4()).or(addrs.first())
    } else {
        addrs.first()
    };
    // The resolvers fail rather than return no address.
    Destination::Addr(
        pick.copied()
            .unwrap_or_else(|| SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port)),
    )
}

fn handshake_for(proxy: &SelectedProxy, destination: Destination) -> Result<ProxyHandshake, Error> {
    ProxyHandshake::new(
        proxy.url.scheme.protocol(),
        destination,
        proxy.url.credentials.clone(),
    )
    .map_err(|reason| refused(proxy, reason))
}

/// [`Error::Proxy`] for what the proxy said.
fn refused(proxy: &SelectedProxy, reason: ProxyError) -> Error {
    Error::Proxy {
        proxy: proxy.to_string(),
        hint: reason.hint(),
        reason: Box::new(reason),
    }
}

/// Turns the errors of connecting to the proxy into proxy-stage errors that name it.
fn unreachable(proxy: &SelectedProxy, err: Error) -> Error {
    match err {
        Error::Dns { source, .. } => Error::ProxyUnreachable {
            proxy: proxy.to_string(),
            failed_at: Stage::Dns,
            source,
        },
        Error::Connect { source, .. } => Error::ProxyUnreachable {
            proxy: proxy.to_string(),
            failed_at: Stage::Tcp,
            source,
        },
        Error::Timeout { after, .. } => Error::Timeout {
            stage: Stage::Proxy,
            after,
        },
        Error::Io { source, .. } => Error::io(Stage::Proxy, source),
        other => other,
    }
}

/// An I/O error while talking to the proxy: the proxy leaving is explained by the handshake
/// (what it had said so far); a time-out is the proxy stage's.
fn io_failure(
    proxy: &SelectedProxy,
    handshake: &mut ProxyHandshake,
    buf: &mut BytesMut,
    err: io::Error,
    limit: Option<Duration>,
) -> Error {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut if handshake.refusal_pending() => {
            refused(proxy, handshake.receive_eof(buf))
        }
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
            stage: Stage::Proxy,
            after: limit.unwrap_or_default(),
        },
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => refused(proxy, handshake.receive_eof(buf)),
        _ => Error::io(Stage::Proxy, err),
    }
}

/// The time left before `deadline`, at least 1 ms (std refuses a zero socket timeout).
fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|deadline| {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    })
}

fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

/// Opens a tunnel to `destination` (from [`destination`]) through `proxy` (blocking): TCP to
/// the proxy, TLS for `https://` proxies, then the proxy's handshake. The stream comes back
/// with no socket timeouts set.
pub(crate) fn tunnel(
    proxy: &SelectedProxy,
    destination: Destination,
    config: &ClientConfig,
) -> Result<Stream, Error> {
    let mut handshake = handshake_for(proxy, destination)?;
    let limit = config.connect_timeout;
    let tcp = tcp::connect(&proxy.url.host, proxy.url.port, limit)
        .map_err(|err| unreachable(proxy, err))?;
    let mut stream = Stream::Tcp(tcp);
    let deadline = limit.map(|limit| Instant::now() + limit);
    if proxy.url.scheme == ProxyScheme::Https {
        stream = tls_to_proxy(stream, proxy, config, deadline)?;
    }
    let mut buf = BytesMut::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        if expired(deadline) {
            return Err(io_failure(
                proxy,
                &mut handshake,
                &mut buf,
                io::ErrorKind::TimedOut.into(),
                limit,
            ));
        }
        let timeouts = stream
            .set_read_timeout(left(deadline))
            .and_then(|()| stream.set_write_timeout(left(deadline)));
        timeouts.map_err(|err| Error::io(Stage::Proxy, err))?;
        let pending = handshake.pending_output().len();
        if pending > 0 {
            let written = stream
                .write_all(handshake.pending_output())
                .and_then(|()| stream.flush());
            if let Err(err) = written {
                return Err(io_failure(proxy, &mut handshake, &mut buf, err, limit));
            }
            handshake.consume_output(pending);
            continue;
        }
        let want = handshake.read_limit(&buf).clamp(1, chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) => return Err(refused(proxy, handshake.receive_eof(&mut buf))),
            Ok(read) => buf.extend_from_slice(&chunk[..read]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(io_failure(proxy, &mut handshake, &mut buf, err, limit)),
        }
        if handshake
            .receive(&mut buf)
            .map_err(|reason| refused(proxy, reason))?
            .is_some()
        {
            break;
        }
    }
    let timeouts = stream
        .set_read_timeout(None)
        .and_then(|()| stream.set_write_timeout(None));
    timeouts.map_err(|err| Error::io(Stage::Proxy, err))?;
    Ok(stream)
}

#[cfg(feature = "tls")]
fn tls_to_proxy(
    stream: Stream,
    proxy: &SelectedProxy,
    config: &ClientConfig,
    deadline: Option<Instant>,
) -> Result<Stream, Error> {
    let timeouts = stream
        .set_read_timeout(left(deadline))
        .and_then(|()| stream.set_write_timeout(left(deadline)));
    timeouts.map_err(|err| Error::io(Stage::Proxy, err))?;
    super::tls::connect_tls(stream, &proxy.url.host, &proxy_tls_options(config))
}

#[cfg(feature = "tls")]
fn proxy_tls_options(config: &ClientConfig) -> super::tls::TlsOptions {
    let mut options = config.tls.clone();
    options.server_name = None;
    options
}

#[cfg(not(feature = "tls"))]
fn tls_to_proxy(
    _stream: Stream,
    proxy: &SelectedProxy,
    _config: &ClientConfig,
    _deadline: Option<Instant>,
) -> Result<Stream, Error> {
    Err(no_tls(proxy))
}

#[cfg(not(feature = "tls"))]
fn no_tls(proxy: &SelectedProxy) -> Error {
    Error::Unsupported(format!(
        "the proxy {proxy} needs TLS, and this build of sockeye has no TLS (it was built without the `tls` feature); it will not talk to it unencrypted (enable the feature, or use an http:// proxy)"
    ))
}

#[cfg(feature = "tokio")]
pub(crate) use self::tokio_tunnel::{destination_async, tunnel_async};

#[cfg(feature = "tokio")]
mod tokio_tunnel {
    use super::*;
    use crate::transport::async_stream::{connect_tcp, resolve, until, AsyncStream};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        if !resolved_here(proxy, target) {
            return Ok(Destination::new(&target.host, target.port));
        }
        let started = Instant::now();
        let resolving = resolve(&target.host, target.port);
        let addrs = until(deadline, config.connect_timeout, Stage::Dns, resolving).await;
        timings.set(Stage::Dns, started.elapsed());
        Ok(pick_address(proxy, &addrs?, target.port))
    }

    /// The tokio twin of [`tunnel`]. The proxy's own name is resolved with tokio's resolver
    /// too, and reaching it must be done by `deadline`.
    pub(crate) async fn tunnel_async(
        proxy: &SelectedProxy,
        destination: Destination,
        config: &ClientConfig,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<AsyncStream, Error> {
        let mut handshake = handshake_for(proxy, destination)?;
        let limit = config.connect_timeout;
        let tcp = until(
            deadline,
            limit,
            Stage::Proxy,
            connect_tcp(&proxy.url.host, proxy.url.port),
        )
        .await
        .map_err(|err| unreachable(proxy, err))?;
        let mut stream = AsyncStream::Tcp(tcp);
        // TLS and the handshake have the limit again: the proxy answers once it has reached
        // the destination, which is a connect, too.
        let deadline = limit.map(|limit| tokio::time::Instant::now() + limit);
        if proxy.url.scheme == ProxyScheme::Https {
            stream = tls_to_proxy_async(stream, proxy, config, deadline).await?;
        }
        let mut buf = BytesMut::with_capacity(512);
        let mut chunk = [0u8; 512];
        let timed_out = || io::Error::from(io::ErrorKind::TimedOut);
        loop {
            let pending = handshake.pending_output().len();
            if pending > 0 {
                let write = async {
                    stream.write_all(handshake.pending_output()).await?;
                    stream.flush().await
                };
                let written = match deadline {
                    Some(deadline) => tokio::time::timeout_at(deadline, write)
                        .await
                        .unwrap_or_else(|_| Err(timed_out())),
                    None => write.await,
                };
                if let Err(err) = written {
                    return Err(io_failure(proxy, &mut handshake, &mut buf, err, limit));
                }
                handshake.consume_output(pending);
                continue;
            }
            let want = handshake.read_limit(&buf).clamp(1, chunk.len());
            let read = stream.read(&mut chunk[..want]);
            let read = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, read)
                    .await
                    .unwrap_or_else(|_| Err(timed_out())),
                None => read.await,
            };
            match read {
                Ok(0) => return Err(refused(proxy, handshake.receive_eof(&mut buf))),
                Ok(read) => buf.extend_from_slice(&chunk[..read]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(io_failure(proxy, &mut handshake, &mut buf, err, limit)),
            }
            if handshake
                .receive(&mut buf)
                .map_err(|reason| refused(proxy, reason))?
                .is_some()
            {
                return Ok(stream);
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
        let options = proxy_tls_options(config);
        let handshake = crate::transport::tls::connect_tls_async(stream, &proxy.url.host, &options);
        match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, handshake)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Timeout {
                        stage: Stage::Proxy,
                        after: config.connect_timeout.unwrap_or_default(),
                    })
                }),
            None => handshake.await,
        }
    }

    #[cfg(not(feature = "tls"))]
    async fn tls_to_proxy_async(
        _stream: AsyncStream,
        proxy: &SelectedProxy,
        _config: &ClientConfig,
        _deadline: Option<tokio::time::Instant>,
    ) -> Result<AsyncStream, Error> {
        Err(no_tls(proxy))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn chosen(
        url: &str,
        config: impl Fn(ClientConfig) -> ClientConfig,
        vars: &[(&str, &str)],
    ) -> Option<String> {
        let config = config(ClientConfig::new(url).unwrap());
        select_with(&config, &env(vars))
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn environment_by_scheme_with_all_proxy_fallback() {
        let vars = [
            ("http_proxy", "http://h:1"),
            ("https_proxy", "socks5h://s:2"),
            ("all_proxy", "socks4://a:3"),
        ];
        let same = |c| c;
        assert_eq!(
            chosen("ws://example.com/", same, &vars).as_deref(),
            Some("http://h:1 (from $http_proxy)")
        );
        assert_eq!(
            chosen("wss://example.com/", same, &vars).as_deref(),
            Some("socks5h://s:2 (from $https_proxy)")
        );
        let vars = [("ALL_PROXY", "socks4://a:3")];
        assert_eq!(
            chosen("wss://example.com/", same, &vars).as_deref(),
            Some("socks4://a:3 (from $ALL_PROXY)")
        );
        let vars = [
            ("HTTP_PROXY", "http://upper:1"),
            ("http_proxy", "http://lower:1"),
        ];
        assert_eq!(
            chosen("ws://example.com/", same, &vars).as_deref(),
            Some("http://lower:1 (from $http_proxy)")
        );
        let vars = [("HTTP_PROXY", "http://upper:1")];
        assert_eq!(
            chosen("ws://example.com/", same, &vars).as_deref(),
            Some("http://upper:1 (from $HTTP_PROXY)")
        );
        // httpoxy: in a CGI program HTTP_PROXY may come from a request header.
        let vars = [("HTTP_PROXY", "http://upper:1"), ("REQUEST_METHOD", "GET")];
        assert_eq!(chosen("ws://example.com/", same, &vars), None);
        // Empty values are unset.
        let vars = [("http_proxy", ""), ("all_proxy", "http://a:1")];
        assert_eq!(
            chosen("ws://example.com/", same, &vars).as_deref(),
            Some("http://a:1 (from $all_proxy)")
        );
        assert_eq!(chosen("ws://example.com/", same, &[]), None);
    }

    #[test]
    fn loopback_skips_environment_proxies_unless_a_list_is_set() {
        let vars = [("http_proxy", "http://h:1")];
        let same = |c| c;
        for url in [
            "ws://localhost:9/",
            "ws://127.0.0.5/",
            "ws://[::1]:9/",
            "ws://a.localhost/",
        ] {
            assert_eq!(chosen(url, same, &vars), None, "{url}");
        }
        let vars = [
            ("http_proxy", "http://h:1"),
            ("no_proxy", "example.invalid"),
        ];
        assert!(chosen("ws://127.0.0.1:9/", same, &vars).is_some());
        // An explicit proxy applies to loopback too, and ignores the environment.
        let explicit = |c: ClientConfig| c.proxy(ProxyConfig::url("socks5://p:1").unwrap());
        let vars = [("no_proxy", "*"), ("all_proxy", "http://env:1")];
        assert_eq!(
            chosen("ws://127.0.0.1/", explicit, &vars).as_deref(),
            Some("socks5://p:1")
        );
        let excluded = |c: ClientConfig| explicit(c).no_proxy(NoProxy::parse("127.0.0.1"));
        assert_eq!(chosen("ws://127.0.0.1/", excluded, &vars), None);
        let direct = |c: ClientConfig| c.proxy(ProxyConfig::Direct);
        assert_eq!(
            chosen("ws://example.com/", direct, &[("all_proxy", "http://a:1")]),
            None
        );
    }

    #[test]
    fn environment_no_proxy_and_config_list() {
        let vars = [("all_proxy", "http://a:1"), ("NO_PROXY", "example.com")];
        let same = |c| c;
        assert_eq!(chosen("ws://ws.example.com/", same, &vars), None);
        assert!(chosen("ws://example.org/", same, &vars).is_some());
        // The config's list replaces the environment's.
        let listed = |c: ClientConfig| c.no_proxy(NoProxy::parse("example.org"));
        assert!(chosen("ws://ws.example.com/", listed, &vars).is_some());
        assert_eq!(chosen("ws://example.org/", listed, &vars), None);
    }

    #[test]
    fn invalid_environment_proxy_names_the_variable() {
        let config = ClientConfig::new("ws://example.com/").unwrap();
        let err = select_with(&config, &env(&[("http_proxy", "gopher://u:secret@x")])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("http_proxy") && !text.contains("secret"),
            "{text}"
        );
    }

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
