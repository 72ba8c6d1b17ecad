//! Proxy options: proxy URLs ([`ProxyUrl`]), which proxy a connection uses ([`ProxyConfig`]) and
//! the hosts that go direct ([`NoProxy`]). Plain data and its parsing; choosing the proxy for a
//! connection and opening the tunnel are in `transport::proxy`, which re-exports these types.

use std::fmt;
use std::net::IpAddr;

use sockeye_proto::proxy::{Credentials, ProxyProtocol};

use super::percent_decode;
use crate::error::{Error, ProxyUrlProblem, UrlProblem};

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
    /// Parses `[scheme://][user[:password]@]host[:port][/]`; see the `transport::proxy`
    /// module docs for the schemes and default ports.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |problem: ProxyUrlProblem, hint: Option<&'static str>| Error::InvalidUrl {
            url: redact_raw(input),
            problem: UrlProblem::Proxy {
                problem,
                variable: None,
            },
            hint,
        };
        const SCHEMES: &str = "http://, https://, socks4://, socks4a://, socks5:// or socks5h://";
        let trimmed = input.trim();
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((scheme, rest)) => {
                let parsed = ProxyScheme::parse(scheme).ok_or_else(|| {
                    invalid(
                        ProxyUrlProblem::UnsupportedScheme(scheme.to_string()),
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
                b'?' => ProxyUrlProblem::HasQuery,
                b'#' => ProxyUrlProblem::HasFragment,
                _ => ProxyUrlProblem::HasPath,
            };
            return Err(invalid(what, Some("scheme://[user:password@]host:port")));
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
                ProxyUrlProblem::NoUserName,
                Some("user:password@host:port, or no '@' at all"),
            ));
        }
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (ip, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid(ProxyUrlProblem::Ipv6Unclosed, None))?;
            if ip.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid(ProxyUrlProblem::NotIpv6(ip.to_string()), None));
            }
            let port =
                match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':').ok_or_else(|| {
                        invalid(ProxyUrlProblem::AfterIpv6(after.to_string()), None)
                    })?),
                };
            (ip.to_ascii_lowercase(), port)
        } else {
            match host_port.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(invalid(
                        ProxyUrlProblem::Ipv6NotBracketed,
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
                ProxyUrlProblem::BadHost(host.clone()),
                Some("scheme://[user:password@]host:port"),
            ));
        }
        let port = match port {
            None => scheme.default_port(),
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port != 0 => port,
                _ => return Err(invalid(ProxyUrlProblem::BadPort(text.to_string()), None)),
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

/// Which proxy a client connection uses. See the `transport::proxy` module docs.
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
        Self::from_lookup_named(&|name| std::env::var(name).ok()).map(|(_, list)| list)
    }

    /// The list of `no_proxy` (else `NO_PROXY`) in `env`, with the name of the variable that
    /// was set; an empty value counts as unset.
    pub(crate) fn from_lookup_named(
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<(&'static str, Self)> {
        ["no_proxy", "NO_PROXY"].into_iter().find_map(|name| {
            env(name)
                .filter(|value| !value.trim().is_empty())
                .map(|value| (name, Self::parse(&value)))
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Stage;

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
    fn redaction_of_raw_urls() {
        assert_eq!(
            redact_raw("http://u:p@h:1/x@y"),
            "http://[redacted]@h:1/x@y"
        );
        assert_eq!(redact_raw("u:p@h"), "[redacted]@h");
        assert_eq!(redact_raw("http://h:1"), "http://h:1");
    }
}
