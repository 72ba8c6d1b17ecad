//! `sockeye probe URL`: connect with every option of `sockeye connect`, then report how long
//! each stage took, the TLS session, the heads as they crossed the wire (redacted), and a
//! verdict: OK, or the stage that failed with its cause, evidence and hint.
//!
//! The connection goes through `sockeye::blocking::connect_with_report`; the diagnosis is the
//! library's (`ConnectReport::diagnose`), so an application sees the same.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use regex::Regex;
use serde_json::{json, Map, Value};
use sockeye::diagnose::{format_utc, ConnectReport, Head, TlsInfo};
use sockeye::transport::proxy::{NoProxySource, ProxySource, SelectedProxy};
use sockeye::transport::{Route, Stream};
use sockeye::{blocking, ClientConfig, CloseCode, Diagnosis, Error, Message, Stage};

use crate::connect_args::ConnectArgs;
use crate::exit::EXIT_USAGE;
use crate::{connect, print, trace};

const PROBE: &str = "Probe options";

/// `sockeye probe`'s flags: all of `sockeye connect`'s, and what to check once open.
#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    /// Once open, send this text message, and time and show the first message that comes back.
    #[arg(long, value_name = "TEXT", help_heading = PROBE)]
    pub(crate) send: Option<String>,
    /// The first message received (the reply to --send, or the first the server sends by
    /// itself) must match this regular expression (Rust regex syntax; binary messages are
    /// matched as text).
    #[arg(long, value_name = "REGEX", help_heading = PROBE)]
    pub(crate) expect: Option<String>,
    /// Seconds to wait for that first message.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", help_heading = PROBE)]
    pub(crate) wait: f64,
    /// Print the report as one JSON object (ok, stage, cause, hint, evidence, timings_ms,
    /// tls, request, response…) instead of text.
    #[arg(long, help_heading = PROBE)]
    pub(crate) json: bool,
}

/// `--help` text after the options: what the report holds and the exit statuses.
pub(crate) const AFTER_HELP: &str = "\
Examples:
  sockeye probe wss://example.com/socket
  sockeye probe --send hello --expect '^hello$' ws://127.0.0.1:9001/   (an echo server)
  sockeye probe --json wss://example.com/socket | jq .cause    (exit status: the stage)
  sockeye probe --cacert ca.pem -H 'Cookie: session=abc' wss://staging.example/ws

