//! The route a client connection takes, as a record: direct TCP, a Unix socket, or a proxy,
//! which one and where that choice came from. Vocabulary below the code that decides it
//! (`transport::proxy`, one function for both front-ends), the code that dials it
//! (`transport`) and the code that reads it (`diagnose`, the CLI); re-exported at
//! `sockeye::transport`.

use std::fmt;
use std::path::PathBuf;

use crate::options::proxy::ProxyUrl;

/// The route of a client connection, decided once before it is dialed
/// (`transport::choose_route`, for both front-ends). The dial notes the route it took in the
/// connection's `ConnectReport`, where diagnosis reads it.
///
/// `Display`: `direct`, `unix socket /run/app.sock`, or `proxy http://proxy:3128 (from
/// $http_proxy)`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// TCP straight to the WebSocket server (DNS, then connect).
    Direct {
        /// The proxy that would have applied, had `no_proxy` not excluded the host.
        bypassed: Option<Bypass>,
    },
    /// The Unix domain socket at this path (a `ws+unix://` URL or
    /// `ClientConfig::unix_socket`); never through a proxy.
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
    /// Through this proxy.
    Proxy(SelectedProxy),
}

impl Route {
    /// The proxy the route goes through, if any.
    pub fn proxy(&self) -> Option<&SelectedProxy> {
        match self {
            Self::Proxy(proxy) => Some(proxy),
            Self::Direct { .. } | Self::Unix { .. } => None,
        }
    }

    /// The proxy the route goes through, if any.
    pub fn into_proxy(self) -> Option<SelectedProxy> {
        match self {
            Self::Proxy(proxy) => Some(proxy),
            Self::Direct { .. } | Self::Unix { .. } => None,
        }
    }

    /// The proxy that `no_proxy` made a direct route go around, if any.
    pub fn bypassed(&self) -> Option<&Bypass> {
        match self {
            Self::Direct { bypassed } => bypassed.as_ref(),
            Self::Unix { .. } | Self::Proxy(_) => None,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct { .. } => f.write_str("direct"),
            Self::Unix { path } => write!(f, "unix socket {}", path.display()),
            Self::Proxy(proxy) => write!(f, "proxy {proxy}"),
        }
    }
}

/// Where the chosen proxy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxySource {
    /// [`ProxyConfig::Url`](crate::options::proxy::ProxyConfig::Url).
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

/// A proxy that a connection went around because `no_proxy` excluded its host.
///
/// `Display`: `http://proxy:3128 (from $http_proxy), excluded by $no_proxy`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bypass {
    /// The proxy that would have applied.
    pub proxy: SelectedProxy,
    /// The list that excluded the host.
    pub by: NoProxySource,
}

impl fmt::Display for Bypass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, excluded by {}", self.proxy, self.by)
    }
}

/// Which `no_proxy` list excluded a host.
///
/// `Display`: `ClientConfig::no_proxy`, `$NO_PROXY`, or `the loopback default (no no_proxy
/// list set)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoProxySource {
    /// `ClientConfig::no_proxy`.
    Config,
    /// This environment variable (`no_proxy` or `NO_PROXY`).
    Environment(&'static str),
    /// No `no_proxy` list is set, and loopback hosts skip environment proxies.
    Loopback,
}

impl fmt::Display for NoProxySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config => f.write_str("ClientConfig::no_proxy"),
            Self::Environment(name) => write!(f, "${name}"),
            Self::Loopback => f.write_str("the loopback default (no no_proxy list set)"),
        }
    }
}
