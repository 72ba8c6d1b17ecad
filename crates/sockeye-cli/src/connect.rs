//! `sockeye connect URL`: stdin lines out as text messages, everything that arrives printed.

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context};
use sockeye::proto::connection::keepalive::KeepaliveConfig;
use sockeye::transport::proxy::ProxyScheme;
use sockeye::TlsOptions;
use sockeye::{ClientConfig, CloseCode, MaskKeys};
use sockeye::{NoProxy, ProxyConfig};

use crate::connect_args::{ConnectArgs, ConnectCommand, ProxyArgs, TlsArgs};
use crate::connect_loop::{self, Limits};
use crate::exit::{EXIT_CONNECT_FAILED, EXIT_MAX_TIME};
use crate::trace;

/// The close timeout used when `--close-timeout 0` is given.
const MIN_WAIT: Duration = Duration::from_millis(20);

fn seconds(value: f64, flag: &str) -> anyhow::Result<Option<Duration>> {
    if !(value.is_finite() && value >= 0.0) {
        bail!("{flag} must be a number of seconds, not {value}");
    }
    Ok((value > 0.0).then(|| Duration::from_secs_f64(value)))
}

pub(crate) fn config(args: &ConnectArgs) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::new(&args.url)?
        .connect_timeout(seconds(args.connect_timeout, "--connect-timeout")?)
        .handshake_timeout(seconds(args.handshake_timeout, "--handshake-timeout")?);
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("{}", header_without_colon(header, args.trace.show_secrets));
        };
        config = config.header(name.trim(), value.trim());
    }
    if let Some(origin) = &args.origin {
        config = config.origin(origin);
    }
    for protocol in &args.subprotocols {
        config = config.subprotocol(protocol);
    }
    config = config.require_subprotocol(args.require_subprotocol);
    if args.no_compression {
        config = config.compression(None);
    }
    config = handshake_and_frame_options(config, args)?;
    config = proxy_options(config, &args.proxy)?;
    config = tls_options(config, &args.tls)?;
    Ok(trace::client(config, &args.trace, args.verbose))
}

/// The curl-style handshake flags, redirects, and the frame-level switches.
fn handshake_and_frame_options(
    mut config: ClientConfig,
    args: &ConnectArgs,
) -> anyhow::Result<ClientConfig> {
    if let Some(user_agent) = &args.user_agent {
        config = config.user_agent(user_agent);
    }
    // A value without "=" goes as it is, as websocket-client sends `cookie="chocolate"`.
    if !args.cookies.is_empty() {
        config = config.cookie(args.cookies.join("; "));
    }
    if let Some(user) = &args.user {
        let (name, password) = user.split_once(':').unwrap_or((user, ""));
        config = config.basic_auth(name, password);
    }
    if let Some(token) = &args.bearer {
        config = config.bearer_token(token);
    }
    if let Some(path) = &args.unix_socket {
        config = config.unix_socket(path);
    }
    config = config
        .tcp_keepalive(args.tcp_keepalive)
        .tcp_nodelay(!args.no_nodelay)
        .local_address(args.local_address)
        .follow_redirects(args.location)
        .max_redirects(args.max_redirs)
        .assemble_messages(!args.frames)
        .validate_utf8(!args.no_utf8_check);
    if let Some(key) = &args.mask_key {
        config = config.mask_keys(MaskKeys::Fixed(mask_key(key)?));
    }
    let close = CloseCode::from(args.close_code);
    if !close.is_allowed_on_wire() {
        bail!("--close-code {close} may not be sent in a close frame (RFC 6455 section 7.4)");
    }
    if args.close_reason.len() > 123 {
        bail!(
            "--close-reason is {} bytes; the limit is 123",
            args.close_reason.len()
        );
    }
    Ok(config)
}

/// The error for a `--header` without a colon. What follows the name may be a credential
/// (`--header "Authorization Bearer x"`), so only the name is quoted, and nothing when there is
/// no name to tell apart from the rest; `--show-secrets` quotes it whole.
fn header_without_colon(header: &str, show_secrets: bool) -> String {
    const FORM: &str = "must look like \"Name: value\"";
    if show_secrets {
        return format!("--header {header:?} {FORM}");
    }
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let name_end = header.find(|c: char| !is_token(c)).unwrap_or(header.len());
    let name = &header[..name_end];
    // A name followed by something else, that looks like a name: not a lone token or key.
    let shown = !name.is_empty()
        && name_end < header.len()
        && name.len() <= 64
        && sockeye::redact::text(name) == name;
    if shown {
        format!("--header \"{name} …\" {FORM}: put a colon after the header name ({name}: …); the value is not shown, as it may be a secret")
    } else {
        format!("--header {FORM}; one given has no colon (not shown: it may be a secret; --show-secrets shows it)")
    }
}

/// The TLS flags (wss://): CA file, client certificate, verification switches, SNI, timeout.
fn tls_options(config: ClientConfig, args: &TlsArgs) -> anyhow::Result<ClientConfig> {
    let mut tls = TlsOptions::new()
        .insecure_skip_verify(args.insecure)
        .skip_hostname_check(args.no_hostname_check);
    if let Some(path) = &args.cacert {
        tls = tls.ca_file(path);
    }
    if let Some(cert) = &args.cert {
        tls = tls.client_auth(cert, args.key.as_ref());
    }
    if let Some(name) = &args.sni {
        tls = tls.server_name(name);
    }
    let given = args.cacert.is_some()
        || args.cert.is_some()
        || args.insecure
        || args.no_hostname_check
        || args.sni.is_some();
    if given && !config.target.secure && !through_tls_proxy(&config) {
        note!(
            "sockeye: note: the TLS options do nothing for {}",
            sockeye::redact::url(config.target.url.as_str())
        );
    }
    let timeout = seconds(args.tls_timeout, "--tls-timeout")?;
    Ok(config.tls(tls).tls_timeout(timeout))
}