The report: the URL and route (direct, Unix socket, or the proxy and where it came from; a proxy
that no_proxy went around; the peer address), the time of each stage (dns, tcp, proxy,
tls, http upgrade, first message), the TLS session (version, cipher suite, ALPN, the
certificate's subject, issuer, validity and names), the request and response headers as sent
and received (secrets redacted unless --show-secrets), and the verdict: OK, or the stage that
failed with a stable cause (status-404, tls-unknown-issuer, accept-mismatch…), the evidence and
what to try. When a certificate is refused, a second, unverified handshake fetches it so that
the report can show it. --json prints the same as one object: ok, stage, cause, hint,
evidence, timings_ms, tls, request, response, exchange. docs/diagnose.md lists the causes.

Exit status (one per failing stage, for CI):
   0  OK: the connection opened (and --expect matched)
  10  url: bad URL or options        14  tls: TLS handshake or certificate
  11  dns: the name did not resolve  15  http: the server answered, but not 101
  12  tcp: no TCP connection         16  handshake: a 101 that breaks RFC 6455
  13  proxy: the proxy failed        17  open: no or wrong reply (--send/--expect), closed
   2  bad usage (such as an invalid --expect regex)
   1  anything else";

/// The exit status for a failure at `stage`.
fn exit_code(stage: &str) -> u8 {
    match stage {
        "url" => 10,
        "dns" => 11,
        "tcp" => 12,
        "proxy" => 13,
        "tls" => 14,
        "http" => 15,
        "handshake" => 16,
        "open" => 17,
        _ => 1,
    }
}

/// Why the probe failed: the library's diagnosis, or one of the probe's own.
struct Failure {
    stage: String,
    cause: String,
    summary: String,
    hint: String,
    evidence: Vec<(String, String)>,
}

impl From<Diagnosis> for Failure {
    fn from(diagnosis: Diagnosis) -> Self {
        Self {
            stage: diagnosis.stage.to_string(),
            cause: diagnosis.cause,
            summary: print::in_flags(&diagnosis.summary),
            hint: print::in_flags(&diagnosis.hint),
            evidence: diagnosis
                .evidence
                .into_iter()
                .map(|evidence| (evidence.name.to_string(), evidence.value))
                .collect(),
        }
    }
}

/// What was sent and received once open.
#[derive(Default)]
struct Exchange {
    sent: Option<String>,
    received: Option<String>,
    expect: Option<String>,
    matched: Option<bool>,
}

/// A certificate's names and dates, read from its DER with x509-parser.
struct Certificate {
    subject: String,
    issuer: String,
    not_before: Option<SystemTime>,
    not_after: Option<SystemTime>,
    names: Vec<String>,
}

impl Certificate {
    fn parse(der: &[u8]) -> Option<Self> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let time = |timestamp: i64| {
            u64::try_from(timestamp)
                .ok()
                .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
        };
        let names = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_string()),
                    GeneralName::IPAddress(ip) => ip_text(ip),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: time(cert.validity().not_before.timestamp()),
            not_after: time(cert.validity().not_after.timestamp()),
            names,
        })
    }

    fn self_signed(&self) -> bool {
        self.subject == self.issuer
    }

    /// `expires 2026-01-01 00:00:00 UTC (in 30 days)` or `expired … (12 days ago)`.
    fn expiry(&self) -> Option<String> {
        let not_after = self.not_after?;
        let now = SystemTime::now();
        Some(match not_after.duration_since(now) {
            Ok(left) => format!(
                "{} (in {} days)",
                format_utc(not_after),
                left.as_secs() / 86_400
            ),
            Err(past) => format!(
                "{} (expired {} days ago)",
                format_utc(not_after),
                past.duration().as_secs() / 86_400
            ),
        })
    }

    fn json(&self) -> Value {
        json!({
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.map(format_utc),
            "not_after": self.not_after.map(format_utc),
            "names": self.names,
            "self_signed": self.self_signed(),
        })
    }
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|octets| std::net::Ipv4Addr::from(octets).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|octets| std::net::Ipv6Addr::from(octets).to_string()),
        _ => None,
    }
}

/// The TLS session as the report shows it.
struct TlsView {
    info: TlsInfo,
    /// False when the certificate was fetched by a second, unverified handshake after the
    /// verified one refused it.
    verified: bool,
    leaf: Option<Certificate>,
}

impl TlsView {
    fn new(info: TlsInfo, verified: bool) -> Self {
        let leaf = info
            .certificates
            .first()
            .and_then(|der| Certificate::parse(der));
        Self {
            info,
            verified,
            leaf,
        }
    }
}

/// Everything the report shows.
struct Probe {
    url: String,
    report: Option<ConnectReport>,
    tls: Option<TlsView>,
    first_message: Option<Duration>,
    exchange: Option<Exchange>,
    subprotocol: Option<String>,
    failure: Option<Failure>,
}

