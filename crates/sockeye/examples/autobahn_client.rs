//! The Autobahn|Testsuite driver for sockeye's clients (wstest `fuzzingserver` mode): the
//! blocking client, or with `--tokio` the tokio one (`sockeye::tokio::connect_async_with`, each
//! call driven from this thread by a current-thread runtime).
//!
//! Asks the fuzzing server how many cases it has (`/getCaseCount`), runs each one
//! (`/runCase?case=I&agent=AGENT`) echoing every text and binary message back until the
//! connection ends, then asks for the reports (`/updateReports?agent=AGENT`). Uses only the
//! public API, with its defaults: permessage-deflate is offered
//! (`permessage-deflate; client_max_window_bits`), which groups 12 and 13 need.
//! `conformance/run.sh` starts the fuzzing server and runs this.
//!
//! ```sh
//! cargo run --release -p sockeye --example autobahn_client -- [--tokio] ws://127.0.0.1:9001 [AGENT]
//! ```
//!
//! Every wait is bounded: TCP connect and opening handshake by the client's timeouts, each read
//! and write by a socket timeout (the tokio client's by `tokio::time::timeout`), and each case
//! by a deadline checked between messages.
//!
//! Prints one line per case (how the connection ended) and a tally; exits 1 if the fuzzing
//! server could not be used. A case that ends with a protocol error is not a driver failure:
//! many cases exist to provoke one, and the suite's report decides whether it was right.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use sockeye::blocking::{self, WebSocket};
use sockeye::proto::Connection;
use sockeye::tokio::{connect_async_with, WebSocketStream};
use sockeye::transport::{AsyncStream, Stream};
use sockeye::{ClientConfig, Error, Message, ProtocolConfig, Stage};
use tokio::runtime::Runtime;

/// The agent name the reports are filed under, unless given as the second argument.
const DEFAULT_AGENT: &str = "sockeye";
/// Limit for one read or write on the socket (a silent peer ends the case after this).
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// Limit for one whole case. The slowest cases are the compressed ones of groups 12 and 13:
/// 1000 messages of 128 KiB, compressed and inflated by the suite's Python, take a minute or
/// more on a busy machine (the 9.x cases at 64-byte chunks take a few seconds).
const CASE_DEADLINE: Duration = Duration::from_secs(600);
/// Writing the reports of ~300 cases takes a few seconds; allow more.
const REPORT_TIMEOUT: Duration = Duration::from_secs(120);
/// Group 9 sends messages of up to 16 MiB, in one frame (9.1.6, 9.2.6) or in fragments (9.3.x,
/// 9.4.x: 4 MiB). The defaults (16 MiB per frame, 64 MiB per message) admit them, but 9.1.6
/// and 9.2.6 sit exactly on the frame limit; raise both so the suite does not test our limits.
const MAX_SIZE: usize = 64 << 20;

/// How one case's connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Ending {
    /// The close handshake completed and the server closed the transport.
    Closed,
    /// The server broke the protocol (as many cases do on purpose): we failed the connection.
    ProtocolError,
    /// A read or write failed, or a send was refused.
    Io,
    /// The case ran past [`CASE_DEADLINE`] or a read timed out.
    TimedOut,
    /// The connection could not be opened.
    ConnectFailed,
}

fn config(url: &str, io_timeout: Duration) -> Result<ClientConfig, Error> {
    let mut protocol = ProtocolConfig::default();
    protocol.max_frame_size = MAX_SIZE;
    protocol.max_message_size = MAX_SIZE;
    Ok(ClientConfig::new(url)?
        .connect_timeout(Some(Duration::from_secs(10)))
        .handshake_timeout(Some(io_timeout))
        .protocol(protocol))
}

/// The front-end under test: the blocking client, or the tokio one with the runtime that runs it.
enum Client {
    Blocking,
    Tokio(Runtime),
}

/// An open connection of either front-end, with the limit for each read and write.
enum Socket<'a> {
    Blocking(WebSocket<Stream>),
    Tokio(&'a Runtime, WebSocketStream<AsyncStream>, Duration),
}

/// `future` on `runtime`, failing with [`Error::Timeout`] after `limit` (the tokio client has no
/// read or write timeout of its own; reading is cancel-safe).
fn within<T>(
    runtime: &Runtime,
    limit: Duration,
    future: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    runtime.block_on(async {
        tokio::time::timeout(limit, future)
            .await
            .unwrap_or(Err(Error::Timeout {
                stage: Stage::Open,
                after: limit,
            }))
    })
}

impl Client {
    fn open(&self, url: &str, io_timeout: Duration) -> Result<Socket<'_>, Error> {
        let config = config(url, io_timeout)?;
        match self {
            Client::Blocking => {
                // Bound every read and write of the open connection too.
                let config = config.io_timeouts(Some(io_timeout), Some(io_timeout));
                let (socket, _response) = blocking::connect_with(config)?;
                Ok(Socket::Blocking(socket))
            }
            Client::Tokio(runtime) => {
                // The connect and handshake timeouts of `config` bound the opening.
                let (socket, _response) = runtime.block_on(connect_async_with(config))?;
                Ok(Socket::Tokio(runtime, socket, io_timeout))
            }
        }
    }
}

