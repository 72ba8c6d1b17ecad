//! Client and server options, shared by every front-end.

use std::path::PathBuf;
use std::time::Duration;

use sockeye_proto::handshake::{ClientRequest, DEFAULT_MAX_HEADER_BYTES};
use url::Url;

use crate::error::Error;

/// Where a WebSocket URL points: parsed and checked once, used by every front-end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL as parsed.
    pub url: Url,
    /// `wss://`.
    pub secure: bool,
    /// The host name or IP address (IPv6 without brackets).
    pub host: String,
    /// The port, defaulting to 80 for `ws://` and 443 for `wss://`.
    pub port: u16,
    /// The request target: path and query, starting with `/`.
    pub resource: String,
    /// The `Host` header value: the host, with the port when it is not the default.
    pub host_header: String,
}

impl Target {
    /// Parses and checks a `ws://` or `wss://` URL.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |why: String, hint: Option<&'static str>| Error::InvalidUrl {
            url: input.to_string(),
            why,
            hint,
        };
        let url = Url::parse(input).map_err(|err| {
            let hint = (!input.contains("://")).then_some("a full URL such as ws://host:port/path");
            invalid(err.to_string(), hint)
        })?;
        let secure = match url.scheme() {
            "ws" => false,
            "wss" => true,
            "http" => {
                return Err(invalid(
                    "http:// is not a WebSocket scheme".into(),
                    Some("ws:// for the same server"),
                ))
            }
            "https" => {
                return Err(invalid(
                    "https:// is not a WebSocket scheme".into(),
                    Some("wss:// for the same server"),
                ))
            }
            other => {
                return Err(invalid(
                    format!("unsupported scheme {other:?}"),
                    Some("ws:// or wss://"),
                ))
            }
        };
        if url.fragment().is_some() {
            return Err(invalid(
                "WebSocket URLs must not have a #fragment (RFC 6455 section 3)".into(),
                Some("removing the part after #"),
            ));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(addr)) => addr.to_string(),
            Some(host) => host.to_string(),
            None => return Err(invalid("the URL has no host".into(), None)),
        };
        let default_port = if secure { 443 } else { 80 };
        let port = url.port().unwrap_or(default_port);
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let host_header = if port == default_port {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        let mut resource = url.path().to_string();
        if resource.is_empty() {
            resource.push('/');
        }
        if let Some(query) = url.query() {
            resource.push('?');
            resource.push_str(query);
        }
        Ok(Self {
            secure,
            host,
            port,
            resource,
            host_header,
            url,
        })
    }
}

/// Everything a client connection can be told. Build with [`ClientConfig::new`] and the setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Where to connect.
    pub target: Target,
    /// The `Origin` header. Default: none (browsers send one; servers that check it need it).
    pub origin: Option<String>,
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extension offers, each a full `Sec-WebSocket-Extensions` element.
    pub extensions: Vec<String>,
    /// Extra request headers, in order; repeats are kept.
    pub headers: Vec<(String, String)>,
    /// Limit for establishing TCP. Default: 10 s.
    pub connect_timeout: Option<Duration>,
    /// Limit for the opening handshake, from the request sent to the response received.
    /// Default: 10 s.
    pub handshake_timeout: Option<Duration>,
    /// Limit for each read once the connection is open (blocking front-end). Default: none.
    pub read_timeout: Option<Duration>,
    /// Limit for each write once the connection is open (blocking front-end). Default: none.
    pub write_timeout: Option<Duration>,
    /// Connect to this Unix domain socket instead of the URL's host and port; the URL still
    /// gives the `Host` header and the path. Default: none.
    pub unix_socket: Option<PathBuf>,
    /// Largest response head accepted. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Limits and switches of the connection once open.
    pub protocol: sockeye_proto::Config,
}

impl ClientConfig {
    /// Options for `url` with every default.
    pub fn new(url: &str) -> Result<Self, Error> {
        Ok(Self {
            target: Target::parse(url)?,
            origin: None,
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
            connect_timeout: Some(Duration::from_secs(10)),
            handshake_timeout: Some(Duration::from_secs(10)),
            read_timeout: None,
            write_timeout: None,
            unix_socket: None,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            protocol: sockeye_proto::Config::default(),
        })
    }

    /// Sets the `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers a subprotocol (repeatable).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Adds a request header (repeatable; order kept).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the TCP connect timeout (`None`: wait as long as the OS does).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the opening-handshake timeout (`None`: no limit).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Connects through the Unix domain socket at `path` instead of TCP.
    pub fn unix_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.unix_socket = Some(path.into());
        self
    }

    /// Sets the per-read and per-write limits once the connection is open.
    pub fn io_timeouts(mut self, read: Option<Duration>, write: Option<Duration>) -> Self {
        self.read_timeout = read;
        self.write_timeout = write;
        self
    }

    /// Replaces the connection's limits and switches.
    pub fn protocol(mut self, protocol: sockeye_proto::Config) -> Self {
        self.protocol = protocol;
        self
    }

    /// The handshake request these options describe.
    pub fn request(&self) -> ClientRequest {
        let mut request = ClientRequest::new(&self.target.host_header, &self.target.resource);
        request.origin = self.origin.clone();
        request.subprotocols = self.subprotocols.clone();
        request.extensions = self.extensions.clone();
        request.headers = self.headers.clone();
        request.max_header_bytes = self.max_header_bytes;
        request
    }
}

/// Options of a server connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Largest request head accepted. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Limit for receiving the request. Default 10 s (applied where the stream supports timeouts).
    pub handshake_timeout: Option<Duration>,
    /// Limits and switches of the connection once open.
    pub protocol: sockeye_proto::Config,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            handshake_timeout: Some(Duration::from_secs(10)),
            protocol: sockeye_proto::Config::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ws_urls() {
        let t = Target::parse("ws://example.com/chat?x=1").unwrap();
        assert_eq!(
            (t.secure, t.host.as_str(), t.port, t.resource.as_str()),
            (false, "example.com", 80, "/chat?x=1")
        );
        assert_eq!(t.host_header, "example.com");
        let t = Target::parse("wss://[::1]:8443").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8443));
        assert_eq!(t.host_header, "[::1]:8443");
        assert_eq!(t.resource, "/");
        let t = Target::parse("ws://127.0.0.1:80/").unwrap();
        assert_eq!(t.host_header, "127.0.0.1");
    }

    #[test]
    fn http_schemes_suggest_ws() {
        let err = Target::parse("http://example.com/").unwrap_err();
        assert!(err.to_string().contains("try ws://"), "{err}");
        let err = Target::parse("https://example.com/").unwrap_err();
        assert!(err.to_string().contains("try wss://"), "{err}");
        assert!(Target::parse("example.com:80").is_err());
        assert!(Target::parse("ws://example.com/#frag").is_err());
        assert!(Target::parse("ws://example.com:99999/").is_err());
    }
}