pub(crate) fn run(args: &ProbeArgs) -> anyhow::Result<ExitCode> {
    let c = &args.connect;
    let expect = match args.expect.as_deref().map(Regex::new).transpose() {
        Ok(expect) => expect,
        Err(err) => {
            note!("sockeye: --expect is not a valid regular expression: {err}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    if !(args.wait.is_finite() && args.wait > 0.0) {
        note!("sockeye: --wait must be a positive number of seconds");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let wait = Duration::from_secs_f64(args.wait);
    trace::enable(c.verbose > 0, &c.trace)?;
    let mut probe = Probe {
        url: trace::shown_url(&c.url, c.trace.show_secrets),
        report: None,
        tls: None,
        first_message: None,
        exchange: None,
        subprotocol: None,
        failure: None,
    };
    match connect::config(c) {
        Err(err) => probe.failure = Some(option_failure(&err, c.trace.show_secrets)),
        Ok(config) => connect_and_check(&mut probe, config, args, expect.as_ref(), wait),
    }
    let code = probe
        .failure
        .as_ref()
        .map_or(0, |failure| exit_code(&failure.stage));
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        writeln!(out, "{}", json_report(&probe, code))
    } else {
        out.write_all(human_report(&probe).as_bytes())
    };
    written
        .and_then(|()| out.flush())
        .context("cannot write the report")?;
    Ok(ExitCode::from(code))
}

/// A failure before connecting: bad URL or options.
fn option_failure(err: &anyhow::Error, show_secrets: bool) -> Failure {
    if let Some(err) = err.downcast_ref::<Error>() {
        let mut failure = Failure::from(err.diagnosis());
        if show_secrets {
            failure.summary = print::in_flags(&err.unredacted().to_string());
        }
        return failure;
    }
    Failure {
        stage: Stage::Url.to_string(),
        cause: "invalid-option".into(),
        summary: format!("{err:#}"),
        hint: "fix the option as the message says (sockeye probe --help)".into(),
        evidence: Vec::new(),
    }
}

/// Connects, then (with --send/--expect) checks the first message, and closes.
fn connect_and_check(
    probe: &mut Probe,
    config: ClientConfig,
    args: &ProbeArgs,
    expect: Option<&Regex>,
    wait: Duration,
) {
    let (result, report) = blocking::connect_with_report(config.clone());
    probe.url = trace::shown_url(&report.url, config.show_secrets);
    probe.tls = report.tls.clone().map(|info| TlsView::new(info, true));
    match result {
        Err(err) => {
            let mut failure = Failure::from(report.diagnose(&err));
            if failure.stage == "tls" && refused_certificate(&failure.cause) {
                probe.tls = fetch_certificate(&config);
                add_certificate_evidence(&mut failure, probe.tls.as_ref());
            }
            probe.failure = Some(failure);
        }
        Ok((mut socket, response)) => {
            probe.subprotocol = response.subprotocol.clone();
            if args.send.is_some() || expect.is_some() {
                let (exchange, took, failure) = exchange(&mut socket, args, expect, wait);
                probe.exchange = Some(exchange);
                probe.first_message = took;
                probe.failure = failure;
            }
            close(&mut socket, args);
        }
    }
    probe.report = Some(report);
}

/// Causes for which the server's certificate is worth fetching to show it.
fn refused_certificate(cause: &str) -> bool {
    matches!(
        cause,
        "tls-unknown-issuer"
            | "tls-expired"
            | "tls-not-yet-valid"
            | "tls-hostname-mismatch"
            | "tls-bad-certificate"
    )
}

/// The certificate the server presents, by a second handshake that verifies nothing (the
/// connection is dropped right after it).
fn fetch_certificate(config: &ClientConfig) -> Option<TlsView> {
    let insecure = config
        .clone()
        .tls(config.tls.clone().insecure_skip_verify(true));
    let stream = sockeye::transport::dial(&insecure).ok()?;
    let info = match &stream {
        Stream::Tls(_) => TlsInfo::of_stream(&stream)?,
        _ => return None,
    };
    Some(TlsView::new(info, false))
}

fn add_certificate_evidence(failure: &mut Failure, tls: Option<&TlsView>) {
    let Some(leaf) = tls.and_then(|tls| tls.leaf.as_ref()) else {
        return;
    };
    let mut add = |name: &str, value: String| failure.evidence.push((name.to_string(), value));
    add("certificate_subject", leaf.subject.clone());
    add("certificate_issuer", leaf.issuer.clone());
    if let Some(expiry) = leaf.expiry() {
        add("certificate_not_after", expiry);
    }
    if !leaf.names.is_empty() {
        add("certificate_san", leaf.names.join(", "));
    }
    if leaf.self_signed() && failure.cause == "tls-unknown-issuer" {
        add("self_signed", "yes".to_string());
        failure.hint = format!(
            "the certificate is self-signed ({}): trust it with --cacert FILE (that certificate, in PEM), or skip verification with -k/--insecure",
            leaf.subject
        );
    }
}

/// --send and --expect: the first text or binary message, how long it took, and whether it
/// is what was expected.
fn exchange(
    socket: &mut sockeye::blocking::WebSocket<Stream>,
    args: &ProbeArgs,
    expect: Option<&Regex>,
    wait: Duration,
) -> (Exchange, Option<Duration>, Option<Failure>) {
    let mut exchange = Exchange {
        sent: args.send.clone(),
        expect: args.expect.clone(),
        ..Exchange::default()
    };
    let started = Instant::now();
    if let Some(text) = &args.send {
        if let Err(err) = socket.send_text(text) {
            return (exchange, None, Some(err.diagnosis().into()));
        }
    }
    let deadline = started + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
            return (exchange, None, Some(no_reply(wait)));
        }
        let received = match socket.read() {
            Ok(Message::Text(text)) => text.as_str().to_string(),
            Ok(Message::Binary(data)) => String::from_utf8_lossy(&data).into_owned(),
            Ok(_) => continue,
            Err(Error::Timeout { .. }) => return (exchange, None, Some(no_reply(wait))),
            Err(Error::ConnectionClosed) => {
                let close = socket.connection().close_received().cloned().flatten();
                let failure = Failure {
                    stage: "open".into(),
                    cause: "closed-after-open".into(),
                    summary: format!(
                        "the server closed the connection with {} before sending a message",
                        print::close(close.as_ref())
                    ),
                    hint: "the server ended the connection: its close code and reason say why (1008: policy, such as a missing token; 1011: server error)".into(),
                    evidence: vec![("close".into(), print::close(close.as_ref()))],
                };
                return (exchange, None, Some(failure));
            }
            Err(err) => return (exchange, None, Some(err.diagnosis().into())),
        };
        let took = started.elapsed();
        let matched = expect.map(|regex| regex.is_match(&received));
        exchange.received = Some(received.clone());
        exchange.matched = matched;
        let failure = (matched == Some(false)).then(|| Failure {
            stage: "open".into(),
            cause: "expect-mismatch".into(),
            summary: "the first message received does not match --expect".into(),
            hint: "the server answered something else: check --send, the regular expression, and the server's protocol (it may send a greeting first)".into(),
            evidence: vec![
                ("expected".into(), args.expect.clone().unwrap_or_default()),
                ("received".into(), preview(&received)),
            ],
        });
        return (exchange, Some(took), failure);
    }
}

