//! The conversation of `sockeye connect` once its options are parsed, on tokio: stdin records
//! out, everything that arrives written out, keepalive pings (`--ping-interval`,
//! `--ping-timeout`), reconnects (`--reconnect`), the close when stdin ends, and Ctrl-C.
//!
//! stdin is read by a thread of its own (a terminal or a pipe cannot be read asynchronously
//! everywhere), which hands each record to the connection over a channel; lines typed while a
//! reconnect is under way wait there and go out on the new connection.
//!
//! Ctrl-C is watched by another thread with its own small runtime, so that it is seen even
//! while this one waits to write (a full stdout pipe, a server that does not read): the first
//! asks the conversation to close with 1001, the second exits at once.
//!
//! Keepalive is the tokio stream's own ([`WebSocketStream::set_keepalive`]): a ping after each
//! quiet spell, and a failure with 1011 when its pong is late. Reconnecting uses the App's
//! [`ReconnectPolicy`] for its delays; the App itself is not used because `connect` needs the
//! close handshake on its own terms (linger, `--close-code`, close timeout, exit codes).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use sockeye::app::ReconnectPolicy;
use sockeye::proto::connection::keepalive::KeepaliveConfig;
use sockeye::tokio::{connect_async_with, WebSocketStream};
use sockeye::transport::AsyncStream;
use sockeye::{ClientConfig, CloseCode, CloseFrame, Error, Message, OpCode, ProtocolError};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::connect_args::{ConnectArgs, InputFormat, IoArgs};
use crate::exit::{EXIT_ABNORMAL_CLOSE, EXIT_CONNECT_FAILED, EXIT_INTERRUPTED, EXIT_MAX_TIME};
use crate::input::{self, Framing, Records};
use crate::output::Output;
use crate::{print, trace};

/// How the conversation ends, besides the options.
pub(crate) struct Limits {
    /// After sending the close, how long to wait for the server's.
    pub(crate) close_timeout: Duration,
    /// After stdin ends, how long the server must stay quiet before the close goes out.
    pub(crate) linger: Duration,
    /// `--ping-interval` / `--ping-timeout`.
    pub(crate) keepalive: Option<KeepaliveConfig>,
    /// `--read-timeout`: the longest wait for a message to arrive.
    pub(crate) read_timeout: Option<Duration>,
    /// `--idle-timeout`: the longest spell with no message either way.
    pub(crate) idle_timeout: Option<Duration>,
    /// `-t/--text`: sent first on each connection.
    pub(crate) first_text: Option<String>,
    /// `-1/--one-message`: close after the first message received.
    pub(crate) one_message: bool,
    /// `-n/--no-close`: stdin's end does not close.
    pub(crate) no_close: bool,
    /// `--execute`: stdin is not read.
    pub(crate) ignore_stdin: bool,
    /// `-P/--show-ping-pong`: pings and pongs received are written too.
    pub(crate) show_ping_pong: bool,
    /// `--execute --wait`: close this long after the connection opens.
    pub(crate) wait: Option<Duration>,
}

/// Which of the conversation's clocks runs out first.
#[derive(Clone, Copy)]
enum Due {
    /// `--linger` after stdin ended: send the close.
    Linger,
    /// `--close-timeout`: the server did not finish the close.
    CloseWait,
    /// `--read-timeout`: no message arrived in time.
    Read,
    /// `--idle-timeout`: no message either way.
    Idle,
    /// `--execute --wait`: the wait is over.
    Wait,
}

/// Where the conversation stands.
enum Phase {
    /// stdin is open: its lines are sent.
    Sending,
    /// stdin ended: waiting for the server to go quiet before closing, so replies in flight are
    /// not lost (servers such as Python `websockets` drop replies once a close arrives).
    Lingering { quiet_since: Instant },
    /// The close was sent (or received): waiting for the close handshake to finish.
    Closing { since: Instant },
}

/// How one connection ended.
enum Ended {
    /// The conversation is over: exit with this status.
    Exit(ExitCode),
    /// The server closed or the connection dropped while stdin was still open: with
    /// `--reconnect`, connect again; otherwise exit with this status.
    Dropped(ExitCode),
}

/// stdin's records, as the reading thread hands them over.
type Lines = mpsc::UnboundedReceiver<io::Result<Vec<u8>>>;

/// What the conversation does with stdin and stdout.
struct Streams {
    output: Output,
    input_format: InputFormat,
}

/// Connects with `config` and runs the conversation; with `--reconnect`, again after every
/// server close or drop while stdin is open. The first connection must succeed (exit 3 if not,
/// so a wrong URL or option is reported at once); later attempts are retried with backoff.
pub(crate) fn run(
    config: ClientConfig,
    args: &ConnectArgs,
    io: &IoArgs,
    limits: Limits,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(converse_until_done(config, args, io, &limits))
}

