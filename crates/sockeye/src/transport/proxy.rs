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

use crate::config::percent_decode;
use crate::config::{ClientConfig, Target};
use crate::error::{Error, Stage};
use crate::timings::Timings;
use crate::transport::{tcp, Stream};

// ---------------------------------------------------------------------------------------------
// Proxy URLs
// ---------------------------------------------------------------------------------------------

/// The scheme of a proxy URL: the protocol spoken to the proxy, and who resolves names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyScheme {
    /// `http://`: HTTP `CONNECT`.
    Http,
    /// `https://`: HTTP `CONNECT` inside TLS to the proxy.
    Https,
    /// `socks4://`: SOCKS4, the host resolved locally (IPv4 only).
    Socks4,
    /// `socks4a://`: SOCKS4a, the host resolved by the proxy.
    Socks4a,
    /// `socks5://`: SOCKS5, the host resolved locally.
    Socks5,
    /// `socks5h://`: SOCKS5, the host resolved by the proxy.
    Socks5h,
}

impl ProxyScheme {
    /// The scheme as written in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Socks4 => "socks4",
            Self::Socks4a => "socks4a",
            Self::Socks5 => "socks5",
            Self::Socks5h => "socks5h",
        }
    }

    /// The handshake spoken with the proxy.
    pub fn protocol(self) -> ProxyProtocol {
        match self {
            Self::Http | Self::Https => ProxyProtocol::HttpConnect,
            Self::Socks4 | Self::Socks4a => ProxyProtocol::Socks4,
            Self::Socks5 | Self::Socks5h => ProxyProtocol::Socks5,
        }
    }

    /// True when the proxy resolves the WebSocket server's host name (sockeye sends the name).
    pub fn resolves_remotely(self) -> bool {
        !matches!(self, Self::Socks4 | Self::Socks5)
    }

    /// The port used when the URL has none (curl's): 443 for `https://`, else 1080.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Https => 443,
            _ => 1080,
        }
    }

    fn parse(scheme: &str) -> Option<Self> {
        Some(match scheme.to_ascii_lowercase().as_str() {
            "http" => Self::Http,
            "https" => Self::Https,
            "socks4" => Self::Socks4,
            "socks4a" => Self::Socks4a,
            "socks5" => Self::Socks5,
            "socks5h" => Self::Socks5h,
            _ => return None,
        })
    }
}

impl fmt::Display for ProxyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed proxy URL. `Display` and `Debug` print it without the password
/// (`user:[redacted]@`).
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ProxyUrl {
    /// The protocol, and who resolves names.
    pub scheme: ProxyScheme,
    /// The proxy's host name or IP address (IPv6 without brackets), lower case.
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// The user name and password from `user:password@`, percent-decoded.
    pub credentials: Option<Credentials>,
}

