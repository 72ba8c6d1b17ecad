//! Why a connection failed, in terms a person can act on: the stage, a stable cause, the
//! evidence and what to try. Every failure of the client's connect path maps to its diagnosis
//! here, in one place, by observing the [`Error`] (and, when there is one, the
//! [`ConnectReport`] of the attempt); nothing here runs inside the codec.
//!
//! ```no_run
//! let config = sockeye::ClientConfig::new("wss://example.com/chat")?;
//! match sockeye::blocking::connect_with(config.clone()) {
//!     Ok(_) => println!("open"),
//!     Err(err) => {
//!         let diagnosis = err.diagnosis_for(&config);
//!         // "http stage, status-403: …", the evidence lines, "hint: …"
//!         eprintln!("{diagnosis}");
//!         assert_eq!(diagnosis.stage, err.stage());
//!     }
//! }
//! # Ok::<(), sockeye::Error>(())
//! ```
//!
//! Three levels of context:
//!
//! - [`Error::diagnosis`]: from the error alone;
//! - [`Error::diagnosis_for`]: also knows what the request sent (the URL, whether an `Origin`
//!   or credentials went out, the subprotocols offered, the proxy);
//! - [`ConnectReport::diagnose`] (from `connect_with_report`): also knows the heads as they
//!   crossed the wire, so it can quote the reply's `Server` and `Via` headers, or the key
//!   behind an accept mismatch.
//!
//! Causes are short kebab-case identifiers, stable across versions, meant for scripts and CI
//! (`sockeye probe --json` prints them): `url-http-scheme`, `dns-not-found`, `tcp-refused`,
//! `tcp-timeout`, `proxy-auth-required`, `socks-host-unreachable`, `tls-unknown-issuer`,
//! `tls-expired`, `tls-hostname-mismatch`, `tls-not-tls`, `not-tls-expected`, `status-404`,
//! `upgrade-missing`, `accept-mismatch`, `subprotocol-not-selected`, `closed-during-handshake`,
//! `reset-during-handshake`, `timeout-http`… (docs/diagnose.md lists them all).
//!
//! Evidence quoted from the peer or the request (header values, bodies, URLs) is redacted as
//! the trace is (see [`crate::redact`]), unless the configuration's `show_secrets` is on.

mod report;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sockeye_proto::{HandshakeError, ProtocolError};

use crate::config::{ClientConfig, Target};
use crate::error::{DnsFailure, Error, RedirectProblem, Stage, UrlProblem};
use crate::redact;
use crate::route::Route;

pub use crate::timings::Timings;
pub(crate) use report::HandshakeRecord;
#[cfg(feature = "tls")]
pub use report::TlsInfo;
pub use report::{ConnectReport, Head};

/// Why a connection failed: where, the cause, what shows it, and what to try.
///
/// `Display` prints it for a person:
///
/// ```text
/// http stage, status-403: WebSocket handshake failed: the server answered 403 Forbidden instead of 101 Switching Protocols
///   status: 403 Forbidden
///   origin_sent: none
///   body: "origin not allowed"
///   hint: the server forbids this request. No Origin was sent: …
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The stage that failed (the same as [`Error::stage`]).
    pub stage: Stage,
    /// A short, stable kebab-case identifier of the cause, such as `status-404`.
    pub cause: String,
    /// The error's message (redacted unless secrets are shown).
    pub summary: String,
    /// What to try.
    pub hint: String,
    /// The facts behind the diagnosis, in order: status line, headers, body excerpt, expected
    /// and received values, certificate names and dates… (redacted unless secrets are shown).
    pub evidence: Vec<Evidence>,
}

/// One fact of a [`Diagnosis`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Evidence {
    /// What it is, in snake_case: `status`, `location`, `server`, `body`, `expected_accept`…
    pub name: &'static str,
    /// Its value, as it may be shown.
    pub value: String,
}

impl Diagnosis {
    /// The value of the evidence `name`, if there is one.
    pub fn evidence(&self, name: &str) -> Option<&str> {
        self.evidence
            .iter()
            .find(|evidence| evidence.name == name)
            .map(|evidence| evidence.value.as_str())
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} stage, {}: {}", self.stage, self.cause, self.summary)?;
        for evidence in &self.evidence {
            write!(f, "\n  {}: {}", evidence.name, evidence.value)?;
        }
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

impl Error {
    /// Why this error happened, from what the error itself carries (redacted). When you have
    /// the configuration, [`diagnosis_for`](Self::diagnosis_for) says more; a
    /// [`ConnectReport`] says the most.
    pub fn diagnosis(&self) -> Diagnosis {
        diagnose(self, &Context::default())
    }

    /// Why this error happened to a connection made with `config`: the hints then say whether
    /// an `Origin` or credentials were sent, name the path and the proxy. Redacted unless
    /// `config.show_secrets`.
    pub fn diagnosis_for(&self, config: &ClientConfig) -> Diagnosis {
        let facts = RequestFacts::of(config);
        // No report noted the route the dial took: decide it as the dial does.
        let route = crate::transport::proxy::choose_route(config).ok();
        let cx = Context {
            show_secrets: config.show_secrets,
            facts: Some(&facts),
            route: route.as_ref(),
            ..Context::default()
        };
        diagnose(self, &cx)
    }
}

/// `2024-05-01 12:00:00 UTC`.
pub fn format_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// What the request of a connection sent, for the hints.
#[derive(Clone, Debug)]
pub(crate) struct RequestFacts {
    target: Target,
    origin: Option<String>,
    /// The scheme of the `Authorization` header sent (`Bearer`), or `credentials`.
    authorization: Option<String>,
    cookie: bool,
}

impl RequestFacts {
    pub(crate) fn of(config: &ClientConfig) -> Self {
        let request = config.request();
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(given, _)| given.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let authorization = header("Authorization").map(|value| match value.split_once(' ') {
            Some((scheme, _)) if !scheme.is_empty() => scheme.to_string(),
            _ => "credentials".to_string(),
        });
        Self {
            target: config.target.clone(),
            origin: request.origin.clone().or_else(|| header("Origin")),
            authorization,
            cookie: header("Cookie").is_some(),
        }
    }
}

/// Everything known about the failed attempt besides the error.
#[derive(Debug, Default)]
pub(crate) struct Context<'a> {
    show_secrets: bool,
    facts: Option<&'a RequestFacts>,
    /// The request head as sent.
    request: Option<Head>,
    /// The reply as received (head and the start of a body).
    response: Option<Head>,
    /// The reply's bytes, when its head could not be parsed.
    raw_response: Option<&'a [u8]>,
    /// The route the connection took (noted by the dial), or would take.
    route: Option<&'a Route>,
}

impl Context<'_> {
    /// Peer or request text as it may be shown.
    fn text(&self, text: &str) -> String {
        if self.show_secrets {
            text.to_string()
        } else {
            redact::text(text).into_owned()
        }
    }

    fn url(&self, url: &str) -> String {
        if self.show_secrets {
            url.to_string()
        } else {
            redact::url(url).into_owned()
        }
    }

    fn header(&self, name: &str, value: &str) -> String {
        if self.show_secrets {
            value.to_string()
        } else {
            redact::header(name, value).into_owned()
        }
    }

    /// A header of the reply, from the recorded head.
    fn response_header(&self, name: &str) -> Option<&str> {
        self.response.as_ref()?.get(name)
    }

    /// `ws://` (with `secure: false`) or `wss://`, when known.
    fn secure(&self) -> Option<bool> {
        self.facts.map(|facts| facts.target.secure)
    }

    /// True when the connection went through a proxy.
    fn through_proxy(&self) -> bool {
        self.route.is_some_and(|route| route.proxy().is_some())
    }

    /// The request target (`/chat?room=1`), as it may be shown.
    fn path(&self) -> Option<String> {
        self.facts.map(|facts| self.url(&facts.target.resource))
    }
}