fn no_reply(wait: Duration) -> Failure {
    Failure {
        stage: "open".into(),
        cause: "timeout-open".into(),
        summary: format!("no message arrived within {wait:?}"),
        hint:
            "the server sent nothing back: check what it expects (--send), or wait longer (--wait)"
                .into(),
        evidence: vec![("after".into(), format!("{} ms", wait.as_millis()))],
    }
}

/// At most 200 characters of peer text, control characters escaped.
fn preview(text: &str) -> String {
    let mut shown: String = text.chars().take(200).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    print::escape_text(&shown)
}

/// Closes with --close-code and --close-reason, waiting at most --close-timeout.
fn close(socket: &mut sockeye::blocking::WebSocket<Stream>, args: &ProbeArgs) {
    let c = &args.connect;
    let wait = Duration::from_secs_f64(c.close_timeout.clamp(0.02, 60.0));
    let _ = socket.set_read_timeout(Some(wait));
    let _ = socket.close(CloseCode::from(c.close_code), &c.close_reason);
}

fn millis(duration: Option<Duration>) -> Value {
    duration.map_or(Value::Null, |took| {
        json!((took.as_secs_f64() * 1e6).round() / 1e3)
    })
}

fn head_json(head: Option<Head>) -> Value {
    let Some(head) = head else {
        return Value::Null;
    };
    let mut object = Map::new();
    object.insert("line".into(), json!(head.start_line));
    if let Some(status) = head.status {
        object.insert("status".into(), json!(status));
    }
    let headers: Vec<Value> = head
        .headers
        .iter()
        .map(|(name, value)| json!([name, value]))
        .collect();
    object.insert("headers".into(), Value::Array(headers));
    if !head.body.is_empty() {
        object.insert(
            "body".into(),
            json!(String::from_utf8_lossy(
                &head.body[..head.body.len().min(4096)]
            )),
        );
    }
    Value::Object(object)
}

/// The route as JSON: `{"kind": "direct" | "unix" | "proxy", …}` with the proxy and where it
/// came from, the socket's path, or the proxy that `no_proxy` made the connection go around.
fn route_json(route: &Route) -> Value {
    let proxy = |proxy: &SelectedProxy| {
        let source = match proxy.source {
            ProxySource::Config => "config".to_string(),
            ProxySource::Environment(name) => name.to_string(),
            _ => "other".to_string(),
        };
        json!({ "url": proxy.url.to_string(), "source": source })
    };
    match route {
        Route::Proxy(selected) => json!({ "kind": "proxy", "proxy": proxy(selected) }),
        Route::Unix { path } => json!({ "kind": "unix", "path": path.display().to_string() }),
        Route::Direct { bypassed } => {
            let bypassed = bypassed.as_ref().map_or(Value::Null, |bypass| {
                let by = match bypass.by {
                    NoProxySource::Config => "config".to_string(),
                    NoProxySource::Environment(name) => name.to_string(),
                    NoProxySource::Loopback => "loopback".to_string(),
                    _ => "other".to_string(),
                };
                json!({ "proxy": proxy(&bypass.proxy), "no_proxy": by })
            });
            json!({ "kind": "direct", "bypassed": bypassed })
        }
        _ => json!({ "kind": "other", "shown": route.to_string() }),
    }
}