impl ProxyUrl {
    /// Parses `[scheme://][user[:password]@]host[:port][/]`; see the [module docs](self) for
    /// the schemes and default ports.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |why: String, hint: Option<&'static str>| Error::InvalidUrl {
            url: redact_raw(input),
            why,
            hint,
        };
        const SCHEMES: &str = "http://, https://, socks4://, socks4a://, socks5:// or socks5h://";
        let trimmed = input.trim();
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((scheme, rest)) => {
                let parsed = ProxyScheme::parse(scheme).ok_or_else(|| {
                    invalid(
                        format!("unsupported proxy scheme {scheme:?}"),
                        Some(SCHEMES),
                    )
                })?;
                (parsed, rest)
            }
            None => (ProxyScheme::Http, trimmed),
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if !path.is_empty() && path != "/" {
            // Named, not quoted: a query may hold a token, and the URL is shown redacted.
            let what = match path.as_bytes()[0] {
                b'?' => "a query",
                b'#' => "a fragment",
                _ => "a path",
            };
            return Err(invalid(
                format!("a proxy URL has no path, query or fragment, but this one has {what}"),
                Some("scheme://[user:password@]host:port"),
            ));
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let credentials = userinfo.map(|userinfo| {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            Credentials::new(percent_decode(user), percent_decode(password))
        });
        if matches!(&credentials, Some(c) if c.username.is_empty() && c.password.is_empty()) {
            return Err(invalid(
                "the proxy URL has an '@' but no user name".into(),
                Some("user:password@host:port, or no '@' at all"),
            ));
        }
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (ip, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 address without its closing ']'".into(), None))?;
            if ip.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid(format!("{ip:?} is not an IPv6 address"), None));
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| {
                    invalid(format!("unexpected {after:?} after the IPv6 address"), None)
                })?),
            };
            (ip.to_ascii_lowercase(), port)
        } else {
            match host_port.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(invalid(
                        "an IPv6 address must be in brackets".into(),
                        Some("socks5://[::1]:1080"),
                    ))
                }
                Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
                None => (host_port.to_ascii_lowercase(), None),
            }
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
        if !host_ok {
            return Err(invalid(
                format!("{host:?} is not a proxy host name or IP address"),
                Some("scheme://[user:password@]host:port"),
            ));
        }
        let port = match port {
            None => scheme.default_port(),
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port != 0 => port,
                _ => {
                    return Err(invalid(
                        format!("{text:?} is not a port number (1 to 65535)"),
                        None,
                    ))
                }
            },
        };
        Ok(Self {
            scheme,
            host,
            port,
            credentials,
        })
    }

    /// `host:port`, IPv6 in brackets.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(credentials) = &self.credentials {
            f.write_str(&encode_userinfo(&credentials.username))?;
            if !credentials.password.is_empty() {
                f.write_str(":[redacted]")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.authority())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

impl std::str::FromStr for ProxyUrl {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        Self::parse(input)
    }
}

/// Percent-encodes what would change the meaning of a user name in a URL.
fn encode_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' | '@' | ':' | '/' | '?' | '#' | '[' | ']' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            c if c.is_control() || c == ' ' => {
                let mut bytes = [0; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// A proxy URL as given, with anything between `://` and the last `@` of the authority hidden.
fn redact_raw(input: &str) -> String {
    let (prefix, rest) = match input.find("://") {
        Some(at) => input.split_at(at + 3),
        None => ("", input),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{prefix}[redacted]{}", &rest[at..]),
        None => input.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Which proxy applies
// ---------------------------------------------------------------------------------------------

/// Which proxy a client connection uses. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyConfig {
    /// The proxy named by `http_proxy` (`ws://`), `https_proxy` (`wss://`) or `all_proxy`, except
    /// for hosts in `no_proxy`. The default.
    #[default]
    Environment,
    /// Always connect directly; the environment is ignored.
    Direct,
    /// Always this proxy, except for hosts in [`ClientConfig::no_proxy`](crate::ClientConfig::no_proxy);
    /// the environment is ignored.
    Url(ProxyUrl),
}

impl ProxyConfig {
    /// [`ProxyConfig::Url`] from a proxy URL.
    pub fn url(input: &str) -> Result<Self, Error> {
        ProxyUrl::parse(input).map(Self::Url)
    }
}

/// One entry of a [`NoProxy`] list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NoProxyEntry {
    /// `*`: every host.
    All,
    /// A host name: itself and its subdomains.
    Domain { name: String, port: Option<u16> },
    /// An IP address or a CIDR block.
    Network {
        addr: IpAddr,
        prefix: u8,
        port: Option<u16>,
    },
}

/// Hosts that never go through a proxy, with curl's `no_proxy` syntax.
///
/// Entries are separated by commas or spaces; each is one of:
///
/// - `*`: every host;
/// - a host name, with or without a leading dot: `example.com` and `.example.com` both match
///   `example.com` and `ws.example.com`, never `badexample.com`;
/// - an IP address (`192.0.2.7`, `::1`, `[::1]`) or a CIDR block (`10.0.0.0/8`, `fd00::/8`),
///   matching URLs whose host is an IP address in it (names are not resolved for this);
/// - any of the above but `*` with `:port` (`example.com:8080`, `[::1]:9001`): only that port.
///
/// Comparisons ignore case and a trailing dot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<NoProxyEntry>,
}