/// Builds one diagnosis.
struct Builder<'a, 'b> {
    cx: &'a Context<'b>,
    cause: String,
    hint: String,
    evidence: Vec<Evidence>,
}

impl Builder<'_, '_> {
    fn cause(&mut self, cause: impl Into<String>) -> &mut Self {
        self.cause = cause.into();
        self
    }

    fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = hint.into();
        self
    }

    /// Evidence that is safe to show as it is (numbers, names chosen by sockeye).
    fn fact(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.evidence.push(Evidence {
            name,
            value: value.into(),
        });
        self
    }

    /// Evidence quoted from the peer or the request: redacted, control characters escaped.
    fn quote(&mut self, name: &'static str, value: &str) -> &mut Self {
        let shown = escape(&self.cx.text(value));
        self.fact(name, shown)
    }

    /// Evidence quoted from the peer that is escaped already (a preview of its bytes).
    fn quote_escaped(&mut self, name: &'static str, value: &str) -> &mut Self {
        let shown = self.cx.text(value);
        self.fact(name, shown)
    }

    /// A header of the reply as evidence (`server`, `via`…), redacted as its name says.
    fn header(&mut self, name: &'static str, header: &str, value: &str) -> &mut Self {
        let shown = escape(&self.cx.header(header, value));
        self.fact(name, shown)
    }

    /// The reply's `Server` and `Via` headers, when recorded: who answered.
    fn who_answered(&mut self) -> &mut Self {
        for (name, header) in [("server", "Server"), ("via", "Via")] {
            if let Some(value) = self.cx.response_header(header) {
                let value = value.to_string();
                self.header(name, header, &value);
            }
        }
        self
    }

    /// The proxy that `no_proxy` made a direct connection go around, when there was one: the
    /// host may be reachable only through it.
    fn bypassed_proxy(&mut self) -> &mut Self {
        if let Some(bypass) = self.cx.route.and_then(Route::bypassed) {
            self.fact("bypassed_proxy", bypass.to_string());
        }
        self
    }

    /// The reply's status line, when recorded.
    fn status_line(&mut self) -> &mut Self {
        if let Some(line) = self
            .cx
            .response
            .as_ref()
            .map(|head| head.start_line.clone())
        {
            self.quote("status_line", &line);
        }
        self
    }
}

/// Control characters escaped, so evidence stays on one line.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    crate::trace::push_escaped(&mut out, text);
    out.replace("\\\"", "\"")
}

fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

/// The diagnosis of `error` with what `cx` knows.
pub(crate) fn diagnose(error: &Error, cx: &Context<'_>) -> Diagnosis {
    let summary = if cx.show_secrets {
        error.unredacted().to_string()
    } else {
        error.to_string()
    };
    let mut b = Builder {
        cx,
        cause: String::new(),
        hint: String::new(),
        evidence: Vec::new(),
    };
    let stage = error.stage();
    match error {
        Error::InvalidUrl { url, problem, hint } => invalid_url(&mut b, url, problem, *hint),
        Error::Unsupported(_) => {
            b.cause("url-unsupported")
                .hint("this build or platform cannot make this connection; the message says what it lacks");
        }
        Error::Dns {
            host,
            failure,
            source,
        } => dns(&mut b, host, *failure, source),
        Error::Connect { addr, source } => connect(&mut b, addr, source),
        Error::Timeout { stage, after } => timeout(&mut b, *stage, *after),
        Error::RequestTimeout { after } => {
            b.cause("request-timeout")
                .fact("after", millis(*after))
                .hint("the client connected but did not send a complete upgrade request within handshake_timeout: a slow or stalled client, or one that opens connections without speaking (a port scanner, a health check, a browser's pre-connect); raise handshake_timeout only if real clients need more time");
        }
        Error::Handshake(err) => handshake(&mut b, err),
        Error::Redirect {
            status,
            from,
            location,
            reason,
        } => {
            let cause = match reason {
                RedirectProblem::TooMany { .. } => "redirect-limit",
                RedirectProblem::Downgrade => "redirect-downgrade",
                _ => "redirect-invalid",
            };
            let (from, location) = (cx.url(from), cx.url(location));
            b.cause(cause)
                .fact("status", status.to_string())
                .quote("from", &from)
                .quote("location", &location)
                .hint(match cause {
                    "redirect-limit" => "the redirects go on (a loop?): connect to the last Location directly, or raise ClientConfig::max_redirects",
                    "redirect-downgrade" => "the server redirects wss:// to unencrypted ws://, which is never followed: ask for a wss:// endpoint, or connect to the ws:// URL on purpose",
                    _ => "the Location cannot be followed: connect to the URL it means yourself",
                });
        }
        Error::Rejected { status } => {
            b.cause("rejected")
                .fact("status", status.to_string())
                .hint("the accept hook refused this request");
        }
        Error::Protocol(err) => protocol(&mut b, err),
        Error::Send(_) => {
            b.cause("send-refused")
                .hint("the message cannot be sent in this state or with this content; the message says why");
        }
        Error::Io { stage, source } => io_error(&mut b, *stage, source),
        Error::ConnectionClosed => {
            b.cause("closed")
                .hint("the close handshake is complete: open a new connection");
        }
        #[cfg(feature = "tls")]
        Error::Tls(problem) => tls(&mut b, problem),
        Error::Proxy {
            proxy,
            reason,
            hint,
        } => proxy_refused(&mut b, proxy, reason, *hint),
        Error::ProxyUnreachable {
            proxy,
            failed_at,
            source,
        } => {
            let os = source.to_string();
            let cause = if *failed_at == Stage::Dns {
                "proxy-dns-not-found"
            } else if source.kind() == std::io::ErrorKind::ConnectionRefused {
                "proxy-connection-refused"
            } else {
                "proxy-unreachable"
            };
            b.cause(cause)
                .quote("proxy", proxy)
                .fact("os_error", os)
                .hint("the proxy cannot be reached: check the proxy URL's host and port (ClientConfig::proxy, or the *_proxy variables) and that the proxy runs; ClientConfig::no_proxy with the host, or ProxyConfig::Direct, connects directly");
        }
        Error::SubprotocolNotSelected { offered } => {
            b.cause("subprotocol-not-selected")
                .quote("offered", &offered.join(", "))
                .fact("selected", "none")
                .who_answered()
                .hint("the server opened the connection without choosing any offered subprotocol: it supports none of them (check their names), or ignores Sec-WebSocket-Protocol; browsers fail such a connection too. Leave ClientConfig::require_subprotocol off to accept it");
        }
    }
    if b.cause.is_empty() {
        b.cause(format!("{stage}-failed"));
    }
    Diagnosis {
        stage,
        cause: b.cause,
        summary,
        hint: b.hint,
        evidence: b.evidence,
    }
}