fn json_report(probe: &Probe, code: u8) -> Value {
    let report = probe.report.as_ref();
    let timings = report.map(|report| report.timings).unwrap_or_default();
    let timings_ms = json!({
        "dns": millis(timings.dns),
        "tcp": millis(timings.tcp),
        "proxy": millis(timings.proxy),
        "tls": millis(timings.tls),
        "http": millis(timings.http),
        "first_message": millis(probe.first_message),
        "total": millis(timings.total),
    });
    let tls = probe.tls.as_ref().map_or(Value::Null, |tls| {
        json!({
            "verified": tls.verified,
            "version": tls.info.version,
            "cipher_suite": tls.info.cipher_suite,
            "alpn": tls.info.alpn,
            "certificate": tls.leaf.as_ref().map_or(Value::Null, Certificate::json),
            "chain_length": tls.info.certificates.len(),
        })
    });
    let exchange = probe.exchange.as_ref().map_or(Value::Null, |exchange| {
        json!({
            "sent": exchange.sent,
            "received": exchange.received,
            "expect": exchange.expect,
            "matched": exchange.matched,
        })
    });
    let (stage, cause, summary, hint, evidence) = match &probe.failure {
        Some(failure) => (
            failure.stage.as_str(),
            failure.cause.as_str(),
            json!(failure.summary),
            json!(failure.hint),
            failure
                .evidence
                .iter()
                .map(|(name, value)| (name.clone(), json!(value)))
                .collect::<Map<String, Value>>(),
        ),
        None => ("open", "ok", Value::Null, Value::Null, Map::new()),
    };
    json!({
        "ok": probe.failure.is_none(),
        "url": probe.url,
        "stage": stage,
        "cause": cause,
        "summary": summary,
        "hint": hint,
        "evidence": evidence,
        "exit_code": code,
        "timings_ms": timings_ms,
        "peer": report.and_then(|report| report.peer.clone()),
        "proxy": report.and_then(|report| report.proxy.clone()),
        "route": report.and_then(|report| report.route.as_ref()).map_or(Value::Null, route_json),
        "redirects": report.map(|report| report.redirects.clone()).unwrap_or_default(),
        "tls": tls,
        "request": head_json(report.and_then(ConnectReport::request_head)),
        "response": head_json(report.and_then(ConnectReport::response_head)),
        "subprotocol": probe.subprotocol,
        "exchange": exchange,
    })
}

/// `12.3 ms`, or `-` for a stage that did not run.
fn shown_millis(duration: Option<Duration>) -> String {
    duration.map_or_else(
        || "-".to_string(),
        |took| format!("{:.1} ms", took.as_secs_f64() * 1000.0),
    )
}

