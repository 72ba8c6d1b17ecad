//! `sockeye serve`: a WebSocket server on the tokio [`Server`]: echo, JSON echo or broadcast,
//! over TCP, TLS or a Unix socket, with an Origin allow-list, subprotocol selection, limits and a
//! graceful stop on SIGINT/SIGTERM.
//!
//! The first line on stdout is always `listening on URL` (`ws://ADDR`, `wss://ADDR` or
//! `ws+unix://PATH`): scripts and tests read the address from it.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use sockeye::tokio::{Listener, Peer, PeerHandle, PeerSendError, Server, ServerHandler};
use sockeye::{
    blocking, Accept, CloseCode, CloseFrame, Error, KeepaliveConfig, Message, Reject, Request,
    ServerConfig,
};

use crate::exit::EXIT_INTERRUPTED;
use crate::trace::TraceArgs;
use crate::{print, trace};

/// `sockeye serve`'s flags.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  sockeye serve                                  (echo on ws://127.0.0.1:9001/)
  sockeye serve -l 0.0.0.0:8080 --mode broadcast (a chat room, every interface)
  sockeye serve --mode json -v --trace-format json   (JSON lines of each frame)
  sockeye serve -l 8443 --cert cert.pem --key key.pem    (wss://127.0.0.1:8443/)
  sockeye serve --unix /tmp/ws.sock          (sockeye connect ws+unix:///tmp/ws.sock)

Modes:
  echo        every text and binary message is sent back as it came
  json        a text message that is JSON comes back as
              {\"type\":\"echo\",\"data\":<the JSON, exactly as sent>,\"timestamp\":<unix seconds>}
              (the timestamp is seconds since 1970 with microseconds, as Python's time.time());
              other text comes back as \"Echo: <text>\", binary as it came
  broadcast   every message goes to every connected client, the sender included. A client
              that reads slower than messages come, until 1024 wait for it beyond what the
              network buffers hold, is closed with 1008 (policy violation) \"too slow: could
              not keep up with the broadcast\" rather than left with a silent gap; if it does
              not answer that close within 5 seconds it is dropped. -v logs each one.

Limits (what one client, or many, can make the server hold; docs/limits.md has them all):
  --max-memory 256MiB          all connections together: buffers, messages in progress,
                               inflated data, queues. Over it, the connections holding the most
                               are closed (1009 if sending a message, 1008 if not reading)
  --max-message-size 16MiB     one message, inflated size counted: 1009
  frame size 16 MiB            one frame: 1009
  --max-connections (none)     open connections; more get 503 after their request
  --max-pending-handshakes 1024
                               handshakes in progress; more wait in the listen backlog
  --handshake-timeout 10       seconds for the TLS and WebSocket handshakes; then dropped
  request head 16 KiB          431
  --ping-interval 30           a ping after this much silence; no pong in --ping-timeout 30: 1011
  --idle-timeout 120           no complete frame for this long: 1001. Also: a client that reads
                               nothing while output waits for it this long is dropped
  --message-timeout 60         a message not complete this long after its first byte: 1008
  queue 1024 messages          per client, for broadcast; a full queue closes it with 1008
  output 256 KiB               unwritten output above which a connection stops reading
Timeouts take 0 to turn them off.

On SIGINT or SIGTERM the server stops accepting, closes every connection with 1001 (going away),
waits up to --shutdown-timeout seconds for the close handshakes, then exits 0; a second signal
exits at once.")]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen URL is printed). A bare port
    /// listens on 127.0.0.1:PORT, as websocat -s PORT does (wscat -l PORT listens on every
    /// interface: give 0.0.0.0:PORT or [::]:PORT for that).
    #[arg(short, long, default_value = "127.0.0.1:9001", value_name = "[ADDRESS:]PORT",
          value_parser = parse_listen)]
    pub(crate) listen: SocketAddr,
    /// Listen on this Unix domain socket instead of TCP (a stale socket file is replaced); the
    /// URL printed is ws+unix://PATH.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["listen", "cert"])]
    pub(crate) unix: Option<PathBuf>,
    /// What to do with each message.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    pub(crate) mode: Mode,
    /// Accept only requests with this Origin header (repeatable; compared without case). Others,
    /// and requests without an Origin, get 403. Default: any origin.
    #[arg(long = "origin", value_name = "ORIGIN")]
    pub(crate) origins: Vec<String>,
    /// A subprotocol the server speaks (repeatable). The first one the client offers that is in
    /// this list is selected; if none is, the connection opens without a subprotocol.
    #[arg(long = "subprotocol", value_name = "NAME")]
    pub(crate) subprotocols: Vec<String>,
    /// Largest message accepted (bytes; K, KiB, M, MiB suffixes allowed); a larger one closes the
    /// connection with 1009 (message too big). Default: 16 MiB.
    #[arg(long = "max-message-size", value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_message_size: Option<usize>,
    /// Memory budget for all connections together (bytes; K, M, G suffixes allowed): buffers,
    /// messages in progress, inflated data, queues. When it is exceeded, the connections holding
    /// the most are closed (1009 while sending a message, 1008 when not reading).
    #[arg(long = "max-memory", value_name = "SIZE", value_parser = parse_size, default_value = "256MiB")]
    pub(crate) max_memory: usize,
    /// Refuse handshakes with 503 while this many connections are open (handshakes in progress
    /// do not count: see --max-pending-handshakes).
    #[arg(long = "max-connections", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: Option<u32>,
    /// How many clients may be in their handshake at once; more wait in the listen backlog.
    #[arg(long = "max-pending-handshakes", value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_pending_handshakes: u32,
    /// Seconds without a complete frame from a client (and no message in progress) before it is
    /// closed with 1001; with pings on, a live client never gets there. 0: never.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    pub(crate) idle_timeout: f64,
    /// Seconds a message may take from its first byte to its last before the connection is
    /// closed with 1008 (trickling a frame one byte at a time holds nothing for long). 0: no limit.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub(crate) message_timeout: f64,
    /// Ping a client after this many seconds of silence. 0: no pings.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub(crate) ping_interval: f64,
    /// Close a client (1011) whose pong does not come within this many seconds of a ping.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub(crate) ping_timeout: f64,
    /// Decline permessage-deflate (RFC 7692): the response to an offer carries no
    /// Sec-WebSocket-Extensions, so every connection runs uncompressed. By default the server
    /// accepts it. For measuring the raw framing, reading payloads in a packet capture, or
    /// clients whose deflate is broken.
    #[arg(long = "no-compression")]
    pub(crate) no_compression: bool,
    /// Serve wss:// with this certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// The private key of --cert (PEM: PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// Seconds allowed for each client's TLS and WebSocket handshakes.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) handshake_timeout: f64,
    /// On SIGINT/SIGTERM, seconds to wait for the close handshakes before dropping what is left.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub(crate) shutdown_timeout: f64,
    /// Print the trace of each connection to stderr (headers and every frame, secrets
    /// redacted), and how each one ended.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    #[command(flatten)]
    pub(crate) trace: TraceArgs,
}

/// `--mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Send every message back.
    Echo,
    /// Answer JSON with {"type":"echo","data":…,"timestamp":…}, other text with "Echo: …".
    Json,
    /// Relay every message to every connected client.
    Broadcast,
}

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let handshake_timeout = seconds(args.handshake_timeout, "--handshake-timeout")?;
    let shutdown_timeout = seconds(args.shutdown_timeout, "--shutdown-timeout")?;
    let mut config = trace::server(&args.trace);
    config.handshake_timeout = Some(handshake_timeout);
    if let Some(limit) = args.max_message_size {
        config.protocol.max_message_size = limit;
    }
    config.max_memory = Some(args.max_memory);
    config.keepalive = keepalive(args)?;
    if args.no_compression {
        config.compression = None;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let (listener, url) = listen(args).await?;
        trace::enable(args.verbose, &args.trace)?;
        let shared = Arc::new(Shared {
            mode: args.mode,
            verbose: args.verbose,
            show_secrets: args.trace.show_secrets,
            open: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
        });
        let mut server = Server::new(config)
            .peer_queue(PEER_QUEUE)
            .accept_with(decide(args.origins.clone(), args.subprotocols.clone()))
            .shutdown_timeout(shutdown_timeout);
        if let Some(limit) = args.max_connections {
            server = server.max_connections(limit as usize);
        }
        server = server.max_pending_handshakes(args.max_pending_handshakes as usize);
        // Signals are caught before the URL is printed: a SIGTERM right after it is graceful.
        stop_on_signals(server.shutdown_handle(), shared.clone(), shutdown_timeout)?;
        println!("listening on {url}");
        std::io::stdout().flush()?;
        let served = server
            .serve(listener, || Connection {
                shared: shared.clone(),
                address: "?".into(),
                opened: false,
                id: None,
            })
            .await;
        if let Some(path) = &args.unix {
            remove_stale_socket(path);
        }
        served.context("the listener failed")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Pings and receive timeouts from `--ping-interval`, `--ping-timeout`, `--idle-timeout` and
/// `--message-timeout`; `None` when all are off.
fn keepalive(args: &ServeArgs) -> anyhow::Result<Option<KeepaliveConfig>> {
    let mut keepalive = KeepaliveConfig::server_default();
    keepalive.ping_interval = optional_seconds(args.ping_interval, "--ping-interval")?;
    keepalive.ping_timeout = seconds(args.ping_timeout, "--ping-timeout")?;
    keepalive.idle_timeout = optional_seconds(args.idle_timeout, "--idle-timeout")?;
    keepalive.message_timeout = optional_seconds(args.message_timeout, "--message-timeout")?;
    let any = keepalive.ping_interval.is_some()
        || keepalive.idle_timeout.is_some()
        || keepalive.message_timeout.is_some();
    Ok(any.then_some(keepalive))
}

/// A number of seconds, 0 meaning "off".
fn optional_seconds(value: f64, flag: &str) -> anyhow::Result<Option<Duration>> {
    if value == 0.0 {
        return Ok(None);
    }
    seconds(value, flag).map(Some)
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    if !(value.is_finite() && value > 0.0) {
        bail!("{flag} must be a positive number of seconds, not {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

/// `--listen`: an address with its port, or a bare port on 127.0.0.1.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("{text:?} is not ADDRESS:PORT (127.0.0.1:9001, [::1]:9001) or a port (9001)")
    })
}

/// `--max-message-size`, `--max-memory`: bytes, or a number with K, KiB, M, MiB, G or GiB
/// (powers of 1024).
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => {
            return Err(format!(
                "{unit:?} is not a size unit (use K, KiB, M, MiB, G or GiB)"
            ))
        }
    };
    let number: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 65536, 64K or 1MiB"))?;
    match number.checked_mul(scale) {
        Some(0) => Err("the size must be at least 1 byte".into()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("{text:?} is too large")),
    }
}

