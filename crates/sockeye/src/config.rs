//! Client and server options, shared by every front-end.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use sockeye_proto::connection::keepalive::KeepaliveConfig;
use sockeye_proto::extensions::deflate::{self, DeflateConfig, PerMessageDeflate};
use sockeye_proto::extensions::ExtensionOffer;
use sockeye_proto::handshake::{ClientHandshake, ClientRequest, DEFAULT_MAX_HEADER_BYTES};
use sockeye_proto::{Connection, Role};
use url::Url;

use crate::error::{Error, UrlProblem};
use crate::mask_keys::MaskKeys;
use crate::options::percent_decode;
use crate::options::proxy::{NoProxy, ProxyConfig};
use crate::options::tls::TlsOptions;

/// Where a WebSocket URL points: parsed and checked once, used by every front-end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL as parsed. [`ClientConfig::new`] moves `user:password@` out of it, into
    /// [`ClientConfig::authorization`].
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
    /// For `ws+unix://` URLs: the Unix domain socket to connect to (see [`Target::parse`]).
    pub unix_socket: Option<PathBuf>,
}

impl Target {
    /// Parses and checks a `ws://`, `wss://` or `ws+unix://` URL.
    ///
    /// `ws+unix://` URLs name a Unix domain socket, with the convention of Node's `ws`: the
    /// socket path, then optionally `:` and the request target.
    ///
    /// - `ws+unix:///run/app.sock` connects to `/run/app.sock` and asks for `/`;
    /// - `ws+unix:///run/app.sock:/chat?room=1` asks for `/chat?room=1`;
    /// - `ws+unix://api.local/run/app.sock:/chat` also sends `Host: api.local` (default
    ///   `Host: localhost`, as curl sends with `--unix-socket`).
    ///
    /// Percent-escapes in the socket path are decoded (`%20` for a space, `%3A` for a colon).
    /// The explicit option [`ClientConfig::unix_socket`] does the same with any `ws://` URL.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |problem: UrlProblem, hint: Option<&'static str>| Error::InvalidUrl {
            url: input.to_string(),
            problem,
            hint,
        };
        let url = Url::parse(input).map_err(|err| {
            let hint = (!input.contains("://")).then_some("a full URL such as ws://host:port/path");
            invalid(UrlProblem::Unparsable(err), hint)
        })?;
        let secure = match url.scheme() {
            "ws" => false,
            "wss" => true,
            "ws+unix" => return Self::parse_unix(input, url),
            "http" => {
                return Err(invalid(
                    UrlProblem::HttpScheme,
                    Some("ws:// for the same server"),
                ))
            }
            "https" => {
                return Err(invalid(
                    UrlProblem::HttpsScheme,
                    Some("wss:// for the same server"),
                ))
            }
            other => {
                return Err(invalid(
                    UrlProblem::UnsupportedScheme(other.to_string()),
                    Some("ws://, wss:// or ws+unix://"),
                ))
            }
        };
        if url.fragment().is_some() {
            return Err(invalid(
                UrlProblem::Fragment,
                Some("removing the part after #"),
            ));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(addr)) => addr.to_string(),
            Some(host) => host.to_string(),
            None => return Err(invalid(UrlProblem::NoHost, None)),
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
            unix_socket: None,
        })
    }

    /// `ws+unix://[host]/socket/path[:/request/target]`, see [`Target::parse`].
    fn parse_unix(input: &str, url: Url) -> Result<Self, Error> {
        let invalid = |problem: UrlProblem, hint: Option<&'static str>| Error::InvalidUrl {
            url: input.to_string(),
            problem,
            hint,
        };
        if url.fragment().is_some() {
            return Err(invalid(
                UrlProblem::Fragment,
                Some("removing the part after #"),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
            return Err(invalid(
                UrlProblem::UnixSocketExtras,
                Some("ws+unix:///path/to/socket:/path?query"),
            ));
        }
        let (socket, path) = match url.path().split_once(':') {
            Some((socket, path)) => (socket, path),
            None => (url.path(), "/"),
        };
        let socket = percent_decode(socket);
        if !socket.starts_with('/') || socket.len() < 2 {
            return Err(invalid(
                UrlProblem::UnixSocketPathNotAbsolute,
                Some("ws+unix:///path/to/socket:/path?query"),
            ));
        }
        if !path.starts_with('/') {
            return Err(invalid(
                UrlProblem::UnixTargetNotAbsolute,
                Some("ws+unix:///path/to/socket:/path?query"),
            ));
        }
        let mut resource = path.to_string();
        if let Some(query) = url.query() {
            resource.push('?');
            resource.push_str(query);
        }
        let host = url.host_str().unwrap_or("localhost").to_string();
        Ok(Self {
            secure: false,
            port: 80,
            resource,
            host_header: host.clone(),
            host,
            unix_socket: Some(PathBuf::from(socket)),
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
    /// Fail with [`Error::SubprotocolNotSelected`] when subprotocols were offered and the server
    /// selected none (as browsers do). Default: off, as RFC 6455 allows a server to select none.
    pub require_subprotocol: bool,
    /// Extension offers, each a full `Sec-WebSocket-Extensions` element.
    pub extensions: Vec<String>,
    /// Extra request headers, in order; repeats are kept. A `Host`, `Origin`, `User-Agent`,
    /// `Cookie` or `Authorization` header given here replaces the one the other options would
    /// send (as curl's `-H` does).
    pub headers: Vec<(String, String)>,
    /// Replaces the `Host` header, which otherwise comes from the URL (the host, with `:port`
    /// when the port is not the default). The connection still goes to the URL's host.
    /// Default: none.
    pub host_header: Option<String>,
    /// The `Cookie` header, sent as given (`name=value; other=value`). Default: none.
    pub cookie: Option<String>,
    /// The `Authorization` header. Default: `Basic` credentials when the URL has
    /// `user:password@` (they are removed from the URL, so neither `Host`, the request target
    /// nor error messages show them), else none. See [`basic_auth`](Self::basic_auth) and
    /// [`bearer_token`](Self::bearer_token).
    pub authorization: Option<String>,
    /// The `User-Agent` header. Default: [`DEFAULT_USER_AGENT`], `sockeye/<version>`; `None`
    /// sends none.
    pub user_agent: Option<String>,
    /// Limit for reaching the server: resolving its name and opening the TCP connection (or
    /// reaching the proxy). Default: 10 s; `None`: wait as long as the operating system does.
    ///
    /// - tokio: resolving (off the runtime thread) and connecting count against this one
    ///   limit together, for all the name's addresses; running out is [`Error::Timeout`] at
    ///   [`Stage::Dns`](crate::Stage::Dns) or [`Stage::Tcp`](crate::Stage::Tcp), whichever
    ///   was running.
    /// - blocking: resolving is not included (the system resolver, `getaddrinfo`, has its own
    ///   time-outs: `/etc/resolv.conf`'s `timeout` and `attempts`); the limit applies to each
    ///   of the name's addresses in turn, so a name with two silent addresses takes twice as
    ///   long.
    /// - through a proxy: the same for resolving and reaching the proxy (and, for `socks4://`
    ///   and `socks5://`, resolving the server's name, counted in with the proxy's connection
    ///   in tokio); then the proxy's handshake gets this limit again, as a proxy answers only
    ///   once it has reached the server.
    pub connect_timeout: Option<Duration>,
    /// Limit for the opening handshake, from the request sent to the response received.
    /// Default: 10 s.
    pub handshake_timeout: Option<Duration>,
    /// Limit for each read once the connection is open (blocking front-end): a read that waits
    /// longer fails with [`Error::Timeout`] at [`Stage::Open`](crate::Stage::Open), and the
    /// connection stays usable. Default: none. The tokio front-end has no per-operation limits:
    /// wrap the call in `tokio::time::timeout`, which is cancel-safe for reads.
    pub read_timeout: Option<Duration>,
    /// Limit for each write once the connection is open (blocking front-end), reported like
    /// [`read_timeout`](Self::read_timeout); what was not written stays queued. Default: none.
    pub write_timeout: Option<Duration>,
    /// `TCP_NODELAY` on the TCP connection (to the server, or to the proxy): small frames go
    /// out at once instead of waiting for more (Nagle's algorithm off). Default: true.
    pub tcp_nodelay: bool,
    /// `SO_KEEPALIVE` on the TCP connection: the operating system probes a quiet connection at
    /// its own intervals and drops it once the peer is gone. Default: false (WebSocket pings,
    /// [`KeepaliveConfig`], do this at the protocol's level).
    pub tcp_keepalive: bool,
    /// Bind the TCP socket to this local address (the port chosen by the system) before
    /// connecting: the source address, and so the interface, the connection leaves from. Only
    /// addresses of the same family (IPv4 or IPv6) as this one are tried. Default: none.
    pub local_address: Option<IpAddr>,
    /// Connect to this Unix domain socket instead of the URL's host and port; the URL still
    /// gives the `Host` header and the path. Default: the socket of a `ws+unix://` URL, else
    /// none.
    pub unix_socket: Option<PathBuf>,
    /// Which proxy to go through (see the `transport::proxy` module). Default:
    /// [`ProxyConfig::Environment`], as curl: `http_proxy` for `ws://`, `https_proxy` for
    /// `wss://`, `all_proxy` for both, in lower or upper case, except hosts in `no_proxy`.
    /// [`ProxyConfig::Direct`] ignores the environment.
    pub proxy: ProxyConfig,
    /// Hosts that never go through a proxy. Default: none, which means the `no_proxy`
    /// environment variable for environment proxies (or, when that is unset, loopback hosts),
    /// and no exclusions for [`ProxyConfig::Url`]. When set, it replaces the environment's list.
    pub no_proxy: Option<NoProxy>,
    /// Follow `301`, `302`, `303`, `307` and `308` answers to the opening handshake: the
    /// `Location` (absolute or relative; `http://` becomes `ws://`, `https://` becomes `wss://`)
    /// is tried next. Never from `wss://` to `ws://`. A redirect to another host, port or
    /// scheme drops the `Host` override, the TLS server name override, `Cookie` and
    /// `Authorization` (as curl does). A
    /// connection through a Unix socket stays on that socket. Default: off, and the error
    /// names the `Location`.
    pub follow_redirects: bool,
    /// The most redirects followed in one connection attempt. Default: 5.
    pub max_redirects: usize,
    /// Where the masking keys of the frames the client sends come from. Default:
    /// [`MaskKeys::Random`], the operating system's CSPRNG.
    pub mask_keys: MaskKeys,
    /// Largest response head accepted. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Limits and switches of the connection once open.
    pub protocol: sockeye_proto::Config,
    /// permessage-deflate (RFC 7692): offered as [`DeflateConfig::offer`] says and used when
    /// the server accepts it. Default: on, offering `permessage-deflate; client_max_window_bits`
    /// (as Python's `websockets` does); messages under 32 bytes are sent uncompressed. `None`
    /// offers nothing. An offer written in [`extensions`](Self::extensions) replaces this one.
    pub compression: Option<DeflateConfig>,
    /// Show secrets (`Authorization`, `Cookie`, URL credentials, `?token=`…) in this
    /// connection's trace instead of `[redacted]` (see [`crate::redact`]). Default: off.
    pub show_secrets: bool,
    /// How many bytes of each payload the trace shows. Default:
    /// [`DEFAULT_PREVIEW_BYTES`] (64).
    pub trace_preview_bytes: usize,
    /// Also show each frame's bytes as on the wire (header, mask key, masked payload) in hex,
    /// as websocket-client's `enableTrace` does; the payload is cut after
    /// [`trace_preview_bytes`](Self::trace_preview_bytes) bytes. Default: off.
    pub trace_raw_bytes: bool,
    /// TLS for `wss://`: whom to trust, the client certificate, the verification switches, SNI.
    /// Default: verification against the operating system's trust store (see [`TlsOptions`]).
    pub tls: TlsOptions,
    /// Limit for the TLS handshake of a `wss://` connection. Default: 10 s.
    pub tls_timeout: Option<Duration>,
}

impl ClientConfig {
    /// Options for `url` with every default.
    pub fn new(url: &str) -> Result<Self, Error> {
        let mut target = Target::parse(url)?;
        let authorization = target.take_basic_auth();
        let unix_socket = target.unix_socket.clone();
        Ok(Self {
            target,
            origin: None,
            subprotocols: Vec::new(),
            require_subprotocol: false,
            extensions: Vec::new(),
            headers: Vec::new(),
            host_header: None,
            cookie: None,
            authorization,
            user_agent: Some(DEFAULT_USER_AGENT.to_string()),
            connect_timeout: Some(Duration::from_secs(10)),
            handshake_timeout: Some(Duration::from_secs(10)),
            read_timeout: None,
            write_timeout: None,
            tcp_nodelay: true,
            tcp_keepalive: false,
            local_address: None,
            unix_socket,
            proxy: ProxyConfig::Environment,
            no_proxy: None,
            follow_redirects: false,
            max_redirects: 5,
            mask_keys: MaskKeys::Random,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            protocol: sockeye_proto::Config::default(),
            compression: Some(DeflateConfig::default()),
            show_secrets: false,
            trace_preview_bytes: DEFAULT_PREVIEW_BYTES,
            trace_raw_bytes: false,
            tls: TlsOptions::default(),
            tls_timeout: Some(Duration::from_secs(10)),
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

    /// Requires the server to select one of the offered subprotocols (see the field).
    pub fn require_subprotocol(mut self, require: bool) -> Self {
        self.require_subprotocol = require;
        self
    }

    /// Adds a request header (repeatable; order kept).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds request headers from a list or a map (`Vec<(&str, String)>`, `[(k, v); N]`,
    /// `BTreeMap`, `HashMap`…), in the iterator's order, after those already set.
    pub fn headers_from<N, V>(mut self, headers: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        self.headers.extend(
            headers
                .into_iter()
                .map(|(name, value)| (name.into(), value.into())),
        );
        self
    }

    /// Sends this `Host` header instead of the one the URL gives (the connection still goes to
    /// the URL's host).
    pub fn host_header(mut self, host: impl Into<String>) -> Self {
        self.host_header = Some(host.into());
        self
    }

    /// Sets the `Cookie` header (`name=value; other=value`).
    pub fn cookie(mut self, cookie: impl Into<String>) -> Self {
        self.cookie = Some(cookie.into());
        self
    }

    /// Sends `Authorization: Basic base64(user:password)`, as `user:password@` in the URL does.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.authorization = Some(basic_authorization(user, password));
        self
    }

    /// Sends `Authorization: Bearer <token>` (OAuth 2.0 and most token APIs).
    pub fn bearer_token(mut self, token: &str) -> Self {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// Sets the `User-Agent` header; an empty string sends none (as curl's `-A ""`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        let user_agent = user_agent.into();
        self.user_agent = (!user_agent.is_empty()).then_some(user_agent);
        self
    }

    /// Offers an extension (repeatable): a full `Sec-WebSocket-Extensions` element such as
    /// `permessage-deflate; client_max_window_bits`.
    pub fn extension(mut self, offer: impl Into<String>) -> Self {
        self.extensions.push(offer.into());
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout), the limit for resolving the name and
    /// connecting (`None`: wait as long as the OS does).
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

    /// Chooses the proxy: [`ProxyConfig::url`]`("socks5h://user:pass@host:1080")?`,
    /// [`ProxyConfig::Direct`], or [`ProxyConfig::Environment`] (the default).
    pub fn proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = proxy;
        self
    }

    /// Sets the hosts that never go through a proxy, replacing the `no_proxy` environment
    /// variable: [`NoProxy::parse`]`("localhost, .internal.example, 10.0.0.0/8")`.
    pub fn no_proxy(mut self, hosts: NoProxy) -> Self {
        self.no_proxy = Some(hosts);
        self
    }

    /// Sets the per-read and per-write limits once the connection is open.
    pub fn io_timeouts(mut self, read: Option<Duration>, write: Option<Duration>) -> Self {
        self.read_timeout = read;
        self.write_timeout = write;
        self
    }

    /// Sets the per-read limit once the connection is open (blocking front-end).
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets the per-write limit once the connection is open (blocking front-end).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets `TCP_NODELAY` ([`tcp_nodelay`](Self::tcp_nodelay); default on).
    pub fn tcp_nodelay(mut self, nodelay: bool) -> Self {
        self.tcp_nodelay = nodelay;
        self
    }

    /// Sets `SO_KEEPALIVE` ([`tcp_keepalive`](Self::tcp_keepalive); default off).
    pub fn tcp_keepalive(mut self, keepalive: bool) -> Self {
        self.tcp_keepalive = keepalive;
        self
    }

    /// Binds the TCP socket to `address` before connecting
    /// ([`local_address`](Self::local_address)).
    pub fn local_address(mut self, address: Option<IpAddr>) -> Self {
        self.local_address = address;
        self
    }

    /// Follows redirects (or not), at most [`max_redirects`](Self::max_redirects) of them.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Sets how many redirects are followed at most.
    pub fn max_redirects(mut self, limit: usize) -> Self {
        self.max_redirects = limit;
        self
    }

    /// Sets where masking keys come from: `MaskKeys::ZERO` makes captures readable.
    pub fn mask_keys(mut self, keys: MaskKeys) -> Self {
        self.mask_keys = keys;
        self
    }

    /// Validates received text as UTF-8 (default), or delivers invalid text with U+FFFD
    /// replacement characters instead of failing with 1007.
    pub fn validate_utf8(mut self, validate: bool) -> Self {
        self.protocol.validate_utf8 = validate;
        self
    }

    /// Delivers whole messages (default), or every frame as it arrives as
    /// [`Message::Frame`](crate::Message::Frame), control frames and continuations included.
    pub fn assemble_messages(mut self, assemble: bool) -> Self {
        self.protocol.assemble_messages = assemble;
        self
    }

    /// Replaces the connection's limits and switches.
    pub fn protocol(mut self, protocol: sockeye_proto::Config) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets permessage-deflate's settings, or turns it off with `None` (see
    /// [`compression`](Self::compression)).
    pub fn compression(mut self, compression: Option<DeflateConfig>) -> Self {
        self.compression = compression;
        self
    }

    /// Shows secrets in this connection's trace (or hides them, the default).
    pub fn show_secrets(mut self, show: bool) -> Self {
        self.show_secrets = show;
        self
    }

    /// Sets how many bytes of each payload the trace shows.
    pub fn trace_preview_bytes(mut self, bytes: usize) -> Self {
        self.trace_preview_bytes = bytes;
        self
    }

    /// Shows each frame's bytes as on the wire in the trace (see
    /// [`trace_raw_bytes`](Self::trace_raw_bytes)).
    pub fn trace_raw_bytes(mut self, raw: bool) -> Self {
        self.trace_raw_bytes = raw;
        self
    }

    /// The handshake request these options describe.
    pub fn request(&self) -> ClientRequest {
        let given = |name: &str| {
            self.headers
                .iter()
                .find(|(given, _)| given.eq_ignore_ascii_case(name))
        };
        let host = match (given("Host"), &self.host_header) {
            (Some((_, host)), _) | (None, Some(host)) => host,
            (None, None) => &self.target.host_header,
        };
        let mut request = ClientRequest::new(host, &self.target.resource);
        request.origin = self.origin.clone().filter(|_| given("Origin").is_none());
        request.subprotocols = self.subprotocols.clone();
        request.extensions = self.extensions.clone();
        let offered_by_hand = self
            .extensions
            .iter()
            .flat_map(|offer| ExtensionOffer::parse_list(offer))
            .any(|offer| deflate::is_permessage_deflate(&offer));
        if let (Some(compression), false) = (&self.compression, offered_by_hand) {
            request.extensions.push(compression.offer().to_string());
        }
        let generated = [
            ("User-Agent", &self.user_agent),
            ("Authorization", &self.authorization),
            ("Cookie", &self.cookie),
        ];
        request.headers = generated
            .into_iter()
            .filter(|(name, _)| given(name).is_none())
            .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
            .chain(
                self.headers
                    .iter()
                    .filter(|(name, _)| !name.eq_ignore_ascii_case("Host"))
                    .cloned(),
            )
            .collect();
        request.max_header_bytes = self.max_header_bytes;
        request
    }

    /// Checks the request these options describe, without sending anything: a header name that
    /// is not an HTTP token, or CR, LF or NUL in any value (`Host` override, `Origin`, `Cookie`,
    /// `User-Agent`, extra headers…) is refused with [`HandshakeError::InvalidHeader`]
    /// (`sockeye_proto::HandshakeError`). `connect_with` and `connect_async_with` call it
    /// before they open a connection.
    ///
    /// [`HandshakeError::InvalidHeader`]: sockeye_proto::HandshakeError::InvalidHeader
    pub fn check_request(&self) -> Result<(), Error> {
        // A fixed nonce: only the encoding and its checks matter here.
        ClientHandshake::with_nonce(self.request(), [0; 16])?;
        Ok(())
    }

    /// The open connection after a handshake whose response agreed on `deflate`.
    pub(crate) fn connection(&self, deflate: Option<PerMessageDeflate>) -> Connection {
        let conn = Connection::with_mask_keys(
            Role::Client,
            self.protocol.clone(),
            self.mask_keys.source(),
        );
        with_deflate(conn, deflate, self.compression.as_ref())
    }
}

/// `conn` with permessage-deflate on when the handshake agreed on it (with `compression`'s
/// level and threshold, or the defaults when the offer was written by hand).
fn with_deflate(
    conn: Connection,
    agreed: Option<PerMessageDeflate>,
    compression: Option<&DeflateConfig>,
) -> Connection {
    match agreed {
        Some(agreed) => conn.with_deflate(agreed, &compression.cloned().unwrap_or_default()),
        None => conn,
    }
}

/// How many bytes of each payload the trace shows by default.
pub const DEFAULT_PREVIEW_BYTES: usize = 64;

/// The default `User-Agent`: `sockeye/` and the version of this crate.
pub const DEFAULT_USER_AGENT: &str = concat!("sockeye/", env!("CARGO_PKG_VERSION"));

/// `Basic base64(user:password)` (RFC 7617).
fn basic_authorization(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let credentials = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

impl Target {
    /// Removes `user:password@` from [`url`](Self::url) and returns it as the value of an
    /// `Authorization: Basic` header (percent-escapes decoded), if the URL had one.
    pub(crate) fn take_basic_auth(&mut self) -> Option<String> {
        let user = percent_decode(self.url.username());
        let password = percent_decode(self.url.password().unwrap_or(""));
        if user.is_empty() && password.is_empty() {
            return None;
        }
        // Both only fail for URLs that cannot have credentials, and those had none to remove.
        let _ = self.url.set_username("");
        let _ = self.url.set_password(None);
        Some(basic_authorization(&user, &password))
    }
}

/// TLS settings (see the `transport::tls` module).
impl ClientConfig {
    /// Replaces the TLS options of `wss://` connections.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the TLS handshake timeout (`None`: no limit).
    pub fn tls_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.tls_timeout = timeout;
        self
    }
}

/// Options of a server connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Largest request head accepted. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Limit for receiving the request. Default 10 s. The tokio server applies it; the blocking
    /// server cannot set a timeout on any stream, so set the stream's read and write timeouts
    /// to it before `accept_with`. A client whose request is not complete in time fails with
    /// [`Error::RequestTimeout`](crate::Error::RequestTimeout).
    pub handshake_timeout: Option<Duration>,
    /// Limits and switches of the connection once open.
    pub protocol: sockeye_proto::Config,
    /// permessage-deflate (RFC 7692): the first acceptable offer of a client is accepted and
    /// answered. Default: on, with [`DeflateConfig::server_default`] (a 12-bit window for what
    /// the server sends, and for what the client sends when it accepts a limit, as Python's
    /// `websockets`); messages under 32 bytes are sent uncompressed. `None` accepts no offer.
    pub compression: Option<DeflateConfig>,
    /// Show secrets (`Authorization`, `Cookie`, `?token=`…) in the trace of the connections
    /// instead of `[redacted]`. Default: off.
    pub show_secrets: bool,
    /// How many bytes of each payload the trace shows. Default:
    /// [`DEFAULT_PREVIEW_BYTES`] (64).
    pub trace_preview_bytes: usize,
    /// Pings and receive timeouts of every accepted connection: a ping after a quiet spell, a
    /// close (1001) when no complete frame arrives for the idle timeout, a close (1008) when a
    /// message is not complete within the message timeout of its first byte (so trickling a
    /// frame one byte at a time holds nothing for long). Default:
    /// [`KeepaliveConfig::server_default`] (ping after 30 s, idle 120 s, message 60 s).
    /// `None`: no pings and no receive timeouts. Applied by the tokio front-end (`accept_async`,
    /// `tokio::Server`, the hyper upgrade); a blocking server applies it with
    /// `WebSocket::set_keepalive`.
    pub keepalive: Option<KeepaliveConfig>,
    /// The memory budget of a `tokio::Server`, for all its connections
    /// together, in bytes: input and output buffers, messages in progress, inflated data, zlib
    /// state and what waits in the connections' queues
    /// ([`Connection::memory_use`] plus queued messages). When it is exceeded, the connections
    /// holding the most are closed — 1009 if most of it is a message they are sending, 1008 if
    /// it is output they do not read — until the total is back under seven eighths of it; the
    /// others keep working. Default: 256 MiB. `None`: no budget.
    pub max_memory: Option<usize>,
}

/// The default [`ServerConfig::max_memory`]: 256 MiB.
pub const DEFAULT_MAX_MEMORY: usize = 256 << 20;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            handshake_timeout: Some(Duration::from_secs(10)),
            protocol: sockeye_proto::Config::default(),
            compression: Some(DeflateConfig::server_default()),
            show_secrets: false,
            trace_preview_bytes: DEFAULT_PREVIEW_BYTES,
            keepalive: Some(KeepaliveConfig::server_default()),
            max_memory: Some(DEFAULT_MAX_MEMORY),
        }
    }
}

impl ServerConfig {
    /// The open connection after a handshake that agreed on `deflate`.
    pub(crate) fn connection(&self, deflate: Option<PerMessageDeflate>) -> Connection {
        let conn = Connection::new(Role::Server, self.protocol.clone());
        with_deflate(conn, deflate, self.compression.as_ref())
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