fn invalid_url(b: &mut Builder<'_, '_>, url: &str, problem: &UrlProblem, hint: Option<&str>) {
    use url::ParseError;
    let cause = match problem {
        UrlProblem::HttpScheme => "url-http-scheme",
        UrlProblem::HttpsScheme => "url-https-scheme",
        UrlProblem::Proxy { .. } => "url-proxy-invalid",
        UrlProblem::UnsupportedScheme(_) => "url-bad-scheme",
        UrlProblem::Fragment => "url-fragment",
        UrlProblem::NoHost | UrlProblem::Unparsable(ParseError::EmptyHost) => "url-missing-host",
        UrlProblem::Unparsable(ParseError::InvalidPort) => "url-bad-port",
        UrlProblem::Unparsable(
            ParseError::RelativeUrlWithoutBase | ParseError::RelativeUrlWithCannotBeABaseBase,
        ) => "url-not-absolute",
        _ => "url-invalid",
    };
    let shown = b.cx.url(url);
    b.cause(cause)
        .quote("url", &shown)
        .quote("why", &problem.to_string());
    let text = match cause {
        "url-http-scheme" => "http:// is for web pages: a WebSocket URL starts with ws:// (the same host and path)".to_string(),
        "url-https-scheme" => "https:// is for web pages: a WebSocket URL over TLS starts with wss:// (the same host and path)".to_string(),
        "url-bad-port" => "a port is a number from 1 to 65535".to_string(),
        "url-missing-host" => "give the host: ws://HOST[:PORT]/path".to_string(),
        _ => match hint {
            Some(hint) => format!("try {hint}"),
            None => "check the URL: ws://HOST[:PORT]/path or wss://…".to_string(),
        },
    };
    b.hint(text);
}

fn dns(b: &mut Builder<'_, '_>, host: &str, failure: DnsFailure, source: &std::io::Error) {
    b.quote("host", host)
        .fact("os_error", source.to_string())
        .bypassed_proxy();
    if failure == DnsFailure::Temporary {
        b.cause("dns-temporary-failure").hint(
            "no DNS server answered: check the network connection and the resolver (/etc/resolv.conf), then try again",
        );
    } else {
        let mut hint = format!(
            "the name {host:?} does not resolve: check its spelling, or connect to an IP address"
        );
        if b.cx.through_proxy() {
            hint.push_str("; through a proxy, socks5h:// (or an HTTP proxy) lets the proxy resolve names this machine cannot");
        }
        b.cause("dns-not-found").hint(hint);
    }
}

fn connect(b: &mut Builder<'_, '_>, addr: &str, source: &std::io::Error) {
    use std::io::ErrorKind;
    b.quote("address", addr)
        .fact("os_error", source.to_string())
        .bypassed_proxy();
    if let Some(path) = addr.strip_prefix("unix:") {
        let (cause, hint) = match source.kind() {
            ErrorKind::NotFound => (
                "unix-socket-missing",
                format!("no socket at {path}: check the path, and that the server runs"),
            ),
            ErrorKind::PermissionDenied => (
                "unix-socket-denied",
                format!("this user may not open {path}: check its permissions (and its directory's)"),
            ),
            ErrorKind::ConnectionRefused => (
                "unix-socket-refused",
                format!("{path} exists but nothing listens on it: the server stopped and left it behind"),
            ),
            _ => ("unix-socket-failed", "check the socket path".to_string()),
        };
        b.cause(cause).hint(hint);
        return;
    }
    let scheme_port = match b.cx.secure() {
        Some(true) => " (wss:// defaults to 443)",
        Some(false) => " (ws:// defaults to 80)",
        None => "",
    };
    match source.kind() {
        ErrorKind::ConnectionRefused => {
            b.cause("tcp-refused").hint(format!(
                "nothing listens on {addr}: check the port{scheme_port}, that the server runs, and that it listens on this address (a server bound to 127.0.0.1 takes no connections from elsewhere)"
            ));
        }
        ErrorKind::TimedOut => {
            b.cause("tcp-timeout").hint(format!(
                "{addr} did not answer: a firewall may drop the packets, or the host is down; check the address and port"
            ));
        }
        ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::AddrNotAvailable => {
            b.cause("tcp-unreachable").hint(format!(
                "there is no route to {addr}: check the address, the network connection, and VPN or routes; a proxy may be needed to reach it"
            ));
        }
        ErrorKind::PermissionDenied => {
            b.cause("tcp-denied").hint(
                "this machine refused to open the connection: a local firewall rule or a sandbox forbids it",
            );
        }
        ErrorKind::ConnectionReset => {
            b.cause("tcp-reset").hint(
                "the host reset the connection as it opened: a firewall that rejects it, or a server that is overloaded",
            );
        }
        _ => {
            b.cause("tcp-failed")
                .hint("the operating system's error says why");
        }
    }
}

fn timeout(b: &mut Builder<'_, '_>, stage: Stage, after: Duration) {
    b.fact("after", millis(after));
    if matches!(stage, Stage::Dns | Stage::Tcp) {
        b.bypassed_proxy();
    }
    let ws = b.cx.secure() == Some(false);
    let (cause, hint): (String, String) = match stage {
        Stage::Dns => {
            let mut hint = String::from(
                "the host name was not resolved in time: the DNS server does not answer or is slow; check the network connection and the resolver (/etc/resolv.conf), connect to an IP address, or raise ClientConfig::connect_timeout, which resolving counts against",
            );
            if b.cx.through_proxy() {
                hint.push_str("; through a SOCKS proxy, socks5h:// lets the proxy resolve the name");
            }
            ("dns-timeout".into(), hint)
        }
        Stage::Tcp => (
            "tcp-timeout".into(),
            "the host did not accept the connection in time: a firewall may drop the packets, or the host is down; check the address and port (or raise ClientConfig::connect_timeout)".into(),
        ),
        Stage::Proxy => (
            "timeout-proxy".into(),
            "the proxy did not open the tunnel in time: check the proxy URL, that its scheme matches the proxy's protocol (http:// vs socks5://), and that the proxy can reach the server (it answers only once it has)".into(),
        ),
        Stage::Tls => (
            "timeout-tls".into(),
            "the server accepted TCP but did not complete the TLS handshake: is this a TLS port? A plain HTTP server waits silently for a request: try ws:// (or raise ClientConfig::tls_timeout)".into(),
        ),
        Stage::Http | Stage::Handshake => {
            let received = b.cx.raw_response.map_or(0, <[u8]>::len);
            if received > 0 {
                b.fact("received_bytes", received.to_string());
            }
            let mut hint = String::from(
                "the server accepted the connection but never finished its answer to the upgrade request: is this a WebSocket endpoint (and the right port)?",
            );
            if ws && received == 0 {
                hint.push_str(" A TLS port waits silently for a TLS hello: try wss://.");
            }
            hint.push_str(" A slow server needs more time: raise ClientConfig::handshake_timeout.");
            ("timeout-http".into(), hint)
        }
        Stage::Open => (
            "timeout-open".into(),
            "the open connection was silent longer than the read (or write) timeout; the connection is still usable".into(),
        ),
        other => (format!("timeout-{other}"), String::new()),
    };
    b.cause(cause).hint(hint);
}