impl Socket<'_> {
    fn read(&mut self) -> Result<Message, Error> {
        match self {
            Socket::Blocking(socket) => socket.read(),
            Socket::Tokio(runtime, socket, limit) => within(runtime, *limit, socket.read()),
        }
    }

    fn send(&mut self, message: &Message) -> Result<(), Error> {
        match self {
            Socket::Blocking(socket) => socket.send(message),
            Socket::Tokio(runtime, socket, limit) => within(runtime, *limit, socket.send(message)),
        }
    }

    fn connection(&self) -> &Connection {
        match self {
            Socket::Blocking(socket) => socket.connection(),
            Socket::Tokio(_, socket, _) => socket.connection(),
        }
    }
}

fn is_timeout(err: &Error) -> bool {
    match err {
        Error::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        Error::Timeout { .. } => true,
        _ => false,
    }
}

/// Runs one case: echo text and binary messages until the connection ends.
fn run_case(client: &Client, url: &str) -> (Ending, String) {
    let deadline = Instant::now() + CASE_DEADLINE;
    let mut socket = match client.open(url, IO_TIMEOUT) {
        Ok(socket) => socket,
        Err(err) => return (Ending::ConnectFailed, err.to_string()),
    };
    let mut echoed = 0usize;
    loop {
        if Instant::now() > deadline {
            return (
                Ending::TimedOut,
                format!("case still running after {CASE_DEADLINE:?} ({echoed} echoed)"),
            );
        }
        let ended = match socket.read() {
            // Pings are answered and the close is echoed by the core before read returns them.
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => match socket.send(&message) {
                Ok(()) => {
                    echoed += 1;
                    continue;
                }
                Err(err) => err,
            },
            Ok(_) => continue,
            Err(err) => err,
        };
        let ending = match &ended {
            Error::ConnectionClosed => Ending::Closed,
            Error::Protocol(_) => Ending::ProtocolError,
            err if is_timeout(err) => Ending::TimedOut,
            _ => Ending::Io,
        };
        let detail = match socket.connection().close_received() {
            Some(Some(frame)) => format!("{ended}; server closed with {frame}"),
            Some(None) => format!("{ended}; server closed without a code"),
            None => ended.to_string(),
        };
        return (ending, format!("{echoed} echoed; {detail}"));
    }
}

/// Opens `url`, returns the first text message, and waits for the server's close.
fn fetch_text(client: &Client, url: &str, io_timeout: Duration) -> Result<Option<String>, Error> {
    let mut socket = client.open(url, io_timeout)?;
    let mut text = None;
    loop {
        match socket.read() {
            Ok(Message::Text(t)) if text.is_none() => text = Some(t.as_str().to_owned()),
            Ok(_) => {}
            Err(Error::ConnectionClosed) => return Ok(text),
            Err(err) => return Err(err),
        }
    }
}

fn run(client: &Client, base: &str, agent: &str) -> Result<(), String> {
    let count_url = format!("{base}/getCaseCount");
    let count: usize = match fetch_text(client, &count_url, IO_TIMEOUT) {
        Ok(Some(text)) => text
            .trim()
            .parse()
            .map_err(|err| format!("{count_url} sent {text:?}, not a case count: {err}"))?,
        Ok(None) => return Err(format!("{count_url} sent no case count")),
        Err(err) => return Err(format!("{count_url}: {err}")),
    };
    println!("{count} cases from {base}, agent {agent}");
    let started = Instant::now();
    let mut tally = std::collections::BTreeMap::<Ending, usize>::new();
    for case in 1..=count {
        let (ending, detail) =
            run_case(client, &format!("{base}/runCase?case={case}&agent={agent}"));
        println!("case {case}: {ending:?}: {detail}");
        *tally.entry(ending).or_default() += 1;
    }
    println!(
        "ran {count} cases in {:.1} s: {tally:?}",
        started.elapsed().as_secs_f64()
    );
    let report_url = format!("{base}/updateReports?agent={agent}");
    fetch_text(client, &report_url, REPORT_TIMEOUT)
        .map_err(|err| format!("{report_url}: {err}"))?;
    println!("reports written");
    if tally.contains_key(&Ending::ConnectFailed) {
        return Err("some cases could not connect".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let client = match args.next_if_eq("--tokio") {
        None => Client::Blocking,
        Some(_) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => Client::Tokio(runtime),
            Err(err) => {
                eprintln!("autobahn_client: cannot start the tokio runtime: {err}");
                return ExitCode::FAILURE;
            }
        },
    };
    let Some(base) = args.next() else {
        eprintln!("usage: autobahn_client [--tokio] BASE_URL [AGENT]   (e.g. ws://127.0.0.1:9001)");
        return ExitCode::from(2);
    };
    let agent = args.next().unwrap_or_else(|| DEFAULT_AGENT.into());
    match run(&client, base.trim_end_matches('/'), &agent) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("autobahn_client: {err}");
            ExitCode::FAILURE
        }
    }
}