impl NoProxy {
    /// Parses a list. Entries that are neither addresses nor CIDR blocks are host names, so
    /// parsing never fails; an empty list matches nothing.
    pub fn parse(list: &str) -> Self {
        let entries = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_no_proxy_entry)
            .collect();
        Self { entries }
    }

    /// The list in `no_proxy` (or `NO_PROXY`) when set and not empty.
    pub fn from_environment() -> Option<Self> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        ["no_proxy", "NO_PROXY"]
            .iter()
            .find_map(|name| env(name).filter(|value| !value.trim().is_empty()))
            .map(|value| Self::parse(&value))
    }

    /// The hosts that skip environment proxies when no list is configured: `localhost` (and its
    /// subdomains), `127.0.0.0/8` and `::1`.
    pub fn loopback() -> Self {
        Self::parse("localhost, 127.0.0.0/8, ::1")
    }

    /// True when the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when `host` (a name or an IP address; IPv6 with or without brackets) on `port`
    /// must not go through a proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        let port_ok = |wanted: &Option<u16>| wanted.is_none_or(|wanted| wanted == port);
        self.entries.iter().any(|entry| match entry {
            NoProxyEntry::All => true,
            NoProxyEntry::Domain { name, port: wanted } => {
                port_ok(wanted)
                    && ip.is_none()
                    && (host == *name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|rest| rest.ends_with('.')))
            }
            NoProxyEntry::Network {
                addr,
                prefix,
                port: wanted,
            } => port_ok(wanted) && ip.is_some_and(|ip| in_network(ip, *addr, *prefix)),
        })
    }
}