/// Binds the TCP address (with TLS when given) or the Unix socket, and names the URL.
async fn listen(args: &ServeArgs) -> anyhow::Result<(Listener, String)> {
    if let Some(path) = &args.unix {
        return listen_unix(path).await;
    }
    // The certificate and key are read first: a bad file fails before anything listens.
    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some(sockeye::transport::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    Ok(match tls {
        Some(tls) => (Listener::tls(listener, tls), format!("wss://{addr}")),
        None => (Listener::from(listener), format!("ws://{addr}")),
    })
}

#[cfg(unix)]
async fn listen_unix(path: &Path) -> anyhow::Result<(Listener, String)> {
    let path = std::path::absolute(path)
        .with_context(|| format!("cannot resolve the socket path {}", path.display()))?;
    let listener = match tokio::net::UnixListener::bind(&path) {
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse && remove_stale_socket(&path) => {
            tokio::net::UnixListener::bind(&path)
        }
        bound => bound,
    }
    .with_context(|| format!("cannot listen on the Unix socket {}", path.display()))?;
    Ok((
        Listener::from(listener),
        format!("ws+unix://{}", url_path(&path)),
    ))
}

#[cfg(not(unix))]
async fn listen_unix(path: &Path) -> anyhow::Result<(Listener, String)> {
    bail!(
        "Unix domain sockets ({}) are not available on this platform",
        path.display()
    )
}

/// Removes `path` if it is a socket nothing accepts on (left by a server that is gone, or ours
/// after shutdown). Never touches anything else. True if it removed it.
fn remove_stale_socket(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let is_socket =
            std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket());
        let in_use = std::os::unix::net::UnixStream::connect(path).is_ok();
        is_socket && !in_use && std::fs::remove_file(path).is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// A socket path as the path part of a `ws+unix://` URL: the characters the URL parser would
/// take for something else are percent-escaped (`:` would start the request target).
fn url_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | ':' | ' ' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The handshake decision: the Origin allow-list (403), then the subprotocol.
fn decide(
    origins: Vec<String>,
    subprotocols: Vec<String>,
) -> impl Fn(&Request) -> Result<Accept, Reject> + Send + Sync + 'static {
    let origins: Vec<String> = origins.iter().map(|origin| normal_origin(origin)).collect();
    move |request| {
        if !origins.is_empty() {
            let allowed = request
                .origin()
                .is_some_and(|origin| origins.contains(&normal_origin(origin)));
            if !allowed {
                let why = match request.origin() {
                    Some(_) => "this origin is not allowed to connect\n",
                    None => "an Origin header is required\n",
                };
                return Err(Reject::new(403, why));
            }
        }
        let offered = request.subprotocols();
        let chosen = offered
            .iter()
            .find(|offered| subprotocols.iter().any(|ours| ours == *offered));
        Ok(match chosen {
            Some(protocol) => Accept::default().subprotocol(*protocol),
            None => Accept::default(),
        })
    }
}

