//! `sockeye connect URL`: stdin lines out as text messages, everything that arrives printed.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sockeye::TlsOptions;
use sockeye::{
    blocking, ClientConfig, CloseCode, CloseFrame, Error, MaskKeys, Message, OpCode, Stage,
};

use crate::flags::{ConnectArgs, TlsArgs, EXIT_ABNORMAL_CLOSE, EXIT_CONNECT_FAILED, EXIT_MAX_TIME};
use crate::{commands, print, trace};

use crate::flags::ProxyArgs;
use sockeye::transport::proxy::ProxyScheme;
use sockeye::{NoProxy, ProxyConfig};

/// How long one read waits before checking stdin again.
const POLL: Duration = Duration::from_millis(20);

fn seconds(value: f64, flag: &str) -> anyhow::Result<Option<Duration>> {
    if !(value.is_finite() && value >= 0.0) {
        bail!("{flag} must be a number of seconds, not {value}");
    }
    Ok((value > 0.0).then(|| Duration::from_secs_f64(value)))
}

fn config(args: &ConnectArgs) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::new(&args.url)?
        .connect_timeout(seconds(args.connect_timeout, "--connect-timeout")?)
        .handshake_timeout(seconds(args.handshake_timeout, "--handshake-timeout")?);
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("--header {header:?} must look like \"Name: value\"");
        };
        config = config.header(name.trim(), value.trim());
    }
    if let Some(origin) = &args.origin {
        config = config.origin(origin);
    }
    for protocol in &args.subprotocols {
        config = config.subprotocol(protocol);
    }
    config = handshake_and_frame_options(config, args)?;
    config = proxy_options(config, &args.proxy)?;
    config = tls_options(config, &args.tls)?;
    Ok(trace::client(config, &args.trace))
}

