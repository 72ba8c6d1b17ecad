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

mod dns;
mod handshake;
mod http;
mod io;
mod open;
mod proxy;
mod report;
mod tcp;
#[cfg(feature = "tls")]
mod tls;
mod url;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{ClientConfig, Target};
use crate::error::{Error, Stage};
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
        Error::InvalidUrl { url, problem, hint } => url::invalid_url(&mut b, url, problem, *hint),
        Error::Unsupported(_) => url::unsupported(&mut b),
        Error::Dns {
            host,
            failure,
            source,
        } => dns::dns(&mut b, host, *failure, source),
        Error::Connect { addr, source } => tcp::connect(&mut b, addr, source),
        Error::Timeout { stage, after } => io::timeout(&mut b, *stage, *after),
        Error::RequestTimeout { after } => http::request_timeout(&mut b, *after),
        Error::Handshake(err) => handshake::handshake(&mut b, err),
        Error::Redirect {
            status,
            from,
            location,
            reason,
        } => http::redirect(&mut b, *status, from, location, reason),
        Error::Rejected { status } => handshake::rejected(&mut b, *status),
        Error::Protocol(err) => open::protocol(&mut b, err),
        Error::Send(_) => open::send_refused(&mut b),
        Error::Io { stage, source } => io::io_error(&mut b, *stage, source),
        Error::ConnectionClosed => open::closed(&mut b),
        #[cfg(feature = "tls")]
        Error::Tls(problem) => tls::tls(&mut b, problem),
        Error::Proxy {
            proxy,
            reason,
            hint,
        } => proxy::refused(&mut b, proxy, reason, *hint),
        Error::ProxyUnreachable {
            proxy,
            failed_at,
            source,
        } => proxy::unreachable(&mut b, proxy, *failed_at, source),
        Error::SubprotocolNotSelected { offered } => {
            handshake::subprotocol_not_selected(&mut b, offered)
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

#[cfg(test)]
mod tests {
    use std::io;

    use sockeye_proto::{HandshakeError, ProtocolError};

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