async fn converse_until_done(
    config: ClientConfig,
    args: &ConnectArgs,
    io: &IoArgs,
    limits: &Limits,
) -> anyhow::Result<ExitCode> {
    // The handshake, and every frame from here on, are in the trace (-v, --trace-file).
    let mut socket = match connect_async_with(config.clone()).await {
        Ok((socket, _response)) => socket,
        Err(err) => {
            note!(
                "sockeye: cannot connect ({} stage): {}",
                err.stage(),
                trace::shown(&err, &args.trace)
            );
            return Ok(ExitCode::from(EXIT_CONNECT_FAILED));
        }
    };
    // Before the connection opens, Ctrl-C ends sockeye as it ends any program: there is
    // nothing to close yet.
    let mut interrupts = Interrupts::watch()?;
    let mut lines = stdin_records(Framing::from_args(io));
    let streams = Streams {
        output: Output::new(io, io::stdout().is_terminal()).ping_pong(limits.show_ping_pong),
        input_format: io.input_format(),
    };
    let policy = ReconnectPolicy::default();
    loop {
        socket.set_keepalive(limits.keepalive.clone());
        let ended = converse(
            &mut socket,
            &mut lines,
            &mut interrupts,
            &streams,
            args,
            limits,
        );
        match ended.await? {
            _ if interrupts.seen => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
            Ended::Exit(code) => return Ok(code),
            Ended::Dropped(code) if !args.reconnect => return Ok(code),
            Ended::Dropped(_) => {}
        }
        drop(socket);
        let mut attempt = 0;
        socket = loop {
            attempt += 1;
            let delay = policy.delay(attempt, random_unit());
            note!(
                "sockeye: reconnecting in {:.1} s (attempt {attempt})",
                delay.as_secs_f64()
            );
            let attempt = async {
                tokio::time::sleep(delay).await;
                connect_async_with(config.clone()).await
            };
            let result = tokio::select! {
                result = attempt => result,
                () = interrupts.first() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
            };
            match result {
                Ok((socket, _response)) => {
                    note!("sockeye: reconnected");
                    break socket;
                }
                Err(err) => note!(
                    "sockeye: cannot reconnect ({} stage): {}",
                    err.stage(),
                    trace::shown(&err, &args.trace)
                ),
            }
        };
    }
}

/// Reads stdin's records on a thread of its own; the channel ends when stdin does.
fn stdin_records(framing: Framing) -> Lines {
    let (sender, lines) = mpsc::unbounded_channel();
    thread::spawn(move || {
        for record in Records::new(io::stdin().lock(), framing) {
            if sender.send(record).is_err() {
                return;
            }
        }
    });
    lines
}

/// Ctrl-C (SIGINT) while connected: the first is reported to the conversation
/// ([`Interrupts::first`]), which closes with 1001; a second exits at once with status 130.
struct Interrupts {
    first: mpsc::UnboundedReceiver<()>,
    /// The first Ctrl-C came.
    seen: bool,
}

impl Interrupts {
    /// Catches SIGINT from now on, on a thread of its own.
    fn watch() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .context("cannot start the tokio runtime")?;
        #[cfg(unix)]
        let mut interrupt = {
            let _context = runtime.enter();
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("cannot catch SIGINT")?
        };
        let (sender, first) = mpsc::unbounded_channel();
        thread::spawn(move || {
            runtime.block_on(async move {
                #[cfg(unix)]
                {
                    interrupt.recv().await;
                    let _ = sender.send(());
                    interrupt.recv().await;
                }
                #[cfg(not(unix))]
                {
                    let _ = tokio::signal::ctrl_c().await;
                    let _ = sender.send(());
                    let _ = tokio::signal::ctrl_c().await;
                }
                note!("sockeye: interrupted again: exiting now");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            });
        });
        Ok(Self { first, seen: false })
    }

    /// Resolves when the first Ctrl-C comes, and never after it. Cancel-safe.
    async fn first(&mut self) {
        if !self.seen && self.first.recv().await.is_some() {
            self.seen = true;
            return;
        }
        std::future::pending().await
    }
}

