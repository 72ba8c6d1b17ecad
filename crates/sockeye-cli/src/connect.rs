//! `sockeye connect URL`: stdin lines out as text messages, everything that arrives printed.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sockeye::{blocking, ClientConfig, CloseCode, CloseFrame, Error, Message};

use crate::flags::{ConnectArgs, EXIT_ABNORMAL_CLOSE, EXIT_CONNECT_FAILED};
use crate::print;

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
    Ok(config)
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
    let close_timeout = seconds(args.close_timeout, "--close-timeout")?.unwrap_or(POLL);
    let linger = seconds(args.linger, "--linger")?.unwrap_or_default();
    let config = match config(args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("sockeye: {err:#}");
            return Ok(ExitCode::from(EXIT_CONNECT_FAILED));
        }
    };
    let (mut socket, response) = match blocking::connect_with(config) {
        Ok(open) => open,
        Err(err) => {
            eprintln!("sockeye: cannot connect ({} stage): {err}", err.stage());
            return Ok(ExitCode::from(EXIT_CONNECT_FAILED));
        }
    };
    if args.verbose {
        eprint!("{}", print::head("> ", &response.request));
        eprint!("{}", print::head("< ", &response.head));
        if let Some(protocol) = &response.subprotocol {
            eprintln!("subprotocol: {protocol}");
        }
    }
    socket
        .get_ref()
        .set_read_timeout(Some(POLL))
        .context("cannot set a read timeout on the socket")?;

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
                    socket.send_text(&line)?;
                    if args.verbose {
                        eprintln!("> {}", print::message(&Message::text(line)));
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
                socket.send(Message::Close(Some(CloseFrame::new(CloseCode::Normal, ""))))?;
                if args.verbose {
                    eprintln!("> close 1000 (normal)");
                }
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
                    _ => Ok(()),
                }
                .or_else(ignore_broken_pipe)?;
                out.flush().or_else(ignore_broken_pipe)?;
                if args.verbose {
                    eprintln!("< {}", print::message(&message));
                }
                match (&phase, &message) {
                    (Phase::Closing { .. }, _) => {}
                    (_, Message::Close(_)) => {
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
            Err(Error::Io { source, .. })
                if matches!(
                    source.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(Error::ConnectionClosed) => {
                let received = socket.connection().close_received().cloned().flatten();
                if args.verbose {
                    eprintln!("closed: server sent {}", print::close(received.as_ref()));
                }
                return Ok(match received {
                    Some(frame) if frame.code == CloseCode::Normal => ExitCode::SUCCESS,
                    other => {
                        eprintln!(
                            "sockeye: the server closed with {}",
                            print::close(other.as_ref())
                        );
                        ExitCode::from(EXIT_ABNORMAL_CLOSE)
                    }
                });
            }
            Err(err) => {
                eprintln!("sockeye: the connection failed: {err}");
                return Ok(ExitCode::from(EXIT_ABNORMAL_CLOSE));
            }
        }
    }
}

fn ignore_broken_pipe(err: io::Error) -> io::Result<()> {
    if err.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    Err(err)
}