/// The proxy flags, with curl's rules: `-x` replaces the proxy environment variables (`-x ""`
/// connects directly), `--noproxy` replaces `no_proxy`, which otherwise applies to `-x` too, and
/// `--ignore-proxy-env` ignores every one of those variables.
fn proxy_options(config: ClientConfig, args: &ProxyArgs) -> anyhow::Result<ClientConfig> {
    let mut config = match (&args.proxy, args.ignore_proxy_env) {
        (Some(url), _) if url.trim().is_empty() => config.proxy(ProxyConfig::Direct),
        (Some(url), _) => config.proxy(ProxyConfig::url(url).context("--proxy")?),
        (None, true) => config.proxy(ProxyConfig::Direct),
        (None, false) => config.proxy(ProxyConfig::Environment),
    };
    if let Some(list) = &args.noproxy {
        config = config.no_proxy(NoProxy::parse(list));
    } else if args.proxy.is_some() && !args.ignore_proxy_env {
        if let Some(list) = NoProxy::from_environment() {
            config = config.no_proxy(list);
        }
    }
    Ok(config)
}

/// True when the connection will go through an https:// proxy (the TLS options then matter
/// even for ws:// URLs): the route as the dial will choose it.
fn through_tls_proxy(config: &ClientConfig) -> bool {
    sockeye::transport::choose_route(config)
        .ok()
        .and_then(sockeye::transport::Route::into_proxy)
        .is_some_and(|proxy| proxy.url.scheme == ProxyScheme::Https)
}

/// `--mask-key`: exactly 8 hex digits.
fn mask_key(hex: &str) -> anyhow::Result<[u8; 4]> {
    let value = u32::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 8);
    match value {
        Some(value) => Ok(value.to_be_bytes()),
        None => bail!("--mask-key {hex:?} must be 8 hex digits, such as 00000000"),
    }
}

pub(crate) fn run(command: &ConnectCommand) -> anyhow::Result<ExitCode> {
    let args = &command.connect;
    if let Some(limit) = seconds(args.max_time.unwrap_or(0.0), "--max-time")? {
        start_max_time_watchdog(limit);
    }
    let session = &command.session;
    let limits = Limits {
        close_timeout: seconds(args.close_timeout, "--close-timeout")?.unwrap_or(MIN_WAIT),
        linger: seconds(args.linger, "--linger")?.unwrap_or_default(),
        keepalive: keepalive(args)?,
        read_timeout: positive(session.read_timeout, "--read-timeout")?,
        idle_timeout: positive(session.idle_timeout, "--idle-timeout")?,
        first_text: session.text.clone().or_else(|| session.execute.clone()),
        one_message: session.one_message || (session.execute.is_some() && session.wait.is_none()),
        no_close: session.no_close,
        ignore_stdin: session.execute.is_some(),
        show_ping_pong: session.show_ping_pong,
        wait: positive(session.wait, "--wait")?,
    };
    trace::enable(args.verbose > 0, &args.trace)?;
    let config = match config(args) {
        Ok(config) => config,
        Err(err) => {
            match with_scheme(&args.url) {
                Some(url) => note!(
                    "sockeye: invalid URL: it has no scheme; did you mean {}? (wss:// for TLS)",
                    trace::shown_url(&url, args.trace.show_secrets)
                ),
                None => note!("sockeye: {}", trace::shown_chain(&err, &args.trace)),
            }
            return Ok(ExitCode::from(EXIT_CONNECT_FAILED));
        }
    };
    connect_loop::run(config, args, &command.io, limits)
}

/// For a URL given without a scheme (`localhost:9001`, `example.com/chat`), the ws:// URL it
/// probably meant, if that one is valid.
fn with_scheme(url: &str) -> Option<String> {
    if url.contains("://") {
        return None;
    }
    let suggestion = format!("ws://{url}");
    ClientConfig::new(&suggestion).is_ok().then_some(suggestion)
}

/// An optional number of seconds that must be more than 0.
fn positive(value: Option<f64>, flag: &str) -> anyhow::Result<Option<Duration>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let limit =
        seconds(value, flag)?.with_context(|| format!("{flag} must be more than 0 seconds"))?;
    Ok(Some(limit))
}

/// `--ping-interval`, `--ping-timeout` and `--ping-payload`.
fn keepalive(args: &ConnectArgs) -> anyhow::Result<Option<KeepaliveConfig>> {
    let Some(interval) = args.ping_interval else {
        return Ok(None);
    };
    let interval = seconds(interval, "--ping-interval")?
        .context("--ping-interval must be more than 0 seconds")?;
    let timeout = seconds(args.ping_timeout, "--ping-timeout")?
        .context("--ping-timeout must be more than 0 seconds")?;
    let mut config = KeepaliveConfig::new(interval, timeout);
    if let Some(payload) = &args.ping_payload {
        if payload.len() > 125 {
            bail!(
                "--ping-payload is {} bytes; a ping holds at most 125",
                payload.len()
            );
        }
        config.ping_payload = payload.clone().into_bytes().into();
        config.ping_counter = false;
    }
    Ok(Some(config))
}

/// `--max-time`: once `limit` has passed, whatever sockeye is doing (resolving, connecting,
/// waiting for the handshake or the close), it stops with exit status 28.
fn start_max_time_watchdog(limit: Duration) {
    thread::spawn(move || {
        thread::sleep(limit);
        note!("sockeye: --max-time ran out after {limit:?}; giving up");
        std::process::exit(i32::from(EXIT_MAX_TIME));
    });
}