fn handshake(b: &mut Builder<'_, '_>, err: &HandshakeError) {
    match err {
        HandshakeError::InvalidHeader { name, why } => {
            b.cause("invalid-header")
                .quote("header", name)
                .fact("why", *why)
                .hint("fix the header given (ClientConfig::header, ClientConfig::origin, ClientConfig::cookie…): names are HTTP tokens, values have no CR, LF or NUL");
        }
        HandshakeError::HeadTooLarge { limit } => {
            b.cause("response-head-too-large")
                .fact("limit", format!("{limit} bytes"))
                .status_line()
                .who_answered()
                .hint("the reply's head did not end within the limit: raise max_header_bytes if the server really sends that much, else it is not speaking HTTP");
        }
        HandshakeError::MalformedHttp { why, preview } => malformed(b, why, preview),
        HandshakeError::UnexpectedStatus {
            status,
            reason,
            headers,
            body,
        } => http_status(b, *status, reason, headers, body),
        HandshakeError::RefusalBodyUnfinished {
            status,
            reason,
            headers,
            body,
            problem,
        } => {
            // The status is what matters: the same cause and hint as a complete refusal.
            http_status(b, *status, reason, headers, body);
            b.fact("body_problem", body_problem(problem));
        }
        HandshakeError::BadUpgradeHeader { found } => {
            b.cause("upgrade-missing")
                .status_line()
                .quote("upgrade_received", found.as_deref().unwrap_or("(none)"))
                .who_answered()
                .hint("the server answered 101 Switching Protocols without `Upgrade: websocket`: something between client and server rewrote the response or dropped the header. A reverse proxy must pass the upgrade on (nginx: `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";`)");
        }
        HandshakeError::BadConnectionHeader { found } => {
            b.cause("connection-missing")
                .status_line()
                .quote("connection_received", found.as_deref().unwrap_or("(none)"))
                .who_answered()
                .hint("the server answered 101 Switching Protocols without `Connection: Upgrade`: something between client and server rewrote the hop-by-hop headers. A reverse proxy must set them (nginx: `proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";`)");
        }
        HandshakeError::MissingAccept { expected } => {
            key_sent(b);
            b.cause("accept-missing")
                .fact("expected_accept", expected.clone())
                .fact("received_accept", "(none)")
                .who_answered()
                .hint("the 101 carries no Sec-WebSocket-Accept: the server does not implement RFC 6455's handshake, or a middlebox stripped the header");
        }
        HandshakeError::AcceptMismatch { expected, received } => {
            key_sent(b);
            b.cause("accept-mismatch")
                .fact("expected_accept", expected.clone())
                .quote("received_accept", received)
                .who_answered()
                .hint("Sec-WebSocket-Accept does not answer the key sent: a middlebox (proxy, load balancer, antivirus) rewrote the headers or replayed another response, or the server computes it wrongly (base64 of SHA-1 of the key followed by 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)");
        }
        HandshakeError::UnexpectedSubprotocol { selected, offered } => {
            let offered = if offered.is_empty() {
                "(none)".to_string()
            } else {
                offered.join(", ")
            };
            b.cause("subprotocol-unexpected")
                .quote("selected", selected)
                .quote("offered", &offered)
                .hint("the server selected a subprotocol the client did not offer, which RFC 6455 forbids: offer it with ClientConfig::subprotocol if it is the one meant, or fix the server");
        }
        HandshakeError::UnexpectedExtension { extension, offered } => {
            let offered = if offered.is_empty() {
                "(none)".to_string()
            } else {
                offered.join(", ")
            };
            b.cause("extension-unexpected")
                .quote("extension", extension)
                .quote("offered", &offered)
                .who_answered()
                .hint("the server accepted an extension the client did not offer, which RFC 6455 forbids: the server (or a proxy answering for it) is broken, or offer the extension (ClientConfig::extension)");
        }
        HandshakeError::DeflateResponse { response, problem } => {
            b.cause("extension-invalid")
                .quote("extension_received", response)
                .fact("why", problem.to_string())
                .who_answered()
                .hint("the server's permessage-deflate answer breaks RFC 7692: the server (or a proxy answering for it) is broken; connecting without compression avoids it");
        }
        HandshakeError::ClosedDuringHandshake { received } => {
            b.cause("closed-during-handshake")
                .fact("received_bytes", received.to_string());
            let hint = if *received == 0 {
                let mut hint = String::from(
                    "the server closed the connection without answering the upgrade request: it may not speak HTTP on this port, refuse this client (by address, or a missing header), or have crashed; its logs say which.",
                );
                if b.cx.secure() == Some(false) {
                    hint.push_str(" A TLS port may also close on plain text: try wss://.");
                }
                hint
            } else {
                b.status_line();
                format!("the connection closed after {received} bytes of the reply, before its head ended: the server or a proxy in between dropped it mid-answer")
            };
            b.hint(hint);
        }
        HandshakeError::RequestClosed { received } => {
            b.cause("request-closed")
                .fact("received_bytes", received.to_string());
            b.hint(if *received == 0 {
                "the client closed the connection without sending a request: a port scanner, a health check that only opens TCP, or a client that gave up"
            } else {
                "the client closed the connection before its request head ended: it gave up (its own timeout), crashed, or something in between cut the connection"
            });
        }
        HandshakeError::RequestHeadTooLarge { limit } => {
            b.cause("request-head-too-large")
                .fact("limit", format!("{limit} bytes"))
                .hint("the client's request head did not end within max_header_bytes (answered 431): raise it if real clients send that much (many or long cookies), else the client is not speaking HTTP or is hostile");
        }
        HandshakeError::MalformedRequest { why, preview } => {
            b.cause("request-not-http")
                .quote_escaped("first_bytes", preview)
                .fact("why", why.clone());
            b.hint(if tls_record(preview) {
                "the client speaks TLS to this plain port (answered 400): it should use ws://, or the server should serve TLS here"
            } else {
                "the client's bytes are not an HTTP/1.1 request (answered 400): something other than a WebSocket client connected"
            });
        }
        HandshakeError::MethodNotGet(_)
        | HandshakeError::HttpVersionTooOld
        | HandshakeError::MissingHost
        | HandshakeError::InvalidHost { .. }
        | HandshakeError::RepeatedHeader { .. }
        | HandshakeError::RequestBody { .. }
        | HandshakeError::RequestUpgradeHeader { .. }
        | HandshakeError::RequestConnectionHeader { .. }
        | HandshakeError::UnsupportedVersion { .. }
        | HandshakeError::InvalidKey { .. }
        | HandshakeError::SubprotocolNotOffered { .. } => {
            b.cause("request-invalid");
            if let Some(status) = err.http_status() {
                b.fact("answered", status.to_string());
            }
            b.hint("the client's request is not a valid WebSocket handshake; the message says which rule it breaks");
        }
        _ => {
            b.cause("handshake-failed");
        }
    }
}

/// The `Sec-WebSocket-Key` of the request, when recorded.
fn key_sent(b: &mut Builder<'_, '_>) {
    let key =
        b.cx.request
            .as_ref()
            .and_then(|head| head.get("Sec-WebSocket-Key"))
            .map(str::to_string);
    if let Some(key) = key {
        b.quote("key_sent", &key);
    }
}

/// Whether an escaped preview (`\x16\x03…`) starts like a TLS record: a handshake or an alert.
fn tls_record(preview: &str) -> bool {
    ["\\x15\\x03", "\\x16\\x03"]
        .iter()
        .any(|start| preview.starts_with(start))
}

fn malformed(b: &mut Builder<'_, '_>, why: &str, preview: &str) {
    b.quote_escaped("first_bytes", preview)
        .fact("why", why.to_string());
    if tls_record(preview) {
        b.cause("not-tls-expected").hint(
            "the server answered with TLS (its reply starts like a TLS record): this port speaks TLS, so use wss:// instead of ws://",
        );
    } else if preview.starts_with("SSH-") {
        b.cause("not-http")
            .hint("an SSH server listens on this port: check the port");
    } else {
        b.cause("not-http").hint(
            "the reply is not HTTP/1.1: something else listens on this port (check it), or a proxy in between mangles the connection",
        );
    }
}