/// An origin for comparison: lower case, without a trailing `/`.
fn normal_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// What every connection of the server shares.
struct Shared {
    mode: Mode,
    verbose: bool,
    show_secrets: bool,
    /// The open connections, by id, in broadcast mode: the broadcast's audience. Other modes
    /// take no handles, so their connections keep no queue.
    open: Mutex<HashMap<u64, Audience>>,
    /// How many connections are open (shutdown reports it).
    connections: AtomicUsize,
}

/// One open connection, as the broadcast sees it.
struct Audience {
    handle: PeerHandle,
    /// For the log.
    address: String,
}

/// How many broadcast messages may wait for one client, beyond the network buffers, before it
/// counts as too slow (the help text says the same number).
const PEER_QUEUE: usize = 1024;

/// The close reason for a client that could not keep up. The code is 1008 (policy violation),
/// not 1013 (try again later): 1013 says the server is overloaded, while here the server is fine
/// and one client broke its rule of keeping up. It is closed rather than skipped: a client that
/// misses part of a broadcast cannot tell, a close tells it to reconnect and catch up.
const SLOW_CONSUMER: &str = "too slow: could not keep up with the broadcast";

impl Shared {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Audience>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self, address: &str, line: std::fmt::Arguments<'_>) {
        if self.verbose {
            note!("[{address}] {line}");
        }
    }
}

