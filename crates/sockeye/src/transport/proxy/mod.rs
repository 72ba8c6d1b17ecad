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
//! [`choose_route`] applies these rules, in one place, for both front-ends: the dial calls it
//! once per attempt and notes the [`Route`] it took (which proxy and from which variable, or
//! direct and which `no_proxy` list made it go around a proxy) in the connection's
//! `ConnectReport`, which diagnosis and `sockeye probe` read.
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
//! [`Route`]: crate::route::Route
//! [`Stage::Proxy`]: crate::Stage::Proxy
//! [`Error::ProxyUnreachable`]: crate::Error::ProxyUnreachable
//! [`Error::Timeout`]: crate::Error::Timeout
//! [`Error::Proxy`]: crate::Error::Proxy

pub use sockeye_proto::proxy::{
    Credentials, Destination, ProxyError, ProxyHandshake, ProxyProtocol, Tunnel,
};

pub use crate::options::proxy::{NoProxy, ProxyConfig, ProxyScheme, ProxyUrl};
pub use crate::route::{Bypass, NoProxySource, ProxySource, SelectedProxy};

mod dial;
mod select;
mod step;

pub(crate) use dial::{destination, tunnel};
#[cfg(feature = "tokio")]
pub(crate) use dial::{destination_async, tunnel_async};
pub use select::{choose_route, choose_route_with, select, select_with};