/// What is wrong with a refusal's body, for the evidence `body_problem`.
fn body_problem(problem: &sockeye_proto::handshake::BodyProblem) -> String {
    use sockeye_proto::handshake::BodyProblem;
    let what = match problem {
        BodyProblem::Chunked(chunked) if chunked.is_endless() => "never ended",
        BodyProblem::Chunked(_) => "malformed chunked framing",
        BodyProblem::TooLong => "never ended",
        BodyProblem::CutShort { .. } => "cut short",
        _ => "unfinished",
    };
    format!("{what}: {problem}")
}

/// Headers of a refusal quoted as evidence, in this order.
const STATUS_HEADERS: &[(&str, &str)] = &[
    ("location", "Location"),
    ("server", "Server"),
    ("via", "Via"),
    ("www_authenticate", "WWW-Authenticate"),
    ("sec_websocket_version", "Sec-WebSocket-Version"),
    ("upgrade", "Upgrade"),
    ("allow", "Allow"),
    ("retry_after", "Retry-After"),
    ("content_type", "Content-Type"),
    ("x_squid_error", "X-Squid-Error"),
    ("x_cache", "X-Cache"),
];

fn http_status(
    b: &mut Builder<'_, '_>,
    status: u16,
    reason: &str,
    headers: &sockeye_proto::handshake::Headers,
    body: &[u8],
) {
    b.quote("status", format!("{status} {reason}").trim_end());
    for (name, header) in STATUS_HEADERS {
        if let Some(value) = headers.get(header) {
            b.header(name, header, value);
        }
    }
    let text = sockeye_proto::proxy::body_text(body, 240);
    if !text.is_empty() {
        b.quote("body", &text);
    }
    let facts = b.cx.facts;
    let path = b.cx.path();
    let at_path = path
        .as_deref()
        .map_or(String::new(), |path| format!(" at {path}"));
    let server = headers
        .get("Server")
        .or_else(|| headers.get("Via"))
        .map(|who| format!(" ({})", b.cx.header("Server", who)))
        .unwrap_or_default();
    b.cause(format!("status-{status}"));
    let hint = match status {
        200..=299 => format!(
            "the server answered the upgrade request with a plain HTTP response{}: there is no WebSocket endpoint{at_path}, so check the path; if a proxy or CDN is in front, it may not pass WebSocket upgrades on",
            headers
                .get("Content-Type")
                .map(|kind| format!(" ({})", b.cx.header("Content-Type", kind)))
                .unwrap_or_default()
        ),
        301 | 302 | 303 | 307 | 308 => redirect_hint(b, headers),
        400 if text.contains("plain HTTP request was sent to HTTPS port") => {
            b.cause("not-tls-expected");
            "this port serves TLS and got plain text: use wss:// instead of ws://".to_string()
        }
        400 => {
            let mut hint = String::from(
                "the server found the request malformed or incomplete: it may want a header this request lacks (an Origin, a subprotocol, a token) or dislike one given with ClientConfig::header; the body may say which",
            );
            if facts.is_some_and(|facts| facts.origin.is_none()) {
                hint.push_str(" (no Origin was sent: try ClientConfig::origin)");
            }
            hint
        }
        401 => match facts {
            Some(facts) if facts.authorization.is_some() || facts.cookie => format!(
                "the server refused the credentials sent ({}): check them, and whether they expired",
                credentials_sent(facts)
            ),
            Some(_) => "the endpoint needs credentials and none were sent: ClientConfig::bearer_token, ClientConfig::basic_auth, a cookie with ClientConfig::cookie, or a token in the URL, as the server expects (WWW-Authenticate names the scheme)".to_string(),
            None => "the endpoint needs credentials, or refused those sent: a bearer token, Basic credentials, a cookie or a token in the URL, as the server expects (WWW-Authenticate names the scheme)".to_string(),
        },
        403 => forbidden_hint(b),
        404 => format!(
            "the server has nothing{at_path}: check the path (its case, a trailing slash, a prefix such as /ws); a reverse proxy may route only some paths to the WebSocket server"
        ),
        405 => format!(
            "the server does not accept GET{at_path}: this is not a WebSocket endpoint; check the path"
        ),
        408 => "the server timed out waiting for the request: a proxy in between may hold it back".to_string(),
        413 | 414 | 431 => "the request is too large for the server: fewer or shorter headers and cookies, or a shorter URL".to_string(),
        426 => upgrade_required_hint(headers, &server),
        429 => format!(
            "the server limits how often clients connect: wait{} and connect less often",
            headers
                .get("Retry-After")
                .map(|after| format!(" (Retry-After: {})", b.cx.header("Retry-After", after)))
                .unwrap_or_default()
        ),
        500 => "the server failed while handling the upgrade: its logs say why (the body may too)".to_string(),
        501 => "the server does not implement this request (WebSocket upgrades, or GET) here: check the path and the server".to_string(),
        502 => format!(
            "a gateway or proxy in front{server} got no valid answer from the server behind it: that server is down, crashed, or speaks something the gateway does not expect (TLS where it expects plain HTTP, or the reverse)"
        ),
        503 => format!(
            "the service is unavailable{server}: overloaded, in maintenance, or no server is up behind the proxy{}",
            headers
                .get("Retry-After")
                .map(|after| format!("; Retry-After: {}", b.cx.header("Retry-After", after)))
                .unwrap_or_default()
        ),
        504 => format!(
            "a gateway{server} timed out waiting for the server behind it: that server is slow, or unreachable from the gateway"
        ),
        505 => format!(
            "HTTP Version Not Supported{server}: most often a reverse proxy that talks HTTP/1.0 to the WebSocket server, which then sees no upgrade (nginx: `proxy_http_version 1.1;` with `proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";`)"
        ),
        other if (300..400).contains(&other) => "the server answered with a redirection sockeye does not follow: the headers and body say where to go".to_string(),
        other if (400..500).contains(&other) => "the server refused the request; the body may say why".to_string(),
        other if (500..600).contains(&other) => format!("the server{server} failed; its logs say why"),
        _ => "the server answered with a status that does not open a WebSocket".to_string(),
    };
    b.hint(hint);
}

/// `Authorization: Bearer`, `Cookie`: what credentials went out, without their values.
fn credentials_sent(facts: &RequestFacts) -> String {
    let mut sent = Vec::new();
    if let Some(scheme) = &facts.authorization {
        sent.push(format!("Authorization: {scheme}"));
    }
    if facts.cookie {
        sent.push("a Cookie".to_string());
    }
    sent.join(" and ")
}

fn redirect_hint(b: &mut Builder<'_, '_>, headers: &sockeye_proto::handshake::Headers) -> String {
    let Some(location) = headers.get("Location").map(str::trim) else {
        return "a redirect without a Location header: the server is misconfigured".to_string();
    };
    let resolved =
        b.cx.facts
            .and_then(|facts| crate::redirect::resolve(&facts.target, location).ok());
    let shown = match &resolved {
        Some(url) => b.cx.url(url.as_str()),
        None => b.cx.url(location),
    };
    if resolved.is_some() {
        b.quote("redirects_to", &shown);
    }
    let upgrade_to_tls = b.cx.secure() == Some(false)
        && (location.starts_with("https://") || location.starts_with("wss://"));
    if upgrade_to_tls {
        return format!(
            "the server redirects to TLS ({shown}): the site wants wss://; connect to that URL (or follow redirects with ClientConfig::follow_redirects)"
        );
    }
    format!(
        "the server redirects to {shown}: connect to that URL, or follow redirects with ClientConfig::follow_redirects"
    )
}

fn forbidden_hint(b: &mut Builder<'_, '_>) -> String {
    let Some(facts) = b.cx.facts else {
        return "the server forbids this request: if it checks Origin, send one it allows with ClientConfig::origin; else it refuses the credentials (or their absence) or the client's address".to_string();
    };
    let credentials = if facts.authorization.is_some() || facts.cookie {
        format!(
            "the credentials sent ({}) may not be enough",
            credentials_sent(facts)
        )
    } else {
        "no credentials were sent".to_string()
    };
    match &facts.origin {
        Some(origin) => {
            let origin = b.cx.url(origin);
            b.quote("origin_sent", &origin);
            format!(
                "the server forbids this request. An Origin was sent ({origin}): if the server checks Origin, it does not allow this one, so send the origin of a page it serves with ClientConfig::origin. Otherwise {credentials}, or it refuses the client's address"
            )
        }
        None => {
            b.fact("origin_sent", "none");
            let scheme = if facts.target.secure { "https" } else { "http" };
            format!(
                "the server forbids this request. No Origin was sent: servers that check Origin (most that serve browsers) refuse requests without one, so try ClientConfig::origin with {scheme}://{} (the origin of a page it serves). Otherwise {credentials}, or it refuses the client's address",
                facts.target.host_header
            )
        }
    }
}

fn upgrade_required_hint(headers: &sockeye_proto::handshake::Headers, server: &str) -> String {
    let versions: Vec<&str> = headers.tokens("Sec-WebSocket-Version").collect();
    if !versions.is_empty() && !versions.contains(&"13") {
        return format!(
            "the server wants WebSocket version {} and sockeye speaks 13 (RFC 6455) only: the server implements an old draft (8 is hybi-08 to -12); upgrade the server",
            versions.join(", ")
        );
    }
    let wants = if versions.is_empty() {
        String::new()
    } else {
        format!(
            "; it supports version {}, and 13 was sent",
            versions.join(", ")
        )
    };
    format!(
        "the server wants a WebSocket upgrade, yet the request carried one (Upgrade: websocket, Sec-WebSocket-Version: 13){wants}: the Upgrade and Connection headers were lost on the way. A reverse proxy in front{server} does not pass them on (nginx: `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";`; squid, and many CDNs and corporate proxies, drop them)"
    )
}

fn protocol(b: &mut Builder<'_, '_>, err: &ProtocolError) {
    b.fact("close_code", err.close_code().to_string());
    let (cause, hint) = match err {
        ProtocolError::ClosedWithoutCloseFrame => (
            "closed-abnormally",
            "the connection ended without a close frame (1006): the server, a proxy or the network dropped it; the server's logs or an idle timeout in a proxy may explain it",
        ),
        ProtocolError::PingTimeout { .. } => (
            "ping-timeout",
            "no pong came back in time: the peer or the path is not responding",
        ),
        ProtocolError::IdleTimeout { after } => {
            b.fact("after", millis(*after));
            (
                "idle-timeout",
                "no complete frame arrived within idle_timeout while no message was in progress: the peer is silent or gone. Pongs count, so with keepalive pings on (ping_interval) a live peer never reaches it: the peer stopped answering. Without pings, a quiet but healthy peer reaches it too: turn pings on, or raise idle_timeout",
            )
        }
        ProtocolError::MessageTimeout { after } => {
            b.fact("after", millis(*after));
            (
                "message-timeout",
                "a frame or message was not complete within message_timeout of its first byte (closed with 1008): the peer sends too slowly, or trickles bytes to hold the connection; raise message_timeout if large messages over a slow link are expected",
            )
        }
        ProtocolError::MemoryBudgetExceeded {
            held,
            budget,
            receiving,
        } => {
            b.fact("held", format!("{held} bytes"))
                .fact("budget", format!("{budget} bytes"))
                .fact(
                    "held_as",
                    if *receiving {
                        "a message arriving"
                    } else {
                        "output the peer did not read"
                    },
                );
            (
                "server-memory-budget",
                if *receiving {
                    "the server's memory budget for all connections (max_memory) was reached and this connection held the most, in a message still arriving (closed with 1009): raise max_memory, or lower max_message_size so that one message cannot take so much"
                } else {
                    "the server's memory budget for all connections (max_memory) was reached and this connection held the most, in output its peer did not read (closed with 1008): the peer reads too slowly or not at all; raise max_memory if such backlogs are expected"
                },
            )
        }
        ProtocolError::InvalidUtf8 { .. } | ProtocolError::CloseReasonNotUtf8 => (
            "invalid-utf8",
            "the server sent text that is not UTF-8; ClientConfig::validate_utf8(false) accepts it",
        ),
        ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => (
            "message-too-big",
            "the server sent more than the configured limit; raise max_frame_size or max_message_size",
        ),
        ProtocolError::MaskedFrameFromServer => (
            "masked-frame",
            "the server masks its frames, which RFC 6455 forbids: the server is broken (or is a client)",
        ),
        _ => (
            "protocol-error",
            "the server broke RFC 6455; the message says which rule",
        ),
    };
    b.cause(cause).hint(hint);
}

fn io_error(b: &mut Builder<'_, '_>, stage: Stage, source: &std::io::Error) {
    use std::io::ErrorKind;
    b.fact("os_error", source.to_string());
    let reset = matches!(
        source.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    );
    let closed = matches!(
        source.kind(),
        ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof
    );
    let (cause, hint): (String, &str) = match stage {
        Stage::Http | Stage::Handshake if reset => (
            "reset-during-handshake".into(),
            "the server (or a firewall, load balancer or proxy in between) reset the connection during the upgrade: it does not speak HTTP here, or refuses WebSocket requests, or crashed; a TLS port resets plain text too (try wss://)",
        ),
        Stage::Http | Stage::Handshake if closed => (
            "closed-during-handshake".into(),
            "the server closed the connection during the upgrade: its logs say why",
        ),
        Stage::Open if reset => (
            "reset-after-open".into(),
            "the server or something in between reset the open connection",
        ),
        Stage::Tls if reset => (
            "tls-reset".into(),
            "the server reset the connection during the TLS handshake: it may not speak TLS on this port, or refuse our hello",
        ),
        Stage::Proxy if reset => (
            "proxy-reset".into(),
            "the proxy reset the connection: check the proxy URL's scheme and port",
        ),
        other => (format!("{other}-io-error"), "the operating system's error says why"),
    };
    b.cause(cause).hint(hint);
}

#[cfg(feature = "tls")]
fn tls(b: &mut Builder<'_, '_>, problem: &crate::transport::tls::TlsProblem) {
    use crate::transport::tls::TlsProblem;
    const TRUST: &str = "if the server uses a private or self-signed CA, trust it with TlsOptions::ca_file; TlsOptions::insecure_skip_verify skips verification (the connection is then not authenticated)";
    match problem {
        TlsProblem::File { what, path, why } => {
            b.cause("tls-bad-file")
                .fact("file", format!("{what} {}", path.display()))
                .fact("why", why.clone())
                .hint("fix the file: PEM certificates (-----BEGIN CERTIFICATE-----) and a PEM private key");
        }
        TlsProblem::NoSystemRoots { why } => {
            b.cause("tls-no-trust-store").fact("why", why.clone()).hint(
                "install the ca-certificates package, set SSL_CERT_FILE, or trust a CA file with TlsOptions::ca_file",
            );
        }
        TlsProblem::InvalidServerName { name } => {
            b.cause("tls-invalid-server-name")
                .quote("server_name", name)
                .hint("name one a certificate can carry with TlsOptions::server_name");
        }
        TlsProblem::UnknownIssuer { server, trusted } => {
            b.cause("tls-unknown-issuer")
                .quote("server_name", server)
                .fact("trusted", trusted.clone())
                .hint(format!(
                    "the certificate was not issued by a CA in {trusted}: {TRUST}"
                ));
        }
        TlsProblem::Expired {
            server,
            not_after,
            now,
        } => {
            b.cause("tls-expired").quote("server_name", server);
            if let Some(not_after) = not_after {
                b.fact("not_after", format_utc(*not_after));
            }
            if let Some(now) = now {
                b.fact("now", format_utc(*now));
            }
            b.hint("the server's certificate has expired: it needs a new one (or this machine's clock is wrong); TlsOptions::insecure_skip_verify connects anyway, unauthenticated");
        }
        TlsProblem::NotYetValid {
            server,
            not_before,
            now,
        } => {
            b.cause("tls-not-yet-valid").quote("server_name", server);
            if let Some(not_before) = not_before {
                b.fact("not_before", format_utc(*not_before));
            }
            if let Some(now) = now {
                b.fact("now", format_utc(*now));
            }
            b.hint("the certificate is not valid yet: check this machine's clock");
        }
        TlsProblem::HostnameMismatch {
            expected,
            presented,
        } => {
            let names = if presented.is_empty() {
                "(none: no subjectAltName)".to_string()
            } else {
                presented.join(", ")
            };
            b.cause("tls-hostname-mismatch")
                .quote("expected_name", expected)
                .quote("certificate_names", &names)
                .hint("the certificate is for other names: connect with a name it carries, check it for another with TlsOptions::server_name, or skip only the name check with TlsOptions::skip_hostname_check");
        }
        TlsProblem::CaCertificate { server, ca_file } => {
            b.cause("tls-bad-certificate")
                .quote("server_name", server)
                .fact(
                    "why",
                    "a CA certificate (CA:TRUE) presented as the server's own, and not pinned",
                );
            if let Some(path) = ca_file {
                b.fact("trusted", format!("the CA file {}", path.display()));
            }
            b.hint("if it is the server's self-signed certificate (openssl req -x509 makes them CA:TRUE), trust that very certificate with TlsOptions::ca_file: a CA certificate is accepted as the server's own only when it is byte-identical to one in that file");
        }
        TlsProblem::BadCertificate { server, error } => {
            b.cause("tls-bad-certificate")
                .quote("server_name", server)
                .fact("why", TlsProblem::certificate_words(error))
                .hint(TRUST);
        }
        TlsProblem::ClientCertificateRequired => {
            b.cause("tls-client-cert-required")
                .hint("the server requires a client certificate: present one with TlsOptions::client_auth");
        }
        TlsProblem::ClientCertificateRefused { alert } => {
            b.cause("tls-client-cert-refused")
                .fact("alert", TlsProblem::alert_name(*alert))
                .hint("the server refused the client certificate: check that a CA it trusts issued it, that it is valid, and meant for client authentication");
        }
        TlsProblem::AlertReceived { alert } => {
            b.cause("tls-alert")
                .fact("alert", TlsProblem::alert_name(*alert))
                .hint("the server ended the TLS handshake: no TLS version or cipher suite in common, no site for the name sent in SNI (set with TlsOptions::server_name), or it wants a client certificate");
        }
        TlsProblem::NotTls { received } => {
            if let Some(received) = received.as_deref().filter(|bytes| !bytes.is_empty()) {
                let text = String::from_utf8_lossy(received);
                b.quote("first_bytes", &text);
            }
            b.cause("tls-not-tls").hint(
                "the server answered in plain text, not TLS: this port does not speak TLS, so use ws:// instead of wss:// (or the port that serves TLS, usually 443)",
            );
        }
        TlsProblem::Incompatible { .. } => {
            b.cause("tls-incompatible")
                .fact("why", problem.to_string())
                .hint("the server and sockeye share no TLS version, cipher suite, key exchange or signature algorithm: sockeye speaks TLS 1.2 and 1.3 with modern cipher suites, so a server limited to TLS 1.0/1.1 or to old ciphers must be reconfigured");
        }
        TlsProblem::ProtocolViolation { .. } => {
            b.cause("tls-protocol-error")
                .fact("why", problem.to_string())
                .hint("the server broke the TLS protocol: a fault of the server, or of a proxy, firewall or middlebox that alters the traffic; try another network path, or tell the server's operator");
        }
        TlsProblem::ClosedDuringHandshake => {
            b.cause("tls-closed").hint(
                "the server closed the connection during the TLS handshake: it may not speak TLS on this port (try ws://), or refused our hello (no version or cipher in common, no site for this SNI name)",
            );
        }
        _ => {
            b.cause("tls-error").fact("why", problem.to_string());
        }
    }
}

fn proxy_refused(
    b: &mut Builder<'_, '_>,
    proxy: &str,
    reason: &sockeye_proto::proxy::ProxyError,
    hint: Option<&str>,
) {
    use sockeye_proto::proxy::ProxyError;
    b.quote("proxy", proxy);
    let cause: String = match reason {
        ProxyError::HttpRefused {
            status,
            reason,
            headers,
            body,
            sent_credentials,
            ..
        } => {
            b.quote("status", &format!("{status} {reason}"));
            for (name, header) in [
                ("proxy_authenticate", "Proxy-Authenticate"),
                ("server", "Server"),
                ("x_squid_error", "X-Squid-Error"),
            ] {
                if let Some(value) = headers.get(header) {
                    b.header(name, header, value);
                }
            }
            let text = sockeye_proto::proxy::body_text(body, 240);
            if !text.is_empty() {
                b.quote("body", &text);
            }
            b.fact(
                "credentials_sent",
                if *sent_credentials { "yes" } else { "no" },
            );
            match (status, sent_credentials) {
                (407, false) => "proxy-auth-required".into(),
                (401 | 407, true) => "proxy-auth-rejected".into(),
                (401, false) => "proxy-auth-required".into(),
                (403, _) => "proxy-forbidden".into(),
                _ => "proxy-refused".into(),
            }
        }
        ProxyError::MalformedHttp { preview, .. } => {
            b.quote_escaped("first_bytes", preview);
            "proxy-not-http".into()
        }
        ProxyError::HeadTooLarge { .. } => "proxy-not-http".into(),
        ProxyError::WrongProtocol { preview, .. } => {
            b.quote_escaped("first_bytes", preview);
            "proxy-wrong-protocol".into()
        }
        ProxyError::NoAcceptableMethod {
            offered_password: false,
        } => "socks-auth-required".into(),
        ProxyError::NoAcceptableMethod { .. } => "socks-auth-unsupported".into(),
        ProxyError::UnexpectedMethod { method: 0x02, .. } => "socks-auth-required".into(),
        ProxyError::UnexpectedMethod { .. } => "socks-malformed".into(),
        ProxyError::AuthenticationFailed { .. } => "socks-auth-rejected".into(),
        ProxyError::Socks5Refused { code, .. } => {
            b.fact(
                "socks_reply",
                format!(
                    "{code:#04x} ({})",
                    sockeye_proto::proxy::socks5_reply_meaning(*code)
                ),
            );
            match code {
                0x01 => "socks-failure",
                0x02 => "socks-forbidden",
                0x03 => "socks-network-unreachable",
                0x04 => "socks-host-unreachable",
                0x05 => "socks-connection-refused",
                0x06 => "socks-ttl-expired",
                0x07 => "socks-command-unsupported",
                0x08 => "socks-address-unsupported",
                _ => "socks-refused",
            }
            .into()
        }
        ProxyError::Socks4Refused { code, .. } => {
            b.fact(
                "socks_reply",
                format!(
                    "{code} ({})",
                    sockeye_proto::proxy::socks4_reply_meaning(*code)
                ),
            );
            match code {
                92 | 93 => "socks-identd",
                _ => "socks-rejected",
            }
            .into()
        }
        ProxyError::MalformedReply { .. } => "socks-malformed".into(),
        ProxyError::Closed { .. } => "proxy-closed".into(),
        ProxyError::UnsupportedDestination { .. } => "proxy-unsupported-destination".into(),
        ProxyError::UnsupportedCredentials { .. } => "proxy-unsupported-credentials".into(),
        _ => "proxy-failed".into(),
    };
    b.cause(cause);
    b.hint(hint.unwrap_or("the proxy did not open the tunnel; the message says what it answered"));
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn cause(error: Error) -> (Stage, String) {
        let diagnosis = error.diagnosis();
        (diagnosis.stage, diagnosis.cause)
    }

    #[test]
    fn network_errors_have_their_causes() {
        let dns = |text: &str| {
            crate::transport::tcp::dns_error("nowhere.invalid", io::Error::other(text.to_string()))
        };
        assert_eq!(
            cause(dns(
                "failed to lookup address information: Name or service not known"
            )),
            (Stage::Dns, "dns-not-found".into())
        );
        assert_eq!(
            cause(dns(
                "failed to lookup address information: Temporary failure in name resolution"
            ))
            .1,
            "dns-temporary-failure"
        );
        let tcp = |kind: io::ErrorKind| Error::Connect {
            addr: "192.0.2.1:80".into(),
            source: kind.into(),
        };
        for (kind, expected) in [
            (io::ErrorKind::ConnectionRefused, "tcp-refused"),
            (io::ErrorKind::TimedOut, "tcp-timeout"),
            (io::ErrorKind::HostUnreachable, "tcp-unreachable"),
            (io::ErrorKind::NetworkUnreachable, "tcp-unreachable"),
        ] {
            assert_eq!(cause(tcp(kind)), (Stage::Tcp, expected.to_string()));
        }
        let timeout = |stage| Error::Timeout {
            stage,
            after: Duration::from_millis(250),
        };
        assert_eq!(cause(timeout(Stage::Tcp)).1, "tcp-timeout");
        assert_eq!(cause(timeout(Stage::Tls)).1, "timeout-tls");
        assert_eq!(cause(timeout(Stage::Http)).1, "timeout-http");
        assert_eq!(cause(timeout(Stage::Proxy)).1, "timeout-proxy");
        let diagnosis = timeout(Stage::Http).diagnosis();
        assert_eq!(diagnosis.evidence("after"), Some("250 ms"));
    }

    #[test]
    fn receive_timeouts_and_the_memory_budget_have_their_causes() {
        let after = Duration::from_secs(60);
        let diagnosis = Error::Protocol(ProtocolError::MessageTimeout { after }).diagnosis();
        assert_eq!(
            (diagnosis.stage, diagnosis.cause.as_str()),
            (Stage::Open, "message-timeout")
        );
        assert_eq!(
            diagnosis.evidence("close_code"),
            Some("1008 (policy violation)")
        );
        assert_eq!(diagnosis.evidence("after"), Some("60000 ms"));
        assert!(diagnosis.hint.contains("message_timeout"), "{diagnosis}");

        let diagnosis = Error::Protocol(ProtocolError::IdleTimeout { after }).diagnosis();
        assert_eq!(diagnosis.cause, "idle-timeout");
        assert_eq!(diagnosis.evidence("close_code"), Some("1001 (going away)"));
        for said in ["no complete frame", "idle_timeout", "stopped answering"] {
            assert!(diagnosis.hint.contains(said), "{said}: {diagnosis}");
        }

        for (receiving, code, held_as) in [
            (true, "1009 (message too big)", "a message arriving"),
            (
                false,
                "1008 (policy violation)",
                "output the peer did not read",
            ),
        ] {
            let diagnosis = Error::Protocol(ProtocolError::MemoryBudgetExceeded {
                held: 5_000_000,
                budget: 268_435_456,
                receiving,
            })
            .diagnosis();
            assert_eq!(diagnosis.cause, "server-memory-budget");
            assert_eq!(diagnosis.evidence("close_code"), Some(code));
            assert_eq!(diagnosis.evidence("held"), Some("5000000 bytes"));
            assert_eq!(diagnosis.evidence("budget"), Some("268435456 bytes"));
            assert_eq!(diagnosis.evidence("held_as"), Some(held_as));
            assert!(diagnosis.hint.contains("max_memory"), "{diagnosis}");
        }
    }

    #[test]
    fn a_resolution_that_runs_out_of_time_is_dns_timeout() {
        let err = Error::Timeout {
            stage: Stage::Dns,
            after: Duration::from_millis(400),
        };
        let diagnosis = err.diagnosis();
        assert_eq!(
            (diagnosis.stage, diagnosis.cause.as_str()),
            (Stage::Dns, "dns-timeout")
        );
        assert!(diagnosis.hint.contains("connect_timeout"), "{diagnosis}");
        // DNS and TCP under one limit: the stage still running is the one timed out.
        let mut timings = Timings::default();
        assert_eq!(
            timings.set_unfinished(Duration::from_millis(400)),
            Stage::Dns
        );
        assert_eq!(timings.dns, Some(Duration::from_millis(400)));
        assert_eq!(timings.tcp, None);
        let mut timings = Timings::default();
        timings.set(Stage::Dns, Duration::from_millis(100));
        assert_eq!(
            timings.set_unfinished(Duration::from_millis(400)),
            Stage::Tcp
        );
        assert_eq!(timings.tcp, Some(Duration::from_millis(300)));
    }

    #[test]
    fn urls_name_what_is_wrong() {
        for (url, expected) in [
            ("http://example.com/", "url-http-scheme"),
            ("https://example.com/", "url-https-scheme"),
            ("ftp://example.com/", "url-bad-scheme"),
            ("ws://example.com:99999/", "url-bad-port"),
            ("ws://example.com/#x", "url-fragment"),
            ("example.com", "url-not-absolute"),
        ] {
            let err = ClientConfig::new(url).expect_err(url);
            assert_eq!(cause(err), (Stage::Url, expected.to_string()), "{url}");
        }
        let err = ClientConfig::new("https://example.com/").expect_err("https");
        assert!(err.diagnosis().hint.contains("wss://"));
    }

    #[test]
    fn evidence_is_redacted_unless_secrets_are_shown() {
        let mut headers = sockeye_proto::handshake::Headers::new();
        headers.push("Set-Cookie", "sid=SECRET; Path=/");
        headers.push("Location", "/login?token=SECRET");
        let err = Error::Handshake(HandshakeError::UnexpectedStatus {
            status: 302,
            reason: "Found".into(),
            headers,
            body: bytes::Bytes::from_static(b"go to /login?token=SECRET"),
        });
        let config = ClientConfig::new("ws://example.com/chat?token=SECRET").expect("a URL");
        let shown = err.diagnosis_for(&config).to_string();
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("status-302"), "{shown}");
        let shown = err.diagnosis_for(&config.show_secrets(true)).to_string();
        assert!(shown.contains("token=SECRET"), "{shown}");
    }

    #[test]
    fn dates_are_printed_in_utc() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661);
        assert_eq!(format_utc(leap_day), "2000-02-29 01:01:01 UTC");
    }
}