/// One connection's handler.
struct Connection {
    shared: Arc<Shared>,
    address: String,
    /// Set once the handshake completed (and the connection is counted).
    opened: bool,
    /// Set once the connection is in `Shared::open` (broadcast mode).
    id: Option<u64>,
}

impl ServerHandler for Connection {
    fn on_connect(&mut self, address: &str) {
        self.address = address.to_string();
    }

    fn on_open(&mut self, peer: &mut Peer<'_>, _request: &Request) {
        self.opened = true;
        self.shared.connections.fetch_add(1, Ordering::Relaxed);
        if self.shared.mode == Mode::Broadcast {
            let handle = peer.handle();
            self.id = Some(handle.id());
            let address = self.address.clone();
            self.shared
                .open()
                .insert(handle.id(), Audience { handle, address });
        }
    }

    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message) {
        match self.shared.mode {
            Mode::Echo => peer.send(message),
            Mode::Json => peer.send(json_echo(message)),
            Mode::Broadcast => {
                let mut slow = Vec::new();
                // `send` and `close` never wait, so the lock is held only for this loop.
                self.shared.open().retain(|_, peer| {
                    match peer.handle.send(message.clone()) {
                        Ok(()) => true,
                        Err(PeerSendError::Full(_)) => {
                            peer.handle.close(CloseCode::PolicyViolation, SLOW_CONSUMER);
                            slow.push(std::mem::take(&mut peer.address));
                            false
                        }
                        // Ended meanwhile (its handler's drop removes it as well).
                        Err(PeerSendError::Closed(_)) => false,
                    }
                });
                for address in slow {
                    self.shared.log(
                        &address,
                        format_args!(
                            "too slow: {PEER_QUEUE} messages wait for it; closing with 1008"
                        ),
                    );
                }
            }
        }
    }

    fn on_close(&mut self, close: Option<&CloseFrame>) {
        let close = print::close(close);
        self.shared
            .log(&self.address, format_args!("closed: {close}"));
    }

    fn on_error(&mut self, error: &Error) {
        let error = if self.shared.show_secrets {
            error.unredacted().to_string()
        } else {
            error.to_string()
        };
        self.shared
            .log(&self.address, format_args!("ended: {error}"));
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.opened {
            self.shared.connections.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(id) = self.id {
            self.shared.open().remove(&id);
        }
    }
}