/// The curl-style handshake flags, redirects, and the frame-level switches.
fn handshake_and_frame_options(
    mut config: ClientConfig,
    args: &ConnectArgs,
) -> anyhow::Result<ClientConfig> {
    if let Some(user_agent) = &args.user_agent {
        config = config.user_agent(user_agent);
    }
    if let Some(cookie) = args.cookies.iter().find(|cookie| !cookie.contains('=')) {
        bail!("--cookie {cookie:?} must look like \"name=value\" (cookie files are not read)");
    }
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
        eprintln!(
            "sockeye: note: the TLS options do nothing for {}",
            config.target.url
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

/// True when the connection goes through an https:// proxy (the TLS options then matter even
/// for ws:// URLs).
fn through_tls_proxy(config: &ClientConfig) -> bool {
    sockeye::transport::proxy::select(config)
        .ok()
        .flatten()
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

/// Where `sockeye connect` stands after the handshake.
enum Phase {
    /// stdin is open: its lines are sent.
    Sending,
    /// stdin ended: waiting for the server to go quiet before closing, so replies in flight are
    /// not lost (servers such as Python `websockets` drop replies once a close arrives).
    Lingering { quiet_since: Instant },
    /// The close was sent (or received): waiting for the close handshake to finish.
    Closing { since: Instant },
}

pub(crate) fn run(args: &ConnectArgs) -> anyhow::Result<ExitCode> {
    if let Some(limit) = seconds(args.max_time.unwrap_or(0.0), "--max-time")? {
        start_max_time_watchdog(limit);
    }
    let close_timeout = seconds(args.close_timeout, "--close-timeout")?.unwrap_or(POLL);
    let linger = seconds(args.linger, "--linger")?.unwrap_or_default();
    trace::enable(args.verbose, &args.trace)?;
    let config = match config(args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("sockeye: {}", trace::shown_chain(&err, &args.trace));
            return Ok(ExitCode::from(EXIT_CONNECT_FAILED));
        }
    };
    // The handshake, and every frame from here on, are in the trace (-v, --trace-file).
    let (mut socket, _response) = match blocking::connect_with(config) {
        Ok(open) => open,
        Err(err) => {
            eprintln!(
                "sockeye: cannot connect ({} stage): {}",
                err.stage(),
                trace::shown(&err, &args.trace)
            );
            return Ok(ExitCode::from(EXIT_CONNECT_FAILED));
        }
    };
    socket
        .set_read_timeout(Some(POLL))
        .context("cannot set a read timeout on the socket")?;
    // The close code sockeye sent first, if it started the close: its echo is a normal end.
    let mut started_close: Option<CloseCode> = None;

    let (lines_tx, lines) = mpsc::channel::<io::Result<String>>();
    thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });

    let stdout = io::stdout();
    let mut phase = Phase::Sending;
    loop {
        match phase {
            Phase::Sending => match lines.try_recv() {
                Ok(Ok(line)) => {
                    let message = match commands::parse(&line, args.slash) {
                        Ok(message) => message,
                        Err(why) => {
                            eprintln!("sockeye: not sent: {why}");
                            continue;
                        }
                    };
                    socket.send(&message)?;
                    if let Some(code) = close_code(&message) {
                        started_close = Some(code);
                        phase = Phase::Closing {
                            since: Instant::now(),
                        };
                    }
                    continue;
                }
                Ok(Err(err)) => return Err(err).context("cannot read stdin"),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    phase = Phase::Lingering {
                        quiet_since: Instant::now(),
                    };
                }
            },
            Phase::Lingering { quiet_since } if quiet_since.elapsed() >= linger => {
                let close = CloseFrame::new(CloseCode::from(args.close_code), &args.close_reason);
                started_close = Some(close.code);
                socket.send(Message::Close(Some(close)))?;
                phase = Phase::Closing {
                    since: Instant::now(),
                };
            }
            Phase::Closing { since } if since.elapsed() > close_timeout => {
                eprintln!(
                    "sockeye: the server did not finish the close within {close_timeout:?}; giving up"
                );
                return Ok(ExitCode::from(EXIT_ABNORMAL_CLOSE));
            }
            Phase::Lingering { .. } | Phase::Closing { .. } => {}
        }
        match socket.read() {
            Ok(message) => {
                let mut out = stdout.lock();
                match &message {
                    Message::Text(text) => writeln!(out, "{}", print::escape_text(text.as_str())),
                    Message::Binary(data) => writeln!(
                        out,
                        "[binary {} bytes] {}",
                        data.len(),
                        print::hex(data, usize::MAX)
                    ),
                    Message::Frame(frame) => writeln!(out, "{}", print::frame(frame)),
                    _ => Ok(()),
                }
                .or_else(ignore_broken_pipe)?;
                out.flush().or_else(ignore_broken_pipe)?;
                match (&phase, &message) {
                    (Phase::Closing { .. }, _) => {}
                    (_, message) if close_code(message).is_some() => {
                        phase = Phase::Closing {
                            since: Instant::now(),
                        }
                    }
                    (Phase::Lingering { .. }, _) => {
                        phase = Phase::Lingering {
                            quiet_since: Instant::now(),
                        }
                    }
                    (Phase::Sending, _) => {}
                }
            }
            Err(Error::Timeout {
                stage: Stage::Open, ..
            }) => {}
            Err(Error::ConnectionClosed) => {
                let received = socket.connection().close_received().cloned().flatten();
                if args.verbose {
                    eprintln!("closed: server sent {}", print::close(received.as_ref()));
                }
                let code = received.as_ref().map(|frame| frame.code);
                if code != Some(CloseCode::Normal) {
                    // Always shown: the code and reason are often the only explanation.
                    eprintln!(
                        "sockeye: the server closed with {}",
                        print::close(received.as_ref())
                    );
                }
                let normal =
                    code == Some(CloseCode::Normal) || (code.is_some() && code == started_close);
                return Ok(if normal {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_ABNORMAL_CLOSE)
                });
            }
            Err(err) => {
                let received = socket.connection().close_received().cloned().flatten();
                if let Some(frame) = received.filter(|frame| frame.code != CloseCode::Normal) {
                    eprintln!(
                        "sockeye: the server closed with {}",
                        print::close(Some(&frame))
                    );
                }
                eprintln!("sockeye: the connection failed: {err}");
                return Ok(ExitCode::from(EXIT_ABNORMAL_CLOSE));
            }
        }
    }
}

/// The code of a close `message` (a close message, or a raw close frame): 1005 when it has none.
fn close_code(message: &Message) -> Option<CloseCode> {
    let frame = match message {
        Message::Close(frame) => frame.clone(),
        Message::Frame(frame) if frame.opcode() == OpCode::Close => {
            CloseFrame::parse(&frame.payload).ok().flatten()
        }
        _ => return None,
    };
    Some(frame.map_or(CloseCode::NoStatusReceived, |frame| frame.code))
}

/// `--max-time`: once `limit` has passed, whatever sockeye is doing (resolving, connecting,
/// waiting for the handshake or the close), it stops with exit status 28.
fn start_max_time_watchdog(limit: Duration) {
    thread::spawn(move || {
        thread::sleep(limit);
        eprintln!("sockeye: --max-time ran out after {limit:?}; giving up");
        std::process::exit(i32::from(EXIT_MAX_TIME));
    });
}

fn ignore_broken_pipe(err: io::Error) -> io::Result<()> {
    if err.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    Err(err)
}