fn parse_no_proxy_entry(entry: &str) -> NoProxyEntry {
    if entry == "*" {
        return NoProxyEntry::All;
    }
    // Split off a port: `[v6]:port`, `name:port`, `v4:port`, `cidr:port` (never a bare IPv6).
    let (body, port) = if let Some(bracketed) = entry.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((inside, after)) => (
                inside.to_string(),
                after.strip_prefix(':').and_then(|p| p.parse().ok()),
            ),
            None => (entry.to_string(), None),
        }
    } else {
        match entry.rsplit_once(':') {
            Some((before, port)) if !before.contains(':') && port.parse::<u16>().is_ok() => {
                (before.to_string(), port.parse().ok())
            }
            _ => (entry.to_string(), None),
        }
    };
    let body = body.trim_end_matches('.').to_ascii_lowercase();
    let (addr_text, prefix_text) = match body.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (body.as_str(), None),
    };
    if let Ok(addr) = addr_text.parse::<IpAddr>() {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text.map(str::parse::<u8>) {
            None => Some(max),
            Some(Ok(prefix)) if prefix <= max => Some(prefix),
            Some(_) => None,
        };
        if let Some(prefix) = prefix {
            return NoProxyEntry::Network { addr, prefix, port };
        }
    }
    NoProxyEntry::Domain {
        name: body.trim_start_matches('.').to_string(),
        port,
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let ip = match (ip, network) {
        // An IPv4-mapped IPv6 address matches IPv4 entries.
        (IpAddr::V6(v6), IpAddr::V4(_)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

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
                Error::InvalidUrl { url, why, hint } => Error::InvalidUrl {
                    url,
                    why: format!("{why} (in the environment variable {name})"),
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
        Error::Dns { source, .. } | Error::Connect { source, .. } => Error::ProxyUnreachable {
            proxy: proxy.to_string(),
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

    #[test]
    fn parses_every_scheme_with_curl_default_ports() {
        let cases = [
            ("http://proxy.example", ProxyScheme::Http, 1080),
            ("https://proxy.example", ProxyScheme::Https, 443),
            ("socks4://proxy.example", ProxyScheme::Socks4, 1080),
            ("SOCKS4A://proxy.example:9050", ProxyScheme::Socks4a, 9050),
            ("socks5://proxy.example/", ProxyScheme::Socks5, 1080),
            ("socks5h://Proxy.Example:1", ProxyScheme::Socks5h, 1),
            ("proxy.example:3128", ProxyScheme::Http, 3128),
        ];
        for (input, scheme, port) in cases {
            let url = ProxyUrl::parse(input).unwrap();
            assert_eq!(
                (url.scheme, url.host.as_str(), url.port),
                (scheme, "proxy.example", port)
            );
            assert_eq!(url.credentials, None);
        }
        let url = ProxyUrl::parse("socks5://[::1]:1080").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 1080));
        assert_eq!(url.to_string(), "socks5://[::1]:1080");
    }

    #[test]
    fn credentials_are_decoded_and_never_printed() {
        let url = ProxyUrl::parse("http://us%40er:p%3Ass@word@127.0.0.1:8080").unwrap();
        let credentials = url.credentials.clone().unwrap();
        assert_eq!(credentials.username, "us@er");
        assert_eq!(credentials.password, "p:ss@word");
        assert_eq!(url.to_string(), "http://us%40er:[redacted]@127.0.0.1:8080");
        assert!(!format!("{url:?}").contains("word"));
        let url = ProxyUrl::parse("socks4://alice@127.0.0.1").unwrap();
        assert_eq!(url.to_string(), "socks4://alice@127.0.0.1:1080");
    }

    #[test]
    fn bad_proxy_urls_are_refused_without_showing_passwords() {
        for input in [
            "ftp://proxy:21",
            "socks://proxy",
            "http://proxy:0",
            "http://proxy:99999",
            "http://proxy/path",
            "http://::1:8080",
            "http://[::1",
            "http://",
            "http://@proxy",
            "http://us:secret@proxy:x",
            "http://proxy/p?token=secret",
            "http://proxy?token=secret",
            "http://proxy/#access_token=secret",
        ] {
            let err = ProxyUrl::parse(input).unwrap_err();
            assert_eq!(err.stage(), Stage::Url, "{input}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

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
    fn no_proxy_matching() {
        let list = NoProxy::parse(
            "Example.COM, .suffix.test,bare.test  10.0.0.0/8,192.0.2.7 [::1],fd00::/8 ports.test:8080,[2001:db8::1]:443,172.16.9.9:81",
        );
        let yes = [
            ("example.com", 80),
            ("EXAMPLE.com.", 80),
            ("ws.example.com", 1),
            ("suffix.test", 1),
            ("a.b.suffix.test", 1),
            ("bare.test", 1),
            ("x.bare.test", 1),
            ("10.1.2.3", 1),
            ("192.0.2.7", 1),
            ("::1", 1),
            ("[::1]", 1),
            ("fd12::5", 1),
            ("::ffff:10.0.0.1", 1),
            ("ports.test", 8080),
            ("a.ports.test", 8080),
            ("2001:db8::1", 443),
            ("172.16.9.9", 81),
        ];
        for (host, port) in yes {
            assert!(list.matches(host, port), "{host}:{port} should match");
        }
        let no = [
            ("badexample.com", 80),
            ("example.com.evil", 80),
            ("xsuffix.test", 1),
            ("11.0.0.1", 1),
            ("192.0.2.8", 1),
            ("::2", 1),
            ("fe80::1", 1),
            ("ports.test", 8081),
            ("2001:db8::1", 80),
            ("172.16.9.9", 80),
            // Names are not resolved for IP entries, and IPs do not match names.
            ("localhost", 1),
        ];
        for (host, port) in no {
            assert!(!list.matches(host, port), "{host}:{port} should not match");
        }
        assert!(NoProxy::parse("*").matches("anything", 1));
        assert!(NoProxy::parse("a.test, *").matches("anything", 1));
        assert!(!NoProxy::parse("").matches("anything", 1));
        assert!(NoProxy::parse("").is_empty());
        assert!(NoProxy::parse("0.0.0.0/0").matches("203.0.113.9", 1));
        assert!(NoProxy::parse("::/0").matches("2001:db8::9", 1));
        assert!(!NoProxy::parse("::/0").matches("203.0.113.9", 1));
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

    #[test]
    fn redaction_of_raw_urls() {
        assert_eq!(
            redact_raw("http://u:p@h:1/x@y"),
            "http://[redacted]@h:1/x@y"
        );
        assert_eq!(redact_raw("u:p@h"), "[redacted]@h");
        assert_eq!(redact_raw("http://h:1"), "http://h:1");
    }
}