/// `--mode json`: the reply to one message, as the seed document's Python server gives it.
fn json_echo(message: Message) -> Message {
    let Message::Text(text) = message else {
        return message;
    };
    match serde_json::from_str::<&serde_json::value::RawValue>(text.as_str()) {
        Ok(data) => Message::text(format!(
            "{{\"type\":\"echo\",\"data\":{},\"timestamp\":{}}}",
            data.get(),
            unix_seconds()
        )),
        Err(_) => Message::text(format!("Echo: {}", text.as_str())),
    }
}

/// Now, as seconds since 1970 with microseconds (`1718000000.123456`), as Python's
/// `time.time()`.
fn unix_seconds() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", now.as_secs(), now.subsec_micros())
}

/// The first SIGINT or SIGTERM shuts the server down gracefully; a second one exits at once.
fn stop_on_signals(
    shutdown: sockeye::tokio::ShutdownHandle,
    shared: Arc<Shared>,
    timeout: Duration,
) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            let open = shared.connections.load(Ordering::Relaxed);
            note!(
                "sockeye serve: {name}: closing {open} connection(s) with 1001 (going away), \
                 waiting up to {timeout:?}"
            );
            shutdown.shutdown();
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            note!("sockeye serve: second signal: exiting now");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let open = shared.connections.load(Ordering::Relaxed);
            note!(
                "sockeye serve: Ctrl-C: closing {open} connection(s) with 1001 (going away), \
                 waiting up to {timeout:?}"
            );
            shutdown.shutdown();
        }
    });
    Ok(())
}

/// The embedded server of `sockeye demo`, on the blocking front-end: accepts one connection and
/// echoes text and binary messages until the close handshake. The handshake and every frame are
/// in the trace, when it is on.
///
/// Returns the close frame the client sent.
pub(crate) fn echo(stream: TcpStream, config: &ServerConfig) -> Result<Option<CloseFrame>, Error> {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let _peer = sockeye::trace::peer_span(&peer).entered();
    let handshake_limit = config.handshake_timeout;
    let timeouts = |limit: Option<Duration>| {
        stream
            .set_read_timeout(limit)
            .and_then(|()| stream.set_write_timeout(limit))
    };
    let _ = stream.set_nodelay(true);
    let _ = timeouts(handshake_limit);
    let (mut socket, _request) =
        blocking::accept_with(stream, config, |_| Ok(sockeye::Accept::default()))?;
    let _ = socket.get_ref().set_read_timeout(None);
    let _ = socket.get_ref().set_write_timeout(None);
    loop {
        match socket.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => socket.send(&message)?,
            Ok(_) => {}
            Err(Error::ConnectionClosed) => {
                return Ok(socket.connection().close_received().cloned().flatten())
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(64 * 1024));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2 mb"), Ok(2 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("K").is_err());
    }

    #[test]
    fn json_mode_echoes_json_as_sent_and_other_text_with_a_prefix() {
        let Message::Text(reply) = json_echo(Message::text(r#" {"b": 1, "a": [1.50, null]} "#))
        else {
            panic!("a text reply")
        };
        let reply = reply.as_str();
        assert!(
            reply.starts_with(r#"{"type":"echo","data":{"b": 1, "a": [1.50, null]},"timestamp":"#),
            "{reply}"
        );
        let parsed: serde_json::Value = serde_json::from_str(reply).expect("the reply is JSON");
        assert!(
            parsed["timestamp"].as_f64().is_some_and(|t| t > 1.6e9),
            "{reply}"
        );
        assert_eq!(
            json_echo(Message::text("hello {")),
            Message::text("Echo: hello {")
        );
        assert_eq!(
            json_echo(Message::binary(vec![1, 2])),
            Message::binary(vec![1, 2])
        );
    }

    #[test]
    fn origins_compare_without_case_or_trailing_slash() {
        assert_eq!(
            normal_origin("HTTP://App.Test:8080/"),
            "http://app.test:8080"
        );
    }

    #[test]
    fn unix_paths_in_urls_escape_what_the_parser_would_misread() {
        assert_eq!(
            url_path(Path::new("/tmp/a b:c%.sock")),
            "/tmp/a%20b%3Ac%25.sock"
        );
        let url = format!("ws+unix://{}", url_path(Path::new("/tmp/a b:c%.sock")));
        let target = sockeye::Target::parse(&url).expect("a valid URL");
        assert_eq!(
            target.unix_socket.as_deref(),
            Some(Path::new("/tmp/a b:c%.sock"))
        );
        assert_eq!(target.resource, "/");
    }
}