/// One connection: send stdin's records, write what arrives, close when stdin ends or at
/// Ctrl-C.
async fn converse(
    socket: &mut WebSocketStream<AsyncStream>,
    lines: &mut Lines,
    interrupts: &mut Interrupts,
    streams: &Streams,
    args: &ConnectArgs,
    limits: &Limits,
) -> anyhow::Result<Ended> {
    // The close code sockeye sent first, if it started the close: its echo is a normal end.
    let mut started_close: Option<CloseCode> = None;
    let mut phase = Phase::Sending;
    // Whether an end now would be the server's doing while stdin is still open (what
    // `--reconnect` reconnects after): not once stdin ended or sockeye sent a close.
    let mut servers_doing = true;
    // stdin ended (with `--no-close`, the conversation goes on without it).
    let mut stdin_done = limits.ignore_stdin;
    let opened = Instant::now();
    // `--read-timeout` ran out: the exit status is 28 whatever the close does.
    let mut read_timed_out = false;
    let mut last_received = Instant::now();
    // A message arrived (`-1` stops writing after it).
    let mut got_one = false;
    let mut last_message = Instant::now();
    if let Some(text) = &limits.first_text {
        socket.send(Message::text(text.as_str())).await?;
    }
    loop {
        let deadline = match phase {
            Phase::Sending | Phase::Lingering { .. } => {
                let phase_due = match phase {
                    Phase::Lingering { quiet_since } => {
                        Some((quiet_since + limits.linger, Due::Linger))
                    }
                    _ => None,
                };
                let read = limits
                    .read_timeout
                    .map(|limit| (last_received + limit, Due::Read));
                let idle = limits
                    .idle_timeout
                    .map(|limit| (last_message + limit, Due::Idle));
                let wait = limits.wait.map(|limit| (opened + limit, Due::Wait));
                [phase_due, read, idle, wait]
                    .into_iter()
                    .flatten()
                    .min_by_key(|(at, _)| *at)
            }
            Phase::Closing { since } => Some((since + limits.close_timeout, Due::CloseWait)),
        };
        tokio::select! {
            // Cancel-safe: whatever was read stays in the connection for the next call.
            read = socket.read() => {
                let message = match read {
                    Ok(message) => message,
                    Err(_) if read_timed_out => {
                        return Ok(Ended::Exit(ExitCode::from(EXIT_MAX_TIME)))
                    }
                    Err(err) => return Ok(ended(socket, err, servers_doing, started_close, args)),
                };
                // With `-1`, nothing after the first message is written.
                if !(limits.one_message && got_one) {
                    write_message(&streams.output, &message, opened)?;
                }
                if is_data(&message) {
                    got_one = true;
                    last_received = Instant::now();
                    last_message = last_received;
                    if limits.one_message && !matches!(phase, Phase::Closing { .. }) {
                        servers_doing = false;
                        started_close = Some(send_close(socket, configured_close(args)).await?);
                        phase = Phase::Closing { since: Instant::now() };
                        continue;
                    }
                }
                match (&phase, &message) {
                    (Phase::Closing { .. }, _) => {}
                    (_, message) if close_code(message).is_some() => {
                        phase = Phase::Closing { since: Instant::now() }
                    }
                    // Only data counts as a reply in flight, not keepalive's pongs.
                    (Phase::Lingering { .. }, message) if is_data(message) => {
                        phase = Phase::Lingering { quiet_since: Instant::now() }
                    }
                    (Phase::Lingering { .. } | Phase::Sending, _) => {}
                }
            }
            record = lines.recv(), if matches!(phase, Phase::Sending) && !stdin_done => match record {
                Some(Ok(record)) => {
                    let message = match input::message(record, streams.input_format, args.slash) {
                        Ok(message) => message,
                        Err(why) => {
                            note!("sockeye: not sent: {why}");
                            continue;
                        }
                    };
                    socket.send(&message).await?;
                    if is_data(&message) {
                        last_message = Instant::now();
                    }
                    if let Some(code) = close_code(&message) {
                        started_close = Some(code);
                        servers_doing = false;
                        phase = Phase::Closing { since: Instant::now() };
                    }
                }
                Some(Err(err)) => return Err(err).context("cannot read stdin"),
                None => {
                    servers_doing = false;
                    stdin_done = true;
                    if !limits.no_close {
                        phase = Phase::Lingering { quiet_since: Instant::now() };
                    }
                }
            },
            () = interrupts.first() => {
                servers_doing = false;
                if matches!(phase, Phase::Closing { .. }) {
                    note!("sockeye: interrupted: waiting for the server's close (Ctrl-C again quits at once)");
                    continue;
                }
                note!("sockeye: interrupted: closing with 1001 (going away); Ctrl-C again quits at once");
                started_close = Some(send_close(socket, CloseFrame::new(CloseCode::GoingAway, "")).await?);
                phase = Phase::Closing { since: Instant::now() };
            }
            () = sleep_until(deadline.map(|(at, _)| at)), if deadline.is_some() => match deadline.map(|(_, due)| due) {
                // stdin's end already cleared `servers_doing`; the --wait's end clears it here.
                Some(Due::Linger | Due::Wait) => {
                    servers_doing = false;
                    started_close = Some(send_close(socket, configured_close(args)).await?);
                    phase = Phase::Closing { since: Instant::now() };
                }
                Some(Due::Read) => {
                    note!(
                        "sockeye: no message arrived within --read-timeout ({:?}); closing with 1001 (going away), exit status 28",
                        limits.read_timeout.unwrap_or_default()
                    );
                    servers_doing = false;
                    read_timed_out = true;
                    started_close = Some(send_close(socket, CloseFrame::new(CloseCode::GoingAway, "")).await?);
                    phase = Phase::Closing { since: Instant::now() };
                }
                Some(Due::Idle) => {
                    note!(
                        "sockeye: no message either way for --idle-timeout ({:?}); closing",
                        limits.idle_timeout.unwrap_or_default()
                    );
                    servers_doing = false;
                    started_close = Some(send_close(socket, configured_close(args)).await?);
                    phase = Phase::Closing { since: Instant::now() };
                }
                Some(Due::CloseWait) => {
                    note!(
                        "sockeye: the server did not finish the close within {:?}; giving up",
                        limits.close_timeout
                    );
                    let status = if read_timed_out { EXIT_MAX_TIME } else { EXIT_ABNORMAL_CLOSE };
                    return Ok(Ended::Exit(ExitCode::from(status)));
                }
                None => {}
            },
        }
    }
}