fn human_report(probe: &Probe) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let report = probe.report.as_ref();
    let _ = writeln!(out, "sockeye probe {}", print::escape_text(&probe.url));
    if let Some(report) = report {
        for redirect in &report.redirects {
            let _ = writeln!(out, "  redirected from {}", print::escape_text(redirect));
        }
        let route = report
            .route
            .as_ref()
            .map_or_else(|| "-".to_string(), ToString::to_string);
        let _ = writeln!(out, "  route        {}", print::escape_text(&route));
        if let Some(bypass) = report.route.as_ref().and_then(Route::bypassed) {
            let bypass = print::in_flags(&bypass.to_string());
            let _ = writeln!(out, "  bypassed     {}", print::escape_text(&bypass));
        }
        if let Some(peer) = &report.peer {
            let _ = writeln!(out, "  peer         {peer}");
        }
        let t = report.timings;
        out.push_str("\ntimings\n");
        for (name, took) in [
            ("dns", t.dns),
            ("tcp", t.tcp),
            ("proxy", t.proxy),
            ("tls", t.tls),
            ("http", t.http),
            ("first msg", probe.first_message),
            ("total", t.total),
        ] {
            let _ = writeln!(out, "  {name:<12} {}", shown_millis(took));
        }
    }
    if let Some(tls) = &probe.tls {
        out.push_str("\ntls");
        if !tls.verified {
            out.push_str(" (certificate fetched by a second, unverified handshake)");
        }
        out.push('\n');
        let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
        let _ = writeln!(out, "  version      {}", dash(&tls.info.version));
        let _ = writeln!(out, "  cipher       {}", dash(&tls.info.cipher_suite));
        let _ = writeln!(out, "  alpn         {}", dash(&tls.info.alpn));
        if let Some(leaf) = &tls.leaf {
            let _ = writeln!(out, "  subject      {}", print::escape_text(&leaf.subject));
            let _ = writeln!(out, "  issuer       {}", print::escape_text(&leaf.issuer));
            if let Some(not_before) = leaf.not_before {
                let _ = writeln!(out, "  valid from   {}", format_utc(not_before));
            }
            if let Some(expiry) = leaf.expiry() {
                let _ = writeln!(out, "  expires      {expiry}");
            }
            if !leaf.names.is_empty() {
                let _ = writeln!(
                    out,
                    "  names        {}",
                    print::escape_text(&leaf.names.join(", "))
                );
            }
        }
    }
    if let Some(head) = report.and_then(ConnectReport::request_head) {
        out.push_str("\nrequest\n");
        push_head(&mut out, '>', &head);
    }
    if let Some(head) = report.and_then(ConnectReport::response_head) {
        out.push_str("\nresponse\n");
        push_head(&mut out, '<', &head);
        if !head.body.is_empty() {
            let body = String::from_utf8_lossy(&head.body);
            let _ = writeln!(out, "  < [body] {}", preview(&body));
        }
    }
    if let Some(exchange) = &probe.exchange {
        out.push_str("\nexchange\n");
        if let Some(sent) = &exchange.sent {
            let _ = writeln!(out, "  > {}", preview(sent));
        }
        if let Some(received) = &exchange.received {
            let _ = writeln!(out, "  < {}", preview(received));
        }
        if let (Some(expect), Some(matched)) = (&exchange.expect, exchange.matched) {
            let verdict = if matched { "matches" } else { "does not match" };
            let _ = writeln!(out, "  {verdict} /{expect}/");
        }
    }
    out.push('\n');
    match &probe.failure {
        None => {
            let _ = write!(out, "verdict: OK, the connection opened");
            if let Some(subprotocol) = &probe.subprotocol {
                let _ = write!(out, " (subprotocol {})", print::escape_text(subprotocol));
            }
            out.push('\n');
        }
        Some(failure) => {
            let _ = writeln!(
                out,
                "verdict: FAILED at the {} stage: {}",
                failure.stage, failure.cause
            );
            let _ = writeln!(out, "  {}", print::escape_text(&failure.summary));
            if !failure.evidence.is_empty() {
                out.push_str("  evidence\n");
                for (name, value) in &failure.evidence {
                    let _ = writeln!(out, "    {name:<22} {}", print::escape_text(value));
                }
            }
            if !failure.hint.is_empty() {
                let _ = writeln!(out, "  hint: {}", print::escape_text(&failure.hint));
            }
        }
    }
    out
}

fn push_head(out: &mut String, direction: char, head: &Head) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "  {direction} {}",
        print::escape_text(&head.start_line)
    );
    for (name, value) in &head.headers {
        let _ = writeln!(
            out,
            "  {direction} {}: {}",
            print::escape_text(name),
            print::escape_text(value)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_has_its_own_exit_status() {
        let codes: Vec<u8> = [
            "url",
            "dns",
            "tcp",
            "proxy",
            "tls",
            "http",
            "handshake",
            "open",
        ]
        .iter()
        .map(|stage| exit_code(stage))
        .collect();
        assert_eq!(codes, [10, 11, 12, 13, 14, 15, 16, 17]);
    }

    #[test]
    fn ip_addresses_in_certificates_are_printed() {
        assert_eq!(ip_text(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_text(&v6).as_deref(), Some("::1"));
        assert_eq!(ip_text(&[1, 2, 3]), None);
    }
}