/// The close `--close-code` and `--close-reason` describe.
fn configured_close(args: &ConnectArgs) -> CloseFrame {
    CloseFrame::new(CloseCode::from(args.close_code), &args.close_reason)
}

/// Sends `close`; returns its code.
async fn send_close(
    socket: &mut WebSocketStream<AsyncStream>,
    close: CloseFrame,
) -> anyhow::Result<CloseCode> {
    let code = close.code;
    socket.send(Message::Close(Some(close))).await?;
    Ok(code)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Writes a text, binary or (with `--frames`) raw frame to stdout as `output` says, at once;
/// pings and pongs only with `-P`, closes never.
/// With `--timings`, each line starts with the time since `opened`.
fn write_message(output: &Output, message: &Message, opened: Instant) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    output
        .write_timed(&mut out, message, opened.into_std())
        .or_else(ignore_broken_pipe)?;
    out.flush().or_else(ignore_broken_pipe)?;
    Ok(())
}

/// What the end of a connection means: the exit status, and whether `--reconnect` applies
/// (`servers_doing`: the server ended it while stdin was still open).
fn ended(
    socket: &WebSocketStream<AsyncStream>,
    err: Error,
    servers_doing: bool,
    started_close: Option<CloseCode>,
    args: &ConnectArgs,
) -> Ended {
    let received = socket.connection().close_received().cloned().flatten();
    let code = received.as_ref().map(|frame| frame.code);
    let status = match err {
        Error::ConnectionClosed => {
            if args.verbose > 0 {
                note!("closed: server sent {}", print::close(received.as_ref()));
            }
            if code != Some(CloseCode::Normal) {
                // Always shown: the code and reason are often the only explanation.
                note!(
                    "sockeye: the server closed with {}",
                    print::close(received.as_ref())
                );
            }
            let normal =
                code == Some(CloseCode::Normal) || (code.is_some() && code == started_close);
            if normal {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_ABNORMAL_CLOSE)
            }
        }
        err => {
            if let Some(frame) = received.filter(|frame| frame.code != CloseCode::Normal) {
                note!(
                    "sockeye: the server closed with {}",
                    print::close(Some(&frame))
                );
            }
            let hint = match &err {
                Error::Protocol(ProtocolError::PingTimeout { .. }) => {
                    " (--ping-timeout sets how long to wait for a pong)"
                }
                _ => "",
            };
            note!(
                "sockeye: the connection failed: {}{hint}",
                trace::shown(&err, &args.trace)
            );
            ExitCode::from(EXIT_ABNORMAL_CLOSE)
        }
    };
    if servers_doing {
        Ended::Dropped(status)
    } else {
        Ended::Exit(status)
    }
}

/// A text or binary message, or (with `--frames`) a data frame: what a server sends in reply.
fn is_data(message: &Message) -> bool {
    match message {
        Message::Text(_) | Message::Binary(_) => true,
        Message::Frame(frame) => matches!(
            frame.opcode(),
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        ),
        _ => false,
    }
}

/// The code of a close `message` (a close message, or a raw close frame): 1005 when it has none.
pub(crate) fn close_code(message: &Message) -> Option<CloseCode> {
    let frame = match message {
        Message::Close(frame) => frame.clone(),
        Message::Frame(frame) if frame.opcode() == OpCode::Close => {
            CloseFrame::parse(&frame.payload).ok().flatten()
        }
        _ => return None,
    };
    Some(frame.map_or(CloseCode::NoStatusReceived, |frame| frame.code))
}

/// A uniform random number in `[0, 1)` for the reconnect jitter.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    sockeye::proto::random::fill_os_random(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

fn ignore_broken_pipe(err: io::Error) -> io::Result<()> {
    if err.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    Err(err)
}
